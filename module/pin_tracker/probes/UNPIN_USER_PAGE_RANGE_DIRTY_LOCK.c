// SPDX-License-Identifier: GPL-2.0
/*
 * unpin_user_page_range_dirty_lock(): upstream 5.12 ("mm/gup: add a range
 * variant of unpin_user_pages_dirty_lock()"). Unpins a run of physically
 * contiguous pages at once; without it each page is unpinned alone.
 */
#include <linux/mm.h>

void probe(struct page *page);
void probe(struct page *page)
{
	unpin_user_page_range_dirty_lock(page, 1, true);
}
