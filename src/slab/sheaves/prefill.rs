// SPDX-License-Identifier: GPL-2.0
//! Prefilled sheaves (`kmem_cache_prefill_sheaf()` and its family, Linux
//! 6.18, as in 7.3): a caller takes a sheaf of at least `size` objects
//! before a section that must not fail, allocates from it there, and gives
//! it back after (the maple tree's use).
//!
//! As 7.3:
//! - A request up to the cache's `sheaf_capacity` takes this CPU's spare
//!   sheaf (`sheaf_prefill_fast`), else one of the barn, full before empty
//!   (`sheaf_prefill_slow`, then `barn_get` for a full one, `barn_get_fail`
//!   otherwise), else a new one (`sheaf_alloc`), and refills it to capacity
//!   from the slabs (`sheaf_refill`, objects) if it holds fewer than `size`.
//! - A larger request, and any on a cache without sheaves (a classic
//!   cache, capacity 0, as 7.3's caches without sheaves), makes an
//!   *oversize* sheaf of exactly `size` objects (`sheaf_alloc`,
//!   `sheaf_prefill_oversize`), filled from the slabs.
//! - A returned sheaf becomes this CPU's spare if it has none
//!   (`sheaf_return_fast`); otherwise (`sheaf_return_slow`) it is refilled
//!   and put in the barn as full (`barn_put`), or, if the barn has enough
//!   or the refill fails, flushed and freed (`sheaf_flush`, `sheaf_free`).
//!   An oversize sheaf is always flushed and freed.
//!
//! The objects of a prefilled sheaf are allocated as far as the slabs know
//! (a cache with one out cannot be destroyed); each is initialised when it
//! is taken (`__GFP_ZERO`, `init_on_alloc`, the debug checks), as any
//! allocation is. A sheaf handed to another cache's call is reported on that
//! cache and not touched.

use super::{new_sheaf, Sheaf, MAX_FULL_SHEAVES};
use crate::{
    glue::gfp::Gfp,
    slab::{Cache, SlabStat},
};
use core::ptr::NonNull;
use kernel::{interrupt::local_interrupt_disable, prelude::*};

/// The most objects a prefilled sheaf holds: its array of pointers fits
/// the largest block kmalloc gives (a larger request is refused, where the
/// kernel's would warn and fail).
const MAX_PREFILL: usize =
    (kernel::page::PAGE_SIZE << crate::page_pool::MAX_ORDER) / core::mem::size_of::<*mut u8>();

/// A prefilled sheaf, as `kmem_cache_prefill_sheaf()` hands it out
/// (`struct slab_sheaf`): its capacity is the cache's `sheaf_capacity`, or
/// another (oversize).
///
/// # Invariants
///
/// Every pointer in `objects` is an allocated object of the cache at
/// `cache`, owned by the sheaf and handed to nobody.
pub(crate) struct PrefilledSheaf {
    cache: *const Cache,
    objects: Sheaf,
}

impl PrefilledSheaf {
    /// The objects it holds (`kmem_cache_sheaf_size()`).
    pub(crate) fn size(&self) -> u32 {
        self.objects.len() as u32
    }
}

impl Cache {
    /// Whether `sheaf` is one of this cache's; reported if not.
    fn owns(&self, sheaf: &PrefilledSheaf) -> bool {
        let ours = core::ptr::eq(sheaf.cache, self);
        if !ours {
            self.report(format_args!("a prefilled sheaf of another cache"));
        }
        ours
    }

