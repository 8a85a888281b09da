// SPDX-License-Identifier: GPL-2.0
/*
 * PINMGR_SEGMENTS_PHYS and PINMGR_CAP_PHYS: physical addresses only for a
 * file opened with CAP_SYS_ADMIN. The unprivileged side runs in children
 * that drop CAP_SYS_ADMIN with capset() (still uid 0, so the 0600 device
 * node can be opened).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"

#define NPAGES 32

static void check_phys_segments(struct pinmgr_ctx *ctx, uint32_t h,
				const void *addr, uint64_t len)
{
	struct pinmgr_segment *got, *want;
	size_t n, m, i;

	m = h_expected_segments(addr, len, &want);
	n = h_read_segments(ctx, h, PINMGR_SEGMENTS_PHYS, 4, &got);
	ASSERT_EQ(n, m);
	for (i = 0; i < n; i++) {
		ASSERT_MSG(got[i].phys && got[i].phys % h_ps == 0,
			   "segment %zu: phys 0x%llx is 0 or not page aligned",
			   i, (unsigned long long)got[i].phys);
		ASSERT_EQ(got[i].offset, want[i].offset);
		ASSERT_EQ(got[i].length, want[i].length);
		ASSERT_EQ(got[i].phys, want[i].phys);
	}
}

CASE(root_has_cap_phys)
{
	struct pinmgr_info in;

	ASSERT(h_cap_has(CAP_SYS_ADMIN));
	ASSERT_OK(pinmgr_info(h_open(), &in, sizeof(in)));
	ASSERT_EQ(in.out_caps & PINMGR_CAP_PHYS, PINMGR_CAP_PHYS);
}

CASE(root_phys_nonzero_aligned)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, buf, NPAGES * h_ps, 0);
	struct pinmgr_segment *segs;
	size_t n, i;

	n = h_read_segments(ctx, h, PINMGR_SEGMENTS_PHYS, 1000, &segs);
	h_check_segments_cover(segs, n, NPAGES);
	for (i = 0; i < n; i++)
		ASSERT_MSG(segs[i].phys && segs[i].phys % h_ps == 0,
			   "segment %zu: phys 0x%llx is 0 or not page aligned",
			   i, (unsigned long long)segs[i].phys);
}

CASE(root_phys_matches_pagemap)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(NPAGES * h_ps + h_ps);
	uint32_t h = h_pin(ctx, buf + 123, NPAGES * h_ps,
			   PINMGR_PIN_WRITE);

	check_phys_segments(ctx, h, buf + 123, NPAGES * h_ps);
}

/* Untouched memory read-pinned maps the shared zero page everywhere:
 * one page-sized segment per page, all with the same phys. */
CASE(root_phys_zero_page)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon_untouched(8 * h_ps);
	uint32_t h = h_pin(ctx, buf, 8 * h_ps, 0);

	check_phys_segments(ctx, h, buf, 8 * h_ps);
}

CASE(root_no_phys_flag_zero)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, buf, NPAGES * h_ps, 0);
	struct pinmgr_segment *segs;
	size_t n, i;

	n = h_read_segments(ctx, h, 0, 1000, &segs);
	for (i = 0; i < n; i++)
		ASSERT_EQ(segs[i].phys, 0);
}

static void run(void (*fn)(void *))
{
	h_child_wait(h_child_start(fn, NULL));
}

static void child_no_cap_info(void *arg)
{
	struct pinmgr_info in;

	(void)arg;
	h_cap_drop(CAP_SYS_ADMIN);
	ASSERT_OK(pinmgr_info(h_open(), &in, sizeof(in)));
	ASSERT_EQ(in.out_caps & PINMGR_CAP_PHYS, 0);
}

CASE(no_cap_info)
{
	run(child_no_cap_info);
}

static void child_no_cap_phys_eperm(void *arg)
{
	struct pinmgr_ctx *ctx;
	struct pinmgr_segment segs[4];
	char *buf = h_anon(4 * h_ps);
	uint32_t h;

	(void)arg;
	h_cap_drop(CAP_SYS_ADMIN);
	ctx = h_open();
	h = h_pin(ctx, buf, 4 * h_ps, 0);
	memset(segs, 0xa5, sizeof(segs));
	ASSERT_ERR(pinmgr_segments(ctx, h, PINMGR_SEGMENTS_PHYS, 0, segs, 4),
		   EPERM);
	ASSERT_EQ(segs[0].phys, 0xa5a5a5a5a5a5a5a5ULL);
}

CASE(no_cap_phys_eperm)
{
	run(child_no_cap_phys_eperm);
}

static void child_no_cap_plain_ok(void *arg)
{
	struct pinmgr_ctx *ctx;
	struct pinmgr_segment *segs;
	struct pinmgr_query q;
	char *buf = h_anon(4 * h_ps);
	size_t n, i;
	uint32_t h;

	(void)arg;
	h_cap_drop(CAP_SYS_ADMIN);
	ctx = h_open();
	h = h_pin(ctx, buf + 1, 3 * h_ps, PINMGR_PIN_WRITE);
	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));
	ASSERT_EQ(q.out_npages, 4);
	n = h_read_segments(ctx, h, 0, 2, &segs);
	h_check_segments_cover(segs, n, 4);
	for (i = 0; i < n; i++)
		ASSERT_EQ(segs[i].phys, 0);
	ASSERT_OK(pinmgr_unpin(ctx, h));
}

