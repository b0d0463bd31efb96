// SPDX-License-Identifier: GPL-2.0
//! The benchmark: rslab against the running kernel's SLUB, kmalloc and page
//! allocator, in the same boot, interleaved (rslab, kernel, rslab, ...),
//! each case repeated and reported as median, min and max per operation.
//!
//! Started by `bench [quick]` on `/sys/kernel/debug/rslab/control`. Every result
//! is one kernel-log line:
//!
//! ```text
//! rslab-bench: <case> <unit> rslab <median> <min> <max> kernel <median> <min> <max> cycles <rslab> <kernel>
//! ```
//!
//! with times in ns per operation (two decimals), `Mops/s` for the scaling
//! cases and pages for the memory cases. `quick` runs tiny counts: a smoke
//! run for the tests, not a measurement. Nothing here asserts on time.

mod kernel_alloc;

use crate::{
    glue::{cpu, ffi, fmtbuf, gfp::Gfp, kthread, vfs},
    kmalloc::Kmalloc,
    page_pool::{Config, Pool},
    slab::{Cache, CacheConfig, SlabPool},
};
use core::{fmt, ptr::NonNull};
use kernel::{
    ffi::c_void,
    prelude::*,
    str::CStr,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc,
    },
    time::{Instant, Monotonic},
};
use kernel_alloc as kcache;
use kernel_alloc::KernelCache;

/// Repetitions of each case.
const REPS: usize = 7;

/// How big a run is.
#[derive(Clone, Copy)]
pub(crate) struct Size {
    /// Operations per timed run of the pair cases.
    ops: u64,
    /// N of "alloc N then free N".
    many: [usize; 2],
    /// Objects of the memory cases.
    mem_objects: usize,
}

impl Size {
    /// The real run.
    pub(crate) const FULL: Size = Size {
        ops: 200_000,
        many: [1_000, 100_000],
        mem_objects: 1_000_000,
    };
    /// A smoke run.
    pub(crate) const QUICK: Size = Size {
        ops: 200,
        many: [10, 100],
        mem_objects: 1_000,
    };
}

/// One timed run: total ns and cycles.
#[derive(Clone, Copy, Default)]
struct Sample {
    ns: u64,
    cycles: u64,
}

fn cycles() -> u64 {
    // SAFETY: reads the CPU's cycle counter.
    unsafe { ffi::rslab_get_cycles() }
}

/// Times `f`.
fn time(mut f: impl FnMut()) -> Sample {
    let c0 = cycles();
    let t0 = Instant::<Monotonic>::now();
    f();
    let ns = t0.elapsed().as_nanos() as u64;
    Sample {
        ns,
        cycles: cycles().wrapping_sub(c0),
    }
}

