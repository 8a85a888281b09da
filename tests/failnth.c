// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection: every failure path of every ioctl, of open() and of
 * close(), once each.
 *
 * Like tools/testing/selftests/iommu/iommufd_fail_nth.c: a call that
 * succeeds is repeated with /proc/self/task/<tid>/fail-nth = 1, 2, 3 ...
 * so that its first, second, third ... fault-injection point fails (an
 * allocation through failslab or fail_page_alloc, a user copy through
 * fail_usercopy), until it runs without reaching the nth point. After each
 * injected failure the call must have returned a sensible errno, nothing
 * may stay pinned or charged (STATS, VmPin, /proc/vmstat FOLL_PIN counts,
 * the module's refcount), and the same call without injection must work.
 *
 * fail-nth is consumed by every should_fail() of this task, before the
 * facility's probability or task filter are looked at, so the facilities
 * are configured to inject nothing on their own (probability 0, task-filter
 * Y) and only to stop ignoring sleeping, highmem and order-0 allocations;
 * verbose 0 keeps the "FAULT_INJECTION: forcing a failure" report and its
 * stack trace out of the kernel log, which the VM harness scans. The
 * previous settings are restored at exit.
 *
 * Needs CONFIG_FAULT_INJECTION (the file fail-nth), better with
 * CONFIG_FAULT_INJECTION_DEBUG_FS, FAILSLAB, FAIL_PAGE_ALLOC and
 * FAULT_INJECTION_USERCOPY. Without fail-nth (Debian's kernel) the program
 * is skipped (exit 4). PINMGR_FAILNTH_MAX bounds n per call (default
 * 10000): a call that still fails there is reported, not looped on.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define DEBUGFS		"/sys/kernel/debug"
#define BIG_PAGES	600	/* > 512: two pin_user_pages_fast() batches */
#define UNTOUCHED_TAIL	16	/* faulted in by GUP, in the second batch */
#define ZERO_PAGES	32	/* never written: read-only pins copy them */
#define ACCESS_LEN	(2 * h_ps + 100)	/* spans 4 pages at ACCESS_OFF */
#define ACCESS_OFF	(h_ps - 50)
#define NSMALL		3
#define VEC_RANGES	20	/* five chunks of the module's 4 */
#define STOP_AFTER	3	/* runs in a row that do not reach n */
#define TAIL_ROUNDS	8	/* more passes over the last n, at most */
#define TAIL_BELOW	12	/* those passes start this far below the top */

/* ---- configuring the facilities ---------------------------------- */

struct knob {
	const char *file;	/* under DEBUGFS */
	const char *value;
	char old[64];
	bool saved;
};

/*
 * times: how many more failures the facility may inject. Injections
 * through fail-nth count it down too, so it tells which facility injected
 * each failure; with probability 0 it enables nothing by itself.
 */
#define TIMES		"1000000000"
#define TIMES_N		1000000000LL

static struct knob knobs[] = {
	{ .file = "failslab/probability", .value = "0" },
	{ .file = "failslab/task-filter", .value = "Y" },
	{ .file = "failslab/times", .value = TIMES },
	{ .file = "failslab/verbose", .value = "0" },
	{ .file = "failslab/ignore-gfp-wait", .value = "N" },
	{ .file = "failslab/cache-filter", .value = "N" },
	{ .file = "fail_page_alloc/probability", .value = "0" },
	{ .file = "fail_page_alloc/task-filter", .value = "Y" },
	{ .file = "fail_page_alloc/times", .value = TIMES },
	{ .file = "fail_page_alloc/verbose", .value = "0" },
	{ .file = "fail_page_alloc/ignore-gfp-wait", .value = "N" },
	{ .file = "fail_page_alloc/ignore-gfp-highmem", .value = "N" },
	{ .file = "fail_page_alloc/min-order", .value = "0" },
	{ .file = "fail_usercopy/probability", .value = "0" },
	{ .file = "fail_usercopy/task-filter", .value = "Y" },
	{ .file = "fail_usercopy/times", .value = TIMES },
	{ .file = "fail_usercopy/verbose", .value = "0" },
};

static char facilities[128];	/* the ones configured, for the diagnostics */

static int knob_read(const char *file, char *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), DEBUGFS "/%s", file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int knob_write(const char *file, const char *val)
{
	char path[256];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), DEBUGFS "/%s", file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	return 0;
}

static void knobs_restore(void)
{
	size_t i;

	for (i = ARRAY_SIZE(knobs); i-- > 0;)
		if (knobs[i].saved)
			knob_write(knobs[i].file, knobs[i].old);
}

/*
 * Configures every facility that exists; returns the number of knobs that
 * could not be set (an unknown file in a facility that exists).
 */
static int knobs_setup(void)
{
	static const char *const dirs[] = {
		"failslab", "fail_page_alloc", "fail_usercopy",
	};
	struct stat st;
	int bad = 0;
	size_t i, d;

	if (stat(DEBUGFS "/failslab", &st) && stat(DEBUGFS, &st) == 0)
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
	for (d = 0; d < ARRAY_SIZE(dirs); d++) {
		char path[128];

		snprintf(path, sizeof(path), DEBUGFS "/%s", dirs[d]);
		if (stat(path, &st))
			continue;
		snprintf(facilities + strlen(facilities),
			 sizeof(facilities) - strlen(facilities), "%s%s",
			 facilities[0] ? " " : "", dirs[d]);
	}
	atexit(knobs_restore);
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		char dir[64];

		snprintf(dir, sizeof(dir), "%.*s",
			 (int)strcspn(knobs[i].file, "/"), knobs[i].file);
		if (!strstr(facilities, dir))
			continue;
		if (knob_read(knobs[i].file, knobs[i].old,
			      sizeof(knobs[i].old))) {
			printf("# cannot read %s/%s\n", DEBUGFS, knobs[i].file);
			bad++;
			continue;
		}
		knobs[i].saved = true;
		if (knob_write(knobs[i].file, knobs[i].value)) {
			printf("# cannot write %s to %s/%s\n", knobs[i].value,
			       DEBUGFS, knobs[i].file);
			bad++;
		}
	}
	return bad;
}

enum { F_SLAB, F_PAGE, F_USERCOPY, F_OTHER, F_NR };

static const char *const fac_names[F_NR] = {
	"failslab", "fail_page_alloc", "fail_usercopy", "other",
};

/* The facilities' remaining times (TIMES_N if the facility is missing). */
static void fac_times(long long t[3])
{
	char path[64], buf[32];
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/times", fac_names[i]);
		t[i] = knob_read(path, buf, sizeof(buf)) ? TIMES_N :
		       strtoll(buf, NULL, 10);
	}
}

/* Which facility injected the failure between @before and now. */
static int fac_which(const long long before[3])
{
	long long now[3];
	int i;

	fac_times(now);
	for (i = 0; i < 3; i++)
		if (now[i] == before[i] - 1)
			return i;
	return F_OTHER;
}

/* ---- fail-nth ------------------------------------------------------ */

static int nth_fd = -1;
static unsigned int nth_max = 10000;

