/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pin_tracker: long-term pins of user memory, tracked by handle.
 *
 * A self-contained unit that knows nothing of the driver around it: its
 * folder is copied into a driver and built by that driver's Kbuild
 * (pin_tracker.kbuild; README.md of pinmgr, its first user, has the
 * recipe). One
 * tracker belongs to one owner (an open file, a device context ...) and
 * charges every pinned page to the owner's user against RLIMIT_MEMLOCK,
 * showing it in one mm's pinned_vm.
 */
#ifndef PIN_TRACKER_H
#define PIN_TRACKER_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/cache.h>
#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "pin_watch.h"

struct mm_struct;
struct page;
struct user_struct;

/*
 * Metadata is charged to the caller's memory cgroup; at the cgroup's limit
 * a pin must fail with ENOMEM, not wake the OOM killer on its behalf.
 */
#define PIN_GFP_ACCOUNT		(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL)

/* Bits of &struct pin_run.v that hold the run's index in its region. */
#define PIN_RUN_PGOFF_BITS	24

/* The most pages one region can hold: its page indices fit those bits. */
#define PIN_TRACKER_MAX_PAGES	BIT(PIN_RUN_PGOFF_BITS)

/**
 * struct pin_run - physically contiguous pinned pages, packed in 8 bytes
 * @v: page frame number of the first page << %PIN_RUN_PGOFF_BITS | index
 *	of that page within the region. Read it with pin_run_pfn() and
 *	pin_run_pgoff().
 *
 * A run ends where the next one starts (or at the region's end). Page frame
 * numbers must fit in 64 - %PIN_RUN_PGOFF_BITS bits (checked at build time).
 */
struct pin_run {
	u64 v;
};

static inline unsigned long pin_run_pfn(const struct pin_run *run)
{
	return run->v >> PIN_RUN_PGOFF_BITS;
}

static inline unsigned long pin_run_pgoff(const struct pin_run *run)
{
	return run->v & (PIN_TRACKER_MAX_PAGES - 1);
}

/**
 * struct pin_region - one pinned range
 * @ref: references: one for the tracker's xarray (then for the unpin that
 *	took it out), one per lookup in flight. The last put unpins the pages.
 * @handle: the region's handle in its tracker, for tracing
 * @addr: user address given to pin_tracker_pin()
 * @length: length given to pin_tracker_pin()
 * @npages: number of pinned pages
 * @nr_runs: number of runs
 * @first_run: the first run of the pinned pages
 * @more_runs: the other runs, in order (run i at @more_runs[i - 1]), or
 *	NULL while there is only one: small pins need no array, and a large
 *	one stores each run once, 8 bytes a run (on a tracker that hides
 *	the layout, room for a run per page, from the start)
 * @tracker: the tracker the region belongs to
 * @metadata_bytes: bytes of memory this region's tracking takes (at most
 *	the region and 8 bytes for each of %PIN_TRACKER_MAX_PAGES runs)
 * @writable: pinned with FOLL_WRITE; unpinned with dirtying
 * @unwatched: pinned with %PIN_TRACKER_UNWATCHED (so never watched)
 * @orphan: taken out by pin_tracker_abort() while held busy: the last
 *	hold unpins it. Under xa_lock, as @busy
 * @published: has its handle; pending changes may be queued
 * @suspect: a change that may have left every page in place was seen and
 *	nobody has looked at the page tables since
 * @diverged: some pinned page was found not to back its address any more
 *	(or the range was unmapped), and no clean pin_region_verify() since
 * @busy: holds by pin_tracker_get_busy(): unpinning fails while any;
 *	protected by xa_lock(&pin_tracker.regions)
 * @watch: the notifier watching the pinned range of the tracker's mm;
 *	inactive if none is registered (or no MMU notifiers in this kernel)
 * @ev_node: entry in &pin_tracker.ev_list while a change is pending
 * @ev_kinds: pending changes: BIT_ULL(enum mmu_notifier_event) each, bit 63
 *	for events beyond 62; 0 when none is pending
 * @ev_start: start of the pending changes' range, clipped to the region
 * @ev_end: end (exclusive) of that range
 * @cf_node: entry in &pin_tracker.cf_list while @suspect and published
 * @cf_start: start of the changed range still to be looked at
 * @cf_end: its end (exclusive)
 * @looks: conclusive pin_region_verify() calls, which decide @diverged
 *	over the whole region: a confirmation begun before one is stale
 * @gen: 0 for a region pinned by pin_tracker_pin(); for one that took its
 *	handle over from another (pin_tracker_replace()), that one's @gen + 1,
 *	never 0: tells a region from the ones its handle named before
 *
 * Everything from @addr to @unwatched, and @gen, is written once before the
 * region is published in the tracker and is read-only afterwards, so holders of
 * a reference read it without locking; @handle too, except that the change
 * callback's tracepoint may read it (as 0) before (READ_ONCE()). @busy and
 * @orphan are protected by xa_lock(&pin_tracker.regions). @published is
 * written under xa_lock(&pin_tracker.regions), and for a watched region
 * (neither the tracker nor the pin said otherwise) under
 * &pin_tracker.ev_lock too: xa_lock is enough to read it, ev_lock only
 * for a watched region (the only kind the change callback, the
 * confirmation work and the change queue ever see). The ev_ and
 * cf_ fields, @looks, @suspect and @diverged are protected by
 * &pin_tracker.ev_lock (the pinner initialises them before the watch
 * starts), with one exception: pin_region_settle() peeks at @ev_kinds
 * without it (written with WRITE_ONCE()).
 *
 * The fields are ordered so that a region takes 256 bytes on 64-bit
 * kernels (the kmalloc-256 cache; one byte more would take a 512-byte
 * object): a file that holds many small pins holds many regions. The
 * flags are plain bools, not bitfields: they share a word with @busy
 * under other locks, and bitfield stores would rewrite their neighbours.
 */
