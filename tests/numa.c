// SPDX-License-Identifier: GPL-2.0
/*
 * NUMA balancing must not make PINMGR_VERIFY report a mismatch.
 *
 * NUMA balancing (task_numa_work -> change_prot_numa) turns the PTEs of
 * pages it samples into NUMA-hinting entries: pte_protnone() in a VMA that
 * stays accessible. The page is still mapped; the process's next access
 * takes a hinting fault and finds the same page. GUP's lockless walk stops
 * at such entries, so VERIFY must look again under mmap_lock, where a real
 * mprotect(PROT_NONE) (the VMA loses VM_READ) can be told apart.
 *
 * Needs two NUMA nodes: the VM harness runs programs named numa* in a third
 * boot with two (skips without them). On 6.1, change_pte_range() skips,
 * among others, pages of COW mappings whose page_count is not 1 (pinned
 * private anonymous pages are never hinted) and, in private mappings of a
 * single-threaded process, pages already on the scanning CPU's node; and
 * task_numa_work() skips a shmem VMA unless its shared policy has
 * MPOL_F_MOF. So the buffer is a MAP_SHARED memfd, mbind() to node 1 with
 * MPOL_F_NUMA_BALANCING, and the process runs on a CPU of node 0.
 *
 * The scan is queued from the scheduler tick of a task that has run long
 * enough, and runs when that task returns to user space: the case spins in
 * user space, without touching the buffer, until the region's divergence
 * event (PROTECTION_VMA) has arrived and /proc/vmstat numa_pte_updates has
 * grown, then checks VERIFY and, as controls, that PROT_NONE and
 * MADV_DONTNEED still count as differing, that VERIFY faulted nothing in,
 * and that touching the hinted pages takes hinting faults.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NPAGES		16
#define DEADLINE_S	90	/* for the scan to reach the region */

/* <linux/mempolicy.h>, without libnuma. */
#define H_MPOL_BIND		2
#define H_MPOL_F_NUMA_BALANCING	(1 << 13)

#define NUMA_SYSCTL	"/proc/sys/kernel/numa_balancing"
#define NUMA_DEBUGFS	"/sys/kernel/debug/sched/numa_balancing/"

/* ---- files ------------------------------------------------------------- */

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	if (n < 0)
		return -errno;
	return 0;
}

struct knob {
	char path[128];
	char old[32];
};

static void restore_knob(void *p, size_t n __attribute__((unused)))
{
	struct knob *k = p;

	if (write_str(k->path, k->old) < 0)
		fprintf(stderr, "numa: could not restore %s to %s\n",
			k->path, k->old);
}

/* Writes @val to @path for the rest of the case (the old value comes back
 * in a cleanup). Skips the case if the file is missing. */
static void set_knob(const char *path, const char *val)
{
	struct knob *k = h_malloc(sizeof(*k));
	int err;

	snprintf(k->path, sizeof(k->path), "%s", path);
	err = h_read_file(path, k->old, sizeof(k->old));
	if (err == -ENOENT)
		h_skip("no %s (kernel without CONFIG_NUMA_BALANCING, or debugfs not mounted)",
		       path);
	ASSERT_MSG(!err, "read %s: %s", path, h_errname(-err));
	k->old[strcspn(k->old, "\n")] = '\0';
	h_defer(restore_knob, k, 0);
	err = write_str(path, val);
	ASSERT_MSG(!err, "write %s to %s: %s", val, path, h_errname(-err));
}

