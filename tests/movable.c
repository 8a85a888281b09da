// SPDX-License-Identifier: GPL-2.0
/*
 * A long-term pin never leaves a page in ZONE_MOVABLE: GUP with
 * FOLL_LONGTERM migrates such pages out first, and the process's mapping
 * moves with them. Needs a Movable zone: the VM harness runs programs named
 * movable* in a second boot with movablecore=1G (skips without one).
 *
 * Each case touches memory that mostly starts in ZONE_MOVABLE (pagemap
 * PFNs against the zone's span in /proc/zoneinfo), pins it, and checks that
 * every pinned page (SEGMENTS with PHYS) lies outside the zone, that the
 * process maps exactly the pinned pages, and that the process and the
 * device (PINMGR_ACCESS) see the same bytes both ways.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

#define ANON_MB		64
#define HUGE_SZ		(2UL << 20)
#define HUGE_PAGES	4	/* mapped by the hugetlb case */
#define HUGE_RESERVE	8	/* added to the pool for it */

/* ---- the Movable zone(s) ---------------------------------------------- */

#define MAX_RANGES 16

static struct {
	uint64_t start, end;	/* pfns, end exclusive */
	int node;
} mz[MAX_RANGES];
static size_t nmz;

static void read_zoneinfo(void)
{
	static char buf[1 << 20];
	size_t off = 0;
	ssize_t n;
	char *line, *save = NULL;
	int fd = open("/proc/zoneinfo", O_RDONLY | O_CLOEXEC);
	bool in_movable = false;
	uint64_t spanned = 0;
	int node = -1;

	if (fd < 0)
		h_fail("open /proc/zoneinfo: %s", h_errname(errno));
	while ((n = read(fd, buf + off, sizeof(buf) - 1 - off)) > 0)
		off += n;
	close(fd);
	buf[off] = '\0';

	nmz = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char zone[32];
		unsigned long long v;

		if (sscanf(line, "Node %d, zone %31s", &node, zone) == 2) {
			in_movable = !strcmp(zone, "Movable");
			spanned = 0;
		} else if (in_movable &&
			   sscanf(line, " spanned %llu", &v) == 1) {
			spanned = v;
		} else if (in_movable &&
			   sscanf(line, " start_pfn: %llu", &v) == 1) {
			/* only populated zones print start_pfn */
			if (spanned && nmz < MAX_RANGES) {
				mz[nmz].start = v;
				mz[nmz].end = v + spanned;
				mz[nmz].node = node;
				nmz++;
			}
			in_movable = false;
		}
	}
}

static bool pfn_movable(uint64_t pfn)
{
	size_t i;

	for (i = 0; i < nmz; i++)
		if (pfn >= mz[i].start && pfn < mz[i].end)
			return true;
	return false;
}

/* Skips the case unless there is a populated Movable zone. */
static void need_movable_zone(void)
{
	read_zoneinfo();
	if (!nmz)
		h_skip("no populated Movable zone in /proc/zoneinfo (boot with movablecore=, as the VM harness does for movable*)");
}

static const char *zones_str(void)
{
	static char s[512];
	size_t i, used = 0;

	s[0] = '\0';
	for (i = 0; i < nmz && used < sizeof(s) - 64; i++)
		used += snprintf(s + used, sizeof(s) - used,
				 "%snode %d pfn %#" PRIx64 "-%#" PRIx64,
				 i ? ", " : "", mz[i].node, mz[i].start,
				 mz[i].end);
	return s;
}

/* ---- the checks ------------------------------------------------------- */

/* PFNs of the process's pages; all present. Returns how many lie in a
 * Movable zone. */
static size_t process_pfns(const void *addr, size_t npages, uint64_t *pfns)
{
	size_t i, in = 0;

	h_pagemap_pfns(addr, npages, pfns);
	for (i = 0; i < npages; i++) {
		if (!pfns[i])
			h_fail("page %zu is not present in /proc/self/pagemap (or PFNs hidden)",
			       i);
		in += pfn_movable(pfns[i]);
	}
	return in;
}

/*
 * Pins [addr, addr+len) with @flags and checks: every pinned page is
 * outside ZONE_MOVABLE, the process maps exactly the pinned pages, the
 * process and the device read pattern 1; then writes both ways. Unpins and
 * checks the counters.
 */
