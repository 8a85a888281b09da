/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Everything that differs between the kernels the tracker builds for lives
 * here.
 *
 * pin_tracker_probes.h is generated at build time by compiling each file in
 * probes/ against the target kernel's build tree (probe.sh, run by
 * pin_tracker.kbuild): a probe that compiles defines
 * PIN_TRACKER_HAVE_<NAME>. Probes test what the kernel offers, not its
 * version number, so distribution backports are honoured.
 * The oldest kernel supported is 6.1 (folios, maple tree, vma_lookup()).
 */
#ifndef PIN_COMPAT_H
#define PIN_COMPAT_H

#include <linux/backing-dev.h>
#include <linux/fs.h>
#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pagemap.h>

/* probe.sh refused kernels before 6.1 (its control file). */
#include "pin_tracker_probes.h"

/*
 * GUP refuses writable long-term pins of file mappings that need dirty
 * tracking (upstream 6.5). The probe finds vma_needs_dirty_tracking(),
 * which came with that change in <linux/mm.h> but is no longer there in
 * 6.12; FOLL_HONOR_NUMA_FAULT (6.6) stands for the kernels after that: the
 * refusal has stayed.
 */
#if defined(PIN_TRACKER_HAVE_GUP_REFUSES_WRITABLE_FILE_LONGTERM) || \
	defined(PIN_TRACKER_HAVE_GUP_HONOR_NUMA_FAULT)
#define PIN_TRACKER_GUP_REFUSES_WRITABLE_FILE_LONGTERM 1
#endif

/**
 * compat_vma_needs_dirty_tracking() - would writes through @vma be tracked
 * for writeback by its filesystem?
 * @vma: a VMA of the caller's mm, under mmap_lock
 *
 * A long-term writable pin of such a mapping lets the device write to pages
 * the filesystem believes clean (Documentation/core-api/pin_user_pages.rst).
 * Mirrors upstream's vma_needs_dirty_tracking() (6.5), which is not exported
 * and which GUP applies to FOLL_LONGTERM | FOLL_WRITE from 6.5 on: shared
 * file mappings whose filesystem or driver wants to hear of the first write
 * (->page_mkwrite or ->pfn_mkwrite: ext4, xfs, fb_deferred_io, and ramfs,
 * whose generic file operations have filemap_page_mkwrite()), or whose
 * backing device writes back. shmem, tmpfs, memfd, hugetlbfs and private
 * mappings are fine.
 *
 * Context: mmap_lock held for read.
 * Return: true if a writable long-term pin must be refused.
 */
static inline bool compat_vma_needs_dirty_tracking(struct vm_area_struct *vma)
{
	if (!(vma->vm_flags & VM_SHARED) || !vma->vm_file)
		return false;
	/* The driver or filesystem wants to hear of the first write. */
	if (vma->vm_ops &&
	    (vma->vm_ops->page_mkwrite || vma->vm_ops->pfn_mkwrite))
		return true;
	if (vma->vm_flags & VM_PFNMAP)
		return false;
	return vma->vm_file->f_mapping &&
	       mapping_can_writeback(vma->vm_file->f_mapping);
}

/**
 * compat_ro_longterm_gup_flags() - extra GUP flags for a read-only pin
 * @vma: the VMA the pin starts in, under mmap_lock
 *
 * Upstream 6.2 made read-only long-term pins in private (COW) mappings
 * reliable: GUP unshares the shared zero page and page cache there, so the
 * pinned page is the one the process keeps using after its next write. On
 * older kernels the tracker gets the same result by breaking COW at pin time:
 * it pins with FOLL_WRITE, plus FOLL_FORCE where the mapping is readable but
 * not writable (as ptrace does), which leaves an exclusive anonymous copy
 * mapped. Mappings that are not readable get no FOLL_FORCE: they must fail.
 * The write is needed for the shared zero page and page cache only: the
 * caller first pins without it and keeps the anonymous pages, which GUP
 * unshares by itself (see pin_pages_ro_cow()).
 *
 * Hugetlb is the exception: 6.1's GUP refuses FOLL_FORCE writes there (and
 * upstream GUP grants the plain read-only pin). A read-only MAP_PRIVATE
 * hugetlb mapping is pinned as it is: an anonymous hugetlb page is unshared
 * by GUP itself if it is not exclusive, while hugetlbfs page cache stays
 * the pinned page until the process makes the mapping writable and writes
 * to it, which copies the page for the process; pin_region_verify() and
 * the change records then report the difference.
 *
 * Context: mmap_lock held for read.
 * Return: the flags to add to FOLL_LONGTERM for a read-only pin of @vma.
 */
