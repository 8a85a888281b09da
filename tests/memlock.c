// SPDX-License-Identifier: GPL-2.0
/*
 * RLIMIT_MEMLOCK accounting: pins are charged to the opener's pinned memory
 * (VmPin) and refused with ENOMEM past the limit, unless the caller has
 * CAP_IPC_LOCK. Each case runs in a child that opens the device as root,
 * lowers its limit and then (mostly) drops to uid/gid 65534, which drops
 * every capability.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"

#define LIMIT		(64 * 1024)
#define LIMIT_PAGES	(LIMIT / h_ps)

static void set_memlock(rlim_t soft, rlim_t hard)
{
	struct rlimit rl = { .rlim_cur = soft, .rlim_max = hard };

	ASSERT_SYS(setrlimit(RLIMIT_MEMLOCK, &rl));
}

static void drop_to_nobody(void)
{
	ASSERT_SYS(setgroups(0, NULL));
	ASSERT_SYS(setgid(65534));
	ASSERT_SYS(setuid(65534));
	ASSERT(!h_cap_has(CAP_IPC_LOCK));
	ASSERT(!h_cap_has(CAP_SYS_ADMIN));
}

/* In the child: open as root, set the limit, drop privileges. */
static struct pinmgr_ctx *setup(rlim_t soft, rlim_t hard, bool drop)
{
	struct pinmgr_ctx *ctx = h_open();

	set_memlock(soft, hard);
	if (drop)
		drop_to_nobody();
	ASSERT_VMPIN_KB(0);
	return ctx;
}

static void run(void (*fn)(void *))
{
	h_child_wait(h_child_start(fn, NULL));
}

static void child_at_limit(void *arg)
{
	struct pinmgr_ctx *ctx = setup(LIMIT, LIMIT, true);
	char *buf = h_anon(2 * LIMIT);

	(void)arg;
	h_pin(ctx, buf, LIMIT, 0);
	ASSERT_VMPIN_KB(LIMIT / 1024);
}

CASE(at_limit)
{
	run(child_at_limit);
}

static void child_one_more_page(void *arg)
{
	struct pinmgr_ctx *ctx = setup(LIMIT, LIMIT, true);
	char *buf = h_anon(2 * LIMIT);
	struct pinmgr_stats st;
	uint32_t h = 0xdead;

	(void)arg;
	h_pin(ctx, buf, LIMIT, 0);
	ASSERT_ERR(pinmgr_pin(ctx, buf + LIMIT, h_ps, 0, &h), ENOMEM);
	ASSERT_EQ(h, 0xdead);
	ASSERT_VMPIN_KB(LIMIT / 1024);
	ASSERT_OK(pinmgr_stats(ctx, &st));
	ASSERT_EQ(st.out_regions, 1);
	ASSERT_EQ(st.out_pinned_pages, LIMIT_PAGES);
}

CASE(one_more_page)
{
	run(child_one_more_page);
}

static void child_over_at_once(void *arg)
{
	struct pinmgr_ctx *ctx = setup(LIMIT, LIMIT, true);
	char *buf = h_anon(2 * LIMIT);
	uint32_t h;

	(void)arg;
	ASSERT_ERR(pinmgr_pin(ctx, buf, LIMIT + h_ps, 0, &h), ENOMEM);
	ASSERT_VMPIN_KB(0);
	/* 16 pages of bytes, unaligned: 17 pages */
	ASSERT_ERR(pinmgr_pin(ctx, buf + 1, LIMIT, 0, &h), ENOMEM);
	ASSERT_VMPIN_KB(0);
}

CASE(over_at_once)
{
	run(child_over_at_once);
}

