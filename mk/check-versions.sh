#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# check-versions.sh SRC: the version of pinmgr is written in three places;
# they must agree.
#   userlib/userlib.mk   LIBPINMGR_VERSION := X.Y.Z   (library, pinmgr.pc, CLI)
#   dkms.conf            PACKAGE_VERSION="X.Y.Z"
#   debian/changelog     pinmgr (X.Y.Z[-N]) ...      (upstream part)
set -eu
src=$1
lib=$(sed -n 's/^LIBPINMGR_VERSION[[:space:]]*:*=[[:space:]]*//p' "$src/userlib/userlib.mk")
dkms=$(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$src/dkms.conf")
deb=$(sed -n '1s/^pinmgr (\([^)-]*\)\(-[^)]*\)\{0,1\}).*/\1/p' "$src/debian/changelog")
if [ -z "$lib" ] || [ "$lib" != "$dkms" ] || [ "$lib" != "$deb" ]; then
	echo "versions disagree: userlib.mk '$lib', dkms.conf '$dkms', debian/changelog '$deb'" >&2
	exit 1
fi
echo "  VERSION $lib (userlib.mk, dkms.conf, debian/changelog)"
