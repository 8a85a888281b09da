// SPDX-License-Identifier: GPL-2.0
/*
 * pinmgr(8): load, unload and inspect the pinmgr module and see who pins
 * memory through /dev/pinmgr.
 *
 *   pinmgr load [--ko FILE] [PARAM=VALUE...]   modprobe-style insert (libkmod)
 *   pinmgr unload                              remove, refused while in use
 *   pinmgr info [--ko FILE] [--json]           module, parameters, device ABI
 *   pinmgr stat [--json]                       /sys/class/misc/pinmgr/stats
 *   pinmgr top [--json]   (alias: ps)          processes holding pinmgr files
 *
 * The module side goes through libkmod, as kmod's own tools do: the module is
 * looked up in /lib/modules/$(uname -r) (modules.dep.bin), modprobe.d options,
 * install commands and blacklists apply. The device side goes through
 * libpinmgr. Exit status: 0 success, 1 the operation failed, 2 the command
 * line is wrong. Messages are "pinmgr COMMAND: ..." on stderr; with --json,
 * stdout has exactly one JSON object, {"error":...,"errno":N} on failure.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libkmod.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <unistd.h>

#include "pinmgr.h"

#ifndef PINMGR_VERSION
#define PINMGR_VERSION "unknown"
#endif

#define MODNAME		"pinmgr"
#define SYS_MODULE	"/sys/module/" MODNAME
#define SYS_MISC	"/sys/class/misc/" MODNAME
#define SYS_STATS	SYS_MISC "/stats"

#define EXIT_USAGE	2

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static int verbose;
/* "pinmgr COMMAND" once a command runs: what every message starts with. */
static char prog[32] = "pinmgr";
/* The usage line of the command running, shown after a usage error. */
static const char *synopsis = "pinmgr [-v] [--version] [--help] "
			      "{load|unload|info|stat|top|ps} [ARGS]";
/* --json was given: a failure is a JSON object on stdout too, unless the
 * command's one object is out already. */
static bool json_out, json_done;

/* ---- messages --------------------------------------------------------- */

static void json_str(const char *s);

__attribute__((format(printf, 1, 2)))
static void err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);	/* after what was printed so far, also in a pipe */
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

__attribute__((format(printf, 1, 2)))
static void info(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* With --json: {"error":"@msg","errno":@errnum} (0: no errno applies). */
static void json_error(const char *msg, int errnum)
{
	if (!json_out || json_done)
		return;
	printf("{\"error\":");
	json_str(msg);
	printf(",\"errno\":%d}\n", errnum);
	json_done = true;
}

/*
 * A failure: the message on stderr (a usage error adds the usage line), the
 * JSON error object with --json. Returns @status (EXIT_FAILURE, EXIT_USAGE).
 */
__attribute__((format(printf, 3, 4)))
static int fail(int status, int errnum, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err("%s", msg);
	if (status == EXIT_USAGE)
		fprintf(stderr, "Usage: %s\n", synopsis);
	json_error(msg, errnum);
	return status;
}

/*
 * What getopt_long() found wrong (opterr is 0, every optstring starts with
 * "+:"), in its own words, as a usage failure. @opts: the long options.
 */
static int bad_option(int c, char *const *argv, const struct option *opts)
{
	const char *arg = argv[optind - 1];	/* the word it stopped at */
	size_t i;

	if (c == ':') {
		if (!strncmp(arg, "--", 2))
			return fail(EXIT_USAGE, EINVAL, "option '%s' requires an argument", arg);
		return fail(EXIT_USAGE, EINVAL, "option requires an argument -- '%c'", optopt);
	}
	if (!optopt)
		return fail(EXIT_USAGE, EINVAL, "unrecognized option '%s'", arg);
	/* --json=1: optopt is then the long option's value */
	if (!strncmp(arg, "--", 2) && strchr(arg, '='))
		for (i = 0; opts[i].name; i++)
			if (opts[i].val == optopt && opts[i].has_arg == no_argument)
				return fail(EXIT_USAGE, EINVAL,
					    "option '--%s' doesn't allow an argument", opts[i].name);
	return fail(EXIT_USAGE, EINVAL, "invalid option -- '%c'", optopt);
}

/* libkmod's messages, prefixed so that the user knows who is talking. */
__attribute__((format(printf, 6, 0)))
static void kmod_log(void *data, int priority, const char *file, int line,
		     const char *fn, const char *format, va_list args)
{
	(void)data;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	fprintf(stderr, "%s: libkmod: ", prog);
	vfprintf(stderr, format, args);
}

/* ---- small helpers ---------------------------------------------------- */

/* "4.0 KiB": binary units, one decimal from KiB up. */
static const char *human(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return buf;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

/* Reads a whole small file; 0 or -errno. Trailing newlines are removed. */
static int read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	buf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno ? -errno : -EIO;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		int e = errno ? errno : EIO;

		close(fd);
		return -e;
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

/* Copies @src into @dst of @size bytes if it fits; false (and "") if not. */
static bool copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		dst[0] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

static int parse_u64(const char *s, uint64_t *v)
{
	unsigned long long x;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*v = x;
	return 0;
}

static int read_u64(const char *path, uint64_t *v)
{
	char buf[64];
	int ret = read_text(path, buf, sizeof(buf));

	return ret ? ret : parse_u64(buf, v);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static bool module_loaded(void)
{
	struct stat st;

	return stat(SYS_MODULE, &st) == 0;
}

/* Installed, not loaded. @ko: the file the command was given, or NULL. */
static void not_loaded_msg(char *buf, size_t len, const char *ko)
{
	snprintf(buf, len, "module %s is not loaded (load it with 'pinmgr load%s%s')",
		 MODNAME, ko ? " --ko " : "", ko ? ko : "");
}

static long page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? ps : 4096;
}

/* ---- who holds /dev/pinmgr: /proc/PID/fd + fdinfo ------------------------ */

struct pm_file {
	int fd;
	uint64_t owner, regions, pinned_pages, pinned_bytes, peak_pages;
	uint64_t metadata_bytes, diverged_regions;
	int same_as;		/* index in the process's files, or -1 */
};

struct pm_proc {
	pid_t pid;
	char comm[64];
	struct pm_file *files;
	size_t nfiles;
	/* over the distinct files of this process */
	size_t nuniq;
	uint64_t regions, pinned_pages, pinned_bytes, peak_pages;
	uint64_t metadata_bytes, diverged_regions;
	uint64_t owner;		/* the one owner of every file, or 0 if mixed */
};

struct pm_scan {
	struct pm_proc *procs;
	size_t nprocs;
	size_t unreadable;	/* processes whose fds we may not see */
	/* over the distinct files of every process */
	size_t nfiles;
	uint64_t regions, pinned_pages, pinned_bytes, metadata_bytes;
	uint64_t diverged_regions;
};

static bool same_file(pid_t p1, int fd1, pid_t p2, int fd2)
{
	return syscall(SYS_kcmp, p1, p2, KCMP_FILE, fd1, fd2) == 0;
}

/* The device number of the pinmgr misc device, from sysfs. */
static int pinmgr_devt(dev_t *devt)
{
	uint64_t maj, min;
	char buf[32], *colon;
	int ret;

	ret = read_text(SYS_MISC "/dev", buf, sizeof(buf));
	if (ret)
		return ret;
	colon = strchr(buf, ':');	/* "10:123" */
	if (!colon)
		return -EPROTO;
	*colon = '\0';
	if (parse_u64(buf, &maj) || parse_u64(colon + 1, &min) ||
	    maj > UINT_MAX || min > UINT_MAX)
		return -EPROTO;
	*devt = makedev((unsigned int)maj, (unsigned int)min);
	return 0;
}

/* Fills @f from /proc/@pid/fdinfo/@fd; -ENOENT if it is not a pinmgr file. */
static int read_fdinfo(pid_t pid, int fd, struct pm_file *f)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "pinmgr-owner-tgid:", offsetof(struct pm_file, owner) },
		{ "pinmgr-regions:", offsetof(struct pm_file, regions) },
		{ "pinmgr-pinned-pages:", offsetof(struct pm_file, pinned_pages) },
		{ "pinmgr-pinned-bytes:", offsetof(struct pm_file, pinned_bytes) },
		{ "pinmgr-peak-pages:", offsetof(struct pm_file, peak_pages) },
		{ "pinmgr-metadata-bytes:", offsetof(struct pm_file, metadata_bytes) },
		{ "pinmgr-diverged-regions:", offsetof(struct pm_file, diverged_regions) },
	};
	char path[64], line[256];
	unsigned int seen = 0;
	FILE *fp;
	size_t i;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->same_as = -1;
	while (fgets(line, sizeof(line), fp)) {
		for (i = 0; i < ARRAY_SIZE(keys); i++) {
			size_t kl = strlen(keys[i].key);
			uint64_t v;

			if (strncmp(line, keys[i].key, kl) != 0)
				continue;
			line[strcspn(line, "\n")] = '\0';
			if (parse_u64(line + kl + strspn(line + kl, " \t"), &v))
				break;
			memcpy((char *)f + keys[i].off, &v, sizeof(v));
			seen |= 1U << i;
		}
	}
	fclose(fp);
	/* owner and regions at least: else not (or no longer) a pinmgr file */
	return (seen & 3) == 3 ? 0 : -ENOENT;
}

