#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot Debian's kernel in QEMU with a busybox initramfs holding pinmgr.ko and
# the test programs, run them there, and report one line per test case.
#
#   tests/vm/run.sh check     every program in $BUILD/tests/bin (make check)
#   tests/vm/run.sh demo      $BUILD/tests/demo/pinmgr-demo (make demo)
#
# check boots up to three times: the programs named movable* need a
# ZONE_MOVABLE and run in a second boot with PINMGR_VM_MOVABLE_APPEND
# (default movablecore=1G) added to the kernel command line; the programs
# named numa* need two NUMA nodes and run in a third boot whose memory and
# CPUs QEMU splits into two nodes. The programs named trace* run in a boot
# of their own with single-threaded TCG (PINMGR_VM_TRACE_ACCEL): see
# "Programs that patch kernel text" in tests/vm/README.md.
#
# See tests/vm/README.md for the environment knobs, the output format and how
# the guest side (tests/vm/init.sh) talks to this script.

set -eu -o pipefail

# The whole script is one brace group, read in full before it runs, so that
# editing or checking out this file while a VM is running cannot derail it.
{

usage() {
	echo "usage: $0 check|demo" >&2
	exit 2
}
[ $# -eq 1 ] || usage
MODE=$1
case $MODE in check | demo) ;; *) usage ;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
VM=$BUILD/vm

die() {
	echo "vm: error: $*" >&2
	exit 2
}
note() { echo "vm: $*"; }

KVER=${KVER:-}
if [ -z "$KVER" ]; then
	KVER=$("$REPO/scripts/kver.sh") || die "cannot tell the kernel version (scripts/kver.sh failed)"
fi
[ -n "$KVER" ] || die "KVER is empty"

# --- knobs -------------------------------------------------------------------
# A check boot's own bound is generous: what catches a hang is the guest's
# per-program watchdog (TEST_TIMEOUT) and, for a guest that stops talking
# altogether, IDLE_TIMEOUT below. The suite's length then depends on the
# machine's speed, not on a guess of it.
if [ "$MODE" = check ]; then default_timeout=3600; else default_timeout=300; fi
MEM=${PINMGR_VM_MEM:-2048}			# MiB
SMP=${PINMGR_VM_SMP:-2}
TIMEOUT=${PINMGR_VM_TIMEOUT:-$default_timeout}	# whole VM run, seconds
TEST_TIMEOUT=${PINMGR_TEST_TIMEOUT:-120}	# each test program, seconds
SETTLE_TIMEOUT=${PINMGR_SETTLE_TIMEOUT:-5}	# async unpin/close grace, seconds
APPEND=${PINMGR_VM_APPEND:-}			# extra kernel command line
# NAME=VALUE words for every test program's environment in the guest, to
# replay a seeded run, e.g. PINMGR_VM_TEST_ENV='PINMGR_SEED=1234'.
TEST_ENV=${PINMGR_VM_TEST_ENV:-}
case $TEST_ENV in *"'"*) die "PINMGR_VM_TEST_ENV: no quotes, please" ;; esac
# Slab poisoning and consistency checks on every boot: a write to a freed
# object becomes a "Poison overwritten" report in the kernel log (which
# fails the run) instead of silent corruption. Full preemption: Debian's
# kernel preempts only voluntarily by default, so a thread inside the
# module is rarely switched out between two steps another thread can race
# with (the debug kernel is built with CONFIG_PREEMPT). Set either empty to
# boot without.
SLUB_DEBUG=${PINMGR_VM_SLUB_DEBUG-slub_debug=FZPU}
PREEMPT=${PINMGR_VM_PREEMPT-preempt=full}
# Extra kernel command line of the second boot (check mode), which runs the
# programs named movable*. Set but empty: that boot gets no extra arguments.
MOVABLE_APPEND=${PINMGR_VM_MOVABLE_APPEND-movablecore=1G}
# QEMU -accel of the boot that runs the programs named trace*: they flip
# static keys (kernel text patching), which multi-threaded TCG can leave
# stale in another vCPU's translated code (see tests/vm/README.md).
TRACE_ACCEL=${PINMGR_VM_TRACE_ACCEL:-tcg,thread=single}
QEMU_EXTRA=${PINMGR_VM_QEMU_ARGS:-}		# extra QEMU arguments (word-split)
CPU=${PINMGR_VM_CPU:-max}
PVH=${PINMGR_VM_PVH:-1}				# 0: boot the bzImage as is
KERNEL=${PINMGR_VM_KERNEL:-/boot/vmlinuz-$KVER}
KO=${PINMGR_KO:-$REPO/module/pinmgr.ko}
TESTS_DIR=${PINMGR_TESTS_DIR:-$BUILD/tests/bin}
TESTS_ONLY=${PINMGR_TESTS:-}			# names of the programs to run
TESTS_SKIP=${PINMGR_TESTS_SKIP:-}		# ... or of those to leave out
DEMO=${PINMGR_DEMO:-$BUILD/tests/demo/pinmgr-demo}
EXTRA=${PINMGR_VM_EXTRA:-$VM/extra}		# copied over the initramfs root
DISK=${PINMGR_VM_DISK:-}			# raw image -> /dev/vda
MODULES=${PINMGR_VM_MODULES:-}			# extra kernel modules to load
MODPROBE=${PINMGR_VM_MODPROBE:-0}		# 1: modprobe pinmgr from a depmod'ed tree

