// SPDX-License-Identifier: GPL-2.0
/*
 * pinmgr: the /dev/pinmgr misc device.
 *
 * Each open file owns a pin_tracker bound to the opener's mm. The ioctls are
 * thin wrappers around it; the ABI is include/uapi/linux/pinmgr.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/device.h>
#include <linux/fault-inject-usercopy.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#include <uapi/linux/pinmgr.h>

#include "export.h"
#include "pin_tracker.h"
#include "pin_watch.h"

static unsigned long max_pages_per_pin = 1UL << 20;
module_param(max_pages_per_pin, ulong, 0644);
MODULE_PARM_DESC(max_pages_per_pin,
		 "Most pages one PIN may cover, at most 16M; read at open() (default 1M pages)");

static unsigned int max_regions = 1U << 20;
module_param(max_regions, uint, 0644);
MODULE_PARM_DESC(max_regions,
		 "Most regions one open file may hold; read at open() (default 1M)");

static bool events = true;
module_param(events, bool, 0644);
MODULE_PARM_DESC(events,
		 "Watch pinned ranges for changes (divergence events) on files opened from now on (default on)");

static uint test_first_handle = 1;
module_param(test_first_handle, uint, 0644);
MODULE_PARM_DESC(test_first_handle,
		 "For tests of handle wrap-around: the first handle of files opened from now on (default 1)");

static bool test_access;
module_param(test_access, bool, 0644);
MODULE_PARM_DESC(test_access,
		 "Allow the test-only ACCESS ioctl on files opened from now on (default off)");

/* Totals over every open file, shown in /sys/class/misc/pinmgr/stats/. */
static struct pin_counters pinmgr_counters;
static atomic64_t pinmgr_open_files = ATOMIC64_INIT(0);
atomic64_t pinmgr_dmabufs = ATOMIC64_INIT(0);

/**
 * struct pinmgr_file - state of one open /dev/pinmgr
 * @tracker: the regions pinned through this file; has its own locking
 * @ref: one reference for the open file, one per dma-buf made from it
 *	(export.c): a region a dma-buf holds outlives the file's release
 * @owner: thread group that opened the file (for fdinfo)
 * @phys_allowed: the opener had CAP_SYS_ADMIN
 * @test_access: the test_access parameter was set at open()
 *
 * Everything but @tracker and @ref is set at open() and never changes.
 */
struct pinmgr_file {
	struct pin_tracker tracker;
	struct kref ref;
	struct pid *owner;
	bool phys_allowed;
	bool test_access;
};

static void pinmgr_file_free(struct kref *ref)
{
	struct pinmgr_file *pf = container_of(ref, struct pinmgr_file, ref);

	pin_tracker_destroy(&pf->tracker);
	put_pid(pf->owner);
	kfree(pf);
}

/**
 * pinmgr_file_get() - keep a file's state (and its tracker) alive
 * @pf: the file's state
 *
 * Context: any.
 * Return: @pf.
 */
struct pinmgr_file *pinmgr_file_get(struct pinmgr_file *pf)
{
	kref_get(&pf->ref);
	return pf;
}

/**
 * pinmgr_file_put() - drop a reference taken by pinmgr_file_get()
 * @pf: the file's state
 *
 * The last one destroys the tracker, unpinning what is left.
 *
 * Context: may sleep.
 */
void pinmgr_file_put(struct pinmgr_file *pf)
{
	kref_put(&pf->ref, pinmgr_file_free);
}

/**
 * struct pinmgr_ucmd - one ioctl call in flight
 * @pf: the file
 * @ubuffer: the user's struct
 * @user_size: the size userspace gave in the struct
 * @cmd: the struct, copied in and zero-extended to the module's size
 */
struct pinmgr_ucmd {
	struct pinmgr_file *pf;
	void __user *ubuffer;
	u32 user_size;
	void *cmd;
};

/*
 * Copy the (updated) struct back, no more than userspace gave: a word at a
 * time when that is whole words (see pinmgr_ucmd_read_quick()). A fault
 * fails the call with EFAULT, the words before it written (where
 * copy_to_user() would have written the bytes before it). The word copy is
 * still a user copy to fault injection (fail_usercopy), as copy_to_user()
 * was: one point, which fails it whole.
 */
static int pinmgr_ucmd_respond(struct pinmgr_ucmd *ucmd, size_t cmd_len)
{
	size_t len = min_t(size_t, ucmd->user_size, cmd_len), i;
	u64 __user *dst = ucmd->ubuffer;
	const u64 *src = ucmd->cmd;

	if (len % sizeof(u64)) {
		if (copy_to_user(ucmd->ubuffer, ucmd->cmd, len))
			return -EFAULT;
		return 0;
	}
	might_fault();
	if (should_fail_usercopy() || !user_access_begin(dst, len))
		return -EFAULT;
	for (i = 0; i < len / sizeof(u64); i++)
		unsafe_put_user(src[i], &dst[i], out_fault);
	user_access_end();
	return 0;
out_fault:
	user_access_end();
	return -EFAULT;
}

/* The pin flags every pinning ioctl takes. */
#define PINMGR_PIN_FLAGS (PINMGR_PIN_WRITE | PINMGR_PIN_NO_EVENTS)

/* &enum pinmgr_pin_flags -> &enum pin_tracker_flags */
static unsigned int pinmgr_tracker_flags(u32 flags)
{
	return (flags & PINMGR_PIN_WRITE ? PIN_TRACKER_WRITE : 0) |
	       (flags & PINMGR_PIN_NO_EVENTS ? PIN_TRACKER_UNWATCHED : 0);
}

