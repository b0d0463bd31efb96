// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark where module authors meet rslab: its exported API
 * (include/rslab.h) against the kernel's own kmem_cache_*, kmalloc and
 * alloc_pages, both called from this module across a module boundary, in
 * the same boot, interleaved, each case repeated REPS times after a warm-up
 * and reported as median, min and max per operation, one kernel-log line
 * each, in the format of rslab's in-module benchmark (src/admin/bench.rs):
 *
 *   rslab-bench: api_<case> <unit> rslab <med> <min> <max> kernel <med> <min> <max> cycles <r> <k>
 *
 * Runs at load and stays loaded (rmmod it after); quick=1 runs tiny counts
 * (a smoke run). replay=<file> replays a recorded allocation trace instead
 * (traces/README.md). Nothing is asserted.
 */
#include <linux/delay.h>
#include <linux/kernel_read_file.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timex.h>
#include <linux/vmalloc.h>
#include <linux/vmstat.h>

#include "../include/rslab.h"

static bool quick;
module_param(quick, bool, 0444);
MODULE_PARM_DESC(quick, "tiny counts: a smoke run, not a measurement");
static char *tag = "";
module_param(tag, charp, 0444);
MODULE_PARM_DESC(tag, "a prefix for the case names (a run under another rslab setting, e.g. allocinfo_)");
static char *replay;
module_param(replay, charp, 0444);
MODULE_PARM_DESC(replay, "a replay file (traces/*.replay): replay it instead of the other cases");
static bool sheaves;
module_param(sheaves, bool, 0444);

static bool burst;
module_param(burst, bool, 0444);
MODULE_PARM_DESC(burst, "run only the burst case (scripts/bench.sh runs it again with rslab's decay_ms=)");
MODULE_PARM_DESC(sheaves, "with replay: rslab's caches in the sheaves mode (cases named replay_<trace>_sheaves)");

#define REPS 7
#define MANY 1000

/* One side of a case: rslab's or the kernel's. */
struct side {
	void *cache;		/* rslab handle or struct kmem_cache * */
	bool rslab;
};

static void *c_alloc(const struct side *s, gfp_t gfp)
{
	return s->rslab ? rslab_cache_alloc(s->cache, gfp) : kmem_cache_alloc(s->cache, gfp);
}

static void c_free(const struct side *s, void *p)
{
	if (s->rslab)
		rslab_cache_free(s->cache, p);
	else
		kmem_cache_free(s->cache, p);
}

static void *k_alloc(bool rslab, size_t n)
{
	return rslab ? rslab_kmalloc(n, GFP_KERNEL) : kmalloc(n, GFP_KERNEL);
}

static void k_free(bool rslab, void *p)
{
	if (rslab)
		rslab_kfree(p);
	else
		kfree(p);
}

/* Free pages in every zone, exact (the per-CPU counter deltas included). */
static long free_pages_now(void)
{
	long n = 0;
	int nid, z;

	for_each_online_node(nid) {
		struct pglist_data *pg = NODE_DATA(nid);

		for (z = 0; z < MAX_NR_ZONES; z++)
			if (populated_zone(&pg->node_zones[z]))
				n += zone_page_state_snapshot(&pg->node_zones[z], NR_FREE_PAGES);
	}
	return n;
}

/*
 * The kernel's slab pages (NR_SLAB_RECLAIMABLE_B and NR_SLAB_UNRECLAIMABLE_B,
 * kept in pages; large kmallocs included), exact (the per-CPU deltas too).
 */
static long slab_pages_now(void)
{
	static const enum node_stat_item items[] = {
		NR_SLAB_RECLAIMABLE_B, NR_SLAB_UNRECLAIMABLE_B
	};
	long n = 0;
	int nid, cpu, i;

	for_each_online_node(nid) {
		struct pglist_data *pg = NODE_DATA(nid);

		for (i = 0; i < ARRAY_SIZE(items); i++) {
			n += atomic_long_read(&pg->vm_stat[items[i]]);
			for_each_online_cpu(cpu)
				n += per_cpu_ptr(pg->per_cpu_nodestats, cpu)->vm_node_stat_diff[items[i]];
		}
	}
	return n;
}

