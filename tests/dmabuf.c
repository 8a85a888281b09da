// SPDX-License-Identifier: GPL-2.0
/*
 * EXPORT_DMABUF: pinned regions handed to kernel importers as dma-bufs.
 *
 * The importer is pinmgr_test_importer.ko (tests/dmabuf/importer/), which
 * this program loads from dmabuf-data/ next to its executable and unloads in
 * its last case: it attaches a platform device of its own, maps the
 * attachment and reads and writes every byte through the sg list's pages,
 * and through dma_buf_vmap(). Every byte is compared with what the process
 * sees through its own mapping; every order of UNPIN, close of the pinmgr
 * file, close of the dma-buf, importer detach and process exit ends with
 * nothing pinned, no dma-buf and no charge left.
 */
#include <errno.h>
#include <linux/capability.h>
#include <linux/dma-buf.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "pinmgr_test_importer.h"

#define HPS	(2UL << 20)	/* THP and hugetlb page size */

static bool loaded_here;
static int importer = -1;	/* /dev/pinmgr_test_importer */

/* ---- helpers ------------------------------------------------------- */

static int export(struct pinmgr_ctx *ctx, uint32_t h, uint64_t off,
		  uint64_t len)
{
	return pinmgr_export_dmabuf(ctx, h, off, len, 0);
}

static int export_ok(struct pinmgr_ctx *ctx, uint32_t h, uint64_t off,
		     uint64_t len)
{
	int fd = export(ctx, h, off, len);
	char b[32];

	ASSERT_MSG(fd >= 0, "EXPORT_DMABUF(handle %u, %llu, %llu): %s", h,
		   (unsigned long long)off, (unsigned long long)len,
		   h_retstr(b, sizeof(b), fd));
	return h_keep_fd(fd);
}

static int import(unsigned long cmd, int fd, uint32_t dir, uint32_t ops,
		  uint32_t max_seg, uint64_t seed, struct pti_map *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = fd;
	m->dir = dir;
	m->ops = ops;
	m->max_seg = max_seg;
	m->seed = seed;
	return ioctl(importer, cmd, m) ? -errno : 0;
}

static uint64_t fnv(const void *p, size_t len)
{
	return pti_fnv(PTI_FNV_INIT, p, len);
}

static void assert_pattern(const uint8_t *p, size_t len, uint64_t seed,
			   const char *what)
{
	size_t i;

	for (i = 0; i < len; i++)
		ASSERT_MSG(p[i] == pti_pattern(i, seed),
			   "%s: byte %zu of %zu is %#x, the importer wrote %#x",
			   what, i, len, p[i], pti_pattern(i, seed));
}

/* The page-aligned start of the pages the bytes at @p lie in. */
static uint8_t *page_of(const void *p)
{
	return (uint8_t *)((uintptr_t)p & ~(uintptr_t)(h_ps - 1));
}

/*
 * The sg entries an importer with segments of at most @max_seg bytes
 * should get for the pages of [@p, @p + @len): one per physically
 * contiguous run, split at @max_seg.
 */
static uint32_t expected_nents(const void *p, size_t len, uint64_t max_seg,
			       uint32_t *max_len)
{
	size_t npages = len / h_ps, i, run = 0;
	uint64_t *pfns = malloc(npages * sizeof(*pfns));
	uint32_t n = 0;

	ASSERT(pfns);

	h_pagemap_pfns(p, npages, pfns);
	*max_len = 0;
	for (i = 0; i <= npages; i++) {
		if (i && i < npages && pfns[i] && pfns[i] == pfns[i - 1] + 1) {
			run++;
			continue;
		}
		if (i) {
			uint64_t bytes = (run + 1) * h_ps;

			n += (bytes + max_seg - 1) / max_seg;
			if (bytes > max_seg)
				bytes = max_seg;
			if (bytes > *max_len)
				*max_len = bytes;
		}
		if (i < npages && !pfns[i]) {
			free(pfns);
			h_fail("page %zu of the buffer is not present", i);
		}
		run = 0;
	}
	free(pfns);
	return n;
}

static long long total(const char *name)
{
	long long v = h_total_of(name);

	ASSERT_MSG(v >= 0, "/sys/class/misc/pinmgr/stats/%s unreadable", name);
	return v;
}

/* Nothing exported, pinned or charged is left. */
static void assert_all_released(void)
{
	ASSERT_EQ(total("dmabufs"), 0);
	ASSERT_EQ(total("pinned_pages"), 0);
	ASSERT_EQ(total("regions"), 0);
	ASSERT_EQ(total("open_files"), 0);
	ASSERT_EQ(total("notifiers"), 0);
	ASSERT_EQ(total("metadata_bytes"), 0);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

static int module_refcnt(void)
{
	char buf[32] = "";

	ASSERT_OK(h_read_file("/sys/module/pinmgr/refcnt", buf, sizeof(buf)));
	return atoi(buf);
}

/*
 * Export the pages of [@p, @p + @len) (@len a multiple of the page size)
 * of region @h at @off, check the importer reads every byte of them in
 * order, through the sg list and the vmap, and with segments as
 * contiguous as the pages; then let it write them both ways and check the
 * process's mapping shows the bytes.
 */
static void check_through_importer(struct pinmgr_ctx *ctx, uint32_t h,
				   uint64_t off, uint8_t *p, size_t len)
{
	int fd = export_ok(ctx, h, off, len);
	uint32_t want_max, want;
	struct pti_map m;

	h_fill(p, len, 11);
	ASSERT_OK(import(PTI_MAP, fd, PTI_DIR_BIDIRECTIONAL, PTI_OP_VMAP, 0, 0, &m));
	ASSERT_EQ(m.out_size, len);
	ASSERT_MSG(m.out_hash == fnv(p, len),
		   "the bytes the importer read through the sg list differ from the process's");
	ASSERT_MSG(m.out_vhash == fnv(p, len),
		   "the bytes the importer read through the vmap differ from the process's");
	want = expected_nents(p, len, 0xffffffffULL & ~(uint64_t)(h_ps - 1), &want_max);
	ASSERT_EQ(m.out_nents, want);
	ASSERT_EQ(m.out_max_len, want_max);

	/* A device with 64 KiB segments gets the same bytes in more entries. */
	ASSERT_OK(import(PTI_MAP, fd, PTI_DIR_BIDIRECTIONAL, 0, 65536, 0, &m));
	ASSERT_MSG(m.out_hash == fnv(p, len), "64 KiB segments: bytes differ");
	want = expected_nents(p, len, 65536, &want_max);
	ASSERT_EQ(m.out_nents, want);
	ASSERT_EQ(m.out_max_len, want_max);

	/* The device writes, the process reads. */
	ASSERT_OK(import(PTI_MAP, fd, PTI_DIR_FROM_DEVICE, PTI_OP_WRITE_SG, 0, 5, &m));
	assert_pattern(p, len, 5, "after the importer wrote through the sg list");
	ASSERT_OK(import(PTI_MAP, fd, PTI_DIR_BIDIRECTIONAL, PTI_OP_WRITE_VMAP, 0, 9, &m));
	assert_pattern(p, len, 9, "after the importer wrote through the vmap");
	h_close_fd(fd);
}

/* 2 MiB-aligned anonymous memory of @len bytes. */
static uint8_t *aligned_anon(size_t len)
{
	uint8_t *p = h_map(len + HPS, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return (uint8_t *)(((uintptr_t)p + HPS - 1) & ~(HPS - 1));
}

/* ---- cases --------------------------------------------------------- */

CASE(info)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_info info;

	ASSERT_OK(pinmgr_info(ctx, &info, sizeof(info)));
	ASSERT_MSG(info.out_caps & PINMGR_CAP_EXPORT_DMABUF,
		   "INFO: no PINMGR_CAP_EXPORT_DMABUF on a kernel with dma-bufs");
	h_close(ctx);
}

CASE(errors)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(8 * h_ps);
	uint32_t h = h_pin(ctx, buf + 100, 4 * h_ps, PINMGR_PIN_WRITE);
	struct pinmgr_export_dmabuf e;
	int rofd;

	/* 4 pages from byte 100: 5 pages. */
	ASSERT_ERR(pinmgr_export_dmabuf(ctx, h, 0, h_ps, 1), EINVAL);
	ASSERT_ERR(export(ctx, h, 0, 0), EINVAL);
	ASSERT_ERR(export(ctx, h, 100, h_ps), EINVAL);
	ASSERT_ERR(export(ctx, h, 0, h_ps + 1), EINVAL);
	ASSERT_ERR(export(ctx, h + 1, 0, h_ps), ENOENT);
	ASSERT_ERR(export(ctx, 0, 0, h_ps), ENOENT);
	ASSERT_ERR(export(ctx, h, 5 * h_ps, h_ps), ERANGE);
	ASSERT_ERR(export(ctx, h, 0, 6 * h_ps), ERANGE);
	ASSERT_ERR(export(ctx, h, 4 * h_ps, 2 * h_ps), ERANGE);
	ASSERT_ERR(export(ctx, h, 2 * h_ps, -(uint64_t)h_ps), ERANGE);
	ASSERT_ERR(export(ctx, h, -(uint64_t)h_ps, 2 * h_ps), ERANGE);

	memset(&e, 0, sizeof(e));
	e.size = sizeof(e);
	e.handle = h;
	e.length = h_ps;
	e.__reserved = 1;
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_EXPORT_DMABUF, &e), EINVAL);
	e.__reserved = 0;
	e.__reserved2 = 1;
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_EXPORT_DMABUF, &e), EINVAL);
	e.__reserved2 = 0;
	e.size = offsetof(struct pinmgr_export_dmabuf, out_fd);
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_EXPORT_DMABUF, &e), EINVAL);

	/* An O_RDONLY file may only look. */
	rofd = h_keep_fd(open(PINMGR_DEFAULT_PATH, O_RDONLY | O_CLOEXEC));
	e.size = sizeof(e);
	ASSERT_ERR(h_ioctl(rofd, PINMGR_EXPORT_DMABUF, &e), EBADF);
	h_close_fd(rofd);

	ASSERT_EQ(total("dmabufs"), 0);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h_close(ctx);
	assert_all_released();
}

