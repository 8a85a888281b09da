// SPDX-License-Identifier: GPL-2.0
/*
 * What the device sees through a pin while the process changes or loses
 * the memory behind it: munmap, mremap, MADV_DONTNEED, fork (copy-on-write
 * with writable and read-only pins), a file that outlives its opener
 * (inherited across fork, passed over SCM_RIGHTS), SIGKILL with pins held
 * and SIGKILL inside a long PIN.
 *
 * The device's view is PINMGR_ACCESS, which copies to and from the pinned
 * struct pages themselves, not through the process's page tables (it needs
 * the module parameter test_access, set by main()). Where no process can
 * ask any more, /proc/kpageflags and /proc/kpagecount show whether the
 * pinned page frames are still alive (anonymous, mapped nowhere: only the
 * pin holds them) or were freed, and /proc/vmstat's nr_foll_pin_* how many
 * pins are outstanding.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NPAGES		16
#define SETTLE_MS	5000	/* bound of the polls for asynchronous release */
#define LONG_PIN_MB	384	/* the PIN interrupted by SIGKILL */
#define MAX_PFNS	64

/* ---- time, pins, page frames ----------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* FOLL_PIN references outstanding system-wide (acquired - released). */
static int64_t pins_outstanding(void)
{
	uint64_t acq, rel;

	ASSERT_OK(h_foll_pins(&acq, &rel));
	return (int64_t)(acq - rel);
}

/* Bounded poll: the outstanding pins reach @want within SETTLE_MS. */
static void wait_outstanding(int64_t want, const char *when)
{
	uint64_t end = now_ms() + h_bound_ms(SETTLE_MS);
	int64_t got;

	while ((got = pins_outstanding()) != want && now_ms() < end)
		pause_ms(10);
	ASSERT_MSG(got == want,
		   "%s: %" PRId64 " FOLL_PIN references outstanding system-wide after %d ms, expected %" PRId64,
		   when, got, h_bound_ms(SETTLE_MS), want);
}

#define KPF_ANON	12
#define KPF_NOPAGE	20

static uint64_t kpage_u64(const char *file, uint64_t pfn)
{
	uint64_t v = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		h_fail("open %s: %s", file, h_errname(errno));
	if (pread(fd, &v, sizeof(v), pfn * sizeof(v)) != sizeof(v)) {
		int err = errno;

		close(fd);
		h_fail("pread %s at pfn %#" PRIx64 ": %s", file, pfn,
		       h_errname(err));
	}
	close(fd);
	return v;
}

/*
 * A page frame only a pin can be holding: an anonymous page mapped by no
 * page table. When it is freed the kernel clears ->mapping, so it is no
 * longer anonymous (or it is mapped again by whoever got it next).
 */
static bool frame_held(uint64_t pfn)
{
	uint64_t flags = kpage_u64("/proc/kpageflags", pfn);

	if (flags & (1ULL << KPF_NOPAGE))
		h_fail("pfn %#" PRIx64 ": no struct page (KPF_NOPAGE)", pfn);
	return (flags & (1ULL << KPF_ANON)) &&
	       kpage_u64("/proc/kpagecount", pfn) == 0;
}

static size_t frames_held(const uint64_t *pfns, size_t n)
{
	size_t i, held = 0;

	for (i = 0; i < n; i++)
		held += frame_held(pfns[i]);
	return held;
}

static void assert_frames_held(const uint64_t *pfns, size_t n,
			       const char *when)
{
	size_t i, held = frames_held(pfns, n);

	for (i = 0; held != n && i < n; i++)
		if (!frame_held(pfns[i]))
			break;
	ASSERT_MSG(held == n,
		   "%s: only %zu of the %zu pinned page frames are alive and unmapped (/proc/kpageflags, kpagecount); pfn %#" PRIx64 ": flags %#" PRIx64 ", count %" PRIu64,
		   when, held, n, i < n ? pfns[i] : 0,
		   i < n ? kpage_u64("/proc/kpageflags", pfns[i]) : 0,
		   i < n ? kpage_u64("/proc/kpagecount", pfns[i]) : 0);
}

/*
 * Bounded poll: every frame is held only by its pin within SETTLE_MS. For
 * an exited process: waitpid() returns once the process has dropped its own
 * reference to its address space, but whoever else holds one (pinmgr's
 * confirmation worker, queued by the fork's copy-on-write invalidation; a
 * /proc reader; khugepaged) unmaps the pages when it drops it, later.
 */
static void await_frames_held(const uint64_t *pfns, size_t n,
			      const char *when)
{
	uint64_t end = now_ms() + h_bound_ms(SETTLE_MS);

	while (frames_held(pfns, n) != n && now_ms() < end)
		pause_ms(10);
	assert_frames_held(pfns, n, when);
}

/* Bounded poll: every frame was freed within SETTLE_MS. */
static void assert_frames_freed(const uint64_t *pfns, size_t n,
				const char *when)
{
	uint64_t end = now_ms() + h_bound_ms(SETTLE_MS);
	size_t held;

	while ((held = frames_held(pfns, n)) && now_ms() < end)
		pause_ms(10);
	ASSERT_MSG(held == 0,
		   "%s: %zu of %zu formerly pinned page frames still allocated, anonymous and unmapped after %d ms",
		   when, held, n, h_bound_ms(SETTLE_MS));
}

/*
 * Freshly faulted pages sit in a per-CPU LRU batch (with a reference) until
 * that CPU drains it; munmap and exit drain only their own CPU's. Keeping
 * the case on one CPU makes "freed after the last unpin" exact.
 */
static void restore_affinity(void *p, size_t n)
{
	(void)n;
	sched_setaffinity(0, sizeof(cpu_set_t), p);
	free(p);
}