/*
 * Pages a side holds for its objects: rslab's, the pages it took from the
 * page allocator (its pool's chunks, free pages in them included: rslab
 * keeps them); the kernel's, its slab pages (a freed slab page goes back to
 * the page allocator, whose per-CPU lists are not SLUB's).
 */
static long held_now(bool rslab)
{
	return rslab ? -free_pages_now() : slab_pages_now();
}

struct run {
	u64 ns, cycles;
};

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Values in hundredths of the unit: median, min, max. */
static void report(const char *c, const char *unit, u64 *r, u64 *k, u64 rc, u64 kc)
{
	sort(r, REPS, sizeof(*r), cmp_u64, NULL);
	sort(k, REPS, sizeof(*k), cmp_u64, NULL);
	pr_info("rslab-bench: %sapi_%s %s rslab %llu.%02llu %llu.%02llu %llu.%02llu kernel %llu.%02llu %llu.%02llu %llu.%02llu cycles %llu %llu\n",
		tag, c, unit, r[REPS / 2] / 100, r[REPS / 2] % 100, r[0] / 100, r[0] % 100,
		r[REPS - 1] / 100, r[REPS - 1] % 100, k[REPS / 2] / 100, k[REPS / 2] % 100,
		k[0] / 100, k[0] % 100, k[REPS - 1] / 100, k[REPS - 1] % 100, rc, kc);
}

typedef void (*case_fn)(void *arg, bool rslab, u64 ops);

/* Runs fn for rslab and the kernel REPS times, interleaved, and reports ns/op. */
static void compare(const char *name, case_fn fn, void *arg, u64 ops)
{
	u64 r[REPS], k[REPS], rc[REPS], kc[REPS];
	int i;

	fn(arg, true, ops);
	fn(arg, false, ops);
	for (i = 0; i < REPS; i++) {
		u64 t = ktime_get_ns(), c = get_cycles();

		fn(arg, true, ops);
		rc[i] = (get_cycles() - c) / ops;
		r[i] = (ktime_get_ns() - t) * 100 / ops;
		t = ktime_get_ns();
		c = get_cycles();
		fn(arg, false, ops);
		kc[i] = (get_cycles() - c) / ops;
		k[i] = (ktime_get_ns() - t) * 100 / ops;
	}
	sort(rc, REPS, sizeof(*rc), cmp_u64, NULL);
	sort(kc, REPS, sizeof(*kc), cmp_u64, NULL);
	report(name, "ns/op", r, k, rc[REPS / 2], kc[REPS / 2]);
}

/* The two caches of a size, one each. */
struct pair {
	struct side s[2];	/* [0] rslab, [1] kernel */
};

static const struct side *side_of(struct pair *p, bool rslab)
{
	return &p->s[rslab ? 0 : 1];
}

static void case_pair(void *arg, bool rslab, u64 ops)
{
	const struct side *s = side_of(arg, rslab);
	u64 i;

	for (i = 0; i < ops; i++) {
		void *o = c_alloc(s, GFP_KERNEL);

		if (o)
			c_free(s, o);
	}
}

static void *many[MANY];
static unsigned int order_perm[MANY];

static void case_alloc_n_free_n(void *arg, bool rslab, u64 ops)
{
	const struct side *s = side_of(arg, rslab);
	u64 done;
	int i;

	for (done = 0; done < ops; done += 2 * MANY) {
		for (i = 0; i < MANY; i++)
			many[i] = c_alloc(s, GFP_KERNEL);
		for (i = 0; i < MANY; i++)
			if (many[i])
				c_free(s, many[i]);
	}
}

/* Freed in a random order (the same permutation on both sides). */
static void case_alloc_n_free_n_random(void *arg, bool rslab, u64 ops)
{
	const struct side *s = side_of(arg, rslab);
	u64 done;
	int i;

	for (done = 0; done < ops; done += 2 * MANY) {
		for (i = 0; i < MANY; i++)
			many[i] = c_alloc(s, GFP_KERNEL);
		for (i = 0; i < MANY; i++)
			if (many[order_perm[i]])
				c_free(s, many[order_perm[i]]);
	}
}

struct bulk {
	struct pair *p;
	int n;
};

