#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build pinmgr's debug kernel (KASAN, lockdep, kmemleak, fault injection...)
# from Debian's linux-source package, once: the result is cached outside the
# repository and reused until one of its inputs changes.
#
#   scripts/debug-kernel.sh build   build it unless cached; print its directory
#   scripts/debug-kernel.sh path    print the directory it is (or would be) in
#   scripts/debug-kernel.sh key     print the cache key
#
# `build` prints progress on stderr and only the directory on stdout, so
# that `dir=$(scripts/debug-kernel.sh build)` works. The directory holds:
#   bzImage   the kernel                config    its .config
#   release   its release (uname -r)
#   build/    kernel tree to build out-of-tree modules against
#             (KDIR; Module.symvers is vmlinux.symvers)
#   info      what it was built from, and how long it took
#
# The kernel is allnoconfig + kernel/configs/kvm_guest.config + the fragment
# scripts/debug-kernel.config, then `make olddefconfig`; every option the
# fragment asks for must survive that, or the build fails and lists them.
#
# Environment:
#   PINMGR_DEBUG_KERNEL_LINE   the kernel line: 6.1 (default: Debian 12's
#                              kernel) or 6.12 (its LTS backport), built from
#                              linux-source-<line>, installed if missing
#   PINMGR_DEBUG_KERNEL_CACHE  cache root (default /var/cache/pinmgr/debug-kernel)
#   PINMGR_DEBUG_KERNEL_JOBS   parallel jobs (default: nproc)
#
# The cache key is the linux-source package version plus a hash of the
# fragment, this script and the compiler version. A build happens in a
# temporary directory beside the cache entry and is renamed into place only
# once it is complete, so an interrupted or failed build is never a hit.
# docs/debug-kernel.md has the details.

set -eu -o pipefail

# One brace group, read in full before it runs: editing this file while a
# build runs cannot derail it.
{

LINE=${PINMGR_DEBUG_KERNEL_LINE:-6.1}
case $LINE in 6.1 | 6.12) ;; *)
	echo "debug-kernel: error: PINMGR_DEBUG_KERNEL_LINE must be 6.1 or 6.12 (got '$LINE')" >&2
	exit 1
	;;
esac
PKG=linux-source-$LINE	# the Debian package (6.1: scripts/install-deps.sh)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")
FRAGMENT=$HERE/debug-kernel.config
CACHE=${PINMGR_DEBUG_KERNEL_CACHE:-/var/cache/pinmgr/debug-kernel}
JOBS=${PINMGR_DEBUG_KERNEL_JOBS:-$(nproc)}

die() {
	echo "debug-kernel: error: $*" >&2
	exit 1
}
note() { echo "debug-kernel: $*" >&2; }

usage() {
	echo "usage: $0 build|path|key" >&2
	exit 2
}
[ $# -eq 1 ] || usage
case $1 in build | path | key) ;; *) usage ;; esac

[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "PINMGR_DEBUG_KERNEL_JOBS must be a positive integer (got '$JOBS')"
[ -r "$FRAGMENT" ] || die "$FRAGMENT not found"

installed() {
	[ "$(dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null || true)" = "install ok installed" ]
}
if [ "$1" = build ] && ! installed && [ "$(id -u)" = 0 ]; then
	note "installing $PKG"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$PKG" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends "$PKG" >/dev/null; } ||
		die "cannot install $PKG"
fi
version=$(installed && dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null) || version=''
[ -n "$version" ] || die "$PKG is not installed (run 'make deps', or this script as root)"
command -v gcc >/dev/null || die "gcc not found (run 'make deps')"

# key: what the kernel is made of. The compiler is part of it because
# out-of-tree modules must be built with the compiler the kernel was.
hash=$({
	cat "$FRAGMENT" "$SELF"
	gcc --version | head -n 1
	uname -m
} | sha256sum | cut -c 1-12)
KEY=$version-$hash
DIR=$CACHE/$KEY

case $1 in
key)
	echo "$KEY"
	exit 0
	;;
path)
	echo "$DIR"
	exit 0
	;;
esac

