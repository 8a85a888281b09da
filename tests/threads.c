// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency on one file: threads pinning, querying and unpinning at
 * once, racing unpins of one handle, the max_regions limit under
 * contention, and a close() racing with all of it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NWORKERS	4
#define BUF_PAGES	64

struct worker {
	pthread_t t;
	int idx;
	unsigned int seed;
	char *buf;
	long ops;		/* completed pin/query/unpin rounds */
	long target;		/* stop after this many (0: until EBADF) */
	bool saw_ebadf;
	uint32_t *handles;	/* the handles it got, if non-NULL */
	char err[256];
};

static struct {
	struct pinmgr_ctx *ctx;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int reached;		/* workers past ops_before_close */
	long ops_before_close;
} T = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

#define MAX_OPS 200000	/* a worker that never sees EBADF stops here */

static void worker_err(struct worker *w, const char *what, int ret)
{
	char b[32];

	snprintf(w->err, sizeof(w->err), "worker %d op %ld: %s: %s", w->idx,
		 w->ops, what, h_retstr(b, sizeof(b), ret));
}

/* One pin/query/unpin round. Returns false to stop. */
static bool one_round(struct worker *w)
{
	size_t off = rand_r(&w->seed) % ((BUF_PAGES - 9) * h_ps);
	size_t len = 1 + rand_r(&w->seed) % (8 * h_ps);
	uint32_t flags = rand_r(&w->seed) % 2 ? PINMGR_PIN_WRITE : 0;
	uintptr_t addr = (uintptr_t)w->buf + off;
	uint64_t npages = (addr + len + h_ps - 1) / h_ps - addr / h_ps;
	struct pinmgr_query q;
	uint32_t h;
	int ret;

	ret = pinmgr_pin(T.ctx, (void *)addr, len, flags, &h);
	if (ret == -EBADF)
		goto ebadf;
	if (ret) {
		worker_err(w, "pin", ret);
		return false;
	}
	if (w->handles)
		w->handles[w->ops] = h;
	ret = pinmgr_query(T.ctx, h, &q, sizeof(q));
	if (ret == -EBADF)
		goto ebadf;
	if (ret) {
		worker_err(w, "query", ret);
		return false;
	}
	if (q.out_addr != addr || q.out_length != len ||
	    q.out_flags != flags || q.out_npages != npages) {
		snprintf(w->err, sizeof(w->err),
			 "worker %d: query of handle %u: addr/len/flags/npages %#llx/%llu/%u/%llu, pinned %#llx/%zu/%u/%llu",
			 w->idx, h, (unsigned long long)q.out_addr,
			 (unsigned long long)q.out_length, q.out_flags,
			 (unsigned long long)q.out_npages,
			 (unsigned long long)addr, len, flags,
			 (unsigned long long)npages);
		return false;
	}
	ret = pinmgr_unpin(T.ctx, h);
	if (ret == -EBADF)
		goto ebadf;
	if (ret) {
		worker_err(w, "unpin", ret);
		return false;
	}
	w->ops++;
	if (w->ops == T.ops_before_close) {
		pthread_mutex_lock(&T.lock);
		T.reached++;
		pthread_cond_broadcast(&T.cond);
		pthread_mutex_unlock(&T.lock);
	}
	return true;
ebadf:
	w->saw_ebadf = true;
	return false;
}

static void *worker_fn(void *p)
{
	struct worker *w = p;
	long limit = w->target ? w->target : MAX_OPS;

	while (w->ops < limit && one_round(w))
		;
	return NULL;
}

static void start_workers(struct worker *w, long target, bool record)
{
	int i;

	for (i = 0; i < NWORKERS; i++) {
		w[i].idx = i;
		w[i].seed = 12345 + i;
		w[i].buf = h_anon(BUF_PAGES * h_ps);
		w[i].target = target;
		if (record)
			w[i].handles = h_malloc(target * sizeof(uint32_t));
	}
	for (i = 0; i < NWORKERS; i++)
		ASSERT_EQ(h_thread_create(&w[i].t, worker_fn, &w[i]), 0);
}

static void join_workers(struct worker *w)
{
	int i;

	for (i = 0; i < NWORKERS; i++)
		pthread_join(w[i].t, NULL);
	for (i = 0; i < NWORKERS; i++)
		ASSERT_MSG(!w[i].err[0], "%s", w[i].err);
}

