// SPDX-License-Identifier: GPL-2.0
//! The sheaves mode: per-CPU arrays of object pointers in front of the
//! slabs, the design of mm/slub.c in Linux 7.x (selected per cache at
//! create; the classic per-CPU slab stays the default).
//!
//! - Each CPU has a `main` and a `spare` sheaf ([`CpuSheaves`],
//!   `struct slub_percpu_sheaves`): allocation pops from `main`, free pushes
//!   onto it (`alloc_from_pcs()`, `free_to_pcs()`), without a call. 7.3
//!   guards them with a `local_trylock_t`, which an interrupt on the same
//!   CPU fails (and then goes to the slabs); here every access runs with
//!   interrupts off on the CPU (an inline `IrqsOff` on the fast paths, the
//!   kernel's traced `local_interrupt_disable()` on the slow ones), which no
//!   interrupt can split, so no lock word is needed.
//! - When `main` is empty (full), the slow path swaps in `spare` if that
//!   helps (a full `main` becomes the spare when there is none, as in
//!   7.3's `__pcs_replace_full_main()`), else exchanges `main` with the
//!   *barn* of the CPU's node
//!   (`struct node_barn`, one per node as in 7.3): a full sheaf for an empty
//!   one on allocation (`barn_get`), an empty one for a full one on free
//!   (`barn_put`), at most [`MAX_FULL_SHEAVES`] / [`MAX_EMPTY_SHEAVES`]
//!   kept. Failing that, a sheaf is refilled from the slabs in bulk
//!   (`sheaf_refill`, through the slabs' bulk allocation) or flushed to them
//!   (`sheaf_flush`, through their bulk free), with interrupts on.
//! - Bulk allocation and free go through the sheaves too
//!   (`alloc_from_pcs_bulk()`, `free_to_pcs_bulk()`): a run of objects per
//!   interrupts-off section.
//! - Flushes (shrink, destroy, validate, CPU offline) empty the CPUs'
//!   sheaves and the barns back into the slabs first.
//! - NUMA, as 7.3: a CPU's sheaves hold its node's objects. A free of
//!   another node's object goes to its slab (`can_free_to_pcs()`); an
//!   allocation for the CPU's node takes the main sheaf's object if it is of
//!   that node, and one for another node counts `alloc_node_mismatch` and
//!   takes a single object from that node's slabs (`___slab_alloc()` with a
//!   node), leaving the CPU slab alone.
//!
//! Counters: `alloc_fastpath`/`free_fastpath` count objects served by a
//! sheaf (as in 7.3), plus 7.3's `sheaf_flush`, `sheaf_refill` (objects),
//! `sheaf_alloc`, `sheaf_free` (sheaves), `barn_get`, `barn_get_fail`,
//! `barn_put`, `barn_put_fail`. The slabs underneath count their own events
//! with the classic names.

use super::{Cache, SlabPage, SlabStat};
use crate::glue::{
    atomic::{Atomic, Relaxed},
    gfp::Gfp,
    kmemleak,
    percpu::{IrqsAreOff, IrqsOff, PerCpu},
};
use crate::logic::slab::sheafcap::{self, Trip};
use core::cell::UnsafeCell;
use kernel::{interrupt::local_interrupt_disable, new_spinlock_irq, prelude::*, sync::SpinLockIrq};

mod prefill;
pub(crate) use prefill::PrefilledSheaf;

/// `MAX_FULL_SHEAVES`: full sheaves a barn keeps.
pub(crate) const MAX_FULL_SHEAVES: usize = 10;
/// `MAX_EMPTY_SHEAVES`: empty sheaves a barn keeps.
pub(crate) const MAX_EMPTY_SHEAVES: usize = 10;

/// A sheaf: up to `capacity` objects (`struct slab_sheaf`). A sheaf without
/// a buffer (capacity 0) stands for "none".
type Sheaf = KVec<*mut u8>;

/// A new empty sheaf of `cap` objects (`__alloc_empty_sheaf()`), which
/// kmemleak does not read: past its length a sheaf keeps the addresses of
/// the objects it handed out, which would hide their leaks, and below it
/// only free objects, which kmemleak does not track.
fn new_sheaf(cap: usize, gfp: Gfp) -> Result<Sheaf, kernel::alloc::AllocError> {
    let s: Sheaf = KVec::with_capacity(cap, gfp.for_metadata())?;
    if s.capacity() > 0 {
        kmemleak::no_scan(s.as_ptr().cast());
    }
    Ok(s)
}

/// One CPU's sheaves (`struct slub_percpu_sheaves`).
pub(crate) struct CpuSheaves {
    main: Sheaf,
    spare: Sheaf,
    /// The CPU's node (`numa_mem_id()`), whose barn it uses.
    node: usize,
    /// Its last slow-path trip and when (jiffies),
    /// for adaptive capacity.
    last_trip: Trip,
    last_trip_at: usize,
}

/// The cache's barn (`struct node_barn`): full and empty sheaves, with room
/// reserved for [`MAX_FULL_SHEAVES`] and [`MAX_EMPTY_SHEAVES`] of them so
/// that nothing is allocated under its lock.
pub(crate) struct Barn {
    full: KVec<Sheaf>,
    empty: KVec<Sheaf>,
}

/// A cache's sheaves.
///
/// # Invariants
///
/// A CPU's [`CpuSheaves`] is only accessed with interrupts off on that CPU,
/// or, once the CPU is dead, by the hotplug teardown: never two references
/// at once. Every object in a sheaf (per-CPU or in a barn) is allocated
/// from the cache's slabs and owned by the sheaf; a barn's empty sheaves
/// hold none. `barns` has one barn per node (at least one), and every
/// CPU's `node` indexes it.
#[pin_data]
pub(crate) struct Sheaves {
    pcs: PerCpu<UnsafeCell<CpuSheaves>>,
    barns: KVec<Pin<KBox<SpinLockIrq<Barn>>>>,
    /// The cache's capacity (`sheaf_capacity`): every CPU's, unless
    /// adaptive capacity is on.
    capacity: usize,
    /// Adaptive capacity ([`sheafcap`]) on (1) or 7.3's fixed (0).
    adaptive: Atomic<u32>,
    /// Each CPU's capacity now: the sheaves it takes from here on hold this
    /// many (`capacity` .. `max`). Written by its CPU with interrupts off,
    /// or by a flush of it; read by anyone.
    caps: PerCpu<Atomic<usize>>,
    /// The most a CPU grows to.
    max: usize,
    /// `sheafcap::cached()` of every CPU's capacity, summed: what the CPUs'
    /// sheaves may hold. Never above `budget` when it grows.
    reserved: Atomic<usize>,
    /// The objects the CPUs' sheaves may hold, all together.
    budget: Atomic<usize>,
}

