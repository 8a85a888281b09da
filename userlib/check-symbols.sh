#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-symbols.sh LIB.so HEADER MAP
#
# libpinmgr must export exactly the functions its public header declares,
# each with a LIBPINMGR_* symbol version from the version script, and
# nothing else (nm -D --defined-only).
set -eu
so=$1 header=$2 map=$3

declared=$(sed -n 's/^[a-z].*[ *]\(pinmgr_[a-z0-9_]*\)(.*/\1/p' "$header" | sort -u)
listed=$(sed -n 's/^[[:space:]]*\(pinmgr_[a-z0-9_]*\);.*/\1/p' "$map" | sort -u)
# "A" is the version node itself (LIBPINMGR_0.1).
exported=$(nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' | sort -u)
unversioned=$(echo "$exported" | grep -v '@@\?LIBPINMGR_' || true)
exported=$(echo "$exported" | sed 's/@.*//' | sort -u)

fail=0
if [ "$declared" != "$listed" ]; then
	echo "$map does not list exactly the functions of $header:" >&2
	echo "  header: " $declared >&2
	echo "  map:    " $listed >&2
	fail=1
fi
if [ "$declared" != "$exported" ]; then
	echo "$so does not export exactly the functions of $header:" >&2
	echo "  header:   " $declared >&2
	echo "  exported: " $exported >&2
	fail=1
fi
if [ -n "$unversioned" ]; then
	echo "$so exports symbols without a LIBPINMGR_* version: " $unversioned >&2
	fail=1
fi
exit $fail
