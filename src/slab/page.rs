// SPDX-License-Identifier: GPL-2.0
//! The per-page record the pool keeps for this layer: what `struct slab`
//! overlays on `struct page` in the kernel.

use super::{Cache, SlabPool};
use crate::glue::{
    atomic::{Acquire, Atomic, Relaxed, Release},
    rcu::{self, RcuHead},
};
use crate::{
    glue::dword::DWord,
    logic::slab::slabstate::Counters,
    page_pool::{PageRecord, RawBlock},
};
use core::{cell::UnsafeCell, ptr::NonNull};

/// What owns a page of the pool, as its head record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Nobody: the page is free, on a per-CPU list of the pool, or held by
    /// a user of the pool that keeps no record.
    Nobody,
    /// A slab of this cache.
    Slab(NonNull<Cache>),
    /// A large kmalloc block (`kmalloc_large()`).
    LargeKmalloc,
    /// A block of the page allocator's calls (`alloc_pages()`).
    Pages,
}

/// The owner word's encoding: 0 nobody, 1 a large kmalloc block, 2 a block
/// of pages, else the address of a cache (which is never 0, 1 or 2).
const LARGE: usize = 1;
/// See [`LARGE`].
const PAGES: usize = 2;

impl Owner {
    #[inline(always)]
    fn encode(self) -> usize {
        match self {
            Owner::Nobody => 0,
            Owner::LargeKmalloc => LARGE,
            Owner::Pages => PAGES,
            Owner::Slab(c) => c.as_ptr() as usize,
        }
    }

    fn decode(w: usize) -> Owner {
        match w {
            0 => Owner::Nobody,
            LARGE => Owner::LargeKmalloc,
            PAGES => Owner::Pages,
            c => NonNull::new(c as *mut Cache).map_or(Owner::Nobody, Owner::Slab),
        }
    }
}

/// The pool's per-page record for this layer.
///
/// # Invariants
///
/// - `owner` (an [`Owner`]) is set on the head page of a slab, large
///   kmalloc block or block of pages while it exists, and is
///   [`Owner::Nobody`] elsewhere. A slab's owner is its cache, alive while
///   the slab exists. `head` is non-zero only on the other pages of a slab
///   or large kmalloc block (not of a block of pages, which is only ever
///   looked up by its first page), and is then the distance to its head
///   record (in the same chunk's array).
/// - For a head: `base` is its first byte, and `block` holds the pool block,
///   touched only by whoever makes or discards the slab or block (which
///   nobody else can reach then).
/// - For a slab head: `pair` is its `(freelist, counters)` ([`Counters`] in
///   the low 32 bits); `next`/`prev` link the slab on its cache's node
///   partial list (under `list_lock`), or `next`/`slabs` on one CPU's
///   partial list (by that CPU with interrupts off); never both at once.
#[repr(C, align(16))]
pub(crate) struct SlabPage {
    pub(super) pair: DWord,
    owner: Atomic<usize>,
    base: Atomic<*mut u8>,
    pub(super) next: Atomic<*mut SlabPage>,
    pub(super) prev: Atomic<*mut SlabPage>,
    head: Atomic<u32>,
    slabs: Atomic<u32>,
    /// For a head: the node of its pages (`slab_nid()`).
    node: Atomic<u32>,
    /// For a large kmalloc head: its allocinfo tag (0: not counted).
    pub(super) tag: Atomic<u32>,
    block: UnsafeCell<Option<RawBlock>>,
    rcu: UnsafeCell<RcuHead>,
    rcu_cache: Atomic<*const Cache>,
    /// For a slab head: its objects' allocinfo tags, or null (see
    /// `allocinfo::Exts`); freed when the slab is discarded.
    pub(super) exts: Atomic<*mut Atomic<u32>>,
}

// SAFETY: everything but `block` is atomic; `block` is only touched by the
// one owner of the slab or block (type invariant).
unsafe impl Sync for SlabPage {}
// SAFETY: as above; the pointers name other records, which are `Sync`.
unsafe impl Send for SlabPage {}

impl PageRecord for SlabPage {
    fn new() -> Self {
        // INVARIANT: owned by nobody, on no list.
        SlabPage {
            pair: DWord::new(0, 0),
            owner: Atomic::new(0),
            base: Atomic::new(core::ptr::null_mut()),
            next: Atomic::new(core::ptr::null_mut()),
            prev: Atomic::new(core::ptr::null_mut()),
            head: Atomic::new(0),
            slabs: Atomic::new(0),
            node: Atomic::new(0),
            tag: Atomic::new(0),
            block: UnsafeCell::new(None),
            rcu: UnsafeCell::new(RcuHead::default()),
            rcu_cache: Atomic::new(core::ptr::null()),
            exts: Atomic::new(core::ptr::null_mut()),
        }
    }
}

