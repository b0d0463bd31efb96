// SPDX-License-Identifier: GPL-2.0
//! The slow paths: `___slab_alloc()` with the CPU partial list,
//! `__slab_free()`, `deactivate_slab()`, `put_cpu_partial()` and
//! `__unfreeze_partials()`, and slabs made from and given back to the pool.
//! They run with interrupts off on their CPU (see the lock order in
//! `src/slab.rs`), except where a new slab is allocated.

use super::{node::Node, Cache, CpuSlab, SlabPage, SlabStat};
use crate::glue::atomic::Relaxed;
use crate::page_pool::RawBlock;
use crate::{
    glue::{cpu, fault, gfp::Gfp},
    logic::slab::{
        layout,
        slabstate::{self, Counters, Deactivate, FreeAction, ListAction},
    },
};
use kernel::{bindings, interrupt::local_interrupt_disable};

/// A frozen slab just taken for a CPU, with the freelist the CPU takes.
///
/// # Invariants
///
/// `slab` is a frozen slab of the cache whose [`Cache::new_slab`] or
/// [`Cache::get_partial`] returned this, on no list and no CPU's (taken off
/// its node list under `list_lock`, or new): the holder's alone. `freelist`
/// is a non-empty list of free objects of `slab` linked through their free
/// pointers, taken off the slab with it (counted in use there), which
/// nobody else holds.
pub(super) struct Taken<'a> {
    slab: &'a SlabPage,
    freelist: usize,
}

impl<'a> Taken<'a> {
    /// A slab and its freelist, taken.
    ///
    /// # Safety
    ///
    /// `slab` and `freelist` are as the type's invariants say, for the
    /// cache whose method returns this.
    pub(super) unsafe fn new(slab: &'a SlabPage, freelist: usize) -> Self {
        // INVARIANT: the caller's guarantee.
        Taken { slab, freelist }
    }

    /// The slab.
    #[inline(always)]
    pub(super) fn slab(&self) -> &'a SlabPage {
        self.slab
    }

    /// The freelist taken with it.
    #[inline(always)]
    pub(super) fn freelist(&self) -> usize {
        self.freelist
    }
}

impl Cache {
    /// Hands out `freelist`'s first object and makes the rest the CPU's
    /// freelist (`load_freelist:`).
    ///
    /// # Safety
    ///
    /// `cpu` is the running CPU, with interrupts off. `freelist` is a
    /// non-empty list of free objects of `cpu`'s CPU slab of this cache
    /// (linked through their free pointers), taken off the slab or the
    /// CPU's freelist for the CPU, which nobody else holds: the caller
    /// gives it to the CPU.
    unsafe fn load_freelist(&self, cpu: usize, freelist: usize) -> usize {
        let c = &self.cpus[cpu];
        // SAFETY: `freelist` is a free object of this cache's CPU slab,
        // which nobody else holds (our caller's guarantee).
        let next = unsafe { self.get_fp(freelist) };
        c.pair.set_local(next, self.next_tid(c.pair.second()));
        freelist
    }

    /// The slow path of [`Cache::slab_alloc_node`]: [`Cache::slab_alloc_slow_inner`]
    /// and, with `init`, [`Cache::post_alloc`].
    #[inline(never)]
    pub(super) fn slab_alloc_slow(
        &self,
        gfp: Gfp,
        orig_size: u32,
        node: Option<usize>,
        init: bool,
    ) -> usize {
        let o = self.slab_alloc_slow_inner(gfp, orig_size, node);
        // SAFETY: `o` was just allocated, handed to nobody yet.
        unsafe { self.post_alloc_if(init, o, gfp, orig_size) }
    }

