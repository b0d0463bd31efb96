// SPDX-License-Identifier: GPL-2.0
//! Per-CPU page lists, as mm/page_alloc.c of Linux 7.x runs them.
//!
//! A [`Pcp`] is one CPU's `struct per_cpu_pages`: lists of free blocks of
//! orders `0..=PAGE_ALLOC_COSTLY_ORDER`, a page count, and the tuning state
//! (`high`, `high_min`, `high_max`, `batch`, `free_count`, `alloc_factor`).
//! The arithmetic follows the kernel line by line (`nr_pcp_alloc`,
//! `nr_pcp_high`, `nr_pcp_free`, `decay_pcp_high`, `free_pcppages_bulk`):
//!
//! - an empty list is refilled from the buddy free areas in one batch;
//!   order-0 refills grow as `batch << alloc_factor` while refills keep
//!   coming, and `alloc_factor` halves on every free;
//! - a free that brings `count` to `high` drains a batch (from the cold end,
//!   emptying one list before the next, round-robin from the freed order);
//! - `high` floats in `[high_min, high_max]`: it grows on refills and under
//!   runs of frees, shrinks when the pool is below its high watermark, and
//!   decays by an eighth on each [`Pcp::decay`] (the kernel's vmstat tick).
//!
//! Lists are bounded rings of page indices instead of `list_head`s threaded
//! through `struct page`: the hot end is the list head (alloc takes and free
//! puts there), the cold end the tail (refills append there in physical
//! order, drains take from there), exactly as the kernel uses its lists. The
//! rings never fill: `count` stays below `high_max + batch`, which the pool
//! keeps below [`RING`] pages.
//!
//! Not mirrored: migratetypes (one list per order), THP lists,
//! `PCPF_FREE_HIGH_BATCH` (cache-size dependent) and `ZONE_RECLAIM_ACTIVE`.

/// `PAGE_ALLOC_COSTLY_ORDER`: the highest order kept on per-CPU lists.
pub const COSTLY_ORDER: u32 = 3;
/// Per-CPU lists per CPU: one per order `0..=COSTLY_ORDER`.
pub const PCP_ORDERS: usize = COSTLY_ORDER as usize + 1;
/// `CONFIG_PCP_BATCH_SCALE_MAX` (the kernel's default).
pub const BATCH_SCALE_MAX: u32 = 5;
/// Capacity of each list, in blocks.
pub const RING: usize = 1024;
/// `PCPF_PREV_FREE_HIGH_ORDER`: the previous free was of order 1..=3.
const PREV_FREE_HIGH_ORDER: u8 = 1;

/// `zone_highsize()`: `total` pages (the low watermark for `high_min`,
/// an eighth of the pool for `high_max`) split over `cpus`, at least
/// `4 * batch`.
pub fn high_size(total: usize, batch: u32, cpus: u32) -> u32 {
    let high = total / cpus.max(1) as usize;
    (high.min(u32::MAX as usize) as u32).max(batch << 2)
}

/// A bounded double-ended queue of page indices.
///
/// # Invariants
///
/// `len <= RING`, and the entries are `buf[(head + i) % RING]` for
/// `i in 0..len`, hottest first.
pub struct Ring {
    buf: [u32; RING],
    head: usize,
    len: usize,
}

impl Default for Ring {
    fn default() -> Self {
        Self::new()
    }
}

impl Ring {
    /// An empty list.
    pub const fn new() -> Self {
        Ring {
            buf: [0; RING],
            head: 0,
            len: 0,
        }
    }

    /// Blocks on the list.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `list_add()`: puts a block at the hot end. `false` if full.
    #[inline(always)]
    pub fn push_hot(&mut self, idx: u32) -> bool {
        if self.len == RING {
            return false;
        }
        // Wrapping arithmetic and `% RING` (a power of two) at every index:
        // the fast paths have no overflow or bounds-check branches.
        self.head = self.head.wrapping_add(RING - 1) % RING;
        self.buf[self.head % RING] = idx;
        self.len = self.len.wrapping_add(1);
        true
    }

