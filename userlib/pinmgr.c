// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libpinmgr: userspace access to /dev/pinmgr.
 *
 * A thin, stateless wrapper around the ioctls of <linux/pinmgr.h>. A
 * context only holds the file descriptor and is never modified after
 * pinmgr_open_path() returned it, so any number of threads may use it at
 * once (closing it while another thread still uses it is, as for any file
 * descriptor, the caller's bug).
 *
 * Error convention (as liburing's): every function returns 0, or a
 * non-negative count, on success and a negative errno on failure. errno is
 * never the way a result is reported: every function leaves it as it found
 * it, success or failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pinmgr.h"

/*
 * Built with -fvisibility=hidden: only what is marked here is exported, and
 * libpinmgr.map gives it the LIBPINMGR_0.1 version.
 */
#define PINMGR_EXPORT __attribute__((visibility("default")))

struct pinmgr_ctx {
	int fd;
};

/*
 * The one place a libc return value is turned into our convention: @ret, or
 * -errno if it is negative; errno goes back to @saved_errno, the caller's
 * value from before the call.
 */
static inline int pinmgr_ret(int ret, int saved_errno)
{
	if (ret < 0)
		ret = -errno;
	errno = saved_errno;
	return ret;
}

static int pinmgr_ioctl(const struct pinmgr_ctx *ctx, unsigned long cmd,
			void *arg)
{
	int saved_errno = errno;

	return pinmgr_ret(ioctl(ctx->fd, cmd, arg), saved_errno);
}

/*
 * A struct the module fills in, @size bytes as the caller compiled it
 * (docs/abi.md): zeroed, its size set, at least @min bytes (the fields the
 * library sets itself). The module fills what it knows, as much as fits,
 * and leaves the rest zero, so a program and a library built with
 * different versions of <linux/pinmgr.h> still agree. Nothing is written
 * unless the call can go ahead: a NULL @ctx, a size below @min or above
 * what the module reads (a page) returns at once.
 */
static int pinmgr_out_struct(const struct pinmgr_ctx *ctx, void *out,
			     size_t size, size_t min)
{
	uint32_t sz = (uint32_t)size;
	long ps = sysconf(_SC_PAGESIZE);

	if (!ctx || !out || size < min)
		return -EINVAL;
	if (size > UINT32_MAX || (ps > 0 && size > (size_t)ps))
		return -E2BIG;
	memset(out, 0, size);
	memcpy(out, &sz, sizeof(sz));
	return 0;
}

#define PINMGR_MIN_SIZE(type, member) \
	(offsetof(type, member) + sizeof(((type *)0)->member))

/**
 * pinmgr_open_path() - open a pinmgr device node
 * @path: the device node, e.g. %PINMGR_DEFAULT_PATH
 * @ctxp: where to store the new context
 *
 * Opens @path O_RDWR | O_CLOEXEC. The file's limits (see PINMGR_INFO) and
 * its right to physical addresses are fixed now, and only this process (and
 * its threads) may issue ioctls on it.
 *
 * Return: 0 and *@ctxp set; or -EINVAL if @path or @ctxp is NULL, -ENOMEM,
 * or the negative errno of open(2) (-ENOENT when the module is not loaded,
 * -EACCES without permission, ...), with *@ctxp set to NULL.
 */
PINMGR_EXPORT int pinmgr_open_path(const char *path, struct pinmgr_ctx **ctxp)
{
	int saved_errno = errno;
	struct pinmgr_ctx *ctx;
	int fd;

	if (!ctxp)
		return -EINVAL;
	*ctxp = NULL;
	if (!path)
		return -EINVAL;

	fd = pinmgr_ret(open(path, O_RDWR | O_CLOEXEC), saved_errno);
	if (fd < 0)
		return fd;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		close(fd);
		errno = saved_errno;
		return -ENOMEM;
	}
	ctx->fd = fd;
	*ctxp = ctx;
	return 0;
}

/**
 * pinmgr_open() - open %PINMGR_DEFAULT_PATH
 * @ctxp: where to store the new context
 *
 * Return: as pinmgr_open_path().
 */
PINMGR_EXPORT int pinmgr_open(struct pinmgr_ctx **ctxp)
{
	return pinmgr_open_path(PINMGR_DEFAULT_PATH, ctxp);
}

/**
 * pinmgr_close() - close a context
 * @ctx: the context, or NULL (nothing is done)
 *
 * Closes the file descriptor and frees @ctx. When this was the last
 * reference to the open file, the module unpins every region still pinned
 * through it.
 */
PINMGR_EXPORT void pinmgr_close(struct pinmgr_ctx *ctx)
{
	int saved_errno = errno;

	if (!ctx)
		return;
	close(ctx->fd);
	free(ctx);
	errno = saved_errno;
}

/**
 * pinmgr_fd() - the file descriptor of a context
 * @ctx: the context
 *
 * The descriptor stays owned by @ctx: do not close it.
 *
 * Return: the descriptor, or -EINVAL if @ctx is NULL.
 */
PINMGR_EXPORT int pinmgr_fd(const struct pinmgr_ctx *ctx)
{
	if (!ctx)
		return -EINVAL;
	return ctx->fd;
}

/**
 * pinmgr_info() - PINMGR_INFO
 * @ctx: the context
 * @info: filled in on success
 * @size: sizeof(*@info) as the caller was compiled
 *
 * The library zero-fills @size bytes at @info and sets @info->size itself:
 * whatever the caller left there is ignored.
 *
 * Return: 0, or -EINVAL if @ctx or @info is NULL or @size is too small for
 * the module, -E2BIG if @size is too big for it, or the ioctl's -errno.
 */
PINMGR_EXPORT int pinmgr_info(struct pinmgr_ctx *ctx, struct pinmgr_info *info,
			      size_t size)
{
	int ret = pinmgr_out_struct(ctx, info, size,
				    PINMGR_MIN_SIZE(struct pinmgr_info, flags));

	if (ret)
		return ret;
	return pinmgr_ioctl(ctx, PINMGR_INFO, info);
}

/**
 * pinmgr_pin() - PINMGR_PIN
 * @ctx: the context
 * @addr: first byte to pin, any alignment
 * @length: number of bytes, not 0
 * @flags: &enum pinmgr_pin_flags
 * @handle: the new region's handle on success; untouched on failure
 *
 * Use pinmgr_query() for the region's page count, offset and segments.
 *
 * Return: 0, or -EINVAL if @ctx or @handle is NULL, or the ioctl's -errno
 * (see the errno table of <linux/pinmgr.h>).
 */
PINMGR_EXPORT int pinmgr_pin(struct pinmgr_ctx *ctx, const void *addr,
			     size_t length, unsigned int flags,
			     uint32_t *handle)
{
	struct pinmgr_pin pin;
	int ret;

	if (!ctx || !handle)
		return -EINVAL;
	memset(&pin, 0, sizeof(pin));
	pin.size = sizeof(pin);
	pin.flags = flags;
	pin.addr = (uintptr_t)addr;
	pin.length = length;
	ret = pinmgr_ioctl(ctx, PINMGR_PIN, &pin);
	if (ret < 0)
		return ret;
	*handle = pin.out_handle;
	return 0;
}

/**
 * pinmgr_unpin() - PINMGR_UNPIN
 * @ctx: the context
 * @handle: a handle returned by pinmgr_pin() on this context
 *
 * Return: 0, -EINVAL if @ctx is NULL, -ENOENT if no region has @handle, or
 * the ioctl's -errno.
 */
PINMGR_EXPORT int pinmgr_unpin(struct pinmgr_ctx *ctx, uint32_t handle)
{
	struct pinmgr_unpin unpin;

	if (!ctx)
		return -EINVAL;
	memset(&unpin, 0, sizeof(unpin));
	unpin.size = sizeof(unpin);
	unpin.handle = handle;
	return pinmgr_ioctl(ctx, PINMGR_UNPIN, &unpin);
}

/**
 * pinmgr_query() - PINMGR_QUERY
 * @ctx: the context
 * @handle: the region
 * @query: filled in on success
 * @size: sizeof(*@query) as the caller was compiled
 *
 * The library zero-fills @size bytes at @query and sets @query->size and
 * @query->handle itself.
 *
 * Return: 0, -EINVAL if @ctx or @query is NULL or @size is too small for
 * the module, -E2BIG if @size is too big for it, -ENOENT if no region has
 * @handle, or the ioctl's -errno.
 */
PINMGR_EXPORT int pinmgr_query(struct pinmgr_ctx *ctx, uint32_t handle,
			       struct pinmgr_query *query, size_t size)
{
	int ret = pinmgr_out_struct(ctx, query, size,
				    PINMGR_MIN_SIZE(struct pinmgr_query, handle));

	if (ret)
		return ret;
	query->handle = handle;
	return pinmgr_ioctl(ctx, PINMGR_QUERY, query);
}

/**
 * pinmgr_segments() - PINMGR_SEGMENTS
 * @ctx: the context
 * @handle: the region
 * @flags: &enum pinmgr_segments_flags
 * @start: index of the first segment wanted
 * @segs: array of @capacity segments to fill in (may be NULL if @capacity
 *	is 0)
 * @capacity: number of entries at @segs
 *
 * The module may return fewer segments than asked for (it copies at most a
 * page of them per call): call again with @start increased by the return
 * value until it returns 0. The total number of segments is
 * &pinmgr_query.out_nsegs.
 *
 * Return: the number of segments written (0 when @start is at or past the
 * end), -EINVAL if @ctx is NULL or @segs is NULL with a non-zero
 * @capacity, -ENOENT if no region has @handle, -EPERM for
 * %PINMGR_SEGMENTS_PHYS on a file opened without CAP_SYS_ADMIN, or the
 * ioctl's -errno.
 */
PINMGR_EXPORT int pinmgr_segments(struct pinmgr_ctx *ctx, uint32_t handle,
				  unsigned int flags, uint64_t start,
				  struct pinmgr_segment *segs,
				  unsigned int capacity)
{
	struct pinmgr_segments req;
	int ret;

	if (!ctx || (!segs && capacity))
		return -EINVAL;
	/* The count is returned as an int: never ask for more. */
	if (capacity > INT_MAX)
		capacity = INT_MAX;
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.flags = flags;
	req.handle = handle;
	req.start = start;
	req.capacity = capacity;
	req.segs = (uintptr_t)segs;
	ret = pinmgr_ioctl(ctx, PINMGR_SEGMENTS, &req);
	if (ret < 0)
		return ret;
	if (req.out_count > capacity)	/* cannot happen with a sane module */
		return -EPROTO;
	return (int)req.out_count;
}

/**
 * pinmgr_stats() - PINMGR_STATS
 * @ctx: the context
 * @stats: filled in on success
 * @size: sizeof(*@stats) as the caller was compiled
 *
 * The library zero-fills @size bytes at @stats and sets @stats->size
 * itself.
 *
 * Return: 0, -EINVAL if @ctx or @stats is NULL or @size is too small for
 * the module, -E2BIG if @size is too big for it, or the ioctl's -errno.
 */
PINMGR_EXPORT int pinmgr_stats(struct pinmgr_ctx *ctx,
			       struct pinmgr_stats *stats, size_t size)
{
	int ret = pinmgr_out_struct(ctx, stats, size,
				    PINMGR_MIN_SIZE(struct pinmgr_stats, flags));

	if (ret)
		return ret;
	return pinmgr_ioctl(ctx, PINMGR_STATS, stats);
}

/**
 * pinmgr_access() - PINMGR_ACCESS: read or write pinned pages as a device
 * @ctx: the context
 * @handle: the region
 * @flags: 0 to read the pinned pages into @buf, %PINMGR_ACCESS_WRITE to
 *	write @buf into them
 * @offset: byte offset from the region's address
 * @buf: the user buffer
 * @length: bytes to copy
 *
 * A test path: the module copies through the pinned pages themselves, not
 * through this process's mappings. It works only on a file opened while the
 * module parameter test_access was set (PINMGR_CAP_TEST_ACCESS).
 *
 * Return: 0; -EINVAL if @ctx is NULL or @buf is NULL with a non-zero
 * @length; -ENOTTY if test access is off for this file; -EPERM to write a
 * read-only pin; -ERANGE past the region's end; or another ioctl -errno.
 */
PINMGR_EXPORT int pinmgr_access(struct pinmgr_ctx *ctx, uint32_t handle,
				unsigned int flags, uint64_t offset, void *buf,
				size_t length)
{
	struct pinmgr_access req;

	if (!ctx || (!buf && length))
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.flags = flags;
	req.handle = handle;
	req.offset = offset;
	req.length = length;
	req.buf = (uintptr_t)buf;
	return pinmgr_ioctl(ctx, PINMGR_ACCESS, &req);
}

/**
 * pinmgr_pin_vec() - PINMGR_PIN_VEC: pin many ranges in one call
 * @ctx: the context
 * @flags: &enum pinmgr_pin_flags, for every range
 * @ranges: @count ranges; the caller fills in addr and length, the call
 *	fills in out_handle, out_offset and out_npages
 * @count: number of ranges, 1 to %PINMGR_PIN_VEC_MAX
 *
 * All or nothing: on failure no range stays pinned and the out_ fields are
 * undefined.
 *
 * Return: 0; -EINVAL if @ctx or @ranges is NULL or @count is 0; -E2BIG past
 * %PINMGR_PIN_VEC_MAX; or the -errno of the first range that failed (see
 * pinmgr_pin()).
 */
PINMGR_EXPORT int pinmgr_pin_vec(struct pinmgr_ctx *ctx, unsigned int flags,
				 struct pinmgr_pin_range *ranges,
				 unsigned int count)
{
	struct pinmgr_pin_vec req;

	if (!ctx || !ranges || !count)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.flags = flags;
	req.count = count;
	req.ranges = (uintptr_t)ranges;
	return pinmgr_ioctl(ctx, PINMGR_PIN_VEC, &req);
}

/**
 * pinmgr_update() - PINMGR_UPDATE: pin new ranges and unpin old regions in one call
 * @ctx: the context
 * @unpin: @nr_unpin handles of regions to unpin; may be NULL if @nr_unpin is 0
 * @nr_unpin: number of handles, 0 to %PINMGR_UNPIN_VEC_MAX
 * @flags: &enum pinmgr_pin_flags, for every range of @pin; with
 *	%PINMGR_UPDATE_REPLACE, range i takes handle i over
 * @pin: @nr_pin ranges as for pinmgr_pin_vec(); may be NULL if @nr_pin is 0
 * @nr_pin: number of ranges, 0 to %PINMGR_PIN_VEC_MAX
 *
 * The handles are checked, then the ranges pinned, then the regions
 * unpinned. All or nothing: on failure no range stays pinned, no region is
 * unpinned and the out_ fields of @pin are undefined. With
 * %PINMGR_UPDATE_REPLACE (@nr_pin equal to @nr_unpin), the region of range
 * i gets handle i (its out_handle) in place of the region unpinned.
 *
 * Return: 0; -EINVAL if @ctx is NULL, both counts are 0, a count is not
 * 0 and its array is NULL, or with %PINMGR_UPDATE_REPLACE the counts
 * differ (from the module); -E2BIG past %PINMGR_PIN_VEC_MAX ranges or
 * %PINMGR_UNPIN_VEC_MAX handles; -ENOENT if a
 * handle names no region or is listed twice; -ENOTTY from a module older
 * than this call; or the -errno of the first range that failed (see
 * pinmgr_pin()).
 */
PINMGR_EXPORT int pinmgr_update(struct pinmgr_ctx *ctx, const uint32_t *unpin,
				unsigned int nr_unpin, unsigned int flags,
				struct pinmgr_pin_range *pin,
				unsigned int nr_pin)
{
	struct pinmgr_update req;

	if (!ctx || (!nr_unpin && !nr_pin) || (nr_unpin && !unpin) ||
	    (nr_pin && !pin))
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.flags = flags;
	req.nr_unpin = nr_unpin;
	req.nr_pin = nr_pin;
	req.unpin = (uintptr_t)unpin;
	req.pin = (uintptr_t)pin;
	return pinmgr_ioctl(ctx, PINMGR_UPDATE, &req);
}

/**
 * pinmgr_unpin_vec() - unpin many regions in one call (PINMGR_UPDATE)
 * @ctx: the context
 * @handles: @count handles
 * @count: number of handles, 1 to %PINMGR_UNPIN_VEC_MAX
 *
 * All or nothing: on failure no region is unpinned.
 *
 * Return: 0; -EINVAL if @ctx or @handles is NULL or @count is 0; -E2BIG
 * past %PINMGR_UNPIN_VEC_MAX; -ENOENT if a handle names no region or is
 * listed twice; -ENOTTY from a module older than this call; or the
 * ioctl's -errno.
 */
PINMGR_EXPORT int pinmgr_unpin_vec(struct pinmgr_ctx *ctx,
				   const uint32_t *handles, unsigned int count)
{
	if (!handles || !count)
		return -EINVAL;
	return pinmgr_update(ctx, handles, count, 0, NULL, 0);
}

/**
 * pinmgr_verify() - PINMGR_VERIFY: do the pinned pages still back the mapping?
 * @ctx: the context
 * @handle: the region
 * @differ: set to the number of the region's pages whose address no longer
 *	maps the pinned page (unmapped, %PROT_NONE, or another page); may be
 *	NULL
 * @first: set to the index of the first such page, or %PINMGR_VERIFY_NONE
 *	if there is none; may be NULL
 *
 * Looks at the process's page tables over the region's original range at
 * the moment of the call, without faulting anything in.
 *
 * Return: 0 if every page still backs its address, else the number of
 * pages that differ (capped at INT_MAX; @differ holds the exact count);
 * -EINVAL if @ctx is NULL, -ENOENT if no region has @handle, -EACCES from
 * another process, or another ioctl -errno.
 */
PINMGR_EXPORT int pinmgr_verify(struct pinmgr_ctx *ctx, uint32_t handle,
				uint64_t *differ, uint64_t *first)
{
	struct pinmgr_verify req;
	int ret;

	if (!ctx)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.handle = handle;
	ret = pinmgr_ioctl(ctx, PINMGR_VERIFY, &req);
	if (ret < 0)
		return ret;
	if (differ)
		*differ = req.out_differ;
	if (first)
		*first = req.out_first;
	return req.out_differ > INT_MAX ? INT_MAX : (int)req.out_differ;
}

/**
 * pinmgr_events_read() - read pending changes of the regions' mappings
 * @ctx: the context
 * @events: room for @max records
 * @max: number of records at @events, at least 1
 *
 * Reads whole &struct pinmgr_event records from the context's file: one per
 * region whose mapping changed since its previous record, oldest first.
 * Blocks until one is pending, unless the file descriptor (pinmgr_fd()) was
 * made non-blocking with fcntl(O_NONBLOCK); poll() it for POLLIN to wait
 * for records along with other descriptors.
 *
 * Return: the number of records read (1 to @max); -EINVAL if @ctx or
 * @events is NULL or @max is 0; -EAGAIN if none is pending on a
 * non-blocking descriptor; -EINTR if a signal arrived while blocked;
 * -EACCES from another process; -EFAULT; -EPROTO if the module returned a
 * partial record (cannot happen with a sane module).
 */
PINMGR_EXPORT int pinmgr_events_read(struct pinmgr_ctx *ctx,
				     struct pinmgr_event *events,
				     unsigned int max)
{
	int saved_errno = errno;
	ssize_t n;

	if (!ctx || !events || !max)
		return -EINVAL;
	if (max > INT_MAX / sizeof(*events))
		max = INT_MAX / sizeof(*events);
	n = read(ctx->fd, events, (size_t)max * sizeof(*events));
	if (n < 0)
		return pinmgr_ret(-1, saved_errno);
	if (n % sizeof(*events) || n == 0)
		return -EPROTO;
	return (int)(n / sizeof(*events));
}

/**
 * pinmgr_export_dmabuf() - PINMGR_EXPORT_DMABUF: part of a region as a dma-buf
 * @ctx: the context
 * @handle: the region
 * @offset: the dma-buf's first byte, from the start of the region's first
 *	page (query.out_offset bytes before its address); page aligned
 * @length: its size in bytes, page aligned
 * @flags: 0
 *
 * The dma-buf's file descriptor is close-on-exec, and ``O_RDWR`` for a
 * region pinned with %PINMGR_PIN_WRITE, ``O_RDONLY`` otherwise. Hand it to
 * a kernel driver that imports dma-bufs; close it when done. While it (or
 * a driver's reference to it) exists, the region cannot be unpinned
 * (-EBUSY), and the context's pins outlive pinmgr_close().
 *
 * Return: the file descriptor (>= 0); -EINVAL if @ctx is NULL, @length is
 * 0, @offset or @length is not page aligned or @flags is not 0; -ENOENT if
 * no region has @handle; -ERANGE if the pages are not all in the region; -EOPNOTSUPP if the kernel has no
 * dma-buf support; -ENOTTY from a module older than this call; or the
 * ioctl's -errno (-EMFILE, -ENOMEM, -EACCES, -EBADF).
 */
PINMGR_EXPORT int pinmgr_export_dmabuf(struct pinmgr_ctx *ctx, uint32_t handle,
				       uint64_t offset, uint64_t length,
				       unsigned int flags)
{
	struct pinmgr_export_dmabuf req;
	int ret;

	if (!ctx)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.flags = flags;
	req.handle = handle;
	req.offset = offset;
	req.length = length;
	ret = pinmgr_ioctl(ctx, PINMGR_EXPORT_DMABUF, &req);
	if (ret < 0)
		return ret;
	if (req.out_fd < 0)	/* cannot happen with a sane module */
		return -EPROTO;
	return req.out_fd;
}
