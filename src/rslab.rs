// SPDX-License-Identifier: GPL-2.0
//! rslab: a slab allocator and page pool in Rust, as a loadable module.
//!
//! On load it registers `/sys/kernel/rslab/`; its KUnit suites (in `kunit/`)
//! run at load time on a `CONFIG_KUNIT` kernel.

use core::fmt::Write;
use kernel::prelude::*;

/// The allocator's pure logic, shared with the host crate under `rust/`,
/// where `cargo test` exercises it: each of its modules, once the kernel
/// side uses it.
#[path = "../rust/rslab-core/src"]
pub mod logic {
    pub mod buddy;
    pub mod control;
    pub mod freearea;
    pub mod parse;
    pub mod pcp;
    pub mod rand;
}

mod cpu;
mod cpuhp;
mod ffi;
mod kthread;
pub mod pool;
pub mod pool_sysfs;
mod shrinker;
mod stats;
pub mod sysfs;
mod workload;

#[path = "../kunit"]
mod kunit {
    mod control;
    mod logic;
    mod pool;
    mod sysfs;
    pub(crate) mod vfs;
}

/// rslab's version, shown in `/sys/kernel/rslab/version`.
pub const VERSION: &str = "0.1.0";

module! {
    type: Rslab,
    name: "rslab",
    authors: ["rslab developers"],
    description: "Slab allocator and page pool mirroring SLUB and the buddy allocator",
    license: "GPL",
}

/// The module-wide state behind `/sys/kernel/rslab/`.
pub struct Top {
    pool: kernel::sync::Arc<pool::Pool>,
}

/// `control`: one command per write (see [`logic::control`]). A line that
/// does not parse is `EINVAL` and does nothing.
fn control(top: &Top, line: &str) -> Result {
    match logic::control::parse(line, pool::MAX_ORDER).map_err(|_| EINVAL)? {
        logic::control::Command::PoolWorkload { ops, max_order } => {
            let r = workload::pool_workload(&top.pool, ops, max_order)?;
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
    }
}

static TOP_ATTRS: [sysfs::Attr<Top>; 2] = [
    sysfs::Attr::ro(c"version", |_, e| {
        writeln!(e, "{VERSION}").map_err(|_| EINVAL)
    }),
    sysfs::Attr::wo(c"control", control),
];

/// What the module holds. Fields drop in order: the pool before the
/// hotplug state, and the pool's sysfs directory before its parent.
struct Loaded {
    _pool: pool_sysfs::PoolHandle,
    _hotplug: cpuhp::State<pool::Pool>,
    _top: sysfs::Dir<Top>,
}

struct Rslab {
    loaded: Option<Loaded>,
}

impl kernel::Module for Rslab {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let hotplug = cpuhp::State::register(c"rslab:dead")?;
        let pool = pool::Pool::new(pool::Config::default())?;
        let top = sysfs::Dir::new::<Top>(
            sysfs::Parent::Kernel,
            c"rslab",
            Top { pool: pool.clone() },
            &TOP_ATTRS,
        )?;
        let pool = pool_sysfs::PoolHandle::new(pool, c"pool", Some(&top))?;
        pr_info!("rslab {VERSION} loaded\n");
        Ok(Rslab {
            loaded: Some(Loaded {
                _pool: pool,
                _hotplug: hotplug,
                _top: top,
            }),
        })
    }
}

impl Drop for Rslab {
    fn drop(&mut self) {
        drop(self.loaded.take());
        // Every page taken from the kernel should be back by now.
        pr_info!(
            "rslab unloaded, {} pages still taken from the kernel\n",
            pool::backing_pages()
        );
    }
}
