// SPDX-License-Identifier: GPL-2.0
/*
 * kmemleak sees what rslab hands out: at load this module allocates one
 * object of an rslab cache, one of rslab's kmalloc classes and one large
 * kmalloc block, and keeps no reference kmemleak can find (each address
 * only XOR-ed with a constant), so that a kmemleak scan reports all three,
 * each with this module's allocation stack; an object of a
 * SLAB_NOLEAKTRACE cache, kept the same way, is not reported. At unload it
 * frees them all and destroys its caches: nothing stays leaked. For the
 * debug tier's guest test (a kernel with CONFIG_DEBUG_KMEMLEAK).
 */
#include <linux/module.h>
#include <linux/slab.h>

#include "../include/rslab.h"

#define HIDE 0x5a5a5a5a5a5a5a5aUL

static struct rslab_cache *leak_cache, *quiet_cache;
static unsigned long hidden[4];

static unsigned long hide(void *p)
{
	return (unsigned long)p ^ HIDE;
}

static void *unhide(unsigned long v)
{
	return (void *)(v ^ HIDE);
}

static noinline void rslab_leak_objects(void)
{
	hidden[0] = hide(rslab_cache_alloc(leak_cache, GFP_KERNEL));
	hidden[1] = hide(rslab_kmalloc(200, GFP_KERNEL));
	hidden[2] = hide(rslab_kmalloc(3 * PAGE_SIZE, GFP_KERNEL));
	hidden[3] = hide(rslab_cache_alloc(quiet_cache, GFP_KERNEL));
}

/* Frees what was allocated (a slot never filled holds 0: skipped). */
static noinline void rslab_leak_free(void)
{
	if (hidden[0] && hidden[0] != HIDE)
		rslab_cache_free(leak_cache, unhide(hidden[0]));
	if (hidden[1])
		rslab_kfree(unhide(hidden[1]));
	if (hidden[2])
		rslab_kfree(unhide(hidden[2]));
	if (hidden[3] && hidden[3] != HIDE)
		rslab_cache_free(quiet_cache, unhide(hidden[3]));
}

static int __init rslab_leak_init(void)
{
	int i;

	leak_cache = rslab_cache_create("leak-cache", 96, 0, 0, NULL);
	quiet_cache = rslab_cache_create("leak-quiet", 96, 0, SLAB_NOLEAKTRACE, NULL);
	if (!leak_cache || !quiet_cache)
		goto fail;
	rslab_leak_objects();
	for (i = 0; i < ARRAY_SIZE(hidden); i++)
		if (hidden[i] == HIDE)
			goto fail;
	/* Printed as text: the log holds no pointer kmemleak would take. */
	pr_info("rslab_leak: object 0x%px kmalloc 0x%px large 0x%px quiet 0x%px\n", unhide(hidden[0]),
		unhide(hidden[1]), unhide(hidden[2]), unhide(hidden[3]));
	return 0;
fail:
	rslab_leak_free();
	rslab_cache_destroy(quiet_cache);
	rslab_cache_destroy(leak_cache);
	return -ENOMEM;
}

static void __exit rslab_leak_exit(void)
{
	rslab_leak_free();
	rslab_cache_destroy(quiet_cache);
	rslab_cache_destroy(leak_cache);
}

module_init(rslab_leak_init);
module_exit(rslab_leak_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("rslab: objects leaked on purpose for kmemleak to find");
