// SPDX-License-Identifier: GPL-2.0
//! The fast paths: `slab_alloc_node()` and `do_slab_free()`, lockless on
//! the CPU's freelist with its transaction id (see the lock order in
//! `src/slab.rs`), and the object-to-slab lookup of a free.

#[cfg(target_arch = "x86_64")]
use super::CpuSlab;
use super::{Cache, Owner, SlabPage, SlabStat};
#[cfg(target_arch = "x86_64")]
use crate::glue::dword;
use crate::{
    glue::{atomic::Relaxed, gfp::Gfp, percpu::IrqsOff},
    logic::slab::layout,
};
use core::ptr::NonNull;

/// Whether `off`, an offset below the size of `slab`'s pages (at most
/// `MAX_ORDER` of them), is that of one of its object slots (of `size`
/// bytes, `recip` their [`layout::obj_reciprocal`]).
#[inline(always)]
fn is_slot(slab: &SlabPage, off: usize, recip: u64, size: usize) -> bool {
    let idx = layout::obj_index(off, recip);
    idx.wrapping_mul(size) == off && idx < slab.counters().objects() as usize
}

/// A cache's object geometry ([`Cache::geometry`]), copied out of it for a
/// loop over many objects whose calls (reports, hooks) would otherwise have
/// the compiler read the cache's fields again for each.
#[derive(Clone, Copy)]
pub(super) struct Geometry {
    recip: u64,
    size: usize,
    /// The size of a slab of the cache's order.
    slab_bytes: usize,
}

impl Geometry {
    /// The bytes of `slab`'s object slots, from its base.
    #[inline(always)]
    pub(super) fn span(&self, slab: &SlabPage) -> usize {
        (slab.counters().objects() as usize).wrapping_mul(self.size)
    }

    /// Whether `obj` is an object slot of `slab` (a slab of the cache, its
    /// first object at `base`): within the pages of the cache's order from
    /// `base` (a slab of a lower order has fewer objects, which the last
    /// test counts), at an object's offset.
    #[inline(always)]
    pub(super) fn is_object_of(&self, slab: &SlabPage, base: usize, obj: usize) -> bool {
        let off = obj.wrapping_sub(base);
        off < self.slab_bytes && is_slot(slab, off, self.recip, self.size)
    }
}

impl Cache {
    /// This cache as a page owner.
    pub(super) fn as_owner(&self) -> Owner {
        Owner::Slab(NonNull::from(self))
    }

    /// The slab `obj` belongs to, if it is an object of this cache:
    /// `virt_to_slab()` plus `cache_from_obj()`'s check, in O(1) without
    /// a division (`obj_to_index()`'s reciprocal multiply).
    ///
    /// # Safety
    ///
    /// The slab holding `obj`, if any, is not discarded while the reference
    /// is used: the caller holds `obj` (is freeing it).
    #[inline(always)]
    pub(super) unsafe fn slab_of(&self, obj: usize) -> Option<&SlabPage> {
        // SAFETY: the caller holds `obj`, so its slab (and page) stays.
        let page = unsafe { self.pool.record_of_addr(obj as *const u8) }?;
        let slab = page.head_page();
        // A plain read suffices: the caller got `obj` after the slab was
        // claimed for this cache (through the freelists' exchanges and
        // locks, which order the claim's stores before it).
        if !slab.is_owned_here_by(self.as_owner()) {
            return None;
        }
        self.is_object_of(slab, obj).then_some(slab)
    }

    /// The slab of `obj`, an object a user frees, if it is a slab of this
    /// cache. Whether `obj` starts one of its slots is checked only where
    /// [`Cache::slab_of`] is wanted (`check_slot`: a hardened or debug
    /// cache); elsewhere it is trusted, as 7.3's `cache_from_obj()` trusts
    /// the whole object without `CONFIG_SLAB_FREELIST_HARDENED`. An address
    /// outside the slabs of this cache is always found out.
    ///
    /// # Safety
    ///
    /// As for [`Cache::slab_of`].
    #[inline(always)]
    pub(super) unsafe fn slab_of_freed(&self, obj: usize) -> Option<&SlabPage> {
        if self.check_slot {
            // SAFETY: the caller's guarantee.
            return unsafe { self.slab_of(obj) };
        }
        // SAFETY: the caller holds `obj`, so its slab (and page) stays.
        let page = unsafe { self.pool.record_of_addr(obj as *const u8) }?;
        let slab = page.head_page();
        // A plain read suffices, as in `slab_of`.
        slab.is_owned_here_by(self.as_owner()).then_some(slab)
    }

