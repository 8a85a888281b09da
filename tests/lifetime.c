// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetime of files and regions: close, exit and exec with pins held,
 * munmap of pinned memory, rmmod while a file is open, and the fdinfo
 * lines of a pinmgr file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static int module_refcnt(void)
{
	char buf[32] = "";
	FILE *f = fopen("/sys/module/pinmgr/refcnt", "r");

	if (!f)
		h_fail("open /sys/module/pinmgr/refcnt: %s", h_errname(errno));
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return atoi(buf);
}

CASE(close_with_pins)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(32 * h_ps);

	h_pin(ctx, buf, 16 * h_ps, 0);
	h_pin(ctx, buf + 16 * h_ps + 5, 10 * h_ps, PINMGR_PIN_WRITE);
	ASSERT_VMPIN_KB(PAGES_KB(27));
	h_close(ctx);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

CASE(close_with_many_regions)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_info in;
	char *buf = h_anon(8 * h_ps);
	uint64_t i, n = 64;

	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	if (in.out_max_regions < n)
		n = in.out_max_regions;
	for (i = 0; i < n; i++)
		h_pin(ctx, buf + (i % 8) * h_ps, h_ps, i % 2 ? PINMGR_PIN_WRITE : 0);
	ASSERT_VMPIN_KB(PAGES_KB(n));
	h_close(ctx);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

CASE(dup_closes)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	int fd2 = h_keep_fd(dup(h_fd(ctx)));

	h_pin(ctx, buf, 4 * h_ps, 0);
	h_close(ctx);
	/* the dup still references the file */
	ASSERT_VMPIN_KB(PAGES_KB(4));
	h_close_fd(fd2);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

CASE(munmap_keeps_pin)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, 4 * h_ps, PINMGR_PIN_WRITE);
	struct pinmgr_query q;

	h_unmap(buf);
	ASSERT_VMPIN_KB(PAGES_KB(4));
	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));
	ASSERT_EQ(q.out_addr, (uintptr_t)buf);
	ASSERT_EQ(q.out_npages, 4);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

CASE(munmap_then_close)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);

	h_pin(ctx, buf, 4 * h_ps, 0);
	h_unmap(buf);
	h_close(ctx);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

CASE(two_files_independent)
{
	struct pinmgr_ctx *a = h_open(), *b = h_open();
	char *buf = h_anon(8 * h_ps);
	uint32_t hb;
	struct pinmgr_query q;

	h_pin(a, buf, 3 * h_ps, 0);
	hb = h_pin(b, buf, 5 * h_ps, 0);
	ASSERT_VMPIN_KB(PAGES_KB(8));
	h_close(a);
	ASSERT_VMPIN_KB(PAGES_KB(5));
	ASSERT_OK(pinmgr_query(b, hb, &q, sizeof(q)));
	h_close(b);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

CASE(open_close_cycles)
{
	char *buf = h_anon(4 * h_ps);
	int i;

	for (i = 0; i < 200; i++) {
		struct pinmgr_ctx *ctx = h_open();

		h_pin(ctx, buf + i % 3, 2 * h_ps, i % 2 ? PINMGR_PIN_WRITE : 0);
		h_close(ctx);
	}
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

static void child_exit_with_pins(void *arg)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(16 * h_ps);

	(void)arg;
	h_pin(ctx, buf, 16 * h_ps, PINMGR_PIN_WRITE);
	h_pin(ctx, buf + 1, h_ps, 0);
	/* _exit() without closing */
}

CASE(exit_with_pins)
{
	h_child_wait(h_child_start(child_exit_with_pins, NULL));
	h_assert_pins_balanced();
}

/* The library opens O_CLOEXEC: exec drops the file and its pins. The new
 * image checks the balance itself, before its own exit could help. */
static void child_exec_with_pins(void *arg)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(16 * h_ps);
	char fdstr[16];

	(void)arg;
	h_pin(ctx, buf, 16 * h_ps, 0);
	snprintf(fdstr, sizeof(fdstr), "%d", h_fd(ctx));
	execl("/proc/self/exe", "lifetime", "--after-exec", fdstr, (char *)NULL);
	h_fail("execl /proc/self/exe: %s", h_errname(errno));
}

static int after_exec(const char *fdstr)
{
	uint64_t acq, rel;
	struct stat st;
	int ret;

	if (fstat(atoi(fdstr), &st) == 0) {
		fprintf(stderr, "after exec: fd %s is still open\n", fdstr);
		return 1;
	}
	ret = h_foll_pins(&acq, &rel);
	if (ret < 0 || acq != rel) {
		fprintf(stderr, "after exec: nr_foll_pin_acquired %llu, released %llu (%d)\n",
			(unsigned long long)acq, (unsigned long long)rel, ret);
		return 1;
	}
	return 0;
}

CASE(exec_with_pins)
{
	h_child_wait(h_child_start(child_exec_with_pins, NULL));
	h_assert_pins_balanced();
}

CASE(refcnt_follows_files)
{
	int r0 = module_refcnt();
	struct pinmgr_ctx *a = h_open(), *b = h_open();

	ASSERT_MSG(module_refcnt() >= r0 + 2, "refcnt %d with 2 more files open (was %d)",
		   module_refcnt(), r0);
	h_close(a);
	h_close(b);
	ASSERT_EQ(module_refcnt(), r0);
}

