// SPDX-License-Identifier: GPL-2.0
//! The kmalloc family on rslab: size classes `kmalloc-8` .. `kmalloc-8192`
//! plus `kmalloc-96` and `kmalloc-192`, picked by `kmalloc_index()`, and
//! on a kernel with `ZONE_DMA` the same classes of `ZONE_DMA` memory
//! (`dma-kmalloc-*`, for `GFP_DMA`); bigger requests go to the page pool as
//! one block ([`large`]: `kmalloc_large()`), recorded in the pool's page
//! record so that `kfree()` and `ksize()` find it. Memory is zeroed as the
//! caches and the pool zero it: up to `ksize()` for `__GFP_ZERO` and under
//! `init_on_alloc`.
//!
//! [`RslabAlloc`] ([`allocator`]) implements the kernel crate's
//! `Allocator` on top, so `KBox`/`KVec` (`Box<T, RslabAlloc>`,
//! `Vec<T, RslabAlloc>`) can allocate from rslab.

mod allocator;
mod buckets;
mod large;
mod nolock;

pub(crate) use allocator::{clear_global, set_global};
#[cfg(rslab_kunit)]
pub(crate) use allocator::{global, RslabAlloc};
pub(crate) use buckets::Buckets;

use crate::{
    glue::{
        fmtbuf,
        gfp::Gfp,
        mm::{self, Zone},
    },
    logic::slab::{
        debugopt::SlubDebug,
        layout::{self, KMALLOC_INDICES},
    },
    page_pool::MAX_ORDER,
    slab::{Cache, CacheConfig, Owner, SlabPage, SlabPool},
};
use kernel::{bindings::PAGE_SHIFT, page::PAGE_SIZE, prelude::*, sync::Arc};

/// `ZERO_SIZE_PTR`: what `kmalloc(0)` returns; `kfree()` ignores it.
pub(crate) const ZERO_SIZE_PTR: *mut u8 = 16 as *mut u8;

/// The number of kmalloc classes of one kind.
pub(crate) const NR_CLASSES: usize = KMALLOC_INDICES.len();

/// The classes of one kind, indexed by `kmalloc_index()`; `None` for
/// indices with no class.
type Classes = [Option<Arc<Cache>>; layout::KMALLOC_SHIFT_HIGH as usize + 1];

/// The `gfp_t` bits that ask kmalloc for another zone than the normal one
/// (`__GFP_DMA`, and `__GFP_DMA32`, which it does not serve).
const ZONE_GFP: u32 = mm::GFP_DMA | mm::GFP_DMA32;

/// The kmalloc caches of one pool.
///
/// # Invariants
///
/// `slow` holds [`ZONE_GFP`] and every flag bit for which a class's
/// initialisation policy does something (`Cache::init_mask`).
pub(crate) struct Kmalloc {
    /// `kfree_nolock()`'s deferred frees: first, so that its drop (which
    /// waits for them) runs while the caches and the pool are still there.
    deferred: crate::glue::irq_work::Deferred,
    pool: Arc<SlabPool>,
    /// `KMALLOC_NORMAL`.
    caches: Classes,
    /// `KMALLOC_DMA` (empty without `ZONE_DMA`).
    dma: Classes,
    /// The request flags ([`Gfp::bits`]) that take [`Kmalloc::kmalloc_slow`].
    slow: u32,
}

/// Reports a `kfree()` of something rslab did not hand out.
#[cold]
#[inline(never)]
fn bad_kfree(p: *mut u8, why: &str) {
    pr_err!("kfree of {:#x}: {why}\n", p as usize);
}

impl Kmalloc {
    /// `create_kmalloc_caches()`: every class, on `pool` (and the
    /// `ZONE_DMA` ones, if the kernel has that zone), with the debug flags
    /// `slub_debug` gives their names, and with `sheaves` per-CPU sheaves
    /// (7.3's `bootstrap_kmalloc_sheaves()`; a debug class has none).
    pub(crate) fn new(
        pool: &Arc<SlabPool>,
        slub_debug: SlubDebug<'static>,
        sheaves: bool,
    ) -> Result<Self> {
        let make = |prefix: &str, flags: u32| -> Result<Classes> {
            let mut caches: Classes = Default::default();
            for idx in KMALLOC_INDICES {
                let size = layout::kmalloc_size(idx);
                let mut buf = [0u8; 24];
                let name = fmtbuf::format(&mut buf, format_args!("{prefix}kmalloc-{size}"));
                let mut cfg = CacheConfig::new(name, size as u32);
                cfg.flags = flags;
                cfg.slub_debug = slub_debug;
                cfg.sheaves = sheaves;
                let c = Cache::new(pool, &cfg)?;
                if c.sheaves().is_some() {
                    // Adaptive capacity (rslab's, beyond 7.3): a class
                    // serves callers of every kind, whose bursts it follows
                    // (tcmalloc's per-CPU size classes grow so), within its
                    // budget.
                    c.set_sheaf_adaptive(true)?;
                }
                caches[idx as usize] = Some(c);
            }
            Ok(caches)
        };
        let caches = make("", 0)?;
        let dma = if Zone::Dma.exists() {
            make("dma-", layout::SLAB_CACHE_DMA)?
        } else {
            Default::default()
        };
        // INVARIANT: every class's policy, with the zones.
        let slow = [&caches, &dma]
            .into_iter()
            .flatten()
            .flatten()
            .fold(ZONE_GFP, |m, c| m | c.init_mask());
        Ok(Kmalloc {
            // SAFETY: the `Arc` of `pool` is a field, dropped after
            // `deferred` (field order), whose drop waits for its works.
            deferred: unsafe { nolock::new_deferred(pool) }?,
            pool: pool.clone(),
            caches,
            dma,
            slow,
        })
    }

