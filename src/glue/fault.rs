// SPDX-License-Identifier: GPL-2.0
//! Fault injection through the kernel's framework
//! (Documentation/fault-injection/fault-injection.rst): one fault attribute,
//! `fail_rslab`, for the pool's backing allocations and for new slabs, with
//! `fail_page_alloc`'s knobs under `/sys/kernel/debug/fail_rslab/`
//! (`probability`, `interval`, `times`, `verbose`, ...) on a kernel with
//! `CONFIG_FAULT_INJECTION_DEBUG_FS`. Without `CONFIG_FAULT_INJECTION`
//! nothing ever fails.

use super::ffi;
use kernel::{bindings, prelude::*};

/// Whether the allocation of `size` bytes at this site should fail now
/// (`should_fail()`): only on slow paths.
#[inline]
pub(crate) fn should_fail(size: usize) -> bool {
    // SAFETY: the attribute is static; `should_fail()` may be called from
    // any context.
    unsafe { ffi::rslab_should_fail(size) }
}

/// The attribute's knobs in debugfs, removed on drop.
///
/// # Invariants
///
/// `0` is null, an error pointer, or the directory
/// `fault_create_debugfs_attr()` made, removed only by `drop`.
pub(crate) struct Knobs(*mut bindings::dentry);

// SAFETY: the dentry is only removed, once, by `drop`, from any thread.
unsafe impl Send for Knobs {}
// SAFETY: `&Knobs` gives nothing.
unsafe impl Sync for Knobs {}

impl Knobs {
    /// Makes `/sys/kernel/debug/<name>/` (`fail_rslab`) if the kernel has
    /// the knobs (else nothing: the attribute still works, unconfigured).
    pub(crate) fn new(name: &'static CStr) -> Self {
        // SAFETY: the attribute and the name are static.
        let d = unsafe { ffi::rslab_fail_debugfs(name.as_char_ptr()) };
        // INVARIANT: whatever it returned; `drop` copes with all three.
        Knobs(d)
    }
}

impl Drop for Knobs {
    fn drop(&mut self) {
        // SAFETY: `debugfs_remove()` takes null, error pointers and
        // directories alike (type invariant).
        unsafe { bindings::debugfs_remove(self.0) };
    }
}
