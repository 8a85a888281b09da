// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: many threads, files, regions and processes at once, and a
 * memory cgroup too small for what is asked of it.
 *
 *   PINMGR_STRESS_SECONDS  how long the mixed case runs (default 10)
 *   PINMGR_STRESS_FDS      files in the many-files case (default 300)
 *   PINMGR_STRESS_REGIONS  regions in the many-regions case (default 100000)
 *   PINMGR_STRESS_CG_MAX   memory.max of the cgroup case (default 16 MiB)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static double seconds = 10;
static unsigned int nfds = 300;
static unsigned int nregions = 100000;
static uint64_t cg_max = 16 << 20;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Nothing pinned, charged or open anywhere any more. */
static void assert_all_released(void)
{
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
	if (h_total_of("open_files") < 0)
		return;
	ASSERT_EQ(h_total_of("open_files"), 0);
	ASSERT_EQ(h_total_of("regions"), 0);
	ASSERT_EQ(h_total_of("pinned_pages"), 0);
	ASSERT_EQ(h_total_of("metadata_bytes"), 0);
}

static int pin_fd(int fd, const void *addr, uint64_t len, uint32_t flags,
		  uint32_t *handle)
{
	struct pinmgr_pin p = {
		.size = sizeof(p), .flags = flags,
		.addr = (uintptr_t)addr, .length = len,
	};
	int ret = ioctl(fd, PINMGR_PIN, &p) ? -errno : 0;

	if (!ret)
		*handle = p.out_handle;
	return ret;
}

static int unpin_fd(int fd, uint32_t handle)
{
	struct pinmgr_unpin u = { .size = sizeof(u), .handle = handle };

	return ioctl(fd, PINMGR_UNPIN, &u) ? -errno : 0;
}

static int stats_fd(int fd, struct pinmgr_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(fd, PINMGR_STATS, st) ? -errno : 0;
}

/* ---- 1. everything at once ----------------------------------------- */

#define WORKERS		3
#define WBUF_PAGES	256
#define WMAX		48	/* regions a worker holds per file */

/*
 * Workers pin, query, read segments and unpin on the shared file and on
 * a file of their own; they also use the "cycled" file, which a closer
 * thread opens, fills and closes again and again, and unpin handles of
 * the other workers on the shared file. A forker thread forks children
 * that try every inherited file (EACCES), sometimes keep the cycled file
 * open past its close in the parent (so that their exit releases it), and
 * exit.
 */
static struct {
	int shared;
	atomic_int cycled;	/* fd, or -1 */
	atomic_uint closes;	/* of the cycled file, counted after close() */
	atomic_bool stop;
	double end;
	atomic_long ops, forks, cycles, ebadf;
	atomic_uint max_handle;	/* on the shared file, roughly */
} S;

struct wk {
	pthread_t t;
	int idx;
	unsigned int seed;
	int own;
	char *buf;
	uint32_t sh[WMAX], ow[WMAX];
	int nsh, now;
	char err[300];
};

static void wk_err(struct wk *w, const char *what, int ret)
{
	char b[32];

	if (!w->err[0])
		snprintf(w->err, sizeof(w->err), "worker %d: %s: %s", w->idx,
			 what, h_retstr(b, sizeof(b), ret));
	atomic_store(&S.stop, true);
}

/* One pin of 1..8 pages of the worker's buffer, then a query. */
static int wk_pin(struct wk *w, int fd, uint32_t *h)
{
	size_t off = rand_r(&w->seed) % ((WBUF_PAGES - 8) * h_ps);
	size_t len = 1 + rand_r(&w->seed) % (8 * h_ps);
	uint32_t flags = rand_r(&w->seed) % 2 ? PINMGR_PIN_WRITE : 0;
	struct pinmgr_query q = { .size = sizeof(q) };
	int ret = pin_fd(fd, w->buf + off, len, flags, h);

	if (ret)
		return ret;
	q.handle = *h;
	ret = ioctl(fd, PINMGR_QUERY, &q) ? -errno : 0;
	if (!ret && (q.out_addr != (uintptr_t)w->buf + off ||
		     q.out_length != len || q.out_flags != flags))
		return -EPROTO;
	return ret;
}