static inline unsigned int compat_ro_longterm_gup_flags(struct vm_area_struct *vma)
{
#ifdef PIN_TRACKER_HAVE_GUP_UNRELIABLE_RO_LONGTERM
	if (!is_cow_mapping(vma->vm_flags) || !(vma->vm_flags & VM_READ))
		return 0;
	if (vma->vm_flags & VM_WRITE)
		return FOLL_WRITE;
	/* 6.1's check_vma_flags() refuses a forced write to hugetlb. */
	if (is_vm_hugetlb_page(vma))
		return 0;
	return FOLL_WRITE | FOLL_FORCE;
#else
	return 0;
#endif
}

/**
 * compat_hugetlb_longterm_unsafe() - must GUP not see FOLL_LONGTERM here?
 * @vma: the VMA a pin starts in, under mmap_lock
 *
 * On 6.1, GUP's hugetlb walker cannot handle a long-term pin of a hugetlb
 * page that sits in ZONE_MOVABLE (possible with movablecore= or
 * kernelcore=): instead of migrating it, it warns (a WARN_ON_ONCE any user
 * could trigger) and fails. The tracker then pins hugetlb pages without
 * FOLL_LONGTERM and checks them itself with compat_pages_longterm_pinnable():
 * a FOLL_PIN is the same pin either way, FOLL_LONGTERM only adds that check
 * (and the migration this kernel cannot do for hugetlb).
 *
 * Context: mmap_lock held for read.
 * Return: true if a pin in @vma must be taken without FOLL_LONGTERM and
 * checked with compat_pages_longterm_pinnable().
 */
static inline bool compat_hugetlb_longterm_unsafe(struct vm_area_struct *vma)
{
#ifdef PIN_TRACKER_HAVE_GUP_HUGETLB_LONGTERM_MOVABLE_FAILS
	return is_vm_hugetlb_page(vma);
#else
	return false;
#endif
}

/**
 * compat_pages_longterm_pinnable() - may these pages be pinned long-term?
 * @pages: pages just pinned without FOLL_LONGTERM
 * @n: number of entries in @pages
 *
 * Context: any.
 * Return: false if a page is where a long-term pin would block memory
 * offlining, compaction or CMA allocations: ZONE_MOVABLE, a CMA or
 * isolated pageblock, device-coherent memory (the kernel's own test).
 */
static inline bool compat_pages_longterm_pinnable(struct page **pages,
						  unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
#ifdef PIN_TRACKER_HAVE_IS_LONGTERM_PINNABLE_PAGE
		if (!is_longterm_pinnable_page(pages[i]))
#else
		if (!folio_is_longterm_pinnable(page_folio(pages[i])))
#endif
			return false;
	}
	return true;
}

/**
 * compat_pages_fast_longterm_ok() - may pages pinned by the lockless walk
 * stay pinned?
 * @pages: pages just pinned by compat_pin_user_pages_fast_only() with
 *	FOLL_LONGTERM, plus FOLL_WRITE if @writable
 * @n: number of entries in @pages
 * @writable: they were pinned with FOLL_WRITE
 *
 * The lockless walk sees no VMA, so it keeps only pages that the careful
 * path would have pinned the same way whatever VMA maps them:
 *
 * - writable: on kernels before 6.5 gup-fast pins writable page cache of
 *   any filesystem. Only anonymous, hugetlb and shmem (swap-backed) folios
 *   can never need dirty tracking; anything else, a folio truncated
 *   meanwhile included, goes to the careful path, which decides by the VMA
 *   under mmap_lock (as upstream's gup-fast does from 6.5).
 * - read-only: on kernels whose R/O long-term pins of COW mappings are not
 *   reliable (see compat_ro_longterm_gup_flags()), only anonymous folios:
 *   gup-fast already refuses those that are not exclusive to the process,
 *   but it would pin page cache of a MAP_PRIVATE mapping as it is.
 *
 * Context: any.
 * Return: true if the pages may stay pinned.
 */
