// SPDX-License-Identifier: GPL-2.0
//! Slab cache geometry, as mm/slub.c and mm/slab_common.c of Linux 6.1
//! compute it: `calculate_alignment()`, `calculate_sizes()`,
//! `calc_slab_order()`/`calculate_order()`, `min_partial`,
//! `set_cpu_partial()`, and the kmalloc size classes of
//! `__kmalloc_index()`.

/// `SLAB_CONSISTENCY_CHECKS` (`slub_debug=F`): check slabs and objects on
/// every allocation and free.
pub const SLAB_CONSISTENCY_CHECKS: u32 = 0x0000_0100;
/// `SLAB_RED_ZONE`: a red zone around each object.
pub const SLAB_RED_ZONE: u32 = 0x0000_0400;
/// `SLAB_POISON`: poison freed objects.
pub const SLAB_POISON: u32 = 0x0000_0800;
/// `SLAB_HWCACHE_ALIGN`: align objects to cache lines.
pub const SLAB_HWCACHE_ALIGN: u32 = 0x0000_2000;
/// `SLAB_CACHE_DMA`: memory from ZONE_DMA.
pub const SLAB_CACHE_DMA: u32 = 0x0000_4000;
/// `SLAB_CACHE_DMA32`: memory from ZONE_DMA32.
pub const SLAB_CACHE_DMA32: u32 = 0x0000_8000;
/// `SLAB_NOLEAKTRACE`: kmemleak does not track the objects.
pub const SLAB_NOLEAKTRACE: u32 = 0x0080_0000;
/// `SLAB_STORE_USER`: store the last owner for debugging.
pub const SLAB_STORE_USER: u32 = 0x0001_0000;
/// `SLAB_RECLAIM_ACCOUNT`: objects are reclaimable.
pub const SLAB_RECLAIM_ACCOUNT: u32 = 0x0002_0000;
/// `SLAB_TYPESAFE_BY_RCU`: slabs are freed after an RCU grace period.
pub const SLAB_TYPESAFE_BY_RCU: u32 = 0x0008_0000;
/// `SLAB_TRACE` (`slub_debug=T`): log every allocation and free.
pub const SLAB_TRACE: u32 = 0x0020_0000;
/// `SLAB_KMALLOC`: a kmalloc cache; with [`SLAB_STORE_USER`] each object
/// records the size asked for (`orig_size`), and with [`SLAB_RED_ZONE`] the
/// bytes past it are red zone too.
pub const SLAB_KMALLOC: u32 = 0x0000_1000;
/// `SLAB_DEBUG_FLAGS`: the flags that make a debug cache (which takes the
/// slow paths, keeps no CPU partial list and no sheaves).
pub const SLAB_DEBUG_FLAGS: u32 =
    SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER | SLAB_TRACE | SLAB_CONSISTENCY_CHECKS;
/// `__OBJECT_POISON`: [`SLAB_POISON`] without RCU or a constructor (which
/// need a free object intact), so free objects are poisoned; set by
/// [`calculate_sizes`].
pub const OBJECT_POISON: u32 = 0x8000_0000;
/// `SLUB_RED_INACTIVE`: a free object's red zones.
pub const SLUB_RED_INACTIVE: u8 = 0xbb;
/// `SLUB_RED_ACTIVE`: an allocated object's red zones.
pub const SLUB_RED_ACTIVE: u8 = 0xcc;
/// `POISON_INUSE`: padding, and slab memory not yet handed out.
pub const POISON_INUSE: u8 = 0x5a;
/// `POISON_FREE`: a free object's bytes.
pub const POISON_FREE: u8 = 0x6b;
/// `POISON_END`: a free object's last byte.
pub const POISON_END: u8 = 0xa5;

/// `MAX_OBJS_PER_PAGE`: `slab.objects` is 15 bits.
pub const MAX_OBJS_PER_PAGE: u32 = 32767;
/// `MIN_PARTIAL`: the fewest partial slabs kept per node.
pub const MIN_PARTIAL: u32 = 5;
/// `MAX_PARTIAL`: the most `min_partial` can be by default.
pub const MAX_PARTIAL: u32 = 10;
/// `slub_max_order`'s default, `PAGE_ALLOC_COSTLY_ORDER`.
pub const SLUB_MAX_ORDER: u32 = 3;
/// `struct track` on 64-bit without stack depot: addr, cpu, pid, when.
pub const TRACK_SIZE: u32 = 32;
/// The `orig_size` field of a kmalloc debug object (an `unsigned int`).
pub const ORIG_SIZE_SIZE: u32 = 4;
/// `KMALLOC_MIN_SIZE` (8: no DMA alignment constraint on our targets).
pub const KMALLOC_MIN_SIZE: usize = 8;
/// `KMALLOC_SHIFT_HIGH` for 4 KiB pages: the largest kmalloc cache is 8 KiB.
pub const KMALLOC_SHIFT_HIGH: u32 = 13;
/// Pointer size.
const WORD: u32 = core::mem::size_of::<usize>() as u32;