CASE(write_back_fails)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	struct pinmgr_export_dmabuf *e = h_map(h_ps, PROT_READ | PROT_WRITE,
					       MAP_PRIVATE | MAP_ANONYMOUS,
					       -1, 0);
	int next = dup(0);

	ASSERT_SYS(next);
	close(next);
	e->size = sizeof(*e);
	e->handle = h;
	e->length = h_ps;
	ASSERT_SYS(mprotect(e, h_ps, PROT_READ));
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_EXPORT_DMABUF, e), EFAULT);
	/* The descriptor was not installed, the dma-buf went at once. */
	ASSERT_EQ(dup(0), next);
	close(next);
	ASSERT_EQ(total("dmabufs"), 0);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h_close(ctx);
	assert_all_released();
}

CASE(fd_flags)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t rw = h_pin(ctx, buf, 2 * h_ps, PINMGR_PIN_WRITE);
	uint32_t ro = h_pin(ctx, buf + 2 * h_ps, 2 * h_ps, 0);
	int a = export_ok(ctx, rw, 0, 2 * h_ps);
	int b = export_ok(ctx, ro, h_ps, h_ps);
	void *p;

	ASSERT_EQ(fcntl(a, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ASSERT_EQ(fcntl(a, F_GETFL) & O_ACCMODE, O_RDWR);
	ASSERT_EQ(fcntl(b, F_GETFL) & O_ACCMODE, O_RDONLY);
	ASSERT_EQ(lseek(a, 0, SEEK_END), (off_t)(2 * h_ps));
	ASSERT_EQ(lseek(b, 0, SEEK_END), (off_t)h_ps);
	ASSERT_EQ(total("dmabufs"), 2);
	/* No mmap of the dma-buf: the dma-buf core says EINVAL. */
	p = mmap(NULL, h_ps, PROT_READ, MAP_SHARED, a, 0);
	ASSERT_MSG(p == MAP_FAILED && errno == EINVAL,
		   "mmap of the dma-buf: expected EINVAL, got %s",
		   p == MAP_FAILED ? h_errname(errno) : "a mapping");
	h_close_fd(a);
	h_close_fd(b);
	h_close(ctx);
	assert_all_released();
}

CASE(pages_unaligned)
{
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *buf = h_anon(24 * h_ps);
	/* 40000 bytes from byte 100 of page 1: pages 1 to 10. */
	uint32_t h = h_pin(ctx, buf + h_ps + 100, 40000, PINMGR_PIN_WRITE);
	struct pinmgr_query q;

	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));
	ASSERT_EQ(q.out_offset, 100);
	ASSERT_EQ(q.out_npages, 10);
	check_through_importer(ctx, h, 0, page_of(buf + h_ps + 100), 10 * h_ps);
	/* Mid-region: pages 3 to 6 of it. */
	check_through_importer(ctx, h, 3 * h_ps, buf + 4 * h_ps, 4 * h_ps);
	/* The last page alone. */
	check_through_importer(ctx, h, 9 * h_ps, buf + 10 * h_ps, h_ps);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h_close(ctx);
	assert_all_released();
}

CASE(thp)
{
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *p = aligned_anon(2 * HPS);
	uint32_t h;

	if (madvise(p, 2 * HPS, MADV_HUGEPAGE))
		h_skip("madvise(MADV_HUGEPAGE): %s (kernel without THP)",
		       h_errname(errno));
	memset(p, 1, 2 * HPS);
	h = h_pin(ctx, p, 2 * HPS, PINMGR_PIN_WRITE);
	check_through_importer(ctx, h, 0, p, 2 * HPS);
	/* From mid-way through the first huge page into the second. */
	check_through_importer(ctx, h, HPS / 2, p + HPS / 2, HPS);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h_close(ctx);
	assert_all_released();
}

/*
 * A file opened without CAP_SYS_ADMIN may not learn how contiguous its
 * pages are, and the scatter lists of its dma-bufs are charged to the
 * process that maps them: they get an entry per page, however the pages
 * lie (a THP would be one entry). Found by review.
 */
static void child_thp_no_cap(void *arg)
{
	uint8_t *p = aligned_anon(HPS);
	struct pinmgr_ctx *ctx;
	struct pti_map m;
	uint32_t h;
	int fd;

	(void)arg;
	if (madvise(p, HPS, MADV_HUGEPAGE))
		h_skip("madvise(MADV_HUGEPAGE): %s (kernel without THP)",
		       h_errname(errno));
	h_fill(p, HPS, 4);
	h_cap_drop(CAP_SYS_ADMIN);
	ctx = h_open();
	h = h_pin(ctx, p, HPS, PINMGR_PIN_WRITE);
	fd = export_ok(ctx, h, 0, HPS);
	ASSERT_OK(import(PTI_MAP, fd, PTI_DIR_BIDIRECTIONAL, 0, 0, 0, &m));
	ASSERT_MSG(m.out_hash == fnv(p, HPS), "the importer read other bytes");
	ASSERT_EQ(m.out_nents, HPS / h_ps);
	ASSERT_EQ(m.out_max_len, h_ps);
	/* The dma-buf's release may come later: the file's close waits. */
	h_close_fd(fd);
	h_close(ctx);
}

