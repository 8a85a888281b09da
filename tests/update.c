// SPDX-License-Identifier: GPL-2.0
/*
 * UPDATE: pin new ranges and unpin old regions in one call, all or
 * nothing; with no ranges, a vectored UNPIN (pinmgr_unpin_vec()).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"

static void stats(struct pinmgr_ctx *ctx, struct pinmgr_stats *st)
{
	ASSERT_OK(pinmgr_stats(ctx, st, sizeof(*st)));
}

/* @h still names a region of @ctx, of @npages pages. */
static void assert_held(struct pinmgr_ctx *ctx, uint32_t h, uint64_t npages)
{
	struct pinmgr_query q;

	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));
	ASSERT_EQ(q.out_npages, npages);
}

static void assert_gone(struct pinmgr_ctx *ctx, uint32_t h)
{
	struct pinmgr_query q;

	ASSERT_ERR(pinmgr_query(ctx, h, &q, sizeof(q)), ENOENT);
}

/* @h names a region of @ctx pinned from @addr, @len bytes, @flags. */
static void assert_names(struct pinmgr_ctx *ctx, uint32_t h, const void *addr,
			 uint64_t len, uint32_t flags)
{
	struct pinmgr_query q;

	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));
	ASSERT_MSG(q.out_addr == (uintptr_t)addr && q.out_length == len,
		   "handle %u names %#llx+%llu, not %p+%llu", h,
		   (unsigned long long)q.out_addr,
		   (unsigned long long)q.out_length, addr,
		   (unsigned long long)len);
	ASSERT_EQ(q.out_flags, flags);
}

/* The flags of an UPDATE that replaces, for the cases of both kinds. */
static const uint32_t replace = PINMGR_UPDATE_REPLACE;

static struct pinmgr_pin_range range_of(const void *addr, uint64_t len)
{
	return (struct pinmgr_pin_range){ .addr = (uintptr_t)addr,
					  .length = len };
}

/*
 * The per-I/O pattern: pin the next buffer and unpin the last in one call,
 * 300 times over a ring of 8 buffers. One region is held at any time.
 */
CASE(steady_state)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(8 * h_ps);
	struct pinmgr_pin_range r;
	struct pinmgr_stats st;
	uint32_t last;
	int i;

	last = h_pin(ctx, buf, h_ps, PINMGR_PIN_WRITE);
	for (i = 1; i <= 300; i++) {
		r = range_of(buf + (i % 8) * h_ps + 10, 100);
		ASSERT_OK(pinmgr_update(ctx, &last, 1, PINMGR_PIN_WRITE, &r, 1));
		ASSERT_MSG(r.out_handle > last, "handle %u after %u",
			   r.out_handle, last);
		ASSERT_EQ(r.out_npages, 1);
		ASSERT_EQ(r.out_offset, 10);
		assert_gone(ctx, last);
		last = r.out_handle;
		assert_held(ctx, last, 1);
		ASSERT_VMPIN_KB(PAGES_KB(1));
	}
	stats(ctx, &st);
	ASSERT_EQ(st.out_regions, 1);
	ASSERT_EQ(st.out_pinned_pages, 1);
	ASSERT_EQ(st.out_peak_pages, 2);	/* old and new, for a moment */
	ASSERT_EQ(st.out_pins, 301);
	ASSERT_EQ(st.out_unpins, 300);
	ASSERT_EQ(st.out_failed_pins, 0);
	ASSERT_OK(pinmgr_unpin(ctx, last));
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

/* The device writes through the new pin; the old pin's pages are dirtied. */
CASE(same_memory_stays_pinned)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(2 * h_ps);
	struct pinmgr_pin_range r = range_of(buf, 2 * h_ps);
	uint32_t h = h_pin(ctx, buf, 2 * h_ps, PINMGR_PIN_WRITE);
	uint64_t pfn0 = h_pagemap_pfn(buf);

	ASSERT_OK(pinmgr_update(ctx, &h, 1, PINMGR_PIN_WRITE, &r, 1));
	ASSERT_EQ(h_pagemap_pfn(buf), pfn0);
	assert_gone(ctx, h);
	assert_held(ctx, r.out_handle, 2);
	ASSERT_VMPIN_KB(PAGES_KB(2));
	ASSERT_OK(pinmgr_unpin(ctx, r.out_handle));
	ASSERT_VMPIN_KB(0);
}