    /// `list_add_tail()`: puts a block at the cold end. `false` if full.
    pub fn push_cold(&mut self, idx: u32) -> bool {
        if self.len == RING {
            return false;
        }
        self.buf[self.head.wrapping_add(self.len) % RING] = idx;
        self.len = self.len.wrapping_add(1);
        true
    }

    /// `list_first_entry()` + `list_del()`: takes the hottest block.
    #[inline(always)]
    pub fn pop_hot(&mut self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let idx = self.buf[self.head % RING];
        self.head = self.head.wrapping_add(1) % RING;
        self.len = self.len.wrapping_sub(1);
        Some(idx)
    }

    /// `list_last_entry()` + `list_del()`: takes the coldest block.
    pub fn pop_cold(&mut self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        Some(self.buf[(self.head + self.len) % RING])
    }

    /// The blocks, hottest first.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).map(move |i| self.buf[(self.head + i) % RING])
    }
}

/// One CPU's `struct per_cpu_pages`.
///
/// # Invariants
///
/// `count` is the number of pages on `lists` (a block of order `o` counts
/// `1 << o`), and `high_min <= high_max`.
pub struct Pcp {
    lists: [Ring; PCP_ORDERS],
    count: u32,
    high: u32,
    high_min: u32,
    high_max: u32,
    batch: u32,
    free_count: u32,
    alloc_factor: u32,
    flags: u8,
}

impl Default for Pcp {
    fn default() -> Self {
        Self::new()
    }
}

impl Pcp {
    /// A disabled list (`BOOT_PAGESET`: high 0, batch 1): every free goes
    /// straight back, every refill takes one block, until [`Pcp::set_tuning`].
    pub const fn new() -> Self {
        Pcp {
            lists: [Ring::new(), Ring::new(), Ring::new(), Ring::new()],
            count: 0,
            high: 0,
            high_min: 0,
            high_max: 0,
            batch: 1,
            free_count: 0,
            alloc_factor: 0,
            flags: 0,
        }
    }

    /// `pageset_update()`: sets `batch`, `high_min` and `high_max`. Unlike
    /// the kernel, which clamps `high` into the new range on the next
    /// operation, `high` is clamped at once, so that it always reads within
    /// `[high_min, high_max]`.
    pub fn set_tuning(&mut self, high_min: u32, high_max: u32, batch: u32) {
        self.batch = batch.max(1);
        self.high_min = high_min.min(high_max);
        self.high_max = high_max;
        self.clamp_high();
    }

    /// Pages on the lists.
    pub fn count(&self) -> u32 {
        self.count
    }
    /// The current high mark.
    pub fn high(&self) -> u32 {
        self.high
    }
    /// `(high_min, high_max)`.
    pub fn high_range(&self) -> (u32, u32) {
        (self.high_min, self.high_max)
    }
    /// The batch.
    pub fn batch(&self) -> u32 {
        self.batch
    }
    /// The list of `order`.
    #[inline(always)]
    pub fn list(&self, order: u32) -> &Ring {
        &self.lists[order as usize]
    }

    #[inline(always)]
    fn clamp_high(&mut self) -> u32 {
        // `max` then `min`, not `clamp`: the same for `high_min <=
        // high_max` (the invariant), without `clamp`'s assertion branch on
        // the fast path.
        self.high = self.high.max(self.high_min).min(self.high_max);
        self.high
    }

    /// `nr_pcp_alloc()`: how many blocks of `order` to refill an empty list
    /// with. `below_high`: the pool is below its high watermark
    /// (`ZONE_BELOW_HIGH`), which stops `high` from growing.
    pub fn refill_count(&mut self, order: u32, below_high: bool) -> u32 {
        let base_batch = self.batch;
        let high_min = self.high_min;
        let high_max = self.high_max;
        let mut high = self.clamp_high();
        if high < base_batch {
            return 1;
        }
        let mut batch = if order > 0 {
            base_batch
        } else {
            base_batch << self.alloc_factor
        };
        if high_min != high_max && !below_high {
            high = (high + batch).min(high_max);
            self.high = high;
        }
        if order == 0 {
            let max_nr_alloc = high
                .saturating_sub(self.count)
                .saturating_sub(base_batch)
                .max(base_batch);
            if batch <= max_nr_alloc && self.alloc_factor < BATCH_SCALE_MAX {
                self.alloc_factor += 1;
            }
            batch = batch.min(max_nr_alloc);
        }
        if batch > 1 {
            batch = (batch >> order).max(2);
        }
        batch
    }

