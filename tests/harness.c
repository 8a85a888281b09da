// SPDX-License-Identifier: GPL-2.0
/*
 * TAP harness and shared helpers of the pinmgr test programs; see
 * harness.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <mntent.h>
#include <linux/capability.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define CASE_TIMEOUT_S	60	/* per case; the VM kills a program at 120 s */
#define CHILD_SKIP_EXIT	77

size_t h_ps;

enum { H_PASS, H_FAIL, H_SKIP };
enum { PHASE_OUTSIDE, PHASE_CASE, PHASE_CLEANUP };

static pid_t main_pid;
static int child_msg_fd = -1;		/* in a child: where reasons go */
static int phase = PHASE_OUTSIDE;
static sigjmp_buf case_jmp, cleanup_jmp;
static int case_status;
static char case_reason[1200];
static char timeout_line[512];

static pthread_mutex_t thread_lock = PTHREAD_MUTEX_INITIALIZER;
static char thread_reason[1024];
static bool thread_failed;

struct deferred {
	void (*fn)(void *p, size_t n);
	void *p;
	size_t n;
	bool live;
};
static struct deferred *defers;
static size_t ndefers, cap_defers;

struct child {
	pid_t pid;
	int msg_fd;
};
#define MAX_CHILDREN 64
static struct child children[MAX_CHILDREN];
static size_t nchildren;

/* ---- reporting ---------------------------------------------------- */

const char *h_errname(int err)
{
	static __thread char buf[16];
	const char *name = strerrorname_np(err);

	if (name)
		return name;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

const char *h_retstr(char *buf, size_t len, long long ret)
{
	if (ret < 0 && ret > -4096)
		snprintf(buf, len, "-%s", h_errname((int)-ret));
	else
		snprintf(buf, len, "%lld", ret);
	return buf;
}

bool h_in_child(void)
{
	return getpid() != main_pid;
}

static bool in_thread(void)
{
	return gettid() != getpid();
}

static void sanitize(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static __thread sigjmp_buf *thread_jmp;

static __attribute__((noreturn)) void finish(int status, const char *msg)
{
	if (h_in_child()) {
		if (child_msg_fd >= 0 &&
		    write(child_msg_fd, msg, strlen(msg)) < 0) {
			/* nothing more we can do */
		}
		_exit(status == H_SKIP ? CHILD_SKIP_EXIT : 1);
	}
	if (in_thread()) {
		pthread_mutex_lock(&thread_lock);
		if (!thread_failed) {
			thread_failed = true;
			snprintf(thread_reason, sizeof(thread_reason), "%s%s",
				 status == H_SKIP ? "SKIP " : "", msg);
		}
		pthread_mutex_unlock(&thread_lock);
		if (thread_jmp)
			siglongjmp(*thread_jmp, 1);
		pthread_exit(NULL);
	}
	switch (phase) {
	case PHASE_CASE:
		case_status = status;
		snprintf(case_reason, sizeof(case_reason), "%s", msg);
		siglongjmp(case_jmp, 1);
	case PHASE_CLEANUP:
		if (case_status != H_FAIL) {
			case_status = H_FAIL;
			snprintf(case_reason, sizeof(case_reason),
				 "cleanup: %s", msg);
		}
		siglongjmp(cleanup_jmp, 1);
	default:
		printf("Bail out! %s\n", msg);
		exit(1);
	}
}

void h_fail_at(const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "%s:%d: ", base_name(file), line);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	sanitize(msg);
	finish(H_FAIL, msg);
}

void h_skip(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sanitize(msg);
	finish(H_SKIP, msg);
}

void h_diag(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sanitize(msg);
	printf("# %s\n", msg);
	fflush(stdout);
}

const char *h_thread_failure(void)
{
	const char *ret;

	pthread_mutex_lock(&thread_lock);
	ret = thread_failed ? thread_reason : NULL;
	pthread_mutex_unlock(&thread_lock);
	return ret;
}

/* ---- threads ------------------------------------------------------ */

struct thread_start {
	void *(*fn)(void *);
	void *arg;
};

static void *thread_trampoline(void *p)
{
	struct thread_start ts = *(struct thread_start *)p;
	sigjmp_buf jb;
	void *ret = NULL;

	free(p);
	if (!sigsetjmp(jb, 0)) {
		thread_jmp = &jb;
		ret = ts.fn(ts.arg);
	}
	thread_jmp = NULL;
	return ret;
}

int h_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
	struct thread_start *ts = malloc(sizeof(*ts));
	int ret;

	if (!ts)
		return ENOMEM;
	ts->fn = fn;
	ts->arg = arg;
	ret = pthread_create(t, NULL, thread_trampoline, ts);
	if (ret)
		free(ts);
	return ret;
}

/* ---- cleanups ----------------------------------------------------- */

