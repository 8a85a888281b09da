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
# The RDMA contender: Soft-RoCE (rdma_rxe, which needs the crc32 crypto
# module) on the interface the dummy module makes when it loads. A kernel
# without them fails the boot: set PINMGR_VM_MODULES= to go without.
# The VFIO contender: QEMU's edu device behind an emulated Intel IOMMU
# (q35), bound to vfio-pci.
# The dma-buf section: DRM's vgem imports the exports (vivid, which the
# check runs also load, is left out here).
export PINMGR_VM_MODULES=${PINMGR_VM_MODULES-crc32_generic rdma_rxe dummy vfio_pci vfio_iommu_type1 vgem}
export PINMGR_VM_IMPORTERS=${PINMGR_VM_IMPORTERS:-0}
export PINMGR_VM_QEMU_ARGS=${PINMGR_VM_QEMU_ARGS-"-machine q35 -device intel-iommu -device edu"}
export PINMGR_VM_APPEND=${PINMGR_VM_APPEND-intel_iommu=on}
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

# The plot: one data file per backing and contender ("bytes GiB/s ratio
# lo hi"), and one panel per backing that was measured: each contender's
# time as a ratio to raw's in the same rounds, the bars the spread of that
# ratio over the rounds. Absolute numbers stay in the table.
plotdir=$OUT/plot
rm -rf "$plotdir"
mkdir -p "$plotdir"
contenders="pinmgr pin+close io_uring io_uring-upd udmabuf rdma vfio mlock"
sed -n 's/^# @plot //p' "$OUT/stdout.txt" |
	while read -r b c bytes gibs ratio lo hi; do
		[ -n "$hi" ] && echo "$bytes $gibs $ratio $lo $hi" >>"$plotdir/$b-$c.dat"
	done
backings=
for b in 4k thp hugetlb memfd memfd-hugetlb; do
	[ -s "$plotdir/$b-raw.dat" ] && backings="$backings $b"
	# A contender not measured on this backing: an empty file plots nothing.
	for c in $contenders; do
		[ -e "$plotdir/$b-$c.dat" ] || : >"$plotdir/$b-$c.dat"
	done
done
backings=${backings# }
nb=$(echo "$backings" | wc -w)
rm -f "$OUT/results.png"
if [ "$nb" = 0 ]; then
	echo "bench: no size matrix measured (PINBENCH_CASES without sizes); no plot" >&2
elif command -v gnuplot >/dev/null; then
	gnuplot <<EOF || echo "bench: gnuplot failed; no plot" >&2
set terminal pngcairo size $((nb * 480 + 60)),680 font "sans,10" noenhanced
set output "$OUT/results.png"
set multiplot layout 1,$nb title "pinmgr benchmark: time of pin + unpin as a ratio to the raw kernel loop in the same rounds (lower is better; bars: spread over the rounds; off the chart: see results.txt)\nmedians of $PINMGR_VM_SMP-vCPU TCG guest runs, $started, host load $load_before; absolute times in results.txt"
set logscale xy
set xrange [3000:1.5e9]
# Around 1 is where the targets are: io_uring's whole-table register and
# mlock of huge pages leave the chart (their numbers are in the table).
set yrange [0.5:20]
set xtics ("4K" 4096, "64K" 65536, "2M" 2097152, "64M" 67108864, "1G" 1073741824)
set format y "%g"
set xlabel "range size"
set ylabel "time / raw's"
set grid
set key below horizontal
# pinmgr stands out; the others in colours of their own.
array col[8] = ["#d62728", "#ff7f0e", "#1f77b4", "#17becf", "#2ca02c", "#8c564b", "#e377c2", "#9467bd"]
array pts[8] = [7, 5, 9, 11, 13, 3, 1, 15]
cs = "$contenders"
do for [b in "$backings"] {
	set title b." pages"
	plot 1.10 title "1.10 (1 GiB target)" lc rgb "black" dt 2 lw 1, \
	     for [i=1:words(cs)] sprintf("$plotdir/%s-%s.dat", b, word(cs, i)) \
		using 1:3:4:5 with yerrorlines title word(cs, i) \
		lc rgb col[i] pt pts[i] ps 0.8 lw (i == 1 ? 2.5 : 1.5)
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
