// SPDX-License-Identifier: GPL-2.0
/*
 * EXPORT_DMABUF into the kernel's own importers: V4L2's vivid captures
 * into a malloc()ed buffer through V4L2_MEMORY_DMABUF, and DRM's vgem
 * imports a dma-buf through PRIME. The VM loads both drivers in check mode
 * (tests/vm/run.sh); a kernel without them skips the cases.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libdrm/drm.h>

#include "harness.h"

/* ---- V4L2 ---------------------------------------------------------- */

/* An open capture node of vivid, or a skip. */
static int vivid_open(void)
{
	struct v4l2_capability cap;
	char path[32];
	int i, fd;

	for (i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "/dev/video%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(&cap, 0, sizeof(cap));
		if (!ioctl(fd, VIDIOC_QUERYCAP, &cap) &&
		    !strcmp((const char *)cap.driver, "vivid") &&
		    (cap.device_caps & V4L2_CAP_VIDEO_CAPTURE) &&
		    (cap.device_caps & V4L2_CAP_STREAMING))
			return h_keep_fd(fd);
		close(fd);
	}
	h_skip("no vivid video capture node (vivid.ko not loaded)");
	return -1;
}

/* Set the menu control called @name to its item called @item. */
static void ctrl_set_menu(int fd, const char *name, const char *item)
{
	struct v4l2_query_ext_ctrl q = { .id = V4L2_CTRL_FLAG_NEXT_CTRL };
	struct v4l2_querymenu m;
	struct v4l2_control c;
	int64_t i;

	while (!ioctl(fd, VIDIOC_QUERY_EXT_CTRL, &q)) {
		if (!strcmp(q.name, name))
			break;
		q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
	}
	ASSERT_MSG(!strcmp(q.name, name), "vivid has no control \"%s\"", name);
	for (i = q.minimum; i <= q.maximum; i++) {
		memset(&m, 0, sizeof(m));
		m.id = q.id;
		m.index = i;
		if (!ioctl(fd, VIDIOC_QUERYMENU, &m) &&
		    !strcmp((const char *)m.name, item))
			break;
	}
	ASSERT_MSG(i <= q.maximum, "control \"%s\" has no item \"%s\"", name, item);
	c.id = q.id;
	c.value = i;
	ASSERT_SYS(ioctl(fd, VIDIOC_S_CTRL, &c));
}

/*
 * Frames that are all alike: the default test pattern, standing still,
 * without the on-screen text (a frame counter and the time). Returns the
 * frame size.
 */
static uint32_t vivid_setup(int fd)
{
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };

	ctrl_set_menu(fd, "OSD Text Mode", "None");
	ASSERT_SYS(ioctl(fd, VIDIOC_G_FMT, &f));
	ASSERT(f.fmt.pix.sizeimage > 0);
	return f.fmt.pix.sizeimage;
}

/*
 * vivid streams only with 2 buffers queued (its min_buffers_needed): the
 * tests use 2.
 */
#define NBUF	2

static void reqbufs(int fd, uint32_t memory, uint32_t count)
{
	struct v4l2_requestbuffers rb = {
		.count = count, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		.memory = memory,
	};

	ASSERT_SYS(ioctl(fd, VIDIOC_REQBUFS, &rb));
	ASSERT_EQ(rb.count, count);
}

/* Stream until one of the buffers, all queued already, comes back. */
static void capture_one(int fd, uint32_t memory, struct v4l2_buffer *b)
{
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	ASSERT_SYS(ioctl(fd, VIDIOC_STREAMON, &type));
	ASSERT_MSG(poll(&p, 1, h_bound_ms(30000)) == 1,
		   "no frame from vivid in %d ms", h_bound_ms(30000));
	memset(b, 0, sizeof(*b));
	b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b->memory = memory;
	ASSERT_SYS(ioctl(fd, VIDIOC_DQBUF, b));
	ASSERT_SYS(ioctl(fd, VIDIOC_STREAMOFF, &type));
	ASSERT(b->index < NBUF);
	ASSERT_MSG(!(b->flags & V4L2_BUF_FLAG_ERROR), "vivid marked the frame bad");
}

