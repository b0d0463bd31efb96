// SPDX-License-Identifier: GPL-2.0
//! The exported C API (`include/rslab.h`): the kernel's slab and page
//! allocator calls with an `rslab_` prefix, so that a driver can switch by
//! renaming. The functions are `EXPORT_SYMBOL_GPL`ed by `src/glue/helpers.c`;
//! a module that calls them holds a reference on rslab (modpost records the
//! dependency), so `rmmod rslab` is refused while it is loaded.
//!
//! Bad arguments behave as the kernel's: a NULL cache gives NULL (or does
//! nothing), a size of 0 gives `ZERO_SIZE_PTR`, an impossible cache gives
//! NULL with the reason in the kernel log, a free of something that is not
//! an object of the cache is reported (and counted on the cache) and
//! ignored.

use crate::{
    glue::{
        atomic::Global,
        debug, ffi,
        gfp::Gfp,
        rcu::{self, RcuHead},
        trace,
    },
    kmalloc::Buckets,
    registry::Registry,
    slab::{Cache, CacheConfig, Ctor, PrefilledSheaf},
};
use core::{ffi::c_void, ptr::NonNull};
use kernel::{
    bindings,
    ffi::{c_char, c_int, c_long, c_uint, c_ulong},
    prelude::*,
    str::CStr,
};

/// The registry the API serves from: the module's, while it is loaded.
static REGISTRY: Global<Registry> = Global::new();

/// Makes `r` the registry the API uses, until [`clear`].
///
/// # Safety
///
/// `r` stays alive and in place until [`clear`] is called.
pub(crate) unsafe fn set(r: &Registry) {
    // SAFETY: the caller's guarantee; callers of the API hold a reference
    // on the module, so they are gone before its teardown calls `clear`.
    unsafe { REGISTRY.publish(r) };
}

/// Stops the API (at unload: no module that uses it is loaded any more).
pub(crate) fn clear() {
    REGISTRY.withdraw();
}

fn registry() -> Option<&'static Registry> {
    REGISTRY.get()
}

/// `SLAB_FLAGS_PERMITTED` of Linux 7.3 (`mm/slab.h`), by bit of
/// `enum _slab_flag_bits`, and what each becomes: an rslab flag, or 0 for a
/// flag accepted with nothing to do here (`SLAB_PANIC` and
/// `SLAB_NO_USER_FLAGS` are handled by [`rslab_cache_create`];
/// `SLAB_NO_MERGE`: rslab never merges caches; `SLAB_ACCOUNT`: no memcg
/// accounting; `SLAB_DEBUG_OBJECTS`: no debugobjects check on free).
fn permitted() -> impl Iterator<Item = (u32, u32)> {
    use crate::logic::slab::layout as l;
    let always = [
        (
            bindings::_slab_flag_bits__SLAB_CONSISTENCY_CHECKS,
            l::SLAB_CONSISTENCY_CHECKS,
        ),
        (bindings::_slab_flag_bits__SLAB_RED_ZONE, l::SLAB_RED_ZONE),
        (bindings::_slab_flag_bits__SLAB_POISON, l::SLAB_POISON),
        (bindings::_slab_flag_bits__SLAB_KMALLOC, l::SLAB_KMALLOC),
        (
            bindings::_slab_flag_bits__SLAB_HWCACHE_ALIGN,
            l::SLAB_HWCACHE_ALIGN,
        ),
        (bindings::_slab_flag_bits__SLAB_CACHE_DMA, l::SLAB_CACHE_DMA),
        (
            bindings::_slab_flag_bits__SLAB_CACHE_DMA32,
            l::SLAB_CACHE_DMA32,
        ),
        (
            bindings::_slab_flag_bits__SLAB_STORE_USER,
            l::SLAB_STORE_USER,
        ),
        (bindings::_slab_flag_bits__SLAB_PANIC, 0),
        (
            bindings::_slab_flag_bits__SLAB_TYPESAFE_BY_RCU,
            l::SLAB_TYPESAFE_BY_RCU,
        ),
        (bindings::_slab_flag_bits__SLAB_TRACE, l::SLAB_TRACE),
        (
            bindings::_slab_flag_bits__SLAB_NOLEAKTRACE,
            l::SLAB_NOLEAKTRACE,
        ),
        (bindings::_slab_flag_bits__SLAB_NO_MERGE, 0),
        (bindings::_slab_flag_bits__SLAB_NO_USER_FLAGS, 0),
        // `SLAB_TEMPORARY` is the same bit.
        (
            bindings::_slab_flag_bits__SLAB_RECLAIM_ACCOUNT,
            l::SLAB_RECLAIM_ACCOUNT,
        ),
    ];
    #[cfg(CONFIG_DEBUG_OBJECTS)]
    let debug_objects = Some((bindings::_slab_flag_bits__SLAB_DEBUG_OBJECTS, 0));
    #[cfg(not(CONFIG_DEBUG_OBJECTS))]
    let debug_objects = None;
    #[cfg(CONFIG_MEMCG)]
    let account = Some((bindings::_slab_flag_bits__SLAB_ACCOUNT, 0));
    #[cfg(not(CONFIG_MEMCG))]
    let account = None;
    Iterator::chain(Iterator::chain(always.into_iter(), debug_objects), account)
}

/// `SLAB_*` flag bit `b`.
const fn slab_bit(b: u32) -> u32 {
    1 << b
}

/// The kernel's `SLAB_*` flags as rslab's, or `None` for a flag outside
/// `SLAB_FLAGS_PERMITTED` (which `kmem_cache_create()` refuses).
fn flags_from_kernel(flags: c_uint) -> Option<u32> {
    let known = permitted().fold(0, |k, (b, _)| k | slab_bit(b));
    (flags & !known == 0).then(|| {
        permitted()
            .filter(|&(b, _)| flags & slab_bit(b) != 0)
            .fold(0, |o, (_, r)| o | r)
    })
}