    /// Whether `obj`, an address in the pages of `slab` (a slab of this
    /// cache), is the start of one of its object slots.
    #[inline(always)]
    pub(super) fn is_object_of(&self, slab: &SlabPage, obj: usize) -> bool {
        // `obj` lies in the slab's pages (its page has the slab's record),
        // so `off` is below the slab's size (at most `MAX_ORDER` pages).
        let off = obj.wrapping_sub(slab.base() as usize);
        is_slot(slab, off, self.recip, self.layout.size as usize)
    }

    /// The geometry of this cache's objects, read once for a loop over many.
    #[inline(always)]
    pub(super) fn geometry(&self) -> Geometry {
        Geometry {
            recip: self.recip,
            size: self.layout.size as usize,
            slab_bytes: self.order_bytes(),
        }
    }

    /// The bytes of a slab of the cache's order (a slab of a lower order,
    /// made when memory was short, has fewer).
    #[inline(always)]
    pub(super) fn order_bytes(&self) -> usize {
        (1usize << kernel::bindings::PAGE_SHIFT) << (self.layout.order % 32)
    }

    /// The object of `slab` (a slab of this cache) that contains `addr`
    /// (`nearest_obj()`), if `addr` lies in one.
    pub(crate) fn object_containing(&self, slab: &SlabPage, addr: usize) -> Option<usize> {
        let base = slab.base() as usize;
        let off = addr.checked_sub(base)?;
        let idx = layout::obj_index(off, self.recip);
        (idx < slab.counters().objects() as usize)
            .then(|| base.wrapping_add(idx.wrapping_mul(self.layout.size as usize)))
    }

    /// `kfree()`'s part for a slab object: frees `obj`, whose page's head
    /// record is `slab`, a slab of this cache; reports it if `obj` is not
    /// an object's address.
    ///
    /// # Safety
    ///
    /// `obj` came from this cache and is not used (or freed) again, and
    /// `slab` is the head record of the page that holds it (its slab, which
    /// stays while the caller holds `obj`).
    #[inline(always)]
    pub(crate) unsafe fn free_in(&self, slab: &SlabPage, obj: usize) {
        if !self.is_object_of(slab, obj) {
            // SAFETY: the caller is freeing `obj`, so it holds it.
            return unsafe { self.bad_free(obj) };
        }
        // SAFETY: `slab` is the slab holding `obj` (our caller's guarantee),
        // a slab of this cache, and `obj` an object of it (checked), being
        // freed.
        unsafe { self.free_checked(slab, obj) }
    }

    /// Whether `p` is the address of an object slot of this cache (free or
    /// not) in one of its slabs.
    ///
    /// # Safety
    ///
    /// The slab holding `p`, if any, is not discarded meanwhile: the caller
    /// holds an object of it.
    #[cfg(rslab_kunit)]
    pub(crate) unsafe fn contains(&self, p: *const u8) -> bool {
        // SAFETY: the caller's guarantee.
        unsafe { self.slab_of(p as usize) }.is_some()
    }

    /// `kmem_cache_alloc()`: an object, or `None` if no memory could be had
    /// (with `gfp` deciding whether to sleep for it). Out of line, as the
    /// kernel's is; the fast path inside makes no call.
    #[inline(never)]
    pub(crate) fn alloc(&self, gfp: Gfp) -> Option<NonNull<u8>> {
        NonNull::new(self.alloc_sized(gfp, self.layout.object_size) as *mut u8)
    }

    /// [`Cache::alloc`] for a kmalloc request of `orig_size` bytes (which a
    /// kmalloc debug cache records, red-zoning the rest): 0 if no object
    /// could be had. Zeroed as [`Cache::post_alloc`] says.
    #[inline(always)]
    pub(crate) fn alloc_sized(&self, gfp: Gfp, orig_size: u32) -> usize {
        match self.sheaves() {
            Some(_) => self.sheaf_alloc(gfp, true),
            None => self.slab_alloc_node(gfp, orig_size, None, true),
        }
    }

    /// [`Cache::alloc_sized`] for flags the cache's initialisation policy
    /// does nothing for (`gfp.bits() & self.init_mask() == 0`, which the
    /// caller tested): the kmalloc fast path, without a second init test.
    #[inline(always)]
    pub(crate) fn alloc_uninit(&self, gfp: Gfp, orig_size: u32) -> usize {
        debug_assert!(!self.init.wants_init(gfp.bits()));
        match self.sheaves() {
            Some(_) => self.sheaf_alloc(gfp, false),
            None => self.slab_alloc_node(gfp, orig_size, None, false),
        }
    }

