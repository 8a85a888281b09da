#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole `make check` suite on every kernel Debian 12 ships through its
# own archive: 6.1 and 6.12, generic and PREEMPT_RT (run by `make
# check-kernels`). Installs the missing image and headers packages, builds
# pinmgr.ko and the tests for each kernel in a copy of the sources (the
# tree's own build stays for the default kernel), boots each in the VM and
# prints one table, then the usual "N passed, N failed" line over all.
#
#   scripts/check-kernels.sh [FLAVOUR...]   flavours: 6.1 6.1-rt 6.12 6.12-rt
#
# Exit status: 0 iff every kernel passed with no failure.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build}
OUT=$BUILD/kernels

# flavour -> headers and image metapackages
declare -A HDR=([6.1]=linux-headers-amd64 [6.1-rt]=linux-headers-rt-amd64
	[6.12]=linux-headers-6.12-amd64 [6.12-rt]=linux-headers-6.12-rt-amd64)
declare -A IMG=([6.1]=linux-image-amd64 [6.1-rt]=linux-image-rt-amd64
	[6.12]=linux-image-6.12-amd64 [6.12-rt]=linux-image-6.12-rt-amd64)
flavours=("$@")
[ ${#flavours[@]} -gt 0 ] || flavours=(6.1 6.1-rt 6.12 6.12-rt)

missing=()
for f in "${flavours[@]}"; do
	[ -n "${HDR[$f]:-}" ] || { echo "check-kernels: unknown flavour '$f'" >&2; exit 2; }
	for p in "${HDR[$f]}" "${IMG[$f]}"; do
		[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] ||
			missing+=("$p")
	done
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "check-kernels: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# The sources without build outputs (as mk/debug.mk copies them).
copy_sources() {
	rm -rf "$1" && mkdir -p "$1"
	tar -C "$SRC" --exclude=./.git --exclude=./build \
		--exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
		--exclude='*.mod.c' --exclude='.*.cmd' --exclude='*.a' \
		--exclude='*.so' --exclude='*.so.*' --exclude=modules.order \
		--exclude=Module.symvers --exclude=./module/compat_probes.h \
		-cf - . | tar -C "$1" -xf -
}

declare -A TALLY
total_pass=0 total_fail=0 total_skip=0
for f in "${flavours[@]}"; do
	kver=$("$SRC/scripts/kver.sh" "${HDR[$f]}")
	dir=$OUT/$kver
	echo "check-kernels: $f: $kver"
	copy_sources "$dir/src"
	if ! make --no-print-directory -C "$dir/src" all KVER="$kver" \
		BUILD="$dir/build" >"$dir/build.log" 2>&1; then
		echo "check-kernels: $kver: build failed (see $dir/build.log)"
		TALLY[$f]="build failed"; total_fail=$((total_fail + 1))
		continue
	fi
	rc=0
	KVER=$kver BUILD=$dir/build "$dir/src/tests/vm/run.sh" check \
		>"$dir/check.log" 2>&1 || rc=$?
	grep -E '^(FAIL|SKIP)' "$dir/check.log" | sed "s/^/    $f: /" || true
	line=$(tail -n 1 "$dir/check.log")
	p=$(sed -n 's/^\([0-9]*\) passed.*/\1/p' <<<"$line")
	fl=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$line")
	s=$(sed -n 's/.* \([0-9]*\) skipped.*/\1/p' <<<"$line")
	if [ -z "$p" ] || [ -z "$fl" ]; then
		TALLY[$f]="no tally (see $dir/check.log)"
		total_fail=$((total_fail + 1))
		continue
	fi
	TALLY[$f]="$p passed, $fl failed, ${s:-0} skipped"
	total_pass=$((total_pass + p)) total_fail=$((total_fail + fl))
	total_skip=$((total_skip + ${s:-0}))
	[ "$rc" = 0 ] || [ "$fl" != 0 ] || total_fail=$((total_fail + 1))
done

echo
printf '%-8s %-28s %s\n' flavour kernel result
for f in "${flavours[@]}"; do
	printf '%-8s %-28s %s\n' "$f" "$("$SRC/scripts/kver.sh" "${HDR[$f]}")" "${TALLY[$f]}"
done
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" = 0 ]
