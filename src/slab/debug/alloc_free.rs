// SPDX-License-Identifier: GPL-2.0
//! A debug cache's allocation and free: one object at a time under
//! `list_lock` (`alloc_single_from_partial()`,
//! `alloc_single_from_new_slab()`, `free_to_partial_list()`), with
//! `alloc_debug_processing()` and `free_debug_processing()`.

use super::TrackItem;
use crate::{
    glue::{atomic::Relaxed, debug as kdebug, gfp::Gfp},
    logic::slab::{
        layout::{SLAB_CONSISTENCY_CHECKS, SLAB_STORE_USER, SLUB_RED_ACTIVE, SLUB_RED_INACTIVE},
        slabstate::Counters,
    },
    slab::{Cache, SlabPage, SlabStat},
};

impl Cache {
    /// Sets a debug slab's `(freelist, inuse)` (under `list_lock`, which
    /// every change of a debug slab holds; the exchange keeps it atomic for
    /// lockless readers).
    ///
    /// # Safety
    ///
    /// `s` is held (see the `slab::debug` module). `freelist` is 0 or heads
    /// a list of free objects of `s` linked through their free pointers,
    /// which the slab keeps (nobody else holds them), and `inuse` is at
    /// least the number of its objects not on it. `frozen` is the slab's
    /// frozen bit as it was, or set to disable the slab (`freelist` 0, all
    /// objects in use), or clear for a new slab the caller has alone.
    pub(super) unsafe fn set_slab(&self, s: &SlabPage, freelist: usize, inuse: u32, frozen: bool) {
        loop {
            let (fl, old) = (s.pair.first(), s.counters());
            let new = Counters::new(inuse, old.objects(), frozen);
            if s.pair
                .cmpxchg((fl, old.0 as usize), (freelist, new.0 as usize))
            {
                return;
            }
        }
    }

    /// `alloc_debug_processing()`: checks an object being handed out and
    /// marks it allocated; on a failed check the slab is disabled (all its
    /// objects marked used, frozen: never used again) and `false`.
    ///
    /// # Safety
    ///
    /// `s` is held (see the `slab::debug` module), and `obj` an object of
    /// it that the caller has just taken off its freelist
    /// ([`Cache::take_object`]) and handed to nobody yet.
    unsafe fn alloc_debug_processing(&self, s: &SlabPage, obj: usize, orig_size: u32) -> bool {
        let ok = !self.has(SLAB_CONSISTENCY_CHECKS)
            // SAFETY: `s` is held, and `obj` a free object of it (our
            // caller's guarantee: just taken off the freelist, handed to
            // nobody).
            || unsafe { self.check_slab(s) && self.check_object(s, obj, SLUB_RED_INACTIVE) };
        if !ok {
            self.slab_fix(format_args!("Marking all objects used"));
            // SAFETY: `s` is held; this disables it.
            unsafe { self.set_slab(s, 0, s.counters().objects(), true) };
            return false;
        }
        // SAFETY: `obj` is an object of `s`, a held slab, being allocated by
        // our caller (its guarantee).
        unsafe {
            self.trace(s, obj, true);
            self.set_orig_size(obj, orig_size);
            self.init_object(obj, SLUB_RED_ACTIVE);
        }
        true
    }

    /// Takes the first free object of `s`: `None` (and the slab disabled)
    /// if its freelist is corrupt.
    ///
    /// # Safety
    ///
    /// `s` is held (see the `slab::debug` module).
    unsafe fn take_object(&self, s: &SlabPage) -> Option<usize> {
        let obj = s.pair.first();
        if obj == 0 || !self.check_valid_pointer(s, obj) {
            // SAFETY: `s` is held (our caller's guarantee).
            unsafe { self.object_err(s, obj, "Freelist Pointer check fails") };
            self.slab_fix(format_args!("Marking all objects used"));
            // SAFETY: `s` is held; this disables it.
            unsafe { self.set_slab(s, 0, s.counters().objects(), true) };
            return None;
        }
        // SAFETY: `obj` is a free object of `s` (checked), a held slab.
        let next = unsafe { self.get_fp(obj) };
        // SAFETY: `s` is held, and `next` the rest of its freelist after
        // `obj`, which is taken (one more in use).
        unsafe { self.set_slab(s, next, s.counters().inuse() + 1, false) };
        Some(obj)
    }