    /// `___slab_alloc()`: the slow path. `orig_size` is what was asked for
    /// (recorded by kmalloc debug caches); `node` the node the object must
    /// be on (`None`: any, the CPU's preferred).
    fn slab_alloc_slow_inner(&self, gfp: Gfp, orig_size: u32, node: Option<usize>) -> usize {
        if self.is_debug() {
            return self.debug_alloc(gfp, orig_size, node);
        }
        let irq = local_interrupt_disable();
        let cpu = cpu::current();
        self.stat(SlabStat::AllocSlowpath);
        loop {
            let c = &self.cpus[cpu];
            // SAFETY: the CPU slab is this cache's and frozen; only this CPU
            // (here, with interrupts off) takes it off.
            if let Some(slab) = unsafe { SlabPage::from_link(c.slab.load(Relaxed)) } {
                // `node_match()`: a CPU slab of another node is deactivated.
                if node.is_some_and(|n| n != slab.node()) {
                    self.stat(SlabStat::AllocNodeMismatch);
                    // SAFETY: `c` is this CPU's, with interrupts off, and
                    // `slab` its CPU slab.
                    unsafe { self.deactivate_cpu_slab(c, slab) };
                    continue;
                }
                let freelist = c.pair.first();
                if freelist != 0 {
                    // SAFETY: `cpu` runs this with interrupts off, and
                    // `freelist`, non-empty, is its freelist of its CPU
                    // slab, which only it takes from (type invariant of
                    // `CpuSlab`).
                    return unsafe { self.load_freelist(cpu, freelist) };
                }
                // SAFETY: `slab` is this CPU's frozen CPU slab of this
                // cache, and interrupts are off.
                let freelist = unsafe { self.get_freelist(slab) };
                if freelist != 0 {
                    self.stat(SlabStat::AllocRefill);
                    // SAFETY: `cpu` runs this with interrupts off, and
                    // `freelist`, non-empty, was just taken off its CPU
                    // slab for it.
                    return unsafe { self.load_freelist(cpu, freelist) };
                }
                // Full: it stays unfrozen on no list.
                // SAFETY: `c` is this CPU's, with interrupts off; none is
                // given to it.
                unsafe { c.set_slab(None) };
                c.pair.set_local(0, self.next_tid(c.pair.second()));
                self.stat(SlabStat::DeactivateBypass);
            }
            // new_slab: the CPU partial list first.
            // SAFETY: a CPU partial slab is this cache's and frozen; only
            // this CPU takes it off.
            if let Some(s) = unsafe { SlabPage::from_link(c.partial.load(Relaxed)) } {
                c.partial.store(s.next.load(Relaxed), Relaxed);
                // SAFETY: `c` is this CPU's, with interrupts off, and has no
                // CPU slab (taken off above, or none); `s`, a frozen slab of
                // this cache, was just taken off its partial list.
                unsafe { c.set_slab(Some(s)) };
                self.stat(SlabStat::CpuPartialAlloc);
                continue;
            }
            // new_objects: the node partial list.
            let this_node = node.is_some() && gfp.this_node();
            if let Some(t) =
                self.get_partial(node.unwrap_or(self.pool.cpu_node(cpu)), this_node, true)
            {
                // SAFETY: `c` is this CPU's, with interrupts off, and has no
                // CPU slab; `t.slab()` is a frozen slab of this cache, ours
                // alone (type invariant of `Taken`, from `self`).
                unsafe { c.set_slab(Some(t.slab())) };
                // SAFETY: `cpu` runs this with interrupts off; `t.freelist()`
                // is a non-empty list of free objects of its CPU slab (just
                // set), taken with it (type invariant of `Taken`).
                return unsafe { self.load_freelist(cpu, t.freelist()) };
            }
            // A new slab, with interrupts on and unpinned (the pool may
            // sleep if `gfp` allows it).
            drop(irq);
            let made = self.new_slab(gfp, node);
            let _irq = local_interrupt_disable();
            let Some(t) = made else {
                return 0;
            };
            let cpu = cpu::current();
            self.stat(SlabStat::AllocSlab);
            let c = &self.cpus[cpu];
            // retry_load_slab: another task may have set a CPU slab here
            // meanwhile (or this is another CPU now): flush it.
            // SAFETY: `c` is this CPU's, with interrupts off.
            unsafe { self.flush_slab(c) };
            // SAFETY: `c` is this CPU's, with interrupts off, and has no
            // CPU slab (flushed above); `t.slab()` is a new frozen slab of
            // this cache, ours alone (type invariant of `Taken`, from
            // `self.new_slab`).
            unsafe { c.set_slab(Some(t.slab())) };
            // SAFETY: `cpu` runs this with interrupts off; `t.freelist()` is
            // a non-empty list of free objects of its CPU slab (just set),
            // taken with it (type invariant of `Taken`).
            return unsafe { self.load_freelist(cpu, t.freelist()) };
        }
    }

