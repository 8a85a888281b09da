# SPDX-License-Identifier: GPL-2.0
#
# pinmgr top-level Makefile. The kernel module itself is described by
# ./Kbuild; this file drives kbuild, the userspace library, the tests and
# the VM harness.
#
#   make            module + library + tests
#   make demo       install what is missing, build, boot a VM, show a pin
#   make check      install what is missing, build, run every test in a VM
#   make lint       checkpatch --strict and sparse on the module
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
CFLAGS	?= -O2 -g
WARN	:= -Wall -Wextra -Werror
UAPI_INC := -I$(SRC)/include/uapi

export BUILD

.PHONY: all module lib tests deps check demo lint clean vm-check vm-demo

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
include $(SRC)/mk/debug.mk

# deps first, then everything else in a sub-make that sees what deps
# installed.
check: deps
	@$(MAKE) --no-print-directory vm-check

demo: deps
	@$(MAKE) --no-print-directory vm-demo

vm-check: all
	@KVER=$(KVER) $(SRC)/tests/vm/run.sh check

vm-demo: all
	@KVER=$(KVER) $(SRC)/tests/vm/run.sh demo

lint: deps
	@$(MAKE) --no-print-directory lint-module

clean: module-clean
	rm -rf $(BUILD)
