/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * pinmgr: long-term pinning of user memory for DMA-style use.
 *
 * This is the only file shared by the kernel module and userspace.
 */
#ifndef _UAPI_LINUX_PINMGR_H
#define _UAPI_LINUX_PINMGR_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define PINMGR_ABI_VERSION	1

#define PINMGR_TYPE		0xBC

/**
 * DOC: General ioctl format
 *
 * Every ioctl takes a pointer to a struct whose first two fields are
 * ``__u32 size`` and ``__u32 flags``. @size is the size of the struct as
 * userspace knows it; it lets the ABI grow at the end: a smaller struct from
 * older userspace is zero-extended, a larger one from newer userspace is
 * accepted if every byte the module does not know is zero. The command is
 * matched on its type, number and direction (always read-write); the size
 * encoded in the command word is not used, @size is. Output fields are
 * prefixed ``out_`` and are written
 * back only when the ioctl succeeds, and only up to @size bytes (the
 * out_ fields of the range arrays of PIN_VEC and UPDATE are written as
 * the ranges are pinned, with %PINMGR_UPDATE_REPLACE before anything is
 * pinned, and are undefined after a failure). The
 * elements of the arrays an ioctl or read() points to (&struct
 * pinmgr_segment, &struct pinmgr_pin_range, &struct pinmgr_event) carry no
 * size and never grow: a different element would come with a new ioctl.
 *
 * Every ioctl must be issued by a process sharing the memory (``mm``) of the
 * process that opened the device. A file inherited across fork() or passed
 * over a UNIX socket can still be closed; the last close unpins every region
 * and returns the charge to the opener's locked-memory accounting.
 *
 * The errnos mean:
 *
 * - ENOTTY: unknown ioctl command (type, number or direction).
 * - EFAULT: the struct or an array it points to cannot be read or written;
 *   or a pinned range lies beyond the user address space, is not mapped
 *   (including a hole between mappings), is not accessible (``PROT_NONE``;
 *   a read-only mapping pinned with %PINMGR_PIN_WRITE), is a mapping
 *   without struct pages (``VM_IO``/``VM_PFNMAP``), or has a page that only
 *   a userfaultfd handler could provide (GUP cannot wait for one there).
 * - EINVAL: @size smaller than the first version of the struct, unknown
 *   @flags bits, a non-zero reserved field, or a zero length; a PIN_VEC of
 *   no range, an UPDATE of neither ranges nor handles, or with
 *   %PINMGR_UPDATE_REPLACE of not as many ranges as handles; an EXPORT_DMABUF
 *   offset or length that is not a multiple of the page size.
 * - E2BIG: @size larger than the module's struct with non-zero bytes past
 *   its end, or larger than a page (as openat2() and clone3()); a PIN of
 *   more pages than the ``max_pages_per_pin`` limit
 *   reported by %PINMGR_INFO; a PIN_VEC or UPDATE of more than
 *   %PINMGR_PIN_VEC_MAX ranges, or an UPDATE of more than
 *   %PINMGR_UNPIN_VEC_MAX handles.
 * - EOVERFLOW: address + length wraps around; or a page of the range is
 *   pinned so many times already (one page mapped at many addresses,
 *   pinned again and again) that its reference count would come near
 *   overflowing: about a million pins of one small page, by every pinner
 *   in the system together. Nothing stays pinned.
 * - EACCES: the caller's mm is not the mm of the process that opened the
 *   file.
 * - EBADF: PIN, PIN_VEC, UNPIN, UPDATE or EXPORT_DMABUF on a file not
 *   opened for writing (an
 *   ``O_RDONLY`` file may only look: INFO, QUERY, SEGMENTS, STATS, VERIFY
 *   and read()).
 * - ENOENT: no region has that handle on this file (never pinned, or
 *   already unpinned); for UPDATE, also a handle listed twice.
 * - ENOSPC: the file already holds ``max_regions`` regions, or has all its
 *   2^32 - 1 handles in use.
 * - ENOMEM: pinning would exceed ``RLIMIT_MEMLOCK`` (checked against the
 *   locked memory of the opener's user, which every pin of that user's
 *   files counts in until it is unpinned, unless the caller has
 *   ``CAP_IPC_LOCK``); the
 *   kernel (or the memory cgroup) is out of memory; or a page could not be
 *   migrated out of ZONE_MOVABLE first (on 6.1, hugetlb pages there never
 *   can be: GUP cannot migrate them for a long-term pin).
 * - EOPNOTSUPP: EXPORT_DMABUF in a kernel built without dma-buf support
 *   (``CONFIG_DMA_SHARED_BUFFER``; %PINMGR_CAP_EXPORT_DMABUF is then
 *   clear); or
 *   %PINMGR_PIN_WRITE on a shared file mapping whose
 *   filesystem writes pages back (ext4, xfs, ...) or whose mapping wants to
 *   hear of the first write (page_mkwrite or pfn_mkwrite: ramfs, deferred
 *   I/O framebuffers), as Linux 6.5+ GUP refuses them. Long-term writable
 *   pins of such pages corrupt data or crash the filesystem; anonymous
 *   memory, shmem/tmpfs/memfd, hugetlbfs and private file mappings are
 *   allowed.
 * - EPERM: %PINMGR_SEGMENTS_PHYS on a file opened without
 *   ``CAP_SYS_ADMIN``.
 * - EINTR: a fatal signal arrived during a long PIN or a VERIFY of a large
 *   region; or any signal was pending while the first PIN of a process set
 *   up the kernel's MMU notifier state for its mm (see &struct
 *   pinmgr_event). Nothing stays pinned.
 * - ERANGE: ACCESS beyond the end of the region; an EXPORT_DMABUF range
 *   that does not lie within the region's pages.
 * - EBUSY: UNPIN or UPDATE of a region that a dma-buf made by
 *   %PINMGR_EXPORT_DMABUF still uses (nothing is unpinned).
 * - EMFILE, ENFILE: EXPORT_DMABUF with no free file descriptor left in
 *   the process, or no free file in the system.
 * - EAGAIN: read() of change records on a non-blocking file with none
 *   pending (&struct pinmgr_event).
 *
 * ACCESS, the test-only device path, answers ENOTTY unless the module
 * parameter ``test_access`` was set when the file was opened, and EPERM for
 * %PINMGR_ACCESS_WRITE on a region pinned without %PINMGR_PIN_WRITE.
 *
 * PIN checks its arguments in this order: @flags and reserved fields, zero
 * length, wrap-around, the user address space, ``max_pages_per_pin``,
 * ``max_regions``, ``RLIMIT_MEMLOCK``, the file mapping policy, then the
 * pages themselves.
 */

