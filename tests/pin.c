// SPDX-License-Identifier: GPL-2.0
/*
 * PIN / UNPIN / QUERY / SEGMENTS: round trips on aligned and unaligned
 * ranges of every kind of memory the module accepts, and every errno path
 * of these four ioctls, one case each.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "harness.h"

/* Pages touched by [addr, addr + len). */
static uint64_t npages_of(uintptr_t addr, uint64_t len)
{
	uintptr_t first = addr & ~(uintptr_t)(h_ps - 1);

	return (addr + len - first + h_ps - 1) / h_ps;
}

/* Pins through the raw ioctl and checks every out_ field. */
static uint32_t pin_checked(struct pinmgr_ctx *ctx, const void *addr,
			    uint64_t len, uint32_t flags)
{
	struct pinmgr_pin p;

	ASSERT_OK(h_pin_raw(ctx, addr, len, flags, &p));
	ASSERT_NE(p.out_handle, 0);
	ASSERT_EQ(p.out_offset, (uintptr_t)addr % h_ps);
	ASSERT_EQ(p.out_npages, npages_of((uintptr_t)addr, len));
	return p.out_handle;
}

/* QUERY must give back what PIN was given, and SEGMENTS must cover it. */
static void check_region(struct pinmgr_ctx *ctx, uint32_t handle,
			 const void *addr, uint64_t len, uint32_t flags)
{
	uint64_t npages = npages_of((uintptr_t)addr, len);
	struct pinmgr_segment *segs;
	struct pinmgr_query q;
	size_t n, i;

	ASSERT_OK(pinmgr_query(ctx, handle, &q, sizeof(q)));
	ASSERT_EQ(q.out_addr, (uintptr_t)addr);
	ASSERT_EQ(q.out_length, len);
	ASSERT_EQ(q.out_flags, flags);
	ASSERT_EQ(q.out_npages, npages);
	ASSERT_EQ(q.out_offset, (uintptr_t)addr % h_ps);
	ASSERT_MSG(q.out_nsegs >= 1 && q.out_nsegs <= npages,
		   "out_nsegs %llu for %llu pages",
		   (unsigned long long)q.out_nsegs, (unsigned long long)npages);
	ASSERT_EQ(q.__reserved, 0);

	n = h_read_segments(ctx, handle, 0, 64, &segs);
	ASSERT_EQ(n, q.out_nsegs);
	h_check_segments_cover(segs, n, npages);
	for (i = 0; i < n; i++)
		ASSERT_MSG(segs[i].phys == 0, "segment %zu: phys 0x%llx without PHYS",
			   i, (unsigned long long)segs[i].phys);
}

static void round_trip(const void *addr, uint64_t len, uint32_t flags)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_query q;
	uint32_t h = pin_checked(ctx, addr, len, flags);

	check_region(ctx, h, addr, len, flags);
	ASSERT_VMPIN_KB(PAGES_KB(npages_of((uintptr_t)addr, len)));
	ASSERT_OK(pinmgr_unpin(ctx, h));
	ASSERT_ERR(pinmgr_query(ctx, h, &q, sizeof(q)), ENOENT);
	ASSERT_VMPIN_KB(0);
}

/* ---- round trips -------------------------------------------------- */

CASE(pin_one_page)
{
	round_trip(h_anon(h_ps), h_ps, 0);
}

CASE(pin_unaligned)
{
	char *buf = h_anon(4 * h_ps);

	round_trip(buf + 100, 2 * h_ps, 0);	/* 3 pages, offset 100 */
}

CASE(pin_last_byte)
{
	char *buf = h_anon(2 * h_ps);

	round_trip(buf + h_ps - 1, 1, 0);
}

CASE(pin_two_bytes_across)
{
	char *buf = h_anon(2 * h_ps);

	round_trip(buf + h_ps - 1, 2, 0);
}

CASE(pin_1mib)
{
	round_trip(h_anon(1 << 20), 1 << 20, 0);
}

CASE(pin_write_unaligned)
{
	char *buf = h_anon(4 * h_ps);

	round_trip(buf + 4000 % h_ps, 10000, PINMGR_PIN_WRITE);
}

/* QUERY gives the flag back; the region is pinned as any other. */
CASE(pin_no_events)
{
	char *buf = h_anon(4 * h_ps);

	round_trip(buf + 100, 2 * h_ps, PINMGR_PIN_NO_EVENTS);
	round_trip(buf, 3 * h_ps, PINMGR_PIN_WRITE | PINMGR_PIN_NO_EVENTS);
}

/* out_offset/out_npages for many address/length combinations. */
CASE(pin_offsets_lengths)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(6 * h_ps);
	const size_t offs[] = { 0, 1, h_ps / 2, h_ps - 1 };
	const size_t lens[] = { 1, h_ps - 1, h_ps, h_ps + 1, 2 * h_ps,
				3 * h_ps - 1 };
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		for (j = 0; j < ARRAY_SIZE(lens); j++) {
			uint32_t h = pin_checked(ctx, buf + offs[i], lens[j], 0);

			check_region(ctx, h, buf + offs[i], lens[j], 0);
			ASSERT_OK(pinmgr_unpin(ctx, h));
		}
	}
}