static void case_bulk(void *arg, bool rslab, u64 ops)
{
	struct bulk *b = arg;
	const struct side *s = side_of(b->p, rslab);
	u64 done;

	for (done = 0; done < ops; done += 2 * b->n) {
		if (s->rslab) {
			if (rslab_cache_alloc_bulk(s->cache, GFP_KERNEL, b->n, many))
				rslab_cache_free_bulk(s->cache, b->n, many);
		} else {
			if (kmem_cache_alloc_bulk(s->cache, GFP_KERNEL, b->n, many))
				kmem_cache_free_bulk(s->cache, b->n, many);
		}
	}
}

static void case_kmalloc(void *arg, bool rslab, u64 ops)
{
	size_t n = (size_t)arg;
	u64 i;

	for (i = 0; i < ops; i++) {
		void *p = k_alloc(rslab, n);

		if (p)
			k_free(rslab, p);
	}
}

/* Random sizes 8..4096 (a fixed sequence), held MANY at a time. */
static unsigned int sizes[MANY];

static void case_kmalloc_random(void *arg, bool rslab, u64 ops)
{
	u64 done;
	int i;

	for (done = 0; done < ops; done += 2 * MANY) {
		for (i = 0; i < MANY; i++)
			many[i] = k_alloc(rslab, sizes[i]);
		for (i = 0; i < MANY; i++)
			k_free(rslab, many[order_perm[i]]);
	}
}

static void case_pages(void *arg, bool rslab, u64 ops)
{
	unsigned int order = (unsigned long)arg;
	u64 i;

	for (i = 0; i < ops; i++) {
		struct page *p = rslab ? rslab_alloc_pages(GFP_KERNEL, order) :
					 alloc_pages(GFP_KERNEL, order);

		if (!p)
			continue;
		if (rslab)
			rslab_free_pages(p, order);
		else
			__free_pages(p, order);
	}
}

/* Cross-CPU: CPU 0 allocates, CPU 1 frees, through a ring. */
#define RING 256
struct xcpu {
	const struct side *s;
	void *ring[RING];
	atomic_t head, tail;
	u64 ops;
	struct completion done;
};

static int xcpu_freer(void *arg)
{
	struct xcpu *x = arg;
	u64 n = 0;

	while (n < x->ops) {
		int t = atomic_read(&x->tail);

		if (t == atomic_read_acquire(&x->head)) {
			cpu_relax();
			continue;
		}
		c_free(x->s, x->ring[t % RING]);
		atomic_set_release(&x->tail, t + 1);
		n++;
	}
	kthread_complete_and_exit(&x->done, 0);
}

static void case_cross_cpu(void *arg, bool rslab, u64 ops)
{
	struct xcpu *x = kzalloc(sizeof(*x), GFP_KERNEL);
	struct task_struct *t;
	u64 i;

	if (!x)
		return;
	x->s = side_of(arg, rslab);
	x->ops = ops;
	init_completion(&x->done);
	t = kthread_create(xcpu_freer, x, "rslab-bench-free");
	if (IS_ERR(t)) {
		kfree(x);
		return;
	}
	kthread_bind(t, 1);
	wake_up_process(t);
	for (i = 0; i < ops; i++) {
		int h = atomic_read(&x->head);
		void *o;

		while (h - atomic_read_acquire(&x->tail) >= RING)
			cpu_relax();
		o = c_alloc(x->s, GFP_KERNEL);
		if (!o)
			o = c_alloc(x->s, GFP_KERNEL | __GFP_NOFAIL);
		x->ring[h % RING] = o;
		atomic_set_release(&x->head, h + 1);
	}
	wait_for_completion(&x->done);
	kfree(x);
}

/*
 * rslab's cache of `size` bytes (classic, or with `sheaves` in the sheaves
 * mode, made with kmem_cache_args as 7.3's) and the kernel's (7.3's SLUB,
 * whose caches all have sheaves).
 */
static int make_pair(struct pair *p, const char *rname, const char *kname, unsigned int size,
		     bool sheaves)
{
	struct kmem_cache_args args = { .sheaf_capacity = sheaves ? 1 : 0 };

	p->s[0].rslab = true;
	p->s[0].cache = rslab_kmem_cache_create(rname, size, &args, 0);
	p->s[1].rslab = false;
	p->s[1].cache = kmem_cache_create(kname, size, 0, SLAB_NO_MERGE, NULL);
	if (!p->s[0].cache || !p->s[1].cache) {
		rslab_cache_destroy(p->s[0].cache);
		kmem_cache_destroy(p->s[1].cache);
		return -ENOMEM;
	}
	return 0;
}