void h_defer(void (*fn)(void *p, size_t n), void *p, size_t n)
{
	if (in_thread() || h_in_child())
		return;		/* only the main process's cases clean up */
	if (ndefers == cap_defers) {
		size_t nc = cap_defers ? 2 * cap_defers : 64;
		struct deferred *nd = realloc(defers, nc * sizeof(*nd));

		if (!nd) {
			fn(p, n);
			h_fail("out of memory for cleanups");
		}
		defers = nd;
		cap_defers = nc;
	}
	defers[ndefers++] = (struct deferred){ fn, p, n, true };
}

void h_undefer(void *p)
{
	size_t i;

	for (i = ndefers; i-- > 0;) {
		if (defers[i].live && defers[i].p == p) {
			defers[i].live = false;
			defers[i].fn(p, defers[i].n);
			return;
		}
	}
}

static void run_cleanups(void)
{
	phase = PHASE_CLEANUP;
	while (ndefers > 0) {
		struct deferred d = defers[--ndefers];

		if (!d.live)
			continue;
		if (!sigsetjmp(cleanup_jmp, 1))
			d.fn(d.p, d.n);
	}
}

static void reap_children(void)
{
	size_t i;

	for (i = 0; i < nchildren; i++) {
		kill(children[i].pid, SIGKILL);
		while (waitpid(children[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(children[i].msg_fd);
	}
	nchildren = 0;
}

/* ---- resources ---------------------------------------------------- */

static void close_ctx(void *p, size_t n)
{
	(void)n;
	pinmgr_close(p);
}

struct pinmgr_ctx *h_open(void)
{
	struct pinmgr_ctx *ctx;
	char b[32];
	int ret;

	ret = pinmgr_open(&ctx);
	if (ret < 0)
		h_fail("pinmgr_open(%s): %s", PINMGR_DEFAULT_PATH,
		       h_retstr(b, sizeof(b), ret));
	h_defer(close_ctx, ctx, 0);
	return ctx;
}

void h_close(struct pinmgr_ctx *ctx)
{
	h_undefer(ctx);
}

int h_fd(struct pinmgr_ctx *ctx)
{
	return pinmgr_fd(ctx);
}

static void unmap(void *p, size_t n)
{
	munmap(p, n);
}

void *h_map(size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	if (p == MAP_FAILED)
		h_fail("mmap(%zu bytes, prot %#x, flags %#x): %s", len, prot,
		       flags, h_errname(errno));
	h_defer(unmap, p, len);
	return p;
}

void *h_anon(size_t len)
{
	void *p = h_map(len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	memset(p, 0x5a, len);
	return p;
}

void *h_anon_untouched(size_t len)
{
	void *p = h_map(len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

void *h_memfd_aliases(size_t chunk, size_t n)
{
	int fd = h_keep_fd(memfd_create("aliases", MFD_CLOEXEC));
	char *base;
	size_t i;

	if (ftruncate(fd, (off_t)chunk))
		h_fail("ftruncate: %s", h_errname(errno));
	base = h_map(chunk * n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < n; i++)
		if (mmap(base + i * chunk, chunk, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
			h_fail("mmap of alias %zu: %s", i, h_errname(errno));
	return base;
}

void h_keep_map(void *p, size_t len)
{
	h_defer(unmap, p, len);
}

void h_unmap(void *p)
{
	h_undefer(p);
}

static void close_fd(void *p, size_t n)
{
	(void)n;
	close((int)(intptr_t)p);
}

int h_keep_fd(int fd)
{
	if (fd < 0)
		h_fail("h_keep_fd(%d)", fd);
	h_defer(close_fd, (void *)(intptr_t)fd, 0);
	return fd;
}

void h_close_fd(int fd)
{
	h_undefer((void *)(intptr_t)fd);
}

static void free_mem(void *p, size_t n)
{
	(void)n;
	free(p);
}

void *h_malloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p)
		h_fail("out of memory (%zu bytes)", n);
	h_defer(free_mem, p, n);
	return p;
}

/* ---- ioctl helpers ------------------------------------------------ */

int h_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

int h_pin_raw(struct pinmgr_ctx *ctx, const void *addr, uint64_t len,
	      uint32_t flags, struct pinmgr_pin *out)
{
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	out->flags = flags;
	out->addr = (uintptr_t)addr;
	out->length = len;
	return h_ioctl(pinmgr_fd(ctx), PINMGR_PIN, out);
}

uint32_t h_pin(struct pinmgr_ctx *ctx, const void *addr, uint64_t len,
	       uint32_t flags)
{
	uint32_t handle = 0;

	ASSERT_OK(pinmgr_pin(ctx, addr, len, flags, &handle));
	ASSERT_NE(handle, 0);
	return handle;
}

/* ---- /proc and /sys ----------------------------------------------- */

int h_read_file(const char *path, char *buf, size_t len)
{
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (off + 1 < len) {
		ssize_t n = read(fd, buf + off, len - 1 - off);

		if (n < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			close(fd);
			return -err;
		}
		if (n == 0)
			break;
		off += n;
	}
	buf[off] = '\0';
	close(fd);
	return 0;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	return (size_t)n == strlen(s) ? 0 : -EIO;
}

long h_vmpin_kb(void)
{
	static char buf[16384];	/* main thread only */
	char *p;

	if (h_read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "\nVmPin:");
	if (!p)
		return -1;
	return strtol(p + strlen("\nVmPin:"), NULL, 10);
}

static int vmstat_value(const char *buf, const char *key, uint64_t *val)
{
	size_t klen = strlen(key);
	const char *p = buf;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ' ') {
			*val = strtoull(p + klen + 1, NULL, 10);
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ENOENT;
}

int h_foll_pins(uint64_t *acquired, uint64_t *released)
{
	static char buf[65536];
	int ret;

	ret = write_file("/proc/sys/vm/stat_refresh", "1\n");
	if (ret < 0)
		return ret;
	ret = h_read_file("/proc/vmstat", buf, sizeof(buf));
	if (ret < 0)
		return ret;
	ret = vmstat_value(buf, "nr_foll_pin_acquired", acquired);
	if (!ret)
		ret = vmstat_value(buf, "nr_foll_pin_released", released);
	return ret;
}

void h_assert_pins_balanced(void)
{
	uint64_t acq, rel;
	int ret = h_foll_pins(&acq, &rel);
	char b[32];

	if (ret < 0)
		h_fail("cannot read nr_foll_pin_* from /proc/vmstat: %s",
		       h_retstr(b, sizeof(b), ret));
	if (acq != rel)
		h_fail("/proc/vmstat: nr_foll_pin_acquired %" PRIu64
		       " != nr_foll_pin_released %" PRIu64
		       " (%" PRId64 " pins outstanding)",
		       acq, rel, (int64_t)(acq - rel));
}

int h_fdinfo_u64(int fd, const char *key, uint64_t *val)
{
	char path[64], buf[4096], *p, *end;
	size_t klen = strlen(key);
	int ret;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	ret = h_read_file(path, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, klen) || p[klen] != ':')
			continue;
		p += klen + 1;
		if (*p != '\t' || p[1] < '0' || p[1] > '9')
			return -EPROTO;
		errno = 0;
		*val = strtoull(p + 1, &end, 10);
		if (errno || (*end != '\n' && *end != '\0'))
			return -EPROTO;
		return 0;
	}
	return -ENOENT;
}

int h_param_read(const char *name, uint64_t *val)
{
	char path[256], buf[64], *end;
	int ret;

	snprintf(path, sizeof(path), "/sys/module/pinmgr/parameters/%s", name);
	ret = h_read_file(path, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	/* bool parameters read Y or N */
	if ((buf[0] == 'Y' || buf[0] == 'N') && (buf[1] == '\n' || !buf[1])) {
		*val = buf[0] == 'Y';
		return 0;
	}
	errno = 0;
	*val = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return -EPROTO;
	return 0;
}

int h_param_write(const char *name, uint64_t val)
{
	char path[256], buf[32];

	snprintf(path, sizeof(path), "/sys/module/pinmgr/parameters/%s", name);
	snprintf(buf, sizeof(buf), "%" PRIu64 "\n", val);
	return write_file(path, buf);
}

struct saved_param {
	char name[64];
	uint64_t val;
};

static void restore_param(void *p, size_t n)
{
	struct saved_param *sp = p;
	char b[32];
	int ret;

	(void)n;
	ret = h_param_write(sp->name, sp->val);
	if (ret < 0)
		h_fail("restoring parameter %s=%" PRIu64 ": %s", sp->name,
		       sp->val, h_retstr(b, sizeof(b), ret));
	free(sp);
}

void h_param_set_for_case(const char *name, uint64_t val)
{
	struct saved_param *sp = calloc(1, sizeof(*sp));
	char b[32];
	int ret;

	if (!sp)
		h_fail("out of memory");
	snprintf(sp->name, sizeof(sp->name), "%s", name);
	ret = h_param_read(name, &sp->val);
	if (ret < 0) {
		free(sp);
		h_fail("reading parameter %s: %s", name,
		       h_retstr(b, sizeof(b), ret));
	}
	h_defer(restore_param, sp, 0);
	ret = h_param_write(name, val);
	if (ret < 0)
		h_fail("setting parameter %s=%" PRIu64 ": %s", name, val,
		       h_retstr(b, sizeof(b), ret));
}

/* ---- pagemap and segments ----------------------------------------- */

static void pagemap_read(const void *addr, size_t npages, uint64_t *ent)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = (uintptr_t)addr / h_ps * sizeof(uint64_t);
	ssize_t n;

	if (fd < 0)
		h_fail("open /proc/self/pagemap: %s", h_errname(errno));
	n = pread(fd, ent, npages * sizeof(uint64_t), off);
	close(fd);
	if (n != (ssize_t)(npages * sizeof(uint64_t)))
		h_fail("pread /proc/self/pagemap: %zd", n);
}

#define PM_PRESENT	(1ULL << 63)
#define PM_PFN_MASK	((1ULL << 55) - 1)

uint64_t h_pagemap_pfn(const void *addr)
{
	uint64_t ent;

	pagemap_read(addr, 1, &ent);
	return (ent & PM_PRESENT) ? ent & PM_PFN_MASK : 0;
}

#define PM_FILE		(1ULL << 61)

bool h_pagemap_file(const void *addr)
{
	uint64_t ent;

	pagemap_read(addr, 1, &ent);
	return (ent & PM_PRESENT) && (ent & PM_FILE);
}

size_t h_expected_segments(const void *addr, uint64_t len,
			   struct pinmgr_segment **segsp)
{
	uintptr_t first = (uintptr_t)addr & ~(uintptr_t)(h_ps - 1);
	size_t npages = ((uintptr_t)addr + len - first + h_ps - 1) / h_ps;
	uint64_t *ent = h_malloc(npages * sizeof(*ent));
	struct pinmgr_segment *segs = h_malloc(npages * sizeof(*segs));
	size_t i, n = 0;
	uint64_t prev = 0;

	pagemap_read((void *)first, npages, ent);
	for (i = 0; i < npages; i++) {
		uint64_t pfn = ent[i] & PM_PFN_MASK;

		if (!(ent[i] & PM_PRESENT))
			h_fail("page %zu of the region is not present in pagemap",
			       i);
		if (!pfn)
			h_skip("/proc/self/pagemap hides PFNs (no CAP_SYS_ADMIN?)");
		if (n && pfn == prev + 1) {
			segs[n - 1].length += h_ps;
		} else {
			segs[n].offset = i * h_ps;
			segs[n].length = h_ps;
			segs[n].phys = pfn * h_ps;
			n++;
		}
		prev = pfn;
	}
	*segsp = segs;
	return n;
}

size_t h_read_segments(struct pinmgr_ctx *ctx, uint32_t handle,
		       uint32_t flags, size_t capacity,
		       struct pinmgr_segment **segsp)
{
	struct pinmgr_query q;
	struct pinmgr_segments r;
	struct pinmgr_segment *segs;
	uint64_t total, start = 0;

	ASSERT_OK(pinmgr_query(ctx, handle, &q, sizeof(q)));
	total = q.out_nsegs;
	segs = h_malloc((total + capacity) * sizeof(*segs));
	for (;;) {
		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		r.flags = flags;
		r.handle = handle;
		r.start = start;
		r.capacity = capacity;
		r.segs = (uintptr_t)(segs + start);
		ASSERT_OK(h_ioctl(pinmgr_fd(ctx), PINMGR_SEGMENTS, &r));
		ASSERT_EQ(r.out_total, total);
		ASSERT_MSG(r.out_count <= capacity,
			   "SEGMENTS start %" PRIu64 " capacity %zu: out_count %llu > capacity",
			   start, capacity, (unsigned long long)r.out_count);
		if (start == total) {
			ASSERT_EQ(r.out_count, 0);
			break;
		}
		ASSERT_MSG(r.out_count > 0 && r.out_count <= total - start,
			   "SEGMENTS start %" PRIu64 " of %" PRIu64 " capacity %zu: out_count %llu",
			   start, total, capacity,
			   (unsigned long long)r.out_count);
		start += r.out_count;
	}
	*segsp = segs;
	return total;
}

void h_check_segments_cover(const struct pinmgr_segment *segs, size_t n,
			    uint64_t npages)
{
	uint64_t off = 0;
	size_t i;

	ASSERT_MSG(n >= 1 && n <= npages, "%zu segments for %" PRIu64 " pages",
		   n, npages);
	for (i = 0; i < n; i++) {
		ASSERT_MSG(segs[i].offset == off,
			   "segment %zu: offset %llu, expected %" PRIu64, i,
			   (unsigned long long)segs[i].offset, off);
		ASSERT_MSG(segs[i].length && segs[i].length % h_ps == 0,
			   "segment %zu: length %llu is not a non-zero page multiple",
			   i, (unsigned long long)segs[i].length);
		off += segs[i].length;
	}
	ASSERT_MSG(off == npages * h_ps,
		   "segments cover %" PRIu64 " bytes, expected %" PRIu64 " pages",
		   off, npages);
}

/* ---- capabilities ------------------------------------------------- */

static void caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};

	if (syscall(SYS_capget, &hdr, data))
		h_fail("capget: %s", h_errname(errno));
}

bool h_cap_has(int cap)
{
	struct __user_cap_data_struct data[2];

	caps_get(data);
	return data[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap);
}

void h_cap_drop(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	caps_get(data);
	data[CAP_TO_INDEX(cap)].effective &= ~CAP_TO_MASK(cap);
	data[CAP_TO_INDEX(cap)].permitted &= ~CAP_TO_MASK(cap);
	data[CAP_TO_INDEX(cap)].inheritable &= ~CAP_TO_MASK(cap);
	if (syscall(SYS_capset, &hdr, data))
		h_fail("capset: %s", h_errname(errno));
	if (h_cap_has(cap))
		h_fail("capability %d still effective after capset", cap);
}

/* ---- children and pipes ------------------------------------------- */

pid_t h_child_start(void (*fn)(void *arg), void *arg)
{
	int p[2];
	pid_t pid;

	if (nchildren == MAX_CHILDREN)
		h_fail("too many children");
	if (pipe2(p, O_CLOEXEC))
		h_fail("pipe2: %s", h_errname(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		h_fail("fork: %s", h_errname(errno));
	}
	if (pid == 0) {
		close(p[0]);
		child_msg_fd = p[1];
		nchildren = 0;	/* this child's own children */
		ndefers = 0;	/* the parent's cleanups are not ours */
		fn(arg);
		_exit(0);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	children[nchildren++] = (struct child){ pid, p[0] };
	return pid;
}

void h_child_wait(pid_t pid)
{
	char msg[1024], why[1100];
	ssize_t n;
	size_t i;
	int st;

	for (i = 0; i < nchildren && children[i].pid != pid; i++)
		;
	if (i == nchildren)
		h_fail("h_child_wait: %d is not a running child", (int)pid);
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			h_fail("waitpid(%d): %s", (int)pid, h_errname(errno));
	}
	n = read(children[i].msg_fd, msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(children[i].msg_fd);
	children[i] = children[--nchildren];

	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return;
	if (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_SKIP_EXIT)
		h_skip("%s", msg);
	/* the child's reason already says where it failed */
	if (WIFEXITED(st))
		snprintf(why, sizeof(why), "child exited with %d: %s",
			 WEXITSTATUS(st), msg[0] ? msg : "(no reason given)");
	else
		snprintf(why, sizeof(why), "child killed by signal %s%s%s",
			 sigabbrev_np(WTERMSIG(st)) ?: "?", msg[0] ? ": " : "",
			 msg);
	sanitize(why);
	finish(H_FAIL, why);
}

void h_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC))
		h_fail("pipe2: %s", h_errname(errno));
	h_keep_fd(fds[0]);
	h_keep_fd(fds[1]);
}

void h_signal_fd(int fd)
{
	char c = 'x';

	while (write(fd, &c, 1) != 1) {
		if (errno != EINTR)
			h_fail("write to sync pipe: %s", h_errname(errno));
	}
}

void h_wait_fd(int fd)
{
	char c;
	ssize_t n;

	while ((n = read(fd, &c, 1)) != 1) {
		if (n == 0)
			h_fail("sync pipe closed by the other side");
		if (errno != EINTR)
			h_fail("read from sync pipe: %s", h_errname(errno));
	}
}

/* ---- temporary filesystems ---------------------------------------- */

struct tmpdir {
	char path[128];
	bool mounted;
};

static void drop_tmpdir(void *p, size_t n)
{
	struct tmpdir *t = p;

	(void)n;
	if (t->mounted)
		umount2(t->path, MNT_DETACH);
	rmdir(t->path);
	free(t);
}

const char *h_mount_tmp(const char *fstype)
{
	static const char *const bases[] = { "/tmp", "/run", "/dev/shm", "/" };
	struct tmpdir *t = calloc(1, sizeof(*t));
	size_t i;

	if (!t)
		h_fail("out of memory");
	for (i = 0; i < ARRAY_SIZE(bases); i++) {
		snprintf(t->path, sizeof(t->path), "%s/pinmgr-test-XXXXXX",
			 strcmp(bases[i], "/") ? bases[i] : "");
		if (mkdtemp(t->path))
			break;
	}
	if (i == ARRAY_SIZE(bases)) {
		free(t);
		h_skip("cannot create a temporary directory");
	}
	h_defer(drop_tmpdir, t, 0);
	if (mount(fstype, t->path, fstype, 0, NULL))
		h_skip("cannot mount %s: %s", fstype, h_errname(errno));
	t->mounted = true;
	return t->path;
}

int h_tmpfile(const char *dir, size_t len)
{
	static unsigned int seq;
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/f%u-%d", dir, seq++, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		h_fail("create %s: %s", path, h_errname(errno));
	unlink(path);
	h_keep_fd(fd);
	if (ftruncate(fd, len))
		h_fail("ftruncate %s: %s", path, h_errname(errno));
	return fd;
}

/* ---- main --------------------------------------------------------- */

static void on_timeout(int sig)
{
	(void)sig;
	if (write(STDOUT_FILENO, timeout_line, strlen(timeout_line)) < 0)
		_exit(1);
	_exit(1);
}

static int count_pinmgr_fds(char *list, size_t len)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	list[0] = '\0';
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[300], target[256];
		ssize_t l;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		l = readlink(path, target, sizeof(target) - 1);
		if (l < 0)
			continue;
		target[l] = '\0';
		if (!strcmp(target, PINMGR_DEFAULT_PATH)) {
			size_t used = strlen(list);

			if (used + strlen(de->d_name) + 2 <= len) {
				list[used] = ' ';
				strcpy(list + used + 1, de->d_name);
			}
			n++;
		}
	}
	closedir(d);
	return n;
}

