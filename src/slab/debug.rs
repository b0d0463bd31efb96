// SPDX-License-Identifier: GPL-2.0
//! SLUB's debug features (`CONFIG_SLUB_DEBUG` of 7.3) for caches made with
//! any of `SLAB_CONSISTENCY_CHECKS` (F), `SLAB_RED_ZONE` (Z), `SLAB_POISON`
//! (P), `SLAB_STORE_USER` (U) or `SLAB_TRACE` (T), by create flags or the
//! `slub_debug=` module parameter.
//!
//! A debug cache takes the slow paths only, as SLUB's does: no CPU slab, no
//! CPU partial list, no sheaves. Each allocation takes one object off a node
//! partial slab (or a new slab) under `list_lock` and checks it
//! (`alloc_single_from_partial()`, `alloc_debug_processing()`); each free
//! checks the object and puts it back under `list_lock`
//! (`free_to_partial_list()`, `free_debug_processing()`). Object layout,
//! fill bytes, checks, report formats and repairs are SLUB's (see 7.3's
//! "Object field layout" comment in mm/slub.c); [`Layout`] holds the
//! geometry.
//!
//! Every report counts on the cache ([`Cache::errors`]) where SLUB's
//! `slab_add_kunit_errors()` counts one, so the ported slub_kunit cases
//! assert the same numbers. Differences: addresses print unhashed; no
//! `WARN_ON()` or taint after a report; double frees and frees of
//! addresses inside objects are caught on every debug cache, not only with
//! F.
//!
//! # Kept and held slabs
//!
//! Most functions here read or write a slab's memory through addresses,
//! and are `unsafe`. Their contracts call a slab *kept* if it is a slab of
//! this cache that is not discarded while the function runs: the caller
//! holds its node's `list_lock` (under which slabs are discarded), an
//! object of it, or the slab itself. A kept slab is *held* if, moreover,
//! nobody else changes its freelist, its counters or its objects' metadata
//! meanwhile: a debug cache's slab under its node's `list_lock` (every
//! change of one is made under it), or a slab the caller has alone (new,
//! or taken off every list).
//!
//! [`Layout`]: crate::logic::slab::layout::Layout

use super::{Cache, SlabPage, SlabStat};
use crate::{
    glue::{
        atomic::Relaxed,
        cpu,
        debug::{self as kdebug, print_section},
        gfp::Gfp,
        kallsyms,
    },
    logic::slab::{
        layout::{
            self, POISON_END, POISON_FREE, POISON_INUSE, SLAB_CONSISTENCY_CHECKS, SLAB_POISON,
            SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TRACE, SLUB_RED_ACTIVE, SLUB_RED_INACTIVE,
            TRACK_SIZE,
        },
        slabstate::Counters,
    },
};
use core::fmt::Arguments;
use kernel::{bindings, prelude::*, str::CStr};

/// `enum track_item`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrackItem {
    /// The last allocation.
    Alloc = 0,
    /// The last free.
    Free = 1,
}

/// `struct track`: the caller, its stack (a stack depot handle, 0 if none
/// was saved), CPU, task and time.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Track {
    /// The stack from the caller on, in the stack depot (0: none).
    pub(crate) handle: u32,
    pad: u32,
    /// The caller.
    pub(crate) addr: usize,
    /// The CPU it ran on.
    pub(crate) cpu: i32,
    /// The task.
    pub(crate) pid: i32,
    /// `jiffies` then.
    pub(crate) when: usize,
}

const _: () = assert!(core::mem::size_of::<Track>() == TRACK_SIZE as usize);

const KERN_ERR: &CStr = c"\x013";
const KERN_INFO: &CStr = c"\x016";

/// The byte at `a` (slab memory, which another CPU may be writing: a
/// volatile read, as SLUB's `memchr_inv()` reads it racily).
///
/// # Safety
///
/// `a` is mapped slab memory.
unsafe fn byte(a: usize) -> u8 {
    // SAFETY: the caller's guarantee.
    unsafe { core::ptr::read_volatile(a as *const u8) }
}

/// `memchr_inv()`: the first byte of `a..a + len` that is not `val`.
///
/// # Safety
///
/// The range is mapped slab memory.
unsafe fn first_not(a: usize, len: usize, val: u8) -> Option<usize> {
    // SAFETY: the caller's guarantee.
    (a..a.wrapping_add(len)).find(|&p| unsafe { byte(p) } != val)
}

/// Whether object `k` is marked in an object bitmap.
pub(super) fn marked(bits: &[u64], k: usize) -> bool {
    bits.get(k / 64).is_some_and(|b| b & (1 << (k % 64)) != 0)
}

/// `memset()` of slab metadata.
///
/// # Safety
///
/// The range is slab memory the caller may write: metadata of the
/// caller's cache, or an object it owns.
unsafe fn fill(a: usize, len: usize, val: u8) {
    // SAFETY: the caller's guarantee.
    unsafe { core::ptr::write_bytes(a as *mut u8, val, len) };
}

impl Cache {
    /// `kmem_cache_debug()`: a debug cache, which takes the slow paths.
    #[inline(always)]
    pub(crate) fn is_debug(&self) -> bool {
        self.layout.debug()
    }

    fn has(&self, flag: u32) -> bool {
        self.layout.flags & flag != 0
    }

    /// One error for the slub_kunit count (`slab_add_kunit_errors()`).
    pub(super) fn count_error(&self) {
        self.errors.add(1, Relaxed);
        super::TOTAL_ERRORS.add(1, Relaxed);
    }

    /// The first byte of the slab (before the first object's red zone).
    fn slab_start(&self, s: &SlabPage) -> usize {
        (s.base() as usize).wrapping_sub(self.layout.red_left_pad as usize)
    }

    /// The slab's size in bytes.
    ///
    /// # Safety
    ///
    /// `s` is kept (see the module documentation).
    unsafe fn slab_bytes(&self, s: &SlabPage) -> usize {
        // SAFETY: `s` is not discarded meanwhile (our caller's guarantee),
        // so nobody takes its block.
        let order = unsafe { s.block_order() }.unwrap_or(0);
        (1usize << bindings::PAGE_SHIFT) << order
    }

    fn track_addr(&self, obj: usize, t: TrackItem) -> usize {
        obj + self.layout.info_end() as usize + t as usize * TRACK_SIZE as usize
    }

