// SPDX-License-Identifier: GPL-2.0
//! The kmalloc family on rslab: size classes `kmalloc-8` .. `kmalloc-8192`
//! plus `kmalloc-96` and `kmalloc-192`, picked by `kmalloc_index()`; bigger
//! requests go to the page pool as one block (`kmalloc_large()`), recorded
//! in the pool's page record so that `kfree()` and `ksize()` find it.
//!
//! [`RslabAlloc`] implements the kernel crate's [`Allocator`] on top, so
//! `KBox`/`KVec` (`Box<T, RslabAlloc>`, `Vec<T, RslabAlloc>`) can allocate
//! from rslab.

use crate::{
    fmtbuf,
    logic::layout::{self, KMALLOC_INDICES},
    pool::{Gfp, Pool, MAX_ORDER},
    slab::{Cache, CacheConfig, SlabPage, LARGE_KMALLOC},
};
use core::{alloc::Layout, ptr::NonNull};
use kernel::{
    alloc::{AllocError, Allocator, Flags, NumaNode},
    bindings,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Release},
        Arc,
    },
};

/// `ZERO_SIZE_PTR`: what `kmalloc(0)` returns; `kfree()` ignores it.
pub const ZERO_SIZE_PTR: *mut u8 = 16 as *mut u8;

/// The kmalloc caches of one pool.
pub struct Kmalloc {
    pool: Arc<Pool>,
    /// Indexed by `kmalloc_index()`; `None` for indices with no class.
    caches: [Option<Arc<Cache>>; layout::KMALLOC_SHIFT_HIGH as usize + 1],
}

impl Kmalloc {
    /// `create_kmalloc_caches()`: every class, on `pool`.
    pub fn new(pool: &Arc<Pool>) -> Result<Self> {
        let mut caches: [Option<Arc<Cache>>; layout::KMALLOC_SHIFT_HIGH as usize + 1] =
            Default::default();
        for idx in KMALLOC_INDICES {
            let size = layout::kmalloc_size(idx);
            let mut buf = [0u8; 16];
            let name = fmtbuf::format(&mut buf, format_args!("kmalloc-{size}"));
            caches[idx as usize] = Some(Cache::new(pool, &CacheConfig::new(name, size as u32))?);
        }
        Ok(Kmalloc {
            pool: pool.clone(),
            caches,
        })
    }

    /// The classes' caches, smallest first.
    pub fn caches(&self) -> impl Iterator<Item = &Arc<Cache>> {
        KMALLOC_INDICES
            .iter()
            .filter_map(|&i| self.caches[i as usize].as_ref())
    }

    /// The cache serving `size` bytes, if one does.
    pub fn cache_for(&self, size: usize) -> Option<&Arc<Cache>> {
        self.caches[layout::kmalloc_index(size)? as usize].as_ref()
    }

    /// `kmalloc()`: `size` bytes, aligned to the largest power of two that
    /// divides the class size (page-aligned for large requests);
    /// [`ZERO_SIZE_PTR`] for 0; null if no memory could be had.
    pub fn kmalloc(&self, size: usize, gfp: Gfp) -> *mut u8 {
        if size == 0 {
            return ZERO_SIZE_PTR;
        }
        if let Some(c) = self.cache_for(size) {
            return c.alloc(gfp).map_or(core::ptr::null_mut(), |p| p.as_ptr());
        }
        // kmalloc_large(): get_order(size) pages.
        let order = layout::get_order(size as u64, bindings::PAGE_SHIFT);
        if order > MAX_ORDER {
            return core::ptr::null_mut();
        }
        match self.pool.alloc(order, gfp) {
            Some(b) => SlabPage::set_large(&self.pool, b) as *mut u8,
            None => core::ptr::null_mut(),
        }
    }

    /// `kzalloc()`: zeroed.
    pub fn kzalloc(&self, size: usize, gfp: Gfp) -> *mut u8 {
        let p = self.kmalloc(size, gfp);
        if !p.is_null() && p != ZERO_SIZE_PTR {
            // SAFETY: `p` is a fresh allocation of at least `size` bytes.
            unsafe { core::ptr::write_bytes(p, 0, size) };
        }
        p
    }

    /// `kmalloc_array()`: `n * size` bytes, null if that overflows.
    pub fn kmalloc_array(&self, n: usize, size: usize, gfp: Gfp) -> *mut u8 {
        match n.checked_mul(size) {
            Some(bytes) => self.kmalloc(bytes, gfp),
            None => core::ptr::null_mut(),
        }
    }

