// SPDX-License-Identifier: GPL-2.0
//! The admin side: what the module shows and takes from userspace.
//!
//! - sysfs, one value per file (Documentation/filesystems/sysfs.rst), with
//!   SLUB's own action files (`shrink`, `validate`) aside:
//!   `/sys/kernel/rslab/version`, the pool's directory ([`pool_attrs`]) and
//!   one directory per cache ([`cache_attrs`], registered by [`registry`]);
//! - debugfs: `/sys/kernel/debug/rslab/control` takes commands ([`control`]):
//!   creating and destroying caches, workloads ([`workload`]) and the
//!   benchmark ([`bench`]).

mod bench;
mod cache_attrs;
mod control;
mod pool_attrs;
mod registry;
mod workload;

pub(crate) use control::Control;
use control::ControlFile;
pub(crate) use registry::Registry;
#[cfg(rslab_kunit)]
pub(crate) use workload::{cache_workload, stamp, stamped};

use crate::{
    glue::sysfs::{Attr, Dir, Parent},
    slab::SlabPool,
};
use core::fmt::Write;
use kernel::{prelude::*, sync::Arc, ThisModule};
use pool_attrs::{PoolDir, POOL_ATTRS};

/// The `slub_debug=` module parameter's bytes, if it was given.
fn slub_debug_param() -> Option<&'static [u8]> {
    // SAFETY: reading the parameter's pointer has no precondition.
    let p = unsafe { crate::glue::ffi::rslab_slub_debug_param() };
    if p.is_null() {
        return None;
    }
    // SAFETY: a set `charp` parameter is a NUL-terminated string that lives,
    // unchanged (it is read-only in sysfs), while the module is loaded.
    Some(unsafe { kernel::str::CStr::from_char_ptr(p) }.to_bytes())
}

/// The `slub_debug=` module parameter (`slub_debug=FZPU,cache-a,cache-b`,
/// the syntax of the kernel's; see [`crate::logic::slab::debugopt`]),
/// parsed: which caches are made debug caches, and how.
pub(crate) fn slub_debug() -> crate::logic::slab::debugopt::SlubDebug<'static> {
    use crate::logic::slab::debugopt::SlubDebug;
    slub_debug_param().map_or(SlubDebug::NONE, |s| SlubDebug::parse(s).0)
}

/// Says at load what `slub_debug=` turned on (and which letters it skipped).
pub(crate) fn log_slub_debug() {
    let Some(s) = slub_debug_param() else {
        return;
    };
    let (d, unknown) = crate::logic::slab::debugopt::SlubDebug::parse(s);
    if let Some(c) = unknown {
        pr_err!("slub_debug option '{}' unknown. skipped\n", char::from(c));
    }
    pr_info!(
        "slub_debug={} (flags {:#x} for other caches)\n",
        kernel::str::BStr::from_bytes(s),
        d.global
    );
}

/// rslab's version, shown in `/sys/kernel/rslab/version`.
pub(crate) const VERSION: &str = "0.1.0";

static ROOT_ATTRS: [Attr<()>; 1] = [Attr::ro(c"version", |(), e| {
    writeln!(e, "{VERSION}").map_err(|_| EINVAL)
})];

/// The module's files: `/sys/kernel/rslab/` (with `pool/`; the registry
/// adds `caches/`) and `/sys/kernel/debug/rslab/control`. Fields drop in
/// order: the control file first (no command runs afterwards), then the
/// pool's directory and the root, which goes once the registry's
/// `caches/` (holding a reference to it) is gone too.
pub(crate) struct Interfaces {
    control: ControlFile,
    _pool: Dir<PoolDir>,
    _root: Dir<()>,
}

impl Interfaces {
    /// Registers every file, for `pool` and the caches of `caches`:
    /// `/sys/kernel/<name>/` and `/sys/kernel/debug/<name>/control`.
    pub(crate) fn new(
        module: &'static ThisModule,
        name: &'static CStr,
        pool: &Arc<SlabPool>,
        caches: &Arc<Registry>,
    ) -> Result<Self> {
        let root = Dir::new::<()>(Parent::Kernel, name, (), &ROOT_ATTRS)?;
        let pool_dir = Dir::new(
            Parent::Dir(&root),
            c"pool",
            PoolDir::new(pool.clone()),
            &POOL_ATTRS,
        )?;
        caches.attach(&root)?;
        let control = ControlFile::new(module, name, Control::new(pool.clone(), caches.clone())?)?;
        Ok(Interfaces {
            control,
            _pool: pool_dir,
            _root: root,
        })
    }

    /// The state the control file's commands run on.
    pub(crate) fn control(&self) -> &Arc<Control> {
        self.control.control()
    }
}
