// SPDX-License-Identifier: GPL-2.0
/*
 * The tracepoints pinmgr:pin, pinmgr:unpin, pinmgr:release and
 * pinmgr:diverged: each case
 * enables events/pinmgr/, clears the ring buffer, pins, unpins or closes,
 * reads /sys/kernel/tracing/trace (a non-consuming, non-blocking snapshot)
 * and looks for the lines of its own regions (handle, pages, bytes,
 * writable, a duration), then disables the events and clears the buffer.
 * tracefs is mounted on /sys/kernel/tracing if it is not there yet (the
 * VM's init mounts only debugfs).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define TRACEFS		"/sys/kernel/tracing"
#define TRACEBUF	(1 << 20)

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

CASE(diverged)
{
	struct pinmgr_ctx *ctx;
	char *p = h_anon(8 * h_ps);
	char want[160];
	struct pinmgr_info in;
	uint32_t h;
	char *t;

	tracing_on();
	ctx = h_open();
	ASSERT_OK(pinmgr_info(ctx, &in));
	if (!(in.out_caps & PINMGR_CAP_EVENTS))
		h_skip("no PINMGR_CAP_EVENTS (kernel without CONFIG_MMU_NOTIFIER)");
	h = h_pin(ctx, p, 8 * h_ps, PINMGR_PIN_WRITE);
	ASSERT_SYS(madvise(p + 2 * h_ps, 3 * h_ps, MADV_DONTNEED));
	t = read_trace();
	/* MMU_NOTIFY_CLEAR is 1: kind BIT(1). */
	snprintf(want, sizeof(want),
		 "pinmgr_diverged: handle=%u kind=0x2 start=0x%lx end=0x%lx", h,
		 (unsigned long)(p + 2 * h_ps), (unsigned long)(p + 5 * h_ps));
	ASSERT_MSG(strstr(t, want), "no \"%s\" in the trace:\n%s", want, t);
}

static const struct h_case cases[] = {
	H_CASE(pin_unpin,
	       "pinmgr:pin for each PIN; UNPIN -> pinmgr:unpin + pinmgr:release, once"),
	H_CASE(close_releases, "close -> pinmgr:release per region, no pinmgr:unpin"),
	H_CASE(failed_pin_silent, "a failed PIN traces nothing"),
	H_CASE(diverged, "MADV_DONTNEED of 3 pinned pages -> pinmgr:diverged kind CLEAR, range"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
