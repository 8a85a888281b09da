// SPDX-License-Identifier: GPL-2.0
/*
 * pin_tracker: long-term pins of user memory, tracked by handle.
 *
 * Pins are taken with FOLL_LONGTERM [| FOLL_WRITE] in batches of one page
 * of page pointers: by the lockless walk where its pages need no decision
 * about their VMA, else by pin_user_pages() with the flags decided from the
 * VMA in the same mmap_lock round. They are charged beforehand to the
 * owner's user (user->locked_vm) against RLIMIT_MEMLOCK, as io_uring and
 * iommufd do, shown in the owner's mm->pinned_vm, and recorded as runs of
 * physically contiguous pages rather than one pointer per page. Every run
 * is released with the range variant of unpin_user_pages_dirty_lock(),
 * dirtying it if the pin was writable.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/ktime.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "pin_compat.h"
#include "pin_tracker.h"
#include "pin_watch.h"

#define CREATE_TRACE_POINTS
#include "pin_trace.h"

/* Pages pinned per pin_user_pages_fast() call: one page of pointers. */
#define PIN_BATCH	(PAGE_SIZE / sizeof(struct page *))

/* Pins of up to this many pages use a batch array on the stack. */
#define PIN_SMALL	16

/* Smallest allocation of a region's run array, in entries. */
#define PIN_RUNS_MIN	8

static void pin_tracker_confirm_work(struct work_struct *work);
static int pin_region_look(struct pin_region *r, bool settle, u64 *differ,
			   u64 *first);

const char *const pin_counter_names[PIN_NR_COUNTERS] = {
	[PIN_COUNTER_REGIONS] = "regions",
	[PIN_COUNTER_PINNED_PAGES] = "pinned_pages",
	[PIN_COUNTER_PEAK_PAGES] = "peak_pages",
	[PIN_COUNTER_PINS] = "pins",
	[PIN_COUNTER_UNPINS] = "unpins",
	[PIN_COUNTER_FAILED_PINS] = "failed_pins",
	[PIN_COUNTER_METADATA_BYTES] = "metadata_bytes",
	[PIN_COUNTER_NOTIFIERS] = "notifiers",
	[PIN_COUNTER_DIVERGED_REGIONS] = "diverged_regions",
};

static int pin_counters_setup(struct pin_counters *c, gfp_t gfp)
{
	c->pcpu = alloc_percpu_gfp(struct pin_counters_cpu, gfp);
	if (!c->pcpu)
		return -ENOMEM;
	atomic64_set(&c->pinned_pages, 0);
	atomic64_set(&c->peak_pages, 0);
	return 0;
}

/**
 * pin_counters_init() - set up a set of counters, all zero
 * @c: the counters
 *
 * Context: process context, may sleep.
 * Return: 0, or -ENOMEM.
 */
int pin_counters_init(struct pin_counters *c)
{
	return pin_counters_setup(c, GFP_KERNEL);
}

/**
 * pin_counters_destroy() - free what pin_counters_init() allocated
 * @c: the counters; no tracker may use them any more
 *
 * Context: process context, may sleep.
 */
void pin_counters_destroy(struct pin_counters *c)
{
	free_percpu(c->pcpu);
}

/**
 * pin_counters_read_one() - read one counter
 * @c: the counters
 * @i: which, an &enum pin_counter
 *
 * Context: any.
 * Return: the counter's value: the sum of its per-CPU parts, exact once
 * the updates it races with are done. While a region is pinned on one CPU
 * and another released on a second, the parts read one by one can add up
 * to less than zero for a moment: that reads as 0, as
 * percpu_counter_sum_positive() would.
 */
u64 pin_counters_read_one(struct pin_counters *c, enum pin_counter i)
{
	s64 sum = 0;
	int cpu;

	if (i == PIN_COUNTER_PINNED_PAGES)
		return atomic64_read(&c->pinned_pages);
	if (i == PIN_COUNTER_PEAK_PAGES)
		return atomic64_read(&c->peak_pages);
	/* A part goes below zero where another CPU added what it removes. */
	for_each_possible_cpu(cpu)
		sum += (s64)READ_ONCE(per_cpu_ptr(c->pcpu, cpu)->v[i]);
	return sum > 0 ? sum : 0;
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
	unsigned int i;

	for (i = 0; i < PIN_NR_COUNTERS; i++)
		stats->v[i] = pin_counters_read_one(c, i);
}

/*
 * Counters other than the pinned pages go to this CPU's part: no atomic
 * operation and no cache line written by other CPUs, so that pins on
 * several CPUs (two threads of one file, or many files feeding one shared
 * set) do not serialise on them. this_cpu_add() is safe in any context.
 */
static void pin_counter_add(struct pin_counters *c, enum pin_counter i,
			    long n)
{
	this_cpu_add(c->pcpu->v[i], n);
}

/*
 * Add (or with negative values, remove) held regions, pages and metadata.
 * The pinned pages are one atomic counter, since their peak needs the
 * current total.
 */