/* One frame into vivid's own (MMAP) buffers, copied to @out. */
static void capture_reference(int fd, uint8_t *out, uint32_t size)
{
	struct v4l2_buffer b;
	void *p[NBUF];
	size_t len[NBUF];
	unsigned int i;

	reqbufs(fd, V4L2_MEMORY_MMAP, NBUF);
	for (i = 0; i < NBUF; i++) {
		memset(&b, 0, sizeof(b));
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		b.index = i;
		ASSERT_SYS(ioctl(fd, VIDIOC_QUERYBUF, &b));
		len[i] = b.length;
		p[i] = mmap(NULL, b.length, PROT_READ, MAP_SHARED, fd, b.m.offset);
		ASSERT_MSG(p[i] != MAP_FAILED, "mmap of vivid's buffer: %s",
			   h_errname(errno));
		ASSERT_SYS(ioctl(fd, VIDIOC_QBUF, &b));
	}
	capture_one(fd, V4L2_MEMORY_MMAP, &b);
	ASSERT_EQ(b.bytesused, size);
	memcpy(out, p[b.index], size);
	for (i = 0; i < NBUF; i++)
		munmap(p[i], len[i]);
	reqbufs(fd, V4L2_MEMORY_MMAP, 0);
}

static int queue_dmabuf(int fd, unsigned int index, int dmabuf, uint32_t len)
{
	struct v4l2_buffer b = {
		.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		.memory = V4L2_MEMORY_DMABUF, .index = index, .length = len,
	};

	b.m.fd = dmabuf;
	return ioctl(fd, VIDIOC_QBUF, &b) ? -errno : 0;
}

static int export_ok(struct pinmgr_ctx *ctx, uint32_t h, uint64_t off,
		     uint64_t len)
{
	int fd = pinmgr_export_dmabuf(ctx, h, off, len, 0);

	ASSERT_MSG(fd >= 0, "EXPORT_DMABUF: %s", h_errname(-fd));
	return h_keep_fd(fd);
}

/*
 * Both buffers are halves of one region of malloc()ed memory, exported as
 * two dma-bufs.
 */
CASE(v4l2_capture_into_malloc)
{
	int fd = vivid_open();
	uint32_t size = vivid_setup(fd);
	size_t len = (size + h_ps - 1) / h_ps * h_ps;
	uint8_t *ref = h_malloc(size);
	/* malloc()ed memory, from its first whole page on */
	uint8_t *raw = h_malloc(NBUF * len + h_ps);
	uint8_t *buf = (uint8_t *)(((uintptr_t)raw + h_ps - 1) & ~(uintptr_t)(h_ps - 1));
	struct pinmgr_ctx *ctx = h_open();
	int dmabuf[NBUF];
	struct v4l2_buffer b;
	unsigned int i;
	uint8_t *frame;
	uint32_t h;

	capture_reference(fd, ref, size);
	memset(buf, 0x5a, NBUF * len);
	h = h_pin(ctx, buf, NBUF * len, PINMGR_PIN_WRITE);
	reqbufs(fd, V4L2_MEMORY_DMABUF, NBUF);
	for (i = 0; i < NBUF; i++) {
		dmabuf[i] = export_ok(ctx, h, i * len, len);
		ASSERT_OK(queue_dmabuf(fd, i, dmabuf[i], len));
	}
	capture_one(fd, V4L2_MEMORY_DMABUF, &b);
	ASSERT_EQ(b.bytesused, size);
	/* vivid wrote the frame through the pages; the process reads it. */
	frame = buf + b.index * len;
	ASSERT_MSG(!memcmp(frame, ref, size),
		   "the frame in the malloc()ed buffer differs from vivid's own capture");
	/* ... which is not what the process had written there. */
	for (i = 0; i < size && ref[i] == 0x5a; i++)
		;
	ASSERT_MSG(i < size, "vivid's frame is all 0x5a: the check proves nothing");

	/* vb2 keeps the dma-bufs until its buffers are freed. */
	for (i = 0; i < NBUF; i++)
		h_close_fd(dmabuf[i]);
	ASSERT_ERR(pinmgr_unpin(ctx, h), EBUSY);
	reqbufs(fd, V4L2_MEMORY_DMABUF, 0);
	ASSERT_EQ(h_total_of("dmabufs"), 0);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h_close(ctx);
	ASSERT_VMPIN_KB(0);
}