    /// `kmem_cache_alloc_node()`: an object on node `nid` (`None`: any, as
    /// [`Cache::alloc`]). The fast path serves it when the CPU slab is of
    /// node `nid` (`node_match()`); otherwise the slow path deactivates the
    /// CPU slab (`alloc_node_mismatch`) and takes node `nid`'s partial
    /// slabs, others' unless `__GFP_THISNODE`, or a new slab of that node's
    /// pages. `None` for a node number past `nr_node_ids`, or without
    /// memory. Out of line, as the kernel's; no call inside but to a slow
    /// path.
    #[inline(never)]
    pub(crate) fn alloc_node(&self, gfp: Gfp, nid: Option<usize>) -> Option<NonNull<u8>> {
        NonNull::new(self.alloc_node_sized(gfp, self.layout.object_size, nid) as *mut u8)
    }

    /// [`Cache::alloc_node`] for a kmalloc request of `orig_size` bytes
    /// (which a kmalloc debug cache records): 0 if no object could be had.
    #[inline(always)]
    pub(crate) fn alloc_node_sized(&self, gfp: Gfp, orig_size: u32, nid: Option<usize>) -> usize {
        match nid {
            Some(n) if n >= self.nodes.len() => 0,
            _ => match self.sheaves() {
                Some(_) => self.sheaf_alloc_node(gfp, nid, true),
                None => self.slab_alloc_node(gfp, orig_size, nid, true),
            },
        }
    }

    /// `slab_alloc_node()` for any node, not initialised (for the cache's
    /// own use: refills, fallbacks whose object the caller initialises).
    #[inline(always)]
    pub(super) fn slab_alloc(&self, gfp: Gfp, orig_size: u32) -> usize {
        self.slab_alloc_node(gfp, orig_size, None, false)
    }

    /// `slab_alloc_node()`: the fast path, for an object of any node
    /// (`node` `None`) or of node `node`, checked against the CPU slab's
    /// node as `node_match()` does. It makes no call but to the slow path:
    /// this CPU's `(freelist, tid)` is read and exchanged `%gs:`-relative on
    /// x86_64 (`this_cpu_cmpxchg_double()`), and taken with interrupts off
    /// elsewhere (the generic `this_cpu` way). With `init` (a constant at
    /// each call) the object is initialised ([`Cache::post_alloc`]) by a
    /// tail call on each path, so nothing stays live across a call.
    #[inline(always)]
    pub(super) fn slab_alloc_node(
        &self,
        gfp: Gfp,
        orig_size: u32,
        node: Option<usize>,
        init: bool,
    ) -> usize {
        self.alloc_fast_or(gfp, orig_size, node, init, || {
            self.slab_alloc_slow(gfp, orig_size, node, init)
        })
    }

    /// [`Cache::slab_alloc_node`]'s fast path, with `slow` for what it
    /// cannot serve (its result returned as it is: a tail call).
    #[inline(always)]
    pub(super) fn alloc_fast_or(
        &self,
        gfp: Gfp,
        orig_size: u32,
        node: Option<usize>,
        init: bool,
        slow: impl FnOnce() -> usize,
    ) -> usize {
        #[cfg(target_arch = "x86_64")]
        if dword::lock_free() {
            loop {
                // `barrier()`: the tid is read before the freelist, so that
                // a change in between shows as a changed tid. The task may
                // move to another CPU between any two of these reads: then
                // the tid, which encodes its CPU, fails the exchange.
                let [tid, object, slab] = self.this_cpu_words::<
                    { Word::Tid as usize },
                    { Word::Freelist as usize },
                    { Word::Slab as usize },
                >();
                // `node_match()`: the CPU slab's node is kept beside it (a
                // stale pair of reads fails the exchange, as the slab's
                // change came with a new tid).
                if object == 0
                    || slab == 0
                    || node.is_some_and(|n| n != self.this_cpu_word(Word::Node))
                {
                    return slow();
                }
                // SAFETY: `object` was on a CPU freelist of this cache; if
                // it was handed out meanwhile the value read is stale and
                // the exchange below fails (`get_freepointer_safe()`).
                let next = unsafe { self.get_fp_nocheck(object) };
                // SAFETY: `dword::lock_free()`, tested above.
                if unsafe { self.this_cpu_cmpxchg((object, tid), (next, self.next_tid(tid))) } {
                    self.stats.inc(SlabStat::AllocFastpath as usize);
                    // SAFETY: `object` is ours now, handed to nobody yet.
                    return unsafe { self.post_alloc_if(init, object, gfp, orig_size) };
                }
                self.stats.inc(SlabStat::CmpxchgDoubleCpuFail as usize);
            }
        }
        // SAFETY: dropped by the end of this block, inside every interrupts-off
        // guard live now (sections nest).
        let irq = unsafe { IrqsOff::new() };
        let c = self.cpus.this(&irq);
        let object = c.pair.first_local();
        if object == 0
            || c.slab.load(Relaxed).is_null()
            || node.is_some_and(|n| n != c.node.load(Relaxed))
        {
            drop(irq);
            return slow();
        }
        // SAFETY: `object` is on this CPU's freelist of its frozen slab, and
        // interrupts are off: it is ours to take.
        let next = unsafe { self.get_fp(object) };
        c.pair.set_this_cpu(next, self.next_tid(c.pair.second()));
        self.stats
            .add_irqs_off(&irq, SlabStat::AllocFastpath as usize, 1);
        drop(irq);
        // SAFETY: `object` is ours now, handed to nobody yet.
        unsafe { self.post_alloc_if(init, object, gfp, orig_size) }
    }

