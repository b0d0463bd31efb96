// SPDX-License-Identifier: GPL-2.0
//! Slab caches mirroring SLUB as mm/slub.c of 6.1 has it (before 7.x's
//! sheaves): a per-CPU slab with a lockless freelist and transaction id,
//! per-CPU partial slabs, a node partial list under `list_lock`, frozen
//! slabs, and the fast and slow paths between them. Slab pages come from
//! the rslab page pool; a slab's `struct slab` is the pool's per-page
//! record ([`SlabPage`]), found from any object address through the pool's
//! pfn map in O(1).
//!
//! The geometry (`calculate_sizes`, `calculate_order`), the freelist
//! encoding and randomisation and the decisions of `__slab_free()` and
//! `deactivate_slab()` are pure logic in [`crate::logic::slab`], tested on
//! the host. The kernel side is split as SLUB's concepts are:
//!
//! - [`page`]: the per-page record (`struct slab`) and what owns a page;
//! - [`freelist`]: free pointers, hardened (`freelist_ptr()`);
//! - [`fastpath`]: `slab_alloc_node()` and `do_slab_free()`;
//! - [`slowpath`]: `___slab_alloc()`, `__slab_free()`, `deactivate_slab()`,
//!   the CPU partial list, new and discarded slabs;
//! - [`node`]: the node partial list (`kmem_cache_node`);
//! - [`bulk`]: `kmem_cache_alloc_bulk()` and `kmem_cache_free_bulk()`;
//! - [`sheaves`]: the 7.x per-CPU sheaves and barn, a mode selected per
//!   cache at create, in front of the slabs;
//! - [`teardown`]: flush, shrink, destroy and validate;
//! - [`typed`]: [`TypedCache`], owned objects of a Rust type.
//!
//! # Lock order and context
//!
//! In the style of mm/slub.c's opening comment: every lock an allocator
//! path or an administrative call takes, outermost first. A lock is only
//! ever taken with locks of smaller numbers held (or none).
//!
//! 1. The cache registry's mutex (SLUB's `slab_mutex`, `src/registry.rs`): held
//!    while a cache is created, attached or destroyed. It sleeps. Inside it
//!    run the hotplug instance add and remove (2) and a destroy's flush
//!    (2, 3).
//! 2. `cpu_hotplug_lock` (kernel): taken for reading by [`Cache::flush_all`]
//!    around its per-CPU work and by the hotplug instance add/remove (which
//!    takes the kernel's `cpuhp_state_mutex` inside it); held for writing
//!    by the hotplug core while [`Cache::cpu_dead`] flushes a dead CPU's
//!    slabs. No hotplug callback takes 1, so 1 → 2 has no inverse.
//! 3. The flush work (rslab's `WQ_MEM_RECLAIM` flush workqueue, 6.1's
//!    `flushwq`): [`Cache::flush_all`] queues a work item on each online CPU
//!    and waits for it with 2 (and maybe 1) held. The work item takes 4 and
//!    what nests in it, never 1 or 2.
//! 4. *Local interrupt disabling* on a CPU (6.1's `cpu_slab->lock`, a
//!    `local_lock_irqsave`; 7.3's `s->cpu_sheaves->lock`): protects that
//!    CPU's `kmem_cache_cpu` ([`CpuSlab`]: its slab, its partial list,
//!    plain stores to its `(freelist, tid)`) and its sheaves. Every slow
//!    path runs in it, on the CPU it uses. The classic fast paths do not
//!    take it: they commit with a CPU-local double-word compare-exchange of
//!    `(freelist, tid)`, which fails if an interrupt ran an allocator path
//!    in between (it always advances `tid`); the sheaves fast paths do (one
//!    inline instruction each way).
//! 5. The barn's lock of a node (`node_barn->lock`, a `SpinLockIrq`): taken
//!    in 4 to trade sheaves. Nothing of rslab's nests inside it (a new
//!    sheaf comes from the kernel's kmalloc with `GFP_NOWAIT`); objects of
//!    a sheaf taken off the barn go back to the slabs after it is dropped,
//!    so 5 and 6 are never held together.
//! 6. `list_lock` of the node (`kmem_cache_node`, a `SpinLockIrq`):
//!    protects the node partial list and `nr_partial`, and the `next`/
//!    `prev` links of the slabs on it. Taken inside 4 where 4 is held.
//! 7. The slab's `(freelist, counters)` ([`DWord`]): changed only by a
//!    global double-word compare-exchange (`cmpxchg_double_slab()`; on
//!    riscv64 a bit lock with interrupts off, SLUB's `slab_lock()`), inside
//!    6 when the slab's list membership changes with it.
//! 8. The page pool's per-CPU list lock (`per_cpu_pages.lock`, an inline
//!    test-and-set word taken with interrupts off; see `src/page_pool.rs`),
//!    then
//! 9. the pool's zone lock (`zone->lock`, a `SpinLockIrq`). 8 and 9 are
//!    taken when a slab is allocated or discarded: a slab is allocated with
//!    none of 4–7 held and interrupts on (the pool may sleep for
//!    `GFP_KERNEL`); a slab is discarded after it was taken off every list,
//!    outside 6, except in [`Cache::validate`], which walks the pool's
//!    records under 9 while holding 6 and frees nothing then. The pool
//!    never calls back into this layer, so 6 → 9 has no inverse.
//!
//! Frozen slabs belong to one CPU (its CPU slab or on its partial list):
//! only that CPU takes objects from them; other CPUs only push frees onto
//! the slab's freelist through 7. Unfrozen slabs are on the node list (or on
//! no list when full) and change under 6 + 7.
//!
//! Contexts: allocation and free may run in any context, interrupts
//! included, and sleep only for a new slab with a `gfp` that allows it.
//! Flushes (shrink, destroy, validate) run on each CPU in a per-CPU worker
//! of rslab's `WQ_MEM_RECLAIM` flush workqueue (process context, with CPU
//! hotplug held off by `cpus_read_lock()`) with interrupts off there, as
//! 6.1's `flush_all()` queues `flush_cpu_slab()` work on `flushwq` (not an
//! IPI: in hard interrupt context a
//! `spinlock_t` such as `list_lock` may not be taken; lockdep says "invalid
//! wait context"), or, for a dead CPU, in the hotplug teardown; the flush
//! itself takes 4 to 9 (5 only to empty the barn, before the per-CPU work),
//! never sleeps and never allocates.
//!
//! [`DWord`]: crate::glue::dword::DWord

