// SPDX-License-Identifier: GPL-2.0
//! A cache's part of `kmalloc_nolock()` and `kfree_nolock()` (7.3): an
//! allocation and a free that never spin on a lock and never sleep, for
//! any context: hard interrupts, NMIs, and kprobe or tracing handlers that
//! may have interrupted rslab itself, with its locks held, on this CPU.
//!
//! - Outside NMI context the fast paths serve them as they serve every
//!   allocation and free: lock-free (the CPU's `(freelist, tid)` exchange
//!   on x86_64) or with interrupts off (riscv64), so that no interrupt can
//!   find the CPU's slab half changed.
//! - In NMI context (`in_nmi()`, which kprobe handlers share) the code
//!   interrupted may be any interrupts-off section of this CPU, halfway
//!   through changing its `kmem_cache_cpu`: the allocation leaves the CPU's
//!   slabs alone and the free is deferred.
//! - A cache with sheaves (the kmalloc classes, as in 7.3) serves the
//!   allocation past its sheaves, as below: its sheaves are guarded by
//!   interrupts off alone, which an NMI does not respect, and rslab's
//!   sheaves have no trylock (7.3's `local_trylock_t`).
//! - Past the fast path the allocation takes an object of a node partial
//!   slab, or a new slab of pages from the pool, under a *tried*
//!   `list_lock` (and tried pool locks, [`Pool::alloc_nolock`]); it takes a
//!   partial slab's object only if another stays free, so the slab stays
//!   partial, unfrozen and on the list, and the frees racing with it on
//!   other CPUs see nothing new. It gives 0 when a lock is taken or the
//!   pool has no free block; the caller may try another cache.
//! - A free the fast path cannot take (not of the CPU slab; in NMI
//!   context; a cache with free hooks, debug checks or sheaves) returns
//!   `false` to its caller, which defers it to an irq_work
//!   ([`crate::kmalloc`]), as 7.3's `defer_free()`.
//!
//! kmemleak and allocation profiling do not see these allocations (their
//! bookkeeping takes locks), as in 7.3; a later `kfree()` of one is fine.
//!
//! [`Pool::alloc_nolock`]: crate::page_pool::Pool::alloc_nolock

use super::{Cache, SlabPage, SlabStat};
use crate::{
    glue::{atomic::Relaxed, cpu, dword, gfp::Gfp, percpu::IrqsSaved},
    logic::slab::slabstate::Counters,
};

/// Node partial slabs an allocation looks at before it makes a new slab:
/// the walk is under `list_lock`, in any context, so it is bounded.
const PARTIAL_SCAN: usize = 8;

impl Cache {
    /// `kmalloc_nolock()`'s allocation from this cache, of node `node`
    /// (`None`: any, the CPU's first), zeroed as `gfp` and the cache's
    /// policy say: 0 if it would have to wait for a lock, or there is no
    /// free object or block, or this is a debug cache (whose paths take
    /// locks), or a node past the cache's. A cache with sheaves serves it
    /// from its slabs, never its sheaves.
    pub(crate) fn alloc_nolock(&self, gfp: Gfp, orig_size: u32, node: Option<usize>) -> usize {
        if self.is_debug() || node.is_some_and(|n| n >= self.nodes.len()) {
            return 0;
        }
        let o = if cpu::in_nmi() {
            // The slab's `(freelist, counters)` exchange is a bit lock with
            // interrupts off where the CPU has no double-word
            // compare-exchange: an NMI may have interrupted its holder.
            if !dword::lock_free() {
                return 0;
            }
            self.alloc_nolock_slow(gfp, node)
        } else if self.sheaves().is_some() {
            self.alloc_nolock_slow(gfp, node)
        } else {
            self.alloc_fast_or(gfp, orig_size, node, false, || {
                self.alloc_nolock_slow(gfp, node)
            })
        };
        if o != 0 {
            // SAFETY: `o` was just allocated, handed to nobody yet.
            unsafe { self.init_contents(o, gfp, orig_size) };
        }
        o
    }