// SAFETY: the per-CPU sheaves are only touched by their CPU with interrupts
// off (type invariant); the barn is under its lock.
unsafe impl Sync for Sheaves {}
// SAFETY: as above; the sheaves own plain addresses.
unsafe impl Send for Sheaves {}

impl Sheaves {
    /// Empty sheaves of `capacity` objects for every CPU, whose node
    /// `cpu_node` gives, and an empty barn for each of `nodes` nodes.
    pub(crate) fn new(
        capacity: u32,
        nodes: usize,
        cpu_node: impl Fn(usize) -> usize,
    ) -> impl PinInit<Self, Error> {
        let nodes = nodes.max(1);
        let (base, cpus) = (capacity as usize, crate::glue::cpu::nr_cpu_ids());
        try_pin_init!(Sheaves {
            pcs: PerCpu::new(|c| {
                UnsafeCell::new(CpuSheaves {
                    main: Sheaf::new(),
                    spare: Sheaf::new(),
                    // INVARIANT: a node with a barn.
                    node: cpu_node(c).min(nodes - 1),
                    last_trip: Trip::None,
                    last_trip_at: 0,
                })
            })?,
            caps: PerCpu::new(|_| Atomic::new(base))?,
            barns: {
                let mut v = KVec::with_capacity(nodes, GFP_KERNEL)?;
                for _ in 0..nodes {
                    v.push(
                        KBox::pin_init(
                            new_spinlock_irq!(Barn {
                                full: KVec::with_capacity(MAX_FULL_SHEAVES, GFP_KERNEL)?,
                                empty: KVec::with_capacity(MAX_EMPTY_SHEAVES, GFP_KERNEL)?,
                            }),
                            GFP_KERNEL,
                        )?,
                        GFP_KERNEL,
                    )?;
                }
                v
            },
            capacity: base,
            adaptive: Atomic::new(0),
            max: sheafcap::max_capacity(base, super::MAX_SHEAF_CAPACITY as usize),
            reserved: Atomic::new(sheafcap::cached(base, cpus)),
            budget: Atomic::new(sheafcap::default_budget(base, cpus)),
        }? Error)
    }

    /// Node `node`'s barn (`get_barn_node()`).
    fn barn(&self, node: usize) -> &SpinLockIrq<Barn> {
        // Every CPU's node has a barn (type invariant), and there is one.
        let i = node.min(self.barns.len().saturating_sub(1));
        &self.barns[i]
    }

    /// The node of the CPU this runs on, as its sheaves know it (a CPU
    /// that moves meanwhile makes it stale: callers use it as a hint).
    #[inline(always)]
    fn this_node(&self) -> usize {
        // SAFETY: dropped by the end of this block, inside every interrupts-off
        // guard live now (sections nest).
        let irq = unsafe { IrqsOff::new() };
        // SAFETY: interrupts are off; no other reference is made.
        unsafe { self.this(&irq) }.node
    }

    /// Objects per sheaf (`sheaf_capacity`).
    pub(crate) fn capacity(&self) -> u32 {
        self.capacity as u32
    }

    /// Whether adaptive capacity is on.
    pub(crate) fn adaptive(&self) -> bool {
        self.adaptive.load(Relaxed) != 0
    }

    /// CPU `cpu`'s capacity now.
    pub(crate) fn cpu_capacity(&self, cpu: usize) -> usize {
        self.caps
            .get(cpu)
            .map_or(self.capacity, |c| c.load(Relaxed))
    }

    /// The budget: objects the CPUs' sheaves may hold, all together.
    pub(crate) fn budget(&self) -> usize {
        self.budget.load(Relaxed)
    }

    /// What the CPUs' capacities let their sheaves hold now, all together.
    pub(crate) fn reserved(&self) -> usize {
        self.reserved.load(Relaxed)
    }

    /// The most a CPU grows to.
    #[cfg(rslab_kunit)]
    pub(crate) fn max_capacity(&self) -> usize {
        self.max
    }

    /// The fewest the budget may be: every CPU at the cache's capacity.
    pub(crate) fn min_budget(&self) -> usize {
        sheafcap::cached(self.capacity, crate::glue::cpu::nr_cpu_ids())
    }

    /// Puts CPU `cpu` back to the cache's capacity; whether it was above.
    /// Called where nothing else touches its sheaves (a flush of it).
    fn reset_capacity(&self, cpu: usize) -> bool {
        let Some(c) = self.caps.get(cpu) else {
            return false;
        };
        let cap = c.xchg(self.capacity, Relaxed);
        if cap <= self.capacity {
            return false;
        }
        let give = sheafcap::cached(cap - self.capacity, 1);
        self.reserved.fetch_sub(give, Relaxed);
        true
    }

    /// This CPU's sheaves.
    ///
    /// # Safety
    ///
    /// No other reference to this CPU's sheaves is live while the result is
    /// used (the caller makes none, and interrupts are off).
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    unsafe fn this<'a>(&'a self, irq: &'a impl IrqsAreOff) -> &'a mut CpuSheaves {
        // SAFETY: interrupts are off on this CPU, so nothing else on it runs,
        // and other CPUs do not touch its sheaves (type invariant); the
        // caller makes no second reference.
        unsafe { &mut *self.pcs.this(irq).get() }
    }
}

/// Pushes `o` onto `v` if it has room (`push_within_capacity()`, inline:
/// the kernel crate's is not, and the fast paths make no call).
#[inline(always)]
fn push_within(v: &mut KVec<*mut u8>, o: *mut u8) -> bool {
    let len = v.len();
    if len >= v.capacity() {
        return false;
    }
    // SAFETY: `len < capacity`: the slot is allocated and unused; it is
    // written before the length covers it, and `len + 1` does not overflow
    // (said so the compiler need not check it, which is a call out).
    unsafe {
        v.as_mut_ptr().add(len).write(o);
        core::hint::assert_unchecked(v.len() == len);
        v.inc_len(1);
    }
    true
}

