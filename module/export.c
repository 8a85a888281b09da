// SPDX-License-Identifier: GPL-2.0
/*
 * pinmgr: pinned regions exported as dma-bufs (PINMGR_EXPORT_DMABUF).
 *
 * A dma-buf made here lends part of one region to kernel drivers (the
 * importers) that map it for their devices. It holds the region busy (so
 * UNPIN fails with EBUSY) and the /dev/pinmgr file open (so its tracker,
 * its pins and their charge outlive a close of the file or the exit of its
 * process); the last reference to the dma-buf gives both back. The pages
 * are the region's: nothing is copied, pinned again or charged twice.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-direction.h>
#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iosys-map.h>
#include <linux/list.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "export.h"
#include "pin_tracker.h"

MODULE_IMPORT_NS(DMA_BUF);

/**
 * struct pinmgr_dmabuf - what a dma-buf made by PINMGR_EXPORT_DMABUF holds
 * @pinmgr_file: the /dev/pinmgr file the region belongs to, held open
 * @tracker: that file's tracker
 * @region: the region, held busy (pin_tracker_get_busy())
 * @start: the dma-buf's first byte, from the start of the region's first
 *	page; page aligned
 * @length: the dma-buf's size in bytes; page aligned
 * @lock: protects @mappings
 * @mappings: the attachments mapped now (&struct pinmgr_dmabuf_attachment)
 *
 * Everything but @mappings is set before the dma-buf exists.
 */
struct pinmgr_dmabuf {
	struct file *pinmgr_file;
	struct pin_tracker *tracker;
	struct pin_region *region;
	u64 start;
	u64 length;
	struct mutex lock;	/* see @lock above */
	struct list_head mappings;
};

/**
 * struct pinmgr_dmabuf_attachment - one importer's attachment
 * @node: entry in &pinmgr_dmabuf.mappings while mapped
 * @dev: the importer's device
 * @sgt: the mapping, or NULL while not mapped
 * @dir: the direction @sgt was mapped for
 */
struct pinmgr_dmabuf_attachment {
	struct list_head node;
	struct device *dev;
	struct sg_table *sgt;
	enum dma_data_direction dir;
};

/*
 * Fill @sgt (or, if @sgt is NULL, only count its entries) with the pages of
 * @pd: one entry per physically contiguous piece of a run, no longer than
 * @max_seg (a multiple of the page size). Return: the number of entries.
 */
static unsigned int pinmgr_dmabuf_fill(const struct pinmgr_dmabuf *pd,
				       unsigned long max_seg,
				       struct sg_table *sgt)
{
	const struct pin_region *r = pd->region;
	struct scatterlist *sg = sgt ? sgt->sgl : NULL;
	u64 end = pd->start + pd->length, pos, piece_end;
	unsigned long i, pfn, pgoff, npages;
	unsigned int nents = 0;
	u64 len;

	for (i = 0; i < r->nr_runs; i++) {
		pin_region_run(r, i, &pfn, &pgoff, &npages);
		pos = max_t(u64, pd->start, (u64)pgoff << PAGE_SHIFT);
		piece_end = min_t(u64, end, (u64)(pgoff + npages) << PAGE_SHIFT);
		for (; pos < piece_end; pos += len) {
			len = min_t(u64, piece_end - pos, max_seg);
			if (sg) {
				sg_set_page(sg, pfn_to_page(pfn - pgoff +
							    (pos >> PAGE_SHIFT)),
					    len, 0);
				sg = sg_next(sg);
			}
			nents++;
		}
		if (piece_end == end)
			break;
	}
	return nents;
}

static int pinmgr_dmabuf_attach(struct dma_buf *dmabuf,
				struct dma_buf_attachment *attach)
{
	struct pinmgr_dmabuf_attachment *pa;

	pa = kzalloc(sizeof(*pa), GFP_KERNEL);
	if (!pa)
		return -ENOMEM;
	INIT_LIST_HEAD(&pa->node);
	pa->dev = attach->dev;
	attach->priv = pa;
	return 0;
}

static void pinmgr_dmabuf_detach(struct dma_buf *dmabuf,
				 struct dma_buf_attachment *attach)
{
	struct pinmgr_dmabuf_attachment *pa = attach->priv;

	WARN_ON_ONCE(pa->sgt);	/* the core unmaps before it detaches */
	kfree(pa);
}

