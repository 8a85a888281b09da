/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dmacopy: a memory-to-memory "DMA engine" built on the pin tracker, as an
 * example of a driver that borrows it (see pinmgr's README.md, "Borrowing
 * the pin tracker"). /dev/dmacopy copies between two user buffers through
 * their pinned pages, as a device would.
 */
#ifndef _UAPI_DMACOPY_H
#define _UAPI_DMACOPY_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Keep both buffers pinned after the copy, until the file is closed. */
#define DMACOPY_COPY_HOLD	0x1U

/**
 * struct dmacopy_copy - DMACOPY_IOC_COPY: copy @length bytes
 * @size: sizeof(struct dmacopy_copy)
 * @flags: 0 or %DMACOPY_COPY_HOLD
 * @src: user address of the source, pinned read-only
 * @dst: user address of the destination, pinned writable
 * @length: bytes to copy; the buffers may not overlap (in addresses; two
 *	mappings of the same file pages are copied front to back)
 *
 * Errors: EINVAL for a wrong @size, unknown @flags, a zero @length or
 * overlapping buffers; EOVERFLOW if a buffer wraps; EINTR if the caller is
 * killed during the copy; the pin tracker's errors for the pins (EFAULT,
 * ENOMEM past RLIMIT_MEMLOCK, E2BIG for a buffer touching more than 262144
 * pages (1 GiB of 4 KiB pages; an unaligned 1 GiB buffer touches one
 * more), ENOSPC beyond 64 held buffers, EOPNOTSUPP, EINTR).
 */
struct dmacopy_copy {
	__u32 size;
	__u32 flags;
	__aligned_u64 src;
	__aligned_u64 dst;
	__aligned_u64 length;
};

#define DMACOPY_TYPE		0xDC
#define DMACOPY_IOC_COPY	_IOWR(DMACOPY_TYPE, 0x01, struct dmacopy_copy)

#endif /* _UAPI_DMACOPY_H */
