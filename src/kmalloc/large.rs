// SPDX-License-Identifier: GPL-2.0
//! `kmalloc_large()`: requests above the largest class take a block of
//! pages from the pool, recorded in its head page's record as owned by a
//! large kmalloc block, so that `kfree()` and `ksize()` find it.

use super::Kmalloc;
use crate::{
    glue::gfp::Gfp,
    slab::{Owner, SlabPage},
};
use kernel::prelude::*;

impl Kmalloc {
    /// A block of `1 << order` pages for a large kmalloc; null if no memory
    /// could be had.
    #[inline(never)]
    pub(super) fn alloc_large(&self, order: u32, gfp: Gfp) -> *mut u8 {
        self.alloc_large_node(order, gfp, None)
    }

    /// [`Kmalloc::alloc_large`] of node `nid`'s pages (the CPU's node for
    /// `None`; another node's if that one has none, as the pool falls back).
    pub(super) fn alloc_large_node(&self, order: u32, gfp: Gfp, nid: Option<usize>) -> *mut u8 {
        let Some(b) = self.pool.alloc_node(order, gfp, nid) else {
            return core::ptr::null_mut();
        };
        let addr = self.pool.addr(&b);
        // SAFETY: `b` was just allocated from the pool and is ours alone.
        unsafe { SlabPage::claim(&self.pool, b, Owner::LargeKmalloc, 0) };
        addr
    }

    /// Frees the large block whose head record is `head`, if `p` is its
    /// first byte (else reports the bad free and keeps the block).
    ///
    /// # Safety
    ///
    /// `p` is a live allocation inside that block, being freed: it is not
    /// used again.
    #[inline(never)]
    pub(super) unsafe fn free_large(&self, head: &SlabPage, p: *mut u8) {
        if head.base() != p {
            pr_err!("kfree of {:#x}: inside a large block\n", p as usize);
            return;
        }
        // SAFETY: `p` heads the block and is being freed, so the caller owns
        // the block; it is on no list.
        match unsafe { head.release(&self.pool) } {
            Some(b) => self.pool.free(b),
            None => pr_err!("kfree of {:#x}: not a block head\n", p as usize),
        }
    }
}
