// SPDX-License-Identifier: GPL-2.0
/*
 * pinmgr_test_importer: a dma-buf importer for tests/dmabuf.c.
 *
 * Each open of /dev/pinmgr_test_importer registers a platform device of its
 * own (64-bit DMA, a largest segment the test picks) and imports dma-bufs
 * for it as a driver would: dma_buf_get(), dma_buf_attach(), map the
 * attachment, then read and write every byte through the pages of the sg
 * list (what the device would DMA) and, if asked, through dma_buf_vmap().
 * PTI_HOLD keeps a mapped attachment for the lifetime tests; the file's
 * release drops what it still holds.
 *
 * Tests only (tests/dmabuf/): never installed, never shipped.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/iosys-map.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "pinmgr_test_importer.h"

MODULE_IMPORT_NS(DMA_BUF);

/*
 * The importer's side of the dma-buf locking rules of every kernel from
 * 6.1 on: map, unmap, vmap and vunmap under the dma-buf's reservation lock
 * (6.2 and later require it; 6.1 allows it), CPU access brackets outside
 * it.
 */
static struct sg_table *pti_map_attachment(struct dma_buf_attachment *attach,
					   enum dma_data_direction dir)
{
	struct sg_table *sgt;

	dma_resv_lock(attach->dmabuf->resv, NULL);
	sgt = dma_buf_map_attachment(attach, dir);
	dma_resv_unlock(attach->dmabuf->resv);
	return sgt;
}

static void pti_unmap_attachment(struct dma_buf_attachment *attach,
				 struct sg_table *sgt,
				 enum dma_data_direction dir)
{
	dma_resv_lock(attach->dmabuf->resv, NULL);
	dma_buf_unmap_attachment(attach, sgt, dir);
	dma_resv_unlock(attach->dmabuf->resv);
}

static int pti_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	int ret;

	dma_resv_lock(dmabuf->resv, NULL);
	ret = dma_buf_vmap(dmabuf, map);
	dma_resv_unlock(dmabuf->resv);
	return ret;
}

static void pti_vunmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	dma_resv_lock(dmabuf->resv, NULL);
	dma_buf_vunmap(dmabuf, map);
	dma_resv_unlock(dmabuf->resv);
}

struct pti_slot {
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	enum dma_data_direction dir;
};

struct pti_file {
	struct platform_device *pdev;
	struct mutex lock;	/* the device's settings and @slots */
	struct pti_slot slots[PTI_SLOTS];
};

static void pti_slot_drop(struct pti_slot *s)
{
	pti_unmap_attachment(s->attach, s->sgt, s->dir);
	dma_buf_detach(s->dmabuf, s->attach);
	dma_buf_put(s->dmabuf);
	memset(s, 0, sizeof(*s));
}

/*
 * Walk every byte of @sgt's pages: hash them into *@hash, then write the
 * pattern if @seed_write. Returns the bytes walked.
 */
static u64 pti_walk(struct sg_table *sgt, u64 *hash, bool write, u64 seed,
		    u32 *nents, u32 *max_len)
{
	struct scatterlist *sg;
	u64 pos = 0;
	unsigned int i;

	*nents = 0;
	*max_len = 0;
	for_each_sgtable_sg(sgt, sg, i) {
		unsigned int done = 0;

		(*nents)++;
		*max_len = max(*max_len, sg->length);
		while (done < sg->length) {
			unsigned int off = sg->offset + done;
			unsigned int in = offset_in_page(off);
			unsigned int n = min_t(unsigned int, sg->length - done,
					       PAGE_SIZE - in);
			struct page *p = nth_page(sg_page(sg), off >> PAGE_SHIFT);
			u8 *va = kmap_local_page(p);
			unsigned int k;

			*hash = pti_fnv(*hash, va + in, n);
			if (write)
				for (k = 0; k < n; k++)
					va[in + k] = pti_pattern(pos + k, seed);
			kunmap_local(va);
			done += n;
			pos += n;
		}
		cond_resched();
	}
	return pos;
}

static int pti_vmap_walk(struct dma_buf *dmabuf, struct pti_map *m)
{
	struct iosys_map map;
	u8 *va;
	u64 i;
	int ret;

	ret = dma_buf_begin_cpu_access(dmabuf, DMA_BIDIRECTIONAL);
	if (ret)
		return ret;
	ret = pti_vmap(dmabuf, &map);
	if (ret)
		goto out_end;
	if (map.is_iomem) {
		ret = -EPROTO;
		goto out_vunmap;
	}
	va = map.vaddr;
	m->out_vhash = pti_fnv(PTI_FNV_INIT, va, dmabuf->size);
	if (m->ops & PTI_OP_WRITE_VMAP)
		for (i = 0; i < dmabuf->size; i++)
			va[i] = pti_pattern(i, m->seed);
out_vunmap:
	pti_vunmap(dmabuf, &map);
out_end:
	dma_buf_end_cpu_access(dmabuf, DMA_BIDIRECTIONAL);
	return ret;
}

