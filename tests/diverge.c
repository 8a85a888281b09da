// SPDX-License-Identifier: GPL-2.0
/*
 * PINMGR_VERIFY: do the pinned pages still back the process's mapping?
 *
 * A pin holds struct pages; the process's page tables may stop mapping
 * them (munmap, mremap, MADV_DONTNEED, mprotect(PROT_NONE)) or keep doing
 * so through events that only look dangerous (fork with the parent or the
 * child writing, mprotect to the same rights). VERIFY compares, page by
 * page, what the region's original range maps now with the pinned pages,
 * without faulting or pinning anything (checked: the system-wide FOLL_PIN
 * counters do not move).
 *
 * Divergence events: every region registers an MMU interval notifier over
 * its range; changes are queued as one coalesced struct pinmgr_event per
 * region, read() from the file (poll() says when). Each case checks the
 * kind(s) the kernel reports for an operation and that VERIFY agrees;
 * benign ones (fork, mprotect keeping the page readable) leave VERIFY
 * clean, and mprotect() to the same rights reports nothing at all. NUMA
 * hinting (change_prot_numa) needs two nodes: see numa.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/*
 * Test memory that khugepaged leaves alone: an attempt to collapse a range
 * may invalidate it (queuing a record) before it finds the pages pinned and
 * gives up, which would put records these cases do not expect before the
 * ones they check (or merge into them). ev_collapse_not_diverged provokes
 * such attempts on purpose.
 */
static void *d_anon(size_t len)
{
	void *p = h_anon_untouched(len);

	memset(p, 0x5a, len);
	return p;
}

#define NPAGES	16
#define BIG	1100	/* pages: more than two of the module's 512-page batches */

static void verify(struct pinmgr_ctx *ctx, uint32_t handle, uint64_t npages,
		   uint64_t want_differ, uint64_t want_first)
{
	struct pinmgr_verify v = { .size = sizeof(v), .handle = handle };

	ASSERT_OK(h_ioctl(h_fd(ctx), PINMGR_VERIFY, &v));
	ASSERT_EQ(v.out_npages, npages);
	ASSERT_EQ(v.out_differ, want_differ);
	ASSERT_EQ(v.out_first, want_first);
}

CASE(fresh_pin)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t hw = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);
	uint32_t hr = h_pin(ctx, p, NPAGES * h_ps, 0);
	uint64_t differ = 1, first = 0;

	verify(ctx, hw, NPAGES, 0, PINMGR_VERIFY_NONE);
	verify(ctx, hr, NPAGES, 0, PINMGR_VERIFY_NONE);
	ASSERT_EQ(pinmgr_verify(ctx, hw, &differ, &first), 0);
	ASSERT_EQ(differ, 0);
	ASSERT_EQ(first, PINMGR_VERIFY_NONE);
	ASSERT_EQ(pinmgr_verify(ctx, hr, NULL, NULL), 0);
}

CASE(unaligned)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, p + 100, 2 * h_ps, PINMGR_PIN_WRITE);

	verify(ctx, h, 3, 0, PINMGR_VERIFY_NONE);
	/* The last page is the region's third: unmapping the fourth is not. */
	ASSERT_SYS(munmap(p + 3 * h_ps, h_ps));
	verify(ctx, h, 3, 0, PINMGR_VERIFY_NONE);
	ASSERT_SYS(munmap(p + 2 * h_ps, h_ps));
	verify(ctx, h, 3, 1, 2);
}

CASE(takes_no_pins)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);
	uint64_t a0, r0, a1, r1;
	int i;

	ASSERT_OK(h_foll_pins(&a0, &r0));
	for (i = 0; i < 10; i++)
		verify(ctx, h, NPAGES, 0, PINMGR_VERIFY_NONE);
	ASSERT_OK(h_foll_pins(&a1, &r1));
	ASSERT_EQ(a1 - r1, a0 - r0);
	ASSERT_VMPIN_KB(PAGES_KB(NPAGES));
}

CASE(munmap_all)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);

	h_unmap(p);
	verify(ctx, h, NPAGES, NPAGES, 0);
}

CASE(munmap_big_middle)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(BIG * h_ps);
	uint32_t h = h_pin(ctx, p, BIG * h_ps, 0);

	/* Pages 500..629 straddle the first batch boundary. */
	ASSERT_SYS(munmap(p + 500 * h_ps, 130 * h_ps));
	verify(ctx, h, BIG, 130, 500);
	ASSERT_SYS(munmap(p + (BIG - 1) * h_ps, h_ps));
	verify(ctx, h, BIG, 131, 500);
}

CASE(dontneed_part)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);

	ASSERT_SYS(madvise(p + 4 * h_ps, 3 * h_ps, MADV_DONTNEED));
	verify(ctx, h, NPAGES, 3, 4);
	/* Touching them maps new pages (zero page, then a fresh copy). */
	ASSERT_EQ(p[5 * h_ps], 0);
	memset(p + 4 * h_ps, 0x5a, 3 * h_ps);
	verify(ctx, h, NPAGES, 3, 4);
}

CASE(mremap_away)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	char *q = h_map(NPAGES * h_ps, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);

	ASSERT(mremap(p, NPAGES * h_ps, NPAGES * h_ps,
		      MREMAP_MAYMOVE | MREMAP_FIXED, q) == q);
	/* The region does not follow: its original range is empty now. */
	verify(ctx, h, NPAGES, NPAGES, 0);
}

static void child_write(void *arg)
{
	memset(arg, 0xc3, NPAGES * h_ps);
}

static void fork_case(uint32_t flags, bool parent_writes)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, flags);
	pid_t pid;

	pid = h_child_start(child_write, p);
	h_child_wait(pid);
	if (parent_writes)
		memset(p, 0x3c, NPAGES * h_ps);
	verify(ctx, h, NPAGES, 0, PINMGR_VERIFY_NONE);
}

CASE(fork_parent_writes_w)
{
	fork_case(PINMGR_PIN_WRITE, true);
}

