// SPDX-License-Identifier: GPL-2.0
/*
 * pinmgr: pinned regions exported as dma-bufs (PINMGR_EXPORT_DMABUF).
 *
 * A dma-buf made here lends part of one region to kernel drivers (the
 * importers) that map it for their devices. It holds the region busy (so
 * UNPIN fails with EBUSY) and the file's state (so the tracker, and that
 * region with its charge, outlive a close of the file or the exit of its
 * process, while the file's other regions go at its release); the last
 * reference to the dma-buf gives both back. The pages are the region's:
 * nothing is copied, pinned again or charged twice.
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
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "export.h"
#include "pin_tracker.h"

MODULE_IMPORT_NS(DMA_BUF);

/**
 * struct pinmgr_dmabuf - what a dma-buf made by PINMGR_EXPORT_DMABUF holds
 * @pf: the state of the /dev/pinmgr file the region belongs to, held
 * @tracker: its tracker
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
	struct pinmgr_file *pf;
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
 * @own: the mapping, as mapped; NULL while not mapped. CPU access syncs
 *	and unmap use it, page by page where IOMMU segments join pages
 * @sgt: a copy of @own handed to the importer, whose it is then (RDMA
 *	edits it in place, a DMABUF_DEBUG kernel scrambles its page links)
 * @dir: the direction @own was mapped for
 */
struct pinmgr_dmabuf_attachment {
	struct list_head node;
	struct device *dev;
	struct sg_table *own;
	struct sg_table *sgt;
	enum dma_data_direction dir;
};

/* Tables made for an importer's mapping: its process pays for them. */
#define PINMGR_MAP_GFP		(GFP_KERNEL_ACCOUNT | __GFP_NOWARN)

/*
 * dma-bufs of more pages than this have no vmap: the page array vmap()
 * wants would take more than 32 MiB, and a failing .vmap makes the core
 * warn, while a missing one makes it answer -EINVAL.
 */
#define PINMGR_VMAP_MAX_PAGES	(SZ_32M / sizeof(struct page *))

/*
 * Whether a dma-buf of @npages pages of @r gets a vmap. Only a writable
 * pin's (see pinmgr_dmabuf_novmap_ops), and only as many pages as vmap()
 * accepts: besides the cap above, it refuses more pages than the machine
 * has RAM, which a region of one page mapped at many addresses can exceed.
 */
static bool pinmgr_dmabuf_vmappable(const struct pin_region *r,
				    unsigned long npages)
{
	return r->writable && npages <= PINMGR_VMAP_MAX_PAGES &&
	       npages <= totalram_pages();
}

/*
 * Fill @sgt (or, if @sgt is NULL, only count its entries) with the pages of
 * @pd: one entry per physically contiguous piece of a run, no longer than
 * @max_seg (a multiple of the page size; PAGE_SIZE: an entry per page).
 * Return: the number of entries.
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

/*
 * A mapping taken off &pinmgr_dmabuf.mappings, to be undone outside the
 * lock (pinmgr_dmabuf_undo()).
 */
struct pinmgr_dmabuf_taken {
	struct sg_table *own;
	struct sg_table *sgt;
	enum dma_data_direction dir;
};

/* Take @pa's mapping off the list. Under &pinmgr_dmabuf.lock. */
static struct pinmgr_dmabuf_taken
pinmgr_dmabuf_take(struct pinmgr_dmabuf_attachment *pa)
{
	struct pinmgr_dmabuf_taken m = { pa->own, pa->sgt, pa->dir };

	list_del_init(&pa->node);
	pa->own = NULL;
	pa->sgt = NULL;
	return m;
}

static void pinmgr_sgt_free(struct sg_table *sgt)
{
	sg_free_table(sgt);
	kfree(sgt);
}

static void pinmgr_dmabuf_undo(struct device *dev,
			       struct pinmgr_dmabuf_taken m)
{
	dma_unmap_sgtable(dev, m.own, m.dir, 0);
	pinmgr_sgt_free(m.own);
	pinmgr_sgt_free(m.sgt);
}

