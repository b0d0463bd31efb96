// SPDX-License-Identifier: GPL-2.0
//! Backing memory: chunks taken from `alloc_pages()` and given back with
//! `__free_pages()`, the chunk table and the zone the free areas live in.

use super::{Area, PageRecord, Pool, Stat, BACKING_PAGES, CHUNK_PAGES, MAX_ORDER};
use crate::{
    glue::{
        atomic::{Atomic, Relaxed},
        fault, ffi,
        gfp::Gfp,
    },
    logic::page_pool::freearea::{PageMeta, PageState, Pages},
};
use kernel::{alloc::KVVec, bindings, page::PAGE_SIZE, prelude::*};

/// A chunk of backing memory.
///
/// # Invariants
///
/// `page` heads `1 << order` pages from `alloc_pages(_, order)` that the
/// pool owns; `meta` and `records` have one entry per page.
pub(super) struct Chunk<R> {
    page: *mut bindings::page,
    order: u32,
    meta: KVec<PageMeta>,
    /// The user's records of the pages, found from an address through the
    /// pool's pfn map.
    pub(super) records: KVVec<R>,
}

// SAFETY: the chunk owns its pages; `struct page` pointers may be used (and
// the pages freed) from any thread; the records are `Send`.
unsafe impl<R: Send> Send for Chunk<R> {}

/// The chunk table: slot `s` holds the pages `s << MAX_ORDER ..`.
pub(super) struct Chunks<R>(pub(super) KVec<Option<Chunk<R>>>);

impl<R> Chunks<R> {
    /// The order of the chunk in `slot`, if there is one.
    pub(super) fn order_of(&self, slot: u32) -> Option<u32> {
        self.0.get(slot as usize)?.as_ref().map(|c| c.order)
    }

    /// Whether page index `idx` is the head of an allocated block of
    /// `order` in one of the chunks.
    pub(super) fn is_allocated_head(&self, idx: u32, order: u32) -> bool {
        self.order_of(Area::slot_of(idx)).is_some() && {
            let m = self.meta(idx);
            m.state == PageState::Allocated && u32::from(m.order) == order
        }
    }
}

impl<R> Pages for Chunks<R> {
    fn meta(&self, idx: u32) -> &PageMeta {
        let c = self.0[Area::slot_of(idx) as usize]
            .as_ref()
            .expect("page of an empty slot");
        &c.meta[(idx as usize) & (CHUNK_PAGES - 1)]
    }
    fn meta_mut(&mut self, idx: u32) -> &mut PageMeta {
        let c = self.0[Area::slot_of(idx) as usize]
            .as_mut()
            .expect("page of an empty slot");
        &mut c.meta[(idx as usize) & (CHUNK_PAGES - 1)]
    }
    fn chunk_order(&self, slot: u32) -> Option<u32> {
        self.order_of(slot)
    }
    fn nr_slots(&self) -> u32 {
        self.0.len() as u32
    }
}

/// What the zone lock protects.
///
/// # Invariants
///
/// `area` lists exactly the free blocks of the chunks in `chunks` (see
/// [`super::FreeArea`]).
pub(super) struct Zone<R> {
    pub(super) area: Area,
    pub(super) chunks: Chunks<R>,
    /// Pages handed to users from the free areas directly, less those they
    /// gave back there (see [`Pool`]'s invariants); may be negative.
    pub(super) user_pages: isize,
}

/// Where a slot's chunk is, readable without the zone lock by anyone holding
/// a block of it (the chunk cannot go while a block of it is out).
pub(super) struct SlotInfo<R> {
    /// The chunk's first byte (`page_address()`).
    pub(super) addr: Atomic<*mut u8>,
    /// The chunk's first pfn.
    pub(super) pfn: Atomic<usize>,
    /// The chunk's first record.
    pub(super) records: Atomic<*const R>,
}

impl<R> SlotInfo<R> {
    pub(super) fn new() -> Self {
        SlotInfo {
            addr: Atomic::new(core::ptr::null_mut()),
            pfn: Atomic::new(0),
            records: Atomic::new(core::ptr::null()),
        }
    }
}

/// Chunks found wholly free that a caller gives back after unlocking.
pub(super) struct Released<R> {
    chunks: [Option<Chunk<R>>; 4],
    n: usize,
}