static void final_check(const void *arg)
{
	char list[256];
	long kb;

	(void)arg;
	if (count_pinmgr_fds(list, sizeof(list)))
		h_fail("pinmgr files still open at fds:%s", list);
	kb = h_vmpin_kb();
	ASSERT_MSG(kb == 0, "/proc/self/status VmPin: %ld kB at exit", kb);
	h_assert_pins_balanced();
}

static int npass, nfail, nskip;

/*
 * PINMGR_TIMEOUT_MUL (tests/vm/run.sh passes it on) multiplies every case
 * timeout, as it does the VM's own, for a slower or busier machine.
 */
static unsigned int timeout_mul = 1;

static void read_timeout_mul(void)
{
	const char *s = getenv("PINMGR_TIMEOUT_MUL");
	unsigned long v;
	char *end;

	if (!s || !*s)
		return;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (!errno && !*end && v >= 1 && v <= 100)
		timeout_mul = v;
}

static size_t case_num;
static const char *case_name;

void h_case_timeout(unsigned int seconds)
{
	if (in_thread() || h_in_child() || phase != PHASE_CASE)
		return;
	/* Saturated: a wrap could make it alarm(0), no timeout at all. */
	seconds = seconds > UINT_MAX / timeout_mul ? UINT_MAX :
						    seconds * timeout_mul;
	snprintf(timeout_line, sizeof(timeout_line),
		 "not ok %zu - %s # timed out after %u s\n", case_num,
		 case_name, seconds);
	alarm(seconds);
}

