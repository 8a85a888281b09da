/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of pinmgr (trace system "pinmgr"): a region pinned, unpinned
 * by its owner, and its pages released. CREATE_TRACE_POINTS is defined in
 * pin_tracker.c only. Out-of-tree, so define_trace.h finds this file
 * through TRACE_INCLUDE_PATH "." and the -I of module/ in Kbuild.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM pinmgr

#if !defined(PINMGR_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define PINMGR_TRACE_H

#include <linux/tracepoint.h>

DECLARE_EVENT_CLASS(pinmgr_region,
		    TP_PROTO(u32 handle, unsigned long pages, u64 bytes,
			     bool writable, u64 duration_ns),
		    TP_ARGS(handle, pages, bytes, writable, duration_ns),
		    TP_STRUCT__entry(__field(u32, handle)
				     __field(unsigned long, pages)
				     __field(u64, bytes)
				     __field(u64, duration_ns)
				     __field(bool, writable)),
		    TP_fast_assign(__entry->handle = handle;
				   __entry->pages = pages;
				   __entry->bytes = bytes;
				   __entry->duration_ns = duration_ns;
				   __entry->writable = writable;),
		    TP_printk("handle=%u pages=%lu bytes=%llu writable=%d duration_ns=%llu",
			      __entry->handle, __entry->pages, __entry->bytes,
			      __entry->writable, __entry->duration_ns));

/*
 * pinmgr:pin - a region was pinned and published under @handle. @bytes is
 * the length asked for; @duration_ns covers the whole pin (GUP and
 * bookkeeping).
 */
DEFINE_EVENT(pinmgr_region, pinmgr_pin,
	     TP_PROTO(u32 handle, unsigned long pages, u64 bytes,
		      bool writable, u64 duration_ns),
	     TP_ARGS(handle, pages, bytes, writable, duration_ns));

/*
 * pinmgr:unpin - the owner unpinned @handle. @duration_ns covers the
 * removal and, unless a lookup still holds the region, its release.
 */
DEFINE_EVENT(pinmgr_region, pinmgr_unpin,
	     TP_PROTO(u32 handle, unsigned long pages, u64 bytes,
		      bool writable, u64 duration_ns),
	     TP_ARGS(handle, pages, bytes, writable, duration_ns));

/*
 * pinmgr:release - the pages of @handle were unpinned (after an unpin, at
 * close, or when the last lookup let go). @duration_ns covers the
 * unpinning (and dirtying, for a writable pin) of the pages.
 */
DEFINE_EVENT(pinmgr_region, pinmgr_release,
	     TP_PROTO(u32 handle, unsigned long pages, u64 bytes,
		      bool writable, u64 duration_ns),
	     TP_ARGS(handle, pages, bytes, writable, duration_ns));

/*
 * pinmgr:diverged - the mm is about to change or drop page table entries in
 * [@start, @end) of region @handle (0 while the region is being pinned).
 * @kind is BIT_ULL(enum mmu_notifier_event): 1 unmap, 2 clear, 4 protection
 * of a VMA, 8 of a page, 16 soft-dirty, 32 release (the mm exits), 64
 * migration, 128 exclusive access.
 */
TRACE_EVENT(pinmgr_diverged,
	    TP_PROTO(u32 handle, u64 kind, u64 start, u64 end),
	    TP_ARGS(handle, kind, start, end),
	    TP_STRUCT__entry(__field(u32, handle)
			     __field(u64, kind)
			     __field(u64, start)
			     __field(u64, end)),
	    TP_fast_assign(__entry->handle = handle;
			   __entry->kind = kind;
			   __entry->start = start;
			   __entry->end = end;),
	    TP_printk("handle=%u kind=0x%llx start=0x%llx end=0x%llx",
		      __entry->handle, __entry->kind, __entry->start,
		      __entry->end));

#endif /* PINMGR_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
