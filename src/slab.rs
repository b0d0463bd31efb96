// SPDX-License-Identifier: GPL-2.0
//! Slab caches mirroring SLUB as mm/slub.c of 6.1 has it (before 7.x's
//! sheaves): a per-CPU slab with a lockless freelist and transaction id,
//! per-CPU partial slabs, a node partial list under `list_lock`, frozen
//! slabs, and the fast and slow paths between them. Slab pages come from
//! the rslab page pool; a slab's `struct slab` is the pool's per-page
//! [`SlabPage`] record, found from any object address through the pool's
//! pfn map in O(1).
//!
//! The geometry (`calculate_sizes`, `calculate_order`), the freelist
//! encoding and randomisation and the decisions of `__slab_free()` and
//! `deactivate_slab()` are pure logic in [`crate::logic::layout`] and
//! [`crate::logic::slabstate`], tested on the host.
//!
//! # Concurrency
//!
//! - `kmem_cache_cpu` ([`CpuSlab`]): `(freelist, tid)` is one [`DWord`]. The
//!   fast paths pin the task to its CPU (`preempt_disable()`: Rust cannot
//!   address this CPU's per-CPU segment as `this_cpu_cmpxchg_double()` does,
//!   so the CPU is fixed instead of re-validated) and then read `tid`, then
//!   `freelist` and `slab`, and commit with a CPU-local double-word
//!   compare-exchange of `(freelist, tid)` to `(next, tid + TID_STEP)`. The
//!   only other writers of a CPU's pair are that CPU's interrupts (and the
//!   flush IPI), which always advance `tid`; so the exchange fails exactly
//!   when something else ran on the pair in between, and the path retries.
//! - The slow paths run on their CPU with interrupts off (6.1's
//!   `local_lock_irqsave(&s->cpu_slab->lock)`), so they never interleave
//!   with a fast path of their CPU except by interrupting it, which the
//!   `tid` catches.
//! - A slab's `(freelist, counters)` is a [`DWord`] changed only by a global
//!   compare-exchange (`cmpxchg_double_slab()`): remote frees push onto it
//!   without any lock; a slab whose list membership changes is moved under
//!   the node's `list_lock`, taken before the exchange, as in 6.1.
//! - Other CPUs never touch a CPU's slab: flushes run on the CPU itself
//!   (`smp_call_function_single()`, like 5.x's `on_each_cpu_cond()`), or on
//!   a CPU that is dead.

use crate::{
    cpu::{self, Pinned},
    dword::DWord,
    logic::{
        control::{Name, NAME_LEN},
        layout::{self, Layout, Machine},
        rand::XorShift64,
        slabstate::{self, Counters, Deactivate, FreeAction, ListAction},
    },
    pool::{Gfp, Pool, RawBlock},
    stats::Stats,
};
use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{compiler_fence, Ordering::SeqCst};
use kernel::{
    alloc::KVVec,
    bindings,
    interrupt::local_interrupt_disable,
    new_spinlock_irq,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc, SpinLockIrq,
    },
};

/// SLUB's `enum stat_item` (6.1), in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
#[allow(missing_docs)]
pub enum SlabStat {
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
}

/// The number of [`SlabStat`] counters.
pub const NR_SLAB_STATS: usize = SlabStat::CpuPartialDrain as usize + 1;

/// A constructor: runs on every object of a new slab.
pub type Ctor = fn(*mut u8);

/// What a cache is made from.
#[derive(Clone, Copy)]
pub struct CacheConfig<'a> {
    /// Its name (see [`Name::new`]).
    pub name: &'a str,
    /// Object size in bytes.
    pub size: u32,
    /// Requested alignment (0: the minimum; else a power of two).
    pub align: u32,
    /// `SLAB_*` flags: [`layout::SLAB_HWCACHE_ALIGN`],
    /// [`layout::SLAB_RECLAIM_ACCOUNT`] and [`layout::SLAB_CACHE_DMA`] are
    /// accepted (the latter two only recorded: the pool has one zone).
    pub flags: u32,
    /// A constructor, if any.
    pub ctor: Option<Ctor>,
    /// Free pointers stored XOR-ed with a per-cache secret and their address
    /// (`CONFIG_SLAB_FREELIST_HARDENED`).
    pub harden: bool,
    /// New slabs get a shuffled freelist (`CONFIG_SLAB_FREELIST_RANDOM`).
    pub randomize: bool,
}

impl<'a> CacheConfig<'a> {
    /// A cache of `size`-byte objects with the defaults (hardened,
    /// randomised, word-aligned, no ctor).
    pub const fn new(name: &'a str, size: u32) -> Self {
        CacheConfig {
            name,
            size,
            align: 0,
            flags: 0,
            ctor: None,
            harden: true,
            randomize: true,
        }
    }
}

/// Flags a cache may be made with.
const ACCEPTED_FLAGS: u32 =
    layout::SLAB_HWCACHE_ALIGN | layout::SLAB_RECLAIM_ACCOUNT | layout::SLAB_CACHE_DMA;

/// What [`SlabPage::cache`] holds for the head of a large kmalloc block.
pub(crate) const LARGE_KMALLOC: usize = 1;

/// The pool's per-page record: what `struct slab` overlays on `struct page`.
///
/// # Invariants
///
/// - `cache` is 0, [`LARGE_KMALLOC`], or the address of the live [`Cache`]
///   whose slab starts at this page; `head` is non-zero only on the other
///   pages of such a slab or block, and is then the distance to its head.
/// - For a slab head: `base` is the slab's address, `pair` its
///   `(freelist, counters)` ([`Counters`] in the low 32 bits), and `block`
///   holds the pool block, touched only by whoever makes or discards the
///   slab (which nobody else can reach then).
/// - `next`/`prev` link the slab on its cache's node partial list (under
///   `list_lock`) or `next`/`slabs` on one CPU's partial list (by that CPU
///   with interrupts off); never both at once.
#[repr(C, align(16))]
pub struct SlabPage {
    pair: DWord,
    cache: Atomic<usize>,
    base: Atomic<usize>,
    next: Atomic<usize>,
    prev: Atomic<usize>,
    head: Atomic<u32>,
    slabs: Atomic<u32>,
    block: UnsafeCell<Option<RawBlock>>,
}

// SAFETY: everything but `block` is atomic; `block` is only touched by the
// one owner of the slab (type invariant).
unsafe impl Sync for SlabPage {}
// SAFETY: as above.
unsafe impl Send for SlabPage {}

impl SlabPage {
    const fn new() -> Self {
        SlabPage {
            pair: DWord::new(0, 0),
            cache: Atomic::new(0),
            base: Atomic::new(0),
            next: Atomic::new(0),
            prev: Atomic::new(0),
            head: Atomic::new(0),
            slabs: Atomic::new(0),
            block: UnsafeCell::new(None),
        }
    }

    /// `n` empty records (for a pool chunk).
    pub(crate) fn new_array(n: usize, gfp: kernel::alloc::Flags) -> Result<KVVec<SlabPage>> {
        let mut v = KVVec::with_capacity(n, gfp)?;
        for _ in 0..n {
            v.push(SlabPage::new(), gfp)?;
        }
        Ok(v)
    }

