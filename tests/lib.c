// SPDX-License-Identifier: GPL-2.0
/*
 * libpinmgr itself: argument checks, the -errno convention (never errno),
 * how it opens the device, and that it fills in size/handle itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static struct pinmgr_ctx *const bogus = (struct pinmgr_ctx *)0x1;

CASE(open_null_ctxp)
{
	ASSERT_ERR(pinmgr_open(NULL), EINVAL);
	ASSERT_ERR(pinmgr_open_path(PINMGR_DEFAULT_PATH, NULL), EINVAL);
}

CASE(open_path_null)
{
	struct pinmgr_ctx *ctx = bogus;

	ASSERT_ERR(pinmgr_open_path(NULL, &ctx), EINVAL);
	ASSERT(ctx == NULL);
}

CASE(open_path_enoent)
{
	struct pinmgr_ctx *ctx = bogus;

	errno = 0;
	ASSERT_ERR(pinmgr_open_path("/nonexistent/pinmgr", &ctx), ENOENT);
	ASSERT(ctx == NULL);
}

CASE(open_path_eisdir)
{
	struct pinmgr_ctx *ctx = bogus;

	ASSERT_ERR(pinmgr_open_path("/", &ctx), EISDIR);
	ASSERT(ctx == NULL);
}

static void close_ctx(void *p, size_t n)
{
	(void)n;
	pinmgr_close(p);
}

CASE(open_not_pinmgr)
{
	struct pinmgr_ctx *ctx;
	struct pinmgr_info in;
	uint32_t h;

	ASSERT_OK(pinmgr_open_path("/dev/null", &ctx));
	h_defer(close_ctx, ctx, 0);
	ASSERT_ERR(pinmgr_info(ctx, &in, sizeof(in)), ENOTTY);
	ASSERT_ERR(pinmgr_pin(ctx, &in, sizeof(in), 0, &h), ENOTTY);
}

CASE(open_default_path)
{
	struct pinmgr_ctx *ctx = h_open();
	struct stat a, b;

	ASSERT_SYS(fstat(h_fd(ctx), &a));
	ASSERT_SYS(stat(PINMGR_DEFAULT_PATH, &b));
	ASSERT(S_ISCHR(a.st_mode));
	ASSERT_EQ(a.st_rdev, b.st_rdev);
}

CASE(open_flags)
{
	struct pinmgr_ctx *ctx = h_open();
	int fl = ASSERT_SYS(fcntl(h_fd(ctx), F_GETFL));
	int fdfl = ASSERT_SYS(fcntl(h_fd(ctx), F_GETFD));

	ASSERT_EQ(fl & O_ACCMODE, O_RDWR);
	ASSERT_EQ(fdfl & FD_CLOEXEC, FD_CLOEXEC);
}

CASE(close_null)
{
	pinmgr_close(NULL);
}

CASE(fd_null)
{
	ASSERT_ERR(pinmgr_fd(NULL), EINVAL);
}

CASE(null_ctx)
{
	struct pinmgr_segment seg;
	struct pinmgr_info in;
	struct pinmgr_query q;
	struct pinmgr_stats st;
	uint32_t h = 0;
	char c = 0;

	ASSERT_ERR(pinmgr_info(NULL, &in, sizeof(in)), EINVAL);
	ASSERT_ERR(pinmgr_pin(NULL, &c, 1, 0, &h), EINVAL);
	ASSERT_ERR(pinmgr_unpin(NULL, 1), EINVAL);
	ASSERT_ERR(pinmgr_query(NULL, 1, &q, sizeof(q)), EINVAL);
	ASSERT_ERR(pinmgr_segments(NULL, 1, 0, 0, &seg, 1), EINVAL);
	ASSERT_ERR(pinmgr_stats(NULL, &st, sizeof(st)), EINVAL);
}

CASE(null_outputs)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(h_ps);
	struct pinmgr_stats st;

	ASSERT_ERR(pinmgr_info(ctx, NULL, sizeof(struct pinmgr_info)), EINVAL);
	ASSERT_ERR(pinmgr_pin(ctx, buf, h_ps, 0, NULL), EINVAL);
	ASSERT_ERR(pinmgr_query(ctx, 1, NULL, sizeof(struct pinmgr_query)), EINVAL);
	ASSERT_ERR(pinmgr_segments(ctx, 1, 0, 0, NULL, 1), EINVAL);
	ASSERT_ERR(pinmgr_stats(ctx, NULL, sizeof(struct pinmgr_stats)), EINVAL);
	/* nothing reached the module */
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_pins, 0);
	ASSERT_EQ(st.out_failed_pins, 0);
}

CASE(segments_null_capacity_0)
{
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, h_anon(h_ps), h_ps, 0);

	ASSERT_RET(pinmgr_segments(ctx, h, 0, 0, NULL, 0), 0);
}