    /// The track `t` of `obj` (`get_track()`).
    ///
    /// # Safety
    ///
    /// The cache stores tracks (`SLAB_STORE_USER`), and `obj` is an object
    /// of a kept slab (see the module documentation): the caller holds
    /// `obj`, or its slab.
    pub(crate) unsafe fn track(&self, obj: usize, t: TrackItem) -> Track {
        // SAFETY: the track lies in the object's slot (layout with
        // `SLAB_STORE_USER`), in a slab that stays (our caller's guarantee):
        // mapped slab memory; a racing update gives a mixed record, as in
        // SLUB.
        unsafe { core::ptr::read_volatile(self.track_addr(obj, t) as *const Track) }
    }

    /// `set_track()`.
    ///
    /// # Safety
    ///
    /// The cache stores tracks (`SLAB_STORE_USER`), and `obj` is an object
    /// of this cache that the caller holds (allocated to it, or being
    /// allocated or freed by it under its slab's `list_lock`), so that
    /// nobody else writes its tracks.
    unsafe fn set_track(&self, obj: usize, t: TrackItem, caller: kdebug::Caller) {
        let tr = Track {
            addr: caller.addr,
            handle: caller.handle,
            cpu: cpu::current() as i32,
            pid: kdebug::pid(),
            when: kdebug::jiffies(),
            ..Track::default()
        };
        // SAFETY: the track is this cache's metadata in `obj`'s slot, which
        // the caller holds (its guarantee).
        unsafe { core::ptr::write_volatile(self.track_addr(obj, t) as *mut Track, tr) };
    }

    /// `init_tracking()`.
    ///
    /// # Safety
    ///
    /// `obj` is an object of a new slab of this cache that the caller has
    /// alone.
    unsafe fn init_tracking(&self, obj: usize) {
        if self.has(SLAB_STORE_USER) {
            // SAFETY: both tracks are this cache's metadata in `obj`'s slot,
            // which the caller has alone (its guarantee).
            unsafe {
                fill(
                    self.track_addr(obj, TrackItem::Alloc),
                    2 * TRACK_SIZE as usize,
                    0,
                )
            };
        }
    }

    /// `get_orig_size()`: the size asked for (the object size unless the
    /// cache records it).
    ///
    /// # Safety
    ///
    /// `obj` is an object of a kept slab (see the module documentation):
    /// the caller holds `obj`, or its slab.
    pub(crate) unsafe fn get_orig_size(&self, obj: usize) -> u32 {
        if !self.layout.orig_size() {
            return self.layout.object_size;
        }
        let a = obj + self.layout.orig_size_offset() as usize;
        // SAFETY: metadata of `obj`'s slot, in a slab that stays (our
        // caller's guarantee): mapped slab memory.
        let v = unsafe { core::ptr::read_volatile(a as *const u32) };
        v.clamp(1, self.layout.object_size)
    }

    /// [`Cache::get_orig_size`] for `krealloc()` (in `src/kmalloc.rs`), which
    /// passes an object of this cache that its caller holds.
    // TODO: unsound as a safe function (it reads at any `obj`): remove it
    // once `krealloc()` calls `get_orig_size` in an `unsafe` block arguing
    // the above (src/kmalloc.rs is being reworked meanwhile).
    pub(crate) fn orig_size(&self, obj: usize) -> u32 {
        // SAFETY: not established here (see the TODO above): its one caller,
        // `krealloc()`, passes an object of this cache that its own caller
        // holds, which `get_orig_size` asks for.
        unsafe { self.get_orig_size(obj) }
    }

    /// `set_orig_size()`.
    ///
    /// # Safety
    ///
    /// `obj` is an object of this cache (the start of an object slot of one
    /// of its slabs) that the caller holds: allocated to it, or being
    /// allocated or freed by it, so that nobody else writes its metadata.
    pub(crate) unsafe fn set_orig_size(&self, obj: usize, size: u32) {
        if self.layout.orig_size() {
            let a = obj + self.layout.orig_size_offset() as usize;
            let v = size.clamp(1, self.layout.object_size);
            // SAFETY: metadata of `obj`'s slot, which the caller holds.
            unsafe { core::ptr::write_volatile(a as *mut u32, v) };
        }
    }

    /// Fills the kmalloc red zone of `obj` from `size` on (`krealloc()`
    /// shrinking in place), with the size recorded.
    ///
    /// # Safety
    ///
    /// As for [`Cache::set_orig_size`]; the caller uses no byte of the object
    /// from `size` on any more.
    pub(crate) unsafe fn set_kmalloc_redzone(&self, obj: usize, size: usize) {
        if !self.layout.orig_size() {
            return;
        }
        let size = size.min(self.layout.object_size as usize);
        // SAFETY: our caller's guarantee.
        unsafe { self.set_orig_size(obj, size as u32) };
        if self.has(SLAB_RED_ZONE) {
            // SAFETY: `obj` is the caller's object of this cache, whose
            // bytes past what it asked for (`size`) are this cache's red
            // zone now.
            unsafe {
                fill(
                    obj + size,
                    self.layout.object_size as usize - size,
                    SLUB_RED_ACTIVE,
                )
            };
        }
    }

    // Reports, in SLUB's format.

    /// `slab_bug()`.
    fn slab_bug(&self, what: Arguments<'_>) {
        pr_err!("=============================================================================\n");
        pr_err!(
            "BUG {} ({}): {}\n",
            self.display_name(),
            kdebug::tainted(),
            what
        );
        pr_err!(
            "-----------------------------------------------------------------------------\n\n"
        );
    }

    /// `slab_fix()`: counts.
    fn slab_fix(&self, what: Arguments<'_>) {
        self.count_error();
        pr_err!("FIX {}: {}\n", self.display_name(), what);
    }

    /// `print_slab_info()`.
    fn print_slab_info(&self, s: &SlabPage) {
        let c = s.counters();
        pr_err!(
            "Slab 0x{:016x} objects={} used={} fp=0x{:016x} flags={}\n",
            self.slab_start(s),
            c.objects(),
            c.inuse(),
            s.pair.first(),
            if c.frozen() { "frozen" } else { "" }
        );
    }

    /// `slab_err()`: counts.
    fn slab_err(&self, s: &SlabPage, what: Arguments<'_>) {
        self.count_error();
        self.slab_bug(what);
        self.print_slab_info(s);
    }

