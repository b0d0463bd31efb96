// SPDX-License-Identifier: GPL-2.0
//! Per-CPU data with the kernel's `this_cpu` semantics, inline.
//!
//! [`PerCpu<T>`] holds one `T` per possible CPU in memory from
//! `__alloc_percpu()`, addressed as the kernel addresses per-CPU data: a
//! per-CPU pointer plus the CPU's offset (`per_cpu_ptr()`). Two ways reach
//! the current CPU's copy without a call (the kernel crate's `CpuId` and
//! `preempt_disable()` are out-of-line calls from a module):
//!
//! - [`IrqsOff`]: interrupts off (`raw_local_irq_save()`, one inline
//!   instruction or two; on an x86_64 kernel with `CONFIG_PARAVIRT_XXL`,
//!   where the flag is the hypervisor's, a call to the kernel's) and this
//!   CPU's offset: on x86_64 `this_cpu_off`
//!   read `%gs:`-relative (`arch_raw_cpu_ptr()`), on riscv64
//!   `__per_cpu_offset[current->thread_info.cpu]`, `current` being `tp`
//!   (`raw_smp_processor_id()`). This is the generic `this_cpu_*()`
//!   implementation; with interrupts off the task cannot move and no
//!   interrupt on this CPU can touch the data, so plain accesses follow.
//!   It does no lockdep or irq-flag tracing, like `raw_local_irq_save()`:
//!   no lock may be taken while it is held.
//! - On x86_64, single `%gs:`-relative instructions on this CPU's copy
//!   ([`PerCpu::this_cpu_read`], [`PerCpu::this_cpu_inc`],
//!   [`PerCpu::this_cpu_cmpxchg16b`]), exactly what `this_cpu_read()`,
//!   `this_cpu_inc()` and `this_cpu_cmpxchg_double()` compile to: atomic
//!   against this CPU's interrupts, and needing neither preemption off nor
//!   the CPU number, because the segment base is the CPU the instruction
//!   runs on. A task may move between two of them; callers that need two
//!   reads to agree compare-exchange a transaction id that encodes the CPU,
//!   as SLUB does.

use super::ffi;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{bindings, cpu::CpuId, cpumask::Cpumask, prelude::*};

/// Whether `cpu` is possible (`cpu_possible()`): has a per-CPU area.
pub(crate) fn possible(cpu: usize) -> bool {
    // SAFETY: `__cpu_possible_mask` is a static cpumask set at boot; it is
    // only read here.
    let mask = unsafe { Cpumask::from_raw(&raw const bindings::__cpu_possible_mask) };
    CpuId::from_u32(cpu as u32).is_some_and(|c| mask.test(c))
}

/// The per-CPU offset of possible CPU `cpu` (`per_cpu_offset()`).
#[inline(always)]
fn cpu_offset(cpu: usize) -> usize {
    // SAFETY: `__per_cpu_offset` is written at boot and only read after;
    // callers pass a possible CPU, below `NR_CPUS`.
    unsafe {
        *(&raw const bindings::__per_cpu_offset)
            .cast::<usize>()
            .add(cpu)
    }
}

#[cfg(target_arch = "x86_64")]
mod arch {
    /// `raw_local_irq_save()`: the flags, with interrupts off after
    /// (`native_save_fl()` and `native_irq_disable()`, what the kernel's
    /// compiles to without `CONFIG_PARAVIRT_XXL`).
    #[cfg(not(CONFIG_PARAVIRT_XXL))]
    #[inline(always)]
    pub(super) fn irq_save() -> usize {
        let f: usize;
        // SAFETY: reads the flags and clears IF. Not `nomem`: it orders the
        // section's memory accesses after it, as `barrier()` in the kernel's.
        unsafe { core::arch::asm!("pushfq", "pop {f}", "cli", f = out(reg) f) };
        f
    }

    /// `raw_local_irq_restore()`.
    #[cfg(not(CONFIG_PARAVIRT_XXL))]
    #[inline(always)]
    pub(super) fn irq_restore(f: usize) {
        // X86_EFLAGS_IF.
        if f & 0x200 != 0 {
            // SAFETY: interrupts were on when `irq_save` returned `f`; a
            // compiler barrier as above.
            unsafe { core::arch::asm!("sti", options(nostack)) };
        }
    }

