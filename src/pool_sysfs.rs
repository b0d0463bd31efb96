// SPDX-License-Identifier: GPL-2.0
//! A pool with everything the kernel sees of it: its shrinker, its CPU
//! hotplug instance and, optionally, its sysfs directory
//! (`/sys/kernel/rslab/pool/`).

use crate::{
    cpu, cpuhp,
    pool::{Pool, Stat, Watermarks, NR_ORDERS},
    shrinker::Shrinker,
    sysfs::{self, Attr, Dir, Emitter, Parent},
};
use core::fmt::Write;
use kernel::{prelude::*, str::CStr, sync::Arc};

/// A pool registered with the kernel. Dropping it removes the sysfs
/// directory, the shrinker and the hotplug instance, then the pool (whose
/// last user gives its memory back, reporting pages still in use).
pub struct PoolHandle {
    dir: Option<Dir<PoolDir>>,
    _shrinker: Shrinker<Pool>,
    _hotplug: cpuhp::Instance<Pool>,
    pool: Arc<Pool>,
}

impl PoolHandle {
    /// Registers `pool`: a shrinker named `rslab-<name>`, a hotplug instance,
    /// and a sysfs directory `name` in `parent` if given.
    pub fn new<U: Send + Sync + 'static>(
        pool: Arc<Pool>,
        name: &CStr,
        parent: Option<&Dir<U>>,
    ) -> Result<Self> {
        let hotplug = cpuhp::Instance::new(pool.clone())?;
        let shrinker = Shrinker::register(name, pool.clone())?;
        let dir = match parent {
            Some(p) => Some(Dir::new(
                Parent::Dir(p),
                name,
                PoolDir { pool: pool.clone() },
                &POOL_ATTRS,
            )?),
            None => None,
        };
        Ok(PoolHandle {
            dir,
            _shrinker: shrinker,
            _hotplug: hotplug,
            pool,
        })
    }

    /// The pool.
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }
}

impl Drop for PoolHandle {
    fn drop(&mut self) {
        // Sysfs first, so no show/store runs on a half-gone pool.
        self.dir.take();
    }
}

/// What the pool's sysfs directory holds.
pub struct PoolDir {
    pool: Arc<Pool>,
}

fn emit(e: &mut Emitter, args: core::fmt::Arguments<'_>) -> Result {
    e.write_fmt(args).map_err(|_| EINVAL)
}

fn show_buddyinfo(d: &PoolDir, e: &mut Emitter) -> Result {
    // /proc/buddyinfo: "Node %d, zone %8s " then "%6lu " per order.
    let nr = d.pool.buddyinfo();
    emit(e, format_args!("Node 0, zone {:>8} ", "rslab"))?;
    for n in nr.iter().take(NR_ORDERS) {
        emit(e, format_args!("{n:6} "))?;
    }
    emit(e, format_args!("\n"))
}

fn show_pcp(d: &PoolDir, e: &mut Emitter) -> Result {
    for c in cpu::online_cpus() {
        if let Some((count, high, batch, lo, hi)) = d.pool.pcp_info(c) {
            emit(
                e,
                format_args!(
                    "cpu{c}: count {count} high {high} batch {batch} high_min {lo} high_max {hi}\n"
                ),
            )?;
        }
    }
    Ok(())
}

fn store_wmark(d: &PoolDir, s: &str, set: fn(&mut Watermarks, usize)) -> Result {
    let v = usize::try_from(sysfs::parse_ulong(s)?).map_err(|_| EINVAL)?;
    let mut w = d.pool.watermarks();
    set(&mut w, v);
    d.pool.set_watermarks(w)
}

macro_rules! stat_attr {
    ($name:literal, $stat:expr) => {
        Attr::rw(
            $name,
            |d: &PoolDir, e| d.pool.stats().show($stat as usize, e),
            |d: &PoolDir, s| d.pool.stats().clear($stat as usize, s),
        )
    };
}

static POOL_ATTRS: [Attr<PoolDir>; 19] = [
    Attr::ro(c"buddyinfo", show_buddyinfo),
    Attr::ro(c"pcp", show_pcp),
    Attr::ro(c"pages_total", |d, e| {
        emit(e, format_args!("{}\n", d.pool.total_pages()))
    }),
    Attr::ro(c"pages_free", |d, e| {
        emit(e, format_args!("{}\n", d.pool.free_pages()))
    }),
    Attr::rw(
        c"watermark_min",
        |d, e| emit(e, format_args!("{}\n", d.pool.watermarks().min)),
        |d, s| store_wmark(d, s, |w, v| w.min = v),
    ),
    Attr::rw(
        c"watermark_low",
        |d, e| emit(e, format_args!("{}\n", d.pool.watermarks().low)),
        |d, s| store_wmark(d, s, |w, v| w.low = v),
    ),
    Attr::rw(
        c"watermark_high",
        |d, e| emit(e, format_args!("{}\n", d.pool.watermarks().high)),
        |d, s| store_wmark(d, s, |w, v| w.high = v),
    ),
    // As SLUB's `shrink`: write 1 to shrink now (down to the min watermark).
    Attr::wo(c"shrink", |d, s| {
        if sysfs::parse_ulong(s)? != 1 {
            return Err(EINVAL);
        }
        d.pool.shrink(d.pool.watermarks().min);
        Ok(())
    }),
    // As SLUB's `validate`: write 1 to walk every structure; EIO (and the
    // finding in the kernel log) if anything is inconsistent.
    Attr::wo(c"validate", |d, s| {
        if sysfs::parse_ulong(s)? != 1 {
            return Err(EINVAL);
        }
        match d.pool.check() {
            Ok(_) => Ok(()),
            Err(err) => {
                pr_err!("pool: validate: {err:?}\n");
                Err(EIO)
            }
        }
    }),
    stat_attr!(c"alloc_fastpath", Stat::AllocFastpath),
    stat_attr!(c"alloc_slowpath", Stat::AllocSlowpath),
    stat_attr!(c"refill", Stat::Refill),
    stat_attr!(c"drain", Stat::Drain),
    stat_attr!(c"split", Stat::Split),
    stat_attr!(c"merge", Stat::Merge),
    stat_attr!(c"grow", Stat::Grow),
    stat_attr!(c"release", Stat::Release),
    stat_attr!(c"order_fallback", Stat::OrderFallback),
    stat_attr!(c"alloc_fail", Stat::AllocFail),
];
