// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's allocation contract, checked through rslab's exported API
 * (include/rslab.h) as a module author meets it: zeroing on every path
 * (__GFP_ZERO, init_on_alloc, init_on_free, the exempt caches), pages as
 * alloc_pages() gives them (reference counts, __GFP_COMP, zones), and the
 * SLAB_* flags kmem_cache_create() permits. Suite rslab_contract.
 *
 * Zeroing is checked on dirty memory: each case first allocates many
 * objects (or blocks), fills every byte, frees them all, so that whatever
 * the next allocations return was dirty unless the allocator zeroed it;
 * then it checks every byte. A case whose rule needs a boot setting the
 * kernel was not booted with (init_on_alloc=1, init_on_free=1) is skipped.
 */
#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "../include/rslab.h"

#define DIRTY 0xa5
#define NR 256

static void *objs[NR];

/* Whether bytes [from, to) of p are all zero; reports the first that is not. */
static bool zero_from(struct kunit *test, const u8 *p, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++) {
		if (p[i]) {
			kunit_info(test, "byte %zu of %zu is %#x\n", i, to, p[i]);
			return false;
		}
	}
	return true;
}

static bool all_zero(struct kunit *test, const void *p, size_t n)
{
	return zero_from(test, p, 0, n);
}

/* Leaves NR dirty free objects in s (object_size bytes each). */
static void dirty_cache(struct kunit *test, struct rslab_cache *s, size_t size)
{
	int i;

	for (i = 0; i < NR; i++) {
		objs[i] = rslab_cache_alloc(s, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, objs[i]);
		memset(objs[i], DIRTY, size);
	}
	for (i = 0; i < NR; i++)
		rslab_cache_free(s, objs[i]);
}

static const unsigned int cache_sizes[] = { 8, 64, 200, 1024, 4000 };

/*
 * __GFP_ZERO on every cache path: single, zalloc, _node (any node and this
 * CPU's), bulk: object_size bytes zero, whatever was there; on classic
 * caches and on caches in the sheaves mode (made with kmem_cache_args).
 */
static void cache_zero_every_path(struct kunit *test)
{
	struct kmem_cache_args sheaves = { .sheaf_capacity = 1 };
	int k, i, path;

	for (k = 0; k < 2 * ARRAY_SIZE(cache_sizes); k++) {
		size_t size = cache_sizes[k / 2];
		struct rslab_cache *s = rslab_kmem_cache_create("contract-zero", size,
							       k % 2 ? &sheaves : NULL, 0);

		KUNIT_ASSERT_NOT_NULL(test, s);
		for (path = 0; path < 5; path++) {
			dirty_cache(test, s, size);
			if (path == 4) {
				KUNIT_ASSERT_EQ(test, rslab_cache_alloc_bulk(s, GFP_KERNEL | __GFP_ZERO,
									  NR, objs), NR);
			}
			for (i = 0; i < NR; i++) {
				switch (path) {
				case 0:
					objs[i] = rslab_cache_alloc(s, GFP_KERNEL | __GFP_ZERO);
					break;
				case 1:
					objs[i] = rslab_cache_zalloc(s, GFP_KERNEL);
					break;
				case 2:
					objs[i] = rslab_cache_alloc_node(s, GFP_KERNEL | __GFP_ZERO,
									 NUMA_NO_NODE);
					break;
				case 3:
					objs[i] = rslab_cache_alloc_node(s, GFP_KERNEL | __GFP_ZERO,
									 numa_mem_id());
					break;
				}
				KUNIT_ASSERT_NOT_NULL(test, objs[i]);
				KUNIT_EXPECT_TRUE_MSG(test, all_zero(test, objs[i], size),
						      "size %zu path %d object %d", size, path, i);
			}
			rslab_cache_free_bulk(s, NR, objs);
		}
		rslab_cache_destroy(s);
	}
}

/* Debug caches zero too: red zone and user tracking, poison (on __GFP_ZERO). */
static void debug_cache_zero(struct kunit *test)
{
	static const slab_flags_t flags[] = {
		SLAB_RED_ZONE, SLAB_STORE_USER | SLAB_RED_ZONE, SLAB_POISON,
		SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER,
	};
	int k, i;

	for (k = 0; k < ARRAY_SIZE(flags); k++) {
		struct rslab_cache *s = rslab_cache_create("contract-dbg", 100, 0,
							   flags[k] | SLAB_NO_USER_FLAGS, NULL);

		KUNIT_ASSERT_NOT_NULL(test, s);
		dirty_cache(test, s, 100);
		for (i = 0; i < NR; i++) {
			objs[i] = rslab_cache_alloc(s, GFP_KERNEL | __GFP_ZERO);
			KUNIT_ASSERT_NOT_NULL(test, objs[i]);
			KUNIT_EXPECT_TRUE_MSG(test, all_zero(test, objs[i], 100), "flags %#x",
					      (unsigned int)flags[k]);
		}
		rslab_cache_free_bulk(s, NR, objs);
		/* Zeroing touched nothing but the objects: the checks agree. */
		KUNIT_EXPECT_GE(test, rslab_cache_validate(s), 0);
		rslab_cache_destroy(s);
	}
}

