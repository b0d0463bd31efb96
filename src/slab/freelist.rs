// SPDX-License-Identifier: GPL-2.0
//! Free pointers: where a free object keeps the address of the next one
//! (`get_freepointer()`/`set_freepointer()`), hardened as
//! `CONFIG_SLAB_FREELIST_HARDENED` does (`freelist_ptr()`), and the
//! transaction ids of the per-CPU freelists.

use super::Cache;
use crate::logic::slab::layout;

impl Cache {
    #[inline]
    fn fp_addr(&self, obj: usize) -> usize {
        obj + self.layout.offset as usize
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
            layout::freelist_ptr(v, self.random, a)
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
            layout::freelist_ptr(fp, self.random, a)
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
