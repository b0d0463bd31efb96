// SPDX-License-Identifier: GPL-2.0
//! Buddy free areas over chunks of pages: `__rmqueue_smallest()`, `expand()`
//! and `__free_one_page()` of mm/page_alloc.c, on the pool's own metadata.
//!
//! Pages are named by a *page index*: `slot << max_order | offset`, where a
//! slot holds one chunk (a naturally aligned block the pool took from the
//! kernel, of order `max_order` or, after an order fallback, smaller) and
//! `offset` is the page's position in it. Buddies are found within a chunk
//! only, so merging never crosses a chunk boundary, and a chunk whose first
//! page heads a free block of the chunk's order is entirely free.
//!
//! Per-page state lives in a [`PageMeta`] per page, kept by the caller
//! behind the [`Pages`] trait (the kernel module keeps one array per chunk;
//! the host tests a `Vec`). Nothing here touches the pages themselves.

/// "No page": the end of a free list.
pub const NIL: u32 = u32::MAX;

/// What a page is, from the buddy allocator's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PageState {
    /// Inside a block headed by an earlier page (or in no block: unused slot).
    Tail = 0,
    /// Heads a free block on `free_area[order]` (`PageBuddy`).
    Free = 1,
    /// Heads a block handed out by the free areas: to a user, or to a
    /// per-CPU list (which the free areas do not tell apart, as the kernel's
    /// buddy allocator does not).
    Allocated = 2,
}

/// Per-page metadata (the pool's own `struct page` fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageMeta {
    /// Next page on the free list (`NIL` at the end); meaningful when `Free`.
    pub next: u32,
    /// Previous page on the free list (`NIL` at the head).
    pub prev: u32,
    /// The block's order; meaningful for block heads.
    pub order: u8,
    /// See [`PageState`].
    pub state: PageState,
}

impl PageMeta {
    /// Metadata of a page that is not part of any block yet.
    pub const EMPTY: PageMeta = PageMeta {
        next: NIL,
        prev: NIL,
        order: 0,
        state: PageState::Tail,
    };
}

/// Storage for per-page metadata, indexed by page index.
pub trait Pages {
    /// The metadata of page `idx`, which lies in a chunk.
    fn meta(&self, idx: u32) -> &PageMeta;
    /// The metadata of page `idx`, which lies in a chunk, for writing.
    fn meta_mut(&mut self, idx: u32) -> &mut PageMeta;
    /// The order of the chunk in `slot`, or `None` if the slot is empty.
    fn chunk_order(&self, slot: u32) -> Option<u32>;
    /// The first slot (a NUMA node's free areas cover its own range of
    /// slots, `first_slot()..first_slot() + nr_slots()`).
    fn first_slot(&self) -> u32 {
        0
    }
    /// How many slots there are from [`Pages::first_slot`] (the highest
    /// slot in use plus one, or more).
    fn nr_slots(&self) -> u32;
}

/// What a consistency walk found wrong (the first thing). `idx` is the page
/// index and `order` the order where it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// A free list link does not point back, or leaves the chunks.
    BrokenLink {
        /// The list's order.
        order: u32,
        /// The page.
        idx: u32,
    },
    /// A page on `free_area[order]` is not a free head of that order.
    WrongListEntry {
        /// The list's order.
        order: u32,
        /// The page.
        idx: u32,
    },
    /// `nr_free[order]` differs from the length of the list.
    NrFree {
        /// The list's order.
        order: u32,
        /// Pages found on the list.
        counted: usize,
        /// `nr_free[order]`.
        recorded: usize,
    },
    /// A block is not aligned to its order or runs past its chunk.
    Misaligned {
        /// The block's first page.
        idx: u32,
        /// The block's order.
        order: u32,
    },
    /// A page inside a block is not a tail, or a chunk has a gap.
    BadBlock {
        /// The page.
        idx: u32,
    },
    /// A free block and its free buddy of the same order were not merged.
    Unmerged {
        /// The block's first page.
        idx: u32,
        /// The block's order.
        order: u32,
    },
    /// Free blocks exist that are on no list.
    Unlisted,
}