CASE(fork_child_writes_w)
{
	fork_case(PINMGR_PIN_WRITE, false);
}

CASE(fork_parent_writes_ro)
{
	fork_case(0, true);
}

CASE(fork_child_writes_ro)
{
	fork_case(0, false);
}

CASE(mprotect_same)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);

	ASSERT_SYS(mprotect(p, NPAGES * h_ps, PROT_READ | PROT_WRITE));
	verify(ctx, h, NPAGES, 0, PINMGR_VERIFY_NONE);
	/* Fewer rights but still readable: the same page, still backing. */
	ASSERT_SYS(mprotect(p, NPAGES * h_ps, PROT_READ));
	verify(ctx, h, NPAGES, 0, PINMGR_VERIFY_NONE);
	ASSERT_SYS(mprotect(p, NPAGES * h_ps, PROT_READ | PROT_WRITE));
	verify(ctx, h, NPAGES, 0, PINMGR_VERIFY_NONE);
}

CASE(mprotect_none)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);

	/* PROT_NONE counts as differing: nothing readable maps the page. */
	ASSERT_SYS(mprotect(p + 2 * h_ps, 2 * h_ps, PROT_NONE));
	verify(ctx, h, NPAGES, 2, 2);
	/* The page table entries were kept: back to readable, backing again. */
	ASSERT_SYS(mprotect(p + 2 * h_ps, 2 * h_ps, PROT_READ | PROT_WRITE));
	verify(ctx, h, NPAGES, 0, PINMGR_VERIFY_NONE);
}

/*
 * A page that only the slow lookup gets (the shared zero page, mapped by a
 * read after MADV_DONTNEED) just before a VMA boundary: the slow lookup
 * stops at the VMA's end, and the first page of the next VMA must still be
 * compared, not counted as differing.
 */
CASE(vma_boundary)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, p, 4 * h_ps, PINMGR_PIN_WRITE);
	volatile char *page1 = p + h_ps;

	ASSERT_SYS(mprotect(p + 2 * h_ps, 2 * h_ps, PROT_READ));
	ASSERT_SYS(madvise(p + h_ps, h_ps, MADV_DONTNEED));
	verify(ctx, h, 4, 1, 1);
	ASSERT_EQ(*page1, 0);	/* maps the shared zero page */
	verify(ctx, h, 4, 1, 1);
}

CASE(after_unpin_enoent)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(h_ps);
	uint32_t h = h_pin(ctx, p, h_ps, 0);

	ASSERT_OK(pinmgr_unpin(ctx, h));
	ASSERT_ERR(pinmgr_verify(ctx, h, NULL, NULL), ENOENT);
	ASSERT_ERR(pinmgr_verify(ctx, 0, NULL, NULL), ENOENT);
	ASSERT_ERR(pinmgr_verify(ctx, 12345, NULL, NULL), ENOENT);
	ASSERT_ERR(pinmgr_verify(NULL, h, NULL, NULL), EINVAL);
}

CASE(flags_reserved_einval)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(h_ps);
	uint32_t h = h_pin(ctx, p, h_ps, 0);
	struct pinmgr_verify v = { .size = sizeof(v), .handle = h };
	unsigned int bit;

	for (bit = 0; bit < 32; bit++) {
		v.flags = 1U << bit;
		v.out_differ = 77;
		ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_VERIFY, &v), EINVAL);
		ASSERT_EQ(v.out_differ, 77);
	}
	v.flags = 0;
	v.__reserved = 1;
	ASSERT_ERR(h_ioctl(h_fd(ctx), PINMGR_VERIFY, &v), EINVAL);
}

struct other_mm {
	struct pinmgr_ctx *ctx;
	uint32_t handle;
};

static void child_verify(void *arg)
{
	struct other_mm *o = arg;

	ASSERT_ERR(pinmgr_verify(o->ctx, o->handle, NULL, NULL), EACCES);
}

CASE(other_mm_eacces)
{
	struct other_mm o;

	o.ctx = h_open();
	o.handle = h_pin(o.ctx, d_anon(h_ps), h_ps, 0);
	h_child_wait(h_child_start(child_verify, &o));
	verify(o.ctx, o.handle, 1, 0, PINMGR_VERIFY_NONE);
}


/* ---- divergence events ------------------------------------------------ */

/* Skips the case unless the module queues divergence events. */
static void require_events(struct pinmgr_ctx *ctx)
{
	struct pinmgr_info in;

	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	if (!(in.out_caps & PINMGR_CAP_EVENTS))
		h_skip("no PINMGR_CAP_EVENTS (kernel without CONFIG_MMU_NOTIFIER)");
}

/* Makes the context's fd non-blocking for the case. */
static void nonblock(struct pinmgr_ctx *ctx)
{
	int fl;

	require_events(ctx);
	fl = fcntl(h_fd(ctx), F_GETFL);
	ASSERT_SYS(fl);
	ASSERT_SYS(fcntl(h_fd(ctx), F_SETFL, fl | O_NONBLOCK));
}

static void expect_no_event(struct pinmgr_ctx *ctx)
{
	struct pinmgr_event ev;
	struct pollfd pfd = { .fd = h_fd(ctx), .events = POLLIN };

	ASSERT_EQ(poll(&pfd, 1, 0), 0);
	ASSERT_ERR(pinmgr_events_read(ctx, &ev, 1), EAGAIN);
}

/*
 * Reads exactly one record, for @handle, whose kinds include @want (and
 * nothing outside @want | @allowed), covering [@start, @end).
 */
