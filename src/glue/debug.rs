// SPDX-License-Identifier: GPL-2.0
//! What SLUB's debug reports and user tracking need from the kernel: the
//! caller of an allocation or free (`_RET_IP_`) and its stack (in the
//! kernel's stack depot), the current task's pid,
//! `jiffies`, `print_hex_dump()` and the taint state.

use crate::glue::{
    atomic::{Atomic, Relaxed},
    ffi,
};
use kernel::{
    bindings,
    prelude::*,
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

/// Where an allocation or free was called from (SLUB's `_RET_IP_` and
/// `set_track_prepare()`'s stack).
#[derive(Clone, Copy, Default)]
pub(crate) struct Caller {
    /// The code address: the first return address on the stack outside
    /// rslab after rslab's own frames (the caller of the exported API, or
    /// whatever called into rslab), as `_RET_IP_` of the kernel's entry
    /// points gives; the stack walker's own frames (riscv64 lists them)
    /// come before rslab's and are skipped.
    pub(crate) addr: usize,
    /// The stack from `addr` on (up to `TRACK_ADDRS_COUNT`, 16, frames) in
    /// the kernel's stack depot; 0 if it could not be saved.
    pub(crate) handle: u32,
}

/// Frames [`caller`] walks.
const DEPTH: usize = 32;

/// The stack, and where the caller's frame is in it ([`Caller::addr`]):
/// `(entries, n, at)`; `at == n` if every frame after rslab's is rslab's,
/// 0 if none is rslab's.
fn walk() -> ([usize; DEPTH], usize, usize) {
    let mut entries = [0usize; DEPTH];
    // SAFETY: `entries` has room for `DEPTH` addresses.
    let n = unsafe { bindings::stack_trace_save(entries.as_mut_ptr(), DEPTH as u32, 0) };
    let n = (n as usize).min(DEPTH);
    let (lo, hi) = (TEXT.0.load(Relaxed), TEXT.1.load(Relaxed));
    let ours = |a: usize| (lo..hi).contains(&a);
    let first_ours = entries[..n].iter().position(|&a| ours(a));
    let at = first_ours.map_or(0, |f| (f..n).find(|&i| !ours(entries[i])).unwrap_or(n));
    (entries, n, at)
}

/// [`Caller::addr`] alone (0 if not found): a stack walk, no depot. Any
/// context.
pub(crate) fn caller_addr() -> usize {
    let (entries, n, at) = walk();
    if at < n {
        entries[at]
    } else {
        0
    }
}

/// The caller and its stack ([`Caller`]). Slow (a stack walk and a depot
/// lookup): for debug caches only. Any context (the depot does not sleep).
pub(crate) fn caller() -> Caller {
    const TRACK_ADDRS_COUNT: usize = 16;
    let (mut entries, n, at) = walk();
    if at >= n {
        return Caller::default();
    }
    let len = (n - at).min(TRACK_ADDRS_COUNT);
    // SAFETY: `entries[at..at + len]` are initialized addresses; the depot
    // copies them.
    let handle = unsafe { ffi::rslab_stack_depot_save(entries[at..].as_mut_ptr(), len as u32) };
    Caller {
        addr: entries[at],
        handle,
    }
}

/// Makes the stack depot ready (`stack_depot_init()`, as SLUB calls it for a
/// cache with `SLAB_STORE_USER`); without it, stacks are not saved. May
/// sleep.
pub(crate) fn stack_depot_init() {
    // SAFETY: process context (the caller's); it takes a mutex and may
    // allocate the depot's tables.
    if unsafe { ffi::rslab_stack_depot_init() } != 0 {
        pr_warn!("stack depot unavailable: no stack traces for store_user\n");
    }
}

/// Prints a saved stack (`stack_depot_print()`).
pub(crate) fn print_stack(handle: u32) {
    // SAFETY: `handle` came from the depot (or is 0, which prints nothing).
    unsafe { ffi::rslab_stack_depot_print(handle) };
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
