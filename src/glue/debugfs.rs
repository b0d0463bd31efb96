// SPDX-License-Identifier: GPL-2.0
//! A write-only command file in debugfs, owned by the module, and
//! read-only files beside it (a `seq_file` each).
//!
//! Why not `kernel::debugfs`: in Linux 7.3 its files' `file_operations`
//! have no `owner`, so an open file does not pin the module; debugfs' proxy
//! reads the operations (`real_fops->release`) when the file is closed, and
//! if the module was unloaded meanwhile that read faults (measured: an oops
//! on `close()` after `rmmod`). Here `owner` is this module: while the file
//! is open, `rmmod` is refused ("in use"), as for any module's file.

use kernel::{
    bindings,
    ffi::{c_char, c_int, c_void},
    prelude::*,
    seq_file::SeqFile,
    str::CStr,
    sync::Arc,
    uaccess::{UserPtr, UserSlice},
    ThisModule,
};

/// What a read-only file shows: written into its `seq_file` when read.
pub(crate) type Show = fn(&SeqFile);

/// What a command file does with a write.
pub(crate) trait Command: Send + Sync + 'static {
    /// Runs one write's bytes (at most [`MAX_WRITE`]).
    fn write(&self, data: &[u8]) -> Result;
}

/// The longest write a command file takes; longer ones are `EINVAL`.
pub(crate) const MAX_WRITE: usize = 256;

/// A directory in debugfs' root with one command file in it; both removed
/// on drop.
///
/// # Invariants
///
/// `dir` is the directory `debugfs_create_dir()` made (or an error pointer
/// without debugfs), `fops` the operations of its file, whose `i_private`
/// is a reference to `T` from `Arc::into_raw(data)`; `data` holds another,
/// so the `T` outlives the file, which `drop` removes before anything else.
pub(crate) struct CommandDir<T: Command> {
    dir: *mut bindings::dentry,
    fops: Pin<KBox<bindings::file_operations>>,
    /// The read-only files' operations ([`CommandDir::add_show`]), one set
    /// for all, made with the first.
    show_fops: Option<Pin<KBox<bindings::file_operations>>>,
    data: Arc<T>,
}

// SAFETY: the dentry is only removed (once, by `drop`); `T` is `Send + Sync`.
unsafe impl<T: Command> Send for CommandDir<T> {}
// SAFETY: `&CommandDir` gives nothing.
unsafe impl<T: Command> Sync for CommandDir<T> {}