/**
 * enum pinmgr_pin_flags - flags for &struct pinmgr_pin, &struct
 *	pinmgr_pin_vec and &struct pinmgr_update
 * @PINMGR_PIN_WRITE: the device may write to the pages. They are pinned
 *	with ``FOLL_WRITE`` (breaking copy-on-write now) and are marked dirty
 *	when unpinned.
 * @PINMGR_PIN_NO_EVENTS: the new regions are not watched, even on a file
 *	with %PINMGR_CAP_EVENTS: read() never returns a record for them, they
 *	never count in &struct pinmgr_stats.out_diverged_regions, and only
 *	%PINMGR_VERIFY tells whether their pages still back their range (it
 *	reports, it does not mark). For pins that live for one I/O, which
 *	need no watch (io_uring's registered buffers and RDMA's memory
 *	regions without on-demand paging are not watched either): watching
 *	costs each pin and unpin an MMU interval notifier, inserted into and
 *	removed from the process's interval tree, which every change of its
 *	mappings searches. The pages stay pinned whatever happens to the
 *	mapping, as for any region. QUERY gives the flag back. Modules that
 *	do not list it in &struct pinmgr_info.out_pin_flags fail it with
 *	EINVAL.
 */
enum pinmgr_pin_flags {
	PINMGR_PIN_WRITE = 1 << 0,
	PINMGR_PIN_NO_EVENTS = 1 << 1,
};

/**
 * enum pinmgr_update_flags - flags for &struct pinmgr_update, besides
 *	&enum pinmgr_pin_flags
 * @PINMGR_UPDATE_REPLACE: range i of &struct pinmgr_update.pin takes handle
 *	i of &struct pinmgr_update.unpin over (%PINMGR_CAP_UPDATE_REPLACE)
 */
enum pinmgr_update_flags {
	PINMGR_UPDATE_REPLACE = 1 << 16,
};

/**
 * enum pinmgr_segments_flags - flags for &struct pinmgr_segments
 * @PINMGR_SEGMENTS_PHYS: fill in &struct pinmgr_segment.phys. Needs a file
 *	opened with ``CAP_SYS_ADMIN`` (else EPERM).
 */
enum pinmgr_segments_flags {
	PINMGR_SEGMENTS_PHYS = 1 << 0,
};

/**
 * enum pinmgr_access_flags - flags for &struct pinmgr_access
 * @PINMGR_ACCESS_WRITE: write the user's buffer into the pinned pages (as a
 *	device would by DMA); without it, read the pinned pages into the buffer
 */
enum pinmgr_access_flags {
	PINMGR_ACCESS_WRITE = 1 << 0,
};

