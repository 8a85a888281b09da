// SPDX-License-Identifier: GPL-2.0
/*
 * pinmgr(8), the CLI, run as a user would run it: exit statuses, messages
 * and output checked against what the module and the library report.
 *
 * The CLI is dynamically linked (libkmod has no static library in Debian),
 * so `make tests` bundles it with its shared objects in
 * $BUILD/tests/bin/cli.d/ (cli/bundle.sh), which the VM copies to
 * /tests/cli.d/; this program runs cli.d/run next to itself, or $PINMGR_CLI.
 *
 * Some cases unload and reload the module; every case leaves it loaded with
 * its default parameters, as the VM harness expects.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define SYS_MODULE	"/sys/module/pinmgr"
#define MODPROBE_CONF	"/etc/modprobe.d/pinmgr-cli-test.conf"

static char cli_path[PATH_MAX];
static char ko_path[PATH_MAX];		/* the module file, for --ko */

struct run {
	int status;		/* exit status, or 128 + signal */
	char out[32768];
	char err[8192];
};

static void slurp(int fd, char *buf, size_t len)
{
	ssize_t n = 0, r;

	lseek(fd, 0, SEEK_SET);
	while ((size_t)n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += r;
	buf[n] = '\0';
}

/* Runs the CLI with @args (NULL-terminated), capturing stdout and stderr. */
static struct run *cli_argv(const char *const *args)
{
	static struct run r;
	const char *argv[32];
	int ofd, efd, st;
	size_t n = 0;
	pid_t pid;

	argv[n++] = cli_path;
	while (*args && n < ARRAY_SIZE(argv) - 1)
		argv[n++] = *args++;
	argv[n] = NULL;

	ofd = ASSERT_SYS(memfd_create("cli-out", MFD_CLOEXEC));
	efd = ASSERT_SYS(memfd_create("cli-err", MFD_CLOEXEC));
	fflush(NULL);
	pid = ASSERT_SYS(fork());
	if (pid == 0) {
		dup2(ofd, 1);
		dup2(efd, 2);
		execv(cli_path, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", cli_path, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			h_fail("waitpid: %s", h_errname(errno));
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	slurp(ofd, r.out, sizeof(r.out));
	slurp(efd, r.err, sizeof(r.err));
	close(ofd);
	close(efd);
	return &r;
}

#define CLI(...) cli_argv((const char *const[]){ __VA_ARGS__, NULL })

/* What a failed check shows: the command's status and output. */
static void show(const struct run *r)
{
	h_diag("exit status %d", r->status);
	h_diag("stdout: %s", r->out[0] ? r->out : "(empty)");
	h_diag("stderr: %s", r->err[0] ? r->err : "(empty)");
}

/* The output as TAP diagnostics (kept in the VM's console log). */
static void diag_out(const char *cmd, const struct run *r)
{
	char copy[sizeof(r->out) + sizeof(r->err)], *line, *save = NULL;

	h_diag("$ pinmgr %s   (exit %d)", cmd, r->status);
	snprintf(copy, sizeof(copy), "%s%s", r->out, r->err);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		h_diag("%s", line);
}

#define EXPECT_STATUS(r, want)						\
	do {								\
		if ((r)->status != (want)) {				\
			show(r);					\
			h_fail("exit status %d, expected %d", (r)->status, (want)); \
		}							\
	} while (0)

#define EXPECT_IN(r, field, text)					\
	do {								\
		if (!strstr((r)->field, (text))) {			\
			show(r);					\
			h_fail(#field " lacks \"%s\"", (text));		\
		}							\
	} while (0)

#define EXPECT_NOT_IN(r, field, text)					\
	do {								\
		if (strstr((r)->field, (text))) {			\
			show(r);					\
			h_fail(#field " has \"%s\"", (text));		\
		}							\
	} while (0)

/* stdout is one JSON object on one line, and nothing else. */
static void expect_one_json(const struct run *r)
{
	size_t n = strlen(r->out);

	if (n < 3 || r->out[0] != '{' || strcmp(r->out + n - 2, "}\n") != 0 ||
	    strchr(r->out, '\n') != r->out + n - 1) {
		show(r);
		h_fail("stdout is not exactly one JSON object on one line");
	}
}

/* A failure with --json: exit @status, one object ending "error":...,"errno":@e}. */
static void expect_json_error(const struct run *r, int status, int e)
{
	char want[32];

	EXPECT_STATUS(r, status);
	expect_one_json(r);
	EXPECT_IN(r, out, "\"error\":\"");
	snprintf(want, sizeof(want), ",\"errno\":%d}\n", e);
	EXPECT_IN(r, out, want);
}

/* The number after "@key": in a one-line JSON object (first match). */
static uint64_t json_u64(const struct run *r, const char *key)
{
	char pat[96];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(r->out, pat);
	if (!p) {
		show(r);
		h_fail("no \"%s\" in the JSON", key);
	}
	return strtoull(p + strlen(pat), NULL, 10);
}

static bool module_loaded(void)
{
	return access(SYS_MODULE, F_OK) == 0;
}

static uint64_t param(const char *name)
{
	uint64_t v;
	int ret = h_param_read(name, &v);

	ASSERT_MSG(ret == 0, "parameter %s: %s", name, h_errname(-ret));
	return v;
}

/* ---- finding the CLI and the module file -------------------------------- */

static int find_ko_cb(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	(void)st;
	if (type != FTW_F || strcmp(path + ftw->base, "pinmgr.ko") != 0)
		return 0;
	snprintf(ko_path, sizeof(ko_path), "%s", path);
	return 1;	/* stop the walk */
}

static void find_paths(void)
{
	char self[PATH_MAX - 16], dir[PATH_MAX];
	const char *env = getenv("PINMGR_CLI");
	struct utsname u;
	ssize_t n;

	if (env && *env) {
		snprintf(cli_path, sizeof(cli_path), "%s", env);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n > 0) {
			self[n] = '\0';
			*strrchr(self, '/') = '\0';
			snprintf(cli_path, sizeof(cli_path), "%s/cli.d/run", self);
		}
	}

	/* The VM's /pinmgr.ko, else the module in the tree (modprobe boot). */
	if (access("/pinmgr.ko", R_OK) == 0) {
		snprintf(ko_path, sizeof(ko_path), "/pinmgr.ko");
	} else if (uname(&u) == 0) {
		snprintf(dir, sizeof(dir), "/lib/modules/%.*s", 200, u.release);
		nftw(dir, find_ko_cb, 16, FTW_PHYS);
	}
}

/* Loads the module back (defaults) if a case left it unloaded. */
static void reload(void *p, size_t n)
{
	(void)p;
	(void)n;
	unlink(MODPROBE_CONF);
	if (module_loaded() || !ko_path[0])
		return;
	cli_argv((const char *const[]){ "load", "--ko", ko_path, NULL });
	if (!module_loaded()) {
		int fd = open(ko_path, O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			syscall(SYS_finit_module, fd, "", 0);
			close(fd);
		}
	}
}

static void require_ko(void)
{
	if (!ko_path[0])
		h_skip("no pinmgr.ko found (/pinmgr.ko, /lib/modules/$(uname -r))");
	h_defer(reload, NULL, 0);
}

static void unload_ok(void)
{
	struct run *r = CLI("unload");

	EXPECT_STATUS(r, 0);
	ASSERT_MSG(!module_loaded(), SYS_MODULE " still exists after 'pinmgr unload'");
}

/* ---- cases ---------------------------------------------------------------- */

CASE(cli_found)
{
	ASSERT_MSG(access(cli_path, X_OK) == 0, "no CLI at %s (make tests builds cli.d/)",
		   cli_path);
}

CASE(cli_version)
{
	struct run *r = CLI("--version");

	EXPECT_STATUS(r, 0);
	EXPECT_IN(r, out, "pinmgr ");
	EXPECT_IN(r, out, "(ABI 1)");
}

CASE(cli_usage_errors)
{
	struct run *r = CLI("top");

	EXPECT_STATUS(r, 0);	/* sanity: the next ones fail for their own reason */
	r = cli_argv((const char *const[]){ NULL });
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "pinmgr: no command given\nUsage: pinmgr [-v] ");
	r = CLI("frobnicate");
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "pinmgr: unknown command 'frobnicate'\nUsage: pinmgr [-v] ");
	r = CLI("--bogus", "info");
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "pinmgr: unrecognized option '--bogus'\n");
}

/* Like ip and kmod: "pinmgr CMD: ...", then the command's usage line. */
CASE(cli_option_errors_name_the_command)
{
	struct run *r = CLI("info", "--bogus");

	diag_out("info --bogus", r);
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "pinmgr info: unrecognized option '--bogus'\n"
		  "Usage: pinmgr info [--ko FILE] [--json]\n");
	ASSERT_MSG(!r->out[0], "stdout: %s", r->out);
	r = CLI("stat", "-x");
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "pinmgr stat: invalid option -- 'x'\nUsage: pinmgr stat [--json]\n");
	r = CLI("load", "--ko");
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "pinmgr load: option '--ko' requires an argument\n"
		  "Usage: pinmgr load [--ko FILE] [PARAM=VALUE...]\n");
	r = CLI("top", "--json=1");
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "pinmgr top: option '--json' doesn't allow an argument\n");
	r = CLI("ps", "now");
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "pinmgr ps: ps takes no arguments besides options\n"
		  "Usage: pinmgr ps [--json]\n");
	r = CLI("unload", "now");
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "pinmgr unload: unload takes no arguments\nUsage: pinmgr unload\n");
	ASSERT(module_loaded());
}