    fn counters(&self) -> Counters {
        Counters(self.pair.second() as u32)
    }

    fn addr(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    /// The head record of the slab or block this page belongs to.
    fn head_page(&self) -> &SlabPage {
        let h = self.head.load(Relaxed) as usize;
        // SAFETY: a non-zero `head` is the distance to the head page's
        // record in the same chunk's array (type invariant), which lives as
        // long as this one.
        unsafe { &*core::ptr::from_ref(self).sub(h) }
    }

    /// For a large kmalloc head: the block, given back (`None` if this is no
    /// such head).
    ///
    /// # Safety
    ///
    /// The caller owns the block (is freeing it); nobody else touches it.
    pub(crate) unsafe fn take_large(&self, pool: &Pool) -> Option<RawBlock> {
        if self.cache.load(Relaxed) != LARGE_KMALLOC {
            return None;
        }
        // SAFETY: the caller owns the block (type invariant on `block`).
        let b = unsafe { (*self.block.get()).take() }?;
        self.cache.store(0, Relaxed);
        for i in 1..1usize << b.order() {
            pool.page_ext(&b, i).head.store(0, Relaxed);
        }
        Some(b)
    }

    /// Records `b` (just allocated) as a large kmalloc block.
    pub(crate) fn set_large(pool: &Pool, b: RawBlock) -> usize {
        let addr = pool.addr(&b) as usize;
        for i in 1..1usize << b.order() {
            pool.page_ext(&b, i).head.store(i as u32, Relaxed);
        }
        let head: *const SlabPage = pool.page_ext(&b, 0);
        // SAFETY: the record lives while the block is out of the pool, and
        // the block is now kept in it; it was just allocated, so nobody else
        // can reach the record yet.
        unsafe {
            (*head).base.store(addr, Relaxed);
            *(*head).block.get() = Some(b);
            (*head).cache.store(LARGE_KMALLOC, Release);
        }
        addr
    }

    /// The order of a large kmalloc head (or 0).
    pub(crate) fn large_order(&self) -> Option<u32> {
        if self.cache.load(Relaxed) != LARGE_KMALLOC {
            return None;
        }
        // SAFETY: read by a holder of the block, which is not being freed.
        unsafe { (*self.block.get()).as_ref().map(|b| b.order()) }
    }

    /// The cache address of a slab head (0, [`LARGE_KMALLOC`] or a cache).
    pub(crate) fn owner(&self) -> usize {
        self.head_page().cache.load(Acquire)
    }
}

/// `struct kmem_cache_cpu`, on a cache line of its own.
///
/// # Invariants
///
/// `pair` is `(freelist, tid)`; only CPU `cpu` writes `pair`, `slab` and
/// `partial` (or another CPU once `cpu` is dead), as described in the
/// module documentation. `tid % TID_STEP == cpu`.
#[repr(C, align(64))]
struct CpuSlab {
    pair: DWord,
    slab: Atomic<usize>,
    partial: Atomic<usize>,
}

/// `struct kmem_cache_node`'s partial list, with `list_lock` around it.
///
/// # Invariants
///
/// `head..tail` is a doubly linked list (through [`SlabPage::next`] and
/// `prev`) of `nr_partial` unfrozen slabs of this cache.
struct Node {
    head: usize,
    tail: usize,
    nr_partial: u32,
}

/// What a consistency walk found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Slabs of the cache.
    pub slabs: usize,
    /// Objects in them.
    pub objects: usize,
    /// Objects in use (allocated).
    pub inuse: usize,
    /// Slabs on the node partial list.
    pub partial: usize,
    /// Slabs frozen (a CPU's, skipped by the walk).
    pub frozen: usize,
}

/// What a consistency walk found wrong (slab address given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlabError {
    /// A free pointer leads outside the slab or between objects.
    BadFreePointer(usize),
    /// An object is on a freelist twice.
    DoubleFree(usize),
    /// `inuse` does not match the free objects found.
    Inuse(usize),
    /// The partial list is wrong (a frozen, full or foreign slab, or a
    /// wrong count).
    PartialList(usize),
    /// The cache's slab or object counts disagree with the walk.
    Count(&'static str, usize, usize),
}

/// Objects still allocated when a cache was destroyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaked {
    /// Objects in use.
    pub objects: usize,
    /// Slabs holding them.
    pub slabs: usize,
}

/// A slab cache (`struct kmem_cache`).
///
/// # Invariants
///
/// - `cpus[c]` is CPU `c`'s [`CpuSlab`]; every slab it names is frozen and
///   belongs to this cache.
/// - `nr_slabs`/`total_objects` count the cache's slabs and their objects.
/// - Every object address this cache hands out lies in one of its slabs,
///   at `base + k * layout.size`.
#[pin_data(PinnedDrop)]
pub struct Cache {
    name: Name,
    l: Layout,
    flags: u32,
    ctor: Option<Ctor>,
    harden: bool,
    random: usize,
    seq: KVec<u32>,
    pool: Arc<Pool>,
    cpus: KVec<CpuSlab>,
    #[pin]
    node: SpinLockIrq<Node>,
    nr_partial: Atomic<u32>,
    nr_slabs: Atomic<usize>,
    total_objects: Atomic<usize>,
    min_partial: Atomic<u32>,
    cpu_partial: Atomic<u32>,
    cpu_partial_slabs: Atomic<u32>,
    stats: Stats<NR_SLAB_STATS>,
    tid_step: usize,
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
        max_page_order: crate::pool::MAX_ORDER,
    }
}

impl Cache {
    /// `kmem_cache_create()`: a cache taking its slabs from `pool`.
    /// `EINVAL` for a bad request (size 0, an object that does not fit the
    /// largest slab, an alignment that is not a power of two, unknown flags,
    /// a bad name), with the reason in the kernel log.
    pub fn new(pool: &Arc<Pool>, cfg: &CacheConfig<'_>) -> Result<Arc<Cache>> {
        let stats = Stats::new()?;
        let Some(name) = Name::new(cfg.name) else {
            pr_err!(
                "rslab: create: a cache name is 1 to {NAME_LEN} printable characters, no '/'\n"
            );
            return Err(EINVAL);
        };
        if cfg.flags & !ACCEPTED_FLAGS != 0 {
            pr_err!(
                "rslab: create: unsupported flags {:#x}\n",
                cfg.flags & !ACCEPTED_FLAGS
            );
            return Err(EINVAL);
        }
        let l = layout::calculate_sizes(
            cfg.size,
            cfg.align,
            cfg.flags,
            cfg.ctor.is_some(),
            &machine(),
        )
        .map_err(|e| {
            pr_err!(
                "rslab: create: size {} align {}: {:?}\n",
                cfg.size,
                cfg.align,
                e
            );
            EINVAL
        })?;
        let ncpu = cpu::nr_cpu_ids();
        let tid_step = ncpu.next_power_of_two();
        let mut cpus = KVec::with_capacity(ncpu, GFP_KERNEL)?;
        for c in 0..ncpu {
            cpus.push(
                CpuSlab {
                    pair: DWord::new(0, c),
                    slab: Atomic::new(0),
                    partial: Atomic::new(0),
                },
                GFP_KERNEL,
            )?;
        }
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
        Arc::pin_init(
            try_pin_init!(Cache {
                name,
                l,
                flags: cfg.flags,
                ctor: cfg.ctor,
                harden: cfg.harden,
                random,
                seq,
                pool: pool.clone(),
                cpus,
                node <- new_spinlock_irq!(Node {
                    head: 0,
                    tail: 0,
                    nr_partial: 0,
                }),
                nr_partial: Atomic::new(0),
                nr_slabs: Atomic::new(0),
                total_objects: Atomic::new(0),
                min_partial: Atomic::new(l.min_partial),
                cpu_partial: Atomic::new(l.cpu_partial),
                cpu_partial_slabs: Atomic::new(l.cpu_partial_slabs),
                stats,
                tid_step,
            }? Error),
            GFP_KERNEL,
        )
    }