/**
 * enum pinmgr_caps - capability bits of &struct pinmgr_info.out_caps
 * @PINMGR_CAP_PHYS: this file may ask for physical addresses
 *	(%PINMGR_SEGMENTS_PHYS); it was opened with ``CAP_SYS_ADMIN``.
 * @PINMGR_CAP_TEST_ACCESS: %PINMGR_ACCESS works on this file: the module
 *	parameter ``test_access`` was set when it was opened.
 * @PINMGR_CAP_EVENTS: regions are watched and divergence events are queued
 *	(&struct pinmgr_event), but those pinned with
 *	%PINMGR_PIN_NO_EVENTS; without it (a kernel built without
 *	``CONFIG_MMU_NOTIFIER``, or the module parameter ``events`` was off
 *	when the file was opened) read() never returns a record and only
 *	%PINMGR_VERIFY tells whether pages still back the mapping.
 * @PINMGR_CAP_EXPORT_DMABUF: %PINMGR_EXPORT_DMABUF works: the kernel has
 *	dma-buf support.
 * @PINMGR_CAP_UPDATE_REPLACE: %PINMGR_UPDATE takes %PINMGR_UPDATE_REPLACE
 *	(older modules fail it with EINVAL).
 */
enum pinmgr_caps {
	PINMGR_CAP_PHYS = 1 << 0,
	PINMGR_CAP_TEST_ACCESS = 1 << 1,
	PINMGR_CAP_EVENTS = 1 << 2,
	PINMGR_CAP_EXPORT_DMABUF = 1 << 3,
	PINMGR_CAP_UPDATE_REPLACE = 1 << 4,
};

enum {
	PINMGR_CMD_INFO = 0x00,
	PINMGR_CMD_PIN,
	PINMGR_CMD_UNPIN,
	PINMGR_CMD_QUERY,
	PINMGR_CMD_SEGMENTS,
	PINMGR_CMD_STATS,
	PINMGR_CMD_ACCESS,
	PINMGR_CMD_PIN_VEC,
	PINMGR_CMD_VERIFY,
	PINMGR_CMD_UPDATE,
	PINMGR_CMD_EXPORT_DMABUF,
};

/* The most ranges one PINMGR_PIN_VEC or UPDATE may carry (E2BIG beyond). */
#define PINMGR_PIN_VEC_MAX	65536

/*
 * The most handles one PINMGR_UPDATE may unpin (E2BIG beyond). They are
 * taken out in one critical section of the file, which its other calls
 * wait for.
 */
#define PINMGR_UNPIN_VEC_MAX	1024

/**
 * struct pinmgr_info - ioctl(PINMGR_INFO)
 * @size: sizeof(struct pinmgr_info)
 * @flags: must be 0
 * @out_abi_version: %PINMGR_ABI_VERSION of the module
 * @out_page_size: the kernel's page size in bytes; regions are made of
 *	whole pages of this size
 * @out_pin_flags: the &enum pinmgr_pin_flags this module accepts
 * @out_segments_flags: the &enum pinmgr_segments_flags this module accepts
 * @out_caps: &enum pinmgr_caps that hold for this file
 * @out_max_pages_per_pin: the most pages one PIN may cover (E2BIG beyond):
 *	the module parameter, capped at 2^24 (64 GiB of 4 KiB pages)
 * @out_max_regions: the most regions this file may hold (ENOSPC beyond)
 *
 * Feature discovery. The limits are the module parameters in force when
 * this file was opened.
 */
struct pinmgr_info {
	__u32 size;
	__u32 flags;
	__u32 out_abi_version;
	__u32 out_page_size;
	__aligned_u64 out_pin_flags;
	__aligned_u64 out_segments_flags;
	__aligned_u64 out_caps;
	__aligned_u64 out_max_pages_per_pin;
	__aligned_u64 out_max_regions;
};

#define PINMGR_INFO _IOWR(PINMGR_TYPE, PINMGR_CMD_INFO, struct pinmgr_info)

/**
 * struct pinmgr_pin - ioctl(PINMGR_PIN)
 * @size: sizeof(struct pinmgr_pin)
 * @flags: &enum pinmgr_pin_flags
 * @addr: user address of the first byte; any alignment
 * @length: length in bytes, not 0
 * @out_handle: handle of the new region, never 0; handles are handed out
 *	in increasing order and, after 0xffffffff, from 1 again, skipping
 *	those in use, so one is reused only after all others were handed out
 * @out_offset: offset of @addr in the first pinned page
 * @out_npages: number of pages pinned: every page @addr..@addr+@length-1
 *	touches
 *
 * Pins the pages long-term (``FOLL_LONGTERM``): they are migrated out of
 * ZONE_MOVABLE and CMA first and stay put until unpinned. All or nothing: on
 * failure nothing stays pinned and nothing stays charged.
 */
struct pinmgr_pin {
	__u32 size;
	__u32 flags;
	__aligned_u64 addr;
	__aligned_u64 length;
	__u32 out_handle;
	__u32 out_offset;
	__aligned_u64 out_npages;
};