impl Cache {
    /// Turns adaptive sheaf capacity on or off (`EINVAL` for a cache
    /// without sheaves). Turned off, every CPU is flushed back to the
    /// cache's capacity (7.3's fixed behaviour). May sleep.
    pub(crate) fn set_sheaf_adaptive(&self, on: bool) -> Result {
        let sh = self.sheaves().ok_or(EINVAL)?;
        sh.adaptive.store(u32::from(on), Relaxed);
        if !on {
            self.flush_all();
        }
        Ok(())
    }

    /// Sets the budget of objects the CPUs' sheaves may hold: `EINVAL` for
    /// a cache without sheaves or below every CPU at the cache's capacity
    /// (and nothing changes). A budget below what the CPUs hold now flushes
    /// them back to the cache's capacity. May sleep.
    pub(crate) fn set_sheaf_budget(&self, budget: usize) -> Result {
        let sh = self.sheaves().ok_or(EINVAL)?;
        if budget < sh.min_budget() {
            return Err(EINVAL);
        }
        sh.budget.store(budget, Relaxed);
        if sh.reserved() > budget {
            self.flush_all();
        }
        Ok(())
    }

    /// Trips to the barn so far (`barn_get`, `barn_get_fail`, `barn_put`,
    /// `barn_put_fail`: each took a barn's lock).
    pub(crate) fn barn_trips(&self) -> u64 {
        self.stats.sum_of(
            [
                SlabStat::BarnGet,
                SlabStat::BarnGetFail,
                SlabStat::BarnPut,
                SlabStat::BarnPutFail,
            ]
            .map(|s| s as usize),
        )
    }

    /// The sheaves, if the cache has them.
    #[inline(always)]
    pub(crate) fn sheaves(&self) -> Option<&Sheaves> {
        self.sheaves.as_deref()
    }

    /// `alloc_from_pcs()`: an object off this CPU's main sheaf, without a
    /// call; the slow path otherwise. With `init` (a constant at each call)
    /// initialised by a tail call (see [`Cache::slab_alloc_node`]).
    ///
    /// For a cache with sheaves: the sheaves are looked up here, from
    /// `self`, so that no other cache's can be passed in (where the caller
    /// has just tested [`Cache::sheaves`], inline, the compiler reuses that
    /// load and drops the fallback to the slabs).
    #[inline(always)]
    pub(super) fn sheaf_alloc(&self, gfp: Gfp, init: bool) -> usize {
        let Some(sh) = self.sheaves() else {
            return self.slab_alloc_slow(gfp, self.layout.object_size, None, init);
        };
        {
            // SAFETY: dropped by the end of this block, inside every interrupts-off
            // guard live now (sections nest).
            let irq = unsafe { IrqsOff::new() };
            // SAFETY: interrupts are off; no other reference is made.
            let pcs = unsafe { sh.this(&irq) };
            if let Some(o) = pcs.main.pop() {
                self.stats
                    .add_irqs_off(&irq, SlabStat::AllocFastpath as usize, 1);
                drop(irq);
                // SAFETY: `o` is ours now, handed to nobody yet.
                return unsafe {
                    self.post_alloc_if(init, o as usize, gfp, self.layout.object_size)
                };
            }
        }
        self.sheaf_alloc_slow(gfp, init)
    }

    /// `free_to_pcs()`: `obj`, an object of `slab`, onto this CPU's main
    /// sheaf if it has room and is of this CPU's node, without a call; to
    /// its slab if it is another node's (`can_free_to_pcs()`); the slow path
    /// otherwise.
    ///
    /// # Safety
    ///
    /// `sh` is this cache's sheaves, `slab` a slab of this cache, and `obj`
    /// an object of `slab` that the caller gives up: allocated, and not used
    /// by anybody any more.
    #[inline(always)]
    pub(super) unsafe fn sheaf_free(&self, sh: &Sheaves, slab: &SlabPage, obj: usize) {
        {
            // SAFETY: dropped by the end of this block, inside every interrupts-off
            // guard live now (sections nest).
            let irq = unsafe { IrqsOff::new() };
            // SAFETY: as above.
            let pcs = unsafe { sh.this(&irq) };
            if slab.node() != pcs.node {
                drop(irq);
                // SAFETY: `obj` alone is a detached list of one object of
                // `slab`, a slab of this cache, given up by our caller (its
                // guarantee).
                return unsafe { self.do_slab_free(slab, obj, obj, 1) };
            }
            // INVARIANT: `obj`, an allocated object of this cache that the
            // caller gives up, goes to this cache's sheaf.
            if push_within(&mut pcs.main, obj as *mut u8) {
                self.stats
                    .add_irqs_off(&irq, SlabStat::FreeFastpath as usize, 1);
                return;
            }
        }
        // SAFETY: `sh` is this cache's sheaves, and `obj` an object of this
        // cache that our caller gave up (its guarantee).
        unsafe { self.sheaf_free_slow(sh, obj) }
    }

    /// `alloc_from_pcs()` with a node: for this CPU's node, the main
    /// sheaf's last object if it is of that node (7.3 verifies it, as a
    /// migration may have put another node's object there), without a
    /// call; the slow path otherwise. The sheaves are looked up as in
    /// [`Cache::sheaf_alloc`].
    #[inline(always)]
    pub(super) fn sheaf_alloc_node(&self, gfp: Gfp, nid: Option<usize>, init: bool) -> usize {
        let Some(n) = nid else {
            return self.sheaf_alloc(gfp, init);
        };
        let Some(sh) = self.sheaves() else {
            return self.slab_alloc_slow(gfp, self.layout.object_size, nid, init);
        };
        {
            // SAFETY: dropped by the end of this block, inside every interrupts-off
            // guard live now (sections nest).
            let irq = unsafe { IrqsOff::new() };
            // SAFETY: interrupts are off; no other reference is made.
            let pcs = unsafe { sh.this(&irq) };
            if let Some(&o) = pcs.main.last().filter(|_| pcs.node == n) {
                // SAFETY: `o` is in this CPU's sheaf, which owns it, so its
                // slab stays.
                let slab = unsafe { self.slab_of(o as usize) };
                if slab.is_some_and(|s| s.node() == n) {
                    pcs.main.pop();
                    self.stats
                        .add_irqs_off(&irq, SlabStat::AllocFastpath as usize, 1);
                    drop(irq);
                    // SAFETY: `o` is ours now, handed to nobody yet.
                    return unsafe {
                        self.post_alloc_if(init, o as usize, gfp, self.layout.object_size)
                    };
                }
            }
        }
        self.sheaf_alloc_node_slow(gfp, n, init)
    }

