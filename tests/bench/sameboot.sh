#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/bench/sameboot.sh: what a module change gains, both builds in one
# boot. ab.sh compares boots, and one boot's ratios move by 10-30 % from
# the next under software emulation, so a change worth 5-10 % needs many
# boots and still hides in the spread. Here the module of revision A is
# loaded as pinmgr (/dev/pinmgr) and that of revision B, renamed, as
# pinmgrb (/dev/pinmgrb), in the same boot; the guest program
# (sameboot.c) times the same loop against each in turn, many rounds, the
# order swapped every round, so the host's load weighs on both alike.
# The two places are not alike, though: the same module measured 0.99 to
# 1.08 as pinmgrb against itself as pinmgr (where a module's code lands
# matters to the emulator). So the rounds come in phases (-p), and every
# other phase reloads both revisions with their places swapped: A as
# pinmgrb, B as pinmgr. It prints, per loop, the median and the quartiles
# over all rounds of B's time / A's in the same round.
#
#   tests/bench/sameboot.sh [-n ROUNDS] [-p PHASES] [-k ITERS] [-o OPS] REV_A REV_B
#
#   REV_A, REV_B  git revisions of this repository (a commit, a tag,
#                 HEAD~2); their module/ and include/ are built
#   -n ROUNDS     rounds per loop and phase (default 6)
#   -p PHASES     phases, the places swapped after each (default 8)
#   -k ITERS      iterations per round and build (default 20000)
#   -o OPS        loops, comma-separated OP:FLAGS, OP one of replace,
#                 update, pin-unpin and FLAGS the pin flags as a number
#                 (1 PINMGR_PIN_WRITE, 2 PINMGR_PIN_NO_EVENTS); default
#                 replace:3,replace:1,pin-unpin:1
#
# Run `make deps` once first. Boots the stock kernel (KVER as for make
# bench) once, about a minute. Output: $BUILD/bench/sameboot/result.txt,
# the rounds in rounds.txt beside it. For example, the last commit:
#   tests/bench/sameboot.sh HEAD~1 HEAD

set -eu -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
OUT=$BUILD/bench/sameboot
KVER=${KVER:-$("$REPO/scripts/kver.sh")}
KDIR=${KDIR:-/lib/modules/$KVER/build}
rounds=6
phases=8
iters=20000
ops=replace:3,replace:1,pin-unpin:1

die() {
	echo "sameboot: error: $*" >&2
	exit 2
}

while getopts n:p:k:o: opt; do
	case $opt in
	n) rounds=$OPTARG ;;
	p) phases=$OPTARG ;;
	k) iters=$OPTARG ;;
	o) ops=$OPTARG ;;
	*) die "usage: $0 [-n ROUNDS] [-p PHASES] [-k ITERS] [-o OPS] REV_A REV_B" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || die "usage: $0 [-n ROUNDS] [-p PHASES] [-k ITERS] [-o OPS] REV_A REV_B"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive number (got '$rounds')"
