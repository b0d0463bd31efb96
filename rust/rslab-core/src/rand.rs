// SPDX-License-Identifier: GPL-2.0
//! A small, fast pseudo-random generator (xorshift64*), for shuffling and
//! for tests. Not for secrets: the kernel glue seeds it from
//! `get_random_u64()` where unpredictability matters.

/// xorshift64* (Vigna), state never zero.
///
/// # Invariants
///
/// `state != 0`.
#[derive(Clone, Debug)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    /// A generator from `seed` (any value; zero is mapped to a fixed one).
    pub const fn new(seed: u64) -> Self {
        // INVARIANT: replace the one state xorshift cannot leave.
        let state = if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        };
        XorShift64 { state }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift (Lemire), nearly
    /// unbiased for the small ranges used here.
    pub fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.next_u64() as u32) * u64::from(n)) >> 32) as u32
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u32 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = XorShift64::new(1);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            let v = r.below(10);
            assert!(v < 10);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut r = XorShift64::new(0);
        let mut v = [0u32; 64];
        for (i, x) in v.iter_mut().enumerate() {
            *x = i as u32;
        }
        r.shuffle(&mut v);
        let mut sorted = v;
        sorted.sort();
        assert!(sorted.iter().enumerate().all(|(i, &x)| x == i as u32));
        assert_ne!(v, sorted, "64 elements left in order: not shuffled");
    }
}
