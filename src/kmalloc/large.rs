// SPDX-License-Identifier: GPL-2.0
//! Blocks of pages: `kmalloc_large()` (requests above the largest class)
//! and the page allocator's calls of the exported API (`alloc_pages()`,
//! `__free_pages()`, `put_page()`), each a pool block recorded in its head
//! page's record, so that `kfree()`, `ksize()` and the page calls find it.
//!
//! The pages are what the kernel's allocator gives (`alloc_pages()` without
//! `__GFP_COMP`): the block's first page has a reference count of 1, its
//! other pages 0 (the pool keeps its pages at 0, as frozen pages), so
//! `get_page()`/`put_page()` work on it. A free drops the freer's
//! reference: the block goes back to the pool with the last one. If others
//! remain, a large kmalloc block (a folio in the kernel) stays whole until
//! the last `put_page()`; a block of pages frees all but its first page at
//! once and keeps that one for the last `put_page()`, as `__free_pages()`
//! does. `__GFP_COMP` blocks of pages are the kernel's own (see
//! `page_pool::compound`). A page whose count is already 0 is reported and
//! left alone.

use super::{bad_kfree, Kmalloc};
use crate::{
    glue::{atomic::Relaxed, gfp::Gfp, kmemleak, mm},
    logic::slab::layout,
    page_pool::{RawBlock, MAX_ORDER},
    slab::{allocinfo, Owner, SlabPage},
};
use kernel::{bindings, page::PAGE_SIZE};

impl Kmalloc {
    /// `kmalloc_large()`: a block of `1 << order` pages (`order` is
    /// `get_order(size)`, at most `MAX_ORDER`) for a kmalloc of `size`
    /// bytes, above the largest class; null if no memory could be had.
    #[inline(never)]
    pub(super) fn alloc_large(&self, size: usize, order: u32, gfp: Gfp) -> *mut u8 {
        self.alloc_large_node(size, order, gfp, None)
    }

    /// `kmalloc_large_node()`: [`Kmalloc::alloc_large`] of any size, of node
    /// `nid` (`None`: any); null also if `size` is above the largest block.
    #[inline(never)]
    pub(super) fn alloc_large_any(&self, size: usize, gfp: Gfp, nid: Option<usize>) -> *mut u8 {
        let order = layout::get_order(size as u64, bindings::PAGE_SHIFT);
        if order > MAX_ORDER {
            return core::ptr::null_mut();
        }
        self.alloc_large_node(size, order, gfp, nid)
    }

    /// [`Kmalloc::alloc_large_any`] with the order known (`get_order(size)`,
    /// at most `MAX_ORDER`): the block, tracked by kmemleak as SLUB's are
    /// (`size` bytes) and counted by allocation profiling.
    #[inline(always)]
    fn alloc_large_node(&self, size: usize, order: u32, gfp: Gfp, nid: Option<usize>) -> *mut u8 {
        let p = self
            .alloc_block_page(order, gfp, nid, Owner::LargeKmalloc)
            .0;
        if p.is_null() {
            return p;
        }
        if kmemleak::ENABLED {
            // SAFETY: `p` starts the block just allocated, at least `size`
            // bytes of the pool's pages (which kmemleak does not track),
            // mapped until `free_large` ends its tracking.
            unsafe { kmemleak::alloc(p, size, gfp) };
        }
        if allocinfo::enabled() {
            // SAFETY: `p` starts the block just allocated, ours alone.
            unsafe { self.count_large(p) };
        }
        p
    }

    /// Counts the large block at `p` (just allocated) against its caller
    /// ([`allocinfo`]).
    ///
    /// # Safety
    ///
    /// `p` starts a block of the pool just allocated, ours alone.
    #[cold]
    #[inline(never)]
    unsafe fn count_large(&self, p: *mut u8) {
        // SAFETY: the caller's guarantee: the block is ours, so its page
        // and record stay.
        let Some(rec) = (unsafe { self.record(p) }) else {
            return;
        };
        // SAFETY: as above: nobody releases the block meanwhile.
        if let Some(order) = unsafe { rec.block_order() } {
            rec.large_tag()
                .store(allocinfo::account(PAGE_SIZE << order), Relaxed);
        }
    }