    /// The allocation past the fast path: a node partial slab's object, or
    /// a new slab's, under the node's `list_lock`, tried.
    #[inline(never)]
    fn alloc_nolock_slow(&self, gfp: Gfp, node: Option<usize>) -> usize {
        let nid = node.unwrap_or_else(|| self.pool.cpu_node(cpu::current()));
        self.stat(SlabStat::AllocSlowpath);
        // Interrupts off as NMI context allows (the kernel crate's
        // `local_interrupt_disable()`, under `SpinLockIrq::lock()` and
        // `try_lock()`, keeps a per-CPU count and warns there).
        // SAFETY: dropped at the end of this function, inside every
        // interrupts-off guard live now; declared before `n`, dropped after.
        let irq = unsafe { IrqsSaved::new() };
        let Some(mut n) = self.node(nid).list.try_lock_with(irq.disabled()) else {
            return 0;
        };
        let mut cur = n.head;
        for _ in 0..PARTIAL_SCAN {
            // SAFETY: on the node list, under `list_lock`.
            let Some(s) = (unsafe { SlabPage::from_link(cur) }) else {
                break;
            };
            cur = s.next.load(Relaxed);
            // SAFETY: `s` is on this cache's node list, locked here.
            if let Some(o) = unsafe { self.take_one(s) } {
                drop(n);
                self.stat(SlabStat::AllocFromPartial);
                return o;
            }
        }
        // A new slab: its pages from the pool without waiting (pool locks
        // nest inside `list_lock`), made and listed under the lock held.
        let gfp = gfp.for_slab(self.allocflags);
        let mut block = self.pool.alloc_nolock(&irq, self.layout.order, gfp, nid);
        if block.is_none() && self.layout.min_order < self.layout.order {
            block = self
                .pool
                .alloc_nolock(&irq, self.layout.min_order, gfp, nid);
        }
        let Some(block) = block else {
            return 0;
        };
        let (first, objects) = self.prepare_slab(&block, true);
        // SAFETY: `first` heads the new slab's freelist (just linked), ours
        // alone.
        let rest = unsafe { self.get_fp(first) };
        // `first` is taken: the rest stays in the slab, unfrozen.
        self.pool
            .record(&block, 0)
            .pair
            .set_local(rest, Counters::new(1, objects, false).0 as usize);
        // SAFETY: the block was just allocated from this cache's pool (of
        // node `nid`, whose list `n` is, locked), ours alone, prepared as a
        // slab of `objects` objects with its head's pair set.
        let Some(slab) = (unsafe { self.attach_slab(&n, block, objects) }) else {
            return 0;
        };
        if rest != 0 {
            // SAFETY: `n` is the locked list of the slab's node; the slab,
            // new and unfrozen, is on no list.
            unsafe { self.add_partial(&mut n, slab, false) };
        }
        drop(n);
        drop(irq);
        self.stat(SlabStat::AllocSlab);
        first
    }

    /// Takes the first free object of `s`, an unfrozen slab on its node's
    /// partial list, if another stays free after it (so that `s` stays
    /// partial where it is): `None` otherwise.
    ///
    /// # Safety
    ///
    /// `s` is on this cache's node partial list, whose `list_lock` the
    /// caller holds: nobody else takes objects from it meanwhile (frees
    /// only add to its freelist, with the exchange below).
    unsafe fn take_one(&self, s: &SlabPage) -> Option<usize> {
        loop {
            let (fl, c) = (s.pair.first(), s.counters());
            if fl == 0 || c.objects().saturating_sub(c.inuse()) < 2 {
                return None;
            }
            // SAFETY: `fl` is a free object of `s`, and stays free: only
            // the holder of `list_lock` takes from a listed slab. A stale
            // `fl` fails the exchange.
            let next = unsafe { self.get_fp(fl) };
            if next == 0 {
                return None;
            }
            let new = Counters::new(c.inuse() + 1, c.objects(), false);
            if s.pair.cmpxchg((fl, c.0 as usize), (next, new.0 as usize)) {
                return Some(fl);
            }
            self.stat(SlabStat::CmpxchgDoubleFail);
        }
    }

    /// `kfree_nolock()`'s free of `o`, an object of `slab` of this cache,
    /// if the fast path can take it: `slab` is the CPU slab, outside NMI
    /// context, in a cache without free hooks, debug checks or sheaves.
    /// Returns whether it did (or reported `o` as no object of `slab`); if
    /// not, nothing changed and the caller defers the free.
    ///
    /// # Safety
    ///
    /// `slab` is a slab of this cache, the head record of the page holding
    /// `o`, which the caller gives up if this returns `true`.
    pub(crate) unsafe fn free_nolock(&self, slab: &SlabPage, o: usize) -> bool {
        if !self.is_object_of(slab, o) {
            // SAFETY: the caller is freeing `o`, so it holds it.
            unsafe { self.bad_free(o) };
            return true;
        }
        if self.init.free_hook || self.is_debug() || self.sheaves().is_some() || cpu::in_nmi() {
            return false;
        }
        let mut freed = true;
        // SAFETY: `o` alone is a detached list of one object of `slab`, a
        // slab of this cache, that the caller gives up if it is taken; the
        // slow path takes nothing (and says so).
        unsafe { self.free_fast_or(slab, o, o, || freed = false) };
        freed
    }
}

/// A node's `list_lock` held by a test, as the code a kprobe or an NMI
/// interrupted may hold it.
#[cfg(rslab_kunit)]
pub(crate) struct ListHeld<'a>(
    #[allow(dead_code)] kernel::sync::SpinLockIrqGuard<'a, super::node::Node>,
);

#[cfg(rslab_kunit)]
impl Cache {
    /// Takes node `nid`'s `list_lock` until the result is dropped, if it is
    /// free: tried, so that lockdep lets a test hold two caches' (one lock
    /// class) in any order.
    pub(crate) fn hold_list_lock(&self, nid: usize) -> Option<ListHeld<'_>> {
        self.node(nid).list.try_lock().map(ListHeld)
    }
}