int h_bound_ms(int ms)
{
	return ms * (int)timeout_mul;
}

static void run_case(size_t num, const char *name,
		     void (*fn)(const void *), const void *arg)
{
	long kb_before = h_vmpin_kb();

	case_status = H_PASS;
	case_reason[0] = '\0';
	pthread_mutex_lock(&thread_lock);
	thread_failed = false;
	pthread_mutex_unlock(&thread_lock);
	case_num = num;
	case_name = name;
	snprintf(timeout_line, sizeof(timeout_line),
		 "not ok %zu - %s # timed out after %u s\n", num, name,
		 CASE_TIMEOUT_S * timeout_mul);

	alarm(CASE_TIMEOUT_S * timeout_mul);
	phase = PHASE_CASE;
	if (!sigsetjmp(case_jmp, 1))
		fn(arg);
	run_cleanups();
	reap_children();
	alarm(0);
	phase = PHASE_OUTSIDE;

	if (case_status == H_PASS && h_thread_failure()) {
		case_status = H_FAIL;
		snprintf(case_reason, sizeof(case_reason), "in a thread: %.1100s",
			 h_thread_failure());
	}
	if (case_status == H_PASS && fn != final_check) {
		long kb = h_vmpin_kb();

		if (kb != kb_before) {
			case_status = H_FAIL;
			snprintf(case_reason, sizeof(case_reason),
				 "VmPin %ld kB before the case, %ld kB after its cleanup closed its files",
				 kb_before, kb);
		}
	}

	switch (case_status) {
	case H_PASS:
		npass++;
		printf("ok %zu - %s\n", num, name);
		break;
	case H_SKIP:
		nskip++;
		printf("ok %zu - %s # SKIP %s\n", num, name, case_reason);
		break;
	default:
		nfail++;
		printf("not ok %zu - %s # %s\n", num, name, case_reason);
		break;
	}
	fflush(stdout);
}