    /// `raw_local_irq_save()` through the kernel's own (a call): with
    /// `CONFIG_PARAVIRT_XXL` (Xen PV) the interrupt flag is the
    /// hypervisor's, reached through paravirt operations, and `cli`/`sti`
    /// would be wrong.
    #[cfg(CONFIG_PARAVIRT_XXL)]
    #[inline(always)]
    pub(super) fn irq_save() -> usize {
        // SAFETY: the kernel's `raw_local_irq_save()`; no precondition.
        unsafe { super::ffi::rslab_irq_save() as usize }
    }

    /// `raw_local_irq_restore()` through the kernel's own (see `irq_save`).
    #[cfg(CONFIG_PARAVIRT_XXL)]
    #[inline(always)]
    pub(super) fn irq_restore(f: usize) {
        // SAFETY: `f` is what `irq_save` returned on this CPU.
        unsafe { super::ffi::rslab_irq_restore(f as kernel::ffi::c_ulong) }
    }

    /// This CPU's per-CPU offset: `this_cpu_read(this_cpu_off)`.
    #[inline(always)]
    pub(super) fn this_cpu_offset() -> usize {
        let o: usize;
        // SAFETY: `this_cpu_off` is the kernel's (exported) per-CPU copy of
        // `per_cpu_offset(cpu)`; `%gs:` addresses this CPU's copy. With
        // interrupts off the task stays on this CPU.
        unsafe {
            core::arch::asm!(
                "mov {o}, qword ptr gs:[rip + {off}]",
                o = out(reg) o,
                off = sym kernel::bindings::this_cpu_off,
                options(nostack, readonly, preserves_flags),
            )
        };
        o
    }
}

#[cfg(target_arch = "riscv64")]
mod arch {
    /// `SR_SIE` of `sstatus`.
    const SR_IE: usize = 0x2;

    /// Where `raw_smp_processor_id()` reads: `current_thread_info()->cpu`.
    const CPU: usize = core::mem::offset_of!(kernel::bindings::task_struct, thread_info)
        + core::mem::offset_of!(kernel::bindings::thread_info, cpu);

    /// `raw_local_irq_save()`: `csr_read_clear(CSR_STATUS, SR_IE)`.
    #[inline(always)]
    pub(super) fn irq_save() -> usize {
        let f: usize;
        // SAFETY: clears SIE, returning the old `sstatus`. Not `nomem`: a
        // compiler barrier, as the kernel's is.
        unsafe { core::arch::asm!("csrrci {f}, sstatus, 2", f = out(reg) f, options(nostack)) };
        f
    }

    /// `raw_local_irq_restore()`: `csr_set(CSR_STATUS, flags & SR_IE)`.
    #[inline(always)]
    pub(super) fn irq_restore(f: usize) {
        // SAFETY: restores SIE as `irq_save` found it; a compiler barrier.
        unsafe { core::arch::asm!("csrs sstatus, {f}", f = in(reg) f & SR_IE, options(nostack)) };
    }

    /// This CPU's per-CPU offset: `__per_cpu_offset[raw_smp_processor_id()]`.
    #[inline(always)]
    pub(super) fn this_cpu_offset() -> usize {
        let cpu: u32;
        // SAFETY: `tp` holds `current` in the kernel; its `thread_info.cpu`
        // is this CPU's number while interrupts are off (the task cannot
        // move).
        unsafe {
            core::arch::asm!(
                "lwu {c}, {o}(tp)",
                c = out(reg) cpu,
                o = const CPU,
                options(nostack, readonly, preserves_flags),
            )
        };
        super::cpu_offset(cpu as usize)
    }
}

/// Interrupts off on this CPU, and the CPU's per-CPU offset (see the module
/// comment). Not `Send`: it must be dropped on the CPU it was made on.
pub(crate) struct IrqsOff {
    flags: usize,
    offset: usize,
    _not_send: PhantomData<*mut ()>,
}

