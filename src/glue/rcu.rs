// SPDX-License-Identifier: GPL-2.0
//! `call_rcu()`: the kernel crate has `read_lock()`, `synchronize_rcu()`
//! and `rcu_barrier()` (`kernel::sync::rcu`) but no callback form.

use kernel::bindings;

/// `struct rcu_head`.
pub(crate) type RcuHead = bindings::callback_head;

/// `call_rcu(head, f)`: `f(head)` runs after a grace period, in softirq
/// context.
///
/// # Safety
///
/// `head` is valid, not queued already, and stays valid and untouched until
/// `f` runs; `f` is sound to call with it then; whatever `f` uses stays
/// alive until it has run (`rcu_barrier()` before it goes).
pub(crate) unsafe fn call_rcu(head: *mut RcuHead, f: unsafe extern "C" fn(*mut RcuHead)) {
    // SAFETY: the caller's guarantee.
    unsafe { bindings::call_rcu(head, Some(f)) };
}
