// SPDX-License-Identifier: GPL-2.0
//! `kmem_cache_alloc_bulk()` and `kmem_cache_free_bulk()` with
//! `build_detached_freelist()`.

use super::Cache;
use crate::glue::{gfp::Gfp, percpu::IrqsOff};

impl Cache {
    /// `kmem_cache_alloc_bulk()`: fills `out` with objects; all or nothing
    /// (returns `out.len()`, or 0 with nothing allocated). From this CPU's
    /// sheaves in the sheaves mode, else from the slabs.
    #[inline(never)]
    pub(crate) fn alloc_bulk(&self, gfp: Gfp, out: &mut [*mut u8]) -> usize {
        let n = match self.sheaves() {
            Some(_) => self.sheaf_alloc_bulk(gfp, out),
            None => self.slab_alloc_bulk(gfp, out),
        };
        // SAFETY: `out[..n]` (all of it, or nothing) were just allocated
        // and are handed to nobody yet.
        unsafe { self.post_alloc_bulk(out.get(..n).unwrap_or_default(), gfp) };
        n
    }

    /// `kmem_cache_free_bulk()`: frees every non-null pointer of `objs`
    /// (leaving them null). An address that is not an object of this cache
    /// is reported and skipped, but in the sheaves mode: there, only where
    /// the objects' slabs are looked up (a hardened cache, free hooks, more
    /// than one node), as a single free checks them; otherwise, as 7.3's
    /// `free_to_pcs_bulk()` without hardening, the objects are trusted to be
    /// the cache's. Onto this CPU's sheaves in the sheaves mode, else to the
    /// slabs.
    ///
    /// # Safety
    ///
    /// Every non-null pointer of `objs` came from this cache, appears once,
    /// and is not used (or freed) again.
    #[inline(never)]
    pub(crate) unsafe fn free_bulk(&self, objs: &mut [*mut u8]) {
        match self.sheaves() {
            // SAFETY: the caller's guarantee; `sh` is this cache's sheaves.
            Some(sh) => unsafe { self.sheaf_free_bulk(sh, objs) },
            // SAFETY: the caller's guarantee.
            None => unsafe { self.slab_free_bulk(objs, true) },
        }
    }

    /// The slabs' `kmem_cache_alloc_bulk()` (6.1): takes a run of objects off
    /// this CPU's freelist with interrupts off in one go (one store of
    /// `(freelist, tid)` per run, no exchange per object), and goes to the
    /// slow path when the freelist runs out. All or nothing.
    #[inline(always)]
    pub(super) fn slab_alloc_bulk(&self, gfp: Gfp, out: &mut [*mut u8]) -> usize {
        // SAFETY: `out` is `out.len()` pointers we may write.
        unsafe { self.slab_alloc_bulk_raw(gfp, out.as_mut_ptr(), out.len()) }
    }

    /// [`Cache::slab_alloc_bulk`] into the `n` slots at `out`, which need
    /// not be initialised (a sheaf's spare capacity): returns `n` with each
    /// written once, or 0 with none allocated.
    ///
    /// # Safety
    ///
    /// `out` is valid for writes of `n` pointers, which nothing reads
    /// meanwhile.
    #[inline(always)]
    pub(super) unsafe fn slab_alloc_bulk_raw(
        &self,
        gfp: Gfp,
        out: *mut *mut u8,
        n: usize,
    ) -> usize {
        let mut i = 0;
        while i < n {
            {
                // SAFETY: dropped by the end of this block, inside every interrupts-off
                // guard live now (sections nest).
                let irq = unsafe { IrqsOff::new() };
                let c = self.cpus.this(&irq);
                let mut fl = c.pair.first_local();
                let start = i;
                while i < n && fl != 0 {
                    // SAFETY: `i < n`: a slot the caller lets us write.
                    unsafe { out.add(i).write(fl as *mut u8) };
                    // SAFETY: `fl` is on this CPU's freelist, which we hold
                    // with interrupts off.
                    fl = unsafe { self.get_fp(fl) };
                    // `i < n`: no overflow.
                    i = i.wrapping_add(1);
                }
                if i > start {
                    c.pair.set_this_cpu(fl, self.next_tid(c.pair.second()));
                }
            }
            if i < n {
                let o = self.slab_alloc_slow(gfp, self.layout.object_size, None, false);
                if o == 0 {
                    // SAFETY: `out[..i]` were written above (`i < n`), with
                    // objects just allocated from the slabs, not handed to
                    // anyone.
                    unsafe {
                        let done = core::slice::from_raw_parts_mut(out, i);
                        self.slab_free_bulk(done, false);
                    }
                    return 0;
                }
                // SAFETY: `i < n`: a slot the caller lets us write.
                unsafe { out.add(i).write(o as *mut u8) };
                i = i.wrapping_add(1);
            }
        }
        n
    }

