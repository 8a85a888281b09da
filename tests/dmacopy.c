// SPDX-License-Identifier: GPL-2.0
/*
 * examples/dmacopy, the driver that borrows the pin tracker, in the guest
 * next to pinmgr.ko. Its dmacopy.ko is built by the README's borrowing
 * recipe, run literally in an empty folder (mk/borrow.sh); this program
 * loads it from dmacopy-data/ next to its executable, checks both drivers'
 * tracepoints side by side, copies across page boundaries, unaligned,
 * between 4 KiB pages, THPs and hugetlb pages, from threads at once, and
 * checks every error; after each case the pins it took are released, and
 * the last case unloads the module.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "dmacopy.h"

#define HPS		(2UL << 20)	/* THP and hugetlb page size */
#define THREADS		4
#define THREAD_COPIES	200

static int dmacopy_open(void)
{
	int fd = open("/dev/dmacopy", O_RDWR | O_CLOEXEC);

	ASSERT_MSG(fd >= 0, "open /dev/dmacopy: %s", h_errname(errno));
	return h_keep_fd(fd);
}

/* 0 or -errno of one DMACOPY_IOC_COPY */
static int dmacopy(int fd, const void *src, void *dst, uint64_t len,
		   uint32_t flags)
{
	struct dmacopy_copy c = {
		.size = sizeof(c),
		.flags = flags,
		.src = (uintptr_t)src,
		.dst = (uintptr_t)dst,
		.length = len,
	};

	return ioctl(fd, DMACOPY_IOC_COPY, &c) ? -errno : 0;
}

static int64_t pins_outstanding(void)
{
	uint64_t acq, rel;

	ASSERT_OK(h_foll_pins(&acq, &rel));
	return (int64_t)(acq - rel);
}

/*
 * Copies @len bytes from @src + @soff to @dst + @doff and checks the
 * destination: the bytes copied, the guard bytes around them untouched,
 * nothing left pinned.
 */
static void copy_and_check(int fd, uint8_t *src, size_t soff, uint8_t *dst,
			   size_t doff, size_t len, size_t dst_size)
{
	int64_t base = pins_outstanding();

	h_fill(src + soff, len, 7);
	memset(dst, 0xa5, dst_size);
	ASSERT_OK(dmacopy(fd, src + soff, dst + doff, len, 0));
	h_assert_pattern(dst + doff, len, 7, "the destination after the copy");
	for (size_t i = 0; i < dst_size; i++) {
		if (i == doff)
			i += len;
		if (i < dst_size)
			ASSERT_MSG(dst[i] == 0xa5,
				   "byte %zu of the destination, outside the copy, is %#x",
				   i, dst[i]);
	}
	ASSERT_EQ(pins_outstanding(), base);
	ASSERT_VMPIN_KB(0);
}

/* 2 MiB-aligned anonymous memory of @len bytes. */
static uint8_t *aligned_anon(size_t len)
{
	uint8_t *p = h_map(len + HPS, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return (uint8_t *)(((uintptr_t)p + HPS - 1) & ~(HPS - 1));
}

static void tracefs_write(const char *name, const char *val)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/tracing/%s", name);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ASSERT_MSG(fd >= 0, "open %s: %s", path, h_errname(errno));
	ASSERT_MSG(write(fd, val, strlen(val)) == (ssize_t)strlen(val),
		   "write %s: %s", path, h_errname(errno));
	close(fd);
}

static void dmacopy_events_off(void *p, size_t n)
{
	(void)p;
	(void)n;
	tracefs_write("events/dmacopy/enable", "0");
	tracefs_write("trace", "");
}

/*
 * Both drivers carry the tracker's tracepoints, each under its own system
 * and prefix: both sets exist, and a copy fires dmacopy's, not pinmgr's.
 */
CASE(events_side_by_side)
{
	static const char *const ev[] = {
		"events/pinmgr/pinmgr_pin", "events/pinmgr/pinmgr_changed",
		"events/dmacopy/dmacopy_pin", "events/dmacopy/dmacopy_unpin",
		"events/dmacopy/dmacopy_release", "events/dmacopy/dmacopy_changed",
	};
	const char *dir = "/sys/kernel/tracing";
	int fd = dmacopy_open();
	uint8_t *src = h_anon(h_ps), *dst = h_anon(h_ps);
	char path[PATH_MAX], *buf = h_malloc(1 << 16);
	struct stat st;
	ssize_t n;
	size_t i;
	int tfd;

	if (stat("/sys/kernel/tracing/events", &st) &&
	    mount("nodev", dir, "tracefs", 0, NULL))
		h_skip("no tracefs at %s: %s", dir, h_errname(errno));
	for (i = 0; i < ARRAY_SIZE(ev); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ev[i]);
		ASSERT_MSG(!stat(path, &st), "%s: %s", path, h_errname(errno));
	}
	tracefs_write("trace", "");
	tracefs_write("events/dmacopy/enable", "1");
	h_defer(dmacopy_events_off, NULL, 0);
	ASSERT_OK(dmacopy(fd, src, dst, 100, 0));
	tfd = open("/sys/kernel/tracing/trace", O_RDONLY | O_CLOEXEC);
	ASSERT_SYS(tfd);
	n = read(tfd, buf, (1 << 16) - 1);
	close(tfd);
	ASSERT_MSG(n > 0, "read trace: %s", h_errname(errno));
	buf[n] = 0;
	ASSERT_MSG(strstr(buf, "dmacopy_pin: handle=") &&
		   strstr(buf, "dmacopy_unpin: handle=") &&
		   strstr(buf, "dmacopy_release: handle="),
		   "a copy traced no dmacopy_pin/_unpin/_release:\n%s", buf);
	ASSERT_MSG(!strstr(buf, "pinmgr_"), "a copy traced pinmgr's events:\n%s", buf);
}