static void *wk_fn(void *arg)
{
	struct wk *w = arg;
	struct pinmgr_segment segs[16];
	long n = 0;

	while (!atomic_load(&S.stop)) {
		unsigned int r = rand_r(&w->seed) % 100;
		uint32_t h = 0;
		int ret, i, fd;

		if ((n++ & 31) == 0 && now_s() > S.end)
			break;
		atomic_fetch_add(&S.ops, 1);
		if (r < 30) {
			/* shared file */
			if (w->nsh == WMAX) {
				i = rand_r(&w->seed) % w->nsh;
				ret = unpin_fd(S.shared, w->sh[i]);
				/* another worker may have unpinned it */
				if (ret && ret != -ENOENT)
					wk_err(w, "UNPIN on the shared file", ret);
				w->sh[i] = w->sh[--w->nsh];
				continue;
			}
			ret = wk_pin(w, S.shared, &h);
			if (ret == -ENOENT)
				continue;	/* unpinned by another meanwhile */
			if (ret)
				wk_err(w, "PIN + QUERY on the shared file", ret);
			else
				w->sh[w->nsh++] = h;
		} else if (r < 40) {
			/* someone else's region on the shared file */
			h = 1 + rand_r(&w->seed) % (atomic_load(&S.max_handle) + 1);
			ret = unpin_fd(S.shared, h);
			if (ret && ret != -ENOENT)
				wk_err(w, "UNPIN of a random handle", ret);
		} else if (r < 70) {
			/* own file: exact */
			struct pinmgr_stats st;

			if (w->now == WMAX) {
				i = rand_r(&w->seed) % w->now;
				ret = unpin_fd(w->own, w->ow[i]);
				if (ret)
					wk_err(w, "UNPIN on its own file", ret);
				w->ow[i] = w->ow[--w->now];
			} else {
				ret = wk_pin(w, w->own, &h);
				if (ret)
					wk_err(w, "PIN + QUERY on its own file", ret);
				else
					w->ow[w->now++] = h;
			}
			ret = stats_fd(w->own, &st);
			if (ret)
				wk_err(w, "STATS on its own file", ret);
			else if (st.out_regions != (uint64_t)w->now)
				wk_err(w, "STATS regions != the regions held", -EPROTO);
		} else if (r < 85) {
			/* the cycled file, which may be closed under us */
			unsigned int closes = atomic_load(&S.closes);

			fd = atomic_load(&S.cycled);
			if (fd < 0)
				continue;
			ret = wk_pin(w, fd, &h);
			/*
			 * A new file got the number between PIN and QUERY:
			 * the handle may be another worker's region there.
			 * Only then; the close is counted before the number
			 * can be reused.
			 */
			if (ret == -EPROTO && atomic_load(&S.closes) != closes)
				continue;
			if (!ret)
				ret = unpin_fd(fd, h);
			if (ret == -EBADF)
				atomic_fetch_add(&S.ebadf, 1);
			/* a new file got the number meanwhile: ENOENT */
			else if (ret && ret != -ENOENT)
				wk_err(w, "PIN/UNPIN on the cycled file", ret);
		} else {
			/* segments of one of its regions */
			struct pinmgr_segments s = {
				.size = sizeof(s), .capacity = 16,
				.segs = (uintptr_t)segs,
			};

			if (!w->nsh)
				continue;
			s.handle = w->sh[rand_r(&w->seed) % w->nsh];
			ret = ioctl(S.shared, PINMGR_SEGMENTS, &s) ? -errno : 0;
			if (ret && ret != -ENOENT)
				wk_err(w, "SEGMENTS on the shared file", ret);
			if (!ret && (!s.out_count || s.out_count > 9))
				wk_err(w, "SEGMENTS of <= 9 pages", -EPROTO);
		}
		if (r < 30 && atomic_load(&S.max_handle) < h)
			atomic_store(&S.max_handle, h);
	}
	return NULL;
}