/// The cache a handle names.
///
/// # Safety
///
/// `s` is null or a handle from [`rslab_cache_create`] not yet destroyed.
unsafe fn cache<'a>(s: *mut c_void) -> Option<&'a Cache> {
    // SAFETY: the caller's guarantee: the registry keeps the cache alive
    // until it is destroyed.
    unsafe { s.cast::<Cache>().cast_const().as_ref() }
}

/// A cache name from C: `EINVAL` for NULL or one that is not UTF-8.
///
/// # Safety
///
/// `name` is null or a NUL-terminated string that lives for `'a`.
unsafe fn c_name<'a>(name: *const c_char) -> Result<&'a str> {
    if name.is_null() {
        return Err(EINVAL);
    }
    // SAFETY: the caller's guarantee.
    unsafe { CStr::from_char_ptr(name) }
        .to_str()
        .map_err(|_| EINVAL)
}

/// The configuration of a cache `name` of `size` bytes made with the
/// kernel's `SLAB_*` `flags`: `EINVAL`, with a warning, for a flag outside
/// `SLAB_FLAGS_PERMITTED`.
fn config_for(name: &str, size: c_uint, flags: c_uint) -> Result<CacheConfig<'_>> {
    let Some(rflags) = flags_from_kernel(flags) else {
        pr_warn!("rslab_cache_create({name}): flags {flags:#x} are not permitted\n");
        return Err(EINVAL);
    };
    let mut cfg = CacheConfig::new(name, size);
    cfg.flags = rflags;
    cfg.no_user_flags = flags & slab_bit(bindings::_slab_flag_bits__SLAB_NO_USER_FLAGS) != 0;
    Ok(cfg)
}

/// `kmem_cache_create()`: [`rslab_kmem_cache_create`] with `align` and
/// `ctor` as its only arguments (the five-argument form).
///
/// # Safety
///
/// As for [`rslab_kmem_cache_create`].
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_create(
    name: *const c_char,
    size: c_uint,
    align: c_uint,
    flags: c_uint,
    ctor: Option<Ctor>,
) -> *mut c_void {
    let args = bindings::kmem_cache_args {
        align,
        ctor,
        ..Default::default()
    };
    // SAFETY: the caller's guarantee; `args` lives across the call.
    unsafe { rslab_kmem_cache_create(name, size, &args, flags) }
}

/// `kmem_cache_create()` with 7.3's `struct kmem_cache_args`
/// (`__kmem_cache_create_args()`): `align`, `ctor`, `useroffset` and
/// `usersize` (recorded, shown as sysfs `usersize`; a region outside the
/// object is dropped, as the kernel's "fail closed"), `freeptr_offset` with
/// `use_freeptr_offset` (for an RCU or constructor cache), and
/// `sheaf_capacity` (above 0: a cache in the sheaves mode, its sheaves of
/// 7.3's capacity by size or this many objects if more, at most
/// [`crate::slab::MAX_SHEAF_CAPACITY`]; a debug or `SLAB_NOLEAKTRACE` cache
/// has none, as in 7.3). `args` may be null: the defaults. NULL with a
/// warning and the stack on failure; a panic with `SLAB_PANIC`.
///
/// # Safety
///
/// `name` is a NUL-terminated string; `args` is null or points to a
/// `struct kmem_cache_args`; its `ctor`, if any, may be called on any
/// object of the cache from any context the cache allocates in.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_kmem_cache_create(
    name: *const c_char,
    size: c_uint,
    args: *const bindings::kmem_cache_args,
    flags: c_uint,
) -> *mut c_void {
    // SAFETY: the caller's guarantee.
    let args = unsafe { args.as_ref() }.copied().unwrap_or_default();
    let made = (|| {
        let r = registry().ok_or(ENODEV)?;
        // SAFETY: the caller's guarantee.
        let name = unsafe { c_name(name) }?;
        let mut cfg = config_for(name, size, flags)?;
        cfg.align = args.align;
        cfg.ctor = args.ctor;
        cfg.useroffset = args.useroffset;
        cfg.usersize = args.usersize;
        cfg.freeptr_offset = args.use_freeptr_offset.then_some(args.freeptr_offset);
        cfg.sheaves = args.sheaf_capacity > 0;
        cfg.sheaf_capacity = args.sheaf_capacity;
        r.create(&cfg)
    })();
    match made {
        Ok(c) => kernel::sync::Arc::as_ptr(&c).cast_mut().cast(),
        Err(e) => {
            // As `__kmem_cache_create_args()`: panic with `SLAB_PANIC`, else
            // a warning with the stack.
            if flags & slab_bit(bindings::_slab_flag_bits__SLAB_PANIC) != 0 {
                let msg = c"rslab_cache_create: failed to create a SLAB_PANIC cache";
                // SAFETY: `rslab_panic()` takes a NUL-terminated string.
                unsafe { ffi::rslab_panic(msg.as_char_ptr()) };
            }
            pr_warn!("rslab_cache_create failed with error {}\n", e.to_errno());
            // SAFETY: prints the stack; no other effect.
            unsafe { bindings::dump_stack() };
            core::ptr::null_mut()
        }
    }
}

/// `kmem_cache_destroy()`: first waits for pending `rslab_kfree_rcu()`s
/// (`kvfree_rcu_barrier()`, as the kernel's does), so that objects freed
/// that way are back; a cache with objects still allocated is then
/// reported and kept (its memory stays allocated), as the kernel does. May
/// sleep.
///
/// # Safety
///
/// `s` is null or a cache from [`rslab_cache_create`], not used afterwards.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_destroy(s: *mut c_void) {
    if let (Some(r), false) = (registry(), s.is_null()) {
        kernel::sync::rcu::rcu_barrier();
        if r.destroy_at(s.cast::<Cache>().cast_const()) == Err(EBUSY) {
            pr_err!("rslab_cache_destroy: objects remain; the cache is kept\n");
        }
    }
}