    /// `print_track()`.
    fn print_track(&self, what: &str, t: &Track, now: usize) {
        if t.addr == 0 {
            return;
        }
        let mut buf = [0u8; kallsyms::SYMBOL_LEN];
        pr_err!(
            "{} in {} age={} cpu={} pid={}\n",
            what,
            kernel::str::BStr::from_bytes(kallsyms::symbol(t.addr, &mut buf)),
            now.wrapping_sub(t.when),
            t.cpu,
            t.pid
        );
        if t.handle != 0 {
            kdebug::print_stack(t.handle);
        } else {
            pr_err!("object allocation/free stack trace missing\n");
        }
    }

    /// `print_tracking()`.
    ///
    /// # Safety
    ///
    /// `obj` is an object of a kept slab (see the module documentation).
    unsafe fn print_tracking(&self, obj: usize) {
        if !self.has(SLAB_STORE_USER) {
            return;
        }
        let now = kdebug::jiffies();
        // SAFETY: the cache stores tracks (tested above), and `obj` is an
        // object of a kept slab (our caller's guarantee).
        let (alloc, free) = unsafe {
            (
                self.track(obj, TrackItem::Alloc),
                self.track(obj, TrackItem::Free),
            )
        };
        self.print_track("Allocated", &alloc, now);
        self.print_track("Freed", &free, now);
    }

    /// `print_trailer()`.
    ///
    /// # Safety
    ///
    /// `s` is kept (see the module documentation), and `p` an object of it.
    unsafe fn print_trailer(&self, s: &SlabPage, p: usize) {
        let l = &self.layout;
        let start = self.slab_start(s);
        // SAFETY: `p` is an object of `s`, which is kept (our caller's
        // guarantee).
        unsafe { self.print_tracking(p) };
        self.print_slab_info(s);
        // SAFETY: `p` is an object of `s`, a slab of this cache that stays
        // (our caller's guarantee).
        let fp = unsafe { self.get_fp(p) };
        pr_err!(
            "Object 0x{:016x} @offset={} fp=0x{:016x}\n\n",
            p,
            p - start,
            fp
        );
        // SAFETY: every section lies inside the slab `s`, which stays (our
        // caller's guarantee), so is mapped.
        unsafe {
            if self.has(SLAB_RED_ZONE) {
                let rlp = l.red_left_pad as usize;
                print_section(KERN_ERR, c"Redzone  ", p - rlp, rlp);
            } else if p > start + 16 {
                print_section(KERN_ERR, c"Bytes b4 ", p - 16, 16);
            }
            let shown = (l.object_size as usize).min(1 << bindings::PAGE_SHIFT);
            print_section(KERN_ERR, c"Object   ", p, shown);
            if self.has(SLAB_RED_ZONE) {
                print_section(
                    KERN_ERR,
                    c"Redzone  ",
                    p + l.object_size as usize,
                    (l.inuse - l.object_size) as usize,
                );
            }
            let off = l.pad_offset();
            if off != l.size_from_object() {
                print_section(
                    KERN_ERR,
                    c"Padding  ",
                    p + off as usize,
                    (l.size_from_object() - off) as usize,
                );
            }
        }
    }

    /// `object_err()` without the count (`check_bytes_and_report()` counts
    /// its finding once).
    ///
    /// # Safety
    ///
    /// `s` is kept (see the module documentation).
    unsafe fn object_err_print(&self, s: &SlabPage, obj: usize, reason: &str) {
        self.slab_bug(format_args!("{reason}"));
        if obj == 0 || !self.check_valid_pointer(s, obj) {
            self.print_slab_info(s);
            pr_err!("Invalid pointer 0x{:016x}\n", obj);
        } else {
            // SAFETY: `s` is kept (our caller's guarantee), and `obj` an
            // object of it (checked).
            unsafe { self.print_trailer(s, obj) };
        }
    }

    /// `object_err()`: counts.
    ///
    /// # Safety
    ///
    /// As for [`Cache::object_err_print`].
    unsafe fn object_err(&self, s: &SlabPage, obj: usize, reason: &str) {
        self.count_error();
        // SAFETY: our caller's guarantee.
        unsafe { self.object_err_print(s, obj, reason) };
    }

    /// `restore_bytes()`.
    ///
    /// # Safety
    ///
    /// `from..to` is metadata (red zone, padding, poison) of an object of a
    /// held slab (see the module documentation), or its padding past the
    /// last object, which nobody but the caller writes meanwhile.
    unsafe fn restore_bytes(&self, what: &str, val: u8, from: usize, to: usize) {
        self.slab_fix(format_args!(
            "Restoring {} 0x{:016x}-0x{:016x}=0x{:x}",
            what,
            from,
            to - 1,
            val
        ));
        // SAFETY: the range is metadata (red zone, padding, poison) of a
        // held slab, which its objects' owners may not write, and nobody
        // else writes meanwhile (our caller's guarantee).
        unsafe { fill(from, to - from, val) };
    }

    /// `check_bytes_and_report()`: `false` (after reporting and restoring)
    /// if `start..start + bytes` is not all `val`.
    ///
    /// # Safety
    ///
    /// `s` is held (see the module documentation), and `start..start +
    /// bytes` is metadata of `obj`, an object of it (or the slab's padding
    /// past its last object), which nobody but the caller writes meanwhile.
    #[allow(clippy::too_many_arguments)]
    unsafe fn check_bytes(
        &self,
        s: &SlabPage,
        obj: usize,
        what: &str,
        start: usize,
        val: u8,
        bytes: usize,
        print_obj: bool,
    ) -> bool {
        // SAFETY: the range lies in the slab `s`, which stays (our caller's
        // guarantee).
        let Some(fault) = (unsafe { first_not(start, bytes, val) }) else {
            return true;
        };
        let mut end = start + bytes;
        // SAFETY: as above.
        while end > fault && unsafe { byte(end - 1) } == val {
            end -= 1;
        }
        self.count_error();
        pr_err!(
            "[{} overwritten] 0x{:016x}-0x{:016x} @offset={}. First byte 0x{:x} instead of 0x{:x}\n",
            what,
            fault,
            end - 1,
            fault - self.slab_start(s),
            // SAFETY: as above.
            unsafe { byte(fault) },
            val
        );
        if print_obj {
            // SAFETY: `s` is held (our caller's guarantee).
            unsafe { self.object_err_print(s, obj, "Object corrupt") };
        }
        // SAFETY: `fault..end` lies in the metadata of `obj` (or the
        // slab's padding) that our caller gave us to check: a held slab's,
        // which nobody else writes meanwhile.
        unsafe { self.restore_bytes(what, val, fault, end) };
        false
    }