/* Leaves NR dirty free kmalloc objects of size bytes (ksize() each). */
static void dirty_kmalloc(struct kunit *test, size_t size)
{
	int i;

	for (i = 0; i < NR; i++) {
		objs[i] = rslab_kmalloc(size, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, objs[i]);
		memset(objs[i], DIRTY, rslab_ksize(objs[i]));
	}
	for (i = 0; i < NR; i++)
		rslab_kfree(objs[i]);
}

static const size_t kmalloc_sizes[] = { 1, 8, 13, 64, 100, 192, 1000, 4096, 8192, 10000, 40000 };

/*
 * Every kmalloc path zeroes up to ksize(): __GFP_ZERO, kzalloc,
 * kmalloc_array (kcalloc), kmalloc_node, on the classes and large sizes.
 */
static void kmalloc_zero_to_ksize(struct kunit *test)
{
	int k, i, path;

	for (k = 0; k < ARRAY_SIZE(kmalloc_sizes); k++) {
		size_t size = kmalloc_sizes[k];

		for (path = 0; path < 4; path++) {
			/* Large blocks: fewer, they are big. */
			int n = size > 8192 ? 16 : NR;

			dirty_kmalloc(test, size);
			for (i = 0; i < n; i++) {
				u8 *p;

				switch (path) {
				case 0:
					p = rslab_kmalloc(size, GFP_KERNEL | __GFP_ZERO);
					break;
				case 1:
					p = rslab_kzalloc(size, GFP_KERNEL);
					break;
				case 2:
					p = rslab_kmalloc_array(1, size, GFP_KERNEL | __GFP_ZERO);
					break;
				default:
					p = rslab_kmalloc_node(size, GFP_KERNEL | __GFP_ZERO,
							       NUMA_NO_NODE);
					break;
				}
				KUNIT_ASSERT_NOT_NULL(test, p);
				KUNIT_EXPECT_GE(test, rslab_ksize(p), size);
				KUNIT_EXPECT_TRUE_MSG(test, all_zero(test, p, rslab_ksize(p)),
						      "size %zu path %d", size, path);
				objs[i] = p;
			}
			for (i = 0; i < n; i++)
				rslab_kfree(objs[i]);
		}
	}
	/* kcalloc's overflow is refused. */
	KUNIT_EXPECT_NULL(test, rslab_kmalloc_array(SIZE_MAX / 2, 4, GFP_KERNEL | __GFP_ZERO));
}

/*
 * krealloc with __GFP_ZERO on memory that was zeroed: in place (within
 * ksize()) the bytes past the new size are zero; moved, everything past the
 * old contents up to the new ksize() is; shrinking in place zeroes the rest.
 */
static void krealloc_zero_both_ways(struct kunit *test)
{
	const gfp_t gfp = GFP_KERNEL | __GFP_ZERO;
	u8 *p, *q, *r;

	dirty_kmalloc(test, 100);
	p = rslab_kzalloc(100, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_EQ(test, rslab_ksize(p), 128);
	memset(p, 0x5a, 100);
	q = rslab_krealloc(p, 120, gfp);
	KUNIT_ASSERT_PTR_EQ(test, q, p);
	KUNIT_EXPECT_NULL(test, memchr_inv(q, 0x5a, 100));
	KUNIT_EXPECT_TRUE(test, zero_from(test, q, 100, 128));
	memset(q + 100, 0x5a, 20);
	r = rslab_krealloc(q, 1000, gfp);
	KUNIT_ASSERT_NOT_NULL(test, r);
	KUNIT_EXPECT_PTR_NE(test, r, q);
	KUNIT_EXPECT_NULL(test, memchr_inv(r, 0x5a, 120));
	KUNIT_EXPECT_TRUE(test, zero_from(test, r, 120, rslab_ksize(r)));
	memset(r, 0x5a, rslab_ksize(r));
	q = rslab_krealloc(r, 50, gfp);
	KUNIT_ASSERT_PTR_EQ(test, q, r);
	KUNIT_EXPECT_NULL(test, memchr_inv(q, 0x5a, 50));
	KUNIT_EXPECT_TRUE(test, zero_from(test, q, 50, rslab_ksize(q)));
	rslab_kfree(q);
}

static struct page *pages[NR];

/* Leaves n dirty free blocks of order. */
static void dirty_pages(struct kunit *test, unsigned int order, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		pages[i] = rslab_alloc_pages(GFP_KERNEL, order);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
		memset(page_address(pages[i]), DIRTY, PAGE_SIZE << order);
	}
	for (i = 0; i < n; i++)
		rslab_free_pages(pages[i], order);
}