static int pinmgr_info(struct pinmgr_ucmd *ucmd)
{
	struct pinmgr_info *cmd = ucmd->cmd;
	struct pin_tracker *t = &ucmd->pf->tracker;

	if (cmd->flags)
		return -EINVAL;
	cmd->out_abi_version = PINMGR_ABI_VERSION;
	cmd->out_page_size = PAGE_SIZE;
	cmd->out_pin_flags = PINMGR_PIN_FLAGS;
	cmd->out_segments_flags = PINMGR_SEGMENTS_PHYS;
	cmd->out_caps = (ucmd->pf->phys_allowed ? PINMGR_CAP_PHYS : 0) |
			(ucmd->pf->test_access ? PINMGR_CAP_TEST_ACCESS : 0) |
			(t->watch ? PINMGR_CAP_EVENTS : 0) |
			(PINMGR_HAVE_EXPORT ? PINMGR_CAP_EXPORT_DMABUF : 0) |
			PINMGR_CAP_UPDATE_REPLACE;
	cmd->out_max_pages_per_pin = t->max_pages;
	cmd->out_max_regions = t->max_regions;
	return pinmgr_ucmd_respond(ucmd, sizeof(*cmd));
}

static int pinmgr_pin(struct pinmgr_ucmd *ucmd)
{
	struct pinmgr_pin *cmd = ucmd->cmd;
	struct pin_tracker *t = &ucmd->pf->tracker;
	unsigned long npages;
	u32 handle;
	int ret;

	if (cmd->flags & ~PINMGR_PIN_FLAGS)
		return -EINVAL;
	ret = pin_tracker_pin(t, cmd->addr, cmd->length,
			      pinmgr_tracker_flags(cmd->flags), &handle,
			      &npages);
	if (ret)
		return ret;
	cmd->out_handle = handle;
	cmd->out_offset = offset_in_page(cmd->addr);
	cmd->out_npages = npages;
	ret = pinmgr_ucmd_respond(ucmd, sizeof(*cmd));
	if (ret)
		/* Userspace cannot know the handle: undo. */
		pin_tracker_abort(t, handle);
	return ret;
}

/*
 * Ranges of a PIN_VEC or UPDATE read and written per copy_{from,to}_user().
 * Few: kernels built with CONFIG_INIT_STACK_ALL_ZERO (Debian's) zero the
 * whole array on every call, and most UPDATEs carry one range.
 */
#define PINMGR_VEC_CHUNK 4

/* Undo the first @n pins of a failed PIN_VEC. */
static void pinmgr_unpin_handles(struct pin_tracker *t, const u32 *handles,
				 u32 n)
{
	while (n--)
		pin_tracker_abort(t, handles[n]);
}

/*
 * Pin the @count ranges at @uranges (one region each) and write their out_
 * fields back. All or nothing: on failure every range pinned here is
 * unpinned again. On success @handles holds the new handles, for a caller
 * that may still have to undo them.
 */
static int pinmgr_pin_ranges(struct pin_tracker *t, unsigned int flags,
			     struct pinmgr_pin_range __user *uranges,
			     u32 count, u32 *handles)
{
	struct pinmgr_pin_range chunk[PINMGR_VEC_CHUNK];
	unsigned long npages;
	u32 done, i, n;
	int ret;

	for (done = 0; done < count; done += n) {
		n = min_t(u32, count - done, PINMGR_VEC_CHUNK);
		if (copy_from_user(chunk, uranges + done, n * sizeof(chunk[0]))) {
			ret = -EFAULT;
			goto out_unpin;
		}
		for (i = 0; i < n; i++) {
			ret = pin_tracker_pin(t, chunk[i].addr, chunk[i].length,
					      flags, &handles[done + i],
					      &npages);
			if (ret) {
				done += i;
				goto out_unpin;
			}
			chunk[i].out_handle = handles[done + i];
			chunk[i].out_offset = offset_in_page(chunk[i].addr);
			chunk[i].out_npages = npages;
		}
		if (copy_to_user(uranges + done, chunk, n * sizeof(chunk[0]))) {
			ret = -EFAULT;
			done += n;
			goto out_unpin;
		}
	}
	return 0;

out_unpin:
	pinmgr_unpin_handles(t, handles, done);
	return ret;
}

/* Room for the handles of a PIN_VEC or an UPDATE; @small if they fit. */
static u32 *pinmgr_handles_alloc(u32 count, u32 *small, u32 nsmall)
{
	if (count <= nsmall)
		return small;
	return kvmalloc_array(count, sizeof(u32), PIN_GFP_ACCOUNT | __GFP_NOWARN);
}

static void pinmgr_handles_free(u32 *handles, u32 *small)
{
	if (handles != small)
		kvfree(handles);
}

/* Handles of a small PIN_VEC or UPDATE, kept on the stack. */
#define PINMGR_SMALL_HANDLES 4

static int pinmgr_pin_vec(struct pinmgr_ucmd *ucmd)
{
	struct pinmgr_pin_vec *cmd = ucmd->cmd;
	u32 small[PINMGR_SMALL_HANDLES], *handles;
	int ret;

	if (cmd->flags & ~PINMGR_PIN_FLAGS || cmd->__reserved || !cmd->count)
		return -EINVAL;
	if (cmd->count > PINMGR_PIN_VEC_MAX)
		return -E2BIG;
	handles = pinmgr_handles_alloc(cmd->count, small, ARRAY_SIZE(small));
	if (!handles)
		return -ENOMEM;
	ret = pinmgr_pin_ranges(&ucmd->pf->tracker,
				pinmgr_tracker_flags(cmd->flags),
				u64_to_user_ptr(cmd->ranges), cmd->count,
				handles);
	pinmgr_handles_free(handles, small);
	return ret;
}

/* Ranges of an UPDATE that replaces, kept on the stack. */
#define PINMGR_SMALL_REPLACE 2

/*
 * The pages [@addr, @addr + @length) touches, as a replace answers in
 * out_npages before pinning: undefined for a range the tracker refuses
 * (as on failure).
 */
static __always_inline u64 pinmgr_range_npages(u64 addr, u64 length)
{
	return (PAGE_ALIGN(addr + length) - (addr & PAGE_MASK)) >> PAGE_SHIFT;
}