    /// `kmem_cache_free()`. An address outside this cache's slabs is
    /// reported and ignored; one inside an object, on a hardened or debug
    /// cache (see [`Cache::slab_of_freed`]).
    ///
    /// # Safety
    ///
    /// `obj` came from this cache and is not used (or freed) again.
    #[inline(never)]
    pub(crate) unsafe fn free(&self, obj: NonNull<u8>) {
        // SAFETY: the caller's guarantee.
        unsafe { self.free_inline(obj) }
    }

    /// [`Cache::free`] inline (the exported `rslab_cache_free()` is it).
    ///
    /// # Safety
    ///
    /// As for [`Cache::free`].
    #[inline(always)]
    pub(crate) unsafe fn free_inline(&self, obj: NonNull<u8>) {
        let o = obj.as_ptr() as usize;
        // SAFETY: the caller is freeing `obj`, so it holds it.
        match unsafe { self.slab_of_freed(o) } {
            // SAFETY: `o` is an object of `slab` of this cache (checked, or
            // the caller's guarantee), being freed.
            Some(slab) => unsafe { self.free_checked(slab, o) },
            // SAFETY: the caller is freeing `o`, so it holds it.
            None => unsafe { self.bad_free(o) },
        }
    }

    /// Reports a free of `o`, which is not an object of this cache.
    ///
    /// # Safety
    ///
    /// The caller holds the allocation that contains `o`, if it is in the
    /// pool (`o` is what it is freeing), so that its page stays.
    #[cold]
    #[inline(never)]
    pub(super) unsafe fn bad_free(&self, o: usize) {
        if self.is_debug() {
            // SAFETY: our caller's guarantee.
            return unsafe { self.debug_bad_free(o) };
        }
        self.report(format_args!(
            "bad free of {o:#x}: not an object of this cache"
        ));
    }

    #[cold]
    #[inline(never)]
    fn double_free(&self, o: usize) {
        // CONFIG_SLAB_FREELIST_HARDENED's naive double-free check.
        self.report(format_args!("double free of {o:#x}"));
    }

    /// `do_slab_free()`: frees the detached list `head..tail` of `cnt`
    /// objects of `slab`: onto the CPU freelist if `slab` is the CPU slab
    /// (the fast path, without calls as in [`Cache::slab_alloc`]), else
    /// `__slab_free()`.
    ///
    /// # Safety
    ///
    /// `slab` is a slab of this cache, and `head..tail` a detached freelist
    /// of `cnt` objects of `slab` (`cnt >= 1`): `head` linked through the
    /// objects' free pointers to `tail`, whose free pointer this overwrites.
    /// The caller gives the objects up: they were allocated, nobody uses
    /// them any more, and no other list holds them.
    #[inline(always)]
    pub(super) unsafe fn do_slab_free(&self, slab: &SlabPage, head: usize, tail: usize, cnt: u32) {
        // SAFETY: our caller's guarantee, passed on whole (to the slow path
        // too).
        unsafe {
            self.free_fast_or(slab, head, tail, || {
                self.slab_free_slow(slab, head, tail, cnt)
            })
        }
    }