CASE(rmmod_while_open)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(4 * h_ps);
	uint32_t h = h_pin(ctx, buf, 4 * h_ps, 0);
	struct pinmgr_query q;
	struct stat st;
	long ret;

	ret = syscall(SYS_delete_module, "pinmgr", O_NONBLOCK);
	ASSERT_MSG(ret == -1 && errno == EWOULDBLOCK,
		   "delete_module(pinmgr, O_NONBLOCK) with a file open: expected -EWOULDBLOCK, got %ld%s%s",
		   ret, ret ? " errno " : "", ret ? h_errname(errno) : "");
	ASSERT_SYS(stat("/sys/module/pinmgr", &st));
	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));
	ASSERT_EQ(q.out_npages, 4);
	ASSERT_VMPIN_KB(PAGES_KB(4));
}

static uint64_t fdinfo(struct pinmgr_ctx *ctx, const char *key)
{
	uint64_t v = 0;
	char b[32];
	int ret = h_fdinfo_u64(h_fd(ctx), key, &v);

	if (ret < 0)
		h_fail("/proc/self/fdinfo/%d: \"%s:\\t<n>\": %s", h_fd(ctx), key,
		       ret == -ENOENT ? "missing" :
		       ret == -EPROTO ? "malformed" : h_retstr(b, sizeof(b), ret));
	return v;
}

CASE(fdinfo_fresh)
{
	struct pinmgr_ctx *ctx = h_open();

	ASSERT_EQ(fdinfo(ctx, "pinmgr-regions"), 0);
	ASSERT_EQ(fdinfo(ctx, "pinmgr-pinned-pages"), 0);
	ASSERT_EQ(fdinfo(ctx, "pinmgr-pinned-bytes"), 0);
	ASSERT_EQ(fdinfo(ctx, "pinmgr-owner-tgid"), getpid());
}

CASE(fdinfo_pinned)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(16 * h_ps);

	h_pin(ctx, buf, 3 * h_ps, 0);
	h_pin(ctx, buf + 4 * h_ps + 10, 4 * h_ps, PINMGR_PIN_WRITE); /* 5 */
	ASSERT_EQ(fdinfo(ctx, "pinmgr-regions"), 2);
	ASSERT_EQ(fdinfo(ctx, "pinmgr-pinned-pages"), 8);
	ASSERT_EQ(fdinfo(ctx, "pinmgr-pinned-bytes"), 8 * h_ps);
	ASSERT_EQ(fdinfo(ctx, "pinmgr-owner-tgid"), getpid());
}

CASE(fdinfo_after_unpin)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(16 * h_ps);
	uint32_t a = h_pin(ctx, buf, 3 * h_ps, 0);

	h_pin(ctx, buf + 4 * h_ps, 5 * h_ps, 0);
	ASSERT_OK(pinmgr_unpin(ctx, a));
	ASSERT_EQ(fdinfo(ctx, "pinmgr-regions"), 1);
	ASSERT_EQ(fdinfo(ctx, "pinmgr-pinned-pages"), 5);
	ASSERT_EQ(fdinfo(ctx, "pinmgr-pinned-bytes"), 5 * h_ps);
}

static const struct h_case cases[] = {
	H_CASE(close_with_pins, "close with 2 regions pinned -> VmPin 0, FOLL_PIN balanced"),
	H_CASE(close_with_many_regions, "close with 64 regions pinned -> VmPin 0, FOLL_PIN balanced"),
	H_CASE(dup_closes, "close of one dup keeps the pins, close of the last releases them"),
	H_CASE(munmap_keeps_pin, "munmap of pinned memory keeps the pin until UNPIN"),
	H_CASE(munmap_then_close, "munmap then close -> VmPin 0, FOLL_PIN balanced"),
	H_CASE(two_files_independent, "closing one file leaves another file's pins"),
	H_CASE(open_close_cycles, "200 x open, pin, close -> VmPin 0, FOLL_PIN balanced"),
	H_CASE(exit_with_pins, "process exit with pins held -> FOLL_PIN balanced"),
	H_CASE(exec_with_pins, "exec with pins held (O_CLOEXEC) -> file gone, FOLL_PIN balanced"),
	H_CASE(refcnt_follows_files, "module refcnt grows with open files, back after close"),
	H_CASE(rmmod_while_open, "delete_module(O_NONBLOCK) with a file open -> EWOULDBLOCK, module and pins stay"),
	H_CASE(fdinfo_fresh, "fdinfo of a fresh file: regions 0, pages 0, bytes 0, owner-tgid = getpid()"),
	H_CASE(fdinfo_pinned, "fdinfo with 3+5 pages pinned: regions 2, pages 8, bytes 8*ps"),
	H_CASE(fdinfo_after_unpin, "fdinfo after unpin: regions 1, pages 5, bytes 5*ps"),
};

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--after-exec"))
		return after_exec(argv[2]);
	return h_main(cases, ARRAY_SIZE(cases));
}
