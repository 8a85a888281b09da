// SPDX-License-Identifier: GPL-2.0
/*
 * Memory types: one case per kind of memory a process may hand to pinmgr,
 * pinned writable and read-only. For every pin that succeeds: the PIN
 * result, the segments (a per-type expectation, checked against
 * /proc/self/pagemap), that what the device writes (PINMGR_ACCESS) is what
 * the process sees through its mapping, that what the process stores after
 * the pin is what the device reads, and that unpinning returns VmPin and
 * the file's stats to 0. For every pin that must fail: the exact errno and
 * that nothing stayed pinned. Then the errno paths of PINMGR_ACCESS itself.
 *
 * PINMGR_ACCESS only works on files opened while the module parameter
 * test_access is set: main() sets it and an atexit()/signal handler puts
 * the old value back.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "harness.h"

#define HPS		(2UL << 20)	/* THP / hugetlb page size */
#define TA_PARAM	"/sys/module/pinmgr/parameters/test_access"

/* Seeds of the byte patterns (0 means all zero bytes). */
enum {
	S_ZERO,
	S_INIT,		/* content at pin time */
	S_DEV,		/* the device writes the whole region */
	S_DEVPATCH,	/* the device writes a few bytes */
	S_PROC,		/* the process writes the whole region */
	S_PROCPATCH,	/* the process writes a few bytes */
	S_OTHER,	/* memory around the region */
	S_SECOND,	/* writes through a second mapping */
	S_PWRITE,	/* pwrite() to the file */
	S_DEV2,
	S_FILE,
};

#define PATCH_LEN	256

/* ---- test_access: set for the whole program, restored at exit ----- */

static char ta_saved[32];	/* value before main() changed it */
static bool ta_have_saved;
static int ta_err;		/* why it could not be set to 1 */
static pid_t ta_pid;
static struct sigaction harness_alrm;
static bool alrm_chained;

/* Async-signal-safe. */
static int ta_write(const char *s)
{
	int fd = open(TA_PARAM, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	return (size_t)n == strlen(s) ? 0 : -EIO;
}

static int ta_read(char *buf, size_t len)
{
	int fd = open(TA_PARAM, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? -err : -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static void ta_restore(void)
{
	if (!ta_have_saved || getpid() != ta_pid)
		return;
	ta_write(ta_saved);
	ta_have_saved = false;
}

static void ta_on_signal(int sig)
{
	ta_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* The harness's per-case timeout _exit()s from its SIGALRM handler. */
static void ta_on_alarm(int sig)
{
	ta_restore();
	if (harness_alrm.sa_handler != SIG_DFL &&
	    harness_alrm.sa_handler != SIG_IGN)
		harness_alrm.sa_handler(sig);
	_exit(1);
}

static void chain_alarm(void)
{
	struct sigaction sa;

	if (alrm_chained)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ta_on_alarm;
	sigaction(SIGALRM, NULL, &harness_alrm);
	sigaction(SIGALRM, &sa, NULL);
	alrm_chained = true;
}

static void ta_setup(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGSEGV,
				    SIGBUS, SIGABRT, SIGILL, SIGFPE };
	size_t i;

	ta_pid = getpid();
	ta_err = ta_read(ta_saved, sizeof(ta_saved));
	if (ta_err)
		return;
	ta_have_saved = true;
	atexit(ta_restore);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], ta_on_signal);
	ta_err = ta_write("1\n");
}

static char ta_token;	/* h_defer() key of ta_back_on() */

static void ta_back_on(void *p, size_t n)
{
	(void)p;
	(void)n;
	ta_write("1\n");
}

static void need_test_access(void)
{
	char b[32];

	chain_alarm();
	if (ta_err)
		h_fail("cannot set %s to 1: %s (pinmgr.ko without PINMGR_ACCESS?)",
		       TA_PARAM, h_retstr(b, sizeof(b), ta_err));
}

/* A pinmgr file on which PINMGR_ACCESS works. */
static struct pinmgr_ctx *dev_open(void)
{
	struct pinmgr_ctx *ctx;
	struct pinmgr_info in;

	need_test_access();
	ctx = h_open();
	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	ASSERT_MSG(in.out_caps & PINMGR_CAP_TEST_ACCESS,
		   "INFO out_caps 0x%llx lacks PINMGR_CAP_TEST_ACCESS although test_access is 1",
		   (unsigned long long)in.out_caps);
	return ctx;
}

/* Whether this kernel has transparent huge pages at all (PREEMPT_RT has not). */
static bool thp_built(void)
{
	return !access("/sys/kernel/mm/transparent_hugepage", F_OK);
}

static void require_thp(void)
{
	if (!thp_built())
		h_skip("kernel without transparent huge pages");
}

/*
 * Keeps THP away from @len bytes at @p. A kernel without THP answers
 * EINVAL, and then there is nothing to keep away.
 */
static void no_thp(void *p, size_t len)
{
	if (madvise(p, len, MADV_NOHUGEPAGE) && (errno != EINVAL || thp_built()))
		h_fail("madvise(MADV_NOHUGEPAGE): %s", h_errname(errno));
}

/* ---- byte patterns ------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Byte @off.. of pattern @seed into @p (all zero for S_ZERO). */
static void fill(void *p, size_t len, unsigned int seed, uint64_t off)
{
	unsigned char *b = p;
	uint64_t w = 0;
	size_t i;

	if (seed == S_ZERO) {
		memset(p, 0, len);
		return;
	}
	for (i = 0; i < len; i++) {
		uint64_t o = off + i;

		if (i == 0 || o % 8 == 0)
			w = mix64(((uint64_t)seed << 48) ^ (o / 8));
		b[i] = (unsigned char)(w >> (8 * (o % 8)));
	}
}

static unsigned char *pattern(size_t len, unsigned int seed, uint64_t off)
{
	unsigned char *b = h_malloc(len);

	fill(b, len, seed, off);
	return b;
}

static unsigned char *copy_of(const void *p, size_t len)
{
	unsigned char *b = h_malloc(len);

	memcpy(b, p, len);
	return b;
}

__attribute__((format(printf, 6, 7)))
static void check_bytes_at(const char *file, int line, const void *got,
			   const void *want, size_t len, const char *fmt, ...)
{
	const unsigned char *g = got, *w = want;
	size_t i, first = 0, bad = 0;
	char what[256];
	va_list ap;

	if (!memcmp(got, want, len))
		return;
	for (i = 0; i < len; i++) {
		if (g[i] != w[i] && !bad++)
			first = i;
	}
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	h_fail_at(file, line,
		  "%s: %zu of %zu bytes differ, first at offset %zu: 0x%02x, expected 0x%02x",
		  what, bad, len, first, g[first], w[first]);
}

#define CHECK_BYTES(got, want, len, ...) \
	check_bytes_at(__FILE__, __LINE__, got, want, len, __VA_ARGS__)

/* ---- /proc, /sys and files ---------------------------------------- */

/*
 * Looks up "@key:" in the /proc/self/smaps entry of the VMA holding @addr.
 * Returns false if there is no such VMA or line; *start and *end (if not NULL)
 * get the VMA's bounds.
 */
static bool smaps_field(const void *addr, const char *key, char *val,
			size_t vlen, uintptr_t *start, uintptr_t *end)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	size_t klen = strlen(key), cap = 0;
	uintptr_t a = (uintptr_t)addr;
	bool in = false, found = false;
	char *line = NULL;

	if (!f)
		h_fail("open /proc/self/smaps: %s", h_errname(errno));
	while (getline(&line, &cap, f) > 0) {
		unsigned long s, e;
		char c;

		if (sscanf(line, "%lx-%lx %c", &s, &e, &c) == 3) {
			if (in)
				break;
			in = s <= a && a < e;
			if (in && start)
				*start = s;
			if (in && end)
				*end = e;
			continue;
		}
		if (in && !strncmp(line, key, klen) && line[klen] == ':') {
			const char *v = line + klen + 1;

			v += strspn(v, " \t");
			snprintf(val, vlen, "%s", v);
			val[strcspn(val, "\n")] = '\0';
			found = true;
			break;
		}
	}
	free(line);
	fclose(f);
	return found;
}

static long smaps_kb(const void *addr, const char *key)
{
	char v[256];

	if (!smaps_field(addr, key, v, sizeof(v), NULL, NULL))
		h_fail("/proc/self/smaps: no %s line for the VMA at %p", key,
		       addr);
	return strtol(v, NULL, 10);
}

