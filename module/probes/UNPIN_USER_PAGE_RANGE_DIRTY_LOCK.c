// SPDX-License-Identifier: GPL-2.0
/* unpin_user_page_range_dirty_lock(): upstream 5.12. */
#include <linux/mm.h>

void probe(struct page *page);
void probe(struct page *page)
{
	unpin_user_page_range_dirty_lock(page, 1, true);
}