static void child_again_after_unpin(void *arg)
{
	struct pinmgr_ctx *ctx = setup(LIMIT, LIMIT, true);
	char *buf = h_anon(2 * LIMIT);
	uint32_t a, h;

	(void)arg;
	a = h_pin(ctx, buf, LIMIT, 0);
	ASSERT_ERR(pinmgr_pin(ctx, buf + LIMIT, LIMIT, 0, &h), ENOMEM);
	ASSERT_OK(pinmgr_unpin(ctx, a));
	ASSERT_VMPIN_KB(0);
	h_pin(ctx, buf + LIMIT, LIMIT, PINMGR_PIN_WRITE);
	ASSERT_VMPIN_KB(LIMIT / 1024);
}

CASE(again_after_unpin)
{
	run(child_again_after_unpin);
}

static void child_across_regions(void *arg)
{
	struct pinmgr_ctx *ctx = setup(LIMIT, LIMIT, true);
	size_t quarter = LIMIT / 4;
	char *buf = h_anon(2 * LIMIT);
	uint32_t h;
	int i;

	(void)arg;
	for (i = 0; i < 4; i++)
		h_pin(ctx, buf + i * quarter, quarter, 0);
	ASSERT_ERR(pinmgr_pin(ctx, buf, h_ps, 0, &h), ENOMEM);
	ASSERT_VMPIN_KB(LIMIT / 1024);
}

CASE(across_regions)
{
	run(child_across_regions);
}

static void child_limit_zero(void *arg)
{
	struct pinmgr_ctx *ctx = setup(0, 0, true);
	char *buf = h_anon(h_ps);
	uint32_t h;

	(void)arg;
	ASSERT_ERR(pinmgr_pin(ctx, buf, 1, 0, &h), ENOMEM);
	ASSERT_VMPIN_KB(0);
}

CASE(limit_zero)
{
	run(child_limit_zero);
}

/* The limit is looked at on each PIN, not when the file was opened. */
static void child_raised_soft_limit(void *arg)
{
	struct pinmgr_ctx *ctx = setup(LIMIT, 2 * LIMIT, true);
	char *buf = h_anon(2 * LIMIT);
	uint32_t h;

	(void)arg;
	h_pin(ctx, buf, LIMIT, 0);
	ASSERT_ERR(pinmgr_pin(ctx, buf + LIMIT, LIMIT, 0, &h), ENOMEM);
	set_memlock(2 * LIMIT, 2 * LIMIT);
	h_pin(ctx, buf + LIMIT, LIMIT, 0);
	ASSERT_VMPIN_KB(2 * LIMIT / 1024);
}

CASE(raised_soft_limit)
{
	run(child_raised_soft_limit);
}

/* The pins of two files of one process share the process's limit. */
static void child_two_files(void *arg)
{
	struct pinmgr_ctx *a = h_open(), *b = h_open();
	char *buf = h_anon(2 * LIMIT);
	uint32_t h;

	(void)arg;
	set_memlock(LIMIT, LIMIT);
	drop_to_nobody();
	h_pin(a, buf, LIMIT / 2, 0);
	h_pin(b, buf, LIMIT / 2, 0);
	ASSERT_ERR(pinmgr_pin(a, buf, h_ps, 0, &h), ENOMEM);
	ASSERT_ERR(pinmgr_pin(b, buf, h_ps, 0, &h), ENOMEM);
	ASSERT_VMPIN_KB(LIMIT / 1024);
}

CASE(two_files)
{
	run(child_two_files);
}

static void child_root_ipc_lock(void *arg)
{
	struct pinmgr_ctx *ctx = setup(LIMIT, LIMIT, false);
	char *buf = h_anon(4 * LIMIT);

	(void)arg;
	ASSERT(h_cap_has(CAP_IPC_LOCK));
	h_pin(ctx, buf, 2 * LIMIT, 0);
	h_pin(ctx, buf + 2 * LIMIT, 2 * LIMIT, PINMGR_PIN_WRITE);
	/* still charged, just not limited */
	ASSERT_VMPIN_KB(4 * LIMIT / 1024);
}

CASE(root_ipc_lock)
{
	run(child_root_ipc_lock);
}