/*
 * The range of a one-range replace, the per-I/O case: read into @tr and
 * written back with its out_ fields in one user access, where a copy in
 * and a copy out would cost two (each about as much as the copy itself).
 * As the copies of several ranges do, it reads the whole struct before it
 * writes any of it (a struct whose second half cannot be read is left
 * untouched: no write fault, no copy-on-write), then writes the whole
 * struct (one in read-only memory fails the same way). To fault injection
 * (fail_usercopy) it is still the copy in and the copy out it replaces:
 * two points, the first failing before anything is read, the second
 * before anything is written. Returns 0 or -EFAULT.
 */
static int pinmgr_replace_one(struct pinmgr_pin_range __user *urange,
			      u32 handle, struct pin_tracker_range *tr)
{
	u64 addr, length, last;

	/* No calls inside the user access section: both points first. */
	if (should_fail_usercopy())	/* the copy in */
		return -EFAULT;
	if (should_fail_usercopy())	/* the copy out */
		return -EFAULT;
	might_fault();
	if (!user_access_begin(urange, sizeof(*urange)))
		return -EFAULT;
	unsafe_get_user(addr, &urange->addr, out_fault);
	unsafe_get_user(length, &urange->length, out_fault);
	/*
	 * The last field, read only to fault where the copy in would: with
	 * the first, it touches every page the struct is on.
	 */
	unsafe_get_user(last, &urange->out_npages, out_fault);
	(void)last;
	unsafe_put_user(addr, &urange->addr, out_fault);
	unsafe_put_user(length, &urange->length, out_fault);
	unsafe_put_user(handle, &urange->out_handle, out_fault);
	unsafe_put_user(offset_in_page(addr), &urange->out_offset, out_fault);
	unsafe_put_user(pinmgr_range_npages(addr, length), &urange->out_npages,
			out_fault);
	user_access_end();
	tr->addr = addr;
	tr->length = length;
	return 0;

out_fault:
	user_access_end();
	return -EFAULT;
}

/*
 * UPDATE with PINMGR_UPDATE_REPLACE: range i takes handle i over. The out_
 * fields are known before anything is pinned (the handle is the one given)
 * and are written first, so that nothing is left to fail once the regions
 * are replaced.
 */
static int pinmgr_update_replace(struct pin_tracker *t,
				 const struct pinmgr_update *cmd)
{
	struct pinmgr_pin_range __user *uranges = u64_to_user_ptr(cmd->pin);
	u32 __user *uhandles = u64_to_user_ptr(cmd->unpin);
	struct pinmgr_pin_range small_ranges[PINMGR_SMALL_REPLACE], *ranges;
	struct pin_tracker_range small_tr[PINMGR_SMALL_REPLACE], *tr;
	u32 small_handles[PINMGR_SMALL_REPLACE], *handles;
	u32 i, n = cmd->nr_pin;
	int ret;

	if (n != cmd->nr_unpin)
		return -EINVAL;
	handles = small_handles;
	ranges = small_ranges;
	tr = small_tr;
	if (n > PINMGR_SMALL_REPLACE) {
		/* The ranges as read and as the tracker takes them, the handles. */
		ranges = kvmalloc_array(n, sizeof(*ranges) + sizeof(*tr) +
					sizeof(*handles),
					PIN_GFP_ACCOUNT | __GFP_NOWARN);
		if (!ranges)
			return -ENOMEM;
		tr = (struct pin_tracker_range *)(ranges + n);
		handles = (u32 *)(tr + n);
	}
	ret = -EFAULT;
	/* One range, the per-I/O case: see pinmgr_replace_one(). */
	if (n == 1) {
		if (get_user(handles[0], uhandles) ||
		    pinmgr_replace_one(uranges, handles[0], tr))
			goto out_free;
		goto replace;
	}
	if (copy_from_user(handles, uhandles, n * sizeof(*handles)) ||
	    copy_from_user(ranges, uranges, n * sizeof(*ranges)))
		goto out_free;
	for (i = 0; i < n; i++) {
		u64 addr = ranges[i].addr;

		tr[i].addr = addr;
		tr[i].length = ranges[i].length;
		ranges[i].out_handle = handles[i];
		ranges[i].out_offset = offset_in_page(addr);
		ranges[i].out_npages = pinmgr_range_npages(addr,
							   ranges[i].length);
	}
	if (copy_to_user(uranges, ranges, n * sizeof(*ranges)))
		goto out_free;
replace:
	ret = pin_tracker_replace(t, handles, tr, n,
				  pinmgr_tracker_flags(cmd->flags));
out_free:
	if (ranges != small_ranges)
		kvfree(ranges);
	return ret;
}

/*
 * Check the handles, pin the new ranges, then unpin the listed regions at
 * once; if another thread unpinned one meanwhile, undo the pins. Nothing
 * is written back to the struct itself (it has no out_ field), only to
 * the ranges.
 */