/*
 * Pages: __GFP_ZERO zeroes them (alloc_pages, __get_free_pages,
 * get_zeroed_page); the first page's count is 1, the others' 0; none is
 * compound without __GFP_COMP.
 */
static void pages_zeroed_and_counted(struct kunit *test)
{
	unsigned int order;
	int i, j;

	for (order = 0; order <= 3; order++) {
		dirty_pages(test, order, 32);
		for (i = 0; i < 32; i++) {
			pages[i] = rslab_alloc_pages(GFP_KERNEL | __GFP_ZERO, order);
			KUNIT_ASSERT_NOT_NULL(test, pages[i]);
			KUNIT_EXPECT_TRUE(test, all_zero(test, page_address(pages[i]),
							 PAGE_SIZE << order));
			KUNIT_EXPECT_EQ(test, page_count(pages[i]), 1);
			for (j = 1; j < 1 << order; j++)
				KUNIT_EXPECT_EQ(test, page_ref_count(pages[i] + j), 0);
			KUNIT_EXPECT_FALSE(test, PageCompound(pages[i]));
		}
		for (i = 0; i < 32; i++)
			rslab_free_pages(pages[i], order);
	}
	dirty_pages(test, 1, 32);
	for (i = 0; i < 32; i++) {
		unsigned long a = rslab_get_free_pages(GFP_KERNEL | __GFP_ZERO, 1);

		KUNIT_ASSERT_NE(test, a, 0);
		KUNIT_EXPECT_TRUE(test, all_zero(test, (void *)a, 2 * PAGE_SIZE));
		rslab_free_pages_addr(a, 1);
	}
	dirty_pages(test, 0, 32);
	for (i = 0; i < 32; i++) {
		unsigned long a = rslab_get_zeroed_page(GFP_KERNEL);

		KUNIT_ASSERT_NE(test, a, 0);
		KUNIT_EXPECT_TRUE(test, all_zero(test, (void *)a, PAGE_SIZE));
		KUNIT_EXPECT_EQ(test, page_count(virt_to_page((void *)a)), 1);
		rslab_free_pages_addr(a, 0);
	}
}

/*
 * alloc_pages_bulk(): fills only the NULL entries, returns how many entries
 * from the start hold a page (as the kernel's does for the same array),
 * each page counted once, zeroed for __GFP_ZERO, of the zone asked for.
 */
static void pages_bulk_as_the_kernel(struct kunit *test)
{
	static struct page *kp[64], *rp[64];
	static const gfp_t zone_gfp[] = { 0, GFP_DMA, GFP_DMA32 };
	struct page *mine;
	int i, k;

	dirty_pages(test, 0, 64);
	for (i = 0; i < 64; i++)
		rp[i] = NULL;
	KUNIT_EXPECT_EQ(test, rslab_alloc_pages_bulk(GFP_KERNEL | __GFP_ZERO, 64, rp), 64);
	for (i = 0; i < 64; i++) {
		KUNIT_ASSERT_NOT_NULL(test, rp[i]);
		KUNIT_EXPECT_EQ(test, page_count(rp[i]), 1);
		KUNIT_EXPECT_TRUE(test, all_zero(test, page_address(rp[i]), PAGE_SIZE));
		KUNIT_EXPECT_FALSE(test, PageCompound(rp[i]));
		if (i)
			KUNIT_EXPECT_PTR_NE(test, rp[i], rp[i - 1]);
	}
	for (i = 0; i < 64; i++)
		rslab_free_pages(rp[i], 0);

	/* Holes: entries 1, 2 and 5 of 8 taken; both fill the other five. */
	mine = rslab_alloc_pages(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, mine);
	for (i = 0; i < 8; i++)
		kp[i] = rp[i] = NULL;
	kp[1] = kp[2] = kp[5] = rp[1] = rp[2] = rp[5] = mine;
	KUNIT_EXPECT_EQ(test, alloc_pages_bulk(GFP_KERNEL, 8, kp), 8);
	KUNIT_EXPECT_EQ(test, rslab_alloc_pages_bulk(GFP_KERNEL, 8, rp), 8);
	for (i = 0; i < 8; i++) {
		if (i == 1 || i == 2 || i == 5) {
			KUNIT_EXPECT_PTR_EQ(test, rp[i], mine);
			continue;
		}
		KUNIT_ASSERT_NOT_NULL(test, rp[i]);
		KUNIT_EXPECT_PTR_NE(test, rp[i], mine);
		rslab_free_pages(rp[i], 0);
		__free_page(kp[i]);
	}
	KUNIT_EXPECT_EQ(test, page_count(mine), 1);
	rslab_free_pages(mine, 0);

	/* A full array: nothing to do, its length back; none asked: 0. */
	for (i = 0; i < 4; i++)
		rp[i] = kp[i] = ZERO_PAGE(0);
	KUNIT_EXPECT_EQ(test, rslab_alloc_pages_bulk(GFP_KERNEL, 4, rp),
			alloc_pages_bulk(GFP_KERNEL, 4, kp));
	KUNIT_EXPECT_EQ(test, rslab_alloc_pages_bulk(GFP_KERNEL, 4, rp), 4);
	KUNIT_EXPECT_EQ(test, rslab_alloc_pages_bulk(GFP_KERNEL, 0, rp), 0);
	KUNIT_EXPECT_EQ(test, rslab_alloc_pages_bulk(GFP_KERNEL, 4, NULL), 0);

	/* Each zone's pages, as the kernel's allocator gives them. */
	for (k = 0; k < ARRAY_SIZE(zone_gfp); k++) {
		gfp_t gfp = GFP_KERNEL | zone_gfp[k];
		struct page *z = alloc_page(gfp);

		KUNIT_ASSERT_NOT_NULL(test, z);
		for (i = 0; i < 40; i++)
			rp[i] = NULL;
		KUNIT_EXPECT_EQ(test, rslab_alloc_pages_bulk(gfp, 40, rp), 40);
		for (i = 0; i < 40; i++) {
			KUNIT_ASSERT_NOT_NULL(test, rp[i]);
			KUNIT_EXPECT_EQ_MSG(test, page_zonenum(rp[i]), page_zonenum(z), "gfp %#x",
					    gfp);
			rslab_free_pages(rp[i], 0);
		}
		__free_page(z);
	}
}

