// SPDX-License-Identifier: GPL-2.0
/*
 * Files used from another mm: every ioctl from a forked child (or from a
 * process that received the fd over a UNIX socket) -> EACCES; such a
 * process may still close the file, and when it holds the last reference
 * its close (or exit) unpins everything and uncharges the opener.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define NPAGES 8

/* What a case sets up before forking; the child sees its copy. */
static struct {
	struct pinmgr_ctx *ctx;
	uint32_t handle;
	pid_t opener;
	int go[2];		/* parent -> child */
	int sock[2];		/* SCM_RIGHTS */
	int which;		/* for child_eacces */
} s;

/* Opens, pins NPAGES pages; returns the buffer. */
static char *open_and_pin(void)
{
	char *buf = h_anon(NPAGES * h_ps);

	s.ctx = h_open();
	s.handle = h_pin(s.ctx, buf, NPAGES * h_ps, PINMGR_PIN_WRITE);
	s.opener = getpid();
	ASSERT_VMPIN_KB(PAGES_KB(NPAGES));
	return buf;
}

static void check_parent_region(const char *buf)
{
	struct pinmgr_query q;
	struct pinmgr_stats st;

	ASSERT_OK(pinmgr_query(s.ctx, s.handle, &q, sizeof(q)));
	ASSERT_EQ(q.out_addr, (uintptr_t)buf);
	ASSERT_EQ(q.out_npages, NPAGES);
	ASSERT_OK(pinmgr_stats(s.ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 1);
	ASSERT_EQ(st.out_pins, 1);
	ASSERT_EQ(st.out_unpins, 0);
	ASSERT_VMPIN_KB(PAGES_KB(NPAGES));
}

/* ---- EACCES for each ioctl ---------------------------------------- */

enum { DO_INFO, DO_PIN, DO_UNPIN, DO_QUERY, DO_SEGMENTS, DO_STATS };

static void child_eacces(void *arg)
{
	char *buf = h_anon(h_ps);
	struct pinmgr_segment seg;
	struct pinmgr_info in;
	struct pinmgr_query q;
	struct pinmgr_stats st;
	uint32_t h = 0;

	(void)arg;
	switch (s.which) {
	case DO_INFO:
		ASSERT_ERR(pinmgr_info(s.ctx, &in, sizeof(in)), EACCES);
		break;
	case DO_PIN:
		ASSERT_ERR(pinmgr_pin(s.ctx, buf, h_ps, 0, &h), EACCES);
		ASSERT_VMPIN_KB(0);
		break;
	case DO_UNPIN:
		ASSERT_ERR(pinmgr_unpin(s.ctx, s.handle), EACCES);
		break;
	case DO_QUERY:
		ASSERT_ERR(pinmgr_query(s.ctx, s.handle, &q, sizeof(q)), EACCES);
		break;
	case DO_SEGMENTS:
		ASSERT_ERR(pinmgr_segments(s.ctx, s.handle, 0, 0, &seg, 1),
			   EACCES);
		break;
	case DO_STATS:
		ASSERT_ERR(pinmgr_stats(s.ctx, &st, sizeof(st)), EACCES);
		break;
	}
}

CASE(child_ioctl_eacces)
{
	char *buf = open_and_pin();

	s.which = *(const int *)arg;
	h_child_wait(h_child_start(child_eacces, NULL));
	check_parent_region(buf);
}

static const int do_info = DO_INFO, do_pin = DO_PIN, do_unpin = DO_UNPIN,
	do_query = DO_QUERY, do_segments = DO_SEGMENTS, do_stats = DO_STATS;

/* ---- closing in the child ----------------------------------------- */

static void child_close(void *arg)
{
	(void)arg;
	ASSERT_OK(close(pinmgr_fd(s.ctx)) ? -errno : 0);
}

CASE(child_close_keeps_parent)
{
	char *buf = open_and_pin();

	h_child_wait(h_child_start(child_close, NULL));
	check_parent_region(buf);
	ASSERT_OK(pinmgr_unpin(s.ctx, s.handle));
	ASSERT_VMPIN_KB(0);
}

/* The child waits for the parent's close, then closes (or just exits). */
static void in_child_last_ref(void *arg)
{
	struct pinmgr_info in;
	bool do_close = *(const bool *)arg;

	h_wait_fd(s.go[0]);
	/* opener still alive, but the child is not it */
	ASSERT_ERR(pinmgr_info(s.ctx, &in, sizeof(in)), EACCES);
	if (do_close)
		ASSERT_OK(close(pinmgr_fd(s.ctx)) ? -errno : 0);
}

CASE(child_last_ref)
{
	pid_t pid;

	open_and_pin();
	h_pipe(s.go);
	pid = h_child_start(in_child_last_ref, (void *)arg);
	h_close(s.ctx);
	/* the file is still open in the child: still pinned and charged */
	ASSERT_VMPIN_KB(PAGES_KB(NPAGES));
	h_signal_fd(s.go[1]);
	h_child_wait(pid);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

static const bool with_close = true, without_close;

/* ---- fdinfo from the child ---------------------------------------- */

static void in_child_fdinfo(void *arg)
{
	uint64_t v;

	(void)arg;
	ASSERT_OK(h_fdinfo_u64(pinmgr_fd(s.ctx), "pinmgr-owner-tgid", &v));
	ASSERT_EQ(v, s.opener);
	ASSERT_NE(v, getpid());
	ASSERT_OK(h_fdinfo_u64(pinmgr_fd(s.ctx), "pinmgr-regions", &v));
	ASSERT_EQ(v, 1);
	ASSERT_OK(h_fdinfo_u64(pinmgr_fd(s.ctx), "pinmgr-pinned-pages", &v));
	ASSERT_EQ(v, NPAGES);
}

CASE(child_fdinfo)
{
	open_and_pin();
	h_child_wait(h_child_start(in_child_fdinfo, NULL));
}

/* ---- SCM_RIGHTS ---------------------------------------------------- */

static void child_receiver(void *arg)
{
	struct pinmgr_info in;
	struct pinmgr_query q;
	uint64_t v;
	int fd;

	(void)arg;
	fd = h_recv_fd(s.sock[1]);
	h_wait_fd(s.go[0]);	/* the sender has closed its copy */
	memset(&in, 0, sizeof(in));
	in.size = sizeof(in);
	ASSERT_ERR(h_ioctl(fd, PINMGR_INFO, &in), EACCES);
	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.handle = s.handle;
	ASSERT_ERR(h_ioctl(fd, PINMGR_QUERY, &q), EACCES);
	ASSERT_OK(h_fdinfo_u64(fd, "pinmgr-owner-tgid", &v));
	ASSERT_EQ(v, s.opener);
	ASSERT_OK(close(fd) ? -errno : 0);
}

CASE(scm_rights_receiver_closes_last)
{
	pid_t pid;

	h_pipe(s.go);
	ASSERT_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s.sock));
	h_keep_fd(s.sock[0]);
	h_keep_fd(s.sock[1]);
	s.opener = getpid();
	/* fork first: the receiver gets the file only through the socket */
	pid = h_child_start(child_receiver, NULL);
	open_and_pin();
	h_send_fd(s.sock[0], pinmgr_fd(s.ctx));
	h_close(s.ctx);
	ASSERT_VMPIN_KB(PAGES_KB(NPAGES));
	h_signal_fd(s.go[1]);
	h_child_wait(pid);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

/* The opener (a child) sends its file here and exits; we close it last. */
static void child_opener(void *arg)
{
	(void)arg;
	open_and_pin();
	h_send_fd(s.sock[1], pinmgr_fd(s.ctx));
	/* exit with the file still in flight / received by the parent */
}

CASE(opener_exits_first)
{
	struct pinmgr_info in;
	uint64_t v;
	int fd;

	ASSERT_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s.sock));
	h_keep_fd(s.sock[0]);
	h_keep_fd(s.sock[1]);
	h_child_wait(h_child_start(child_opener, NULL));
	fd = h_keep_fd(h_recv_fd(s.sock[0]));
	ASSERT_VMPIN_KB(0);	/* charged to the dead opener, not to us */
	ASSERT_OK(h_fdinfo_u64(fd, "pinmgr-pinned-pages", &v));
	ASSERT_EQ(v, NPAGES);
	memset(&in, 0, sizeof(in));
	in.size = sizeof(in);
	ASSERT_ERR(h_ioctl(fd, PINMGR_INFO, &in), EACCES);
	h_close_fd(fd);
	h_assert_pins_balanced();
}