/* Opens, pins, closes; again and again. */
static void *closer_fn(void *arg)
{
	char *buf = arg;
	long n = 0;
	uint32_t h;
	int fd, i, ret;

	while (!atomic_load(&S.stop) && now_s() < S.end) {
		fd = open(PINMGR_DEFAULT_PATH, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			atomic_store(&S.stop, true);
			return (void *)(intptr_t)-errno;
		}
		for (i = 0; i < 8; i++) {
			ret = pin_fd(fd, buf + (n + i) % 64 * h_ps, 3 * h_ps,
				     PINMGR_PIN_WRITE, &h);
			if (ret) {
				atomic_store(&S.stop, true);
				close(fd);
				return (void *)(intptr_t)ret;
			}
		}
		atomic_store(&S.cycled, fd);
		/* let the workers at it for a while (no sleep: work) */
		for (i = 0; i < 20; i++) {
			struct pinmgr_stats st;

			if (stats_fd(fd, &st))
				break;
		}
		atomic_store(&S.cycled, -1);
		close(fd);
		atomic_fetch_add(&S.closes, 1);
		n++;
		atomic_fetch_add(&S.cycles, 1);
	}
	return NULL;
}

/*
 * Forks children: every ioctl on an inherited file -> EACCES; the child
 * closes them, or exits holding them (the cycled file may be closed by
 * the parent meanwhile: the child's exit then releases it).
 */
static void *forker_fn(void *arg)
{
	static const unsigned long cmds[] = {
		PINMGR_INFO, PINMGR_PIN, PINMGR_UNPIN, PINMGR_QUERY,
		PINMGR_SEGMENTS, PINMGR_STATS,
	};
	unsigned int seed = 777;
	long n = 0;

	(void)arg;
	while (!atomic_load(&S.stop) && now_s() < S.end) {
		int fd = atomic_load(&S.cycled), st;
		pid_t pid = fork();

		if (pid < 0) {
			atomic_store(&S.stop, true);
			return (void *)(intptr_t)-errno;
		}
		if (pid == 0) {
			char any[128] = { 0 };
			size_t i;

			for (i = 0; i < ARRAY_SIZE(cmds); i++) {
				if (ioctl(S.shared, cmds[i], any) != -1 ||
				    errno != EACCES)
					_exit(10 + i);
				/* the cycled fd may already be another file,
				 * or none: EACCES or EBADF */
				if (fd >= 0 && ioctl(fd, cmds[i], any) != -1)
					_exit(20 + i);
			}
			if (rand_r(&seed) % 2) {
				close(S.shared);
				if (fd >= 0)
					close(fd);
			}
			_exit(0);
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			atomic_store(&S.stop, true);
			return (void *)(intptr_t)(WIFEXITED(st) ?
				1000 + WEXITSTATUS(st) : 2000 + WTERMSIG(st));
		}
		n++;
		atomic_fetch_add(&S.forks, 1);
	}
	return NULL;
}