struct pin_region {
	refcount_t ref;
	u32 handle;
	u64 addr;
	u64 length;
	unsigned long npages;
	unsigned long nr_runs;
	struct pin_run first_run;
	struct pin_run *more_runs;
	struct pin_tracker *tracker;
	u32 metadata_bytes;
	bool writable;
	bool unwatched;
	bool orphan;
	bool published;
	bool suspect;
	bool diverged;
	unsigned int busy;
	struct pin_watch watch;
	struct list_head ev_node;
	u64 ev_kinds;
	u64 ev_start;
	u64 ev_end;
	struct list_head cf_node;
	u64 cf_start;
	u64 cf_end;
	u32 looks;
	u32 gen;
};

/**
 * enum pin_tracker_flags - how a range is pinned (pin_tracker_pin(),
 *	pin_tracker_replace())
 * @PIN_TRACKER_WRITE: the device may write to the pages: pinned with
 *	FOLL_WRITE, dirtied when unpinned
 * @PIN_TRACKER_UNWATCHED: no MMU notifier for this region, even if the
 *	tracker watches: none of its changes is recorded or queued, and only
 *	pin_region_verify() tells whether its pages still back its range.
 *	For pins that live for one I/O, which need no watch (io_uring's
 *	registered buffers and RDMA's memory regions without ODP are not
 *	watched either): a watch costs a notifier in the mm's interval tree
 *	per region, which every change of the mm searches.
 */
enum pin_tracker_flags {
	PIN_TRACKER_WRITE = 1 << 0,
	PIN_TRACKER_UNWATCHED = 1 << 1,
};

/**
 * struct pin_tracker_range - a user range to pin (pin_tracker_replace())
 * @addr: first byte of the range
 * @length: length of the range in bytes
 */
struct pin_tracker_range {
	u64 addr;
	u64 length;
};

/**
 * struct pin_change - changes to the mapping of one region, as dequeued
 * @handle: the region's handle
 * @gen: the region's &pin_region.gen: pin_tracker_requeue_change() puts
 *	the record back only if @handle still names that region
 * @kinds: BIT_ULL(enum mmu_notifier_event) for each kind of change seen;
 *	bit 63 for kinds beyond 62
 * @start: start of the union of the changed ranges, clipped to the region's
 *	pages
 * @end: its end (exclusive)
 */
struct pin_change {
	u32 handle;
	u32 gen;
	u64 kinds;
	u64 start;
	u64 end;
};

/**
 * enum pin_counter - what the tracker counts (index of its counter arrays)
 * @PIN_COUNTER_REGIONS: regions held now
 * @PIN_COUNTER_PINNED_PAGES: pages pinned now
 * @PIN_COUNTER_PEAK_PAGES: most pages pinned at once
 * @PIN_COUNTER_PINS: successful pins
 * @PIN_COUNTER_UNPINS: successful pin_tracker_unpin() calls
 * @PIN_COUNTER_FAILED_PINS: pins that failed after argument checks
 * @PIN_COUNTER_METADATA_BYTES: bytes of region and run metadata held now
 * @PIN_COUNTER_NOTIFIERS: registered MMU interval notifiers (one per
 *	watched region)
 * @PIN_COUNTER_DIVERGED_REGIONS: regions some of whose pages no longer
 *	back their addresses (found so, or unmapped) since they were pinned
 *	(or last verified clean)
 * @PIN_NR_COUNTERS: the number of counters
 *
 * A new counter is a line here and its name in pin_counter_names[].
 */
