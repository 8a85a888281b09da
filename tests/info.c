// SPDX-License-Identifier: GPL-2.0
/*
 * INFO contents, and the validation every ioctl shares: the size field
 * (too small, larger with a zero or non-zero tail, running into unmapped
 * memory), unknown flags, bad struct pointers, the size bits of the
 * command word (ignored) and its direction bits (must be read-write), and
 * unknown commands.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include "harness.h"

#define PARAMS "/sys/module/pinmgr/parameters/"

/* ---- the ioctls, generically ------------------------------------- */

struct ioc {
	const char *name;
	unsigned int nr;
	size_t size;
	size_t min_size;	/* the struct's first (v1) size */
	uint32_t known_flags;
	bool has_output;
	/* Fills in a struct (at @buf) that succeeds, except size/flags. */
	void (*prep)(struct pinmgr_ctx *ctx, void *buf);
};

static void prep_none(struct pinmgr_ctx *ctx, void *buf)
{
	(void)ctx;
	(void)buf;
}

static void prep_pin(struct pinmgr_ctx *ctx, void *buf)
{
	struct pinmgr_pin *p = buf;

	(void)ctx;
	p->addr = (uintptr_t)h_anon(h_ps);
	p->length = h_ps;
}

static void prep_pin_vec(struct pinmgr_ctx *ctx, void *buf)
{
	struct pinmgr_pin_vec *v = buf;
	struct pinmgr_pin_range *r = h_map(h_ps, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)ctx;
	r->addr = (uintptr_t)h_anon(h_ps);
	r->length = h_ps;
	v->count = 1;
	v->ranges = (uintptr_t)r;
}