    /// The debug allocation (`___slab_alloc()` of a debug cache):
    /// `alloc_single_from_partial()` over the node partial list, else
    /// `alloc_single_from_new_slab()`. 0 if no memory could be had.
    #[inline(never)]
    pub(in super::super) fn debug_alloc(
        &self,
        gfp: Gfp,
        orig_size: u32,
        node: Option<usize>,
    ) -> usize {
        let addr = if self.has(SLAB_STORE_USER) {
            kdebug::caller()
        } else {
            kdebug::Caller::default()
        };
        self.stat(SlabStat::AllocSlowpath);
        let orig_size = orig_size.clamp(1, self.layout.object_size);
        // The node asked for (or the CPU's) first, then, unless
        // `__GFP_THISNODE`, the others nearest first (`get_partial()` with
        // `get_any_partial()`).
        let local = node.unwrap_or_else(|| self.pool.cpu_node(crate::glue::cpu::current()));
        let (others, k) = crate::glue::numa::fallback_nodes(local);
        let k = if node.is_some() && gfp.this_node() {
            0
        } else {
            k
        };
        let min = self.min_partial.load(Relaxed);
        let remote = others[..k]
            .iter()
            .map(|&o| o as usize)
            .filter(|&o| o < self.nodes.len() && self.node(o).nr_partial.load(Relaxed) > min);
        for nid in Iterator::chain(core::iter::once(local), remote) {
            let mut n = self.node(nid).list.lock();
            let mut cur = n.head;
            // SAFETY: on the node list, under `list_lock`.
            while let Some(s) = unsafe { SlabPage::from_link(cur) } {
                cur = s.next.load(Relaxed);
                // SAFETY: `s`, on this debug cache's node list, is held: its
                // `list_lock` is held here.
                let got = unsafe { self.take_object(s) }.filter(|&o| {
                    // SAFETY: `s` is held (as above), and `o` was just taken
                    // off its freelist by `take_object`, handed to nobody
                    // yet.
                    unsafe { self.alloc_debug_processing(s, o, orig_size) }
                });
                let c = s.counters();
                if got.is_none() || c.inuse() == c.objects() {
                    // SAFETY: `s` is on `n`, this cache's node list, locked
                    // here.
                    unsafe { self.remove_partial(&mut n, s) };
                }
                if let Some(o) = got {
                    drop(n);
                    self.stat(SlabStat::AllocFromPartial);
                    if self.has(SLAB_STORE_USER) {
                        // SAFETY: `o` was just allocated here, handed to
                        // nobody yet: ours.
                        unsafe { self.set_track(o, TrackItem::Alloc, addr) };
                    }
                    return o;
                }
            }
        }
        let Some(t) = self.new_slab(gfp, node) else {
            return 0;
        };
        self.stat(SlabStat::AllocSlab);
        let s = t.slab();
        // SAFETY: `s` is a new slab of this cache, on no list and no CPU's,
        // ours alone (type invariant of `Taken`, from `self.new_slab`), so
        // held; its whole freelist, taken with it, goes back in it, unfrozen
        // with no object in use.
        unsafe { self.set_slab(s, t.freelist(), 0, false) };
        // SAFETY: `s` is held (as above).
        let Some(o) = unsafe { self.take_object(s) }.filter(|&o| {
            // SAFETY: `s` is held (as above), and `o` was just taken off its
            // freelist by `take_object`, handed to nobody yet.
            unsafe { self.alloc_debug_processing(s, o, orig_size) }
        }) else {
            return 0;
        };
        let c = s.counters();
        if c.inuse() < c.objects() {
            let mut n = self.node_of(s).list.lock();
            // SAFETY: `n` is the locked list of `s`'s node, and `s`, this
            // cache's new slab, unfrozen above, is on no list.
            unsafe { self.add_partial(&mut n, s, false) };
        }
        if self.has(SLAB_STORE_USER) {
            // SAFETY: `o` was just allocated here, handed to nobody yet.
            unsafe { self.set_track(o, TrackItem::Alloc, addr) };
        }
        o
    }