    /// `flush_slab()`: deactivates `c`'s CPU slab, if it has one, with the
    /// CPU's freelist of it (`cpuslab_flush`).
    ///
    /// # Safety
    ///
    /// `c` is this cache's `CpuSlab` of a CPU whose slabs nothing else
    /// touches while this runs: the running CPU with interrupts off, or a
    /// dead CPU, or any CPU of a cache nobody else can reach any more.
    pub(super) unsafe fn flush_slab(&self, c: &CpuSlab) {
        // SAFETY: the CPU slab is this cache's and frozen (type invariant of
        // `CpuSlab`); nothing else touches it meanwhile (our caller's
        // guarantee).
        if let Some(slab) = unsafe { SlabPage::from_link(c.slab.load(Relaxed)) } {
            // SAFETY: our caller's guarantee; `slab` is `c`'s CPU slab.
            unsafe { self.deactivate_cpu_slab(c, slab) };
            self.stat(SlabStat::CpuslabFlush);
        }
    }

    /// Takes `c`'s CPU slab `slab` and the CPU's freelist of it off the CPU
    /// (with a new tid) and deactivates them (`___slab_alloc()`'s
    /// `deactivate_slab:`, and [`Cache::flush_slab`]).
    ///
    /// # Safety
    ///
    /// As for [`Cache::flush_slab`]; `slab` is `c`'s CPU slab.
    unsafe fn deactivate_cpu_slab(&self, c: &CpuSlab, slab: &SlabPage) {
        let fl = c.pair.first();
        // SAFETY: nothing else touches `c` meanwhile (our caller's
        // guarantee); none is given to it.
        unsafe { c.set_slab(None) };
        c.pair.set_local(0, self.next_tid(c.pair.second()));
        // SAFETY: `slab` was `c`'s frozen CPU slab of this cache and `fl` the
        // CPU's freelist of it; both were just taken off the CPU, which
        // nothing else touches meanwhile, so they are ours alone.
        unsafe { self.deactivate_slab(slab, fl) };
    }

    /// `___slab_alloc()` for node `n` without touching the CPU slab (the
    /// sheaves mode's allocation for another node, as 7.3's, which has no
    /// CPU slab): a slab of node `n`'s partial list (others' unless
    /// `__GFP_THISNODE`), else a new one of node `n`'s pages, gives one
    /// object and goes back to its node (`deactivate_slab()`). 0 without
    /// memory.
    #[inline(never)]
    pub(super) fn alloc_single_node(&self, gfp: Gfp, n: usize) -> usize {
        self.stat(SlabStat::AllocSlowpath);
        let partial = {
            let _irq = local_interrupt_disable();
            self.get_partial(n, gfp.this_node(), false)
        };
        let t = match partial {
            Some(t) => t,
            None => {
                let Some(t) = self.new_slab(gfp, Some(n)) else {
                    return 0;
                };
                self.stat(SlabStat::AllocSlab);
                t
            }
        };
        let o = t.freelist();
        // SAFETY: `o` is the first object of the freelist taken with a
        // frozen slab of this cache, ours alone (type invariant of `Taken`).
        let rest = unsafe { self.get_fp(o) };
        let _irq = local_interrupt_disable();
        // SAFETY: `t.slab()` is a frozen slab of this cache taken above (off
        // a node list by `get_partial`, or new), on no list and no CPU's,
        // and `rest` the rest of the freelist taken with it: both ours alone
        // (type invariant of `Taken`).
        unsafe { self.deactivate_slab(t.slab(), rest) };
        o
    }

