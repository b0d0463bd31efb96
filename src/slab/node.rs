// SPDX-License-Identifier: GPL-2.0
//! The node partial list (`struct kmem_cache_node`) under `list_lock`:
//! `add_partial()`, `remove_partial()`, `get_partial_node()` and what walks
//! the list.

use super::{slowpath::Taken, Cache, SlabPage, SlabStat};
use crate::glue::{
    atomic::{Atomic, Relaxed},
    numa,
};
use crate::logic::slab::slabstate::Counters;
use kernel::{new_spinlock_irq, prelude::*, sync::SpinLockIrq};

/// `struct kmem_cache_node`: one node's partial list under its
/// `list_lock`, and the node's counts.
///
/// # Invariants
///
/// `nr_partial` is the list's `nr_partial` (written under the lock, read
/// without); `nr_slabs`/`total_objects` count the cache's slabs of this node
/// and their objects, changed with a slab's owner under the lock.
#[pin_data]
pub(super) struct CacheNode {
    #[pin]
    pub(super) list: SpinLockIrq<Node>,
    pub(super) nr_partial: Atomic<u32>,
    pub(super) nr_slabs: Atomic<usize>,
    pub(super) total_objects: Atomic<usize>,
}

impl CacheNode {
    pub(super) fn new(nid: usize) -> impl PinInit<Self> {
        pin_init!(CacheNode {
            list <- new_spinlock_irq!(Node::new(nid as u32)),
            nr_partial: Atomic::new(0),
            nr_slabs: Atomic::new(0),
            total_objects: Atomic::new(0),
        })
    }
}

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
    /// Which node this is.
    pub(super) nid: u32,
}

// SAFETY: the pointers name slab records, which are `Sync`; they are only
// used under `list_lock`.
unsafe impl Send for Node {}

impl Node {
    pub(super) const fn new(nid: u32) -> Self {
        // INVARIANT: an empty list.
        Node {
            head: core::ptr::null_mut(),
            tail: core::ptr::null_mut(),
            nr_partial: 0,
            nid,
        }
    }
}