# complete DIR: a finished cache entry (entries only appear by rename once
# finished; this also guards against someone's hand-made directory).
complete() {
	[ -s "$1/release" ] && [ -s "$1/bzImage" ] &&
		[ -s "$1/build/Module.symvers" ] && [ -s "$1/build/.config" ]
}

hit() {
	note "cached: $DIR (kernel $(cat "$DIR/release"))"
	echo "$DIR"
	exit 0
}

complete "$DIR" && hit

mkdir -p "$CACHE" 2>/dev/null || die "cannot create $CACHE (set PINMGR_DEBUG_KERNEL_CACHE to a writable place)"
# One build per key at a time; whoever waited finds the cache entry.
exec 8>"$CACHE/.lock-$KEY"
if ! flock -n 8; then
	note "waiting for another build of $KEY to finish..."
	flock 8
fi
complete "$DIR" && hit
# Not complete but present: not made by this script. Out of the way with it.
if [ -e "$DIR" ]; then
	note "removing incomplete $DIR"
	rm -rf "$DIR"
fi
# Left behind by a build that was killed (we hold the lock of this key).
for stale in "$CACHE/.tmp-$KEY".*; do
	[ -e "$stale" ] || continue
	note "removing the remains of an interrupted build: $stale"
	rm -rf "$stale"
done

tarball=$(dpkg -L "$PKG" | grep -m 1 -E '^/usr/src/linux-source-.*\.tar\.xz$') ||
	die "no source tarball in package $PKG"
for tool in make gcc flex bison bc xz perl; do
	command -v "$tool" >/dev/null || die "$tool not found (run 'make deps')"
done
[ -e /usr/include/libelf.h ] || die "libelf.h not found (run 'make deps': libelf-dev)"

# The tree takes about 2.5 GiB while it builds, 1.6 GiB once done.
free_kib=$(df -Pk "$CACHE" | awk 'NR == 2 { print $4 }')
[ "${free_kib:-0}" -ge $((3 * 1024 * 1024)) ] ||
	die "less than 3 GiB free in $CACHE ($((${free_kib:-0} / 1024)) MiB)"

tmp=$(mktemp -d "$CACHE/.tmp-$KEY.XXXXXX")
failed_log=$CACHE/failed-build.log
# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
	if [ -n "${kpid:-}" ]; then kill -TERM "$kpid" 2>/dev/null || true; fi
	if [ -d "$tmp" ]; then
		[ -f "$tmp/build.log" ] && cp "$tmp/build.log" "$failed_log"
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'note interrupted; exit 130' INT TERM HUP

LOG=$tmp/build.log
: >"$LOG"
t0=$SECONDS

# step TITLE CMD...: run CMD in the kernel tree, output to the log.
step() {
	local title=$1
	shift
	note "$title"
	if ! (cd "$tmp/build" && "$@") >>"$LOG" 2>&1; then
		tail -n 60 "$LOG" | sed 's/^/  | /' >&2
		die "$title failed (log: $failed_log)"
	fi
}