    /// The slow path of [`Cache::sheaf_alloc_node`]: for this CPU's node
    /// with an empty main sheaf, the refill, whose object is checked; for
    /// another node (or an object of another one), `alloc_node_mismatch`
    /// and a single object of node `n`'s slabs.
    #[inline(never)]
    fn sheaf_alloc_node_slow(&self, gfp: Gfp, n: usize, init: bool) -> usize {
        let o = self.sheaf_alloc_node_slow_inner(gfp, n);
        // SAFETY: `o` was just allocated, handed to nobody yet.
        unsafe { self.post_alloc_if(init, o, gfp, self.layout.object_size) }
    }

    /// [`Cache::sheaf_alloc_node_slow`] without the initialisation.
    fn sheaf_alloc_node_slow_inner(&self, gfp: Gfp, n: usize) -> usize {
        let Some(sh) = self.sheaves() else {
            return self.slab_alloc_slow(gfp, self.layout.object_size, Some(n), false);
        };
        let empty_local = {
            // SAFETY: dropped by the end of this block, inside every interrupts-off
            // guard live now (sections nest).
            let irq = unsafe { IrqsOff::new() };
            // SAFETY: interrupts are off; no other reference is made.
            let pcs = unsafe { sh.this(&irq) };
            pcs.node == n && pcs.main.is_empty()
        };
        if empty_local {
            let o = self.sheaf_alloc_slow(gfp, false);
            // SAFETY: `o`, if any, was just allocated and is held here.
            if o == 0 || unsafe { self.slab_of(o) }.is_some_and(|s| s.node() == n) {
                return o;
            }
            // Refilled from another node (this one had nothing): back to its
            // slab, and a single object of node `n` as below.
            // SAFETY: `o` (not 0) was just allocated from this cache here,
            // handed to nobody, and is not used again.
            unsafe { self.free_to_slab(o) };
        }
        self.stat(SlabStat::AllocNodeMismatch);
        self.alloc_single_node(gfp, n)
    }

    /// `alloc_from_pcs_bulk()`: fills `out` from this CPU's main sheaf, a
    /// run per interrupts-off section, refilling through the slow path; all
    /// or nothing. The sheaves are looked up as in [`Cache::sheaf_alloc`].
    #[inline(always)]
    pub(super) fn sheaf_alloc_bulk(&self, gfp: Gfp, out: &mut [*mut u8]) -> usize {
        let Some(sh) = self.sheaves() else {
            return self.slab_alloc_bulk(gfp, out);
        };
        let mut i = 0;
        while i < out.len() {
            {
                // SAFETY: dropped by the end of this block, inside every interrupts-off
                // guard live now (sections nest).
                let irq = unsafe { IrqsOff::new() };
                // SAFETY: interrupts are off; no other reference is made.
                let pcs = unsafe { sh.this(&irq) };
                // `alloc_from_pcs_bulk()`: a run off the top of the main
                // sheaf in one go, the last freed first.
                let len = pcs.main.len();
                let rest = out.get_mut(i..).unwrap_or_default();
                let n = rest.len().min(len);
                let left = len.wrapping_sub(n);
                for (slot, &o) in rest
                    .iter_mut()
                    .zip(pcs.main.get(left..).unwrap_or_default().iter().rev())
                {
                    *slot = o;
                }
                pcs.main.truncate(left);
                // `i + n <= out.len()`: no overflow.
                i = i.wrapping_add(n);
                self.stats
                    .add_irqs_off(&irq, SlabStat::AllocFastpath as usize, n as u64);
            }
            if let Some(slot) = out.get_mut(i) {
                let o = self.sheaf_alloc_slow(gfp, false);
                if o == 0 {
                    // SAFETY: `out[..i]` were just allocated from this
                    // cache (above) and handed to nobody; `sh` is this
                    // cache's sheaves (`self.sheaves()`, above).
                    unsafe { self.sheaf_free_bulk(sh, out.get_mut(..i).unwrap_or_default()) };
                    return 0;
                }
                *slot = o as *mut u8;
                i = i.wrapping_add(1);
            }
        }
        out.len()
    }