static void expect_event(struct pinmgr_ctx *ctx, uint32_t handle,
			 uint64_t want, uint64_t allowed, const void *start,
			 const void *end)
{
	struct pinmgr_event ev[4];
	struct pollfd pfd = { .fd = h_fd(ctx), .events = POLLIN };

	ASSERT_EQ(poll(&pfd, 1, 0), 1);
	ASSERT(pfd.revents & POLLIN);
	ASSERT_EQ(pinmgr_events_read(ctx, ev, 4), 1);
	ASSERT_EQ(ev[0].handle, handle);
	ASSERT_EQ(ev[0].flags, 0);
	ASSERT_MSG((ev[0].kinds & want) == want &&
		   !(ev[0].kinds & ~(want | allowed)),
		   "kinds 0x%" PRIx64 ", want 0x%" PRIx64 " (allowed 0x%" PRIx64 ")",
		   (uint64_t)ev[0].kinds, want, allowed);
	ASSERT_EQ(ev[0].start, (uintptr_t)start);
	ASSERT_EQ(ev[0].end, (uintptr_t)end);
	expect_no_event(ctx);
}

static uint64_t diverged_regions(struct pinmgr_ctx *ctx)
{
	struct pinmgr_stats st;
	uint64_t fdi;

	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_OK(h_fdinfo_u64(h_fd(ctx), "pinmgr-diverged-regions", &fdi));
	ASSERT_EQ(fdi, st.out_diverged_regions);
	return st.out_diverged_regions;
}

CASE(ev_fresh_none)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	char *other = d_anon(NPAGES * h_ps);

	h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);
	h_pin(ctx, p, NPAGES * h_ps, 0);
	nonblock(ctx);
	expect_no_event(ctx);
	/* Changes elsewhere in the process are not reported. */
	ASSERT_SYS(madvise(other, NPAGES * h_ps, MADV_DONTNEED));
	h_unmap(other);
	expect_no_event(ctx);
	ASSERT_EQ(diverged_regions(ctx), 0);
}

CASE(ev_munmap)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);

	nonblock(ctx);
	ASSERT_SYS(munmap(p + 4 * h_ps, 4 * h_ps));
	ASSERT_EQ(diverged_regions(ctx), 1);
	expect_event(ctx, h, PINMGR_EVENT_UNMAP, 0, p + 4 * h_ps, p + 8 * h_ps);
	verify(ctx, h, NPAGES, 4, 4);
	/* Still diverged: VERIFY found pages that differ. */
	ASSERT_EQ(diverged_regions(ctx), 1);
}

CASE(ev_mremap)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	char *q = h_map(NPAGES * h_ps, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, 0);

	nonblock(ctx);
	ASSERT(mremap(p, NPAGES * h_ps, NPAGES * h_ps,
		      MREMAP_MAYMOVE | MREMAP_FIXED, q) == q);
	expect_event(ctx, h, PINMGR_EVENT_UNMAP, 0, p, p + NPAGES * h_ps);
	verify(ctx, h, NPAGES, NPAGES, 0);
}

CASE(ev_dontneed)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);

	nonblock(ctx);
	ASSERT_SYS(madvise(p + 5 * h_ps, 2 * h_ps, MADV_DONTNEED));
	expect_event(ctx, h, PINMGR_EVENT_CLEAR, 0, p + 5 * h_ps, p + 7 * h_ps);
	verify(ctx, h, NPAGES, 2, 5);
}

CASE(ev_clipped_to_region)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p + 4 * h_ps, 4 * h_ps, 0);

	nonblock(ctx);
	ASSERT_SYS(madvise(p, NPAGES * h_ps, MADV_DONTNEED));
	expect_event(ctx, h, PINMGR_EVENT_CLEAR, 0, p + 4 * h_ps, p + 8 * h_ps);
}

CASE(ev_coalesce)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);
	int i;

	nonblock(ctx);
	ASSERT_SYS(munmap(p + 2 * h_ps, h_ps));
	for (i = 0; i < 5; i++)
		ASSERT_SYS(madvise(p + 10 * h_ps, h_ps, MADV_DONTNEED));
	/* One record: both kinds, the union of the ranges. */
	expect_event(ctx, h, PINMGR_EVENT_UNMAP | PINMGR_EVENT_CLEAR, 0,
		     p + 2 * h_ps, p + 11 * h_ps);
	verify(ctx, h, NPAGES, 2, 2);
}

static void fork_event_case(uint32_t flags, bool parent_writes)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, flags);

	nonblock(ctx);
	h_child_wait(h_child_start(child_write, p));
	if (parent_writes)
		memset(p, 0x3c, NPAGES * h_ps);
	/*
	 * fork write-protects the parent's COW pages: a record to look at,
	 * but every pinned page still backs its address, so the region is
	 * not counted as diverged (the pinned pages were copied for the
	 * child, not shared with it).
	 */
	expect_event(ctx, h, PINMGR_EVENT_PROTECTION_PAGE, PINMGR_EVENT_CLEAR,
		     p, p + NPAGES * h_ps);
	ASSERT_EQ(diverged_regions(ctx), 0);
	verify(ctx, h, NPAGES, 0, PINMGR_VERIFY_NONE);
	ASSERT_EQ(diverged_regions(ctx), 0);
}

CASE(ev_fork_w_parent)
{
	fork_event_case(PINMGR_PIN_WRITE, true);
}

CASE(ev_fork_w_child)
{
	fork_event_case(PINMGR_PIN_WRITE, false);
}

CASE(ev_fork_ro_parent)
{
	fork_event_case(0, true);
}

CASE(ev_fork_ro_child)
{
	fork_event_case(0, false);
}

