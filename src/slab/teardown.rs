// SPDX-License-Identifier: GPL-2.0
//! Flushing CPU slabs (`flush_all()`, CPU hotplug), shrink, destroy and the
//! consistency walk (`validate_slab_cache()`).

use super::{Cache, SlabPage, SlabStat};
use crate::glue::atomic::Relaxed;
use crate::glue::{
    cpu,
    decay::{Decay, Decays},
    numa,
};
use kernel::{interrupt::local_interrupt_disable, prelude::*};

/// What a consistency walk found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Census {
    /// Slabs of the cache.
    pub(crate) slabs: usize,
    /// Objects in them.
    pub(crate) objects: usize,
    /// Objects in use (allocated).
    pub(crate) inuse: usize,
    /// Slabs on the node partial list.
    pub(crate) partial: usize,
    /// Slabs frozen (a CPU's, skipped by the walk).
    pub(crate) frozen: usize,
}

/// What [`Cache::per_node`] counts, as the sysfs file of that name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeCount {
    /// `objects`: objects in use.
    Objects,
    /// `objects_partial`: objects in use in node partial slabs.
    ObjectsPartial,
    /// `total_objects`: objects in all slabs.
    TotalObjects,
    /// `slabs`.
    Slabs,
    /// `partial`: slabs on the node partial list.
    Partial,
    /// `cpu_slabs`: CPU slabs and CPU partial slabs.
    CpuSlabs,
}

/// What a consistency walk found wrong (slab record given), or why it could
/// not tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlabError {
    /// The walk could not allocate its bitmap.
    NoMemory,
    /// Not a finding: a slab's freelist kept changing under the walk
    /// (objects freed to it meanwhile), so it could not be checked.
    Busy,
    /// A free pointer leads outside the slab or between objects.
    BadFreePointer(*const SlabPage),
    /// An object is on a freelist twice.
    DoubleFree(*const SlabPage),
    /// `inuse` does not match the free objects found.
    Inuse(*const SlabPage),
    /// The partial list is wrong (a frozen, full or foreign slab, or a
    /// wrong count; null for the count).
    PartialList(*const SlabPage),
    /// The cache's slab or object counts disagree with the walk.
    Count(&'static str, usize, usize),
}

/// Objects still allocated when a cache was destroyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Leaked {
    /// Objects in use.
    pub(crate) objects: usize,
    /// Slabs holding them.
    pub(crate) slabs: usize,
}

impl Cache {
    /// `__flush_cpu_slab()`: deactivates `cpu`'s slab and unfreezes its
    /// partial list. Runs on `cpu` with interrupts off, or on behalf of a
    /// dead `cpu`.
    ///
    /// # Safety
    ///
    /// Nothing else touches `cpu`'s CPU slab, freelist, partial list and
    /// sheaves while this runs: the caller runs on `cpu` with interrupts
    /// off, or `cpu` is dead, or nobody else can reach the cache any more
    /// (its last reference is being dropped).
    unsafe fn flush_cpu(&self, cpu: usize) {
        // The sheaves first: their objects go back to the slabs, which the
        // rest of the flush then deactivates.
        // SAFETY: nothing else touches `cpu`'s sheaves meanwhile (our
        // caller's guarantee).
        unsafe { self.flush_cpu_sheaves(cpu) };
        let Some(c) = self.cpus.get(cpu) else {
            return;
        };
        // SAFETY: `c` is `cpu`'s, whose slabs nothing else touches meanwhile
        // (our caller's guarantee).
        unsafe { self.flush_slab(c) };
        let p = c.partial.xchg(core::ptr::null_mut(), Relaxed);
        if !p.is_null() {
            // SAFETY: `p` is `cpu`'s partial list, just detached from it by
            // the exchange (which nothing else races, our caller's
            // guarantee): no CPU or list reaches its slabs any more.
            unsafe { self.unfreeze_partials(p) };
        }
    }

    /// `flush_all()`: flushes every online CPU, on that CPU, from a per-CPU
    /// worker with interrupts off there (6.1's `flush_cpu_slab()` work).
    /// May sleep.
    pub(crate) fn flush_all(&self) {
        self.flush_barn();
        cpu::on_each_online_cpu(self, |cache, cpu| {
            let _irq = local_interrupt_disable();
            // SAFETY: `on_each_online_cpu` runs this on `cpu` (a work item
            // queued on that CPU, which hotplug leaves online meanwhile),
            // and interrupts are off there from `_irq` on.
            unsafe { cache.flush_cpu(cpu) };
        });
    }

    /// `__kmem_cache_shrink()`: flushes every CPU and frees every empty slab
    /// (those the flush empties, and those on the node partial list).
    /// Returns how many slabs the cache holds fewer afterwards.
    pub(crate) fn shrink(&self) -> usize {
        let before = self.counts().slabs;
        self.flush_all();
        self.discard_empty();
        before.saturating_sub(self.counts().slabs)
    }