static void drop_pair(struct pair *p)
{
	rslab_cache_destroy(p->s[0].cache);
	kmem_cache_destroy(p->s[1].cache);
}

/*
 * A burst, then idle: `n` objects of 256 bytes allocated and all freed, and
 * the pages each side holds (held_now(), against before the burst) with
 * everything allocated and 0, 1, 5 and 10 s after the frees (a hundredth of
 * that in a quick run). Memory that comes back only when asked (a shrink)
 * stays held here: rslab's comes back by itself only with its decay on
 * (`insmod rslab.ko decay_ms=`, the run tagged decay_ in scripts/bench.sh).
 */
static void burst_side(const struct side *s, u64 n, void **objs, u64 *held)
{
	static const unsigned int after_ms[] = { 0, 1000, 5000, 10000 };
	long base = held_now(s->rslab);
	u64 i, t0;
	int j;

	for (i = 0; i < n; i++)
		objs[i] = c_alloc(s, GFP_KERNEL);
	held[0] = max(held_now(s->rslab) - base, 0L) * 100;
	for (i = 0; i < n; i++)
		if (objs[i])
			c_free(s, objs[i]);
	t0 = ktime_get_ns();
	for (j = 0; j < ARRAY_SIZE(after_ms); j++) {
		u64 at = t0 + (u64)after_ms[j] * NSEC_PER_MSEC / (quick ? 100 : 1), now;

		/*
		 * Awake every 100 ms (1 ms in a quick run), as a system doing a
		 * little else is: deferrable timers (rslab's decay) do not wake
		 * an idle CPU, they run when it wakes.
		 */
		while ((now = ktime_get_ns()) < at)
			msleep(clamp_t(u64, (at - now) / NSEC_PER_MSEC, 1, quick ? 1 : 100));
		held[1 + j] = max(held_now(s->rslab) - base, 0L) * 100;
	}
}

static int bench_burst(void)
{
	static const char *const what[] = { "held", "after_0s", "after_1s", "after_5s",
					    "after_10s" };
	u64 n = quick ? 1000 : 1000000, r[5][REPS], k[5][REPS], hr[5], hk[5];
	struct pair p;
	void **objs;
	char name[48];
	int i, j;

	objs = vcalloc(n, sizeof(*objs));
	if (!objs)
		return -ENOMEM;
	if (make_pair(&p, "api-bench-burst", "kbench-burst", 256, false)) {
		vfree(objs);
		return -ENOMEM;
	}
	burst_side(&p.s[0], n, objs, hr);
	burst_side(&p.s[1], n, objs, hk);
	drop_pair(&p);
	vfree(objs);
	for (i = 0; i < ARRAY_SIZE(what); i++) {
		for (j = 0; j < REPS; j++) {
			r[i][j] = hr[i];
			k[i][j] = hk[i];
		}
		snprintf(name, sizeof(name), "burst_256_%s", what[i]);
		report(name, "pages", r[i], k[i], 0, 0);
	}
	return 0;
}

static DECLARE_COMPLETION(cpu0_done);

