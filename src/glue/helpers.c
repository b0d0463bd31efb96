// SPDX-License-Identifier: GPL-2.0
/*
 * One-line wrappers for static inlines and macros that the kernel crate does
 * not expose to Rust. No logic lives here: see src/glue/ffi.rs for their Rust
 * declarations and src/ for everything else.
 */
#include <linux/debugfs.h>
#include <linux/fault-inject.h>
#include <linux/fs_struct.h>
#include <linux/irq_work.h>
#include <linux/irqflags.h>
#include <linux/kmemleak.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/shrinker.h>
#include <linux/stackdepot.h>
#include <linux/timex.h>
#include <linux/workqueue.h>

#include "../../include/rslab.h"

/* The slub_debug= module parameter (parsed in src/admin.rs). */
static char *rslab_slub_debug;
module_param_named(slub_debug, rslab_slub_debug, charp, 0444);
MODULE_PARM_DESC(slub_debug, "debug flags for caches, as the kernel's slub_debug= (FZPUT[,cache...][;...])");

/* The allocinfo= module parameter (src/slab/allocinfo.rs). */
static bool rslab_allocinfo;
module_param_named(allocinfo, rslab_allocinfo, bool, 0444);
MODULE_PARM_DESC(allocinfo, "count allocations per call site in debugfs allocinfo (as CONFIG_MEM_ALLOC_PROFILING)");

/* The decay_ms= module parameter: the pool's and new caches' decay period. */
static unsigned int rslab_decay_ms;
module_param_named(decay_ms, rslab_decay_ms, uint, 0444);
MODULE_PARM_DESC(decay_ms, "give back memory kept free after this many ms idle (0: never, SLUB's behaviour); per cache and pool in sysfs");

/* The kmalloc_sheaves= module parameter: the kmalloc classes' mode. */
static bool rslab_kmalloc_sheaves = true;
module_param_named(kmalloc_sheaves, rslab_kmalloc_sheaves, bool, 0444);
MODULE_PARM_DESC(kmalloc_sheaves, "kmalloc classes with per-CPU sheaves, as 7.3's (default); 0: the classic per-CPU slab");

/* The fault attribute of rslab's backing allocations and new slabs. */
static DECLARE_FAULT_ATTR(rslab_fail);

unsigned long rslab_page_to_pfn(struct page *page);
struct fs_struct *rslab_override_init_fs(void);
void rslab_revert_init_fs(struct fs_struct *old);
void *rslab_page_address(struct page *page);
struct page *rslab_virt_to_page(const void *addr);
unsigned long rslab_linear_offset(void);
bool rslab_has_cmpxchg16b(void);
bool rslab_has_zbb(void);
unsigned long long rslab_get_cycles(void);
unsigned long rslab_irq_save(void);
void rslab_irq_restore(unsigned long flags);
bool rslab_should_fail(size_t size);
struct dentry *rslab_fail_debugfs(const char *name);
void __percpu *rslab_alloc_percpu(size_t size, size_t align);
const char *rslab_slub_debug_param(void);
bool rslab_allocinfo_param(void);
unsigned int rslab_decay_ms_param(void);
bool rslab_kmalloc_sheaves_param(void);
void rslab_init_deferrable_work(struct delayed_work *work, work_func_t func);
struct workqueue_struct *rslab_alloc_flushwq(void);
void rslab_destroy_work_on_stack(struct work_struct *work);
int rslab_stack_depot_init(void);
struct shrinker *rslab_shrinker_alloc(const char *name);
bool rslab_numa_enabled(void);
unsigned int rslab_nr_node_ids(void);
bool rslab_node_has_memory(int nid);
int rslab_cpu_to_mem(int cpu);
int rslab_node_distance(int a, int b);
struct page *rslab_kernel_alloc_pages_node(int nid, gfp_t gfp, unsigned int order);
depot_stack_handle_t rslab_stack_depot_save(unsigned long *entries, unsigned int nr);
void rslab_stack_depot_print(depot_stack_handle_t handle);
void rslab_kernel_put_page(struct page *page);
void rslab_kmemleak_alloc(const void *p, size_t size, gfp_t gfp);
void rslab_kmemleak_free(const void *p);
void rslab_kmemleak_no_scan(const void *p);
void rslab_kmemleak_ignore(const void *p);
void rslab_panic(const char *msg);
void rslab_init_irq_work(struct irq_work *work, void (*func)(struct irq_work *));
bool rslab_in_nmi(void);
unsigned long rslab_local_irq_save(void);
void rslab_local_irq_restore(unsigned long flags);

