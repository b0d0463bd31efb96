// SPDX-License-Identifier: GPL-2.0
//! One instance of rslab: its page pool, its caches (the kmalloc classes
//! among them), its files, and the kernel registrations they need, made at
//! load and torn down at unload, in order. rslab.ko makes one
//! (`src/rslab.rs`); rslab_kunit.ko, which compiles the same sources, makes
//! its own under other names for its suites to test (`kunit/rslab_kunit.rs`).

use crate::{admin, api, glue, kmalloc, page_pool, slab};
use kernel::{prelude::*, str::CStr, sync::Arc, ThisModule};

/// The names an instance registers under.
pub(crate) struct Names {
    /// Its directories, `/sys/kernel/<root>/` and `/sys/kernel/debug/<root>/`.
    pub(crate) root: &'static CStr,
    /// Its fault attribute's knobs, `/sys/kernel/debug/<fail>/`.
    pub(crate) fail: &'static CStr,
    /// Its CPU hotplug state.
    pub(crate) hotplug: &'static CStr,
    /// Its pool's shrinker.
    pub(crate) shrinker: &'static CStr,
}

/// What an instance holds while its module is loaded. Fields drop in order:
/// the files first (see [`Instance`]'s drop), then the pool's registration,
/// the registry, the hotplug state and the flush workqueue last.
pub(crate) struct Instance {
    interfaces: Option<admin::Interfaces>,
    caches: Arc<admin::Registry>,
    _pool: page_pool::Registration<slab::SlabPage>,
    _hotplug: glue::cpuhp::State,
    _fault: glue::fault::Knobs,
    _flushwq: glue::cpu::FlushQueue,
}

impl Instance {
    /// Makes the instance of `module` under `names`, and serves the
    /// exported API and [`kmalloc::RslabAlloc`] from it: once per load.
    pub(crate) fn new(module: &'static ThisModule, names: &Names) -> Result<Self> {
        glue::dword::init();
        glue::swab::init();
        glue::debug::init(module);
        admin::log_slub_debug();
        let fault = glue::fault::Knobs::new(names.fail);
        let flushwq = glue::cpu::FlushQueue::new()?;
        let hotplug = glue::cpuhp::State::register(names.hotplug)?;
        let pool = page_pool::Pool::new(page_pool::Config::default())?;
        let pool = page_pool::Registration::new(pool, names.shrinker)?;
        let caches = admin::Registry::new(pool.pool())?;
        let interfaces = admin::Interfaces::new(module, names.root, pool.pool(), &caches)?;
        // SAFETY: the registry (and so its kmalloc) lives in an `Arc` held
        // until `Instance::drop`, which clears the global first.
        unsafe { kmalloc::set_global(caches.kmalloc()) };
        // SAFETY: as above: the registry lives until `Instance::drop`, which
        // clears it first.
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
        Ok(Instance {
            interfaces: Some(interfaces),
            caches,
            _pool: pool,
            _hotplug: hotplug,
            _fault: fault,
            _flushwq: flushwq,
        })
    }

    /// Commands on this instance's pool and caches, as its control file
    /// runs them.
    #[allow(dead_code, reason = "rslab_kunit.ko's suites run commands through it")]
    pub(crate) fn control(&self) -> Option<&Arc<admin::Control>> {
        self.interfaces.as_ref().map(|i| i.control())
    }

    /// Tears `instance` down and says how many pages the module still takes
    /// from the kernel (none, unless memory was in use).
    pub(crate) fn unload(instance: Option<Instance>) {
        drop(instance);
        pr_info!(
            "unloaded, {} pages still taken from the kernel\n",
            page_pool::backing_pages()
        );
    }
}

impl Drop for Instance {
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
