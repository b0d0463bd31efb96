// SPDX-License-Identifier: GPL-2.0
//! `kmalloc_nolock()` and `kfree_nolock()` (7.3): the kmalloc family for
//! any context, NMI included, and for code that may have interrupted rslab
//! itself (a kprobe or tracing handler): never a spin on a lock, never a
//! sleep. See `src/slab/nolock.rs` for a cache's part.
//!
//! An allocation tries its class, then once the next one (7.3's retry:
//! another class's locks are likely free when one's were taken), and gives
//! null when both would have to wait, or for a size past the classes (no
//! large kmalloc, as in 7.3). A free the fast path cannot take goes onto
//! this CPU's lock-free list, which an irq_work empties soon after with
//! ordinary frees ([`Deferred`], 7.3's `defer_free()`): nothing is lost,
//! and [`Kmalloc::sync_deferred`] waits for them.

use super::{bad_kfree, Kmalloc, ZERO_SIZE_PTR};
use crate::{
    glue::{gfp::Gfp, irq_work::Deferred, percpu::IrqsOff},
    slab::{Owner, SlabPool},
};

/// The irq_work's frees: each item of the list is the free pointer word of
/// an object of a cache of the pool at `pool` (the list links through it, as
/// 7.3's `defer_free()` links `head + s->offset`: outside the object, or at
/// least outside its red zones, where the cache has any), freed as `kfree()`
/// frees it.
///
/// # Safety
///
/// `pool` is the address of the [`SlabPool`] of the [`Kmalloc`] whose
/// [`Deferred`] runs this, and `first` a list of objects of its caches that
/// their owners gave up ([`Kmalloc::kfree_nolock`]'s guarantee), in hard
/// interrupt context.
unsafe fn free_deferred(pool: usize, first: usize) {
    // SAFETY: the `Kmalloc` holds its pool, and syncs its `Deferred` (this
    // work) before it drops it (field order).
    let pool = unsafe { &*(pool as *const SlabPool) };
    let mut item = first;
    while item != 0 {
        // SAFETY: `item` is an item of the list, its word the link.
        let next = unsafe { (item as *const usize).read() };
        // SAFETY: `item` lies in an allocated object's slot, so its slab
        // stays.
        if let Some(rec) = unsafe { pool.record_of_addr(item as *const u8) } {
            let head = rec.head_page();
            if let Owner::Slab(cache) = head.owner() {
                // SAFETY: a slab's owner is its live cache.
                let c = unsafe { cache.as_ref() };
                let o = item.wrapping_sub(c.layout().offset as usize);
                // SAFETY: `head` is the slab holding `o`, the object whose
                // free pointer word `item` is, which its owner gave up.
                unsafe { c.free_in(head, o) };
            }
        }
        item = next;
    }
}

/// The per-CPU lists of deferred frees of a [`Kmalloc`] on `pool`.
///
/// # Safety
///
/// `pool` outlives the result (the [`Kmalloc`] holds both, and drops the
/// result first).
pub(super) unsafe fn new_deferred(pool: &SlabPool) -> kernel::error::Result<Deferred> {
    // SAFETY: `free_deferred` dereferences its context as the pool, which
    // outlives the result (our caller's guarantee).
    unsafe { Deferred::new(free_deferred, core::ptr::from_ref(pool) as usize) }
}

impl Kmalloc {
    /// `kmalloc_nolock()`: `size` bytes of node `nid` (`None`: any, the
    /// CPU's first) from a kmalloc class, zeroed for `__GFP_ZERO` as
    /// `kmalloc()` zeroes; [`ZERO_SIZE_PTR`] for 0; null past the largest
    /// class, or when the class and the next one would both have to wait
    /// for a lock or have no memory at hand (it never grows the pool).
    /// Flags other than `__GFP_ZERO`, `__GFP_ACCOUNT`, `__GFP_NOWARN` and
    /// `__GFP_NOMEMALLOC` are dropped. Not seen by kmemleak or allocation
    /// profiling.
    pub(crate) fn kmalloc_nolock(&self, size: usize, gfp: Gfp, nid: Option<usize>) -> *mut u8 {
        if size == 0 {
            return ZERO_SIZE_PTR;
        }
        let gfp = gfp.for_nolock();
        let mut want = size;
        for _ in 0..2 {
            let Some(c) = self.cache_for(want) else {
                break;
            };
            let o = c.alloc_nolock(gfp, size as u32, nid);
            if o != 0 {
                return o as *mut u8;
            }
            want = c.layout().object_size as usize + 1;
        }
        core::ptr::null_mut()
    }

    /// `kfree_nolock()`: frees an object of a kmalloc class (or of any
    /// cache of this pool) in any context: at once if the fast path can
    /// take it, else deferred to this CPU's irq_work. Null and
    /// [`ZERO_SIZE_PTR`] are ignored; a large kmalloc block is refused
    /// with a warning and stays allocated (as 7.3's: `kfree()` frees it);
    /// anything else that is not an object is reported and ignored.
    ///
    /// # Safety
    ///
    /// `p` is null, [`ZERO_SIZE_PTR`], or a live allocation that is not used
    /// again.
    pub(crate) unsafe fn kfree_nolock(&self, p: *mut u8) {
        if (p as usize) <= ZERO_SIZE_PTR as usize {
            return;
        }
        // SAFETY: the caller's guarantee.
        let Some(rec) = (unsafe { self.record(p) }) else {
            return bad_kfree(p, "not rslab memory");
        };
        let head = rec.head_page();
        match head.owner() {
            Owner::Slab(cache) => {
                // SAFETY: a slab's record names its live cache.
                let c = unsafe { cache.as_ref() };
                // SAFETY: `head` is the slab holding `p`, which the caller
                // gives up.
                if unsafe { c.free_nolock(head, p as usize) } {
                    return;
                }
                // SAFETY: dropped at the end of this block, inside every
                // interrupts-off guard live now.
                let irq = unsafe { IrqsOff::new() };
                // SAFETY: the free pointer word of `p`, an object the
                // caller gives up; the list's work frees it.
                unsafe {
                    self.deferred
                        .push(&irq, (p as usize).wrapping_add(c.layout().offset as usize))
                };
            }
            Owner::LargeKmalloc => {
                bad_kfree(p, "a large kmalloc block: kfree_nolock() does not take it")
            }
            Owner::Nobody | Owner::Pages => bad_kfree(p, "not an object"),
        }
    }

    /// Waits until every free [`Kmalloc::kfree_nolock`] deferred before this
    /// call is done (`irq_work_sync()` of each CPU's work). Sleeps.
    pub(crate) fn sync_deferred(&self) {
        self.deferred.sync();
    }
}
