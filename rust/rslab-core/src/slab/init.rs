// SPDX-License-Identifier: GPL-2.0
//! When a cache zeroes its objects, as Linux 7.3 decides it
//! (`slab_want_init_on_alloc()`, `slab_want_init_on_free()`,
//! `maybe_wipe_obj_freeptr()` and the memsets of `slab_post_alloc_hook()`
//! and `slab_free_hook()`): the one rule every allocation and free path of
//! a cache goes through.

use super::layout::{
    Layout, SLAB_KMALLOC, SLAB_POISON, SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TYPESAFE_BY_RCU,
};

/// A bit no `gfp_t` has (`___GFP_LAST_BIT` is far below it), which the
/// kernel side sets in every request's flags: a mask with it matches every
/// request, so an allocation's one test, `gfp & alloc_mask`, also covers
/// the rules that do not depend on the flags.
pub const ALWAYS: u32 = 1 << 31;

/// A cache's initialisation policy, fixed when it is made (`init_on_alloc`
/// and `init_on_free` are boot settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitPolicy {
    /// The allocation flags (with [`ALWAYS`]) that make an allocation init
    /// its object: `__GFP_ZERO` unless `init_on_alloc` makes a constructor
    /// cache ignore it, and [`ALWAYS`] when every allocation zeroes or
    /// wipes the free pointer.
    pub alloc_mask: u32,
    /// `slab_want_init_on_alloc()` without `__GFP_ZERO`: every allocation
    /// zeroes the object.
    pub zero_always: bool,
    /// `slab_want_init_on_free()`: every free zeroes the object and its
    /// metadata (but the free pointer outside it and the red zones).
    pub on_free: bool,
    /// `maybe_wipe_obj_freeptr()`: with `on_free`, an allocation clears the
    /// free pointer stored inside the object.
    pub wipe_fp: bool,
    /// kmemleak tracks the cache's objects (`kmemleak_alloc_recursive()`,
    /// `kmemleak_free_recursive()`: a kmemleak kernel, and no
    /// `SLAB_NOLEAKTRACE`): every allocation and every user's free calls
    /// the hooks.
    pub track: bool,
    /// Allocation profiling counts the cache's objects per call site
    /// (`allocinfo=`): every allocation and every user's free calls it.
    pub profile: bool,
    /// A user's free does something before the object goes back:
    /// `on_free`, `track` or `profile` (the free fast paths' one test).
    pub free_hook: bool,
}

impl InitPolicy {
    /// The policy of a cache of layout `l` (its flags), with a constructor
    /// or not, under the kernel's `init_on_alloc`/`init_on_free`; `zero`
    /// is the `__GFP_ZERO` bit.
    pub fn new(
        l: &Layout,
        has_ctor: bool,
        init_on_alloc: bool,
        init_on_free: bool,
        zero: u32,
    ) -> Self {
        // Caches whose free objects must stay intact: a constructor's
        // state, RCU readers, SLUB's poison.
        let keep = has_ctor || l.flags & (SLAB_TYPESAFE_BY_RCU | SLAB_POISON) != 0;
        let zero_always = init_on_alloc && !keep;
        // `init_on_alloc` with a constructor: never, not even for
        // `__GFP_ZERO`.
        let zero_mask = if init_on_alloc && has_ctor { 0 } else { zero };
        let on_free = init_on_free && !keep;
        let wipe_fp = on_free && l.offset < l.inuse;
        InitPolicy {
            alloc_mask: zero_mask | if zero_always || wipe_fp { ALWAYS } else { 0 },
            zero_always,
            on_free,
            wipe_fp,
            track: false,
            profile: false,
            free_hook: on_free,
        }
    }

    /// The policy with kmemleak tracking the objects, if `track` (see
    /// [`InitPolicy::track`]): every allocation and free takes the hooks'
    /// way, whatever it zeroes.
    pub fn tracked(self, track: bool) -> Self {
        InitPolicy {
            alloc_mask: self.alloc_mask | if track { ALWAYS } else { 0 },
            track,
            free_hook: self.free_hook || track,
            ..self
        }
    }

