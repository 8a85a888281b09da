// SPDX-License-Identifier: GPL-2.0
/*
 * pin_watch: an MMU interval notifier over one range of an mm.
 * Built only with CONFIG_MMU_NOTIFIER (see pin_watch.h).
 */
#include <linux/minmax.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>

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
	/* The interval is [start, last]: the end is one past its last byte. */
	w->changed(w, BIT_ULL(min_t(unsigned int, range->event, 63)),
		   max(range->start, mni->interval_tree.start),
		   min(range->end, mni->interval_tree.last + 1));
	return true;
}

static const struct mmu_interval_notifier_ops pin_watch_ops = {
	.invalidate = pin_watch_invalidate,
};

/*
 * @w->changed is set first: the callback may run as soon as the notifier
 * is in the mm's tree.
 */
static int pin_watch_insert(struct pin_watch *w, pin_watch_fn changed,
			    struct mm_struct *mm, unsigned long start,
			    unsigned long length)
{
	int ret;

	WRITE_ONCE(w->changed, changed);
	ret = mmu_interval_notifier_insert(&w->mni, mm, start, length,
					   &pin_watch_ops);
	if (ret)
		WRITE_ONCE(w->changed, NULL);
	return ret;
}

/**
 * pin_watch_start() - watch a region's range of an mm
 * @w: the watch, inactive (zeroed or stopped)
 * @changed: called on each change of the range, until pin_watch_stop()
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
int pin_watch_start(struct pin_watch *w, pin_watch_fn changed,
		    struct mm_struct *mm, unsigned long start,
		    unsigned long length)
{
	int ret;

	/* A task using @mm holds a user of it already. */
	if (mm == current->mm)
		return pin_watch_insert(w, changed, mm, start, length);
	if (!mmget_not_zero(mm))
		return -EFAULT;
	ret = pin_watch_insert(w, changed, mm, start, length);
	mmput(mm);
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
	if (!pin_watch_active(w))
		return;
	mmu_interval_notifier_remove(&w->mni);
	WRITE_ONCE(w->changed, NULL);
}

/**
 * pin_watch_begin() - start a look at the watched range's page tables
 * @w: a watch
 *
 * The callback runs when a change begins, before the page table entries
 * change. This waits until no change that had reached the range when it
 * was called is still under way (mmu_interval_read_begin(): while the mm
 * has any invalidation in flight, once one has hit the range), so that the
 * page tables show their outcome. Pass the result to pin_watch_retry().
 *
 * Context: may sleep, uninterruptibly; no mmap_lock held, and no lock that
 * a change of the mm might wait for.
 * Return: a sequence number; 0 for an inactive watch.
 */
unsigned long pin_watch_begin(struct pin_watch *w)
{
	return pin_watch_active(w) ? mmu_interval_read_begin(&w->mni) : 0;
}

/**
 * pin_watch_retry() - did a change begin since pin_watch_begin()?
 * @w: the watch given to pin_watch_begin()
 * @seq: what it returned
 *
 * Context: any; under the lock the region's change callback takes, the
 * answer cannot miss a change whose callback has not finished.
 * Return: true if what was seen since pin_watch_begin() may be stale (or
 * @w is inactive: nothing can be known).
 */
bool pin_watch_retry(struct pin_watch *w, unsigned long seq)
{
	return !pin_watch_active(w) || mmu_interval_read_retry(&w->mni, seq);
}