    /// The page record of a live allocation `p`, at its head.
    ///
    /// # Safety
    ///
    /// `p` is a live allocation from this [`Kmalloc`] (or any rslab cache
    /// of its pool).
    unsafe fn record(&self, p: *const u8) -> Option<&SlabPage> {
        // SAFETY: the caller holds the allocation, so its page stays.
        unsafe { self.pool.ext_of_addr(p as usize) }
    }

    /// `kfree()`: frees what [`Kmalloc::kmalloc`] (or any rslab cache on this
    /// pool) gave. Null and [`ZERO_SIZE_PTR`] are ignored; an address that
    /// is none of rslab's is reported and ignored.
    ///
    /// # Safety
    ///
    /// `p` is null, [`ZERO_SIZE_PTR`], or a live allocation that is not used
    /// again.
    pub unsafe fn kfree(&self, p: *mut u8) {
        if (p as usize) <= ZERO_SIZE_PTR as usize {
            return;
        }
        // SAFETY: the caller's guarantee.
        let Some(rec) = (unsafe { self.record(p) }) else {
            pr_err!("rslab: kfree of {:#x}: not rslab memory\n", p as usize);
            return;
        };
        match rec.owner() {
            0 => pr_err!("rslab: kfree of {:#x}: not allocated\n", p as usize),
            LARGE_KMALLOC => {
                // SAFETY: `p` is the caller's, being freed: so is its block.
                match unsafe { rec.take_large(&self.pool) } {
                    Some(b) if self.pool.addr(&b) == p => self.pool.free(b),
                    Some(b) => {
                        pr_err!("rslab: kfree of {:#x}: inside a large block\n", p as usize);
                        // Put it back untouched.
                        SlabPage::set_large(&self.pool, b);
                    }
                    None => pr_err!("rslab: kfree of {:#x}: not a block head\n", p as usize),
                }
            }
            cache => {
                // SAFETY: a slab's record names its live cache (type
                // invariant of `SlabPage`); the caller's guarantee covers
                // `p`.
                unsafe {
                    (*(cache as *const Cache)).free(NonNull::new_unchecked(p));
                }
            }
        }
    }

    /// `ksize()`: the usable size of a live allocation (at least what was
    /// asked for). 0 for null and [`ZERO_SIZE_PTR`].
    ///
    /// # Safety
    ///
    /// As for [`Kmalloc::kfree`], except that `p` stays live.
    pub unsafe fn ksize(&self, p: *const u8) -> usize {
        if (p as usize) <= ZERO_SIZE_PTR as usize {
            return 0;
        }
        // SAFETY: the caller's guarantee.
        let Some(rec) = (unsafe { self.record(p) }) else {
            return 0;
        };
        if let Some(order) = rec.large_order() {
            return PAGE_SIZE << order;
        }
        match rec.owner() {
            0 | LARGE_KMALLOC => 0,
            cache => {
                // SAFETY: as in `kfree`.
                let c = unsafe { &*(cache as *const Cache) };
                // `slab_ksize()`: the whole slot unless metadata follows the
                // object (the free pointer of a cache with a ctor).
                let l = c.layout();
                if c.has_ctor() {
                    l.inuse as usize
                } else {
                    l.size as usize
                }
            }
        }
    }

    /// `krealloc()`: resizes, keeping the contents up to the smaller size.
    /// In place while the new size fits [`Kmalloc::ksize`]; null (with `p`
    /// untouched) if no memory could be had; size 0 frees `p` and returns
    /// [`ZERO_SIZE_PTR`].
    ///
    /// # Safety
    ///
    /// As for [`Kmalloc::kfree`].
    pub unsafe fn krealloc(&self, p: *mut u8, size: usize, gfp: Gfp) -> *mut u8 {
        if size == 0 {
            // SAFETY: the caller's guarantee.
            unsafe { self.kfree(p) };
            return ZERO_SIZE_PTR;
        }
        // SAFETY: the caller's guarantee.
        let ks = unsafe { self.ksize(p) };
        if size <= ks {
            return p;
        }
        let n = self.kmalloc(size, gfp);
        if n.is_null() {
            return n;
        }
        if ks > 0 {
            // SAFETY: `p` holds `ks` bytes, `n` at least `size > ks`; they
            // are distinct allocations.
            unsafe { core::ptr::copy_nonoverlapping(p, n, ks) };
        }
        // SAFETY: the caller's guarantee.
        unsafe { self.kfree(p) };
        n
    }
}

