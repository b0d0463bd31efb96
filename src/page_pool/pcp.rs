// SPDX-License-Identifier: GPL-2.0
//! The per-CPU page lists: the pool's fast path, refilled and drained in
//! batches under the zone lock of the CPU's node's normal zone ([`Pcp`] is
//! the pure logic). A CPU's lists hold that zone's pages only.

use super::{chunk::Released, PageRecord, Pool, RawBlock, Stat};
use crate::{
    glue::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        cpu,
        decay::Decays,
        percpu::{IrqsAreOff, IrqsOff},
    },
    logic::page_pool::pcp::{self, Pcp},
};
use core::{
    cell::UnsafeCell,
    ops::{Deref, DerefMut},
};
use kernel::interrupt::local_interrupt_disable;

// SAFETY: every field of `Pcp` is an integer or an array of integers, for
// which all-zero bytes are valid: a `Pcp` with empty lists and zero tuning.
unsafe impl pin_init::Zeroable for Pcp {}

/// One CPU's list, with the time of its last `high` decay and the tuning
/// it last applied.
pub(super) struct CpuPcp {
    pub(super) pcp: Pcp,
    /// Pages handed to users from this list, less those users gave back to
    /// it (see [`Pool`]'s invariants); may be negative.
    pub(super) user_pages: isize,
    last_decay: usize,
    tuning: u64,
    /// The index of the CPU's node's normal zone: every block on the lists
    /// is this zone's.
    pub(super) zone: u32,
}

// SAFETY: `Pcp` is zeroable (above) and so are the integers.
unsafe impl pin_init::Zeroable for CpuPcp {}

/// One CPU's list and its lock (`per_cpu_pages.lock`), in per-CPU memory.
///
/// The lock is a test-and-set word with inline atomics: the kernel's
/// `spin_trylock()` is an out-of-line call from a module, and the fast
/// paths make none. Lockdep does not see it; what it would check holds by
/// construction: it is taken only with interrupts off on the taking CPU
/// (the [`IrqsAreOff`] argument), its own CPU only *tries* it (an interrupt
/// cannot arrive while it is held there; another CPU holding it sends this
/// CPU's allocation to the free areas), no path holds two of them except
/// [`Pool::check`] (which takes them by trying), and the zone lock nests
/// inside it, never the reverse.
///
/// # Invariants
///
/// `pcp` is only accessed through a [`PcpGuard`], of which there is at most
/// one at a time (`locked` is 1 while it lives).
#[repr(C)]
pub(super) struct PcpCell {
    locked: Atomic<u32>,
    pcp: UnsafeCell<CpuPcp>,
}

// SAFETY: `pcp` is only reached through the lock (type invariant).
unsafe impl Sync for PcpCell {}
// SAFETY: as above.
unsafe impl Send for PcpCell {}
// SAFETY: an unlocked cell with a zeroed (valid, see above) `CpuPcp`.
unsafe impl pin_init::Zeroable for PcpCell {}

/// A held [`PcpCell`] lock, giving the list.
pub(super) struct PcpGuard<'a>(&'a PcpCell);

impl PcpCell {
    /// Takes the lock if it is free (`spin_trylock()`).
    #[inline(always)]
    pub(super) fn try_lock<'a>(&'a self, _irq: &'a impl IrqsAreOff) -> Option<PcpGuard<'a>> {
        // INVARIANT: the exchange from 0 makes this the only guard;
        // acquire orders the list's accesses after it.
        self.locked
            .cmpxchg(0, 1, Acquire)
            .ok()
            .map(|_| PcpGuard(self))
    }

    /// Takes the lock, spinning (`spin_lock()`). Interrupts are off, so a
    /// holder on this CPU cannot be waited for: the holder is always
    /// another CPU, itself with interrupts off, which releases it.
    pub(super) fn lock<'a>(&'a self, irq: &'a impl IrqsAreOff) -> PcpGuard<'a> {
        loop {
            if let Some(g) = self.try_lock(irq) {
                return g;
            }
            core::hint::spin_loop();
        }
    }
}

impl Deref for PcpGuard<'_> {
    type Target = CpuPcp;
    #[inline(always)]
    fn deref(&self) -> &CpuPcp {
        // SAFETY: the guard holds the lock (type invariant of `PcpCell`).
        unsafe { &*self.0.pcp.get() }
    }
}