/// What the machine looks like, for the geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    /// `PAGE_SHIFT`.
    pub page_shift: u32,
    /// `cache_line_size()`.
    pub cache_line: u32,
    /// `arch_slab_minalign()`.
    pub min_align: u32,
    /// `num_present_cpus()` (`nr_cpu_ids` is used if this is 1).
    pub present_cpus: u32,
    /// `nr_cpu_ids`.
    pub nr_cpu_ids: u32,
    /// `MAX_PAGE_ORDER`: the hard limit of a slab's order.
    pub max_page_order: u32,
}

/// Why a cache cannot be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// Object size 0.
    ZeroSize,
    /// The alignment is not a power of two (or is 0 where one is needed).
    BadAlign,
    /// Not even one object fits in a slab of `MAX_PAGE_ORDER`.
    TooBig,
    /// A free pointer offset (`kmem_cache_args.freeptr_offset`) on a cache
    /// that is neither `SLAB_TYPESAFE_BY_RCU` nor has a constructor, past
    /// the object, or not word-aligned.
    BadFreeptr,
}

/// A cache's geometry (the fields of `struct kmem_cache` it fixes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The size the user asked for (`object_size`).
    pub object_size: u32,
    /// The size of an object with its metadata, aligned (`size`).
    pub size: u32,
    /// Where the free pointer is stored in a free object (`offset`).
    pub offset: u32,
    /// Where the object's metadata starts (`inuse`).
    pub inuse: u32,
    /// The objects' alignment (`align`).
    pub align: u32,
    /// The left red zone (`red_left_pad`), 0 without `SLAB_RED_ZONE`.
    pub red_left_pad: u32,
    /// The slab order (`oo_order(s->oo)`).
    pub order: u32,
    /// The `SLAB_*` flags it was made for, with `__OBJECT_POISON` folded
    /// in as [`Layout::object_poison`].
    pub flags: u32,
    /// Objects per slab of that order (`oo_objects(s->oo)`).
    pub objects: u32,
    /// The smallest order that holds one object (`oo_order(s->min)`).
    pub min_order: u32,
    /// Objects per slab of `min_order` (`oo_objects(s->min)`).
    pub min_objects: u32,
    /// Partial slabs a node keeps even when empty (`min_partial`).
    pub min_partial: u32,
    /// Objects kept on a CPU's partial list (`cpu_partial`).
    pub cpu_partial: u32,
    /// Slabs on a CPU's partial list (`cpu_partial_slabs`).
    pub cpu_partial_slabs: u32,
}

const fn align_up(x: u32, a: u32) -> u32 {
    (x + a - 1) & !(a - 1)
}

/// `get_order()` for `size` bytes.
pub fn get_order(size: u64, page_shift: u32) -> u32 {
    super::super::page_pool::buddy::get_order(size as usize, page_shift)
}

/// `order_objects()`: objects of `size` in a slab of `order` (0 for size 0).
///
/// Divisions by a variable here use `checked_*`: besides handling 0, that
/// keeps panic paths out of the kernel object (objtool of Linux 7.3 does not
/// know that `panic_const_div_by_zero` does not return).
pub fn order_objects(order: u32, size: u32, page_shift: u32) -> u32 {
    ((1u64 << page_shift) << order)
        .checked_div(u64::from(size))
        .unwrap_or(0) as u32
}

/// `calculate_alignment()`: the objects' alignment for `flags`, the
/// requested `align` and the object `size`.
pub fn calculate_alignment(flags: u32, align: u32, size: u32, m: &Machine) -> u32 {
    let mut align = align;
    if flags & SLAB_HWCACHE_ALIGN != 0 {
        let mut ralign = m.cache_line;
        while size <= ralign / 2 {
            ralign /= 2;
        }
        align = align.max(ralign);
    }
    align = align.max(m.min_align);
    align_up(align, WORD)
}

/// `calc_slab_order()`: the smallest order from which `min_objects`
/// objects fit with at most `1/fract_leftover` of the slab wasted, up to
/// `max_order` (a result above it means "none").
pub fn calc_slab_order(
    size: u32,
    min_objects: u32,
    max_order: u32,
    fract_leftover: u32,
    page_shift: u32,
) -> u32 {
    let min_order = 0;
    if order_objects(min_order, size, page_shift) > MAX_OBJS_PER_PAGE {
        return get_order(u64::from(size) * u64::from(MAX_OBJS_PER_PAGE), page_shift) - 1;
    }
    let mut order = min_order.max(get_order(
        u64::from(min_objects) * u64::from(size),
        page_shift,
    ));
    while order <= max_order {
        let slab_size = (1u64 << page_shift) << order;
        let rem = slab_size.checked_rem(u64::from(size)).unwrap_or(0);
        if rem
            <= slab_size
                .checked_div(u64::from(fract_leftover))
                .unwrap_or(0)
        {
            break;
        }
        order += 1;
    }
    order
}