CASE(cli_info_shows_params_and_abi)
{
	struct pinmgr_info info;
	struct pinmgr_ctx *ctx;
	char want[128];
	struct run *r;

	/* no file open yet: the CLI reads the refcount before opening one */
	r = CLI("info");
	diag_out("info", r);
	EXPECT_STATUS(r, 0);
	EXPECT_IN(r, out, "state:             live");
	EXPECT_IN(r, out, "refcount:          0");
	EXPECT_IN(r, out, "holders:           (none)");
	EXPECT_IN(r, out, "abi version:       1");
	snprintf(want, sizeof(want), "page size:         %zu", h_ps);
	EXPECT_IN(r, out, want);
	snprintf(want, sizeof(want), "max_pages_per_pin = %llu",
		 (unsigned long long)param("max_pages_per_pin"));
	EXPECT_IN(r, out, want);
	snprintf(want, sizeof(want), "max_regions       = %llu",
		 (unsigned long long)param("max_regions"));
	EXPECT_IN(r, out, want);
	EXPECT_IN(r, out, "test_access       = ");

	ctx = h_open();
	ASSERT_OK(pinmgr_info(ctx, &info, sizeof(info)));
	snprintf(want, sizeof(want), "max regions:       %llu",
		 (unsigned long long)info.out_max_regions);
	EXPECT_IN(r, out, want);
	snprintf(want, sizeof(want), "max pages per pin: %llu",
		 (unsigned long long)info.out_max_pages_per_pin);
	EXPECT_IN(r, out, want);

	/* the test's own file is open now */
	r = CLI("info", "--json");
	EXPECT_STATUS(r, 0);
	ASSERT_EQ(json_u64(r, "refcount"), 1);
	ASSERT_EQ(json_u64(r, "abi_version"), PINMGR_ABI_VERSION);
	ASSERT_EQ(json_u64(r, "max_regions"), info.out_max_regions);
	snprintf(want, sizeof(want), "{\"name\":\"max_regions\",\"value\":\"%llu\"",
		 (unsigned long long)param("max_regions"));
	EXPECT_IN(r, out, want);
}

