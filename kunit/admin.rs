// SPDX-License-Identifier: GPL-2.0
//! KUnit: the admin side (sysfs and the control commands).

mod control;
mod sysfs;