CASE(pages_unaligned)
{
	int fd = dmacopy_open();
	size_t size = 8 * h_ps;
	uint8_t *src = h_anon(size), *dst = h_anon(size);

	copy_and_check(fd, src, 0, dst, 0, size, size);
	copy_and_check(fd, src, 0, dst, 0, 1, size);
	copy_and_check(fd, src, 100, dst, 3000, 3 * h_ps + 17, size);
	copy_and_check(fd, src, h_ps - 1, dst, 1, 5 * h_ps, size);
	copy_and_check(fd, src, 5, dst, h_ps - 3, 6, size);
}

CASE(thp)
{
	int fd = dmacopy_open();
	size_t len = 2 * HPS;
	uint8_t *src = aligned_anon(len), *dst = aligned_anon(len);

	if (madvise(src, len, MADV_HUGEPAGE) || madvise(dst, len, MADV_HUGEPAGE))
		h_skip("madvise(MADV_HUGEPAGE): %s (kernel without THP)",
		       h_errname(errno));
	/* within and across the 2 MiB pages, unaligned */
	copy_and_check(fd, src, 0, dst, 0, len, len);
	copy_and_check(fd, src, 4093, dst, HPS - 5000, HPS + 3 * h_ps, len);
}

CASE(hugetlb)
{
	int fd = dmacopy_open();
	size_t len = 2 * HPS;
	uint8_t *src, *dst;

	h_hugetlb_reserve(4);
	src = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	dst = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (src == MAP_FAILED || dst == MAP_FAILED)
		h_skip("mmap(MAP_HUGETLB): %s (no free 2 MiB pages)",
		       h_errname(errno));
	h_keep_map(src, len);
	h_keep_map(dst, len);
	copy_and_check(fd, src, 0, dst, 0, len, len);
	copy_and_check(fd, src, 12345, dst, HPS - 1, HPS + 2, len);
}

/* Between 4 KiB pages and a THP, both ways. */
CASE(mixed_backing)
{
	int fd = dmacopy_open();
	uint8_t *small = h_anon(HPS), *huge = aligned_anon(HPS);

	if (madvise(huge, HPS, MADV_HUGEPAGE))
		h_skip("madvise(MADV_HUGEPAGE): %s", h_errname(errno));
	copy_and_check(fd, small, 0, huge, 0, HPS, HPS);
	copy_and_check(fd, huge, 777, small, 0, HPS - 777, HPS);
}

CASE(hold_until_close)
{
	int fd = dmacopy_open();
	int64_t base = pins_outstanding();
	uint8_t *src = h_anon(4 * h_ps), *dst = h_anon(4 * h_ps);

	h_fill(src, 4 * h_ps, 3);
	/* 3 pages from inside the first: 4 pages each side */
	ASSERT_OK(dmacopy(fd, src + 10, dst + 20, 3 * h_ps, DMACOPY_COPY_HOLD));
	ASSERT(!memcmp(dst + 20, src + 10, 3 * h_ps));
	/* 100 bytes: 1 page each side */
	ASSERT_OK(dmacopy(fd, src, dst + 3 * h_ps + 100, 100, DMACOPY_COPY_HOLD));
	ASSERT(!memcmp(dst + 3 * h_ps + 100, src, 100));
	ASSERT_EQ(pins_outstanding(), base + 10);
	ASSERT_VMPIN_KB(PAGES_KB(10));
	h_close_fd(fd);
	ASSERT_EQ(pins_outstanding(), base);
	ASSERT_VMPIN_KB(0);
}