impl DerefMut for PcpGuard<'_> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut CpuPcp {
        // SAFETY: as above; `&mut self` makes the reference unique.
        unsafe { &mut *self.0.pcp.get() }
    }
}

impl Drop for PcpGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        // Release: the list's accesses happen before the next holder's.
        self.0.locked.store(0, Release);
    }
}

/// One CPU's lists, as `/sys/kernel/rslab/pool/pcp` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PcpInfo {
    /// Pages on the lists.
    pub(crate) count: u32,
    /// The list's `high` now.
    pub(crate) high: u32,
    /// Its batch.
    pub(crate) batch: u32,
    /// The bounds `high` auto-tunes between.
    pub(crate) high_min: u32,
    /// See `high_min`.
    pub(crate) high_max: u32,
}

impl<R: PageRecord> Pool<R> {
    /// `cpu`'s lists.
    pub(crate) fn pcp_info(&self, cpu: usize) -> Option<PcpInfo> {
        let irq = local_interrupt_disable();
        let p = self.cpus.get(cpu)?.lock(&irq);
        let (high_min, high_max) = p.pcp.high_range();
        Some(PcpInfo {
            count: p.pcp.count(),
            high: p.pcp.high(),
            batch: p.pcp.batch(),
            high_min,
            high_max,
        })
    }

    /// The fast path of an allocation of `order`: a block off this CPU's
    /// list, if it has one and nothing needs doing first (tuning to apply).
    /// No call: interrupts off inline, the list's lock tried inline.
    #[inline(always)]
    pub(super) fn pcp_alloc_fast(&self, order: u32) -> Option<u32> {
        self.pcp_alloc_fast_in(order, None)
    }

    /// [`Pool::pcp_alloc_fast`], only if this CPU's list is of zone `zone`
    /// (any, for `None`): checked with the CPU pinned, under the list's
    /// lock.
    #[inline(always)]
    pub(super) fn pcp_alloc_fast_in(&self, order: u32, zone: Option<usize>) -> Option<u32> {
        if order > pcp::COSTLY_ORDER {
            return None;
        }
        // SAFETY: dropped by the end of this block, inside every interrupts-off
        // guard live now (sections nest).
        let irq = unsafe { IrqsOff::new() };
        let mut c = self.cpus.this(&irq).try_lock(&irq)?;
        // Below the zone's low watermark the slow path grows it.
        if c.tuning != self.tuning.load(Relaxed)
            || zone.is_some_and(|z| z != c.zone as usize)
            || c.pcp.list(order).is_empty()
            || self.zone_free_pages(c.zone as usize) < self.wmark_low.load(Relaxed)
        {
            return None;
        }
        c.pcp.note_alloc();
        let idx = c.pcp.take(order)?;
        c.user_pages = c.user_pages.wrapping_add(1 << order);
        drop(c);
        self.stats
            .add_irqs_off(&irq, Stat::AllocFastpath as usize, 1);
        Some(idx)
    }

    /// The fast path of a free of `idx`: onto this CPU's list if that needs
    /// no drain (and no tuning to apply). Returns whether it took the block.
    #[inline(always)]
    pub(super) fn pcp_free_fast(&self, idx: u32, order: u32) -> bool {
        if order > pcp::COSTLY_ORDER {
            return false;
        }
        // SAFETY: dropped by the end of this block, inside every interrupts-off
        // guard live now (sections nest).
        let irq = unsafe { IrqsOff::new() };
        let Some(mut c) = self.cpus.this(&irq).try_lock(&irq) else {
            return false;
        };
        if c.tuning != self.tuning.load(Relaxed) || self.zone_of_idx(idx) != c.zone as usize {
            return false;
        }
        let below_high = self.below_high(c.zone as usize);
        if !c.pcp.free_no_drain(idx, order, below_high) {
            return false;
        }
        c.user_pages = c.user_pages.wrapping_sub(1 << order);
        true
    }

