// SPDX-License-Identifier: GPL-2.0
//! The admin side: what the module shows and takes from userspace.
//!
//! - sysfs, one value per file (Documentation/filesystems/sysfs.rst), with
//!   SLUB's own action files (`shrink`, `validate`) aside:
//!   `/sys/kernel/rslab/version`, the pool's directory ([`pool_attrs`]) and
//!   one directory per cache of the registry ([`cache_attrs`]);
//! - debugfs: `/sys/kernel/debug/rslab/control` takes commands ([`control`]):
//!   creating and destroying caches, workloads ([`workload`]) and the
//!   benchmark ([`bench`]); `allocinfo` shows allocations per call site
//!   ([`allocinfo`]).

mod allocinfo;
mod bench;
mod cache_attrs;
mod control;
mod pool_attrs;
mod workload;

pub(crate) use control::Control;
use control::ControlFile;
#[cfg(rslab_kunit)]
pub(crate) use workload::{cache_workload, stamp, stamped};

use crate::{
    glue::sysfs::{Attr, Dir, Parent},
    registry::Registry,
    slab::SlabPool,
};
use core::fmt::Write;
use kernel::{prelude::*, sync::Arc, ThisModule};
use pool_attrs::{PoolDir, POOL_ATTRS};

/// rslab's version, shown in `/sys/kernel/rslab/version`.
pub(crate) const VERSION: &str = "0.1.0";

static ROOT_ATTRS: [Attr<()>; 1] = [Attr::ro(c"version", |(), e| {
    writeln!(e, "{VERSION}").map_err(|_| EINVAL)
})];

/// The module's files: `/sys/kernel/rslab/` (with `pool/` and `caches/`,
/// which the registry holds) and `/sys/kernel/debug/rslab/control`. Fields drop in
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
        caches.attach(cache_attrs::CachesDir::view(&root)?)?;
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
