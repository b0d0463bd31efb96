/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rslab: a slab allocator and page pool in a loadable module.
 *
 * The kernel's slab and page allocator calls with an rslab_ prefix: a driver
 * switches by renaming, or by including <rslab_compat.h>, which maps the
 * kernel's names. The contract is the kernel's:
 *
 * - NULL on failure, ZERO_SIZE_PTR for a zero-size kmalloc, a reported (and
 *   ignored) bad free;
 * - __GFP_ZERO (and the z forms) zeroes objects up to ksize() (a kmalloc
 *   cache that red-zones the size asked for: that size), on every path:
 *   single, _node, bulk, kmalloc_array, krealloc, pages; init_on_alloc and
 *   init_on_free as the kernel's, constructor, SLAB_TYPESAFE_BY_RCU and
 *   SLAB_POISON caches exempt as in SLUB;
 * - pages as alloc_pages() gives them: the first page of a block has a
 *   reference count of 1 (get_page() works on it; drop such references with
 *   rslab_put_page()), __GFP_COMP gives a compound page (served by the
 *   kernel's own allocator), a zone as gfp_zone() picks it;
 * - GFP_DMA, SLAB_CACHE_DMA and SLAB_CACHE_DMA32 give memory of that zone
 *   (kmalloc has dma-kmalloc-* classes), GFP_DMA32 is not for kmalloc and is
 *   dropped with a warning, as the kernel's kmalloc_fix_flags();
 * - every flag of the kernel's SLAB_FLAGS_PERMITTED is accepted (see
 *   rslab_cache_create()), others are refused with a warning.
 *
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

/*
 * A cache of rslab's: opaque, and a type of its own, so that a struct
 * kmem_cache * (or anything else) passed by mistake does not compile.
 */
struct rslab_cache;

/* A prefilled sheaf (struct slab_sheaf): see rslab_cache_prefill_sheaf(). */
struct rslab_sheaf;

/* Private kmalloc buckets (kmem_buckets): see rslab_kmem_buckets_create(). */
struct rslab_buckets;

/**
 * rslab_cache_create - make a slab cache (kmem_cache_create())
 * @name: its name, 1 to 32 printable characters without '/', unique
 * @size: object size in bytes
 * @align: alignment (0: the minimum; else a power of two)
 * @flags: the kernel's SLAB_FLAGS_PERMITTED: SLAB_HWCACHE_ALIGN,
 *         SLAB_CACHE_DMA and SLAB_CACHE_DMA32 (slabs of that zone),
 *         SLAB_TYPESAFE_BY_RCU, SLAB_PANIC (panics if the cache cannot be
 *         made), SLAB_KMALLOC, SLAB_NO_USER_FLAGS (rslab's slub_debug=
 *         parameter then does not apply), the debug flags
 *         SLAB_CONSISTENCY_CHECKS, SLAB_RED_ZONE, SLAB_POISON,
 *         SLAB_STORE_USER, SLAB_TRACE; and, accepted with nothing to do
 *         here, SLAB_RECLAIM_ACCOUNT (SLAB_TEMPORARY), SLAB_NO_MERGE (rslab
 *         never merges), SLAB_NOLEAKTRACE, SLAB_ACCOUNT (no memcg
 *         accounting) and SLAB_DEBUG_OBJECTS
 * @ctor: run on every object when its slab is made, or NULL
 *
 * Return: the cache, or NULL with a warning and the stack in the kernel log
 * (a flag outside SLAB_FLAGS_PERMITTED, a bad size, name or alignment).
 */
struct rslab_cache *rslab_cache_create(const char *name, unsigned int size, unsigned int align,
				       slab_flags_t flags, void (*ctor)(void *));

/**
 * rslab_kmem_cache_create - make a slab cache with 7.3's arguments
 *                           (kmem_cache_create() with struct kmem_cache_args)
 * @name: as rslab_cache_create()
 * @size: object size in bytes
 * @args: NULL (the defaults) or: @align, @ctor as rslab_cache_create();
 *        @useroffset and @usersize, the region user copies may touch
 *        (recorded, shown in sysfs as usersize; one outside the object is
 *        dropped, as the kernel's); @freeptr_offset with
 *        @use_freeptr_offset, where a free object keeps its free pointer,
 *        for a SLAB_TYPESAFE_BY_RCU or constructor cache (word-aligned,
 *        inside the object; else the cache is refused); @sheaf_capacity,
 *        above 0 a cache in 7.x's sheaves mode, its sheaves of 7.3's
 *        capacity by object size or this many objects if more (at most
 *        1024; no sheaves for a debug or SLAB_NOLEAKTRACE cache, as 7.3)
 * @flags: as rslab_cache_create()
 *
 * Return: the cache, or NULL (a warning and the stack in the kernel log).
 */
