// SPDX-License-Identifier: GPL-2.0
/*
 * lib/tests/slub_kunit.c of Linux 7.3, ported to rslab's exported API
 * (include/rslab.h): the same caches, the same corruptions and the same
 * expected error counts. rslab counts its reports where SLUB's
 * slab_add_kunit_errors() counts one; rslab_slab_errors() reads the total,
 * so each case compares the difference across what it does (the original's
 * slab_errors, reset per case).
 *
 * Differences from the original:
 * - test_next_pointer, test_first_word and test_clobber_50th_byte also run
 *   on KASAN kernels: rslab's objects live in pages KASAN sees as allocated,
 *   so writing into a freed object is not a KASAN report.
 * - test_leak_destroy frees the leaked object afterwards and destroys the
 *   cache again (expecting no new error): rslab keeps a cache whose destroy
 *   failed, and unloading rslab later must find it empty.
 * - Not ported: test_kmalloc_nolock_and_friends_perf and
 *   test_kmalloc_nolock_and_friends_kprobe (rslab has no kmalloc_nolock() /
 *   kfree_nolock(), and a kprobe on SLUB's slab_attach_kprobe_locked() does
 *   not reach rslab's locks).
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "../include/rslab.h"

static unsigned long errors_before;

/* The original's slab_errors: errors since the case started. */
static long slab_errors(void)
{
	return rslab_slab_errors() - errors_before;
}

static void reset_slab_errors(void)
{
	errors_before = rslab_slab_errors();
}

/* test_kmem_cache_create(): no slub_debug= flags on top (SLAB_NO_USER_FLAGS). */
static void *test_kmem_cache_create(const char *name, unsigned int size,
				    slab_flags_t flags)
{
	return rslab_cache_create(name, size, 0, flags | SLAB_NO_USER_FLAGS, NULL);
}

