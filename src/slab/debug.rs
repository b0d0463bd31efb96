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
    fn slab_bytes(&self, s: &SlabPage) -> usize {
        // SAFETY: the caller holds the slab (under `list_lock`, or an object
        // of it), so its block stays.
        let order = unsafe { s.block_order() }.unwrap_or(0);
        (1usize << bindings::PAGE_SHIFT) << order
    }

    fn track_addr(&self, obj: usize, t: TrackItem) -> usize {
        obj + self.layout.info_end() as usize + t as usize * TRACK_SIZE as usize
    }

    /// The track `t` of `obj` (`get_track()`).
    pub(crate) fn track(&self, obj: usize, t: TrackItem) -> Track {
        // SAFETY: the track lies in the object's slot (layout with
        // `SLAB_STORE_USER`), mapped slab memory; a racing update gives a
        // mixed record, as in SLUB.
        unsafe { core::ptr::read_volatile(self.track_addr(obj, t) as *const Track) }
    }

    /// `set_track()`.
    fn set_track(&self, obj: usize, t: TrackItem, caller: kdebug::Caller) {
        let tr = Track {
            addr: caller.addr,
            handle: caller.handle,
            cpu: cpu::current() as i32,
            pid: kdebug::pid(),
            when: kdebug::jiffies(),
            ..Track::default()
        };
        // SAFETY: the track is this cache's metadata in `obj`'s slot.
        unsafe { core::ptr::write_volatile(self.track_addr(obj, t) as *mut Track, tr) };
    }

    /// `init_tracking()`.
    fn init_tracking(&self, obj: usize) {
        if self.has(SLAB_STORE_USER) {
            // SAFETY: both tracks are this cache's metadata.
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
    pub(crate) fn orig_size(&self, obj: usize) -> u32 {
        if !self.layout.orig_size() {
            return self.layout.object_size;
        }
        let a = obj + self.layout.orig_size_offset() as usize;
        // SAFETY: metadata of `obj`'s slot.
        let v = unsafe { core::ptr::read_volatile(a as *const u32) };
        v.clamp(1, self.layout.object_size)
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
    fn print_tracking(&self, obj: usize) {
        if !self.has(SLAB_STORE_USER) {
            return;
        }
        let now = kdebug::jiffies();
        self.print_track("Allocated", &self.track(obj, TrackItem::Alloc), now);
        self.print_track("Freed", &self.track(obj, TrackItem::Free), now);
    }

    /// `print_trailer()`.
    fn print_trailer(&self, s: &SlabPage, p: usize) {
        let l = &self.layout;
        let start = self.slab_start(s);
        self.print_tracking(p);
        self.print_slab_info(s);
        // SAFETY: `p` is an object of `s` (checked by the callers).
        let fp = unsafe { self.get_fp(p) };
        pr_err!(
            "Object 0x{:016x} @offset={} fp=0x{:016x}\n\n",
            p,
            p - start,
            fp
        );
        // SAFETY: every section lies inside the slab `s`, which is mapped.
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
    fn object_err_print(&self, s: &SlabPage, obj: usize, reason: &str) {
        self.slab_bug(format_args!("{reason}"));
        if obj == 0 || !self.check_valid_pointer(s, obj) {
            self.print_slab_info(s);
            pr_err!("Invalid pointer 0x{:016x}\n", obj);
        } else {
            self.print_trailer(s, obj);
        }
    }

    /// `object_err()`: counts.
    fn object_err(&self, s: &SlabPage, obj: usize, reason: &str) {
        self.count_error();
        self.object_err_print(s, obj, reason);
    }

    /// `restore_bytes()`.
    fn restore_bytes(&self, what: &str, val: u8, from: usize, to: usize) {
        self.slab_fix(format_args!(
            "Restoring {} 0x{:016x}-0x{:016x}=0x{:x}",
            what,
            from,
            to - 1,
            val
        ));
        // SAFETY: the range is metadata (red zone, padding, poison) of the
        // slab being checked, which its owner may not write.
        unsafe { fill(from, to - from, val) };
    }

    /// `check_bytes_and_report()`: `false` (after reporting and restoring)
    /// if `start..start + bytes` is not all `val`.
    #[allow(clippy::too_many_arguments)]
    fn check_bytes(
        &self,
        s: &SlabPage,
        obj: usize,
        what: &str,
        start: usize,
        val: u8,
        bytes: usize,
        print_obj: bool,
    ) -> bool {
        // SAFETY: the range lies in the slab `s`.
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
            self.object_err_print(s, obj, "Object corrupt");
        }
        self.restore_bytes(what, val, fault, end);
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
    fn init_object(&self, obj: usize, val: u8) {
        let l = &self.layout;
        let mut poison_size = l.object_size as usize;
        // The fills: red zones and poison are the cache's to write, as the
        // object is free, or being handed out or taken back.
        if self.has(SLAB_RED_ZONE) {
            let rlp = l.red_left_pad as usize;
            // SAFETY: the left red zone (see above).
            unsafe { fill(obj - rlp, rlp, val) };
            if l.orig_size() && val == SLUB_RED_ACTIVE {
                poison_size = self.orig_size(obj) as usize;
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
    fn check_pad_bytes(&self, s: &SlabPage, p: usize) -> bool {
        let l = &self.layout;
        let off = l.pad_offset();
        if l.size_from_object() == off {
            return true;
        }
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

    /// `slab_pad_check()`: the bytes past the last object.
    fn slab_pad_check(&self, s: &SlabPage) {
        if !self.has(SLAB_POISON) {
            return;
        }
        let start = self.slab_start(s);
        let length = self.slab_bytes(s);
        let remainder = length % self.layout.size as usize;
        if remainder == 0 {
            return;
        }
        let end = start + length;
        let pad = end - remainder;
        // SAFETY: inside the slab.
        let Some(fault) = (unsafe { first_not(pad, remainder, POISON_INUSE) }) else {
            return;
        };
        let mut e = end;
        // SAFETY: inside the slab.
        while e > fault && unsafe { byte(e - 1) } == POISON_INUSE {
            e -= 1;
        }
        self.slab_bug(format_args!(
            "Padding overwritten. 0x{:016x}-0x{:016x} @offset={}",
            fault,
            e - 1,
            fault - start
        ));
        // SAFETY: inside the slab.
        unsafe { print_section(KERN_ERR, c"Padding ", pad, remainder) };
        self.print_slab_info(s);
        self.restore_bytes("slab padding", POISON_INUSE, fault, e);
    }

    /// `check_object()`: `obj`'s red zones (`val`: active or inactive),
    /// poison, padding and free pointer.
    pub(super) fn check_object(&self, s: &SlabPage, obj: usize, val: u8) -> bool {
        let l = &self.layout;
        let osz = l.object_size as usize;
        let mut ret = true;
        if self.has(SLAB_RED_ZONE) {
            let rlp = l.red_left_pad as usize;
            if !self.check_bytes(s, obj, "Left Redzone", obj - rlp, val, rlp, ret) {
                ret = false;
            }
            let rz = l.inuse as usize - osz;
            if !self.check_bytes(s, obj, "Right Redzone", obj + osz, val, rz, ret) {
                ret = false;
            }
            if l.orig_size() && val == SLUB_RED_ACTIVE {
                let orig = self.orig_size(obj) as usize;
                if osz > orig
                    && !self.check_bytes(
                        s,
                        obj,
                        "kmalloc Redzone",
                        obj + orig,
                        val,
                        osz - orig,
                        ret,
                    )
                {
                    ret = false;
                }
            }
        } else if self.has(SLAB_POISON) && osz < l.inuse as usize {
            let n = l.inuse as usize - osz;
            if !self.check_bytes(s, obj, "Alignment padding", obj + osz, POISON_INUSE, n, ret) {
                ret = false;
            }
        }
        if self.has(SLAB_POISON) {
            if val != SLUB_RED_ACTIVE && l.object_poison() {
                if !self.check_bytes(s, obj, "Poison", obj, POISON_FREE, osz - 1, ret) {
                    ret = false;
                }
                if !self.check_bytes(s, obj, "End Poison", obj + osz - 1, POISON_END, 1, ret) {
                    ret = false;
                }
            }
            if !self.check_pad_bytes(s, obj) {
                ret = false;
            }
        }
        // The free pointer cannot be checked while an object that holds it
        // is in use.
        let outside = l.offset >= l.inuse;
        // SAFETY: `obj` is an object of `s`.
        let fp = unsafe { self.get_fp(obj) };
        if (outside || val != SLUB_RED_ACTIVE) && !self.check_valid_pointer(s, fp) {
            self.object_err(s, obj, "Freepointer corrupt");
            // SAFETY: the free pointer is the cache's metadata here.
            unsafe { self.set_fp(obj, 0) };
            ret = false;
        }
        ret
    }

    /// `check_slab()`.
    fn check_slab(&self, s: &SlabPage) -> bool {
        let c = s.counters();
        let maxobj = layout::order_objects(
            // SAFETY: the caller holds the slab.
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
        self.slab_pad_check(s);
        true
    }

    /// Sets a debug slab's `(freelist, inuse)` (under `list_lock`, which
    /// every change of a debug slab holds; the exchange keeps it atomic for
    /// lockless readers).
    fn set_slab(&self, s: &SlabPage, freelist: usize, inuse: u32, frozen: bool) {
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
    fn on_freelist(&self, s: &SlabPage, search: usize) -> bool {
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
                    self.object_err(s, object, "Freechain corrupt");
                    // SAFETY: `object` is a free object of `s` (checked).
                    unsafe { self.set_fp(object, 0) };
                    break;
                }
                self.slab_err(s, format_args!("Freepointer corrupt"));
                self.set_slab(s, 0, objects, s.counters().frozen());
                self.slab_fix(format_args!("Freelist cleared"));
                return false;
            }
            object = fp;
            // SAFETY: `object` is an object of `s` (checked above).
            fp = unsafe { self.get_fp(object) };
            nr += 1;
        }
        if nr > objects {
            self.slab_err(s, format_args!("Freelist cycle detected"));
            self.set_slab(s, 0, objects, s.counters().frozen());
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
            self.set_slab(s, s.pair.first(), objects - nr, c.frozen());
            self.slab_fix(format_args!("Object count adjusted"));
        }
        search == 0
    }

    /// `trace()`.
    fn trace(&self, s: &SlabPage, obj: usize, alloc: bool) {
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
            // SAFETY: the object being freed, mapped.
            unsafe { print_section(KERN_INFO, c"Object ", obj, self.layout.object_size as usize) };
        }
        // SAFETY: `dump_stack()` may be called from any context.
        unsafe { bindings::dump_stack() };
    }

    /// `setup_slab_debug()` and `setup_object_debug()` for a new slab of
    /// `objects` objects from `base` (its first object).
    pub(super) fn setup_slab_debug(&self, base: usize, bytes: usize, objects: u32) {
        let start = base - self.layout.red_left_pad as usize;
        if self.has(SLAB_POISON) {
            // SAFETY: the slab is new and the caller's alone.
            unsafe { fill(start, bytes, POISON_INUSE) };
        }
        if self.has(SLAB_STORE_USER | SLAB_RED_ZONE) || self.layout.object_poison() {
            for i in 0..objects as usize {
                let obj = base + i * self.layout.size as usize;
                self.init_object(obj, SLUB_RED_INACTIVE);
                self.init_tracking(obj);
            }
        }
    }

    /// `alloc_debug_processing()`: checks an object being handed out and
    /// marks it allocated; on a failed check the slab is disabled (all its
    /// objects marked used, frozen: never used again) and `false`.
    ///
    /// # Safety
    ///
    /// `s` is a slab of this cache, and `obj` an object of it that the
    /// caller has just taken off its freelist ([`Cache::take_object`]) and
    /// handed to nobody yet.
    unsafe fn alloc_debug_processing(&self, s: &SlabPage, obj: usize, orig_size: u32) -> bool {
        let ok = !self.has(SLAB_CONSISTENCY_CHECKS)
            || (self.check_slab(s) && self.check_object(s, obj, SLUB_RED_INACTIVE));
        if !ok {
            self.slab_fix(format_args!("Marking all objects used"));
            self.set_slab(s, 0, s.counters().objects(), true);
            return false;
        }
        self.trace(s, obj, true);
        // SAFETY: `obj` is an object of `s`, a slab of this cache, being
        // allocated by our caller, who holds it (its guarantee).
        unsafe { self.set_orig_size(obj, orig_size) };
        self.init_object(obj, SLUB_RED_ACTIVE);
        true
    }

    /// Takes the first free object of `s`, a slab the caller holds under
    /// `list_lock` or alone: `None` (and the slab disabled) if its freelist
    /// is corrupt.
    fn take_object(&self, s: &SlabPage) -> Option<usize> {
        let obj = s.pair.first();
        if obj == 0 || !self.check_valid_pointer(s, obj) {
            self.object_err(s, obj, "Freelist Pointer check fails");
            self.slab_fix(format_args!("Marking all objects used"));
            self.set_slab(s, 0, s.counters().objects(), true);
            return None;
        }
        // SAFETY: `obj` is a free object of `s` (checked), which the caller
        // holds.
        let next = unsafe { self.get_fp(obj) };
        self.set_slab(s, next, s.counters().inuse() + 1, false);
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
                let got = self.take_object(s).filter(|&o| {
                    // SAFETY: `s` was on this cache's node list, and `o` was
                    // just taken off its freelist by `take_object`, under
                    // `list_lock`, handed to nobody yet.
                    unsafe { self.alloc_debug_processing(s, o, orig_size) }
                });
                let c = s.counters();
                if got.is_none() || c.inuse() == c.objects() {
                    self.remove_partial(&mut n, s);
                }
                if let Some(o) = got {
                    drop(n);
                    self.stat(SlabStat::AllocFromPartial);
                    if self.has(SLAB_STORE_USER) {
                        self.set_track(o, TrackItem::Alloc, addr);
                    }
                    return o;
                }
            }
        }
        let Some(t) = self.new_slab(gfp, node) else {
            return 0;
        };
        self.stat(SlabStat::AllocSlab);
        let s = t.slab;
        // The new slab is ours alone: unfrozen, its whole freelist in it.
        self.set_slab(s, t.freelist, 0, false);
        let Some(o) = self.take_object(s).filter(|&o| {
            // SAFETY: `s` is the new slab of this cache made above, ours
            // alone, and `o` was just taken off its freelist by
            // `take_object`, handed to nobody yet.
            unsafe { self.alloc_debug_processing(s, o, orig_size) }
        }) else {
            return 0;
        };
        let c = s.counters();
        if c.inuse() < c.objects() {
            let mut n = self.node_of(s).list.lock();
            self.add_partial(&mut n, s, false);
        }
        if self.has(SLAB_STORE_USER) {
            self.set_track(o, TrackItem::Alloc, addr);
        }
        o
    }

    /// `free_debug_processing()`: checks an object being freed and marks it
    /// free; `false` (reported, and the object not freed) if it must not be
    /// freed.
    fn free_debug_processing(&self, s: &SlabPage, obj: usize, addr: kdebug::Caller) -> bool {
        let f = self.has(SLAB_CONSISTENCY_CHECKS);
        let ok = 'checks: {
            if f && !self.check_slab(s) {
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
            if self.on_freelist(s, obj) {
                self.object_err(s, obj, "Object already free");
                break 'checks false;
            }
            if f && !self.check_object(s, obj, SLUB_RED_ACTIVE) {
                break 'checks false;
            }
            true
        };
        if !ok {
            self.slab_fix(format_args!("Object at 0x{obj:016x} not freed"));
            return false;
        }
        if self.has(SLAB_STORE_USER) {
            self.set_track(obj, TrackItem::Free, addr);
        }
        self.trace(s, obj, false);
        self.init_object(obj, SLUB_RED_INACTIVE);
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
        if !self.free_debug_processing(s, obj, addr) {
            return;
        }
        let prior = s.pair.first();
        let c = s.counters();
        // SAFETY: `obj` is an object of `s` (checked above) that the caller
        // gave up: ours to link.
        unsafe { self.set_fp(obj, prior) };
        let inuse = c.inuse() - 1;
        self.set_slab(s, obj, inuse, c.frozen());
        let discard = inuse == 0 && n.nr_partial >= self.min_partial.load(Relaxed);
        if prior == 0 {
            // It was full, on no list.
            if !discard {
                self.add_partial(&mut n, s, true);
                self.stat(SlabStat::FreeAddPartial);
            }
        } else if discard {
            self.remove_partial(&mut n, s);
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
    #[cold]
    pub(super) fn debug_bad_free(&self, o: usize) {
        // SAFETY: only the record is read; it lives as long as the pool.
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
    pub(super) fn debug_validate_slab(&self, s: &SlabPage, bits: &mut [u64]) {
        if !self.check_slab(s) || !self.on_freelist(s, 0) {
            return;
        }
        self.free_map(s, bits);
        let size = self.layout.size as usize;
        for k in 0..s.counters().objects() as usize {
            let p = s.base() as usize + k * size;
            let free = marked(bits, k);
            let val = if free {
                SLUB_RED_INACTIVE
            } else {
                SLUB_RED_ACTIVE
            };
            if !self.check_object(s, p, val) {
                break;
            }
        }
    }

    /// `__fill_map()`: the free objects of `s` (its freelist) in `bits`.
    fn free_map(&self, s: &SlabPage, bits: &mut [u64]) {
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
            // SAFETY: `p` is an object of `s` (checked).
            p = unsafe { self.get_fp(p) };
            n += 1;
        }
    }

    /// `list_slab_objects()`: the objects of `s` still allocated at
    /// destroy, reported (one error for the slab, one per object).
    pub(super) fn list_slab_objects(&self, s: &SlabPage, bits: &mut [u64]) {
        self.count_error();
        self.slab_bug(format_args!("Objects remaining on __kmem_cache_shutdown()"));
        self.free_map(s, bits);
        let size = self.layout.size as usize;
        for k in 0..s.counters().objects() as usize {
            if marked(bits, k) {
                continue;
            }
            let p = s.base() as usize + k * size;
            self.count_error();
            pr_err!("Object 0x{:016x} @offset={}\n", p, p - self.slab_start(s));
            self.print_tracking(p);
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
                self.free_map(s, &mut bits);
                for k in 0..s.counters().objects() as usize {
                    if marked(&bits, k) {
                        continue;
                    }
                    f(&self.track(s.base() as usize + k * size, t));
                }
            });
        }
        Ok(())
    }
}
