// SPDX-License-Identifier: GPL-2.0
//! Buddy arithmetic, as in mm/page_alloc.c and mm/internal.h.
//!
//! Pages are named by page frame numbers (pfns) or by indices relative to a
//! naturally aligned chunk; both work the same way because a chunk of order
//! `max_order` starts at a pfn that is a multiple of `1 << max_order`.

/// The buddy of the block of `1 << order` pages at `pfn` (`__find_buddy_pfn`).
///
/// `pfn` must be aligned to `1 << order`.
#[inline]
pub const fn buddy_pfn(pfn: usize, order: u32) -> usize {
    pfn ^ (1 << order)
}

/// The first pfn of the order `order + 1` block formed by merging the block
/// at `pfn` with its buddy.
#[inline]
pub const fn combined_pfn(pfn: usize, order: u32) -> usize {
    pfn & !(1 << order)
}

/// Whether `pfn` is naturally aligned for a block of `1 << order` pages.
#[inline]
pub const fn is_aligned(pfn: usize, order: u32) -> bool {
    pfn & ((1 << order) - 1) == 0
}

/// The smallest order whose block holds `size` bytes with pages of
/// `1 << page_shift` bytes (`get_order`). `size` 0 gives order 0, as the
/// kernel's `get_order(0)` is undefined and we choose the harmless answer.
#[inline]
pub const fn get_order(size: usize, page_shift: u32) -> u32 {
    if size <= (1 << page_shift) {
        return 0;
    }
    let pages = (size - 1) >> page_shift; // last page index
    usize::BITS - pages.leading_zeros()
}

/// The halves that `expand()` gives back to the free lists when a block of
/// order `high` at `pfn` is split down to a block of order `low`: yields
/// `(pfn, order)` for each upper half, from the largest down. The caller keeps
/// the block of order `low` at `pfn` itself.
pub fn expand(pfn: usize, low: u32, high: u32) -> impl Iterator<Item = (usize, u32)> {
    (low..high)
        .rev()
        .map(move |order| (pfn + (1 << order), order))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buddy_is_an_involution_within_the_parent() {
        for order in 0..=10 {
            for pfn in (0..4096).step_by(1 << order) {
                let b = buddy_pfn(pfn, order);
                assert_eq!(buddy_pfn(b, order), pfn);
                assert_ne!(b, pfn);
                assert!(is_aligned(b, order));
                assert_eq!(combined_pfn(pfn, order), combined_pfn(b, order));
                assert!(is_aligned(combined_pfn(pfn, order), order + 1));
            }
        }
    }

    #[test]
    fn get_order_matches_the_kernel() {
        assert_eq!(get_order(0, 12), 0);
        assert_eq!(get_order(1, 12), 0);
        assert_eq!(get_order(4096, 12), 0);
        assert_eq!(get_order(4097, 12), 1);
        assert_eq!(get_order(8192, 12), 1);
        assert_eq!(get_order(8193, 12), 2);
        assert_eq!(get_order(4096 << 10, 12), 10);
        assert_eq!(get_order((4096 << 10) + 1, 12), 11);
    }

    #[test]
    fn expand_covers_the_block_exactly() {
        for high in 0..=10u32 {
            for low in 0..=high {
                let pfn = 3 << 10;
                let mut covered = 1usize << low;
                let mut last = u32::MAX;
                for (p, o) in expand(pfn, low, high) {
                    assert!(o < last, "halves come largest first");
                    last = o;
                    assert!(is_aligned(p, o));
                    assert_eq!(p, pfn + (1 << o));
                    covered += 1 << o;
                }
                assert_eq!(covered, 1 << high);
            }
        }
    }
}