CASE(pin_untouched)
{
	struct pinmgr_ctx *ctx = h_open();
	char *r = h_anon_untouched(8 * h_ps);
	char *w = h_anon_untouched(8 * h_ps);
	uint32_t hr = pin_checked(ctx, r, 8 * h_ps, 0);
	uint32_t hw = pin_checked(ctx, w, 8 * h_ps, PINMGR_PIN_WRITE);

	check_region(ctx, hr, r, 8 * h_ps, 0);
	check_region(ctx, hw, w, 8 * h_ps, PINMGR_PIN_WRITE);
	ASSERT_VMPIN_KB(PAGES_KB(16));
}

CASE(pin_readonly_mapping)
{
	char *buf = h_map(2 * h_ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);

	round_trip(buf, 2 * h_ps, 0);
}

CASE(pin_memfd_shared_write)
{
	int fd = h_keep_fd(memfd_create("pinmgr-test", MFD_CLOEXEC));
	char *buf;

	ASSERT_SYS(ftruncate(fd, 4 * h_ps));
	buf = h_map(4 * h_ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memset(buf, 1, 4 * h_ps);
	round_trip(buf + 10, 3 * h_ps, PINMGR_PIN_WRITE);
}

CASE(pin_memfd_shared_untouched_write)
{
	int fd = h_keep_fd(memfd_create("pinmgr-test", MFD_CLOEXEC));
	char *buf;

	ASSERT_SYS(ftruncate(fd, 4 * h_ps));
	buf = h_map(4 * h_ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	round_trip(buf, 4 * h_ps, PINMGR_PIN_WRITE);
}

static void file_mapping(const char *fstype, int mapflags, uint32_t flags)
{
	const char *dir = h_mount_tmp(fstype);
	int fd = h_tmpfile(dir, 4 * h_ps);
	char *buf = h_map(4 * h_ps, PROT_READ | PROT_WRITE, mapflags, fd, 0);

	memset(buf, 2, 4 * h_ps);
	round_trip(buf, 4 * h_ps, flags);
}

CASE(pin_tmpfs_shared_write)
{
	file_mapping("tmpfs", MAP_SHARED, PINMGR_PIN_WRITE);
}

/*
 * ramfs writes nothing back, but its mappings have ->page_mkwrite
 * (filemap_page_mkwrite()): upstream GUP (6.5+) refuses writable long-term
 * pins of them, and so does pinmgr on every kernel.
 */
CASE(pin_ramfs_shared_write)
{
	const char *dir = h_mount_tmp("ramfs");
	int fd = h_tmpfile(dir, 4 * h_ps);
	char *buf = h_map(4 * h_ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	uint32_t h = 0xdead;

	memset(buf, 2, 4 * h_ps);
	ASSERT_ERR(pinmgr_pin(h_open(), buf, 4 * h_ps, PINMGR_PIN_WRITE, &h),
		   EOPNOTSUPP);
	ASSERT_EQ(h, 0xdead);
	round_trip(buf, 4 * h_ps, 0);	/* read-only is fine */
}

CASE(pin_tmpfs_private_write)
{
	file_mapping("tmpfs", MAP_PRIVATE, PINMGR_PIN_WRITE);
}

/*
 * A read-only pin of an anonymous page that a fork shares with a child,
 * write-protected by userfaultfd: GUP copies the page for the pin without
 * a write fault, so no userfaultfd message is raised and the pin succeeds.
 * (Breaking COW with a forced write, as 6.1's read-only pins of page cache
 * need, turned this into EFAULT.)
 */
/* The /proc/self/pagemap entry of the page at @addr. */
static uint64_t pagemap_entry(const void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t e = 0;

	ASSERT_SYS(fd);
	ASSERT_EQ(pread(fd, &e, sizeof(e), (uintptr_t)addr / h_ps * sizeof(e)),
		  sizeof(e));
	close(fd);
	return e;
}

#define PM_SOFT_DIRTY	(1ULL << 55)

/*
 * A read-only pin writes nothing: an anonymous page after a shared zero
 * page in the same range (the zero page needs COW broken on 6.1, the
 * anonymous page does not) keeps its soft-dirty bit clear.
 */
CASE(pin_ro_no_write_after_zero_page)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = h_anon_untouched(2 * h_ps);
	volatile char *zero = p;
	uint32_t h;
	int fd;

	ASSERT_EQ(*zero, 0);	/* maps the shared zero page */
	p[h_ps] = 1;
	fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		h_skip("/proc/self/clear_refs: %s", h_errname(errno));
	ASSERT_EQ(write(fd, "4", 1), 1);	/* clear soft-dirty */
	close(fd);
	if (pagemap_entry(p + h_ps) & PM_SOFT_DIRTY)
		h_skip("no soft-dirty tracking in this kernel");
	h = h_pin(ctx, p, 2 * h_ps, 0);
	ASSERT_MSG(!(pagemap_entry(p + h_ps) & PM_SOFT_DIRTY),
		   "the read-only pin wrote to the anonymous page after the zero page");
	ASSERT_OK(pinmgr_unpin(ctx, h));
}

/* In a child: keeps the page shared until the parent is done. */
static void wait_for_parent(void *arg)
{
	const int *pipefd = arg;

	h_wait_fd(pipefd[0]);
}

CASE(pin_ro_anon_shared_uffd_wp)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	struct pinmgr_ctx *ctx = h_open();
	char *p = h_anon(h_ps);
	struct pollfd pfd;
	int uffd, pipefd[2];
	uint32_t h;
	pid_t child;

	memset(p, 0x33, h_ps);
	h_pipe(pipefd);
	child = h_child_start(wait_for_parent, pipefd);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		h_skip("userfaultfd: %s", h_errname(errno));
	h_keep_fd(uffd);
	ASSERT_SYS(ioctl(uffd, UFFDIO_API, &api));
	reg.range.start = (uintptr_t)p;
	reg.range.len = h_ps;
	ASSERT_SYS(ioctl(uffd, UFFDIO_REGISTER, &reg));
	wp.range = reg.range;
	ASSERT_SYS(ioctl(uffd, UFFDIO_WRITEPROTECT, &wp));

	ASSERT_OK(pinmgr_pin(ctx, p, h_ps, 0, &h));
	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	ASSERT_EQ(poll(&pfd, 1, 0), 0);
	h_signal_fd(pipefd[1]);
	h_child_wait(child);
	ASSERT_EQ(p[0], 0x33);
	ASSERT_OK(pinmgr_unpin(ctx, h));
}

CASE(pin_tmpfs_shared_read)
{
	file_mapping("tmpfs", MAP_SHARED, 0);
}

CASE(pin_writeback_shared_write)
{
	int fd = h_writeback_file(2 * h_ps);
	char *buf = h_map(2 * h_ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_stats st;
	uint32_t h = 0xdead;

	memset(buf, 3, 2 * h_ps);
	ASSERT_ERR(pinmgr_pin(ctx, buf, 2 * h_ps, PINMGR_PIN_WRITE, &h),
		   EOPNOTSUPP);
	ASSERT_EQ(h, 0xdead);
	ASSERT_VMPIN_KB(0);
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 0);
}

CASE(pin_writeback_shared_read)
{
	int fd = h_writeback_file(2 * h_ps);
	char *buf = h_map(2 * h_ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	memset(buf, 3, 2 * h_ps);
	round_trip(buf, 2 * h_ps, 0);
}

CASE(pin_writeback_private_write)
{
	int fd = h_writeback_file(2 * h_ps);
	char *buf = h_map(2 * h_ps, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);

	round_trip(buf, 2 * h_ps, PINMGR_PIN_WRITE);
}

static int nr_hugepages(long long *val, long long set)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", set < 0 ? "r" : "w");
	int ok;

	if (!f)
		return -1;
	ok = set < 0 ? fscanf(f, "%lld", val) == 1 : fprintf(f, "%lld\n", set) > 0;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

CASE(pin_hugetlb_shared_write)
{
	struct pinmgr_ctx *ctx = h_open();
	const size_t hps = 2 << 20;
	struct pinmgr_info in;
	struct pinmgr_query q;
	long long old;
	char *buf;
	uint32_t h;

	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	if (in.out_max_pages_per_pin < hps / h_ps)
		h_skip("max_pages_per_pin %llu < one huge page",
		       (unsigned long long)in.out_max_pages_per_pin);
	buf = mmap(NULL, hps, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (buf == MAP_FAILED) {
		/* Reserve one more huge page just for the mapping: it keeps
		 * its page when the pool is shrunk back right after. */
		if (nr_hugepages(&old, -1) || nr_hugepages(NULL, old + 1))
			h_skip("no hugetlb pool to grow");
		buf = mmap(NULL, hps, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		nr_hugepages(NULL, old);
		if (buf == MAP_FAILED)
			h_skip("cannot get a huge page: %s", h_errname(errno));
	}
	h_keep_map(buf, hps);
	memset(buf, 4, hps);
	h = pin_checked(ctx, buf, hps, PINMGR_PIN_WRITE);
	check_region(ctx, h, buf, hps, PINMGR_PIN_WRITE);
	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));
	ASSERT_EQ(q.out_nsegs, 1);
}

CASE(pin_same_range_twice)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(3 * h_ps);
	uint32_t a = h_pin(ctx, buf, 3 * h_ps, 0);
	uint32_t b = h_pin(ctx, buf + 1, h_ps, PINMGR_PIN_WRITE);

	ASSERT_NE(a, b);
	ASSERT_VMPIN_KB(PAGES_KB(5));
	check_region(ctx, a, buf, 3 * h_ps, 0);
	check_region(ctx, b, buf + 1, h_ps, PINMGR_PIN_WRITE);
	ASSERT_OK(pinmgr_unpin(ctx, a));
	check_region(ctx, b, buf + 1, h_ps, PINMGR_PIN_WRITE);
	ASSERT_VMPIN_KB(PAGES_KB(2));
	ASSERT_OK(pinmgr_unpin(ctx, b));
	ASSERT_VMPIN_KB(0);
}

CASE(handles_increase)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(h_ps);
	uint32_t prev = 0, h;
	int i;

	for (i = 0; i < 50; i++) {
		h = h_pin(ctx, buf, h_ps, 0);
		ASSERT_MSG(h > prev, "handle %u after %u", h, prev);
		if (i % 2)	/* free some, keep some */
			ASSERT_OK(pinmgr_unpin(ctx, h));
		prev = h;
	}
}