/// What a consistency walk counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Pages in all chunks.
    pub pages: usize,
    /// Pages in free blocks.
    pub free: usize,
    /// Pages in allocated blocks (held by users or per-CPU lists).
    pub allocated: usize,
    /// Chunks.
    pub chunks: usize,
}

/// The free areas: one list of free blocks per order, `0..=max_order`.
///
/// # Invariants
///
/// For each order, `head[order]` starts a doubly linked list (through
/// [`PageMeta::next`]/[`PageMeta::prev`]) of exactly `nr_free[order]` pages,
/// each the head of a free block of that order ([`PageState::Free`]), and
/// every free head is on the list of its order.
pub struct FreeArea<const ORDERS: usize> {
    head: [u32; ORDERS],
    nr_free: [usize; ORDERS],
}

impl<const ORDERS: usize> Default for FreeArea<ORDERS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const ORDERS: usize> FreeArea<ORDERS> {
    /// The largest order: chunks are at most this big.
    pub const MAX_ORDER: u32 = ORDERS as u32 - 1;

    /// Empty free areas.
    pub const fn new() -> Self {
        FreeArea {
            head: [NIL; ORDERS],
            nr_free: [0; ORDERS],
        }
    }

    /// The number of free blocks of each order (`/proc/buddyinfo`).
    pub fn nr_free(&self) -> &[usize; ORDERS] {
        &self.nr_free
    }

    /// Free pages in all free areas.
    pub fn free_pages(&self) -> usize {
        self.nr_free.iter().enumerate().map(|(o, n)| n << o).sum()
    }

    /// The slot holding page `idx`.
    pub const fn slot_of(idx: u32) -> u32 {
        idx >> Self::MAX_ORDER
    }

    /// The first page index of `slot`.
    pub const fn slot_base(slot: u32) -> u32 {
        slot << Self::MAX_ORDER
    }

    fn push(&mut self, p: &mut impl Pages, idx: u32, order: u32) {
        let head = self.head[order as usize];
        *p.meta_mut(idx) = PageMeta {
            next: head,
            prev: NIL,
            order: order as u8,
            state: PageState::Free,
        };
        if head != NIL {
            p.meta_mut(head).prev = idx;
        }
        self.head[order as usize] = idx;
        self.nr_free[order as usize] += 1;
    }

    fn unlink(&mut self, p: &mut impl Pages, idx: u32, order: u32) {
        let m = *p.meta(idx);
        debug_assert_eq!(m.state, PageState::Free);
        if m.prev == NIL {
            self.head[order as usize] = m.next;
        } else {
            p.meta_mut(m.prev).next = m.next;
        }
        if m.next != NIL {
            p.meta_mut(m.next).prev = m.prev;
        }
        self.nr_free[order as usize] -= 1;
    }

    /// Adds the chunk in `slot` (its order set in `p`), all free, as one
    /// block. Every page of it must be [`PageState::Tail`] beforehand.
    pub fn add_chunk(&mut self, p: &mut impl Pages, slot: u32) {
        let order = p.chunk_order(slot).expect("add_chunk of an empty slot");
        self.push(p, Self::slot_base(slot), order);
    }

    /// Whether the chunk in `slot` is one whole free block.
    pub fn chunk_is_free(&self, p: &impl Pages, slot: u32) -> bool {
        let Some(order) = p.chunk_order(slot) else {
            return false;
        };
        let m = p.meta(Self::slot_base(slot));
        m.state == PageState::Free && u32::from(m.order) == order
    }

    /// Takes the wholly free chunk in `slot` off the free areas, so that it
    /// can be given back to the kernel. Returns `false` (and changes nothing)
    /// if the chunk is not wholly free.
    pub fn remove_chunk(&mut self, p: &mut impl Pages, slot: u32) -> bool {
        if !self.chunk_is_free(p, slot) {
            return false;
        }
        let base = Self::slot_base(slot);
        let order = u32::from(p.meta(base).order);
        self.unlink(p, base, order);
        *p.meta_mut(base) = PageMeta::EMPTY;
        true
    }

