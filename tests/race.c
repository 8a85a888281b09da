// SPDX-License-Identifier: GPL-2.0
/*
 * Aimed races on one file: threads on two CPUs hit the handle a PIN is
 * about to return, the handle just unpinned, and a region while it is
 * being looked up, with the mapping changing under them so that
 * divergence events are queued at the same time.
 *
 * What goes wrong in the kernel shows in the kernel log (the VM boots with
 * slub_debug=FZPU, so a write to a freed region is reported as "Poison
 * overwritten"; the debug kernel adds KASAN), which the runner checks after
 * every program. In userspace each case asserts what the ABI promises:
 * every call returns success or a documented errno, every event names a
 * handle that was handed out, and nothing stays pinned or charged.
 *
 * The random choices come from a seed printed at the start (PINMGR_SEED
 * sets it; in the VM: PINMGR_VM_TEST_ENV='PINMGR_SEED=N' tests/vm/run.sh);
 * the number of rounds is fixed, so a run's length does not depend on
 * timing. The last part is a seeded race fuzzer (see race_fuzz).
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <linux/mman.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define BUF_PAGES	16
static unsigned int seed;
static int rounds = 20000;	/* PINMGR_RACE_ROUNDS */

static struct {
	struct pinmgr_ctx *ctx;
	char *buf;
	_Atomic uint32_t last;		/* newest handle PIN returned */
	_Atomic uint32_t max_seen;	/* highest handle ever returned */
	atomic_bool stop;
	atomic_long stolen;		/* UNPINs of another thread's handle */
	atomic_long events;		/* records read */
} R;

static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
	/* Best effort: a single-CPU guest still races through preemption. */
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/*
 * Writable or not, watched or not (PINMGR_PIN_NO_EVENTS): regions with and
 * without a notifier share the file, the handles and the change queue.
 */
static uint32_t rand_pin_flags(unsigned int *s)
{
	unsigned int r = rand_r(s);

	return (r & 1 ? PINMGR_PIN_WRITE : 0) |
	       (r & 2 ? PINMGR_PIN_NO_EVENTS : 0);
}

static void note_handle(uint32_t h)
{
	uint32_t m = atomic_load(&R.max_seen);

	atomic_store(&R.last, h);
	while (h > m && !atomic_compare_exchange_weak(&R.max_seen, &m, h))
		;
}

/* Pins and unpins its own handles; some are taken away by the thief. */
static void *pinner(void *arg)
{
	unsigned int s = seed ^ (unsigned int)(uintptr_t)arg;
	uint32_t h;
	int i, ret;

	pin_to_cpu(0);
	for (i = 0; i < rounds; i++) {
		size_t pages = 1 + rand_r(&s) % 4;
		size_t off = (rand_r(&s) % (BUF_PAGES - pages)) * h_ps;
		uint32_t flags = rand_pin_flags(&s);

		ret = pinmgr_pin(R.ctx, R.buf + off, pages * h_ps, flags, &h);
		/* A writable pin of a page the changer made read-only. */
		if (ret == -EFAULT && (flags & PINMGR_PIN_WRITE))
			continue;
		ASSERT_MSG(!ret, "%s pin %d: %s",
			   flags & PINMGR_PIN_WRITE ? "writable" : "read-only",
			   i, h_errname(-ret));
		note_handle(h);
		ret = pinmgr_unpin(R.ctx, h);
		ASSERT_MSG(!ret || ret == -ENOENT, "unpin %d: %s", i,
			   h_errname(-ret));
	}
	return NULL;
}

/*
 * Pins the next buffer and unpins the last in one UPDATE, as a driver
 * pinning per transfer would. The thieves may have unpinned the last one:
 * then the whole call fails with ENOENT and nothing of it stays pinned
 * (run_threads() checks that no region is left), and the next call pins
 * only.
 */
static void *updater(void *arg)
{
	unsigned int s = seed ^ (unsigned int)(uintptr_t)arg;
	struct pinmgr_pin_range rg;
	uint32_t last = 0;
	int i, ret;

	pin_to_cpu(0);
	for (i = 0; i < rounds; i++) {
		size_t pages = 1 + rand_r(&s) % 4;
		size_t off = (rand_r(&s) % (BUF_PAGES - pages)) * h_ps;
		uint32_t flags = rand_pin_flags(&s);

		rg = (struct pinmgr_pin_range){ .addr = (uintptr_t)R.buf + off,
						.length = pages * h_ps };
		ret = pinmgr_update(R.ctx, &last, last ? 1 : 0, flags, &rg, 1);
		if (ret == -EFAULT && (flags & PINMGR_PIN_WRITE))
			continue;	/* the changer made the page read-only */
		if (ret == -ENOENT) {
			last = 0;	/* stolen */
			continue;
		}
		ASSERT_MSG(!ret, "update %d: %s", i, h_errname(-ret));
		note_handle(rg.out_handle);
		last = rg.out_handle;
	}
	if (last) {
		ret = pinmgr_unpin(R.ctx, last);
		ASSERT_MSG(!ret || ret == -ENOENT, "last unpin: %s",
			   h_errname(-ret));
	}
	return NULL;
}

/*
 * Keeps one handle and replaces its region by the next buffer in one
 * UPDATE with PINMGR_UPDATE_REPLACE, as a driver with a table of buffers
 * would. The thieves may unpin the handle: then the call fails with ENOENT
 * and nothing of it stays pinned, and a new handle is pinned. A failed
 * replace leaves the old region under the handle.
 */
