#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole `make check` suite on every kernel Debian 12 ships through its
# own archive: 6.1 and 6.12, generic and PREEMPT_RT (run by `make
# check-kernels`). Installs the missing image and headers packages; adds
# this tree's DKMS source once and, for each kernel, builds and installs
# pinmgr.ko through DKMS as a test lab would; checks that DKMS skips
# kernels outside dkms.conf's range (exit status 77); builds the tests and
# lints the module (checkpatch, sparse, W=1) for each kernel in a copy of
# the sources (the tree's own build stays for the default kernel); boots
# each kernel in the VM with the DKMS module loaded by modprobe, and prints
# one table, then the usual "N passed, N failed" line over all. The DKMS
# module is removed again at the end.
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
		--exclude=Module.symvers --exclude=pin_tracker_probes.h \
		-cf - . | tar -C "$1" -xf -
}

# DKMS: the source once, as `make dkms-install` puts it; gone at exit.
name=pinmgr
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$SRC/dkms.conf")
[ -n "$ver" ] || { echo "check-kernels: no PACKAGE_VERSION in dkms.conf" >&2; exit 2; }
if [ -e "/var/lib/dkms/$name/$ver" ] || [ -e "/usr/src/$name-$ver" ]; then
	echo "check-kernels: $name $ver is already in DKMS; 'make dkms-remove' first" >&2
	exit 2
fi
dkms_cleanup() {
	dkms remove -m "$name" -v "$ver" --all >/dev/null 2>&1 || true
	rm -rf "/usr/src/$name-$ver"
}
trap dkms_cleanup EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$OUT"
make --no-print-directory -C "$SRC" dkms-source DESTDIR= >"$OUT/dkms-source.log" 2>&1
dkms add -m "$name" -v "$ver" >"$OUT/dkms-add.log" 2>&1

# Probes of interfaces a kernel after 6.12 may lack (module/pin_tracker/probes/): the
# code without them is compiled against 6.12's headers, build only.
NEWER_UNSET="GET_USER_PAGES_FAST_ONLY MMU_NOTIFY_EXCLUSIVE UNPIN_USER_PAGE_RANGE_DIRTY_LOCK"

declare -A TALLY FAILS
total_pass=0 total_fail=0 total_skip=0

# Outside the supported range DKMS must skip (77), not fail to compile.
for k in 6.0.0-1-amd64 6.13.0-1-amd64; do
	rc=0
	dkms build -m "$name" -v "$ver" -k "$k" >"$OUT/dkms-$k.log" 2>&1 || rc=$?
	if [ "$rc" = 77 ]; then
		echo "ok      check-kernels: DKMS skips $k (exit 77: outside dkms.conf's range)"
	else
		echo "FAIL    check-kernels: DKMS build for $k: exit $rc, not 77 (see $OUT/dkms-$k.log)"
		total_fail=$((total_fail + 1))
	fi
done

for f in "${flavours[@]}"; do
	kver=$("$SRC/scripts/kver.sh" "${HDR[$f]}")
	dir=$OUT/$kver
	echo "check-kernels: $f: $kver"
	copy_sources "$dir/src"
	if ! { dkms build -m "$name" -v "$ver" -k "$kver" &&
		dkms install -m "$name" -v "$ver" -k "$kver"; } >"$dir/dkms.log" 2>&1; then
		echo "check-kernels: $kver: DKMS build or install failed (see $dir/dkms.log)"
		TALLY[$f]="DKMS failed"; total_fail=$((total_fail + 1))
		continue
	fi
	# What DKMS installed; it compresses the module as the kernel's own
	# modules are (xz on Debian's 6.12): the VM gets it uncompressed.
	inst=$(find "/lib/modules/$kver/updates/dkms" -name "$name.ko*" | head -n 1)
	ko=$dir/$name.ko
	case $inst in
	*.ko) cp "$inst" "$ko" ;;
	*.ko.xz) xz -dc "$inst" >"$ko" ;;
	*.ko.zst) zstd -dcq "$inst" >"$ko" ;;
	*.ko.gz) gzip -dc "$inst" >"$ko" ;;
	*) echo "check-kernels: $kver: no $name.ko installed by DKMS in /lib/modules/$kver/updates/dkms"
		TALLY[$f]="DKMS installed nothing"; total_fail=$((total_fail + 1))
		continue ;;
	esac
	echo "check-kernels: $kver: DKMS installed $inst"
	if ! make --no-print-directory -C "$dir/src" all lint-module \
		KVER="$kver" BUILD="$dir/build" >"$dir/build.log" 2>&1; then
		echo "check-kernels: $kver: build or module lint failed (see $dir/build.log)"
		TALLY[$f]="build/lint failed"; total_fail=$((total_fail + 1))
		continue
	fi
	# Build only: the code a kernel after 6.12 gets when these go away.
	if [[ $f == 6.12* ]]; then
		if ! make --no-print-directory -C "$dir/src" module W=1 \
			KVER="$kver" BUILD="$dir/build-newer" \
			PIN_TRACKER_PROBES_UNSET="$NEWER_UNSET" >"$dir/build-newer.log" 2>&1 ||
			grep -E -q '(warning|error):' "$dir/build-newer.log"; then
			echo "FAIL    check-kernels: $kver without $NEWER_UNSET: see $dir/build-newer.log"
			total_fail=$((total_fail + 1))
		else
			echo "ok      check-kernels: $kver without $NEWER_UNSET: builds, W=1 clean"
		fi
	fi
	rc=0
	PINMGR_KO=$ko PINMGR_VM_MODPROBE=1 KVER=$kver BUILD=$dir/build \
		"$dir/src/tests/vm/run.sh" check >"$dir/check.log" 2>&1 || rc=$?
	grep -E '^(FAIL|SKIP)' "$dir/check.log" | sed "s/^/    $f: /" || true
	# Each failure with the lines that explain it, again below the table.
	FAILS[$f]=$(grep -E -B4 '^FAIL' "$dir/check.log" | sed "s/^/    $f: /" || true)
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
printf '%-8s %-28s %s\n' flavour kernel "result (pinmgr.ko built and installed by DKMS)"
for f in "${flavours[@]}"; do
	printf '%-8s %-28s %s\n' "$f" "$("$SRC/scripts/kver.sh" "${HDR[$f]}")" "${TALLY[$f]}"
done
for f in "${flavours[@]}"; do
	[ -z "${FAILS[$f]:-}" ] || printf '\nfailures on %s (%s/check.log):\n%s\n' \
		"$f" "$OUT/$("$SRC/scripts/kver.sh" "${HDR[$f]}")" "${FAILS[$f]}"
done
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" = 0 ]
