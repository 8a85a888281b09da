// SPDX-License-Identifier: GPL-2.0
/*
 * Compiles when GUP itself refuses FOLL_LONGTERM writable pins of file
 * mappings that need dirty tracking. vma_needs_dirty_tracking() came with
 * that change (upstream 6.5, "mm/gup: disallow FOLL_LONGTERM GUP-nonfast
 * writing to file-backed mappings"); only its declaration is probed, it is
 * not exported to modules. 6.12's <linux/mm.h> no longer declares it:
 * pin_compat.h also counts kernels with FOLL_HONOR_NUMA_FAULT (6.6) in.
 */
#include <linux/mm.h>

bool probe(struct vm_area_struct *vma);
bool probe(struct vm_area_struct *vma)
{
	return vma_needs_dirty_tracking(vma);
}