pub(crate) mod allocinfo;
mod bulk;
mod debug;
mod fastpath;
mod freelist;
mod init;
mod node;
mod nolock;
mod page;
mod sheaves;
mod slowpath;
mod teardown;
#[cfg(rslab_kunit)]
mod typed;

pub(crate) use debug::{Track, TrackItem};
pub(crate) use page::{Owner, SlabPage};
pub(crate) use sheaves::PrefilledSheaf;
#[cfg(rslab_kunit)]
pub(crate) use teardown::{Census, Leaked};
pub(crate) use teardown::{NodeCount, SlabError};
#[cfg(rslab_kunit)]
pub(crate) use typed::TypedCache;

use crate::{
    glue::{
        atomic::{Atomic, Relaxed},
        cpu,
        decay::Decay,
        dword::DWord,
        gfp, kmemleak, mm,
        percpu::PerCpu,
        stats::Stats,
    },
    logic::{
        rand::XorShift64,
        slab::{
            debugopt::SlubDebug,
            init::InitPolicy,
            layout::{self, Layout, Machine},
            name::{Name, NAME_LEN},
        },
    },
    page_pool::Pool,
};
use kernel::{bindings, prelude::*, str::BStr, sync::Arc};
use node::CacheNode;

/// The page pool slabs come from: it keeps a [`SlabPage`] per page.
pub(crate) type SlabPool = Pool<SlabPage>;