CASE(unpin_vec_many)
{
	const unsigned int n = 300;	/* several blocks of 64 handles */
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(n * h_ps);
	struct pinmgr_pin_range *r = h_malloc(n * sizeof(*r));
	uint32_t *h = h_malloc(n * sizeof(*h));
	struct pinmgr_stats st;
	unsigned int i;

	for (i = 0; i < n; i++)
		r[i] = range_of(buf + (size_t)i * h_ps, h_ps);
	ASSERT_OK(pinmgr_pin_vec(ctx, 0, r, n));
	/* Every other one, newest first, then the rest. */
	for (i = 0; i < n / 2; i++)
		h[i] = r[n - 1 - 2 * i].out_handle;
	ASSERT_OK(pinmgr_unpin_vec(ctx, h, n / 2));
	for (i = 0; i < n; i++) {
		if (i % 2)
			assert_gone(ctx, r[i].out_handle);
		else
			assert_held(ctx, r[i].out_handle, 1);
	}
	ASSERT_VMPIN_KB(PAGES_KB(n / 2));
	for (i = 0; i < n / 2; i++)
		h[i] = r[2 * i].out_handle;
	ASSERT_OK(pinmgr_unpin_vec(ctx, h, n / 2));
	stats(ctx, &st);
	ASSERT_EQ(st.out_regions, 0);
	ASSERT_EQ(st.out_unpins, n);
	ASSERT_VMPIN_KB(0);
	/* Handles go on increasing after the ones given back. */
	r[0] = range_of(buf, h_ps);
	ASSERT_OK(pinmgr_update(ctx, NULL, 0, 0, r, 1));
	ASSERT_MSG(r[0].out_handle > h[n / 2 - 1], "handle %u reused",
		   r[0].out_handle);
}

/* A failed UPDATE changes nothing: @h and @h2 stay, nothing else is left. */
static void assert_unchanged(struct pinmgr_ctx *ctx, uint32_t h, uint32_t h2,
			     uint64_t failed)
{
	struct pinmgr_stats st;

	assert_held(ctx, h, 1);
	assert_held(ctx, h2, 1);
	stats(ctx, &st);
	ASSERT_EQ(st.out_regions, 2);
	ASSERT_EQ(st.out_pinned_pages, 2);
	ASSERT_EQ(st.out_unpins, 0);
	ASSERT_EQ(st.out_failed_pins, failed);
	ASSERT_VMPIN_KB(PAGES_KB(2));
}

struct bad_unpin {
	const char *what;
	int second;	/* 0: h2, 1: h again, 2: never pinned, 3: 0 */
	uint32_t flags;	/* 0 or PINMGR_UPDATE_REPLACE */
};

/*
 * Two ranges would be pinned; a handle is bad: ENOENT before anything is
 * pinned. The ranges are never-touched pages: a pin would fault them in.
 */
