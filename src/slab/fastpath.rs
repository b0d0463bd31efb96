// SPDX-License-Identifier: GPL-2.0
//! The fast paths: `slab_alloc_node()` and `do_slab_free()`, lockless on
//! the CPU's freelist with its transaction id (see the lock order in
//! `src/slab.rs`), and the object-to-slab lookup of a free.

use super::{Cache, Owner, SlabPage, SlabStat};
use crate::glue::{cpu::Pinned, gfp::Gfp};
use core::{
    ptr::NonNull,
    sync::atomic::{compiler_fence, Ordering::SeqCst},
};

impl Cache {
    /// This cache as a page owner.
    pub(super) fn as_owner(&self) -> Owner {
        Owner::Slab(NonNull::from(self))
    }

    /// The slab `obj` belongs to, if it is an object of this cache:
    /// `virt_to_slab()` plus `cache_from_obj()`'s check.
    ///
    /// # Safety
    ///
    /// The slab holding `obj`, if any, is not discarded while the reference
    /// is used: the caller holds `obj` (is freeing it).
    pub(super) unsafe fn slab_of(&self, obj: usize) -> Option<&SlabPage> {
        // SAFETY: the caller holds `obj`, so its slab (and page) stays.
        let page = unsafe { self.pool.record_of_addr(obj as *const u8) }?;
        let slab = page.head_page();
        if slab.owner() != self.as_owner() {
            return None;
        }
        let base = slab.base() as usize;
        let size = self.layout.size as usize;
        let off = obj.checked_sub(base)?;
        // (`checked_*`: no panic path; `size` is never 0.)
        if off.checked_rem(size)? != 0
            || off.checked_div(size)? >= slab.counters().objects() as usize
        {
            return None;
        }
        Some(slab)
    }

    /// Whether `p` is the address of an object slot of this cache (free or
    /// not) in one of its slabs.
    ///
    /// # Safety
    ///
    /// The slab holding `p`, if any, is not discarded meanwhile: the caller
    /// holds an object of it.
    pub(crate) unsafe fn contains(&self, p: *const u8) -> bool {
        // SAFETY: the caller's guarantee.
        unsafe { self.slab_of(p as usize) }.is_some()
    }

    /// `kmem_cache_alloc()`: an object, or `None` if no memory could be had
    /// (with `gfp` deciding whether to sleep for it).
    #[inline]
    pub(crate) fn alloc(&self, gfp: Gfp) -> Option<NonNull<u8>> {
        NonNull::new(self.slab_alloc(gfp) as *mut u8)
    }

    /// `slab_alloc_node()`: the fast path.
    #[inline]
    pub(super) fn slab_alloc(&self, gfp: Gfp) -> usize {
        loop {
            let pin = Pinned::new();
            let cpu = pin.cpu();
            let c = &self.cpus[cpu];
            let tid = c.pair.second();
            // `barrier()`: read the tid before the freelist, so an
            // interrupt in between shows as a changed tid.
            compiler_fence(SeqCst);
            let object = c.pair.first();
            if object == 0 || c.slab.load(kernel::sync::atomic::Relaxed).is_null() {
                return self.slab_alloc_slow(pin, gfp);
            }
            // SAFETY: `object` is on this CPU's freelist of its frozen slab.
            let next = unsafe { self.get_fp(object) };
            if c.pair
                .cmpxchg_local((object, tid), (next, self.next_tid(tid)))
            {
                self.stat(cpu, SlabStat::AllocFastpath);
                return object;
            }
            self.stat(cpu, SlabStat::CmpxchgDoubleCpuFail);
        }
    }

    /// `kmem_cache_free()`. An address that is not an object of this cache
    /// is reported and ignored.
    ///
    /// # Safety
    ///
    /// `obj` came from this cache and is not used (or freed) again.
    #[inline]
    pub(crate) unsafe fn free(&self, obj: NonNull<u8>) {
        let o = obj.as_ptr() as usize;
        // SAFETY: the caller is freeing `obj`, so it holds it.
        match unsafe { self.slab_of(o) } {
            Some(slab) => self.do_slab_free(slab, o, o, 1),
            None => self.bad_free(o),
        }
    }

    pub(super) fn bad_free(&self, o: usize) {
        self.report(format_args!(
            "bad free of {o:#x}: not an object of this cache"
        ));
    }

    /// `do_slab_free()`: frees the detached list `head..tail` of `cnt`
    /// objects of `slab`: onto the CPU freelist if `slab` is the CPU slab
    /// (the fast path), else `__slab_free()`.
    pub(super) fn do_slab_free(&self, slab: &SlabPage, head: usize, tail: usize, cnt: u32) {
        loop {
            let pin = Pinned::new();
            let cpu = pin.cpu();
            let c = &self.cpus[cpu];
            let tid = c.pair.second();
            compiler_fence(SeqCst);
            if c.slab.load(kernel::sync::atomic::Relaxed) != slab.as_link() {
                drop(pin);
                return self.slab_free_slow(slab, head, tail, cnt);
            }
            let freelist = c.pair.first();
            if freelist == head {
                // CONFIG_SLAB_FREELIST_HARDENED's naive double-free check.
                self.report(format_args!("double free of {head:#x}"));
                return;
            }
            // SAFETY: `tail` is a free object the caller gave us.
            unsafe { self.set_fp(tail, freelist) };
            if c.pair
                .cmpxchg_local((freelist, tid), (head, self.next_tid(tid)))
            {
                self.stat(cpu, SlabStat::FreeFastpath);
                return;
            }
            self.stat(cpu, SlabStat::CmpxchgDoubleCpuFail);
        }
    }
}