/* A copy of mapped @src, CPU and DMA sides, or NULL. */
static struct sg_table *pinmgr_sgt_clone(struct sg_table *src)
{
	struct sg_table *dst = kzalloc(sizeof(*dst), PINMGR_MAP_GFP);
	struct scatterlist *s, *d;
	unsigned int i;

	if (!dst)
		return NULL;
	if (sg_alloc_table(dst, src->orig_nents, PINMGR_MAP_GFP)) {
		kfree(dst);
		return NULL;
	}
	d = dst->sgl;
	for_each_sgtable_sg(src, s, i) {
		sg_set_page(d, sg_page(s), s->length, s->offset);
		sg_dma_address(d) = sg_dma_address(s);
#ifdef CONFIG_NEED_SG_DMA_LENGTH
		sg_dma_len(d) = sg_dma_len(s);
#endif
		d = sg_next(d);
	}
	dst->nents = src->nents;
	return dst;
}

static void pinmgr_dmabuf_detach(struct dma_buf *dmabuf,
				 struct dma_buf_attachment *attach)
{
	struct pinmgr_dmabuf *pd = dmabuf->priv;
	struct pinmgr_dmabuf_attachment *pa = attach->priv;

	struct pinmgr_dmabuf_taken m = { NULL };

	mutex_lock(&pd->lock);
	/* The core unmaps before it detaches; an importer might not. */
	if (WARN_ON_ONCE(pa->own))
		m = pinmgr_dmabuf_take(pa);
	mutex_unlock(&pd->lock);
	if (m.own)
		pinmgr_dmabuf_undo(attach->dev, m);
	kfree(pa);
}

/*
 * The longest DMA segment @dev takes, a multiple of the page size, or 0:
 * its DMA parameters' limit and the DMA layer's (a bounce buffer's slot).
 */
static unsigned long pinmgr_dmabuf_max_seg(struct device *dev)
{
	size_t max = min_t(size_t, dma_get_max_seg_size(dev),
			   dma_max_mapping_size(dev));

	return round_down(max, PAGE_SIZE);
}

static struct sg_table *pinmgr_dmabuf_map(struct dma_buf_attachment *attach,
					  enum dma_data_direction dir)
{
	struct pinmgr_dmabuf *pd = attach->dmabuf->priv;
	struct pinmgr_dmabuf_attachment *pa = attach->priv;
	struct sg_table *own, *sgt;
	unsigned long max_seg;
	unsigned int nents;
	int ret;

	if (!valid_dma_direction(dir))
		return ERR_PTR(-EINVAL);
	/* The pages were pinned without FOLL_WRITE: no device writes them. */
	if (!pd->region->writable && dir != DMA_TO_DEVICE)
		return ERR_PTR(-EACCES);
	/* Entries are whole pages: a device that takes less cannot have it. */
	max_seg = pinmgr_dmabuf_max_seg(attach->dev);
	if (!max_seg)
		return ERR_PTR(-EINVAL);
	/*
	 * The tables are charged to the mapping process: for a file that may
	 * not learn how contiguous its pages are, their size is the length's
	 * alone, an entry per page (a device still finds contiguous pages
	 * contiguous in DMA addresses).
	 */
	if (pd->tracker->hide_layout)
		max_seg = PAGE_SIZE;
	own = kzalloc(sizeof(*own), PINMGR_MAP_GFP);
	if (!own)
		return ERR_PTR(-ENOMEM);
	nents = pinmgr_dmabuf_fill(pd, max_seg, NULL);
	ret = sg_alloc_table(own, nents, PINMGR_MAP_GFP);
	if (ret)
		goto out_free;
	pinmgr_dmabuf_fill(pd, max_seg, own);

	mutex_lock(&pd->lock);
	if (pa->own) {
		ret = -EBUSY;
		goto out_unlock;
	}
	ret = dma_map_sgtable(attach->dev, own, dir, 0);
	if (ret)
		goto out_unlock;
	sgt = pinmgr_sgt_clone(own);
	if (!sgt) {
		ret = -ENOMEM;
		goto out_unmap;
	}
	pa->own = own;
	pa->sgt = sgt;
	pa->dir = dir;
	list_add(&pa->node, &pd->mappings);
	mutex_unlock(&pd->lock);
	return sgt;

out_unmap:
	dma_unmap_sgtable(attach->dev, own, dir, 0);
out_unlock:
	mutex_unlock(&pd->lock);
	sg_free_table(own);
out_free:
	kfree(own);
	return ERR_PTR(ret);
}

