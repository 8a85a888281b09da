// SPDX-License-Identifier: GPL-2.0
/*
 * Compiles where GUP still walks hugetlb mappings with follow_hugetlb_page().
 * On 6.1 that walker grabs pages with try_grab_folio(), which refuses
 * FOLL_LONGTERM for a page in ZONE_MOVABLE; the walker then warns
 * (WARN_ON_ONCE) and fails with ENOMEM instead of letting the page be
 * migrated. Later kernels dropped follow_hugetlb_page() when hugetlb moved
 * to the common GUP walk (Peter Xu's "mm/gup: Unify hugetlb" series,
 * 6.8 to 6.10); Debian's 6.12 no longer has it.
 */
#include <linux/hugetlb.h>

/* Only whether it is declared matters, whatever its signature. */
int probe(void);
int probe(void)
{
	return sizeof(&follow_hugetlb_page);
}