CASE(mixed)
{
	struct wk w[WORKERS];
	pthread_t closer, forker;
	void *cret, *fret;
	char *cbuf = h_anon(80 * h_ps);
	int i;

	memset(w, 0, sizeof(w));
	memset((void *)&S, 0, sizeof(S));
	atomic_store(&S.cycled, -1);
	S.shared = h_keep_fd(open(PINMGR_DEFAULT_PATH, O_RDWR | O_CLOEXEC));
	for (i = 0; i < WORKERS; i++) {
		w[i].idx = i;
		w[i].seed = 1000 + i;
		w[i].buf = h_anon(WBUF_PAGES * h_ps);
		w[i].own = h_keep_fd(open(PINMGR_DEFAULT_PATH,
					  O_RDWR | O_CLOEXEC));
	}
	if (seconds > 50)
		h_case_timeout(seconds + 30);
	S.end = now_s() + seconds;
	for (i = 0; i < WORKERS; i++)
		ASSERT_EQ(h_thread_create(&w[i].t, wk_fn, &w[i]), 0);
	ASSERT_EQ(pthread_create(&closer, NULL, closer_fn, cbuf), 0);
	ASSERT_EQ(pthread_create(&forker, NULL, forker_fn, NULL), 0);
	for (i = 0; i < WORKERS; i++)
		pthread_join(w[i].t, NULL);
	pthread_join(closer, &cret);
	pthread_join(forker, &fret);
	h_diag("%ld worker calls, %ld open/pin/close cycles, %ld forks, %ld EBADF on the cycled file in %.0f s",
	       atomic_load(&S.ops), atomic_load(&S.cycles),
	       atomic_load(&S.forks), atomic_load(&S.ebadf), seconds);
	ASSERT_NO_THREAD_FAILURE();
	for (i = 0; i < WORKERS; i++)
		ASSERT_MSG(!w[i].err[0], "%s", w[i].err);
	ASSERT_MSG(!cret, "closer thread: %ld", (long)(intptr_t)cret);
	ASSERT_MSG(!fret, "forker thread: %ld (1000+n: child exit status n: 10+i: ioctl i on the shared file did not get EACCES; 20+i: on the cycled file it succeeded; 2000+n: killed by signal n)",
		   (long)(intptr_t)fret);
	ASSERT(atomic_load(&S.cycles) > 0);
	ASSERT(atomic_load(&S.forks) > 0);
	for (i = 0; i < WORKERS; i++)
		h_close_fd(w[i].own);
	h_close_fd(S.shared);
	assert_all_released();
}

/* ---- 2. hundreds of files ------------------------------------------ */

CASE(many_files)
{
	const unsigned int per = 3;
	char *buf = h_anon(64 * h_ps);
	unsigned int i, j, seed = 42, left;
	int *fds = h_malloc(nfds * sizeof(*fds));
	struct rlimit rl;
	uint32_t h;

	ASSERT_SYS(getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_cur < nfds + 64) {
		rl.rlim_cur = nfds + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		ASSERT_SYS(setrlimit(RLIMIT_NOFILE, &rl));
	}
	for (i = 0; i < nfds; i++) {
		fds[i] = h_keep_fd(open(PINMGR_DEFAULT_PATH,
					O_RDWR | O_CLOEXEC));
		for (j = 0; j < per; j++) {
			size_t off = rand_r(&seed) % (60 * h_ps);

			ASSERT_OK(pin_fd(fds[i], buf + off, 1 + off % (3 * h_ps),
					 j % 2 ? PINMGR_PIN_WRITE : 0, &h));
		}
	}
	if (h_total_of("open_files") >= 0) {
		ASSERT_EQ(h_total_of("open_files"), nfds);
		ASSERT_EQ(h_total_of("regions"), nfds * per);
		/* every pin counts, however often its pages are pinned */
		ASSERT_VMPIN_KB(PAGES_KB(h_total_of("pinned_pages")));
	}
	/* close them in a shuffled order, checking half-way */
	for (i = nfds - 1; i > 0; i--) {
		j = rand_r(&seed) % (i + 1);
		int t = fds[i];

		fds[i] = fds[j];
		fds[j] = t;
	}
	for (i = 0, left = nfds; i < nfds; i++, left--) {
		struct pinmgr_stats st;

		if (i == nfds / 2) {
			uint64_t pages = 0;

			for (j = i; j < nfds; j++) {
				ASSERT_OK(stats_fd(fds[j], &st));
				ASSERT_EQ(st.out_regions, per);
				pages += st.out_pinned_pages;
			}
			ASSERT_VMPIN_KB(PAGES_KB(pages));
			if (h_total_of("open_files") >= 0)
				ASSERT_EQ(h_total_of("open_files"), left);
		}
		h_close_fd(fds[i]);
	}
	assert_all_released();
}

/* ---- 3. a hundred thousand regions on one file ---------------------- */

