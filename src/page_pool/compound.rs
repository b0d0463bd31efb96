// SPDX-License-Identifier: GPL-2.0
//! Compound pages (`__GFP_COMP`), which the pool serves from the kernel's
//! own allocator.
//!
//! A compound page is a folio: its head carries the order and the tails
//! point to it, set up by `prep_compound_page()`, which the kernel does not
//! export, and its last `put_page()` frees it to the kernel's buddy
//! allocator, which must therefore own it. So the pool passes such requests
//! through (`alloc_pages_node()` with `__GFP_COMP`) and keeps the books:
//! each block it handed out, by pfn, and their pages, shown in sysfs. A
//! block is freed (to the kernel) when its last reference goes, through
//! [`Pool::put_compound`].

use super::{PageRecord, Pool, Stat};
use crate::glue::{
    atomic::Relaxed,
    ffi,
    gfp::Gfp,
    mm::{self, Zone},
};
use kernel::{bindings, rbtree::RBTreeNodeReservation};

impl<R: PageRecord> Pool<R> {
    /// A compound page of `order` from the kernel (`alloc_pages_node()`
    /// with `__GFP_COMP`), of node `nid` (the CPU's for `None`) and the
    /// zone `gfp` asks for, zeroed as `gfp` says (the kernel zeroes it);
    /// null if the kernel has none.
    #[cold]
    #[inline(never)]
    pub(crate) fn alloc_compound(
        &self,
        order: u32,
        gfp: Gfp,
        nid: Option<usize>,
    ) -> *mut bindings::page {
        let node = match nid {
            Some(n) if n >= self.nr_nodes() => return core::ptr::null_mut(),
            Some(n) => n as i32,
            None => bindings::NUMA_NO_NODE,
        };
        let Ok(slot) = RBTreeNodeReservation::new(gfp.for_metadata()) else {
            self.stats.add(Stat::AllocFail as usize, 1);
            return core::ptr::null_mut();
        };
        let flags =
            (gfp.raw() & !(mm::GFP_DMA | mm::GFP_DMA32)) | Zone::of(gfp).gfp() | mm::GFP_COMP;
        // SAFETY: a plain page allocation; the block is the caller's until
        // `put_compound` frees it with the kernel's own call.
        let page = unsafe { ffi::rslab_kernel_alloc_pages_node(node, flags, order) };
        if page.is_null() {
            self.stats.add(Stat::AllocFail as usize, 1);
            return page;
        }
        // SAFETY: `page` is a live page.
        let pfn = unsafe { ffi::rslab_page_to_pfn(page) } as usize;
        self.compound.lock().insert(slot.into_node(pfn, order));
        self.compound_pages.add(1 << order, Relaxed);
        page
    }

    /// The order of `page` if it heads a compound block of this pool.
    ///
    /// # Safety
    ///
    /// `page` is a valid `struct page`.
    pub(crate) unsafe fn compound_order(&self, page: *mut bindings::page) -> Option<u32> {
        // SAFETY: the caller's guarantee.
        let pfn = unsafe { ffi::rslab_page_to_pfn(page) } as usize;
        self.compound.lock().get(&pfn).copied()
    }

    /// Drops a reference on `page`, a compound block of this pool; the last
    /// one frees it to the kernel (`folio_put()`). False (and nothing done)
    /// if `page` heads no such block.
    ///
    /// # Safety
    ///
    /// `page` is a valid `struct page`; if it heads one of this pool's
    /// compound blocks, the caller holds a reference on it, which it gives
    /// up.
    #[inline(never)]
    pub(crate) unsafe fn put_compound(&self, page: *mut bindings::page) -> bool {
        // SAFETY: the caller's guarantee.
        let Some(order) = (unsafe { self.compound_order(page) }) else {
            return false;
        };
        // SAFETY: the caller holds a reference.
        if unsafe { mm::put_page_testzero(page) } {
            // SAFETY: as in `compound_order`.
            let pfn = unsafe { ffi::rslab_page_to_pfn(page) } as usize;
            // The last reference: nobody else can look it up any more.
            self.compound.lock().remove(&pfn);
            self.compound_pages.fetch_sub(1 << order, Relaxed);
            // SAFETY: a compound page of the kernel's whose count reached 0:
            // `__folio_put()` frees it, as `folio_put()` would.
            unsafe { bindings::__folio_put(page.cast()) };
        }
        true
    }

    /// Pages in compound blocks handed out and not yet freed.
    pub(crate) fn compound_pages(&self) -> usize {
        self.compound_pages.load(Relaxed)
    }
}
