#!/bin/sh
# Run the kernel's checkpatch.pl --strict on the given files. The script
# comes from Debian's linux-source-6.1 tarball, extracted once under
# $BUILD/checkpatch (only the few files checkpatch needs).
set -eu
build=${BUILD:-$(dirname "$0")/../build}
dir=$build/checkpatch
tarball=$(find /usr/src -maxdepth 1 -name 'linux-source-*.tar.xz' 2>/dev/null | sort -V | tail -n1)
if [ ! -x "$dir/scripts/checkpatch.pl" ]; then
	[ -n "$tarball" ] || { echo "checkpatch.sh: no /usr/src/linux-source-*.tar.xz (run 'make deps')" >&2; exit 1; }
	mkdir -p "$dir"
	top=$(basename "$tarball" .tar.xz)
	tar -xJf "$tarball" -C "$dir" --strip-components=1 \
		"$top/scripts/checkpatch.pl" "$top/scripts/spelling.txt" \
		"$top/scripts/const_structs.checkpatch"
fi
exec perl "$dir/scripts/checkpatch.pl" --strict --no-tree --quiet \
	--ignore FILE_PATH_CHANGES -f "$@"