    /// The slow path of an allocation of `order` on this CPU: the CPU's
    /// list, refilled by one batch (`rmqueue_bulk`) when empty.
    /// `None` if the list cannot serve it (a costly order, or the list lock
    /// taken by the task this interrupt interrupted): the caller goes to
    /// the free areas. `Some(None)` if the free areas are empty.
    pub(super) fn pcp_alloc(
        &self,
        irq: &impl IrqsAreOff,
        order: u32,
        out: &mut Released<R>,
    ) -> Option<Option<u32>> {
        if order > pcp::COSTLY_ORDER {
            return None;
        }
        let cpu = cpu::current();
        let mut c = self.cpus[cpu].try_lock(irq)?;
        c.pcp.note_alloc();
        if let Some(idx) = c.pcp.take(order) {
            c.user_pages += 1 << order;
            self.stats.add_on(cpu, Stat::AllocFastpath as usize, 1);
            return Some(Some(idx));
        }
        self.stats.add_on(cpu, Stat::AllocSlowpath as usize, 1);
        self.apply_tuning(&mut c);
        if self.refill(&mut c, order, out) > 0 {
            self.stats.add_on(cpu, Stat::Refill as usize, 1);
        }
        self.maybe_decay(&mut c, out);
        let idx = c.pcp.take(order);
        if idx.is_some() {
            c.user_pages += 1 << order;
        }
        Some(idx)
    }

    /// `alloc_pages_bulk()`'s loop: order-0 blocks off this CPU's list
    /// into `got`, in order, the list refilled from its zone a batch at a
    /// time (`rmqueue_bulk`) when it runs dry, under one take of its lock.
    /// Returns how many it wrote; it stops early when the zone is below the
    /// low watermark or empty, and writes none when the list's lock is held
    /// by the task this interrupt interrupted: the caller then takes one
    /// page the usual way, which grows the pool, as the kernel's does.
    pub(super) fn pcp_alloc_bulk(&self, got: &mut [Option<RawBlock>]) -> usize {
        let mut out = Released::new();
        let mut n = 0;
        {
            let irq = local_interrupt_disable();
            let cpu = cpu::current();
            let Some(mut c) = self.cpus[cpu].try_lock(&irq) else {
                return 0;
            };
            self.apply_tuning(&mut c);
            c.pcp.note_alloc();
            let zi = c.zone as usize;
            let mut refills = 0;
            for slot in got.iter_mut() {
                let idx = match c.pcp.take(0) {
                    Some(idx) => idx,
                    None => {
                        if self.zone_free_pages(zi) < self.wmark_low.load(Relaxed) {
                            break;
                        }
                        if self.refill(&mut c, 0, &mut out) == 0 {
                            break;
                        }
                        refills += 1;
                        match c.pcp.take(0) {
                            Some(idx) => idx,
                            None => break,
                        }
                    }
                };
                *slot = Some(self.block(idx, 0));
                n += 1;
            }
            c.user_pages += n as isize;
            self.maybe_decay(&mut c, &mut out);
            drop(c);
            self.stats
                .add_on(cpu, Stat::AllocFastpath as usize, n as u64);
            if refills > 0 {
                self.stats.add_on(cpu, Stat::Refill as usize, refills);
            }
        }
        self.release(out);
        n
    }

    /// `rmqueue_bulk()`: refills a CPU's list (its lock held) with one
    /// batch of blocks of `order` from its zone's free areas; returns how
    /// many it took (0: the zone has none).
    fn refill(&self, c: &mut CpuPcp, order: u32, out: &mut Released<R>) -> u32 {
        let zi = c.zone as usize;
        let n = c.pcp.refill_count(order, self.below_high(zi));
        let mut z = self.zones[zi].lock();
        let mut got = 0;
        for _ in 0..n {
            let Some(idx) = self.zone_alloc(&mut z, order) else {
                break;
            };
            if !c.pcp.add_refilled(idx, order) {
                self.zone_free(&mut z, idx, order, out);
                break;
            }
            got += 1;
        }
        got
    }

