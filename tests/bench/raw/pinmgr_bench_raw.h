/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * pinmgr_bench_raw: ioctl interface of the benchmark's companion module,
 * shared by the module and tests/bench/pinbench.c. Bench only: not part of
 * pinmgr's ABI, never installed.
 */
#ifndef _PINMGR_BENCH_RAW_H
#define _PINMGR_BENCH_RAW_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define PINMGR_BENCH_RAW_NAME	"pinmgr_bench_raw"

/* Pages per pin_user_pages_fast() call, as in pinmgr (one page of pointers). */
#define PINMGR_BENCH_RAW_BATCH	512

/**
 * struct pinmgr_bench_raw_pin - ioctl(PINMGR_BENCH_RAW_PIN_UNPIN)
 * @size: sizeof(struct pinmgr_bench_raw_pin)
 * @flags: 0, or %PINMGR_BENCH_RAW_TIMED
 * @addr: user address of the first byte
 * @length: length in bytes, not 0
 * @out_npages: pages pinned and unpinned
 * @out_pin_ns: with %PINMGR_BENCH_RAW_TIMED, time spent pinning
 *	(ktime_get_ns()); the allocation of the page array (kvmalloc_array())
 *	is not included. 0 without the flag.
 * @out_unpin_ns: likewise, time spent unpinning; kvfree() of the array not
 *	included
 *
 * Pins every page [@addr, @addr + @length) touches with
 * pin_user_pages_fast(FOLL_LONGTERM | FOLL_WRITE) into a page array, in
 * batches of %PINMGR_BENCH_RAW_BATCH pages, then unpins them all with
 * unpin_user_pages_dirty_lock(), dirtying them, in batches of the same size.
 * Nothing stays pinned when the ioctl returns, whatever it returns.
 *
 * The clock is read only when asked: in the test VM (TCG, clocksource hpet)
 * each ktime_get_ns() is an emulated HPET read of about 0.7 us, which made
 * up some 60 % of an untimed 4 KiB pin+unpin, so the floor that every
 * ratio divides by must not pay for it.
 */
struct pinmgr_bench_raw_pin {
	__u32 size;
	__u32 flags;
	__aligned_u64 addr;
	__aligned_u64 length;
	__aligned_u64 out_npages;
	__aligned_u64 out_pin_ns;
	__aligned_u64 out_unpin_ns;
};

/**
 * enum pinmgr_bench_raw_flags - &struct pinmgr_bench_raw_pin.flags
 * @PINMGR_BENCH_RAW_TIMED: fill in out_pin_ns and out_unpin_ns
 */
enum pinmgr_bench_raw_flags {
	PINMGR_BENCH_RAW_TIMED = 1 << 0,
};

#define PINMGR_BENCH_RAW_PIN_UNPIN \
	_IOWR(0xBD, 0x00, struct pinmgr_bench_raw_pin)

#endif /* _PINMGR_BENCH_RAW_H */
