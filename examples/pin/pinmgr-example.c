// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pinmgr-example: the life of one pinned buffer, as a userspace driver
 * would use libpinmgr. Build it against the installed library:
 *
 *   cc -o pinmgr-example pinmgr-example.c $(pkg-config --cflags --libs pinmgr)
 *
 * and run it as a member of group pinmgr (or root), with the module loaded.
 * It pins 1 MiB, prints the segments the device
 * would be given, changes part of the mapping behind the pin's back
 * (MADV_DONTNEED), reads the event the module queues for it, asks VERIFY
 * which pages no longer back their addresses, and unpins. Exit status 0
 * if everything behaved as described.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <pinmgr.h>

#define LEN	(1UL << 20)

static int fail(const char *what, int err)
{
	fprintf(stderr, "pinmgr-example: %s: %s\n", what, strerror(-err));
	return 1;
}

int main(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	struct pinmgr_segment seg[8];
	struct pinmgr_event ev[4];
	struct pinmgr_info info;
	struct pinmgr_query q;
	struct pinmgr_ctx *ctx;
	struct pollfd pfd;
	uint64_t differ, first, start = 0;
	uint32_t h;
	char *buf;
	int ret, n, i;

	ret = pinmgr_open(&ctx);
	if (ret)
		return fail("pinmgr_open (is the module loaded? are you in group pinmgr?)", ret);
	ret = pinmgr_info(ctx, &info, sizeof(info));
	if (ret)
		return fail("pinmgr_info", ret);
	printf("pinmgr ABI %u, page size %u, events %s\n", info.out_abi_version,
	       info.out_page_size,
	       info.out_caps & PINMGR_CAP_EVENTS ? "on" : "off");

	buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return fail("mmap", -errno);
	memset(buf, 0x42, LEN);

	/* 1. pin: writable, the device may write into the buffer */
	ret = pinmgr_pin(ctx, buf, LEN, PINMGR_PIN_WRITE, &h);
	if (ret)
		return fail("pinmgr_pin (RLIMIT_MEMLOCK too low? see ulimit -l)", ret);
	ret = pinmgr_query(ctx, h, &q, sizeof(q));
	if (ret)
		return fail("pinmgr_query", ret);
	printf("pinned handle %u: %llu pages in %llu segments\n", h,
	       (unsigned long long)q.out_npages, (unsigned long long)q.out_nsegs);

	/*
	 * 2. the segments a device is given: physically contiguous runs with
	 * their physical addresses with CAP_SYS_ADMIN; without it, one segment
	 * per page and physical addresses 0.
	 */
	while ((n = pinmgr_segments(ctx, h, 0, start, seg, 8)) > 0) {
		for (i = 0; i < n; i++)
			printf("  segment %llu: offset %llu, %llu bytes\n",
			       (unsigned long long)(start + i),
			       (unsigned long long)seg[i].offset,
			       (unsigned long long)seg[i].length);
		start += n;
	}
	if (n < 0)
		return fail("pinmgr_segments", n);

	/* 3. the process drops 2 pages behind the device's back */
	if (madvise(buf + 4 * ps, 2 * ps, MADV_DONTNEED))
		return fail("madvise", -errno);
	if (info.out_caps & PINMGR_CAP_EVENTS) {
		pfd.fd = pinmgr_fd(ctx);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 1000) != 1)
			return fail("poll: no event after MADV_DONTNEED", -ETIMEDOUT);
		n = pinmgr_events_read(ctx, ev, 4);
		if (n < 0)
			return fail("pinmgr_events_read", n);
		for (i = 0; i < n; i++)
			printf("event: handle %u, kinds %#llx, [%#llx, %#llx)\n",
			       ev[i].handle, (unsigned long long)ev[i].kinds,
			       (unsigned long long)ev[i].start,
			       (unsigned long long)ev[i].end);
	}

	/* 4. which pinned pages no longer back their addresses? */
	ret = pinmgr_verify(ctx, h, &differ, &first);	/* pages that differ */
	if (ret < 0)
		return fail("pinmgr_verify", ret);
	printf("verify: %llu pages differ, the first at page %llu\n",
	       (unsigned long long)differ, (unsigned long long)first);

	/* 5. unpin: the pages are dirtied (the device may have written) */
	ret = pinmgr_unpin(ctx, h);
	if (ret)
		return fail("pinmgr_unpin", ret);
	pinmgr_close(ctx);
	munmap(buf, LEN);
	return differ == 2 && first == 4 ? 0 : 1;
}
