// SPDX-License-Identifier: GPL-2.0
//! The page pool: buddy free areas and per-CPU page lists over chunks of
//! memory taken from the kernel's own page allocator.
//!
//! - Backing memory: the pool grows by taking naturally aligned chunks from
//!   `alloc_pages()`, order `MAX_PAGE_ORDER` first and smaller orders when the
//!   kernel cannot give that ("order fallback"). A chunk that becomes wholly
//!   free goes back (`__free_pages()`) while the pool keeps more than its high
//!   watermark free, on shrink, and when the pool is dropped.
//! - Free areas ([`FreeArea`], pure logic shared with the host crate):
//!   `free_area[order]` for orders `0..=MAX_PAGE_ORDER`, split on alloc and
//!   merged with the buddy on free, never across a chunk. Per-page state lives
//!   in the pool's own metadata array per chunk, not in `struct page`.
//! - Per-CPU lists ([`Pcp`], pure logic): orders `0..=PAGE_ALLOC_COSTLY_ORDER`,
//!   refilled (`rmqueue_bulk`) and drained (`free_pcppages_bulk`) in batches
//!   under the zone lock, with 7.x's auto-tuned `high`.
//!
//! # Locking and context
//!
//! As in Linux 7.x: a task pins itself to its CPU (preemption off) and
//! *try*-locks that CPU's list lock, a plain spinlock. An interrupt arriving
//! while the task holds it fails the trylock and goes to the free areas
//! directly, under the zone lock, which disables interrupts. The order is
//! always list lock, then zone lock. Nothing here sleeps except growing with
//! a sleeping `gfp` (done with no lock held and preemption on), so
//! `GFP_ATOMIC`/`GFP_NOWAIT` callers never sleep.

use crate::{
    cpu::{self, Pinned},
    cpuhp, ffi,
    logic::{
        freearea::{CheckError, FreeArea, PageMeta, PageState, Pages},
        pcp::{self, Pcp},
    },
    shrinker,
    slab::SlabPage,
    stats::Stats,
};
use kernel::{
    alloc::{KVVec, VBox},
    bindings, new_spinlock, new_spinlock_irq,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc, SpinLock, SpinLockIrq,
    },
};

/// `MAX_PAGE_ORDER`: the largest block and chunk order.
pub const MAX_ORDER: u32 = bindings::MAX_PAGE_ORDER;
/// Orders `0..=MAX_ORDER`.
pub const NR_ORDERS: usize = MAX_ORDER as usize + 1;
/// Pages in a full-size chunk.
pub const CHUNK_PAGES: usize = 1 << MAX_ORDER;
type Area = FreeArea<NR_ORDERS>;

// SAFETY: every field of `Pcp` is an integer or an array of integers, for
// which all-zero bytes are valid: a `Pcp` with empty lists and zero tuning.
unsafe impl pin_init::Zeroable for Pcp {}

/// Allocation flags: a `gfp_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gfp(bindings::gfp_t);

impl Gfp {
    /// `GFP_KERNEL`: may sleep.
    pub const KERNEL: Gfp = Gfp(bindings::GFP_KERNEL);
    /// `GFP_ATOMIC`: never sleeps, may use reserves.
    pub const ATOMIC: Gfp = Gfp(bindings::GFP_ATOMIC);
    /// `GFP_NOWAIT`: never sleeps.
    pub const NOWAIT: Gfp = Gfp(bindings::GFP_NOWAIT);

    /// Whether the caller may sleep (`__GFP_DIRECT_RECLAIM`).
    pub fn can_sleep(self) -> bool {
        self.0 & (1 << bindings::___GFP_DIRECT_RECLAIM_BIT) != 0
    }
}

/// The pool's event counters, shown in sysfs as SLUB shows its statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Stat {
    /// An allocation served by the CPU's list.
    AllocFastpath = 0,
    /// An allocation that had to refill the list or use the free areas.
    AllocSlowpath,
    /// A list refilled from the free areas in one batch.
    Refill,
    /// A list drained to the free areas in one batch.
    Drain,
    /// A block split in two (`expand`).
    Split,
    /// A block merged with its buddy.
    Merge,
    /// A chunk taken from the kernel.
    Grow,
    /// A chunk given back to the kernel.
    Release,
    /// A chunk smaller than `MAX_PAGE_ORDER` taken because the kernel could
    /// not give a full one.
    OrderFallback,
    /// An allocation that failed.
    AllocFail,
    // Not shown: pages handed to users and taken back, per CPU.
    #[doc(hidden)]
    PagesOut,
    #[doc(hidden)]
    PagesIn,
}

const NR_STATS: usize = Stat::PagesIn as usize + 1;

/// Pages taken from the kernel by every pool and not yet given back.
static BACKING_PAGES: Atomic<usize> = Atomic::new(0);

/// Pages every pool of this module holds from the kernel right now.
pub fn backing_pages() -> usize {
    BACKING_PAGES.load(Relaxed)
}

/// A block of `1 << order` pages from a pool, by page index.
///
/// Move-only: [`Pool::free`] consumes it, so safe code cannot free a block
/// twice.
#[derive(Debug, PartialEq, Eq)]
pub struct RawBlock {
    idx: u32,
    order: u32,
}

