// SPDX-License-Identifier: GPL-2.0
//! Per-CPU event counters, shown the way SLUB's `SLUB_STATS` files are.
//!
//! Each CPU has its own cache line of counters, so counting on the fast path
//! writes no shared line. A file shows the total and then `C<cpu>=<n>` for
//! each online CPU with a non-zero count (mm/slub.c `show_stat()`), and
//! writing `0` clears the counter on every CPU (`clear_stat()`).

use super::{cpu, sysfs::Emitter};
use core::fmt::Write;
use kernel::{
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// One CPU's counters, on a cache line (or more) of their own.
#[repr(C, align(64))]
struct CpuCounters<const N: usize>([Atomic<u64>; N]);

/// `N` counters, per CPU.
pub(crate) struct Stats<const N: usize> {
    cpus: KVec<CpuCounters<N>>,
}

impl<const N: usize> Stats<N> {
    /// Zeroed counters for every possible CPU.
    pub(crate) fn new() -> Result<Self> {
        let n = cpu::nr_cpu_ids();
        let mut cpus = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            cpus.push(CpuCounters([const { Atomic::new(0) }; N]), GFP_KERNEL)?;
        }
        Ok(Stats { cpus })
    }

    /// Counts one event `item` on `cpu` (normally the current one).
    #[inline]
    pub(crate) fn add_on(&self, cpu: usize, item: usize, n: u64) {
        if let Some(c) = self.cpus.get(cpu) {
            c.0[item].add(n, Relaxed);
        }
    }

    /// Counts one event `item` on `cpu`, the CPU the caller is pinned to,
    /// with a plain load and store on that CPU's line (`raw_cpu_inc()`): no
    /// locked instruction on the fast paths. An interrupt on this CPU that
    /// counts the same item between the two can lose one count, as
    /// `raw_cpu_inc()` can on architectures without a one-instruction
    /// per-CPU add.
    #[inline]
    pub(crate) fn inc_local(&self, cpu: usize, item: usize) {
        if let Some(c) = self.cpus.get(cpu) {
            let a = &c.0[item];
            a.store(a.load(Relaxed) + 1, Relaxed);
        }
    }

    /// Counts `n` events `item` on the current CPU.
    #[inline]
    pub(crate) fn add(&self, item: usize, n: u64) {
        self.add_on(kernel::cpu::CpuId::current().as_u32() as usize, item, n);
    }

    /// The count of `item` on `cpu`.
    pub(crate) fn get(&self, item: usize, cpu: usize) -> u64 {
        self.cpus.get(cpu).map_or(0, |c| c.0[item].load(Relaxed))
    }

    /// The total of `item` over all CPUs.
    pub(crate) fn sum(&self, item: usize) -> u64 {
        self.cpus.iter().map(|c| c.0[item].load(Relaxed)).sum()
    }

    /// `show_stat()`: "total C0=a C1=b\n". As SLUB does, each online CPU's
    /// count is read once, and the total is the sum of exactly the values
    /// shown (a CPU that went offline keeps its counts, but they are not
    /// shown).
    pub(crate) fn show(&self, item: usize, e: &mut Emitter) -> Result {
        let mut vals = KVec::with_capacity(self.cpus.len(), GFP_KERNEL)?;
        let mut total = 0u64;
        for c in cpu::online_cpus() {
            let v = self.get(item, c);
            total = total.wrapping_add(v);
            vals.push((c, v), GFP_KERNEL)?;
        }
        write!(e, "{total}").map_err(|_| EINVAL)?;
        for (c, v) in vals.iter().filter(|(_, v)| *v != 0) {
            write!(e, " C{c}={v}").map_err(|_| EINVAL)?;
        }
        writeln!(e).map_err(|_| EINVAL)
    }

    /// `clear_stat()`: only "0" is accepted; clears `item` on every CPU.
    pub(crate) fn clear(&self, item: usize, s: &str) -> Result {
        if !s.starts_with('0') {
            return Err(EINVAL);
        }
        for c in self.cpus.iter() {
            c.0[item].store(0, Relaxed);
        }
        Ok(())
    }
}
