// SPDX-License-Identifier: GPL-2.0
//! SLUB's checks of a debug cache: bytes that must hold a fill value
//! (`check_bytes_and_report()`, restored when they do not), an object's
//! red zones, poison, padding and free pointer (`check_object()`), a slab
//! (`check_slab()`, `slab_pad_check()`), its freelist (`on_freelist()`),
//! and a whole slab's validation (`validate_slab()`).

use super::{byte, fill, first_not, marked, KERN_ERR};
use crate::{
    glue::debug::print_section,
    logic::slab::layout::{
        self, POISON_END, POISON_FREE, POISON_INUSE, SLAB_POISON, SLAB_RED_ZONE, SLUB_RED_ACTIVE,
        SLUB_RED_INACTIVE,
    },
    slab::{Cache, SlabPage},
};
use kernel::{bindings, prelude::*};

impl Cache {
    /// `restore_bytes()`.
    ///
    /// # Safety
    ///
    /// `from..to` is metadata (red zone, padding, poison) of an object of a
    /// held slab (see the `slab::debug` module), or its padding past the
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
    /// `s` is held (see the `slab::debug` module), and `start..start +
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

    /// `check_pad_bytes()`.
    ///
    /// # Safety
    ///
    /// `s` is held (see the `slab::debug` module), and `p` an object of it.
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
    /// `s` is held (see the `slab::debug` module).
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
    /// `s` is held (see the `slab::debug` module), and `obj` an object of
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
    /// `s` is held (see the `slab::debug` module).
    pub(super) unsafe fn check_slab(&self, s: &SlabPage) -> bool {
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

    /// `on_freelist()`: whether `search` is on the slab's freelist (with 0:
    /// a check of the whole list and of `inuse`, repairing both).
    ///
    /// # Safety
    ///
    /// `s` is held (see the `slab::debug` module).
    pub(super) unsafe fn on_freelist(&self, s: &SlabPage, search: usize) -> bool {
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

    /// `validate_slab()` of a debug cache: the slab, its freelist (repaired
    /// if broken), then every object's red zones and poison as free or
    /// allocated. Under `list_lock`.
    ///
    /// # Safety
    ///
    /// `s` is held (see the `slab::debug` module).
    pub(in super::super) unsafe fn debug_validate_slab(&self, s: &SlabPage, bits: &mut [u64]) {
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
    /// `s` is kept (see the `slab::debug` module).
    pub(super) unsafe fn free_map(&self, s: &SlabPage, bits: &mut [u64]) {
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
}
