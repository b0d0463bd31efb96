// SPDX-License-Identifier: GPL-2.0
//! Workloads started from `/sys/kernel/rslab/control`.

use crate::{
    cpu, kthread,
    logic::rand::XorShift64,
    pool::{Gfp, Pool, RawBlock},
};
use kernel::{
    bindings,
    page::PAGE_SIZE,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
    time::{Instant, Monotonic},
};

/// Blocks one workload thread holds at most.
const HELD: usize = 256;

/// Writes `tag` into the first, middle and last word of `b`, so that a block
/// handed to two owners shows up as a tag overwritten by the other.
pub(crate) fn stamp(p: &Pool, b: &RawBlock, tag: u64) {
    let words = (PAGE_SIZE << b.order()) / 8;
    let base = p.addr(b).cast::<u64>();
    for i in [0, words / 2, words - 1] {
        // SAFETY: the block is ours, `words` 8-byte words long, mapped (the
        // pool's chunks are in the direct map) and page-aligned.
        unsafe { base.add(i).write(tag) };
    }
}

/// Whether `b` still holds the tag [`stamp`] wrote.
pub(crate) fn stamped(p: &Pool, b: &RawBlock, tag: u64) -> bool {
    let words = (PAGE_SIZE << b.order()) / 8;
    let base = p.addr(b).cast::<u64>();
    [0, words / 2, words - 1].iter().all(|&i| {
        // SAFETY: as in `stamp`.
        unsafe { base.add(i).read() == tag }
    })
}

/// What a workload did.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// CPUs it ran on.
    pub cpus: usize,
    /// Operations done, all CPUs together.
    pub ops: u64,
    /// Allocations that failed.
    pub failed: u64,
    /// Blocks whose tag was overwritten (must be 0).
    pub corrupt: u64,
    /// Wall time.
    pub ns: i64,
}

/// `workload pool <ops> [<max_order>]`: on one kthread per online CPU at
/// once, `ops` random allocations (orders `0..=max_order`, mostly small)
/// and frees of stamped blocks, holding up to 256 blocks; everything is
/// freed at the end.
pub(crate) fn pool_workload(pool: &Pool, ops: u32, max_order: u32) -> Result<Report> {
    let mut cpus = KVec::new();
    for c in cpu::online_cpus() {
        cpus.push(c, GFP_KERNEL)?;
    }
    let done = Atomic::<u64>::new(0);
    let failed = Atomic::<u64>::new(0);
    let corrupt = Atomic::<u64>::new(0);
    let start = Instant::<Monotonic>::now();
    kthread::run_on_cpus(&cpus, &|cpu| {
        // SAFETY: `get_random_u64` may be called from any process context.
        let mut r = XorShift64::new(unsafe { bindings::get_random_u64() } ^ cpu as u64);
        let Ok(mut held) = KVec::<(RawBlock, u64)>::with_capacity(HELD, GFP_KERNEL) else {
            failed.add(1, Relaxed);
            return;
        };
        let mut tag = (cpu as u64) << 48;
        for _ in 0..ops {
            if held.len() < HELD && (held.is_empty() || r.below(2) == 0) {
                // Order o with probability ~ 4^-o.
                let mut order = 0;
                while order < max_order && r.below(4) == 0 {
                    order += 1;
                }
                match pool.alloc(order, Gfp::KERNEL) {
                    Some(b) => {
                        tag += 1;
                        stamp(pool, &b, tag);
                        // Capacity reserved: cannot fail.
                        let _ = held.push((b, tag), GFP_KERNEL);
                    }
                    None => failed.add(1, Relaxed),
                }
            } else if let Ok((b, t)) = held.remove(r.below(held.len() as u32) as usize) {
                if !stamped(pool, &b, t) {
                    corrupt.add(1, Relaxed);
                }
                pool.free(b);
            }
        }
        for (b, t) in held.drain_all() {
            if !stamped(pool, &b, t) {
                corrupt.add(1, Relaxed);
            }
            pool.free(b);
        }
        done.add(u64::from(ops), Relaxed);
    })?;
    Ok(Report {
        cpus: cpus.len(),
        ops: done.load(Relaxed),
        failed: failed.load(Relaxed),
        corrupt: corrupt.load(Relaxed),
        ns: start.elapsed().as_nanos(),
    })
}
