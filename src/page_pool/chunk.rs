// SPDX-License-Identifier: GPL-2.0
//! Backing memory: chunks taken from `alloc_pages_node()` and given back
//! with `__free_pages()`, the chunk tables and the zones (one per node and
//! kind) the free areas live in.

use super::{Area, PageRecord, Pool, Stat, BACKING_PAGES, CHUNK_PAGES, MAX_ORDER, ZT_BITS};
use crate::{
    glue::{
        atomic::{Atomic, Relaxed},
        fault, ffi,
        gfp::Gfp,
        kmemleak,
        mm::{self, Zone as ZoneKind},
        numa,
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

/// A zone's chunk table: its slots `first..first + table.len()`; slot `s`
/// holds the pages `s << MAX_ORDER ..`.
pub(super) struct Chunks<R> {
    pub(super) first: u32,
    pub(super) table: KVVec<Option<Chunk<R>>>,
}

impl<R> Chunks<R> {
    /// The entry of `slot`, if it is one of this table's.
    fn entry(&self, slot: u32) -> Option<&Option<Chunk<R>>> {
        self.table.get(slot.checked_sub(self.first)? as usize)
    }

    /// The chunk of `slot`, which is in this table and holds one.
    fn chunk_mut(&mut self, slot: u32) -> &mut Chunk<R> {
        let i = (slot - self.first) as usize;
        self.table[i].as_mut().expect("page of an empty slot")
    }

    /// Takes the chunk of `slot` out of the table (`None` if it has none
    /// or is another node's).
    pub(super) fn take(&mut self, slot: u32) -> Option<Chunk<R>> {
        let i = slot.checked_sub(self.first)? as usize;
        self.table.get_mut(i)?.take()
    }

    /// The order of the chunk in `slot`, if there is one (and `slot` is this
    /// table's).
    pub(super) fn order_of(&self, slot: u32) -> Option<u32> {
        self.entry(slot)?.as_ref().map(|c| c.order)
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
        let c = self
            .entry(Area::slot_of(idx))
            .and_then(Option::as_ref)
            .expect("page of an empty slot");
        &c.meta[(idx as usize) & (CHUNK_PAGES - 1)]
    }
    fn meta_mut(&mut self, idx: u32) -> &mut PageMeta {
        &mut self.chunk_mut(Area::slot_of(idx)).meta[(idx as usize) & (CHUNK_PAGES - 1)]
    }
    fn chunk_order(&self, slot: u32) -> Option<u32> {
        self.order_of(slot)
    }
    fn first_slot(&self) -> u32 {
        self.first
    }
    fn nr_slots(&self) -> u32 {
        self.table.len() as u32
    }
}

/// What a zone's lock protects.
///
/// # Invariants
///
/// `area` lists exactly the free blocks of the chunks in `chunks` (see
/// [`super::FreeArea`]); `free` is their pages and `total` the chunks'.
pub(super) struct Zone<R> {
    pub(super) area: Area,
    pub(super) chunks: Chunks<R>,
    /// Pages of this zone handed to users from the free areas directly,
    /// less those they gave back there (see [`Pool`]'s invariants); may be
    /// negative.
    pub(super) user_pages: isize,
    /// Pages free in `area`.
    pub(super) free: usize,
    /// Pages in `chunks`.
    pub(super) total: usize,
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
    /// The chunk's first `struct page`.
    pub(super) page: Atomic<*mut bindings::page>,
}

impl<R> SlotInfo<R> {
    pub(super) fn new() -> Self {
        SlotInfo {
            addr: Atomic::new(core::ptr::null_mut()),
            pfn: Atomic::new(0),
            records: Atomic::new(core::ptr::null()),
            page: Atomic::new(core::ptr::null_mut()),
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
    /// Takes a chunk for zone `zi` from the kernel (`alloc_pages_node()`
    /// of its node with `__GFP_THISNODE` and its kind's zone flag): of the
    /// order of what the zone holds (`first_order` when it holds little,
    /// see [`Config::first_order`](super::Config::first_order);
    /// `MAX_ORDER` at most) first, then smaller ones down to `min_order`.
    /// With `serve`, a block of `min_order` is allocated from the new chunk under
    /// the same zone lock that added it, for the caller (a user) to have:
    /// its page index comes back. Without, `Some(_)` only says the pool
    /// grew. `None` if the kernel gave nothing on that node (or the node has
    /// no memory, the kernel no such zone, the pool holds `max_chunks`
    /// already, or the fault injection said to fail).
    pub(super) fn grow(&self, zi: usize, min_order: u32, gfp: Gfp, serve: bool) -> Option<u32> {
        let zone = self.zones.get(zi)?;
        let node = zi >> ZT_BITS;
        let kind = ZoneKind::from_index(zi & ((1 << ZT_BITS) - 1))?;
        if !kind.exists() || !numa::has_memory(node) || fault::should_fail(PAGE_SIZE << min_order) {
            return None;
        }
        // A place among `max_chunks`, given back if this fails.
        if self.nr_chunks.fetch_add(1, Relaxed) >= self.max_chunks {
            self.nr_chunks.fetch_sub(1, Relaxed);
            return None;
        }
        let unreserve = || {
            self.nr_chunks.fetch_sub(1, Relaxed);
        };
        // As large as what the zone holds (doubling it), from the first
        // chunk's order up to MAX_ORDER, and at least what is asked for.
        // Full-size from the start (the default) needs no look at the zone.
        let planned = if self.first_order >= MAX_ORDER {
            MAX_ORDER
        } else {
            zone.lock()
                .total
                .max(1)
                .ilog2()
                .clamp(self.first_order, MAX_ORDER)
        }
        .max(min_order);
        let mut order = planned;
        let page = loop {
            // A caller that cannot sleep may use the kernel's reserves
            // (`GFP_ATOMIC`) for what it asked for, not for a whole chunk:
            // bigger chunks are only tried without reserves.
            let base = if order > min_order && !gfp.can_sleep() {
                bindings::GFP_NOWAIT
            } else {
                gfp.raw()
            };
            // The zone's kind, and no zeroing: the pool zeroes what it
            // hands out as its own rules say.
            let base =
                (base & !(mm::GFP_DMA | mm::GFP_DMA32 | crate::glue::gfp::GFP_ZERO)) | kind.gfp();
            let mut flags = base | bindings::__GFP_NOWARN | (1 << bindings::___GFP_THISNODE_BIT);
            if order > 0 {
                flags |= 1 << bindings::___GFP_NORETRY_BIT;
            }
            // SAFETY: a plain page allocation on a node with memory; the
            // pages are owned by the chunk below and freed with the same
            // order.
            let page = unsafe { ffi::rslab_kernel_alloc_pages_node(node as i32, flags, order) };
            if !page.is_null() {
                break page;
            }
            if order == min_order {
                unreserve();
                return None;
            }
            order -= 1;
        };
        let free_chunk = |page| {
            // The kernel's reference back (the pool froze it), then the
            // chunk back.
            // SAFETY: `page` came from `alloc_pages_node(_, _, order)` just
            // above, and is the pool's alone.
            unsafe {
                mm::set_page_count(page, 1);
                bindings::__free_pages(page, order);
            }
            unreserve();
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
        // The pool's pages are frozen (count 0) while it has them, as
        // the other pages of the chunk are already: a block's first page
        // gets its reference when a user takes it.
        // SAFETY: the chunk is ours alone, its one reference the pool's.
        unsafe { mm::set_page_count(page, 0) };
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
        let mut z = zone.lock();
        let Some(local) = z.chunks.table.iter().position(|c| c.is_none()) else {
            drop(z);
            free_chunk(page);
            return None;
        };
        let slot = z.chunks.first as usize + local;
        let s = &self.slots[slot];
        s.addr.store(addr, Relaxed);
        s.pfn.store(pfn, Relaxed);
        s.records.store(records.as_ptr(), Relaxed);
        s.page.store(page, Relaxed);
        self.note_vmemmap(page, pfn);
        self.map.map(pfn, &records);
        // INVARIANT: the chunk's pages are in the table and in the free
        // areas at once, under the zone lock; its slot and map entries are
        // written before any block of it is handed out.
        z.chunks.table[local] = Some(Chunk {
            page,
            order,
            meta,
            records,
        });
        let Zone { area, chunks, .. } = &mut *z;
        area.add_chunk(chunks, slot as u32);
        z.free += pages;
        z.total += pages;
        self.count_free(&z, pages, true);
        self.total_pages.add(pages, Relaxed);
        BACKING_PAGES.add(pages, Relaxed);
        let served = if serve {
            // The chunk is at least `min_order` and wholly free: this cannot
            // fail.
            self.zone_alloc_user(&mut z, min_order)
        } else {
            Some(slot as u32)
        };
        drop(z);
        self.stats.add(Stat::Grow as usize, 1);
        self.decay.arm();
        if order < planned {
            self.stats.add(Stat::OrderFallback as usize, 1);
        }
        if serve {
            self.stats.add(Stat::AllocSlowpath as usize, 1);
        }
        self.update_tuning();
        served
    }

    /// Records `vmemmap` from a chunk's first `struct page` and pfn (see
    /// [`Pool::record_of_page`]); a chunk that disagrees with an earlier one
    /// turns the inline lookup off for good.
    fn note_vmemmap(&self, page: *mut bindings::page, pfn: usize) {
        let v =
            (page as usize).wrapping_sub(pfn.wrapping_mul(core::mem::size_of::<bindings::page>()));
        match self.vmemmap.cmpxchg(0, v, Relaxed) {
            Err(old) if old != v && old != usize::MAX => {
                self.vmemmap.store(usize::MAX, Relaxed);
                pr_warn!(
                    "pool: struct pages not at one vmemmap offset: no inline page_address()\n"
                );
            }
            _ => {}
        }
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
        if z.free < keep.saturating_add(pages) {
            return false;
        }
        let Zone { area, chunks, .. } = z;
        if !area.remove_chunk(chunks, slot) {
            return false;
        }
        z.free -= pages;
        z.total -= pages;
        self.count_free(z, pages, false);
        self.total_pages.fetch_sub(pages, Relaxed);
        self.nr_chunks.fetch_sub(1, Relaxed);
        self.map
            .unmap(self.slots[slot as usize].pfn.load(Relaxed), pages);
        out.chunks[out.n] = z.chunks.take(slot);
        out.n += 1;
        true
    }

    /// Gives chunks back to the kernel, with no lock held.
    pub(super) fn release(&self, out: Released<R>) -> usize {
        let mut pages = 0;
        for c in out.chunks.into_iter().flatten() {
            // SAFETY: the chunk was taken off the free areas, so no page of
            // it is in use; `page` came from `alloc_pages(_, order)`, and
            // gets back the reference the pool froze when it took it.
            unsafe {
                mm::set_page_count(c.page, 1);
                bindings::__free_pages(c.page, c.order);
            }
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
    // A user's records may hold addresses in the chunk's pages (of what it
    // hands out), which are no reference of anyone's: kmemleak must not
    // take them for one. (Records of no size take no memory.)
    if n > 0 && size_of::<R>() > 0 {
        kmemleak::no_scan(v.as_ptr().cast());
    }
    Ok(v)
}
