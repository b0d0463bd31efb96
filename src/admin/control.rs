// SPDX-License-Identifier: GPL-2.0
//! `/sys/kernel/debug/rslab/control`: one command per write (the grammar is
//! [`crate::logic::admin::control`]). A line that does not parse fails with
//! `EINVAL` and does nothing; commands fail with their own errno.

use super::{bench, workload};
use crate::{
    glue::debugfs::{self, CommandDir},
    logic::{
        admin::control::{self, parse, Command, Name},
        slab::layout,
    },
    page_pool::MAX_ORDER,
    registry::Registry,
    slab::{CacheConfig, SlabPool},
};
use kernel::{prelude::*, sync::Arc, ThisModule};

/// What commands act on: the module's pool and caches.
pub(crate) struct Control {
    pool: Arc<SlabPool>,
    caches: Arc<Registry>,
}

impl Control {
    /// Commands on `pool` and `caches`.
    pub(crate) fn new(pool: Arc<SlabPool>, caches: Arc<Registry>) -> Result<Arc<Self>> {
        Ok(Arc::new(Control { pool, caches }, GFP_KERNEL)?)
    }

    /// The caches commands act on.
    #[cfg(rslab_kunit)]
    pub(crate) fn caches(&self) -> &Registry {
        &self.caches
    }

    /// `create`: a cache of the registry, with the command's flags
    /// (`EEXIST` for a name in use, `EINVAL` for a bad request).
    fn create(&self, name: &Name, size: u32, align: u32, flags: u32) -> Result {
        let mut cfg = CacheConfig::new(
            core::str::from_utf8(name.as_bytes()).map_err(|_| EINVAL)?,
            size,
        );
        cfg.align = align;
        for (f, slab) in [
            (control::FLAG_HWCACHE, layout::SLAB_HWCACHE_ALIGN),
            (control::FLAG_RECLAIM, layout::SLAB_RECLAIM_ACCOUNT),
            (control::FLAG_DMA, layout::SLAB_CACHE_DMA),
            (control::FLAG_CONSISTENCY, layout::SLAB_CONSISTENCY_CHECKS),
            (control::FLAG_RED_ZONE, layout::SLAB_RED_ZONE),
            (control::FLAG_POISON, layout::SLAB_POISON),
            (control::FLAG_STORE_USER, layout::SLAB_STORE_USER),
            (control::FLAG_TRACE, layout::SLAB_TRACE),
        ] {
            if flags & f != 0 {
                cfg.flags |= slab;
            }
        }
        if flags & control::FLAG_CTOR != 0 {
            cfg.ctor = Some(stamp_ctor);
        }
        // Hardened and randomised as the kernel's SLUB is, unless asked not.
        cfg.harden &= flags & control::FLAG_NOHARDEN == 0;
        cfg.randomize &= flags & control::FLAG_NORANDOM == 0;
        cfg.sheaves = flags & control::FLAG_SHEAVES != 0;
        self.caches.create(&cfg).map(|_| ())
    }

    /// Runs one command line, as written to the control file (`EINVAL` if
    /// it is not UTF-8 or does not parse).
    pub(crate) fn execute(&self, line: &[u8]) -> Result {
        let line = core::str::from_utf8(line).map_err(|_| EINVAL)?;
        match parse(line, MAX_ORDER).map_err(|_| EINVAL)? {
            Command::PoolWorkload { ops, max_order } => {
                let r = workload::pool_workload(&self.pool, ops, max_order)?;
                pr_info!(
                    "workload pool: {} CPUs, {} ops in all (orders 0..={}) in {} us: {} failed allocations, {} corrupted blocks\n",
                    r.cpus,
                    r.ops,
                    max_order,
                    r.ns / 1000,
                    r.failed,
                    r.corrupt
                );
                if r.corrupt > 0 {
                    return Err(EIO);
                }
                Ok(())
            }
            Command::Create {
                name,
                size,
                align,
                flags,
            } => self.create(&name, size, align, flags),
            Command::Destroy { name } => self.caches.destroy(name.as_bytes()),
            Command::Bench { quick } => {
                let s = self.bench(quick)?;
                pr_info!(
                    "rslab-bench: done, {} rows ({} without a measurement)\n",
                    s.rows,
                    s.empty
                );
                Ok(())
            }
            Command::KmallocWorkload { ops, held } => {
                let r = workload::kmalloc_workload(self.caches.kmalloc(), ops, held)?;
                objects_report(fmt!("kmalloc"), held, &r)
            }
            Command::CacheWorkload { name, ops, held } => {
                let cache = self.caches.find(name.as_bytes()).ok_or(ENOENT)?;
                let r = workload::cache_workload(&cache, ops, held)?;
                objects_report(fmt!("cache {}", cache.display_name()), held, &r)
            }
        }
    }

    /// `bench [quick]`: runs the benchmark; says how many result lines it
    /// printed.
    pub(crate) fn bench(&self, quick: bool) -> Result<bench::Summary> {
        let size = if quick {
            bench::Size::QUICK
        } else {
            bench::Size::FULL
        };
        bench::run(&self.pool, self.caches.kmalloc(), size)
    }
}

/// Logs what an object workload (`what`) did; `EIO` if it found a corrupted
/// object.
fn objects_report(what: core::fmt::Arguments<'_>, held: u32, r: &workload::Report) -> Result {
    pr_info!(
        "workload {}: {} CPUs, {} ops in all (holding up to {} objects each) in {} us: {} freed on another CPU, {} failed allocations, {} corrupted objects\n",
        what,
        r.cpus,
        r.ops,
        held,
        r.ns / 1000,
        r.remote,
        r.failed,
        r.corrupt
    );
    if r.corrupt > 0 {
        return Err(EIO);
    }
    Ok(())
}

impl debugfs::Command for Control {
    fn write(&self, data: &[u8]) -> Result {
        self.execute(data)
    }
}

/// The control file, `/sys/kernel/debug/<name>/control` (lines longer than
/// [`debugfs::MAX_WRITE`] are `EINVAL`), and `allocinfo` beside it;
/// removed on drop.
pub(crate) struct ControlFile {
    ctl: Arc<Control>,
    _file: CommandDir<Control>,
}

impl ControlFile {
    /// Makes the control file of `module` for `ctl`, in the debugfs
    /// directory `name`.
    pub(crate) fn new(
        module: &'static ThisModule,
        name: &'static CStr,
        ctl: Arc<Control>,
    ) -> Result<Self> {
        let mut file = CommandDir::new(module, name, c"control", ctl.clone())?;
        file.add_show(module, c"allocinfo", super::allocinfo::show)?;
        Ok(ControlFile { ctl, _file: file })
    }

    /// The state the file's commands run on.
    pub(crate) fn control(&self) -> &Arc<Control> {
        &self.ctl
    }
}

/// The byte [`stamp_ctor`] writes.
const CTOR_BYTE: u8 = 0xc7;

/// The constructor of caches made with `ctor` (a `create` flag): fills the
/// object's first byte with [`CTOR_BYTE`].
///
/// # Safety
///
/// `obj` points to a whole object of at least one byte (a constructor's
/// contract, see [`crate::slab::Ctor`]).
unsafe extern "C" fn stamp_ctor(obj: *mut core::ffi::c_void) {
    // SAFETY: a constructor gets a whole object of at least one byte.
    unsafe { obj.cast::<u8>().write(CTOR_BYTE) };
}
