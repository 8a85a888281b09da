// SPDX-License-Identifier: GPL-2.0
/*
 * pin_tracker: long-term pins of user memory, tracked by handle.
 *
 * Pins are taken with pin_user_pages_fast(FOLL_LONGTERM [| FOLL_WRITE]) in
 * batches of one page of page pointers, charged to the owner's
 * mm->pinned_vm against RLIMIT_MEMLOCK beforehand (as ib_umem does), and
 * recorded as runs of physically contiguous pages rather than one pointer
 * per page. Every run is released with the range variant of
 * unpin_user_pages_dirty_lock(), dirtying it if the pin was writable.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "compat.h"
#include "pin_tracker.h"

/* Pages pinned per pin_user_pages_fast() call: one page of pointers. */
#define PIN_BATCH	(PAGE_SIZE / sizeof(struct page *))

/* Pins of up to this many pages use a batch array on the stack. */
#define PIN_SMALL	16

/* Smallest allocation of a region's run array, in entries. */
#define PIN_RUNS_MIN	8

/**
 * pin_counters_init() - zero a set of counters
 * @c: the counters
 *
 * Context: any.
 */
void pin_counters_init(struct pin_counters *c)
{
	atomic64_set(&c->regions, 0);
	atomic64_set(&c->pinned_pages, 0);
	atomic64_set(&c->peak_pages, 0);
	atomic64_set(&c->pins, 0);
	atomic64_set(&c->unpins, 0);
	atomic64_set(&c->failed_pins, 0);
	atomic64_set(&c->metadata_bytes, 0);
}

/**
 * pin_counters_read() - read a set of counters
 * @c: the counters
 * @stats: filled with a snapshot; the counters are read one by one
 *
 * Context: any.
 */
void pin_counters_read(struct pin_counters *c, struct pin_tracker_stats *stats)
{
	stats->regions = atomic64_read(&c->regions);
	stats->pinned_pages = atomic64_read(&c->pinned_pages);
	stats->peak_pages = atomic64_read(&c->peak_pages);
	stats->pins = atomic64_read(&c->pins);
	stats->unpins = atomic64_read(&c->unpins);
	stats->failed_pins = atomic64_read(&c->failed_pins);
	stats->metadata_bytes = atomic64_read(&c->metadata_bytes);
}

/* Add (or with negative values, remove) held regions, pages and metadata. */
static void pin_counters_hold(struct pin_counters *c, long regions,
			      long pages, long bytes)
{
	s64 now, peak;

	atomic64_add(regions, &c->regions);
	atomic64_add(bytes, &c->metadata_bytes);
	now = atomic64_add_return(pages, &c->pinned_pages);
	peak = atomic64_read(&c->peak_pages);
	while (now > peak && !atomic64_try_cmpxchg(&c->peak_pages, &peak, now))
		;
}

static void pin_tracker_hold(struct pin_tracker *t, struct pin_region *r,
			     int sign)
{
	long pages = sign * (long)r->npages;
	long bytes = sign * (long)r->metadata_bytes;

	pin_counters_hold(&t->counters, sign, pages, bytes);
	if (t->shared)
		pin_counters_hold(t->shared, sign, pages, bytes);
}

enum pin_event { PIN_EVENT_PIN, PIN_EVENT_UNPIN, PIN_EVENT_FAIL };

static void pin_counters_event(struct pin_counters *c, enum pin_event ev)
{
	switch (ev) {
	case PIN_EVENT_PIN:
		atomic64_inc(&c->pins);
		break;
	case PIN_EVENT_UNPIN:
		atomic64_inc(&c->unpins);
		break;
	case PIN_EVENT_FAIL:
		atomic64_inc(&c->failed_pins);
		break;
	}
}

static void pin_tracker_event(struct pin_tracker *t, enum pin_event ev)
{
	pin_counters_event(&t->counters, ev);
	if (t->shared)
		pin_counters_event(t->shared, ev);
}

/**
 * pin_tracker_init() - set up an empty tracker
 * @t: the tracker
 * @mm: the mm to charge; the tracker holds it with mmgrab() until
 *	pin_tracker_destroy()
 * @max_pages: most pages one pin may cover; capped at %PIN_TRACKER_MAX_PAGES
 * @max_regions: most regions held at once
 * @shared: counters to update along with the tracker's own, or NULL; they
 *	must outlive the tracker
 *
 * Context: any context that may sleep.
 */