CASE(bad_handle)
{
	const struct bad_unpin *b = arg;
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(2 * h_ps);
	char *fresh = h_anon_untouched(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	uint32_t h2 = h_pin(ctx, buf + h_ps, h_ps, 0);
	uint32_t un[2] = { h, 0 };
	struct pinmgr_pin_range r[2] = { range_of(fresh, h_ps),
					 range_of(fresh + 2 * h_ps, 2 * h_ps) };
	struct pinmgr_stats st;
	unsigned char vec[4];

	un[1] = b->second == 1 ? h : b->second == 2 ? h2 + 1000 : 0;
	ASSERT_ERR(pinmgr_update(ctx, un, 2, b->flags, r, 2), ENOENT);
	/* Nothing was pinned, so nothing failed either. */
	assert_unchanged(ctx, h, h2, 0);
	assert_names(ctx, h, buf, h_ps, 0);
	stats(ctx, &st);
	ASSERT_EQ(st.out_peak_pages, 2);
	ASSERT_SYS(mincore(fresh, 4 * h_ps, vec));
	ASSERT_MSG(!(vec[0] & 1) && !(vec[2] & 1) && !(vec[3] & 1),
		   "the ranges were faulted in (mincore %d %d %d)",
		   vec[0] & 1, vec[2] & 1, vec[3] & 1);
	ASSERT_ERR(pinmgr_unpin_vec(ctx, un, 2), ENOENT);
	assert_unchanged(ctx, h, h2, 0);
}

/*
 * Handles are handed out in order, so the one this UPDATE's pin will get
 * can be named: it does not exist when the call begins, ENOENT.
 */
CASE(own_new_handle)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(2 * h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	uint32_t next = h + 1;
	struct pinmgr_pin_range r = range_of(buf + h_ps, h_ps);
	struct pinmgr_stats st;

	ASSERT_ERR(pinmgr_update(ctx, &next, 1, 0, &r, 1), ENOENT);
	stats(ctx, &st);
	ASSERT_EQ(st.out_regions, 1);
	ASSERT_EQ(st.out_pins, 1);
	ASSERT_EQ(st.out_failed_pins, 0);
	assert_held(ctx, h, 1);
}

static const struct bad_unpin twice = { "twice", 1, 0 };
static const struct bad_unpin unknown = { "unknown", 2, 0 };
static const struct bad_unpin zero = { "zero", 3, 0 };
static const struct bad_unpin replace_twice = {
	"twice", 1, PINMGR_UPDATE_REPLACE };
static const struct bad_unpin replace_unknown = {
	"unknown", 2, PINMGR_UPDATE_REPLACE };
static const struct bad_unpin replace_zero = {
	"zero", 3, PINMGR_UPDATE_REPLACE };

/*
 * A range cannot be pinned: its errno, the handles keep their regions. The
 * ranges before it, pinned, are undone: failed pins, as is the bad one
 * (unless it fails the argument checks). @arg: &replace for UPDATE_REPLACE.
 */
CASE(bad_range)
{
	uint32_t flags = arg ? replace : 0;
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(8 * h_ps);
	char *hole = h_anon(h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	uint32_t h2 = h_pin(ctx, buf + h_ps, h_ps, 0);
	uint32_t un[2] = { h, h2 };
	struct pinmgr_pin_range r[2] = { range_of(buf + 2 * h_ps, h_ps),
					 range_of(hole, h_ps) };

	ASSERT_SYS(munmap(hole, h_ps));
	ASSERT_ERR(pinmgr_update(ctx, un, 2, flags, r, 2), EFAULT);
	/* The first range was pinned and undone; the second failed. */
	assert_unchanged(ctx, h, h2, 2);
	r[1] = range_of(buf, 0);
	ASSERT_ERR(pinmgr_update(ctx, un, 2, flags, r, 2), EINVAL);
	assert_unchanged(ctx, h, h2, 3);
	r[1] = range_of((void *)-4096L, h_ps);
	ASSERT_ERR(pinmgr_update(ctx, un, 2, flags, r, 2), EOVERFLOW);
	assert_unchanged(ctx, h, h2, 4);
	assert_names(ctx, h, buf, h_ps, 0);
	assert_names(ctx, h2, buf + h_ps, h_ps, 0);
}

/* The handle array cannot be read: EFAULT before anything is pinned. */
CASE(unpin_array_fault)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	uint32_t h2 = h_pin(ctx, buf + h_ps, h_ps, 0);
	uint32_t *gone = h_anon(h_ps);
	struct pinmgr_pin_range r = range_of(buf + 2 * h_ps, h_ps);

	ASSERT_SYS(munmap(gone, h_ps));
	ASSERT_ERR(pinmgr_update(ctx, gone, 1, 0, &r, 1), EFAULT);
	assert_unchanged(ctx, h, h2, 0);
}

/* The results cannot be written back: EFAULT, pins undone, none unpinned. */
CASE(ranges_readonly)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	uint32_t h2 = h_pin(ctx, buf + h_ps, h_ps, 0);
	struct pinmgr_pin_range *r = h_map(h_ps, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	*r = range_of(buf + 2 * h_ps, h_ps);
	ASSERT_SYS(mprotect(r, h_ps, PROT_READ));
	ASSERT_ERR(pinmgr_update(ctx, &h, 1, 0, r, 1), EFAULT);
	assert_unchanged(ctx, h, h2, 1);
}

/*
 * Eight ranges, the last two on a page that cannot be read: the first
 * chunk of four was pinned when the copy of the second failed; undone,
 * and the handle given is not unpinned.
 */
CASE(ranges_unreadable_past_first_chunk)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(12 * h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	uint32_t h2 = h_pin(ctx, buf + h_ps, h_ps, 0);
	char *two = h_map(2 * h_ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pinmgr_pin_range *r = (struct pinmgr_pin_range *)(two + h_ps) - 6;
	unsigned int i;

	for (i = 0; i < 8; i++)
		r[i] = range_of(buf + (2 + i) * h_ps, h_ps);
	ASSERT_SYS(mprotect(two + h_ps, h_ps, PROT_NONE));
	ASSERT_ERR(pinmgr_update(ctx, &h, 1, 0, r, 8), EFAULT);
	assert_unchanged(ctx, h, h2, 4);
}

/*
 * After a successful UPDATE (@arg: &replace or NULL) of @h by one page at
 * @addr: with a new handle, @h is gone; with a replace, @h names the page.
 */
static void assert_updated(struct pinmgr_ctx *ctx, const void *arg,
			   uint32_t h, const void *addr)
{
	if (arg)
		assert_names(ctx, h, addr, h_ps, 0);
	else
		assert_gone(ctx, h);
}

/*
 * At RLIMIT_MEMLOCK the new pin counts beside the old one: ENOMEM, nothing
 * changes; with one page of room it goes through. In a child without
 * CAP_IPC_LOCK; @arg: &replace for UPDATE_REPLACE.
 */
static void memlock_child(void *arg)
{
	uint32_t flags = arg ? replace : 0;
	struct rlimit rl = { 4 * h_ps, 4 * h_ps };
	struct pinmgr_ctx *ctx;
	char *buf = h_anon(8 * h_ps);
	struct pinmgr_pin_range r = range_of(buf + 4 * h_ps, h_ps);
	uint32_t h;

	h_cap_drop(CAP_IPC_LOCK);
	ASSERT_SYS(setrlimit(RLIMIT_MEMLOCK, &rl));
	ctx = h_open();
	h = h_pin(ctx, buf, 4 * h_ps, 0);
	ASSERT_ERR(pinmgr_update(ctx, &h, 1, flags, &r, 1), ENOMEM);
	assert_names(ctx, h, buf, 4 * h_ps, 0);
	ASSERT_VMPIN_KB(PAGES_KB(4));
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h = h_pin(ctx, buf, 3 * h_ps, 0);
	ASSERT_OK(pinmgr_update(ctx, &h, 1, flags, &r, 1));
	assert_updated(ctx, arg, h, buf + 4 * h_ps);
	ASSERT_VMPIN_KB(PAGES_KB(1));
}

CASE(memlock_counts_both)
{
	h_child_wait(h_child_start(memlock_child, (void *)arg));
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

/* Likewise max_regions: the new region counts before the old one goes. */
CASE(max_regions_counts_both)
{
	uint32_t flags = arg ? replace : 0;
	struct pinmgr_ctx *ctx;
	char *buf = h_anon(4 * h_ps);
	struct pinmgr_pin_range r;
	uint32_t h, h2;

	h_param_set_for_case("max_regions", 2);
	ctx = h_open();
	h = h_pin(ctx, buf, h_ps, 0);
	h2 = h_pin(ctx, buf + h_ps, h_ps, 0);
	r = range_of(buf + 2 * h_ps, h_ps);
	ASSERT_ERR(pinmgr_update(ctx, &h, 1, flags, &r, 1), ENOSPC);
	assert_unchanged(ctx, h, h2, 1);
	ASSERT_OK(pinmgr_unpin(ctx, h2));
	ASSERT_OK(pinmgr_update(ctx, &h, 1, flags, &r, 1));
	assert_updated(ctx, arg, h, buf + 2 * h_ps);
	assert_names(ctx, r.out_handle, buf + 2 * h_ps, h_ps, 0);
}

/* A pending change record of an unpinned region is dropped. */
CASE(drops_pending_record)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	struct pinmgr_info in;
	struct pinmgr_event ev;

	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	if (!(in.out_caps & PINMGR_CAP_EVENTS))
		h_skip("no divergence events on this file");
	ASSERT_SYS(madvise(buf, h_ps, MADV_DONTNEED));
	ASSERT_OK(pinmgr_unpin_vec(ctx, &h, 1));
	ASSERT_SYS(fcntl(pinmgr_fd(ctx), F_SETFL, O_NONBLOCK));
	ASSERT_ERR(pinmgr_events_read(ctx, &ev, 1), EAGAIN);
}

CASE(counts)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_pin_range r = range_of(h_anon(h_ps), h_ps);
	struct pinmgr_update u = { .size = sizeof(u), .nr_pin = 1,
				   .pin = (uintptr_t)&r };
	uint32_t h = 1;

	u.nr_pin = 0;
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_UPDATE, &u), EINVAL);
	u.nr_pin = PINMGR_PIN_VEC_MAX + 1;
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_UPDATE, &u), E2BIG);
	u.nr_pin = 1;
	u.nr_unpin = PINMGR_UNPIN_VEC_MAX + 1;
	u.unpin = (uintptr_t)&h;
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_UPDATE, &u), E2BIG);
	/* Pointers are not looked at for a count of 0. */
	u.nr_unpin = 0;
	u.unpin = 1;
	ASSERT_OK(h_ioctl(h_fd(ctx), PINMGR_UPDATE, &u));
	ASSERT_OK(pinmgr_unpin(ctx, r.out_handle));
	u.nr_pin = 0;
	u.pin = 0;
	u.nr_unpin = 1;
	u.unpin = 0;
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_UPDATE, &u), EFAULT);
}