const char *rslab_slub_debug_param(void) { return rslab_slub_debug; }
bool rslab_allocinfo_param(void) { return rslab_allocinfo; }
unsigned int rslab_decay_ms_param(void) { return rslab_decay_ms; }
bool rslab_kmalloc_sheaves_param(void) { return rslab_kmalloc_sheaves; }
void rslab_init_deferrable_work(struct delayed_work *work, work_func_t func) { INIT_DEFERRABLE_WORK(work, func); }
struct workqueue_struct *rslab_alloc_flushwq(void) { return alloc_workqueue("rslab_flushwq", WQ_MEM_RECLAIM | WQ_PERCPU, 0); }
void rslab_destroy_work_on_stack(struct work_struct *work) { destroy_work_on_stack(work); }
int rslab_stack_depot_init(void) { return stack_depot_init(); }
struct shrinker *rslab_shrinker_alloc(const char *name) { return shrinker_alloc(SHRINKER_NUMA_AWARE, "%s", name); }
bool rslab_numa_enabled(void) { return IS_ENABLED(CONFIG_NUMA); }
unsigned int rslab_nr_node_ids(void) { return nr_node_ids; }
bool rslab_node_has_memory(int nid) { return node_state(nid, N_MEMORY); }
int rslab_cpu_to_mem(int cpu) { return cpu_to_mem(cpu); }
int rslab_node_distance(int a, int b) { return node_distance(a, b); }
struct page *rslab_kernel_alloc_pages_node(int nid, gfp_t gfp, unsigned int order) { return alloc_pages_node(nid, gfp, order); }
depot_stack_handle_t rslab_stack_depot_save(unsigned long *entries, unsigned int nr) { return stack_depot_save(entries, nr, GFP_NOWAIT); }
void rslab_stack_depot_print(depot_stack_handle_t handle) { stack_depot_print(handle); }
void rslab_kernel_put_page(struct page *page) { put_page(page); }
void rslab_kmemleak_alloc(const void *p, size_t size, gfp_t gfp) { kmemleak_alloc(p, size, 1, gfp); }
void rslab_kmemleak_free(const void *p) { kmemleak_free(p); }
void rslab_kmemleak_no_scan(const void *p) { kmemleak_no_scan(p); }
void rslab_kmemleak_ignore(const void *p) { kmemleak_ignore(p); }
void rslab_panic(const char *msg) { panic("%s\n", msg); }
void rslab_init_irq_work(struct irq_work *work, void (*func)(struct irq_work *)) { init_irq_work(work, func); }
bool rslab_in_nmi(void) { return in_nmi(); }

void __percpu *rslab_alloc_percpu(size_t size, size_t align) { return __alloc_percpu(size, align); }
unsigned long rslab_page_to_pfn(struct page *page) { return page_to_pfn(page); }
struct fs_struct *rslab_override_init_fs(void) { return __override_init_fs(); }
void rslab_revert_init_fs(struct fs_struct *old) { __revert_init_fs(old); }
void *rslab_page_address(struct page *page) { return page_address(page); }
struct page *rslab_virt_to_page(const void *addr) { return virt_to_page(addr); }
unsigned long rslab_linear_offset(void) { return (unsigned long)__va(0); }
#ifdef CONFIG_X86_64
bool rslab_has_cmpxchg16b(void) { return system_has_cmpxchg128(); }
#else
bool rslab_has_cmpxchg16b(void) { return false; }
#endif
#if defined(CONFIG_RISCV) && defined(CONFIG_RISCV_ISA_ZBB)
bool rslab_has_zbb(void) { return riscv_has_extension_likely(RISCV_ISA_EXT_ZBB); }
#else
bool rslab_has_zbb(void) { return false; }
#endif
unsigned long long rslab_get_cycles(void) { return get_cycles(); }
unsigned long rslab_irq_save(void) { unsigned long f; raw_local_irq_save(f); return f; }
unsigned long rslab_local_irq_save(void) { unsigned long f; local_irq_save(f); return f; }
void rslab_local_irq_restore(unsigned long flags) { local_irq_restore(flags); }
void rslab_irq_restore(unsigned long flags) { raw_local_irq_restore(flags); }
bool rslab_should_fail(size_t size) { return should_fail(&rslab_fail, size); }
struct dentry *rslab_fail_debugfs(const char *name) { return fault_create_debugfs_attr(name, NULL, &rslab_fail); }