void pin_tracker_init(struct pin_tracker *t, struct mm_struct *mm,
		      unsigned long max_pages, unsigned int max_regions,
		      struct pin_counters *shared)
{
	xa_init(&t->regions);
	t->next_handle = 1;
	mmgrab(mm);
	t->mm = mm;
	/* A run packs its pfn and its page index in a u64. */
	BUILD_BUG_ON(MAX_PHYSMEM_BITS - PAGE_SHIFT > 64 - PIN_RUN_PGOFF_BITS);
	t->max_pages = min(max_pages, PIN_TRACKER_MAX_PAGES);
	t->max_regions = max_regions;
	atomic_set(&t->nr_regions, 0);
	pin_counters_init(&t->counters);
	t->shared = shared;
}

/**
 * pin_region_run() - describe one run of a region
 * @r: the region
 * @i: index of the run, below @r->nr_runs
 * @pfn: set to the run's first page frame number
 * @pgoff: set to the index of the run's first page in the region
 * @npages: set to the number of pages in the run
 *
 * Context: any; the caller holds a reference on @r.
 */
void pin_region_run(const struct pin_region *r, unsigned long i,
		    unsigned long *pfn, unsigned long *pgoff,
		    unsigned long *npages)
{
	unsigned long end = i + 1 < r->nr_runs ? pin_run_pgoff(&r->runs[i + 1]) :
						 r->npages;

	*pfn = pin_run_pfn(&r->runs[i]);
	*pgoff = pin_run_pgoff(&r->runs[i]);
	*npages = end - *pgoff;
}

static int pin_tracker_charge(struct pin_tracker *t, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	u64 pinned = atomic64_add_return(npages, &t->mm->pinned_vm);

	if (pinned > limit && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &t->mm->pinned_vm);
		return -ENOMEM;
	}
	return 0;
}

static void pin_tracker_uncharge(struct pin_tracker *t, unsigned long npages)
{
	atomic64_sub(npages, &t->mm->pinned_vm);
}

/**
 * struct pin_plan - how to pin the part of a range inside one VMA
 * @end: end of that part (the VMA's end, or the range's)
 * @gup_flags: FOLL_ flags for pin_user_pages_fast()
 * @check_pinnable: FOLL_LONGTERM had to be left out; check the pages
 */
struct pin_plan {
	unsigned long end;
	unsigned int gup_flags;
	bool check_pinnable;
};

/*
 * Refuse writable pins of shared file mappings that the filesystem writes
 * back: GUP on kernels before 6.5 allows them, and a device writing to pages
 * the filesystem thinks clean corrupts data (pin_user_pages.rst, "case 1").
 * Checked for the whole range before anything is pinned, on every kernel,
 * so the errno is the same everywhere and does not depend on which pages
 * GUP would have failed on first.
 */
static int pin_check_policy(struct mm_struct *mm, unsigned long start,
			    unsigned long end)
{
	struct vm_area_struct *vma;
	unsigned long addr = start;

	while (addr < end) {
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start >= end)
			break;	/* a hole: GUP reports it */
		if (compat_vma_needs_dirty_tracking(vma))
			return -EOPNOTSUPP;
		addr = vma->vm_end;
	}
	return 0;
}

/*
 * Look at the VMA holding @addr and decide how to pin up to @end in it:
 * read-only pins of private mappings may need COW broken first, see
 * compat_ro_longterm_gup_flags(). With @policy, first apply the file
 * mapping policy to all of [@addr, @end), in the same mmap_lock round.
 * The VMAs may change once mmap_lock is dropped; GUP then works on whatever
 * is mapped, and compat_pages_longterm_writable_ok() rechecks what it
 * pinned.
 */
static int pin_plan_vma(struct mm_struct *mm, unsigned long addr,
			unsigned long end, bool writable, bool policy,
			struct pin_plan *plan)
{
	struct vm_area_struct *vma;
	int ret = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	if (policy)
		ret = pin_check_policy(mm, addr, end);
	vma = ret ? NULL : vma_lookup(mm, addr);
	if (vma) {
		plan->end = min(end, vma->vm_end);
		plan->gup_flags = FOLL_LONGTERM;
		if (writable)
			plan->gup_flags |= FOLL_WRITE;
		else
			plan->gup_flags |= compat_ro_longterm_gup_flags(vma);
		plan->check_pinnable = compat_hugetlb_longterm_unsafe(vma);
		if (plan->check_pinnable)
			plan->gup_flags &= ~FOLL_LONGTERM;
	} else if (!ret) {
		ret = -EFAULT;
	}
	mmap_read_unlock(mm);
	return ret;
}

