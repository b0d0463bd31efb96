// SPDX-License-Identifier: GPL-2.0
//! KUnit: kmalloc on rslab, and `KBox`/`KVec` through [`RslabAlloc`].

use crate::{
    glue::gfp::Gfp,
    kmalloc::{Kmalloc, RslabAlloc, ZERO_SIZE_PTR},
    kunit::{
        hooks::{self, StatTotal},
        slab::census,
        util::{ensure, on_cpu, some},
    },
    logic::slab::{debugopt::SlubDebug, layout},
    slab::SlabStat,
};
use kernel::{page::PAGE_SIZE, prelude::*};

use crate::kunit::slab::pool;

/// `kmalloc_nolock(64, __GFP_ZERO)`: an object (of a partial slab, in the
/// tests below), checked to be zero.
fn nolock_zeroed_64(k: &Kmalloc) -> Result<*mut u8> {
    let o = k.kmalloc_nolock(64, Gfp::KERNEL.zeroed(), None);
    ensure!(!o.is_null(), "from the partial slab");
    // SAFETY: `o` holds 64 bytes, ours.
    let bytes = unsafe { core::slice::from_raw_parts(o, 64) };
    ensure!(bytes.iter().all(|&x| x == 0), "zeroed");
    Ok(o)
}

#[kunit_tests(rslab_kmalloc)]
mod tests {
    use super::*;

    /// kmalloc maps every size 1..=8192 to the class `kmalloc_index()`
    /// names, with `ksize() >= size`; 0 is `ZERO_SIZE_PTR`; larger sizes
    /// come from the pool, page-aligned.
    #[test]
    fn kmalloc_sizes_follow_kmalloc_index() -> Result {
        let p = pool()?;
        let k = Kmalloc::new(&p, SlubDebug::NONE, true)?;
        for size in 1..=8192usize {
            let idx = some!(layout::kmalloc_index(size));
            let c = some!(k.cache_for(size));
            assert_eq!(c.layout().object_size as usize, layout::kmalloc_size(idx));
            let o = k.kmalloc(size, Gfp::KERNEL);
            assert!(!o.is_null());
            // SAFETY: `o` is live; freed right after.
            unsafe {
                assert!(k.ksize(o) >= size);
                k.kfree(o);
            }
        }
        assert_eq!(k.kmalloc(0, Gfp::KERNEL), ZERO_SIZE_PTR);
        // SAFETY: ZERO_SIZE_PTR and null are ignored.
        unsafe {
            k.kfree(ZERO_SIZE_PTR);
            k.kfree(core::ptr::null_mut());
        }
        let big = k.kmalloc(16384, Gfp::KERNEL);
        assert!(!big.is_null());
        assert_eq!(big as usize % PAGE_SIZE, 0);
        // SAFETY: live, then freed.
        unsafe {
            assert_eq!(k.ksize(big), 16384);
            k.kfree(big);
        }
        assert!(k.kmalloc(PAGE_SIZE << 11, Gfp::KERNEL).is_null());
        for c in k.caches() {
            assert_eq!(census(c)?.inuse, 0);
        }
        Ok(())
    }

    /// krealloc keeps the contents (growing across classes and into a
    /// large block, and shrinking in place); kzalloc zeroes;
    /// kmalloc_array refuses an overflowing product.
    #[test]
    fn krealloc_kzalloc_and_kmalloc_array() -> Result {
        let p = pool()?;
        let k = Kmalloc::new(&p, SlubDebug::NONE, true)?;
        let o = k.kmalloc(100, Gfp::KERNEL);
        assert!(!o.is_null());
        // SAFETY: `o` holds 100 bytes; each krealloc result is live and at
        // least as big as asked; everything is freed once.
        unsafe {
            for i in 0..100 {
                *o.add(i) = i as u8;
            }
            let o2 = k.krealloc(o, 5000, Gfp::KERNEL);
            assert!(!o2.is_null());
            assert!(k.ksize(o2) >= 5000);
            let o3 = k.krealloc(o2, 20000, Gfp::KERNEL);
            assert!(!o3.is_null());
            for i in 0..100 {
                assert_eq!(*o3.add(i), i as u8);
            }
            // Shrunk in place: its first 10 bytes stay (the rest is zeroed
            // under init_on_alloc, as the kernel's krealloc does).
            let o4 = k.krealloc(o3, 10, Gfp::KERNEL);
            assert_eq!(o4, o3);
            for i in 0..10 {
                assert_eq!(*o4.add(i), i as u8);
            }
            assert_eq!(k.krealloc(o4, 0, Gfp::KERNEL), ZERO_SIZE_PTR);
            let z = k.kzalloc(300, Gfp::KERNEL);
            assert!(core::slice::from_raw_parts(z, 300).iter().all(|&b| b == 0));
            k.kfree(z);
        }
        assert!(k.kmalloc_array(usize::MAX / 2, 3, Gfp::KERNEL).is_null());
        let a = k.kmalloc_array(10, 8, Gfp::KERNEL);
        assert!(!a.is_null());
        // SAFETY: live, then freed.
        unsafe { k.kfree(a) };
        for c in k.caches() {
            assert_eq!(census(c)?.inuse, 0);
        }
        Ok(())
    }