impl<T: Command> CommandDir<T> {
    /// Makes `/sys/kernel/debug/<dir>/<file>` (mode 0200) for `module`,
    /// running `data.write()` for each write.
    pub(crate) fn new(
        module: &'static ThisModule,
        dir: &CStr,
        file: &CStr,
        data: Arc<T>,
    ) -> Result<Self> {
        let fops = KBox::pin(
            bindings::file_operations {
                owner: module.as_ptr(),
                open: Some(bindings::simple_open),
                write: Some(Self::write_cb),
                llseek: Some(bindings::noop_llseek),
                // SAFETY: all-zero is "no operation" for every other field.
                ..unsafe { core::mem::zeroed() }
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `dir` is NUL-terminated; a null parent is debugfs' root.
        let d = unsafe { bindings::debugfs_create_dir(dir.as_char_ptr(), core::ptr::null_mut()) };
        let private = Arc::into_raw(data.clone()).cast_mut().cast::<c_void>();
        // SAFETY: `d` is a directory or an error pointer (then this makes
        // nothing); `private` stays valid until `drop` removed the file;
        // `fops` is pinned and lives in `self` until then too.
        unsafe {
            bindings::debugfs_create_file_full(
                file.as_char_ptr(),
                0o200,
                d,
                private,
                core::ptr::null(),
                &*fops,
            )
        };
        // INVARIANT: made above; the file holds the `Arc` reference in
        // `private`, `data` another.
        Ok(CommandDir {
            dir: d,
            fops,
            show_fops: None,
            data,
        })
    }

    /// Adds `/sys/kernel/debug/<dir>/<file>` (mode 0400) for `module`,
    /// showing what `show` writes each time it is read; removed with the
    /// directory.
    pub(crate) fn add_show(
        &mut self,
        module: &'static ThisModule,
        file: &CStr,
        show: Show,
    ) -> Result {
        let fops = match &mut self.show_fops {
            Some(f) => f,
            none => none.insert(KBox::pin(
                bindings::file_operations {
                    owner: module.as_ptr(),
                    open: Some(Self::show_open),
                    read: Some(bindings::seq_read),
                    llseek: Some(bindings::seq_lseek),
                    release: Some(bindings::single_release),
                    // SAFETY: all-zero is "no operation" for every other
                    // field.
                    ..unsafe { core::mem::zeroed() }
                },
                GFP_KERNEL,
            )?),
        };
        // SAFETY: `self.dir` is our directory or an error pointer (then this
        // makes nothing); the private data is `show`, a function pointer,
        // valid for as long as the module is loaded, which it is while the
        // file exists (`owner`); `fops` lives in `self` until `drop`
        // removed the file.
        unsafe {
            bindings::debugfs_create_file_full(
                file.as_char_ptr(),
                0o400,
                self.dir,
                show as *mut c_void,
                core::ptr::null(),
                &**fops,
            )
        };
        Ok(())
    }

    /// `file_operations::open` of a read-only file: `single_open()` with
    /// the file's [`Show`].
    ///
    /// # Safety
    ///
    /// Called by the VFS for a file of [`CommandDir::add_show`], whose
    /// `i_private` is its [`Show`].
    unsafe extern "C" fn show_open(
        inode: *mut bindings::inode,
        file: *mut bindings::file,
    ) -> c_int {
        // SAFETY: the VFS's `inode` and `file`; `i_private` is passed on
        // for `show_cb` to read.
        unsafe { bindings::single_open(file, Some(Self::show_cb), (*inode).i_private) }
    }

    /// `single_open()`'s show callback: runs the file's [`Show`].
    ///
    /// # Safety
    ///
    /// Called by `seq_read()` for a file opened by [`CommandDir::show_open`]:
    /// `m` is its `seq_file`, whose `private` is a [`Show`].
    unsafe extern "C" fn show_cb(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
        // SAFETY: `private` is the `Show` `add_show` stored (a function
        // pointer, cast back to its own type).
        let show = unsafe { core::mem::transmute::<*mut c_void, Show>((*m).private) };
        // SAFETY: `m` is a live `seq_file` for this call.
        show(unsafe { SeqFile::from_raw(m) });
        0
    }

    /// `file_operations::write`.
    ///
    /// # Safety
    ///
    /// Called by the VFS for a file of ours, opened by `simple_open` (so
    /// `private_data` is the inode's `i_private`), with a user buffer of
    /// `count` bytes.
    unsafe extern "C" fn write_cb(
        file: *mut bindings::file,
        buf: *const c_char,
        count: usize,
        _ppos: *mut bindings::loff_t,
    ) -> isize {
        if count > MAX_WRITE {
            return EINVAL.to_errno() as isize;
        }
        // SAFETY: `private_data` is the `T` of `CommandDir::new`, alive while
        // the file exists (and debugfs' proxy keeps the file from going
        // while this runs).
        let data = unsafe { &*(*file).private_data.cast::<T>() };
        let mut kbuf = [0u8; MAX_WRITE];
        let mut reader = UserSlice::new(UserPtr::from_ptr(buf.cast_mut().cast()), count).reader();
        if let Err(e) = reader.read_slice(&mut kbuf[..count]) {
            return e.to_errno() as isize;
        }
        match data.write(&kbuf[..count]) {
            Ok(()) => count as isize,
            Err(e) => e.to_errno() as isize,
        }
    }
}

impl<T: Command> Drop for CommandDir<T> {
    fn drop(&mut self) {
        // SAFETY: `debugfs_remove()` takes error pointers too; it waits for
        // running operations on the file, and no new one starts.
        unsafe { bindings::debugfs_remove(self.dir) };
        // The files are gone: nothing uses the operations or the reference
        // any more.
        let _ = (&self.fops, &self.show_fops);
        // SAFETY: the reference `new` gave the file (type invariant).
        drop(unsafe { Arc::from_raw(Arc::as_ptr(&self.data)) });
    }
}
