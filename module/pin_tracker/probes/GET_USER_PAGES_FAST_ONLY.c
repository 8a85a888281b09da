// SPDX-License-Identifier: GPL-2.0
/*
 * get_user_pages_fast_only(): upstream 5.9 ("mm/gup: rename
 * __get_user_pages_fast() -> get_user_pages_fast_only()"). A lockless
 * lookup that never faults; later kernels may drop it, and then
 * get_user_pages_fast() with FOLL_NOFAULT (5.16) gives the same answer.
 */
#include <linux/mm.h>

int probe(unsigned long start, struct page **pages);
int probe(unsigned long start, struct page **pages)
{
	return get_user_pages_fast_only(start, 1, 0, pages);
}
