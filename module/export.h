/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pinmgr: pinned regions exported as dma-bufs (PINMGR_EXPORT_DMABUF, export.c).
 */
#ifndef PINMGR_EXPORT_H
#define PINMGR_EXPORT_H

#include <linux/atomic.h>
#include <linux/err.h>
#include <linux/types.h>

struct file;
struct pin_tracker;

/* dma-bufs made by PINMGR_EXPORT_DMABUF and not yet released (sysfs "dmabufs"). */
extern atomic64_t pinmgr_dmabufs;

#if IS_ENABLED(CONFIG_DMA_SHARED_BUFFER)
#define PINMGR_HAVE_EXPORT true
struct file *pinmgr_dmabuf_export(struct file *pinmgr_file,
				  struct pin_tracker *t, u32 handle,
				  u64 offset, u64 length);
#else
#define PINMGR_HAVE_EXPORT false
static inline struct file *pinmgr_dmabuf_export(struct file *pinmgr_file,
						struct pin_tracker *t,
						u32 handle, u64 offset,
						u64 length)
{
	return ERR_PTR(-EOPNOTSUPP);
}
#endif

#endif /* PINMGR_EXPORT_H */