    /// `kmalloc_nolock()` on classic classes (`kmalloc_sheaves=0`) takes
    /// what needs no waiting, with exact moves:
    /// a new slab of pages the pool has at hand (it never grows the pool)
    /// left on the node partial list, the next object of that partial slab,
    /// the next class when the class's `list_lock` is held (as by code a
    /// kprobe interrupted), NULL when both are held, the CPU freelist once
    /// an ordinary allocation made the slab the CPU's. `kfree_nolock()`
    /// frees into the CPU slab at once and defers any other free to the
    /// irq_work, which frees it the ordinary way.
    #[test]
    fn kmalloc_nolock_never_waits_for_a_lock() -> Result {
        let p = pool()?;
        let k = Kmalloc::new(&p, SlubDebug::NONE, false)?;
        let c64 = some!(k.cache_for(64));
        let c96 = some!(k.cache_for(96));
        ensure!(
            k.kmalloc_nolock(0, Gfp::KERNEL, None) == ZERO_SIZE_PTR,
            "size 0"
        );
        ensure!(
            k.kmalloc_nolock(8193, Gfp::KERNEL, None).is_null(),
            "no large kmalloc"
        );
        let nodes = crate::glue::numa::nr_node_ids();
        ensure!(
            k.kmalloc_nolock(64, Gfp::KERNEL, Some(nodes)).is_null(),
            "no such node"
        );
        on_cpu(0, || {
            // An ordinary allocation grows the pool's zone of this CPU's
            // node; freed, its pages are free.
            let warm = k.kmalloc(16384, Gfp::KERNEL);
            ensure!(!warm.is_null(), "pool grown");
            // SAFETY: live, freed once.
            unsafe { k.kfree(warm) };
            let s = |x| c64.stat_total(x);
            let a = k.kmalloc_nolock(64, Gfp::KERNEL, None);
            ensure!(!a.is_null(), "a new slab");
            ensure!(s(SlabStat::AllocSlowpath) == 1, "slow");
            ensure!(s(SlabStat::AllocSlab) == 1, "one slab made");
            ensure!(s(SlabStat::AllocFastpath) == 0, "no CPU slab yet");
            let cn = census(c64)?;
            ensure!(cn.slabs == 1 && cn.inuse == 1, "one object of one slab");
            ensure!(cn.partial == 1 && cn.frozen == 0, "left partial, unfrozen");
            let b = nolock_zeroed_64(&k)?;
            ensure!(s(SlabStat::AllocFromPartial) == 1, "from partial");
            ensure!(s(SlabStat::AllocSlab) == 1, "no new slab");
            ensure!(census(c64)?.inuse == 2, "two in use");
            let node = p.cpu_node(0);
            let held = c64.hold_list_lock(node);
            let d = k.kmalloc_nolock(64, Gfp::KERNEL, None);
            let held96 = c96.hold_list_lock(node);
            let none = k.kmalloc_nolock(64, Gfp::KERNEL, None);
            let both = held.is_some() && held96.is_some();
            drop(held96);
            drop(held);
            ensure!(both, "both lists held by the test");
            ensure!(none.is_null(), "both classes' lists held: NULL");
            // SAFETY: `d` is null or live.
            ensure!(!d.is_null() && unsafe { c96.contains(d) }, "the next class");
            ensure!(s(SlabStat::AllocSlowpath) == 4, "tried twice more");
            ensure!(s(SlabStat::AllocFromPartial) == 1, "nothing taken");
            ensure!(census(c64)?.inuse == 2, "nothing changed");
            // kmalloc-96 has no CPU slab: the free is deferred.
            // SAFETY: `d` is live and freed once.
            unsafe { k.kfree_nolock(d) };
            k.sync_deferred();
            ensure!(
                c96.stat_total(SlabStat::FreeSlowpath) == 1,
                "freed by the irq_work"
            );
            ensure!(census(c96)?.inuse == 0, "nothing held in kmalloc-96");
            // An ordinary allocation makes the partial slab the CPU's.
            let e = k.kmalloc(64, Gfp::KERNEL);
            ensure!(s(SlabStat::AllocSlowpath) == 5, "the CPU slab");
            let f = k.kmalloc_nolock(64, Gfp::KERNEL, None);
            ensure!(s(SlabStat::AllocFastpath) == 1, "the CPU freelist");
            for o in [a, b, e, f] {
                // SAFETY: each is live and freed once.
                unsafe { k.kfree_nolock(o) };
            }
            // At once, or (in a cache with free hooks: kmemleak) on this CPU
            // by the irq_work, which finds the same CPU slab.
            k.sync_deferred();
            ensure!(s(SlabStat::FreeFastpath) == 4, "into the CPU slab");
            ensure!(s(SlabStat::FreeSlowpath) == 0, "none slow");
            ensure!(census(c64)?.inuse == 0, "all freed");
            Ok(())
        })
    }