    /// The classes' caches, smallest first, then the `ZONE_DMA` ones.
    pub(crate) fn caches(&self) -> impl Iterator<Item = &Arc<Cache>> {
        [&self.caches, &self.dma].into_iter().flat_map(|k| {
            KMALLOC_INDICES
                .iter()
                .filter_map(|&i| k[i as usize].as_ref())
        })
    }

    /// The cache serving `size` bytes, if one does.
    pub(crate) fn cache_for(&self, size: usize) -> Option<&Arc<Cache>> {
        self.caches
            .get(layout::kmalloc_index(size)? as usize)?
            .as_ref()
    }

    /// The `ZONE_DMA` cache serving `size` bytes, if one does.
    pub(crate) fn dma_cache_for(&self, size: usize) -> Option<&Arc<Cache>> {
        self.dma
            .get(layout::kmalloc_index(size)? as usize)?
            .as_ref()
    }

    /// `kmalloc()`: `size` bytes, aligned to the largest power of two that
    /// divides the class size (page-aligned for large requests), zeroed up
    /// to `ksize()` for `__GFP_ZERO` (or `init_on_alloc`); [`ZERO_SIZE_PTR`]
    /// for 0; null if no memory could be had. Out of line, as the kernel's;
    /// no call inside but to a slow path: flags that ask for a zone or for
    /// zeroing (the classes' policy, [`Kmalloc::slow`]) take
    /// [`Kmalloc::kmalloc_slow`] after one test.
    #[inline(never)]
    pub(crate) fn kmalloc(&self, size: usize, gfp: Gfp) -> *mut u8 {
        self.kmalloc_inline(size, gfp)
    }

    /// [`Kmalloc::kmalloc`] inline (the exported `rslab_kmalloc()` is it).
    #[inline(always)]
    pub(crate) fn kmalloc_inline(&self, size: usize, gfp: Gfp) -> *mut u8 {
        if size == 0 {
            return ZERO_SIZE_PTR;
        }
        if gfp.bits() & self.slow != 0 {
            return self.kmalloc_slow(size, gfp, None);
        }
        if let Some(c) = self.cache_for(size) {
            // The classes want no initialisation for these flags (tested
            // above).
            return c.alloc_uninit(gfp, size as u32) as *mut u8;
        }
        // kmalloc_large(): get_order(size) pages.
        let order = layout::get_order(size as u64, PAGE_SHIFT);
        if order > MAX_ORDER {
            return core::ptr::null_mut();
        }
        self.alloc_large(size, order, gfp)
    }

    /// `kmalloc()` of node `nid` (`None`: any) with any flags: the zone
    /// (`kmalloc_type()`: `__GFP_DMA` takes the `dma-kmalloc-*` classes, or
    /// `ZONE_DMA` pages, on a kernel with that zone, and means nothing on
    /// one without; `__GFP_DMA32` is not for kmalloc, and is dropped with a
    /// warning, as `kmalloc_fix_flags()`), then the class or large block,
    /// zeroed as the caches and the pool say.
    #[inline(never)]
    fn kmalloc_slow(&self, size: usize, gfp: Gfp, nid: Option<usize>) -> *mut u8 {
        let mut raw = gfp.raw();
        if raw & mm::GFP_DMA32 != 0 {
            pr_warn!("kmalloc: unexpected gfp {raw:#x} (__GFP_DMA32): fixed up\n");
            raw &= !mm::GFP_DMA32;
        }
        let dma = raw & mm::GFP_DMA != 0 && Zone::Dma.exists();
        if !dma {
            raw &= !mm::GFP_DMA;
        }
        let gfp = Gfp::from_raw(raw);
        let class = if dma {
            self.dma_cache_for(size)
        } else {
            self.cache_for(size)
        };
        self.alloc_in(class, size, gfp, nid)
    }

