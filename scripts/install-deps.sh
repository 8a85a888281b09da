#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian 12 packages pinmgr needs to build, boot its test VM and
# lint, but only those that are missing. Idempotent: with everything present
# it prints one line and touches nothing.
#
#   scripts/install-deps.sh          (run by `make deps`)
#
# To add a dependency, add it to PACKAGES below.

# $PACKAGES and $missing are word-split on purpose: one word per package.
# shellcheck disable=SC2086
set -eu

# linux-image-amd64   the kernel the test VM boots (/boot/vmlinuz-$KVER)
# linux-headers-amd64 what pinmgr.ko is built against (scripts/kver.sh)
# qemu-system-x86     the VM; busybox-static + cpio + xz-utils build its initramfs
# build-essential     gcc/make/binutils for the module, library and tests
# kmod                modinfo/modprobe (vermagic check, module dependencies)
# sparse              `make C=1` static checking of the module
# linux-source-6.1    scripts/checkpatch.pl and a tree for a debug kernel
# e2fsprogs           mke2fs -d: the ext4 disk image the tests mount
# libkmod-dev pkg-config   the pinmgr CLI (libkmod; Debian ships no libkmod.a)
# dkms                `make dkms-install`, and the pinmgr-dkms package
# debhelper dh-dkms dpkg-dev adduser   `make deb` and installing the packages
# cppcheck clang-tidy g++ shellcheck groff-base   `make lint`: C analysis, the
#                     ABI test as C++, scripts, man pages
# liburing-dev gnuplot-nox   `make bench` and its smoke run in `make check`:
#                     io_uring contender (liburing.a, static), the plot
# libibverbs-dev      the RDMA contender: libibverbs.a and the rxe provider's
#                     archive (with libnl's, its dependencies), linked static
# libdrm-dev          <drm.h>: tests/importers.c imports dma-bufs into vgem
# flex bison bc libelf-dev   building the debug kernel (scripts/debug-kernel.sh:
#                     kconfig, timeconst, objtool)
PACKAGES="linux-image-amd64 linux-headers-amd64 qemu-system-x86 busybox-static
build-essential cpio kmod xz-utils sparse linux-source-6.1 e2fsprogs
libkmod-dev pkg-config dkms debhelper dh-dkms dpkg-dev adduser
cppcheck clang-tidy g++ shellcheck groff-base
liburing-dev gnuplot-nox libibverbs-dev libdrm-dev
flex bison bc libelf-dev"

missing=""
for pkg in $PACKAGES; do
	# "install ok installed" is the only state in which a package is usable;
	# anything else (not known, removed, half-configured) counts as missing.
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	if [ "$status" != "install ok installed" ]; then
		missing="$missing $pkg"
	fi
done
missing=${missing# }

if [ -z "$missing" ]; then
	set -- $PACKAGES	# count them
	echo "deps: all $# packages installed"
	exit 0
fi

echo "deps: missing: $missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: error: installing packages needs root; run as root:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends $missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends $missing
echo "deps: installed $missing"
