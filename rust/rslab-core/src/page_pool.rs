// SPDX-License-Identifier: GPL-2.0
//! The page pool's pure logic: buddy arithmetic, the free areas and the
//! per-CPU lists (the kernel side is `src/page_pool.rs`).

pub mod buddy;
pub mod freearea;
pub mod pcp;