static inline bool compat_pages_fast_longterm_ok(struct page **pages,
						 unsigned long n,
						 bool writable)
{
	struct folio *folio, *prev = NULL;
	unsigned long i;

#ifdef PIN_TRACKER_GUP_REFUSES_WRITABLE_FILE_LONGTERM
	if (writable)
		return true;
#endif
#ifndef PIN_TRACKER_HAVE_GUP_UNRELIABLE_RO_LONGTERM
	if (!writable)
		return true;
#endif
	for (i = 0; i < n; i++) {
		folio = page_folio(pages[i]);
		if (folio == prev)
			continue;
		prev = folio;
		if (folio_test_anon(folio))
			continue;
		if (writable && folio_test_hugetlb(folio))
			continue;
		/* shmem, unless truncated meanwhile (no mapping any more) */
		if (writable && folio_test_swapbacked(folio) &&
		    READ_ONCE(folio->mapping))
			continue;
		return false;
	}
	return true;
}

/**
 * compat_pin_user_pages_locked() - pin_user_pages() under mmap_lock
 * @start: user address of the first page, page aligned, in current->mm
 * @nr_pages: number of pages, all inside one VMA
 * @gup_flags: FOLL_ flags, decided from that VMA under the same lock
 * @pages: array of @nr_pages entries, filled with pinned pages
 *
 * GUP keeps mmap_lock held throughout (it may fault and, for
 * FOLL_LONGTERM, migrate, but never drops the lock), so the VMA the caller
 * looked at is the one GUP works on.
 *
 * Context: process context of current->mm, mmap_lock held for read.
 * Return: the number of pages pinned, or a negative errno.
 */
static inline long compat_pin_user_pages_locked(unsigned long start,
						unsigned long nr_pages,
						unsigned int gup_flags,
						struct page **pages)
{
#ifdef PIN_TRACKER_HAVE_PIN_USER_PAGES_VMAS_ARG
	return pin_user_pages(start, nr_pages, gup_flags, pages, NULL);
#else
	return pin_user_pages(start, nr_pages, gup_flags, pages);
#endif
}

/**
 * compat_unpin_range() - unpin @npages physically contiguous pinned pages
 * @page: first page
 * @npages: number of pages
 * @dirty: mark them dirty first
 *
 * Context: may sleep.
 */
static inline void compat_unpin_range(struct page *page, unsigned long npages,
				      bool dirty)
{
#ifdef PIN_TRACKER_HAVE_UNPIN_USER_PAGE_RANGE_DIRTY_LOCK
	unpin_user_page_range_dirty_lock(page, npages, dirty);
#else
	/* Before 5.12 ("mm/gup: add a range variant of unpin_user_pages_dirty_lock()"). */
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct page *p = nth_page(page, i);

		unpin_user_pages_dirty_lock(&p, 1, dirty);
	}
#endif
}

/**
 * compat_pin_user_pages_fast_only() - pin mapped pages without the slow path
 * @start: user address of the first page, page aligned, in current->mm
 * @nr_pages: number of pages to pin
 * @gup_flags: FOLL_WRITE | FOLL_LONGTERM
 * @pages: array of @nr_pages entries, filled with pinned pages
 *
 * The lockless page table walk of pin_user_pages_fast() alone: it faults
 * nothing in, takes no mmap_lock and, for FOLL_LONGTERM, stops at the first
 * page a long-term pin would have to migrate first. On kernels without
 * pin_user_pages_fast_only() the whole pin_user_pages_fast() stands in for
 * it, unless that kernel cannot migrate hugetlb pages for a long-term pin
 * (see compat_hugetlb_longterm_unsafe()): then nothing is pinned here and
 * the caller takes its careful path.
 *
 * Context: process context of current->mm, no mmap_lock held.
 * Return: the number of pages pinned, 0 to @nr_pages (fewer: the caller
 * unpins those and takes its careful path).
 */
static inline long compat_pin_user_pages_fast_only(unsigned long start,
						   unsigned long nr_pages,
						   unsigned int gup_flags,
						   struct page **pages)
{
	long ret;

#if defined(PIN_TRACKER_HAVE_PIN_USER_PAGES_FAST_ONLY)
	ret = pin_user_pages_fast_only(start, nr_pages, gup_flags, pages);
#elif defined(PIN_TRACKER_HAVE_GUP_HUGETLB_LONGTERM_MOVABLE_FAILS)
	ret = 0;
#else
	ret = pin_user_pages_fast(start, nr_pages, gup_flags, pages);
#endif
	return ret < 0 ? 0 : ret;
}

