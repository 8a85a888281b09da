// SPDX-License-Identifier: GPL-2.0
/*
 * A program and a libpinmgr built against different versions of
 * <linux/pinmgr.h>: the library's ABI must survive a struct growing
 * (docs/abi.md). Built twice by tests/tests.mk, both statically:
 *
 *   abi-grow-old-app  this file with today's header, linked with a library
 *                     built with a "future" header whose pinmgr_info,
 *                     pinmgr_query and pinmgr_stats have 32 more bytes
 *   abi-grow-new-app  this file with the future header (PINMGR_FUTURE),
 *                     linked with today's library
 *
 * Each struct sits in front of guard bytes: nothing may be written past
 * what the program allocated, every field the module knows is filled, and
 * (new app) the fields it does not know come back zero.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pinmgr.h"

#define GUARD 64

static int tests, failed;

static void ok(int cond, const char *what)
{
	printf("%s %d - %s\n", cond ? "ok" : "not ok", ++tests, what);
	failed += !cond;
}

static int guard_intact(const unsigned char *g)
{
	int i;

	for (i = 0; i < GUARD; i++)
		if (g[i] != 0x5a)
			return 0;
	return 1;
}

#ifdef PINMGR_FUTURE
#define APP "new app, old library"
static int future_zero(const __u64 *f)
{
	return !f[0] && !f[1] && !f[2] && !f[3];
}
#else
#define APP "old app, new library"
#endif

int main(void)
{
	struct { struct pinmgr_info s; unsigned char g[GUARD]; } in;
	struct { struct pinmgr_query s; unsigned char g[GUARD]; } q;
	struct { struct pinmgr_stats s; unsigned char g[GUARD]; } st;
	long ps = sysconf(_SC_PAGESIZE);
	struct pinmgr_ctx *ctx;
	uint32_t h;
	char *buf;

#ifdef PINMGR_FUTURE
	printf("1..9\n");
#else
	printf("1..6\n");
#endif
	buf = mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED || pinmgr_open(&ctx) ||
	    pinmgr_pin(ctx, buf, (size_t)ps, 0, &h)) {
		printf("Bail out! cannot open /dev/pinmgr or pin a page\n");
		return 1;
	}

	memset(&in, 0x5a, sizeof(in));
	ok(!pinmgr_info(ctx, &in.s, sizeof(in.s)) &&
	   in.s.out_page_size == (uint64_t)ps && in.s.out_max_regions,
	   APP ": pinmgr_info fills the fields the module knows");
	ok(guard_intact(in.g), APP ": pinmgr_info writes nothing past the program's struct");
	memset(&q, 0x5a, sizeof(q));
	ok(!pinmgr_query(ctx, h, &q.s, sizeof(q.s)) && q.s.handle == h &&
	   q.s.out_npages == 1 && q.s.out_addr == (uintptr_t)buf,
	   APP ": pinmgr_query fills the fields the module knows");
	ok(guard_intact(q.g), APP ": pinmgr_query writes nothing past the program's struct");
	memset(&st, 0x5a, sizeof(st));
	ok(!pinmgr_stats(ctx, &st.s, sizeof(st.s)) && st.s.out_regions == 1 &&
	   st.s.out_pinned_pages == 1,
	   APP ": pinmgr_stats fills the fields the module knows");
	ok(guard_intact(st.g), APP ": pinmgr_stats writes nothing past the program's struct");
#ifdef PINMGR_FUTURE
	ok(future_zero(in.s.out_future), APP ": pinmgr_info: the fields the module does not know are 0");
	ok(future_zero(q.s.out_future), APP ": pinmgr_query: the fields the module does not know are 0");
	ok(future_zero(st.s.out_future), APP ": pinmgr_stats: the fields the module does not know are 0");
#endif
	pinmgr_unpin(ctx, h);
	pinmgr_close(ctx);
	return failed ? 1 : 0;
}
