// SPDX-License-Identifier: GPL-2.0
/*
 * pin_user_pages_fast_only(): upstream 5.9 ("mm/gup: introduce
 * pin_user_pages_fast_only()"), removed again once its last user went. The
 * lockless walk alone: it never faults and never takes mmap_lock, and with
 * FOLL_LONGTERM it leaves out any page a long-term pin would first have to
 * migrate.
 */
#include <linux/mm.h>

int probe(unsigned long start, struct page **pages);
int probe(unsigned long start, struct page **pages)
{
	return pin_user_pages_fast_only(start, 1, FOLL_WRITE | FOLL_LONGTERM,
					pages);
}
