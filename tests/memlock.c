// SPDX-License-Identifier: GPL-2.0
/*
 * RLIMIT_MEMLOCK accounting: pins are charged to the opener's user (and
 * shown in the opener's VmPin) and refused with ENOMEM past the limit,
 * unless the caller has CAP_IPC_LOCK. Each case runs in a child that opens
 * the device as root, lowers its limit and then (mostly) drops to uid/gid
 * 65534, which drops every capability. The escape cases check that the
 * charge stays with the user when the pinning process execs or hands its
 * file to another process and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
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


/*
 * The escapes below run as nobody, who must be able to open the device in
 * a process of its own: the node is made world-accessible for the case.
 */
static void restore_mode(void *p, size_t n)
{
	(void)p;
	chmod(PINMGR_DEFAULT_PATH, (mode_t)n);
}

static void open_device_to_all(void)
{
	struct stat st;

	ASSERT_SYS(stat(PINMGR_DEFAULT_PATH, &st));
	ASSERT_SYS(chmod(PINMGR_DEFAULT_PATH, 0666));
	h_defer(restore_mode, NULL, st.st_mode & 07777);
}

/* PIN through a raw descriptor: 0 or -errno. */
static int raw_pin(int fd, void *buf, size_t len)
{
	struct pinmgr_pin p = {
		.size = sizeof(p),
		.addr = (uintptr_t)buf,
		.length = len,
	};

	return ioctl(fd, PINMGR_PIN, &p) ? -errno : 0;
}

/*
 * After an exec (see main()): the image pins one page on a file of its own
 * while the file of the image before it, still open in @fd with 64 KiB
 * pinned, charges the same user. Exit status: 0 if that pin got ENOMEM and
 * the user had room again once @fd was closed; 10 + errno of the first pin
 * otherwise; 2 for anything else.
 */
static int exec_pin(int fd)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	void *buf = mmap(NULL, ps, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int mine = open(PINMGR_DEFAULT_PATH, O_RDWR | O_CLOEXEC);
	int ret;

	if (buf == MAP_FAILED || mine < 0)
		return 2;
	ret = raw_pin(mine, buf, ps);
	if (ret != -ENOMEM)
		return 10 + (ret < 0 ? -ret : 0);
	close(fd);
	return raw_pin(mine, buf, ps) ? 3 : 0;
}

/* Before the exec: no assertions here, the parent reads the exit status. */
static void child_exec_escape(void)
{
	struct rlimit rl = { .rlim_cur = LIMIT, .rlim_max = LIMIT };
	char fdarg[16];
	void *buf;
	int fd;

	if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgroups(0, NULL) ||
	    setgid(65534) || setuid(65534))
		_exit(4);
	buf = mmap(NULL, LIMIT, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	fd = open(PINMGR_DEFAULT_PATH, O_RDWR);	/* no O_CLOEXEC */
	if (buf == MAP_FAILED || fd < 0)
		_exit(5);
	if (raw_pin(fd, buf, LIMIT))
		_exit(6);
	snprintf(fdarg, sizeof(fdarg), "%d", fd);
	execl("/proc/self/exe", "memlock", "--exec-pin", fdarg, (char *)NULL);
	_exit(7);
}

CASE(exec_escape)
{
	int status;
	pid_t pid;

	open_device_to_all();
	pid = fork();
	ASSERT_SYS(pid);
	if (!pid)
		child_exec_escape();
	ASSERT_SYS(waitpid(pid, &status, 0));
	ASSERT_MSG(WIFEXITED(status), "exec'd child: status %#x", status);
	ASSERT_MSG(WEXITSTATUS(status) != 10,
		   "after exec, a new file pinned past the limit: the charge stayed with the old mm");
	ASSERT_MSG(WEXITSTATUS(status) < 10,
		   "after exec, 1 more page -> %s, expected ENOMEM",
		   h_errname(WEXITSTATUS(status) - 10));
	ASSERT_EQ(WEXITSTATUS(status), 0);
}

