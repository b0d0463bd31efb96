// SPDX-License-Identifier: GPL-2.0
//! A small safe layer over sysfs directories (kobjects) with typed attributes.
//!
//! The kernel crate has no sysfs abstraction, so this module wraps the raw
//! bindings once. A [`Dir<T>`] is a kobject embedded next to a value of type
//! `T`; its files are [`Attr<T>`]s whose show/store functions receive `&T`.
//! This mirrors how SLUB embeds a kobject in `struct kmem_cache` and dispatches
//! through `slab_attr_show()`/`slab_attr_store()` with `container_of`.
//!
//! Lifetime: the directory owns one reference to its kobject. Dropping the
//! [`Dir`] drops that reference; the kobject is then removed from sysfs,
//! which waits for every running show/store to finish (kernfs drains active
//! references), and only then is the node, and `T` with it, freed by the
//! kobject's release function. A child directory holds a reference to its
//! parent's kobject, so a parent's node outlives its children.

use core::{fmt, marker::PhantomData, ptr::NonNull};
use kernel::{bindings, error::to_result, ffi::c_char, prelude::*, str::CStr};

/// One sysfs file of a [`Dir<T>`].
///
/// # Invariants
///
/// `attr.name` points to a NUL-terminated string that lives forever, and
/// `attr.mode` has a read bit only if `show` is set and a write bit only if
/// `store` is set.
#[repr(C)]
pub(crate) struct Attr<T> {
    attr: bindings::attribute,
    show: Option<fn(&T, &mut Emitter) -> Result>,
    store: Option<fn(&T, &str) -> Result>,
}

// SAFETY: `Attr` is only ever shared immutably: the raw name pointer points to
// a static string and nothing writes to the attribute after construction.
unsafe impl<T> Sync for Attr<T> {}

impl<T> Attr<T> {
    const fn new(
        name: &'static CStr,
        mode: u16,
        show: Option<fn(&T, &mut Emitter) -> Result>,
        store: Option<fn(&T, &str) -> Result>,
    ) -> Self {
        let mut attr: bindings::attribute = pin_init::zeroed();
        attr.name = kernel::str::as_char_ptr_in_const_context(name);
        attr.mode = mode;
        // INVARIANT: `name` is `'static` and NUL-terminated; the constructors
        // below pass modes matching `show`/`store`.
        Self { attr, show, store }
    }

    /// A read-only file (mode 0444).
    pub(crate) const fn ro(name: &'static CStr, show: fn(&T, &mut Emitter) -> Result) -> Self {
        Self::new(name, 0o444, Some(show), None)
    }

    /// A root-writable file (mode 0644).
    pub(crate) const fn rw(
        name: &'static CStr,
        show: fn(&T, &mut Emitter) -> Result,
        store: fn(&T, &str) -> Result,
    ) -> Self {
        Self::new(name, 0o644, Some(show), Some(store))
    }

    /// A root-only, write-only file (mode 0200), like SLUB's `shrink`.
    pub(crate) const fn wo(name: &'static CStr, store: fn(&T, &str) -> Result) -> Self {
        Self::new(name, 0o200, None, Some(store))
    }
}

/// The output buffer of a show function: one page, as sysfs gives it.
///
/// Writes past the page are cut off, as `sysfs_emit_at()` does.
pub(crate) struct Emitter {
    buf: *mut u8,
    len: usize,
}

impl Emitter {
    const CAP: usize = kernel::page::PAGE_SIZE;

    /// Writes `args` (`sysfs_emit_at()`); `EINVAL` if formatting fails.
    pub(crate) fn emit(&mut self, args: fmt::Arguments<'_>) -> Result {
        fmt::Write::write_fmt(self, args).map_err(|_| EINVAL)
    }
}

impl fmt::Write for Emitter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keep one byte for the terminating NUL.
        let n = s.len().min(Self::CAP - 1 - self.len);
        // SAFETY: `buf` is valid for `CAP` bytes (the sysfs page) and
        // `self.len + n < CAP`; the source is a distinct Rust string.
        unsafe { core::ptr::copy_nonoverlapping(s.as_ptr(), self.buf.add(self.len), n) };
        self.len += n;
        // SAFETY: `self.len < CAP`, as above.
        unsafe { *self.buf.add(self.len) = 0 };
        Ok(())
    }
}

