// SPDX-License-Identifier: GPL-2.0
//! Per-CPU event counters, shown the way SLUB's `SLUB_STATS` files are.
//!
//! Each CPU has its own counters in per-CPU memory ([`PerCpu`]), so
//! counting on the fast path writes no shared line and makes no call: one
//! `%gs:`-relative `inc` on x86_64 (`this_cpu_inc()`), a plain add with
//! interrupts off elsewhere. A file shows the total and then `C<cpu>=<n>` for
//! each online CPU with a non-zero count (mm/slub.c `show_stat()`), and
//! writing `0` clears the counter on every CPU (`clear_stat()`).

use super::{
    atomic::{Atomic, Relaxed},
    cpu,
    percpu::{IrqsOff, PerCpu},
    sysfs::Emitter,
};
use core::fmt::Write;
use kernel::prelude::*;

/// One CPU's counters.
#[repr(C)]
struct CpuCounters<const N: usize>([Atomic<u64>; N]);

/// `N` counters, per CPU.
pub(crate) struct Stats<const N: usize> {
    cpus: PerCpu<CpuCounters<N>>,
}

impl<const N: usize> Stats<N> {
    /// Zeroed counters for every possible CPU.
    pub(crate) fn new() -> Result<Self> {
        Ok(Stats {
            cpus: PerCpu::new(|_| CpuCounters([const { Atomic::new(0) }; N]))?,
        })
    }

    /// Counts `n` events `item` on `cpu`.
    pub(crate) fn add_on(&self, cpu: usize, item: usize, n: u64) {
        if let Some(c) = self.cpus.get(cpu).and_then(|c| c.0.get(item)) {
            c.add(n, Relaxed);
        }
    }

    /// Counts `n` events `item` on the current CPU, whose interrupts `irq`
    /// holds off: a plain load and store (`raw_cpu_add()`), no locked
    /// instruction.
    #[inline(always)]
    pub(crate) fn add_irqs_off(&self, irq: &IrqsOff, item: usize, n: u64) {
        if let Some(a) = self.cpus.this(irq).0.get(item) {
            a.store(a.load(Relaxed).wrapping_add(n), Relaxed);
        }
    }

    /// Counts one event `item` on the current CPU (`this_cpu_inc()`): one
    /// `%gs:`-relative `inc` on x86_64, else an add with interrupts off.
    #[inline(always)]
    pub(crate) fn inc(&self, item: usize) {
        #[cfg(target_arch = "x86_64")]
        if item < N {
            // SAFETY: `item < N`, so the offset names counter `item` of
            // `CpuCounters` (`repr(C)` array of `Atomic<u64>`).
            unsafe { self.cpus.this_cpu_inc(item * core::mem::size_of::<u64>()) };
            return;
        }
        // SAFETY: a temporary, dropped at the end of this statement,
        // inside every interrupts-off guard live now.
        self.add_irqs_off(&unsafe { IrqsOff::new() }, item, 1);
    }

    /// Counts `n` events `item` on the current CPU.
    #[inline(always)]
    pub(crate) fn add(&self, item: usize, n: u64) {
        // SAFETY: a temporary, dropped at the end of this statement,
        // inside every interrupts-off guard live now.
        self.add_irqs_off(&unsafe { IrqsOff::new() }, item, n);
    }

    /// The count of `item` on `cpu`.
    pub(crate) fn get(&self, item: usize, cpu: usize) -> u64 {
        self.cpus
            .get(cpu)
            .and_then(|c| c.0.get(item))
            .map_or(0, |a| a.load(Relaxed))
    }

    /// The totals of `items`, summed (wrapping, as the counters do).
    pub(crate) fn sum_of(&self, items: impl IntoIterator<Item = usize>) -> u64 {
        items
            .into_iter()
            .map(|i| self.sum(i))
            .fold(0, u64::wrapping_add)
    }

    /// The total of `item` over all possible CPUs.
    pub(crate) fn sum(&self, item: usize) -> u64 {
        (0..cpu::nr_cpu_ids())
            .map(|c| self.get(item, c))
            .fold(0, u64::wrapping_add)
    }

    /// `show_stat()`: "total C0=a C1=b\n". As SLUB does, each online CPU's
    /// count is read once, and the total is the sum of exactly the values
    /// shown (a CPU that went offline keeps its counts, but they are not
    /// shown).
    pub(crate) fn show(&self, item: usize, e: &mut Emitter) -> Result {
        let mut vals = KVec::with_capacity(cpu::nr_cpu_ids(), GFP_KERNEL)?;
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
        for c in (0..cpu::nr_cpu_ids()).filter_map(|c| self.cpus.get(c)) {
            if let Some(a) = c.0.get(item) {
                a.store(0, Relaxed);
            }
        }
        Ok(())
    }
}
