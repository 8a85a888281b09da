// SPDX-License-Identifier: GPL-2.0
/*
 * Compiles where get_user_pages() still takes a vmas array as its last
 * argument. Upstream 6.5 ("mm/gup: remove vmas parameter from
 * get_user_pages()") dropped it.
 */
#include <linux/mm.h>

long probe(unsigned long start, struct page **pages);
long probe(unsigned long start, struct page **pages)
{
	return get_user_pages(start, 1, 0, pages, NULL);
}
