# SPDX-License-Identifier: GPL-2.0
#
# pinmgr top-level Makefile. The kernel module itself is described by
# ./Kbuild; this file drives kbuild, the userspace library, the tests and
# the VM harness.
#
#   make            module + library + tests
#   make demo       install what is missing, build, boot a VM, show a pin
#   make check      install what is missing, build, run every test in a VM
#   make check-repeat N=20   the same N times in a row, for flakes
#   make check-kernels  the suite on Debian 12's 6.1 and 6.12 kernels,
#                   generic and PREEMPT_RT (scripts/check-kernels.sh)
#   make lint       checkpatch --strict, sparse and W=1 on the module, and more
#   make bench      the benchmark in a VM (mk/bench.mk, docs/performance.md)
#   make check-debug  the check suite on a debug kernel (mk/debug.mk)
#
# KVER selects the kernel to build for. By default it is the version of
# Debian's installed linux-headers-amd64 (the kernel the VM boots). On a
# real machine use: make module KVER=$(uname -r)

SRC	:= $(CURDIR)
BUILD	?= $(SRC)/build
# Evaluated by each (sub-)make, so a make started before `make deps`
# installed the headers still finds them in its sub-makes.
ifeq ($(strip $(KVER)),)
KVER	:= $(shell $(SRC)/scripts/kver.sh 2>/dev/null)
endif
ifeq ($(strip $(KDIR)),)
KDIR	:= /lib/modules/$(KVER)/build
endif

CC	?= cc
# CPPFLAGS, CFLAGS and LDFLAGS from the environment or the command line
# (dpkg-buildflags sets all three) go into every userspace build.
CFLAGS	?= -O2 -g
# -Werror only in the project's own checks (make lint builds everything
# with WERROR=-Werror): a newer compiler's new warning must not break a
# distribution's build.
WERROR	?=
WARN	:= -Wall -Wextra $(WERROR)
UAPI_INC := -I$(SRC)/include/uapi

export BUILD

.PHONY: all module lib tests deps check check-repeat check-kernels demo lint clean vm-check vm-demo

all: module lib tests

deps:
	@$(SRC)/scripts/install-deps.sh

include $(SRC)/module/module.mk
include $(SRC)/userlib/userlib.mk
include $(SRC)/tests/tests.mk
include $(SRC)/cli/cli.mk
include $(SRC)/mk/install.mk
include $(SRC)/mk/lint.mk
include $(SRC)/mk/bench.mk
include $(SRC)/mk/examples.mk
include $(SRC)/mk/debug.mk

# Every userspace program, without the kernel modules the tests load
# (make lint builds this with -Werror in a build folder of its own).
.PHONY: userspace
userspace: lib cli $(TESTS_BINS) $(TESTS_DEMO) $(ABI_GROW_BINS) $(BENCH_SMOKE)

# deps first, then everything else in a sub-make that sees what deps
# installed.
check: deps
	@$(MAKE) --no-print-directory vm-check

demo: deps
	@$(MAKE) --no-print-directory vm-demo

check-kernels: deps
	@BUILD=$(BUILD) $(SRC)/scripts/check-kernels.sh $(KERNELS)

# The whole suite N times (default 20), each run's tally and the list of
# failing runs at the end; a flaky test shows as a run that failed. Every
# run's output is kept in $(BUILD)/repeat/run-I.log.
N	?= 20
check-repeat: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(BUILD)/repeat; failed=""; \
	for i in $$(seq 1 $(N)); do \
		KVER=$(KVER) $(SRC)/tests/vm/run.sh check >$(BUILD)/repeat/run-$$i.log 2>&1 || failed="$$failed $$i"; \
		echo "check-repeat: run $$i of $(N): $$(tail -n 1 $(BUILD)/repeat/run-$$i.log)"; \
		grep '^FAIL' $(BUILD)/repeat/run-$$i.log || true; \
	done; \
	if [ -n "$$failed" ]; then echo "check-repeat: runs that failed:$$failed (logs in $(BUILD)/repeat)"; exit 1; fi; \
	echo "check-repeat: $(N) of $(N) runs green"

vm-check: all
	@KVER=$(KVER) $(SRC)/tests/vm/run.sh check

vm-demo: all
	@KVER=$(KVER) $(SRC)/tests/vm/run.sh demo

lint: deps
	@$(MAKE) --no-print-directory lint-module

clean: module-clean
	rm -rf $(BUILD)
