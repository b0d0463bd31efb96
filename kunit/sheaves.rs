// SPDX-License-Identifier: GPL-2.0
//! KUnit: the sheaves mode (per-CPU sheaves and the barn, Linux 7.x).
//!
//! As in `kunit/slab.rs`, tests that count one CPU's events run on a kthread
//! bound to it, and each test has its own pool and cache.

use crate::{
    glue::{cpu, cpuhp, gfp::Gfp, numa},
    kunit::{
        hooks::{self, StatTotal},
        slab::{alloc, census, free, held_list, pages_in_use, pool, two_cpu_stress},
        util::{ensure, on_cpu, some, with_cpu1_offline},
    },
    logic::slab::sheafcap,
    slab::{Cache, CacheConfig, SlabPool, SlabStat},
};
use core::{
    ptr::NonNull,
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::{prelude::*, sync::Arc};

/// A sheaves cache of `size`-byte objects with sequential freelists.
fn sheaves_cache(p: &Arc<SlabPool>, name: &str, size: u32) -> Result<Arc<Cache>> {
    let mut cfg = CacheConfig::new(name, size);
    cfg.randomize = false;
    cfg.sheaves = true;
    Cache::new(p, &cfg)
}

/// `rounds` rounds on CPU 0 of allocating `k` objects of `c` and freeing
/// them all (an alternating workload).
fn alternate(c: &Cache, k: usize, rounds: usize) -> Result {
    on_cpu(0, || {
        let mut held = KVec::with_capacity(k, GFP_KERNEL)?;
        for _ in 0..rounds {
            for _ in 0..k {
                held.push(alloc(c)?, GFP_KERNEL)?;
            }
            for o in held.drain_all() {
                free(c, o);
            }
        }
        Ok(())
    })
}

/// The growth steps from `base` to `cap` ([`sheafcap::grown`]), if `cap`
/// is one of them.
fn steps_to(base: usize, cap: usize, max: usize) -> Option<u64> {
    let (mut c, mut n) = (base, 0);
    while c < cap {
        c = sheafcap::grown(c, max);
        n += 1;
    }
    (c == cap).then_some(n)
}

/// [`tests::bulk_goes_through_the_sheaves`] on a cache of 64-byte objects
/// (hardened or not), on CPU 0.
fn bulk_through_the_sheaves(p: &Arc<SlabPool>, harden: bool) -> Result {
    let mut cfg = CacheConfig::new("kunit-sheaf-bulk", 64);
    cfg.randomize = false;
    cfg.sheaves = true;
    cfg.harden = harden;
    let c = Cache::new(p, &cfg)?;
    let cap = u64::from(c.sheaf_capacity());
    ensure!(cap == 60, "capacity 60 for 64-byte objects");
    on_cpu(0, || {
        let s = |x| c.stat_total(x);
        let mut objs = KVec::from_elem(core::ptr::null_mut::<u8>(), 100, GFP_KERNEL)?;
        ensure!(c.alloc_bulk(Gfp::KERNEL, &mut objs) == 100, "all 100");
        ensure!(objs.iter().all(|o| !o.is_null()), "none null");
        // Refilled twice (60 + 60), 100 handed out, all from sheaves.
        ensure!(s(SlabStat::AllocFastpath) == 100, "100 sheaf hits");
        ensure!(s(SlabStat::SheafRefill) == 2 * cap, "two refills");
        ensure!(s(SlabStat::SheafAlloc) == 1, "one sheaf");
        ensure!(s(SlabStat::BarnGetFail) == 2, "the barn had none");
        // SAFETY: all allocated from `c` above, each once.
        unsafe { c.free_bulk(&mut objs) };
        ensure!(objs.iter().all(|o| o.is_null()), "all taken");
        // 20 left in main: 40 fill it; then a new empty sheaf takes the
        // full one's place (which becomes the spare) for the other 60.
        ensure!(s(SlabStat::FreeFastpath) == 100, "100 onto sheaves");
        ensure!(s(SlabStat::BarnPut) == 0, "the full sheaf is the spare");
        ensure!(s(SlabStat::SheafAlloc) == 2, "one new empty sheaf");
        ensure!(s(SlabStat::FreeSlowpath) == 0, "none to a slab");
        Ok(())
    })?;
    ensure!(census(&c)?.inuse == 0, "all free");
    ensure!(c.destroy() == Ok(()), "destroyed");
    Ok(())
}

#[kunit_tests(rslab_sheaves)]
mod tests {
    use super::*;

    /// The capacity follows 7.3's `calculate_sheaf_capacity()`, and a
    /// classic cache has none.
    #[test]
    fn sheaf_capacity_per_cache() -> Result {
        let p = pool()?;
        for (size, cap) in [(64, 60), (256, 28), (1024, 12), (4096, 4)] {
            let c = sheaves_cache(&p, "kunit-sheaf-cap", size)?;
            assert_eq!(c.sheaf_capacity(), cap);
        }
        let classic = Cache::new(&p, &CacheConfig::new("kunit-classic", 64))?;
        assert_eq!(classic.sheaf_capacity(), 0);
        Ok(())
    }

    /// `__GFP_ZERO` on the sheaves' paths (a sheaf's object, `alloc_node`,
    /// bulk): each object is zero, though every free object was dirty.
    #[test]
    fn sheaves_zero_on_every_path() -> Result {
        let p = pool()?;
        let c = sheaves_cache(&p, "kunit-sheaf-zero", 200)?;
        let n = 3 * c.sheaf_capacity() as usize;
        let zero = Gfp::KERNEL.zeroed();
        let node = numa::cpu_node(cpu::current());
        let mut objs = KVec::from_elem(core::ptr::null_mut::<u8>(), n, GFP_KERNEL)?;
        for path in 0..3 {
            for o in objs.iter_mut() {
                *o = some!(c.alloc(Gfp::KERNEL)).as_ptr();
                // SAFETY: a fresh object of 200 bytes, ours.
                unsafe { core::ptr::write_bytes(*o, 0xa5, 200) };
            }
            // SAFETY: each object came from `c` once and is not used again.
            unsafe { c.free_bulk(&mut objs) };
            match path {
                0 => objs.iter_mut().try_for_each(|o| {
                    *o = some!(c.alloc(zero)).as_ptr();
                    Ok::<_, Error>(())
                })?,
                1 => objs.iter_mut().try_for_each(|o| {
                    *o = some!(c.alloc_node(zero, Some(node))).as_ptr();
                    Ok::<_, Error>(())
                })?,
                _ => ensure!(c.alloc_bulk(zero, &mut objs) == n, "bulk of {n}"),
            }
            for &o in objs.iter() {
                // SAFETY: a live object of 200 bytes, ours.
                let b = unsafe { core::slice::from_raw_parts(o, 200) };
                ensure!(b.iter().all(|&x| x == 0), "path {path}: a dirty object");
            }
            // SAFETY: as above.
            unsafe { c.free_bulk(&mut objs) };
        }
        Ok(())
    }

    /// Every path of the sheaves moves its 7.3 counter by exactly its
    /// events: a first allocation finds no sheaf (`barn_get_fail`), makes
    /// one (`sheaf_alloc`) and refills it (`sheaf_refill`, objects); the
    /// rest of the sheaf is the fast path; frees fill it back; a free onto a
    /// full sheaf without a spare makes it the spare, a new empty one main
    /// (`sheaf_alloc`, no `barn_put`, as 7.3's `__pcs_replace_full_main()`);
    /// an allocation on an empty sheaf swaps the full spare back in (no
    /// `barn_get`); shrink flushes and frees every sheaf (`sheaf_flush`
    /// objects, `sheaf_free`).
    #[test]
    fn each_sheaf_path_moves_its_own_counter() -> Result {
        let p = pool()?;
        let c = sheaves_cache(&p, "kunit-sheaf-paths", 64)?;
        let cap = u64::from(c.sheaf_capacity());
        ensure!(cap == 60, "capacity 60 for 64-byte objects");
        on_cpu(0, || {
            let s = |x| c.stat_total(x);
            let mut held = KVec::new();
            // a) A first sheaf, made and refilled; `cap` fast allocations.
            for _ in 0..cap {
                held.push(alloc(&c)?, GFP_KERNEL)?;
            }
            ensure!(s(SlabStat::BarnGetFail) == 1, "no full sheaf in the barn");
            ensure!(s(SlabStat::SheafAlloc) == 1, "one sheaf made");
            ensure!(s(SlabStat::SheafRefill) == cap, "refilled whole");
            ensure!(
                s(SlabStat::AllocFastpath) == cap,
                "every object from the sheaf"
            );
            ensure!(s(SlabStat::AllocSlab) == 1, "from one new slab");
            // b) Freed back: the sheaf fills up.
            for o in held.drain_all() {
                free(&c, o);
            }
            ensure!(s(SlabStat::FreeFastpath) == cap, "frees onto the sheaf");
            ensure!(s(SlabStat::FreeSlowpath) == 0, "none to a slab");
            // c) cap + 1 allocations: the sheaf runs out, none in the barn,
            // the same sheaf is refilled.
            for _ in 0..=cap {
                held.push(alloc(&c)?, GFP_KERNEL)?;
            }
            ensure!(s(SlabStat::BarnGetFail) == 2, "the barn is still empty");
            ensure!(s(SlabStat::SheafAlloc) == 1, "the sheaf is reused");
            ensure!(s(SlabStat::SheafRefill) == 2 * cap, "refilled again");
            ensure!(
                s(SlabStat::AllocFastpath) == 2 * cap + 1,
                "all from sheaves"
            );
            // d) cap + 1 frees: the second one finds the sheaf full; it
            // becomes the spare, a new empty one takes the free.
            for o in held.drain_all() {
                free(&c, o);
            }
            ensure!(s(SlabStat::BarnPut) == 0, "the full sheaf is the spare");
            ensure!(s(SlabStat::SheafAlloc) == 2, "a new empty sheaf");
            ensure!(s(SlabStat::FreeFastpath) == 2 * cap + 1, "all onto sheaves");
            // e) cap + 1 allocations: the main sheaf (cap objects) runs
            // out, the full spare is swapped in.
            for _ in 0..=cap {
                held.push(alloc(&c)?, GFP_KERNEL)?;
            }
            ensure!(s(SlabStat::BarnGet) == 0, "the spare, not the barn");
            ensure!(s(SlabStat::BarnGetFail) == 2, "no failure");
            ensure!(s(SlabStat::SheafRefill) == 2 * cap, "no refill");
            ensure!(
                s(SlabStat::AllocFastpath) == 3 * cap + 2,
                "all from sheaves"
            );
            for o in held.drain_all() {
                free(&c, o);
            }
            Ok(())
        })?;
        // The last frees fill main, swap the empty spare in and fill it:
        // shrink flushes CPU 0's two full sheaves, `cap` objects each, and
        // frees both; nothing ever went to the barn.
        let flushed = c.stat_total(SlabStat::SheafFlush);
        assert_eq!(flushed, 0);
        c.shrink();
        assert_eq!(c.stat_total(SlabStat::SheafFlush), 2 * cap);
        assert_eq!(c.stat_total(SlabStat::BarnPut), 0);
        assert_eq!(c.stat_total(SlabStat::SheafFree), 2);
        let cs = census(&c)?;
        assert_eq!(cs.inuse, 0);
        assert_eq!(c.destroy(), Ok(()));
        assert_eq!(pages_in_use(&p)?, 0);
        Ok(())
    }

    /// Prefilled sheaves (7.3's `kmem_cache_prefill_sheaf()` family) move
    /// their counters by exactly their events: a first prefill finds no
    /// spare and an empty barn (`sheaf_prefill_slow`, `barn_get_fail`),
    /// makes a sheaf and fills it whole (`sheaf_alloc`, `sheaf_refill`); its
    /// return becomes the spare (`sheaf_return_fast`), which the next
    /// prefill takes (`sheaf_prefill_fast`) and tops up; a return while the
    /// spare is taken goes to the barn (`sheaf_return_slow`, `barn_put`); a
    /// request above the capacity is oversize (`sheaf_prefill_oversize`)
    /// and flushed when returned (`sheaf_flush`, `sheaf_free`); refilling
    /// beyond the capacity replaces the sheaf. A sheaf gives exactly what it
    /// holds and then NULL, and another cache refuses it.
    #[test]
    fn prefilled_sheaves_move_their_counters() -> Result {
        let p = pool()?;
        let c = sheaves_cache(&p, "kunit-prefill", 64)?;
        let other = sheaves_cache(&p, "kunit-prefill-other", 64)?;
        let cap = c.sheaf_capacity();
        ensure!(cap == 60, "capacity 60 for 64-byte objects");
        let cap64 = u64::from(cap);
        let held = held_list(2 * cap as usize)?;
        on_cpu(0, || {
            let s = |x| c.stat_total(x);
            let k = Gfp::KERNEL;
            // a) A first prefill: no spare, nothing in the barn, a new
            // sheaf filled to its capacity.
            let mut a = some!(c.prefill_sheaf(k, 10));
            ensure!(a.size() == cap, "filled to the capacity");
            ensure!(s(SlabStat::SheafPrefillSlow) == 1, "no spare");
            ensure!(s(SlabStat::BarnGetFail) == 1, "an empty barn");
            ensure!(s(SlabStat::SheafAlloc) == 1, "a new sheaf");
            ensure!(s(SlabStat::SheafRefill) == cap64, "refilled whole");
            // b) Five objects, then back as the spare.
            for _ in 0..5 {
                let o = some!(c.alloc_from_sheaf(k, &mut a));
                held.lock().push(o.as_ptr() as usize, GFP_NOWAIT)?;
            }
            ensure!(a.size() == cap - 5, "five taken");
            c.return_sheaf(k, a);
            ensure!(s(SlabStat::SheafReturnFast) == 1, "the spare");
            // c) The spare comes back, topped up by five.
            let mut a = some!(c.prefill_sheaf(k, cap));
            ensure!(s(SlabStat::SheafPrefillFast) == 1, "the spare taken");
            ensure!(s(SlabStat::SheafRefill) == cap64 + 5, "topped up");
            ensure!(a.size() == cap, "full again");
            // d) A second one meanwhile: no spare, a new sheaf.
            let b = some!(c.prefill_sheaf(k, 1));
            ensure!(s(SlabStat::SheafPrefillSlow) == 2, "no spare");
            ensure!(s(SlabStat::BarnGetFail) == 2, "still an empty barn");
            ensure!(s(SlabStat::SheafAlloc) == 2, "a second sheaf");
            ensure!(s(SlabStat::SheafRefill) == 2 * cap64 + 5, "filled");
            // e) Another cache refuses it, and counts an error.
            ensure!(other.alloc_from_sheaf(k, &mut a).is_none(), "refused");
            ensure!(other.errors() == 1, "reported on the other cache");
            ensure!(a.size() == cap, "untouched");
            // f) Both back: the spare, then (full already) the barn.
            c.return_sheaf(k, a);
            c.return_sheaf(k, b);
            ensure!(s(SlabStat::SheafReturnFast) == 2, "the spare again");
            ensure!(s(SlabStat::SheafReturnSlow) == 1, "to the barn");
            ensure!(s(SlabStat::BarnPut) == 1, "a full sheaf in the barn");
            ensure!(s(SlabStat::SheafRefill) == 2 * cap64 + 5, "no refill");
            // g) Oversize: exactly the request, not counted as a refill;
            // refilled above its size, it is replaced, the old one flushed.
            let mut o = some!(c.prefill_sheaf(k, cap + 1));
            ensure!(o.size() == cap + 1, "exactly the request");
            ensure!(s(SlabStat::SheafPrefillOversize) == 1, "oversize");
            ensure!(s(SlabStat::SheafAlloc) == 3, "made for it");
            c.refill_sheaf(k, &mut o, cap + 10)?;
            ensure!(o.size() == cap + 10, "a bigger one");
            ensure!(s(SlabStat::SheafPrefillOversize) == 2, "oversize");
            ensure!(s(SlabStat::SheafFlush) == cap64 + 1, "the old flushed");
            ensure!(s(SlabStat::SheafFree) == 1, "and freed");
            c.return_sheaf(k, o);
            ensure!(s(SlabStat::SheafFlush) == 2 * cap64 + 11, "flushed");
            ensure!(s(SlabStat::SheafFree) == 2, "and freed");
            ensure!(s(SlabStat::SheafRefill) == 2 * cap64 + 5, "no refill");
            // h) Within the capacity, a refill tops up; exactly `size`
            // objects come out, then none.
            let mut a = some!(c.prefill_sheaf(k, 1));
            ensure!(s(SlabStat::SheafPrefillFast) == 2, "the spare");
            for _ in 0..cap {
                let o = some!(c.alloc_from_sheaf(k, &mut a));
                held.lock().push(o.as_ptr() as usize, GFP_NOWAIT)?;
            }
            ensure!(c.alloc_from_sheaf(k, &mut a).is_none(), "empty: NULL");
            c.refill_sheaf(k, &mut a, 2)?;
            ensure!(a.size() == cap, "refilled to the capacity");
            ensure!(s(SlabStat::SheafRefill) == 3 * cap64 + 5, "counted");
            c.refill_sheaf(k, &mut a, cap)?;
            ensure!(s(SlabStat::SheafRefill) == 3 * cap64 + 5, "no-op");
            c.return_sheaf(k, a);
            ensure!(s(SlabStat::SheafReturnFast) == 3, "the spare");
            // Nothing else moved: every object came from a sheaf, not the
            // CPU's main one.
            ensure!(s(SlabStat::AllocFastpath) == 0, "no main sheaf");
            ensure!(s(SlabStat::BarnGet) == 0, "the barn's never taken");
            Ok(())
        })?;
        for o in held.lock().drain_all() {
            free(&c, o);
        }
        c.shrink();
        assert_eq!(census(&c)?.inuse, 0);
        assert_eq!(c.destroy(), Ok(()));
        assert_eq!(other.destroy(), Ok(()));
        assert_eq!(pages_in_use(&p)?, 0);
        Ok(())
    }

    /// A classic cache (capacity 0) serves every prefill oversize, as 7.3
    /// does a cache without sheaves; `__GFP_ZERO` zeroes what a sheaf gives,
    /// on both kinds of cache, though the objects it holds were dirty (a
    /// classic cache's last freed object, a sheaves cache's full sheaf of
    /// the barn).
    #[test]
    fn prefilled_sheaves_on_classic_caches_and_zeroing() -> Result {
        let p = pool()?;
        let classic = Cache::new(&p, &CacheConfig::new("kunit-prefill-classic", 200))?;
        let c = sheaves_cache(&p, "kunit-prefill-zero", 200)?;
        let cap = c.sheaf_capacity() as usize;
        let zero = Gfp::KERNEL.zeroed();
        let dirty = |o: *mut u8| {
            // SAFETY: a live object of 200 bytes, ours.
            unsafe { core::ptr::write_bytes(o, 0xa5, 200) }
        };
        let is_zero = |o: NonNull<u8>| {
            // SAFETY: a live object of 200 bytes, ours.
            unsafe { core::slice::from_raw_parts(o.as_ptr(), 200) }
                .iter()
                .all(|&x| x == 0)
        };
        on_cpu(0, || {
            // The classic cache: its CPU freelist's first object (the one
            // just freed, dirty) is the sheaf's.
            let o = some!(classic.alloc(Gfp::KERNEL));
            dirty(o.as_ptr());
            free(&classic, o.as_ptr() as usize);
            let mut sh = some!(classic.prefill_sheaf(Gfp::KERNEL, 1));
            ensure!(sh.size() == 1, "exactly one");
            ensure!(
                classic.stat_total(SlabStat::SheafPrefillOversize) == 1,
                "oversize on a classic cache"
            );
            let z = some!(classic.alloc_from_sheaf(zero, &mut sh));
            ensure!(z == o, "the object just freed");
            ensure!(is_zero(z), "zeroed");
            ensure!(classic.alloc_from_sheaf(zero, &mut sh).is_none(), "empty");
            classic.return_sheaf(Gfp::KERNEL, sh);
            ensure!(classic.stat_total(SlabStat::SheafFree) == 1, "freed");
            free(&classic, z.as_ptr() as usize);
            // The sheaves cache: two sheaves' worth allocated, dirtied and
            // freed leave a full spare of dirty objects, which the prefill
            // takes.
            let mut objs = KVec::from_elem(core::ptr::null_mut::<u8>(), 2 * cap, GFP_KERNEL)?;
            for o in objs.iter_mut() {
                *o = some!(c.alloc(Gfp::KERNEL)).as_ptr();
                dirty(*o);
            }
            for &o in objs.iter() {
                free(&c, o as usize);
            }
            let mut sh = some!(c.prefill_sheaf(Gfp::KERNEL, cap as u32));
            ensure!(
                c.stat_total(SlabStat::SheafPrefillFast) == 1,
                "the full spare"
            );
            ensure!(
                c.stat_total(SlabStat::SheafRefill) == 2 * cap as u64,
                "no top-up"
            );
            for o in objs.iter_mut().take(cap) {
                let z = some!(c.alloc_from_sheaf(zero, &mut sh));
                ensure!(is_zero(z), "zeroed");
                *o = z.as_ptr();
            }
            c.return_sheaf(Gfp::KERNEL, sh);
            for &o in objs.iter().take(cap) {
                free(&c, o as usize);
            }
            Ok(())
        })?;
        for x in [&classic, &c] {
            x.shrink();
            assert_eq!(census(x)?.inuse, 0);
        }
        assert_eq!(classic.destroy(), Ok(()));
        assert_eq!(c.destroy(), Ok(()));
        assert_eq!(pages_in_use(&p)?, 0);
        Ok(())
    }

    /// Two CPUs allocating and freeing at once, with objects crossing
    /// between them, end with every object back in a slab: validate finds
    /// nothing in use, and destroy returns every page.
    #[test]
    fn two_cpu_stress_with_validate_shrink_destroy() -> Result {
        let p = pool()?;
        for (name, size) in [
            ("kunit-sheaf-stress-64", 64),
            ("kunit-sheaf-stress-700", 700),
        ] {
            let c = sheaves_cache(&p, name, size)?;
            two_cpu_stress(&c)?;
            assert!(c.stat_total(SlabStat::AllocFastpath) > 0);
            assert!(c.stat_total(SlabStat::FreeFastpath) > 0);
            c.shrink();
            assert_eq!(c.counts().slabs, 0);
            assert_eq!(c.destroy(), Ok(()));
        }
        assert_eq!(pages_in_use(&p)?, 0);
        Ok(())
    }

    /// Taking a CPU offline flushes its sheaves into the slabs: exactly the
    /// objects its main sheaf held, and the sheaf is freed.
    #[test]
    fn cpu_offline_flushes_its_sheaves() -> Result {
        let p = pool()?;
        let c = sheaves_cache(&p, "kunit-sheaf-hotplug", 64)?;
        let cap = u64::from(c.sheaf_capacity());
        let o = AtomicUsize::new(0);
        // One allocation on CPU 1 refills its sheaf; freeing it there fills
        // the sheaf back to `cap` objects.
        on_cpu(1, || {
            let x = alloc(&c)?;
            free(&c, x);
            o.store(x, Ordering::Relaxed);
            Ok(())
        })?;
        let flushed_before = c.stat_total(SlabStat::SheafFlush);
        // No assertion while the hotplug instance is registered.
        let (removed, (flushed, freed), added) = {
            let _hp = cpuhp::Instance::new(c.clone())?;
            with_cpu1_offline(|| {
                (
                    c.stat_total(SlabStat::SheafFlush),
                    c.stat_total(SlabStat::SheafFree),
                )
            })
        };
        assert_eq!(removed, 0);
        assert_eq!(added, 0);
        assert_eq!(flushed_before, 0);
        assert_eq!(flushed, cap);
        assert_eq!(freed, 1);
        assert_eq!(cpu::online_cpus().count(), 2);
        assert_eq!(census(&c)?.inuse, 0);
        assert_ne!(o.load(Ordering::Relaxed), 0);
        Ok(())
    }

    /// Bulk allocation and free go through the sheaves: every object is
    /// counted as a sheaf hit, and the sheaves refill, and go to the barn,
    /// exactly where a run crosses a sheaf's end; alike on a cache whose
    /// bulk free checks every object (hardened) and one whose does not.
    #[test]
    fn bulk_goes_through_the_sheaves() -> Result {
        let p = pool()?;
        for harden in [false, true] {
            bulk_through_the_sheaves(&p, harden)?;
        }
        Ok(())
    }

    /// A bad free on a sheaves cache is reported and never reaches a sheaf:
    /// an address inside an object on a hardened cache (an unhardened one
    /// trusts a free to start an object, as SLUB), and an object of another
    /// cache on any.
    #[test]
    fn bad_free_never_reaches_a_sheaf() -> Result {
        let p = pool()?;
        let mut cfg = CacheConfig::new("kunit-sheaf-bad", 64);
        cfg.sheaves = true;
        cfg.harden = true;
        let c = Cache::new(&p, &cfg)?;
        let a = alloc(&c)?;
        free(&c, a + 8);
        assert_eq!(c.errors(), 1);
        cfg.name = "kunit-sheaf-bad2";
        cfg.harden = false;
        let d = Cache::new(&p, &cfg)?;
        free(&d, a);
        assert_eq!(d.errors(), 1);
        assert_eq!(census(&d)?.inuse, 0);
        free(&c, a);
        assert_eq!(census(&c)?.inuse, 0);
        assert_eq!(c.errors(), 1);
        Ok(())
    }

    /// NUMA, as 7.3: on a CPU of node `a`, an allocation for `a` is a sheaf
    /// hit of `a`'s memory; one for another node `b` counts exactly one
    /// `alloc_node_mismatch` and one slow path, gives `b`'s memory, and
    /// leaves the sheaves and CPU slab local (the next plain allocation is
    /// a sheaf hit of `a`'s memory); freeing `b`'s object there goes to its
    /// slab, not onto the sheaf. Barns are per node: a full sheaf put in
    /// `a`'s barn is not found by a CPU of `b` (`barn_get_fail`), and is by
    /// `a`'s CPU (`barn_get`). Skipped without a second node with a CPU.
    #[test]
    fn sheaves_and_barns_keep_to_their_node() -> Result {
        let p = pool()?;
        let c0 = some!(cpu::online_cpus().next());
        let a = p.cpu_node(c0);
        let Some((c1, b)) = cpu::online_cpus()
            .map(|c| (c, p.cpu_node(c)))
            .find(|&(_, n)| n != a && numa::has_memory(n))
        else {
            pr_info!("rslab kunit: one node with CPUs: NUMA sheaves not tested\n");
            return Ok(());
        };
        let c = sheaves_cache(&p, "kunit-sheaf-numa", 64)?;
        let cap = c.sheaf_capacity() as usize;
        let held = held_list(4 * cap)?;
        let keep = |o: usize| held.lock().push(o, GFP_NOWAIT);
        let ran = on_cpu(c0, || {
            let s = |x| c.stat_total(x);
            let first = alloc(&c)?;
            keep(first)?;
            let on = |o: usize| hooks::node_of_addr(o as *const u8);
            ensure!(on(first) == a, "plain allocation on node {}", on(first));
            let (fast, slow, mis) = (
                s(SlabStat::AllocFastpath),
                s(SlabStat::AllocSlowpath),
                s(SlabStat::AllocNodeMismatch),
            );
            let l = some!(c.alloc_node(Gfp::KERNEL, Some(a))).as_ptr() as usize;
            keep(l)?;
            ensure!(on(l) == a, "local node_match object on node {}", on(l));
            ensure!(s(SlabStat::AllocFastpath) == fast + 1, "a sheaf hit");
            ensure!(s(SlabStat::AllocNodeMismatch) == mis, "no mismatch");
            let r = some!(c.alloc_node(Gfp::KERNEL, Some(b))).as_ptr() as usize;
            ensure!(on(r) == b, "object for node {b} on node {}", on(r));
            ensure!(s(SlabStat::AllocNodeMismatch) == mis + 1, "one mismatch");
            ensure!(s(SlabStat::AllocSlowpath) == slow + 1, "one slow path");
            ensure!(s(SlabStat::AllocFastpath) == fast + 1, "not a sheaf hit");
            let next = alloc(&c)?;
            keep(next)?;
            ensure!(on(next) == a, "the sheaf stayed local: node {}", on(next));
            ensure!(s(SlabStat::AllocFastpath) == fast + 2, "a sheaf hit");
            let (ffast, fslow) = (s(SlabStat::FreeFastpath), s(SlabStat::FreeSlowpath));
            free(&c, r);
            ensure!(s(SlabStat::FreeFastpath) == ffast, "not onto the sheaf");
            ensure!(s(SlabStat::FreeSlowpath) == fslow + 1, "to its slab");
            // Fill node a's barn with one full sheaf: the main sheaf (cap - 3
            // left) runs out twice, then 2 cap + 1 frees overflow it twice,
            // the first full sheaf becoming the spare, the second going to
            // the barn.
            let mut mine = KVec::new();
            for _ in 0..2 * cap - 2 {
                mine.push(alloc(&c)?, GFP_KERNEL)?;
            }
            let put = s(SlabStat::BarnPut);
            for o in mine.drain_all() {
                free(&c, o);
            }
            for o in core::mem::take(&mut *held.lock()) {
                free(&c, o);
            }
            ensure!(s(SlabStat::BarnPut) == put + 1, "a full sheaf in a's barn");
            Ok(())
        });
        // On node b's CPU, an empty CPU finds nothing in b's barn.
        let on_b = ran.and_then(|()| {
            on_cpu(c1, || {
                let s = |x| c.stat_total(x);
                let (get, fail) = (s(SlabStat::BarnGet), s(SlabStat::BarnGetFail));
                let o = alloc(&c)?;
                keep(o)?;
                ensure!(
                    hooks::node_of_addr(o as *const u8) == b,
                    "node b's CPU got its own node's object"
                );
                ensure!(s(SlabStat::BarnGet) == get, "a's sheaf not taken on b");
                ensure!(s(SlabStat::BarnGetFail) == fail + 1, "b's barn empty");
                Ok(())
            })
        });
        // Back on a's CPU, its main and spare sheaves (cap objects each) run
        // out and the full one comes from a's barn.
        let on_a = on_b.and_then(|()| {
            on_cpu(c0, || {
                let s = |x| c.stat_total(x);
                let get = s(SlabStat::BarnGet);
                for _ in 0..=2 * cap {
                    keep(alloc(&c)?)?;
                }
                ensure!(s(SlabStat::BarnGet) == get + 1, "a's barn had it");
                Ok(())
            })
        });
        for o in core::mem::take(&mut *held.lock()) {
            free(&c, o);
        }
        let inuse = census(&c)?.inuse;
        let destroyed = c.destroy();
        drop(c);
        let pages = pages_in_use(&p);
        drop(p);
        assert!(on_a.is_ok());
        assert_eq!(inuse, 0);
        assert_eq!(destroyed, Ok(()));
        assert_eq!(pages?, 0);
        Ok(())
    }

    /// Adaptive capacity: a CPU that allocates and frees more objects than
    /// its sheaves hold, back and forth, grows them step by step (each step
    /// one `sheaf_grow`) until it no longer trips to the barn, where a
    /// cache of fixed capacity trips every round; a shrink puts it back
    /// (`sheaf_shrink`), and the reservation with it.
    #[test]
    fn adaptive_capacity_grows_until_the_barn_trips_stop() -> Result {
        let p = pool()?;
        let c = sheaves_cache(&p, "kunit-sheaf-adapt", 64)?;
        let fixed = sheaves_cache(&p, "kunit-sheaf-fixed", 64)?;
        let sh = some!(c.sheaves());
        let base = sh.capacity() as usize;
        let k = 4 * base;
        let min = sh.min_budget();
        assert_eq!(sh.reserved(), min);
        c.set_sheaf_adaptive(true)?;
        alternate(&c, k, 20)?;
        alternate(&fixed, k, 20)?;
        let cap = sh.cpu_capacity(0);
        let steps = steps_to(base, cap, sh.max_capacity());
        ensure!(steps.is_some(), "capacity {cap} is a growth step of {base}");
        assert_eq!(c.stat_total(SlabStat::SheafGrow), steps.unwrap_or(0));
        assert_eq!(c.stat_total(SlabStat::SheafGrowFail), 0);
        ensure!(2 * cap >= k, "capacity {cap} holds a round of {k}");
        assert_eq!(sh.cpu_capacity(1), base);
        assert_eq!(sh.reserved(), min + sheafcap::cached(cap - base, 1));
        // Grown: a round makes no trip; the fixed cache's every round does,
        // as many each time.
        let (a, f) = (c.barn_trips(), fixed.barn_trips());
        alternate(&c, k, 1)?;
        alternate(&fixed, k, 1)?;
        let f1 = fixed.barn_trips() - f;
        alternate(&fixed, k, 1)?;
        assert_eq!(c.barn_trips(), a);
        ensure!(f1 > 0, "the fixed cache trips");
        assert_eq!(fixed.barn_trips() - f - f1, f1);
        assert_eq!(fixed.stat_total(SlabStat::SheafGrow), 0);
        assert_eq!(some!(fixed.sheaves()).cpu_capacity(0), base);
        // A shrink puts CPU 0 back.
        c.shrink();
        assert_eq!(sh.cpu_capacity(0), base);
        assert_eq!(c.stat_total(SlabStat::SheafShrink), 1);
        assert_eq!(sh.reserved(), min);
        assert_eq!(c.destroy(), Ok(()));
        assert_eq!(fixed.destroy(), Ok(()));
        Ok(())
    }

    /// The budget bounds what the CPUs may hold: room for one step, one
    /// step is taken and the next refused (`sheaf_grow_fail`); a budget
    /// below every CPU at the cache's capacity is EINVAL and changes
    /// nothing; one below what they hold now puts them back. A classic cache
    /// has neither knob.
    #[test]
    fn adaptive_capacity_keeps_to_its_budget() -> Result {
        let p = pool()?;
        let c = sheaves_cache(&p, "kunit-sheaf-budget", 64)?;
        let sh = some!(c.sheaves());
        let base = sh.capacity() as usize;
        let min = sh.min_budget();
        let one = sheafcap::grown(base, sh.max_capacity());
        let budget = min + sheafcap::cached(one - base, 1);
        c.set_sheaf_budget(budget)?;
        assert_eq!(sh.budget(), budget);
        c.set_sheaf_adaptive(true)?;
        alternate(&c, 4 * base, 10)?;
        assert_eq!(sh.cpu_capacity(0), one);
        assert_eq!(c.stat_total(SlabStat::SheafGrow), 1);
        ensure!(
            c.stat_total(SlabStat::SheafGrowFail) > 0,
            "the next step refused"
        );
        assert_eq!(sh.reserved(), budget);
        assert_eq!(c.set_sheaf_budget(min - 1), Err(EINVAL));
        assert_eq!(sh.budget(), budget);
        c.set_sheaf_budget(min)?;
        assert_eq!(sh.cpu_capacity(0), base);
        assert_eq!(sh.reserved(), min);
        assert_eq!(c.stat_total(SlabStat::SheafShrink), 1);
        // Turned off: 7.3's fixed capacity, no growth.
        c.set_sheaf_budget(budget)?;
        c.set_sheaf_adaptive(false)?;
        let grew = c.stat_total(SlabStat::SheafGrow);
        alternate(&c, 4 * base, 5)?;
        assert_eq!(c.stat_total(SlabStat::SheafGrow), grew);
        assert_eq!(sh.cpu_capacity(0), base);
        let classic = Cache::new(&p, &CacheConfig::new("kunit-classic-budget", 64))?;
        assert_eq!(classic.set_sheaf_adaptive(true), Err(EINVAL));
        assert_eq!(classic.set_sheaf_budget(1 << 20), Err(EINVAL));
        Ok(())
    }
}