    /// A block of `1 << order` pages of node `nid` (the CPU's node for
    /// `None`; another node's if that one has none, as the pool falls back),
    /// owned by `owner`, its first page's count 1; zoned and zeroed as the
    /// pool's rules say for `gfp`: its first byte and its first `struct
    /// page`, or nulls if no memory could be had.
    #[inline(always)]
    fn alloc_block_page(
        &self,
        order: u32,
        gfp: Gfp,
        nid: Option<usize>,
        owner: Owner,
    ) -> (*mut u8, *mut bindings::page) {
        if order > MAX_ORDER {
            return (core::ptr::null_mut(), core::ptr::null_mut());
        }
        let Some(b) = self.pool.alloc_node(order, gfp, nid) else {
            return (core::ptr::null_mut(), core::ptr::null_mut());
        };
        // SAFETY: `b` was just allocated from the pool and is ours alone.
        unsafe { self.hand_out(b, owner) }
    }

    /// Hands `b` out as pages of `owner`: its first page gets the caller's
    /// reference (a count of 1, its index and private words cleared), and
    /// the block is claimed. Returns its address and first page.
    ///
    /// # Safety
    ///
    /// `b` was just allocated from the pool and is ours alone.
    #[inline(always)]
    unsafe fn hand_out(&self, b: RawBlock, owner: Owner) -> (*mut u8, *mut bindings::page) {
        // SAFETY: the caller's guarantee.
        let (addr, page, _) = unsafe { self.pool.parts_of_own(&b) };
        // SAFETY: the block is ours alone, its first page's count 0 in the
        // pool; the reference is the caller's now. Nobody else uses its
        // index and private words.
        unsafe {
            mm::clear_stale(page);
            mm::set_page_count(page, 1);
        }
        // SAFETY: the caller's guarantee.
        unsafe { SlabPage::claim(&self.pool, b, owner, 0) };
        (addr, page)
    }

    /// `alloc_pages_node()`: a block of pages (see [`Kmalloc::alloc_block_page`]),
    /// or with `__GFP_COMP` and an order above 0 a compound page from the
    /// kernel's allocator; null if none could be had.
    #[inline(always)]
    pub(crate) fn alloc_pages(
        &self,
        order: u32,
        gfp: Gfp,
        nid: Option<usize>,
    ) -> *mut bindings::page {
        if order > MAX_ORDER {
            return core::ptr::null_mut();
        }
        if order > 0 && gfp.raw() & mm::GFP_COMP != 0 {
            return self.pool.alloc_compound(order, gfp, nid);
        }
        self.alloc_block_page(order, gfp, nid, Owner::Pages).1
    }

    /// `alloc_pages_bulk()`: fills the null entries of `array` with pages
    /// of the CPU's node, each as [`Kmalloc::alloc_pages`] gives an
    /// order-0 page (its count 1, zoned and zeroed as `gfp` says), taken
    /// from the pool's per-CPU list in batches. Returns how many entries
    /// from the start are populated, those populated on entry included; it
    /// may be fewer than `array.len()` (at least one more than on entry
    /// unless no page could be had), the filled ones always first.
    pub(crate) fn alloc_pages_bulk(&self, gfp: Gfp, array: &mut [*mut bindings::page]) -> usize {
        let start = array.iter().take_while(|p| !p.is_null()).count();
        let holes = array[start..].iter().filter(|p| p.is_null()).count();
        let mut slots = array[start..].iter_mut().filter(|p| p.is_null());
        self.pool.alloc_bulk(gfp, holes, |b| {
            // SAFETY: `b` was just allocated from the pool and is ours alone.
            let (_, page) = unsafe { self.hand_out(b, Owner::Pages) };
            // `alloc_bulk` gives at most `holes` blocks: a slot is left.
            if let Some(slot) = slots.next() {
                *slot = page;
            }
        });
        array.iter().take_while(|p| !p.is_null()).count()
    }