    /// Objects in use now (`objects` - free), from the slab counters.
    pub(crate) fn objects_in_use(&self) -> usize {
        let mut inuse = 0;
        let me = self.as_owner();
        self.pool.for_each_record(|e| {
            if e.is_head() && e.owner_here() == me {
                inuse += e.counters().inuse() as usize;
            }
        });
        inuse
    }

    /// SLUB's per-node breakdown of `what` (`show_slab_objects()`): one
    /// count per node number below `nr_node_ids`. Slabs are counted on the
    /// node of their pages; a CPU's partial slabs all on the node of the
    /// first, as SLUB counts them.
    pub(crate) fn per_node(&self, what: NodeCount) -> Result<KVec<usize>> {
        let mut v = KVec::from_elem(0usize, numa::nr_node_ids(), GFP_KERNEL)?;
        let me = self.as_owner();
        let mut add = |node: usize, x: usize| {
            if let Some(t) = v.get_mut(node) {
                *t += x;
            }
        };
        match what {
            NodeCount::Objects | NodeCount::TotalObjects | NodeCount::Slabs => {
                self.pool.for_each_node_record(|node, e| {
                    if e.is_head() && e.owner_here() == me {
                        let c = e.counters();
                        add(
                            node,
                            match what {
                                NodeCount::Objects => c.inuse() as usize,
                                NodeCount::TotalObjects => c.objects() as usize,
                                _ => 1,
                            },
                        );
                    }
                })
            }
            NodeCount::Partial | NodeCount::ObjectsPartial => {
                for node in self.nodes.iter() {
                    let n = node.list.lock();
                    let mut cur = n.head;
                    // SAFETY: on the node list, under `list_lock`.
                    while let Some(s) = unsafe { SlabPage::from_link(cur) } {
                        let x = match what {
                            NodeCount::Partial => 1,
                            _ => s.counters().inuse() as usize,
                        };
                        add(s.node(), x);
                        cur = s.next.load(Relaxed);
                    }
                }
            }
            NodeCount::CpuSlabs => {
                for c in cpu::online_cpus() {
                    let Some(cs) = self.cpus.get(c) else {
                        continue;
                    };
                    let slab = cs.slab.load(Relaxed);
                    if !slab.is_null() {
                        // SAFETY: a CPU slab's record lives as long as its
                        // chunk, which stays while any CPU names the slab;
                        // a racing flush makes this a stale count only (as
                        // SLUB's racy read).
                        add(unsafe { &*slab }.node(), 1);
                    }
                    let p = cs.partial.load(Relaxed);
                    if !p.is_null() {
                        // SAFETY: as above, for the CPU's first partial slab.
                        let p = unsafe { &*p };
                        add(p.node(), p.slabs() as usize);
                    }
                }
            }
        }
        Ok(v)
    }

    /// `kmem_cache_destroy()`: flushes and frees every empty slab. With
    /// objects still allocated it reports them (`Err` with the count), and
    /// their slabs stay: nothing still in use is freed.
    pub(crate) fn destroy(&self) -> Result<(), Leaked> {
        self.shrink();
        self.rcu_barrier();
        self.report_leaks()
    }

    /// For a `SLAB_TYPESAFE_BY_RCU` cache, waits until every slab it
    /// discarded is back in the pool (`rcu_barrier()`, as
    /// `kmem_cache_destroy()` does). May sleep.
    pub(crate) fn rcu_barrier(&self) {
        if self.flags & crate::logic::slab::layout::SLAB_TYPESAFE_BY_RCU != 0 {
            kernel::sync::rcu::rcu_barrier();
        }
    }

    /// A bitmap with a bit per object of a slab (`object_map`), clear.
    pub(super) fn object_map(&self) -> Result<KVec<u64>> {
        let words = (self.layout.objects as usize).div_ceil(64).max(1);
        Ok(KVec::from_elem(0u64, words, GFP_KERNEL)?)
    }

    /// Reports slabs still held (after everything empty was freed): each
    /// slab and its allocated objects as SLUB's `list_slab_objects()` does,
    /// then a summary.
    fn report_leaks(&self) -> Result<(), Leaked> {
        let slabs = self.counts().slabs;
        if slabs == 0 {
            return Ok(());
        }
        if let Ok(mut bits) = self.object_map() {
            let me = self.as_owner();
            for nid in 0..self.nodes.len() {
                let _n = self.node(nid).list.lock();
                self.pool.for_each_record_in(nid, |s| {
                    if s.is_head() && s.owner_here() == me && s.counters().inuse() > 0 {
                        // SAFETY: `s` is a slab of this cache (the head of its
                        // pages, owned by it) of node `nid`, whose
                        // `list_lock` is held, so it is not discarded
                        // meanwhile: kept.
                        unsafe { self.list_slab_objects(s, &mut bits) };
                    }
                });
            }
        }
        let objects = self.objects_in_use();
        pr_err!(
            "cache {}: {} objects in {} slabs still in use at destroy; leaving them allocated\n",
            self.display_name(),
            objects,
            slabs
        );
        Err(Leaked { objects, slabs })
    }

