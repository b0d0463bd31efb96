// SPDX-License-Identifier: GPL-2.0
//! KUnit: the sysfs layer, read and written through the VFS as a user would.

use crate::glue::{
    sysfs::{self, Attr, Dir, Parent},
    vfs,
};
use core::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering},
};
use kernel::{prelude::*, str::CStr};

/// A directory value for the tests: one number, readable and writable.
struct Knob(AtomicU64);

static KNOB_ATTRS: [Attr<Knob>; 3] = [
    Attr::rw(
        c"value",
        |k, e| writeln!(e, "{}", k.0.load(Ordering::Relaxed)).map_err(|_| EINVAL),
        |k, s| {
            k.0.store(sysfs::parse_ulong(s)?, Ordering::Relaxed);
            Ok(())
        },
    ),
    Attr::ro(c"twice", |k, e| {
        writeln!(e, "{}", 2 * k.0.load(Ordering::Relaxed)).map_err(|_| EINVAL)
    }),
    Attr::wo(c"reset", |k, s| {
        if s.trim_end() != "1" {
            return Err(EINVAL);
        }
        k.0.store(0, Ordering::Relaxed);
        Ok(())
    }),
];

fn knob(parent: Parent<'_, Knob>, name: &CStr, v: u64) -> Result<Dir<Knob>> {
    Dir::new(parent, name, Knob(AtomicU64::new(v)), &KNOB_ATTRS)
}

#[kunit_tests(rslab_sysfs)]
mod tests {
    use super::*;

    #[test]
    fn version_file_shows_the_version() -> Result {
        let v = vfs::read(c"/sys/kernel/rslab_kunit/version")?;
        assert_eq!(&v[..v.len() - 1], crate::admin::VERSION.as_bytes());
        assert_eq!(v[v.len() - 1], b'\n');
        Ok(())
    }

    #[test]
    fn show_and_store_go_through_the_value() -> Result {
        let d = knob(Parent::Kernel, c"rslab_kunit_knob_show", 5)?;
        assert_eq!(
            &vfs::read(c"/sys/kernel/rslab_kunit_knob_show/value")?[..],
            b"5\n"
        );
        assert_eq!(
            &vfs::read(c"/sys/kernel/rslab_kunit_knob_show/twice")?[..],
            b"10\n"
        );
        assert_eq!(
            vfs::write(c"/sys/kernel/rslab_kunit_knob_show/value", b"21\n")?,
            3
        );
        assert_eq!(d.data().0.load(Ordering::Relaxed), 21);
        assert_eq!(
            &vfs::read(c"/sys/kernel/rslab_kunit_knob_show/twice")?[..],
            b"42\n"
        );
        assert_eq!(
            vfs::write(c"/sys/kernel/rslab_kunit_knob_show/reset", b"1\n")?,
            2
        );
        assert_eq!(
            &vfs::read(c"/sys/kernel/rslab_kunit_knob_show/value")?[..],
            b"0\n"
        );
        Ok(())
    }

    #[test]
    fn bad_writes_are_einval_and_change_nothing() -> Result {
        let d = knob(Parent::Kernel, c"rslab_kunit_knob_bad", 7)?;
        for bad in [
            &b"abc"[..],
            b"-1\n",
            b"1 2\n",
            b"",
            b"0x\n",
            b"\xff\n",
            b"99999999999999999999\n",
        ] {
            let r = vfs::write(c"/sys/kernel/rslab_kunit_knob_bad/value", bad);
            // An empty write never reaches the store function (sysfs returns 0).
            assert!(r == Err(EINVAL) || (bad.is_empty() && r == Ok(0)));
            assert_eq!(d.data().0.load(Ordering::Relaxed), 7);
        }
        assert_eq!(
            vfs::write(c"/sys/kernel/rslab_kunit_knob_bad/reset", b"2\n"),
            Err(EINVAL)
        );
        assert_eq!(
            &vfs::read(c"/sys/kernel/rslab_kunit_knob_bad/value")?[..],
            b"7\n"
        );
        Ok(())
    }

    #[test]
    fn dropping_a_dir_removes_it() -> Result {
        let d = knob(Parent::Kernel, c"rslab_kunit_knob_drop", 1)?;
        assert!(vfs::read(c"/sys/kernel/rslab_kunit_knob_drop/value").is_ok());
        drop(d);
        assert_eq!(
            vfs::read(c"/sys/kernel/rslab_kunit_knob_drop/value").err(),
            Some(ENOENT)
        );
        Ok(())
    }

    /// A child keeps its parent's node alive, whichever is dropped first.
    #[test]
    fn nested_dirs_outlive_a_dropped_parent() -> Result {
        let parent = knob(Parent::Kernel, c"rslab_kunit_parent", 1)?;
        let child = knob(Parent::Dir(&parent), c"child", 2)?;
        assert_eq!(
            &vfs::read(c"/sys/kernel/rslab_kunit_parent/child/value")?[..],
            b"2\n"
        );
        drop(parent);
        assert_eq!(
            &vfs::read(c"/sys/kernel/rslab_kunit_parent/child/value")?[..],
            b"2\n"
        );
        drop(child);
        assert_eq!(
            vfs::read(c"/sys/kernel/rslab_kunit_parent/value").err(),
            Some(ENOENT)
        );
        Ok(())
    }
}