struct closer {
	pthread_t t;
	double waited;
	int reached;
};

/* Closes the fd once every worker has done ops_before_close rounds, or
 * after a deadline (so a stuck worker cannot hang the case). */
static void *closer_fn(void *p)
{
	struct closer *c = p;
	struct timespec t0, now, deadline;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += h_bound_ms(20000) / 1000;
	pthread_mutex_lock(&T.lock);
	while (T.reached < NWORKERS) {
		if (pthread_cond_timedwait(&T.cond, &T.lock, &deadline) ==
		    ETIMEDOUT)
			break;
	}
	c->reached = T.reached;
	pthread_mutex_unlock(&T.lock);
	close(pinmgr_fd(T.ctx));
	clock_gettime(CLOCK_MONOTONIC, &now);
	c->waited = (now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9;
	return NULL;
}

CASE(close_races_workers)
{
	struct worker w[NWORKERS];
	struct closer c = { 0 };
	long total = 0;
	int i;

	memset(w, 0, sizeof(w));
	T.ctx = h_open();
	T.reached = 0;
	T.ops_before_close = 300;
	start_workers(w, 0, false);
	ASSERT_EQ(h_thread_create(&c.t, closer_fn, &c), 0);
	pthread_join(c.t, NULL);
	join_workers(w);
	/* The fd was closed behind the library's back: drop the context
	 * now, before anything could reuse the fd number (its close() gets
	 * EBADF). */
	h_close(T.ctx);
	for (i = 0; i < NWORKERS; i++) {
		ASSERT_MSG(w[i].saw_ebadf, "worker %d stopped after %ld rounds without EBADF",
			   i, w[i].ops);
		total += w[i].ops;
	}
	h_diag("%ld rounds, fd closed after %.2f s with %d/%d workers past %ld rounds",
	       total, c.waited, c.reached, NWORKERS, T.ops_before_close);
	ASSERT_EQ(c.reached, NWORKERS);
	ASSERT_VMPIN_KB(0);
	h_assert_pins_balanced();
}

CASE(workers_then_stats)
{
	struct worker w[NWORKERS];
	const long rounds = 300;
	struct pinmgr_stats st;
	uint32_t *all;
	long n = 0, i, j;

	memset(w, 0, sizeof(w));
	T.ctx = h_open();
	T.ops_before_close = -1;
	start_workers(w, rounds, true);
	join_workers(w);
	ASSERT_OK(pinmgr_stats(T.ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_pins, NWORKERS * rounds);
	ASSERT_EQ(st.out_unpins, NWORKERS * rounds);
	ASSERT_EQ(st.out_regions, 0);
	ASSERT_EQ(st.out_pinned_pages, 0);
	ASSERT_EQ(st.out_failed_pins, 0);
	ASSERT_MSG(st.out_peak_pages <= NWORKERS * 9,
		   "peak %llu pages with %d workers holding <= 9 pages each",
		   (unsigned long long)st.out_peak_pages, NWORKERS);
	/* every handle distinct */
	all = h_malloc(NWORKERS * rounds * sizeof(*all));
	for (i = 0; i < NWORKERS; i++)
		for (j = 0; j < rounds; j++)
			all[n++] = w[i].handles[j];
	for (i = 0; i < n; i++) {
		ASSERT_NE(all[i], 0);
		for (j = i + 1; j < n; j++)
			ASSERT_MSG(all[i] != all[j], "handle %u given out twice",
				   all[i]);
	}
	h_close(T.ctx);
	ASSERT_VMPIN_KB(0);
}

/* ---- racing unpins of one handle ---------------------------------- */

#define RACERS 4
#define RACE_ROUNDS 50

static struct {
	pthread_barrier_t start, done;
	uint32_t handle;
	int ret[RACERS];
	atomic_bool stop;
} R;

static void *racer_fn(void *p)
{
	int idx = (int)(intptr_t)p;

	for (;;) {
		pthread_barrier_wait(&R.start);
		if (atomic_load(&R.stop))
			break;
		R.ret[idx] = pinmgr_unpin(T.ctx, R.handle);
		pthread_barrier_wait(&R.done);
	}
	return NULL;
}

CASE(racing_unpins)
{
	pthread_t t[RACERS];
	char *buf = h_anon(4 * h_ps);
	int i, round, started = 0;

	T.ctx = h_open();
	pthread_barrier_init(&R.start, NULL, RACERS + 1);
	pthread_barrier_init(&R.done, NULL, RACERS + 1);
	atomic_store(&R.stop, false);
	for (i = 0; i < RACERS; i++) {
		if (h_thread_create(&t[i], racer_fn, (void *)(intptr_t)i))
			break;
		started++;
	}
	if (started < RACERS) {
		/* cannot run the barrier protocol: the case fails below */
		atomic_store(&R.stop, true);
	}
	for (round = 0; started == RACERS && round < RACE_ROUNDS; round++) {
		int ok = 0, enoent = 0;
		char b[32];

		R.handle = h_pin(T.ctx, buf, 2 * h_ps, 0);
		pthread_barrier_wait(&R.start);
		pthread_barrier_wait(&R.done);
		for (i = 0; i < RACERS; i++) {
			if (R.ret[i] == 0)
				ok++;
			else if (R.ret[i] == -ENOENT)
				enoent++;
			else
				h_diag("round %d racer %d: %s", round, i,
				       h_retstr(b, sizeof(b), R.ret[i]));
		}
		if (ok != 1 || enoent != RACERS - 1) {
			atomic_store(&R.stop, true);
			pthread_barrier_wait(&R.start);
			for (i = 0; i < started; i++)
				pthread_join(t[i], NULL);
			h_fail("round %d: %d unpins succeeded, %d got ENOENT (want 1 and %d)",
			       round, ok, enoent, RACERS - 1);
		}
	}
	atomic_store(&R.stop, true);
	if (started == RACERS)
		pthread_barrier_wait(&R.start);
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&R.start);
	pthread_barrier_destroy(&R.done);
	ASSERT_EQ(started, RACERS);
	ASSERT_VMPIN_KB(0);
}

/* ---- max_regions under contention --------------------------------- */

#define LIMIT_REGIONS 10

struct filler {
	pthread_t t;
	char *buf;
	int pinned, enospc, other;
};

static void *filler_fn(void *p)
{
	struct filler *f = p;
	int i;

	for (i = 0; i < LIMIT_REGIONS; i++) {
		uint32_t h;
		int ret = pinmgr_pin(T.ctx, f->buf + i * h_ps, h_ps, 0, &h);

		if (ret == 0)
			f->pinned++;
		else if (ret == -ENOSPC)
			f->enospc++;
		else
			f->other = ret;
	}
	return NULL;
}

CASE(regions_limit_contended)
{
	struct filler f[NWORKERS];
	struct pinmgr_stats st;
	int i, pinned = 0, enospc = 0;
	char b[32];

	h_param_set_for_case("max_regions", LIMIT_REGIONS);
	T.ctx = h_open();
	memset(f, 0, sizeof(f));
	for (i = 0; i < NWORKERS; i++)
		f[i].buf = h_anon(LIMIT_REGIONS * h_ps);
	for (i = 0; i < NWORKERS; i++)
		ASSERT_EQ(h_thread_create(&f[i].t, filler_fn, &f[i]), 0);
	for (i = 0; i < NWORKERS; i++)
		pthread_join(f[i].t, NULL);
	for (i = 0; i < NWORKERS; i++) {
		ASSERT_MSG(!f[i].other, "thread %d: pin -> %s", i,
			   h_retstr(b, sizeof(b), f[i].other));
		pinned += f[i].pinned;
		enospc += f[i].enospc;
	}
	ASSERT_EQ(pinned, LIMIT_REGIONS);
	ASSERT_EQ(enospc, NWORKERS * LIMIT_REGIONS - LIMIT_REGIONS);
	ASSERT_OK(pinmgr_stats(T.ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, LIMIT_REGIONS);
	ASSERT_VMPIN_KB(PAGES_KB(LIMIT_REGIONS));
}

static const struct h_case cases[] = {
	H_CASE(workers_then_stats, "4 threads x 300 pin/query/unpin on one fd: all ok, stats add up, handles unique"),
	H_CASE(close_races_workers, "4 threads pin/query/unpin while another closes the fd: only EBADF, VmPin 0, FOLL_PIN balanced"),
	H_CASE(racing_unpins, "4 threads UNPIN one handle at once, 50 rounds: exactly 1 ok, 3 ENOENT"),
	H_CASE(regions_limit_contended, "4 threads fill max_regions=10 at once: exactly 10 pins, the rest ENOSPC"),
};

int main(void)
{
	return h_main(cases, ARRAY_SIZE(cases));
}