    /// `free_to_pcs_bulk()`: on a hardened cache, or one with free hooks or
    /// of more than one node, looks up every object's slab and checks it as
    /// a single free does (a bad one is reported and dropped), runs the
    /// hooks, and gathers the local ones at the front of `objs`, then copies
    /// them onto this CPU's main sheaf, a run per interrupts-off section,
    /// through the slow path when it is full. Objects of the slab of the
    /// previous one are recognised by their address, without the pfn map.
    /// Leaves `objs` null.
    ///
    /// # Safety
    ///
    /// As for [`Cache::free_bulk`]; `sh` is this cache's sheaves.
    #[inline(always)]
    pub(super) unsafe fn sheaf_free_bulk(&self, sh: &Sheaves, objs: &mut [*mut u8]) {
        if !(self.check_slot || self.init.free_hook) && sh.barns.len() == 1 {
            // SAFETY: the caller's guarantee; `sh` is this cache's sheaves,
            // which has one node.
            return unsafe { self.sheaf_free_bulk_trusted(sh, objs) };
        }
        // Read once: the loop's calls (reports, hooks, remote frees) would
        // have the compiler read them again for every object.
        let geo = self.geometry();
        let (hook, check) = (self.init.free_hook, self.check_slot);
        // The slab of the last object looked up, its address and the bytes
        // of its objects.
        let (mut base, mut span, mut slab): (usize, usize, Option<&SlabPage>) = (0, 0, None);
        // Another node's objects go to their slabs (`can_free_to_pcs()`),
        // checked once per slab run.
        let node = sh.this_node();
        let mut remote = false;
        // `objs[..local]`: the checked objects of this node, in order.
        let mut local = 0usize;
        let p = objs.as_mut_ptr();
        for r in 0..objs.len() {
            // SAFETY: `r < objs.len()`.
            let o = unsafe { p.add(r).replace(core::ptr::null_mut()) } as usize;
            if o == 0 {
                continue;
            }
            // An object of the same slab is recognised by its address,
            // without the pfn map (and, as `slab_of_freed()`, checked to
            // start a slot only with `check_slot`).
            let same = slab.is_some_and(|s| {
                o.wrapping_sub(base) < span && (!check || geo.is_object_of(s, base, o))
            });
            if !same {
                // SAFETY: the caller is freeing `o`, so it holds it.
                match unsafe { self.slab_of_freed(o) } {
                    Some(s) => {
                        base = s.base() as usize;
                        span = geo.span(s);
                        slab = Some(s);
                        remote = s.node() != node;
                    }
                    None => {
                        // SAFETY: the caller is freeing `o`, so it holds it.
                        unsafe { self.bad_free(o) };
                        continue;
                    }
                }
            }
            if hook {
                // SAFETY: `o` is an object of this cache (checked), being freed.
                unsafe { self.free_hooks(o) };
            }
            if remote {
                if let Some(s) = slab.take() {
                    // The free may discard the slab: the next object looks
                    // its own up (`slab` taken above).
                    // SAFETY: `o` alone is a detached list of one object of
                    // `s`, a slab of this cache (checked above); the caller
                    // gives it up, and its slot is cleared so that nothing
                    // below frees it again.
                    unsafe { self.do_slab_free(s, o, o, 1) };
                }
                continue;
            }
            // SAFETY: `local <= r < objs.len()`.
            unsafe { *p.add(local) = o as *mut u8 };
            // `local <= r`: no overflow.
            local = local.wrapping_add(1);
        }
        let mut done = 0usize;
        while done < local {
            {
                // SAFETY: dropped by the end of this block, inside every interrupts-off
                // guard live now (sections nest).
                let irq = unsafe { IrqsOff::new() };
                // SAFETY: interrupts are off; no other reference is made.
                let pcs = unsafe { sh.this(&irq) };
                // `__free_to_pcs_batch()`: as many as the main sheaf has
                // room for, in one go.
                let len = pcs.main.len();
                let n = pcs
                    .main
                    .capacity()
                    .wrapping_sub(len)
                    .min(local.wrapping_sub(done));
                let dst = pcs.main.as_mut_ptr();
                for k in 0..n {
                    // SAFETY: `done + k < local <= objs.len()`, and
                    // `len + k < capacity`: a slot of the sheaf's buffer,
                    // covered by its length below.
                    // INVARIANT: `objs[done + k]` is an allocated object of
                    // this cache (checked above) that the caller gives up;
                    // its slot is cleared as the sheaf takes it.
                    unsafe {
                        let q = p.add(done.wrapping_add(k));
                        dst.add(len.wrapping_add(k))
                            .write(q.replace(core::ptr::null_mut()));
                    }
                }
                // SAFETY: the `n` slots past the length were written above;
                // `len + n <= capacity` does not overflow (said so the
                // compiler need not check it, which is a call out).
                unsafe {
                    core::hint::assert_unchecked(
                        pcs.main.len() == len && len.checked_add(n).is_some(),
                    );
                    pcs.main.inc_len(n);
                }
                // `done + n <= local`: no overflow.
                done = done.wrapping_add(n);
                self.stats
                    .add_irqs_off(&irq, SlabStat::FreeFastpath as usize, n as u64);
            }
            if done < local {
                // The main sheaf is full: the slow path makes room.
                // SAFETY: `done < local <= objs.len()`.
                let o = unsafe { p.add(done).replace(core::ptr::null_mut()) } as usize;
                done = done.wrapping_add(1);
                // SAFETY: `sh` is this cache's sheaves (the caller's
                // guarantee). `o` is a checked object of this cache, one the
                // caller gives up; its slot is cleared, so it is freed once.
                unsafe { self.sheaf_free_slow(sh, o) };
            }
        }
    }

    /// `free_to_pcs_bulk()` where nothing needs an object's slab: a cache
    /// without hardening (7.3's `cache_from_obj()` checks the object's
    /// cache only under `CONFIG_SLAB_FREELIST_HARDENED` or consistency
    /// checks), without free hooks, and of one node (no object is another
    /// node's). The objects go onto this CPU's main sheaf as they come, a
    /// run per interrupts-off section, through the slow path when it is
    /// full. Leaves `objs` null.
    ///
    /// # Safety
    ///
    /// As for [`Cache::free_bulk`]; `sh` is this cache's sheaves, with one
    /// barn.
    #[inline(always)]
    unsafe fn sheaf_free_bulk_trusted(&self, sh: &Sheaves, objs: &mut [*mut u8]) {
        let (p, n) = (objs.as_mut_ptr(), objs.len());
        let mut r = 0usize;
        while r < n {
            {
                // SAFETY: dropped by the end of this block, inside every interrupts-off
                // guard live now (sections nest).
                let irq = unsafe { IrqsOff::new() };
                // SAFETY: interrupts are off; no other reference is made.
                let pcs = unsafe { sh.this(&irq) };
                let (len, cap) = (pcs.main.len(), pcs.main.capacity());
                let dst = pcs.main.as_mut_ptr();
                let mut k = len;
                while r < n && k < cap {
                    // SAFETY: `r < n`, a slot of `objs`.
                    let o = unsafe { p.add(r).replace(core::ptr::null_mut()) };
                    // `r < n`: no overflow.
                    r = r.wrapping_add(1);
                    if !o.is_null() {
                        // SAFETY: `k < cap`: a slot of the sheaf's buffer,
                        // covered by its length below.
                        // INVARIANT: `o` is an object of this cache that the
                        // caller gives up (its guarantee); its slot is
                        // cleared as the sheaf takes it.
                        unsafe { dst.add(k).write(o) };
                        // `k < cap`: no overflow.
                        k = k.wrapping_add(1);
                    }
                }
                let added = k.wrapping_sub(len);
                // SAFETY: the `added` slots past the length were written
                // above; `len + added = k <= cap` does not overflow (said so
                // the compiler need not check it, which is a call out).
                unsafe {
                    core::hint::assert_unchecked(
                        pcs.main.len() == len && len.checked_add(added).is_some(),
                    );
                    pcs.main.inc_len(added);
                }
                self.stats
                    .add_irqs_off(&irq, SlabStat::FreeFastpath as usize, added as u64);
            }
            // The main sheaf is full (or `objs` done): the slow path makes
            // room with the next object.
            while r < n {
                // SAFETY: `r < n`, a slot of `objs`.
                let o = unsafe { p.add(r).replace(core::ptr::null_mut()) } as usize;
                r = r.wrapping_add(1);
                if o != 0 {
                    // SAFETY: `sh` is this cache's sheaves; `o` is an object
                    // of this cache that the caller gives up, its slot
                    // cleared, so it is freed once.
                    unsafe { self.sheaf_free_slow(sh, o) };
                    break;
                }
            }
        }
    }

