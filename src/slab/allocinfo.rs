// SPDX-License-Identifier: GPL-2.0
//! Allocation profiling per call site, as the kernel's `/proc/allocinfo`
//! (`CONFIG_MEM_ALLOC_PROFILING`) counts it: with the `allocinfo=1` module
//! parameter every cache rslab makes, and every large kmalloc, counts each
//! object it hands out against the code that asked for it (the first
//! return address outside rslab on the stack: the caller of the exported
//! API, as `_RET_IP_` of the kernel's entry points names it) and takes it
//! off again when the object is freed. Debugfs `allocinfo` lists the sites
//! with their live bytes and objects.
//!
//! Each object's site is kept in an array beside its slab (SLUB's
//! `slabobj_ext`), made with the slab's first counted object and freed
//! when the slab is discarded; a large kmalloc keeps it in its head
//! record. Counting
//! rides on the hooks of [`super::init`]: off (the default), no cache has
//! them and nothing here runs; on, each allocation and free walks the stack
//! once and updates two counters.
//!
//! The sites are a fixed open-addressed table, filled lock-free from any
//! context; a site that finds no free slot near its hash is not counted
//! (`dropped` in the file's header says how many allocations were not).

use super::{Cache, SlabPage};
use crate::{
    glue::{
        atomic::{Acquire, Atomic, Full, Relaxed},
        debug as kdebug, kmemleak,
    },
    logic::slab::layout,
};
use kernel::prelude::*;

/// Slots in the table (a power of two).
const NR_SITES: usize = 1024;
/// Slots a site looks at from its hash before it gives up.
const PROBES: usize = 32;

/// One call site: its code address (0: a free slot), and what it holds.
struct Site {
    addr: Atomic<usize>,
    bytes: Atomic<usize>,
    calls: Atomic<usize>,
}

impl Site {
    const fn new() -> Self {
        Site {
            addr: Atomic::new(0),
            bytes: Atomic::new(0),
            calls: Atomic::new(0),
        }
    }
}

/// The sites, module-wide (each module that compiles this has its own).
static SITES: [Site; NR_SITES] = [const { Site::new() }; NR_SITES];
/// Allocations not counted (no slot for their site).
static DROPPED: Atomic<usize> = Atomic::new(0);
/// Whether caches made from now on count (the `allocinfo=` parameter).
static ENABLED: Atomic<u32> = Atomic::new(0);

/// Makes the caches made from now on count their objects, or not.
pub(crate) fn enable(on: bool) {
    ENABLED.store(u32::from(on), Relaxed);
}

/// Whether caches made now count their objects.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Relaxed) != 0
}

/// The slot of the site at `addr`, taken if it is new; `None` if the
/// table is full around its hash, or for no site (0: the stack walk found
/// no caller; 0 marks a free slot).
fn slot(addr: usize) -> Option<usize> {
    if addr == 0 {
        return None;
    }
    let h =
        (addr as u64 >> 2).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - NR_SITES.trailing_zeros());
    for i in 0..PROBES {
        let s = (h as usize + i) % NR_SITES;
        match SITES[s].addr.load(Relaxed) {
            a if a == addr => return Some(s),
            0 => match SITES[s].addr.cmpxchg(0, addr, Relaxed) {
                Ok(_) => return Some(s),
                Err(a) if a == addr => return Some(s),
                Err(_) => {}
            },
            _ => {}
        }
    }
    None
}

/// Counts `bytes` handed out now to the caller of rslab; returns the tag
/// to keep with them (0: not counted).
pub(crate) fn account(bytes: usize) -> u32 {
    let addr = kdebug::caller_addr();
    match slot(addr) {
        Some(s) => {
            SITES[s].bytes.add(bytes, Relaxed);
            SITES[s].calls.add(1, Relaxed);
            s as u32 + 1
        }
        None => {
            DROPPED.add(1, Relaxed);
            0
        }
    }
}

/// Takes `bytes` counted under `tag` (from [`account`]) off again.
pub(crate) fn unaccount(tag: u32, bytes: usize) {
    if let Some(s) = (tag as usize).checked_sub(1).and_then(|s| SITES.get(s)) {
        s.bytes.fetch_sub(bytes, Relaxed);
        s.calls.fetch_sub(1, Relaxed);
    }
}

/// Each site that ever counted something, with its live bytes and
/// objects: `f(addr, bytes, calls)`.
pub(crate) fn for_each(mut f: impl FnMut(usize, usize, usize)) {
    for s in SITES.iter() {
        let addr = s.addr.load(Relaxed);
        if addr != 0 {
            f(addr, s.bytes.load(Relaxed), s.calls.load(Relaxed));
        }
    }
}

/// Allocations that were not counted.
pub(crate) fn dropped() -> usize {
    DROPPED.load(Relaxed)
}

/// A slab's tags (SLUB's `slabobj_ext` array): one per object, 0 for an
/// object not counted, behind a word that holds their number.
pub(super) struct Exts;