/**
 * compat_get_user_pages_nofault() - look up mapped pages without faulting
 * @start: user address of the first page, page aligned, in current->mm
 * @nr_pages: number of pages to look up
 * @pages: array of @nr_pages entries, filled with referenced pages
 *
 * Takes a plain reference (FOLL_GET, not a pin) on each page the current
 * process's page tables map readable at @start, @start + PAGE_SIZE ...,
 * and stops at the first page that is not: not present, swapped out,
 * %PROT_NONE (or a NUMA-hinting entry: see
 * compat_get_user_pages_vma_nofault()), a special mapping. Nothing is
 * faulted in and nothing is charged. The caller drops each reference with
 * put_page().
 *
 * Context: process context of the mm to look in; no mmap_lock needed.
 * Return: the number of pages looked up, 0 to @nr_pages.
 */
static inline int compat_get_user_pages_nofault(unsigned long start,
						int nr_pages,
						struct page **pages)
{
#ifdef PIN_TRACKER_HAVE_GET_USER_PAGES_FAST_ONLY
	return get_user_pages_fast_only(start, nr_pages, 0, pages);
#else
	int ret = get_user_pages_fast(start, nr_pages, FOLL_NOFAULT, pages);

	return ret < 0 ? 0 : ret;
#endif
}

/**
 * compat_get_user_pages_vma_nofault() - look up mapped pages of one VMA
 * without faulting, following NUMA-hinting entries
 * @start: user address of the first page, page aligned, in current->mm
 * @nr_pages: number of pages to look up, all inside one VMA that the caller
 *	found with mmap_lock held and checked: %VM_READ set, not hugetlb
 * @pages: array of @nr_pages entries, filled with referenced pages
 *
 * The slow-path companion of compat_get_user_pages_nofault(): like it, it
 * takes a plain reference (FOLL_GET) on each page mapped at @start,
 * @start + PAGE_SIZE ..., faults nothing in (FOLL_NOFAULT: GUP fails where it
 * would fault) and stops at the first page that is not mapped. Unlike the
 * lockless walk it also returns the page behind a NUMA-hinting entry
 * (pte_protnone() in an accessible VMA, left by NUMA balancing's
 * change_prot_numa()): that page is still the one the process reaches, at
 * the price of a hinting fault.
 *
 * Up to 6.5, GUP follows protnone entries when FOLL_FORCE is set: early
 * 6.1 releases set FOLL_NUMA only without FOLL_FORCE, later ones (and 6.2 to
 * 6.5) ask gup_can_follow_protnone(), which is true with FOLL_FORCE.
 * For a read of a %VM_READ VMA, FOLL_FORCE changes nothing else: it only
 * relaxes the VMA permission checks, which then pass anyway, and the COW
 * handling of writes. get_user_pages() adds FOLL_TOUCH, which marks the
 * pages accessed, as any read of them would. Hugetlb VMAs are excluded
 * because 6.1's follow_hugetlb_page() ignores FOLL_NOFAULT and faults; NUMA
 * balancing never touches them anyway.
 *
 * From 6.6 (FOLL_HONOR_NUMA_FAULT) GUP always honours hinting entries in
 * accessible VMAs and exported interfaces offer no way around it: there this
 * stops at them like compat_get_user_pages_nofault() does.
 *
 * Context: process context of current->mm, mmap_lock held for read (it is
 * not dropped). May sleep.
 * Return: the number of pages looked up, 0 to @nr_pages.
 */
static inline long compat_get_user_pages_vma_nofault(unsigned long start,
						     unsigned long nr_pages,
						     struct page **pages)
{
#ifdef PIN_TRACKER_HAVE_GUP_HONOR_NUMA_FAULT
	unsigned int flags = FOLL_NOFAULT;
#else
	unsigned int flags = FOLL_FORCE | FOLL_NOFAULT;
#endif
	long ret;

#ifdef PIN_TRACKER_HAVE_GET_USER_PAGES_VMAS_ARG
	ret = get_user_pages(start, nr_pages, flags, pages, NULL);
#else
	ret = get_user_pages(start, nr_pages, flags, pages);
#endif
	return ret < 0 ? 0 : ret;
}

/**
 * compat_mmu_notify_is_exclusive() - is @event MMU_NOTIFY_EXCLUSIVE?
 * @event: an &enum mmu_notifier_event value
 *
 * Context: any.
 * Return: true if @event is the kernel's device-exclusive-access event;
 * always false on kernels without it.
 */
static inline bool compat_mmu_notify_is_exclusive(unsigned int event)
{
#ifdef PIN_TRACKER_HAVE_MMU_NOTIFY_EXCLUSIVE
	return event == MMU_NOTIFY_EXCLUSIVE;
#else
	return false;
#endif
}

#endif /* PIN_COMPAT_H */
