// SPDX-License-Identifier: GPL-2.0
//! The current CPU and per-CPU iteration.

use super::atomic::Global;
use super::ffi;
use kernel::{bindings, cpu::CpuId, cpumask::Cpumask, prelude::*, types::Opaque};

/// The current CPU (`smp_processor_id()`): stable while the caller keeps
/// interrupts or preemption off. An out-of-line call: for slow paths.
pub(crate) fn current() -> usize {
    CpuId::current().as_u32() as usize
}

/// `in_nmi()`: whether this runs in NMI context, or in one the kernel
/// enters as one (a kprobe's or a breakpoint's handler): then it may have
/// interrupted any code of this CPU, interrupts-off sections included. An
/// out-of-line call: for the `_nolock` paths.
pub(crate) fn in_nmi() -> bool {
    // SAFETY: reads the preempt count; no precondition.
    unsafe { ffi::rslab_in_nmi() }
}

/// `jiffies`, inline (for slow paths that time their own events; a stale
/// value is harmless to them).
#[inline]
pub(crate) fn jiffies() -> usize {
    // SAFETY: `jiffies` is a word the timer interrupt updates; a volatile
    // read of it is what the kernel's `READ_ONCE(jiffies)` is.
    let j = unsafe { core::ptr::read_volatile(&raw const bindings::jiffies) };
    j as usize
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

/// The workqueue of [`on_each_online_cpu`], allocated at load
/// ([`FlushQueue::new`]) and destroyed at unload; null meanwhile.
static FLUSHWQ: Global<bindings::workqueue_struct> = Global::new();

/// Owns rslab's flush workqueue (SLUB's `flushwq`: `WQ_MEM_RECLAIM`, so
/// that a cache can be shrunk or destroyed from a `WQ_MEM_RECLAIM` worker,
/// which may not wait for the system workqueue). One per load.
pub(crate) struct FlushQueue(());

impl FlushQueue {
    /// Allocates the queue and publishes it to [`on_each_online_cpu`].
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: a plain allocation; the wrapper takes no arguments.
        let wq = unsafe { ffi::rslab_alloc_flushwq() };
        if wq.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `wq` lives until `FlushQueue::drop` withdraws it; its
        // users (`on_each_online_cpu`) run while the module is loaded and
        // finish their flush before returning.
        unsafe { FLUSHWQ.publish(wq) };
        Ok(FlushQueue(()))
    }
}

impl Drop for FlushQueue {
    fn drop(&mut self) {
        let wq = FLUSHWQ.withdraw().cast_mut();
        // SAFETY: `wq` was allocated by `new` and published only through
        // `FLUSHWQ`; the module drops this after every cache is gone, so no
        // work is queued on it or about to be (`destroy_workqueue()` drains
        // it anyway).
        unsafe { bindings::destroy_workqueue(wq) };
    }
}

/// One CPU's call of [`on_each_online_cpu`]: the work item (first, so that
/// the work function finds the call from it) and what it runs.
#[repr(C)]
struct Call<'a, T> {
    work: Opaque<bindings::work_struct>,
    data: &'a T,
    f: fn(&T, usize),
    cpu: usize,
}

/// The work function of a [`Call`].
///
/// # Safety
///
/// `work` is the `work` field of a live `Call<T>`.
unsafe extern "C" fn run<T: Sync>(work: *mut bindings::work_struct) {
    // SAFETY: `work` is the first field of a `#[repr(C)]` `Call<T>` that
    // `on_each_online_cpu` keeps alive until `flush_work()` returns.
    let call = unsafe { &*work.cast::<Call<'_, T>>() };
    (call.f)(call.data, call.cpu);
}

/// Runs `f(data, cpu)` on every online CPU, on that CPU, in process context
/// (a work item queued on that CPU's worker of rslab's `WQ_MEM_RECLAIM`
/// flush workqueue), one CPU after the other, with CPU hotplug held off
/// meanwhile (`cpus_read_lock()`). SLUB 6.1 flushes CPU slabs this way
/// (`flush_all_cpus_locked()`: per-CPU work items on its `flushwq`) rather
/// than by IPI, where a `spinlock_t` may not be taken (it sleeps on
/// PREEMPT_RT; lockdep reports an invalid wait context). May sleep.
pub(crate) fn on_each_online_cpu<T: Sync>(data: &T, f: fn(&T, usize)) {
    let wq = FLUSHWQ.ptr().cast_mut();
    // Only while loaded: `FlushQueue` outlives every cache.
    if wq.is_null() {
        pr_warn!("on_each_online_cpu: no flush workqueue\n");
        return;
    }
    let key = kernel::static_lock_class!();
    // SAFETY: balanced by `cpus_read_unlock()` below; nothing in between
    // takes the hotplug lock for writing.
    unsafe { bindings::cpus_read_lock() };
    for cpu in online_cpus() {
        let call = core::pin::pin!(Call {
            work: Opaque::uninit(),
            data,
            f,
            cpu,
        });
        let work = call.work.get();
        // SAFETY: `work` is pinned on this stack frame until
        // `destroy_work_on_stack()` below, after `flush_work()` has waited
        // for it to run; the name is static, and so is the key. Queued on
        // `cpu`, which is online and stays so (hotplug is held off), it runs
        // there (a per-CPU workqueue), and `run::<T>` only reads `call`.
        unsafe {
            bindings::init_work_with_key(
                work,
                Some(run::<T>),
                true,
                c"rslab_flush".as_char_ptr(),
                key.as_ptr(),
            );
            bindings::queue_work_on(cpu as i32, wq, work);
            bindings::flush_work(work);
            ffi::rslab_destroy_work_on_stack(work);
        }
    }
    // SAFETY: taken above.
    unsafe { bindings::cpus_read_unlock() };
}