CASE(thp_no_cap)
{
	h_child_wait(h_child_start(child_thp_no_cap, NULL));
	assert_all_released();
}

CASE(hugetlb)
{
	struct pinmgr_ctx *ctx;
	uint8_t *p;
	uint32_t h;

	h_hugetlb_reserve(2);
	p = mmap(NULL, 2 * HPS, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED)
		h_skip("mmap(MAP_HUGETLB): %s (no free 2 MiB pages)",
		       h_errname(errno));
	h_keep_map(p, 2 * HPS);
	memset(p, 1, 2 * HPS);
	ctx = h_open();
	h = h_pin(ctx, p + 3, 2 * HPS - 3, PINMGR_PIN_WRITE);
	check_through_importer(ctx, h, 0, p, 2 * HPS);
	check_through_importer(ctx, h, HPS - h_ps, p + HPS - h_ps, 2 * h_ps);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h_close(ctx);
	assert_all_released();
}

CASE(read_only)
{
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *buf = h_anon(4 * h_ps);
	uint32_t h;
	struct pti_map m;
	int fd;

	h_fill(buf, 4 * h_ps, 3);
	h = h_pin(ctx, buf, 4 * h_ps, 0);
	fd = export_ok(ctx, h, 0, 4 * h_ps);
	ASSERT_OK(import(PTI_MAP, fd, PTI_DIR_TO_DEVICE, 0, 0, 0, &m));
	ASSERT_EQ(m.out_hash, fnv(buf, 4 * h_ps));
	/* The pages were pinned without FOLL_WRITE: no device writes them. */
	ASSERT_ERR(import(PTI_MAP, fd, PTI_DIR_TO_DEVICE, PTI_OP_VMAP, 0, 0, &m), EINVAL);
	ASSERT_ERR(import(PTI_MAP, fd, PTI_DIR_BIDIRECTIONAL, 0, 0, 0, &m), EACCES);
	ASSERT_ERR(import(PTI_MAP, fd, PTI_DIR_FROM_DEVICE, 0, 0, 0, &m), EACCES);
	h_close_fd(fd);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h_close(ctx);
	assert_all_released();
}

CASE(unpin_busy)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(8 * h_ps);
	uint32_t h = h_pin(ctx, buf, 4 * h_ps, PINMGR_PIN_WRITE);
	uint32_t other = h_pin(ctx, buf + 4 * h_ps, h_ps, 0);
	uint32_t both[2] = { other, h };
	struct pinmgr_pin_range r = { .addr = (uintptr_t)buf + 6 * h_ps,
				      .length = h_ps };
	struct pinmgr_stats st;
	int a = export_ok(ctx, h, 0, 4 * h_ps);
	int b = export_ok(ctx, h, h_ps, h_ps);

	ASSERT_ERR(pinmgr_unpin(ctx, h), EBUSY);
	/* UPDATE: refused before anything is pinned; nothing unpinned. */
	ASSERT_ERR(pinmgr_update(ctx, &h, 1, 0, &r, 1), EBUSY);
	ASSERT_ERR(pinmgr_unpin_vec(ctx, both, 2), EBUSY);
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 2);
	ASSERT_EQ(st.out_pinned_pages, 5);
	ASSERT_EQ(st.out_pins, 2);
	ASSERT_EQ(st.out_failed_pins, 0);
	h_close_fd(a);
	ASSERT_ERR(pinmgr_unpin(ctx, h), EBUSY);
	h_close_fd(b);
	ASSERT_OK(pinmgr_unpin_vec(ctx, both, 2));
	h_close(ctx);
	assert_all_released();
}

CASE(close_file_first)
{
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, 4 * h_ps, PINMGR_PIN_WRITE);
	int refcnt = module_refcnt();
	struct pti_map m;
	int fd = export_ok(ctx, h, 0, 4 * h_ps);

	h_pin(ctx, buf, h_ps, 0);	/* another region: goes with the file */
	h_close(ctx);
	/* The dma-buf holds its region: its pins, charge and module stay. */
	ASSERT_EQ(total("open_files"), 0);
	ASSERT_EQ(total("regions"), 1);
	ASSERT_EQ(total("pinned_pages"), 4);
	ASSERT_VMPIN_KB(PAGES_KB(4));
	/* Nobody is left to hear of its changes: it is not watched. */
	ASSERT_EQ(total("notifiers"), 0);
	ASSERT_MSG(module_refcnt() >= refcnt, "module refcnt %d, was %d",
		   module_refcnt(), refcnt);
	ASSERT_OK(import(PTI_MAP, fd, PTI_DIR_FROM_DEVICE, PTI_OP_WRITE_SG, 0, 21, &m));
	assert_pattern(buf, 4 * h_ps, 21, "after the pinmgr file was closed");
	h_close_fd(fd);
	assert_all_released();
}

/*
 * After the file's release each exported region goes with its own last
 * dma-buf: two regions, the first exported twice.
 */
CASE(close_then_each_region)
{
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *buf = h_anon(8 * h_ps);
	uint32_t a = h_pin(ctx, buf, 2 * h_ps, PINMGR_PIN_WRITE);
	uint32_t b = h_pin(ctx, buf + 4 * h_ps, 3 * h_ps, 0);
	int a1 = export_ok(ctx, a, 0, 2 * h_ps);
	int a2 = export_ok(ctx, a, h_ps, h_ps);
	int b1 = export_ok(ctx, b, 0, 3 * h_ps);

	h_close(ctx);
	ASSERT_EQ(total("regions"), 2);
	ASSERT_EQ(total("pinned_pages"), 5);
	h_close_fd(a1);
	ASSERT_EQ(total("pinned_pages"), 5);	/* a2 still holds a */
	h_close_fd(b1);
	ASSERT_EQ(total("regions"), 1);
	ASSERT_EQ(total("pinned_pages"), 2);
	ASSERT_VMPIN_KB(PAGES_KB(2));
	h_close_fd(a2);
	assert_all_released();
}

/*
 * DMA_BUF_IOCTL_SYNC brackets with mappings alive: every mapping is handed
 * to the CPU and back (its segments as they were mapped).
 */
CASE(cpu_access_sync)
{
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *buf = h_anon(64 * h_ps);
	uint32_t h = h_pin(ctx, buf, 64 * h_ps, PINMGR_PIN_WRITE);
	int fd = export_ok(ctx, h, 0, 64 * h_ps);
	struct dma_buf_sync sync;
	struct pti_map m;
	uint32_t slots[2];
	int i;

	ASSERT_OK(import(PTI_HOLD, fd, PTI_DIR_BIDIRECTIONAL, 0, 0, 0, &m));
	slots[0] = m.out_slot;
	ASSERT_OK(import(PTI_HOLD, fd, PTI_DIR_TO_DEVICE, 0, 16384 * 4, 0, &m));
	slots[1] = m.out_slot;
	for (i = 0; i < 3; i++) {
		sync.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW;
		ASSERT_SYS(ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));
		buf[i * h_ps] = (uint8_t)i;
		sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
		ASSERT_SYS(ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync));
	}
	for (i = 0; i < 2; i++)
		ASSERT_SYS(ioctl(importer, PTI_DROP, &slots[i]));
	h_close_fd(fd);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h_close(ctx);
	assert_all_released();
}

/* A device whose segments are smaller than a page cannot map it. */
CASE(segment_below_page)
{
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, 4 * h_ps, PINMGR_PIN_WRITE);
	int fd = export_ok(ctx, h, 0, 4 * h_ps);
	struct pti_map m;

	ASSERT_ERR(import(PTI_MAP, fd, PTI_DIR_BIDIRECTIONAL, 0, h_ps / 2, 0, &m), EINVAL);
	/* Exactly a page: one entry per page. */
	ASSERT_OK(import(PTI_MAP, fd, PTI_DIR_BIDIRECTIONAL, 0, h_ps, 0, &m));
	ASSERT_EQ(m.out_nents, 4);
	ASSERT_EQ(m.out_max_len, h_ps);
	h_close_fd(fd);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h_close(ctx);
	assert_all_released();
}