/* Is case number @nr in @list, a comma-separated list of numbers? */
static bool case_selected(const char *list, size_t nr)
{
	char *end;

	while (*list) {
		if (strtoul(list, &end, 10) == nr && end != list)
			return true;
		list = *end ? end + 1 : end;
	}
	return false;
}

int h_main(const struct h_case *cases, size_t n)
{
	const char *only;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_timeout);
	h_ps = sysconf(_SC_PAGESIZE);
	main_pid = getpid();
	read_timeout_mul();

	printf("TAP version 13\n");
	/* kselftest convention: nothing to test here -> skip, exit 4 */
	if (geteuid() != 0) {
		printf("1..0 # SKIP must run as root\n");
		return 4;
	}
	if (access(PINMGR_DEFAULT_PATH, F_OK)) {
		printf("1..0 # SKIP %s: %s (module not loaded?)\n",
		       PINMGR_DEFAULT_PATH, h_errname(errno));
		return 4;
	}
	printf("1..%zu\n", n + 1);
	only = getenv("PINMGR_CASES");
	for (i = 0; i < n; i++) {
		if (only && *only && !case_selected(only, i + 1)) {
			printf("ok %zu - %s # SKIP not in PINMGR_CASES=%s\n",
			       i + 1, cases[i].name, only);
			nskip++;
			continue;
		}
		run_case(i + 1, cases[i].name, cases[i].fn, cases[i].arg);
	}
	run_case(n + 1, "VmPin 0 kB, no pinmgr file open and FOLL_PIN balanced at exit",
		 final_check, NULL);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       npass, nfail, nskip);
	fflush(stdout);
	return nfail ? 1 : 0;
}

