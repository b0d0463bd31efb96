// SPDX-License-Identifier: GPL-2.0
//! The node partial list (`struct kmem_cache_node`) under `list_lock`:
//! `add_partial()`, `remove_partial()`, `get_partial_node()` and what walks
//! the list.

use super::{slowpath::Taken, Cache, SlabPage, SlabStat};
use crate::glue::atomic::Relaxed;
use crate::logic::slab::slabstate::Counters;

/// `struct kmem_cache_node`'s partial list, with `list_lock` around it.
///
/// # Invariants
///
/// `head..tail` is a doubly linked list (through [`SlabPage`]'s `next` and
/// `prev`) of `nr_partial` unfrozen slabs of this cache; both are null when
/// it is empty.
pub(super) struct Node {
    pub(super) head: *mut SlabPage,
    tail: *mut SlabPage,
    pub(super) nr_partial: u32,
}

// SAFETY: the pointers name slab records, which are `Sync`; they are only
// used under `list_lock`.
unsafe impl Send for Node {}

impl Node {
    pub(super) const fn new() -> Self {
        // INVARIANT: an empty list.
        Node {
            head: core::ptr::null_mut(),
            tail: core::ptr::null_mut(),
            nr_partial: 0,
        }
    }
}

impl Cache {
    /// `add_partial()`, under `list_lock`.
    pub(super) fn add_partial(&self, n: &mut Node, s: &SlabPage, tail: bool) {
        let a = s.as_link();
        if tail {
            s.next.store(core::ptr::null_mut(), Relaxed);
            s.prev.store(n.tail, Relaxed);
            // SAFETY: on the list, under `list_lock`.
            match unsafe { SlabPage::from_link(n.tail) } {
                Some(t) => t.next.store(a, Relaxed),
                None => n.head = a,
            }
            n.tail = a;
        } else {
            s.prev.store(core::ptr::null_mut(), Relaxed);
            s.next.store(n.head, Relaxed);
            // SAFETY: as above.
            match unsafe { SlabPage::from_link(n.head) } {
                Some(h) => h.prev.store(a, Relaxed),
                None => n.tail = a,
            }
            n.head = a;
        }
        n.nr_partial += 1;
        self.nr_partial.store(n.nr_partial, Relaxed);
    }

    /// `remove_partial()`, under `list_lock`.
    pub(super) fn remove_partial(&self, n: &mut Node, s: &SlabPage) {
        let (p, nx) = (s.prev.load(Relaxed), s.next.load(Relaxed));
        // SAFETY: neighbours on the list (under `list_lock`).
        match unsafe { SlabPage::from_link(p) } {
            Some(p) => p.next.store(nx, Relaxed),
            None => n.head = nx,
        }
        // SAFETY: as above.
        match unsafe { SlabPage::from_link(nx) } {
            Some(nx) => nx.prev.store(p, Relaxed),
            None => n.tail = p,
        }
        s.next.store(core::ptr::null_mut(), Relaxed);
        s.prev.store(core::ptr::null_mut(), Relaxed);
        n.nr_partial -= 1;
        self.nr_partial.store(n.nr_partial, Relaxed);
    }

    /// `get_partial_node()`: takes slabs off the node partial list, the first
    /// as the CPU slab (returned with its freelist), more onto the CPU
    /// partial list up to half its limit. Interrupts are off.
    pub(super) fn get_partial(&self) -> Option<Taken<'_>> {
        if self.nr_partial.load(Relaxed) == 0 {
            return None;
        }
        let mut n = self.node.lock();
        let mut got: Option<Taken<'_>> = None;
        let mut partial_slabs = 0;
        let mut cur = n.head;
        // SAFETY: slabs on the node list are this cache's; `list_lock` is
        // held, so each stays there until we take it off, and then it is
        // ours (frozen) and not discarded.
        while let Some(s) = unsafe { SlabPage::from_link(cur) } {
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
                got = Some(Taken { slab: s, freelist });
                self.stat(SlabStat::AllocFromPartial);
            } else {
                self.put_cpu_partial(s, false);
                self.stat(SlabStat::CpuPartialNode);
                partial_slabs += 1;
            }
            if partial_slabs > self.cpu_partial_slabs.load(Relaxed) / 2 {
                break;
            }
            cur = next;
        }
        got
    }

    /// Objects in use in the node partial slabs (`count_partial()`).
    pub(crate) fn partial_inuse(&self) -> usize {
        let n = self.node.lock();
        let mut inuse = 0;
        let mut cur = n.head;
        // SAFETY: on the list, under `list_lock`.
        while let Some(s) = unsafe { SlabPage::from_link(cur) } {
            inuse += s.counters().inuse() as usize;
            cur = s.next.load(Relaxed);
        }
        inuse
    }

    /// Frees every empty slab on the node partial list (an unfrozen slab with
    /// no object out stays empty: nothing can free into it, and only
    /// `get_partial` under `list_lock` takes objects from it).
    pub(super) fn discard_empty(&self) -> usize {
        let mut discard: *mut SlabPage = core::ptr::null_mut();
        {
            let mut n = self.node.lock();
            let mut cur = n.head;
            // SAFETY: on the node list, under `list_lock`.
            while let Some(s) = unsafe { SlabPage::from_link(cur) } {
                let next = s.next.load(Relaxed);
                if s.counters().inuse() == 0 {
                    self.remove_partial(&mut n, s);
                    s.next.store(discard, Relaxed);
                    discard = s.as_link();
                }
                cur = next;
            }
        }
        let mut freed = 0;
        // SAFETY: empty and taken off the list above.
        while let Some(s) = unsafe { SlabPage::from_link(discard) } {
            discard = s.next.load(Relaxed);
            self.discard_slab(s);
            self.stat(SlabStat::FreeSlab);
            freed += 1;
        }
        freed
    }
}
