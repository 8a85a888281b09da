/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * pinmgr_test_importer: ioctl interface of the test-only dma-buf importer,
 * shared by the module and tests/dmabuf.c. Not part of pinmgr's ABI, never
 * installed.
 */
#ifndef _PINMGR_TEST_IMPORTER_H
#define _PINMGR_TEST_IMPORTER_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define PTI_NAME	"pinmgr_test_importer"

/* Attachments one importer file may keep (PTI_HOLD). */
#define PTI_SLOTS	16

/* enum dma_data_direction's values. */
#define PTI_DIR_BIDIRECTIONAL	0
#define PTI_DIR_TO_DEVICE	1
#define PTI_DIR_FROM_DEVICE	2

/* What PTI_MAP does besides attaching and mapping (&struct pti_map.ops). */
#define PTI_OP_WRITE_SG		0x1	/* write the pattern through the sg list */
#define PTI_OP_VMAP		0x2	/* hash through dma_buf_vmap() too */
#define PTI_OP_WRITE_VMAP	0x4	/* write the pattern through the vmap */
#define PTI_OP_VMAP_ONLY	0x8	/* only vmap + vunmap (PTI_MAP only) */

/**
 * struct pti_map - ioctl(PTI_MAP) and ioctl(PTI_HOLD)
 * @fd: the dma-buf
 * @dir: the DMA direction to map for (PTI_DIR_*)
 * @ops: PTI_OP_* bits
 * @max_seg: the importer device's largest DMA segment, bytes; 0 for 4 GiB - 1
 * @seed: the pattern PTI_OP_WRITE_* write (pti_pattern())
 * @out_size: the dma-buf's size
 * @out_hash: FNV-1a over every byte of the mapping, in sg order, read
 *	before anything is written
 * @out_vhash: the same, read through the vmap (PTI_OP_VMAP)
 * @out_nents: entries of the sg list
 * @out_max_len: the longest entry
 * @out_slot: PTI_HOLD: the slot the attachment is kept in
 * @out_pad: 0
 *
 * PTI_MAP gets the dma-buf, attaches this file's device, maps the
 * attachment, reads (and writes) every byte through the sg list's pages,
 * then unmaps, detaches and puts the dma-buf. PTI_HOLD does the same but
 * keeps the mapped attachment (and a reference to the dma-buf) until
 * PTI_DROP of its slot or the importer file's release.
 */
struct pti_map {
	__s32 fd;
	__u32 dir;
	__u32 ops;
	__u32 max_seg;
	__aligned_u64 seed;
	__aligned_u64 out_size;
	__aligned_u64 out_hash;
	__aligned_u64 out_vhash;
	__u32 out_nents;
	__u32 out_max_len;
	__u32 out_slot;
	__u32 out_pad;
};

#define PTI_MAP		_IOWR('p', 0x40, struct pti_map)
#define PTI_HOLD	_IOWR('p', 0x41, struct pti_map)
/* Unmap, detach and put the dma-buf of a slot PTI_HOLD returned. */
#define PTI_DROP	_IOW('p', 0x42, __u32)

/* The byte the importer writes at offset @i of the dma-buf. */
static inline __u8 pti_pattern(__u64 i, __u64 seed)
{
	return (__u8)(((i + seed) * 0x9E3779B97F4A7C15ULL) >> 56);
}

/* 64-bit FNV-1a, continued from @h (start with PTI_FNV_INIT). */
#define PTI_FNV_INIT	0xcbf29ce484222325ULL
static inline __u64 pti_fnv(__u64 h, const __u8 *p, __u64 len)
{
	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

#endif /* _PINMGR_TEST_IMPORTER_H */
