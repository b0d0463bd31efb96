// SPDX-License-Identifier: GPL-2.0
//! What the suites reach that rslab itself has no use for: the instance's
//! control state, fault injection's settings, a counting constructor, a
//! counter's total and a page's node.

use crate::{
    admin::Control,
    slab::{Cache, SlabStat},
};
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

mod ffi {
    extern "C" {
        /// `setup_fault_attr(&rslab_fail, str)`: 1 if it took the setting.
        pub(super) fn rslab_fail_setup(s: *mut kernel::ffi::c_char) -> core::ffi::c_int;
        /// `rslab_fail.verbose = 0` (nothing without `CONFIG_FAULT_INJECTION`).
        pub(super) fn rslab_fail_quiet();
        /// `kunit_mark_skipped(kunit_get_current_test(), "%s", reason)`.
        pub(super) fn rslab_kunit_skip(reason: *const kernel::ffi::c_char);
        /// `page_to_nid(virt_to_page(addr))` of a linear-map address.
        pub(super) fn rslab_addr_to_nid(addr: *const core::ffi::c_void) -> core::ffi::c_int;
    }
}

kernel::sync::global_lock! {
    // SAFETY: initialised by `init` (once per load, before any use).
    unsafe(uninit) static CONTROL: Mutex<Option<Arc<Control>>> = None;
}

/// Initialises the lock behind [`control`] and sets it: once, at load.
///
/// # Safety
///
/// Called exactly once per load of the module, before the suites run.
pub(crate) unsafe fn init(ctl: Option<Arc<Control>>) {
    // SAFETY: the caller's guarantee: once, before any use.
    unsafe { CONTROL.init() };
    *CONTROL.lock() = ctl;
}

/// Forgets the control state (at unload).
pub(crate) fn clear() {
    *CONTROL.lock() = None;
}

/// The control state of this module's instance: the suites run its
/// commands directly (a kthread cannot write a debugfs file:
/// `kernel_write()` needs `write_iter`, and debugfs copies from user
/// memory).
pub(crate) fn control() -> Result<Arc<Control>> {
    CONTROL.lock().clone().ok_or(ENODEV)
}

/// Fault injection on the instance's attribute (`fail_rslab_kunit`).
pub(crate) mod fault {
    use super::ffi;
    use kernel::{prelude::*, str::CStr};

    /// Sets the attribute as the boot parameters of the kernel's fault
    /// attributes do: `"<interval>,<probability>,<space>,<times>"`,
    /// probability in percent, `times` -1 for no limit. `ENODEV` without
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

    /// For a test that injects failures: whether the kernel can. If it can,
    /// injection starts off and quiet (no report and stack dump per
    /// failure: the kernel log must stay free of call traces); if not, the
    /// running test is marked skipped and should return.
    pub(crate) fn kunit_ready() -> bool {
        if setup(c"1,0,0,0") == Err(ENODEV) {
            kunit_skip(c"no CONFIG_FAULT_INJECTION");
            return false;
        }
        // SAFETY: writes one field of the static attribute.
        unsafe { ffi::rslab_fail_quiet() };
        true
    }

    /// Marks the running KUnit test skipped, with `reason`.
    pub(crate) fn kunit_skip(reason: &CStr) {
        // SAFETY: `reason` is NUL-terminated and formatted as "%s".
        unsafe { ffi::rslab_kunit_skip(reason.as_char_ptr()) };
    }
}

/// The byte [`counting_ctor`] writes.
pub(crate) const CTOR_BYTE: u8 = 0xc7;

/// How many times [`counting_ctor`] ran.
pub(crate) static CTOR_CALLS: Atomic<u64> = Atomic::new(0);

/// A constructor that fills the object's first byte with [`CTOR_BYTE`] and
/// counts the call.
///
/// # Safety
///
/// `obj` points to a whole object of at least one byte (a constructor's
/// contract, see [`crate::slab::Ctor`]).
pub(crate) unsafe extern "C" fn counting_ctor(obj: *mut core::ffi::c_void) {
    // SAFETY: a constructor gets a whole object of at least one byte.
    unsafe { obj.cast::<u8>().write(CTOR_BYTE) };
    CTOR_CALLS.add(1, Relaxed);
}

/// A counter's total over every CPU.
pub(crate) trait StatTotal {
    /// The total of `s`.
    fn stat_total(&self, s: SlabStat) -> u64;
}

impl StatTotal for Cache {
    fn stat_total(&self, s: SlabStat) -> u64 {
        self.stats().sum(s as usize)
    }
}

/// The node of the page holding `addr`, a linear-map address of a page the
/// caller holds.
pub(crate) fn node_of_addr(addr: *const u8) -> usize {
    // SAFETY: `virt_to_page()` computes a `struct page` address from a
    // linear-map address, and `page_to_nid()` reads its flags; every
    // address given here is in a page the caller holds.
    let n = unsafe { ffi::rslab_addr_to_nid(addr.cast()) };
    usize::try_from(n).unwrap_or(0)
}