/* Unpin a region pinned here and pin a new page, in one UPDATE. */
static void prep_update(struct pinmgr_ctx *ctx, void *buf)
{
	struct pinmgr_update *u = buf;
	struct pinmgr_pin_range *r = h_map(h_ps, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t *h = (uint32_t *)(r + 1);

	*h = h_pin(ctx, h_anon(h_ps), h_ps, 0);
	r->addr = (uintptr_t)h_anon(h_ps);
	r->length = h_ps;
	u->nr_unpin = 1;
	u->unpin = (uintptr_t)h;
	u->nr_pin = 1;
	u->pin = (uintptr_t)r;
}

static void close_out_fd(void *p, size_t n)
{
	const struct pinmgr_export_dmabuf *e = p;

	(void)n;
	if (e->out_fd >= 0)
		close(e->out_fd);
}

/* Export a page pinned here; the dma-buf made is closed after the case. */
static void prep_export(struct pinmgr_ctx *ctx, void *buf)
{
	struct pinmgr_export_dmabuf *e = buf;

	e->handle = h_pin(ctx, h_anon(h_ps), h_ps, 0);
	e->length = h_ps;
	e->out_fd = -1;
	h_defer(close_out_fd, e, 0);
}

/* unpin, query and segments all have the handle at the same offset */
static void prep_handle(struct pinmgr_ctx *ctx, void *buf)
{
	struct pinmgr_unpin *u = buf;

	u->handle = h_pin(ctx, h_anon(h_ps), h_ps, 0);
}

_Static_assert(offsetof(struct pinmgr_unpin, handle) ==
	       offsetof(struct pinmgr_query, handle), "handle offset");
_Static_assert(offsetof(struct pinmgr_unpin, handle) ==
	       offsetof(struct pinmgr_segments, handle), "handle offset");
_Static_assert(offsetof(struct pinmgr_unpin, handle) ==
	       offsetof(struct pinmgr_verify, handle), "handle offset");

static const struct ioc iocs[] = {
#define I_INFO 0
	{ "INFO", PINMGR_CMD_INFO, sizeof(struct pinmgr_info),
	  sizeof(struct pinmgr_info), 0, true,
	  prep_none },
#define I_PIN 1
	{ "PIN", PINMGR_CMD_PIN, sizeof(struct pinmgr_pin),
	  sizeof(struct pinmgr_pin), PINMGR_PIN_WRITE | PINMGR_PIN_NO_EVENTS, true,
	  prep_pin },
#define I_UNPIN 2
	{ "UNPIN", PINMGR_CMD_UNPIN, sizeof(struct pinmgr_unpin),
	  sizeof(struct pinmgr_unpin), 0, false,
	  prep_handle },
#define I_QUERY 3
	{ "QUERY", PINMGR_CMD_QUERY, sizeof(struct pinmgr_query),
	  sizeof(struct pinmgr_query), 0, true,
	  prep_handle },
#define I_SEGMENTS 4
	{ "SEGMENTS", PINMGR_CMD_SEGMENTS, sizeof(struct pinmgr_segments),
	  sizeof(struct pinmgr_segments), PINMGR_SEGMENTS_PHYS, true,
	  prep_handle },
#define I_STATS 5
	/* STATS grew out_metadata_bytes after its first version. */
	{ "STATS", PINMGR_CMD_STATS, sizeof(struct pinmgr_stats),
	  offsetof(struct pinmgr_stats, out_metadata_bytes), 0, true,
	  prep_none },
#define I_PIN_VEC 6
	{ "PIN_VEC", PINMGR_CMD_PIN_VEC, sizeof(struct pinmgr_pin_vec),
	  sizeof(struct pinmgr_pin_vec), PINMGR_PIN_WRITE | PINMGR_PIN_NO_EVENTS,
	  false, prep_pin_vec },
#define I_VERIFY 7
	{ "VERIFY", PINMGR_CMD_VERIFY, sizeof(struct pinmgr_verify),
	  sizeof(struct pinmgr_verify), 0, true,
	  prep_handle },
#define I_UPDATE 8
	{ "UPDATE", PINMGR_CMD_UPDATE, sizeof(struct pinmgr_update),
	  sizeof(struct pinmgr_update),
	  PINMGR_PIN_WRITE | PINMGR_PIN_NO_EVENTS | PINMGR_UPDATE_REPLACE, false,
	  prep_update },
#define I_EXPORT_DMABUF 9
	{ "EXPORT_DMABUF", PINMGR_CMD_EXPORT_DMABUF,
	  sizeof(struct pinmgr_export_dmabuf),
	  sizeof(struct pinmgr_export_dmabuf), 0, true, prep_export },
};

/* Preparations that leave a pinned region behind if the call fails. */
static bool prep_pins(const struct ioc *io)
{
	return io->prep == prep_handle || io->prep == prep_update ||
	       io->prep == prep_export;
}

static unsigned long cmd_of(const struct ioc *io)
{
	return _IOC(_IOC_READ | _IOC_WRITE, PINMGR_TYPE, io->nr, io->size);
}

static void set_hdr(void *buf, uint32_t size, uint32_t flags)
{
	memcpy(buf, &size, sizeof(size));
	memcpy((char *)buf + 4, &flags, sizeof(flags));
}

#define BUFSZ 512

/* A zeroed, prepared struct with a valid header in a BUFSZ buffer. */
static void *prepared(struct pinmgr_ctx *ctx, const struct ioc *io)
{
	void *buf = h_malloc(BUFSZ);

	io->prep(ctx, buf);
	set_hdr(buf, io->size, 0);
	return buf;
}

CASE(size_too_small)
{
	const struct ioc *io = arg;
	struct pinmgr_ctx *ctx = h_open();
	const uint32_t sizes[] = { 0, 4, 8, io->min_size - 8,
				   io->min_size - 1 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		void *buf = prepared(ctx, io);
		int ret;

		set_hdr(buf, sizes[i], 0);
		ret = h_ioctl(h_fd(ctx), cmd_of(io), buf);
		ASSERT_MSG(ret == -EINVAL, "%s size %u: expected -EINVAL, got %d (%s)",
			   io->name, sizes[i], ret,
			   ret < 0 ? h_errname(-ret) : "success");
	}
}

CASE(size_big_nonzero_tail)
{
	const struct ioc *io = arg;
	struct pinmgr_ctx *ctx = h_open();
	const size_t where[] = { 0, 7, 63 };
	struct pinmgr_stats st;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(where); i++) {
		unsigned char *buf = prepared(ctx, io);
		int ret;

		set_hdr(buf, io->size + 64, 0);
		buf[io->size + where[i]] = 1;
		ret = h_ioctl(h_fd(ctx), cmd_of(io), buf);
		ASSERT_MSG(ret == -E2BIG,
			   "%s size %zu, non-zero byte at %zu: expected -E2BIG, got %d (%s)",
			   io->name, io->size + 64, io->size + where[i], ret,
			   ret < 0 ? h_errname(-ret) : "success");
	}
	/* nothing happened: the preparation pinned 3 regions (unpin: 3 left) */
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, prep_pins(io) ? 3 : 0);
	ASSERT_EQ(st.out_unpins, 0);
}