static void one_cpu(void)
{
	cpu_set_t *old = malloc(sizeof(*old)), set;
	int cpu = sched_getcpu();

	if (!old)
		h_fail("out of memory");
	if (sched_getaffinity(0, sizeof(*old), old)) {
		free(old);
		h_fail("sched_getaffinity: %s", h_errname(errno));
	}
	h_defer(restore_affinity, old, 0);
	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		h_fail("sched_setaffinity(cpu %d): %s", cpu, h_errname(errno));
}

/* The page frames of a region, in order, as the module reports them. */
static size_t region_pfns(struct pinmgr_ctx *ctx, uint32_t handle,
			  uint64_t *pfns, size_t max)
{
	struct pinmgr_segment *segs;
	size_t nsegs, i, n = 0;
	uint64_t j;

	nsegs = h_read_segments(ctx, handle, PINMGR_SEGMENTS_PHYS, 8, &segs);
	for (i = 0; i < nsegs; i++) {
		for (j = 0; j < segs[i].length / h_ps; j++) {
			ASSERT_MSG(n < max, "more than %zu pages in the region",
				   max);
			pfns[n++] = segs[i].phys / h_ps + j;
		}
	}
	return n;
}

static void assert_same_pfns(const uint64_t *got, const uint64_t *want,
			     size_t n, const char *what)
{
	size_t i;

	for (i = 0; i < n; i++)
		ASSERT_MSG(got[i] == want[i],
			   "%s: page %zu is pfn %#" PRIx64 ", the pinned page is pfn %#" PRIx64,
			   what, i, got[i], want[i]);
}

/* The device reads the whole region and must find pattern @seed. */
static void expect_dev(struct pinmgr_ctx *ctx, uint32_t h, size_t len,
		       unsigned int seed, const char *what)
{
	uint8_t *b = h_malloc(len);

	h_dev_read(ctx, h, 0, b, len);
	h_assert_pattern(b, len, seed, what);
}

static void assert_zeros(const uint8_t *p, size_t len, const char *what)
{
	size_t i;

	for (i = 0; i < len; i++)
		ASSERT_MSG(!p[i], "%s: byte %zu (page %zu) is 0x%02x, expected 0",
			   what, i, i / h_ps, p[i]);
}

static void expect_dev_zeros(struct pinmgr_ctx *ctx, uint32_t h, size_t len,
			     const char *what)
{
	uint8_t *b = h_malloc(len);

	memset(b, 0xee, len);
	h_dev_read(ctx, h, 0, b, len);
	assert_zeros(b, len, what);
}

static void expect_stats(struct pinmgr_ctx *ctx, uint64_t regions,
			 uint64_t pages, uint64_t pins, uint64_t unpins)
{
	struct pinmgr_stats st;

	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, regions);
	ASSERT_EQ(st.out_pinned_pages, pages);
	ASSERT_EQ(st.out_pins, pins);
	ASSERT_EQ(st.out_unpins, unpins);
	ASSERT_EQ(st.out_failed_pins, 0);
}

/* ---- processes the harness does not know about -------------------- */

struct proc {
	pid_t pid;
	int status;
	bool reaped;
};

