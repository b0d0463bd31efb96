// SPDX-License-Identifier: GPL-2.0
//! Time-based decay: when memory a cache or the pool keeps free goes back.
//!
//! SLUB and the page allocator keep what their per-CPU caches, partial
//! lists and free areas grew to until something shrinks them. With decay
//! on (`decay_ms` > 0), an owner (a cache, or the pool) that has been idle
//! for a whole period gives back what it keeps free above its floor, as
//! mimalloc's purge delay does: a period in which it allocated or freed
//! anything only starts the wait again.
//!
//! The owner's slow paths *arm* the decay when they make free memory that it
//! may keep (a new slab, a slab that emptied, a chunk taken from the kernel,
//! pages drained back to the free areas); an armed owner is looked at once
//! per period, by a deferrable timer (it never wakes an idle CPU). A look
//! compares the owner's activity (the sum of its allocation and free
//! counters) with the previous look's: changed, it looks again a period
//! later; unchanged, it decays and disarms, so that an idle system has no
//! timer of rslab's pending. The fast paths do not take part.

/// The longest period `decay_ms` takes (an hour): a value from userspace is
/// bounded here, before anything converts it.
pub const MAX_DECAY_MS: u32 = 3_600_000;

/// Whether `ms` is a `decay_ms` rslab takes: 0 (off) to [`MAX_DECAY_MS`].
pub fn valid_decay_ms(ms: u64) -> bool {
    ms <= u64::from(MAX_DECAY_MS)
}

/// What a look at an armed owner does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Decay is off (`decay_ms` is 0): disarm without decaying.
    Off,
    /// The owner was active since the previous look (or this is the first
    /// look since it was armed): remember `now` and look again a period
    /// later.
    Wait,
    /// Idle for a whole period: give back what is kept free, and disarm.
    Decay,
}

/// The look at an owner whose decay period is `ms`, whose activity was
/// `seen` at the previous look (`None` for the first look since it was
/// armed) and is `now`.
pub fn step(ms: u32, seen: Option<u64>, now: u64) -> Step {
    match seen {
        _ if ms == 0 => Step::Off,
        Some(s) if s == now => Step::Decay,
        _ => Step::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_disarms_whatever_was_seen() {
        assert_eq!(step(0, None, 5), Step::Off);
        assert_eq!(step(0, Some(5), 5), Step::Off);
    }

    #[test]
    fn first_look_waits() {
        assert_eq!(step(1000, None, 0), Step::Wait);
        assert_eq!(step(1000, None, 7), Step::Wait);
    }

    #[test]
    fn idle_period_decays_active_one_waits() {
        assert_eq!(step(1000, Some(7), 7), Step::Decay);
        assert_eq!(step(1000, Some(7), 8), Step::Wait);
        // A counter cleared from sysfs reads lower: activity, not idleness.
        assert_eq!(step(1000, Some(7), 0), Step::Wait);
    }

    #[test]
    fn bound() {
        assert!(valid_decay_ms(0));
        assert!(valid_decay_ms(u64::from(MAX_DECAY_MS)));
        assert!(!valid_decay_ms(u64::from(MAX_DECAY_MS) + 1));
        assert!(!valid_decay_ms(u64::MAX));
    }
}
