// SPDX-License-Identifier: GPL-2.0
/*
 * MMU_NOTIFY_EXCLUSIVE: upstream 5.14 ("mm: device exclusive memory
 * access"), for make_device_exclusive_range(). Later reworks of device
 * exclusive entries may drop or rename it; without it, such a change is
 * not recognised as one (pinmgr, the tracker's first user, then reports it
 * as "other").
 */
#include <linux/mmu_notifier.h>

int probe(void);
int probe(void)
{
	return MMU_NOTIFY_EXCLUSIVE;
}