/* Regions start with their one inline run; longer run arrays are kvmalloc'd. */
static void pin_region_free_runs(struct pin_region *r)
{
	if (r->runs != &r->first_run)
		kvfree(r->runs);
}

/* Grow @r->runs; it never needs more than @r->nr_runs + @left entries. */
static int pin_region_grow_runs(struct pin_region *r, unsigned long *cap,
				unsigned long left)
{
	unsigned long new_cap;
	struct pin_run *runs;

	new_cap = min(max(*cap * 2, (unsigned long)PIN_RUNS_MIN),
		      r->nr_runs + left);
	runs = kvmalloc_array(new_cap, sizeof(*runs), GFP_KERNEL_ACCOUNT);
	if (!runs)
		return -ENOMEM;
	memcpy(runs, r->runs, r->nr_runs * sizeof(*runs));
	pin_region_free_runs(r);
	r->runs = runs;
	*cap = new_cap;
	return 0;
}

/*
 * Give back what the run array over-allocated (keep it if that fails) and
 * note what the region's metadata takes.
 */
static void pin_region_shrink_runs(struct pin_region *r, unsigned long cap)
{
	struct pin_run *runs;

	if (r->runs != &r->first_run && cap > r->nr_runs) {
		runs = kvmalloc_array(r->nr_runs, sizeof(*runs),
				      GFP_KERNEL_ACCOUNT);
		if (runs) {
			memcpy(runs, r->runs, r->nr_runs * sizeof(*runs));
			pin_region_free_runs(r);
			r->runs = runs;
			cap = r->nr_runs;
		}
	}
	r->metadata_bytes = sizeof(*r);
	if (r->runs != &r->first_run)
		r->metadata_bytes += cap * sizeof(*r->runs);
}

/*
 * Append @n pinned pages of a region of @total pages, extending the last
 * run where the pages are physically contiguous. The run array grows only
 * when a new run starts. Returns 0, or -ENOMEM with *@added set to the
 * pages that were recorded (the caller unpins the rest).
 */
static int pin_region_add_pages(struct pin_region *r, unsigned long *cap,
				unsigned long total, struct page **pages,
				unsigned long n, unsigned long *added)
{
	unsigned long i, pfn;
	struct pin_run *last;
	int ret;

	for (i = 0; i < n; i++, r->npages++) {
		pfn = page_to_pfn(pages[i]);
		if (r->nr_runs) {
			last = &r->runs[r->nr_runs - 1];
			if (pfn == pin_run_pfn(last) +
				   (r->npages - pin_run_pgoff(last)))
				continue;
		}
		if (r->nr_runs == *cap) {
			ret = pin_region_grow_runs(r, cap, total - r->npages);
			if (ret) {
				*added = i;
				return ret;
			}
		}
		r->runs[r->nr_runs].v = (u64)pfn << PIN_RUN_PGOFF_BITS |
					r->npages;
		r->nr_runs++;
	}
	*added = n;
	return 0;
}

static void pin_region_unpin(struct pin_region *r, bool dirty)
{
	unsigned long i, pfn, pgoff, npages;

	for (i = 0; i < r->nr_runs; i++) {
		pin_region_run(r, i, &pfn, &pgoff, &npages);
		compat_unpin_range(pfn_to_page(pfn), npages, dirty);
		cond_resched();
	}
}

/* Count @r as held and give it the next handle. */
static int pin_tracker_publish(struct pin_tracker *t, struct pin_region *r,
			       u32 *handle)
{
	u32 id;
	int ret;

	pin_tracker_hold(t, r, 1);
	xa_lock(&t->regions);
	id = t->next_handle;
	if (id) {
		t->next_handle = id + 1;	/* 0 after U32_MAX: used up */
		ret = __xa_insert(&t->regions, id, r, GFP_KERNEL_ACCOUNT);
	} else {
		ret = -ENOSPC;
	}
	xa_unlock(&t->regions);
	if (ret) {
		pin_tracker_hold(t, r, -1);
		return ret;
	}
	*handle = id;
	return 0;
}

