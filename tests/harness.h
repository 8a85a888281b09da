/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal kselftest-style TAP harness for the pinmgr test programs.
 *
 * A program is a table of cases; h_main() prints "TAP version 13" and the
 * plan, runs every case in order in this process and prints
 * "ok N - name", "not ok N - name # reason" or "ok N - name # SKIP why".
 * A last case checks that the process's VmPin is back to 0 kB with no
 * pinmgr file left open. The exit status is 0 iff no case failed.
 *
 * Failing assertions end the current case only: in the main thread they
 * siglongjmp() back to h_main(); in another thread they record the reason
 * (see h_thread_failures()) and pthread_exit(); in a child started with
 * h_child_start() they send the reason to the parent and _exit().
 *
 * Cleanups registered with h_defer() (and the h_open()/h_map() helpers)
 * run after the case, whatever its outcome, newest first; then every
 * child still running is killed and reaped. After a case that passed, the
 * harness also checks that VmPin is back to 0 kB.
 */
#ifndef PINMGR_TESTS_HARNESS_H
#define PINMGR_TESTS_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pinmgr.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct h_case {
	const char *name;
	void (*fn)(const void *arg);
	const void *arg;
};

/* Defines a case function; @arg is the h_case's arg (often unused). */
#define CASE(fn) static void fn(const void *arg __attribute__((unused)))
#define H_CASE(fn, name)		{ (name), (fn), NULL }
#define H_CASE_ARG(fn, arg, name)	{ (name), (fn), (arg) }

/*
 * Runs every case (the environment variable PINMGR_CASES, a comma-separated
 * list of case numbers, runs only those; the others are reported as SKIP),
 * then the final check. Returns the exit status.
 */
int h_main(const struct h_case *cases, size_t n);

/* Outcome of the current case. */
__attribute__((noreturn, format(printf, 3, 4)))
void h_fail_at(const char *file, int line, const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2)))
void h_skip(const char *fmt, ...);
__attribute__((format(printf, 1, 2)))
void h_diag(const char *fmt, ...);

#define h_fail(...) h_fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* "ENOENT" for 2, "E1234" for unknown numbers. Thread-safe. */
const char *h_errname(int err);
/* "-ENOENT" for a negative errno return, else the number. */
const char *h_retstr(char *buf, size_t len, long long ret);