CASE(cli_info_ko_types)
{
	struct run *r;

	if (!ko_path[0])
		h_skip("no pinmgr.ko found");
	r = CLI("info", "--ko", ko_path);
	EXPECT_STATUS(r, 0);
	EXPECT_IN(r, out, ko_path);
	EXPECT_IN(r, out, "(ulong) Most pages one PIN may cover");
	EXPECT_IN(r, out, "(uint) Most regions one open file may hold");
	EXPECT_IN(r, out, "(bool) Allow the test-only ACCESS ioctl");
}

/* --ko FILE that is not there: that, not the module's state. */
CASE(cli_info_ko_missing_file)
{
	struct run *r = CLI("info", "--ko", "/nonexistent.ko");

	diag_out("info --ko /nonexistent.ko", r);
	EXPECT_STATUS(r, 1);
	EXPECT_IN(r, err, "pinmgr info: /nonexistent.ko: No such file or directory\n");
	EXPECT_NOT_IN(r, err, "loaded");
	ASSERT_MSG(!r->out[0], "stdout: %s", r->out);
}

CASE(cli_json_file_error)
{
	struct run *r = CLI("info", "--ko", "/nonexistent.ko", "--json");

	diag_out("info --ko /nonexistent.ko --json", r);
	expect_json_error(r, 1, ENOENT);
	ASSERT_MSG(!strcmp(r->out, "{\"error\":\"/nonexistent.ko: No such file or directory\","
			   "\"errno\":2}\n"), "stdout: %s", r->out);
}

/* Usage errors with --json: the object too, wherever --json stands. */
CASE(cli_json_usage_error)
{
	struct run *r = CLI("stat", "--bogus", "--json");

	diag_out("stat --bogus --json", r);
	expect_json_error(r, 2, EINVAL);
	EXPECT_IN(r, out, "{\"error\":\"unrecognized option '--bogus'\",");
	EXPECT_IN(r, err, "pinmgr stat: unrecognized option '--bogus'\n");
	r = CLI("info", "--json", "extra");
	expect_json_error(r, 2, EINVAL);
	r = CLI("load", "--json");		/* load has no --json: an error, as JSON */
	expect_json_error(r, 2, EINVAL);
	r = CLI("--json");
	expect_json_error(r, 2, EINVAL);
	/* -j and abbreviations of --json are --json too */
	r = CLI("stat", "-j", "--bogus");
	expect_json_error(r, 2, EINVAL);
	r = CLI("top", "--js", "--bogus");
	expect_json_error(r, 2, EINVAL);
}

/* -v says what is done; only -vv lets libkmod talk, whatever KMOD_LOG says. */
CASE(cli_verbose_levels)
{
	struct run *r;

	if (!ko_path[0])
		h_skip("no pinmgr.ko found");
	r = CLI("-v", "info");

	EXPECT_STATUS(r, 0);
	EXPECT_NOT_IN(r, err, "libkmod");
	r = CLI("-v", "load", "--ko", ko_path);	/* loaded: says so, succeeds */
	diag_out("-v load --ko KO   (loaded)", r);
	EXPECT_STATUS(r, 0);
	EXPECT_IN(r, err, "pinmgr load: pinmgr is already loaded\n");
	EXPECT_NOT_IN(r, err, "libkmod");
	r = CLI("-vv", "info");
	EXPECT_STATUS(r, 0);
	EXPECT_IN(r, err, "pinmgr info: libkmod: ");
	EXPECT_IN(r, err, "created");		/* kmod_new()'s own "ctx %p created" */

	ASSERT_SYS(setenv("KMOD_LOG", "debug", 1));
	r = CLI("-v", "info");
	unsetenv("KMOD_LOG");
	EXPECT_STATUS(r, 0);
	EXPECT_NOT_IN(r, err, "libkmod");
	EXPECT_NOT_IN(r, err, "created");
}

