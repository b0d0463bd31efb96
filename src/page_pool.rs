// SPDX-License-Identifier: GPL-2.0
//! The page pool: buddy free areas and per-CPU page lists over chunks of
//! memory taken from the kernel's own page allocator.
//!
//! - Zones: as the kernel has a zone (free areas and lock) per node and
//!   kind (`ZONE_NORMAL`, `ZONE_DMA32`, `ZONE_DMA`), so has the pool: a
//!   zone's chunks come from `alloc_pages_node(nid)` with `__GFP_THISNODE`
//!   and the kind's `__GFP_DMA`/`__GFP_DMA32`, and occupy the zone's own
//!   range of slots, so a page index names its zone (`idx >> zone_shift`)
//!   and node. A request's kind is `gfp_zone()`'s. A CPU's lists hold pages
//!   of its node's normal zone only (`cpu_to_mem()`); the DMA zones are
//!   served under their zone lock. An allocation is served by the node
//!   asked for (`alloc_node`) or the CPU's own; when that node's zone is
//!   empty and cannot grow, by the same kind of zone of the other nodes,
//!   nearest first (the zonelist fallback), counted as `numa_miss`. Without
//!   `CONFIG_NUMA` there is one node.
//! - Memory initialisation as the page allocator's: a block is zeroed when
//!   allocated with `__GFP_ZERO` or under `init_on_alloc`, and when freed
//!   under `init_on_free` (then every free page is zero, and allocations
//!   need not zero again).
//! - Backing memory ([`chunk`]): the pool grows by taking naturally aligned
//!   chunks from `alloc_pages_node()`, of `MAX_PAGE_ORDER` (or, from a
//!   smaller first order, [`Config::first_order`], each as large as what
//!   the zone holds already, doubling it, so that a pool that serves little
//!   holds little), smaller when the kernel cannot give that ("order
//!   fallback"). A chunk
//!   that becomes wholly free goes back (`__free_pages()`) while the pool
//!   keeps more than its high watermark free, on shrink, and when the pool
//!   is dropped.
//! - Free areas ([`FreeArea`], pure logic shared with the host crate):
//!   `free_area[order]` for orders `0..=MAX_PAGE_ORDER`, split on alloc and
//!   merged with the buddy on free, never across a chunk. Per-page state
//!   lives in the pool's own metadata array per chunk, not in `struct page`.
//! - Per-CPU lists ([`pcp`]): orders `0..=PAGE_ALLOC_COSTLY_ORDER`, refilled
//!   (`rmqueue_bulk`) and drained (`free_pcppages_bulk`) in batches under
//!   the zone lock, with 7.x's auto-tuned `high`.
//! - Per-page records for the pool's user ([`PageRecord`]): one per page of
//!   every chunk, opaque to the pool, found from a block or (through the
//!   [`pfn_map`]) from any address inside a chunk. The pool never looks
//!   inside them.
//! - A consistency walk ([`check`]).
//!
//! # Locking and context
//!
//! Linux 7.x pins the task to its CPU (preemption off) and *try*-locks that
//! CPU's `per_cpu_pages.lock`, so an interrupt arriving while the task holds
//! it fails the trylock and goes to the free areas. rslab turns interrupts
//! off on its CPU instead (one inline `cli`/`csrc`: the kernel's preemption
//! and lock calls are out of line from a module) and takes that CPU's list
//! lock, an inline test-and-set word ([`pcp`]); only another CPU (a drain,
//! [`Pool::check`]) can hold it then, and a failed try sends the request to
//! the free areas, under the zone lock (a spinlock taken with interrupts
//! off). The order is always list lock, then zone lock. Nothing here sleeps
//! except growing with a sleeping `gfp` (done with no lock held and
//! interrupts on), so
//! `GFP_ATOMIC`/`GFP_NOWAIT` callers never sleep. The pool takes no lock of
//! its user's: a user may call into the pool with its own locks held.

mod check;
mod chunk;
mod compound;
mod pcp;
mod pfn_map;
mod register;

#[cfg(rslab_kunit)]
pub(crate) use check::Census;
pub(crate) use register::Registration;

use crate::{
    glue::{
        atomic::{Atomic, Relaxed},
        cpu,
        decay::{Decay, Decays},
        ffi,
        gfp::Gfp,
        kmemleak,
        mm::{self, Zone as ZoneKind},
        numa,
        percpu::{IrqsSaved, PerCpu},
        stats::Stats,
    },
    logic::page_pool::freearea::{FreeArea, Pages},
};
use chunk::{Chunks, Released, SlotInfo, Zone};
use kernel::{
    alloc::KVVec,
    bindings,
    interrupt::local_interrupt_disable,
    new_spinlock_irq,
    prelude::*,
    rbtree::RBTree,
    sync::{Arc, SpinLockIrq},
};
use pcp::PcpCell;
use pfn_map::PfnMap;

/// `MAX_PAGE_ORDER`: the largest block and chunk order.
pub(crate) const MAX_ORDER: u32 = bindings::MAX_PAGE_ORDER;
/// Orders `0..=MAX_ORDER`.
pub(crate) const NR_ORDERS: usize = MAX_ORDER as usize + 1;
/// Pages in a full-size chunk.
pub(crate) const CHUNK_PAGES: usize = 1 << MAX_ORDER;
/// A small first chunk ([`Config::first_order`]): 128 KiB, so that a
/// per-CPU list's batch (31 pages) fits. (Only the suites make such pools
/// for now: see [`Config::default`].)
#[cfg(rslab_kunit)]
pub(crate) const FIRST_ORDER: u32 = if MAX_ORDER < 5 { MAX_ORDER } else { 5 };
/// A node's zones, as a shift: zone index `node << ZT_BITS | kind`.
const ZT_BITS: u32 = 2;
/// The `gfp_t` bits that ask for a zone other than the normal one, on this
/// kernel (a zone it lacks is the normal one).
const ZONE_GFP: u32 = if ZoneKind::Dma.exists() {
    mm::GFP_DMA
} else {
    0
} | if ZoneKind::Dma32.exists() {
    mm::GFP_DMA32
} else {
    0
};

/// The index of node `node`'s zone of kind `kind`.
const fn zone_index(node: usize, kind: ZoneKind) -> usize {
    node << ZT_BITS | kind as usize
}
type Area = FreeArea<NR_ORDERS>;

/// What the pool keeps per page for its user (what the fields of
/// `struct page` are to the kernel's users of pages). The pool makes one per page when a chunk
/// arrives, hands out shared references to it while the page's chunk is in
/// the pool, and drops it when the chunk goes; it never looks inside.
pub(crate) trait PageRecord: Send + Sync + Sized + 'static {
    /// A record for a page that nobody uses yet.
    fn new() -> Self;
}

