// SPDX-License-Identifier: GPL-2.0
//! Declarations of the one-line C wrappers in `src/glue/helpers.c`.

use kernel::{bindings, ffi::c_ulong};

// `struct page` holds an empty struct (`mm_mm_cid` on some configs), which
// the lint flags; only pointers to it cross the boundary, which is sound.
#[allow(improper_ctypes)]
unsafe extern "C" {
    /// `page_to_pfn()`.
    pub(crate) fn rslab_page_to_pfn(page: *mut bindings::page) -> c_ulong;
    /// `__override_init_fs()`: resolve paths in the current kthread from the
    /// userspace init's root (kthreads live in nullfs since Linux 7.x).
    pub(crate) fn rslab_override_init_fs() -> *mut bindings::fs_struct;
    /// `__revert_init_fs()`.
    pub(crate) fn rslab_revert_init_fs(old: *mut bindings::fs_struct);
    /// `virt_to_page()` of a linear-map address.
    pub(crate) fn rslab_virt_to_page(addr: *const core::ffi::c_void) -> *mut bindings::page;
    /// `page_address()`.
    pub(crate) fn rslab_page_address(page: *mut bindings::page) -> *mut core::ffi::c_void;
    /// `__va(0)`: the offset of the linear map (direct map), so that
    /// `PHYS_PFN(addr - offset)` is the pfn of a linear-map address.
    pub(crate) fn rslab_linear_offset() -> c_ulong;
    /// Whether this is x86_64 with `cmpxchg16b` (`system_has_cmpxchg128()`).
    pub(crate) fn rslab_has_cmpxchg16b() -> bool;
    /// Whether this is riscv64 with Zbb
    /// (`riscv_has_extension_likely(RISCV_ISA_EXT_ZBB)`).
    pub(crate) fn rslab_has_zbb() -> bool;
    /// `get_cycles()`.
    pub(crate) fn rslab_get_cycles() -> u64;
    /// `raw_local_irq_save()` (for `CONFIG_PARAVIRT_XXL` kernels).
    #[cfg_attr(not(CONFIG_PARAVIRT_XXL), allow(dead_code))]
    pub(crate) fn rslab_irq_save() -> c_ulong;
    /// `raw_local_irq_restore()` (for `CONFIG_PARAVIRT_XXL` kernels).
    #[cfg_attr(not(CONFIG_PARAVIRT_XXL), allow(dead_code))]
    pub(crate) fn rslab_irq_restore(flags: c_ulong);
    /// `should_fail(&rslab_fail, size)`.
    pub(crate) fn rslab_should_fail(size: usize) -> bool;
    /// `fault_create_debugfs_attr(name, NULL, &rslab_fail)`.
    pub(crate) fn rslab_fail_debugfs(name: *const kernel::ffi::c_char) -> *mut bindings::dentry;
    /// `__alloc_percpu(size, align)`: zeroed per-CPU memory (a per-CPU
    /// pointer, or null).
    pub(crate) fn rslab_alloc_percpu(size: usize, align: usize) -> *mut core::ffi::c_void;
    /// The `allocinfo=` module parameter.
    pub(crate) fn rslab_allocinfo_param() -> bool;
    /// The `decay_ms=` module parameter (0 if not given).
    pub(crate) fn rslab_decay_ms_param() -> u32;
    /// The `kmalloc_sheaves=` module parameter (true if not given).
    pub(crate) fn rslab_kmalloc_sheaves_param() -> bool;
    /// `INIT_DEFERRABLE_WORK(work, func)`.
    pub(crate) fn rslab_init_deferrable_work(
        work: *mut bindings::delayed_work,
        func: bindings::work_func_t,
    );
    /// The `slub_debug=` module parameter (NULL if not given).
    pub(crate) fn rslab_slub_debug_param() -> *const kernel::ffi::c_char;
    /// `alloc_workqueue("rslab_flushwq", WQ_MEM_RECLAIM | WQ_PERCPU, 0)` (or null).
    pub(crate) fn rslab_alloc_flushwq() -> *mut bindings::workqueue_struct;
    /// `destroy_work_on_stack()` (nothing without `CONFIG_DEBUG_OBJECTS_WORK`).
    pub(crate) fn rslab_destroy_work_on_stack(work: *mut bindings::work_struct);
    /// `stack_depot_init()` (0 without `CONFIG_STACKDEPOT`). May sleep.
    pub(crate) fn rslab_stack_depot_init() -> core::ffi::c_int;
    /// `stack_depot_save(entries, nr, GFP_NOWAIT)`: a handle, or 0 (no
    /// memory, no depot, or no `CONFIG_STACKDEPOT`). Any context.
    pub(crate) fn rslab_stack_depot_save(entries: *mut c_ulong, nr: core::ffi::c_uint) -> u32;
    /// `stack_depot_print(handle)`.
    pub(crate) fn rslab_stack_depot_print(handle: u32);
    /// `kmemleak_alloc(p, size, 1, gfp)` (nothing without
    /// `CONFIG_DEBUG_KMEMLEAK`).
    #[cfg_attr(not(CONFIG_DEBUG_KMEMLEAK), allow(dead_code))]
    pub(crate) fn rslab_kmemleak_alloc(
        p: *const core::ffi::c_void,
        size: usize,
        gfp: bindings::gfp_t,
    );
    /// `kmemleak_free(p)` (likewise).
    #[cfg_attr(not(CONFIG_DEBUG_KMEMLEAK), allow(dead_code))]
    pub(crate) fn rslab_kmemleak_free(p: *const core::ffi::c_void);
    /// `kmemleak_no_scan(p)` (likewise).
    #[cfg_attr(not(CONFIG_DEBUG_KMEMLEAK), allow(dead_code))]
    pub(crate) fn rslab_kmemleak_no_scan(p: *const core::ffi::c_void);
    /// `kmemleak_ignore(p)` (likewise).
    #[cfg_attr(not(CONFIG_DEBUG_KMEMLEAK), allow(dead_code))]
    pub(crate) fn rslab_kmemleak_ignore(p: *const core::ffi::c_void);
    /// `init_irq_work(work, func)`.
    pub(crate) fn rslab_init_irq_work(
        work: *mut bindings::irq_work,
        func: Option<unsafe extern "C" fn(*mut bindings::irq_work)>,
    );
    /// `local_irq_save()` (traced: lockdep knows).
    pub(crate) fn rslab_local_irq_save() -> c_ulong;
    /// `local_irq_restore()`.
    pub(crate) fn rslab_local_irq_restore(flags: c_ulong);
    /// `in_nmi()`: whether this runs in NMI context (or in one the kernel
    /// enters as one: a kprobe's or breakpoint's handler).
    pub(crate) fn rslab_in_nmi() -> bool;
    /// `IS_ENABLED(CONFIG_NUMA)`.
    pub(crate) fn rslab_numa_enabled() -> bool;
    /// `nr_node_ids`: the bound of node numbers.
    pub(crate) fn rslab_nr_node_ids() -> core::ffi::c_uint;
    /// `node_state(nid, N_MEMORY)`.
    pub(crate) fn rslab_node_has_memory(nid: core::ffi::c_int) -> bool;
    /// `cpu_to_mem(cpu)`: the nearest node with memory of a CPU.
    pub(crate) fn rslab_cpu_to_mem(cpu: core::ffi::c_int) -> core::ffi::c_int;
    /// `node_distance(a, b)`.
    pub(crate) fn rslab_node_distance(a: core::ffi::c_int, b: core::ffi::c_int)
        -> core::ffi::c_int;
    /// `alloc_pages_node(nid, gfp, order)` (the kernel's).
    pub(crate) fn rslab_kernel_alloc_pages_node(
        nid: core::ffi::c_int,
        gfp: bindings::gfp_t,
        order: core::ffi::c_uint,
    ) -> *mut bindings::page;
    /// The kernel's `put_page()`.
    pub(crate) fn rslab_kernel_put_page(page: *mut bindings::page);
    /// `panic("%s\n", msg)`.
    pub(crate) fn rslab_panic(msg: *const kernel::ffi::c_char) -> !;
    /// `shrinker_alloc(SHRINKER_NUMA_AWARE, "%s", name)`.
    pub(crate) fn rslab_shrinker_alloc(name: *const kernel::ffi::c_char)
        -> *mut bindings::shrinker;
}