/* A counter of /proc/vmstat (events are summed over all CPUs when read). */
static uint64_t vmstat(const char *key)
{
	static char buf[16384];
	size_t klen = strlen(key);
	char *line;
	int err;

	err = h_read_file("/proc/vmstat", buf, sizeof(buf));
	ASSERT_MSG(!err, "read /proc/vmstat: %s", h_errname(-err));
	for (line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			return strtoull(line + klen + 1, NULL, 10);
	h_skip("no %s in /proc/vmstat (kernel without CONFIG_NUMA_BALANCING)", key);
}

/* ---- nodes and CPUs ---------------------------------------------------- */

/* The first CPU of @node, from its cpulist; skips if the node is missing. */
static int node_first_cpu(int node)
{
	char path[64], buf[256], *end;
	long cpu;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", node);
	if (h_read_file(path, buf, sizeof(buf)) < 0)
		h_skip("no NUMA node %d (the VM harness boots numa* programs with two)", node);
	cpu = strtol(buf, &end, 10);
	if (end == buf || cpu < 0)
		h_skip("NUMA node %d has no CPU (cpulist '%s')", node, buf);
	return (int)cpu;
}

static void restore_affinity(void *p, size_t n)
{
	sched_setaffinity(0, n, p);
}

/* Runs this (single-threaded) process on @cpu for the rest of the case. */
static void run_on_cpu(int cpu)
{
	cpu_set_t *old = h_malloc(sizeof(*old)), set;

	ASSERT_SYS(sched_getaffinity(0, sizeof(*old), old));
	h_defer(restore_affinity, old, sizeof(*old));
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ASSERT_SYS(sched_setaffinity(0, sizeof(set), &set));
	ASSERT_EQ(sched_getcpu(), cpu);
}

/* Node of each of @n pages at @p (move_pages() with no target: query). */
static void page_nodes(char *p, size_t n, int *nodes)
{
	void *addrs[NPAGES];
	size_t i;

	ASSERT(n <= NPAGES);
	for (i = 0; i < n; i++)
		addrs[i] = p + i * h_ps;
	ASSERT_SYS(syscall(SYS_move_pages, 0, n, addrs, NULL, nodes, 0));
}

/* ---- the case ---------------------------------------------------------- */

static void verify(struct pinmgr_ctx *ctx, uint32_t handle,
		   uint64_t want_differ, uint64_t want_first)
{
	struct pinmgr_verify v = { .size = sizeof(v), .handle = handle };

	ASSERT_OK(h_ioctl(h_fd(ctx), PINMGR_VERIFY, &v));
	ASSERT_EQ(v.out_npages, NPAGES);
	ASSERT_MSG(v.out_differ == want_differ && v.out_first == want_first,
		   "VERIFY: %" PRIu64 " pages differ, first %" PRId64 "; expected %" PRIu64 ", first %" PRId64,
		   (uint64_t)v.out_differ, (int64_t)v.out_first,
		   want_differ, (int64_t)want_first);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Kinds of every pending event record for @handle (fd non-blocking). */
static uint64_t drain_events(struct pinmgr_ctx *ctx, uint32_t handle)
{
	struct pinmgr_event ev[4];
	uint64_t kinds = 0;
	int n, i;

	while ((n = pinmgr_events_read(ctx, ev, 4)) > 0)
		for (i = 0; i < n; i++)
			if (ev[i].handle == handle)
				kinds |= ev[i].kinds;
	ASSERT_ERR(n, EAGAIN);
	return kinds;
}

CASE(numa_hinting)
{
	unsigned long node1 = 1UL << 1;
	struct pinmgr_ctx *ctx;
	struct pinmgr_stats st;
	struct pinmgr_info in;
	uint64_t upd0, upd, hint0, hint, kinds = 0, spins = 0;
	int cpu0, nodes[NPAGES], fd, fl;
	volatile uint64_t sink = 0;
	double t0, t;
	uint32_t h;
	size_t i;
	char *p;

	cpu0 = node_first_cpu(0);
	node_first_cpu(1);
	h_case_timeout(DEADLINE_S + 20);
	run_on_cpu(cpu0);

	ctx = h_open();
	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	if (!(in.out_caps & PINMGR_CAP_EVENTS))
		h_skip("no PINMGR_CAP_EVENTS (kernel without CONFIG_MMU_NOTIFIER)");
	fl = fcntl(h_fd(ctx), F_GETFL);
	ASSERT_SYS(fl);
	ASSERT_SYS(fcntl(h_fd(ctx), F_SETFL, fl | O_NONBLOCK));

	/* Shared shmem on node 1, with a policy NUMA balancing scans. */
	fd = h_keep_fd(ASSERT_SYS(memfd_create("pinmgr-numa", MFD_CLOEXEC)));
	ASSERT_SYS(ftruncate(fd, NPAGES * h_ps));
	p = h_map(NPAGES * h_ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_SYS(syscall(SYS_mbind, p, NPAGES * h_ps,
			   H_MPOL_BIND | H_MPOL_F_NUMA_BALANCING, &node1,
			   8 * sizeof(node1), 0));
	h_fill(p, NPAGES * h_ps, 7);
	page_nodes(p, NPAGES, nodes);
	for (i = 0; i < NPAGES; i++)
		ASSERT_MSG(nodes[i] == 1, "page %zu is on node %d, not 1", i, nodes[i]);

	h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);
	verify(ctx, h, 0, PINMGR_VERIFY_NONE);
	drain_events(ctx, h);

	/* Scan soon and often; numa_balancing=1: NUMA_BALANCING_NORMAL. */
	set_knob(NUMA_DEBUGFS "scan_delay_ms", "10");
	set_knob(NUMA_DEBUGFS "scan_period_min_ms", "10");
	set_knob(NUMA_DEBUGFS "scan_period_max_ms", "100");
	upd0 = vmstat("numa_pte_updates");
	set_knob(NUMA_SYSCTL, "1");

	/* Spin in user space until the scan has been through the region. */
	t0 = now_s();
	for (;;) {
		for (i = 0; i < 1000000; i++)
			sink += i;
		spins++;
		kinds |= drain_events(ctx, h);
		upd = vmstat("numa_pte_updates");
		t = now_s();
		if ((kinds & PINMGR_EVENT_PROTECTION_VMA) && upd > upd0)
			break;
		ASSERT_MSG(t - t0 < DEADLINE_S,
			   "NUMA balancing did not reach the region in %d s (event kinds 0x%" PRIx64 ", numa_pte_updates +%" PRIu64 ", %" PRIu64 " spins)",
			   DEADLINE_S, kinds, upd - upd0, spins);
	}
	h_diag("the scan reached the region after %.2f s: event kinds 0x%" PRIx64 ", numa_pte_updates +%" PRIu64,
	       t - t0, kinds, upd - upd0);
	ASSERT_EQ(sched_getcpu(), cpu0);

	/*
	 * The pages behind hinting entries are still the pinned ones: the
	 * region is not counted as diverged (STATS first: a clean VERIFY
	 * would clear the mark), and VERIFY agrees.
	 */
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_diverged_regions, 0);
	verify(ctx, h, 0, PINMGR_VERIFY_NONE);

	/* Controls: PROT_NONE (no VM_READ) and a zapped PTE still differ. */
	ASSERT_SYS(mprotect(p + 4 * h_ps, 3 * h_ps, PROT_NONE));
	verify(ctx, h, 3, 4);
	ASSERT_SYS(madvise(p + 10 * h_ps, h_ps, MADV_DONTNEED));
	verify(ctx, h, 4, 4);
	/* VERIFY faulted nothing in (the page is still in the memfd). */
	ASSERT_EQ(h_pagemap_pfn(p + 10 * h_ps), 0);

	/* The other pages were hinted: touching them takes hinting faults. */
	hint0 = vmstat("numa_hint_faults");
	for (i = 0; i < NPAGES; i++)
		if ((i < 4 || i > 6) && i != 10)
			sink += *(volatile char *)(p + i * h_ps);
	hint = vmstat("numa_hint_faults");
	h_diag("touching %d pages took %" PRIu64 " hinting faults", NPAGES - 4,
	       hint - hint0);
	ASSERT_MSG(hint - hint0 >= NPAGES - 4,
		   "touching %d pages took only %" PRIu64 " NUMA hinting faults: were they hinted?",
		   NPAGES - 4, hint - hint0);
	verify(ctx, h, 4, 4);
	ASSERT_SYS(mprotect(p + 4 * h_ps, 3 * h_ps, PROT_READ | PROT_WRITE));
	sink += *(volatile char *)(p + 10 * h_ps);
	verify(ctx, h, 0, PINMGR_VERIFY_NONE);
	h_assert_pattern(p, NPAGES * h_ps, 7, "the memfd after NUMA hinting");
	(void)sink;
}

/*
 * Migration of a pinned page is attempted and fails: move_pages() of pinned
 * shared (memfd) pages to the other node installs migration entries
 * (an invalidation: a record), finds the page pinned (its count is raised)
 * and puts the page back without another invalidation. The pages back the
 * range throughout, so the region must not be counted as diverged, and
 * VERIFY must find it clean; the pages stay where they are.
 */
CASE(migrate_pinned_not_diverged)
{
	struct pinmgr_ctx *ctx;
	struct pinmgr_stats st;
	struct pinmgr_info in;
	int nodes[NPAGES], target[NPAGES], status[NPAGES];
	void *addrs[NPAGES];
	uint64_t kinds;
	long moved;
	size_t i;
	int fd;
	uint32_t h;
	char *p;

	node_first_cpu(1);
	ctx = h_open();
	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	if (!(in.out_caps & PINMGR_CAP_EVENTS))
		h_skip("no PINMGR_CAP_EVENTS (kernel without CONFIG_MMU_NOTIFIER)");
	ASSERT_SYS(fcntl(h_fd(ctx), F_SETFL, fcntl(h_fd(ctx), F_GETFL) | O_NONBLOCK));
	fd = h_keep_fd(ASSERT_SYS(memfd_create("pinmgr-migrate", MFD_CLOEXEC)));
	ASSERT_SYS(ftruncate(fd, NPAGES * h_ps));
	p = h_map(NPAGES * h_ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	h_fill(p, NPAGES * h_ps, 3);
	page_nodes(p, NPAGES, nodes);
	h = h_pin(ctx, p, NPAGES * h_ps, PINMGR_PIN_WRITE);
	drain_events(ctx, h);

	for (i = 0; i < NPAGES; i++) {
		addrs[i] = p + i * h_ps;
		target[i] = !nodes[i];
	}
	moved = syscall(SYS_move_pages, 0, NPAGES, addrs, target, status, 0);
	ASSERT_MSG(moved >= 0, "move_pages: %s", h_errname(errno));
	kinds = drain_events(ctx, h);
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	h_diag("move_pages of %d pinned pages: %ld not moved, status[0] %d, records kinds 0x%" PRIx64 ", diverged %" PRIu64,
	       NPAGES, moved, status[0], kinds, (uint64_t)st.out_diverged_regions);
	ASSERT_EQ(st.out_diverged_regions, 0);
	verify(ctx, h, 0, PINMGR_VERIFY_NONE);
	page_nodes(p, NPAGES, status);
	for (i = 0; i < NPAGES; i++)
		ASSERT_MSG(status[i] == nodes[i], "pinned page %zu moved from node %d to %d",
			   i, nodes[i], status[i]);
	h_assert_pattern(p, NPAGES * h_ps, 3, "the memfd after a failed migration");
}

static const struct h_case cases[] = {
	H_CASE(migrate_pinned_not_diverged, "move_pages of pinned memfd pages: fails, not diverged, VERIFY 0, pages in place"),
	H_CASE(numa_hinting, "NUMA hinting entries: VERIFY 0; PROT_NONE and DONTNEED still differ"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