/// A pool whose user keeps nothing per page.
impl PageRecord for () {
    fn new() -> Self {}
}

/// The pool's event counters, shown in sysfs as SLUB shows its statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Stat {
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
    /// A chunk smaller than planned (see [`Config::first_order`]) taken
    /// because the kernel could not give the planned one.
    OrderFallback,
    /// An allocation that failed.
    AllocFail,
    /// An allocation served by a node other than the one it was for (the
    /// node asked for, or the CPU's own): its zone was empty and could not
    /// grow (`NUMA_MISS`).
    NumaMiss,
}

/// The number of [`Stat`] counters.
pub(crate) const NR_STATS: usize = Stat::NumaMiss as usize + 1;

/// Pages taken from the kernel by every pool and not yet given back.
static BACKING_PAGES: Atomic<usize> = Atomic::new(0);

/// Pages every pool of this module holds from the kernel right now.
pub(crate) fn backing_pages() -> usize {
    BACKING_PAGES.load(Relaxed)
}

/// The next pool's identity (see [`RawBlock`]).
static NEXT_POOL_ID: Atomic<u32> = Atomic::new(1);

/// A block of `1 << order` pages from a pool, by page index, naming its
/// pool.
///
/// Move-only: [`Pool::free`] consumes it, so safe code cannot free a block
/// twice; and it carries its pool's identity, which every [`Pool`] method
/// that takes a block checks, so safe code cannot free (or address) one
/// pool's block through another.
///
/// # Invariants
///
/// Only its pool makes one (`pool` is that pool's identity), for a block
/// of `1 << order` pages (`order <= MAX_ORDER`) inside one of its chunks,
/// starting at page index `idx`, whose slot is one of the pool's.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RawBlock {
    idx: u32,
    order: u32,
    pool: u32,
}

impl RawBlock {
    /// The block's order.
    pub(crate) fn order(&self) -> u32 {
        self.order
    }
}

/// Watermarks, in pages, each applying to every node's zone on its own
/// (as the kernel's per-zone watermarks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Watermarks {
    /// The shrinker leaves at least this many pages free.
    pub(crate) min: usize,
    /// Below this many free pages in a node's zone, an allocation there
    /// grows the zone from the kernel.
    pub(crate) low: usize,
    /// Wholly free chunks of a zone are given back while more than this
    /// stays free in it; below it, the lists of its CPUs stop growing
    /// (`ZONE_BELOW_HIGH`).
    pub(crate) high: usize,
}

impl Watermarks {
    /// Whether `min <= low <= high`.
    pub(crate) fn valid(&self) -> bool {
        self.min <= self.low && self.low <= self.high
    }
}

/// How to build a pool.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    /// The most chunks the pool may hold at once, on all nodes together
    /// (each node has room for all of them).
    pub(crate) max_chunks: usize,
    /// The per-CPU lists' batch.
    pub(crate) batch: u32,
    /// Initial watermarks.
    pub(crate) wmark: Watermarks,
    /// The order of a zone's first chunk. Each later chunk is as large as
    /// what the zone holds (it doubles it), up to `MAX_PAGE_ORDER`, so that
    /// a pool that serves little holds little. `MAX_ORDER`: every chunk
    /// full size from the start.
    pub(crate) first_order: u32,
    /// The decay period in ms (0: off): see [`crate::logic::decay`].
    pub(crate) decay_ms: u32,
}

impl Config {
    /// A pool that keeps every chunk it takes (high watermark out of reach)
    /// and grows only when it cannot serve a request (low 0), by full-size
    /// chunks: what it holds is what its users hold, counted in chunks, so
    /// tests and the benchmark can count it.
    pub(crate) fn keeping() -> Self {
        Config {
            wmark: Watermarks {
                min: 0,
                low: 0,
                high: usize::MAX,
            },
            first_order: MAX_ORDER,
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
            // Full-size chunks: with 128 KiB first chunks the debug tier's kmemleak
            // check missed a leaked large kmalloc block in two runs of three
            // (what referred to it is not found yet).
            first_order: MAX_ORDER,
            decay_ms: 0,
        }
    }
}