    /// The cache's name.
    pub fn name(&self) -> &[u8] {
        self.name.as_bytes()
    }

    /// The name, for messages.
    pub fn bname(&self) -> &kernel::str::BStr {
        kernel::str::BStr::from_bytes(self.name())
    }

    /// The geometry.
    pub fn layout(&self) -> &Layout {
        &self.l
    }

    /// The `SLAB_*` flags.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Whether it has a constructor.
    pub fn has_ctor(&self) -> bool {
        self.ctor.is_some()
    }

    /// Whether free pointers are hardened.
    pub fn hardened(&self) -> bool {
        self.harden
    }

    /// Whether new slabs get shuffled freelists.
    pub fn randomized(&self) -> bool {
        !self.seq.is_empty()
    }

    /// The pool its slabs come from.
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// The counters.
    pub(crate) fn stats(&self) -> &Stats<NR_SLAB_STATS> {
        &self.stats
    }

    /// A counter's total.
    pub fn stat_total(&self, s: SlabStat) -> u64 {
        self.stats.sum(s as usize)
    }

    /// Slabs, objects in them, and node partial slabs now.
    pub fn counts(&self) -> (usize, usize, u32) {
        (
            self.nr_slabs.load(Relaxed),
            self.total_objects.load(Relaxed),
            self.nr_partial.load(Relaxed),
        )
    }

    /// `min_partial`.
    pub fn min_partial(&self) -> u32 {
        self.min_partial.load(Relaxed)
    }

    /// Sets `min_partial` (`min_partial_store()`).
    pub fn set_min_partial(&self, v: u32) {
        self.min_partial.store(v, Relaxed);
    }

    /// Objects in use in the node partial slabs (`count_partial()`).
    pub fn partial_inuse(&self) -> usize {
        let n = self.node.lock();
        let mut inuse = 0;
        let mut cur = n.head;
        while cur != 0 {
            // SAFETY: on the list, under `list_lock`.
            let s = unsafe { Self::slab_at(cur) };
            inuse += s.counters().inuse() as usize;
            cur = s.next.load(Relaxed);
        }
        inuse
    }

    /// `cpu_partial` (objects).
    pub fn cpu_partial(&self) -> u32 {
        self.cpu_partial.load(Relaxed)
    }

    /// `cpu_partial_store()`: `EINVAL` for a non-zero value on a cache
    /// without CPU partial lists.
    pub fn set_cpu_partial(&self, objects: u32) -> Result {
        if objects > 0 && !self.has_cpu_partial() {
            return Err(EINVAL);
        }
        self.cpu_partial.store(objects, Relaxed);
        self.cpu_partial_slabs
            .store(layout::cpu_partial_slabs(objects, self.l.objects), Relaxed);
        Ok(())
    }

    /// `kmem_cache_has_cpu_partial()`: rslab has no debug caches.
    fn has_cpu_partial(&self) -> bool {
        true
    }

    /// Per CPU: objects on its CPU slab's freelist (an estimate), and the
    /// slabs on its partial list, as `slabs_cpu_partial` and `cpu_slabs`
    /// read them.
    pub fn cpu_info(&self, c: usize) -> (bool, u32) {
        let Some(cs) = self.cpus.get(c) else {
            return (false, 0);
        };
        let p = cs.partial.load(Relaxed);
        let slabs = if p == 0 {
            0
        } else {
            // SAFETY: a CPU's partial slab stays a slab of this cache while
            // on the list; a racing flush makes this a stale estimate only,
            // and the record itself lives as long as its chunk, which the
            // pool only releases when wholly free (see below).
            unsafe { &*(p as *const SlabPage) }.slabs.load(Relaxed)
        };
        (cs.slab.load(Relaxed) != 0, slabs)
    }

    // ---- objects and freelists ----

    #[inline]
    fn fp_addr(&self, obj: usize) -> usize {
        obj + self.l.offset as usize
    }

    /// `get_freepointer()`.
    ///
    /// # Safety
    ///
    /// `obj` is an object of a slab of this cache that is not being freed
    /// back to the pool.
    #[inline]
    unsafe fn get_fp(&self, obj: usize) -> usize {
        let a = self.fp_addr(obj);
        // SAFETY: the free pointer lies inside the object (`offset + word <=
        // size`), which is mapped memory of the slab. A racing writer (the
        // object handed out meanwhile) gives a stale value, which the
        // caller's compare-exchange then rejects, as in SLUB.
        let v = unsafe { core::ptr::read_volatile(a as *const usize) };
        if self.harden {
            layout::freelist_ptr(v, self.random, a)
        } else {
            v
        }
    }

    /// `set_freepointer()`.
    ///
    /// # Safety
    ///
    /// `obj` is a free object of this cache owned by the caller.
    #[inline]
    unsafe fn set_fp(&self, obj: usize, fp: usize) {
        let a = self.fp_addr(obj);
        let v = if self.harden {
            layout::freelist_ptr(fp, self.random, a)
        } else {
            fp
        };
        // SAFETY: the caller owns the object; the pointer lies inside it.
        unsafe { core::ptr::write_volatile(a as *mut usize, v) };
    }

    #[inline]
    fn next_tid(&self, tid: usize) -> usize {
        tid.wrapping_add(self.tid_step)
    }

    #[inline]
    fn stat(&self, cpu: usize, s: SlabStat) {
        self.stats.inc_local(cpu, s as usize);
    }

    #[inline]
    fn stat_here(&self, s: SlabStat) {
        self.stats.add(s as usize, 1);
    }