/* It is CAP_IPC_LOCK that counts, not uid 0. */
static void child_root_without_ipc_lock(void *arg)
{
	struct pinmgr_ctx *ctx = setup(LIMIT, LIMIT, false);
	char *buf = h_anon(2 * LIMIT);
	uint32_t h;

	(void)arg;
	h_cap_drop(CAP_IPC_LOCK);
	ASSERT_EQ(getuid(), 0);
	h_pin(ctx, buf, LIMIT, 0);
	ASSERT_ERR(pinmgr_pin(ctx, buf + LIMIT, h_ps, 0, &h), ENOMEM);
	ASSERT_VMPIN_KB(LIMIT / 1024);
}

CASE(root_without_ipc_lock)
{
	run(child_root_without_ipc_lock);
}

/* The charge taken before dropping privileges counts against the limit. */
static void child_charge_before_drop(void *arg)
{
	struct pinmgr_ctx *ctx = setup(LIMIT, LIMIT, false);
	char *buf = h_anon(4 * LIMIT);
	uint32_t big, h;

	(void)arg;
	big = h_pin(ctx, buf, 2 * LIMIT, 0);	/* allowed: CAP_IPC_LOCK */
	drop_to_nobody();
	ASSERT_ERR(pinmgr_pin(ctx, buf + 2 * LIMIT, h_ps, 0, &h), ENOMEM);
	ASSERT_VMPIN_KB(2 * LIMIT / 1024);
	ASSERT_OK(pinmgr_unpin(ctx, big));
	ASSERT_VMPIN_KB(0);
	h_pin(ctx, buf + 2 * LIMIT, LIMIT, 0);
}

CASE(charge_before_drop)
{
	run(child_charge_before_drop);
}

/* Closing the file returns the whole charge. */
static void child_close_uncharges(void *arg)
{
	struct pinmgr_ctx *ctx = setup(LIMIT, LIMIT, true);
	char *buf = h_anon(LIMIT);

	(void)arg;
	h_pin(ctx, buf, LIMIT / 2, 0);
	h_pin(ctx, buf + LIMIT / 2, LIMIT / 2, 0);
	ASSERT_VMPIN_KB(LIMIT / 1024);
	pinmgr_close(ctx);
	ASSERT_VMPIN_KB(0);
}

CASE(close_uncharges)
{
	run(child_close_uncharges);
}

static const struct h_case cases[] = {
	H_CASE(at_limit, "nobody, RLIMIT_MEMLOCK 64 KiB: pin 64 KiB -> ok, VmPin 64 kB"),
	H_CASE(one_more_page, "nobody, 64 KiB pinned: 1 more page -> ENOMEM, VmPin unchanged"),
	H_CASE(over_at_once, "nobody, RLIMIT_MEMLOCK 64 KiB: pin 64 KiB + 1 page at once -> ENOMEM"),
	H_CASE(again_after_unpin, "nobody: after unpin the limit has room again -> ok"),
	H_CASE(across_regions, "nobody: 4 x 16 KiB regions fill 64 KiB, 5th -> ENOMEM"),
	H_CASE(limit_zero, "nobody, RLIMIT_MEMLOCK 0: pin 1 byte -> ENOMEM"),
	H_CASE(raised_soft_limit, "nobody: raising the soft limit lets the next pin through"),
	H_CASE(two_files, "nobody: two files of one process share its limit"),
	H_CASE(root_ipc_lock, "root (CAP_IPC_LOCK), RLIMIT_MEMLOCK 64 KiB: pin 256 KiB -> ok, charged"),
	H_CASE(root_without_ipc_lock, "uid 0 without CAP_IPC_LOCK: past 64 KiB -> ENOMEM"),
	H_CASE(charge_before_drop, "pins made with CAP_IPC_LOCK still count after dropping it"),
	H_CASE(close_uncharges, "nobody: close returns the whole charge"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
