// SPDX-License-Identifier: GPL-2.0
//! Double-word compare-exchange: SLUB's `cmpxchg_double` on a pair of words,
//! `(freelist, counters)` of a slab or `(freelist, tid)` of a CPU slab.
//!
//! - x86_64 with `cmpxchg16b` (every CPU QEMU and KVM model here): the
//!   instruction, from `asm!` (`core::arch`'s wrapper is not stable). The
//!   global form has the `lock` prefix, as `cmpxchg_double_slab()` does; the
//!   CPU-local form has none, as `this_cpu_cmpxchg_double()`: one
//!   instruction is atomic against this CPU's own interrupts, and no other
//!   CPU writes a CPU's pair (see [`DWord::cmpxchg_local`]).
//! - Elsewhere (riscv64 has no double-word compare-exchange without Zacas):
//!   as SLUB without `CONFIG_HAVE_CMPXCHG_DOUBLE`, the global form takes the
//!   pair's lock bit (`slab_lock()`) with interrupts off, and the local form
//!   is a short section with interrupts off.
//!
//! Readers load either word on its own without any lock; a reader that must
//! see both consistently gets them from a successful compare-exchange.

use super::{
    atomic::{Acquire, Atomic, Relaxed, Release},
    ffi,
    percpu::IrqsOff,
};

/// Whether [`DWord`] uses `cmpxchg16b` (set once by [`init`]).
static CX16: Atomic<i32> = Atomic::new(0);

/// Probes the CPU; call once before any [`DWord`] is used.
pub(crate) fn init() {
    // SAFETY: reads a boot CPU feature bit.
    let has = unsafe { ffi::rslab_has_cmpxchg16b() };
    CX16.store(i32::from(has), Relaxed);
}

/// Whether the lock-free form is in use (the fast paths test it: an inline
/// load, `system_has_cmpxchg128()`'s role).
#[inline(always)]
pub(crate) fn lock_free() -> bool {
    CX16.load(Relaxed) != 0
}

/// A pair of words updated together.
///
/// # Invariants
///
/// Once shared, `w` is only written by [`DWord::cmpxchg`] (or, for a pair
/// in per-CPU memory, only by its CPU: [`cmpxchg16b_this_cpu`] and
/// [`DWord::set_local`] with interrupts off); `lock` is
/// only taken by the fallback of [`DWord::cmpxchg`].
#[repr(C, align(16))]
pub(crate) struct DWord {
    w: [Atomic<usize>; 2],
    lock: Atomic<u32>,
}

impl DWord {
    /// A pair `(a, b)`.
    pub(crate) const fn new(a: usize, b: usize) -> Self {
        DWord {
            w: [Atomic::new(a), Atomic::new(b)],
            lock: Atomic::new(0),
        }
    }

    /// The first word (`READ_ONCE`), with acquire ordering: what a freelist
    /// pointer points to was written before the exchange that stored it.
    #[inline]
    pub(crate) fn first(&self) -> usize {
        self.w[0].load(Acquire)
    }

    /// The second word.
    #[inline]
    pub(crate) fn second(&self) -> usize {
        self.w[1].load(Relaxed)
    }

    /// Atomically replaces `old` by `new` if the pair is `old`, against every
    /// CPU. Returns whether it did.
    #[inline]
    pub(crate) fn cmpxchg(&self, old: (usize, usize), new: (usize, usize)) -> bool {
        #[cfg(target_arch = "x86_64")]
        if lock_free() {
            // SAFETY: `self.w` is 16-byte aligned (`repr(align(16))`, first
            // field) and valid for 16 bytes.
            return unsafe { cmpxchg16b::<true>(self.w[0].as_ptr().cast(), old, new) };
        }
        // Interrupts off without a call (`raw_local_irq_save()`); nothing
        // below takes a lock lockdep knows.
        // SAFETY: dropped by the end of this block, inside every interrupts-off
        // guard live now (sections nest).
        let _irq = unsafe { IrqsOff::new() };
        // `slab_lock()`: a bit spinlock; interrupts are off, so an interrupt
        // on this CPU cannot spin on a lock this CPU holds.
        while self.lock.cmpxchg(0, 1, Acquire).is_err() {
            core::hint::spin_loop();
        }
        let ok = self.w[0].load(Relaxed) == old.0 && self.w[1].load(Relaxed) == old.1;
        if ok {
            self.w[1].store(new.1, Relaxed);
            // Release: the freelist pointer is published last and orders
            // the free pointers written into objects before it.
            self.w[0].store(new.0, Release);
        }
        self.lock.store(0, Release);
        ok
    }