CASE(handles_per_file)
{
	struct pinmgr_ctx *a = h_open(), *b = h_open();
	char *buf = h_anon(h_ps);
	uint32_t ha = h_pin(a, buf, h_ps, 0);
	struct pinmgr_query q;

	ASSERT_ERR(pinmgr_unpin(b, ha), ENOENT);
	ASSERT_ERR(pinmgr_query(b, ha, &q, sizeof(q)), ENOENT);
	ASSERT_OK(pinmgr_query(a, ha, &q, sizeof(q)));
}

CASE(vmpin_follows_pins)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(16 * h_ps);
	uint32_t a, b;

	ASSERT_VMPIN_KB(0);
	a = h_pin(ctx, buf, 5 * h_ps, 0);
	ASSERT_VMPIN_KB(PAGES_KB(5));
	b = h_pin(ctx, buf + 5 * h_ps + 1, 2 * h_ps, 0);	/* 3 pages */
	ASSERT_VMPIN_KB(PAGES_KB(8));
	ASSERT_OK(pinmgr_unpin(ctx, a));
	ASSERT_VMPIN_KB(PAGES_KB(3));
	ASSERT_OK(pinmgr_unpin(ctx, b));
	ASSERT_VMPIN_KB(0);
}

CASE(unpin_keeps_others)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t a = h_pin(ctx, buf, h_ps, 0);
	uint32_t b = h_pin(ctx, buf + h_ps, 2 * h_ps, 0);
	uint32_t c = h_pin(ctx, buf + 3 * h_ps, h_ps, 0);

	ASSERT_OK(pinmgr_unpin(ctx, b));
	check_region(ctx, a, buf, h_ps, 0);
	check_region(ctx, c, buf + 3 * h_ps, h_ps, 0);
}

