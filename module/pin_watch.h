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
struct pin_watch;

/* Whether regions can be watched on this kernel. */
#define PIN_WATCH_SUPPORTED	IS_ENABLED(CONFIG_MMU_NOTIFIER)

/*
 * Called by the notifier: @r's range [@start, @end) (clipped to it) is
 * about to change; @kind is BIT_ULL(enum mmu_notifier_event), bit 63 for
 * events beyond 62. Defined in pin_tracker.c. Must not sleep.
 */
void pin_region_changed(struct pin_region *r, u64 kind, u64 start, u64 end);

#if IS_ENABLED(CONFIG_MMU_NOTIFIER)
int pin_watch_start(struct pin_region *r, struct mm_struct *mm,
		    unsigned long start, unsigned long length,
		    struct pin_watch **watch);
void pin_watch_stop(struct pin_watch *watch);
#else
static inline int pin_watch_start(struct pin_region *r, struct mm_struct *mm,
				  unsigned long start, unsigned long length,
				  struct pin_watch **watch)
{
	*watch = NULL;
	return 0;
}

static inline void pin_watch_stop(struct pin_watch *watch)
{
}
#endif

#endif /* PIN_WATCH_H */
