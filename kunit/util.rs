// SPDX-License-Identifier: GPL-2.0
//! Helpers shared by the KUnit suites.

use crate::glue::kthread;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::prelude::*;

/// The value of an `Option`, or `Err(ENOMEM)` naming the expression.
macro_rules! some_ {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => {
                pr_err!(
                    "kunit: {}:{}: {} is None\n",
                    file!(),
                    line!(),
                    stringify!($e)
                );
                return Err(ENOMEM);
            }
        }
    };
}

/// Runs `f` on a kthread bound to `cpu`; returns what `f` returned.
pub(crate) fn on_cpu(cpu: usize, f: impl Fn() -> Result + Sync) -> Result {
    let failed = AtomicBool::new(false);
    kthread::run_on_cpus(&[cpu], &|_| {
        if f().is_err() {
            failed.store(true, Ordering::Relaxed);
        }
    })?;
    if failed.load(Ordering::Relaxed) {
        Err(EINVAL)
    } else {
        Ok(())
    }
}

/// `Err(EINVAL)` with a message when `cond` does not hold (for code that
/// cannot use KUnit's `assert!`: helpers and kthreads).
macro_rules! ensure_ {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            pr_err!("kunit: {}:{}: {}\n", file!(), line!(), format_args!($($msg)+));
            return Err(EINVAL);
        }
    };
}

pub(crate) use ensure_ as ensure;
pub(crate) use some_ as some;

/// Runs a CPU-hotplug operation (`remove_cpu`/`add_cpu`) until it succeeds,
/// up to 20 times 50 ms apart: it fails with `EBUSY` while the CPU is busy
/// with hotplug-unsafe work, and QEMU's riscv64 harts sometimes take a while
/// to stop or start ("CPU1 may not have stopped"). Returns the last result.
pub(crate) fn hotplug_retry(op: impl Fn() -> i32) -> i32 {
    let mut r = op();
    for _ in 0..20 {
        if r == 0 {
            break;
        }
        kernel::time::delay::fsleep(kernel::time::Delta::from_millis(50));
        r = op();
    }
    r
}

/// Takes CPU 1 offline, calls `offline()` while it is, and brings it back
/// online if it went. Returns `remove_cpu`'s result, what `offline()`
/// returned and `add_cpu`'s result (0 when nothing was to be added back).
/// Asserts nothing, so that a caller may hold a hotplug instance around it.
pub(crate) fn with_cpu1_offline<T>(offline: impl FnOnce() -> T) -> (i32, T, i32) {
    // SAFETY: `remove_cpu`/`add_cpu` take the hotplug lock themselves.
    let removed = hotplug_retry(|| unsafe { kernel::bindings::remove_cpu(1) });
    let seen = offline();
    let mut added = 0;
    if removed == 0 {
        // SAFETY: as above.
        added = hotplug_retry(|| unsafe { kernel::bindings::add_cpu(1) });
    }
    (removed, seen, added)
}