/* The cases that run on CPU 0. */
static int bench_cpu0_cases(void)
{
	static const size_t kmalloc_sizes[] = { 8, 64, 192, 512, 4096, 16384 };
	u64 ops = quick ? 200 : 200000;
	struct pair p64, p256, psh;
	char name[48];
	int i, m;

	if (make_pair(&p64, "api-bench-64", "kbench-64", 64, false))
		return -ENOMEM;
	if (make_pair(&p256, "api-bench-256", "kbench-256", 256, false)) {
		drop_pair(&p64);
		return -ENOMEM;
	}
	if (make_pair(&psh, "api-bench-256-sheaves", "kbench-256-sh", 256, true)) {
		drop_pair(&p256);
		drop_pair(&p64);
		return -ENOMEM;
	}
	compare("cache_pair_64", case_pair, &p64, ops);
	for (m = 0; m < 2; m++) {
		/* Classic, then the sheaves mode. */
		struct pair *p = m ? &psh : &p256;
		const char *sfx = m ? "_sheaves" : "";
		struct bulk b16 = { p, 16 }, b64 = { p, 64 };

		snprintf(name, sizeof(name), "cache_pair_256%s", sfx);
		compare(name, case_pair, p, ops);
		snprintf(name, sizeof(name), "alloc_free_n_1000%s", sfx);
		compare(name, case_alloc_n_free_n, p, quick ? 2 * MANY : 100 * MANY);
		snprintf(name, sizeof(name), "alloc_free_n_1000_random%s", sfx);
		compare(name, case_alloc_n_free_n_random, p, quick ? 2 * MANY : 100 * MANY);
		snprintf(name, sizeof(name), "bulk_16%s", sfx);
		compare(name, case_bulk, &b16, quick ? 320 : 320000);
		snprintf(name, sizeof(name), "bulk_64%s", sfx);
		compare(name, case_bulk, &b64, quick ? 1280 : 1280000);
	}
	drop_pair(&psh);
	for (i = 0; i < ARRAY_SIZE(kmalloc_sizes); i++) {
		snprintf(name, sizeof(name), "kmalloc_%zu", kmalloc_sizes[i]);
		compare(name, case_kmalloc, (void *)kmalloc_sizes[i],
			kmalloc_sizes[i] > 8192 ? ops / 10 : ops);
	}
	compare("kmalloc_random", case_kmalloc_random, NULL, quick ? 2 * MANY : 100 * MANY);
	for (i = 0; i <= 3; i++) {
		snprintf(name, sizeof(name), "pages_order_%d", i);
		compare(name, case_pages, (void *)(unsigned long)i, ops);
	}
	drop_pair(&p256);
	drop_pair(&p64);
	return 0;
}

static int bench_cpu0(void *unused)
{
	if (burst || !bench_cpu0_cases())
		bench_burst();
	/* Never back into this module's code, which may be unloaded next. */
	kthread_complete_and_exit(&cpu0_done, 0);
}

static int bench_cross(void)
{
	struct pair p;
	int m;

	if (num_online_cpus() < 2 || !cpu_online(1))
		return 0;
	for (m = 0; m < 2; m++) {
		if (make_pair(&p, m ? "api-bench-x-sheaves" : "api-bench-x",
			      m ? "kbench-x-sh" : "kbench-x", 256, m))
			return -ENOMEM;
		compare(m ? "cross_cpu_256_sheaves" : "cross_cpu_256", case_cross_cpu, &p,
			quick ? 500 : 100000);
		drop_pair(&p);
	}
	return 0;
}


/*
 * The trace replay: a kmem trace of real work (scripts/trace-record.sh),
 * reduced to its operations (scripts/trace-reduce.py has the format), each
 * kmalloc a kmalloc and each kmem_cache_alloc an allocation from a cache of
 * that size and alignment made for the replay on each side (the kernel's
 * with SLAB_NO_MERGE; rslab's classic, or with sheaves=1 in the sheaves
 * mode), GFP_KERNEL plus the record's __GFP_ZERO, frees at
 * their recorded distance, and at the end a free of each object the trace
 * never frees, so that a run leaves nothing behind. Replayed on CPU 0.
 */
#define RP_WHAT(op)	((op) >> 30)
#define RP_KMALLOC	0
#define RP_CACHE	1
#define RP_FREE		2
#define RP_ZERO		BIT(29)
#define RP_VALUE(op)	((op) & (BIT(26) - 1))
#define RP_MAX_SIZE	(4u << 20)
#define RP_SAMPLE	64

struct rp_header {
	char magic[8];
	__le32 caches, ops, live, zero;
};

struct rp_cache {
	__le32 size, align;
	char name[24];
};

struct rp {
	const char *name;
	u32 ncaches, nops, nlive;
	const struct rp_cache *caches;
	const __le32 *ops;
	void **ptr;			/* per operation: its object while live */
	struct side *side[2];		/* per cache: [0] rslab's, [1] the kernel's */
	long base, peak, sum, samples;	/* memory pass: pages held (held_now()) */
};

