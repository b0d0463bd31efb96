// SPDX-License-Identifier: GPL-2.0
//! rslab's trace events (trace system `rslab`, `src/glue/rslab_trace.h`):
//! the kernel's `kmem` events for the exported API. Each event is tested
//! with its tracepoint's static key (`static_branch_unlikely()`, as
//! `kernel::declare_trace!` does for the kernel's own): with
//! `CONFIG_JUMP_LABEL` a no-op instruction until the event is enabled,
//! which the callers keep off their fast paths by emitting from a cold
//! function. Without `CONFIG_TRACEPOINTS`, and in `rslab_kunit.ko` (which
//! defines no events: one module owns the system), there is no code at all.

use kernel::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

#[cfg(all(CONFIG_TRACEPOINTS, not(rslab_kunit)))]
mod defs {
    use super::*;
    use kernel::bindings::tracepoint;

    // Defined in `src/glue/helpers.c` (`CREATE_TRACE_POINTS`,
    // `CREATE_RUST_TRACE_POINTS`). `struct tracepoint` holds types the lint
    // flags on some configurations; only the statics' addresses are used.
    #[allow(improper_ctypes)]
    unsafe extern "C" {
        pub(super) static __tracepoint_rslab_kmem_cache_alloc: tracepoint;
        pub(super) static __tracepoint_rslab_kmem_cache_free: tracepoint;
        pub(super) static __tracepoint_rslab_kmalloc: tracepoint;
        pub(super) static __tracepoint_rslab_kfree: tracepoint;
        pub(super) static __tracepoint_rslab_mm_page_alloc: tracepoint;
        pub(super) static __tracepoint_rslab_mm_page_free: tracepoint;
        pub(super) fn rust_do_trace_rslab_kmem_cache_alloc(
            call_site: c_ulong,
            ptr: *const c_void,
            name: *const c_char,
            name_len: c_uint,
            bytes_req: usize,
            bytes_alloc: usize,
            gfp_flags: c_ulong,
            node: c_int,
        );
        pub(super) fn rust_do_trace_rslab_kmem_cache_free(
            call_site: c_ulong,
            ptr: *const c_void,
            name: *const c_char,
            name_len: c_uint,
        );
        pub(super) fn rust_do_trace_rslab_kmalloc(
            call_site: c_ulong,
            ptr: *const c_void,
            bytes_req: usize,
            bytes_alloc: usize,
            gfp_flags: c_ulong,
            node: c_int,
        );
        pub(super) fn rust_do_trace_rslab_kfree(call_site: c_ulong, ptr: *const c_void);
        pub(super) fn rust_do_trace_rslab_mm_page_alloc(
            pfn: c_ulong,
            order: c_uint,
            gfp_flags: c_ulong,
        );
        pub(super) fn rust_do_trace_rslab_mm_page_free(pfn: c_ulong, order: c_uint);
    }
}