enum pin_counter {
	PIN_COUNTER_REGIONS,
	PIN_COUNTER_PINNED_PAGES,
	PIN_COUNTER_PEAK_PAGES,
	PIN_COUNTER_PINS,
	PIN_COUNTER_UNPINS,
	PIN_COUNTER_FAILED_PINS,
	PIN_COUNTER_METADATA_BYTES,
	PIN_COUNTER_NOTIFIERS,
	PIN_COUNTER_DIVERGED_REGIONS,
	PIN_NR_COUNTERS
};

/* Each counter's name, "pinned_pages" and so on: for sysfs, fdinfo ... */
extern const char *const pin_counter_names[PIN_NR_COUNTERS];

/**
 * struct pin_tracker_stats - a snapshot of &struct pin_counters
 * @v: the values, indexed by &enum pin_counter
 */
struct pin_tracker_stats {
	u64 v[PIN_NR_COUNTERS];
};

/**
 * struct pin_counters_cpu - one CPU's part of &struct pin_counters
 * @v: what this CPU added to each counter (pinned_pages and peak_pages
 *	excepted), indexed by &enum pin_counter; may be below zero, as u64
 */
struct pin_counters_cpu {
	u64 v[PIN_NR_COUNTERS];
};

/**
 * struct pin_counters - counters of pin activity
 * @pcpu: the counters, as per-CPU parts summed when read
 * @pinned_pages: pages held now (&PIN_COUNTER_PINNED_PAGES)
 * @peak_pages: the most held at once (&PIN_COUNTER_PEAK_PAGES)
 *
 * Each tracker has its own, and may also feed a set shared by many
 * trackers (a driver's totals), set up with pin_counters_init(). Updated
 * without locks, read with pin_counters_read() or pin_counters_read_one().
 */
struct pin_counters {
	struct pin_counters_cpu __percpu *pcpu;
	/* Written by every pin on every CPU: not on @pcpu's line. */
	atomic64_t pinned_pages ____cacheline_aligned_in_smp;
	atomic64_t peak_pages;
};

/* Released regions a tracker keeps for its next pins (&pin_tracker.spare). */
#define PIN_SPARE_REGIONS	4

/**
 * struct pin_tracker - the regions pinned by one owner
 * @regions: handle -> &struct pin_region. Its internal spinlock (xa_lock)
 *	serialises insertion, removal and lookup-with-reference. Unpinned
 *	handles of the block of 64 that new handles come from hold zero
 *	entries (invisible to xa_load() and xa_for_each()) until the handles
 *	move on, so that pinning and unpinning in a loop allocates no nodes.
 * @next_handle: where the search for the next handle starts (handles go
 *	round after U32_MAX, skipping those in use; 0 means 1). Protected by
 *	xa_lock(&@regions).
 * @mm: the mm whose pinned_vm shows the pins, held with mmgrab(). Pins are
 *	taken from current->mm, which the owner must ensure is @mm.
 * @user: the user charged for the pins (its locked_vm, against
 *	RLIMIT_MEMLOCK), held with get_uid()
 * @max_pages: most pages per pin (E2BIG beyond), at most
 *	%PIN_TRACKER_MAX_PAGES
 * @max_regions: most regions held at once (ENOSPC beyond)
 * @watch: regions are watched for changes of their mapping (but those
 *	pinned with %PIN_TRACKER_UNWATCHED)
 * @hide_layout: a region's metadata depends on its page count only, not
 *	on how physically contiguous its pages are (pin_tracker_hide_layout())
 * @nr_regions: regions held or being pinned, for @max_regions (atomic)
 * @spare: released regions kept, zeroed on reuse, for the next pins: an
 *	owner that pins and unpins a buffer per I/O then allocates no
 *	region. Slots are taken with xchg() and filled with cmpxchg(); at
 *	most %PIN_SPARE_REGIONS regions of ``sizeof(struct pin_region)``
 *	bytes each, not counted in %PIN_COUNTER_METADATA_BYTES. Unused on
 *	KASAN kernels, so that a use after release is caught.
 * @counters: this tracker's counters
 * @shared: counters shared with other trackers, or NULL
 * @ev_lock: protects @ev_list and the regions' ev_ fields; taken in MMU
 *	notifier callbacks, so nothing may sleep under it
 * @ev_list: regions with pending changes, oldest first
 * @ev_wait: woken when a region is queued on @ev_list
 * @users_wait: woken when a lookup drops its reference, for an unpin
 *	waiting until the region it took out is no longer used
 * @cf_list: published suspect regions, oldest first, for @cf_work
 * @cf_work: looks at the page tables of @cf_list's regions once their
 *	changes are complete, to find out whether they diverged
 * @cf_queued: regions ever put on @cf_list
 * @cf_done: @cf_queued as it was when @cf_work last found @cf_list empty
 * @cf_wait: woken when @cf_done moves
 * @dying: pin_tracker_destroy() has begun; @cf_work is not queued any more
 * @closed: pin_tracker_close() has begun: the last busy hold of a region
 *	unpins it. Protected by xa_lock(&@regions).
 * @busy_holds: busy holds on all regions (pin_tracker_get_busy()): while
 *	there are none, pin_tracker_check_handles() takes no lock. Written
 *	under xa_lock(&@regions), read without it.
 */
