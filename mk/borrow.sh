#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the README's borrowing recipe literally: the shell block between
# the lines "<!-- borrow-recipe -->" and "<!-- /borrow-recipe -->" of
# README.md, in DIR (emptied first), with PINMGR set to this tree and KDIR
# to the kernel build tree, as the README says. The example driver it
# builds (examples/dmacopy) is what `make check` loads.
#
#   mk/borrow.sh README.md DIR KDIR
set -euo pipefail

readme=$1 dir=$2
KDIR=$3
PINMGR=$(cd "$(dirname "$0")/.." && pwd)
export PINMGR KDIR

# shellcheck disable=SC2016 # the backquotes are sed's, not the shell's
recipe=$(sed -n '/^<!-- borrow-recipe -->$/,/^<!-- \/borrow-recipe -->$/p' "$readme" |
	sed -n '/^```sh$/,/^```$/{/^```/d;p;}')
if [ -z "$recipe" ]; then
	echo "borrow.sh: no borrow-recipe block in $readme" >&2
	exit 1
fi
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
echo "  BORROW  in $dir (PINMGR=$PINMGR KDIR=$KDIR):"
printf '%s\n' "$recipe" | sed 's/^/            /'
bash -euo pipefail -c "$recipe" >"$dir.log" 2>&1 || {
	cat "$dir.log" >&2
	echo "borrow.sh: the recipe failed in $dir (log: $dir.log)" >&2
	exit 1
}
