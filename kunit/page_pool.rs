// SPDX-License-Identifier: GPL-2.0
//! KUnit: the page pool.
//!
//! Tests that look at one CPU's lists run their body on a kthread bound to
//! that CPU, so that the task cannot migrate between its operations. The
//! pools here keep nothing per page (`Pool<()>`): the pool does not depend
//! on what its user keeps.

use crate::{
    admin::{stamp, stamped},
    glue::{cpu, fmtbuf, gfp::Gfp, kthread, mm::Zone, numa, vfs},
    kunit::{
        hooks::{self, fault},
        util::{ensure, on_cpu, some, with_cpu1_offline},
    },
    logic::{page_pool::buddy, rand::XorShift64},
    page_pool::{
        self as pool, Config, Pool, RawBlock, Registration, Stat, Watermarks, CHUNK_PAGES,
        FIRST_ORDER, MAX_ORDER,
    },
};
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::{page::PAGE_SIZE, prelude::*, sync::Arc};

/// A pool that keeps every chunk it takes (high watermark out of reach),
/// grows only when it cannot serve a request (low 0), with `batch`.
fn keeping_pool(batch: u32) -> Result<Arc<Pool<()>>> {
    Pool::new(Config {
        batch,
        ..Config::keeping()
    })
}

/// A pool with every watermark 0: it grows only when it has no page to
/// serve, and a chunk goes back to the kernel as soon as it is wholly free.
fn releasing_pool() -> Result<Arc<Pool<()>>> {
    Pool::new(Config {
        wmark: Watermarks {
            min: 0,
            low: 0,
            high: 0,
        },
        ..Config::default()
    })
}

/// A pool that grows before it runs dry and gives chunks back as soon as
/// more than 64 pages stay free without them; with a chunk (full size) in
/// it, it is not "below its high watermark", so its lists tune freely.
fn eager_pool(batch: u32) -> Result<Arc<Pool<()>>> {
    Pool::new(Config {
        batch,
        wmark: Watermarks {
            min: 0,
            low: 64,
            high: 64,
        },
        first_order: MAX_ORDER,
        ..Config::default()
    })
}

/// The pool's census, or `Err` after printing what the walk found wrong.
fn census(p: &Pool<()>) -> Result<pool::Census> {
    p.check().map_err(|e| {
        pr_err!("kunit: consistency check failed: {e:?}\n");
        EINVAL
    })
}

#[kunit_tests(rslab_pool)]
mod tests {
    use super::*;

    /// Every order-0 page of a chunk allocated, freed in random order: the
    /// chunk is one MAX_PAGE_ORDER block again.
    #[test]
    fn a_chunk_merges_back_whole_after_random_frees() -> Result {
        // One chunk at most: the pool cannot grow past it.
        let p = Pool::<()>::new(Config {
            max_chunks: 1,
            ..Config::keeping()
        })?;
        let first = some!(p.alloc(0, Gfp::KERNEL));
        p.free(first);
        assert_eq!(p.stat(Stat::Grow), 1);
        assert_eq!(p.stat(Stat::OrderFallback), 0);
        assert_eq!(p.total_pages(), CHUNK_PAGES);
        // Every page, also those a refill left on the list of a CPU this
        // thread migrated away from: drain every list between rounds.
        let mut blocks = KVec::new();
        loop {
            let before = blocks.len();
            while let Some(b) = p.alloc(0, Gfp::KERNEL) {
                blocks.push(b, GFP_KERNEL)?;
            }
            for c in 0..cpu::nr_cpu_ids() {
                p.drain_cpu(c);
            }
            if blocks.len() == before {
                break;
            }
        }
        assert_eq!(blocks.len(), CHUNK_PAGES);
        assert_eq!(census(&p)?.in_use, CHUNK_PAGES);
        XorShift64::new(0x5eed).shuffle(&mut blocks);
        for b in blocks.drain_all() {
            p.free(b);
        }
        for c in 0..cpu::nr_cpu_ids() {
            p.drain_cpu(c);
        }
        let nr_free = p.buddyinfo();
        assert_eq!(nr_free[MAX_ORDER as usize], 1);
        assert_eq!(nr_free.iter().sum::<usize>(), 1);
        census(&p)?;
        Ok(())
    }

    /// Blocks of every order are aligned to their size, physically and
    /// virtually, and lie inside the pool's chunks.
    #[test]
    fn blocks_are_aligned_to_their_order() -> Result {
        let p = keeping_pool(31)?;
        let mut held = KVec::new();
        for round in 0..2 {
            for order in 0..=MAX_ORDER {
                let b = some!(p.alloc(order, Gfp::KERNEL));
                assert_eq!(b.order(), order);
                assert!(buddy::is_aligned(p.pfn(&b), order));
                assert_eq!(p.addr(&b) as usize % (PAGE_SIZE << order), 0);
                if round == 0 {
                    held.push(b, GFP_KERNEL)?;
                } else {
                    p.free(b);
                }
            }
        }
        for b in held.drain_all() {
            p.free(b);
        }
        assert_eq!(census(&p)?.in_use, 0);
        Ok(())
    }

