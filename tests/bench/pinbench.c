// SPDX-License-Identifier: GPL-2.0
/*
 * pinbench: pinmgr against the raw kernel pin loop and what a user would
 * pick instead (io_uring fixed buffers, udmabuf, RDMA memory registration,
 * VFIO DMA mapping, mlock), inside the test VM.
 *
 *   make bench      boots the VM with tests/bench/run.sh and runs this
 *                   program in full (built as $BUILD/bench/guest/pinbench)
 *   make check      runs it as $BUILD/tests/bin/bench-smoke (built with
 *                   -DPINBENCH_SMOKE): every contender once on small
 *                   ranges, asserting only that each works, that times are
 *                   non-zero and that the JSON is well-formed. Never timings.
 *
 * Every case alternates its contenders round by round in this one boot
 * (the order rotates each round), after warm-up rounds, and reports the
 * median over the rounds of the mean time per operation and its ratio to
 * the raw floor measured in the same rounds: the host is shared and noisy,
 * so only ratios taken side by side mean anything.
 *
 * The contenders:
 *   raw       pinmgr_bench_raw.ko (tests/bench/raw/): one ioctl pins the
 *             range with pin_user_pages_fast(FOLL_LONGTERM | FOLL_WRITE)
 *             in 512-page batches into a page array and unpins it with
 *             unpin_user_pages_dirty_lock(). The floor for this design.
 *   pinmgr    libpinmgr: PIN (PINMGR_PIN_WRITE) then UNPIN; and PIN then
 *             close() of a file opened beforehand (open not timed).
 *   io_uring  io_uring_register_buffers() of one iovec, then
 *             io_uring_unregister_buffers() (liburing, static): the whole
 *             table each time, which quiesces the ring.
 *   io_uring-upd  a sparse table of one slot registered once, then per
 *             operation io_uring_register_buffers_update_tag() setting
 *             the slot to the range and back to empty, as a careful user
 *             would. The old buffer's unpin may be left to a kernel
 *             worker (6.1 queues it for up to a second); the time until
 *             VmPin is back is measured after each sample, untimed, and
 *             reported as unpinned_after_ns.
 *   udmabuf   UDMABUF_CREATE of the range of a sealed memfd, then close()
 *             of the dma-buf: holds the pages and builds their page array
 *             (6.12 pins them with memfd_pin_folios()), maps nothing for a
 *             device. Only memfd memory (the memfd backings, measured only
 *             where /dev/udmabuf exists: not on Debian's 6.1).
 *   rdma      ibv_reg_mr() (local and remote write) then ibv_dereg_mr() on
 *             Soft-RoCE: an rxe device the program adds on dummy0 when
 *             the kernel has rdma_rxe loaded (make bench loads it). Beyond
 *             pinning (ib_umem_get()), the kernel builds the umem's
 *             scatterlist, rxe's own per-page map of the MR and its keys.
 *   vfio      VFIO_IOMMU_MAP_DMA then VFIO_IOMMU_UNMAP_DMA of the range
 *             (type1v2 container) for QEMU's edu device, bound to vfio-pci
 *             behind the emulated Intel IOMMU (make bench boots q35 with
 *             intel-iommu and edu, intel_iommu=on). Beyond pinning
 *             (pin_user_pages_remote(), charged to locked_vm), VFIO writes
 *             the IOMMU page tables for the device and flushes its IOTLB
 *             on unmap.
 *   mlock     mlock() then munlock(); does not stop migration.
 *
 * The dma-buf section (export) times handing the largest range to a kernel
 * importer, DRM's vgem (PRIME import: attach, then map for its device), in
 * the same rounds as pinning it alone: pinmgr PIN + EXPORT_DMABUF + import
 * + GEM_CLOSE + close + UNPIN against PIN + UNPIN, and on the memfd
 * backings against udmabuf's UDMABUF_CREATE + import + GEM_CLOSE + close.
 * vgem must be loaded (make bench loads it); else it says so.
 *
 * Output (stdout, TAP for the VM harness): one "ok" per case; "# | " lines
 * are the human-readable table; "# @json OBJECT" lines are the entries of
 * results.json; "# @plot BACKING CONTENDER BYTES GIB_PER_S" lines feed the
 * plot; "# @json-count N" ends the list. tests/bench/run.sh extracts them
 * from the VM's console log.
 *
 * Options (full mode): --rounds N, --warmup N, --sample-ms MS, --max-bytes
 * N, --regions N, --raw-ko PATH, --smoke. Without --raw-ko the module is
 * bench-data/pinmgr_bench_raw.ko next to this executable, and
 * bench-data/pinbench.conf there (key=value lines, same names without the
 * dashes) may set the others.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/udmabuf.h>
#include <linux/vfio.h>
#include <net/if.h>
#include <rdma/rdma_netlink.h>
#include <sys/socket.h>
#include <infiniband/verbs.h>
#include <libdrm/drm.h>
#include <liburing.h>

#include "pinmgr.h"
#include "pinmgr_bench_raw.h"

#define KIB	1024ULL
#define MIB	(1024 * KIB)
#define GIB	(1024 * MIB)
#define HPAGE	(2 * MIB)

#define MAX_ROUNDS	64
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * pinmgr's tracking layout as first documented (module/pin_tracker/pin_tracker.h), to
 * compute the metadata per pinned page when the module does not export it
 * (struct pinmgr_stats.out_metadata_bytes, used whenever it is there): one
 * struct pin_run {pfn, pgoff} of 16 bytes per physically contiguous run,
 * plus one struct pin_region per region (56-64 bytes on x86-64, from the
 * kmalloc-64 slab). The xarray slot and slab rounding are not counted.
 */
#define LAYOUT_RUN_BYTES	16
#define LAYOUT_REGION_BYTES	64

/* ---- configuration ------------------------------------------------ */

static struct {
	bool smoke;
	int rounds;
	int warmup;
	double sample_ns;	/* target length of one sample */
	uint64_t max_bytes;	/* largest range */
	unsigned long regions;	/* most regions on one fd */
	char cases[128];	/* comma-separated sections to run; "" = all */
	char raw_ko[PATH_MAX];
} cfg = {
#ifdef PINBENCH_SMOKE
	.smoke = true,
#endif
	.rounds = 7,
	.warmup = 1,
	.sample_ns = 20e6,
	.max_bytes = GIB,
	.regions = 100000,
};

static size_t ps;		/* page size */
/* A clock that ticks in jiffies: a fast operation may take "0 ns". */
static bool coarse_clock;
static int raw_fd = -1;
static bool raw_loaded_here;
static struct pinmgr_ctx *pm;	/* the context of the pin+unpin contender */
static struct io_uring ring;
static bool ring_ok;
/* A ring with a sparse table of one buffer slot, for io_uring-upd. */
static struct io_uring sparse_ring;
static int sparse_err = -ENOSYS;	/* 0 once the table is registered */
/* How long the last io_uring-upd sample's buffers stayed pinned after it. */
static double uring_unpinned_after_ns;

/* ---- output ------------------------------------------------------- */

static int ntap, nfailed;