/// Median, min and max of `v` (sorted in place: an insertion sort, enough
/// for `REPS` values).
fn stats(v: &mut [u64; REPS]) -> (u64, u64, u64) {
    for i in 1..REPS {
        let mut j = i;
        while j > 0 && v[j - 1] > v[j] {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
    (v[REPS / 2], v[0], v[REPS - 1])
}

/// What a run reported, for its caller to check.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// Result lines printed.
    pub(crate) rows: u32,
    /// Lines whose rslab or kernel median was 0 (nothing measured).
    pub(crate) empty: u32,
}

/// Counts the rows of a run (cases run on several kthreads).
struct Tally {
    rows: Atomic<u32>,
    empty: Atomic<u32>,
}

/// Prints one result line; values are hundredths of `unit`.
fn report(
    t: &Tally,
    case: &str,
    unit: &str,
    r: (u64, u64, u64),
    k: (u64, u64, u64),
    cyc: (u64, u64),
) {
    if r.0 == 0 || k.0 == 0 {
        t.empty.add(1, Relaxed);
    }
    report_count(t, case, unit, r, k, cyc);
}

/// As [`report`], for a count that may well be 0 (it is still a
/// measurement).
fn report_count(
    t: &Tally,
    case: &str,
    unit: &str,
    r: (u64, u64, u64),
    k: (u64, u64, u64),
    cyc: (u64, u64),
) {
    let f = |x: u64| (x / 100, x % 100);
    let (rm, rl, rh) = (f(r.0), f(r.1), f(r.2));
    let (km, kl, kh) = (f(k.0), f(k.1), f(k.2));
    t.rows.add(1, Relaxed);
    pr_info!(
        "rslab-bench: {} {} rslab {}.{:02} {}.{:02} {}.{:02} kernel {}.{:02} {}.{:02} {}.{:02} cycles {} {}\n",
        case, unit, rm.0, rm.1, rl.0, rl.1, rh.0, rh.1, km.0, km.1, kl.0, kl.1, kh.0, kh.1, cyc.0, cyc.1
    );
}

/// Runs `a` (rslab) and `b` (kernel) `REPS` times interleaved, each doing
/// `ops` operations, and reports ns per operation for case `case`.
fn compare(
    t: &Tally,
    case: fmt::Arguments<'_>,
    ops: u64,
    mut a: impl FnMut(),
    mut b: impl FnMut(),
) {
    let (mut ra, mut rb, mut ca, mut cb) = ([0; REPS], [0; REPS], [0; REPS], [0; REPS]);
    // One warm-up round each, not counted.
    a();
    b();
    for i in 0..REPS {
        let s = time(&mut a);
        ra[i] = s.ns * 100 / ops.max(1);
        ca[i] = s.cycles / ops.max(1);
        let s = time(&mut b);
        rb[i] = s.ns * 100 / ops.max(1);
        cb[i] = s.cycles / ops.max(1);
    }
    report_ns(t, case, [ra, rb, ca, cb]);
}

/// Reports the runs of [`compare`]: ns per operation (hundredths) of rslab
/// and the kernel, and their cycles.
#[inline(never)]
fn report_ns(
    t: &Tally,
    case: fmt::Arguments<'_>,
    [mut ra, mut rb, mut ca, mut cb]: [[u64; REPS]; 4],
) {
    let cyc = (stats(&mut ca).0, stats(&mut cb).0);
    let mut name = [0u8; 32];
    let case = fmtbuf::format(&mut name, case);
    report(t, case, "ns/op", stats(&mut ra), stats(&mut rb), cyc);
}

fn obj(p: NonNull<u8>) -> usize {
    p.as_ptr() as usize
}

/// Frees an rslab object.
///
/// # Safety
///
/// `p` is not 0, and is an object allocated from `c` that the caller gives
/// up: not used (or freed) again.
unsafe fn rfree(c: &Cache, p: usize) {
    // SAFETY: `p` is not 0, and came from `c` and is not used again (the
    // caller's guarantee).
    unsafe { c.free(NonNull::new_unchecked(p as *mut u8)) };
}

/// Fills `buf` with objects from `c` (or fewer if memory runs out).
fn fill(c: &Cache, buf: &mut KVVec<usize>, n: usize) {
    buf.clear();
    for _ in 0..n {
        match c.alloc(Gfp::KERNEL) {
            Some(p) => {
                if buf.push(obj(p), GFP_KERNEL).is_err() {
                    // SAFETY: `p` was just allocated from `c` and is not
                    // kept: `buf` did not take it.
                    unsafe { rfree(c, obj(p)) };
                    return;
                }
            }
            None => return,
        }
    }
}

/// `ops` alloc+free pairs on rslab's cache `r`.
fn rslab_pairs(r: &Cache, ops: u64) {
    for _ in 0..ops {
        if let Some(p) = r.alloc(Gfp::KERNEL) {
            // SAFETY: `p` was just allocated from `r` and is freed once,
            // here.
            unsafe { rfree(r, obj(p)) };
        }
    }
}

/// `ops` alloc+free pairs on the kernel's cache `k`.
fn kernel_pairs(k: &KernelCache, ops: u64) {
    for _ in 0..ops {
        let p = k.alloc();
        if !p.is_null() {
            // SAFETY: just allocated from `k`.
            unsafe { k.free(p) };
        }
    }
}

/// The caches of the cache cases: rslab's and the kernel's of one size,
/// rslab's in the sheaves mode or not (`sfx`, the suffix of the cases'
/// names, says which).
struct Caches<'a> {
    t: &'a Tally,
    /// Operations per timed run.
    ops: u64,
    r: Arc<Cache>,
    k: KernelCache,
    sfx: &'static str,
}