CASE(importer_holds_last)
{
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, 4 * h_ps, PINMGR_PIN_WRITE);
	int fd = export_ok(ctx, h, 0, 4 * h_ps);
	struct pti_map m;
	uint32_t slot;

	ASSERT_OK(import(PTI_HOLD, fd, PTI_DIR_BIDIRECTIONAL, 0, 0, 0, &m));
	slot = m.out_slot;
	h_close_fd(fd);
	ASSERT_ERR(pinmgr_unpin(ctx, h), EBUSY);
	h_close(ctx);
	ASSERT_EQ(total("dmabufs"), 1);
	ASSERT_EQ(total("pinned_pages"), 4);
	ASSERT_VMPIN_KB(PAGES_KB(4));
	ASSERT_SYS(ioctl(importer, PTI_DROP, &slot));
	assert_all_released();
}

CASE(importer_release)
{
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, 4 * h_ps, PINMGR_PIN_WRITE);
	int fd = export_ok(ctx, h, 0, 4 * h_ps);
	int imp = h_keep_fd(open("/dev/" PTI_NAME, O_RDWR | O_CLOEXEC));
	struct pti_map m = { .fd = fd, .dir = PTI_DIR_BIDIRECTIONAL };
	int i;

	/* Two drivers' attachments, then the first driver goes away. */
	for (i = 0; i < 3; i++)
		ASSERT_SYS(ioctl(imp, PTI_HOLD, &m));
	ASSERT_OK(import(PTI_HOLD, fd, PTI_DIR_TO_DEVICE, 0, 0, 0, &m));
	h_close_fd(fd);
	h_close(ctx);
	h_close_fd(imp);
	ASSERT_EQ(total("dmabufs"), 1);
	ASSERT_EQ(total("pinned_pages"), 4);
	ASSERT_SYS(ioctl(importer, PTI_DROP, &m.out_slot));
	assert_all_released();
}

/* The child pins and exports, sends the dma-buf and exits. */
static void child_export(void *arg)
{
	int sock = *(int *)arg;
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *buf = h_anon(8 * h_ps);
	uint32_t h = h_pin(ctx, buf, 8 * h_ps, PINMGR_PIN_WRITE);
	int fd = export_ok(ctx, h, 0, 8 * h_ps);

	h_fill(buf, 8 * h_ps, 33);
	h_send_fd(sock, fd);
}

CASE(owner_exits)
{
	int sv[2], fd;
	uint8_t *want = h_malloc(8 * h_ps);
	struct pti_map m;

	ASSERT_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	h_keep_fd(sv[0]);
	h_keep_fd(sv[1]);
	h_child_wait(h_child_start(child_export, &sv[1]));
	fd = h_keep_fd(h_recv_fd(sv[0]));
	/* The process is gone; its pages and its user's charge stay. */
	ASSERT_EQ(total("pinned_pages"), 8);
	ASSERT_EQ(total("open_files"), 0);
	h_fill(want, 8 * h_ps, 33);
	ASSERT_OK(import(PTI_MAP, fd, PTI_DIR_TO_DEVICE, 0, 0, 0, &m));
	ASSERT_MSG(m.out_hash == fnv(want, 8 * h_ps),
		   "the exited process's bytes differ through the importer");
	h_close_fd(fd);
	assert_all_released();
}

CASE(rmmod_while_exported)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	int fd = export_ok(ctx, h, 0, h_ps);
	long ret;

	h_close(ctx);
	ret = syscall(SYS_delete_module, "pinmgr", O_NONBLOCK);
	ASSERT_MSG(ret == -1 && errno == EWOULDBLOCK,
		   "delete_module(pinmgr) with only a dma-buf left: expected EWOULDBLOCK, got %ld (%s)",
		   ret, ret ? h_errname(errno) : "unloaded");
	h_close_fd(fd);
	assert_all_released();
}

CASE(diverged_still_exports)
{
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *buf = h_anon(4 * h_ps);
	uint8_t *copy = h_malloc(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, 4 * h_ps, PINMGR_PIN_WRITE);
	struct pti_map m;
	uint64_t differ;
	int fd;

	h_fill(buf, 4 * h_ps, 44);
	memcpy(copy, buf, 4 * h_ps);
	/* The process drops its pages: the device keeps the pinned ones. */
	ASSERT_SYS(madvise(buf, 4 * h_ps, MADV_DONTNEED));
	ASSERT_EQ(pinmgr_verify(ctx, h, &differ, NULL), 4);
	fd = export_ok(ctx, h, 0, 4 * h_ps);
	ASSERT_OK(import(PTI_MAP, fd, PTI_DIR_TO_DEVICE, 0, 0, 0, &m));
	ASSERT_MSG(m.out_hash == fnv(copy, 4 * h_ps),
		   "a diverged region's dma-buf does not hold the pinned bytes");
	ASSERT_EQ(total("diverged_regions"), 1);
	/* Closed: no longer watched, no longer counted as diverged. */
	h_close(ctx);
	ASSERT_EQ(total("regions"), 1);
	ASSERT_EQ(total("diverged_regions"), 0);
	ASSERT_EQ(total("notifiers"), 0);
	ASSERT_OK(import(PTI_MAP, fd, PTI_DIR_TO_DEVICE, 0, 0, 0, &m));
	ASSERT_EQ(m.out_hash, fnv(copy, 4 * h_ps));
	h_close_fd(fd);
	assert_all_released();
}

/* ---- races --------------------------------------------------------- */

#define RACE_ROUNDS	300

static struct {
	struct pinmgr_ctx *ctx;
	uint8_t *buf;
	int pfd;
	_Atomic uint32_t handle;
	atomic_bool stop;
	atomic_long exports, busy, gone;
} R;

/*
 * Export the current handle, map it in the importer, close it; until
 * RACE_ROUNDS dma-bufs were made (a handle may be unpinned meanwhile:
 * ENOENT, then try the next).
 */
static void *race_exporter(void *arg)
{
	int imp = *(int *)arg, made = 0, tries;

	for (tries = 0; made < RACE_ROUNDS && tries < 100 * RACE_ROUNDS &&
	     !h_thread_failure(); tries++) {
		struct pti_map m = { .dir = PTI_DIR_BIDIRECTIONAL };
		int fd = export(R.ctx, atomic_load(&R.handle), 0, 4 * h_ps);

		if (fd == -ENOENT) {
			atomic_fetch_add(&R.gone, 1);
			continue;
		}
		if (fd < 0) {
			h_fail("EXPORT_DMABUF: %s", h_errname(-fd));
			break;
		}
		m.fd = fd;
		if (ioctl(imp, PTI_MAP, &m))
			h_fail("importer map: %s", h_errname(errno));
		close(fd);
		made++;
		atomic_fetch_add(&R.exports, 1);
	}
	return NULL;
}

/*
 * Pin the next region, publish its handle, then unpin the last one, which
 * the exporters may be exporting meanwhile (EBUSY: try again); until the
 * exporters are done.
 */