/// `kmem_cache_alloc()` (zeroed for `__GFP_ZERO`).
///
/// # Safety
///
/// `s` is null or a live cache from [`rslab_cache_create`].
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_alloc(
    s: *mut c_void,
    gfp: bindings::gfp_t,
) -> *mut c_void {
    if trace::cache_alloc_on() {
        // SAFETY: the caller's guarantee.
        return unsafe { traced::cache_alloc(s, gfp, bindings::NUMA_NO_NODE) };
    }
    // SAFETY: the caller's guarantee.
    let Some(c) = (unsafe { cache(s) }) else {
        return core::ptr::null_mut();
    };
    // `kmem_cache_alloc()` itself, inline: the exported entry is the fast
    // path.
    c.alloc_sized(Gfp::from_raw(gfp), c.layout().object_size) as *mut c_void
}

/// A node argument of the API: `NUMA_NO_NODE` (any) as `None`; `Err` for
/// any other negative number.
fn node_arg(nid: c_int) -> Result<Option<usize>, ()> {
    match nid {
        bindings::NUMA_NO_NODE => Ok(None),
        n => usize::try_from(n).map(Some).map_err(|_| ()),
    }
}

/// `kmem_cache_alloc_node()`: an object of `s` on node `nid`
/// (`NUMA_NO_NODE`: any); zeroed with `__GFP_ZERO`. NULL for a NULL cache,
/// a number that is no node, or no memory.
///
/// # Safety
///
/// `s` is NULL or a live cache of [`rslab_cache_create`].
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_alloc_node(
    s: *mut c_void,
    gfp: bindings::gfp_t,
    nid: c_int,
) -> *mut c_void {
    if trace::cache_alloc_on() {
        // SAFETY: the caller's guarantee.
        return unsafe { traced::cache_alloc(s, gfp, nid) };
    }
    // SAFETY: the caller's guarantee.
    let (Some(c), Ok(nid)) = (unsafe { cache(s) }, node_arg(nid)) else {
        return core::ptr::null_mut();
    };
    c.alloc_node(Gfp::from_raw(gfp), nid)
        .map_or(core::ptr::null_mut(), |p| p.as_ptr().cast())
}

/// `kmalloc_node()`: [`rslab_kmalloc`] of node `nid`'s memory
/// (`NUMA_NO_NODE`: any); NULL for a number that is no node.
#[no_mangle]
pub(crate) extern "C" fn rslab_kmalloc_node(
    size: usize,
    gfp: bindings::gfp_t,
    nid: c_int,
) -> *mut c_void {
    if trace::kmalloc_on() {
        return traced::kmalloc(size, gfp, nid);
    }
    let (Some(r), Ok(nid)) = (registry(), node_arg(nid)) else {
        return core::ptr::null_mut();
    };
    r.kmalloc()
        .kmalloc_node(size, Gfp::from_raw(gfp), nid)
        .cast()
}

/// `__kmalloc_cache_noprof()` (what `kmalloc()` of a constant size calls):
/// an object of `s` for a request of `size` bytes, which a kmalloc debug
/// cache (`SLAB_KMALLOC | SLAB_STORE_USER`) records, red-zoning the bytes
/// past it. NULL if `size` is 0 or larger than the objects.
///
/// # Safety
///
/// `s` is null or a live cache from [`rslab_cache_create`].
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_kmalloc_cache(
    s: *mut c_void,
    gfp: bindings::gfp_t,
    size: usize,
) -> *mut c_void {
    // SAFETY: the caller's guarantee.
    let Some(c) = (unsafe { cache(s) }) else {
        return core::ptr::null_mut();
    };
    let Some(size) = u32::try_from(size)
        .ok()
        .filter(|&n| n > 0 && n <= c.layout().object_size)
    else {
        return core::ptr::null_mut();
    };
    c.alloc_sized(Gfp::from_raw(gfp), size) as *mut c_void
}

/// `validate_slab_cache()`: checks every slab of `s` (on a debug cache, each
/// object's red zones and poison too), reporting and repairing what is
/// wrong. Returns the number of slabs, or a negative errno (`-ENOMEM`, or
/// `-EINVAL` for a finding it could not repair). May sleep.
///
/// # Safety
///
/// `s` is null or a live cache from [`rslab_cache_create`].
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_validate(s: *mut c_void) -> c_long {
    // SAFETY: the caller's guarantee.
    let Some(c) = (unsafe { cache(s) }) else {
        return -(bindings::EINVAL as c_long);
    };
    match c.validate() {
        Ok(census) => census.slabs as c_long,
        Err(crate::slab::SlabError::NoMemory) => -(bindings::ENOMEM as c_long),
        Err(crate::slab::SlabError::Busy) => -(bindings::EAGAIN as c_long),
        Err(e) => {
            pr_err!("cache {}: validate: {:?}\n", c.display_name(), e);
            -(bindings::EINVAL as c_long)
        }
    }
}

/// The number of errors rslab reported so far, on every cache (each report
/// and each repair, as SLUB counts them for lib/tests/slub_kunit.c).
#[no_mangle]
pub(crate) extern "C" fn rslab_slab_errors() -> c_ulong {
    crate::slab::total_errors() as c_ulong
}

