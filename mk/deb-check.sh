#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deb-check.sh DEBDIR VERSION KVER: install the four packages `make deb` made
# with dpkg -i, check that DKMS built and installed the module for KVER (the
# Debian kernel, not necessarily the running one) and that the tools and the
# library work, then purge them and check that nothing of pinmgr is left.
# The system group "pinmgr" stays, as Debian's system groups do.
set -eu -o pipefail
dir=$1 ver=$2 kver=$3
pkgs="pinmgr-dkms libpinmgr0 libpinmgr-dev pinmgr-tools"
fail() { echo "deb-check: $*" >&2; exit 1; }

# shellcheck disable=SC2086 # $pkgs: one word per package
installed() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $pkgs 2>/dev/null | grep -v '^un' || true; }
[ -z "$(installed)" ] || fail "pinmgr packages are installed already: $(installed | tr '\n' ' ')"
[ ! -e /var/lib/dkms/pinmgr ] || fail "/var/lib/dkms/pinmgr exists: run 'make dkms-remove' first"

debs=()
for p in $pkgs; do
	f=$(find "$dir" -maxdepth 1 -name "${p}_${ver}_*.deb" | head -n 1)
	[ -n "$f" ] || fail "no $dir/${p}_${ver}_*.deb (run 'make deb')"
	debs+=("$f")
done

echo "deb-check: dpkg -i ${debs[*]##*/}"
dpkg -i "${debs[@]}"

status=$(dkms status -m pinmgr -v "$ver" -k "$kver")
echo "deb-check: dkms status: $status"
[[ $status == *": installed"* ]] || fail "pinmgr $ver is not installed for $kver"
ko=$(find /lib/modules/"$kver"/updates/dkms -name 'pinmgr.ko*' 2>/dev/null | head -n 1)
[ -n "$ko" ] || fail "no /lib/modules/$kver/updates/dkms/pinmgr.ko"
vm=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
[ "$vm" = "$kver" ] || fail "$ko has vermagic $vm"
modprobe -S "$kver" --show-depends pinmgr | grep -q "updates/dkms/pinmgr.ko" ||
	fail "modprobe -S $kver does not find pinmgr (depmod)"
[ "$(/usr/sbin/pinmgr --version)" = "pinmgr $ver (ABI 1)" ] || fail "pinmgr --version: $(/usr/sbin/pinmgr --version)"
if readelf -dW /usr/sbin/pinmgr | grep -E '\((RPATH|RUNPATH)\)'; then
	fail "/usr/sbin/pinmgr has an RPATH/RUNPATH"
fi
[ "$(pkg-config --modversion pinmgr)" = "$ver" ] || fail "pkg-config --modversion pinmgr"
getent group pinmgr >/dev/null || fail "no group pinmgr"
[ -f /etc/modprobe.d/pinmgr.conf ] || fail "no /etc/modprobe.d/pinmgr.conf"
ls /usr/lib/udev/rules.d/60-pinmgr.rules /usr/lib/modules-load.d/pinmgr.conf \
	/usr/lib/sysusers.d/pinmgr.conf >/dev/null
echo "deb-check: installed: $ko ($vm), /usr/sbin/pinmgr, libpinmgr.so.0, pinmgr.pc, udev rule"

echo "deb-check: dpkg --purge $pkgs"
# shellcheck disable=SC2086 # one word per package
dpkg --purge $pkgs

[ -z "$(installed)" ] || fail "still installed: $(installed | tr '\n' ' ')"
left=$(ls -d /var/lib/dkms/pinmgr /usr/src/pinmgr-* /etc/modprobe.d/pinmgr.conf \
	/usr/lib/udev/rules.d/60-pinmgr.rules /usr/lib/modules-load.d/pinmgr.conf \
	/usr/lib/sysusers.d/pinmgr.conf /usr/sbin/pinmgr /usr/include/pinmgr.h \
	/usr/include/linux/pinmgr.h /usr/lib/*/libpinmgr* /usr/lib/*/pkgconfig/pinmgr.pc \
	/usr/share/man/man3/pinmgr_* /usr/share/man/man4/pinmgr.4* /usr/share/man/man8/pinmgr.8* \
	/usr/share/doc/pinmgr-* /usr/share/doc/libpinmgr* 2>/dev/null || true)
left="$left $(find /lib/modules/"$kver" -name 'pinmgr.ko*' 2>/dev/null)"
[ -z "${left// /}" ] || fail "left behind after purge: $left"
! modprobe -S "$kver" --show-depends pinmgr >/dev/null 2>&1 || fail "modprobe -S $kver still finds pinmgr"
echo "deb-check: purged: nothing of pinmgr left (the system group pinmgr stays)"