#define PINMGR_PIN _IOWR(PINMGR_TYPE, PINMGR_CMD_PIN, struct pinmgr_pin)

/**
 * struct pinmgr_unpin - ioctl(PINMGR_UNPIN)
 * @size: sizeof(struct pinmgr_unpin)
 * @flags: must be 0
 * @handle: handle returned by PIN
 * @__reserved: must be 0
 *
 * Unpins the region (marking its pages dirty if it was pinned with
 * %PINMGR_PIN_WRITE) and uncharges it. The handle is gone at once (lookups
 * get ENOENT; a pending event record is dropped, none is queued any more);
 * if another thread's QUERY, SEGMENTS, VERIFY or ACCESS uses the region,
 * UNPIN returns once that call is done and the pages are released.
 */
struct pinmgr_unpin {
	__u32 size;
	__u32 flags;
	__u32 handle;
	__u32 __reserved;
};

#define PINMGR_UNPIN _IOWR(PINMGR_TYPE, PINMGR_CMD_UNPIN, struct pinmgr_unpin)

/**
 * struct pinmgr_query - ioctl(PINMGR_QUERY)
 * @size: sizeof(struct pinmgr_query)
 * @flags: must be 0
 * @handle: handle returned by PIN
 * @out_flags: the &enum pinmgr_pin_flags the region was pinned with
 * @out_addr: the address given to PIN
 * @out_length: the length given to PIN
 * @out_npages: number of pinned pages
 * @out_nsegs: number of segments (&struct pinmgr_segments): physically
 *	contiguous runs for a file opened with ``CAP_SYS_ADMIN``, else pages
 * @out_offset: offset of @out_addr in the first pinned page
 * @__reserved: must be 0
 */
struct pinmgr_query {
	__u32 size;
	__u32 flags;
	__u32 handle;
	__u32 out_flags;
	__aligned_u64 out_addr;
	__aligned_u64 out_length;
	__aligned_u64 out_npages;
	__aligned_u64 out_nsegs;
	__u32 out_offset;
	__u32 __reserved;
};

#define PINMGR_QUERY _IOWR(PINMGR_TYPE, PINMGR_CMD_QUERY, struct pinmgr_query)

/**
 * struct pinmgr_segment - one physically contiguous run of pinned pages
 * @offset: byte offset of the run from the start of the region's first
 *	page (a multiple of the page size)
 * @length: length of the run in bytes (a multiple of the page size)
 * @phys: physical address of the run with %PINMGR_SEGMENTS_PHYS, else 0
 */
struct pinmgr_segment {
	__aligned_u64 offset;
	__aligned_u64 length;
	__aligned_u64 phys;
};

/**
 * struct pinmgr_segments - ioctl(PINMGR_SEGMENTS)
 * @size: sizeof(struct pinmgr_segments)
 * @flags: &enum pinmgr_segments_flags
 * @handle: handle returned by PIN
 * @__reserved: must be 0
 * @start: index of the first segment to copy out
 * @capacity: number of &struct pinmgr_segment at @segs
 * @segs: user pointer to an array of &struct pinmgr_segment
 * @out_count: number of segments written (0 when @start is past the end)
 * @out_total: number of segments in the region
 *
 * Copies out min(@capacity, @out_total - @start) segments in order; to read
 * a region in pieces, call again with @start += @out_count until @start
 * reaches @out_total.
 *
 * Only a file opened with ``CAP_SYS_ADMIN`` (%PINMGR_CAP_PHYS) sees the
 * physically contiguous runs; to any other file every page is a segment of
 * its own, since physical contiguity is what /proc/PID/pagemap hides from
 * unprivileged users too. The same goes for &struct pinmgr_query's
 * @out_nsegs.
 */
struct pinmgr_segments {
	__u32 size;
	__u32 flags;
	__u32 handle;
	__u32 __reserved;
	__aligned_u64 start;
	__aligned_u64 capacity;
	__aligned_u64 segs;
	__aligned_u64 out_count;
	__aligned_u64 out_total;
};

#define PINMGR_SEGMENTS _IOWR(PINMGR_TYPE, PINMGR_CMD_SEGMENTS, struct pinmgr_segments)