/// `calculate_order()`: first try for at least `4 * (fls(cpus) + 1)`
/// objects with waste of at most 1/16, then 1/8, then 1/4; then fewer
/// objects; then one object up to `SLUB_MAX_ORDER`; then one object up to
/// `MAX_PAGE_ORDER`. `None` if even that does not fit.
pub fn calculate_order(size: u32, m: &Machine) -> Option<u32> {
    let nr_cpus = if m.present_cpus <= 1 {
        m.nr_cpu_ids
    } else {
        m.present_cpus
    };
    let fls = u32::BITS - nr_cpus.leading_zeros();
    let mut min_objects = 4 * (fls + 1);
    let max_objects = order_objects(SLUB_MAX_ORDER, size, m.page_shift);
    min_objects = min_objects.min(max_objects);
    while min_objects > 1 {
        let mut fraction = 16;
        while fraction >= 4 {
            let order = calc_slab_order(size, min_objects, SLUB_MAX_ORDER, fraction, m.page_shift);
            if order <= SLUB_MAX_ORDER {
                return Some(order);
            }
            fraction /= 2;
        }
        min_objects -= 1;
    }
    let order = calc_slab_order(size, 1, SLUB_MAX_ORDER, 1, m.page_shift);
    if order <= SLUB_MAX_ORDER {
        return Some(order);
    }
    // The kernel's `order < MAX_ORDER` (6.1's MAX_ORDER counts orders).
    let order = calc_slab_order(size, 1, m.max_page_order, 1, m.page_shift);
    (order <= m.max_page_order).then_some(order)
}

/// `set_cpu_partial()`: objects kept on a CPU's partial list by size.
pub fn cpu_partial_objects(size: u32, page_size: u32, has_cpu_partial: bool) -> u32 {
    if !has_cpu_partial {
        0
    } else if size >= page_size {
        6
    } else if size >= 1024 {
        24
    } else if size >= 256 {
        52
    } else {
        120
    }
}

/// `slub_set_cpu_partial()`: the slab limit for `nr_objects` on a CPU's
/// partial list, assuming half-full slabs.
///
/// `nr_objects` comes from userspace (`cpu_partial`): computed in 64 bits, so
/// any `u32` is fine, and capped at `u32::MAX` slabs.
pub fn cpu_partial_slabs(nr_objects: u32, objects_per_slab: u32) -> u32 {
    let slabs = (u64::from(nr_objects) * 2).div_ceil(u64::from(objects_per_slab.max(1)));
    u32::try_from(slabs).unwrap_or(u32::MAX)
}

/// `calculate_sizes()` plus what `kmem_cache_open()` derives from them.
/// `freeptr_offset` is a free pointer offset of the cache's choosing (7.3's
/// `kmem_cache_args.freeptr_offset` with `use_freeptr_offset`): for a
/// `SLAB_TYPESAFE_BY_RCU` or constructor cache, the free pointer at that
/// offset inside the object instead of after it (`create_cache()`'s
/// checks: below `object_size`, word-aligned, such a cache).
pub fn calculate_sizes(
    object_size: u32,
    align: u32,
    flags: u32,
    has_ctor: bool,
    freeptr_offset: Option<u32>,
    m: &Machine,
) -> Result<Layout, LayoutError> {
    if object_size == 0 {
        return Err(LayoutError::ZeroSize);
    }
    if let Some(off) = freeptr_offset {
        if off >= object_size || off % WORD != 0 || (flags & SLAB_TYPESAFE_BY_RCU == 0 && !has_ctor)
        {
            return Err(LayoutError::BadFreeptr);
        }
    }
    if align != 0 && !align.is_power_of_two() {
        return Err(LayoutError::BadAlign);
    }
    if object_size > u32::MAX / 4 {
        return Err(LayoutError::TooBig);
    }
    // No object fits a slab aligned beyond the largest block (and the sums
    // below stay far from overflowing `u32`).
    if u64::from(align) > (1u64 << m.page_shift) << m.max_page_order {
        return Err(LayoutError::TooBig);
    }
    let align = calculate_alignment(flags, align, object_size, m);
    let mut flags = flags & !OBJECT_POISON;
    if flags & SLAB_POISON != 0 && flags & SLAB_TYPESAFE_BY_RCU == 0 && !has_ctor {
        flags |= OBJECT_POISON;
    }
    // As 7.3's `calculate_sizes()` (without KASAN and object extensions).
    let mut size = align_up(object_size, WORD);
    if flags & SLAB_RED_ZONE != 0 && size == object_size {
        size += WORD;
    }
    let inuse = size;
    let orig_size = flags & SLAB_STORE_USER != 0 && flags & SLAB_KMALLOC != 0;
    let offset;
    if (flags & SLAB_TYPESAFE_BY_RCU != 0 && freeptr_offset.is_none())
        || flags & SLAB_POISON != 0
        || (has_ctor && freeptr_offset.is_none())
        || (flags & SLAB_RED_ZONE != 0 && (object_size < WORD || orig_size))
    {
        // The object must stay intact while free: the pointer goes after it.
        offset = size;
        size += WORD;
    } else if let Some(off) = freeptr_offset {
        // (An RCU or constructor cache, checked above.)
        offset = off;
    } else {
        // In the middle of the object, away from likely overflows.
        offset = (object_size / 2) & !(WORD - 1);
    }
    if flags & SLAB_STORE_USER != 0 {
        size += 2 * TRACK_SIZE;
        if flags & SLAB_KMALLOC != 0 {
            size += ORIG_SIZE_SIZE;
        }
    }
    let mut red_left_pad = 0;
    if flags & SLAB_RED_ZONE != 0 {
        // A mandatory word of padding, then the left red zone.
        size += WORD;
        red_left_pad = align_up(WORD, align);
        size += red_left_pad;
    }
    let size = align_up(size, align);
    let order = calculate_order(size, m).ok_or(LayoutError::TooBig)?;
    let objects = order_objects(order, size, m.page_shift);
    if objects == 0 {
        return Err(LayoutError::TooBig);
    }
    let min_order = get_order(u64::from(size), m.page_shift);
    let ilog2 = u32::BITS - 1 - size.leading_zeros();
    let min_partial = (ilog2 / 2).clamp(MIN_PARTIAL, MAX_PARTIAL);
    let page_size = 1u32 << m.page_shift;
    // SLUB has no CPU partial lists for debug caches.
    let has_cpu_partial = flags & SLAB_DEBUG_FLAGS == 0;
    let cpu_partial = cpu_partial_objects(size, page_size, has_cpu_partial);
    Ok(Layout {
        object_size,
        size,
        offset,
        inuse,
        align,
        red_left_pad,
        order,
        flags,
        objects,
        min_order,
        min_objects: order_objects(min_order, size, m.page_shift),
        min_partial,
        cpu_partial,
        cpu_partial_slabs: cpu_partial_slabs(cpu_partial, objects),
    })
}

