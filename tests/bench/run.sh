#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boot the test VM with more memory and run the full benchmark
# ($BUILD/bench/guest/pinbench), then turn what it printed on the serial
# console into
#   $BUILD/bench/results.txt    the table (as printed at the end)
#   $BUILD/bench/results.json   one object per case and contender
#   $BUILD/bench/results.png    throughput against size, one panel per backing
#   $BUILD/bench/vm.log         the harness's own output
# See docs/performance.md for what is measured and how to read it.
#
# Knobs (environment): PINBENCH_ROUNDS (7), PINBENCH_WARMUP (1),
# PINBENCH_SAMPLE_MS (20), PINBENCH_MAX_BYTES (1073741824),
# PINBENCH_REGIONS (100000), PINBENCH_CASES (all: roundtrip,regions,
# threads,sizes,vectored; a subset runs only those sections and prints no
# targets); and the VM harness's own (tests/vm/README.md),
# with these defaults here: PINMGR_VM_MEM=4096, PINMGR_VM_SMP=2,
# PINMGR_VM_EXT4=0, PINMGR_TEST_TIMEOUT=3000, PINMGR_VM_TIMEOUT=3600.

set -eu -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
OUT=$BUILD/bench
GUEST=$OUT/guest
MARK='@@PINMGR@@'

die() {
	echo "bench: error: $*" >&2
	exit 2
}

[ -x "$GUEST/pinbench" ] || die "$GUEST/pinbench not found (run 'make bench')"
[ -f "$GUEST/bench-data/pinmgr_bench_raw.ko" ] || die "$GUEST/bench-data/pinmgr_bench_raw.ko not found (run 'make bench')"