static void *race_unpinner(void *arg)
{
	uint32_t old = atomic_load(&R.handle);
	int i, ret;

	(void)arg;
	for (i = 0; !atomic_load(&R.stop); i++) {
		struct pinmgr_pin pin;

		ret = h_pin_raw(R.ctx, R.buf + (i % 4) * h_ps, 4 * h_ps,
				PINMGR_PIN_WRITE, &pin);
		if (ret) {
			h_fail("PIN: %s", h_errname(-ret));
			return NULL;
		}
		atomic_store(&R.handle, pin.out_handle);
		while ((ret = pinmgr_unpin(R.ctx, old)) == -EBUSY)
			atomic_fetch_add(&R.busy, 1);
		if (ret) {
			h_fail("UNPIN: %s", h_errname(-ret));
			return NULL;
		}
		old = pin.out_handle;
	}
	return NULL;
}

/*
 * Two exporters against @mover, which moves the one handle's pages on
 * until they are done; then everything made is released.
 */
static void export_race(void *(*mover)(void *), const char *moves)
{
	int imps[2], i;
	pthread_t t[3];

	memset((void *)&R, 0, sizeof(R));
	R.ctx = h_open();
	R.buf = h_anon(8 * h_ps);
	atomic_store(&R.handle, h_pin(R.ctx, R.buf, 4 * h_ps, PINMGR_PIN_WRITE));
	for (i = 0; i < 2; i++) {
		imps[i] = h_keep_fd(open("/dev/" PTI_NAME, O_RDWR | O_CLOEXEC));
		ASSERT_EQ(h_thread_create(&t[i], race_exporter, &imps[i]), 0);
	}
	ASSERT_EQ(h_thread_create(&t[2], mover, NULL), 0);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	atomic_store(&R.stop, true);
	pthread_join(t[2], NULL);
	ASSERT_NO_THREAD_FAILURE();
	h_diag("%ld exports, %ld %s EBUSY, %ld EXPORT ENOENT",
	       atomic_load(&R.exports), atomic_load(&R.busy), moves,
	       atomic_load(&R.gone));
	ASSERT_EQ(atomic_load(&R.exports), 2 * RACE_ROUNDS);
	ASSERT_EQ(total("dmabufs"), 0);
	for (i = 0; i < 2; i++)
		h_close_fd(imps[i]);
	h_close(R.ctx);
	assert_all_released();
}

CASE(race_unpin_export)
{
	export_race(race_unpinner, "UNPIN");
}

/*
 * Replace the region of the one handle by the next buffer
 * (PINMGR_UPDATE_REPLACE) while the exporters export it: EBUSY while a
 * dma-buf of the region lives (try again), never ENOENT; until the
 * exporters are done. Each dma-buf is of the region the handle named when
 * it was made, and keeps it pinned until closed.
 */
static void *race_replacer(void *arg)
{
	uint32_t h = atomic_load(&R.handle);
	long replaced = 0;
	int i, ret;

	(void)arg;
	for (i = 1; !atomic_load(&R.stop); i++) {
		struct pinmgr_pin_range rg = {
			.addr = (uintptr_t)R.buf + (i % 4) * h_ps,
			.length = 4 * h_ps,
		};

		while ((ret = pinmgr_update(R.ctx, &h, 1, PINMGR_PIN_WRITE |
					    PINMGR_UPDATE_REPLACE, &rg, 1)) ==
		       -EBUSY)
			atomic_fetch_add(&R.busy, 1);
		if (ret || rg.out_handle != h) {
			h_fail("replace of %u: %s (out_handle %u)", h,
			       h_errname(-ret), rg.out_handle);
			return NULL;
		}
		replaced++;
	}
	h_diag("%ld replaces", replaced);
	return NULL;
}

CASE(race_replace_export)
{
	export_race(race_replacer, "replace");
	/* The handle never went away. */
	ASSERT_EQ(atomic_load(&R.gone), 0);
}

/*
 * Export through file number R.pfd until it is closed under us (EBADF; or
 * ENOTTY once the number names one of the dma-bufs made here); keep what
 * was made.
 */
static void *race_close_exporter(void *arg)
{
	int *fds = arg, n = 0, i;

	for (i = 0; i < RACE_ROUNDS; i++) {
		struct pinmgr_export_dmabuf e = {
			.size = sizeof(e),
			.handle = atomic_load(&R.handle),
			.length = h_ps,
		};
		int ret = h_ioctl(R.pfd, PINMGR_EXPORT_DMABUF, &e);

		if (ret == -EBADF || ret == -ENOTTY)
			break;
		if (ret) {
			h_fail("EXPORT_DMABUF: %s", h_errname(-ret));
			break;
		}
		if (n < 64)
			fds[n++] = e.out_fd;
		else
			close(e.out_fd);
		atomic_fetch_add(&R.exports, 1);
	}
	fds[n] = -1;
	return NULL;
}

CASE(race_close_export)
{
	int fds[65], i;
	struct pti_map m;
	pthread_t t;

	memset((void *)&R, 0, sizeof(R));
	R.ctx = h_open();
	R.buf = h_anon(2 * h_ps);
	h_fill(R.buf, 2 * h_ps, 55);
	atomic_store(&R.handle, h_pin(R.ctx, R.buf, 2 * h_ps, PINMGR_PIN_WRITE));
	R.pfd = dup(h_fd(R.ctx));
	ASSERT_SYS(R.pfd);
	ASSERT_EQ(h_thread_create(&t, race_close_exporter, fds), 0);
	while (atomic_load(&R.exports) < 8 && !h_thread_failure())
		sched_yield();
	close(R.pfd);
	h_close(R.ctx);
	pthread_join(t, NULL);
	ASSERT_NO_THREAD_FAILURE();
	/* Both descriptors are closed; the dma-bufs hold the region. */
	ASSERT_EQ(total("open_files"), 0);
	ASSERT_EQ(total("regions"), 1);
	for (i = 0; fds[i] >= 0; i++) {
		ASSERT_OK(import(PTI_MAP, fds[i], PTI_DIR_TO_DEVICE, 0, 0, 0, &m));
		ASSERT_EQ(m.out_hash, fnv(R.buf, h_ps));
		close(fds[i]);
	}
	assert_all_released();
}

/* A child maps an inherited dma-buf while the parent closes everything. */
static void child_import(void *arg)
{
	int fd = *(int *)arg, i;
	struct pti_map m;
	int imp = open("/dev/" PTI_NAME, O_RDWR | O_CLOEXEC);

	ASSERT_SYS(imp);
	for (i = 0; i < 100; i++) {
		memset(&m, 0, sizeof(m));
		m.fd = fd;
		m.dir = PTI_DIR_TO_DEVICE;
		ASSERT_SYS(ioctl(imp, PTI_MAP, &m));
		ASSERT_EQ(m.out_size, 4 * h_ps);
	}
	close(imp);
}

CASE(race_child_import)
{
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, 4 * h_ps, PINMGR_PIN_WRITE);
	int fd = export_ok(ctx, h, 0, 4 * h_ps);
	pid_t pid;

	pid = h_child_start(child_import, &fd);
	h_close_fd(fd);
	ASSERT_ERR(pinmgr_unpin(ctx, h), EBUSY);
	h_close(ctx);
	h_child_wait(pid);
	assert_all_released();
}

/*
 * The file's release against the dma-bufs' releases: each round, 8
 * regions, 6 of them exported (the first twice) and one dma-buf held
 * mapped by the importer; then, from 4 threads at once, the pinmgr file is
 * closed, the dma-bufs are closed and the importer drops its mapping.
 */
#define STORM_ROUNDS	150
#define STORM_THREADS	4

static struct {
	pthread_barrier_t go;
	struct pinmgr_ctx *ctx;
	int fds[7];
	uint32_t slot;
} ST;