static void test_clobber_zone(struct kunit *test)
{
	void *s = test_kmem_cache_create("TestSlub_RZ_alloc", 64, SLAB_RED_ZONE);
	u8 *p;

	KUNIT_ASSERT_NOT_NULL(test, s);
	p = rslab_cache_alloc(s, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	OPTIMIZER_HIDE_VAR(p);
	p[64] = 0x12;

	rslab_cache_validate(s);
	KUNIT_EXPECT_EQ(test, 2, slab_errors());

	rslab_cache_free(s, p);
	rslab_cache_destroy(s);
}

static void test_next_pointer(struct kunit *test)
{
	void *s = test_kmem_cache_create("TestSlub_next_ptr_free", 64, SLAB_POISON);
	unsigned long tmp, *ptr_addr;
	unsigned int offset;
	u8 *p;

	KUNIT_ASSERT_NOT_NULL(test, s);
	offset = rslab_cache_freeptr_offset(s);
	p = rslab_cache_alloc(s, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	rslab_cache_free(s, p);

	ptr_addr = (unsigned long *)(p + offset);
	tmp = *ptr_addr;
	p[offset] = ~p[offset];

	/*
	 * Expecting three errors: one for the corrupted freechain, one for the
	 * wrong count of objects in use, and one for fixing the cache.
	 */
	rslab_cache_validate(s);
	KUNIT_EXPECT_EQ(test, 3, slab_errors());

	/*
	 * Repair the free pointer: still two errors, for the wrong count of
	 * objects in use and for fixing it.
	 */
	*ptr_addr = tmp;
	reset_slab_errors();
	rslab_cache_validate(s);
	KUNIT_EXPECT_EQ(test, 2, slab_errors());

	/* The previous validation repaired the count: no error now. */
	reset_slab_errors();
	rslab_cache_validate(s);
	KUNIT_EXPECT_EQ(test, 0, slab_errors());

	rslab_cache_destroy(s);
}

static void test_first_word(struct kunit *test)
{
	void *s = test_kmem_cache_create("TestSlub_1th_word_free", 64, SLAB_POISON);
	u8 *p;

	KUNIT_ASSERT_NOT_NULL(test, s);
	p = rslab_cache_alloc(s, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	rslab_cache_free(s, p);
	*p = 0x78;

	rslab_cache_validate(s);
	KUNIT_EXPECT_EQ(test, 2, slab_errors());

	rslab_cache_destroy(s);
}

static void test_clobber_50th_byte(struct kunit *test)
{
	void *s = test_kmem_cache_create("TestSlub_50th_word_free", 64, SLAB_POISON);
	u8 *p;

	KUNIT_ASSERT_NOT_NULL(test, s);
	p = rslab_cache_alloc(s, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	rslab_cache_free(s, p);
	p[50] = 0x9a;

	rslab_cache_validate(s);
	KUNIT_EXPECT_EQ(test, 2, slab_errors());

	rslab_cache_destroy(s);
}

static void test_clobber_redzone_free(struct kunit *test)
{
	void *s = test_kmem_cache_create("TestSlub_RZ_free", 64, SLAB_RED_ZONE);
	u8 *p;

	KUNIT_ASSERT_NOT_NULL(test, s);
	p = rslab_cache_alloc(s, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	rslab_cache_free(s, p);
	OPTIMIZER_HIDE_VAR(p);
	p[64] = 0xab;

	rslab_cache_validate(s);
	KUNIT_EXPECT_EQ(test, 2, slab_errors());

	rslab_cache_destroy(s);
}

static void test_kmalloc_redzone_access(struct kunit *test)
{
	void *s = test_kmem_cache_create("TestSlub_RZ_kmalloc", 32,
				SLAB_KMALLOC | SLAB_STORE_USER | SLAB_RED_ZONE);
	u8 *p;

	KUNIT_ASSERT_NOT_NULL(test, s);
	p = rslab_kmalloc_cache(s, GFP_KERNEL, 18);
	KUNIT_ASSERT_NOT_NULL(test, p);

	/* Suppress the -Warray-bounds warning */
	OPTIMIZER_HIDE_VAR(p);
	p[18] = 0xab;
	p[19] = 0xab;

	rslab_cache_validate(s);
	KUNIT_EXPECT_EQ(test, 2, slab_errors());

	rslab_cache_free(s, p);
	rslab_cache_destroy(s);
}

struct test_kfree_rcu_struct {
	struct rcu_head rcu;
};

static void test_kfree_rcu(struct kunit *test)
{
	void *s = test_kmem_cache_create("TestSlub_kfree_rcu",
					 sizeof(struct test_kfree_rcu_struct),
					 SLAB_NO_MERGE);
	struct test_kfree_rcu_struct *p;

	KUNIT_ASSERT_NOT_NULL(test, s);
	p = rslab_cache_alloc(s, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);

	rslab_kfree_rcu(p, rcu);
	rslab_cache_destroy(s);

	KUNIT_EXPECT_EQ(test, 0, slab_errors());
}

struct cache_destroy_work {
	struct work_struct work;
	void *s;
};

static void cache_destroy_workfn(struct work_struct *w)
{
	struct cache_destroy_work *cdw;

	cdw = container_of(w, struct cache_destroy_work, work);
	rslab_cache_destroy(cdw->s);
}

#define KMEM_CACHE_DESTROY_NR 10

static void test_kfree_rcu_wq_destroy(struct kunit *test)
{
	struct test_kfree_rcu_struct *p;
	struct cache_destroy_work cdw;
	struct workqueue_struct *wq;
	unsigned int delay;
	void *s;
	int i;

	INIT_WORK_ONSTACK(&cdw.work, cache_destroy_workfn);
	wq = alloc_workqueue("test_kfree_rcu_destroy_wq",
			     WQ_HIGHPRI | WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!wq)
		kunit_skip(test, "failed to alloc wq");

	for (i = 0; i < KMEM_CACHE_DESTROY_NR; i++) {
		s = test_kmem_cache_create("TestSlub_kfree_rcu_wq_destroy",
					   sizeof(struct test_kfree_rcu_struct),
					   SLAB_NO_MERGE);
		if (!s) {
			destroy_workqueue(wq);
			kunit_skip(test, "failed to create cache");
		}

		delay = get_random_u8();
		p = rslab_cache_alloc(s, GFP_KERNEL);
		rslab_kfree_rcu(p, rcu);

		cdw.s = s;

		msleep(delay);
		queue_work(wq, &cdw.work);
		flush_work(&cdw.work);
	}

	destroy_workqueue(wq);
	KUNIT_EXPECT_EQ(test, 0, slab_errors());
}

static void test_leak_destroy(struct kunit *test)
{
	void *s = test_kmem_cache_create("TestSlub_leak_destroy", 64, SLAB_NO_MERGE);
	void *p;

	KUNIT_ASSERT_NOT_NULL(test, s);
	p = rslab_cache_alloc(s, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);

	rslab_cache_destroy(s);

	/* One for the slab, one for the object still in use. */
	KUNIT_EXPECT_EQ(test, 2, slab_errors());

	/* Not in the original: the kept cache can go once it is empty. */
	reset_slab_errors();
	rslab_cache_free(s, p);
	rslab_cache_destroy(s);
	KUNIT_EXPECT_EQ(test, 0, slab_errors());
}

static void test_krealloc_redzone_zeroing(struct kunit *test)
{
	u8 *p;
	int i;
	void *s = test_kmem_cache_create("TestSlub_krealloc", 64,
				SLAB_KMALLOC | SLAB_STORE_USER | SLAB_RED_ZONE);

	KUNIT_ASSERT_NOT_NULL(test, s);
	p = rslab_kmalloc_cache(s, GFP_KERNEL, 48);
	KUNIT_ASSERT_NOT_NULL(test, p);
	memset(p, 0xff, 48);

	OPTIMIZER_HIDE_VAR(p);

	/* Test shrink */
	p = rslab_krealloc(p, 40, GFP_KERNEL | __GFP_ZERO);
	for (i = 40; i < 64; i++)
		KUNIT_EXPECT_EQ(test, p[i], SLUB_RED_ACTIVE);

	/* Test grow within the same 64B kmalloc object */
	p = rslab_krealloc(p, 56, GFP_KERNEL | __GFP_ZERO);
	for (i = 40; i < 56; i++)
		KUNIT_EXPECT_EQ(test, p[i], 0);
	for (i = 56; i < 64; i++)
		KUNIT_EXPECT_EQ(test, p[i], SLUB_RED_ACTIVE);

	rslab_cache_validate(s);
	KUNIT_EXPECT_EQ(test, 0, slab_errors());

	memset(p, 0xff, 56);
	/* Test grow with allocating a bigger 128B object */
	p = rslab_krealloc(p, 112, GFP_KERNEL | __GFP_ZERO);
	KUNIT_ASSERT_NOT_NULL(test, p);
	for (i = 0; i < 56; i++)
		KUNIT_EXPECT_EQ(test, p[i], 0xff);
	for (i = 56; i < 112; i++)
		KUNIT_EXPECT_EQ(test, p[i], 0);

	rslab_kfree(p);
	rslab_cache_destroy(s);
	KUNIT_EXPECT_EQ(test, 0, slab_errors());
}

static int test_init(struct kunit *test)
{
	reset_slab_errors();
	return 0;
}

static struct kunit_case test_cases[] = {
	KUNIT_CASE(test_clobber_zone),
	KUNIT_CASE(test_next_pointer),
	KUNIT_CASE(test_first_word),
	KUNIT_CASE(test_clobber_50th_byte),
	KUNIT_CASE(test_clobber_redzone_free),
	KUNIT_CASE(test_kmalloc_redzone_access),
	KUNIT_CASE(test_kfree_rcu),
	KUNIT_CASE(test_kfree_rcu_wq_destroy),
	KUNIT_CASE(test_leak_destroy),
	KUNIT_CASE(test_krealloc_redzone_zeroing),
	{}
};

static struct kunit_suite test_suite = {
	.name = "rslab_slub_test",
	.init = test_init,
	.test_cases = test_cases,
};
kunit_test_suite(test_suite);

MODULE_DESCRIPTION("lib/tests/slub_kunit.c ported to rslab");
MODULE_LICENSE("GPL");