static void pin_and_check(void *addr, size_t len, uint32_t flags,
			  size_t started_movable)
{
	struct pinmgr_ctx *ctx = h_open();
	size_t npages = len / h_ps, nsegs, i, p = 0;
	uint64_t *pinned = h_malloc(npages * sizeof(*pinned));
	uint64_t *mapped = h_malloc(npages * sizeof(*mapped));
	uint8_t *dev = h_malloc(len);
	struct pinmgr_segment *segs;
	struct pinmgr_stats st;
	struct pinmgr_pin pin;
	char b[32];
	uint64_t j;
	uint32_t h;
	int ret;

	h_require_test_access(ctx);
	ret = h_pin_raw(ctx, addr, len, flags, &pin);
	ASSERT_MSG(ret == 0,
		   "PIN of %zu pages, %zu of them in ZONE_MOVABLE: %s (expected the pages migrated out and pinned)",
		   npages, started_movable, h_retstr(b, sizeof(b), ret));
	h = pin.out_handle;
	ASSERT_EQ(pin.out_npages, npages);
	ASSERT_VMPIN_KB(PAGES_KB(npages));

	nsegs = h_read_segments(ctx, h, PINMGR_SEGMENTS_PHYS, 256, &segs);
	h_check_segments_cover(segs, nsegs, npages);
	for (i = 0; i < nsegs; i++) {
		for (j = 0; j < segs[i].length / h_ps; j++) {
			uint64_t pfn = segs[i].phys / h_ps + j;

			ASSERT_MSG(!pfn_movable(pfn),
				   "pinned page %zu (segment %zu) is pfn %#" PRIx64 ", inside ZONE_MOVABLE (%s)",
				   p, i, pfn, zones_str());
			pinned[p++] = pfn;
		}
	}
	ASSERT_EQ(p, npages);

	/* the migration moved the process's mapping too */
	ASSERT_EQ(process_pfns(addr, npages, mapped), 0);
	for (i = 0; i < npages; i++)
		ASSERT_MSG(mapped[i] == pinned[i],
			   "page %zu: the process maps pfn %#" PRIx64 ", the pinned page is pfn %#" PRIx64,
			   i, mapped[i], pinned[i]);
	h_diag("%zu of %zu pages started in ZONE_MOVABLE; after PIN all %zu are outside it, in %zu segments, and mapped by the process",
	       started_movable, npages, npages, nsegs);

	h_assert_pattern(addr, len, 1, "process after PIN");
	h_dev_read(ctx, h, 0, dev, len);
	h_assert_pattern(dev, len, 1, "device read after PIN");
	h_fill(addr, len, 2);
	h_dev_read(ctx, h, 0, dev, len);
	h_assert_pattern(dev, len, 2, "device read after the process wrote");
	if (flags & PINMGR_PIN_WRITE) {
		h_fill(dev, len, 3);
		h_dev_write(ctx, h, 0, dev, len);
		h_assert_pattern(addr, len, 3, "process after a device write");
	}

	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 1);
	ASSERT_EQ(st.out_pinned_pages, npages);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 0);
	ASSERT_EQ(st.out_pinned_pages, 0);
	ASSERT_EQ(st.out_pins, 1);
	ASSERT_EQ(st.out_unpins, 1);
	ASSERT_EQ(st.out_failed_pins, 0);
	ASSERT_VMPIN_KB(0);
	h_close(ctx);
	h_assert_pins_balanced();
}

/* ---- cases ------------------------------------------------------------ */

CASE(movable_anon)
{
	uint32_t flags = *(const uint32_t *)arg;
	size_t len = (size_t)ANON_MB << 20, npages = len / h_ps, in;
	uint64_t *pfns;
	uint8_t *buf;

	need_movable_zone();
	buf = h_anon_untouched(len);	/* 4 kB pages: no THP */
	h_fill(buf, len, 1);
	pfns = h_malloc(npages * sizeof(*pfns));
	in = process_pfns(buf, npages, pfns);
	ASSERT_MSG(in > 0,
		   "none of the %zu pages of %d MiB of fresh anonymous memory is in ZONE_MOVABLE (%s): the case would prove nothing",
		   npages, ANON_MB, zones_str());
	pin_and_check(buf, len, flags, in);
}

static const uint32_t pin_w = PINMGR_PIN_WRITE, pin_ro;

static bool thp_enabled(void)
{
	char b[128] = "";
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled",
		      O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, b, sizeof(b) - 1) < 0)
		b[0] = '\0';
	close(fd);
	return !strstr(b, "[never]");
}

