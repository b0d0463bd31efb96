// SPDX-License-Identifier: GPL-2.0
//! The pfn map: from a page frame number to the user's record of that page,
//! in O(1) and without a lock, for every page of every chunk in the pool.

use super::CHUNK_PAGES;
// Inline atomics: the lookup is on every free's fast path.
use crate::glue::atomic::{Acquire, Atomic, Relaxed, Release};
use kernel::{alloc::VBox, prelude::*};

/// Pages per window of the map: one `MAX_PAGE_ORDER` chunk, so a chunk
/// (naturally aligned, of at most that order) always lies in one window.
const WINDOW: usize = CHUNK_PAGES;

/// Windows in the map: pfns below `MAP_WINDOWS * WINDOW` (128 GiB of
/// physical address space with 4 KiB pages) can be mapped. A chunk above is
/// handed back to the kernel and the pool grows no further from it.
const MAP_WINDOWS: usize = 1 << 15;

/// One window of the map.
type Window<R> = [Atomic<*const R>; WINDOW];

/// The map.
///
/// # Invariants
///
/// `top[pfn / WINDOW]` is null or points to a [`Window`] from
/// `KBox::into_raw` in [`PfnMap::prepare`], owned by the map and freed only
/// when it goes. Entry `pfn % WINDOW` of a window is the record of page
/// `pfn` while that page's chunk is in the pool, and null otherwise; entries
/// are written under the pool's zone lock, before any block of the chunk is
/// handed out and after its last block came back.
pub(super) struct PfnMap<R> {
    top: VBox<[Atomic<*mut Window<R>>; MAP_WINDOWS]>,
}

// SAFETY: the map only holds pointers to records that are `Sync` and to
// windows it owns; every access is atomic.
unsafe impl<R: Sync> Send for PfnMap<R> {}
// SAFETY: as above.
unsafe impl<R: Sync> Sync for PfnMap<R> {}

impl<R> PfnMap<R> {
    /// An empty map.
    pub(super) fn new() -> Result<Self> {
        let mut top = VBox::<[Atomic<*mut Window<R>>; MAP_WINDOWS]>::new_uninit(GFP_KERNEL)?;
        // SAFETY: all-zero bytes are a valid `Atomic<*mut _>` (null) for
        // every entry.
        let top = unsafe {
            core::ptr::write_bytes(top.as_mut_ptr(), 0, 1);
            top.assume_init()
        };
        // INVARIANT: every entry is null.
        Ok(PfnMap { top })
    }

    /// The window of `pfn`, if it exists.
    #[inline(always)]
    fn window(&self, pfn: usize) -> Option<&Window<R>> {
        let w = self.top.get(pfn / WINDOW)?.load(Acquire);
        // SAFETY: a non-null entry is a window that lives as long as the map
        // (type invariant).
        (!w.is_null()).then(|| unsafe { &*w })
    }

    /// Makes sure the window of `pfn` exists. `EINVAL` if `pfn` is beyond
    /// the map, `ENOMEM` if the window cannot be allocated.
    pub(super) fn prepare(&self, pfn: usize, flags: kernel::alloc::Flags) -> Result {
        let top = self.top.get(pfn / WINDOW).ok_or(EINVAL)?;
        if !top.load(Acquire).is_null() {
            return Ok(());
        }
        let mut b = KBox::<Window<R>>::new_uninit(flags)?;
        // SAFETY: all-zero bytes are a valid `Atomic<*const R>` (null) for
        // every entry.
        let b = unsafe {
            core::ptr::write_bytes(b.as_mut_ptr(), 0, 1);
            b.assume_init()
        };
        let ptr = KBox::into_raw(b);
        // INVARIANT: published once, from `into_raw`, with null entries.
        if top.cmpxchg(core::ptr::null_mut(), ptr, Release).is_err() {
            // SAFETY: `ptr` came from `into_raw` just above and was not
            // published: another grow published a window first.
            drop(unsafe { KBox::from_raw(ptr) });
        }
        Ok(())
    }

    /// Maps the pages from `pfn` to `records` (one per page), under the
    /// zone lock, after [`PfnMap::prepare`] succeeded for `pfn`.
    pub(super) fn map(&self, pfn: usize, records: &[R]) {
        let Some(w) = self.window(pfn) else {
            return;
        };
        for (i, r) in records.iter().enumerate() {
            // `pfn % WINDOW + i < WINDOW`: a chunk lies in one window.
            w[(pfn + i) % WINDOW].store(core::ptr::from_ref(r), Release);
        }
    }

    /// Clears the entries of the `pages` pages from `pfn` (under the zone
    /// lock, as their chunk leaves the pool).
    pub(super) fn unmap(&self, pfn: usize, pages: usize) {
        if let Some(w) = self.window(pfn) {
            for i in 0..pages {
                w[(pfn + i) % WINDOW].store(core::ptr::null(), Relaxed);
            }
        }
    }

    /// The record of page `pfn`, if its chunk is in the pool. It stays
    /// valid while that chunk does.
    #[inline(always)]
    pub(super) fn lookup(&self, pfn: usize) -> Option<*const R> {
        let r = self.window(pfn)?[pfn % WINDOW].load(Acquire);
        (!r.is_null()).then_some(r)
    }
}

impl<R> Drop for PfnMap<R> {
    fn drop(&mut self) {
        for w in self.top.iter() {
            let w = w.load(Relaxed);
            if !w.is_null() {
                // SAFETY: published by `prepare` from `KBox::into_raw`; the
                // map is going, so nothing looks it up any more.
                drop(unsafe { KBox::from_raw(w) });
            }
        }
    }
}