/**
 * pin_tracker_pin() - pin a user range long-term and track it
 * @t: the tracker
 * @addr: first byte of the range in current->mm, which must be @t's mm
 * @length: length of the range in bytes
 * @writable: the device may write (FOLL_WRITE; dirtied on unpin)
 * @handle: set to the new region's handle on success
 * @npages: set to the number of pages pinned on success
 *
 * Pins every page that [@addr, @addr + @length) touches. All or nothing:
 * on failure nothing stays pinned and nothing stays charged.
 *
 * Context: process context of @t's mm, may sleep.
 * Return: 0 on success; -EINVAL if @length is 0; -EOVERFLOW if the range
 * wraps; -EFAULT if it leaves the user address space or GUP finds a page
 * it cannot pin; -E2BIG beyond the tracker's page limit; -ENOSPC beyond its
 * region limit or when its handles are used up; -ENOMEM past
 * RLIMIT_MEMLOCK without CAP_IPC_LOCK, or out of memory; -EOPNOTSUPP for a
 * writable pin of file pages that are written back; -EINTR on a fatal
 * signal; another negative errno from GUP.
 */
int pin_tracker_pin(struct pin_tracker *t, u64 addr, u64 length,
		    bool writable, u32 *handle, unsigned long *npages)
{
	unsigned long start, end, cur, total, added, cap = 1;
	struct pin_plan plan = { .end = 0 };
	struct page *small[PIN_SMALL];
	struct page **batch = small;
	struct pin_region *r;
	long got;
	int ret;

	if (!length)
		return -EINVAL;
	if (addr + length < addr)
		return -EOVERFLOW;
	if (addr + length > TASK_SIZE)
		return -EFAULT;
	start = addr & PAGE_MASK;
	end = PAGE_ALIGN(addr + length);
	total = (end - start) >> PAGE_SHIFT;
	if (total > t->max_pages)
		return -E2BIG;

	if ((unsigned int)atomic_inc_return(&t->nr_regions) > t->max_regions) {
		ret = -ENOSPC;
		goto out_unreserve;
	}
	ret = pin_tracker_charge(t, total);
	if (ret)
		goto out_unreserve;

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r) {
		ret = -ENOMEM;
		goto out_uncharge;
	}
	refcount_set(&r->ref, 1);
	r->runs = &r->first_run;
	r->addr = addr;
	r->length = length;
	r->writable = writable;

	if (total > PIN_SMALL) {
		batch = kmalloc(PAGE_SIZE, GFP_KERNEL);
		if (!batch) {
			ret = -ENOMEM;
			goto out_free_region;
		}
	}
	while (r->npages < total) {
		cur = start + (r->npages << PAGE_SHIFT);
		if (cur >= plan.end) {
			ret = pin_plan_vma(t->mm, cur, end, writable,
					   writable && cur == start, &plan);
			if (ret)
				goto out_unpin;
		}
		got = pin_user_pages_fast(cur,
					  min((plan.end - cur) >> PAGE_SHIFT,
					      PIN_BATCH),
					  plan.gup_flags, batch);
		if (got <= 0) {
			ret = got ? got : -EFAULT;
			goto out_unpin;
		}
		if ((plan.gup_flags & FOLL_WRITE) &&
		    !compat_pages_longterm_writable_ok(batch, got)) {
			unpin_user_pages(batch, got);
			ret = -EOPNOTSUPP;
			goto out_unpin;
		}
		if (plan.check_pinnable &&
		    !compat_pages_longterm_pinnable(batch, got)) {
			/* What GUP returns when it cannot migrate. */
			unpin_user_pages(batch, got);
			ret = -ENOMEM;
			goto out_unpin;
		}
		ret = pin_region_add_pages(r, &cap, total, batch, got, &added);
		if (ret) {
			unpin_user_pages(batch + added, got - added);
			goto out_unpin;
		}
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out_unpin;
		}
		cond_resched();
	}
	if (batch != small)
		kfree(batch);
	batch = small;
	pin_region_shrink_runs(r, cap);

	ret = pin_tracker_publish(t, r, handle);
	if (ret)
		goto out_unpin;
	pin_tracker_event(t, PIN_EVENT_PIN);
	*npages = total;
	return 0;

