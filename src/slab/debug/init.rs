// SPDX-License-Identifier: GPL-2.0
//! Object initialisation of a debug cache: red zones and poison
//! (`init_object()`, `setup_object_debug()`), and the size a kmalloc
//! request asked for (`get_orig_size()`, `set_orig_size()`), red-zoning the
//! rest.

use super::fill;
use crate::{
    logic::slab::layout::{
        POISON_END, POISON_FREE, POISON_INUSE, SLAB_POISON, SLAB_RED_ZONE, SLAB_STORE_USER,
        SLUB_RED_ACTIVE, SLUB_RED_INACTIVE,
    },
    slab::Cache,
};

impl Cache {
    /// `get_orig_size()`: the size asked for (the object size unless the
    /// cache records it).
    ///
    /// # Safety
    ///
    /// `obj` is an object of a kept slab (see the `slab::debug` module):
    /// the caller holds `obj`, or its slab.
    pub(crate) unsafe fn get_orig_size(&self, obj: usize) -> u32 {
        if !self.layout.orig_size() {
            return self.layout.object_size;
        }
        let a = obj + self.layout.orig_size_offset() as usize;
        // SAFETY: metadata of `obj`'s slot, in a slab that stays (our
        // caller's guarantee): mapped slab memory.
        let v = unsafe { core::ptr::read_volatile(a as *const u32) };
        v.clamp(1, self.layout.object_size)
    }

    /// `set_orig_size()`.
    ///
    /// # Safety
    ///
    /// `obj` is an object of this cache (the start of an object slot of one
    /// of its slabs) that the caller holds: allocated to it, or being
    /// allocated or freed by it, so that nobody else writes its metadata.
    pub(crate) unsafe fn set_orig_size(&self, obj: usize, size: u32) {
        if self.layout.orig_size() {
            let a = obj + self.layout.orig_size_offset() as usize;
            let v = size.clamp(1, self.layout.object_size);
            // SAFETY: metadata of `obj`'s slot, which the caller holds.
            unsafe { core::ptr::write_volatile(a as *mut u32, v) };
        }
    }

    /// Fills the kmalloc red zone of `obj` from `size` on (`krealloc()`
    /// shrinking in place), with the size recorded.
    ///
    /// # Safety
    ///
    /// As for [`Cache::set_orig_size`]; the caller uses no byte of the object
    /// from `size` on any more.
    pub(crate) unsafe fn set_kmalloc_redzone(&self, obj: usize, size: usize) {
        if !self.layout.orig_size() {
            return;
        }
        let size = size.min(self.layout.object_size as usize);
        // SAFETY: our caller's guarantee.
        unsafe { self.set_orig_size(obj, size as u32) };
        if self.has(SLAB_RED_ZONE) {
            // SAFETY: `obj` is the caller's object of this cache, whose
            // bytes past what it asked for (`size`) are this cache's red
            // zone now.
            unsafe {
                fill(
                    obj + size,
                    self.layout.object_size as usize - size,
                    SLUB_RED_ACTIVE,
                )
            };
        }
    }

    /// `init_object()`: red zones to `val`, the object poisoned.
    ///
    /// # Safety
    ///
    /// `obj` is an object of a held slab (see the `slab::debug` module)
    /// that the caller holds: free (in a new slab), or being handed out or
    /// taken back by the caller, so that its bytes and red zones are the
    /// cache's to write.
    pub(super) unsafe fn init_object(&self, obj: usize, val: u8) {
        let l = &self.layout;
        let mut poison_size = l.object_size as usize;
        // The fills: red zones and poison are the cache's to write, as the
        // object is free, or being handed out or taken back (our caller's
        // guarantee), in a slab that stays.
        if self.has(SLAB_RED_ZONE) {
            let rlp = l.red_left_pad as usize;
            // SAFETY: the left red zone (see above).
            unsafe { fill(obj - rlp, rlp, val) };
            if l.orig_size() && val == SLUB_RED_ACTIVE {
                // SAFETY: `obj` is an object of a kept slab (see above).
                poison_size = unsafe { self.get_orig_size(obj) } as usize;
            }
        }
        if l.object_poison() {
            // SAFETY: the object's bytes (see above).
            unsafe {
                fill(obj, poison_size - 1, POISON_FREE);
                fill(obj + poison_size - 1, 1, POISON_END);
            }
        }
        if self.has(SLAB_RED_ZONE) {
            // SAFETY: the right red zone (see above).
            unsafe { fill(obj + poison_size, l.inuse as usize - poison_size, val) };
        }
    }

    /// `setup_slab_debug()` and `setup_object_debug()` for a new slab of
    /// `objects` objects from `base` (its first object).
    ///
    /// # Safety
    ///
    /// The `bytes` bytes from `base` less the left red zone are a new slab
    /// of this cache, of `objects` objects from `base`, which the caller
    /// has alone.
    pub(in super::super) unsafe fn setup_slab_debug(
        &self,
        base: usize,
        bytes: usize,
        objects: u32,
    ) {
        let start = base - self.layout.red_left_pad as usize;
        if self.has(SLAB_POISON) {
            // SAFETY: the slab is new and the caller's alone (its
            // guarantee).
            unsafe { fill(start, bytes, POISON_INUSE) };
        }
        if self.has(SLAB_STORE_USER | SLAB_RED_ZONE) || self.layout.object_poison() {
            for i in 0..objects as usize {
                let obj = base + i * self.layout.size as usize;
                // SAFETY: `obj` is an object of the new slab, free, which
                // the caller has alone (its guarantee).
                unsafe {
                    self.init_object(obj, SLUB_RED_INACTIVE);
                    self.init_tracking(obj);
                }
            }
        }
    }
}
