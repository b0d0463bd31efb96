// SPDX-License-Identifier: GPL-2.0
//! rslab_kunit: rslab's KUnit suites, in a module of their own (as the
//! kernel keeps slub_kunit apart from SLUB), so that rslab.ko holds no test.
//!
//! It compiles rslab's sources (`src/`, and the pure logic under
//! `rust/rslab-core/`) as rslab.ko does, and makes an instance of its own
//! under other names (`/sys/kernel/rslab_kunit/`,
//! `/sys/kernel/debug/rslab_kunit/`, `fail_rslab_kunit`), which the suites
//! test from inside: the caches, the pool, their files and commands. The
//! suites run when it is loaded (on a `CONFIG_KUNIT=y` kernel: the kernel
//! crate's `#[kunit_tests]` are built for no other); it exports nothing.

use kernel::prelude::*;

/// The allocator's pure logic, as in rslab.ko.
#[path = "../rust/rslab-core/src"]
#[allow(unreachable_pub)]
mod logic {
    pub(crate) mod admin;
    pub(crate) mod decay;
    pub(crate) mod page_pool;
    pub(crate) mod rand;
    pub(crate) mod slab;
}

/// rslab's sources, as in rslab.ko (reached as `crate::<layer>` there and
/// here alike).
#[path = "../src"]
mod rslab {
    pub(crate) mod admin;
    pub(crate) mod api;
    pub(crate) mod glue;
    pub(crate) mod instance;
    pub(crate) mod kmalloc;
    pub(crate) mod page_pool;
    pub(crate) mod registry;
    pub(crate) mod slab;
}
use rslab::{admin, api, glue, instance, kmalloc, page_pool, registry, slab};

/// The suites, and what they share.
#[path = "."]
mod kunit {
    mod admin;
    mod decay;
    pub(crate) mod hooks;
    mod kmalloc;
    mod logic;
    mod page_pool;
    mod registry;
    mod sheaves;
    pub(crate) mod slab;
    pub(crate) mod util;
}

module! {
    type: RslabKunit,
    name: "rslab_kunit",
    authors: ["rslab developers"],
    description: "KUnit suites of rslab, run on an instance of its own",
    license: "GPL",
}

/// The module: the instance the suites test.
struct RslabKunit(Option<instance::Instance>);

impl kernel::Module for RslabKunit {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let names = instance::Names {
            root: c"rslab_kunit",
            fail: c"fail_rslab_kunit",
            hotplug: c"rslab_kunit:dead",
            shrinker: c"rslab_kunit-pool",
        };
        let i = instance::Instance::new(module, &names)?;
        // SAFETY: once per load; the suites run after `init` returns.
        unsafe { kunit::hooks::init(i.control().cloned()) };
        Ok(RslabKunit(Some(i)))
    }
}

impl Drop for RslabKunit {
    fn drop(&mut self) {
        kunit::hooks::clear();
        instance::Instance::unload(self.0.take());
    }
}