CASE(many_regions)
{
	const unsigned int chunk = 4096;
	const size_t buf_pages = 16384;
	struct pinmgr_ctx *ctx = h_open();
	struct pinmgr_pin_range *r = h_malloc(chunk * sizeof(*r));
	char *buf = h_map(buf_pages * h_ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t *handles = h_malloc(nregions * sizeof(*handles));
	struct pinmgr_stats st;
	struct pinmgr_query q;
	unsigned int done = 0, n, i;
	double t0, t_pin, t_close;

	h_case_timeout(600);	/* a debug kernel takes about a minute */
	memset(buf, 0x77, buf_pages * h_ps);
	t0 = now_s();
	/* the first ones one by one, the rest with PIN_VEC */
	for (; done < nregions && done < 2000; done++)
		handles[done] = h_pin(ctx, buf + done % buf_pages * h_ps, h_ps,
				      done % 2 ? PINMGR_PIN_WRITE : 0);
	while (done < nregions) {
		n = nregions - done < chunk ? nregions - done : chunk;
		for (i = 0; i < n; i++) {
			r[i].addr = (uintptr_t)buf +
				    (done + i) % buf_pages * h_ps;
			r[i].length = h_ps;
		}
		ASSERT_OK(pinmgr_pin_vec(ctx, PINMGR_PIN_WRITE, r, n));
		for (i = 0; i < n; i++)
			handles[done + i] = r[i].out_handle;
		done += n;
	}
	t_pin = now_s() - t0;
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, nregions);
	ASSERT_EQ(st.out_pinned_pages, nregions);
	ASSERT_VMPIN_KB(PAGES_KB(nregions));
	/* a sample looks right, and some can be unpinned */
	for (i = 0; i < nregions; i += 997) {
		ASSERT_OK(pinmgr_query(ctx, handles[i], &q, sizeof(q)));
		ASSERT_EQ(q.out_addr, (uintptr_t)buf + i % buf_pages * h_ps);
		ASSERT_EQ(q.out_npages, 1);
	}
	for (i = 0, n = 0; i < nregions; i += 1009, n++)
		ASSERT_OK(pinmgr_unpin(ctx, handles[i]));
	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, nregions - n);
	h_diag("%u regions: %llu bytes of metadata (%.0f per region); pinned in %.2f s",
	       nregions - n, (unsigned long long)st.out_metadata_bytes,
	       (double)st.out_metadata_bytes / (nregions - n), t_pin);
	t0 = now_s();
	h_close(ctx);
	t_close = now_s() - t0;
	h_diag("close() released them in %.2f s", t_close);
	assert_all_released();
}

/* ---- 4. a memory cgroup too small --------------------------------- */

#define CG_ROOT "/sys/fs/cgroup"
#define CGROUP2_SUPER_MAGIC 0x63677270

struct cg {
	char parent[128];	/* ours, unlimited */
	char limited[160];	/* its child, with memory.max */
	bool mounted;
};

static int cg_write(const char *dir, const char *file, const char *val)
{
	char path[256];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	err = errno;
	close(fd);
	return n < 0 ? -err : 0;
}

static long long cg_read(const char *dir, const char *file, const char *key)
{
	char path[256], buf[4096], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (!key)
		return strtoll(buf, NULL, 10);
	for (p = buf; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, strlen(key)) && p[strlen(key)] == ' ')
			return strtoll(p + strlen(key) + 1, NULL, 10);
	return -1;
}

static void cg_cleanup(void *p, size_t n)
{
	struct cg *cg = p;

	(void)n;
	/* the processes are gone (the case reaped them); the groups may take
	 * a moment to notice */
	for (int i = 0; i < 100 && rmdir(cg->limited) && errno == EBUSY; i++)
		usleep(10000);
	rmdir(cg->parent);
	if (cg->mounted)
		umount2(CG_ROOT, MNT_DETACH);
}

/* Sets up @cg, or skips the case if cgroup v2's memory controller is not
 * there. */