    /// Appends a block the refill took from the free areas (`rmqueue_bulk`
    /// puts them at the tail, in the order taken). `false` if the list is
    /// full, in which case the caller must give the block back.
    pub fn add_refilled(&mut self, idx: u32, order: u32) -> bool {
        if !self.lists[order as usize].push_cold(idx) {
            return false;
        }
        self.count += 1 << order;
        true
    }

    /// `rmqueue_pcplist()` on a list that is not empty: takes the hottest
    /// block of `order` (`None` if the list is empty: refill first).
    #[inline(always)]
    pub fn take(&mut self, order: u32) -> Option<u32> {
        let idx = self.lists.get_mut(order as usize)?.pop_hot()?;
        self.count = self.count.wrapping_sub(1 << (order % 32));
        Some(idx)
    }

    /// [`Pcp::free`] when it would drain nothing (the fast path): returns
    /// whether it took the block. If the list is full or the free would
    /// call for a drain, nothing changes and `false` is returned: the
    /// caller then does the whole [`Pcp::free`].
    #[inline(always)]
    pub fn free_no_drain(&mut self, idx: u32, order: u32, below_high: bool) -> bool {
        if self
            .lists
            .get(order as usize)
            .is_none_or(|l| l.len() == RING)
        {
            return false;
        }
        let saved = (
            self.alloc_factor,
            self.count,
            self.flags,
            self.free_count,
            self.high,
        );
        match self.free(idx, order, below_high) {
            Some(0) => true,
            r => {
                if r.is_some() {
                    // Undo the push: the block is at the hot end.
                    if let Some(l) = self.lists.get_mut(order as usize) {
                        l.pop_hot();
                    }
                }
                (
                    self.alloc_factor,
                    self.count,
                    self.flags,
                    self.free_count,
                    self.high,
                ) = saved;
                false
            }
        }
    }

    /// Notes an allocation attempt through this list (`free_count >>= 1`,
    /// done before the list is looked at, as `rmqueue_pcplist()` does).
    #[inline(always)]
    pub fn note_alloc(&mut self) {
        self.free_count >>= 1;
    }

    /// `free_frozen_page_commit()`: puts a freed block at the hot end and
    /// returns how many pages to drain now (0: none), to be passed to
    /// [`Pcp::drain`] with this `order` as the first list. If the list is
    /// full the block is not taken and `None` is returned: free it to the
    /// free areas directly.
    #[inline(always)]
    pub fn free(&mut self, idx: u32, order: u32, below_high: bool) -> Option<u32> {
        if !self.lists.get_mut(order as usize)?.push_hot(idx) {
            return None;
        }
        self.alloc_factor >>= 1;
        self.count = self.count.wrapping_add(1 << (order % 32));
        let batch = self.batch;
        let mut free_high = false;
        if order > 0 && order <= COSTLY_ORDER {
            free_high = self.free_count >= batch.saturating_add(self.high_min / 2)
                && self.flags & PREV_FREE_HIGH_ORDER != 0;
            self.flags |= PREV_FREE_HIGH_ORDER;
        } else {
            self.flags &= !PREV_FREE_HIGH_ORDER;
        }
        if self.free_count < (batch << BATCH_SCALE_MAX) {
            self.free_count = self.free_count.saturating_add(1 << (order % 32));
        }
        let high = self.nr_pcp_high(batch, free_high, below_high);
        if self.count < high {
            return Some(0);
        }
        Some(self.nr_pcp_free(batch, high, free_high))
    }