CASE(lib_args)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_pin_range r = { 0 };
	uint32_t h = 1;

	ASSERT_ERR(pinmgr_update(NULL, &h, 1, 0, &r, 1), EINVAL);
	ASSERT_ERR(pinmgr_update(ctx, NULL, 0, 0, NULL, 0), EINVAL);
	ASSERT_ERR(pinmgr_update(ctx, NULL, 1, 0, &r, 1), EINVAL);
	ASSERT_ERR(pinmgr_update(ctx, &h, 1, 0, NULL, 1), EINVAL);
	ASSERT_ERR(pinmgr_unpin_vec(NULL, &h, 1), EINVAL);
	ASSERT_ERR(pinmgr_unpin_vec(ctx, NULL, 1), EINVAL);
	ASSERT_ERR(pinmgr_unpin_vec(ctx, &h, 0), EINVAL);
	ASSERT_ERR(pinmgr_unpin_vec(ctx, &h, 1), ENOENT);
}

/* ---- PINMGR_UPDATE_REPLACE: range i takes handle i over ------------- */

#define REPLACE PINMGR_UPDATE_REPLACE

CASE(replace_info_cap)
{
	struct pinmgr_info in;

	ASSERT_OK(pinmgr_info(h_open(), &in, sizeof(in)));
	ASSERT_MSG(in.out_caps & PINMGR_CAP_UPDATE_REPLACE,
		   "INFO out_caps %#llx lacks PINMGR_CAP_UPDATE_REPLACE",
		   (unsigned long long)in.out_caps);
}