struct rslab_cache *rslab_kmem_cache_create(const char *name, unsigned int size,
					    const struct kmem_cache_args *args,
					    slab_flags_t flags);

/**
 * rslab_cache_destroy - destroy a cache (kmem_cache_destroy())
 * @s: the cache, or NULL
 *
 * Waits for pending rslab_kfree_rcu()s first; a cache with objects still
 * allocated is then reported and kept. May sleep.
 */
void rslab_cache_destroy(struct rslab_cache *s);

/**
 * rslab_cache_alloc - allocate an object (kmem_cache_alloc())
 * @s: the cache
 * @gfp: allocation flags; it sleeps only if they allow it
 *
 * Return: the object, or NULL.
 */
void *rslab_cache_alloc(struct rslab_cache *s, gfp_t gfp);

/**
 * rslab_cache_zalloc - allocate a zeroed object (kmem_cache_zalloc())
 * @s: the cache
 * @gfp: allocation flags
 *
 * Return: the object, or NULL.
 */
void *rslab_cache_zalloc(struct rslab_cache *s, gfp_t gfp);

/**
 * rslab_cache_free - free an object (kmem_cache_free())
 * @s: the cache it came from
 * @obj: the object, or NULL
 */
void rslab_cache_free(struct rslab_cache *s, void *obj);

/**
 * rslab_cache_alloc_bulk - allocate objects in bulk (kmem_cache_alloc_bulk())
 * @s: the cache
 * @gfp: allocation flags
 * @size: how many
 * @p: where the objects go
 *
 * Return: @size, or 0 with nothing allocated.
 */
int rslab_cache_alloc_bulk(struct rslab_cache *s, gfp_t gfp, size_t size, void **p);

/**
 * rslab_cache_free_bulk - free objects in bulk (kmem_cache_free_bulk())
 * @s: the cache
 * @size: how many
 * @p: the objects (NULL entries are skipped)
 */
void rslab_cache_free_bulk(struct rslab_cache *s, size_t size, void **p);

/**
 * rslab_cache_shrink - give a cache's empty slabs back (kmem_cache_shrink())
 * @s: the cache
 *
 * Return: 0.
 */
int rslab_cache_shrink(struct rslab_cache *s);

/**
 * rslab_cache_prefill_sheaf - objects set aside for a section that must not
 * fail (kmem_cache_prefill_sheaf())
 * @s: the cache (classic or sheaves)
 * @gfp: allocation flags for the prefill
 * @size: how many objects at least
 *
 * Up to the cache's sheaf_capacity, the CPU's spare sheaf or one of the barn,
 * refilled to capacity; above it (and on a classic cache, whose capacity is
 * 0) an oversize sheaf of exactly @size. Counted in sysfs as
 * sheaf_prefill_fast / sheaf_prefill_slow / sheaf_prefill_oversize.
 *
 * Return: the sheaf, or NULL for @size 0, for more objects than an array of
 * pointers in kmalloc's largest block holds (512K with 4 KiB pages), or
 * without memory.
 */
struct rslab_sheaf *rslab_cache_prefill_sheaf(struct rslab_cache *s, gfp_t gfp,
					      unsigned int size);

/**
 * rslab_cache_refill_sheaf - make a prefilled sheaf hold at least @size
 * objects (kmem_cache_refill_sheaf())
 * @s: its cache
 * @gfp: allocation flags
 * @sheafp: the sheaf; replaced by a bigger one if @size is above its capacity
 * @size: how many objects at least
 *
 * Return: 0; -ENOMEM without memory (*@sheafp stays); -EINVAL for a NULL
 * sheaf or one of another cache.
 */
int rslab_cache_refill_sheaf(struct rslab_cache *s, gfp_t gfp,
			     struct rslab_sheaf **sheafp, unsigned int size);