impl<'a> Caches<'a> {
    /// Makes both caches, `name` the kernel's.
    fn new(
        t: &'a Tally,
        pool: &Arc<SlabPool>,
        name: &'static CStr,
        size: u32,
        sheaves: bool,
        ops: u64,
    ) -> Result<Self> {
        let mut cfg = CacheConfig::new("bench", size);
        cfg.sheaves = sheaves;
        Ok(Caches {
            t,
            ops,
            r: Cache::new(pool, &cfg)?,
            k: KernelCache::new(name, size)?,
            sfx: if sheaves { "_sheaves" } else { "" },
        })
    }

    /// `cache_pair_<size>`: an alloc+free pair, `ops` times.
    fn pair(&self, size: u32) {
        let (r, k, ops) = (&*self.r, &self.k, self.ops);
        let sfx = self.sfx;
        compare(
            self.t,
            format_args!("cache_pair_{size}{sfx}"),
            ops,
            || rslab_pairs(r, ops),
            || kernel_pairs(k, ops),
        );
    }

    /// An alloc+free pair of node `nid`'s objects, `ops` times:
    /// `Cache::alloc_node` against `kmem_cache_alloc_node()`.
    fn node_pair(&self, case: &str, nid: usize) {
        let (r, k, ops) = (&*self.r, &self.k, self.ops);
        compare(
            self.t,
            format_args!("{case}"),
            ops,
            || {
                for _ in 0..ops {
                    if let Some(p) = r.alloc_node(Gfp::KERNEL, Some(nid)) {
                        // SAFETY: `p` was just allocated from `r` and is freed
                        // once, here.
                        unsafe { rfree(r, obj(p)) };
                    }
                }
            },
            || {
                for _ in 0..ops {
                    let p = k.alloc_node(nid as i32);
                    if !p.is_null() {
                        // SAFETY: just allocated from `k`.
                        unsafe { k.free(p) };
                    }
                }
            },
        );
    }

    /// This node's objects asked for by number (this is CPU 0):
    /// `kmem_cache_alloc_node()` whose `node_match()` holds, on the fast
    /// path on both sides; then, with a second node with memory, a remote
    /// node's objects.
    fn node_pairs(&self) {
        let local = crate::glue::numa::cpu_node(0);
        let remote = crate::glue::numa::memory_nodes().find(|&n| n != local);
        self.node_pair("cache_pair_256_this_node", local);
        if let Some(remote) = remote {
            self.node_pair("cache_pair_256_remote_node", remote);
        }
    }

    /// `alloc_free_n_<n>`: alloc N then free N, for each N of `many`.
    fn alloc_free_n(&self, many: [usize; 2]) -> Result {
        let (r, k) = (&*self.r, &self.k);
        let mut buf = KVVec::with_capacity(many[1], GFP_KERNEL)?;
        let mut kbuf = KVVec::<*mut u8>::with_capacity(many[1], GFP_KERNEL)?;
        for n in many {
            let sfx = self.sfx;
            compare(
                self.t,
                format_args!("alloc_free_n_{n}{sfx}"),
                2 * n as u64,
                || {
                    fill(r, &mut buf, n);
                    for &p in buf.iter() {
                        // SAFETY: `fill` just put in `buf` objects of `r`
                        // (non-null), each once; each is freed once, here,
                        // and `fill` clears `buf` before its next use.
                        unsafe { rfree(r, p) };
                    }
                },
                || {
                    kbuf.clear();
                    for _ in 0..n {
                        let p = k.alloc();
                        if p.is_null() || kbuf.push(p, GFP_KERNEL).is_err() {
                            break;
                        }
                    }
                    for &p in kbuf.iter() {
                        // SAFETY: allocated from `k` above.
                        unsafe { k.free(p) };
                    }
                },
            );
        }
        Ok(())
    }