/// A no-op called with a node's `list_lock` held, where a test's kprobe
/// runs `kmalloc_nolock()` as code that interrupted the holder would (7.3's
/// `slab_attach_kprobe_locked()`, `rslab:rslab_attach_kprobe_locked`): on
/// kernels with lockdep only, as the kernel's.
#[cfg(CONFIG_PROVE_LOCKING)]
#[no_mangle]
#[inline(never)]
pub(crate) extern "C" fn rslab_attach_kprobe_locked() {
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// [`rslab_attach_kprobe_locked`] where the kernel has lockdep.
#[inline(always)]
fn attach_kprobe_locked() {
    #[cfg(CONFIG_PROVE_LOCKING)]
    rslab_attach_kprobe_locked();
}

impl Cache {
    /// `add_partial()`, under `list_lock`.
    ///
    /// # Safety
    ///
    /// `n` is the partial list of `s`'s node of this cache, locked by the
    /// caller, and `s` a slab of this cache on no list (no CPU's, no
    /// node's) that the caller puts there: unfrozen, or a debug cache's
    /// disabled slab (frozen, but no CPU's).
    pub(super) unsafe fn add_partial(&self, n: &mut Node, s: &SlabPage, tail: bool) {
        attach_kprobe_locked();
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
        self.node(n.nid as usize)
            .nr_partial
            .store(n.nr_partial, Relaxed);
    }

    /// `remove_partial()`, under `list_lock`.
    ///
    /// # Safety
    ///
    /// `n` is a partial list of this cache, locked by the caller, and `s` a
    /// slab on it, which the caller takes off.
    pub(super) unsafe fn remove_partial(&self, n: &mut Node, s: &SlabPage) {
        attach_kprobe_locked();
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
        self.node(n.nid as usize)
            .nr_partial
            .store(n.nr_partial, Relaxed);
    }

    /// `get_partial()`: partial slabs of node `nid` first
    /// (`get_partial_node()`), then, unless `this_node` (`__GFP_THISNODE`),
    /// of the other nodes (`get_any_partial()`). With `fill`, more slabs of
    /// the node go onto the CPU partial list. Interrupts are off.
    pub(super) fn get_partial(&self, nid: usize, this_node: bool, fill: bool) -> Option<Taken<'_>> {
        self.get_partial_node(nid, fill).or_else(|| {
            (!this_node)
                .then(|| self.get_any_partial(nid, fill))
                .flatten()
        })
    }

    /// `get_any_partial()`: the other nodes' partial lists, nearest first,
    /// those with more than `min_partial` slabs, `remote_node_defrag_ratio`
    /// times in 1024 (SLUB: keep a little on each node rather than drain
    /// remote ones).
    fn get_any_partial(&self, nid: usize, fill: bool) -> Option<Taken<'_>> {
        let ratio = self.remote_node_defrag_ratio.load(Relaxed);
        if self.nodes.len() < 2 || ratio == 0 {
            return None;
        }
        // SAFETY: `get_random_u32()` may be called from any context (SLUB
        // reads `get_cycles()` for the same coin).
        if (unsafe { kernel::bindings::get_random_u32() } % 1024) > ratio {
            return None;
        }
        let (others, k) = numa::fallback_nodes(nid);
        let min = self.min_partial.load(Relaxed);
        others[..k]
            .iter()
            .map(|&o| o as usize)
            .filter(|&o| o < self.nodes.len() && self.node(o).nr_partial.load(Relaxed) > min)
            .find_map(|o| self.get_partial_node(o, fill))
    }

    /// `get_partial_node()`: takes slabs off node `nid`'s partial list, the
    /// first as the CPU slab (returned with its freelist), and with `fill`
    /// more onto the CPU partial list up to half its limit. Interrupts are
    /// off.
    fn get_partial_node(&self, nid: usize, fill: bool) -> Option<Taken<'_>> {
        let node = self.nodes.get(nid)?;
        if node.nr_partial.load(Relaxed) == 0 {
            return None;
        }
        let mut n = node.list.lock();
        let mut got: Option<Taken<'_>> = None;
        let mut partial_slabs = 0;
        let mut cur = n.head;
        // SAFETY: slabs on the node list are this cache's; `list_lock` is
        // held, so each stays there until we take it off, and then it is
        // ours (frozen) and not discarded.
        while let Some(s) = unsafe { SlabPage::from_link(cur) } {
            let next = s.next.load(Relaxed);
            let first = got.is_none();
            if !first && !fill {
                break;
            }
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
            // SAFETY: `s` is on `n`, this cache's node list, locked here.
            unsafe { self.remove_partial(&mut n, s) };
            if first {
                // SAFETY: `s` is a slab of this cache, frozen by the exchange
                // above and taken off its node list, so on none and no
                // CPU's; `freelist`, non-empty, is its freelist, which the
                // exchange took off it, counting its objects in use.
                got = Some(unsafe { Taken::new(s, freelist) });
                self.stat(SlabStat::AllocFromPartial);
            } else {
                // SAFETY: `s` is a slab of this cache, frozen by the
                // exchange above and taken off its node list by us, so on
                // no list and no CPU's.
                unsafe { self.put_cpu_partial(s, false) };
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
        let mut inuse = 0;
        for node in self.nodes.iter() {
            let n = node.list.lock();
            let mut cur = n.head;
            // SAFETY: on the list, under `list_lock`.
            while let Some(s) = unsafe { SlabPage::from_link(cur) } {
                inuse += s.counters().inuse() as usize;
                cur = s.next.load(Relaxed);
            }
        }
        inuse
    }

    /// Frees every empty slab on the node partial list (an unfrozen slab with
    /// no object out stays empty: nothing can free into it, and only
    /// `get_partial` under `list_lock` takes objects from it).
    pub(super) fn discard_empty(&self) -> usize {
        let mut discard: *mut SlabPage = core::ptr::null_mut();
        for node in self.nodes.iter() {
            let mut n = node.list.lock();
            let mut cur = n.head;
            // SAFETY: on the node list, under `list_lock`.
            while let Some(s) = unsafe { SlabPage::from_link(cur) } {
                let next = s.next.load(Relaxed);
                if s.counters().inuse() == 0 {
                    // SAFETY: `s` is on `n`, this cache's node list, locked
                    // here.
                    unsafe { self.remove_partial(&mut n, s) };
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
            // SAFETY: `s` was on this cache's node partial list (so it is an
            // unfrozen slab of this cache), was taken off it above under
            // `list_lock` with no object in use, and went on no other list
            // but this local one: nothing frees into it or takes it.
            unsafe { self.discard_slab(s) };
            self.stat(SlabStat::FreeSlab);
            freed += 1;
        }
        freed
    }
}