/* ---- segments ----------------------------------------------------- */

CASE(segments_match_pagemap)
{
	struct pinmgr_ctx *ctx = h_open();
	size_t len = 64 * h_ps;
	char *buf = h_anon(len + h_ps);
	struct pinmgr_segment *got, *want;
	uint32_t h = h_pin(ctx, buf + 7, len, 0);
	size_t n, m, i;

	m = h_expected_segments(buf + 7, len, &want);
	n = h_read_segments(ctx, h, 0, 1000, &got);
	ASSERT_EQ(n, m);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(got[i].offset, want[i].offset);
		ASSERT_EQ(got[i].length, want[i].length);
		ASSERT_EQ(got[i].phys, 0);
	}
}

CASE(segments_paging_capacity_1)
{
	struct pinmgr_ctx *ctx = h_open();
	size_t len = 32 * h_ps;
	char *buf = h_anon_untouched(len);	/* zero page: many segments */
	struct pinmgr_segment *one, *all;
	uint32_t h = h_pin(ctx, buf, len, 0);
	size_t n, m;

	n = h_read_segments(ctx, h, 0, 1, &one);
	m = h_read_segments(ctx, h, 0, 1000, &all);
	ASSERT_EQ(n, m);
	ASSERT(!memcmp(one, all, n * sizeof(*one)));
	h_check_segments_cover(all, n, 32);
}

/* More segments than fit in a page of them: the caller must loop. */
CASE(segments_many)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_info in;
	size_t np = 600, len = np * h_ps;
	char *buf = h_anon_untouched(len);
	struct pinmgr_segment *got, *want;
	size_t n, m, i;
	uint32_t h;

	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	if (in.out_max_pages_per_pin < np)
		h_skip("max_pages_per_pin %llu < %zu",
		       (unsigned long long)in.out_max_pages_per_pin, np);
	/* read-faulting untouched anonymous memory maps the zero page */
	for (i = 0; i < np; i++)
		(void)*(volatile char *)(buf + i * h_ps);
	h = h_pin(ctx, buf, len, 0);
	m = h_expected_segments(buf, len, &want);
	n = h_read_segments(ctx, h, 0, np, &got);
	h_diag("%zu pages in %zu segments", np, n);
	ASSERT_EQ(n, m);
	h_check_segments_cover(got, n, np);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(got[i].offset, want[i].offset);
		ASSERT_EQ(got[i].length, want[i].length);
	}
}

static void segments_raw(struct pinmgr_ctx *ctx, uint32_t h, uint64_t start,
			 uint64_t cap, void *segs, struct pinmgr_segments *r,
			 int want)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->handle = h;
	r->start = start;
	r->capacity = cap;
	r->segs = (uintptr_t)segs;
	ASSERT_RET(h_ioctl(h_fd(ctx), PINMGR_SEGMENTS, r), want);
}