/// SLUB's `enum stat_item` (6.1), in its order, then the sheaves mode's
/// counters of 7.3's `enum stat_item`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
#[allow(missing_docs)]
pub(crate) enum SlabStat {
    AllocFastpath,
    AllocSlowpath,
    FreeFastpath,
    FreeSlowpath,
    FreeFrozen,
    FreeAddPartial,
    FreeRemovePartial,
    AllocFromPartial,
    AllocSlab,
    AllocRefill,
    AllocNodeMismatch,
    FreeSlab,
    CpuslabFlush,
    DeactivateFull,
    DeactivateEmpty,
    DeactivateToHead,
    DeactivateToTail,
    DeactivateRemoteFrees,
    DeactivateBypass,
    OrderFallback,
    CmpxchgDoubleCpuFail,
    CmpxchgDoubleFail,
    CpuPartialAlloc,
    CpuPartialFree,
    CpuPartialNode,
    CpuPartialDrain,
    // The sheaves mode's, as 7.3 names them.
    SheafFlush,
    SheafRefill,
    SheafAlloc,
    SheafFree,
    BarnGet,
    BarnGetFail,
    BarnPut,
    BarnPutFail,
    // 7.3's prefilled sheaves (`kmem_cache_prefill_sheaf()` and its return).
    SheafPrefillFast,
    SheafPrefillSlow,
    SheafPrefillOversize,
    SheafReturnFast,
    SheafReturnSlow,
    // rslab's adaptive sheaf capacity (`sheafcap`): a CPU's capacity grown,
    // a growth the budget refused, a grown CPU put back by a flush.
    SheafGrow,
    SheafGrowFail,
    SheafShrink,
}

/// The number of [`SlabStat`] counters.
pub(crate) const NR_SLAB_STATS: usize = SlabStat::SheafShrink as usize + 1;

/// A constructor: runs on every object of a new slab (the C ABI, so that
/// other modules' constructors can be used, as `kmem_cache_create()`'s).
///
/// It is called with a pointer to a whole object of the cache's
/// `object_size` bytes, from any context the cache allocates in.
pub(crate) type Ctor = unsafe extern "C" fn(*mut core::ffi::c_void);

/// What a cache is made from.
#[derive(Clone, Copy)]
pub(crate) struct CacheConfig<'a> {
    /// Its name (see [`Name::new`]).
    pub(crate) name: &'a str,
    /// Object size in bytes.
    pub(crate) size: u32,
    /// Requested alignment (0: the minimum; else a power of two).
    pub(crate) align: u32,
    /// `SLAB_*` flags: [`layout::SLAB_HWCACHE_ALIGN`],
    /// [`layout::SLAB_TYPESAFE_BY_RCU`] (slabs go back to the pool only
    /// after an RCU grace period, so a freed object stays an object of this
    /// cache for RCU readers), [`layout::SLAB_CACHE_DMA`] and
    /// [`layout::SLAB_CACHE_DMA32`] (slabs of `ZONE_DMA`/`ZONE_DMA32`
    /// pages), [`layout::SLAB_RECLAIM_ACCOUNT`] and
    /// [`layout::SLAB_NOLEAKTRACE`] (recorded), the debug flags and
    /// [`layout::SLAB_KMALLOC`].
    pub(crate) flags: u32,
    /// A constructor, if any.
    pub(crate) ctor: Option<Ctor>,
    /// Free pointers stored XOR-ed with a per-cache secret and their address
    /// (`CONFIG_SLAB_FREELIST_HARDENED`; by default as the kernel is
    /// configured, as SLUB's).
    pub(crate) harden: bool,
    /// New slabs get a shuffled freelist (`CONFIG_SLAB_FREELIST_RANDOM`; by
    /// default as the kernel is configured, as SLUB's).
    pub(crate) randomize: bool,
    /// Per-CPU sheaves in front of the slabs (7.x's design), see
    /// [`sheaves`]; the classic per-CPU slab serves alone otherwise. Debug
    /// caches have none (as in 7.3).
    pub(crate) sheaves: bool,
    /// The `slub_debug=` parameter (`kmem_cache_flags()`): the flags it
    /// gives this cache's name are added to `flags`.
    pub(crate) slub_debug: SlubDebug<'a>,
    /// `SLAB_NO_USER_FLAGS`: `slub_debug` does not apply.
    pub(crate) no_user_flags: bool,
    /// With `sheaves`, the fewest objects per sheaf (7.3's
    /// `kmem_cache_args.sheaf_capacity`: `calculate_sheaf_capacity()`'s by
    /// size, or this if more).
    pub(crate) sheaf_capacity: u32,
    /// A free pointer offset inside the object, for an RCU or constructor
    /// cache (`freeptr_offset` with `use_freeptr_offset`).
    pub(crate) freeptr_offset: Option<u32>,
    /// The part of an object that may be copied to or from user space
    /// (`useroffset`, `usersize`), recorded; 0 and 0 for none.
    pub(crate) useroffset: u32,
    /// See `useroffset`.
    pub(crate) usersize: u32,
    /// Its objects are counted per call site ([`allocinfo`]), whatever
    /// `allocinfo=` says (which makes every cache count).
    pub(crate) allocinfo: bool,
}