    /// `size` bytes from `class`, or a large block if there is none (a
    /// size above the classes), as `__do_kmalloc_node()` serves them.
    fn alloc_in(
        &self,
        class: Option<&Arc<Cache>>,
        size: usize,
        gfp: Gfp,
        nid: Option<usize>,
    ) -> *mut u8 {
        match class {
            Some(c) => c.alloc_node_sized(gfp, size as u32, nid) as *mut u8,
            None => self.alloc_large_any(size, gfp, nid),
        }
    }

    /// `kmalloc_node()`: [`Kmalloc::kmalloc`] of node `nid`'s memory
    /// (`None`: any); null for a node number past `nr_node_ids`.
    pub(crate) fn kmalloc_node(&self, size: usize, gfp: Gfp, nid: Option<usize>) -> *mut u8 {
        match (nid, size) {
            (None, _) => self.kmalloc(size, gfp),
            (_, 0) => ZERO_SIZE_PTR,
            _ => self.kmalloc_slow(size, gfp, nid),
        }
    }

    /// `kzalloc()`: zeroed up to `ksize()`.
    pub(crate) fn kzalloc(&self, size: usize, gfp: Gfp) -> *mut u8 {
        self.kmalloc(size, gfp.zeroed())
    }

    /// `kmalloc_array()`: `n * size` bytes, null if that overflows.
    pub(crate) fn kmalloc_array(&self, n: usize, size: usize, gfp: Gfp) -> *mut u8 {
        match n.checked_mul(size) {
            Some(bytes) => self.kmalloc(bytes, gfp),
            None => core::ptr::null_mut(),
        }
    }

    /// The page record of a live allocation `p`, at its head.
    ///
    /// # Safety
    ///
    /// `p` is a live allocation from this [`Kmalloc`] (or any rslab cache
    /// of its pool).
    unsafe fn record(&self, p: *const u8) -> Option<&SlabPage> {
        // SAFETY: the caller holds the allocation, so its page stays.
        unsafe { self.pool.record_of_addr(p) }
    }

    /// The start of the allocation (kmalloc object, object of any cache of
    /// this pool, or large block) that contains `p`, if any: what
    /// `kvfree_rcu()` frees, given the address of the `rcu_head` inside.
    ///
    /// # Safety
    ///
    /// The allocation holding `p`, if any, is live and not freed meanwhile.
    pub(crate) unsafe fn allocation_of(&self, p: *const u8) -> Option<*mut u8> {
        // SAFETY: the caller's guarantee.
        let rec = unsafe { self.record(p) }?;
        let head = rec.head_page();
        match head.owner() {
            Owner::Nobody | Owner::Pages => None,
            Owner::LargeKmalloc => Some(head.base()),
            Owner::Slab(cache) => {
                // SAFETY: a slab's owner is its live cache.
                let c = unsafe { cache.as_ref() };
                c.object_containing(head, p as usize).map(|o| o as *mut u8)
            }
        }
    }

    /// `kfree()`: frees what [`Kmalloc::kmalloc`] (or any rslab cache on this
    /// pool) gave. Null and [`ZERO_SIZE_PTR`] are ignored; an address that
    /// is none of rslab's is reported and ignored.
    ///
    /// # Safety
    ///
    /// `p` is null, [`ZERO_SIZE_PTR`], or a live allocation that is not used
    /// again.
    #[inline(never)]
    pub(crate) unsafe fn kfree(&self, p: *mut u8) {
        // SAFETY: the caller's guarantee.
        unsafe { self.kfree_inline(p) }
    }

    /// [`Kmalloc::kfree`] inline (the exported `rslab_kfree()` is it).
    ///
    /// # Safety
    ///
    /// As for [`Kmalloc::kfree`].
    #[inline(always)]
    pub(crate) unsafe fn kfree_inline(&self, p: *mut u8) {
        if (p as usize) <= ZERO_SIZE_PTR as usize {
            return;
        }
        // SAFETY: the caller's guarantee.
        let Some(rec) = (unsafe { self.record(p) }) else {
            return bad_kfree(p, "not rslab memory");
        };
        match rec.owner() {
            o @ (Owner::Nobody | Owner::Pages) => bad_kfree(
                p,
                if o == Owner::Pages {
                    "a block of pages (free it with __free_pages)"
                } else {
                    "not allocated"
                },
            ),
            // SAFETY: the caller's guarantee: `p` is live and being freed.
            Owner::LargeKmalloc => unsafe { self.free_large(rec.head_page(), p) },
            Owner::Slab(cache) => {
                // SAFETY: a slab's record names its live cache (type
                // invariant of `SlabPage`), and `rec.head_page()` is the
                // slab holding `p` (the record of `p`'s page, at its head);
                // the caller's guarantee covers `p`, which is not null.
                unsafe { cache.as_ref().free_in(rec.head_page(), p as usize) };
            }
        }
    }

