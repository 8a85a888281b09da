// SPDX-License-Identifier: GPL-2.0
/*
 * STATS: the per-file counters after pins, unpins and failures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "harness.h"

struct want {
	uint64_t regions, pinned, peak, pins, unpins;
};

static void check_stats(struct pinmgr_ctx *ctx, const struct want *w)
{
	struct pinmgr_stats st;

	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, w->regions);
	ASSERT_EQ(st.out_pinned_pages, w->pinned);
	ASSERT_EQ(st.out_peak_pages, w->peak);
	ASSERT_EQ(st.out_pins, w->pins);
	ASSERT_EQ(st.out_unpins, w->unpins);
}

CASE(stats_fresh)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_stats st;

	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 0);
	ASSERT_EQ(st.out_pinned_pages, 0);
	ASSERT_EQ(st.out_peak_pages, 0);
	ASSERT_EQ(st.out_pins, 0);
	ASSERT_EQ(st.out_unpins, 0);
	ASSERT_EQ(st.out_failed_pins, 0);
}

CASE(stats_after_pins)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(16 * h_ps);

	h_pin(ctx, buf, 3 * h_ps, 0);
	check_stats(ctx, &(struct want){ 1, 3, 3, 1, 0 });
	h_pin(ctx, buf + 4 * h_ps + 1, 4 * h_ps, PINMGR_PIN_WRITE); /* 5 */
	check_stats(ctx, &(struct want){ 2, 8, 8, 2, 0 });
}

CASE(stats_after_unpin)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(16 * h_ps);
	uint32_t a = h_pin(ctx, buf, 3 * h_ps, 0);
	uint32_t b = h_pin(ctx, buf + 3 * h_ps, 5 * h_ps, 0);

	ASSERT_OK(pinmgr_unpin(ctx, a));
	check_stats(ctx, &(struct want){ 1, 5, 8, 2, 1 });
	ASSERT_OK(pinmgr_unpin(ctx, b));
	check_stats(ctx, &(struct want){ 0, 0, 8, 2, 2 });
}

CASE(stats_peak)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(16 * h_ps);
	uint32_t a = h_pin(ctx, buf, 10 * h_ps, 0);

	ASSERT_OK(pinmgr_unpin(ctx, a));
	h_pin(ctx, buf, 2 * h_ps, 0);
	check_stats(ctx, &(struct want){ 1, 2, 10, 2, 1 });
}

CASE(stats_failed_unpin_not_counted)
{
	struct pinmgr_ctx *ctx = h_open();
	uint32_t a = h_pin(ctx, h_anon(h_ps), h_ps, 0);

	ASSERT_ERR(pinmgr_unpin(ctx, a + 100), ENOENT);
	ASSERT_OK(pinmgr_unpin(ctx, a));
	ASSERT_ERR(pinmgr_unpin(ctx, a), ENOENT);
	check_stats(ctx, &(struct want){ 0, 0, 1, 1, 1 });
}

CASE(stats_failed_pin_counted)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_map(2 * h_ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	struct pinmgr_stats st0, st1;
	uint32_t h;

	ASSERT_OK(pinmgr_stats(ctx, &st0, sizeof(st0)));
	ASSERT_ERR(pinmgr_pin(ctx, buf, 2 * h_ps, 0, &h), EFAULT);
	ASSERT_OK(pinmgr_stats(ctx, &st1, sizeof(st1)));
	ASSERT_EQ(st1.out_failed_pins, st0.out_failed_pins + 1);
	ASSERT_EQ(st1.out_pins, st0.out_pins);
	ASSERT_EQ(st1.out_regions, 0);
	ASSERT_EQ(st1.out_pinned_pages, 0);
	ASSERT_EQ(st1.out_peak_pages, 0);
	/* a hole after pinnable pages: still nothing pinned, failed +1 */
	buf = h_anon(4 * h_ps);
	ASSERT_SYS(munmap(buf + 3 * h_ps, h_ps));
	ASSERT_ERR(pinmgr_pin(ctx, buf, 4 * h_ps, 0, &h), EFAULT);
	ASSERT_OK(pinmgr_stats(ctx, &st0, sizeof(st0)));
	ASSERT_EQ(st0.out_failed_pins, st1.out_failed_pins + 1);
	ASSERT_EQ(st0.out_peak_pages, 0);
}

CASE(stats_per_file)
{
	struct pinmgr_ctx *a = h_open(), *b = h_open();
	char *buf = h_anon(4 * h_ps);

	h_pin(a, buf, 4 * h_ps, 0);
	check_stats(a, &(struct want){ 1, 4, 4, 1, 0 });
	check_stats(b, &(struct want){ 0, 0, 0, 0, 0 });
}

CASE(stats_reset_on_reopen)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);

	h_pin(ctx, buf, 4 * h_ps, 0);
	h_close(ctx);
	ctx = h_open();
	check_stats(ctx, &(struct want){ 0, 0, 0, 0, 0 });
}

CASE(stats_match_query_sum)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(64 * h_ps);
	struct pinmgr_stats st;
	struct pinmgr_query q;
	uint32_t h[8];
	uint64_t sum = 0;
	int i;

	for (i = 0; i < 8; i++)
		h[i] = h_pin(ctx, buf + i * 7 * h_ps + i, (i + 1) * h_ps, 0);
	for (i = 0; i < 8; i++) {
		ASSERT_OK(pinmgr_query(ctx, h[i], &q, sizeof(q)));
		sum += q.out_npages;
	}
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_pinned_pages, sum);
	ASSERT_EQ(st.out_regions, 8);
	ASSERT_VMPIN_KB(PAGES_KB(sum));
}

