#!/bin/sh
# Print the kernel version pinmgr builds and tests against: the one that
# Debian's linux-headers-amd64 metapackage currently points at (or the
# headers metapackage named as the argument, e.g. linux-headers-6.12-amd64).
# Never `uname -r`: the host kernel may not be the one we boot in the VM.
set -eu
pkg=${1:-linux-headers-amd64}
dep=$(dpkg-query -W -f='${Depends}' "$pkg" 2>/dev/null) || {
	echo "kver.sh: $pkg is not installed (run 'make deps')" >&2
	exit 1
}
# "linux-headers-6.1.0-57-amd64 (= 6.1.192-3)" -> "6.1.0-57-amd64"
echo "$dep" | sed -n 's/^linux-headers-\([^ ,]*\).*/\1/p'
