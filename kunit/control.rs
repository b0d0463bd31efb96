// SPDX-License-Identifier: GPL-2.0
//! KUnit: `/sys/kernel/rslab/control`, written as a user would.

use crate::kunit::vfs;
use kernel::{prelude::*, str::CStr};

const CONTROL: &CStr = c"/sys/kernel/rslab/control";

/// The total of a SLUB-format statistics file ("total C0=a ...").
fn stat_total(path: &CStr) -> Result<u64> {
    let s = vfs::read(path)?;
    let s = core::str::from_utf8(&s).map_err(|_| EINVAL)?;
    s.split_whitespace()
        .next()
        .ok_or(EINVAL)?
        .parse()
        .map_err(|_| EINVAL)
}

#[kunit_tests(rslab_control)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_are_einval_and_do_nothing() -> Result {
        let before = stat_total(c"/sys/kernel/rslab/pool/alloc_fastpath")?;
        for bad in [
            &b"workload\n"[..],
            b"workload pool\n",
            b"workload pool 0\n",
            b"workload pool 99999999999\n",
            b"workload pool 10 99\n",
            b"workload pool 10 3 4\n",
            b"workload slab 10\n",
            b"shrink\n",
            b"\xff\xfe\n",
        ] {
            assert_eq!(vfs::write(CONTROL, bad), Err(EINVAL));
        }
        assert_eq!(
            stat_total(c"/sys/kernel/rslab/pool/alloc_fastpath")?,
            before
        );
        Ok(())
    }

    /// The pool workload runs on every CPU through the module's pool; the
    /// pool is consistent afterwards, with nothing left in use.
    #[test]
    fn pool_workload_runs_and_leaves_the_pool_consistent() -> Result {
        let before = stat_total(c"/sys/kernel/rslab/pool/alloc_fastpath")?;
        let line = b"workload pool 3000 4\n";
        assert_eq!(vfs::write(CONTROL, line), Ok(line.len()));
        let after = stat_total(c"/sys/kernel/rslab/pool/alloc_fastpath")?;
        assert!(after > before);
        assert_eq!(
            vfs::write(c"/sys/kernel/rslab/pool/validate", b"1\n"),
            Ok(2)
        );
        assert_eq!(
            vfs::write(c"/sys/kernel/rslab/pool/validate", b"2\n"),
            Err(EINVAL)
        );
        Ok(())
    }
}