static int scan_proc(pid_t pid, dev_t devt, struct pm_scan *s)
{
	struct pm_proc p = { .pid = pid };
	char path[64];
	struct dirent *de;
	DIR *d;
	size_t i, j;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char fdpath[96];
		struct pm_file f, *nf;
		struct stat st;
		char *end;
		long fd;

		fd = strtol(de->d_name, &end, 10);
		if (*end || end == de->d_name || fd < 0 || fd > INT_MAX)
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%ld", path, fd);
		if (stat(fdpath, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != devt)
			continue;
		if (read_fdinfo(pid, (int)fd, &f))
			continue;
		nf = realloc(p.files, (p.nfiles + 1) * sizeof(*nf));
		if (!nf) {
			closedir(d);
			free(p.files);
			return -ENOMEM;
		}
		p.files = nf;
		p.files[p.nfiles++] = f;
	}
	closedir(d);
	if (!p.nfiles)
		return 0;

	if (read_text((snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid), path),
		      p.comm, sizeof(p.comm)))
		snprintf(p.comm, sizeof(p.comm), "?");
	p.owner = p.files[0].owner;
	for (i = 0; i < p.nfiles; i++) {
		struct pm_file *f = &p.files[i];

		/* dup()ed descriptors of one file count once */
		for (j = 0; j < i && f->same_as < 0; j++)
			if (p.files[j].same_as < 0 && same_file(pid, f->fd, pid, p.files[j].fd))
				f->same_as = (int)j;
		if (f->owner != p.owner)
			p.owner = 0;
		if (f->same_as >= 0)
			continue;
		p.nuniq++;
		p.regions += f->regions;
		p.pinned_pages += f->pinned_pages;
		p.pinned_bytes += f->pinned_bytes;
		p.peak_pages += f->peak_pages;
		p.metadata_bytes += f->metadata_bytes;
		p.diverged_regions += f->diverged_regions;
	}

	{
		struct pm_proc *np = realloc(s->procs, (s->nprocs + 1) * sizeof(*np));

		if (!np) {
			free(p.files);
			return -ENOMEM;
		}
		s->procs = np;
		s->procs[s->nprocs++] = p;
	}
	return 0;
}

/* A file is counted in the totals once, at its first holder. */
static bool seen_before(const struct pm_scan *s, size_t pi, const struct pm_file *f)
{
	const struct pm_proc *p = &s->procs[pi];
	size_t i, j;

	for (i = 0; i < pi; i++)
		for (j = 0; j < s->procs[i].nfiles; j++)
			if (s->procs[i].files[j].same_as < 0 &&
			    s->procs[i].files[j].owner == f->owner &&
			    same_file(s->procs[i].pid, s->procs[i].files[j].fd, p->pid, f->fd))
				return true;
	return false;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct pm_proc *x = a, *y = b;

	if (x->pinned_bytes != y->pinned_bytes)
		return x->pinned_bytes > y->pinned_bytes ? -1 : 1;
	if (x->regions != y->regions)
		return x->regions > y->regions ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Every process holding a pinmgr file, most pinned bytes first. */
static int scan(struct pm_scan *s)
{
	struct dirent *de;
	dev_t devt;
	size_t i, j;
	DIR *d;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = pinmgr_devt(&devt);
	if (ret)
		return ret;
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || end == de->d_name || pid <= 0)
			continue;
		ret = scan_proc((pid_t)pid, devt, s);
		if (ret == -EACCES || ret == -EPERM)
			s->unreadable++;
		else if (ret == -ENOMEM)
			break;
		/* -ENOENT: the process is gone */
		ret = 0;
	}
	closedir(d);
	if (ret)
		return ret;

	if (s->nprocs)
		qsort(s->procs, s->nprocs, sizeof(*s->procs), cmp_proc);
	for (i = 0; i < s->nprocs; i++) {
		for (j = 0; j < s->procs[i].nfiles; j++) {
			const struct pm_file *f = &s->procs[i].files[j];

			if (f->same_as >= 0 || seen_before(s, i, f))
				continue;
			s->nfiles++;
			s->regions += f->regions;
			s->pinned_pages += f->pinned_pages;
			s->pinned_bytes += f->pinned_bytes;
			s->metadata_bytes += f->metadata_bytes;
			s->diverged_regions += f->diverged_regions;
		}
	}
	return 0;
}