    /// `check_valid_pointer()`: null, or the start of an object of `s`.
    pub(super) fn check_valid_pointer(&self, s: &SlabPage, obj: usize) -> bool {
        if obj == 0 {
            return true;
        }
        let Some(off) = obj.checked_sub(s.base() as usize) else {
            return false;
        };
        let size = self.layout.size as usize;
        // Checked arithmetic without panics (Linux 7.3's objtool does not
        // know `panic_const_rem_by_zero` as noreturn).
        (s.counters().objects() as usize)
            .checked_mul(size)
            .is_some_and(|end| off < end)
            && off.checked_rem(size) == Some(0)
    }

    /// `init_object()`: red zones to `val`, the object poisoned.
    ///
    /// # Safety
    ///
    /// `obj` is an object of a held slab (see the module documentation)
    /// that the caller holds: free (in a new slab), or being handed out or
    /// taken back by the caller, so that its bytes and red zones are the
    /// cache's to write.
    unsafe fn init_object(&self, obj: usize, val: u8) {
        let l = &self.layout;
        let mut poison_size = l.object_size as usize;
        // The fills: red zones and poison are the cache's to write, as the
        // object is free, or being handed out or taken back (our caller's
        // guarantee), in a slab that stays.
        if self.has(SLAB_RED_ZONE) {
            let rlp = l.red_left_pad as usize;
            // SAFETY: the left red zone (see above).
            unsafe { fill(obj - rlp, rlp, val) };
            if l.orig_size() && val == SLUB_RED_ACTIVE {
                // SAFETY: `obj` is an object of a kept slab (see above).
                poison_size = unsafe { self.get_orig_size(obj) } as usize;
            }
        }
        if l.object_poison() {
            // SAFETY: the object's bytes (see above).
            unsafe {
                fill(obj, poison_size - 1, POISON_FREE);
                fill(obj + poison_size - 1, 1, POISON_END);
            }
        }
        if self.has(SLAB_RED_ZONE) {
            // SAFETY: the right red zone (see above).
            unsafe { fill(obj + poison_size, l.inuse as usize - poison_size, val) };
        }
    }

    /// `check_pad_bytes()`.
    ///
    /// # Safety
    ///
    /// `s` is held (see the module documentation), and `p` an object of it.
    unsafe fn check_pad_bytes(&self, s: &SlabPage, p: usize) -> bool {
        let l = &self.layout;
        let off = l.pad_offset();
        if l.size_from_object() == off {
            return true;
        }
        // SAFETY: `s` is held and `p` an object of it (our caller's
        // guarantee); the range is `p`'s padding, its metadata.
        unsafe {
            self.check_bytes(
                s,
                p,
                "Object padding",
                p + off as usize,
                POISON_INUSE,
                (l.size_from_object() - off) as usize,
                true,
            )
        }
    }

    /// `slab_pad_check()`: the bytes past the last object.
    ///
    /// # Safety
    ///
    /// `s` is held (see the module documentation).
    unsafe fn slab_pad_check(&self, s: &SlabPage) {
        if !self.has(SLAB_POISON) {
            return;
        }
        let start = self.slab_start(s);
        // SAFETY: `s` is held, so kept (our caller's guarantee).
        let length = unsafe { self.slab_bytes(s) };
        let remainder = length % self.layout.size as usize;
        if remainder == 0 {
            return;
        }
        let end = start + length;
        let pad = end - remainder;
        // SAFETY: inside the slab, which stays (our caller's guarantee).
        let Some(fault) = (unsafe { first_not(pad, remainder, POISON_INUSE) }) else {
            return;
        };
        let mut e = end;
        // SAFETY: as above.
        while e > fault && unsafe { byte(e - 1) } == POISON_INUSE {
            e -= 1;
        }
        self.slab_bug(format_args!(
            "Padding overwritten. 0x{:016x}-0x{:016x} @offset={}",
            fault,
            e - 1,
            fault - start
        ));
        // SAFETY: as above.
        unsafe { print_section(KERN_ERR, c"Padding ", pad, remainder) };
        self.print_slab_info(s);
        // SAFETY: `fault..e` is the padding past the last object of `s`, a
        // held slab (our caller's guarantee).
        unsafe { self.restore_bytes("slab padding", POISON_INUSE, fault, e) };
    }