impl IrqsOff {
    /// Turns interrupts off (they are restored as they were on drop).
    ///
    /// # Safety
    ///
    /// The guard is dropped before every interrupts-off guard (this type's
    /// or the kernel's) that is live when it is made: sections nest. (Its
    /// drop restores the state it found; dropped after an outer guard, it
    /// would leave interrupts off, and the outer one's drop would turn them
    /// on under it. The kernel counts its `local_interrupt_disable()`
    /// sections for that reason; this one, on the fast paths, is two
    /// instructions and has its callers keep the order.)
    #[inline(always)]
    pub(crate) unsafe fn new() -> Self {
        let flags = arch::irq_save();
        IrqsOff {
            flags,
            offset: arch::this_cpu_offset(),
            _not_send: PhantomData,
        }
    }
}

impl Drop for IrqsOff {
    #[inline(always)]
    fn drop(&mut self) {
        arch::irq_restore(self.flags);
    }
}

/// Interrupts off on this CPU the traced way (`local_irq_save()`, so that
/// lockdep knows), which any context allows, NMI included (the kernel
/// crate's `local_interrupt_disable()` keeps a per-CPU nesting count, and
/// warns in NMI context). Out-of-line calls each way: for the `_nolock`
/// slow paths, which take spinlocks with `try_lock_with()` under it
/// ([`IrqsSaved::disabled`]). Not `Send`.
pub(crate) struct IrqsSaved {
    flags: kernel::ffi::c_ulong,
    _not_send: PhantomData<*mut ()>,
}

impl IrqsSaved {
    /// Turns interrupts off (restored as they were on drop).
    ///
    /// # Safety
    ///
    /// As for [`IrqsOff::new`]: sections nest.
    pub(crate) unsafe fn new() -> Self {
        // SAFETY: `local_irq_save()`; restored by the drop.
        let flags = unsafe { ffi::rslab_local_irq_save() };
        IrqsSaved {
            flags,
            _not_send: PhantomData,
        }
    }

    /// The kernel crate's token that interrupts are off, for
    /// `SpinLockIrq::try_lock_with()` (a plain `spin_trylock()`).
    pub(crate) fn disabled(&self) -> &kernel::interrupt::LocalInterruptDisabled {
        // SAFETY: interrupts are off, traced, while `self` lives, which
        // outlives the reference.
        unsafe { kernel::interrupt::LocalInterruptDisabled::assume_disabled() }
    }
}

impl Drop for IrqsSaved {
    fn drop(&mut self) {
        // SAFETY: the flags `local_irq_save()` gave; sections nest (the
        // contract of `new`).
        unsafe { ffi::rslab_local_irq_restore(self.flags) };
    }
}

// SAFETY: `IrqsSaved::new` turns interrupts off and only its drop restores
// them (sections nest); it is neither `Send` nor `Sync`, so it stays on the
// CPU it was made on, whose offset `this_cpu_offset` reads.
unsafe impl IrqsAreOff for IrqsSaved {
    #[inline(always)]
    fn cpu_offset(&self) -> usize {
        arch::this_cpu_offset()
    }
}

/// Proof that interrupts are off on this CPU: [`IrqsOff`], or the kernel
/// crate's traced `local_interrupt_disable()` guard.
///
/// # Safety
///
/// While a value of the implementing type lives, interrupts are off on the
/// CPU it was made on, and it is used (and dropped) on that CPU only (the
/// task cannot move meanwhile); [`IrqsAreOff::cpu_offset`] returns that
/// CPU's per-CPU offset (`per_cpu_offset()` of a possible CPU).
pub(crate) unsafe trait IrqsAreOff {
    /// This CPU's per-CPU offset.
    fn cpu_offset(&self) -> usize;
}

// SAFETY: `IrqsOff::new` turns interrupts off and only its drop restores
// them, no other guard's drop turning them on meanwhile (sections nest: the
// contract of `new`); it is neither `Send` nor `Sync` (a raw pointer
// marker), so it stays on the CPU it was made on, whose per-CPU offset it
// read with interrupts already off.
unsafe impl IrqsAreOff for IrqsOff {
    #[inline(always)]
    fn cpu_offset(&self) -> usize {
        self.offset
    }
}

// SAFETY: `LocalInterruptDisabled` is made by `local_interrupt_disable()`,
// which turns interrupts off (`local_irq_save()` under a nesting count, on
// every configuration in 7.3's `interrupt_rc.h`), and only the drop of the
// outermost guard turns them back on; it is neither `Send` nor `Sync`
// (`NotThreadSafe`), so it stays on its CPU, whose per-CPU offset
// `this_cpu_offset` reads (the task cannot move while interrupts are off).
unsafe impl IrqsAreOff for kernel::interrupt::LocalInterruptDisabled {
    #[inline(always)]
    fn cpu_offset(&self) -> usize {
        arch::this_cpu_offset()
    }
}