    /// With sheaves (`kmalloc_sheaves=1`, the default, as 7.3's kmalloc
    /// caches), exact moves: a class's first kmalloc refills a sheaf
    /// (`sheaf_refill`, the class's capacity, from one new slab) and takes
    /// its object, as every kmalloc after it, and kfree puts it back;
    /// `kmalloc_nolock()` leaves the sheaves alone: a new slab (the CPU
    /// slab the refill used is not on the node list), left partial, then
    /// that partial slab's next object; `kfree_nolock()` defers its frees
    /// to the irq_work, which puts them on the sheaf.
    #[test]
    fn kmalloc_with_sheaves_takes_the_sheaf() -> Result {
        let p = pool()?;
        let k = Kmalloc::new(&p, SlubDebug::NONE, true)?;
        let c = some!(k.cache_for(64));
        let cap = u64::from(c.sheaf_capacity());
        ensure!(cap == 60, "capacity 60 for kmalloc-64");
        on_cpu(0, || {
            // Grow the pool of this CPU's node first (nolock never does).
            let warm = k.kmalloc(16384, Gfp::KERNEL);
            ensure!(!warm.is_null(), "pool grown");
            // SAFETY: live, freed once.
            unsafe { k.kfree(warm) };
            let s = |x| c.stat_total(x);
            let a = k.kmalloc(64, Gfp::KERNEL);
            ensure!(!a.is_null(), "an object");
            ensure!(s(SlabStat::BarnGetFail) == 1, "no full sheaf in the barn");
            ensure!(s(SlabStat::SheafRefill) == cap, "one sheaf refilled");
            ensure!(s(SlabStat::AllocSlab) == 1, "from one new slab");
            ensure!(s(SlabStat::AllocFastpath) == 1, "off the sheaf");
            let b = k.kmalloc(64, Gfp::KERNEL);
            ensure!(s(SlabStat::AllocFastpath) == 2, "off the sheaf again");
            ensure!(s(SlabStat::SheafRefill) == cap, "no refill");
            let slow = s(SlabStat::AllocSlowpath);
            let n1 = k.kmalloc_nolock(64, Gfp::KERNEL, None);
            ensure!(!n1.is_null(), "a new slab");
            ensure!(s(SlabStat::AllocSlab) == 2, "one slab more");
            let n2 = nolock_zeroed_64(&k)?;
            ensure!(s(SlabStat::AllocFromPartial) == 1, "its partial slab");
            ensure!(s(SlabStat::AllocSlab) == 2, "no new slab");
            ensure!(
                s(SlabStat::AllocSlowpath) == slow + 2,
                "both past the sheaves"
            );
            ensure!(s(SlabStat::AllocFastpath) == 2, "the sheaf untouched");
            let freed = s(SlabStat::FreeFastpath);
            for o in [n1, n2] {
                // SAFETY: each is live and freed once.
                unsafe { k.kfree_nolock(o) };
            }
            // (The irq_work may run at once, on this CPU, as it is queued.)
            k.sync_deferred();
            ensure!(s(SlabStat::FreeFastpath) == freed + 2, "onto the sheaf");
            for o in [a, b] {
                // SAFETY: each is live and freed once.
                unsafe { k.kfree(o) };
            }
            ensure!(s(SlabStat::FreeFastpath) == freed + 4, "onto the sheaf");
            ensure!(s(SlabStat::FreeSlowpath) == 0, "none to a slab");
            Ok(())
        })?;
        for c in k.caches() {
            assert_eq!(census(c)?.inuse, 0);
        }
        Ok(())
    }