/* __GFP_COMP: a compound page of that order, counted once, zeroed on request. */
static void pages_compound(struct kunit *test)
{
	unsigned int order;

	for (order = 1; order <= 3; order++) {
		struct page *p = rslab_alloc_pages(GFP_KERNEL | __GFP_COMP | __GFP_ZERO, order);

		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_TRUE(test, PageCompound(p));
		KUNIT_EXPECT_TRUE(test, PageHead(p));
		KUNIT_EXPECT_EQ(test, compound_order(p), order);
		KUNIT_EXPECT_EQ(test, page_count(p), 1);
		KUNIT_EXPECT_TRUE(test, all_zero(test, page_address(p), PAGE_SIZE << order));
		/* A reference taken while it is freed: freed at the last put. */
		get_page(p);
		rslab_free_pages(p, order);
		KUNIT_EXPECT_EQ(test, page_count(p), 1);
		KUNIT_EXPECT_TRUE(test, PageHead(p));
		rslab_put_page(p);
	}
	/* Order 0: __GFP_COMP means nothing; a page of rslab's own. */
	{
		struct page *p = rslab_alloc_pages(GFP_KERNEL | __GFP_COMP, 0);

		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_FALSE(test, PageCompound(p));
		KUNIT_EXPECT_EQ(test, page_count(p), 1);
		rslab_free_pages(p, 0);
	}
}

/*
 * A block freed while another holds its first page (a speculative
 * reference, as test_free_pages simulates): the count drops by one and the
 * first page stays until the last rslab_put_page(); the rest is freed.
 */
static void pages_free_with_a_reference(struct kunit *test)
{
	struct page *p = rslab_alloc_pages(GFP_KERNEL, 3);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, p);
	get_page(p);
	KUNIT_EXPECT_EQ(test, page_count(p), 2);
	rslab_free_pages(p, 3);
	KUNIT_EXPECT_EQ(test, page_count(p), 1);
	/* Still ours: writable, and the rest of the block reusable. */
	memset(page_address(p), DIRTY, PAGE_SIZE);
	for (i = 0; i < 8; i++) {
		pages[i] = rslab_alloc_pages(GFP_KERNEL, 0);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
		KUNIT_EXPECT_PTR_NE(test, pages[i], p);
	}
	for (i = 0; i < 8; i++)
		rslab_free_pages(pages[i], 0);
	rslab_put_page(p);
	KUNIT_EXPECT_EQ(test, page_count(p), 0);
	/* A page of the kernel's goes to the kernel's put_page(). */
	p = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	get_page(p);
	rslab_put_page(p);
	KUNIT_EXPECT_EQ(test, page_count(p), 1);
	__free_page(p);
}

/*
 * Zones: what the kernel's own allocator gives for each zone flag in this
 * boot, rslab gives too (pages, kmalloc, SLAB_CACHE_DMA/DMA32 caches).
 */