static void scan_free(struct pm_scan *s)
{
	size_t i;

	for (i = 0; i < s->nprocs; i++)
		free(s->procs[i].files);
	free(s->procs);
	memset(s, 0, sizeof(*s));
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* ---- libkmod ---------------------------------------------------------- */

/*
 * A libkmod context whose messages go through kmod_log() at the priority
 * the -v count says: errors always, -v notices and warnings too, -vv its
 * info and debug messages ("context ... released", lookups). kmod_new()
 * already logs, to stderr at the priority KMOD_LOG names: that variable is
 * set for the call to what -v says, then put back as it was.
 */
static struct kmod_ctx *kmod_setup(void)
{
	const char *env = getenv("KMOD_LOG");
	char *saved = env ? strdup(env) : NULL;
	struct kmod_ctx *ctx;
	int e;

	setenv("KMOD_LOG", verbose > 1 ? "debug" : "err", 1);
	errno = 0;
	ctx = kmod_new(NULL, NULL);
	e = errno ? errno : ENOMEM;
	if (saved)
		setenv("KMOD_LOG", saved, 1);
	else
		unsetenv("KMOD_LOG");
	free(saved);
	if (!ctx) {
		fail(EXIT_FAILURE, e, "cannot initialise libkmod: %s", strerror(e));
		return NULL;
	}
	kmod_set_log_fn(ctx, kmod_log, NULL);
	kmod_set_log_priority(ctx, verbose > 1 ? LOG_DEBUG : verbose ? LOG_NOTICE : LOG_ERR);
	return ctx;
}

/*
 * Looks the module up as modprobe would (modules.dep.bin, aliases, built-in
 * modules of the running kernel); NULL if there is none.
 */
static struct kmod_module *module_lookup(struct kmod_ctx *ctx)
{
	struct kmod_list *list = NULL;
	struct kmod_module *mod = NULL;

	if (kmod_module_new_from_lookup(ctx, MODNAME, &list) == 0 && list)
		mod = kmod_module_ref(kmod_module_get_module(list));
	kmod_module_unref_list(list);
	return mod;
}

/*
 * No module for the running kernel: where it was looked for and how to get
 * one. @ko: how to use a module file instead, with this command.
 */
static int not_installed(struct kmod_ctx *ctx, const char *ko)
{
	const char *dir = kmod_get_dirname(ctx);

	return fail(EXIT_FAILURE, ENOENT, "module %s is not installed (libkmod finds none in %s): "
		    "install it with 'make dkms-install' or the pinmgr-dkms package, or %s",
		    MODNAME, dir ? dir : "/lib/modules/$(uname -r)", ko);
}

/* Not loaded: says whether it is installed at all (stat, top). */
static int module_absent(void)
{
	struct kmod_ctx *ctx = kmod_setup();
	struct kmod_module *mod;
	char msg[128];

	if (!ctx)
		return EXIT_FAILURE;
	mod = module_lookup(ctx);
	if (mod) {
		kmod_module_unref(mod);
		kmod_unref(ctx);
		not_loaded_msg(msg, sizeof(msg), NULL);
		return fail(EXIT_FAILURE, ENODEV, "%s", msg);
	}
	not_installed(ctx, "load a module file with 'pinmgr load --ko FILE'");
	kmod_unref(ctx);
	return EXIT_FAILURE;
}

/* What went wrong inserting a module, in the words of kmod's own tools. */
static const char *insert_strerror(int e)
{
	switch (e) {
	case ENOEXEC:
		return "invalid module format (built for another kernel? see dmesg)";
	case ENOENT:
		return "unknown symbol in module (see dmesg)";
	case EPERM:
	case EACCES:
		return "operation not permitted (needs root, and module loading must be enabled)";
	case EKEYREJECTED:
	case ENOKEY:
	case EBADMSG:
		return "module signature rejected (see dmesg)";
	case EEXIST:
		return "already loaded";
	case EINVAL:
		return "invalid argument (see dmesg)";
	default:
		return strerror(e);
	}
}

struct modparam {
	char name[64];
	char type[32];
	char desc[200];
};

static int cmp_param(const void *a, const void *b)
{
	return strcmp(((const struct modparam *)a)->name, ((const struct modparam *)b)->name);
}

/* The parameters a module file declares (modinfo parm/parmtype), by name. */
static int file_params(struct kmod_module *mod, struct modparam *pa, size_t max,
		       size_t *n)
{
	struct kmod_list *list = NULL, *l;
	int ret;

	*n = 0;
	ret = kmod_module_get_info(mod, &list);
	if (ret < 0)
		return ret;
	kmod_list_foreach(l, list) {
		const char *key = kmod_module_info_get_key(l);
		const char *val = kmod_module_info_get_value(l);
		const char *colon = val ? strchr(val, ':') : NULL;
		size_t i, nl;

		if (!colon || (strcmp(key, "parm") != 0 && strcmp(key, "parmtype") != 0))
			continue;
		nl = (size_t)(colon - val);
		for (i = 0; i < *n; i++)
			if (strlen(pa[i].name) == nl && !strncmp(pa[i].name, val, nl))
				break;
		if (i == *n) {
			if (*n == max || nl >= sizeof(pa[i].name))
				continue;
			memset(&pa[i], 0, sizeof(pa[i]));
			memcpy(pa[i].name, val, nl);
			(*n)++;
		}
		if (!strcmp(key, "parm"))
			snprintf(pa[i].desc, sizeof(pa[i].desc), "%s", colon + 1);
		else
			snprintf(pa[i].type, sizeof(pa[i].type), "%s", colon + 1);
	}
	kmod_module_info_free_list(list);
	if (*n)
		qsort(pa, *n, sizeof(*pa), cmp_param);
	return 0;
}

/*
 * Would the kernel's kstrtobool() (lib/kstrtox.c), which sets bool and
 * invbool parameters, take @s? Its first character decides: y Y t T 1 true,
 * n N f F 0 false ("yes", "false" too); after o or O the second: on, off.
 */
static bool kstrtobool_ok(const char *s)
{
	switch (s[0]) {
	case 'y': case 'Y': case 't': case 'T': case '1':
	case 'n': case 'N': case 'f': case 'F': case '0':
		return true;
	case 'o': case 'O':
		return s[1] != '\0' && strchr("nNfF", s[1]) != NULL;
	default:
		return false;
	}
}

/* Does @val parse as a value of the kernel parameter type @type? */
static bool param_value_ok(const char *type, const char *val)
{
	static const struct {
		const char *type;
		bool sign;
		unsigned long long max;
	} ints[] = {
		{ "byte", false, 0xff },
		{ "short", true, 0x7fff },
		{ "ushort", false, 0xffff },
		{ "int", true, INT_MAX },
		{ "uint", false, UINT_MAX },
		{ "long", true, LONG_MAX },
		{ "ulong", false, ULONG_MAX },
		{ "ullong", false, ULLONG_MAX },
	};
	size_t i;

	if (!strcmp(type, "bool") || !strcmp(type, "invbool"))
		return kstrtobool_ok(val);
	for (i = 0; i < ARRAY_SIZE(ints); i++) {
		const char *p = val;
		unsigned long long x;
		bool neg = false;
		char *end;

		if (strcmp(type, ints[i].type) != 0)
			continue;
		if (*p == '-' && ints[i].sign) {
			neg = true;
			p++;
		} else if (*p == '+') {
			p++;
		}
		if (!isdigit((unsigned char)*p))
			return false;
		errno = 0;
		x = strtoull(p, &end, 0);
		if (errno || *end)
			return false;
		return x <= ints[i].max + (neg ? 1 : 0);
	}
	return true;	/* charp and other types: the kernel decides */
}

/*
 * Checks PARAM=VALUE words against the parameters of @mod's file and joins
 * them into one option string. Returns 0, EXIT_USAGE (message printed) or
 * EXIT_FAILURE.
 */
static int build_options(struct kmod_module *mod, char **words, int nwords,
			 char **opts)
{
	struct modparam pa[32];
	size_t npa = 0, len = 1, i;
	bool known = false;
	int w;

	*opts = NULL;
	if (nwords && file_params(mod, pa, ARRAY_SIZE(pa), &npa) == 0)
		known = true;
	for (w = 0; w < nwords; w++) {
		const char *eq = strchr(words[w], '=');
		size_t nl = eq ? (size_t)(eq - words[w]) : strlen(words[w]);

		if (!nl || strpbrk(words[w], " \t\n")) {
			fail(EXIT_USAGE, EINVAL, "'%s' is not PARAM=VALUE", words[w]);
			return EXIT_USAGE;
		}
		if (!known) {
			len += strlen(words[w]) + 1;
			continue;
		}
		for (i = 0; i < npa; i++)
			if (strlen(pa[i].name) == nl && !strncmp(pa[i].name, words[w], nl))
				break;
		if (i == npa) {
			char names[sizeof(pa)] = "";

			for (i = 0; i < npa; i++) {
				if (i)
					strcat(names, ", ");
				strcat(names, pa[i].name);
			}
			fail(EXIT_USAGE, EINVAL, "unknown parameter '%.*s' (%s has: %s)", (int)nl,
			     words[w], MODNAME, npa ? names : "no parameters");
			return EXIT_USAGE;
		}
		/* Only a bool may go without =VALUE (the kernel takes it as true). */
		if (!eq && pa[i].type[0] && strcmp(pa[i].type, "bool") != 0) {
			fail(EXIT_USAGE, EINVAL, "parameter %s (type %s) needs a value: %s=VALUE",
			     pa[i].name, pa[i].type, pa[i].name);
			return EXIT_USAGE;
		}
		if (eq && pa[i].type[0] && !param_value_ok(pa[i].type, eq + 1)) {
			fail(EXIT_USAGE, EINVAL, "invalid value '%s' for parameter %s (type %s)",
			     eq + 1, pa[i].name, pa[i].type);
			return EXIT_USAGE;
		}
		len += strlen(words[w]) + 1;
	}
	*opts = calloc(1, len);
	if (!*opts) {
		fail(EXIT_FAILURE, ENOMEM, "out of memory");
		return EXIT_FAILURE;
	}
	for (w = 0; w < nwords; w++) {
		if (w)
			strcat(*opts, " ");
		strcat(*opts, words[w]);
	}
	return 0;
}

static void print_action(struct kmod_module *m, bool install, const char *options)
{
	const char *path = kmod_module_get_path(m);

	if (install)
		info("install command of %s: %s", kmod_module_get_name(m), options);
	else
		info("insmod %s %s", path ? path : kmod_module_get_name(m),
		     options ? options : "");
}

/* ---- pinmgr load ------------------------------------------------------ */

static int cmd_load(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ko", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kmod_module *mod = NULL;
	const char *ko = NULL;
	struct kmod_ctx *ctx;
	char *options = NULL;
	int c, ret, rc = EXIT_FAILURE;

	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			ko = optarg;
			break;
		case 'h':
			printf("Usage: %s\n"
			       "Insert the pinmgr module as modprobe would: found in /lib/modules/$(uname -r),\n"
			       "modprobe.d options, install commands and blacklist applied; PARAM=VALUE\n"
			       "words are added to the options. With --ko FILE, insert that file as insmod\n"
			       "would (no module tree, no modprobe.d).\n", synopsis);
			return EXIT_SUCCESS;
		default:
			return bad_option(c, argv, opts);
		}
	}

	ctx = kmod_setup();
	if (!ctx)
		return EXIT_FAILURE;

	if (ko) {
		ret = kmod_module_new_from_path(ctx, ko, &mod);
		if (ret < 0) {
			fail(EXIT_FAILURE, -ret, "%s: %s", ko, strerror(-ret));
			goto out;
		}
		if (strcmp(kmod_module_get_name(mod), MODNAME) != 0) {
			rc = fail(EXIT_USAGE, EINVAL, "%s is module '%s', not %s", ko,
				  kmod_module_get_name(mod), MODNAME);
			goto out;
		}
	} else {
		mod = module_lookup(ctx);
		if (!mod) {
			not_installed(ctx, "give the module file with --ko FILE");
			goto out;
		}
	}

	if (kmod_module_get_initstate(mod) >= 0) {
		if (argc > optind) {
			fail(EXIT_FAILURE, EEXIST, "%s is already loaded: its parameters were not "
			     "changed (unload it first, or write /sys/module/%s/parameters/PARAM)",
			     MODNAME, MODNAME);
			goto out;
		}
		info("%s is already loaded", MODNAME);
		rc = EXIT_SUCCESS;
		goto out;
	}

	rc = build_options(mod, argv + optind, argc - optind, &options);
	if (rc)
		goto out;
	rc = EXIT_FAILURE;

	if (ko) {
		info("insmod %s %s", ko, options);
		ret = kmod_module_insert_module(mod, 0, options);
	} else {
		ret = kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST,
						      options, NULL, NULL, print_action);
	}
	if (ret > 0) {
		fail(EXIT_FAILURE, EPERM, "module %s is blacklisted by modprobe.d (remove the "
		     "'blacklist %s' line, or insert the file with --ko FILE)", MODNAME, MODNAME);
		goto out;
	}
	if (ret < 0) {
		const char *path = ko ? ko : kmod_module_get_path(mod);

		if (-ret == EINVAL && options[0])
			fail(EXIT_FAILURE, -ret, "could not insert %s: the kernel rejected the "
			     "parameters '%s' (see dmesg)", MODNAME, options);
		else
			fail(EXIT_FAILURE, -ret, "could not insert %s (%s): %s", MODNAME,
			     path ? path : "?", insert_strerror(-ret));
		goto out;
	}
	rc = EXIT_SUCCESS;