/// The kobject and its value, allocated together.
///
/// # Invariants
///
/// `kobj` was initialised with `Dir::<T>::KTYPE`, whose release function frees
/// this node; the node was allocated by `KBox`.
#[repr(C)]
struct Node<T: 'static> {
    kobj: bindings::kobject,
    attrs: &'static [Attr<T>],
    data: T,
}

/// A sysfs directory holding a `T`, with files that show and store through it.
///
/// # Invariants
///
/// `node` points to a live [`Node<T>`] whose kobject was added to sysfs, and
/// this `Dir` owns one reference to that kobject.
pub(crate) struct Dir<T: Send + Sync + 'static> {
    node: NonNull<Node<T>>,
    _p: PhantomData<T>,
}

// SAFETY: a `Dir` only gives out `&T`, and `T: Send + Sync`; the kobject
// reference it owns may be dropped from any thread.
unsafe impl<T: Send + Sync> Send for Dir<T> {}
// SAFETY: as above; `&Dir` only gives `&T`.
unsafe impl<T: Send + Sync> Sync for Dir<T> {}

/// Where a new directory goes.
pub(crate) enum Parent<'a, U: Send + Sync + 'static> {
    /// `/sys/kernel/`.
    Kernel,
    /// Inside another directory of ours.
    Dir(&'a Dir<U>),
}

impl<T: Send + Sync + 'static> Dir<T> {
    const OPS: bindings::sysfs_ops = bindings::sysfs_ops {
        show: Some(Self::show_cb),
        store: Some(Self::store_cb),
    };

    const KTYPE: bindings::kobj_type = {
        let mut t: bindings::kobj_type = pin_init::zeroed();
        t.release = Some(Self::release_cb);
        t.sysfs_ops = &Self::OPS;
        t
    };