    /// `KBox`/`KVec` with [`RslabAlloc`] allocate from the module's kmalloc.
    #[test]
    fn kbox_and_kvec_allocate_from_rslab() -> Result {
        let b = kernel::alloc::Box::<[u64; 8], RslabAlloc>::new([7; 8], GFP_KERNEL)?;
        assert_eq!(b[3], 7);
        let addr = core::ptr::from_ref(&*b) as usize;
        let mut v = kernel::alloc::Vec::<u32, RslabAlloc>::new();
        for i in 0..5000 {
            v.push(i, GFP_KERNEL)?;
        }
        assert!((0..5000).all(|i| v[i as usize] == i));
        let k = some!(crate::kmalloc::global());
        // SAFETY: `b` holds the object at `addr`.
        assert!(unsafe { some!(k.cache_for(64)).contains(addr as *const u8) });
        Ok(())
    }

    /// [`RslabAlloc`] honours the caller's flags: `__GFP_ZERO` zeroes a new
    /// allocation and the bytes a reallocation adds, in place or moved; the
    /// flags reach the cache as they were given (a dirty object comes back
    /// zeroed).
    #[test]
    fn rslab_alloc_honours_gfp_zero() -> Result {
        use kernel::alloc::{flags::__GFP_ZERO, Allocator, NumaNode};
        let k = some!(crate::kmalloc::global());
        // Dirty a 64-byte object and free it: the next one of the class on
        // this CPU is it.
        let p = k.kmalloc(64, Gfp::KERNEL);
        assert!(!p.is_null());
        // SAFETY: `p` holds 64 bytes, freed right after.
        unsafe {
            core::ptr::write_bytes(p, 0xa5, 64);
            k.kfree(p);
        }
        let l40 = core::alloc::Layout::from_size_align(40, 8).map_err(|_| EINVAL)?;
        let l64 = core::alloc::Layout::from_size_align(64, 8).map_err(|_| EINVAL)?;
        let l600 = core::alloc::Layout::from_size_align(600, 8).map_err(|_| EINVAL)?;
        let a = RslabAlloc::alloc(l40, GFP_KERNEL | __GFP_ZERO, NumaNode::NO_NODE)
            .map_err(|_| ENOMEM)?;
        let a = a.cast::<u8>();
        // SAFETY: `a` holds 40 bytes (64 in its class).
        let s = unsafe { core::slice::from_raw_parts(a.as_ptr(), 64) };
        assert!(s.iter().all(|&b| b == 0));
        // Dirty it whole and free it; taken again without `__GFP_ZERO`.
        // SAFETY: `a` holds 64 bytes; allocated by `RslabAlloc` with `l40`.
        unsafe {
            core::ptr::write_bytes(a.as_ptr(), 0xa5, 64);
            RslabAlloc::free(a, l40);
        }
        let a = RslabAlloc::alloc(l40, GFP_KERNEL, NumaNode::NO_NODE)
            .map_err(|_| ENOMEM)?
            .cast::<u8>();
        // SAFETY: `a` holds 40 bytes.
        unsafe { core::ptr::write_bytes(a.as_ptr(), 0x11, 40) };
        // Grown in place (40 to 64 bytes in the 64-byte class).
        // SAFETY: `a` was allocated by `RslabAlloc` with `l40`.
        let b = unsafe {
            RslabAlloc::realloc(
                Some(a),
                l64,
                l40,
                GFP_KERNEL | __GFP_ZERO,
                NumaNode::NO_NODE,
            )
        }
        .map_err(|_| ENOMEM)?
        .cast::<u8>();
        assert_eq!(b, a);
        // SAFETY: `b` holds 64 bytes.
        let s = unsafe { core::slice::from_raw_parts(b.as_ptr(), 64) };
        assert!(s[..40].iter().all(|&x| x == 0x11) && s[40..].iter().all(|&x| x == 0));
        // Moved (to the 1024-byte class) on node 0.
        // SAFETY: `b` was allocated by `RslabAlloc` with `l64`.
        let c = unsafe {
            RslabAlloc::realloc(
                Some(b),
                l600,
                l64,
                GFP_KERNEL | __GFP_ZERO,
                NumaNode::new(0)?,
            )
        }
        .map_err(|_| ENOMEM)?
        .cast::<u8>();
        // SAFETY: `c` holds 600 bytes.
        let s = unsafe { core::slice::from_raw_parts(c.as_ptr(), 600) };
        assert!(s[..40].iter().all(|&x| x == 0x11) && s[40..].iter().all(|&x| x == 0));
        // SAFETY: `c` was allocated by `RslabAlloc` with `l600`, not used
        // again.
        unsafe { RslabAlloc::free(c, l600) };
        Ok(())
    }