/* ---- a child's own file ------------------------------------------- */

static void child_own_file(void *arg)
{
	char *buf = h_anon(4 * h_ps);
	struct pinmgr_ctx *ctx = h_open();

	(void)arg;
	h_pin(ctx, buf, 4 * h_ps, 0);
	ASSERT_VMPIN_KB(PAGES_KB(4));
	h_send_fd(s.sock[1], pinmgr_fd(ctx));
	h_wait_fd(s.go[0]);	/* parent is done with it */
}

CASE(child_file_eacces_in_parent)
{
	struct pinmgr_info in;
	pid_t pid;
	int fd;

	h_pipe(s.go);
	ASSERT_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s.sock));
	h_keep_fd(s.sock[0]);
	h_keep_fd(s.sock[1]);
	pid = h_child_start(child_own_file, NULL);
	fd = h_keep_fd(h_recv_fd(s.sock[0]));
	ASSERT_VMPIN_KB(0);	/* the child's pins are charged to the child */
	memset(&in, 0, sizeof(in));
	in.size = sizeof(in);
	ASSERT_ERR(h_ioctl(fd, PINMGR_INFO, &in), EACCES);
	h_close_fd(fd);
	h_signal_fd(s.go[1]);
	h_child_wait(pid);
	h_assert_pins_balanced();
}