# Settings for the guest program: bench-data/pinbench.conf.
conf=$GUEST/bench-data/pinbench.conf
: >"$conf"
for kv in rounds:PINBENCH_ROUNDS warmup:PINBENCH_WARMUP sample_ms:PINBENCH_SAMPLE_MS \
	max_bytes:PINBENCH_MAX_BYTES regions:PINBENCH_REGIONS cases:PINBENCH_CASES; do
	var=${kv#*:}
	if [ -n "${!var:-}" ]; then
		if [ "$var" = PINBENCH_CASES ]; then
			[[ ${!var} =~ ^[a-z]+(,[a-z]+)*$ ]] || die "$var must be a comma-separated list of sections (got '${!var}')"
		else
			[[ ${!var} =~ ^[0-9]+$ ]] || die "$var must be a number (got '${!var}')"
		fi
		echo "${kv%%:*}=${!var}" >>"$conf"
	fi
done

export PINMGR_TESTS_DIR=$GUEST
export PINMGR_TESTS=pinbench
export PINMGR_VM_MEM=${PINMGR_VM_MEM:-4096}
export PINMGR_VM_SMP=${PINMGR_VM_SMP:-2}
export PINMGR_VM_EXT4=${PINMGR_VM_EXT4:-0}
export PINMGR_TEST_TIMEOUT=${PINMGR_TEST_TIMEOUT:-3000}
export PINMGR_VM_TIMEOUT=${PINMGR_VM_TIMEOUT:-3600}
# Measure the kernel as it is configured by default: no slab debugging and
# voluntary preemption (the test boots add slub_debug=FZPU preempt=full).
export PINMGR_VM_SLUB_DEBUG=${PINMGR_VM_SLUB_DEBUG-}
export PINMGR_VM_PREEMPT=${PINMGR_VM_PREEMPT-}

host_load() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(host_load)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
echo "bench: host $(nproc) CPUs, load average $load_before; guest $PINMGR_VM_SMP vCPUs, $PINMGR_VM_MEM MiB"

rc=0
"$REPO/tests/vm/run.sh" check 2>&1 | tee "$OUT/vm.log" || rc=$?
load_after=$(host_load)

LOG=$BUILD/vm/console.log
[ -f "$LOG" ] || die "no console log $LOG"
# The program's stdout, as the guest relayed it (marker lines only).
grep -a "^$MARK out pinbench " "$LOG" | tr -d '\r' |
	sed "s/^$MARK out pinbench //" >"$OUT/stdout.txt" || true

# The table.
{
	echo "pinmgr benchmark, $started; host: $(nproc) CPUs, load average $load_before before, $load_after after"
	sed -n -e 's/^# | \{0,1\}//p' "$OUT/stdout.txt"
} >"$OUT/results.txt"

# results.json: a list with one object per line.
count=$(sed -n 's/^# @json-count //p' "$OUT/stdout.txt" | tail -n 1)
sed -n 's/^# @json //p' "$OUT/stdout.txt" >"$OUT/results.jsonl"
got=$(wc -l <"$OUT/results.jsonl")
{
	echo "["
	sed -e '$!s/$/,/' "$OUT/results.jsonl"
	echo "]"
} >"$OUT/results.json"
rm -f "$OUT/results.jsonl"
if [ -z "$count" ]; then
	echo "bench: the program did not finish its result list (got $got objects)" >&2
	[ "$rc" != 0 ] || rc=1
elif [ "$count" != "$got" ]; then
	echo "bench: the program printed $count result objects, the console holds $got" >&2
	[ "$rc" != 0 ] || rc=1
fi
if command -v python3 >/dev/null &&
	! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$OUT/results.json"; then
	echo "bench: $OUT/results.json is not valid JSON" >&2
	[ "$rc" != 0 ] || rc=1
fi

# The plot: one data file per backing and contender.
plotdir=$OUT/plot
rm -rf "$plotdir"
mkdir -p "$plotdir"
backings="4k thp hugetlb"
contenders="raw pinmgr pin+close io_uring mlock"
contenders_hugetlb="raw pinmgr pin+close io_uring"
for b in $backings; do
	for c in $contenders; do
		: >"$plotdir/$b-$c.dat"
	done
done
sed -n 's/^# @plot //p' "$OUT/stdout.txt" |
	while read -r b c bytes gibs; do
		[ -e "$plotdir/$b-$c.dat" ] && echo "$bytes $gibs" >>"$plotdir/$b-$c.dat"
	done
rm -f "$OUT/results.png"
if ! grep -q '^# @plot ' "$OUT/stdout.txt"; then
	echo "bench: no size matrix measured (PINBENCH_CASES without sizes); no plot" >&2
elif command -v gnuplot >/dev/null; then
	gnuplot <<EOF || echo "bench: gnuplot failed; no plot" >&2
set terminal pngcairo size 1500,560 font "sans,10" noenhanced
set output "$OUT/results.png"
set multiplot layout 1,3 title "pinmgr benchmark: pin + unpin throughput against range size (GiB of range per second, higher is better)\nmedians of $PINMGR_VM_SMP-vCPU TCG guest runs, $started, host load $load_before"
set logscale xy
set xrange [3000:1.5e9]
set xtics ("4K" 4096, "64K" 65536, "2M" 2097152, "64M" 67108864, "1G" 1073741824)
set format y "%g"
set xlabel "range size"
set ylabel "GiB/s"
set grid
set key bottom right
set style data linespoints
do for [b in "$backings"] {
	if (b eq "hugetlb") {
		set title "hugetlb pages (mlock does nothing on hugetlb: not plotted)"
		plot for [c in "$contenders_hugetlb"] sprintf("$plotdir/%s-%s.dat", b, c) using 1:2 title c lw 2 pt 7 ps 0.8
	} else {
		set title b." pages"
		plot for [c in "$contenders"] sprintf("$plotdir/%s-%s.dat", b, c) using 1:2 title c lw 2 pt 7 ps 0.8
	}
}
unset multiplot
EOF
else
	echo "bench: gnuplot not found (run 'make deps'); no plot" >&2
fi

echo
cat "$OUT/results.txt"
echo
echo "bench: $OUT/results.txt, $OUT/results.json ($got objects)$([ -s "$OUT/results.png" ] && echo ", $OUT/results.png")"
[ "$rc" = 0 ] || echo "bench: FAILED (see above and $OUT/vm.log)" >&2
exit "$rc"