# Every timeout times this: a slower or busier machine than the one the
# defaults were measured on (CI sets it) gets the same verdicts, later. The
# test programs' own per-case timeouts read it too (tests/harness.c).
# Timeouts only tell a hang from slow progress; no test asserts a speed.
MUL=${PINMGR_TIMEOUT_MUL:-1}

for v in MEM:PINMGR_VM_MEM SMP:PINMGR_VM_SMP TIMEOUT:PINMGR_VM_TIMEOUT \
	TEST_TIMEOUT:PINMGR_TEST_TIMEOUT SETTLE_TIMEOUT:PINMGR_SETTLE_TIMEOUT \
	MUL:PINMGR_TIMEOUT_MUL; do
	val=${v%%:*}
	[[ ${!val} =~ ^[1-9][0-9]*$ ]] || die "${v#*:} must be a positive integer (got '${!val}')"
done
# The test programs accept the same range (tests/harness.c).
[ "$MUL" -le 100 ] || die "PINMGR_TIMEOUT_MUL must be 1 to 100 (got $MUL)"
TIMEOUT=$((TIMEOUT * MUL)) TEST_TIMEOUT=$((TEST_TIMEOUT * MUL))
SETTLE_TIMEOUT=$((SETTLE_TIMEOUT * MUL))
# Seconds without a line from the guest's init or test programs (kernel
# messages do not count) before the host gives the guest up:
# longer than a program may run silently before the watchdog kills it, plus
# the checks after it (kmemleak scans take tens of seconds on a debug kernel).
IDLE_TIMEOUT=${PINMGR_VM_IDLE_TIMEOUT:-$((TEST_TIMEOUT + 300 * MUL))}
[[ $IDLE_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "PINMGR_VM_IDLE_TIMEOUT must be a positive integer (got '$IDLE_TIMEOUT')"
[ "$MUL" = 1 ] || TEST_ENV="PINMGR_TIMEOUT_MUL=$MUL${TEST_ENV:+ $TEST_ENV}"

MARK='@@PINMGR@@'	# must match M in init.sh

# --- host tools and inputs ------------------------------------------------------
for tool in qemu-system-x86_64 cpio gzip timeout modinfo modprobe; do
	command -v "$tool" >/dev/null || die "$tool not found (run 'make deps')"
done
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (run 'make deps': busybox-static)"

is_elf() { [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; }
is_dynamic() { readelf -lW "$1" 2>/dev/null | grep -q 'program interpreter'; }

if command -v readelf >/dev/null && is_dynamic "$BUSYBOX"; then
	die "$BUSYBOX is dynamically linked; the initramfs needs busybox-static"
fi

# kernel_release FILE: the release string (uname -r) of a bzImage or vmlinux.
kernel_release() {
	local off
	if [ "$(dd if="$1" bs=1 skip=514 count=4 2>/dev/null | tr -d '\0')" = HdrS ]; then
		# x86 boot protocol: the 16-bit word at 0x20e, plus 0x200, is the
		# offset of "RELEASE (builder) #1 ..." in the file.
		off=$(od -An -tu2 -j 526 -N 2 "$1" | tr -d ' ')
		dd if="$1" bs=1 skip=$((off + 512)) count=256 2>/dev/null |
			tr '\0' '\n' | head -n 1 | cut -d' ' -f1
	else
		{ LC_ALL=C grep -a -o -m 1 'Linux version [^ ]*' "$1" || true; } |
			head -n 1 | cut -d' ' -f3
	fi
}

[ -e "$KERNEL" ] || die "kernel $KERNEL not found (run 'make deps': linux-image-amd64 for $KVER)"
[ -r "$KERNEL" ] || die "cannot read $KERNEL (Debian makes it readable by root only)"
krel=$(kernel_release "$KERNEL")
[ "$krel" = "$KVER" ] ||
	die "$KERNEL is kernel '$krel', but KVER is '$KVER' (is linux-image-amd64 at the same version as linux-headers-amd64?)"

[ -f "$KO" ] || die "$KO not found (run 'make module')"
vermagic=$(modinfo -F vermagic "$KO" | cut -d' ' -f1)
[ "$vermagic" = "$KVER" ] ||
	die "$KO was built for kernel '$vermagic', but the VM boots '$KVER' (run 'make module')"

# Test programs: the top-level executables of $TESTS_DIR, by name.
PROGS=()
if [ "$MODE" = check ]; then
	if [ -d "$TESTS_DIR" ]; then
		while IFS= read -r p; do
			PROGS+=("$p")
		done < <(cd "$TESTS_DIR" && find . -mindepth 1 -maxdepth 1 -type f -perm -u+x -printf '%f\n' | LC_ALL=C sort)
	fi
	# select_progs VAR NAMES KEEP: keep (KEEP=1) or drop (0) the named programs.
	select_progs() {
		local t p sel=()
		for t in $2; do
			[ -x "$TESTS_DIR/$t" ] || die "$1: no executable $TESTS_DIR/$t"
		done
		for p in "${PROGS[@]}"; do
			if [[ " $2 " == *" $p "* ]]; then
				[ "$3" = 1 ] && sel+=("$p")
			else
				[ "$3" = 0 ] && sel+=("$p")
			fi
		done
		PROGS=("${sel[@]}")
	}
	[ -z "$TESTS_ONLY" ] || select_progs PINMGR_TESTS "$TESTS_ONLY" 1
	if [ -n "$TESTS_SKIP" ]; then
		select_progs PINMGR_TESTS_SKIP "$TESTS_SKIP" 0
		note "left out (PINMGR_TESTS_SKIP): $TESTS_SKIP"
	fi
	for p in "${PROGS[@]}"; do
		[[ $p =~ ^[A-Za-z0-9._+-]+$ ]] || die "test program name '$p' has characters other than A-Za-z0-9._+-"
		if is_elf "$TESTS_DIR/$p" && is_dynamic "$TESTS_DIR/$p"; then
			die "$TESTS_DIR/$p is dynamically linked; the guest has no C library (link it with -static)"
		fi
	done
else
	[ -x "$DEMO" ] || die "$DEMO not found (run 'make tests')"
	if is_elf "$DEMO" && is_dynamic "$DEMO"; then
		die "$DEMO is dynamically linked; the guest has no C library (link it with -static)"
	fi
fi

# Boots: the name of each boot (also the label of its own checks, as in
# "vm: insmod pinmgr.ko"), the programs it runs, its extra kernel arguments,
# its extra QEMU arguments and its QEMU accelerator. Programs named movable*
# run in a second boot with $MOVABLE_APPEND, programs named numa* in a third
# one with two NUMA nodes, programs named trace* in a fourth with
# $TRACE_ACCEL. A boot without programs is left out, except that the first
# one runs when there are none at all (to say so). demo: one boot.
BOOTS=()
declare -A BOOT_PROGS=() BOOT_APPEND=() BOOT_QEMU=() BOOT_ACCEL=()
main_progs=() movable_progs=() numa_progs=() trace_progs=()
for p in "${PROGS[@]}"; do
	case $p in
	movable*) movable_progs+=("$p") ;;
	numa*) numa_progs+=("$p") ;;
	trace*) trace_progs+=("$p") ;;
	*) main_progs+=("$p") ;;
	esac
