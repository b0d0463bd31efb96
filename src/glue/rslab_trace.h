/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rslab's trace events: the kernel's kmem events (include/trace/events/kmem.h)
 * for the exported API, with the same fields, in the trace system "rslab"
 * (their names prefixed, as the kernel's own are taken). Declarations only:
 * src/glue/trace.rs calls rust_do_trace_<event>() behind each event's static
 * key. Defined in rslab.ko (src/glue/helpers.c), not in rslab_kunit.ko.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM rslab

#if !defined(_RSLAB_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _RSLAB_TRACE_H

#include <linux/mm.h>
#include <linux/tracepoint.h>
#include <trace/events/mmflags.h>

TRACE_EVENT(rslab_kmem_cache_alloc,
	TP_PROTO(unsigned long call_site, const void *ptr, const char *name,
		 unsigned int name_len, size_t bytes_req, size_t bytes_alloc,
		 unsigned long gfp_flags, int node),
	TP_ARGS(call_site, ptr, name, name_len, bytes_req, bytes_alloc, gfp_flags, node),
	TP_STRUCT__entry(
		__field(unsigned long, call_site)
		__field(const void *, ptr)
		__string_len(name, name, name_len)
		__field(size_t, bytes_req)
		__field(size_t, bytes_alloc)
		__field(unsigned long, gfp_flags)
		__field(int, node)
	),
	TP_fast_assign(
		__entry->call_site = call_site;
		__entry->ptr = ptr;
		__assign_str(name);
		__entry->bytes_req = bytes_req;
		__entry->bytes_alloc = bytes_alloc;
		__entry->gfp_flags = gfp_flags;
		__entry->node = node;
	),
	TP_printk("call_site=%pS ptr=%p name=%s bytes_req=%zu bytes_alloc=%zu gfp_flags=%s node=%d",
		  (void *)__entry->call_site, __entry->ptr, __get_str(name),
		  __entry->bytes_req, __entry->bytes_alloc,
		  show_gfp_flags(__entry->gfp_flags), __entry->node)
);

TRACE_EVENT(rslab_kmem_cache_free,
	TP_PROTO(unsigned long call_site, const void *ptr, const char *name,
		 unsigned int name_len),
	TP_ARGS(call_site, ptr, name, name_len),
	TP_STRUCT__entry(
		__field(unsigned long, call_site)
		__field(const void *, ptr)
		__string_len(name, name, name_len)
	),
	TP_fast_assign(
		__entry->call_site = call_site;
		__entry->ptr = ptr;
		__assign_str(name);
	),
	TP_printk("call_site=%pS ptr=%p name=%s",
		  (void *)__entry->call_site, __entry->ptr, __get_str(name))
);

TRACE_EVENT(rslab_kmalloc,
	TP_PROTO(unsigned long call_site, const void *ptr, size_t bytes_req,
		 size_t bytes_alloc, unsigned long gfp_flags, int node),
	TP_ARGS(call_site, ptr, bytes_req, bytes_alloc, gfp_flags, node),
	TP_STRUCT__entry(
		__field(unsigned long, call_site)
		__field(const void *, ptr)
		__field(size_t, bytes_req)
		__field(size_t, bytes_alloc)
		__field(unsigned long, gfp_flags)
		__field(int, node)
	),
	TP_fast_assign(
		__entry->call_site = call_site;
		__entry->ptr = ptr;
		__entry->bytes_req = bytes_req;
		__entry->bytes_alloc = bytes_alloc;
		__entry->gfp_flags = gfp_flags;
		__entry->node = node;
	),
	TP_printk("call_site=%pS ptr=%p bytes_req=%zu bytes_alloc=%zu gfp_flags=%s node=%d",
		  (void *)__entry->call_site, __entry->ptr, __entry->bytes_req,
		  __entry->bytes_alloc, show_gfp_flags(__entry->gfp_flags),
		  __entry->node)
);

TRACE_EVENT(rslab_kfree,
	TP_PROTO(unsigned long call_site, const void *ptr),
	TP_ARGS(call_site, ptr),
	TP_STRUCT__entry(
		__field(unsigned long, call_site)
		__field(const void *, ptr)
	),
	TP_fast_assign(
		__entry->call_site = call_site;
		__entry->ptr = ptr;
	),
	TP_printk("call_site=%pS ptr=%p", (void *)__entry->call_site, __entry->ptr)
);

TRACE_EVENT(rslab_mm_page_alloc,
	TP_PROTO(unsigned long pfn, unsigned int order, unsigned long gfp_flags),
	TP_ARGS(pfn, order, gfp_flags),
	TP_STRUCT__entry(
		__field(unsigned long, pfn)
		__field(unsigned int, order)
		__field(unsigned long, gfp_flags)
	),
	TP_fast_assign(
		__entry->pfn = pfn;
		__entry->order = order;
		__entry->gfp_flags = gfp_flags;
	),
	TP_printk("pfn=0x%lx order=%u gfp_flags=%s", __entry->pfn, __entry->order,
		  show_gfp_flags(__entry->gfp_flags))
);

TRACE_EVENT(rslab_mm_page_free,
	TP_PROTO(unsigned long pfn, unsigned int order),
	TP_ARGS(pfn, order),
	TP_STRUCT__entry(
		__field(unsigned long, pfn)
		__field(unsigned int, order)
	),
	TP_fast_assign(
		__entry->pfn = pfn;
		__entry->order = order;
	),
	TP_printk("pfn=0x%lx order=%u", __entry->pfn, __entry->order)
);

#endif /* _RSLAB_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE rslab_trace
#include <trace/define_trace.h>