#define ASSERT(cond)							\
	do {								\
		if (!(cond))						\
			h_fail("assertion failed: %s", #cond);		\
	} while (0)

#define ASSERT_MSG(cond, ...)						\
	do {								\
		if (!(cond))						\
			h_fail(__VA_ARGS__);				\
	} while (0)

/* Integer equality, printed in decimal and hex. */
#define ASSERT_EQ(got, want)						\
	do {								\
		unsigned long long _g = (unsigned long long)(got);	\
		unsigned long long _w = (unsigned long long)(want);	\
		if (_g != _w)						\
			h_fail("%s: expected %llu (0x%llx), got %llu (0x%llx)", \
			       #got, _w, _w, _g, _g);			\
	} while (0)

#define ASSERT_NE(got, bad)						\
	do {								\
		unsigned long long _g = (unsigned long long)(got);	\
		unsigned long long _b = (unsigned long long)(bad);	\
		if (_g == _b)						\
			h_fail("%s: expected anything but %llu (0x%llx)", \
			       #got, _b, _b);				\
	} while (0)

/*
 * @expr returns 0/count or a negative errno (the library's convention,
 * and h_ioctl()'s). ASSERT_RET checks an exact value; ASSERT_OK 0;
 * ASSERT_ERR -@err.
 */
#define ASSERT_RET_STR(expr, want, str)					\
	do {								\
		long long _r = (expr), _w = (want);			\
		char _b1[32], _b2[32];					\
		if (_r != _w)						\
			h_fail("%s: expected %s, got %s", str,		\
			       h_retstr(_b1, sizeof(_b1), _w),		\
			       h_retstr(_b2, sizeof(_b2), _r));		\
	} while (0)
#define ASSERT_RET(expr, want)	ASSERT_RET_STR(expr, want, #expr)
#define ASSERT_OK(expr)		ASSERT_RET_STR(expr, 0, #expr)
#define ASSERT_ERR(expr, err)	ASSERT_RET_STR(expr, -(long long)(err), #expr)

/* @expr is a libc call returning -1 and setting errno on failure. */
#define ASSERT_SYS(expr)						\
	({								\
		long long _r = (long long)(expr);			\
		if (_r == -1)						\
			h_fail("%s failed: %s", #expr, h_errname(errno)); \
		_r;							\
	})

/* The current case may run @seconds from now (instead of the default
 * 60 s) before it is reported as timed out and the program ends. Main
 * thread only. The VM's per-program timeout still applies. */
void h_case_timeout(unsigned int seconds);
/* @ms scaled by PINMGR_TIMEOUT_MUL: the bound of a wait that only a hang
 * would reach (a poll for a release, a frame, a reader). */
int h_bound_ms(int ms);

/* Cleanups run after the case, newest first. Main thread only. */
void h_defer(void (*fn)(void *p, size_t n), void *p, size_t n);
/* Runs the newest cleanup registered for @p now, and forgets it. */
void h_undefer(void *p);

/* Opens /dev/pinmgr through the library (fails the case if it cannot); the
 * context is closed after the case unless h_close() closed it first. */
struct pinmgr_ctx *h_open(void);
void h_close(struct pinmgr_ctx *ctx);
int h_fd(struct pinmgr_ctx *ctx);

/* mmap() that fails the case on error, munmap'd after the case. */
void *h_map(size_t len, int prot, int flags, int fd, off_t off);
/* @len bytes of private anonymous read-write memory, every page touched. */
void *h_anon(size_t len);
/* Like h_anon(), but MADV_NOHUGEPAGE and not touched (no page mapped). */
void *h_anon_untouched(size_t len);
/* @n read-write shared mappings, back to back, of the same @chunk bytes of
 * a new memfd: a range of @n * @chunk bytes whose pages are those few. */
void *h_memfd_aliases(size_t chunk, size_t n);
void h_unmap(void *p);
/* munmap()s a mapping made by the case itself after the case. */
void h_keep_map(void *p, size_t len);

/* A file descriptor closed after the case unless h_close_fd() closed it. */
int h_keep_fd(int fd);
void h_close_fd(int fd);

extern size_t h_ps;		/* sysconf(_SC_PAGESIZE) */

/* ioctl() in the library's convention: result or -errno. */
int h_ioctl(int fd, unsigned long cmd, void *arg);

/* PIN through raw ioctl, to see every out_ field; returns 0 or -errno. */
int h_pin_raw(struct pinmgr_ctx *ctx, const void *addr, uint64_t len,
	      uint32_t flags, struct pinmgr_pin *out);
/* Pin that must succeed; returns the handle. */
uint32_t h_pin(struct pinmgr_ctx *ctx, const void *addr, uint64_t len,
	       uint32_t flags);

/* /proc/self/status VmPin in kB, or -1 if the line is missing. */
long h_vmpin_kb(void);
#define ASSERT_VMPIN_KB(kb)	ASSERT_EQ(h_vmpin_kb(), (kb))

/* Pages pinned by this process, as seen through VmPin. */
#define PAGES_KB(n)	((long)((n) * (h_ps / 1024)))

/*
 * /proc/vmstat nr_foll_pin_acquired and nr_foll_pin_released, after
 * writing 1 to /proc/sys/vm/stat_refresh. Returns 0 or -errno.
 */
int h_foll_pins(uint64_t *acquired, uint64_t *released);
/* Fails the case unless every FOLL_PIN taken system-wide was released. */
void h_assert_pins_balanced(void);

/* Value of "@key:\t<n>" in /proc/self/fdinfo/@fd: 0, -ENOENT (no such
 * line) or -EPROTO (malformed line). */
int h_fdinfo_u64(int fd, const char *key, uint64_t *val);

/*
 * A file of @len bytes, already unlinked, on a mounted filesystem that
 * writes pages back (ext4, xfs, ...); skips the case if there is none.
 * `make check` mounts an ext4 disk on /mnt/ext4 in the guest.
 */
int h_writeback_file(size_t len);

/* /sys/class/misc/pinmgr/stats/@name, or -1 if the module has none. */
long long h_total_of(const char *name);

/* Sends @fd over the UNIX socket @sock (SCM_RIGHTS, one byte of data);
 * receives one, close-on-exec. Fail the case on error. */
void h_send_fd(int sock, int fd);
int h_recv_fd(int sock);

/* Reads a whole (small) file into @buf, NUL-terminated; 0 or -errno. */
int h_read_file(const char *path, char *buf, size_t len);
/*
 * Grow the hugetlb pool by @n free 2 MiB pages until the end of the case
 * (skips it if that cannot be done).
 */
void h_hugetlb_reserve(long n);
/*
 * finit_module() of the .ko at @rel, relative to the program's folder.
 * 0 if it is loaded now (*@loaded: by this call, not before), or -errno.
 */
int h_module_load(const char *rel, bool *loaded);

/* /sys/module/pinmgr/parameters/@name (bool ones read as 1 or 0): 0 or
 * -errno. */
int h_param_read(const char *name, uint64_t *val);
int h_param_write(const char *name, uint64_t val);
/* Sets a parameter for the duration of the case (restored afterwards). */
void h_param_set_for_case(const char *name, uint64_t val);

/* PFN of the page mapped at @addr via /proc/self/pagemap (root only);
 * 0 if not present. */
uint64_t h_pagemap_pfn(const void *addr);
/* @addr's page as mapped: a file (or shared) page, not one of its own copies. */
bool h_pagemap_file(const void *addr);

/* Physically contiguous runs of the pages covering [addr, addr+len), as
 * the module should report them (phys filled in). Returns the count;
 * *segs is malloc'd (freed after the case). */
size_t h_expected_segments(const void *addr, uint64_t len,
			   struct pinmgr_segment **segs);

/* Reads every segment of a region with capacity-sized calls; checks the
 * paging rules. Returns the count; *segs freed after the case. */
size_t h_read_segments(struct pinmgr_ctx *ctx, uint32_t handle,
		       uint32_t flags, size_t capacity,
		       struct pinmgr_segment **segs);
/* Checks that @segs cover @npages pages in order (offset 0, contiguous,
 * page multiples). */
void h_check_segments_cover(const struct pinmgr_segment *segs, size_t n,
			    uint64_t npages);

/* Capabilities of this thread (raw capget/capset). */
bool h_cap_has(int cap);
/* Drops @cap from the effective, permitted and inheritable sets. */
void h_cap_drop(int cap);

/* Children. h_child_start() forks; the child runs fn(arg) and exits 0
 * (its assertions make it exit non-zero with the reason sent back).
 * h_child_wait() fails the current case if the child failed (or skips it
 * if the child skipped). Unwaited children are killed after the case. */
pid_t h_child_start(void (*fn)(void *arg), void *arg);
void h_child_wait(pid_t pid);
bool h_in_child(void);

/* Pipes for synchronisation (both ends closed after the case). */
void h_pipe(int fds[2]);
void h_signal_fd(int fd);	/* write one byte */
void h_wait_fd(int fd);		/* read one byte (fails the case on EOF) */

/* pthread_create() whose thread turns a failed assertion into its own
 * return (recorded for h_thread_failure()) instead of pthread_exit(). */
int h_thread_create(pthread_t *t, void *(*fn)(void *), void *arg);

/* The scheduler state letter of thread @tid of this process ('R', 'S',
 * 'D' ...), or '?' if it cannot be read: lets a test wait until another
 * thread sleeps in a call, without a sleep of its own. */
char h_thread_state(pid_t tid);

/* Worker threads: the first failure reason of any non-main thread since
 * the case began, or NULL. */
const char *h_thread_failure(void);
#define ASSERT_NO_THREAD_FAILURE()					\
	do {								\
		const char *_m = h_thread_failure();			\
		if (_m)							\
			h_fail("in a thread: %s", _m);			\
	} while (0)

/* malloc() that fails the case on error, freed after the case. */
void *h_malloc(size_t n);

/* A directory on a fresh mount of @fstype ("tmpfs", "ramfs"), unmounted
 * after the case; skips the case if it cannot be mounted. */
const char *h_mount_tmp(const char *fstype);

/* A file of @len bytes in @dir, opened O_RDWR (closed and unlinked after
 * the case). */
int h_tmpfile(const char *dir, size_t len);

/* ---- PINMGR_ACCESS, the test-only device path --------------------- */

/*
 * Sets the module parameter test_access to 1 for the rest of the program;
 * the previous value is written back at exit (atexit, by this process
 * only). Call from main() before h_main(), so that every file the cases
 * open can use PINMGR_ACCESS. 0 or -errno (-ENOENT: no such parameter).
 */
int h_test_access_enable(void);
/* Skips the case unless INFO on @ctx reports PINMGR_CAP_TEST_ACCESS. */
void h_require_test_access(struct pinmgr_ctx *ctx);
/* What the device reads from / writes to @len bytes of a region at @off
 * (PINMGR_ACCESS); fails the case unless the ioctl succeeds. */
void h_dev_read(struct pinmgr_ctx *ctx, uint32_t handle, uint64_t off,
		void *buf, size_t len);
void h_dev_write(struct pinmgr_ctx *ctx, uint32_t handle, uint64_t off,
		 const void *buf, size_t len);

/* A byte pattern that differs per @seed, per page and within a page
 * (never all zero bytes, nor all 0x5a like h_anon()). */
void h_fill(void *p, size_t len, unsigned int seed);
/* Fails the case unless @p holds h_fill(@seed); the reason names @what,
 * the first differing offset, the number of differing bytes and, if the
 * first differing byte belongs to another pattern, what it looks like. */
void h_assert_pattern(const void *p, size_t len, unsigned int seed,
		      const char *what);

/* PFNs of @npages pages from @addr via /proc/self/pagemap (root only);
 * 0 for a page that is not present. */
void h_pagemap_pfns(const void *addr, size_t npages, uint64_t *pfns);

#endif /* PINMGR_TESTS_HARNESS_H */