    /// `nr_pcp_high()`.
    #[inline(always)]
    fn nr_pcp_high(&mut self, batch: u32, free_high: bool, below_high: bool) -> u32 {
        let (high_min, high_max) = (self.high_min, self.high_max);
        let mut high = self.clamp_high();
        if high == 0 {
            return 0;
        }
        if free_high {
            self.high = high.saturating_sub(batch << BATCH_SCALE_MAX).max(high_min);
            return 0;
        }
        if high_min == high_max {
            return high;
        }
        if below_high {
            let free_count = self.free_count.max(batch);
            self.high = high.saturating_sub(free_count).max(high_min);
            high = self.count.max(high_min);
        } else if self.count >= high {
            let need_high = self.free_count.saturating_add(batch);
            if self.high < need_high {
                self.high = need_high.max(high_min).min(high_max);
            }
        }
        high
    }

    /// `nr_pcp_free()`.
    fn nr_pcp_free(&self, batch: u32, high: u32, free_high: bool) -> u32 {
        if free_high {
            return self.count.min(batch << BATCH_SCALE_MAX);
        }
        if high < batch {
            return 1;
        }
        let min_nr_free = batch;
        let max_nr_free = (high - batch).max(min_nr_free);
        self.free_count.max(min_nr_free).min(max_nr_free)
    }

    /// `free_pcppages_bulk()`: takes about `pages` pages off the lists (a
    /// block is taken whole, so up to one block more), coldest first,
    /// emptying one list before moving on, round-robin starting at `order`,
    /// and hands each block to `free` (which frees it to the free areas under
    /// the pool lock). Returns the pages taken.
    pub fn drain(&mut self, pages: u32, order: u32, mut free: impl FnMut(u32, u32)) -> u32 {
        let mut todo = i64::from(pages.min(self.count));
        let mut taken = 0;
        let mut pindex = order as usize + PCP_ORDERS - 1; // "pindex - 1"
        while todo > 0 {
            loop {
                pindex = (pindex + 1) % PCP_ORDERS;
                if !self.lists[pindex].is_empty() {
                    break;
                }
            }
            let o = pindex as u32;
            while let Some(idx) = self.lists[pindex].pop_cold() {
                todo -= 1 << o;
                taken += 1 << o;
                self.count -= 1 << o;
                free(idx, o);
                if todo <= 0 {
                    break;
                }
            }
        }
        taken
    }

    /// Takes every block off the lists (`drain_pages_zone`, CPU offline,
    /// shrink), handing each to `free`. Returns the pages taken.
    pub fn drain_all(&mut self, free: impl FnMut(u32, u32)) -> u32 {
        self.drain(self.count, 0, free)
    }