done
if [ "$MODE" = demo ] || [ ${#main_progs[@]} -gt 0 ] ||
	[ $((${#movable_progs[@]} + ${#numa_progs[@]} + ${#trace_progs[@]})) = 0 ]; then
	BOOTS+=(vm)
	BOOT_PROGS[vm]="${main_progs[*]}"
	BOOT_APPEND[vm]=''
	BOOT_QEMU[vm]=''
	BOOT_ACCEL[vm]=tcg
fi
if [ "$MODE" = check ] && [ ${#movable_progs[@]} -gt 0 ]; then
	BOOTS+=(vm-movable)
	BOOT_PROGS[vm-movable]="${movable_progs[*]}"
	BOOT_APPEND[vm-movable]=$MOVABLE_APPEND
	BOOT_QEMU[vm-movable]=''
	BOOT_ACCEL[vm-movable]=tcg
fi
# Two NUMA nodes with the same total memory: node 0 gets CPU 0 and half the
# memory, node 1 the other CPUs and the rest. One socket per CPU: CPUs that
# share a socket (an LLC) but not a node make the kernel warn at boot
# (topology_sane(): "llc-sibling ... is not on the same node").
if [ "$MODE" = check ] && [ ${#numa_progs[@]} -gt 0 ]; then
	[ "$SMP" -ge 2 ] || die "the numa* programs need PINMGR_VM_SMP >= 2 (one CPU per NUMA node)"
	BOOTS+=(vm-numa)
	BOOT_PROGS[vm-numa]="${numa_progs[*]}"
	BOOT_APPEND[vm-numa]=''
	BOOT_QEMU[vm-numa]="-smp $SMP,sockets=$SMP,cores=1,threads=1
		-object memory-backend-ram,id=numa0,size=$((MEM / 2))M
		-object memory-backend-ram,id=numa1,size=$((MEM - MEM / 2))M
		-numa node,nodeid=0,cpus=0,memdev=numa0
		-numa node,nodeid=1,cpus=1-$((SMP - 1)),memdev=numa1"
	BOOT_ACCEL[vm-numa]=tcg
fi
if [ "$MODE" = check ] && [ ${#trace_progs[@]} -gt 0 ]; then
	BOOTS+=(vm-trace)
	BOOT_PROGS[vm-trace]="${trace_progs[*]}"
	BOOT_APPEND[vm-trace]=''
	BOOT_QEMU[vm-trace]=''
	BOOT_ACCEL[vm-trace]=$TRACE_ACCEL
fi

# --- kernel to boot -----------------------------------------------------------
# Debian's bzImage is xz-compressed, and decompressing it under TCG takes
# about 3.5 s of every boot. The kernel has CONFIG_PVH, so QEMU can boot the
# uncompressed ELF vmlinux directly: extract it once and cache it.
has_pvh_note() {	# XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry point
	readelf -nW "$1" 2>/dev/null | grep -qE 'note type: \(0x00000012\)|PHYS32_ENTRY'
}
mkdir -p "$VM"
# One run at a time per $BUILD/vm: runs share the initramfs tree, the FIFO
# and the console log. (Use another BUILD to run several at once.)
exec 9>"$VM/lock"
if ! flock -n 9; then
	note "waiting for the other run.sh using $VM to finish..."
	flock 9
fi
BOOT_KERNEL=$KERNEL
BOOT_HOW=bzImage
if is_elf "$KERNEL"; then
	# QEMU boots an ELF kernel only through its PVH entry point.
	has_pvh_note "$KERNEL" || die "$KERNEL is an ELF kernel without a PVH entry point (CONFIG_PVH); use its bzImage"
	BOOT_HOW="vmlinux, PVH"
elif [ "$PVH" = 1 ] && command -v readelf >/dev/null; then
	cache=$VM/vmlinux.pvh
	stamp="$KERNEL $(stat -L -c '%s %Y' "$KERNEL")"
	if [ ! -s "$cache" ] || [ "$(cat "$cache.src" 2>/dev/null)" != "$stamp" ]; then
		rm -f "$cache" "$cache.src"
		off=$(LC_ALL=C grep -m 1 -obUaP '\xfd7zXZ\x00' "$KERNEL" | head -n 1 | cut -d: -f1) || true
		if [ -n "$off" ] &&
			# (xz stops reading at the end of the stream: no pipe, no SIGPIPE)
			xz -dc --single-stream < <(tail -c +$((off + 1)) "$KERNEL") >"$cache.tmp" 2>/dev/null &&
			has_pvh_note "$cache.tmp"; then
			mv "$cache.tmp" "$cache"
			echo "$stamp" >"$cache.src"
		else
			rm -f "$cache.tmp"
			note "cannot extract a PVH-bootable vmlinux from $KERNEL; booting the bzImage (slower)"
		fi
	fi
	if [ -s "$cache" ]; then
		BOOT_KERNEL=$cache
		BOOT_HOW="vmlinux, PVH"
	fi
fi

# --- initramfs ---------------------------------------------------------------
ROOT=$VM/root
INITRD_BASE=$VM/initramfs-base.cpio.gz
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,dev,etc,mnt,proc,root,sys,tmp,tests}
cp "$BUSYBOX" "$ROOT/bin/busybox"
for applet in $("$BUSYBOX" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$ROOT/bin/$applet"
done
# The kernel's built-in initramfs has /dev/console too; this is insurance.
mknod -m 600 "$ROOT/dev/console" c 5 1 2>/dev/null || true
install -m 755 "$HERE/init.sh" "$ROOT/init"
install -m 644 "$KO" "$ROOT/pinmgr.ko"

if [ "$MODE" = check ] && [ -d "$TESTS_DIR" ]; then
	# Everything except the top-level executables not selected to run:
	# subdirectories and data files can hold what the tests need.
	(cd "$TESTS_DIR" && find . -mindepth 1 -maxdepth 1 ! \( -type f -perm -u+x \) -exec cp -a {} "$ROOT/tests/" \;)
	for p in "${PROGS[@]}"; do
		cp -a "$TESTS_DIR/$p" "$ROOT/tests/"
	done
fi
[ "$MODE" = demo ] && install -m 755 "$DEMO" "$ROOT/pinmgr-demo"

# An ext4 filesystem on a virtio disk, mounted at /mnt/ext4 in the guest: the
# cases about file pages that are written back (EOPNOTSUPP for writable
# long-term pins) need a real disk filesystem. PINMGR_VM_EXT4=0 leaves it out.
if [ "$MODE" = check ] && [ -z "$DISK" ] && [ "${PINMGR_VM_EXT4:-1}" = 1 ]; then
	command -v mke2fs >/dev/null || die "mke2fs not found (run 'make deps')"
	DISK=$VM/ext4.img
	FRESH_EXT4=1	# made anew before each boot, in run_boot
	MODULES="$MODULES ext4"
	mkdir -p "$ROOT/etc/pinmgr-vm.d"
	cat >"$ROOT/etc/pinmgr-vm.d/10-ext4.sh" <<'EOF'
mkdir -p /mnt/ext4
if mount -t ext4 /dev/vda /mnt/ext4 2>"$W/mount.err"; then
	check vm ok "mount ext4 disk on /mnt/ext4"
else
	check vm FAIL "mount ext4 disk on /mnt/ext4 # $(cat "$W/mount.err")"
fi
EOF
fi

# Real dma-buf importers for tests/importers.c: V4L2's vivid and DRM's vgem,
# where the kernel has them as modules (the debug kernel has its drivers
# built in and none of these: the program then skips).
# PINMGR_VM_IMPORTERS=0 leaves them out.
if [ "$MODE" = check ] && [ "${PINMGR_VM_IMPORTERS:-1}" = 1 ] &&
	[ "${PINMGR_VM_MODULES_BUILTIN:-0}" != 1 ]; then
	for m in vivid vgem; do
		modprobe -S "$KVER" --show-depends "$m" >/dev/null 2>&1 &&
			MODULES="$MODULES $m"
	done
fi

# Kernel modules to load before pinmgr.ko, with their dependencies, in order.
# pinmgr.ko's own dependencies (if any) come first.
want=$(modinfo -F depends "$KO" | tr ',' ' ')
want="$want $MODULES"
# virtio_blk and virtio_pci are modules in Debian's kernel (so are ext4 & co:
# add them with PINMGR_VM_MODULES and mount from an extra/etc/pinmgr-vm.d hook).
[ -n "$DISK" ] && want="$want virtio_pci virtio_blk"
# PINMGR_VM_MODULES_BUILTIN=1: the kernel has all of that built in and has
# no /lib/modules/$KVER (the debug kernel of `make check-debug`): load none.
[ "${PINMGR_VM_MODULES_BUILTIN:-0}" = 1 ] && want=''
: >"$ROOT/etc/pinmgr-vm.modules"
for m in $want; do
	modprobe -S "$KVER" --show-depends "$m" >"$VM/modules.deps" 2>&1 ||
		die "kernel module '$m' not found for $KVER: $(cat "$VM/modules.deps")"
	while read -r verb path _; do
		[ "$verb" = insmod ] || continue	# "builtin NAME": nothing to load
		# busybox insmod wants plain .ko files
		dst=${path%.xz}
		dst=${dst%.zst}
		grep -qxF "$dst" "$ROOT/etc/pinmgr-vm.modules" && continue
		mkdir -p "$ROOT$(dirname "$dst")"
		case $path in
		*.xz) xz -dc "$path" >"$ROOT$dst" ;;
		*.zst) zstd -qdc "$path" >"$ROOT$dst" ;;
		*) cp "$path" "$ROOT$dst" ;;
		esac
		echo "$dst" >>"$ROOT/etc/pinmgr-vm.modules"
	done <"$VM/modules.deps"
done

# PINMGR_VM_MODPROBE=1: the guest loads pinmgr with `modprobe pinmgr` from
# /lib/modules/$KVER, as a real system would (e.g. the module DKMS installed:
# PINMGR_KO=/lib/modules/$KVER/updates/dkms/pinmgr.ko). The module keeps its
# place in that tree (else extra/), next to the modules copied above, and
# the host's depmod indexes the tree (modules.dep and the .bin indexes that
# libkmod, and so `pinmgr load`, reads).
case $MODPROBE in 0 | 1) ;; *) die "PINMGR_VM_MODPROBE must be 0 or 1 (got '$MODPROBE')" ;; esac
if [ "$MODPROBE" = 1 ]; then
	command -v depmod >/dev/null || die "depmod not found (run 'make deps': kmod)"
	mdir=/lib/modules/$KVER
	case $KO in
	"$mdir"/* | /usr"$mdir"/*) dst=$mdir/${KO#*"$mdir"/} ;;
	*) dst=$mdir/extra/pinmgr.ko ;;
	esac
	dst=${dst%.xz}
	dst=${dst%.zst}
	mkdir -p "$ROOT$(dirname "$dst")"
	case $KO in
	*.xz) xz -dc "$KO" >"$ROOT$dst" ;;
	*.zst) zstd -qdc "$KO" >"$ROOT$dst" ;;
	*) cp "$KO" "$ROOT$dst" ;;
	esac
	rm -f "$ROOT/pinmgr.ko"
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		[ -f "$mdir/$f" ] && cp "$mdir/$f" "$ROOT$mdir/"
	done
	depmod -b "$ROOT" "$KVER" || die "depmod -b $ROOT $KVER failed"
	grep -q "^${dst#"$mdir"/}:" "$ROOT$mdir/modules.dep" ||
		die "depmod did not index ${dst#"$mdir"/} (see $ROOT$mdir/modules.dep)"
fi

# Later work drops files here (e.g. etc/pinmgr-vm.d/*.sh hooks, data files).
[ -d "$EXTRA" ] && cp -a "$EXTRA/." "$ROOT/"

# The tree is packed once. Each boot's initramfs is that archive followed by
# a small one holding the boot's /etc/pinmgr-vm.conf (the kernel unpacks
# concatenated archives in order).
rm -f "$VM"/initramfs*.cpio.gz
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc --owner=0:0 --quiet) | gzip -1 >"$INITRD_BASE"

# boot_initrd NAME: $VM/initramfs-NAME.cpio.gz, for that boot.
boot_initrd() {
	local conf=$VM/conf-$1
	rm -rf "$conf"
	mkdir -p "$conf/etc"
	cat >"$conf/etc/pinmgr-vm.conf" <<EOF
MODE=$MODE
TEST_TIMEOUT=$TEST_TIMEOUT
SETTLE_TIMEOUT=$SETTLE_TIMEOUT
MODPROBE=$MODPROBE
PROGS='${BOOT_PROGS[$1]}'
TEST_ENV='$TEST_ENV'
EOF
	{
		cat "$INITRD_BASE"
		(cd "$conf" && find . -mindepth 1 | LC_ALL=C sort |
			cpio -o -H newc --owner=0:0 --quiet) | gzip -1
	} >"$VM/initramfs-$1.cpio.gz"
}

# --- boot --------------------------------------------------------------------
FIFO=$VM/console.fifo
ntests=${#PROGS[@]}

qpid=
# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
	if [ -n "$qpid" ]; then kill -TERM "$qpid" 2>/dev/null || true; fi
	rm -f "$FIFO"
}
trap cleanup EXIT
trap 'echo "vm: interrupted" >&2; exit 130' INT TERM HUP

# From here on, failures are counted, not fatal: no errexit while parsing.
set +e

# --- parse the console ---------------------------------------------------------
# Totals over every boot; run_boot resets the rest.
pass=0 fail=0 skip=0
VMLABEL=vm	# the current boot's name, for the checks the guest calls "vm"

IND='        '	# indentation of details under a result line

result() {	# result ok|FAIL|SKIP NAME TEXT
	case $1 in
	ok) pass=$((pass + 1)) ;;
	FAIL)
		fail=$((fail + 1))
		[ "$2" = "$prog" ] && prog_failed=1
		;;
	SKIP) skip=$((skip + 1)) ;;
	esac
	printf '%-8s%s: %s\n' "$1" "$2" "$3"
}

show() {	# show LINE...: indented details
	local l
	for l in "$@"; do printf '%s| %s\n' "$IND" "$l"; done
}

# tap_line LINE: a top-level TAP line of the current program's stdout.
tap_line() {
	local line=$1 not num rest desc dir st reason
	if [[ $line =~ ^(not\ )?ok(\ (.*))?$ ]]; then	# same test as the guest's count
		not=${BASH_REMATCH[1]} rest=${BASH_REMATCH[3]} num=''
		if [[ $rest =~ ^\ *([0-9]+)(.*)$ ]]; then
			num=${BASH_REMATCH[1]} rest=${BASH_REMATCH[2]}
		fi
		rest=${rest#" - "}
		rest=${rest# }
		# "desc # directive"; kselftest also writes "ok 3 # SKIP why".
		if [[ $rest == "# "* ]]; then
			desc='' dir=${rest#"# "}
		elif [[ $rest == *" # "* ]]; then
			desc=${rest%%" # "*} dir=${rest#*" # "}
		else
			desc=$rest dir=''
		fi
		[ -n "$desc" ] || desc="case ${num:-$((nres + 1))}"
		nres=$((nres + 1))
		st=ok reason=$dir
		shopt -s nocasematch
		if [[ $dir =~ ^skip([[:space:]:]+|$)(.*) ]]; then
			st=SKIP reason=${BASH_REMATCH[2]}
		elif [[ $dir =~ ^todo([[:space:]:]+|$)(.*) ]]; then
			st=SKIP reason="TODO ${BASH_REMATCH[2]}"
			[ -z "$not" ] && st=ok
		elif [ -n "$not" ]; then
			st=FAIL
		fi
		shopt -u nocasematch
		result "$st" "$prog" "$desc${reason:+ ($reason)}"
		if [ "$st" = FAIL ]; then
			# Output since the previous result, then the TAP line itself.
			local n=${#ctx[@]}
			((n <= 30)) || { show "... ($((n - 30)) earlier lines)"; ctx=("${ctx[@]:n-30}"); }
			show "${ctx[@]}" "$line"
		fi
		ctx=()
	elif [[ $line =~ ^1\.\.([0-9]+)(.*)$ ]]; then
		plan=${BASH_REMATCH[1]}
		if [ "$plan" = 0 ]; then	# "1..0 # SKIP reason": nothing to test
			reason=${BASH_REMATCH[2]#*# }
			reason=${reason#[Ss][Kk][Ii][Pp]}
			reason=${reason# }
			result SKIP "$prog" "all cases${reason:+ ($reason)}"
			exit_skipped=1
		fi
	elif [[ $line == "Bail out!"* ]]; then
		desc=${line#Bail out!}
		result FAIL "$prog" "bail out: ${desc# }"
		show "${ctx[@]}" "$line"
		ctx=()
	elif [[ $line != "TAP version"* ]]; then
		ctx+=("$line")
	fi
}

prog_end() {	# prog_end "tap=GUEST_TAP_COUNT secs=SECONDS"
	local gtap secs
	read -r gtap secs <<<"$1"
	gtap=${gtap#tap=} secs=${secs#secs=}
	[ -n "$secs" ] && times+=("$secs $prog")
	if [ "$gtap" != "$nres" ]; then
		result FAIL "$prog" "console output intact (guest saw $gtap TAP results, host parsed $nres)"
	fi
	if [ -n "$plan" ] && [ "$plan" != 0 ] && [ "$plan" != "$nres" ]; then
		result FAIL "$prog" "TAP plan 1..$plan but $nres results"
	elif [ -z "$plan" ] && [ "$nres" = 0 ] && [ "$exit_skipped" = 0 ]; then
		result FAIL "$prog" "TAP output (no plan and no ok/not ok lines)"
	fi
	if [ "$prog_failed" = 1 ]; then
		if [ ${#ctx[@]} -gt 0 ]; then
			echo "${IND}stdout of $prog after its last result:"
			show "${ctx[@]}"
		fi
		if [ ${#errs[@]} -gt 0 ]; then
			echo "${IND}stderr of $prog:"
			show "${errs[@]}"
		else
			echo "${IND}(stderr of $prog was empty)"
		fi
	fi
	prog=
}

# event LINE: one line of the console that starts with the marker.
event() {
	local ev=${1%% *} rest name st desc reason
	rest=${1#"$ev"}
	rest=${rest# }
	case $ev in
	hello)
		hello_up=${rest##*uptime=}
		;;
	begin)
		prog=$rest plan='' nres=0 prog_failed=0 exit_skipped=0 ctx=() errs=()
		;;
	out)
		name=${rest%% *}
		if [[ $rest == *" "* ]]; then rest=${rest#* }; else rest=''; fi
		[ "$name" = "$prog" ] && tap_line "$rest"
		;;
	err)
		if [[ $rest == *" "* ]]; then errs+=("${rest#* }"); else errs+=(""); fi
		;;
	check)
		read -r name st desc <<<"$rest"
		[ "$name" = vm ] && name=$VMLABEL
		reason=
		if [[ $desc == *" # "* ]]; then
			reason=${desc#*" # "} desc=${desc%%" # "*}
		fi
		[ "$st" = SKIP ] && [ "$name" = "$prog" ] && exit_skipped=1
		[ "$st" = FAIL ] && [[ $desc == *"kernel log"* ]] && klog_failed=1
		result "$st" "$name" "$desc${reason:+ ($reason)}"
		;;
	detail)
		if [[ $rest == *" "* ]]; then show "${rest#* }"; else show ""; fi
		;;
	prog-end)
		prog_end "${rest#* }"
		;;
	demo)
		printf '%s\n' "$rest"
		;;
	info)
		note "guest: $rest"
		;;
	end)
		got_end=1
		end_up=${rest##*uptime=}
		;;
	esac
}

if [ "$MODE" = check ] && [ "$ntests" = 0 ]; then
	result FAIL vm "test programs present (no executables in $TESTS_DIR)"
fi

# run_boot NAME: boot the VM once with that boot's programs and kernel
# arguments, parse its console and count its results.
run_boot() {
	local name=$1 append=${BOOT_APPEND[$1]} nprogs what qrc t0 t1 ds secs why crash silent
	local -a qemu words crash_lines
	VMLABEL=$name
	LOG=$VM/console.log
	[ "$name" = vm ] || LOG=$VM/console-${name#vm-}.log
	got_end=0 klog_failed=0 hello_up='' end_up=''
	prog='' plan='' nres=0 prog_failed=0 exit_skipped=0
	ctx=() errs=() times=()

	boot_initrd "$name"
	if [ "${FRESH_EXT4:-0}" = 1 ]; then	# every boot starts with an empty disk
		rm -rf "$DISK" "$VM/ext4-root"
		mkdir -p "$VM/ext4-root"
		if ! mke2fs -q -F -t ext4 -d "$VM/ext4-root" "$DISK" 64M >/dev/null; then
			result FAIL "$name" "mke2fs of the ext4 disk image"
			return
		fi
	fi
	qemu=(qemu-system-x86_64 -accel "${BOOT_ACCEL[$name]}" -cpu "$CPU" -m "$MEM" -smp "$SMP"
		-nographic -nodefaults -serial stdio -no-reboot
		-kernel "$BOOT_KERNEL" -initrd "$VM/initramfs-$name.cpio.gz"
		-append "console=ttyS0 quiet panic=-1 mitigations=off${SLUB_DEBUG:+ $SLUB_DEBUG}${PREEMPT:+ $PREEMPT} $APPEND${append:+ $append}")
	[ -n "$DISK" ] && qemu+=(-drive "file=$DISK,if=virtio,format=raw")
	# shellcheck disable=SC2206 # word splitting wanted
	[ -n "${BOOT_QEMU[$name]}" ] && qemu+=(${BOOT_QEMU[$name]})
	# shellcheck disable=SC2206 # word splitting wanted
	[ -n "$QEMU_EXTRA" ] && qemu+=($QEMU_EXTRA)

	rm -f "$FIFO"
	mkfifo "$FIFO"
	read -r -a words <<<"${BOOT_PROGS[$name]}"
	nprogs=${#words[@]}
	what=$([ "$MODE" = check ] && echo "$nprogs test programs" || echo "demo")
	note "booting $KVER ($BOOT_HOW, cpu $CPU, $SMP CPUs, $MEM MiB$([ -n "${BOOT_QEMU[$name]}" ] && echo ' in 2 NUMA nodes'), timeout $TIMEOUT s or $IDLE_TIMEOUT s silent${append:+, $append}, accel ${BOOT_ACCEL[$name]}): $what"
	t0=$EPOCHREALTIME
	# timeout(1) sends QEMU SIGTERM at the deadline (SIGKILL 10 s later).
	timeout -k 10 "$TIMEOUT" "${qemu[@]}" </dev/null >"$FIFO" 2>&1 &
	qpid=$!

	# Only the guest's own lines count as life: a kernel that repeats a
	# soft-lockup or hung-task report forever is as stuck as a silent one.
	silent=0 part='' idle_end=$((SECONDS + IDLE_TIMEOUT))
	while :; do
		if IFS= read -r -t 10 line; then
			line=$part$line part=''
		elif [ $? -gt 128 ]; then	# nothing for 10 s
			part+=$line	# read -t keeps what it got of a line
			if [ "$SECONDS" -ge "$idle_end" ]; then
				silent=1
				break
			fi
			continue
		elif [ -z "$part$line" ]; then	# end of the console
			break
		else
			line=$part$line part=''
		fi
		line=${line%$'\r'}
		if [[ $line == "$MARK "* ]]; then
			idle_end=$((SECONDS + IDLE_TIMEOUT))
			event "${line#"$MARK "}"
		elif [ "$SECONDS" -ge "$idle_end" ]; then
			silent=1
			break
		fi
	done < <(tee "$LOG" <"$FIFO")
	# timeout(1) passes the signal on to QEMU.
	[ "$silent" = 1 ] && kill -TERM "$qpid" 2>/dev/null

	qrc=0
	wait "$qpid" || qrc=$?
	qpid=
	t1=$EPOCHREALTIME
	rm -f "$FIFO"

	# --- verdict of this boot ---
	if [ "$got_end" != 1 ]; then
		case $qrc in
		124 | 137) why="timed out after $TIMEOUT s" ;;
		*) why="QEMU exited with status $qrc before the end marker" ;;
		esac
		[ "$silent" = 1 ] && why="no word from the guest for $IDLE_TIMEOUT s"
		[ -n "$prog" ] && why="$why, while running $prog"
		echo "vm: --- last 40 lines of $LOG ---"
		tail -n 40 "$LOG" | tr -d '\r'
		echo "vm: ---"
		result FAIL "$name" "guest did not finish ($why)"
	fi

	# Backstop: a crash the guest could not report itself. The guest's own
	# log scan prints kernel lines behind the marker, so skip those.
	crash=$(grep -a -v "^$MARK" "$LOG" | tr -d '\r' | grep -a -E 'Kernel panic|BUG:|Oops' | head -n 20) || true
	if [ -n "$crash" ]; then
		if [ "$klog_failed" = 1 ]; then
			note "the console shows kernel errors too (already counted above):"
			mapfile -t crash_lines <<<"$crash"
			show "${crash_lines[@]}"
		else
			result FAIL "$name" "kernel console free of panics, BUG: and Oops"
			mapfile -t crash_lines <<<"$crash"
			show "${crash_lines[@]}"
		fi
	fi

	ds=$(((${t1//[.,]/} - ${t0//[.,]/}) / 100000))	# EPOCHREALTIME is s.us: tenths of s
	secs=$((ds / 10)).$((ds % 10))
	note "QEMU ran ${secs} s (guest /init at ${hello_up:-?} s, end marker at ${end_up:-?} s uptime); console: $LOG"
	# Where the time went: the slowest programs, against their timeout.
	if [ ${#times[@]} -gt 0 ]; then
		note "slowest programs (s, timeout $TEST_TIMEOUT s each): $(printf '%s\n' "${times[@]}" |
			sort -rn | head -n 5 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }')"
	fi
}

for b in "${BOOTS[@]}"; do
	run_boot "$b"
done

if [ "$MODE" = demo ]; then
	if [ "$fail" = 0 ] && [ "$got_end" = 1 ]; then
		note "demo ok"
		exit 0
	fi
	note "demo FAILED"
	exit 1
fi

summary="$pass passed, $fail failed"
[ "$skip" = 0 ] || summary="$summary, $skip skipped"
echo "$summary"
if [ "$fail" = 0 ] && [ "$pass" -gt 0 ]; then
	exit 0
fi
exit 1
}