/// A page pool, keeping an `R` per page for its user.
///
/// # Invariants
///
/// - `zones[z]` is the zone of index `z` (node `z >> ZT_BITS`, kind
///   `z & 3`; a kind the kernel lacks has a zone with no slots); its chunks
///   are in slots `z << node_bits .. (z + 1) << node_bits` and its pages
///   are that node's, of that kind. `nr_chunks` counts the chunks of all
///   zones (at most `max_chunks`).
/// - Whenever no zone lock is held, `zone_free[z]` equals the free pages
///   of zone `z`'s free areas and `total_pages` the pages of all zones'
///   chunks; a zone's own `free` and `total` are exact under its lock.
/// - With `init_free`, every page in the free areas and on the lists is
///   zero.
/// - `slots[s]` holds the address, pfn and records of the chunk in slot `s`
///   for as long as that chunk is in the pool (written under the zone lock
///   before any block of it is handed out).
/// - Every allocated block is held by exactly one user or one CPU's list.
///   The pages users hold are counted where a block crosses between them
///   and the pool, under the lock that covers the crossing: the zone's
///   `user_pages` (zone lock) plus every CPU list's (its list lock). A [`RawBlock`]
///   whose `pool` is `id` is such a block of this pool, so its chunk stays
///   in the pool while the block is out.
/// - `cpus[c]` is only used by CPU `c` with the task pinned and the lock
///   *tried*, or by anyone with the lock taken where no list lock is held.
///   Its lists hold blocks of node `cpu_node[c]`'s normal zone only.
/// - `map` maps the pages of every chunk in the pool to their records (see
///   [`PfnMap`]).
#[pin_data(PinnedDrop)]
pub(crate) struct Pool<R: PageRecord> {
    zones: KVec<Pin<KBox<SpinLockIrq<Zone<R>>>>>,
    cpus: PerCpu<PcpCell>,
    /// Each CPU's node (`cpu_to_mem()`), by CPU number.
    cpu_node: KVec<u32>,
    /// Slots per zone, as a shift: zone `z`'s first slot is `z << node_bits`.
    node_bits: u32,
    /// `node_bits + MAX_ORDER`: the zone of page index `idx` is
    /// `idx >> zone_shift`, its node `idx >> (zone_shift + ZT_BITS)` (below
    /// 32).
    zone_shift: u32,
    max_chunks: usize,
    /// [`Config::first_order`] (at most `MAX_ORDER`).
    first_order: u32,
    nr_chunks: Atomic<usize>,
    slots: KVVec<SlotInfo<R>>,
    map: PfnMap<R>,
    stats: Stats<NR_STATS>,
    /// Pages free in each zone's free areas, by zone index (a copy of the
    /// zone's `free`, for reading without the lock: the watermarks'
    /// measure).
    zone_free: KVec<Atomic<usize>>,
    /// Pages in all chunks (likewise).
    total_pages: Atomic<usize>,
    wmark_min: Atomic<usize>,
    wmark_low: Atomic<usize>,
    wmark_high: Atomic<usize>,
    batch: u32,
    /// This pool's identity, carried by its blocks.
    id: u32,
    /// `id`, or (under `init_on_free`, whose frees all go the slow way to
    /// be zeroed) none: what a block's identity must be for the free fast
    /// path, one compare for both.
    fast_id: u32,
    /// `__va(0)`, for [`Pool::record_of_addr`].
    linear: usize,
    /// `vmemmap` (the `struct page` of pfn 0), as the chunks' `struct page`
    /// pointers and pfns give it: 0 until the first chunk, and for good if
    /// one ever disagreed (`usize::MAX`: then [`Pool::record_of_page`] finds
    /// nothing).
    vmemmap: Atomic<usize>,
    /// The lists' `(high_min, high_max)`, packed; each CPU applies it to its
    /// own list under its own lock (see [`Pool::apply_tuning`]).
    tuning: Atomic<u64>,
    /// `init_on_alloc`, read at creation (a boot setting).
    init_alloc: bool,
    /// `init_on_free`, likewise.
    init_free: bool,
    /// The request flags ([`Gfp::bits`]) that take an allocation past the
    /// per-CPU lists' fast path: another zone, and zeroing (`__GFP_ZERO`,
    /// or every request under `init_on_alloc`; none under `init_on_free`,
    /// where free pages are zero).
    slow_mask: u32,
    /// The compound blocks handed out ([`compound`]): pfn to order.
    #[pin]
    compound: SpinLockIrq<RBTree<usize, u32>>,
    /// Their pages.
    compound_pages: Atomic<usize>,
    /// Time-based decay: free pages above the low watermark go back to the
    /// kernel after an idle period.
    #[pin]
    decay: Decay,
}

impl<R: PageRecord> Pool<R> {
    /// A new, empty pool.
    pub(crate) fn new(cfg: Config) -> Result<Arc<Self>> {
        let nodes = numa::nr_node_ids();
        let nr_zones = nodes << ZT_BITS;
        let node_bits = cfg.max_chunks.max(1).next_power_of_two().trailing_zeros();
        if !cfg.wmark.valid()
            || cfg.max_chunks == 0
            || nr_zones
                .checked_shl(node_bits + MAX_ORDER)
                .is_none_or(|n| n > u32::MAX as usize)
        {
            return Err(EINVAL);
        }
        // The lists are large (a ring per order): zeroed in place, empty.
        let cpus = PerCpu::<PcpCell>::new_zeroed()?;
        let node_slots = 1usize << node_bits;
        let mut slots = KVVec::with_capacity(nr_zones * node_slots, GFP_KERNEL)?;
        for _ in 0..nr_zones * node_slots {
            slots.push(SlotInfo::new(), GFP_KERNEL)?;
        }
        // A slot holds its chunk's address, which is that of the block at
        // the chunk's start (or of what a user made of it): kmemleak must
        // not take it for a reference to that block, or a leak there goes
        // unreported. (The records a slot points to are referenced by the
        // zone's table of chunks too.)
        kmemleak::no_scan(slots.as_ptr().cast());
        let mut zones = KVec::with_capacity(nr_zones, GFP_KERNEL)?;
        for z in 0..nr_zones {
            // A kind the kernel lacks gets no slots: it never grows.
            let exists = ZoneKind::from_index(z & ((1 << ZT_BITS) - 1)).is_some_and(|k| k.exists());
            let mut table = KVVec::with_capacity(if exists { node_slots } else { 0 }, GFP_KERNEL)?;
            for _ in 0..if exists { node_slots } else { 0 } {
                table.push(None, GFP_KERNEL)?;
            }
            let first = (z << node_bits) as u32;
            zones.push(
                KBox::pin_init(
                    new_spinlock_irq!(Zone {
                        area: Area::new(),
                        chunks: Chunks { first, table },
                        user_pages: 0,
                        free: 0,
                        total: 0,
                    }),
                    GFP_KERNEL,
                )?,
                GFP_KERNEL,
            )?;
        }
        let mut cpu_node = KVec::with_capacity(cpu::nr_cpu_ids(), GFP_KERNEL)?;
        for c in 0..cpu::nr_cpu_ids() {
            cpu_node.push(numa::cpu_node(c).min(nodes - 1) as u32, GFP_KERNEL)?;
        }
        let mut zone_free = KVec::with_capacity(nr_zones, GFP_KERNEL)?;
        for _ in 0..nr_zones {
            zone_free.push(Atomic::new(0), GFP_KERNEL)?;
        }
        let stats = Stats::new()?;
        let map = PfnMap::new()?;
        let zone_shift = node_bits + MAX_ORDER;
        let (init_alloc, init_free) = (mm::init_on_alloc(), mm::init_on_free());
        // Identities start at 1: 0 is no pool's.
        let pool_id = NEXT_POOL_ID.fetch_add(1, Relaxed);
        let pool = Arc::pin_init(
            pin_init!(Pool {
                zones,
                cpus,
                cpu_node,
                node_bits,
                zone_shift,
                max_chunks: cfg.max_chunks,
                first_order: cfg.first_order.min(MAX_ORDER),
                nr_chunks: Atomic::new(0),
                slots,
                map,
                stats,
                zone_free,
                total_pages: Atomic::new(0),
                wmark_min: Atomic::new(cfg.wmark.min),
                wmark_low: Atomic::new(cfg.wmark.low),
                wmark_high: Atomic::new(cfg.wmark.high),
                batch: cfg.batch.clamp(1, 255),
                id: pool_id,
                fast_id: if init_free { 0 } else { pool_id },
                // SAFETY: computes an address; no side effect.
                linear: unsafe { ffi::rslab_linear_offset() } as usize,
                vmemmap: Atomic::new(0),
                tuning: Atomic::new(0),
                init_alloc,
                init_free,
                slow_mask: ZONE_GFP
                    | match (init_alloc, init_free) {
                        (_, true) => 0,
                        (true, false) => crate::glue::gfp::MARK,
                        (false, false) => crate::glue::gfp::GFP_ZERO,
                    },
                compound <- new_spinlock_irq!(RBTree::new()),
                compound_pages: Atomic::new(0),
                // SAFETY: placed in this `Pool`, at its `DECAY_OFFSET`.
                decay <- unsafe { Decay::new::<Self, core::convert::Infallible>(cfg.decay_ms) },
            }),
            GFP_KERNEL,
        )?;
        pool.update_tuning();
        for c in 0..cpu::nr_cpu_ids() {
            let Some(cell) = pool.cpus.get(c) else {
                continue;
            };
            let irq = local_interrupt_disable();
            let mut g = cell.lock(&irq);
            g.zone = zone_index(pool.cpu_node[c] as usize, ZoneKind::Normal) as u32;
            pool.apply_tuning(&mut g);
        }
        Ok(pool)
    }