/* How many DT_RPATH and DT_RUNPATH entries the ELF file @path has. */
static int check_no_runpath(const char *path)
{
	const Elf64_Ehdr *eh;
	const Elf64_Phdr *ph;
	struct stat st;
	const char *m;
	int fd, i, found = 0;

	fd = ASSERT_SYS(open(path, O_RDONLY | O_CLOEXEC));
	ASSERT_SYS(fstat(fd, &st));
	m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	ASSERT(m != MAP_FAILED);
	eh = (const Elf64_Ehdr *)m;
	ASSERT_MSG(!memcmp(eh->e_ident, ELFMAG, SELFMAG) && eh->e_ident[EI_CLASS] == ELFCLASS64,
		   "%s is not a 64-bit ELF file", path);
	ph = (const Elf64_Phdr *)(m + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++) {
		const Elf64_Dyn *d;

		if (ph[i].p_type != PT_DYNAMIC)
			continue;
		for (d = (const Elf64_Dyn *)(m + ph[i].p_offset); d->d_tag != DT_NULL; d++)
			if (d->d_tag == DT_RPATH || d->d_tag == DT_RUNPATH)
				found++;
	}
	munmap((void *)m, st.st_size);
	return found;
}

/*
 * The binary the tests run is the one `make install` installs, without an
 * RPATH or RUNPATH (Debian policy); build/cli/pinmgr, with RUNPATH
 * $ORIGIN/../lib, cannot run in the guest: cli/cli.mk runs it after linking.
 */
CASE(cli_installed_binary_has_no_runpath)
{
	char bin[PATH_MAX];
	char magic[4] = "";
	int fd;

	/* cli.d/run is the loader wrapper; $PINMGR_CLI may be the binary itself */
	fd = ASSERT_SYS(open(cli_path, O_RDONLY | O_CLOEXEC));
	ASSERT(read(fd, magic, sizeof(magic)) >= 0);
	close(fd);
	if (!memcmp(magic, ELFMAG, SELFMAG)) {
		snprintf(bin, sizeof(bin), "%s", cli_path);
	} else {
		snprintf(bin, sizeof(bin), "%s", cli_path);
		*strrchr(bin, '/') = '\0';
		strncat(bin, "/pinmgr", sizeof(bin) - strlen(bin) - 1);
	}
	ASSERT_MSG(check_no_runpath(bin) == 0,
		   "%s has an RPATH/RUNPATH: the installed binary must have none", bin);
}

struct stat_json {
	uint64_t open_files, regions, pinned_pages, pins, unpins, failed_pins;
	uint64_t metadata_bytes;
};

static void stat_json(struct stat_json *s)
{
	struct run *r = CLI("stat", "--json");

	EXPECT_STATUS(r, 0);
	ASSERT_EQ(json_u64(r, "page_size"), h_ps);
	s->open_files = json_u64(r, "open_files");
	s->regions = json_u64(r, "regions");
	s->pinned_pages = json_u64(r, "pinned_pages");
	s->pins = json_u64(r, "pins");
	s->unpins = json_u64(r, "unpins");
	s->failed_pins = json_u64(r, "failed_pins");
	s->metadata_bytes = json_u64(r, "metadata_bytes");
}