/*
 * The per-I/O pattern with a table of one slot: its handle names the next
 * buffer after each call, 300 times over a ring of 8 buffers.
 */
CASE(replace_steady_state)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(10 * h_ps);
	struct pinmgr_pin_range r;
	struct pinmgr_stats st;
	uint32_t slot;
	int i;

	slot = h_pin(ctx, buf, h_ps, 0);
	for (i = 1; i <= 300; i++) {
		uint32_t flags = i % 2 ? PINMGR_PIN_WRITE : 0;
		char *next = buf + (i % 8) * h_ps + 10;

		r = range_of(next, 100 + (i % 3) * h_ps);
		r.out_handle = 0xdead;
		ASSERT_OK(pinmgr_update(ctx, &slot, 1, flags | REPLACE, &r, 1));
		ASSERT_EQ(r.out_handle, slot);
		ASSERT_EQ(r.out_offset, 10);
		ASSERT_EQ(r.out_npages, 1 + (i % 3 == 2 ? 2 : i % 3));
		assert_names(ctx, slot, next, 100 + (i % 3) * h_ps, flags);
		ASSERT_VMPIN_KB(PAGES_KB(r.out_npages));
	}
	stats(ctx, &st);
	ASSERT_EQ(st.out_regions, 1);
	ASSERT_EQ(st.out_pins, 301);
	ASSERT_EQ(st.out_unpins, 300);
	ASSERT_EQ(st.out_failed_pins, 0);
	ASSERT_EQ(st.out_peak_pages, 2 + 3);	/* old and new, for a moment */
	ASSERT_OK(pinmgr_unpin(ctx, slot));
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

/* Three slots given out of order: range i goes to handle i. */
CASE(replace_vec)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(8 * h_ps);
	uint32_t h[3], un[3];
	struct pinmgr_pin_range r[3];
	struct pinmgr_stats st;
	int i;

	for (i = 0; i < 3; i++)
		h[i] = h_pin(ctx, buf + i * h_ps, h_ps, 0);
	un[0] = h[2];
	un[1] = h[0];
	un[2] = h[1];
	for (i = 0; i < 3; i++)
		r[i] = range_of(buf + (4 + i) * h_ps, (i + 1) * 100);
	ASSERT_OK(pinmgr_update(ctx, un, 3, REPLACE, r, 3));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(r[i].out_handle, un[i]);
		ASSERT_EQ(r[i].out_npages, 1);
		assert_names(ctx, un[i], buf + (4 + i) * h_ps, (i + 1) * 100, 0);
	}
	stats(ctx, &st);
	ASSERT_EQ(st.out_regions, 3);
	ASSERT_EQ(st.out_pinned_pages, 3);
	ASSERT_EQ(st.out_pins, 6);
	ASSERT_EQ(st.out_unpins, 3);
	ASSERT_VMPIN_KB(PAGES_KB(3));
	ASSERT_OK(pinmgr_unpin_vec(ctx, h, 3));
	ASSERT_VMPIN_KB(0);
}

/* Replaced by the same pages: they stay pinned, same frames. */
CASE(replace_same_memory)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(2 * h_ps);
	struct pinmgr_pin_range r = range_of(buf, 2 * h_ps);
	uint32_t h = h_pin(ctx, buf, 2 * h_ps, PINMGR_PIN_WRITE);
	uint64_t pfn0 = h_pagemap_pfn(buf);

	ASSERT_OK(pinmgr_update(ctx, &h, 1, PINMGR_PIN_WRITE | REPLACE, &r, 1));
	ASSERT_EQ(h_pagemap_pfn(buf), pfn0);
	assert_held(ctx, h, 2);
	ASSERT_VMPIN_KB(PAGES_KB(2));
	ASSERT_OK(pinmgr_unpin(ctx, h));
	ASSERT_VMPIN_KB(0);
}