static int pinmgr_update(struct pinmgr_ucmd *ucmd)
{
	struct pinmgr_update *cmd = ucmd->cmd;
	struct pin_tracker *t = &ucmd->pf->tracker;
	u32 small_pin[PINMGR_SMALL_HANDLES], small_unpin[PINMGR_SMALL_HANDLES];
	u32 *pinned, *unpin;
	int ret;

	if (cmd->flags & ~(PINMGR_PIN_FLAGS | PINMGR_UPDATE_REPLACE) ||
	    (!cmd->nr_pin && !cmd->nr_unpin))
		return -EINVAL;
	if (cmd->nr_pin > PINMGR_PIN_VEC_MAX ||
	    cmd->nr_unpin > PINMGR_UNPIN_VEC_MAX)
		return -E2BIG;
	if (cmd->flags & PINMGR_UPDATE_REPLACE)
		return pinmgr_update_replace(t, cmd);
	unpin = pinmgr_handles_alloc(cmd->nr_unpin, small_unpin,
				     ARRAY_SIZE(small_unpin));
	if (!unpin)
		return -ENOMEM;
	if (copy_from_user(unpin, u64_to_user_ptr(cmd->unpin),
			   cmd->nr_unpin * sizeof(*unpin))) {
		ret = -EFAULT;
		goto out_free_unpin;
	}
	/* A bad handle fails the call before anything is pinned. */
	ret = pin_tracker_check_handles(t, unpin, cmd->nr_unpin);
	if (ret)
		goto out_free_unpin;
	pinned = pinmgr_handles_alloc(cmd->nr_pin, small_pin,
				      ARRAY_SIZE(small_pin));
	if (!pinned) {
		ret = -ENOMEM;
		goto out_free_unpin;
	}
	ret = pinmgr_pin_ranges(t, pinmgr_tracker_flags(cmd->flags),
				u64_to_user_ptr(cmd->pin), cmd->nr_pin, pinned);
	if (ret)
		goto out_free_pinned;
	ret = pin_tracker_unpin_vec(t, unpin, cmd->nr_unpin);
	/* Nothing was unpinned: neither may anything stay pinned. */
	if (ret == -ENOENT || ret == -EBUSY || ret == -ENOMEM)
		pinmgr_unpin_handles(t, pinned, cmd->nr_pin);
out_free_pinned:
	pinmgr_handles_free(pinned, small_pin);
out_free_unpin:
	pinmgr_handles_free(unpin, small_unpin);
	return ret;
}

static int pinmgr_unpin(struct pinmgr_ucmd *ucmd)
{
	struct pinmgr_unpin *cmd = ucmd->cmd;

	if (cmd->flags || cmd->__reserved)
		return -EINVAL;
	return pin_tracker_unpin(&ucmd->pf->tracker, cmd->handle);
}

/*
 * The dma-buf's fd is reserved last and installed only once userspace has
 * been told its number: nothing can use it before the call succeeded.
 */
static int pinmgr_export_dmabuf(struct pinmgr_ucmd *ucmd)
{
	struct pinmgr_export_dmabuf *cmd = ucmd->cmd;
	struct file *dmabuf;
	int fd, ret;

	if (cmd->flags || cmd->__reserved || cmd->__reserved2 || !cmd->length ||
	    !PAGE_ALIGNED(cmd->offset) || !PAGE_ALIGNED(cmd->length))
		return -EINVAL;
	dmabuf = pinmgr_dmabuf_export(ucmd->pf, &ucmd->pf->tracker,
				      cmd->handle, cmd->offset, cmd->length);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_put_dmabuf;
	}
	cmd->out_fd = fd;
	ret = pinmgr_ucmd_respond(ucmd, sizeof(*cmd));
	if (ret)
		goto out_put_fd;
	fd_install(fd, dmabuf);
	return 0;

out_put_fd:
	put_unused_fd(fd);
out_put_dmabuf:
	fput(dmabuf);
	return ret;
}

/*
 * How the pages of a region are physically contiguous is shown only to
 * files opened with CAP_SYS_ADMIN (those may read physical addresses as
 * well); to others, as /proc/PID/pagemap hides page frame numbers, every
 * page is a segment of its own.
 */
static u64 pinmgr_nsegs(const struct pinmgr_file *pf,
			const struct pin_region *r)
{
	return pf->phys_allowed ? r->nr_runs : r->npages;
}

/* Segment @i of @r as @pf may see it (see pinmgr_nsegs()). */
static void pinmgr_segment_of(const struct pinmgr_file *pf,
			      const struct pin_region *r, u64 i,
			      unsigned long *pfn, unsigned long *pgoff,
			      unsigned long *npages)
{
	if (pf->phys_allowed) {
		/* @i, checked against the runs, indexes an array of them. */
		pin_region_run(r, array_index_nospec(i, r->nr_runs), pfn,
			       pgoff, npages);
	} else {
		*pfn = 0;
		*pgoff = i;
		*npages = 1;
	}
}

static int pinmgr_query(struct pinmgr_ucmd *ucmd)
{
	struct pinmgr_query *cmd = ucmd->cmd;
	struct pin_tracker *t = &ucmd->pf->tracker;
	struct pin_region *r;

	if (cmd->flags || cmd->__reserved)
		return -EINVAL;
	r = pin_tracker_get(t, cmd->handle);
	if (!r)
		return -ENOENT;
	cmd->out_flags = (r->writable ? PINMGR_PIN_WRITE : 0) |
			 (r->unwatched ? PINMGR_PIN_NO_EVENTS : 0);
	cmd->out_addr = r->addr;
	cmd->out_length = r->length;
	cmd->out_npages = r->npages;
	cmd->out_nsegs = pinmgr_nsegs(ucmd->pf, r);
	cmd->out_offset = offset_in_page(r->addr);
	pin_tracker_put(t, r);
	return pinmgr_ucmd_respond(ucmd, sizeof(*cmd));
}

/* Segments copied out per copy_to_user(). */
#define PINMGR_SEG_CHUNK 8

static int pinmgr_copy_segments(const struct pinmgr_file *pf,
				struct pin_region *r, u64 start, u64 count,
				bool phys, struct pinmgr_segment __user *usegs)
{
	struct pinmgr_segment buf[PINMGR_SEG_CHUNK];
	unsigned long pfn, pgoff, npages;
	u64 done, i;
	unsigned int n;

	for (done = 0; done < count; done += n) {
		n = min_t(u64, count - done, PINMGR_SEG_CHUNK);
		for (i = 0; i < n; i++) {
			pinmgr_segment_of(pf, r, start + done + i, &pfn,
					  &pgoff, &npages);
			buf[i].offset = (u64)pgoff << PAGE_SHIFT;
			buf[i].length = (u64)npages << PAGE_SHIFT;
			buf[i].phys = phys ? PFN_PHYS(pfn) : 0;
		}
		if (copy_to_user(usegs + done, buf, n * sizeof(buf[0])))
			return -EFAULT;
		cond_resched();
	}
	return 0;
}

