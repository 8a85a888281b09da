// SPDX-License-Identifier: GPL-2.0
/*
 * Compiles where GUP has FOLL_HONOR_NUMA_FAULT (upstream 6.6, "mm/gup:
 * reintroduce FOLL_NUMA as FOLL_HONOR_NUMA_FAULT"). From then on the
 * get_user_pages() family always honours NUMA hinting entries in accessible
 * VMAs, FOLL_FORCE or not: it wants a hinting fault there, and with
 * FOLL_NOFAULT it fails instead. Before (6.1 to 6.5, FOLL_NUMA or the
 * one-argument gup_can_follow_protnone()), FOLL_FORCE made it follow them.
 * FOLL_HONOR_NUMA_FAULT is an enumerator, hence a probe, not an #ifdef.
 */
#include <linux/mm.h>

unsigned int probe(void);
unsigned int probe(void)
{
	return FOLL_HONOR_NUMA_FAULT;
}