impl RawBlock {
    /// The block's order.
    pub fn order(&self) -> u32 {
        self.order
    }
}

/// Watermarks, in pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watermarks {
    /// The shrinker leaves at least this many pages free.
    pub min: usize,
    /// Below this many free pages the pool grows from the kernel.
    pub low: usize,
    /// Wholly free chunks are given back while more than this stays free;
    /// below it, per-CPU lists stop growing (`ZONE_BELOW_HIGH`).
    pub high: usize,
}

impl Watermarks {
    /// Whether `min <= low <= high`.
    pub fn valid(&self) -> bool {
        self.min <= self.low && self.low <= self.high
    }
}

/// How to build a pool.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// The most chunks the pool may hold at once.
    pub max_chunks: usize,
    /// The per-CPU lists' batch.
    pub batch: u32,
    /// Initial watermarks.
    pub wmark: Watermarks,
}

impl Config {
    /// A pool that keeps every chunk it takes (high watermark out of reach)
    /// and grows only when it cannot serve a request (low 0): what it holds
    /// is what its users hold, so tests and the benchmark can count it.
    pub fn keeping() -> Self {
        Config {
            wmark: Watermarks {
                min: 0,
                low: 0,
                high: usize::MAX,
            },
            ..Config::default()
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            // 4 GiB of 4 KiB pages.
            max_chunks: 1024,
            // What the kernel picks for zones of 128 MiB to 256 MiB.
            batch: 31,
            wmark: Watermarks {
                min: 0,
                low: 64,
                high: CHUNK_PAGES,
            },
        }
    }
}

/// A chunk of backing memory.
///
/// # Invariants
///
/// `page` heads `1 << order` pages from `alloc_pages(_, order)` that the
/// pool owns; `meta` and `ext` have one entry per page.
struct Chunk {
    page: *mut bindings::page,
    order: u32,
    meta: KVec<PageMeta>,
    /// The pages' records for the slab layer (what `struct slab` overlays
    /// on `struct page` in the kernel), found from an address through the
    /// pool's pfn map.
    ext: KVVec<SlabPage>,
}

// SAFETY: the chunk owns its pages; `struct page` pointers may be used (and
// the pages freed) from any thread.
unsafe impl Send for Chunk {}

/// The chunk table: slot `s` holds the pages `s << MAX_ORDER ..`.
struct Chunks(KVec<Option<Chunk>>);

impl Pages for Chunks {
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
        self.0.get(slot as usize)?.as_ref().map(|c| c.order)
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
/// [`FreeArea`]).
struct Zone {
    area: Area,
    chunks: Chunks,
}

/// Where a slot's chunk is, readable without the zone lock by anyone holding
/// a block of it (the chunk cannot go while a block of it is out).
struct SlotInfo {
    addr: Atomic<usize>,
    pfn: Atomic<usize>,
    /// The address of the chunk's first [`SlabPage`].
    ext: Atomic<usize>,
}

/// Pages per window of the pfn map: one `MAX_PAGE_ORDER` chunk, so a chunk
/// (naturally aligned, of at most that order) always lies in one window.
const WINDOW: usize = CHUNK_PAGES;

/// Windows in the pfn map: pfns below `MAP_WINDOWS * WINDOW` (128 GiB of
/// physical address space with 4 KiB pages) can be mapped. A chunk above
/// is handed back to the kernel and the pool grows no further from it.
const MAP_WINDOWS: usize = 1 << 15;

/// One window of the pfn map.
type Window = [Atomic<usize>; WINDOW];

/// The pool's census: everything a consistency walk counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Chunks held.
    pub chunks: usize,
    /// Pages in them.
    pub pages: usize,
    /// Pages free in the free areas.
    pub free: usize,
    /// Pages on per-CPU lists.
    pub pcp: usize,
    /// Pages held by users.
    pub in_use: usize,
}

/// What a consistency walk found wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolError {
    /// The free areas are inconsistent.
    Area(CheckError),
    /// A per-CPU list holds a block that is not an allocated head of its
    /// order, or holds it twice (page index given).
    BadPcpBlock(u32),
    /// A per-CPU list's count is not what its lists hold.
    PcpCount(usize),
    /// The counters disagree with the walk (what, counted, recorded).
    Counter(&'static str, usize, usize),
}

/// One CPU's list, with the time of its last `high` decay and the tuning
/// it last applied.
struct CpuPcp {
    pcp: Pcp,
    last_decay: usize,
    tuning: u64,
}

// SAFETY: `Pcp` is zeroable (above) and so is the `usize`.
unsafe impl pin_init::Zeroable for CpuPcp {}