    fn me(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    /// The slab record at `addr` (an address stored in a list or CPU slab).
    ///
    /// # Safety
    ///
    /// `addr` is the record of a slab of this cache that is not discarded
    /// while the reference is used.
    #[inline]
    unsafe fn slab_at<'a>(addr: usize) -> &'a SlabPage {
        // SAFETY: the caller's guarantee.
        unsafe { &*(addr as *const SlabPage) }
    }

    /// The slab `obj` belongs to, if it is an object of this cache:
    /// `virt_to_slab()` plus `cache_from_obj()`'s check.
    fn slab_of(&self, obj: usize) -> Option<&SlabPage> {
        // SAFETY: the caller is freeing `obj`, so its slab stays.
        let page = unsafe { self.pool.ext_of_addr(obj) }?;
        let slab = page.head_page();
        if slab.cache.load(Acquire) != self.me() {
            return None;
        }
        let base = slab.base.load(Relaxed);
        let size = self.l.size as usize;
        let off = obj.checked_sub(base)?;
        // (`checked_*`: no panic path; `size` is never 0.)
        if off.checked_rem(size)? != 0
            || off.checked_div(size)? >= slab.counters().objects() as usize
        {
            return None;
        }
        Some(slab)
    }

    /// Whether `p` is the address of an object slot of this cache (free or
    /// not) in one of its slabs.
    pub fn contains(&self, p: usize) -> bool {
        self.slab_of(p).is_some()
    }

    // ---- allocation ----

    /// `kmem_cache_alloc()`: an object, or `None` if no memory could be had
    /// (with `gfp` deciding whether to sleep for it).
    #[inline]
    pub fn alloc(&self, gfp: Gfp) -> Option<NonNull<u8>> {
        NonNull::new(self.slab_alloc(gfp) as *mut u8)
    }

    /// `slab_alloc_node()`: the fast path.
    #[inline]
    fn slab_alloc(&self, gfp: Gfp) -> usize {
        loop {
            let pin = Pinned::new();
            let cpu = pin.cpu();
            let c = &self.cpus[cpu];
            let tid = c.pair.second();
            // `barrier()`: read the tid before the freelist, so an
            // interrupt in between shows as a changed tid.
            compiler_fence(SeqCst);
            let object = c.pair.first();
            if object == 0 || c.slab.load(Relaxed) == 0 {
                return self.slab_alloc_slow(pin, gfp);
            }
            // SAFETY: `object` is on this CPU's freelist of its frozen slab.
            let next = unsafe { self.get_fp(object) };
            if c.pair
                .cmpxchg_local((object, tid), (next, self.next_tid(tid)))
            {
                self.stat(cpu, SlabStat::AllocFastpath);
                return object;
            }
            self.stat(cpu, SlabStat::CmpxchgDoubleCpuFail);
        }
    }

    /// Hands out `freelist`'s first object and makes the rest the CPU's
    /// freelist (`load_freelist:`). Interrupts are off.
    fn load_freelist(&self, cpu: usize, freelist: usize) -> usize {
        let c = &self.cpus[cpu];
        // SAFETY: `freelist` is the CPU's now (taken from its frozen slab).
        let next = unsafe { self.get_fp(freelist) };
        c.pair.set_local(next, self.next_tid(c.pair.second()));
        freelist
    }

    /// `___slab_alloc()`: the slow path.
    fn slab_alloc_slow(&self, pin: Pinned, gfp: Gfp) -> usize {
        let irq = local_interrupt_disable();
        self.stat(pin.cpu(), SlabStat::AllocSlowpath);
        loop {
            let cpu = pin.cpu();
            let c = &self.cpus[cpu];
            let slab = c.slab.load(Relaxed);
            if slab != 0 {
                let freelist = c.pair.first();
                if freelist != 0 {
                    return self.load_freelist(cpu, freelist);
                }
                // SAFETY: the CPU slab is this cache's and frozen.
                let freelist = self.get_freelist(unsafe { Self::slab_at(slab) });
                if freelist != 0 {
                    self.stat(cpu, SlabStat::AllocRefill);
                    return self.load_freelist(cpu, freelist);
                }
                // Full: it stays unfrozen on no list.
                c.slab.store(0, Relaxed);
                c.pair.set_local(0, self.next_tid(c.pair.second()));
                self.stat(cpu, SlabStat::DeactivateBypass);
            }
            // new_slab: the CPU partial list first.
            let partial = c.partial.load(Relaxed);
            if partial != 0 {
                // SAFETY: a CPU partial slab is this cache's and frozen.
                let s = unsafe { Self::slab_at(partial) };
                c.partial.store(s.next.load(Relaxed), Relaxed);
                c.slab.store(partial, Relaxed);
                self.stat(cpu, SlabStat::CpuPartialAlloc);
                continue;
            }
            // new_objects: the node partial list.
            if let Some((slab, freelist)) = self.get_partial(cpu) {
                c.slab.store(slab, Relaxed);
                return self.load_freelist(cpu, freelist);
            }
            // A new slab, with interrupts on and unpinned (the pool may
            // sleep if `gfp` allows it).
            drop(irq);
            drop(pin);
            let made = self.new_slab(gfp);
            let pin = Pinned::new();
            let _irq = local_interrupt_disable();
            let Some((slab, freelist)) = made else {
                return 0;
            };
            let cpu = pin.cpu();
            self.stat(cpu, SlabStat::AllocSlab);
            let c = &self.cpus[cpu];
            // retry_load_slab: another task may have set a CPU slab here
            // meanwhile (or this is another CPU now): flush it.
            let old = c.slab.load(Relaxed);
            if old != 0 {
                let fl = c.pair.first();
                c.slab.store(0, Relaxed);
                c.pair.set_local(0, self.next_tid(c.pair.second()));
                // SAFETY: it was this CPU's slab, now taken off it.
                self.deactivate_slab(unsafe { Self::slab_at(old) }, fl);
                self.stat(cpu, SlabStat::CpuslabFlush);
            }
            c.slab.store(slab.addr(), Relaxed);
            return self.load_freelist(cpu, freelist);
        }
    }

    /// `get_freelist()`: takes a frozen slab's whole freelist for its CPU;
    /// unfreezes it if there is none.
    fn get_freelist(&self, slab: &SlabPage) -> usize {
        loop {
            let freelist = slab.pair.first();
            let old = slab.counters();
            let new = Counters::new(old.objects(), old.objects(), freelist != 0);
            if slab
                .pair
                .cmpxchg((freelist, old.0 as usize), (0, new.0 as usize))
            {
                return freelist;
            }
            self.stat_here(SlabStat::CmpxchgDoubleFail);
        }
    }

    /// `get_partial_node()`: takes slabs off the node partial list, the first
    /// as the CPU slab (returned with its freelist), more onto the CPU
    /// partial list up to half its limit. Interrupts are off.
    fn get_partial(&self, cpu: usize) -> Option<(usize, usize)> {
        if self.nr_partial.load(Relaxed) == 0 {
            return None;
        }
        let mut n = self.node.lock();
        let mut got: Option<(usize, usize)> = None;
        let mut partial_slabs = 0;
        let mut cur = n.head;
        while cur != 0 {
            // SAFETY: slabs on the node list are this cache's; `list_lock`
            // is held, so it stays there until we take it off.
            let s = unsafe { Self::slab_at(cur) };
            let next = s.next.load(Relaxed);
            let first = got.is_none();
            // acquire_slab()
            let freelist = s.pair.first();
            let old = s.counters();
            let new = if first {
                Counters::new(old.objects(), old.objects(), true)
            } else {
                old.with_frozen(true)
            };
            let new_fl = if first { 0 } else { freelist };
            if freelist == 0
                || !s
                    .pair
                    .cmpxchg((freelist, old.0 as usize), (new_fl, new.0 as usize))
            {
                break;
            }
            self.remove_partial(&mut n, s);
            if first {
                got = Some((cur, freelist));
                self.stat(cpu, SlabStat::AllocFromPartial);
            } else {
                self.put_cpu_partial(s, false);
                self.stat(cpu, SlabStat::CpuPartialNode);
                partial_slabs += 1;
            }
            if partial_slabs > self.cpu_partial_slabs.load(Relaxed) / 2 {
                break;
            }
            cur = next;
        }
        got
    }

    /// `add_partial()`, under `list_lock`.
    fn add_partial(&self, n: &mut Node, s: &SlabPage, tail: bool) {
        let a = s.addr();
        if tail {
            s.next.store(0, Relaxed);
            s.prev.store(n.tail, Relaxed);
            if n.tail != 0 {
                // SAFETY: on the list (under `list_lock`).
                unsafe { Self::slab_at(n.tail) }.next.store(a, Relaxed);
            } else {
                n.head = a;
            }
            n.tail = a;
        } else {
            s.prev.store(0, Relaxed);
            s.next.store(n.head, Relaxed);
            if n.head != 0 {
                // SAFETY: as above.
                unsafe { Self::slab_at(n.head) }.prev.store(a, Relaxed);
            } else {
                n.tail = a;
            }
            n.head = a;
        }
        n.nr_partial += 1;
        self.nr_partial.store(n.nr_partial, Relaxed);
    }

    /// `remove_partial()`, under `list_lock`.
    fn remove_partial(&self, n: &mut Node, s: &SlabPage) {
        let (p, nx) = (s.prev.load(Relaxed), s.next.load(Relaxed));
        if p != 0 {
            // SAFETY: neighbours on the list (under `list_lock`).
            unsafe { Self::slab_at(p) }.next.store(nx, Relaxed);
        } else {
            n.head = nx;
        }
        if nx != 0 {
            // SAFETY: as above.
            unsafe { Self::slab_at(nx) }.prev.store(p, Relaxed);
        } else {
            n.tail = p;
        }
        s.next.store(0, Relaxed);
        s.prev.store(0, Relaxed);
        n.nr_partial -= 1;
        self.nr_partial.store(n.nr_partial, Relaxed);
    }

    /// `put_cpu_partial()`: puts a frozen slab on this CPU's partial list,
    /// first draining the list to the node if `drain` and it is full.
    fn put_cpu_partial(&self, s: &SlabPage, drain: bool) {
        let pin = Pinned::new();
        let irq = local_interrupt_disable();
        let c = &self.cpus[pin.cpu()];
        let mut old = c.partial.load(Relaxed);
        let mut slabs = 0;
        let mut unfreeze = 0;
        if old != 0 {
            // SAFETY: the CPU's partial slabs are this cache's.
            let o = unsafe { Self::slab_at(old) };
            if drain
                && slabstate::cpu_partial_full(
                    o.slabs.load(Relaxed),
                    self.cpu_partial_slabs.load(Relaxed),
                )
            {
                unfreeze = old;
                old = 0;
            } else {
                slabs = o.slabs.load(Relaxed);
            }
        }
        s.slabs.store(slabs + 1, Relaxed);
        s.next.store(old, Relaxed);
        c.partial.store(s.addr(), Relaxed);
        let cpu = pin.cpu();
        drop(irq);
        if unfreeze != 0 {
            self.unfreeze_partials(unfreeze);
            self.stat(cpu, SlabStat::CpuPartialDrain);
        }
    }

    /// `__unfreeze_partials()`: moves a detached CPU partial list to the node
    /// list, freeing slabs that are empty when the node has enough.
    fn unfreeze_partials(&self, mut cur: usize) {
        let mut discard = 0usize;
        let mut n = self.node.lock();
        while cur != 0 {
            // SAFETY: slabs of a detached CPU partial list are this cache's
            // and frozen: nobody else unfreezes or discards them.
            let s = unsafe { Self::slab_at(cur) };
            let next = s.next.load(Relaxed);
            let new = loop {
                let fl = s.pair.first();
                let old = s.counters();
                let new = old.with_frozen(false);
                if s.pair.cmpxchg((fl, old.0 as usize), (fl, new.0 as usize)) {
                    break new;
                }
                self.stat_here(SlabStat::CmpxchgDoubleFail);
            };
            if new.inuse() == 0 && n.nr_partial >= self.min_partial.load(Relaxed) {
                s.next.store(discard, Relaxed);
                discard = cur;
            } else {
                self.add_partial(&mut n, s, true);
                self.stat_here(SlabStat::FreeAddPartial);
            }
            cur = next;
        }
        drop(n);
        while discard != 0 {
            // SAFETY: taken off every list above and empty.
            let s = unsafe { Self::slab_at(discard) };
            discard = s.next.load(Relaxed);
            self.stat_here(SlabStat::DeactivateEmpty);
            self.discard_slab(s);
            self.stat_here(SlabStat::FreeSlab);
        }
    }

    /// `deactivate_slab()`: gives a CPU slab and the CPU's freelist of it
    /// back: onto the node partial list, freed, or on no list when full.
    fn deactivate_slab(&self, s: &SlabPage, freelist: usize) {
        let mut tail = false;
        if s.pair.first() != 0 {
            self.stat_here(SlabStat::DeactivateRemoteFrees);
            tail = true;
        }
        // Stage one: count the CPU's free objects and find the last.
        let mut free_delta = 0u32;
        let mut last = 0usize;
        let mut it = freelist;
        while it != 0 {
            last = it;
            // SAFETY: the CPU's freelist objects are free objects of `s`.
            it = unsafe { self.get_fp(it) };
            free_delta += 1;
        }
        // Stage two: unfreeze, splicing the CPU's list in front of remote
        // frees.
        loop {
            let old_fl = s.pair.first();
            let old = s.counters();
            let inuse = old.inuse() - free_delta;
            let new_fl = if last != 0 {
                // SAFETY: `last` is a free object the CPU owned.
                unsafe { self.set_fp(last, old_fl) };
                freelist
            } else {
                old_fl
            };
            let mode = slabstate::deactivate(
                inuse,
                new_fl != 0,
                tail,
                self.nr_partial.load(Relaxed),
                self.min_partial.load(Relaxed),
            );
            let mut n = match mode {
                Deactivate::Partial { .. } => Some(self.node.lock()),
                _ => None,
            };
            let new = Counters::new(inuse, old.objects(), false);
            if !s
                .pair
                .cmpxchg((old_fl, old.0 as usize), (new_fl, new.0 as usize))
            {
                self.stat_here(SlabStat::CmpxchgDoubleFail);
                continue;
            }
            match mode {
                Deactivate::Partial { tail } => {
                    if let Some(n) = n.as_mut() {
                        self.add_partial(n, s, tail);
                    }
                    drop(n);
                    self.stat_here(if tail {
                        SlabStat::DeactivateToTail
                    } else {
                        SlabStat::DeactivateToHead
                    });
                }
                Deactivate::Free => {
                    self.stat_here(SlabStat::DeactivateEmpty);
                    self.discard_slab(s);
                    self.stat_here(SlabStat::FreeSlab);
                }
                Deactivate::Full => self.stat_here(SlabStat::DeactivateFull),
            }
            return;
        }
    }

    /// `allocate_slab()`: a new frozen slab, its objects constructed and
    /// linked (shuffled if randomised). Returns it with its freelist, all
    /// its objects counted in use (the CPU takes them all).
    fn new_slab(&self, gfp: Gfp) -> Option<(&SlabPage, usize)> {
        let mut block = self.pool.alloc(self.l.order, gfp);
        if block.is_none() && self.l.min_order < self.l.order {
            block = self.pool.alloc(self.l.min_order, gfp);
            if block.is_some() {
                self.stat_here(SlabStat::OrderFallback);
            }
        }
        let block = block?;
        let order = block.order();
        let objects = layout::order_objects(order, self.l.size, bindings::PAGE_SHIFT);
        let base = self.pool.addr(&block) as usize;
        let size = self.l.size as usize;
        if let Some(ctor) = self.ctor {
            for i in 0..objects as usize {
                ctor((base + i * size) as *mut u8);
            }
        }
        // Link the objects.
        let mut first = 0usize;
        let mut prev = 0usize;
        let mut link = |o: u32| {
            let obj = base + o as usize * size;
            if prev == 0 {
                first = obj;
            } else {
                // SAFETY: the slab is new and ours alone.
                unsafe { self.set_fp(prev, obj) };
            }
            prev = obj;
        };
        if self.seq.is_empty() {
            (0..objects).for_each(&mut link);
        } else {
            // SAFETY: `get_random_u32()` may be called from any context.
            let start = (unsafe { bindings::get_random_u32() } as usize)
                .checked_rem(self.seq.len())
                .unwrap_or(0);
            layout::shuffled_order(&self.seq, objects, start).for_each(&mut link);
        }
        // SAFETY: as above; `prev` is the last object linked.
        unsafe { self.set_fp(prev, 0) };
        for i in 1..1usize << order {
            self.pool.page_ext(&block, i).head.store(i as u32, Relaxed);
        }
        let head: *const SlabPage = self.pool.page_ext(&block, 0);
        // SAFETY: the record lives while its block is out of the pool, which
        // it is until `discard_slab` (the block is kept in the record).
        let head = unsafe { &*head };
        head.pair
            .set_local(0, Counters::new(objects, objects, true).0 as usize);
        head.base.store(base, Relaxed);
        head.next.store(0, Relaxed);
        head.prev.store(0, Relaxed);
        head.cache.store(self.me(), Release);
        self.nr_slabs.add(1, Relaxed);
        self.total_objects.add(objects as usize, Relaxed);
        // SAFETY: the slab is new: nobody else can reach its record.
        unsafe { *head.block.get() = Some(block) };
        // SAFETY: the record lives while its block is out, which it is until
        // `discard_slab`, which only runs on a slab taken off every list.
        Some((unsafe { Self::slab_at(head.addr()) }, first))
    }

    /// `discard_slab()`: gives an empty slab that is on no list back to the
    /// pool.
    fn discard_slab(&self, s: &SlabPage) {
        self.nr_slabs.fetch_sub(1, Relaxed);
        self.total_objects
            .fetch_sub(s.counters().objects() as usize, Relaxed);
        // SAFETY: the slab is empty and on no list: the caller is its only
        // owner.
        let Some(block) = (unsafe { (*s.block.get()).take() }) else {
            pr_err!("rslab: cache {}: slab without a block\n", self.bname());
            return;
        };
        s.cache.store(0, Relaxed);
        for i in 1..1usize << block.order() {
            self.pool.page_ext(&block, i).head.store(0, Relaxed);
        }
        self.pool.free(block);
    }

    // ---- free ----

    /// `kmem_cache_free()`. An address that is not an object of this cache
    /// is reported and ignored.
    ///
    /// # Safety
    ///
    /// `obj` came from this cache and is not used (or freed) again.
    #[inline]
    pub unsafe fn free(&self, obj: NonNull<u8>) {
        let o = obj.as_ptr() as usize;
        match self.slab_of(o) {
            Some(slab) => self.do_slab_free(slab, o, o, 1),
            None => self.bad_free(o),
        }
    }

    fn bad_free(&self, o: usize) {
        pr_err!(
            "rslab: cache {}: bad free of {:#x}: not an object of this cache\n",
            self.bname(),
            o
        );
    }

    /// `do_slab_free()`: frees the detached list `head..tail` of `cnt`
    /// objects of `slab`: onto the CPU freelist if `slab` is the CPU slab
    /// (the fast path), else `__slab_free()`.
    fn do_slab_free(&self, slab: &SlabPage, head: usize, tail: usize, cnt: u32) {
        loop {
            let pin = Pinned::new();
            let cpu = pin.cpu();
            let c = &self.cpus[cpu];
            let tid = c.pair.second();
            compiler_fence(SeqCst);
            if c.slab.load(Relaxed) != slab.addr() {
                drop(pin);
                return self.slab_free_slow(slab, head, tail, cnt);
            }
            let freelist = c.pair.first();
            if freelist == head {
                // CONFIG_SLAB_FREELIST_HARDENED's naive double-free check.
                pr_err!(
                    "rslab: cache {}: double free of {:#x}\n",
                    self.bname(),
                    head
                );
                return;
            }
            // SAFETY: `tail` is a free object the caller gave us.
            unsafe { self.set_fp(tail, freelist) };
            if c.pair
                .cmpxchg_local((freelist, tid), (head, self.next_tid(tid)))
            {
                self.stat(cpu, SlabStat::FreeFastpath);
                return;
            }
            self.stat(cpu, SlabStat::CmpxchgDoubleCpuFail);
        }
    }

    /// `__slab_free()`: the slow path.
    fn slab_free_slow(&self, slab: &SlabPage, head: usize, tail: usize, cnt: u32) {
        self.stat_here(SlabStat::FreeSlowpath);
        let has_cpu_partial = self.has_cpu_partial();
        let (prior, new, action, n) = loop {
            let prior = slab.pair.first();
            let old = slab.counters();
            if prior == head {
                pr_err!(
                    "rslab: cache {}: double free of {:#x}\n",
                    self.bname(),
                    head
                );
                return;
            }
            // SAFETY: `tail` is a free object the caller gave us.
            unsafe { self.set_fp(tail, prior) };
            let (new, action) = slabstate::slab_free(old, cnt, prior == 0, has_cpu_partial);
            let n = (action == FreeAction::NodeList).then(|| self.node.lock());
            if slab
                .pair
                .cmpxchg((prior, old.0 as usize), (head, new.0 as usize))
            {
                break (prior, new, action, n);
            }
            self.stat_here(SlabStat::CmpxchgDoubleFail);
        };
        let Some(mut n) = n else {
            match action {
                FreeAction::Frozen => self.stat_here(SlabStat::FreeFrozen),
                FreeAction::ToCpuPartial => {
                    self.put_cpu_partial(slab, true);
                    self.stat_here(SlabStat::CpuPartialFree);
                }
                _ => {}
            }
            return;
        };
        match slabstate::free_under_list_lock(
            new,
            prior == 0,
            n.nr_partial,
            self.min_partial.load(Relaxed),
            has_cpu_partial,
        ) {
            ListAction::Discard { from_partial } => {
                if from_partial {
                    self.remove_partial(&mut n, slab);
                    self.stat_here(SlabStat::FreeRemovePartial);
                }
                drop(n);
                self.stat_here(SlabStat::FreeSlab);
                self.discard_slab(slab);
            }
            ListAction::AddPartialTail => {
                self.add_partial(&mut n, slab, true);
                self.stat_here(SlabStat::FreeAddPartial);
            }
            ListAction::Nothing => {}
        }
    }

    // ---- bulk ----

    /// `kmem_cache_alloc_bulk()`: fills `out` with objects; all or nothing
    /// (returns `out.len()`, or 0 with nothing allocated).
    pub fn alloc_bulk(&self, gfp: Gfp, out: &mut [*mut u8]) -> usize {
        let mut i = 0;
        while i < out.len() {
            {
                let pin = Pinned::new();
                let _irq = local_interrupt_disable();
                let c = &self.cpus[pin.cpu()];
                let mut fl = c.pair.first();
                let start = i;
                while i < out.len() && fl != 0 {
                    out[i] = fl as *mut u8;
                    // SAFETY: `fl` is on this CPU's freelist, which we hold
                    // with interrupts off.
                    fl = unsafe { self.get_fp(fl) };
                    i += 1;
                }
                if i > start {
                    c.pair.set_local(fl, self.next_tid(c.pair.second()));
                }
            }
            if i < out.len() {
                let o = self.slab_alloc(gfp);
                if o == 0 {
                    self.free_bulk(&mut out[..i]);
                    return 0;
                }
                out[i] = o as *mut u8;
                i += 1;
            }
        }
        out.len()
    }

    /// `kmem_cache_free_bulk()`: frees every non-null pointer of `objs`
    /// (leaving them null), one detached freelist per slab run.
    pub fn free_bulk(&self, objs: &mut [*mut u8]) {
        let mut size = objs.len();
        while size > 0 {
            size = self.free_detached(objs, size);
        }
    }

    /// `build_detached_freelist()` over `p[..size]` plus its free: links the
    /// last object with up to a few more of the same slab (looking past at
    /// most 3 others) and frees them at once. Returns how much of `p` is
    /// left to look at.
    fn free_detached(&self, p: &mut [*mut u8], mut size: usize) -> usize {
        let mut o = 0;
        while size > 0 {
            size -= 1;
            o = p[size] as usize;
            if o != 0 {
                break;
            }
        }
        if o == 0 {
            return 0;
        }
        p[size] = core::ptr::null_mut();
        let Some(slab) = self.slab_of(o) else {
            self.bad_free(o);
            return size;
        };
        let (mut head, mut cnt) = (o, 1u32);
        let mut lookahead = 3;
        let mut first_skipped = 0;
        while size > 0 {
            size -= 1;
            let q = p[size] as usize;
            if q == 0 {
                continue;
            }
            if self.slab_of(q).is_some_and(|s| s.addr() == slab.addr()) {
                // SAFETY: the caller gave `q` to be freed.
                unsafe { self.set_fp(q, head) };
                head = q;
                cnt += 1;
                p[size] = core::ptr::null_mut();
                continue;
            }
            lookahead -= 1;
            if lookahead == 0 {
                break;
            }
            if first_skipped == 0 {
                first_skipped = size + 1;
            }
        }
        self.do_slab_free(slab, head, o, cnt);
        first_skipped
    }

    // ---- flush, shrink, destroy, validate ----

    /// `__flush_cpu_slab()`: deactivates `cpu`'s slab and unfreezes its
    /// partial list. Runs on `cpu` with interrupts off, or on behalf of a
    /// dead `cpu`.
    fn flush_cpu(&self, cpu: usize) {
        let Some(c) = self.cpus.get(cpu) else {
            return;
        };
        let slab = c.slab.load(Relaxed);
        if slab != 0 {
            let fl = c.pair.first();
            c.slab.store(0, Relaxed);
            c.pair.set_local(0, self.next_tid(c.pair.second()));
            // SAFETY: it was the CPU's slab, now taken off it.
            self.deactivate_slab(unsafe { Self::slab_at(slab) }, fl);
            self.stat_here(SlabStat::CpuslabFlush);
        }
        let p = c.partial.xchg(0, Relaxed);
        if p != 0 {
            self.unfreeze_partials(p);
        }
    }

    /// `flush_all()`: flushes every online CPU, on that CPU.
    pub fn flush_all(&self) {
        /// # Safety
        ///
        /// `info` points to a live [`Cache`]; runs on a CPU with interrupts
        /// off.
        unsafe extern "C" fn cb(info: *mut core::ffi::c_void) {
            // SAFETY: `info` is the `&Cache` passed below, alive until
            // `smp_call_function_single` returns (it waits).
            let cache = unsafe { &*info.cast::<Cache>() };
            cache.flush_cpu(kernel::cpu::CpuId::current().as_u32() as usize);
        }
        for c in cpu::online_cpus() {
            // SAFETY: `cb` only uses `self`, which outlives the call since
            // `wait` is true; it runs on CPU `c` with interrupts off.
            unsafe {
                bindings::smp_call_function_single(
                    c as i32,
                    Some(cb),
                    core::ptr::from_ref(self).cast_mut().cast(),
                    true,
                )
            };
        }
    }

    /// `__kmem_cache_shrink()`: flushes every CPU and frees every empty slab
    /// (those the flush empties, and those on the node partial list).
    /// Returns how many slabs the cache holds fewer afterwards.
    pub fn shrink(&self) -> usize {
        let before = self.nr_slabs.load(Relaxed);
        self.flush_all();
        self.discard_empty();
        before.saturating_sub(self.nr_slabs.load(Relaxed))
    }

    /// Frees every empty slab on the node partial list (an unfrozen slab with
    /// no object out stays empty: nothing can free into it, and only
    /// `get_partial` under `list_lock` takes objects from it).
    fn discard_empty(&self) -> usize {
        let mut discard = 0usize;
        {
            let mut n = self.node.lock();
            let mut cur = n.head;
            while cur != 0 {
                // SAFETY: on the node list, under `list_lock`.
                let s = unsafe { Self::slab_at(cur) };
                let next = s.next.load(Relaxed);
                if s.counters().inuse() == 0 {
                    self.remove_partial(&mut n, s);
                    s.next.store(discard, Relaxed);
                    discard = cur;
                }
                cur = next;
            }
        }
        let mut freed = 0;
        while discard != 0 {
            // SAFETY: empty and taken off the list above.
            let s = unsafe { Self::slab_at(discard) };
            discard = s.next.load(Relaxed);
            self.discard_slab(s);
            self.stat_here(SlabStat::FreeSlab);
            freed += 1;
        }
        freed
    }

    /// Objects in use now (`objects` - free), from the slab counters.
    pub fn objects_in_use(&self) -> usize {
        let mut inuse = 0;
        let me = self.me();
        self.pool.for_each_ext(|e| {
            if e.head.load(Relaxed) == 0 && e.cache.load(Relaxed) == me {
                inuse += e.counters().inuse() as usize;
            }
        });
        inuse
    }

    /// `kmem_cache_destroy()`: flushes and frees every empty slab. With
    /// objects still allocated it reports them (`Err` with the count), and
    /// their slabs stay: nothing still in use is freed.
    pub fn destroy(&self) -> core::result::Result<(), Leaked> {
        self.shrink();
        self.report_leaks()
    }

    /// Reports slabs still held (after everything empty was freed).
    fn report_leaks(&self) -> core::result::Result<(), Leaked> {
        let slabs = self.nr_slabs.load(Relaxed);
        if slabs == 0 {
            return Ok(());
        }
        let objects = self.objects_in_use();
        pr_err!(
            "rslab: cache {}: {} objects in {} slabs still in use at destroy; leaving them allocated\n",
            self.bname(),
            objects,
            slabs
        );
        Err(Leaked { objects, slabs })
    }

    /// `validate_slab_cache()`: flushes every CPU, then walks every slab of
    /// the cache (found through the pool's records) and its partial list:
    /// every free pointer inside its slab and on an object boundary, no
    /// object free twice, `inuse` equal to the objects not free, the counts
    /// right. Exact on a quiescent cache; slabs frozen by concurrent use are
    /// counted and skipped.
    pub fn validate(&self) -> core::result::Result<Census, SlabError> {
        self.flush_all();
        let words = (self.l.objects as usize).div_ceil(64).max(1);
        let mut bits = KVec::from_elem(0u64, words, GFP_KERNEL)
            .map_err(|_| SlabError::Count("memory", 0, 0))?;
        let me = self.me();
        let size = self.l.size as usize;
        let n = self.node.lock();
        let mut census = Census::default();
        let mut err = None;
        // The partial list.
        let mut cur = n.head;
        let mut count = 0;
        while cur != 0 && err.is_none() {
            // SAFETY: on the list, under `list_lock`.
            let s = unsafe { Self::slab_at(cur) };
            let c = s.counters();
            if s.cache.load(Relaxed) != me || c.frozen() || s.pair.first() == 0 {
                err = Some(SlabError::PartialList(cur));
            }
            count += 1;
            cur = s.next.load(Relaxed);
        }
        if err.is_none() && count != n.nr_partial {
            err = Some(SlabError::PartialList(0));
        }
        census.partial = count as usize;
        // Every slab.
        self.pool.for_each_ext(|s| {
            if err.is_some() || s.head.load(Relaxed) != 0 || s.cache.load(Relaxed) != me {
                return;
            }
            let c = s.counters();
            census.slabs += 1;
            census.objects += c.objects() as usize;
            if c.frozen() {
                census.frozen += 1;
                census.inuse += c.inuse() as usize;
                return;
            }
            let base = s.base.load(Relaxed);
            let objects = c.objects() as usize;
            bits.iter_mut().for_each(|b| *b = 0);
            let mut free = 0usize;
            let mut it = s.pair.first();
            while it != 0 {
                let off = it.wrapping_sub(base);
                let k = match (off.checked_rem(size), off.checked_div(size)) {
                    (Some(0), Some(k)) if k < objects => k,
                    _ => {
                        err = Some(SlabError::BadFreePointer(s.addr()));
                        return;
                    }
                };
                if bits[k / 64] & (1 << (k % 64)) != 0 {
                    err = Some(SlabError::DoubleFree(s.addr()));
                    return;
                }
                bits[k / 64] |= 1 << (k % 64);
                free += 1;
                // SAFETY: `it` is a free object of this unfrozen slab; with
                // `list_lock` and the zone lock held nobody discards it.
                it = unsafe { self.get_fp(it) };
            }
            if free + c.inuse() as usize != objects {
                err = Some(SlabError::Inuse(s.addr()));
                return;
            }
            census.inuse += c.inuse() as usize;
        });
        drop(n);
        if let Some(e) = err {
            return Err(e);
        }
        let slabs = self.nr_slabs.load(Relaxed);
        if census.slabs != slabs {
            return Err(SlabError::Count("slabs", census.slabs, slabs));
        }
        let total = self.total_objects.load(Relaxed);
        if census.objects != total {
            return Err(SlabError::Count("objects", census.objects, total));
        }
        Ok(census)
    }
}

#[pinned_drop]
impl PinnedDrop for Cache {
    fn drop(self: Pin<&mut Self>) {
        // The last reference is gone: no CPU uses the cache any more, so its
        // CPU slabs can be flushed from here.
        for c in 0..self.cpus.len() {
            let _irq = local_interrupt_disable();
            self.flush_cpu(c);
        }
        self.discard_empty();
        let _ = self.report_leaks();
    }
}

impl crate::cpuhp::CpuDead for Cache {
    /// Flushes a dead CPU's slabs (`slub_cpu_dead()`).
    fn cpu_dead(&self, cpu: usize) {
        let _irq = local_interrupt_disable();
        self.flush_cpu(cpu);
    }
}

/// A cache of `T`s with owned handles: [`TypedCache::alloc`] moves a value
/// into an object of the cache and returns an [`Obj`], which drops the value
/// and frees the object when it goes.
pub struct TypedCache<T> {
    cache: Arc<Cache>,
    _t: core::marker::PhantomData<fn() -> T>,
}

impl<T> TypedCache<T> {
    /// A cache named `name` for `T` (its size and alignment), on `pool`.
    /// `EINVAL` for a zero-sized `T` or one too big for a slab.
    pub fn new(pool: &Arc<Pool>, name: &str) -> Result<Self> {
        let size = u32::try_from(core::mem::size_of::<T>()).map_err(|_| EINVAL)?;
        let align = u32::try_from(core::mem::align_of::<T>()).map_err(|_| EINVAL)?;
        let mut cfg = CacheConfig::new(name, size);
        cfg.align = align;
        Ok(TypedCache {
            cache: Cache::new(pool, &cfg)?,
            _t: core::marker::PhantomData,
        })
    }

