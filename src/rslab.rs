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
    pub mod parse;
}

mod ffi;
pub mod sysfs;

#[path = "../kunit"]
mod kunit {
    mod logic;
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
pub struct Top;

static TOP_ATTRS: [sysfs::Attr<Top>; 1] = [sysfs::Attr::ro(c"version", |_, e| {
    writeln!(e, "{VERSION}").map_err(|_| EINVAL)
})];

struct Rslab {
    _top: sysfs::Dir<Top>,
}

impl kernel::Module for Rslab {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let top = sysfs::Dir::new::<Top>(sysfs::Parent::Kernel, c"rslab", Top, &TOP_ATTRS)?;
        pr_info!("rslab {VERSION} loaded\n");
        Ok(Rslab { _top: top })
    }
}

impl Drop for Rslab {
    fn drop(&mut self) {
        pr_info!("rslab unloaded\n");
    }
}