    /// The first word of a per-CPU pair, read on its CPU with interrupts off
    /// (only that CPU writes it, so no ordering is needed).
    #[inline(always)]
    pub(crate) fn first_local(&self) -> usize {
        self.w[0].load(Relaxed)
    }

    /// Sets both words of a per-CPU pair on its CPU with interrupts off
    /// (`c->freelist = ...; c->tid = ...;` in SLUB's slow paths): plain
    /// stores, since only that CPU reads them (a flush runs on it, or after
    /// it died, which hotplug orders).
    #[inline(always)]
    pub(crate) fn set_this_cpu(&self, a: usize, b: usize) {
        self.w[1].store(b, Relaxed);
        self.w[0].store(a, Relaxed);
    }

    /// Sets both words with plain stores: from the owning CPU with its
    /// interrupts off (the slow paths' writes to `kmem_cache_cpu`), or on a
    /// slab nobody else can reach yet. The caller is the only writer.
    #[inline]
    pub(crate) fn set_local(&self, a: usize, b: usize) {
        self.w[1].store(b, Relaxed);
        self.w[0].store(a, Release);
    }
}

/// `this_cpu_cmpxchg_double()`: `cmpxchg16b` without `lock` on this CPU's
/// copy of the per-CPU pair at per-CPU address `p` (`%gs:`-relative).
///
/// # Safety
///
/// `p` is a per-CPU pointer to a 16-byte aligned pair of words, valid on
/// every CPU, that only the owning CPU writes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn cmpxchg16b_this_cpu(
    p: usize,
    old: (usize, usize),
    new: (usize, usize),
) -> bool {
    // SAFETY: the caller's guarantee, with the segment override.
    unsafe { cmpxchg16b_insn::<2>(p as *mut u128, old, new) }
}

/// `cmpxchg16b` on `p`; `LOCK` selects the `lock` prefix.
///
/// # Safety
///
/// `p` must be 16-byte aligned and valid for reads and writes of 16 bytes,
/// and only accessed atomically by others.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn cmpxchg16b<const LOCK: bool>(
    p: *mut u128,
    old: (usize, usize),
    new: (usize, usize),
) -> bool {
    // SAFETY: the caller's guarantee.
    unsafe {
        if LOCK {
            cmpxchg16b_insn::<1>(p, old, new)
        } else {
            cmpxchg16b_insn::<0>(p, old, new)
        }
    }
}

/// The instruction: `KIND` 0 is plain, 1 has `lock`, 2 is `%gs:`-relative
/// (`p` a per-CPU address).
///
/// # Safety
///
/// As for [`cmpxchg16b`] (or [`cmpxchg16b_this_cpu`] for `KIND` 2).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn cmpxchg16b_insn<const KIND: u8>(
    p: *mut u128,
    old: (usize, usize),
    new: (usize, usize),
) -> bool {
    let ok: u8;
    // `cmpxchg16b` takes the new low word in `rbx`, which an `asm!` operand
    // cannot name (LLVM may use it as a base pointer), so the word comes in
    // through another register and is swapped in and out around the
    // instruction. The pointer is pinned to `rsi`: were it given `rbx` (a
    // plain `reg` operand may be, where LLVM does not need `rbx`; seen on
    // the KASAN build), the swap would overwrite it. `rbx` is restored
    // before `sete` (`mov` keeps the flags), so `ok` may be any byte
    // register, `bl` included. If `nlo` itself was given `rbx`, both swaps
    // are no-ops and `rbx` ends up holding the new low word, which the
    // operand's discarded output (`=> _`) allows.
    macro_rules! cmpxchg16b {
        ($insn:literal) => {
            core::arch::asm!(
                "xchg {nlo}, rbx",
                $insn,
                "mov rbx, {nlo}",
                "sete {ok}",
                in("rsi") p,
                nlo = inout(reg) new.0 => _,
                ok = out(reg_byte) ok,
                inout("rax") old.0 => _,
                inout("rdx") old.1 => _,
                in("rcx") new.1,
                options(nostack),
            )
        };
    }
    // SAFETY: the caller guarantees `p`; the instruction touches only those
    // 16 bytes and the named registers, and `rbx` is restored.
    unsafe {
        match KIND {
            1 => cmpxchg16b!("lock cmpxchg16b xmmword ptr [rsi]"),
            2 => cmpxchg16b!("cmpxchg16b xmmword ptr gs:[rsi]"),
            _ => cmpxchg16b!("cmpxchg16b xmmword ptr [rsi]"),
        }
    }
    ok != 0
}