CASE(ev_mprotect)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);

	nonblock(ctx);
	/* The same rights: mprotect() changes nothing, nothing reported. */
	ASSERT_SYS(mprotect(p, NPAGES * h_ps, PROT_READ | PROT_WRITE));
	expect_no_event(ctx);
	/* Read-only: reported, but benign: not diverged. */
	ASSERT_SYS(mprotect(p, NPAGES * h_ps, PROT_READ));
	expect_event(ctx, h, PINMGR_EVENT_PROTECTION_VMA, 0, p,
		     p + NPAGES * h_ps);
	ASSERT_EQ(diverged_regions(ctx), 0);
	verify(ctx, h, NPAGES, 0, PINMGR_VERIFY_NONE);
	ASSERT_EQ(diverged_regions(ctx), 0);
	/*
	 * PROT_NONE: reported, and the pages no longer back the range: the
	 * region is diverged before anyone asks VERIFY, which agrees.
	 */
	ASSERT_SYS(mprotect(p + 3 * h_ps, 2 * h_ps, PROT_NONE));
	expect_event(ctx, h, PINMGR_EVENT_PROTECTION_VMA, 0, p + 3 * h_ps,
		     p + 5 * h_ps);
	ASSERT_EQ(diverged_regions(ctx), 1);
	verify(ctx, h, NPAGES, 2, 3);
	ASSERT_EQ(diverged_regions(ctx), 1);
	/* Readable again: the same pages; a clean VERIFY clears the mark. */
	ASSERT_SYS(mprotect(p + 3 * h_ps, 2 * h_ps, PROT_READ));
	ASSERT_EQ(diverged_regions(ctx), 1);
	verify(ctx, h, NPAGES, 0, PINMGR_VERIFY_NONE);
	ASSERT_EQ(diverged_regions(ctx), 0);
}

/* Clears the soft-dirty bits of the whole process; skips without them. */
static void clear_soft_dirty(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		h_skip("/proc/self/clear_refs: %s", h_errname(errno));
	ASSERT_EQ(write(fd, "4", 1), 1);
	close(fd);
}

/*
 * Changes that leave every pinned page in place are records to look at, not
 * divergence: soft-dirty tracking write-protects the entries, and the
 * region is not counted. Then MADV_DONTNEED of one page, which really
 * drops it: counted, with no VERIFY needed.
 */
CASE(ev_benign_not_diverged)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);
	struct pinmgr_event ev;

	nonblock(ctx);
	clear_soft_dirty();
	ASSERT_EQ(pinmgr_events_read(ctx, &ev, 1), 1);
	ASSERT_EQ(ev.handle, h);
	ASSERT_MSG(ev.kinds & PINMGR_EVENT_SOFT_DIRTY, "kinds 0x%" PRIx64,
		   (uint64_t)ev.kinds);
	ASSERT_EQ(diverged_regions(ctx), 0);
	ASSERT_SYS(madvise(p + 7 * h_ps, h_ps, MADV_DONTNEED));
	ASSERT_EQ(diverged_regions(ctx), 1);
	expect_event(ctx, h, PINMGR_EVENT_CLEAR, 0, p + 7 * h_ps, p + 8 * h_ps);
	verify(ctx, h, NPAGES, 1, 7);
}

/*
 * A change to a page already pinned while the same PIN still runs: page 0
 * is mapped (the quick walk pins it first), the other pages of 32 MiB are
 * not (the careful path faults them in, which takes a while). Another
 * thread drops page 0 and maps a new one as soon as the PIN has started.
 * Whether that lands before or after page 0 is pinned depends on timing,
 * so the case asserts what must hold either way: when PIN returns, a
 * region whose page 0 no longer backs its address (VERIFY) is diverged and
 * has a record pending; one whose pages all back it has neither. It
 * repeats, and reports how often the change came after the pin.
 */
#define DURING_PAGES	8192

static struct {
	char *buf;
} D;

static void *drop_page0_once_started(void *arg)
{
	(void)arg;
	while (h_vmpin_kb() <= 0)	/* the PIN has charged: it runs */
		;
	ASSERT_SYS(madvise(D.buf, h_ps, MADV_DONTNEED));
	D.buf[0] = 2;
	return NULL;
}

CASE(ev_change_during_pin)
{
	int attempt, after = 0;

	for (attempt = 0; attempt < 10; attempt++) {
		struct pinmgr_ctx *ctx = h_open();
		struct pinmgr_event ev[2];
		struct pinmgr_stats st;
		uint64_t differ, first;
		pthread_t t;
		uint32_t h;
		int n;

		nonblock(ctx);
		D.buf = h_anon_untouched(DURING_PAGES * h_ps);
		D.buf[0] = 1;
		ASSERT(!h_thread_create(&t, drop_page0_once_started, NULL));
		h = h_pin(ctx, D.buf, DURING_PAGES * h_ps, PINMGR_PIN_WRITE);
		pthread_join(t, NULL);
		ASSERT_NO_THREAD_FAILURE();

		ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
		n = pinmgr_events_read(ctx, ev, 2);
		ASSERT(n == 1 || n == -EAGAIN);
		ASSERT(pinmgr_verify(ctx, h, &differ, &first) >= 0);
		if (differ) {
			after++;
			ASSERT_EQ(differ, 1);
			ASSERT_EQ(first, 0);
			ASSERT_MSG(n == 1 && ev[0].handle == h &&
				   (ev[0].kinds & PINMGR_EVENT_CLEAR) &&
				   ev[0].start == (uintptr_t)D.buf,
				   "attempt %d: page 0 was replaced while pinned, but %s",
				   attempt, n == 1 ? "the record is wrong" :
				   "no record is pending");
			ASSERT_EQ(st.out_diverged_regions, 1);
		} else {
			ASSERT_MSG(n == -EAGAIN,
				   "attempt %d: every page backs its address, yet a record for handle %u is pending",
				   attempt, ev[0].handle);
			ASSERT_EQ(st.out_diverged_regions, 0);
		}
		h_close(ctx);
		h_unmap(D.buf);
	}
	h_diag("page 0 replaced after it was pinned in %d of 10 PINs", after);
}

CASE(ev_unpin_drops_pending)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, 0);

	nonblock(ctx);
	ASSERT_SYS(madvise(p, h_ps, MADV_DONTNEED));
	ASSERT_EQ(diverged_regions(ctx), 1);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	expect_no_event(ctx);
	ASSERT_EQ(diverged_regions(ctx), 0);
}

struct reader {
	struct pinmgr_ctx *ctx;
	uint32_t handle;
	_Atomic pid_t tid;
	struct pinmgr_event ev;
	int ret;
	int others;		/* records read before the one awaited */
	uint64_t other_kinds;
};

