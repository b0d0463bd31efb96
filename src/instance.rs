// SPDX-License-Identifier: GPL-2.0
//! One instance of rslab: its page pool, its caches (the kmalloc classes
//! among them), its files, and the kernel registrations they need, made at
//! load and torn down at unload, in order. rslab.ko makes one
//! (`src/rslab.rs`); rslab_kunit.ko, which compiles the same sources, makes
//! its own under other names for its suites to test (`kunit/rslab_kunit.rs`).

use crate::{
    admin, api, glue, kmalloc, logic::slab::debugopt::SlubDebug, page_pool, registry, slab,
};
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
    caches: Arc<registry::Registry>,
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
        let slub_debug = slub_debug();
        // SAFETY: reads a module parameter, set before `init` runs.
        slab::allocinfo::enable(unsafe { glue::ffi::rslab_allocinfo_param() });
        let fault = glue::fault::Knobs::new(names.fail);
        let flushwq = glue::cpu::FlushQueue::new()?;
        let hotplug = glue::cpuhp::State::register(names.hotplug)?;
        // SAFETY: reads a module parameter, set before `init` runs.
        let decay_ms = unsafe { glue::ffi::rslab_decay_ms_param() };
        slab::set_default_decay_ms(decay_ms);
        let pool = page_pool::Pool::new(page_pool::Config {
            decay_ms,
            ..page_pool::Config::default()
        })?;
        let pool = page_pool::Registration::new(pool, names.shrinker)?;
        // SAFETY: reads a module parameter, set before `init` runs.
        let kmalloc_sheaves = unsafe { glue::ffi::rslab_kmalloc_sheaves_param() };
        let caches = registry::Registry::new(pool.pool(), slub_debug, kmalloc_sheaves)?;
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

/// The `slub_debug=` module parameter's bytes, if it was given.
fn slub_debug_param() -> Option<&'static [u8]> {
    // SAFETY: reading the parameter's pointer has no precondition.
    let p = unsafe { glue::ffi::rslab_slub_debug_param() };
    if p.is_null() {
        return None;
    }
    // SAFETY: a set `charp` parameter is a NUL-terminated string that lives,
    // unchanged (it is read-only in sysfs), while the module is loaded.
    Some(unsafe { CStr::from_char_ptr(p) }.to_bytes())
}

/// The `slub_debug=` module parameter (`slub_debug=FZPU,cache-a,cache-b`,
/// the kernel's syntax; see [`crate::logic::slab::debugopt`]), parsed:
/// which caches are made debug caches, and how. Says what it turned on
/// (and which letters it skipped).
fn slub_debug() -> SlubDebug<'static> {
    let Some(s) = slub_debug_param() else {
        return SlubDebug::NONE;
    };
    let (d, unknown) = SlubDebug::parse(s);
    if let Some(c) = unknown {
        pr_err!("slub_debug option '{}' unknown. skipped\n", char::from(c));
    }
    pr_info!(
        "slub_debug={} (flags {:#x} for other caches)\n",
        kernel::str::BStr::from_bytes(s),
        d.global
    );
    d
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
        // `kfree_nolock()`'s deferred frees are done before the caches
        // count what they keep.
        self.caches.kmalloc().sync_deferred();
        // No command can run once the files are gone.
        drop(self.interfaces.take());
        // Every cache goes before the pool and the hotplug state.
        self.caches.teardown();
    }
}