/**
 * rslab_cache_return_sheaf - give a prefilled sheaf back, with the objects
 * left in it (kmem_cache_return_sheaf())
 * @s: its cache
 * @gfp: allocation flags, for refilling it into the barn
 * @sheaf: the sheaf (NULL: nothing)
 *
 * It becomes the CPU's spare (sheaf_return_fast), or is refilled into the
 * barn, or flushed and freed (sheaf_return_slow); an oversize one is flushed.
 */
void rslab_cache_return_sheaf(struct rslab_cache *s, gfp_t gfp,
			      struct rslab_sheaf *sheaf);

/**
 * rslab_cache_alloc_from_sheaf - an object of a prefilled sheaf
 * (kmem_cache_alloc_from_sheaf())
 * @s: its cache
 * @gfp: __GFP_ZERO (the rest is ignored: it never allocates)
 * @sheaf: the sheaf
 *
 * Return: the object (zeroed for __GFP_ZERO, as init_on_alloc and the
 * cache's debug flags ask); NULL once the sheaf is empty.
 */
void *rslab_cache_alloc_from_sheaf(struct rslab_cache *s, gfp_t gfp,
				   struct rslab_sheaf *sheaf);

/**
 * rslab_cache_sheaf_size - the objects left in a prefilled sheaf
 * (kmem_cache_sheaf_size())
 * @sheaf: the sheaf
 */
unsigned int rslab_cache_sheaf_size(struct rslab_sheaf *sheaf);

/**
 * rslab_kmem_buckets_create - private kmalloc buckets (kmem_buckets_create())
 * @name: the caches are <name>-<size>, one per kmalloc class (8 .. 8192)
 * @flags: SLAB_* flags, as rslab_cache_create()
 * @useroffset: start of the region user copies may touch (clipped per size)
 * @usersize: its size
 * @ctor: a constructor, or NULL
 *
 * Objects allocated from the buckets never share a slab with anybody
 * else's. They are freed with rslab_kfree().
 *
 * Return: the buckets, or NULL with a warning (nothing is left made).
 */
struct rslab_buckets *rslab_kmem_buckets_create(const char *name, unsigned int flags,
						unsigned int useroffset, unsigned int usersize,
						void (*ctor)(void *));

/**
 * rslab_kmem_buckets_alloc - allocate from private buckets (kmem_buckets_alloc())
 * @b: the buckets; NULL: the shared kmalloc classes
 * @size: bytes
 * @gfp: allocation flags (__GFP_ZERO zeroes up to rslab_ksize())
 *
 * Return: the memory, ZERO_SIZE_PTR for @size 0, or NULL.
 */
void *rslab_kmem_buckets_alloc(struct rslab_buckets *b, size_t size, gfp_t gfp);

/**
 * rslab_kmem_buckets_destroy - destroy private buckets (rslab's: the
 * kernel's buckets live forever, a module's must go before it unloads)
 * @b: the buckets, or NULL
 *
 * Return: 0; -EBUSY with objects still allocated (reported), and then nothing
 * is destroyed.
 */
int rslab_kmem_buckets_destroy(struct rslab_buckets *b);

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
 * rslab_kmalloc_nolock - allocate in any context (kmalloc_nolock())
 * @size: bytes, at most the largest kmalloc class (8 KiB)
 * @gfp: __GFP_ZERO, __GFP_ACCOUNT, __GFP_NOWARN or __GFP_NOMEMALLOC; other
 *       flags are dropped
 * @nid: the node, or NUMA_NO_NODE
 *
 * Never spins on a lock and never sleeps: it may be called from hard
 * interrupts, NMIs (on x86_64) and kprobe or tracing handlers, including
 * ones that interrupted rslab itself on this CPU. It serves the object from
 * the CPU's freelist, a partial slab, or a new slab of pages the pool has
 * at hand, trying each lock once; when the size's class cannot, it tries
 * the next class once (as the kernel's). In NMI context on riscv64 (no
 * lock-free double-word exchange) it returns NULL. kmemleak and allocinfo
 * do not see these objects. Free with rslab_kfree_nolock() or rslab_kfree().
 *
 * Return: the memory, ZERO_SIZE_PTR for @size 0, or NULL (no memory at
 * hand without waiting, @size too large, or @nid no node).
 */
void *rslab_kmalloc_nolock(size_t size, gfp_t gfp, int nid);

