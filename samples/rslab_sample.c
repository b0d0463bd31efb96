// SPDX-License-Identifier: GPL-2.0
/*
 * rslab_sample: a small user of rslab's exported API (include/rslab.h).
 *
 * At load it makes a cache ("rslab-sample", 192 bytes, with a constructor),
 * allocates and frees from process context (one by one and in bulk), uses
 * the kmalloc family and the page calls, keeps a few objects while loaded
 * (so that /sys/kernel/rslab/caches/rslab-sample shows them), and runs a
 * timer that allocates and frees from softirq context (GFP_ATOMIC). It
 * logs "rslab_sample: ok ..." lines, or "rslab_sample: FAIL ..." and fails
 * to load. Unloading stops the timer, frees everything and destroys the
 * cache. While it is loaded, rslab cannot be unloaded.
 */
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timer.h>

#include "../include/rslab.h"

#define SAMPLE_SIZE 192
#define SAMPLE_MAGIC 0x5a
#define HELD 16
#define BULK 32
#define TICKS 20

struct sample_node {
	int value;
	struct rcu_head rcu;
};

static struct rslab_cache *cache;
/*
 * A cache in 7.x's sheaves mode, made with struct kmem_cache_args as 7.3's
 * kmem_cache_create() takes it: sheaves of at least 100 objects, and a
 * region of 32 bytes at 16 that user copies may touch.
 */
static struct rslab_cache *sheaves;
static void *held[HELD];
static struct timer_list timer;
static atomic_t ticks_done;
static atomic_t tick_failures;

static void sample_ctor(void *obj)
{
	memset(obj, SAMPLE_MAGIC, SAMPLE_SIZE);
}

static bool constructed(const u8 *obj)
{
	return obj[0] == SAMPLE_MAGIC && obj[SAMPLE_SIZE - 1] == SAMPLE_MAGIC;
}

/* Softirq context: allocate and free with GFP_ATOMIC. */
static void sample_tick(struct timer_list *t)
{
	void *o = rslab_cache_alloc(cache, GFP_ATOMIC);
	void *k = rslab_kmalloc(100, GFP_ATOMIC);

	if (!o || !k || !constructed(o) || rslab_ksize(k) < 100)
		atomic_inc(&tick_failures);
	rslab_cache_free(cache, o);
	rslab_kfree(k);
	/* Any context: NULL is allowed (nothing at hand without waiting). */
	k = rslab_kmalloc_nolock(64, __GFP_ZERO, NUMA_NO_NODE);
	if (k && memchr_inv(k, 0, 64))
		atomic_inc(&tick_failures);
	rslab_kfree_nolock(k);
	if (atomic_inc_return(&ticks_done) < TICKS)
		mod_timer(t, jiffies + msecs_to_jiffies(5));
}

static int __init sample_process_context(void)
{
	void *bulk[BULK];
	struct page *pg;
	char *k, *k2;
	int i;

	for (i = 0; i < HELD; i++) {
		held[i] = rslab_cache_alloc(cache, GFP_KERNEL);
		if (!held[i] || !constructed(held[i]))
			return -ENOMEM;
	}
	if (rslab_cache_alloc_bulk(cache, GFP_KERNEL, BULK, bulk) != BULK)
		return -ENOMEM;
	for (i = 0; i < BULK; i++)
		if (!constructed(bulk[i]))
			return -EINVAL;
	rslab_cache_free_bulk(cache, BULK, bulk);

	k = rslab_kzalloc(50, GFP_KERNEL);
	if (!k || k[0] || k[49] || rslab_ksize(k) < 50)
		return -ENOMEM;
	k2 = rslab_krealloc(k, 3000, GFP_KERNEL);
	if (!k2 || rslab_ksize(k2) < 3000)
		return -ENOMEM;
	rslab_kfree(k2);
	if (rslab_kmalloc(0, GFP_KERNEL) != ZERO_SIZE_PTR ||
	    rslab_kmalloc_array(SIZE_MAX / 2, 4, GFP_KERNEL))
		return -EINVAL;

	/* Freed after a grace period, by rslab. */
	{
		struct sample_node *node = rslab_kmalloc(sizeof(*node), GFP_KERNEL);

		if (!node)
			return -ENOMEM;
		node->value = 1;
		rslab_kfree_rcu(node, rcu);
	}

	/* The sheaves cache, one by one and in bulk. */
	for (i = 0; i < BULK; i++) {
		bulk[i] = rslab_cache_zalloc(sheaves, GFP_KERNEL);
		if (!bulk[i] || memchr_inv(bulk[i], 0, 128))
			return -ENOMEM;
	}
	rslab_cache_free_bulk(sheaves, BULK, bulk);

	pg = rslab_alloc_pages(GFP_KERNEL, 2);
	if (!pg)
		return -ENOMEM;
	memset(page_address(pg), 0, 4 * PAGE_SIZE);
	rslab_free_pages(pg, 2);

	/* Order-0 pages in bulk, zeroed; any NULL entry left means none came. */
	{
		struct page *pages[16] = {};
		unsigned long n = rslab_alloc_pages_bulk(GFP_KERNEL | __GFP_ZERO,
							 ARRAY_SIZE(pages), pages);
		int bad = n != ARRAY_SIZE(pages);

		for (i = 0; i < n; i++) {
			bad |= !!memchr_inv(page_address(pages[i]), 0, PAGE_SIZE);
			rslab_free_pages(pages[i], 0);
		}
		if (bad)
			return -ENOMEM;
	}
	return 0;
}