CASE(cli_stat_matches_stats)
{
	struct stat_json before, after;
	struct pinmgr_stats st;
	struct pinmgr_ctx *ctx;
	char *buf, *none, want[128];
	uint32_t h, unused;
	struct run *r;

	stat_json(&before);
	ASSERT_EQ(before.open_files, 0);
	ASSERT_EQ(before.regions, 0);
	ASSERT_EQ(before.pinned_pages, 0);

	ctx = h_open();
	buf = h_anon(16 * h_ps);
	h_pin(ctx, buf, h_ps, 0);				/* 1 page */
	h_pin(ctx, buf + 2 * h_ps + 1, 3 * h_ps, 0);		/* 4 pages */
	h = h_pin(ctx, buf + 8 * h_ps, 2 * h_ps, PINMGR_PIN_WRITE);	/* 2 */
	none = h_map(h_ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_ERR(pinmgr_pin(ctx, none, h_ps, 0, &unused), EFAULT);

	ASSERT_OK(pinmgr_stats(ctx, &st, sizeof(st)));
	ASSERT_EQ(st.out_regions, 3);
	ASSERT_EQ(st.out_pinned_pages, 7);
	ASSERT_EQ(st.out_failed_pins, 1);
	stat_json(&after);
	ASSERT_EQ(after.open_files, 1);
	ASSERT_EQ(after.regions, st.out_regions);
	ASSERT_EQ(after.pinned_pages, st.out_pinned_pages);
	ASSERT_EQ(after.metadata_bytes, st.out_metadata_bytes);
	ASSERT_EQ(after.pins - before.pins, st.out_pins);
	ASSERT_EQ(after.failed_pins - before.failed_pins, st.out_failed_pins);
	ASSERT_EQ(after.unpins, before.unpins);

	r = CLI("stat");
	diag_out("stat", r);
	EXPECT_STATUS(r, 0);
	EXPECT_IN(r, out, "open_files       1\n");
	EXPECT_IN(r, out, "regions          3\n");
	snprintf(want, sizeof(want), "pinned_pages     7  (%.1f KiB)\n", 7.0 * h_ps / 1024);
	EXPECT_IN(r, out, want);

	ASSERT_OK(pinmgr_unpin(ctx, h));
	stat_json(&after);
	ASSERT_EQ(after.unpins - before.unpins, 1);
	ASSERT_EQ(after.pinned_pages, 5);
}

struct holder {
	int ready[2], go[2];
	size_t regions, pages;	/* pinned in regions of pages/regions pages */
};

/* In a child: pin, say so, hold until told to go. */
static void hold(void *arg)
{
	struct holder *w = arg;
	size_t per = w->pages / w->regions, i;
	struct pinmgr_ctx *ctx;
	uint32_t h;
	char *buf;

	ASSERT_OK(pinmgr_open(&ctx));
	buf = mmap(NULL, w->pages * h_ps, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT(buf != MAP_FAILED);
	for (i = 0; i < w->regions; i++)
		ASSERT_OK(pinmgr_pin(ctx, buf + i * per * h_ps, per * h_ps, 0, &h));
	h_signal_fd(w->ready[1]);
	h_wait_fd(w->go[0]);
	pinmgr_close(ctx);
}

static pid_t start_holder(struct holder *w, size_t regions, size_t pages)
{
	pid_t pid;

	w->regions = regions;
	w->pages = pages;
	h_pipe(w->ready);
	h_pipe(w->go);
	pid = h_child_start(hold, w);
	h_wait_fd(w->ready[0]);
	return pid;
}

static void stop_holder(struct holder *w, pid_t pid)
{
	h_signal_fd(w->go[1]);
	h_child_wait(pid);
}

CASE(cli_top_lists_holders)
{
	struct holder a, b;
	struct pinmgr_ctx *ctx;
	pid_t pa, pb;
	char want[160], *p, *q;
	struct run *r;
	char *buf;
	int dupfd;

	pb = start_holder(&b, 1, 1);	/* 4 KiB, one region */
	pa = start_holder(&a, 2, 6);	/* 24 KiB in two regions */
	/* this process: one file behind two descriptors, 2 pages */
	ctx = h_open();
	buf = h_anon(2 * h_ps);
	h_pin(ctx, buf, 2 * h_ps, 0);
	/* CLOEXEC: else the CLI would inherit it and list itself */
	dupfd = h_keep_fd(ASSERT_SYS(fcntl(h_fd(ctx), F_DUPFD_CLOEXEC, 0)));

	r = CLI("top", "--json");
	diag_out("top --json", r);
	EXPECT_STATUS(r, 0);
	ASSERT_EQ(json_u64(r, "pid"), pa);		/* most pinned first */
	ASSERT_EQ(json_u64(r, "pinned_bytes"), 6 * h_ps);
	ASSERT_EQ(json_u64(r, "regions"), 2);
	ASSERT_EQ(json_u64(r, "owner"), pa);
	p = strstr(r->out, "},{\"pid\":");		/* the second process */
	ASSERT_MSG(p, "only one process listed: %s", r->out);
	ASSERT_EQ(strtoull(p + strlen("},{\"pid\":"), NULL, 10), getpid());
	q = strstr(p, "\"files\":");
	ASSERT_EQ(strtoull(q + strlen("\"files\":"), NULL, 10), 1);	/* dup: one file */
	q = strstr(p, "\"pinned_bytes\":");
	ASSERT_EQ(strtoull(q + strlen("\"pinned_bytes\":"), NULL, 10), 2 * h_ps);
	snprintf(want, sizeof(want), "{\"fd\":%d,", dupfd);
	EXPECT_IN(r, out, want);			/* both descriptors shown */
	p = strstr(r->out, "\"total\":");
	ASSERT_MSG(p, "no total");
	ASSERT_EQ(strtoull(strstr(p, "\"processes\":") + 12, NULL, 10), 3);
	ASSERT_EQ(strtoull(strstr(p, "\"files\":") + 8, NULL, 10), 3);
	ASSERT_EQ(strtoull(strstr(p, "\"regions\":") + 10, NULL, 10), 4);
	ASSERT_EQ(strtoull(strstr(p, "\"pinned_bytes\":") + 15, NULL, 10), 9 * h_ps);

	r = CLI("top");
	diag_out("top", r);
	EXPECT_STATUS(r, 0);
	EXPECT_IN(r, out, "    PID   OWNER FILES  REGIONS     PINNED");
	/* first line after the header: the biggest holder */
	p = strchr(r->out, '\n') + 1;
	snprintf(want, sizeof(want), "%7d %7d     1        2 %10s", (int)pa, (int)pa,
		 h_ps == 4096 ? "24.0 KiB" : "?");
	ASSERT_MSG(!strncmp(p, want, strlen(want)), "first row is not '%s': %s", want, r->out);
	EXPECT_IN(r, out, "  cli\n");
	snprintf(want, sizeof(want), "3 processes, 3 files, 4 regions, %.1f KiB pinned\n",
		 9.0 * h_ps / 1024);
	EXPECT_IN(r, out, want);

	stop_holder(&a, pa);
	stop_holder(&b, pb);
}

CASE(cli_unload_refused_while_open)
{
	struct holder a;
	struct run *r;
	char want[64];
	pid_t pa;

	pa = start_holder(&a, 1, 3);
	r = CLI("unload");
	diag_out("unload", r);
	EXPECT_STATUS(r, 1);
	EXPECT_IN(r, err, "cannot unload pinmgr: in use by 1 open file:");
	snprintf(want, sizeof(want), "pid %d (cli): 1 file, 1 region", (int)pa);
	EXPECT_IN(r, err, want);
	ASSERT_MSG(module_loaded(), "the module was unloaded while a file was open");
	stop_holder(&a, pa);
}

CASE(cli_unload_and_load_ko)
{
	uint64_t def_regions;
	struct pinmgr_info info;
	struct pinmgr_ctx *ctx;
	struct run *r;

	require_ko();
	def_regions = param("max_regions");
	unload_ok();
	ASSERT_MSG(access(PINMGR_DEFAULT_PATH, F_OK) != 0, "/dev/pinmgr still exists");

	r = CLI("unload");
	EXPECT_STATUS(r, 1);
	EXPECT_IN(r, err, "pinmgr unload: module pinmgr is not loaded\n");

	r = CLI("load", "--ko", "/nonexistent/pinmgr.ko");
	EXPECT_STATUS(r, 1);
	EXPECT_IN(r, err, "pinmgr load: /nonexistent/pinmgr.ko: No such file or directory\n");

	r = CLI("load", "--ko", ko_path, "max_regions=7");
	EXPECT_STATUS(r, 0);
	ASSERT_EQ(param("max_regions"), 7);
	ASSERT_OK(pinmgr_open(&ctx));
	ASSERT_OK(pinmgr_info(ctx, &info, sizeof(info)));
	pinmgr_close(ctx);
	ASSERT_EQ(info.out_max_regions, 7);

	r = CLI("load", "--ko", ko_path, "max_regions=8");
	EXPECT_STATUS(r, 1);
	EXPECT_IN(r, err, "pinmgr load: pinmgr is already loaded: its parameters were not changed");
	ASSERT_EQ(param("max_regions"), 7);
	r = CLI("load", "--ko", ko_path);
	EXPECT_STATUS(r, 0);

	unload_ok();
	r = CLI("load", "--ko", ko_path);
	EXPECT_STATUS(r, 0);
	ASSERT_EQ(param("max_regions"), def_regions);
}

CASE(cli_load_bad_parameters)
{
	struct run *r;

	require_ko();
	unload_ok();
	r = CLI("load", "--ko", ko_path, "bogus=1");
	diag_out("load --ko KO bogus=1", r);
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "pinmgr load: unknown parameter 'bogus' (pinmgr has: events, max_pages_per_pin, max_regions, test_access, test_first_handle)\n"
		  "Usage: pinmgr load [--ko FILE] [PARAM=VALUE...]\n");
	ASSERT(!module_loaded());
	r = CLI("load", "--ko", ko_path, "max_regions=abc");
	diag_out("load --ko KO max_regions=abc", r);
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "invalid value 'abc' for parameter max_regions (type uint)");
	ASSERT(!module_loaded());
	r = CLI("load", "--ko", ko_path, "max_regions=4294967296");
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "invalid value '4294967296' for parameter max_regions");
	r = CLI("load", "--ko", ko_path, "test_access=maybe");
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "type bool");
	r = CLI("load", "--ko", ko_path, "=1");
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "'=1' is not PARAM=VALUE");
	ASSERT(!module_loaded());
	r = CLI("load", "--ko", ko_path);
	EXPECT_STATUS(r, 0);
}