CASE(segments_start_at_end)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, 4 * h_ps, 0);
	struct pinmgr_segment segs[8];
	struct pinmgr_segments r;
	struct pinmgr_query q;

	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));
	memset(segs, 0xa5, sizeof(segs));
	segments_raw(ctx, h, q.out_nsegs, 8, segs, &r, 0);
	ASSERT_EQ(r.out_count, 0);
	ASSERT_EQ(r.out_total, q.out_nsegs);
	ASSERT_EQ(segs[0].offset, 0xa5a5a5a5a5a5a5a5ULL);
	ASSERT_RET(pinmgr_segments(ctx, h, 0, q.out_nsegs, segs, 8), 0);
}

CASE(segments_start_past_end)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, 4 * h_ps, 0);
	struct pinmgr_segment segs[8];
	struct pinmgr_segments r;

	segments_raw(ctx, h, 1000, 8, segs, &r, 0);
	ASSERT_EQ(r.out_count, 0);
	segments_raw(ctx, h, UINT64_MAX, 8, segs, &r, 0);
	ASSERT_EQ(r.out_count, 0);
}

CASE(segments_capacity_0)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, 4 * h_ps, 0);
	struct pinmgr_segments r;
	struct pinmgr_query q;

	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));
	segments_raw(ctx, h, 0, 0, NULL, &r, 0);
	ASSERT_EQ(r.out_count, 0);
	ASSERT_EQ(r.out_total, q.out_nsegs);
}

CASE(segments_null_array)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	struct pinmgr_segments r;

	segments_raw(ctx, h, 0, 1, NULL, &r, -EFAULT);
}

CASE(segments_readonly_array)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	void *ro = h_map(h_ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pinmgr_segments r;

	segments_raw(ctx, h, 0, 4, ro, &r, -EFAULT);
}

CASE(segments_array_into_unmapped)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon_untouched(4 * h_ps);
	char *pages = h_map(2 * h_ps, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pinmgr_segment *segs;
	struct pinmgr_segments r;
	struct pinmgr_query q;
	uint32_t h;

	(void)*(volatile char *)buf;
	(void)*(volatile char *)(buf + 2 * h_ps);
	h = h_pin(ctx, buf, 4 * h_ps, 0);
	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));
	if (q.out_nsegs < 2)
		h_skip("region has a single segment");
	ASSERT_SYS(mprotect(pages + h_ps, h_ps, PROT_NONE));
	/* room for one segment before the PROT_NONE page */
	segs = (void *)(pages + h_ps - sizeof(*segs));
	segments_raw(ctx, h, 0, q.out_nsegs, segs, &r, -EFAULT);
}

/* ---- PIN errors --------------------------------------------------- */

static void pin_err(const void *addr, uint64_t len, uint32_t flags, int err)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_stats st;
	struct pinmgr_pin p;

	ASSERT_ERR(h_pin_raw(ctx, addr, len, flags, &p), err);
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 0);
	ASSERT_EQ(st.out_pinned_pages, 0);
	ASSERT_EQ(st.out_pins, 0);
	ASSERT_VMPIN_KB(0);
}

CASE(pin_len0)
{
	pin_err(h_anon(h_ps), 0, 0, EINVAL);
}

/* The first bit past the known ones (WRITE, NO_EVENTS). */
CASE(pin_flag_bit2)
{
	pin_err(h_anon(h_ps), h_ps, 1u << 2, EINVAL);
}

CASE(pin_flag_bit31)
{
	pin_err(h_anon(h_ps), h_ps, 1u << 31, EINVAL);
}

CASE(pin_wraps)
{
	char *buf = h_anon(h_ps);

	pin_err(buf, UINT64_MAX, 0, EOVERFLOW);
}

CASE(pin_wraps_high)
{
	pin_err((void *)(uintptr_t)0xffffffffffff0000ULL, 0x20000, 0,
		EOVERFLOW);
}

CASE(pin_kernel_addr)
{
	pin_err((void *)(uintptr_t)0xffff800000000000ULL, h_ps, 0, EFAULT);
}

CASE(pin_across_user_top)
{
	pin_err((void *)(uintptr_t)((1ULL << 47) - h_ps), 2 * h_ps, 0, EFAULT);
}

CASE(pin_null_page)
{
	pin_err(NULL, h_ps, 0, EFAULT);
}

