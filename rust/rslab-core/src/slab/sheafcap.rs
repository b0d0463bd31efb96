// SPDX-License-Identifier: GPL-2.0
//! Adaptive sheaf capacity (beyond 7.3, whose `sheaf_capacity` is fixed per
//! cache): in a cache that has it turned on, each CPU's sheaves hold as many
//! objects as its own use calls for, between the cache's capacity and
//! [`max_capacity`], under a budget of objects for all CPUs together.
//!
//! As tcmalloc's per-CPU caches grow: a CPU whose slow-path trips
//! alternate (an allocation that found its sheaves empty, then soon a free
//! that found them full, or the other way round) moves more objects than
//! its sheaves hold, back and forth, and grows them by half. A CPU that only
//! allocates or only frees gains nothing from more (it trips as often) and
//! does not grow. A shrink (or a decay pass, which is one) puts every CPU
//! back to the cache's capacity.

/// What a CPU's last slow-path trip was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trip {
    /// None yet, or none since its capacity was reset.
    None,
    /// An allocation found its sheaves empty.
    Underflow,
    /// A free found its sheaves full.
    Overflow,
}

/// Whether a trip `now` in direction `d`, after the trip `last` at
/// `last_at`, alternates soon enough (within `window`, in the same clock;
/// it wraps) to call for more capacity.
pub fn alternates(last: Trip, last_at: usize, d: Trip, now: usize, window: usize) -> bool {
    matches!(
        (last, d),
        (Trip::Underflow, Trip::Overflow) | (Trip::Overflow, Trip::Underflow)
    ) && now.wrapping_sub(last_at) <= window
}

/// The largest capacity a CPU grows to: eight times the cache's `base`,
/// at most `limit` (and never below `base`).
pub fn max_capacity(base: usize, limit: usize) -> usize {
    base.saturating_mul(8).min(limit).max(base)
}

/// The capacity one growth step gives `cap`: half as much again (at least
/// one more), at most `max`.
pub fn grown(cap: usize, max: usize) -> usize {
    cap.saturating_add((cap / 2).max(1)).min(max).max(cap)
}

/// What `cpus` CPUs at capacity `cap` may cache, main and spare sheaves
/// full: the budget's measure.
pub fn cached(cap: usize, cpus: usize) -> usize {
    cap.saturating_mul(2).saturating_mul(cpus)
}

/// The default budget: every CPU at four times the cache's `base`.
pub fn default_budget(base: usize, cpus: usize) -> usize {
    cached(base.saturating_mul(4), cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_opposite_trips_within_the_window_alternate() {
        use Trip::*;
        assert!(alternates(Underflow, 100, Overflow, 150, 100));
        assert!(alternates(Overflow, 100, Underflow, 200, 100));
        assert!(!alternates(Overflow, 100, Underflow, 201, 100));
        assert!(!alternates(Underflow, 100, Underflow, 101, 100));
        assert!(!alternates(Overflow, 100, Overflow, 101, 100));
        assert!(!alternates(None, 100, Overflow, 101, 100));
        // The clock wraps.
        assert!(alternates(Underflow, usize::MAX - 5, Overflow, 10, 100));
    }

    #[test]
    fn growth_steps_by_half_up_to_the_bound() {
        let max = max_capacity(28, 1024);
        assert_eq!(max, 224);
        let mut steps = [0usize; 8];
        let mut c = 28;
        for s in steps.iter_mut() {
            c = grown(c, max);
            *s = c;
        }
        assert_eq!(steps, [42, 63, 94, 141, 211, 224, 224, 224]);
        assert_eq!(grown(1, 8), 2);
        assert_eq!(grown(0, 8), 1);
        assert_eq!(max_capacity(200, 1024), 1024);
        assert_eq!(max_capacity(2000, 1024), 2000);
    }

    #[test]
    fn budget_measures() {
        assert_eq!(cached(28, 2), 112);
        assert_eq!(default_budget(28, 2), 448);
        assert_eq!(cached(usize::MAX, 2), usize::MAX);
    }
}