static char *nth_path(char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/task/%d/fail-nth", (int)gettid());
	return buf;
}

/* Fails the nth fault-injection point of this thread from now on. */
static void nth_arm(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (pwrite(nth_fd, buf, len, 0) != len)
		h_fail("arming fail-nth=%u: %s", n, h_errname(errno));
}

/*
 * Disarms fail-nth; true if the nth point was reached (and failed) since
 * nth_arm(). Reading and writing the file are user copies themselves and
 * count down too: a read that gets EFAULT, or a write that does, consumed
 * the last count there, after the call under test.
 */
static bool nth_disarm(void)
{
	char buf[32] = "";
	ssize_t n;
	int i;

	n = pread(nth_fd, buf, sizeof(buf) - 1, 0);
	if (n < 0) {
		if (errno != EFAULT)
			h_fail("reading fail-nth: %s", h_errname(errno));
		strcpy(buf, "1\n");
		n = 2;
	}
	for (i = 0; i < 2; i++) {
		if (pwrite(nth_fd, "0", 1, 0) == 1)
			break;
		if (errno != EFAULT)
			h_fail("disarming fail-nth: %s", h_errname(errno));
		strcpy(buf, "1\n");
		n = 2;
	}
	ASSERT_MSG(i < 2, "fail-nth cannot be disarmed");
	buf[n] = '\0';
	return !strcmp(buf, "0\n");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the state after a call --------------------------------------- */

static uint64_t pins_outstanding(void)
{
	uint64_t acq, rel;
	char b[32];
	int ret = h_foll_pins(&acq, &rel);

	if (ret)
		h_fail("/proc/vmstat nr_foll_pin_*: %s",
		       h_retstr(b, sizeof(b), ret));
	return acq - rel;
}

/* A number in a sysfs file; -1 if there is no such file. */
static long long sysfs_num(const char *path)
{
	char buf[32] = "";
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_MSG(n > 0, "reading %s", path);
	return strtoll(buf, NULL, 10);
}

/*
 * Everything outside the file that says what is pinned, charged or open:
 * this process's VmPin, FOLL_PIN pins system-wide, the module's refcount
 * and its totals over all files (when it has them).
 */
static const char *const totals[] = {
	"open_files", "regions", "pinned_pages", "metadata_bytes",
};

struct snap {
	long long val[3 + ARRAY_SIZE(totals)];
};

static const char *snap_name(size_t i)
{
	static char buf[64];

	switch (i) {
	case 0: return "VmPin kB";
	case 1: return "FOLL_PIN pins outstanding system-wide";
	case 2: return "/sys/module/pinmgr/refcnt";
	}
	snprintf(buf, sizeof(buf), "/sys/class/misc/pinmgr/stats/%s",
		 totals[i - 3]);
	return buf;
}

static void snap_take(struct snap *s)
{
	size_t i;

	s->val[0] = h_vmpin_kb();
	s->val[1] = (long long)pins_outstanding();
	s->val[2] = sysfs_num("/sys/module/pinmgr/refcnt");
	for (i = 3; i < ARRAY_SIZE(s->val); i++)
		s->val[i] = sysfs_num(snap_name(i));
}

static void snap_assert_same(const struct snap *was, const char *when)
{
	struct snap now;
	size_t i;

	snap_take(&now);
	for (i = 0; i < ARRAY_SIZE(now.val); i++)
		ASSERT_MSG(now.val[i] == was->val[i],
			   "%s: %s is %lld, was %lld", when, snap_name(i),
			   now.val[i], was->val[i]);
}

static void stats_of(int fd, struct pinmgr_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	ASSERT_OK(h_ioctl(fd, PINMGR_STATS, st));
}

/* ---- the calls ----------------------------------------------------- */

struct fx {
	struct pinmgr_ctx *ctx;	/* opened for the whole sweep */
	int fd;			/* h_fd(ctx) */
	char *buf;		/* this iteration's memory */
	size_t buf_len;
	uint32_t handle;	/* the region the call works on (or made) */
	uint64_t npages;	/* its pages */
	struct pinmgr_segment *segs;
	size_t nsegs;
	struct pinmgr_pin_range *ranges;
	char *io;		/* ACCESS buffer, touched */
	struct pinmgr_stats before;
	int new_fd;		/* open() and close(): the file */
};

struct op {
	const char *name;
	/* Outside injection: whatever the call needs, fresh each time. */
	void (*setup)(struct fx *fx);
	/* The call itself, under injection: 0 or -errno, no other syscall. */
	int (*call)(struct fx *fx);
	/* After the call succeeded (with or without injection). */
	void (*after_ok)(struct fx *fx);
	/* After it failed: what the call was to change is as it was. */
	void (*after_err)(struct fx *fx);
	/* Undo setup (and after_ok). */
	void (*teardown)(struct fx *fx);
	/* Errnos an injected failure may produce. */
	int errnos[2];
	/* Failure points the module itself has on this path, at least; of
	 * them, user copies (each copy_{from,to}_user() of the module). */
	unsigned int min_points;
	unsigned int min_usercopy;
	/*
	 * An injected failure may be absorbed and the call succeed: the
	 * allocation was optional (shrinking the run array; on a debug
	 * kernel also kmemleak's and KASAN's own) or the call is close(),
	 * which cannot fail.
	 */
	bool may_absorb;
	/* Opens its own file rather than using the sweep's. */
	bool own_file;
	/* Nothing stays pinned after setup: check right after a failure. */
	bool nothing_held;
};

static void *map_anon(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		h_fail("mmap %zu: %s", len, h_errname(errno));
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static void unmap_buf(struct fx *fx)
{
	if (fx->buf)
		munmap(fx->buf, fx->buf_len);
	fx->buf = NULL;
}

static void pin_region(struct fx *fx, size_t npages)
{
	struct pinmgr_pin p;

	fx->buf_len = npages * h_ps;
	fx->buf = map_anon(fx->buf_len, PROT_READ | PROT_WRITE);
	memset(fx->buf, 0x33, fx->buf_len);
	ASSERT_OK(h_pin_raw(fx->ctx, fx->buf, fx->buf_len, PINMGR_PIN_WRITE,
			    &p));
	fx->handle = p.out_handle;
	fx->npages = p.out_npages;
	stats_of(fx->fd, &fx->before);
}

static void teardown_region(struct fx *fx)
{
	if (fx->handle)
		ASSERT_OK(pinmgr_unpin(fx->ctx, fx->handle));
	fx->handle = 0;
	unmap_buf(fx);
}

static void assert_counters(struct fx *fx, long regions, long pages,
			    long pins, long unpins)
{
	struct pinmgr_stats st;
	const struct pinmgr_stats *b = &fx->before;

	stats_of(fx->fd, &st);
	ASSERT_EQ(st.out_regions, b->out_regions + regions);
	ASSERT_EQ(st.out_pinned_pages, b->out_pinned_pages + pages);
	ASSERT_EQ(st.out_pins, b->out_pins + pins);
	ASSERT_EQ(st.out_unpins, b->out_unpins + unpins);
	ASSERT_EQ(st.out_failed_pins, b->out_failed_pins);
	if (!st.out_regions)
		ASSERT_EQ(st.out_metadata_bytes, 0);
}

/* The region is still there, unchanged, and nothing else happened. */
static void assert_region_intact(struct fx *fx)
{
	struct pinmgr_query q;

	ASSERT_OK(pinmgr_query(fx->ctx, fx->handle, &q, sizeof(q)));
	ASSERT_EQ(q.out_npages, fx->npages);
	ASSERT_EQ(q.out_addr, (uintptr_t)fx->buf);
	assert_counters(fx, 0, 0, 0, 0);
	ASSERT_VMPIN_KB(PAGES_KB(fx->before.out_pinned_pages));
}

/* -- INFO and STATS: copy in, copy out -- */

static void setup_stats(struct fx *fx)
{
	stats_of(fx->fd, &fx->before);
}

static int call_info(struct fx *fx)
{
	struct pinmgr_info in = { .size = sizeof(in) };

	return h_ioctl(fx->fd, PINMGR_INFO, &in);
}

static int call_stats(struct fx *fx)
{
	struct pinmgr_stats st = { .size = sizeof(st) };

	return h_ioctl(fx->fd, PINMGR_STATS, &st);
}

static void after_nothing_changed(struct fx *fx)
{
	assert_counters(fx, 0, 0, 0, 0);
}

/* -- QUERY -- */

static void setup_query(struct fx *fx)
{
	pin_region(fx, 4);
}

static int call_query(struct fx *fx)
{
	struct pinmgr_query q = { .size = sizeof(q), .handle = fx->handle };

	return h_ioctl(fx->fd, PINMGR_QUERY, &q);
}

/* -- PIN -- */

static void setup_pin_big(struct fx *fx)
{
	fx->buf_len = (BIG_PAGES + UNTOUCHED_TAIL) * h_ps;
	fx->buf = map_anon(fx->buf_len, PROT_READ | PROT_WRITE);
	memset(fx->buf, 0x44, BIG_PAGES * h_ps);
	stats_of(fx->fd, &fx->before);
}

static void setup_pin_zero(struct fx *fx)
{
	fx->buf_len = ZERO_PAGES * h_ps;
	fx->buf = map_anon(fx->buf_len, PROT_READ);
	stats_of(fx->fd, &fx->before);
}

static int call_pin(struct fx *fx, uint32_t flags)
{
	struct pinmgr_pin p;
	int ret = h_pin_raw(fx->ctx, fx->buf, fx->buf_len, flags, &p);

	if (!ret) {
		fx->handle = p.out_handle;
		fx->npages = p.out_npages;
	}
	return ret;
}

static int call_pin_w(struct fx *fx)
{
	return call_pin(fx, PINMGR_PIN_WRITE);
}

static int call_pin_ro(struct fx *fx)
{
	return call_pin(fx, 0);
}

static int call_pin_w_unwatched(struct fx *fx)
{
	return call_pin(fx, PINMGR_PIN_WRITE | PINMGR_PIN_NO_EVENTS);
}

static void after_pin_ok(struct fx *fx)
{
	ASSERT_NE(fx->handle, 0);
	ASSERT_EQ(fx->npages, fx->buf_len / h_ps);
	assert_counters(fx, 1, fx->npages, 1, 0);
	ASSERT_VMPIN_KB(PAGES_KB(fx->before.out_pinned_pages + fx->npages));
}

/*
 * A failed PIN leaves nothing pinned or charged. It counts as a failed pin
 * (or not at all when the struct could not even be read). When the struct
 * could not be written back, the region is undone (fuzz.c checks how that
 * is counted against the ABI): here only pins - unpins must not change.
 */
static void after_pins_err(struct fx *fx, unsigned int max_failed)
{
	const struct pinmgr_stats *b = &fx->before;
	struct pinmgr_stats st;

	stats_of(fx->fd, &st);
	ASSERT_EQ(st.out_regions, b->out_regions);
	ASSERT_EQ(st.out_pinned_pages, b->out_pinned_pages);
	ASSERT_EQ(st.out_metadata_bytes, b->out_metadata_bytes);
	ASSERT_EQ(st.out_pins - st.out_unpins, b->out_pins - b->out_unpins);
	ASSERT_MSG(st.out_failed_pins - b->out_failed_pins <= max_failed,
		   "failed_pins went from %llu to %llu",
		   (unsigned long long)b->out_failed_pins,
		   (unsigned long long)st.out_failed_pins);
	/* the next call starts from here */
	fx->before = st;
	fx->handle = 0;
}

static void after_pin_err(struct fx *fx)
{
	after_pins_err(fx, 1);
}

/* Each range pinned before the failure, undone, counts as a failed pin. */
static void after_pin_vec_err(struct fx *fx)
{
	after_pins_err(fx, VEC_RANGES);
}

/* -- PIN_VEC -- */

static void setup_pin_vec(struct fx *fx)
{
	int i;

	fx->buf_len = 2 * VEC_RANGES * h_ps;
	fx->buf = map_anon(fx->buf_len, PROT_READ | PROT_WRITE);
	memset(fx->buf, 0x45, fx->buf_len);
	if (!fx->ranges)
		fx->ranges = h_malloc(VEC_RANGES * sizeof(*fx->ranges));
	memset(fx->ranges, 0, VEC_RANGES * sizeof(*fx->ranges));
	for (i = 0; i < VEC_RANGES; i++) {
		/* one or two pages each, unaligned */
		fx->ranges[i].addr = (uintptr_t)fx->buf + 2 * i * h_ps + i;
		fx->ranges[i].length = i % 3 ? h_ps : 2;
	}
	stats_of(fx->fd, &fx->before);
}

static int call_pin_vec(struct fx *fx)
{
	struct pinmgr_pin_vec v = {
		.size = sizeof(v),
		.flags = PINMGR_PIN_WRITE,
		.count = VEC_RANGES,
		.ranges = (uintptr_t)fx->ranges,
	};

	return h_ioctl(fx->fd, PINMGR_PIN_VEC, &v);
}

static uint64_t vec_pages(const struct pinmgr_pin_range *r)
{
	uint64_t first = r->addr / h_ps;

	return (r->addr + r->length + h_ps - 1) / h_ps - first;
}

static void after_pin_vec_ok(struct fx *fx)
{
	uint64_t pages = 0;
	int i;

	for (i = 0; i < VEC_RANGES; i++) {
		ASSERT_NE(fx->ranges[i].out_handle, 0);
		ASSERT_EQ(fx->ranges[i].out_npages, vec_pages(&fx->ranges[i]));
		pages += fx->ranges[i].out_npages;
	}
	assert_counters(fx, VEC_RANGES, pages, VEC_RANGES, 0);
}

/* -- UPDATE: unpin 3 regions, pin the 20 ranges of PIN_VEC -- */

static void teardown_pin_vec(struct fx *fx);

#define UPD_OLD 3
static uint32_t upd_old[UPD_OLD];
static char *upd_mem;

static void setup_update(struct fx *fx)
{
	int i;

	setup_pin_vec(fx);
	upd_mem = map_anon(UPD_OLD * h_ps, PROT_READ | PROT_WRITE);
	memset(upd_mem, 0x46, UPD_OLD * h_ps);
	for (i = 0; i < UPD_OLD; i++)
		upd_old[i] = h_pin(fx->ctx, upd_mem + i * h_ps, h_ps, 0);
	stats_of(fx->fd, &fx->before);
}

static int call_update(struct fx *fx)
{
	struct pinmgr_update u = {
		.size = sizeof(u),
		.flags = PINMGR_PIN_WRITE,
		.nr_unpin = UPD_OLD,
		.nr_pin = VEC_RANGES,
		.unpin = (uintptr_t)upd_old,
		.pin = (uintptr_t)fx->ranges,
	};

	return h_ioctl(fx->fd, PINMGR_UPDATE, &u);
}

static void after_update_ok(struct fx *fx)
{
	struct pinmgr_query q;
	uint64_t pages = 0;
	int i;

	for (i = 0; i < VEC_RANGES; i++) {
		ASSERT_NE(fx->ranges[i].out_handle, 0);
		ASSERT_EQ(fx->ranges[i].out_npages, vec_pages(&fx->ranges[i]));
		pages += fx->ranges[i].out_npages;
	}
	for (i = 0; i < UPD_OLD; i++)
		ASSERT_ERR(pinmgr_query(fx->ctx, upd_old[i], &q, sizeof(q)),
			   ENOENT);
	assert_counters(fx, VEC_RANGES - UPD_OLD, pages - UPD_OLD, VEC_RANGES,
			UPD_OLD);
}

/* Nothing of the call stays pinned, and the old regions are all there. */
static void after_update_err(struct fx *fx)
{
	struct pinmgr_query q;
	int i;

	for (i = 0; i < UPD_OLD; i++)
		ASSERT_OK(pinmgr_query(fx->ctx, upd_old[i], &q, sizeof(q)));
	after_pins_err(fx, VEC_RANGES);
}

/*
 * -- UPDATE_REPLACE: the 3 regions of UPDATE replaced by the first 1 or 3
 * ranges of PIN_VEC (3: the arrays are on the heap) --
 */

static unsigned int rpl_n;
static uint32_t rpl_flags;

static void setup_replace_1(struct fx *fx)
{
	rpl_n = 1;
	rpl_flags = 0;
	setup_update(fx);
}

static void setup_replace_3(struct fx *fx)
{
	rpl_n = 3;
	rpl_flags = 0;
	setup_update(fx);
}

/* Watched regions replaced by unwatched ones (PINMGR_PIN_NO_EVENTS). */
static void setup_replace_3_unwatched(struct fx *fx)
{
	rpl_n = 3;
	rpl_flags = PINMGR_PIN_NO_EVENTS;
	setup_update(fx);
}

static int call_replace(struct fx *fx)
{
	struct pinmgr_update u = {
		.size = sizeof(u),
		.flags = PINMGR_PIN_WRITE | PINMGR_UPDATE_REPLACE | rpl_flags,
		.nr_unpin = rpl_n,
		.nr_pin = rpl_n,
		.unpin = (uintptr_t)upd_old,
		.pin = (uintptr_t)fx->ranges,
	};

	return h_ioctl(fx->fd, PINMGR_UPDATE, &u);
}

/* @i of the old handles names the region of @addr, @len bytes. */
static void assert_names(struct fx *fx, unsigned int i, uint64_t addr,
			 uint64_t len)
{
	struct pinmgr_query q;

	ASSERT_OK(pinmgr_query(fx->ctx, upd_old[i], &q, sizeof(q)));
	ASSERT_EQ(q.out_addr, addr);
	ASSERT_EQ(q.out_length, len);
}

static void after_replace_ok(struct fx *fx)
{
	uint64_t pages = 0;
	unsigned int i;

	for (i = 0; i < rpl_n; i++) {
		ASSERT_EQ(fx->ranges[i].out_handle, upd_old[i]);
		ASSERT_EQ(fx->ranges[i].out_npages, vec_pages(&fx->ranges[i]));
		pages += fx->ranges[i].out_npages;
		assert_names(fx, i, fx->ranges[i].addr, fx->ranges[i].length);
	}
	assert_counters(fx, 0, pages - rpl_n, rpl_n, rpl_n);
}

/* Nothing of the call stays pinned; every handle keeps its old region. */
static void after_replace_err(struct fx *fx)
{
	unsigned int i;

	for (i = 0; i < UPD_OLD; i++)
		assert_names(fx, i, (uintptr_t)upd_mem + i * h_ps, h_ps);
	after_pins_err(fx, rpl_n);
}

static void teardown_update(struct fx *fx)
{
	struct pinmgr_query q;
	int i;

	for (i = 0; i < UPD_OLD; i++)
		if (!pinmgr_query(fx->ctx, upd_old[i], &q, sizeof(q)))
			ASSERT_OK(pinmgr_unpin(fx->ctx, upd_old[i]));
	munmap(upd_mem, UPD_OLD * h_ps);
	teardown_pin_vec(fx);
}

static void teardown_pin_vec(struct fx *fx)
{
	struct pinmgr_stats st;
	int i;

	stats_of(fx->fd, &st);
	/* after a success (a failure left none): unpin every range */
	for (i = 0; st.out_regions && i < VEC_RANGES; i++)
		ASSERT_OK(pinmgr_unpin(fx->ctx, fx->ranges[i].out_handle));
	unmap_buf(fx);
}

/* -- UNPIN -- */

static void setup_unpin(struct fx *fx)
{
	pin_region(fx, BIG_PAGES);
}

static int call_unpin(struct fx *fx)
{
	return pinmgr_unpin(fx->ctx, fx->handle);
}

static void after_unpin_ok(struct fx *fx)
{
	struct pinmgr_query q;

	ASSERT_ERR(pinmgr_query(fx->ctx, fx->handle, &q, sizeof(q)), ENOENT);
	assert_counters(fx, -1, -(long)fx->npages, 0, 1);
	fx->handle = 0;
}

/* -- EXPORT_DMABUF -- */

static void setup_export(struct fx *fx)
{
	pin_region(fx, 4);
}

static int call_export(struct fx *fx)
{
	struct pinmgr_export_dmabuf e = {
		.size = sizeof(e), .handle = fx->handle, .length = 4 * h_ps,
	};
	int ret = h_ioctl(fx->fd, PINMGR_EXPORT_DMABUF, &e);

	if (!ret)
		fx->new_fd = e.out_fd;
	return ret;
}

/* The dma-buf holds the region: UNPIN is refused until it is closed. */
static void after_export_ok(struct fx *fx)
{
	ASSERT_EQ(h_total_of("dmabufs"), 1);
	ASSERT_ERR(pinmgr_unpin(fx->ctx, fx->handle), EBUSY);
	close(fx->new_fd);
	fx->new_fd = -1;
	ASSERT_EQ(h_total_of("dmabufs"), 0);
	assert_region_intact(fx);
}

/* No dma-buf, no descriptor was left behind. */
static void after_export_err(struct fx *fx)
{
	ASSERT_EQ(h_total_of("dmabufs"), 0);
	ASSERT_EQ(fx->new_fd, -1);
	assert_region_intact(fx);
}

/* -- SEGMENTS -- */

static void setup_segments(struct fx *fx)
{
	if (!fx->segs)
		fx->segs = h_malloc(BIG_PAGES * sizeof(*fx->segs));
	memset(fx->segs, 0, BIG_PAGES * sizeof(*fx->segs));
	pin_region(fx, BIG_PAGES);
}

static int call_segments(struct fx *fx, uint32_t flags)
{
	struct pinmgr_segments s = {
		.size = sizeof(s),
		.flags = flags,
		.handle = fx->handle,
		.capacity = BIG_PAGES,
		.segs = (uintptr_t)fx->segs,
	};
	int ret = h_ioctl(fx->fd, PINMGR_SEGMENTS, &s);

	if (!ret)
		fx->nsegs = s.out_count;
	return ret;
}

static int call_segments_plain(struct fx *fx)
{
	return call_segments(fx, 0);
}

static int call_segments_phys(struct fx *fx)
{
	return call_segments(fx, PINMGR_SEGMENTS_PHYS);
}

static void after_segments_ok(struct fx *fx)
{
	h_check_segments_cover(fx->segs, fx->nsegs, fx->npages);
	assert_region_intact(fx);
}

/* -- ACCESS -- */

static void setup_access(struct fx *fx)
{
	if (!fx->io)
		fx->io = h_malloc(ACCESS_LEN);
	memset(fx->io, 0x55, ACCESS_LEN);
	pin_region(fx, 4);
}

static int call_access_read(struct fx *fx)
{
	return pinmgr_access(fx->ctx, fx->handle, 0, ACCESS_OFF, fx->io,
			     ACCESS_LEN);
}

static int call_access_write(struct fx *fx)
{
	return pinmgr_access(fx->ctx, fx->handle, PINMGR_ACCESS_WRITE,
			     ACCESS_OFF, fx->io, ACCESS_LEN);
}

static void after_access_ok(struct fx *fx)
{
	size_t i;

	assert_region_intact(fx);
	/* read: the buffer got the pages (0x33); write: the pages got the
	 * buffer (0x55); either way they now agree */
	for (i = 0; i < ACCESS_LEN; i++)
		ASSERT_EQ(fx->io[i], fx->buf[ACCESS_OFF + i]);
}

/* -- VERIFY -- */

static void setup_verify(struct fx *fx)
{
	pin_region(fx, BIG_PAGES);
}

static int call_verify(struct fx *fx)
{
	uint64_t differ = 1, first = 0;
	int ret = pinmgr_verify(fx->ctx, fx->handle, &differ, &first);

	if (!ret && (differ || first != UINT64_MAX))
		h_fail("VERIFY of an untouched region: %" PRIu64
		       " pages differ, the first at %" PRIu64, differ, first);
	return ret;
}

/* -- read() of divergence events -- */

static void setup_events(struct fx *fx)
{
	struct pinmgr_info in;

	ASSERT_OK(pinmgr_info(fx->ctx, &in, sizeof(in)));
	if (!(in.out_caps & PINMGR_CAP_EVENTS))
		h_skip("no PINMGR_CAP_EVENTS (kernel without CONFIG_MMU_NOTIFIER)");
	/* A lost record is an EAGAIN failure, not a read() blocked forever. */
	ASSERT_SYS(fcntl(fx->fd, F_SETFL, O_NONBLOCK));
	pin_region(fx, 4);
	/* One record pending: the region's mapping lost a page. */
	ASSERT_SYS(madvise(fx->buf + h_ps, h_ps, MADV_DONTNEED));
	stats_of(fx->fd, &fx->before);
}

static int call_events(struct fx *fx)
{
	struct pinmgr_event ev[2];
	int n = pinmgr_events_read(fx->ctx, ev, ARRAY_SIZE(ev));

	if (n < 0)
		return n;
	ASSERT_EQ(n, 1);
	ASSERT_EQ(ev[0].handle, fx->handle);
	ASSERT_EQ(ev[0].start, (uintptr_t)fx->buf + h_ps);
	ASSERT_EQ(ev[0].end, (uintptr_t)fx->buf + 2 * h_ps);
	return 0;
}

static bool events_pending(struct fx *fx)
{
	struct pollfd pfd = { .fd = fx->fd, .events = POLLIN };

	ASSERT_SYS(poll(&pfd, 1, 0));
	return pfd.revents & POLLIN;
}

static void after_events_ok(struct fx *fx)
{
	ASSERT_MSG(!events_pending(fx), "a record is still pending after it was read");
	assert_region_intact(fx);
}

/* The undelivered record is pending again (the sweep reads it next). */
static void after_events_err(struct fx *fx)
{
	ASSERT_MSG(events_pending(fx), "the record was lost with the failed read()");
	assert_region_intact(fx);
}

/* -- open() and close() -- */

static void setup_open(struct fx *fx)
{
	fx->new_fd = -1;
}

static int call_open(struct fx *fx)
{
	fx->new_fd = open(PINMGR_DEFAULT_PATH, O_RDWR | O_CLOEXEC);
	return fx->new_fd < 0 ? -errno : 0;
}

static void after_open_ok(struct fx *fx)
{
	struct pinmgr_info in = { .size = sizeof(in) };

	ASSERT_OK(h_ioctl(fx->new_fd, PINMGR_INFO, &in));
	ASSERT_EQ(in.out_abi_version, PINMGR_ABI_VERSION);
}

static void after_open_err(struct fx *fx)
{
	ASSERT_EQ(fx->new_fd, -1);
}

static void teardown_file(struct fx *fx)
{
	if (fx->new_fd >= 0)
		close(fx->new_fd);
	fx->new_fd = -1;
	unmap_buf(fx);
}

static void setup_close(struct fx *fx)
{
	struct pinmgr_pin p;
	int i;

	fx->new_fd = open(PINMGR_DEFAULT_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_SYS(fx->new_fd);
	fx->buf_len = BIG_PAGES * h_ps;
	fx->buf = map_anon(fx->buf_len, PROT_READ | PROT_WRITE);
	memset(fx->buf, 0x66, fx->buf_len);
	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.flags = PINMGR_PIN_WRITE;
	p.addr = (uintptr_t)fx->buf;
	p.length = fx->buf_len;
	ASSERT_OK(h_ioctl(fx->new_fd, PINMGR_PIN, &p));
	for (i = 0; i < NSMALL; i++) {
		memset(&p, 0, sizeof(p));
		p.size = sizeof(p);
		p.flags = i % 2 ? PINMGR_PIN_WRITE : 0;
		p.addr = (uintptr_t)fx->buf + i * h_ps + 10;
		p.length = h_ps;
		ASSERT_OK(h_ioctl(fx->new_fd, PINMGR_PIN, &p));
	}
	ASSERT_VMPIN_KB(PAGES_KB(BIG_PAGES + 2 * NSMALL));
}

static int call_close(struct fx *fx)
{
	int ret = close(fx->new_fd);

	fx->new_fd = -1;
	return ret ? -errno : 0;
}

static void after_close(struct fx *fx)
{
	(void)fx;
	/* the last reference is gone: everything it pinned is released */
	ASSERT_VMPIN_KB(0);
}

static const struct op ops[] = {
	{
		.name = "INFO",
		.setup = setup_stats, .call = call_info,
		.after_ok = after_nothing_changed,
		.after_err = after_nothing_changed,
		.errnos = { EFAULT }, .min_points = 2, .min_usercopy = 2,
		.nothing_held = true,
	},
	{
		.name = "PIN writable, 616 pages (2 batches, 16 faulted in by GUP)",
		.setup = setup_pin_big, .call = call_pin_w,
		.after_ok = after_pin_ok, .after_err = after_pin_err,
		.teardown = teardown_region,
		.errnos = { ENOMEM, EFAULT },
		/* copy in, the region, copy out */
		.min_points = 3, .min_usercopy = 2, .may_absorb = true,
		.nothing_held = true,
	},
	{
		.name = "PIN writable unwatched (NO_EVENTS), 616 pages",
		.setup = setup_pin_big, .call = call_pin_w_unwatched,
		.after_ok = after_pin_ok, .after_err = after_pin_err,
		.teardown = teardown_region,
		.errnos = { ENOMEM, EFAULT },
		.min_points = 3, .min_usercopy = 2, .may_absorb = true,
		.nothing_held = true,
	},
	{
		.name = "PIN read-only, 616 pages (2 batches, 16 faulted in by GUP)",
		.setup = setup_pin_big, .call = call_pin_ro,
		.after_ok = after_pin_ok, .after_err = after_pin_err,
		.teardown = teardown_region,
		.errnos = { ENOMEM, EFAULT },
		.min_points = 3, .min_usercopy = 2, .may_absorb = true,
		.nothing_held = true,
	},
	{
		.name = "PIN read-only, 32 never-written pages of a PROT_READ mapping",
		.setup = setup_pin_zero, .call = call_pin_ro,
		.after_ok = after_pin_ok, .after_err = after_pin_err,
		.teardown = teardown_region,
		.errnos = { ENOMEM, EFAULT },
		.min_points = 3, .min_usercopy = 2, .may_absorb = true,
		.nothing_held = true,
	},
	{
		.name = "PIN_VEC of 20 ranges (5 chunks)",
		.setup = setup_pin_vec, .call = call_pin_vec,
		.after_ok = after_pin_vec_ok, .after_err = after_pin_vec_err,
		.teardown = teardown_pin_vec,
		.errnos = { ENOMEM, EFAULT },
		/* copy in, the handles, the ranges in, 20 regions, out */
		.min_points = 25, .min_usercopy = 3, .may_absorb = true,
		.nothing_held = true,
	},
	{
		.name = "UPDATE: unpin 3 regions, pin 20 ranges (5 chunks)",
		.setup = setup_update, .call = call_update,
		.after_ok = after_update_ok, .after_err = after_update_err,
		.teardown = teardown_update,
		.errnos = { ENOMEM, EFAULT },
		/*
		 * copy in, the handles in, room for the new ones, the ranges
		 * in and out, 20 regions (or spare ones: PIN_SPARE_REGIONS
		 * of them need no allocation), room for the old regions
		 */
		.min_points = 20, .min_usercopy = 4, .may_absorb = true,
	},
	{
		.name = "UPDATE_REPLACE of 1 region (arrays on the stack)",
		.setup = setup_replace_1, .call = call_replace,
		.after_ok = after_replace_ok, .after_err = after_replace_err,
		.teardown = teardown_update,
		.errnos = { ENOMEM, EFAULT },
		/*
		 * copy in, the range in and out (the handle comes in by
		 * get_user(), which fail_usercopy does not reach)
		 */
		.min_points = 3, .min_usercopy = 3, .may_absorb = true,
	},
	{
		.name = "UPDATE_REPLACE of 3 regions (arrays on the heap)",
		.setup = setup_replace_3, .call = call_replace,
		.after_ok = after_replace_ok, .after_err = after_replace_err,
		.teardown = teardown_update,
		.errnos = { ENOMEM, EFAULT },
		/*
		 * copy in, room for the arrays, the handles in, the ranges in
		 * and out, room for the tracker's (3 regions may be spares)
		 */
		.min_points = 6, .min_usercopy = 4, .may_absorb = true,
	},
	{
		.name = "UPDATE_REPLACE of 3 regions by unwatched ones (NO_EVENTS)",
		.setup = setup_replace_3_unwatched, .call = call_replace,
		.after_ok = after_replace_ok, .after_err = after_replace_err,
		.teardown = teardown_update,
		.errnos = { ENOMEM, EFAULT },
		.min_points = 6, .min_usercopy = 4, .may_absorb = true,
	},
	{
		.name = "UNPIN of a 600-page region",
		.setup = setup_unpin, .call = call_unpin,
		.after_ok = after_unpin_ok, .after_err = assert_region_intact,
		.teardown = teardown_region,
		.errnos = { EFAULT }, .min_points = 1, .min_usercopy = 1,
	},
	{
		.name = "EXPORT_DMABUF of a 4-page region",
		.setup = setup_export, .call = call_export,
		.after_ok = after_export_ok, .after_err = after_export_err,
		.teardown = teardown_region,
		.errnos = { ENOMEM, EFAULT },
		/* copy in, the module's struct, the dma-buf's, copy out */
		.min_points = 4, .min_usercopy = 2,
	},
	{
		.name = "QUERY",
		.setup = setup_query, .call = call_query,
		.after_ok = assert_region_intact,
		.after_err = assert_region_intact,
		.teardown = teardown_region,
		.errnos = { EFAULT }, .min_points = 2, .min_usercopy = 2,
	},
	{
		.name = "SEGMENTS of a 600-page region",
		.setup = setup_segments, .call = call_segments_plain,
		.after_ok = after_segments_ok,
		.after_err = assert_region_intact,
		.teardown = teardown_region,
		/* copy in, >= 1 chunk of segments, copy out */
		.errnos = { EFAULT }, .min_points = 3, .min_usercopy = 3,
	},
	{
		.name = "SEGMENTS with PHYS of a 600-page region",
		.setup = setup_segments, .call = call_segments_phys,
		.after_ok = after_segments_ok,
		.after_err = assert_region_intact,
		.teardown = teardown_region,
		.errnos = { EFAULT }, .min_points = 3, .min_usercopy = 3,
	},
	{
		.name = "STATS",
		.setup = setup_stats, .call = call_stats,
		.after_ok = after_nothing_changed,
		.after_err = after_nothing_changed,
		.errnos = { EFAULT }, .min_points = 2, .min_usercopy = 2,
		.nothing_held = true,
	},
	{
		.name = "ACCESS read across 4 pages",
		.setup = setup_access, .call = call_access_read,
		.after_ok = after_access_ok,
		.after_err = assert_region_intact,
		.teardown = teardown_region,
		/* copy in, one copy per page */
		.errnos = { EFAULT }, .min_points = 5, .min_usercopy = 5,
	},
	{
		.name = "ACCESS write across 4 pages",
		.setup = setup_access, .call = call_access_write,
		.after_ok = after_access_ok,
		.after_err = assert_region_intact,
		.teardown = teardown_region,
		/* copy in, bounce buffer, one copy per page */
		.errnos = { ENOMEM, EFAULT }, .min_points = 6, .min_usercopy = 5,
	},
	{
		.name = "VERIFY of a 600-page region",
		.setup = setup_verify, .call = call_verify,
		.after_ok = assert_region_intact,
		.after_err = assert_region_intact,
		.teardown = teardown_region,
		/* copy in, the page batch, copy out */
		.errnos = { ENOMEM, EFAULT }, .min_points = 3, .min_usercopy = 2,
	},
	{
		.name = "read() of a divergence event",
		.setup = setup_events, .call = call_events,
		.after_ok = after_events_ok, .after_err = after_events_err,
		.teardown = teardown_region,
		/* the records out */
		.errnos = { EFAULT }, .min_points = 1, .min_usercopy = 1,
	},
	{
		.name = "open()",
		.setup = setup_open, .call = call_open,
		.after_ok = after_open_ok, .after_err = after_open_err,
		.teardown = teardown_file,
		.errnos = { ENOMEM, EFAULT },
		/* the module's struct pinmgr_file */
		.min_points = 1, .may_absorb = true, .own_file = true,
		.nothing_held = true,
	},
	{
		.name = "close() of a file holding 4 regions",
		.setup = setup_close, .call = call_close,
		.after_ok = after_close,
		.teardown = teardown_file,
		.min_points = 0, .may_absorb = true, .own_file = true,
	},
};

static bool errno_allowed(const struct op *op, int err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(op->errnos); i++)
		if (op->errnos[i] && op->errnos[i] == err)
			return true;
	return false;
}

/* After a case that failed part-way: what its last iteration set up. */
static void fx_cleanup(void *p, size_t n)
{
	struct fx *fx = p;

	(void)n;
	fx->handle = 0;
	if (fx->ctx)
		pinmgr_close(fx->ctx);
	fx->ctx = NULL;
	if (fx->new_fd >= 0)
		close(fx->new_fd);
	fx->new_fd = -1;
	unmap_buf(fx);
}

/*
 * A new file for each run of the call: its xarray starts empty, so each
 * run allocates the same nodes, and takes the same failure points.
 */
static void fresh_file(const struct op *op, struct fx *fx)
{
	char b[32];
	int ret;

	if (op->own_file)
		return;
	if (fx->ctx)
		pinmgr_close(fx->ctx);
	fx->ctx = NULL;
	ret = pinmgr_open(&fx->ctx);
	if (ret)
		h_fail("pinmgr_open: %s", h_retstr(b, sizeof(b), ret));
	fx->fd = pinmgr_fd(fx->ctx);
}

static cpu_set_t saved_cpus;

static void restore_cpus(void *p, size_t n)
{
	(void)p;
	(void)n;
	sched_setaffinity(0, sizeof(saved_cpus), &saved_cpus);
}

/* Per-CPU caches differ: run the whole sweep on one CPU. */
static void stay_on_one_cpu(void)
{
	cpu_set_t one;

	if (sched_getaffinity(0, sizeof(saved_cpus), &saved_cpus))
		return;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
	if (!sched_setaffinity(0, sizeof(one), &one))
		h_defer(restore_cpus, NULL, 0);
}

static void finish_ok(const struct op *op, struct fx *fx)
{
	if (op->after_ok)
		op->after_ok(fx);
	if (op->teardown)
		op->teardown(fx);
}

/* What a sweep has seen so far. */
struct sweep {
	const struct op *op;
	struct fx *fx;
	struct snap base;
	unsigned int points;		/* the highest n that was reached */
	unsigned int absorbed;
	unsigned int by_fac[F_NR];	/* failures injected per facility */
	unsigned int nerr[2];		/* per op->errnos[] */
	char trace[1024];		/* one letter per run */
	size_t tlen;
};

static void trace_add(struct sweep *sw, char c)
{
	if (sw->tlen < sizeof(sw->trace) - 1)
		sw->trace[sw->tlen++] = c;
}

/*
 * One run of the call with fail-nth = @n, and every check after it.
 * Returns whether the nth point was reached.
 */
static bool sweep_one(struct sweep *sw, unsigned int n)
{
	const struct op *op = sw->op;
	struct fx *fx = sw->fx;
	long long times[3];
	bool fired;
	char b[32];
	int ret, fac;
	size_t i;

	ASSERT_MSG(n <= nth_max,
		   "still failing at fail-nth=%u (PINMGR_FAILNTH_MAX)", n);
	fresh_file(op, fx);
	op->setup(fx);
	fac_times(times);
	nth_arm(n);
	ret = op->call(fx);
	fired = nth_disarm();

	if (!fired) {
		/* the call ran past its last point */
		ASSERT_MSG(ret == 0,
			   "fail-nth=%u was not reached, yet the call returned %s",
			   n, h_retstr(b, sizeof(b), ret));
		finish_ok(op, fx);
		snap_assert_same(&sw->base, "after the call without injection");
		trace_add(sw, '.');
		return false;
	}
	if (n > sw->points)
		sw->points = n;
	fac = fac_which(times);
	sw->by_fac[fac]++;
	trace_add(sw, "spuo"[fac] - (ret ? 0 : 'a' - 'A'));
	if (ret == 0) {
		/*
		 * A failed allocation may be absorbed (one that is optional,
		 * or a debug kernel's own: kmemleak, KASAN); a failed user
		 * copy never.
		 */
		ASSERT_MSG(op->may_absorb || fac != F_USERCOPY,
			   "fail-nth=%u (%s): the call returned 0 despite the failed user copy",
			   n, fac_names[fac]);
		sw->absorbed++;
		finish_ok(op, fx);
		snap_assert_same(&sw->base, "after an absorbed failure");
		return true;
	}
	ASSERT_MSG(errno_allowed(op, -ret) && (fac != F_USERCOPY || ret == -EFAULT),
		   "fail-nth=%u (%s): the call returned %s", n, fac_names[fac],
		   h_retstr(b, sizeof(b), ret));
	for (i = 0; i < ARRAY_SIZE(op->errnos); i++)
		if (op->errnos[i] == -ret)
			sw->nerr[i]++;
	if (op->after_err)
		op->after_err(fx);
	if (op->nothing_held)
		snap_assert_same(&sw->base, "right after the failed call");
	/* the same call without injection works */
	ret = op->call(fx);
	ASSERT_MSG(ret == 0,
		   "fail-nth=%u (%s): the call without injection after it returned %s",
		   n, fac_names[fac], h_retstr(b, sizeof(b), ret));
	finish_ok(op, fx);
	snap_assert_same(&sw->base, "after the failure and the call without it");
	return true;
}

CASE(sweep)
{
	static struct sweep sw;
	static struct fx fx;
	const struct op *op = arg;
	unsigned int n, unreached, round, top;
	double t0 = now_s();
	char b[32];
	int ret;

	/* bounded by PINMGR_FAILNTH_MAX; a debug kernel takes its time */
	h_case_timeout(600);
	stay_on_one_cpu();
	memset(&sw, 0, sizeof(sw));
	memset(&fx, 0, sizeof(fx));
	sw.op = op;
	sw.fx = &fx;
	fx.new_fd = -1;
	h_defer(fx_cleanup, &fx, 0);
	fresh_file(op, &fx);
	if (op->call == call_access_read || op->call == call_access_write)
		h_require_test_access(fx.ctx);
	snap_take(&sw.base);

	/*
	 * Once without injection: the call works, and every page of code,
	 * stack and data it touches in userspace is mapped, so that no user
	 * page fault between arming and disarming can be the nth point.
	 */
	fresh_file(op, &fx);
	op->setup(&fx);
	ret = op->call(&fx);
	ASSERT_MSG(ret == 0, "without injection the call returned %s",
		   h_retstr(b, sizeof(b), ret));
	finish_ok(op, &fx);
	snap_assert_same(&sw.base, "after the call without injection");

	/*
	 * n = 1, 2, 3 ... How many points a run passes varies a little (a
	 * slab needs a new page or not; a debug kernel's KASAN and kmemleak
	 * allocate now and then): the sweep ends after STOP_AFTER runs in a
	 * row that did not reach n.
	 */
	for (n = 1, unreached = 0; unreached < STOP_AFTER; n++)
		unreached = sweep_one(&sw, n) ? 0 : unreached + 1;
	/*
	 * The last points (the write-back of the struct) are hit only by a
	 * run exactly that long: if the module's user copies were not all
	 * seen, go over the tail again a few times. The window reaches well
	 * below the longest run: on a busy debug kernel one run may pass
	 * several more allocation points (a slab needing a new page, KASAN's
	 * and kmemleak's own) than the next, and a window of the last few
	 * points then missed the write-back in every round.
	 */
	top = sw.points;
	for (round = 0; round < TAIL_ROUNDS && strstr(facilities, "fail_usercopy") &&
	     sw.by_fac[F_USERCOPY] < op->min_usercopy; round++) {
		trace_add(&sw, '|');
		for (n = top > TAIL_BELOW ? top - TAIL_BELOW : 1; n <= top + 2; n++)
			sweep_one(&sw, n);
	}
	h_undefer(&fx);
	sw.trace[sw.tlen] = '\0';

	h_diag("fail-nth: %s points=%u (failslab %u, fail_page_alloc %u, fail_usercopy %u, other %u; %s %u, %s %u, absorbed %u; %.1f s)",
	       op->name, sw.points, sw.by_fac[F_SLAB], sw.by_fac[F_PAGE],
	       sw.by_fac[F_USERCOPY], sw.by_fac[F_OTHER],
	       op->errnos[0] ? h_errname(op->errnos[0]) : "-", sw.nerr[0],
	       op->errnos[1] ? h_errname(op->errnos[1]) : "-", sw.nerr[1],
	       sw.absorbed, now_s() - t0);
	h_diag("fail-nth: %s: n=1.. %s (s failslab, p fail_page_alloc, u fail_usercopy, o other; upper case: absorbed; . not reached; | tail again)",
	       op->name, sw.trace);
	ASSERT_MSG(sw.points >= op->min_points,
		   "%u failure points, but the module alone has %u on this path: injection does not reach it",
		   sw.points, op->min_points);
	if (strstr(facilities, "fail_usercopy"))
		ASSERT_MSG(sw.by_fac[F_USERCOPY] >= op->min_usercopy,
			   "%u user copies failed, but the module makes %u on this path",
			   sw.by_fac[F_USERCOPY], op->min_usercopy);
}

/*
 * A struct refused for its size is never copied: the full path reads the
 * size word with get_user() and stops at the size check, and the quick
 * read (one access, a struct of the module's own size) asks fail_usercopy
 * only once it has read such a struct. So no failure point may come
 * before the size errno, and an injected EFAULT must not take its place.
 */
CASE(bad_size_no_point)
{
	const struct { uint32_t size; int err; } bad[] = {
		{ 4, EINVAL },			/* below the smallest size */
		{ (uint32_t)h_ps + 8, E2BIG },	/* above a page */
	};
	struct pinmgr_ctx *ctx = h_open();
	int fd = pinmgr_fd(ctx), ret;
	struct pinmgr_info in;
	char b[32];
	bool reached;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&in, 0, sizeof(in));
		in.size = bad[i].size;
		/* once without injection: every page it touches is mapped */
		ASSERT_RET(h_ioctl(fd, PINMGR_INFO, &in), -bad[i].err);
		nth_arm(1);
		ret = h_ioctl(fd, PINMGR_INFO, &in);
		reached = nth_disarm();
		ASSERT_MSG(ret == -bad[i].err,
			   "INFO with size %u and fail-nth=1: expected %s, got %s",
			   bad[i].size, h_errname(bad[i].err),
			   h_retstr(b, sizeof(b), ret));
		ASSERT_MSG(!reached,
			   "INFO with size %u reached a failure point before its size check",
			   bad[i].size);
	}
}