    /// An empty list is refilled with `batch` blocks in one go under the
    /// zone lock; the following allocations are served by the list.
    #[test]
    fn refill_takes_a_batch_and_serves_the_next_allocations() -> Result {
        let p = eager_pool(8)?;
        on_cpu(0, || {
            let i = p.pcp_info(0).ok_or(EINVAL)?;
            let (count0, batch) = (i.count, i.batch);
            ensure!(count0 == 0 && batch == 8, "count {count0} batch {batch}");
            let fast0 = p.stat_cpu(Stat::AllocFastpath, 0);
            let slow0 = p.stat_cpu(Stat::AllocSlowpath, 0);
            let refill0 = p.stat_cpu(Stat::Refill, 0);
            let a = some!(p.alloc(0, Gfp::KERNEL));
            let count = p.pcp_info(0).ok_or(EINVAL)?.count;
            ensure!(
                count == batch - 1,
                "after a refill count is {count}, batch {batch}"
            );
            ensure!(p.stat_cpu(Stat::Refill, 0) == refill0 + 1, "one refill");
            ensure!(
                p.stat_cpu(Stat::AllocSlowpath, 0) == slow0 + 1,
                "one slow path"
            );
            let mut more = KVec::new();
            for _ in 0..count {
                more.push(some!(p.alloc(0, Gfp::KERNEL)), GFP_KERNEL)?;
            }
            ensure!(
                p.stat_cpu(Stat::AllocFastpath, 0) == fast0 + u64::from(count),
                "fast path"
            );
            ensure!(
                p.stat_cpu(Stat::Refill, 0) == refill0 + 1,
                "no second refill"
            );
            ensure!(p.pcp_info(0).ok_or(EINVAL)?.count == 0, "list used up");
            p.free(a);
            for b in more.drain_all() {
                p.free(b);
            }
            Ok(())
        })?;
        census(&p)?;
        Ok(())
    }

    /// `alloc_pages_bulk()`: a bulk of as many blocks as the list holds
    /// takes them all off it, each counted on the fast path, with no
    /// refill; one more block refills the list once; a zone the lists do
    /// not hold is served block by block from its free areas.
    #[test]
    fn bulk_takes_the_list_then_refills_it() -> Result {
        let p = eager_pool(8)?;
        on_cpu(0, || {
            // Grows the pool and refills the list (batch 8).
            let first = some!(p.alloc(0, Gfp::KERNEL));
            let n = p.pcp_info(0).ok_or(EINVAL)?.count as usize;
            ensure!(n > 0, "a refilled list");
            let fast0 = p.stat_cpu(Stat::AllocFastpath, 0);
            let slow0 = p.stat_cpu(Stat::AllocSlowpath, 0);
            let refill0 = p.stat_cpu(Stat::Refill, 0);
            let mut got = KVec::with_capacity(n + 1, GFP_KERNEL)?;
            let k = p.alloc_bulk(Gfp::KERNEL, n, |b| {
                // Capacity reserved: cannot fail.
                let _ = got.push(b, GFP_ATOMIC);
            });
            ensure!(k == n && got.len() == n, "{k} of {n}");
            ensure!(p.pcp_info(0).ok_or(EINVAL)?.count == 0, "list used up");
            ensure!(
                p.stat_cpu(Stat::AllocFastpath, 0) == fast0 + n as u64,
                "each on the fast path"
            );
            ensure!(p.stat_cpu(Stat::Refill, 0) == refill0, "no refill");
            let k = p.alloc_bulk(Gfp::KERNEL, 1, |b| {
                let _ = got.push(b, GFP_ATOMIC);
            });
            ensure!(k == 1, "one more");
            ensure!(p.stat_cpu(Stat::Refill, 0) == refill0 + 1, "one refill");
            ensure!(p.stat_cpu(Stat::AllocSlowpath, 0) == slow0, "no slow path");
            for (i, a) in got.iter().enumerate() {
                ensure!(a.order() == 0, "order 0");
                ensure!(
                    got[..i].iter().all(|b| p.pfn(b) != p.pfn(a)),
                    "block {i} handed out twice"
                );
            }
            ensure!(census(&p)?.in_use == n + 2, "in use");
            p.free(first);
            for b in got.drain_all() {
                p.free(b);
            }
            Ok(())
        })?;
        if Zone::Dma32.exists() {
            let mut got = KVec::with_capacity(5, GFP_KERNEL)?;
            let gfp = Gfp::from_raw(kernel::bindings::GFP_KERNEL | crate::glue::mm::GFP_DMA32);
            let k = p.alloc_bulk(gfp, 5, |b| {
                let _ = got.push(b, GFP_ATOMIC);
            });
            // Every one of them the DMA32 zone's (none is on a list).
            let used: usize = numa::memory_nodes()
                .map(|n| p.zone_pages(n, Zone::Dma32))
                .map(|(total, free)| total - free)
                .sum();
            for b in got.drain_all() {
                p.free(b);
            }
            assert_eq!(k, 5);
            assert_eq!(used, 5);
        }
        assert_eq!(census(&p)?.in_use, 0);
        Ok(())
    }

