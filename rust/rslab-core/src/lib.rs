// SPDX-License-Identifier: GPL-2.0
//! rslab's pure allocator logic.
//!
//! Everything here is `no_std`, free of kernel dependencies and of `unsafe`,
//! so that the very same files are compiled into the kernel module (see
//! `src/rslab.rs`, which includes them with `#[path]`) and into this host
//! crate, where `cargo test` exercises them quickly.
//!
//! The folders mirror the module's layers: `page_pool/`, `slab/` and
//! `admin/`, as under `src/`.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod decay;
pub mod page_pool;
pub mod rand;
pub mod slab;
