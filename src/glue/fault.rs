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

/// Sets the attribute as the boot parameters of the kernel's fault
/// attributes do: `"<interval>,<probability>,<space>,<times>"`, probability
/// in percent, `times` -1 for no limit. `ENODEV` without
/// `CONFIG_FAULT_INJECTION`, `EINVAL` for a bad string.
pub(crate) fn setup(config: &CStr) -> Result {
    if !cfg!(CONFIG_FAULT_INJECTION) {
        return Err(ENODEV);
    }
    let mut buf = [0u8; 64];
    let b = config.to_bytes_with_nul();
    let dst = buf.get_mut(..b.len()).ok_or(EINVAL)?;
    dst.copy_from_slice(b);
    // SAFETY: `buf` holds a NUL-terminated copy that `sscanf` only reads.
    match unsafe { ffi::rslab_fail_setup(buf.as_mut_ptr().cast()) } {
        1 => Ok(()),
        _ => Err(EINVAL),
    }
}

/// No report (and stack dump) for each injected failure: for tests, whose
/// kernel log must stay free of call traces.
pub(crate) fn quiet() {
    // SAFETY: writes one field of the static attribute.
    unsafe { ffi::rslab_fail_quiet() };
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
    /// Makes `/sys/kernel/debug/fail_rslab/` if the kernel has the knobs
    /// (else nothing: the attribute still works, unconfigured).
    pub(crate) fn new() -> Self {
        // SAFETY: the attribute and the name are static.
        let d = unsafe { ffi::rslab_fail_debugfs() };
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

/// For a KUnit test that injects failures: whether the kernel can. If it
/// can, injection starts off and quiet (no report per failure); if not, the
/// running test is marked skipped and should return.
pub(crate) fn kunit_ready() -> bool {
    if setup(c"1,0,0,0") == Err(ENODEV) {
        kunit_skip(c"no CONFIG_FAULT_INJECTION");
        return false;
    }
    quiet();
    true
}

/// Marks the running KUnit test skipped, with `reason`.
pub(crate) fn kunit_skip(reason: &CStr) {
    // SAFETY: `reason` is NUL-terminated and formatted as "%s".
    unsafe { ffi::rslab_kunit_skip(reason.as_char_ptr()) };
}