impl<R> Released<R> {
    pub(super) const fn new() -> Self {
        Released {
            chunks: [None, None, None, None],
            n: 0,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.n == 0
    }
}

impl<R: PageRecord> Pool<R> {
    /// Takes a chunk from the kernel: order `MAX_ORDER` first, then smaller
    /// ones down to `min_order`. With `serve`, a block of `min_order` is
    /// allocated from the new chunk under the same zone lock that added it,
    /// for the caller (a user) to have: its page index comes back. Without,
    /// `Some(_)` only says the pool grew. `None` if the kernel gave nothing
    /// (or the fault injection said to fail).
    pub(super) fn grow(&self, min_order: u32, gfp: Gfp, serve: bool) -> Option<u32> {
        if fault::should_fail(PAGE_SIZE << min_order) {
            return None;
        }
        let mut order = MAX_ORDER;
        let page = loop {
            // A caller that cannot sleep may use the kernel's reserves
            // (`GFP_ATOMIC`) for what it asked for, not for a whole chunk:
            // bigger chunks are only tried without reserves.
            let base = if order > min_order && !gfp.can_sleep() {
                bindings::GFP_NOWAIT
            } else {
                gfp.raw()
            };
            let mut flags = base | bindings::__GFP_NOWARN;
            if order > 0 {
                flags |= 1 << bindings::___GFP_NORETRY_BIT;
            }
            // SAFETY: a plain page allocation; the pages are owned by the
            // chunk below and freed with the same order.
            let page = unsafe { bindings::alloc_pages(flags, order) };
            if !page.is_null() {
                break page;
            }
            if order == min_order {
                return None;
            }
            order -= 1;
        };
        let free_chunk = |page| {
            // SAFETY: `page` came from `alloc_pages(_, order)` just above.
            unsafe { bindings::__free_pages(page, order) };
        };
        let flags = gfp.for_metadata() | __GFP_NOWARN;
        let pages = 1usize << order;
        let Ok(meta) = KVec::from_elem(PageMeta::EMPTY, pages, flags) else {
            free_chunk(page);
            return None;
        };
        let Ok(records) = new_records::<R>(pages, flags) else {
            free_chunk(page);
            return None;
        };
        // SAFETY: `page` is a live page from `alloc_pages`.
        let (pfn, addr) = unsafe {
            (
                ffi::rslab_page_to_pfn(page) as usize,
                ffi::rslab_page_address(page).cast::<u8>(),
            )
        };
        if self.map.prepare(pfn, flags).is_err() {
            free_chunk(page);
            return None;
        }
        let mut z = self.zone.lock();
        let Some(slot) = z.chunks.0.iter().position(|c| c.is_none()) else {
            drop(z);
            free_chunk(page);
            return None;
        };
        let s = &self.slots[slot];
        s.addr.store(addr, Relaxed);
        s.pfn.store(pfn, Relaxed);
        s.records.store(records.as_ptr(), Relaxed);
        self.map.map(pfn, &records);
        // INVARIANT: the chunk's pages are in the table and in the free
        // areas at once, under the zone lock; its slot and map entries are
        // written before any block of it is handed out.
        z.chunks.0[slot] = Some(Chunk {
            page,
            order,
            meta,
            records,
        });
        let Zone { area, chunks, .. } = &mut *z;
        area.add_chunk(chunks, slot as u32);
        self.free_pages.add(pages, Relaxed);
        self.total_pages.add(pages, Relaxed);
        BACKING_PAGES.add(pages, Relaxed);
        let served = if serve {
            // The chunk is at least `min_order` and wholly free: this cannot
            // fail.
            let idx = self.zone_alloc(&mut z, min_order);
            if idx.is_some() {
                z.user_pages += 1 << min_order;
            }
            idx
        } else {
            Some(slot as u32)
        };
        drop(z);
        self.stats.add(Stat::Grow as usize, 1);
        if order < MAX_ORDER {
            self.stats.add(Stat::OrderFallback as usize, 1);
        }
        if serve {
            self.stats.add(Stat::AllocSlowpath as usize, 1);
        }
        self.update_tuning();
        served
    }

    /// Under the zone lock: takes the chunk in `slot` off the free areas if
    /// it is wholly free and the pool keeps at least `keep` pages free
    /// without it.
    pub(super) fn take_free_chunk(
        &self,
        z: &mut Zone<R>,
        slot: u32,
        keep: usize,
        out: &mut Released<R>,
    ) -> bool {
        if out.n == out.chunks.len() {
            return false;
        }
        let Some(order) = z.chunks.order_of(slot) else {
            return false;
        };
        let pages = 1usize << order;
        if z.area.free_pages() < keep.saturating_add(pages) {
            return false;
        }
        let Zone { area, chunks, .. } = z;
        if !area.remove_chunk(chunks, slot) {
            return false;
        }
        self.free_pages.fetch_sub(pages, Relaxed);
        self.total_pages.fetch_sub(pages, Relaxed);
        self.map
            .unmap(self.slots[slot as usize].pfn.load(Relaxed), pages);
        out.chunks[out.n] = z.chunks.0[slot as usize].take();
        out.n += 1;
        true
    }

    /// Gives chunks back to the kernel, with no lock held.
    pub(super) fn release(&self, out: Released<R>) -> usize {
        let mut pages = 0;
        for c in out.chunks.into_iter().flatten() {
            // SAFETY: the chunk was taken off the free areas, so no page of
            // it is in use; `page` came from `alloc_pages(_, order)`.
            unsafe { bindings::__free_pages(c.page, c.order) };
            pages += 1 << c.order;
            BACKING_PAGES.fetch_sub(1 << c.order, Relaxed);
            self.stats.add(Stat::Release as usize, 1);
        }
        if pages > 0 {
            self.update_tuning();
        }
        pages
    }
}

/// `n` fresh records.
fn new_records<R: PageRecord>(n: usize, flags: kernel::alloc::Flags) -> Result<KVVec<R>> {
    let mut v = KVVec::with_capacity(n, flags)?;
    for _ in 0..n {
        v.push(R::new(), flags)?;
    }
    Ok(v)
}