    /// `check_object()`: `obj`'s red zones (`val`: active or inactive),
    /// poison, padding and free pointer.
    ///
    /// # Safety
    ///
    /// `s` is held (see the module documentation), and `obj` an object of
    /// it: free if `val` is [`SLUB_RED_INACTIVE`] (its bytes are then the
    /// cache's), else allocated (only its metadata is touched).
    pub(super) unsafe fn check_object(&self, s: &SlabPage, obj: usize, val: u8) -> bool {
        let l = &self.layout;
        let osz = l.object_size as usize;
        let mut ret = true;
        // The ranges checked (and restored) are `obj`'s metadata (red zones,
        // the kmalloc red zone past the size asked for, padding), or its
        // bytes when it is free (poison).
        if self.has(SLAB_RED_ZONE) {
            let rlp = l.red_left_pad as usize;
            // SAFETY: `s` is held and `obj` an object of it (our caller's
            // guarantee); the range is as said above.
            if !unsafe { self.check_bytes(s, obj, "Left Redzone", obj - rlp, val, rlp, ret) } {
                ret = false;
            }
            let rz = l.inuse as usize - osz;
            // SAFETY: as above.
            if !unsafe { self.check_bytes(s, obj, "Right Redzone", obj + osz, val, rz, ret) } {
                ret = false;
            }
            if l.orig_size() && val == SLUB_RED_ACTIVE {
                // SAFETY: `obj` is an object of `s`, a kept slab (our
                // caller's guarantee).
                let orig = unsafe { self.get_orig_size(obj) } as usize;
                if osz > orig {
                    let (n, from) = (osz - orig, obj + orig);
                    // SAFETY: as above.
                    if !unsafe { self.check_bytes(s, obj, "kmalloc Redzone", from, val, n, ret) } {
                        ret = false;
                    }
                }
            }
        } else if self.has(SLAB_POISON) && osz < l.inuse as usize {
            let n = l.inuse as usize - osz;
            let v = POISON_INUSE;
            // SAFETY: as above.
            if !unsafe { self.check_bytes(s, obj, "Alignment padding", obj + osz, v, n, ret) } {
                ret = false;
            }
        }
        if self.has(SLAB_POISON) {
            if val != SLUB_RED_ACTIVE && l.object_poison() {
                // SAFETY: as above (`obj` is free: `val` is not active).
                if !unsafe { self.check_bytes(s, obj, "Poison", obj, POISON_FREE, osz - 1, ret) } {
                    ret = false;
                }
                let (end, v) = (obj + osz - 1, POISON_END);
                // SAFETY: as above.
                if !unsafe { self.check_bytes(s, obj, "End Poison", end, v, 1, ret) } {
                    ret = false;
                }
            }
            // SAFETY: `s` is held and `obj` an object of it (our caller's
            // guarantee).
            if !unsafe { self.check_pad_bytes(s, obj) } {
                ret = false;
            }
        }
        // The free pointer cannot be checked while an object that holds it
        // is in use.
        let outside = l.offset >= l.inuse;
        // SAFETY: `obj` is an object of `s`, a slab of this cache that stays
        // (our caller's guarantee).
        let fp = unsafe { self.get_fp(obj) };
        if (outside || val != SLUB_RED_ACTIVE) && !self.check_valid_pointer(s, fp) {
            // SAFETY: `s` is held (our caller's guarantee).
            unsafe { self.object_err(s, obj, "Freepointer corrupt") };
            // SAFETY: the free pointer is the cache's metadata here (outside
            // the object, or in a free object of a held slab).
            unsafe { self.set_fp(obj, 0) };
            ret = false;
        }
        ret
    }

    /// `check_slab()`.
    ///
    /// # Safety
    ///
    /// `s` is held (see the module documentation).
    unsafe fn check_slab(&self, s: &SlabPage) -> bool {
        let c = s.counters();
        let maxobj = layout::order_objects(
            // SAFETY: `s` is not discarded meanwhile (our caller's
            // guarantee), so nobody takes its block.
            unsafe { s.block_order() }.unwrap_or(0),
            self.layout.size,
            bindings::PAGE_SHIFT,
        );
        if c.objects() > maxobj {
            self.slab_err(s, format_args!("objects {} > max {}", c.objects(), maxobj));
            return false;
        }
        if c.inuse() > c.objects() {
            self.slab_err(s, format_args!("inuse {} > max {}", c.inuse(), c.objects()));
            return false;
        }
        if c.frozen() {
            self.slab_err(
                s,
                format_args!("Slab disabled since SLUB metadata consistency check failed"),
            );
            return false;
        }
        // SAFETY: our caller's guarantee.
        unsafe { self.slab_pad_check(s) };
        true
    }

    /// Sets a debug slab's `(freelist, inuse)` (under `list_lock`, which
    /// every change of a debug slab holds; the exchange keeps it atomic for
    /// lockless readers).
    ///
    /// # Safety
    ///
    /// `s` is held (see the module documentation). `freelist` is 0 or heads
    /// a list of free objects of `s` linked through their free pointers,
    /// which the slab keeps (nobody else holds them), and `inuse` is at
    /// least the number of its objects not on it. `frozen` is the slab's
    /// frozen bit as it was, or set to disable the slab (`freelist` 0, all
    /// objects in use), or clear for a new slab the caller has alone.
    unsafe fn set_slab(&self, s: &SlabPage, freelist: usize, inuse: u32, frozen: bool) {
        loop {
            let (fl, old) = (s.pair.first(), s.counters());
            let new = Counters::new(inuse, old.objects(), frozen);
            if s.pair
                .cmpxchg((fl, old.0 as usize), (freelist, new.0 as usize))
            {
                return;
            }
        }
    }

    /// `on_freelist()`: whether `search` is on the slab's freelist (with 0:
    /// a check of the whole list and of `inuse`, repairing both).
    ///
    /// # Safety
    ///
    /// `s` is held (see the module documentation).
    unsafe fn on_freelist(&self, s: &SlabPage, search: usize) -> bool {
        let objects = s.counters().objects();
        let mut nr = 0u32;
        let mut fp = s.pair.first();
        let mut object = 0usize;
        while fp != 0 && nr <= objects {
            if fp == search {
                return true;
            }
            if !self.check_valid_pointer(s, fp) {
                if object != 0 {
                    // SAFETY: `s` is held (our caller's guarantee).
                    unsafe { self.object_err(s, object, "Freechain corrupt") };
                    // SAFETY: `object` is a free object of `s` (checked), a
                    // held slab: its free pointer is the cache's to write,
                    // which ends the list there.
                    unsafe { self.set_fp(object, 0) };
                    break;
                }
                self.slab_err(s, format_args!("Freepointer corrupt"));
                // SAFETY: `s` is held; an empty freelist with every object
                // in use is consistent (the free objects are lost).
                unsafe { self.set_slab(s, 0, objects, s.counters().frozen()) };
                self.slab_fix(format_args!("Freelist cleared"));
                return false;
            }
            object = fp;
            // SAFETY: `object` is an object of `s` (checked above), a slab
            // of this cache that stays (our caller's guarantee).
            fp = unsafe { self.get_fp(object) };
            nr += 1;
        }
        if nr > objects {
            self.slab_err(s, format_args!("Freelist cycle detected"));
            // SAFETY: as above.
            unsafe { self.set_slab(s, 0, objects, s.counters().frozen()) };
            self.slab_fix(format_args!("Freelist cleared"));
            return false;
        }
        let c = s.counters();
        if c.inuse() != objects - nr {
            self.slab_err(
                s,
                format_args!(
                    "Wrong object count. Counter is {} but counted were {}",
                    c.inuse(),
                    objects - nr
                ),
            );
            // SAFETY: `s` is held; its freelist, kept, has `nr` objects (just
            // walked), so `objects - nr` are in use.
            unsafe { self.set_slab(s, s.pair.first(), objects - nr, c.frozen()) };
            self.slab_fix(format_args!("Object count adjusted"));
        }
        search == 0
    }