    /// `burst_64`: 64 allocations, then 64 frees, one by one (a network
    /// stack's pattern: a batch of packets in, then out).
    fn burst(&self) {
        const BURST: usize = 64;
        let (r, k) = (&*self.r, &self.k);
        let mut rb = [0usize; BURST];
        let mut kb = [core::ptr::null_mut::<u8>(); BURST];
        let rounds = (self.ops / BURST as u64).max(1);
        let sfx = self.sfx;
        compare(
            self.t,
            format_args!("burst_64{sfx}"),
            rounds * BURST as u64 * 2,
            || {
                for _ in 0..rounds {
                    for slot in rb.iter_mut() {
                        *slot = r.alloc(Gfp::KERNEL).map_or(0, obj);
                    }
                    for &p in rb.iter().filter(|&&p| p != 0) {
                        // SAFETY: `p` (not 0) was allocated from `r` just
                        // above and is freed once, here; the next round
                        // overwrites every slot.
                        unsafe { rfree(r, p) };
                    }
                }
            },
            || {
                for _ in 0..rounds {
                    for slot in kb.iter_mut() {
                        *slot = k.alloc();
                    }
                    for &p in kb.iter().filter(|p| !p.is_null()) {
                        // SAFETY: just allocated from `k`.
                        unsafe { k.free(p) };
                    }
                }
            },
        );
    }

    /// `bulk_<b>`: bulk allocation and free of `b` objects.
    fn bulk(&self, b: usize) -> Result {
        let (r, k) = (&*self.r, &self.k);
        let mut rb = KVec::from_elem(core::ptr::null_mut::<u8>(), b, GFP_KERNEL)?;
        let mut kb = KVec::from_elem(core::ptr::null_mut::<c_void>(), b, GFP_KERNEL)?;
        let rounds = (self.ops / b as u64).max(1);
        let sfx = self.sfx;
        compare(
            self.t,
            format_args!("bulk_{b}{sfx}"),
            rounds * b as u64 * 2,
            || {
                for _ in 0..rounds {
                    if r.alloc_bulk(Gfp::KERNEL, &mut rb) == b {
                        // SAFETY: all allocated from `r` just above.
                        unsafe { r.free_bulk(&mut rb) };
                    }
                }
            },
            || {
                for _ in 0..rounds {
                    if k.alloc_bulk(&mut kb) {
                        // SAFETY: all allocated from `k` just above.
                        unsafe { k.free_bulk(&mut kb) };
                    }
                }
            },
        );
        Ok(())
    }
}

/// `kmalloc_<size>`: a kmalloc+kfree pair, `n` times.
fn kmalloc_case(t: &Tally, kmalloc: &Kmalloc, size: usize, n: u64) {
    compare(
        t,
        format_args!("kmalloc_{size}"),
        n,
        || {
            for _ in 0..n {
                let p = kmalloc.kmalloc(size, Gfp::KERNEL);
                // SAFETY: just allocated (or null).
                unsafe { kmalloc.kfree(p) };
            }
        },
        || {
            for _ in 0..n {
                let p = kcache::kmalloc(size);
                if !p.is_null() {
                    // SAFETY: just allocated.
                    unsafe { kcache::kfree(p) };
                }
            }
        },
    );
}

