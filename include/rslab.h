/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rslab: a slab allocator and page pool in a loadable module.
 *
 * The kernel's slab and page allocator calls with an rslab_ prefix: a driver
 * switches by renaming. The semantics are the kernel's: NULL on failure,
 * ZERO_SIZE_PTR for a zero-size kmalloc, a reported (and ignored) bad free.
 * The symbols are EXPORT_SYMBOL_GPL; a module that uses them keeps rslab
 * loaded. Caches appear under /sys/kernel/rslab/caches/<name>/.
 */
#ifndef _RSLAB_H
#define _RSLAB_H

#include <linux/gfp_types.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/types.h>

struct page;

/**
 * rslab_cache_create - make a slab cache (kmem_cache_create())
 * @name: its name, 1 to 32 printable characters without '/', unique
 * @size: object size in bytes
 * @align: alignment (0: the minimum; else a power of two)
 * @flags: SLAB_HWCACHE_ALIGN, SLAB_CACHE_DMA, SLAB_RECLAIM_ACCOUNT,
 *         SLAB_TYPESAFE_BY_RCU, SLAB_NO_MERGE, SLAB_PANIC, SLAB_KMALLOC,
 *         SLAB_NO_USER_FLAGS (rslab's slub_debug= parameter then does not
 *         apply), and the debug flags SLAB_CONSISTENCY_CHECKS,
 *         SLAB_RED_ZONE, SLAB_POISON, SLAB_STORE_USER, SLAB_TRACE
 * @ctor: run on every object when its slab is made, or NULL
 *
 * Return: the cache, or NULL (the reason is in the kernel log).
 */
void *rslab_cache_create(const char *name, unsigned int size, unsigned int align,
			 slab_flags_t flags, void (*ctor)(void *));

/**
 * rslab_cache_destroy - destroy a cache (kmem_cache_destroy())
 * @s: the cache, or NULL
 *
 * Waits for pending rslab_kfree_rcu()s first; a cache with objects still
 * allocated is then reported and kept. May sleep.
 */
void rslab_cache_destroy(void *s);

/**
 * rslab_cache_alloc - allocate an object (kmem_cache_alloc())
 * @s: the cache
 * @gfp: allocation flags; it sleeps only if they allow it
 *
 * Return: the object, or NULL.
 */
void *rslab_cache_alloc(void *s, gfp_t gfp);

/**
 * rslab_cache_zalloc - allocate a zeroed object (kmem_cache_zalloc())
 * @s: the cache
 * @gfp: allocation flags
 *
 * Return: the object, or NULL.
 */
void *rslab_cache_zalloc(void *s, gfp_t gfp);

/**
 * rslab_cache_free - free an object (kmem_cache_free())
 * @s: the cache it came from
 * @obj: the object, or NULL
 */
void rslab_cache_free(void *s, void *obj);

/**
 * rslab_cache_alloc_bulk - allocate objects in bulk (kmem_cache_alloc_bulk())
 * @s: the cache
 * @gfp: allocation flags
 * @size: how many
 * @p: where the objects go
 *
 * Return: @size, or 0 with nothing allocated.
 */
int rslab_cache_alloc_bulk(void *s, gfp_t gfp, size_t size, void **p);

/**
 * rslab_cache_free_bulk - free objects in bulk (kmem_cache_free_bulk())
 * @s: the cache
 * @size: how many
 * @p: the objects (NULL entries are skipped)
 */
void rslab_cache_free_bulk(void *s, size_t size, void **p);

/**
 * rslab_cache_shrink - give a cache's empty slabs back (kmem_cache_shrink())
 * @s: the cache
 *
 * Return: 0.
 */
int rslab_cache_shrink(void *s);

/**
 * rslab_kmalloc - allocate memory (kmalloc())
 * @size: bytes
 * @gfp: allocation flags
 *
 * Return: the memory, ZERO_SIZE_PTR for @size 0, or NULL.
 */
void *rslab_kmalloc(size_t size, gfp_t gfp);

/**
 * rslab_kzalloc - allocate zeroed memory (kzalloc())
 * @size: bytes
 * @gfp: allocation flags
 *
 * Return: the memory, ZERO_SIZE_PTR for @size 0, or NULL.
 */
void *rslab_kzalloc(size_t size, gfp_t gfp);

/**
 * rslab_kmalloc_array - allocate an array (kmalloc_array())
 * @n: elements
 * @size: bytes per element
 * @gfp: allocation flags
 *
 * Return: the memory, or NULL (also if @n * @size overflows).
 */
void *rslab_kmalloc_array(size_t n, size_t size, gfp_t gfp);

/**
 * rslab_krealloc - resize an allocation (krealloc())
 * @p: memory from rslab_kmalloc(), or NULL
 * @new_size: bytes
 * @gfp: allocation flags
 *
 * Return: the memory (@p itself if it is big enough), or NULL with @p kept.
 */
void *rslab_krealloc(void *p, size_t new_size, gfp_t gfp);