/// A `T` per possible CPU (see the module comment).
///
/// # Invariants
///
/// `ptr` is a per-CPU pointer from `__alloc_percpu()` for a `T`; the copy
/// of every possible CPU holds an initialised `T`, dropped and freed only in
/// `drop`.
pub(crate) struct PerCpu<T> {
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

// SAFETY: the copies are `T`s shared between CPUs by reference.
unsafe impl<T: Sync + Send> Send for PerCpu<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for PerCpu<T> {}

impl<T> PerCpu<T> {
    /// Zeroed per-CPU memory for a `T` on every possible CPU
    /// (`__alloc_percpu()`), not yet owned by a `PerCpu`.
    fn alloc() -> Result<NonNull<T>> {
        let size = core::mem::size_of::<T>().max(1);
        let align = core::mem::align_of::<T>();
        // SAFETY: allocates zeroed per-CPU memory; any size and a power of
        // two alignment (at most `PAGE_SIZE`, true of every `T` here).
        let p = unsafe { ffi::rslab_alloc_percpu(size, align) };
        NonNull::new(p.cast::<T>()).ok_or(ENOMEM)
    }

    /// A `T` per possible CPU, `init(cpu)` each.
    pub(crate) fn new(mut init: impl FnMut(usize) -> T) -> Result<Self> {
        let ptr = Self::alloc()?;
        for cpu in (0..super::cpu::nr_cpu_ids()).filter(|&c| possible(c)) {
            // SAFETY: the copy of a possible CPU is valid, aligned memory
            // for a `T`, not yet initialised.
            unsafe { Self::raw(ptr, cpu).write(init(cpu)) };
        }
        // INVARIANT: every possible CPU's copy is initialised.
        Ok(PerCpu {
            ptr,
            _owns: PhantomData,
        })
    }

    /// A `T` per possible CPU, all zeroes (what `__alloc_percpu()` gives).
    pub(crate) fn new_zeroed() -> Result<Self>
    where
        T: pin_init::Zeroable,
    {
        // INVARIANT: every copy is zeroed memory, a valid `T` (`Zeroable`).
        Ok(PerCpu {
            ptr: Self::alloc()?,
            _owns: PhantomData,
        })
    }

    /// `per_cpu_ptr(ptr, cpu)`.
    #[inline(always)]
    fn raw(ptr: NonNull<T>, cpu: usize) -> *mut T {
        (ptr.as_ptr() as usize).wrapping_add(cpu_offset(cpu)) as *mut T
    }

    /// CPU `cpu`'s copy, if the CPU is possible.
    pub(crate) fn get(&self, cpu: usize) -> Option<&T> {
        (cpu < super::cpu::nr_cpu_ids() && possible(cpu)).then(|| {
            // SAFETY: a possible CPU's copy is an initialised `T` that lives
            // as long as `self` (type invariant).
            unsafe { &*Self::raw(self.ptr, cpu) }
        })
    }

    /// This CPU's copy, while interrupts are off (`this_cpu_ptr()`).
    #[inline(always)]
    pub(crate) fn this<'a>(&'a self, irq: &'a impl IrqsAreOff) -> &'a T {
        // SAFETY: `irq.cpu_offset()` is the per-CPU offset of the CPU that
        // runs with `irq`, a possible CPU (`IrqsAreOff`'s guarantee), so
        // its copy is an initialised `T` (type invariant).
        unsafe { &*((self.ptr.as_ptr() as usize).wrapping_add(irq.cpu_offset()) as *const T) }
    }

    /// The per-CPU address of the word `off` bytes into `T`.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn word(&self, off: usize) -> usize {
        (self.ptr.as_ptr() as usize).wrapping_add(off)
    }