/// `pages_order_<order>`: an allocation and free of a block of pages, `n`
/// times.
fn pages_case(t: &Tally, pool: &Arc<SlabPool>, order: u32, n: u64) {
    compare(
        t,
        format_args!("pages_order_{order}"),
        n,
        || {
            for _ in 0..n {
                if let Some(b) = pool.alloc(order, Gfp::KERNEL) {
                    pool.free(b);
                }
            }
        },
        || {
            for _ in 0..n {
                let p = kcache::alloc_pages(order);
                if !p.is_null() {
                    // SAFETY: just allocated with `order`.
                    unsafe { kcache::free_pages(p, order) };
                }
            }
        },
    );
}

/// The cases that run on one CPU (a kthread bound to CPU 0), in the order
/// they are reported.
fn single_cpu(t: &Tally, pool: &Arc<SlabPool>, kmalloc: &Kmalloc, sz: Size) -> Result {
    // (kernel cache name, size, rslab in the sheaves mode): the cache
    // pair of each; the node pairs on the classic 256-byte cache; the
    // other cache cases on both 256-byte ones.
    const CACHES: [(&CStr, u32, bool); 4] = [
        (c"rslab_bench_32", 32, false),
        (c"rslab_bench_256", 256, false),
        (c"rslab_bench_256s", 256, true),
        (c"rslab_bench_1024", 1024, false),
    ];
    for (name, size, sheaves) in CACHES {
        let c = Caches::new(t, pool, name, size, sheaves, sz.ops)?;
        c.pair(size);
        if size != 256 {
            continue;
        }
        if !sheaves {
            c.node_pairs();
        }
        c.alloc_free_n(sz.many)?;
        c.burst();
        for b in [16, 64] {
            c.bulk(b)?;
        }
    }
    for size in [8usize, 64, 192, 512, 4096, 16384] {
        let n = if size > 8192 { sz.ops / 4 } else { sz.ops };
        kmalloc_case(t, kmalloc, size, n);
    }
    for order in [0u32, 3] {
        pages_case(t, pool, order, sz.ops / 4);
    }
    Ok(())
}

/// Producer on CPU 0 allocates, consumer on CPU 1 frees, through a ring;
/// returns ns per object for rslab and for SLUB.
fn cross_cpu(t: &Tally, pool: &Arc<SlabPool>, sz: Size, sheaves: bool) -> Result {
    let mut cfg = CacheConfig::new("bench-x", 256);
    cfg.sheaves = sheaves;
    let r = Cache::new(pool, &cfg)?;
    let k = KernelCache::new(c"rslab_bench_x", 256)?;
    let mut ring = KVec::with_capacity(1024, GFP_KERNEL)?;
    for _ in 0..1024 {
        ring.push(Atomic::<usize>::new(0), GFP_KERNEL)?;
    }
    let n = sz.ops as usize;
    let run = |use_rslab: bool| -> Result<u64> {
        let t0 = Instant::<Monotonic>::now();
        kthread::run_on_cpus(&[0, 1], &|c| {
            if c == 0 {
                for i in 0..n {
                    let p = if use_rslab {
                        r.alloc(Gfp::KERNEL).map_or(0, obj)
                    } else {
                        k.alloc() as usize
                    };
                    let slot = &ring[i % 1024];
                    while slot.load(Acquire) != 0 {
                        core::hint::spin_loop();
                    }
                    // 1 stands for "allocation failed": the consumer skips it.
                    slot.store(if p == 0 { 1 } else { p }, Release);
                }
            } else {
                for i in 0..n {
                    let slot = &ring[i % 1024];
                    let mut p = slot.load(Acquire);
                    while p == 0 {
                        core::hint::spin_loop();
                        p = slot.load(Acquire);
                    }
                    slot.store(0, Release);
                    if p > 1 {
                        if use_rslab {
                            // SAFETY: `p` (above 1: not the failure mark)
                            // was allocated from `r` by the producer, which
                            // handed it over through the ring and dropped
                            // it; it is freed once, here.
                            unsafe { rfree(&r, p) };
                        } else {
                            // SAFETY: allocated from `k` by the producer.
                            unsafe { k.free(p as *mut u8) };
                        }
                    }
                }
            }
        })?;
        Ok(t0.elapsed().as_nanos() as u64 * 100 / n.max(1) as u64)
    };
    let (mut ra, mut rb) = ([0; REPS], [0; REPS]);
    for i in 0..REPS {
        ra[i] = run(true)?;
        rb[i] = run(false)?;
    }
    report(
        t,
        if sheaves {
            "cross_cpu_256_sheaves"
        } else {
            "cross_cpu_256"
        },
        "ns/op",
        stats(&mut ra),
        stats(&mut rb),
        (0, 0),
    );
    Ok(())
}

