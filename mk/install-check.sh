#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# install-check.sh PREFIX OUTDIR
#
# What a user of an installed libpinmgr does, out of the source tree: write a
# small program, build it with `pkg-config --cflags --libs pinmgr` against
# PREFIX (as `make install PREFIX=PREFIX` left it), and check the install:
#   OUTDIR/bin/installed   static (libpinmgr.a), a TAP test program for the
#                          VM: PINMGR_TESTS_DIR=OUTDIR/bin tests/vm/run.sh check
#   OUTDIR/installed-dyn   dynamic: must need libpinmgr.so.0, resolved in
#                          PREFIX, with LIBPINMGR_0.1 symbol versions
#   OUTDIR/bin/example-data/pinmgr-example  examples/pin/pinmgr-example.c,
#                          the README's example, built as the README says
#                          (static for the VM); `installed` runs it there
set -eu -o pipefail
prefix=$1 out=$2
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
fail() { echo "install-check: $*" >&2; exit 1; }

for f in lib/libpinmgr.a lib/libpinmgr.so lib/libpinmgr.so.0 lib/pkgconfig/pinmgr.pc \
	include/pinmgr.h include/linux/pinmgr.h sbin/pinmgr share/man/man3/libpinmgr.3 \
	share/man/man3/pinmgr_pin.3 share/man/man4/pinmgr.4 share/man/man8/pinmgr.8; do
	[ -e "$prefix/$f" ] || fail "$prefix/$f is missing"
done
[ "$(readlink "$prefix/lib/libpinmgr.so")" = libpinmgr.so.0 ] || fail "libpinmgr.so -> $(readlink "$prefix/lib/libpinmgr.so")"
soname=$(readelf -dW "$prefix/lib/libpinmgr.so.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libpinmgr.so.0 ] || fail "SONAME is '$soname'"
# The installed CLI carries no RPATH/RUNPATH (Debian policy; the build tree's
# build/cli/pinmgr has RUNPATH $ORIGIN/../lib, cli/cli.mk).
if readelf -dW "$prefix/sbin/pinmgr" | grep -E '\((RPATH|RUNPATH)\)'; then
	fail "$prefix/sbin/pinmgr has an RPATH/RUNPATH"
fi
pc_prefix=$(pkg-config --variable=prefix pinmgr)
[ "$pc_prefix" = "$prefix" ] || fail "pinmgr.pc says prefix=$pc_prefix"

rm -rf "$out"
mkdir -p "$out/src" "$out/bin"
cat >"$out/src/installed.c" <<'PROG'
/* Built out of tree against an installed libpinmgr (mk/install-check.sh). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <pinmgr.h>

static int n, failed;

/* The README's example, next to this program: its output as diagnostics,
 * its exit status as the result. */
static int run_example(void)
{
	char exe[PATH_MAX], cmd[PATH_MAX + 64], line[256];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *p;

	if (len <= 0)
		return -1;
	exe[len] = 0;
	*strrchr(exe, '/') = 0;
	snprintf(cmd, sizeof(cmd), "%s/example-data/pinmgr-example 2>&1", exe);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		printf("# %s", line);
	return pclose(p);
}

static void ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
	failed |= !cond;
}

int main(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	struct pinmgr_ctx *ctx = NULL;
	struct pinmgr_query q;
	struct pinmgr_info info;
	struct pinmgr_stats st;
	struct pinmgr_segment seg[4];
	uint32_t h = 0;
	char *buf;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..10\n");
	buf = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(buf, 1, 4 * ps);
	ok(pinmgr_open(&ctx) == 0, "pinmgr_open");
	if (!ctx)
		return 1;
	ok(pinmgr_info(ctx, &info, sizeof(info)) == 0 && info.out_abi_version == PINMGR_ABI_VERSION,
	   "pinmgr_info: ABI version of the installed <linux/pinmgr.h>");
	ok(pinmgr_pin(ctx, buf + 1, 2 * ps, PINMGR_PIN_WRITE, &h) == 0 && h != 0,
	   "pinmgr_pin: 2 pages from an unaligned address");
	ok(pinmgr_query(ctx, h, &q, sizeof(q)) == 0 && q.out_npages == 3 && q.out_offset == 1,
	   "pinmgr_query: 3 pages, offset 1");
	ok(pinmgr_segments(ctx, h, 0, 0, seg, 4) == (int)q.out_nsegs,
	   "pinmgr_segments: every segment");
	ok(pinmgr_stats(ctx, &st, sizeof(st)) == 0 && st.out_regions == 1 && st.out_pinned_pages == 3,
	   "pinmgr_stats: 1 region, 3 pages");
	ok(pinmgr_unpin(ctx, h) == 0, "pinmgr_unpin");
	errno = 1234;
	ok(pinmgr_unpin(ctx, h) == -ENOENT && errno == 1234,
	   "pinmgr_unpin again: -ENOENT, errno untouched");
	pinmgr_close(ctx);
	ok(1, "pinmgr_close");
	ok(run_example() == 0, "examples/pin/pinmgr-example: pin, segments, event, verify, unpin as described");
	return failed;
}
PROG

cflags=$(pkg-config --cflags pinmgr)
libs=$(pkg-config --libs pinmgr)
static_libs=$(pkg-config --libs --static pinmgr)
echo "  CC      installed.c: cc $cflags ... $static_libs -static"
# shellcheck disable=SC2086 # pkg-config output is word-split on purpose
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror $cflags -o "$out/bin/installed" \
	"$out/src/installed.c" $static_libs -static
# shellcheck disable=SC2086
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror $cflags -o "$out/installed-dyn" \
	"$out/src/installed.c" $libs

# The README's example, as the README builds it (plus -static for the VM).
src=$(cd "$(dirname "$0")/.." && pwd)/examples/pin/pinmgr-example.c
echo "  CC      pinmgr-example.c: cc -o pinmgr-example pinmgr-example.c \$(pkg-config --cflags --libs pinmgr)"
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -o "$out/pinmgr-example-dyn" "$src" $cflags $libs
# shellcheck disable=SC2086
mkdir -p "$out/bin/example-data"
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -o "$out/bin/example-data/pinmgr-example" "$src" $cflags $static_libs -static

# The installed header, not the source tree's, was used.
# shellcheck disable=SC2086
hdr=$(cc $cflags -M "$out/src/installed.c" | sed 's/[[:space:]\\]\+/\n/g' | grep '/linux/pinmgr.h$' || true)
[ "$hdr" = "$prefix/include/linux/pinmgr.h" ] || fail "<linux/pinmgr.h> came from '$hdr'"
readelf -dW "$out/installed-dyn" | grep -q 'NEEDED.*\[libpinmgr.so.0\]' ||
	fail "installed-dyn does not need libpinmgr.so.0"
resolved=$(LD_LIBRARY_PATH=$prefix/lib ldd "$out/installed-dyn" | awk '$1 == "libpinmgr.so.0" { print $3 }')
[ "$resolved" = "$prefix/lib/libpinmgr.so.0" ] || fail "libpinmgr.so.0 resolves to '$resolved'"
nm -D "$out/installed-dyn" | grep -q 'pinmgr_pin@LIBPINMGR_0.1' ||
	fail "installed-dyn does not use versioned symbols (pinmgr_pin@LIBPINMGR_0.1)"
echo "  CHECK   $prefix: files, soname, pinmgr.pc, static and shared builds out of tree"