/// Where a free object of `s` keeps its free pointer (`s->offset`), for
/// tests that corrupt it on purpose. 0 for a null cache.
///
/// # Safety
///
/// `s` is null or a live cache from [`rslab_cache_create`].
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_freeptr_offset(s: *mut c_void) -> c_uint {
    // SAFETY: the caller's guarantee.
    unsafe { cache(s) }.map_or(0, |c| c.layout().offset)
}

/// `kmem_cache_zalloc()`.
///
/// # Safety
///
/// As for [`rslab_cache_alloc`].
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_zalloc(
    s: *mut c_void,
    gfp: bindings::gfp_t,
) -> *mut c_void {
    // SAFETY: the caller's guarantee.
    unsafe { rslab_cache_alloc(s, Gfp::from_raw(gfp).zeroed().raw()) }
}

/// `kmem_cache_free()`.
///
/// # Safety
///
/// `s` is null or a live cache; `obj` is null or an object the caller
/// allocated from `s` and does not use again.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_free(s: *mut c_void, obj: *mut c_void) {
    if trace::cache_free_on() {
        // SAFETY: the caller's guarantee.
        return unsafe { traced::cache_free(s, obj) };
    }
    // SAFETY: the caller's guarantee.
    if let (Some(c), Some(o)) = (unsafe { cache(s) }, NonNull::new(obj.cast::<u8>())) {
        // SAFETY: the caller's guarantee; a foreign address is reported.
        unsafe { c.free_inline(o) };
    }
}

/// `kmem_cache_alloc_bulk()`: `size` objects into `p`, all or nothing;
/// returns `size` or 0.
///
/// # Safety
///
/// `s` is null or a live cache; `p` points to `size` writable pointers.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_alloc_bulk(
    s: *mut c_void,
    gfp: bindings::gfp_t,
    size: usize,
    p: *mut *mut c_void,
) -> c_int {
    // SAFETY: the caller's guarantee.
    let Some(c) = (unsafe { cache(s) }) else {
        return 0;
    };
    if p.is_null() || size == 0 || size > c_int::MAX as usize {
        return 0;
    }
    // SAFETY: the caller's guarantee: `p` holds `size` pointers.
    let out = unsafe { core::slice::from_raw_parts_mut(p.cast::<*mut u8>(), size) };
    c.alloc_bulk(Gfp::from_raw(gfp), out) as c_int
}

/// `kmem_cache_free_bulk()`.
///
/// # Safety
///
/// `s` is null or a live cache; `p` points to `size` pointers, each null or
/// an object of `s` the caller does not use again.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_free_bulk(
    s: *mut c_void,
    size: usize,
    p: *mut *mut c_void,
) {
    // SAFETY: the caller's guarantee.
    let Some(c) = (unsafe { cache(s) }) else {
        return;
    };
    if p.is_null() {
        return;
    }
    // SAFETY: the caller's guarantee.
    let objs = unsafe { core::slice::from_raw_parts_mut(p.cast::<*mut u8>(), size) };
    // SAFETY: the caller's guarantee.
    unsafe { c.free_bulk(objs) };
}

/// `kmem_cache_shrink()`: 0.
///
/// # Safety
///
/// `s` is null or a live cache.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_shrink(s: *mut c_void) -> c_int {
    // SAFETY: the caller's guarantee.
    if let Some(c) = unsafe { cache(s) } {
        c.shrink();
    }
    0
}

/// `kmem_cache_prefill_sheaf()`: a sheaf of at least `size` objects of `s`
/// (see `src/slab/sheaves/prefill.rs`), or NULL for `size` 0 or without
/// memory.
///
/// # Safety
///
/// `s` is null or a live cache.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_prefill_sheaf(
    s: *mut c_void,
    gfp: bindings::gfp_t,
    size: c_uint,
) -> *mut c_void {
    // SAFETY: the caller's guarantee.
    let Some(c) = (unsafe { cache(s) }) else {
        return core::ptr::null_mut();
    };
    c.prefill_sheaf(Gfp::from_raw(gfp), size)
        .map_or(core::ptr::null_mut(), |b| KBox::into_raw(b).cast())
}

/// A prefilled sheaf from its C handle.
///
/// # Safety
///
/// `sheaf` is a handle [`rslab_cache_prefill_sheaf`] returned and not
/// returned since; the result is the only reference made to it.
unsafe fn sheaf_ref<'a>(sheaf: *mut c_void) -> Option<&'a mut PrefilledSheaf> {
    // SAFETY: the caller's guarantee: a live, unaliased `KBox`'s contents.
    unsafe { sheaf.cast::<PrefilledSheaf>().as_mut() }
}

/// `kmem_cache_refill_sheaf()`: 0 once `*sheafp` holds at least `size`
/// objects (it may be replaced by a bigger one), -ENOMEM without memory
/// (the sheaf stays), -EINVAL for a NULL sheaf or one of another cache.
///
/// # Safety
///
/// `s` is null or a live cache; `sheafp` is null or points to null or to a
/// handle [`rslab_cache_prefill_sheaf`] returned and not returned since.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_refill_sheaf(
    s: *mut c_void,
    gfp: bindings::gfp_t,
    sheafp: *mut *mut c_void,
    size: c_uint,
) -> c_int {
    // SAFETY: the caller's guarantee.
    let Some(c) = (unsafe { cache(s) }) else {
        return -(bindings::EINVAL as c_int);
    };
    // SAFETY: the caller's guarantee: null or a valid pointer.
    let Some(slot) = (unsafe { sheafp.as_mut() }) else {
        return -(bindings::EINVAL as c_int);
    };
    if slot.is_null() {
        return -(bindings::EINVAL as c_int);
    }
    // SAFETY: `*slot` is a live handle (the caller's guarantee), a `KBox`
    // that [`rslab_cache_prefill_sheaf`] leaked; it is put back below.
    let mut b = unsafe { KBox::from_raw(slot.cast::<PrefilledSheaf>()) };
    let r = c.refill_sheaf(Gfp::from_raw(gfp), &mut b, size);
    *slot = KBox::into_raw(b).cast();
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `kmem_cache_return_sheaf()`.
///
/// # Safety
///
/// `s` is null or a live cache; `sheaf` is null or a handle
/// [`rslab_cache_prefill_sheaf`] returned and not returned since, not used
/// again.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_return_sheaf(
    s: *mut c_void,
    gfp: bindings::gfp_t,
    sheaf: *mut c_void,
) {
    // SAFETY: the caller's guarantee.
    let Some(c) = (unsafe { cache(s) }) else {
        return;
    };
    if sheaf.is_null() {
        return;
    }
    // SAFETY: a live handle given up by the caller (its guarantee): the
    // `KBox` [`rslab_cache_prefill_sheaf`] leaked.
    let b = unsafe { KBox::from_raw(sheaf.cast::<PrefilledSheaf>()) };
    c.return_sheaf(Gfp::from_raw(gfp), b);
}

