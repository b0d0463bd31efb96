// SPDX-License-Identifier: GPL-2.0
//! Typed caches: owned objects of a Rust type, dropped and freed together.

use super::{Cache, CacheConfig, SlabPool};
use crate::glue::gfp::Gfp;
use core::ptr::NonNull;
use kernel::{prelude::*, sync::Arc};

/// A cache of `T`s with owned handles: [`TypedCache::alloc`] moves a value
/// into an object of the cache and returns an [`Obj`], which drops the value
/// and frees the object when it goes.
pub(crate) struct TypedCache<T> {
    cache: Arc<Cache>,
    _t: core::marker::PhantomData<fn() -> T>,
}

impl<T> TypedCache<T> {
    /// A cache named `name` for `T` (its size and alignment), on `pool`.
    /// `EINVAL` for a zero-sized `T` or one too big for a slab.
    pub(crate) fn new(pool: &Arc<SlabPool>, name: &str) -> Result<Self> {
        let size = u32::try_from(core::mem::size_of::<T>()).map_err(|_| EINVAL)?;
        let align = u32::try_from(core::mem::align_of::<T>()).map_err(|_| EINVAL)?;
        let mut cfg = CacheConfig::new(name, size);
        cfg.align = align;
        Ok(TypedCache {
            cache: Cache::new(pool, &cfg)?,
            _t: core::marker::PhantomData,
        })
    }

    /// The untyped cache (statistics, shrink, validate).
    pub(crate) fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    /// Moves `value` into a new object; `ENOMEM` (and `value` dropped) if
    /// no memory could be had.
    pub(crate) fn alloc(&self, value: T, gfp: Gfp) -> Result<Obj<T>> {
        let p = self.cache.alloc(gfp).ok_or(ENOMEM)?.cast::<T>();
        // SAFETY: `p` is a fresh object of `size_of::<T>()` bytes aligned to
        // `align_of::<T>()` (the cache's geometry), owned by us.
        unsafe { p.as_ptr().write(value) };
        // INVARIANT: `p`, a live object of the cache, holds `value` now, and
        // only this handle has it.
        Ok(Obj {
            ptr: p,
            cache: self.cache.clone(),
        })
    }
}

/// An owned object of a [`TypedCache`].
///
/// # Invariants
///
/// `ptr` is a live object of `cache` holding an initialised `T`, owned by
/// this handle alone.
pub(crate) struct Obj<T> {
    ptr: NonNull<T>,
    cache: Arc<Cache>,
}

// SAFETY: an `Obj<T>` owns its `T` like a box does.
unsafe impl<T: Send> Send for Obj<T> {}
// SAFETY: as above; `&Obj<T>` gives `&T` only.
unsafe impl<T: Sync> Sync for Obj<T> {}

impl<T> core::ops::Deref for Obj<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: initialised and owned (type invariant).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> core::ops::DerefMut for Obj<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above; `&mut self` is unique.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T> Drop for Obj<T> {
    fn drop(&mut self) {
        // SAFETY: the value is initialised and owned (type invariant); the
        // object goes back to the cache it came from, once.
        unsafe {
            core::ptr::drop_in_place(self.ptr.as_ptr());
            self.cache.free(self.ptr.cast());
        }
    }
}