/*
 * rslab's trace events (src/glue/rslab_trace.h), with the functions Rust
 * calls behind their static keys (rust_do_trace_<event>()). Only in rslab.ko:
 * one module defines the "rslab" trace system.
 */
#ifndef RSLAB_NO_EXPORTS
#define CREATE_TRACE_POINTS
#define CREATE_RUST_TRACE_POINTS
#include "rslab_trace.h"
#endif

/*
 * The exported API (defined in src/api.rs; see include/rslab.h). Not in
 * rslab_kunit.ko, which compiles this file too (kunit/helpers.c) for its own
 * instance of the allocator.
 */
#ifndef RSLAB_NO_EXPORTS
EXPORT_SYMBOL_GPL(rslab_cache_create);
EXPORT_SYMBOL_GPL(rslab_kmem_cache_create);
EXPORT_SYMBOL_GPL(rslab_cache_destroy);
EXPORT_SYMBOL_GPL(rslab_cache_alloc);
EXPORT_SYMBOL_GPL(rslab_cache_zalloc);
EXPORT_SYMBOL_GPL(rslab_cache_free);
EXPORT_SYMBOL_GPL(rslab_cache_alloc_bulk);
EXPORT_SYMBOL_GPL(rslab_cache_free_bulk);
EXPORT_SYMBOL_GPL(rslab_cache_shrink);
EXPORT_SYMBOL_GPL(rslab_cache_prefill_sheaf);
EXPORT_SYMBOL_GPL(rslab_cache_refill_sheaf);
EXPORT_SYMBOL_GPL(rslab_cache_return_sheaf);
EXPORT_SYMBOL_GPL(rslab_cache_alloc_from_sheaf);
EXPORT_SYMBOL_GPL(rslab_cache_sheaf_size);
EXPORT_SYMBOL_GPL(rslab_kmem_buckets_create);
EXPORT_SYMBOL_GPL(rslab_kmem_buckets_alloc);
EXPORT_SYMBOL_GPL(rslab_kmem_buckets_destroy);
EXPORT_SYMBOL_GPL(rslab_kmalloc);
EXPORT_SYMBOL_GPL(rslab_kzalloc);
EXPORT_SYMBOL_GPL(rslab_kmalloc_array);
EXPORT_SYMBOL_GPL(rslab_krealloc);
EXPORT_SYMBOL_GPL(rslab_kfree);
EXPORT_SYMBOL_GPL(rslab_kmalloc_nolock);
EXPORT_SYMBOL_GPL(rslab_kfree_nolock);
EXPORT_SYMBOL_GPL(rslab_ksize);
EXPORT_SYMBOL_GPL(rslab_alloc_pages);
EXPORT_SYMBOL_GPL(rslab_alloc_pages_node);
EXPORT_SYMBOL_GPL(rslab_alloc_pages_bulk);
EXPORT_SYMBOL_GPL(rslab_cache_alloc_node);
EXPORT_SYMBOL_GPL(rslab_kmalloc_node);
EXPORT_SYMBOL_GPL(rslab_free_pages);
EXPORT_SYMBOL_GPL(rslab_free_pages_addr);
EXPORT_SYMBOL_GPL(rslab_get_free_pages);
EXPORT_SYMBOL_GPL(rslab_get_zeroed_page);
EXPORT_SYMBOL_GPL(rslab_put_page);
EXPORT_SYMBOL_GPL(rslab_kvfree_call_rcu);
EXPORT_SYMBOL_GPL(rslab_kmalloc_cache);
EXPORT_SYMBOL_GPL(rslab_cache_validate);
EXPORT_SYMBOL_GPL(rslab_slab_errors);
EXPORT_SYMBOL_GPL(rslab_cache_freeptr_offset);
#endif