static void *replacer(void *arg)
{
	unsigned int s = seed ^ (unsigned int)(uintptr_t)arg;
	struct pinmgr_pin_range rg;
	uint32_t slot = 0, replaced = 0;
	int i, ret;

	pin_to_cpu(0);
	for (i = 0; i < rounds; i++) {
		size_t pages = 1 + rand_r(&s) % 4;
		size_t off = (rand_r(&s) % (BUF_PAGES - pages)) * h_ps;
		uint32_t flags = rand_pin_flags(&s);

		if (!slot) {
			ret = pinmgr_pin(R.ctx, R.buf + off, pages * h_ps,
					 flags, &slot);
			if (ret == -EFAULT && (flags & PINMGR_PIN_WRITE)) {
				slot = 0;	/* made read-only by the changer */
				continue;
			}
			ASSERT_MSG(!ret, "pin %d: %s", i, h_errname(-ret));
			note_handle(slot);
			continue;
		}
		rg = (struct pinmgr_pin_range){ .addr = (uintptr_t)R.buf + off,
						.length = pages * h_ps };
		ret = pinmgr_update(R.ctx, &slot, 1,
				    flags | PINMGR_UPDATE_REPLACE, &rg, 1);
		if (ret == -EFAULT && (flags & PINMGR_PIN_WRITE))
			continue;	/* the old region stays */
		if (ret == -ENOENT) {
			slot = 0;	/* stolen */
			continue;
		}
		ASSERT_MSG(!ret, "replace %d: %s", i, h_errname(-ret));
		ASSERT_MSG(rg.out_handle == slot, "replace of %u gave %u",
			   slot, rg.out_handle);
		replaced++;
	}
	h_diag("%u replaces", replaced);
	if (slot) {
		ret = pinmgr_unpin(R.ctx, slot);
		ASSERT_MSG(!ret || ret == -ENOENT, "last unpin: %s",
			   h_errname(-ret));
	}
	return NULL;
}

/*
 * Takes the newest handle and the ones about to exist away in vectored
 * UNPINs (UPDATE without ranges), one, two or the same twice at a time.
 */
static void *vec_thief(void *arg)
{
	unsigned int s = seed ^ 0x7ec;

	(void)arg;
	pin_to_cpu(1);
	while (!atomic_load(&R.stop)) {
		uint32_t last = atomic_load(&R.last), h[2];
		unsigned int n = 1 + rand_r(&s) % 2;
		int ret;

		h[0] = last + rand_r(&s) % 3;
		h[1] = rand_r(&s) % 4 ? h[0] + 1 : h[0];
		ret = pinmgr_unpin_vec(R.ctx, h, n);
		ASSERT_MSG(!ret || ret == -ENOENT, "unpin_vec %u: %s", h[0],
			   h_errname(-ret));
		ASSERT_MSG(ret || n == 1 || h[0] != h[1],
			   "unpin_vec of handle %u twice succeeded", h[0]);
		if (!ret)
			atomic_fetch_add(&R.stolen, n);
	}
	return NULL;
}

/* UNPINs the handles the next PIN will return, as soon as they exist. */
static void *thief(void *arg)
{
	(void)arg;
	pin_to_cpu(1);
	while (!atomic_load(&R.stop)) {
		uint32_t next = atomic_load(&R.last) + 1;
		int k, ret;

		for (k = 0; k < 3; k++) {
			ret = pinmgr_unpin(R.ctx, next + k);
			ASSERT_MSG(!ret || ret == -ENOENT, "unpin %u: %s",
				   next + k, h_errname(-ret));
			if (!ret)
				atomic_fetch_add(&R.stolen, 1);
		}
	}
	return NULL;
}

/* Looks up the newest handles: QUERY, SEGMENTS, VERIFY. */
static void *looker(void *arg)
{
	struct pinmgr_segment segs[4];
	struct pinmgr_query q;
	uint64_t differ, first;
	int ret;

	(void)arg;
	pin_to_cpu(1);
	while (!atomic_load(&R.stop)) {
		uint32_t h = atomic_load(&R.last);

		ret = pinmgr_query(R.ctx, h, &q, sizeof(q));
		ASSERT_MSG(!ret || ret == -ENOENT, "query: %s", h_errname(-ret));
		/* One whole region, whichever a replace left under @h. */
		ASSERT_MSG(ret || (q.out_addr >= (uintptr_t)R.buf &&
				   q.out_length <= BUF_PAGES * h_ps &&
				   q.out_addr + q.out_length <=
				   (uintptr_t)R.buf + BUF_PAGES * h_ps &&
				   q.out_npages == q.out_length / h_ps),
			   "query of %u: %#llx+%llu, %llu pages", h,
			   (unsigned long long)q.out_addr,
			   (unsigned long long)q.out_length,
			   (unsigned long long)q.out_npages);
		ret = pinmgr_segments(R.ctx, h + 1, 0, 0, segs, 4);
		ASSERT_MSG(ret >= 0 || ret == -ENOENT, "segments: %s",
			   h_errname(-ret));
		ret = pinmgr_verify(R.ctx, h, &differ, &first);
		ASSERT_MSG(ret >= 0 || ret == -ENOENT, "verify: %s",
			   h_errname(-ret));
	}
	return NULL;
}

/* Changes the mapping of pinned pages, so that events are queued. */
static void *changer(void *arg)
{
	unsigned int s = seed ^ 0x5eed;

	(void)arg;
	pin_to_cpu(0);
	while (!atomic_load(&R.stop)) {
		size_t pg = rand_r(&s) % BUF_PAGES;
		char *p = R.buf + pg * h_ps;

		switch (rand_r(&s) % 4) {
		case 0:
			ASSERT_SYS(mprotect(p, h_ps, PROT_READ));
			ASSERT_SYS(mprotect(p, h_ps, PROT_READ | PROT_WRITE));
			break;
		case 1:
		case 2:
			ASSERT_SYS(madvise(p, h_ps, MADV_DONTNEED));
			break;
		default:
			p[0] = 1;
			break;
		}
	}
	return NULL;
}

/*
 * Reads divergence records; each must name a handle PIN handed out, or the
 * one the single pinner is being handed (its event may be read first).
 */
static void *reader(void *arg)
{
	struct pinmgr_event ev[8];
	struct pollfd pfd = { .fd = pinmgr_fd(R.ctx), .events = POLLIN };
	int i, n;

	(void)arg;
	while (!atomic_load(&R.stop)) {
		/* No waiting: the read path takes the event lock constantly. */
		ASSERT_SYS(poll(&pfd, 1, 0));
		n = pinmgr_events_read(R.ctx, ev, 8);
		if (n == -EAGAIN)
			continue;
		ASSERT_MSG(n > 0, "read: %s", h_errname(-n));
		for (i = 0; i < n; i++) {
			ASSERT_MSG(ev[i].handle >= 1 &&
				   ev[i].handle <= atomic_load(&R.max_seen) + 1,
				   "event for handle %#x, never handed out (max %#x)",
				   ev[i].handle, atomic_load(&R.max_seen));
			ASSERT_MSG(ev[i].kinds, "event for handle %u has no kinds",
				   ev[i].handle);
			ASSERT_MSG(ev[i].start < ev[i].end,
				   "event for handle %u: empty range", ev[i].handle);
		}
		atomic_fetch_add(&R.events, n);
	}
	return NULL;
}

