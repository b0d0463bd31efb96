// SPDX-License-Identifier: GPL-2.0
//! rslab: a slab allocator and page pool in Rust, as a loadable module.
//!
//! The layers, top down, each a module of its own:
//!
//! - [`kmalloc`]: the kmalloc size classes, on
//! - [`slab`]: slab caches mirroring SLUB 6.1, whose slabs come from
//! - [`page_pool`]: buddy free areas and per-CPU page lists over chunks
//!   taken from the kernel's `alloc_pages()`.
//!
//! Beside them, [`glue`] wraps the kernel interfaces the layers use, and
//! [`admin`] is what userspace sees: sysfs files under `/sys/kernel/rslab/`
//! and the command file `/sys/kernel/debug/rslab/control`. The pure logic of
//! each layer lives in `rust/rslab-core/` ([`logic`]), tested on the host;
//! the KUnit suites (in `kunit/`) run at load on a `CONFIG_KUNIT` kernel.

use kernel::prelude::*;

/// The allocator's pure logic, shared with the host crate under `rust/`,
/// where `cargo test` exercises it; its folders mirror the layers. (Its items
/// are `pub`: the host crate's API.)
#[path = "../rust/rslab-core/src"]
#[allow(unreachable_pub)]
mod logic {
    pub(crate) mod admin;
    pub(crate) mod page_pool;
    pub(crate) mod rand;
    pub(crate) mod slab;
}

mod admin;
mod api;
mod glue;
mod kmalloc;
mod page_pool;
mod slab;

#[path = "../kunit"]
mod kunit {
    mod admin;
    mod kmalloc;
    mod logic;
    mod page_pool;
    mod sheaves;
    pub(crate) mod slab;
    pub(crate) mod util;
}

module! {
    type: Rslab,
    name: "rslab",
    authors: ["rslab developers"],
    description: "Slab allocator and page pool mirroring SLUB and the buddy allocator",
    license: "GPL",
}

/// What the module holds while loaded. Fields drop in order: the files
/// first (see [`Rslab`]'s drop), then the pool's registration, the registry,
/// the hotplug state and the flush workqueue last.
struct ModuleState {
    interfaces: Option<admin::Interfaces>,
    caches: kernel::sync::Arc<admin::Registry>,
    _pool: page_pool::Registration<slab::SlabPage>,
    _hotplug: glue::cpuhp::State,
    _fault: glue::fault::Knobs,
    _flushwq: glue::cpu::FlushQueue,
}

struct Rslab {
    loaded: Option<ModuleState>,
}

impl kernel::Module for Rslab {
    fn init(module: &'static ThisModule) -> Result<Self> {
        glue::dword::init();
        glue::swab::init();
        glue::debug::init(module);
        admin::log_slub_debug();
        // SAFETY: once per load, before anything uses the control state.
        unsafe { admin::init_control() };
        let fault = glue::fault::Knobs::new();
        let flushwq = glue::cpu::FlushQueue::new()?;
        let hotplug = glue::cpuhp::State::register(c"rslab:dead")?;
        let pool = page_pool::Pool::new(page_pool::Config::default())?;
        let pool = page_pool::Registration::new(pool, c"rslab-pool")?;
        let caches = admin::Registry::new(pool.pool())?;
        let interfaces = admin::Interfaces::new(module, pool.pool(), &caches)?;
        // SAFETY: the registry (and so its kmalloc) lives in an `Arc` held
        // until `ModuleState::drop`, which clears the global first.
        unsafe { kmalloc::set_global(caches.kmalloc()) };
        // SAFETY: as above: the registry lives until `ModuleState::drop`,
        // which clears it first.
        unsafe { api::set(&caches) };
        pr_info!(
            "rslab {} loaded ({} double-word compare-exchange)\n",
            admin::VERSION,
            if glue::dword::lock_free() {
                "cmpxchg16b"
            } else {
                "irq-off"
            }
        );
        Ok(Rslab {
            loaded: Some(ModuleState {
                interfaces: Some(interfaces),
                caches,
                _pool: pool,
                _hotplug: hotplug,
                _fault: fault,
                _flushwq: flushwq,
            }),
        })
    }
}

impl Drop for ModuleState {
    fn drop(&mut self) {
        // Modules using the exported API are gone (they hold a reference on
        // this one); its `kvfree_rcu()` callbacks may still be queued: wait
        // for them (they use the caches and this module's code), then stop
        // the API before anything is torn down.
        kernel::sync::rcu::rcu_barrier();
        api::clear();
        kmalloc::clear_global();
        // No command can run once the files are gone.
        drop(self.interfaces.take());
        // Every cache goes before the pool and the hotplug state.
        self.caches.teardown();
    }
}

impl Drop for Rslab {
    fn drop(&mut self) {
        drop(self.loaded.take());
        // Every page taken from the kernel should be back by now.
        pr_info!(
            "unloaded, {} pages still taken from the kernel\n",
            page_pool::backing_pages()
        );
    }
}
