// SPDX-License-Identifier: GPL-2.0
//! Zeroing on allocation and free: `slab_post_alloc_hook()`'s and
//! `slab_free_hook()`'s memsets under the cache's [`InitPolicy`] (pure
//! logic: `__GFP_ZERO`, `init_on_alloc`, `init_on_free`, and the caches a
//! constructor, RCU or poisoning exempt). Every path that hands an object
//! out ([`Cache::alloc`], `alloc_node`, `alloc_sized`, bulk, sheaves,
//! debug caches) ends in [`Cache::post_alloc`], every free of a checked
//! object starts with [`Cache::pre_free`]; the fast paths pay one test each.
//!
//! [`InitPolicy`]: crate::logic::slab::init::InitPolicy

use super::Cache;
use crate::{glue::gfp::Gfp, logic::slab::init};

impl Cache {
    /// `slab_post_alloc_hook()`'s initialisation of `o` (0: none), an
    /// object just allocated for a request of `orig_size` bytes with `gfp`.
    /// Returns `o`.
    ///
    /// # Safety
    ///
    /// `o` is 0 or an object of this cache just allocated, not yet handed
    /// to anyone.
    #[inline(always)]
    pub(super) unsafe fn post_alloc(&self, o: usize, gfp: Gfp, orig_size: u32) -> usize {
        if self.init.wants_init(gfp.raw()) && o != 0 {
            // SAFETY: the caller's guarantee.
            unsafe { self.init_alloced(o, gfp, orig_size) };
        }
        o
    }

    /// [`Cache::post_alloc`] of every object of `objs`.
    ///
    /// # Safety
    ///
    /// Every pointer of `objs` is an object of this cache just allocated,
    /// not yet handed to anyone.
    #[inline(always)]
    pub(super) unsafe fn post_alloc_bulk(&self, objs: &[*mut u8], gfp: Gfp) {
        if self.init.wants_init(gfp.raw()) {
            for &o in objs {
                // SAFETY: the caller's guarantee.
                unsafe { self.post_alloc(o as usize, gfp, self.layout.object_size) };
            }
        }
    }

    /// Zeroes `o` as the policy says for `gfp`: the object (up to the size
    /// asked for on a kmalloc cache that red-zones the rest), or only its
    /// free pointer (`maybe_wipe_obj_freeptr()`).
    ///
    /// # Safety
    ///
    /// As for [`Cache::post_alloc`], `o` not 0.
    #[inline(never)]
    unsafe fn init_alloced(&self, o: usize, gfp: Gfp, orig_size: u32) {
        let p = o as *mut u8;
        if self.init.zeroes(gfp.raw()) {
            let n = init::alloc_zero_size(&self.layout, orig_size);
            // SAFETY: the object's first `object_size >= n` bytes are the
            // caller's (the caller's guarantee).
            unsafe { core::ptr::write_bytes(p, 0, n as usize) };
        }
        if self.init.wipe_fp {
            // SAFETY: the policy wipes only a free pointer inside the
            // object (`offset + word <= inuse`), which is the caller's.
            unsafe {
                core::ptr::write_unaligned(p.add(self.layout.offset as usize).cast::<usize>(), 0)
            };
        }
    }

    /// `slab_free_hook()`'s initialisation of `o`, an object being freed,
    /// under `init_on_free`.
    ///
    /// # Safety
    ///
    /// `o` is an object of this cache (checked) that its owner is freeing:
    /// nobody uses it any more.
    #[inline(always)]
    pub(super) unsafe fn pre_free(&self, o: usize) {
        if self.init.on_free {
            // SAFETY: the caller's guarantee.
            unsafe { self.zero_on_free(o) };
        }
    }

    /// Zeroes the object `o` and its metadata but the red zones and a free
    /// pointer stored outside it; on a classic cache the free pointer inside
    /// it is kept too (the free writes it next; were this a double free,
    /// the freelist it heads stays intact), while in a sheaf it is wiped.
    ///
    /// # Safety
    ///
    /// As for [`Cache::pre_free`].
    #[inline(never)]
    unsafe fn zero_on_free(&self, o: usize) {
        let orig = self.orig_size(o);
        let keep_fp = self.sheaves().is_none() && self.layout.offset < self.layout.inuse;
        let fp = self.layout.offset as usize..self.layout.offset as usize + size_of::<usize>();
        for (from, to) in init::free_zero_ranges(&self.layout, orig) {
            let (from, to) = (from as usize, to as usize);
            let zero = |a: usize, b: usize| {
                if a < b {
                    // SAFETY: `a..b` lies in the object's slot, from the
                    // object to the end of its metadata (the pure logic's
                    // ranges), which the freeing owner gives up.
                    unsafe { core::ptr::write_bytes((o + a) as *mut u8, 0, b - a) };
                }
            };
            if keep_fp && from < fp.end && fp.start < to {
                zero(from, fp.start);
                zero(fp.end, to);
            } else {
                zero(from, to);
            }
        }
        self.set_orig_size(o, orig);
    }
}