CASE(size_big_zero_tail)
{
	const struct ioc *io = arg;
	struct pinmgr_ctx *ctx = h_open();
	unsigned char *buf = prepared(ctx, io);
	size_t i;

	set_hdr(buf, io->size + 64, 0);
	ASSERT_RET(h_ioctl(h_fd(ctx), cmd_of(io), buf), 0);
	for (i = io->size; i < BUFSZ; i++)
		ASSERT_MSG(buf[i] == 0, "%s wrote byte %zu (0x%02x) past its struct",
			   io->name, i, buf[i]);
}

/*
 * A size past a page, even with a zero tail: E2BIG, as openat2() and
 * clone3() answer, so that no call scans gigabytes of zeroes.
 */
CASE(size_over_page)
{
	const struct ioc *io = arg;
	struct pinmgr_ctx *ctx = h_open();
	unsigned char *buf = h_map(2 * h_ps, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	void *prep = prepared(ctx, io);

	memcpy(buf, prep, io->size);
	set_hdr(buf, h_ps + 1, 0);
	ASSERT_ERR(h_ioctl(h_fd(ctx), cmd_of(io), buf), E2BIG);
	set_hdr(buf, 0xfffffff0u, 0);
	ASSERT_ERR(h_ioctl(h_fd(ctx), cmd_of(io), buf), E2BIG);
	set_hdr(buf, h_ps, 0);
	ASSERT_RET(h_ioctl(h_fd(ctx), cmd_of(io), buf), 0);
	/* What the call made (a dma-buf's fd) is released with @prep. */
	memcpy(prep, buf, io->size);
}

/* The struct ends where a PROT_NONE page begins; size says 8 more. */
CASE(size_runs_into_unmapped)
{
	const struct ioc *io = arg;
	struct pinmgr_ctx *ctx = h_open();
	char *pages = h_map(2 * h_ps, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *s = pages + h_ps - io->size;
	struct pinmgr_stats st;

	io->prep(ctx, s);
	set_hdr(s, io->size + 8, 0);
	ASSERT_SYS(mprotect(pages + h_ps, h_ps, PROT_NONE));
	ASSERT_ERR(h_ioctl(h_fd(ctx), cmd_of(io), s), EFAULT);
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, prep_pins(io) ? 1 : 0);
}

/*
 * The struct in a page that is not mapped yet (a shared file page, written
 * with pwrite()): the call faults it in and works as from any other page.
 * The module's first, fault-free read of the struct fails there, so this
 * is the path that must fall back to the full one.
 */
CASE(struct_not_faulted_in)
{
	const struct ioc *io = arg;
	struct pinmgr_ctx *ctx = h_open();
	int fd = h_keep_fd(memfd_create("struct", MFD_CLOEXEC));
	void *prep = prepared(ctx, io);
	unsigned char *s;

	ASSERT_SYS(ftruncate(fd, h_ps));
	ASSERT_RET(pwrite(fd, prep, io->size, 0), (ssize_t)io->size);
	s = h_map(h_ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_MSG(h_pagemap_pfn(s) == 0, "the struct's page is mapped already");
	ASSERT_RET(h_ioctl(h_fd(ctx), cmd_of(io), s), 0);
	ASSERT_EQ(*(uint32_t *)s, io->size);
	/* What the call made (a dma-buf's fd) is released with @prep. */
	memcpy(prep, s, io->size);
}

CASE(unknown_flags)
{
	const struct ioc *io = arg;
	struct pinmgr_ctx *ctx = h_open();
	int bit;

	for (bit = 0; bit < 32; bit++) {
		void *buf;
		int ret;

		if (io->known_flags & (1u << bit))
			continue;
		buf = prepared(ctx, io);
		set_hdr(buf, io->size, 1u << bit);
		ret = h_ioctl(h_fd(ctx), cmd_of(io), buf);
		ASSERT_MSG(ret == -EINVAL,
			   "%s flags 0x%x: expected -EINVAL, got %d (%s)",
			   io->name, 1u << bit, ret,
			   ret < 0 ? h_errname(-ret) : "success");
	}
}

CASE(null_struct)
{
	const struct ioc *io = arg;
	struct pinmgr_ctx *ctx = h_open();

	ASSERT_ERR(h_ioctl(h_fd(ctx), cmd_of(io), NULL), EFAULT);
}

CASE(unmapped_struct)
{
	const struct ioc *io = arg;
	struct pinmgr_ctx *ctx = h_open();
	void *p = h_map(h_ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_ERR(h_ioctl(h_fd(ctx), cmd_of(io), p), EFAULT);
}

/* Readable but not writable: the result cannot be copied back. */
CASE(readonly_struct)
{
	const struct ioc *io = arg;
	struct pinmgr_ctx *ctx = h_open();
	void *p = h_map(h_ps, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pinmgr_stats st;

	io->prep(ctx, p);
	set_hdr(p, io->size, 0);
	ASSERT_SYS(mprotect(p, h_ps, PROT_READ));
	ASSERT_ERR(h_ioctl(h_fd(ctx), cmd_of(io), p), EFAULT);
	/* All or nothing: a PIN whose result cannot be returned is undone. */
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, prep_pins(io) ? 1 : 0);
	ASSERT_EQ(st.out_pinned_pages, io->prep == prep_handle ? 1 : 0);
	if (io->nr == PINMGR_CMD_PIN)
		ASSERT_VMPIN_KB(0);
}

/*
 * A file opened O_RDONLY may look (INFO, QUERY, STATS, SEGMENTS, VERIFY,
 * read()) but not pin or unpin: EBADF, as write() on it would answer.
 */
CASE(rdonly_no_pin)
{
	struct pinmgr_ctx *ctx = h_open();
	char *buf = h_anon(h_ps);
	uint32_t h = h_pin(ctx, buf, h_ps, 0);
	int fd = h_keep_fd(open(PINMGR_DEFAULT_PATH, O_RDONLY | O_CLOEXEC));
	struct pinmgr_pin p = { .size = sizeof(p), .addr = (uintptr_t)buf,
				.length = h_ps };
	struct pinmgr_pin_range rg = { .addr = (uintptr_t)buf, .length = h_ps };
	struct pinmgr_pin_vec v = { .size = sizeof(v), .count = 1,
				    .ranges = (uintptr_t)&rg };
	struct pinmgr_unpin u = { .size = sizeof(u), .handle = 1 };
	struct pinmgr_update up = { .size = sizeof(up), .nr_unpin = 1,
				    .unpin = (uintptr_t)&h, .nr_pin = 1,
				    .pin = (uintptr_t)&rg };
	struct pinmgr_info in = { .size = sizeof(in) };
	struct pinmgr_stats st = { .size = sizeof(st) };

	ASSERT_SYS(fd);
	ASSERT_ERR(h_ioctl(fd, PINMGR_PIN, &p), EBADF);
	ASSERT_ERR(h_ioctl(fd, PINMGR_PIN_VEC, &v), EBADF);
	ASSERT_ERR(h_ioctl(fd, PINMGR_UNPIN, &u), EBADF);
	ASSERT_ERR(h_ioctl(fd, PINMGR_UPDATE, &up), EBADF);
	ASSERT_OK(h_ioctl(fd, PINMGR_INFO, &in));
	ASSERT_OK(h_ioctl(fd, PINMGR_STATS, &st));
	ASSERT_EQ(st.out_regions, 0);
	ASSERT_EQ(st.out_failed_pins, 0);
	ASSERT_VMPIN_KB(PAGES_KB(1));
	ASSERT_OK(pinmgr_unpin(ctx, h));
}

/* Only the type and number of the command word count. */
CASE(cmd_size_ignored)
{
	const struct ioc *io = arg;
	struct pinmgr_ctx *ctx = h_open();
	const unsigned int sizes[] = { 0, 8, io->size + 8, _IOC_SIZEMASK };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		void *buf = prepared(ctx, io);
		unsigned long cmd = _IOC(_IOC_READ | _IOC_WRITE, PINMGR_TYPE,
					 io->nr, sizes[i]);
		int ret = h_ioctl(h_fd(ctx), cmd, buf);

		ASSERT_MSG(ret == 0, "%s with size %u in the command word: got %d (%s)",
			   io->name, sizes[i], ret,
			   ret < 0 ? h_errname(-ret) : "success");
	}
}

#define IOC_CASES(i, n)							\
	H_CASE_ARG(size_too_small, &iocs[i],				\
		   n " size 0, 4, 8, v1 size-8, v1 size-1 -> EINVAL"),	\
	H_CASE_ARG(size_big_nonzero_tail, &iocs[i],			\
		   n " size sizeof+64 with a non-zero tail -> E2BIG, no effect"), \
	H_CASE_ARG(size_big_zero_tail, &iocs[i],			\
		   n " size sizeof+64 with a zero tail -> ok, tail untouched"), \
	H_CASE_ARG(size_over_page, &iocs[i],				\
		   n " size page + 1 or 4 GiB, zero tail -> E2BIG; a page -> ok"), \
	H_CASE_ARG(size_runs_into_unmapped, &iocs[i],			\
		   n " size running into a PROT_NONE page -> EFAULT"),	\
	H_CASE_ARG(struct_not_faulted_in, &iocs[i],			\
		   n " struct in a page not mapped yet -> ok"),		\
	H_CASE_ARG(unknown_flags, &iocs[i],				\
		   n " each unknown flag bit -> EINVAL"),		\
	H_CASE_ARG(null_struct, &iocs[i], n " NULL struct -> EFAULT"),	\
	H_CASE_ARG(unmapped_struct, &iocs[i],				\
		   n " struct in a PROT_NONE page -> EFAULT"),		\
	H_CASE_ARG(cmd_size_ignored, &iocs[i],				\
		   n " other sizes in the command word -> ok"),		\
	H_CASE_ARG(enotty_other_dir, &iocs[i],				\
		   n " as _IO, _IOR, _IOW (not read-write) -> ENOTTY")

/* Userspace built against the first STATS struct keeps working. */
CASE(stats_v1_size)
{
	const size_t v1 = offsetof(struct pinmgr_stats, out_metadata_bytes);
	struct pinmgr_ctx *ctx = h_open();
	unsigned char buf[BUFSZ];
	struct pinmgr_stats st;

	h_pin(ctx, h_anon(h_ps), h_ps, 0);
	memset(buf, 0xa5, sizeof(buf));
	memset(buf, 0, v1);
	set_hdr(buf, v1, 0);
	ASSERT_OK(h_ioctl(h_fd(ctx), PINMGR_STATS, buf));
	memcpy(&st, buf, v1);
	ASSERT_EQ(st.out_regions, 1);
	ASSERT_EQ(st.out_pinned_pages, 1);
	ASSERT_MSG(buf[v1] == 0xa5 && buf[sizeof(st) - 1] == 0xa5,
		   "STATS wrote past the %zu bytes it was given", v1);
}

/* ---- INFO contents ------------------------------------------------ */

static void info(struct pinmgr_info *in)
{
	ASSERT_OK(pinmgr_info(h_open(), in, sizeof(*in)));
}

CASE(info_abi)
{
	struct pinmgr_info in;

	info(&in);
	ASSERT_EQ(in.out_abi_version, PINMGR_ABI_VERSION);
}

CASE(info_page_size)
{
	struct pinmgr_info in;

	info(&in);
	ASSERT_EQ(in.out_page_size, sysconf(_SC_PAGESIZE));
}

CASE(info_pin_flags)
{
	struct pinmgr_info in;

	info(&in);
	ASSERT_EQ(in.out_pin_flags, PINMGR_PIN_WRITE | PINMGR_PIN_NO_EVENTS);
}

CASE(info_segments_flags)
{
	struct pinmgr_info in;

	info(&in);
	ASSERT_EQ(in.out_segments_flags, PINMGR_SEGMENTS_PHYS);
}

CASE(info_limits)
{
	struct pinmgr_info in;
	uint64_t pages, regions;

	ASSERT_OK(h_param_read("max_pages_per_pin", &pages));
	ASSERT_OK(h_param_read("max_regions", &regions));
	info(&in);
	ASSERT_EQ(in.out_max_pages_per_pin, pages);
	ASSERT_EQ(in.out_max_regions, regions);
	ASSERT_NE(pages, 0);
	ASSERT_NE(regions, 0);
}

CASE(info_caps_known)
{
	struct pinmgr_info in;

	info(&in);
	ASSERT_MSG(!(in.out_caps & ~(uint64_t)(PINMGR_CAP_PHYS | PINMGR_CAP_TEST_ACCESS |
					      PINMGR_CAP_EVENTS |
					      PINMGR_CAP_EXPORT_DMABUF |
					      PINMGR_CAP_UPDATE_REPLACE)),
		   "out_caps 0x%llx has unknown bits",
		   (unsigned long long)in.out_caps);
}

/* Output is copied back only up to size: bytes after it stay as they are. */
CASE(info_no_write_past_size)
{
	struct pinmgr_ctx *ctx = h_open();
	unsigned char *buf = h_malloc(BUFSZ);
	size_t i;

	memset(buf, 0xa5, BUFSZ);
	memset(buf, 0, sizeof(struct pinmgr_info));
	set_hdr(buf, sizeof(struct pinmgr_info), 0);
	ASSERT_OK(h_ioctl(h_fd(ctx), PINMGR_INFO, buf));
	for (i = sizeof(struct pinmgr_info); i < BUFSZ; i++)
		ASSERT_MSG(buf[i] == 0xa5, "byte %zu past the struct changed to 0x%02x",
			   i, buf[i]);
}

CASE(info_ignores_out_garbage)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_info in, ref;

	ASSERT_OK(pinmgr_info(ctx, &ref, sizeof(ref)));
	memset(&in, 0xff, sizeof(in));
	in.size = sizeof(in);
	in.flags = 0;
	ASSERT_OK(h_ioctl(h_fd(ctx), PINMGR_INFO, &in));
	ASSERT(!memcmp(&in, &ref, sizeof(in)));
}

CASE(info_dup_fd)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_info in, ref;
	int fd = h_keep_fd(dup(h_fd(ctx)));

	ASSERT_OK(pinmgr_info(ctx, &ref, sizeof(ref)));
	memset(&in, 0, sizeof(in));
	in.size = sizeof(in);
	ASSERT_OK(h_ioctl(fd, PINMGR_INFO, &in));
	ASSERT(!memcmp(&in, &ref, sizeof(in)));
}