/// A page pool.
///
/// # Invariants
///
/// - Whenever the zone lock is free, `free_pages` equals the free pages of
///   the zone's free areas and `total_pages` the pages of its chunks.
/// - `slots[s]` holds the address and pfn of the chunk in slot `s` for as
///   long as that chunk is in the pool (written under the zone lock before
///   any block of it is handed out).
/// - Every allocated block is held by exactly one user or one CPU's list;
///   `PagesOut - PagesIn` counts the pages held by users.
/// - `cpus[c]` is only used by CPU `c` with the task pinned and the lock
///   *tried*, or by anyone with the lock taken where no list lock is held.
/// - The pfn map: `map[pfn / WINDOW]` is 0 or points to a [`Window`] from
///   `KBox::into_raw` in [`Pool::window`], owned by the pool and
///   never freed before it; entry `pfn % WINDOW` is the address of the
///   [`SlabPage`] of page `pfn` while that page's chunk is in the pool, and
///   0 otherwise. Entries are written under the zone lock, before any block
///   of the chunk is handed out and after its last block came back.
#[pin_data(PinnedDrop)]
pub struct Pool {
    #[pin]
    zone: SpinLockIrq<Zone>,
    cpus: KVec<Pin<KBox<SpinLock<CpuPcp>>>>,
    slots: KVec<SlotInfo>,
    map: VBox<[Atomic<usize>; MAP_WINDOWS]>,
    stats: Stats<NR_STATS>,
    /// Pages free in the free areas (a copy of the zone's, for reading
    /// without the lock).
    free_pages: Atomic<usize>,
    /// Pages in all chunks (likewise).
    total_pages: Atomic<usize>,
    wmark_min: Atomic<usize>,
    wmark_low: Atomic<usize>,
    wmark_high: Atomic<usize>,
    /// Test hook: the next this many backing allocations fail.
    fail_backing: Atomic<u32>,
    batch: u32,
    /// The lists' `(high_min, high_max)`, packed; each CPU applies it to its
    /// own list under its own lock (see [`Pool::apply_tuning`]).
    tuning: Atomic<u64>,
}

/// Chunks found wholly free that a caller gives back after unlocking.
struct Released {
    chunks: [Option<Chunk>; 4],
    n: usize,
}

impl Released {
    const fn new() -> Self {
        Released {
            chunks: [None, None, None, None],
            n: 0,
        }
    }
}