/// `kmem_cache_alloc_from_sheaf()`: an object of `sheaf`, NULL once it is
/// empty (no fallback to the slabs).
///
/// # Safety
///
/// `s` is null or a live cache; `sheaf` is null or a live handle (as for
/// [`rslab_cache_return_sheaf`]) that nothing else uses meanwhile.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_alloc_from_sheaf(
    s: *mut c_void,
    gfp: bindings::gfp_t,
    sheaf: *mut c_void,
) -> *mut c_void {
    // SAFETY: the caller's guarantee.
    let Some(c) = (unsafe { cache(s) }) else {
        return core::ptr::null_mut();
    };
    // SAFETY: the caller's guarantee.
    let Some(sheaf) = (unsafe { sheaf_ref(sheaf) }) else {
        return core::ptr::null_mut();
    };
    c.alloc_from_sheaf(Gfp::from_raw(gfp), sheaf)
        .map_or(core::ptr::null_mut(), |p| p.as_ptr().cast())
}

/// `kmem_cache_sheaf_size()`: the objects left in `sheaf` (0 for NULL).
///
/// # Safety
///
/// `sheaf` is null or a live handle that nothing else uses meanwhile.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_sheaf_size(sheaf: *mut c_void) -> c_uint {
    // SAFETY: the caller's guarantee.
    unsafe { sheaf_ref(sheaf) }.map_or(0, |s| s.size())
}

/// `kmem_buckets_create()`: private kmalloc buckets, a cache
/// `<name>-<size>` per kmalloc class, made with `flags` (as
/// [`rslab_kmem_cache_create`] takes them), the user copy region `useroffset`
/// and `usersize` (clipped to each size) and `ctor`. NULL with a warning on
/// failure, nothing left made.
///
/// # Safety
///
/// `name` is a NUL-terminated string; `ctor`, if any, may be called on any
/// object of the buckets' caches from any context they allocate in.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_kmem_buckets_create(
    name: *const c_char,
    flags: c_uint,
    useroffset: c_uint,
    usersize: c_uint,
    ctor: Option<Ctor>,
) -> *mut c_void {
    let made = (|| -> Result<KBox<Buckets>> {
        let r = registry().ok_or(ENODEV)?;
        // SAFETY: the caller's guarantee.
        let name = unsafe { c_name(name) }?;
        let mut cfg = config_for(name, 0, flags)?;
        cfg.ctor = ctor;
        cfg.useroffset = useroffset;
        cfg.usersize = usersize;
        let b = r.create_buckets(name, &cfg)?;
        Ok(KBox::new(b, GFP_KERNEL)?)
    })();
    match made {
        Ok(b) => KBox::into_raw(b).cast(),
        Err(e) => {
            pr_warn!(
                "rslab_kmem_buckets_create failed with error {}\n",
                e.to_errno()
            );
            core::ptr::null_mut()
        }
    }
}

/// `kmem_buckets_alloc()`: `size` bytes from `b`'s caches, as `kmalloc()`
/// gives them (from the shared classes for a NULL `b`, as the kernel's);
/// `rslab_kfree()` frees them.
///
/// # Safety
///
/// `b` is null or live buckets of [`rslab_kmem_buckets_create`].
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_kmem_buckets_alloc(
    b: *mut c_void,
    size: usize,
    gfp: bindings::gfp_t,
) -> *mut c_void {
    let Some(r) = registry() else {
        return core::ptr::null_mut();
    };
    // SAFETY: the caller's guarantee: null or live `Buckets`.
    match unsafe { b.cast::<Buckets>().as_ref() } {
        Some(b) => r
            .kmalloc()
            .buckets_alloc(b, size, Gfp::from_raw(gfp), None)
            .cast(),
        None => r.kmalloc().kmalloc(size, Gfp::from_raw(gfp)).cast(),
    }
}