static int pti_import(struct pti_file *pf, struct pti_map *m, bool hold)
{
	struct device *dev = &pf->pdev->dev;
	struct pti_slot s = { .dir = m->dir };
	u64 walked;
	int ret, slot = -1, i;

	if (m->dir > PTI_DIR_FROM_DEVICE ||
	    m->ops & ~(PTI_OP_WRITE_SG | PTI_OP_VMAP | PTI_OP_WRITE_VMAP |
		       PTI_OP_VMAP_ONLY) ||
	    (hold && m->ops & PTI_OP_VMAP_ONLY))
		return -EINVAL;
	if (hold) {
		for (i = 0; i < PTI_SLOTS && slot < 0; i++)
			if (!pf->slots[i].dmabuf)
				slot = i;
		if (slot < 0)
			return -ENOSPC;
	}
	if (dev->dma_parms)
		dev->dma_parms->max_segment_size = m->max_seg ?: UINT_MAX;
	s.dmabuf = dma_buf_get(m->fd);
	if (IS_ERR(s.dmabuf))
		return PTR_ERR(s.dmabuf);
	m->out_size = s.dmabuf->size;
	if (m->ops & PTI_OP_VMAP_ONLY) {
		struct iosys_map map;

		ret = pti_vmap(s.dmabuf, &map);
		if (!ret)
			pti_vunmap(s.dmabuf, &map);
		goto out_put;
	}
	s.attach = dma_buf_attach(s.dmabuf, dev);
	if (IS_ERR(s.attach)) {
		ret = PTR_ERR(s.attach);
		goto out_put;
	}
	s.sgt = pti_map_attachment(s.attach, s.dir);
	if (IS_ERR(s.sgt)) {
		ret = PTR_ERR(s.sgt);
		goto out_detach;
	}
	dma_sync_sgtable_for_cpu(dev, s.sgt, s.dir);
	m->out_hash = PTI_FNV_INIT;
	walked = pti_walk(s.sgt, &m->out_hash, m->ops & PTI_OP_WRITE_SG,
			  m->seed, &m->out_nents, &m->out_max_len);
	dma_sync_sgtable_for_device(dev, s.sgt, s.dir);
	ret = walked == s.dmabuf->size ? 0 : -EPROTO;
	if (!ret && m->ops & (PTI_OP_VMAP | PTI_OP_WRITE_VMAP))
		ret = pti_vmap_walk(s.dmabuf, m);
	if (!ret && hold) {
		pf->slots[slot] = s;
		m->out_slot = slot;
		return 0;
	}
	pti_unmap_attachment(s.attach, s.sgt, s.dir);
out_detach:
	dma_buf_detach(s.dmabuf, s.attach);
out_put:
	dma_buf_put(s.dmabuf);
	return ret;
}

static long pti_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct pti_file *pf = filp->private_data;
	void __user *uarg = (void __user *)arg;
	struct pti_map m;
	u32 slot;
	int ret;

	switch (cmd) {
	case PTI_MAP:
	case PTI_HOLD:
		if (copy_from_user(&m, uarg, sizeof(m)))
			return -EFAULT;
		mutex_lock(&pf->lock);
		ret = pti_import(pf, &m, cmd == PTI_HOLD);
		mutex_unlock(&pf->lock);
		if (!ret && copy_to_user(uarg, &m, sizeof(m)))
			ret = -EFAULT;	/* a held slot stays until release */
		return ret;
	case PTI_DROP:
		if (copy_from_user(&slot, uarg, sizeof(slot)))
			return -EFAULT;
		if (slot >= PTI_SLOTS)
			return -EINVAL;
		mutex_lock(&pf->lock);
		ret = pf->slots[slot].dmabuf ? 0 : -ENOENT;
		if (!ret)
			pti_slot_drop(&pf->slots[slot]);
		mutex_unlock(&pf->lock);
		return ret;
	default:
		return -ENOTTY;
	}
}

static int pti_open(struct inode *inode, struct file *filp)
{
	struct pti_file *pf;
	int ret;

	pf = kzalloc(sizeof(*pf), GFP_KERNEL);
	if (!pf)
		return -ENOMEM;
	pf->pdev = platform_device_register_simple(PTI_NAME,
						   PLATFORM_DEVID_AUTO,
						   NULL, 0);
	if (IS_ERR(pf->pdev)) {
		ret = PTR_ERR(pf->pdev);
		goto out_free;
	}
	ret = dma_coerce_mask_and_coherent(&pf->pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		goto out_unregister;
	mutex_init(&pf->lock);
	filp->private_data = pf;
	return 0;

out_unregister:
	platform_device_unregister(pf->pdev);
out_free:
	kfree(pf);
	return ret;
}

static int pti_release(struct inode *inode, struct file *filp)
{
	struct pti_file *pf = filp->private_data;
	unsigned int i;

	for (i = 0; i < PTI_SLOTS; i++)
		if (pf->slots[i].dmabuf)
			pti_slot_drop(&pf->slots[i]);
	platform_device_unregister(pf->pdev);
	mutex_destroy(&pf->lock);
	kfree(pf);
	return 0;
}

static const struct file_operations pti_fops = {
	.owner = THIS_MODULE,
	.open = pti_open,
	.release = pti_release,
	.unlocked_ioctl = pti_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice pti_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = PTI_NAME,
	.fops = &pti_fops,
	.mode = 0600,
};
module_misc_device(pti_misc);

MODULE_DESCRIPTION("pinmgr tests: a dma-buf importer");
MODULE_LICENSE("GPL");
