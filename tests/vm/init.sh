#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the pinmgr test VM (busybox ash, PID 1). tests/vm/run.sh copies it
# into the initramfs together with /etc/pinmgr-vm.conf, which sets:
#   MODE            check | demo
#   TEST_TIMEOUT    seconds each test program may run before it is killed
#   SETTLE_TIMEOUT  seconds to wait for asynchronous unpins / fput (see settle)
#   MODPROBE        1: `modprobe pinmgr` from /lib/modules instead of
#                   `insmod /pinmgr.ko` (run.sh's PINMGR_VM_MODPROBE)
#   PROGS           check mode: the programs of /tests this boot runs, in
#                   order (run.sh splits them over its boots); if unset,
#                   every top-level executable of /tests
#   TEST_ENV        NAME=VALUE words put in every test program's
#                   environment (run.sh's PINMGR_VM_TEST_ENV), e.g. a seed
#
# Everything the host parses is one line starting with the marker "$M ", and
# is written with a single printf, so that kernel messages on the same serial
# console can only come between lines, not (normally) inside them:
#   $M hello mode=MODE uptime=SECONDS
#   $M begin PROG                      a test program starts
#   $M out PROG LINE                   a line of its stdout (TAP), live
#   $M err PROG LINE                   a line of its stderr, after it exited
#   $M check PROG ok|FAIL|SKIP DESC[ # REASON]   a check made by this script
#   $M detail PROG LINE                details of the check before it
#   $M prog-end PROG tap=N secs=S      N = TAP result lines the guest saw,
#                                      S = seconds from start to exit
#   $M demo LINE                       demo mode: text for the person watching
#   $M info LINE                       a remark the host shows as "vm: guest: LINE"
#   $M end uptime=SECONDS              the last line; the guest powers off
# PROG is "vm" for checks not tied to a test program.
#
# No `set -e`: every failure is reported and the run goes on to the end
# marker. If this script dies anyway, the kernel panics (PID 1 exited), QEMU
# exits (-no-reboot) and the host reports that the guest did not finish.

export PATH=/bin
M='@@PINMGR@@'
MODE=check
TEST_TIMEOUT=120
SETTLE_TIMEOUT=5
# shellcheck source=/dev/null
[ -r /etc/pinmgr-vm.conf ] && . /etc/pinmgr-vm.conf

W=/tmp/pinmgr-vm	# scratch space for this script (on the tmpfs)

# Kernel log lines that fail a run, and benign lines that match anyway
# (extended regular expressions, for grep -E). The kmemleak ones are printed
# at boot by a kernel with CONFIG_DEBUG_KMEMLEAK; a debug kernel may need more.
BAD_KLOG='BUG:|WARNING:|Oops|KASAN|kernel BUG|possible circular locking|lockdep|refcount_t|general protection|UBSAN|kmemleak|Call Trace|blocked for more than|inconsistent lock state|unreferenced object'
IGNORE_KLOG='kmemleak: (Kernel memory leak detector initialized|Automatic memory scanning thread started)'
# A kernel with CONFIG_PROVE_RCU says so at boot.
IGNORE_KLOG="$IGNORE_KLOG|rcu:[[:space:]]+RCU lockdep checking is enabled\."

emit() { printf '%s %s\n' "$M" "$*"; }
check() { emit check "$@"; }		# check PROG STATUS DESC...
detail() { emit detail "$@"; }		# detail PROG LINE
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# emit_file PREFIX FILE [MAX]: "$M PREFIX LINE" for each line of FILE
# (PREFIX is e.g. "err NAME"), at most MAX lines.
emit_file() {
	_n=0
	while IFS= read -r _l || [ -n "$_l" ]; do
		_n=$((_n + 1))
		if [ -n "${3:-}" ] && [ "$_n" -gt "$3" ]; then
			emit "$1" "... (truncated after $3 lines)"
			break
		fi
		emit "$1" "$_l"
	done <"$2"
}

