// SPDX-License-Identifier: GPL-2.0
//! KUnit: the shared pure logic against the real kernel it runs in.

use crate::{
    glue::{ffi, swab::swab},
    logic::{page_pool::buddy, rand::XorShift64, slab::layout},
};
use kernel::{bindings, prelude::*};

#[kunit_tests(rslab_logic)]
mod tests {
    use super::*;

    /// The page pool builds on two facts about the kernel's page allocator:
    /// a block of order n starts at a pfn aligned to 2^n pages, and its buddy
    /// (as `buddy_pfn` names it) lies within the enclosing order n+1 block.
    /// Check both, and `get_order`, for every order the kernel hands out.
    #[test]
    fn kernel_blocks_are_naturally_aligned() -> Result {
        let page_shift = kernel::page::PAGE_SHIFT as u32;
        for order in 0..=bindings::MAX_PAGE_ORDER {
            // SAFETY: plain page allocation; freed below with the same order.
            let page = unsafe {
                bindings::alloc_pages(bindings::GFP_KERNEL | bindings::__GFP_NOWARN, order)
            };
            if page.is_null() {
                return Err(ENOMEM);
            }
            // SAFETY: `page` is a live page.
            let pfn = unsafe { ffi::rslab_page_to_pfn(page) } as usize;
            // SAFETY: `page` came from `alloc_pages` with this order.
            unsafe { bindings::__free_pages(page, order) };

            assert!(buddy::is_aligned(pfn, order));
            let b = buddy::buddy_pfn(pfn, order);
            assert!(buddy::is_aligned(b, order));
            assert_eq!(
                buddy::combined_pfn(pfn, order),
                buddy::combined_pfn(b, order)
            );
            assert_eq!(
                buddy::get_order(kernel::page::PAGE_SIZE << order, page_shift),
                order
            );
        }
        Ok(())
    }

    /// The kernel side's `swab()` (`rev8` on a riscv64 CPU with Zbb, else
    /// `bswap` or shifts) gives the hardened free pointer the host logic
    /// computes, for random words.
    #[test]
    fn hardened_free_pointer_matches_the_host_logic() -> Result {
        let mut rng = XorShift64::new(0x5eed);
        for _ in 0..10_000 {
            let (p, r, a) = (
                rng.next_u64() as usize,
                rng.next_u64() as usize,
                rng.next_u64() as usize,
            );
            assert_eq!(swab(a), a.swap_bytes());
            assert_eq!(
                layout::freelist_ptr_swabbed(p, r, swab(a)),
                layout::freelist_ptr(p, r, a)
            );
        }
        Ok(())
    }
}