/* ---- PINMGR_ACCESS, the test-only device path --------------------- */

static pid_t test_access_pid;
static char test_access_old[8];

static void test_access_restore(void)
{
	if (getpid() == test_access_pid)
		write_file("/sys/module/pinmgr/parameters/test_access",
			   test_access_old);
}

int h_test_access_enable(void)
{
	static const char path[] = "/sys/module/pinmgr/parameters/test_access";
	char old[8];
	int ret;

	/* a bool parameter: reads "Y" or "N", accepts "1" and "0" */
	ret = h_read_file(path, old, sizeof(old));
	if (ret < 0)
		return ret;
	snprintf(test_access_old, sizeof(test_access_old), "%c\n",
		 old[0] == 'Y' || old[0] == 'y' || old[0] == '1' ? '1' : '0');
	ret = write_file(path, "1\n");
	if (ret < 0)
		return ret;
	if (!test_access_pid) {
		test_access_pid = getpid();
		atexit(test_access_restore);
	}
	return 0;
}

void h_require_test_access(struct pinmgr_ctx *ctx)
{
	struct pinmgr_info in;

	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	if (!(in.out_caps & PINMGR_CAP_TEST_ACCESS))
		h_skip("no PINMGR_CAP_TEST_ACCESS on this file (module parameter test_access unset or missing)");
}