    /// `ksize()`: the usable size of a live allocation (at least what was
    /// asked for). 0 for null and [`ZERO_SIZE_PTR`].
    ///
    /// # Safety
    ///
    /// As for [`Kmalloc::kfree`], except that `p` stays live.
    pub(crate) unsafe fn ksize(&self, p: *const u8) -> usize {
        if (p as usize) <= ZERO_SIZE_PTR as usize {
            return 0;
        }
        // SAFETY: the caller's guarantee.
        let Some(rec) = (unsafe { self.record(p) }) else {
            return 0;
        };
        match rec.owner() {
            Owner::Nobody | Owner::Pages => 0,
            Owner::LargeKmalloc => {
                // SAFETY: the caller holds `p`, so nobody frees its block.
                let order = unsafe { rec.head_page().block_order() };
                order.map_or(0, |order| PAGE_SIZE << order)
            }
            Owner::Slab(cache) => {
                // SAFETY: as in `kfree`.
                let c = unsafe { cache.as_ref() };
                // `slab_ksize()`.
                c.layout().ksize(c.has_ctor()) as usize
            }
        }
    }

    /// `krealloc()` (7.3's `__do_krealloc()`): resizes an allocation of
    /// rslab's kmalloc or of any rslab cache, keeping the contents up to the
    /// smaller size. In place while the new size fits the object (with the
    /// bytes past it zeroed for `__GFP_ZERO`, and red-zoned again on a
    /// kmalloc debug cache); else a new kmalloc allocation, and `p` freed.
    /// Null (with `p` untouched) if no memory could be had; size 0 frees `p`
    /// and returns [`ZERO_SIZE_PTR`].
    ///
    /// # Safety
    ///
    /// As for [`Kmalloc::kfree`].
    pub(crate) unsafe fn krealloc(&self, p: *mut u8, size: usize, gfp: Gfp) -> *mut u8 {
        if size == 0 {
            // SAFETY: the caller's guarantee.
            unsafe { self.kfree(p) };
            return ZERO_SIZE_PTR;
        }
        let mut ks = 0usize;
        let mut orig = 0usize;
        let mut cache = None;
        if (p as usize) > ZERO_SIZE_PTR as usize {
            // SAFETY: the caller's guarantee.
            match unsafe { self.record(p) }.map(|r| (r.owner(), r)) {
                Some((Owner::LargeKmalloc, r)) => {
                    // SAFETY: the caller holds `p`, so nobody frees it.
                    let order = unsafe { r.head_page().block_order() }.unwrap_or(0);
                    ks = PAGE_SIZE << order;
                    orig = ks;
                }
                Some((Owner::Slab(c), _)) => {
                    // SAFETY: a slab's owner is its live cache.
                    let c = unsafe { c.as_ref() };
                    ks = c.layout().object_size as usize;
                    // SAFETY: `p` is an object of `c` (its slab's record
                    // says so) that our caller holds (its guarantee), so its
                    // slab is kept.
                    orig = unsafe { c.get_orig_size(p as usize) } as usize;
                    cache = Some(c);
                }
                _ => return core::ptr::null_mut(),
            }
        }
        if size <= ks {
            if mm::want_init_on_alloc(gfp) {
                // SAFETY: `p` holds `ks` bytes, the caller's.
                unsafe {
                    if orig < size {
                        core::ptr::write_bytes(p.add(orig), 0, size - orig);
                    } else {
                        core::ptr::write_bytes(p.add(size), 0, ks - size);
                    }
                }
            }
            if let Some(c) = cache {
                // SAFETY: `p` is a live allocation the caller holds (its
                // guarantee) in a slab of `c` (its record's owner): an
                // object of `c`; the caller keeps only `size` bytes of it.
                unsafe { c.set_kmalloc_redzone(p as usize, size) };
            }
            return p;
        }
        let n = self.kmalloc(size, gfp);
        if n.is_null() {
            return n;
        }
        if ks > 0 {
            let keep = size.min(if orig > 0 { orig } else { ks });
            // SAFETY: `p` holds at least `keep` bytes, `n` at least `size`;
            // they are distinct allocations.
            unsafe { core::ptr::copy_nonoverlapping(p, n, keep) };
            // SAFETY: the caller's guarantee.
            unsafe { self.kfree(p) };
        }
        n
    }
}