/// Destroys buckets of [`rslab_kmem_buckets_create`] (the kernel's are never
/// destroyed; a module's must be before it unloads): 0, or -EBUSY with the
/// objects still allocated reported, and nothing destroyed.
///
/// # Safety
///
/// `b` is null or live buckets, not used again if this returns 0.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_kmem_buckets_destroy(b: *mut c_void) -> c_int {
    let Some(r) = registry() else {
        return -(bindings::ENODEV as c_int);
    };
    if b.is_null() {
        return 0;
    }
    let r = {
        // SAFETY: the caller's guarantee: live `Buckets`.
        let bk = unsafe { &*b.cast::<Buckets>() };
        let mut ptrs = KVec::new();
        for c in bk.caches() {
            if ptrs.push(kernel::sync::Arc::as_ptr(c), GFP_KERNEL).is_err() {
                return -(bindings::ENOMEM as c_int);
            }
        }
        r.destroy_all(&ptrs)
    };
    match r {
        Ok(()) => {
            // SAFETY: the `KBox` [`rslab_kmem_buckets_create`] leaked, given
            // up by the caller (its guarantee), its caches destroyed.
            drop(unsafe { KBox::from_raw(b.cast::<Buckets>()) });
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `kmalloc()` (zeroed up to `ksize()` for `__GFP_ZERO`).
#[no_mangle]
pub(crate) extern "C" fn rslab_kmalloc(size: usize, gfp: bindings::gfp_t) -> *mut c_void {
    if trace::kmalloc_on() {
        return traced::kmalloc(size, gfp, bindings::NUMA_NO_NODE);
    }
    registry().map_or(core::ptr::null_mut(), |r| {
        r.kmalloc().kmalloc_inline(size, Gfp::from_raw(gfp)).cast()
    })
}

/// `kzalloc()`.
#[no_mangle]
pub(crate) extern "C" fn rslab_kzalloc(size: usize, gfp: bindings::gfp_t) -> *mut c_void {
    if trace::kmalloc_on() {
        let gfp = Gfp::from_raw(gfp).zeroed().raw();
        return traced::kmalloc(size, gfp, bindings::NUMA_NO_NODE);
    }
    registry().map_or(core::ptr::null_mut(), |r| {
        r.kmalloc().kzalloc(size, Gfp::from_raw(gfp)).cast()
    })
}

/// `kmalloc_array()`: NULL if `n * size` overflows.
#[no_mangle]
pub(crate) extern "C" fn rslab_kmalloc_array(
    n: usize,
    size: usize,
    gfp: bindings::gfp_t,
) -> *mut c_void {
    if trace::kmalloc_on() {
        return n.checked_mul(size).map_or(core::ptr::null_mut(), |bytes| {
            traced::kmalloc(bytes, gfp, bindings::NUMA_NO_NODE)
        });
    }
    registry().map_or(core::ptr::null_mut(), |r| {
        r.kmalloc()
            .kmalloc_array(n, size, Gfp::from_raw(gfp))
            .cast()
    })
}

/// `krealloc()`.
///
/// # Safety
///
/// `p` is null, `ZERO_SIZE_PTR` or a live allocation of [`rslab_kmalloc`],
/// not used again unless the result is null.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_krealloc(
    p: *mut c_void,
    size: usize,
    gfp: bindings::gfp_t,
) -> *mut c_void {
    registry().map_or(core::ptr::null_mut(), |r| {
        // SAFETY: the caller's guarantee.
        unsafe { r.kmalloc().krealloc(p.cast(), size, Gfp::from_raw(gfp)) }.cast()
    })
}

/// `kfree()`.
///
/// # Safety
///
/// `p` is null, `ZERO_SIZE_PTR` or a live allocation of rslab's kmalloc,
/// not used again.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_kfree(p: *const c_void) {
    if trace::kfree_on() {
        // SAFETY: the caller's guarantee.
        return unsafe { traced::kfree(p) };
    }
    if let Some(r) = registry() {
        // SAFETY: the caller's guarantee.
        unsafe { r.kmalloc().kfree_inline(p.cast_mut().cast()) };
    }
}

/// `kmalloc_nolock()`: `size` bytes in any context (NMI and kprobe
/// handlers included), never waiting for a lock and never sleeping: NULL
/// when the memory at hand would need either (see `src/kmalloc/nolock.rs`).
/// `nid` is a node or `NUMA_NO_NODE`.
#[no_mangle]
pub(crate) extern "C" fn rslab_kmalloc_nolock(
    size: usize,
    gfp: bindings::gfp_t,
    nid: c_int,
) -> *mut c_void {
    let (Some(r), Ok(nid)) = (registry(), node_arg(nid)) else {
        return core::ptr::null_mut();
    };
    r.kmalloc()
        .kmalloc_nolock(size, Gfp::from_raw(gfp), nid)
        .cast()
}

/// `kfree_nolock()`: frees an object of rslab's kmalloc in any context, at
/// once or deferred to an irq_work.
///
/// # Safety
///
/// `p` is null, `ZERO_SIZE_PTR` or a live object of rslab's kmalloc (or of
/// an rslab cache), not used again.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_kfree_nolock(p: *const c_void) {
    if let Some(r) = registry() {
        // SAFETY: the caller's guarantee.
        unsafe { r.kmalloc().kfree_nolock(p.cast_mut().cast()) };
    }
}

/// `ksize()`.
///
/// # Safety
///
/// `p` is null, `ZERO_SIZE_PTR` or a live allocation of rslab's kmalloc.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_ksize(p: *const c_void) -> usize {
    // SAFETY: the caller's guarantee.
    registry().map_or(0, |r| unsafe { r.kmalloc().ksize(p.cast()) })
}

/// The RCU callback of [`rslab_kvfree_call_rcu`]: frees the allocation that
/// holds `head`.
///
/// # Safety
///
/// `head` lies in a live rslab allocation that was handed over to be freed.
unsafe extern "C" fn kfree_rcu_cb(head: *mut RcuHead) {
    let Some(k) = registry().map(|r| r.kmalloc()) else {
        return;
    };
    // SAFETY: the allocation is live until freed here (the contract).
    match unsafe { k.allocation_of(head.cast_const().cast()) } {
        // SAFETY: `p` starts the allocation handed over to be freed.
        Some(p) => unsafe { k.kfree(p) },
        None => pr_err!(
            "kvfree_rcu: {:#x} is not in an rslab allocation\n",
            head as usize
        ),
    }
}