/* Not as many ranges as handles: EINVAL, nothing changes. */
CASE(replace_counts_differ)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	uint32_t h2 = h_pin(ctx, buf + h_ps, h_ps, 0);
	uint32_t un[2] = { h, h2 };
	struct pinmgr_pin_range r[2] = { range_of(buf + 2 * h_ps, h_ps),
					 range_of(buf + 3 * h_ps, h_ps) };

	ASSERT_ERR(pinmgr_update(ctx, un, 2, REPLACE, r, 1), EINVAL);
	ASSERT_ERR(pinmgr_update(ctx, un, 1, REPLACE, r, 2), EINVAL);
	ASSERT_ERR(pinmgr_update(ctx, NULL, 0, REPLACE, r, 2), EINVAL);
	ASSERT_ERR(pinmgr_update(ctx, un, 2, REPLACE, NULL, 0), EINVAL);
	ASSERT_ERR(pinmgr_update(ctx, un, 2, 1u << 17, r, 2), EINVAL);
	assert_unchanged(ctx, h, h2, 0);
}

/*
 * The ranges cannot be written back, or read, or the handles read:
 * EFAULT before anything is pinned (the out_ fields are known at once).
 */
CASE(replace_arrays_fault)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	uint32_t h2 = h_pin(ctx, buf + h_ps, h_ps, 0);
	struct pinmgr_pin_range *r = h_map(h_ps, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *gone = h_anon(h_ps);

	ASSERT_SYS(munmap(gone, h_ps));
	*r = range_of(buf + 2 * h_ps, h_ps);
	ASSERT_SYS(mprotect(r, h_ps, PROT_READ));
	ASSERT_ERR(pinmgr_update(ctx, &h, 1, REPLACE, r, 1), EFAULT);
	assert_unchanged(ctx, h, h2, 0);
	ASSERT_ERR(pinmgr_update(ctx, &h, 1, REPLACE, gone, 1), EFAULT);
	ASSERT_ERR(pinmgr_update(ctx, gone, 1, REPLACE, r, 1), EFAULT);
	assert_unchanged(ctx, h, h2, 0);
	assert_names(ctx, h, buf, h_ps, 0);
}

/*
 * One range across two pages, its addr and length in one and its out_
 * fields in the other, and either page read-only: EFAULT before anything
 * is pinned, whichever part cannot be written back (the whole range is,
 * as for several ranges). With both pages writable the replace works.
 */
CASE(replace_range_across_pages)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	uint32_t h2 = h_pin(ctx, buf + h_ps, h_ps, 0);
	char *pages = h_map(2 * h_ps, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pinmgr_pin_range *r = (void *)(pages + h_ps -
					      offsetof(struct pinmgr_pin_range,
						       out_handle));
	int ro;

	*r = range_of(buf + 2 * h_ps, h_ps);
	for (ro = 0; ro < 2; ro++) {
		ASSERT_SYS(mprotect(pages + ro * h_ps, h_ps, PROT_READ));
		ASSERT_ERR(pinmgr_update(ctx, &h, 1, REPLACE, r, 1), EFAULT);
		ASSERT_SYS(mprotect(pages + ro * h_ps, h_ps,
				    PROT_READ | PROT_WRITE));
		assert_unchanged(ctx, h, h2, 0);
		assert_names(ctx, h, buf, h_ps, 0);
	}
	ASSERT_OK(pinmgr_update(ctx, &h, 1, REPLACE, r, 1));
	ASSERT_EQ(r->out_handle, h);
	ASSERT_EQ(r->out_npages, 1);
	assert_names(ctx, h, buf + 2 * h_ps, h_ps, 0);
}

/*
 * One range across two pages, the second PROT_NONE: EFAULT, and the first
 * is not written either (the range is read whole before any of it is
 * written back): a MAP_PRIVATE file page stays the file's, not copied.
 */