CASE(pin_unmapped)
{
	char *buf = h_map(4 * h_ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	h_unmap(buf);
	pin_err(buf, 4 * h_ps, 0, EFAULT);
}

CASE(pin_hole)
{
	char *buf = h_anon(3 * h_ps);

	ASSERT_SYS(munmap(buf + h_ps, h_ps));
	pin_err(buf, 3 * h_ps, 0, EFAULT);
}

CASE(pin_past_mapping_end)
{
	char *buf = h_anon(3 * h_ps);

	ASSERT_SYS(munmap(buf + 2 * h_ps, h_ps));
	pin_err(buf + h_ps, 2 * h_ps, 0, EFAULT);
}

CASE(pin_prot_none)
{
	char *buf = h_map(2 * h_ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);

	pin_err(buf, 2 * h_ps, 0, EFAULT);
}

CASE(pin_prot_none_middle)
{
	char *buf = h_anon(3 * h_ps);

	ASSERT_SYS(mprotect(buf + h_ps, h_ps, PROT_NONE));
	pin_err(buf, 3 * h_ps, 0, EFAULT);
}

CASE(pin_write_readonly)
{
	char *buf = h_anon(2 * h_ps);

	ASSERT_SYS(mprotect(buf, 2 * h_ps, PROT_READ));
	pin_err(buf, 2 * h_ps, PINMGR_PIN_WRITE, EFAULT);
}

CASE(pin_write_readonly_shared)
{
	int fd = h_keep_fd(memfd_create("pinmgr-test", MFD_CLOEXEC));
	char *buf;

	ASSERT_SYS(ftruncate(fd, 2 * h_ps));
	buf = h_map(2 * h_ps, PROT_READ, MAP_SHARED, fd, 0);
	pin_err(buf, 2 * h_ps, PINMGR_PIN_WRITE, EFAULT);
}

/* /dev/mem below 1 MiB is mappable (VM_IO | VM_PFNMAP, no struct page
 * use); such mappings cannot be pinned. */
CASE(pin_pfnmap)
{
	const char *dir = NULL;
	char path[256] = "/dev/mem";
	struct stat s;
	void *buf;
	int fd;

	if (stat(path, &s) || !S_ISCHR(s.st_mode) ||
	    s.st_rdev != makedev(1, 1)) {
		dir = h_mount_tmp("tmpfs");
		snprintf(path, sizeof(path), "%s/mem", dir);
		if (mknod(path, S_IFCHR | 0600, makedev(1, 1)))
			h_skip("mknod %s: %s", path, h_errname(errno));
	}
	fd = open(path, O_RDWR | O_CLOEXEC | O_SYNC);
	if (fd < 0)
		h_skip("open %s: %s", path, h_errname(errno));
	h_keep_fd(fd);
	buf = mmap(NULL, h_ps, PROT_READ, MAP_SHARED, fd, 0xf0000);
	if (buf == MAP_FAILED)
		h_skip("mmap /dev/mem at 0xf0000: %s", h_errname(errno));
	h_keep_map(buf, h_ps);
	pin_err(buf, h_ps, 0, EFAULT);
}

/* All or nothing: the first pages were pinnable, a later one was not. */
CASE(pin_fail_mid_range_unwinds)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(64 * h_ps);
	uint64_t acq0, rel0, acq1, rel1;
	struct pinmgr_stats st;
	uint32_t h = 0xdead;

	ASSERT_SYS(munmap(buf + 60 * h_ps, h_ps));
	ASSERT_OK(h_foll_pins(&acq0, &rel0));
	ASSERT_ERR(pinmgr_pin(ctx, buf, 64 * h_ps, 0, &h), EFAULT);
	ASSERT_OK(h_foll_pins(&acq1, &rel1));
	ASSERT_EQ(h, 0xdead);
	ASSERT_VMPIN_KB(0);
	ASSERT_EQ(acq1 - acq0, rel1 - rel0);
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 0);
	ASSERT_EQ(st.out_pinned_pages, 0);
	/* and the file still works */
	h = h_pin(ctx, buf, 60 * h_ps, 0);
	ASSERT_VMPIN_KB(PAGES_KB(60));
}

CASE(pin_failed_out_untouched)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_map(h_ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pinmgr_pin p;

	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.addr = (uintptr_t)buf;
	p.length = h_ps;
	p.out_handle = 0xdeadbeef;
	p.out_offset = 0xcafe;
	p.out_npages = 0x1234567;
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_PIN, &p), EFAULT);
	ASSERT_EQ(p.out_handle, 0xdeadbeef);
	ASSERT_EQ(p.out_offset, 0xcafe);
	ASSERT_EQ(p.out_npages, 0x1234567);
	ASSERT_EQ(p.addr, (uintptr_t)buf);
	ASSERT_EQ(p.length, h_ps);
}

CASE(pin_ignores_out_garbage)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(2 * h_ps);
	struct pinmgr_pin p;

	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.addr = (uintptr_t)buf + 5;
	p.length = h_ps;
	p.out_handle = 0xffffffff;
	p.out_offset = 0xffffffff;
	p.out_npages = UINT64_MAX;
	ASSERT_OK(h_ioctl(h_fd(ctx), PINMGR_PIN, &p));
	ASSERT_NE(p.out_handle, 0xffffffff);
	ASSERT_NE(p.out_handle, 0);
	ASSERT_EQ(p.out_offset, 5);
	ASSERT_EQ(p.out_npages, 2);
}

/* ---- UNPIN / QUERY / SEGMENTS errors ------------------------------ */

CASE(unpin_handle_0)
{
	struct pinmgr_ctx *ctx = h_open();

	ASSERT_ERR(pinmgr_unpin(ctx, 0), ENOENT);
}