    /// Frees go to the list until it reaches `high`; then a batch (at least
    /// `batch` pages) goes back to the free areas at once, and the list
    /// never stays at or above `high`.
    #[test]
    fn frees_drain_in_batches_and_stay_below_high() -> Result {
        let p = eager_pool(8)?;
        // Allocated on CPU 0 too: the blocks are its node's, which its
        // lists take (another node's go back to their own zone).
        let blocks = KVec::with_capacity(600, GFP_KERNEL)?;
        let blocks = kernel::sync::SpinLock::new(blocks, c"kunit", kernel::static_lock_class!());
        let blocks = KBox::pin_init(blocks, GFP_KERNEL)?;
        on_cpu(0, || {
            for _ in 0..600 {
                let b = some!(p.alloc(0, Gfp::KERNEL));
                // Capacity reserved: never allocates.
                blocks.lock().push(b, GFP_NOWAIT)?;
            }
            Ok(())
        })?;
        for c in 0..cpu::nr_cpu_ids() {
            p.drain_cpu(c);
        }
        on_cpu(0, || {
            let drains0 = p.stat_cpu(Stat::Drain, 0);
            let mut drains = 0;
            while let Some(b) = blocks.lock().pop() {
                let i = p.pcp_info(0).ok_or(EINVAL)?;
                let (before, batch) = (i.count, i.batch);
                p.free(b);
                let i = p.pcp_info(0).ok_or(EINVAL)?;
                let (after, high) = (i.count, i.high);
                ensure!(after < high, "count {after} high {high}");
                if after < before + 1 {
                    drains += 1;
                    ensure!(
                        before + 1 - after >= batch,
                        "drained {} < batch {batch}",
                        before + 1 - after
                    );
                }
            }
            ensure!(drains > 0, "600 frees never drained");
            ensure!(
                p.stat_cpu(Stat::Drain, 0) == drains0 + drains,
                "drain counter"
            );
            Ok(())
        })?;
        assert_eq!(census(&p)?.in_use, 0);
        Ok(())
    }

    /// A zone's chunks double what it holds: its first is of the first
    /// order (128 KiB), each later one as large as the zone already is, up
    /// to `MAX_PAGE_ORDER`; then full-size chunks.
    #[test]
    fn chunks_double_what_the_zone_holds() -> Result {
        let Some(node) = numa::memory_nodes().next() else {
            return Ok(());
        };
        let p = Pool::<()>::new(Config {
            first_order: FIRST_ORDER,
            ..Config::keeping()
        })?;
        // Blocks of the first order, past the per-CPU lists: each one the
        // zone cannot serve grows it.
        let mut held = KVec::new();
        let mut totals = KVec::new();
        while p.total_pages() < 3 * CHUNK_PAGES {
            let grown = p.stat(Stat::Grow);
            held.push(
                some!(p.alloc_node(FIRST_ORDER, Gfp::KERNEL, Some(node))),
                GFP_KERNEL,
            )?;
            if p.stat(Stat::Grow) != grown {
                totals.push(p.node_pages(node).0, GFP_KERNEL)?;
            }
        }
        let fallback = p.stat(Stat::OrderFallback);
        for b in held.drain_all() {
            p.free(b);
        }
        assert_eq!(census(&p)?.in_use, 0);
        if fallback == 0 {
            // 32, 64, 128, ..., CHUNK_PAGES, 2 * CHUNK_PAGES, 3 * CHUNK_PAGES.
            let mut want = KVec::new();
            let mut t = 1usize << FIRST_ORDER;
            while t <= CHUNK_PAGES {
                want.push(t, GFP_KERNEL)?;
                t *= 2;
            }
            want.push(2 * CHUNK_PAGES, GFP_KERNEL)?;
            want.push(3 * CHUNK_PAGES, GFP_KERNEL)?;
            assert_eq!(&totals[..], &want[..]);
        }
        Ok(())
    }

    /// Below its low watermark the pool grows from the kernel, once per
    /// allocation that finds it low, and not above it.
    #[test]
    fn grows_below_the_low_watermark() -> Result {
        let p = keeping_pool(8)?;
        let w = Watermarks {
            min: 0,
            low: CHUNK_PAGES + CHUNK_PAGES / 2,
            high: usize::MAX,
        };
        p.set_watermarks(w)?;
        let a = some!(p.alloc(0, Gfp::KERNEL));
        assert_eq!(p.stat(Stat::Grow), 1);
        // Still below low: the next allocation grows again.
        let b = some!(p.alloc(0, Gfp::KERNEL));
        assert_eq!(p.stat(Stat::Grow), 2);
        // Above low now: no more growth.
        let c = some!(p.alloc(0, Gfp::KERNEL));
        assert_eq!(p.stat(Stat::Grow), 2);
        if p.stat(Stat::OrderFallback) == 0 {
            assert_eq!(p.total_pages(), 2 * CHUNK_PAGES);
        }
        for x in [a, b, c] {
            p.free(x);
        }
        census(&p)?;
        Ok(())
    }