static int pinmgr_segments(struct pinmgr_ucmd *ucmd)
{
	struct pinmgr_segments *cmd = ucmd->cmd;
	struct pin_tracker *t = &ucmd->pf->tracker;
	bool phys = cmd->flags & PINMGR_SEGMENTS_PHYS;
	struct pin_region *r;
	u64 count = 0, total;
	int ret = 0;

	if (cmd->flags & ~PINMGR_SEGMENTS_PHYS || cmd->__reserved)
		return -EINVAL;
	if (phys && !ucmd->pf->phys_allowed)
		return -EPERM;
	r = pin_tracker_get(t, cmd->handle);
	if (!r)
		return -ENOENT;
	total = pinmgr_nsegs(ucmd->pf, r);
	if (cmd->start < total) {
		count = min_t(u64, cmd->capacity, total - cmd->start);
		ret = pinmgr_copy_segments(ucmd->pf, r, cmd->start, count,
					   phys, u64_to_user_ptr(cmd->segs));
	}
	cmd->out_count = count;
	cmd->out_total = total;
	pin_tracker_put(t, r);
	if (ret)
		return ret;
	return pinmgr_ucmd_respond(ucmd, sizeof(*cmd));
}

/*
 * Where STATS returns each counter: the UAPI field, or 0 for a counter it
 * does not return (notifiers: sysfs only).
 */
static const size_t pinmgr_stats_field[PIN_NR_COUNTERS] = {
	[PIN_COUNTER_REGIONS] = offsetof(struct pinmgr_stats, out_regions),
	[PIN_COUNTER_PINNED_PAGES] = offsetof(struct pinmgr_stats, out_pinned_pages),
	[PIN_COUNTER_PEAK_PAGES] = offsetof(struct pinmgr_stats, out_peak_pages),
	[PIN_COUNTER_PINS] = offsetof(struct pinmgr_stats, out_pins),
	[PIN_COUNTER_UNPINS] = offsetof(struct pinmgr_stats, out_unpins),
	[PIN_COUNTER_FAILED_PINS] = offsetof(struct pinmgr_stats, out_failed_pins),
	[PIN_COUNTER_METADATA_BYTES] = offsetof(struct pinmgr_stats, out_metadata_bytes),
	[PIN_COUNTER_DIVERGED_REGIONS] = offsetof(struct pinmgr_stats, out_diverged_regions),
};

static int pinmgr_stats(struct pinmgr_ucmd *ucmd)
{
	struct pinmgr_stats *cmd = ucmd->cmd;
	struct pin_tracker_stats s;
	unsigned int i;
	int ret;

	if (cmd->flags)
		return -EINVAL;
	/* Killed while the module looks at changes: never seen by anyone. */
	ret = pin_tracker_confirm_changes(&ucmd->pf->tracker);
	if (ret)
		return ret;
	pin_tracker_read_stats(&ucmd->pf->tracker, &s);
	for (i = 0; i < PIN_NR_COUNTERS; i++)
		if (pinmgr_stats_field[i])
			*(u64 *)((u8 *)cmd + pinmgr_stats_field[i]) = s.v[i];
	return pinmgr_ucmd_respond(ucmd, sizeof(*cmd));
}

/*
 * Copy between the user's buffer and the pinned pages themselves, as a
 * device doing DMA through the pin would see them. @pos is the byte offset
 * from the start of the region's first page. Writes go through @bounce so
 * that a fault part-way stores only bytes the user really supplied
 * (copy_from_user() zero-fills what it could not copy).
 */
