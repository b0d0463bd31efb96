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
 * - test_kmalloc_nolock_and_friends_kprobe probes rslab's own
 *   rslab_attach_kprobe_locked(), which rslab calls with a node's list_lock
 *   held on kernels with lockdep (as SLUB's slab_attach_kprobe_locked()),
 *   and frees with kfree_nolock() only (rslab has no kfree_rcu_nolock()).
 *   Both loops run fewer iterations (100, and 10 under kmemleak, which
 *   makes each operation some 55 times slower under TCG, where these run).
 * - test_kmalloc_nolock_and_friends_hardirq is rslab's: the same
 *   allocations and frees from a hard-interrupt hrtimer every 20 us while
 *   the test thread runs the kmalloc/kfree loop on rslab, until the timer
 *   has fired 200 times (or for 5 s).
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/perf_event.h>
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

#define NR_ITERATIONS (IS_ENABLED(CONFIG_DEBUG_KMEMLEAK) ? 10 : 100)
#define NR_OBJECTS 1000
static struct test_kfree_rcu_struct *objects[NR_OBJECTS];

struct test_nolock_context {
	struct kunit *test;
	int callback_count;
	int alloc_ok;
	int alloc_fail;
#ifdef CONFIG_PERF_EVENTS
	struct perf_event *event;
#endif
#if defined(CONFIG_KPROBES) && defined(CONFIG_SMP)
	struct kprobe kprobe;
#endif
	struct hrtimer timer;
};

static void test_kmalloc_and_friends(void)
{
	int i, j;

	for (i = 0; i < NR_ITERATIONS; i++) {
		for (j = 0; j < NR_OBJECTS; j++) {
			gfp_t gfp = (i & 1) ? GFP_KERNEL : GFP_KERNEL_ACCOUNT;

			objects[j] = rslab_kmalloc(sizeof(*objects[j]), gfp);
			if (!objects[j]) {
				j--;
				while (j >= 0)
					rslab_kfree(objects[j--]);
				return;
			}
		}

		for (j = 0; j < NR_OBJECTS; j++) {
			if (i & 2)
				rslab_kfree_rcu(objects[j], rcu);
			else
				rslab_kfree(objects[j]);
		}
	}
}

static void test_nolock(struct test_nolock_context *ctx)
{
	struct test_kfree_rcu_struct *objp;
	gfp_t gfp;

	gfp = (ctx->callback_count & 1) ? 0 : __GFP_ACCOUNT;
	objp = rslab_kmalloc_nolock(sizeof(*objp), gfp, NUMA_NO_NODE);

	if (objp)
		ctx->alloc_ok++;
	else
		ctx->alloc_fail++;

	rslab_kfree_nolock(objp);
	ctx->callback_count++;
}

static void report_nolock(struct test_nolock_context *ctx, const char *what)
{
	kunit_info(ctx->test, "%s: callback_count: %d, alloc_ok: %d, alloc_fail: %d\n",
		   what, ctx->callback_count, ctx->alloc_ok, ctx->alloc_fail);
	KUNIT_EXPECT_EQ(ctx->test, ctx->alloc_ok + ctx->alloc_fail, ctx->callback_count);
	KUNIT_EXPECT_EQ(ctx->test, 0, slab_errors());
}

#ifdef CONFIG_PERF_EVENTS
static struct perf_event_attr hw_attr = {
	.type = PERF_TYPE_HARDWARE,
	.config = PERF_COUNT_HW_CPU_CYCLES,
	.size = sizeof(struct perf_event_attr),
	.pinned = 1,
	.disabled = 1,
	.freq = 1,
	.sample_freq = 100000,
};

static void overflow_handler_test_nolock(struct perf_event *event,
					 struct perf_sample_data *data,
					 struct pt_regs *regs)
{
	test_nolock(event->overflow_handler_context);
}

static void test_kmalloc_nolock_and_friends_perf(struct kunit *test)
{
	struct test_nolock_context ctx = { .test = test };
	struct perf_event *event;

	event = perf_event_create_kernel_counter(&hw_attr, -1, current,
						 overflow_handler_test_nolock, &ctx);
	if (IS_ERR(event))
		kunit_skip(test, "Failed to enable perf event, skipping");
	perf_event_enable(event);

	test_kmalloc_and_friends();

	perf_event_disable(event);
	perf_event_release_kernel(event);
	report_nolock(&ctx, "HW perf events");
}
#endif

#if defined(CONFIG_KPROBES) && defined(CONFIG_SMP)
static int slab_kprobe_pre_handler(struct kprobe *p, struct pt_regs *regs)
{
	test_nolock(container_of(p, struct test_nolock_context, kprobe));
	return 0;
}

static void test_kmalloc_nolock_and_friends_kprobe(struct kunit *test)
{
	struct test_nolock_context ctx = { .test = test };

	ctx.kprobe.symbol_name = "rslab:rslab_attach_kprobe_locked";
	ctx.kprobe.pre_handler = slab_kprobe_pre_handler;
	if (register_kprobe(&ctx.kprobe))
		kunit_skip(test, "Failed to register kprobe, skipping");

	test_kmalloc_and_friends();

	unregister_kprobe(&ctx.kprobe);
	report_nolock(&ctx, "kprobes");
	/* The probe is on rslab's list_lock sections, which the loop enters. */
	KUNIT_EXPECT_GT(test, ctx.callback_count, 0);
}
#endif

static enum hrtimer_restart nolock_timer_fn(struct hrtimer *t)
{
	test_nolock(container_of(t, struct test_nolock_context, timer));
	hrtimer_forward_now(t, ns_to_ktime(20 * NSEC_PER_USEC));
	return HRTIMER_RESTART;
}

static void test_kmalloc_nolock_and_friends_hardirq(struct kunit *test)
{
	struct test_nolock_context ctx = { .test = test };

	unsigned long end = jiffies + 5 * HZ;

	hrtimer_setup_on_stack(&ctx.timer, nolock_timer_fn, CLOCK_MONOTONIC,
			       HRTIMER_MODE_REL_HARD);
	hrtimer_start(&ctx.timer, ns_to_ktime(20 * NSEC_PER_USEC), HRTIMER_MODE_REL_HARD);

	/* Until the timer has fired 200 times (or 5 s: TCG is slow to fire it). */
	do
		test_kmalloc_and_friends();
	while (READ_ONCE(ctx.callback_count) < 200 && time_before(jiffies, end));

	hrtimer_cancel(&ctx.timer);
	destroy_hrtimer_on_stack(&ctx.timer);
	report_nolock(&ctx, "hard-irq hrtimer");
	/*
	 * A hard interrupt never finds a lock of rslab's held on its own CPU
	 * (they are taken with interrupts off): it fails only when another
	 * CPU holds one, or the pool has no page at hand.
	 */
	KUNIT_EXPECT_GT(test, ctx.alloc_ok, 0);
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
#ifdef CONFIG_PERF_EVENTS
	KUNIT_CASE(test_kmalloc_nolock_and_friends_perf),
#endif
#if defined(CONFIG_KPROBES) && defined(CONFIG_SMP)
	KUNIT_CASE(test_kmalloc_nolock_and_friends_kprobe),
#endif
	KUNIT_CASE(test_kmalloc_nolock_and_friends_hardirq),
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