impl Layout {
    /// `__OBJECT_POISON`: free objects are poisoned (`SLAB_POISON` without
    /// RCU or a constructor, which need a free object intact).
    pub const fn object_poison(&self) -> bool {
        self.flags & OBJECT_POISON != 0
    }

    /// Whether this is a debug cache (`kmem_cache_debug()`).
    pub const fn debug(&self) -> bool {
        self.flags & SLAB_DEBUG_FLAGS != 0
    }

    /// `slub_debug_orig_size()`: objects record the size asked for.
    pub const fn orig_size(&self) -> bool {
        self.flags & SLAB_STORE_USER != 0 && self.flags & SLAB_KMALLOC != 0
    }

    /// `get_info_end()`: where the tracking data starts, from the object.
    pub const fn info_end(&self) -> u32 {
        if self.offset >= self.inuse {
            self.inuse + WORD
        } else {
            self.inuse
        }
    }

    /// Where the `orig_size` word is, from the object.
    pub const fn orig_size_offset(&self) -> u32 {
        self.info_end() + 2 * TRACK_SIZE
    }

    /// Where the metadata ends and the padding checked by
    /// `check_pad_bytes()` starts, from the object.
    pub const fn pad_offset(&self) -> u32 {
        let mut off = self.info_end();
        if self.flags & SLAB_STORE_USER != 0 {
            off += 2 * TRACK_SIZE;
            if self.flags & SLAB_KMALLOC != 0 {
                off += ORIG_SIZE_SIZE;
            }
        }
        off
    }

    /// `size_from_object()`: a slot's bytes from the object on.
    pub const fn size_from_object(&self) -> u32 {
        self.size - self.red_left_pad
    }

    /// `slab_ksize()`: the bytes of an object its user may use.
    pub const fn ksize(&self, has_ctor: bool) -> u32 {
        if self.flags & (SLAB_RED_ZONE | SLAB_POISON) != 0 {
            self.object_size
        } else if self.flags & (SLAB_TYPESAFE_BY_RCU | SLAB_STORE_USER) != 0 || has_ctor {
            self.inuse
        } else {
            self.size
        }
    }
}

/// `calculate_sheaf_capacity()` of mm/slub.c (7.3): objects per sheaf for
/// objects of `size` bytes (the slot size), about half what the CPU partial
/// list held, rounded up so that a sheaf (a 32-byte header and a pointer per
/// object) fills its kmalloc bucket exactly.
pub fn sheaf_capacity(size: u32, page_size: u32) -> u32 {
    if size >= page_size {
        4
    } else if size >= 1024 {
        12
    } else if size >= 256 {
        28
    } else {
        60
    }
}

/// The reciprocal of an object size for [`obj_index`]: `ceil(2^64 / size)`
/// (`reciprocal_value()` of `obj_to_index()`, in 64 bits so that it is
/// exact for every offset of a slab). `size` is at least 2.
pub const fn obj_reciprocal(size: u32) -> u64 {
    let d = if size < 2 { 2 } else { size as u64 };
    u64::MAX / d + 1
}