/* A read-only pin's dma-buf: vivid (which writes) cannot have it. */
CASE(v4l2_read_only_refused)
{
	int fd = vivid_open();
	uint32_t size = vivid_setup(fd);
	size_t len = (size + h_ps - 1) / h_ps * h_ps;
	uint8_t *buf = h_anon(len);
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, buf, len, 0);
	int dmabuf = export_ok(ctx, h, 0, len);

	reqbufs(fd, V4L2_MEMORY_DMABUF, NBUF);
	ASSERT_MSG(queue_dmabuf(fd, 0, dmabuf, len) < 0,
		   "vivid took a read-only dma-buf to capture into");
	reqbufs(fd, V4L2_MEMORY_DMABUF, 0);
	h_close_fd(dmabuf);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h_close(ctx);
	ASSERT_VMPIN_KB(0);
}

/* ---- DRM PRIME ----------------------------------------------------- */

static int vgem_open(void)
{
	char path[32], name[16];
	struct drm_version v;
	int i, fd;

	for (i = 0; i < 16; i++) {
		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(&v, 0, sizeof(v));
		memset(name, 0, sizeof(name));
		v.name = name;
		v.name_len = sizeof(name) - 1;
		if (!ioctl(fd, DRM_IOCTL_VERSION, &v) && !strcmp(name, "vgem"))
			return h_keep_fd(fd);
		close(fd);
	}
	h_skip("no vgem device (vgem.ko not loaded)");
	return -1;
}

static int prime_import(int drm, int dmabuf, uint32_t *handle)
{
	struct drm_prime_handle p = { .fd = dmabuf };

	if (ioctl(drm, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p))
		return -errno;
	*handle = p.handle;
	return 0;
}

static void gem_close(int drm, uint32_t handle)
{
	struct drm_gem_close c = { .handle = handle };

	ASSERT_SYS(ioctl(drm, DRM_IOCTL_GEM_CLOSE, &c));
}

CASE(vgem_prime_import)
{
	int drm = vgem_open();
	size_t len = 64 * h_ps;
	uint8_t *buf = h_anon(len);
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, buf, len, PINMGR_PIN_WRITE), gem = 0, again = 0;
	int dmabuf = export_ok(ctx, h, 0, len);

	ASSERT_OK(prime_import(drm, dmabuf, &gem));
	/* The same dma-buf gives the same GEM object. */
	ASSERT_OK(prime_import(drm, dmabuf, &again));
	ASSERT_EQ(again, gem);
	/* vgem holds the dma-buf after its fd is gone: still no unpin. */
	h_close_fd(dmabuf);
	ASSERT_ERR(pinmgr_unpin(ctx, h), EBUSY);
	h_close(ctx);
	ASSERT_EQ(h_total_of("pinned_pages"), 64);
	gem_close(drm, gem);
	ASSERT_EQ(h_total_of("dmabufs"), 0);
	ASSERT_EQ(h_total_of("pinned_pages"), 0);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

/* DRM maps for both directions: a read-only pin is refused. */
CASE(vgem_read_only_refused)
{
	int drm = vgem_open();
	uint8_t *buf = h_anon(4 * h_ps);
	struct pinmgr_ctx *ctx = h_open();
	uint32_t h = h_pin(ctx, buf, 4 * h_ps, 0), gem = 0;
	int dmabuf = export_ok(ctx, h, 0, 4 * h_ps);

	ASSERT_ERR(prime_import(drm, dmabuf, &gem), EACCES);
	h_close_fd(dmabuf);
	ASSERT_OK(pinmgr_unpin(ctx, h));
	h_close(ctx);
	ASSERT_VMPIN_KB(0);
}

static const struct h_case cases[] = {
	H_CASE(v4l2_capture_into_malloc, "vivid captures into a malloc()ed buffer, 2 dma-bufs of one region: the process reads vivid's own frame; vb2 holds them (UNPIN EBUSY) until REQBUFS 0"),
	H_CASE(v4l2_read_only_refused, "a read-only pin's dma-buf queued to vivid's capture queue -> refused (no vmap)"),
	H_CASE(vgem_prime_import, "vgem imports a 64-page dma-buf through PRIME (twice: one GEM object); it holds the pins past the dma-buf fd and the pinmgr file until GEM_CLOSE"),
	H_CASE(vgem_read_only_refused, "vgem's PRIME import of a read-only pin's dma-buf (DMA_BIDIRECTIONAL) -> EACCES"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
