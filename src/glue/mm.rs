// SPDX-License-Identifier: GPL-2.0
//! What the kernel's page and slab allocators promise about memory, read
//! from the running kernel: the `init_on_alloc`/`init_on_free` boot
//! settings (`want_init_on_alloc()`, `want_init_on_free()`), a page's
//! reference count (`page_count()`, `set_page_count()`,
//! `put_page_testzero()`), and the zones (`gfp_zone()`). Inline: no call,
//! so the fast paths may use it.

use super::{
    atomic::{Atomic, Full, Relaxed},
    gfp::Gfp,
};
use kernel::bindings;

/// Whether a static key of the kernel's is on (`static_key_enabled()`),
/// read from its count.
///
/// # Safety
///
/// `enabled` is the `enabled` count of a live `struct static_key`.
unsafe fn key_on(enabled: *const bindings::atomic_t) -> bool {
    // SAFETY: the caller's guarantee; `atomic_t` is an aligned `int` that
    // the kernel only changes atomically.
    unsafe { Atomic::<i32>::from_ptr(core::ptr::addr_of!((*enabled).counter).cast_mut()) }
        .load(Relaxed)
        > 0
}

/// `init_on_alloc=` (or `CONFIG_INIT_ON_ALLOC_DEFAULT_ON`): every
/// allocation is zeroed. Set at boot, never changed afterwards.
pub(crate) fn init_on_alloc() -> bool {
    // SAFETY: `init_on_alloc` is the kernel's exported static key
    // (`static_key_false` or `static_key_true`, both a `struct static_key`
    // named `key`), alive for as long as the kernel runs.
    unsafe { key_on(core::ptr::addr_of!(bindings::init_on_alloc.key.enabled)) }
}

/// `init_on_free=` (or `CONFIG_INIT_ON_FREE_DEFAULT_ON`): every free zeroes
/// the memory. Set at boot, never changed afterwards.
pub(crate) fn init_on_free() -> bool {
    // SAFETY: as in `init_on_alloc`.
    unsafe { key_on(core::ptr::addr_of!(bindings::init_on_free.key.enabled)) }
}

/// `want_init_on_alloc(gfp)`: whether memory allocated with `gfp` must be
/// zeroed (`__GFP_ZERO`, or `init_on_alloc`).
pub(crate) fn want_init_on_alloc(gfp: Gfp) -> bool {
    gfp.zero() || init_on_alloc()
}

/// The reference count of `page` (`page_ref_count()`).
///
/// # Safety
///
/// `page` is a valid `struct page`.
#[inline(always)]
pub(crate) unsafe fn page_count(page: *mut bindings::page) -> i32 {
    // SAFETY: the caller's guarantee; `_refcount` is only changed
    // atomically.
    unsafe { refcount(page) }.load(Relaxed)
}

/// `set_page_count(page, v)` (without the `page_ref` tracepoint).
///
/// # Safety
///
/// `page` is a valid `struct page` whose count its owner, the caller, may
/// set: nobody else holds a reference the new count forgets.
#[inline(always)]
pub(crate) unsafe fn set_page_count(page: *mut bindings::page, v: i32) {
    // SAFETY: the caller's guarantee.
    unsafe { refcount(page) }.store(v, Relaxed);
}

/// Clears `page`'s index and private words (`post_alloc_hook()`'s
/// `set_page_private(page, 0)`, and the index): a block's first page that
/// gets a reference is read by kmemleak's scan of `struct page`s, where a
/// word left from the page's last owner (a kernel slab's `freelist`, at the
/// index) could point into the block and hide its leak.
///
/// # Safety
///
/// `page` is a valid `struct page` of a block the caller owns, which no
/// mapping, page cache or other user of those words holds.
#[inline(always)]
pub(crate) unsafe fn clear_stale(page: *mut bindings::page) {
    // SAFETY: the caller's guarantee: `page` is valid, and the words are
    // its owner's, the caller's (plain stores, as `set_page_private()`).
    unsafe {
        let w = core::ptr::addr_of_mut!((*page).__bindgen_anon_1.__bindgen_anon_1);
        core::ptr::addr_of_mut!((*w).__bindgen_anon_2.__folio_index).write(0);
        core::ptr::addr_of_mut!((*w).private).write(0);
    }
}