impl Pool {
    /// A new, empty pool.
    pub fn new(cfg: Config) -> Result<Arc<Pool>> {
        if !cfg.wmark.valid()
            || cfg.max_chunks == 0
            || cfg.max_chunks > (u32::MAX as usize >> MAX_ORDER)
        {
            return Err(EINVAL);
        }
        let ncpu = cpu::nr_cpu_ids();
        let mut cpus = KVec::with_capacity(ncpu, GFP_KERNEL)?;
        for _ in 0..ncpu {
            // The lists are large (a ring per order): initialise in place.
            cpus.push(
                KBox::pin_init(new_spinlock!(pin_init::init_zeroed::<CpuPcp>()), GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        let mut slots = KVec::with_capacity(cfg.max_chunks, GFP_KERNEL)?;
        let mut table = KVec::with_capacity(cfg.max_chunks, GFP_KERNEL)?;
        let stats = Stats::new()?;
        let mut map = VBox::<[Atomic<usize>; MAP_WINDOWS]>::new_uninit(GFP_KERNEL)?;
        // SAFETY: all-zero bytes are a valid `Atomic<usize>` (0) for every
        // entry.
        let map = unsafe {
            core::ptr::write_bytes(map.as_mut_ptr(), 0, 1);
            map.assume_init()
        };
        for _ in 0..cfg.max_chunks {
            slots.push(
                SlotInfo {
                    addr: Atomic::new(0),
                    pfn: Atomic::new(0),
                    ext: Atomic::new(0),
                },
                GFP_KERNEL,
            )?;
            table.push(None, GFP_KERNEL)?;
        }
        let pool = Arc::pin_init(
            pin_init!(Pool {
                zone <- new_spinlock_irq!(Zone {
                    area: Area::new(),
                    chunks: Chunks(table),
                }),
                cpus,
                slots,
                map,
                stats,
                free_pages: Atomic::new(0),
                total_pages: Atomic::new(0),
                wmark_min: Atomic::new(cfg.wmark.min),
                wmark_low: Atomic::new(cfg.wmark.low),
                wmark_high: Atomic::new(cfg.wmark.high),
                fail_backing: Atomic::new(0),
                batch: cfg.batch.clamp(1, 255),
                tuning: Atomic::new(0),
            }),
            GFP_KERNEL,
        )?;
        pool.update_tuning();
        for c in pool.cpus.iter() {
            pool.apply_tuning(&mut c.lock());
        }
        Ok(pool)
    }

    /// The watermarks.
    pub fn watermarks(&self) -> Watermarks {
        Watermarks {
            min: self.wmark_min.load(Relaxed),
            low: self.wmark_low.load(Relaxed),
            high: self.wmark_high.load(Relaxed),
        }
    }

    /// Sets the watermarks; `EINVAL` (and nothing changes) unless
    /// `min <= low <= high`.
    pub fn set_watermarks(&self, w: Watermarks) -> Result {
        if !w.valid() {
            return Err(EINVAL);
        }
        // Serialise writers so that a concurrent pair cannot interleave.
        let _z = self.zone.lock();
        self.wmark_min.store(w.min, Relaxed);
        self.wmark_low.store(w.low, Relaxed);
        self.wmark_high.store(w.high, Relaxed);
        Ok(())
    }

    /// Pages in the free areas.
    pub fn free_pages(&self) -> usize {
        self.free_pages.load(Relaxed)
    }

    /// Pages in all chunks.
    pub fn total_pages(&self) -> usize {
        self.total_pages.load(Relaxed)
    }

    /// The counter `s`, summed over CPUs.
    pub fn stat(&self, s: Stat) -> u64 {
        self.stats.sum(s as usize)
    }

    /// The counter `s` on `cpu`.
    pub fn stat_cpu(&self, s: Stat, cpu: usize) -> u64 {
        self.stats.get(s as usize, cpu)
    }

    pub(crate) fn stats(&self) -> &Stats<NR_STATS> {
        &self.stats
    }

    /// Test hook: the next `n` backing allocations from the kernel fail.
    pub fn fail_next_backing(&self, n: u32) {
        self.fail_backing.store(n, Relaxed);
    }

    /// `(count, high, batch, high_min, high_max)` of `cpu`'s lists.
    pub fn pcp_info(&self, cpu: usize) -> Option<(u32, u32, u32, u32, u32)> {
        let p = self.cpus.get(cpu)?.lock();
        let (lo, hi) = p.pcp.high_range();
        Some((p.pcp.count(), p.pcp.high(), p.pcp.batch(), lo, hi))
    }

    /// The free blocks per order (`/proc/buddyinfo`).
    pub fn buddyinfo(&self) -> [usize; NR_ORDERS] {
        *self.zone.lock().area.nr_free()
    }

    fn below_high(&self) -> bool {
        self.free_pages() < self.wmark_high.load(Relaxed)
    }

    /// The chunk base address and pfn of `b`'s slot.
    fn slot(&self, b: &RawBlock) -> &SlotInfo {
        &self.slots[Area::slot_of(b.idx) as usize]
    }

    /// The kernel virtual address of `b`'s first page.
    pub fn addr(&self, b: &RawBlock) -> *mut u8 {
        let off = (b.idx as usize) & (CHUNK_PAGES - 1);
        (self.slot(b).addr.load(Relaxed) + off * kernel::page::PAGE_SIZE) as *mut u8
    }

    /// The pfn of `b`'s first page.
    pub fn pfn(&self, b: &RawBlock) -> usize {
        self.slot(b).pfn.load(Relaxed) + ((b.idx as usize) & (CHUNK_PAGES - 1))
    }

    /// The record of page `i` of block `b` (`i < 1 << b.order()`): the
    /// slab layer's `struct slab`.
    pub fn page_ext<'a>(&'a self, b: &'a RawBlock, i: usize) -> &'a SlabPage {
        assert!(i < 1 << b.order);
        let off = ((b.idx as usize) & (CHUNK_PAGES - 1)) + i;
        let base = self.slot(b).ext.load(Relaxed) as *const SlabPage;
        // SAFETY: the slot's chunk is in the pool while `b` is out (type
        // invariant), so `base` points to its `ext` array of one record per
        // page, and `off` is a page of `b`, inside the chunk.
        unsafe { &*base.add(off) }
    }

    /// The record of the page that holds `addr`, if that page is in one of
    /// the pool's chunks: the pfn map's lookup, O(1) and lock-free
    /// (`virt_to_slab()` for rslab).
    ///
    /// # Safety
    ///
    /// The reference is only valid while the page stays in the pool: the
    /// caller must hold (or be freeing) a block that contains `addr`.
    pub unsafe fn ext_of_addr(&self, addr: usize) -> Option<&SlabPage> {
        // SAFETY: the helper only computes; it dereferences nothing.
        let pfn = unsafe { ffi::rslab_virt_to_pfn(addr as *const core::ffi::c_void) } as usize;
        let w = self.map.get(pfn / WINDOW)?.load(Acquire) as *const Atomic<usize>;
        if w.is_null() {
            return None;
        }
        // SAFETY: a non-null map entry points to a window of `WINDOW`
        // entries that lives as long as the pool (type invariant).
        let e = unsafe { &*w.add(pfn % WINDOW) }.load(Acquire) as *const SlabPage;
        // SAFETY: a non-zero entry is the record of a page of a chunk in
        // the pool; the caller keeps that chunk there.
        (!e.is_null()).then(|| unsafe { &*e })
    }

    /// Calls `f` on the record of every page of every chunk, under the zone
    /// lock (so `f` must not allocate from or free to this pool).
    pub fn for_each_ext(&self, mut f: impl FnMut(&SlabPage)) {
        let z = self.zone.lock();
        for c in z.chunks.0.iter().flatten() {
            c.ext.iter().for_each(&mut f);
        }
    }

    /// The pfn map's window for `pfn`, made if missing. `None` if `pfn` is
    /// beyond the map or the window cannot be allocated.
    fn window(&self, pfn: usize, gfp: kernel::alloc::Flags) -> Option<&[Atomic<usize>]> {
        let top = self.map.get(pfn / WINDOW)?;
        let mut w = top.load(Acquire);
        if w == 0 {
            let mut b = KBox::<Window>::new_uninit(gfp).ok()?;
            // SAFETY: all-zero bytes are a valid `Atomic<usize>` (0) for
            // every entry.
            let b = unsafe {
                core::ptr::write_bytes(b.as_mut_ptr(), 0, 1);
                b.assume_init()
            };
            let ptr = KBox::into_raw(b);
            match top.cmpxchg(0, ptr as usize, Release) {
                Ok(_) => w = ptr as usize,
                Err(cur) => {
                    // SAFETY: `ptr` came from `into_raw` just above and was
                    // not published.
                    drop(unsafe { KBox::from_raw(ptr) });
                    w = cur;
                }
            }
        }
        // SAFETY: a published window holds `WINDOW` entries and lives as
        // long as the pool (type invariant).
        Some(unsafe { core::slice::from_raw_parts(w as *const Atomic<usize>, WINDOW) })
    }

    /// Clears the map's entries for the `pages` pages from `pfn` (under the
    /// zone lock, as their chunk leaves the pool).
    fn unmap(&self, pfn: usize, pages: usize) {
        if let Some(w) = self.map.get(pfn / WINDOW) {
            let w = w.load(Relaxed) as *const Atomic<usize>;
            if !w.is_null() {
                for i in 0..pages {
                    // SAFETY: as in `window`; `pfn % WINDOW + i < WINDOW`
                    // because a chunk lies in one window.
                    unsafe { &*w.add((pfn + i) % WINDOW) }.store(0, Relaxed);
                }
            }
        }
    }

    /// Recomputes the per-CPU lists' `high` range from the pool's size, as
    /// `zone_pcp_update()` does when a zone changes: `high_min` is
    /// `4 * batch` (`zone_highsize()`'s floor), `high_max` an eighth of the
    /// pool split over the CPUs, within what the lists can hold.
    ///
    /// Only publishes the values: this may run in any context, also from an
    /// interrupt that arrived while its CPU's list lock is held, so it takes
    /// no list lock. Each CPU applies them on its own next operation.
    fn update_tuning(&self) {
        let ncpu = cpu::online_cpus().count().max(1) as u32;
        let batch = self.batch;
        let cap = (pcp::RING as u32).saturating_sub(2 * batch + 8);
        let high_min = pcp::high_size(0, batch, ncpu).min(cap);
        let high_max = pcp::high_size(self.total_pages() / 8, batch, ncpu).clamp(high_min, cap);
        self.tuning
            .store(u64::from(high_min) | (u64::from(high_max) << 32), Relaxed);
    }

    /// Applies the published tuning to a list (its lock held).
    #[inline]
    fn apply_tuning(&self, c: &mut CpuPcp) {
        let t = self.tuning.load(Relaxed);
        if c.tuning != t {
            c.tuning = t;
            c.pcp.set_tuning(t as u32, (t >> 32) as u32, self.batch);
        }
    }

    /// Takes a chunk from the kernel: order `MAX_ORDER` first, then smaller
    /// ones down to `min_order`. Returns whether the pool grew.
    fn grow(&self, min_order: u32, gfp: Gfp) -> bool {
        // The test hook: consume one injected failure, if any.
        let mut n = self.fail_backing.load(Relaxed);
        while n > 0 {
            match self.fail_backing.cmpxchg(n, n - 1, Relaxed) {
                Ok(_) => return false,
                Err(cur) => n = cur,
            }
        }
        let mut order = MAX_ORDER;
        let page = loop {
            // A caller that cannot sleep may use the kernel's reserves
            // (`GFP_ATOMIC`) for what it asked for, not for a whole chunk:
            // bigger chunks are only tried without reserves.
            let base = if order > min_order && !gfp.can_sleep() {
                bindings::GFP_NOWAIT
            } else {
                gfp.0
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
                return false;
            }
            order -= 1;
        };
        let free_chunk = |page| {
            // SAFETY: `page` came from `alloc_pages(_, order)` just above.
            unsafe { bindings::__free_pages(page, order) };
        };
        let kgfp = if gfp.can_sleep() {
            GFP_KERNEL
        } else {
            GFP_ATOMIC
        };
        let Ok(meta) = KVec::from_elem(PageMeta::EMPTY, 1 << order, kgfp | __GFP_NOWARN) else {
            free_chunk(page);
            return false;
        };
        let Ok(ext) = SlabPage::new_array(1 << order, kgfp | __GFP_NOWARN) else {
            free_chunk(page);
            return false;
        };
        // SAFETY: `page` is a live page from `alloc_pages`.
        let (pfn, addr) = unsafe {
            (
                ffi::rslab_page_to_pfn(page) as usize,
                ffi::rslab_page_address(page) as usize,
            )
        };
        let Some(window) = self.window(pfn, kgfp) else {
            free_chunk(page);
            return false;
        };
        let mut z = self.zone.lock();
        let Some(slot) = z.chunks.0.iter().position(|c| c.is_none()) else {
            drop(z);
            free_chunk(page);
            return false;
        };
        self.slots[slot].addr.store(addr, Relaxed);
        self.slots[slot].pfn.store(pfn, Relaxed);
        self.slots[slot].ext.store(ext.as_ptr() as usize, Relaxed);
        for (i, e) in ext.iter().enumerate() {
            window[(pfn + i) % WINDOW].store(core::ptr::from_ref(e) as usize, Release);
        }
        z.chunks.0[slot] = Some(Chunk {
            page,
            order,
            meta,
            ext,
        });
        let Zone { area, chunks, .. } = &mut *z;
        area.add_chunk(chunks, slot as u32);
        self.free_pages.add(1 << order, Relaxed);
        self.total_pages.add(1 << order, Relaxed);
        BACKING_PAGES.add(1 << order, Relaxed);
        drop(z);
        self.stats.add(Stat::Grow as usize, 1);
        if order < MAX_ORDER {
            self.stats.add(Stat::OrderFallback as usize, 1);
        }
        self.update_tuning();
        true
    }

    /// Under the zone lock: takes the chunk in `slot` off the free areas if
    /// it is wholly free and the pool keeps at least `keep` pages free
    /// without it.
    fn take_free_chunk(&self, z: &mut Zone, slot: u32, keep: usize, out: &mut Released) -> bool {
        if out.n == out.chunks.len() {
            return false;
        }
        let Some(order) = z.chunks.chunk_order(slot) else {
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
        self.unmap(self.slots[slot as usize].pfn.load(Relaxed), pages);
        out.chunks[out.n] = z.chunks.0[slot as usize].take();
        out.n += 1;
        true
    }

    /// Gives chunks back to the kernel, with no lock held.
    fn release(&self, out: Released) -> usize {
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

    /// Under the zone lock: frees `b` to the free areas, and takes its chunk
    /// off if that made it wholly free and the pool keeps more than its high
    /// watermark without it. A block that is not an allocated block of this
    /// order (which safe code cannot produce) is reported and left alone.
    fn zone_free(&self, z: &mut Zone, idx: u32, order: u32, out: &mut Released) {
        let valid = z.chunks.chunk_order(Area::slot_of(idx)).is_some() && {
            let m = z.chunks.meta(idx);
            m.state == PageState::Allocated && u32::from(m.order) == order
        };
        if !valid {
            pr_err!("pool: bad free of page index {idx} order {order}: not an allocated block\n");
            return;
        }
        let Zone { area, chunks, .. } = z;
        let merges = area.free(chunks, idx, order);
        self.free_pages.add(1 << order, Relaxed);
        if merges > 0 {
            self.stats.add(Stat::Merge as usize, u64::from(merges));
        }
        let slot = Area::slot_of(idx);
        if Some(order + merges) == z.chunks.chunk_order(slot) {
            let keep = self.wmark_high.load(Relaxed);
            self.take_free_chunk(z, slot, keep, out);
        }
    }

    /// Under the zone lock: allocates from the free areas.
    fn zone_alloc(&self, z: &mut Zone, order: u32) -> Option<u32> {
        let Zone { area, chunks, .. } = z;
        let (idx, taken) = area.alloc(chunks, order)?;
        self.free_pages.fetch_sub(1 << order, Relaxed);
        if taken > order {
            self.stats
                .add(Stat::Split as usize, u64::from(taken - order));
        }
        Some(idx)
    }

    /// One allocation attempt, without growing.
    fn try_alloc(&self, order: u32) -> Option<RawBlock> {
        let mut out = Released::new();
        let b = self.try_alloc_locked(order, &mut out);
        self.release(out);
        b
    }

    fn try_alloc_locked(&self, order: u32, out: &mut Released) -> Option<RawBlock> {
        let pin = Pinned::new();
        let cpu = pin.cpu();
        if order <= pcp::COSTLY_ORDER {
            if let Some(mut c) = self.cpus[cpu].try_lock() {
                c.pcp.note_alloc();
                if let Some(idx) = c.pcp.take(order) {
                    self.stats.add_on(cpu, Stat::AllocFastpath as usize, 1);
                    return Some(RawBlock { idx, order });
                }
                // rmqueue_bulk: one batch under the zone lock.
                self.stats.add_on(cpu, Stat::AllocSlowpath as usize, 1);
                self.apply_tuning(&mut c);
                let n = c.pcp.refill_count(order, self.below_high());
                let mut z = self.zone.lock();
                let mut got = 0;
                for _ in 0..n {
                    let Some(idx) = self.zone_alloc(&mut z, order) else {
                        break;
                    };
                    if !c.pcp.add_refilled(idx, order) {
                        self.zone_free(&mut z, idx, order, out);
                        break;
                    }
                    got += 1;
                }
                drop(z);
                if got > 0 {
                    self.stats.add_on(cpu, Stat::Refill as usize, 1);
                }
                self.maybe_decay(&mut c, out);
                return c.pcp.take(order).map(|idx| RawBlock { idx, order });
            }
        }
        self.stats.add_on(cpu, Stat::AllocSlowpath as usize, 1);
        let idx = self.zone_alloc(&mut self.zone.lock(), order)?;
        Some(RawBlock { idx, order })
    }

    /// Allocates a block of `1 << order` pages. Grows the pool from the
    /// kernel when it is below its low watermark or cannot serve the request;
    /// sleeps only if `gfp` allows it. `None` when the kernel cannot give
    /// memory either, or `order > MAX_PAGE_ORDER`; the pool is unchanged then.
    pub fn alloc(&self, order: u32, gfp: Gfp) -> Option<RawBlock> {
        if order > MAX_ORDER {
            self.stats.add(Stat::AllocFail as usize, 1);
            return None;
        }
        if self.free_pages() < self.wmark_low.load(Relaxed) {
            self.grow(order, gfp);
        }
        let b = self.try_alloc(order).or_else(|| {
            if self.grow(order, gfp) {
                self.try_alloc(order)
            } else {
                None
            }
        });
        match b {
            Some(_) => self.stats.add(Stat::PagesOut as usize, 1 << order),
            None => self.stats.add(Stat::AllocFail as usize, 1),
        }
        b
    }

    /// Frees a block from [`Pool::alloc`].
    pub fn free(&self, b: RawBlock) {
        self.stats.add(Stat::PagesIn as usize, 1 << b.order);
        let mut out = Released::new();
        {
            let pin = Pinned::new();
            if b.order <= pcp::COSTLY_ORDER {
                if let Some(mut c) = self.cpus[pin.cpu()].try_lock() {
                    self.apply_tuning(&mut c);
                    match c.pcp.free(b.idx, b.order, self.below_high()) {
                        Some(0) => return,
                        Some(n) => {
                            let mut z = self.zone.lock();
                            c.pcp
                                .drain(n, b.order, |i, o| self.zone_free(&mut z, i, o, &mut out));
                            drop(z);
                            self.stats.add_on(pin.cpu(), Stat::Drain as usize, 1);
                            self.maybe_decay(&mut c, &mut out);
                        }
                        None => self.zone_free(&mut self.zone.lock(), b.idx, b.order, &mut out),
                    }
                } else {
                    self.zone_free(&mut self.zone.lock(), b.idx, b.order, &mut out);
                }
            } else {
                self.zone_free(&mut self.zone.lock(), b.idx, b.order, &mut out);
            }
        }
        self.release(out);
    }

    /// Once a second per CPU, on its own slow paths: `decay_pcp_high()` (the
    /// kernel runs it from the per-CPU vmstat work; a CPU that stops
    /// allocating is decayed by [`Pool::shrink`] instead).
    fn maybe_decay(&self, c: &mut CpuPcp, out: &mut Released) {
        // SAFETY: `jiffies` is always readable; a stale value is harmless.
        let now = unsafe { core::ptr::read_volatile(&raw const bindings::jiffies) } as usize;
        let hz = kernel::time::msecs_to_jiffies(1000) as usize;
        if now.wrapping_sub(c.last_decay) < hz {
            return;
        }
        c.last_decay = now;
        let (n, _) = c.pcp.decay();
        if n > 0 {
            let mut z = self.zone.lock();
            c.pcp.drain(n, 0, |i, o| self.zone_free(&mut z, i, o, out));
        }
    }

    /// Drains `cpu`'s lists into the free areas; returns the pages drained.
    pub fn drain_cpu(&self, cpu: usize) -> usize {
        let Some(c) = self.cpus.get(cpu) else {
            return 0;
        };
        let mut c = c.lock();
        if c.pcp.count() == 0 {
            return 0;
        }
        let mut out = Released::new();
        let mut z = self.zone.lock();
        let n = c
            .pcp
            .drain_all(|i, o| self.zone_free(&mut z, i, o, &mut out));
        drop(z);
        drop(c);
        self.stats.add_on(cpu, Stat::Drain as usize, 1);
        self.release(out);
        n as usize
    }

    /// Shrinks the pool: drains every CPU's lists, then gives back wholly
    /// free chunks while at least `keep` pages stay free. Returns the pages
    /// given back.
    pub fn shrink(&self, keep: usize) -> usize {
        for c in 0..self.cpus.len() {
            self.drain_cpu(c);
        }
        let mut given = 0;
        loop {
            let mut out = Released::new();
            {
                let mut z = self.zone.lock();
                for slot in 0..z.chunks.nr_slots() {
                    self.take_free_chunk(&mut z, slot, keep, &mut out);
                }
            }
            if out.n == 0 {
                break;
            }
            given += self.release(out);
        }
        given
    }

    /// Walks every structure: the free areas, every per-CPU list (each block
    /// an allocated head of its order, none twice, counts exact), and the
    /// counters. Takes every lock, so the snapshot is consistent.
    pub fn check(&self) -> Result<Census, PoolError> {
        let slots = self.slots.len();
        // One bit per page index, to catch a block listed twice.
        let words = (slots << MAX_ORDER).div_ceil(64);
        let Ok(mut seen) = VVec::from_elem(0u64, words, GFP_KERNEL) else {
            return Err(PoolError::Counter("no memory for the check", 0, 0));
        };
        let guards: KVec<_> = {
            let mut g = KVec::with_capacity(self.cpus.len(), GFP_KERNEL)
                .map_err(|_| PoolError::Counter("no memory for the check", 0, 0))?;
            for c in self.cpus.iter() {
                // Every list lock at once, by spinning on `try_lock`: no other
                // path ever holds two list locks, so this cannot deadlock, and
                // lockdep (which checks no trylock for recursion or ordering,
                // as for the kernel's own per-CPU page lists) stays quiet
                // about holding many locks of one class.
                let guard = loop {
                    if let Some(guard) = c.try_lock() {
                        break guard;
                    }
                    core::hint::spin_loop();
                };
                // Capacity reserved above.
                let _ = g.push(guard, GFP_ATOMIC);
            }
            g
        };
        let z = self.zone.lock();
        let census = z.area.check(&z.chunks).map_err(PoolError::Area)?;
        let mut pcp_pages = 0usize;
        for g in guards.iter() {
            let mut pages = 0usize;
            for order in 0..pcp::PCP_ORDERS as u32 {
                for idx in g.pcp.list(order).iter() {
                    if z.chunks.chunk_order(Area::slot_of(idx)).is_none() {
                        return Err(PoolError::BadPcpBlock(idx));
                    }
                    let m = z.chunks.meta(idx);
                    if m.state != PageState::Allocated || u32::from(m.order) != order {
                        return Err(PoolError::BadPcpBlock(idx));
                    }
                    let (w, bit) = (idx as usize / 64, idx % 64);
                    if seen[w] & (1 << bit) != 0 {
                        return Err(PoolError::BadPcpBlock(idx));
                    }
                    seen[w] |= 1 << bit;
                    pages += 1 << order;
                }
            }
            if pages != g.pcp.count() as usize {
                return Err(PoolError::PcpCount(pages));
            }
            pcp_pages += pages;
        }
        let in_use =
            self.stats.sum(Stat::PagesOut as usize) - self.stats.sum(Stat::PagesIn as usize);
        let in_use = in_use as usize;
        let check = |what, counted: usize, recorded: usize| {
            if counted == recorded {
                Ok(())
            } else {
                Err(PoolError::Counter(what, counted, recorded))
            }
        };
        check(
            "allocated pages vs lists + users",
            census.allocated,
            pcp_pages + in_use,
        )?;
        check("free pages", census.free, self.free_pages())?;
        check("total pages", census.pages, self.total_pages())?;
        Ok(Census {
            chunks: census.chunks,
            pages: census.pages,
            free: census.free,
            pcp: pcp_pages,
            in_use,
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Pool {
    fn drop(self: Pin<&mut Self>) {
        // Every wholly free chunk goes back to the kernel...
        self.shrink(0);
        // ...so what is left has pages in use: never free those.
        let mut z = self.zone.lock();
        let mut leaked = 0usize;
        for slot in 0..z.chunks.nr_slots() {
            let Some(order) = z.chunks.chunk_order(slot) else {
                continue;
            };
            let pfn = self.slots[slot as usize].pfn.load(Relaxed);
            pr_err!("pool: chunk at pfn {pfn:#x} (order {order}) still in use at destroy; leaving it allocated\n");
            leaked += 1 << order;
            // Drops the metadata only: a `Chunk` does not free its pages.
            self.unmap(pfn, 1 << order);
            drop(z.chunks.0[slot as usize].take());
        }
        drop(z);
        if leaked > 0 {
            pr_err!("pool: destroyed with {leaked} pages in chunks still in use\n");
        }
        for w in self.map.iter() {
            let w = w.load(Relaxed) as *mut Atomic<usize>;
            if !w.is_null() {
                // SAFETY: published by `window` from `KBox::into_raw`; the
                // pool is going, so nothing looks it up any more.
                drop(unsafe { KBox::from_raw(w.cast::<Window>()) });
            }
        }
    }
}

/// An owned block of pages: freed to its pool on drop.
pub struct PageBlock {
    pool: Arc<Pool>,
    raw: RawBlock,
}

impl PageBlock {
    /// Allocates a block of `1 << order` pages from `pool`.
    pub fn new(pool: &Arc<Pool>, order: u32, gfp: Gfp) -> Result<Self> {
        let raw = pool.alloc(order, gfp).ok_or(ENOMEM)?;
        Ok(PageBlock {
            pool: pool.clone(),
            raw,
        })
    }

    /// The kernel virtual address of the first page.
    pub fn addr(&self) -> *mut u8 {
        self.pool.addr(&self.raw)
    }

    /// The pfn of the first page.
    pub fn pfn(&self) -> usize {
        self.pool.pfn(&self.raw)
    }

    /// The order.
    pub fn order(&self) -> u32 {
        self.raw.order
    }

    /// Gives up ownership; free the block with [`Pool::free`].
    pub fn into_raw(self) -> RawBlock {
        let b = core::mem::ManuallyDrop::new(self);
        // SAFETY: `b` is never used or dropped again: this moves its fields
        // out, dropping the `Arc` here, without freeing the block.
        let (pool, raw) = unsafe { (core::ptr::read(&b.pool), core::ptr::read(&b.raw)) };
        drop(pool);
        raw
    }
}

impl Drop for PageBlock {
    fn drop(&mut self) {
        let raw = RawBlock {
            idx: self.raw.idx,
            order: self.raw.order,
        };
        self.pool.free(raw);
    }
}

impl cpuhp::CpuDead for Pool {
    fn cpu_dead(&self, cpu: usize) {
        self.drain_cpu(cpu);
    }
}

impl shrinker::Shrink for Pool {
    fn count(&self) -> usize {
        let pcp: usize = (0..self.cpus.len())
            .filter_map(|c| self.pcp_info(c))
            .map(|i| i.0 as usize)
            .sum();
        (self.free_pages() + pcp).saturating_sub(self.wmark_min.load(Relaxed))
    }

    fn scan(&self, _nr: usize) -> Option<usize> {
        Some(self.shrink(self.wmark_min.load(Relaxed)))
    }
}
