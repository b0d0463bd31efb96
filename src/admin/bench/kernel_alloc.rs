// SPDX-License-Identifier: GPL-2.0
//! The kernel's own slab caches (`kmem_cache_create()` and friends) and
//! kmalloc, for the benchmark to compare rslab with. The kernel crate has no
//! abstraction for them; this is the one place that calls the bindings.

use core::ptr::NonNull;
use kernel::{bindings, ffi::c_void, prelude::*, str::CStr};

/// A cache of the running kernel's SLUB, made unmergeable
/// (`SLAB_NO_MERGE`) so that it has its own slabs and its own
/// `/sys/kernel/slab/<name>/`.
///
/// # Invariants
///
/// `cache` came from `__kmem_cache_create_args()` and is destroyed once, on
/// drop.
pub(crate) struct KernelCache {
    cache: NonNull<bindings::kmem_cache>,
}

// SAFETY: a `kmem_cache` may be used from any thread.
unsafe impl Send for KernelCache {}
// SAFETY: as above; all its operations are thread-safe.
unsafe impl Sync for KernelCache {}

impl KernelCache {
    /// `kmem_cache_create(name, size, 0, SLAB_NO_MERGE, NULL)`.
    pub(crate) fn new(name: &'static CStr, size: u32) -> Result<Self> {
        // SAFETY: `kmem_cache_args` is a plain C struct; all-zero is "no
        // alignment, no usercopy region, no ctor".
        let mut args: bindings::kmem_cache_args = unsafe { core::mem::zeroed() };
        // SAFETY: `name` is static and NUL-terminated; `args` is valid.
        let c = unsafe {
            bindings::__kmem_cache_create_args(
                name.as_char_ptr(),
                size,
                &mut args,
                1 << bindings::_slab_flag_bits__SLAB_NO_MERGE,
            )
        };
        // INVARIANT: a non-null result is a new cache.
        NonNull::new(c)
            .map(|cache| KernelCache { cache })
            .ok_or(ENOMEM)
    }

    /// `kmem_cache_alloc(GFP_KERNEL)`; null on failure.
    #[inline]
    pub(crate) fn alloc(&self) -> *mut u8 {
        // SAFETY: the cache is live (type invariant).
        unsafe { bindings::kmem_cache_alloc_noprof(self.cache.as_ptr(), bindings::GFP_KERNEL) }
            .cast()
    }

    /// `kmem_cache_alloc_node(GFP_KERNEL, nid)`; null on failure.
    pub(crate) fn alloc_node(&self, nid: i32) -> *mut u8 {
        // SAFETY: the cache is live (type invariant); any node number is
        // taken (the caller's are nodes with memory).
        unsafe {
            bindings::kmem_cache_alloc_node_noprof(self.cache.as_ptr(), bindings::GFP_KERNEL, nid)
        }
        .cast()
    }

    /// `kmem_cache_free()`.
    ///
    /// # Safety
    ///
    /// `p` came from [`KernelCache::alloc`] (or the bulk form) of this cache
    /// and is not used again.
    #[inline]
    pub(crate) unsafe fn free(&self, p: *mut u8) {
        // SAFETY: the caller's guarantee.
        unsafe { bindings::kmem_cache_free(self.cache.as_ptr(), p.cast()) };
    }

    /// `kmem_cache_alloc_bulk()`: all of `out` or nothing.
    pub(crate) fn alloc_bulk(&self, out: &mut [*mut c_void]) -> bool {
        // SAFETY: `out` is valid for `out.len()` pointers.
        unsafe {
            bindings::kmem_cache_alloc_bulk_noprof(
                self.cache.as_ptr(),
                bindings::GFP_KERNEL,
                out.len(),
                out.as_mut_ptr(),
            )
        }
    }

    /// `kmem_cache_free_bulk()`.
    ///
    /// # Safety
    ///
    /// Every pointer of `objs` came from this cache and is not used again.
    pub(crate) unsafe fn free_bulk(&self, objs: &mut [*mut c_void]) {
        // SAFETY: the caller's guarantee.
        unsafe {
            bindings::kmem_cache_free_bulk(self.cache.as_ptr(), objs.len(), objs.as_mut_ptr())
        };
    }
}

impl Drop for KernelCache {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed once (type invariant).
        unsafe { bindings::kmem_cache_destroy(self.cache.as_ptr()) };
    }
}

/// The kernel's `kmalloc(size, GFP_KERNEL)` (null on failure).
#[inline]
pub(crate) fn kmalloc(size: usize) -> *mut u8 {
    // SAFETY: any size may be asked for.
    unsafe { bindings::__kmalloc_noprof(size, bindings::GFP_KERNEL) }.cast()
}

/// The kernel's `kfree()`.
///
/// # Safety
///
/// `p` came from [`kmalloc`] and is not used again.
#[inline]
pub(crate) unsafe fn kfree(p: *mut u8) {
    // SAFETY: the caller's guarantee.
    unsafe { bindings::kfree(p.cast()) };
}

/// The kernel's `alloc_pages(GFP_KERNEL, order)` (null on failure).
#[inline]
pub(crate) fn alloc_pages(order: u32) -> *mut bindings::page {
    // SAFETY: any order may be asked for.
    unsafe { bindings::alloc_pages(bindings::GFP_KERNEL, order) }
}

/// The kernel's `__free_pages()`.
///
/// # Safety
///
/// `p` came from [`alloc_pages`] with `order` and is not used again.
#[inline]
pub(crate) unsafe fn free_pages(p: *mut bindings::page, order: u32) {
    // SAFETY: the caller's guarantee.
    unsafe { bindings::__free_pages(p, order) };
}