    /// Allocates a block of `order` (`__rmqueue_smallest` + `expand`):
    /// takes the first block of the smallest sufficient order and splits it,
    /// returning the upper halves. Returns the block's first page and the
    /// order it was taken from (so `taken - order` splits happened), or
    /// `None` if no block is big enough.
    pub fn alloc(&mut self, p: &mut impl Pages, order: u32) -> Option<(u32, u32)> {
        if order > Self::MAX_ORDER {
            return None;
        }
        for current in order..=Self::MAX_ORDER {
            let idx = self.head[current as usize];
            if idx == NIL {
                continue;
            }
            self.unlink(p, idx, current);
            for (half, o) in super::buddy::expand(idx as usize, order, current) {
                self.push(p, half as u32, o);
            }
            *p.meta_mut(idx) = PageMeta {
                next: NIL,
                prev: NIL,
                order: order as u8,
                state: PageState::Allocated,
            };
            return Some((idx, current));
        }
        None
    }

    /// Frees the block of `order` at `idx` (`__free_one_page`): merges it
    /// with its buddy while the buddy is a free block of the same order
    /// inside the same chunk. Returns the number of merges.
    ///
    /// The block must be allocated (or on a per-CPU list) with this order.
    pub fn free(&mut self, p: &mut impl Pages, idx: u32, order: u32) -> u32 {
        let slot = Self::slot_of(idx);
        let chunk_order = p.chunk_order(slot).expect("free into an empty slot");
        let base = Self::slot_base(slot);
        let mut off = (idx - base) as usize;
        let mut order = order;
        let mut merges = 0;
        *p.meta_mut(idx) = PageMeta::EMPTY;
        while order < chunk_order {
            let buddy = base + super::buddy::buddy_pfn(off, order) as u32;
            let b = *p.meta(buddy);
            if b.state != PageState::Free || u32::from(b.order) != order {
                break;
            }
            self.unlink(p, buddy, order);
            *p.meta_mut(buddy) = PageMeta::EMPTY;
            off = super::buddy::combined_pfn(off, order);
            order += 1;
            merges += 1;
        }
        self.push(p, base + off as u32, order);
        merges
    }

    /// Splits the allocated block of `order` at `idx` into allocated
    /// blocks: its first page (order 0) and the buddies `idx + (1 << o)` of
    /// each order `o` below `order`, which is what `__free_pages()` frees
    /// of a non-compound block whose first page still has references.
    /// Returns the buddies, largest first; nothing changes (and `None`
    /// comes back) unless `idx` heads an allocated block of `order`.
    pub fn split(
        p: &mut impl Pages,
        idx: u32,
        order: u32,
    ) -> Option<impl Iterator<Item = (u32, u32)>> {
        let m = *p.meta(idx);
        if m.state != PageState::Allocated || u32::from(m.order) != order {
            return None;
        }
        let parts = (0..order).rev().map(move |o| (idx + (1 << o), o));
        p.meta_mut(idx).order = 0;
        for (head, o) in parts.clone() {
            *p.meta_mut(head) = PageMeta {
                next: NIL,
                prev: NIL,
                order: o as u8,
                state: PageState::Allocated,
            };
        }
        Some(parts)
    }