/// The same alloc/free loop on one CPU and on every CPU at once: total
/// throughput in Mops/s.
fn scaling(t: &Tally, pool: &Arc<SlabPool>, sz: Size) -> Result {
    let r = Cache::new(pool, &CacheConfig::new("bench-s", 256))?;
    let k = KernelCache::new(c"rslab_bench_s", 256)?;
    let all = cpu::online_list()?;
    let ops = sz.ops;
    let run = |cpus: &[usize], use_rslab: bool| -> Result<u64> {
        let t0 = Instant::<Monotonic>::now();
        kthread::run_on_cpus(cpus, &|_| {
            if use_rslab {
                rslab_pairs(&r, ops);
            } else {
                kernel_pairs(&k, ops);
            }
        })?;
        let ns = (t0.elapsed().as_nanos() as u64).max(1);
        // Hundredths of Mops/s: ops * 1e3 / ns * 100, rounded up (a run
        // that did its operations has a rate above 0, also when a slow
        // kernel's thread start-up makes it below 0.01 Mops/s, as the debug
        // tier's quick run can be).
        Ok((ops * cpus.len() as u64 * 100_000).div_ceil(ns))
    };
    for (case, cpus) in [("scale_1cpu", &all[..1]), ("scale_allcpus", &all[..])] {
        let (mut ra, mut rb) = ([0; REPS], [0; REPS]);
        for i in 0..REPS {
            ra[i] = run(cpus, true)?;
            rb[i] = run(cpus, false)?;
        }
        report(t, case, "Mops/s", stats(&mut ra), stats(&mut rb), (0, 0));
    }
    Ok(())
}

/// The barn trips of a 7.3 cache so far, from its `SLUB_STATS` files (0
/// without them).
fn kernel_barn_trips() -> u64 {
    [
        c"/sys/kernel/slab/rslab_bench_alt/barn_get",
        c"/sys/kernel/slab/rslab_bench_alt/barn_get_fail",
        c"/sys/kernel/slab/rslab_bench_alt/barn_put",
        c"/sys/kernel/slab/rslab_bench_alt/barn_put_fail",
    ]
    .into_iter()
    .map(|f| vfs::read_number(f).unwrap_or(0))
    .sum()
}