static void read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		h_skip("open %s: %s", path, h_errname(errno));
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		h_fail("read %s: %s", path, h_errname(errno));
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static void pread_all(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	if (n != (ssize_t)len)
		h_fail("pread(%zu bytes at %lld): %zd (%s)", len,
		       (long long)off, n, n < 0 ? h_errname(errno) : "short");
}

static void pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t n = pwrite(fd, buf, len, off);

	if (n != (ssize_t)len)
		h_fail("pwrite(%zu bytes at %lld): %zd (%s)", len,
		       (long long)off, n, n < 0 ? h_errname(errno) : "short");
}

/* A file of @len bytes on tmpfs: /dev/shm, /tmp or a fresh mount. */
static int tmpfs_file(size_t len)
{
	static const char *const dirs[] = { "/dev/shm", "/tmp" };
	struct statfs sf;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (!statfs(dirs[i], &sf) && sf.f_type == TMPFS_MAGIC)
			return h_tmpfile(dirs[i], len);
	}
	return h_tmpfile(h_mount_tmp("tmpfs"), len);
}

static int memfd(size_t len)
{
	int fd = memfd_create("pinmgr-memtypes", MFD_CLOEXEC);

	if (fd < 0)
		h_fail("memfd_create: %s", h_errname(errno));
	h_keep_fd(fd);
	ASSERT_SYS(ftruncate(fd, len));
	return fd;
}

/* ---- FOLL_PIN accounting ------------------------------------------ */

struct foll {
	uint64_t acq, rel;
};

static void foll_snap(struct foll *f)
{
	char b[32];
	int ret = h_foll_pins(&f->acq, &f->rel);

	if (ret < 0)
		h_fail("reading nr_foll_pin_* from /proc/vmstat: %s",
		       h_retstr(b, sizeof(b), ret));
}

static void foll_balanced_since(const struct foll *f0)
{
	struct foll f1;

	foll_snap(&f1);
	ASSERT_MSG(f1.acq - f0->acq == f1.rel - f0->rel,
		   "/proc/vmstat: %" PRIu64 " FOLL_PINs acquired but %" PRIu64
		   " released since the case began",
		   f1.acq - f0->acq, f1.rel - f0->rel);
}

/* After failed PINs: no region, no page, @failed failed PINs, VmPin 0. */
static void assert_nothing_pinned(struct pinmgr_ctx *ctx, uint64_t failed,
				  const struct foll *f0)
{
	struct pinmgr_stats st;

	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 0);
	ASSERT_EQ(st.out_pinned_pages, 0);
	ASSERT_EQ(st.out_pins, 0);
	ASSERT_EQ(st.out_failed_pins, failed);
	ASSERT_VMPIN_KB(0);
	foll_balanced_since(f0);
}

/* A PIN that must fail with @err, leaving the out_ fields alone. */
static void pin_fails(struct pinmgr_ctx *ctx, const void *addr, uint64_t len,
		      uint32_t flags, int err)
{
	struct pinmgr_pin p;

	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.flags = flags;
	p.addr = (uintptr_t)addr;
	p.length = len;
	p.out_handle = 0xdeadbeef;
	ASSERT_RET_STR(h_ioctl(h_fd(ctx), PINMGR_PIN, &p), -(long long)err,
		       flags & PINMGR_PIN_WRITE ? "writable PIN" : "read-only PIN");
	ASSERT_EQ(p.out_handle, 0xdeadbeef);
}

/* ---- regions ------------------------------------------------------ */

struct region {
	struct pinmgr_ctx *ctx;
	char *addr;
	uint64_t len;
	uint64_t npages;
	uint32_t flags;
	uint32_t handle;
};

static uint64_t npages_of(uintptr_t addr, uint64_t len)
{
	uintptr_t first = addr & ~(uintptr_t)(h_ps - 1);

	return (addr + len - first + h_ps - 1) / h_ps;
}

static bool writable(const struct region *r)
{
	return r->flags & PINMGR_PIN_WRITE;
}

/* PIN that must succeed; checks the result, QUERY, STATS and VmPin. */
static void region_pin(struct region *r, struct pinmgr_ctx *ctx, void *addr,
		       uint64_t len, uint32_t flags)
{
	struct pinmgr_stats st;
	struct pinmgr_query q;
	struct pinmgr_pin p;

	memset(r, 0, sizeof(*r));
	r->ctx = ctx;
	r->addr = addr;
	r->len = len;
	r->flags = flags;
	r->npages = npages_of((uintptr_t)addr, len);

	ASSERT_RET_STR(h_pin_raw(ctx, addr, len, flags, &p), 0,
		       flags & PINMGR_PIN_WRITE ? "writable PIN" : "read-only PIN");
	ASSERT_NE(p.out_handle, 0);
	ASSERT_EQ(p.out_offset, (uintptr_t)addr % h_ps);
	ASSERT_EQ(p.out_npages, r->npages);
	r->handle = p.out_handle;

	ASSERT_OK(pinmgr_query(ctx, r->handle, &q, sizeof(q)));
	ASSERT_EQ(q.out_addr, (uintptr_t)addr);
	ASSERT_EQ(q.out_length, len);
	ASSERT_EQ(q.out_flags, flags);
	ASSERT_EQ(q.out_npages, r->npages);
	ASSERT_EQ(q.out_offset, (uintptr_t)addr % h_ps);
	ASSERT_MSG(q.out_nsegs >= 1 && q.out_nsegs <= r->npages,
		   "QUERY out_nsegs %llu for %llu pages",
		   (unsigned long long)q.out_nsegs,
		   (unsigned long long)r->npages);

	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 1);
	ASSERT_EQ(st.out_pinned_pages, r->npages);
	ASSERT_VMPIN_KB(PAGES_KB(r->npages));
}