    /// `rslab_kfree_rcu()` frees the allocation holding the `rcu_head`, and
    /// only after a grace period: not while this thread is in an RCU
    /// read-side section, exactly once after `rcu_barrier()` (kmalloc-64's
    /// frees, counted: this module's instance has no other user).
    #[test]
    fn kfree_rcu_frees_after_a_grace_period() -> Result {
        use crate::{api, glue::rcu::RcuHead, kunit::hooks::StatTotal, slab::SlabStat};
        use kernel::sync::rcu;
        let k = some!(crate::kmalloc::global());
        let c = some!(k.cache_for(64));
        let frees = || c.stat_total(SlabStat::FreeFastpath) + c.stat_total(SlabStat::FreeSlowpath);
        let p = k.kmalloc(64, Gfp::KERNEL);
        assert!(!p.is_null());
        // The head anywhere inside: the callback finds the allocation.
        let head = p.wrapping_add(24).cast::<RcuHead>();
        let before = frees();
        let during = {
            let _g = rcu::read_lock();
            // SAFETY: `head` lies inside the live allocation `p`, handed
            // over here and not used again.
            unsafe { api::rslab_kvfree_call_rcu(head, p.cast()) };
            frees()
        };
        rcu::rcu_barrier();
        assert_eq!(during, before);
        assert_eq!(frees(), before + 1);
        Ok(())
    }

    /// The exported `rslab_alloc_pages_node()` and `rslab_kmalloc_node()`:
    /// node `n`'s memory (as the kernel's `page_to_nid()` sees it) for
    /// every node with memory, from a kmalloc class and from the pool; the
    /// CPU's own for `NUMA_NO_NODE`; `NULL` for a node that is not one
    /// (negative, or at `nr_node_ids`).
    #[test]
    fn alloc_pages_node_gives_that_nodes_pages() -> Result {
        use crate::{
            api,
            glue::{ffi, numa},
        };
        let gfp = kernel::bindings::GFP_KERNEL;
        let page_node = |pg: *mut kernel::bindings::page| {
            // SAFETY: `pg` is a live page of the pool.
            hooks::node_of_addr(unsafe { ffi::rslab_page_address(pg) }.cast())
        };
        let mut seen = KVec::new();
        for n in numa::memory_nodes() {
            let pg = api::rslab_alloc_pages_node(n as i32, gfp, 1);
            if pg.is_null() {
                seen.push(usize::MAX, GFP_KERNEL)?;
                continue;
            }
            seen.push(page_node(pg), GFP_KERNEL)?;
            // SAFETY: from `rslab_alloc_pages_node` with order 1, once.
            unsafe { api::rslab_free_pages(pg, 1) };
        }
        // kmalloc_node(), from a class and from the pool.
        let mut kmalloced = KVec::new();
        for n in numa::memory_nodes() {
            for size in [100, 3 * PAGE_SIZE] {
                let p = api::rslab_kmalloc_node(size, gfp, n as i32);
                let at = if p.is_null() {
                    usize::MAX
                } else {
                    hooks::node_of_addr(p.cast())
                };
                kmalloced.push((n, at), GFP_KERNEL)?;
                // SAFETY: from `rslab_kmalloc_node` (or null), freed once.
                unsafe { api::rslab_kfree(p) };
            }
        }
        let bad_kmalloc = api::rslab_kmalloc_node(100, gfp, numa::nr_node_ids() as i32);
        let bad = [-2, numa::nr_node_ids() as i32].map(|n| api::rslab_alloc_pages_node(n, gfp, 0));
        let any = api::rslab_alloc_pages_node(kernel::bindings::NUMA_NO_NODE, gfp, 0);
        let any_ok = !any.is_null();
        if any_ok {
            // SAFETY: as above, order 0.
            unsafe { api::rslab_free_pages(any, 0) };
        }
        for (n, got) in numa::memory_nodes().zip(seen.iter()) {
            assert_eq!(*got, n);
        }
        assert!(bad.iter().all(|p| p.is_null()));
        assert!(any_ok);
        for &(n, at) in kmalloced.iter() {
            assert_eq!(at, n);
        }
        assert!(bad_kmalloc.is_null());
        Ok(())
    }
}