static void zones_as_the_kernel(struct kunit *test)
{
	static const gfp_t zone_gfp[] = { 0, GFP_DMA, GFP_DMA32 };
	int k;

	for (k = 0; k < ARRAY_SIZE(zone_gfp); k++) {
		gfp_t gfp = GFP_KERNEL | zone_gfp[k];
		struct page *kp = alloc_page(gfp);
		struct page *rp = rslab_alloc_pages(gfp, 0);

		KUNIT_ASSERT_NOT_NULL(test, kp);
		KUNIT_ASSERT_NOT_NULL(test, rp);
		KUNIT_EXPECT_EQ_MSG(test, page_zonenum(rp), page_zonenum(kp), "gfp %#x", gfp);
		rslab_free_pages(rp, 0);
		__free_page(kp);
	}
#ifdef CONFIG_ZONE_DMA
	{
		struct rslab_cache *s = rslab_cache_create("contract-dma", 100, 0, SLAB_CACHE_DMA, NULL);
		void *o, *km = rslab_kmalloc(100, GFP_KERNEL | GFP_DMA);
		struct page *p = rslab_alloc_pages(GFP_KERNEL | GFP_DMA, 2);

		KUNIT_ASSERT_NOT_NULL(test, s);
		o = rslab_cache_alloc(s, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, o);
		KUNIT_ASSERT_NOT_NULL(test, km);
		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_EQ(test, page_zonenum(virt_to_page(o)), ZONE_DMA);
		KUNIT_EXPECT_EQ(test, page_zonenum(virt_to_page(km)), ZONE_DMA);
		KUNIT_EXPECT_EQ(test, page_zonenum(p), ZONE_DMA);
		rslab_free_pages(p, 2);
		rslab_kfree(km);
		rslab_cache_free(s, o);
		rslab_cache_destroy(s);
	}
#endif
	if (IS_ENABLED(CONFIG_ZONE_DMA32)) {
		struct rslab_cache *s = rslab_cache_create("contract-dma32", 100, 0, SLAB_CACHE_DMA32,
							   NULL);
		void *o;

		KUNIT_ASSERT_NOT_NULL(test, s);
		o = rslab_cache_alloc(s, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, o);
		KUNIT_EXPECT_EQ(test, page_zonenum(virt_to_page(o)), ZONE_DMA32);
		rslab_cache_free(s, o);
		rslab_cache_destroy(s);
	}
}

/*
 * Every flag of the kernel's SLAB_FLAGS_PERMITTED makes a cache (alone and
 * all together); a flag outside it is refused.
 */
static void permitted_flags(struct kunit *test)
{
	static const slab_flags_t permitted[] = {
		SLAB_HWCACHE_ALIGN, SLAB_CACHE_DMA, SLAB_CACHE_DMA32, SLAB_PANIC,
		SLAB_TYPESAFE_BY_RCU, SLAB_DEBUG_OBJECTS, SLAB_NOLEAKTRACE,
		SLAB_RECLAIM_ACCOUNT, SLAB_TEMPORARY, SLAB_ACCOUNT, SLAB_NO_USER_FLAGS,
		SLAB_KMALLOC, SLAB_NO_MERGE, SLAB_RED_ZONE, SLAB_POISON,
		SLAB_STORE_USER, SLAB_TRACE, SLAB_CONSISTENCY_CHECKS,
	};
	slab_flags_t all = 0;
	int k;

	for (k = 0; k < ARRAY_SIZE(permitted); k++) {
		struct rslab_cache *s = rslab_cache_create("contract-flags", 64, 0, permitted[k], NULL);
		void *o;

		KUNIT_EXPECT_NOT_NULL_MSG(test, s, "flags %#x", (unsigned int)permitted[k]);
		if (!s)
			continue;
		o = rslab_cache_alloc(s, GFP_KERNEL);
		KUNIT_EXPECT_NOT_NULL(test, o);
		rslab_cache_free(s, o);
		rslab_cache_destroy(s);
		/* SLAB_TRACE logs every operation: not with the others. */
		if (permitted[k] != SLAB_TRACE)
			all |= permitted[k];
	}
	{
		struct rslab_cache *s = rslab_cache_create("contract-flags", 64, 0,
							   all & ~SLAB_CACHE_DMA32, NULL);

		KUNIT_EXPECT_NOT_NULL(test, s);
		rslab_cache_destroy(s);
	}
	/* Outside SLAB_FLAGS_PERMITTED (a flag of SLUB's own, and a bit past the last). */
	KUNIT_EXPECT_NULL(test, rslab_cache_create("contract-flags-bad", 64, 0,
						   __SLAB_FLAG_BIT(_SLAB_OBJECT_POISON), NULL));
	KUNIT_EXPECT_NULL(test, rslab_cache_create("contract-flags-bad", 64, 0,
						   __SLAB_FLAG_BIT(_SLAB_FLAGS_LAST_BIT), NULL));
}

/*
 * init_on_alloc=1: every allocation is zeroed without __GFP_ZERO, but a
 * constructor cache's (never) and an RCU cache's (only on __GFP_ZERO).
 */
static int ctor_calls;

static void contract_ctor(void *p)
{
	memset(p, 0x3c, 64);
	ctor_calls++;
}

