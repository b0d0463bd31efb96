// SPDX-License-Identifier: GPL-2.0
//! SLUB's debug features (`CONFIG_SLUB_DEBUG` of 7.3) for caches made with
//! any of `SLAB_CONSISTENCY_CHECKS` (F), `SLAB_RED_ZONE` (Z), `SLAB_POISON`
//! (P), `SLAB_STORE_USER` (U) or `SLAB_TRACE` (T), by create flags or the
//! `slub_debug=` module parameter.
//!
//! A debug cache takes the slow paths only, as SLUB's does: no CPU slab, no
//! CPU partial list, no sheaves. Each allocation takes one object off a node
//! partial slab (or a new slab) under `list_lock` and checks it
//! (`alloc_single_from_partial()`, `alloc_debug_processing()`); each free
//! checks the object and puts it back under `list_lock`
//! (`free_to_partial_list()`, `free_debug_processing()`). Object layout,
//! fill bytes, checks, report formats and repairs are SLUB's (see 7.3's
//! "Object field layout" comment in mm/slub.c); [`Layout`] holds the
//! geometry.
//!
//! Every report counts on the cache ([`Cache::errors`]) where SLUB's
//! `slab_add_kunit_errors()` counts one, so the ported slub_kunit cases
//! assert the same numbers. Differences: addresses print unhashed; no
//! `WARN_ON()` or taint after a report; double frees and frees of
//! addresses inside objects are caught on every debug cache, not only with
//! F.
//!
//! # Kept and held slabs
//!
//! Most functions here read or write a slab's memory through addresses,
//! and are `unsafe`. Their contracts call a slab *kept* if it is a slab of
//! this cache that is not discarded while the function runs: the caller
//! holds its node's `list_lock` (under which slabs are discarded), an
//! object of it, or the slab itself. A kept slab is *held* if, moreover,
//! nobody else changes its freelist, its counters or its objects' metadata
//! meanwhile: a debug cache's slab under its node's `list_lock` (every
//! change of one is made under it), or a slab the caller has alone (new,
//! or taken off every list).
//!
//! The code is split by concern: [`init`] (object initialisation: red
//! zones, poison, the size asked for), [`track`] (the allocation and free
//! tracks), [`check`] (the checks and repairs of objects and slabs, and the
//! validation of a slab), [`alloc_free`] (a debug cache's allocation and free,
//! with their checks), [`report`] (SLUB's report formats).
//!
//! [`Layout`]: crate::logic::slab::layout::Layout

mod alloc_free;
mod check;
mod init;
mod report;
mod track;

pub(crate) use track::{Track, TrackItem};

use super::{Cache, SlabPage};
use crate::glue::atomic::Relaxed;
use kernel::{bindings, str::CStr};

const KERN_ERR: &CStr = c"\x013";
const KERN_INFO: &CStr = c"\x016";

/// The byte at `a` (slab memory, which another CPU may be writing: a
/// volatile read, as SLUB's `memchr_inv()` reads it racily).
///
/// # Safety
///
/// `a` is mapped slab memory.
unsafe fn byte(a: usize) -> u8 {
    // SAFETY: the caller's guarantee.
    unsafe { core::ptr::read_volatile(a as *const u8) }
}

/// `memchr_inv()`: the first byte of `a..a + len` that is not `val`.
///
/// # Safety
///
/// The range is mapped slab memory.
unsafe fn first_not(a: usize, len: usize, val: u8) -> Option<usize> {
    // SAFETY: the caller's guarantee.
    (a..a.wrapping_add(len)).find(|&p| unsafe { byte(p) } != val)
}

/// Whether object `k` is marked in an object bitmap.
fn marked(bits: &[u64], k: usize) -> bool {
    bits.get(k / 64).is_some_and(|b| b & (1 << (k % 64)) != 0)
}

/// `memset()` of slab metadata.
///
/// # Safety
///
/// The range is slab memory the caller may write: metadata of the
/// caller's cache, or an object it owns.
unsafe fn fill(a: usize, len: usize, val: u8) {
    // SAFETY: the caller's guarantee.
    unsafe { core::ptr::write_bytes(a as *mut u8, val, len) };
}

impl Cache {
    /// `kmem_cache_debug()`: a debug cache, which takes the slow paths.
    #[inline(always)]
    pub(crate) fn is_debug(&self) -> bool {
        self.layout.debug()
    }

    fn has(&self, flag: u32) -> bool {
        self.layout.flags & flag != 0
    }

    /// One error for the slub_kunit count (`slab_add_kunit_errors()`).
    pub(super) fn count_error(&self) {
        self.errors.add(1, Relaxed);
        super::TOTAL_ERRORS.add(1, Relaxed);
    }

    /// The first byte of the slab (before the first object's red zone).
    fn slab_start(&self, s: &SlabPage) -> usize {
        (s.base() as usize).wrapping_sub(self.layout.red_left_pad as usize)
    }

    /// The slab's size in bytes.
    ///
    /// # Safety
    ///
    /// `s` is kept (see the module documentation).
    unsafe fn slab_bytes(&self, s: &SlabPage) -> usize {
        // SAFETY: `s` is not discarded meanwhile (our caller's guarantee),
        // so nobody takes its block.
        let order = unsafe { s.block_order() }.unwrap_or(0);
        (1usize << bindings::PAGE_SHIFT) << order
    }
}
