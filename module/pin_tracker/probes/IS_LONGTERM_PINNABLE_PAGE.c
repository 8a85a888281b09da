// SPDX-License-Identifier: GPL-2.0
/*
 * Compiles where <linux/mm.h> has is_longterm_pinnable_page() (5.19 to
 * 6.2); 6.3 ("mm: convert is_longterm_pinnable_page() to folio") replaced
 * it with folio_is_longterm_pinnable(). Both say whether a page may be
 * pinned long-term where it is: not in ZONE_MOVABLE, a CMA or isolated
 * pageblock, nor device-coherent memory.
 */
#include <linux/mm.h>

bool probe(struct page *page);
bool probe(struct page *page)
{
	return is_longterm_pinnable_page(page);
}
