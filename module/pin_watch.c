// SPDX-License-Identifier: GPL-2.0
/*
 * pin_watch: an MMU interval notifier over one pinned region's range.
 * Built only with CONFIG_MMU_NOTIFIER (see pin_watch.h).
 */
#include <linux/minmax.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>

#include "pin_tracker.h"
#include "pin_watch.h"

/*
 * The mm is about to change (or drop) page table entries of
 * [range->start, range->end), which overlaps the watched range. May be
 * called where sleeping is not allowed.
 */
static bool pin_watch_invalidate(struct mmu_interval_notifier *mni,
				 const struct mmu_notifier_range *range,
				 unsigned long cur_seq)
{
	struct pin_watch *w = container_of(mni, struct pin_watch, mni);

	mmu_interval_set_seq(mni, cur_seq);
	pin_region_changed(w->region,
			   BIT_ULL(min_t(unsigned int, range->event, 63)),
			   max(range->start, w->start), min(range->end, w->end));
	return true;
}

static const struct mmu_interval_notifier_ops pin_watch_ops = {
	.invalidate = pin_watch_invalidate,
};

/**
 * pin_watch_start() - watch a region's range of an mm
 * @w: the region's watch, inactive (zeroed or stopped)
 * @r: the region, told through pin_region_changed()
 * @mm: the mm; must still have users (checked)
 * @start: first byte of the range, page aligned
 * @length: length of the range in bytes, page aligned
 *
 * The first watch of an mm sets up its MMU notifier state
 * (mm_take_all_locks()); that fails with -EINTR if a signal is pending.
 *
 * Context: process context, no mmap_lock held; may sleep.
 * Return: 0 (@w is active), -ENOMEM, -EINTR, or -EFAULT if @mm has no
 * users any more.
 */
int pin_watch_start(struct pin_watch *w, struct pin_region *r,
		    struct mm_struct *mm, unsigned long start,
		    unsigned long length)
{
	int ret;

	w->region = r;
	w->start = start;
	w->end = start + length;
	if (!mmget_not_zero(mm))
		return -EFAULT;
	ret = mmu_interval_notifier_insert(&w->mni, mm, start, length,
					   &pin_watch_ops);
	mmput(mm);
	if (!ret)
		w->active = true;
	return ret;
}

/**
 * pin_watch_stop() - stop watching
 * @w: a watch; nothing happens unless it is active
 *
 * Once this returns, the callback is not running and will not run again.
 * Works after the mm has exited.
 *
 * Context: may sleep; not from the notifier callback.
 */
void pin_watch_stop(struct pin_watch *w)
{
	if (!w->active)
		return;
	mmu_interval_notifier_remove(&w->mni);
	w->active = false;
}

/**
 * pin_watch_wait() - wait until no change of the watched range is under way
 * @w: an active watch
 *
 * The callback runs when a change begins, before the page table entries
 * change. This waits until every change of the range that had begun when
 * it was called is complete, so that the page tables show its outcome.
 *
 * Context: may sleep; no mmap_lock held, and no lock that a change of the
 * mm might wait for.
 */
void pin_watch_wait(struct pin_watch *w)
{
	mmu_interval_read_begin(&w->mni);
}