    /// The low watermark applies to each node's zone on its own: a node
    /// below it grows on an allocation there although the other node has
    /// more than `low` free. Skipped without a second node with memory.
    #[test]
    fn low_watermark_is_per_node() -> Result {
        let mut nodes = numa::memory_nodes();
        let (Some(a), Some(b)) = (nodes.next(), nodes.next()) else {
            return Ok(());
        };
        let p = keeping_pool(8)?;
        p.set_watermarks(Watermarks {
            min: 0,
            low: CHUNK_PAGES + CHUNK_PAGES / 2,
            high: usize::MAX,
        })?;
        // Node a: below low twice, then 2 chunks minus 2 pages free.
        let x = some!(p.alloc_node(0, Gfp::KERNEL, Some(a)));
        let y = some!(p.alloc_node(0, Gfp::KERNEL, Some(a)));
        let grown_a = p.stat(Stat::Grow);
        // Node b, with nothing: below its own low, it grows on each of two
        // allocations as a did (with the pool's total free, over `low`
        // now, only the first would).
        let u = some!(p.alloc_node(0, Gfp::KERNEL, Some(b)));
        let v = some!(p.alloc_node(0, Gfp::KERNEL, Some(b)));
        let grown_b = p.stat(Stat::Grow) - grown_a;
        let (total_b, _) = p.node_pages(b);
        let exact = p.stat(Stat::OrderFallback) == 0;
        let misses = p.stat(Stat::NumaMiss);
        for blk in [x, y, u, v] {
            p.free(blk);
        }
        census(&p)?;
        assert_eq!(misses, 0);
        if exact {
            assert_eq!(grown_a, 2);
            assert_eq!(grown_b, 2);
            assert_eq!(total_b, 2 * CHUNK_PAGES);
        }
        Ok(())
    }

    /// Shrink gives every wholly free chunk back; dropping a pool gives
    /// everything back: the module's count of pages taken from the kernel
    /// returns to where it was.
    #[test]
    fn shrink_and_drop_give_every_page_back() -> Result {
        let before = pool::backing_pages();
        {
            let p = keeping_pool(31)?;
            let mut held = KVec::new();
            for order in [0, 3, 5, MAX_ORDER, 2, MAX_ORDER] {
                held.push(some!(p.alloc(order, Gfp::KERNEL)), GFP_KERNEL)?;
            }
            let chunks = p.stat(Stat::Grow);
            assert!(chunks >= 2);
            assert_eq!(pool::backing_pages(), before + p.total_pages());
            // Nothing can go while everything is held... except untouched chunks.
            for b in held.drain_all() {
                p.free(b);
            }
            let total = p.total_pages();
            assert_eq!(p.shrink(0), total);
            assert_eq!(p.total_pages(), 0);
            assert_eq!(p.stat(Stat::Release), chunks);
            assert_eq!(pool::backing_pages(), before);
            // And again, this time dropping the pool with chunks inside.
            let x = some!(p.alloc(4, Gfp::KERNEL));
            p.free(x);
            assert!(pool::backing_pages() > before);
        }
        assert_eq!(pool::backing_pages(), before);
        Ok(())
    }

    /// `echo 2 > /proc/sys/vm/drop_caches` reaches the pool's shrinker,
    /// which gives its free chunks back.
    #[test]
    fn drop_caches_shrinks_the_pool() -> Result {
        let p = keeping_pool(31)?;
        // No assertion may abort the test while the shrinker is registered:
        // it is dropped first, then the results are asserted.
        let (before, after) = {
            let _reg = Registration::new(p.clone(), c"kunit-drop-caches")?;
            let b = some!(p.alloc(MAX_ORDER, Gfp::KERNEL));
            let c = some!(p.alloc(0, Gfp::KERNEL));
            p.free(b);
            p.free(c);
            let before = p.total_pages();
            vfs::write(c"/proc/sys/vm/drop_caches", b"2\n")?;
            (before, p.total_pages())
        };
        assert!(before >= 2 * CHUNK_PAGES);
        assert_eq!(after, 0);
        assert!(p.stat(Stat::Release) >= 2);
        census(&p)?;
        Ok(())
    }

