// SPDX-License-Identifier: GPL-2.0
//! rslab: a slab allocator and page pool in Rust, as a loadable module.
//!
//! The layers, top down, each a module of its own that uses only those
//! below it (`scripts/layering.py` checks it):
//!
//! - [`instance`]: what a load makes and an unload tears down, in order;
//! - [`admin`]: what userspace sees: sysfs files under `/sys/kernel/rslab/`
//!   and the command file `/sys/kernel/debug/rslab/control`;
//! - [`api`]: the exported C API (`include/rslab.h`), on
//! - [`registry`]: the module's caches by name (SLUB's `slab_caches`), on
//! - [`kmalloc`]: the kmalloc size classes, on
//! - [`slab`]: slab caches mirroring SLUB 6.1 (and 7.3's sheaves), whose
//!   slabs come from
//! - [`page_pool`]: buddy free areas and per-CPU page lists over chunks
//!   taken from the kernel's `alloc_pages()`;
//! - [`glue`]: the kernel interfaces the layers use, wrapped once.
//!
//! The pure logic of each layer lives in `rust/rslab-core/` ([`logic`]),
//! tested on the host, usable from every layer. The KUnit suites are not here:
//! they are rslab_kunit.ko (`kunit/rslab_kunit.rs`), which compiles these
//! sources into an instance of its own.

use kernel::prelude::*;

/// The allocator's pure logic, shared with the host crate under `rust/`,
/// where `cargo test` exercises it; its folders mirror the layers. (Its items
/// are `pub`: the host crate's API.)
#[path = "../rust/rslab-core/src"]
#[allow(unreachable_pub)]
#[allow(
    dead_code,
    reason = "the host crate's API: a module uses what it needs of it"
)]
mod logic {
    pub(crate) mod admin;
    pub(crate) mod decay;
    pub(crate) mod page_pool;
    pub(crate) mod rand;
    pub(crate) mod slab;
}

mod admin;
mod api;
mod glue;
mod kmalloc;
mod page_pool;
mod registry;
mod slab;

mod instance;

module! {
    type: Rslab,
    name: "rslab",
    authors: ["rslab developers"],
    description: "Slab allocator and page pool mirroring SLUB and the buddy allocator",
    license: "GPL",
}

/// The module: rslab's one instance.
struct Rslab(Option<instance::Instance>);

impl kernel::Module for Rslab {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let names = instance::Names {
            root: c"rslab",
            fail: c"fail_rslab",
            hotplug: c"rslab:dead",
            shrinker: c"rslab-pool",
        };
        Ok(Rslab(Some(instance::Instance::new(module, &names)?)))
    }
}

impl Drop for Rslab {
    fn drop(&mut self) {
        instance::Instance::unload(self.0.take());
    }
}