    /// The nodes the pool has zones for (`nr_node_ids`).
    pub(crate) fn nr_nodes(&self) -> usize {
        self.zones.len() >> ZT_BITS
    }

    /// The zone index of page index `idx`. No call: the fast paths use it.
    #[inline(always)]
    fn zone_of_idx(&self, idx: u32) -> usize {
        // `zone_shift` is below 32 (checked in `new`): exact, and no
        // overflow check to call out.
        idx.wrapping_shr(self.zone_shift) as usize
    }

    /// The node of page index `idx`.
    fn node_of_idx(&self, idx: u32) -> usize {
        self.zone_of_idx(idx) >> ZT_BITS
    }

    /// The node of `b`'s pages.
    pub(crate) fn node_of(&self, b: &RawBlock) -> usize {
        self.node_of_idx(b.idx)
    }

    /// The zones of node `node`, with their kind (those the kernel has).
    fn node_zones(&self, node: usize) -> impl Iterator<Item = (ZoneKind, &SpinLockIrq<Zone<R>>)> {
        [ZoneKind::Normal, ZoneKind::Dma32, ZoneKind::Dma]
            .into_iter()
            .filter(|k| k.exists())
            .filter_map(move |k| Some((k, &**self.zones.get(zone_index(node, k))?)))
    }

    /// The node of the CPU this runs on (a call: slow paths only).
    fn local_node(&self) -> usize {
        self.cpu_node.get(cpu::current()).map_or(0, |&n| n as usize)
    }

    /// `cpu`'s node, as the pool sees it.
    pub(crate) fn cpu_node(&self, cpu: usize) -> usize {
        self.cpu_node.get(cpu).map_or(0, |&n| n as usize)
    }

    /// The watermarks.
    pub(crate) fn watermarks(&self) -> Watermarks {
        Watermarks {
            min: self.wmark_min.load(Relaxed),
            low: self.wmark_low.load(Relaxed),
            high: self.wmark_high.load(Relaxed),
        }
    }

    /// Sets the watermarks; `EINVAL` (and nothing changes) unless
    /// `min <= low <= high`.
    pub(crate) fn set_watermarks(&self, w: Watermarks) -> Result {
        if !w.valid() {
            return Err(EINVAL);
        }
        // Serialise writers so that a concurrent pair cannot interleave.
        let _z = self.zones[0].lock();
        self.wmark_min.store(w.min, Relaxed);
        self.wmark_low.store(w.low, Relaxed);
        self.wmark_high.store(w.high, Relaxed);
        Ok(())
    }

    /// Pages in the free areas of all zones.
    pub(crate) fn free_pages(&self) -> usize {
        self.zone_free.iter().map(|f| f.load(Relaxed)).sum()
    }

    /// Pages in all chunks.
    pub(crate) fn total_pages(&self) -> usize {
        self.total_pages.load(Relaxed)
    }

    /// The counter `s`, summed over CPUs.
    #[cfg(rslab_kunit)]
    pub(crate) fn stat(&self, s: Stat) -> u64 {
        self.stats.sum(s as usize)
    }

    /// The counter `s` on `cpu`.
    #[cfg(rslab_kunit)]
    pub(crate) fn stat_cpu(&self, s: Stat, cpu: usize) -> u64 {
        self.stats.get(s as usize, cpu)
    }

    /// The counters, for sysfs.
    pub(crate) fn stats(&self) -> &Stats<NR_STATS> {
        &self.stats
    }

    /// The free blocks per order, all zones together.
    #[cfg(rslab_kunit)]
    pub(crate) fn buddyinfo(&self) -> [usize; NR_ORDERS] {
        let mut nr = [0; NR_ORDERS];
        for n in 0..self.nr_nodes() {
            for (t, x) in nr.iter_mut().zip(self.buddyinfo_node(n)) {
                *t += x;
            }
        }
        nr
    }

    /// Node `node`'s free blocks per order, its zones together.
    #[cfg(rslab_kunit)]
    pub(crate) fn buddyinfo_node(&self, node: usize) -> [usize; NR_ORDERS] {
        let mut nr = [0; NR_ORDERS];
        for (_, z) in self.node_zones(node) {
            for (t, x) in nr.iter_mut().zip(*z.lock().area.nr_free()) {
                *t += x;
            }
        }
        nr
    }

    /// The free blocks per order of node `node`'s zone of kind `kind` (its
    /// line of `/proc/buddyinfo`).
    pub(crate) fn buddyinfo_zone(&self, node: usize, kind: ZoneKind) -> [usize; NR_ORDERS] {
        self.zones
            .get(zone_index(node, kind))
            .map_or([0; NR_ORDERS], |z| *z.lock().area.nr_free())
    }

    /// Node `node`'s pages: in its chunks, and free in its free areas (all
    /// its zones).
    pub(crate) fn node_pages(&self, node: usize) -> (usize, usize) {
        self.node_zones(node).fold((0, 0), |(t, f), (_, z)| {
            let z = z.lock();
            (t + z.total, f + z.free)
        })
    }

    /// The pages of node `node`'s zone of kind `kind`: in its chunks, and
    /// free in its free areas.
    pub(crate) fn zone_pages(&self, node: usize, kind: ZoneKind) -> (usize, usize) {
        self.zones.get(zone_index(node, kind)).map_or((0, 0), |z| {
            let z = z.lock();
            (z.total, z.free)
        })
    }

    /// Pages free in zone `zi`'s free areas (read without the lock).
    #[inline(always)]
    fn zone_free_pages(&self, zi: usize) -> usize {
        self.zone_free.get(zi).map_or(0, |f| f.load(Relaxed))
    }