    /// `__free_pages()`: drops the caller's reference on the block of
    /// `order` that `page` heads (see the module comment); reports anything
    /// that is no such block and keeps it.
    ///
    /// # Safety
    ///
    /// `page` is a valid `struct page` whose reference the caller gives up:
    /// the head of a block of [`Kmalloc::alloc_pages`] of this `order` that
    /// the caller holds (or it is reported).
    #[inline(always)]
    pub(crate) unsafe fn free_pages(&self, page: *mut bindings::page, order: u32) {
        // SAFETY: the caller holds the block, if it is one of the pool's.
        let Some((rec, p)) = (unsafe { self.pool.record_of_page(page) }) else {
            // Not a page of the pool's chunks: a compound block, or a bad
            // free.
            // SAFETY: the caller's guarantee.
            return unsafe { self.free_other_pages(page, order) };
        };
        let ok = rec.is_head()
            && rec.owner() == Owner::Pages
            // SAFETY: the caller holds the block, so nobody frees it
            // meanwhile.
            && unsafe { rec.block_order() } == Some(order);
        if !ok {
            return bad_kfree(p, "__free_pages: not the head of a block of that order");
        }
        // SAFETY: the caller's guarantee.
        unsafe { self.put_block(rec, page, true) };
    }

    /// [`Kmalloc::free_pages`] of a page that is none of the pool's chunks':
    /// a compound block of the pool, or a bad free (reported).
    ///
    /// # Safety
    ///
    /// As for [`Kmalloc::free_pages`].
    #[cold]
    #[inline(never)]
    unsafe fn free_other_pages(&self, page: *mut bindings::page, order: u32) {
        // SAFETY: the caller's guarantee.
        match unsafe { self.pool.compound_order(page) } {
            // SAFETY: the caller's reference on one of the pool's compound
            // blocks.
            Some(o) if o == order => unsafe {
                self.pool.put_compound(page);
            },
            Some(_) => bad_kfree(
                page.cast(),
                "__free_pages: a compound page of another order",
            ),
            None => bad_kfree(page.cast(), "__free_pages: not rslab memory"),
        }
    }

    /// `put_page()` of a page of rslab's: drops a reference on the first
    /// page of a block of pages or of a large kmalloc, or on a compound
    /// block of the pool; the last frees the block. False (nothing done)
    /// for any other page.
    ///
    /// # Safety
    ///
    /// `page` is a valid `struct page`; if it heads a block of rslab's, the
    /// caller holds a reference on it, which it gives up.
    pub(crate) unsafe fn put_page(&self, page: *mut bindings::page) -> bool {
        // SAFETY: the caller holds a reference, so the block stays.
        let Some((rec, _)) = (unsafe { self.pool.record_of_page(page) }) else {
            // SAFETY: the caller's guarantee.
            return unsafe { self.pool.put_compound(page) };
        };
        if !rec.is_head() || !matches!(rec.owner(), Owner::Pages | Owner::LargeKmalloc) {
            return false;
        }
        // SAFETY: the caller's reference.
        if unsafe { mm::put_page_testzero(page) } {
            // SAFETY: the last reference: the block is ours.
            unsafe { self.release_block(rec) };
        }
        true
    }

    /// Drops a holder's reference on the first page `page` of the block
    /// headed by `head`: the last frees the block; if others remain and
    /// `split`, the block's other pages go back to the pool now (see
    /// [`SlabPage::split_off_tails`]). A count already 0 is reported.
    ///
    /// # Safety
    ///
    /// `head` is the head record of a block of large kmalloc or pages whose
    /// first page is `page`, on which the caller holds a reference it gives
    /// up, and (with `split`) the caller owns the block's other pages.
    #[inline(always)]
    unsafe fn put_block(&self, head: &SlabPage, page: *mut bindings::page, split: bool) {
        // The sole reference (the usual case): frozen at once.
        // SAFETY: the caller's reference.
        if unsafe { mm::page_ref_freeze(page, 1) } {
            // SAFETY: no other reference: the block is the caller's.
            return unsafe { self.release_block(head) };
        }
        // SAFETY: the caller's guarantee.
        unsafe { self.put_block_shared(head, page, split) }
    }