static int pinmgr_copy_pages(struct pin_region *r, u64 pos, u64 len,
			     void __user *ubuf, bool write, void *bounce)
{
	unsigned long off, n, left;
	struct page *page;
	void *kaddr;

	while (len) {
		page = pin_region_page(r, pos >> PAGE_SHIFT);
		off = offset_in_page(pos);
		n = min_t(u64, len, PAGE_SIZE - off);
		if (write) {
			left = copy_from_user(bounce, ubuf, n);
			kaddr = kmap_local_page(page);
			memcpy(kaddr + off, bounce, n - left);
			kunmap_local(kaddr);
			flush_dcache_page(page);
		} else {
			kaddr = kmap_local_page(page);
			left = copy_to_user(ubuf, kaddr + off, n);
			kunmap_local(kaddr);
		}
		if (left)
			return -EFAULT;
		pos += n;
		ubuf += n;
		len -= n;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

static int pinmgr_access(struct pinmgr_ucmd *ucmd)
{
	struct pinmgr_access *cmd = ucmd->cmd;
	struct pin_tracker *t = &ucmd->pf->tracker;
	bool write = cmd->flags & PINMGR_ACCESS_WRITE;
	struct pin_region *r;
	void *bounce = NULL;
	int ret;

	if (cmd->flags & ~PINMGR_ACCESS_WRITE || cmd->__reserved ||
	    !cmd->length)
		return -EINVAL;
	r = pin_tracker_get(t, cmd->handle);
	if (!r)
		return -ENOENT;
	if (write && !r->writable) {
		ret = -EPERM;
		goto out_put;
	}
	if (cmd->offset > r->length || cmd->length > r->length - cmd->offset) {
		ret = -ERANGE;
		goto out_put;
	}
	if (write) {
		bounce = kmalloc(PAGE_SIZE, GFP_KERNEL);
		if (!bounce) {
			ret = -ENOMEM;
			goto out_put;
		}
	}
	ret = pinmgr_copy_pages(r, offset_in_page(r->addr) + cmd->offset,
				cmd->length, u64_to_user_ptr(cmd->buf), write,
				bounce);
	kfree(bounce);
out_put:
	pin_tracker_put(t, r);
	return ret;
}

static int pinmgr_verify(struct pinmgr_ucmd *ucmd)
{
	struct pinmgr_verify *cmd = ucmd->cmd;
	struct pin_tracker *t = &ucmd->pf->tracker;
	struct pin_region *r;
	int ret;

	if (cmd->flags || cmd->__reserved)
		return -EINVAL;
	r = pin_tracker_get(t, cmd->handle);
	if (!r)
		return -ENOENT;
	cmd->out_npages = r->npages;
	ret = pin_region_verify(r, &cmd->out_differ, &cmd->out_first);
	pin_tracker_put(t, r);
	if (ret)
		return ret;
	return pinmgr_ucmd_respond(ucmd, sizeof(*cmd));
}

union pinmgr_ucmd_buffer {
	struct pinmgr_info info;
	struct pinmgr_pin pin;
	struct pinmgr_unpin unpin;
	struct pinmgr_query query;
	struct pinmgr_segments segments;
	struct pinmgr_stats stats;
	struct pinmgr_access access;
	struct pinmgr_pin_vec pin_vec;
	struct pinmgr_verify verify;
	struct pinmgr_update update;
	struct pinmgr_export_dmabuf export_dmabuf;
};

/**
 * struct pinmgr_ioctl_op - one ioctl of the dispatch table
 * @size: the module's size of the struct
 * @min_size: the smallest size accepted: the struct's first version
 * @execute: the handler
 * @test_only: exists only on files opened with the test_access parameter set
 * @changes: pins or unpins: needs a file opened for writing
 */
struct pinmgr_ioctl_op {
	unsigned int size;
	unsigned int min_size;
	int (*execute)(struct pinmgr_ucmd *ucmd);
	bool test_only;
	bool changes;
};

/*
 * Any further initializers (.changes, .test_only) follow @_last. A struct
 * that outgrows the union (a member missing) fails the build.
 */
#define PINMGR_OP(_nr, _fn, _struct, _last, ...)			\
	[_nr] = {							\
		.size = sizeof(_struct) +				\
			BUILD_BUG_ON_ZERO(sizeof(union pinmgr_ucmd_buffer) < \
					  sizeof(_struct)),		\
		.min_size = offsetofend(_struct, _last),		\
		.execute = _fn,						\
		__VA_ARGS__						\
	}

#define PINMGR_CHANGE_OP(_nr, _fn, _struct, _last)			\
	PINMGR_OP(_nr, _fn, _struct, _last, .changes = true)

#define PINMGR_TEST_OP(_nr, _fn, _struct, _last)			\
	PINMGR_OP(_nr, _fn, _struct, _last, .test_only = true)

static const struct pinmgr_ioctl_op pinmgr_ops[] = {
	PINMGR_OP(PINMGR_CMD_INFO, pinmgr_info, struct pinmgr_info,
		  out_max_regions),
	PINMGR_CHANGE_OP(PINMGR_CMD_PIN, pinmgr_pin, struct pinmgr_pin,
			 out_npages),
	PINMGR_CHANGE_OP(PINMGR_CMD_UNPIN, pinmgr_unpin, struct pinmgr_unpin,
			 __reserved),
	PINMGR_OP(PINMGR_CMD_QUERY, pinmgr_query, struct pinmgr_query,
		  __reserved),
	PINMGR_OP(PINMGR_CMD_SEGMENTS, pinmgr_segments, struct pinmgr_segments,
		  out_total),
	PINMGR_OP(PINMGR_CMD_STATS, pinmgr_stats, struct pinmgr_stats,
		  out_failed_pins),
	PINMGR_TEST_OP(PINMGR_CMD_ACCESS, pinmgr_access, struct pinmgr_access,
		       buf),
	PINMGR_CHANGE_OP(PINMGR_CMD_PIN_VEC, pinmgr_pin_vec,
			 struct pinmgr_pin_vec, ranges),
	PINMGR_OP(PINMGR_CMD_VERIFY, pinmgr_verify, struct pinmgr_verify,
		  out_first),
	PINMGR_CHANGE_OP(PINMGR_CMD_UPDATE, pinmgr_update,
			 struct pinmgr_update, pin),
	PINMGR_CHANGE_OP(PINMGR_CMD_EXPORT_DMABUF, pinmgr_export_dmabuf,
			 struct pinmgr_export_dmabuf, __reserved2),
};

/*
 * The common case, and the per-I/O one: the struct has never grown
 * (min_size == size) and userspace gave that size. Then one user access
 * reads it all, where reading the size word first would cost a second one
 * (each about as much as the copy itself). Nothing is read past what every
 * caller must pass. Read a word at a time (every struct is a whole number
 * of __aligned_u64): for a few dozen bytes, four loads cost less than the
 * string copy copy_from_user() does, which software emulation runs a byte
 * at a time. Without taking a fault: returns 1, having decided nothing,
 * if a page is not there (pinmgr_ucmd_read() faults it in, with
 * userfaultfd and all) or the size differs. Once it has read the struct,
 * fault injection (fail_usercopy) sees the one copy that
 * copy_struct_from_user() would have made: when it fails that, the call
 * fails with -EFAULT. A struct it does not read costs no point (the full
 * path has its own). Returns 0 when the struct is read.
 */
static int pinmgr_ucmd_read_quick(struct pinmgr_ucmd *ucmd,
				  const struct pinmgr_ioctl_op *op)
{
	const u64 __user *src = ucmd->ubuffer;
	u64 *dst = ucmd->cmd;
	unsigned int i;
	bool ok = false;

	if (op->min_size != op->size || op->size % sizeof(u64))
		return 1;
	pagefault_disable();
	if (user_access_begin(src, op->size)) {
		for (i = 0; i < op->size / sizeof(u64); i++)
			unsafe_get_user(dst[i], &src[i], out_end);
		ok = true;
out_end:
		user_access_end();
	}
	pagefault_enable();
	if (!ok || *(u32 *)ucmd->cmd != op->size)
		return 1;
	if (should_fail_usercopy())
		return -EFAULT;
	ucmd->user_size = op->size;
	return 0;
}

/* The struct of any size userspace may give, as copy_struct_from_user(). */
static int pinmgr_ucmd_read(struct pinmgr_ucmd *ucmd,
			    const struct pinmgr_ioctl_op *op)
{
	if (get_user(ucmd->user_size, (u32 __user *)ucmd->ubuffer))
		return -EFAULT;
	if (ucmd->user_size < op->min_size)
		return -EINVAL;
	/* As openat2() and clone3(): keeps the zero-tail check short. */
	if (ucmd->user_size > PAGE_SIZE)
		return -E2BIG;
	return copy_struct_from_user(ucmd->cmd, op->size, ucmd->ubuffer,
				     ucmd->user_size);
}

static long pinmgr_fops_ioctl(struct file *filp, unsigned int cmd,
			      unsigned long arg)
{
	struct pinmgr_file *pf = filp->private_data;
	union pinmgr_ucmd_buffer buf;
	const struct pinmgr_ioctl_op *op;
	struct pinmgr_ucmd ucmd = {
		.pf = pf,
		.ubuffer = (void __user *)arg,
		.cmd = &buf,
	};
	unsigned int nr = _IOC_NR(cmd);
	int ret;

	if (_IOC_TYPE(cmd) != PINMGR_TYPE ||
	    _IOC_DIR(cmd) != (_IOC_READ | _IOC_WRITE) ||
	    nr >= ARRAY_SIZE(pinmgr_ops))
		return -ENOTTY;
	/* @nr picks the handler called below: no speculation past the end. */
	op = &pinmgr_ops[array_index_nospec(nr, ARRAY_SIZE(pinmgr_ops))];
	if (!op->execute || (op->test_only && !pf->test_access))
		return -ENOTTY;
	if (op->changes && !(filp->f_mode & FMODE_WRITE))
		return -EBADF;

	/* Only the opener's mm may pin, look or unpin; anyone may close. */
	if (current->mm != pf->tracker.mm)
		return -EACCES;

	ret = pinmgr_ucmd_read_quick(&ucmd, op);
	if (ret > 0)
		ret = pinmgr_ucmd_read(&ucmd, op);
	if (ret)
		return ret;
	return op->execute(&ucmd);
}

/* BIT_ULL(enum mmu_notifier_event) bits of a pin_change -> the UAPI's. */
static u64 pinmgr_event_kinds(u64 kinds)
{
	static const u64 map[] = {
		[MMU_NOTIFY_UNMAP] = PINMGR_EVENT_UNMAP,
		[MMU_NOTIFY_CLEAR] = PINMGR_EVENT_CLEAR,
		[MMU_NOTIFY_PROTECTION_VMA] = PINMGR_EVENT_PROTECTION_VMA,
		[MMU_NOTIFY_PROTECTION_PAGE] = PINMGR_EVENT_PROTECTION_PAGE,
		[MMU_NOTIFY_SOFT_DIRTY] = PINMGR_EVENT_SOFT_DIRTY,
		[MMU_NOTIFY_RELEASE] = PINMGR_EVENT_RELEASE,
		[MMU_NOTIFY_MIGRATE] = PINMGR_EVENT_MIGRATE,
	};
	unsigned int bit;
	u64 ret = 0;

	for (bit = 0; bit < 64; bit++) {
		if (!(kinds & BIT_ULL(bit)))
			continue;
		if (bit < ARRAY_SIZE(map) && map[bit])
			ret |= map[bit];
		else if (pin_change_is_exclusive(bit))
			ret |= PINMGR_EVENT_EXCLUSIVE;
		else
			ret |= PINMGR_EVENT_OTHER;
	}
	return ret;
}

/* Records copied out per copy_to_user(). */
#define PINMGR_EVENT_CHUNK 8

static ssize_t pinmgr_fops_read(struct file *filp, char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct pinmgr_file *pf = filp->private_data;
	struct pin_tracker *t = &pf->tracker;
	struct pinmgr_event ev[PINMGR_EVENT_CHUNK];
	struct pin_change c[PINMGR_EVENT_CHUNK];
	size_t max = count / sizeof(ev[0]), done = 0, n, i;
	int ret;

	if (current->mm != t->mm)
		return -EACCES;
	if (!max)
		return -EINVAL;
again:
	while (!pin_tracker_has_changes(t)) {
		if (filp->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(t->ev_wait,
					       pin_tracker_has_changes(t));
		if (ret)
			return ret;
	}
	while (done < max) {
		for (n = 0; n < min_t(size_t, max - done, PINMGR_EVENT_CHUNK) &&
		     pin_tracker_pop_change(t, &c[n]); n++) {
			memset(&ev[n], 0, sizeof(ev[n]));
			ev[n].handle = c[n].handle;
			ev[n].kinds = pinmgr_event_kinds(c[n].kinds);
			ev[n].start = c[n].start;
			ev[n].end = c[n].end;
		}
		if (!n)
			break;
		if (copy_to_user(ubuf + done * sizeof(ev[0]), ev,
				 n * sizeof(ev[0]))) {
			/* Undelivered: pending again, in the same order. */
			for (i = n; i-- > 0;)
				pin_tracker_requeue_change(t, &c[i]);
			return done ? done * sizeof(ev[0]) : -EFAULT;
		}
		done += n;
	}
	if (!done)
		goto again;	/* another reader took them */
	return done * sizeof(ev[0]);
}

static __poll_t pinmgr_fops_poll(struct file *filp, poll_table *wait)
{
	struct pinmgr_file *pf = filp->private_data;

	/* read() from another mm fails at once: say that, and nothing more. */
	if (current->mm != pf->tracker.mm)
		return EPOLLERR;
	poll_wait(filp, &pf->tracker.ev_wait, wait);
	return pin_tracker_has_changes(&pf->tracker) ? EPOLLIN | EPOLLRDNORM : 0;
}

static int pinmgr_fops_open(struct inode *inode, struct file *filp)
{
	struct pinmgr_file *pf;
	int ret;

	if (!current->mm)
		return -EINVAL;
	pf = kzalloc(sizeof(*pf), PIN_GFP_ACCOUNT);
	if (!pf)
		return -ENOMEM;
	ret = pin_tracker_init(&pf->tracker, current->mm,
			       READ_ONCE(max_pages_per_pin),
			       READ_ONCE(max_regions), READ_ONCE(events),
			       &pinmgr_counters);
	if (ret) {
		kfree(pf);
		return ret;
	}
	kref_init(&pf->ref);
	pin_tracker_set_next_handle(&pf->tracker, READ_ONCE(test_first_handle));
	pf->owner = get_pid(task_tgid(current));
	pf->phys_allowed = capable(CAP_SYS_ADMIN);
	/*
	 * Nor may the size of its metadata, which its memory cgroup and
	 * STATS show, tell how contiguous its pages are.
	 */
	if (!pf->phys_allowed)
		pin_tracker_hide_layout(&pf->tracker);
	pf->test_access = READ_ONCE(test_access);
	filp->private_data = pf;
	atomic64_inc(&pinmgr_open_files);
	return 0;
}

static int pinmgr_fops_release(struct inode *inode, struct file *filp)
{
	struct pinmgr_file *pf = filp->private_data;

	/*
	 * With dma-bufs alive, unpin what they do not hold now; their last
	 * release unpins the rest and frees @pf. Without, just free it.
	 */
	if (kref_read(&pf->ref) > 1)
		pin_tracker_close(&pf->tracker);
	atomic64_dec(&pinmgr_open_files);
	pinmgr_file_put(pf);
	return 0;
}

static void pinmgr_fops_show_fdinfo(struct seq_file *m, struct file *filp)
{
	struct pinmgr_file *pf = filp->private_data;
	struct pin_tracker_stats s;
	const char *c;
	unsigned int i;

	pin_tracker_read_stats(&pf->tracker, &s);
	seq_printf(m, "pinmgr-owner-tgid:\t%d\n", pid_vnr(pf->owner));
	/* pinmgr-pinned-pages: and so on, then pinmgr-pinned-bytes: */
	for (i = 0; i < PIN_NR_COUNTERS; i++) {
		seq_puts(m, "pinmgr-");
		for (c = pin_counter_names[i]; *c; c++)
			seq_putc(m, *c == '_' ? '-' : *c);
		seq_printf(m, ":\t%llu\n", s.v[i]);
	}
	seq_printf(m, "pinmgr-pinned-bytes:\t%llu\n",
		   s.v[PIN_COUNTER_PINNED_PAGES] << PAGE_SHIFT);
}

static const struct file_operations pinmgr_fops = {
	.owner = THIS_MODULE,
	.open = pinmgr_fops_open,
	.release = pinmgr_fops_release,
	.unlocked_ioctl = pinmgr_fops_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.show_fdinfo = pinmgr_fops_show_fdinfo,
	.read = pinmgr_fops_read,
	.poll = pinmgr_fops_poll,
	.llseek = noop_llseek,
};

static ssize_t open_files_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(&pinmgr_open_files));
}
static DEVICE_ATTR_RO(open_files);

static ssize_t dmabufs_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(&pinmgr_dmabufs));
}
static DEVICE_ATTR_RO(dmabufs);