impl SlabPage {
    /// The slab's counters.
    pub(super) fn counters(&self) -> Counters {
        Counters(self.pair.second() as u32)
    }

    /// This record as a list link.
    pub(super) fn as_link(&self) -> *mut SlabPage {
        core::ptr::from_ref(self).cast_mut()
    }

    /// The record a list link or CPU slab names.
    ///
    /// # Safety
    ///
    /// `p` is null or the record of a slab that is not discarded while the
    /// reference is used (it is on a list the caller holds, or the caller
    /// took it off every list).
    #[inline]
    pub(super) unsafe fn from_link<'a>(p: *mut SlabPage) -> Option<&'a SlabPage> {
        // SAFETY: the caller's guarantee.
        unsafe { p.as_ref() }
    }

    /// The slab's first object (its first byte unless red zones come
    /// first), or a large block's first byte.
    pub(crate) fn base(&self) -> *mut u8 {
        self.base.load(Relaxed)
    }

    /// Slabs on the CPU partial list from this one on.
    /// The node of a head's pages (`slab_nid()`).
    pub(crate) fn node(&self) -> usize {
        self.node.load(Relaxed) as usize
    }

    pub(super) fn slabs(&self) -> u32 {
        self.slabs.load(Relaxed)
    }

    pub(super) fn set_slabs(&self, n: u32) {
        self.slabs.store(n, Relaxed);
    }

    /// Whether this is the head record of its slab or block.
    pub(crate) fn is_head(&self) -> bool {
        self.head.load(Relaxed) == 0
    }

    /// The head record of the slab or block this page belongs to.
    pub(crate) fn head_page(&self) -> &SlabPage {
        let h = self.head.load(Relaxed) as usize;
        // SAFETY: a non-zero `head` is the distance to the head page's
        // record in the same chunk's array (type invariant), which lives as
        // long as this one.
        unsafe { &*core::ptr::from_ref(self).sub(h) }
    }

    /// What owns this page's slab or block, read at its head.
    pub(crate) fn owner(&self) -> Owner {
        Owner::decode(self.head_page().owner.load(Acquire))
    }

    /// What owns the page, if this is a head (a plain read for walks).
    pub(super) fn owner_here(&self) -> Owner {
        Owner::decode(self.owner.load(Relaxed))
    }

    /// Whether `owner_here()` is `owner`, by one compare of the owner word
    /// (a free's check, without decoding it).
    #[inline(always)]
    pub(super) fn is_owned_here_by(&self, owner: Owner) -> bool {
        self.owner.load(Relaxed) == owner.encode()
    }

    /// Makes `block` (just allocated from `pool`) a slab or large block
    /// owned by `owner`, its first object `first` bytes in; returns its
    /// head record.
    ///
    /// # Safety
    ///
    /// The caller owns `block`, just allocated from `pool`: nobody else can
    /// reach its records yet.
    #[inline(always)]
    pub(crate) unsafe fn claim(
        pool: &SlabPool,
        block: RawBlock,
        owner: Owner,
        first: usize,
    ) -> *mut SlabPage {
        // SAFETY: the block was just allocated from `pool` (the caller's
        // guarantee).
        let (addr, _, records) = unsafe { pool.parts_of_own(&block) };
        let Some(first_rec) = records.first() else {
            // (A block has at least one page.)
            return core::ptr::null_mut();
        };
        if owner != Owner::Pages {
            for (i, r) in records.iter().enumerate().skip(1) {
                r.head.store(i as u32, Relaxed);
            }
        }
        let base = addr.wrapping_add(first);
        let head = first_rec.as_link();
        // SAFETY: the record lives while its block is out of the pool, which
        // it is until `release` gives it back (the block is kept in it).
        let h = unsafe { &*head };
        h.base.store(base, Relaxed);
        h.node.store(pool.node_of(&block) as u32, Relaxed);
        h.next.store(core::ptr::null_mut(), Relaxed);
        h.prev.store(core::ptr::null_mut(), Relaxed);
        // SAFETY: the block is new and the caller's alone, so nobody else
        // touches its head's `block`.
        unsafe { *h.block.get() = Some(block) };
        // INVARIANT: the owner is published last (release), after the
        // record is complete; the other pages point to their head.
        h.owner.store(owner.encode(), Release);
        head
    }