    /// `free_debug_processing()`: checks an object being freed and marks it
    /// free; `false` (reported, and the object not freed) if it must not be
    /// freed.
    ///
    /// # Safety
    ///
    /// `s` is held (see the `slab::debug` module), and `obj` an address
    /// in it that the caller is freeing: if it is an object of `s`, it is
    /// allocated and nobody uses it any more.
    unsafe fn free_debug_processing(&self, s: &SlabPage, obj: usize, addr: kdebug::Caller) -> bool {
        let f = self.has(SLAB_CONSISTENCY_CHECKS);
        let ok = 'checks: {
            // SAFETY: `s` is held (our caller's guarantee).
            if f && !unsafe { self.check_slab(s) } {
                break 'checks false;
            }
            if s.counters().inuse() < 1 {
                self.slab_err(
                    s,
                    format_args!(
                        "Slab has {} allocated objects but 1 are to be freed",
                        s.counters().inuse()
                    ),
                );
                break 'checks false;
            }
            if !self.check_valid_pointer(s, obj) {
                self.slab_err(s, format_args!("Invalid object pointer 0x{obj:016x}"));
                break 'checks false;
            }
            // SAFETY: `s` is held (our caller's guarantee).
            if unsafe { self.on_freelist(s, obj) } {
                // SAFETY: as above.
                unsafe { self.object_err(s, obj, "Object already free") };
                break 'checks false;
            }
            // SAFETY: `s` is held, and `obj` an object of it (checked),
            // allocated (not on its freelist) and being freed (our caller's
            // guarantee).
            if f && !unsafe { self.check_object(s, obj, SLUB_RED_ACTIVE) } {
                break 'checks false;
            }
            true
        };
        if !ok {
            self.slab_fix(format_args!("Object at 0x{obj:016x} not freed"));
            return false;
        }
        // SAFETY: `obj` is an allocated object of `s` (checked above), a held
        // slab, that our caller is freeing (its guarantee): its tracks, red
        // zones and bytes are the cache's now.
        unsafe {
            if self.has(SLAB_STORE_USER) {
                self.set_track(obj, TrackItem::Free, addr);
            }
            self.trace(s, obj, false);
            self.init_object(obj, SLUB_RED_INACTIVE);
        }
        true
    }

    /// The debug free (`free_to_partial_list()`): `obj`, an object of `s`,
    /// back onto its slab under `list_lock`, the slab onto the partial list
    /// or freed as `__slab_free()` decides.
    ///
    /// # Safety
    ///
    /// `s` is a slab of this cache, and `obj` an object of it that the
    /// caller gives up: allocated, and not used by anybody any more.
    #[inline(never)]
    pub(in super::super) unsafe fn debug_free(&self, s: &SlabPage, obj: usize) {
        let addr = if self.has(SLAB_STORE_USER) {
            kdebug::caller()
        } else {
            kdebug::Caller::default()
        };
        self.stat(SlabStat::FreeSlowpath);
        let mut n = self.node_of(s).list.lock();
        // SAFETY: `s`, a slab of this debug cache (our caller's guarantee),
        // is held: its node's `list_lock` is held here; `obj` is an object
        // of it that our caller gives up.
        if !unsafe { self.free_debug_processing(s, obj, addr) } {
            return;
        }
        let prior = s.pair.first();
        let c = s.counters();
        // SAFETY: `obj` is an object of `s` (checked above) that the caller
        // gave up: ours to link.
        unsafe { self.set_fp(obj, prior) };
        let inuse = c.inuse() - 1;
        // SAFETY: `s` is held (as above); `obj`, linked to its freelist just
        // above, is free now: one fewer in use.
        unsafe { self.set_slab(s, obj, inuse, c.frozen()) };
        let discard = inuse == 0 && n.nr_partial >= self.min_partial.load(Relaxed);
        if prior == 0 {
            // It was full, on no list.
            if !discard {
                // SAFETY: `n` is the locked list of `s`'s node, and `s`, a
                // slab of this debug cache (no CPU's), full until now, is on
                // no list.
                unsafe { self.add_partial(&mut n, s, true) };
                self.stat(SlabStat::FreeAddPartial);
            }
        } else if discard {
            // SAFETY: `s`, which had free objects, is on `n`, the locked list
            // of its node.
            unsafe { self.remove_partial(&mut n, s) };
            self.stat(SlabStat::FreeRemovePartial);
        }
        drop(n);
        if discard {
            self.stat(SlabStat::FreeSlab);
            // SAFETY: `s` is this cache's (the caller's guarantee), a debug
            // cache's slab (never frozen), with no object in use, and was
            // taken off the partial list (or kept off it) above under
            // `list_lock`: nothing frees into it or takes it.
            unsafe { self.discard_slab(s) };
        }
    }
}