out_unpin:
	/* Nothing was written through these pins: no dirtying. */
	pin_region_unpin(r, false);
	pin_region_free_runs(r);
	if (batch != small)
		kfree(batch);
out_free_region:
	kfree(r);
out_uncharge:
	pin_tracker_uncharge(t, total);
out_unreserve:
	atomic_dec(&t->nr_regions);
	pin_tracker_event(t, PIN_EVENT_FAIL);
	return ret;
}

static void pin_region_release(struct pin_tracker *t, struct pin_region *r)
{
	pin_region_unpin(r, r->writable);
	pin_tracker_uncharge(t, r->npages);
	pin_tracker_hold(t, r, -1);
	atomic_dec(&t->nr_regions);
	pin_region_free_runs(r);
	kfree(r);
}

/**
 * pin_region_page() - the pinned page at an index of a region
 * @r: the region
 * @idx: page index within the region, below @r->npages
 *
 * Context: any; the caller holds a reference on @r.
 * Return: the page (a binary search over the region's runs).
 */
struct page *pin_region_page(const struct pin_region *r, unsigned long idx)
{
	unsigned long lo = 0, hi = r->nr_runs;

	/* Find the last run starting at or before @idx. */
	while (hi - lo > 1) {
		unsigned long mid = lo + (hi - lo) / 2;

		if (pin_run_pgoff(&r->runs[mid]) <= idx)
			lo = mid;
		else
			hi = mid;
	}
	return pfn_to_page(pin_run_pfn(&r->runs[lo]) +
			   (idx - pin_run_pgoff(&r->runs[lo])));
}

/**
 * pin_tracker_get() - look up a region and take a reference on it
 * @t: the tracker
 * @handle: the region's handle
 *
 * The region stays valid, and pinned, until pin_tracker_put(), even if it is
 * unpinned meanwhile.
 *
 * Context: may not be called from hard interrupt context (takes xa_lock).
 * Return: the region, or NULL if @handle is not in use.
 */
struct pin_region *pin_tracker_get(struct pin_tracker *t, u32 handle)
{
	struct pin_region *r;

	xa_lock(&t->regions);
	r = xa_load(&t->regions, handle);
	if (r)
		refcount_inc(&r->ref);
	xa_unlock(&t->regions);
	return r;
}

/**
 * pin_tracker_put() - drop a reference taken by pin_tracker_get()
 * @t: the tracker the region came from
 * @r: the region
 *
 * Dropping the last reference of an unpinned region releases its pages.
 *
 * Context: may sleep.
 */
void pin_tracker_put(struct pin_tracker *t, struct pin_region *r)
{
	if (refcount_dec_and_test(&r->ref))
		pin_region_release(t, r);
}

/**
 * pin_tracker_unpin() - unpin a region
 * @t: the tracker
 * @handle: the region's handle; it is never handed out again
 *
 * The pages are released (dirtied first if the pin was writable) and
 * uncharged now, or when the last concurrent pin_tracker_get() user puts
 * the region.
 *
 * Context: may sleep.
 * Return: 0 on success, -ENOENT if @handle is not in use.
 */
int pin_tracker_unpin(struct pin_tracker *t, u32 handle)
{
	struct pin_region *r = xa_erase(&t->regions, handle);

	if (!r)
		return -ENOENT;
	pin_tracker_event(t, PIN_EVENT_UNPIN);
	pin_tracker_put(t, r);
	return 0;
}

/**
 * pin_tracker_destroy() - unpin every region and release the tracker
 * @t: the tracker; nothing else may use it any more
 *
 * Works from any process, also after the tracker's mm has exited: the
 * charge goes back to that mm, which mmgrab() kept alive.
 *
 * Context: may sleep.
 */
void pin_tracker_destroy(struct pin_tracker *t)
{
	struct pin_region *r;
	unsigned long index;

	xa_for_each(&t->regions, index, r) {
		xa_erase(&t->regions, index);
		pin_tracker_put(t, r);
		cond_resched();
	}
	xa_destroy(&t->regions);
	mmdrop(t->mm);
}

/**
 * pin_tracker_read_stats() - read the tracker's own counters
 * @t: the tracker
 * @stats: filled with a snapshot; the counters are read one by one
 *
 * Context: any.
 */
void pin_tracker_read_stats(struct pin_tracker *t,
			    struct pin_tracker_stats *stats)
{
	pin_counters_read(&t->counters, stats);
}
