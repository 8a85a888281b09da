#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/bench/ab.sh: what a module change gains, measured against the
# module before it. One run of a bench section moves its ratios by 10-30 %
# from boot to boot under software emulation (and the raw ioctl's own time
# once moved from 3.7 to 9.5 us between two boots, nothing else running),
# more than most changes gain. So this boots each build again and again,
# in an order rotated every round, runs the same sections
# (tests/bench/run.sh, PINBENCH_CASES) and prints, for every ratio to raw
# the sections measured (a row per case, backing, size and operation),
# each build's median over its boots, its range, and the medians' quotient
# against the first build. Every ratio is still against raw measured in
# the same boot.
#
#   tests/bench/ab.sh [-n ROUNDS] [-c CASES] NAME=MODULE.ko NAME=MODULE.ko ...
#
#   -n ROUNDS   boots per build (default 6)
#   -c CASES    the bench sections (default roundtrip,vectored)
#
# Run `make deps bench-guest` once first: this boots the guest program it
# builds (KVER as for make bench). The host must be quiet, as for `make
# bench`. Every boot's numbers: $BUILD/bench/ab/ab.tsv; the summary: ab.txt
# beside it; each boot's log: NAME.ROUND.log.
# Example, the tree against the module of an older commit:
#   git worktree add /tmp/old HEAD~1 && make -C /tmp/old module
#   tests/bench/ab.sh -n 8 old=/tmp/old/module/pinmgr.ko new=module/pinmgr.ko

set -eu -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
OUT=$BUILD/bench/ab
rounds=6
cases=roundtrip,vectored

die() {
	echo "ab: error: $*" >&2
	exit 2
}

while getopts n:c: opt; do
	case $opt in
	n) rounds=$OPTARG ;;
	c) cases=$OPTARG ;;
	*) die "usage: $0 [-n ROUNDS] [-c CASES] NAME=MODULE.ko NAME=MODULE.ko ..." ;;
	esac
done
shift $((OPTIND - 1))
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive number (got '$rounds')"
[ $# -ge 2 ] || die "name at least two builds: NAME=MODULE.ko NAME=MODULE.ko ..."
names=() kos=()
for arg in "$@"; do
	name=${arg%%=*} ko=${arg#*=}
	[[ $arg == *=* && $name =~ ^[A-Za-z0-9_-]+$ ]] || die "'$arg' is not NAME=MODULE.ko (NAME: letters, digits, _ and -)"
	[ -f "$ko" ] || die "$ko: no such module"
	for n in "${names[@]}"; do
		[ "$n" != "$name" ] || die "two builds named $name"
	done
	names+=("$name")
	kos+=("$(cd "$(dirname "$ko")" && pwd)/$(basename "$ko")")
done

mkdir -p "$OUT"
rm -f "$OUT"/*.log
tsv=$OUT/ab.tsv
: >"$tsv"
nb=${#names[@]}
echo "ab: $rounds rounds of '$cases', $nb builds, order rotated each round"
for ((r = 0; r < rounds; r++)); do
	for ((j = 0; j < nb; j++)); do
		i=$(((r + j) % nb))
		log=$OUT/${names[$i]}.$r.log
		if ! PINMGR_KO=${kos[$i]} PINBENCH_CASES=$cases "$HERE/run.sh" >"$log" 2>&1; then
			die "round $r, ${names[$i]}: the bench failed (see $log)"
		fi
		# One line per ratio measured (not null), raw's own left out:
		# build, round, "case backing bytes: op", ratio to raw, from
		# results.json (one object a line, fields in this order).
		sed -n '/"contender":"raw"/!s/.*"case":"\([^"]*\)".*"backing":"\([^"]*\)","bytes":\([0-9]*\).*"ratio_to_raw":\([0-9.][0-9.]*\),.*"op":"\([^"]*\)".*/'"${names[$i]}\t$r"'\t\1 \2 \3: \5\t\4/p' \
			"$BUILD/bench/results.json" >"$OUT/boot.tsv"
		got=$(wc -l <"$OUT/boot.tsv")
		[ "$got" -gt 0 ] || die "round $r, ${names[$i]}: no ratio to raw in the output (sections '$cases'; see $log)"
		cat "$OUT/boot.tsv" >>"$tsv"
		echo "ab: round $((r + 1))/$rounds, ${names[$i]}: $got ratios"
	done
done
rm -f "$OUT/boot.tsv"

# Per ratio and build: median [min-max] over the boots that measured it
# (with their number, where that is not every boot); then the quotient of
# the medians against the first build's.
summary=$OUT/ab.txt
awk -F'\t' -v names="${names[*]}" -v rounds="$rounds" -v cases="$cases" '
function median(list,   a, i, j, n, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	cnt = n; lo = a[1]; hi = a[n]
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	if (!($3 in seen)) { seen[$3] = 1; order[++nw] = $3 }
	v[$1, $3] = v[$1, $3] " " $4
}
END {
	nn = split(names, nm, " ")
	printf "ratios to raw in the same boot: median [range] over %d boots per build, sections %s\n", rounds, cases
	printf "%-72s", "case backing bytes: op"
	for (k = 1; k <= nn; k++)
		printf "  %-26s", nm[k] (k > 1 ? " (/" nm[1] ")" : "")
	printf "\n"
	for (w = 1; w <= nw; w++) {
		printf "%-72s", substr(order[w], 1, 72)
		base = 0
		for (k = 1; k <= nn; k++) {
			if (!((nm[k], order[w]) in v)) { printf "  %-26s", "-"; continue }
			m = median(v[nm[k], order[w]])
			if (k == 1)
				base = m
			cell = sprintf("%.2f [%.2f-%.2f]", m, lo, hi)
			if (cnt != rounds)
				cell = cell sprintf(" n=%d", cnt)
			if (k > 1 && base > 0)
				cell = cell sprintf(" %.2f", m / base)
			printf "  %-26s", cell
		}
		printf "\n"
	}
}' "$tsv" | tee "$summary"
echo "ab: $summary, per boot: $tsv"