    /// Creates the directory `name` in `parent`, holding `data`, with `attrs`
    /// as its files.
    pub(crate) fn new<U: Send + Sync + 'static>(
        parent: Parent<'_, U>,
        name: &CStr,
        data: T,
        attrs: &'static [Attr<T>],
    ) -> Result<Self> {
        let parent_kobj = match parent {
            // SAFETY: `kernel_kobj` is set up at boot and never freed.
            Parent::Kernel => unsafe { bindings::kernel_kobj },
            // SAFETY: by the type invariant of `Dir`, `d.node` is live.
            Parent::Dir(d) => unsafe { &raw mut (*d.node.as_ptr()).kobj },
        };
        let node = KBox::new(
            Node {
                kobj: pin_init::zeroed(),
                attrs,
                data,
            },
            GFP_KERNEL,
        )?;
        let node = KBox::into_raw(node);
        let ktype: &'static bindings::kobj_type = const { &Self::KTYPE };
        // SAFETY: `node` is a fresh allocation, so its kobject is valid for
        // writes; `ktype` is static; `name` is NUL-terminated and is passed as
        // the "%s" argument, so it is not interpreted as a format.
        let ret = unsafe {
            bindings::kobject_init_and_add(
                &raw mut (*node).kobj,
                ktype,
                parent_kobj,
                c"%s".as_char_ptr(),
                name.as_char_ptr(),
            )
        };
        // SAFETY: `node` came from `KBox::into_raw`, so it is not null.
        let node = unsafe { NonNull::new_unchecked(node) };
        // INVARIANT: the kobject is initialised (added to sysfs on success,
        // checked below) and `dir` owns the reference the init gave.
        let dir = Self {
            node,
            _p: PhantomData,
        };
        // From here on, dropping `dir` puts the kobject, whose release frees
        // the node, also when `kobject_init_and_add` failed (the kobject is
        // initialised then; see its documentation).
        to_result(ret)?;
        for a in attrs {
            // SAFETY: the kobject is in sysfs; `a` is `'static` and valid.
            to_result(unsafe {
                bindings::sysfs_create_file_ns(dir.kobj(), &a.attr, core::ptr::null())
            })?;
        }
        Ok(dir)
    }

    /// The value the directory holds.
    #[cfg(rslab_kunit)]
    pub(crate) fn data(&self) -> &T {
        // SAFETY: by the type invariant, the node is live while `self` is.
        unsafe { &(*self.node.as_ptr()).data }
    }

    fn kobj(&self) -> *mut bindings::kobject {
        // SAFETY: by the type invariant, the node is live.
        unsafe { &raw mut (*self.node.as_ptr()).kobj }
    }

    /// # Safety
    ///
    /// `kobj` must be the kobject of a live `Node<T>` and `attr` one of its
    /// `Attr<T>`s.
    unsafe fn resolve<'a>(
        kobj: *mut bindings::kobject,
        attr: *mut bindings::attribute,
    ) -> (&'a Node<T>, &'a Attr<T>) {
        // SAFETY: `kobj` is the first field of a `#[repr(C)]` `Node<T>` and
        // `attr` the first field of a `#[repr(C)]` `Attr<T>` (caller's
        // guarantee), so the casts are `container_of`.
        unsafe { (&*kobj.cast::<Node<T>>(), &*attr.cast::<Attr<T>>()) }
    }

    /// `sysfs_ops::show` of `KTYPE`.
    ///
    /// # Safety
    ///
    /// Called by sysfs only, for a kobject of `KTYPE` and one of its files.
    unsafe extern "C" fn show_cb(
        kobj: *mut bindings::kobject,
        attr: *mut bindings::attribute,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: sysfs calls this only for kobjects of `KTYPE`, which are
        // embedded in live `Node<T>`s (kernfs holds an active reference for
        // the duration of the call), and for attributes created from their
        // `attrs`.
        let (node, attr) = unsafe { Self::resolve(kobj, attr) };
        let Some(show) = attr.show else {
            return EIO.to_errno() as isize;
        };
        let mut e = Emitter {
            buf: buf.cast(),
            len: 0,
        };
        match show(&node.data, &mut e) {
            Ok(()) => e.len as isize,
            Err(err) => err.to_errno() as isize,
        }
    }

    /// `sysfs_ops::store` of `KTYPE`.
    ///
    /// # Safety
    ///
    /// Called by sysfs only, for a kobject of `KTYPE` and one of its files,
    /// with `count` readable bytes at `buf`.
    unsafe extern "C" fn store_cb(
        kobj: *mut bindings::kobject,
        attr: *mut bindings::attribute,
        buf: *const c_char,
        count: usize,
    ) -> isize {
        // SAFETY: as in `show_cb`.
        let (node, attr) = unsafe { Self::resolve(kobj, attr) };
        let Some(store) = attr.store else {
            return EIO.to_errno() as isize;
        };
        // SAFETY: sysfs passes a buffer of `count` readable bytes.
        let bytes = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
        let Ok(s) = core::str::from_utf8(bytes) else {
            return EINVAL.to_errno() as isize;
        };
        match store(&node.data, s) {
            Ok(()) => count as isize,
            Err(err) => err.to_errno() as isize,
        }
    }

    /// `kobj_type::release` of `KTYPE`: frees the node.
    ///
    /// # Safety
    ///
    /// Called by the kobject core only, once, when the last reference to a
    /// kobject of `KTYPE` is gone.
    unsafe extern "C" fn release_cb(kobj: *mut bindings::kobject) {
        // SAFETY: the kobject core calls `release` once, when the last
        // reference is gone; by the `Node` invariant it was allocated by
        // `KBox` and `kobj` is its first field.
        drop(unsafe { KBox::from_raw(kobj.cast::<Node<T>>()) });
    }
}

impl<T: Send + Sync + 'static> Drop for Dir<T> {
    fn drop(&mut self) {
        // SAFETY: we own one reference (type invariant). Removing the
        // directory waits for running show/store calls; `release_cb` frees
        // the node when the last reference (possibly a child's) is gone.
        unsafe { bindings::kobject_put(self.kobj()) };
    }
}

/// Parses a sysfs write as one unsigned integer, as `kstrtoul()` accepts it;
/// anything else is `EINVAL`.
pub(crate) fn parse_ulong(s: &str) -> Result<u64> {
    crate::logic::admin::parse::parse_ulong(s).ok_or(EINVAL)
}