static void pinmgr_dmabuf_unmap(struct dma_buf_attachment *attach,
				struct sg_table *sgt,
				enum dma_data_direction dir)
{
	struct pinmgr_dmabuf *pd = attach->dmabuf->priv;
	struct pinmgr_dmabuf_attachment *pa = attach->priv;

	struct pinmgr_dmabuf_taken m = { NULL };

	mutex_lock(&pd->lock);
	if (!WARN_ON_ONCE(!pa->own || pa->sgt != sgt))
		m = pinmgr_dmabuf_take(pa);
	mutex_unlock(&pd->lock);
	if (m.own)
		pinmgr_dmabuf_undo(attach->dev, m);
}

/*
 * Around CPU access through a kernel mapping (vmap) or the owner's own
 * mapping: hand every device mapping to the CPU (@for_cpu) or back to its
 * device (a no-op on coherent hardware; bounce buffers are copied).
 */
static void pinmgr_dmabuf_sync(struct pinmgr_dmabuf *pd, bool for_cpu)
{
	struct pinmgr_dmabuf_attachment *pa;

	mutex_lock(&pd->lock);
	list_for_each_entry(pa, &pd->mappings, node) {
		if (for_cpu)
			dma_sync_sgtable_for_cpu(pa->dev, pa->own, pa->dir);
		else
			dma_sync_sgtable_for_device(pa->dev, pa->own, pa->dir);
		cond_resched();
	}
	mutex_unlock(&pd->lock);
}

static int pinmgr_dmabuf_begin_cpu_access(struct dma_buf *dmabuf,
					  enum dma_data_direction dir)
{
	pinmgr_dmabuf_sync(dmabuf->priv, true);
	return 0;
}

static int pinmgr_dmabuf_end_cpu_access(struct dma_buf *dmabuf,
					enum dma_data_direction dir)
{
	pinmgr_dmabuf_sync(dmabuf->priv, false);
	return 0;
}

/*
 * A kernel mapping of the pages; only of a writable pin's (see
 * pinmgr_dmabuf_novmap_ops).
 */
static int pinmgr_dmabuf_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct pinmgr_dmabuf *pd = dmabuf->priv;
	unsigned long first = pd->start >> PAGE_SHIFT, i, n;
	struct page **pages;
	void *vaddr;

	n = pd->length >> PAGE_SHIFT;
	pages = kvmalloc_array(n, sizeof(*pages), GFP_KERNEL | __GFP_NOWARN);
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
	/* After the file's release, the last hold unpins the region ... */
	pin_tracker_put_busy(pd->tracker, pd->region);
	/* ... and the last dma-buf frees the file's state. */
	pinmgr_file_put(pd->pf);
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
 * No vmap: for a read-only pin's, and for those larger than
 * PINMGR_VMAP_MAX_PAGES. Kernel importers write through their vmap as they
 * please (a V4L2 capture queue does), and a read-only pin's pages were
 * pinned without breaking copy-on-write; a read-only kernel mapping would
 * turn such a write into an oops. Without .vmap the core answers -EINVAL.
 */
static const struct dma_buf_ops pinmgr_dmabuf_novmap_ops = {
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
 * @pf: the state of the /dev/pinmgr file of @t, which the dma-buf holds
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
struct file *pinmgr_dmabuf_export(struct pinmgr_file *pf,
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
	pd->pf = pinmgr_file_get(pf);

	exp_info.ops = pinmgr_dmabuf_vmappable(r, length >> PAGE_SHIFT) ?
		       &pinmgr_dmabuf_ops : &pinmgr_dmabuf_novmap_ops;
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
	pinmgr_file_put(pd->pf);
	mutex_destroy(&pd->lock);
out_put_region:
	pin_tracker_put_busy(t, r);
out_free:
	kfree(pd);
	return ERR_PTR(ret);
}