static void run_threads(void *(**fns)(void *), size_t n)
{
	pthread_t t[8];
	size_t i;

	R.ctx = h_open();
	R.buf = h_anon(BUF_PAGES * h_ps);
	atomic_store(&R.last, 0);
	atomic_store(&R.max_seen, 0);
	atomic_store(&R.stop, false);
	atomic_store(&R.stolen, 0);
	atomic_store(&R.events, 0);
	ASSERT_SYS(fcntl(pinmgr_fd(R.ctx), F_SETFL, O_NONBLOCK));
	h_case_timeout(600);
	for (i = 0; i < n; i++)
		ASSERT(!h_thread_create(&t[i], fns[i], (void *)i));
	/* The pinner sets the pace: the others run until it is done. */
	pthread_join(t[0], NULL);
	atomic_store(&R.stop, true);
	for (i = 1; i < n; i++)
		pthread_join(t[i], NULL);
	h_diag("seed %u: %d pins, %ld stolen by the thief, %ld event records",
	       seed, rounds, atomic_load(&R.stolen), atomic_load(&R.events));
	ASSERT_NO_THREAD_FAILURE();
	/* Every pinning thread unpinned what it still held: nothing leaked. */
	{
		struct pinmgr_stats st;

		ASSERT_OK(pinmgr_stats(R.ctx, &st, sizeof(st)));
		ASSERT_EQ(st.out_regions, 0);
	}
	h_close(R.ctx);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

CASE(unpin_races_publish)
{
	void *(*fns[])(void *) = { pinner, thief, changer, reader };

	run_threads(fns, ARRAY_SIZE(fns));
}

CASE(lookup_races_unpin)
{
	void *(*fns[])(void *) = { pinner, looker, thief, changer };

	run_threads(fns, ARRAY_SIZE(fns));
}

CASE(update_races_unpin)
{
	void *(*fns[])(void *) = { updater, thief, vec_thief, looker, reader };

	run_threads(fns, ARRAY_SIZE(fns));
}

CASE(replace_races_unpin)
{
	void *(*fns[])(void *) = { replacer, thief, vec_thief, looker, reader,
				   changer };

	run_threads(fns, ARRAY_SIZE(fns));
}

CASE(unpin_vec_races_publish)
{
	void *(*fns[])(void *) = { pinner, vec_thief, changer, reader };

	run_threads(fns, ARRAY_SIZE(fns));
}


/* A userfaultfd with [@p, @p + @len) registered for missing pages. */
static int uffd_missing(void *p, size_t len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);

	if (uffd < 0)
		h_skip("userfaultfd: %s", h_errname(errno));
	h_keep_fd(uffd);
	ASSERT_SYS(ioctl(uffd, UFFDIO_API, &api));
	reg.range.start = (uintptr_t)p;
	reg.range.len = len;
	ASSERT_SYS(ioctl(uffd, UFFDIO_REGISTER, &reg));
	return uffd;
}

/* Until a thread's access faults on the registered range. */
static void uffd_wait_fault(int uffd)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	ASSERT_EQ(ASSERT_SYS(poll(&pfd, 1, h_bound_ms(30000))), 1);
	ASSERT_EQ(ASSERT_SYS(read(uffd, &msg, sizeof(msg))), sizeof(msg));
	ASSERT_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
}

/*
 * UNPIN while a lookup uses the region: an ACCESS is held inside the kernel
 * (its copy to the user buffer waits on userfaultfd) while another thread
 * unpins. When UNPIN returns 0 the pages and the charge must be gone, and
 * a change of the mapping after the UNPIN began must queue no record.
 */
static struct {
	struct pinmgr_ctx *ctx;
	uint32_t handle;
	char *dst;
	atomic_int access_ret, unpin_ret;
	atomic_bool unpin_done;
	_Atomic pid_t unpin_tid;
	long vmpin_after;	/* VmPin (kB) as UNPIN returned */
} U;

static void *held_access(void *arg)
{
	(void)arg;
	atomic_store(&U.access_ret,
		     pinmgr_access(U.ctx, U.handle, 0, 0, U.dst, h_ps));
	return NULL;
}

static void *held_unpin(void *arg)
{
	(void)arg;
	atomic_store(&U.unpin_tid, (pid_t)syscall(SYS_gettid));
	atomic_store(&U.unpin_ret, pinmgr_unpin(U.ctx, U.handle));
	U.vmpin_after = h_vmpin_kb();
	atomic_store(&U.unpin_done, true);
	return NULL;
}

