// SPDX-License-Identifier: GPL-2.0
//! Kernel glue: small safe wrappers over the kernel interfaces the layers
//! need and the kernel crate does not abstract (or, in [`dword`], does not
//! offer at all), each wrapping the raw bindings once. The C side is
//! `glue/helpers.c`: one-line wrappers of static inlines, declared in
//! [`ffi`].

pub(crate) mod atomic;
pub(crate) mod cpu;
pub(crate) mod cpuhp;
pub(crate) mod debug;
pub(crate) mod debugfs;
pub(crate) mod decay;
pub(crate) mod dword;
pub(crate) mod fault;
pub(crate) mod ffi;
pub(crate) mod fmtbuf;
pub(crate) mod gfp;
pub(crate) mod irq_work;
pub(crate) mod kallsyms;
pub(crate) mod kmemleak;
pub(crate) mod kthread;
pub(crate) mod mm;
pub(crate) mod numa;
pub(crate) mod percpu;
pub(crate) mod rcu;
pub(crate) mod shrinker;
pub(crate) mod stats;
pub(crate) mod swab;
pub(crate) mod sysfs;
pub(crate) mod trace;
pub(crate) mod vfs;