# settle CMD...: run CMD until it succeeds, at most SETTLE_TIMEOUT seconds.
# Unpinning and closing can legitimately finish after the process is gone
# (deferred fput, io_uring's ring teardown runs in a workqueue), and nothing
# in userspace can wait for them, so the post-program checks poll for the
# expected state with a deadline instead of sampling it once.
centis() {	# $_cs = uptime in 1/100 s
	read -r _up _ </proc/uptime
	_cs=$((${_up%.*} * 100 + 1${_up#*.} - 100))
}
settle() {
	centis
	_deadline=$((_cs + SETTLE_TIMEOUT * 100))
	while ! "$@"; do
		centis
		[ "$_cs" -lt "$_deadline" ] || return 1
		usleep 50000
	done
}

# pins_balanced: true when every FOLL_PIN ever taken has been released.
# Sets $acq and $rel. stat_refresh folds the per-CPU deltas into the totals.
pins_balanced() {
	echo 1 >/proc/sys/vm/stat_refresh 2>/dev/null
	acq=$(awk '$1 == "nr_foll_pin_acquired" { print $2 }' /proc/vmstat)
	rel=$(awk '$1 == "nr_foll_pin_released" { print $2 }' /proc/vmstat)
	[ -n "$acq" ] && [ "$acq" = "$rel" ]
}

check_pins() {	# check_pins PROG DESC
	if settle pins_balanced; then
		check "$1" ok "$2"
	else
		check "$1" FAIL "$2 # acquired $acq, released $rel: $((acq - rel)) pages still pinned"
	fi
}

refcnt_zero() {
	refcnt=$(cat /sys/module/pinmgr/refcnt 2>/dev/null) || refcnt="(module not loaded)"
	[ "$refcnt" = 0 ]
}

check_refcnt() {	# check_refcnt PROG DESC
	if settle refcnt_zero; then
		check "$1" ok "$2"
	else
		check "$1" FAIL "$2 # refcnt $refcnt: a /dev/pinmgr file is still open"
	fi
}

# check_klog PROG DESC: scan kernel messages logged since the last call and
# clear the ring buffer. Offending lines, then the log around them, go out
# as details. Everything is also kept in $W/kernel.log.
check_klog() {
	dmesg -c >"$W/klog.new" 2>&1
	cat "$W/klog.new" >>"$W/kernel.log"
	grep -E "$BAD_KLOG" "$W/klog.new" | grep -v -E "$IGNORE_KLOG" >"$W/klog.bad"
	if [ -s "$W/klog.bad" ]; then
		check "$1" FAIL "$2 # $(wc -l <"$W/klog.bad") suspicious kernel log lines"
		emit_file "detail $1" "$W/klog.bad" 20
		first=$(grep -n -F -x -f "$W/klog.bad" "$W/klog.new" | head -n 1 | cut -d: -f1)
		start=$((first > 5 ? first - 5 : 1))
		detail "$1" "--- kernel log from line $start ---"
		sed -n "$start,\$p" "$W/klog.new" | head -n 80 >"$W/klog.ctx"
		emit_file "detail $1" "$W/klog.ctx"
	else
		check "$1" ok "$2"
	fi
}

# kmemleak (a debug kernel with CONFIG_DEBUG_KMEMLEAK; nothing happens
# without /sys/kernel/debug/kmemleak). It reports only after a scan, and
# never objects younger than 5 s. Its automatic scans are off in pinmgr's
# debug kernel (a report in the middle of a run would be blamed on whichever
# program runs): this script scans once before pinmgr is loaded (a baseline:
# what is unreferenced then cannot be pinmgr's), then after the last program
# and again after rmmod. A report there fails the run and is printed.
# (These functions' variables are _kl_*: emit_file's $_n is global.)
KMEMLEAK=/sys/kernel/debug/kmemleak

# kmemleak_scan FILE N: wait out the minimum age, scan N times (an object
# reported by one scan but found referenced by the next is not reported),
# write the report to FILE (empty: no leak). A scan of a 2 GiB guest takes
# 11-25 s on the debug kernel. False, with the reason in
# $W/kmemleak.err, when kmemleak is off (it turns itself off after an
# internal error, and that must not pass for "no leaks").
kmemleak_scan() {
	sleep 5
	_kl_i=0
	while [ "$_kl_i" -lt "$2" ]; do
		echo scan 2>"$W/kmemleak.err" >"$KMEMLEAK" || return 1
		_kl_i=$((_kl_i + 1))
	done
	cat "$KMEMLEAK" 2>"$W/kmemleak.err" >"$1"
}

# kmemleak_baseline: before pinmgr is loaded. Objects unreferenced now are
# shown as info and cleared (later scans do not report them again), and the
# boot log is checked, letting through only the scan's own "N new suspected
# memory leaks" line.
kmemleak_baseline() {
	[ -e "$KMEMLEAK" ] || return 0
	if ! kmemleak_scan "$W/kmemleak.boot" 1; then
		check vm FAIL "kmemleak works # $(cat "$W/kmemleak.err")"
		return 0
	fi
	_kl_n=$(grep -c '^unreferenced object' "$W/kmemleak.boot")
	_kl_ign=$IGNORE_KLOG
	if [ "$_kl_n" -gt 0 ]; then
		emit info "kmemleak: $_kl_n object(s) unreferenced before pinmgr was loaded (not pinmgr's; cleared):"
		head -n 60 "$W/kmemleak.boot" >"$W/kmemleak.show"
		emit_file info "$W/kmemleak.show"
		echo clear >"$KMEMLEAK"
		IGNORE_KLOG="$IGNORE_KLOG|kmemleak: $_kl_n new suspected memory leaks"
	fi
	check_klog vm "kernel log clean after boot and the kmemleak baseline scan"
	IGNORE_KLOG=$_kl_ign
}

# check_kmemleak PROG DESC: a scan must report nothing new. A report is
# printed, then cleared so that the next scan shows only what is new; the
# scans' own "N new suspected memory leaks" lines then fail no later check
# (the run has failed already).
check_kmemleak() {
	[ -e "$KMEMLEAK" ] || return 0
	if ! kmemleak_scan "$W/kmemleak.rep" 2; then
		check "$1" FAIL "$2 # kmemleak does not work: $(cat "$W/kmemleak.err")"
		return 0
	fi
	_kl_n=$(grep -c '^unreferenced object' "$W/kmemleak.rep")
	if [ "$_kl_n" -gt 0 ]; then
		check "$1" FAIL "$2 # kmemleak: $_kl_n unreferenced object(s)"
		emit_file "detail $1" "$W/kmemleak.rep" 120
		echo clear >"$KMEMLEAK"
		# (each of the scans logs how many it found new)
		IGNORE_KLOG="$IGNORE_KLOG|kmemleak: [0-9]+ new suspected memory leaks"
	else
		check "$1" ok "$2"
	fi
}

# leftovers: true if no user process other than this script (PID 1), the
# stdout relay and $KEEP_PIDS is alive; else $left lists them as PID:NAME.
# Kernel threads and zombies have an empty /proc/PID/cmdline. Builtins only:
# no fork, so the scan cannot find itself.
KEEP_PIDS=''	# hooks may add the PIDs of helpers they leave running
leftovers() {
	left=''
	for _d in /proc/[0-9]*; do
		_p=${_d#/proc/}
		case " 1 $relay $KEEP_PIDS " in *" $_p "*) continue ;; esac
		_c=''
		read -r _c 2>/dev/null <"$_d/cmdline"	# NUL-separated, no newline
		[ -n "$_c" ] || continue
		_comm=''
		read -r _comm 2>/dev/null <"$_d/comm"
		left="$left $_p:$_comm"
	done
	[ -z "$left" ]
}

# relay_done: the stdout relay has seen end of file, and nothing is left.
relay_done() { leftovers && [ -e "$W/relay.done" ]; }

# run_prog NAME: run /tests/NAME with a timeout, stream its stdout, then make
# the per-program checks.
run_prog() {
	name=$1
	out=$W/$name.out err=$W/$name.err fifo=$W/$name.fifo flag=$W/$name.timedout
	rm -f "$out" "$err" "$fifo" "$flag" "$W/relay.done"
	: >"$out"
	mkfifo "$fifo"
	emit begin "$name"
	centis
	t_begin=$_cs

	# Relay stdout live, until every writer (the program and anything it
	# forked) has closed it.
	(
		while IFS= read -r line || [ -n "$line" ]; do
			printf '%s\n' "$line" >>"$out"
			emit out "$name" "$line"
		done <"$fifo"
		: >"$W/relay.done"
	) &
	relay=$!

	# setsid: the program leads its own process group (pgid = $pid), so a
	# timeout kills whatever it forked too. It runs as root, in /tmp.
	# shellcheck disable=SC2086 # TEST_ENV is NAME=VALUE words
	(cd /tmp && exec env ${TEST_ENV:-} setsid "/tests/$name" </dev/null >"$fifo" 2>"$err") &
	pid=$!
	# The watchdog also leads its own group so that it and its sleep can be
	# killed together once the program is done.
	# Before it kills, it saves where each of the group's threads is in the
	# kernel, straight to the console (as detail lines): a program stuck
	# where no signal reaches it is never reaped, and the host stops a
	# guest that falls silent, so nothing after the kill may be needed to
	# see them. Reading a stack can block too (exec_update_lock): 10 s.
	setsid sh -c "sleep $TEST_TIMEOUT; : >$flag; timeout 10 sh $W/stacks.sh $pid $name 2>/dev/null; kill -TERM -$pid; sleep 5; kill -KILL -$pid" \
		</dev/null 2>/dev/null &
	wd=$!

	wait "$pid"
	rc=$?
	centis
	t_ran=$((_cs - t_begin))
	# Timed out only if the watchdog fired while the program ran.
	timed_out=''
	[ -e "$flag" ] && timed_out=1
	# The watchdog's group exists only once its setsid has run. A program
	# that ends first (failnth skips in 0.1 s on 6.12) left the group kill
	# nothing to kill, and the wait below then sat out the whole timeout
	# and reported one (the guest's uptime showed the 120 s). So kill the
	# process itself too, first: a process with SIGKILL pending forks no
	# more, and whatever it forked before is in the group.
	kill -KILL "$wd" 2>/dev/null
	kill -KILL -"$wd" 2>/dev/null
	wait "$wd" 2>/dev/null

	# Whatever the program started must be gone too (it may hold stdout, a
	# /dev/pinmgr file or pins). Processes that escaped its process group
	# are found by scanning /proc, reported and killed, so that they cannot
	# spoil the checks of the programs after this one.
	if ! settle relay_done; then
		if [ -n "$left" ]; then
			check "$name" FAIL "no processes left running # killed$left"
			for _l in $left; do kill -KILL "${_l%%:*}" 2>/dev/null; done
			settle leftovers
		fi
		# Anything still holding stdout is dead now; the relay is next.
		settle test -e "$W/relay.done" || kill -KILL "$relay" 2>/dev/null
	fi
	wait "$relay" 2>/dev/null
	relay=''

	emit_file "err $name" "$err" 500

	# (a) exit status
	if [ -n "$timed_out" ]; then
		check "$name" FAIL "timed out after $TEST_TIMEOUT s # killed, status $rc; the kernel stacks of its threads are above"
	elif [ "$rc" = 0 ]; then
		check "$name" ok "exit status 0"
	elif [ "$rc" = 4 ] && ! grep -q '^not ok' "$out"; then
		# kselftest's KSFT_SKIP: the program found nothing it could test.
		check "$name" SKIP "exit status 4 # KSFT_SKIP"
	elif [ "$rc" -gt 128 ]; then
		check "$name" FAIL "killed by signal $((rc - 128)) # expected exit status 0"
	else
		check "$name" FAIL "exit status $rc # expected 0"
	fi
	# (b) pins (c) open files (d) kernel log
	check_pins "$name" "pins balanced after program"
	check_refcnt "$name" "module refcnt 0 after program"
	check_klog "$name" "kernel log clean"

	emit prog-end "$name" "tap=$(grep -c -E '^(not )?ok( |$)' "$out")" \
		"secs=$((t_ran / 100)).$((t_ran % 100 / 10))"
	rm -f "$fifo"
}

show_pins() {	# show_pins TITLE (demo mode)
	echo 1 >/proc/sys/vm/stat_refresh 2>/dev/null
	emit demo ""
	emit demo "--- $1: /proc/vmstat ---"
	grep '^nr_foll_pin' /proc/vmstat >"$W/pins"
	emit_file demo "$W/pins"
}

show_module() {	# (demo mode)
	emit demo ""
	emit demo "--- module state ---"
	{
		grep '^pinmgr ' /proc/modules || echo "pinmgr: not loaded"
		[ -e /sys/module/pinmgr/refcnt ] &&
			echo "/sys/module/pinmgr/refcnt: $(cat /sys/module/pinmgr/refcnt)"
		ls -l /dev/pinmgr 2>&1
	} >"$W/mod"
	emit_file demo "$W/mod"
}

run_demo() {
	show_pins "before the demo"
	emit demo ""
	emit demo "--- /pinmgr-demo ---"
	(cd /tmp && exec timeout -k 5 "$TEST_TIMEOUT" /pinmgr-demo) </dev/null >"$W/demo.out" 2>&1
	rc=$?
	emit_file demo "$W/demo.out"
	if [ "$rc" = 0 ]; then
		check demo ok "pinmgr-demo exit status 0"
	else
		check demo FAIL "pinmgr-demo exit status 0 # exit status $rc"
	fi
	show_pins "after the demo"
	show_module
	check_pins demo "pins balanced after the demo"
	check_refcnt demo "module refcnt 0 after the demo"
	check_klog demo "kernel log clean"
}

finish() {
	emit end "uptime=$(uptime_s)"
	sync
	poweroff -f
	# Only reached if power-off is not possible (no ACPI): with QEMU's
	# -no-reboot a reboot ends QEMU too.
	reboot -f
}

# ---------------------------------------------------------------------------

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# stdio was opened on the initramfs's /dev/console; make sure it is the real one.
exec </dev/console >/dev/console 2>&1
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/shm /dev/pts "$W"
# stacks.sh PGID NAME: every thread of process group PGID, its state and
# kernel stack, as detail lines of program NAME (the watchdog's report of
# a program that timed out), at most 300 lines.
cat >"$W/stacks.sh" <<EOF_STACKS
M='$M'
EOF_STACKS
cat >>"$W/stacks.sh" <<'EOF_STACKS'
want=$1 name=$2
printf '%s detail %s %s\n' "$M" "$name" "--- kernel stacks of its threads at the timeout ---"
for st in /proc/[0-9]*/task/[0-9]*/stat; do
	line=$(cat "$st" 2>/dev/null) || continue
	# shellcheck disable=SC2086 # the fields after "(comm) "
	set -- ${line##*) }
	[ "$3" = "$want" ] || continue
	d=${st%/stat}
	echo "$(cat "$d/comm" 2>/dev/null) ${d#/proc/}: $(grep '^State' "$d/status" 2>/dev/null)"
	sed 's/^/    /' "$d/stack" 2>/dev/null
done | head -n 300 | while IFS= read -r l; do
	printf '%s detail %s %s\n' "$M" "$name" "$l"
done
EOF_STACKS
mount -t tmpfs tmpfs /dev/shm
mount -t devpts devpts /dev/pts
hostname pinmgr-vm
# The first memory cgroup to come online turns on the kernel's kmem
# accounting static key, which patches its call sites (text_poke). In a
# run of the suite on stock 6.1 under TCG, ksoftirqd sat at such a site in
# __free_slab (RCU callbacks freeing slabs after stress's 100000-region
# close) from the moment stress's memcg case made its group, for good:
# soft lockup, RCU stall. Turn the key on now, while nothing runs; the
# tests make their own groups later.
# And with one CPU online: multi-threaded TCG can miss a write to a page
# whose code another vCPU is translating at that moment, and then runs the
# stale translation. On stock 6.12 one boot in six (and one CI run) died
# of it: "Oops: int3" in kmem_cache_free, at a site that already read
# "66 90", with no module loaded. One vCPU cannot race itself. The other
# CPUs come back before anything else runs.
offline=''
for _c in /sys/devices/system/cpu/cpu[1-9]*/online; do
	[ -e "$_c" ] && [ "$(cat "$_c")" = 1 ] && echo 0 >"$_c" 2>/dev/null &&
		offline="$offline $_c"
done
if mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null; then
	if echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null &&
		mkdir /sys/fs/cgroup/pinmgr-boot 2>/dev/null; then
		rmdir /sys/fs/cgroup/pinmgr-boot
	fi
	umount /sys/fs/cgroup
fi
not_back=''
for _c in $offline; do
	echo 1 >"$_c" 2>/dev/null || not_back="$not_back ${_c%/online}"
done
# The firmware leaves the cursor mid-line (and the quiet kernel says
# nothing): start the first marker line on a line of its own.
echo
emit hello "mode=$MODE uptime=$(uptime_s)"
[ -z "$not_back" ] ||
	check vm FAIL "every CPU back online after the boot's memory cgroup # offline:$not_back"

# Extra kernel modules chosen by the host (PINMGR_VM_MODULES, PINMGR_VM_DISK),
# one path per line, in dependency order.
if [ -s /etc/pinmgr-vm.modules ]; then
	while read -r ko; do
		insmod "$ko" >"$W/insmod.err" 2>&1 && continue
		if grep -q 'No such device' "$W/insmod.err"; then
			# e.g. crc32c-intel on a CPU without SSE4.2: an optional
			# accelerated variant that modprobe --show-depends lists too.
			emit info "insmod $(basename "$ko"): no such device here, skipped"
		else
			check vm FAIL "insmod $(basename "$ko") # $(cat "$W/insmod.err")"
		fi
	done </etc/pinmgr-vm.modules
fi

# Hooks added by later work through $BUILD/vm/extra/etc/pinmgr-vm.d/*.sh
# (e.g. mount a disk). Sourced: they can use emit/check.
for hook in /etc/pinmgr-vm.d/*.sh; do
	# shellcheck source=/dev/null
	[ -e "$hook" ] && . "$hook"
done
kmemleak_baseline

# MODPROBE=1 (PINMGR_VM_MODPROBE): load pinmgr by name from the depmod'ed
# /lib/modules tree run.sh built (e.g. the DKMS-built module), not the file.
if [ "${MODPROBE:-0}" = 1 ]; then
	load="modprobe pinmgr" load_what="modprobe pinmgr"
else
	load="insmod /pinmgr.ko" load_what="insmod pinmgr.ko"
fi
if ! $load >"$W/insmod.err" 2>&1; then
	check vm FAIL "$load_what # $(cat "$W/insmod.err")"
	check_klog vm "kernel log clean after boot and insmod"
	finish
fi
check vm ok "$load_what"
if [ -c /dev/pinmgr ]; then
	check vm ok "/dev/pinmgr exists"
else
	check vm FAIL "/dev/pinmgr exists # no character device /dev/pinmgr after insmod"
fi
check_klog vm "kernel log clean after boot and insmod"

case $MODE in
check)
	# Top-level executables only, by name (LC_ALL=C order); subdirectories
	# of /tests hold helpers. PROGS, when set, picks this boot's share.
	# shellcheck disable=SC2012 # names are checked by run.sh: no spaces
	[ "${PROGS+set}" = set ] || PROGS=$(cd /tests && ls | LC_ALL=C sort)
	for t in $PROGS; do
		[ -f "/tests/$t" ] && [ -x "/tests/$t" ] && run_prog "$t"
	done
	;;
demo)
	run_demo
	;;
*)
	check vm FAIL "mode # unknown MODE '$MODE'"
	;;
esac

# (with pinmgr loaded, the report names its functions)
check_kmemleak vm "no kernel memory leaks with pinmgr loaded (kmemleak)"
if rmmod pinmgr >"$W/rmmod.err" 2>&1; then
	check vm ok "rmmod pinmgr"
else
	check vm FAIL "rmmod pinmgr # $(cat "$W/rmmod.err")"
fi
[ "$MODE" = demo ] && show_pins "after rmmod"
check_pins vm "pins balanced after rmmod"
check_klog vm "kernel log clean after rmmod"
check_kmemleak vm "no kernel memory leaks after rmmod (kmemleak)"
finish