/// `kvfree_call_rcu()`, behind `rslab_kfree_rcu(ptr, rhf)`: frees the
/// allocation `ptr` (of rslab's kmalloc, or of any rslab cache) after an
/// RCU grace period. `head` is an `rcu_head` inside it.
///
/// # Safety
///
/// `head` lies inside the live allocation `ptr`, which is not used (by
/// anyone but RCU readers) or freed again.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_kvfree_call_rcu(head: *mut RcuHead, ptr: *mut c_void) {
    if head.is_null() || ptr.is_null() {
        return;
    }
    // SAFETY: the caller's guarantee; rslab waits for its RCU callbacks
    // (`rcu_barrier()`) before it unloads.
    unsafe { rcu::call_rcu(head, kfree_rcu_cb) };
}

/// `alloc_pages()`: a block of `1 << order` pages from rslab's pool (see
/// `src/kmalloc/large.rs` for what the pages are).
#[no_mangle]
pub(crate) extern "C" fn rslab_alloc_pages(
    gfp: bindings::gfp_t,
    order: c_uint,
) -> *mut bindings::page {
    if trace::page_alloc_on() {
        return traced::alloc_pages(gfp, order, bindings::NUMA_NO_NODE);
    }
    registry().map_or(core::ptr::null_mut(), |r| {
        r.kmalloc().alloc_pages(order, Gfp::from_raw(gfp), None)
    })
}

/// `alloc_pages_node()`: [`rslab_alloc_pages`] of node `nid`'s pages
/// (`NUMA_NO_NODE`, -1: the CPU's node); another node's, nearest first,
/// when that node's cannot be had. Null for any other negative `nid` or one
/// at or past `nr_node_ids` (the kernel's is a `VM_BUG_ON`).
#[no_mangle]
pub(crate) extern "C" fn rslab_alloc_pages_node(
    nid: c_int,
    gfp: bindings::gfp_t,
    order: c_uint,
) -> *mut bindings::page {
    if trace::page_alloc_on() {
        return traced::alloc_pages(gfp, order, nid);
    }
    let (Some(r), Ok(nid)) = (registry(), node_arg(nid)) else {
        return core::ptr::null_mut();
    };
    r.kmalloc().alloc_pages(order, Gfp::from_raw(gfp), nid)
}

/// `alloc_pages_bulk()`: fills the null entries among the first `nr_pages`
/// of `page_array` with order-0 pages of [`rslab_alloc_pages`]'s kind, in
/// batches off the pool's per-CPU list; returns how many entries from the
/// start are populated (those populated on entry included). Null
/// `page_array`: 0.
///
/// # Safety
///
/// `page_array` is null or valid for reads and writes of `nr_pages`
/// pointers, each null or a page the caller holds.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_alloc_pages_bulk(
    gfp: bindings::gfp_t,
    nr_pages: usize,
    page_array: *mut *mut bindings::page,
) -> usize {
    let Some(r) = registry() else {
        return 0;
    };
    // (`unsigned long` is `usize` on every arch the kernel's Rust supports.)
    // No array is longer than `isize::MAX` bytes: a larger count is a bad
    // argument, not an array.
    let n = nr_pages;
    if page_array.is_null() || n == 0 || n > isize::MAX as usize / size_of::<*mut bindings::page>()
    {
        return 0;
    }
    // SAFETY: the caller's guarantee: `n` pointers, ours to write while
    // this runs (and within `isize::MAX` bytes, checked).
    let array = unsafe { core::slice::from_raw_parts_mut(page_array, n) };
    r.kmalloc().alloc_pages_bulk(Gfp::from_raw(gfp), array)
}

/// `__get_free_pages()`: [`rslab_alloc_pages`], as an address (0 if none).
#[no_mangle]
pub(crate) extern "C" fn rslab_get_free_pages(gfp: bindings::gfp_t, order: c_uint) -> c_ulong {
    let page = rslab_alloc_pages(gfp, order);
    if page.is_null() {
        return 0;
    }
    // SAFETY: `page` is a live page of the linear map.
    unsafe { ffi::rslab_page_address(page) as c_ulong }
}

/// `get_zeroed_page()`.
#[no_mangle]
pub(crate) extern "C" fn rslab_get_zeroed_page(gfp: bindings::gfp_t) -> c_ulong {
    rslab_get_free_pages(Gfp::from_raw(gfp).zeroed().raw(), 0)
}

/// `__free_pages()`: drops the caller's reference on a block of
/// [`rslab_alloc_pages`] of this `order`: the last reference frees it; with
/// references left, all but its first page are freed now and the first one
/// by the last [`rslab_put_page`], as the kernel's. A page that is no such
/// block, or whose count is 0, is reported and kept.
///
/// # Safety
///
/// `page` is null or heads a block from [`rslab_alloc_pages`] of `order`,
/// on which the caller holds a reference it gives up.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_free_pages(page: *mut bindings::page, order: c_uint) {
    if trace::page_free_on() {
        // SAFETY: the caller's guarantee.
        return unsafe { traced::free_pages(page, order) };
    }
    if let (Some(r), false) = (registry(), page.is_null()) {
        // SAFETY: the caller's guarantee.
        unsafe { r.kmalloc().free_pages(page, order) };
    }
}

/// `free_pages()`: [`rslab_free_pages`] of the block at `addr` (0: none).
///
/// # Safety
///
/// As for [`rslab_free_pages`], `addr` the block's first byte.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_free_pages_addr(addr: c_ulong, order: c_uint) {
    if addr != 0 {
        // SAFETY: the caller's guarantee: a linear-map address.
        let page = unsafe { ffi::rslab_virt_to_page(addr as *const c_void) };
        // SAFETY: the caller's guarantee.
        unsafe { rslab_free_pages(page, order) };
    }
}

