// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzing the ioctls.
 *
 * First directed cases: every ioctl with its struct where the module can
 * not read or write it. Then the fuzzer: several threads issue random
 * sequences of every ioctl with random commands, struct sizes and tails,
 * flags, reserved fields, handles, addresses (valid, unmapped, kernel,
 * wrapping, huge, unaligned, overlapping, PROT_NONE, read-only, shared,
 * ext4) and lengths, interleaved with mmap, munmap, mremap,
 * madvise(DONTNEED), mprotect, close, dup, reopen and fork (the child
 * tries the inherited files, which must answer EACCES, pins through a file
 * of its own and exits).
 *
 * Each thread owns its memory (a reservation of "slots" nobody else maps
 * into) and its files, and keeps a model of both, so most results are
 * predicted exactly: the errno (in the order the ABI documents the checks),
 * QUERY's fields, STATS's counters, and what ACCESS reads and writes when
 * the pinned pages are still the ones mapped. Every errno must at least be
 * one the ABI documents for that ioctl. One file is shared by all threads:
 * there only the documented errnos and the consistency of what is
 * returned are checked. A thread never touches memory it does not own, so
 * the fuzzer cannot be killed by its own SIGSEGV.
 *
 * Seeded and reproducible: thread i draws from seed + i, so with
 * PINMGR_FUZZ_THREADS=1 and PINMGR_FUZZ_CALLS a run is replayed exactly
 * (with more threads only the interleaving on the shared file differs).
 *
 *   PINMGR_FUZZ_SEED     seed (default: from the clock; always printed)
 *   PINMGR_FUZZ_CALLS    stop after this many calls in all (default
 *                        1000000; 0: no limit)
 *   PINMGR_FUZZ_SECONDS  ... or after this many seconds (default 60)
 *   PINMGR_FUZZ_THREADS  threads (default 3)
 *
 * A call is an ioctl or a memory, file or process operation. On Debian's
 * kernel in the test VM (TCG, 2 CPUs) the default run makes its million
 * calls in 30-50 s; a debug kernel reaches about a seventh of that in the
 * 60 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mntent.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ---- errnos -------------------------------------------------------- */

/* The errnos of the ABI, as bits; anything else is a bug. */
enum {
	B_OK, B_EINVAL, B_E2BIG, B_EFAULT, B_EOVERFLOW, B_EACCES, B_ENOENT,
	B_ENOSPC, B_ENOMEM, B_EOPNOTSUPP, B_EPERM, B_EINTR, B_ERANGE, B_ENOTTY,
	B_OTHER,
};
#define M(b)	(1u << (b))

static int bit_of(int ret)
{
	switch (-ret) {
	case 0: return B_OK;
	case EINVAL: return B_EINVAL;
	case E2BIG: return B_E2BIG;
	case EFAULT: return B_EFAULT;
	case EOVERFLOW: return B_EOVERFLOW;
	case EACCES: return B_EACCES;
	case ENOENT: return B_ENOENT;
	case ENOSPC: return B_ENOSPC;
	case ENOMEM: return B_ENOMEM;
	case EOPNOTSUPP: return B_EOPNOTSUPP;
	case EPERM: return B_EPERM;
	case EINTR: return B_EINTR;
	case ERANGE: return B_ERANGE;
	case ENOTTY: return B_ENOTTY;
	}
	return B_OTHER;
}

static const char *mask_str(char *buf, size_t len, unsigned int mask)
{
	static const int errs[] = {
		0, EINVAL, E2BIG, EFAULT, EOVERFLOW, EACCES, ENOENT, ENOSPC,
		ENOMEM, EOPNOTSUPP, EPERM, EINTR, ERANGE, ENOTTY,
	};
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(errs); i++) {
		if (!(mask & M(i)))
			continue;
		off += snprintf(buf + off, len - off, "%s%s", off ? "|" : "",
				errs[i] ? h_errname(errs[i]) : "0");
		if (off >= len)
			break;
	}
	return buf;
}

/* What every ioctl may answer: the ABI's list per ioctl. */
#define M_COMMON	(M(B_OK) | M(B_EFAULT) | M(B_EINVAL) | M(B_E2BIG) | \
			 M(B_EACCES) | M(B_ENOTTY))
#define M_PIN_ANY	(M_COMMON | M(B_EOVERFLOW) | M(B_ENOSPC) | \
			 M(B_ENOMEM) | M(B_EOPNOTSUPP) | M(B_EINTR))
#define M_HANDLE_ANY	(M_COMMON | M(B_ENOENT))

/* ---- the calls, for the histogram --------------------------------- */

enum {
	C_INFO, C_PIN, C_UNPIN, C_QUERY, C_SEGMENTS, C_STATS, C_ACCESS,
	C_PIN_VEC, C_BADCMD, C_MMAP, C_MUNMAP, C_MREMAP, C_MADVISE,
	C_MPROTECT, C_CLOSE, C_DUP, C_REOPEN, C_FORK, C_NR,
};

static const char *const call_names[C_NR] = {
	"INFO", "PIN", "UNPIN", "QUERY", "SEGMENTS", "STATS", "ACCESS",
	"PIN_VEC", "bad command", "mmap", "munmap", "mremap", "madvise",
	"mprotect", "close", "dup", "reopen", "fork",
};

#define ERRNO_SLOTS 135		/* errno values 0..133, and "other" */

/* ---- the model of a thread's memory ------------------------------- */

#define NSLOTS		16
#define GUARD_SLOTS	2	/* at the end, always PROT_NONE */
#define SLOT_PAGES	640	/* > 512: PINs of a slot take two batches */

enum kind {
	K_NONE,		/* PROT_NONE (the reservation itself, or mprotect) */
	K_ANON_RW,	/* private anonymous, read-write */
	K_ANON_RO,	/* private anonymous, read-only */
	K_SHANON,	/* shared anonymous (shmem), read-write */
	K_MEMFD,	/* shared memfd (shmem file), read-write */
	K_EXT4,		/* shared ext4 file, read-write: written back */
	K_LOST,		/* a hole we could not refill: never touched again */
	K_EXT4_NONE,	/* shared ext4 file made PROT_NONE: still refused
			 * for writable pins (the policy looks at the VMA) */
	K_NR,
};

struct slot {
	uint8_t kind[SLOT_PAGES];
	uint32_t changed[SLOT_PAGES];	/* epoch of the last change */
	/*
	 * The memfd page a K_MEMFD page maps, else -1. Every slot maps the
	 * memfd from offset 0 and mremap() carries pages over with their
	 * offsets, so two pages of one range can map the same memfd page.
	 */
	int16_t foff[SLOT_PAGES];
};

#define MAX_REGIONS	96	/* per file, in the model */
#define MAX_FDS		3	/* per file: the fd and its dups */
#define MAX_OWN_PAGES	8192	/* pinned through one thread's files */

struct region {
	uint32_t handle;
	uint32_t flags;
	uint64_t addr, len, npages;
	uint32_t epoch;		/* when it was pinned */
};

struct file {
	int fds[MAX_FDS];
	int nfds;
	bool shared;		/* the file all threads use: loose checks */
	struct region r[MAX_REGIONS];
	int nr;
	uint64_t pinned;	/* pages, sum over r[] */
	uint64_t pins;		/* PINs that got past the argument checks */
	bool pins_unknown;	/* ... unless the model could not tell */
};

#define RING 12
#define MRING 64
#define FORK_EVERY 100000	/* calls, on average, per thread */

struct thr {
	pthread_t t;
	int idx;
	uint64_t rng;
	char *base;		/* the reservation: (NSLOTS + GUARD_SLOTS) slots */
	size_t slot_bytes;
	struct slot slots[NSLOTS + GUARD_SLOTS];
	uint32_t epoch;
	int memfd, ext4fd;
	struct file files[3];	/* [0] shared, [1] and [2] this thread's */
	/* struct placement */
	char *scratch;		/* 2 pages rw, then a PROT_NONE page */
	char *ro;		/* read-only view of rw_alias: structs */
	char *rw_alias;		/* writable view of the same page */
	char *ro2, *rw_alias2;	/* the same, for PIN_VEC's ranges */
	char *io;		/* ACCESS and SEGMENTS buffers */
	size_t io_len;
	uint64_t calls;
	uint64_t hist[C_NR][ERRNO_SLOTS];
	double time[C_NR];	/* seconds spent per kind of call */
	char ring[RING][200];	/* the last calls, for the failure message */
	unsigned int ring_pos;
	struct {
		int slot, slot2;	/* slots it changed */
		char txt[120];
	} mring[MRING];		/* the last memory changes */
	unsigned int mring_pos;
	bool is_child;
	int cur;		/* the kind of the last call counted */
};

static struct {
	uint64_t seed;
	double seconds;
	uint64_t max_calls;
	int nthreads;
	atomic_uint_fast64_t calls;
	atomic_bool stop;
	double t_end;
	struct thr *thr;
	int shared_fd;
	bool have_ext4;
	char ext4_dir[256];
	uint64_t max_pages;	/* INFO out_max_pages_per_pin */
	uint64_t max_regions;
	uint64_t task_size;	/* TASK_SIZE: 4- or 5-level paging */
} F;

/* ---- helpers ------------------------------------------------------ */