    /// `validate_slab_cache()`: flushes every CPU, then walks every slab of
    /// the cache (found through the pool's records) and its partial list:
    /// every free pointer inside its slab and on an object boundary, no
    /// object free twice, `inuse` equal to the objects not free, the counts
    /// right. Slabs frozen by concurrent use are counted and skipped; every
    /// other check is exact under concurrent use: the walk holds
    /// `list_lock` (under which slabs come, go and change lists) and the
    /// zone lock, and a slab's freelist, which frees change without a lock,
    /// counts only if its `(freelist, counters)` stayed the same over the
    /// walk (else it is walked again, and [`SlabError::Busy`] after a few
    /// tries).
    pub(crate) fn validate(&self) -> Result<Census, SlabError> {
        self.flush_all();
        let mut bits = self.object_map().map_err(|_| SlabError::NoMemory)?;
        let me = self.as_owner();
        let mut census = Census::default();
        // Node by node (`validate_slab_node()`), each exact under its
        // `list_lock`: a node's slabs come, go and change lists under it.
        for nid in 0..self.nodes.len() {
            let node = self.node(nid);
            let n = node.list.lock();
            let mut err = None;
            let mut here = Census::default();
            // The partial list.
            let mut cur = n.head;
            let mut count = 0;
            while err.is_none() {
                // SAFETY: on the list, under `list_lock`.
                let Some(s) = (unsafe { SlabPage::from_link(cur) }) else {
                    break;
                };
                let c = s.counters();
                if s.owner_here() != me || c.frozen() || s.pair.first() == 0 || s.node() != nid {
                    err = Some(SlabError::PartialList(s));
                }
                count += 1;
                cur = s.next.load(Relaxed);
            }
            if err.is_none() && count != n.nr_partial {
                err = Some(SlabError::PartialList(core::ptr::null()));
            }
            here.partial = count as usize;
            // Every slab of the node.
            self.pool.for_each_record_in(nid, |s| {
                if err.is_some() || !s.is_head() || s.owner_here() != me {
                    return;
                }
                let c = s.counters();
                here.slabs += 1;
                here.objects += c.objects() as usize;
                if s.node() != nid {
                    err = Some(SlabError::PartialList(s));
                    return;
                }
                if c.frozen() {
                    here.frozen += 1;
                    here.inuse += c.inuse() as usize;
                    return;
                }
                if self.is_debug() {
                    // SLUB's checks of every object first (they repair).
                    // SAFETY: `s` is a slab of this debug cache (the head of
                    // its pages, owned by it) of node `nid`, whose
                    // `list_lock` is held: held.
                    unsafe { self.debug_validate_slab(s, &mut bits) };
                }
                // SAFETY: `s` is an unfrozen slab of this cache (checked
                // above) of node `nid`, whose `list_lock` is held, so it is
                // not discarded meanwhile.
                match unsafe { self.walk_freelist(s, &mut bits) } {
                    Ok(inuse) => here.inuse += inuse,
                    Err(e) => err = Some(e),
                }
            });
            // Read under `list_lock`, under which they change with the slabs.
            let (slabs, total) = (
                node.nr_slabs.load(Relaxed),
                node.total_objects.load(Relaxed),
            );
            drop(n);
            if let Some(e) = err {
                return Err(e);
            }
            if here.slabs != slabs {
                return Err(SlabError::Count("slabs", here.slabs, slabs));
            }
            if here.objects != total {
                return Err(SlabError::Count("objects", here.objects, total));
            }
            census.slabs += here.slabs;
            census.objects += here.objects;
            census.inuse += here.inuse;
            census.partial += here.partial;
            census.frozen += here.frozen;
        }
        Ok(census)
    }
}

