// SPDX-License-Identifier: GPL-2.0
//! Workloads started from `/sys/kernel/debug/rslab/control`: on the pool,
//! on a cache, and on kmalloc.

use crate::{
    glue::{
        atomic::{Atomic, Relaxed},
        cpu,
        gfp::Gfp,
        kthread,
    },
    kmalloc::Kmalloc,
    logic::rand::XorShift64,
    page_pool::{PageRecord, Pool, RawBlock},
    slab::Cache,
};
use core::ptr::NonNull;
use kernel::{
    bindings,
    page::PAGE_SIZE,
    prelude::*,
    time::{Instant, Monotonic},
};

/// Blocks one workload thread holds at most.
const HELD: usize = 256;

/// Writes `tag` into the first, middle and last word of `b`, so that a block
/// handed to two owners shows up as a tag overwritten by the other.
pub(crate) fn stamp<R: PageRecord>(p: &Pool<R>, b: &RawBlock, tag: u64) {
    let words = (PAGE_SIZE << b.order()) / 8;
    let base = p.addr(b).cast::<u64>();
    for i in [0, words / 2, words - 1] {
        // SAFETY: the block is ours, `words` 8-byte words long, mapped (the
        // pool's chunks are in the direct map) and page-aligned.
        unsafe { base.add(i).write(tag) };
    }
}

/// Whether `b` still holds the tag [`stamp`] wrote.
pub(crate) fn stamped<R: PageRecord>(p: &Pool<R>, b: &RawBlock, tag: u64) -> bool {
    let words = (PAGE_SIZE << b.order()) / 8;
    let base = p.addr(b).cast::<u64>();
    [0, words / 2, words - 1].iter().all(|&i| {
        // SAFETY: as in `stamp`.
        unsafe { base.add(i).read() == tag }
    })
}

/// What a workload did.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// CPUs it ran on.
    pub cpus: usize,
    /// Operations done, all CPUs together.
    pub ops: u64,
    /// Allocations that failed.
    pub failed: u64,
    /// Blocks or objects whose tag was overwritten (must be 0).
    pub corrupt: u64,
    /// Objects freed on another CPU than the one that allocated them
    /// (cache workloads; 0 for the pool's).
    pub remote: u64,
    /// Wall time.
    pub ns: i64,
}

/// `workload pool <ops> [<max_order>]`: on one kthread per online CPU at
/// once, `ops` random allocations (orders `0..=max_order`, mostly small)
/// and frees of stamped blocks, holding up to 256 blocks; everything is
/// freed at the end.
pub(crate) fn pool_workload<R: PageRecord>(
    pool: &Pool<R>,
    ops: u32,
    max_order: u32,
) -> Result<Report> {
    let cpus = cpu::online_list()?;
    let done = Atomic::<u64>::new(0);
    let failed = Atomic::<u64>::new(0);
    let corrupt = Atomic::<u64>::new(0);
    let start = Instant::<Monotonic>::now();
    kthread::run_on_cpus(&cpus, &|cpu| {
        // SAFETY: `get_random_u64` may be called from any process context.
        let mut r = XorShift64::new(unsafe { bindings::get_random_u64() } ^ cpu as u64);
        let Ok(mut held) = KVec::<(RawBlock, u64)>::with_capacity(HELD, GFP_KERNEL) else {
            failed.add(1, Relaxed);
            return;
        };
        let mut tag = (cpu as u64) << 48;
        for _ in 0..ops {
            if held.len() < HELD && (held.is_empty() || r.below(2) == 0) {
                // Order o with probability ~ 4^-o.
                let mut order = 0;
                while order < max_order && r.below(4) == 0 {
                    order += 1;
                }
                match pool.alloc(order, Gfp::KERNEL) {
                    Some(b) => {
                        tag += 1;
                        stamp(pool, &b, tag);
                        // Capacity reserved: cannot fail.
                        let _ = held.push((b, tag), GFP_KERNEL);
                    }
                    None => failed.add(1, Relaxed),
                }
            } else if let Ok((b, t)) = held.remove(r.below(held.len() as u32) as usize) {
                if !stamped(pool, &b, t) {
                    corrupt.add(1, Relaxed);
                }
                pool.free(b);
            }
        }
        for (b, t) in held.drain_all() {
            if !stamped(pool, &b, t) {
                corrupt.add(1, Relaxed);
            }
            pool.free(b);
        }
        done.add(u64::from(ops), Relaxed);
    })?;
    Ok(Report {
        cpus: cpus.len(),
        ops: done.load(Relaxed),
        failed: failed.load(Relaxed),
        corrupt: corrupt.load(Relaxed),
        remote: 0,
        ns: start.elapsed().as_nanos(),
    })
}