out:
	free(options);
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return rc;
}

/* ---- pinmgr unload ---------------------------------------------------- */

/* Tells who keeps the module busy (on stderr). */
static void report_users(void)
{
	struct pm_scan s;
	size_t i;
	char b[32];

	if (scan(&s))
		return;
	for (i = 0; i < s.nprocs; i++) {
		const struct pm_proc *p = &s.procs[i];

		fprintf(stderr, "%s:   pid %d (%s): %zu %s, %" PRIu64 " %s, %s pinned\n",
			prog, (int)p->pid, p->comm, p->nuniq, plural(p->nuniq, "file", "files"),
			p->regions, plural(p->regions, "region", "regions"),
			human(p->pinned_bytes, b, sizeof(b)));
	}
	if (s.unreadable)
		fprintf(stderr, "%s:   (%zu processes could not be inspected: run as root)\n",
			prog, s.unreadable);
	scan_free(&s);
}

static int cmd_unload(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kmod_module *mod = NULL;
	struct kmod_list *holders;
	struct kmod_ctx *ctx;
	int c, ret, refcnt, rc = EXIT_FAILURE;

	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: %s\n"
			       "Remove the pinmgr module; refused while a /dev/pinmgr file is open.\n",
			       synopsis);
			return EXIT_SUCCESS;
		default:
			return bad_option(c, argv, opts);
		}
	}
	if (optind < argc)
		return fail(EXIT_USAGE, EINVAL, "unload takes no arguments");
	ctx = kmod_setup();
	if (!ctx)
		return EXIT_FAILURE;
	ret = kmod_module_new_from_name(ctx, MODNAME, &mod);
	if (ret < 0) {
		fail(EXIT_FAILURE, -ret, "%s", strerror(-ret));
		goto out;
	}
	ret = kmod_module_get_initstate(mod);
	if (ret == -ENOENT) {
		fail(EXIT_FAILURE, ENODEV, "module %s is not loaded", MODNAME);
		goto out;
	}
	if (ret == KMOD_MODULE_BUILTIN) {
		fail(EXIT_FAILURE, EPERM, "%s is built into the kernel: it cannot be unloaded",
		     MODNAME);
		goto out;
	}

	refcnt = kmod_module_get_refcnt(mod);
	holders = kmod_module_get_holders(mod);
	if (holders) {
		struct kmod_list *l;

		err("cannot unload %s: modules depend on it:", MODNAME);
		kmod_list_foreach(l, holders)
			fprintf(stderr, "%s:   %s\n", prog,
				kmod_module_get_name(kmod_module_get_module(l)));
		kmod_module_unref_list(holders);
		goto out;
	}
	if (refcnt > 0) {
		err("cannot unload %s: in use by %d open %s:", MODNAME, refcnt,
		    plural((size_t)refcnt, "file", "files"));
		report_users();
		err("close them (or end those processes) and try again");
		goto out;
	}

	ret = kmod_module_remove_module(mod, 0);
	if (ret == -EBUSY || ret == -EAGAIN || ret == -EWOULDBLOCK) {
		err("cannot unload %s: in use (a file was opened just now):", MODNAME);
		report_users();
		goto out;
	}
	if (ret == -ENOENT) {
		fail(EXIT_FAILURE, ENODEV, "module %s is not loaded", MODNAME);
		goto out;
	}
	if (ret < 0) {
		fail(EXIT_FAILURE, -ret, "could not remove %s: %s", MODNAME,
		     ret == -EPERM ? "operation not permitted (needs root)" : strerror(-ret));
		goto out;
	}
	rc = EXIT_SUCCESS;