static void proc_cleanup(void *p, size_t n)
{
	struct proc *pr = p;

	(void)n;
	if (pr->pid > 0 && !pr->reaped) {
		kill(pr->pid, SIGKILL);
		while (waitpid(pr->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
}

static struct proc *proc_track(pid_t pid)
{
	struct proc *pr = h_malloc(sizeof(*pr));

	pr->pid = pid;
	h_defer(proc_cleanup, pr, 0);
	return pr;
}

static void proc_wait(struct proc *pr)
{
	while (waitpid(pr->pid, &pr->status, 0) < 0) {
		if (errno != EINTR)
			h_fail("waitpid(%d): %s", (int)pr->pid, h_errname(errno));
	}
	pr->reaped = true;
}

/* A child the harness does not reap: fn(arg), then _exit(0). Failed
 * assertions in it exit 1 (77 for a skip) without a reason. */
static struct proc *spawn(void (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		h_fail("fork: %s", h_errname(errno));
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	return proc_track(pid);
}

/* Reads the child's "ready" byte; if it died first, says how. */
static void wait_ready(int fd, struct proc *pr)
{
	char c;
	ssize_t n;

	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n == 1)
		return;
	proc_wait(pr);
	if (WIFEXITED(pr->status) && WEXITSTATUS(pr->status) == 77)
		h_skip("the child skipped (no PINMGR_CAP_TEST_ACCESS?)");
	h_fail("the child died before it was ready: %s %d",
	       WIFEXITED(pr->status) ? "exit status" : "signal",
	       WIFEXITED(pr->status) ? WEXITSTATUS(pr->status) :
				       WTERMSIG(pr->status));
}

/* Memory shared with the children of a case. */
static void *shared_area(size_t len)
{
	return h_map(len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
}

/* "key:\t<n>" in /proc/@pid/fdinfo/@fd. */
static uint64_t fdinfo_of(pid_t pid, int fd, const char *key)
{
	char path[64], buf[2048], *p;
	size_t klen = strlen(key);
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		h_fail("open %s: %s", path, h_errname(errno));
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n < 0)
		h_fail("read %s: %s", path, h_errname(errno));
	buf[n] = '\0';
	for (p = buf; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == ':')
			return strtoull(p + klen + 1, NULL, 10);
	}
	h_fail("%s has no \"%s:\" line", path, key);
}

/* ---- munmap ----------------------------------------------------------- */

CASE(munmap_pinned)
{
	struct pinmgr_ctx *ctx = h_open();
	size_t len = NPAGES * h_ps;
	uint64_t pfns[NPAGES], mapped[NPAGES];
	int64_t base;
	uint8_t *buf;
	uint32_t h;

	h_require_test_access(ctx);
	one_cpu();
	base = pins_outstanding();
	buf = h_anon(len);
	h_fill(buf, len, 1);
	h = h_pin(ctx, buf, len, PINMGR_PIN_WRITE);
	ASSERT_EQ(region_pfns(ctx, h, pfns, NPAGES), NPAGES);
	h_pagemap_pfns(buf, NPAGES, mapped);
	assert_same_pfns(mapped, pfns, NPAGES, "before munmap, the mapping");

	h_unmap(buf);
	ASSERT_VMPIN_KB(PAGES_KB(NPAGES));
	expect_stats(ctx, 1, NPAGES, 1, 0);
	ASSERT_EQ(pins_outstanding(), base + NPAGES);
	assert_frames_held(pfns, NPAGES, "after munmap");
	expect_dev(ctx, h, len, 1, "device read after munmap");
	{
		uint8_t *w = h_malloc(len);

		h_fill(w, len, 2);
		h_dev_write(ctx, h, 0, w, len);
	}
	expect_dev(ctx, h, len, 2, "device read back after a device write after munmap");
	assert_frames_held(pfns, NPAGES, "after device accesses");

	ASSERT_OK(pinmgr_unpin(ctx, h));
	ASSERT_VMPIN_KB(0);
	expect_stats(ctx, 0, 0, 1, 1);
	wait_outstanding(base, "after UNPIN");
	assert_frames_freed(pfns, NPAGES, "after UNPIN");
	h_assert_pins_balanced();
}

/* ---- mremap ----------------------------------------------------------- */

CASE(mremap_pinned)
{
	struct pinmgr_ctx *ctx = h_open();
	size_t len = NPAGES * h_ps;
	uint64_t pfns[NPAGES], mapped[NPAGES];
	struct pinmgr_query q;
	uint8_t *res, *buf, *dst;
	void *p;
	uint32_t h;

	h_require_test_access(ctx);
	/* one reservation: the pinned range in the first half, moved to the
	 * second; the hole left behind is refilled so nothing else lands
	 * there before the cleanup unmaps the whole reservation */
	res = h_map(2 * len, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	buf = mmap(res, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_MSG(buf == res, "mmap(MAP_FIXED): %s", h_errname(errno));
	dst = res + len;
	h_fill(buf, len, 1);
	h = h_pin(ctx, buf, len, PINMGR_PIN_WRITE);
	ASSERT_EQ(region_pfns(ctx, h, pfns, NPAGES), NPAGES);

	p = mremap(buf, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_MSG(p == dst, "mremap(MREMAP_MAYMOVE|MREMAP_FIXED) of a pinned range: %s",
		   p == MAP_FAILED ? h_errname(errno) : "moved elsewhere");
	ASSERT_MSG(mmap(res, len, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
			-1, 0) == res, "refilling the old range: %s",
		   h_errname(errno));

	h_pagemap_pfns(dst, NPAGES, mapped);
	assert_same_pfns(mapped, pfns, NPAGES, "after mremap, the new address");
	ASSERT_VMPIN_KB(PAGES_KB(NPAGES));
	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));
	ASSERT_EQ(q.out_addr, (uintptr_t)buf);	/* the address given to PIN */
	ASSERT_EQ(q.out_npages, NPAGES);

	h_assert_pattern(dst, len, 1, "process at the new address");
	expect_dev(ctx, h, len, 1, "device read after mremap");
	h_fill(dst, len, 2);
	expect_dev(ctx, h, len, 2, "device read after the process wrote at the new address");
	{
		uint8_t *w = h_malloc(len);

		h_fill(w, len, 3);
		h_dev_write(ctx, h, 0, w, len);
	}
	h_assert_pattern(dst, len, 3, "process at the new address after a device write");

	ASSERT_OK(pinmgr_unpin(ctx, h));
	ASSERT_VMPIN_KB(0);
	h_assert_pattern(dst, len, 3, "process at the new address after UNPIN");
	h_assert_pins_balanced();
}

/* ---- MADV_DONTNEED ---------------------------------------------------- */

CASE(madv_dontneed)
{
	uint32_t flags = *(const uint32_t *)arg;
	struct pinmgr_ctx *ctx = h_open();
	size_t len = NPAGES * h_ps, i;
	uint64_t pfns[NPAGES], mapped[NPAGES];
	uint8_t *buf;
	uint32_t h;

	h_require_test_access(ctx);
	one_cpu();
	buf = h_anon(len);
	h_fill(buf, len, 1);
	h = h_pin(ctx, buf, len, flags);
	ASSERT_EQ(region_pfns(ctx, h, pfns, NPAGES), NPAGES);

	ASSERT_SYS(madvise(buf, len, MADV_DONTNEED));
	assert_zeros(buf, len, "process after MADV_DONTNEED");
	h_pagemap_pfns(buf, NPAGES, mapped);
	for (i = 0; i < NPAGES; i++)
		ASSERT_MSG(mapped[i] != pfns[i],
			   "page %zu: still maps the pinned pfn %#" PRIx64 " after MADV_DONTNEED",
			   i, pfns[i]);
	assert_frames_held(pfns, NPAGES, "after MADV_DONTNEED");
	expect_dev(ctx, h, len, 1, "device read after MADV_DONTNEED (the old pinned bytes)");

	h_fill(buf, len, 2);
	expect_dev(ctx, h, len, 1, "device read after the process wrote its fresh pages");
	h_assert_pattern(buf, len, 2, "process after writing its fresh pages");
	if (flags & PINMGR_PIN_WRITE) {
		uint8_t *w = h_malloc(len);

		h_fill(w, len, 3);
		h_dev_write(ctx, h, 0, w, len);
		expect_dev(ctx, h, len, 3, "device read back after a device write");
		h_assert_pattern(buf, len, 2, "process after a device write to the old pages");
	}
	ASSERT_VMPIN_KB(PAGES_KB(NPAGES));
	ASSERT_OK(pinmgr_unpin(ctx, h));
	ASSERT_VMPIN_KB(0);
	assert_frames_freed(pfns, NPAGES, "after UNPIN");
	h_assert_pattern(buf, len, 2, "process after UNPIN");
	h_assert_pins_balanced();
}

static const uint32_t pin_w = PINMGR_PIN_WRITE, pin_ro;

/* ---- fork ------------------------------------------------------------- */

static struct {
	uint8_t *buf;
	size_t len;
	int c2p[2], p2c[2];
	unsigned int child_seed;	/* what the child must keep seeing */
	bool child_zeros;
} fk;

static void child_writes(void *arg)
{
	(void)arg;
	h_fill(fk.buf, fk.len, 2);
	h_assert_pattern(fk.buf, fk.len, 2, "child after writing");
	h_signal_fd(fk.c2p[1]);
	h_wait_fd(fk.p2c[0]);
	h_assert_pattern(fk.buf, fk.len, 2,
			 "child's copy after the parent and the device wrote");
}

CASE(fork_writable)
{
	struct pinmgr_ctx *ctx = h_open();
	uint64_t pfns[NPAGES], mapped[NPAGES];
	pid_t pid;
	uint32_t h;

	h_require_test_access(ctx);
	fk.len = NPAGES * h_ps;
	fk.buf = h_anon(fk.len);
	h_fill(fk.buf, fk.len, 1);
	h = h_pin(ctx, fk.buf, fk.len, PINMGR_PIN_WRITE);
	ASSERT_EQ(region_pfns(ctx, h, pfns, NPAGES), NPAGES);
	h_pipe(fk.c2p);
	h_pipe(fk.p2c);

	pid = h_child_start(child_writes, NULL);
	h_wait_fd(fk.c2p[0]);
	expect_dev(ctx, h, fk.len, 1, "device read after the child wrote");
	h_assert_pattern(fk.buf, fk.len, 1, "parent after the child wrote");
	h_fill(fk.buf, fk.len, 3);
	expect_dev(ctx, h, fk.len, 3, "device read after the parent wrote");
	{
		uint8_t *w = h_malloc(fk.len);

		h_fill(w, fk.len, 4);
		h_dev_write(ctx, h, 0, w, fk.len);
	}
	h_assert_pattern(fk.buf, fk.len, 4, "parent after a device write");
	h_signal_fd(fk.p2c[1]);
	h_child_wait(pid);

	expect_dev(ctx, h, fk.len, 4, "device read after the child exited");
	h_pagemap_pfns(fk.buf, NPAGES, mapped);
	assert_same_pfns(mapped, pfns, NPAGES, "the parent's mapping");
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h_assert_pins_balanced();
}

static void child_keeps_copy(void *arg)
{
	(void)arg;
	h_signal_fd(fk.c2p[1]);
	h_wait_fd(fk.p2c[0]);
	if (fk.child_zeros)
		assert_zeros(fk.buf, fk.len, "child's copy after the parent wrote");
	else
		h_assert_pattern(fk.buf, fk.len, fk.child_seed,
				 "child's copy after the parent wrote");
}

enum ro_mem { RO_WRITTEN, RO_UNTOUCHED, RO_READ };
static const enum ro_mem ro_written = RO_WRITTEN, ro_untouched = RO_UNTOUCHED,
	ro_read = RO_READ;

/*
 * A read-only pin of private anonymous memory, then fork, then the parent
 * writes: the device must see the parent's bytes. With RO_UNTOUCHED and
 * RO_READ the range is the shared zero page before the pin; 6.1's GUP would
 * pin the zero page itself and the parent's write would go elsewhere.
 */
CASE(fork_readonly)
{
	enum ro_mem mem = *(const enum ro_mem *)arg;
	struct pinmgr_ctx *ctx = h_open();
	uint64_t pfns[NPAGES], mapped[NPAGES];
	volatile uint8_t sink = 0;
	size_t i;
	pid_t pid;
	uint32_t h;

	h_require_test_access(ctx);
	fk.len = NPAGES * h_ps;
	if (mem == RO_WRITTEN) {
		fk.buf = h_anon(fk.len);
		h_fill(fk.buf, fk.len, 1);
	} else {
		fk.buf = h_anon_untouched(fk.len);
		if (mem == RO_READ)
			for (i = 0; i < fk.len; i += h_ps)
				sink += fk.buf[i];
	}
	(void)sink;
	h = h_pin(ctx, fk.buf, fk.len, 0);
	ASSERT_EQ(region_pfns(ctx, h, pfns, NPAGES), NPAGES);
	if (mem == RO_WRITTEN)
		expect_dev(ctx, h, fk.len, 1, "device read after PIN");
	else
		expect_dev_zeros(ctx, h, fk.len, "device read after PIN");
	h_pagemap_pfns(fk.buf, NPAGES, mapped);
	assert_same_pfns(mapped, pfns, NPAGES, "the process's mapping after a read-only PIN");
	for (i = 1; i < NPAGES; i++)
		ASSERT_MSG(pfns[i] != pfns[0],
			   "pages 0 and %zu are the same pfn %#" PRIx64 " (the shared zero page?)",
			   i, pfns[0]);

	fk.child_zeros = mem != RO_WRITTEN;
	fk.child_seed = 1;
	h_pipe(fk.c2p);
	h_pipe(fk.p2c);
	pid = h_child_start(child_keeps_copy, NULL);
	h_wait_fd(fk.c2p[0]);
	h_fill(fk.buf, fk.len, 2);
	expect_dev(ctx, h, fk.len, 2, "device read after the parent wrote");
	h_signal_fd(fk.p2c[1]);
	h_child_wait(pid);

	expect_dev(ctx, h, fk.len, 2, "device read after the child exited");
	h_pagemap_pfns(fk.buf, NPAGES, mapped);
	assert_same_pfns(mapped, pfns, NPAGES, "the parent's mapping");
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h_assert_pins_balanced();
}

/* ---- a file that outlives its opener ---------------------------------- */

#define LR_W_PAGES	8
#define LR_RO_PAGES	4
#define LR_PAGES	(LR_W_PAGES + LR_RO_PAGES)

struct lr_shared {
	pid_t opener, holder;
	int fd;
	uint32_t h_w, h_ro;
	uint64_t pfns[LR_PAGES];
	int ret_info, ret_pin, ret_query, ret_unpin, ret_segments;
	int ret_stats, ret_access, ret_close;
	long holder_vmpin;
};

struct lr_mode {
	bool opener_closes;	/* the opener closes its fd before exiting */
	bool holder_closes;	/* the holder closes (else: exits holding it) */
};

static const struct lr_mode lr_inherited = { true, true },
	lr_opener_exits = { false, true },
	lr_holder_exits = { false, false };

static struct {
	struct lr_shared *sh;
	const struct lr_mode *mode;
	int to_holder[2], from_holder[2];
	int sock[2];
} lr;

/* Opens, pins LR_W_PAGES writable + LR_RO_PAGES read-only, records the
 * page frames; returns the context. */
static struct pinmgr_ctx *lr_open_and_pin(void)
{
	struct pinmgr_ctx *ctx = h_open();
	size_t len = LR_PAGES * h_ps;
	uint8_t *buf = h_anon(len);
	size_t n;

	h_require_test_access(ctx);
	h_fill(buf, len, 1);
	lr.sh->h_w = h_pin(ctx, buf, LR_W_PAGES * h_ps, PINMGR_PIN_WRITE);
	/* unaligned: 3 pages + 100 bytes from 100 bytes in touch 4 pages */
	lr.sh->h_ro = h_pin(ctx, buf + LR_W_PAGES * h_ps + 100,
			    (LR_RO_PAGES - 1) * h_ps + 100, 0);
	n = region_pfns(ctx, lr.sh->h_w, lr.sh->pfns, LR_W_PAGES);
	ASSERT_EQ(n, LR_W_PAGES);
	n = region_pfns(ctx, lr.sh->h_ro, lr.sh->pfns + LR_W_PAGES, LR_RO_PAGES);
	ASSERT_EQ(n, LR_RO_PAGES);
	expect_dev(ctx, lr.sh->h_w, LR_W_PAGES * h_ps, 1, "device read in the opener");
	lr.sh->opener = getpid();
	lr.sh->fd = pinmgr_fd(ctx);
	return ctx;
}

/* The inherited fd's holder: ioctls on command, then close or exit. No
 * assertions here (its parent, the opener, is gone): results go to the
 * shared area and the test process checks them. */
static void lr_holder(struct pinmgr_ctx *ctx)
{
	struct pinmgr_segment seg;
	struct pinmgr_info in;
	struct pinmgr_query q;
	struct pinmgr_stats st;
	char *mine = mmap(NULL, h_ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char small[64], c;
	uint32_t h = 0;

	if (mine == MAP_FAILED || read(lr.to_holder[0], &c, 1) != 1)
		_exit(10);
	memset(mine, 1, h_ps);
	lr.sh->ret_info = pinmgr_info(ctx, &in, sizeof(in));
	lr.sh->ret_pin = pinmgr_pin(ctx, mine, h_ps, PINMGR_PIN_WRITE, &h);
	lr.sh->holder_vmpin = h_vmpin_kb();
	lr.sh->ret_query = pinmgr_query(ctx, lr.sh->h_w, &q, sizeof(q));
	lr.sh->ret_unpin = pinmgr_unpin(ctx, lr.sh->h_w);
	lr.sh->ret_segments = pinmgr_segments(ctx, lr.sh->h_w, 0, 0, &seg, 1);
	lr.sh->ret_stats = pinmgr_stats(ctx, &st, sizeof(st));
	lr.sh->ret_access = pinmgr_access(ctx, lr.sh->h_w, 0, 0, small,
					  sizeof(small));
	if (write(lr.from_holder[1], "i", 1) != 1 ||
	    read(lr.to_holder[0], &c, 1) != 1)
		_exit(11);
	if (!lr.mode->holder_closes)
		_exit(0);	/* exit holding the last reference */
	lr.sh->ret_close = close(lr.sh->fd) ? -errno : 0;
	if (write(lr.from_holder[1], "c", 1) != 1 ||
	    read(lr.to_holder[0], &c, 1) != 1)
		_exit(12);
	_exit(0);
}

static void lr_opener(void *arg)
{
	struct pinmgr_ctx *ctx;
	pid_t pid;

	(void)arg;
	ctx = lr_open_and_pin();
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		h_fail("fork: %s", h_errname(errno));
	if (pid == 0)
		lr_holder(ctx);
	lr.sh->holder = pid;
	if (lr.mode->opener_closes)
		pinmgr_close(ctx);
	/* exit: with the file still open unless closed above */
}

static void no_subreaper(void *p, size_t n)
{
	(void)p;
	(void)n;
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void assert_eacces(int ret, const char *what)
{
	char b[32];

	ASSERT_MSG(ret == -EACCES, "%s from the holder: expected -EACCES, got %s",
		   what, h_retstr(b, sizeof(b), ret));
}

/*
 * The opener pins and forks the holder, then exits (closing its copy first
 * or not). While the holder keeps the last reference, the pages stay
 * pinned: vmstat counts them, their frames are alive and mapped nowhere.
 * Every ioctl of the holder fails with EACCES and changes nothing. Its
 * close (or exit) releases everything.
 */
CASE(last_ref_after_opener_exit)
{
	struct proc *holder;
	int64_t base;
	pid_t opener;

	lr.mode = arg;
	one_cpu();
	base = pins_outstanding();
	lr.sh = shared_area(sizeof(*lr.sh));
	h_pipe(lr.to_holder);
	h_pipe(lr.from_holder);
	/* the holder is reparented to us when the opener exits */
	ASSERT_SYS(prctl(PR_SET_CHILD_SUBREAPER, 1));
	h_defer(no_subreaper, NULL, 0);
	opener = h_child_start(lr_opener, NULL);
	h_child_wait(opener);
	ASSERT_NE(lr.sh->holder, 0);
	holder = proc_track(lr.sh->holder);
	h_undefer(NULL);
	ASSERT_MSG(kill(opener, 0) == -1 && errno == ESRCH,
		   "the opener %d still exists", (int)opener);

	ASSERT_EQ(pins_outstanding(), base + LR_PAGES);
	await_frames_held(lr.sh->pfns, LR_PAGES, "after the opener exited");
	ASSERT_EQ(fdinfo_of(holder->pid, lr.sh->fd, "pinmgr-pinned-pages"), LR_PAGES);
	ASSERT_EQ(fdinfo_of(holder->pid, lr.sh->fd, "pinmgr-regions"), 2);
	ASSERT_EQ(fdinfo_of(holder->pid, lr.sh->fd, "pinmgr-owner-tgid"), opener);

	h_signal_fd(lr.to_holder[1]);
	h_wait_fd(lr.from_holder[0]);
	assert_eacces(lr.sh->ret_info, "INFO");
	assert_eacces(lr.sh->ret_pin, "PIN");
	assert_eacces(lr.sh->ret_query, "QUERY");
	assert_eacces(lr.sh->ret_unpin, "UNPIN");
	assert_eacces(lr.sh->ret_segments, "SEGMENTS");
	assert_eacces(lr.sh->ret_stats, "STATS");
	assert_eacces(lr.sh->ret_access, "ACCESS");
	ASSERT_MSG(lr.sh->holder_vmpin == 0, "holder's VmPin %ld kB after its PIN",
		   lr.sh->holder_vmpin);
	ASSERT_EQ(pins_outstanding(), base + LR_PAGES);
	assert_frames_held(lr.sh->pfns, LR_PAGES, "after the holder's ioctls");
	ASSERT_EQ(fdinfo_of(holder->pid, lr.sh->fd, "pinmgr-regions"), 2);

	h_signal_fd(lr.to_holder[1]);
	if (lr.mode->holder_closes) {
		h_wait_fd(lr.from_holder[0]);
		ASSERT_OK(lr.sh->ret_close);
		/* released by close() itself, the holder is still alive */
		ASSERT_SYS(kill(holder->pid, 0));
		wait_outstanding(base, "after the holder's close");
		assert_frames_freed(lr.sh->pfns, LR_PAGES, "after the holder's close");
		h_signal_fd(lr.to_holder[1]);
	}
	proc_wait(holder);
	ASSERT_MSG(WIFEXITED(holder->status) && WEXITSTATUS(holder->status) == 0,
		   "holder: status %#x", holder->status);
	wait_outstanding(base, "after the holder exited");
	assert_frames_freed(lr.sh->pfns, LR_PAGES, "after the holder exited");
	h_assert_pins_balanced();
}

/* ---- SCM_RIGHTS ------------------------------------------------------- */

static void scm_opener(void *arg)
{
	struct pinmgr_ctx *ctx;

	(void)arg;
	ctx = lr_open_and_pin();
	h_send_fd(lr.sock[1], pinmgr_fd(ctx));
	/* exit: the opener's copy closes, the other is in flight */
}

/*
 * The opener sends its file over a UNIX socket and exits; the file is in
 * flight. @arg true: this process receives it, its ioctls get EACCES, its
 * close releases everything. false: it never receives it; closing the
 * socket (the only reference left) releases everything.
 */
CASE(scm_rights)
{
	bool receive = *(const bool *)arg;
	struct pinmgr_info in;
	struct pinmgr_access ac;
	struct pinmgr_unpin un;
	char small[64];
	int64_t base;
	pid_t opener;
	int fd;

	one_cpu();
	base = pins_outstanding();
	lr.sh = shared_area(sizeof(*lr.sh));
	ASSERT_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, lr.sock));
	h_keep_fd(lr.sock[0]);
	h_keep_fd(lr.sock[1]);
	opener = h_child_start(scm_opener, NULL);
	h_child_wait(opener);

	ASSERT_EQ(pins_outstanding(), base + LR_PAGES);
	await_frames_held(lr.sh->pfns, LR_PAGES, "with the file in flight after the opener exited");
	if (!receive) {
		h_close_fd(lr.sock[1]);
		h_close_fd(lr.sock[0]);
		wait_outstanding(base, "after closing the socket holding the file");
		assert_frames_freed(lr.sh->pfns, LR_PAGES, "after closing the socket");
		h_assert_pins_balanced();
		return;
	}

	fd = h_keep_fd(h_recv_fd(lr.sock[0]));
	ASSERT_VMPIN_KB(0);	/* charged to the opener, not to us */
	ASSERT_EQ(fdinfo_of(getpid(), fd, "pinmgr-pinned-pages"), LR_PAGES);
	ASSERT_EQ(fdinfo_of(getpid(), fd, "pinmgr-owner-tgid"), opener);
	memset(&in, 0, sizeof(in));
	in.size = sizeof(in);
	ASSERT_ERR(h_ioctl(fd, PINMGR_INFO, &in), EACCES);
	memset(&ac, 0, sizeof(ac));
	ac.size = sizeof(ac);
	ac.handle = lr.sh->h_w;
	ac.length = sizeof(small);
	ac.buf = (uintptr_t)small;
	ASSERT_ERR(h_ioctl(fd, PINMGR_ACCESS, &ac), EACCES);
	memset(&un, 0, sizeof(un));
	un.size = sizeof(un);
	un.handle = lr.sh->h_w;
	ASSERT_ERR(h_ioctl(fd, PINMGR_UNPIN, &un), EACCES);
	ASSERT_EQ(pins_outstanding(), base + LR_PAGES);
	assert_frames_held(lr.sh->pfns, LR_PAGES, "in the receiver, after its ioctls");

	h_close_fd(fd);
	wait_outstanding(base, "after the receiver's close");
	assert_frames_freed(lr.sh->pfns, LR_PAGES, "after the receiver's close");
	h_assert_pins_balanced();
}

static const bool scm_receive = true, scm_in_flight;

/* ---- SIGKILL ------------------------------------------------------------ */

#define SK_PAGES	16

struct sk_shared {
	uint64_t pfns[SK_PAGES];
	int64_t pins;		/* FOLL_PIN references the child took */
	int pin_ret;		/* the long PIN's result, once it returned */
	bool pin_returned;
};

static struct {
	struct sk_shared *sh;
	int ready[2], block[2];
} sk;

/* Pins 3 regions (one overlapping the others), then blocks. */
static void sk_holder(void *arg)
{
	struct pinmgr_ctx *ctx = h_open();
	uint8_t *buf = h_anon(SK_PAGES * h_ps);
	uint64_t pfns[SK_PAGES];
	uint32_t a, b, c;
	char ch;

	(void)arg;
	h_fill(buf, SK_PAGES * h_ps, 1);
	a = h_pin(ctx, buf, 8 * h_ps, PINMGR_PIN_WRITE);
	b = h_pin(ctx, buf + 8 * h_ps, 8 * h_ps, 0);
	c = h_pin(ctx, buf + 4 * h_ps, 8 * h_ps, PINMGR_PIN_WRITE);
	ASSERT_EQ(region_pfns(ctx, a, sk.sh->pfns, 8), 8);
	ASSERT_EQ(region_pfns(ctx, b, sk.sh->pfns + 8, 8), 8);
	ASSERT_EQ(region_pfns(ctx, c, pfns, 8), 8);
	assert_same_pfns(pfns, sk.sh->pfns + 4, 8, "the overlapping region");
	sk.sh->pins = 24;
	ASSERT_VMPIN_KB(PAGES_KB(24));
	h_signal_fd(sk.ready[1]);
	while (read(sk.block[0], &ch, 1) < 0)
		;	/* until killed */
}

CASE(sigkill_holding_pins)
{
	struct proc *pr;
	int64_t base;

	one_cpu();
	base = pins_outstanding();
	sk.sh = shared_area(sizeof(*sk.sh));
	h_pipe(sk.ready);
	h_pipe(sk.block);
	pr = spawn(sk_holder, NULL);
	h_close_fd(sk.ready[1]);	/* EOF if the child dies */
	wait_ready(sk.ready[0], pr);
	ASSERT_EQ(pins_outstanding(), base + sk.sh->pins);

	ASSERT_SYS(kill(pr->pid, SIGKILL));
	proc_wait(pr);
	ASSERT_MSG(WIFSIGNALED(pr->status) && WTERMSIG(pr->status) == SIGKILL,
		   "child status %#x, expected killed by SIGKILL", pr->status);
	wait_outstanding(base, "after SIGKILL and waitpid");
	assert_frames_freed(sk.sh->pfns, SK_PAGES, "after SIGKILL and waitpid");
	h_assert_pins_balanced();
}

static size_t long_pin_len(void)
{
	return (size_t)LONG_PIN_MB << 20;
}

/* One PIN of LONG_PIN_MB of untouched anonymous memory (no THP: one fault
 * per 4 kB page), then block. */
static void sk_long_pin(void *arg)
{
	struct pinmgr_ctx *ctx = h_open();
	size_t len = long_pin_len();
	uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint32_t h = 0;
	char ch;

	(void)arg;
	if (buf == MAP_FAILED)
		h_fail("mmap %zu MiB: %s", len >> 20, h_errname(errno));
	madvise(buf, len, MADV_NOHUGEPAGE);
	h_signal_fd(sk.ready[1]);
	sk.sh->pin_ret = pinmgr_pin(ctx, buf, len, PINMGR_PIN_WRITE, &h);
	sk.sh->pin_returned = true;
	while (read(sk.block[0], &ch, 1) < 0)
		;	/* until killed */
}

/* First field of /proc/@pid/syscall: the syscall number, -1 (not in a
 * syscall), or -2 for "running" (the kernel can show it only for a task
 * that is not running) and -3 when the file cannot be read. */
static long proc_syscall_nr(pid_t pid)
{
	char path[64], buf[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -3;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -3;
	buf[n] = '\0';
	if (!strncmp(buf, "running", 7))
		return -2;
	return strtol(buf, NULL, 10);
}

/*
 * The kill must land while the child is inside its PIN. /proc/PID/syscall
 * shows the syscall only of a task that is not running (6.1's
 * task_current_syscall() answers "running" otherwise), and a PIN faulting
 * in fresh pages hardly ever sleeps. So the poll also watches the PIN's
 * progress: FOLL_PIN references outstanding system-wide grow batch by
 * batch while the child has not come back from the ioctl. It kills at the
 * first of: the syscall file shows ioctl (16), or a quarter of the range
 * is pinned and the PIN has not returned.
 */
CASE(sigkill_inside_pin)
{
	int64_t total = long_pin_len() / h_ps, base, at_kill = 0;
	unsigned long polls = 0, running = 0;
	bool seen_ioctl = false;
	uint64_t t0, end;
	struct proc *pr;
	long nr;

	base = pins_outstanding();
	sk.sh = shared_area(sizeof(*sk.sh));
	h_pipe(sk.ready);
	h_pipe(sk.block);
	pr = spawn(sk_long_pin, NULL);
	h_close_fd(sk.ready[1]);
	wait_ready(sk.ready[0], pr);

	t0 = now_ms();
	end = t0 + 20000;
	while (now_ms() < end && !sk.sh->pin_returned) {
		polls++;
		nr = proc_syscall_nr(pr->pid);
		if (nr == SYS_ioctl) {
			seen_ioctl = true;
			break;
		}
		running += nr == -2;
		at_kill = pins_outstanding() - base;
		if (at_kill >= total / 4)
			break;
	}
	ASSERT_SYS(kill(pr->pid, SIGKILL));
	proc_wait(pr);
	ASSERT_MSG(WIFSIGNALED(pr->status) && WTERMSIG(pr->status) == SIGKILL,
		   "child status %#x, expected killed by SIGKILL", pr->status);
	h_diag("sigkill inside PIN: killed after %" PRIu64 " ms, %lu polls: /proc/PID/syscall %s (\"running\" %lu times); %" PRId64 " of %" PRId64 " pages pinned just before the kill; the PIN %s",
	       now_ms() - t0, polls,
	       seen_ioctl ? "showed ioctl (16)" : "never showed ioctl (16)",
	       running, at_kill, total,
	       sk.sh->pin_returned ? "had returned before the kill" :
				     "had not returned: killed inside it");
	wait_outstanding(base, "after SIGKILL inside PIN and waitpid");
	h_assert_pins_balanced();
	ASSERT_MSG(!sk.sh->pin_returned,
		   "the PIN of %d MiB returned (%d) before the kill: nothing was tested",
		   LONG_PIN_MB, sk.sh->pin_ret);
	ASSERT_MSG(seen_ioctl || (at_kill > 0 && at_kill < total),
		   "the child was not seen inside its PIN: %" PRId64 " of %" PRId64 " pages pinned at the kill",
		   at_kill, total);
}

static const struct h_case cases[] = {
	H_CASE(munmap_pinned, "munmap: the device still reads the old bytes and can write; UNPIN frees the frames; STATS, VmPin, FOLL_PIN balanced"),
	H_CASE(mremap_pinned, "mremap: MREMAP_FIXED moves the pinned pages; the device sees the process's writes at the new address and vice versa"),
	H_CASE_ARG(madv_dontneed, &pin_w, "MADV_DONTNEED on a writable pin: the process sees zeros, the device the old bytes; they diverge both ways"),
	H_CASE_ARG(madv_dontneed, &pin_ro, "MADV_DONTNEED on a read-only pin: the process sees zeros, the device the old bytes; they diverge"),
	H_CASE(fork_writable, "fork: writable pin, child then parent write: the device sees the parent's bytes, never the child's"),
	H_CASE_ARG(fork_readonly, &ro_written, "fork: read-only pin of written memory, parent writes after fork: the device sees them"),
	H_CASE_ARG(fork_readonly, &ro_untouched, "fork: read-only pin of never-touched memory (zero page), parent writes after fork: the device sees them"),
	H_CASE_ARG(fork_readonly, &ro_read, "fork: read-only pin of read-only-touched memory (zero page mapped), parent writes after fork: the device sees them"),
	H_CASE_ARG(last_ref_after_opener_exit, &lr_inherited, "inherited fd: opener closes and exits; the child's last reference keeps the pages pinned, its ioctls -> EACCES, its close releases them"),
	H_CASE_ARG(last_ref_after_opener_exit, &lr_opener_exits, "opener exits: the child's INFO, PIN, QUERY, UNPIN, SEGMENTS, STATS, ACCESS -> EACCES, nothing changes; its close releases everything"),
	H_CASE_ARG(last_ref_after_opener_exit, &lr_holder_exits, "opener exits: the child exits holding the last reference -> released, balanced"),
	H_CASE_ARG(scm_rights, &scm_receive, "scm_rights: opener sends the fd and exits; the receiver's ioctls -> EACCES, its close releases everything"),
	H_CASE_ARG(scm_rights, &scm_in_flight, "scm_rights: opener exits with the fd in flight; closing the socket releases everything"),
	H_CASE(sigkill_holding_pins, "sigkill: child holding 3 regions (24 pins) killed -> after waitpid nothing pinned, frames freed"),
	H_CASE(sigkill_inside_pin, "sigkill: child killed inside a 384 MiB PIN (part pinned, not returned) -> after waitpid nothing pinned, balanced"),
};

int main(void)
{
	h_test_access_enable();
	return h_main(cases, ARRAY_SIZE(cases));
}