static void *storm_thread(void *arg)
{
	int k = (int)(intptr_t)arg, i;

	pthread_barrier_wait(&ST.go);
	switch (k) {
	case 0:
		pinmgr_close(ST.ctx);
		break;
	case 1:
		if (ioctl(importer, PTI_DROP, &ST.slot))
			h_fail("PTI_DROP: %s", h_errname(errno));
		/* fall through */
	default:
		for (i = k - 1; i < 7; i += STORM_THREADS - 1)
			close(ST.fds[i]);
		break;
	}
	return NULL;
}

CASE(race_close_release_storm)
{
	uint8_t *buf = h_anon(16 * h_ps);
	pthread_t t[STORM_THREADS];
	uint32_t h[8];
	struct pti_map m;
	int r, i, n;

	for (r = 0; r < STORM_ROUNDS; r++) {
		ASSERT_OK(pinmgr_open(&ST.ctx));
		for (i = 0; i < 8; i++)
			ASSERT_OK(pinmgr_pin(ST.ctx, buf + 2 * i * h_ps, 2 * h_ps,
					     i % 2 ? 0 : PINMGR_PIN_WRITE, &h[i]));
		for (i = 0, n = 0; i < 6; i++) {
			ST.fds[n] = export(ST.ctx, h[i], 0, 2 * h_ps);
			ASSERT_MSG(ST.fds[n] >= 0, "EXPORT_DMABUF: %s",
				   h_errname(-ST.fds[n]));
			n++;
		}
		ST.fds[n] = export(ST.ctx, h[0], h_ps, h_ps);
		ASSERT(ST.fds[n] >= 0);
		ASSERT_OK(import(PTI_HOLD, ST.fds[0], PTI_DIR_BIDIRECTIONAL, 0, 0, 0, &m));
		ST.slot = m.out_slot;
		ASSERT_EQ(pthread_barrier_init(&ST.go, NULL, STORM_THREADS), 0);
		for (i = 0; i < STORM_THREADS; i++)
			ASSERT_EQ(h_thread_create(&t[i], storm_thread,
						  (void *)(intptr_t)i), 0);
		for (i = 0; i < STORM_THREADS; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&ST.go);
		ASSERT_NO_THREAD_FAILURE();
		assert_all_released();
	}
}

/* The exporting process exits while the receiver closes the dma-buf. */
static void child_export_exit(void *arg)
{
	int *io = arg;
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *buf = h_anon(64 * h_ps);
	uint32_t h = h_pin(ctx, buf, 64 * h_ps, PINMGR_PIN_WRITE);
	int fd = export_ok(ctx, h, 0, 64 * h_ps);

	h_send_fd(io[0], fd);
	h_wait_fd(io[0]);	/* then exit, while the parent closes */
}

CASE(race_exit_release)
{
	int r, sv[2], fd;
	pid_t pid;

	ASSERT_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	h_keep_fd(sv[0]);
	h_keep_fd(sv[1]);
	for (r = 0; r < 40; r++) {
		pid = h_child_start(child_export_exit, &sv[1]);
		fd = h_recv_fd(sv[0]);
		h_signal_fd(sv[0]);
		close(fd);
		h_child_wait(pid);
		assert_all_released();
	}
}

/* Handles about to go round, unpinned ones between: close, then each goes. */
CASE(close_at_handle_wrap)
{
	struct pinmgr_ctx *ctx;
	uint8_t *buf = h_anon(h_ps);
	uint32_t h[130];
	int fds[130], nfd = 0, i;

	h_param_set_for_case("test_first_handle", 0xFFFFFFC0u);
	ctx = h_open();
	for (i = 0; i < 130; i++)
		h[i] = h_pin(ctx, buf, h_ps, PINMGR_PIN_WRITE);
	ASSERT_EQ(h[0], 0xFFFFFFC0u);
	ASSERT_EQ(h[64], 1);	/* went round, skipping 0 */
	for (i = 1; i < 130; i += 2)
		ASSERT_OK(pinmgr_unpin(ctx, h[i]));
	for (i = 0; i < 130; i += 6)
		fds[nfd++] = export_ok(ctx, h[i], 0, h_ps);
	h_close(ctx);
	ASSERT_EQ(total("regions"), nfd);
	/* in an order unlike the handles' */
	for (i = 0; i < nfd; i += 2)
		h_close_fd(fds[i]);
	ASSERT_EQ(total("regions"), nfd / 2);
	for (i = 1; i < nfd; i += 2)
		h_close_fd(fds[i]);
	assert_all_released();
}

/*
 * A call that fails after pinning (PIN_VEC reaching a PROT_NONE range,
 * UPDATE finding a region it would unpin exported) undoes its new regions;
 * meanwhile another thread guesses the first new handle and exports it
 * (and, for UPDATE, the old region). The call must still leave nothing it
 * pinned behind: the guessed region loses its handle at once and goes
 * with its dma-buf.
 */
#define UNDO_RANGES	512

static struct {
	struct pinmgr_ctx *ctx;
	_Atomic uint32_t next, also;
	atomic_bool stop;
	atomic_int fd, fd_also;
} U;

static void *undo_guesser(void *arg)
{
	int fd;

	(void)arg;
	while (!atomic_load(&U.stop)) {
		fd = export(U.ctx, atomic_load(&U.next), 0, h_ps);
		if (fd < 0)
			continue;
		if (atomic_load(&U.also))
			atomic_store(&U.fd_also, export(U.ctx, atomic_load(&U.also), 0, h_ps));
		atomic_store(&U.fd, fd);
		break;
	}
	return NULL;
}