out:
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return rc;
}

/* ---- pinmgr info ------------------------------------------------------ */

struct info_state {
	const char *path;	/* the module file described, or NULL */
	char version[64], srcversion[64], vermagic[128], loaded_srcversion[64];
	const char *initstate;
	int refcnt;
	long size;
	char holders[256];
	struct modparam pa[32];
	char values[32][64];
	size_t npa;
	bool installed;		/* a file: the one given, or the module tree's */
	bool loaded, have_info;
	int info_err;
	struct pinmgr_info pi;
	char devnode[32];
};

/* 0, or the exit status of a failure with @ko (reported). */
static int info_module(struct kmod_ctx *ctx, const char *ko, struct info_state *st)
{
	struct kmod_module *mod = NULL;
	struct kmod_list *list = NULL, *l;
	int ret;

	if (ko) {
		ret = kmod_module_new_from_path(ctx, ko, &mod);
		if (ret < 0)
			return fail(EXIT_FAILURE, -ret, "%s: %s", ko, strerror(-ret));
		if (strcmp(kmod_module_get_name(mod), MODNAME) != 0) {
			ret = fail(EXIT_USAGE, EINVAL, "%s is module '%s', not %s", ko,
				   kmod_module_get_name(mod), MODNAME);
			kmod_module_unref(mod);
			return ret;
		}
	} else {
		mod = module_lookup(ctx);
	}
	st->installed = mod != NULL;
	/* loaded from a file the module tree does not have (insmod): sysfs */
	if (!mod && kmod_module_new_from_name(ctx, MODNAME, &mod) < 0)
		mod = NULL;
	if (!mod)
		return 0;

	st->path = kmod_module_get_path(mod);
	if (st->path)
		st->path = strdup(st->path);
	ret = kmod_module_get_info(mod, &list);
	if (ret < 0 && ko) {
		kmod_module_unref(mod);
		return fail(EXIT_FAILURE, -ret, "%s: cannot read its module information: %s", ko,
			    strerror(-ret));
	}
	if (ret >= 0) {
		kmod_list_foreach(l, list) {
			const char *k = kmod_module_info_get_key(l);
			const char *v = kmod_module_info_get_value(l);

			if (!v)
				continue;
			if (!strcmp(k, "version"))
				snprintf(st->version, sizeof(st->version), "%s", v);
			else if (!strcmp(k, "srcversion"))
				snprintf(st->srcversion, sizeof(st->srcversion), "%s", v);
			else if (!strcmp(k, "vermagic"))
				snprintf(st->vermagic, sizeof(st->vermagic), "%s", v);
		}
		st->vermagic[strcspn(st->vermagic, "\n")] = '\0';
		for (size_t n = strlen(st->vermagic); n && st->vermagic[n - 1] == ' '; n--)
			st->vermagic[n - 1] = '\0';
		kmod_module_info_free_list(list);
		file_params(mod, st->pa, ARRAY_SIZE(st->pa), &st->npa);
	}

	ret = kmod_module_get_initstate(mod);
	st->loaded = ret >= 0;
	if (st->loaded) {
		struct kmod_list *holders = kmod_module_get_holders(mod);

		st->initstate = kmod_module_initstate_str(ret);
		st->refcnt = kmod_module_get_refcnt(mod);
		st->size = kmod_module_get_size(mod);
		kmod_list_foreach(l, holders) {
			size_t n = strlen(st->holders);

			snprintf(st->holders + n, sizeof(st->holders) - n, "%s%s", n ? " " : "",
				 kmod_module_get_name(kmod_module_get_module(l)));
		}
		kmod_module_unref_list(holders);
		read_text(SYS_MODULE "/srcversion", st->loaded_srcversion,
			  sizeof(st->loaded_srcversion));
		if (!st->version[0])
			read_text(SYS_MODULE "/version", st->version, sizeof(st->version));
	}
	kmod_module_unref(mod);
	return 0;
}