    /// [`Kmalloc::put_block`] when the count was not 1: others hold
    /// references too (or none is left, which is reported).
    ///
    /// # Safety
    ///
    /// As for [`Kmalloc::put_block`].
    #[cold]
    #[inline(never)]
    unsafe fn put_block_shared(&self, head: &SlabPage, page: *mut bindings::page, split: bool) {
        // SAFETY: `page` is valid.
        let count = unsafe { mm::page_count(page) };
        if count <= 0 {
            return bad_kfree(head.base(), "freeing a page whose reference count is 0");
        }
        if split {
            // SAFETY: the caller owns the other pages; the first page's
            // other holders free only what the head says after the
            // decrement below, which orders this before it.
            unsafe { head.split_off_tails(&self.pool, |t| self.pool.free(t)) };
        }
        // SAFETY: the caller's reference.
        if unsafe { mm::put_page_testzero(page) } {
            // SAFETY: the last reference: the block is the caller's.
            unsafe { self.release_block(head) };
        }
    }

    /// Gives the block headed by `head` back to the pool.
    ///
    /// # Safety
    ///
    /// Nobody holds a reference on the block any more but the caller: it is
    /// on no list and nobody uses it; it is one of this kmalloc's blocks.
    #[inline(always)]
    unsafe fn release_block(&self, head: &SlabPage) {
        // SAFETY: the caller's guarantee; this kmalloc claims its blocks
        // from its own pool.
        match unsafe { head.release(&self.pool) } {
            Some(b) => self.pool.free(b),
            None => bad_kfree(head.base(), "not a block head"),
        }
    }

    /// Frees the large block whose head record is `head`, if `p` is its
    /// first byte (else reports the bad free and keeps the block): drops
    /// the kmalloc's reference (`free_large_kmalloc()`, `folio_put()`).
    ///
    /// # Safety
    ///
    /// `p` is a live allocation inside that block, being freed: it is not
    /// used again.
    #[inline(never)]
    pub(super) unsafe fn free_large(&self, head: &SlabPage, p: *mut u8) {
        if allocinfo::enabled() {
            // (A tail call: without profiling, no call is made here, and
            // nothing is saved for one.)
            // SAFETY: our caller's guarantee.
            return unsafe { self.free_large_counted(head, p) };
        }
        // SAFETY: our caller's guarantee.
        unsafe { self.free_large_inner(head, p) }
    }

    /// [`Kmalloc::free_large`] with allocation profiling: the block is
    /// taken off its caller's count first.
    ///
    /// # Safety
    ///
    /// As for [`Kmalloc::free_large`].
    #[cold]
    #[inline(never)]
    unsafe fn free_large_counted(&self, head: &SlabPage, p: *mut u8) {
        if head.base() == p {
            // SAFETY: the caller holds the block (is freeing it), so nobody
            // frees it meanwhile.
            unsafe { uncount_large(head) };
        }
        // SAFETY: our caller's guarantee.
        unsafe { self.free_large_inner(head, p) }
    }

    /// The work of [`Kmalloc::free_large`].
    ///
    /// # Safety
    ///
    /// As for [`Kmalloc::free_large`].
    #[inline(always)]
    unsafe fn free_large_inner(&self, head: &SlabPage, p: *mut u8) {
        if head.base() != p {
            return bad_kfree(p, "inside a large block");
        }
        let Some(page) = self.pool.page_of_addr(p) else {
            return bad_kfree(p, "not a page of the pool");
        };
        kmemleak::free(p);
        // SAFETY: `p` heads the block and is being freed: the caller's
        // reference on its first page goes.
        unsafe { self.put_block(head, page, false) };
    }
}

/// Takes the large block `head` heads off its caller's count
/// ([`allocinfo`]).
///
/// # Safety
///
/// The caller holds the block (is freeing it), so nobody releases it
/// meanwhile.
#[cold]
#[inline(never)]
unsafe fn uncount_large(head: &SlabPage) {
    // SAFETY: the caller's guarantee.
    if let Some(order) = unsafe { head.block_order() } {
        allocinfo::unaccount(head.large_tag().xchg(0, Relaxed), PAGE_SIZE << order);
    }
}