impl<'a> CacheConfig<'a> {
    /// A cache of `size`-byte objects with the defaults (hardened and
    /// randomised as the kernel's SLUB is, word-aligned, no ctor).
    pub(crate) const fn new(name: &'a str, size: u32) -> Self {
        CacheConfig {
            name,
            size,
            align: 0,
            flags: 0,
            ctor: None,
            harden: cfg!(CONFIG_SLAB_FREELIST_HARDENED),
            randomize: cfg!(CONFIG_SLAB_FREELIST_RANDOM),
            sheaves: false,
            slub_debug: SlubDebug::NONE,
            no_user_flags: false,
            sheaf_capacity: 0,
            freeptr_offset: None,
            useroffset: 0,
            usersize: 0,
            allocinfo: false,
        }
    }
}

/// The largest `sheaf_capacity` a cache may ask for (a sheaf's array then
/// takes 8 KiB, kmalloc's largest class).
pub(crate) const MAX_SHEAF_CAPACITY: u32 = 1024;

/// Flags a cache may be made with.
const ACCEPTED_FLAGS: u32 = layout::SLAB_HWCACHE_ALIGN
    | layout::SLAB_RECLAIM_ACCOUNT
    | layout::SLAB_CACHE_DMA
    | layout::SLAB_CACHE_DMA32
    | layout::SLAB_NOLEAKTRACE
    | layout::SLAB_TYPESAFE_BY_RCU
    | layout::SLAB_KMALLOC
    | layout::SLAB_DEBUG_FLAGS;

/// `struct kmem_cache_cpu`, in per-CPU memory (on a cache line of its own).
///
/// # Invariants
///
/// `pair` is `(freelist, tid)`; only CPU `cpu` writes `pair`, `slab`,
/// `node` and `partial` (or another CPU once `cpu` is dead), as the lock
/// order above describes. `tid % tid_step == cpu`. `slab` is null or this
/// cache's frozen CPU slab, and then `node` is its node (`slab_nid()`, kept
/// here so that the fast path's `node_match()` reads per-CPU memory only);
/// every change of `slab` is followed by a new tid in the same
/// interrupts-off section. `partial` is null or the first of this cache's
/// frozen slabs on the CPU's partial list (linked through [`SlabPage`]'s
/// `next`).
#[repr(C, align(64))]
struct CpuSlab {
    pair: DWord,
    slab: Atomic<*mut SlabPage>,
    node: Atomic<usize>,
    partial: Atomic<*mut SlabPage>,
}

impl CpuSlab {
    /// Makes `s` (or none) the CPU slab, with its node. The caller gives
    /// the CPU a new tid before interrupts go back on.
    ///
    /// # Safety
    ///
    /// This is the running CPU's `CpuSlab`, with interrupts off (or a dead
    /// CPU's, or one of a cache nobody else reaches any more, in a flush),
    /// and the CPU slab it names, if any, was taken off it by the caller.
    /// `s`, if any, is a frozen slab of this `CpuSlab`'s cache that the
    /// caller took for the CPU (off its partial list, a node list, or new)
    /// and gives to it: no other CPU and no list names it.
    unsafe fn set_slab(&self, s: Option<&SlabPage>) {
        match s {
            Some(s) => {
                // INVARIANT: `node` is written with `slab`, under the same
                // interrupts-off section and tid change.
                self.node.store(s.node(), Relaxed);
                self.slab.store(s.as_link(), Relaxed);
            }
            None => self.slab.store(core::ptr::null_mut(), Relaxed),
        }
    }
}

// SAFETY: the pointers name slab records, which are `Sync`; they are only
// written by their CPU as described above.
unsafe impl Send for CpuSlab {}
// SAFETY: as above; every field is atomic.
unsafe impl Sync for CpuSlab {}