static void child_scm_escape(void *arg)
{
	int sv[2], status, fd, mine;
	char *buf;
	pid_t pid;

	(void)arg;
	set_memlock(LIMIT, LIMIT);
	drop_to_nobody();
	buf = h_anon(LIMIT);
	ASSERT_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_SYS(pid);
	if (!pid) {
		/* Pins to the limit, passes its file on and exits. */
		fd = open(PINMGR_DEFAULT_PATH, O_RDWR | O_CLOEXEC);
		if (fd < 0 || raw_pin(fd, buf, LIMIT))
			_exit(1);
		h_send_fd(sv[0], fd);
		_exit(0);
	}
	fd = h_recv_fd(sv[1]);
	ASSERT_SYS(waitpid(pid, &status, 0));
	ASSERT_MSG(WIFEXITED(status) && !WEXITSTATUS(status),
		   "the pinning child failed: status %#x", status);
	mine = open(PINMGR_DEFAULT_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_SYS(mine);
	ASSERT_VMPIN_KB(0);
	ASSERT_ERR(raw_pin(mine, buf, h_ps), ENOMEM);
	close(fd);	/* the last reference: the child's pins go */
	ASSERT_OK(raw_pin(mine, buf, h_ps));
	close(mine);
}

CASE(scm_rights_escape)
{
	open_device_to_all();
	run(child_scm_escape);
}

/*
 * A PIN over the limit must not make the same user's other pins fail while
 * it is being refused: thread A keeps asking for 1 GiB (ENOMEM each time)
 * while the main thread pins and unpins one page, which always fits.
 */
static struct {
	struct pinmgr_ctx *ctx;
	char *huge;
	atomic_bool stop;
	atomic_long refused;
} O;

static void *over_limit_pinner(void *arg)
{
	uint32_t h;
	int ret;

	(void)arg;
	while (!atomic_load(&O.stop)) {
		ret = pinmgr_pin(O.ctx, O.huge, 1UL << 30, 0, &h);
		ASSERT_MSG(ret == -ENOMEM, "1 GiB pin: %s", h_errname(-ret));
		atomic_fetch_add(&O.refused, 1);
	}
	return NULL;
}

static void child_refused_pin_concurrent(void *arg)
{
	char *buf;
	pthread_t t;
	uint32_t h;
	int i, ret, first = 0, failed = 0;

	(void)arg;
	O.ctx = setup(LIMIT, LIMIT, true);
	buf = h_anon(h_ps);
	/* Address space only: the charge is refused before any page. */
	O.huge = h_map(1UL << 30, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	atomic_store(&O.stop, false);
	atomic_store(&O.refused, 0);
	ASSERT(!pthread_create(&t, NULL, over_limit_pinner, NULL));
	for (i = 0; i < 2000; i++) {
		ret = pinmgr_pin(O.ctx, buf, h_ps, 0, &h);
		if (ret) {
			first = first ? first : ret;
			failed++;
			continue;
		}
		ASSERT_OK(pinmgr_unpin(O.ctx, h));
	}
	atomic_store(&O.stop, true);
	pthread_join(t, NULL);
	ASSERT_MSG(!failed,
		   "%d of 2000 one-page pins failed (first: %s) while another thread's 1 GiB pins were refused %ld times",
		   failed, h_errname(-first), atomic_load(&O.refused));
	ASSERT_VMPIN_KB(0);
}

CASE(refused_pin_concurrent)
{
	run(child_refused_pin_concurrent);
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
	H_CASE(refused_pin_concurrent, "nobody: 1 page pins never fail while another thread's 1 GiB pins are refused"),
	H_CASE(exec_escape, "nobody: 64 KiB pinned, exec, new file: 1 page -> ENOMEM until the old file closes"),
	H_CASE(scm_rights_escape, "nobody: a child pins 64 KiB, passes the fd and exits: 1 page -> ENOMEM until it closes"),
};

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--exec-pin"))
		return exec_pin(atoi(argv[2]));
	return h_main(cases, ARRAY_SIZE(cases));
}