void h_dev_read(struct pinmgr_ctx *ctx, uint32_t handle, uint64_t off,
		void *buf, size_t len)
{
	ASSERT_OK(pinmgr_access(ctx, handle, 0, off, buf, len));
}

void h_dev_write(struct pinmgr_ctx *ctx, uint32_t handle, uint64_t off,
		 const void *buf, size_t len)
{
	ASSERT_OK(pinmgr_access(ctx, handle, PINMGR_ACCESS_WRITE, off,
				(void *)buf, len));
}

/* The pattern, 8 bytes at a time: word @w (bytes 8w..8w+7, little-endian)
 * mixes the word's index, its page and the seed. */
static inline uint64_t pattern_word(uint64_t w, unsigned int seed)
{
	return (w * 0x9e3779b97f4a7c15ULL) ^ ((w >> 9) * 0xc2b2ae3d27d4eb4fULL) ^
	       ((seed + 1) * 0xd1b54a32d192ed03ULL);
}

static inline uint8_t pattern_byte(size_t i, unsigned int seed)
{
	return (uint8_t)(pattern_word(i / 8, seed) >> (8 * (i % 8)));
}

void h_fill(void *p, size_t len, unsigned int seed)
{
	uint8_t *b = p;
	size_t i, words = len / 8;

	for (i = 0; i < words; i++) {
		uint64_t v = pattern_word(i, seed);

		memcpy(b + 8 * i, &v, 8);
	}
	for (i = words * 8; i < len; i++)
		b[i] = pattern_byte(i, seed);
}

/* What the bytes at @b[@i...] look like, for a failure message. */
static void pattern_guess(const uint8_t *b, size_t i, size_t len, char *out,
			  size_t outlen)
{
	size_t n = len - i < 64 ? len - i : 64, j;
	unsigned int s;

	for (j = 0; j < n && b[i + j] == 0; j++)
		;
	if (j == n) {
		snprintf(out, outlen, "; zeros there");
		return;
	}
	for (j = 0; j < n && b[i + j] == 0x5a; j++)
		;
	if (j == n) {
		snprintf(out, outlen, "; 0x5a there (h_anon's fill)");
		return;
	}
	for (s = 0; s < 256; s++) {
		for (j = 0; j < n && b[i + j] == pattern_byte(i + j, s); j++)
			;
		if (j == n) {
			snprintf(out, outlen, "; pattern %u there", s);
			return;
		}
	}
	out[0] = '\0';
}

void h_assert_pattern(const void *p, size_t len, unsigned int seed,
		      const char *what)
{
	const uint8_t *b = p;
	size_t i, first = len, bad = 0, words = len / 8;
	char guess[64];

	for (i = 0; i < words; i++) {
		uint64_t v;

		memcpy(&v, b + 8 * i, 8);
		if (v != pattern_word(i, seed))
			break;
	}
	for (i *= 8; i < len; i++) {
		if (b[i] != pattern_byte(i, seed)) {
			if (!bad++)
				first = i;
		}
	}
	if (!bad)
		return;
	pattern_guess(b, first, len, guess, sizeof(guess));
	h_fail("%s: expected pattern %u, %zu of %zu bytes differ; first at offset %zu (page %zu): 0x%02x, expected 0x%02x%s",
	       what, seed, bad, len, first, first / h_ps, b[first],
	       pattern_byte(first, seed), guess);
}