CASE(unpin_waits_for_lookup)
{
	struct uffdio_copy copy = { 0 };
	struct pinmgr_event ev;
	pthread_t ta, tu;
	char *src, *buf;
	int uffd;

	U.ctx = h_open();
	h_require_test_access(U.ctx);
	ASSERT_SYS(fcntl(pinmgr_fd(U.ctx), F_SETFL, O_NONBLOCK));
	buf = h_anon(h_ps);
	src = h_anon(h_ps);
	U.dst = h_map(h_ps, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uffd = uffd_missing(U.dst, h_ps);

	U.handle = h_pin(U.ctx, buf, h_ps, PINMGR_PIN_WRITE);
	atomic_store(&U.unpin_done, false);
	atomic_store(&U.unpin_tid, 0);
	ASSERT(!h_thread_create(&ta, held_access, NULL));
	/* The ACCESS holds the region once its copy-out faults. */
	uffd_wait_fault(uffd);

	ASSERT(!h_thread_create(&tu, held_unpin, NULL));
	/* Until UNPIN either returned or sleeps waiting for the ACCESS. */
	while (!atomic_load(&U.unpin_done) &&
	       !(atomic_load(&U.unpin_tid) &&
		 h_thread_state(atomic_load(&U.unpin_tid)) == 'D'))
		sched_yield();
	if (!atomic_load(&U.unpin_done)) {
		/* Unpinned, though still held: no record for it any more. */
		ASSERT_SYS(madvise(buf, h_ps, MADV_DONTNEED));
		ASSERT_ERR(pinmgr_events_read(U.ctx, &ev, 1), EAGAIN);
	}

	copy.dst = (uintptr_t)U.dst;
	copy.src = (uintptr_t)src;
	copy.len = h_ps;
	ASSERT_SYS(ioctl(uffd, UFFDIO_COPY, &copy));
	pthread_join(ta, NULL);
	pthread_join(tu, NULL);
	ASSERT_NO_THREAD_FAILURE();
	ASSERT_OK(atomic_load(&U.access_ret));
	ASSERT_OK(atomic_load(&U.unpin_ret));
	ASSERT_MSG(U.vmpin_after == 0,
		   "UNPIN returned 0 while an ACCESS held the region, with VmPin %ld kB",
		   U.vmpin_after);
	ASSERT_ERR(pinmgr_unpin(U.ctx, U.handle), ENOENT);
	ASSERT_ERR(pinmgr_events_read(U.ctx, &ev, 1), EAGAIN);
}

/* ---- UPDATE_REPLACE against calls that were under way --------------- */

/* Make the faulting access fail: unmap the page, then wake the faulter. */
static void uffd_fail(int uffd, void *p, size_t len)
{
	ASSERT_SYS(munmap(p, len));
	h_close_fd(uffd);
}

static int query_addr(struct pinmgr_ctx *ctx, uint32_t h, uint64_t *addr)
{
	struct pinmgr_query q;
	int ret = pinmgr_query(ctx, h, &q, sizeof(q));

	if (!ret)
		*addr = q.out_addr;
	return ret;
}

static struct {
	struct pinmgr_ctx *ctx;
	struct pinmgr_pin_range *rg;
	atomic_int ret;
} PV;

static void *pin_vec_of_5(void *arg)
{
	(void)arg;
	atomic_store(&PV.ret, pinmgr_pin_vec(PV.ctx, 0, PV.rg, 5));
	return NULL;
}

/*
 * A PIN_VEC of 5 ranges has pinned the first chunk of 4 and waits reading
 * the fifth (userfaultfd); another thread replaces the first new handle
 * (and, @export, exports the region it put there); then the read fails.
 * The PIN_VEC's undo must leave the other thread's region alone: its
 * handle still names it, pinned, and nothing else stays.
 */
CASE(pin_vec_undo_races_replace)
{
	const bool export = arg != NULL;
	char *buf = h_anon(8 * h_ps), *arr;
	struct pinmgr_pin_range r;
	struct pinmgr_stats st;
	uint64_t addr = 0;
	int uffd, dfd = -1, i;
	pthread_t t;
	uint32_t h0;

	PV.ctx = h_open();
	if (export) {
		struct pinmgr_info in;

		ASSERT_OK(pinmgr_info(PV.ctx, &in, sizeof(in)));
		if (!(in.out_caps & PINMGR_CAP_EXPORT_DMABUF))
			h_skip("no dma-buf support in this kernel");
	}
	arr = h_map(2 * h_ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(arr, 0, h_ps);	/* page 0 present, page 1 missing */
	uffd = uffd_missing(arr + h_ps, h_ps);
	PV.rg = (struct pinmgr_pin_range *)(arr + h_ps) - 4;
	for (i = 0; i < 4; i++)
		PV.rg[i] = (struct pinmgr_pin_range){
			.addr = (uintptr_t)buf + i * h_ps, .length = h_ps };
	ASSERT(!h_thread_create(&t, pin_vec_of_5, NULL));
	uffd_wait_fault(uffd);
	h0 = PV.rg[0].out_handle;	/* written back with the first chunk */
	ASSERT_OK(query_addr(PV.ctx, h0, &addr));
	ASSERT_EQ(addr, (uintptr_t)buf);
	r = (struct pinmgr_pin_range){ .addr = (uintptr_t)buf + 6 * h_ps,
				       .length = h_ps };
	ASSERT_OK(pinmgr_update(PV.ctx, &h0, 1, PINMGR_UPDATE_REPLACE, &r, 1));
	if (export) {
		dfd = pinmgr_export_dmabuf(PV.ctx, h0, 0, h_ps, 0);
		ASSERT_MSG(dfd >= 0, "export: %s", h_errname(-dfd));
		h_keep_fd(dfd);
	}
	uffd_fail(uffd, arr + h_ps, h_ps);
	pthread_join(t, NULL);
	ASSERT_NO_THREAD_FAILURE();
	ASSERT_ERR(atomic_load(&PV.ret), EFAULT);
	ASSERT_MSG(!query_addr(PV.ctx, h0, &addr) &&
		   addr == (uintptr_t)buf + 6 * h_ps,
		   "handle %u no longer names the region its replace pinned",
		   h0);
	if (export)
		h_close_fd(dfd);
	ASSERT_OK(pinmgr_stats(PV.ctx, &st, sizeof(st)));
	/* The replace's region only; the PIN_VEC's first was its unpin. */
	ASSERT_EQ(st.out_regions, 1);
	ASSERT_EQ(st.out_pinned_pages, 1);
	ASSERT_EQ(st.out_pins, 2);
	ASSERT_EQ(st.out_unpins, 1);
	ASSERT_EQ(st.out_failed_pins, 3);	/* the other 3 of the chunk */
	ASSERT_OK(pinmgr_unpin(PV.ctx, h0));
	h_close(PV.ctx);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

static struct {
	int fd;
	void *dst;
	atomic_long ret;
	atomic_int err;
} RQ;

static void *read_one_event(void *arg)
{
	long n;

	(void)arg;
	n = read(RQ.fd, RQ.dst, sizeof(struct pinmgr_event));
	atomic_store(&RQ.err, n < 0 ? errno : 0);
	atomic_store(&RQ.ret, n);
	return NULL;
}

/*
 * A read() has taken the old region's change record and waits copying it
 * out (userfaultfd) when a replace of its handle returns; then the copy
 * fails. The record must not come back under the handle, which names the
 * new region now.
 */
CASE(read_requeue_races_replace)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	struct pinmgr_pin_range r = { .addr = (uintptr_t)buf + 2 * h_ps,
				      .length = h_ps };
	struct pinmgr_event ev[2];
	struct pinmgr_info in;
	pthread_t t;
	uint32_t h;
	int uffd, n;

	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	if (!(in.out_caps & PINMGR_CAP_EVENTS))
		h_skip("no divergence events on this file");
	h = h_pin(ctx, buf, h_ps, 0);
	ASSERT_SYS(madvise(buf, h_ps, MADV_DONTNEED));	/* a record for h */
	RQ.fd = pinmgr_fd(ctx);
	RQ.dst = h_map(h_ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uffd = uffd_missing(RQ.dst, h_ps);
	ASSERT(!h_thread_create(&t, read_one_event, NULL));
	uffd_wait_fault(uffd);		/* taken, being copied out */
	ASSERT_OK(pinmgr_update(ctx, &h, 1, PINMGR_UPDATE_REPLACE, &r, 1));
	uffd_fail(uffd, RQ.dst, h_ps);
	pthread_join(t, NULL);
	ASSERT_EQ(atomic_load(&RQ.ret), -1);
	ASSERT_EQ(atomic_load(&RQ.err), EFAULT);
	ASSERT_SYS(fcntl(pinmgr_fd(ctx), F_SETFL, O_NONBLOCK));
	n = pinmgr_events_read(ctx, ev, 2);
	ASSERT_MSG(n == -EAGAIN,
		   "after the replace returned, read() gave %d record(s) (handle %u from %#llx: the old region's)",
		   n, n > 0 ? ev[0].handle : 0,
		   n > 0 ? (unsigned long long)ev[0].start : 0ULL);
	/* A failed copy of a record of the region itself still puts it back. */
	ASSERT_SYS(madvise(buf + 2 * h_ps, h_ps, MADV_DONTNEED));
	ASSERT_EQ(pinmgr_events_read(ctx, ev, 1), 1);
	ASSERT_EQ(ev[0].handle, h);
	ASSERT_EQ(ev[0].start, (uintptr_t)buf + 2 * h_ps);
}

#define NH 64

static struct {
	struct pinmgr_ctx *ctx;
	char *buf;
	uint32_t h[NH];
	atomic_bool stop;
	atomic_long big, small_enoent;
} V;

/* Replaces all NH handles at once, again and again, until stopped. */
static void *replace_all(void *arg)
{
	struct pinmgr_pin_range r[NH];
	int i, k, ret;

	(void)arg;
	pin_to_cpu(0);
	for (k = 0; !atomic_load(&V.stop); k++) {
		for (i = 0; i < NH; i++)
			r[i] = (struct pinmgr_pin_range){
				.addr = (uintptr_t)V.buf + ((i + k) % 8) * h_ps,
				.length = h_ps };
		ret = pinmgr_update(V.ctx, V.h, NH, PINMGR_UPDATE_REPLACE, r,
				    NH);
		ASSERT_MSG(!ret, "replace of %d handles: %s", NH,
			   h_errname(-ret));
		atomic_fetch_add(&V.big, 1);
	}
	return NULL;
}

/*
 * A replace of one handle while another thread replaces it with 63
 * others, over and over: the handle is in use throughout, so it never
 * fails (its check must not read the zero entries that the other call's
 * taking out leaves inside its critical section as "not in use").
 */
CASE(replace_check_races_replace_vec)
{
	struct pinmgr_pin_range r;
	pthread_t t;
	int i, ret;

	memset((void *)&V, 0, sizeof(V));
	V.ctx = h_open();
	V.buf = h_anon(8 * h_ps);
	h_case_timeout(600);
	for (i = 0; i < NH; i++)
		V.h[i] = h_pin(V.ctx, V.buf + (i % 8) * h_ps, h_ps, 0);
	ASSERT(!h_thread_create(&t, replace_all, NULL));
	pin_to_cpu(1);
	for (i = 0; i < rounds; i++) {
		r = (struct pinmgr_pin_range){
			.addr = (uintptr_t)V.buf + (i % 8) * h_ps,
			.length = h_ps };
		ret = pinmgr_update(V.ctx, &V.h[0], 1, PINMGR_UPDATE_REPLACE,
				    &r, 1);
		if (ret == -ENOENT)
			atomic_fetch_add(&V.small_enoent, 1);
		else
			ASSERT_MSG(!ret, "replace %d: %s", i, h_errname(-ret));
	}
	atomic_store(&V.stop, true);
	pthread_join(t, NULL);
	ASSERT_NO_THREAD_FAILURE();
	h_diag("%d replaces of one handle beside %ld of all %d",
	       rounds, atomic_load(&V.big), NH);
	ASSERT_MSG(!atomic_load(&V.small_enoent),
		   "a replace of a handle in use failed with ENOENT %ld times",
		   atomic_load(&V.small_enoent));
	ASSERT_OK(pinmgr_unpin_vec(V.ctx, V.h, NH));
	h_close(V.ctx);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

/*
 * Read-only pins of a private anonymous page while another thread flips it
 * between PROT_READ and PROT_READ|PROT_WRITE and drops it, so that most
 * pins take the careful path. How a read-only pin breaks COW depends on
 * whether the VMA is writable; deciding that under one mmap_lock round and
 * pinning under another let GUP see FOLL_WRITE without FOLL_FORCE on a
 * read-only VMA: EFAULT. Every pin must succeed.
 */
static struct {
	struct pinmgr_ctx *ctx;
	char *page;
	atomic_bool stop;
} F;

static void *flipper(void *arg)
{
	(void)arg;
	pin_to_cpu(1);
	while (!atomic_load(&F.stop)) {
		ASSERT_SYS(mprotect(F.page, h_ps, PROT_READ));
		ASSERT_SYS(madvise(F.page, h_ps, MADV_DONTNEED));
		ASSERT_SYS(mprotect(F.page, h_ps, PROT_READ | PROT_WRITE));
	}
	return NULL;
}

CASE(ro_pin_races_mprotect)
{
	int i, ret = 0, efault = 0;
	pthread_t t;
	uint32_t h;

	F.ctx = h_open();
	F.page = h_anon(h_ps);
	atomic_store(&F.stop, false);
	h_case_timeout(600);
	ASSERT(!h_thread_create(&t, flipper, NULL));
	pin_to_cpu(0);
	for (i = 0; i < rounds / 2; i++) {
		ret = pinmgr_pin(F.ctx, F.page, h_ps, 0, &h);
		if (ret == -EFAULT) {
			efault++;
			continue;
		}
		if (ret)
			break;
		ret = pinmgr_unpin(F.ctx, h);
		if (ret)
			break;
	}
	atomic_store(&F.stop, true);
	pthread_join(t, NULL);
	ASSERT_NO_THREAD_FAILURE();
	ASSERT_MSG(!ret, "round %d: %s", i, h_errname(-ret));
	ASSERT_MSG(!efault, "%d of %d read-only pins failed with EFAULT",
		   efault, rounds / 2);
	h_diag("%d read-only pins, none failed", rounds / 2);
}

/* ---- the race fuzzer ------------------------------------------------- */

/*
 * Threads share one file and one buffer and draw operations from a seeded
 * generator (thread i from seed + i): PIN and PIN_VEC, and UNPIN, QUERY,
 * SEGMENTS and VERIFY aimed at handles that exist, were just unpinned or
 * are about to be handed out (the newest + 1, + 2); read() and poll() of
 * events; munmap + mmap, mprotect and MADV_DONTNEED of the pinned pages;
 * fork (the child tries the inherited file, then pins through its own and
 * exits with its pins held), exec (the new image does the same), and the
 * shared file replaced by a new one with dup2() while the others use it.
 * Every result must be one the ABI documents for that call; every event
 * must name a handle that was handed out. The number of calls is fixed
 * (PINMGR_RACE_CALLS, per thread); the seed is printed first and
 * PINMGR_SEED replays the choices (the interleaving differs).
 */
#define FZ_THREADS	4
#define FZ_PAGES	32
#define FZ_RING		64

static struct {
	int fd;				/* the shared file (dup2'd over) */
	char *buf;
	_Atomic uint32_t ring[FZ_RING];	/* handles handed out lately */
	atomic_uint ring_pos;
	_Atomic uint32_t newest;
	_Atomic uint32_t max_seen;
	atomic_long counts[16];
} Z;

static long calls = 8000;	/* PINMGR_RACE_CALLS */

enum { Z_PIN, Z_PIN_VEC, Z_UNPIN, Z_QUERY, Z_SEGMENTS, Z_VERIFY, Z_READ,
       Z_REMAP, Z_MPROTECT, Z_DONTNEED, Z_FORK, Z_EXEC, Z_REOPEN, Z_STATS,
       Z_UPDATE, Z_NOPS };

static const char *const z_name[Z_NOPS] = {
	"pin", "pin_vec", "unpin", "query", "segments", "verify", "read",
	"remap", "mprotect", "dontneed", "fork", "exec", "reopen", "stats",
	"update",
};

/*
 * Relative weights of the operations, per thread: thread 0 mostly pins,
 * thread 1 mostly unpins and looks up the handles about to exist, the
 * others do everything.
 */
static const int z_weight[FZ_THREADS][Z_NOPS] = {
	{ 600, 100, 100, 20, 20, 20, 20, 20, 40, 40, 4, 2, 2, 10, 100 },
	{ 20, 0, 700, 100, 60, 60, 60, 0, 0, 0, 0, 0, 0, 40, 200 },
	{ 180, 40, 200, 100, 60, 60, 80, 40, 60, 60, 8, 4, 8, 40, 80 },
	{ 180, 40, 200, 100, 60, 60, 80, 40, 60, 60, 8, 4, 8, 40, 80 },
};

static int z_ioctl(unsigned long cmd, void *arg)
{
	return ioctl(atomic_load(&Z.fd), cmd, arg) ? -errno : 0;
}

static void z_publish(uint32_t h)
{
	uint32_t m = atomic_load(&Z.max_seen);

	atomic_store(&Z.ring[atomic_fetch_add(&Z.ring_pos, 1) % FZ_RING], h);
	atomic_store(&Z.newest, h);
	while (h > m && !atomic_compare_exchange_weak(&Z.max_seen, &m, h))
		;
}

/* A handle worth aiming at: recent, just unpinned, or about to exist. */
static uint32_t z_target(unsigned int *s)
{
	switch (rand_r(s) % 8) {
	case 0 ... 3:
		return atomic_load(&Z.newest) + 1 + rand_r(s) % 2;
	case 4:
		return atomic_load(&Z.newest);
	default:
		return atomic_load(&Z.ring[rand_r(s) % FZ_RING]);
	}
}

#define Z_EXPECT(cond, op, ret)						\
	ASSERT_MSG(cond, "%s: unexpected %s", z_name[op],		\
		   h_errname((ret) < 0 ? -(ret) : (ret)))

/* In a child or an exec'd image: the inherited file is not ours. */
static int z_child_work(int fd)
{
	struct pinmgr_query q = { .size = sizeof(q), .handle = 1 };
	struct pinmgr_event ev;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	char *p;
	int mine;

	if (ioctl(fd, PINMGR_QUERY, &q) == 0 || errno != EACCES)
		return 20;
	if (read(fd, &ev, sizeof(ev)) >= 0 || errno != EACCES)
		return 21;
	mine = open("/dev/pinmgr", O_RDWR | O_CLOEXEC);
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mine < 0 || p == MAP_FAILED)
		return 22;
	{
		struct pinmgr_pin pin = {
			.size = sizeof(pin), .flags = PINMGR_PIN_WRITE,
			.addr = (uintptr_t)p, .length = ps,
		};

		if (ioctl(mine, PINMGR_PIN, &pin))
			return 23;
	}
	return 0;	/* exits with the pin held: close releases it */
}

static void z_wait_child(pid_t pid, const char *what)
{
	int status;

	ASSERT_SYS(waitpid(pid, &status, 0));
	ASSERT_MSG(WIFEXITED(status) && !WEXITSTATUS(status),
		   "%s child: status %#x", what, status);
}

static void z_one(const int *weight, unsigned int *s)
{
	int r, op, ret, i, total = 0;
	size_t pages = 1 + rand_r(s) % 4;
	char *p = Z.buf + (rand_r(s) % (FZ_PAGES - pages)) * h_ps;
	uint32_t flags = rand_pin_flags(s);

	for (op = 0; op < Z_NOPS; op++)
		total += weight[op];
	r = rand_r(s) % total;
	for (op = 0; op < Z_NOPS - 1 && r >= weight[op]; op++)
		r -= weight[op];
	atomic_fetch_add(&Z.counts[op], 1);

	switch (op) {
	case Z_PIN: {
		struct pinmgr_pin a = { .size = sizeof(a), .flags = flags,
					.addr = (uintptr_t)p + rand_r(s) % 64,
					.length = pages * h_ps - 64 };

		ret = z_ioctl(PINMGR_PIN, &a);
		Z_EXPECT(!ret || ret == -EFAULT, op, ret);
		if (!ret)
			z_publish(a.out_handle);
		break;
	}
	case Z_PIN_VEC: {
		struct pinmgr_pin_range rg[3];
		struct pinmgr_pin_vec v = { .size = sizeof(v), .flags = flags,
					    .count = 3,
					    .ranges = (uintptr_t)rg };

		for (i = 0; i < 3; i++)
			rg[i] = (struct pinmgr_pin_range){
				.addr = (uintptr_t)Z.buf +
					(rand_r(s) % FZ_PAGES) * h_ps,
				.length = h_ps,
			};
		ret = z_ioctl(PINMGR_PIN_VEC, &v);
		Z_EXPECT(!ret || ret == -EFAULT, op, ret);
		for (i = 0; !ret && i < 3; i++)
			z_publish(rg[i].out_handle);
		break;
	}
	case Z_UNPIN: {
		uint32_t newest = atomic_load(&Z.newest);
		struct pinmgr_unpin a = { .size = sizeof(a),
					  .handle = z_target(s) };

		/*
		 * Aimed at a handle about to exist: keep trying until it
		 * does (a PIN is publishing it) or another one appears.
		 */
		for (i = 0; i < 64; i++) {
			ret = z_ioctl(PINMGR_UNPIN, &a);
			Z_EXPECT(!ret || ret == -ENOENT, op, ret);
			if (!ret || a.handle != newest + 1 ||
			    atomic_load(&Z.newest) != newest)
				break;
		}
		break;
	}
	case Z_QUERY: {
		struct pinmgr_query a = { .size = sizeof(a),
					  .handle = z_target(s) };

		ret = z_ioctl(PINMGR_QUERY, &a);
		Z_EXPECT(!ret || ret == -ENOENT, op, ret);
		ASSERT(ret || (a.out_npages >= 1 && a.out_npages <= 5));
		break;
	}
	case Z_SEGMENTS: {
		struct pinmgr_segment sg[2];
		struct pinmgr_segments a = { .size = sizeof(a),
					     .handle = z_target(s),
					     .capacity = 2,
					     .segs = (uintptr_t)sg };

		ret = z_ioctl(PINMGR_SEGMENTS, &a);
		Z_EXPECT(!ret || ret == -ENOENT, op, ret);
		break;
	}
	case Z_VERIFY: {
		struct pinmgr_verify a = { .size = sizeof(a),
					   .handle = z_target(s) };

		ret = z_ioctl(PINMGR_VERIFY, &a);
		Z_EXPECT(!ret || ret == -ENOENT, op, ret);
		ASSERT(ret || a.out_differ <= a.out_npages);
		break;
	}
	case Z_READ: {
		struct pinmgr_event ev[4];
		struct pollfd pfd = { .fd = atomic_load(&Z.fd),
				      .events = POLLIN };
		ssize_t n;

		ASSERT_SYS(poll(&pfd, 1, 0));
		n = read(pfd.fd, ev, sizeof(ev));
		ret = n < 0 ? -errno : 0;
		/* A file opened by reopen is blocking until it is set. */
		Z_EXPECT(n > 0 || ret == -EAGAIN, op, ret);
		for (i = 0; n > 0 && i < n / (ssize_t)sizeof(ev[0]); i++)
			ASSERT_MSG(ev[i].handle >= 1 &&
				   ev[i].handle <= atomic_load(&Z.max_seen) + 3 * FZ_THREADS,
				   "event for handle %#x, never handed out (newest %#x)",
				   ev[i].handle, atomic_load(&Z.max_seen));
		break;
	}
	case Z_REMAP:
		/* Gone for a moment, then fresh pages at the same place. */
		ASSERT_SYS(munmap(p, h_ps));
		ASSERT(mmap(p, h_ps, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p);
		break;
	case Z_MPROTECT:
		/* ENOMEM: another thread's remap left a hole for a moment. */
		ret = mprotect(p, pages * h_ps,
			       rand_r(s) % 2 ? PROT_READ : PROT_NONE);
		ASSERT_MSG(!ret || errno == ENOMEM, "mprotect: %s",
			   h_errname(errno));
		ret = mprotect(p, pages * h_ps, PROT_READ | PROT_WRITE);
		ASSERT_MSG(!ret || errno == ENOMEM, "mprotect: %s",
			   h_errname(errno));
		break;
	case Z_DONTNEED:
		ret = madvise(p, pages * h_ps, MADV_DONTNEED);
		ASSERT_MSG(!ret || errno == ENOMEM, "madvise: %s",
			   h_errname(errno));
		/*
		 * Fault a new page in, without a store another thread's
		 * mprotect or munmap could turn into SIGSEGV (then it fails).
		 */
		if (rand_r(s) % 2)
			madvise(p, h_ps, MADV_POPULATE_WRITE);
		break;
	case Z_FORK: {
		pid_t pid = fork();

		ASSERT_SYS(pid);
		if (!pid)
			_exit(z_child_work(atomic_load(&Z.fd)));
		z_wait_child(pid, "forked");
		break;
	}
	case Z_EXEC: {
		char fdarg[16];
		pid_t pid;

		snprintf(fdarg, sizeof(fdarg), "%d", atomic_load(&Z.fd));
		pid = fork();
		ASSERT_SYS(pid);
		if (!pid) {
			/* The shared file is close-on-exec: keep a copy open. */
			int keep = dup(atomic_load(&Z.fd));

			snprintf(fdarg, sizeof(fdarg), "%d", keep);
			execl("/proc/self/exe", "race", "--race-exec", fdarg,
			      (char *)NULL);
			_exit(30);
		}
		z_wait_child(pid, "exec'd");
		break;
	}
	case Z_REOPEN: {
		int fd = open("/dev/pinmgr", O_RDWR | O_CLOEXEC | O_NONBLOCK);

		ASSERT_SYS(fd);
		/* The old file is released once the calls using it are done. */
		ASSERT_SYS(dup3(fd, atomic_load(&Z.fd), O_CLOEXEC));
		ASSERT_SYS(close(fd));
		break;
	}
	case Z_UPDATE: {
		/* Aimed handles (maybe twice, maybe gone) out, 0 to 2 pages in. */
		uint32_t un[3];
		struct pinmgr_pin_range rg[2];
		struct pinmgr_update a = { .size = sizeof(a), .flags = flags,
					   .nr_unpin = rand_r(s) % 4,
					   .nr_pin = rand_r(s) % 3,
					   .unpin = (uintptr_t)un,
					   .pin = (uintptr_t)rg };

		if (!a.nr_unpin && !a.nr_pin)
			a.nr_pin = 1;
		if (a.nr_unpin && a.nr_unpin < 3 && !(rand_r(s) % 3)) {
			/* Range i takes handle i over. */
			a.flags |= PINMGR_UPDATE_REPLACE;
			a.nr_pin = a.nr_unpin;
		}
		for (i = 0; i < (int)a.nr_unpin; i++)
			un[i] = z_target(s);
		for (i = 0; i < (int)a.nr_pin; i++)
			rg[i] = (struct pinmgr_pin_range){
				.addr = (uintptr_t)Z.buf +
					(rand_r(s) % FZ_PAGES) * h_ps,
				.length = h_ps,
			};
		ret = z_ioctl(PINMGR_UPDATE, &a);
		Z_EXPECT(!ret || ret == -ENOENT || ret == -EFAULT, op, ret);
		for (i = 0; !ret && i < (int)a.nr_pin; i++)
			z_publish(rg[i].out_handle);
		break;
	}
	case Z_STATS: {
		/* Waits for the confirmation of suspect regions. */
		struct pinmgr_stats a = { .size = sizeof(a) };

		ret = z_ioctl(PINMGR_STATS, &a);
		Z_EXPECT(!ret, op, ret);
		break;
	}
	}
}

static void *z_thread(void *arg)
{
	unsigned int s = seed + (unsigned int)(uintptr_t)arg;
	long i;

	pin_to_cpu((int)(uintptr_t)arg);
	for (i = 0; i < calls; i++)
		z_one(z_weight[(uintptr_t)arg], &s);
	return NULL;
}

CASE(race_fuzz)
{
	pthread_t t[FZ_THREADS];
	char line[512];
	size_t i, len = 0;

	Z.fd = open("/dev/pinmgr", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	ASSERT_SYS(Z.fd);
	h_keep_fd(Z.fd);
	Z.buf = h_anon(FZ_PAGES * h_ps);
	atomic_store(&Z.newest, 0);
	atomic_store(&Z.max_seen, 0);
	for (i = 0; i < Z_NOPS; i++)
		atomic_store(&Z.counts[i], 0);
	for (i = 0; i < FZ_RING; i++)
		atomic_store(&Z.ring[i], 0);
	h_case_timeout(1200);
	for (i = 0; i < FZ_THREADS; i++)
		ASSERT(!h_thread_create(&t[i], z_thread, (void *)i));
	for (i = 0; i < FZ_THREADS; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < Z_NOPS; i++)
		len += snprintf(line + len, sizeof(line) - len, " %s=%ld",
				z_name[i], atomic_load(&Z.counts[i]));
	h_diag("race fuzzer: seed %u, %d threads x %ld calls:%s", seed,
	       FZ_THREADS, calls, line);
	ASSERT_NO_THREAD_FAILURE();
}

static const struct h_case cases[] = {
	H_CASE(unpin_races_publish, "UNPIN of the handle a PIN is publishing, with events queued: no use-after-free, events name real handles"),
	H_CASE(lookup_races_unpin, "QUERY/SEGMENTS/VERIFY race UNPIN of the newest handles: only ENOENT, nothing leaks"),
	H_CASE(update_races_unpin, "UPDATE (pin next, unpin last) while UNPIN and vectored UNPIN steal handles and lookups use them: all or nothing, nothing leaks"),
	H_CASE(pin_vec_undo_races_replace, "PIN_VEC failing after its first handle was replaced by another thread: its undo leaves the replacing region pinned under the handle"),
	H_CASE_ARG(pin_vec_undo_races_replace, "export", "same, the replacing region exported meanwhile: it keeps its handle, nothing orphaned"),
	H_CASE(read_requeue_races_replace, "read() whose copy-out fails after a replace of the record's handle returned: the old region's record is not put back under the handle"),
	H_CASE(replace_check_races_replace_vec, "replace of one handle while another thread replaces it among 64, over and over: never ENOENT"),
	H_CASE(replace_races_unpin, "UPDATE_REPLACE of one handle while UNPIN and vectored UNPIN steal it, lookups and reads use it, the mapping changes: a lookup finds a whole region, nothing leaks"),
	H_CASE(unpin_vec_races_publish, "vectored UNPIN of the handles a PIN is publishing, one or two (or one twice) at a time: no use-after-free, nothing leaks"),
	H_CASE(ro_pin_races_mprotect, "read-only PIN while another thread flips the page PROT_READ <-> PROT_READ|PROT_WRITE: never EFAULT"),
	H_CASE(race_fuzz, "race fuzzer: 4 threads, one file, aimed handles, fork/exec/reopen/munmap/mprotect: only documented errnos"),
	H_CASE(unpin_waits_for_lookup, "UNPIN during an ACCESS held by userfaultfd: returns once pages and charge are gone, queues no record"),
};

int main(int argc, char **argv)
{
	const char *env = getenv("PINMGR_SEED");

	if (argc == 3 && !strcmp(argv[1], "--race-exec"))
		return z_child_work(atoi(argv[2]));

	seed = env ? (unsigned int)strtoul(env, NULL, 0) :
		     (unsigned int)time(NULL) ^ (unsigned int)getpid();
	env = getenv("PINMGR_RACE_ROUNDS");
	if (env)
		rounds = atoi(env);
	env = getenv("PINMGR_RACE_CALLS");
	if (env)
		calls = atol(env);
	if (h_test_access_enable())
		printf("# race: the test_access parameter could not be set\n");
	printf("# race: seed %u (PINMGR_SEED=%u reproduces the choices)\n",
	       seed, seed);
	return h_main(cases, ARRAY_SIZE(cases));
}