/* Current values from sysfs; parameters the file did not declare too. */
static void info_param_values(struct info_state *st)
{
	struct dirent *de;
	size_t i;
	DIR *d;

	d = opendir(SYS_MODULE "/parameters");
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			for (i = 0; i < st->npa; i++)
				if (!strcmp(st->pa[i].name, de->d_name))
					break;
			if (i == st->npa) {
				if (st->npa == ARRAY_SIZE(st->pa))
					continue;
				memset(&st->pa[i], 0, sizeof(st->pa[i]));
				if (copy_str(st->pa[i].name, sizeof(st->pa[i].name), de->d_name))
					st->npa++;
			}
		}
		closedir(d);
	}
	if (st->npa)
		qsort(st->pa, st->npa, sizeof(st->pa[0]), cmp_param);
	for (i = 0; i < st->npa; i++) {
		char path[160];

		snprintf(path, sizeof(path), SYS_MODULE "/parameters/%s", st->pa[i].name);
		if (read_text(path, st->values[i], sizeof(st->values[i])))
			st->values[i][0] = '\0';
	}
}

static void flags_str(uint64_t v, const char *const *names, size_t n, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		if (v & (1ULL << i))
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "",
						names[i]);
	if (v >> n)
		snprintf(buf + off, len - off, "%s0x%" PRIx64, off ? "," : "", v >> n << n);
	if (!buf[0])
		snprintf(buf, len, "none");
}

static void info_print_text(const struct info_state *st)
{
	static const char *const pin_names[] = { "write", "no_events" };
	static const char *const seg_names[] = { "phys" };
	/* Indexed by bit: every PINMGR_CAP_* has its name (make lint-docs). */
	static const char *const cap_names[] = {
		[__builtin_ctz(PINMGR_CAP_PHYS)] = "phys",
		[__builtin_ctz(PINMGR_CAP_TEST_ACCESS)] = "test_access",
		[__builtin_ctz(PINMGR_CAP_EVENTS)] = "events",
		[__builtin_ctz(PINMGR_CAP_EXPORT_DMABUF)] = "export_dmabuf",
		[__builtin_ctz(PINMGR_CAP_UPDATE_REPLACE)] = "update_replace",
	};
	char b[64];
	size_t i, w = 0;

	printf("module:            %s\n", MODNAME);
	printf("file:              %s\n", st->path ? st->path : "(not in the module tree)");
	printf("version:           %s\n", st->version[0] ? st->version : "(none)");
	if (st->srcversion[0] || st->loaded_srcversion[0])
		printf("srcversion:        %s%s\n",
		       st->srcversion[0] ? st->srcversion : st->loaded_srcversion,
		       st->srcversion[0] && st->loaded_srcversion[0] &&
		       strcmp(st->srcversion, st->loaded_srcversion) != 0 ?
		       " (the loaded module differs from this file)" : "");
	if (st->vermagic[0])
		printf("vermagic:          %s\n", st->vermagic);
	if (st->loaded) {
		printf("state:             %s\n", st->initstate);
		printf("refcount:          %d\n", st->refcnt);
		printf("holders:           %s\n", st->holders[0] ? st->holders : "(none)");
		printf("size:              %ld (%s)\n", st->size,
		       human((uint64_t)(st->size > 0 ? st->size : 0), b, sizeof(b)));
	} else {
		printf("state:             not loaded\n");
	}

	printf("parameters:\n");
	for (i = 0; i < st->npa; i++)
		if (strlen(st->pa[i].name) > w)
			w = strlen(st->pa[i].name);
	for (i = 0; i < st->npa; i++) {
		printf("  %-*s = %-10s", (int)w, st->pa[i].name,
		       st->loaded ? st->values[i] : "-");
		if (st->pa[i].type[0])
			printf(" (%s)", st->pa[i].type);
		if (st->pa[i].desc[0])
			printf(" %s", st->pa[i].desc);
		putchar('\n');
	}

	if (!st->loaded)
		return;
	printf("device:            %s", PINMGR_DEFAULT_PATH);
	if (st->devnode[0])
		printf(" (char %s)", st->devnode);
	putchar('\n');
	if (st->info_err) {
		printf("abi:               unknown (%s: %s)\n", PINMGR_DEFAULT_PATH,
		       strerror(-st->info_err));
		return;
	}
	printf("abi version:       %u\n", st->pi.out_abi_version);
	printf("page size:         %u\n", st->pi.out_page_size);
	flags_str(st->pi.out_pin_flags, pin_names, ARRAY_SIZE(pin_names), b, sizeof(b));
	printf("pin flags:         %s\n", b);
	flags_str(st->pi.out_segments_flags, seg_names, ARRAY_SIZE(seg_names), b, sizeof(b));
	printf("segments flags:    %s\n", b);
	flags_str(st->pi.out_caps, cap_names, ARRAY_SIZE(cap_names), b, sizeof(b));
	printf("caps (this file):  %s\n", b);
	printf("max pages per pin: %" PRIu64 " (%s)\n", (uint64_t)st->pi.out_max_pages_per_pin,
	       human((uint64_t)st->pi.out_max_pages_per_pin * st->pi.out_page_size, b,
		     sizeof(b)));
	printf("max regions:       %" PRIu64 "\n", (uint64_t)st->pi.out_max_regions);
}