    /// Moves the lock-free copy of zone `z`'s free-page count by `+pages`
    /// (`add`) or `-pages`. Under the zone lock.
    fn count_free(&self, z: &Zone<R>, pages: usize, add: bool) {
        let zi = z.chunks.first.wrapping_shr(self.node_bits) as usize;
        if let Some(f) = self.zone_free.get(zi) {
            if add {
                f.add(pages, Relaxed);
            } else {
                f.fetch_sub(pages, Relaxed);
            }
        }
    }

    /// Whether zone `zi` is below its high watermark.
    #[inline(always)]
    fn below_high(&self, zi: usize) -> bool {
        self.zone_free_pages(zi) < self.wmark_high.load(Relaxed)
    }

    /// The slot of `b`'s chunk. Panics on a block of another pool, which
    /// only a logic error can produce (every caller's block came from this
    /// pool); without the check, the slot could be empty.
    fn slot(&self, b: &RawBlock) -> &SlotInfo<R> {
        assert_eq!(b.pool, self.id, "a block of another pool");
        // SAFETY: a block of this pool (checked) names a slot of it.
        unsafe { self.slot_of_own(b) }
    }

    /// The slot of `b`'s chunk, unchecked.
    ///
    /// # Safety
    ///
    /// `b` is a block of this pool.
    #[inline(always)]
    unsafe fn slot_of_own(&self, b: &RawBlock) -> &SlotInfo<R> {
        // SAFETY: a block of this pool names one of its slots (type
        // invariant of `RawBlock`), and the caller says it is this pool's.
        unsafe { self.slots.get_unchecked(Area::slot_of(b.idx) as usize) }
    }

