// SPDX-License-Identifier: GPL-2.0
/*
 * pinmgr_bench_raw: the floor pinmgr's benchmark compares against.
 *
 * One misc device, /dev/pinmgr_bench_raw, with one ioctl that pins a user
 * range long-term into a page array and unpins it again, the way a driver
 * with no bookkeeping at all would: pin_user_pages_fast(FOLL_LONGTERM |
 * FOLL_WRITE) and unpin_user_pages_dirty_lock(). For fairness it pins in
 * batches of 512 pages (one page of page pointers), like pinmgr does; unlike
 * pinmgr it charges no locked memory, checks no VMA, keeps one pointer per
 * page and tracks nothing after the ioctl returns.
 *
 * Bench only (tests/bench/): never installed, never shipped.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "pinmgr_bench_raw.h"

static unsigned long max_pages = 1UL << 20;
module_param(max_pages, ulong, 0644);
MODULE_PARM_DESC(max_pages, "Most pages one ioctl may pin (default 1M pages)");

/* Unpin (and dirty) @npages pages of @pages, a batch at a time. */
static void raw_unpin(struct page **pages, unsigned long npages)
{
	unsigned long done, n;

	for (done = 0; done < npages; done += n) {
		n = min_t(unsigned long, npages - done, PINMGR_BENCH_RAW_BATCH);
		unpin_user_pages_dirty_lock(pages + done, n, true);
		cond_resched();
	}
}

static int raw_pin_unpin(struct pinmgr_bench_raw_pin *arg)
{
	unsigned long start, end, npages, done = 0;
	struct page **pages;
	bool timed = arg->flags & PINMGR_BENCH_RAW_TIMED;
	u64 t0 = 0, t1 = 0, t2 = 0;
	long got;
	int ret = 0;

	if (arg->flags & ~PINMGR_BENCH_RAW_TIMED || !arg->length)
		return -EINVAL;
	if (arg->addr + arg->length < arg->addr)
		return -EOVERFLOW;
	if (arg->addr + arg->length > TASK_SIZE)
		return -EFAULT;
	start = arg->addr & PAGE_MASK;
	end = PAGE_ALIGN(arg->addr + arg->length);
	npages = (end - start) >> PAGE_SHIFT;
	if (npages > READ_ONCE(max_pages))
		return -E2BIG;

	pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		return -ENOMEM;
	if (timed)
		t0 = ktime_get_ns();
	while (done < npages) {
		got = pin_user_pages_fast(start + (done << PAGE_SHIFT),
					  min_t(unsigned long, npages - done,
						PINMGR_BENCH_RAW_BATCH),
					  FOLL_LONGTERM | FOLL_WRITE,
					  pages + done);
		if (got <= 0) {
			ret = got ? got : -EFAULT;
			break;
		}
		done += got;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	if (timed)
		t1 = ktime_get_ns();
	raw_unpin(pages, done);
	if (timed)
		t2 = ktime_get_ns();
	kvfree(pages);

	arg->out_npages = done;
	arg->out_pin_ns = t1 - t0;
	arg->out_unpin_ns = t2 - t1;
	return ret;
}

static long raw_fops_ioctl(struct file *filp, unsigned int cmd,
			   unsigned long uarg)
{
	struct pinmgr_bench_raw_pin arg;
	void __user *uptr = (void __user *)uarg;
	int ret;

	if (cmd != PINMGR_BENCH_RAW_PIN_UNPIN)
		return -ENOTTY;
	if (copy_from_user(&arg, uptr, sizeof(arg)))
		return -EFAULT;
	if (arg.size != sizeof(arg))
		return -EINVAL;
	ret = raw_pin_unpin(&arg);
	if (ret)
		return ret;
	if (copy_to_user(uptr, &arg, sizeof(arg)))
		return -EFAULT;
	return 0;
}

static const struct file_operations raw_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = raw_fops_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice raw_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = PINMGR_BENCH_RAW_NAME,
	.fops = &raw_fops,
	.mode = 0600,
};

module_misc_device(raw_misc);

MODULE_DESCRIPTION("pinmgr benchmark floor: pin_user_pages_fast + unpin_user_pages_dirty_lock");
MODULE_AUTHOR("The pinmgr authors");
MODULE_LICENSE("GPL");
