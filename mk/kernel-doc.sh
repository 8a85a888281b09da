#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kernel-doc.sh ARGS...: run the kernel's scripts/kernel-doc, taken from
# Debian's linux-source tarball and extracted once under $BUILD/kernel-doc
# (as scripts/checkpatch.sh does for checkpatch.pl).
set -eu
build=${BUILD:-$(dirname "$0")/../build}
dir=$build/kernel-doc
if [ ! -x "$dir/scripts/kernel-doc" ]; then
	# shellcheck disable=SC2012 # Debian's file names: no blanks; sort -V
	tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n1)
	[ -n "$tarball" ] || { echo "kernel-doc.sh: no /usr/src/linux-source-*.tar.xz (run 'make deps')" >&2; exit 1; }
	mkdir -p "$dir"
	top=$(basename "$tarball" .tar.xz)
	tar -xJf "$tarball" -C "$dir" --strip-components=1 "$top/scripts/kernel-doc"
fi
exec perl "$dir/scripts/kernel-doc" "$@"
