// SPDX-License-Identifier: GPL-2.0
//! Scoped kernel threads bound to CPUs: run a closure on each of a set of
//! CPUs at once and wait for all of them (the kernel crate has no kthread
//! abstraction yet).

use kernel::{
    bindings,
    ffi::c_void,
    prelude::*,
    sync::{aref::ARef, Completion},
    task::Task,
};

/// What one thread runs: the shared closure and its CPU, and a completion
/// signalled once the closure has returned.
#[pin_data]
struct Job<'a, F> {
    f: &'a F,
    cpu: usize,
    #[pin]
    done: Completion,
}

/// Thread entry: runs the job, then signals it done.
///
/// # Safety
///
/// `data` is a pinned `Job<F>` that outlives the thread's use of it: the
/// joiner waits for `done` before freeing it.
unsafe extern "C" fn entry<F: Fn(usize) + Sync>(data: *mut c_void) -> i32 {
    // SAFETY: the caller's guarantee.
    let job = unsafe { &*data.cast::<Job<'_, F>>() };
    (job.f)(job.cpu);
    job.done.complete_all();
    0
}

/// Runs `f(cpu)` on one kernel thread bound to each CPU in `cpus` (`EINVAL`
/// unless every one is online), all at once, and returns when every one has run `f` to
/// its end. If a thread cannot be created, the ones already started are
/// still waited for and the error is returned.
pub(crate) fn run_on_cpus<F: Fn(usize) + Sync>(cpus: &[usize], f: &F) -> Result {
    // A CPU that is not online (or does not exist) is refused: the kernel
    // would take a thread's node from it (`cpu_to_node()`), garbage for a
    // CPU that is not possible.
    if !cpus.iter().all(|&c| super::cpu::online(c)) {
        return Err(EINVAL);
    }
    let mut jobs = KVec::with_capacity(cpus.len(), GFP_KERNEL)?;
    for &cpu in cpus {
        jobs.push(
            KBox::pin_init(
                pin_init!(Job {
                    f,
                    cpu,
                    done <- Completion::new(),
                }),
                GFP_KERNEL,
            )?,
            GFP_KERNEL,
        )?;
    }
    let mut threads: KVec<(ARef<Task>, usize)> = KVec::with_capacity(cpus.len(), GFP_KERNEL)?;
    let mut err = Ok(());
    for (i, job) in jobs.iter().enumerate() {
        // SAFETY: `job` is pinned in its box until after the thread has
        // signalled `done` and been reaped below; the name format is a plain
        // string with "%u" for the CPU.
        let t = unsafe {
            bindings::kthread_create_on_cpu(
                Some(entry::<F>),
                core::ptr::from_ref::<Job<'_, F>>(job).cast_mut().cast(),
                job.cpu as u32,
                c"rslab/%u".as_char_ptr(),
            )
        };
        let t = match kernel::error::from_err_ptr(t) {
            Ok(t) => t,
            Err(e) => {
                err = Err(e);
                break;
            }
        };
        // SAFETY: `t` is a live task; `Task` is a transparent wrapper of
        // `task_struct`. Taking a reference keeps it alive after it exits,
        // until we have reaped it (as `kthread_stop()` requires).
        let task: ARef<Task> = unsafe { &*t.cast::<Task>() }.into();
        // Capacity reserved above: never fails.
        let _ = threads.push((task, i), GFP_ATOMIC);
    }
    // Every thread is created before any is woken, so that they start
    // together: creating one goes through kthreadd and takes far longer
    // than a short `f` runs.
    for (t, _) in threads.iter() {
        // SAFETY: a new kthread waits to be woken once; `t` is alive.
        unsafe { bindings::wake_up_process(t.as_ptr()) };
    }
    for (t, i) in threads.iter() {
        // Wait for `f` to have run: `kthread_stop()` alone would make a
        // thread that has not started yet exit without running it.
        jobs[*i].done.wait_for_completion();
        // SAFETY: `t` is a kthread we created and hold a reference to; it has
        // finished `f`, and `kthread_stop` waits for it to exit.
        unsafe { bindings::kthread_stop(t.as_ptr()) };
    }
    err
}