    /// `b`'s first byte, its first `struct page` and its pages' records,
    /// without the check that `b` is this pool's (the fast paths of the page
    /// calls: no panic path).
    ///
    /// # Safety
    ///
    /// `b` is a block of this pool.
    #[inline(always)]
    pub(crate) unsafe fn parts_of_own<'a>(
        &'a self,
        b: &'a RawBlock,
    ) -> (*mut u8, *mut bindings::page, &'a [R]) {
        let off = (b.idx as usize) & (CHUNK_PAGES - 1);
        // SAFETY: the caller's guarantee.
        let s = unsafe { self.slot_of_own(b) };
        let addr = s
            .addr
            .load(Relaxed)
            .wrapping_add(off.wrapping_mul(kernel::page::PAGE_SIZE));
        let page = s.page.load(Relaxed).wrapping_add(off);
        // SAFETY: `b` is a block of this pool, so its chunk is in the pool
        // while `b` is out (type invariants) and the slot's records point to
        // the chunk's array of one record per page; the block's
        // `1 << order` pages from `off` are inside the chunk.
        let records = unsafe {
            core::slice::from_raw_parts(
                s.records.load(Relaxed).add(off),
                1usize.wrapping_shl(b.order),
            )
        };
        (addr, page, records)
    }

    /// The kernel virtual address of `b`'s first page.
    pub(crate) fn addr(&self, b: &RawBlock) -> *mut u8 {
        let off = (b.idx as usize) & (CHUNK_PAGES - 1);
        self.slot(b)
            .addr
            .load(Relaxed)
            .wrapping_add(off * kernel::page::PAGE_SIZE)
    }

    /// The pfn of `b`'s first page.
    #[cfg(rslab_kunit)]
    pub(crate) fn pfn(&self, b: &RawBlock) -> usize {
        self.slot(b).pfn.load(Relaxed) + ((b.idx as usize) & (CHUNK_PAGES - 1))
    }

    /// The record of page `i` of block `b` (panics unless `i < 1 << b.order()`).
    pub(crate) fn record<'a>(&'a self, b: &'a RawBlock, i: usize) -> &'a R {
        &self.records(b)[i]
    }

    /// The records of the pages of `b`, in order.
    #[inline]
    pub(crate) fn records<'a>(&'a self, b: &'a RawBlock) -> &'a [R] {
        assert_eq!(b.pool, self.id, "a block of another pool");
        // SAFETY: a block of this pool (checked).
        unsafe { self.parts_of_own(b) }.2
    }

    /// The record and linear-map address of the pool page whose `struct
    /// page` is `page`, inline (`page_address()` and [`Pool::record_of_addr`]
    /// in one lookup, from the `vmemmap` offset the chunks gave; a page
    /// elsewhere, or before the pool had a chunk, is `None`).
    ///
    /// # Safety
    ///
    /// As for [`Pool::record_of_addr`]: the caller holds (or is freeing) a
    /// block that contains the page, if it is one of the pool's.
    #[inline]
    pub(crate) unsafe fn record_of_page(
        &self,
        page: *const bindings::page,
    ) -> Option<(&R, *mut u8)> {
        let vmemmap = self.vmemmap.load(Relaxed);
        if vmemmap == 0 || vmemmap == usize::MAX {
            return None;
        }
        let pfn = (page as usize).wrapping_sub(vmemmap) / core::mem::size_of::<bindings::page>();
        let r = self.map.lookup(pfn)?;
        // SAFETY: a mapped page's record lives while its chunk is in the
        // pool (type invariant of `PfnMap`), which the caller guarantees.
        let r = unsafe { &*r };
        Some((
            r,
            self.linear.wrapping_add(pfn << bindings::PAGE_SHIFT) as *mut u8,
        ))
    }

    /// The `struct page` of the pool page that holds `addr` (inline, as
    /// [`Pool::record_of_page`]); `None` if `addr` is in none of the pool's
    /// chunks.
    #[inline]
    pub(crate) fn page_of_addr(&self, addr: *const u8) -> Option<*mut bindings::page> {
        let vmemmap = self.vmemmap.load(Relaxed);
        if vmemmap == 0 || vmemmap == usize::MAX {
            return None;
        }
        let pfn = (addr as usize).wrapping_sub(self.linear) >> bindings::PAGE_SHIFT;
        self.map.lookup(pfn)?;
        Some(
            vmemmap.wrapping_add(pfn.wrapping_mul(core::mem::size_of::<bindings::page>()))
                as *mut bindings::page,
        )
    }

    /// The record of the page that holds `addr`, if that page is in one of
    /// the pool's chunks: the pfn map's lookup, O(1) and lock-free (what
    /// `virt_to_slab()` is to the kernel).
    ///
    /// # Safety
    ///
    /// The reference is only valid while the page stays in the pool: the
    /// caller must hold (or be freeing) a block that contains `addr`.
    #[inline(always)]
    pub(crate) unsafe fn record_of_addr(&self, addr: *const u8) -> Option<&R> {
        // `virt_to_pfn()` of a linear-map address, inline. An address
        // outside the linear map gives a pfn that no pool page has (the
        // map is a bijection: only a page's own linear addresses give its
        // pfn), so the map finds nothing for it.
        let pfn = (addr as usize).wrapping_sub(self.linear) >> bindings::PAGE_SHIFT;
        let r = self.map.lookup(pfn)?;
        // SAFETY: a mapped page's record lives while its chunk is in the
        // pool (type invariant of `PfnMap`), which the caller guarantees.
        Some(unsafe { &*r })
    }

    /// Calls `f` on the record of every page of every chunk, one zone at a
    /// time under its lock (so `f` must not allocate from or free to this
    /// pool).
    pub(crate) fn for_each_record(&self, mut f: impl FnMut(&R)) {
        self.for_each_node_record(|_, r| f(r));
    }

    /// [`Pool::for_each_record`] of node `node`'s chunks only.
    pub(crate) fn for_each_record_in(&self, node: usize, mut f: impl FnMut(&R)) {
        for (_, z) in self.node_zones(node) {
            let z = z.lock();
            for c in z.chunks.table.iter().flatten() {
                c.records.iter().for_each(&mut f);
            }
        }
    }

    /// [`Pool::for_each_record`], with each page's node: `f(node, record)`.
    pub(crate) fn for_each_node_record(&self, mut f: impl FnMut(usize, &R)) {
        for (zi, z) in self.zones.iter().enumerate() {
            let z = z.lock();
            for c in z.chunks.table.iter().flatten() {
                c.records.iter().for_each(|r| f(zi >> ZT_BITS, r));
            }
        }
    }

    /// Under the zone lock: allocates from the free areas.
    fn zone_alloc(&self, z: &mut Zone<R>, order: u32) -> Option<u32> {
        let Zone { area, chunks, .. } = z;
        let (idx, taken) = area.alloc(chunks, order)?;
        z.free -= 1 << order;
        self.count_free(z, 1 << order, false);
        if taken > order {
            self.stats
                .add(Stat::Split as usize, u64::from(taken - order));
        }
        Some(idx)
    }

    /// [`Pool::zone_alloc`] of a block for a user (not for a per-CPU
    /// list): counted in the zone's `user_pages`.
    fn zone_alloc_user(&self, z: &mut Zone<R>, order: u32) -> Option<u32> {
        let idx = self.zone_alloc(z, order)?;
        z.user_pages += 1 << order;
        Some(idx)
    }

    /// Under the zone lock: frees `idx` to the free areas, and takes its
    /// chunk off if that made it wholly free and the pool keeps more than
    /// its high watermark without it. A block that is not an allocated block
    /// of this order (which safe code cannot produce) is reported and left
    /// alone.
    /// Returns whether it freed the block.
    fn zone_free(&self, z: &mut Zone<R>, idx: u32, order: u32, out: &mut Released<R>) -> bool {
        if !z.chunks.is_allocated_head(idx, order) {
            pr_err!("pool: bad free of page index {idx} order {order}: not an allocated block\n");
            return false;
        }
        let Zone { area, chunks, .. } = z;
        let merges = area.free(chunks, idx, order);
        z.free += 1 << order;
        self.count_free(z, 1 << order, true);
        if merges > 0 {
            self.stats.add(Stat::Merge as usize, u64::from(merges));
        }
        let slot = Area::slot_of(idx);
        if Some(order + merges) == z.chunks.order_of(slot) {
            let keep = self.wmark_high.load(Relaxed);
            self.take_free_chunk(z, slot, keep, out);
        }
        true
    }

    fn block(&self, idx: u32, order: u32) -> RawBlock {
        // INVARIANT: `idx` was just allocated, as a block of `order`, from
        // this pool.
        RawBlock {
            idx,
            order,
            pool: self.id,
        }
    }

    /// One allocation attempt on zone `zi`, without growing: through this
    /// CPU's lists if it is the CPU's node's normal zone, else from the
    /// zone's free areas.
    fn try_alloc(&self, order: u32, zi: usize) -> Option<RawBlock> {
        let zone = self.zones.get(zi)?;
        let mut out = Released::new();
        let idx = {
            let irq = local_interrupt_disable();
            let cpu = cpu::current();
            let listed = if zone_index(self.cpu_node(cpu), ZoneKind::Normal) == zi {
                self.pcp_alloc(&irq, order, &mut out)
            } else {
                None
            };
            match listed {
                Some(r) => r,
                None => {
                    self.stats.add_on(cpu, Stat::AllocSlowpath as usize, 1);
                    self.zone_alloc_user(&mut zone.lock(), order)
                }
            }
        };
        self.release(out);
        idx.map(|idx| self.block(idx, order))
    }

    /// `alloc_pages_nolock()` without growing, with interrupts off: a block
    /// of node `nid`'s normal zone that needs no waiting for a lock, from
    /// this CPU's list
    /// (if `nid` is its node) or from the zone's free areas, each lock only
    /// tried. `None` if both are empty or their locks are held (by another
    /// CPU, or by the code this interrupt or NMI interrupted). Never spins,
    /// never sleeps, never calls the kernel's allocator: any context.
    /// Zeroed as [`Pool::alloc`] zeroes for `gfp`.
    pub(crate) fn alloc_nolock(
        &self,
        irq: &IrqsSaved,
        order: u32,
        gfp: Gfp,
        nid: usize,
    ) -> Option<RawBlock> {
        if order > MAX_ORDER || nid >= self.nr_nodes() {
            return None;
        }
        let zi = zone_index(nid, ZoneKind::Normal);
        let idx = match self.pcp_alloc_fast_in(order, Some(zi)) {
            Some(idx) => Some(idx),
            None => {
                // Tried under `irq`, as NMI context allows
                // (`SpinLockIrq::try_lock()` counts interrupt disabling per
                // CPU, and warns there).
                let mut z = self.zones.get(zi)?.try_lock_with(irq.disabled())?;
                self.zone_alloc_user(&mut z, order)
            }
        };
        let b = self.block(idx?, order);
        if !self.init_free && (self.init_alloc || gfp.zero()) {
            self.init_block(&b);
        }
        Some(b)
    }

    /// Allocates a block of `1 << order` pages, of the zone `gfp` asks for
    /// (`gfp_zone()`), zeroed as the page allocator zeroes
    /// ([`Pool::init_block`]). Grows the pool from the kernel when it is
    /// below its low watermark or cannot serve the request; sleeps only if
    /// `gfp` allows it. `None` when the kernel cannot give memory either, or
    /// `order > MAX_PAGE_ORDER`; the pool is unchanged then. Out of line;
    /// the fast path inside (this CPU's list) makes no call.
    #[inline(never)]
    pub(crate) fn alloc(&self, order: u32, gfp: Gfp) -> Option<RawBlock> {
        if gfp.bits() & self.slow_mask == 0 {
            if let Some(idx) = self.pcp_alloc_fast(order) {
                return Some(self.block(idx, order));
            }
        }
        self.alloc_slow(order, gfp, None)
    }

    /// [`Pool::alloc`] of a block of node `nid` (`alloc_pages_node()`):
    /// from that node if it can, else from the others, nearest first
    /// (counted as `numa_miss`); `None` (the default) is the CPU's node.
    /// `None` also for a node number at or past `nr_node_ids`.
    pub(crate) fn alloc_node(&self, order: u32, gfp: Gfp, nid: Option<usize>) -> Option<RawBlock> {
        match nid {
            None => self.alloc(order, gfp),
            Some(n) if n >= self.nr_nodes() => {
                self.stats.add(Stat::AllocFail as usize, 1);
                None
            }
            Some(n) => self.alloc_slow(order, gfp, Some(n)),
        }
    }

    /// `alloc_pages_bulk()`: up to `n` order-0 blocks of the CPU's node,
    /// each zeroed as [`Pool::alloc`] zeroes and passed to `f`, taken off
    /// this CPU's list (refilled in batches) under one take of its lock per
    /// 32 blocks. When the list cannot serve (the zone below its low
    /// watermark, or the list's lock held by the task this interrupt
    /// interrupted) one block is taken the usual way, which grows the pool,
    /// and the list is tried once more for the rest. Another zone than the
    /// normal one (the lists hold only that) is served block by block.
    /// Returns how many `f` got: fewer than `n` only when memory ran short.
    pub(crate) fn alloc_bulk(&self, gfp: Gfp, n: usize, mut f: impl FnMut(RawBlock)) -> usize {
        const STEP: usize = 32;
        let zero = !self.init_free && (self.init_alloc || gfp.zero());
        let listed = ZoneKind::of(gfp) == ZoneKind::Normal;
        let mut done = 0;
        let mut single = false;
        loop {
            while listed && done < n {
                let mut got: [Option<RawBlock>; STEP] = Default::default();
                let want = (n - done).min(STEP);
                let k = self.pcp_alloc_bulk(&mut got[..want]);
                for b in got.into_iter().flatten() {
                    if zero {
                        self.init_block(&b);
                    }
                    f(b);
                }
                done += k;
                if k < want {
                    break;
                }
            }
            if done == n || single {
                return done;
            }
            single = listed;
            let Some(b) = self.alloc(0, gfp) else {
                return done;
            };
            f(b);
            done += 1;
        }
    }

    /// Zeroes the pages of `b` (`kernel_init_pages()`).
    #[inline(never)]
    fn init_block(&self, b: &RawBlock) {
        // SAFETY: `b` is a block of this pool (checked by `addr`) that the
        // caller holds (it was just allocated, or is being freed): its
        // pages are the caller's.
        unsafe {
            core::ptr::write_bytes(self.addr(b), 0, kernel::page::PAGE_SIZE << b.order);
        }
    }

    /// Splits `b` (of order `k`) into its first page, an order-0 block, and
    /// the blocks of each order below `k` that make up the rest, all still
    /// allocated, for their holder to free one by one: what `__free_pages()`
    /// does to a non-compound block whose first page still has references.
    /// Returns the first page's block and calls `tail` on each other one.
    /// A block of another pool comes back whole (and `tail` is not called).
    pub(crate) fn split(&self, b: RawBlock, mut tail: impl FnMut(RawBlock)) -> RawBlock {
        if b.pool != self.id || b.order == 0 {
            return b;
        }
        let Some(zone) = self.zones.get(self.zone_of_idx(b.idx)) else {
            return b;
        };
        let mut parts = [(0, 0); NR_ORDERS];
        let mut n = 0;
        {
            let mut z = zone.lock();
            let Some(split) = Area::split(&mut z.chunks, b.idx, b.order) else {
                return b;
            };
            for (part, slot) in split.zip(parts.iter_mut()) {
                *slot = part;
                n += 1;
            }
        }
        for &(idx, order) in &parts[..n] {
            tail(self.block(idx, order));
        }
        self.block(b.idx, 0)
    }

    /// [`Pool::alloc`] past its fast path, for node `want` (or the CPU's):
    /// [`Pool::alloc_from_zones`], zeroed as [`Pool::alloc`] says.
    #[inline(never)]
    fn alloc_slow(&self, order: u32, gfp: Gfp, want: Option<usize>) -> Option<RawBlock> {
        let b = self.alloc_from_zones(order, gfp, want)?;
        if !self.init_free && (self.init_alloc || gfp.zero()) {
            self.init_block(&b);
        }
        Some(b)
    }

    /// A block of the zone `gfp` asks for, of node `want` (or the CPU's),
    /// else of another node's such zone, nearest first.
    fn alloc_from_zones(&self, order: u32, gfp: Gfp, want: Option<usize>) -> Option<RawBlock> {
        if order > MAX_ORDER {
            self.stats.add(Stat::AllocFail as usize, 1);
            return None;
        }
        let kind = ZoneKind::of(gfp);
        let node = want.unwrap_or_else(|| self.local_node());
        let zi = zone_index(node, kind);
        if self.zone_free_pages(zi) < self.wmark_low.load(Relaxed) {
            self.grow(zi, order, gfp, false);
        }
        // A chunk grown for this request serves it before anyone else (the
        // shrinker, another allocation) can take it: an allocation fails
        // only when the kernel could not give memory.
        let grown = |zi: usize| {
            self.grow(zi, order, gfp, true)
                .map(|idx| self.block(idx, order))
        };
        let mut b = self.try_alloc(order, zi).or_else(|| grown(zi));
        // `__GFP_THISNODE` for a given node: no fallback.
        if b.is_none() && !(want.is_some() && gfp.this_node()) {
            // The zonelist fallback: the same zone of the other nodes, their
            // free areas nearest first, then growing them.
            let (others, n) = numa::fallback_nodes(node);
            let others = &others[..n];
            b = others
                .iter()
                .find_map(|&o| self.try_alloc(order, zone_index(o as usize, kind)))
                .or_else(|| {
                    others
                        .iter()
                        .find_map(|&o| grown(zone_index(o as usize, kind)))
                });
            if b.is_some() {
                self.stats.add(Stat::NumaMiss as usize, 1);
            }
        }
        if b.is_none() {
            self.stats.add(Stat::AllocFail as usize, 1);
        }
        b
    }

    /// Frees a block from [`Pool::alloc`] (zeroing it under
    /// `init_on_free`). A block of another pool is reported and not freed
    /// (it stays allocated in its own pool). Out of line; the fast path
    /// inside makes no call.
    #[inline(never)]
    pub(crate) fn free(&self, b: RawBlock) {
        if b.pool == self.fast_id && self.pcp_free_fast(b.idx, b.order) {
            return;
        }
        self.free_slow(b)
    }

    /// [`Pool::free`] past its fast path (and every free under
    /// `init_on_free`, zeroed here).
    #[inline(never)]
    fn free_slow(&self, b: RawBlock) {
        if b.pool != self.id {
            pr_err!(
                "pool: bad free of a block of pool {} to pool {}\n",
                b.pool,
                self.id
            );
            return;
        }
        if self.init_free {
            self.init_block(&b);
            if self.pcp_free_fast(b.idx, b.order) {
                return;
            }
        }
        let Some(zone) = self.zones.get(self.zone_of_idx(b.idx)) else {
            pr_err!("pool: bad free of page index {}: no such zone\n", b.idx);
            return;
        };
        let mut out = Released::new();
        {
            let irq = local_interrupt_disable();
            // A block of another zone goes back to its zone's free areas
            // (`pcp_free` takes only the CPU's own node's normal zone's).
            if !self.pcp_free(&irq, b.idx, b.order, &mut out) {
                let mut z = zone.lock();
                if self.zone_free(&mut z, b.idx, b.order, &mut out) {
                    z.user_pages -= 1 << b.order;
                }
                drop(z);
                self.decay.arm_idle(|| self.decay_activity());
            }
        }
        self.release(out);
    }

    /// Shrinks the pool: drains every CPU's lists, then gives back wholly
    /// free chunks while at least `keep` pages stay free. Returns the pages
    /// given back.
    /// (`keep` is per node: each node keeps that many free.)
    pub(crate) fn shrink(&self, keep: usize) -> usize {
        (0..self.nr_nodes())
            .map(|n| self.shrink_node(n, keep))
            .sum()
    }

    /// [`Pool::shrink`] of node `node` only: drains the lists of its CPUs
    /// and gives back its wholly free chunks while it keeps `keep` pages
    /// free.
    /// (`keep` is per zone: each of the node's zones keeps that many.)
    pub(crate) fn shrink_node(&self, node: usize, keep: usize) -> usize {
        for c in (0..cpu::nr_cpu_ids()).filter(|&c| self.cpu_node(c) == node) {
            self.drain_cpu(c);
        }
        let mut given = 0;
        for (_, zone) in self.node_zones(node) {
            loop {
                let mut out = Released::new();
                {
                    let mut z = zone.lock();
                    let first = z.chunks.first_slot();
                    for slot in first..first + z.chunks.nr_slots() {
                        self.take_free_chunk(&mut z, slot, keep, &mut out);
                    }
                }
                if out.is_empty() {
                    break;
                }
                given += self.release(out);
            }
        }
        given
    }
}