static void expect_param_text(const char *name, const char *want)
{
	char path[128], buf[16] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SYS_MODULE "/parameters/%s", name);
	fd = ASSERT_SYS(open(path, O_RDONLY | O_CLOEXEC));
	n = ASSERT_SYS(read(fd, buf, sizeof(buf) - 1));
	close(fd);
	buf[n > 0 && buf[n - 1] == '\n' ? n - 1 : n] = '\0';
	ASSERT_MSG(!strcmp(buf, want), "%s is '%s', expected '%s'", name, buf, want);
}

/* bool parameters: what the kernel's kstrtobool() takes, nothing else. */
CASE(cli_load_bool_values)
{
	static const char *const bad[] = { "events=maybe", "events=", "events=o", "events=ox",
					   "events=-1" };
	struct run *r;
	size_t i;

	require_ko();
	unload_ok();
	r = CLI("load", "--ko", ko_path, "events=false");
	diag_out("load --ko KO events=false", r);
	EXPECT_STATUS(r, 0);
	expect_param_text("events", "N");
	unload_ok();
	r = CLI("load", "--ko", ko_path, "events=Off", "test_access=yes");
	EXPECT_STATUS(r, 0);
	expect_param_text("events", "N");
	expect_param_text("test_access", "Y");
	unload_ok();
	r = CLI("load", "--ko", ko_path, "events=T", "test_access=0");
	EXPECT_STATUS(r, 0);
	expect_param_text("events", "Y");
	expect_param_text("test_access", "N");
	unload_ok();
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		r = CLI("load", "--ko", ko_path, bad[i]);
		if (i == 0)
			diag_out("load --ko KO events=maybe", r);
		EXPECT_STATUS(r, 2);
		EXPECT_IN(r, err, "pinmgr load: invalid value '");
		EXPECT_IN(r, err, "' for parameter events (type bool)\n");
		ASSERT_MSG(!module_loaded(), "'%s' loaded the module", bad[i]);
	}
	/* only a bool may go without =VALUE */
	r = CLI("load", "--ko", ko_path, "max_regions");
	EXPECT_STATUS(r, 2);
	EXPECT_IN(r, err, "pinmgr load: parameter max_regions (type uint) needs a value: max_regions=VALUE\n");
	ASSERT_MSG(!module_loaded(), "'max_regions' without a value loaded the module");
	r = CLI("load", "--ko", ko_path, "test_access");
	EXPECT_STATUS(r, 0);
	expect_param_text("test_access", "Y");
	unload_ok();
}

