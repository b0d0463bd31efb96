// SPDX-License-Identifier: GPL-2.0
//! KUnit: the shared pure logic against the real kernel it runs in.

use crate::{glue::ffi, logic::page_pool::buddy};
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
}