/// `obj_to_index()`: `off / size` by a multiply with `recip`
/// ([`obj_reciprocal`]`(size)`), no division. Exact for `off < 2^32`: with
/// `recip * size = 2^64 + e`, `e < size`, the error `off * e / 2^64` stays
/// below `1 / size`.
#[inline(always)]
pub const fn obj_index(off: usize, recip: u64) -> usize {
    ((off as u128).wrapping_mul(recip as u128) >> 64) as usize
}

/// `kmalloc_size_index[]`: the class of a request of up to 192 bytes, by
/// `(size - 1) / 8` (`size_index_elem()`).
const KMALLOC_SIZE_INDEX: [u8; 24] = [
    3, 4, 5, 5, 6, 6, 6, 6, 1, 1, 1, 1, 7, 7, 7, 7, 2, 2, 2, 2, 2, 2, 2, 2,
];

/// `kmalloc_slab()`'s index with `KMALLOC_MIN_SIZE` 8 (as
/// `__kmalloc_index()`): the kmalloc class of a request of `size` bytes; 0
/// for size 0 (`ZERO_SIZE_PTR`), `None` above the largest class (such
/// requests go to the page allocator). Up to 192 bytes a table lookup, as
/// the kernel's.
#[inline(always)]
pub fn kmalloc_index(size: usize) -> Option<u32> {
    if size == 0 {
        return Some(0);
    }
    if let Some(&i) = KMALLOC_SIZE_INDEX.get((size - 1) / KMALLOC_MIN_SIZE) {
        return Some(u32::from(i));
    }
    if size > 1 << KMALLOC_SHIFT_HIGH {
        return None;
    }
    // The smallest power of two >= size.
    Some(usize::BITS - (size - 1).leading_zeros())
}

/// The object size of kmalloc class `index` (`kmalloc_info[]`).
pub fn kmalloc_size(index: u32) -> usize {
    match index {
        0 => 0,
        1 => 96,
        2 => 192,
        n => 1 << n,
    }
}

/// The kmalloc classes that exist, smallest index first: 8, 16, 32, 64, 96,
/// 128, 192, 256, ..., 8192 (as `kmalloc-<size>`).
pub const KMALLOC_INDICES: [u32; 13] = [3, 4, 5, 6, 1, 7, 2, 8, 9, 10, 11, 12, 13];

/// `freelist_ptr()` with `CONFIG_SLAB_FREELIST_HARDENED`: a free pointer
/// stored at `ptr_addr` is kept as `ptr ^ random ^ swab(ptr_addr)`, so a
/// leaked or overwritten freelist pointer is useless without the cache's
/// secret. The same function decodes.
#[inline]
pub const fn freelist_ptr(ptr: usize, random: usize, ptr_addr: usize) -> usize {
    freelist_ptr_swabbed(ptr, random, ptr_addr.swap_bytes())
}

/// [`freelist_ptr`] given `swab(ptr_addr)` (which the kernel side computes
/// with the CPU's byte-reverse instruction where it has one).
#[inline(always)]
pub const fn freelist_ptr_swabbed(ptr: usize, random: usize, swabbed_addr: usize) -> usize {
    ptr ^ random ^ swabbed_addr
}

/// `freelist_randomize()`: fills `seq` with a random permutation of
/// `0..seq.len()` (the cache's precomputed random sequence).
pub fn freelist_randomize(seq: &mut [u32], rng: &mut super::super::rand::XorShift64) {
    for (i, s) in seq.iter_mut().enumerate() {
        *s = i as u32;
    }
    rng.shuffle(seq);
}

