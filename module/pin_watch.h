/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pin_watch: an MMU interval notifier per pinned region, telling the
 * tracker when the mm is about to change the region's page table entries.
 * Needs CONFIG_MMU_NOTIFIER (Debian's kernels have it, pulled in by KVM);
 * without it pin_watch.c is not built, regions are not watched and no
 * divergence events are ever queued (INFO does not report
 * PINMGR_CAP_EVENTS).
 */
#ifndef PIN_WATCH_H
#define PIN_WATCH_H

#include <linux/kconfig.h>
#include <linux/types.h>

struct mm_struct;
struct pin_region;

/* Whether regions can be watched on this kernel. */
#define PIN_WATCH_SUPPORTED	IS_ENABLED(CONFIG_MMU_NOTIFIER)

/*
 * Called by the notifier: @r's range [@start, @end) (clipped to it) is
 * about to change; @kind is BIT_ULL(enum mmu_notifier_event), bit 63 for
 * events beyond 62. Defined in pin_tracker.c. Must not sleep.
 */
void pin_region_changed(struct pin_region *r, u64 kind, u64 start, u64 end);

#if IS_ENABLED(CONFIG_MMU_NOTIFIER)
#include <linux/mmu_notifier.h>

/**
 * struct pin_watch - the notifier of one region, embedded in it
 * @mni: registered on the region's mm over the region's pages
 * @region: the region to tell
 * @start: first byte of the watched range (page aligned)
 * @end: end of the watched range (exclusive)
 * @active: @mni is registered (between pin_watch_start() and
 *	pin_watch_stop())
 */
struct pin_watch {
	struct mmu_interval_notifier mni;
	struct pin_region *region;
	unsigned long start;
	unsigned long end;
	bool active;
};

int pin_watch_start(struct pin_watch *w, struct pin_region *r,
		    struct mm_struct *mm, unsigned long start,
		    unsigned long length);
void pin_watch_stop(struct pin_watch *w);
unsigned long pin_watch_begin(struct pin_watch *w);
bool pin_watch_retry(struct pin_watch *w, unsigned long seq);
#else
struct pin_watch {
	bool active;	/* always false: nothing is watched */
};

static inline int pin_watch_start(struct pin_watch *w, struct pin_region *r,
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