CASE(segments_returns_count)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon_untouched(8 * h_ps);	/* zero page: 8 segments */
	uint32_t h = h_pin(ctx, buf, 8 * h_ps, 0);
	struct pinmgr_segment segs[16];
	struct pinmgr_query q;

	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));
	if (q.out_nsegs < 3)
		h_skip("only %llu segments", (unsigned long long)q.out_nsegs);
	ASSERT_RET(pinmgr_segments(ctx, h, 0, 0, segs, 16), (int)q.out_nsegs);
	ASSERT_RET(pinmgr_segments(ctx, h, 0, 0, segs, 2), 2);
	ASSERT_RET(pinmgr_segments(ctx, h, 0, 1, segs, 16), (int)q.out_nsegs - 1);
	ASSERT_RET(pinmgr_segments(ctx, h, 0, q.out_nsegs, segs, 16), 0);
}

CASE(pin_failure_keeps_handle)
{
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = 0x5555;

	ASSERT_ERR(pinmgr_pin(ctx, NULL, h_ps, 0, &h), EFAULT);
	ASSERT_EQ(h, 0x5555);
	ASSERT_ERR(pinmgr_pin(ctx, h_anon(h_ps), 0, 0, &h), EINVAL);
	ASSERT_EQ(h, 0x5555);
}

CASE(fills_size_itself)
{
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, h_anon(h_ps), h_ps, 0);
	struct pinmgr_info in;
	struct pinmgr_query q;
	struct pinmgr_stats st;

	memset(&in, 0xff, sizeof(in));
	memset(&q, 0xff, sizeof(q));
	memset(&st, 0xff, sizeof(st));
	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	ASSERT_EQ(in.size, sizeof(in));
	ASSERT_EQ(in.out_abi_version, PINMGR_ABI_VERSION);
	ASSERT_OK(pinmgr_query(ctx, h, &q, sizeof(q)));
	ASSERT_EQ(q.handle, h);
	ASSERT_EQ(q.out_npages, 1);
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 1);
}

/*
 * The caller's size travels (docs/abi.md): a struct from an older header
 * (smaller) gets what fits and nothing beyond it is written; one from a
 * newer header (bigger) gets its unknown tail zeroed; a size below the
 * fields the library sets is -EINVAL, one the module refuses its errno.
 */
CASE(caller_size)
{
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, h_anon(h_ps), h_ps, 0);
	size_t old = offsetof(struct pinmgr_info, out_max_pages_per_pin);
	union {
		struct pinmgr_info in;
		struct pinmgr_query q;
		struct pinmgr_stats st;
		uint8_t b[256];
	} u;
	size_t i;

	/* bigger: the module fills its struct, the tail stays zero */
	memset(&u, 0xee, sizeof(u));
	ASSERT_OK(pinmgr_info(ctx, &u.in, sizeof(u.in) + 64));
	ASSERT_EQ(u.in.size, sizeof(u.in) + 64);
	ASSERT_EQ(u.in.out_page_size, h_ps);
	for (i = sizeof(u.in); i < sizeof(u.in) + 64; i++)
		ASSERT_MSG(!u.b[i], "byte %zu past the struct is %#x", i, u.b[i]);
	ASSERT_EQ(u.b[sizeof(u.in) + 64], 0xee);
	memset(&u, 0xee, sizeof(u));
	ASSERT_OK(pinmgr_query(ctx, h, &u.q, sizeof(u.q) + 8));
	ASSERT_EQ(u.q.out_npages, 1);
	ASSERT_EQ(u.b[sizeof(u.q) + 8], 0xee);
	memset(&u, 0xee, sizeof(u));
	ASSERT_OK(pinmgr_stats(ctx, &u.st, sizeof(u.st) + 8));
	ASSERT_EQ(u.st.out_regions, 1);
	ASSERT_EQ(u.b[sizeof(u.st) + 8], 0xee);

	/* smaller than the module's first version: -EINVAL, nothing past it */
	memset(&u, 0xee, sizeof(u));
	ASSERT_ERR(pinmgr_info(ctx, &u.in, old), EINVAL);
	for (i = old; i < sizeof(u); i++)
		ASSERT_MSG(u.b[i] == 0xee, "byte %zu past a %zu-byte struct written", i, old);
	/* below the fields the library sets */
	ASSERT_ERR(pinmgr_info(ctx, &u.in, 4), EINVAL);
	ASSERT_ERR(pinmgr_query(ctx, h, &u.q, offsetof(struct pinmgr_query, handle)), EINVAL);
	ASSERT_ERR(pinmgr_stats(ctx, &u.st, 0), EINVAL);
	/* beyond what the module reads (a page): refused before writing */
	{
		size_t big = (size_t)h_ps + 8;
		uint8_t *p = h_malloc(big);

		memset(p, 0xee, big);
		ASSERT_ERR(pinmgr_stats(ctx, (struct pinmgr_stats *)p, big), E2BIG);
		ASSERT_MSG(p[0] == 0xee && p[big - 1] == 0xee, "-E2BIG, but the struct was written");
	}
	/* no context: refused before writing */
	memset(&u, 0xee, sizeof(u));
	ASSERT_ERR(pinmgr_info(NULL, &u.in, sizeof(u.in)), EINVAL);
	ASSERT_MSG(u.b[0] == 0xee && u.b[sizeof(u.in) - 1] == 0xee,
		   "-EINVAL for a NULL ctx, but the struct was written");
}