static uint64_t rnd(struct thr *t)
{
	/* splitmix64 */
	uint64_t z = (t->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rn(struct thr *t, uint64_t n)
{
	return n ? rnd(t) % n : 0;
}

static bool chance(struct thr *t, unsigned int percent)
{
	return rn(t, 100) < percent;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static __attribute__((format(printf, 2, 3)))
void note(struct thr *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->ring[t->ring_pos % RING], sizeof(t->ring[0]), fmt, ap);
	va_end(ap);
	t->ring_pos++;
}

/* Remembers a change of the memory of slots @s and @s2. */
static __attribute__((format(printf, 4, 5)))
void mnote(struct thr *t, int s, int s2, const char *fmt, ...)
{
	unsigned int i = t->mring_pos++ % MRING;
	va_list ap;

	t->mring[i].slot = s;
	t->mring[i].slot2 = s2;
	va_start(ap, fmt);
	vsnprintf(t->mring[i].txt, sizeof(t->mring[i].txt), fmt, ap);
	va_end(ap);
}

/* Fails the case from a fuzzing thread, with its last calls. */
#define FZ_FAIL(t, fmt, ...)						\
	do {								\
		fz_dump(t);						\
		h_fail("thread %d, call %" PRIu64 ": " fmt, (t)->idx,	\
		       (t)->calls, ##__VA_ARGS__);			\
	} while (0)

static void fz_dump(struct thr *t)
{
	unsigned int i, n = t->ring_pos < RING ? t->ring_pos : RING;

	atomic_store(&F.stop, true);
	if (t->is_child)
		return;
	for (i = t->ring_pos - n; i != t->ring_pos; i++)
		h_diag("thread %d recent: %s", t->idx, t->ring[i % RING]);
}

static void count(struct thr *t, int call, int ret)
{
	int e = -ret;

	if (e < 0 || e >= ERRNO_SLOTS - 1)
		e = ERRNO_SLOTS - 1;
	t->hist[call][e]++;
	t->calls++;
	t->cur = call;
	atomic_fetch_add_explicit(&F.calls, 1, memory_order_relaxed);
}

/* Checks @ret against @expect and against the ABI's list for @call. */
static void check_ret(struct thr *t, int call, int ret, unsigned int expect,
		      unsigned int abi)
{
	char b1[32], b2[200];

	count(t, call, ret);
	if (!(abi & M(bit_of(ret))))
		FZ_FAIL(t, "%s returned %s, which the ABI does not list for it",
			call_names[call], h_retstr(b1, sizeof(b1), ret));
	if (!(expect & M(bit_of(ret))))
		FZ_FAIL(t, "%s returned %s, expected %s", call_names[call],
			h_retstr(b1, sizeof(b1), ret),
			mask_str(b2, sizeof(b2), expect));
}

/* ---- memory ------------------------------------------------------- */

static char *slot_addr(struct thr *t, int s)
{
	return t->base + (size_t)s * t->slot_bytes;
}

static int kind_prot(int k)
{
	switch (k) {
	case K_ANON_RO:
		return PROT_READ;
	case K_NONE:
	case K_EXT4_NONE:
	case K_LOST:
		return PROT_NONE;
	default:
		return PROT_READ | PROT_WRITE;
	}
}

/* The page of the reservation at @addr: its kind, or -1 outside it. */
static int page_kind(struct thr *t, uint64_t addr)
{
	uint64_t off = addr - (uintptr_t)t->base;

	if (addr < (uintptr_t)t->base ||
	    off >= (NSLOTS + GUARD_SLOTS) * t->slot_bytes)
		return -1;
	return t->slots[off / t->slot_bytes].kind[off % t->slot_bytes / h_ps];
}

static void set_pages(struct thr *t, int s, size_t first, size_t n, int kind)
{
	size_t i;

	t->epoch++;
	for (i = first; i < first + n; i++) {
		t->slots[s].kind[i] = kind;
		t->slots[s].changed[i] = t->epoch;
		t->slots[s].foff[i] = -1;
	}
}

static void touch_pages(struct thr *t, int s, size_t first, size_t n)
{
	t->epoch++;
	for (size_t i = first; i < first + n; i++)
		t->slots[s].changed[i] = t->epoch;
}

/* Have the pages under [addr, addr+len) been remapped, zapped or
 * reprotected since @epoch? (Only asked of ranges inside the slots.) */
static bool changed_since(struct thr *t, uint64_t addr, uint64_t len,
			  uint32_t epoch)
{
	uint64_t a;

	for (a = addr & ~(uint64_t)(h_ps - 1); a < addr + len; a += h_ps) {
		uint64_t off = a - (uintptr_t)t->base;

		if (t->slots[off / t->slot_bytes].changed[off % t->slot_bytes / h_ps] >= epoch)
			return true;
	}
	return false;
}

/* Maps @kind over @n pages of slot @s from @first. */
static int map_kind(struct thr *t, int s, size_t first, size_t n, int kind)
{
	char *a = slot_addr(t, s) + first * h_ps;
	int flags = MAP_FIXED, fd = -1;
	off_t off = 0;
	void *p;

	switch (kind) {
	case K_NONE:
	case K_ANON_RW:
	case K_ANON_RO:
		flags |= MAP_PRIVATE | MAP_ANONYMOUS;
		break;
	case K_SHANON:
		flags |= MAP_SHARED | MAP_ANONYMOUS;
		break;
	case K_MEMFD:
		flags |= MAP_SHARED;
		fd = t->memfd;
		off = first * h_ps;
		break;
	case K_EXT4:
		flags |= MAP_SHARED;
		fd = t->ext4fd;
		off = first * h_ps;
		break;
	}
	p = mmap(a, n * h_ps, kind_prot(kind), flags, fd, off);
	if (p == MAP_FAILED)
		return -errno;
	if (kind != K_NONE)
		madvise(p, n * h_ps, MADV_NOHUGEPAGE);
	set_pages(t, s, first, n, kind);
	if (kind == K_MEMFD)
		for (size_t i = first; i < first + n; i++)
			t->slots[s].foff[i] = (int16_t)i;
	return 0;
}

/* Puts PROT_NONE back over a hole left by munmap or mremap, without
 * clobbering whatever another thread may have mapped there meanwhile. */
static void refill(struct thr *t, int s, size_t first, size_t n)
{
	void *a = slot_addr(t, s) + first * h_ps;
	void *p = mmap(a, n * h_ps, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == a) {
		set_pages(t, s, first, n, K_NONE);
		return;
	}
	if (p != MAP_FAILED)
		munmap(p, n * h_ps);	/* an old kernel ignoring the flag */
	mnote(t, s, s, "refill slot %d pages %zu+%zu failed: lost", s, first, n);
	set_pages(t, s, first, n, K_LOST);
}

static bool slot_has(struct thr *t, int s, size_t first, size_t n, int kind)
{
	size_t i;

	for (i = first; i < first + n; i++)
		if (t->slots[s].kind[i] == kind)
			return true;
	return false;
}

static int pick_kind(struct thr *t)
{
	static const int kinds[] = {
		K_ANON_RW, K_ANON_RW, K_ANON_RW, K_ANON_RO, K_SHANON, K_MEMFD,
		K_EXT4, K_NONE,
	};
	int k = kinds[rn(t, ARRAY_SIZE(kinds))];

	if (k == K_EXT4 && t->ext4fd < 0)
		k = K_MEMFD;
	return k;
}

/* A random page range inside one slot. */
static void pick_pages(struct thr *t, int *s, size_t *first, size_t *n)
{
	*s = rn(t, NSLOTS);
	if (chance(t, 5)) {
		*first = 0;
		*n = SLOT_PAGES;
		return;
	}
	*first = rn(t, SLOT_PAGES);
	*n = 1 + rn(t, chance(t, 70) ? 16 : SLOT_PAGES - *first);
	if (*first + *n > SLOT_PAGES)
		*n = SLOT_PAGES - *first;
}

static void op_mmap(struct thr *t)
{
	int s, kind = pick_kind(t), ret;
	size_t first, n;

	pick_pages(t, &s, &first, &n);
	if (slot_has(t, s, first, n, K_LOST))
		return;
	ret = map_kind(t, s, first, n, kind);
	note(t, "mmap slot %d pages %zu+%zu kind %d -> %d", s, first, n, kind,
	     ret);
	mnote(t, s, s, "call %" PRIu64 ": mmap slot %d pages %zu+%zu kind %d -> %d",
	      t->calls, s, first, n, kind, ret);
	count(t, C_MMAP, ret);
	if (ret)
		FZ_FAIL(t, "mmap(MAP_FIXED) in the reservation: %s",
			h_errname(-ret));
	if ((kind == K_ANON_RW || kind == K_SHANON || kind == K_MEMFD) &&
	    chance(t, 60)) {
		/* fault some of it in (the rest is left to GUP) */
		size_t i, c = rn(t, 256);

		for (i = 0; i < n; i += 1 + rn(t, 3))
			slot_addr(t, s)[(first + i) * h_ps + rn(t, h_ps)] = c;
	}
}

static void op_munmap(struct thr *t)
{
	int s, ret;
	size_t first, n;

	pick_pages(t, &s, &first, &n);
	if (slot_has(t, s, first, n, K_LOST))
		return;
	ret = munmap(slot_addr(t, s) + first * h_ps, n * h_ps) ? -errno : 0;
	note(t, "munmap slot %d pages %zu+%zu -> %d", s, first, n, ret);
	mnote(t, s, s, "call %" PRIu64 ": munmap slot %d pages %zu+%zu -> %d",
	      t->calls, s, first, n, ret);
	count(t, C_MUNMAP, ret);
	if (ret)
		FZ_FAIL(t, "munmap in the reservation: %s", h_errname(-ret));
	refill(t, s, first, n);
}

/* Moves a run of one kind to another slot; its old place becomes a hole
 * that is refilled. Fails (EFAULT) if the run spans two VMAs. */
static void op_mremap(struct thr *t)
{
	int16_t foff[SLOT_PAGES];
	int s, d, kind, ret;
	size_t first, n, to, i;
	void *p;

	pick_pages(t, &s, &first, &n);
	kind = t->slots[s].kind[first];
	if (kind == K_NONE || kind == K_LOST)
		return;
	for (i = 1; i < n && t->slots[s].kind[first + i] == kind; i++)
		;
	n = i;
	d = rn(t, NSLOTS);
	to = rn(t, SLOT_PAGES - n + 1);
	if (d == s && to < first + n && first < to + n)
		return;		/* overlapping move: EINVAL, uninteresting */
	if (slot_has(t, d, to, n, K_LOST))
		return;
	p = mremap(slot_addr(t, s) + first * h_ps, n * h_ps, n * h_ps,
		   MREMAP_MAYMOVE | MREMAP_FIXED, slot_addr(t, d) + to * h_ps);
	ret = p == MAP_FAILED ? -errno : 0;
	note(t, "mremap slot %d pages %zu+%zu kind %d to slot %d page %zu -> %d",
	     s, first, n, kind, d, to, ret);
	mnote(t, s, d, "call %" PRIu64 ": mremap slot %d pages %zu+%zu kind %d to slot %d page %zu -> %d",
	      t->calls, s, first, n, kind, d, to, ret);
	count(t, C_MREMAP, ret);
	if (ret == -EFAULT) {
		/*
		 * The run was two VMAs (or more). MREMAP_FIXED unmapped the
		 * destination before it looked at the source, though
		 * (mremap_to()): a hole there now.
		 */
		refill(t, d, to, n);
		return;
	}
	if (ret)
		FZ_FAIL(t, "mremap in the reservation: %s", h_errname(-ret));
	/* the pages keep their kind (and memfd pages) at their new place */
	memcpy(foff, &t->slots[s].foff[first], n * sizeof(foff[0]));
	t->epoch++;
	for (i = 0; i < n; i++) {
		t->slots[d].kind[to + i] = kind;
		t->slots[d].changed[to + i] = t->epoch;
		t->slots[d].foff[to + i] = foff[i];
	}
	refill(t, s, first, n);
}

static void op_madvise(struct thr *t)
{
	int s, ret;
	size_t first, n;

	pick_pages(t, &s, &first, &n);
	if (slot_has(t, s, first, n, K_LOST))
		return;
	ret = madvise(slot_addr(t, s) + first * h_ps, n * h_ps,
		      MADV_DONTNEED) ? -errno : 0;
	note(t, "madvise DONTNEED slot %d pages %zu+%zu -> %d", s, first, n,
	     ret);
	mnote(t, s, s, "call %" PRIu64 ": madvise slot %d pages %zu+%zu -> %d",
	      t->calls, s, first, n, ret);
	count(t, C_MADVISE, ret);
	if (ret)
		FZ_FAIL(t, "madvise(DONTNEED): %s", h_errname(-ret));
	touch_pages(t, s, first, n);
}

/* Private anonymous pages switch between read-write and read-only; any
 * page can become PROT_NONE. */
static void op_mprotect(struct thr *t)
{
	int s, kind, to, ret;
	size_t first, n, i;

	pick_pages(t, &s, &first, &n);
	kind = t->slots[s].kind[first];
	for (i = 1; i < n && t->slots[s].kind[first + i] == kind; i++)
		;
	n = i;
	if (kind == K_LOST)
		return;
	if (chance(t, 20))
		to = kind == K_EXT4 || kind == K_EXT4_NONE ? K_EXT4_NONE : K_NONE;
	else if (kind == K_ANON_RW)
		to = K_ANON_RO;
	else if (kind == K_ANON_RO)
		to = K_ANON_RW;
	else
		return;
	ret = mprotect(slot_addr(t, s) + first * h_ps, n * h_ps,
		       kind_prot(to)) ? -errno : 0;
	note(t, "mprotect slot %d pages %zu+%zu %d -> %d: %d", s, first, n,
	     kind, to, ret);
	mnote(t, s, s, "call %" PRIu64 ": mprotect slot %d pages %zu+%zu %d -> %d: %d",
	      t->calls, s, first, n, kind, to, ret);
	count(t, C_MPROTECT, ret);
	if (ret)
		FZ_FAIL(t, "mprotect: %s", h_errname(-ret));
	set_pages(t, s, first, n, to);
}

/* ---- ranges and what PIN makes of them ---------------------------- */

#define TASK_SIZE_4L	((1ULL << 47) - 4096)	/* x86-64, 4-level paging */
#define TASK_SIZE_5L	((1ULL << 56) - 4096)	/* 5-level */

static uint64_t pages_of(uint64_t addr, uint64_t len)
{
	return (addr + len + h_ps - 1) / h_ps - addr / h_ps;
}

/*
 * What PIN (or one range of PIN_VEC) must return for [addr, addr+len), in
 * the order the ABI lists its checks; a set where the model cannot tell.
 * *@counted: 1 if the call gets past the argument checks (and so counts as
 * a pin or a failed pin), 0 if not, -1 if the model cannot tell.
 */
static unsigned int expect_pin(struct thr *t, struct file *f, uint64_t addr,
			       uint64_t len, bool write, int *counted)
{
	bool ext4 = false, fault = false;
	uint64_t a, end;

	*counted = 0;
	if (!len)
		return M(B_EINVAL);
	if (addr + len < addr)
		return M(B_EOVERFLOW);
	if (addr + len > F.task_size)
		return M(B_EFAULT);
	if (pages_of(addr, len) > F.max_pages)
		return M(B_E2BIG);
	*counted = 1;
	if (f->nr >= (int)F.max_regions)
		return M(B_ENOSPC);
	end = addr + len;
	for (a = addr & ~(uint64_t)(h_ps - 1); a < end; a += h_ps) {
		int k = page_kind(t, a);

		if (k < 0) {
			/* below mmap_min_addr nothing is ever mapped */
			if (a >= 65536) {
				*counted = -1;
				return M_PIN_ANY;
			}
			fault = true;
			continue;
		}
		if (k == K_LOST) {
			*counted = -1;
			return M_PIN_ANY;
		}
		if ((k == K_EXT4 || k == K_EXT4_NONE) && write)
			ext4 = true;
		if (k == K_NONE || k == K_EXT4_NONE ||
		    (k == K_ANON_RO && write))
			fault = true;
	}
	if (ext4)
		return M(B_EOPNOTSUPP);
	return fault ? M(B_EFAULT) : M(B_OK);
}

/* For a failure message: the model's kinds and /proc/self/maps there. */
static void explain_range(struct thr *t, uint64_t addr, uint64_t len)
{
	static const char kc[] = "-wrsmeLE";
	char line[512], kinds[160];
	uint64_t a, end = addr + len;
	size_t n = 0;
	FILE *m;

	if (len > 64 * (uint64_t)h_ps || addr + len < addr)
		end = addr + 64 * h_ps;
	for (a = addr & ~(uint64_t)(h_ps - 1); a < end && n < sizeof(kinds) - 1;
	     a += h_ps) {
		int k = page_kind(t, a);

		kinds[n++] = k < 0 ? '?' : kc[k];
	}
	kinds[n] = '\0';
	h_diag("thread %d: model of %#llx+%#llx, per page (- none, w anon rw, r anon ro, s shared anon, m memfd, e ext4, E ext4 PROT_NONE, L lost, ? outside): %s",
	       t->idx, (unsigned long long)addr, (unsigned long long)len,
	       kinds);
	{
		uint64_t off = addr - (uintptr_t)t->base;
		int s0 = off / t->slot_bytes, s1 = (off + len - 1) / t->slot_bytes;
		unsigned int i, nm = t->mring_pos < MRING ? t->mring_pos : MRING;

		h_diag("thread %d: slots %d..%d (base %p, %zu bytes each); their last changes:",
		       t->idx, s0, s1, t->base, t->slot_bytes);
		for (i = t->mring_pos - nm; i != t->mring_pos; i++) {
			int a = t->mring[i % MRING].slot;
			int b = t->mring[i % MRING].slot2;

			if ((a >= s0 && a <= s1) || (b >= s0 && b <= s1))
				h_diag("  %s", t->mring[i % MRING].txt);
		}
	}
	m = fopen("/proc/self/maps", "r");
	while (m && fgets(line, sizeof(line), m)) {
		unsigned long long lo, hi;

		if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && lo < end &&
		    hi > addr) {
			line[strcspn(line, "\n")] = '\0';
			h_diag("maps: %s", line);
		}
	}
	if (m)
		fclose(m);
}

/* A random range: mostly in the slots, sometimes anything. */
static void gen_range(struct thr *t, __u64 *addr, __u64 *len)
{
	uint64_t base = (uintptr_t)t->base, r = rn(t, 100);
	uint64_t off = rn(t, NSLOTS * t->slot_bytes);

	if (chance(t, 50))
		off &= ~(uint64_t)(h_ps - 1);
	*addr = base + off;
	if (r < 68)
		*len = 1 + rn(t, 4 * h_ps);
	else if (r < 78)
		*len = 1 + rn(t, 64 * h_ps);
	else if (r < 80 && chance(t, 50))
		*len = (512 + rn(t, 200)) * h_ps - rn(t, h_ps);
	else if (r < 81 && chance(t, 30))
		*len = 1 + rn(t, 2 * t->slot_bytes);
	else if (r < 81)
		*len = 1 + rn(t, 4 * h_ps);
	else if (r < 84) {
		*addr = 4096 + rn(t, 60000);		/* never mapped */
		*len = 1 + rn(t, 8 * h_ps);
	} else if (r < 86) {
		*addr = 0;
		*len = 1 + rn(t, 8 * h_ps);
	} else if (r < 88) {
		*addr = 0xffff888000000000ULL + rn(t, 1ULL << 40);	/* kernel */
		*len = 1 + rn(t, 8 * h_ps);
	} else if (r < 90) {
		*addr = F.task_size - rn(t, 4 * h_ps);
		*len = 1 + rn(t, 8 * h_ps);
	} else if (r < 92) {
		*len = UINT64_MAX - *addr + 1 + rn(t, 2 * h_ps);	/* wraps */
	} else if (r < 94) {
		*len = (F.max_pages + 1 + rn(t, 1 << 20)) * h_ps;	/* E2BIG */
	} else if (r < 96) {
		*len = 0;
	} else if (r < 98) {
		*len = rnd(t);
	} else {
		*len = F.task_size - *addr;
	}
}

/* ---- issuing an ioctl --------------------------------------------- */

/*
 * The struct goes to the thread's scratch page; the call may also be
 * issued with another command word, another @size, a tail, or with the
 * struct somewhere the module cannot read or write it. Returns what the
 * dispatcher decides before the handler runs (a mask), or 0 if the handler
 * runs; *@wb is false when the module cannot write the struct back.
 */
struct issue {
	unsigned long cmd;
	void *ptr;		/* where the struct is */
	uint32_t size;		/* the @size field */
	unsigned int pre;	/* expected if decided before the handler */
	bool wb;		/* the struct can be written back */
	bool normal;		/* at the start of scratch: compare after */
	size_t ksize;
};

/* The first version of each struct: smaller sizes are EINVAL. */
#define OFFSETOFEND(type, field) \
	(offsetof(type, field) + sizeof(((type *)0)->field))

static size_t min_size(int nr)
{
	switch (nr) {
	case PINMGR_CMD_INFO:
		return OFFSETOFEND(struct pinmgr_info, out_max_regions);
	case PINMGR_CMD_PIN:
		return OFFSETOFEND(struct pinmgr_pin, out_npages);
	case PINMGR_CMD_UNPIN:
		return OFFSETOFEND(struct pinmgr_unpin, __reserved);
	case PINMGR_CMD_QUERY:
		return OFFSETOFEND(struct pinmgr_query, __reserved);
	case PINMGR_CMD_SEGMENTS:
		return OFFSETOFEND(struct pinmgr_segments, out_total);
	case PINMGR_CMD_STATS:
		return OFFSETOFEND(struct pinmgr_stats, out_failed_pins);
	case PINMGR_CMD_ACCESS:
		return OFFSETOFEND(struct pinmgr_access, buf);
	case PINMGR_CMD_PIN_VEC:
		return OFFSETOFEND(struct pinmgr_pin_vec, ranges);
	}
	return 0;
}

/* Command numbers from here on are not (yet) in the ABI. */
#define UNKNOWN_NR	0x80

static unsigned long cmd_of(int nr, size_t size)
{
	return _IOC(_IOC_READ | _IOC_WRITE, PINMGR_TYPE, nr, size);
}

/*
 * Writes the struct @s (@ksize bytes) where the call will find it: most
 * often as is at the start of the scratch pages; sometimes with another
 * command word, another @size (smaller, or larger with a zero or non-zero
 * tail, or huge and running into the guard page), cut off by the guard
 * page, read-only, or at an address that cannot be read at all. @s gets
 * the @size used. Sets what the dispatcher must answer before the handler
 * runs (is->pre, 0 if the handler runs).
 */
static void prepare(struct thr *t, struct issue *is, int nr, void *s,
		    size_t ksize)
{
	uint32_t r = rn(t, 1000), c = rn(t, 1000);
	char *sc = t->scratch, *end = t->scratch + 2 * h_ps;
	unsigned int pre = 0;
	size_t extra;

	is->ksize = ksize;
	is->cmd = cmd_of(nr, ksize);
	is->ptr = sc;
	is->size = ksize;
	is->wb = true;
	is->normal = true;
	if (c < 8) {
		/* wrong direction, type or number */
		switch (rn(t, 4)) {
		case 0:
			is->cmd = _IOC(_IOC_WRITE, PINMGR_TYPE, nr, ksize);
			break;
		case 1:
			is->cmd = _IOC(_IOC_READ, PINMGR_TYPE, nr, ksize);
			break;
		case 2:
			is->cmd = _IOC(_IOC_READ | _IOC_WRITE,
				       PINMGR_TYPE + 1 + rn(t, 60), nr, ksize);
			break;
		default:
			is->cmd = cmd_of(UNKNOWN_NR + rn(t, 0x80), ksize);
			break;
		}
	} else if (c < 16) {
		/* the size in the command word is not used */
		is->cmd = cmd_of(nr, rn(t, 1 << 14));
	}

	if (r < 20) {
		/* smaller: older userspace (zero-extended), or too small */
		is->size = chance(t, 50) ? min_size(nr) + rn(t, ksize - min_size(nr)) :
					   rn(t, min_size(nr));
		*(uint32_t *)s = is->size;
		memcpy(sc, s, ksize);
		if (is->size < min_size(nr))
			pre = M(B_EINVAL);
	} else if (r < 55) {
		/* newer userspace: a tail, zero or not */
		extra = 8 * (1 + rn(t, 8));
		is->size = ksize + extra;
		*(uint32_t *)s = is->size;
		memcpy(sc, s, ksize);
		memset(sc + ksize, 0, extra);
		if (r >= 40) {
			sc[ksize + rn(t, extra)] = 1 + rn(t, 255);
			pre = M(B_E2BIG);
		}
	} else if (r < 65) {
		/* huge, zero up to the guard page: past a page, E2BIG */
		is->size = 0x10000 + rn(t, UINT32_MAX - 0x10000);
		*(uint32_t *)s = is->size;
		is->ptr = end - ksize - 64;
		memcpy(is->ptr, s, ksize);
		memset((char *)is->ptr + ksize, 0, 64);
		is->normal = false;
		pre = M(B_E2BIG);
	} else if (r < 75) {
		/* cut off by the guard page after at least @size */
		size_t keep = 4 + rn(t, ksize - 4);

		is->ptr = end - keep;
		memcpy(is->ptr, s, keep);
		is->normal = false;
		pre = M(B_EFAULT);
	} else if (r < 95) {
		/* read-only: read fine, cannot be written back */
		memcpy(t->rw_alias, s, ksize);
		is->ptr = t->ro;
		is->wb = false;
		is->normal = false;
	} else if (r < 100) {
		static const uint64_t bad[] = {
			0, 4096, 0xffffffff81000000ULL, 0x800000000000ULL,
		};

		is->ptr = chance(t, 20) ? slot_addr(t, NSLOTS) :
			  (void *)(uintptr_t)bad[rn(t, ARRAY_SIZE(bad))];
		is->normal = false;
		pre = M(B_EFAULT);
	} else {
		memcpy(sc, s, ksize);
	}
	if (c < 8)
		pre = M(B_ENOTTY);	/* before anything else */
	is->pre = pre;
}

static int do_ioctl(int fd, struct issue *is)
{
	return ioctl(fd, is->cmd, is->ptr) < 0 ? -errno : 0;
}

/* The struct as the module left it (for a normal placement). */
static void *result(struct issue *is)
{
	return is->ptr;
}

/*
 * After a failure the struct is as userspace wrote it; after a success
 * nothing past min(@size, the module's size) was written (a zero tail is
 * still zero, the bytes past a smaller @size are untouched).
 */
static void check_struct(struct thr *t, struct issue *is, const void *s,
			 int ret, int call)
{
	size_t i;

	if (!is->normal)
		return;
	if (ret && memcmp(is->ptr, s, is->ksize))
		FZ_FAIL(t, "%s failed but changed the struct", call_names[call]);
	if (ret)
		return;
	for (i = is->ksize; i < is->size; i++)
		if (t->scratch[i])
			FZ_FAIL(t, "%s wrote past its struct into the tail (@size %u)",
				call_names[call], is->size);
	if (is->size < is->ksize &&
	    memcmp(t->scratch + is->size, (const char *)s + is->size,
		   is->ksize - is->size))
		FZ_FAIL(t, "%s wrote past @size %u", call_names[call],
			is->size);
}

/* ---- the files ---------------------------------------------------- */

static struct file *pick_file(struct thr *t)
{
	struct file *f;
	int i = rn(t, 10);

	f = &t->files[i < 3 ? 0 : i < 7 ? 1 : 2];
	if (!f->nfds)
		f = &t->files[0];
	return f;
}

static int file_fd(struct thr *t, struct file *f)
{
	return f->fds[rn(t, f->nfds)];
}

static void model_add(struct thr *t, struct file *f, uint32_t handle,
		      uint64_t addr, uint64_t len, uint32_t flags)
{
	struct region *r;

	if (f->nr == MAX_REGIONS)
		FZ_FAIL(t, "model full");
	r = &f->r[f->nr++];
	r->handle = handle;
	r->addr = addr;
	r->len = len;
	r->flags = flags;
	r->npages = pages_of(addr, len);
	r->epoch = t->epoch + 1;
	f->pinned += r->npages;
	t->epoch++;
}

static void model_del(struct file *f, int i)
{
	f->pinned -= f->r[i].npages;
	f->r[i] = f->r[--f->nr];
}

static int model_find(struct file *f, uint32_t handle)
{
	int i;

	for (i = 0; i < f->nr; i++)
		if (f->r[i].handle == handle)
			return i;
	return -1;
}

static uint64_t own_pages(struct thr *t)
{
	return t->files[0].pinned + t->files[1].pinned + t->files[2].pinned;
}

/* A handle to use: mostly a live one, sometimes a stale or random one. */
static uint32_t pick_handle(struct thr *t, struct file *f, int *idx)
{
	*idx = -1;
	if (f->nr && chance(t, 85)) {
		*idx = rn(t, f->nr);
		return f->r[*idx].handle;
	}
	switch (rn(t, 3)) {
	case 0:
		return 0;
	case 1:
		return 1 + rn(t, 1000);
	default:
		return (uint32_t)rnd(t);
	}
}

/* ---- the ioctls --------------------------------------------------- */

static void count_pins(struct file *f, int counted, uint64_t n)
{
	if (counted < 0)
		f->pins_unknown = true;
	else
		f->pins += counted ? n : 0;
}

static void op_info(struct thr *t, struct file *f)
{
	struct pinmgr_info in, *out;
	struct issue is;
	unsigned int expect;
	int ret;

	memset(&in, 0, sizeof(in));
	in.size = sizeof(in);
	in.flags = chance(t, 5) ? 1u << rn(t, 32) : 0;
	prepare(t, &is, PINMGR_CMD_INFO, &in, sizeof(in));
	expect = is.pre ? is.pre : in.flags ? M(B_EINVAL) :
		 is.wb ? M(B_OK) : M(B_EFAULT);
	note(t, "INFO flags %#x size %u cmd %#lx ptr %p", in.flags, is.size,
	     is.cmd, is.ptr);
	ret = do_ioctl(file_fd(t, f), &is);
	check_ret(t, C_INFO, ret, expect, M_COMMON);
	check_struct(t, &is, &in, ret, C_INFO);
	if (ret)
		return;
	out = result(&is);
	if (out->out_abi_version != PINMGR_ABI_VERSION ||
	    out->out_page_size != h_ps ||
	    out->out_max_pages_per_pin != F.max_pages ||
	    !(out->out_caps & PINMGR_CAP_TEST_ACCESS))
		FZ_FAIL(t, "INFO: abi %u page size %u max pages %llu caps %#llx",
			out->out_abi_version, out->out_page_size,
			(unsigned long long)out->out_max_pages_per_pin,
			(unsigned long long)out->out_caps);
}

/* The pin flags the module knows. */
#define KNOWN_PIN_FLAGS (PINMGR_PIN_WRITE | PINMGR_PIN_NO_EVENTS)

static uint32_t gen_pin_flags(struct thr *t)
{
	if (chance(t, 3))
		return (uint32_t)rnd(t) | 4;	/* a bit past the known ones */
	return (chance(t, 50) ? PINMGR_PIN_WRITE : 0) |
	       (chance(t, 25) ? PINMGR_PIN_NO_EVENTS : 0);
}

static void op_pin(struct thr *t, struct file *f)
{
	struct pinmgr_pin p, *out;
	struct issue is;
	unsigned int expect;
	int ret, counted = 0;

	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.flags = gen_pin_flags(t);
	gen_range(t, &p.addr, &p.length);
	if (chance(t, 2))
		p.out_handle = (uint32_t)rnd(t);	/* ignored */
	prepare(t, &is, PINMGR_CMD_PIN, &p, sizeof(p));
	if (is.pre) {
		expect = is.pre;
	} else if (p.flags & ~KNOWN_PIN_FLAGS) {
		expect = M(B_EINVAL);
	} else {
		expect = expect_pin(t, f, p.addr, p.length,
				    p.flags & PINMGR_PIN_WRITE, &counted);
		/* a pin that cannot be written back is undone: EFAULT */
		if (expect == M(B_OK) && !is.wb)
			expect = M(B_EFAULT);
	}
	note(t, "PIN file %d flags %#x addr %#llx len %#llx size %u cmd %#lx ptr %p",
	     (int)(f - t->files), p.flags, (unsigned long long)p.addr,
	     (unsigned long long)p.length, is.size, is.cmd, is.ptr);
	ret = do_ioctl(file_fd(t, f), &is);
	if (!(expect & M(bit_of(ret))))
		explain_range(t, p.addr, p.length);
	check_ret(t, C_PIN, ret, expect, M_PIN_ANY);
	check_struct(t, &is, &p, ret, C_PIN);
	count_pins(f, counted, 1);
	if (ret)
		return;
	out = result(&is);
	if (out->out_handle == 0 ||
	    out->out_npages != pages_of(p.addr, p.length) ||
	    out->out_offset != p.addr % h_ps)
		FZ_FAIL(t, "PIN: handle %u npages %llu offset %u",
			out->out_handle, (unsigned long long)out->out_npages,
			out->out_offset);
	if (model_find(f, out->out_handle) >= 0)
		FZ_FAIL(t, "PIN: handle %u given out twice", out->out_handle);
	model_add(t, f, out->out_handle, p.addr, p.length, p.flags);
}

/* Ranges the module reads and writes back at a time (PINMGR_VEC_CHUNK). */
#define VEC_CHUNK	4

static void op_pin_vec(struct thr *t, struct file *f)
{
	struct pinmgr_pin_range *rg = (struct pinmgr_pin_range *)t->io;
	uint32_t i, n = 1 + rn(t, 40);
	struct pinmgr_pin_vec v;
	unsigned int expect = M(B_OK), e;
	struct issue is;
	int ret, counted, fail_counted = 0, ranges = 0;	/* 0 ok, 1 ro, 2 bad */
	uint64_t undone = 0;
	bool ran = false;	/* the ranges were looked at */

	memset(&v, 0, sizeof(v));
	v.size = sizeof(v);
	v.flags = gen_pin_flags(t);
	v.count = n;
	v.ranges = (uintptr_t)rg;
	if (chance(t, 3))
		v.__reserved = 1 + rn(t, 100);
	if (chance(t, 2))
		v.count = 0;
	else if (chance(t, 2))
		v.count = PINMGR_PIN_VEC_MAX + 1 + rn(t, 1000);
	memset(rg, 0, n * sizeof(*rg));
	for (i = 0; i < n; i++) {
		if (chance(t, 97)) {
			/* mostly pinnable: a few pages of a slot */
			rg[i].addr = (uintptr_t)slot_addr(t, rn(t, NSLOTS)) +
				     rn(t, t->slot_bytes - 4 * h_ps);
			rg[i].length = 1 + rn(t, 3 * h_ps);
		} else {
			gen_range(t, &rg[i].addr, &rg[i].length);
		}
	}
	if (chance(t, 3)) {
		ranges = 1 + rn(t, 2);
		if (ranges == 1) {
			memcpy(t->rw_alias2, rg, n * sizeof(*rg));
			v.ranges = (uintptr_t)t->ro2;
		} else {
			v.ranges = 4096;
		}
	}
	prepare(t, &is, PINMGR_CMD_PIN_VEC, &v, sizeof(v));
	if (is.pre) {
		expect = is.pre;
	} else if ((v.flags & ~KNOWN_PIN_FLAGS) || v.__reserved || !v.count) {
		expect = M(B_EINVAL);
	} else if (v.count > PINMGR_PIN_VEC_MAX) {
		expect = M(B_E2BIG);
	} else if (ranges == 2) {
		expect = M(B_EFAULT);
	} else {
		/*
		 * In chunks of VEC_CHUNK: each range pinned in turn, the first
		 * that fails decides; each full chunk is then written back,
		 * which fails for read-only ranges. What was pinned is undone.
		 */
		ran = true;
		for (i = 0; i < n; i++) {
			if (ranges == 1 && i == VEC_CHUNK) {
				expect = M(B_EFAULT);
				break;
			}
			e = expect_pin(t, f, rg[i].addr, rg[i].length,
				       v.flags & PINMGR_PIN_WRITE, &counted);
			if (counted < 0) {
				expect = M_PIN_ANY;
				fail_counted = -1;
				break;
			}
			if (e != M(B_OK)) {
				expect = e;
				fail_counted = counted;
				break;
			}
			undone++;
		}
		if (i == n && ranges == 1)
			expect = M(B_EFAULT);
	}
	note(t, "PIN_VEC file %d flags %#x count %u reserved %u ranges %#llx size %u",
	     (int)(f - t->files), v.flags, v.count, v.__reserved,
	     (unsigned long long)v.ranges, is.size);
	ret = do_ioctl(file_fd(t, f), &is);
	check_ret(t, C_PIN_VEC, ret, expect, M_PIN_ANY);
	check_struct(t, &is, &v, ret, C_PIN_VEC);
	if (ret) {
		if (ran) {
			/* the ranges pinned before, undone: pins and unpins */
			if (fail_counted < 0)
				f->pins_unknown = true;
			else
				f->pins += undone + fail_counted;
		}
		return;
	}
	for (i = 0; i < n; i++) {
		if (!rg[i].out_handle ||
		    rg[i].out_npages != pages_of(rg[i].addr, rg[i].length) ||
		    rg[i].out_offset != rg[i].addr % h_ps)
			FZ_FAIL(t, "PIN_VEC range %u: handle %u npages %llu offset %u",
				i, rg[i].out_handle,
				(unsigned long long)rg[i].out_npages,
				rg[i].out_offset);
		f->pins++;
		model_add(t, f, rg[i].out_handle, rg[i].addr, rg[i].length,
			  v.flags);
	}
}

static void op_unpin(struct thr *t, struct file *f)
{
	struct pinmgr_unpin u;
	struct issue is;
	unsigned int expect;
	int idx, ret;

	memset(&u, 0, sizeof(u));
	u.size = sizeof(u);
	u.handle = pick_handle(t, f, &idx);
	if (chance(t, 3))
		u.flags = 1u << rn(t, 32);
	if (chance(t, 3))
		u.__reserved = 1 + rn(t, 1000);
	prepare(t, &is, PINMGR_CMD_UNPIN, &u, sizeof(u));
	idx = model_find(f, u.handle);
	if (is.pre)
		expect = is.pre;
	else if (u.flags || u.__reserved)
		expect = M(B_EINVAL);
	else if (f->shared)
		expect = M(B_OK) | M(B_ENOENT);
	else
		expect = idx >= 0 ? M(B_OK) : M(B_ENOENT);
	note(t, "UNPIN file %d handle %u flags %#x reserved %u size %u ptr %p",
	     (int)(f - t->files), u.handle, u.flags, u.__reserved, is.size,
	     is.ptr);
	ret = do_ioctl(file_fd(t, f), &is);
	check_ret(t, C_UNPIN, ret, expect, M_HANDLE_ANY);
	check_struct(t, &is, &u, ret, C_UNPIN);
	if (!is.pre && !u.flags && !u.__reserved && idx >= 0)
		model_del(f, idx);	/* now, or by another thread */
}

static void op_query(struct thr *t, struct file *f)
{
	struct pinmgr_query q, *out;
	struct issue is;
	unsigned int expect;
	int idx, ret;

	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.handle = pick_handle(t, f, &idx);
	if (chance(t, 3))
		q.flags = 1u << rn(t, 32);
	if (chance(t, 3))
		q.__reserved = 1 + rn(t, 1000);
	if (chance(t, 3))
		q.out_npages = rnd(t);		/* ignored */
	prepare(t, &is, PINMGR_CMD_QUERY, &q, sizeof(q));
	idx = model_find(f, q.handle);
	if (is.pre)
		expect = is.pre;
	else if (q.flags || q.__reserved)
		expect = M(B_EINVAL);
	else if (f->shared)
		expect = M(B_ENOENT) | (is.wb ? M(B_OK) : M(B_EFAULT));
	else if (idx < 0)
		expect = M(B_ENOENT);
	else
		expect = is.wb ? M(B_OK) : M(B_EFAULT);
	note(t, "QUERY file %d handle %u size %u ptr %p", (int)(f - t->files),
	     q.handle, is.size, is.ptr);
	ret = do_ioctl(file_fd(t, f), &is);
	check_ret(t, C_QUERY, ret, expect, M_HANDLE_ANY);
	check_struct(t, &is, &q, ret, C_QUERY);
	if (ret)
		return;
	out = result(&is);
	if (out->out_npages != pages_of(out->out_addr, out->out_length) ||
	    out->out_offset != out->out_addr % h_ps || !out->out_nsegs ||
	    out->out_nsegs > out->out_npages ||
	    (out->out_flags & ~KNOWN_PIN_FLAGS) || out->__reserved)
		FZ_FAIL(t, "QUERY %u: addr %#llx len %llu npages %llu offset %u nsegs %llu flags %#x",
			q.handle, (unsigned long long)out->out_addr,
			(unsigned long long)out->out_length,
			(unsigned long long)out->out_npages, out->out_offset,
			(unsigned long long)out->out_nsegs, out->out_flags);
	if (idx >= 0 && (out->out_addr != f->r[idx].addr ||
			 out->out_length != f->r[idx].len ||
			 out->out_flags != f->r[idx].flags))
		FZ_FAIL(t, "QUERY %u: addr %#llx len %llu flags %#x, pinned %#llx %llu %#x",
			q.handle, (unsigned long long)out->out_addr,
			(unsigned long long)out->out_length, out->out_flags,
			(unsigned long long)f->r[idx].addr,
			(unsigned long long)f->r[idx].len, f->r[idx].flags);
}

static void op_segments(struct thr *t, struct file *f)
{
	struct pinmgr_segment *segs = (struct pinmgr_segment *)t->io;
	struct pinmgr_segments s, *out;
	struct pinmgr_query q;
	uint64_t total = 0, count = 0, i, off;
	struct issue is;
	unsigned int expect;
	int idx, ret, where = 0;	/* 0 io, 1 read-only, 2 unmapped */

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.handle = pick_handle(t, f, &idx);
	s.flags = chance(t, 50) ? PINMGR_SEGMENTS_PHYS : 0;
	if (chance(t, 3))
		s.flags |= 1u << rn(t, 32);
	if (chance(t, 3))
		s.__reserved = 1 + rn(t, 100);
	s.start = chance(t, 80) ? 0 : chance(t, 80) ? rn(t, 8) : rnd(t);
	s.capacity = chance(t, 70) ? t->io_len / sizeof(*segs) :
		     chance(t, 80) ? rn(t, 8) : rnd(t);
	s.segs = (uintptr_t)segs;
	if (chance(t, 5)) {
		where = 1 + rn(t, 2);
		s.segs = where == 1 ? (uintptr_t)t->ro : 4096;
	}
	idx = model_find(f, s.handle);
	if (idx >= 0) {
		/* how many segments there are, to know what to expect */
		memset(&q, 0, sizeof(q));
		q.size = sizeof(q);
		q.handle = s.handle;
		ret = ioctl(file_fd(t, f), PINMGR_QUERY, &q) ? -errno : 0;
		check_ret(t, C_QUERY, ret, f->shared ? M(B_OK) | M(B_ENOENT) :
			  M(B_OK), M_HANDLE_ANY);
		if (ret)
			idx = -1;
		total = q.out_nsegs;
		count = s.start < total ? total - s.start : 0;
		if (count > s.capacity)
			count = s.capacity;
	}
	prepare(t, &is, PINMGR_CMD_SEGMENTS, &s, sizeof(s));
	if (is.pre)
		expect = is.pre;
	else if ((s.flags & ~PINMGR_SEGMENTS_PHYS) || s.__reserved)
		expect = M(B_EINVAL);
	else if (idx < 0 && f->shared)
		expect = M(B_ENOENT) | M(B_OK) | M(B_EFAULT);
	else if (idx < 0)
		expect = M(B_ENOENT);
	else if (count && where)
		expect = M(B_EFAULT);
	else
		expect = is.wb ? M(B_OK) : M(B_EFAULT);
	if (f->shared && !is.pre && expect != M(B_EINVAL))
		expect |= M(B_ENOENT);	/* another thread may unpin it */
	note(t, "SEGMENTS file %d handle %u flags %#x start %llu cap %llu segs %#llx size %u ptr %p",
	     (int)(f - t->files), s.handle, s.flags,
	     (unsigned long long)s.start, (unsigned long long)s.capacity,
	     (unsigned long long)s.segs, is.size, is.ptr);
	ret = do_ioctl(file_fd(t, f), &is);
	check_ret(t, C_SEGMENTS, ret, expect, M_HANDLE_ANY | M(B_EPERM));
	check_struct(t, &is, &s, ret, C_SEGMENTS);
	if (ret || idx < 0)
		return;
	out = result(&is);
	if (out->out_total != total || out->out_count != count)
		FZ_FAIL(t, "SEGMENTS start %llu cap %llu: count %llu total %llu, expected %llu %llu",
			(unsigned long long)s.start,
			(unsigned long long)s.capacity,
			(unsigned long long)out->out_count,
			(unsigned long long)out->out_total,
			(unsigned long long)count, (unsigned long long)total);
	/* the whole region at once: its runs cover it in order */
	if (s.start || count != total || where)
		return;
	for (i = 0, off = 0; i < count; i++) {
		if (segs[i].offset != off || !segs[i].length ||
		    segs[i].length % h_ps ||
		    !segs[i].phys != !(s.flags & PINMGR_SEGMENTS_PHYS))
			FZ_FAIL(t, "SEGMENTS: segment %llu offset %llu length %llu phys %#llx",
				(unsigned long long)i,
				(unsigned long long)segs[i].offset,
				(unsigned long long)segs[i].length,
				(unsigned long long)segs[i].phys);
		off += segs[i].length;
	}
	if (off != f->r[idx].npages * h_ps)
		FZ_FAIL(t, "SEGMENTS cover %llu bytes of %llu pages",
			(unsigned long long)off,
			(unsigned long long)f->r[idx].npages);
}

static void op_stats(struct thr *t, struct file *f)
{
	struct pinmgr_stats st, *out;
	struct issue is;
	unsigned int expect;
	int ret;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	if (chance(t, 5))
		st.flags = 1u << rn(t, 32);
	prepare(t, &is, PINMGR_CMD_STATS, &st, sizeof(st));
	expect = is.pre ? is.pre : st.flags ? M(B_EINVAL) :
		 is.wb ? M(B_OK) : M(B_EFAULT);
	note(t, "STATS file %d size %u ptr %p", (int)(f - t->files), is.size,
	     is.ptr);
	ret = do_ioctl(file_fd(t, f), &is);
	check_ret(t, C_STATS, ret, expect, M_COMMON);
	check_struct(t, &is, &st, ret, C_STATS);
	if (ret || f->shared)
		return;
	out = result(&is);
	/* exact for a file only this thread uses */
	if (out->out_regions != (uint64_t)f->nr ||
	    out->out_pinned_pages != f->pinned ||
	    out->out_pins - out->out_unpins != out->out_regions ||
	    (!f->pins_unknown &&
	     out->out_pins + out->out_failed_pins != f->pins) ||
	    out->out_peak_pages < out->out_pinned_pages ||
	    (is.size >= sizeof(st) && !out->out_metadata_bytes != !f->nr))
		FZ_FAIL(t, "STATS: regions %llu pinned %llu pins %llu unpins %llu failed %llu peak %llu metadata %llu; model: regions %d pinned %llu pins+failed %llu%s",
			(unsigned long long)out->out_regions,
			(unsigned long long)out->out_pinned_pages,
			(unsigned long long)out->out_pins,
			(unsigned long long)out->out_unpins,
			(unsigned long long)out->out_failed_pins,
			(unsigned long long)out->out_peak_pages,
			(unsigned long long)out->out_metadata_bytes, f->nr,
			(unsigned long long)f->pinned,
			(unsigned long long)f->pins,
			f->pins_unknown ? " (unknown)" : "");
}

/* Is the region's memory the pinned pages, and may the thread read it
 * (and write it, for @need_write)? */
static bool coherent(struct thr *t, struct region *r, bool need_write)
{
	uint64_t a;

	if (r->addr < (uintptr_t)t->base ||
	    r->addr + r->len > (uintptr_t)slot_addr(t, NSLOTS))
		return false;
	if (changed_since(t, r->addr, r->len, r->epoch))
		return false;
	for (a = r->addr & ~(uint64_t)(h_ps - 1); a < r->addr + r->len;
	     a += h_ps) {
		int k = page_kind(t, a);

		if (k == K_NONE || k == K_LOST || k == K_EXT4_NONE || k < 0 ||
		    (need_write && k == K_ANON_RO))
			return false;
	}
	return true;
}

/*
 * Do two pages of [addr, addr+len) (inside the slots) map the same memfd
 * page? A write through the pins then lands twice in one page, and the
 * mapping shows the later copy at both addresses.
 */
static bool aliased(struct thr *t, uint64_t addr, uint64_t len)
{
	bool seen[SLOT_PAGES] = { false };
	uint64_t a;

	for (a = addr & ~(uint64_t)(h_ps - 1); a < addr + len; a += h_ps) {
		uint64_t off = a - (uintptr_t)t->base;
		int fo = t->slots[off / t->slot_bytes].foff[off % t->slot_bytes / h_ps];

		if (fo < 0)
			continue;
		if (seen[fo])
			return true;
		seen[fo] = true;
	}
	return false;
}

static void op_access(struct thr *t, struct file *f)
{
	struct pinmgr_access ac;
	struct region *r = NULL;
	struct issue is;
	unsigned int expect;
	bool write, check = false;
	int idx, ret, where = 0;	/* 0 io, 1 read-only, 2 unmapped */
	uint64_t i;
	char *mem = NULL;

	memset(&ac, 0, sizeof(ac));
	ac.size = sizeof(ac);
	ac.handle = pick_handle(t, f, &idx);
	ac.flags = chance(t, 50) ? PINMGR_ACCESS_WRITE : 0;
	if (chance(t, 3))
		ac.flags |= 1u << rn(t, 32);
	write = ac.flags & PINMGR_ACCESS_WRITE;
	if (chance(t, 3))
		ac.__reserved = 1 + rn(t, 100);
	idx = model_find(f, ac.handle);
	if (idx >= 0)
		r = &f->r[idx];
	if (r && chance(t, 90)) {
		ac.offset = rn(t, r->len);
		ac.length = 1 + rn(t, r->len - ac.offset);
		if (ac.length > t->io_len && chance(t, 95))
			ac.length = 1 + rn(t, t->io_len);
	} else {
		ac.offset = chance(t, 50) ? rn(t, 1 << 20) : rnd(t);
		ac.length = chance(t, 90) ? rn(t, t->io_len + 1) : rnd(t);
	}
	if (chance(t, 2))
		ac.length = 0;
	ac.buf = (uintptr_t)t->io;
	if (chance(t, 4)) {
		where = 1 + rn(t, 2);
		ac.buf = where == 1 ? (uintptr_t)t->ro : 4096;
		if (where == 1 && ac.length > h_ps)
			ac.length = 1 + rn(t, h_ps);	/* one page only */
	}
	/* io is followed by a guard page: past it, EFAULT */
	if (r && !where && ac.length && ac.offset + ac.length <= r->len &&
	    ac.length <= t->io_len && coherent(t, r, write) &&
	    !(write && aliased(t, r->addr + ac.offset, ac.length)) &&
	    !(ac.flags & ~PINMGR_ACCESS_WRITE) && !ac.__reserved) {
		check = true;
		mem = (char *)(uintptr_t)r->addr + ac.offset;
		if (write) {
			for (i = 0; i < ac.length; i++)
				t->io[i] = (char)rnd(t);
		} else if (!(r->flags & PINMGR_PIN_WRITE)) {
			/* the process writes, the device must see it */
			i = rn(t, ac.length);
			if (kind_prot(page_kind(t, (uintptr_t)mem + i)) &
			    PROT_WRITE)
				mem[i] ^= 0x5a;
		}
	}
	prepare(t, &is, PINMGR_CMD_ACCESS, &ac, sizeof(ac));
	if (is.pre)
		expect = is.pre;
	else if ((ac.flags & ~PINMGR_ACCESS_WRITE) || ac.__reserved ||
		 !ac.length)
		expect = M(B_EINVAL);
	else if (!r && f->shared)
		expect = M(B_ENOENT) | M(B_OK) | M(B_EFAULT) | M(B_EPERM) |
			 M(B_ERANGE);
	else if (!r)
		expect = M(B_ENOENT);
	else if (write && !(r->flags & PINMGR_PIN_WRITE))
		expect = M(B_EPERM);
	else if (ac.offset > r->len || ac.length > r->len - ac.offset)
		expect = M(B_ERANGE);
	else if (where == 2 || (where == 1 && !write) ||
		 ac.length > t->io_len)
		expect = M(B_EFAULT);	/* (a read-only buf can be read) */
	else
		expect = M(B_OK);
	if (f->shared && !is.pre && expect != M(B_EINVAL))
		expect |= M(B_ENOENT);
	note(t, "ACCESS file %d handle %u flags %#x off %llu len %llu buf %#llx size %u ptr %p",
	     (int)(f - t->files), ac.handle, ac.flags,
	     (unsigned long long)ac.offset, (unsigned long long)ac.length,
	     (unsigned long long)ac.buf, is.size, is.ptr);
	ret = do_ioctl(file_fd(t, f), &is);
	check_ret(t, C_ACCESS, ret, expect, M_HANDLE_ANY | M(B_EPERM) |
		  M(B_ERANGE) | M(B_ENOMEM) | M(B_EINTR));
	check_struct(t, &is, &ac, ret, C_ACCESS);
	if (ret || !check || f->shared)
		return;
	if (memcmp(t->io, mem, ac.length))
		FZ_FAIL(t, "ACCESS %s of handle %u at %llu+%llu: the pinned pages and the mapping differ",
			write ? "write" : "read", ac.handle,
			(unsigned long long)ac.offset,
			(unsigned long long)ac.length);
}

/* ---- files and processes ------------------------------------------ */

static void op_close(struct thr *t)
{
	struct file *f = &t->files[1 + rn(t, 2)];
	int i, ret;

	if (!f->nfds)
		return;
	i = rn(t, f->nfds);
	ret = close(f->fds[i]) ? -errno : 0;
	note(t, "close fd %d of file %d (%d fds)", f->fds[i],
	     (int)(f - t->files), f->nfds);
	count(t, C_CLOSE, ret);
	if (ret)
		FZ_FAIL(t, "close: %s", h_errname(-ret));
	f->fds[i] = f->fds[--f->nfds];
	if (!f->nfds) {
		/* the last one: everything of the file is released */
		f->nr = 0;
		f->pinned = 0;
		f->pins = 0;
		f->pins_unknown = false;
	}
}

static void op_dup(struct thr *t)
{
	struct file *f = &t->files[1 + rn(t, 2)];
	int fd;

	if (!f->nfds || f->nfds == MAX_FDS)
		return;
	fd = fcntl(f->fds[0], F_DUPFD_CLOEXEC, 0);
	note(t, "dup fd %d of file %d -> %d", f->fds[0], (int)(f - t->files),
	     fd);
	count(t, C_DUP, fd < 0 ? -errno : 0);
	if (fd < 0)
		FZ_FAIL(t, "dup: %s", h_errname(errno));
	f->fds[f->nfds++] = fd;
}

static void op_reopen(struct thr *t)
{
	struct file *f = &t->files[1 + rn(t, 2)];
	int fd;

	if (f->nfds)
		return;
	fd = open(PINMGR_DEFAULT_PATH, O_RDWR | O_CLOEXEC);
	note(t, "open file %d -> %d", (int)(f - t->files), fd);
	count(t, C_REOPEN, fd < 0 ? -errno : 0);
	if (fd < 0)
		FZ_FAIL(t, "open %s: %s", PINMGR_DEFAULT_PATH, h_errname(errno));
	f->fds[f->nfds++] = fd;
	f->nr = 0;
	f->pinned = 0;
	f->pins = 0;
	f->pins_unknown = false;
}

/*
 * In the child of a multi-threaded process: async-signal-safe calls only.
 * Every ioctl on an inherited file -> EACCES (an unknown command ENOTTY
 * first); its own file works. Exit status: 0, or which step failed.
 */
static __attribute__((noreturn)) void child_main(struct thr *t)
{
	static const int nrs[] = {
		PINMGR_CMD_INFO, PINMGR_CMD_PIN, PINMGR_CMD_UNPIN,
		PINMGR_CMD_QUERY, PINMGR_CMD_SEGMENTS, PINMGR_CMD_STATS,
		PINMGR_CMD_ACCESS, PINMGR_CMD_PIN_VEC,
	};
	struct pinmgr_pin p;
	int i, fd, n = 1 + rn(t, 6);

	for (i = 0; i < n; i++) {
		struct file *f = &t->files[rn(t, 3)];
		bool bad = chance(t, 20);
		unsigned long cmd;
		int ret;

		if (!f->nfds)
			f = &t->files[0];
		cmd = bad ? cmd_of(UNKNOWN_NR + rn(t, 0x80), 64) :
			    cmd_of(nrs[rn(t, ARRAY_SIZE(nrs))], 64);
		/* the argument does not matter: the mm is checked first */
		ret = ioctl(f->fds[0], cmd, chance(t, 50) ? t->scratch : NULL);
		if (ret != -1 || errno != (bad ? ENOTTY : EACCES))
			_exit(10 + i);
		if (chance(t, 30) && f != &t->files[0]) {
			close(f->fds[0]);
			f->fds[0] = f->fds[--f->nfds];
		}
	}
	fd = open(PINMGR_DEFAULT_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		_exit(2);
	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.flags = PINMGR_PIN_WRITE;
	p.addr = (uintptr_t)t->scratch + rn(t, h_ps);
	p.length = 1 + rn(t, h_ps);
	if (ioctl(fd, PINMGR_PIN, &p))
		_exit(3);
	if (chance(t, 50))
		close(fd);
	/* else exit() closes it */
	_exit(0);
}

static void op_fork(struct thr *t)
{
	uint64_t child_rng = rnd(t);
	int st;
	pid_t pid;

	note(t, "fork");
	pid = fork();
	if (pid < 0)
		FZ_FAIL(t, "fork: %s", h_errname(errno));
	if (pid == 0) {
		t->rng = child_rng;
		t->is_child = true;
		child_main(t);
	}
	count(t, C_FORK, 0);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			FZ_FAIL(t, "waitpid: %s", h_errname(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		FZ_FAIL(t, "forked child: %s %d (10+n: its nth ioctl on an inherited file did not get EACCES; 2, 3: open or PIN of its own file failed)",
			WIFEXITED(st) ? "exit status" : "signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* ---- a fuzzing thread --------------------------------------------- */

/* Unpins region @i of @f (to stay within the model's limits). */
static void shed(struct thr *t, struct file *f, int i)
{
	struct pinmgr_unpin u = { .size = sizeof(u), .handle = f->r[i].handle };
	int ret = ioctl(file_fd(t, f), PINMGR_UNPIN, &u) ? -errno : 0;

	note(t, "shed handle %u of file %d", u.handle, (int)(f - t->files));
	check_ret(t, C_UNPIN, ret, f->shared ? M(B_OK) | M(B_ENOENT) : M(B_OK),
		  M_HANDLE_ANY);
	model_del(f, i);
}

/* Room for a PIN_VEC of 40 in @f, and at most MAX_OWN_PAGES pinned. */
static void make_room(struct thr *t, struct file *f)
{
	struct file *g;
	int i, j, best;

	while (f->nr > MAX_REGIONS - 41)
		shed(t, f, rn(t, f->nr));
	while (own_pages(t) > MAX_OWN_PAGES) {
		g = NULL;
		best = -1;
		for (j = 0; j < 3; j++)
			for (i = 0; i < t->files[j].nr; i++)
				if (!g || t->files[j].r[i].npages >
					  g->r[best].npages) {
					g = &t->files[j];
					best = i;
				}
		shed(t, g, best);
	}
}

static void *fuzz_thread(void *arg)
{
	struct thr *t = arg;
	uint64_t iter;
	double t0;

	for (iter = 0; !atomic_load_explicit(&F.stop, memory_order_relaxed);
	     iter++) {
		struct file *f = pick_file(t);
		unsigned int r = rn(t, 10000);

		if ((iter & 63) == 0 && now_s() >= F.t_end)
			break;
		if (F.max_calls &&
		    atomic_load_explicit(&F.calls, memory_order_relaxed) >=
		    F.max_calls)
			break;
		make_room(t, f);
		t0 = now_s();
		t->cur = -1;
		if (rn(t, FORK_EVERY) == 0)
			op_fork(t);
		else if (r < 1800)
			op_pin(t, f);
		else if (r < 3100)
			op_unpin(t, f);
		else if (r < 4600)
			op_query(t, f);
		else if (r < 5300)
			op_segments(t, f);
		else if (r < 6200)
			op_stats(t, f);
		else if (r < 7100)
			op_info(t, f);
		else if (r < 8600)
			op_access(t, f);
		else if (r < 8800)
			op_pin_vec(t, f);
		else if (r < 8815)
			op_mmap(t);
		else if (r < 8823)
			op_munmap(t);
		else if (r < 8827)
			op_mremap(t);
		else if (r < 8835)
			op_madvise(t);
		else if (r < 8840)
			op_mprotect(t);
		else if (r < 8850)
			op_close(t);
		else if (r < 8860)
			op_dup(t);
		else if (r < 8880)
			op_reopen(t);
		else if (r < 9500)
			op_pin(t, f);
		else
			op_unpin(t, f);
		if (t->cur >= 0)
			t->time[t->cur] += now_s() - t0;
	}
	return NULL;
}

/* ---- setting a thread up and tearing it down ---------------------- */

static void thr_setup(struct thr *t, int idx)
{
	size_t total;
	int s;

	memset(t, 0, sizeof(*t));
	t->idx = idx;
	t->rng = F.seed + idx;
	t->slot_bytes = SLOT_PAGES * h_ps;
	t->memfd = -1;
	t->ext4fd = -1;
	total = (NSLOTS + GUARD_SLOTS) * t->slot_bytes;
	t->base = mmap(NULL, total, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t->base == MAP_FAILED)
		h_fail("mmap reservation: %s", h_errname(errno));
	t->memfd = memfd_create("pinmgr-fuzz", MFD_CLOEXEC);
	if (t->memfd < 0 || ftruncate(t->memfd, t->slot_bytes))
		h_fail("memfd: %s", h_errname(errno));
	if (F.have_ext4) {
		char path[300];

		snprintf(path, sizeof(path), "%s/pinmgr-fuzz-%d-%d",
			 F.ext4_dir, (int)getpid(), idx);
		t->ext4fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
				 0600);
		if (t->ext4fd >= 0) {
			unlink(path);
			if (ftruncate(t->ext4fd, t->slot_bytes)) {
				close(t->ext4fd);
				t->ext4fd = -1;
			}
		}
	}
	for (s = 0; s < NSLOTS + GUARD_SLOTS; s++)
		set_pages(t, s, 0, SLOT_PAGES, K_NONE);
	/* start with half the slots mapped */
	for (s = 0; s < NSLOTS; s += 2)
		if (map_kind(t, s, 0, SLOT_PAGES, pick_kind(t)))
			h_fail("mmap slot: %s", h_errname(errno));
	t->scratch = mmap(NULL, 3 * h_ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->scratch == MAP_FAILED)
		h_fail("mmap: %s", h_errname(errno));
	mprotect(t->scratch + 2 * h_ps, h_ps, PROT_NONE);
	memset(t->scratch, 0, 2 * h_ps);
	{
		int fd = memfd_create("pinmgr-fuzz-ro", MFD_CLOEXEC);

		if (fd < 0 || ftruncate(fd, 2 * h_ps))
			h_fail("memfd: %s", h_errname(errno));
		t->rw_alias = mmap(NULL, 2 * h_ps, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 0);
		t->ro = mmap(NULL, 2 * h_ps, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (t->rw_alias == MAP_FAILED || t->ro == MAP_FAILED)
			h_fail("mmap memfd: %s", h_errname(errno));
		memset(t->rw_alias, 0, 2 * h_ps);
		t->rw_alias2 = t->rw_alias + h_ps;
		t->ro2 = t->ro + h_ps;
	}
	/* ACCESS and SEGMENTS buffer, then a guard page */
	t->io_len = 16 * h_ps;
	t->io = mmap(NULL, t->io_len + h_ps, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->io == MAP_FAILED)
		h_fail("mmap: %s", h_errname(errno));
	mprotect(t->io + t->io_len, h_ps, PROT_NONE);
	memset(t->io, 0, t->io_len);

	t->files[0].shared = true;
	t->files[0].fds[0] = F.shared_fd;
	t->files[0].nfds = 1;
	op_reopen(t);
}

static void thr_teardown(struct thr *t)
{
	int i, j;

	/* the shared file's regions of this thread go with its close */
	for (i = 1; i < 3; i++)
		for (j = 0; j < t->files[i].nfds; j++)
			close(t->files[i].fds[j]);
	if (t->base && t->base != MAP_FAILED)
		munmap(t->base, (NSLOTS + GUARD_SLOTS) * t->slot_bytes);
	if (t->scratch && t->scratch != MAP_FAILED)
		munmap(t->scratch, 3 * h_ps);
	if (t->ro && t->ro != MAP_FAILED)
		munmap(t->ro, 2 * h_ps);
	if (t->rw_alias && t->rw_alias != MAP_FAILED)
		munmap(t->rw_alias, 2 * h_ps);
	if (t->io && t->io != MAP_FAILED)
		munmap(t->io, t->io_len + h_ps);
	if (t->memfd >= 0)
		close(t->memfd);
	if (t->ext4fd >= 0)
		close(t->ext4fd);
	t->base = NULL;
	t->scratch = t->ro = t->rw_alias = t->io = NULL;
	t->ro2 = t->rw_alias2 = NULL;
	t->memfd = t->ext4fd = -1;
}

static void teardown_all(void *p, size_t n)
{
	int i;

	(void)p;
	(void)n;
	atomic_store(&F.stop, true);
	for (i = 0; F.thr && i < F.nthreads; i++)
		thr_teardown(&F.thr[i]);
	if (F.shared_fd >= 0)
		close(F.shared_fd);
	F.shared_fd = -1;
	free(F.thr);
	F.thr = NULL;
}

/* TASK_SIZE: can anything be mapped above 47 bits (5-level paging)? */
static uint64_t task_size(void)
{
	void *want = (void *)(1ULL << 48);
	void *p = mmap(want, h_ps, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		return TASK_SIZE_4L;
	munmap(p, h_ps);
	return p == want ? TASK_SIZE_5L : TASK_SIZE_4L;
}

static void find_ext4(void)
{
	FILE *m = setmntent("/proc/mounts", "r");
	struct mntent *me;

	F.have_ext4 = false;
	while (m && (me = getmntent(m))) {
		if (!strcmp(me->mnt_type, "ext4") && !hasmntopt(me, "ro")) {
			snprintf(F.ext4_dir, sizeof(F.ext4_dir), "%s",
				 me->mnt_dir);
			F.have_ext4 = true;
			break;
		}
	}
	if (m)
		endmntent(m);
}

CASE(fuzz)
{
	uint64_t hist[C_NR][ERRNO_SLOTS], by_errno[ERRNO_SLOTS], calls = 0;
	double time[C_NR] = { 0 };
	struct pinmgr_info in;
	double t0, el;
	char line[1024];
	int i, c, e;
	size_t off;

	find_ext4();
	F.thr = calloc(F.nthreads, sizeof(*F.thr));
	ASSERT_MSG(F.thr, "out of memory");
	F.shared_fd = open(PINMGR_DEFAULT_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_SYS(F.shared_fd);
	h_defer(teardown_all, NULL, 0);
	memset(&in, 0, sizeof(in));
	in.size = sizeof(in);
	ASSERT_OK(h_ioctl(F.shared_fd, PINMGR_INFO, &in));
	if (!(in.out_caps & PINMGR_CAP_TEST_ACCESS))
		h_skip("ACCESS is not enabled (module parameter test_access)");
	F.max_pages = in.out_max_pages_per_pin;
	F.max_regions = in.out_max_regions;
	F.task_size = task_size();
	h_case_timeout(F.seconds + 60);
	atomic_store(&F.stop, false);
	atomic_store(&F.calls, 0);
	for (i = 0; i < F.nthreads; i++)
		thr_setup(&F.thr[i], i);
	h_diag("fuzz: seed=%" PRIu64 " threads=%d seconds=%.0f calls limit=%" PRIu64 " TASK_SIZE %#" PRIx64 "%s",
	       F.seed, F.nthreads, F.seconds, F.max_calls, F.task_size,
	       F.have_ext4 ? "" : " (no ext4 mount: no written-back mappings)");
	t0 = now_s();
	F.t_end = t0 + F.seconds;
	for (i = 0; i < F.nthreads; i++)
		ASSERT_EQ(h_thread_create(&F.thr[i].t, fuzz_thread, &F.thr[i]),
			  0);
	for (i = 0; i < F.nthreads; i++)
		pthread_join(F.thr[i].t, NULL);
	el = now_s() - t0;

	memset(hist, 0, sizeof(hist));
	memset(by_errno, 0, sizeof(by_errno));
	for (i = 0; i < F.nthreads; i++)
		for (c = 0; c < C_NR; c++)
			time[c] += F.thr[i].time[c];
	for (i = 0; i < F.nthreads; i++)
		for (c = 0; c < C_NR; c++)
			for (e = 0; e < ERRNO_SLOTS; e++) {
				hist[c][e] += F.thr[i].hist[c][e];
				by_errno[e] += F.thr[i].hist[c][e];
				calls += F.thr[i].hist[c][e];
			}
	h_diag("fuzz: seed=%" PRIu64 " calls=%" PRIu64 " in %.1f s (%.0f calls/s, %d threads)%s",
	       F.seed, calls, el, calls / el, F.nthreads,
	       F.max_calls && calls < F.max_calls ?
	       " (stopped by PINMGR_FUZZ_SECONDS before PINMGR_FUZZ_CALLS)" : "");
	for (c = 0; c < C_NR; c++) {
		uint64_t sum = 0;

		off = snprintf(line, sizeof(line), "fuzz: %-11s", call_names[c]);
		for (e = 0; e < ERRNO_SLOTS; e++) {
			sum += hist[c][e];
			if (hist[c][e] && off < sizeof(line))
				off += snprintf(line + off, sizeof(line) - off,
						" %s=%" PRIu64,
						e ? e == ERRNO_SLOTS - 1 ? "other" :
						h_errname(e) : "ok", hist[c][e]);
		}
		if (sum)
			h_diag("%s (%.0f us each)", line, time[c] / sum * 1e6);
	}
	off = snprintf(line, sizeof(line), "fuzz: all        ");
	for (e = 0; e < ERRNO_SLOTS; e++)
		if (by_errno[e] && off < sizeof(line))
			off += snprintf(line + off, sizeof(line) - off,
					" %s=%" PRIu64, e ? h_errname(e) : "ok",
					by_errno[e]);
	h_diag("%s", line);
	ASSERT_NO_THREAD_FAILURE();

	/* closing everything releases everything */
	h_undefer(NULL);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
	if (h_total_of("open_files") >= 0) {
		ASSERT_EQ(h_total_of("open_files"), 0);
		ASSERT_EQ(h_total_of("regions"), 0);
		ASSERT_EQ(h_total_of("pinned_pages"), 0);
		ASSERT_EQ(h_total_of("metadata_bytes"), 0);
	}
}

/* ---- directed: where the struct is -------------------------------- */

/* FOLL_PIN pins outstanding system-wide must be @pages (ours). */
static void assert_outstanding(uint64_t pages)
{
	uint64_t acq, rel;

	ASSERT_OK(h_foll_pins(&acq, &rel));
	ASSERT_MSG(acq - rel == pages,
		   "%" PRIu64 " FOLL_PIN pins outstanding system-wide, expected %" PRIu64,
		   acq - rel, pages);
}

/*
 * Every ioctl with a valid struct that the module cannot read (unmapped,
 * PROT_NONE, kernel address, running into an unreadable page) -> EFAULT
 * with nothing changed; and one it can read but not write back.
 */
struct placed {
	struct pinmgr_ctx *ctx;
	int fd;
	char *buf;		/* 8 pages pinned as handle h */
	uint32_t h;
	char *rw, *ro, *none;	/* rw page; read-only view of it; PROT_NONE */
	struct pinmgr_segment segs[8];
	char io[64];
	struct pinmgr_pin_range ranges[2];
};

static struct placed P;

static size_t fill(int nr, void *s)
{
	switch (nr) {
	case PINMGR_CMD_INFO: {
		struct pinmgr_info *x = s;

		*x = (struct pinmgr_info){ .size = sizeof(*x) };
		return sizeof(*x);
	}
	case PINMGR_CMD_PIN: {
		struct pinmgr_pin *x = s;

		*x = (struct pinmgr_pin){ .size = sizeof(*x),
					  .flags = PINMGR_PIN_WRITE,
					  .addr = (uintptr_t)P.buf + 100,
					  .length = 2 * h_ps };
		return sizeof(*x);
	}
	case PINMGR_CMD_UNPIN: {
		struct pinmgr_unpin *x = s;

		*x = (struct pinmgr_unpin){ .size = sizeof(*x), .handle = P.h };
		return sizeof(*x);
	}
	case PINMGR_CMD_QUERY: {
		struct pinmgr_query *x = s;

		*x = (struct pinmgr_query){ .size = sizeof(*x), .handle = P.h };
		return sizeof(*x);
	}
	case PINMGR_CMD_SEGMENTS: {
		struct pinmgr_segments *x = s;

		*x = (struct pinmgr_segments){ .size = sizeof(*x),
					       .handle = P.h, .capacity = 8,
					       .segs = (uintptr_t)P.segs };
		return sizeof(*x);
	}
	case PINMGR_CMD_STATS: {
		struct pinmgr_stats *x = s;

		*x = (struct pinmgr_stats){ .size = sizeof(*x) };
		return sizeof(*x);
	}
	case PINMGR_CMD_ACCESS: {
		struct pinmgr_access *x = s;

		*x = (struct pinmgr_access){ .size = sizeof(*x), .handle = P.h,
					     .length = sizeof(P.io),
					     .buf = (uintptr_t)P.io };
		return sizeof(*x);
	}
	case PINMGR_CMD_PIN_VEC: {
		struct pinmgr_pin_vec *x = s;

		P.ranges[0] = (struct pinmgr_pin_range){
			.addr = (uintptr_t)P.buf, .length = h_ps };
		P.ranges[1] = (struct pinmgr_pin_range){
			.addr = (uintptr_t)P.buf + 3 * h_ps, .length = 10 };
		*x = (struct pinmgr_pin_vec){ .size = sizeof(*x),
					      .flags = PINMGR_PIN_WRITE,
					      .count = 2,
					      .ranges = (uintptr_t)P.ranges };
		return sizeof(*x);
	}
	}
	return 0;
}

static const char *const nr_names[] = {
	"INFO", "PIN", "UNPIN", "QUERY", "SEGMENTS", "STATS", "ACCESS",
	"PIN_VEC",
};

static void placed_setup(void)
{
	int fd = h_keep_fd(memfd_create("pinmgr-fuzz", MFD_CLOEXEC));

	ASSERT_SYS(ftruncate(fd, 2 * h_ps));
	P.ctx = h_open();
	P.fd = h_fd(P.ctx);
	h_require_test_access(P.ctx);
	P.buf = h_anon(8 * h_ps);
	P.h = h_pin(P.ctx, P.buf, 8 * h_ps, PINMGR_PIN_WRITE);
	P.rw = h_map(2 * h_ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	P.ro = h_map(h_ps, PROT_READ, MAP_SHARED, fd, 0);
	P.none = P.rw + h_ps;
	ASSERT_SYS(mprotect(P.none, h_ps, PROT_NONE));
}

static void assert_placed_state(int regions, long pages)
{
	struct pinmgr_stats st;
	struct pinmgr_query q;

	ASSERT_OK(pinmgr_stats(P.ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, regions);
	ASSERT_EQ(st.out_pinned_pages, pages);
	ASSERT_VMPIN_KB(PAGES_KB(pages));
	if (regions)
		ASSERT_OK(pinmgr_query(P.ctx, P.h, &q, sizeof(q)));
	assert_outstanding(pages);
}

CASE(struct_unreadable)
{
	static const uint64_t kernel = 0xffffffff81000000ULL;
	union {
		struct pinmgr_pin_vec v;
		struct pinmgr_segments s;
		char raw[256];
	} u;
	int nr, where;
	char b[32];

	placed_setup();
	for (nr = PINMGR_CMD_INFO; nr <= PINMGR_CMD_PIN_VEC; nr++) {
		for (where = 0; where < 5; where++) {
			size_t len = fill(nr, &u);
			void *ptr;
			int ret;

			switch (where) {
			case 0:
				ptr = (void *)4096;
				break;
			case 1:
				ptr = P.none;
				break;
			case 2:
				ptr = (void *)(uintptr_t)kernel;
				break;
			case 3:
				/* @size readable, the rest is not */
				ptr = P.none - 8;
				memcpy(ptr, &u, 8);
				break;
			default:
				/* a tail running into the unreadable page */
				ptr = P.none - len - 8;
				memcpy(ptr, &u, len);
				memset((char *)ptr + len, 0, 8);
				*(uint32_t *)ptr = len + 64;
				break;
			}
			ret = ioctl(P.fd, cmd_of(nr, len), ptr) ? -errno : 0;
			ASSERT_MSG(ret == -EFAULT,
				   "%s with its struct %s: %s, expected -EFAULT",
				   nr_names[nr],
				   (const char *[]){ "at 4096", "in PROT_NONE memory",
						     "at a kernel address",
						     "cut off after @size",
						     "with a tail into PROT_NONE memory" }[where],
				   h_retstr(b, sizeof(b), ret));
			assert_placed_state(1, 8);
		}
	}
}

CASE(struct_read_only)
{
	union {
		struct pinmgr_pin_vec v;
		struct pinmgr_segments s;
		char raw[256];
	} u;
	int nr;
	char b[32];

	placed_setup();
	for (nr = PINMGR_CMD_INFO; nr <= PINMGR_CMD_PIN_VEC; nr++) {
		size_t len = fill(nr, &u);
		int ret, want;

		if (nr == PINMGR_CMD_PIN || nr == PINMGR_CMD_PIN_VEC)
			continue;	/* pin_read_only below */
		memcpy(P.rw, &u, len);
		ret = ioctl(P.fd, cmd_of(nr, len), P.ro) ? -errno : 0;
		/* UNPIN and ACCESS write nothing back */
		want = nr == PINMGR_CMD_UNPIN || nr == PINMGR_CMD_ACCESS ?
		       0 : -EFAULT;
		ASSERT_MSG(ret == want,
			   "%s with a read-only struct: %s, expected %s",
			   nr_names[nr], h_retstr(b, sizeof(b), ret),
			   want ? "-EFAULT" : "0");
		if (nr == PINMGR_CMD_UNPIN) {
			assert_placed_state(0, 0);
			P.h = h_pin(P.ctx, P.buf, 8 * h_ps, PINMGR_PIN_WRITE);
		}
		assert_placed_state(1, 8);
	}
}

/*
 * PIN and PIN_VEC pin, then cannot write the result back, and undo: the
 * call fails with EFAULT and leaves nothing pinned. The ABI counts such a
 * PIN as a failed PIN (it passed the argument checks, then failed), not as
 * a successful PIN plus an UNPIN the caller never made; PIN_VEC counts
 * each of its ranges as a PIN would.
 */
CASE(pin_read_only)
{
	union {
		struct pinmgr_pin p;
		struct pinmgr_pin_vec v;
	} u;
	struct pinmgr_stats before, after;
	char why[2][300] = { "", "" };
	int i, nr;
	char b[32];

	placed_setup();
	for (i = 0; i < 2; i++) {
		size_t len;
		int ret;

		nr = i ? PINMGR_CMD_PIN_VEC : PINMGR_CMD_PIN;
		len = fill(nr, &u);
		ASSERT_OK(pinmgr_stats(P.ctx, &before, sizeof(before)));
		if (nr == PINMGR_CMD_PIN) {
			memcpy(P.rw, &u, len);
			ret = ioctl(P.fd, cmd_of(nr, len), P.ro) ? -errno : 0;
		} else {
			/* PIN_VEC writes back the ranges, not the struct */
			memcpy(P.rw, P.ranges, sizeof(P.ranges));
			u.v.ranges = (uintptr_t)P.ro;
			ret = ioctl(P.fd, cmd_of(nr, len), &u) ? -errno : 0;
		}
		ASSERT_MSG(ret == -EFAULT,
			   "%s that cannot write its result back: %s, expected -EFAULT",
			   nr_names[nr], h_retstr(b, sizeof(b), ret));
		ASSERT_OK(pinmgr_stats(P.ctx, &after, sizeof(after)));
		ASSERT_EQ(after.out_regions, 1);
		ASSERT_EQ(after.out_pinned_pages, 8);
		ASSERT_VMPIN_KB(PAGES_KB(8));
		assert_outstanding(8);
		/* PIN_VEC: both ranges were pinned, then undone; each
		 * counts as a PIN would */
		if (after.out_pins != before.out_pins ||
		    after.out_unpins != before.out_unpins ||
		    after.out_failed_pins != before.out_failed_pins + (i ? 2 : 1))
			snprintf(why[i], sizeof(why[i]),
				 "%s -> EFAULT counted as pins +%llu, unpins +%llu, failed_pins +%llu",
				 nr_names[nr],
				 (unsigned long long)(after.out_pins - before.out_pins),
				 (unsigned long long)(after.out_unpins - before.out_unpins),
				 (unsigned long long)(after.out_failed_pins - before.out_failed_pins));
	}
	ASSERT_MSG(!why[0][0] && !why[1][0],
		   "%s%s%s (the ABI: a failed PIN, or each range of a failed PIN_VEC that was pinned, counts in failed_pins only; pins are successful PINs, unpins UNPINs)",
		   why[0], why[0][0] && why[1][0] ? "; " : "", why[1]);
}

/*
 * A @size of almost 4 GiB whose tail is zero as far as the memory goes:
 * refused with E2BIG before any of it is read (sizes past a page are, as
 * openat2() and clone3() do), instead of a scan of gigabytes without a
 * resched point. The time it takes is printed.
 */
CASE(huge_size_zero_tail)
{
	size_t len = 64 << 20;
	char *m = h_map(len + h_ps, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct pinmgr_info *in = (struct pinmgr_info *)m;
	double t0;
	int ret;
	char b[32];

	P.ctx = h_open();
	ASSERT_SYS(mprotect(m + len, h_ps, PROT_NONE));
	in->size = UINT32_MAX;
	t0 = now_s();
	ret = ioctl(h_fd(P.ctx), PINMGR_INFO, in) ? -errno : 0;
	h_diag("INFO with @size 4 GiB - 1 over %zu MiB of zero pages: %s after %.3f s",
	       len >> 20, h_retstr(b, sizeof(b), ret), now_s() - t0);
	ASSERT_MSG(ret == -E2BIG, "INFO with @size 4 GiB - 1: %s, expected -E2BIG",
		   h_retstr(b, sizeof(b), ret));
}

static const struct h_case cases[] = {
	H_CASE(struct_unreadable, "every ioctl with its struct unmapped, PROT_NONE, in kernel space or cut off -> EFAULT, nothing changed"),
	H_CASE(struct_read_only, "INFO, QUERY, SEGMENTS, STATS with a read-only struct -> EFAULT; UNPIN, ACCESS -> 0 (nothing to write back)"),
	H_CASE(pin_read_only, "PIN and PIN_VEC that cannot write back -> EFAULT, nothing pinned, counted as failed pins"),
	H_CASE(huge_size_zero_tail, "@size 4 GiB - 1 with a zero tail -> E2BIG, nothing read"),
	H_CASE(fuzz, "fuzz: random ioctls, struct sizes, addresses and memory changes from several threads, with fork: only the expected errnos, all released"),
};

int main(void)
{
	const char *env;

	env = getenv("PINMGR_FUZZ_SEED");
	F.seed = env ? strtoull(env, NULL, 0) :
		 (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	env = getenv("PINMGR_FUZZ_SECONDS");
	F.seconds = env ? strtod(env, NULL) : 60;
	env = getenv("PINMGR_FUZZ_CALLS");
	F.max_calls = env ? strtoull(env, NULL, 0) : 1000000;
	env = getenv("PINMGR_FUZZ_THREADS");
	F.nthreads = env ? atoi(env) : 3;
	if (F.nthreads < 1)
		F.nthreads = 1;
	F.shared_fd = -1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# fuzz: seed=%" PRIu64 " (PINMGR_FUZZ_SEED to replay)\n",
	       F.seed);
	if (geteuid() == 0)
		h_test_access_enable();
	return h_main(cases, ARRAY_SIZE(cases));
}