/**
 * struct pinmgr_stats - ioctl(PINMGR_STATS)
 * @size: sizeof(struct pinmgr_stats)
 * @flags: must be 0
 * @out_regions: regions held now
 * @out_pinned_pages: pages pinned now
 * @out_peak_pages: most pages pinned at once since open
 * @out_pins: regions pinned by successful PINs, PIN_VECs and UPDATEs since
 *	open
 * @out_unpins: regions unpinned by UNPIN and UPDATE since open
 * @out_failed_pins: PINs since open that passed the argument checks
 *	(EINVAL, EOVERFLOW for a range that wraps, EFAULT for a range
 *	outside the user address
 *	space, E2BIG) and then failed, counted per range: the ranges a failed
 *	PIN_VEC had pinned and then undid count here too, not in @out_pins
 *	(but for one whose handle another thread replaced meanwhile,
 *	%PINMGR_UPDATE_REPLACE: that counts in @out_pins, and the replace's
 *	unpin of it in @out_unpins)
 * @out_metadata_bytes: kernel memory the file's regions take to track
 *	(charged to the memory cgroup of the task that pinned). On a file with
 *	%PINMGR_CAP_PHYS a region takes a fixed size plus 8 bytes per
 *	physically contiguous run of its pages after the first; on a file
 *	without, plus 8 bytes per page after the first, whatever the layout,
 *	which such a file does not learn
 * @out_diverged_regions: regions some of whose pinned pages no longer
 *	back their addresses (unmapped, or found so by a look at the page
 *	tables once a change was complete) since they were pinned or last
 *	found clean by %PINMGR_VERIFY. A change that leaves every page in
 *	place queues a &struct pinmgr_event but does not count here.
 *	Regions that are not watched (%PINMGR_PIN_NO_EVENTS, or every region
 *	of a file without %PINMGR_CAP_EVENTS) never count here. STATS
 *	first waits for the looks at changes made before it.
 *
 * Counters of this file. Totals over all files are in
 * /sys/class/misc/pinmgr/stats/.
 */
struct pinmgr_stats {
	__u32 size;
	__u32 flags;
	__aligned_u64 out_regions;
	__aligned_u64 out_pinned_pages;
	__aligned_u64 out_peak_pages;
	__aligned_u64 out_pins;
	__aligned_u64 out_unpins;
	__aligned_u64 out_failed_pins;
	__aligned_u64 out_metadata_bytes;
	__aligned_u64 out_diverged_regions;
};

#define PINMGR_STATS _IOWR(PINMGR_TYPE, PINMGR_CMD_STATS, struct pinmgr_stats)

/**
 * struct pinmgr_access - ioctl(PINMGR_ACCESS): test-only device access
 * @size: sizeof(struct pinmgr_access)
 * @flags: &enum pinmgr_access_flags
 * @handle: handle returned by PIN
 * @__reserved: must be 0
 * @offset: byte offset from the region's address (&struct pinmgr_pin.addr)
 * @length: bytes to copy, not 0; @offset + @length must not pass the
 *	region's length (ERANGE)
 * @buf: user buffer of @length bytes to read from or write to
 *
 * Behaves like a device doing DMA through the pin: the bytes are copied
 * to or from the pinned ``struct page``s themselves (kmap_local_page()),
 * never through the process's page tables, so it shows what a device would
 * see after munmap, mremap, fork, MADV_DONTNEED ... For tests only: it
 * answers ENOTTY unless the module was loaded with ``test_access=1`` (or
 * root set /sys/module/pinmgr/parameters/test_access) before the file was
 * opened; INFO reports %PINMGR_CAP_TEST_ACCESS when it works. A write
 * that faults part-way stores only the bytes read from @buf before the
 * fault and fails with EFAULT.
 */
struct pinmgr_access {
	__u32 size;
	__u32 flags;
	__u32 handle;
	__u32 __reserved;
	__aligned_u64 offset;
	__aligned_u64 length;
	__aligned_u64 buf;
};

#define PINMGR_ACCESS _IOWR(PINMGR_TYPE, PINMGR_CMD_ACCESS, struct pinmgr_access)

/**
 * struct pinmgr_pin_range - one range of &struct pinmgr_pin_vec
 * @addr: user address of the first byte; any alignment
 * @length: length in bytes, not 0
 * @out_handle: handle of the range's region
 * @out_offset: offset of @addr in the first pinned page
 * @out_npages: number of pages pinned for this range
 *
 * The fields mean what they mean in &struct pinmgr_pin.
 */
struct pinmgr_pin_range {
	__aligned_u64 addr;
	__aligned_u64 length;
	__u32 out_handle;
	__u32 out_offset;
	__aligned_u64 out_npages;
};

/**
 * struct pinmgr_pin_vec - ioctl(PINMGR_PIN_VEC)
 * @size: sizeof(struct pinmgr_pin_vec)
 * @flags: &enum pinmgr_pin_flags, for every range
 * @count: number of ranges at @ranges, 1 to %PINMGR_PIN_VEC_MAX
 * @__reserved: must be 0
 * @ranges: user pointer to @count &struct pinmgr_pin_range, read for
 *	@addr and @length and written with the out_ fields
 *
 * Pins many ranges in one call, one region (and handle) per range, for
 * applications that register thousands of buffers at once. All or nothing:
 * if any range fails, every range pinned by this call is unpinned again,
 * the call fails with that range's errno, and the out_ fields of @ranges
 * are undefined. Each range counts against ``max_regions`` and
 * ``max_pages_per_pin`` as a PIN would.
 */