    /// Failures injected through the kernel's fault injection (the
    /// `fail_rslab` attribute) give clean allocation failures, counted, and
    /// leave every structure consistent; the pool works again afterwards.
    /// Skipped on a kernel without `CONFIG_FAULT_INJECTION`.
    #[test]
    fn backing_failures_fail_cleanly() -> Result {
        if !fault::kunit_ready() {
            return Ok(());
        }
        let p = keeping_pool(31)?;
        // The next two backing allocations fail; with a low watermark of 0,
        // an allocation that finds the pool empty grows once (to serve).
        fault::setup(c"1,100,0,2")?;
        let r0 = p.alloc(0, Gfp::KERNEL).is_none();
        let fails0 = p.stat(Stat::AllocFail);
        let total0 = p.total_pages();
        // Failures injected while chunks exist: what the pool holds still
        // serves; a request it cannot serve without growing fails cleanly.
        fault::setup(c"1,0,0,0")?;
        let a = p.alloc(0, Gfp::KERNEL);
        fault::setup(c"1,100,0,-1")?;
        let b = p.alloc(2, Gfp::ATOMIC);
        let held = p.alloc(MAX_ORDER - 1, Gfp::KERNEL);
        let none = p.alloc(MAX_ORDER, Gfp::NOWAIT);
        fault::setup(c"1,0,0,0")?;
        let big = p.alloc(MAX_ORDER, Gfp::KERNEL);
        let (a_some, b_some, big_some, none_none) =
            (a.is_some(), b.is_some(), big.is_some(), none.is_none());
        for x in [a, b, held, big].into_iter().flatten() {
            p.free(x);
        }
        assert!(r0);
        assert_eq!(fails0, 1);
        assert_eq!(total0, 0);
        assert!(a_some && b_some && big_some && none_none);
        assert_eq!(p.stat(Stat::AllocFail), 2);
        assert_eq!(census(&p)?.in_use, 0);
        Ok(())
    }