/* Checks the file: every field in range, every free of a live allocation. */
static int rp_parse(struct rp *r, const void *buf, size_t len)
{
	const struct rp_header *h = buf;
	unsigned long *freed;
	u32 i, live = 0;

	if (len < sizeof(*h) || memcmp(h->magic, "RSLABRP1", 8))
		return -EINVAL;
	r->ncaches = le32_to_cpu(h->caches);
	r->nops = le32_to_cpu(h->ops);
	if (r->ncaches > 4096 || r->nops > (16u << 20) ||
	    len != sizeof(*h) + (size_t)r->ncaches * sizeof(struct rp_cache) + (size_t)r->nops * 4)
		return -EINVAL;
	r->caches = (const void *)(h + 1);
	r->ops = (const void *)(r->caches + r->ncaches);
	for (i = 0; i < r->ncaches; i++) {
		u32 size = le32_to_cpu(r->caches[i].size), align = le32_to_cpu(r->caches[i].align);

		if (!size || size > KMALLOC_MAX_CACHE_SIZE || !is_power_of_2(align) || align > PAGE_SIZE)
			return -EINVAL;
	}
	freed = bitmap_zalloc(r->nops, GFP_KERNEL);
	if (!freed)
		return -ENOMEM;
	for (i = 0; i < r->nops; i++) {
		u32 op = le32_to_cpu(r->ops[i]), v = RP_VALUE(op);

		switch (RP_WHAT(op)) {
		case RP_KMALLOC:
			if (!v || v > RP_MAX_SIZE)
				goto bad;
			live++;
			break;
		case RP_CACHE:
			if (v >= r->ncaches)
				goto bad;
			live++;
			break;
		case RP_FREE:
			if (!v || v > i || RP_WHAT(le32_to_cpu(r->ops[i - v])) == RP_FREE ||
			    test_and_set_bit(i - v, freed))
				goto bad;
			live--;
			break;
		default:
			goto bad;
		}
	}
	bitmap_free(freed);
	r->nlive = live;
	return 0;
bad:
	bitmap_free(freed);
	return -EINVAL;
}

static void rp_note(struct rp *r, bool rslab)
{
	long held = held_now(rslab) - r->base;

	r->peak = max(r->peak, held);
	r->sum += held;
	r->samples++;
}

static void rp_free(struct rp *r, bool rslab, u32 j)
{
	u32 op = le32_to_cpu(r->ops[j]);
	void *p = r->ptr[j];

	r->ptr[j] = NULL;
	if (RP_WHAT(op) == RP_KMALLOC)
		k_free(rslab, p);
	else if (p)
		c_free(&r->side[rslab ? 0 : 1][RP_VALUE(op)], p);
}

static __always_inline void rp_op(struct rp *r, bool rslab, u32 i)
{
	u32 op = le32_to_cpu(r->ops[i]), v = RP_VALUE(op);
	gfp_t gfp = GFP_KERNEL | (op & RP_ZERO ? __GFP_ZERO : 0);

	switch (RP_WHAT(op)) {
	case RP_KMALLOC:
		r->ptr[i] = rslab ? rslab_kmalloc(v, gfp) : kmalloc(v, gfp);
		break;
	case RP_CACHE:
		r->ptr[i] = c_alloc(&r->side[rslab ? 0 : 1][v], gfp);
		break;
	default:
		rp_free(r, rslab, i - v);
	}
}

/* Frees what the trace left allocated. */
static void rp_free_live(struct rp *r, bool rslab)
{
	u32 i;

	for (i = 0; i < r->nops; i++)
		if (RP_WHAT(le32_to_cpu(r->ops[i])) != RP_FREE && r->ptr[i])
			rp_free(r, rslab, i);
}

/* One replay; with `mem`, the pages held are sampled every RP_SAMPLE operations. */
static void rp_run(struct rp *r, bool rslab, bool mem)
{
	u32 i;

	for (i = 0; i < r->nops; i++) {
		rp_op(r, rslab, i);
		if (mem && !(i % RP_SAMPLE))
			rp_note(r, rslab);
	}
	rp_free_live(r, rslab);
}

static void case_replay(void *arg, bool rslab, u64 ops)
{
	rp_run(arg, rslab, false);
}

/*
 * The replay on the recorded CPUs (modulo those online, at most RP_CPUS):
 * each operation on its CPU, in the recorded order (a thread waits for the
 * sequence number of its next operation), so that objects are freed on
 * other CPUs where the trace had them freed there.
 */
