// SPDX-License-Identifier: GPL-2.0
/*
 * PIN_VEC: many ranges pinned in one call, one handle each, all or nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "harness.h"

/* After a failed PIN_VEC nothing of it may stay pinned. */
static void assert_nothing_pinned(struct pinmgr_ctx *ctx)
{
	struct pinmgr_stats st;

	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 0);
	ASSERT_EQ(st.out_pinned_pages, 0);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

static void free_ranges(void *p, size_t n)
{
	(void)n;
	free(p);
}

static struct pinmgr_pin_range *ranges_new(unsigned int n)
{
	struct pinmgr_pin_range *r = calloc(n, sizeof(*r));

	ASSERT_MSG(r, "out of memory");
	h_defer(free_ranges, r, 0);
	return r;
}

CASE(vec_round_trip)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(32 * h_ps);
	struct pinmgr_pin_range r[3] = {
		{ .addr = (uintptr_t)buf, .length = h_ps },
		{ .addr = (uintptr_t)buf + 2 * h_ps + 100, .length = 3 * h_ps },
		{ .addr = (uintptr_t)buf + 10 * h_ps, .length = 16 * h_ps },
	};
	const uint64_t npages[3] = { 1, 4, 16 };
	struct pinmgr_query q;
	int i;

	ASSERT_OK(pinmgr_pin_vec(ctx, PINMGR_PIN_WRITE, r, 3));
	for (i = 0; i < 3; i++) {
		ASSERT_MSG(r[i].out_handle != 0, "range %d: handle 0", i);
		ASSERT_EQ(r[i].out_npages, npages[i]);
		ASSERT_EQ(r[i].out_offset, r[i].addr % h_ps);
		ASSERT_OK(pinmgr_query(ctx, r[i].out_handle, &q, sizeof(q)));
		ASSERT_EQ(q.out_addr, r[i].addr);
		ASSERT_EQ(q.out_length, r[i].length);
		ASSERT_EQ(q.out_npages, npages[i]);
		ASSERT_EQ(q.out_flags, PINMGR_PIN_WRITE);
	}
	ASSERT_MSG(r[0].out_handle < r[1].out_handle &&
		   r[1].out_handle < r[2].out_handle,
		   "handles not increasing: %u %u %u", r[0].out_handle,
		   r[1].out_handle, r[2].out_handle);
	ASSERT_VMPIN_KB(PAGES_KB(21));
	for (i = 0; i < 3; i++)
		ASSERT_OK(pinmgr_unpin(ctx, r[i].out_handle));
	ASSERT_VMPIN_KB(0);
}

CASE(vec_many)
{
	const unsigned int n = 2000;
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(n * h_ps);
	struct pinmgr_pin_range *r = ranges_new(n);
	struct pinmgr_stats st;
	unsigned int i;

	for (i = 0; i < n; i++) {
		r[i].addr = (uintptr_t)buf + (uint64_t)i * h_ps;
		r[i].length = h_ps;
	}
	ASSERT_OK(pinmgr_pin_vec(ctx, 0, r, n));
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, n);
	ASSERT_EQ(st.out_pinned_pages, n);
	for (i = 1; i < n; i++)
		ASSERT_MSG(r[i].out_handle > r[i - 1].out_handle,
			   "handle %u not above %u", r[i].out_handle,
			   r[i - 1].out_handle);
	/* Closing the file releases all of them. */
	h_close(ctx);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

CASE(vec_bad_range_in_the_middle)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(64 * h_ps);
	char *hole = h_anon(4 * h_ps);
	struct pinmgr_pin_range *r = ranges_new(40);
	unsigned int i;

	ASSERT_SYS(munmap(hole, 4 * h_ps));
	for (i = 0; i < 40; i++) {
		r[i].addr = (uintptr_t)buf + i * h_ps;
		r[i].length = h_ps;
	}
	r[33].addr = (uintptr_t)hole;	/* past the first chunks the module reads */
	ASSERT_ERR(pinmgr_pin_vec(ctx, PINMGR_PIN_WRITE, r, 40), EFAULT);
	assert_nothing_pinned(ctx);
}

CASE(vec_zero_length_range)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	struct pinmgr_pin_range r[2] = {
		{ .addr = (uintptr_t)buf, .length = h_ps },
		{ .addr = (uintptr_t)buf + h_ps, .length = 0 },
	};

	ASSERT_ERR(pinmgr_pin_vec(ctx, 0, r, 2), EINVAL);
	assert_nothing_pinned(ctx);
}

CASE(vec_max_regions)
{
	struct pinmgr_ctx *ctx;
	char *buf = h_anon(8 * h_ps);
	struct pinmgr_pin_range r[6];
	unsigned int i;

	h_param_set_for_case("max_regions", 5);
	ctx = h_open();
	for (i = 0; i < 6; i++) {
		r[i].addr = (uintptr_t)buf + i * h_ps;
		r[i].length = h_ps;
	}
	ASSERT_ERR(pinmgr_pin_vec(ctx, 0, r, 6), ENOSPC);
	assert_nothing_pinned(ctx);
	ASSERT_OK(pinmgr_pin_vec(ctx, 0, r, 5));
}

CASE(vec_ranges_readonly)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	struct pinmgr_pin_range *r = h_map(h_ps, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	r[0].addr = (uintptr_t)buf;
	r[0].length = 2 * h_ps;
	ASSERT_SYS(mprotect(r, h_ps, PROT_READ));
	/* The pins succeed, writing the results back fails: undone. */
	ASSERT_ERR(pinmgr_pin_vec(ctx, 0, r, 1), EFAULT);
	assert_nothing_pinned(ctx);
}