struct pinmgr_pin_vec {
	__u32 size;
	__u32 flags;
	__u32 count;
	__u32 __reserved;
	__aligned_u64 ranges;
};

#define PINMGR_PIN_VEC _IOWR(PINMGR_TYPE, PINMGR_CMD_PIN_VEC, struct pinmgr_pin_vec)

/**
 * enum pinmgr_event_kinds - bits of &struct pinmgr_event.kinds
 * @PINMGR_EVENT_UNMAP: the range was unmapped (munmap(), mremap() away,
 *	a mapping replaced by MAP_FIXED)
 * @PINMGR_EVENT_CLEAR: page table entries were cleared but the mapping
 *	stays (MADV_DONTNEED, MADV_FREE, truncation, copy-on-write replacing
 *	a page)
 * @PINMGR_EVENT_PROTECTION_VMA: the protection of the mapping changed
 *	(mprotect() to different rights)
 * @PINMGR_EVENT_PROTECTION_PAGE: the protection of some pages changed
 *	(fork() write-protecting the parent for copy-on-write, userfaultfd
 *	write protection)
 * @PINMGR_EVENT_SOFT_DIRTY: soft-dirty tracking was reset (clear_refs)
 * @PINMGR_EVENT_RELEASE: the process's address space is being torn down
 *	(exit or exec)
 * @PINMGR_EVENT_MIGRATE: pages were being migrated (never the pinned ones)
 * @PINMGR_EVENT_EXCLUSIVE: a device driver took exclusive access to pages
 * @PINMGR_EVENT_OTHER: a kind this module does not know (a newer kernel)
 *
 * The kernel reports that it is about to change page table entries of the
 * range; whether the pinned pages still back the mapping afterwards is
 * what %PINMGR_VERIFY tells. Some kinds are usually harmless
 * (PROTECTION_PAGE at fork(), SOFT_DIRTY), others never are (UNMAP).
 */
enum pinmgr_event_kinds {
	PINMGR_EVENT_UNMAP = 1 << 0,
	PINMGR_EVENT_CLEAR = 1 << 1,
	PINMGR_EVENT_PROTECTION_VMA = 1 << 2,
	PINMGR_EVENT_PROTECTION_PAGE = 1 << 3,
	PINMGR_EVENT_SOFT_DIRTY = 1 << 4,
	PINMGR_EVENT_RELEASE = 1 << 5,
	PINMGR_EVENT_MIGRATE = 1 << 6,
	PINMGR_EVENT_EXCLUSIVE = 1 << 7,
	PINMGR_EVENT_OTHER = 1 << 8,
};

/**
 * struct pinmgr_event - one record read() from the file
 * @handle: the region whose mapping changed
 * @flags: 0 for now
 * @kinds: &enum pinmgr_event_kinds seen since the region's previous record
 * @start: user address of the first byte of the changed range, clipped to
 *	the region's pages (page aligned)
 * @end: user address just past the changed range (page aligned); with
 *	several changes, @start..@end covers them all
 *
 * Every region watches its original range in the opener's address space
 * from PIN to UNPIN (or close), but those pinned with %PINMGR_PIN_NO_EVENTS
 * (and all of them on a file without %PINMGR_CAP_EVENTS). Changes are
 * coalesced: a region has at most one record pending, which accumulates
 * kinds and ranges until it is read, so the queue holds at most one
 * record per region and never overflows.
 * read() takes a buffer of whole records (EINVAL if smaller than one) and
 * returns as many as are pending and fit; it blocks until one is pending,
 * or fails with EAGAIN if the file is non-blocking. poll() reports EPOLLIN
 * while a record is pending. Only the opener's mm may read (EACCES). A
 * record is a hint; %PINMGR_VERIFY tells whether the pages still back the
 * mapping. Changes before PIN returned may be reported too.
 */
struct pinmgr_event {
	__u32 handle;
	__u32 flags;
	__aligned_u64 kinds;
	__aligned_u64 start;
	__aligned_u64 end;
};

/* &struct pinmgr_verify.out_first when every page still backs its address. */
#define PINMGR_VERIFY_NONE	(~(__u64)0)