CASE(errors)
{
	int fd = dmacopy_open();
	int64_t base = pins_outstanding();
	uint8_t *a = h_anon(4 * h_ps), *b = h_anon(4 * h_ps);
	uint8_t *gone = h_anon(h_ps);
	struct dmacopy_copy c = {
		.size = sizeof(c) - 8,
		.src = (uintptr_t)a,
		.dst = (uintptr_t)b,
		.length = 8,
	};

	ASSERT_ERR(ioctl(fd, DMACOPY_IOC_COPY, &c) ? -errno : 0, EINVAL);
	ASSERT_ERR(dmacopy(fd, a, b, 8, 1U << 1), EINVAL);
	ASSERT_ERR(dmacopy(fd, a, b, 0, 0), EINVAL);
	ASSERT_ERR(dmacopy(fd, a, a + 4, 8, 0), EINVAL);
	ASSERT_ERR(dmacopy(fd, a + 4, a, 8, 0), EINVAL);
	h_unmap(gone);
	ASSERT_ERR(dmacopy(fd, gone, b, 8, 0), EFAULT);
	ASSERT_ERR(dmacopy(fd, a, gone, 8, 0), EFAULT);
	ASSERT_ERR(dmacopy(fd, a, b, ~0ULL - 2, 0), EOVERFLOW);
	ASSERT_ERR(ioctl(fd, _IO(DMACOPY_TYPE, 0x7f), 0) ? -errno : 0, ENOTTY);
	ASSERT_ERR(ioctl(fd, DMACOPY_IOC_COPY, NULL) ? -errno : 0, EFAULT);
	ASSERT_EQ(pins_outstanding(), base);
	ASSERT_VMPIN_KB(0);
}

struct copier {
	int fd;
	unsigned int seed;
};

static void *copier_run(void *arg)
{
	struct copier *c = arg;
	size_t len = 3 * h_ps + 123;
	uint8_t *src = malloc(len), *dst = malloc(len);
	unsigned int i;
	void *ret = NULL;

	if (!src || !dst)
		ret = "out of memory";
	for (i = 0; !ret && i < THREAD_COPIES; i++) {
		size_t j;

		for (j = 0; j < len; j++)
			src[j] = (uint8_t)(c->seed + i + j);
		memset(dst, 0, len);
		if (dmacopy(c->fd, src, dst, len, 0))
			ret = "DMACOPY_IOC_COPY failed";
		else if (memcmp(src, dst, len))
			ret = "the destination differs from the source";
	}
	free(src);
	free(dst);
	return ret;
}

/* Threads copying through one file at once, each its own buffers. */
CASE(threads_one_file)
{
	struct copier c[THREADS];
	pthread_t t[THREADS];
	int fd = dmacopy_open();
	int64_t base = pins_outstanding();
	unsigned int i;
	void *ret;

	for (i = 0; i < THREADS; i++) {
		c[i] = (struct copier){ .fd = fd, .seed = i * 37 };
		ASSERT_OK(h_thread_create(&t[i], copier_run, &c[i]));
	}
	for (i = 0; i < THREADS; i++) {
		ASSERT_OK(pthread_join(t[i], &ret));
		ASSERT_MSG(!ret, "thread %u: %s", i, (const char *)ret);
	}
	ASSERT_EQ(pins_outstanding(), base);
	ASSERT_VMPIN_KB(0);
}

/* ---- the module ------------------------------------------------------- */

static bool loaded_here;

static int dmacopy_load(void)
{
	return h_module_load("dmacopy-data/dmacopy.ko", &loaded_here);
}

/* Last: nothing of the module is in use any more. */
CASE(unload)
{
	if (!loaded_here)
		h_skip("dmacopy.ko was loaded before this program");
	ASSERT_SYS(syscall(SYS_delete_module, "dmacopy", O_NONBLOCK));
}

static const struct h_case cases[] = {
	H_CASE(events_side_by_side, "pinmgr's and dmacopy's tracepoints exist together; a copy fires dmacopy_pin, _unpin, _release only"),
	H_CASE(pages_unaligned, "4 KiB pages: whole, 1 byte, unaligned across 4 pages, at page ends -> copied, guards intact, nothing pinned after"),
	H_CASE(thp, "THP: 4 MiB, and unaligned across the 2 MiB boundary -> copied"),
	H_CASE(hugetlb, "hugetlb: 4 MiB, and unaligned across the 2 MiB boundary -> copied"),
	H_CASE(mixed_backing, "4 KiB pages to a THP and back -> copied"),
	H_CASE(hold_until_close, "HOLD: 10 pages stay pinned (FOLL_PIN, VmPin) until close releases them"),
	H_CASE(errors, "bad size, flags, zero length, overlap -> EINVAL; unmapped -> EFAULT; wrap -> EOVERFLOW; unknown ioctl -> ENOTTY"),
	H_CASE(threads_one_file, "4 threads x 200 copies through one file -> all intact, nothing pinned after"),
	H_CASE(unload, "dmacopy unloads"),
};

int main(void)
{
	int ret = dmacopy_load();

	/* make check always builds it: its absence is a failure. */
	if (ret) {
		printf("Bail out! dmacopy-data/dmacopy.ko not loaded: %s\n",
		       h_errname(-ret));
		return 1;
	}
	return h_main(cases, ARRAY_SIZE(cases));
}