/*
 * Eight ranges, the last two on a page of @prot: the module reads and
 * writes them in chunks, so the first chunk is pinned (and, for a page it
 * can read, the second too) before the copy fails.
 */
static void vec_guarded_array(int prot, uint64_t failed)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(8 * h_ps);
	char *two = h_map(2 * h_ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pinmgr_pin_range *r = (struct pinmgr_pin_range *)(two + h_ps) - 6;
	struct pinmgr_stats st;
	unsigned int i;

	for (i = 0; i < 8; i++) {
		r[i].addr = (uintptr_t)buf + i * h_ps;
		r[i].length = h_ps;
	}
	ASSERT_SYS(mprotect(two + h_ps, h_ps, prot));
	ASSERT_ERR(pinmgr_pin_vec(ctx, PINMGR_PIN_WRITE, r, 8), EFAULT);
	assert_nothing_pinned(ctx);
	/* Each range pinned and undone counts as a failed pin. */
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_pins, 0);
	ASSERT_EQ(st.out_failed_pins, failed);
}

CASE(vec_array_unreadable_past_first_chunk)
{
	vec_guarded_array(PROT_NONE, 4);
}

CASE(vec_array_readonly_past_first_chunk)
{
	vec_guarded_array(PROT_READ, 8);
}

CASE(vec_ranges_null)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_pin_vec v = { .size = sizeof(v), .count = 1 };

	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_PIN_VEC, &v), EFAULT);
	assert_nothing_pinned(ctx);
}

CASE(vec_count_zero)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_pin_range r = { .addr = (uintptr_t)h_anon(h_ps),
				      .length = h_ps };
	struct pinmgr_pin_vec v = { .size = sizeof(v), .count = 0,
				    .ranges = (uintptr_t)&r };

	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_PIN_VEC, &v), EINVAL);
}

CASE(vec_count_too_big)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_pin_range r = { .addr = (uintptr_t)h_anon(h_ps),
				      .length = h_ps };
	struct pinmgr_pin_vec v = { .size = sizeof(v),
				    .count = PINMGR_PIN_VEC_MAX + 1,
				    .ranges = (uintptr_t)&r };

	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_PIN_VEC, &v), E2BIG);
	assert_nothing_pinned(ctx);
}

CASE(vec_unknown_flags)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_pin_range r = { .addr = (uintptr_t)h_anon(h_ps),
				      .length = h_ps };
	unsigned int bit;

	/* Past PINMGR_PIN_WRITE and PINMGR_PIN_NO_EVENTS. */
	for (bit = 2; bit < 32; bit++)
		ASSERT_ERR(pinmgr_pin_vec(ctx, 1u << bit, &r, 1), EINVAL);
	assert_nothing_pinned(ctx);
}

CASE(vec_reserved)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_pin_range r = { .addr = (uintptr_t)h_anon(h_ps),
				      .length = h_ps };
	struct pinmgr_pin_vec v = { .size = sizeof(v), .count = 1,
				    .__reserved = 1,
				    .ranges = (uintptr_t)&r };

	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_PIN_VEC, &v), EINVAL);
	assert_nothing_pinned(ctx);
}

CASE(vec_lib_args)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_pin_range r = { 0 };

	ASSERT_ERR(pinmgr_pin_vec(NULL, 0, &r, 1), EINVAL);
	ASSERT_ERR(pinmgr_pin_vec(ctx, 0, NULL, 1), EINVAL);
	ASSERT_ERR(pinmgr_pin_vec(ctx, 0, &r, 0), EINVAL);
}

static const struct h_case cases[] = {
	H_CASE(vec_round_trip, "pin_vec 3 ranges: handles, npages, offsets, QUERY agree"),
	H_CASE(vec_many, "pin_vec 2000 x 4 KiB: 2000 regions, close releases all"),
	H_CASE(vec_bad_range_in_the_middle, "pin_vec unmapped range 33 of 40 -> EFAULT, nothing pinned"),
	H_CASE(vec_zero_length_range, "pin_vec a zero-length range -> EINVAL, nothing pinned"),
	H_CASE(vec_max_regions, "pin_vec past max_regions -> ENOSPC, nothing pinned"),
	H_CASE(vec_ranges_readonly, "pin_vec results not writable -> EFAULT, pins undone"),
	H_CASE(vec_array_unreadable_past_first_chunk, "pin_vec ranges 6-7 unreadable -> EFAULT, the 4 pinned undone"),
	H_CASE(vec_array_readonly_past_first_chunk, "pin_vec ranges 6-7 read-only -> EFAULT, all 8 pinned undone"),
	H_CASE(vec_ranges_null, "pin_vec ranges NULL -> EFAULT"),
	H_CASE(vec_count_zero, "pin_vec count 0 -> EINVAL"),
	H_CASE(vec_count_too_big, "pin_vec count PINMGR_PIN_VEC_MAX+1 -> E2BIG"),
	H_CASE(vec_unknown_flags, "pin_vec each unknown flag bit -> EINVAL"),
	H_CASE(vec_reserved, "pin_vec __reserved != 0 -> EINVAL"),
	H_CASE(vec_lib_args, "pinmgr_pin_vec NULL ctx/ranges, count 0 -> -EINVAL"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