/// A cache's slab and object counts (`slabs`, `total_objects`, `partial`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CacheCounts {
    /// Slabs of the cache.
    pub(crate) slabs: usize,
    /// Objects in them.
    pub(crate) objects: usize,
    /// Slabs on the node partial list.
    pub(crate) partial: u32,
}

/// One CPU's slabs of a cache (for `cpu_slabs` and `slabs_cpu_partial`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CpuSlabInfo {
    /// Whether it has a CPU slab.
    pub(crate) has_slab: bool,
    /// Slabs on its partial list (an estimate while the CPU runs).
    pub(crate) partial_slabs: u32,
}

/// A slab cache (`struct kmem_cache`).
///
/// # Invariants
///
/// - `cpus[c]` is CPU `c`'s [`CpuSlab`]; every slab it names is frozen and
///   belongs to this cache.
/// - `nodes[n]` is node `n`'s `kmem_cache_node`: its partial list holds
///   slabs of node `n` only, and its `nr_slabs`/`total_objects` count the
///   cache's slabs of that node and their objects.
/// - Every object address this cache hands out lies in one of its slabs,
///   at `base + k * layout.size`.
/// - `free_sheaves` is null if `init.free_hook` (`init_on_free`, kmemleak)
///   or without sheaves, else the address of the `Sheaves` that `sheaves`
///   holds.
#[pin_data(PinnedDrop)]
pub(crate) struct Cache {
    name: Name,
    layout: Layout,
    flags: u32,
    ctor: Option<Ctor>,
    harden: bool,
    /// A free checks that the object starts a slot of its slab (SLUB's
    /// `cache_from_obj()` under `CONFIG_SLAB_FREELIST_HARDENED`, and its
    /// consistency checks): `harden`, or a debug cache.
    check_slot: bool,
    random: usize,
    seq: KVec<u32>,
    pool: Arc<SlabPool>,
    cpus: PerCpu<CpuSlab>,
    /// `obj_to_index()`'s reciprocal of `layout.size`.
    recip: u64,
    nodes: KVec<Pin<KBox<CacheNode>>>,
    /// SLUB's `remote_node_defrag_ratio` (0..=1000): how often (in 1024)
    /// an allocation takes partial slabs of other nodes before a new slab.
    remote_node_defrag_ratio: Atomic<u32>,
    min_partial: Atomic<u32>,
    cpu_partial: Atomic<u32>,
    cpu_partial_slabs: Atomic<u32>,
    stats: Stats<NR_SLAB_STATS>,
    /// The sheaves, in the sheaves mode.
    sheaves: Option<Pin<KBox<sheaves::Sheaves>>>,
    /// Errors reported on this cache (bad and double frees).
    errors: Atomic<u64>,
    /// `SLAB_TYPESAFE_BY_RCU` slabs waiting for their grace period.
    rcu_pending: Atomic<usize>,
    tid_step: usize,
    /// When objects are zeroed, and whether kmemleak tracks them (see
    /// [`init`]).
    init: InitPolicy,
    /// The sheaves a single free goes to directly (see
    /// [`Cache::free_checked`]): none under `init_on_free` or kmemleak.
    free_sheaves: Atomic<*mut sheaves::Sheaves>,
    /// `allocflags`: the zone of the cache's slabs (`__GFP_DMA`,
    /// `__GFP_DMA32` or none).
    allocflags: bindings::gfp_t,
    /// `useroffset` and `usersize`: the user-copyable part of an object.
    usercopy: (u32, u32),
    /// Time-based decay: what the cache keeps free goes back to the pool
    /// after an idle period (see [`teardown`]'s `Decays`).
    #[pin]
    decay: Decay,
}

/// The decay period new caches get (the `decay_ms=` parameter).
static DEFAULT_DECAY_MS: Atomic<u32> = Atomic::new(0);

/// Sets the decay period of caches made from now on (ms, 0: off; bounded
/// by [`crate::logic::decay::MAX_DECAY_MS`]).
pub(crate) fn set_default_decay_ms(ms: u32) {
    DEFAULT_DECAY_MS.store(ms.min(crate::logic::decay::MAX_DECAY_MS), Relaxed);
}

/// Errors reported on every cache so far (see [`Cache::errors`]).
static TOTAL_ERRORS: Atomic<u64> = Atomic::new(0);