    /// Gives up a head's block: its records go back to nobody, and the block
    /// is returned, for the caller to free to `pool` (`None` if this head
    /// has none).
    ///
    /// # Safety
    ///
    /// The caller owns the slab or block (is discarding or freeing it):
    /// nobody else touches it, and it is on no list; `pool` is the pool it
    /// was claimed from.
    #[inline(always)]
    pub(crate) unsafe fn release(&self, pool: &SlabPool) -> Option<RawBlock> {
        // SAFETY: the caller owns the block (type invariant on `block`).
        let b = unsafe { (*self.block.get()).take() }?;
        let tails = self.owner_here() != Owner::Pages;
        self.owner.store(0, Relaxed);
        if tails {
            // SAFETY: the block was claimed from `pool` (the caller's
            // guarantee).
            for r in unsafe { pool.parts_of_own(&b) }.2.iter().skip(1) {
                r.head.store(0, Relaxed);
            }
        }
        Some(b)
    }

    /// Splits a head's block (of order `k`) as `__free_pages()` does when
    /// its first page keeps references: the head keeps its first page, as
    /// a block of order 0 still owned as before, and the rest, blocks of
    /// each order below `k`, leave it (their records back to nobody) and go
    /// to `tail`, for the caller to free to `pool`.
    ///
    /// # Safety
    ///
    /// The caller owns the block's pages but the first (it is freeing the
    /// block); the first page's other holders only drop their references
    /// (and the last of them frees what the head then says).
    pub(crate) unsafe fn split_off_tails(&self, pool: &SlabPool, tail: impl FnMut(RawBlock)) {
        // SAFETY: the caller owns the block; its other holders touch
        // `block` only once the first page's count, which the caller
        // decrements after this, reaches 0.
        let slot = unsafe { &mut *self.block.get() };
        let Some(b) = slot.take() else {
            return;
        };
        if self.owner_here() != Owner::Pages {
            for r in pool.records(&b).iter().skip(1) {
                r.head.store(0, Relaxed);
            }
        }
        *slot = Some(pool.split(b, tail));
    }

    /// Discards the slab after an RCU grace period (`SLAB_TYPESAFE_BY_RCU`,
    /// `rcu_free_slab()`): it stops being the cache's now (lookups no longer
    /// find it), and its pages go back to the pool from the RCU callback.
    ///
    /// # Safety
    ///
    /// The slab is `cache`'s, empty and on no list: the caller is its only
    /// owner; `cache` waits for RCU callbacks (`rcu_barrier()`) before it
    /// goes.
    pub(super) unsafe fn free_after_rcu(&self, cache: &Cache) {
        self.rcu_cache.store(core::ptr::from_ref(cache), Relaxed);
        self.owner.store(Owner::Nobody.encode(), Release);
        // SAFETY: the record lives while its block is allocated, which it
        // stays until the callback frees it; nothing else queues `rcu` (the
        // slab is the caller's alone); the cache outlives the callback (the
        // caller's guarantee).
        unsafe { rcu::call_rcu(self.rcu.get(), slab_free_rcu) };
    }

    /// The order of a head's block, if it has one.
    ///
    /// # Safety
    ///
    /// The caller holds the slab or block (or an object of it), so nobody
    /// releases it meanwhile.
    pub(crate) unsafe fn block_order(&self) -> Option<u32> {
        // SAFETY: the caller's guarantee: nobody takes the block meanwhile.
        unsafe { (*self.block.get()).as_ref().map(|b| b.order()) }
    }
}

/// The RCU callback of [`SlabPage::free_after_rcu`]: the slab's pages go
/// back to the pool.
///
/// # Safety
///
/// `head` is the `rcu` field of a slab queued by `free_after_rcu`.
unsafe extern "C" fn slab_free_rcu(head: *mut RcuHead) {
    // SAFETY: `head` is the `rcu` field of a `SlabPage` (the contract), so
    // this is that record, alive while its block is allocated.
    let sp = unsafe {
        &*head
            .byte_sub(core::mem::offset_of!(SlabPage, rcu))
            .cast::<SlabPage>()
    };
    // SAFETY: set before the callback was queued; the cache waits for this
    // callback before it goes.
    let cache = unsafe { &*sp.rcu_cache.load(Relaxed) };
    // SAFETY: `sp` is a slab of `cache` that `free_after_rcu` retired (it
    // queued this callback, once), and its grace period has passed.
    unsafe { cache.rcu_slab_freed(sp) };
}