impl Cache {
    /// Walks the freelist of `s`, an unfrozen slab of this cache, with
    /// `list_lock` and the zone lock held: every free pointer inside the
    /// slab on an object boundary, no object twice, `inuse` plus the free
    /// objects equal to the slab's objects. Returns `inuse`. Only frees
    /// change the slab meanwhile (taking objects from an unfrozen slab
    /// needs `list_lock`), and each changes its `(freelist, counters)`: a
    /// walk during which that pair stayed the same saw one state.
    ///
    /// # Safety
    ///
    /// `s` is a slab of this cache that is not discarded while this runs
    /// (the caller holds its node's `list_lock`).
    unsafe fn walk_freelist(&self, s: &SlabPage, bits: &mut [u64]) -> Result<usize, SlabError> {
        const TRIES: usize = 8;
        let size = self.layout.size as usize;
        let base = s.base() as usize;
        for _ in 0..TRIES {
            let (head, counters) = (s.pair.first(), s.pair.second());
            let c = s.counters();
            if c.frozen() {
                // Frozen by a CPU since the caller looked: skipped.
                return Ok(c.inuse() as usize);
            }
            let objects = c.objects() as usize;
            bits.iter_mut().for_each(|b| *b = 0);
            let mut free = 0usize;
            let mut it = head;
            let mut finding = None;
            while it != 0 && free <= objects {
                let off = it.wrapping_sub(base);
                let k = match (off.checked_rem(size), off.checked_div(size)) {
                    (Some(0), Some(k)) if k < objects => k,
                    _ => {
                        finding = Some(SlabError::BadFreePointer(s));
                        break;
                    }
                };
                if bits[k / 64] & (1 << (k % 64)) != 0 {
                    finding = Some(SlabError::DoubleFree(s));
                    break;
                }
                bits[k / 64] |= 1 << (k % 64);
                free += 1;
                // SAFETY: `it` is an object of this slab (checked above),
                // which stays a slab of this cache (our caller's guarantee).
                it = unsafe { self.get_fp(it) };
            }
            if (s.pair.first(), s.pair.second()) != (head, counters) {
                // Freed into meanwhile: what the walk saw may be torn.
                continue;
            }
            if let Some(e) = finding {
                return Err(e);
            }
            if free + c.inuse() as usize != objects {
                return Err(SlabError::Inuse(s));
            }
            return Ok(c.inuse() as usize);
        }
        Err(SlabError::Busy)
    }
}

#[pinned_drop]
impl PinnedDrop for Cache {
    fn drop(self: Pin<&mut Self>) {
        // No decay pass may run on a cache being torn down.
        self.decay.stop();
        // The last reference is gone: no CPU uses the cache any more, so its
        // CPU slabs can be flushed from here. Every sheaf first: their
        // objects go back to slabs through this CPU, which may freeze slabs
        // onto this CPU's lists; the CPU slabs are flushed after that.
        self.flush_barn();
        for c in 0..crate::glue::cpu::nr_cpu_ids() {
            let _irq = local_interrupt_disable();
            // SAFETY: the last reference is gone: nobody else reaches the
            // cache, so nothing else touches CPU `c`'s sheaves.
            unsafe { self.flush_cpu_sheaves(c) };
        }
        for c in (0..crate::glue::cpu::nr_cpu_ids()).filter(|&c| self.cpus.get(c).is_some()) {
            let _irq = local_interrupt_disable();
            // SAFETY: the last reference is gone: nobody else reaches the
            // cache, so nothing else touches CPU `c`'s slabs and sheaves.
            unsafe { self.flush_cpu(c) };
        }
        self.discard_empty();
        // The RCU callbacks of discarded slabs use the cache.
        self.rcu_barrier();
        let _ = self.report_leaks();
    }
}

// SAFETY: `decay` is made by `Decay::new::<Cache, _>` at `DECAY_OFFSET` and
// stopped first thing in `Cache`'s drop.
unsafe impl Decays for Cache {
    const DECAY_OFFSET: usize = core::mem::offset_of!(Cache, decay);

    /// Allocations and frees, fast and slow.
    fn decay_activity(&self) -> u64 {
        self.stats.sum_of(
            [
                SlabStat::AllocFastpath,
                SlabStat::AllocSlowpath,
                SlabStat::FreeFastpath,
                SlabStat::FreeSlowpath,
            ]
            .map(|s| s as usize),
        )
    }

    /// What `shrink` does: every CPU's slabs, partial slabs and sheaves
    /// flushed, the barn emptied, every empty slab back to the pool. Slabs
    /// given back.
    fn decay_give_back(&self) -> usize {
        self.shrink()
    }

    fn decay_state(&self) -> &Decay {
        &self.decay
    }
}

impl crate::glue::cpuhp::CpuDead for Cache {
    /// Flushes a dead CPU's slabs (`slub_cpu_dead()`).
    ///
    /// # Safety
    ///
    /// As for [`crate::glue::cpuhp::CpuDead::cpu_dead`]: `cpu` is dead.
    unsafe fn cpu_dead(&self, cpu: usize) {
        let _irq = local_interrupt_disable();
        // SAFETY: `cpu` is dead (our caller's guarantee): nothing runs on it
        // to touch its slabs and sheaves.
        unsafe { self.flush_cpu(cpu) };
    }
}