    /// `kmem_cache_prefill_sheaf()`: a sheaf holding at least `size`
    /// objects (at most one regular sheaf's worth, or exactly `size` if
    /// oversize), or `None` for `size` 0, above [`MAX_PREFILL`] or without
    /// memory (nothing kept).
    pub(crate) fn prefill_sheaf(&self, gfp: Gfp, size: u32) -> Option<KBox<PrefilledSheaf>> {
        let size = size as usize;
        if size == 0 || size > MAX_PREFILL {
            return None;
        }
        // The box first: nothing taken below has to be put back if it fails.
        let mut ps = KBox::new(
            // INVARIANT: no object yet.
            PrefilledSheaf {
                cache: self,
                objects: Sheaf::new(),
            },
            gfp.for_metadata(),
        )
        .ok()?;
        match self.sheaves().filter(|sh| size <= sh.capacity) {
            Some(sh) => {
                let mut objects = self.take_sheaf();
                if objects.capacity() == 0 {
                    objects = new_sheaf(sh.capacity, gfp).ok()?;
                    self.stat(SlabStat::SheafAlloc);
                }
                if objects.len() < size && !self.refill_objects(gfp, &mut objects, true) {
                    // SAFETY: `objects` is a sheaf of this cache's sheaves
                    // (`take_sheaf` took it off this CPU or the barn) or a
                    // new one, so its objects are allocated objects of this
                    // cache that it owns (type invariant of `Sheaves`), held
                    // by nothing else.
                    unsafe { self.discard_sheaf(objects) };
                    return None;
                }
                // INVARIANT: a sheaf's objects (the CPU's or the barn's) or
                // objects just allocated from this cache.
                ps.objects = objects;
            }
            None => {
                let mut objects = new_sheaf(size, gfp).ok()?;
                self.stat(SlabStat::SheafAlloc);
                self.stat(SlabStat::SheafPrefillOversize);
                if !self.refill_objects(gfp, &mut objects, false) {
                    // SAFETY: `objects` is new, and holds objects allocated
                    // from this cache by `refill_objects` alone (none: it
                    // fills all or nothing), handed to nobody.
                    unsafe { self.discard_sheaf(objects) };
                    return None;
                }
                // INVARIANT: objects just allocated from this cache.
                ps.objects = objects;
            }
        }
        Some(ps)
    }

    /// The sheaf a prefill starts from: this CPU's spare, else one of the
    /// barn (full before empty), else none (capacity 0, also for a cache
    /// without sheaves).
    fn take_sheaf(&self) -> Sheaf {
        let Some(sh) = self.sheaves() else {
            return Sheaf::new();
        };
        let irq = local_interrupt_disable();
        // SAFETY: interrupts are off; no other reference is made.
        let pcs = unsafe { sh.this(&irq) };
        if pcs.spare.capacity() > 0 {
            self.stat(SlabStat::SheafPrefillFast);
            return core::mem::take(&mut pcs.spare);
        }
        self.stat(SlabStat::SheafPrefillSlow);
        let taken = {
            let mut barn = sh.barn(pcs.node).lock();
            match barn.full.pop() {
                Some(s) => Some(s),
                None => barn.empty.pop(),
            }
        };
        let s = taken.unwrap_or_default();
        self.stat(if s.is_empty() {
            SlabStat::BarnGetFail
        } else {
            SlabStat::BarnGet
        });
        s
    }

    /// `refill_sheaf()`: fills `objects` to its capacity from the slabs,
    /// all or nothing (counted as `sheaf_refill` if `count`: a regular
    /// sheaf). False, with `objects` as it was, without memory.
    pub(super) fn refill_objects(&self, gfp: Gfp, objects: &mut Sheaf, count: bool) -> bool {
        let (len, cap) = (objects.len(), objects.capacity());
        if len >= cap {
            return true;
        }
        // `len < cap`: no overflow.
        let add = cap.wrapping_sub(len);
        // SAFETY: the `add` slots past the length are the sheaf's spare
        // capacity, ours to write.
        let filled = unsafe { self.slab_alloc_bulk_raw(gfp, objects.as_mut_ptr().add(len), add) };
        if filled == 0 {
            return false;
        }
        // SAFETY: all `add` slots past the length were written (all or
        // nothing), and `len + add = cap` does not overflow.
        // INVARIANT: with objects just allocated from this cache's slabs,
        // handed to nobody but the sheaf.
        unsafe { objects.inc_len(add) };
        if count {
            self.stats
                .add(SlabStat::SheafRefill as usize, filled as u64);
        }
        true
    }

    /// Flushes a sheaf's objects to the slabs and frees it (`sheaf_flush`,
    /// `sheaf_free`).
    ///
    /// # Safety
    ///
    /// As for [`Cache::flush_objects`].
    unsafe fn discard_sheaf(&self, mut objects: Sheaf) {
        // SAFETY: our caller's guarantee.
        unsafe { self.flush_objects(&mut objects) };
        drop(objects);
        self.stat(SlabStat::SheafFree);
    }