/*
 * Blocks in read() until a record for @rd->handle with UNMAP arrives. Other
 * records may come first: khugepaged, compaction or NUMA hinting also
 * invalidate a pinned range now and then, and each such change queues a
 * record too.
 */
static void *blocking_reader(void *arg)
{
	struct reader *rd = arg;

	atomic_store(&rd->tid, (pid_t)syscall(SYS_gettid));
	for (;;) {
		rd->ret = pinmgr_events_read(rd->ctx, &rd->ev, 1);
		if (rd->ret != 1 || (rd->ev.handle == rd->handle &&
				     (rd->ev.kinds & PINMGR_EVENT_UNMAP)))
			return NULL;
		rd->others++;
		rd->other_kinds |= rd->ev.kinds;
	}
}

CASE(ev_blocking_read)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);
	struct reader rd = { .ctx = ctx, .handle = h, .ret = -1000 };
	pthread_t t;

	require_events(ctx);
	ASSERT_EQ(h_thread_create(&t, blocking_reader, &rd), 0);
	/* Until the reader sleeps in read(): the munmap must wake it. */
	while (!atomic_load(&rd.tid) ||
	       h_thread_state(atomic_load(&rd.tid)) != 'S')
		sched_yield();
	ASSERT_SYS(munmap(p + h_ps, h_ps));
	pthread_join(t, NULL);
	ASSERT_NO_THREAD_FAILURE();
	ASSERT_MSG(rd.ret == 1, "read: %d", rd.ret);
	ASSERT_MSG(rd.ev.handle == h && (rd.ev.kinds & PINMGR_EVENT_UNMAP),
		   "record for handle %u, kinds 0x%" PRIx64 " (%d other records, kinds 0x%" PRIx64 ")",
		   rd.ev.handle, (uint64_t)rd.ev.kinds, rd.others, rd.other_kinds);
	if (rd.others)
		h_diag("%d other records came first (kinds 0x%" PRIx64 ")",
		       rd.others, rd.other_kinds);
}

CASE(ev_read_errors)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	void *bad = h_map(h_ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pinmgr_event ev[2];
	char small[sizeof(ev[0]) - 1];
	char big[2 * sizeof(ev[0]) + 5];

	require_events(ctx);
	h_pin(ctx, p, NPAGES * h_ps, 0);
	ASSERT_SYS(madvise(p, h_ps, MADV_DONTNEED));
	ASSERT_MSG(read(h_fd(ctx), small, sizeof(small)) < 0 && errno == EINVAL,
		   "read of less than a record: expected EINVAL");
	ASSERT_MSG(read(h_fd(ctx), bad, sizeof(ev)) < 0 && errno == EFAULT,
		   "read to a PROT_NONE page: expected EFAULT");
	/* The record was not lost by the failed copy; a tail is ignored. */
	ASSERT_EQ(read(h_fd(ctx), big, sizeof(big)), (ssize_t)sizeof(ev[0]));
	ASSERT_ERR(pinmgr_events_read(ctx, ev, 0), EINVAL);
	ASSERT_ERR(pinmgr_events_read(NULL, ev, 1), EINVAL);
}

static void child_read(void *arg)
{
	struct pollfd pfd = { .fd = h_fd(arg), .events = POLLIN };
	struct pinmgr_event ev;

	/* A change is pending, but not for this mm: only an error. */
	ASSERT_EQ(poll(&pfd, 1, 0), 1);
	ASSERT_EQ(pfd.revents, POLLERR);
	ASSERT_ERR(pinmgr_events_read(arg, &ev, 1), EACCES);
}

CASE(ev_other_mm_eacces)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pollfd pfd = { .fd = h_fd(ctx), .events = POLLIN };
	char *buf = h_anon(h_ps);

	nonblock(ctx);
	h_pin(ctx, buf, h_ps, 0);
	ASSERT_SYS(madvise(buf, h_ps, MADV_DONTNEED));
	ASSERT_EQ(poll(&pfd, 1, 0), 1);
	ASSERT_EQ(pfd.revents, POLLIN);
	h_child_wait(h_child_start(child_read, ctx));
	h_close(ctx);
}

/* /sys/class/misc/pinmgr/stats/@name */
static uint64_t sys_stat(const char *name)
{
	char path[128], buf[64];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/misc/pinmgr/stats/%s", name);
	f = fopen(path, "re");
	ASSERT_MSG(f, "%s: %s", path, h_errname(errno));
	ASSERT(fgets(buf, sizeof(buf), f));
	fclose(f);
	return strtoull(buf, NULL, 10);
}

CASE(ev_notifiers_unregistered)
{
	uint64_t base = sys_stat("notifiers");
	uint64_t dbase = sys_stat("diverged_regions");
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(NPAGES * h_ps);
	uint32_t h1;

	require_events(ctx);
	h1 = h_pin(ctx, p, h_ps, 0);
	h_pin(ctx, p + h_ps, h_ps, 0);
	h_pin(ctx, p + 2 * h_ps, h_ps, PINMGR_PIN_WRITE);
	ASSERT_EQ(sys_stat("notifiers"), base + 3);
	ASSERT_SYS(madvise(p, 3 * h_ps, MADV_DONTNEED));
	/* STATS waits until the regions are confirmed diverged. */
	ASSERT_EQ(diverged_regions(ctx), 3);
	ASSERT_EQ(sys_stat("diverged_regions"), dbase + 3);
	ASSERT_OK(pinmgr_unpin(ctx, h1));
	ASSERT_EQ(sys_stat("notifiers"), base + 2);
	ASSERT_EQ(sys_stat("diverged_regions"), dbase + 2);
	h_close(ctx);
	ASSERT_EQ(sys_stat("notifiers"), base);
	ASSERT_EQ(sys_stat("diverged_regions"), dbase);
}