/**
 * rslab_kfree - free memory of rslab_kmalloc() (kfree())
 * @p: the memory, NULL or ZERO_SIZE_PTR
 */
void rslab_kfree(const void *p);

/**
 * rslab_ksize - usable size of an allocation (ksize())
 * @p: memory from rslab_kmalloc()
 *
 * Return: its usable size, 0 for NULL or ZERO_SIZE_PTR.
 */
size_t rslab_ksize(const void *p);

/**
 * rslab_alloc_pages - allocate pages from rslab's pool (alloc_pages())
 * @gfp: allocation flags
 * @order: 2^@order pages
 *
 * Return: the first page, or NULL.
 */
struct page *rslab_alloc_pages(gfp_t gfp, unsigned int order);

/**
 * rslab_cache_alloc_node - allocate an object on a NUMA node (kmem_cache_alloc_node())
 * @s: the cache
 * @gfp: allocation flags (__GFP_ZERO zeroes it; __GFP_THISNODE: no other node)
 * @nid: the node, or NUMA_NO_NODE for any
 *
 * A CPU slab of another node is deactivated first (counted in the cache's
 * alloc_node_mismatch); then @nid's partial slabs, the other nodes' (unless
 * __GFP_THISNODE), or a new slab of @nid's pages.
 *
 * Return: the object, or NULL (also for a NULL @s or a @nid that is no node).
 */
void *rslab_cache_alloc_node(void *s, gfp_t gfp, int nid);

/**
 * rslab_kmalloc_node - allocate memory on a NUMA node (kmalloc_node())
 * @size: bytes
 * @gfp: allocation flags
 * @nid: the node, or NUMA_NO_NODE for any
 *
 * Return: the memory, ZERO_SIZE_PTR for @size 0, or NULL.
 */
void *rslab_kmalloc_node(size_t size, gfp_t gfp, int nid);

/**
 * rslab_alloc_pages_node - allocate pages of a NUMA node (alloc_pages_node())
 * @nid: the node, or NUMA_NO_NODE for the current CPU's
 * @gfp: allocation flags
 * @order: 2^@order pages
 *
 * The pages are @nid's if rslab's pool has or can get any there, else the
 * nearest other node's (counted in /sys/kernel/rslab/pool/numa_miss).
 * Free them with rslab_free_pages().
 *
 * Return: the first page, or NULL (also for a @nid that is no node).
 */
struct page *rslab_alloc_pages_node(int nid, gfp_t gfp, unsigned int order);

/**
 * rslab_free_pages - free pages of rslab_alloc_pages() (__free_pages())
 * @page: the first page, or NULL
 * @order: the order they were allocated with
 */
void rslab_free_pages(struct page *page, unsigned int order);

/**
 * rslab_kvfree_call_rcu - free an allocation after an RCU grace period
 * @head: an rcu_head inside the allocation
 * @ptr: the allocation (of rslab_kmalloc() or any rslab cache)
 *
 * Use rslab_kfree_rcu(). rslab waits for these before it unloads.
 */
void rslab_kvfree_call_rcu(struct rcu_head *head, void *ptr);

/**
 * rslab_kfree_rcu - kfree_rcu() for rslab allocations
 * @ptr: the allocation
 * @rhf: the name of its struct rcu_head member
 */
#define rslab_kfree_rcu(ptr, rhf) rslab_kvfree_call_rcu(&(ptr)->rhf, (void *)(ptr))

/**
 * rslab_kmalloc_cache - an object of @s for a request of @size bytes
 *                       (__kmalloc_cache_noprof())
 * @s: the cache
 * @gfp: allocation flags (__GFP_ZERO zeroes @size bytes)
 * @size: the size asked for, 1 to the cache's object size
 *
 * A cache made with SLAB_KMALLOC | SLAB_STORE_USER records @size; with
 * SLAB_RED_ZONE the bytes past it are red zone, checked on free and by
 * rslab_cache_validate().
 *
 * Return: the object, or NULL.
 */
void *rslab_kmalloc_cache(void *s, gfp_t gfp, size_t size);

/**
 * rslab_cache_validate - check every slab and object of a cache
 *                        (validate_slab_cache())
 * @s: the cache
 *
 * Reports (in SLUB's format) and repairs what is wrong; on a debug cache
 * each object's red zones, poison and padding are checked too. May sleep.
 *
 * Return: the number of slabs, or a negative errno.
 */
long rslab_cache_validate(void *s);

/**
 * rslab_slab_errors - errors rslab reported so far, on every cache
 *
 * Each report and each repair counts once, where SLUB counts one for
 * lib/tests/slub_kunit.c (its slab_errors), so a test compares the
 * difference across what it does.
 *
 * Return: the count.
 */
unsigned long rslab_slab_errors(void);

/**
 * rslab_cache_freeptr_offset - where a free object keeps its free pointer
 * @s: the cache
 *
 * For tests that corrupt it on purpose (SLUB's s->offset).
 *
 * Return: the offset from the object, in bytes.
 */
unsigned int rslab_cache_freeptr_offset(void *s);

#endif /* _RSLAB_H */