    /// The slabs' `kmem_cache_free_bulk()`: frees every non-null pointer of
    /// `objs` (leaving them null), one detached freelist per slab run; with
    /// `hook`, each through [`Cache::pre_free`] (a user's free, not a flush
    /// of objects freed before).
    ///
    /// # Safety
    ///
    /// As for [`Cache::free_bulk`]; the objects are not in a sheaf.
    #[inline(always)]
    pub(super) unsafe fn slab_free_bulk(&self, objs: &mut [*mut u8], hook: bool) {
        let mut size = objs.len();
        while size > 0 {
            // SAFETY: the caller's guarantee.
            size = unsafe { self.free_detached(objs, size, hook) };
        }
    }

    /// `build_detached_freelist()` over `p[..size]` plus its free: links the
    /// last object with up to a few more of the same slab (looking past at
    /// most 3 others) and frees them at once. Returns how much of `p` is
    /// left to look at.
    ///
    /// # Safety
    ///
    /// As for [`Cache::slab_free_bulk`].
    #[inline(always)]
    unsafe fn free_detached(&self, p: &mut [*mut u8], size: usize, hook: bool) -> usize {
        // Only indices below `size <= p.len()` are used: no bounds checks.
        let mut size = size.min(p.len());
        let p = p.as_mut_ptr();
        let mut o = 0;
        while size > 0 {
            size -= 1;
            // SAFETY: `size < p.len()`.
            o = unsafe { *p.add(size) } as usize;
            if o != 0 {
                break;
            }
        }
        if o == 0 {
            return 0;
        }
        // SAFETY: `size < p.len()`.
        unsafe { *p.add(size) = core::ptr::null_mut() };
        // SAFETY: the caller is freeing `o`, so it holds it.
        let Some(slab) = (unsafe { self.slab_of(o) }) else {
            // SAFETY: the caller is freeing `o`, so it holds it.
            unsafe { self.bad_free(o) };
            return size;
        };
        if hook {
            // SAFETY: `o` is an object of this cache (checked), being freed.
            unsafe { self.pre_free(o) };
        }
        let (mut head, mut cnt) = (o, 1u32);
        let mut lookahead = 3u32;
        let mut first_skipped = 0;
        // An object of the same slab is recognised by its address, without
        // the pfn map: inside the slab's pages, at an object's offset.
        let base = slab.base() as usize;
        let slab_bytes = self.order_bytes();
        while size > 0 {
            size -= 1;
            // SAFETY: `size < p.len()`.
            let q = unsafe { *p.add(size) } as usize;
            if q == 0 {
                continue;
            }
            if q.wrapping_sub(base) < slab_bytes && self.is_object_of(slab, q) {
                // SAFETY: the caller gave `q`, an object of this cache
                // (checked), to be freed.
                unsafe {
                    if hook {
                        self.pre_free(q);
                    }
                    self.set_fp(q, head);
                }
                head = q;
                cnt = cnt.wrapping_add(1);
                // SAFETY: `size < p.len()`.
                unsafe { *p.add(size) = core::ptr::null_mut() };
                continue;
            }
            lookahead = lookahead.wrapping_sub(1);
            if lookahead == 0 {
                break;
            }
            if first_skipped == 0 {
                first_skipped = size.wrapping_add(1);
            }
        }
        // SAFETY: `slab` is a slab of this cache (`slab_of` checked it), and
        // `head..o` the `cnt` objects of it linked above (each checked an
        // object of `slab`, given up by the caller, and its slot in `p`
        // cleared, so that none is freed twice), ending at `o`.
        unsafe { self.do_slab_free(slab, head, o, cnt) };
        first_skipped
    }
}