static void init_on_alloc_zeroes(struct kunit *test)
{
	struct rslab_cache *s, *r, *c;
	int i;

	if (!want_init_on_alloc(GFP_KERNEL))
		kunit_skip(test, "needs init_on_alloc=1");
	s = rslab_cache_create("contract-ioa", 64, 0, 0, NULL);
	r = rslab_cache_create("contract-ioa-rcu", 64, 0, SLAB_TYPESAFE_BY_RCU, NULL);
	c = rslab_cache_create("contract-ioa-ctor", 64, 0, 0, contract_ctor);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_ASSERT_NOT_NULL(test, r);
	KUNIT_ASSERT_NOT_NULL(test, c);
	dirty_cache(test, s, 64);
	for (i = 0; i < NR; i++) {
		objs[i] = rslab_cache_alloc(s, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, objs[i]);
		KUNIT_EXPECT_TRUE(test, all_zero(test, objs[i], 64));
	}
	rslab_cache_free_bulk(s, NR, objs);
	/* RCU: a freed object keeps its contents; zeroed on __GFP_ZERO only. */
	{
		u8 *o = rslab_cache_alloc(r, GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, o);
		memset(o, DIRTY, 64);
		rslab_cache_free(r, o);
		KUNIT_EXPECT_NULL(test, memchr_inv(o, DIRTY, 64));
	}
	/* The constructor's state stays. */
	for (i = 0; i < 16; i++) {
		u8 *o = rslab_cache_alloc(c, GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, o);
		KUNIT_EXPECT_NULL(test, memchr_inv(o, 0x3c, 64));
		objs[i] = o;
	}
	rslab_cache_free_bulk(c, 16, objs);
	/* kmalloc and pages too. */
	dirty_kmalloc(test, 300);
	for (i = 0; i < NR; i++) {
		objs[i] = rslab_kmalloc(300, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, objs[i]);
		KUNIT_EXPECT_TRUE(test, all_zero(test, objs[i], rslab_ksize(objs[i])));
	}
	for (i = 0; i < NR; i++)
		rslab_kfree(objs[i]);
	dirty_pages(test, 2, 16);
	for (i = 0; i < 16; i++) {
		pages[i] = rslab_alloc_pages(GFP_KERNEL, 2);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
		KUNIT_EXPECT_TRUE(test, all_zero(test, page_address(pages[i]), 4 * PAGE_SIZE));
	}
	for (i = 0; i < 16; i++)
		rslab_free_pages(pages[i], 2);
	rslab_cache_destroy(c);
	rslab_cache_destroy(r);
	rslab_cache_destroy(s);
}

/*
 * init_on_free=1: a freed object is zero (but its free pointer), a freed
 * block of pages too; the constructor and RCU caches keep their contents.
 */
static void init_on_free_zeroes(struct kunit *test)
{
	struct rslab_cache *s, *r;
	unsigned int off;
	u8 *o;
	struct page *p;

	if (!want_init_on_free())
		kunit_skip(test, "needs init_on_free=1");
	s = rslab_cache_create("contract-iof", 200, 0, 0, NULL);
	r = rslab_cache_create("contract-iof-rcu", 200, 0, SLAB_TYPESAFE_BY_RCU, NULL);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_ASSERT_NOT_NULL(test, r);
	off = rslab_cache_freeptr_offset(s);
	o = rslab_cache_alloc(s, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, o);
	memset(o, DIRTY, 200);
	rslab_cache_free(s, o);
	KUNIT_EXPECT_TRUE(test, zero_from(test, o, 0, off));
	KUNIT_EXPECT_TRUE(test, zero_from(test, o, off + sizeof(void *), 200));
	/* The free pointer is wiped when the object is handed out again. */
	o = rslab_cache_alloc(s, GFP_KERNEL);
	KUNIT_EXPECT_TRUE(test, all_zero(test, o, 200));
	rslab_cache_free(s, o);
	o = rslab_cache_alloc(r, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, o);
	memset(o, DIRTY, 200);
	rslab_cache_free(r, o);
	KUNIT_EXPECT_NULL(test, memchr_inv(o, DIRTY, 200));
	p = rslab_alloc_pages(GFP_KERNEL, 1);
	KUNIT_ASSERT_NOT_NULL(test, p);
	memset(page_address(p), DIRTY, 2 * PAGE_SIZE);
	rslab_free_pages(p, 1);
	KUNIT_EXPECT_TRUE(test, all_zero(test, page_address(p), 2 * PAGE_SIZE));
	rslab_cache_destroy(r);
	rslab_cache_destroy(s);
}

/*
 * 7.3's struct kmem_cache_args: NULL is the defaults; a free pointer offset
 * of the cache's choosing in an RCU or constructor cache, refused as
 * create_cache() refuses it elsewhere; sheaf_capacity makes a sheaves cache
 * (the objects work as any), refused above the limit.
 */