static void undo_race(bool update)
{
	uint8_t *buf = h_anon((UNDO_RANGES + 1) * h_ps);
	void *hole = h_map(h_ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pinmgr_pin_range *r = h_malloc((UNDO_RANGES + 1) * sizeof(*r));
	struct pinmgr_query q;
	struct pinmgr_stats st;
	uint32_t old = 0, x;
	int i, ret, round, hits = 0;
	pthread_t t;

	U.ctx = h_open();
	for (round = 0; round < 10; round++) {
		for (i = 0; i < UNDO_RANGES; i++) {
			r[i].addr = (uintptr_t)buf + i * h_ps;
			r[i].length = h_ps;
		}
		r[UNDO_RANGES].addr = (uintptr_t)hole;
		r[UNDO_RANGES].length = h_ps;
		if (update && !old)
			old = h_pin(U.ctx, buf + UNDO_RANGES * h_ps, h_ps, PINMGR_PIN_WRITE);
		/* The next handle: one after a pin and unpin. */
		x = h_pin(U.ctx, buf, h_ps, 0);
		ASSERT_OK(pinmgr_unpin(U.ctx, x));
		atomic_store(&U.next, x + 1);
		atomic_store(&U.also, update ? old : 0);
		atomic_store(&U.stop, false);
		atomic_store(&U.fd, -1);
		atomic_store(&U.fd_also, -1);
		ASSERT_EQ(h_thread_create(&t, undo_guesser, NULL), 0);
		if (update)
			ret = pinmgr_update(U.ctx, &old, 1, 0, r, UNDO_RANGES);
		else
			ret = pinmgr_pin_vec(U.ctx, 0, r, UNDO_RANGES + 1);
		atomic_store(&U.stop, true);
		pthread_join(t, NULL);
		ASSERT_NO_THREAD_FAILURE();
		if (update && !ret) {
			/* The guesser was too late: undo what UPDATE made. */
			if (atomic_load(&U.fd) >= 0)
				close(atomic_load(&U.fd));
			for (i = 0; i < UNDO_RANGES; i++)
				ASSERT_OK(pinmgr_unpin(U.ctx, r[i].out_handle));
			old = 0;
		} else {
			ASSERT_MSG(ret == (update ? -EBUSY : -EFAULT), "%s: %s",
				   update ? "UPDATE" : "PIN_VEC", h_errname(-ret));
			if (atomic_load(&U.fd) >= 0) {
				hits++;
				/* Taken out with the rest: its handle is gone. */
				ASSERT_ERR(pinmgr_query(U.ctx, x + 1, &q, sizeof(q)),
					   ENOENT);
				close(atomic_load(&U.fd));
			}
		}
		if (atomic_load(&U.fd_also) >= 0)
			close(atomic_load(&U.fd_also));
		/* Nothing of this call is left: at most the old region. */
		ASSERT_OK(pinmgr_stats(U.ctx, &st, sizeof(st)));
		ASSERT_EQ(st.out_regions, old ? 1 : 0);
		ASSERT_EQ(total("dmabufs"), 0);
	}
	h_diag("%s: the guesser exported a region being undone in %d of 10 rounds",
	       update ? "UPDATE" : "PIN_VEC", hits);
	h_close(U.ctx);
	assert_all_released();
}

CASE(race_export_during_undo_pin_vec)
{
	undo_race(false);
}

CASE(race_export_during_undo_update)
{
	undo_race(true);
}

/*
 * A region of more pages than the machine has RAM: a 64-page memfd mapped
 * again and again. vmap() refuses that many pages, and a .vmap that fails
 * makes dma_buf_vmap() warn, so such a dma-buf has no vmap at all: EINVAL,
 * and the kernel log stays clean. A small one of the same memfd has one.
 */
#define VMAP_ALIAS_PAGES 64

CASE(vmap_more_pages_than_ram)
{
	struct pinmgr_ctx *ctx = h_open();
	size_t chunk = VMAP_ALIAS_PAGES * h_ps, n, len;
	struct pinmgr_info info;
	struct sysinfo si;
	struct pti_map m;
	uint32_t h, small;
	uint64_t ram;
	char *base;
	int fd;

	h_case_timeout(300);
	ASSERT_SYS(sysinfo(&si));
	ram = (uint64_t)si.totalram * si.mem_unit / h_ps;	/* totalram_pages() */
	n = (ram + VMAP_ALIAS_PAGES) / VMAP_ALIAS_PAGES;	/* more than that */
	len = n * chunk;
	ASSERT_OK(pinmgr_info(ctx, &info, sizeof(info)));
	if (len / h_ps > info.out_max_pages_per_pin)
		h_skip("%zu pages: more than max_pages_per_pin", len / h_ps);
	base = h_memfd_aliases(chunk, n);
	h_fill(base, chunk, 9);

	small = h_pin(ctx, base, chunk, PINMGR_PIN_WRITE);
	fd = export_ok(ctx, small, 0, chunk);
	ASSERT_OK(import(PTI_MAP, fd, PTI_DIR_BIDIRECTIONAL, PTI_OP_VMAP_ONLY, 0, 0, &m));
	h_close_fd(fd);

	h = h_pin(ctx, base, len, PINMGR_PIN_WRITE);
	fd = export_ok(ctx, h, 0, len);
	h_diag("%zu pages exported, RAM %llu pages", len / h_ps,
	       (unsigned long long)ram);
	ASSERT_ERR(import(PTI_MAP, fd, PTI_DIR_BIDIRECTIONAL, PTI_OP_VMAP_ONLY, 0, 0, &m),
		   EINVAL);
	h_close_fd(fd);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	ASSERT_OK(pinmgr_unpin(ctx, small));
	h_close(ctx);
	assert_all_released();
}

/* ---- a receiver's close does not wait for the exporter's lookups -- */

/* Ranges of PIN_VEC's first chunk (PINMGR_VEC_CHUNK in the module). */
#define STALL_CHUNK 4

static struct {
	struct pinmgr_ctx *ctx;
	struct pinmgr_pin_range *r;
	void *trap;
	uint32_t h;
	int vec_ret, seg_ret, dmabuf, done;
} S;

static void *stall_pin_vec(void *arg)
{
	(void)arg;
	S.vec_ret = pinmgr_pin_vec(S.ctx, 0, S.r, STALL_CHUNK + 1);
	return NULL;
}

static void *stall_segments(void *arg)
{
	(void)arg;
	S.seg_ret = pinmgr_segments(S.ctx, S.h, 0, 0, S.trap, 1);
	return NULL;
}

static void receiver_closes(void *arg)
{
	int *go = arg;

	h_wait_fd(go[0]);
	close(S.dmabuf);		/* the last reference */
	h_signal_fd(S.done);
}

/* Wait for the userfaultfd fault at @addr: a thread is parked on it. */
static void uffd_wait_fault(int uffd, const void *addr)
{
	struct uffd_msg msg;

	ASSERT_EQ(read(uffd, &msg, sizeof(msg)), sizeof(msg));
	ASSERT_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
	ASSERT_EQ(msg.arg.pagefault.address & ~(uint64_t)(h_ps - 1),
		  (uintptr_t)addr);
}

/* Map a zero page at @addr: the thread parked on it goes on. */
static void uffd_serve(int uffd, void *addr)
{
	struct uffdio_zeropage zp = {
		.range = { .start = (uintptr_t)addr, .len = h_ps },
	};

	ASSERT_SYS(ioctl(uffd, UFFDIO_ZEROPAGE, &zp));
}

static void uffd_register(int uffd, void *addr)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = h_ps },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	ASSERT_SYS(ioctl(uffd, UFFDIO_REGISTER, &reg));
}

/*
 * The region a PIN_VEC is undoing has been exported meanwhile, so the undo
 * leaves it to the dma-buf's last close; a SEGMENTS of it is parked on a
 * userfaultfd page in its copy-out, holding a lookup. Another process then
 * closes the dma-buf: its close() returns at once, and the parked lookup,
 * once it ends, releases the pages. The PIN_VEC is parked too, reading its
 * second chunk of ranges from a userfaultfd page (GUP of a long-term pin
 * does not wait for userfaultfd, a user copy does); served as a zero page,
 * that chunk's range of length 0 fails the call. Every step waits on a
 * fault itself, not on time; the 30 s bound only turns a hang into a
 * failure.
 */
CASE(receiver_close_during_lookup)
{
	struct uffdio_api api = { .api = UFFD_API };
	uint8_t *buf = h_anon(STALL_CHUNK * h_ps);
	uint8_t *arr = h_anon_untouched(2 * h_ps);
	struct pollfd pfd;
	pthread_t vec, seg;
	int uffd, go[2], done[2], ready, i;
	uint32_t x;
	pid_t pid;

	h_case_timeout(180);
	S.trap = h_anon_untouched(h_ps);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0)
		h_skip("userfaultfd: %s", h_errname(errno));
	h_keep_fd(uffd);
	ASSERT_SYS(ioctl(uffd, UFFDIO_API, &api));
	/* The first chunk ends a plain page, the second starts a trapped one. */
	memset(arr, 0, h_ps);
	uffd_register(uffd, arr + h_ps);
	uffd_register(uffd, S.trap);
	S.r = (struct pinmgr_pin_range *)(arr + h_ps) - STALL_CHUNK;
	for (i = 0; i < STALL_CHUNK; i++)
		S.r[i] = (struct pinmgr_pin_range){
			.addr = (uintptr_t)buf + i * h_ps, .length = h_ps };

	S.ctx = h_open();
	/* The next handle: one after a pin and unpin. */
	x = h_pin(S.ctx, buf, h_ps, 0);
	ASSERT_OK(pinmgr_unpin(S.ctx, x));
	S.h = x + 1;

	/* PIN_VEC has pinned its first chunk (S.h on) and reads the next. */
	ASSERT_EQ(h_thread_create(&vec, stall_pin_vec, NULL), 0);
	uffd_wait_fault(uffd, arr + h_ps);
	S.dmabuf = export(S.ctx, S.h, 0, h_ps);
	ASSERT_MSG(S.dmabuf >= 0, "EXPORT_DMABUF of handle %u: %s", S.h,
		   h_errname(-S.dmabuf));
	h_keep_fd(S.dmabuf);
	/* A lookup of S.h parked in SEGMENTS' copy-out. */
	ASSERT_EQ(h_thread_create(&seg, stall_segments, NULL), 0);
	uffd_wait_fault(uffd, S.trap);
	/* A range of length 0: the undo leaves S.h to the dma-buf. */
	uffd_serve(uffd, arr + h_ps);
	pthread_join(vec, NULL);
	ASSERT_ERR(S.vec_ret, EINVAL);

	h_pipe(go);
	h_pipe(done);
	S.done = done[1];
	pid = h_child_start(receiver_closes, go);
	h_close_fd(S.dmabuf);
	h_signal_fd(go[1]);
	pfd = (struct pollfd){ .fd = done[0], .events = POLLIN };
	ready = poll(&pfd, 1, h_bound_ms(30000));
	/* Let the lookup end either way, so that nothing stays parked. */
	uffd_serve(uffd, S.trap);
	pthread_join(seg, NULL);
	ASSERT_MSG(ready == 1,
		   "another process's close() of the dma-buf waited for this process's SEGMENTS parked on a userfaultfd page");
	h_child_wait(pid);
	ASSERT_NO_THREAD_FAILURE();
	/* The lookup ran to its end on the region it held. */
	ASSERT_EQ(S.seg_ret, 1);
	ASSERT_ERR(pinmgr_query(S.ctx, S.h, &(struct pinmgr_query){ 0 },
				sizeof(struct pinmgr_query)), ENOENT);
	h_close(S.ctx);
	assert_all_released();
}