struct pin_tracker {
	struct xarray regions;
	u32 next_handle;
	struct mm_struct *mm;
	struct user_struct *user;
	unsigned long max_pages;
	unsigned int max_regions;
	bool watch;
	bool hide_layout;
	atomic_t nr_regions;
	struct pin_region *spare[PIN_SPARE_REGIONS];
	struct pin_counters counters;
	struct pin_counters *shared;
	spinlock_t ev_lock;	/* see @ev_lock above */
	struct list_head ev_list;
	wait_queue_head_t ev_wait;
	wait_queue_head_t users_wait;
	struct list_head cf_list;
	struct work_struct cf_work;
	u64 cf_queued;
	u64 cf_done;
	wait_queue_head_t cf_wait;
	bool dying;
	bool closed;
	unsigned long busy_holds;
};

int pin_counters_init(struct pin_counters *c);
void pin_counters_destroy(struct pin_counters *c);
u64 pin_counters_read_one(struct pin_counters *c, enum pin_counter i);
void pin_counters_read(struct pin_counters *c, struct pin_tracker_stats *stats);
int pin_tracker_init(struct pin_tracker *t, struct mm_struct *mm,
		     unsigned long max_pages, unsigned int max_regions,
		     bool watch, struct pin_counters *shared);
void pin_tracker_set_next_handle(struct pin_tracker *t, u32 handle);
void pin_tracker_hide_layout(struct pin_tracker *t);
void pin_tracker_destroy(struct pin_tracker *t);
int pin_tracker_pin(struct pin_tracker *t, u64 addr, u64 length,
		    unsigned int flags, u32 *handle, unsigned long *npages);
int pin_tracker_unpin(struct pin_tracker *t, u32 handle);
int pin_tracker_check_handles(struct pin_tracker *t, u32 *handles,
			      unsigned int n);
int pin_tracker_unpin_vec(struct pin_tracker *t, const u32 *handles,
			  unsigned int n);
int pin_tracker_replace(struct pin_tracker *t, const u32 *handles,
			const struct pin_tracker_range *ranges, unsigned int n,
			unsigned int flags);
int pin_tracker_abort(struct pin_tracker *t, u32 handle);
struct pin_region *pin_tracker_get(struct pin_tracker *t, u32 handle);
void pin_tracker_put(struct pin_tracker *t, struct pin_region *r);
struct pin_region *pin_tracker_get_busy(struct pin_tracker *t, u32 handle);
void pin_tracker_put_busy(struct pin_tracker *t, struct pin_region *r);
void pin_tracker_close(struct pin_tracker *t);
void pin_tracker_read_stats(struct pin_tracker *t,
			    struct pin_tracker_stats *stats);
int pin_tracker_confirm_changes(struct pin_tracker *t);
struct page *pin_region_page(const struct pin_region *r, unsigned long idx);
int pin_region_verify(struct pin_region *r, u64 *differ, u64 *first);
bool pin_change_is_exclusive(unsigned int event);
bool pin_tracker_has_changes(struct pin_tracker *t);
bool pin_tracker_pop_change(struct pin_tracker *t, struct pin_change *c);
void pin_tracker_requeue_change(struct pin_tracker *t,
				const struct pin_change *c);
void pin_region_run(const struct pin_region *r, unsigned long i,
		    unsigned long *pfn, unsigned long *pgoff,
		    unsigned long *npages);

#endif /* PIN_TRACKER_H */
