// SPDX-License-Identifier: GPL-2.0
//! Free pointers: where a free object keeps the address of the next one
//! (`get_freepointer()`/`set_freepointer()`), hardened as
//! `CONFIG_SLAB_FREELIST_HARDENED` does (`freelist_ptr()`), and the
//! transaction ids of the per-CPU freelists.

use super::Cache;
use crate::{glue::swab::swab, logic::slab::layout};

impl Cache {
    #[inline]
    fn fp_addr(&self, obj: usize) -> usize {
        obj.wrapping_add(self.layout.offset as usize)
    }

    /// `get_freepointer()`.
    ///
    /// # Safety
    ///
    /// `obj` is an object of a slab of this cache that is not being freed
    /// back to the pool.
    #[inline]
    pub(super) unsafe fn get_fp(&self, obj: usize) -> usize {
        let a = self.fp_addr(obj);
        // SAFETY: the free pointer lies inside the object (`offset + word <=
        // size`), which is mapped memory of the slab. A racing writer (the
        // object handed out meanwhile) gives a stale value, which the
        // caller's compare-exchange then rejects, as in SLUB.
        let v = unsafe { core::ptr::read_volatile(a as *const usize) };
        if self.harden {
            layout::freelist_ptr_swabbed(v, self.random, swab(a))
        } else {
            v
        }
    }

    /// `get_freepointer_safe()`: the free pointer of an object that may
    /// have been handed out (and its slab given back) since it was seen on
    /// a CPU freelist. On x86_64 the word is read by an `asm!` load, which
    /// KASAN does not instrument: the read is speculative, its value only
    /// used if the caller's exchange proves it current. Pool pages stay
    /// mapped (the direct map) whether the pool or the kernel has them.
    ///
    /// # Safety
    ///
    /// `obj` was an object of a slab of this cache.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(super) unsafe fn get_fp_nocheck(&self, obj: usize) -> usize {
        let a = self.fp_addr(obj);
        let v: usize;
        // SAFETY: `a` is a direct-map address of a page that was a slab page
        // of this cache, hence mapped; the load has no other effect.
        unsafe {
            core::arch::asm!(
                "mov {v}, qword ptr [{a}]",
                v = out(reg) v,
                a = in(reg) a,
                options(nostack, readonly, preserves_flags),
            )
        };
        if self.harden {
            layout::freelist_ptr_swabbed(v, self.random, swab(a))
        } else {
            v
        }
    }

    /// `set_freepointer()`.
    ///
    /// # Safety
    ///
    /// `obj` is a free object of this cache owned by the caller.
    #[inline]
    pub(super) unsafe fn set_fp(&self, obj: usize, fp: usize) {
        let a = self.fp_addr(obj);
        let v = if self.harden {
            layout::freelist_ptr_swabbed(fp, self.random, swab(a))
        } else {
            fp
        };
        // SAFETY: the caller owns the object; the pointer lies inside it.
        unsafe { core::ptr::write_volatile(a as *mut usize, v) };
    }

    /// `next_tid()`: the next transaction id of the same CPU.
    #[inline]
    pub(super) fn next_tid(&self, tid: usize) -> usize {
        tid.wrapping_add(self.tid_step)
    }
}