    /// The untyped cache (statistics, shrink, validate).
    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    /// Moves `value` into a new object; `ENOMEM` (and `value` dropped) if
    /// no memory could be had.
    pub fn alloc(&self, value: T, gfp: Gfp) -> Result<Obj<T>> {
        let p = self.cache.alloc(gfp).ok_or(ENOMEM)?.cast::<T>();
        // SAFETY: `p` is a fresh object of `size_of::<T>()` bytes aligned to
        // `align_of::<T>()` (the cache's geometry), owned by us.
        unsafe { p.as_ptr().write(value) };
        Ok(Obj {
            ptr: p,
            cache: self.cache.clone(),
        })
    }
}

/// An owned object of a [`TypedCache`].
///
/// # Invariants
///
/// `ptr` is a live object of `cache` holding an initialised `T`, owned by
/// this handle alone.
pub struct Obj<T> {
    ptr: NonNull<T>,
    cache: Arc<Cache>,
}

// SAFETY: an `Obj<T>` owns its `T` like a box does.
unsafe impl<T: Send> Send for Obj<T> {}
// SAFETY: as above; `&Obj<T>` gives `&T` only.
unsafe impl<T: Sync> Sync for Obj<T> {}

impl<T> core::ops::Deref for Obj<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: initialised and owned (type invariant).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> core::ops::DerefMut for Obj<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above; `&mut self` is unique.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T> Drop for Obj<T> {
    fn drop(&mut self) {
        // SAFETY: the value is initialised and owned (type invariant); the
        // object goes back to the cache it came from, once.
        unsafe {
            core::ptr::drop_in_place(self.ptr.as_ptr());
            self.cache.free(self.ptr.cast());
        }
    }
}