int main(void)
{
	static struct h_case cases[ARRAY_SIZE(ops) + 1];
	static char names[ARRAY_SIZE(ops)][160];
	const char *env = getenv("PINMGR_FAILNTH_MAX");
	char path[64];
	size_t i;
	int bad;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (env)
		nth_max = strtoul(env, NULL, 0);
	nth_path(path, sizeof(path));
	nth_fd = open(path, O_RDWR | O_CLOEXEC);
	if (nth_fd < 0) {
		/* kselftest: nothing to test on this kernel */
		printf("TAP version 13\n");
		printf("1..0 # SKIP %s: %s (kernel without CONFIG_FAULT_INJECTION)\n",
		       path, h_errname(errno));
		return 4;
	}
	if (geteuid() == 0) {
		bad = knobs_setup();
		printf("# fault injection through: %s%s\n",
		       facilities[0] ? facilities : "(no facility in " DEBUGFS ")",
		       bad ? " (some knobs could not be set)" : "");
		h_test_access_enable();
	}
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		snprintf(names[i], sizeof(names[i]),
			 "fail-nth %s: every failure point -> errno, nothing left pinned, then ok",
			 ops[i].name);
		cases[i] = (struct h_case)H_CASE_ARG(sweep, &ops[i], names[i]);
	}
	cases[i] = (struct h_case)H_CASE(bad_size_no_point,
		"fail-nth INFO of a struct refused for its size: EINVAL or E2BIG, no failure point before");
	return h_main(cases, ARRAY_SIZE(cases));
}
