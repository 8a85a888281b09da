// SPDX-License-Identifier: GPL-2.0
/*
 * sameboot: the guest half of tests/bench/sameboot.sh. Two builds of the
 * module are loaded in one boot, as /dev/pinmgr (A) and /dev/pinmgrb (B);
 * each round times the same loop of 4 KiB pins against each in turn, the
 * order swapped every round, and prints both times. The host side takes
 * the quotient per round: what B costs against A under the same host
 * load, which moves both alike, where comparing boots compares the load.
 *
 *   sameboot ITERS ROUNDS OP FLAGS
 *
 * OP: replace (UPDATE_REPLACE of one range, handle kept), update (UPDATE
 * of one range, new handle), pin-unpin (PIN then UNPIN). FLAGS: pin flags
 * (PINMGR_PIN_*) as a number. Output, one line a round:
 *   round R a=NS b=NS      (nanoseconds per iteration)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pinmgr.h>

#define RING	64	/* buffers the loop goes round */

enum op { OP_REPLACE, OP_UPDATE, OP_PIN_UNPIN };

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "sameboot: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* One iteration of @op on @fd; *@last is the handle held between them. */
static void step(int fd, enum op op, uint32_t flags, char *addr,
		 uint32_t *last)
{
	struct pinmgr_pin_range r = { .addr = (uintptr_t)addr, .length = 4096 };
	struct pinmgr_update u = {
		.size = sizeof(u), .flags = flags, .nr_unpin = 1, .nr_pin = 1,
		.unpin = (uintptr_t)last, .pin = (uintptr_t)&r,
	};
	struct pinmgr_pin p = {
		.size = sizeof(p), .flags = flags, .addr = (uintptr_t)addr,
		.length = 4096,
	};
	struct pinmgr_unpin un = { .size = sizeof(un) };

	switch (op) {
	case OP_REPLACE:
		u.flags |= PINMGR_UPDATE_REPLACE;
		if (ioctl(fd, PINMGR_UPDATE, &u))
			die("UPDATE_REPLACE");
		break;
	case OP_UPDATE:
		if (ioctl(fd, PINMGR_UPDATE, &u))
			die("UPDATE");
		*last = r.out_handle;
		break;
	case OP_PIN_UNPIN:
		if (ioctl(fd, PINMGR_PIN, &p))
			die("PIN");
		un.handle = p.out_handle;
		if (ioctl(fd, PINMGR_UNPIN, &un))
			die("UNPIN");
		break;
	}
}

int main(int argc, char **argv)
{
	static const char *const dev[2] = { "/dev/pinmgr", "/dev/pinmgrb" };
	const char *const ops[] = { "replace", "update", "pin-unpin" };
	long iters, i;
	int rounds, r, k, fd[2];
	uint32_t flags, last[2] = { 0, 0 };
	enum op op = OP_REPLACE;
	double t0, ns[2];
	char *buf;

	if (argc != 5) {
		fprintf(stderr, "usage: %s ITERS ROUNDS OP FLAGS\n", argv[0]);
		return 2;
	}
	iters = atol(argv[1]);
	rounds = atoi(argv[2]);
	for (k = 0; k < 3 && strcmp(argv[3], ops[k]); k++)
		;
	if (k == 3 || iters <= 0 || rounds <= 0) {
		fprintf(stderr, "sameboot: bad arguments\n");
		return 2;
	}
	op = k;
	flags = strtoul(argv[4], NULL, 0);
	buf = mmap(NULL, RING * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	madvise(buf, RING * 4096, MADV_NOHUGEPAGE);
	memset(buf, 1, RING * 4096);
	for (k = 0; k < 2; k++) {
		struct pinmgr_pin p = {
			.size = sizeof(p), .flags = flags,
			.addr = (uintptr_t)buf, .length = 4096,
		};

		fd[k] = open(dev[k], O_RDWR | O_CLOEXEC);
		if (fd[k] < 0)
			die(dev[k]);
		if (op != OP_PIN_UNPIN) {
			if (ioctl(fd[k], PINMGR_PIN, &p))
				die("PIN");
			last[k] = p.out_handle;
		}
		/* Warm up: the first pins of a file allocate its xarray. */
		for (i = 0; i < 1000; i++)
			step(fd[k], op, flags, buf + (i % RING) * 4096,
			     &last[k]);
	}
	for (r = 0; r < rounds; r++) {
		for (k = 0; k < 2; k++) {
			int d = (k + r) % 2;

			t0 = now_ns();
			for (i = 0; i < iters; i++)
				step(fd[d], op, flags,
				     buf + (i % RING) * 4096, &last[d]);
			ns[d] = (now_ns() - t0) / iters;
		}
		printf("round %d a=%.0f b=%.0f\n", r, ns[0], ns[1]);
		fflush(stdout);
	}
	return 0;
}