static void kmem_cache_args_honoured(struct kunit *test)
{
	struct kmem_cache_args rcu = { .freeptr_offset = 8, .use_freeptr_offset = true };
	struct kmem_cache_args ctor = { .freeptr_offset = 0, .use_freeptr_offset = true,
					.ctor = contract_ctor };
	struct kmem_cache_args big = { .sheaf_capacity = 5000 };
	struct kmem_cache_args sh = { .sheaf_capacity = 40 };
	struct rslab_cache *s;
	int i;

	s = rslab_kmem_cache_create("contract-args", 64, NULL, 0);
	KUNIT_ASSERT_NOT_NULL(test, s);
	rslab_cache_destroy(s);
	s = rslab_kmem_cache_create("contract-args", 64, &rcu, SLAB_TYPESAFE_BY_RCU);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_EQ(test, rslab_cache_freeptr_offset(s), 8);
	rslab_cache_destroy(s);
	s = rslab_kmem_cache_create("contract-args", 64, &ctor, 0);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_EQ(test, rslab_cache_freeptr_offset(s), 0);
	rslab_cache_destroy(s);
	/* A plain cache, past the object, unaligned; a sheaf too big. */
	KUNIT_EXPECT_NULL(test, rslab_kmem_cache_create("contract-args-bad", 64, &rcu, 0));
	rcu.freeptr_offset = 64;
	KUNIT_EXPECT_NULL(test, rslab_kmem_cache_create("contract-args-bad", 64, &rcu,
							SLAB_TYPESAFE_BY_RCU));
	rcu.freeptr_offset = 4;
	KUNIT_EXPECT_NULL(test, rslab_kmem_cache_create("contract-args-bad", 64, &rcu,
							SLAB_TYPESAFE_BY_RCU));
	KUNIT_EXPECT_NULL(test, rslab_kmem_cache_create("contract-args-bad", 64, &big, 0));
	s = rslab_kmem_cache_create("contract-args", 256, &sh, 0);
	KUNIT_ASSERT_NOT_NULL(test, s);
	for (i = 0; i < NR; i++) {
		objs[i] = rslab_cache_alloc(s, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, objs[i]);
	}
	rslab_cache_free_bulk(s, NR, objs);
	KUNIT_EXPECT_GE(test, rslab_cache_validate(s), 0);
	rslab_cache_destroy(s);
}

/*
 * Prefilled sheaves as 7.3's kmem_cache_prefill_sheaf() family: a sheaf
 * gives exactly what it holds (zeroed for __GFP_ZERO though the cache's free
 * objects are dirty), then NULL; a refill tops it up, or replaces it by an
 * oversize one of exactly the size asked; bad handles get -EINVAL; a classic
 * cache serves them too (oversize, exactly the size asked).
 */
static void prefill_sheaves_as_7_3(struct kunit *test)
{
	struct kmem_cache_args args = { .sheaf_capacity = 40 };
	struct rslab_cache *s, *classic;
	struct rslab_sheaf *sh, *none = NULL;
	unsigned int i, n;

	s = rslab_kmem_cache_create("contract-prefill", 256, &args, 0);
	KUNIT_ASSERT_NOT_NULL(test, s);
	dirty_cache(test, s, 256);
	KUNIT_EXPECT_NULL(test, rslab_cache_prefill_sheaf(s, GFP_KERNEL, 0));
	KUNIT_EXPECT_NULL(test, rslab_cache_prefill_sheaf(s, GFP_KERNEL, UINT_MAX));
	sh = rslab_cache_prefill_sheaf(s, GFP_KERNEL, 5);
	KUNIT_ASSERT_NOT_NULL(test, sh);
	n = rslab_cache_sheaf_size(sh);
	KUNIT_EXPECT_GE(test, n, 40u);
	KUNIT_ASSERT_LE(test, n, (unsigned int)NR);
	for (i = 0; i < n; i++) {
		objs[i] = rslab_cache_alloc_from_sheaf(s, GFP_KERNEL | __GFP_ZERO, sh);
		KUNIT_ASSERT_NOT_NULL(test, objs[i]);
		KUNIT_EXPECT_TRUE(test, all_zero(test, objs[i], 256));
	}
	KUNIT_EXPECT_NULL(test, rslab_cache_alloc_from_sheaf(s, GFP_KERNEL, sh));
	KUNIT_EXPECT_EQ(test, rslab_cache_sheaf_size(sh), 0u);
	rslab_cache_free_bulk(s, n, objs);
	KUNIT_EXPECT_EQ(test, rslab_cache_refill_sheaf(s, GFP_KERNEL, &sh, 3), 0);
	KUNIT_EXPECT_EQ(test, rslab_cache_sheaf_size(sh), n);
	KUNIT_EXPECT_EQ(test, rslab_cache_refill_sheaf(s, GFP_KERNEL, NULL, 3), -EINVAL);
	KUNIT_EXPECT_EQ(test, rslab_cache_refill_sheaf(s, GFP_KERNEL, &none, 3), -EINVAL);
	KUNIT_EXPECT_EQ(test, rslab_cache_refill_sheaf(s, GFP_KERNEL, &sh, UINT_MAX), -ENOMEM);
	KUNIT_EXPECT_EQ(test, rslab_cache_sheaf_size(sh), n);
	KUNIT_EXPECT_EQ(test, rslab_cache_refill_sheaf(s, GFP_KERNEL, &sh, n + 100), 0);
	KUNIT_EXPECT_EQ(test, rslab_cache_sheaf_size(sh), n + 100);
	rslab_cache_return_sheaf(s, GFP_KERNEL, sh);
	KUNIT_EXPECT_GE(test, rslab_cache_validate(s), 0);
	rslab_cache_destroy(s);

	classic = rslab_cache_create("contract-prefill-classic", 64, 0, 0, NULL);
	KUNIT_ASSERT_NOT_NULL(test, classic);
	sh = rslab_cache_prefill_sheaf(classic, GFP_KERNEL, 3);
	KUNIT_ASSERT_NOT_NULL(test, sh);
	KUNIT_EXPECT_EQ(test, rslab_cache_sheaf_size(sh), 3u);
	for (i = 0; i < 3; i++) {
		objs[i] = rslab_cache_alloc_from_sheaf(classic, GFP_KERNEL, sh);
		KUNIT_ASSERT_NOT_NULL(test, objs[i]);
	}
	KUNIT_EXPECT_NULL(test, rslab_cache_alloc_from_sheaf(classic, GFP_KERNEL, sh));
	rslab_cache_return_sheaf(classic, GFP_KERNEL, sh);
	rslab_cache_free_bulk(classic, 3, objs);
	KUNIT_EXPECT_GE(test, rslab_cache_validate(classic), 0);
	rslab_cache_destroy(classic);
}

