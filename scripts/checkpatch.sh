#!/bin/sh
# Run the kernel's checkpatch.pl --strict on the given files. The script
# comes from Debian's linux-source-6.1 tarball (what `make deps` installs;
# always that one, even where linux-source-6.12 is installed too, so the
# verdict does not depend on the machine), extracted once under
# $BUILD/checkpatch (only the few files checkpatch needs).
set -eu
build=${BUILD:-$(dirname "$0")/../build}
dir=$build/checkpatch/linux-source-6.1
tarball=/usr/src/linux-source-6.1.tar.xz
if [ ! -x "$dir/scripts/checkpatch.pl" ]; then
	[ -f "$tarball" ] || { echo "checkpatch.sh: no $tarball (run 'make deps')" >&2; exit 1; }
	mkdir -p "$dir"
	top=$(basename "$tarball" .tar.xz)
	tar -xJf "$tarball" -C "$dir" --strip-components=1 \
		"$top/scripts/checkpatch.pl" "$top/scripts/spelling.txt" \
		"$top/scripts/const_structs.checkpatch"
fi
exec perl "$dir/scripts/checkpatch.pl" --strict --no-tree --quiet \
	--ignore FILE_PATH_CHANGES -f "$@"