#[pinned_drop]
impl<R: PageRecord> PinnedDrop for Pool<R> {
    fn drop(self: Pin<&mut Self>) {
        // No decay pass may run on a pool being torn down.
        self.decay.stop();
        // Every wholly free chunk goes back to the kernel...
        self.shrink(0);
        // ...so what is left has pages in use: never free those.
        let mut leaked = 0usize;
        for zone in self.zones.iter() {
            let mut z = zone.lock();
            let first = z.chunks.first_slot();
            for slot in first..first + z.chunks.nr_slots() {
                let Some(order) = z.chunks.order_of(slot) else {
                    continue;
                };
                let pfn = self.slots[slot as usize].pfn.load(Relaxed);
                pr_err!("pool: chunk at pfn {pfn:#x} (order {order}) still in use at destroy; leaving it allocated\n");
                leaked += 1 << order;
                self.map.unmap(pfn, 1 << order);
                // Drops the metadata only: a `Chunk` does not free its pages.
                drop(z.chunks.take(slot));
            }
        }
        if leaked > 0 {
            pr_err!("pool: destroyed with {leaked} pages in chunks still in use\n");
        }
        // Compound blocks still out stay their users' (the kernel's pages).
        let compound = self.compound_pages();
        if compound > 0 {
            pr_err!("pool: destroyed with {compound} pages of compound blocks still in use\n");
        }
    }
}