CASE(unpin_unknown)
{
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, h_anon(h_ps), h_ps, 0);

	ASSERT_ERR(pinmgr_unpin(ctx, h + 1), ENOENT);
	ASSERT_ERR(pinmgr_unpin(ctx, 0xffffffff), ENOENT);
}

CASE(unpin_twice)
{
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, h_anon(h_ps), h_ps, 0);

	ASSERT_OK(pinmgr_unpin(ctx, h));
	ASSERT_ERR(pinmgr_unpin(ctx, h), ENOENT);
}

CASE(unpin_reserved)
{
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, h_anon(h_ps), h_ps, 0);
	struct pinmgr_unpin u = { .size = sizeof(u), .handle = h };
	struct pinmgr_query q;

	u.__reserved = 1;
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_UNPIN, &u), EINVAL);
	u.__reserved = 0x80000000;
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_UNPIN, &u), EINVAL);
	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));	/* still pinned */
}

CASE(query_unknown)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_query q;

	ASSERT_ERR(pinmgr_query(ctx, 0, &q, sizeof(q)), ENOENT);
	ASSERT_ERR(pinmgr_query(ctx, 12345, &q, sizeof(q)), ENOENT);
}

CASE(query_after_unpin)
{
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, h_anon(h_ps), h_ps, 0);
	struct pinmgr_query q;

	ASSERT_OK(pinmgr_unpin(ctx, h));
	ASSERT_ERR(pinmgr_query(ctx, h, &q, sizeof(q)), ENOENT);
}

CASE(query_reserved)
{
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, h_anon(h_ps), h_ps, 0);
	struct pinmgr_query q;

	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.handle = h;
	q.__reserved = 1;
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_QUERY, &q), EINVAL);
}

CASE(segments_unknown)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_segment segs[4];

	ASSERT_ERR(pinmgr_segments(ctx, 0, 0, 0, segs, 4), ENOENT);
	ASSERT_ERR(pinmgr_segments(ctx, 777, 0, 0, segs, 4), ENOENT);
}

CASE(segments_after_unpin)
{
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, h_anon(h_ps), h_ps, 0);
	struct pinmgr_segment segs[4];

	ASSERT_OK(pinmgr_unpin(ctx, h));
	ASSERT_ERR(pinmgr_segments(ctx, h, 0, 0, segs, 4), ENOENT);
}

CASE(segments_reserved)
{
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, h_anon(h_ps), h_ps, 0);
	struct pinmgr_segment segs[4];
	struct pinmgr_segments r;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.handle = h;
	r.capacity = 4;
	r.segs = (uintptr_t)segs;
	r.__reserved = 1;
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_SEGMENTS, &r), EINVAL);
}

CASE(segments_flag_bit1)
{
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, h_anon(h_ps), h_ps, 0);
	struct pinmgr_segment segs[4];

	ASSERT_ERR(pinmgr_segments(ctx, h, 1u << 1, 0, segs, 4), EINVAL);
}

