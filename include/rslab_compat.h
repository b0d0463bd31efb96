/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rslab_compat.h: the kernel's slab and page allocator names, mapped onto
 * rslab's exported API (<rslab.h>), so that a module switches by one line:
 * include this after the kernel's headers (<linux/slab.h>, <linux/gfp.h>,
 * <linux/mm.h>; it includes them itself) and every call below goes to rslab.
 *
 * Mapped: struct kmem_cache (to struct rslab_cache), kmem_cache_create
 * (its five-argument form), kmem_cache_create_args, kmem_cache_destroy,
 * kmem_cache_alloc, kmem_cache_zalloc, kmem_cache_alloc_node,
 * kmem_cache_free, kmem_cache_alloc_bulk, kmem_cache_free_bulk,
 * kmem_cache_shrink, struct slab_sheaf (to struct rslab_sheaf) with
 * kmem_cache_prefill_sheaf, kmem_cache_refill_sheaf, kmem_cache_return_sheaf,
 * kmem_cache_alloc_from_sheaf and kmem_cache_sheaf_size; kmem_buckets (to
 * struct rslab_buckets) with kmem_buckets_create and kmem_buckets_alloc; kmalloc, kzalloc, kmalloc_node, kzalloc_node,
 * kmalloc_array, kcalloc, krealloc, kfree, ksize, kfree_rcu; alloc_pages,
 * alloc_page, alloc_pages_node, __get_free_pages, __get_free_page,
 * get_zeroed_page, __free_pages, __free_page, free_pages, free_page and
 * put_page (which a module must use for pages of rslab's: the kernel's own
 * put_page() would give a page of rslab's to the kernel's allocator).
 *
 * Not mapped (they stay the kernel's): vmalloc and kvmalloc, the
 * kmem_cache_args form of kmem_cache_create (use kmem_cache_create_args),
 * kmalloc_obj and the other
 * 7.x helpers, kstrdup and kmemdup. Memory from one allocator must be freed
 * to the same one.
 */
#ifndef _RSLAB_COMPAT_H
#define _RSLAB_COMPAT_H

#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include "rslab.h"

/* The cache type: a struct kmem_cache * of the module is rslab's handle. */
#define kmem_cache rslab_cache

#undef kmem_cache_create
#define kmem_cache_create(name, size, align, flags, ctor) \
	rslab_cache_create(name, size, align, flags, ctor)
#define kmem_cache_create_args(name, size, args, flags) \
	rslab_kmem_cache_create(name, size, args, flags)
#undef kmem_cache_destroy
#define kmem_cache_destroy(s) rslab_cache_destroy(s)
#undef kmem_cache_alloc
#define kmem_cache_alloc(s, gfp) rslab_cache_alloc(s, gfp)
#undef kmem_cache_zalloc
#define kmem_cache_zalloc(s, gfp) rslab_cache_zalloc(s, gfp)
#undef kmem_cache_alloc_node
#define kmem_cache_alloc_node(s, gfp, nid) rslab_cache_alloc_node(s, gfp, nid)
#undef kmem_cache_free
#define kmem_cache_free(s, obj) rslab_cache_free(s, obj)
#undef kmem_cache_alloc_bulk
#define kmem_cache_alloc_bulk(s, gfp, size, p) rslab_cache_alloc_bulk(s, gfp, size, p)
#undef kmem_cache_free_bulk
#define kmem_cache_free_bulk(s, size, p) rslab_cache_free_bulk(s, size, p)
#undef kmem_cache_shrink
#define kmem_cache_shrink(s) rslab_cache_shrink(s)

/* Prefilled sheaves: a struct slab_sheaf * of the module is rslab's. */
#define slab_sheaf rslab_sheaf
#undef kmem_cache_prefill_sheaf
#define kmem_cache_prefill_sheaf(s, gfp, size) rslab_cache_prefill_sheaf(s, gfp, size)
#undef kmem_cache_refill_sheaf
#define kmem_cache_refill_sheaf(s, gfp, sheafp, size) rslab_cache_refill_sheaf(s, gfp, sheafp, size)
#undef kmem_cache_return_sheaf
#define kmem_cache_return_sheaf(s, gfp, sheaf) rslab_cache_return_sheaf(s, gfp, sheaf)
#undef kmem_cache_alloc_from_sheaf
#define kmem_cache_alloc_from_sheaf(s, gfp, sheaf) rslab_cache_alloc_from_sheaf(s, gfp, sheaf)
#undef kmem_cache_sheaf_size
#define kmem_cache_sheaf_size(sheaf) rslab_cache_sheaf_size(sheaf)

/* Private buckets: a kmem_buckets * of the module is rslab's. */
#define kmem_buckets struct rslab_buckets
#undef kmem_buckets_create
#define kmem_buckets_create(name, flags, useroffset, usersize, ctor) \
	rslab_kmem_buckets_create(name, flags, useroffset, usersize, ctor)
#undef kmem_buckets_alloc
#define kmem_buckets_alloc(b, size, gfp) rslab_kmem_buckets_alloc(b, size, gfp)

#undef kmalloc
#define kmalloc(size, gfp) rslab_kmalloc(size, gfp)
#undef kzalloc
#define kzalloc(size, gfp) rslab_kzalloc(size, gfp)
#undef kmalloc_node
#define kmalloc_node(size, gfp, nid) rslab_kmalloc_node(size, gfp, nid)
#undef kzalloc_node
#define kzalloc_node(size, gfp, nid) rslab_kmalloc_node(size, (gfp) | __GFP_ZERO, nid)
#undef kmalloc_array
#define kmalloc_array(n, size, gfp) rslab_kmalloc_array(n, size, gfp)
#undef kcalloc
#define kcalloc(n, size, gfp) rslab_kmalloc_array(n, size, (gfp) | __GFP_ZERO)
#undef krealloc
#define krealloc(p, size, gfp) rslab_krealloc(p, size, gfp)
#undef kfree
#define kfree(p) rslab_kfree(p)
#undef ksize
#define ksize(p) rslab_ksize(p)
#undef kmalloc_nolock
#define kmalloc_nolock(size, gfp, nid) rslab_kmalloc_nolock(size, gfp, nid)
#undef kfree_nolock
#define kfree_nolock(p) rslab_kfree_nolock(p)
#undef kfree_rcu
#define kfree_rcu(ptr, rhf) rslab_kfree_rcu(ptr, rhf)

#undef alloc_pages
#define alloc_pages(gfp, order) rslab_alloc_pages(gfp, order)
#undef alloc_page
#define alloc_page(gfp) rslab_alloc_pages(gfp, 0)
#undef alloc_pages_node
#define alloc_pages_node(nid, gfp, order) rslab_alloc_pages_node(nid, gfp, order)
#undef alloc_pages_bulk
#define alloc_pages_bulk(gfp, nr, array) rslab_alloc_pages_bulk(gfp, nr, array)
#undef __get_free_pages
#define __get_free_pages(gfp, order) rslab_get_free_pages(gfp, order)
#undef __get_free_page
#define __get_free_page(gfp) rslab_get_free_pages(gfp, 0)
#undef get_zeroed_page
#define get_zeroed_page(gfp) rslab_get_zeroed_page(gfp)
#undef __free_pages
#define __free_pages(page, order) rslab_free_pages(page, order)
#undef __free_page
#define __free_page(page) rslab_free_pages(page, 0)
#undef free_pages
#define free_pages(addr, order) rslab_free_pages_addr(addr, order)
#undef free_page
#define free_page(addr) rslab_free_pages_addr(addr, 0)
#undef put_page
#define put_page(page) rslab_put_page(page)

#endif /* _RSLAB_COMPAT_H */
