// SPDX-License-Identifier: GPL-2.0
//! The admin side's pure logic: the control file's grammar (`control`) and
//! sysfs number parsing (`parse`) (the kernel side is `src/admin.rs`).

pub mod control;
pub mod parse;