CASE(replace_range_half_unreadable)
{
	const size_t off = h_ps - offsetof(struct pinmgr_pin_range, out_handle);
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	uint32_t h2 = h_pin(ctx, buf + h_ps, h_ps, 0);
	struct pinmgr_pin_range in = range_of(buf + 2 * h_ps, h_ps);
	int fd = h_keep_fd(memfd_create("range", MFD_CLOEXEC));
	char *pages;

	ASSERT_SYS(ftruncate(fd, 2 * h_ps));
	ASSERT_RET(pwrite(fd, &in, sizeof(in), off), (ssize_t)sizeof(in));
	pages = h_map(2 * h_ps, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_SYS(mprotect(pages + h_ps, h_ps, PROT_NONE));
	ASSERT_EQ(*(volatile uint64_t *)(pages + off), in.addr);
	ASSERT_MSG(h_pagemap_file(pages), "the range's first page is not the file's");
	ASSERT_ERR(pinmgr_update(ctx, &h, 1, REPLACE, (void *)(pages + off), 1),
		   EFAULT);
	ASSERT_MSG(h_pagemap_file(pages),
		   "the failing call wrote the first page (it is a private copy now)");
	assert_unchanged(ctx, h, h2, 0);
	assert_names(ctx, h, buf, h_ps, 0);
}

/*
 * Past the stack's few slots: 300 handles replaced at once, then a
 * handle listed twice among them fails the lot.
 */
CASE(replace_many)
{
	const unsigned int n = 300;
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(2 * n * h_ps);
	struct pinmgr_pin_range *r = h_malloc(n * sizeof(*r));
	uint32_t *h = h_malloc(n * sizeof(*h));
	struct pinmgr_stats st;
	unsigned int i;

	for (i = 0; i < n; i++)
		r[i] = range_of(buf + (size_t)i * h_ps, h_ps);
	ASSERT_OK(pinmgr_pin_vec(ctx, 0, r, n));
	for (i = 0; i < n; i++)
		h[i] = r[n - 1 - i].out_handle;
	for (i = 0; i < n; i++)
		r[i] = range_of(buf + (size_t)(n + i) * h_ps, h_ps);
	ASSERT_OK(pinmgr_update(ctx, h, n, REPLACE, r, n));
	for (i = 0; i < n; i++)
		ASSERT_EQ(r[i].out_handle, h[i]);
	assert_names(ctx, h[0], buf + (size_t)n * h_ps, h_ps, 0);
	assert_names(ctx, h[n - 1], buf + (size_t)(2 * n - 1) * h_ps, h_ps, 0);
	h[n - 1] = h[0];
	ASSERT_ERR(pinmgr_update(ctx, h, n, REPLACE, r, n), ENOENT);
	stats(ctx, &st);
	ASSERT_EQ(st.out_regions, n);
	ASSERT_EQ(st.out_pins, 2 * n);
	ASSERT_EQ(st.out_unpins, n);
	ASSERT_EQ(st.out_failed_pins, 0);
	ASSERT_VMPIN_KB(PAGES_KB(n));
	h_close(ctx);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

/* An exported region cannot be replaced: EBUSY, nothing changes. */
CASE(replace_exported)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, PINMGR_PIN_WRITE);
	uint32_t h2 = h_pin(ctx, buf + h_ps, h_ps, 0);
	uint32_t un[2] = { h2, h };
	struct pinmgr_pin_range r[2] = { range_of(buf + 2 * h_ps, h_ps),
					 range_of(buf + 3 * h_ps, h_ps) };
	struct pinmgr_info in;
	int fd;

	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	if (!(in.out_caps & PINMGR_CAP_EXPORT_DMABUF))
		h_skip("no dma-buf support in this kernel");
	fd = pinmgr_export_dmabuf(ctx, h, 0, h_ps, 0);
	ASSERT_MSG(fd >= 0, "export: %s", h_errname(-fd));
	ASSERT_ERR(pinmgr_update(ctx, un, 2, REPLACE, r, 2), EBUSY);
	assert_unchanged(ctx, h, h2, 0);
	ASSERT_SYS(close(fd));
	ASSERT_OK(pinmgr_update(ctx, un, 2, REPLACE, r, 2));
	assert_names(ctx, h, buf + 3 * h_ps, h_ps, 0);
	assert_names(ctx, h2, buf + 2 * h_ps, h_ps, 0);
}

/*
 * The old region's pending change record is dropped; a change of the new
 * region's mapping is queued under the same handle.
 */
CASE(replace_events)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	struct pinmgr_pin_range r = range_of(buf + 2 * h_ps, h_ps);
	struct pinmgr_info in;
	struct pinmgr_event ev[2];

	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	if (!(in.out_caps & PINMGR_CAP_EVENTS))
		h_skip("no divergence events on this file");
	ASSERT_SYS(fcntl(pinmgr_fd(ctx), F_SETFL, O_NONBLOCK));
	ASSERT_SYS(madvise(buf, h_ps, MADV_DONTNEED));
	ASSERT_OK(pinmgr_update(ctx, &h, 1, REPLACE, &r, 1));
	ASSERT_ERR(pinmgr_events_read(ctx, ev, 2), EAGAIN);
	/* The old range is not watched any more. */
	ASSERT_SYS(madvise(buf, h_ps, MADV_DONTNEED));
	ASSERT_ERR(pinmgr_events_read(ctx, ev, 2), EAGAIN);
	ASSERT_SYS(madvise(buf + 2 * h_ps, h_ps, MADV_DONTNEED));
	ASSERT_EQ(pinmgr_events_read(ctx, ev, 2), 1);
	ASSERT_EQ(ev[0].handle, h);
	ASSERT_EQ(ev[0].start, (uintptr_t)buf + 2 * h_ps);
}