    /// Walks every list and every chunk and checks all the invariants: the
    /// lists are well linked and counted, every block is aligned and inside
    /// its chunk, the blocks of each chunk tile it exactly, every free block
    /// is listed, and no free block has a free buddy of its own order.
    pub fn check(&self, p: &impl Pages) -> Result<Census, CheckError> {
        let mut listed = 0usize;
        for order in 0..ORDERS as u32 {
            let mut counted = 0usize;
            let mut prev = NIL;
            let mut idx = self.head[order as usize];
            while idx != NIL {
                if p.chunk_order(Self::slot_of(idx)).is_none()
                    || counted > self.nr_free[order as usize]
                {
                    return Err(CheckError::BrokenLink { order, idx });
                }
                let m = p.meta(idx);
                if m.prev != prev {
                    return Err(CheckError::BrokenLink { order, idx });
                }
                if m.state != PageState::Free || u32::from(m.order) != order {
                    return Err(CheckError::WrongListEntry { order, idx });
                }
                counted += 1;
                prev = idx;
                idx = m.next;
            }
            if counted != self.nr_free[order as usize] {
                return Err(CheckError::NrFree {
                    order,
                    counted,
                    recorded: self.nr_free[order as usize],
                });
            }
            listed += counted;
        }

        let mut c = Census::default();
        let mut free_heads = 0usize;
        for slot in p.first_slot()..p.first_slot() + p.nr_slots() {
            let Some(chunk_order) = p.chunk_order(slot) else {
                continue;
            };
            c.chunks += 1;
            let base = Self::slot_base(slot);
            let end = 1u32 << chunk_order;
            c.pages += end as usize;
            let mut off = 0u32;
            while off < end {
                let idx = base + off;
                let m = *p.meta(idx);
                let order = u32::from(m.order);
                if m.state == PageState::Tail {
                    return Err(CheckError::BadBlock { idx });
                }
                if order > chunk_order || !super::buddy::is_aligned(off as usize, order) {
                    return Err(CheckError::Misaligned { idx, order });
                }
                for t in 1..(1u32 << order) {
                    if p.meta(idx + t).state != PageState::Tail {
                        return Err(CheckError::BadBlock { idx: idx + t });
                    }
                }
                let n = 1usize << order;
                match m.state {
                    PageState::Free => {
                        c.free += n;
                        free_heads += 1;
                        if order < chunk_order {
                            let b = base + super::buddy::buddy_pfn(off as usize, order) as u32;
                            let bm = p.meta(b);
                            if bm.state == PageState::Free && u32::from(bm.order) == order {
                                return Err(CheckError::Unmerged { idx, order });
                            }
                        }
                    }
                    PageState::Allocated => c.allocated += n,
                    PageState::Tail => unreachable!(),
                }
                off += 1 << order;
            }
        }
        if free_heads != listed || c.free != self.free_pages() {
            return Err(CheckError::Unlisted);
        }
        Ok(c)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    extern crate std;
    use super::*;
    use crate::rand::XorShift64;
    use std::{vec, vec::Vec};

    pub(crate) const ORDERS: usize = 11;
    pub(crate) type Area = FreeArea<ORDERS>;

    /// Per-page metadata in one Vec, for up to `slots` chunks.
    pub(crate) struct VecPages {
        pub meta: Vec<PageMeta>,
        pub orders: Vec<Option<u32>>,
    }

    impl VecPages {
        pub fn new(slots: usize) -> Self {
            VecPages {
                meta: vec![PageMeta::EMPTY; slots << (ORDERS - 1)],
                orders: vec![None; slots],
            }
        }
    }

    impl Pages for VecPages {
        fn meta(&self, idx: u32) -> &PageMeta {
            &self.meta[idx as usize]
        }
        fn meta_mut(&mut self, idx: u32) -> &mut PageMeta {
            &mut self.meta[idx as usize]
        }
        fn chunk_order(&self, slot: u32) -> Option<u32> {
            self.orders[slot as usize]
        }
        fn nr_slots(&self) -> u32 {
            self.orders.len() as u32
        }
    }

    /// A node's pages: slots `first..first + n` of a larger index space.
    struct NodePages {
        first: u32,
        inner: VecPages,
    }

    impl Pages for NodePages {
        fn meta(&self, idx: u32) -> &PageMeta {
            self.inner.meta(idx - (self.first << (ORDERS - 1)))
        }
        fn meta_mut(&mut self, idx: u32) -> &mut PageMeta {
            self.inner.meta_mut(idx - (self.first << (ORDERS - 1)))
        }
        fn chunk_order(&self, slot: u32) -> Option<u32> {
            self.inner.chunk_order(slot.checked_sub(self.first)?)
        }
        fn first_slot(&self) -> u32 {
            self.first
        }
        fn nr_slots(&self) -> u32 {
            self.inner.nr_slots()
        }
    }

    /// Free areas over a range of slots that does not start at 0 (a NUMA
    /// node's): page indexes are those of the range, and the walk checks
    /// exactly the range's chunks.
    #[test]
    fn a_slot_range_is_allocated_merged_and_checked() {
        let mut a = Area::new();
        let mut p = NodePages {
            first: 4,
            inner: VecPages::new(2),
        };
        p.inner.orders[0] = Some(10);
        p.inner.orders[1] = Some(3);
        a.add_chunk(&mut p, 4);
        a.add_chunk(&mut p, 5);
        let c = a.check(&p).unwrap();
        assert_eq!((c.chunks, c.pages, c.free), (2, 1024 + 8, 1024 + 8));
        let mut got = Vec::new();
        while let Some((idx, _)) = a.alloc(&mut p, 0) {
            assert!((4 << 10..6 << 10).contains(&idx));
            got.push(idx);
        }
        assert_eq!(got.len(), 1024 + 8);
        assert_eq!(a.check(&p).unwrap().allocated, 1024 + 8);
        for idx in got {
            a.free(&mut p, idx, 0);
        }
        assert!(a.chunk_is_free(&p, 4) && a.chunk_is_free(&p, 5));
        assert!(a.remove_chunk(&mut p, 5));
        p.inner.orders[1] = None;
        assert_eq!(a.check(&p).unwrap().pages, 1024);
    }

    fn with_chunks(orders: &[u32]) -> (Area, VecPages) {
        let mut a = Area::new();
        let mut p = VecPages::new(orders.len());
        for (slot, &o) in orders.iter().enumerate() {
            p.orders[slot] = Some(o);
            a.add_chunk(&mut p, slot as u32);
        }
        (a, p)
    }

    #[test]
    fn all_order0_pages_of_a_chunk_merge_back_in_any_order() {
        for seed in 1..20 {
            let (mut a, mut p) = with_chunks(&[10]);
            let mut r = XorShift64::new(seed);
            let mut got = Vec::new();
            while let Some((idx, _)) = a.alloc(&mut p, 0) {
                got.push(idx);
            }
            assert_eq!(got.len(), 1024);
            assert_eq!(a.free_pages(), 0);
            a.check(&p).unwrap();
            r.shuffle(&mut got);
            for idx in got {
                a.free(&mut p, idx, 0);
                a.check(&p).unwrap();
            }
            assert!(a.chunk_is_free(&p, 0));
            assert_eq!(a.nr_free()[10], 1);
            assert_eq!(a.free_pages(), 1024);
        }
    }

    #[test]
    fn alloc_splits_the_smallest_sufficient_block() {
        let (mut a, mut p) = with_chunks(&[10]);
        let (idx, taken) = a.alloc(&mut p, 3).unwrap();
        assert_eq!((idx, taken), (0, 10));
        // expand() leaves one free block of each order 3..=9.
        for o in 3..10 {
            assert_eq!(a.nr_free()[o], 1, "order {o}");
        }
        // The next order-3 request takes the order-3 half without splitting.
        assert_eq!(a.alloc(&mut p, 3).unwrap(), (8, 3));
        assert_eq!(a.nr_free()[3], 0);
        a.check(&p).unwrap();
    }

    #[test]
    fn a_split_block_frees_back_piece_by_piece() {
        let (mut a, mut p) = with_chunks(&[10]);
        let (idx, _) = a.alloc(&mut p, 3).unwrap();
        // Only an allocated head of that order splits.
        assert!(Area::split(&mut p, idx, 2).is_none());
        assert!(Area::split(&mut p, idx + 1, 3).is_none());
        let parts: Vec<_> = Area::split(&mut p, idx, 3).unwrap().collect();
        assert_eq!(parts, [(idx + 4, 2), (idx + 2, 1), (idx + 1, 0)]);
        assert_eq!(a.free_pages(), 1024 - 8);
        for (i, o) in parts {
            a.free(&mut p, i, o);
        }
        assert_eq!(a.free_pages(), 1024 - 1);
        a.check(&p).unwrap();
        a.free(&mut p, idx, 0);
        assert_eq!(a.nr_free()[10], 1);
        a.check(&p).unwrap();
    }

    #[test]
    fn merging_stops_at_the_chunk_boundary() {
        // Two order-2 chunks side by side in index space are not buddies.
        let (mut a, mut p) = with_chunks(&[2, 2]);
        let x = a.alloc(&mut p, 2).unwrap().0;
        let y = a.alloc(&mut p, 2).unwrap().0;
        a.free(&mut p, x, 2);
        a.free(&mut p, y, 2);
        assert_eq!(a.nr_free()[2], 2);
        assert_eq!(a.nr_free()[3], 0);
        a.check(&p).unwrap();
    }

    #[test]
    fn too_big_or_exhausted_requests_fail_cleanly() {
        let (mut a, mut p) = with_chunks(&[4]);
        assert_eq!(a.alloc(&mut p, 5), None);
        assert_eq!(a.alloc(&mut p, 11), None);
        assert_eq!(a.alloc(&mut p, 99), None);
        assert!(a.alloc(&mut p, 4).is_some());
        assert_eq!(a.alloc(&mut p, 0), None);
        a.check(&p).unwrap();
    }

    #[test]
    fn remove_chunk_only_when_wholly_free() {
        let (mut a, mut p) = with_chunks(&[10, 10]);
        let (idx, _) = a.alloc(&mut p, 0).unwrap();
        let slot = Area::slot_of(idx);
        assert!(!a.remove_chunk(&mut p, slot));
        a.check(&p).unwrap();
        a.free(&mut p, idx, 0);
        assert!(a.remove_chunk(&mut p, slot));
        p.orders[slot as usize] = None;
        assert_eq!(a.free_pages(), 1024);
        let c = a.check(&p).unwrap();
        assert_eq!((c.chunks, c.pages, c.free), (1, 1024, 1024));
    }

    /// Random alloc/free sequences over chunks of mixed orders: every block
    /// is aligned to its order and disjoint from every other live block, the
    /// free count is conserved, the structure checks out after every step,
    /// and freeing everything merges every chunk back into one block.
    #[test]
    fn random_sequences_conserve_pages_and_merge_fully() {
        for seed in 1..=40u64 {
            let orders = [10, 10, 7, 3];
            let total: usize = orders.iter().map(|o| 1usize << o).sum();
            let (mut a, mut p) = with_chunks(&orders);
            let mut r = XorShift64::new(seed);
            let mut live: Vec<(u32, u32)> = Vec::new();
            let mut owner = vec![false; p.meta.len()];
            for step in 0..3000 {
                if live.is_empty() || r.below(100) < 55 {
                    let order = r.below(6);
                    if let Some((idx, taken)) = a.alloc(&mut p, order) {
                        assert!(taken >= order);
                        let off = idx & ((1 << Area::MAX_ORDER) - 1);
                        assert!(super::super::buddy::is_aligned(off as usize, order));
                        for i in idx..idx + (1 << order) {
                            assert!(!owner[i as usize], "page {i} handed out twice");
                            owner[i as usize] = true;
                        }
                        live.push((idx, order));
                    }
                } else {
                    let k = r.below(live.len() as u32) as usize;
                    let (idx, order) = live.swap_remove(k);
                    for i in idx..idx + (1 << order) {
                        owner[i as usize] = false;
                    }
                    a.free(&mut p, idx, order);
                }
                let held: usize = live.iter().map(|&(_, o)| 1usize << o).sum();
                assert_eq!(a.free_pages() + held, total, "seed {seed} step {step}");
                if step % 16 == 0 {
                    let c = a.check(&p).unwrap();
                    assert_eq!(c.allocated, held);
                }
            }
            for (idx, order) in live.drain(..) {
                a.free(&mut p, idx, order);
            }
            a.check(&p).unwrap();
            for slot in 0..orders.len() as u32 {
                assert!(
                    a.chunk_is_free(&p, slot),
                    "seed {seed}: chunk {slot} not merged"
                );
            }
        }
    }

    #[test]
    fn check_catches_corruption() {
        let (mut a, mut p) = with_chunks(&[4]);
        let (idx, _) = a.alloc(&mut p, 0).unwrap();
        a.check(&p).unwrap();
        // A block claimed free without being listed.
        p.meta[idx as usize].state = PageState::Free;
        assert!(a.check(&p).is_err());
        p.meta[idx as usize].state = PageState::Allocated;
        // A tail turned into a second head inside a block.
        let (big, _) = a.alloc(&mut p, 2).unwrap();
        p.meta[big as usize + 1] = PageMeta {
            order: 0,
            state: PageState::Allocated,
            ..PageMeta::EMPTY
        };
        assert_eq!(a.check(&p), Err(CheckError::BadBlock { idx: big + 1 }));
    }
}