    /// `get_freelist()`: takes a frozen slab's whole freelist for its CPU;
    /// unfreezes it if there is none.
    ///
    /// # Safety
    ///
    /// `slab` is the running CPU's CPU slab of this cache (frozen), with
    /// interrupts off: the freelist goes to this CPU, and an unfrozen slab
    /// goes on no list (the caller takes it off the CPU).
    unsafe fn get_freelist(&self, slab: &SlabPage) -> usize {
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
            self.stat(SlabStat::CmpxchgDoubleFail);
        }
    }

    /// `put_cpu_partial()`: puts a frozen slab on this CPU's partial list,
    /// first draining the list to the node if `drain` and it is full.
    ///
    /// # Safety
    ///
    /// `s` is a frozen slab of this cache that the caller froze for itself
    /// (took off a node list, or froze by a free) and gives to this CPU: no
    /// CPU slab and no list names it.
    pub(super) unsafe fn put_cpu_partial(&self, s: &SlabPage, drain: bool) {
        let irq = local_interrupt_disable();
        let c = &self.cpus[cpu::current()];
        let mut old = c.partial.load(Relaxed);
        let mut slabs = 0;
        let mut unfreeze = core::ptr::null_mut();
        // SAFETY: the CPU's partial slabs are this cache's and frozen; this
        // CPU has interrupts off.
        if let Some(o) = unsafe { SlabPage::from_link(old) } {
            if drain && slabstate::cpu_partial_full(o.slabs(), self.cpu_partial_slabs.load(Relaxed))
            {
                unfreeze = old;
                old = core::ptr::null_mut();
            } else {
                slabs = o.slabs();
            }
        }
        s.set_slabs(slabs + 1);
        s.next.store(old, Relaxed);
        c.partial.store(s.as_link(), Relaxed);
        drop(irq);
        if !unfreeze.is_null() {
            // SAFETY: `unfreeze` is the list that was this CPU's partial
            // list, taken off the CPU above with interrupts off (the CPU's
            // list is now `s` alone): nobody else reaches its slabs.
            unsafe { self.unfreeze_partials(unfreeze) };
            self.stat(SlabStat::CpuPartialDrain);
        }
    }

    /// `__unfreeze_partials()`: moves a detached CPU partial list to the node
    /// list, freeing slabs that are empty when the node has enough.
    ///
    /// # Safety
    ///
    /// `cur` is null or the head of a CPU partial list (frozen slabs of this
    /// cache linked by `next`) that the caller detached from its CPU and
    /// gives up: no CPU and no other list reaches these slabs any more.
    pub(super) unsafe fn unfreeze_partials(&self, mut cur: *mut SlabPage) {
        let mut discard: *mut SlabPage = core::ptr::null_mut();
        let mut locked: Option<(usize, _)> = None;
        // SAFETY: slabs of the detached CPU partial list the caller gave up
        // are this cache's and frozen: nobody else unfreezes or discards
        // them.
        while let Some(s) = unsafe { SlabPage::from_link(cur) } {
            let next = s.next.load(Relaxed);
            // Each slab to its own node's list: the lock switches when the
            // node does (never two held).
            if locked.as_ref().is_none_or(|(nid, _)| *nid != s.node()) {
                drop(locked.take());
                locked = Some((s.node(), self.node_of(s).list.lock()));
            }
            let Some((_, n)) = locked.as_mut() else {
                break;
            };
            let new = loop {
                let fl = s.pair.first();
                let old = s.counters();
                let new = old.with_frozen(false);
                if s.pair.cmpxchg((fl, old.0 as usize), (fl, new.0 as usize)) {
                    break new;
                }
                self.stat(SlabStat::CmpxchgDoubleFail);
            };
            if new.inuse() == 0 && n.nr_partial >= self.min_partial.load(Relaxed) {
                s.next.store(discard, Relaxed);
                discard = cur;
            } else {
                // SAFETY: `n` is the locked list of `s`'s node (taken above
                // for `s.node()`), and `s`, a slab of this cache on no list
                // (off the detached CPU list), was just unfrozen.
                unsafe { self.add_partial(n, s, true) };
                self.stat(SlabStat::FreeAddPartial);
            }
            cur = next;
        }
        drop(locked);
        // SAFETY: taken off every list above, and empty.
        while let Some(s) = unsafe { SlabPage::from_link(discard) } {
            discard = s.next.load(Relaxed);
            self.stat(SlabStat::DeactivateEmpty);
            // SAFETY: `s` is a slab of this cache (from the caller's list)
            // that the loop above unfroze with no object in use and put on
            // no list: nothing frees into it or takes it any more.
            unsafe { self.discard_slab(s) };
            self.stat(SlabStat::FreeSlab);
        }
    }

    /// `deactivate_slab()`: gives a CPU slab and the CPU's freelist of it
    /// back: onto the node partial list, freed, or on no list when full.
    ///
    /// # Safety
    ///
    /// `s` is a frozen slab of this cache that the caller took off its CPU
    /// (or froze for itself and gave to no CPU) and gives up: no CPU slab
    /// or partial list names it. `freelist` is 0 or a list of free objects
    /// of `s` linked through their free pointers (the CPU's freelist of it,
    /// taken with it), which nobody else holds.
    pub(super) unsafe fn deactivate_slab(&self, s: &SlabPage, freelist: usize) {
        let mut tail = false;
        if s.pair.first() != 0 {
            self.stat(SlabStat::DeactivateRemoteFrees);
            tail = true;
        }
        // Stage one: count the CPU's free objects and find the last.
        let mut free_delta = 0u32;
        let mut last = 0usize;
        let mut it = freelist;
        while it != 0 {
            last = it;
            // SAFETY: the objects of `freelist` are free objects of `s`,
            // which stays (the caller's guarantee).
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
                // SAFETY: `last` is a free object of `freelist`, which the
                // caller gave us.
                unsafe { self.set_fp(last, old_fl) };
                freelist
            } else {
                old_fl
            };
            let node = self.node_of(s);
            let mode = slabstate::deactivate(
                inuse,
                new_fl != 0,
                tail,
                node.nr_partial.load(Relaxed),
                self.min_partial.load(Relaxed),
            );
            let mut n = match mode {
                Deactivate::Partial { .. } => Some(node.list.lock()),
                _ => None,
            };
            let new = Counters::new(inuse, old.objects(), false);
            if !s
                .pair
                .cmpxchg((old_fl, old.0 as usize), (new_fl, new.0 as usize))
            {
                self.stat(SlabStat::CmpxchgDoubleFail);
                continue;
            }
            match mode {
                Deactivate::Partial { tail } => {
                    if let Some(n) = n.as_mut() {
                        // SAFETY: `n` is the locked list of `s`'s node
                        // (`node_of(s)`), and `s`, this cache's slab the
                        // caller gave up (on no list), was just unfrozen.
                        unsafe { self.add_partial(n, s, tail) };
                    }
                    drop(n);
                    self.stat(if tail {
                        SlabStat::DeactivateToTail
                    } else {
                        SlabStat::DeactivateToHead
                    });
                }
                Deactivate::Free => {
                    self.stat(SlabStat::DeactivateEmpty);
                    // SAFETY: `s`, this cache's slab the caller gave up, is
                    // unfrozen now with no object in use (`inuse` 0, which
                    // `Deactivate::Free` means) and on no list (a CPU's
                    // slab is on none, and it went on none here).
                    unsafe { self.discard_slab(s) };
                    self.stat(SlabStat::FreeSlab);
                }
                Deactivate::Full => self.stat(SlabStat::DeactivateFull),
            }
            return;
        }
    }

    /// `__slab_free()`: the slow path.
    ///
    /// # Safety
    ///
    /// As for [`Cache::do_slab_free`].
    #[inline(never)]
    pub(super) unsafe fn slab_free_slow(
        &self,
        slab: &SlabPage,
        head: usize,
        tail: usize,
        cnt: u32,
    ) {
        if self.is_debug() {
            // One object at a time (the detached list's links first).
            let mut o = head;
            for _ in 0..cnt {
                // SAFETY: `o` is on the caller's detached list of objects
                // of `slab`, given up to us.
                let next = unsafe { self.get_fp(o) };
                // SAFETY: `slab` is this cache's, and `o`, on the caller's
                // detached list, an object of it that the caller gave up
                // (the caller's guarantee); its link was read above.
                unsafe { self.debug_free(slab, o) };
                if o == tail {
                    break;
                }
                o = next;
            }
            return;
        }
        self.stat(SlabStat::FreeSlowpath);
        self.decay.arm();
        let (new, action, n) = loop {
            let prior = slab.pair.first();
            let old = slab.counters();
            if prior == head {
                self.report(format_args!("double free of {head:#x}"));
                return;
            }
            let Some((new, action)) = slabstate::slab_free(old, cnt, prior == 0) else {
                // More frees than objects in use: some of them are free
                // already. Nothing is changed (not even their links).
                self.report(format_args!(
                    "double free of {head:#x}: {cnt} freed, {} in use",
                    old.inuse()
                ));
                return;
            };
            // SAFETY: `tail` is an object of this cache that the caller gave
            // up (the end of its detached list): ours to link.
            unsafe { self.set_fp(tail, prior) };
            let n = (action == FreeAction::NodeList).then(|| self.node_of(slab).list.lock());
            if slab
                .pair
                .cmpxchg((prior, old.0 as usize), (head, new.0 as usize))
            {
                break (new, action, n);
            }
            self.stat(SlabStat::CmpxchgDoubleFail);
        };
        let Some(mut n) = n else {
            match action {
                FreeAction::Frozen => self.stat(SlabStat::FreeFrozen),
                FreeAction::ToCpuPartial => {
                    // SAFETY: `slab`, a slab of this cache (the caller's
                    // guarantee) that was full and on no list, was frozen by
                    // the exchange above (`ToCpuPartial`) for this CPU.
                    unsafe { self.put_cpu_partial(slab, true) };
                    self.stat(SlabStat::CpuPartialFree);
                }
                _ => {}
            }
            return;
        };
        match slabstate::free_under_list_lock(new, n.nr_partial, self.min_partial.load(Relaxed)) {
            ListAction::Discard => {
                // SAFETY: `n` is the locked list of `slab`'s node, which the
                // unfrozen `slab` (of this cache, our caller's guarantee) is
                // on: it was partial (`FreeAction::NodeList`: it had free
                // objects, else the free would have frozen it).
                unsafe { self.remove_partial(&mut n, slab) };
                self.stat(SlabStat::FreeRemovePartial);
                drop(n);
                self.stat(SlabStat::FreeSlab);
                // SAFETY: `slab` is this cache's (the caller's guarantee),
                // unfrozen with no object in use (`ListAction::Discard`
                // under `list_lock`, after the exchange above), and off the
                // partial list: nothing frees into it or takes it.
                unsafe { self.discard_slab(slab) };
            }
            ListAction::Nothing => {}
        }
    }

    /// `allocate_slab()`: a new frozen slab, its objects constructed and
    /// linked (shuffled if randomised). Returns it with its freelist, all
    /// its objects counted in use (the CPU takes them all).
    pub(super) fn new_slab(&self, gfp: Gfp, nid: Option<usize>) -> Option<Taken<'_>> {
        if fault::should_fail(self.layout.size as usize) {
            return None;
        }
        let gfp = gfp.for_slab(self.allocflags);
        let mut block = self.pool.alloc_node(self.layout.order, gfp, nid);
        if block.is_none() && self.layout.min_order < self.layout.order {
            block = self.pool.alloc_node(self.layout.min_order, gfp, nid);
            if block.is_some() {
                self.stat(SlabStat::OrderFallback);
            }
        }
        let block = block?;
        self.decay.arm();
        let (first, objects) = self.prepare_slab(&block, false);
        self.pool
            .record(&block, 0)
            .pair
            .set_local(0, Counters::new(objects, objects, true).0 as usize);
        // The counts change with the slab's owner under `list_lock`, so
        // that `validate` (which holds it) sees them agree.
        let n = self.node(self.pool.node_of(&block)).list.lock();
        // SAFETY: the block was just allocated from this cache's pool, ours
        // alone, and prepared as a slab of `objects` objects; `n` is its
        // node's list, locked.
        let slab = unsafe { self.attach_slab(&n, block, objects) }?;
        drop(n);
        // SAFETY: a new slab of this cache, frozen, on no list and no CPU's;
        // `first` heads the list of all its objects (linked by
        // `prepare_slab`), all counted in use.
        Some(unsafe { Taken::new(slab, first) })
    }

    /// The objects of a new slab in `block` (just allocated for this cache,
    /// ours alone): red zones set up, constructed, linked through their
    /// free pointers in order (shuffled if randomised: from a random start,
    /// or with `nolock`, for any context, from the cycle counter, as 7.3
    /// takes a per-CPU pseudo-random state there). Returns the first object
    /// and how many there are. The head record's `(freelist, counters)` is
    /// left to the caller.
    #[inline(always)]
    pub(super) fn prepare_slab(&self, block: &RawBlock, nolock: bool) -> (usize, u32) {
        let order = block.order();
        let objects = layout::order_objects(order, self.layout.size, bindings::PAGE_SHIFT);
        // The first object, after its left red zone (`fixup_red_left()`).
        let base = self.pool.addr(block) as usize + self.layout.red_left_pad as usize;
        let size = self.layout.size as usize;
        if self.is_debug() {
            let bytes = (1usize << bindings::PAGE_SHIFT) << order;
            // SAFETY: the block, just allocated and ours alone, is a new slab
            // of this cache of `objects` objects from `base`, its `bytes`
            // bytes starting the left red zone before `base`.
            unsafe { self.setup_slab_debug(base, bytes, objects) };
        }
        if let Some(ctor) = self.ctor {
            for i in 0..objects as usize {
                // SAFETY: a constructor takes a whole object of this cache,
                // as this is (a fresh slab nobody else can reach yet).
                unsafe { ctor((base + i * size) as *mut core::ffi::c_void) };
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
            let r = if nolock {
                // SAFETY: `get_cycles()` reads a counter; any context.
                let c = unsafe { crate::glue::ffi::rslab_get_cycles() };
                (c ^ (c >> 17) ^ base as u64) as usize
            } else {
                // SAFETY: `get_random_u32()` may be called from any context
                // but NMI.
                (unsafe { bindings::get_random_u32() }) as usize
            };
            let start = r.checked_rem(self.seq.len()).unwrap_or(0);
            layout::shuffled_order(&self.seq, objects, start).for_each(&mut link);
        }
        // SAFETY: as above; `prev` is the last object linked.
        unsafe { self.set_fp(prev, 0) };
        (first, objects)
    }

    /// Makes `block` a slab of this cache: counted on its node and claimed
    /// (its records name this cache). Returns its head record.
    ///
    /// # Safety
    ///
    /// `block` was just allocated from this cache's pool, is ours alone,
    /// and holds `objects` objects prepared by [`Cache::prepare_slab`], its
    /// head record's `(freelist, counters)` set. `_n` is the locked partial
    /// list of the block's node.
    #[inline(always)]
    pub(super) unsafe fn attach_slab(
        &self,
        _n: &Node,
        block: RawBlock,
        objects: u32,
    ) -> Option<&SlabPage> {
        let node = self.node(self.pool.node_of(&block));
        node.nr_slabs.add(1, Relaxed);
        node.total_objects.add(objects as usize, Relaxed);
        // SAFETY: the block was just allocated from this cache's pool and is
        // ours alone (the caller's guarantee).
        let head = unsafe {
            SlabPage::claim(
                &self.pool,
                block,
                self.as_owner(),
                self.layout.red_left_pad as usize,
            )
        };
        // SAFETY: the record lives while its block is out, which it is until
        // `discard_slab`, which only runs on a slab taken off every list.
        unsafe { SlabPage::from_link(head) }
    }

    /// `discard_slab()`: gives an empty slab that is on no list back to the
    /// pool.
    ///
    /// # Safety
    ///
    /// `s` is a slab of this cache with no object in use, unfrozen and on no
    /// list (no CPU's, not on a node partial list), so that nothing frees
    /// into it or takes it: the caller gives it up, and neither it nor
    /// anybody else uses `s` afterwards.
    pub(super) unsafe fn discard_slab(&self, s: &SlabPage) {
        if self.init.profile {
            // SAFETY: the slab has no object in use and nobody takes one
            // from it any more (the caller's guarantee): nobody reads its
            // tags.
            unsafe { s.free_exts() };
        }
        // As in `new_slab`: counts and owner change together under
        // `list_lock`; the block goes back to the pool after it.
        let node = self.node_of(s);
        let n = node.list.lock();
        node.nr_slabs.fetch_sub(1, Relaxed);
        node.total_objects
            .fetch_sub(s.counters().objects() as usize, Relaxed);
        if self.flags & layout::SLAB_TYPESAFE_BY_RCU != 0 {
            self.rcu_pending.fetch_add(1, Relaxed);
            // SAFETY: the slab is this cache's, empty and on no list (the
            // caller's guarantee); the cache waits for RCU callbacks before
            // it goes (`destroy`, drop).
            unsafe { s.free_after_rcu(self) };
            drop(n);
            return;
        }
        // SAFETY: the slab is empty and on no list: the caller, who gave it
        // up, was its only owner; it was claimed from this cache's pool
        // (`new_slab`).
        let block = unsafe { s.release(&self.pool) };
        drop(n);
        match block {
            Some(block) => self.pool.free(block),
            None => self.report(format_args!("slab without a block")),
        }
    }

    /// The end of a `SLAB_TYPESAFE_BY_RCU` discard, after the grace period
    /// (the RCU callback): the slab's block goes back to the pool.
    ///
    /// # Safety
    ///
    /// `s` is a slab of this cache that [`SlabPage::free_after_rcu`]
    /// retired, whose grace period has passed: this is its one callback,
    /// and nobody else uses `s` any more.
    pub(super) unsafe fn rcu_slab_freed(&self, s: &SlabPage) {
        // SAFETY: the slab was retired by `free_after_rcu` and is nobody's
        // but this callback's (our caller's guarantee); it was claimed from
        // this cache's pool.
        match unsafe { s.release(&self.pool) } {
            Some(block) => self.pool.free(block),
            None => self.report(format_args!("slab without a block")),
        }
        self.rcu_pending.fetch_sub(1, Relaxed);
    }

    /// `SLAB_TYPESAFE_BY_RCU` slabs discarded whose grace period has not
    /// passed yet (their pages are still allocated).
    #[cfg(rslab_kunit)]
    pub(crate) fn rcu_pending_slabs(&self) -> usize {
        self.rcu_pending.load(Relaxed)
    }
}
