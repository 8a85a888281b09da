// SPDX-License-Identifier: GPL-2.0
/*
 * The tracepoints pinmgr:pinmgr_pin, pinmgr_unpin, pinmgr_release and
 * pinmgr_changed (the pin tracker's, named by pinmgr's Kbuild): each case
 * enables events/pinmgr/, clears the ring buffer, pins, unpins or closes,
 * reads /sys/kernel/tracing/trace (a non-consuming, non-blocking snapshot)
 * and looks for the lines of its own regions (handle, pages, bytes,
 * writable, a duration), then disables the events and clears the buffer.
 * One case reads trace_pipe instead, as a consumer would: poll() says when
 * there is something, non-blocking reads until EAGAIN take it, and what
 * was read is gone from the buffer.
 * tracefs is mounted on /sys/kernel/tracing if it is not there yet (the
 * VM's init mounts only debugfs).
 *
 * Enabling a tracepoint patches kernel text (static keys), which
 * multi-threaded TCG can leave stale on the other vCPU: the VM harness runs
 * trace* programs in a single-threaded TCG boot (tests/vm/README.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define TRACEFS		"/sys/kernel/tracing"
#define TRACEBUF	(1 << 20)
/* How long trace_pipe may take to show events already traced. */
#define PIPE_DEADLINE_MS	10000

static char tracedir[64];

static void write_file(const char *name, const char *val, int oflags)
{
	char path[128];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", tracedir, name);
	fd = open(path, O_WRONLY | oflags);
	ASSERT_MSG(fd >= 0, "open %s: %s", path, h_errname(errno));
	n = write(fd, val, strlen(val));
	close(fd);
	ASSERT_MSG(n == (ssize_t)strlen(val), "write %s to %s failed", val, path);
}

static void tracing_off(void *p, size_t n)
{
	(void)p;
	(void)n;
	write_file("events/pinmgr/enable", "0", 0);
	write_file("trace", "", O_TRUNC);
}

/* Finds tracefs (mounting it if needed), enables pinmgr's events. */
static void tracing_on(void)
{
	char path[128];
	struct stat st;

	snprintf(tracedir, sizeof(tracedir), "%s", TRACEFS);
	if (stat(TRACEFS "/events", &st) &&
	    mount("nodev", TRACEFS, "tracefs", 0, NULL)) {
		snprintf(tracedir, sizeof(tracedir), "/sys/kernel/debug/tracing");
		if (stat("/sys/kernel/debug/tracing/events", &st))
			h_skip("no tracefs at " TRACEFS " or under debugfs");
	}
	snprintf(path, sizeof(path), "%s/events/pinmgr", tracedir);
	ASSERT_MSG(!stat(path, &st), "%s: %s (module without tracepoints?)",
		   path, h_errname(errno));
	write_file("trace", "", O_TRUNC);
	write_file("events/pinmgr/enable", "1", 0);
	h_defer(tracing_off, NULL, 0);
}

