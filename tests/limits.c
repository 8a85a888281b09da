// SPDX-License-Identifier: GPL-2.0
/*
 * The max_pages_per_pin (E2BIG) and max_regions (ENOSPC) limits: module
 * parameters, read when a file is opened. Every case lowers a parameter for
 * its own duration only (the harness restores it). And the bound on one
 * page's reference count (EOVERFLOW), which is not a parameter.
 */
#include <errno.h>
#include <string.h>

#include "harness.h"

static uint64_t initial_pages, initial_regions;

static void check_info(struct pinmgr_ctx *ctx, uint64_t pages,
		       uint64_t regions)
{
	struct pinmgr_info in;

	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	ASSERT_EQ(in.out_max_pages_per_pin, pages);
	ASSERT_EQ(in.out_max_regions, regions);
}

static void check_nothing_pinned(struct pinmgr_ctx *ctx, uint64_t regions,
				 uint64_t pages)
{
	struct pinmgr_stats st;

	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, regions);
	ASSERT_EQ(st.out_pinned_pages, pages);
	ASSERT_VMPIN_KB(PAGES_KB(pages));
}

CASE(params_readable)
{
	uint64_t v;

	ASSERT_OK(h_param_read("max_pages_per_pin", &v));
	ASSERT_EQ(v, initial_pages);
	ASSERT_OK(h_param_read("max_regions", &v));
	ASSERT_EQ(v, initial_regions);
	ASSERT_MSG(initial_pages >= 16 && initial_regions >= 8,
		   "default limits too low to test: %llu pages, %llu regions",
		   (unsigned long long)initial_pages,
		   (unsigned long long)initial_regions);
}

CASE(pages_limit_info)
{
	struct pinmgr_ctx *ctx;

	h_param_set_for_case("max_pages_per_pin", 8);
	ctx = h_open();
	check_info(ctx, 8, initial_regions);
}

CASE(pages_limit_at)
{
	struct pinmgr_ctx *ctx;
	char *buf = h_anon(16 * h_ps);

	h_param_set_for_case("max_pages_per_pin", 8);
	ctx = h_open();
	h_pin(ctx, buf, 8 * h_ps, 0);
	h_pin(ctx, buf + 100, 7 * h_ps, 0);	/* 8 pages, unaligned */
	check_nothing_pinned(ctx, 2, 16);
}

CASE(pages_limit_over)
{
	struct pinmgr_ctx *ctx;
	char *buf = h_anon(16 * h_ps);
	uint32_t h;

	h_param_set_for_case("max_pages_per_pin", 8);
	ctx = h_open();
	ASSERT_ERR(pinmgr_pin(ctx, buf, 9 * h_ps, 0, &h), E2BIG);
	check_nothing_pinned(ctx, 0, 0);
}

CASE(pages_limit_over_unaligned)
{
	struct pinmgr_ctx *ctx;
	char *buf = h_anon(16 * h_ps);
	uint32_t h;

	h_param_set_for_case("max_pages_per_pin", 8);
	ctx = h_open();
	/* 8 pages' worth of bytes, but touching 9 pages */
	ASSERT_ERR(pinmgr_pin(ctx, buf + 1, 8 * h_ps, 0, &h), E2BIG);
	check_nothing_pinned(ctx, 0, 0);
}

CASE(pages_limit_huge_len)
{
	struct pinmgr_ctx *ctx;
	char *buf = h_anon(h_ps);
	uint32_t h;

	h_param_set_for_case("max_pages_per_pin", 8);
	ctx = h_open();
	/* far beyond the limit and the mapping (but inside the user address
	 * space): the limit is checked before any page is pinned */
	ASSERT_ERR(pinmgr_pin(ctx, buf, 1ULL << 30, 0, &h), E2BIG);
	check_nothing_pinned(ctx, 0, 0);
}

CASE(pages_limit_at_open)
{
	struct pinmgr_ctx *before, *after;
	char *buf = h_anon(16 * h_ps);

	before = h_open();
	h_param_set_for_case("max_pages_per_pin", 4);
	after = h_open();
	check_info(before, initial_pages, initial_regions);
	check_info(after, 4, initial_regions);
	h_pin(before, buf, 5 * h_ps, 0);
	ASSERT_ERR(pinmgr_pin(after, buf, 5 * h_ps, 0, &(uint32_t){ 0 }), E2BIG);
	h_pin(after, buf, 4 * h_ps, 0);
}