/* The events parameter off at open: no notifiers, no records, VERIFY still. */
CASE(ev_param_off)
{
	uint64_t base = sys_stat("notifiers");
	struct pinmgr_ctx *on = h_open(), *off;
	char *p = d_anon(4 * h_ps);
	struct pinmgr_stats st;
	struct pinmgr_info in;
	uint64_t differ, first;
	uint32_t h;

	require_events(on);
	h_param_set_for_case("events", 0);
	off = h_open();
	ASSERT_OK(pinmgr_info(off, &in, sizeof(in)));
	ASSERT_EQ(in.out_caps & PINMGR_CAP_EVENTS, 0);
	h = h_pin(off, p, 3 * h_ps, PINMGR_PIN_WRITE);
	ASSERT_EQ(sys_stat("notifiers"), base);
	/* A file opened before keeps watching. */
	h_pin(on, p + 3 * h_ps, h_ps, PINMGR_PIN_WRITE);
	ASSERT_EQ(sys_stat("notifiers"), base + 1);
	ASSERT_SYS(madvise(p, 4 * h_ps, MADV_DONTNEED));
	ASSERT_SYS(fcntl(h_fd(off), F_SETFL, O_NONBLOCK));
	expect_no_event(off);
	ASSERT_OK(pinmgr_stats(off, &st, sizeof(st)));
	ASSERT_EQ(st.out_diverged_regions, 0);
	ASSERT_EQ(pinmgr_verify(off, h, &differ, &first), 3);
	ASSERT_EQ(differ, 3);
	ASSERT_EQ(first, 0);
	h_close(off);
	h_close(on);
	ASSERT_EQ(sys_stat("notifiers"), base);
}

/*
 * PINMGR_PIN_NO_EVENTS on a file that watches: PIN, PIN_VEC, UPDATE and a
 * replace make regions without a notifier, whose changes nobody hears of
 * (VERIFY still sees them); a watched region beside them, or one that
 * replaces an unwatched one, still gets its record.
 */
