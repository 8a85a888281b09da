#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# coverage.sh HEADER TEST: every struct of the UAPI HEADER, every field of
# it and every ioctl command must be pinned in TEST (tests/abi/abi.c) by
# ABI_STRUCT, ABI_FIELD and ABI_IOCTL. A new field or ioctl without its
# assertion fails `make lint-abi`.
set -eu
header=$1 test=$2

# "struct pinmgr_pin {" ... "};": one "STRUCT FIELD" line per member.
fields=$(awk '
	/^struct pinmgr_[a-z0-9_]* \{/ { s = $2; print s; next }
	s != "" && /^\};/ { s = ""; next }
	s != "" && /^[[:space:]]+[a-z_][a-z0-9_ ]* [a-z_][a-z0-9_]*(\[[^]]*\])?;/ {
		f = $NF; sub(/;$/, "", f); sub(/\[.*$/, "", f); print s, f
	}' "$header")
ioctls=$(sed -n 's/^#define \(PINMGR_[A-Z0-9_]*\)[[:space:]]*_IO.*/\1/p' "$header")

missing=0
while read -r s f; do
	if [ -z "$f" ]; then
		grep -q "^ABI_STRUCT($s," "$test" ||
			{ echo "$test: struct $s is not pinned (ABI_STRUCT)" >&2; missing=1; }
	else
		grep -q "^ABI_FIELD($s, $f," "$test" ||
			{ echo "$test: field $s.$f is not pinned (ABI_FIELD)" >&2; missing=1; }
	fi
done <<EOT
$fields
EOT
for c in $ioctls; do
	grep -q "^ABI_IOCTL($c," "$test" ||
		{ echo "$test: ioctl $c is not pinned (ABI_IOCTL)" >&2; missing=1; }
done
[ "$missing" = 0 ] || exit 1
echo "  ABI     $(echo "$fields" | grep -vc ' ') structs, $(echo "$fields" | grep -c ' ') fields, $(echo "$ioctls" | wc -w) ioctls pinned"
