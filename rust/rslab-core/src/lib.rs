// SPDX-License-Identifier: GPL-2.0
//! rslab's pure allocator logic.
//!
//! Everything here is `no_std`, free of kernel dependencies and of `unsafe`,
//! so that the very same files are compiled into the kernel module (see
//! `src/rslab.rs`, which includes them with `#[path]`) and into this host
//! crate, where `cargo test` exercises them quickly.
//!
//! `src/rslab.rs` includes each module here as the kernel side starts using it.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod buddy;
pub mod control;
pub mod freearea;
pub mod layout;
pub mod parse;
pub mod pcp;
pub mod rand;
pub mod slabstate;