/* @hps bytes at an @hps boundary, MADV_HUGEPAGE, written (skip if refused). */
static char *thp_buffer(size_t hps)
{
	char *map = h_map(2 * hps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf = (char *)(((uintptr_t)map + hps - 1) & ~(hps - 1));

	if (madvise(buf, hps, MADV_HUGEPAGE))
		h_skip("MADV_HUGEPAGE: %s", h_errname(errno));
	memset(buf, 1, hps);
	return buf;
}

/*
 * Without CAP_SYS_ADMIN a file does not learn which pages are physically
 * contiguous (/proc/PID/pagemap hides that from such users too): QUERY and
 * SEGMENTS show one segment per page, even for a transparent huge page
 * whose 512 pages a privileged file sees as one run.
 */
static void child_no_cap_no_contiguity(void *arg)
{
	const size_t hps = 2UL << 20;
	struct pinmgr_ctx *priv, *unpriv;
	struct pinmgr_segment *segs;
	struct pinmgr_query q;
	size_t n, i;
	char *buf;
	uint32_t h;

	(void)arg;
	buf = thp_buffer(hps);
	priv = h_open();
	h = h_pin(priv, buf, hps, 0);
	ASSERT_OK(pinmgr_query(priv, h, &q, sizeof(q)));
	if (q.out_nsegs == hps / h_ps)
		h_skip("no physically contiguous pages (no THP here)");

	h_cap_drop(CAP_SYS_ADMIN);
	unpriv = h_open();
	h = h_pin(unpriv, buf, hps, 0);
	ASSERT_OK(pinmgr_query(unpriv, h, &q, sizeof(q)));
	ASSERT_EQ(q.out_nsegs, hps / h_ps);
	n = h_read_segments(unpriv, h, 0, 64, &segs);
	ASSERT_EQ(n, hps / h_ps);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(segs[i].offset, i * h_ps);
		ASSERT_EQ(segs[i].length, h_ps);
		ASSERT_EQ(segs[i].phys, 0);
	}
}

CASE(no_cap_no_contiguity)
{
	run(child_no_cap_no_contiguity);
}

CASE(no_cap_plain_ok)
{
	run(child_no_cap_plain_ok);
}

/* The right is the file's, taken at open: dropping the capability later
 * does not take it away. */
static void child_dropped_after_open(void *arg)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(8 * h_ps);
	struct pinmgr_segment *segs;
	struct pinmgr_info in;
	size_t n, i;
	uint32_t h;

	(void)arg;
	h_cap_drop(CAP_SYS_ADMIN);
	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	ASSERT_EQ(in.out_caps & PINMGR_CAP_PHYS, PINMGR_CAP_PHYS);
	h = h_pin(ctx, buf, 8 * h_ps, 0);
	n = h_read_segments(ctx, h, PINMGR_SEGMENTS_PHYS, 8, &segs);
	for (i = 0; i < n; i++)
		ASSERT_NE(segs[i].phys, 0);
}

CASE(dropped_after_open)
{
	run(child_dropped_after_open);
}

/* ...and a file opened without it stays without it. */
static void child_opened_without(void *arg)
{
	struct pinmgr_ctx *without, *with;
	char *buf = h_anon(h_ps);
	struct pinmgr_segment seg;
	struct pinmgr_info in;
	uint32_t h1, h2;

	(void)arg;
	with = h_open();
	h_cap_drop(CAP_SYS_ADMIN);
	without = h_open();
	h1 = h_pin(with, buf, h_ps, 0);
	h2 = h_pin(without, buf, h_ps, 0);
	ASSERT_RET(pinmgr_segments(with, h1, PINMGR_SEGMENTS_PHYS, 0, &seg, 1), 1);
	ASSERT_ERR(pinmgr_segments(without, h2, PINMGR_SEGMENTS_PHYS, 0, &seg, 1),
		   EPERM);
	ASSERT_OK(pinmgr_info(without, &in, sizeof(in)));
	ASSERT_EQ(in.out_caps & PINMGR_CAP_PHYS, 0);
}

CASE(opened_without)
{
	run(child_opened_without);
}

/* CAP_SYS_ADMIN in the effective set or not; the permitted set keeps it. */
static void sys_admin_effective(bool on)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	ASSERT_SYS(syscall(SYS_capget, &hdr, d));
	if (on)
		d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective |= CAP_TO_MASK(CAP_SYS_ADMIN);
	else
		d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
	ASSERT_SYS(syscall(SYS_capset, &hdr, d));
	ASSERT_EQ(h_cap_has(CAP_SYS_ADMIN), on);
}