impl<R: PageRecord> crate::glue::cpuhp::CpuDead for Pool<R> {
    /// # Safety
    ///
    /// As for [`crate::glue::cpuhp::CpuDead::cpu_dead`].
    unsafe fn cpu_dead(&self, cpu: usize) {
        self.drain_cpu(cpu);
    }
}

// SAFETY: `decay` is made by `Decay::new::<Self>` at `DECAY_OFFSET` and
// stopped first thing in `Pool`'s drop.
unsafe impl<R: PageRecord> Decays for Pool<R> {
    const DECAY_OFFSET: usize = core::mem::offset_of!(Pool<R>, decay);

    /// Allocations, fast and slow. Frees are not use here: pages freed to
    /// an idle pool (its user's own decay pass giving back what it kept)
    /// are what the pool's pass gives back, without waiting a period more.
    fn decay_activity(&self) -> u64 {
        self.stats
            .sum_of([Stat::AllocFastpath as usize, Stat::AllocSlowpath as usize])
    }

    /// Drains every CPU's lists and gives back wholly free chunks while
    /// each zone keeps its low watermark free: pages given back.
    fn decay_give_back(&self) -> usize {
        self.shrink(self.wmark_low.load(Relaxed))
    }

    fn decay_state(&self) -> &Decay {
        &self.decay
    }
}

/// NUMA-aware (`SHRINKER_NUMA_AWARE`): reclaim on a node shrinks that
/// node's zone and the lists of its CPUs.
impl<R: PageRecord> crate::glue::shrinker::Shrink for Pool<R> {
    fn count(&self, nid: usize) -> usize {
        let pcp: usize = (0..cpu::nr_cpu_ids())
            .filter(|&c| self.cpu_node(c) == nid)
            .filter_map(|c| self.pcp_info(c))
            .map(|i| i.count as usize)
            .sum();
        (self.node_pages(nid).1 + pcp).saturating_sub(self.wmark_min.load(Relaxed))
    }

    fn scan(&self, nid: usize, _nr: usize) -> Option<usize> {
        Some(self.shrink_node(nid, self.wmark_min.load(Relaxed)))
    }
}