static struct sg_table *pinmgr_dmabuf_map(struct dma_buf_attachment *attach,
					  enum dma_data_direction dir)
{
	struct pinmgr_dmabuf *pd = attach->dmabuf->priv;
	struct pinmgr_dmabuf_attachment *pa = attach->priv;
	unsigned long max_seg;
	struct sg_table *sgt;
	unsigned int nents;
	int ret;

	if (!valid_dma_direction(dir))
		return ERR_PTR(-EINVAL);
	/* The pages were pinned without FOLL_WRITE: no device writes them. */
	if (!pd->region->writable && dir != DMA_TO_DEVICE)
		return ERR_PTR(-EACCES);
	max_seg = max_t(unsigned long, PAGE_SIZE,
			round_down(dma_get_max_seg_size(attach->dev), PAGE_SIZE));
	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	nents = pinmgr_dmabuf_fill(pd, max_seg, NULL);
	ret = sg_alloc_table(sgt, nents, GFP_KERNEL);
	if (ret)
		goto out_free;
	pinmgr_dmabuf_fill(pd, max_seg, sgt);

	mutex_lock(&pd->lock);
	if (pa->sgt) {
		ret = -EBUSY;
		goto out_unlock;
	}
	ret = dma_map_sgtable(attach->dev, sgt, dir, 0);
	if (ret)
		goto out_unlock;
	pa->sgt = sgt;
	pa->dir = dir;
	list_add(&pa->node, &pd->mappings);
	mutex_unlock(&pd->lock);
	return sgt;

out_unlock:
	mutex_unlock(&pd->lock);
	sg_free_table(sgt);
out_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void pinmgr_dmabuf_unmap(struct dma_buf_attachment *attach,
				struct sg_table *sgt,
				enum dma_data_direction dir)
{
	struct pinmgr_dmabuf *pd = attach->dmabuf->priv;
	struct pinmgr_dmabuf_attachment *pa = attach->priv;

	mutex_lock(&pd->lock);
	if (WARN_ON_ONCE(pa->sgt != sgt)) {
		mutex_unlock(&pd->lock);
		return;
	}
	list_del_init(&pa->node);
	pa->sgt = NULL;
	mutex_unlock(&pd->lock);
	dma_unmap_sgtable(attach->dev, sgt, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
}

/*
 * Around CPU access through a kernel mapping (vmap) or the owner's own
 * mapping: hand every device mapping to the CPU and back (a no-op on
 * coherent hardware; bounce buffers are copied).
 */
static int pinmgr_dmabuf_begin_cpu_access(struct dma_buf *dmabuf,
					  enum dma_data_direction dir)
{
	struct pinmgr_dmabuf *pd = dmabuf->priv;
	struct pinmgr_dmabuf_attachment *pa;

	mutex_lock(&pd->lock);
	list_for_each_entry(pa, &pd->mappings, node)
		dma_sync_sgtable_for_cpu(pa->dev, pa->sgt, pa->dir);
	mutex_unlock(&pd->lock);
	return 0;
}

static int pinmgr_dmabuf_end_cpu_access(struct dma_buf *dmabuf,
					enum dma_data_direction dir)
{
	struct pinmgr_dmabuf *pd = dmabuf->priv;
	struct pinmgr_dmabuf_attachment *pa;

	mutex_lock(&pd->lock);
	list_for_each_entry(pa, &pd->mappings, node)
		dma_sync_sgtable_for_device(pa->dev, pa->sgt, pa->dir);
	mutex_unlock(&pd->lock);
	return 0;
}

/*
 * A kernel mapping of the pages; only of a writable pin's (see
 * pinmgr_dmabuf_ro_ops).
 */
static int pinmgr_dmabuf_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct pinmgr_dmabuf *pd = dmabuf->priv;
	unsigned long first = pd->start >> PAGE_SHIFT, i, n;
	struct page **pages;
	void *vaddr;