/// Errors reported on every cache so far, destroyed ones included (what
/// slub_kunit's `slab_errors` counts).
pub(crate) fn total_errors() -> u64 {
    TOTAL_ERRORS.load(Relaxed)
}

/// The machine, for the geometry.
pub(crate) fn machine() -> Machine {
    Machine {
        page_shift: bindings::PAGE_SHIFT,
        // L1_CACHE_BYTES on both x86_64 and riscv64.
        cache_line: 64,
        // ARCH_SLAB_MINALIGN: `__alignof__(unsigned long long)`.
        min_align: 8,
        present_cpus: cpu::online_cpus().count() as u32,
        nr_cpu_ids: cpu::nr_cpu_ids() as u32,
        max_page_order: crate::page_pool::MAX_ORDER,
    }
}

impl Cache {
    /// `kmem_cache_create()`: a cache taking its slabs from `pool`.
    /// `EINVAL` for a bad request (size 0, an object that does not fit the
    /// largest slab, an alignment that is not a power of two, unknown flags,
    /// a bad name), with the reason in the kernel log.
    pub(crate) fn new(pool: &Arc<SlabPool>, cfg: &CacheConfig<'_>) -> Result<Arc<Cache>> {
        let stats = Stats::new()?;
        let Some(name) = Name::new(cfg.name) else {
            pr_err!("create: a cache name is 1 to {NAME_LEN} printable characters, no '/'\n");
            return Err(EINVAL);
        };
        if cfg.flags & !ACCEPTED_FLAGS != 0 {
            pr_err!(
                "create: unsupported flags {:#x}\n",
                cfg.flags & !ACCEPTED_FLAGS
            );
            return Err(EINVAL);
        }
        // `kmem_cache_flags()`: the `slub_debug=` parameter's flags for it.
        let mut flags = cfg.flags;
        if !cfg.no_user_flags {
            flags |= cfg.slub_debug.flags_for(cfg.name.as_bytes());
        }
        if flags & layout::SLAB_STORE_USER != 0 {
            crate::glue::debug::stack_depot_init();
        }
        let l = layout::calculate_sizes(
            cfg.size,
            cfg.align,
            flags,
            cfg.ctor.is_some(),
            cfg.freeptr_offset,
            &machine(),
        )
        .map_err(|e| {
            pr_err!("create: size {} align {}: {:?}\n", cfg.size, cfg.align, e);
            EINVAL
        })?;
        if cfg.sheaf_capacity > MAX_SHEAF_CAPACITY {
            pr_err!(
                "create: sheaf_capacity {} is over {MAX_SHEAF_CAPACITY}\n",
                cfg.sheaf_capacity
            );
            return Err(EINVAL);
        }
        // `useroffset`/`usersize` as `__kmem_cache_create_args()` takes
        // them: inside the object, or none at all (fail closed).
        let (useroffset, usersize) = match cfg.size.checked_sub(cfg.usersize) {
            Some(room) if cfg.usersize > 0 && cfg.useroffset <= room => {
                (cfg.useroffset, cfg.usersize)
            }
            _ => (0, 0),
        };
        let init = InitPolicy::new(
            &l,
            cfg.ctor.is_some(),
            mm::init_on_alloc(),
            mm::init_on_free(),
            gfp::GFP_ZERO,
        )
        .tracked(kmemleak::ENABLED && flags & layout::SLAB_NOLEAKTRACE == 0)
        .profiled(cfg.allocinfo || allocinfo::enabled());
        // `kmem_cache_open()`'s `allocflags`, of a zone this kernel has.
        let zone = if flags & layout::SLAB_CACHE_DMA != 0 {
            mm::Zone::Dma
        } else if flags & layout::SLAB_CACHE_DMA32 != 0 {
            mm::Zone::Dma32
        } else {
            mm::Zone::Normal
        };
        let allocflags = if zone.exists() { zone.gfp() } else { 0 };
        let tid_step = cpu::nr_cpu_ids().next_power_of_two();
        // INVARIANT: `tid` starts at the CPU's number.
        let cpus = PerCpu::new(|c| CpuSlab {
            pair: DWord::new(0, c),
            slab: Atomic::new(core::ptr::null_mut()),
            node: Atomic::new(0),
            partial: Atomic::new(core::ptr::null_mut()),
        })?;
        // SAFETY: `get_random_u64()` may be called from any context.
        let random = unsafe { bindings::get_random_u64() } as usize;
        let mut seq = KVec::new();
        if cfg.randomize && l.objects > 1 {
            // `init_cache_random_seq()`: one permutation per cache.
            seq = KVec::from_elem(0u32, l.objects as usize, GFP_KERNEL)?;
            // SAFETY: as above.
            let mut rng = XorShift64::new(unsafe { bindings::get_random_u64() });
            layout::freelist_randomize(&mut seq, &mut rng);
        }
        let mut nodes = KVec::with_capacity(pool.nr_nodes(), GFP_KERNEL)?;
        for nid in 0..pool.nr_nodes() {
            nodes.push(KBox::pin_init(CacheNode::new(nid), GFP_KERNEL)?, GFP_KERNEL)?;
        }
        // `calculate_sheaf_capacity()`: none for debug and `SLAB_NOLEAKTRACE`
        // caches; by size, or more if asked for.
        let sheaves = if cfg.sheaves && !l.debug() && flags & layout::SLAB_NOLEAKTRACE == 0 {
            let cap =
                layout::sheaf_capacity(l.size, 1 << bindings::PAGE_SHIFT).max(cfg.sheaf_capacity);
            Some(KBox::pin_init(
                sheaves::Sheaves::new(cap, pool.nr_nodes(), |c| pool.cpu_node(c)),
                GFP_KERNEL,
            )?)
        } else {
            None
        };
        // INVARIANT: from `init` and `sheaves`, as the invariant says (the
        // sheaves' box does not move with `sheaves`).
        let free_sheaves = match (&sheaves, init.free_hook) {
            (Some(b), false) => core::ptr::from_ref::<sheaves::Sheaves>(b).cast_mut(),
            _ => core::ptr::null_mut(),
        };
        // INVARIANT: no slabs yet; every CPU slab is empty.
        Arc::pin_init(
            try_pin_init!(Cache {
                name,
                layout: l,
                flags,
                ctor: cfg.ctor,
                harden: cfg.harden,
                check_slot: cfg.harden || l.debug(),
                random,
                seq,
                pool: pool.clone(),
                cpus,
                recip: layout::obj_reciprocal(l.size),
                nodes,
                remote_node_defrag_ratio: Atomic::new(1000),
                min_partial: Atomic::new(l.min_partial),
                cpu_partial: Atomic::new(l.cpu_partial),
                cpu_partial_slabs: Atomic::new(l.cpu_partial_slabs),
                stats,
                sheaves,
                errors: Atomic::new(0),
                rcu_pending: Atomic::new(0),
                tid_step,
                init,
                free_sheaves: Atomic::new(free_sheaves),
                allocflags,
                usercopy: (useroffset, usersize),
                // SAFETY: placed in this `Cache`, at its `DECAY_OFFSET`.
                decay <- unsafe { Decay::new::<Cache, Error>(DEFAULT_DECAY_MS.load(Relaxed)) },
            }? Error),
            GFP_KERNEL,
        )
    }

