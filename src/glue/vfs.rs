// SPDX-License-Identifier: GPL-2.0
//! Reading and writing files through the VFS, so that tests see sysfs files
//! exactly as `cat` and `echo` do, and the benchmark reads SLUB's
//! `/sys/kernel/slab/` files.

use kernel::{bindings, prelude::*, str::CStr};

// The same values on every Linux arch (include/uapi/asm-generic/fcntl.h).
const O_RDONLY: i32 = 0;
#[cfg(rslab_kunit)]
const O_WRONLY: i32 = 1;

/// While alive, the current kthread resolves paths from the userspace init's
/// root, as `scoped_with_init_fs()` does: since Linux 7.x kthreads (KUnit's
/// test threads among them) live in nullfs, where /sys does not exist.
struct InitFs(*mut bindings::fs_struct);

impl InitFs {
    fn enter() -> Self {
        // SAFETY: called from a kthread (a KUnit test); reverted in `drop` on
        // the same thread.
        InitFs(unsafe { super::ffi::rslab_override_init_fs() })
    }
}

impl Drop for InitFs {
    fn drop(&mut self) {
        // SAFETY: `self.0` is what `enter` replaced, on this thread.
        unsafe { super::ffi::rslab_revert_init_fs(self.0) };
    }
}

/// An open file.
///
/// # Invariants
///
/// `0` is a file returned by `filp_open` and not yet closed.
struct File(*mut bindings::file);

impl File {
    fn open(path: &CStr, flags: i32) -> Result<Self> {
        // SAFETY: `path` is NUL-terminated; `filp_open` returns a file or an
        // ERR_PTR, never NULL.
        let f = unsafe { bindings::filp_open(path.as_char_ptr(), flags, 0) };
        // INVARIANT: an open file on success.
        Ok(File(kernel::error::from_err_ptr(f)?))
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: the file is open (type invariant) and closed only here.
        unsafe { bindings::filp_close(self.0, core::ptr::null_mut()) };
    }
}

/// Reads up to one page from the start of the file at `path`.
pub(crate) fn read(path: &CStr) -> Result<KVec<u8>> {
    let _fs = InitFs::enter();
    let f = File::open(path, O_RDONLY)?;
    let mut buf = KVec::from_elem(0u8, kernel::page::PAGE_SIZE, GFP_KERNEL)?;
    let mut pos = 0;
    // SAFETY: `f` is open and `buf` is valid for `buf.len()` bytes.
    let n = unsafe { bindings::kernel_read(f.0, buf.as_mut_ptr().cast(), buf.len(), &mut pos) };
    if n < 0 {
        return Err(Error::from_errno(n as i32));
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// Writes `data` to the file at `path` in one write, as `echo` does; returns
/// what the write returned (bytes written, or the error).
#[cfg(rslab_kunit)]
pub(crate) fn write(path: &CStr, data: &[u8]) -> Result<usize> {
    let _fs = InitFs::enter();
    let f = File::open(path, O_WRONLY)?;
    let mut pos = 0;
    // SAFETY: `f` is open and `data` is valid for `data.len()` bytes.
    let n = unsafe { bindings::kernel_write(f.0, data.as_ptr().cast(), data.len(), &mut pos) };
    if n < 0 {
        return Err(Error::from_errno(n as i32));
    }
    Ok(n as usize)
}

/// The first number of a file such as a sysfs statistics file ("total
/// C0=a ..." gives the total; SLUB's `slabs` gives the count).
pub(crate) fn read_number(path: &CStr) -> Result<u64> {
    let s = read(path)?;
    let s = core::str::from_utf8(&s).map_err(|_| EINVAL)?;
    s.split_whitespace()
        .next()
        .ok_or(EINVAL)?
        .parse()
        .map_err(|_| EINVAL)
}