	n = pd->length >> PAGE_SHIFT;
	pages = kvmalloc_array(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		pages[i] = pin_region_page(pd->region, first + i);
	vaddr = vmap(pages, n, VM_MAP, PAGE_KERNEL);
	kvfree(pages);
	if (!vaddr)
		return -ENOMEM;
	iosys_map_set_vaddr(map, vaddr);
	return 0;
}

static void pinmgr_dmabuf_vunmap(struct dma_buf *dmabuf,
				 struct iosys_map *map)
{
	vunmap(map->vaddr);
}

static void pinmgr_dmabuf_release(struct dma_buf *dmabuf)
{
	struct pinmgr_dmabuf *pd = dmabuf->priv;

	WARN_ON_ONCE(!list_empty(&pd->mappings));
	pin_tracker_put_busy(pd->tracker, pd->region);
	/* The last dma-buf of a closed file releases the file, and so its pins. */
	fput(pd->pinmgr_file);
	mutex_destroy(&pd->lock);
	kfree(pd);
	atomic64_dec(&pinmgr_dmabufs);
}

static const struct dma_buf_ops pinmgr_dmabuf_ops = {
	.attach = pinmgr_dmabuf_attach,
	.detach = pinmgr_dmabuf_detach,
	.map_dma_buf = pinmgr_dmabuf_map,
	.unmap_dma_buf = pinmgr_dmabuf_unmap,
	.begin_cpu_access = pinmgr_dmabuf_begin_cpu_access,
	.end_cpu_access = pinmgr_dmabuf_end_cpu_access,
	.vmap = pinmgr_dmabuf_vmap,
	.vunmap = pinmgr_dmabuf_vunmap,
	.release = pinmgr_dmabuf_release,
};

/*
 * A read-only pin's: no vmap. Kernel importers write through their vmap
 * as they please (a V4L2 capture queue does), and these pages were pinned
 * without breaking copy-on-write; a read-only kernel mapping would turn
 * such a write into an oops. Without .vmap the core answers -EINVAL.
 */
static const struct dma_buf_ops pinmgr_dmabuf_ro_ops = {
	.attach = pinmgr_dmabuf_attach,
	.detach = pinmgr_dmabuf_detach,
	.map_dma_buf = pinmgr_dmabuf_map,
	.unmap_dma_buf = pinmgr_dmabuf_unmap,
	.begin_cpu_access = pinmgr_dmabuf_begin_cpu_access,
	.end_cpu_access = pinmgr_dmabuf_end_cpu_access,
	.release = pinmgr_dmabuf_release,
};

/**
 * pinmgr_dmabuf_export() - make part of a region a dma-buf
 * @pinmgr_file: the /dev/pinmgr file of @t, which the dma-buf holds open
 * @t: the tracker
 * @handle: the region
 * @offset: the dma-buf's first byte, from the start of the region's first
 *	page; page aligned
 * @length: its size in bytes, page aligned, not 0
 *
 * Context: process context; may sleep.
 * Return: the dma-buf's file, a reference the caller installs in an fd or
 * fput()s; ERR_PTR(-ENOENT) if no region has @handle, ERR_PTR(-ERANGE) if
 * the pages are not all in it, ERR_PTR(-ENOMEM) or the dma-buf core's
 * error.
 */
struct file *pinmgr_dmabuf_export(struct file *pinmgr_file,
				  struct pin_tracker *t, u32 handle,
				  u64 offset, u64 length)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct pinmgr_dmabuf *pd;
	struct dma_buf *dmabuf;
	struct pin_region *r;
	int ret;

	pd = kzalloc(sizeof(*pd), PIN_GFP_ACCOUNT);
	if (!pd)
		return ERR_PTR(-ENOMEM);
	r = pin_tracker_get_busy(t, handle);
	if (!r) {
		ret = -ENOENT;
		goto out_free;
	}
	if (offset >= (u64)r->npages << PAGE_SHIFT ||
	    length > ((u64)r->npages << PAGE_SHIFT) - offset) {
		ret = -ERANGE;
		goto out_put_region;
	}
	pd->tracker = t;
	pd->region = r;
	pd->start = offset;
	pd->length = length;
	mutex_init(&pd->lock);
	INIT_LIST_HEAD(&pd->mappings);
	pd->pinmgr_file = get_file(pinmgr_file);

	exp_info.ops = r->writable ? &pinmgr_dmabuf_ops : &pinmgr_dmabuf_ro_ops;
	exp_info.size = length;
	exp_info.flags = r->writable ? O_RDWR : O_RDONLY;
	exp_info.priv = pd;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto out_put_file;
	}
	atomic64_inc(&pinmgr_dmabufs);
	return dmabuf->file;

out_put_file:
	fput(pd->pinmgr_file);
	mutex_destroy(&pd->lock);
out_put_region:
	pin_tracker_put_busy(t, r);
out_free:
	kfree(pd);
	return ERR_PTR(ret);
}
