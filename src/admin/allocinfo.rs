// SPDX-License-Identifier: GPL-2.0
//! `/sys/kernel/debug/<name>/allocinfo`: the call sites allocation
//! profiling counted ([`crate::slab::allocinfo`]), in `/proc/allocinfo`'s
//! format: its two header lines, then one line per site, its live bytes and
//! objects and the site as `%pS` prints it. Sites are listed once they
//! counted something, also when nothing of theirs is live any more. Empty
//! (the header only) unless rslab was loaded with `allocinfo=1`.

use crate::{
    glue::kallsyms::{self, SYMBOL_LEN},
    slab::allocinfo,
};
use kernel::{seq_file::SeqFile, seq_print, str::BStr};

/// Writes the file's contents into `m`.
pub(super) fn show(m: &SeqFile) {
    seq_print!(m, "allocinfo - version: 2.0\n");
    seq_print!(m, "#     <size>  <calls> <tag info>\n");
    let dropped = allocinfo::dropped();
    if dropped > 0 {
        seq_print!(
            m,
            "# {dropped} allocations not counted (no room for their site)\n"
        );
    }
    let mut buf = [0u8; SYMBOL_LEN];
    allocinfo::for_each(|addr, bytes, calls| {
        let sym = kallsyms::symbol(addr, &mut buf);
        seq_print!(m, "{bytes:>12} {calls:>8} {}\n", BStr::from_bytes(sym));
    });
}