#define RP_CPUS 8
#define RP_CPU(op)	(((op) >> 26) & 7)

struct rp_thread {
	struct rp *r;
	bool rslab;
	unsigned int me, n;
	atomic_t *seq;
	struct completion done;
};

static int rp_thread_fn(void *arg)
{
	struct rp_thread *t = arg;
	struct rp *r = t->r;
	u32 i;

	for (i = 0; i < r->nops; i++) {
		if (RP_CPU(le32_to_cpu(r->ops[i])) % t->n != t->me)
			continue;
		while (atomic_read_acquire(t->seq) != i)
			cpu_relax();
		rp_op(r, t->rslab, i);
		atomic_set_release(t->seq, i + 1);
	}
	kthread_complete_and_exit(&t->done, 0);
}

static void case_replay_cpus(void *arg, bool rslab, u64 ops)
{
	unsigned int n = min(num_online_cpus(), RP_CPUS), c;
	struct task_struct *k[RP_CPUS];
	struct rp_thread t[RP_CPUS];
	atomic_t seq = ATOMIC_INIT(0);
	struct rp *r = arg;

	for (c = 0; c < n; c++) {
		t[c] = (struct rp_thread){ .r = r, .rslab = rslab, .me = c, .n = n, .seq = &seq };
		init_completion(&t[c].done);
		k[c] = kthread_create_on_cpu(rp_thread_fn, &t[c], c, "rslab-replay/%u");
		if (IS_ERR(k[c])) {
			pr_err("rslab-bench: no replay thread on CPU %u\n", c);
			while (c--)
				kthread_stop(k[c]);
			return;
		}
	}
	for (c = 0; c < n; c++)
		wake_up_process(k[c]);
	for (c = 0; c < n; c++)
		wait_for_completion(&t[c].done);
	rp_free_live(r, rslab);
}

static void rp_drop_caches(struct rp *r)
{
	u32 i;

	for (i = 0; i < r->ncaches; i++) {
		if (r->side[0] && r->side[0][i].cache)
			rslab_cache_destroy(r->side[0][i].cache);
		if (r->side[1] && r->side[1][i].cache)
			kmem_cache_destroy(r->side[1][i].cache);
	}
	kfree(r->side[0]);
	kfree(r->side[1]);
}

static int rp_make_caches(struct rp *r)
{
	u32 i;

	r->side[0] = kcalloc(r->ncaches, sizeof(struct side), GFP_KERNEL);
	r->side[1] = kcalloc(r->ncaches, sizeof(struct side), GFP_KERNEL);
	if (!r->side[0] || !r->side[1])
		return -ENOMEM;
	for (i = 0; i < r->ncaches; i++) {
		struct kmem_cache_args args = {
			.align = le32_to_cpu(r->caches[i].align),
			.sheaf_capacity = sheaves ? 1 : 0,
		};
		unsigned int size = le32_to_cpu(r->caches[i].size);
		char name[40];

		r->side[0][i].rslab = true;
		snprintf(name, sizeof(name), "rp-%u", i);
		r->side[0][i].cache = rslab_kmem_cache_create(name, size, &args, 0);
		snprintf(name, sizeof(name), "krp-%u", i);
		r->side[1][i].cache = kmem_cache_create(name, size, args.align, SLAB_NO_MERGE, NULL);
		if (!r->side[0][i].cache || !r->side[1][i].cache)
			return -ENOMEM;
	}
	return 0;
}

static void rp_memory(struct rp *r, bool rslab, u64 *peak, u64 *avg)
{
	r->peak = r->sum = r->samples = 0;
	r->base = held_now(rslab);
	rp_run(r, rslab, true);
	*peak = r->peak * 100;
	*avg = r->sum * 100 / max(r->samples, 1L);
}