/// The tag an object at `p` carries while a workload holds it.
fn tag_of(p: usize) -> u64 {
    (p as u64).rotate_left(17) ^ 0x5a5a_0000_a5a5
}

/// Stamps (`check = false`) or checks (`true`) an object of `size` bytes:
/// its first and last words (or bytes, when smaller than a word).
fn stamp_object(p: usize, size: usize, check: bool) -> bool {
    let t = tag_of(p);
    if size >= 8 {
        let (a, b) = (p as *mut u64, (p + size - 8) as *mut u64);
        // SAFETY: the object is the workload's, `size` bytes, and objects
        // are at least word-aligned.
        unsafe {
            if check {
                return a.read_unaligned() == t && b.read_unaligned() == t;
            }
            a.write_unaligned(t);
            b.write_unaligned(t);
        }
    } else {
        let (a, b) = (p as *mut u8, (p + size - 1) as *mut u8);
        // SAFETY: as above, byte-wise.
        unsafe {
            if check {
                return a.read() == t as u8 && b.read() == (t >> 8) as u8;
            }
            a.write(t as u8);
            b.write((t >> 8) as u8);
        }
    }
    true
}

/// Slots of the mailbox through which workload threads hand objects to each
/// other, so that objects are freed on other CPUs than their own.
const MAILBOX: usize = 64;

/// What an object workload allocates from: a cache, or kmalloc with
/// random sizes.
trait Objects: Sync {
    /// A new object, or `None` if no memory could be had.
    fn alloc(&self, r: &mut XorShift64) -> Option<usize>;
    /// The bytes of `p` the workload stamps, and the alignment `p` must
    /// have.
    fn extent(&self, p: usize) -> (usize, usize);
    /// Frees `p`.
    ///
    /// # Safety
    ///
    /// `p` came from [`Objects::alloc`] and is not used again.
    unsafe fn free(&self, p: usize);
}

struct CacheObjects<'a>(&'a Cache);

impl Objects for CacheObjects<'_> {
    fn alloc(&self, _r: &mut XorShift64) -> Option<usize> {
        self.0.alloc(Gfp::KERNEL).map(|p| p.as_ptr() as usize)
    }

    fn extent(&self, _p: usize) -> (usize, usize) {
        let l = self.0.layout();
        (l.object_size as usize, l.align as usize)
    }

    unsafe fn free(&self, p: usize) {
        // SAFETY: the caller's guarantee; `p` is not null.
        unsafe { self.0.free(NonNull::new_unchecked(p as *mut u8)) };
    }
}

struct KmallocObjects<'a>(&'a Kmalloc);

impl Objects for KmallocObjects<'_> {
    fn alloc(&self, r: &mut XorShift64) -> Option<usize> {
        // Sizes 1 .. 32 KiB, about as many of each power of two: every
        // class and the large blocks above them.
        let shift = r.below(16);
        let size = (1usize << shift) + r.below(1 << shift) as usize;
        let p = self.0.kmalloc(size, Gfp::KERNEL);
        (!p.is_null()).then_some(p as usize)
    }

    fn extent(&self, p: usize) -> (usize, usize) {
        // SAFETY: `p` is a live allocation of the workload's.
        (unsafe { self.0.ksize(p as *const u8) }, 8)
    }

    unsafe fn free(&self, p: usize) {
        // SAFETY: the caller's guarantee.
        unsafe { self.0.kfree(p as *mut u8) };
    }
}