    /// A slow-path trip of this CPU's sheaves (`pcs`, interrupts off) in
    /// direction `d`: under adaptive capacity, one that alternates with the
    /// CPU's last trip within a second grows its capacity by half if the
    /// budget has room (`sheaf_grow`; `sheaf_grow_fail` if not). Returns the
    /// capacity of the sheaves the CPU takes from now on.
    fn sheaf_trip(
        &self,
        sh: &Sheaves,
        pcs: &mut CpuSheaves,
        irq: &impl IrqsAreOff,
        d: Trip,
    ) -> usize {
        let cap = sh.caps.this(irq);
        if !sh.adaptive() {
            return cap.load(Relaxed);
        }
        let now = crate::glue::cpu::jiffies();
        let window = kernel::time::msecs_to_jiffies(1000) as usize;
        let c = cap.load(Relaxed);
        if sheafcap::alternates(pcs.last_trip, pcs.last_trip_at, d, now, window) {
            let new = sheafcap::grown(c, sh.max);
            if new > c {
                let add = sheafcap::cached(new - c, 1);
                let r = sh.reserved.fetch_add(add, Relaxed).wrapping_add(add);
                if r <= sh.budget() {
                    cap.store(new, Relaxed);
                    self.stat(SlabStat::SheafGrow);
                } else {
                    sh.reserved.fetch_sub(add, Relaxed);
                    self.stat(SlabStat::SheafGrowFail);
                }
            }
        }
        pcs.last_trip = d;
        pcs.last_trip_at = now;
        cap.load(Relaxed)
    }

    /// An empty sheaf of `want` objects: `e` (the barn's) if it has that
    /// capacity (else it is freed), or a new one allocated without
    /// sleeping.
    fn empty_sheaf(&self, e: Option<Sheaf>, want: usize) -> Option<Sheaf> {
        match e {
            Some(e) if e.capacity() == want => Some(e),
            other => {
                if other.is_some() {
                    self.stat(SlabStat::SheafFree);
                }
                drop(other);
                new_sheaf(want, Gfp::NOWAIT)
                    .ok()
                    .inspect(|_| self.stat(SlabStat::SheafAlloc))
            }
        }
    }

    /// Pops an object off `pcs.main`, counting it.
    fn pop_main(&self, pcs: &mut CpuSheaves) -> Option<usize> {
        let o = pcs.main.pop()?;
        self.stat(SlabStat::AllocFastpath);
        Some(o as usize)
    }

    /// The slow path of a sheaves allocation ([`Cache::sheaf_alloc_slow_inner`])
    /// and, with `init`, [`Cache::post_alloc`]. 0 if no memory could be had.
    #[inline(never)]
    fn sheaf_alloc_slow(&self, gfp: Gfp, init: bool) -> usize {
        let o = self.sheaf_alloc_slow_inner(gfp);
        // SAFETY: `o` was just allocated, handed to nobody yet.
        unsafe { self.post_alloc_if(init, o, gfp, self.layout.object_size) }
    }

    /// `__pcs_replace_empty_main()` and the refill: the slow path of a
    /// sheaves allocation. 0 if no memory could be had.
    fn sheaf_alloc_slow_inner(&self, gfp: Gfp) -> usize {
        let Some(sh) = self.sheaves() else {
            return self.slab_alloc_slow(gfp, self.layout.object_size, None, false);
        };
        let mut sheaf;
        let want;
        {
            let irq = local_interrupt_disable();
            // SAFETY: interrupts are off; no other reference is made.
            let pcs = unsafe { sh.this(&irq) };
            if let Some(o) = self.pop_main(pcs) {
                return o;
            }
            if !pcs.spare.is_empty() {
                core::mem::swap(&mut pcs.main, &mut pcs.spare);
                if let Some(o) = self.pop_main(pcs) {
                    return o;
                }
            }
            want = self.sheaf_trip(sh, pcs, &irq, Trip::Underflow);
            let mut barn = sh.barn(pcs.node).lock();
            if let Some(full) = barn.full.pop() {
                self.stat(SlabStat::BarnGet);
                let empty = core::mem::replace(&mut pcs.main, full);
                let o = self.pop_main(pcs);
                if empty.capacity() > 0 {
                    // INVARIANT: `empty`, the main sheaf that `pop_main`
                    // found empty, holds no object.
                    if let Err(e) = barn.empty.push_within_capacity(empty) {
                        drop(barn);
                        drop(e);
                        self.stat(SlabStat::SheafFree);
                    }
                }
                // (A full sheaf always has an object.)
                return o.unwrap_or(0);
            }
            self.stat(SlabStat::BarnGetFail);
            // Refill this CPU's empty main sheaf, or an empty one from the
            // barn, or (below) a new one, with interrupts on.
            sheaf = if pcs.main.capacity() > 0 {
                core::mem::take(&mut pcs.main)
            } else {
                barn.empty.pop().unwrap_or_default()
            };
        }
        if sheaf.capacity() != want {
            match new_sheaf(want, gfp) {
                Ok(s) => {
                    if sheaf.capacity() > 0 {
                        self.stat(SlabStat::SheafFree);
                    }
                    sheaf = s;
                    self.stat(SlabStat::SheafAlloc);
                }
                // No sheaf: serve this one allocation from the slabs.
                Err(_) => return self.slab_alloc(gfp, self.layout.object_size),
            }
        }
        // The sheaf is empty, of capacity `want`: filled to it, or left
        // empty.
        if !self.refill_objects(gfp, &mut sheaf, false) {
            self.give_back_sheaf(sheaf);
            return self.slab_alloc(gfp, self.layout.object_size);
        }
        self.stats.add(SlabStat::SheafRefill as usize, want as u64);
        // Install it on whatever CPU this is now.
        // INVARIANT: `sheaf` holds objects just allocated from this cache,
        // handed to nobody else.
        let irq = local_interrupt_disable();
        // SAFETY: interrupts are off; no other reference is made.
        let pcs = unsafe { sh.this(&irq) };
        let extra = if pcs.main.is_empty() {
            let old = core::mem::replace(&mut pcs.main, sheaf);
            if old.capacity() > 0 && pcs.spare.capacity() == 0 {
                pcs.spare = old;
                None
            } else {
                Some(old)
            }
        } else if pcs.spare.is_empty() {
            let old = core::mem::replace(&mut pcs.spare, sheaf);
            (old.capacity() > 0).then_some(old)
        } else {
            // Both full meanwhile: to the barn, or back to the slabs.
            let mut barn = sh.barn(pcs.node).lock();
            match barn.full.push_within_capacity(sheaf) {
                Ok(()) => {
                    self.stat(SlabStat::BarnPut);
                    self.decay.arm();
                    None
                }
                Err(e) => {
                    self.stat(SlabStat::BarnPutFail);
                    Some(e.0)
                }
            }
        };
        let o = self.pop_main(pcs).unwrap_or(0);
        drop(irq);
        if let Some(s) = extra {
            // SAFETY: `s` was this CPU's main or spare sheaf of this cache's
            // sheaves `sh`, or the one refilled above from this cache's
            // slabs: its objects are allocated objects of this cache that
            // it owns (type invariant of `Sheaves`), taken off the CPU (or
            // never put there) with interrupts off, so nothing else holds
            // them.
            unsafe { self.flush_sheaf(s) };
        }
        o
    }