/// The [`Kmalloc`] that [`RslabAlloc`] uses: the module's, set while it is
/// loaded.
static GLOBAL: Atomic<usize> = Atomic::new(0);

/// Makes `k` the one [`RslabAlloc`] uses until [`clear_global`].
///
/// # Safety
///
/// `k` stays alive (and in place) until [`clear_global`] is called, and no
/// allocation of [`RslabAlloc`] is still live then.
pub(crate) unsafe fn set_global(k: &Kmalloc) {
    GLOBAL.store(core::ptr::from_ref(k) as usize, Release);
}

/// Stops [`RslabAlloc`] (it fails every allocation afterwards).
pub(crate) fn clear_global() {
    GLOBAL.store(0, Release);
}

/// The module's [`Kmalloc`], while loaded.
pub(crate) fn global() -> Option<&'static Kmalloc> {
    let k = GLOBAL.load(Acquire) as *const Kmalloc;
    // SAFETY: `set_global`'s caller keeps it alive until `clear_global`.
    (!k.is_null()).then(|| unsafe { &*k })
}

/// The kernel crate's [`Allocator`] over rslab's kmalloc: `KBox`/`KVec`
/// with `RslabAlloc` as their allocator take their memory from rslab.
pub struct RslabAlloc;

impl RslabAlloc {
    fn gfp(flags: Flags) -> Gfp {
        if flags.contains(GFP_KERNEL) {
            Gfp::KERNEL
        } else {
            Gfp::ATOMIC
        }
    }

    /// The kmalloc size that gives `layout`'s alignment: classes of a power
    /// of two are aligned to their size, so a stricter alignment than 8
    /// asks for a power of two at least that big.
    fn size_for(layout: Layout) -> Option<usize> {
        let size = layout.size();
        if layout.align() <= 8 {
            return Some(size);
        }
        if layout.align() > PAGE_SIZE {
            return None;
        }
        size.max(layout.align()).checked_next_power_of_two()
    }
}

// SAFETY: memory from `Kmalloc` stays valid until `kfree`; any pointer from
// it may go to any function here; the guarantees are met below (sizes
// rounded for alignment, contents kept on realloc, `ptr` untouched on
// failure).
unsafe impl Allocator for RslabAlloc {
    const MIN_ALIGN: usize = 8;

    unsafe fn realloc(
        ptr: Option<NonNull<u8>>,
        layout: Layout,
        old_layout: Layout,
        flags: Flags,
        _nid: NumaNode,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let k = global().ok_or(AllocError)?;
        let old = ptr.filter(|_| old_layout.size() > 0);
        if layout.size() == 0 {
            if let Some(p) = old {
                // SAFETY: the caller's guarantee: `p` is ours and live.
                unsafe { k.kfree(p.as_ptr()) };
            }
            let dangling = NonNull::new(layout.align() as *mut u8).ok_or(AllocError)?;
            return Ok(NonNull::slice_from_raw_parts(dangling, 0));
        }
        let size = Self::size_for(layout).ok_or(AllocError)?;
        if let Some(p) = old {
            // SAFETY: as above.
            let ks = unsafe { k.ksize(p.as_ptr()) };
            if size <= ks && (p.as_ptr() as usize).checked_rem(layout.align()) == Some(0) {
                return Ok(NonNull::slice_from_raw_parts(p, layout.size()));
            }
        }
        let gfp = Self::gfp(flags);
        let n = if flags.contains(__GFP_ZERO) {
            k.kzalloc(size, gfp)
        } else {
            k.kmalloc(size, gfp)
        };
        let n = NonNull::new(n).ok_or(AllocError)?;
        if let Some(p) = old {
            let keep = old_layout.size().min(layout.size());
            // SAFETY: `p` holds `old_layout.size()` bytes, `n` at least
            // `layout.size()`; distinct allocations.
            unsafe { core::ptr::copy_nonoverlapping(p.as_ptr(), n.as_ptr(), keep) };
            // SAFETY: as above.
            unsafe { k.kfree(p.as_ptr()) };
        }
        Ok(NonNull::slice_from_raw_parts(n, layout.size()))
    }
}
