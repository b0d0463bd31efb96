// SPDX-License-Identifier: GPL-2.0
//! KUnit: slab caches.
//!
//! Tests that count events of one CPU run their body on a kthread bound to
//! that CPU. Each test makes its own pool and caches, so the counters start
//! at zero.

use crate::{
    glue::{cpu, cpuhp, gfp::Gfp, numa},
    kunit::{
        hooks::{self, StatTotal, CTOR_BYTE, CTOR_CALLS},
        util::{ensure, on_cpu, some, with_cpu1_offline},
    },
    logic::{rand::XorShift64, slab::layout},
    page_pool::{Config, Pool},
    slab::{
        Cache, CacheConfig, CacheCounts, Census, CpuSlabInfo, Leaked, NodeCount, SlabPool,
        SlabStat, TrackItem, TypedCache,
    },
};
use core::{
    ptr::NonNull,
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::{
    prelude::*,
    sync::{atomic::Relaxed, Arc, SpinLock},
};

/// A pool that keeps every chunk it takes, so that what the slabs hold is
/// visible as pages in use.
pub(super) fn pool() -> Result<Arc<SlabPool>> {
    Pool::new(Config::keeping())
}

/// A cache of `size`-byte objects with sequential freelists and hardened
/// free pointers (whatever the kernel's `CONFIG_SLAB_FREELIST_HARDENED`, so
/// that the suite covers them on every test kernel).
fn cache(p: &Arc<SlabPool>, name: &str, size: u32) -> Result<Arc<Cache>> {
    let mut cfg = CacheConfig::new(name, size);
    cfg.randomize = false;
    cfg.harden = true;
    Cache::new(p, &cfg)
}

/// Object addresses held across test kthreads, with room for `cap` (so
/// that pushing up to `cap` needs no allocation under the lock).
pub(super) type HeldList = Pin<KBox<SpinLock<KVec<usize>>>>;

/// An empty [`HeldList`] with room for `cap` addresses.
pub(super) fn held_list(cap: usize) -> Result<HeldList> {
    KBox::pin_init(
        kernel::new_spinlock!(KVec::<usize>::with_capacity(cap, GFP_KERNEL)?),
        GFP_KERNEL,
    )
}

pub(super) fn alloc(c: &Cache) -> Result<usize> {
    Ok(some!(c.alloc(Gfp::KERNEL)).as_ptr() as usize)
}

pub(super) fn free(c: &Cache, p: usize) {
    // SAFETY: the tests only free what they allocated from `c`, once.
    unsafe { c.free(NonNull::new_unchecked(p as *mut u8)) };
}

/// The cache's census, or `Err` after printing what the walk found wrong.
pub(super) fn census(c: &Cache) -> Result<Census> {
    c.validate().map_err(|e| {
        pr_err!("kunit: cache validate failed: {e:?}\n");
        EINVAL
    })
}

/// Runs the two-CPU cache workload on `c` (500000 operations on each CPU,
/// a tenth of that where kmemleak tracks every object and makes each
/// operation some 55 times slower; up to 256 objects held, objects freed on
/// the other CPU) and asserts it ended clean: every operation done, nothing
/// corrupted or failed, some frees remote, and validate finds no object in
/// use and no slab frozen.
pub(super) fn two_cpu_stress(c: &Cache) -> Result {
    const OPS: u32 = if crate::glue::kmemleak::ENABLED {
        50_000
    } else {
        500_000
    };
    // (`ensure!`, not `assert!`: outside a test function, `assert!` is
    // core's, a kernel BUG.)
    let r = crate::admin::cache_workload(c, OPS, 256)?;
    ensure!(r.cpus == 2, "{} CPUs", r.cpus);
    ensure!(r.ops == 2 * u64::from(OPS), "{} ops", r.ops);
    ensure!(r.corrupt == 0, "{} corrupted", r.corrupt);
    ensure!(r.failed == 0, "{} failed", r.failed);
    ensure!(r.remote > 0, "no remote frees");
    let cs = census(c)?;
    ensure!(cs.inuse == 0, "{} in use", cs.inuse);
    ensure!(cs.frozen == 0, "{} frozen", cs.frozen);
    Ok(())
}

pub(super) fn pages_in_use(p: &SlabPool) -> Result<usize> {
    Ok(p.check().map_err(|_| EINVAL)?.in_use)
}

/// A set of addresses (sorted), for "never handed out twice".
struct Held(KVec<usize>);

impl Held {
    fn insert(&mut self, p: usize) -> Result<bool> {
        match self.0.binary_search(&p) {
            Ok(_) => Ok(false),
            Err(pos) => {
                self.0.push(p, GFP_KERNEL)?;
                self.0[pos..].rotate_right(1);
                Ok(true)
            }
        }
    }
    fn remove_at(&mut self, i: usize) -> Result<usize> {
        self.0.remove(i).map_err(|_| EINVAL)
    }
}

#[kunit_tests(rslab_slab)]
mod tests {
    use super::*;

    /// The first allocation takes the slow path and makes a slab; the next
    /// ones are fast; a free into the CPU slab is fast; running out of the
    /// CPU slab bypasses deactivation (it is full) and makes a new slab;
    /// a free into that full slab is slow and freezes it onto the CPU
    /// partial list.
    #[test]
    fn each_path_moves_its_own_counter() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-paths", 64)?;
        let n = c.layout().objects as usize;
        on_cpu(0, || {
            let s = |x| c.stat_total(x);
            let a = alloc(&c)?;
            ensure!(s(SlabStat::AllocSlowpath) == 1, "first alloc is slow");
            ensure!(s(SlabStat::AllocSlab) == 1, "and makes a slab");
            ensure!(s(SlabStat::AllocFastpath) == 0, "not fast");
            let b = alloc(&c)?;
            ensure!(s(SlabStat::AllocFastpath) == 1, "second alloc is fast");
            free(&c, b);
            ensure!(s(SlabStat::FreeFastpath) == 1, "free to the CPU slab");
            ensure!(s(SlabStat::FreeSlowpath) == 0, "no slow free");
            let mut held = KVec::new();
            for _ in 0..n {
                held.push(alloc(&c)?, GFP_KERNEL)?;
            }
            // `a` plus `n - 1` filled the first slab; the last one needed a
            // second slab, the full first one was bypassed.
            ensure!(s(SlabStat::AllocSlab) == 2, "a second slab");
            ensure!(s(SlabStat::DeactivateBypass) == 1, "full slab bypassed");
            ensure!(s(SlabStat::AllocFastpath) == n as u64, "fast path");
            free(&c, a);
            ensure!(s(SlabStat::FreeSlowpath) == 1, "free into a non-CPU slab");
            ensure!(s(SlabStat::CpuPartialFree) == 1, "frozen to CPU partial");
            ensure!(
                c.cpu_info(0)
                    == CpuSlabInfo {
                        has_slab: true,
                        partial_slabs: 1
                    },
                "one CPU partial slab"
            );
            for x in held.drain_all() {
                free(&c, x);
            }
            Ok(())
        })?;
        let cs = census(&c)?;
        assert_eq!(cs.inuse, 0);
        assert_eq!(c.stat_total(SlabStat::CpuslabFlush), 1);
        Ok(())
    }

    /// Flushing puts a partially used CPU slab at the head of the node
    /// list and the CPU partial slabs at its tail; a free that empties a
    /// partial slab when the node holds `min_partial` takes it off the list
    /// and frees it; the next slow path takes a slab from the node list.
    #[test]
    fn partial_list_and_deactivate_transitions() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-partial", 128)?;
        let n = c.layout().objects as usize;
        let s = |x| c.stat_total(x);
        let b = AtomicUsize::new(0);
        on_cpu(0, || {
            // Slab A full, then B as the CPU slab with one object.
            let mut v = KVec::new();
            for _ in 0..=n {
                v.push(alloc(&c)?, GFP_KERNEL)?;
            }
            b.store(v[n], Ordering::Relaxed);
            // Freeing into full A freezes it onto this CPU's partial list;
            // the other frees find it frozen.
            for x in &v[..n] {
                free(&c, *x);
            }
            ensure!(s(SlabStat::CpuPartialFree) == 1, "A frozen");
            ensure!(
                s(SlabStat::FreeFrozen) == (n - 1) as u64,
                "frees to frozen A"
            );
            ensure!(s(SlabStat::FreeSlowpath) == n as u64, "all slow");
            Ok(())
        })?;
        c.flush_all();
        // B (in use, no remote frees) to the head; A, empty, to the tail:
        // the node had fewer than min_partial slabs.
        assert_eq!(s(SlabStat::CpuslabFlush), 1);
        assert_eq!(s(SlabStat::DeactivateToHead), 1);
        assert_eq!(s(SlabStat::FreeAddPartial), 1);
        assert_eq!(c.counts().partial, 2);
        let cs = census(&c)?;
        assert_eq!((cs.slabs, cs.partial, cs.inuse, cs.frozen), (2, 2, 1, 0));
        // With min_partial 0, freeing B's last object frees B.
        c.set_min_partial(0);
        free(&c, b.load(Ordering::Relaxed));
        assert_eq!(s(SlabStat::FreeRemovePartial), 1);
        assert_eq!(s(SlabStat::FreeSlab), 1);
        assert_eq!(c.counts().slabs, 1);
        // The next allocation takes A from the node list.
        on_cpu(0, || {
            let x = alloc(&c)?;
            ensure!(s(SlabStat::AllocFromPartial) == 1, "from the node list");
            ensure!(s(SlabStat::AllocSlab) == 2, "no new slab");
            free(&c, x);
            Ok(())
        })?;
        assert_eq!(c.shrink(), 1);
        assert_eq!(c.counts().slabs, 0);
        assert_eq!(pages_in_use(&p)?, 0);
        Ok(())
    }

    /// An object allocated on CPU 0 and freed on CPU 1 takes the slow path
    /// (into CPU 0's frozen slab) and is handed out again by CPU 0 once its
    /// freelist runs out (a refill from the slab). A CPU slab with remote
    /// frees goes to the tail of the node list when flushed.
    #[test]
    fn cross_cpu_free_takes_the_slow_path_and_is_reused() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-remote", 256)?;
        let n = c.layout().objects as usize;
        let s = |x| c.stat_total(x);
        let x = AtomicUsize::new(0);
        on_cpu(0, || {
            x.store(alloc(&c)?, Ordering::Relaxed);
            Ok(())
        })?;
        on_cpu(1, || {
            free(&c, x.load(Ordering::Relaxed));
            ensure!(s(SlabStat::FreeSlowpath) == 1, "remote free is slow");
            ensure!(s(SlabStat::FreeFrozen) == 1, "into a frozen slab");
            ensure!(s(SlabStat::FreeFastpath) == 0, "not fast");
            Ok(())
        })?;
        on_cpu(0, || {
            let mut got = KVec::new();
            for _ in 0..n - 1 {
                got.push(alloc(&c)?, GFP_KERNEL)?;
            }
            ensure!(s(SlabStat::AllocRefill) == 0, "CPU freelist first");
            let y = alloc(&c)?;
            ensure!(y == x.load(Ordering::Relaxed), "the freed object is reused");
            ensure!(s(SlabStat::AllocRefill) == 1, "by a refill");
            got.push(y, GFP_KERNEL)?;
            // Keep one object, free the rest on CPU 1 below.
            x.store(got[0], Ordering::Relaxed);
            for o in &got[1..] {
                free(&c, *o);
            }
            Ok(())
        })?;
        // Now a remote free into CPU 0's slab, then a flush.
        let d = cache(&p, "kunit-remote2", 256)?;
        let (o1, o2) = (AtomicUsize::new(0), AtomicUsize::new(0));
        on_cpu(0, || {
            o1.store(alloc(&d)?, Ordering::Relaxed);
            o2.store(alloc(&d)?, Ordering::Relaxed);
            Ok(())
        })?;
        on_cpu(1, || {
            free(&d, o1.load(Ordering::Relaxed));
            Ok(())
        })?;
        d.flush_all();
        assert_eq!(d.stat_total(SlabStat::DeactivateRemoteFrees), 1);
        assert_eq!(d.stat_total(SlabStat::DeactivateToTail), 1);
        free(&d, o2.load(Ordering::Relaxed));
        free(&c, x.load(Ordering::Relaxed));
        assert_eq!(census(&c)?.inuse, 0);
        assert_eq!(census(&d)?.inuse, 0);
        Ok(())
    }

    /// 120k random allocations and frees over three geometries (randomised
    /// freelists and hardened free pointers, whatever the kernel's config):
    /// every object handed out is aligned as asked, is a slot
    /// of one of the cache's slabs, and is not already held.
    #[test]
    fn random_ops_never_hand_out_an_object_twice() -> Result {
        let p = pool()?;
        let mut r = XorShift64::new(0x5eed);
        for (size, align, flags) in [
            (24, 0, 0),
            (200, 64, 0),
            (1000, 0, layout::SLAB_HWCACHE_ALIGN),
        ] {
            let mut cfg = CacheConfig::new("kunit-random", size);
            cfg.align = align;
            cfg.flags = flags;
            cfg.randomize = true;
            cfg.harden = true;
            let c = Cache::new(&p, &cfg)?;
            let want = c.layout().align as usize;
            assert!(want >= align as usize);
            let mut held = Held(KVec::with_capacity(2048, GFP_KERNEL)?);
            for _ in 0..40_000 {
                if held.0.len() < 2000 && (held.0.is_empty() || r.below(2) == 0) {
                    let o = alloc(&c)?;
                    assert_eq!(o % want, 0);
                    // SAFETY: `o` is held here.
                    assert!(unsafe { c.contains(o as *const u8) });
                    assert!(held.insert(o)?);
                } else {
                    let i = r.below(held.0.len() as u32) as usize;
                    free(&c, held.remove_at(i)?);
                }
            }
            for o in held.0.drain_all() {
                free(&c, o);
            }
            let cs = census(&c)?;
            assert_eq!(cs.inuse, 0);
            assert!(cs.slabs > 1);
            assert_eq!(c.destroy(), Ok(()));
        }
        assert_eq!(pages_in_use(&p)?, 0);
        Ok(())
    }

    /// The constructor runs on every object of a slab when the slab is
    /// made, and not again when objects are reused.
    #[test]
    fn ctor_runs_once_per_object_when_its_slab_is_made() -> Result {
        let p = pool()?;
        let mut cfg = CacheConfig::new("kunit-ctor", 40);
        cfg.ctor = Some(hooks::counting_ctor);
        let c = Cache::new(&p, &cfg)?;
        let n = u64::from(c.layout().objects);
        let before = CTOR_CALLS.load(Relaxed);
        let mut v = KVec::new();
        for _ in 0..n {
            let o = alloc(&c)?;
            // SAFETY: a fresh object of 40 bytes.
            assert_eq!(unsafe { *(o as *const u8) }, CTOR_BYTE);
            v.push(o, GFP_KERNEL)?;
        }
        assert_eq!(c.counts().slabs, 1);
        assert_eq!(CTOR_CALLS.load(Relaxed), before + n);
        for o in v.drain_all() {
            free(&c, o);
        }
        let o = alloc(&c)?;
        free(&c, o);
        assert_eq!(CTOR_CALLS.load(Relaxed), before + n);
        // The free pointer lives after the object, so the constructed
        // state survives a free.
        assert!(c.layout().offset >= 40);
        Ok(())
    }

    /// Two CPUs at once, 500k operations each, with one operation in eight
    /// handing an object to the other CPU to free: nothing is corrupted and
    /// the consistency walk accounts for every object.
    #[test]
    fn two_cpu_stress_ends_consistent() -> Result {
        let p = pool()?;
        for (name, size) in [("kunit-stress-64", 64), ("kunit-stress-700", 700)] {
            let c = Cache::new(&p, &CacheConfig::new(name, size))?;
            two_cpu_stress(&c)?;
            assert!(c.stat_total(SlabStat::FreeSlowpath) > 0);
            assert_eq!(c.destroy(), Ok(()));
        }
        assert_eq!(pages_in_use(&p)?, 0);
        Ok(())
    }

    /// Shrink gives empty slabs back to the pool; destroy after freeing
    /// everything leaves no page in use.
    #[test]
    fn shrink_and_destroy_return_every_page() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-shrink", 512)?;
        let n = c.layout().objects as usize;
        let mut v = KVec::new();
        for _ in 0..3 * n {
            v.push(alloc(&c)?, GFP_KERNEL)?;
        }
        for o in v.drain_all() {
            free(&c, o);
        }
        // Empty slabs stay (min_partial) until shrunk.
        assert!(pages_in_use(&p)? > 0);
        assert!(c.shrink() >= 3);
        assert_eq!(
            c.counts(),
            CacheCounts {
                slabs: 0,
                objects: 0,
                partial: 0
            }
        );
        assert_eq!(pages_in_use(&p)?, 0);
        let o = alloc(&c)?;
        free(&c, o);
        assert_eq!(c.destroy(), Ok(()));
        assert_eq!(pages_in_use(&p)?, 0);
        Ok(())
    }

    /// Destroy with objects still allocated reports them and frees none of
    /// their memory; once they are freed, destroy succeeds.
    #[test]
    fn destroy_with_a_leak_reports_it_and_frees_nothing_in_use() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-leak", 100)?;
        let v = [alloc(&c)?, alloc(&c)?, alloc(&c)?];
        for (i, o) in v.iter().enumerate() {
            // SAFETY: our objects, 100 bytes each.
            unsafe { core::ptr::write_bytes(*o as *mut u8, i as u8 + 1, 100) };
        }
        assert_eq!(
            c.destroy(),
            Err(Leaked {
                objects: 3,
                slabs: 1
            })
        );
        assert!(pages_in_use(&p)? > 0);
        for (i, o) in v.iter().enumerate() {
            // SAFETY: still ours.
            let b = unsafe { core::slice::from_raw_parts(*o as *const u8, 100) };
            assert!(b.iter().all(|&x| x == i as u8 + 1));
        }
        for o in v {
            free(&c, o);
        }
        assert_eq!(c.destroy(), Ok(()));
        assert_eq!(pages_in_use(&p)?, 0);
        Ok(())
    }

    /// Bulk allocation hands out distinct objects of the cache; bulk free
    /// gives them all back, in runs per slab.
    #[test]
    fn bulk_alloc_and_free() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-bulk", 96)?;
        let mut v = KVec::from_elem(core::ptr::null_mut::<u8>(), 300, GFP_KERNEL)?;
        assert_eq!(c.alloc_bulk(Gfp::KERNEL, &mut v), 300);
        let mut set = Held(KVec::new());
        for &o in v.iter() {
            // SAFETY: `o` is held here.
            assert!(unsafe { c.contains(o) });
            assert!(set.insert(o as usize)?);
        }
        assert_eq!(census(&c)?.inuse, 300);
        // SAFETY: every pointer of `v` came from `c` just above, once.
        unsafe { c.free_bulk(&mut v) };
        assert!(v.iter().all(|o| o.is_null()));
        assert_eq!(census(&c)?.inuse, 0);
        Ok(())
    }

    /// Each debug flag, on the Rust API: red zones (Z) and poison (P) catch
    /// a write where none belongs, reported and restored (two errors each,
    /// as SLUB counts them); user tracking (U) records the allocating and
    /// freeing task; consistency checks (F) refuse a double free and a
    /// free inside an object. Debug caches take the slow paths only.
    #[test]
    fn debug_flags_catch_what_they_name() -> Result {
        let p = pool()?;
        let debug = |name: &str, flags: u32| -> Result<Arc<Cache>> {
            let mut cfg = CacheConfig::new(name, 64);
            cfg.flags = flags;
            cfg.no_user_flags = true;
            Cache::new(&p, &cfg)
        };
        let byte = |a: usize| -> u8 {
            // SAFETY: the tests read bytes of slab memory they hold.
            unsafe { core::ptr::read_volatile(a as *const u8) }
        };
        let poke = |a: usize, v: u8| {
            // SAFETY: a byte of a slab of a cache the test owns (a red zone
            // or a freed object), written on purpose.
            unsafe { core::ptr::write_volatile(a as *mut u8, v) }
        };
        // Z: the right red zone of an object in use.
        let z = debug("kunit-dbg-z", layout::SLAB_RED_ZONE)?;
        let o = alloc(&z)?;
        assert_eq!((byte(o + 64), byte(o - 1)), (0xcc, 0xcc));
        poke(o + 64, 0x12);
        let e = z.errors();
        assert_eq!(census(&z)?.inuse, 1);
        assert_eq!(z.errors() - e, 2);
        assert_eq!(byte(o + 64), 0xcc);
        free(&z, o);
        assert_eq!(byte(o + 64), 0xbb);
        assert_eq!(z.stat_total(SlabStat::AllocFastpath), 0);
        assert_eq!(z.stat_total(SlabStat::FreeFastpath), 0);
        // P: a freed object is poisoned; a write into it is found.
        let pz = debug("kunit-dbg-p", layout::SLAB_POISON)?;
        let o = alloc(&pz)?;
        free(&pz, o);
        assert_eq!((byte(o), byte(o + 62), byte(o + 63)), (0x6b, 0x6b, 0xa5));
        poke(o + 10, 0x78);
        let e = pz.errors();
        census(&pz)?;
        assert_eq!(pz.errors() - e, 2);
        assert_eq!(byte(o + 10), 0x6b);
        // U: the last allocation and free, by this task.
        let u = debug("kunit-dbg-u", layout::SLAB_STORE_USER)?;
        let o = alloc(&u)?;
        // SAFETY: `u` stores tracks, and `o` is an object of it, which the
        // test holds: its slab stays.
        let (t, f) = unsafe { (u.track(o, TrackItem::Alloc), u.track(o, TrackItem::Free)) };
        assert!(t.addr != 0);
        assert_eq!(t.pid, kernel::current!().pid());
        assert_eq!(f.addr, 0);
        free(&u, o);
        // SAFETY: as above; after the free the slab, empty, stays on its
        // node's partial list (which has fewer than `min_partial` slabs:
        // nothing else uses this cache), so it is not discarded.
        let f = unsafe { u.track(o, TrackItem::Free) };
        assert_eq!(f.pid, kernel::current!().pid());
        // F: a double free and a free inside an object are refused.
        let f = debug("kunit-dbg-f", layout::SLAB_CONSISTENCY_CHECKS)?;
        let o = alloc(&f)?;
        let keep = alloc(&f)?;
        free(&f, o);
        let e = f.errors();
        free(&f, o);
        assert_eq!(f.errors() - e, 2);
        free(&f, keep + 8);
        assert_eq!(f.errors() - e, 4);
        assert_eq!(census(&f)?.inuse, 1);
        free(&f, keep);
        assert_eq!(census(&f)?.inuse, 0);
        // Debug caches keep no CPU partial list.
        assert!(f.set_cpu_partial(8).is_err());
        drop((z, pz, u, f));
        Ok(())
    }

    /// Bad input is refused without damage: a foreign pointer and a double
    /// free are reported and ignored; bad caches are `EINVAL`.
    #[test]
    fn bad_frees_and_bad_caches_are_refused() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-bad", 64)?;
        let d = cache(&p, "kunit-bad2", 64)?;
        let q = alloc(&d)?;
        // On one CPU, so that the double free meets its object at the head
        // of the CPU freelist, where the hardened check sees it (SLUB's
        // check is as naive: a double free elsewhere is not caught).
        on_cpu(0, || {
            let o = alloc(&c)?;
            free(&c, q);
            free(&c, o + 8);
            free(&c, o);
            free(&c, o);
            Ok(())
        })?;
        // Each bad free and the double free was reported, on the cache it
        // was made to, and nothing else.
        assert_eq!(c.errors(), 3);
        assert_eq!(d.errors(), 0);
        assert_eq!(census(&c)?.inuse, 0);
        assert_eq!(census(&d)?.inuse, 1);
        free(&d, q);
        for (size, align) in [(0, 0), (8, 3), (1 << 24, 0)] {
            let mut cfg = CacheConfig::new("kunit-bad3", size);
            cfg.align = align;
            assert!(Cache::new(&p, &cfg).is_err());
        }
        let mut cfg = CacheConfig::new("kunit-bad3", 8);
        // A flag rslab does not know.
        cfg.flags = 0x4000_0000;
        assert!(Cache::new(&p, &cfg).is_err());
        assert!(Cache::new(&p, &CacheConfig::new("a/b", 8)).is_err());
        Ok(())
    }

    /// `alloc_node(n)` gives node `n`'s objects, for every node with memory.
    /// A CPU slab of another node is deactivated and counted once as
    /// `alloc_node_mismatch`, on the slow path; after it the CPU slab is
    /// node `n`'s, and the next allocation for `n` is no mismatch and is
    /// served by the fast path (`node_match()` there). A node number past
    /// `nr_node_ids` gives `None`.
    #[test]
    fn alloc_node_gives_that_nodes_objects_and_counts_mismatches() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-node", 64)?;
        let c0 = some!(cpu::online_cpus().next());
        let held = held_list(64)?;
        let ran = on_cpu(c0, || {
            let keep = |o: usize| held.lock().push(o, GFP_NOWAIT);
            let mismatches = || c.stat_total(SlabStat::AllocNodeMismatch);
            let first = alloc(&c)?;
            keep(first)?;
            let mut cur = hooks::node_of_addr(first as *const u8);
            ensure!(cur == p.cpu_node(c0), "CPU {c0}'s slab on node {cur}");
            let paths = || {
                (
                    c.stat_total(SlabStat::AllocFastpath),
                    c.stat_total(SlabStat::AllocSlowpath),
                )
            };
            let mut expected = mismatches();
            for n in numa::memory_nodes() {
                for _ in 0..2 {
                    let (fast, slow) = paths();
                    let o = some!(c.alloc_node(Gfp::KERNEL, Some(n))).as_ptr() as usize;
                    keep(o)?;
                    let want = if n != cur {
                        expected += 1;
                        cur = n;
                        (fast, slow + 1)
                    } else {
                        (fast + 1, slow)
                    };
                    let at = hooks::node_of_addr(o as *const u8);
                    ensure!(at == n, "object for node {n} on node {at}");
                    ensure!(
                        mismatches() == expected,
                        "mismatches {} != {expected}",
                        mismatches()
                    );
                    ensure!(paths() == want, "(fast, slow) {:?} != {want:?}", paths());
                }
            }
            ensure!(
                c.alloc_node(Gfp::KERNEL, Some(numa::nr_node_ids()))
                    .is_none(),
                "no such node"
            );
            Ok(())
        });
        let objects = core::mem::take(&mut *held.lock());
        for o in objects {
            free(&c, o);
        }
        let inuse = census(&c)?.inuse;
        drop(c);
        drop(p);
        assert!(ran.is_ok());
        assert_eq!(inuse, 0);
        Ok(())
    }

    /// Each node's slabs go back to that node's partial list: full slabs of
    /// every node, one object freed from each on one CPU (they go to its
    /// CPU partial list, mixed), then flushed, leave exactly one partial
    /// slab per node on that node's list, which `validate` checks.
    #[test]
    fn partial_slabs_go_to_their_own_nodes_list() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-node-partial", 64)?;
        let per = c.layout().objects as usize;
        let c0 = some!(cpu::online_cpus().next());
        let nodes = numa::memory_nodes().count();
        let held = held_list(2 * per * nodes)?;
        let ran = on_cpu(c0, || {
            for n in numa::memory_nodes() {
                for _ in 0..2 * per {
                    let o = some!(c.alloc_node(Gfp::KERNEL, Some(n))).as_ptr() as usize;
                    held.lock().push(o, GFP_NOWAIT)?;
                }
            }
            // The first object of each node's first (full) slab.
            for k in 0..nodes {
                let o = held.lock()[2 * per * k];
                free(&c, o);
            }
            Ok(())
        });
        c.flush_all();
        let partial = c.per_node(NodeCount::Partial);
        let valid = census(&c);
        let objects = core::mem::take(&mut *held.lock());
        for (i, o) in objects.into_iter().enumerate() {
            if i % (2 * per) != 0 {
                free(&c, o);
            }
        }
        let inuse = census(&c)?.inuse;
        drop(c);
        drop(p);
        assert!(ran.is_ok());
        assert!(valid.is_ok());
        let partial = partial?;
        for n in 0..partial.len() {
            assert_eq!(partial[n], usize::from(numa::has_memory(n)));
        }
        assert_eq!(inuse, 0);
        Ok(())
    }

    /// Validate while another CPU allocates and frees (cross-CPU frees
    /// included, through a shared slot): never a finding that is not there;
    /// at most "busy" when freelists kept changing under the walk.
    #[test]
    fn validate_under_concurrent_use_reports_no_false_finding() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-validate-load", 128)?;
        let cpus = cpu::online_list()?;
        let (runs, busy, findings) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        let done = core::sync::atomic::AtomicBool::new(false);
        let started = core::sync::atomic::AtomicBool::new(false);
        let slot = AtomicUsize::new(0);
        crate::glue::kthread::run_on_cpus(&cpus[..2.min(cpus.len())], &|cpu| {
            if cpu == cpus[0] {
                // The churn starts once the validator runs (10 s at most),
                // so that the two overlap however the threads are scheduled.
                for _ in 0..10_000 {
                    if started.load(Ordering::Acquire) {
                        break;
                    }
                    kernel::time::delay::fsleep(kernel::time::Delta::from_millis(1));
                }
                let mut r = XorShift64::new(11);
                let mut held = Held(KVec::new());
                for _ in 0..30_000 {
                    if held.0.len() < 200 && (held.0.is_empty() || r.below(2) == 0) {
                        if let Ok(o) = alloc(&c) {
                            // Now and then another CPU frees it.
                            if r.below(8) == 0 {
                                let old = slot.swap(o, Ordering::AcqRel);
                                if old != 0 {
                                    free(&c, old);
                                }
                            } else if held.insert(o).is_err() {
                                free(&c, o);
                            }
                        }
                    } else if let Ok(o) = held.remove_at(r.below(held.0.len() as u32) as usize) {
                        free(&c, o);
                    }
                }
                for &o in held.0.iter() {
                    free(&c, o);
                }
                done.store(true, Ordering::Release);
            } else {
                started.store(true, Ordering::Release);
                while !done.load(Ordering::Acquire) {
                    let o = slot.swap(0, Ordering::AcqRel);
                    if o != 0 {
                        free(&c, o);
                    }
                    match c.validate() {
                        Ok(_) => {}
                        Err(crate::slab::SlabError::Busy) => {
                            busy.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            pr_err!("kunit: validate under load: {e:?}\n");
                            findings.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    runs.fetch_add(1, Ordering::Relaxed);
                }
            }
        })?;
        let o = slot.swap(0, Ordering::AcqRel);
        if o != 0 {
            free(&c, o);
        }
        pr_info!(
            "kunit: validate under load: {} runs, {} busy\n",
            runs.load(Ordering::Relaxed),
            busy.load(Ordering::Relaxed)
        );
        let inuse = census(&c)?.inuse;
        // Asserted with the cache and pool gone (a failed assertion skips
        // destructors).
        drop(c);
        drop(p);
        assert_eq!(cpus.len(), 2);
        assert!(runs.load(Ordering::Relaxed) > 0);
        assert_eq!(findings.load(Ordering::Relaxed), 0);
        assert_eq!(inuse, 0);
        Ok(())
    }

    /// A new slab that the fault injection fails makes the allocation fail
    /// cleanly (`None`, counted as a slow path, the cache consistent and
    /// empty), and the next one works. Skipped without
    /// `CONFIG_FAULT_INJECTION`.
    #[test]
    fn injected_new_slab_failures_fail_cleanly() -> Result {
        if !crate::kunit::hooks::fault::kunit_ready() {
            return Ok(());
        }
        let p = pool()?;
        let c = cache(&p, "kunit-fail-slab", 512)?;
        crate::kunit::hooks::fault::setup(c"1,100,0,1")?;
        let failed = c.alloc(Gfp::KERNEL);
        let none = failed.is_none();
        crate::kunit::hooks::fault::setup(c"1,0,0,0")?;
        if let Some(o) = failed {
            // SAFETY: just allocated from `c`.
            unsafe { c.free(o) };
        }
        let slow = c.stat_total(SlabStat::AllocSlowpath);
        let census0 = census(&c)?;
        let o = alloc(&c)?;
        free(&c, o);
        assert!(none);
        assert_eq!(slow, 1);
        assert_eq!(census0.slabs, 0);
        assert_eq!(c.stat_total(SlabStat::AllocSlab), 1);
        assert_eq!(census(&c)?.inuse, 0);
        Ok(())
    }

    /// A dead CPU's slabs are flushed by the hotplug callback.
    #[test]
    fn cpu_offline_flushes_its_slabs() -> Result {
        let p = pool()?;
        let c = cache(&p, "kunit-hotplug", 64)?;
        let o = AtomicUsize::new(0);
        on_cpu(1, || {
            o.store(alloc(&c)?, Ordering::Relaxed);
            Ok(())
        })?;
        let before = c.cpu_info(1);
        // No assertion may abort the test while the hotplug instance is
        // registered: it must be removed (dropped) first.
        let (removed, after, added) = {
            let _hp = cpuhp::Instance::new(c.clone())?;
            with_cpu1_offline(|| c.cpu_info(1))
        };
        assert_eq!(
            before,
            CpuSlabInfo {
                has_slab: true,
                partial_slabs: 0
            }
        );
        assert_eq!(removed, 0);
        assert_eq!(added, 0);
        assert_eq!(after, CpuSlabInfo::default());
        assert_eq!(c.stat_total(SlabStat::CpuslabFlush), 1);
        assert_eq!(cpu::online_cpus().count(), 2);
        free(&c, o.load(Ordering::Relaxed));
        assert_eq!(census(&c)?.inuse, 0);
        Ok(())
    }

    /// A typed cache hands out owned objects that free themselves (and drop
    /// their value) when they go.
    #[test]
    fn typed_cache_objects_free_on_drop() -> Result {
        struct Counted<'a>(u64, &'a AtomicUsize);
        impl Drop for Counted<'_> {
            fn drop(&mut self) {
                self.1.fetch_add(1, Ordering::Relaxed);
            }
        }
        let p = pool()?;
        let dropped = AtomicUsize::new(0);
        let tc = TypedCache::<Counted<'_>>::new(&p, "kunit-typed")?;
        let mut v = KVec::new();
        for i in 0..100 {
            v.push(tc.alloc(Counted(i, &dropped), Gfp::KERNEL)?, GFP_KERNEL)?;
        }
        assert!(v.iter().enumerate().all(|(i, o)| o.0 == i as u64));
        assert_eq!(census(tc.cache())?.inuse, 100);
        v[5].0 = 500;
        assert_eq!(v[5].0, 500);
        drop(v);
        assert_eq!(dropped.load(Ordering::Relaxed), 100);
        assert_eq!(census(tc.cache())?.inuse, 0);
        assert!(TypedCache::<()>::new(&p, "kunit-zst").is_err());
        Ok(())
    }

    /// A `SLAB_TYPESAFE_BY_RCU` cache gives a discarded slab's pages back
    /// only after a grace period: while another CPU is in an RCU read-side
    /// section, a shrink takes the empty slab off the cache but the pool
    /// still has its pages lent out; after `rcu_barrier()` they are back.
    #[test]
    fn typesafe_by_rcu_slabs_wait_for_a_grace_period() -> Result {
        use crate::glue::kthread;
        use core::sync::atomic::AtomicBool;
        use kernel::sync::rcu;
        let p = pool()?;
        let mut cfg = CacheConfig::new("kunit-rcu", 256);
        cfg.flags = layout::SLAB_TYPESAFE_BY_RCU;
        cfg.randomize = false;
        let c = Cache::new(&p, &cfg)?;
        c.set_min_partial(0);
        let n = c.layout().objects as usize;
        let slab_pages = 1usize << c.layout().order;
        // `n + 1` objects from CPU 0: the first `n` fill one slab.
        let mut objs = KVec::with_capacity(n + 1, GFP_KERNEL)?;
        for _ in 0..=n {
            objs.push(AtomicUsize::new(0), GFP_KERNEL)?;
        }
        on_cpu(0, || {
            for o in objs.iter() {
                o.store(alloc(&c)?, Ordering::Relaxed);
            }
            Ok(())
        })?;
        let pages_before = pages_in_use(&p)?;
        let (reading, done) = (AtomicBool::new(false), AtomicBool::new(false));
        let seen = AtomicUsize::new(usize::MAX);
        let slabs_seen = AtomicUsize::new(usize::MAX);
        let pages_seen = AtomicUsize::new(usize::MAX);
        let cpus = cpu::online_list()?;
        assert_eq!(cpus.len(), 2);
        kthread::run_on_cpus(&cpus, &|cpu| {
            if cpu == cpus[1] {
                // Hold a grace period off until the other CPU is done.
                let g = rcu::read_lock();
                reading.store(true, Ordering::Release);
                while !done.load(Ordering::Acquire) {
                    core::hint::spin_loop();
                }
                drop(g);
                return;
            }
            while !reading.load(Ordering::Acquire) {
                core::hint::spin_loop();
            }
            // The first `n` objects fill one slab: freed, it is empty.
            for o in objs.iter().take(n) {
                free(&c, o.load(Ordering::Relaxed));
            }
            c.shrink();
            seen.store(c.rcu_pending_slabs(), Ordering::Relaxed);
            slabs_seen.store(c.counts().slabs, Ordering::Relaxed);
            pages_seen.store(pages_in_use(&p).unwrap_or(0), Ordering::Relaxed);
            done.store(true, Ordering::Release);
        })?;
        rcu::rcu_barrier();
        assert_eq!(seen.load(Ordering::Relaxed), 1);
        assert_eq!(slabs_seen.load(Ordering::Relaxed), 1);
        assert_eq!(pages_seen.load(Ordering::Relaxed), pages_before);
        assert_eq!(c.rcu_pending_slabs(), 0);
        assert_eq!(pages_in_use(&p)?, pages_before - slab_pages);
        free(&c, objs[n].load(Ordering::Relaxed));
        assert_eq!(c.destroy(), Ok(()));
        assert_eq!(pages_in_use(&p)?, 0);
        Ok(())
    }

    /// Allocation profiling (`allocinfo`): a cache made to count charges
    /// each object it hands out, one by one or in bulk, classic or with
    /// sheaves, to its caller (one site: every frame of this test is the
    /// test module's, so the caller is KUnit's), exactly its slot size, and
    /// takes each off again when it is freed.
    #[test]
    fn allocinfo_counts_each_object_against_its_caller() -> Result {
        use crate::slab::allocinfo;
        type Sites = KVec<(usize, usize, usize)>;
        let sites = || -> Result<Sites> {
            let mut v = KVec::new();
            let mut res = Ok(());
            allocinfo::for_each(|a, b, c| {
                if res.is_ok() {
                    res = v.push((a, b, c), GFP_KERNEL);
                }
            });
            res.map(|()| v).map_err(Into::into)
        };
        // The sites whose counts moved from `a` to `b`, by how much.
        let moved = |a: &Sites, b: &Sites| -> Result<Sites> {
            let mut v = KVec::new();
            for &(addr, bytes, calls) in b.iter() {
                let (b0, c0) = a
                    .iter()
                    .find(|s| s.0 == addr)
                    .map_or((0, 0), |s| (s.1, s.2));
                if (bytes, calls) != (b0, c0) {
                    v.push(
                        (addr, bytes.wrapping_sub(b0), calls.wrapping_sub(c0)),
                        GFP_KERNEL,
                    )?;
                }
            }
            Ok(v)
        };
        let p = pool()?;
        for sheaves in [false, true] {
            let mut cfg = CacheConfig::new("kunit-allocinfo", 100);
            cfg.allocinfo = true;
            cfg.sheaves = sheaves;
            let c = Cache::new(&p, &cfg)?;
            let size = c.layout().size as usize;
            let before = sites()?;
            let mut objs = KVec::with_capacity(10, GFP_KERNEL)?;
            for _ in 0..10 {
                objs.push(alloc(&c)?, GFP_KERNEL)?;
            }
            let mut bulk = [core::ptr::null_mut(); 30];
            let got = c.alloc_bulk(Gfp::KERNEL, &mut bulk);
            let during = sites()?;
            for &o in objs.iter() {
                free(&c, o);
            }
            // SAFETY: the objects were just allocated from `c` (all 30, or
            // none and the slots are null).
            unsafe { c.free_bulk(&mut bulk[..got]) };
            let after = sites()?;
            let destroyed = c.destroy();
            let up = moved(&before, &during)?;
            let back = moved(&before, &after)?;
            assert_eq!(got, 30);
            assert_eq!(up.len(), 1);
            assert_eq!((up[0].1, up[0].2), (40 * size, 40));
            assert_eq!(back.len(), 0);
            assert_eq!(destroyed, Ok(()));
        }
        Ok(())
    }
}