/// `put_page_testzero()`: drops a reference; true if it was the last.
///
/// # Safety
///
/// `page` is a valid `struct page` the caller holds a reference on.
#[inline(always)]
pub(crate) unsafe fn put_page_testzero(page: *mut bindings::page) -> bool {
    // SAFETY: the caller's guarantee. (`atomic_dec_and_test()`: fully
    // ordered, so everything done with the page before happens before
    // whatever the last holder does next.)
    unsafe { refcount(page) }.fetch_sub(1, Full) == 1
}

/// `page_ref_freeze(page, count)`: sets the count to 0 if it is `count`;
/// true if it was (the caller then holds the only reference there was).
///
/// # Safety
///
/// `page` is a valid `struct page`.
#[inline(always)]
pub(crate) unsafe fn page_ref_freeze(page: *mut bindings::page, count: i32) -> bool {
    // SAFETY: the caller's guarantee.
    unsafe { refcount(page) }.cmpxchg(count, 0, Full).is_ok()
}

/// The atomic view of `page->_refcount`.
///
/// # Safety
///
/// `page` is a valid `struct page`.
#[inline(always)]
unsafe fn refcount<'a>(page: *mut bindings::page) -> &'a Atomic<i32> {
    // SAFETY: the caller's guarantee; `_refcount` is an aligned `int` that
    // the kernel only changes atomically.
    unsafe { Atomic::from_ptr(core::ptr::addr_of_mut!((*page)._refcount.counter)) }
}

/// The kernel's memory zones a pool keeps apart, as `gfp_zone()` picks
/// them. Only those the kernel has (`CONFIG_ZONE_DMA`, `CONFIG_ZONE_DMA32`)
/// are ever returned by [`Zone::of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Zone {
    /// `ZONE_NORMAL` (and what the kernel's zonelist falls back to from it).
    Normal = 0,
    /// `ZONE_DMA32`: below 4 GiB.
    Dma32 = 1,
    /// `ZONE_DMA`: the lowest memory (16 MiB on x86_64).
    Dma = 2,
}

/// `__GFP_DMA`.
pub(crate) const GFP_DMA: u32 = 1 << bindings::___GFP_DMA_BIT;
/// `__GFP_DMA32`.
pub(crate) const GFP_DMA32: u32 = 1 << bindings::___GFP_DMA32_BIT;
/// `__GFP_COMP`.
pub(crate) const GFP_COMP: u32 = 1 << bindings::___GFP_COMP_BIT;

impl Zone {
    /// Whether the kernel has this zone.
    pub(crate) const fn exists(self) -> bool {
        match self {
            Zone::Normal => true,
            Zone::Dma32 => cfg!(CONFIG_ZONE_DMA32),
            Zone::Dma => cfg!(CONFIG_ZONE_DMA),
        }
    }

    /// `gfp_zone()`: the zone a request with `gfp` is for (`__GFP_DMA`
    /// first, as `GFP_ZONE_TABLE` has it; a zone the kernel lacks is
    /// `ZONE_NORMAL`, as `OPT_ZONE_DMA`/`OPT_ZONE_DMA32`).
    #[inline(always)]
    pub(crate) fn of(gfp: Gfp) -> Zone {
        let g = gfp.raw();
        if g & GFP_DMA != 0 && Zone::Dma.exists() {
            Zone::Dma
        } else if g & GFP_DMA32 != 0 && Zone::Dma32.exists() {
            Zone::Dma32
        } else {
            Zone::Normal
        }
    }

    /// The zone by number (`self as usize`).
    pub(crate) fn from_index(i: usize) -> Option<Zone> {
        [Zone::Normal, Zone::Dma32, Zone::Dma].get(i).copied()
    }

    /// The `gfp_t` bit that asks the kernel for this zone.
    pub(crate) const fn gfp(self) -> u32 {
        match self {
            Zone::Normal => 0,
            Zone::Dma32 => GFP_DMA32,
            Zone::Dma => GFP_DMA,
        }
    }

    /// Its name, as `/proc/zoneinfo` and `/proc/buddyinfo` print it.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Zone::Normal => "Normal",
            Zone::Dma32 => "DMA32",
            Zone::Dma => "DMA",
        }
    }
}