/* UNPIN; then the handle is gone and nothing is pinned or charged. */
static void region_unpin(struct region *r)
{
	struct pinmgr_stats st;
	struct pinmgr_query q;

	ASSERT_OK(pinmgr_unpin(r->ctx, r->handle));
	ASSERT_ERR(pinmgr_query(r->ctx, r->handle, &q, sizeof(q)), ENOENT);
	ASSERT_OK(pinmgr_stats(r->ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 0);
	ASSERT_EQ(st.out_pinned_pages, 0);
	ASSERT_VMPIN_KB(0);
}

/*
 * SEGMENTS with physical addresses: they must cover the region and be
 * exactly the physically contiguous runs /proc/self/pagemap shows for the
 * mapping now (which maps the pinned pages). Returns the count.
 */
static size_t region_segments(const struct region *r,
			      struct pinmgr_segment **segsp)
{
	struct pinmgr_segment *got, *want;
	size_t n, m, i;

	n = h_read_segments(r->ctx, r->handle, PINMGR_SEGMENTS_PHYS, 64, &got);
	h_check_segments_cover(got, n, r->npages);
	m = h_expected_segments(r->addr, r->len, &want);
	ASSERT_MSG(n == m,
		   "%zu segments, but /proc/self/pagemap shows %zu physically contiguous runs",
		   n, m);
	for (i = 0; i < n; i++) {
		ASSERT_MSG(got[i].offset == want[i].offset &&
			   got[i].length == want[i].length &&
			   got[i].phys == want[i].phys,
			   "segment %zu: offset %#llx length %#llx phys %#llx, pagemap: offset %#llx length %#llx phys %#llx",
			   i, (unsigned long long)got[i].offset,
			   (unsigned long long)got[i].length,
			   (unsigned long long)got[i].phys,
			   (unsigned long long)want[i].offset,
			   (unsigned long long)want[i].length,
			   (unsigned long long)want[i].phys);
	}
	h_diag("%zu segment(s) for %llu pages", n,
	       (unsigned long long)r->npages);
	if (segsp)
		*segsp = got;
	return n;
}

/* The segments of a 2 MiB-aligned region of 2 MiB pages: no huge page is
 * split across segments, and each segment is whole huge pages. */
static void check_huge_segments(const struct pinmgr_segment *s, size_t n,
				uint64_t len)
{
	size_t i;

	ASSERT_MSG(n >= 1 && n <= len / HPS,
		   "%zu segments for %llu huge pages", n,
		   (unsigned long long)(len / HPS));
	for (i = 0; i < n; i++) {
		ASSERT_MSG(s[i].offset % HPS == 0 && s[i].length % HPS == 0 &&
			   s[i].phys % HPS == 0,
			   "segment %zu of %zu (offset %#llx length %#llx phys %#llx) splits a 2 MiB page",
			   i, n, (unsigned long long)s[i].offset,
			   (unsigned long long)s[i].length,
			   (unsigned long long)s[i].phys);
	}
}

static void dev_read(const struct region *r, uint64_t off, void *buf,
		     uint64_t len)
{
	char b[32];
	int ret = pinmgr_access(r->ctx, r->handle, 0, off, buf, len);

	if (ret)
		h_fail("ACCESS read of %llu bytes at %llu: %s",
		       (unsigned long long)len, (unsigned long long)off,
		       h_retstr(b, sizeof(b), ret));
}

static void dev_write(const struct region *r, uint64_t off, const void *buf,
		      uint64_t len)
{
	char b[32];
	int ret = pinmgr_access(r->ctx, r->handle, PINMGR_ACCESS_WRITE, off,
				(void *)buf, len);

	if (ret)
		h_fail("ACCESS write of %llu bytes at %llu: %s",
		       (unsigned long long)len, (unsigned long long)off,
		       h_retstr(b, sizeof(b), ret));
}

/* The device must read @want over the whole region. */
__attribute__((format(printf, 3, 4)))
static void dev_expect(const struct region *r, const void *want,
		       const char *fmt, ...)
{
	unsigned char *got = h_malloc(r->len);
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	dev_read(r, 0, got, r->len);
	CHECK_BYTES(got, want, r->len, "device read %s", what);
	h_undefer(got);
}

/* Region offset PATCH_LEN/2 bytes before the second page (or 2 MiB page). */
static uint64_t patch_at(const struct region *r, uint64_t unit)
{
	uint64_t first = unit - (uintptr_t)r->addr % unit;

	return first >= PATCH_LEN / 2 ? first - PATCH_LEN / 2
				      : first + unit - PATCH_LEN / 2;
}

/*
 * The device and the process see each other's writes. @init is what the
 * process saw at pin time. A writable pin: the device writes the region,
 * then PATCH_LEN bytes at @poff (a region offset), and the process must
 * see them through its mapping. Every pin: the process stores a pattern
 * through its mapping, then a patch at @poff, and the device must read
 * them. Returns the region's content now (freed after the case).
 */
static const unsigned char *exchange(const struct region *r,
				     const void *init, uint64_t poff)
{
	uint64_t len = r->len, plen = len < PATCH_LEN ? len : PATCH_LEN;
	unsigned char *want = copy_of(init, len), *got;

	if (poff + plen > len)
		poff = len - plen;

	dev_expect(r, want, "of the content at pin time");

	if (writable(r)) {
		fill(want, len, S_DEV, 0);
		dev_write(r, 0, want, len);
		CHECK_BYTES(r->addr, want, len,
			    "process view after the device wrote the whole region");
		fill(want + poff, plen, S_DEVPATCH, poff);
		dev_write(r, poff, want + poff, plen);
		CHECK_BYTES(r->addr, want, len,
			    "process view after the device wrote %llu bytes at offset %llu",
			    (unsigned long long)plen, (unsigned long long)poff);
	}

	fill(r->addr, len, S_PROC, 0);
	fill(want, len, S_PROC, 0);
	dev_expect(r, want, "after the process wrote the whole region");
	fill(r->addr + poff, plen, S_PROCPATCH, poff);
	fill(want + poff, plen, S_PROCPATCH, poff);
	got = h_malloc(plen);
	dev_read(r, poff, got, plen);
	CHECK_BYTES(got, want + poff, plen,
		    "device read of %llu bytes at offset %llu after the process wrote them",
		    (unsigned long long)plen, (unsigned long long)poff);
	dev_expect(r, want, "after the process wrote %llu bytes at offset %llu",
		   (unsigned long long)plen, (unsigned long long)poff);
	return want;
}

/* ---- 1. anonymous 4 KiB pages ------------------------------------- */

static const uint32_t PIN_W = PINMGR_PIN_WRITE, PIN_R = 0;

static uint32_t arg_flags(const void *arg)
{
	return *(const uint32_t *)arg;
}

CASE(anon)
{
	struct pinmgr_ctx *ctx = dev_open();
	size_t maplen = 17 * h_ps;
	char *m = h_map(maplen, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a = m + 100;
	uint64_t len = 15 * h_ps + 50;	/* 16 pages */
	const unsigned char *now;
	unsigned char *around;
	struct region r;

	no_thp(m, maplen);
	fill(m, maplen, S_OTHER, 0);
	fill(a, len, S_INIT, 0);
	around = copy_of(m, maplen);

	region_pin(&r, ctx, a, len, arg_flags(arg));
	ASSERT_EQ(r.npages, 16);
	region_segments(&r, NULL);
	now = exchange(&r, a, patch_at(&r, h_ps));

	/* nothing outside [a, a + len) changed, though its pages are pinned */
	memcpy(around + 100, now, len);
	CHECK_BYTES(m, around, maplen, "memory around the region");
	region_unpin(&r);
	CHECK_BYTES(a, now, len, "process view after unpin");
}

/* ---- 2. THP ------------------------------------------------------- */

/* @len bytes of 2 MiB-aligned anonymous memory in a VMA of its own. */
static char *aligned_anon(size_t len)
{
	size_t maplen = len + HPS;
	char *m = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	if (m == MAP_FAILED)
		h_fail("mmap %zu bytes: %s", maplen, h_errname(errno));
	a = (char *)(((uintptr_t)m + HPS - 1) & ~(HPS - 1));
	if (a > m)
		munmap(m, a - m);
	if (a + len < m + maplen)
		munmap(a + len, m + maplen - (a + len));
	h_keep_map(a, len);
	return a;
}

CASE(thp)
{
	struct pinmgr_ctx *ctx = dev_open();
	const size_t len = 2 * HPS;
	struct pinmgr_segment *segs;
	char mode[256], *a;
	struct region r;
	long kb;
	size_t n;

	require_thp();
	read_text("/sys/kernel/mm/transparent_hugepage/enabled", mode,
		  sizeof(mode));
	if (strstr(mode, "[never]"))
		h_skip("THP disabled (%s)", mode);
	a = aligned_anon(len);
	ASSERT_SYS(madvise(a, len, MADV_HUGEPAGE));
	fill(a, len, S_INIT, 0);
	kb = smaps_kb(a, "AnonHugePages");
	if (kb != (long)(len >> 10))
		h_skip("THP %s, but AnonHugePages is %ld kB of %zu kB after touching (no free 2 MiB pages?)",
		       mode, kb, len >> 10);

	region_pin(&r, ctx, a, len, arg_flags(arg));
	ASSERT_EQ(r.npages, len / h_ps);
	n = region_segments(&r, &segs);
	check_huge_segments(segs, n, len);
	h_diag("AnonHugePages %ld kB after the pin", smaps_kb(a, "AnonHugePages"));
	exchange(&r, a, patch_at(&r, HPS));	/* patch across the 2 MiB pages */
	region_unpin(&r);
}

/* ---- 3. hugetlb --------------------------------------------------- */

CASE(hugetlb)
{
	struct pinmgr_ctx *ctx = dev_open();
	const size_t len = 2 * HPS;
	struct pinmgr_segment *segs;
	struct region r;
	char *a;
	size_t n;

	h_hugetlb_reserve(2);	/* restored after a is unmapped */
	a = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (a == MAP_FAILED)
		h_skip("mmap MAP_HUGETLB %zu bytes: %s", len, h_errname(errno));
	h_keep_map(a, len);
	ASSERT_EQ((uintptr_t)a % HPS, 0);
	fill(a, len, S_INIT, 0);

	region_pin(&r, ctx, a, len, arg_flags(arg));
	ASSERT_EQ(r.npages, len / h_ps);
	n = region_segments(&r, &segs);
	check_huge_segments(segs, n, len);
	exchange(&r, a, patch_at(&r, HPS));
	region_unpin(&r);
}

/*
 * A read-only pin of a read-only MAP_PRIVATE hugetlb mapping: granted, as
 * upstream GUP grants it (Linux 6.1's GUP refuses the forced write that
 * breaks COW elsewhere, so pinmgr must not ask for one here). @file: a
 * hugetlbfs memfd whose page cache the mapping shows; else anonymous
 * MAP_HUGETLB memory written before the mapping was made read-only.
 * VERIFY and the events must tell the truth afterwards: the pages back the
 * mapping until the process makes it writable and writes, which gives it a
 * copy (file) or, for its own anonymous page, changes nothing.
 */
static void hugetlb_ro_private(bool file)
{
	struct pinmgr_ctx *ctx = dev_open();
	uint64_t differ, first;
	struct region r;
	unsigned char *got = h_malloc(h_ps);
	char *a, *w;
	int fd = -1;
	bool same;

	h_hugetlb_reserve(file ? 2 : 1);
	if (file) {
		fd = memfd_create("pinmgr-ro-huge", MFD_CLOEXEC | MFD_HUGETLB);
		if (fd < 0)
			h_skip("memfd_create(MFD_HUGETLB): %s", h_errname(errno));
		h_keep_fd(fd);
		ASSERT_SYS(ftruncate(fd, HPS));
		w = h_map(HPS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		fill(w, HPS, S_INIT, 0);
		a = mmap(NULL, HPS, PROT_READ, MAP_PRIVATE, fd, 0);
	} else {
		a = mmap(NULL, HPS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	}
	if (a == MAP_FAILED)
		h_skip("mmap of a hugetlb page: %s", h_errname(errno));
	h_keep_map(a, HPS);
	if (!file) {
		fill(a, HPS, S_INIT, 0);
		ASSERT_SYS(mprotect(a, HPS, PROT_READ));
	}

	region_pin(&r, ctx, a, HPS, PIN_R);
	h_dev_read(ctx, r.handle, 5 * h_ps, got, h_ps);
	ASSERT_MSG(!memcmp(got, a + 5 * h_ps, h_ps),
		   "the device does not see what the mapping shows");
	ASSERT_RET(pinmgr_verify(ctx, r.handle, &differ, &first), 0);

	/*
	 * The process writes. Anonymous: to its own page, the pinned one.
	 * hugetlbfs page cache: Linux 6.2+ pinned a private copy already
	 * (the process keeps it); 6.1 pinned the page cache page, and the
	 * write now gives the process a copy. Either way VERIFY must say
	 * what the device sees.
	 */
	ASSERT_SYS(mprotect(a, HPS, PROT_READ | PROT_WRITE));
	a[0] ^= 1;
	h_dev_read(ctx, r.handle, 0, got, 1);
	same = got[0] == (unsigned char)a[0];
	ASSERT_MSG(same || file, "the device misses a store to anonymous memory");
	ASSERT_RET(pinmgr_verify(ctx, r.handle, &differ, &first),
		   same ? 0 : (int)(HPS / h_ps));
	h_diag("after the process's store the pin %s",
	       same ? "still backs the mapping" : "is a page the process left (6.1)");
	region_unpin(&r);
}

CASE(hugetlb_ro_private_anon)
{
	hugetlb_ro_private(false);
}

CASE(hugetlb_ro_private_file)
{
	hugetlb_ro_private(true);
}

/* ---- 4./5. memfd and tmpfs, MAP_SHARED ---------------------------- */

/*
 * Pins one of two shared mappings of @fd: the other mapping and the file
 * itself (pread/pwrite) must agree with the device too.
 */
static void shared_file(int fd, size_t len, uint32_t flags)
{
	struct pinmgr_ctx *ctx = dev_open();
	char *m1 = h_map(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *m2 = h_map(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	const unsigned char *now;
	unsigned char *want, *got = h_malloc(len);
	struct region r;

	fill(m1, len, S_INIT, 0);
	region_pin(&r, ctx, m1, len, flags);
	region_segments(&r, NULL);
	now = exchange(&r, m1, patch_at(&r, h_ps));
	CHECK_BYTES(m2, now, len, "second mapping of the file");
	pread_all(fd, got, len, 0);
	CHECK_BYTES(got, now, len, "file content (pread)");

	want = pattern(len, S_SECOND, 0);
	memcpy(m2, want, len);
	dev_expect(&r, want, "after the process wrote through a second mapping");
	fill(want, len, S_PWRITE, 0);
	pwrite_all(fd, want, len, 0);
	dev_expect(&r, want, "after pwrite() to the file");
	if (flags & PINMGR_PIN_WRITE) {
		fill(want, len, S_DEV2, 0);
		dev_write(&r, 0, want, len);
		CHECK_BYTES(m2, want, len,
			    "second mapping after a device write");
		pread_all(fd, got, len, 0);
		CHECK_BYTES(got, want, len, "file (pread) after a device write");
	}
	region_unpin(&r);
	pread_all(fd, got, len, 0);
	CHECK_BYTES(got, want, len, "file (pread) after unpin");
}

CASE(memfd_shared)
{
	size_t len = 8 * h_ps;

	shared_file(memfd(len), len, arg_flags(arg));
}

CASE(tmpfs_shared)
{
	size_t len = 8 * h_ps;

	shared_file(tmpfs_file(len), len, arg_flags(arg));
}

/* ---- 6. private file mapping (ext4) ------------------------------- */

CASE(ext4_private)
{
	struct pinmgr_ctx *ctx = dev_open();
	size_t flen = 8 * h_ps;
	int fd = h_writeback_file(flen);
	unsigned char *file = pattern(flen, S_FILE, 0), *got = h_malloc(flen);
	const unsigned char *now;
	struct region r;
	char *m;
	size_t i;

	pwrite_all(fd, file, flen, 0);
	m = h_map(flen, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	/* map the page cache pages read-only, as a reader would */
	for (i = 0; i < flen; i += h_ps)
		(void)*(volatile char *)(m + i);

	region_pin(&r, ctx, m + 10, flen - 20, arg_flags(arg));
	ASSERT_EQ(r.npages, 8);
	region_segments(&r, NULL);
	now = exchange(&r, m + 10, patch_at(&r, h_ps));
	pread_all(fd, got, flen, 0);
	CHECK_BYTES(got, file, flen,
		    "file (pread) after device and process wrote the MAP_PRIVATE mapping");
	region_unpin(&r);
	CHECK_BYTES(m + 10, now, flen - 20, "process view after unpin");
	pread_all(fd, got, flen, 0);
	CHECK_BYTES(got, file, flen, "file (pread) after unpin");
}

/* ---- 7. ext4 MAP_SHARED ------------------------------------------- */

CASE(ext4_shared_write)
{
	struct pinmgr_ctx *ctx = h_open();
	size_t len = 4 * h_ps;
	int fd = h_writeback_file(len);
	char *m = h_map(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct foll f0;

	fill(m, len, S_INIT, 0);	/* the pages are mapped and dirty */
	foll_snap(&f0);
	pin_fails(ctx, m, len, PINMGR_PIN_WRITE, EOPNOTSUPP);
	pin_fails(ctx, m + 1, 1, PINMGR_PIN_WRITE, EOPNOTSUPP);
	assert_nothing_pinned(ctx, 2, &f0);
}

CASE(ext4_shared_read)
{
	struct pinmgr_ctx *ctx = dev_open();
	size_t len = 4 * h_ps;
	int fd = h_writeback_file(len);
	unsigned char *file = pattern(len, S_FILE, 0), *got = h_malloc(len);
	const unsigned char *now;
	struct region r;
	char *m;

	pwrite_all(fd, file, len, 0);
	m = h_map(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	region_pin(&r, ctx, m, len, 0);
	region_segments(&r, NULL);
	now = exchange(&r, file, patch_at(&r, h_ps));
	pread_all(fd, got, len, 0);
	CHECK_BYTES(got, now, len, "file (pread) after the process wrote the mapping");
	fill(file, len, S_PWRITE, 0);
	pwrite_all(fd, file, len, 0);
	dev_expect(&r, file, "after pwrite() to the file");
	region_unpin(&r);
}

/* ---- 8. the shared zero page -------------------------------------- */

/* Read-faults every page of @m; skips unless all map one zero page. */
static uint64_t map_zero_pages(char *m, size_t n)
{
	uint64_t zpfn;
	size_t i;

	for (i = 0; i < n; i++)
		(void)*(volatile char *)(m + i * h_ps);
	zpfn = h_pagemap_pfn(m);
	if (!zpfn)
		h_skip("/proc/self/pagemap shows no PFN for a read-faulted page");
	for (i = 1; i < n; i++) {
		if (h_pagemap_pfn(m + i * h_ps) != zpfn)
			h_skip("read faults did not map the shared zero page (page %zu: pfn %#llx, page 0: %#llx)",
			       i, (unsigned long long)h_pagemap_pfn(m + i * h_ps),
			       (unsigned long long)zpfn);
	}
	return zpfn;
}

/* Physical address of each page of the region, from SEGMENTS_PHYS. */
static uint64_t *page_phys(const struct region *r)
{
	struct pinmgr_segment *segs;
	uint64_t *phys = h_malloc(r->npages * sizeof(*phys));
	size_t n = region_segments(r, &segs), i;
	uint64_t o;

	for (i = 0; i < n; i++)
		for (o = 0; o < segs[i].length; o += h_ps)
			phys[(segs[i].offset + o) / h_ps] = segs[i].phys + o;
	return phys;
}

CASE(zero_page)
{
	struct pinmgr_ctx *ctx = dev_open();
	const size_t np = 8, len = np * h_ps;
	char *m = h_anon_untouched(len);	/* MADV_NOHUGEPAGE */
	uint64_t zpfn = map_zero_pages(m, np), *phys;
	unsigned char *zero = pattern(len, S_ZERO, 0);
	struct region r;
	size_t i, j;

	region_pin(&r, ctx, m, len, 0);
	phys = page_phys(&r);
	for (i = 0; i < np; i++) {
		ASSERT_MSG(phys[i] != zpfn * h_ps,
			   "page %zu of the region is pinned at %#llx, the shared zero page",
			   i, (unsigned long long)phys[i]);
		for (j = 0; j < i; j++)
			ASSERT_MSG(phys[i] != phys[j],
				   "pages %zu and %zu are both pinned at %#llx",
				   j, i, (unsigned long long)phys[i]);
	}
	exchange(&r, zero, patch_at(&r, h_ps));
	region_unpin(&r);
}

CASE(huge_zero_page)
{
	struct pinmgr_ctx *ctx = dev_open();
	const size_t len = HPS;
	unsigned char *zero = pattern(len, S_ZERO, 0);
	uint64_t zpfn, *phys;
	char mode[256], *a;
	struct region r;
	size_t i;

	require_thp();
	read_text("/sys/kernel/mm/transparent_hugepage/enabled", mode,
		  sizeof(mode));
	if (strstr(mode, "[never]"))
		h_skip("THP disabled (%s)", mode);
	read_text("/sys/kernel/mm/transparent_hugepage/use_zero_page", mode,
		  sizeof(mode));
	if (strcmp(mode, "1"))
		h_skip("use_zero_page is %s", mode);
	a = aligned_anon(len);
	ASSERT_SYS(madvise(a, len, MADV_HUGEPAGE));
	(void)*(volatile char *)a;
	zpfn = h_pagemap_pfn(a);
	if (!zpfn)
		h_skip("/proc/self/pagemap shows no PFN for a read-faulted page");
	for (i = 1; i < len / h_ps; i++) {
		if (h_pagemap_pfn(a + i * h_ps) != zpfn + i)
			h_skip("a read fault did not map the huge zero page");
	}
	if (smaps_kb(a, "AnonHugePages"))
		h_skip("a read fault allocated a THP, not the huge zero page");

	region_pin(&r, ctx, a, len, 0);
	phys = page_phys(&r);
	for (i = 0; i < len / h_ps; i++)
		ASSERT_MSG(phys[i] < zpfn * h_ps || phys[i] >= zpfn * h_ps + HPS,
			   "page %zu of the region is pinned at %#llx, in the huge zero page",
			   i, (unsigned long long)phys[i]);
	exchange(&r, zero, patch_at(&r, h_ps));
	region_unpin(&r);
}

/* ---- 9. read-only mappings ---------------------------------------- */

CASE(readonly_mapping_write)
{
	struct pinmgr_ctx *ctx = h_open();
	size_t len = 4 * h_ps;
	char *anon = h_map(len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *file = h_map(len, PROT_READ, MAP_PRIVATE, memfd(len), 0);
	struct foll f0;

	(void)*(volatile char *)anon;
	(void)*(volatile char *)file;
	foll_snap(&f0);
	pin_fails(ctx, anon, len, PINMGR_PIN_WRITE, EFAULT);
	pin_fails(ctx, file, len, PINMGR_PIN_WRITE, EFAULT);
	assert_nothing_pinned(ctx, 2, &f0);
}

/*
 * A read-only pin of a PROT_READ private mapping is fine; once the process
 * makes it writable, its stores must still reach the pinned pages.
 */
static void readonly_mapping_read(char *m, size_t len, const void *init)
{
	struct pinmgr_ctx *ctx = dev_open();
	unsigned char *want;
	struct region r;

	region_pin(&r, ctx, m, len, 0);
	region_segments(&r, NULL);
	dev_expect(&r, init, "of the PROT_READ mapping's content");
	ASSERT_SYS(mprotect(m, len, PROT_READ | PROT_WRITE));
	want = pattern(len, S_PROC, 0);
	memcpy(m, want, len);
	dev_expect(&r, want,
		   "after mprotect(PROT_READ | PROT_WRITE) and process writes");
	region_unpin(&r);
}

CASE(readonly_mapping_read_anon)
{
	size_t len = 4 * h_ps;
	char *m = h_map(len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	no_thp(m, len);
	for (i = 0; i < len; i += h_ps)
		(void)*(volatile char *)(m + i);
	readonly_mapping_read(m, len, pattern(len, S_ZERO, 0));
}

CASE(readonly_mapping_read_file)
{
	size_t len = 4 * h_ps;
	int fd = memfd(len);
	unsigned char *init = pattern(len, S_FILE, 0);
	char *m;
	size_t i;

	pwrite_all(fd, init, len, 0);
	m = h_map(len, PROT_READ, MAP_PRIVATE, fd, 0);
	for (i = 0; i < len; i += h_ps)
		(void)*(volatile char *)(m + i);
	readonly_mapping_read(m, len, init);
	/* the process's stores went to its private copy, not the file */
	pread_all(fd, init, len, 0);
	CHECK_BYTES(init, pattern(len, S_FILE, 0), len, "memfd (pread)");
}

/* ---- 10.-12. mappings that cannot be pinned ----------------------- */

CASE(prot_none)
{
	struct pinmgr_ctx *ctx = h_open();
	size_t len = 4 * h_ps;
	char *m = h_map(len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct foll f0;

	foll_snap(&f0);
	pin_fails(ctx, m, len, PINMGR_PIN_WRITE, EFAULT);
	pin_fails(ctx, m, len, 0, EFAULT);
	assert_nothing_pinned(ctx, 2, &f0);
}

CASE(hole)
{
	struct pinmgr_ctx *ctx = h_open();
	size_t len = 32 * h_ps;
	char *m = h_anon(len);
	struct foll f0;

	ASSERT_SYS(munmap(m + 20 * h_ps, h_ps));
	foll_snap(&f0);
	pin_fails(ctx, m, len, PINMGR_PIN_WRITE, EFAULT);
	pin_fails(ctx, m + 100, len - 200, 0, EFAULT);
	assert_nothing_pinned(ctx, 2, &f0);
}

/* /dev/mem in the first MiB is allowed by STRICT_DEVMEM and mapped with
 * remap_pfn_range(): VM_IO | VM_PFNMAP, no struct pages to pin. */
CASE(pfnmap)
{
	static const off_t offs[] = { 0, 0xf0000 };
	struct pinmgr_ctx *ctx = h_open();
	char path[256] = "/dev/mem", flags[256];
	size_t len = 2 * h_ps, i;
	struct foll f0;
	struct stat s;
	void *m = MAP_FAILED;
	int fd, err = 0;

	if (stat(path, &s) || !S_ISCHR(s.st_mode) ||
	    s.st_rdev != makedev(1, 1)) {
		snprintf(path, sizeof(path), "%s/mem", h_mount_tmp("tmpfs"));
		if (mknod(path, S_IFCHR | 0600, makedev(1, 1)))
			h_skip("mknod %s: %s", path, h_errname(errno));
	}
	fd = open(path, O_RDWR | O_CLOEXEC | O_SYNC);
	if (fd < 0)
		h_skip("open %s: %s", path, h_errname(errno));
	h_keep_fd(fd);
	for (i = 0; i < ARRAY_SIZE(offs) && m == MAP_FAILED; i++) {
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 offs[i]);
		err = errno;
	}
	if (m == MAP_FAILED)
		h_skip("mmap %s at 0 and 0xf0000: %s", path, h_errname(err));
	h_keep_map(m, len);
	if (!smaps_field(m, "VmFlags", flags, sizeof(flags), NULL, NULL) ||
	    !strstr(flags, "pf"))
		h_skip("%s mapping is not VM_PFNMAP (VmFlags: %s)", path, flags);

	foll_snap(&f0);
	pin_fails(ctx, m, len, PINMGR_PIN_WRITE, EFAULT);
	pin_fails(ctx, m, len, 0, EFAULT);
	assert_nothing_pinned(ctx, 2, &f0);
}

/* ---- 13. a range across two VMAs ---------------------------------- */

struct two_vmas {
	const char *first;	/* "anon", "memfd", "anon-zero" */
	const char *second;
	int second_prot;
	uint32_t flags;
};

/* A 2 * 4-page mapping: @t->first, then @t->second at MAP_FIXED. */
static char *map_two(const struct two_vmas *t, size_t half, int *fdp)
{
	char *m = h_map(2 * half, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = memfd(half);
	uintptr_t s, e;
	char v[64];
	size_t i;

	no_thp(m, 2 * half);
	for (i = 0; i < 2; i++) {
		const char *kind = i ? t->second : t->first;
		int prot = i ? t->second_prot : PROT_READ | PROT_WRITE;
		char *p = m + i * half;

		if (!strcmp(kind, "memfd")) {
			ASSERT(mmap(p, half, prot, MAP_SHARED | MAP_FIXED, fd,
				    0) == p);
		}
	}
	*fdp = fd;
	/* two VMAs meeting at m + half */
	ASSERT(smaps_field(m, "Size", v, sizeof(v), &s, &e));
	ASSERT_EQ(e, (uintptr_t)m + half);
	ASSERT(smaps_field(m + half, "Size", v, sizeof(v), &s, &e));
	ASSERT_EQ(s, (uintptr_t)m + half);
	return m;
}

static void two_vmas(const struct two_vmas *t)
{
	struct pinmgr_ctx *ctx = dev_open();
	const size_t half = 4 * h_ps;
	char *m, *a;
	uint64_t len, boundary;
	unsigned char *init, *want, *got = h_malloc(PATCH_LEN);
	const unsigned char *now;
	struct region r;
	size_t i;
	int fd;

	m = map_two(t, half, &fd);
	a = m + 100;
	len = 2 * half - 200;
	boundary = half - 100;		/* region offset of the VMA boundary */
	for (i = 0; i < 2; i++) {
		const char *kind = i ? t->second : t->first;
		char *p = m + i * half;

		if (!strcmp(kind, "anon-zero"))
			map_zero_pages(p, half / h_ps);
		else if (!strcmp(kind, "memfd"))
			pwrite_all(fd, pattern(half, S_FILE, 0), half, 0);
		else
			fill(p, half, S_INIT, i * half);
	}
	init = copy_of(a, len);

	region_pin(&r, ctx, a, len, t->flags);
	ASSERT_EQ(r.npages, 2 * half / h_ps);
	region_segments(&r, NULL);
	if (t->second_prot & PROT_WRITE) {
		now = exchange(&r, init, boundary - PATCH_LEN / 2);
	} else {
		/* the process writes the second half through the file */
		dev_expect(&r, init, "of the content at pin time");
		want = copy_of(init, len);
		fill(a, half - 100, S_PROC, 0);
		fill(want, half - 100, S_PROC, 0);
		fill(want + boundary, len - boundary, S_PWRITE, 0);
		pwrite_all(fd, want + boundary, len - boundary, 0);
		dev_expect(&r, want,
			   "after process stores to the first VMA and pwrite() to the second");
		now = want;
	}
	if (!strcmp(t->first, "memfd") || !strcmp(t->second, "memfd")) {
		bool second = !strcmp(t->second, "memfd");
		unsigned char *f = h_malloc(half);

		/* the region holds file bytes [100, half) or [0, half - 100) */
		pread_all(fd, f, half - 100, second ? 0 : 100);
		CHECK_BYTES(f, second ? now + boundary : now, half - 100,
			    "memfd (pread) behind the %s VMA",
			    second ? "second" : "first");
	}
	dev_read(&r, boundary - PATCH_LEN / 2, got, PATCH_LEN);
	CHECK_BYTES(got, now + boundary - PATCH_LEN / 2, PATCH_LEN,
		    "device read straddling the VMA boundary");

	/* accesses straddling the boundary, in both directions */
	if (writable(&r)) {
		want = pattern(PATCH_LEN, S_DEV2, 0);
		dev_write(&r, boundary - PATCH_LEN / 2, want, PATCH_LEN);
		CHECK_BYTES(a + boundary - PATCH_LEN / 2, want, PATCH_LEN,
			    "process view of a device write straddling the VMA boundary");
	}
	if (t->second_prot & PROT_WRITE) {
		want = pattern(PATCH_LEN, S_SECOND, 0);
		memcpy(a + boundary - PATCH_LEN / 2, want, PATCH_LEN);
		dev_read(&r, boundary - PATCH_LEN / 2, got, PATCH_LEN);
		CHECK_BYTES(got, want, PATCH_LEN,
			    "device read straddling the VMA boundary after process stores");
	}
	region_unpin(&r);
}

static const struct two_vmas tv_anon_memfd_w = {
	"anon", "memfd", PROT_READ | PROT_WRITE, PINMGR_PIN_WRITE };
static const struct two_vmas tv_anon_memfd_r = {
	"anon", "memfd", PROT_READ | PROT_WRITE, 0 };
static const struct two_vmas tv_memfd_zero_r = {
	"memfd", "anon-zero", PROT_READ | PROT_WRITE, 0 };
static const struct two_vmas tv_anon_romemfd_r = {
	"anon", "memfd", PROT_READ, 0 };

CASE(two_vmas_case)
{
	two_vmas(arg);
}

/*
 * The file mapping policy is checked before the pages: a writable pin of a
 * PROT_NONE mapping followed by a shared ext4 mapping is EOPNOTSUPP (not
 * the EFAULT the first VMA's pages would give), and nothing stays pinned.
 */
CASE(two_vmas_policy_first)
{
	struct pinmgr_ctx *ctx = h_open();
	const size_t half = 4 * h_ps;
	int fd = h_writeback_file(half);
	char *m = h_map(2 * half, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			0);
	struct foll f0;

	ASSERT(mmap(m + half, half, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED, fd, 0) == m + half);
	fill(m + half, half, S_INIT, 0);
	foll_snap(&f0);
	pin_fails(ctx, m, 2 * half, PINMGR_PIN_WRITE, EOPNOTSUPP);
	assert_nothing_pinned(ctx, 1, &f0);
}

/* ---- PINMGR_ACCESS errors ----------------------------------------- */

static int access_raw(struct pinmgr_ctx *ctx, uint32_t handle, uint32_t flags,
		      uint64_t off, uint64_t buf, uint64_t len,
		      uint32_t reserved)
{
	struct pinmgr_access a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.flags = flags;
	a.handle = handle;
	a.__reserved = reserved;
	a.offset = off;
	a.length = len;
	a.buf = buf;
	return h_ioctl(h_fd(ctx), PINMGR_ACCESS, &a);
}

CASE(access_test_access_off)
{
	struct pinmgr_ctx *off, *on;
	struct pinmgr_info in;
	char *m = h_anon(2 * h_ps), buf[64];
	uint32_t h;

	need_test_access();
	ASSERT_OK(ta_write("0\n"));
	h_defer(ta_back_on, &ta_token, 0);
	off = h_open();
	h_undefer(&ta_token);	/* test_access back to 1 */
	on = h_open();

	ASSERT_OK(pinmgr_info(off, &in, sizeof(in)));
	ASSERT_EQ(in.out_caps & PINMGR_CAP_TEST_ACCESS, 0);
	ASSERT_OK(pinmgr_info(on, &in, sizeof(in)));
	ASSERT_EQ(in.out_caps & PINMGR_CAP_TEST_ACCESS, PINMGR_CAP_TEST_ACCESS);

	h = h_pin(off, m, 2 * h_ps, PINMGR_PIN_WRITE);
	memset(buf, 0xee, sizeof(buf));
	ASSERT_ERR(pinmgr_access(off, h, 0, 0, buf, sizeof(buf)), ENOTTY);
	ASSERT_ERR(pinmgr_access(off, h, PINMGR_ACCESS_WRITE, 0, buf,
				 sizeof(buf)), ENOTTY);
	ASSERT_ERR(pinmgr_access(off, h + 1000, 0, 0, buf, sizeof(buf)), ENOTTY);
	ASSERT_EQ((unsigned char)m[0], 0x5a);		/* not written */
	ASSERT_EQ((unsigned char)buf[0], 0xee);		/* not read */
	/* the same memory through a file opened with test_access=1 */
	h = h_pin(on, m, 2 * h_ps, PINMGR_PIN_WRITE);
	ASSERT_OK(pinmgr_access(on, h, 0, 0, buf, sizeof(buf)));
	ASSERT_EQ((unsigned char)buf[0], 0x5a);
}

CASE(access_write_readonly_pin)
{
	struct pinmgr_ctx *ctx = dev_open();
	size_t len = 2 * h_ps;
	char *m = h_anon(len);
	unsigned char *init = copy_of(m, len), *buf = pattern(len, S_DEV, 0);
	struct region r;

	region_pin(&r, ctx, m, len, 0);
	ASSERT_ERR(pinmgr_access(ctx, r.handle, PINMGR_ACCESS_WRITE, 0, buf,
				 len), EPERM);
	ASSERT_ERR(pinmgr_access(ctx, r.handle, PINMGR_ACCESS_WRITE, 5, buf, 1),
		   EPERM);
	CHECK_BYTES(m, init, len, "process view after refused device writes");
	dev_expect(&r, init, "after refused device writes");
	region_unpin(&r);
}

CASE(access_range)
{
	struct pinmgr_ctx *ctx = dev_open();
	char *m = h_anon(4 * h_ps);
	uint64_t len = 2 * h_ps + 50;	/* at m + 100: 3 pages */
	unsigned char *buf = h_malloc(len + 1);
	unsigned char *init;
	const struct {
		uint64_t off, len;
	} bad[] = {
		{ 0, len + 1 },
		{ len, 1 },
		{ 1, len },
		{ len - 1, 2 },
		{ 3 * h_ps - 101, 1 },		/* last byte of the last page */
		{ 4 * h_ps, 1 },
		{ UINT64_MAX, 1 },		/* offset + length wraps */
		{ UINT64_MAX - 9, 20 },
		{ 1, UINT64_MAX },
	};
	struct region r;
	size_t i;
	int ret;

	fill(m, 4 * h_ps, S_INIT, 0);
	init = copy_of(m, 4 * h_ps);
	region_pin(&r, ctx, m + 100, len, PINMGR_PIN_WRITE);
	/* the region is [m + 100, m + 100 + len): offsets count from there */
	ASSERT_OK(pinmgr_access(ctx, r.handle, 0, 0, buf, len));
	CHECK_BYTES(buf, m + 100, len, "device read of the whole region");
	ASSERT_OK(pinmgr_access(ctx, r.handle, 0, len - 1, buf, 1));
	ASSERT_EQ(buf[0], (unsigned char)m[100 + len - 1]);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		char b[32];

		ret = access_raw(ctx, r.handle, 0, bad[i].off, (uintptr_t)buf,
				 bad[i].len, 0);
		ASSERT_MSG(ret == -ERANGE,
			   "ACCESS read offset %#llx length %#llx of a %llu-byte region: expected -ERANGE, got %s",
			   (unsigned long long)bad[i].off,
			   (unsigned long long)bad[i].len,
			   (unsigned long long)len, h_retstr(b, sizeof(b), ret));
		ret = access_raw(ctx, r.handle, PINMGR_ACCESS_WRITE, bad[i].off,
				 (uintptr_t)buf, bad[i].len, 0);
		ASSERT_MSG(ret == -ERANGE,
			   "ACCESS write offset %#llx length %#llx of a %llu-byte region: expected -ERANGE, got %s",
			   (unsigned long long)bad[i].off,
			   (unsigned long long)bad[i].len,
			   (unsigned long long)len, h_retstr(b, sizeof(b), ret));
	}
	CHECK_BYTES(m, init, 4 * h_ps, "memory after refused device writes");
	region_unpin(&r);
}

CASE(access_flags)
{
	struct pinmgr_ctx *ctx = dev_open();
	char *m = h_anon(h_ps), buf[16];
	struct region r;

	region_pin(&r, ctx, m, h_ps, PINMGR_PIN_WRITE);
	memset(buf, 0xee, sizeof(buf));
	ASSERT_ERR(access_raw(ctx, r.handle, 1u << 1, 0, (uintptr_t)buf,
			      sizeof(buf), 0), EINVAL);
	ASSERT_ERR(access_raw(ctx, r.handle, 1u << 31, 0, (uintptr_t)buf,
			      sizeof(buf), 0), EINVAL);
	ASSERT_ERR(access_raw(ctx, r.handle, PINMGR_ACCESS_WRITE | 1u << 1, 0,
			      (uintptr_t)buf, sizeof(buf), 0), EINVAL);
	ASSERT_EQ((unsigned char)m[0], 0x5a);
	ASSERT_EQ((unsigned char)buf[0], 0xee);
	region_unpin(&r);
}

CASE(access_reserved)
{
	struct pinmgr_ctx *ctx = dev_open();
	char *m = h_anon(h_ps), buf[16];
	struct region r;

	region_pin(&r, ctx, m, h_ps, PINMGR_PIN_WRITE);
	memset(buf, 0xee, sizeof(buf));
	ASSERT_ERR(access_raw(ctx, r.handle, 0, 0, (uintptr_t)buf, sizeof(buf),
			      1), EINVAL);
	ASSERT_ERR(access_raw(ctx, r.handle, PINMGR_ACCESS_WRITE, 0,
			      (uintptr_t)buf, sizeof(buf), 0x80000000), EINVAL);
	ASSERT_EQ((unsigned char)m[0], 0x5a);
	ASSERT_EQ((unsigned char)buf[0], 0xee);
	region_unpin(&r);
}

CASE(access_zero_length)
{
	struct pinmgr_ctx *ctx = dev_open();
	char *m = h_anon(h_ps), buf[16];
	struct region r;

	region_pin(&r, ctx, m, h_ps, PINMGR_PIN_WRITE);
	ASSERT_ERR(access_raw(ctx, r.handle, 0, 0, (uintptr_t)buf, 0, 0),
		   EINVAL);
	ASSERT_ERR(access_raw(ctx, r.handle, PINMGR_ACCESS_WRITE, 0,
			      (uintptr_t)buf, 0, 0), EINVAL);
	region_unpin(&r);
}

CASE(access_unknown_handle)
{
	struct pinmgr_ctx *ctx = dev_open(), *other = dev_open();
	char *m = h_anon(h_ps), buf[16];
	uint32_t h = h_pin(ctx, m, h_ps, PINMGR_PIN_WRITE);
	uint32_t gone = h_pin(ctx, m, h_ps, PINMGR_PIN_WRITE);

	ASSERT_OK(pinmgr_unpin(ctx, gone));
	ASSERT_ERR(pinmgr_access(ctx, 0, 0, 0, buf, sizeof(buf)), ENOENT);
	ASSERT_ERR(pinmgr_access(ctx, gone + 1000, 0, 0, buf, sizeof(buf)),
		   ENOENT);
	ASSERT_ERR(pinmgr_access(ctx, gone, 0, 0, buf, sizeof(buf)), ENOENT);
	ASSERT_ERR(pinmgr_access(ctx, gone, PINMGR_ACCESS_WRITE, 0, buf,
				 sizeof(buf)), ENOENT);
	ASSERT_ERR(pinmgr_access(other, h, 0, 0, buf, sizeof(buf)), ENOENT);
	ASSERT_OK(pinmgr_access(ctx, h, 0, 0, buf, sizeof(buf)));
}

/*
 * Buffers the module cannot read or write at all: EFAULT, and a WRITE
 * that failed put nothing into the pinned pages.
 */
CASE(access_bad_buffer)
{
	struct pinmgr_ctx *ctx = dev_open();
	size_t len = 2 * h_ps;
	char *m = h_anon(len);
	char *ro = h_map(h_ps, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *none = h_map(len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *gone = h_map(len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const uint64_t kaddr = 0xffff888000000000ULL;
	const struct {
		const char *what;
		uint64_t buf, len;
	} bad[] = {
		{ "NULL", 0, 16 },
		{ "PROT_NONE", (uintptr_t)none, 16 },
		{ "unmapped", (uintptr_t)gone, len },
		{ "kernel address", kaddr, 16 },
		{ "wrapping address", UINT64_MAX - 7, 16 },
	};
	unsigned char *want, *got = NULL;
	const char *changed = NULL;
	bool changed_by_write = false;
	struct region r;
	unsigned int wr;
	size_t i;

	h_unmap(gone);
	fill(ro, h_ps, S_SECOND, 0);
	ASSERT_SYS(mprotect(ro, h_ps, PROT_READ));
	fill(m, len, S_INIT, 0);
	region_pin(&r, ctx, m, len, PINMGR_PIN_WRITE);

	/* the device reads into the buffer: a read-only one is bad ... */
	ASSERT_ERR(access_raw(ctx, r.handle, 0, 0, (uintptr_t)ro, 16, 0), EFAULT);
	/* ... and writes from it: a read-only one is fine */
	ASSERT_OK(access_raw(ctx, r.handle, PINMGR_ACCESS_WRITE, 0,
			     (uintptr_t)ro, 16, 0));
	want = copy_of(m, len);
	CHECK_BYTES(want, ro, 16, "region after a device write from a read-only buffer");

	/* every errno first; then whether a failed access changed the region */
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		for (wr = 0; wr < 2; wr++) {
			char b[32];
			int ret = access_raw(ctx, r.handle,
					     wr ? PINMGR_ACCESS_WRITE : 0, 0,
					     bad[i].buf, bad[i].len, 0);

			ASSERT_MSG(ret == -EFAULT,
				   "ACCESS %s with a %s buffer: expected -EFAULT, got %s",
				   wr ? "write" : "read", bad[i].what,
				   h_retstr(b, sizeof(b), ret));
			if (!changed && memcmp(m, want, len)) {
				changed = bad[i].what;
				changed_by_write = wr;
				got = copy_of(m, len);
				memcpy(m, want, len);
			}
		}
	}
	if (changed)
		CHECK_BYTES(got, want, len,
			    "region after a failed ACCESS %s with a %s buffer",
			    changed_by_write ? "write" : "read", changed);
	dev_expect(&r, want, "after the failed accesses");
	region_unpin(&r);
}

/*
 * A buffer whose second page is PROT_NONE: EFAULT. The device may have
 * received the bytes of the first page, but never bytes the buffer did
 * not hold (copy_from_user() zero-fills what it could not copy).
 */
CASE(access_partial_buffer)
{
	struct pinmgr_ctx *ctx = dev_open();
	size_t len = 2 * h_ps, i;
	char *m = h_anon(len);
	char *half = h_map(len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *init;
	struct region r;

	fill(m, len, S_INIT, 0);
	fill(half, h_ps, S_SECOND, 0);
	ASSERT_SYS(mprotect(half + h_ps, h_ps, PROT_NONE));
	init = copy_of(m, len);
	region_pin(&r, ctx, m, len, PINMGR_PIN_WRITE);

	ASSERT_ERR(access_raw(ctx, r.handle, 0, 0, (uintptr_t)half, len, 0),
		   EFAULT);
	ASSERT_ERR(access_raw(ctx, r.handle, PINMGR_ACCESS_WRITE, 0,
			      (uintptr_t)half, len, 0), EFAULT);
	for (i = 0; i < h_ps; i++) {
		ASSERT_MSG(m[i] == init[i] || m[i] == half[i],
			   "region byte %zu is 0x%02x after a failed ACCESS write: neither its old value 0x%02x nor the buffer's 0x%02x",
			   i, (unsigned char)m[i], init[i], (unsigned char)half[i]);
	}
	CHECK_BYTES(m + h_ps, init + h_ps, h_ps,
		    "region page the buffer had no bytes for, after a failed ACCESS write");
	region_unpin(&r);
}

static const struct h_case cases[] = {
	H_CASE_ARG(anon, &PIN_W, "anon: writable pin of 4 KiB pages, device and process see each other's writes"),
	H_CASE_ARG(anon, &PIN_R, "anon: read-only pin of 4 KiB pages, device sees process writes"),
	H_CASE_ARG(thp, &PIN_W, "thp: writable pin of 2 THPs, segments never split a 2 MiB page, device and process see each other's writes"),
	H_CASE_ARG(thp, &PIN_R, "thp: read-only pin of 2 THPs, segments never split a 2 MiB page, device sees process writes"),
	H_CASE_ARG(hugetlb, &PIN_W, "hugetlb: writable pin of 2 MAP_HUGETLB pages, segments never split a 2 MiB page, device and process see each other's writes"),
	H_CASE_ARG(hugetlb, &PIN_R, "hugetlb: read-only pin of 2 MAP_HUGETLB pages, segments never split a 2 MiB page, device sees process writes"),
	H_CASE(hugetlb_ro_private_anon, "hugetlb: read-only pin of a PROT_READ MAP_PRIVATE anonymous huge page -> ok; still backing after mprotect + write"),
	H_CASE(hugetlb_ro_private_file, "hugetlb: read-only pin of a PROT_READ MAP_PRIVATE hugetlbfs page -> ok; after a store VERIFY agrees with what the device sees"),
	H_CASE_ARG(memfd_shared, &PIN_W, "memfd: writable pin of MAP_SHARED, device writes seen by both mappings and pread, process writes through either seen by the device"),
	H_CASE_ARG(memfd_shared, &PIN_R, "memfd: read-only pin of MAP_SHARED, process writes through either mapping and pwrite seen by the device"),
	H_CASE_ARG(tmpfs_shared, &PIN_W, "tmpfs: writable pin of a /dev/shm file MAP_SHARED, device and process see each other's writes"),
	H_CASE_ARG(tmpfs_shared, &PIN_R, "tmpfs: read-only pin of a /dev/shm file MAP_SHARED, device sees process writes"),
	H_CASE_ARG(ext4_private, &PIN_W, "private file: writable pin of an ext4 file MAP_PRIVATE, device writes seen by the process but not in the file"),
	H_CASE_ARG(ext4_private, &PIN_R, "private file: read-only pin of an ext4 file MAP_PRIVATE, device sees process writes made after the pin"),
	H_CASE(ext4_shared_write, "ext4 shared: writable pin -> EOPNOTSUPP, nothing pinned, FOLL_PIN balanced"),
	H_CASE(ext4_shared_read, "ext4 shared: read-only pin -> ok, device reads the file and sees process writes and pwrite"),
	H_CASE(zero_page, "zero page: read-only pin of never-written memory, distinct physical pages, device sees later process writes"),
	H_CASE(huge_zero_page, "zero page: read-only pin of the huge zero page (THP), device sees later process writes"),
	H_CASE(readonly_mapping_write, "read-only mapping + WRITE: PROT_READ anonymous and private memfd mappings -> EFAULT, nothing pinned"),
	H_CASE(readonly_mapping_read_anon, "read-only mapping: read-only pin of PROT_READ anonymous memory -> ok, device sees writes after mprotect(PROT_WRITE)"),
	H_CASE(readonly_mapping_read_file, "read-only mapping: read-only pin of a PROT_READ private memfd mapping -> ok, device sees writes after mprotect(PROT_WRITE)"),
	H_CASE(prot_none, "PROT_NONE: writable and read-only pins -> EFAULT, nothing pinned"),
	H_CASE(hole, "hole: writable and read-only pins of a range with an unmapped page -> EFAULT, nothing pinned, FOLL_PIN balanced"),
	H_CASE(pfnmap, "VM_PFNMAP: writable and read-only pins of /dev/mem -> EFAULT, nothing pinned"),
	H_CASE_ARG(two_vmas_case, &tv_anon_memfd_w, "two VMAs: writable pin of anonymous + memfd, accesses straddling the boundary"),
	H_CASE_ARG(two_vmas_case, &tv_anon_memfd_r, "two VMAs: read-only pin of anonymous + memfd, accesses straddling the boundary"),
	H_CASE_ARG(two_vmas_case, &tv_memfd_zero_r, "two VMAs: read-only pin of memfd + never-written anonymous, device sees process writes in both"),
	H_CASE_ARG(two_vmas_case, &tv_anon_romemfd_r, "two VMAs: read-only pin of anonymous + PROT_READ memfd -> ok"),
	H_CASE(two_vmas_policy_first, "two VMAs: writable pin of PROT_NONE + ext4 MAP_SHARED -> EOPNOTSUPP (policy before pages), nothing pinned"),
	H_CASE(access_test_access_off, "ACCESS on a file opened with test_access=0 -> ENOTTY"),
	H_CASE(access_write_readonly_pin, "ACCESS WRITE into a read-only pin -> EPERM, pages unchanged"),
	H_CASE(access_range, "ACCESS offset+length past the region length (or wrapping) -> ERANGE"),
	H_CASE(access_flags, "ACCESS unknown flags -> EINVAL"),
	H_CASE(access_reserved, "ACCESS non-zero __reserved -> EINVAL"),
	H_CASE(access_zero_length, "ACCESS length 0 -> EINVAL"),
	H_CASE(access_unknown_handle, "ACCESS unknown, unpinned or other file's handle -> ENOENT"),
	H_CASE(access_bad_buffer, "ACCESS bad user buffer (NULL, PROT_NONE, unmapped, kernel, read-only for a read) -> EFAULT, region unchanged"),
	H_CASE(access_partial_buffer, "ACCESS with a buffer running into PROT_NONE -> EFAULT, no bytes the buffer did not hold reach the region"),
};

int main(void)
{
	ta_setup();
	return h_main(cases, ARRAY_SIZE(cases));
}