static void cg_setup(struct cg *cg)
{
	struct statfs sf;
	char b[32];
	int ret;

	memset(cg, 0, sizeof(*cg));
	if (statfs(CG_ROOT, &sf) || sf.f_type != CGROUP2_SUPER_MAGIC) {
		if (mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
			h_skip("cannot mount cgroup2 on %s: %s", CG_ROOT,
			       h_errname(errno));
		cg->mounted = true;
	}
	snprintf(cg->parent, sizeof(cg->parent), CG_ROOT "/pinmgr-stress-%d",
		 (int)getpid());
	snprintf(cg->limited, sizeof(cg->limited), "%s/limited", cg->parent);
	h_defer(cg_cleanup, cg, 0);
	{
		char path[128], ctl[512] = "";
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), CG_ROOT "/cgroup.controllers");
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, ctl, sizeof(ctl) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n < 0 || !strstr(ctl, "memory"))
			h_skip("no memory controller in %s/cgroup.controllers",
			       CG_ROOT);
	}
	ret = cg_write(CG_ROOT, "cgroup.subtree_control", "+memory");
	if (ret)
		h_skip("enabling the memory controller: %s",
		       h_retstr(b, sizeof(b), ret));
	ASSERT_SYS(mkdir(cg->parent, 0755));
	ASSERT_OK(cg_write(cg->parent, "cgroup.subtree_control", "+memory"));
	ASSERT_SYS(mkdir(cg->limited, 0755));
	snprintf(b, sizeof(b), "%llu", (unsigned long long)cg_max);
	ASSERT_OK(cg_write(cg->limited, "memory.max", b));
	cg_write(cg->limited, "memory.swap.max", "0");
}

/* What the child in the small group tells the parent. */
struct cg_report {
	int stage;		/* how far it got */
	int err;		/* the PIN that failed: -errno */
	long long regions;	/* held when it failed */
	long long before, peak, after;	/* its group's memory.current */
	unsigned long long metadata;	/* STATS out_metadata_bytes */
};

static struct {
	struct cg cg;
	char *shared;		/* charged to the parent's group */
	size_t pages;
	int pipe[2];
} C;

/*
 * In the small group: pins 4 KiB regions of memory charged elsewhere
 * until PIN fails; the regions' metadata is what fills the group.
 */
