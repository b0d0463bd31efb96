// SPDX-License-Identifier: GPL-2.0
//! A memory shrinker (`shrinker_alloc`/`shrinker_register`): lets the kernel
//! ask for memory back under pressure and on `echo 2 > drop_caches`.

use kernel::{bindings, ffi::c_ulong, prelude::*, str::CStr, sync::Arc};

/// What a shrinker's target does. The shrinker is NUMA-aware
/// (`SHRINKER_NUMA_AWARE`): the kernel asks node by node (`sc->nid`; node 0
/// only without `CONFIG_NUMA`).
pub(crate) trait Shrink: Send + Sync + 'static {
    /// How many objects (here: pages) of node `nid` could be freed now.
    fn count(&self, nid: usize) -> usize;
    /// Frees up to `nr` objects of node `nid`; returns how many were
    /// freed, or `None` if no progress is possible now (`SHRINK_STOP`).
    fn scan(&self, nid: usize, nr: usize) -> Option<usize>;
}

/// A registered shrinker; unregistered (waiting for running callbacks) on
/// drop.
///
/// # Invariants
///
/// `ptr` is a registered shrinker whose `private_data` holds a reference to
/// a `T` made by `Arc::into_raw`.
pub(crate) struct Shrinker<T: Shrink> {
    ptr: *mut bindings::shrinker,
    _t: core::marker::PhantomData<Arc<T>>,
}

// SAFETY: the shrinker is only touched by the kernel and by `drop`.
unsafe impl<T: Shrink> Send for Shrinker<T> {}
// SAFETY: `&Shrinker` gives nothing.
unsafe impl<T: Shrink> Sync for Shrinker<T> {}

impl<T: Shrink> Shrinker<T> {
    /// Registers a shrinker named `name` for `target`.
    pub(crate) fn register(name: &CStr, target: Arc<T>) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated (passed for "%s").
        let ptr = unsafe { super::ffi::rslab_shrinker_alloc(name.as_char_ptr()) };
        if ptr.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `ptr` is a fresh, not yet registered shrinker we own.
        unsafe {
            (*ptr).count_objects = Some(Self::count_cb);
            (*ptr).scan_objects = Some(Self::scan_cb);
            (*ptr).seeks = bindings::DEFAULT_SEEKS as i32;
            (*ptr).private_data = Arc::into_raw(target).cast_mut().cast();
            bindings::shrinker_register(ptr);
        }
        // INVARIANT: registered, with the `Arc` reference in `private_data`.
        Ok(Shrinker {
            ptr,
            _t: core::marker::PhantomData,
        })
    }

    /// # Safety
    ///
    /// `s` must be a shrinker made by `register` that is not yet freed.
    unsafe fn target<'a>(s: *mut bindings::shrinker) -> &'a T {
        // SAFETY: `private_data` holds an `Arc<T>` reference until `drop`,
        // which frees the shrinker (waiting for callbacks) first.
        unsafe { &*(*s).private_data.cast::<T>() }
    }

    /// `count_objects`.
    ///
    /// # Safety
    ///
    /// Called by the shrinker core only.
    unsafe extern "C" fn count_cb(
        s: *mut bindings::shrinker,
        sc: *mut bindings::shrink_control,
    ) -> c_ulong {
        // SAFETY: the core passes a valid control structure.
        let nid = usize::try_from(unsafe { (*sc).nid }).unwrap_or(0);
        // SAFETY: called for a registered shrinker of ours.
        unsafe { Self::target(s) }.count(nid) as c_ulong
    }

    /// `scan_objects`.
    ///
    /// # Safety
    ///
    /// Called by the shrinker core only, with a valid `sc`.
    unsafe extern "C" fn scan_cb(
        s: *mut bindings::shrinker,
        sc: *mut bindings::shrink_control,
    ) -> c_ulong {
        // SAFETY: the core passes a valid control structure.
        let (nr, nid) = unsafe { ((*sc).nr_to_scan, (*sc).nid) };
        let nid = usize::try_from(nid).unwrap_or(0);
        // SAFETY: called for a registered shrinker of ours.
        match unsafe { Self::target(s) }.scan(nid, nr) {
            Some(freed) => {
                // SAFETY: as above.
                unsafe { (*sc).nr_scanned = nr as c_ulong };
                freed as c_ulong
            }
            None => !0, // SHRINK_STOP
        }
    }
}

impl<T: Shrink> Drop for Shrinker<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` is registered (type invariant). `shrinker_free`
        // unregisters it and waits until no callback runs, so the `Arc`
        // reference can be dropped afterwards.
        unsafe {
            let data = (*self.ptr).private_data;
            bindings::shrinker_free(self.ptr);
            drop(Arc::from_raw(data.cast::<T>()));
        }
    }
}