/* The result is in the return value whatever errno held before... */
CASE(errno_not_used)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_info in;
	struct pinmgr_query q;

	errno = EAGAIN;
	ASSERT_OK(pinmgr_info(ctx, &in, sizeof(in)));
	errno = 0;
	ASSERT_ERR(pinmgr_query(ctx, 424242, &q, sizeof(q)), ENOENT);
	errno = EINVAL;
	ASSERT_ERR(pinmgr_unpin(ctx, 424242), ENOENT);
}

/* ...and errno is left as it was, on success and on failure. */
#define ASSERT_ERRNO_KEPT(expr)						\
	do {								\
		errno = 9999;						\
		(void)(expr);						\
		ASSERT_MSG(errno == 9999, "%s changed errno to %s", #expr, \
			   h_errname(errno));				\
	} while (0)

CASE(errno_untouched)
{
	struct pinmgr_ctx *ctx = h_open(), *other = NULL;
	char *buf = h_anon(h_ps);
	struct pinmgr_segment seg;
	struct pinmgr_info in;
	struct pinmgr_query q;
	struct pinmgr_stats st;
	uint32_t h = 0;

	ASSERT_ERRNO_KEPT(pinmgr_open_path("/nonexistent/pinmgr", &other));
	ASSERT_ERRNO_KEPT(pinmgr_open(&other));
	ASSERT_ERRNO_KEPT(pinmgr_close(other));
	ASSERT_ERRNO_KEPT(pinmgr_info(ctx, &in, sizeof(in)));
	ASSERT_ERRNO_KEPT(pinmgr_pin(ctx, buf, h_ps, 0, &h));
	ASSERT_ERRNO_KEPT(pinmgr_pin(ctx, NULL, h_ps, 0, &h));
	ASSERT_ERRNO_KEPT(pinmgr_query(ctx, h, &q, sizeof(q)));
	ASSERT_ERRNO_KEPT(pinmgr_query(ctx, 0, &q, sizeof(q)));
	ASSERT_ERRNO_KEPT(pinmgr_segments(ctx, h, 0, 0, &seg, 1));
	ASSERT_ERRNO_KEPT(pinmgr_segments(ctx, 0, 0, 0, &seg, 1));
	ASSERT_ERRNO_KEPT(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_ERRNO_KEPT(pinmgr_unpin(ctx, h));
	ASSERT_ERRNO_KEPT(pinmgr_unpin(ctx, h));
	ASSERT_ERRNO_KEPT(pinmgr_info(NULL, &in, sizeof(in)));
	ASSERT_ERRNO_KEPT(pinmgr_fd(NULL));
}

CASE(two_contexts)
{
	struct pinmgr_ctx *a = h_open(), *b = h_open();
	struct pinmgr_stats st;

	ASSERT_NE(h_fd(a), h_fd(b));
	h_pin(a, h_anon(h_ps), h_ps, 0);
	ASSERT_OK(pinmgr_stats(b, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 0);
}

static const struct h_case cases[] = {
	H_CASE(open_null_ctxp, "pinmgr_open(NULL) / pinmgr_open_path(path, NULL) -> -EINVAL"),
	H_CASE(open_path_null, "pinmgr_open_path(NULL, &ctx) -> -EINVAL, ctx NULL"),
	H_CASE(open_path_enoent, "pinmgr_open_path(nonexistent) -> -ENOENT, ctx NULL"),
	H_CASE(open_path_eisdir, "pinmgr_open_path(\"/\") -> -EISDIR, ctx NULL"),
	H_CASE(open_not_pinmgr, "pinmgr_open_path(/dev/null) opens, its ioctls -> -ENOTTY"),
	H_CASE(open_default_path, "pinmgr_open opens " PINMGR_DEFAULT_PATH),
	H_CASE(open_flags, "the fd is O_RDWR and FD_CLOEXEC"),
	H_CASE(close_null, "pinmgr_close(NULL) is a no-op"),
	H_CASE(fd_null, "pinmgr_fd(NULL) -> -EINVAL"),
	H_CASE(null_ctx, "every ioctl function with a NULL ctx -> -EINVAL"),
	H_CASE(null_outputs, "NULL info/handle/query/segs(capacity 1)/stats -> -EINVAL, no ioctl made"),
	H_CASE(segments_null_capacity_0, "pinmgr_segments(segs NULL, capacity 0) -> 0"),
	H_CASE(segments_returns_count, "pinmgr_segments returns the number written"),
	H_CASE(pin_failure_keeps_handle, "pinmgr_pin failure -> -errno, *handle untouched"),
	H_CASE(fills_size_itself, "info/query/stats set size (and handle) over caller garbage"),
	H_CASE(caller_size, "info/query/stats take the caller's size: bigger -> tail zeroed, smaller than v1 -> -EINVAL, over a page -> -E2BIG"),
	H_CASE(errno_not_used, "results do not depend on errno's previous value"),
	H_CASE(errno_untouched, "every function leaves errno unchanged, on success and failure"),
	H_CASE(two_contexts, "two contexts are independent files"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
