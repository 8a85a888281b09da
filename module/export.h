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
struct pinmgr_file;

/* main.c: a file's state outlives its release while a dma-buf holds it. */
struct pinmgr_file *pinmgr_file_get(struct pinmgr_file *pf);
void pinmgr_file_put(struct pinmgr_file *pf);

/* dma-bufs made by PINMGR_EXPORT_DMABUF and not yet released (sysfs "dmabufs"). */
extern atomic64_t pinmgr_dmabufs;

#if IS_ENABLED(CONFIG_DMA_SHARED_BUFFER)
#define PINMGR_HAVE_EXPORT true
struct file *pinmgr_dmabuf_export(struct pinmgr_file *pf,
				  struct pin_tracker *t, u32 handle,
				  u64 offset, u64 length);
#else
#define PINMGR_HAVE_EXPORT false
static inline struct file *pinmgr_dmabuf_export(struct pinmgr_file *pf,
						struct pin_tracker *t,
						u32 handle, u64 offset,
						u64 length)
{
	return ERR_PTR(-EOPNOTSUPP);
}
#endif

#endif /* PINMGR_EXPORT_H */