    /// `trace()`.
    ///
    /// # Safety
    ///
    /// `obj` is an object of `s`, a kept slab (see the module
    /// documentation), that the caller is allocating or freeing.
    unsafe fn trace(&self, s: &SlabPage, obj: usize, alloc: bool) {
        if !self.has(SLAB_TRACE) {
            return;
        }
        pr_info!(
            "TRACE {} {} 0x{:016x} inuse={} fp=0x{:016x}\n",
            self.display_name(),
            if alloc { "alloc" } else { "free" },
            obj,
            s.counters().inuse(),
            s.pair.first()
        );
        if !alloc {
            // SAFETY: the object being freed (our caller's guarantee), in a
            // slab that stays: mapped.
            unsafe { print_section(KERN_INFO, c"Object ", obj, self.layout.object_size as usize) };
        }
        // SAFETY: `dump_stack()` may be called from any context.
        unsafe { bindings::dump_stack() };
    }

    /// `setup_slab_debug()` and `setup_object_debug()` for a new slab of
    /// `objects` objects from `base` (its first object).
    ///
    /// # Safety
    ///
    /// The `bytes` bytes from `base` less the left red zone are a new slab
    /// of this cache, of `objects` objects from `base`, which the caller
    /// has alone.
    pub(super) unsafe fn setup_slab_debug(&self, base: usize, bytes: usize, objects: u32) {
        let start = base - self.layout.red_left_pad as usize;
        if self.has(SLAB_POISON) {
            // SAFETY: the slab is new and the caller's alone (its
            // guarantee).
            unsafe { fill(start, bytes, POISON_INUSE) };
        }
        if self.has(SLAB_STORE_USER | SLAB_RED_ZONE) || self.layout.object_poison() {
            for i in 0..objects as usize {
                let obj = base + i * self.layout.size as usize;
                // SAFETY: `obj` is an object of the new slab, free, which
                // the caller has alone (its guarantee).
                unsafe {
                    self.init_object(obj, SLUB_RED_INACTIVE);
                    self.init_tracking(obj);
                }
            }
        }
    }

    /// `alloc_debug_processing()`: checks an object being handed out and
    /// marks it allocated; on a failed check the slab is disabled (all its
    /// objects marked used, frozen: never used again) and `false`.
    ///
    /// # Safety
    ///
    /// `s` is held (see the module documentation), and `obj` an object of
    /// it that the caller has just taken off its freelist
    /// ([`Cache::take_object`]) and handed to nobody yet.
    unsafe fn alloc_debug_processing(&self, s: &SlabPage, obj: usize, orig_size: u32) -> bool {
        let ok = !self.has(SLAB_CONSISTENCY_CHECKS)
            // SAFETY: `s` is held, and `obj` a free object of it (our
            // caller's guarantee: just taken off the freelist, handed to
            // nobody).
            || unsafe { self.check_slab(s) && self.check_object(s, obj, SLUB_RED_INACTIVE) };
        if !ok {
            self.slab_fix(format_args!("Marking all objects used"));
            // SAFETY: `s` is held; this disables it.
            unsafe { self.set_slab(s, 0, s.counters().objects(), true) };
            return false;
        }
        // SAFETY: `obj` is an object of `s`, a held slab, being allocated by
        // our caller (its guarantee).
        unsafe {
            self.trace(s, obj, true);
            self.set_orig_size(obj, orig_size);
            self.init_object(obj, SLUB_RED_ACTIVE);
        }
        true
    }

    /// Takes the first free object of `s`: `None` (and the slab disabled)
    /// if its freelist is corrupt.
    ///
    /// # Safety
    ///
    /// `s` is held (see the module documentation).
    unsafe fn take_object(&self, s: &SlabPage) -> Option<usize> {
        let obj = s.pair.first();
        if obj == 0 || !self.check_valid_pointer(s, obj) {
            // SAFETY: `s` is held (our caller's guarantee).
            unsafe { self.object_err(s, obj, "Freelist Pointer check fails") };
            self.slab_fix(format_args!("Marking all objects used"));
            // SAFETY: `s` is held; this disables it.
            unsafe { self.set_slab(s, 0, s.counters().objects(), true) };
            return None;
        }
        // SAFETY: `obj` is a free object of `s` (checked), a held slab.
        let next = unsafe { self.get_fp(obj) };
        // SAFETY: `s` is held, and `next` the rest of its freelist after
        // `obj`, which is taken (one more in use).
        unsafe { self.set_slab(s, next, s.counters().inuse() + 1, false) };
        Some(obj)
    }