/// Alternating workloads: on every online CPU at once, rounds of allocating
/// `k` objects of 256 bytes and freeing them all, `k` cycling through 24,
/// 100 and 240 (each CPU starting at another), with rslab's sheaves at
/// 7.3's fixed capacity, with rslab's adaptive capacity, and on the
/// kernel's cache (7.3's sheaves, fixed). Rows: ns per allocation and free,
/// barn trips per 1000 of them (rslab's counters; the kernel's
/// `SLUB_STATS`), and the pages each cache holds at the end. One warm-up
/// run each, not counted (adaptive capacity grows there).
fn alternating(t: &Tally, pool: &Arc<SlabPool>, sz: Size) -> Result {
    const KS: [usize; 3] = [24, 100, 240];
    let mut cfg = CacheConfig::new("bench-alt-fixed", 256);
    cfg.sheaves = true;
    let fixed = Cache::new(pool, &cfg)?;
    cfg.name = "bench-alt-adaptive";
    let adaptive = Cache::new(pool, &cfg)?;
    adaptive.set_sheaf_adaptive(true)?;
    let k = KernelCache::new(c"rslab_bench_alt", 256)?;
    let all = cpu::online_list()?;
    // Whole cycles of KS; FULL: 3,000 rounds, 364,000 pairs per CPU.
    let cycles = (sz.ops as usize / 200).max(1);
    let pairs = (cycles * KS.iter().sum::<usize>()) as u64;
    // 0: rslab fixed, 1: rslab adaptive, 2: the kernel.
    let run = |which: usize| -> Result<(u64, u64)> {
        let trips = |w: usize| match w {
            0 => fixed.barn_trips(),
            1 => adaptive.barn_trips(),
            _ => kernel_barn_trips(),
        };
        let before = trips(which);
        let t0 = Instant::<Monotonic>::now();
        kthread::run_on_cpus(&all, &|c| {
            let Ok(mut held) = KVec::<usize>::with_capacity(KS[2], GFP_KERNEL) else {
                return;
            };
            for r in 0..cycles * KS.len() {
                let n = KS[(c + r) % KS.len()];
                for _ in 0..n {
                    let p = match which {
                        0 => fixed.alloc(Gfp::KERNEL).map_or(0, obj),
                        1 => adaptive.alloc(Gfp::KERNEL).map_or(0, obj),
                        _ => k.alloc() as usize,
                    };
                    if p != 0 {
                        // Room for KS[2]: cannot fail.
                        let _ = held.push_within_capacity(p);
                    }
                }
                for p in held.drain_all() {
                    match which {
                        // SAFETY: `p` (not 0) came from this cache above and
                        // is freed once, here.
                        0 => unsafe { rfree(&fixed, p) },
                        // SAFETY: as above.
                        1 => unsafe { rfree(&adaptive, p) },
                        // SAFETY: allocated from `k` above.
                        _ => unsafe { k.free(p as *mut u8) },
                    }
                }
            }
        })?;
        let ns = t0.elapsed().as_nanos() as u64;
        let trips = trips(which) - before;
        let total = pairs * all.len() as u64;
        Ok((ns * 100 / pairs.max(1), trips * 1000 * 100 / total.max(1)))
    };
    let mut v = [[0u64; REPS]; 6];
    for w in 0..3 {
        run(w)?;
    }
    for i in 0..REPS {
        for w in 0..3 {
            let (ns, trips) = run(w)?;
            v[w][i] = ns;
            v[3 + w][i] = trips;
        }
    }
    let [f, a, kn, ft, at, kt] = &mut v;
    let kn = stats(kn);
    let kt = stats(kt);
    report(t, "alternating_256_fixed", "ns/op", stats(f), kn, (0, 0));
    report(t, "alternating_256_adaptive", "ns/op", stats(a), kn, (0, 0));
    report_count(
        t,
        "alternating_256_fixed_trips",
        "trips/kop",
        stats(ft),
        kt,
        (0, 0),
    );
    report_count(
        t,
        "alternating_256_adaptive_trips",
        "trips/kop",
        stats(at),
        kt,
        (0, 0),
    );
    // Pages held at the end, every object freed (the kernel's from its
    // `slabs` and `order` files).
    let pages = |c: &Cache| (c.counts().slabs << c.layout().order) as u64 * 100;
    let kpages = vfs::read_number(c"/sys/kernel/slab/rslab_bench_alt/slabs")?
        << vfs::read_number(c"/sys/kernel/slab/rslab_bench_alt/order")?;
    let kp = (kpages * 100, kpages * 100, kpages * 100);
    for (name, c) in [
        ("alternating_256_fixed_pages", &fixed),
        ("alternating_256_adaptive_pages", &adaptive),
    ] {
        let p = pages(c);
        report(t, name, "pages", (p, p, p), kp, (0, 0));
    }
    Ok(())
}