/* @error, @errnum: why the command fails after all, or "" and 0. */
static void info_print_json(const struct info_state *st, const char *error, int errnum)
{
	size_t i;

	printf("{\"module\":\"%s\",\"file\":", MODNAME);
	if (st->path)
		json_str(st->path);
	else
		printf("null");
	printf(",\"version\":");
	if (st->version[0])
		json_str(st->version);
	else
		printf("null");
	printf(",\"srcversion\":");
	if (st->srcversion[0] || st->loaded_srcversion[0])
		json_str(st->srcversion[0] ? st->srcversion : st->loaded_srcversion);
	else
		printf("null");
	printf(",\"vermagic\":");
	if (st->vermagic[0])
		json_str(st->vermagic);
	else
		printf("null");
	printf(",\"loaded\":%s", st->loaded ? "true" : "false");
	if (st->loaded) {
		printf(",\"state\":");
		json_str(st->initstate);
		printf(",\"refcount\":%d,\"holders\":[", st->refcnt);
		if (st->holders[0]) {
			char tmp[256], *save = NULL, *tok;
			bool first = true;

			snprintf(tmp, sizeof(tmp), "%s", st->holders);
			for (tok = strtok_r(tmp, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
				printf("%s", first ? "" : ",");
				json_str(tok);
				first = false;
			}
		}
		printf("],\"size\":%ld", st->size);
	}
	printf(",\"parameters\":[");
	for (i = 0; i < st->npa; i++) {
		printf("%s{\"name\":", i ? "," : "");
		json_str(st->pa[i].name);
		printf(",\"value\":");
		if (st->loaded)
			json_str(st->values[i]);
		else
			printf("null");
		printf(",\"type\":");
		json_str(st->pa[i].type);
		printf(",\"description\":");
		json_str(st->pa[i].desc);
		putchar('}');
	}
	putchar(']');
	if (st->loaded && !st->info_err)
		printf(",\"abi\":{\"abi_version\":%u,\"page_size\":%u,\"pin_flags\":%" PRIu64
		       ",\"segments_flags\":%" PRIu64 ",\"caps\":%" PRIu64
		       ",\"max_pages_per_pin\":%" PRIu64 ",\"max_regions\":%" PRIu64 "}",
		       st->pi.out_abi_version, st->pi.out_page_size,
		       (uint64_t)st->pi.out_pin_flags, (uint64_t)st->pi.out_segments_flags,
		       (uint64_t)st->pi.out_caps, (uint64_t)st->pi.out_max_pages_per_pin,
		       (uint64_t)st->pi.out_max_regions);
	if (error[0]) {
		printf(",\"error\":");
		json_str(error);
		printf(",\"errno\":%d", errnum);
	}
	printf("}\n");
	json_done = true;
}

static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ko", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct info_state *st;
	struct pinmgr_ctx *pctx;
	struct kmod_ctx *ctx;
	const char *ko = NULL;
	bool json = false;
	char error[1024] = "";
	int c, errnum = 0, rc;

	while ((c = getopt_long(argc, argv, "+:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			ko = optarg;
			break;
		case 'j':
			json = json_out = true;
			break;
		case 'h':
			printf("Usage: %s\n"
			       "Show the module (version, parameters, refcount, holders) and, when it\n"
			       "is loaded, what /dev/pinmgr reports (ABI version and limits).\n",
			       synopsis);
			return EXIT_SUCCESS;
		default:
			return bad_option(c, argv, opts);
		}
	}
	if (optind < argc)
		return fail(EXIT_USAGE, EINVAL, "info takes no arguments besides options");
	st = calloc(1, sizeof(*st));
	if (!st)
		return fail(EXIT_FAILURE, ENOMEM, "out of memory");
	ctx = kmod_setup();
	if (!ctx) {
		free(st);
		return EXIT_FAILURE;
	}
	/* refcount first: opening the device below takes a reference */
	rc = info_module(ctx, ko, st);
	if (rc)
		goto out;
	if (!st->loaded && module_loaded())
		st->loaded = true;	/* loaded, yet libkmod knows no file: sysfs only */
	if (st->loaded) {
		info_param_values(st);
		read_text(SYS_MISC "/dev", st->devnode, sizeof(st->devnode));
		st->info_err = pinmgr_open(&pctx);
		if (!st->info_err) {
			st->info_err = pinmgr_info(pctx, &st->pi, sizeof(st->pi));
			pinmgr_close(pctx);
		}
		if (st->info_err) {
			errnum = -st->info_err;
			snprintf(error, sizeof(error), "cannot query %s: %s", PINMGR_DEFAULT_PATH,
				 strerror(errnum));
		}
	} else if (!st->installed) {
		rc = not_installed(ctx, "give the module file with --ko FILE");
		goto out;
	} else {
		/* what the file says, then that it is not loaded */
		errnum = ENODEV;
		not_loaded_msg(error, sizeof(error), ko);
	}

	if (json)
		info_print_json(st, error, errnum);
	else
		info_print_text(st);
	if (error[0])
		rc = fail(EXIT_FAILURE, errnum, "%s", error);
out:
	free((void *)st->path);
	free(st);
	kmod_unref(ctx);
	return rc;
}

/* ---- pinmgr stat ------------------------------------------------------ */

/* The counters of main.c, in this order; others found in sysfs follow. */
static const char *const stat_names[] = {
	"open_files", "regions", "pinned_pages", "peak_pages", "pins", "unpins",
	"failed_pins", "metadata_bytes", "notifiers", "diverged_regions",
};

struct counter {
	char name[64];
	uint64_t val;
};

static int cmp_counter(const void *a, const void *b)
{
	const struct counter *x = a, *y = b;
	size_t i, ix = ARRAY_SIZE(stat_names), iy = ix;

	for (i = 0; i < ARRAY_SIZE(stat_names); i++) {
		if (!strcmp(x->name, stat_names[i]))
			ix = i;
		if (!strcmp(y->name, stat_names[i]))
			iy = i;
	}
	if (ix != iy)
		return ix < iy ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmd_stat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct counter cs[64];
	struct dirent *de;
	size_t n = 0, i;
	bool json = false;
	uint64_t ps = (uint64_t)page_size();
	char b[32];
	DIR *d;
	int c;

	while ((c = getopt_long(argc, argv, "+:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = json_out = true;
			break;
		case 'h':
			printf("Usage: %s\n"
			       "Show the module-wide counters of " SYS_STATS "/.\n", synopsis);
			return EXIT_SUCCESS;
		default:
			return bad_option(c, argv, opts);
		}
	}
	if (optind < argc)
		return fail(EXIT_USAGE, EINVAL, "stat takes no arguments besides options");
	d = opendir(SYS_STATS);
	if (!d) {
		int e = errno;

		if (!module_loaded())
			return module_absent();
		return fail(EXIT_FAILURE, e, "%s: %s (a module without global counters?)",
			    SYS_STATS, strerror(e));
	}
	while ((de = readdir(d)) && n < ARRAY_SIZE(cs)) {
		char path[320];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), SYS_STATS "/%s", de->d_name);
		if (read_u64(path, &cs[n].val))
			continue;
		if (copy_str(cs[n].name, sizeof(cs[n].name), de->d_name))
			n++;
	}
	closedir(d);
	qsort(cs, n, sizeof(cs[0]), cmp_counter);

	if (json) {
		printf("{\"page_size\":%" PRIu64, ps);
		for (i = 0; i < n; i++) {
			printf(",");
			json_str(cs[i].name);
			printf(":%" PRIu64, cs[i].val);
		}
		printf("}\n");
		json_done = true;
		return EXIT_SUCCESS;
	}
	for (i = 0; i < n; i++) {
		printf("%-16s %" PRIu64, cs[i].name, cs[i].val);
		if (strstr(cs[i].name, "_pages"))
			printf("  (%s)", human(cs[i].val * ps, b, sizeof(b)));
		else if (strstr(cs[i].name, "_bytes"))
			printf("  (%s)", human(cs[i].val, b, sizeof(b)));
		putchar('\n');
	}
	return EXIT_SUCCESS;
}

/* ---- pinmgr top ------------------------------------------------------- */