CASE(ev_no_events_flag)
{
	uint64_t base = sys_stat("notifiers");
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(9 * h_ps);
	struct pinmgr_pin_range up = {
		.addr = (uintptr_t)(p + 8 * h_ps), .length = h_ps,
	};
	struct pinmgr_pin_range vec[2] = {
		{ .addr = (uintptr_t)(p + 2 * h_ps), .length = h_ps },
		{ .addr = (uintptr_t)(p + 3 * h_ps), .length = h_ps },
	};
	struct pinmgr_pin_range r = {
		.addr = (uintptr_t)(p + 5 * h_ps), .length = h_ps,
	};
	uint32_t hw, hn, hr, hs;
	uint64_t differ, first;

	nonblock(ctx);
	hw = h_pin(ctx, p, h_ps, PINMGR_PIN_WRITE);
	hn = h_pin(ctx, p + h_ps, h_ps, PINMGR_PIN_WRITE | PINMGR_PIN_NO_EVENTS);
	ASSERT_OK(pinmgr_pin_vec(ctx, PINMGR_PIN_NO_EVENTS, vec, 2));
	ASSERT_OK(pinmgr_update(ctx, NULL, 0, PINMGR_PIN_NO_EVENTS, &up, 1));
	/* Watched, then replaced by an unwatched region: its notifier goes. */
	hr = h_pin(ctx, p + 4 * h_ps, h_ps, 0);
	ASSERT_EQ(sys_stat("notifiers"), base + 2);
	ASSERT_OK(pinmgr_update(ctx, &hr, 1,
				PINMGR_PIN_NO_EVENTS | PINMGR_UPDATE_REPLACE,
				&r, 1));
	ASSERT_EQ(r.out_handle, hr);
	ASSERT_EQ(sys_stat("notifiers"), base + 1);
	/* Unwatched, then replaced by a watched region: that one is watched. */
	hs = h_pin(ctx, p + 6 * h_ps, h_ps, PINMGR_PIN_NO_EVENTS);
	r.addr = (uintptr_t)(p + 7 * h_ps);
	ASSERT_OK(pinmgr_update(ctx, &hs, 1, PINMGR_UPDATE_REPLACE, &r, 1));
	ASSERT_EQ(sys_stat("notifiers"), base + 2);
	expect_no_event(ctx);

	/* Every page dropped: two records, for the watched regions only. */
	ASSERT_SYS(madvise(p, 9 * h_ps, MADV_DONTNEED));
	ASSERT_EQ(diverged_regions(ctx), 2);
	{
		struct pinmgr_event ev[8];
		int n = pinmgr_events_read(ctx, ev, 8);

		ASSERT_EQ(n, 2);
		ASSERT(ev[0].handle == hw || ev[1].handle == hw);
		ASSERT(ev[0].handle == hs || ev[1].handle == hs);
		ASSERT_EQ(ev[0].kinds & PINMGR_EVENT_CLEAR, PINMGR_EVENT_CLEAR);
		ASSERT_EQ(ev[1].kinds & PINMGR_EVENT_CLEAR, PINMGR_EVENT_CLEAR);
	}
	expect_no_event(ctx);
	/* VERIFY still tells, for the unwatched ones too. */
	ASSERT_EQ(pinmgr_verify(ctx, hn, &differ, &first), 1);
	ASSERT_EQ(differ, 1);
	ASSERT_EQ(pinmgr_verify(ctx, vec[1].out_handle, &differ, &first), 1);
	ASSERT_EQ(pinmgr_verify(ctx, hr, &differ, &first), 1);
	ASSERT_EQ(pinmgr_verify(ctx, up.out_handle, &differ, &first), 1);
	ASSERT_OK(pinmgr_unpin(ctx, hs));
	ASSERT_EQ(sys_stat("notifiers"), base + 1);
	h_close(ctx);
	ASSERT_EQ(sys_stat("notifiers"), base);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define OVH_MB		64
#define OVH_REGIONS	1024

/* Faults in, then zaps, OVH_MB of unrelated memory; returns seconds. */
static void unrelated_work(double *fault_s, double *zap_s)
{
	size_t len = (size_t)OVH_MB << 20;
	char *b = h_anon_untouched(len);
	double t0 = now_s();
	size_t off;

	for (off = 0; off < len; off += h_ps)
		b[off] = 1;
	*fault_s = now_s() - t0;
	t0 = now_s();
	for (off = 0; off < len; off += 64 * h_ps)
		ASSERT_SYS(madvise(b + off, 64 * h_ps, MADV_DONTNEED));
	*zap_s = now_s() - t0;
	h_unmap(b);
}

#define OVH_RUNS	5

static void best_of(double *fault_s, double *zap_s)
{
	double f, z;
	int i;

	*fault_s = *zap_s = 1e9;
	for (i = 0; i < OVH_RUNS; i++) {
		unrelated_work(&f, &z);
		if (f < *fault_s)
			*fault_s = f;
		if (z < *zap_s)
			*zap_s = z;
	}
}

CASE(ev_overhead)
{
	struct pinmgr_ctx *ctx = h_open();
	char *p = d_anon(OVH_REGIONS * h_ps);
	double f0, z0, f1, z1, f2, z2;
	int i;

	/* 1 + 3 * OVH_RUNS passes over OVH_MB: slow on a KASAN kernel. */
	h_case_timeout(300);
	unrelated_work(&f0, &z0);	/* warm-up */
	best_of(&f0, &z0);
	for (i = 0; i < OVH_REGIONS; i++)
		h_pin(ctx, p + i * h_ps, h_ps, 0);
	best_of(&f1, &z1);
	h_close(ctx);
	best_of(&f2, &z2);
	h_diag("unrelated %d MiB, best of %d: fault-in %.1f ms with 0 regions, %.1f ms with %d, %.1f ms after close; "
	       "MADV_DONTNEED in 256 KiB steps %.1f / %.1f / %.1f ms (not asserted)",
	       OVH_MB, OVH_RUNS, f0 * 1e3, f1 * 1e3, OVH_REGIONS, f2 * 1e3,
	       z0 * 1e3, z1 * 1e3, z2 * 1e3);
}

/* ---- khugepaged on pinned memory -------------------------------------- */

#define KHP "/sys/kernel/mm/transparent_hugepage/khugepaged/"

static uint64_t read_u64_file(const char *path)
{
	char buf[64];
	FILE *f = fopen(path, "re");

	ASSERT_MSG(f, "%s: %s", path, h_errname(errno));
	ASSERT(fgets(buf, sizeof(buf), f));
	fclose(f);
	return strtoull(buf, NULL, 10);
}

static void write_u64_file(const char *path, uint64_t v)
{
	FILE *f = fopen(path, "we");

	ASSERT_MSG(f, "%s: %s", path, h_errname(errno));
	ASSERT(fprintf(f, "%" PRIu64 "\n", v) > 0);
	ASSERT_MSG(!fclose(f), "%s: %s", path, h_errname(errno));
}

static uint64_t khp_saved_sleep, khp_saved_pages;

static void khp_restore(void *p, size_t n)
{
	(void)p;
	(void)n;
	write_u64_file(KHP "scan_sleep_millisecs", khp_saved_sleep);
	write_u64_file(KHP "pages_to_scan", khp_saved_pages);
}

/* Until khugepaged has gone over every registered mm twice more. */
static void khugepaged_two_full_scans(void)
{
	uint64_t want = read_u64_file(KHP "full_scans") + 2;
	double t0 = now_s();

	khp_saved_sleep = read_u64_file(KHP "scan_sleep_millisecs");
	khp_saved_pages = read_u64_file(KHP "pages_to_scan");
	h_defer(khp_restore, NULL, 0);
	write_u64_file(KHP "pages_to_scan", 4096);
	write_u64_file(KHP "scan_sleep_millisecs", 0);
	while (read_u64_file(KHP "full_scans") < want) {
		ASSERT_MSG(now_s() - t0 < 60,
			   "khugepaged made no two full scans in 60 s");
		sched_yield();
	}
}

#define PMD_SIZE_	(2UL << 20)
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25	/* Linux 6.1; glibc 2.36 lacks the name */
#endif

/* Pending records (all for @h), counted; their kinds or'ed into *@kinds. */
static int drain_records(struct pinmgr_ctx *ctx, uint32_t h, uint64_t *kinds)
{
	struct pinmgr_event ev;
	int n, records = 0;

	while ((n = pinmgr_events_read(ctx, &ev, 1)) == 1) {
		ASSERT_EQ(ev.handle, h);
		*kinds |= ev.kinds;
		records++;
	}
	ASSERT_EQ(n, -EAGAIN);
	return records;
}

/*
 * Invalidations that leave every pinned page mapped, by the kernel's own
 * housekeeping, over a 2 MiB-aligned range of small pages, eight of them
 * pinned: MADV_COLLAPSE (which must give up: pages are pinned), khugepaged
 * made to scan at full speed for two full scans, and a full compaction
 * (/proc/sys/vm/compact_memory). Whatever records they send, the region
 * must not be counted as diverged, and VERIFY must find every page in
 * place. How many records each sent is printed: pinmgr(4) quotes it.
 */
CASE(ev_housekeeping_not_diverged)
{
	struct pinmgr_ctx *ctx = h_open();
	int n_collapse, n_khugepaged, n_compact, collapse_errno = 0;
	uint64_t kinds = 0;
	char *m, *a;
	uint32_t h;
	FILE *f;

	if (access(KHP "full_scans", F_OK))
		h_skip("kernel without transparent huge pages (no khugepaged)");
	m = h_map(2 * PMD_SIZE_, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	a = (char *)(((uintptr_t)m + PMD_SIZE_ - 1) & ~(PMD_SIZE_ - 1));
	ASSERT_SYS(madvise(a, PMD_SIZE_, MADV_NOHUGEPAGE));
	memset(a, 0x5a, PMD_SIZE_);
	h = h_pin(ctx, a + 16 * h_ps, 8 * h_ps, PINMGR_PIN_WRITE);
	nonblock(ctx);
	ASSERT_SYS(madvise(a, PMD_SIZE_, MADV_HUGEPAGE));

	if (madvise(a, PMD_SIZE_, MADV_COLLAPSE))
		collapse_errno = errno;
	ASSERT_MSG(collapse_errno, "MADV_COLLAPSE collapsed a range with pinned pages");
	ASSERT_MSG(collapse_errno == EAGAIN || collapse_errno == EINVAL ||
		   collapse_errno == ENOMEM, "MADV_COLLAPSE: %s",
		   h_errname(collapse_errno));
	n_collapse = drain_records(ctx, h, &kinds);
	khugepaged_two_full_scans();
	n_khugepaged = drain_records(ctx, h, &kinds);
	f = fopen("/proc/sys/vm/compact_memory", "we");
	ASSERT_MSG(f, "/proc/sys/vm/compact_memory: %s", h_errname(errno));
	ASSERT(fputs("1\n", f) >= 0);
	ASSERT_MSG(!fclose(f), "compact_memory: %s", h_errname(errno));
	n_compact = drain_records(ctx, h, &kinds);

	ASSERT_EQ(diverged_regions(ctx), 0);
	verify(ctx, h, 8, 0, PINMGR_VERIFY_NONE);
	h_diag("records: MADV_COLLAPSE (%s) %d, khugepaged (2 full scans) %d, compaction %d; kinds 0x%" PRIx64 "; not diverged",
	       h_errname(collapse_errno), n_collapse, n_khugepaged, n_compact,
	       kinds);
}

static const struct h_case cases[] = {
	H_CASE(fresh_pin, "fresh pins (writable, read-only) -> 0 differ, first NONE"),
	H_CASE(unaligned, "unaligned pin: npages 3; only its own pages count"),
	H_CASE(takes_no_pins, "VERIFY takes no FOLL_PIN references"),
	H_CASE(munmap_all, "munmap -> every page differs, first 0"),
	H_CASE(munmap_big_middle,
	       "munmap of 130 pages across a batch boundary -> exactly those"),
	H_CASE(dontneed_part,
	       "MADV_DONTNEED on 3 pages -> those 3 differ, also after refault"),
	H_CASE(mremap_away, "mremap away -> every page of the old range differs"),
	H_CASE(fork_parent_writes_w, "writable pin, fork, parent writes -> 0 differ"),
	H_CASE(fork_child_writes_w, "writable pin, fork, child writes -> 0 differ"),
	H_CASE(fork_parent_writes_ro, "read-only pin, fork, parent writes -> 0 differ"),
	H_CASE(fork_child_writes_ro, "read-only pin, fork, child writes -> 0 differ"),
	H_CASE(mprotect_same, "mprotect to the same rights, or read-only -> 0 differ"),
	H_CASE(mprotect_none, "mprotect PROT_NONE on 2 pages -> those differ; undone -> 0"),
	H_CASE(ev_change_during_pin, "page 0 replaced while a 32 MiB PIN runs: a record and diverged iff VERIFY then differs"),
	H_CASE(vma_boundary, "page 1 dropped (then the zero page), pages 2-3 another VMA -> 1 differs, not 2"),
	H_CASE(after_unpin_enoent, "unpinned or unknown handle -> ENOENT; NULL ctx -> EINVAL"),
	H_CASE(flags_reserved_einval, "each flag bit, __reserved -> EINVAL, nothing written"),
	H_CASE(other_mm_eacces, "VERIFY from a forked child -> EACCES"),
	H_CASE(ev_fresh_none, "events: none after PIN, none for changes elsewhere"),
	H_CASE(ev_munmap, "events: munmap of 4 pages -> UNMAP over them; VERIFY 4"),
	H_CASE(ev_mremap, "events: mremap away -> UNMAP over the region; VERIFY all"),
	H_CASE(ev_dontneed, "events: MADV_DONTNEED of 2 pages -> CLEAR; VERIFY 2"),
	H_CASE(ev_clipped_to_region, "events: range clipped to the region's pages"),
	H_CASE(ev_coalesce, "events: munmap + 5 DONTNEED -> one record, UNMAP|CLEAR, union"),
	H_CASE(ev_fork_w_parent, "events: writable pin, fork, parent writes -> PROTECTION_PAGE, not diverged"),
	H_CASE(ev_fork_w_child, "events: writable pin, fork, child writes -> PROTECTION_PAGE, not diverged"),
	H_CASE(ev_fork_ro_parent, "events: read-only pin, fork, parent writes -> PROTECTION_PAGE, not diverged"),
	H_CASE(ev_fork_ro_child, "events: read-only pin, fork, child writes -> PROTECTION_PAGE, not diverged"),
	H_CASE(ev_mprotect, "events: mprotect same -> none; RO -> PROTECTION_VMA, not diverged; NONE -> diverged, VERIFY 2"),
	H_CASE(ev_housekeeping_not_diverged, "events: MADV_COLLAPSE, khugepaged, compaction over 8 pinned pages -> not diverged, VERIFY 0"),
	H_CASE(ev_benign_not_diverged, "events: soft-dirty clear -> a record, not diverged; DONTNEED -> diverged"),
	H_CASE(ev_unpin_drops_pending, "events: UNPIN drops the pending record and the mark"),
	H_CASE(ev_blocking_read, "events: a blocked read() wakes up on munmap"),
	H_CASE(ev_read_errors, "events: short buffer EINVAL, EFAULT keeps the record"),
	H_CASE(ev_other_mm_eacces, "events: with a change pending, poll() from a forked child -> POLLERR only, read() -> EACCES"),
	H_CASE(ev_notifiers_unregistered, "events: UNPIN and close unregister notifiers (sysfs back to base)"),
	H_CASE(ev_param_off, "events: parameter off at open -> no CAP_EVENTS, no notifier, no record; VERIFY works"),
	H_CASE(ev_no_events_flag, "events: PINMGR_PIN_NO_EVENTS by PIN, PIN_VEC, UPDATE, replace -> no notifier, no record; VERIFY works; watched beside it still heard"),
	H_CASE(ev_overhead, "events: notifier overhead on unrelated faults (reported)"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