/* The trace buffer, NUL-terminated, freed after the case. */
static char *read_trace(void)
{
	char path[128];
	char *buf = h_malloc(TRACEBUF);
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/trace", tracedir);
	fd = open(path, O_RDONLY);
	ASSERT_MSG(fd >= 0, "open %s: %s", path, h_errname(errno));
	while (len < TRACEBUF - 1 &&
	       (n = read(fd, buf + len, TRACEBUF - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	return buf;
}

/*
 * The one line of event @ev for @handle/@pages/@bytes/@writable; checks its
 * duration is a number (> 0 if @timed). Fails unless exactly one matches.
 */
static void expect_event(const char *trace, const char *ev, uint32_t handle,
			 unsigned long pages, uint64_t bytes, int writable,
			 bool timed)
{
	char want[160];
	const char *p = trace, *hit = NULL;
	int count = 0;
	unsigned long long dur;
	char *end;

	snprintf(want, sizeof(want),
		 "%s: handle=%u pages=%lu bytes=%" PRIu64 " writable=%d duration_ns=",
		 ev, handle, pages, bytes, writable);
	while ((p = strstr(p, want))) {
		hit = p;
		count++;
		p++;
	}
	ASSERT_MSG(count == 1, "%d lines with \"%s\" in the trace:\n%s", count,
		   want, trace);
	errno = 0;
	dur = strtoull(hit + strlen(want), &end, 10);
	ASSERT_MSG(end != hit + strlen(want) && !errno, "%s: bad duration_ns", ev);
	if (timed)
		ASSERT_MSG(dur > 0, "%s: duration_ns=0", ev);
}

static void expect_none(const char *trace, const char *ev)
{
	ASSERT_MSG(!strstr(trace, ev), "unexpected %s in the trace:\n%s", ev,
		   trace);
}

CASE(pin_unpin)
{
	struct pinmgr_ctx *ctx;
	char *p = h_anon(8 * h_ps);
	uint32_t hw, hr;
	char *t;

	tracing_on();
	ctx = h_open();
	hw = h_pin(ctx, p + 10, 7 * h_ps - 20, PINMGR_PIN_WRITE);
	hr = h_pin(ctx, p, 5 * h_ps, 0);
	t = read_trace();
	expect_event(t, "pinmgr_pin", hw, 7, 7 * h_ps - 20, 1, true);
	expect_event(t, "pinmgr_pin", hr, 5, 5 * h_ps, 0, true);
	expect_none(t, "pinmgr_unpin");
	expect_none(t, "pinmgr_release");

	ASSERT_OK(pinmgr_unpin(ctx, hw));
	t = read_trace();
	expect_event(t, "pinmgr_unpin", hw, 7, 7 * h_ps - 20, 1, true);
	expect_event(t, "pinmgr_release", hw, 7, 7 * h_ps - 20, 1, true);
	ASSERT_ERR(pinmgr_unpin(ctx, hw), ENOENT);
	t = read_trace();
	expect_event(t, "pinmgr_unpin", hw, 7, 7 * h_ps - 20, 1, true);
}

CASE(close_releases)
{
	struct pinmgr_ctx *ctx;
	char *p = h_anon(8 * h_ps);
	uint32_t h1, h2;
	char *t;

	tracing_on();
	ctx = h_open();
	h1 = h_pin(ctx, p, 3 * h_ps, PINMGR_PIN_WRITE);
	h2 = h_pin(ctx, p + 3 * h_ps, 2 * h_ps, 0);
	h_close(ctx);
	t = read_trace();
	/* Close releases every region without an unpin event. */
	expect_none(t, "pinmgr_unpin");
	expect_event(t, "pinmgr_release", h1, 3, 3 * h_ps, 1, true);
	expect_event(t, "pinmgr_release", h2, 2, 2 * h_ps, 0, true);
}

CASE(failed_pin_silent)
{
	struct pinmgr_ctx *ctx;
	char *p = h_map(2 * h_ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *t;

	tracing_on();
	ctx = h_open();
	ASSERT_ERR(pinmgr_pin(ctx, p, 2 * h_ps, 0, &(uint32_t){ 0 }), EFAULT);
	t = read_trace();
	expect_none(t, "pinmgr_pin");
	expect_none(t, "pinmgr_release");
}

CASE(changed)
{
	struct pinmgr_ctx *ctx;
	char *p = h_anon(8 * h_ps);
	char want[160];
	struct pinmgr_info in;
	uint32_t h;
	char *t;

	tracing_on();
	ctx = h_open();
	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	if (!(in.out_caps & PINMGR_CAP_EVENTS))
		h_skip("no PINMGR_CAP_EVENTS (kernel without CONFIG_MMU_NOTIFIER)");
	h = h_pin(ctx, p, 8 * h_ps, PINMGR_PIN_WRITE);
	ASSERT_SYS(madvise(p + 2 * h_ps, 3 * h_ps, MADV_DONTNEED));
	t = read_trace();
	/* MMU_NOTIFY_CLEAR is 1: kind BIT(1). */
	snprintf(want, sizeof(want),
		 "pinmgr_changed: handle=%u kind=0x2 start=0x%lx end=0x%lx", h,
		 (unsigned long)(p + 2 * h_ps), (unsigned long)(p + 5 * h_ps));
	ASSERT_MSG(strstr(t, want), "no \"%s\" in the trace:\n%s", want, t);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * Appends what trace_pipe @fd (O_NONBLOCK) holds to @buf (@len bytes so
 * far, NUL-terminated), reading until EAGAIN: whole lines, consumed.
 */
static void drain_pipe(int fd, char *buf, size_t *len)
{
	ssize_t n;

	for (;;) {
		ASSERT_MSG(*len < TRACEBUF - 1, "trace_pipe: more than %d bytes",
			   TRACEBUF);
		n = read(fd, buf + *len, TRACEBUF - 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ASSERT_MSG(errno == EAGAIN, "read trace_pipe: %s",
				   h_errname(errno));
			break;
		}
		ASSERT_MSG(n > 0, "read trace_pipe: EOF");
		*len += n;
	}
	buf[*len] = 0;
}

CASE(pipe_consumes)
{
	struct pinmgr_ctx *ctx;
	char *p = h_anon(8 * h_ps);
	char *buf = h_malloc(TRACEBUF);
	char path[128], want[3][160];
	struct pollfd pfd;
	long long deadline;
	size_t len = 0;
	uint32_t h;
	int i, n, seen;
	char *t;

	tracing_on();
	snprintf(path, sizeof(path), "%s/trace_pipe", tracedir);
	pfd.fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_MSG(pfd.fd >= 0, "open %s: %s", path, h_errname(errno));
	h_keep_fd(pfd.fd);
	pfd.events = POLLIN;
	/* The buffer was just cleared: nothing to read, poll() says so. */
	drain_pipe(pfd.fd, buf, &len);
	ASSERT_MSG(len == 0, "trace_pipe not empty after clearing:\n%s", buf);
	ASSERT_EQ(poll(&pfd, 1, 0), 0);

	ctx = h_open();
	h = h_pin(ctx, p + 100, 6 * h_ps, PINMGR_PIN_WRITE);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	snprintf(want[0], sizeof(want[0]), "pinmgr_pin: handle=%u pages=7 ", h);
	snprintf(want[1], sizeof(want[1]), "pinmgr_unpin: handle=%u pages=7 ", h);
	snprintf(want[2], sizeof(want[2]), "pinmgr_release: handle=%u pages=7 ", h);

	/*
	 * Read as a consumer does: whatever is there, then poll() until
	 * more comes, until all three are there or the deadline passes.
	 */
	deadline = now_ms() + h_bound_ms(PIPE_DEADLINE_MS);
	for (;;) {
		drain_pipe(pfd.fd, buf, &len);
		for (seen = 0, i = 0; i < 3; i++)
			seen += !!strstr(buf, want[i]);
		if (seen == 3)
			break;
		ASSERT_MSG(now_ms() < deadline,
			   "%d of 3 events in trace_pipe after %d ms:\n%s", seen,
			   h_bound_ms(PIPE_DEADLINE_MS), buf);
		n = poll(&pfd, 1, (int)(deadline - now_ms() > 0 ?
					deadline - now_ms() : 0));
		ASSERT_MSG(n >= 0 || errno == EINTR, "poll trace_pipe: %s",
			   h_errname(errno));
	}
	expect_event(buf, "pinmgr_pin", h, 7, 6 * h_ps, 1, true);
	expect_event(buf, "pinmgr_unpin", h, 7, 6 * h_ps, 1, true);
	expect_event(buf, "pinmgr_release", h, 7, 6 * h_ps, 1, true);
	/*
	 * In order: the pin, then the release, then the unpin, whose
	 * duration covers the release it did (module/pin_tracker/pin_trace.h).
	 */
	ASSERT_MSG(strstr(buf, want[0]) < strstr(buf, want[2]) &&
		   strstr(buf, want[2]) < strstr(buf, want[1]),
		   "events out of order in trace_pipe:\n%s", buf);

	/* Read means consumed: the pipe is empty, the snapshot too. */
	len = 0;
	drain_pipe(pfd.fd, buf, &len);
	ASSERT_MSG(len == 0, "trace_pipe has more:\n%s", buf);
	ASSERT_EQ(poll(&pfd, 1, 0), 0);
	t = read_trace();
	expect_none(t, "pinmgr_");
}

static const struct h_case cases[] = {
	H_CASE(pin_unpin,
	       "pinmgr:pin for each PIN; UNPIN -> pinmgr:unpin + pinmgr:release, once"),
	H_CASE(close_releases, "close -> pinmgr:release per region, no pinmgr:unpin"),
	H_CASE(failed_pin_silent, "a failed PIN traces nothing"),
	H_CASE(changed, "MADV_DONTNEED of 3 pinned pages -> pinmgr:pinmgr_changed kind CLEAR, range"),
	H_CASE(pipe_consumes,
	       "trace_pipe: poll()+read until EAGAIN get PIN/UNPIN's 3 events, in order; read consumes"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