    /// [`Cache::do_slab_free`]'s fast path, with `slow` for a list it
    /// cannot take (not of the CPU slab), which then gets the list.
    ///
    /// # Safety
    ///
    /// As for [`Cache::do_slab_free`]; `slow` takes the list over as
    /// [`Cache::slab_free_slow`] does.
    #[inline(always)]
    pub(super) unsafe fn free_fast_or(
        &self,
        slab: &SlabPage,
        head: usize,
        tail: usize,
        slow: impl FnOnce(),
    ) {
        #[cfg(target_arch = "x86_64")]
        if dword::lock_free() {
            loop {
                // The tid first (`barrier()`), as above.
                let [tid, cpu_slab, freelist] = self.this_cpu_words::<
                    { Word::Tid as usize },
                    { Word::Slab as usize },
                    { Word::Freelist as usize },
                >();
                if cpu_slab != slab.as_link() as usize {
                    return slow();
                }
                if freelist == head {
                    return self.double_free(head);
                }
                // SAFETY: `tail` is an object of this cache that the caller
                // gave up (the end of its detached list): ours to link.
                unsafe { self.set_fp(tail, freelist) };
                // Ordering: only the CPU a freelist belongs to takes objects
                // off it (a flush runs on that CPU, or after it died), so
                // the free pointer written above is ordered before any read
                // of it by program order on that CPU; the exchange, on this
                // CPU's pair, fails if the task moved.
                // SAFETY: `dword::lock_free()`, tested above.
                if unsafe { self.this_cpu_cmpxchg((freelist, tid), (head, self.next_tid(tid))) } {
                    self.stats.inc(SlabStat::FreeFastpath as usize);
                    return;
                }
                self.stats.inc(SlabStat::CmpxchgDoubleCpuFail as usize);
            }
        }
        // SAFETY: dropped by the end of this block, inside every interrupts-off
        // guard live now (sections nest).
        let irq = unsafe { IrqsOff::new() };
        let c = self.cpus.this(&irq);
        if c.slab.load(Relaxed) != slab.as_link() {
            drop(irq);
            return slow();
        }
        let freelist = c.pair.first_local();
        if freelist == head {
            drop(irq);
            return self.double_free(head);
        }
        // SAFETY: `tail` is an object of this cache that the caller gave up
        // (the end of its detached list): ours to link.
        unsafe { self.set_fp(tail, freelist) };
        c.pair.set_this_cpu(head, self.next_tid(c.pair.second()));
        self.stats
            .add_irqs_off(&irq, SlabStat::FreeFastpath as usize, 1);
    }
}

#[cfg(target_arch = "x86_64")]
impl Cache {
    /// `this_cpu_read()` of a word of this CPU's `CpuSlab`.
    #[inline(always)]
    fn this_cpu_word(&self, w: Word) -> usize {
        // SAFETY: a `Word` is the offset of an atomic word field of
        // `CpuSlab`.
        unsafe { self.cpus.this_cpu_read(w as usize) }
    }

    /// [`this_cpu_read3`](crate::glue::percpu::PerCpu::this_cpu_read3) of three [`Word`]s of this CPU's
    /// `CpuSlab`, read in the order given.
    #[inline(always)]
    fn this_cpu_words<const A: usize, const B: usize, const C: usize>(&self) -> [usize; 3] {
        // SAFETY: each is a `Word`: the offset of an atomic word field of
        // `CpuSlab`.
        unsafe { self.cpus.this_cpu_read3::<A, B, C>() }
    }

    /// `this_cpu_cmpxchg_double()` of this CPU's `(freelist, tid)`.
    ///
    /// # Safety
    ///
    /// `dword::lock_free()`: the CPU has `cmpxchg16b`.
    #[inline(always)]
    unsafe fn this_cpu_cmpxchg(&self, old: (usize, usize), new: (usize, usize)) -> bool {
        // SAFETY: `pair` is a 16-byte aligned pair of atomic words
        // (`DWord`) that only its CPU writes (type invariant of `CpuSlab`);
        // the CPU has `cmpxchg16b` (our caller's guarantee).
        unsafe {
            self.cpus
                .this_cpu_cmpxchg16b(Word::Freelist as usize, old, new)
        }
    }
}

/// The words of `CpuSlab` the `%gs:`-relative accesses read, as their
/// offsets.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
#[repr(usize)]
enum Word {
    /// The freelist, `pair`'s first word.
    Freelist = core::mem::offset_of!(CpuSlab, pair),
    /// The transaction id, `pair`'s second word.
    Tid = core::mem::offset_of!(CpuSlab, pair) + core::mem::size_of::<usize>(),
    /// The CPU slab.
    Slab = core::mem::offset_of!(CpuSlab, slab),
    /// The CPU slab's node.
    Node = core::mem::offset_of!(CpuSlab, node),
}