    /// `__pcs_replace_full_main()` and the flush: the slow path of a
    /// sheaves free.
    ///
    /// # Safety
    ///
    /// `sh` is this cache's sheaves, and `obj` an object of this cache that
    /// the caller gives up: allocated, and not used by anybody any more.
    #[inline(never)]
    unsafe fn sheaf_free_slow(&self, sh: &Sheaves, obj: usize) {
        let mut sheaf;
        let want;
        {
            let irq = local_interrupt_disable();
            // SAFETY: interrupts are off; no other reference is made.
            let pcs = unsafe { sh.this(&irq) };
            // INVARIANT (every push of `obj` here): an allocated object of
            // this cache that the caller gives up goes to this cache's
            // sheaf; the sheaves moved to the barn keep theirs.
            if push_within(&mut pcs.main, obj as *mut u8) {
                self.stat(SlabStat::FreeFastpath);
                return;
            }
            if pcs.spare.capacity() > 0 && pcs.spare.is_empty() {
                core::mem::swap(&mut pcs.main, &mut pcs.spare);
                if pcs.main.push_within_capacity(obj as *mut u8).is_ok() {
                    self.stat(SlabStat::FreeFastpath);
                    return;
                }
            }
            want = self.sheaf_trip(sh, pcs, &irq, Trip::Overflow);
            // Without a spare (`__pcs_replace_full_main()`'s `!pcs->spare`):
            // the full main sheaf becomes the spare, an empty one (the
            // barn's, else a new one, allocated without sleeping) main; the
            // next allocation to empty main swaps the spare back in, with
            // no trip to the barn.
            if pcs.spare.capacity() == 0 && pcs.main.capacity() > 0 {
                let empty = sh.barn(pcs.node).lock().empty.pop();
                if let Some(empty) = self.empty_sheaf(empty, want) {
                    pcs.spare = core::mem::replace(&mut pcs.main, empty);
                    if pcs.main.push_within_capacity(obj as *mut u8).is_ok() {
                        self.stat(SlabStat::FreeFastpath);
                        return;
                    }
                }
            }
            // `barn_replace_full_sheaf()`: the full main sheaf into the
            // barn, an empty one (the barn's, else a new one, allocated
            // without sleeping) as main.
            let mut barn = sh.barn(pcs.node).lock();
            if barn.full.len() < MAX_FULL_SHEAVES {
                let empty = barn.empty.pop();
                if let Some(empty) = self.empty_sheaf(empty, want) {
                    let full = core::mem::replace(&mut pcs.main, empty);
                    if full.capacity() > 0 {
                        // Room checked above: cannot fail.
                        let _ = barn.full.push_within_capacity(full);
                        self.stat(SlabStat::BarnPut);
                        self.decay.arm();
                    }
                    if pcs.main.push_within_capacity(obj as *mut u8).is_ok() {
                        self.stat(SlabStat::FreeFastpath);
                        return;
                    }
                }
            } else {
                self.stat(SlabStat::BarnPutFail);
            }
            drop(barn);
            // Flush this CPU's main sheaf to the slabs, with interrupts on.
            sheaf = core::mem::take(&mut pcs.main);
        }
        if sheaf.capacity() == 0 {
            // A CPU without any sheaf yet: get one.
            match new_sheaf(want, Gfp::ATOMIC) {
                Ok(s) => {
                    sheaf = s;
                    self.stat(SlabStat::SheafAlloc);
                }
                Err(_) => {
                    // No sheaf: this object goes to its slab directly.
                    // SAFETY: `obj` is an object of this cache that our
                    // caller gave up (its guarantee); no sheaf took it.
                    return unsafe { self.free_to_slab(obj) };
                }
            }
        } else {
            // SAFETY: `sheaf` was this CPU's main sheaf of this cache's
            // sheaves `sh` (the caller's guarantee), taken off the CPU with
            // interrupts off: its objects are allocated objects of this
            // cache that it owns (type invariant of `Sheaves`), held by
            // nothing else now.
            unsafe { self.flush_objects(&mut sheaf) };
            // Of another capacity than the CPU's now: a new one if one can
            // be had.
            if sheaf.capacity() != want {
                if let Ok(s) = new_sheaf(want, Gfp::ATOMIC) {
                    sheaf = s;
                    self.stat(SlabStat::SheafFree);
                    self.stat(SlabStat::SheafAlloc);
                }
            }
        }
        let irq = local_interrupt_disable();
        // SAFETY: interrupts are off; no other reference is made.
        let pcs = unsafe { sh.this(&irq) };
        if pcs.main.capacity() == 0 {
            pcs.main = sheaf;
            if pcs.main.push_within_capacity(obj as *mut u8).is_ok() {
                self.stat(SlabStat::FreeFastpath);
                return;
            }
            drop(irq);
            // SAFETY: `obj` is an object of this cache that our caller gave
            // up (its guarantee); the push failed, so no sheaf took it.
            return unsafe { self.free_to_slab(obj) };
        }
        drop(irq);
        self.give_back_sheaf(sheaf);
        // SAFETY: `obj` is an object of this cache that our caller gave up
        // (its guarantee); no sheaf took it on this path.
        unsafe { self.free_to_slab(obj) };
    }