static const struct h_case cases[] = {
	H_CASE(pin_one_page, "pin 1 aligned page: handle, npages 1, offset 0, query, segments, unpin"),
	H_CASE(pin_unaligned, "pin addr+100, 2 pages long: npages 3, offset 100, round trip"),
	H_CASE(pin_last_byte, "pin the last byte of a page: npages 1, offset ps-1"),
	H_CASE(pin_two_bytes_across, "pin 2 bytes across a page boundary: npages 2"),
	H_CASE(pin_1mib, "pin 1 MiB: npages 256, segments cover it"),
	H_CASE(pin_write_unaligned, "pin WRITE unaligned 10000 bytes: round trip, out_flags WRITE"),
	H_CASE(pin_no_events, "pin NO_EVENTS, WRITE | NO_EVENTS: round trip, out_flags as given"),
	H_CASE(pin_offsets_lengths, "pin 4 offsets x 6 lengths: out_offset/out_npages/QUERY exact"),
	H_CASE(pin_untouched, "pin never-touched anonymous memory, read and WRITE -> ok"),
	H_CASE(pin_readonly_mapping, "pin a PROT_READ mapping without WRITE -> ok"),
	H_CASE(pin_memfd_shared_write, "pin WRITE memfd MAP_SHARED -> ok"),
	H_CASE(pin_memfd_shared_untouched_write, "pin WRITE memfd MAP_SHARED, pages never touched -> ok"),
	H_CASE(pin_tmpfs_shared_write, "pin WRITE tmpfs file MAP_SHARED -> ok"),
	H_CASE(pin_ro_no_write_after_zero_page, "pin RO zero page + anon page: the anon page is not written (soft-dirty stays clear)"),
	H_CASE(pin_ro_anon_shared_uffd_wp, "pin RO anon page shared with a child, uffd write-protected -> ok, no uffd fault"),
	H_CASE(pin_ramfs_shared_write, "pin WRITE ramfs file MAP_SHARED -> EOPNOTSUPP (page_mkwrite), read-only ok"),
	H_CASE(pin_tmpfs_private_write, "pin WRITE tmpfs file MAP_PRIVATE -> ok"),
	H_CASE(pin_tmpfs_shared_read, "pin tmpfs file MAP_SHARED read-only -> ok"),
	H_CASE(pin_hugetlb_shared_write, "pin WRITE hugetlb MAP_SHARED 2 MiB -> ok, 1 segment"),
	H_CASE(pin_writeback_shared_write, "pin WRITE MAP_SHARED file on a writeback fs (ext4...) -> EOPNOTSUPP"),
	H_CASE(pin_writeback_shared_read, "pin MAP_SHARED file on a writeback fs without WRITE -> ok"),
	H_CASE(pin_writeback_private_write, "pin WRITE MAP_PRIVATE file on a writeback fs -> ok"),
	H_CASE(pin_same_range_twice, "pin overlapping ranges twice: 2 handles, each charged"),
	H_CASE(handles_increase, "handles increase and are never reused after unpin"),
	H_CASE(handles_per_file, "a handle of another file -> ENOENT"),
	H_CASE(vmpin_follows_pins, "VmPin grows with each pin, shrinks with each unpin"),
	H_CASE(unpin_keeps_others, "unpin of one region leaves the others intact"),
	H_CASE(segments_match_pagemap, "segments == physically contiguous runs in /proc/self/pagemap"),
	H_CASE(segments_paging_capacity_1, "segments read 1 at a time == read at once"),
	H_CASE(segments_many, "600-page zero-page region: segments paged through == pagemap runs"),
	H_CASE(segments_start_at_end, "segments start == total -> count 0, array untouched"),
	H_CASE(segments_start_past_end, "segments start past the end (1000, UINT64_MAX) -> count 0"),
	H_CASE(segments_capacity_0, "segments capacity 0, segs NULL -> count 0, out_total set"),
	H_CASE(segments_null_array, "segments segs NULL, capacity 1 -> EFAULT"),
	H_CASE(segments_readonly_array, "segments into a read-only array -> EFAULT"),
	H_CASE(segments_array_into_unmapped, "segments array running into PROT_NONE -> EFAULT"),
	H_CASE(pin_len0, "pin len 0 -> EINVAL"),
	H_CASE(pin_flag_bit2, "pin flags 1<<2 -> EINVAL"),
	H_CASE(pin_flag_bit31, "pin flags 1<<31 -> EINVAL"),
	H_CASE(pin_wraps, "pin addr+len wraps (len UINT64_MAX) -> EOVERFLOW"),
	H_CASE(pin_wraps_high, "pin 0xffffffffffff0000 + 0x20000 wraps -> EOVERFLOW"),
	H_CASE(pin_kernel_addr, "pin addr 0xffff800000000000 -> EFAULT"),
	H_CASE(pin_across_user_top, "pin across 1<<47 -> EFAULT"),
	H_CASE(pin_null_page, "pin addr 0 -> EFAULT"),
	H_CASE(pin_unmapped, "pin an unmapped range -> EFAULT"),
	H_CASE(pin_hole, "pin a range with an unmapped hole -> EFAULT"),
	H_CASE(pin_past_mapping_end, "pin a range running past the mapping's end -> EFAULT"),
	H_CASE(pin_prot_none, "pin PROT_NONE -> EFAULT"),
	H_CASE(pin_prot_none_middle, "pin a range with a PROT_NONE page inside -> EFAULT"),
	H_CASE(pin_write_readonly, "pin WRITE on a PROT_READ private mapping -> EFAULT"),
	H_CASE(pin_write_readonly_shared, "pin WRITE on a PROT_READ shared memfd mapping -> EFAULT"),
	H_CASE(pin_pfnmap, "pin a VM_PFNMAP mapping (/dev/mem) -> EFAULT"),
	H_CASE(pin_fail_mid_range_unwinds, "pin failing at page 60 of 64 -> EFAULT, nothing pinned, FOLL_PIN balanced"),
	H_CASE(pin_failed_out_untouched, "failed pin leaves the out_ fields untouched"),
	H_CASE(pin_ignores_out_garbage, "pin ignores garbage in out_ fields on input"),
	H_CASE(unpin_handle_0, "unpin handle 0 -> ENOENT"),
	H_CASE(unpin_unknown, "unpin a never-issued handle -> ENOENT"),
	H_CASE(unpin_twice, "unpin twice -> ENOENT"),
	H_CASE(unpin_reserved, "unpin __reserved != 0 -> EINVAL, region kept"),
	H_CASE(query_unknown, "query an unknown handle -> ENOENT"),
	H_CASE(query_after_unpin, "query after unpin -> ENOENT"),
	H_CASE(query_reserved, "query __reserved != 0 -> EINVAL"),
	H_CASE(segments_unknown, "segments of an unknown handle -> ENOENT"),
	H_CASE(segments_after_unpin, "segments after unpin -> ENOENT"),
	H_CASE(segments_reserved, "segments __reserved != 0 -> EINVAL"),
	H_CASE(segments_flag_bit1, "segments flags 1<<1 -> EINVAL"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
