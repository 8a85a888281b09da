/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of the pin tracker: a region pinned, unpinned by its owner,
 * its pages released, its mapping about to change. The driver carrying the
 * tracker names them: built with PIN_TRACKER_TRACE_SYSTEM=mydrv
 * (pin_tracker.kbuild's PIN_TRACKER_TRACE), they are mydrv:mydrv_pin,
 * mydrv_unpin, mydrv_release and mydrv_changed, so two drivers carrying
 * the tracker load side by side. Without it there are none, and
 * pin_trace() and pin_trace_enabled() compile to nothing.
 *
 * Included by pin_tracker.c only, with CREATE_TRACE_POINTS. Out of tree,
 * define_trace.h finds this file through TRACE_INCLUDE_PATH "." and the -I
 * of this folder that pin_tracker.kbuild adds.
 */
#ifdef PIN_TRACKER_TRACE_SYSTEM

/* mydrv_##ev, with mydrv expanded first */
#define PIN_TRACE_NAME(ev)	__PASTE(PIN_TRACKER_TRACE_SYSTEM, __PASTE(_, ev))
#define pin_trace(ev, ...)	__PASTE(trace_, PIN_TRACE_NAME(ev))(__VA_ARGS__)
#define pin_trace_enabled(ev)	__PASTE(__PASTE(trace_, PIN_TRACE_NAME(ev)), _enabled)()

/*
 * The event macros paste their name argument before expanding it: these
 * pass names through one more macro, which expands PIN_TRACE_NAME() first.
 */
#define PIN_TRACE_CLASS(name, proto, args, tstruct, assign, print)	\
	DECLARE_EVENT_CLASS(name, PARAMS(proto), PARAMS(args),		\
			    PARAMS(tstruct), PARAMS(assign), PARAMS(print))
#define PIN_TRACE_DEFINE(template, name, proto, args)			\
	DEFINE_EVENT(template, name, PARAMS(proto), PARAMS(args))
#define PIN_TRACE_EVENT(name, proto, args, tstruct, assign, print)	\
	TRACE_EVENT(name, PARAMS(proto), PARAMS(args), PARAMS(tstruct),	\
		    PARAMS(assign), PARAMS(print))

#undef TRACE_SYSTEM
#define TRACE_SYSTEM PIN_TRACKER_TRACE_SYSTEM

#if !defined(PIN_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define PIN_TRACE_H

#include <linux/tracepoint.h>

PIN_TRACE_CLASS(PIN_TRACE_NAME(region),
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
 * pin - a region was pinned and published under @handle. @bytes is the
 * length asked for; @duration_ns covers the whole pin (GUP and
 * bookkeeping); for a region that takes the handle of another over
 * (pin_tracker_replace()), the call up to that moment.
 */
PIN_TRACE_DEFINE(PIN_TRACE_NAME(region), PIN_TRACE_NAME(pin),
		 TP_PROTO(u32 handle, unsigned long pages, u64 bytes,
			  bool writable, u64 duration_ns),
		 TP_ARGS(handle, pages, bytes, writable, duration_ns));

/*
 * unpin - the owner unpinned @handle. @duration_ns covers the removal and,
 * unless a lookup still holds the region, its release.
 */
PIN_TRACE_DEFINE(PIN_TRACE_NAME(region), PIN_TRACE_NAME(unpin),
		 TP_PROTO(u32 handle, unsigned long pages, u64 bytes,
			  bool writable, u64 duration_ns),
		 TP_ARGS(handle, pages, bytes, writable, duration_ns));

/*
 * release - the pages of @handle were unpinned (after an unpin, when the
 * tracker was destroyed, or when the last lookup let go). @duration_ns
 * covers the unpinning (and dirtying, for a writable pin) of the pages.
 */
PIN_TRACE_DEFINE(PIN_TRACE_NAME(region), PIN_TRACE_NAME(release),
		 TP_PROTO(u32 handle, unsigned long pages, u64 bytes,
			  bool writable, u64 duration_ns),
		 TP_ARGS(handle, pages, bytes, writable, duration_ns));

/*
 * changed - the mm is about to change or drop page table entries in
 * [@start, @end) of region @handle (0 while the region is being pinned).
 * Whether the pinned pages stay in place is found out later. @kind is
 * BIT_ULL(enum mmu_notifier_event): 1 unmap, 2 clear, 4 protection of a
 * VMA, 8 of a page, 16 soft-dirty, 32 release (the mm exits), 64
 * migration, 128 exclusive access.
 */
PIN_TRACE_EVENT(PIN_TRACE_NAME(changed),
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

#endif /* PIN_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE pin_trace
#include <trace/define_trace.h>

#else /* !PIN_TRACKER_TRACE_SYSTEM: no tracepoints */

#ifndef PIN_TRACE_H
#define PIN_TRACE_H

#include <linux/types.h>

/* The arguments still type-checked, and used: no unused variables. */
#define pin_trace(ev, ...)	__PASTE(pin_trace_none_, ev)(__VA_ARGS__)
#define pin_trace_enabled(ev)	false

static inline void pin_trace_none_region(u32 handle, unsigned long pages,
					 u64 bytes, bool writable,
					 u64 duration_ns)
{
}

#define pin_trace_none_pin	pin_trace_none_region
#define pin_trace_none_unpin	pin_trace_none_region
#define pin_trace_none_release	pin_trace_none_region

static inline void pin_trace_none_changed(u32 handle, u64 kind, u64 start,
					  u64 end)
{
}

#endif /* PIN_TRACE_H */
#endif /* PIN_TRACKER_TRACE_SYSTEM */