    /// The cache's name.
    pub(crate) fn name(&self) -> &[u8] {
        self.name.as_bytes()
    }

    /// The name, for messages.
    pub(crate) fn display_name(&self) -> &BStr {
        BStr::from_bytes(self.name())
    }

    /// The geometry.
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The `SLAB_*` flags (with those of `slub_debug=`).
    pub(crate) fn flags(&self) -> u32 {
        self.flags
    }

    /// `useroffset` and `usersize` (`usersize` 0: none).
    pub(crate) fn usercopy(&self) -> (u32, u32) {
        self.usercopy
    }

    /// The constructor, if any.
    pub(crate) fn ctor(&self) -> Option<Ctor> {
        self.ctor
    }

    /// Whether it has a constructor.
    pub(crate) fn has_ctor(&self) -> bool {
        self.ctor.is_some()
    }

    /// `sheaf_capacity`: objects per sheaf, 0 without sheaves.
    pub(crate) fn sheaf_capacity(&self) -> u32 {
        self.sheaves().map_or(0, |s| s.capacity())
    }

    /// The counters.
    pub(crate) fn stats(&self) -> &Stats<NR_SLAB_STATS> {
        &self.stats
    }

    /// How many errors were reported on this cache: bad and double frees,
    /// and on debug caches each of SLUB's reports and repairs (counted as
    /// `slab_add_kunit_errors()` counts them for slub_kunit).
    #[cfg(rslab_kunit)]
    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Relaxed)
    }

    /// Slabs, objects in them, and node partial slabs now (all nodes).
    pub(crate) fn counts(&self) -> CacheCounts {
        let mut c = CacheCounts {
            slabs: 0,
            objects: 0,
            partial: 0,
        };
        for n in self.nodes.iter() {
            c.slabs += n.nr_slabs.load(Relaxed);
            c.objects += n.total_objects.load(Relaxed);
            c.partial += n.nr_partial.load(Relaxed);
        }
        c
    }

    /// Node `nid`'s `kmem_cache_node` (`get_node()`); the last for a number
    /// past them (which no slab has).
    fn node(&self, nid: usize) -> &CacheNode {
        &self.nodes[nid.min(self.nodes.len() - 1)]
    }

    /// The `kmem_cache_node` of slab `s`'s node.
    fn node_of(&self, s: &SlabPage) -> &CacheNode {
        self.node(s.node())
    }

    /// `remote_node_defrag_ratio`, as sysfs shows it (percent).
    pub(crate) fn remote_node_defrag_ratio(&self) -> u32 {
        self.remote_node_defrag_ratio.load(Relaxed) / 10
    }

    /// Sets `remote_node_defrag_ratio` (percent, 0..=100; `ERANGE` above,
    /// as SLUB).
    pub(crate) fn set_remote_node_defrag_ratio(&self, percent: u32) -> Result {
        if percent > 100 {
            return Err(ERANGE);
        }
        self.remote_node_defrag_ratio.store(percent * 10, Relaxed);
        Ok(())
    }

    /// `min_partial`.
    pub(crate) fn min_partial(&self) -> u32 {
        self.min_partial.load(Relaxed)
    }

    /// Sets `min_partial` (`min_partial_store()`).
    pub(crate) fn set_min_partial(&self, v: u32) {
        self.min_partial.store(v, Relaxed);
    }

    /// `cpu_partial` (objects).
    pub(crate) fn cpu_partial(&self) -> u32 {
        self.cpu_partial.load(Relaxed)
    }

    /// `cpu_partial_store()`: `EINVAL` for a non-zero value on a cache
    /// without CPU partial lists.
    pub(crate) fn set_cpu_partial(&self, objects: u32) -> Result {
        // `kmem_cache_has_cpu_partial()`: all but debug caches.
        if objects > 0 && self.is_debug() {
            return Err(EINVAL);
        }
        self.cpu_partial.store(objects, Relaxed);
        self.cpu_partial_slabs.store(
            layout::cpu_partial_slabs(objects, self.layout.objects),
            Relaxed,
        );
        Ok(())
    }

    /// CPU `c`'s slabs, as `slabs_cpu_partial` and `cpu_slabs` read them.
    pub(crate) fn cpu_info(&self, c: usize) -> CpuSlabInfo {
        let Some(cs) = self.cpus.get(c) else {
            return CpuSlabInfo::default();
        };
        let p = cs.partial.load(Relaxed);
        let partial_slabs = if p.is_null() {
            0
        } else {
            // SAFETY: a CPU's partial slab's record lives as long as its
            // chunk, which the pool only releases when wholly free, and a
            // slab's pages are never free while any CPU list names it; a
            // racing flush makes this a stale estimate only.
            unsafe { &*p }.slabs()
        };
        CpuSlabInfo {
            has_slab: !cs.slab.load(Relaxed).is_null(),
            partial_slabs,
        }
    }

    /// Counts `s` on the current CPU (`stat()`).
    #[inline(always)]
    fn stat(&self, s: SlabStat) {
        self.stats.inc(s as usize);
    }

    /// Reports an error on this cache (and counts it).
    fn report(&self, what: core::fmt::Arguments<'_>) {
        self.count_error();
        pr_err!("cache {}: {}\n", self.display_name(), what);
    }
}