void h_pagemap_pfns(const void *addr, size_t npages, uint64_t *pfns)
{
	size_t i;

	pagemap_read(addr, npages, pfns);
	for (i = 0; i < npages; i++)
		pfns[i] = (pfns[i] & PM_PRESENT) ? pfns[i] & PM_PFN_MASK : 0;
}

/* ---- companion modules ---------------------------------------------- */

int h_module_load(const char *rel, bool *loaded)
{
	char exe[PATH_MAX], ko[2 * PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;
	int fd, ret;

	*loaded = false;
	if (n < 0)
		return -errno;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	snprintf(ko, sizeof(ko), "%s/%s", exe, rel);
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = (int)syscall(SYS_finit_module, fd, "", 0);
	if (ret && errno != EEXIST)
		ret = -errno;
	else
		*loaded = !ret, ret = 0;
	close(fd);
	return ret;
}

/* ---- hugetlb pool --------------------------------------------------- */

static long long hugetlb_saved = -1;

static void hugetlb_write(long long v)
{
	char b[32];
	int ret;

	snprintf(b, sizeof(b), "%lld\n", v);
	ret = write_file("/proc/sys/vm/nr_hugepages", b);
	if (ret < 0)
		h_fail("write %lld to /proc/sys/vm/nr_hugepages: %s", v,
		       h_errname(-ret));
}

static void hugetlb_restore(void *p, size_t n)
{
	(void)p;
	(void)n;
	if (hugetlb_saved >= 0)
		hugetlb_write(hugetlb_saved);
	hugetlb_saved = -1;
}

/* A /proc/meminfo value ("HugePages_Free" -> 4), or -1. */
static long meminfo_value(const char *key)
{
	char buf[8192], *p;
	size_t klen = strlen(key);

	if (h_read_file("/proc/meminfo", buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ':')
			return strtol(p + klen + 1, NULL, 10);
	return -1;
}

void h_hugetlb_reserve(long n)
{
	char buf[32] = "";

	if (h_read_file("/proc/sys/vm/nr_hugepages", buf, sizeof(buf)) < 0)
		h_skip("no /proc/sys/vm/nr_hugepages (kernel without hugetlb)");
	if (meminfo_value("Hugepagesize") != 2048)
		h_skip("default huge page size is %ld kB, not 2048",
		       meminfo_value("Hugepagesize"));
	if (hugetlb_saved < 0) {
		hugetlb_saved = strtoll(buf, NULL, 10);
		h_defer(hugetlb_restore, NULL, 0);
	}
	hugetlb_write(strtoll(buf, NULL, 10) + n);
	if (meminfo_value("HugePages_Free") < n)
		h_skip("could not reserve %ld hugetlb pages (HugePages_Free %ld)",
		       n, meminfo_value("HugePages_Free"));
}

/* ---- passing descriptors ------------------------------------------ */

void h_send_fd(int sock, int fd)
{
	char c = 'F';
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	memset(&u, 0, sizeof(u));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	ASSERT_SYS(sendmsg(sock, &msg, 0));
}

int h_recv_fd(int sock)
{
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	int fd;

	ASSERT_EQ(ASSERT_SYS(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)), 1);
	cm = CMSG_FIRSTHDR(&msg);
	ASSERT(cm && cm->cmsg_type == SCM_RIGHTS);
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* ---- files that are written back ---------------------------------- */

int h_writeback_file(size_t len)
{
	static const char *const types[] = { "ext2", "ext3", "ext4", "xfs",
					     "btrfs", "vfat", "f2fs" };
	struct mntent *me;
	char path[512] = "";
	FILE *f;
	int fd;

	f = setmntent("/proc/mounts", "r");
	while (f && !path[0] && (me = getmntent(f))) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(types); i++) {
			if (strcmp(me->mnt_type, types[i]) ||
			    hasmntopt(me, "ro"))
				continue;
			snprintf(path, sizeof(path), "%s/.pinmgr-test-%d",
				 me->mnt_dir, (int)getpid());
			break;
		}
	}
	if (f)
		endmntent(f);
	if (!path[0])
		h_skip("no writable ext4/xfs/btrfs/vfat/... filesystem mounted");
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		h_skip("cannot create %s: %s", path, h_errname(errno));
	unlink(path);
	h_keep_fd(fd);
	ASSERT_SYS(ftruncate(fd, len));
	return fd;
}

/* ---- module totals ------------------------------------------------ */

long long h_total_of(const char *name)
{
	char path[128], buf[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/misc/pinmgr/stats/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtoll(buf, NULL, 10) : -1;
}

char h_thread_state(pid_t tid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if (h_read_file(path, buf, sizeof(buf)))
		return '?';
	p = strrchr(buf, ')');
	return p && p[1] ? p[2] : '?';
}
