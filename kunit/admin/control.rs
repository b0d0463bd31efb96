// SPDX-License-Identifier: GPL-2.0
//! KUnit: the commands of `/sys/kernel/debug/rslab_kunit/control`, run on the
//! module's control state as a write to the file runs them (a kthread
//! cannot write a debugfs file: `kernel_write()` needs `write_iter`, and
//! debugfs copies from user memory; the guest script writes the file
//! itself), with their effects read from sysfs as a user would.

use crate::glue::{gfp::Gfp, vfs};
use kernel::{prelude::*, str::CStr};

/// Runs `line` as a write of it to the control file does: `Ok(len)` or the
/// command's errno.
fn control(line: &[u8]) -> Result<usize> {
    let ctl = crate::kunit::hooks::control()?;
    ctl.execute(line)?;
    Ok(line.len())
}

/// The total of a SLUB-format statistics file ("total C0=a ...").
fn stat_total(path: &CStr) -> Result<u64> {
    vfs::read_number(path)
}

#[kunit_tests(rslab_control)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_are_einval_and_do_nothing() -> Result {
        let before = stat_total(c"/sys/kernel/rslab_kunit/pool/alloc_fastpath")?;
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
            assert_eq!(control(bad), Err(EINVAL));
        }
        assert_eq!(
            stat_total(c"/sys/kernel/rslab_kunit/pool/alloc_fastpath")?,
            before
        );
        Ok(())
    }

    /// The pool workload runs on every CPU through the module's pool; the
    /// pool is consistent afterwards, with nothing left in use.
    #[test]
    fn pool_workload_runs_and_leaves_the_pool_consistent() -> Result {
        let before = stat_total(c"/sys/kernel/rslab_kunit/pool/alloc_fastpath")?;
        let line = b"workload pool 3000 4\n";
        assert_eq!(control(line), Ok(line.len()));
        let after = stat_total(c"/sys/kernel/rslab_kunit/pool/alloc_fastpath")?;
        assert!(after > before);
        assert_eq!(
            vfs::write(c"/sys/kernel/rslab_kunit/pool/validate", b"1\n"),
            Ok(2)
        );
        assert_eq!(
            vfs::write(c"/sys/kernel/rslab_kunit/pool/validate", b"2\n"),
            Err(EINVAL)
        );
        Ok(())
    }

    /// `create` makes a cache with SLUB's sysfs files; bad lines and
    /// duplicates are refused; writable files reject garbage and keep their
    /// value; the workload runs on every CPU and leaves nothing in use;
    /// `destroy` removes the directory.
    #[test]
    fn caches_are_made_shown_and_destroyed_through_control() -> Result {
        let line = b"create kunit-ctl 100\n";
        assert_eq!(control(line), Ok(line.len()));
        assert_eq!(control(line), Err(EEXIST));
        for bad in [
            &b"create kunit-ctl2 0\n"[..],
            b"create kunit-ctl2 8 3\n",
            b"create kunit-ctl2 99999999\n",
            b"create kunit-ctl2 8 0 shiny\n",
            b"create kunit/ctl 8\n",
            b"destroy\n",
        ] {
            assert_eq!(control(bad), Err(EINVAL));
        }
        assert_eq!(control(b"destroy kunit-none\n"), Err(ENOENT));
        assert_eq!(control(b"destroy kmalloc-64\n"), Err(EPERM));
        assert!(vfs::read(c"/sys/kernel/rslab_kunit/caches/kunit-ctl2/order").is_err());
        let f = |name: &str| -> Result<KVec<u8>> {
            let mut path = KVec::new();
            path.extend_from_slice(b"/sys/kernel/rslab_kunit/caches/kunit-ctl/", GFP_KERNEL)?;
            path.extend_from_slice(name.as_bytes(), GFP_KERNEL)?;
            path.push(0, GFP_KERNEL)?;
            vfs::read(CStr::from_bytes_with_nul(&path).map_err(|_| EINVAL)?)
        };
        assert_eq!(&f("object_size")?[..], b"100\n");
        assert_eq!(&f("slab_size")?[..], b"104\n");
        assert_eq!(&f("align")?[..], b"8\n");
        assert_eq!(&f("objs_per_slab")?[..], b"39\n");
        assert_eq!(&f("order")?[..], b"0\n");
        assert_eq!(&f("hwcache_align")?[..], b"0\n");
        assert_eq!(&f("aliases")?[..], b"0\n");
        assert_eq!(&f("objects")?[..], b"0\n");
        let mp = c"/sys/kernel/rslab_kunit/caches/kunit-ctl/min_partial";
        let before = vfs::read(mp)?;
        for bad in [&b"x\n"[..], b"-1\n", b"\n", b"5 5\n", b"99999999999\n"] {
            assert_eq!(vfs::write(mp, bad), Err(EINVAL));
        }
        assert_eq!(&vfs::read(mp)?[..], &before[..]);
        assert_eq!(vfs::write(mp, b"7\n"), Ok(2));
        assert_eq!(&vfs::read(mp)?[..], b"7\n");
        let cp = c"/sys/kernel/rslab_kunit/caches/kunit-ctl/cpu_partial";
        let before = vfs::read(cp)?;
        assert_eq!(vfs::write(cp, b"lots\n"), Err(EINVAL));
        assert_eq!(&vfs::read(cp)?[..], &before[..]);
        let sh = c"/sys/kernel/rslab_kunit/caches/kunit-ctl/shrink";
        assert_eq!(vfs::write(sh, b"2\n"), Err(EINVAL));
        let w = b"workload cache kunit-ctl 20000 64\n";
        assert_eq!(control(w), Ok(w.len()));
        assert_eq!(control(b"workload cache kunit-none 10\n"), Err(ENOENT));
        let fast = c"/sys/kernel/rslab_kunit/caches/kunit-ctl/alloc_fastpath";
        assert!(stat_total(fast)? > 0);
        // "total C0=a C1=b": the per-CPU parts add up to the total.
        let text = vfs::read(fast)?;
        let text = core::str::from_utf8(&text).map_err(|_| EINVAL)?;
        let mut words = text.split_whitespace();
        let total: u64 = words.next().ok_or(EINVAL)?.parse().map_err(|_| EINVAL)?;
        let mut sum = 0u64;
        for w in words {
            let (cpu, v) = w.split_once('=').ok_or(EINVAL)?;
            assert!(cpu.starts_with('C'));
            sum += v.parse::<u64>().map_err(|_| EINVAL)?;
        }
        assert_eq!(sum, total);
        assert_eq!(vfs::write(fast, b"1\n"), Err(EINVAL));
        assert_eq!(vfs::write(fast, b"0\n"), Ok(2));
        assert_eq!(stat_total(fast)?, 0);
        let v = c"/sys/kernel/rslab_kunit/caches/kunit-ctl/validate";
        assert_eq!(vfs::write(v, b"1\n"), Ok(2));
        assert_eq!(vfs::write(sh, b"1\n"), Ok(2));
        assert_eq!(&f("objects")?[..], b"0\n");
        assert_eq!(&f("slabs")?[..], b"0\n");
        assert_eq!(control(b"destroy kunit-ctl\n"), Ok(18));
        assert!(vfs::read(c"/sys/kernel/rslab_kunit/caches/kunit-ctl/order").is_err());
        assert_eq!(
            &vfs::read(c"/sys/kernel/rslab_kunit/caches/kmalloc-96/object_size")?[..],
            b"96\n"
        );
        Ok(())
    }

    /// SLUB's per-node breakdowns: three slabs' worth of objects allocated
    /// on a CPU of each node land in that node's slabs, so `objects`,
    /// `slabs` and `total_objects` show exactly those per node (`total
    /// N0=a N1=a`), and each total is the sum of its nodes. Without
    /// `CONFIG_NUMA`, the total alone, as SLUB prints it. (Whole slabs: SLUB
    /// counts a CPU slab's objects all in use.)
    #[test]
    fn per_node_breakdowns_count_each_nodes_objects() -> Result {
        use crate::glue::{cpu, numa};
        use crate::kunit::util::on_cpu;
        let ctl = crate::kunit::hooks::control()?;
        control(b"create kunit-nodes 256\n")?;
        let cache = ctl.caches().find(b"kunit-nodes").ok_or(ENOENT)?;
        let nodes = numa::nr_node_ids();
        let mut cpus = KVec::from_elem(None, nodes, GFP_KERNEL)?;
        for c in cpu::online_cpus() {
            let n = numa::cpu_node(c);
            if cpus[n].is_none() {
                cpus[n] = Some(c);
            }
        }
        let per_slab = cache.layout().objects as usize;
        let each = 3 * per_slab;
        let used = cpus.iter().flatten().count();
        // Room reserved: the pushes under the lock never allocate.
        let held = KBox::pin_init(
            kernel::new_spinlock!(KVec::<usize>::with_capacity(each * used, GFP_KERNEL)?),
            GFP_KERNEL,
        )?;
        let mut ran = Ok(());
        for c in cpus.iter().flatten() {
            ran = ran.and(on_cpu(*c, || {
                for _ in 0..each {
                    let o = cache.alloc(Gfp::KERNEL).ok_or(ENOMEM)?;
                    held.lock().push(o.as_ptr() as usize, GFP_NOWAIT)?;
                }
                Ok(())
            }));
        }
        let read = |f: &CStr| -> Result<(usize, KVec<usize>)> {
            let v = vfs::read(f)?;
            let v = core::str::from_utf8(&v).map_err(|_| EINVAL)?;
            let mut words = v.trim_end().split(' ');
            let total = words.next().ok_or(EINVAL)?.parse().map_err(|_| EINVAL)?;
            let mut per = KVec::from_elem(0usize, nodes, GFP_KERNEL)?;
            for w in words {
                let (n, x) = w
                    .strip_prefix('N')
                    .and_then(|w| w.split_once('='))
                    .ok_or(EINVAL)?;
                let n: usize = n.parse().map_err(|_| EINVAL)?;
                *per.get_mut(n).ok_or(EINVAL)? = x.parse().map_err(|_| EINVAL)?;
            }
            Ok((total, per))
        };
        let objects = read(c"/sys/kernel/rslab_kunit/caches/kunit-nodes/objects");
        let slabs = read(c"/sys/kernel/rslab_kunit/caches/kunit-nodes/slabs");
        let total = read(c"/sys/kernel/rslab_kunit/caches/kunit-nodes/total_objects");
        for o in held.lock().drain_all() {
            // SAFETY: allocated from `cache` above, freed once.
            unsafe { cache.free(core::ptr::NonNull::new_unchecked(o as *mut u8)) };
        }
        drop(cache);
        let destroyed = control(b"destroy kunit-nodes\n");
        ran?;
        let ((objects, on), (slabs, sn), (total, tn)) = (objects?, slabs?, total?);
        assert_eq!(objects, each * used);
        assert_eq!(slabs, 3 * used);
        assert_eq!(total, each * used);
        for (n, c) in cpus.iter().enumerate() {
            let want = if numa::enabled() && c.is_some() {
                each
            } else {
                0
            };
            assert_eq!(on[n], want);
            assert_eq!(sn[n], want / per_slab);
            assert_eq!(tn[n], want);
        }
        assert!(destroyed.is_ok());
        Ok(())
    }

    /// `remote_node_defrag_ratio` as SLUB's: percent (the default 100),
    /// writable 0..=100; above is `ERANGE`, a non-number `EINVAL`, and
    /// neither changes it.
    #[test]
    fn remote_node_defrag_ratio_is_bounded() -> Result {
        control(b"create kunit-ratio 64\n")?;
        let f = c"/sys/kernel/rslab_kunit/caches/kunit-ratio/remote_node_defrag_ratio";
        let default = vfs::read(f);
        let set = vfs::write(f, b"50\n");
        let after_set = vfs::read(f);
        let above = vfs::write(f, b"101\n");
        let junk = vfs::write(f, b"lots\n");
        let huge = vfs::write(f, b"4294967296\n");
        let after_bad = vfs::read(f);
        let destroyed = control(b"destroy kunit-ratio\n");
        assert_eq!(&default?[..], b"100\n");
        assert_eq!(set, Ok(3));
        assert_eq!(&after_set?[..], b"50\n");
        assert_eq!(above, Err(ERANGE));
        assert_eq!(junk, Err(EINVAL));
        assert_eq!(huge, Err(ERANGE));
        assert_eq!(&after_bad?[..], b"50\n");
        assert!(destroyed.is_ok());
        Ok(())
    }

    /// A destroy refused because objects are out changes nothing: the
    /// cache, its directory and its name stay (a create of the name is
    /// still `EEXIST`), and destroy works once the objects are back.
    #[test]
    fn a_refused_destroy_changes_nothing() -> Result {
        let ctl = crate::kunit::hooks::control()?;
        control(b"create kunit-busy 64\n")?;
        let cache = ctl.caches().find(b"kunit-busy").ok_or(ENOENT)?;
        let o = cache.alloc(Gfp::KERNEL).ok_or(ENOMEM)?;
        let refused = control(b"destroy kunit-busy\n");
        let dir = vfs::read(c"/sys/kernel/rslab_kunit/caches/kunit-busy/object_size");
        let found = ctl.caches().find(b"kunit-busy").is_some();
        let again = control(b"create kunit-busy 64\n");
        // SAFETY: `o` came from `cache` above and is not used again.
        unsafe { cache.free(o) };
        drop(cache);
        let done = control(b"destroy kunit-busy\n");
        let gone = vfs::read(c"/sys/kernel/rslab_kunit/caches/kunit-busy/object_size");
        assert_eq!(refused, Err(EBUSY));
        assert_eq!(&dir?[..], b"64\n");
        assert!(found);
        assert_eq!(again, Err(EEXIST));
        assert_eq!(done, Ok(19));
        assert_eq!(gone.err(), Some(ENOENT));
        assert!(ctl.caches().find(b"kunit-busy").is_none());
        Ok(())
    }

    /// `bench quick` runs every benchmark case with tiny counts (a smoke
    /// run: the timings are not compared, but every one of the 35 cases,
    /// 36 with two nodes (the remote-node pair), must report a measurement
    /// on both sides, a count of barn trips aside, which may be 0) and
    /// leaves nothing behind.
    #[test]
    fn bench_smoke_run() -> Result {
        let line = b"bench quick\n";
        assert_eq!(control(line), Ok(line.len()));
        assert_eq!(control(b"bench slow\n"), Err(EINVAL));
        let ctl = crate::kunit::hooks::control()?;
        let summary = ctl.bench(true)?;
        // 35, and the remote-node case with a second node with memory.
        let remote = crate::glue::numa::memory_nodes().any(|n| n != crate::glue::numa::cpu_node(0));
        assert_eq!(summary.rows, 35 + u32::from(remote));
        assert_eq!(summary.empty, 0);
        assert_eq!(
            vfs::write(c"/sys/kernel/rslab_kunit/pool/validate", b"1\n"),
            Ok(2)
        );
        Ok(())
    }
}
