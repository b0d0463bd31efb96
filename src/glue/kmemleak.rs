// SPDX-License-Identifier: GPL-2.0
//! kmemleak's hooks for the objects rslab hands out (`kmemleak_alloc()`,
//! `kmemleak_free()`, as SLUB's `kmemleak_alloc_recursive()` and
//! `kmemleak_free_recursive()` call them): on a kernel with
//! `CONFIG_DEBUG_KMEMLEAK` a call into kmemleak, on any other no code at
//! all, so that the fast paths of a user's kernel stay as they are.

#[cfg(CONFIG_DEBUG_KMEMLEAK)]
use super::ffi;
use super::gfp::Gfp;

/// Whether this kernel has kmemleak (it may still be off at boot:
/// `kmemleak=off`, in which case its hooks return at once).
pub(crate) const ENABLED: bool = cfg!(CONFIG_DEBUG_KMEMLEAK);

/// `kmemleak_alloc(p, size, 1, gfp)`: kmemleak tracks the `size` bytes at
/// `p`, handed out now: it scans them for references to other tracked
/// memory, and reports them if it finds no reference to them.
///
/// # Safety
///
/// `p` starts `size` bytes just allocated that stay mapped until [`free`]
/// is called on `p` (kmemleak reads them until then), and no other tracked
/// memory overlaps them.
#[inline(always)]
pub(crate) unsafe fn alloc(p: *const u8, size: usize, gfp: Gfp) {
    #[cfg(CONFIG_DEBUG_KMEMLEAK)]
    // SAFETY: the caller's guarantee.
    unsafe {
        ffi::rslab_kmemleak_alloc(p.cast(), size, gfp.raw())
    };
    #[cfg(not(CONFIG_DEBUG_KMEMLEAK))]
    let _ = (p, size, gfp);
}

/// `kmemleak_free(p)`: kmemleak stops tracking the memory at `p` (nothing
/// if it does not track it: a double free, or memory of an untracked
/// cache).
#[inline(always)]
pub(crate) fn free(p: *const u8) {
    #[cfg(CONFIG_DEBUG_KMEMLEAK)]
    // SAFETY: `kmemleak_free()` takes any pointer: it looks it up and
    // removes what it tracks there.
    unsafe {
        ffi::rslab_kmemleak_free(p.cast())
    };
    #[cfg(not(CONFIG_DEBUG_KMEMLEAK))]
    let _ = p;
}

/// `kmemleak_no_scan(p)`: kmemleak keeps tracking the allocation at `p`
/// (of the kernel's allocators) but no longer reads it for references: for
/// rslab's page records, which hold the addresses of slabs' first objects
/// and of large kmalloc blocks, and would otherwise hide their leaks.
#[inline(always)]
pub(crate) fn no_scan(p: *const u8) {
    #[cfg(CONFIG_DEBUG_KMEMLEAK)]
    // SAFETY: `kmemleak_no_scan()` takes any pointer: it looks it up and
    // changes what it tracks there.
    unsafe {
        ffi::rslab_kmemleak_no_scan(p.cast())
    };
    #[cfg(not(CONFIG_DEBUG_KMEMLEAK))]
    let _ = p;
}

/// `kmemleak_ignore(p)`: kmemleak neither reports the allocation at `p`
/// (of the kernel's allocators) nor reads it: for memory only an unscanned
/// allocation refers to, and which holds no pointers.
#[inline(always)]
pub(crate) fn ignore(p: *const u8) {
    #[cfg(CONFIG_DEBUG_KMEMLEAK)]
    // SAFETY: as for `no_scan`.
    unsafe {
        ffi::rslab_kmemleak_ignore(p.cast())
    };
    #[cfg(not(CONFIG_DEBUG_KMEMLEAK))]
    let _ = p;
}