/// `shuffle_freelist()`'s walk: the object order of a new slab of `objects`
/// objects, starting at position `start` of the cache's sequence `seq` and
/// skipping entries at or past `objects` (the sequence is made for the
/// largest slab). Yields object indices.
pub fn shuffled_order(seq: &[u32], objects: u32, start: usize) -> impl Iterator<Item = u32> + '_ {
    let n = seq.len();
    (0..n)
        .filter_map(move |i| seq.get((start + i).checked_rem(n)?).copied())
        .filter(move |&o| o < objects)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::rand::XorShift64;
    use std::vec::Vec;

    #[test]
    fn sheaf_capacity_fills_a_kmalloc_bucket_as_in_7_3() {
        // The kernel's formula: header 32 bytes + 8 per object, rounded up
        // to a kmalloc size, then as many objects as fit.
        for (size, raw) in [
            (8u32, 60u32),
            (255, 60),
            (256, 26),
            (1023, 26),
            (1024, 12),
            (4095, 12),
            (4096, 4),
            (8192, 4),
        ] {
            let bytes = 32 + 8 * raw;
            let bucket = [64u32, 96, 128, 192, 256, 512, 1024]
                .into_iter()
                .find(|&b| b >= bytes)
                .unwrap();
            assert_eq!(sheaf_capacity(size, 4096), (bucket - 32) / 8, "size {size}");
        }
    }

    #[test]
    fn obj_index_is_exact_division() {
        let mut rng = XorShift64::new(7);
        let sizes = (8u32..=4200).chain([8192, 65536, 1 << 21, (1 << 22) - 8, 1 << 22, u32::MAX]);
        for size in sizes {
            let r = obj_reciprocal(size);
            let s = size as usize;
            // Every object boundary and its neighbours in a 4 MiB slab.
            for k in (0..(4usize << 20) / s + 2).step_by(1 + (4 << 20) / s / 512) {
                for off in [k * s, (k * s).saturating_sub(1), k * s + 1] {
                    assert_eq!(obj_index(off, r), off / s, "size {size} off {off}");
                }
            }
            // And random offsets below 2^32.
            for _ in 0..200 {
                let off = (rng.next_u64() as usize) & 0xffff_ffff;
                assert_eq!(obj_index(off, r), off / s, "size {size} off {off}");
            }
        }
    }

    const M2: Machine = Machine {
        page_shift: 12,
        cache_line: 64,
        min_align: 8,
        present_cpus: 2,
        nr_cpu_ids: 2,
        max_page_order: 10,
    };

    fn kmalloc(size: u32) -> Layout {
        calculate_sizes(size, 0, 0, false, None, &M2).unwrap()
    }

    #[test]
    fn kmalloc_caches_look_like_slubs_on_two_cpus() {
        // Two CPUs: min_objects = 4 * (fls(2) + 1) = 12.
        let l = kmalloc(64);
        assert_eq!((l.size, l.order, l.objects, l.offset), (64, 0, 64, 32));
        assert_eq!(kmalloc(96).objects, 42);
        assert_eq!(kmalloc(192).objects, 21);
        assert_eq!((kmalloc(512).order, kmalloc(512).objects), (1, 16));
        assert_eq!((kmalloc(1024).order, kmalloc(1024).objects), (2, 16));
        assert_eq!((kmalloc(8192).order, kmalloc(8192).objects), (3, 4));
        assert_eq!(kmalloc(8).min_partial, MIN_PARTIAL);
        assert_eq!(kmalloc(8192).min_partial, 6);
        assert_eq!(
            (kmalloc(8).cpu_partial, kmalloc(256).cpu_partial),
            (120, 52)
        );
        assert_eq!(
            (kmalloc(1024).cpu_partial, kmalloc(4096).cpu_partial),
            (24, 6)
        );
        // 120 objects, half-full slabs of 512 objects: one slab.
        assert_eq!(kmalloc(8).cpu_partial_slabs, 1);
        assert_eq!(kmalloc(4096).cpu_partial_slabs, 2);
    }

    #[test]
    fn more_cpus_ask_for_more_objects_per_slab() {
        let m = Machine {
            present_cpus: 64,
            nr_cpu_ids: 64,
            ..M2
        };
        // min_objects = 4 * (7 + 1) = 32: kmalloc-1k goes to order 3.
        assert_eq!(
            calculate_sizes(1024, 0, 0, false, None, &m).unwrap().order,
            3
        );
        // One present CPU: nr_cpu_ids is trusted instead.
        let m1 = Machine {
            present_cpus: 1,
            nr_cpu_ids: 64,
            ..M2
        };
        assert_eq!(calculate_order(1024, &m1), calculate_order(1024, &m));
    }

    #[test]
    fn free_pointer_goes_after_the_object_when_it_must_stay_intact() {
        let plain = calculate_sizes(40, 0, 0, false, None, &M2).unwrap();
        assert_eq!((plain.offset, plain.size), (16, 40));
        let ctor = calculate_sizes(40, 0, 0, true, None, &M2).unwrap();
        assert_eq!((ctor.offset, ctor.size, ctor.inuse), (40, 48, 40));
        let rcu = calculate_sizes(40, 0, SLAB_TYPESAFE_BY_RCU, false, None, &M2).unwrap();
        assert_eq!(rcu.offset, 40);
        let poison = calculate_sizes(40, 0, SLAB_POISON, false, None, &M2).unwrap();
        assert_eq!(poison.offset, 40);
        assert_eq!(poison.cpu_partial, 0);
    }

    #[test]
    fn a_chosen_free_pointer_offset_keeps_rcu_and_ctor_objects_small() {
        // Inside the object: no word after it.
        let rcu = calculate_sizes(40, 0, SLAB_TYPESAFE_BY_RCU, false, Some(8), &M2).unwrap();
        assert_eq!((rcu.offset, rcu.size, rcu.inuse), (8, 40, 40));
        assert!(rcu.info_end() == rcu.inuse);
        let ctor = calculate_sizes(40, 0, 0, true, Some(0), &M2).unwrap();
        assert_eq!((ctor.offset, ctor.size), (0, 40));
        // Refused as create_cache() refuses: a plain cache, past the object,
        // unaligned.
        for (flags, ctor, off) in [
            (0, false, 8),
            (SLAB_TYPESAFE_BY_RCU, false, 40),
            (0, true, 4),
        ] {
            assert_eq!(
                calculate_sizes(40, 0, flags, ctor, Some(off), &M2),
                Err(LayoutError::BadFreeptr)
            );
        }
        // Poisoning still moves it out (the object is poison while free).
        let p = calculate_sizes(
            40,
            0,
            SLAB_TYPESAFE_BY_RCU | SLAB_POISON,
            false,
            Some(8),
            &M2,
        )
        .unwrap();
        assert_eq!(p.offset, 40);
    }

    #[test]
    fn alignment_follows_hwcache_and_requests() {
        assert_eq!(calculate_alignment(SLAB_HWCACHE_ALIGN, 0, 100, &M2), 64);
        // Small objects share a line: 20 bytes align to 32.
        assert_eq!(calculate_alignment(SLAB_HWCACHE_ALIGN, 0, 20, &M2), 32);
        assert_eq!(calculate_alignment(0, 128, 20, &M2), 128);
        assert_eq!(calculate_alignment(0, 2, 20, &M2), 8);
        let l = calculate_sizes(100, 0, SLAB_HWCACHE_ALIGN, false, None, &M2).unwrap();
        assert_eq!((l.size, l.align), (128, 64));
        let l = calculate_sizes(24, 256, 0, false, None, &M2).unwrap();
        assert_eq!(l.size % 256, 0);
    }

    #[test]
    fn red_zone_and_store_user_add_their_metadata() {
        let l = calculate_sizes(64, 0, SLAB_RED_ZONE | SLAB_STORE_USER, false, None, &M2).unwrap();
        // 64 + 8 (right red zone, size == object_size) ... + 2 tracks +
        // 8 (redzone word) + 8 (left pad).
        assert_eq!(l.red_left_pad, 8);
        assert_eq!(l.inuse, 72);
        assert_eq!(l.size, 72 + 64 + 8 + 8);
        assert_eq!((l.info_end(), l.pad_offset()), (72, 136));
        assert_eq!(l.size_from_object(), 144);
    }

    #[test]
    fn debug_layouts_match_slub_7_3() {
        // The slub_kunit caches, as 7.3's `calculate_sizes()` lays them out
        // on x86_64 (object_size/size/offset/inuse/red_left_pad).
        let cases = [
            (64, SLAB_RED_ZONE, (88, 32, 72, 8, 72)),
            (64, SLAB_POISON, (72, 64, 64, 0, 72)),
            (
                32,
                SLAB_KMALLOC | SLAB_STORE_USER | SLAB_RED_ZONE,
                (136, 40, 40, 8, 116),
            ),
            (
                64,
                SLAB_KMALLOC | SLAB_STORE_USER | SLAB_RED_ZONE,
                (168, 72, 72, 8, 148),
            ),
            (
                64,
                SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER,
                (160, 72, 72, 8, 144),
            ),
        ];
        for (object_size, flags, (size, offset, inuse, rlp, pad)) in cases {
            let l = calculate_sizes(object_size, 0, flags, false, None, &M2).unwrap();
            assert_eq!(
                (l.size, l.offset, l.inuse, l.red_left_pad, l.pad_offset()),
                (size, offset, inuse, rlp, pad),
                "{object_size} {flags:#x}"
            );
            assert!(l.debug());
            assert_eq!(l.cpu_partial, 0);
        }
        let p = calculate_sizes(64, 0, SLAB_POISON, false, None, &M2).unwrap();
        assert!(p.object_poison());
        // A constructor or RCU needs the free object intact: no poison.
        assert!(!calculate_sizes(64, 0, SLAB_POISON, true, None, &M2)
            .unwrap()
            .object_poison());
        let r = SLAB_POISON | SLAB_TYPESAFE_BY_RCU;
        assert!(!calculate_sizes(64, 0, r, false, None, &M2)
            .unwrap()
            .object_poison());
        assert!(!calculate_sizes(64, 0, 0, false, None, &M2).unwrap().debug());
        // `slab_ksize()`.
        assert_eq!(p.ksize(false), 64);
        let u = calculate_sizes(60, 0, SLAB_STORE_USER, false, None, &M2).unwrap();
        assert_eq!(u.ksize(false), u.inuse);
        let plain = calculate_sizes(60, 0, 0, false, None, &M2).unwrap();
        assert_eq!((plain.ksize(false), plain.ksize(true)), (64, 64));
    }

    #[test]
    fn bad_requests_are_rejected() {
        assert_eq!(
            calculate_sizes(0, 0, 0, false, None, &M2),
            Err(LayoutError::ZeroSize)
        );
        assert_eq!(
            calculate_sizes(64, 3, 0, false, None, &M2),
            Err(LayoutError::BadAlign)
        );
        assert_eq!(
            calculate_sizes(64, 48, 0, false, None, &M2),
            Err(LayoutError::BadAlign)
        );
        // 4 MiB fits one object at MAX_PAGE_ORDER; one byte more does not.
        assert_eq!(
            calculate_sizes(4 << 20, 0, 0, false, None, &M2)
                .unwrap()
                .order,
            10
        );
        assert_eq!(
            calculate_sizes((4 << 20) + 1, 0, 0, false, None, &M2),
            Err(LayoutError::TooBig)
        );
        assert_eq!(
            calculate_sizes(u32::MAX, 0, 0, false, None, &M2),
            Err(LayoutError::TooBig)
        );
    }

    #[test]
    fn every_layout_keeps_its_promises() {
        for size in (1..=20000u32).step_by(7) {
            for flags in [0, SLAB_HWCACHE_ALIGN, SLAB_POISON | SLAB_RED_ZONE] {
                for ctor in [false, true] {
                    let l = calculate_sizes(size, 0, flags, ctor, None, &M2).unwrap();
                    assert!(l.size >= l.object_size && l.size % l.align == 0);
                    assert!(l.offset + WORD <= l.size, "{l:?}");
                    assert!(l.objects >= 1 && l.objects * l.size <= 4096 << l.order);
                    // Waste stays within 1/4 whenever several objects fit at
                    // the order chosen (calculate_order's promise).
                    if l.objects >= 4 && l.order <= SLUB_MAX_ORDER {
                        let slab = 4096u32 << l.order;
                        assert!((slab % l.size) * 4 <= slab, "{l:?}");
                    }
                    if ctor || flags & SLAB_POISON != 0 {
                        assert!(l.offset >= l.object_size);
                    }
                }
            }
        }
    }

    #[test]
    fn kmalloc_index_matches_the_kernel_for_every_size() {
        let expect = |size: usize| -> u32 {
            match size {
                0 => 0,
                1..=8 => 3,
                9..=16 => 4,
                17..=32 => 5,
                33..=64 => 6,
                65..=96 => 1,
                97..=128 => 7,
                129..=192 => 2,
                193..=256 => 8,
                257..=512 => 9,
                513..=1024 => 10,
                1025..=2048 => 11,
                2049..=4096 => 12,
                _ => 13,
            }
        };
        for size in 0..=8192 {
            let i = kmalloc_index(size).unwrap();
            assert_eq!(i, expect(size), "size {size}");
            assert!(kmalloc_size(i) >= size);
        }
        assert_eq!(kmalloc_index(8193), None);
        let sizes: Vec<usize> = KMALLOC_INDICES.iter().map(|&i| kmalloc_size(i)).collect();
        assert!(sizes.windows(2).all(|w| w[0] < w[1]));
        assert_eq!((sizes[0], *sizes.last().unwrap()), (8, 8192));
    }

    #[test]
    fn freelist_pointers_round_trip_and_hide_the_pointer() {
        let random = 0x1234_5678_9abc_def0;
        for (ptr, at) in [
            (0xffff_8880_0100_0040usize, 0xffff_8880_0100_0000usize),
            (0, 0xffff_8880_0200_0010),
        ] {
            let enc = freelist_ptr(ptr, random, at);
            assert_ne!(enc, ptr);
            assert_eq!(freelist_ptr(enc, random, at), ptr);
        }
        // The same pointer stored at two places encodes differently.
        assert_ne!(
            freelist_ptr(0x1000, random, 0x2000),
            freelist_ptr(0x1000, random, 0x3000)
        );
    }

    #[test]
    fn shuffled_slabs_visit_every_object_once() {
        let mut seq = [0u32; 64];
        freelist_randomize(&mut seq, &mut XorShift64::new(9));
        for objects in [1u32, 21, 64] {
            for start in [0usize, 17, 63] {
                let mut seen: Vec<u32> = shuffled_order(&seq, objects, start).collect();
                assert_eq!(seen.len() as u32, objects);
                seen.sort();
                assert!(seen.iter().enumerate().all(|(i, &o)| o == i as u32));
            }
        }
        let walk: Vec<u32> = shuffled_order(&seq, 64, 0).collect();
        assert_ne!(walk, (0..64).collect::<Vec<_>>());
    }

    #[test]
    fn numbers_from_userspace_cannot_overflow() {
        // `cpu_partial` takes any u32 from sysfs.
        assert_eq!(cpu_partial_slabs(u32::MAX, 1), u32::MAX);
        assert_eq!(cpu_partial_slabs(u32::MAX, 0), u32::MAX);
        assert_eq!(cpu_partial_slabs(1 << 31, 64), 1 << 26);
        assert_eq!(cpu_partial_slabs(u32::MAX, u32::MAX), 2);
        // `create` takes any u32 size and alignment.
        let m = M2;
        for size in [
            1,
            8,
            4096,
            u32::MAX / 4,
            u32::MAX / 4 + 1,
            u32::MAX - 1,
            u32::MAX,
        ] {
            for align in [0, 8, 1 << 12, 1 << 22, 1 << 23, 1 << 30, 1 << 31] {
                for flags in [
                    0,
                    SLAB_HWCACHE_ALIGN,
                    SLAB_RED_ZONE | SLAB_STORE_USER | SLAB_POISON,
                ] {
                    let _ = calculate_sizes(size, align, flags, true, None, &m);
                    let _ = calculate_sizes(size, align, flags, false, None, &m);
                }
            }
        }
        assert_eq!(
            calculate_sizes(8, 1 << 31, 0, false, None, &m),
            Err(LayoutError::TooBig)
        );
    }
}