/* One counter of /sys/class/misc/pinmgr/stats/. */
static long long sys_stat(const char *name)
{
	char path[128], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/misc/pinmgr/stats/%s", name);
	f = fopen(path, "r");
	ASSERT_MSG(f, "cannot open %s", path);
	ASSERT_MSG(fgets(buf, sizeof(buf), f), "cannot read %s", path);
	fclose(f);
	return atoll(buf);
}

CASE(stats_metadata_bytes)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(64 * h_ps);
	struct pinmgr_stats st;
	struct pinmgr_query q;
	uint32_t a;

	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_metadata_bytes, 0);
	a = h_pin(ctx, buf, 64 * h_ps, PINMGR_PIN_WRITE);
	ASSERT_OK(pinmgr_query(ctx, a, &q, sizeof(q)));
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	/* At least one run per segment, and a bounded cost per run. */
	ASSERT_MSG(st.out_metadata_bytes >= q.out_nsegs * 8 &&
		   st.out_metadata_bytes <= 256 + q.out_nsegs * 32,
		   "metadata %llu bytes for %llu segments",
		   (unsigned long long)st.out_metadata_bytes,
		   (unsigned long long)q.out_nsegs);
	ASSERT_OK(pinmgr_unpin(ctx, a));
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_metadata_bytes, 0);
}

/*
 * A one-page pin's tracking is one region, and a region must stay within
 * the kernel's 256-byte kmalloc objects: a byte more takes a 512-byte one,
 * which doubled the slab memory (and its zeroing) of a 10k-range PIN_VEC.
 */
CASE(stats_small_region_fits_256)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(h_ps);
	struct pinmgr_stats st;
	uint32_t a;

	a = h_pin(ctx, buf, h_ps, PINMGR_PIN_WRITE);
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_MSG(st.out_metadata_bytes > 0 && st.out_metadata_bytes <= 256,
		   "a one-page region takes %llu bytes",
		   (unsigned long long)st.out_metadata_bytes);
	ASSERT_OK(pinmgr_unpin(ctx, a));
}

CASE(stats_global_sysfs)
{
	long long files = sys_stat("open_files");
	long long regions = sys_stat("regions");
	long long pages = sys_stat("pinned_pages");
	long long pins = sys_stat("pins");
	long long unpins = sys_stat("unpins");
	long long failed = sys_stat("failed_pins");
	struct pinmgr_ctx *a = h_open(), *b = h_open();
	char *buf = h_anon(16 * h_ps);
	uint32_t ha, hb;

	ASSERT_EQ(sys_stat("open_files"), files + 2);
	ha = h_pin(a, buf, 3 * h_ps, 0);
	hb = h_pin(b, buf, 5 * h_ps, PINMGR_PIN_WRITE);
	ASSERT_EQ(sys_stat("regions"), regions + 2);
	ASSERT_EQ(sys_stat("pinned_pages"), pages + 8);
	ASSERT_EQ(sys_stat("pins"), pins + 2);
	ASSERT_MSG(sys_stat("peak_pages") >= pages + 8, "peak below current");
	ASSERT_MSG(sys_stat("metadata_bytes") > 0, "no metadata counted");
	ASSERT_ERR(pinmgr_pin(a, NULL, h_ps, 0, &hb), EFAULT);
	ASSERT_EQ(sys_stat("failed_pins"), failed + 1);
	ASSERT_OK(pinmgr_unpin(a, ha));
	ASSERT_EQ(sys_stat("unpins"), unpins + 1);
	ASSERT_EQ(sys_stat("pinned_pages"), pages + 5);
	/* Closing with a region held takes it out of the totals too. */
	h_close(b);
	ASSERT_EQ(sys_stat("regions"), regions);
	ASSERT_EQ(sys_stat("pinned_pages"), pages);
	ASSERT_EQ(sys_stat("open_files"), files + 1);
}

static const struct h_case cases[] = {
	H_CASE(stats_fresh, "stats of a fresh file are all 0"),
	H_CASE(stats_after_pins, "stats after 2 pins: regions, pages, peak, pins"),
	H_CASE(stats_after_unpin, "stats after unpins: regions/pages drop, peak stays, unpins count"),
	H_CASE(stats_peak, "stats peak_pages keeps the high-water mark"),
	H_CASE(stats_failed_unpin_not_counted, "stats unpins counts only successful UNPINs"),
	H_CASE(stats_failed_pin_counted, "stats failed_pins +1 on each EFAULT pin, nothing else changes"),
	H_CASE(stats_per_file, "stats are per file"),
	H_CASE(stats_reset_on_reopen, "stats start from 0 on a new file"),
	H_CASE(stats_match_query_sum, "stats pinned_pages == sum of QUERY npages == VmPin"),
	H_CASE(stats_metadata_bytes, "stats metadata_bytes counts runs while pinned, 0 after unpin"),
	H_CASE(stats_small_region_fits_256,
	       "stats a one-page pin's region takes at most 256 bytes"),
	H_CASE(stats_global_sysfs, "global totals in /sys/class/misc/pinmgr/stats follow every file"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