/* The direction bits are part of the match: always read-write. */
CASE(enotty_other_dir)
{
	const struct ioc *io = arg;
	struct pinmgr_ctx *ctx = h_open();
	const unsigned int dirs[] = { _IOC_NONE, _IOC_READ, _IOC_WRITE };
	const char *const names[] = { "_IO", "_IOR", "_IOW" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		void *buf = prepared(ctx, io);
		unsigned long cmd = _IOC(dirs[i], PINMGR_TYPE, io->nr, io->size);
		int ret = h_ioctl(h_fd(ctx), cmd, buf);

		ASSERT_MSG(ret == -ENOTTY, "%s as %s: expected -ENOTTY, got %d (%s)",
			   io->name, names[i], ret,
			   ret < 0 ? h_errname(-ret) : "success");
	}
}

/* ---- unknown commands --------------------------------------------- */

CASE(enotty_next_nr)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_info in = { .size = sizeof(in) };

	ASSERT_ERR(h_ioctl(h_fd(ctx), _IOWR(PINMGR_TYPE, PINMGR_CMD_EXPORT_DMABUF + 1,
					   struct pinmgr_info), NULL), ENOTTY);
	ASSERT_ERR(h_ioctl(h_fd(ctx), _IOWR(PINMGR_TYPE, PINMGR_CMD_EXPORT_DMABUF + 1,
					   struct pinmgr_info), &in), ENOTTY);
}