note "building $KEY in $tmp ($JOBS jobs; about 10 minutes on 2 idle cores)"
note "extracting $tarball"
mkdir "$tmp/src"
tar -xf "$tarball" -C "$tmp/src"
set -- "$tmp"/src/*/Makefile
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
	die "unexpected layout of $tarball"
fi
mv "$(dirname "$1")" "$tmp/build"
rmdir "$tmp/src"

# ARCH=x86_64: a 64-bit allnoconfig (with ARCH=x86, 64BIT is a question
# that allnoconfig answers "no").
MAKE=(make ARCH=x86_64 KBUILD_BUILD_USER=pinmgr KBUILD_BUILD_HOST=debug-kernel)
step "configuring: allnoconfig" "${MAKE[@]}" allnoconfig
step "configuring: merging kvm_guest.config and $(basename "$FRAGMENT")" \
	env ARCH=x86_64 scripts/kconfig/merge_config.sh -m .config \
	kernel/configs/kvm_guest.config "$FRAGMENT"
step "configuring: olddefconfig" "${MAKE[@]}" olddefconfig

# Every line of the fragment must be in the final .config. "# CONFIG_X is
# not set" is also met when X is absent (its dependencies are off).
dropped=()
while IFS= read -r want; do
	case $want in
	CONFIG_*=*) sym=${want%%=*} ;;
	"# CONFIG_"*" is not set") sym=${want#\# } sym=${sym%% *} ;;
	*) continue ;;
	esac
	grep -qxF -- "$want" "$tmp/build/.config" && continue
	got=$(grep -E "^($sym=|# $sym is not set)" "$tmp/build/.config" | head -n 1) || got=''
	[ -z "$got" ] && [[ $want == "# "* ]] && continue
	dropped+=("$want  (got: ${got:-nothing: unmet dependencies})")
done <"$FRAGMENT"
if [ ${#dropped[@]} -gt 0 ]; then
	echo "debug-kernel: olddefconfig dropped ${#dropped[@]} option(s) of $(basename "$FRAGMENT"):" >&2
	printf '  %s\n' "${dropped[@]}" >&2
	die "fix the fragment: add the missing dependencies (see 'Depends on' in make menuconfig, or the Kconfig files)"
fi
# Everything built in: the VM loads no kernel module except pinmgr.ko.
if grep -q '=m$' "$tmp/build/.config"; then
	grep '=m$' "$tmp/build/.config" | sed 's/^/  /' >&2
	die "the options above would be modules; turn them off (or =y) in $(basename "$FRAGMENT")"
fi
note "configuration verified: all $(grep -cE '^(CONFIG_|# CONFIG_.* is not set)' "$FRAGMENT") options of the fragment are in .config"

# The compile: quiet but alive, one line a minute.
note "compiling: make -j$JOBS bzImage modules_prepare (log: $LOG)"
(cd "$tmp/build" && exec "${MAKE[@]}" -j"$JOBS" bzImage modules_prepare) >>"$LOG" 2>&1 &
kpid=$!
tc=$SECONDS
while kill -0 "$kpid" 2>/dev/null; do
	for _ in $(seq 60); do
		sleep 1
		kill -0 "$kpid" 2>/dev/null || break
	done
	kill -0 "$kpid" 2>/dev/null &&
		note "  ... $((SECONDS - tc)) s, $(grep -c '^  CC' "$LOG" || true) files compiled"
done
krc=0
wait "$kpid" || krc=$?
kpid=
if [ "$krc" != 0 ]; then
	tail -n 60 "$LOG" | sed 's/^/  | /' >&2
	die "make bzImage modules_prepare failed (log: $failed_log)"
fi
compile_s=$((SECONDS - tc))

b=$tmp/build
release=$(cd "$b" && "${MAKE[@]}" -s kernelrelease)
[ -n "$release" ] || die "empty kernel release"
# Out-of-tree modules link against the kernel's exported symbols.
cp "$b/vmlinux.symvers" "$b/Module.symvers"
cp "$b/arch/x86/boot/bzImage" "$tmp/bzImage"
cp "$b/.config" "$tmp/config"
echo "$release" >"$tmp/release"
# Object files are not needed to build modules against the tree (the host
# tools under scripts/ and tools/ are kept whole).
find "$b" \( -path "$b/scripts" -o -path "$b/tools" \) -prune -o \
	\( -name '*.o' -o -name '*.a' -o -name '.tmp_vmlinux*' \) -type f -print0 |
	xargs -0 rm -f
{
	echo "key=$KEY"
	echo "package=$PKG $version"
	echo "tarball=$tarball"
	echo "fragment_sha256=$(sha256sum <"$FRAGMENT" | cut -d' ' -f1)"
	echo "compiler=$(gcc --version | head -n 1)"
	echo "release=$release"
	echo "jobs=$JOBS"
	echo "compile_seconds=$compile_s"
	echo "total_seconds=$((SECONDS - t0))"
	echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$tmp/info"

complete "$tmp" || die "internal error: $tmp is incomplete after the build"
chmod 755 "$tmp"	# mktemp made it 0700
mv -T "$tmp" "$DIR"
note "built $release in $((SECONDS - t0)) s (compile $compile_s s): $DIR"
others=$(find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name "$KEY" | wc -l)
[ "$others" = 0 ] || note "$others older build(s) in $CACHE (remove with rm -rf when unused)"
echo "$DIR"
exit 0
}
