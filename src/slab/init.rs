// SPDX-License-Identifier: GPL-2.0
//! Zeroing on allocation and free: `slab_post_alloc_hook()`'s and
//! `slab_free_hook()`'s memsets under the cache's [`InitPolicy`] (pure
//! logic: `__GFP_ZERO`, `init_on_alloc`, `init_on_free`, and the caches a
//! constructor, RCU or poisoning exempt). Every path that hands an object
//! out ([`Cache::alloc`], `alloc_node`, `alloc_sized`, bulk, sheaves,
//! debug caches) ends in [`Cache::post_alloc`], every free of a checked
//! object starts with [`Cache::pre_free`]; the fast paths pay one test each.
//! kmemleak's hooks and allocation profiling ([`super::allocinfo`]) ride on
//! the same tests: on a kmemleak kernel, or with `allocinfo=1`, every
//! allocation and every user's free of such a cache takes this way.
//!
//! [`InitPolicy`]: crate::logic::slab::init::InitPolicy

use super::{Cache, SlabPage};
use crate::{
    glue::{atomic::Relaxed, gfp::Gfp, kmemleak},
    logic::slab::init,
};

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
        if self.init.wants_init(gfp.bits()) {
            // SAFETY: the caller's guarantee. (A tail call: the fast path
            // keeps nothing live across it.)
            return unsafe { self.init_alloced(o, gfp, orig_size) };
        }
        o
    }

    /// The request flags ([`Gfp::bits`]) for which an allocation inits its
    /// object: a caller that tested them itself may take the uninitialised
    /// path ([`Cache::alloc_uninit`]).
    pub(crate) fn init_mask(&self) -> u32 {
        self.init.alloc_mask
    }

    /// [`Cache::post_alloc`] if `init` (a constant where the fast paths
    /// call it), else `o` as it is.
    ///
    /// # Safety
    ///
    /// As for [`Cache::post_alloc`].
    #[inline(always)]
    pub(super) unsafe fn post_alloc_if(
        &self,
        init: bool,
        o: usize,
        gfp: Gfp,
        orig_size: u32,
    ) -> usize {
        if init {
            // SAFETY: the caller's guarantee.
            unsafe { self.post_alloc(o, gfp, orig_size) }
        } else {
            o
        }
    }

    /// [`Cache::post_alloc`] of every object of `objs`.
    ///
    /// # Safety
    ///
    /// Every pointer of `objs` is an object of this cache just allocated,
    /// not yet handed to anyone.
    #[inline(always)]
    pub(super) unsafe fn post_alloc_bulk(&self, objs: &[*mut u8], gfp: Gfp) {
        if self.init.wants_init(gfp.bits()) {
            for &o in objs {
                // SAFETY: the caller's guarantee.
                unsafe { self.init_alloced(o as usize, gfp, self.layout.object_size) };
            }
        }
    }

    /// Zeroes `o` (none if 0) as the policy says for `gfp`: the object (up
    /// to the size asked for on a kmalloc cache that red-zones the rest),
    /// or only its free pointer (`maybe_wipe_obj_freeptr()`); then has
    /// kmemleak track it and allocation profiling count it, if the cache
    /// does either. Returns `o`.
    ///
    /// # Safety
    ///
    /// As for [`Cache::post_alloc`].
    #[inline(never)]
    unsafe fn init_alloced(&self, o: usize, gfp: Gfp, orig_size: u32) -> usize {
        if o == 0 {
            return 0;
        }
        // SAFETY: the caller's guarantee.
        unsafe { self.init_contents(o, gfp, orig_size) };
        let p = o as *mut u8;
        if self.init.track {
            // SAFETY: `o` is an object just allocated (the caller's
            // guarantee), `object_size` bytes in a slab that stays mapped
            // while it is allocated; kmemleak tracks no other memory there
            // (slabs are the pool's pages, which it does not track, and
            // every user's free of a tracked object ends its tracking).
            unsafe { kmemleak::alloc(p, self.layout.object_size as usize, gfp) };
        }
        if self.init.profile {
            // SAFETY: `o` is an object of this cache just allocated, handed
            // to nobody yet (the caller's guarantee).
            unsafe { self.profile_alloc(o) };
        }
        o
    }

    /// [`Cache::init_alloced`]'s zeroing of `o` (not 0), without its
    /// kmemleak and profiling hooks: all that `kmalloc_nolock()` does, as
    /// those hooks' bookkeeping takes locks.
    ///
    /// # Safety
    ///
    /// As for [`Cache::post_alloc`].
    pub(super) unsafe fn init_contents(&self, o: usize, gfp: Gfp, orig_size: u32) {
        let p = o as *mut u8;
        if self.init.zeroes(gfp.bits()) {
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

    /// `slab_free_hook()` of `o`, an object being freed: kmemleak stops
    /// tracking it, allocation profiling takes it off its caller's count,
    /// and under `init_on_free` it is zeroed.
    ///
    /// # Safety
    ///
    /// `o` is an object of this cache (checked) that its owner is freeing:
    /// nobody uses it any more.
    #[inline(always)]
    pub(super) unsafe fn pre_free(&self, o: usize) {
        if self.init.free_hook {
            // SAFETY: the caller's guarantee.
            unsafe { self.free_hooks(o) };
        }
    }

    /// The work of [`Cache::pre_free`], out of line.
    ///
    /// # Safety
    ///
    /// As for [`Cache::pre_free`].
    #[inline(never)]
    pub(super) unsafe fn free_hooks(&self, o: usize) {
        if self.init.track {
            kmemleak::free(o as *const u8);
        }
        if self.init.profile {
            // SAFETY: the caller's guarantee.
            unsafe { self.profile_free(o) };
        }
        if self.init.on_free {
            // SAFETY: the caller's guarantee.
            unsafe { self.zero_on_free(o) };
        }
    }

    /// Frees `o`, an object of `slab` of this cache, to a sheaf or the
    /// slab, after [`Cache::pre_free`]: the single frees (`kmem_cache_free()`,
    /// `kfree()`), whose fast paths leave the zeroing to a tail call, so
    /// that they keep nothing live across it.
    ///
    /// # Safety
    ///
    /// As for [`Cache::pre_free`], `slab` the slab of `o`.
    #[inline(always)]
    pub(super) unsafe fn free_checked(&self, slab: &SlabPage, o: usize) {
        // A sheaves cache's free takes the one test it took before there
        // was zeroing (the pointer), a classic cache's one more.
        // SAFETY: `free_sheaves` is null or this cache's sheaves, which
        // live as long as it (type invariant of `Cache`).
        match unsafe { self.free_sheaves.load(Relaxed).as_ref() } {
            // SAFETY: `sh` is this cache's sheaves (just above); `o` is an
            // object of `slab`, a slab of this cache, that the caller gives
            // up (its guarantee).
            Some(sh) => unsafe { self.sheaf_free(sh, slab, o) },
            // SAFETY: the caller's guarantee.
            None if self.init.free_hook => unsafe { self.free_hooked(slab, o) },
            // SAFETY: `o` alone is a detached list of one object of `slab`,
            // a slab of this cache, that the caller gives up (its
            // guarantee).
            None => unsafe { self.do_slab_free(slab, o, o, 1) },
        }
    }

    /// [`Cache::free_checked`] when a free has hooks to run
    /// ([`Cache::pre_free`]: `init_on_free`, kmemleak).
    ///
    /// # Safety
    ///
    /// As for [`Cache::free_checked`].
    #[inline(never)]
    unsafe fn free_hooked(&self, slab: &SlabPage, o: usize) {
        // SAFETY: the caller's guarantee.
        unsafe { self.free_hooks(o) };
        match self.sheaves() {
            // SAFETY: `sh` is this cache's sheaves; `o` is an object of
            // `slab`, a slab of this cache, that the caller gives up (its
            // guarantee, as for `free_checked`).
            Some(sh) => unsafe { self.sheaf_free(sh, slab, o) },
            // SAFETY: `o` alone is a detached list of one object of `slab`,
            // a slab of this cache, that the caller gives up (its
            // guarantee, as for `free_checked`).
            None => unsafe { self.do_slab_free(slab, o, o, 1) },
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
        // SAFETY: `o` is an object of this cache that the caller holds (is
        // freeing), so its slab stays.
        let orig = unsafe { self.get_orig_size(o) };
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
        // SAFETY: `o` is an object of this cache being freed by the caller,
        // who holds it (its guarantee, as for `pre_free`).
        unsafe { self.set_orig_size(o, orig) };
    }
}