/* pinmgr-metadata-bytes of @ctx's fdinfo, opened by this process now. */
static uint64_t fdinfo_metadata(struct pinmgr_ctx *ctx)
{
	uint64_t v;

	ASSERT_OK(h_fdinfo_u64(h_fd(ctx), "pinmgr-metadata-bytes", &v));
	return v;
}

/*
 * The tracking metadata grows by 8 bytes per physically contiguous run of
 * pages after a region's first, and is charged to the opener's memory
 * cgroup, so its size would tell the layout. A file opened without
 * CAP_SYS_ADMIN keeps room for a run per page instead: a transparent huge
 * page (one run to a privileged file) takes a region plus 511 * 8 bytes
 * there, in STATS, in fdinfo and in the cgroup. Found by review (the
 * cgroup's memory.current grew by 8 bytes per run). The sysfs total, which
 * sums privileged files too, is root's only.
 */
static void child_no_cap_metadata_by_pages(void *arg)
{
	const size_t hps = 2UL << 20, npages = hps / h_ps;
	struct pinmgr_ctx *priv = h_open(), *unpriv;
	struct pinmgr_stats st;
	uint64_t one, thp;
	struct pinmgr_query q;
	struct stat sb;
	char *buf;
	uint32_t h;

	(void)arg;
	buf = thp_buffer(hps);
	/* What a one-page region takes: the region, no run array. */
	h = h_pin(priv, buf, h_ps, 0);
	ASSERT_OK(pinmgr_stats(priv, &st, sizeof(st)));
	one = st.out_metadata_bytes;
	ASSERT_NE(one, 0);
	ASSERT_OK(pinmgr_unpin(priv, h));
	h = h_pin(priv, buf, hps, 0);
	ASSERT_OK(pinmgr_query(priv, h, &q, sizeof(q)));
	if (q.out_nsegs == npages)
		h_skip("no physically contiguous pages (no THP here)");
	ASSERT_OK(pinmgr_stats(priv, &st, sizeof(st)));
	thp = st.out_metadata_bytes;
	ASSERT_EQ(thp, one + (q.out_nsegs - 1) * 8);

	sys_admin_effective(false);
	unpriv = h_open();
	h_pin(unpriv, buf, hps, 0);
	ASSERT_OK(pinmgr_stats(unpriv, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 1);
	ASSERT_MSG(st.out_metadata_bytes == one + (npages - 1) * 8,
		   "%" PRIu64 " bytes for %zu pages in %" PRIu64 " runs: expected %" PRIu64,
		   (uint64_t)st.out_metadata_bytes, npages, (uint64_t)q.out_nsegs,
		   one + (npages - 1) * 8);
	ASSERT_EQ(fdinfo_metadata(unpriv), st.out_metadata_bytes);
	/* A file opened with it keeps the exact count. */
	ASSERT_OK(pinmgr_stats(priv, &st, sizeof(st)));
	ASSERT_EQ(st.out_metadata_bytes, thp);
	ASSERT_EQ(fdinfo_metadata(priv), thp);
	sys_admin_effective(true);
	ASSERT_SYS(stat("/sys/class/misc/pinmgr/stats/metadata_bytes", &sb));
	ASSERT_EQ(sb.st_mode & 0777, 0400);
}

CASE(no_cap_metadata_by_pages)
{
	run(child_no_cap_metadata_by_pages);
}

static const struct h_case cases[] = {
	H_CASE(root_has_cap_phys, "root: INFO out_caps has PINMGR_CAP_PHYS"),
	H_CASE(root_phys_nonzero_aligned, "root: SEGMENTS PHYS -> phys non-zero and page aligned"),
	H_CASE(root_phys_matches_pagemap, "root: SEGMENTS PHYS == /proc/self/pagemap runs and PFNs"),
	H_CASE(root_phys_zero_page, "root: zero-page region -> one segment per page, phys of the zero page"),
	H_CASE(root_no_phys_flag_zero, "root: SEGMENTS without PHYS -> phys 0"),
	H_CASE(no_cap_info, "without CAP_SYS_ADMIN at open: INFO out_caps lacks PINMGR_CAP_PHYS"),
	H_CASE(no_cap_phys_eperm, "without CAP_SYS_ADMIN at open: SEGMENTS PHYS -> EPERM, array untouched"),
	H_CASE(no_cap_no_contiguity, "without CAP_SYS_ADMIN at open: a THP shows as one segment per page"),
	H_CASE(no_cap_plain_ok, "without CAP_SYS_ADMIN: pin/query/segments/unpin without PHYS -> ok"),
	H_CASE(no_cap_metadata_by_pages, "without CAP_SYS_ADMIN at open: a region's metadata is a region plus 8 bytes per page whatever the layout (a THP's one run too); with it, per run; sysfs metadata_bytes 0400"),
	H_CASE(dropped_after_open, "CAP_SYS_ADMIN dropped after open: PHYS still allowed"),
	H_CASE(opened_without, "same process: file opened before the drop has PHYS, after -> EPERM"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
