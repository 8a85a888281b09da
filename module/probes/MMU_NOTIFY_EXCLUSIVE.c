// SPDX-License-Identifier: GPL-2.0
/*
 * MMU_NOTIFY_EXCLUSIVE: upstream 5.14 ("mm: device exclusive memory
 * access"), for make_device_exclusive_range(). Later reworks of device
 * exclusive entries may drop or rename it; without it, pinmgr reports such
 * a change as PINMGR_EVENT_OTHER.
 */
#include <linux/mmu_notifier.h>

int probe(void);
int probe(void)
{
	return MMU_NOTIFY_EXCLUSIVE;
}
