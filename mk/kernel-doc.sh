#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kernel-doc.sh ARGS...: run the kernel's scripts/kernel-doc, taken from
# Debian's linux-source-6.1 tarball (what `make deps` installs; always that
# one, so that docs/pin-tracker.rst renders the same on every machine) and
# extracted once under $BUILD/kernel-doc (as scripts/checkpatch.sh does for
# checkpatch.pl).
set -eu
build=${BUILD:-$(dirname "$0")/../build}
dir=$build/kernel-doc/linux-source-6.1
tarball=/usr/src/linux-source-6.1.tar.xz
if [ ! -x "$dir/scripts/kernel-doc" ]; then
	[ -f "$tarball" ] || { echo "kernel-doc.sh: no $tarball (run 'make deps')" >&2; exit 1; }
	mkdir -p "$dir"
	top=$(basename "$tarball" .tar.xz)
	tar -xJf "$tarball" -C "$dir" --strip-components=1 "$top/scripts/kernel-doc"
fi
exec perl "$dir/scripts/kernel-doc" "$@"