/// `workload cache`: on one kthread per online CPU at once, `ops` random
/// allocations and frees, each thread holding up to `held` objects,
/// stamped while held and checked when freed; one operation in eight
/// swaps an object through a shared mailbox instead, so another CPU frees
/// it. Everything is freed at the end.
pub(crate) fn cache_workload(cache: &Cache, ops: u32, held: u32) -> Result<Report> {
    object_workload(&CacheObjects(cache), ops, held)
}

/// `workload kmalloc`: the same with kmalloc and random sizes from 1 byte
/// to 32 KiB (large blocks from the pool included), each checked against
/// `ksize()`.
pub(crate) fn kmalloc_workload(k: &Kmalloc, ops: u32, held: u32) -> Result<Report> {
    object_workload(&KmallocObjects(k), ops, held)
}

fn object_workload(o: &impl Objects, ops: u32, held: u32) -> Result<Report> {
    let cpus = cpu::online_list()?;
    let mut mailbox = KVec::with_capacity(MAILBOX, GFP_KERNEL)?;
    for _ in 0..MAILBOX {
        mailbox.push(Atomic::<usize>::new(0), GFP_KERNEL)?;
    }
    let (done, failed, corrupt, remote) = (
        Atomic::<u64>::new(0),
        Atomic::<u64>::new(0),
        Atomic::<u64>::new(0),
        Atomic::<u64>::new(0),
    );
    let free = |p: usize| {
        let (size, align) = o.extent(p);
        if !stamp_object(p, size, true) || p.checked_rem(align) != Some(0) {
            corrupt.add(1, Relaxed);
        }
        // SAFETY: `p` came from `o` and is dropped by the workload here.
        unsafe { o.free(p) };
    };
    let start = Instant::<Monotonic>::now();
    kthread::run_on_cpus(&cpus, &|cpu| {
        // SAFETY: `get_random_u64` may be called from any process context.
        let mut r = XorShift64::new(unsafe { bindings::get_random_u64() } ^ cpu as u64);
        let Ok(mut objs) = KVec::<usize>::with_capacity(held as usize, GFP_KERNEL) else {
            failed.add(1, Relaxed);
            return;
        };
        for _ in 0..ops {
            if r.below(8) == 0 && !objs.is_empty() {
                let Some(p) = objs.pop() else { continue };
                let old = mailbox[r.below(MAILBOX as u32) as usize].xchg(p, Relaxed);
                if old != 0 {
                    remote.add(1, Relaxed);
                    free(old);
                }
            } else if objs.len() < held as usize && (objs.is_empty() || r.below(2) == 0) {
                match o.alloc(&mut r) {
                    Some(p) => {
                        stamp_object(p, o.extent(p).0, false);
                        // Capacity reserved: cannot fail.
                        let _ = objs.push(p, GFP_KERNEL);
                    }
                    None => failed.add(1, Relaxed),
                }
            } else if let Ok(p) = objs.remove(r.below(objs.len() as u32) as usize) {
                free(p);
            }
        }
        for p in objs.drain_all() {
            free(p);
        }
        done.add(u64::from(ops), Relaxed);
    })?;
    for m in mailbox.iter() {
        let p = m.xchg(0, Relaxed);
        if p != 0 {
            free(p);
        }
    }
    Ok(Report {
        cpus: cpus.len(),
        ops: done.load(Relaxed),
        failed: failed.load(Relaxed),
        corrupt: corrupt.load(Relaxed),
        remote: remote.load(Relaxed),
        ns: start.elapsed().as_nanos(),
    })
}
