// SPDX-License-Identifier: GPL-2.0
/*
 * pinmgr-demo: what `make demo` runs in the VM. Opens /dev/pinmgr through
 * libpinmgr, pins two buffers, shows what the module reports about them and
 * what the kernel accounts, then lets close() release everything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pinmgr.h"

static void die(const char *what, int err)
{
	fprintf(stderr, "pinmgr-demo: %s: %s\n", what, strerror(err));
	exit(1);
}

#define CHECK(expr)						\
	do {							\
		int _r = (expr);				\
		if (_r < 0)					\
			die(#expr, -_r);			\
	} while (0)

/* Prints the lines of @path that start with @prefix. */
static void grep_file(const char *path, const char *prefix)
{
	char line[256];
	FILE *f = fopen(path, "r");

	if (!f)
		die(path, errno);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, prefix, strlen(prefix)))
			printf("    %s", line);
	fclose(f);
}

/* Prints and returns VmPin (kB) from /proc/self/status. */
static long show_vmpin(const char *when)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		die("/proc/self/status", errno);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmPin:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	printf("%s: VmPin %ld kB\n", when, kb);
	return kb;
}

static void show_region(struct pinmgr_ctx *ctx, const char *name,
			uint32_t handle, unsigned int seg_flags)
{
	struct pinmgr_segment segs[16];
	struct pinmgr_query q;
	uint64_t start = 0;
	int n, i;

	CHECK(pinmgr_query(ctx, handle, &q, sizeof(q)));
	printf("%s: handle %u, addr %#llx, length %llu, %s\n", name, handle,
	       (unsigned long long)q.out_addr,
	       (unsigned long long)q.out_length,
	       (q.out_flags & PINMGR_PIN_WRITE) ? "read-write" : "read-only");
	printf("    %llu pages, offset %u in the first page, %llu physically contiguous segment(s)\n",
	       (unsigned long long)q.out_npages, q.out_offset,
	       (unsigned long long)q.out_nsegs);
	for (;;) {
		n = pinmgr_segments(ctx, handle, seg_flags, start, segs,
				    sizeof(segs) / sizeof(segs[0]));
		if (n < 0)
			die("pinmgr_segments", -n);
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			printf("    segment %3llu: offset %#9llx  length %#9llx",
			       (unsigned long long)(start + i),
			       (unsigned long long)segs[i].offset,
			       (unsigned long long)segs[i].length);
			if (seg_flags & PINMGR_SEGMENTS_PHYS)
				printf("  phys %#llx",
				       (unsigned long long)segs[i].phys);
			printf("\n");
		}
		start += n;
		if (start >= 8 && start < q.out_nsegs) {
			printf("    ... %llu more\n",
			       (unsigned long long)(q.out_nsegs - start));
			break;
		}
	}
}

int main(void)
{
	const size_t big_len = 1 << 20, small_len = 10 * 1024;
	struct pinmgr_ctx *ctx;
	struct pinmgr_info info;
	struct pinmgr_stats st;
	uint32_t hbig, hsmall;
	unsigned int seg_flags = 0;
	char *big, *small, fdinfo[64];
	long ps = sysconf(_SC_PAGESIZE);

	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK(pinmgr_open(&ctx));
	CHECK(pinmgr_info(ctx, &info, sizeof(info)));
	printf("opened %s (fd %d)\n", PINMGR_DEFAULT_PATH, pinmgr_fd(ctx));
	printf("    ABI version %u, page size %u\n", info.out_abi_version,
	       info.out_page_size);
	printf("    limits: %llu pages per pin, %llu regions per file\n",
	       (unsigned long long)info.out_max_pages_per_pin,
	       (unsigned long long)info.out_max_regions);
	printf("    pin flags %#llx, segments flags %#llx, caps %#llx%s\n",
	       (unsigned long long)info.out_pin_flags,
	       (unsigned long long)info.out_segments_flags,
	       (unsigned long long)info.out_caps,
	       (info.out_caps & PINMGR_CAP_PHYS) ? " (physical addresses allowed)" : "");
	if (info.out_caps & PINMGR_CAP_PHYS)
		seg_flags = PINMGR_SEGMENTS_PHYS;
	show_vmpin("before pinning");

	big = mmap(NULL, big_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	small = mmap(NULL, small_len + 2 * ps, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (big == MAP_FAILED || small == MAP_FAILED)
		die("mmap", errno);
	memset(big, 0x11, big_len);
	memset(small, 0x22, small_len + 2 * ps);
	small += 1000;		/* deliberately unaligned */

	printf("\npinning 1 MiB at %p for device writes, 10 KiB at %p read-only\n",
	       (void *)big, (void *)small);
	CHECK(pinmgr_pin(ctx, big, big_len, PINMGR_PIN_WRITE, &hbig));
	CHECK(pinmgr_pin(ctx, small, small_len, 0, &hsmall));
	show_region(ctx, "1 MiB buffer", hbig, seg_flags);
	show_region(ctx, "10 KiB buffer", hsmall, seg_flags);

	CHECK(pinmgr_stats(ctx, &st, sizeof(st)));
	printf("\nstats: %llu regions, %llu pages pinned (peak %llu), %llu pins, %llu unpins, %llu failed pins\n",
	       (unsigned long long)st.out_regions,
	       (unsigned long long)st.out_pinned_pages,
	       (unsigned long long)st.out_peak_pages,
	       (unsigned long long)st.out_pins,
	       (unsigned long long)st.out_unpins,
	       (unsigned long long)st.out_failed_pins);
	show_vmpin("while pinned");
	snprintf(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", pinmgr_fd(ctx));
	printf("%s:\n", fdinfo);
	grep_file(fdinfo, "pinmgr-");

	printf("\nunpinning the 10 KiB buffer (handle %u)\n", hsmall);
	CHECK(pinmgr_unpin(ctx, hsmall));
	show_vmpin("with the 1 MiB buffer still pinned");

	printf("\nclosing the file with the 1 MiB buffer still pinned\n");
	pinmgr_close(ctx);
	if (show_vmpin("after close") != 0) {
		fprintf(stderr, "pinmgr-demo: VmPin is not back to 0 after close\n");
		return 1;
	}
	munmap(big, big_len);
	munmap(small - 1000, small_len + 2 * ps);
	return 0;
}
