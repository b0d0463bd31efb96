// SPDX-License-Identifier: GPL-2.0
//! The slab layer's pure logic: cache geometry and freelist encoding
//! (`layout`), when objects are zeroed (`init`), SLUB's slab state
//! decisions (`slabstate`), `slub_debug=` (`debugopt`) and cache names
//! (`name`) (the kernel side
//! is `src/slab.rs`).

pub mod debugopt;
pub mod init;
pub mod layout;
pub mod name;
pub mod sheafcap;
pub mod slabstate;