/**
 * struct pinmgr_verify - ioctl(PINMGR_VERIFY)
 * @size: sizeof(struct pinmgr_verify)
 * @flags: must be 0
 * @handle: handle returned by PIN
 * @__reserved: must be 0
 * @out_npages: number of pages of the region (as &struct pinmgr_pin.out_npages)
 * @out_differ: number of those pages whose address no longer maps the
 *	pinned page
 * @out_first: index (from 0, counted from the region's first page) of the
 *	first such page, or %PINMGR_VERIFY_NONE if @out_differ is 0
 *
 * Tells whether the pinned pages still back the process's mapping: for
 * each page of the region's original range (&struct pinmgr_pin.addr and
 * length; a region does not follow mremap()), the module looks in the
 * opener's page tables, as they are at the moment of the call, for the
 * page mapped at that address. A page counts as backing its address only
 * if that address maps that very page with at least read access. Any other
 * state counts as differing: unmapped (munmap(), mremap() away,
 * MADV_DONTNEED, a hole), replaced by another page (copy-on-write, a new
 * mapping), not present (swapped out or under migration: a pinned page
 * never is, so its address maps another page or none), or mapped
 * ``PROT_NONE`` by mprotect(). A NUMA-balancing hinting entry (also
 * ``PROT_NONE`` in the page tables, but in a readable mapping) still maps
 * the page: the process's next access takes a hinting fault and finds the
 * same page, so it counts as backing on kernels whose GUP can follow such
 * entries (up to 6.5); from 6.6 on GUP always stops at them and they count
 * as differing. mprotect() to other non-``PROT_NONE`` rights keeps the
 * same page and counts as backing.
 *
 * Nothing is faulted in, pinned or charged; the pinned pages themselves are
 * untouched (a device keeps accessing them) whatever the answer. The answer
 * is a snapshot: another thread may change the mapping as the call
 * returns.
 */
struct pinmgr_verify {
	__u32 size;
	__u32 flags;
	__u32 handle;
	__u32 __reserved;
	__aligned_u64 out_npages;
	__aligned_u64 out_differ;
	__aligned_u64 out_first;
};

#define PINMGR_VERIFY _IOWR(PINMGR_TYPE, PINMGR_CMD_VERIFY, struct pinmgr_verify)

/**
 * struct pinmgr_update - ioctl(PINMGR_UPDATE)
 * @size: sizeof(struct pinmgr_update)
 * @flags: &enum pinmgr_pin_flags, for every range at @pin, and &enum
 *	pinmgr_update_flags
 * @nr_unpin: number of handles at @unpin, 0 to %PINMGR_UNPIN_VEC_MAX
 * @nr_pin: number of ranges at @pin, 0 to %PINMGR_PIN_VEC_MAX; @nr_unpin
 *	and @nr_pin may not both be 0
 * @unpin: user pointer to @nr_unpin __u32 handles of regions to unpin
 * @pin: user pointer to @nr_pin &struct pinmgr_pin_range, read for @addr
 *	and @length and written with the out_ fields, as for PIN_VEC
 *
 * One call per I/O for a driver that pins each buffer for the time of one
 * transfer: pin the next buffers and unpin those whose transfers are done
 * (or, with @nr_pin 0, unpin many regions at once). The handles are
 * checked first: each must name a region of this file, once (else
 * ENOENT, before anything is pinned). Then the ranges are pinned, as
 * PIN_VEC pins them; once all are pinned, the listed regions are unpinned
 * at once, as UNPIN would unpin each. So memory that is in both
 * lists stays pinned throughout, and for that moment the new pins count
 * against ``RLIMIT_MEMLOCK`` and ``max_regions`` beside the old ones, as
 * the kernel's own buffer updates (io_uring's, RDMA's re-registration) do.
 *
 * All or nothing: if a range cannot be pinned, or a listed region was
 * unpinned by another thread meanwhile (ENOENT) or is exported (EBUSY,
 * &struct pinmgr_export_dmabuf), every range pinned by
 * this call is unpinned again, no listed region is unpinned, the out_
 * fields of @pin are undefined and the call fails with that errno. Ranges
 * pinned and then undone have had what pinning does done to them (pages
 * faulted in, copy-on-write broken, pages moved out of ZONE_MOVABLE), as
 * after a failed PIN_VEC; until the call returns, their handles exist and
 * other threads may see them. As with UNPIN, if
 * another thread's QUERY, SEGMENTS, VERIFY or ACCESS uses a listed region,
 * the call returns once that call is done and the pages are released.
 *
 * With %PINMGR_UPDATE_REPLACE, for a driver that keeps a table of buffers
 * as io_uring's ``IORING_REGISTER_BUFFERS_UPDATE`` updates one: @nr_pin
 * must equal @nr_unpin (else EINVAL), and range i is pinned into a new
 * region that takes handle i over, in place of the region it named, which
 * is unpinned. A lookup of the handle by another thread finds the old
 * region or the new one, never none. The out_ fields of @pin are written
 * before anything is pinned (out_handle is handle i), and are undefined
 * after a failure; the rest is as above: the handles checked first, all
 * or nothing, the new pins counted beside the old ones for a moment, and
 * STATS counting a pin and an unpin per range. A change record
 * (&struct pinmgr_event) may be one of the old region if the read() was
 * under way when the call returned; a read() begun after that never
 * returns one.
 */