/*
 * Private buckets as kmem_buckets_create(): every size of the classes and
 * above zeroed to ksize() for __GFP_ZERO though the memory was dirty,
 * ZERO_SIZE_PTR for 0, freed by kfree; NULL buckets are kmalloc's; a
 * destroy with an object out is -EBUSY, and succeeds once it is freed.
 */
static void buckets_as_the_kernel(struct kunit *test)
{
	static const size_t sizes[] = { 1, 64, 100, 700, 4000, 8192, 20000 };
	struct rslab_buckets *b;
	void *p;
	int i, round;

	b = rslab_kmem_buckets_create("contract-bkt", SLAB_HWCACHE_ALIGN, 0, 64, NULL);
	KUNIT_ASSERT_NOT_NULL(test, b);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < ARRAY_SIZE(sizes); i++) {
			p = rslab_kmem_buckets_alloc(b, sizes[i], GFP_KERNEL | __GFP_ZERO);
			KUNIT_ASSERT_NOT_NULL(test, p);
			KUNIT_EXPECT_GE(test, rslab_ksize(p), sizes[i]);
			KUNIT_EXPECT_TRUE(test, all_zero(test, p, rslab_ksize(p)));
			memset(p, DIRTY, rslab_ksize(p));
			rslab_kfree(p);
		}
	}
	KUNIT_EXPECT_PTR_EQ(test, rslab_kmem_buckets_alloc(b, 0, GFP_KERNEL), ZERO_SIZE_PTR);
	p = rslab_kmem_buckets_alloc(NULL, 100, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	rslab_kfree(p);
	p = rslab_kmem_buckets_alloc(b, 100, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, rslab_kmem_buckets_destroy(b), -EBUSY);
	rslab_kfree(p);
	KUNIT_EXPECT_EQ(test, rslab_kmem_buckets_destroy(b), 0);
}

static struct kunit_case contract_cases[] = {
	KUNIT_CASE(kmem_cache_args_honoured),
	KUNIT_CASE(prefill_sheaves_as_7_3),
	KUNIT_CASE(buckets_as_the_kernel),
	KUNIT_CASE(cache_zero_every_path),
	KUNIT_CASE(debug_cache_zero),
	KUNIT_CASE(kmalloc_zero_to_ksize),
	KUNIT_CASE(krealloc_zero_both_ways),
	KUNIT_CASE(pages_zeroed_and_counted),
	KUNIT_CASE(pages_bulk_as_the_kernel),
	KUNIT_CASE(pages_compound),
	KUNIT_CASE(pages_free_with_a_reference),
	KUNIT_CASE(zones_as_the_kernel),
	KUNIT_CASE(permitted_flags),
	KUNIT_CASE(init_on_alloc_zeroes),
	KUNIT_CASE(init_on_free_zeroes),
	{}
};

static struct kunit_suite contract_suite = {
	.name = "rslab_contract",
	.test_cases = contract_cases,
};
kunit_test_suite(contract_suite);

MODULE_DESCRIPTION("The kernel's allocation contract, through rslab's exported API");
MODULE_LICENSE("GPL");