    /// At a 10% failure rate, on every CPU at once: each allocation takes a
    /// whole chunk of the CPU's node (so each one asks the fault attribute
    /// once: `__GFP_THISNODE`, no other node to fall back to, where a second
    /// ask would make a failure 1% likely and none at all in 400 tries 2%),
    /// some fail, each failure is a clean `None` counted as `alloc_fail`,
    /// nothing handed out is corrupted, the pool is consistent after, and
    /// dropping it gives every page back.
    #[test]
    fn ten_percent_injected_failures_stay_clean() -> Result {
        if !fault::kunit_ready() {
            return Ok(());
        }
        let before = pool::backing_pages();
        let cpus = cpu::online_list()?;
        let nr_cpus = cpus.len();
        let thisnode = Gfp::from_raw(
            kernel::bindings::GFP_KERNEL | (1 << kernel::bindings::___GFP_THISNODE_BIT),
        );
        let (fails, corrupt, counted, check) = {
            // High watermark 0: a chunk goes back as soon as it is free.
            let p = releasing_pool()?;
            let (fails, corrupt) = (AtomicUsize::new(0), AtomicUsize::new(0));
            fault::setup(c"1,10,0,-1")?;
            let r = kthread::run_on_cpus(&cpus, &|cpu| {
                let Ok(mut held) = KVec::<(RawBlock, u64)>::with_capacity(8, GFP_KERNEL) else {
                    corrupt.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let mut tag = (cpu as u64) << 48;
                let node = p.cpu_node(cpu);
                for _ in 0..200 {
                    match p.alloc_node(MAX_ORDER, thisnode, Some(node)) {
                        Some(b) => {
                            tag += 1;
                            stamp(&p, &b, tag);
                            // Capacity reserved: cannot fail.
                            let _ = held.push((b, tag), GFP_KERNEL);
                        }
                        None => {
                            fails.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if held.len() == 8 {
                        for (b, t) in held.drain_all() {
                            if !stamped(&p, &b, t) {
                                corrupt.fetch_add(1, Ordering::Relaxed);
                            }
                            p.free(b);
                        }
                    }
                }
                for (b, t) in held.drain_all() {
                    if !stamped(&p, &b, t) {
                        corrupt.fetch_add(1, Ordering::Relaxed);
                    }
                    p.free(b);
                }
            });
            fault::setup(c"1,0,0,0")?;
            r?;
            (
                fails.load(Ordering::Relaxed) as u64,
                corrupt.load(Ordering::Relaxed),
                p.stat(Stat::AllocFail),
                p.check().map(|c| c.in_use),
            )
        };
        // A failed assertion ends the thread without destructors: nothing
        // of the test's is left to drop below.
        drop(cpus);
        pr_info!(
            "kunit: 10% injected: {fails} of {} allocations failed\n",
            200 * nr_cpus
        );
        assert!(fails > 0);
        assert_eq!(fails, counted);
        assert_eq!(corrupt, 0);
        assert_eq!(check, Ok(0));
        assert_eq!(pool::backing_pages(), before);
        Ok(())
    }

    /// Orders above MAX_PAGE_ORDER fail cleanly, whatever the flags.
    #[test]
    fn requests_above_max_order_fail_cleanly() -> Result {
        let p = keeping_pool(31)?;
        for order in [MAX_ORDER + 1, MAX_ORDER + 7, 63, u32::MAX] {
            assert!(p.alloc(order, Gfp::KERNEL).is_none());
            assert!(p.alloc(order, Gfp::ATOMIC).is_none());
        }
        assert_eq!(p.stat(Stat::AllocFail), 8);
        assert_eq!(census(&p)?.pages, 0);
        Ok(())
    }

    /// Two CPUs allocate and free blocks of orders 0..=4 at random, each
    /// block stamped with its owner; no block is handed out twice, and the
    /// consistency walk passes afterwards with nothing in use.
    #[test]
    fn two_cpus_hammering_stay_consistent() -> Result {
        // Default watermarks: the pool grows and gives chunks back meanwhile.
        let p = Pool::new(Config {
            batch: 16,
            ..Config::default()
        })?;
        let errors = AtomicUsize::new(0);
        let ops = AtomicUsize::new(0);
        let cpus: KVec<usize> = {
            let mut v = KVec::new();
            for c in cpu::online_cpus().take(2) {
                v.push(c, GFP_KERNEL)?;
            }
            v
        };
        assert_eq!(cpus.len(), 2);
        kthread::run_on_cpus(&cpus, &|cpu| {
            let mut r = XorShift64::new(cpu as u64 + 1);
            // Room for every block held, so that a push never fails (and
            // never drops a block it could not store).
            let Ok(mut held) = KVec::<(RawBlock, u64)>::with_capacity(64, GFP_KERNEL) else {
                errors.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let mut tag = (cpu as u64) << 48;
            for _ in 0..20_000 {
                if held.len() < 64 && (held.is_empty() || r.below(2) == 0) {
                    let order = r.below(5);
                    let gfp = if r.below(4) == 0 {
                        Gfp::ATOMIC
                    } else {
                        Gfp::KERNEL
                    };
                    if let Some(b) = p.alloc(order, gfp) {
                        tag += 1;
                        stamp(&p, &b, tag);
                        // Capacity reserved: cannot fail.
                        let _ = held.push((b, tag), GFP_KERNEL);
                    }
                } else {
                    let i = r.below(held.len() as u32) as usize;
                    let Ok((b, t)) = held.remove(i) else {
                        continue;
                    };
                    if !stamped(&p, &b, t) {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    p.free(b);
                }
                ops.fetch_add(1, Ordering::Relaxed);
            }
            for (b, t) in held.drain_all() {
                if !stamped(&p, &b, t) {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                p.free(b);
            }
        })?;
        assert_eq!(errors.load(Ordering::Relaxed), 0);
        assert_eq!(ops.load(Ordering::Relaxed), 40_000);
        assert!(p.stat_cpu(Stat::AllocFastpath, cpus[0]) > 0);
        assert!(p.stat_cpu(Stat::AllocFastpath, cpus[1]) > 0);
        assert_eq!(census(&p)?.in_use, 0);
        Ok(())
    }

    /// An allocation that may sleep never fails while the kernel can give
    /// pages, even with a shrinker taking every free chunk at the same time
    /// (a chunk grown for a request serves it before anyone can take it);
    /// and the consistency walk, run all the while on the other CPU, is
    /// exact under that concurrent use.
    #[test]
    fn growing_races_with_shrink_and_validate() -> Result {
        // Low and high watermarks 0: an allocation that finds no page grows,
        // and every wholly free chunk may go at once.
        let p = releasing_pool()?;
        let cpus = cpu::online_list()?;
        let failed = AtomicUsize::new(0);
        let bad_checks = AtomicUsize::new(0);
        let checks = AtomicUsize::new(0);
        let done = core::sync::atomic::AtomicBool::new(false);
        kthread::run_on_cpus(&cpus[..2.min(cpus.len())], &|cpu| {
            if cpu == cpus[0] {
                let mut r = XorShift64::new(7);
                for _ in 0..4_000 {
                    // Half of them a whole chunk: each of those grows the
                    // pool, with the shrinker spinning for the zone lock.
                    let order = if r.below(2) == 0 {
                        MAX_ORDER
                    } else {
                        r.below(4)
                    };
                    match p.alloc(order, Gfp::KERNEL) {
                        Some(b) => p.free(b),
                        None => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                done.store(true, Ordering::Release);
            } else {
                while !done.load(Ordering::Acquire) {
                    p.shrink(0);
                    if p.check().is_err() {
                        bad_checks.fetch_add(1, Ordering::Relaxed);
                    }
                    checks.fetch_add(1, Ordering::Relaxed);
                }
            }
        })?;
        assert_eq!(cpus.len(), 2);
        assert_eq!(failed.load(Ordering::Relaxed), 0);
        assert_eq!(p.stat(Stat::AllocFail), 0);
        assert!(checks.load(Ordering::Relaxed) > 0);
        assert_eq!(bad_checks.load(Ordering::Relaxed), 0);
        assert_eq!(census(&p)?.in_use, 0);
        Ok(())
    }

    /// A CPU going offline has its lists drained by the hotplug callback.
    #[test]
    fn cpu_offline_drains_its_lists() -> Result {
        let p = keeping_pool(8)?;
        // As above: the hotplug instance goes before any assertion.
        let (on_list, removed, count, added) = {
            let _reg = Registration::new(p.clone(), c"kunit-pool-hotplug")?;
            let on_list = AtomicUsize::new(0);
            on_cpu(1, || {
                let b = some!(p.alloc(0, Gfp::KERNEL));
                p.free(b);
                on_list.store(
                    p.pcp_info(1).ok_or(EINVAL)?.count as usize,
                    Ordering::Relaxed,
                );
                Ok(())
            })?;
            let (removed, count, added) = with_cpu1_offline(|| p.pcp_info(1).map(|i| i.count));
            (on_list.load(Ordering::Relaxed), removed, count, added)
        };
        assert!(on_list > 0);
        assert_eq!(removed, 0);
        assert_eq!(count, Some(0));
        assert_eq!(added, 0);
        census(&p)?;
        Ok(())
    }

    /// `alloc_node(n)` gives node `n`'s pages (the block's node and the
    /// kernel's `page_to_nid()` agree), for every node with memory, through
    /// the free areas of that node; a node number past `nr_node_ids` gives
    /// `None` and counts one failure; nothing falls back.
    #[test]
    fn alloc_node_gives_that_nodes_pages() -> Result {
        let p = keeping_pool(31)?;
        let mut held = KVec::new();
        for n in numa::memory_nodes() {
            for order in [0, 3, MAX_ORDER] {
                let b = some!(p.alloc_node(order, Gfp::KERNEL, Some(n)));
                let (at, of) = (p.node_of(&b), hooks::node_of_addr(p.addr(&b)));
                held.push(b, GFP_KERNEL)?;
                assert_eq!(at, n);
                assert_eq!(of, n);
            }
        }
        let fails = p.stat(Stat::AllocFail);
        let bad = p.alloc_node(0, Gfp::KERNEL, Some(numa::nr_node_ids()));
        let refused = bad.is_none();
        if let Some(b) = bad {
            p.free(b);
        }
        for b in held.drain_all() {
            p.free(b);
        }
        assert!(refused);
        assert_eq!(p.stat(Stat::AllocFail), fails + 1);
        assert_eq!(p.stat(Stat::NumaMiss), 0);
        census(&p)?;
        Ok(())
    }

    /// A CPU allocates its own node's pages (`cpu_to_mem()`), and its lists
    /// hold only those (the consistency walk checks each list against its
    /// node's chunks).
    #[test]
    fn a_cpus_allocations_are_its_nodes() -> Result {
        let p = keeping_pool(31)?;
        for c in cpu::online_cpus() {
            assert_eq!(p.cpu_node(c), numa::cpu_node(c));
            on_cpu(c, || {
                let mut held = KVec::new();
                for _ in 0..64 {
                    held.push(some!(p.alloc(0, Gfp::KERNEL)), GFP_KERNEL)?;
                }
                let mine = held.iter().all(|b| {
                    hooks::node_of_addr(p.addr(b)) == p.cpu_node(c) && p.node_of(b) == p.cpu_node(c)
                });
                for b in held.drain_all() {
                    p.free(b);
                }
                ensure!(mine, "CPU {c} got another node's pages");
                Ok(())
            })?;
        }
        census(&p)?;
        Ok(())
    }

    /// With two nodes: a block freed on a CPU of the other node goes back to
    /// its own node's free areas (exactly one page more free there, the
    /// freeing CPU's lists untouched); and when the node asked for cannot
    /// grow (the pool holds its one chunk, on the other node), the other
    /// node serves, counted once as `numa_miss`.
    #[test]
    fn remote_frees_go_home_and_exhausted_nodes_fall_back() -> Result {
        let cpus = |n: usize, p: &Pool<()>| cpu::online_cpus().find(|&c| p.cpu_node(c) == n);
        let p = Pool::<()>::new(Config {
            max_chunks: 1,
            ..Config::keeping()
        })?;
        let (Some(c0), Some(c1)) = (cpus(0, &p), cpus(1, &p)) else {
            fault::kunit_skip(c"needs two nodes with a CPU each");
            return Ok(());
        };
        let slot = KBox::pin_init(kernel::new_spinlock!(None::<RawBlock>), GFP_KERNEL)?;
        on_cpu(c0, || {
            *slot.lock() = Some(some!(p.alloc(0, Gfp::KERNEL)));
            Ok(())
        })?;
        let free0 = p.node_pages(0).1;
        let listed1 = p.pcp_info(c1).map(|i| i.count);
        on_cpu(c1, || {
            let b = slot.lock().take();
            if let Some(b) = b {
                p.free(b);
            }
            Ok(())
        })?;
        let (free0_after, listed1_after) = (p.node_pages(0).1, p.pcp_info(c1).map(|i| i.count));
        // Node 1 cannot grow (one chunk at most, node 0's): node 0 serves.
        let got = p.alloc_node(0, Gfp::KERNEL, Some(1));
        let served_by = got.as_ref().map(|b| p.node_of(b));
        let misses = p.stat(Stat::NumaMiss);
        if let Some(b) = got {
            p.free(b);
        }
        census(&p)?;
        assert_eq!(free0_after, free0 + 1);
        assert_eq!(listed1_after, listed1);
        assert_eq!(served_by, Some(0));
        assert_eq!(misses, 1);
        assert_eq!(p.stat(Stat::Grow), 1);
        Ok(())
    }

    /// The module's pool in sysfs: the formats of /proc/buddyinfo and of
    /// SLUB's statistics, and watermark writes that reject bad values.
    #[test]
    fn sysfs_files_show_and_validate() -> Result {
        let bi = vfs::read(c"/sys/kernel/rslab_kunit/pool/buddyinfo")?;
        let bi = core::str::from_utf8(&bi).map_err(|_| EINVAL)?;
        let zi = vfs::read(c"/sys/kernel/rslab_kunit/pool/zoneinfo")?;
        let zi = core::str::from_utf8(&zi).map_err(|_| EINVAL)?;
        // One line per node with memory and zone the kernel has, in node
        // order, then the kernel's zone order.
        let kinds = [Zone::Dma, Zone::Dma32, Zone::Normal]
            .into_iter()
            .filter(|z| z.exists());
        let want = numa::memory_nodes().flat_map(|n| kinds.clone().map(move |z| (n, z)));
        let mut lines = 0;
        for ((line, zline), (n, z)) in bi.lines().zip(zi.lines()).zip(want) {
            let rest = line.strip_prefix("Node ").ok_or(EINVAL)?;
            let (num, rest) = rest.split_once(',').ok_or(EINVAL)?;
            assert_eq!(num.parse::<usize>().map_err(|_| EINVAL)?, n);
            let mut hb = [0u8; 24];
            let head = fmtbuf::format(&mut hb, format_args!(" zone {:>8} ", z.name()));
            assert!(rest.starts_with(head));
            assert!(line.ends_with(' '));
            assert_eq!(line.split_whitespace().count(), 4 + MAX_ORDER as usize + 1);
            // zoneinfo: the same zone, its pages in chunks and free.
            let mut zb = [0u8; 40];
            let zhead = fmtbuf::format(&mut zb, format_args!("Node {n},{head}"));
            let mut w = zline.strip_prefix(zhead).ok_or(EINVAL)?.split(' ');
            assert_eq!(w.next(), Some("total"));
            let total: usize = w.next().ok_or(EINVAL)?.parse().map_err(|_| EINVAL)?;
            assert_eq!(w.next(), Some("free"));
            let free: usize = w.next().ok_or(EINVAL)?.parse().map_err(|_| EINVAL)?;
            assert_eq!(w.next(), None);
            assert!(free <= total);
            lines += 1;
        }
        assert_eq!(lines, numa::memory_nodes().count() * kinds.count());
        assert_eq!(bi.lines().count(), lines);
        assert_eq!(zi.lines().count(), lines);
        assert!(bi.ends_with(" \n"));
        let st = vfs::read(c"/sys/kernel/rslab_kunit/pool/alloc_fastpath")?;
        let st = core::str::from_utf8(&st).map_err(|_| EINVAL)?;
        let mut words = st.trim_end().split(' ');
        let total: u64 = words.next().ok_or(EINVAL)?.parse().map_err(|_| EINVAL)?;
        let mut sum = 0;
        for w in words {
            let (c, v) = w.split_once('=').ok_or(EINVAL)?;
            assert!(c.starts_with('C'));
            sum += v.parse::<u64>().map_err(|_| EINVAL)?;
        }
        // Totals and the per-CPU values are read once, together
        // (`show_stat()`), so they add up exactly.
        assert_eq!(sum, total);

        let min = c"/sys/kernel/rslab_kunit/pool/watermark_min";
        let low = c"/sys/kernel/rslab_kunit/pool/watermark_low";
        let before = vfs::read(low)?;
        for bad in [&b"x\n"[..], b"-5\n", b"\n", b"12abc"] {
            assert_eq!(vfs::write(low, bad), Err(EINVAL));
        }
        // Below min or above high is a bad value too.
        assert_eq!(vfs::write(min, b"10\n"), Ok(3));
        assert_eq!(vfs::write(low, b"5\n"), Err(EINVAL));
        assert_eq!(vfs::write(low, b"99999999999\n"), Err(EINVAL));
        assert_eq!(vfs::write(min, b"0\n"), Ok(2));
        assert_eq!(&vfs::read(low)?[..], &before[..]);
        assert_eq!(
            vfs::write(c"/sys/kernel/rslab_kunit/pool/shrink", b"2\n"),
            Err(EINVAL)
        );
        assert_eq!(
            vfs::write(c"/sys/kernel/rslab_kunit/pool/alloc_fail", b"5\n"),
            Err(EINVAL)
        );
        Ok(())
    }
}