    /// The policy with allocation profiling counting the objects, if
    /// `profile` (see [`InitPolicy::profile`]).
    pub fn profiled(self, profile: bool) -> Self {
        InitPolicy {
            alloc_mask: self.alloc_mask | if profile { ALWAYS } else { 0 },
            profile,
            free_hook: self.free_hook || profile,
            ..self
        }
    }

    /// Whether an allocation with `gfp` (with [`ALWAYS`] set, as every
    /// request's flags have it) inits its object: the fast paths' one test.
    #[inline(always)]
    pub fn wants_init(&self, gfp: u32) -> bool {
        gfp & self.alloc_mask != 0
    }

    /// Whether an allocation with `gfp` zeroes its object (else, when
    /// [`InitPolicy::wants_init`], it only wipes the free pointer).
    pub fn zeroes(&self, gfp: u32) -> bool {
        self.zero_always || gfp & self.alloc_mask & !ALWAYS != 0
    }
}

/// How many bytes from the object an allocation zeroes
/// (`slab_post_alloc_hook()`'s `zero_size`): the object, or on a kmalloc
/// cache that records and red-zones the size asked for, that size (the rest
/// is red zone).
pub fn alloc_zero_size(l: &Layout, orig_size: u32) -> u32 {
    if l.flags & SLAB_KMALLOC != 0 && l.flags & (SLAB_STORE_USER | SLAB_RED_ZONE) != 0 {
        orig_size.min(l.object_size)
    } else {
        l.object_size
    }
}