/* Replays `r` on CPU 0: memory first (each side from its own start), then time. */
static int bench_replay_cases(struct rp *r)
{
	u64 mr[REPS], mk[REPS], ar[REPS], ak[REPS];
	const char *sfx = sheaves ? "_sheaves" : "";
	char name[64];
	int i, err;

	err = rp_make_caches(r);
	if (err)
		goto out;
	r->ptr = vcalloc(r->nops, sizeof(void *));
	if (!r->ptr) {
		err = -ENOMEM;
		goto out;
	}
	rp_memory(r, true, &mr[0], &ar[0]);
	rp_memory(r, false, &mk[0], &ak[0]);
	for (i = 1; i < REPS; i++) {
		mr[i] = mr[0];
		mk[i] = mk[0];
		ar[i] = ar[0];
		ak[i] = ak[0];
	}
	snprintf(name, sizeof(name), "replay_%s%s", r->name, sfx);
	compare(name, case_replay, r, (u64)r->nops + r->nlive);
	if (num_online_cpus() >= 2) {
		snprintf(name, sizeof(name), "replay_%s%s_cpus", r->name, sfx);
		compare(name, case_replay_cpus, r, (u64)r->nops + r->nlive);
	}
	snprintf(name, sizeof(name), "replay_%s%s_peak", r->name, sfx);
	report(name, "pages", mr, mk, 0, 0);
	snprintf(name, sizeof(name), "replay_%s%s_avg", r->name, sfx);
	report(name, "pages", ar, ak, 0, 0);
	vfree(r->ptr);
out:
	rp_drop_caches(r);
	return err;
}

static int replay_err;

static int bench_replay(void *arg)
{
	replay_err = bench_replay_cases(arg);
	kthread_complete_and_exit(&cpu0_done, 0);
}

/* Reads and checks the file (here, in insmod's context), replays it on CPU 0. */
static int run_replay(void)
{
	struct rp r = { .name = kbasename(replay) };
	struct task_struct *t;
	char *dot, *name;
	void *buf = NULL;
	ssize_t len;
	int err;

	len = kernel_read_file_from_path(replay, 0, &buf, 64 << 20, NULL, READING_UNKNOWN);
	if (len < 0) {
		pr_err("rslab-bench: cannot read %s: %zd\n", replay, len);
		return len;
	}
	err = rp_parse(&r, buf, len);
	if (err) {
		pr_err("rslab-bench: %s is not a replay file (%d)\n", replay, err);
		goto out;
	}
	name = kstrdup(r.name, GFP_KERNEL);
	if (!name) {
		err = -ENOMEM;
		goto out;
	}
	if (quick && r.nops > 4096) {
		/* The first 4096 operations (their frees all refer back). */
		u32 i;

		r.nops = 4096;
		r.nlive = 0;
		for (i = 0; i < r.nops; i++)
			r.nlive += RP_WHAT(le32_to_cpu(r.ops[i])) == RP_FREE ? -1 : 1;
	}
	dot = strchr(name, '.');
	if (dot)
		*dot = 0;
	r.name = name;
	pr_info("rslab-bench: replay %s: %u operations, %u caches, %u never freed\n", name, r.nops,
		r.ncaches, r.nlive);
	t = kthread_run_on_cpu(bench_replay, &r, 0, "rslab-bench");
	if (IS_ERR(t)) {
		err = PTR_ERR(t);
	} else {
		wait_for_completion(&cpu0_done);
		err = replay_err;
	}
	kfree(name);
out:
	vfree(buf);
	return err;
}

static int __init rslab_bench_init(void)
{
	struct task_struct *t;
	int i;

	if (replay) {
		int err = run_replay();

		if (!err)
			pr_info("rslab-bench: api done\n");
		return err;
	}

	for (i = 0; i < MANY; i++) {
		order_perm[i] = i;
		sizes[i] = 8 + get_random_u32_below(4089);
	}
	for (i = MANY - 1; i > 0; i--) {
		unsigned int j = get_random_u32_below(i + 1);

		swap(order_perm[i], order_perm[j]);
	}
	t = kthread_run_on_cpu(bench_cpu0, NULL, 0, "rslab-bench");
	if (IS_ERR(t))
		return PTR_ERR(t);
	wait_for_completion(&cpu0_done);
	if (!burst)
		bench_cross();
	pr_info("rslab-bench: api done\n");
	return 0;
}

static void __exit rslab_bench_exit(void)
{
}

module_init(rslab_bench_init);
module_exit(rslab_bench_exit);
MODULE_DESCRIPTION("rslab's exported API against the kernel's allocators");
MODULE_LICENSE("GPL");