    /// `kmem_cache_refill_sheaf()`: makes `sheaf` hold at least `size`
    /// objects, refilling it to its capacity, or, if `size` is above that,
    /// replacing it with a new (oversize) one and returning the old one.
    /// `ENOMEM` without memory (the sheaf stays, as it was); `EINVAL` for a
    /// sheaf of another cache.
    pub(crate) fn refill_sheaf(
        &self,
        gfp: Gfp,
        sheaf: &mut KBox<PrefilledSheaf>,
        size: u32,
    ) -> Result {
        if !self.owns(sheaf) {
            return Err(EINVAL);
        }
        let size = size as usize;
        if sheaf.objects.len() >= size {
            return Ok(());
        }
        if sheaf.objects.capacity() >= size {
            let regular = self
                .sheaves()
                .is_some_and(|sh| sheaf.objects.capacity() == sh.capacity);
            // INVARIANT: objects just allocated from this cache are added.
            return match self.refill_objects(gfp, &mut sheaf.objects, regular) {
                true => Ok(()),
                false => Err(ENOMEM),
            };
        }
        let new = self.prefill_sheaf(gfp, size as u32).ok_or(ENOMEM)?;
        let old = core::mem::replace(sheaf, new);
        self.return_sheaf(gfp, old);
        Ok(())
    }

    /// `kmem_cache_return_sheaf()`: takes a prefilled sheaf back, with the
    /// objects left in it.
    pub(crate) fn return_sheaf(&self, gfp: Gfp, mut sheaf: KBox<PrefilledSheaf>) {
        if !self.owns(&sheaf) {
            // Its objects are another cache's, which may be going away:
            // kept, not freed to the wrong one (reported by `owns`).
            KBox::leak(sheaf);
            return;
        }
        let mut objects = core::mem::take(&mut sheaf.objects);
        drop(sheaf);
        let Some(sh) = self
            .sheaves()
            .filter(|sh| objects.capacity() == sh.capacity)
        else {
            // SAFETY: `objects` are the objects of a prefilled sheaf of this
            // cache (`owns` checked it), which it owned (type invariant of
            // `PrefilledSheaf`) and the caller gave back with it: allocated
            // objects of this cache held by nothing else.
            return unsafe { self.discard_sheaf(objects) };
        };
        {
            let irq = local_interrupt_disable();
            // SAFETY: interrupts are off; no other reference is made.
            let pcs = unsafe { sh.this(&irq) };
            if pcs.spare.capacity() == 0 {
                // (Of whichever node; a node-specific allocation checks the
                // object's, as in 7.3.)
                // INVARIANT: this cache's objects, owned by the sheaf (as
                // above), go to this cache's sheaves.
                pcs.spare = objects;
                self.stat(SlabStat::SheafReturnFast);
                return;
            }
        }
        self.stat(SlabStat::SheafReturnSlow);
        let barn = sh.barn(sh.this_node());
        let full = barn.lock().full.len();
        if full >= MAX_FULL_SHEAVES || !self.refill_objects(gfp, &mut objects, true) {
            // SAFETY: as above (`refill_objects` adds objects just
            // allocated from this cache).
            return unsafe { self.discard_sheaf(objects) };
        }
        // INVARIANT: the barn gets a sheaf of this cache's objects only.
        let refused = barn.lock().full.push_within_capacity(objects);
        match refused {
            Ok(()) => self.stat(SlabStat::BarnPut),
            // The barn filled up meanwhile.
            // SAFETY: as above (the barn refused the sheaf: it is ours).
            Err(e) => unsafe { self.discard_sheaf(e.0) },
        }
    }

    /// `kmem_cache_alloc_from_sheaf()`: an object of `sheaf`, initialised
    /// as `gfp` and the cache ask; `None` once it is empty (no fallback to
    /// the slabs) or for a sheaf of another cache.
    pub(crate) fn alloc_from_sheaf(
        &self,
        gfp: Gfp,
        sheaf: &mut PrefilledSheaf,
    ) -> Option<NonNull<u8>> {
        if !self.owns(sheaf) {
            return None;
        }
        let o = sheaf.objects.pop()? as usize;
        // SAFETY: `o` is an allocated object of this cache that the sheaf
        // owned (type invariant) and gave up just now: ours, handed to
        // nobody yet.
        let o = unsafe { self.post_alloc(o, gfp, self.layout.object_size) };
        NonNull::new(o as *mut u8)
    }
}