    /// The debug allocation (`___slab_alloc()` of a debug cache):
    /// `alloc_single_from_partial()` over the node partial list, else
    /// `alloc_single_from_new_slab()`. 0 if no memory could be had.
    #[inline(never)]
    pub(super) fn debug_alloc(&self, gfp: Gfp, orig_size: u32, node: Option<usize>) -> usize {
        let addr = if self.has(SLAB_STORE_USER) {
            kdebug::caller()
        } else {
            kdebug::Caller::default()
        };
        self.stat(SlabStat::AllocSlowpath);
        let orig_size = orig_size.clamp(1, self.layout.object_size);
        // The node asked for (or the CPU's) first, then, unless
        // `__GFP_THISNODE`, the others nearest first (`get_partial()` with
        // `get_any_partial()`).
        let local = node.unwrap_or_else(|| self.pool.cpu_node(crate::glue::cpu::current()));
        let (others, k) = crate::glue::numa::fallback_nodes(local);
        let k = if node.is_some() && gfp.this_node() {
            0
        } else {
            k
        };
        let min = self.min_partial.load(Relaxed);
        let remote = others[..k]
            .iter()
            .map(|&o| o as usize)
            .filter(|&o| o < self.nodes.len() && self.node(o).nr_partial.load(Relaxed) > min);
        for nid in Iterator::chain(core::iter::once(local), remote) {
            let mut n = self.node(nid).list.lock();
            let mut cur = n.head;
            // SAFETY: on the node list, under `list_lock`.
            while let Some(s) = unsafe { SlabPage::from_link(cur) } {
                cur = s.next.load(Relaxed);
                // SAFETY: `s`, on this debug cache's node list, is held: its
                // `list_lock` is held here.
                let got = unsafe { self.take_object(s) }.filter(|&o| {
                    // SAFETY: `s` is held (as above), and `o` was just taken
                    // off its freelist by `take_object`, handed to nobody
                    // yet.
                    unsafe { self.alloc_debug_processing(s, o, orig_size) }
                });
                let c = s.counters();
                if got.is_none() || c.inuse() == c.objects() {
                    // SAFETY: `s` is on `n`, this cache's node list, locked
                    // here.
                    unsafe { self.remove_partial(&mut n, s) };
                }
                if let Some(o) = got {
                    drop(n);
                    self.stat(SlabStat::AllocFromPartial);
                    if self.has(SLAB_STORE_USER) {
                        // SAFETY: `o` was just allocated here, handed to
                        // nobody yet: ours.
                        unsafe { self.set_track(o, TrackItem::Alloc, addr) };
                    }
                    return o;
                }
            }
        }
        let Some(t) = self.new_slab(gfp, node) else {
            return 0;
        };
        self.stat(SlabStat::AllocSlab);
        let s = t.slab();
        // SAFETY: `s` is a new slab of this cache, on no list and no CPU's,
        // ours alone (type invariant of `Taken`, from `self.new_slab`), so
        // held; its whole freelist, taken with it, goes back in it, unfrozen
        // with no object in use.
        unsafe { self.set_slab(s, t.freelist(), 0, false) };
        // SAFETY: `s` is held (as above).
        let Some(o) = unsafe { self.take_object(s) }.filter(|&o| {
            // SAFETY: `s` is held (as above), and `o` was just taken off its
            // freelist by `take_object`, handed to nobody yet.
            unsafe { self.alloc_debug_processing(s, o, orig_size) }
        }) else {
            return 0;
        };
        let c = s.counters();
        if c.inuse() < c.objects() {
            let mut n = self.node_of(s).list.lock();
            // SAFETY: `n` is the locked list of `s`'s node, and `s`, this
            // cache's new slab, unfrozen above, is on no list.
            unsafe { self.add_partial(&mut n, s, false) };
        }
        if self.has(SLAB_STORE_USER) {
            // SAFETY: `o` was just allocated here, handed to nobody yet.
            unsafe { self.set_track(o, TrackItem::Alloc, addr) };
        }
        o
    }