/* ---- CLONE_VM: same mm, different process -------------------------- */

static struct {
	int fd;
	uint32_t handle;
	int info_ret, pin_ret, unpin_ret;
	char *buf;
} cv;

static int clone_vm_child(void *arg)
{
	struct pinmgr_info in = { .size = sizeof(in) };
	struct pinmgr_pin p = { .size = sizeof(p) };
	struct pinmgr_unpin u = { .size = sizeof(u) };

	(void)arg;
	/* errno is the parent's (shared TLS); the parent is suspended */
	cv.info_ret = ioctl(cv.fd, PINMGR_INFO, &in) ? -errno : 0;
	p.addr = (uintptr_t)cv.buf;
	p.length = h_ps;
	cv.pin_ret = ioctl(cv.fd, PINMGR_PIN, &p) ? -errno : 0;
	cv.handle = p.out_handle;
	u.handle = cv.handle;
	cv.unpin_ret = ioctl(cv.fd, PINMGR_UNPIN, &u) ? -errno : 0;
	return 0;
}

CASE(clone_vm_child_ok)
{
	struct pinmgr_ctx *ctx = h_open();
	size_t stack_len = 256 * 1024;
	char *stack = h_map(stack_len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	struct pinmgr_stats st;
	pid_t pid;
	int status;

	cv.fd = h_fd(ctx);
	cv.buf = h_anon(h_ps);
	cv.info_ret = cv.pin_ret = cv.unpin_ret = 1;
	pid = clone(clone_vm_child, stack + stack_len,
		    CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	ASSERT_SYS(pid);
	ASSERT_EQ(ASSERT_SYS(waitpid(pid, &status, 0)), pid);
	ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_OK(cv.info_ret);
	ASSERT_OK(cv.pin_ret);
	ASSERT_OK(cv.unpin_ret);
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_pins, 1);
	ASSERT_EQ(st.out_unpins, 1);
}

static const struct h_case cases[] = {
	H_CASE_ARG(child_ioctl_eacces, &do_info, "forked child: INFO on the inherited fd -> EACCES"),
	H_CASE_ARG(child_ioctl_eacces, &do_pin, "forked child: PIN on the inherited fd -> EACCES, nothing charged"),
	H_CASE_ARG(child_ioctl_eacces, &do_unpin, "forked child: UNPIN of the parent's handle -> EACCES, region kept"),
	H_CASE_ARG(child_ioctl_eacces, &do_query, "forked child: QUERY -> EACCES"),
	H_CASE_ARG(child_ioctl_eacces, &do_segments, "forked child: SEGMENTS -> EACCES"),
	H_CASE_ARG(child_ioctl_eacces, &do_stats, "forked child: STATS -> EACCES"),
	H_CASE(child_close_keeps_parent, "forked child: close() of the inherited fd -> 0, parent's pins intact"),
	H_CASE_ARG(child_last_ref, &with_close, "parent closes first: pins stay until the child's close(), then VmPin 0, FOLL_PIN balanced"),
	H_CASE_ARG(child_last_ref, &without_close, "parent closes first: pins stay until the child exits, then VmPin 0, FOLL_PIN balanced"),
	H_CASE(child_fdinfo, "forked child: fdinfo of the inherited fd shows the opener's tgid"),
	H_CASE(scm_rights_receiver_closes_last, "fd sent over SCM_RIGHTS: receiver gets EACCES, its close releases everything"),
	H_CASE(opener_exits_first, "opener exits first, receiver closes last: FOLL_PIN balanced"),
	H_CASE(child_file_eacces_in_parent, "a child's file received by the parent -> EACCES, not charged to the parent"),
	H_CASE(clone_vm_child_ok, "CLONE_VM child (same mm): INFO, PIN, UNPIN -> ok"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