/* Last: nothing of the importer is in use any more. */
CASE(unload)
{
	close(importer);
	importer = -1;
	if (!loaded_here)
		h_skip(PTI_NAME ".ko was loaded before this program");
	ASSERT_SYS(syscall(SYS_delete_module, PTI_NAME, O_NONBLOCK));
}

static const struct h_case cases[] = {
	H_CASE(info, "INFO reports PINMGR_CAP_EXPORT_DMABUF"),
	H_CASE(errors, "flags, reserved, short struct, zero or unaligned offset/length -> EINVAL; no handle -> ENOENT; beyond the pages or wrapping -> ERANGE; O_RDONLY file -> EBADF; no fd or dma-buf left"),
	H_CASE(write_back_fails, "the struct cannot be written back -> EFAULT, no fd installed, the dma-buf released at once"),
	H_CASE(fd_flags, "close-on-exec; O_RDWR for a writable pin, O_RDONLY for a read-only one; size = length; mmap -> EINVAL"),
	H_CASE(pages_unaligned, "a region from byte 100: whole, mid-region and last page read and written by the importer through sg and vmap, entries as contiguous as the pages"),
	H_CASE(thp, "THP: 2 huge pages and a range across them -> 2 MiB entries (64 KiB with a 64 KiB device), every byte"),
	H_CASE(thp_no_cap, "a file opened without CAP_SYS_ADMIN: a THP's dma-buf has an entry per page (its tables' size tells nothing of the layout), every byte"),
	H_CASE(hugetlb, "hugetlb: 2 huge pages and a range across them -> every byte, entries as contiguous as the pages"),
	H_CASE(read_only, "a read-only pin: the device may read; BIDIRECTIONAL or FROM_DEVICE -> EACCES; no vmap -> EINVAL"),
	H_CASE(unpin_busy, "UNPIN, UPDATE, UNPIN_VEC of an exported region -> EBUSY, nothing changed, until the last dma-buf closes"),
	H_CASE(close_file_first, "close the pinmgr file first: the other region goes, the exported one (pins, charge, module) stays; the importer still writes it; the dma-buf's close releases all"),
	H_CASE(close_then_each_region, "after the file's release each exported region goes with its own last dma-buf (a region exported twice waits for both)"),
	H_CASE(cpu_access_sync, "DMA_BUF_IOCTL_SYNC start/end with two importers' mappings alive (one with 64 KiB segments)"),
	H_CASE(segment_below_page, "a device with segments below a page -> EINVAL; exactly a page -> one entry per page"),
	H_CASE(importer_holds_last, "dma-buf fd and pinmgr file closed while the importer holds it mapped: pinned until it detaches"),
	H_CASE(importer_release, "two importers' attachments; the importer file's release detaches, the last detach releases all"),
	H_CASE(owner_exits, "the exporting process exits after sending the dma-buf: pages stay pinned with its bytes until the receiver closes it"),
	H_CASE(rmmod_while_exported, "delete_module(pinmgr) with only a dma-buf left -> EWOULDBLOCK"),
	H_CASE(diverged_still_exports, "a region whose pages were dropped from the mapping exports the pinned bytes, VERIFY says 4 differ; after close it is neither watched nor counted diverged, and still exports them"),
	H_CASE(race_unpin_export, "2 threads export+map+close while a third pins the next region and unpins the last (EBUSY while exported): only EBUSY/ENOENT, all released"),
	H_CASE(race_replace_export, "2 threads export+map+close the one handle while a third replaces its region (UPDATE_REPLACE; EBUSY while exported): never ENOENT, all released"),
	H_CASE(race_close_export, "the pinmgr fd closed while a thread exports from it: EBADF after, every dma-buf made still reads the region, all released"),
	H_CASE(race_child_import, "a child maps an inherited dma-buf 100 times while the parent closes the dma-buf and the pinmgr file"),
	H_CASE(race_close_release_storm, "150 rounds: the pinmgr file closed, 7 dma-bufs of 6 regions closed and the importer's mapping dropped from 4 threads at once: all released each round"),
	H_CASE(race_exit_release, "40 rounds: the exporting process exits while the receiver closes its dma-buf: all released"),
	H_CASE(close_at_handle_wrap, "handles going round past 0xffffffff, every other unpinned, every third of those left exported: close keeps exactly the exported, each goes with its dma-buf"),
	H_CASE(race_export_during_undo_pin_vec, "PIN_VEC failing EFAULT after 512 pins while a thread exports the first new handle: the call keeps nothing (the guessed region goes with its dma-buf)"),
	H_CASE(race_export_during_undo_update, "UPDATE failing EBUSY (its old region exported meanwhile) while a thread exports the first new handle: the call keeps nothing"),
	H_CASE(vmap_more_pages_than_ram, "a writable region of more pages than RAM (one memfd mapped again and again): its dma-buf has no vmap (EINVAL, no warning); a small one of the same pages has"),
	H_CASE(receiver_close_during_lookup, "another process closes the last dma-buf of a region a PIN_VEC undid while a SEGMENTS of it is parked on userfaultfd: its close() returns, the lookup's end releases the pages"),
	H_CASE(unload, PTI_NAME " unloads"),
};

static int importer_load(void)
{
	return h_module_load("dmabuf-data/" PTI_NAME ".ko", &loaded_here);
}

int main(void)
{
	int ret;

	/* Not root, or no module: h_main() says so and skips. */
	if (geteuid() || access(PINMGR_DEFAULT_PATH, F_OK))
		return h_main(cases, ARRAY_SIZE(cases));
	ret = importer_load();
	if (ret) {
		fprintf(stderr, "dmabuf: cannot load %s.ko: %s\n", PTI_NAME,
			strerror(-ret));
		return 1;
	}
	importer = open("/dev/" PTI_NAME, O_RDWR | O_CLOEXEC);
	if (importer < 0) {
		fprintf(stderr, "dmabuf: open /dev/%s: %s\n", PTI_NAME,
			strerror(errno));
		return 1;
	}
	return h_main(cases, ARRAY_SIZE(cases));
}