    /// `free_debug_processing()`: checks an object being freed and marks it
    /// free; `false` (reported, and the object not freed) if it must not be
    /// freed.
    ///
    /// # Safety
    ///
    /// `s` is held (see the module documentation), and `obj` an address
    /// in it that the caller is freeing: if it is an object of `s`, it is
    /// allocated and nobody uses it any more.
    unsafe fn free_debug_processing(&self, s: &SlabPage, obj: usize, addr: kdebug::Caller) -> bool {
        let f = self.has(SLAB_CONSISTENCY_CHECKS);
        let ok = 'checks: {
            // SAFETY: `s` is held (our caller's guarantee).
            if f && !unsafe { self.check_slab(s) } {
                break 'checks false;
            }
            if s.counters().inuse() < 1 {
                self.slab_err(
                    s,
                    format_args!(
                        "Slab has {} allocated objects but 1 are to be freed",
                        s.counters().inuse()
                    ),
                );
                break 'checks false;
            }
            if !self.check_valid_pointer(s, obj) {
                self.slab_err(s, format_args!("Invalid object pointer 0x{obj:016x}"));
                break 'checks false;
            }
            // SAFETY: `s` is held (our caller's guarantee).
            if unsafe { self.on_freelist(s, obj) } {
                // SAFETY: as above.
                unsafe { self.object_err(s, obj, "Object already free") };
                break 'checks false;
            }
            // SAFETY: `s` is held, and `obj` an object of it (checked),
            // allocated (not on its freelist) and being freed (our caller's
            // guarantee).
            if f && !unsafe { self.check_object(s, obj, SLUB_RED_ACTIVE) } {
                break 'checks false;
            }
            true
        };
        if !ok {
            self.slab_fix(format_args!("Object at 0x{obj:016x} not freed"));
            return false;
        }
        // SAFETY: `obj` is an allocated object of `s` (checked above), a held
        // slab, that our caller is freeing (its guarantee): its tracks, red
        // zones and bytes are the cache's now.
        unsafe {
            if self.has(SLAB_STORE_USER) {
                self.set_track(obj, TrackItem::Free, addr);
            }
            self.trace(s, obj, false);
            self.init_object(obj, SLUB_RED_INACTIVE);
        }
        true
    }

    /// The debug free (`free_to_partial_list()`): `obj`, an object of `s`,
    /// back onto its slab under `list_lock`, the slab onto the partial list
    /// or freed as `__slab_free()` decides.
    ///
    /// # Safety
    ///
    /// `s` is a slab of this cache, and `obj` an object of it that the
    /// caller gives up: allocated, and not used by anybody any more.
    #[inline(never)]
    pub(super) unsafe fn debug_free(&self, s: &SlabPage, obj: usize) {
        let addr = if self.has(SLAB_STORE_USER) {
            kdebug::caller()
        } else {
            kdebug::Caller::default()
        };
        self.stat(SlabStat::FreeSlowpath);
        let mut n = self.node_of(s).list.lock();
        // SAFETY: `s`, a slab of this debug cache (our caller's guarantee),
        // is held: its node's `list_lock` is held here; `obj` is an object
        // of it that our caller gives up.
        if !unsafe { self.free_debug_processing(s, obj, addr) } {
            return;
        }
        let prior = s.pair.first();
        let c = s.counters();
        // SAFETY: `obj` is an object of `s` (checked above) that the caller
        // gave up: ours to link.
        unsafe { self.set_fp(obj, prior) };
        let inuse = c.inuse() - 1;
        // SAFETY: `s` is held (as above); `obj`, linked to its freelist just
        // above, is free now: one fewer in use.
        unsafe { self.set_slab(s, obj, inuse, c.frozen()) };
        let discard = inuse == 0 && n.nr_partial >= self.min_partial.load(Relaxed);
        if prior == 0 {
            // It was full, on no list.
            if !discard {
                // SAFETY: `n` is the locked list of `s`'s node, and `s`, a
                // slab of this debug cache (no CPU's), full until now, is on
                // no list.
                unsafe { self.add_partial(&mut n, s, true) };
                self.stat(SlabStat::FreeAddPartial);
            }
        } else if discard {
            // SAFETY: `s`, which had free objects, is on `n`, the locked list
            // of its node.
            unsafe { self.remove_partial(&mut n, s) };
            self.stat(SlabStat::FreeRemovePartial);
        }
        drop(n);
        if discard {
            self.stat(SlabStat::FreeSlab);
            // SAFETY: `s` is this cache's (the caller's guarantee), a debug
            // cache's slab (never frozen), with no object in use, and was
            // taken off the partial list (or kept off it) above under
            // `list_lock`: nothing frees into it or takes it.
            unsafe { self.discard_slab(s) };
        }
    }

    /// A free of `o`, which is not an object of this debug cache: reported
    /// as SLUB does (an address inside one of its slabs, an object of
    /// another cache, or no slab at all), and not freed.
    ///
    /// # Safety
    ///
    /// As for [`Cache::bad_free`].
    #[cold]
    pub(super) unsafe fn debug_bad_free(&self, o: usize) {
        // SAFETY: the caller holds the allocation that contains `o`, if it
        // is in the pool (its guarantee), so its page stays.
        let rec = unsafe { self.pool.record_of_addr(o as *const u8) };
        let head = rec.map(|r| r.head_page());
        match head.map(|h| h.owner()) {
            Some(super::Owner::Slab(c)) if c == core::ptr::NonNull::from(self) => {
                if let Some(h) = head {
                    self.slab_err(h, format_args!("Invalid object pointer 0x{o:016x}"));
                    self.slab_fix(format_args!("Object at 0x{o:016x} not freed"));
                }
            }
            Some(super::Owner::Slab(c)) => {
                self.count_error();
                // SAFETY: a slab's owner is its live cache.
                let other = unsafe { c.as_ref() };
                pr_err!(
                    "kmem_cache_free: Wrong slab cache. {} but object is from {}\n",
                    self.display_name(),
                    other.display_name()
                );
            }
            _ => {
                self.count_error();
                pr_err!(
                    "kmem_cache_free({}): object 0x{:016x} is not in a slab page\n",
                    self.display_name(),
                    o
                );
            }
        }
    }

    /// `validate_slab()` of a debug cache: the slab, its freelist (repaired
    /// if broken), then every object's red zones and poison as free or
    /// allocated. Under `list_lock`.
    ///
    /// # Safety
    ///
    /// `s` is held (see the module documentation).
    pub(super) unsafe fn debug_validate_slab(&self, s: &SlabPage, bits: &mut [u64]) {
        // SAFETY: `s` is held (our caller's guarantee).
        if !unsafe { self.check_slab(s) && self.on_freelist(s, 0) } {
            return;
        }
        // SAFETY: as above.
        unsafe { self.free_map(s, bits) };
        let size = self.layout.size as usize;
        for k in 0..s.counters().objects() as usize {
            let p = s.base() as usize + k * size;
            let free = marked(bits, k);
            let val = if free {
                SLUB_RED_INACTIVE
            } else {
                SLUB_RED_ACTIVE
            };
            // SAFETY: `s` is held (as above), and `p` an object of it, free
            // exactly if on its freelist (just mapped, and repaired before).
            if !unsafe { self.check_object(s, p, val) } {
                break;
            }
        }
    }

    /// `__fill_map()`: the free objects of `s` (its freelist) in `bits`.
    ///
    /// # Safety
    ///
    /// `s` is kept (see the module documentation).
    unsafe fn free_map(&self, s: &SlabPage, bits: &mut [u64]) {
        bits.iter_mut().for_each(|b| *b = 0);
        let size = self.layout.size as usize;
        let objects = s.counters().objects() as usize;
        let mut p = s.pair.first();
        let mut n = 0;
        while p != 0 && n <= objects && self.check_valid_pointer(s, p) {
            let k = (p - s.base() as usize) / size;
            if let Some(b) = bits.get_mut(k / 64) {
                *b |= 1 << (k % 64);
            }
            // SAFETY: `p` is an object of `s` (checked), a slab of this cache
            // that stays (our caller's guarantee).
            p = unsafe { self.get_fp(p) };
            n += 1;
        }
    }

    /// `list_slab_objects()`: the objects of `s` still allocated at
    /// destroy, reported (one error for the slab, one per object).
    ///
    /// # Safety
    ///
    /// `s` is kept (see the module documentation).
    pub(super) unsafe fn list_slab_objects(&self, s: &SlabPage, bits: &mut [u64]) {
        self.count_error();
        self.slab_bug(format_args!("Objects remaining on __kmem_cache_shutdown()"));
        // SAFETY: `s` is kept (our caller's guarantee).
        unsafe { self.free_map(s, bits) };
        let size = self.layout.size as usize;
        for k in 0..s.counters().objects() as usize {
            if marked(bits, k) {
                continue;
            }
            let p = s.base() as usize + k * size;
            self.count_error();
            pr_err!("Object 0x{:016x} @offset={}\n", p, p - self.slab_start(s));
            // SAFETY: `p` is an object of `s`, which is kept.
            unsafe { self.print_tracking(p) };
        }
        self.print_slab_info(s);
    }

    /// The allocated objects' tracks of item `t` (for `alloc_calls` and
    /// `free_calls`): calls `f` with each object's track, under
    /// `list_lock` (so no slab comes or goes).
    pub(crate) fn for_each_track(&self, t: TrackItem, mut f: impl FnMut(&Track)) -> Result {
        if !self.has(SLAB_STORE_USER) {
            return Ok(());
        }
        self.flush_all();
        let mut bits = self.object_map()?;
        let me = self.as_owner();
        let size = self.layout.size as usize;
        // Node by node, each under its `list_lock` (slabs come and go
        // under it).
        for nid in 0..self.nodes.len() {
            let _n = self.node(nid).list.lock();
            self.pool.for_each_record_in(nid, |s| {
                if !s.is_head() || s.owner_here() != me {
                    return;
                }
                // SAFETY: `s` is a slab of this cache (the head of its pages,
                // owned by it) of node `nid`, whose `list_lock` is held, so
                // it is not discarded meanwhile: kept.
                unsafe { self.free_map(s, &mut bits) };
                for k in 0..s.counters().objects() as usize {
                    if marked(&bits, k) {
                        continue;
                    }
                    // SAFETY: the cache stores tracks (tested above), and
                    // this is an object of `s`, which is kept (as above).
                    f(&unsafe { self.track(s.base() as usize + k * size, t) });
                }
            });
        }
        Ok(())
    }
}