static void pin_counters_hold(struct pin_counters *c, long regions,
			      long pages, long bytes)
{
	s64 now, old;

	pin_counter_add(c, PIN_COUNTER_REGIONS, regions);
	pin_counter_add(c, PIN_COUNTER_METADATA_BYTES, bytes);
	now = atomic64_add_return(pages, &c->pinned_pages);
	old = atomic64_read(&c->peak_pages);
	while (now > old && !atomic64_try_cmpxchg(&c->peak_pages, &old, now))
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

/* The clock for a tracepoint's duration: read only while it is enabled. */
static inline u64 pin_trace_clock(bool on)
{
	return on ? ktime_get_ns() : 0;
}

enum pin_event { PIN_EVENT_PIN, PIN_EVENT_UNPIN, PIN_EVENT_FAIL,
		 PIN_EVENT_ABORT };

static void pin_counters_event(struct pin_counters *c, enum pin_event ev)
{
	switch (ev) {
	case PIN_EVENT_PIN:
		pin_counter_add(c, PIN_COUNTER_PINS, 1);
		break;
	case PIN_EVENT_UNPIN:
		pin_counter_add(c, PIN_COUNTER_UNPINS, 1);
		break;
	case PIN_EVENT_ABORT:
		/* A pin undone before its caller heard of it: a failed pin. */
		pin_counter_add(c, PIN_COUNTER_PINS, -1);
		fallthrough;
	case PIN_EVENT_FAIL:
		pin_counter_add(c, PIN_COUNTER_FAILED_PINS, 1);
		break;
	}
}

static void pin_tracker_event(struct pin_tracker *t, enum pin_event ev)
{
	pin_counters_event(&t->counters, ev);
	if (t->shared)
		pin_counters_event(t->shared, ev);
}

/* Add @n to counter @i of @t and of the counters it shares. */
static void pin_tracker_count(struct pin_tracker *t, enum pin_counter i,
			      long n)
{
	pin_counter_add(&t->counters, i, n);
	if (t->shared)
		pin_counter_add(t->shared, i, n);
}

/**
 * pin_tracker_init() - set up an empty tracker
 * @t: the tracker
 * @mm: the mm whose pinned_vm shows the pins; the tracker holds it with
 *	mmgrab() until pin_tracker_destroy()
 * @max_pages: most pages one pin may cover; capped at %PIN_TRACKER_MAX_PAGES
 * @max_regions: most regions held at once
 * @watch: watch every region's range for changes (an MMU interval notifier
 *	per region, see pin_region_changed()), but those pinned with
 *	%PIN_TRACKER_UNWATCHED; ignored on kernels without MMU notifiers
 * @shared: counters to update along with the tracker's own, or NULL; they
 *	must outlive the tracker
 *
 * Pins are charged to the calling task's user (current_user()) against
 * RLIMIT_MEMLOCK of the task that pins; the tracker holds that user until
 * pin_tracker_destroy().
 *
 * Context: any context that may sleep.
 * Return: 0; -ENOMEM (for the tracker's own counters); -EINVAL (and a
 * warning) if @shared was not set up with pin_counters_init().
 */
int pin_tracker_init(struct pin_tracker *t, struct mm_struct *mm,
		     unsigned long max_pages, unsigned int max_regions,
		     bool watch, struct pin_counters *shared)
{
	int ret;

	/* Shared counters are set up with pin_counters_init() first. */
	if (shared && WARN_ON_ONCE(!shared->pcpu))
		return -EINVAL;
	/* A user can fail it at will: no allocation warning in the log. */
	ret = pin_counters_setup(&t->counters, PIN_GFP_ACCOUNT | __GFP_NOWARN);
	if (ret)
		return ret;
	/* Nodes are charged to the memory cgroup, as the regions are. */
	xa_init_flags(&t->regions, XA_FLAGS_ALLOC1 | XA_FLAGS_ACCOUNT);
	t->next_handle = 1;
	mmgrab(mm);
	t->mm = mm;
	t->user = get_uid(current_user());
	/* A run packs its pfn and its page index in a u64. */
	BUILD_BUG_ON(MAX_PHYSMEM_BITS - PAGE_SHIFT > 64 - PIN_RUN_PGOFF_BITS);
	t->max_pages = min(max_pages, PIN_TRACKER_MAX_PAGES);
	t->max_regions = max_regions;
	t->watch = watch && PIN_WATCH_SUPPORTED;
	t->hide_layout = false;
	atomic_set(&t->nr_regions, 0);
	memset(t->spare, 0, sizeof(t->spare));
	t->shared = shared;
	spin_lock_init(&t->ev_lock);
	INIT_LIST_HEAD(&t->ev_list);
	init_waitqueue_head(&t->ev_wait);
	init_waitqueue_head(&t->users_wait);
	INIT_LIST_HEAD(&t->cf_list);
	INIT_WORK(&t->cf_work, pin_tracker_confirm_work);
	t->cf_queued = 0;
	t->cf_done = 0;
	init_waitqueue_head(&t->cf_wait);
	t->dying = false;
	t->closed = false;
	t->busy_holds = 0;
	return 0;
}

/**
 * pin_tracker_set_next_handle() - choose the next handle to hand out
 * @t: a tracker that has not pinned anything yet
 * @handle: the handle; 0 counts as 1
 *
 * For tests that need handles to wrap around after U32_MAX.
 *
 * Context: process context (the tracker's locks are taken with softirqs
 * enabled).
 */
void pin_tracker_set_next_handle(struct pin_tracker *t, u32 handle)
{
	xa_lock(&t->regions);
	t->next_handle = handle ? handle : 1;
	xa_unlock(&t->regions);
}

/**
 * pin_tracker_hide_layout() - size every region's metadata by its pages
 * @t: a tracker that has not pinned anything yet
 *
 * A region's run array grows by 8 bytes per physically contiguous run of
 * its pages and is charged to the caller's memory cgroup, so the cgroup's
 * memory.current and memory.stat tell how contiguous the pages are. An
 * owner that must not learn that (it may not read page frame numbers)
 * calls this: from then on a region of N pages always takes room for N
 * runs, whatever its layout. That costs 8 bytes per pinned page (a page
 * pointer array's size), instead of 8 per run.
 *
 * Context: process context, before the first pin.
 */
void pin_tracker_hide_layout(struct pin_tracker *t)
{
	t->hide_layout = true;
}

/* Run @i of @r: the first is inline, the others in the array. */
static inline const struct pin_run *
pin_region_run_at(const struct pin_region *r, unsigned long i)
{
	return i ? &r->more_runs[i - 1] : &r->first_run;
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
	unsigned long end = i + 1 < r->nr_runs ?
			    pin_run_pgoff(pin_region_run_at(r, i + 1)) :
			    r->npages;

	*pfn = pin_run_pfn(pin_region_run_at(r, i));
	*pgoff = pin_run_pgoff(pin_region_run_at(r, i));
	*npages = end - *pgoff;
}

/*
 * Charge @npages to the tracker's user against the caller's RLIMIT_MEMLOCK
 * (unless it has CAP_IPC_LOCK), as io_uring and iommufd do, and show them
 * in the tracker's mm's pinned_vm (VmPin). The user is the limit because
 * pins outlive processes: an mm's charge would be escaped by an exec (the
 * file stays open without O_CLOEXEC) or by passing the file to another
 * process and exiting; every process of the user shares its user_struct.
 */
static int pin_tracker_charge(struct pin_tracker *t, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur = atomic_long_read(&t->user->locked_vm);
	bool unlimited = false;

	/*
	 * Check, then add, in one step: adding first and taking it back when
	 * over the limit would make concurrent charges of the same user (a
	 * small pin beside a huge one that fails) fail too.
	 */
	do {
		if (cur + npages > limit && !unlimited) {
			unlimited = capable(CAP_IPC_LOCK);
			if (!unlimited)
				return -ENOMEM;
		}
	} while (!atomic_long_try_cmpxchg(&t->user->locked_vm, &cur,
					  cur + npages));
	atomic64_add(npages, &t->mm->pinned_vm);
	return 0;
}

static void pin_tracker_uncharge(struct pin_tracker *t, unsigned long npages)
{
	atomic_long_sub(npages, &t->user->locked_vm);
	atomic64_sub(npages, &t->mm->pinned_vm);
}

/*
 * Refuse writable pins of shared file mappings whose filesystem or driver
 * tracks writes: GUP on kernels before 6.5 allows them, and a device
 * writing to pages the filesystem thinks clean corrupts data
 * (pin_user_pages.rst, "case 1"). Checked for the whole rest of the range
 * before the careful path pins anything, on every kernel, so the errno is
 * the same everywhere and does not depend on which pages GUP would have
 * failed on first.
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
 * The quick way: the lockless GUP walk alone, which faults nothing in,
 * migrates nothing and takes no mmap_lock. Keeps what it pinned only where
 * the careful path could not have decided otherwise (see
 * compat_pages_fast_longterm_ok()); otherwise unpins it and returns 0.
 * Returns the number of pages kept, from the first page on.
 */
static long pin_pages_fast(unsigned long addr, unsigned long nr,
			   bool writable, struct page **pages)
{
	unsigned int gup_flags = FOLL_LONGTERM | (writable ? FOLL_WRITE : 0);
	long got;

	got = compat_pin_user_pages_fast_only(addr, nr, gup_flags, pages);
	if (got > 0 && !compat_pages_fast_longterm_ok(pages, got, writable)) {
		unpin_user_pages(pages, got);
		got = 0;
	}
	return got;
}

/*
 * A read-only pin where compat_ro_longterm_gup_flags() asks for a forced
 * write to break COW: that is needed for the shared zero page and page
 * cache only, since GUP itself unshares anonymous pages for a read-only
 * long-term pin (and a write would be a real one: the page dirtied,
 * soft-dirty set, a userfaultfd write-protect fault raised). So pin
 * without the write first: keep the anonymous pages from the start of the
 * range, or, if the first page is not anonymous, take the forced write for
 * the run of pages that are not, and no further. Returns the number of
 * pages pinned from @addr on (at least 1), or a negative errno.
 */
static long pin_pages_ro_cow(unsigned long addr, unsigned long nr,
			     unsigned int gup_flags, struct page **pages)
{
	long got, i;

	got = compat_pin_user_pages_locked(addr, nr,
					   gup_flags & ~(FOLL_WRITE | FOLL_FORCE),
					   pages);
	if (got <= 0)	/* the forced pass says why */
		return compat_pin_user_pages_locked(addr, nr, gup_flags, pages);
	for (i = 0; i < got && PageAnon(pages[i]); i++)
		;
	if (i) {
		unpin_user_pages(pages + i, got - i);
		return i;
	}
	for (i = 1; i < got && !PageAnon(pages[i]); i++)
		;
	unpin_user_pages(pages, got);
	return compat_pin_user_pages_locked(addr, i, gup_flags, pages);
}

/*
 * The careful way: pin up to @nr pages from @addr, stopping at the end of
 * the VMA that holds @addr, with GUP flags decided from that VMA in the
 * same mmap_lock round as the pin itself, so no other thread can mprotect,
 * munmap or replace the VMA in between: read-only pins of private mappings
 * may need COW broken (compat_ro_longterm_gup_flags()), writable pins of
 * file mappings that track writes are refused, hugetlb on 6.1 is pinned
 * without FOLL_LONGTERM and checked here (compat_hugetlb_longterm_unsafe()).
 * With @policy, first apply the file mapping policy to all of [@addr, @end).
 * Returns the number of pages pinned (at least 1), or a negative errno.
 */
static long pin_pages_careful(struct mm_struct *mm, unsigned long addr,
			      unsigned long end, unsigned long nr,
			      bool writable, bool policy, struct page **pages)
{
	struct vm_area_struct *vma;
	unsigned int gup_flags;
	bool check;
	long got;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	got = policy ? pin_check_policy(mm, addr, end) : 0;
	if (got)
		goto out_unlock;
	vma = vma_lookup(mm, addr);
	if (!vma) {
		got = -EFAULT;
		goto out_unlock;
	}
	if (writable && compat_vma_needs_dirty_tracking(vma)) {
		got = -EOPNOTSUPP;
		goto out_unlock;
	}
	gup_flags = FOLL_LONGTERM;
	gup_flags |= writable ? FOLL_WRITE : compat_ro_longterm_gup_flags(vma);
	check = compat_hugetlb_longterm_unsafe(vma);
	if (check)
		gup_flags &= ~FOLL_LONGTERM;
	nr = min(nr, (vma->vm_end - addr) >> PAGE_SHIFT);
	if (!writable && (gup_flags & FOLL_WRITE))
		got = pin_pages_ro_cow(addr, nr, gup_flags, pages);
	else
		got = compat_pin_user_pages_locked(addr, nr, gup_flags, pages);
	if (got > 0 && check && !compat_pages_longterm_pinnable(pages, got)) {
		unpin_user_pages(pages, got);
		got = -ENOMEM;	/* what GUP returns when it cannot migrate */
	}
	if (!got)
		got = -EFAULT;
out_unlock:
	mmap_read_unlock(mm);
	return got;
}

/*
 * A region's first run is inline; the others are in a kvmalloc'd array,
 * whose size the caller chooses: a failure is an errno, not a log line.
 */
#define PIN_GFP_RUNS	(PIN_GFP_ACCOUNT | __GFP_NOWARN)

static void pin_region_free_runs(struct pin_region *r)
{
	if (r->more_runs) {
		kvfree(r->more_runs);
		r->more_runs = NULL;
	}
}

/*
 * Grow @r's room for runs (*@cap, the inline one included); it never needs
 * more than @r->nr_runs + @left.
 */
static int pin_region_grow_runs(struct pin_region *r, unsigned long *cap,
				unsigned long left)
{
	unsigned long new_cap;
	struct pin_run *runs;

	new_cap = min(max(*cap * 2, (unsigned long)PIN_RUNS_MIN),
		      r->nr_runs + left);
	runs = kvmalloc_array(new_cap - 1, sizeof(*runs), PIN_GFP_RUNS);
	if (!runs)
		return -ENOMEM;
	if (r->more_runs)
		memcpy(runs, r->more_runs,
		       (r->nr_runs - 1) * sizeof(*runs));
	pin_region_free_runs(r);
	r->more_runs = runs;
	*cap = new_cap;
	return 0;
}

/*
 * Give back what the run array over-allocated (keep it if that fails) and
 * note what the region's metadata takes.
 */
static void pin_region_shrink_runs(struct pin_region *r, unsigned long cap,
				   bool hide_layout)
{
	struct pin_run *runs;

	if (!hide_layout && r->more_runs && cap > r->nr_runs) {
		runs = kvmalloc_array(r->nr_runs - 1, sizeof(*runs),
				      PIN_GFP_RUNS);
		if (runs) {
			memcpy(runs, r->more_runs,
			       (r->nr_runs - 1) * sizeof(*runs));
			pin_region_free_runs(r);
			r->more_runs = runs;
			cap = r->nr_runs;
		}
	}
	/* The most runs a region can have fit its u32 metadata_bytes. */
	static_assert(sizeof(*r) + (PIN_TRACKER_MAX_PAGES - 1) *
		      sizeof(*r->more_runs) <= U32_MAX);
	r->metadata_bytes = sizeof(*r);
	if (r->more_runs)
		r->metadata_bytes += (cap - 1) * sizeof(*r->more_runs);
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
	const struct pin_run *last;
	unsigned long i, pfn;
	struct pin_run *run;
	int ret;

	for (i = 0; i < n; i++, r->npages++) {
		pfn = page_to_pfn(pages[i]);
		if (r->nr_runs) {
			last = pin_region_run_at(r, r->nr_runs - 1);
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
		run = r->nr_runs ? &r->more_runs[r->nr_runs - 1] :
				   &r->first_run;
		run->v = (u64)pfn << PIN_RUN_PGOFF_BITS | r->npages;
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

/*
 * Mark @r diverged or not, keeping the counters in step. Under ev_lock,
 * unless nothing else can reach @r (see pin_region_unwatch()).
 */
static void pin_region_set_diverged(struct pin_tracker *t,
				    struct pin_region *r, bool diverged)
{
	if (r->diverged == diverged)
		return;
	r->diverged = diverged;
	pin_tracker_count(t, PIN_COUNTER_DIVERGED_REGIONS, diverged ? 1 : -1);
}

/*
 * Queue published suspect @r for the confirmation work. Under ev_lock,
 * which also orders this against pin_tracker_destroy() setting @t->dying.
 */
static void pin_region_queue_confirm(struct pin_tracker *t,
				     struct pin_region *r)
{
	if (!r->published || t->dying || !list_empty(&r->cf_node))
		return;
	list_add_tail(&r->cf_node, &t->cf_list);
	t->cf_queued++;
	queue_work(system_unbound_wq, &t->cf_work);
}

/*
 * Take @node, a region's ev_node or cf_node, off its list of @t if it is
 * on one. Most regions are on no list when unpinned: this skips the
 * unlink, and its list debugging, for them.
 */
static void pin_list_del(struct pin_tracker *t, struct list_head *node)
{
	lockdep_assert_held(&t->ev_lock);
	if (!list_empty(node))
		list_del_init(node);
}

/*
 * Changes that always leave the range without the pinned pages: the range
 * was unmapped (munmap(), mremap() away) or the whole mm is going.
 */
#define PIN_CHANGE_UNMAPS	(BIT_ULL(MMU_NOTIFY_UNMAP) | \
				 BIT_ULL(MMU_NOTIFY_RELEASE))

/**
 * pin_region_changed() - note that a region's mapping is about to change
 * @w: the region's watch
 * @kind: BIT_ULL(enum mmu_notifier_event), bit 63 for events beyond 62
 * @start: first byte of the change, clipped to the region's pages
 * @end: end of the change (exclusive), clipped likewise
 *
 * The region's pin_watch_fn. Merges the change into the region's pending
 * record and queues that for readers (once the region is published),
 * waking them: every change is worth a look. Whether the region diverged
 * is another matter. An unmap means it did. Most other changes may leave
 * every pinned page in place (khugepaged giving up on a collapse, fork
 * write-protecting, mprotect(), NUMA hinting, GUP's own work during a
 * pin), and at this point the page tables have not changed yet: the region
 * becomes suspect, and the confirmation work looks once the change is
 * complete (pin_region_settle() does for a region still being pinned).
 *
 * Context: the MMU notifier callback of the region's watch; may not sleep.
 */
static void pin_region_changed(struct pin_watch *w, u64 kind, u64 start,
			       u64 end)
{
	struct pin_region *r = container_of(w, struct pin_region, watch);
	struct pin_tracker *t = r->tracker;
	bool wake = false;

	spin_lock(&t->ev_lock);
	if (!r->ev_kinds) {
		r->ev_start = start;
		r->ev_end = end;
	} else {
		r->ev_start = min(r->ev_start, start);
		r->ev_end = max(r->ev_end, end);
	}
	/* Marked: pin_region_settle() reads it without ev_lock. */
	WRITE_ONCE(r->ev_kinds, r->ev_kinds | kind);
	if (kind & PIN_CHANGE_UNMAPS) {
		pin_region_set_diverged(t, r, true);
	} else if (!r->diverged) {
		if (!r->suspect) {
			r->cf_start = start;
			r->cf_end = end;
			r->suspect = true;
		} else {
			r->cf_start = min(r->cf_start, start);
			r->cf_end = max(r->cf_end, end);
		}
		pin_region_queue_confirm(t, r);
	}
	if (r->published && list_empty(&r->ev_node)) {
		list_add_tail(&r->ev_node, &t->ev_list);
		wake = true;
	}
	spin_unlock(&t->ev_lock);
	if (wake)
		wake_up_interruptible_poll(&t->ev_wait, EPOLLIN | EPOLLRDNORM);
	pin_trace(changed, READ_ONCE(r->handle), kind, start, end);
}

/*
 * Whether @r is watched, or was: whether it may have a change record, be
 * suspect or be on one of @t's lists. A region that never had a watch has
 * none of these (nothing but its watch's callback starts them, and
 * pin_tracker_requeue_change() puts records back only where it finds a
 * watch), so publishing it or taking it out needs no ev_lock.
 */
static bool pin_region_watched(const struct pin_tracker *t,
			       const struct pin_region *r)
{
	return t->watch && !r->unwatched;
}

/*
 * Start watching @r's pages, [@start, @start + @len) of @t's mm
 * (current->mm), for changes, if @t watches and @r is not unwatched. Done
 * before the first page is pinned, so that a change to a page pinned early
 * in a long pin is seen.
 */
static int pin_region_watch(struct pin_tracker *t, struct pin_region *r,
			    unsigned long start, unsigned long len)
{
	int ret;

	r->tracker = t;
	INIT_LIST_HEAD(&r->ev_node);
	INIT_LIST_HEAD(&r->cf_node);
	if (!pin_region_watched(t, r))
		return 0;
	ret = pin_watch_start(&r->watch, pin_region_changed, t->mm, start, len);
	if (ret)
		return ret;
	if (pin_watch_active(&r->watch))
		pin_tracker_count(t, PIN_COUNTER_NOTIFIERS, 1);
	return 0;
}

/*
 * Stop watching @r and forget its pending changes. Sleeps. ev_lock is
 * taken even when @r is out of the tracker already: a lookup may still
 * hold it (a VERIFY beside pin_tracker_abort() of a region held busy) and
 * be deciding @diverged under that lock; once the watch is stopped, such a
 * look decides nothing (pin_watch_retry()), so the reset here is the last
 * word and the counters stay in step.
 */
static void pin_region_unwatch(struct pin_tracker *t, struct pin_region *r)
{
	if (!pin_watch_active(&r->watch))
		return;
	/* Waits for callbacks running on other CPUs. */
	pin_watch_stop(&r->watch);
	pin_tracker_count(t, PIN_COUNTER_NOTIFIERS, -1);
	spin_lock(&t->ev_lock);
	pin_list_del(t, &r->ev_node);
	pin_list_del(t, &r->cf_node);
	r->suspect = false;
	pin_region_set_diverged(t, r, false);
	spin_unlock(&t->ev_lock);
}

/*
 * @r is getting its handle: from now on its changes are queued for readers,
 * starting with those seen while it was being pinned. Called under xa_lock
 * of @t's regions, in the same critical section that inserts @r: once that
 * lock is dropped another thread may unpin and free @r. Returns whether
 * readers must be woken (the caller does that after unlocking).
 */
static bool pin_region_publish_changes(struct pin_tracker *t,
				       struct pin_region *r)
{
	bool wake = false;

	if (!pin_region_watched(t, r)) {
		WRITE_ONCE(r->published, true);
		return false;
	}
	spin_lock(&t->ev_lock);
	WRITE_ONCE(r->published, true);
	if (r->ev_kinds) {
		list_add_tail(&r->ev_node, &t->ev_list);
		wake = true;
	}
	/* pin_region_settle() could not look: the work will. */
	if (r->suspect)
		pin_region_queue_confirm(t, r);
	spin_unlock(&t->ev_lock);
	return wake;
}

/**
 * pin_change_is_exclusive() - is this kind of change device-exclusive access?
 * @event: an &enum mmu_notifier_event value (a bit of &pin_change.kinds)
 *
 * The kernels differ (pin_compat.h): the caller need not know how.
 *
 * Context: any.
 * Return: true if @event is MMU_NOTIFY_EXCLUSIVE; always false on kernels
 * without it.
 */
bool pin_change_is_exclusive(unsigned int event)
{
	return compat_mmu_notify_is_exclusive(event);
}

/**
 * pin_tracker_has_changes() - is a change of a region's mapping pending?
 * @t: the tracker
 *
 * Context: process context (the tracker's locks are taken with softirqs
 * enabled).
 * Return: true if pin_tracker_pop_change() would return one.
 */
bool pin_tracker_has_changes(struct pin_tracker *t)
{
	bool ret;

	spin_lock(&t->ev_lock);
	ret = !list_empty(&t->ev_list);
	spin_unlock(&t->ev_lock);
	return ret;
}

/**
 * pin_tracker_pop_change() - dequeue the oldest pending change
 * @t: the tracker
 * @c: filled with the region's handle and its accumulated changes
 *
 * Each region has at most one pending record: changes seen while it is
 * queued are merged into it (kinds or'ed, ranges joined), so the queue
 * never holds more records than the tracker holds regions.
 *
 * Context: process context (the tracker's locks are taken with softirqs
 * enabled).
 * Return: true if @c was filled in, false if nothing was pending.
 */
bool pin_tracker_pop_change(struct pin_tracker *t, struct pin_change *c)
{
	struct pin_region *r;

	spin_lock(&t->ev_lock);
	r = list_first_entry_or_null(&t->ev_list, struct pin_region, ev_node);
	if (r) {
		list_del_init(&r->ev_node);
		c->handle = r->handle;
		c->gen = r->gen;
		c->kinds = r->ev_kinds;
		c->start = r->ev_start;
		c->end = r->ev_end;
		WRITE_ONCE(r->ev_kinds, 0);
	}
	spin_unlock(&t->ev_lock);
	return r;
}

/**
 * pin_tracker_requeue_change() - put back a change that could not be
 * delivered
 * @t: the tracker
 * @c: a change returned by pin_tracker_pop_change()
 *
 * Merges @c into its region's pending record and queues it again, unless
 * the region was unpinned in the meantime, or replaced
 * (pin_tracker_replace(): the record was of the region that is gone). A
 * handle replaced 2^32 - 1 times while @c was out comes back to @c's
 * generation: the record then goes to the region of that moment if it is
 * watched, a wrong hint on the owner's own file, nothing worse.
 *
 * Context: process context (the tracker's locks are taken with softirqs
 * enabled).
 */
void pin_tracker_requeue_change(struct pin_tracker *t,
				const struct pin_change *c)
{
	struct pin_region *r;

	xa_lock(&t->regions);
	r = xa_load(&t->regions, c->handle);
	/*
	 * Not if the handle was replaced since (its record went with it),
	 * nor into a region without a watch: the record came from a watched
	 * one, so that is another region (the handles went round), and an
	 * unwatched region is never on @t->ev_list (pin_region_unwatch()
	 * leaves it alone).
	 */
	if (r && r->gen == c->gen && pin_watch_active(&r->watch)) {
		spin_lock(&t->ev_lock);
		if (!r->ev_kinds) {
			r->ev_start = c->start;
			r->ev_end = c->end;
		} else {
			r->ev_start = min(r->ev_start, c->start);
			r->ev_end = max(r->ev_end, c->end);
		}
		WRITE_ONCE(r->ev_kinds, r->ev_kinds | c->kinds);
		if (list_empty(&r->ev_node))
			list_add(&r->ev_node, &t->ev_list);
		spin_unlock(&t->ev_lock);
	}
	xa_unlock(&t->regions);
}

/*
 * Handles are handed out in order (going round only after U32_MAX), so a
 * region pinned and unpinned over and over sits alone in its part of the
 * xarray: each insert would allocate
 * the nodes down to its index and each erase free them again through RCU,
 * a third of what a 4 KiB pin + unpin cost on top of the GUP calls. So an
 * unpinned handle from the block of %PIN_HANDLE_BLOCK handles that new ones
 * still come from leaves a zero entry (xa_load() and xa_for_each() skip it;
 * the node stays), and those are erased once the handles have moved on to
 * the next block.
 */
#define PIN_HANDLE_BLOCK	XA_CHUNK_SIZE

static bool pin_handle_in_current_block(struct pin_tracker *t, u32 handle)
{
	return handle / PIN_HANDLE_BLOCK == t->next_handle / PIN_HANDLE_BLOCK;
}

/*
 * @r has just been taken out of the xarray: it queues no more changes and
 * its pending record is dropped. Under xa_lock, as its removal.
 */
static void pin_region_unpublish(struct pin_tracker *t, struct pin_region *r)
{
	if (!pin_region_watched(t, r)) {
		WRITE_ONCE(r->published, false);
		return;
	}
	spin_lock(&t->ev_lock);
	WRITE_ONCE(r->published, false);
	pin_list_del(t, &r->ev_node);
	WRITE_ONCE(r->ev_kinds, 0);
	pin_list_del(t, &r->cf_node);
	r->suspect = false;
	spin_unlock(&t->ev_lock);
}

/*
 * Release @r, just taken out of the xarray, once the lookups still using
 * it are done: the caller learns that the pages are unpinned and the
 * charge returned. Those lookups are short (in pinmgr, the tracker's first
 * user, single ioctls); a fatal signal stops the wait and leaves the
 * release to the last of them.
 */
static int pin_tracker_release_removed(struct pin_tracker *t,
				       struct pin_region *r)
{
	int ret;

	ret = wait_event_killable(t->users_wait, refcount_read(&r->ref) == 1);
	pin_tracker_put(t, r);
	return ret;
}

/*
 * Erase the zero entries of block @block, in one walk of its node (the
 * advanced API sees zero entries; erasing the last one frees the node).
 * Under xa_lock.
 */
static void pin_tracker_sweep_block(struct pin_tracker *t, u32 block)
{
	XA_STATE(xas, &t->regions, (unsigned long)block * PIN_HANDLE_BLOCK);
	void *entry;

	xas_for_each(&xas, entry,
		     (unsigned long)block * PIN_HANDLE_BLOCK + PIN_HANDLE_BLOCK - 1)
		if (xa_is_zero(entry))
			xas_store(&xas, NULL);
}

/*
 * Store @r at the first free handle from @t->next_handle on, going round
 * to 1 after U32_MAX, and move next_handle past it; *@block is the block
 * next_handle was in. Like __xa_alloc_cyclic(), except that when xa_lock
 * is dropped to allocate a node, the search starts again from the
 * next_handle of that moment (another thread may have moved it, and
 * unpinned handles behind it), and an allocation failure is not retried
 * from 1: a handle comes back only after all others were handed out.
 * Called and returns with xa_lock held; from the store on, it stays held.
 */
static int pin_tracker_alloc_handle(struct pin_tracker *t,
				    struct pin_region *r, u32 *id, u32 *block)
{
	XA_STATE(xas, &t->regions, 0);
	bool allocated;
	u32 from;
	int ret;

	for (;;) {
		from = max(t->next_handle, 1U);
		*block = t->next_handle / PIN_HANDLE_BLOCK;
		xas_set(&xas, from);
		xas_find_marked(&xas, U32_MAX, XA_FREE_MARK);
		if (xas.xa_node == XAS_RESTART && from > 1) {
			xas_set(&xas, 1);
			xas_find_marked(&xas, from - 1, XA_FREE_MARK);
		}
		if (xas.xa_node == XAS_RESTART)
			xas_set_err(&xas, -ENOSPC);	/* all in use */
		else
			*id = xas.xa_index;
		xas_store(&xas, r);
		xas_clear_mark(&xas, XA_FREE_MARK);
		if (xas_error(&xas) != -ENOMEM)
			break;
		/* A node could not be had without sleeping: allocate one. */
		xa_unlock(&t->regions);
		allocated = xas_nomem(&xas, PIN_GFP_ACCOUNT);
		xa_lock(&t->regions);
		if (!allocated)
			return -ENOMEM;
	}
	ret = xas_error(&xas);
	/* Not -ENOMEM here: frees a node allocated but not used, no more. */
	xas_nomem(&xas, 0);
	if (ret)
		return ret;
	t->next_handle = *id + 1;	/* 0 after U32_MAX: from 1 again */
	return 0;
}

/*
 * Count @r as held, give it the next handle and make it reachable. This is
 * the last step of a pin that touches @r: from the moment xa_lock is
 * dropped, another thread may look @r up by its (guessable) handle, unpin
 * and free it, so everything publication involves happens under that lock.
 */
static int pin_tracker_publish(struct pin_tracker *t, struct pin_region *r,
			       u32 *handle)
{
	bool wake = false;
	u32 id, block;
	int ret;

	pin_tracker_hold(t, r, 1);
	xa_lock(&t->regions);
	ret = pin_tracker_alloc_handle(t, r, &id, &block);
	if (!ret) {
		/* Read by the change callback's tracepoint, unlocked. */
		WRITE_ONCE(r->handle, id);
		wake = pin_region_publish_changes(t, r);
		if (t->next_handle / PIN_HANDLE_BLOCK != block)
			pin_tracker_sweep_block(t, block);
	}
	xa_unlock(&t->regions);
	if (ret) {
		pin_tracker_hold(t, r, -1);
		return ret;
	}
	/* @r may be gone already: only @t and @id from here on. */
	if (wake)
		wake_up_interruptible_poll(&t->ev_wait, EPOLLIN | EPOLLRDNORM);
	*handle = id;
	return 0;
}

/*
 * Changes seen while @r was being pinned: GUP's own work raises them too
 * (breaking COW, migrating a page out of ZONE_MOVABLE, before the page is
 * pinned), and those leave every pinned page backing its address. Keep
 * them as a pending change only if some pinned page no longer does, as
 * pin_region_verify() would say, which also settles whether @r diverged; if that cannot
 * be found out, keep them, and @r stays suspect for the confirmation work.
 */
static void pin_region_settle(struct pin_region *r)
{
	u64 differ, first;

	/*
	 * Read without ev_lock: a change this misses is not lost, since
	 * pin_region_publish_changes() looks at @r's record under the lock
	 * (and a change that is not an unmap left @r suspect).
	 */
	if (READ_ONCE(r->ev_kinds))
		pin_region_look(r, true, &differ, &first);
}

/*
 * The pages [@addr, @addr + @length) touches: *@start, the first one's
 * address, and *@total of them, at most @t's limit.
 */
static int pin_range_check(struct pin_tracker *t, u64 addr, u64 length,
			   unsigned long *start, unsigned long *total)
{
	if (!length)
		return -EINVAL;
	if (addr + length < addr)
		return -EOVERFLOW;
	if (addr + length > TASK_SIZE)
		return -EFAULT;
	*start = addr & PAGE_MASK;
	*total = (PAGE_ALIGN(addr + length) - *start) >> PAGE_SHIFT;
	if (*total > t->max_pages)
		return -E2BIG;
	return 0;
}

/* Room for one more region of @npages pages: its slot and its charge. */
static int pin_tracker_reserve(struct pin_tracker *t, unsigned long npages)
{
	int ret = -ENOSPC;

	if ((unsigned int)atomic_inc_return(&t->nr_regions) <= t->max_regions) {
		ret = pin_tracker_charge(t, npages);
		if (!ret)
			return 0;
	}
	atomic_dec(&t->nr_regions);
	return ret;
}

static void pin_tracker_unreserve(struct pin_tracker *t, unsigned long npages)
{
	pin_tracker_uncharge(t, npages);
	atomic_dec(&t->nr_regions);
}

/*
 * Spare regions in use: none on a KASAN kernel, where a region must go
 * back to the slab allocator when released, so that a use after its
 * release is caught (the debug suite relies on that).
 */
#define PIN_SPARES	(IS_ENABLED(CONFIG_KASAN) ? 0 : PIN_SPARE_REGIONS)

/*
 * A zeroed region: a spare one if there is (see &pin_tracker.spare), else
 * a new one.
 */
static struct pin_region *pin_region_alloc(struct pin_tracker *t, u64 addr,
					   u64 length, bool writable)
{
	struct pin_region *r = NULL;
	unsigned int i;

	for (i = 0; i < PIN_SPARES && !r; i++)
		if (READ_ONCE(t->spare[i]))
			r = xchg(&t->spare[i], NULL);
	if (r)
		memset(r, 0, sizeof(*r));
	else
		r = kzalloc(sizeof(*r), PIN_GFP_ACCOUNT);
	if (!r)
		return NULL;
	refcount_set(&r->ref, 1);
	r->addr = addr;
	r->length = length;
	r->writable = writable;
	return r;
}

/*
 * Free @r, whose runs are freed, or keep it for a later pin in an empty
 * spare slot.
 */
static void pin_region_free(struct pin_tracker *t, struct pin_region *r)
{
	unsigned int i;

	for (i = 0; i < PIN_SPARES; i++)
		if (!READ_ONCE(t->spare[i]) && !cmpxchg(&t->spare[i], NULL, r))
			return;
	kfree(r);
}

/*
 * The most a page's reference count may reach with our pins in it. Every
 * FOLL_PIN of a small page adds GUP_PIN_COUNTING_BIAS (1024) to it, so one
 * page mapped at many addresses and pinned again and again would pass
 * INT_MAX after about two million pins, and GUP only warns once the count
 * is negative. A batch is checked only once pinned, so the batches
 * between their GUP and their check add to the count too: at most
 * PIN_BATCHES_IN_FLIGHT of them, system-wide, each at most PIN_BATCH *
 * 1024 = 2^19, 2^29 in all, which keeps INT_MAX out of reach of our pins
 * however many tasks pin at once and however long they are preempted.
 */
#define PIN_REF_LIMIT		(INT_MAX / 2)
#define PIN_BATCHES_IN_FLIGHT	1024

static atomic_t pin_batches = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(pin_batches_wait);

/*
 * A batch may be pinned: one of PIN_BATCHES_IN_FLIGHT. Waiters are
 * exclusive, so a batch's end wakes one of them, not thousands; one that
 * a fatal signal takes away passes its wakeup on.
 */
static int pin_batch_begin(void)
{
	if (likely(atomic_add_unless(&pin_batches, 1, PIN_BATCHES_IN_FLIGHT)))
		return 0;
	return wait_event_killable_exclusive(pin_batches_wait,
					     atomic_add_unless(&pin_batches, 1,
							       PIN_BATCHES_IN_FLIGHT));
}

/* The batch's pins are checked (and kept) or dropped. */
static void pin_batch_end(void)
{
	atomic_dec(&pin_batches);
	if (wq_has_sleeper(&pin_batches_wait))
		wake_up(&pin_batches_wait);
}

/* Are the reference counts of @pages, just pinned, within PIN_REF_LIMIT? */
static bool pin_pages_refs_ok(struct page **pages, long nr)
{
	struct folio *folio, *last = NULL;
	long i;

	for (i = 0; i < nr; i++) {
		folio = page_folio(pages[i]);
		if (folio == last)
			continue;
		if (folio_ref_count(folio) > PIN_REF_LIMIT)
			return false;
		last = folio;
	}
	return true;
}

/*
 * Pin @total pages from @start into @r, a batch (one page of page
 * pointers) at a time: by the lockless walk where it can, else by the
 * careful path, which checks the policy for the rest of the range once.
 * On failure the pages pinned so far stay in @r for the caller to unpin.
 */
static int pin_region_fill(struct pin_tracker *t, struct pin_region *r,
			   unsigned long start, unsigned long total)
{
	unsigned long end = start + (total << PAGE_SHIFT);
	unsigned long cur, nr, added, cap = 1;
	struct page *small[PIN_SMALL];
	struct page **batch = small;
	bool policy_checked = false;
	long got;
	int ret = 0;

	if (total > PIN_SMALL) {
		batch = kmalloc(PAGE_SIZE, GFP_KERNEL);
		if (!batch)
			return -ENOMEM;
	}
	/* Room for a run per page from the start: the size tells nothing. */
	if (t->hide_layout && total > 1) {
		r->more_runs = kvmalloc_array(total - 1, sizeof(*r->more_runs),
					      PIN_GFP_RUNS);
		if (!r->more_runs) {
			ret = -ENOMEM;
			goto out_free_batch;
		}
		cap = total;
	}
	while (r->npages < total) {
		cur = start + (r->npages << PAGE_SHIFT);
		nr = min(total - r->npages, PIN_BATCH);
		if (pin_batch_begin()) {
			ret = -EINTR;	/* a fatal signal */
			break;
		}
		got = pin_pages_fast(cur, nr, r->writable, batch);
		if (!got) {
			got = pin_pages_careful(t->mm, cur, end, nr,
						r->writable,
						r->writable && !policy_checked,
						batch);
			if (got < 0) {
				pin_batch_end();
				ret = got;
				break;
			}
			policy_checked = true;
		}
		if (!pin_pages_refs_ok(batch, got)) {
			unpin_user_pages(batch, got);
			pin_batch_end();
			ret = -EOVERFLOW;
			break;
		}
		pin_batch_end();
		ret = pin_region_add_pages(r, &cap, total, batch, got, &added);
		if (ret) {
			unpin_user_pages(batch + added, got - added);
			break;
		}
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	if (!ret)
		pin_region_shrink_runs(r, cap, t->hide_layout);
out_free_batch:
	if (batch != small)
		kfree(batch);
	return ret;
}

/*
 * Pin the pages [@addr, @addr + @length) touches into a new region, watched
 * and charged but not published: a pin up to the moment it gets a handle.
 * A failure after the argument checks counts as a failed pin.
 */
static struct pin_region *pin_region_make(struct pin_tracker *t, u64 addr,
					  u64 length, unsigned int flags)
{
	unsigned long start, total;
	struct pin_region *r;
	int ret;

	ret = pin_range_check(t, addr, length, &start, &total);
	if (ret)
		return ERR_PTR(ret);
	ret = pin_tracker_reserve(t, total);
	if (ret)
		goto out_fail;
	r = pin_region_alloc(t, addr, length, flags & PIN_TRACKER_WRITE);
	if (!r) {
		ret = -ENOMEM;
		goto out_unreserve;
	}
	r->unwatched = flags & PIN_TRACKER_UNWATCHED;
	ret = pin_region_watch(t, r, start, total << PAGE_SHIFT);
	if (ret)
		goto out_free_region;
	ret = pin_region_fill(t, r, start, total);
	if (ret)
		goto out_unpin;
	pin_region_settle(r);
	return r;

out_unpin:
	/* Nothing was written through these pins: no dirtying. */
	pin_region_unpin(r, false);
	pin_region_free_runs(r);
	pin_region_unwatch(t, r);
out_free_region:
	pin_region_free(t, r);
out_unreserve:
	pin_tracker_unreserve(t, total);
out_fail:
	pin_tracker_event(t, PIN_EVENT_FAIL);
	return ERR_PTR(ret);
}

/*
 * Undo pin_region_make() of @r, which was never published (or was taken
 * back before anyone could look it up): a failed pin.
 */
static void pin_region_unmake(struct pin_tracker *t, struct pin_region *r)
{
	unsigned long total = r->npages;

	pin_region_unpin(r, false);
	pin_region_free_runs(r);
	pin_region_unwatch(t, r);
	pin_region_free(t, r);
	pin_tracker_unreserve(t, total);
	pin_tracker_event(t, PIN_EVENT_FAIL);
}

/**
 * pin_tracker_pin() - pin a user range long-term and track it
 * @t: the tracker
 * @addr: first byte of the range in current->mm, which must be @t's mm
 * @length: length of the range in bytes
 * @flags: &enum pin_tracker_flags
 * @handle: set to the new region's handle on success
 * @npages: set to the number of pages pinned on success
 *
 * Pins every page that [@addr, @addr + @length) touches. All or nothing:
 * on failure nothing stays pinned and nothing stays charged.
 *
 * Context: process context of @t's mm, may sleep.
 * Return: 0 on success; -EACCES (and a warning: a bug of the caller) if
 * current->mm is not @t's mm; -EINVAL if @length is 0; -EOVERFLOW if the
 * range wraps, or if a page's reference count would come near overflowing
 * (see PIN_REF_LIMIT); -EFAULT if it leaves the user address space or GUP finds a
 * page it cannot pin; -E2BIG beyond the tracker's page limit; -ENOSPC
 * beyond its region limit; -ENOMEM past RLIMIT_MEMLOCK without
 * CAP_IPC_LOCK, or out of memory; -EOPNOTSUPP for a writable pin of file
 * pages that are written back; -EINTR on a fatal signal; another negative
 * errno from GUP.
 */
int pin_tracker_pin(struct pin_tracker *t, u64 addr, u64 length,
		    unsigned int flags, u32 *handle, unsigned long *npages)
{
	u64 t0 = pin_trace_clock(pin_trace_enabled(pin));
	unsigned long total;
	struct pin_region *r;
	int ret;

	/* GUP walks current->mm; the charge and the policy are @t's mm's. */
	if (WARN_ON_ONCE(current->mm != t->mm))
		return -EACCES;
	r = pin_region_make(t, addr, length, flags);
	if (IS_ERR(r))
		return PTR_ERR(r);
	total = r->npages;
	ret = pin_tracker_publish(t, r, handle);
	if (ret) {
		pin_region_unmake(t, r);
		return ret;
	}
	/* Published: @r may already be unpinned and freed by another thread. */
	pin_tracker_event(t, PIN_EVENT_PIN);
	pin_trace(pin, *handle, total, length, flags & PIN_TRACKER_WRITE,
		  pin_trace_clock(t0 != 0) - t0);
	*npages = total;
	return 0;
}

/* Unpin and free @r; its accounting is the caller's. */
static void pin_region_destroy(struct pin_tracker *t, struct pin_region *r)
{
	u64 t0;

	pin_region_unwatch(t, r);
	t0 = pin_trace_clock(pin_trace_enabled(release));
	pin_region_unpin(r, r->writable);
	pin_trace(release, r->handle, r->npages, r->length, r->writable,
		  pin_trace_clock(t0 != 0) - t0);
	pin_region_free_runs(r);
	pin_region_free(t, r);
}

/* Give back what @regions regions of @pages pages and @bytes took. */
static void pin_tracker_unaccount(struct pin_tracker *t, long regions,
				  long pages, long bytes)
{
	pin_tracker_uncharge(t, pages);
	pin_counters_hold(&t->counters, -regions, -pages, -bytes);
	if (t->shared)
		pin_counters_hold(t->shared, -regions, -pages, -bytes);
	atomic_sub(regions, &t->nr_regions);
}

static void pin_region_release(struct pin_tracker *t, struct pin_region *r)
{
	long pages = r->npages, bytes = r->metadata_bytes;

	pin_region_destroy(t, r);
	pin_tracker_unaccount(t, 1, pages, bytes);
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

		if (pin_run_pgoff(pin_region_run_at(r, mid)) <= idx)
			lo = mid;
		else
			hi = mid;
	}
	return pfn_to_page(pin_run_pfn(pin_region_run_at(r, lo)) +
			   (idx - pin_run_pgoff(pin_region_run_at(r, lo))));
}

/**
 * pin_lookup_slow() - look up mapped pages where the lockless walk stopped
 * @start: user address of the first page, page aligned, in current->mm
 * @nr_pages: number of pages to look up
 * @pages: array of @nr_pages entries, filled with referenced pages
 *
 * compat_get_user_pages_nofault() stops at every entry that is not plainly
 * present and readable, NUMA-hinting entries included, although the process
 * still reaches the page behind those. This looks again under mmap_lock,
 * where the VMA tells the two apart: a VMA without %VM_READ (mprotect
 * %PROT_NONE) or no VMA at all means the pages differ; in a readable VMA the
 * pages are looked up without faulting and without pinning, following
 * hinting entries. Only the VMA holding @start is looked at; the caller goes
 * on from where this stops.
 *
 * Context: process context of current->mm, mmap_lock not held. May sleep.
 * Return: the number of pages looked up (0 to @nr_pages; each holds a plain
 * reference the caller drops with put_page()), or -EINTR if a fatal signal
 * is pending.
 */
static long pin_lookup_slow(unsigned long start, unsigned long nr_pages,
			    struct page **pages)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	long got = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = vma_lookup(mm, start);
	/* Hugetlb: NUMA balancing skips it, and 6.1's GUP faults it in. */
	if (vma && (vma->vm_flags & VM_READ) && !is_vm_hugetlb_page(vma)) {
		nr_pages = min(nr_pages, (vma->vm_end - start) >> PAGE_SHIFT);
		got = compat_get_user_pages_vma_nofault(start, nr_pages, pages);
	}
	mmap_read_unlock(mm);
	return got;
}

/*
 * Compare pages [@idx, @end) of @r with what current->mm maps at their
 * addresses now: see pin_region_verify(). With @stop_unpublished, give up
 * (returning what was found so far) once @r has been unpinned.
 */
static int pin_region_compare(struct pin_region *r, unsigned long idx,
			      unsigned long end, bool stop_unpublished,
			      u64 *differ, u64 *first)
{
	unsigned long start = r->addr & PAGE_MASK;
	struct page **pages;
	long got, slow;
	unsigned long i;
	int n;

	pages = kmalloc_array(PIN_BATCH, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	*differ = 0;
	*first = U64_MAX;
	while (idx < end) {
		if (stop_unpublished && !READ_ONCE(r->published))
			break;
		n = min_t(unsigned long, end - idx, PIN_BATCH);
		got = compat_get_user_pages_nofault(start + idx * PAGE_SIZE, n,
						    pages);
		/*
		 * Stopped short: NUMA hinting, or really differs? The slow
		 * lookup stops at the end of a VMA too, so go on until it
		 * finds nothing at all at the page where it starts.
		 */
		while (got < n) {
			slow = pin_lookup_slow(start + (idx + got) * PAGE_SIZE,
					       n - got, pages + got);
			if (slow < 0) {
				for (i = 0; i < got; i++)
					put_page(pages[i]);
				kfree(pages);
				return slow;
			}
			if (!slow)
				break;
			got += slow;
		}
		for (i = 0; i < got; i++) {
			if (pages[i] != pin_region_page(r, idx + i)) {
				if (!*differ)
					*first = idx + i;
				(*differ)++;
			}
			put_page(pages[i]);
		}
		idx += got;
		if (got < n) {
			/* Not mapped, or not readable: differs; go on after it. */
			if (!*differ)
				*first = idx;
			(*differ)++;
			idx++;
		}
		if (fatal_signal_pending(current)) {
			kfree(pages);
			return -EINTR;
		}
		cond_resched();
	}
	kfree(pages);
	return 0;
}

/*
 * Wait until no page migration is trying to move @r's pages [@idx, @end).
 * Migration (compaction, move_pages(), NUMA placement) replaces a page's
 * entries with migration entries, an invalidation like any other; then it
 * finds the page pinned (its count is raised) and puts the entries back,
 * with no invalidation. Both happen with the folio locked, so taking and
 * dropping each pinned folio's lock waits for such an attempt, and the
 * page tables show the page again.
 */
static void pin_region_wait_migration(struct pin_region *r, unsigned long idx,
				      unsigned long end)
{
	struct folio *folio, *prev = NULL;
	unsigned long i;

	for (i = idx; i < end; i++) {
		folio = page_folio(pin_region_page(r, i));
		if (folio == prev)
			continue;
		prev = folio;
		folio_lock(folio);
		folio_unlock(folio);
		cond_resched();
	}
}

/*
 * Compare pages [@idx, @end) of @r once the changes under way are complete:
 * if some page seems to differ, it may be a migration attempt's entry, gone
 * once the attempt has given up (pin_region_wait_migration()): look again.
 */
static int pin_region_compare_settled(struct pin_region *r, unsigned long idx,
				      unsigned long end, bool stop_unpublished,
				      u64 *differ, u64 *first)
{
	int ret;

	ret = pin_region_compare(r, idx, end, stop_unpublished, differ, first);
	if (ret || !*differ)
		return ret;
	pin_region_wait_migration(r, idx, end);
	return pin_region_compare(r, idx, end, stop_unpublished, differ, first);
}

/*
 * Compare all of @r's pages with what they map once the changes under way
 * are complete (pin_watch_begin()). If no change began during the walk,
 * the answer decides: @r is diverged iff a page differs, and no longer
 * suspect; with @settle, a clean answer also drops the pending record
 * (changes seen while @r was being pinned). Otherwise the marks and the
 * record are left as they are, for the confirmation work.
 */
static int pin_region_look(struct pin_region *r, bool settle, u64 *differ,
			   u64 *first)
{
	struct pin_tracker *t = r->tracker;
	unsigned long wseq;
	int ret;

	wseq = pin_watch_begin(&r->watch);
	ret = pin_region_compare_settled(r, 0, r->npages, false, differ, first);
	if (ret)
		return ret;
	spin_lock(&t->ev_lock);
	if (!pin_watch_retry(&r->watch, wseq)) {
		pin_region_set_diverged(t, r, *differ);
		r->suspect = false;
		list_del_init(&r->cf_node);
		r->looks++;
		if (settle && !*differ)
			WRITE_ONCE(r->ev_kinds, 0);
	}
	spin_unlock(&t->ev_lock);
	return 0;
}

/**
 * pin_region_verify() - compare a region's pins with what its range maps now
 * @r: the region
 * @differ: set to the number of pages of @r whose address, in the current
 *	process's page tables, does not map the pinned page readable
 *	(unmapped, %PROT_NONE, swapped out or another page). A NUMA-hinting
 *	entry in a readable VMA still maps it: the process's next access
 *	takes a hinting fault and finds the same page.
 * @first: set to the page index of the first such page, or U64_MAX if none
 *
 * Looks at the page tables of current->mm over the region's original range,
 * page by page, without faulting anything in and without taking pins: a
 * plain reference is taken on each mapped page for the comparison and
 * dropped again. The lockless walk does most of it; where it stops,
 * pin_lookup_slow() looks again under mmap_lock. A watched region's walk
 * starts once the changes of its range under way are complete (waiting for
 * them, uninterruptibly); the answer is a snapshot: the mapping may change
 * as soon as this returns. Unless a change began during the walk, a watched
 * region is diverged after this if and only if @differ is not zero.
 *
 * Context: process context, current->mm being the mm @r was pinned from;
 * the caller holds a reference on @r. May sleep.
 * Return: 0, -ENOMEM, -EINTR if a fatal signal is pending, or -EACCES (and
 * a warning: a bug of the caller) from another mm.
 */
int pin_region_verify(struct pin_region *r, u64 *differ, u64 *first)
{
	/* The page tables looked at are current->mm's. */
	if (WARN_ON_ONCE(current->mm != r->tracker->mm))
		return -EACCES;
	return pin_region_look(r, false, differ, first);
}

/*
 * Take the oldest suspect region off @t->cf_list, with a reference, and
 * what is to be looked at: pages [@from, @to) and the change count @seq.
 */
static struct pin_region *pin_tracker_next_suspect(struct pin_tracker *t,
						   u64 *start, u64 *end,
						   u32 *looks)
{
	struct pin_region *r;
	bool wake = false;

	spin_lock(&t->ev_lock);
	while ((r = list_first_entry_or_null(&t->cf_list, struct pin_region,
					     cf_node))) {
		list_del_init(&r->cf_node);
		r->suspect = false;
		/* Not yet released: its unpublish took it off the list first. */
		if (!t->dying && refcount_inc_not_zero(&r->ref))
			break;
	}
	if (r) {
		*start = r->cf_start;
		*end = r->cf_end;
		*looks = r->looks;
	} else if (t->cf_done != t->cf_queued) {
		/* Everything queued so far has been looked at. */
		t->cf_done = t->cf_queued;
		wake = true;
	}
	spin_unlock(&t->ev_lock);
	if (wake)
		wake_up_all(&t->cf_wait);
	return r;
}

/*
 * Did the suspect region @r diverge? Once the changes under way are
 * complete, compare its pages in [@start, @end) with what they map now,
 * and mark @r diverged if one no longer backs its address. Clean pages say
 * nothing about the rest of @r, so this never clears the mark. If a change
 * began during the walk, nothing is decided: that change queued @r again,
 * and its look must cover these pages too. If a verify decided meanwhile
 * (@looks moved), it had the last word. If the comparison cannot be made,
 * @r counts as diverged.
 */
static void pin_region_confirm(struct pin_tracker *t, struct pin_region *r,
			       u64 start, u64 end, u32 looks)
{
	u64 base = r->addr & PAGE_MASK, differ, first;
	unsigned long wseq;
	int ret;

	wseq = pin_watch_begin(&r->watch);
	ret = pin_region_compare_settled(r, (start - base) >> PAGE_SHIFT,
					 min_t(unsigned long, r->npages,
					       DIV_ROUND_UP(end - base,
							    PAGE_SIZE)),
					 true, &differ, &first);
	spin_lock(&t->ev_lock);
	if (!r->published || r->looks != looks) {
		/* Unpinned, or a verify decided: nothing to do. */
	} else if (pin_watch_retry(&r->watch, wseq)) {
		if (r->suspect) {
			r->cf_start = min(r->cf_start, start);
			r->cf_end = max(r->cf_end, end);
		}
	} else if (ret || differ) {
		pin_region_set_diverged(t, r, true);
	}
	spin_unlock(&t->ev_lock);
}

/*
 * @t->cf_work: confirm the suspect regions of @t->cf_list, in @t's mm
 * (taken on with kthread_use_mm(), as an I/O worker acting for a process
 * does), so that the comparison is the one pin_region_verify() makes. Once the mm has
 * no users any more, there is nothing left to compare with: the notifier's
 * release has marked every region diverged.
 */
static void pin_tracker_confirm_work(struct work_struct *work)
{
	struct pin_tracker *t = container_of(work, struct pin_tracker,
					     cf_work);
	bool live = mmget_not_zero(t->mm);
	u64 start, end;
	struct pin_region *r;
	u32 looks;

	if (live)
		kthread_use_mm(t->mm);
	while ((r = pin_tracker_next_suspect(t, &start, &end, &looks))) {
		if (live)
			pin_region_confirm(t, r, start, end, looks);
		pin_tracker_put(t, r);
		cond_resched();
	}
	if (live) {
		kthread_unuse_mm(t->mm);
		mmput(t->mm);
	}
}

/* Has the confirmation work got through the first @target queued? */
static bool pin_tracker_confirmed(struct pin_tracker *t, u64 target)
{
	bool ret;

	spin_lock(&t->ev_lock);
	ret = t->cf_done - target < (u64)S64_MAX;	/* cf_done >= target */
	spin_unlock(&t->ev_lock);
	return ret;
}

/**
 * pin_tracker_confirm_changes() - wait for the looks at suspect regions
 * @t: the tracker
 *
 * Waits until every region that became suspect before the call has been
 * confirmed diverged or not, so that the counters read next say what the
 * page tables said after those changes. The confirmation work may itself
 * wait for changes of the mm under way elsewhere (pin_watch_begin()); a
 * fatal signal ends the wait.
 *
 * Context: may sleep; no mmap_lock held.
 * Return: 0, or -ERESTARTSYS if a fatal signal is pending.
 */
int pin_tracker_confirm_changes(struct pin_tracker *t)
{
	u64 target;

	spin_lock(&t->ev_lock);
	target = t->cf_queued;
	spin_unlock(&t->ev_lock);
	return wait_event_killable(t->cf_wait, pin_tracker_confirmed(t, target));
}

/**
 * pin_tracker_get() - look up a region and take a reference on it
 * @t: the tracker
 * @handle: the region's handle
 *
 * The region stays valid, and pinned, until pin_tracker_put(), even if it is
 * unpinned meanwhile.
 *
 * Context: process context: the tracker's locks are taken with softirqs
 * enabled (a get from a timer or softirq can deadlock), and the matching
 * pin_tracker_put() may sleep.
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
 * Dropping the last reference of an unpinned region releases its pages
 * (after a pin_tracker_unpin() cut short by a fatal signal); otherwise an
 * unpin waiting for this lookup is woken.
 *
 * Context: may sleep.
 */
void pin_tracker_put(struct pin_tracker *t, struct pin_region *r)
{
	if (refcount_dec_and_test(&r->ref))
		pin_region_release(t, r);
	else if (wq_has_sleeper(&t->users_wait))
		wake_up_all(&t->users_wait);	/* an unpin may wait for us */
}

/* One more busy hold of @r, and its reference. Under xa_lock. */
static void pin_region_hold_busy(struct pin_tracker *t, struct pin_region *r)
{
	refcount_inc(&r->ref);
	r->busy++;
	WRITE_ONCE(t->busy_holds, t->busy_holds + 1);
}

/**
 * pin_tracker_get_busy() - look up a region and hold it busy
 * @t: the tracker
 * @handle: the region's handle
 *
 * Like pin_tracker_get(), for a holder that keeps the pages in use for long
 * (a dma-buf made of them, a device mapping): until pin_tracker_put_busy(),
 * unpinning the region fails with -EBUSY instead of waiting for the holder.
 * The tracker itself must outlive the hold: an owner that goes away while
 * holds remain calls pin_tracker_close(), and pin_tracker_destroy() only
 * once every hold is dropped.
 *
 * Context: process context, as pin_tracker_get().
 * Return: the region, or NULL if @handle is not in use.
 */
struct pin_region *pin_tracker_get_busy(struct pin_tracker *t, u32 handle)
{
	struct pin_region *r;

	xa_lock(&t->regions);
	r = xa_load(&t->regions, handle);
	if (r)
		pin_region_hold_busy(t, r);
	xa_unlock(&t->regions);
	return r;
}

/**
 * pin_tracker_put_busy() - drop a hold taken by pin_tracker_get_busy()
 * @t: the tracker the region came from
 * @r: the region
 *
 * After pin_tracker_close(), or pin_tracker_abort() of the region, the
 * last hold of a region unpins it: at once, or, if lookups
 * (pin_tracker_get()) still use the region, when the last of them ends.
 * It does not wait for them: the holder may be another process (the
 * receiver of a dma-buf), and a lookup may be parked for as long as its
 * caller likes (a copy to user memory behind userfaultfd).
 *
 * Context: may sleep.
 */
void pin_tracker_put_busy(struct pin_tracker *t, struct pin_region *r)
{
	XA_STATE(xas, &t->regions, r->handle);
	bool out = false;

	xa_lock(&t->regions);
	WRITE_ONCE(t->busy_holds, t->busy_holds - 1);
	if (!--r->busy && r->orphan) {
		out = true;	/* taken out by pin_tracker_abort() */
	} else if (!r->busy && t->closed && xas_load(&xas) == r) {
		xas_store(&xas, NULL);
		pin_region_unpublish(t, r);
		out = true;
	}
	xa_unlock(&t->regions);
	pin_tracker_put(t, r);
	/* Taken out: the xarray's reference is ours to drop. */
	if (out)
		pin_tracker_put(t, r);
}

/**
 * pin_tracker_close() - unpin every region but those held busy, for good
 * @t: the tracker
 *
 * For an owner that goes away while regions are held busy
 * (pin_tracker_get_busy(): a dma-buf made of them lives on): every other
 * region is unpinned now, and each busy one by pin_tracker_put_busy() when
 * its last hold is dropped. The busy ones are no longer watched: nobody is
 * left to hear of their changes. Afterwards only the holders may use @t,
 * and pin_tracker_destroy() comes once they are all gone.
 *
 * Context: may sleep.
 */
void pin_tracker_close(struct pin_tracker *t)
{
	XA_STATE(xas, &t->regions, 0);
	unsigned long index = 0;
	struct pin_region *r;
	bool busy;
	void *entry;

	for (;;) {
		r = NULL;
		xa_lock(&t->regions);
		t->closed = true;
		xas_set(&xas, index);
		xas_for_each(&xas, entry, ULONG_MAX) {
			if (xa_is_zero(entry))
				continue;
			r = entry;
			index = xas.xa_index + 1;
			busy = r->busy;
			if (busy) {
				if (!r->published)
					continue;	/* seen already */
				/* A hold of our own, for the unwatch below. */
				pin_region_hold_busy(t, r);
			} else {
				xas_store(&xas, NULL);
			}
			pin_region_unpublish(t, r);
			break;
		}
		if (!entry)
			r = NULL;
		xa_unlock(&t->regions);
		if (!r)
			break;
		if (busy) {
			/* No other unwatch while our hold keeps @r here. */
			pin_region_unwatch(t, r);
			pin_tracker_put_busy(t, r);
		} else {
			pin_tracker_release_removed(t, r);
		}
	}
}

/**
 * pin_tracker_unpin() - unpin a region
 * @t: the tracker
 * @handle: the region's handle
 *
 * Takes the region out of the tracker at once: from then on lookups of
 * @handle fail, no change of its mapping is queued and a pending one is
 * dropped. Then waits for the lookups (pin_tracker_get()) still using it
 * and releases the pages (dirtied first if the pin was writable) and the
 * charge, so that both are gone when this returns 0.
 *
 * Context: may sleep.
 * Return: 0 on success, -ENOENT if @handle is not in use, -EBUSY if it is
 * held busy (pin_tracker_get_busy()), -ERESTARTSYS if
 * a fatal signal cut the wait short (the caller is being killed; the last
 * lookup then releases the region).
 */
int pin_tracker_unpin(struct pin_tracker *t, u32 handle)
{
	return pin_tracker_unpin_vec(t, &handle, 1);
}

/* Whether xarray entry @entry is a region that may be taken out now. */
static int pin_entry_takeable(struct pin_region *entry)
{
	if (!entry || xa_is_zero(entry))
		return -ENOENT;
	return entry->busy ? -EBUSY : 0;
}

/*
 * Take the regions of @handles out of the xarray, all or none (-ENOENT if
 * a handle is not in use or is listed twice, -EBUSY if a region is held
 * busy), into @rs, under xa_lock. Each entry is replaced by a zero entry,
 * which keeps its node, so that putting the regions back when a later
 * handle fails, or storing others in their place, allocates nothing and
 * cannot fail.
 */
static int pin_tracker_take_vec(struct pin_tracker *t, const u32 *handles,
				unsigned int n, struct pin_region **rs)
{
	XA_STATE(xas, &t->regions, 0);
	unsigned int i, j;
	int ret = 0;

	for (i = 0; i < n; i++) {
		xas_set(&xas, handles[i]);
		rs[i] = xas_load(&xas);
		ret = pin_entry_takeable(rs[i]);
		if (ret)
			break;
		xas_store(&xas, XA_ZERO_ENTRY);
	}
	if (ret) {
		for (j = 0; j < i; j++) {
			xas_set(&xas, handles[j]);
			xas_store(&xas, rs[j]);
		}
	}
	return ret;
}

/* pin_tracker_take_vec(), then the handles are free (see PIN_HANDLE_BLOCK). */
static int pin_tracker_remove_vec(struct pin_tracker *t, const u32 *handles,
				  unsigned int n, struct pin_region **rs)
{
	XA_STATE(xas, &t->regions, 0);
	unsigned int i;
	int ret;

	xa_lock(&t->regions);
	ret = pin_tracker_take_vec(t, handles, n, rs);
	if (ret) {
		xa_unlock(&t->regions);
		return ret;
	}
	for (i = 0; i < n; i++) {
		if (!pin_handle_in_current_block(t, handles[i])) {
			xas_set(&xas, handles[i]);
			xas_store(&xas, NULL);
		}
		pin_region_unpublish(t, rs[i]);
	}
	xa_unlock(&t->regions);
	return 0;
}

static int pin_handle_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/**
 * pin_tracker_check_handles() - could these regions be unpinned now?
 * @t: the tracker
 * @handles: the handles; sorted in place
 * @n: the number of handles
 *
 * A look without taking anything: another thread may unpin one of the
 * regions right after, or hold it busy, and pin_tracker_unpin_vec() then
 * fails as it would have. For a caller that pins before it unpins these
 * regions, and should fail before it pins anything when one of them cannot
 * be unpinned.
 *
 * Context: any context that may sleep.
 * Return: 0; -ENOENT if a handle is not in use or is listed twice, else
 * -EBUSY if a region is held busy (pin_tracker_get_busy()).
 */
int pin_tracker_check_handles(struct pin_tracker *t, u32 *handles,
			      unsigned int n)
{
	struct pin_region *r;
	unsigned int i;
	int ret = 0;

	if (n > 1)
		sort(handles, n, sizeof(*handles), pin_handle_cmp, NULL);
	for (i = 0; i < n; i++)
		if (i && handles[i] == handles[i - 1])
			return -ENOENT;
	/*
	 * No region held busy (the common case, and the per-I/O one): only
	 * whether each handle is in use, without the lock. A handle found
	 * unused is looked up again under the lock: another call taking
	 * regions out all or none leaves zero entries, which read as unused,
	 * until it puts the regions (or their replacements) back in the same
	 * critical section.
	 */
	if (!READ_ONCE(t->busy_holds)) {
		for (i = 0; i < n; i++)
			if (!xa_load(&t->regions, handles[i]))
				break;
		if (i == n)
			return 0;
	}
	/* @busy is read under xa_lock: a region may be freed once out. */
	xa_lock(&t->regions);
	for (i = 0; i < n; i++) {
		r = xa_load(&t->regions, handles[i]);
		if (!r) {
			ret = -ENOENT;
			break;
		}
		if (r->busy)
			ret = -EBUSY;
	}
	xa_unlock(&t->regions);
	return ret;
}

/*
 * Release the regions @rs of @handles, just taken out, as
 * pin_tracker_unpin() does; @t0 is when the taking out began, for the first
 * region's trace. Returns 0, or -ERESTARTSYS if a fatal signal cut a wait
 * short (the last lookup then releases the region).
 */
static int pin_tracker_release_vec(struct pin_tracker *t, const u32 *handles,
				   struct pin_region **rs, unsigned int n,
				   u64 t0)
{
	unsigned long npages;
	unsigned int i;
	int ret = 0, err;
	bool writable;
	u64 length;

	for (i = 0; i < n; i++) {
		if (i)
			t0 = pin_trace_clock(pin_trace_enabled(unpin));
		/* @rs[i] may be freed by the release: keep what the trace wants. */
		npages = rs[i]->npages;
		length = rs[i]->length;
		writable = rs[i]->writable;
		err = pin_tracker_release_removed(t, rs[i]);
		if (err && !ret)
			ret = err;
		pin_trace(unpin, handles[i], npages, length, writable,
			  pin_trace_clock(t0 != 0) - t0);
	}
	return ret;
}

/**
 * pin_tracker_unpin_vec() - unpin several regions, all or none
 * @t: the tracker
 * @handles: the regions' handles
 * @n: the number of handles
 *
 * Takes every region out of the tracker at once, in one critical section
 * (lookups of any of them fail from then on), or none of them if a handle
 * is not in use or is listed twice. Then releases each as
 * pin_tracker_unpin() does, waiting for the lookups still using it.
 *
 * Context: may sleep.
 * Return: 0 on success (also for @n 0); -ENOENT if a handle is not in use
 * or is listed twice, -EBUSY if a region is held busy (see
 * pin_tracker_get_busy()), or -ENOMEM: nothing was unpinned; -ERESTARTSYS if a
 * fatal signal cut a wait short: every region was taken out, and the last
 * lookup of each releases it.
 */
int pin_tracker_unpin_vec(struct pin_tracker *t, const u32 *handles,
			  unsigned int n)
{
	struct pin_region *one, **rs = &one;
	int ret;
	u64 t0;

	if (!n)
		return 0;
	if (n > 1) {
		rs = kvmalloc_array(n, sizeof(*rs), PIN_GFP_ACCOUNT | __GFP_NOWARN);
		if (!rs)
			return -ENOMEM;
	}
	/* The first region's trace counts the removal, the others' not. */
	t0 = pin_trace_clock(pin_trace_enabled(unpin));
	ret = pin_tracker_remove_vec(t, handles, n, rs);
	if (!ret) {
		pin_tracker_count(t, PIN_COUNTER_UNPINS, n);
		ret = pin_tracker_release_vec(t, handles, rs, n, t0);
	}
	if (rs != &one)
		kvfree(rs);
	return ret;
}

/**
 * pin_tracker_replace() - pin new ranges in the place of regions, all or none
 * @t: the tracker
 * @handles: the handles of the regions to replace
 * @ranges: the new ranges; range i is pinned into a new region that takes
 *	@handles[i] over
 * @n: the number of handles and of ranges
 * @flags: &enum pin_tracker_flags, for every new range
 *
 * For an owner that pins per I/O and keeps a table of handles, as io_uring
 * updates a slot of its registered buffers: a handle goes from its old
 * region to its new one with nothing in between (a lookup finds one or the
 * other, never none). The handles are checked first (as
 * pin_tracker_check_handles() does), then every range is pinned into a
 * region of its own, then, in one critical section, every old region is
 * taken out and the new one put in its place; then the old ones are
 * released as pin_tracker_unpin_vec() releases them. Until then the new
 * pins count against the tracker's limits beside the old ones. All or
 * nothing: if a handle fails the check or, once the ranges are pinned, the
 * taking out (another thread unpinned the region or held it busy
 * meanwhile), or a range cannot be pinned, the new pins are undone and no
 * region is replaced. The counters see @n pins and @n unpins.
 *
 * Context: process context of @t's mm, may sleep.
 * Return: 0 on success (also for @n 0); -ENOENT if a handle is not in use
 * or is listed twice, -EBUSY if a region is held busy, -ENOMEM, or an
 * errno of pin_tracker_pin() for a range: nothing was replaced;
 * -ERESTARTSYS as for pin_tracker_unpin_vec(): every region was replaced.
 */
int pin_tracker_replace(struct pin_tracker *t, const u32 *handles,
			const struct pin_tracker_range *ranges, unsigned int n,
			unsigned int flags)
{
	u64 t0 = pin_trace_clock(pin_trace_enabled(pin)), t1;
	struct pin_region *small[2], **rs = small, **old;
	XA_STATE(xas, &t->regions, 0);
	unsigned int i, done = 0;
	u32 one, *sorted = &one;
	bool wake = false;
	int ret;

	/* GUP walks current->mm; the charge and the policy are @t's mm's. */
	if (WARN_ON_ONCE(current->mm != t->mm))
		return -EACCES;
	if (!n)
		return 0;
	if (n > 1) {
		/* The new regions, the old ones and a sorted copy of @handles. */
		rs = kvmalloc_array(n, 2 * sizeof(*rs) + sizeof(*sorted),
				    PIN_GFP_ACCOUNT | __GFP_NOWARN);
		if (!rs)
			return -ENOMEM;
		sorted = (u32 *)(rs + 2 * n);
	}
	old = rs + n;
	memcpy(sorted, handles, n * sizeof(*sorted));
	/* A bad handle fails the call before anything is pinned. */
	ret = pin_tracker_check_handles(t, sorted, n);
	if (ret)
		goto out_free;
	for (done = 0; done < n; done++) {
		rs[done] = pin_region_make(t, ranges[done].addr,
					   ranges[done].length, flags);
		if (IS_ERR(rs[done])) {
			ret = PTR_ERR(rs[done]);
			goto out_unmake;
		}
	}
	t1 = pin_trace_clock(pin_trace_enabled(unpin));
	xa_lock(&t->regions);
	if (n == 1) {
		/* The per-I/O case: one load and one store. */
		xas_set(&xas, handles[0]);
		old[0] = xas_load(&xas);
		ret = pin_entry_takeable(old[0]);
	} else {
		ret = pin_tracker_take_vec(t, handles, n, old);
	}
	for (i = 0; !ret && i < n; i++) {
		/* In place of an entry: allocates nothing, cannot fail. */
		pin_tracker_hold(t, rs[i], 1);
		WRITE_ONCE(rs[i]->handle, handles[i]);
		rs[i]->gen = old[i]->gen + 1 ?: 1;
		if (n > 1)
			xas_set(&xas, handles[i]);
		xas_store(&xas, rs[i]);
		pin_region_unpublish(t, old[i]);
		wake |= pin_region_publish_changes(t, rs[i]);
		pin_trace(pin, handles[i], rs[i]->npages, rs[i]->length,
			  rs[i]->writable, pin_trace_clock(t0 != 0) - t0);
	}
	xa_unlock(&t->regions);
	if (ret)
		goto out_unmake;
	/* Published: the new regions may already be unpinned and freed. */
	if (wake)
		wake_up_interruptible_poll(&t->ev_wait, EPOLLIN | EPOLLRDNORM);
	pin_tracker_count(t, PIN_COUNTER_PINS, n);
	pin_tracker_count(t, PIN_COUNTER_UNPINS, n);
	ret = pin_tracker_release_vec(t, handles, old, n, t1);
	goto out_free;

out_unmake:
	while (done--)
		pin_region_unmake(t, rs[done]);
out_free:
	if (rs != small)
		kvfree(rs);
	return ret;
}

/**
 * pin_tracker_abort() - undo a pin whose caller could not learn of it
 * @t: the tracker
 * @handle: the handle pin_tracker_pin() just returned
 *
 * For an owner that fails after pin_tracker_pin() succeeded (it could not
 * pass the handle on): unpins like pin_tracker_unpin(), but the counters
 * record a failed pin, not a pin and an unpin. The handle may have been
 * guessed and the region held busy (pin_tracker_get_busy()) by another
 * thread meanwhile: the region is then taken out all the same (its handle
 * is gone, it is no longer watched) and unpinned when its last hold is
 * dropped, so that the owner's call fails having pinned nothing it keeps.
 * Another thread may also have replaced the region (pin_tracker_replace()):
 * that unpinned it, and the region put in its place is left alone.
 *
 * Context: may sleep.
 * Return: 0 on success, -ENOENT if @handle is not in use (another thread
 * unpinned it) or another thread's pin_tracker_replace() put a region of
 * its own there (ours was unpinned by it, and theirs stays), -ERESTARTSYS
 * as for pin_tracker_unpin().
 */
int pin_tracker_abort(struct pin_tracker *t, u32 handle)
{
	XA_STATE(xas, &t->regions, handle);
	struct pin_region *r;
	bool orphan;

	xa_lock(&t->regions);
	r = xas_load(&xas);
	/* A region that took @handle over is another caller's: ours is gone. */
	if (!r || xa_is_zero(r) || r->gen) {
		xa_unlock(&t->regions);
		return -ENOENT;
	}
	/* Replacing an entry allocates nothing and cannot fail. */
	xas_store(&xas, pin_handle_in_current_block(t, handle) ?
		  XA_ZERO_ENTRY : NULL);
	pin_region_unpublish(t, r);
	orphan = r->busy;
	if (orphan) {
		/* A hold of our own for the unwatch; the last one releases. */
		r->orphan = true;
		pin_region_hold_busy(t, r);
	}
	xa_unlock(&t->regions);
	pin_tracker_event(t, PIN_EVENT_ABORT);
	if (!orphan)
		return pin_tracker_release_removed(t, r);
	pin_region_unwatch(t, r);
	pin_tracker_put_busy(t, r);
	return 0;
}

/**
 * pin_tracker_destroy() - unpin every region and release the tracker
 * @t: the tracker; nothing else may use it any more
 *
 * Works from any process, also after the tracker's mm has exited: the
 * charge goes back to the tracker's user and to that mm, which mmgrab()
 * kept alive.
 *
 * Context: may sleep.
 */
void pin_tracker_destroy(struct pin_tracker *t)
{
	long regions = 0, pages = 0, bytes = 0;
	struct pin_region *r;
	unsigned long index;

	/* No confirmation work runs once this is done. */
	spin_lock(&t->ev_lock);
	t->dying = true;
	spin_unlock(&t->ev_lock);
	cancel_work_sync(&t->cf_work);
	/*
	 * Nothing else uses the tracker: leave the entries in place and free
	 * the nodes (and any zero entries) at once afterwards.
	 */
	xa_for_each(&t->regions, index, r) {
		WARN_ON_ONCE(r->busy);
		/* Released here (no lookup can be in flight): account at once. */
		if (refcount_dec_and_test(&r->ref)) {
			regions++;
			pages += r->npages;
			bytes += r->metadata_bytes;
			pin_region_destroy(t, r);
		}
		cond_resched();
	}
	pin_tracker_unaccount(t, regions, pages, bytes);
	for (index = 0; index < PIN_SPARE_REGIONS; index++)
		kfree(t->spare[index]);
	xa_destroy(&t->regions);
	pin_counters_destroy(&t->counters);
	mmdrop(t->mm);
	free_uid(t->user);
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