/// What a free zeroes (`slab_free_hook()` with `init`), from the object:
/// `0..orig_size`, then `info_end..size - red_left_pad` (the tracking data
/// and padding, not the free pointer outside the object nor the next slot's
/// left red zone). The caller restores `orig_size` afterwards.
pub fn free_zero_ranges(l: &Layout, orig_size: u32) -> [(u32, u32); 2] {
    let rsize = if l.flags & SLAB_RED_ZONE != 0 {
        l.red_left_pad
    } else {
        0
    };
    let end = l.size - rsize;
    let info = l.info_end().min(end);
    [(0, orig_size.min(l.object_size)), (info, end)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slab::layout::{calculate_sizes, Machine};

    const ZERO: u32 = 0x100;
    /// A request's flags as the kernel side passes them.
    const G: u32 = ALWAYS;

    fn m() -> Machine {
        Machine {
            page_shift: 12,
            cache_line: 64,
            min_align: 8,
            present_cpus: 2,
            nr_cpu_ids: 2,
            max_page_order: 10,
        }
    }

    fn layout(size: u32, flags: u32, ctor: bool) -> Layout {
        calculate_sizes(size, 0, flags, ctor, None, &m()).unwrap()
    }

    #[test]
    fn no_boot_setting_zeroes_on_gfp_zero_only() {
        for (flags, ctor) in [
            (0, false),
            (0, true),
            (SLAB_TYPESAFE_BY_RCU, false),
            (SLAB_POISON, false),
        ] {
            let p = InitPolicy::new(&layout(64, flags, ctor), ctor, false, false, ZERO);
            assert!(!p.wants_init(G) && !p.wants_init(G | 0x40));
            assert!(p.wants_init(G | ZERO | 0x40) && p.zeroes(G | ZERO));
            assert!(!p.on_free && !p.wipe_fp);
        }
    }

    #[test]
    fn init_on_alloc_as_slab_want_init_on_alloc() {
        // A plain cache: always, with or without __GFP_ZERO (and gfp 0).
        let p = InitPolicy::new(&layout(64, 0, false), false, true, false, ZERO);
        assert!(p.wants_init(G) && p.zeroes(G) && p.zeroes(G | ZERO));
        // A constructor: never, not even for __GFP_ZERO.
        let p = InitPolicy::new(&layout(64, 0, true), true, true, false, ZERO);
        assert!(!p.wants_init(G | ZERO) && !p.wants_init(G));
        // RCU and poison: on __GFP_ZERO only.
        for flags in [SLAB_TYPESAFE_BY_RCU, SLAB_POISON] {
            let p = InitPolicy::new(&layout(64, flags, false), false, true, false, ZERO);
            assert!(!p.wants_init(G) && p.wants_init(G | ZERO) && p.zeroes(G | ZERO));
        }
    }

    #[test]
    fn init_on_free_as_slab_want_init_on_free() {
        // The free pointer inside the object is wiped at allocation.
        let l = layout(64, 0, false);
        assert!(l.offset < l.inuse);
        let p = InitPolicy::new(&l, false, false, true, ZERO);
        assert!(p.on_free && p.wipe_fp && p.wants_init(G) && !p.zeroes(G) && p.zeroes(G | ZERO));
        // Exempt: constructor, RCU, poison (whose free pointer is outside).
        for (flags, ctor) in [
            (0, true),
            (SLAB_TYPESAFE_BY_RCU, false),
            (SLAB_POISON, false),
        ] {
            let l = layout(64, flags, ctor);
            let p = InitPolicy::new(&l, ctor, false, true, ZERO);
            assert!(!p.on_free && !p.wipe_fp && !p.wants_init(G));
        }
    }

    #[test]
    fn kmemleak_tracking_takes_every_alloc_and_free_the_hooks_way() {
        // A constructor cache under no boot setting: nothing to zero, yet
        // every allocation and free calls the hooks; what is zeroed stays
        // as it was.
        let l = layout(64, 0, true);
        let p = InitPolicy::new(&l, true, false, false, ZERO).tracked(true);
        assert!(p.track && p.free_hook && !p.on_free);
        assert!(p.wants_init(G) && !p.zeroes(G) && p.zeroes(G | ZERO));
        // Untracked (`SLAB_NOLEAKTRACE`, or no kmemleak): as before.
        let q = InitPolicy::new(&l, true, false, false, ZERO);
        assert_eq!(q.tracked(false), q);
        assert!(!q.free_hook && !q.wants_init(G));
        // With init_on_free: both.
        let l = layout(64, 0, false);
        let p = InitPolicy::new(&l, false, false, true, ZERO).tracked(true);
        assert!(p.track && p.free_hook && p.on_free && p.wipe_fp);
    }

    #[test]
    fn profiling_takes_every_alloc_and_free_the_hooks_way() {
        let l = layout(64, 0, true);
        let q = InitPolicy::new(&l, true, false, false, ZERO);
        let p = q.profiled(true);
        assert!(p.profile && p.free_hook && !p.track && p.wants_init(G) && !p.zeroes(G));
        assert_eq!(q.profiled(false), q);
        // Both hooks, in either order.
        let both = q.tracked(true).profiled(true);
        assert_eq!(both, q.profiled(true).tracked(true));
        assert!(both.track && both.profile && both.free_hook);
    }

    #[test]
    fn zero_sizes() {
        let l = layout(100, 0, false);
        assert_eq!(alloc_zero_size(&l, 10), 100);
        assert_eq!(free_zero_ranges(&l, 100), [(0, 100), (l.inuse, l.size)]);
        // A kmalloc cache recording the size asked for: that size, and a
        // free keeps the red zones and the free pointer outside.
        let k = layout(128, SLAB_KMALLOC | SLAB_STORE_USER | SLAB_RED_ZONE, false);
        assert_eq!(alloc_zero_size(&k, 100), 100);
        assert_eq!(alloc_zero_size(&k, 1000), 128);
        let [a, b] = free_zero_ranges(&k, 100);
        assert_eq!(a, (0, 100));
        assert_eq!(b, (k.info_end(), k.size - k.red_left_pad));
        assert!(k.info_end() > k.offset);
    }
}