/// `put_page()`: drops a reference on `page`; on the first page of one of
/// rslab's blocks (of pages, of a large kmalloc, or a compound page it
/// handed out) the last one frees the block to rslab; any other page is
/// the kernel's `put_page()`.
///
/// # Safety
///
/// `page` is a valid `struct page` on which the caller holds a reference
/// it gives up.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_put_page(page: *mut bindings::page) {
    // SAFETY: the caller's guarantee.
    let rslab = registry().is_some_and(|r| unsafe { r.kmalloc().put_page(page) });
    if !rslab {
        // SAFETY: the caller's guarantee; not a page of rslab's.
        unsafe { ffi::rslab_kernel_put_page(page) };
    }
}

/// The exported entries with their trace events on: each entry tests its
/// event's static key first and, when it is on, jumps here, to the same
/// work plus the event (cold, out of line), so that with the event off the
/// entry carries one no-op instruction and its fast path is unchanged.
/// Each walks the stack for its call site (the first return address outside
/// rslab, as `_RET_IP_`).
mod traced {
    use super::*;

    /// A node argument as the events record it.
    fn node_of(nid: Option<usize>) -> c_int {
        nid.map_or(bindings::NUMA_NO_NODE, |n| {
            c_int::try_from(n).unwrap_or(c_int::MAX)
        })
    }

    /// [`rslab_cache_alloc_node`] with `rslab_kmem_cache_alloc`.
    ///
    /// # Safety
    ///
    /// As for [`rslab_cache_alloc`].
    #[cold]
    #[inline(never)]
    pub(super) unsafe fn cache_alloc(
        s: *mut c_void,
        gfp: bindings::gfp_t,
        nid: c_int,
    ) -> *mut c_void {
        // SAFETY: the caller's guarantee.
        let (Some(c), Ok(nid)) = (unsafe { cache(s) }, node_arg(nid)) else {
            return core::ptr::null_mut();
        };
        let p = c
            .alloc_node(Gfp::from_raw(gfp), nid)
            .map_or(core::ptr::null_mut(), |p| p.as_ptr());
        let l = c.layout();
        trace::cache_alloc(
            debug::caller_addr(),
            p,
            c.name(),
            l.object_size as usize,
            l.size as usize,
            gfp,
            node_of(nid),
        );
        p.cast()
    }

    /// [`rslab_cache_free`] with `rslab_kmem_cache_free`.
    ///
    /// # Safety
    ///
    /// As for [`rslab_cache_free`].
    #[cold]
    #[inline(never)]
    pub(super) unsafe fn cache_free(s: *mut c_void, obj: *mut c_void) {
        // SAFETY: the caller's guarantee.
        if let (Some(c), Some(o)) = (unsafe { cache(s) }, NonNull::new(obj.cast::<u8>())) {
            trace::cache_free(debug::caller_addr(), o.as_ptr(), c.name());
            // SAFETY: the caller's guarantee; a foreign address is reported.
            unsafe { c.free(o) };
        }
    }

    /// [`rslab_kmalloc_node`] with `rslab_kmalloc`.
    #[cold]
    #[inline(never)]
    pub(super) fn kmalloc(size: usize, gfp: bindings::gfp_t, nid: c_int) -> *mut c_void {
        let (Some(r), Ok(nid)) = (registry(), node_arg(nid)) else {
            return core::ptr::null_mut();
        };
        let k = r.kmalloc();
        let p = k.kmalloc_node(size, Gfp::from_raw(gfp), nid);
        // SAFETY: `p` was just allocated (or is null or `ZERO_SIZE_PTR`),
        // and is not handed out yet.
        let bytes_alloc = unsafe { k.ksize(p) };
        trace::kmalloc(
            debug::caller_addr(),
            p,
            size,
            bytes_alloc,
            gfp,
            node_of(nid),
        );
        p.cast()
    }

    /// [`rslab_kfree`] with `rslab_kfree`.
    ///
    /// # Safety
    ///
    /// As for [`rslab_kfree`].
    #[cold]
    #[inline(never)]
    pub(super) unsafe fn kfree(p: *const c_void) {
        trace::kfree(debug::caller_addr(), p.cast());
        if let Some(r) = registry() {
            // SAFETY: the caller's guarantee.
            unsafe { r.kmalloc().kfree(p.cast_mut().cast()) };
        }
    }

    /// [`rslab_alloc_pages_node`] with `rslab_mm_page_alloc`.
    #[cold]
    #[inline(never)]
    pub(super) fn alloc_pages(
        gfp: bindings::gfp_t,
        order: c_uint,
        nid: c_int,
    ) -> *mut bindings::page {
        let (Some(r), Ok(nid)) = (registry(), node_arg(nid)) else {
            return core::ptr::null_mut();
        };
        let page = r.kmalloc().alloc_pages(order, Gfp::from_raw(gfp), nid);
        if !page.is_null() {
            // SAFETY: `page` is a `struct page` just allocated.
            let pfn = unsafe { ffi::rslab_page_to_pfn(page) } as usize;
            trace::page_alloc(pfn, order, gfp);
        }
        page
    }

    /// [`rslab_free_pages`] with `rslab_mm_page_free`.
    ///
    /// # Safety
    ///
    /// As for [`rslab_free_pages`].
    #[cold]
    #[inline(never)]
    pub(super) unsafe fn free_pages(page: *mut bindings::page, order: c_uint) {
        if let (Some(r), false) = (registry(), page.is_null()) {
            // SAFETY: `page` is a valid `struct page` (the caller's).
            let pfn = unsafe { ffi::rslab_page_to_pfn(page) } as usize;
            trace::page_free(pfn, order);
            // SAFETY: the caller's guarantee.
            unsafe { r.kmalloc().free_pages(page, order) };
        }
    }
}