CASE(regions_limit_info)
{
	struct pinmgr_ctx *ctx;

	h_param_set_for_case("max_regions", 4);
	ctx = h_open();
	check_info(ctx, initial_pages, 4);
}

CASE(regions_limit)
{
	struct pinmgr_ctx *ctx;
	char *buf = h_anon(8 * h_ps);
	uint32_t x;
	int i;

	h_param_set_for_case("max_regions", 4);
	ctx = h_open();
	for (i = 0; i < 4; i++)
		h_pin(ctx, buf + i * h_ps, h_ps, 0);
	ASSERT_ERR(pinmgr_pin(ctx, buf + 5 * h_ps, h_ps, 0, &x), ENOSPC);
	check_nothing_pinned(ctx, 4, 4);
}

CASE(regions_limit_after_unpin)
{
	struct pinmgr_ctx *ctx;
	char *buf = h_anon(8 * h_ps);
	uint32_t h[4], x;
	int i;

	h_param_set_for_case("max_regions", 4);
	ctx = h_open();
	for (i = 0; i < 4; i++)
		h[i] = h_pin(ctx, buf + i * h_ps, h_ps, 0);
	ASSERT_ERR(pinmgr_pin(ctx, buf, h_ps, 0, &x), ENOSPC);
	ASSERT_OK(pinmgr_unpin(ctx, h[2]));
	x = h_pin(ctx, buf + 6 * h_ps, 2 * h_ps, 0);
	ASSERT_MSG(x > h[3], "handle %u after %u", x, h[3]);
	ASSERT_ERR(pinmgr_pin(ctx, buf, h_ps, 0, &x), ENOSPC);
	check_nothing_pinned(ctx, 4, 5);
}

/*
 * Handles wrap around after U32_MAX and are then reused, skipping those
 * still in use: a busy long-running file must not run out of handles (at
 * a microsecond per PIN + UNPIN, 2^32 handles last about 70 minutes). The
 * test_first_handle parameter starts a file just below the end.
 */
CASE(handles_wrap)
{
	struct pinmgr_ctx *ctx;
	char *buf = h_anon(h_ps);
	struct pinmgr_query q;
	uint32_t held, h;
	int i;

	h_param_set_for_case("test_first_handle", UINT32_MAX - 2);
	ctx = h_open();
	held = h_pin(ctx, buf, h_ps, 0);
	ASSERT_EQ(held, UINT32_MAX - 2);
	ASSERT_EQ(h_pin(ctx, buf, h_ps, 0), UINT32_MAX - 1);
	ASSERT_OK(pinmgr_unpin(ctx, UINT32_MAX - 1));
	ASSERT_EQ(h_pin(ctx, buf, h_ps, 0), UINT32_MAX);
	ASSERT_OK(pinmgr_unpin(ctx, UINT32_MAX));
	/* Past the end: from 1 again; never 0. */
	for (i = 1; i <= 200; i++) {
		ASSERT_EQ(h = h_pin(ctx, buf, h_ps, 0), (uint32_t)i);
		ASSERT_OK(pinmgr_unpin(ctx, h));
	}
	ASSERT_OK(pinmgr_query(ctx, held, &q, sizeof(q)));
	ASSERT_EQ(q.out_addr, (uintptr_t)buf);
	ASSERT_OK(pinmgr_unpin(ctx, held));
	check_nothing_pinned(ctx, 0, 0);
}

CASE(regions_limit_at_open)
{
	struct pinmgr_ctx *before, *after;
	char *buf = h_anon(8 * h_ps);
	uint32_t x;
	int i;

	before = h_open();
	h_param_set_for_case("max_regions", 2);
	after = h_open();
	check_info(before, initial_pages, initial_regions);
	check_info(after, initial_pages, 2);
	for (i = 0; i < 3; i++)
		h_pin(before, buf, h_ps, 0);
	h_pin(after, buf, h_ps, 0);
	h_pin(after, buf, h_ps, 0);
	ASSERT_ERR(pinmgr_pin(after, buf, h_ps, 0, &x), ENOSPC);
}