/* A module tree that depmod indexed with pinmgr in it (PINMGR_VM_MODPROBE). */
static bool tree_has_pinmgr(void)
{
	char path[PATH_MAX], line[512];
	struct utsname u;
	bool found = false;
	FILE *f;

	if (uname(&u))
		return false;
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", u.release);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "/pinmgr.ko:") || !strncmp(line, "pinmgr.ko:", 10);
	fclose(f);
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep.bin", u.release);
	return found && access(path, R_OK) == 0;
}

CASE(cli_load_by_name_without_tree)
{
	struct run *r;

	if (tree_has_pinmgr())
		h_skip("the module tree has pinmgr (see the modprobe.d case)");
	require_ko();
	unload_ok();
	r = CLI("load");
	diag_out("load", r);
	EXPECT_STATUS(r, 1);
	EXPECT_IN(r, err, "pinmgr load: module pinmgr is not installed (libkmod finds none in "
		  "/lib/modules/");
	EXPECT_IN(r, err, "or give the module file with --ko FILE\n");
	ASSERT(!module_loaded());
}

/*
 * Not loaded, and no module for this kernel either (the VM's insmod boot):
 * info, stat and top say "not installed" and how to install it.
 */
CASE(cli_not_installed)
{
	static const char *const cmds[] = { "info", "stat", "top" };
	char want[64];
	struct run *r;
	size_t i;

	if (tree_has_pinmgr())
		h_skip("the module tree has pinmgr (see cli_not_loaded)");
	require_ko();
	unload_ok();
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		r = CLI(cmds[i]);
		diag_out(cmds[i], r);
		EXPECT_STATUS(r, 1);
		snprintf(want, sizeof(want), "pinmgr %s: module pinmgr is not installed (", cmds[i]);
		EXPECT_IN(r, err, want);
		EXPECT_IN(r, err, "libkmod finds none in /lib/modules/");
		EXPECT_IN(r, err, "install it with 'make dkms-install' or the pinmgr-dkms package");
		EXPECT_IN(r, err, i == 0 ? "or give the module file with --ko FILE\n" :
			  "or load a module file with 'pinmgr load --ko FILE'\n");
		EXPECT_NOT_IN(r, err, "not loaded");
		ASSERT_MSG(!r->out[0], "stdout: %s", r->out);
	}
}

/* Installed (modules.dep has it), not loaded: info, stat and top say load it. */
CASE(cli_not_loaded)
{
	static const char *const cmds[] = { "info", "stat", "top" };
	char want[128];
	struct run *r;
	size_t i;

	if (!tree_has_pinmgr())
		h_skip("no depmod'ed module tree with pinmgr (run.sh PINMGR_VM_MODPROBE=1)");
	require_ko();
	unload_ok();
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		r = CLI(cmds[i]);
		diag_out(cmds[i], r);
		EXPECT_STATUS(r, 1);
		snprintf(want, sizeof(want), "pinmgr %s: module pinmgr is not loaded (load it with "
			 "'pinmgr load')\n", cmds[i]);
		EXPECT_IN(r, err, want);
		EXPECT_NOT_IN(r, err, "not installed");
	}
	/* info tells what the file in the tree has, then fails */
	r = CLI("info");
	EXPECT_IN(r, out, "/pinmgr.ko\n");
	EXPECT_IN(r, out, "state:             not loaded\n");
}

/* Not loaded: one JSON object each, the error and its errno, exit 1. */
CASE(cli_json_module_absent)
{
	static const char *const cmds[] = { "info", "stat", "top" };
	/* not installed: ENOENT; installed, not loaded: ENODEV */
	int e = tree_has_pinmgr() ? ENODEV : ENOENT;
	char want[PATH_MAX + 96];
	struct run *r;
	size_t i;

	require_ko();
	unload_ok();
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		r = CLI(cmds[i], "--json");
		snprintf(want, sizeof(want), "%s --json", cmds[i]);
		diag_out(want, r);
		expect_json_error(r, 1, e);
		if (e == ENOENT) {
			EXPECT_IN(r, out, "{\"error\":\"module pinmgr is not installed (");
		} else if (i == 0) {
			/* info: what the tree's file says, and the error */
			EXPECT_IN(r, out, "\"loaded\":false,");
			EXPECT_IN(r, out, ",\"error\":\"module pinmgr is not loaded (load it with "
				  "'pinmgr load')\",");
		} else {
			EXPECT_IN(r, out, "{\"error\":\"module pinmgr is not loaded (load it with "
				  "'pinmgr load')\",");
		}
	}
	/* info --ko: what the file says, and the error, in one object */
	r = CLI("info", "--ko", ko_path, "--json");
	diag_out("info --ko KO --json   (not loaded)", r);
	expect_json_error(r, 1, ENODEV);
	EXPECT_IN(r, out, "{\"module\":\"pinmgr\",");
	EXPECT_IN(r, out, "\"loaded\":false,");
	snprintf(want, sizeof(want), ",\"error\":\"module pinmgr is not loaded (load it with "
		 "'pinmgr load --ko %s')\",\"errno\":%d}\n", ko_path, ENODEV);
	EXPECT_IN(r, out, want);
}