static void top_json(const struct pm_scan *s)
{
	size_t i, j;

	printf("{\"page_size\":%ld,\"processes\":[", page_size());
	for (i = 0; i < s->nprocs; i++) {
		const struct pm_proc *p = &s->procs[i];

		printf("%s{\"pid\":%d,\"comm\":", i ? "," : "", (int)p->pid);
		json_str(p->comm);
		printf(",\"files\":%zu,\"regions\":%" PRIu64 ",\"pinned_pages\":%" PRIu64
		       ",\"pinned_bytes\":%" PRIu64 ",\"peak_pages\":%" PRIu64
		       ",\"metadata_bytes\":%" PRIu64 ",\"diverged_regions\":%" PRIu64
		       ",\"fds\":[",
		       p->nuniq, p->regions, p->pinned_pages, p->pinned_bytes, p->peak_pages,
		       p->metadata_bytes, p->diverged_regions);
		for (j = 0; j < p->nfiles; j++) {
			const struct pm_file *f = &p->files[j];

			printf("%s{\"fd\":%d,\"owner\":%" PRIu64 ",\"regions\":%" PRIu64
			       ",\"pinned_pages\":%" PRIu64 ",\"pinned_bytes\":%" PRIu64
			       ",\"peak_pages\":%" PRIu64 ",\"metadata_bytes\":%" PRIu64
			       ",\"diverged_regions\":%" PRIu64 "}",
			       j ? "," : "", f->fd, f->owner, f->regions, f->pinned_pages,
			       f->pinned_bytes, f->peak_pages, f->metadata_bytes,
			       f->diverged_regions);
		}
		printf("]}");
	}
	printf("],\"total\":{\"processes\":%zu,\"files\":%zu,\"regions\":%" PRIu64
	       ",\"pinned_pages\":%" PRIu64 ",\"pinned_bytes\":%" PRIu64
	       ",\"metadata_bytes\":%" PRIu64 ",\"diverged_regions\":%" PRIu64
	       "},\"unreadable\":%zu}\n",
	       s->nprocs, s->nfiles, s->regions, s->pinned_pages, s->pinned_bytes,
	       s->metadata_bytes, s->diverged_regions, s->unreadable);
	json_done = true;
}

static void top_text(const struct pm_scan *s)
{
	uint64_t ps = (uint64_t)page_size();
	char b1[32], b2[32], b3[32], b4[32];
	size_t i;

	printf("%7s %7s %5s %8s %10s %10s %10s %8s  %s\n", "PID", "OWNER", "FILES",
	       "REGIONS", "PINNED", "PEAK", "METADATA", "DIVERGED", "COMMAND");
	for (i = 0; i < s->nprocs; i++) {
		const struct pm_proc *p = &s->procs[i];

		if (p->owner)
			snprintf(b4, sizeof(b4), "%" PRIu64, p->owner);
		else
			snprintf(b4, sizeof(b4), "*");
		printf("%7d %7s %5zu %8" PRIu64 " %10s %10s %10s %8" PRIu64 "  %s\n",
		       (int)p->pid, b4, p->nuniq, p->regions,
		       human(p->pinned_bytes, b1, sizeof(b1)),
		       human(p->peak_pages * ps, b2, sizeof(b2)),
		       human(p->metadata_bytes, b3, sizeof(b3)), p->diverged_regions,
		       p->comm);
	}
	printf("%zu %s, %zu %s, %" PRIu64 " %s, %s pinned\n", s->nprocs,
	       plural(s->nprocs, "process", "processes"), s->nfiles,
	       plural(s->nfiles, "file", "files"), s->regions,
	       plural(s->regions, "region", "regions"), human(s->pinned_bytes, b1, sizeof(b1)));
	if (s->unreadable)
		printf("(%zu processes could not be inspected: run as root to see them all)\n",
		       s->unreadable);
}

static int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pm_scan s;
	bool json = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = json_out = true;
			break;
		case 'h':
			printf("Usage: %s\n"
			       "List every process holding /dev/pinmgr files with its regions and\n"
			       "pinned memory (from /proc/PID/fdinfo), most pinned bytes first.\n"
			       "OWNER is the process that opened the file, whose locked memory is\n"
			       "charged ('*': files of several owners).\n", synopsis);
			return EXIT_SUCCESS;
		default:
			return bad_option(c, argv, opts);
		}
	}
	if (optind < argc)
		return fail(EXIT_USAGE, EINVAL, "%s takes no arguments besides options", argv[0]);
	ret = scan(&s);
	if (ret == -ENOENT && !module_loaded())
		return module_absent();
	if (ret)
		return fail(EXIT_FAILURE, -ret, "cannot list pinmgr files: %s", strerror(-ret));
	if (json)
		top_json(&s);
	else
		top_text(&s);
	scan_free(&s);
	return EXIT_SUCCESS;
}

/* ---- main ------------------------------------------------------------- */

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
	const char *help;
} commands[] = {
	{ "load", cmd_load, "pinmgr load [--ko FILE] [PARAM=VALUE...]",
	  "insert the module (modprobe.d honoured; --ko FILE: that file)" },
	{ "unload", cmd_unload, "pinmgr unload", "remove the module (refused while files are open)" },
	{ "info", cmd_info, "pinmgr info [--ko FILE] [--json]",
	  "module version, parameters, refcount; device ABI and limits" },
	{ "stat", cmd_stat, "pinmgr stat [--json]", "module-wide counters" },
	{ "top", cmd_top, "pinmgr top [--json]", "processes holding pinmgr files and what they pin" },
	{ "ps", cmd_top, "pinmgr ps [--json]", "same as top" },
};

static void usage(FILE *f)
{
	size_t i;

	fputs("Usage: pinmgr [-v] [--version] [--help] COMMAND [ARGS]\n\nCommands:\n", f);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fputs("\n-v: say what is done; -vv: libkmod's debug messages too.\n"
	      "See pinmgr(8); 'pinmgr COMMAND --help' for a command's options.\n", f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t i;
	int c;

	/*
	 * --json (or an abbreviation of it, or -j) anywhere: the caller wants
	 * JSON, also when the command line is wrong before getopt reaches it.
	 */
	for (c = 1; c < argc && strcmp(argv[c], "--") != 0; c++)
		if ((!strncmp(argv[c], "--j", 3) && !strncmp(argv[c], "--json", strlen(argv[c]))) ||
		    !strcmp(argv[c], "-j"))
			json_out = true;
	opterr = 0;	/* bad_option() says what is wrong, naming the command */
	while ((c = getopt_long(argc, argv, "+:vVh", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("pinmgr %s (ABI %d)\n", PINMGR_VERSION, PINMGR_ABI_VERSION);
			return EXIT_SUCCESS;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			return bad_option(c, argv, opts);
		}
	}
	if (optind >= argc)
		return fail(EXIT_USAGE, EINVAL, "no command given");
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!strcmp(argv[optind], commands[i].name)) {
			char **sub = argv + optind;
			int subc = argc - optind;

			snprintf(prog, sizeof(prog), "pinmgr %s", commands[i].name);
			synopsis = commands[i].synopsis;
			optind = 0;	/* each command parses its own options (glibc: reset) */
			return commands[i].fn(subc, sub);
		}
	}
	if (!strcmp(argv[optind], "help")) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	return fail(EXIT_USAGE, EINVAL, "unknown command '%s'", argv[optind]);
}
