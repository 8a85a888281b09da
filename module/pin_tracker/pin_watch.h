/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pin_watch: an MMU interval notifier over one range of an mm, calling its
 * owner's callback when the mm is about to change the range's page table
 * entries (the tracker has one per region). Needs CONFIG_MMU_NOTIFIER
 * (Debian's kernels have it, pulled in by KVM); without it pin_watch.c is
 * not built and nothing is ever watched (PIN_WATCH_SUPPORTED is false).
 */
#ifndef PIN_WATCH_H
#define PIN_WATCH_H

#include <linux/compiler.h>
#include <linux/kconfig.h>
#include <linux/types.h>

struct mm_struct;
struct pin_watch;

/* Whether ranges can be watched on this kernel. */
#define PIN_WATCH_SUPPORTED	IS_ENABLED(CONFIG_MMU_NOTIFIER)

/**
 * typedef pin_watch_fn - told that a watched range is about to change
 * @w: the watch (embedded in the caller's object: container_of())
 * @kind: BIT_ULL(enum mmu_notifier_event), bit 63 for events beyond 62
 * @start: first byte of the change, clipped to the watched range
 * @end: end of the change (exclusive), clipped likewise
 *
 * Called before the page table entries change.
 *
 * Context: the MMU notifier callback; may not sleep.
 */
typedef void (*pin_watch_fn)(struct pin_watch *w, u64 kind, u64 start,
			     u64 end);

#if IS_ENABLED(CONFIG_MMU_NOTIFIER)
#include <linux/mmu_notifier.h>

/**
 * struct pin_watch - the notifier of one region, embedded in it
 * @mni: registered on the mm over the watched range, which its interval
 *	(start and last byte) records
 * @changed: the owner's callback while @mni is registered (between
 *	pin_watch_start() and pin_watch_stop()), else NULL
 *
 * One pointer beside the notifier and nothing else: a tracker holds one
 * per region, and small regions are many.
 */
struct pin_watch {
	struct mmu_interval_notifier mni;
	pin_watch_fn changed;
};

/*
 * Whether @w is registered (or being registered: pin_watch_start() sets
 * the callback first). Stable only for @w's owner, or when ordered
 * against pin_watch_stop() by the owner's own locking.
 */
static inline bool pin_watch_active(const struct pin_watch *w)
{
	return READ_ONCE(w->changed);
}

int pin_watch_start(struct pin_watch *w, pin_watch_fn changed,
		    struct mm_struct *mm, unsigned long start,
		    unsigned long length);
void pin_watch_stop(struct pin_watch *w);
unsigned long pin_watch_begin(struct pin_watch *w);
bool pin_watch_retry(struct pin_watch *w, unsigned long seq);
#else
struct pin_watch {
	bool unused;	/* nothing is ever watched */
};

static inline bool pin_watch_active(const struct pin_watch *w)
{
	return false;
}

static inline int pin_watch_start(struct pin_watch *w, pin_watch_fn changed,
				  struct mm_struct *mm, unsigned long start,
				  unsigned long length)
{
	return 0;
}

static inline void pin_watch_stop(struct pin_watch *w)
{
}

static inline unsigned long pin_watch_begin(struct pin_watch *w)
{
	return 0;
}

static inline bool pin_watch_retry(struct pin_watch *w, unsigned long seq)
{
	return true;
}
#endif

#endif /* PIN_WATCH_H */