/**
 * rslab_kfree_nolock - free in any context (kfree_nolock())
 * @p: an object of rslab_kmalloc_nolock() (or rslab_kmalloc()), NULL or
 *     ZERO_SIZE_PTR
 *
 * Frees at once when the CPU's freelist can take @p without a lock, else
 * defers the free to an irq_work on this CPU, which frees it with
 * rslab_kfree() soon after. kmemleak is not told (as the kernel's): free
 * rslab_kmalloc() memory with rslab_kfree(). A large block (over 8 KiB)
 * is refused with an error and stays allocated.
 */
void rslab_kfree_nolock(const void *p);

/**
 * rslab_ksize - usable size of an allocation (ksize())
 * @p: memory from rslab_kmalloc()
 *
 * Return: its usable size, 0 for NULL or ZERO_SIZE_PTR.
 */
size_t rslab_ksize(const void *p);

/**
 * rslab_alloc_pages - allocate pages from rslab's pool (alloc_pages())
 * @gfp: allocation flags: __GFP_ZERO zeroes them; GFP_DMA/GFP_DMA32 give
 *       pages of that zone; __GFP_COMP (order > 0) a compound page, which
 *       rslab takes from the kernel's own allocator
 * @order: 2^@order pages
 *
 * The first page has a reference count of 1, the others 0, as alloc_pages()
 * gives them. Free with rslab_free_pages(); drop references taken with
 * get_page() with rslab_put_page().
 *
 * Return: the first page, or NULL.
 */
struct page *rslab_alloc_pages(gfp_t gfp, unsigned int order);

/**
 * rslab_get_free_pages - rslab_alloc_pages() as an address (__get_free_pages())
 * @gfp: allocation flags
 * @order: 2^@order pages
 *
 * Return: the address of the first page, or 0.
 */
unsigned long rslab_get_free_pages(gfp_t gfp, unsigned int order);

/**
 * rslab_get_zeroed_page - a zeroed page (get_zeroed_page())
 * @gfp: allocation flags
 *
 * Return: its address, or 0.
 */
unsigned long rslab_get_zeroed_page(gfp_t gfp);

/**
 * rslab_put_page - drop a reference on a page (put_page())
 * @page: the page
 *
 * On the first page of one of rslab's blocks (of rslab_alloc_pages(), a
 * large rslab_kmalloc(), or a compound page rslab handed out) the last
 * reference frees the block to rslab; any other page goes to the kernel's
 * put_page(). The kernel's own put_page() must not drop the last reference
 * on a page of rslab's.
 */
void rslab_put_page(struct page *page);

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
void *rslab_cache_alloc_node(struct rslab_cache *s, gfp_t gfp, int nid);

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
 * rslab_alloc_pages_bulk - allocate order-0 pages into an array (alloc_pages_bulk())
 * @gfp: allocation flags
 * @nr_pages: entries of @page_array to fill
 * @page_array: pages; only its NULL entries are filled
 *
 * Takes the pages off rslab's per-CPU page list in batches (one lock
 * round per 32 pages), of the current CPU's node; each is what
 * rslab_alloc_pages(@gfp, 0) gives (count 1, zeroed for __GFP_ZERO).
 * Free each with rslab_free_pages(page, 0) or rslab_put_page().
 *
 * Return: how many entries from the start of @page_array hold a page,
 * those filled on entry included. Fewer than @nr_pages when memory runs
 * short; the filled entries always come first. 0 for a NULL @page_array.
 */
unsigned long rslab_alloc_pages_bulk(gfp_t gfp, unsigned long nr_pages,
				     struct page **page_array);

/**
 * rslab_free_pages - free pages of rslab_alloc_pages() (__free_pages())
 * @page: the first page, or NULL
 * @order: the order they were allocated with
 *
 * Drops the caller's reference: the last one frees the block. If others
 * hold references on the first page (get_page()), all other pages are
 * freed now and the first by the last rslab_put_page(), as the kernel does.
 * A page that is no such block, or whose count is 0, is reported and kept.
 */
void rslab_free_pages(struct page *page, unsigned int order);

/**
 * rslab_free_pages_addr - rslab_free_pages() by address (free_pages())
 * @addr: the address of the first page, or 0
 * @order: the order they were allocated with
 */
void rslab_free_pages_addr(unsigned long addr, unsigned int order);

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
void *rslab_kmalloc_cache(struct rslab_cache *s, gfp_t gfp, size_t size);

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
long rslab_cache_validate(struct rslab_cache *s);

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
unsigned int rslab_cache_freeptr_offset(struct rslab_cache *s);

#endif /* _RSLAB_H */
