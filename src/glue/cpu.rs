// SPDX-License-Identifier: GPL-2.0
//! The current CPU and per-CPU iteration.

use kernel::{bindings, cpu::CpuId, cpumask::Cpumask, prelude::*};

/// The current CPU (`smp_processor_id()`): stable while the caller keeps
/// interrupts or preemption off. An out-of-line call: for slow paths.
pub(crate) fn current() -> usize {
    CpuId::current().as_u32() as usize
}

/// `nr_cpu_ids`: the bound of CPU numbers.
pub(crate) fn nr_cpu_ids() -> usize {
    kernel::cpu::nr_cpu_ids() as usize
}

/// Whether `cpu` is online (`cpu_online()`).
pub(crate) fn online(cpu: usize) -> bool {
    // SAFETY: `__cpu_online_mask` is a static cpumask that lives forever;
    // it is only read here.
    let mask = unsafe { Cpumask::from_raw(&raw const bindings::__cpu_online_mask) };
    CpuId::from_u32(cpu as u32).is_some_and(|c| mask.test(c))
}

/// The online CPUs (`for_each_online_cpu`).
pub(crate) fn online_cpus() -> impl Iterator<Item = usize> {
    (0..nr_cpu_ids()).filter(|&c| online(c))
}

/// The online CPUs, as a list (for [`super::kthread::run_on_cpus`]).
pub(crate) fn online_list() -> Result<KVec<usize>> {
    let mut cpus = KVec::new();
    for c in online_cpus() {
        cpus.push(c, GFP_KERNEL)?;
    }
    Ok(cpus)
}

/// Runs `f(data, cpu)` on every online CPU, on that CPU, in process context
/// (a per-CPU worker: `work_on_cpu()`), one CPU after the other, with CPU
/// hotplug held off meanwhile (`cpus_read_lock()`). SLUB 6.1 flushes CPU
/// slabs this way (per-CPU work items) rather than by IPI, where a
/// `spinlock_t` may not be taken (it sleeps on PREEMPT_RT; lockdep reports
/// an invalid wait context). May sleep.
pub(crate) fn on_each_online_cpu<T: Sync>(data: &T, f: fn(&T, usize)) {
    struct Call<'a, T> {
        data: &'a T,
        f: fn(&T, usize),
    }
    /// # Safety
    ///
    /// `arg` points to a live `Call<T>`.
    unsafe extern "C" fn run<T: Sync>(arg: *mut core::ffi::c_void) -> kernel::ffi::c_long {
        // SAFETY: `arg` is the `Call` below, alive until `work_on_cpu_key`
        // returns (it waits for the work to finish).
        let call = unsafe { &*arg.cast::<Call<'_, T>>() };
        (call.f)(call.data, CpuId::current().as_u32() as usize);
        0
    }
    let call = Call { data, f };
    let key = kernel::static_lock_class!();
    // SAFETY: balanced by `cpus_read_unlock()` below; nothing in between
    // takes the hotplug lock for writing.
    unsafe { bindings::cpus_read_lock() };
    for c in online_cpus() {
        // SAFETY: `run::<T>` only uses `call`, which outlives the call (it
        // waits); `c` is online and stays so (hotplug is held off); the key
        // is static.
        unsafe {
            bindings::work_on_cpu_key(
                c as i32,
                Some(run::<T>),
                core::ptr::from_ref(&call).cast_mut().cast(),
                key.as_ptr(),
            )
        };
    }
    // SAFETY: taken above.
    unsafe { bindings::cpus_read_unlock() };
}