static void cg_child(void *arg)
{
	struct cg_report rep = { 0 };
	struct pinmgr_pin_range *r;
	struct pinmgr_stats st;
	const unsigned int chunk = 1024;
	char pid[16];
	unsigned int i;
	int fd, ret = 0;

	(void)arg;
	r = calloc(chunk, sizeof(*r));
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	rep.stage = 1;
	if (!r || cg_write(C.cg.limited, "cgroup.procs", pid))
		goto out;
	rep.stage = 2;
	rep.before = cg_read(C.cg.limited, "memory.current", NULL);
	fd = open(PINMGR_DEFAULT_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		goto out;
	rep.stage = 3;
	for (;;) {
		for (i = 0; i < chunk; i++) {
			r[i].addr = (uintptr_t)C.shared +
				    (rep.regions + i) % C.pages * h_ps;
			r[i].length = h_ps;
			r[i].out_handle = 0;
		}
		{
			struct pinmgr_pin_vec v = {
				.size = sizeof(v), .flags = PINMGR_PIN_WRITE,
				.count = chunk, .ranges = (uintptr_t)r,
			};

			ret = ioctl(fd, PINMGR_PIN_VEC, &v) ? -errno : 0;
		}
		if (ret)
			break;
		rep.regions += chunk;
		if (rep.regions > 4000000)
			break;		/* the limit never came */
	}
	rep.err = ret;
	rep.peak = cg_read(C.cg.limited, "memory.current", NULL);
	if (!stats_fd(fd, &st))
		rep.metadata = st.out_metadata_bytes;
	rep.stage = 4;
	close(fd);
	rep.after = cg_read(C.cg.limited, "memory.current", NULL);
	rep.stage = 5;
out:
	if (write(C.pipe[1], &rep, sizeof(rep)) != sizeof(rep))
		_exit(3);
	_exit(0);
}

CASE(memcg_limit)
{
	struct cg_report rep;
	long long ooms, kills, pkills;
	pid_t pid;
	char b[32];

	h_case_timeout(600);	/* a debug kernel takes minutes */
	cg_setup(&C.cg);
	/* memory the child pins, faulted in (and charged) by us */
	C.pages = 4096;
	C.shared = h_map(C.pages * h_ps, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(C.shared, 0x5c, C.pages * h_ps);
	h_pipe(C.pipe);
	pkills = cg_read(C.cg.parent, "memory.events", "oom_kill");
	pid = h_child_start(cg_child, NULL);
	h_close_fd(C.pipe[1]);	/* EOF when the child is gone */
	memset(&rep, 0, sizeof(rep));
	if (read(C.pipe[0], &rep, sizeof(rep)) != sizeof(rep)) {
		int st = 0;

		/* killed (by the OOM killer?) before it could report */
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		h_fail("the child in the group (memory.max %llu) died without a report: %s %d; its memory.events: oom %lld, oom_kill %lld (OOM-killed for what PIN charged, instead of PIN failing with ENOMEM?)",
		       (unsigned long long)cg_max,
		       WIFSIGNALED(st) ? "signal" : "exit status",
		       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
		       cg_read(C.cg.limited, "memory.events", "oom"),
		       cg_read(C.cg.limited, "memory.events", "oom_kill"));
	}
	h_child_wait(pid);
	ooms = cg_read(C.cg.limited, "memory.events", "oom");
	kills = cg_read(C.cg.parent, "memory.events", "oom_kill");
	h_diag("memory.max %llu: PIN_VEC failed with %s after %lld regions; memory.current %lld before open, %lld at the limit, %lld after close; STATS metadata %llu bytes (%.0f per region); memory.events oom %lld, oom_kill %lld",
	       (unsigned long long)cg_max, h_retstr(b, sizeof(b), rep.err),
	       rep.regions, rep.before, rep.peak, rep.after, rep.metadata,
	       rep.regions ? (double)rep.metadata / rep.regions : 0.0, ooms,
	       kills);
	ASSERT_MSG(rep.stage == 5, "the child stopped at stage %d (1: joining the group, 2: open, 3: ...)",
		   rep.stage);
	ASSERT_MSG(rep.err == -ENOMEM,
		   "PIN_VEC beyond memory.max: %s after %lld regions, expected -ENOMEM",
		   h_retstr(b, sizeof(b), rep.err), rep.regions);
	/* nobody was OOM-killed, in the group or elsewhere under ours */
	ASSERT_EQ(kills, pkills < 0 ? 0 : pkills);
	/* the metadata went with the file: back to (about) where it was */
	ASSERT_MSG(rep.after <= rep.before + (1 << 20),
		   "memory.current %lld after close, %lld before open",
		   rep.after, rep.before);
	ASSERT_MSG(rep.peak > rep.after + (long long)(cg_max / 2),
		   "the regions did not fill the group: memory.current %lld at the limit, %lld after",
		   rep.peak, rep.after);
	assert_all_released();
}

static const struct h_case cases[] = {
	H_CASE(mixed, "3 workers pin/query/segments/unpin on a shared, their own and a cycled file while it is closed and reopened, with forks: only expected errnos, all released"),
	H_CASE(many_files, "hundreds of files, 3 regions each: counted per file and in total, released as each closes"),
	H_CASE(many_regions, "100000 4 KiB regions on one file: counted, queried, close releases them all"),
	H_CASE(memcg_limit, "a child in a 16 MiB memory cgroup pins until the metadata fills it: ENOMEM, no OOM kill, memory.current back after close"),
};

int main(void)
{
	const char *env;

	if ((env = getenv("PINMGR_STRESS_SECONDS")))
		seconds = strtod(env, NULL);
	if ((env = getenv("PINMGR_STRESS_FDS")))
		nfds = strtoul(env, NULL, 0);
	if ((env = getenv("PINMGR_STRESS_REGIONS")))
		nregions = strtoul(env, NULL, 0);
	if ((env = getenv("PINMGR_STRESS_CG_MAX")))
		cg_max = strtoull(env, NULL, 0);
	return h_main(cases, ARRAY_SIZE(cases));
}