static void write_conf(const char *text)
{
	FILE *f;

	mkdir("/etc/modprobe.d", 0755);
	f = fopen(MODPROBE_CONF, "we");
	ASSERT_MSG(f, MODPROBE_CONF ": %s", h_errname(errno));
	fputs(text, f);
	ASSERT(fclose(f) == 0);
}

CASE(cli_load_by_name_honours_modprobe_d)
{
	uint64_t def_regions;
	struct run *r;

	if (!tree_has_pinmgr())
		h_skip("no depmod'ed module tree with pinmgr (run.sh PINMGR_VM_MODPROBE=1)");
	require_ko();
	def_regions = param("max_regions");
	unload_ok();

	write_conf("options pinmgr max_regions=9\n");
	r = CLI("load");
	EXPECT_STATUS(r, 0);
	ASSERT_EQ(param("max_regions"), 9);
	unload_ok();

	/* modprobe.d options first, then the command line's */
	r = CLI("load", "max_pages_per_pin=77");
	EXPECT_STATUS(r, 0);
	ASSERT_EQ(param("max_regions"), 9);
	ASSERT_EQ(param("max_pages_per_pin"), 77);
	unload_ok();

	write_conf("blacklist pinmgr\n");
	r = CLI("load");
	diag_out("load   (blacklist pinmgr)", r);
	EXPECT_STATUS(r, 1);
	EXPECT_IN(r, err, "module pinmgr is blacklisted by modprobe.d");
	ASSERT(!module_loaded());

	ASSERT_SYS(unlink(MODPROBE_CONF));
	r = CLI("load");
	EXPECT_STATUS(r, 0);
	ASSERT_EQ(param("max_regions"), def_regions);
	r = CLI("info");
	diag_out("info", r);
	EXPECT_STATUS(r, 0);
	EXPECT_IN(r, out, "/pinmgr.ko\n");		/* the file in the tree */
	EXPECT_IN(r, out, "(uint) Most regions one open file may hold");
}

static const struct h_case cases[] = {
	H_CASE(cli_found, "the CLI is there"),
	H_CASE(cli_version, "--version"),
	H_CASE(cli_usage_errors, "usage errors exit 2 with a message"),
	H_CASE(cli_option_errors_name_the_command, "option errors: 'pinmgr CMD: ...', usage line, exit 2"),
	H_CASE(cli_info_shows_params_and_abi, "info: state, refcount, params, ABI and limits as INFO"),
	H_CASE(cli_info_ko_types, "info --ko: parameter types and descriptions"),
	H_CASE(cli_info_ko_missing_file, "info --ko with no such file: that error, exit 1"),
	H_CASE(cli_json_file_error, "info --ko missing --json: one JSON error object, exit 1"),
	H_CASE(cli_json_usage_error, "usage error with --json: one JSON error object, exit 2"),
	H_CASE(cli_verbose_levels, "-v: no libkmod messages (also with KMOD_LOG); -vv: them"),
	H_CASE(cli_installed_binary_has_no_runpath, "the installed binary has no RPATH/RUNPATH"),
	H_CASE(cli_stat_matches_stats, "stat: the sysfs totals match STATS"),
	H_CASE(cli_top_lists_holders, "top: every holder, most pinned first, exact bytes"),
	H_CASE(cli_unload_refused_while_open, "unload while a file is open: exit 1, names the holder"),
	H_CASE(cli_unload_and_load_ko, "unload, then load --ko with a parameter"),
	H_CASE(cli_load_bad_parameters, "load with bad parameters: exit 2, nothing loaded"),
	H_CASE(cli_load_bool_values, "load: bool values as kstrtobool takes them, others exit 2; only a bool may go without =VALUE"),
	H_CASE(cli_load_by_name_without_tree, "load by name without a module tree: exit 1, says why"),
	H_CASE(cli_not_installed, "info/stat/top, no module for the kernel: 'not installed', exit 1"),
	H_CASE(cli_not_loaded, "info/stat/top, installed but not loaded: 'load it', exit 1"),
	H_CASE(cli_json_module_absent, "info/stat/top --json, not loaded: one JSON error object"),
	H_CASE(cli_load_by_name_honours_modprobe_d, "load by name: modprobe.d options and blacklist"),
};

int main(void)
{
	find_paths();
	return h_main(cases, ARRAY_SIZE(cases));
}
