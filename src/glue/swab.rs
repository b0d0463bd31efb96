// SPDX-License-Identifier: GPL-2.0
//! `swab()` of a word, as the kernel's: one `bswap` on x86_64; on riscv64
//! `rev8` when the CPU has Zbb (the kernel patches it in with an
//! alternative, `arch/riscv/include/asm/swab.h`; here a flag read once at
//! load selects it), else the generic shifts and masks. The hardened free
//! pointer (`freelist_ptr()`) swabs an address on every allocation and free.

use super::atomic::{Atomic, Relaxed};

/// Whether `rev8` may be used (set once by [`init`]).
static ZBB: Atomic<u32> = Atomic::new(0);

/// Probes the CPU; call once at load, before any cache exists.
pub(crate) fn init() {
    // SAFETY: reads a boot-time CPU feature.
    let has = unsafe { super::ffi::rslab_has_zbb() };
    ZBB.store(u32::from(has), Relaxed);
}

/// `swab64()`.
#[inline(always)]
pub(crate) fn swab(x: usize) -> usize {
    #[cfg(target_arch = "riscv64")]
    if ZBB.load(Relaxed) != 0 {
        let r: usize;
        // SAFETY: `rev8` only computes; the CPU has Zbb (checked above).
        unsafe {
            core::arch::asm!(
                ".option push",
                ".option arch, +zbb",
                "rev8 {r}, {x}",
                ".option pop",
                r = out(reg) r,
                x = in(reg) x,
                options(pure, nomem, nostack, preserves_flags),
            )
        };
        return r;
    }
    x.swap_bytes()
}
