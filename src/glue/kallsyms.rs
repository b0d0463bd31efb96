// SPDX-License-Identifier: GPL-2.0
//! A code address as `%pS` prints it (`sprint_symbol()`): `name+off/size
//! [module]`, for the `ctor` file as SLUB shows it.

use kernel::bindings;

/// Room for `KSYM_SYMBOL_LEN` (512 for the name, plus offset, size, module
/// name and build id).
pub(crate) const SYMBOL_LEN: usize = 1024;

/// Writes the symbol of `addr` into `buf` and returns it (without the NUL).
pub(crate) fn symbol(addr: usize, buf: &mut [u8; SYMBOL_LEN]) -> &[u8] {
    // SAFETY: `buf` holds `SYMBOL_LEN >= KSYM_SYMBOL_LEN` bytes, which is
    // what `sprint_symbol()` may write, NUL included.
    let n = unsafe { bindings::sprint_symbol(buf.as_mut_ptr().cast(), addr) };
    let n = usize::try_from(n).unwrap_or(0).min(SYMBOL_LEN - 1);
    &buf[..n]
}