static uint64_t smaps_anon_huge_kb(const void *addr)
{
	char line[256];
	FILE *f = fopen("/proc/self/smaps", "r");
	bool in = false;
	uint64_t kb = 0;

	if (!f)
		h_fail("open /proc/self/smaps: %s", h_errname(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		else if (in && sscanf(line, "AnonHugePages: %" SCNu64, &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

CASE(movable_thp)
{
	size_t len = (size_t)ANON_MB << 20, npages = len / h_ps, in;
	uint8_t *raw, *buf;
	uint64_t *pfns, huge_kb;

	need_movable_zone();
	if (!thp_enabled())
		h_skip("transparent huge pages are disabled");
	raw = h_map(len + HUGE_SZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = (uint8_t *)(((uintptr_t)raw + HUGE_SZ - 1) & ~(HUGE_SZ - 1));
	if (madvise(buf, len, MADV_HUGEPAGE))
		h_skip("madvise(MADV_HUGEPAGE): %s", h_errname(errno));
	h_fill(buf, len, 1);
	huge_kb = smaps_anon_huge_kb(buf);
	if (!huge_kb)
		h_skip("no huge page was allocated for %d MiB of MADV_HUGEPAGE memory",
		       ANON_MB);
	pfns = h_malloc(npages * sizeof(*pfns));
	in = process_pfns(buf, npages, pfns);
	ASSERT_MSG(in > 0,
		   "none of the %zu pages (%" PRIu64 " kB in huge pages) is in ZONE_MOVABLE (%s): the case would prove nothing",
		   npages, huge_kb, zones_str());
	h_diag("%" PRIu64 " kB of %d MiB in transparent huge pages before PIN",
	       huge_kb, ANON_MB);
	pin_and_check(buf, len, PINMGR_PIN_WRITE, in);
}

/* ---- hugetlb ---------------------------------------------------------- */

#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"

static long read_long(const char *path)
{
	char b[64] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	return n > 0 ? strtol(b, NULL, 10) : -1;
}

static int write_long(const char *path, long v)
{
	char b[32];
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(b, sizeof(b), "%ld\n", v);
	if (write(fd, b, strlen(b)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void restore_nr_hugepages(void *p, size_t n)
{
	(void)p;
	write_long(NR_HUGEPAGES, (long)n);
}

static long meminfo_kb(const char *key)
{
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");
	size_t klen = strlen(key);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

CASE(movable_hugetlb)
{
	size_t len = HUGE_PAGES * HUGE_SZ, npages = len / h_ps, in;
	long old, got;
	uint64_t *pfns;
	uint8_t *buf;

	need_movable_zone();
	if (meminfo_kb("Hugepagesize") != (long)(HUGE_SZ >> 10))
		h_skip("the default hugetlb page size is %ld kB, not 2048 kB",
		       meminfo_kb("Hugepagesize"));
	old = read_long(NR_HUGEPAGES);
	if (old < 0)
		h_skip("cannot read %s", NR_HUGEPAGES);
	h_defer(restore_nr_hugepages, NULL, (size_t)old);
	if (write_long(NR_HUGEPAGES, old + HUGE_RESERVE) < 0)
		h_skip("cannot write %s: %s", NR_HUGEPAGES, h_errname(errno));
	got = read_long(NR_HUGEPAGES);
	if (got < old + HUGE_PAGES)
		h_skip("could reserve only %ld of %d 2 MiB hugetlb pages (nr_hugepages %ld -> %ld)",
		       got - old, HUGE_RESERVE, old, got);
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (buf == MAP_FAILED)
		h_skip("mmap(MAP_HUGETLB, %zu MiB): %s", len >> 20,
		       h_errname(errno));
	h_keep_map(buf, len);
	h_fill(buf, len, 1);
	pfns = h_malloc(npages * sizeof(*pfns));
	in = process_pfns(buf, npages, pfns);
	h_diag("%zu of %zu 4 kB pages of %d hugetlb pages (pool %ld -> %ld) started in ZONE_MOVABLE",
	       in, npages, HUGE_PAGES, old, got);
	if (in) {
		/*
		 * 6.1's GUP cannot migrate hugetlb pages for a long-term pin;
		 * pinmgr then refuses them (ENOMEM, as GUP does when migration
		 * fails) rather than let them stay in ZONE_MOVABLE, and without
		 * the kernel warning 6.1's GUP would print. Newer kernels
		 * migrate them: then the full check below runs.
		 */
		struct pinmgr_ctx *ctx = h_open();
		struct pinmgr_stats st;
		struct pinmgr_pin pin;
		int ret = h_pin_raw(ctx, buf, len, PINMGR_PIN_WRITE, &pin);

		if (ret == -ENOMEM) {
			ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
			ASSERT_EQ(st.out_pinned_pages, 0);
			ASSERT_EQ(st.out_regions, 0);
			ASSERT_VMPIN_KB(0);
			h_assert_pins_balanced();
			h_diag("PIN -> ENOMEM: this kernel cannot migrate hugetlb pages out of ZONE_MOVABLE; nothing pinned");
			return;
		}
		ASSERT_OK(ret);
		ASSERT_OK(pinmgr_unpin(ctx, pin.out_handle));
	}
	pin_and_check(buf, len, PINMGR_PIN_WRITE, in);
}

static const struct h_case cases[] = {
	H_CASE_ARG(movable_anon, &pin_w, "movable: writable PIN of 64 MiB anonymous memory in ZONE_MOVABLE migrates every page out; process and device see the same pages"),
	H_CASE_ARG(movable_anon, &pin_ro, "movable: read-only PIN of 64 MiB anonymous memory in ZONE_MOVABLE migrates every page out; process and device see the same pages"),
	H_CASE(movable_thp, "movable: writable PIN of 64 MiB of transparent huge pages in ZONE_MOVABLE migrates them out"),
	H_CASE(movable_hugetlb, "movable: writable PIN of 4 hugetlb 2 MiB pages in ZONE_MOVABLE: migrated out, or ENOMEM with nothing pinned (6.1), never a kernel warning"),
};

int main(void)
{
	h_test_access_enable();
	return h_main(cases, ARRAY_SIZE(cases));
}
