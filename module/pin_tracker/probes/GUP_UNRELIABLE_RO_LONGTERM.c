// SPDX-License-Identifier: GPL-2.0
/*
 * Compiles where GUP's R/O long-term pins in private (COW) mappings are not
 * reliable: gup_must_unshare() is still the two-argument inline of
 * <linux/mm.h> (5.19 to 6.1), which unshares only anonymous pages. A R/O
 * pin of the shared zero page or of page cache in a MAP_PRIVATE mapping then
 * stays on a page the process drops at its next write. Upstream 6.2 ("mm/gup:
 * reliable R/O long-term pinning in COW mappings") moved the helper into
 * mm/internal.h with a vma argument, so this no longer compiles there.
 */
#include <linux/mm.h>

bool probe(struct page *page);
bool probe(struct page *page)
{
	return gup_must_unshare(FOLL_PIN | FOLL_LONGTERM, page);
}