    /// `this_cpu_read()` of the word `off` bytes into this CPU's `T`.
    ///
    /// # Safety
    ///
    /// `off` is the offset of an aligned word-sized atomic field of `T`.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(crate) unsafe fn this_cpu_read(&self, off: usize) -> usize {
        let v: usize;
        // SAFETY: `%gs:` plus a per-CPU pointer addresses this CPU's copy,
        // which is initialised (type invariant); the field is an atomic word
        // (the caller's guarantee), so a racing write is not a data race.
        unsafe {
            core::arch::asm!(
                "mov {v}, qword ptr gs:[{a}]",
                v = out(reg) v,
                a = in(reg) self.word(off),
                options(nostack, readonly, preserves_flags),
            )
        };
        v
    }

    /// `this_cpu_read()` of the words `A`, `B` and `C` bytes into this
    /// CPU's `T`, in that order, in one block: one base register for the
    /// three. The compiler moves nothing in between, and x86 keeps loads
    /// in order, so the first is read before the others (SLUB's
    /// `barrier()` after reading the transaction id). Each read is one
    /// instruction on this CPU's copy; the task may move between two of
    /// them, as between two [`PerCpu::this_cpu_read`]s.
    ///
    /// # Safety
    ///
    /// `A`, `B` and `C` are the offsets of aligned word-sized atomic fields
    /// of `T`.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(crate) unsafe fn this_cpu_read3<const A: usize, const B: usize, const C: usize>(
        &self,
    ) -> [usize; 3] {
        let (a, b, c): (usize, usize, usize);
        // SAFETY: as in `this_cpu_read`, for each of the three fields (the
        // caller's guarantee).
        unsafe {
            core::arch::asm!(
                "mov {a}, qword ptr gs:[{p} + {oa}]",
                "mov {b}, qword ptr gs:[{p} + {ob}]",
                "mov {c}, qword ptr gs:[{p} + {oc}]",
                p = in(reg) self.ptr.as_ptr(),
                oa = const A,
                ob = const B,
                oc = const C,
                a = out(reg) a,
                b = out(reg) b,
                c = out(reg) c,
                options(nostack, readonly, preserves_flags),
            )
        };
        [a, b, c]
    }

    /// `this_cpu_inc()` of the `u64` `off` bytes into this CPU's `T`: one
    /// instruction, so an interrupt cannot split it.
    ///
    /// # Safety
    ///
    /// `off` is the offset of an aligned atomic `u64` field of `T` that
    /// holds a counter.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(crate) unsafe fn this_cpu_inc(&self, off: usize) {
        // SAFETY: as in `this_cpu_read`; the field is a counter, for which
        // any value is valid.
        unsafe {
            core::arch::asm!(
                "inc qword ptr gs:[{a}]",
                a = in(reg) self.word(off),
                options(nostack),
            )
        };
    }

    /// `this_cpu_cmpxchg_double()` of the 16-byte pair `off` bytes into this
    /// CPU's `T`: replaces `old` by `new` if this CPU's pair is `old`.
    ///
    /// # Safety
    ///
    /// `off` is the offset of a 16-byte aligned pair of atomic words of `T`
    /// that only this CPU writes (with this function, or with plain stores
    /// with interrupts off), and the CPU has `cmpxchg16b`.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(crate) unsafe fn this_cpu_cmpxchg16b(
        &self,
        off: usize,
        old: (usize, usize),
        new: (usize, usize),
    ) -> bool {
        // SAFETY: the caller's guarantee; `%gs:` makes it this CPU's pair.
        unsafe { super::dword::cmpxchg16b_this_cpu(self.word(off), old, new) }
    }
}

impl<T> core::ops::Index<usize> for PerCpu<T> {
    type Output = T;

    /// CPU `cpu`'s copy, for a CPU known to be possible (the current one,
    /// an online one, or one going down): anything else is a logic error,
    /// and panics.
    fn index(&self, cpu: usize) -> &T {
        match self.get(cpu) {
            Some(t) => t,
            None => panic!("per-CPU data of impossible CPU {cpu}"),
        }
    }
}

impl<T> Drop for PerCpu<T> {
    fn drop(&mut self) {
        for cpu in (0..super::cpu::nr_cpu_ids()).filter(|&c| possible(c)) {
            // SAFETY: each possible CPU's copy is initialised and dropped
            // once, here.
            unsafe { core::ptr::drop_in_place(Self::raw(self.ptr, cpu)) };
        }
        // SAFETY: `ptr` came from `__alloc_percpu()` and is freed once.
        unsafe { bindings::free_percpu(self.ptr.as_ptr().cast()) };
    }
}
