// SPDX-License-Identifier: GPL-2.0
//! What SLUB's debug reports and user tracking need from the kernel: the
//! caller of an allocation or free (`_RET_IP_`), the current task's pid,
//! `jiffies`, `print_hex_dump()` and the taint state.

use crate::glue::atomic::{Atomic, Relaxed};
use kernel::{
    bindings,
    str::{CStr, CStrExt},
};

/// rslab's own text: `[start, end)`, set at load.
static TEXT: (Atomic<usize>, Atomic<usize>) = (Atomic::new(0), Atomic::new(0));

/// Records where this module's text is, for [`caller`].
pub(crate) fn init(module: &'static kernel::ThisModule) {
    // SAFETY: `module` is this module's `struct module`, alive while it is
    // loaded; its text never moves.
    let m = unsafe { &(*module.as_ptr()).mem[bindings::mod_mem_type_MOD_TEXT as usize] };
    let start = m.base as usize;
    TEXT.0.store(start, Relaxed);
    TEXT.1.store(start.wrapping_add(m.size as usize), Relaxed);
}

/// The code address an allocation or free was called from: the first
/// return address on the stack outside rslab after rslab's own frames (the
/// caller of the exported API, or whatever called into rslab), as
/// `_RET_IP_` of the kernel's entry points gives; the stack walker's own
/// frames (riscv64 lists them) come before rslab's and are skipped. Slow (a
/// stack walk): for debug caches only.
pub(crate) fn caller() -> usize {
    const DEPTH: usize = 16;
    let mut entries = [0usize; DEPTH];
    // SAFETY: `entries` has room for `DEPTH` addresses.
    let n = unsafe { bindings::stack_trace_save(entries.as_mut_ptr(), DEPTH as u32, 0) };
    let (lo, hi) = (TEXT.0.load(Relaxed), TEXT.1.load(Relaxed));
    let seen = entries.get(..n as usize).unwrap_or_default();
    let ours = |a: &usize| (lo..hi).contains(a);
    seen.iter()
        .copied()
        .skip_while(|a| !ours(a))
        .find(|a| !ours(a))
        .or_else(|| seen.first().copied())
        .unwrap_or(0)
}

/// The current task's pid.
pub(crate) fn pid() -> i32 {
    kernel::current!().pid()
}

/// `jiffies`.
pub(crate) fn jiffies() -> usize {
    // SAFETY: `jiffies` is a kernel variable that is always there; a
    // volatile read is `READ_ONCE()`.
    unsafe { core::ptr::read_volatile(&raw const bindings::jiffies) as usize }
}

/// `print_tainted()`'s gist (it is not exported): "Not tainted" or
/// "Tainted".
pub(crate) fn tainted() -> &'static str {
    // SAFETY: `test_taint()` only reads the taint mask.
    if (0..bindings::TAINT_FLAGS_COUNT).any(|f| unsafe { bindings::test_taint(f) } != 0) {
        "Tainted"
    } else {
        "Not tainted"
    }
}

/// `print_hex_dump(KERN_ERR, prefix, DUMP_PREFIX_ADDRESS, 16, 1, addr,
/// len, 1)`, as SLUB's `print_section()`.
///
/// # Safety
///
/// `addr..addr + len` is mapped memory (its contents may change meanwhile).
pub(crate) unsafe fn print_section(level: &CStr, prefix: &CStr, addr: usize, len: usize) {
    // SAFETY: the strings are NUL-terminated; the caller's guarantee for the
    // bytes.
    unsafe {
        bindings::print_hex_dump(
            level.as_char_ptr(),
            prefix.as_char_ptr(),
            bindings::DUMP_PREFIX_ADDRESS as i32,
            16,
            1,
            addr as *const core::ffi::c_void,
            len,
            true,
        )
    };
}