/// An event: its static key test and its emitter.
macro_rules! event {
    ($(#[$m:meta])* $on:ident, $emit:ident, $key:ident, $do:ident, ($($a:ident: $t:ty),*)) => {
        $(#[$m])*
        /// On: its tracepoint's static key.
        #[inline(always)]
        pub(crate) fn $on() -> bool {
            #[cfg(all(CONFIG_TRACEPOINTS, not(rslab_kunit)))]
            // SAFETY: a tracepoint's static key, defined by C.
            return unsafe {
                kernel::static_branch_unlikely!(defs::$key, kernel::bindings::tracepoint, key)
            };
            #[cfg(not(all(CONFIG_TRACEPOINTS, not(rslab_kunit))))]
            false
        }

        /// Emits the event (for a caller to do behind its test).
        ///
        /// # Safety
        ///
        /// A name argument, if any, points to its length's readable bytes;
        /// the rest are recorded, not dereferenced.
        #[inline(always)]
        #[allow(clippy::too_many_arguments, reason = "the C event's arguments, as it takes them")]
        unsafe fn $emit($($a: $t),*) {
            #[cfg(all(CONFIG_TRACEPOINTS, not(rslab_kunit)))]
            // SAFETY: our caller's guarantee.
            unsafe {
                defs::$do($($a),*)
            };
            #[cfg(not(all(CONFIG_TRACEPOINTS, not(rslab_kunit))))]
            let _ = ($($a),*);
        }
    };
}

event!(
    /// `kmem_cache_alloc`.
    cache_alloc_on, raw_cache_alloc, __tracepoint_rslab_kmem_cache_alloc,
    rust_do_trace_rslab_kmem_cache_alloc,
    (call_site: c_ulong, ptr: *const c_void, name: *const c_char, name_len: c_uint,
     bytes_req: usize, bytes_alloc: usize, gfp_flags: c_ulong, node: c_int)
);
event!(
    /// `kmem_cache_free`.
    cache_free_on, raw_cache_free, __tracepoint_rslab_kmem_cache_free,
    rust_do_trace_rslab_kmem_cache_free,
    (call_site: c_ulong, ptr: *const c_void, name: *const c_char, name_len: c_uint)
);
event!(
    /// `kmalloc`.
    kmalloc_on, raw_kmalloc, __tracepoint_rslab_kmalloc, rust_do_trace_rslab_kmalloc,
    (call_site: c_ulong, ptr: *const c_void, bytes_req: usize, bytes_alloc: usize,
     gfp_flags: c_ulong, node: c_int)
);
event!(
    /// `kfree`.
    kfree_on, raw_kfree, __tracepoint_rslab_kfree, rust_do_trace_rslab_kfree,
    (call_site: c_ulong, ptr: *const c_void)
);
event!(
    /// `mm_page_alloc`.
    page_alloc_on, raw_page_alloc, __tracepoint_rslab_mm_page_alloc,
    rust_do_trace_rslab_mm_page_alloc,
    (pfn: c_ulong, order: c_uint, gfp_flags: c_ulong)
);
event!(
    /// `mm_page_free`.
    page_free_on, raw_page_free, __tracepoint_rslab_mm_page_free,
    rust_do_trace_rslab_mm_page_free,
    (pfn: c_ulong, order: c_uint)
);

/// The length of `name` as the events take it (a prefix, for a name past
/// `c_uint`).
fn name_len(name: &[u8]) -> c_uint {
    c_uint::try_from(name.len()).unwrap_or(c_uint::MAX)
}

/// Emits `rslab_kmem_cache_alloc` (behind [`cache_alloc_on`]).
pub(crate) fn cache_alloc(
    call_site: usize,
    ptr: *const u8,
    name: &[u8],
    bytes_req: usize,
    bytes_alloc: usize,
    gfp: u32,
    node: c_int,
) {
    let len = name_len(name);
    // SAFETY: `name` holds at least `len` readable bytes.
    unsafe {
        raw_cache_alloc(
            call_site as c_ulong,
            ptr.cast(),
            name.as_ptr().cast(),
            len,
            bytes_req,
            bytes_alloc,
            gfp as c_ulong,
            node,
        )
    }
}

/// Emits `rslab_kmem_cache_free` (behind [`cache_free_on`]).
pub(crate) fn cache_free(call_site: usize, ptr: *const u8, name: &[u8]) {
    let len = name_len(name);
    // SAFETY: `name` holds at least `len` readable bytes.
    unsafe { raw_cache_free(call_site as c_ulong, ptr.cast(), name.as_ptr().cast(), len) }
}

/// Emits `rslab_kmalloc` (behind [`kmalloc_on`]).
pub(crate) fn kmalloc(
    call_site: usize,
    ptr: *const u8,
    bytes_req: usize,
    bytes_alloc: usize,
    gfp: u32,
    node: c_int,
) {
    // SAFETY: no name; the rest is recorded.
    unsafe {
        raw_kmalloc(
            call_site as c_ulong,
            ptr.cast(),
            bytes_req,
            bytes_alloc,
            gfp as c_ulong,
            node,
        )
    }
}

/// Emits `rslab_kfree` (behind [`kfree_on`]).
pub(crate) fn kfree(call_site: usize, ptr: *const u8) {
    // SAFETY: as above.
    unsafe { raw_kfree(call_site as c_ulong, ptr.cast()) }
}

/// Emits `rslab_mm_page_alloc` (behind [`page_alloc_on`]).
pub(crate) fn page_alloc(pfn: usize, order: u32, gfp: u32) {
    // SAFETY: as above.
    unsafe { raw_page_alloc(pfn as c_ulong, order, gfp as c_ulong) }
}

/// Emits `rslab_mm_page_free` (behind [`page_free_on`]).
pub(crate) fn page_free(pfn: usize, order: u32) {
    // SAFETY: as above.
    unsafe { raw_page_free(pfn as c_ulong, order) }
}