    /// Frees one object of this cache to its slab (the classic path).
    ///
    /// # Safety
    ///
    /// `obj` is an object of this cache that the caller gives up: allocated,
    /// and not used (or freed) by anybody any more.
    unsafe fn free_to_slab(&self, obj: usize) {
        // SAFETY: `obj` is an object of this cache being freed by the
        // caller, who held it until now (its guarantee), so its slab stays.
        match unsafe { self.slab_of(obj) } {
            // SAFETY: `obj` alone is a detached list of one object of
            // `slab`, a slab of this cache (`slab_of` checked it), that the
            // caller gives up.
            Some(slab) => unsafe { self.do_slab_free(slab, obj, obj, 1) },
            // SAFETY: the caller is freeing `obj`, so it holds it.
            None => unsafe { self.bad_free(obj) },
        }
    }

    /// `sheaf_flush_unused()`: frees a sheaf's objects to the slabs, in bulk,
    /// and leaves it empty.
    ///
    /// # Safety
    ///
    /// Every pointer in `sheaf` is an allocated object of this cache that
    /// the sheaf owns (a sheaf of this cache's [`Sheaves`] or a prefilled
    /// one of this cache, taken where nothing else reaches it) and that
    /// nobody uses any more: the caller gives them up.
    unsafe fn flush_objects(&self, sheaf: &mut Sheaf) {
        let n = sheaf.len();
        if n == 0 {
            return;
        }
        // SAFETY: the objects are allocated objects of this cache, each once
        // in the sheaf, given up by our caller (its guarantee), and not in
        // any other sheaf; cleared from it below, so freed once.
        unsafe { self.slab_free_bulk(&mut sheaf[..], false) };
        sheaf.clear();
        self.decay.arm();
        self.stats.add(SlabStat::SheafFlush as usize, n as u64);
    }

    /// Flushes a sheaf and keeps it in the barn as empty, or frees it.
    ///
    /// # Safety
    ///
    /// As for [`Cache::flush_objects`].
    unsafe fn flush_sheaf(&self, mut sheaf: Sheaf) {
        // SAFETY: our caller's guarantee.
        unsafe { self.flush_objects(&mut sheaf) };
        self.give_back_sheaf(sheaf);
    }

    /// Puts an empty sheaf in this cache's barn of this CPU's node, or
    /// frees it if the barn has enough. The barn's empty sheaves hold no
    /// object: any left in `sheaf` (there should be none) are dropped from
    /// it, not freed (they may be any cache's).
    fn give_back_sheaf(&self, mut sheaf: Sheaf) {
        if sheaf.capacity() == 0 {
            return;
        }
        let Some(sh) = self.sheaves() else {
            return;
        };
        // INVARIANT: the barn's sheaves hold only this cache's objects:
        // this one holds none.
        sheaf.clear();
        let refused = sh
            .barn(sh.this_node())
            .lock()
            .empty
            .push_within_capacity(sheaf)
            .err();
        if refused.is_some() {
            drop(refused);
            self.stat(SlabStat::SheafFree);
        }
    }

    /// `pcs_flush_all()` for `cpu`: empties its sheaves into the slabs and
    /// frees them. Runs on `cpu` with interrupts off, or for a dead `cpu`.
    ///
    /// # Safety
    ///
    /// Nothing else touches `cpu`'s sheaves while this runs: the caller runs
    /// on `cpu` with interrupts off, or `cpu` is dead, or nobody else can
    /// reach the cache any more (its last reference is being dropped).
    pub(super) unsafe fn flush_cpu_sheaves(&self, cpu: usize) {
        let Some(sh) = self.sheaves() else {
            return;
        };
        let Some(cell) = sh.pcs.get(cpu) else {
            return;
        };
        // SAFETY: nothing else touches `cpu`'s sheaves meanwhile (the
        // caller's guarantee), and no other reference to them is made here.
        let pcs = unsafe { &mut *cell.get() };
        let (mut main, mut spare) = (
            core::mem::take(&mut pcs.main),
            core::mem::take(&mut pcs.spare),
        );
        for s in [&mut main, &mut spare] {
            if s.capacity() > 0 {
                // SAFETY: `s` was `cpu`'s sheaf of this cache's sheaves, taken
                // off the CPU above while nothing else touched it (our
                // caller's guarantee): its objects are allocated objects of
                // this cache that it owns (type invariant of `Sheaves`).
                unsafe { self.flush_objects(s) };
                self.stat(SlabStat::SheafFree);
            }
        }
        // Flushed: back to the cache's capacity (a shrink, or a decay pass,
        // is where an adaptive CPU's capacity goes down).
        pcs.last_trip = Trip::None;
        if sh.reset_capacity(cpu) {
            self.stats.add_on(cpu, SlabStat::SheafShrink as usize, 1);
        }
    }

    /// `barn_shrink()` of every node: empties the barns into the slabs and
    /// frees their sheaves.
    pub(super) fn flush_barn(&self) {
        let Some(sh) = self.sheaves() else {
            return;
        };
        for barn in sh.barns.iter() {
            loop {
                let s = {
                    let mut b = barn.lock();
                    match b.full.pop() {
                        Some(s) => Some(s),
                        None => b.empty.pop(),
                    }
                };
                let Some(mut s) = s else {
                    break;
                };
                // SAFETY: `s` was in a barn of this cache's sheaves, taken
                // off it under its lock: its objects are allocated objects
                // of this cache that it owns (type invariant of `Sheaves`),
                // which nothing else reaches now.
                unsafe { self.flush_objects(&mut s) };
                self.stat(SlabStat::SheafFree);
            }
        }
    }
}