    /// The slow path of a free on this CPU: onto the CPU's list,
    /// draining a batch to the free areas when it runs over `high`. Returns
    /// `false` if the list cannot take it (see [`Pool::pcp_alloc`]; or the
    /// block is another zone's).
    pub(super) fn pcp_free(
        &self,
        irq: &impl IrqsAreOff,
        idx: u32,
        order: u32,
        out: &mut Released<R>,
    ) -> bool {
        if order > pcp::COSTLY_ORDER {
            return false;
        }
        let cpu = cpu::current();
        let Some(mut c) = self.cpus[cpu].try_lock(irq) else {
            return false;
        };
        if self.zone_of_idx(idx) != c.zone as usize {
            return false;
        }
        self.apply_tuning(&mut c);
        let zone = &self.zones[c.zone as usize];
        let below_high = self.below_high(c.zone as usize);
        match c.pcp.free(idx, order, below_high) {
            Some(0) => c.user_pages -= 1 << order,
            Some(n) => {
                c.user_pages -= 1 << order;
                let mut z = zone.lock();
                c.pcp.drain(n, order, |i, o| {
                    self.zone_free(&mut z, i, o, out);
                });
                drop(z);
                self.stats.add_on(cpu, Stat::Drain as usize, 1);
                self.maybe_decay(&mut c, out);
                self.decay.arm_idle(|| self.decay_activity());
            }
            None => {
                let mut z = zone.lock();
                if self.zone_free(&mut z, idx, order, out) {
                    z.user_pages -= 1 << order;
                }
                drop(z);
                self.decay.arm_idle(|| self.decay_activity());
            }
        }
        true
    }

    /// Once a second per CPU, on its own slow paths: `decay_pcp_high()` (the
    /// kernel runs it from the per-CPU vmstat work; a CPU that stops
    /// allocating is decayed by [`Pool::shrink`] instead).
    fn maybe_decay(&self, c: &mut CpuPcp, out: &mut Released<R>) {
        let now = cpu::jiffies();
        let hz = kernel::time::msecs_to_jiffies(1000) as usize;
        if now.wrapping_sub(c.last_decay) < hz {
            return;
        }
        c.last_decay = now;
        let (n, _) = c.pcp.decay();
        if n > 0 {
            let mut z = self.zones[c.zone as usize].lock();
            c.pcp.drain(n, 0, |i, o| {
                self.zone_free(&mut z, i, o, out);
            });
        }
    }

    /// Drains `cpu`'s lists into the free areas; returns the pages drained.
    pub(crate) fn drain_cpu(&self, cpu: usize) -> usize {
        let Some(c) = self.cpus.get(cpu) else {
            return 0;
        };
        let irq = local_interrupt_disable();
        let mut c = c.lock(&irq);
        if c.pcp.count() == 0 {
            return 0;
        }
        let mut out = Released::new();
        let mut z = self.zones[c.zone as usize].lock();
        let n = c.pcp.drain_all(|i, o| {
            self.zone_free(&mut z, i, o, &mut out);
        });
        drop(z);
        drop(c);
        drop(irq);
        self.stats.add_on(cpu, Stat::Drain as usize, 1);
        self.release(out);
        n as usize
    }

    /// Recomputes the per-CPU lists' `high` range from the pool's size, as
    /// `zone_pcp_update()` does when a zone changes: `high_min` is
    /// `4 * batch` (`zone_highsize()`'s floor), `high_max` an eighth of the
    /// pool split over the CPUs, within what the lists can hold.
    ///
    /// Only publishes the values: this may run in any context, also from an
    /// interrupt that arrived while its CPU's list lock is held, so it takes
    /// no list lock. Each CPU applies them on its own next operation.
    pub(super) fn update_tuning(&self) {
        let ncpu = cpu::online_cpus().count().max(1) as u32;
        let batch = self.batch;
        let cap = (pcp::RING as u32).saturating_sub(2 * batch + 8);
        let high_min = pcp::high_size(0, batch, ncpu).min(cap);
        let high_max = pcp::high_size(self.total_pages() / 8, batch, ncpu).clamp(high_min, cap);
        self.tuning
            .store(u64::from(high_min) | (u64::from(high_max) << 32), Relaxed);
    }

    /// Applies the published tuning to a list (its lock held).
    #[inline]
    pub(super) fn apply_tuning(&self, c: &mut CpuPcp) {
        let t = self.tuning.load(Relaxed);
        if c.tuning != t {
            c.tuning = t;
            c.pcp.set_tuning(t as u32, (t >> 32) as u32, self.batch);
        }
    }
}
