// SPDX-License-Identifier: GPL-2.0
//! KUnit: the registry of caches (`src/registry.rs`): private kmalloc
//! buckets (`kmem_buckets_create()`), on the instance's own registry, with
//! their caches read back from sysfs as a user would.

use crate::{
    glue::{fmtbuf, gfp::Gfp, vfs},
    kunit::{
        hooks,
        util::{ensure, some},
    },
    logic::slab::layout::{self, KMALLOC_INDICES},
    slab::CacheConfig,
};
use kernel::{prelude::*, str::CStr};

/// `caches/<name>/<file>` of the instance, as a number.
fn cache_file(name: &str, file: &str) -> Result<u64> {
    let mut buf = [0u8; 128];
    let path = fmtbuf::format(
        &mut buf,
        format_args!("/sys/kernel/rslab_kunit/caches/{name}/{file}\0"),
    );
    vfs::read_number(CStr::from_bytes_with_nul(path.as_bytes()).map_err(|_| EINVAL)?)
}

#[kunit_tests(rslab_registry)]
mod tests {
    use super::*;

    /// Buckets are a registered cache per kmalloc class, `<name>-<size>`
    /// in sysfs with the user copy region clipped to each size; each size
    /// is served by its class's cache (large sizes as kmalloc's), zeroed for
    /// `__GFP_ZERO`, and freed by `kfree()`; a destroy with an object left
    /// fails and changes nothing, and once it is freed takes every cache.
    #[test]
    fn buckets_are_private_classes() -> Result {
        let ctl = hooks::control()?;
        let r = ctl.caches();
        let k = r.kmalloc();
        let mut cfg = CacheConfig::new("", 0);
        cfg.useroffset = 16;
        cfg.usersize = 100;
        let b = r.create_buckets("kunit-bkt", &cfg)?;
        let mut names = [[0u8; 32]; KMALLOC_INDICES.len()];
        for (idx, buf) in KMALLOC_INDICES.iter().zip(names.iter_mut()) {
            let size = layout::kmalloc_size(*idx) as u32;
            let name = fmtbuf::format(buf, format_args!("kunit-bkt-{size}"));
            let c = some!(r.find(name.as_bytes()));
            ensure!(
                cache_file(name, "object_size")? == u64::from(size),
                "{name}"
            );
            let user = if size <= 16 { 0 } else { (size - 16).min(100) };
            ensure!(cache_file(name, "usersize")? == u64::from(user), "{name}");
            // A size of the class: from that cache, zeroed whole.
            let p = k.buckets_alloc(&b, size as usize, Gfp::KERNEL, None);
            ensure!(!p.is_null(), "{name}: no memory");
            // SAFETY: `p` is live, of this cache, and ours.
            ensure!(unsafe { c.contains(p) }, "{name}: from its bucket");
            // SAFETY: `size` bytes of ours.
            unsafe { core::ptr::write_bytes(p, 0xa5, size as usize) };
            // SAFETY: allocated above, not used again.
            unsafe { k.kfree(p) };
            let z = k.buckets_alloc(&b, size as usize, Gfp::KERNEL.zeroed(), None);
            ensure!(!z.is_null(), "{name}: no memory");
            // SAFETY: a live allocation of at least `size` bytes.
            let bytes = unsafe { core::slice::from_raw_parts(z, k.ksize(z)) };
            ensure!(bytes.iter().all(|&x| x == 0), "{name}: zeroed to ksize");
            // SAFETY: as above.
            unsafe { k.kfree(z) };
        }
        // Above the classes: a large block, as kmalloc's.
        let big = k.buckets_alloc(&b, 8193, Gfp::KERNEL, None);
        ensure!(!big.is_null(), "large: no memory");
        // SAFETY: live, of at least 8193 bytes.
        ensure!(unsafe { k.ksize(big) } == 16384, "a block of order 2");
        // SAFETY: allocated above, not used again.
        unsafe { k.kfree(big) };
        ensure!(
            k.buckets_alloc(&b, 0, Gfp::KERNEL, None) == crate::kmalloc::ZERO_SIZE_PTR,
            "ZERO_SIZE_PTR for 0"
        );
        // A destroy with an object out: EBUSY, every cache stays.
        let held = k.buckets_alloc(&b, 100, Gfp::KERNEL, None);
        ensure!(!held.is_null(), "no memory");
        let all = {
            let mut v = KVec::new();
            for c in b.caches() {
                v.push(kernel::sync::Arc::as_ptr(c), GFP_KERNEL)?;
            }
            v
        };
        ensure!(r.destroy_all(&all) == Err(EBUSY), "busy");
        for c in b.caches() {
            ensure!(r.find(c.name()).is_some(), "still registered");
        }
        // SAFETY: allocated above, not used again.
        unsafe { k.kfree(held) };
        ensure!(r.destroy_all(&all) == Ok(()), "destroyed");
        ensure!(r.find(b"kunit-bkt-100").is_none(), "gone");
        ensure!(r.find(b"kunit-bkt-128").is_none(), "gone");
        Ok(())
    }

    /// A name too long for the largest class's cache is refused, and leaves
    /// no cache behind.
    #[test]
    fn buckets_with_too_long_a_name_leave_nothing() -> Result {
        let ctl = hooks::control()?;
        let r = ctl.caches();
        let name = "kunit-bkt-a-rather-long-name"; // 28 bytes: "-8" fits, "-8192" not.
        let cfg = CacheConfig::new("", 0);
        ensure!(
            r.create_buckets(name, &cfg).err() == Some(EINVAL),
            "refused"
        );
        ensure!(
            r.find(b"kunit-bkt-a-rather-long-name-8").is_none(),
            "none left"
        );
        Ok(())
    }
}