/*
 * A section that must not fail, as the maple tree has them: the objects are
 * set aside first (a prefilled sheaf, 7.3's kmem_cache_prefill_sheaf()),
 * taken inside it under a spinlock, where nothing may sleep or fail, and
 * what is left goes back with the sheaf.
 */
static DEFINE_SPINLOCK(sample_lock);

static int sample_prefill(void)
{
	struct rslab_sheaf *sheaf;
	void *objs[5];
	int i, missing = 0;

	sheaf = rslab_cache_prefill_sheaf(sheaves, GFP_KERNEL, ARRAY_SIZE(objs));
	if (!sheaf)
		return -ENOMEM;
	spin_lock(&sample_lock);
	for (i = 0; i < ARRAY_SIZE(objs); i++)
		objs[i] = rslab_cache_alloc_from_sheaf(sheaves, __GFP_ZERO, sheaf);
	spin_unlock(&sample_lock);
	rslab_cache_return_sheaf(sheaves, GFP_KERNEL, sheaf);
	for (i = 0; i < ARRAY_SIZE(objs); i++)
		missing += !objs[i] || memchr_inv(objs[i], 0, 128);
	rslab_cache_free_bulk(sheaves, ARRAY_SIZE(objs), objs);
	return missing ? -EINVAL : 0;
}

static int __init sample_init(void)
{
	int err;

	struct kmem_cache_args args = {
		.sheaf_capacity = 100,
		.useroffset = 16,
		.usersize = 32,
	};

	cache = rslab_cache_create("rslab-sample", SAMPLE_SIZE, 0, SLAB_HWCACHE_ALIGN,
				   sample_ctor);
	if (!cache) {
		pr_err("rslab_sample: FAIL: rslab_cache_create\n");
		return -ENOMEM;
	}
	sheaves = rslab_kmem_cache_create("rslab-sample-sheaves", 128, &args, 0);
	if (!sheaves) {
		pr_err("rslab_sample: FAIL: rslab_kmem_cache_create\n");
		rslab_cache_destroy(cache);
		return -ENOMEM;
	}
	err = sample_prefill();
	if (err) {
		pr_err("rslab_sample: FAIL: prefilled sheaf (%d)\n", err);
		goto out;
	}
	err = sample_process_context();
	if (err) {
		pr_err("rslab_sample: FAIL: process context (%d)\n", err);
		goto out;
	}
	pr_info("rslab_sample: ok process context: a prefilled sheaf, %d held, bulk %d, kmalloc family, kfree_rcu, pages, pages in bulk\n",
		HELD, BULK);
	timer_setup(&timer, sample_tick, 0);
	mod_timer(&timer, jiffies + msecs_to_jiffies(5));
	pr_info("rslab_sample: ready\n");
	return 0;
out:
	for (err = 0; err < HELD; err++)
		rslab_cache_free(cache, held[err]);
	rslab_cache_destroy(cache);
	rslab_cache_destroy(sheaves);
	return -EINVAL;
}

static void __exit sample_exit(void)
{
	int i;

	timer_delete_sync(&timer);
	if (atomic_read(&tick_failures))
		pr_err("rslab_sample: FAIL: %d softirq allocations failed\n",
		       atomic_read(&tick_failures));
	else
		pr_info("rslab_sample: ok softirq context: %d ticks\n",
			atomic_read(&ticks_done));
	for (i = 1; i < HELD; i++)
		rslab_cache_free(cache, held[i]);
	/*
	 * A cache object freed by RCU just before the destroy, as slub_kunit's
	 * test_kfree_rcu does: the destroy waits for it.
	 */
	{
		struct sample_node *node = held[0];

		rslab_kfree_rcu(node, rcu);
	}
	rslab_cache_destroy(cache);
	rslab_cache_destroy(sheaves);
	pr_info("rslab_sample: unloaded\n");
}

module_init(sample_init);
module_exit(sample_exit);
MODULE_DESCRIPTION("A user of rslab's exported allocator API");
MODULE_LICENSE("GPL");
