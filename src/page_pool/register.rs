// SPDX-License-Identifier: GPL-2.0
//! A pool registered with the kernel: its shrinker and its CPU-hotplug
//! instance. (Its sysfs directory is the admin side's: `src/admin/`.)

use super::{PageRecord, Pool};
use crate::glue::{cpuhp, shrinker::Shrinker};
use kernel::{prelude::*, str::CStr, sync::Arc};

/// A pool the kernel can reach: `echo 2 > drop_caches` and memory pressure
/// reach its shrinker, and a CPU going offline has its lists drained.
/// Dropping it unregisters both (waiting for running callbacks), then drops
/// its reference to the pool.
pub(crate) struct Registration<R: PageRecord> {
    _shrinker: Shrinker<Pool<R>>,
    _hotplug: cpuhp::Instance<Pool<R>>,
    pool: Arc<Pool<R>>,
}

impl<R: PageRecord> Registration<R> {
    /// Registers `pool`: a shrinker named `name` and a hotplug instance.
    pub(crate) fn new(pool: Arc<Pool<R>>, name: &CStr) -> Result<Self> {
        let hotplug = cpuhp::Instance::new(pool.clone())?;
        let shrinker = Shrinker::register(name, pool.clone())?;
        Ok(Registration {
            _shrinker: shrinker,
            _hotplug: hotplug,
            pool,
        })
    }

    /// The pool.
    pub(crate) fn pool(&self) -> &Arc<Pool<R>> {
        &self.pool
    }
}