struct pinmgr_update {
	__u32 size;
	__u32 flags;
	__u32 nr_unpin;
	__u32 nr_pin;
	__aligned_u64 unpin;
	__aligned_u64 pin;
};

#define PINMGR_UPDATE _IOWR(PINMGR_TYPE, PINMGR_CMD_UPDATE, struct pinmgr_update)

/**
 * struct pinmgr_export_dmabuf - ioctl(PINMGR_EXPORT_DMABUF)
 * @size: sizeof(struct pinmgr_export_dmabuf)
 * @flags: must be 0
 * @handle: the region
 * @__reserved: must be 0
 * @offset: where the dma-buf starts, in bytes from the start of the
 *	region's first page (&struct pinmgr_pin.out_offset bytes before its
 *	address); a multiple of the page size
 * @length: the dma-buf's size in bytes: a multiple of the page size, not 0;
 *	@offset + @length must not be beyond the region's last page (else
 *	ERANGE)
 * @out_fd: the dma-buf's new file descriptor, close-on-exec
 * @__reserved2: must be 0
 *
 * Makes pinned pages of a region a dma-buf, which a kernel driver (an
 * importer: V4L2's ``V4L2_MEMORY_DMABUF``, DRM PRIME, RDMA's
 * ``ibv_reg_dmabuf_mr`` ...) attaches to and maps for its device. A
 * dma-buf is made of whole pages, as importers expect: for a region that
 * does not start on a page boundary, the buffer's first byte is at
 * out_offset in the dma-buf exported from @offset 0. The importer sees the
 * pinned pages themselves: its scatterlist has one entry per physically
 * contiguous run (a huge page is one entry, split only at the device's
 * largest segment). A region pinned with %PINMGR_PIN_WRITE
 * gives an ``O_RDWR`` dma-buf that any device may read and write; a
 * read-only pin gives an ``O_RDONLY`` one that devices may only read: a
 * mapping for any direction other than ``DMA_TO_DEVICE`` fails with
 * EACCES, and it has no kernel mapping (``vmap``: EINVAL), since kernel
 * importers write through theirs.
 *
 * While a dma-buf of a region exists, UNPIN and UPDATE of that region fail
 * with EBUSY. The region outlives the file: closing the file (or the exit
 * of its process) unpins every other region at once, and this one when the
 * last dma-buf made of it is released, by every process and driver that
 * holds it; its charge stays with the opener's user until then. Devices
 * keep DMA-ing to the pages the region pinned whatever the process does to
 * its mapping afterwards; divergence is reported on this file as for any
 * region (&struct pinmgr_event, %PINMGR_VERIFY).
 *
 * A handle is visible to the file's other threads from the moment its
 * region is pinned, before the call that pins it returns. If another
 * thread exports it and the call then fails (a later range of a PIN_VEC or
 * UPDATE, or the results cannot be written back), the call's undo cannot
 * unpin that region: it loses its handle at once (ENOENT from then on)
 * but stays pinned, charged and counted in @out_regions of STATS until
 * its last dma-buf is released and no call that looked it up before (a
 * SEGMENTS, QUERY or VERIFY under way) still uses it. This is the one
 * exception to "all or
 * nothing" of PIN, PIN_VEC and UPDATE. (If another thread replaces such a
 * region instead, %PINMGR_UPDATE_REPLACE, that unpins it, and the region
 * put under its handle stays: the failing call's undo leaves it alone.)
 *
 * Importers that map for both directions (DRM's PRIME import, RDMA's
 * ``ibv_reg_dmabuf_mr``) need a region pinned with %PINMGR_PIN_WRITE. A
 * dma-buf of more than 4M pages (16 GiB of 4 KiB pages), or of more pages
 * than the machine has RAM (a region of one page mapped at many addresses
 * can be), has no kernel mapping either (``vmap``: EINVAL): its page array
 * alone would be 32 MiB, and vmap() refuses more pages than there is RAM.
 *
 * Not supported: ``mmap()`` of the dma-buf (EINVAL from the dma-buf core;
 * EACCES from mmap() itself for a writable mapping of an ``O_RDONLY``
 * one): anonymous pages belong to one process's reverse map and cannot be
 * inserted into another's; the process reads the buffer through its own
 * mapping. Each attachment may have one mapping at a time (a second fails
 * with EBUSY); a device whose DMA segments are smaller than a page cannot
 * map it (EINVAL).
 */
struct pinmgr_export_dmabuf {
	__u32 size;
	__u32 flags;
	__u32 handle;
	__u32 __reserved;
	__aligned_u64 offset;
	__aligned_u64 length;
	__s32 out_fd;
	__u32 __reserved2;
};

#define PINMGR_EXPORT_DMABUF \
	_IOWR(PINMGR_TYPE, PINMGR_CMD_EXPORT_DMABUF, struct pinmgr_export_dmabuf)

#endif /* _UAPI_LINUX_PINMGR_H */
