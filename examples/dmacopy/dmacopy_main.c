// SPDX-License-Identifier: GPL-2.0
/*
 * dmacopy: a memory-to-memory "DMA engine" that borrows the pin tracker.
 *
 * Each open file of /dev/dmacopy has a tracker. DMACOPY_IOC_COPY pins the
 * source read-only and the destination writable, copies between the
 * pinned pages (never through the process's page tables, as a device
 * would), and unpins both, the destination with dirtying; with
 * DMACOPY_COPY_HOLD both stay pinned until the file is closed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dmacopy.h"
#include "pin_tracker.h"

/* Per pin: 1 GiB; regions a file may hold (HOLD). */
#define DMACOPY_MAX_PAGES	(SZ_1G >> PAGE_SHIFT)
#define DMACOPY_MAX_REGIONS	64

/*
 * Copy @len bytes from @soff in @src to @doff in @dst (offsets from the
 * first byte of each region's first page). Two mappings of one file page
 * can make source and destination the same memory at different
 * addresses: memmove() keeps each chunk defined, the whole copy is then
 * done front to back as a device would.
 */
static int dmacopy_pages(struct pin_region *dst, u64 doff,
			 struct pin_region *src, u64 soff, u64 len)
{
	while (len) {
		size_t d = offset_in_page(doff), s = offset_in_page(soff);
		size_t n = min_t(u64, len, PAGE_SIZE - max(d, s));
		struct page *dp = pin_region_page(dst, doff >> PAGE_SHIFT);
		struct page *sp = pin_region_page(src, soff >> PAGE_SHIFT);
		void *to = kmap_local_page(dp);
		void *from = kmap_local_page(sp);

		memmove(to + d, from + s, n);
		kunmap_local(from);
		kunmap_local(to);
		flush_dcache_page(dp);
		doff += n;
		soff += n;
		len -= n;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

static int dmacopy_copy(struct pin_tracker *t, struct dmacopy_copy *c)
{
	struct pin_region *src, *dst;
	unsigned long npages;
	u32 hs, hd;
	int ret;

	if (c->flags & ~DMACOPY_COPY_HOLD)
		return -EINVAL;
	if (c->src + c->length < c->src || c->dst + c->length < c->dst)
		return -EOVERFLOW;
	if (c->length && c->src < c->dst + c->length &&
	    c->dst < c->src + c->length)
		return -EINVAL;
	ret = pin_tracker_pin(t, c->src, c->length, 0, &hs, &npages);
	if (ret)
		return ret;
	ret = pin_tracker_pin(t, c->dst, c->length, PIN_TRACKER_WRITE, &hd,
			      &npages);
	if (ret)
		goto unpin_src;
	src = pin_tracker_get(t, hs);
	dst = pin_tracker_get(t, hd);
	/*
	 * Only this call knows the handles, and release cannot run during
	 * an ioctl: the lookups cannot fail. Checked all the same.
	 */
	if (!src || !dst) {
		ret = -ENOENT;
		goto put;
	}
	ret = dmacopy_pages(dst, offset_in_page(c->dst), src,
			    offset_in_page(c->src), c->length);
put:
	if (dst)
		pin_tracker_put(t, dst);
	if (src)
		pin_tracker_put(t, src);
	if (!ret && (c->flags & DMACOPY_COPY_HOLD))
		return 0;	/* pinned until release */
	pin_tracker_unpin(t, hd);
unpin_src:
	pin_tracker_unpin(t, hs);
	return ret;
}

static long dmacopy_ioctl(struct file *filp, unsigned int cmd,
			  unsigned long arg)
{
	struct pin_tracker *t = filp->private_data;
	struct dmacopy_copy c;

	if (cmd != DMACOPY_IOC_COPY)
		return -ENOTTY;
	/* The tracker pins from current->mm: only the opener's. */
	if (current->mm != t->mm)
		return -EACCES;
	if (copy_from_user(&c, (void __user *)arg, sizeof(c)))
		return -EFAULT;
	if (c.size != sizeof(c))
		return -EINVAL;
	return dmacopy_copy(t, &c);
}

static int dmacopy_open(struct inode *inode, struct file *filp)
{
	struct pin_tracker *t;
	int ret;

	if (!current->mm)
		return -EINVAL;
	t = kzalloc(sizeof(*t), PIN_GFP_ACCOUNT);
	if (!t)
		return -ENOMEM;
	/* No change watching: a copy is over before the process can care. */
	ret = pin_tracker_init(t, current->mm, DMACOPY_MAX_PAGES,
			       DMACOPY_MAX_REGIONS, false, NULL);
	if (ret) {
		kfree(t);
		return ret;
	}
	filp->private_data = t;
	return 0;
}

static int dmacopy_release(struct inode *inode, struct file *filp)
{
	struct pin_tracker *t = filp->private_data;

	pin_tracker_destroy(t);	/* unpins whatever is still held */
	kfree(t);
	return 0;
}

static const struct file_operations dmacopy_fops = {
	.owner = THIS_MODULE,
	.open = dmacopy_open,
	.release = dmacopy_release,
	.unlocked_ioctl = dmacopy_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice dmacopy_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dmacopy",
	.fops = &dmacopy_fops,
	.mode = 0600,
};

module_misc_device(dmacopy_misc);

MODULE_DESCRIPTION("Memory-to-memory copies through pinned pages: an example borrower of the pin tracker");
MODULE_LICENSE("GPL");
