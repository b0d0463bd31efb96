// SPDX-License-Identifier: GPL-2.0
//! The per-CPU page lists: the pool's fast path, refilled and drained in
//! batches under the zone lock ([`Pcp`] is the pure logic).

use super::{chunk::Released, PageRecord, Pool, Stat};
use crate::glue::atomic::Relaxed;
use crate::{
    glue::cpu::{self, Pinned},
    logic::page_pool::pcp::{self, Pcp},
};
use kernel::bindings;

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
}

// SAFETY: `Pcp` is zeroable (above) and so are the integers.
unsafe impl pin_init::Zeroable for CpuPcp {}

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
        let p = self.cpus.get(cpu)?.lock();
        let (high_min, high_max) = p.pcp.high_range();
        Some(PcpInfo {
            count: p.pcp.count(),
            high: p.pcp.high(),
            batch: p.pcp.batch(),
            high_min,
            high_max,
        })
    }

    /// The fast path of an allocation of `order` on the pinned CPU: the
    /// CPU's list, refilled by one batch (`rmqueue_bulk`) when empty.
    /// `None` if the list cannot serve it (a costly order, or the list lock
    /// taken by the task this interrupt interrupted): the caller goes to
    /// the free areas. `Some(None)` if the free areas are empty.
    pub(super) fn pcp_alloc(
        &self,
        pin: &Pinned,
        order: u32,
        out: &mut Released<R>,
    ) -> Option<Option<u32>> {
        if order > pcp::COSTLY_ORDER {
            return None;
        }
        let cpu = pin.cpu();
        let mut c = self.cpus[cpu].try_lock()?;
        c.pcp.note_alloc();
        if let Some(idx) = c.pcp.take(order) {
            c.user_pages += 1 << order;
            self.stats.add_on(cpu, Stat::AllocFastpath as usize, 1);
            return Some(Some(idx));
        }
        self.stats.add_on(cpu, Stat::AllocSlowpath as usize, 1);
        self.apply_tuning(&mut c);
        let n = c.pcp.refill_count(order, self.below_high());
        let mut z = self.zone.lock();
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
        drop(z);
        if got > 0 {
            self.stats.add_on(cpu, Stat::Refill as usize, 1);
        }
        self.maybe_decay(&mut c, out);
        let idx = c.pcp.take(order);
        if idx.is_some() {
            c.user_pages += 1 << order;
        }
        Some(idx)
    }

    /// The fast path of a free on the pinned CPU: onto the CPU's list,
    /// draining a batch to the free areas when it runs over `high`. Returns
    /// `false` if the list cannot take it (see [`Pool::pcp_alloc`]).
    pub(super) fn pcp_free(
        &self,
        pin: &Pinned,
        idx: u32,
        order: u32,
        out: &mut Released<R>,
    ) -> bool {
        if order > pcp::COSTLY_ORDER {
            return false;
        }
        let Some(mut c) = self.cpus[pin.cpu()].try_lock() else {
            return false;
        };
        self.apply_tuning(&mut c);
        match c.pcp.free(idx, order, self.below_high()) {
            Some(0) => c.user_pages -= 1 << order,
            Some(n) => {
                c.user_pages -= 1 << order;
                let mut z = self.zone.lock();
                c.pcp.drain(n, order, |i, o| {
                    self.zone_free(&mut z, i, o, out);
                });
                drop(z);
                self.stats.add_on(pin.cpu(), Stat::Drain as usize, 1);
                self.maybe_decay(&mut c, out);
            }
            None => {
                let mut z = self.zone.lock();
                if self.zone_free(&mut z, idx, order, out) {
                    z.user_pages -= 1 << order;
                }
            }
        }
        true
    }

    /// Once a second per CPU, on its own slow paths: `decay_pcp_high()` (the
    /// kernel runs it from the per-CPU vmstat work; a CPU that stops
    /// allocating is decayed by [`Pool::shrink`] instead).
    fn maybe_decay(&self, c: &mut CpuPcp, out: &mut Released<R>) {
        // SAFETY: `jiffies` is always readable; a stale value is harmless.
        let now = unsafe { core::ptr::read_volatile(&raw const bindings::jiffies) } as usize;
        let hz = kernel::time::msecs_to_jiffies(1000) as usize;
        if now.wrapping_sub(c.last_decay) < hz {
            return;
        }
        c.last_decay = now;
        let (n, _) = c.pcp.decay();
        if n > 0 {
            let mut z = self.zone.lock();
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
        let mut c = c.lock();
        if c.pcp.count() == 0 {
            return 0;
        }
        let mut out = Released::new();
        let mut z = self.zone.lock();
        let n = c.pcp.drain_all(|i, o| {
            self.zone_free(&mut z, i, o, &mut out);
        });
        drop(z);
        drop(c);
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