/*
 * /sys/class/misc/pinmgr/stats/: open_files, dmabufs (made by EXPORT_DMABUF and
 * not yet released), then one file per counter,
 * named as the tracker names them (set up by pinmgr_init()): an
 * attribute's place in pinmgr_counter_attrs is its counter.
 */
static struct device_attribute pinmgr_counter_attrs[PIN_NR_COUNTERS];
static struct attribute *pinmgr_stats_attrs[2 + PIN_NR_COUNTERS + 1];

static ssize_t pinmgr_counter_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  pin_counters_read_one(&pinmgr_counters,
						attr - pinmgr_counter_attrs));
}

static const struct attribute_group pinmgr_stats_group = {
	.name = "stats",
	.attrs = pinmgr_stats_attrs,
};

static const struct attribute_group *pinmgr_groups[] = {
	&pinmgr_stats_group,
	NULL,
};

static struct miscdevice pinmgr_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pinmgr",
	.fops = &pinmgr_fops,
	.mode = 0600,
	.groups = pinmgr_groups,
};

static int __init pinmgr_init(void)
{
	unsigned int i;
	int ret;

	ret = pin_counters_init(&pinmgr_counters);
	if (ret)
		return ret;
	pinmgr_stats_attrs[0] = &dev_attr_open_files.attr;
	pinmgr_stats_attrs[1] = &dev_attr_dmabufs.attr;
	for (i = 0; i < PIN_NR_COUNTERS; i++) {
		struct device_attribute *a = &pinmgr_counter_attrs[i];

		sysfs_attr_init(&a->attr);
		a->attr.name = pin_counter_names[i];
		/* Summed over every user's regions, it tells their layout. */
		a->attr.mode = i == PIN_COUNTER_METADATA_BYTES ? 0400 : 0444;
		a->show = pinmgr_counter_show;
		pinmgr_stats_attrs[2 + i] = &a->attr;
	}
	ret = misc_register(&pinmgr_misc);
	if (ret)
		pin_counters_destroy(&pinmgr_counters);
	return ret;
}

static void __exit pinmgr_exit(void)
{
	misc_deregister(&pinmgr_misc);
	pin_counters_destroy(&pinmgr_counters);
}

module_init(pinmgr_init);
module_exit(pinmgr_exit);

MODULE_DESCRIPTION("Long-term pinning of user memory for DMA-style use");
MODULE_AUTHOR("The pinmgr authors");
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1.0");