/// Pages held after allocating `mem_objects` objects of 64 and 700 bytes:
/// rslab's slabs (from a pool of its own) against SLUB's
/// `/sys/kernel/slab/<cache>/slabs << order`.
fn memory(t: &Tally, sz: Size) -> Result {
    const CASES: [(&str, &CStr, &CStr, &CStr, u32); 2] = [
        (
            "memory_64",
            c"rslab_bench_m64",
            c"/sys/kernel/slab/rslab_bench_m64/slabs",
            c"/sys/kernel/slab/rslab_bench_m64/order",
            64,
        ),
        (
            "memory_700",
            c"rslab_bench_m700",
            c"/sys/kernel/slab/rslab_bench_m700/slabs",
            c"/sys/kernel/slab/rslab_bench_m700/order",
            700,
        ),
    ];
    let n = sz.mem_objects;
    for (case, kname, slabs, order, size) in CASES {
        let pool = Pool::<crate::slab::SlabPage>::new(Config::keeping())?;
        let rpages = {
            let r = Cache::new(&pool, &CacheConfig::new("bench-m", size))?;
            let mut buf = KVVec::with_capacity(n, GFP_KERNEL)?;
            fill(&r, &mut buf, n);
            let held = pool.check().map_err(|_| EINVAL)?.in_use as u64;
            let got = buf.len();
            for &p in buf.iter() {
                // SAFETY: `fill` just put in `buf` objects of `r` (non-null),
                // each once; each is freed once, here, and `buf` is not used
                // again.
                unsafe { rfree(&r, p) };
            }
            if got < n {
                return Err(ENOMEM);
            }
            held
        };
        let kpages = {
            let k = KernelCache::new(kname, size)?;
            let mut buf = KVVec::<*mut u8>::with_capacity(n, GFP_KERNEL)?;
            for _ in 0..n {
                let p = k.alloc();
                if p.is_null() || buf.push(p, GFP_KERNEL).is_err() {
                    break;
                }
            }
            let pages = vfs::read_number(slabs)? << vfs::read_number(order)?;
            for &p in buf.iter() {
                // SAFETY: allocated from `k` above.
                unsafe { k.free(p) };
            }
            pages
        };
        let r = (rpages * 100, rpages * 100, rpages * 100);
        let k = (kpages * 100, kpages * 100, kpages * 100);
        report(t, case, "pages", r, k, (0, 0));
    }
    Ok(())
}

/// Runs every case; the results go to the kernel log, and how many there
/// were comes back.
pub(crate) fn run(pool: &Arc<SlabPool>, kmalloc: &Kmalloc, sz: Size) -> Result<Summary> {
    let t = Tally {
        rows: Atomic::new(0),
        empty: Atomic::new(0),
    };
    pr_info!(
        "rslab-bench: start {} CPUs, {} ops per run, {} repetitions\n",
        cpu::online_cpus().count(),
        sz.ops,
        REPS
    );
    let failed = Atomic::<u32>::new(0);
    kthread::run_on_cpus(&[0], &|_| {
        if single_cpu(&t, pool, kmalloc, sz).is_err() {
            failed.add(1, Relaxed);
        }
    })?;
    if failed.load(Relaxed) != 0 {
        return Err(ENOMEM);
    }
    if cpu::online_cpus().count() >= 2 {
        cross_cpu(&t, pool, sz, false)?;
        cross_cpu(&t, pool, sz, true)?;
    }
    scaling(&t, pool, sz)?;
    alternating(&t, pool, sz)?;
    memory(&t, sz)?;
    Ok(Summary {
        rows: t.rows.load(Relaxed),
        empty: t.empty.load(Relaxed),
    })
}