CASE(enotty_nr_ff)
{
	struct pinmgr_ctx *ctx = h_open();

	ASSERT_ERR(h_ioctl(h_fd(ctx), _IOWR(PINMGR_TYPE, 0xff,
					   struct pinmgr_info), NULL), ENOTTY);
}

CASE(enotty_other_type)
{
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_info in = { .size = sizeof(in) };

	ASSERT_ERR(h_ioctl(h_fd(ctx), _IOWR(PINMGR_TYPE + 1, PINMGR_CMD_INFO,
					   struct pinmgr_info), &in), ENOTTY);
	ASSERT_ERR(h_ioctl(h_fd(ctx), _IOWR(0, PINMGR_CMD_INFO,
					   struct pinmgr_info), &in), ENOTTY);
}

CASE(enotty_tcgets)
{
	struct pinmgr_ctx *ctx = h_open();
	struct termios t;

	ASSERT_ERR(h_ioctl(h_fd(ctx), TCGETS, &t), ENOTTY);
	ASSERT_EQ(isatty(h_fd(ctx)), 0);
}

static const struct h_case cases[] = {
	H_CASE(info_abi, "INFO out_abi_version == PINMGR_ABI_VERSION"),
	H_CASE(info_page_size, "INFO out_page_size == sysconf(_SC_PAGESIZE)"),
	H_CASE(info_pin_flags, "INFO out_pin_flags == PINMGR_PIN_WRITE | PINMGR_PIN_NO_EVENTS"),
	H_CASE(info_segments_flags,
	       "INFO out_segments_flags == PINMGR_SEGMENTS_PHYS"),
	H_CASE(info_limits, "INFO limits == " PARAMS "{max_pages_per_pin,max_regions}"),
	H_CASE(info_caps_known, "INFO out_caps has only known bits"),
	H_CASE(info_no_write_past_size, "INFO writes nothing past size"),
	H_CASE(info_ignores_out_garbage, "INFO ignores garbage in out_ fields"),
	H_CASE(info_dup_fd, "INFO through a dup()ed fd -> same answer"),
	IOC_CASES(I_INFO, "INFO"),
	IOC_CASES(I_PIN, "PIN"),
	IOC_CASES(I_UNPIN, "UNPIN"),
	IOC_CASES(I_QUERY, "QUERY"),
	IOC_CASES(I_SEGMENTS, "SEGMENTS"),
	IOC_CASES(I_STATS, "STATS"),
	IOC_CASES(I_PIN_VEC, "PIN_VEC"),
	IOC_CASES(I_VERIFY, "VERIFY"),
	IOC_CASES(I_UPDATE, "UPDATE"),
	IOC_CASES(I_EXPORT_DMABUF, "EXPORT_DMABUF"),
	H_CASE_ARG(readonly_struct, &iocs[I_INFO],
		   "INFO struct in a read-only page -> EFAULT"),
	H_CASE_ARG(readonly_struct, &iocs[I_PIN],
		   "PIN struct in a read-only page -> EFAULT, nothing pinned"),
	H_CASE_ARG(readonly_struct, &iocs[I_QUERY],
		   "QUERY struct in a read-only page -> EFAULT"),
	H_CASE_ARG(readonly_struct, &iocs[I_SEGMENTS],
		   "SEGMENTS struct in a read-only page -> EFAULT"),
	H_CASE_ARG(readonly_struct, &iocs[I_STATS],
		   "STATS struct in a read-only page -> EFAULT"),
	H_CASE_ARG(readonly_struct, &iocs[I_VERIFY],
		   "VERIFY struct in a read-only page -> EFAULT"),
	H_CASE(enotty_next_nr, "ioctl number PINMGR_CMD_EXPORT_DMABUF+1 -> ENOTTY"),
	H_CASE(rdonly_no_pin, "file opened O_RDONLY: PIN, PIN_VEC, UNPIN, UPDATE -> EBADF; INFO, STATS ok"),
	H_CASE(stats_v1_size, "STATS with its v1 size -> ok, nothing written past it"),
	H_CASE(enotty_nr_ff, "ioctl number 0xff, NULL arg -> ENOTTY"),
	H_CASE(enotty_other_type, "ioctl type 0xBD and 0 -> ENOTTY"),
	H_CASE(enotty_tcgets, "TCGETS -> ENOTTY (not a tty)"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