__attribute__((format(printf, 3, 4)))
static void tap(bool ok, const char *skip, const char *fmt, ...)
{
	char desc[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	ntap++;
	if (!ok)
		nfailed++;
	if (skip)
		printf("ok %d - %s # SKIP %s\n", ntap, desc, skip);
	else
		printf("%s %d - %s\n", ok ? "ok" : "not ok", ntap, desc);
}

/* A line of the table ("# | ..."). */
__attribute__((format(printf, 1, 2)))
static void tab(const char *fmt, ...)
{
	va_list ap;

	fputs("# | ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Table lines printed later, by tab_flush(). */
static char *deferred[64];
static int ndeferred;

__attribute__((format(printf, 1, 2)))
static void tab_later(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (ndeferred < (int)ARRAY_SIZE(deferred))
		deferred[ndeferred++] = strdup(line);
}

static void tab_flush(void)
{
	int i;

	for (i = 0; i < ndeferred; i++) {
		if (deferred[i])
			tab("%s", deferred[i]);
		free(deferred[i]);
	}
	ndeferred = 0;
}

__attribute__((format(printf, 1, 2)))
static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const char *errname(int err)
{
	static char buf[32];

	switch (err) {
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case ENOSPC: return "ENOSPC";
	case E2BIG: return "E2BIG";
	case EPERM: return "EPERM";
	case EBUSY: return "EBUSY";
	case ENOENT: return "ENOENT";
	case EAGAIN: return "EAGAIN";
	case EOVERFLOW: return "EOVERFLOW";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOSYS: return "ENOSYS";
	case EEXIST: return "EEXIST";
	case EMFILE: return "EMFILE";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ENODEV: return "ENODEV";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	}
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

static const char *fmt_size(uint64_t b)
{
	static char bufs[4][32];
	static int i;
	char *s = bufs[i++ % 4];

	if (b >= GIB && b % GIB == 0)
		snprintf(s, 32, "%" PRIu64 " GiB", (uint64_t)(b / GIB));
	else if (b >= MIB && b % MIB == 0)
		snprintf(s, 32, "%" PRIu64 " MiB", (uint64_t)(b / MIB));
	else if (b >= KIB && b % KIB == 0)
		snprintf(s, 32, "%" PRIu64 " KiB", (uint64_t)(b / KIB));
	else
		snprintf(s, 32, "%" PRIu64 " B", b);
	return s;
}

static const char *fmt_ns(double ns)
{
	static char bufs[8][32];
	static int i;
	char *s = bufs[i++ % 8];

	if (ns < 0)
		snprintf(s, 32, "-");
	else if (ns < 1e3)
		snprintf(s, 32, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(s, 32, "%.2f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(s, 32, "%.2f ms", ns / 1e6);
	else
		snprintf(s, 32, "%.3f s", ns / 1e9);
	return s;
}

static const char *fmt_ratio(double r)
{
	static char bufs[8][16];
	static int i;
	char *s = bufs[i++ % 8];

	if (r < 0)
		snprintf(s, 16, "-");
	else
		snprintf(s, 16, "%.2fx", r);
	return s;
}

/* ---- JSON --------------------------------------------------------- */

/* A JSON object under construction. */
struct jobj {
	char s[2048];
	size_t n;
};

__attribute__((format(printf, 2, 3)))
static void jraw(struct jobj *j, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (j->n >= sizeof(j->s))
		return;
	va_start(ap, fmt);
	k = vsnprintf(j->s + j->n, sizeof(j->s) - j->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		j->n += (size_t)k;
}

static void jkey(struct jobj *j, const char *key)
{
	jraw(j, "%s\"%s\":", j->n > 1 ? "," : "", key);
}

static void jstr(struct jobj *j, const char *key, const char *val)
{
	const char *p;

	jkey(j, key);
	if (!val) {
		jraw(j, "null");
		return;
	}
	jraw(j, "\"");
	for (p = val; *p; p++) {
		if (*p == '"' || *p == '\\')
			jraw(j, "\\%c", *p);
		else if ((unsigned char)*p < 0x20)
			jraw(j, "\\u%04x", *p);
		else
			jraw(j, "%c", *p);
	}
	jraw(j, "\"");
}

/* A number, or null when @val is negative (not measured). */
static void jnum(struct jobj *j, const char *key, double val, int prec)
{
	jkey(j, key);
	if (val < 0 || val != val)
		jraw(j, "null");
	else
		jraw(j, "%.*f", prec, val);
}

static void ju64(struct jobj *j, const char *key, uint64_t val)
{
	jkey(j, key);
	jraw(j, "%" PRIu64, val);
}

static void jbool(struct jobj *j, const char *key, bool val)
{
	jkey(j, key);
	jraw(j, "%s", val ? "true" : "false");
}

/*
 * A small validating parser: the document must be an array of objects,
 * each with every key of required_keys[]. Nothing is built.
 */
static const char *const required_keys[] = {
	"case", "contender", "backing", "bytes", "median_ns", "ratio_to_raw",
};

struct jparse {
	const char *s;
	const char *err;
};

static void jp_ws(struct jparse *p)
{
	while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')
		p->s++;
}

static bool jp_fail(struct jparse *p, const char *why)
{
	if (!p->err)
		p->err = why;
	return false;
}

static bool jp_string(struct jparse *p, char *out, size_t outlen)
{
	size_t n = 0;
	int i;

	if (*p->s != '"')
		return jp_fail(p, "string expected");
	p->s++;
	while (*p->s != '"') {
		char c = *p->s;

		if (!c || (unsigned char)c < 0x20)
			return jp_fail(p, "bad character in string");
		if (c == '\\') {
			p->s++;
			c = *p->s;
			if (c == 'u') {
				for (i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p->s[i]) || !p->s[i])
						return jp_fail(p, "bad \\u escape");
				p->s += 4;
				c = '?';
			} else if (!c || !strchr("\"\\/bfnrt", c)) {
				return jp_fail(p, "bad escape");
			}
		}
		if (out && n + 1 < outlen)
			out[n++] = c;
		p->s++;
	}
	p->s++;
	if (out)
		out[n] = 0;
	return true;
}

static bool jp_number(struct jparse *p)
{
	const char *s = p->s;

	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return jp_fail(p, "number expected");
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return jp_fail(p, "digit expected after '.'");
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (*s < '0' || *s > '9')
			return jp_fail(p, "bad exponent");
		while (*s >= '0' && *s <= '9')
			s++;
	}
	p->s = s;
	return true;
}

static bool jp_value(struct jparse *p, int depth);

static bool jp_object(struct jparse *p, int depth)
{
	unsigned int seen = 0;
	char key[64];
	size_t i;

	p->s++;	/* '{' */
	jp_ws(p);
	if (*p->s != '}') {
		for (;;) {
			jp_ws(p);
			if (!jp_string(p, key, sizeof(key)))
				return false;
			for (i = 0; i < ARRAY_SIZE(required_keys); i++)
				if (!strcmp(key, required_keys[i]))
					seen |= 1u << i;
			jp_ws(p);
			if (*p->s != ':')
				return jp_fail(p, "':' expected");
			p->s++;
			if (!jp_value(p, depth + 1))
				return false;
			jp_ws(p);
			if (*p->s == '}')
				break;
			if (*p->s != ',')
				return jp_fail(p, "',' or '}' expected");
			p->s++;
		}
	}
	p->s++;
	if (depth == 1 && seen != (1u << ARRAY_SIZE(required_keys)) - 1)
		return jp_fail(p, "a result lacks a required key");
	return true;
}

static bool jp_array(struct jparse *p, int depth)
{
	p->s++;	/* '[' */
	jp_ws(p);
	if (*p->s == ']') {
		p->s++;
		return true;
	}
	for (;;) {
		jp_ws(p);
		if (depth == 0 && *p->s != '{')
			return jp_fail(p, "the list must hold objects");
		if (!jp_value(p, depth + 1))
			return false;
		jp_ws(p);
		if (*p->s == ']')
			break;
		if (*p->s != ',')
			return jp_fail(p, "',' or ']' expected");
		p->s++;
	}
	p->s++;
	return true;
}

static bool jp_value(struct jparse *p, int depth)
{
	jp_ws(p);
	if (depth > 16)
		return jp_fail(p, "nested too deep");
	switch (*p->s) {
	case '{':
		return jp_object(p, depth);
	case '[':
		return jp_array(p, depth);
	case '"':
		return jp_string(p, NULL, 0);
	case 't':
		if (strncmp(p->s, "true", 4))
			return jp_fail(p, "bad literal");
		p->s += 4;
		return true;
	case 'f':
		if (strncmp(p->s, "false", 5))
			return jp_fail(p, "bad literal");
		p->s += 5;
		return true;
	case 'n':
		if (strncmp(p->s, "null", 4))
			return jp_fail(p, "bad literal");
		p->s += 4;
		return true;
	default:
		return jp_number(p);
	}
}

/* NULL if @doc is a well-formed results list, else why not. */
static const char *json_check(const char *doc)
{
	struct jparse p = { .s = doc };

	jp_ws(&p);
	if (*p.s != '[')
		return "the document is not a list";
	if (!jp_value(&p, 0))
		return p.err;
	jp_ws(&p);
	if (*p.s)
		return "garbage after the list";
	return NULL;
}

/* ---- results ------------------------------------------------------ */

struct result {
	char cas[32];
	char contender[16];
	char backing[8];
	char op[16];
	uint64_t bytes;
	double median_ns;
	double extra;	/* case-specific: speedup, bytes per run ... */
};

static struct result results[1024];
static size_t nresults;
static char *json_doc;		/* "[obj,obj,...": every object emitted */
static size_t json_len, json_cap;
static unsigned int njson;
static const char *json_bad;	/* first malformed object */

static void json_append(const char *s)
{
	size_t n = strlen(s);

	if (json_len + n + 2 > json_cap) {
		json_cap = (json_len + n + 2) * 2;
		json_doc = realloc(json_doc, json_cap);
		if (!json_doc) {
			perror("realloc");
			exit(1);
		}
	}
	memcpy(json_doc + json_len, s, n + 1);
	json_len += n;
}

/* What one results.json entry says. */
struct rec {
	const char *cas, *contender, *backing, *op;
	uint64_t bytes;
	double median_ns;	/* < 0: null */
	double ratio;		/* < 0: null */
	const double *samples;
	int nsamples;
	unsigned long iters;	/* operations per sample */
	double extra;		/* stored in struct result */
	void (*more)(struct jobj *j, const void *arg);	/* more fields */
	const void *arg;
};

static void record(const struct rec *r)
{
	struct result *res;
	char one[2200];
	struct jobj j = { .n = 0 };
	const char *bad;
	int i;

	jraw(&j, "{");
	jstr(&j, "case", r->cas);
	jstr(&j, "contender", r->contender);
	jstr(&j, "backing", r->backing);
	ju64(&j, "bytes", r->bytes);
	jnum(&j, "median_ns", r->median_ns, 1);
	jnum(&j, "ratio_to_raw", r->ratio, 4);
	if (r->op)
		jstr(&j, "op", r->op);
	if (r->median_ns > 0 && r->bytes && strncmp(r->cas, "regions", 7) &&
	    strncmp(r->cas, "threads", 7))
		jnum(&j, "gib_per_s", (double)r->bytes / r->median_ns * 1e9 / GIB, 4);
	if (r->iters)
		ju64(&j, "iters_per_sample", r->iters);
	if (r->nsamples) {
		jkey(&j, "samples_ns");
		jraw(&j, "[");
		for (i = 0; i < r->nsamples; i++)
			jraw(&j, "%s%.1f", i ? "," : "", r->samples[i]);
		jraw(&j, "]");
	}
	if (r->more)
		r->more(&j, r->arg);
	jraw(&j, "}");
	if (j.n >= sizeof(j.s)) {
		json_bad = "an object longer than its buffer";
		return;
	}

	snprintf(one, sizeof(one), "[%s]", j.s);
	bad = json_check(one);
	if (bad && !json_bad)
		json_bad = bad;
	json_append(njson ? "," : "[");
	json_append(j.s);
	njson++;
	printf("# @json %s\n", j.s);

	if (nresults < ARRAY_SIZE(results)) {
		res = &results[nresults++];
		snprintf(res->cas, sizeof(res->cas), "%s", r->cas);
		snprintf(res->contender, sizeof(res->contender), "%s", r->contender);
		snprintf(res->backing, sizeof(res->backing), "%s", r->backing);
		snprintf(res->op, sizeof(res->op), "%s", r->op ? r->op : "");
		res->bytes = r->bytes;
		res->median_ns = r->median_ns;
		res->extra = r->extra;
	}
}

static const struct result *find(const char *cas, const char *contender,
				 const char *backing, uint64_t bytes,
				 const char *op)
{
	size_t i;

	for (i = 0; i < nresults; i++) {
		const struct result *r = &results[i];

		if (!strcmp(r->cas, cas) && !strcmp(r->contender, contender) &&
		    !strcmp(r->backing, backing) && r->bytes == bytes &&
		    (!op || !strcmp(r->op, op)))
			return r;
	}
	return NULL;
}

static double median_of(const double *v, int n)
{
	double tmp[MAX_ROUNDS], t;
	int i, k;

	if (n <= 0)
		return -1;
	memcpy(tmp, v, n * sizeof(*v));
	for (i = 1; i < n; i++) {	/* insertion sort: n is small */
		t = tmp[i];
		for (k = i; k > 0 && tmp[k - 1] > t; k--)
			tmp[k] = tmp[k - 1];
		tmp[k] = t;
	}
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* ---- system helpers ----------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

static int write_file(const char *path, const char *val)
{
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

static long read_long(const char *path)
{
	char buf[64];

	if (read_file(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

/* A "Key:   N kB" field of /proc/meminfo or /proc/self/status, or -1. */
static long proc_field(const char *path, const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long val = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			val = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return val;
}

static long meminfo(const char *key)
{
	return proc_field("/proc/meminfo", key);
}

/* AnonHugePages of the mapping holding @addr, in kB, or -1. */
static long thp_kb(const void *addr)
{
	unsigned long a = (unsigned long)addr, start, end;
	char line[512];
	bool in = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = a >= start && a < end;
			continue;
		}
		if (in && !strncmp(line, "AnonHugePages:", 14)) {
			kb = strtol(line + 14, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* ---- the raw companion module ------------------------------------- */

static int raw_default_ko(char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n < 0)
		return -errno;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	if ((size_t)snprintf(out, len, "%.*s/bench-data/%s.ko", PATH_MAX - 64, exe,
			     PINMGR_BENCH_RAW_NAME) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int raw_load(void)
{
	int fd, ret, err;

	fd = open(cfg.raw_ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = (int)syscall(SYS_finit_module, fd, "", 0);
	err = errno;
	close(fd);
	if (ret && err != EEXIST)
		return -err;
	raw_loaded_here = !ret;
	raw_fd = open("/dev/" PINMGR_BENCH_RAW_NAME, O_RDWR | O_CLOEXEC);
	if (raw_fd < 0)
		return -errno;
	return 0;
}

static int raw_unload(void)
{
	if (raw_fd >= 0)
		close(raw_fd);
	raw_fd = -1;
	if (!raw_loaded_here)
		return 0;
	raw_loaded_here = false;
	if (syscall(SYS_delete_module, PINMGR_BENCH_RAW_NAME, O_NONBLOCK))
		return -errno;
	return 0;
}

/* With @out, the kernel times its pin and unpin parts (the split). */
static int raw_pin_unpin(int fd, void *addr, size_t len,
			 struct pinmgr_bench_raw_pin *out)
{
	struct pinmgr_bench_raw_pin a = {
		.size = sizeof(a),
		.flags = out ? PINMGR_BENCH_RAW_TIMED : 0,
		.addr = (uintptr_t)addr,
		.length = len,
	};

	if (ioctl(fd, PINMGR_BENCH_RAW_PIN_UNPIN, &a))
		return -errno;
	if (out)
		*out = a;
	return 0;
}

/* ---- memory of each backing --------------------------------------- */

/*
 * Anonymous private memory of three page sizes, and a sealed memfd's
 * shared mapping (shmem, and hugetlbfs with 2 MiB pages) for udmabuf.
 */
enum backing { B_4K, B_THP, B_HUGETLB, B_MEMFD, B_MEMFD_HUGETLB, NBACKING };
static const char *const backing_name[NBACKING] = {
	"4k", "thp", "hugetlb", "memfd", "memfd-hugetlb"
};

static bool is_memfd(enum backing kind)
{
	return kind == B_MEMFD || kind == B_MEMFD_HUGETLB;
}

/* A type1v2 VFIO container holding the edu device's group, or -1. */
static int vfio_container = -1, vfio_group = -1;
static char vfio_why[160] = "not set up";
/* Where the ranges go in the device's I/O address space: above 4 GiB. */
#define VFIO_IOVA	(1ull << 32)

/* The rxe device's protection domain, or NULL (rdma_why says why). */
static struct ibv_context *rdma_ctx;
static struct ibv_pd *rdma_pd;
static char rdma_why[160] = "not set up";

/* /dev/udmabuf, and the memfd whose mapping the udmabuf contender uses. */
static int udmabuf_fd = -1;
static int memfd_fd = -1;
static char *memfd_base;

/* Is @kind measured in this boot? The memfd backings are udmabuf's. */
static bool backing_measured(enum backing kind)
{
	return !is_memfd(kind) || udmabuf_fd >= 0;
}

struct buf {
	int fd;		/* memfd backings: the memfd, else -1 */
	void *map;
	size_t map_len;
	char *base;	/* 2 MiB aligned */
	size_t len;
	long hp_saved;	/* nr_hugepages before, or -1 */
	long thp_kb;
};

static void buf_free(struct buf *b)
{
	char val[32];

	if (b->map && b->map != MAP_FAILED)
		munmap(b->map, b->map_len);
	b->map = NULL;
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	if (b->hp_saved >= 0) {
		snprintf(val, sizeof(val), "%ld", b->hp_saved);
		write_file("/proc/sys/vm/nr_hugepages", val);
		b->hp_saved = -1;
	}
}

/* @len bytes of @kind, every page present; 0, or -errno with @why set. */
static int buf_alloc(enum backing kind, size_t len, struct buf *b,
		     char *why, size_t whylen)
{
	long need, have;
	char val[32];
	size_t off;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->hp_saved = -1;
	b->thp_kb = -1;
	len = (len + HPAGE - 1) & ~(HPAGE - 1);
	b->len = len;

	if (kind == B_HUGETLB || kind == B_MEMFD_HUGETLB) {
		need = (long)(len / HPAGE);
		b->hp_saved = read_long("/proc/sys/vm/nr_hugepages");
		if (b->hp_saved < 0) {
			snprintf(why, whylen, "no /proc/sys/vm/nr_hugepages");
			return -ENOENT;
		}
		have = meminfo("HugePages_Free");
		if (have < need) {
			snprintf(val, sizeof(val), "%ld", b->hp_saved + need - (have > 0 ? have : 0));
			write_file("/proc/sys/vm/nr_hugepages", val);
			have = meminfo("HugePages_Free");
		}
		if (have < need) {
			snprintf(why, whylen, "only %ld of %ld free 2 MiB hugetlb pages after raising nr_hugepages",
				 have, need);
			buf_free(b);
			return -ENOMEM;
		}
	}
	if (is_memfd(kind)) {
		b->fd = memfd_create("pinbench", MFD_CLOEXEC | MFD_ALLOW_SEALING |
				     (kind == B_MEMFD_HUGETLB ? MFD_HUGETLB : 0));
		/* udmabuf wants the file sealed against shrinking. */
		if (b->fd < 0 || ftruncate(b->fd, (off_t)len) ||
		    fcntl(b->fd, F_ADD_SEALS, F_SEAL_SHRINK)) {
			int err = errno;

			snprintf(why, whylen, "memfd of %s: %s", fmt_size(len), errname(err));
			buf_free(b);
			return -err;
		}
		b->map_len = len;
		b->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			      b->fd, 0);
		if (b->map == MAP_FAILED) {
			int err = errno;

			snprintf(why, whylen, "mmap of the memfd: %s", errname(err));
			buf_free(b);
			return -err;
		}
		b->base = b->map;
	} else if (kind == B_HUGETLB) {
		b->map_len = len;
		b->map = mmap(NULL, len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
		if (b->map == MAP_FAILED) {
			int err = errno;

			snprintf(why, whylen, "mmap(MAP_HUGETLB) of %s: %s", fmt_size(len), errname(err));
			buf_free(b);
			return -err;
		}
		b->base = b->map;
	} else {
		b->map_len = len + HPAGE;
		b->map = mmap(NULL, b->map_len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (b->map == MAP_FAILED) {
			int err = errno;

			snprintf(why, whylen, "mmap of %s: %s", fmt_size(len), errname(err));
			b->map = NULL;
			return -err;
		}
		b->base = (char *)(((uintptr_t)b->map + HPAGE - 1) & ~(uintptr_t)(HPAGE - 1));
		if (madvise(b->base, len, kind == B_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) &&
		    /* No THP in this kernel (PREEMPT_RT): 4 KiB pages anyway. */
		    !(kind != B_THP && errno == EINVAL &&
		      access("/sys/kernel/mm/transparent_hugepage", F_OK))) {
			int err = errno;

			snprintf(why, whylen, "madvise(%s): %s",
				 kind == B_THP ? "MADV_HUGEPAGE" : "MADV_NOHUGEPAGE", errname(err));
			buf_free(b);
			return -err;
		}
	}
	for (off = 0; off < len; off += ps)
		b->base[off] = (char)(off / ps);
	if (kind == B_THP) {
		b->thp_kb = thp_kb(b->base);
		if (b->thp_kb * KIB < len / 2) {
			snprintf(why, whylen, "only %ld kB of %s are in transparent huge pages",
				 b->thp_kb, fmt_size(len));
			buf_free(b);
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- the size matrix: one range, every contender ------------------ */

/*
 * Past the size matrix's contenders, measured by the 4 KiB round-trip case
 * only: C_UPDATE and C_REPLACE, the steady state of a driver pinning per
 * I/O (a new handle each time, or one slot's handle kept), and C_REPLACE_NE,
 * C_REPLACE of regions that are not watched (PINMGR_PIN_NO_EVENTS); C_INFO and
 * C_NOTTY, the floors under any ioctl (see roundtrip_case()).
 */
enum { C_RAW, C_PINMGR, C_PIN_CLOSE, C_URING, C_URING_UPD, C_UDMABUF, C_RDMA,
       C_VFIO, C_MLOCK, NCONT, C_UPDATE = NCONT, C_INFO, C_NOTTY, C_REPLACE,
       C_REPLACE_NE, NCONT_ALL };

static const struct contender {
	const char *cas;	/* results.json "case" */
	const char *name;	/* results.json "contender" */
	const char *op;		/* results.json "op" */
	const char *label;	/* column of the table and key of the plot */
	unsigned long max_iters;
} conts[NCONT_ALL] = {
	[C_RAW] = { "pin+unpin", "raw", "pin+unpin", "raw", 100000 },
	[C_PINMGR] = { "pin+unpin", "pinmgr", "PIN+UNPIN", "pinmgr", 100000 },
	/* One file per operation, opened before the sample starts. */
	[C_PIN_CLOSE] = { "pin+close", "pinmgr", "PIN+close", "pin+close", 256 },
	[C_URING] = { "pin+unpin", "io_uring", "register+unregister", "io_uring", 100000 },
	[C_URING_UPD] = { "pin+unpin", "io_uring-upd",
			  "update slot to range, then to empty (sparse table)",
			  "io_uring-upd", 100000 },
	[C_UDMABUF] = { "pin+unpin", "udmabuf", "UDMABUF_CREATE + close of the dma-buf",
			"udmabuf", 100000 },
	[C_RDMA] = { "pin+unpin", "rdma", "ibv_reg_mr + ibv_dereg_mr (rxe)", "rdma", 100000 },
	[C_VFIO] = { "pin+unpin", "vfio", "VFIO_IOMMU_MAP_DMA + UNMAP_DMA (type1v2, emulated Intel IOMMU)",
		     "vfio", 100000 },
	[C_MLOCK] = { "pin+unpin", "mlock", "mlock+munlock", "mlock", 100000 },
	[C_UPDATE] = { "steady-state", "pinmgr", "UPDATE (pin next, unpin last)",
		       "update", 100000 },
	[C_INFO] = { "ioctl-floor", "pinmgr", "INFO: pinmgr's ioctl path, no pin", "info",
		     100000 },
	[C_NOTTY] = { "ioctl-floor", "kernel",
		      "unknown ioctl number on /dev/pinmgr: the system call alone (ENOTTY)",
		      "enotty", 100000 },
	[C_REPLACE] = { "steady-state", "pinmgr",
			"UPDATE_REPLACE (the slot's handle to the next buffer)",
			"replace", 100000 },
	[C_REPLACE_NE] = { "steady-state", "pinmgr",
			   "UPDATE_REPLACE of unwatched regions (PINMGR_PIN_NO_EVENTS)",
			   "replace-ne", 100000 },
};

/*
 * Why contender @c is not measured on memory @kind by design, or NULL:
 * udmabuf takes memfds only, and the memfd rows are there for it.
 */
static const char *not_on(int c, enum backing kind)
{
	if (c == C_UDMABUF && !is_memfd(kind))
		return "n/a: udmabuf takes memfd memory only";
	if ((c == C_PIN_CLOSE || c == C_URING || c == C_MLOCK) && is_memfd(kind))
		return "n/a: measured on anonymous memory only";
	return NULL;
}

/*
 * The region the steady-state operations hold between calls: C_UPDATE
 * unpins it and pins the next buffer (a new handle), C_REPLACE pins the
 * next buffer in its place (the handle stays; the first call pins).
 */
static uint32_t update_last;


/* Point the sparse table's one slot at [@addr, @addr + @len), or empty it. */
static int uring_slot(void *addr, size_t len)
{
	struct iovec iov = { .iov_base = addr, .iov_len = len };
	int ret = io_uring_register_buffers_update_tag(&sparse_ring, 0, &iov, NULL, 1);

	return ret == 1 ? 0 : ret < 0 ? ret : -EIO;
}

/* VmPin of this process in kB (what io_uring charges its buffers to), or -1. */
static long vm_pin_kb(void)
{
	return proc_field("/proc/self/status", "VmPin");
}

/*
 * Wait until VmPin is down to @base kB again: io_uring has unpinned every
 * buffer an update replaced. Polls every 100 us, for at most 10 s.
 */
static int uring_wait_unpinned(long base, double *ns)
{
	struct timespec pause = { 0, 100000 };
	uint64_t t0 = now_ns(), t;
	long cur;

	for (;;) {
		cur = vm_pin_kb();
		t = now_ns();
		if (cur < 0)
			return -ENOENT;
		if (cur <= base)
			break;
		if (t - t0 > 10000000000ull)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
	*ns = (double)(t - t0);
	return 0;
}

static int do_op(int c, void *addr, size_t len, struct pinmgr_ctx **slot)
{
	struct iovec iov = { .iov_base = addr, .iov_len = len };
	uint32_t h;
	int ret;

	switch (c) {
	case C_RAW:
		return raw_pin_unpin(raw_fd, addr, len, NULL);
	case C_PINMGR:
		ret = pinmgr_pin(pm, addr, len, PINMGR_PIN_WRITE, &h);
		return ret ? ret : pinmgr_unpin(pm, h);
	case C_PIN_CLOSE:
		ret = pinmgr_pin(*slot, addr, len, PINMGR_PIN_WRITE, &h);
		pinmgr_close(*slot);
		*slot = NULL;
		return ret;
	case C_URING:
		if (!ring_ok)
			return -ENOSYS;
		ret = io_uring_register_buffers(&ring, &iov, 1);
		return ret ? ret : io_uring_unregister_buffers(&ring);
	case C_URING_UPD:
		if (sparse_err)
			return sparse_err;
		ret = uring_slot(addr, len);
		return ret ? ret : uring_slot(NULL, 0);
	case C_UDMABUF: {
		struct udmabuf_create uc = {
			.memfd = (uint32_t)memfd_fd, .flags = UDMABUF_FLAGS_CLOEXEC,
			.offset = (uint64_t)((char *)addr - memfd_base), .size = len,
		};
		int fd = ioctl(udmabuf_fd, UDMABUF_CREATE, &uc);

		if (fd < 0)
			return -errno;
		return close(fd) ? -errno : 0;
	}
	case C_RDMA: {
		struct ibv_mr *mr;

		if (!rdma_pd)
			return -ENODEV;
		mr = ibv_reg_mr(rdma_pd, addr, len, IBV_ACCESS_LOCAL_WRITE |
				IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
		if (!mr)
			return errno ? -errno : -EIO;
		ret = ibv_dereg_mr(mr);
		return ret > 0 ? -ret : ret;
	}
	case C_VFIO: {
		struct vfio_iommu_type1_dma_map map = {
			.argsz = sizeof(map), .vaddr = (uintptr_t)addr, .iova = VFIO_IOVA,
			.size = len, .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		};
		struct vfio_iommu_type1_dma_unmap unmap = {
			.argsz = sizeof(unmap), .iova = VFIO_IOVA, .size = len,
		};

		if (vfio_container < 0)
			return -ENODEV;
		if (ioctl(vfio_container, VFIO_IOMMU_MAP_DMA, &map))
			return -errno;
		if (ioctl(vfio_container, VFIO_IOMMU_UNMAP_DMA, &unmap))
			return -errno;
		return unmap.size == len ? 0 : -EIO;
	}
	case C_MLOCK:
		if (mlock(addr, len))
			return -errno;
		return munlock(addr, len) ? -errno : 0;
	case C_INFO: {
		struct pinmgr_info info;

		return pinmgr_info(pm, &info, sizeof(info));
	}
	case C_NOTTY:
		/* Same type as pinmgr's ioctls, a number it does not have. */
		if (ioctl(pinmgr_fd(pm), _IOWR(PINMGR_TYPE, 0xff, struct pinmgr_unpin),
			  NULL) != -1)
			return -EIO;	/* the number exists after all */
		return errno == ENOTTY ? 0 : -errno;
	case C_UPDATE: {
		struct pinmgr_pin_range r = { .addr = (uintptr_t)addr, .length = len };

		ret = pinmgr_update(pm, &update_last, update_last ? 1 : 0,
				    PINMGR_PIN_WRITE, &r, 1);
		if (!ret)
			update_last = r.out_handle;
		return ret;
	}
	case C_REPLACE:
	case C_REPLACE_NE: {
		struct pinmgr_pin_range r = { .addr = (uintptr_t)addr, .length = len };
		uint32_t flags = PINMGR_PIN_WRITE |
				 (c == C_REPLACE_NE ? PINMGR_PIN_NO_EVENTS : 0);

		if (!update_last)
			return pinmgr_pin(pm, addr, len, flags, &update_last);
		return pinmgr_update(pm, &update_last, 1,
				     flags | PINMGR_UPDATE_REPLACE, &r, 1);
	}
	}
	return -EINVAL;
}

/* Mean ns per operation over @iters operations of contender @c. */
static int sample(int c, void *addr, size_t len, unsigned long iters, double *ns)
{
	struct pinmgr_ctx **ctxs = NULL;
	long pin_kb = c == C_URING_UPD ? vm_pin_kb() : 0;
	unsigned long i;
	uint64_t t0, t1;
	int ret = 0;

	if (c == C_PIN_CLOSE) {
		ctxs = calloc(iters, sizeof(*ctxs));
		if (!ctxs)
			return -ENOMEM;
		for (i = 0; i < iters && !ret; i++)
			ret = pinmgr_open(&ctxs[i]);
	}
	/*
	 * One untimed operation first when the sample has several: it
	 * measures the steady state, not the first touch after whatever ran
	 * before (another contender, or io_uring-upd's wait for its unpins).
	 * A sample of one operation is taken best of three instead.
	 */
	if (iters > 1 && c != C_PIN_CLOSE)
		ret = do_op(c, addr, len, NULL);
	t0 = now_ns();
	for (i = 0; i < iters && !ret; i++)
		ret = do_op(c, addr, len, ctxs ? &ctxs[i] : NULL);
	t1 = now_ns();
	/* Untimed: until the buffers io_uring let go of are really unpinned. */
	if (c == C_URING_UPD && !ret)
		ret = uring_wait_unpinned(pin_kb, &uring_unpinned_after_ns);
	if (ctxs) {
		for (i = 0; i < iters; i++)
			if (ctxs[i])
				pinmgr_close(ctxs[i]);
		free(ctxs);
	}
	if (ret)
		return ret;
	*ns = (double)(t1 - t0) / (double)iters;
	return 0;
}

/*
 * One sample; when one operation already fills it (@iters is 1), the best
 * of three: on a shared host noise only ever adds time.
 */
static int sample_best(int c, void *addr, size_t len, unsigned long iters, double *ns)
{
	int k, reps = iters == 1 && !cfg.smoke ? 3 : 1, ret;
	double t;

	for (k = 0; k < reps; k++) {
		ret = sample(c, addr, len, iters, &t);
		if (ret)
			return ret;
		if (!k || t < *ns)
			*ns = t;
	}
	return 0;
}

/* Operations per sample so that one sample lasts about cfg.sample_ns. */
static int calibrate(int c, void *addr, size_t len, unsigned long *iters)
{
	double t1, t2;
	double n;
	int ret;

	*iters = 1;
	if (cfg.smoke)
		return 0;
	ret = sample(c, addr, len, 1, &t1);
	if (!ret)
		ret = sample(c, addr, len, 1, &t2);
	if (ret)
		return ret;
	if (t2 < t1)
		t1 = t2;
	n = cfg.sample_ns / (t1 > 1 ? t1 : 1);
	/*
	 * A single operation can cost far more than one of many (the first
	 * after an idle moment): time a tenth of the estimate, warmed up, and
	 * size the sample from that.
	 */
	if (n >= 20) {
		ret = sample(c, addr, len, (unsigned long)(n / 10), &t2);
		if (ret)
			return ret;
		n = cfg.sample_ns / (t2 > 1 ? t2 : 1);
	}
	if (n < 1)
		n = 1;
	if (n > conts[c].max_iters)
		n = conts[c].max_iters;
	*iters = (unsigned long)n;
	return 0;
}

/* What the size matrix measured, for the targets and the plot. */
static double matrix[NBACKING][8][NCONT];	/* median ns, -1: none */
static uint64_t matrix_sizes[8];
static int nsizes;

/*
 * Medians of one extra operation per round, timed in parts: raw's pin and
 * unpin as the module measured them, io_uring's register and unregister.
 */
static double split[NBACKING][8][4];

struct size_case_more {
	const char *note;
	const char *error;
	const double *split;	/* raw or io_uring: its two parts */
	const char *k1, *k2;
	double unpinned_after;	/* io_uring-upd: median, or 0 */
};

static void size_case_more(struct jobj *j, const void *arg)
{
	const struct size_case_more *m = arg;

	if (m->split && m->split[0] > 0) {
		jnum(j, m->k1, m->split[0], 1);
		jnum(j, m->k2, m->split[1], 1);
	}
	if (m->unpinned_after > 0)
		jnum(j, "unpinned_after_ns", m->unpinned_after, 0);
	if (m->error)
		jstr(j, "error", m->error);
	if (m->note)
		jstr(j, "note", m->note);
}

static double ratio(double a, double b);

/*
 * "# @plot BACKING CONTENDER BYTES GIB_PER_S RATIO LO HI": the median's
 * throughput and ratio to raw, and the spread of the ratio over the rounds
 * (each round's sample against raw's of the same round: min and max).
 */
static void plot_point(enum backing kind, int c, size_t len, const double *med,
		       double samples[][MAX_ROUNDS], const int *err)
{
	double q, lo = -1, hi = -1;
	int r;

	for (r = 0; r < cfg.rounds && !err[C_RAW] && med[C_RAW] > 0; r++) {
		q = ratio(samples[c][r], samples[C_RAW][r]);
		if (q <= 0)
			continue;
		if (lo < 0 || q < lo)
			lo = q;
		if (q > hi)
			hi = q;
	}
	printf("# @plot %s %s %" PRIu64 " %.6f %.4f %.4f %.4f\n", backing_name[kind],
	       conts[c].label, (uint64_t)len, (double)len / med[c] * 1e9 / GIB,
	       med[C_RAW] > 0 ? med[c] / med[C_RAW] : -1, lo, hi);
}

static bool size_case(enum backing kind, int si, char *base, size_t len)
{
	double samples[NCONT][MAX_ROUNDS], med[NCONT];
	unsigned long iters[NCONT];
	const char *na[NCONT] = { 0 };
	int err[NCONT] = { 0 };
	struct pinmgr_bench_raw_pin kin[MAX_ROUNDS];
	double kpin[MAX_ROUNDS], kunpin[MAX_ROUNDS];
	double ureg[MAX_ROUNDS], uunreg[MAX_ROUNDS], uafter[MAX_ROUNDS];
	char cells[NCONT][48], row[400];
	bool ok = true;
	int c, k, r, w;
	size_t n;

	/*
	 * mlock of part of a THP splits its PMD mapping (the VMA is split
	 * at the range's end), which would leave the other contenders
	 * pinning 4 KiB-mapped pages from then on.
	 */
	if (kind == B_THP && len % HPAGE)
		na[C_MLOCK] = "n/a: mlock of part of a huge page splits its mapping";
	if (!ring_ok)
		na[C_URING] = "n/a: no io_uring ring (io_uring_queue_init failed)";
	if (sparse_err)
		na[C_URING_UPD] = "n/a: no sparse io_uring buffer table (see its setup line)";
	if (!rdma_pd)
		na[C_RDMA] = rdma_why;
	if (vfio_container < 0)
		na[C_VFIO] = vfio_why;
	for (c = 0; c < NCONT; c++)
		if (not_on(c, kind))
			na[c] = not_on(c, kind);

	for (c = 0; c < NCONT; c++) {
		med[c] = -1;
		iters[c] = 0;
		if (!na[c])
			err[c] = calibrate(c, base, len, &iters[c]);
	}
	for (w = 0; w < cfg.warmup; w++)
		for (k = 0; k < NCONT; k++) {
			double ns;

			c = (k + w) % NCONT;
			if (!na[c] && !err[c])
				err[c] = sample(c, base, len, iters[c], &ns);
		}
	for (r = 0; r < cfg.rounds; r++) {
		for (k = 0; k < NCONT; k++) {
			c = (k + r) % NCONT;
			if (!na[c] && !err[c])
				err[c] = sample_best(c, base, len, iters[c], &samples[c][r]);
			if (c == C_URING_UPD)
				uafter[r] = !na[c] && !err[c] ? uring_unpinned_after_ns : -1;
		}
		/* The kernel-side split of one raw operation (not timed above). */
		if (!err[C_RAW] && !raw_pin_unpin(raw_fd, base, len, &kin[r])) {
			kpin[r] = (double)kin[r].out_pin_ns;
			kunpin[r] = (double)kin[r].out_unpin_ns;
		} else {
			kpin[r] = kunpin[r] = -1;
		}
		/* And of one io_uring operation: register, then unregister. */
		ureg[r] = uunreg[r] = -1;
		if (!na[C_URING] && !err[C_URING]) {
			struct iovec iov = { .iov_base = base, .iov_len = len };
			uint64_t t0 = now_ns(), t1, t2;

			if (!io_uring_register_buffers(&ring, &iov, 1)) {
				t1 = now_ns();
				io_uring_unregister_buffers(&ring);
				t2 = now_ns();
				ureg[r] = (double)(t1 - t0);
				uunreg[r] = (double)(t2 - t1);
			}
		}
	}
	split[kind][si][0] = median_of(kpin, cfg.rounds);
	split[kind][si][1] = median_of(kunpin, cfg.rounds);
	split[kind][si][2] = median_of(ureg, cfg.rounds);
	split[kind][si][3] = median_of(uunreg, cfg.rounds);

	for (c = 0; c < NCONT; c++) {
		struct size_case_more more = { 0 };
		struct rec rec = {
			.cas = conts[c].cas, .contender = conts[c].name,
			.backing = backing_name[kind], .op = conts[c].op,
			.bytes = len, .median_ns = -1, .ratio = -1,
			.iters = iters[c], .more = size_case_more, .arg = &more,
		};

		if (!na[c] && !err[c]) {
			med[c] = median_of(samples[c], cfg.rounds);
			if (med[c] <= 0 && !coarse_clock)
				err[c] = -ERANGE;	/* a clock that does not move */
		}
		if (!na[c] && !err[c]) {
			rec.median_ns = med[c];
			rec.samples = samples[c];
			rec.nsamples = cfg.rounds;
			if (med[C_RAW] > 0)
				rec.ratio = med[c] / med[C_RAW];
			snprintf(cells[c], sizeof(cells[c]), "%s %s", fmt_ns(med[c]),
				 c == C_RAW ? "" : fmt_ratio(rec.ratio));
			plot_point(kind, c, len, med, samples, err);
		} else if (na[c]) {
			more.note = na[c];
			snprintf(cells[c], sizeof(cells[c]), "n/a");
		} else {
			more.error = errname(-err[c]);
			snprintf(cells[c], sizeof(cells[c]), "%s", errname(-err[c]));
		}
		if (c == C_RAW && !err[c]) {
			more.split = &split[kind][si][0];
			more.k1 = "kernel_pin_ns";
			more.k2 = "kernel_unpin_ns";
		}
		if (c == C_URING && !err[c]) {
			more.split = &split[kind][si][2];
			more.k1 = "register_ns";
			more.k2 = "unregister_ns";
		}
		if (c == C_URING_UPD && !na[c] && !err[c]) {
			more.unpinned_after = median_of(uafter, cfg.rounds);
			more.note = "the replaced buffer is unpinned by io_uring when its resource node is released (on 6.1 by a worker up to a second later): not in median_ns; unpinned_after_ns is how long VmPin took to come back after a sample";
		}
		if (c == C_MLOCK && kind == B_HUGETLB)
			more.note = "the kernel does not mlock hugetlb pages (they are never swapped): only the VMA walk is timed";
		record(&rec);
		matrix[kind][si][c] = med[c];
		/* raw and pinmgr must work; the others are reported as they are. */
		if ((c <= C_PIN_CLOSE || cfg.smoke) && err[c])
			ok = false;
	}

	n = (size_t)snprintf(row, sizeof(row), "%-8s %-8s", backing_name[kind], fmt_size(len));
	for (c = 0; c < NCONT && n < sizeof(row); c++)
		n += (size_t)snprintf(row + n, sizeof(row) - n, " %-18s", cells[c]);
	tab("%s", row);

	if (!ok) {
		char why[200] = "";

		for (c = 0; c < NCONT; c++)
			if (err[c])
				snprintf(why + strlen(why), sizeof(why) - strlen(why), " %s:%s",
					 conts[c].label, errname(-err[c]));
		tap(false, NULL, "pin+unpin %s %s (errors:%s)", backing_name[kind], fmt_size(len), why);
	} else {
		char skip[200] = "";

		for (c = 0; c < NCONT; c++)
			if (err[c])
				snprintf(skip + strlen(skip), sizeof(skip) - strlen(skip), "%s%s failed: %s",
					 skip[0] ? ", " : "", conts[c].label, errname(-err[c]));
		if (skip[0])
			diag("pin+unpin %s %s: %s", backing_name[kind], fmt_size(len), skip);
		tap(true, NULL, "pin+unpin %s %s: every contender measured%s", backing_name[kind],
		    fmt_size(len), skip[0] ? " except the failed ones (see results)" : "");
	}
	return ok;
}

/* ---- metadata per pinned page ------------------------------------- */

struct md_more {
	uint64_t pages, segs, computed, exported;
	bool have_exported;
};

static void md_more(struct jobj *j, const void *arg)
{
	const struct md_more *m = arg;

	ju64(j, "pages", m->pages);
	ju64(j, "segments", m->segs);
	ju64(j, "metadata_bytes_computed", m->computed);
	if (m->have_exported)
		ju64(j, "metadata_bytes_exported", m->exported);
	else
		jnum(j, "metadata_bytes_exported", -1, 0);
	jnum(j, "bytes_per_page", (double)(m->have_exported ? m->exported : m->computed) /
	     (double)m->pages, 3);
	jnum(j, "bytes_per_run", (double)(m->have_exported ? m->exported : m->computed) /
	     (double)m->segs, 3);
	jstr(j, "source", m->have_exported ? "exported (pinmgr_stats.out_metadata_bytes)" :
	     "computed: 16 bytes per run + 64 per region (module/pin_tracker/pin_tracker.h layout)");
}

static uint64_t stats_metadata(struct pinmgr_ctx *ctx, bool *have)
{
	struct pinmgr_stats s;

	*have = false;
	if (pinmgr_stats(ctx, &s, sizeof(s)))
		return 0;
#ifdef PINBENCH_HAVE_METADATA_BYTES
	*have = true;
	return s.out_metadata_bytes;
#else
	return 0;
#endif
}

/* What metadata_case() found, per backing and size. */
static struct {
	uint64_t bytes, segs;
	bool exported;
} md[NBACKING][8];

/*
 * Bytes per additional run: between the smallest and the largest region
 * measured (the fixed per-region part cancels out), or -1.
 */
static double md_marginal(enum backing kind)
{
	uint64_t s0 = md[kind][0].segs, s1 = md[kind][nsizes - 1].segs;

	if (!s0 || s1 <= s0 || md[kind][nsizes - 1].bytes < md[kind][0].bytes)
		return -1;
	return (double)(md[kind][nsizes - 1].bytes - md[kind][0].bytes) / (double)(s1 - s0);
}

static bool metadata_case(enum backing kind, int si, char *base, size_t len)
{
	struct pinmgr_segments req;
	struct pinmgr_query q;
	struct pinmgr_ctx *ctx;
	struct md_more m = { 0 };
	uint64_t before, after, used;
	bool have;
	uint32_t h;
	int ret;
	struct rec rec = {
		.cas = "metadata", .contender = "pinmgr", .backing = backing_name[kind],
		.op = "PIN", .bytes = len, .median_ns = -1, .ratio = -1,
		.more = md_more, .arg = &m,
	};

	ret = pinmgr_open(&ctx);
	if (ret)
		goto out_err;
	before = stats_metadata(ctx, &have);
	ret = pinmgr_pin(ctx, base, len, PINMGR_PIN_WRITE, &h);
	if (ret)
		goto out_close;
	after = stats_metadata(ctx, &have);
	ret = pinmgr_query(ctx, h, &q, sizeof(q));
	if (!ret) {
		memset(&req, 0, sizeof(req));
		req.size = sizeof(req);
		req.handle = h;
		ret = ioctl(pinmgr_fd(ctx), PINMGR_SEGMENTS, &req) ? -errno : 0;
		if (!ret && req.out_total != q.out_nsegs)
			ret = -EPROTO;
	}
	pinmgr_unpin(ctx, h);
	if (ret)
		goto out_close;
	pinmgr_close(ctx);

	m.pages = q.out_npages;
	m.segs = req.out_total;
	m.computed = LAYOUT_REGION_BYTES + LAYOUT_RUN_BYTES * m.segs;
	m.exported = after - before;
	m.have_exported = have && m.exported;
	used = m.have_exported ? m.exported : m.computed;
	rec.extra = (double)used / (double)m.segs;
	record(&rec);
	md[kind][si].bytes = used;
	md[kind][si].segs = m.segs;
	md[kind][si].exported = m.have_exported;
	tab_later("%-8s %-8s %8" PRIu64 " pages %7" PRIu64 " runs %9" PRIu64
		  " B = %7.3f B/page %6.1f B/run  (%s)",
		  backing_name[kind], fmt_size(len), m.pages, m.segs, used,
		  (double)used / (double)m.pages, (double)used / (double)m.segs,
		  m.have_exported ? "exported" : "computed: 16 B/run + 64 B/region");
	return true;

out_close:
	pinmgr_close(ctx);
out_err:
	tab_later("%-8s %-8s metadata: %s", backing_name[kind], fmt_size(len), errname(-ret));
	return false;
}

/* ---- io_uring beyond 1 GiB ---------------------------------------- */

static void uring_limit_more(struct jobj *j, const void *arg)
{
	const char *error = arg;

	jstr(j, "error", error);
	jstr(j, "note", "one fixed buffer larger than 1 GiB");
}

static void uring_over_1g(enum backing kind, char *base, size_t len)
{
	struct iovec iov = { .iov_base = base, .iov_len = len };
	const char *error = NULL;
	uint64_t t0, t1;
	int ret;
	struct rec rec = {
		.cas = "register-over-1g", .contender = "io_uring",
		.backing = backing_name[kind], .op = "register+unregister",
		.bytes = len, .median_ns = -1, .ratio = -1,
		.more = uring_limit_more,
	};

	if (!ring_ok)
		return;
	t0 = now_ns();
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (!ret)
		ret = io_uring_unregister_buffers(&ring);
	t1 = now_ns();
	if (ret)
		error = errname(-ret);
	else
		rec.median_ns = (double)(t1 - t0);
	rec.arg = error;
	record(&rec);
	tab("%-8s %-8s io_uring registration of one %s buffer: %s", backing_name[kind],
	    "", fmt_size(len), error ? error : fmt_ns(rec.median_ns));
}

/* ---- one backing: every size, metadata, limits -------------------- */

static const uint64_t all_sizes[] = { 4 * KIB, 64 * KIB, 2 * MIB, 64 * MIB, GIB };
static const uint64_t smoke_sizes[] = { 4 * KIB, 64 * KIB };

static void size_header(void)
{
	tab("%-8s %-8s %-18s %-18s %-18s %-18s %-18s %-18s %-18s %-18s %-18s", "backing", "size",
	    "raw", "pinmgr", "pin+close", "io_uring", "io_uring-upd", "udmabuf", "rdma", "vfio",
	    "mlock");
}

/* ns per 4 KiB page, or "-". */
static const char *fmt_pp(double ns, double pages)
{
	static char bufs[8][24];
	static int i;
	char *s = bufs[i++ % 8];

	if (ns > 0)
		snprintf(s, 24, "%.1f", ns / pages);
	else
		snprintf(s, 24, "-");
	return s;
}

/* The largest size again, per 4 KiB page, with the split operations. */
static void per_page(enum backing kind, int si)
{
	double pages = (double)matrix_sizes[si] / (double)ps;
	const double *m = matrix[kind][si], *sp = split[kind][si];

	if (m[C_RAW] <= 0)
		return;
	tab("%-8s %-8s ns per 4 KiB page: raw %s (GUP calls only: pin %s + unpin %s), pinmgr %s, pin+close %s,",
	    "", fmt_size(matrix_sizes[si]), fmt_pp(m[C_RAW], pages), fmt_pp(sp[0], pages),
	    fmt_pp(sp[1], pages), fmt_pp(m[C_PINMGR], pages), fmt_pp(m[C_PIN_CLOSE], pages));
	tab("%-8s %-8s                    io_uring %s (register %s + unregister %s), io_uring-upd %s, udmabuf %s, rdma %s, vfio %s, mlock %s",
	    "", "", fmt_pp(m[C_URING], pages), fmt_pp(sp[2], pages), fmt_pp(sp[3], pages),
	    fmt_pp(m[C_URING_UPD], pages), fmt_pp(m[C_UDMABUF], pages), fmt_pp(m[C_RDMA], pages),
	    fmt_pp(m[C_VFIO], pages), fmt_pp(m[C_MLOCK], pages));
}

static void backing_run(enum backing kind)
{
	size_t maxlen = (size_t)matrix_sizes[nsizes - 1];
	bool probe = !cfg.smoke && maxlen >= GIB;
	bool md_ok = true;
	char why[200];
	struct buf b;
	int si, ret;

	if (!backing_measured(kind)) {
		tab("%-8s (not measured: no /dev/udmabuf, the kernel has no CONFIG_UDMABUF)",
		    backing_name[kind]);
		tap(true, "no /dev/udmabuf", "backing %s", backing_name[kind]);
		return;
	}
	ret = buf_alloc(kind, maxlen + (probe && !is_memfd(kind) ? HPAGE : 0), &b, why,
			sizeof(why));
	if (ret) {
		tab("%-8s (not measured: %s)", backing_name[kind], why);
		tap(kind == B_4K ? false : true, kind == B_4K ? NULL : why,
		    "backing %s", backing_name[kind]);
		return;
	}
	if (kind == B_THP)
		diag("thp: %ld kB of %s in transparent huge pages", b.thp_kb, fmt_size(b.len));
	memfd_fd = b.fd;
	memfd_base = b.base;
	for (si = 0; si < nsizes; si++)
		size_case(kind, si, b.base, (size_t)matrix_sizes[si]);
	per_page(kind, nsizes - 1);
	if (is_memfd(kind)) {
		buf_free(&b);
		return;
	}
	if (probe)
		uring_over_1g(kind, b.base, GIB + HPAGE);
	for (si = 0; si < nsizes; si++)
		md_ok &= metadata_case(kind, si, b.base, (size_t)matrix_sizes[si]);
	if (md_marginal(kind) > 0)
		tab_later("%-8s %-8s marginal: %.2f B per additional run (%s %s -> %s)",
			  backing_name[kind], "", md_marginal(kind),
			  fmt_size(matrix_sizes[0]), "region",
			  fmt_size(matrix_sizes[nsizes - 1]));
	tap(md_ok, NULL, "metadata %s: one region of each size", backing_name[kind]);
	buf_free(&b);
}

/* ---- 4 KiB round trip ------------------------------------------------ */

/*
 * 4 KiB: [0] raw ioctl, [1] PIN + UNPIN, [2] steady-state UPDATE (a new
 * handle per I/O), [5] steady-state UPDATE_REPLACE (the slot's handle
 * kept: the steady-state target's operation, as io_uring updates a slot of
 * its buffer table); and the floors under them: [3] INFO (pinmgr's ioctl
 * path: the size, the struct in and out, no pin), [4] an unknown ioctl
 * number (the system call and the file's lookup alone). What each
 * operation adds past its system calls is its time less theirs; the floors
 * do not enter any target.
 */
#define NRT 7
static double roundtrip_med[NRT];

static void roundtrip_more(struct jobj *j, const void *arg)
{
	const double *med = arg;

	jnum(j, "ops_per_s", *med > 0 ? 1e9 / *med : -1, 1);
}

/* @a - @b, or -1 if either is unknown. */
static double diff_ns(double a, double b)
{
	return a > 0 && b > 0 ? a - b : -1;
}

static bool roundtrip_case(void)
{
	static const int which[NRT] = { C_RAW, C_PINMGR, C_UPDATE, C_INFO,
					C_NOTTY, C_REPLACE, C_REPLACE_NE };
	static const char *const opname[NRT] = {
		"pin+unpin ioctl", "PIN+UNPIN", "UPDATE: pin next + unpin last",
		"INFO ioctl", "unknown ioctl (ENOTTY)",
		"UPDATE_REPLACE: slot to the next buffer",
		"UPDATE_REPLACE, PINMGR_PIN_NO_EVENTS: slot to the next buffer, unwatched",
	};
	double samples[NRT][MAX_ROUNDS], ns, *med = roundtrip_med;
	unsigned long iters[NRT];
	int err[NRT] = { 0 }, i, k, r;
	char why[100];
	struct buf b;
	bool ok = true;

	if (buf_alloc(B_4K, HPAGE, &b, why, sizeof(why))) {
		tap(false, NULL, "roundtrip: %s", why);
		return false;
	}
	update_last = 0;
	for (i = 0; i < NRT; i++) {
		err[i] = calibrate(which[i], b.base, ps, &iters[i]);
		if (!cfg.smoke)
			iters[i] *= 2;	/* longer samples: this is the headline */
	}
	for (r = -cfg.warmup; r < cfg.rounds; r++)
		for (k = 0; k < NRT; k++) {
			i = (k + r + cfg.warmup) % NRT;
			if (!err[i])
				err[i] = sample(which[i], b.base, ps, iters[i],
						r < 0 ? &ns : &samples[i][r]);
		}
	/* The steady state holds one region between its operations. */
	if (update_last && !err[2] && !err[5] && !err[6])
		err[2] = pinmgr_unpin(pm, update_last);
	update_last = 0;
	buf_free(&b);

	for (i = 0; i < NRT; i++) {
		struct rec rec = {
			.cas = strcmp(conts[which[i]].cas, "pin+unpin") ?
			       conts[which[i]].cas : "roundtrip",
			.contender = conts[which[i]].name,
			.backing = "4k", .op = opname[i],
			.bytes = ps, .median_ns = -1, .ratio = -1, .iters = iters[i],
			.more = roundtrip_more, .arg = &med[i],
		};

		med[i] = -1;
		if (!err[i]) {
			med[i] = median_of(samples[i], cfg.rounds);
			rec.median_ns = med[i];
			rec.samples = samples[i];
			rec.nsamples = cfg.rounds;
			if (med[0] > 0)
				rec.ratio = med[i] / med[0];
		}
		/* EINVAL: a module from before UPDATE_REPLACE or NO_EVENTS (ab.sh). */
		if (!((which[i] == C_REPLACE || which[i] == C_REPLACE_NE) &&
		      err[i] == -EINVAL) &&
		    (err[i] || (med[i] <= 0 && !coarse_clock)))
			ok = false;
		record(&rec);
	}
	tab("4 KiB round trip: raw ioctl %s (%.0f ops/s), pinmgr PIN+UNPIN %s (%.0f ops/s): %s raw",
	    fmt_ns(med[0]), med[0] > 0 ? 1e9 / med[0] : 0,
	    fmt_ns(med[1]), med[1] > 0 ? 1e9 / med[1] : 0,
	    fmt_ratio(med[0] > 0 && med[1] > 0 ? med[1] / med[0] : -1));
	tab("4 KiB steady state (one UPDATE_REPLACE per I/O: the slot to the next buffer): %s (%.0f ops/s): %s raw",
	    fmt_ns(med[5]), med[5] > 0 ? 1e9 / med[5] : 0,
	    fmt_ratio(ratio(med[5], med[0])));
	tab("  of unwatched regions (PINMGR_PIN_NO_EVENTS): %s (%.0f ops/s): %s raw",
	    fmt_ns(med[6]), med[6] > 0 ? 1e9 / med[6] : 0,
	    fmt_ratio(ratio(med[6], med[0])));
	tab("  with a new handle per I/O (UPDATE: pin next, unpin last): %s (%.0f ops/s): %s raw",
	    fmt_ns(med[2]), med[2] > 0 ? 1e9 / med[2] : 0,
	    fmt_ratio(ratio(med[2], med[0])));
	tab("  floors: an unknown ioctl (the system call alone) %s, %s raw; INFO (pinmgr's ioctl path, no pin) %s, %s raw",
	    fmt_ns(med[4]), fmt_ratio(ratio(med[4], med[0])),
	    fmt_ns(med[3]), fmt_ratio(ratio(med[3], med[0])));
	tab("  past their ioctl paths: raw %s (beyond the bare call), PIN+UNPIN %s (beyond 2 x INFO), UPDATE %s, UPDATE_REPLACE %s (beyond INFO)",
	    fmt_ns(diff_ns(med[0], med[4])), fmt_ns(diff_ns(med[1], 2 * med[3])),
	    fmt_ns(diff_ns(med[2], med[3])), fmt_ns(diff_ns(med[5], med[3])));
	tap(ok, NULL, "roundtrip: 4 KiB PIN+UNPIN, UPDATE, UPDATE_REPLACE (watched, unwatched), raw ioctl and the ioctl floors (%s, %s, %s, %s, %s, %s, %s)",
	    err[0] ? errname(-err[0]) : "ok", err[1] ? errname(-err[1]) : "ok",
	    err[2] ? errname(-err[2]) : "ok", err[5] ? errname(-err[5]) : "ok",
	    err[6] ? errname(-err[6]) : "ok",
	    err[3] ? errname(-err[3]) : "ok", err[4] ? errname(-err[4]) : "ok");
	return ok;
}

/* ---- the divergence notifier's cost on PIN + UNPIN and UPDATE ------ */

#define EVENTS_PARAM	"/sys/module/pinmgr/parameters/events"

/*
 * 4 KiB PIN+UNPIN and UPDATE, each on a file with events on (the default)
 * and one opened with the events parameter off: [2 * op + off].
 */
#define NEV 6
static double events_med[NEV];

static void events_more(struct jobj *j, const void *arg)
{
	const int *on = arg;

	jbool(j, "events", *on);
	jstr(j, "note", *on ? "file opened with the events parameter on (the default): one MMU notifier per region" :
			      "file opened with the events parameter off: no notifier");
}

/* A pinmgr file opened with the events parameter set to @val, or NULL. */
static struct pinmgr_ctx *open_with_events(const char *val)
{
	struct pinmgr_ctx *ctx = NULL;
	char old[8] = "";
	int fd, ret;
	ssize_t n;

	fd = open(EVENTS_PARAM, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, old, sizeof(old) - 1);
	if (n > 0 && pwrite(fd, val, strlen(val), 0) == (ssize_t)strlen(val)) {
		ret = pinmgr_open(&ctx);
		if (ret)
			ctx = NULL;
		if (pwrite(fd, old, (size_t)n, 0) != n)
			diag("events parameter not restored to %c", old[0]);
	}
	close(fd);
	return ctx;
}

/*
 * 4 KiB PIN+UNPIN and the steady-state UPDATE on a file that watches its
 * regions (the default) and on one opened with the events parameter off,
 * the four alternating round by round. Each file keeps its own last
 * UPDATE region between samples.
 */
static bool events_case(void)
{
	static const int op[NEV] = { C_PINMGR, C_PINMGR, C_UPDATE, C_UPDATE,
				     C_REPLACE, C_REPLACE };
	static const char *const short_name[NEV / 2] = {
		"PIN+UNPIN", "UPDATE", "UPDATE_REPLACE",
	};
	static int on[NEV] = { 1, 0, 1, 0, 1, 0 };
	static const char *const opname[NEV] = {
		"PIN+UNPIN, events on", "PIN+UNPIN, events off",
		"UPDATE (pin next, unpin last), events on",
		"UPDATE (pin next, unpin last), events off",
		"UPDATE_REPLACE (slot to the next buffer), events on",
		"UPDATE_REPLACE (slot to the next buffer), events off",
	};
	struct pinmgr_ctx *ctx[2], *saved = pm;
	double samples[NEV][MAX_ROUNDS], ns;
	uint32_t last[2] = { 0, 0 };
	unsigned long iters[NEV];
	int err[NEV] = { 0 }, bad = 0, i, k, r;
	char why[100];
	struct buf b;

	ctx[0] = open_with_events("1");
	ctx[1] = open_with_events("0");
	if (!ctx[0] || !ctx[1]) {
		tab("divergence notifier: not measured (no %s)", EVENTS_PARAM);
		tap(true, "module without the events parameter", "events: notifier cost");
		goto out_close;
	}
	if (buf_alloc(B_4K, HPAGE, &b, why, sizeof(why))) {
		tap(false, NULL, "events: %s", why);
		goto out_close;
	}
	/* An operation that fails is left out (UPDATE_REPLACE of older modules). */
	for (r = -cfg.warmup - 1; r < cfg.rounds; r++)
		for (k = 0; k < NEV; k++) {
			i = (k + r + cfg.warmup + 1) % NEV;
			if (err[i])
				continue;
			pm = ctx[i % 2];
			update_last = last[i % 2];
			if (r < -cfg.warmup)	/* the first pass calibrates */
				err[i] = calibrate(op[i], b.base, ps, &iters[i]);
			else
				err[i] = sample(op[i], b.base, ps, iters[i],
						r < 0 ? &ns : &samples[i][r]);
			last[i % 2] = update_last;
		}
	for (i = 0; i < 2; i++)
		if (last[i] && pinmgr_unpin(ctx[i], last[i]))
			bad = -EIO;
	for (i = 0; i < NEV; i++)
		if (err[i] && op[i] != C_REPLACE && !bad)
			bad = err[i];
	update_last = 0;
	pm = saved;
	buf_free(&b);
	for (i = 0; i < NEV; i++) {
		struct rec rec = {
			.cas = "roundtrip-events", .contender = "pinmgr", .backing = "4k",
			.op = opname[i], .bytes = ps, .median_ns = -1, .ratio = -1,
			.iters = err[i] ? 0 : iters[i], .more = events_more, .arg = &on[i],
		};

		events_med[i] = err[i] ? -1 : median_of(samples[i], cfg.rounds);
		rec.median_ns = events_med[i];
		if (!err[i]) {
			rec.samples = samples[i];
			rec.nsamples = cfg.rounds;
			if (roundtrip_med[0] > 0)
				rec.ratio = events_med[i] / roundtrip_med[0];
		}
		record(&rec);
	}
	for (i = 0; i < NEV; i += 2)
		tab("divergence notifier: 4 KiB %s %s with events (default), %s with the events parameter off: %s",
		    short_name[i / 2],
		    fmt_ns(events_med[i]), fmt_ns(events_med[i + 1]),
		    fmt_ratio(events_med[i] > 0 && events_med[i + 1] > 0 ?
			      events_med[i] / events_med[i + 1] : -1));
	if (roundtrip_med[0] > 0)
		tab("  with the events parameter off, / the raw ioctl of the round-trip section: PIN+UNPIN %s, UPDATE %s, UPDATE_REPLACE %s",
		    fmt_ratio(ratio(events_med[1], roundtrip_med[0])),
		    fmt_ratio(ratio(events_med[3], roundtrip_med[0])),
		    fmt_ratio(ratio(events_med[5], roundtrip_med[0])));
	tap(!bad, NULL, "events: 4 KiB PIN+UNPIN, UPDATE and UPDATE_REPLACE with and without the notifier%s%s",
	    bad ? ": " : "", bad ? errname(-bad) : "");
out_close:
	for (i = 0; i < 2; i++)
		if (ctx[i])
			pinmgr_close(ctx[i]);
	return !bad;
}

/* ---- many regions on one file ------------------------------------- */

enum { R_PIN, R_UNPIN, R_CLOSE, NROPS };
static const char *const rop_name[NROPS] = { "pin", "unpin", "close" };

/* Per-region ns of PIN, UNPIN by handle and close for @n regions. */
static int regions_once(char *base, unsigned long n, uint32_t *h, double out[NROPS])
{
	struct pinmgr_ctx *ctx;
	uint64_t t0, t1, t2;
	unsigned long i;
	int ret;

	ret = pinmgr_open(&ctx);
	if (ret)
		return ret;
	t0 = now_ns();
	for (i = 0; i < n && !ret; i++)
		ret = pinmgr_pin(ctx, base + i * ps, ps, PINMGR_PIN_WRITE, &h[i]);
	t1 = now_ns();
	for (i = 0; i < n && !ret; i++)
		ret = pinmgr_unpin(ctx, h[i]);
	t2 = now_ns();
	out[R_PIN] = (double)(t1 - t0) / (double)n;
	out[R_UNPIN] = (double)(t2 - t1) / (double)n;
	for (i = 0; i < n && !ret; i++)
		ret = pinmgr_pin(ctx, base + i * ps, ps, PINMGR_PIN_WRITE, &h[i]);
	t0 = now_ns();
	pinmgr_close(ctx);
	t1 = now_ns();
	out[R_CLOSE] = (double)(t1 - t0) / (double)n;
	return ret;
}

static void regions_name(unsigned long n, char *out, size_t len)
{
	if (n % 1000 == 0)
		snprintf(out, len, "regions-%luk", n / 1000);
	else
		snprintf(out, len, "regions-%lu", n);
}

static double regions_med[3][NROPS];
static unsigned long regions_counts[3];

static void regions_more(struct jobj *j, const void *arg)
{
	const double *ratio = arg;

	jnum(j, "ratio_to_smallest", *ratio, 4);
}

static bool regions_case(void)
{
	double samples[3][NROPS][MAX_ROUNDS], tmp[NROPS] = { 0 }, sum[NROPS], ratio;
	unsigned long max = cfg.regions;
	int err = 0, i, k, o, r;
	char name[32], why[100];
	uint32_t *h;
	struct buf b;

	regions_counts[0] = max / 100;
	regions_counts[1] = max / 10;
	regions_counts[2] = max;
	if (buf_alloc(B_4K, max * ps, &b, why, sizeof(why))) {
		tap(false, NULL, "regions: %s", why);
		return false;
	}
	h = calloc(max, sizeof(*h));
	if (!h) {
		buf_free(&b);
		tap(false, NULL, "regions: out of memory");
		return false;
	}
	/*
	 * Every count does the same work per round (the smaller ones are
	 * repeated on fresh files), so that each is exposed to the same
	 * host noise: a short measurement would often escape it.
	 */
	for (r = -cfg.warmup; r < cfg.rounds && !err; r++)
		for (k = 0; k < 3 && !err; k++) {
			unsigned long rep, reps;

			i = (k + r + cfg.warmup) % 3;
			reps = regions_counts[2] / regions_counts[i];
			for (o = 0; o < NROPS; o++)
				sum[o] = 0;
			for (rep = 0; rep < reps && !err; rep++) {
				err = regions_once(b.base, regions_counts[i], h, tmp);
				for (o = 0; o < NROPS; o++)
					sum[o] += tmp[o] / (double)reps;
			}
			if (r >= 0)
				for (o = 0; o < NROPS; o++)
					samples[i][o][r] = sum[o];
		}
	free(h);
	buf_free(&b);
	if (err) {
		tap(false, NULL, "regions: %s", errname(-err));
		return false;
	}

	tab("%-14s %-14s %-14s %-14s", "regions/fd", "per PIN", "per UNPIN", "per region at close");
	for (i = 0; i < 3; i++) {
		regions_name(regions_counts[i], name, sizeof(name));
		for (o = 0; o < NROPS; o++) {
			struct rec rec = {
				.cas = name, .contender = "pinmgr", .backing = "4k",
				.op = rop_name[o], .bytes = ps, .ratio = -1,
				.samples = samples[i][o], .nsamples = cfg.rounds,
				.more = regions_more, .arg = &ratio,
			};

			regions_med[i][o] = median_of(samples[i][o], cfg.rounds);
			rec.median_ns = regions_med[i][o];
			ratio = regions_med[0][o] > 0 ? regions_med[i][o] / regions_med[0][o] : -1;
			rec.extra = ratio;
			record(&rec);
		}
		tab("%-14lu %-14s %-14s %-14s", regions_counts[i], fmt_ns(regions_med[i][R_PIN]),
		    fmt_ns(regions_med[i][R_UNPIN]), fmt_ns(regions_med[i][R_CLOSE]));
	}
	for (i = 0; i < 3; i++)
		for (o = 0; o < NROPS; o++)
			if (regions_med[i][o] <= 0 && !coarse_clock) {
				tap(false, NULL, "regions: a zero time");
				return false;
			}
	tap(true, NULL, "regions: %lu, %lu and %lu regions on one file", regions_counts[0],
	    regions_counts[1], regions_counts[2]);
	return true;
}

/* ---- two threads -------------------------------------------------- */

enum { T_RAW1, T_RAW2, T_RAW2SH, T_PM1, T_PM2, T_PM2SH, NTHR };

static const struct thr_case {
	const char *cas, *contender;
	int nthreads;
	bool pinmgr, shared;
} thr_cases[NTHR] = {
	[T_RAW1] = { "threads-1", "raw", 1, false, true },
	[T_RAW2] = { "threads-2-separate", "raw", 2, false, false },
	[T_RAW2SH] = { "threads-2-shared", "raw", 2, false, true },
	[T_PM1] = { "threads-1", "pinmgr", 1, true, true },
	[T_PM2] = { "threads-2-separate", "pinmgr", 2, true, false },
	[T_PM2SH] = { "threads-2-shared", "pinmgr", 2, true, true },
};

struct worker {
	pthread_t thread;
	pthread_barrier_t *bar;
	int cpu;
	bool pinmgr;
	struct pinmgr_ctx *ctx;
	int fd;
	char *addr;
	unsigned long iters;
	uint64_t t0, t1;
	int err;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	cpu_set_t set;
	unsigned long i;
	uint32_t h;
	int ret = 0;

	if (w->cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	pthread_barrier_wait(w->bar);
	w->t0 = now_ns();
	for (i = 0; i < w->iters && !ret; i++) {
		if (w->pinmgr) {
			ret = pinmgr_pin(w->ctx, w->addr, ps, PINMGR_PIN_WRITE, &h);
			if (!ret)
				ret = pinmgr_unpin(w->ctx, h);
		} else {
			ret = raw_pin_unpin(w->fd, w->addr, ps, NULL);
		}
	}
	w->t1 = now_ns();
	w->err = ret;
	return NULL;
}

/* ns per operation, all threads together. */
static int threads_once(int tc, char *base, unsigned long iters, double *ns)
{
	const struct thr_case *t = &thr_cases[tc];
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	struct worker w[2];
	pthread_barrier_t bar;
	uint64_t t0 = UINT64_MAX, t1 = 0;
	int i, ret = 0;

	memset(w, 0, sizeof(w));
	pthread_barrier_init(&bar, NULL, (unsigned int)t->nthreads);
	for (i = 0; i < t->nthreads; i++) {
		w[i].bar = &bar;
		w[i].cpu = ncpu >= 2 && t->nthreads > 1 ? i : -1;
		w[i].pinmgr = t->pinmgr;
		w[i].addr = base + (size_t)i * 64 * ps;	/* pages far apart */
		w[i].iters = iters;
		w[i].fd = raw_fd;
		if (t->pinmgr) {
			if (t->shared)
				w[i].ctx = pm;
			else
				ret = pinmgr_open(&w[i].ctx);
		} else if (!t->shared) {
			w[i].fd = open("/dev/" PINMGR_BENCH_RAW_NAME, O_RDWR | O_CLOEXEC);
			if (w[i].fd < 0)
				ret = -errno;
		}
		if (ret)
			break;
	}
	if (!ret) {
		for (i = 0; i < t->nthreads; i++)
			if (pthread_create(&w[i].thread, NULL, worker_fn, &w[i]))
				abort();
		for (i = 0; i < t->nthreads; i++) {
			pthread_join(w[i].thread, NULL);
			if (w[i].err && !ret)
				ret = w[i].err;
			if (w[i].t0 < t0)
				t0 = w[i].t0;
			if (w[i].t1 > t1)
				t1 = w[i].t1;
		}
	}
	for (i = 0; i < t->nthreads; i++) {
		if (t->pinmgr && !t->shared && w[i].ctx)
			pinmgr_close(w[i].ctx);
		if (!t->pinmgr && !t->shared && w[i].fd > 0)
			close(w[i].fd);
	}
	pthread_barrier_destroy(&bar);
	if (ret)
		return ret;
	*ns = (double)(t1 - t0) / (double)(iters * (unsigned long)t->nthreads);
	return 0;
}

static double thr_med[NTHR];
/* pinmgr's speedup / raw's, round by round: [separate, shared][median, lo, hi]. */
static double thr_round[2][3] = { { -1, -1, -1 }, { -1, -1, -1 } };

/*
 * The speedup ratio of each round, from that round's four samples: the
 * rounds are minutes apart at most, so the spread shows how much the
 * host's load moved the median ratio the target is judged on.
 */
static void thr_round_ratios(double samples[][MAX_ROUNDS], const int *err, int pm2,
			     int raw2, double *out)
{
	double q[MAX_ROUNDS];
	int r, n = 0;

	if (err[T_PM1] || err[pm2] || err[T_RAW1] || err[raw2])
		return;
	for (r = 0; r < cfg.rounds; r++) {
		double sp = ratio(samples[T_PM1][r], samples[pm2][r]);
		double sr = ratio(samples[T_RAW1][r], samples[raw2][r]);

		if (sp > 0 && sr > 0)
			q[n++] = sp / sr;
	}
	if (!n)
		return;
	out[0] = median_of(q, n);
	out[1] = out[2] = q[0];
	for (r = 1; r < n; r++) {
		out[1] = q[r] < out[1] ? q[r] : out[1];
		out[2] = q[r] > out[2] ? q[r] : out[2];
	}
}

struct thr_more {
	double speedup, ops;
	int nthreads;
};

static void thr_more_fn(struct jobj *j, const void *arg)
{
	const struct thr_more *m = arg;

	ju64(j, "threads", (uint64_t)m->nthreads);
	jnum(j, "ops_per_s", m->ops, 1);
	jnum(j, "speedup_vs_1_thread", m->speedup, 4);
}

static bool threads_case(void)
{
	double samples[NTHR][MAX_ROUNDS], ns;
	unsigned long iters = 16;
	int err[NTHR] = { 0 }, i, k, r;
	char why[100];
	struct buf b;
	bool ok = true;

	if (buf_alloc(B_4K, HPAGE, &b, why, sizeof(why))) {
		tap(false, NULL, "threads: %s", why);
		return false;
	}
	if (!cfg.smoke) {
		/* Long enough that thread start-up does not count. */
		if (!threads_once(T_PM1, b.base, 64, &ns) && ns > 0)
			iters = (unsigned long)(4 * cfg.sample_ns / ns);
		if (iters < 64)
			iters = 64;
	}
	for (r = -cfg.warmup; r < cfg.rounds; r++)
		for (k = 0; k < NTHR; k++) {
			i = (k + r + cfg.warmup) % NTHR;
			if (!err[i])
				err[i] = threads_once(i, b.base, iters, r < 0 ? &ns : &samples[i][r]);
		}
	buf_free(&b);

	for (i = 0; i < NTHR; i++)
		thr_med[i] = err[i] ? -1 : median_of(samples[i], cfg.rounds);
	thr_round_ratios(samples, err, T_PM2, T_RAW2, thr_round[0]);
	thr_round_ratios(samples, err, T_PM2SH, T_RAW2SH, thr_round[1]);
	tab("%-20s %-20s %-20s %-8s", "threads", "raw ns/op (speedup)", "pinmgr ns/op (speedup)",
	    "pinmgr/raw");
	for (i = 0; i < NTHR; i++) {
		int one = thr_cases[i].pinmgr ? T_PM1 : T_RAW1;
		int raw = i >= T_PM1 ? i - T_PM1 : -1;
		struct thr_more m = {
			.nthreads = thr_cases[i].nthreads,
			.ops = thr_med[i] > 0 ? 1e9 / thr_med[i] : -1,
			.speedup = thr_med[i] > 0 && thr_med[one] > 0 ? thr_med[one] / thr_med[i] : -1,
		};
		struct rec rec = {
			.cas = thr_cases[i].cas, .contender = thr_cases[i].contender,
			.backing = "4k", .op = thr_cases[i].pinmgr ? "PIN+UNPIN" : "pin+unpin ioctl",
			.bytes = ps, .median_ns = thr_med[i], .ratio = -1, .iters = iters,
			.samples = err[i] ? NULL : samples[i], .nsamples = err[i] ? 0 : cfg.rounds,
			.extra = m.speedup, .more = thr_more_fn, .arg = &m,
		};

		if (raw >= 0 && thr_med[raw] > 0 && thr_med[i] > 0)
			rec.ratio = thr_med[i] / thr_med[raw];
		else if (raw < 0 && thr_med[i] > 0)
			rec.ratio = 1;
		if (err[i] || (thr_med[i] <= 0 && !coarse_clock))
			ok = false;
		record(&rec);
	}
	for (i = 0; i < 3; i++) {
		int one_r = T_RAW1, one_p = T_PM1;
		char a[48], c[48];

		snprintf(a, sizeof(a), "%s (%s)", fmt_ns(thr_med[i]),
			 fmt_ratio(thr_med[i] > 0 ? thr_med[one_r] / thr_med[i] : -1));
		snprintf(c, sizeof(c), "%s (%s)", fmt_ns(thr_med[T_PM1 + i]),
			 fmt_ratio(thr_med[T_PM1 + i] > 0 ? thr_med[one_p] / thr_med[T_PM1 + i] : -1));
		tab("%-20s %-20s %-20s %-8s", thr_cases[i].cas, a, c,
		    fmt_ratio(thr_med[i] > 0 && thr_med[T_PM1 + i] > 0 ?
			      thr_med[T_PM1 + i] / thr_med[i] : -1));
	}
	tab("pinmgr's 2-thread speedup / raw's, each round's own: separate %.2f [%.2f-%.2f], shared %.2f [%.2f-%.2f] (median [range])",
	    thr_round[0][0], thr_round[0][1], thr_round[0][2],
	    thr_round[1][0], thr_round[1][1], thr_round[1][2]);
	tap(ok, NULL, "threads: 4 KiB PIN+UNPIN on 1 and 2 threads, separate and shared files");
	return ok;
}

/* ---- targets ------------------------------------------------------ */

static int nmet, nmissed, nunknown;

/* One line per target: @val against @limit (@le: at most, else at least). */
static void verdict_unit(const char *what, double val, bool le, double limit,
			 const char *unit)
{
	char num[32] = "-";
	const char *v;

	if (val <= 0) {
		v = "not measured";
		nunknown++;
	} else if (le ? val <= limit : val >= limit) {
		v = "met";
		nmet++;
	} else {
		v = "MISSED";
		nmissed++;
	}
	if (val > 0)
		snprintf(num, sizeof(num), "%.*f%s", *unit == 'x' ? 2 : 3, val, unit);
	tab("%-62s %9s  (target %s %.2f%s)  %s", what, num, le ? "<=" : ">=", limit, unit, v);
}

static void verdict(const char *what, double val, bool le, double limit)
{
	verdict_unit(what, val, le, limit, "x");
}

static double mat(enum backing kind, uint64_t bytes, int c)
{
	int si;

	for (si = 0; si < nsizes; si++)
		if (matrix_sizes[si] == bytes)
			return matrix[kind][si][c];
	return -1;
}

static double ratio(double a, double b)
{
	return a > 0 && b > 0 ? a / b : -1;
}

/*
 * The worst ratio pinmgr / contender @c over the sizes from 64 KiB up, and
 * the size where it is; -1 if @c was measured at none of them.
 */
static double worst_vs(enum backing kind, int c, uint64_t *at)
{
	double worst = -1, q;
	int si;

	for (si = 0; si < nsizes; si++) {
		if (matrix_sizes[si] < 64 * KIB)
			continue;
		q = ratio(matrix[kind][si][C_PINMGR], matrix[kind][si][c]);
		if (q <= 0)
			return -1;	/* a size not measured: no verdict */
		if (q > worst) {
			worst = q;
			*at = matrix_sizes[si];
		}
	}
	return worst;
}

/* PIN_VEC per range against raw per page, for targets(); -1: not measured. */
static double vec_ratio_raw = -1, vec_ne_ratio_raw = -1;

static void targets(void)
{
	static const char *const opn[NROPS] = { "PIN", "UNPIN", "close" };
	/* What a user would pick instead: pinmgr should be as fast. */
	static const int peers[] = { C_URING, C_URING_UPD, C_UDMABUF, C_RDMA, C_VFIO };
	const struct result *vec;
	char what[128];
	int kind, o;

	tab("%s", "");
	tab("targets (informative: measured ratios, never asserted)");
	for (kind = 0; kind < NBACKING; kind++) {
		if (!backing_measured(kind))
			continue;
		snprintf(what, sizeof(what), "1 GiB pin+unpin, %s: pinmgr / raw", backing_name[kind]);
		verdict(what, ratio(mat(kind, GIB, C_PINMGR), mat(kind, GIB, C_RAW)), true, 1.10);
	}
	for (kind = 0; kind < NBACKING; kind++) {
		int si = nsizes - 1;

		if (matrix_sizes[si] != GIB || split[kind][si][0] <= 0)
			continue;
		snprintf(what, sizeof(what), "  reference: pinmgr / raw's GUP calls alone, %s", backing_name[kind]);
		tab("%-62s %8.2fx  (no target: raw without its page array and syscall)", what,
		    ratio(mat(kind, GIB, C_PINMGR), split[kind][si][0] + split[kind][si][1]));
	}
	verdict("1 GiB 4k: io_uring / pinmgr (pinmgr faster by)",
		ratio(mat(B_4K, GIB, C_URING), mat(B_4K, GIB, C_PINMGR)), false, 2);
	verdict("1 GiB thp: io_uring / pinmgr (pinmgr faster by)",
		ratio(mat(B_THP, GIB, C_URING), mat(B_THP, GIB, C_PINMGR)), false, 20);
	for (o = 0; o < (int)ARRAY_SIZE(peers); o++)
		for (kind = 0; kind < NBACKING; kind++) {
			uint64_t at = 0;
			double w = worst_vs(kind, peers[o], &at);

			/* Not a contender on this memory, or no such memory. */
			if (not_on(peers[o], kind) || !backing_measured(kind))
				continue;
			if ((peers[o] == C_RDMA && !rdma_pd) ||
			    (peers[o] == C_VFIO && vfio_container < 0)) {
				/* Said once per peer, with why. */
				if (kind == B_4K)
					verdict(peers[o] == C_RDMA ? rdma_why : vfio_why, -1,
						true, 1.0);
				continue;
			}
			snprintf(what, sizeof(what), "pinmgr / %s, %s, worst size >= 64 KiB%s%s",
				 conts[peers[o]].label, backing_name[kind], at ? ": " : "",
				 at ? fmt_size(at) : "");
			verdict(what, w, true, 1.0);
		}
	verdict("4 KiB steady state (one UPDATE_REPLACE per I/O) / one raw ioctl",
		ratio(roundtrip_med[5], roundtrip_med[0]), true, 1.3);
	tab("%-62s %9s  (no target: reported only)",
	    "  reference: the same, regions unwatched (PINMGR_PIN_NO_EVENTS)",
	    fmt_ratio(ratio(roundtrip_med[6], roundtrip_med[0])));
	verdict("4 KiB PIN+UNPIN round trip / one raw ioctl",
		ratio(roundtrip_med[1], roundtrip_med[0]), true, 2.0);
	for (o = 0; o < NROPS; o++) {
		snprintf(what, sizeof(what), "per-region %s: %lu regions / %lu regions", opn[o],
			 regions_counts[2], regions_counts[0]);
		verdict(what, ratio(regions_med[2][o], regions_med[0][o]), true, 1.5);
	}
	for (kind = 0; kind < B_MEMFD; kind++) {
		const struct result *r = find("metadata", "pinmgr", backing_name[kind],
					      matrix_sizes[nsizes - 1], NULL);

		snprintf(what, sizeof(what), "metadata per additional run, %s (%s: %.2f B/run in all)",
			 backing_name[kind], fmt_size(matrix_sizes[nsizes - 1]), r ? r->extra : -1);
		verdict_unit(what, md_marginal(kind), true, 8, " B");
	}
	/*
	 * What counts is pinmgr's speedup against raw's own in the same
	 * rounds: a host without two free CPUs holds both back alike.
	 */
	verdict("2 threads, separate files: pinmgr's speedup / raw's",
		ratio(ratio(thr_med[T_PM1], thr_med[T_PM2]),
		      ratio(thr_med[T_RAW1], thr_med[T_RAW2])), false, 0.95);
	verdict("2 threads, one shared file: pinmgr's speedup / raw's",
		ratio(ratio(thr_med[T_PM1], thr_med[T_PM2SH]),
		      ratio(thr_med[T_RAW1], thr_med[T_RAW2SH])), false, 0.95);
	tab("%-62s %.2fx / %.2fx  (reference)",
	    "  pinmgr's 2-thread speedup (separate / shared file)",
	    ratio(thr_med[T_PM1], thr_med[T_PM2]), ratio(thr_med[T_PM1], thr_med[T_PM2SH]));
	tab("%-62s %.2fx / %.2fx  (reference: below 2x = the host had no 2 CPUs free)",
	    "  raw's own 2-thread speedup (separate / shared files)",
	    ratio(thr_med[T_RAW1], thr_med[T_RAW2]), ratio(thr_med[T_RAW1], thr_med[T_RAW2SH]));
	vec = find("pin-vectored", "pinmgr", "4k", ps, "PIN_VEC");
	if (vec && vec->median_ns > 0) {
		verdict("10k x 4 KiB in one PIN_VEC + close, per page / raw per page", vec_ratio_raw, true, 1.25);
		tab("%-62s %9s  (no target: reported only)",
		    "  reference: PIN_VEC per range / single PIN per range", fmt_ratio(vec->extra));
		tab("%-62s %9s  (no target: reported only)",
		    "  reference: the same PIN_VEC + close, unwatched (NO_EVENTS)",
		    fmt_ratio(vec_ne_ratio_raw));
	} else
		tab("%-62s %9s  %s", "vectored PIN (one ioctl, many ranges)", "-",
		    "not available in this module");
	tab("targets: %d met, %d missed, %d not measured", nmet, nmissed, nunknown);
}

/* ---- vectored PIN ------------------------------------------------- */

struct vec_more {
	const char *note;
	unsigned long ranges;
	double raw_ns, single_ns, ratio, vec_pin_ns;
	bool available;
};

static void vectored_more(struct jobj *j, const void *arg)
{
	const struct vec_more *m = arg;

	jbool(j, "available", m->available);
	if (m->ranges)
		ju64(j, "ranges_per_call", m->ranges);
	if (m->available) {
		jnum(j, "raw_per_page_median_ns", m->raw_ns, 1);
		jnum(j, "pin_vec_alone_median_ns", m->vec_pin_ns, 1);
		jnum(j, "single_pin_median_ns", m->single_ns, 1);
		jnum(j, "ratio_to_single_pins", m->ratio, 4);
	}
	if (m->note)
		jstr(j, "note", m->note);
}

#ifdef PINMGR_PIN_VEC
enum { V_RAW, V_SINGLE, V_VEC, V_VEC_NE, NV };

/*
 * Per-range ns of pinning @n 4 KiB ranges and letting them go again: @n raw
 * pin+unpin ioctls (V_RAW), @n single PINs then close() (V_SINGLE), or one
 * PIN_VEC of @n ranges then close() (V_VEC; V_VEC_NE: of unwatched regions,
 * PINMGR_PIN_NO_EVENTS).
 */
static int vec_once(char *base, unsigned long n, int how, struct pinmgr_pin_range *rg,
		    double *ns, double *pin_ns)
{
	struct pinmgr_ctx *ctx = NULL;
	struct pinmgr_pin_vec pv;
	unsigned long i;
	uint64_t t0, t1, tp;
	uint32_t h;
	int ret = 0;

	if (how == V_RAW) {
		t0 = now_ns();
		for (i = 0; i < n && !ret; i++)
			ret = raw_pin_unpin(raw_fd, base + i * ps, ps, NULL);
		t1 = now_ns();
		*ns = *pin_ns = (double)(t1 - t0) / (double)n;
		return ret;
	}
	ret = pinmgr_open(&ctx);
	if (ret)
		return ret;
	memset(rg, 0, n * sizeof(*rg));
	for (i = 0; i < n; i++) {
		rg[i].addr = (uintptr_t)(base + i * ps);
		rg[i].length = ps;
	}
	memset(&pv, 0, sizeof(pv));
	pv.size = sizeof(pv);
	pv.flags = PINMGR_PIN_WRITE | (how == V_VEC_NE ? PINMGR_PIN_NO_EVENTS : 0);
	pv.count = (uint32_t)n;
	pv.ranges = (uintptr_t)rg;
	t0 = now_ns();
	if (how == V_VEC || how == V_VEC_NE) {
		ret = ioctl(pinmgr_fd(ctx), PINMGR_PIN_VEC, &pv) ? -errno : 0;
	} else {
		for (i = 0; i < n && !ret; i++)
			ret = pinmgr_pin(ctx, base + i * ps, ps, PINMGR_PIN_WRITE, &h);
	}
	tp = now_ns();
	pinmgr_close(ctx);
	t1 = now_ns();
	*ns = (double)(t1 - t0) / (double)n;
	*pin_ns = (double)(tp - t0) / (double)n;
	return ret;
}
#endif

static bool vectored_case(void)
{
	struct vec_more m = { .available = false };
	struct rec rec = {
		.cas = "pin-vectored", .contender = "pinmgr", .backing = "4k",
		.op = "PIN_VEC", .bytes = ps, .median_ns = -1, .ratio = -1,
		.more = vectored_more, .arg = &m,
	};
#ifdef PINMGR_PIN_VEC
	double samples[NV][MAX_ROUNDS], pin_only[NV][MAX_ROUNDS], ns, pns, ratio_single;
	unsigned long n = cfg.regions / 10;	/* regions_counts[1] */
	struct pinmgr_pin_range *rg;
	int err[NV] = { 0 }, i, k, r;
	char why[100];
	struct buf b;

	if (n > PINMGR_PIN_VEC_MAX)
		n = PINMGR_PIN_VEC_MAX;
	m.ranges = n;
	rg = calloc(n, sizeof(*rg));
	if (!rg || buf_alloc(B_4K, n * ps, &b, why, sizeof(why))) {
		free(rg);
		tap(false, NULL, "vectored PIN: no memory");
		return false;
	}
	for (r = -cfg.warmup; r < cfg.rounds; r++)
		for (k = 0; k < NV; k++) {
			i = (k + r + cfg.warmup) % NV;
			if (!err[i])
				err[i] = vec_once(b.base, n, i, rg, r < 0 ? &ns : &samples[i][r],
						  r < 0 ? &pns : &pin_only[i][r]);
		}
	buf_free(&b);
	free(rg);
	if (err[V_VEC] == -ENOTTY) {
		m.note = "not available: the module answers ENOTTY to PINMGR_PIN_VEC";
		record(&rec);
		tab("vectored PIN: not available (the module answers ENOTTY)");
		tap(true, "the module has no PINMGR_PIN_VEC", "vectored PIN");
		return true;
	}
	/* EINVAL: a module from before PINMGR_PIN_NO_EVENTS (ab.sh). */
	if (err[V_RAW] || err[V_SINGLE] || err[V_VEC] ||
	    (err[V_VEC_NE] && err[V_VEC_NE] != -EINVAL)) {
		tap(false, NULL, "vectored PIN: %s / %s / %s", errname(-err[V_RAW]),
		    errname(-err[V_SINGLE]), errname(-err[V_VEC]));
		return false;
	}
	m.available = true;
	m.raw_ns = median_of(samples[V_RAW], cfg.rounds);
	m.single_ns = median_of(samples[V_SINGLE], cfg.rounds);
	m.vec_pin_ns = median_of(pin_only[V_VEC], cfg.rounds);
	rec.median_ns = median_of(samples[V_VEC], cfg.rounds);
	rec.samples = samples[V_VEC];
	rec.nsamples = cfg.rounds;
	if (m.raw_ns > 0)
		rec.ratio = rec.median_ns / m.raw_ns;
	vec_ratio_raw = rec.ratio;
	ratio_single = m.single_ns > 0 ? rec.median_ns / m.single_ns : -1;
	rec.extra = ratio_single;
	m.ratio = ratio_single;
	m.note = "per range (4 KiB page), release included: one PIN_VEC of ranges_per_call ranges then close(), against as many PINs then close(); ratio_to_raw: against as many raw pin+unpin ioctls of one page";
	record(&rec);
	tab("vectored PIN of %lu 4 KiB ranges, then close: %s per range; %lu single PINs, then close: %s (%s);",
	    n, fmt_ns(rec.median_ns), n, fmt_ns(m.single_ns), fmt_ratio(ratio_single));
	tab("  %lu raw pin+unpin ioctls of one page: %s per page (PIN_VEC + close: %s raw; PIN_VEC alone %s per range: %s)",
	    n, fmt_ns(m.raw_ns), fmt_ratio(rec.ratio), fmt_ns(m.vec_pin_ns),
	    fmt_ratio(m.raw_ns > 0 ? m.vec_pin_ns / m.raw_ns : -1));
	if (!err[V_VEC_NE]) {
		struct rec ne = rec;

		ne.op = "PIN_VEC, PINMGR_PIN_NO_EVENTS";
		ne.median_ns = median_of(samples[V_VEC_NE], cfg.rounds);
		ne.samples = samples[V_VEC_NE];
		ne.ratio = m.raw_ns > 0 ? ne.median_ns / m.raw_ns : -1;
		ne.extra = m.single_ns > 0 ? ne.median_ns / m.single_ns : -1;
		ne.arg = NULL;
		ne.more = NULL;
		vec_ne_ratio_raw = ne.ratio;
		record(&ne);
		tab("  the same of unwatched regions (PINMGR_PIN_NO_EVENTS): %s per range, %s raw",
		    fmt_ns(ne.median_ns), fmt_ratio(ne.ratio));
	}
	tap(rec.median_ns > 0 || coarse_clock, NULL, "vectored PIN: %lu ranges per call", n);
	return rec.median_ns > 0 || coarse_clock;
#else
	m.note = "not available: the module has no vectored PIN yet";
	record(&rec);
	tab("vectored PIN: not available (no PINMGR_PIN_VEC in <linux/pinmgr.h>)");
	tap(true, "not available: the module has no vectored PIN yet", "vectored PIN");
	return true;
#endif
}

/* ---- main --------------------------------------------------------- */

/* Why iommufd's IOMMU_IOAS_MAP is not among the contenders in this boot. */
static const char *iommufd_why(void)
{
	if (access("/dev/iommu", F_OK))
		return "no /dev/iommu, the kernel has no CONFIG_IOMMUFD (Debian 12's 6.1 and 6.12 have none)";
	return "/dev/iommu exists, but pinbench has no iommufd contender (written on kernels without one)";
}

/* The size matrix for every backing, then metadata per pinned page. */
static void sizes_section(void)
{
	int kind;

	tab("pin+unpin of one range: median time per operation (ratio to raw)");
	tab("raw = pin_user_pages_fast(FOLL_LONGTERM|FOLL_WRITE) in 512-page batches + unpin_user_pages_dirty_lock,");
	tab("one ioctl; pinmgr = PIN + UNPIN (2 ioctls); pin+close = PIN + close() of its file; io_uring = register +");
	tab("unregister of one fixed buffer; io_uring-upd = a sparse table's slot set to the range and back (the old");
	tab("buffer's unpin can come later: unpinned_after_ns); udmabuf = UDMABUF_CREATE + close (memfd only);");
	tab("rdma = ibv_reg_mr + ibv_dereg_mr (rxe); vfio = MAP_DMA + UNMAP_DMA (emulated IOMMU); mlock = mlock + munlock");
	tab("not measured: iommufd's IOMMU_IOAS_MAP: %s", iommufd_why());
	size_header();
	for (kind = 0; kind < NBACKING; kind++)
		backing_run(kind);
	tab("%s", "");

	tab("metadata per pinned page: one region of each size, as struct pinmgr_stats.out_metadata_bytes reports it");
	tab("(computed from the first documented layout, 16 B per run + 64 B per region, when the module does not export it)");
	tab_flush();
	tab("%s", "");
}

/* ---- dma-buf export: to vgem, against pinning alone and udmabuf ---- */

/* DRM's vgem, the importer of the export section, or -1. */
static int vgem_fd = -1;

static void vgem_setup(void)
{
	char path[32], name[16];
	struct drm_version v;
	int i, fd;

	for (i = 0; i < 16 && vgem_fd < 0; i++) {
		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(&v, 0, sizeof(v));
		memset(name, 0, sizeof(name));
		v.name = name;
		v.name_len = sizeof(name) - 1;
		if (!ioctl(fd, DRM_IOCTL_VERSION, &v) && !strcmp(name, "vgem"))
			vgem_fd = fd;
		else
			close(fd);
	}
}

/* Import @dmabuf into vgem (attach + map for its device), then drop it. */
static int vgem_import_drop(int dmabuf)
{
	struct drm_prime_handle p = { .fd = dmabuf };
	struct drm_gem_close c = { 0 };

	if (ioctl(vgem_fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p))
		return -errno;
	c.handle = p.handle;
	return ioctl(vgem_fd, DRM_IOCTL_GEM_CLOSE, &c) ? -errno : 0;
}

enum { E_PIN, E_EXPORT, E_UDMABUF, NEXPORT };

static const struct {
	const char *contender, *op;
} export_conts[NEXPORT] = {
	[E_PIN] = { "pinmgr", "PIN+UNPIN" },
	[E_EXPORT] = { "pinmgr+export",
		       "PIN + EXPORT_DMABUF + vgem PRIME import + GEM_CLOSE + close + UNPIN" },
	[E_UDMABUF] = { "udmabuf+import",
			"UDMABUF_CREATE + vgem PRIME import + GEM_CLOSE + close" },
};

static int export_op(int e, char *addr, size_t len)
{
	uint32_t h;
	int ret, err, fd;

	switch (e) {
	case E_PIN:
		ret = pinmgr_pin(pm, addr, len, PINMGR_PIN_WRITE, &h);
		return ret ? ret : pinmgr_unpin(pm, h);
	case E_EXPORT:
		ret = pinmgr_pin(pm, addr, len, PINMGR_PIN_WRITE, &h);
		if (ret)
			return ret;
		fd = pinmgr_export_dmabuf(pm, h, 0, len, 0);
		ret = fd < 0 ? fd : vgem_import_drop(fd);
		if (fd >= 0)
			close(fd);	/* released before close() returns */
		err = pinmgr_unpin(pm, h);
		return ret ? ret : err;
	case E_UDMABUF: {
		struct udmabuf_create uc = {
			.memfd = (uint32_t)memfd_fd, .flags = UDMABUF_FLAGS_CLOEXEC,
			.offset = (uint64_t)(addr - memfd_base), .size = len,
		};

		fd = ioctl(udmabuf_fd, UDMABUF_CREATE, &uc);
		if (fd < 0)
			return -errno;
		ret = vgem_import_drop(fd);
		close(fd);
		return ret;
	}
	}
	return -EINVAL;
}

/* Rounds of one operation each, the contenders taking turns. */
static void export_case(enum backing kind, char *base, size_t len)
{
	double samples[NEXPORT][MAX_ROUNDS], ns, med[NEXPORT];
	int err[NEXPORT] = { 0 }, e, k, r;
	bool want_e[NEXPORT] = { true, true, is_memfd(kind) };
	uint64_t t0;

	for (r = -cfg.warmup; r < cfg.rounds; r++)
		for (k = 0; k < NEXPORT; k++) {
			e = (k + r + cfg.warmup) % NEXPORT;
			if (!want_e[e] || err[e])
				continue;
			t0 = now_ns();
			err[e] = export_op(e, base, len);
			ns = (double)(now_ns() - t0);
			if (r >= 0)
				samples[e][r] = ns;
		}
	for (e = 0; e < NEXPORT; e++) {
		struct rec rec = {
			.cas = "export", .contender = export_conts[e].contender,
			.backing = backing_name[kind], .op = export_conts[e].op,
			.bytes = len, .median_ns = -1, .ratio = -1, .iters = 1,
		};

		med[e] = -1;
		if (!want_e[e])
			continue;
		if (!err[e]) {
			med[e] = median_of(samples[e], cfg.rounds);
			rec.median_ns = med[e];
			rec.samples = samples[e];
			rec.nsamples = cfg.rounds;
		}
		record(&rec);
		tap(!err[e], NULL, "export %s %s: %s%s", backing_name[kind],
		    export_conts[e].contender, err[e] ? "failed: " : "ok",
		    err[e] ? errname(-err[e]) : "");
	}
	tab("%-8s %-8s %-14s %-14s %-14s %-12s %-12s", backing_name[kind], fmt_size(len),
	    med[E_PIN] > 0 ? fmt_ns(med[E_PIN]) : "-",
	    med[E_EXPORT] > 0 ? fmt_ns(med[E_EXPORT]) : "-",
	    med[E_UDMABUF] > 0 ? fmt_ns(med[E_UDMABUF]) : "-",
	    med[E_PIN] > 0 && med[E_EXPORT] > 0 ? fmt_ratio(med[E_EXPORT] / med[E_PIN]) : "-",
	    med[E_UDMABUF] > 0 && med[E_EXPORT] > 0 ?
	    fmt_ratio(med[E_EXPORT] / med[E_UDMABUF]) : "-");
}

static void export_section(void)
{
	size_t len = (size_t)matrix_sizes[nsizes - 1];
	char why[200];
	struct buf b;
	int kind;

	tab("dma-buf export of the largest range to DRM's vgem (PRIME import: attach + map for its device),");
	tab("median time per operation over the rounds, the contenders taking turns in each:");
	tab("pin = PIN + UNPIN; export = PIN + EXPORT_DMABUF + import + GEM_CLOSE + close + UNPIN;");
	tab("udmabuf = UDMABUF_CREATE + import + GEM_CLOSE + close of the same memfd memory");
	if (vgem_fd < 0) {
		tab("(not measured: no vgem device; make bench loads vgem.ko)");
		tap(true, "no vgem", "export section");
		tab("%s", "");
		return;
	}
	tab("%-8s %-8s %-14s %-14s %-14s %-12s %-12s", "backing", "size", "pin", "export",
	    "udmabuf", "export/pin", "export/udmabuf");
	for (kind = 0; kind < NBACKING; kind++) {
		if (!backing_measured(kind)) {
			tab("%-8s (not measured: no /dev/udmabuf)", backing_name[kind]);
			continue;
		}
		if (buf_alloc(kind, len, &b, why, sizeof(why))) {
			tab("%-8s (not measured: %s)", backing_name[kind], why);
			continue;
		}
		memfd_fd = b.fd;
		memfd_base = b.base;
		export_case(kind, b.base, len);
		buf_free(&b);
	}
	tab("%s", "");
}

/* ---- RDMA: Soft-RoCE on a dummy interface -------------------------- */

static int nla_put_str(char *buf, size_t size, size_t *off, int type, const char *str)
{
	struct nlattr *a = (struct nlattr *)(buf + *off);
	size_t len = strlen(str) + 1;

	if (*off + NLA_HDRLEN + NLA_ALIGN(len) > size)
		return -E2BIG;
	a->nla_type = (uint16_t)type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	memcpy(buf + *off + NLA_HDRLEN, str, len);
	*off += NLA_ALIGN(a->nla_len);
	return 0;
}

/* What `rdma link add NAME type rxe netdev NDEV` does: 0 or -errno. */
static int rxe_link_add(const char *name, const char *ndev)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[512] __attribute__((aligned(4))) = { 0 };
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	size_t off = NLMSG_HDRLEN;
	ssize_t n;
	int fd, ret;

	if (nla_put_str(buf, sizeof(buf), &off, RDMA_NLDEV_ATTR_DEV_NAME, name) ||
	    nla_put_str(buf, sizeof(buf), &off, RDMA_NLDEV_ATTR_LINK_TYPE, "rxe") ||
	    nla_put_str(buf, sizeof(buf), &off, RDMA_NLDEV_ATTR_NDEV_NAME, ndev))
		return -E2BIG;
	h->nlmsg_len = (uint32_t)off;
	h->nlmsg_type = RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, RDMA_NLDEV_CMD_NEWLINK);
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = 1;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_RDMA);
	if (fd < 0)
		return -errno;
	if (sendto(fd, buf, off, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (!ret && (size_t)n >= NLMSG_HDRLEN + sizeof(struct nlmsgerr) &&
	    h->nlmsg_type == NLMSG_ERROR)
		ret = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
	return ret;
}

static int if_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		ret = -errno;
	if (!ret) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			ret = -errno;
	}
	close(fd);
	return ret;
}

/*
 * An rxe device on dummy0 (the dummy module makes dummy0 when it loads;
 * rdma_rxe needs the crc32 crypto module too: tests/bench/run.sh has the
 * VM load all three), opened with a protection domain.
 */
static void rdma_setup(void)
{
	struct ibv_device **list;
	int i, n = 0, ret;

	if (access("/sys/module/rdma_rxe", F_OK)) {
		snprintf(rdma_why, sizeof(rdma_why),
			 "n/a: rdma_rxe not loaded (make bench loads it; make check does not)");
		diag("rdma: %s", rdma_why + 5);
		return;
	}
	ret = if_up("dummy0");
	if (!ret)
		ret = rxe_link_add("rxe0", "dummy0");
	if (ret && ret != -EEXIST) {
		snprintf(rdma_why, sizeof(rdma_why), "n/a: adding rxe0 on dummy0: %s",
			 errname(-ret));
		tap(false, NULL, "rdma: %s", rdma_why + 5);
		return;
	}
	list = ibv_get_device_list(&n);
	for (i = 0; list && i < n && !rdma_ctx; i++)
		if (!strcmp(ibv_get_device_name(list[i]), "rxe0"))
			rdma_ctx = ibv_open_device(list[i]);
	if (rdma_ctx)
		rdma_pd = ibv_alloc_pd(rdma_ctx);
	if (!rdma_pd)
		snprintf(rdma_why, sizeof(rdma_why), "n/a: %s",
			 !rdma_ctx ? "no rxe0 to open after adding it" : "ibv_alloc_pd failed");
	if (list)
		ibv_free_device_list(list);
	/* rdma_rxe is there: not getting a device is a failure. */
	tap(rdma_pd, NULL, "rdma: rxe0 on dummy0 with a protection domain%s%s",
	    rdma_pd ? "" : ": ", rdma_pd ? "" : rdma_why + 5);
}

static void rdma_teardown(void)
{
	if (rdma_pd)
		ibv_dealloc_pd(rdma_pd);
	if (rdma_ctx)
		ibv_close_device(rdma_ctx);
	rdma_pd = NULL;
	rdma_ctx = NULL;
}

/* ---- VFIO: QEMU's edu device behind the emulated Intel IOMMU -------- */

static void vfio_teardown(void);

/* The PCI address of QEMU's edu device (1234:11e8) into @bdf, or -ENODEV. */
static int edu_find(char *bdf, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	char path[PATH_MAX], id[32];
	struct dirent *e;
	int ret = -ENODEV;

	while (d && ret && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		if (read_file(path, id, sizeof(id)) || strncmp(id, "0x1234", 6))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		if (read_file(path, id, sizeof(id)) || strncmp(id, "0x11e8", 6))
			continue;
		snprintf(bdf, len, "%.32s", e->d_name);
		ret = 0;
	}
	if (d)
		closedir(d);
	return ret;
}

/*
 * Bind the edu device to vfio-pci and put its IOMMU group in a type1v2
 * container, as a userspace driver (DPDK, SPDK) would.
 */
static void vfio_setup(void)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char bdf[64], path[PATH_MAX], link[PATH_MAX];
	const char *grp;
	ssize_t n;
	int ret;

	if (access("/sys/module/vfio_pci", F_OK) || edu_find(bdf, sizeof(bdf))) {
		snprintf(vfio_why, sizeof(vfio_why),
			 "n/a: no edu device or no vfio-pci (make bench boots them; make check does not)");
		diag("vfio: %s", vfio_why + 5);
		return;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	ret = write_file(path, "vfio-pci");
	if (!ret)
		ret = write_file("/sys/bus/pci/drivers_probe", bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = ret ? -1 : readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(vfio_why, sizeof(vfio_why), "n/a: edu at %.32s: %s", bdf,
			 ret ? "binding to vfio-pci failed" : "no IOMMU group (no intel_iommu=on?)");
		tap(false, NULL, "vfio: %s", vfio_why + 5);
		return;
	}
	link[n] = 0;
	grp = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	snprintf(path, sizeof(path), "/dev/vfio/%.32s", grp);
	vfio_container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	vfio_group = open(path, O_RDWR | O_CLOEXEC);
	errno = 0;
	if (vfio_container < 0 || vfio_group < 0 ||
	    ioctl(vfio_container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(vfio_group, VFIO_GROUP_GET_STATUS, &status) ||
	    ioctl(vfio_group, VFIO_GROUP_SET_CONTAINER, &vfio_container) ||
	    ioctl(vfio_container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		snprintf(vfio_why, sizeof(vfio_why), "n/a: VFIO container for group %.32s: %s", grp,
			 errno ? errname(errno) : "API version mismatch");
		tap(false, NULL, "vfio: %s", vfio_why + 5);
		vfio_teardown();
		return;
	}
	tap(true, NULL, "vfio: edu at %.32s in IOMMU group %.32s, type1v2 container", bdf, grp);
}

static void vfio_teardown(void)
{
	if (vfio_group >= 0)
		close(vfio_group);
	if (vfio_container >= 0)
		close(vfio_container);
	vfio_group = vfio_container = -1;
}

/* udmabuf's size_limit_mb before udmabuf_setup() raised it, or -1. */
static long udmabuf_limit_saved = -1;
#define UDMABUF_LIMIT "/sys/module/udmabuf/parameters/size_limit_mb"

/* Open /dev/udmabuf, if the kernel has it, and let it take the largest size. */
static void udmabuf_setup(void)
{
	long need = (long)(matrix_sizes[nsizes - 1] / MIB) + 2;
	char val[32];

	udmabuf_fd = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (udmabuf_fd < 0) {
		diag("udmabuf: %s: the memfd backings are not measured",
		     errno == ENOENT ? "no /dev/udmabuf (kernel without CONFIG_UDMABUF)"
				     : errname(errno));
		return;
	}
	/* 64 MiB by default: a bigger dma-buf fails with EINVAL. */
	udmabuf_limit_saved = read_long(UDMABUF_LIMIT);
	if (udmabuf_limit_saved >= 0 && udmabuf_limit_saved < need) {
		snprintf(val, sizeof(val), "%ld", need);
		if (write_file(UDMABUF_LIMIT, val))
			diag("udmabuf: could not raise %s to %ld", UDMABUF_LIMIT, need);
	}
}

static void udmabuf_teardown(void)
{
	char val[32];

	if (udmabuf_limit_saved >= 0) {
		snprintf(val, sizeof(val), "%ld", udmabuf_limit_saved);
		write_file(UDMABUF_LIMIT, val);
	}
	if (udmabuf_fd >= 0)
		close(udmabuf_fd);
}

/* Is section @name selected by the cases= setting (all when it is empty)? */
static bool want(const char *name)
{
	size_t n = strlen(name);
	const char *p = cfg.cases;

	if (!*p)
		return true;
	while ((p = strstr(p, name))) {
		if ((p == cfg.cases || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

static void parse_kv(const char *key, const char *val)
{
	if (!strcmp(key, "rounds"))
		cfg.rounds = atoi(val);
	else if (!strcmp(key, "warmup"))
		cfg.warmup = atoi(val);
	else if (!strcmp(key, "sample-ms") || !strcmp(key, "sample_ms"))
		cfg.sample_ns = atof(val) * 1e6;
	else if (!strcmp(key, "max-bytes") || !strcmp(key, "max_bytes"))
		cfg.max_bytes = strtoull(val, NULL, 0);
	else if (!strcmp(key, "regions"))
		cfg.regions = strtoul(val, NULL, 0);
	else if (!strcmp(key, "cases"))
		snprintf(cfg.cases, sizeof(cfg.cases), "%s", val);
	else if (!strcmp(key, "raw-ko") || !strcmp(key, "raw_ko"))
		snprintf(cfg.raw_ko, sizeof(cfg.raw_ko), "%s", val);
	else
		diag("ignoring unknown setting '%s'", key);
}

static void read_conf(void)
{
	char path[PATH_MAX], line[256], *eq, *end;
	FILE *f;

	snprintf(path, sizeof(path), "%s", cfg.raw_ko);
	end = strrchr(path, '/');
	if (!end)
		return;
	snprintf(end + 1, sizeof(path) - (size_t)(end + 1 - path), "pinbench.conf");
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		eq = strchr(line, '=');
		if (line[0] == '#' || !eq)
			continue;
		*eq = 0;
		parse_kv(line, eq + 1);
	}
	fclose(f);
}

static void header(void)
{
	char cs[64] = "?", thp[128] = "?";
	struct timespec res;
	struct utsname u;

	uname(&u);
	read_file("/sys/devices/system/clocksource/clocksource0/current_clocksource", cs, sizeof(cs));
	read_file("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp));
	clock_getres(CLOCK_MONOTONIC, &res);
	coarse_clock = res.tv_sec || res.tv_nsec > 1000;
	tab("pinmgr benchmark%s: kernel %s, %ld CPUs, %ld MiB, clocksource %s (resolution %ld ns), THP %s",
	    cfg.smoke ? " (smoke run: one round, timings meaningless)" : "", u.release,
	    sysconf(_SC_NPROCESSORS_ONLN), meminfo("MemTotal") / 1024, cs, res.tv_nsec, thp);
	tab("every case: contenders alternate round by round (order rotated), %d warm-up + %d measured rounds;",
	    cfg.warmup, cfg.rounds);
	tab("~%.0f ms samples (an operation longer than that: best of 3); the median over the rounds of the",
	    cfg.sample_ns / 1e6);
	tab("mean time per operation, and its ratio to raw measured in the same rounds");
	if (coarse_clock)
		tab("WARNING: the clock ticks in %ld ns steps: short operations measure as 0", res.tv_nsec);
	tab("%s", "");
}

int main(int argc, char **argv)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	const char *bad;
	int i, ret, kind;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ps = (size_t)sysconf(_SC_PAGESIZE);
	if (raw_default_ko(cfg.raw_ko, sizeof(cfg.raw_ko)))
		snprintf(cfg.raw_ko, sizeof(cfg.raw_ko), "bench-data/%s.ko", PINMGR_BENCH_RAW_NAME);
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--smoke"))
			cfg.smoke = true;
		else if (!strncmp(argv[i], "--raw-ko=", 9))
			snprintf(cfg.raw_ko, sizeof(cfg.raw_ko), "%s", argv[i] + 9);
	if (!cfg.smoke)
		read_conf();
	for (i = 1; i < argc; i++) {
		char *eq;

		if (strncmp(argv[i], "--", 2) || !strcmp(argv[i], "--smoke"))
			continue;
		eq = strchr(argv[i], '=');
		if (eq) {
			*eq = 0;
			parse_kv(argv[i] + 2, eq + 1);
		} else if (i + 1 < argc) {
			parse_kv(argv[i] + 2, argv[i + 1]);
			i++;
		}
	}
	if (cfg.smoke) {
		cfg.rounds = 1;
		cfg.warmup = 0;
		cfg.regions = 1000;
	}
	if (cfg.rounds < 1 || cfg.rounds > MAX_ROUNDS || cfg.warmup < 0 || cfg.regions < 100) {
		fprintf(stderr, "pinbench: bad settings (rounds 1..%d, warmup >= 0, regions >= 100)\n",
			MAX_ROUNDS);
		return 2;
	}
	if (cfg.smoke) {
		memcpy(matrix_sizes, smoke_sizes, sizeof(smoke_sizes));
		nsizes = ARRAY_SIZE(smoke_sizes);
	} else {
		for (i = 0; i < (int)ARRAY_SIZE(all_sizes); i++)
			if (all_sizes[i] <= cfg.max_bytes)
				matrix_sizes[nsizes++] = all_sizes[i];
		if (!nsizes)
			matrix_sizes[nsizes++] = all_sizes[0];
	}
	for (kind = 0; kind < NBACKING; kind++)
		for (i = 0; i < 8; i++)
			for (ret = 0; ret < NCONT; ret++)
				matrix[kind][i][ret] = -1;
	setrlimit(RLIMIT_MEMLOCK, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	printf("TAP version 13\n");
	header();

	ret = raw_load();
	tap(!ret, NULL, "load the raw companion module %s%s%s", cfg.raw_ko,
	    ret ? ": " : "", ret ? errname(-ret) : "");
	if (ret) {
		printf("1..%d\n", ntap);
		return 1;
	}
	ret = pinmgr_open(&pm);
	tap(!ret, NULL, "open /dev/pinmgr%s%s", ret ? ": " : "", ret ? errname(-ret) : "");
	if (ret) {
		raw_unload();
		printf("1..%d\n", ntap);
		return 1;
	}
	ret = io_uring_queue_init(4, &ring, 0);
	ring_ok = !ret;
	/* A kernel without io_uring has no such contender; anything else is a bug. */
	tap(!ret || ret == -ENOSYS || !cfg.smoke, ret == -ENOSYS ? "kernel without io_uring" : NULL,
	    "io_uring_queue_init%s%s", ret ? ": " : "", ret ? errname(-ret) : "");
	ret = io_uring_queue_init(4, &sparse_ring, 0);
	if (!ret) {
		ret = io_uring_register_buffers_sparse(&sparse_ring, 1);
		if (ret)
			io_uring_queue_exit(&sparse_ring);
	}
	sparse_err = ret;
	tap(!ret || ret == -ENOSYS, ret == -ENOSYS ? "kernel without io_uring" : NULL,
	    "io_uring sparse buffer table of one slot%s%s", ret ? ": " : "",
	    ret ? errname(-ret) : "");
	udmabuf_setup();
	rdma_setup();
	vfio_setup();
	diag("iommufd: not measured: %s", iommufd_why());
	vgem_setup();

	if (*cfg.cases)
		diag("running only the sections %s (setting cases=)", cfg.cases);
	if (want("roundtrip")) {
		roundtrip_case();
		events_case();
		tab("%s", "");
	}
	if (want("regions")) {
		regions_case();
		tab("%s", "");
	}
	if (want("threads")) {
		threads_case();
		tab("%s", "");
	}
	if (want("sizes"))
		sizes_section();
	if (want("vectored")) {
		vectored_case();
		tab("%s", "");
	}
	if (want("export"))
		export_section();
	if (!cfg.smoke && !*cfg.cases)
		targets();

	if (ring_ok)
		io_uring_queue_exit(&ring);
	if (!sparse_err)
		io_uring_queue_exit(&sparse_ring);
	udmabuf_teardown();
	rdma_teardown();
	vfio_teardown();
	if (vgem_fd >= 0)
		close(vgem_fd);
	pinmgr_close(pm);

	json_append(njson ? "]" : "[]");
	bad = json_bad ? json_bad : json_check(json_doc);
	tap(!bad, NULL, "results JSON well-formed (%u objects)%s%s", njson, bad ? ": " : "",
	    bad ? bad : "");
	printf("# @json-count %u\n", njson);
	free(json_doc);

	ret = raw_unload();
	tap(!ret, NULL, "unload the raw companion module%s%s", ret ? ": " : "",
	    ret ? errname(-ret) : "");
	printf("1..%d\n", ntap);
	return nfailed ? 1 : 0;
}