    /// `decay_pcp_high()`: lowers `high` by an eighth (not below `high_min`,
    /// nor below what a big run of frees justifies) and returns how many
    /// pages to drain to get back under it. The second value is whether
    /// there is more to decay on a later call.
    pub fn decay(&mut self) -> (u32, bool) {
        let mut todo = false;
        let (high_min, batch) = (self.high_min, self.batch);
        if self.high > high_min {
            self.high = self
                .count
                .saturating_sub(batch << BATCH_SCALE_MAX)
                .max(self.high - (self.high >> 3))
                .max(high_min);
            if self.high > high_min {
                todo = true;
            }
        }
        let to_drain = self.count.saturating_sub(self.high);
        (to_drain, todo || to_drain > 0)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::rand::XorShift64;
    use std::{boxed::Box, vec::Vec};

    type Snap = ((u32, u32, u8, u32, u32, u32), Vec<Vec<u32>>);

    fn snap(p: &Pcp) -> Snap {
        (
            (
                p.alloc_factor,
                p.count,
                p.flags,
                p.free_count,
                p.high,
                p.batch,
            ),
            p.lists.iter().map(|l| l.iter().collect()).collect(),
        )
    }

    #[test]
    fn free_no_drain_is_free_without_a_drain_or_nothing() {
        let mut rng = XorShift64::new(11);
        let (mut p, mut twin) = (tuned(8, 64, 4), tuned(8, 64, 4));
        let (mut taken, mut declined) = (0, 0);
        let mut next = 0u32;
        for _ in 0..20_000 {
            let order = rng.below(4);
            let below = rng.below(4) == 0;
            if rng.below(3) == 0 {
                assert_eq!(p.take(order), twin.take(order));
                continue;
            }
            next += 1;
            let before = snap(&p);
            if p.free_no_drain(next, order, below) {
                assert_eq!(twin.free(next, order, below), Some(0));
                taken += 1;
            } else {
                assert_eq!(snap(&p), before, "a declined free changes nothing");
                match twin.free(next, order, below) {
                    None => {}
                    Some(n) => {
                        assert!(n > 0, "declined a free that needed no drain");
                        twin.drain(n, order, |_, _| {});
                    }
                }
                // The caller's slow path does the same on the real one.
                if let Some(n) = p.free(next, order, below) {
                    p.drain(n, order, |_, _| {});
                }
                declined += 1;
            }
            assert_eq!(snap(&p), snap(&twin));
        }
        assert!(taken > 1000 && declined > 100, "{taken} {declined}");
    }

    #[test]
    fn batch_and_high_follow_the_kernel() {
        // With batch 63 (what the kernel picks for 16 GiB of 4K pages).
        assert_eq!(high_size(1000, 63, 2), 500);
        assert_eq!(high_size(100, 63, 2), 252);
    }

    fn tuned(high_min: u32, high_max: u32, batch: u32) -> Box<Pcp> {
        let mut p = Box::new(Pcp::new());
        p.set_tuning(high_min, high_max, batch);
        p
    }

    #[test]
    fn ring_is_lifo_at_the_hot_end_and_fifo_from_the_cold_end() {
        let mut r = Box::new(Ring::new());
        for i in 0..5 {
            assert!(r.push_cold(i));
        }
        assert_eq!(r.pop_hot(), Some(0));
        assert!(r.push_hot(9));
        assert_eq!(r.iter().collect::<Vec<_>>(), [9, 1, 2, 3, 4]);
        assert_eq!(r.pop_cold(), Some(4));
        assert_eq!(r.pop_hot(), Some(9));
        let mut full = Box::new(Ring::new());
        for i in 0..RING as u32 {
            assert!(full.push_hot(i));
        }
        assert!(!full.push_hot(0) && !full.push_cold(0));
        assert_eq!(full.len(), RING);
    }

    #[test]
    fn a_disabled_list_refills_one_and_drains_every_free() {
        let mut p = Box::new(Pcp::new());
        assert_eq!(p.refill_count(0, false), 1);
        assert_eq!(p.free(7, 0, false), Some(1));
        let mut freed = Vec::new();
        assert_eq!(p.drain(1, 0, |i, o| freed.push((i, o))), 1);
        assert_eq!(freed, [(7, 0)]);
        assert_eq!(p.count(), 0);
    }

    #[test]
    fn order0_refills_grow_with_alloc_factor_and_stay_under_high() {
        let mut p = tuned(64, 512, 16);
        let mut sizes = Vec::new();
        for _ in 0..8 {
            let n = p.refill_count(0, false);
            sizes.push(n);
            // A refill never brings the list past high.
            assert!(
                p.count() + n <= p.high(),
                "{} + {} > {}",
                p.count(),
                n,
                p.high()
            );
            for i in 0..n {
                assert!(p.add_refilled(i, 0));
            }
            while p.take(0).is_some() {}
        }
        assert_eq!(sizes[0], 16);
        assert!(sizes.windows(2).all(|w| w[1] >= w[0]), "{sizes:?}");
        assert!(*sizes.last().unwrap() > 16, "{sizes:?}");
        // A free halves alloc_factor: the next refill is smaller again.
        let before = p.refill_count(0, false);
        p.free(1, 0, false);
        p.take(0);
        p.free(1, 0, false);
        p.take(0);
        assert!(p.refill_count(0, false) < before);
    }

    #[test]
    fn higher_orders_refill_batch_shifted_by_order() {
        let mut p = tuned(64, 64, 16);
        assert_eq!(p.refill_count(1, false), 8);
        assert_eq!(p.refill_count(2, false), 4);
        assert_eq!(p.refill_count(3, false), 2);
    }

    #[test]
    fn frees_drain_in_batches_once_count_reaches_high() {
        // Fixed high (high_min == high_max): no auto-tuning in the way.
        let mut p = tuned(64, 64, 16);
        let mut drained = 0;
        for i in 0..64 {
            let n = p.free(i, 0, false).unwrap();
            if i < 63 {
                assert_eq!(n, 0, "free {i}");
            } else {
                // free_count (64) clamped to [batch, high - batch].
                assert_eq!(n, 48);
                drained = p.drain(n, 0, |_, _| ());
            }
        }
        assert_eq!(drained, 48);
        assert_eq!(p.count(), 16);
        assert!(p.count() < p.high());
    }

    #[test]
    fn drain_takes_cold_blocks_and_empties_one_list_first() {
        let mut p = tuned(1000, 1000, 16);
        for i in 0..4 {
            p.free(100 + i, 1, false);
            p.free(200 + i, 0, false);
        }
        let mut out = Vec::new();
        // Start at order 1: its coldest blocks first, the whole list, then order 0.
        p.drain(10, 1, |i, o| out.push((i, o)));
        assert_eq!(
            out,
            [(100, 1), (101, 1), (102, 1), (103, 1), (200, 0), (201, 0)]
        );
        assert_eq!(p.count(), 2);
    }

    #[test]
    fn high_grows_under_a_run_of_frees_and_decays_back() {
        let mut p = tuned(64, 512, 16);
        for i in 0..2000 {
            if let Some(n) = p.free(i, 0, false) {
                p.drain(n, 0, |_, _| ());
            }
            assert!(p.high() >= 64 && p.high() <= 512);
            assert!(p.count() < 512 + 16);
        }
        // free_count saturates at batch << 5 = 512, so high reaches high_max.
        assert_eq!(p.high(), 512);
        let mut rounds = 0;
        loop {
            let (n, more) = p.decay();
            p.drain(n, 0, |_, _| ());
            assert!(p.count() <= p.high());
            rounds += 1;
            if !more {
                break;
            }
        }
        assert_eq!(p.high(), 64);
        assert!(rounds > 1);
    }

    #[test]
    fn allocs_between_frees_keep_high_down() {
        // free_count halves on every alloc: one alloc per 10 frees keeps it
        // near 20, so high never needs to grow past high_min.
        let mut p = tuned(64, 512, 16);
        let mut r = XorShift64::new(3);
        for i in 0..2000 {
            if let Some(n) = p.free(i, 0, false) {
                p.drain(n, 0, |_, _| ());
            }
            if r.below(10) == 0 {
                p.note_alloc();
                p.take(0);
            }
        }
        assert_eq!(p.high(), 64);
    }

    #[test]
    fn below_high_shrinks_high_toward_min() {
        let mut p = tuned(64, 512, 16);
        for i in 0..300 {
            if let Some(n) = p.free(i, 0, false) {
                p.drain(n, 0, |_, _| ());
            }
        }
        let grown = p.high();
        assert!(grown > 64);
        if let Some(n) = p.free(999, 0, true) {
            p.drain(n, 0, |_, _| ());
        }
        assert!(p.high() < grown);
    }

    /// Random frees/allocs/refills: `count` always equals the pages on the
    /// lists, never reaches the ring bound, and high stays in range.
    #[test]
    fn random_operations_keep_count_exact() {
        for seed in 1..20 {
            let mut p = tuned(100, 600, 31);
            let mut r = XorShift64::new(seed);
            let mut id = 0u32;
            for _ in 0..5000 {
                let order = r.below(PCP_ORDERS as u32);
                match r.below(3) {
                    0 => {
                        id += 1;
                        if let Some(n) = p.free(id, order, r.below(8) == 0) {
                            p.drain(n, order, |_, _| ());
                        }
                    }
                    1 => {
                        p.note_alloc();
                        if p.take(order).is_none() {
                            let n = p.refill_count(order, false);
                            for _ in 0..n {
                                id += 1;
                                assert!(p.add_refilled(id, order));
                            }
                            p.take(order);
                        }
                    }
                    _ => {
                        let (n, _) = p.decay();
                        p.drain(n, 0, |_, _| ());
                    }
                }
                let pages: u32 = (0..PCP_ORDERS as u32)
                    .map(|o| (p.list(o).len() as u32) << o)
                    .sum();
                assert_eq!(pages, p.count());
                assert!(p.high() >= 100 && p.high() <= 600);
                assert!((p.count() as usize) < RING);
            }
        }
    }
}