CASE(regions_limit_per_file)
{
	struct pinmgr_ctx *a, *b;
	char *buf = h_anon(h_ps);

	h_param_set_for_case("max_regions", 1);
	a = h_open();
	b = h_open();
	h_pin(a, buf, h_ps, 0);
	h_pin(b, buf, h_ps, 0);
	ASSERT_ERR(pinmgr_pin(a, buf, h_ps, 0, &(uint32_t){ 0 }), ENOSPC);
	ASSERT_ERR(pinmgr_pin(b, buf, h_ps, 0, &(uint32_t){ 0 }), ENOSPC);
}

/*
 * One memfd page mapped at PAGE_ALIASES consecutive addresses: a PIN of
 * the range pins that page PAGE_ALIASES times, and each FOLL_PIN of a small
 * page adds 1024 to its reference count, 2^22 per region. Pinned again and
 * again, the count would pass INT_MAX at the 512th region, where GUP only
 * warns once it is negative. The module refuses to take it past INT_MAX / 2
 * = 2^30 - 1: 255 regions fit (255 * 2^22 plus the page's few references
 * of its own), the 256th fails with EOVERFLOW and leaves nothing pinned;
 * the kernel log stays clean.
 */
#define PAGE_ALIASES 4096

CASE(page_refcount_bound)
{
	size_t len = PAGE_ALIASES * h_ps;
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_stats st;
	int i, ret = 0;
	uint32_t h;
	char *base;

	h_case_timeout(300);
	base = h_memfd_aliases(h_ps, PAGE_ALIASES);
	base[0] = 42;
	ASSERT_EQ(base[len - h_ps], 42);
	for (i = 0; i < 300; i++) {
		ret = pinmgr_pin(ctx, base, len, PINMGR_PIN_WRITE, &h);
		if (ret)
			break;
	}
	h_diag("%d regions of %d aliases of one page pinned, then %s", i,
	       PAGE_ALIASES, ret ? h_errname(-ret) : "no failure");
	ASSERT_ERR(ret, EOVERFLOW);
	ASSERT_EQ(i, 255);
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 255);
	ASSERT_EQ(st.out_pinned_pages, 255ULL * PAGE_ALIASES);
	h_close(ctx);
	ASSERT_EQ(base[0], 42);
	h_assert_pins_balanced();
}

CASE(params_restored)
{
	uint64_t v;

	ASSERT_OK(h_param_read("max_pages_per_pin", &v));
	ASSERT_EQ(v, initial_pages);
	ASSERT_OK(h_param_read("max_regions", &v));
	ASSERT_EQ(v, initial_regions);
}

static const struct h_case cases[] = {
	H_CASE(params_readable, "parameters max_pages_per_pin and max_regions readable"),
	H_CASE(pages_limit_info, "max_pages_per_pin=8: INFO reports 8 on a new file"),
	H_CASE(pages_limit_at, "max_pages_per_pin=8: pins of 8 pages (aligned, unaligned) -> ok"),
	H_CASE(pages_limit_over, "max_pages_per_pin=8: pin 9 pages -> E2BIG, nothing pinned"),
	H_CASE(pages_limit_over_unaligned, "max_pages_per_pin=8: 8 pages of bytes touching 9 pages -> E2BIG"),
	H_CASE(pages_limit_huge_len, "max_pages_per_pin=8: pin 1 GiB (mostly unmapped) -> E2BIG"),
	H_CASE(pages_limit_at_open, "max_pages_per_pin is read at open: an older file keeps its limit"),
	H_CASE(regions_limit_info, "max_regions=4: INFO reports 4 on a new file"),
	H_CASE(regions_limit, "max_regions=4: 4 pins ok, 5th -> ENOSPC, nothing more pinned"),
	H_CASE(regions_limit_after_unpin, "max_regions=4: after an unpin one more pin fits, then ENOSPC"),
	H_CASE(regions_limit_at_open, "max_regions is read at open: an older file keeps its limit"),
	H_CASE(regions_limit_per_file, "max_regions=1 applies to each file separately"),
	H_CASE(handles_wrap, "handles past U32_MAX start again at 1 (never 0), the one held stays valid"),
	H_CASE(page_refcount_bound, "one page at 4096 addresses pinned region after region: the 256th (its count past 2^30) -> EOVERFLOW, nothing of it pinned, no GUP warning"),
	H_CASE(params_restored, "parameters are back to their initial values"),
};

int main(void)
{
	if (h_param_read("max_pages_per_pin", &initial_pages) ||
	    h_param_read("max_regions", &initial_regions))
		initial_pages = initial_regions = 0;	/* cases will fail */
	return h_main(cases, ARRAY_SIZE(cases));
}