static const struct h_case cases[] = {
	H_CASE(steady_state, "update: pin next + unpin last, 300 times: one region held, counters exact"),
	H_CASE(same_memory_stays_pinned, "update: unpin and pin the same pages: they stay pinned, same frames"),
	H_CASE(unpin_vec_many, "unpin_vec: 150 + 150 of 300 handles over 5 handle blocks; handles not reused"),
	H_CASE_ARG(bad_handle, &twice, "update: a handle listed twice -> ENOENT before any pin (pages not faulted in), nothing unpinned"),
	H_CASE_ARG(bad_handle, &unknown, "update: a handle never pinned -> ENOENT before any pin, nothing unpinned"),
	H_CASE_ARG(bad_handle, &zero, "update: handle 0 -> ENOENT before any pin, nothing unpinned"),
	H_CASE(own_new_handle, "update: the handle its own pin would get -> ENOENT, nothing pinned"),
	H_CASE(bad_range, "update: an unmapped, empty or wrapping range -> EFAULT/EINVAL/EOVERFLOW, nothing unpinned"),
	H_CASE(unpin_array_fault, "update: handle array unreadable -> EFAULT, nothing changes"),
	H_CASE(ranges_readonly, "update: results not writable -> EFAULT, pins undone, nothing unpinned"),
	H_CASE(ranges_unreadable_past_first_chunk, "update: ranges 6-7 of 8 unreadable -> EFAULT, the 4 pinned undone, nothing unpinned"),
	H_CASE(memlock_counts_both, "update at RLIMIT_MEMLOCK: new pin counts beside the old -> ENOMEM; with room ok"),
	H_CASE(max_regions_counts_both, "update at max_regions: new region counts beside the old -> ENOSPC; with room ok"),
	H_CASE(drops_pending_record, "unpin_vec drops the region's pending change record"),
	H_CASE(counts, "update: both counts 0 -> EINVAL; past PINMGR_PIN_VEC_MAX ranges or PINMGR_UNPIN_VEC_MAX handles -> E2BIG; bad array -> EFAULT"),
	H_CASE(lib_args, "pinmgr_update/pinmgr_unpin_vec: NULL ctx/arrays, counts 0 -> -EINVAL"),
	H_CASE(replace_info_cap, "replace: INFO reports PINMGR_CAP_UPDATE_REPLACE"),
	H_CASE(replace_steady_state, "replace: one slot names the next buffer, 300 times: handle kept, QUERY/VmPin/counters exact"),
	H_CASE(replace_vec, "replace: 3 handles out of order, range i takes handle i"),
	H_CASE(replace_same_memory, "replace by the same pages: they stay pinned, same frames"),
	H_CASE(replace_counts_differ, "replace: nr_pin != nr_unpin, or an unknown flag -> EINVAL, nothing changes"),
	H_CASE_ARG(bad_handle, &replace_twice, "replace: a handle listed twice -> ENOENT before any pin (pages not faulted in)"),
	H_CASE_ARG(bad_handle, &replace_unknown, "replace: a handle never pinned -> ENOENT before any pin"),
	H_CASE_ARG(bad_handle, &replace_zero, "replace: handle 0 -> ENOENT before any pin"),
	H_CASE_ARG(bad_range, &replace, "replace: an unmapped, empty or wrapping range -> EFAULT/EINVAL/EOVERFLOW, pins undone, handles keep their regions"),
	H_CASE(replace_range_across_pages, "replace: one range across two pages, either read-only -> EFAULT before any pin; both writable -> ok"),
	H_CASE(replace_range_half_unreadable, "replace: one range across two pages, the second PROT_NONE -> EFAULT, the first not written"),
	H_CASE(replace_arrays_fault, "replace: ranges not writable or unreadable, handles unreadable -> EFAULT before any pin"),
	H_CASE(replace_many, "replace: 300 handles at once (heap arrays); one listed twice -> ENOENT, nothing changes"),
	H_CASE(replace_exported, "replace of an exported region -> EBUSY, nothing changes; after the dma-buf's close ok"),
	H_CASE_ARG(memlock_counts_both, &replace, "replace at RLIMIT_MEMLOCK: new pin counts beside the old -> ENOMEM; with room ok"),
	H_CASE_ARG(max_regions_counts_both, &replace, "replace at max_regions: new region counts beside the old -> ENOSPC; with room ok"),
	H_CASE(replace_events, "replace drops the old region's record, stops watching its range; the new one's changes come under the handle"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
