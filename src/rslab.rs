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
    pub mod layout;
    pub mod parse;
    pub mod pcp;
    pub mod rand;
    pub mod slabstate;
}

mod bench;
pub mod caches;
mod cpu;
mod cpuhp;
mod dword;
mod ffi;
mod fmtbuf;
mod kcache;
pub mod kmalloc;
mod kthread;
pub mod pool;
pub mod pool_sysfs;
mod shrinker;
pub mod slab;
mod stats;
pub mod sysfs;
pub(crate) mod vfs;
mod workload;

#[path = "../kunit"]
mod kunit {
    mod control;
    mod logic;
    mod pool;
    mod slab;
    mod sysfs;
    pub(crate) mod util;
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
    caches: kernel::sync::Arc<caches::Registry>,
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
        logic::control::Command::Create {
            name,
            size,
            align,
            flags,
        } => top.caches.create(&name, size, align, flags).map(|_| ()),
        logic::control::Command::Destroy { name } => top.caches.destroy(name.as_bytes()),
        logic::control::Command::Bench { quick } => bench::run(
            &top.pool,
            top.caches.kmalloc(),
            if quick {
                bench::Size::QUICK
            } else {
                bench::Size::FULL
            },
        ),
        logic::control::Command::CacheWorkload { name, ops, held } => {
            let cache = top.caches.find(name.as_bytes()).ok_or(ENOENT)?;
            let r = workload::cache_workload(&cache, ops, held)?;
            pr_info!(
                "workload cache {}: {} CPUs, {} ops in all (holding up to {} objects each) in {} us: {} freed on another CPU, {} failed allocations, {} corrupted objects\n",
                cache.bname(),
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
    caches: kernel::sync::Arc<caches::Registry>,
    _pool: pool_sysfs::PoolHandle,
    _hotplug: cpuhp::State,
    _top: sysfs::Dir<Top>,
}

struct Rslab {
    loaded: Option<Loaded>,
}

impl kernel::Module for Rslab {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        dword::init();
        let hotplug = cpuhp::State::register(c"rslab:dead")?;
        let pool = pool::Pool::new(pool::Config::default())?;
        let caches = caches::Registry::new(&pool)?;
        let top = sysfs::Dir::new::<Top>(
            sysfs::Parent::Kernel,
            c"rslab",
            Top {
                pool: pool.clone(),
                caches: caches.clone(),
            },
            &TOP_ATTRS,
        )?;
        let pool = pool_sysfs::PoolHandle::new(pool, c"pool", Some(&top))?;
        caches.attach(&top)?;
        // SAFETY: the registry (and so its kmalloc) lives in an `Arc` held
        // until `Loaded::drop`, which clears the global first.
        unsafe { kmalloc::set_global(caches.kmalloc()) };
        pr_info!(
            "rslab {VERSION} loaded ({} double-word compare-exchange)\n",
            if dword::lock_free() {
                "cmpxchg16b"
            } else {
                "irq-off"
            }
        );
        Ok(Rslab {
            loaded: Some(Loaded {
                caches,
                _pool: pool,
                _hotplug: hotplug,
                _top: top,
            }),
        })
    }
}

impl Drop for Loaded {
    fn drop(&mut self) {
        kmalloc::clear_global();
        // Every cache goes before the pool and the hotplug state.
        self.caches.teardown();
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
