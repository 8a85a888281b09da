# SPDX-License-Identifier: GPL-2.0
#
# The benchmark, included by the top-level Makefile after tests.mk.
#
#   make bench   install what is missing, build, boot the VM with 4 GiB and
#                2 vCPUs and run the full benchmark (tests/bench/run.sh);
#                results in $(BUILD)/bench/: results.json, results.txt,
#                results.png
#   make bench-guest  build what the benchmark boots, run nothing (for
#                tests/bench/ab.sh, which compares module builds)
#   make tests   also builds the smoke run that `make check` runs, so the
#                benchmark cannot rot:
#                  $(BUILD)/tests/bin/bench-smoke
#                  $(BUILD)/tests/bin/bench-data/pinmgr_bench_raw.ko
#
# pinmgr_bench_raw.ko (tests/bench/raw/) is the bench-only companion module
# (the raw floor). It is built in $(BUILD)/bench/raw-ko, never installed and
# never shipped. The program loads it itself (finit_module) from
# bench-data/ next to its executable and unloads it before it exits.

BENCH_DIR	:= $(BUILD)/bench
BENCH_OBJDIR	:= $(BENCH_DIR)/obj
BENCH_GUEST	:= $(BENCH_DIR)/guest
BENCH_RAW_DIR	:= $(BENCH_DIR)/raw-ko
BENCH_RAW_SRCS	:= $(addprefix $(SRC)/tests/bench/raw/,Kbuild pinmgr_bench_raw.c pinmgr_bench_raw.h)
BENCH_RAW_KO	:= $(BENCH_RAW_DIR)/pinmgr_bench_raw.ko
BENCH_RAW_STAMP	:= $(BENCH_RAW_DIR)/.kdir

BENCH_SMOKE	:= $(TESTS_BINDIR)/bench-smoke
BENCH_SMOKE_KO	:= $(TESTS_BINDIR)/bench-data/pinmgr_bench_raw.ko
BENCH_PROG	:= $(BENCH_GUEST)/pinbench
BENCH_PROG_KO	:= $(BENCH_GUEST)/bench-data/pinmgr_bench_raw.ko

# Use struct pinmgr_stats.out_metadata_bytes once the ABI has it.
BENCH_HAVE_MD	:= $(shell grep -q out_metadata_bytes $(SRC)/include/uapi/linux/pinmgr.h 2>/dev/null && echo -DPINBENCH_HAVE_METADATA_BYTES)

BENCH_CFLAGS	:= $(CPPFLAGS) $(CFLAGS) $(WARN) -pthread -D_GNU_SOURCE $(BENCH_HAVE_MD) \
		   -I$(SRC)/userlib -I$(SRC)/tests/bench/raw $(UAPI_INC) -MMD -MP
# liburing-dev ships liburing.a: the guest has no C library.
BENCH_LDFLAGS	:= -static -pthread $(LDFLAGS)
# libibverbs-dev ships libibverbs.a and the providers' archives: the rxe
# provider registers itself from a constructor, so all of it is linked in.
BENCH_LIBS	:= $(LIB_A) -luring -Wl,--whole-archive -lrxe-rdmav34 -Wl,--no-whole-archive \
		   -libverbs -lnl-route-3 -lnl-3

.PHONY: bench vm-bench bench-guest bench-raw bench-clean lint-bench

# `make tests` (and so `make all`, `make check`) builds the smoke run.
tests: $(BENCH_SMOKE) $(BENCH_SMOKE_KO)

bench: deps
	@$(MAKE) --no-print-directory vm-bench

vm-bench: bench-guest
	@KVER=$(KVER) $(SRC)/tests/bench/run.sh

# What tests/bench/ab.sh boots: the module, the guest program and the raw
# companion, built, nothing run.
bench-guest: all $(BENCH_PROG) $(BENCH_PROG_KO)

bench-raw: $(BENCH_RAW_KO)

# Rebuilt when the sources or the kernel (KVER/KDIR) change.
$(BENCH_RAW_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(KVER) $(KDIR)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

$(BENCH_RAW_KO): $(BENCH_RAW_SRCS) $(BENCH_RAW_STAMP)
	@test -d "$(KDIR)" || { echo "pinmgr: no kernel build tree at KDIR=$(KDIR) (run 'make deps', or set KVER/KDIR)" >&2; exit 1; }
	@cp $(BENCH_RAW_SRCS) $(BENCH_RAW_DIR)/
	$(MAKE) -C $(KDIR) M=$(BENCH_RAW_DIR) modules
	@touch $@

$(BENCH_SMOKE_KO) $(BENCH_PROG_KO): $(BENCH_RAW_KO)
	@mkdir -p $(@D)
	cp $< $@

$(BENCH_OBJDIR)/pinbench.o: $(SRC)/tests/bench/pinbench.c $(SRC)/mk/bench.mk
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -c -o $@ $<

$(BENCH_OBJDIR)/bench-smoke.o: $(SRC)/tests/bench/pinbench.c $(SRC)/mk/bench.mk
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DPINBENCH_SMOKE -c -o $@ $<

$(BENCH_PROG): $(BENCH_OBJDIR)/pinbench.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BENCH_LIBS) $(BENCH_LDFLAGS)

$(BENCH_SMOKE): $(BENCH_OBJDIR)/bench-smoke.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BENCH_LIBS) $(BENCH_LDFLAGS)

# The companion module is kernel code too: checkpatch --strict (part of
# `make lint`).
lint-module: lint-bench
lint-bench:
	$(SRC)/scripts/checkpatch.sh $(SRC)/tests/bench/raw/pinmgr_bench_raw.c $(SRC)/tests/bench/raw/pinmgr_bench_raw.h

bench-clean:
	rm -rf $(BENCH_DIR) $(BENCH_SMOKE) $(TESTS_BINDIR)/bench-data

-include $(wildcard $(BENCH_OBJDIR)/*.d)