[[ $phases =~ ^[1-9][0-9]*$ ]] || die "-p wants a positive number (got '$phases')"
[[ $iters =~ ^[1-9][0-9]*$ ]] || die "-k wants a positive number (got '$iters')"
for o in ${ops//,/ }; do
	[[ $o =~ ^(replace|update|pin-unpin):[0-9]+$ ]] || die "-o: '$o' is not OP:FLAGS"
done
[ -d "$KDIR" ] || die "$KDIR: no kernel headers (run 'make deps')"

rm -rf "$OUT"
mkdir -p "$OUT/extra/usr/local/bin" "$OUT/extra/usr/local/lib" "$OUT/tests"

# Build revision $1's module in $OUT/$2, named $3.
build() {
	local rev=$1 dir=$OUT/$2 name=$3
	local sha

	sha=$(git -C "$REPO" rev-parse --verify -q "$rev^{commit}") ||
		die "$rev: not a revision of $REPO"
	mkdir -p "$dir"
	git -C "$REPO" archive "$sha" module include | tar -x -C "$dir"
	if [ "$name" != pinmgr ]; then
		sed -i -e "s/^obj-m := pinmgr\.o$/obj-m := $name.o/" \
			-e "s/^pinmgr-/$name-/" \
			-e "s/^PIN_TRACKER_TRACE := pinmgr$/PIN_TRACKER_TRACE := $name/" \
			"$dir/module/Kbuild"
		sed -i "s/\.name = \"pinmgr\",/.name = \"$name\",/" \
			"$dir/module/main.c"
		if ! grep -q "^obj-m := $name\.o$" "$dir/module/Kbuild" ||
			! grep -q "\.name = \"$name\"," "$dir/module/main.c"; then
			die "$rev: its Kbuild or device name is not where this script renames them"
		fi
	fi
	make -C "$KDIR" M="$dir/module" modules >"$dir/build.log" 2>&1 ||
		die "$rev: the module does not build (see $dir/build.log)"
	echo "sameboot: $2 = $rev ($(git -C "$REPO" log -1 --format='%h %s' "$sha")) as $name"
}

build "$1" a pinmgr
build "$2" b pinmgrb
build "$1" a2 pinmgrb
build "$2" b2 pinmgr
cp "$OUT/a/module/pinmgr.ko" "$OUT/extra/usr/local/lib/a-pinmgr.ko"
cp "$OUT/b/module/pinmgrb.ko" "$OUT/extra/usr/local/lib/b-pinmgrb.ko"
cp "$OUT/a2/module/pinmgrb.ko" "$OUT/extra/usr/local/lib/a-pinmgrb.ko"
cp "$OUT/b2/module/pinmgr.ko" "$OUT/extra/usr/local/lib/b-pinmgr.ko"
gcc -O2 -Wall -static -I"$REPO/include/uapi" -o "$OUT/extra/usr/local/bin/sameboot" \
	"$HERE/sameboot.c"

# The guest side: a TAP program for tests/vm/run.sh.
cat >"$OUT/tests/sameboot" <<'EOF'
#!/bin/sh
echo "TAP version 13"
echo "1..1"
L=/usr/local/lib
p=0
while [ "$p" -lt "$SAMEBOOT_P" ]; do
	swap=$((p % 2))
	if [ "$p" -gt 0 ]; then
		rmmod pinmgrb pinmgr || { echo "not ok 1 - rmmod"; exit 1; }
		if [ $swap = 1 ]; then first=b-pinmgr second=a-pinmgrb; else first=a-pinmgr second=b-pinmgrb; fi
		insmod $L/$first.ko || { echo "not ok 1 - insmod $first"; exit 1; }
	else
		second=b-pinmgrb	# the harness loaded A as pinmgr
	fi
	insmod $L/$second.ko || { echo "not ok 1 - insmod $second"; exit 1; }
	echo "# phase $p swap $swap"
	for spec in $(echo "$SAMEBOOT_OPS" | tr , ' '); do
		echo "# loop ${spec%:*} flags ${spec#*:}"
		/usr/local/bin/sameboot "$SAMEBOOT_K" "$SAMEBOOT_N" "${spec%:*}" "${spec#*:}" 2>&1 |
			sed 's/^/# /'
	done
	p=$((p + 1))
done
rmmod pinmgrb || { echo "not ok 1 - rmmod pinmgrb"; exit 1; }
echo "ok 1 - sameboot"
EOF
chmod +x "$OUT/tests/sameboot"

echo "sameboot: one boot, $phases phases of $rounds rounds of $iters iterations per loop: $ops"
PINMGR_VM_TEST_ENV="SAMEBOOT_OPS=$ops SAMEBOOT_N=$rounds SAMEBOOT_P=$phases SAMEBOOT_K=$iters" \
PINMGR_KO=$OUT/a/module/pinmgr.ko PINMGR_VM_EXTRA=$OUT/extra \
PINMGR_TESTS_DIR=$OUT/tests PINMGR_TESTS=sameboot \
PINMGR_VM_SLUB_DEBUG='' PINMGR_VM_PREEMPT='' PINMGR_VM_MEM=4096 PINMGR_VM_SMP=2 \
PINMGR_VM_EXT4=0 KVER=$KVER BUILD=$BUILD \
	"$REPO/tests/vm/run.sh" check >"$OUT/vm.log" 2>&1 ||
	die "the boot failed (see $OUT/vm.log and $BUILD/vm/console.log)"
sed -n 's/^@@PINMGR@@ out sameboot # //p' "$BUILD/vm/console.log" | tr -d '\r' \
	>"$OUT/rounds.txt"

# Per loop: B / A per round, then the median and quartiles.
awk '
/^phase / { swap = $4; next }
/^loop / {
	loop = $2 " flags " $4
	if (!(loop in seen)) { seen[loop] = 1; order[++nl] = loop }
	next
}
/^round / {	# a=: /dev/pinmgr, b=: /dev/pinmgrb; swapped: B is pinmgr
	split($3, a, "="); split($4, b, "=")
	if (a[2] > 0 && b[2] > 0)
		q[loop, ++n[loop]] = swap ? a[2] / b[2] : b[2] / a[2]
}
END {
	printf "%-28s %8s %18s %6s\n", "loop", "B/A", "quartiles", "rounds"
	for (i = 1; i <= nl; i++) {
		l = order[i]; m = n[l]
		if (!m) { printf "%-28s no rounds\n", l; continue }
		for (j = 1; j <= m; j++) v[j] = q[l, j]
		for (j = 2; j <= m; j++)	# insertion sort, m is small
			for (k = j; k > 1 && v[k - 1] > v[k]; k--) {
				t = v[k]; v[k] = v[k - 1]; v[k - 1] = t
			}
		med = (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
		printf "%-28s %8.3f %8.3f - %-8.3f %6d\n", l, med,
			v[int((m + 3) / 4)], v[m - int((m + 3) / 4) + 1], m
	}
}' "$OUT/rounds.txt" | tee "$OUT/result.txt"