impl Exts {
    /// A zeroed array of `n` tags; null if no memory could be had (then
    /// the objects are not counted).
    pub(super) fn alloc(n: usize) -> *mut Atomic<u32> {
        let Ok(mut v) = KVec::with_capacity(n + 1, GFP_NOWAIT | __GFP_NOWARN) else {
            return core::ptr::null_mut();
        };
        for i in 0..=n {
            // Capacity reserved above: never fails. The first word is `n`.
            let _ = v.push(Atomic::new(if i == 0 { n as u32 } else { 0 }), GFP_NOWAIT);
        }
        let p = v.into_raw_parts().0;
        // Only the slab's record, which kmemleak does not scan, refers to
        // it; it holds no pointers.
        kmemleak::ignore(p.cast_const().cast());
        p
    }

    /// Object `idx`'s tag in `exts`, if it has one.
    ///
    /// # Safety
    ///
    /// `exts` is null or from [`Exts::alloc`], not yet freed.
    pub(super) unsafe fn get<'a>(exts: *mut Atomic<u32>, idx: usize) -> Option<&'a Atomic<u32>> {
        // SAFETY: the caller's guarantee: `exts` is null or a live array
        // whose first word is the number of tags that follow.
        let n = unsafe { exts.as_ref() }?.load(Relaxed) as usize;
        // SAFETY: as above; `idx < n`, so `idx + 1` is in the array.
        (idx < n).then(|| unsafe { &*exts.add(idx + 1) })
    }

    /// Frees `exts` (null: nothing).
    ///
    /// # Safety
    ///
    /// `exts` is null or from [`Exts::alloc`], and nobody uses it any more.
    pub(super) unsafe fn free(exts: *mut Atomic<u32>) {
        // SAFETY: the caller's guarantee.
        let Some(first) = (unsafe { exts.as_ref() }) else {
            return;
        };
        let n = first.load(Relaxed) as usize + 1;
        // SAFETY: `exts` came from a `KVec` of `n` elements and capacity
        // `n` (`Exts::alloc`), whose ownership the caller gives back.
        drop(unsafe { KVec::from_raw_parts(exts, n, n) });
    }
}

impl SlabPage {
    /// Object `idx`'s tag, if the slab has tags.
    fn exts_tag(&self, idx: usize) -> Option<&Atomic<u32>> {
        // SAFETY: `exts` is null or the slab's live array: it is freed only
        // when the slab goes (`SlabPage::release`), which it does not while
        // our caller holds one of its objects.
        unsafe { Exts::get(self.exts.load(Acquire), idx) }
    }

    /// Object `idx`'s tag, the slab's tags made first if it has none
    /// (`None` if no memory could be had for them).
    fn exts_tag_or_new(&self, idx: usize, objects: usize) -> Option<&Atomic<u32>> {
        if self.exts.load(Acquire).is_null() {
            let new = Exts::alloc(objects);
            if new.is_null() {
                return None;
            }
            if self.exts.cmpxchg(core::ptr::null_mut(), new, Full).is_err() {
                // Another CPU's came first.
                // SAFETY: `new` is ours alone, never published.
                unsafe { Exts::free(new) };
            }
        }
        self.exts_tag(idx)
    }

    /// Frees the slab's tags, if it has any.
    ///
    /// # Safety
    ///
    /// The slab has no object in use and none is taken from it any more
    /// (it is being discarded): nobody reads its tags.
    pub(super) unsafe fn free_exts(&self) {
        let exts = self.exts.xchg(core::ptr::null_mut(), Relaxed);
        if !exts.is_null() {
            // SAFETY: the caller's guarantee; taken out of the record above.
            unsafe { Exts::free(exts) };
        }
    }

    /// A large kmalloc head's tag.
    pub(crate) fn large_tag(&self) -> &Atomic<u32> {
        &self.tag
    }
}

impl Cache {
    /// Counts `o`, an object just allocated, against its caller.
    ///
    /// # Safety
    ///
    /// `o` is an object of this cache just allocated, not yet handed to
    /// anyone (so its slab stays).
    #[inline(never)]
    pub(super) unsafe fn profile_alloc(&self, o: usize) {
        // SAFETY: we hold `o` (the caller's guarantee), so its slab stays.
        let Some(slab) = (unsafe { self.slab_of(o) }) else {
            return;
        };
        let idx = layout::obj_index(o.wrapping_sub(slab.base() as usize), self.recip);
        let objects = slab.counters().objects() as usize;
        match slab.exts_tag_or_new(idx, objects) {
            Some(t) => t.store(account(self.layout.size as usize), Relaxed),
            None => DROPPED.add(1, Relaxed),
        }
    }

    /// Takes `o`, an object being freed, off its caller's count.
    ///
    /// # Safety
    ///
    /// `o` is an object of this cache that its owner is freeing (so its
    /// slab stays until it is freed).
    #[inline(never)]
    pub(super) unsafe fn profile_free(&self, o: usize) {
        // SAFETY: the caller's guarantee.
        let Some(slab) = (unsafe { self.slab_of(o) }) else {
            return;
        };
        let idx = layout::obj_index(o.wrapping_sub(slab.base() as usize), self.recip);
        if let Some(t) = slab.exts_tag(idx) {
            unaccount(t.xchg(0, Relaxed), self.layout.size as usize);
        }
    }
}
