// SPDX-License-Identifier: GPL-2.0
//! Reports, in SLUB's format: `slab_bug()`, `slab_fix()`, `slab_err()`,
//! `object_err()` with the object's trailer and tracks, `trace()`, a bad
//! free, and the objects left at destroy.

use super::{marked, Track, TrackItem, KERN_ERR, KERN_INFO};
use crate::{
    glue::{
        debug::{self as kdebug, print_section},
        kallsyms,
    },
    logic::slab::layout::{SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TRACE},
    slab::{Cache, Owner, SlabPage},
};
use core::fmt::Arguments;
use kernel::{bindings, prelude::*};

impl Cache {
    /// `slab_bug()`.
    pub(super) fn slab_bug(&self, what: Arguments<'_>) {
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
    pub(super) fn slab_fix(&self, what: Arguments<'_>) {
        self.count_error();
        pr_err!("FIX {}: {}\n", self.display_name(), what);
    }

    /// `print_slab_info()`.
    pub(super) fn print_slab_info(&self, s: &SlabPage) {
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
    pub(super) fn slab_err(&self, s: &SlabPage, what: Arguments<'_>) {
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
    /// `obj` is an object of a kept slab (see the `slab::debug` module).
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
    /// `s` is kept (see the `slab::debug` module), and `p` an object of it.
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
    /// `s` is kept (see the `slab::debug` module).
    pub(super) unsafe fn object_err_print(&self, s: &SlabPage, obj: usize, reason: &str) {
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
    pub(super) unsafe fn object_err(&self, s: &SlabPage, obj: usize, reason: &str) {
        self.count_error();
        // SAFETY: our caller's guarantee.
        unsafe { self.object_err_print(s, obj, reason) };
    }

    /// `trace()`.
    ///
    /// # Safety
    ///
    /// `obj` is an object of `s`, a kept slab (see the `slab::debug` module),
    /// that the caller is allocating or freeing.
    pub(super) unsafe fn trace(&self, s: &SlabPage, obj: usize, alloc: bool) {
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

    /// A free of `o`, which is not an object of this debug cache: reported
    /// as SLUB does (an address inside one of its slabs, an object of
    /// another cache, or no slab at all), and not freed.
    ///
    /// # Safety
    ///
    /// As for [`Cache::bad_free`].
    #[cold]
    pub(in super::super) unsafe fn debug_bad_free(&self, o: usize) {
        // SAFETY: the caller holds the allocation that contains `o`, if it
        // is in the pool (its guarantee), so its page stays.
        let rec = unsafe { self.pool.record_of_addr(o as *const u8) };
        let head = rec.map(|r| r.head_page());
        match head.map(|h| h.owner()) {
            Some(Owner::Slab(c)) if c == core::ptr::NonNull::from(self) => {
                if let Some(h) = head {
                    self.slab_err(h, format_args!("Invalid object pointer 0x{o:016x}"));
                    self.slab_fix(format_args!("Object at 0x{o:016x} not freed"));
                }
            }
            Some(Owner::Slab(c)) => {
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

    /// `list_slab_objects()`: the objects of `s` still allocated at
    /// destroy, reported (one error for the slab, one per object).
    ///
    /// # Safety
    ///
    /// `s` is kept (see the `slab::debug` module).
    pub(in super::super) unsafe fn list_slab_objects(&self, s: &SlabPage, bits: &mut [u64]) {
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
}
