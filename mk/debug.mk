# SPDX-License-Identifier: GPL-2.0
#
# The test suite on a debug kernel (included by the top-level Makefile).
# docs/debug-kernel.md explains it.
#
#   make check-debug    install what is missing, build (or reuse) the debug
#                       kernel, build pinmgr.ko for it and the tests, run the
#                       whole `make check` suite on it in the VM
#   make debug-kernel   only build (or reuse) the debug kernel
#   make debug-module   only build pinmgr.ko for it: $(DEBUG_KO)
#
# The debug kernel (scripts/debug-kernel.sh) is cached outside the tree,
# by default in /var/cache/pinmgr/debug-kernel (PINMGR_DEBUG_KERNEL_CACHE).
#
# pinmgr.ko for the debug kernel is built in a copy of the sources in
# $(DEBUG_DIR)/src (so it is $(DEBUG_DIR)/src/module/pinmgr.ko): kbuild
# writes pinmgr.ko, its objects and the tracker's probe header into the
# module folder, and the stock build in the tree must not be touched. The copy is made afresh on every run (tar keeps the files'
# times, so what make built from it before is not rebuilt), and everything
# else it builds goes to $(DEBUG_DIR)/build.

# The kernel line the debug kernel is built from: that of KVER (6.1 by
# default; `make check-debug KVER=6.12...` picks linux-source-6.12,
# built in $(BUILD)/debug-6.12).
DEBUG_LINE	?= $(if $(filter 6.12.%,$(KVER)),6.12,6.1)
export PINMGR_DEBUG_KERNEL_LINE := $(DEBUG_LINE)

DEBUG_DIR	:= $(BUILD)/debug$(if $(filter 6.12,$(DEBUG_LINE)),-6.12)
DEBUG_SRC	:= $(DEBUG_DIR)/src
DEBUG_KO	:= $(DEBUG_SRC)/module/pinmgr.ko
DEBUG_KERNEL	:= $(SRC)/scripts/debug-kernel.sh
# What the copy leaves out: kbuild outputs (as in .gitignore), VCS data and
# build directories.
DEBUG_SRC_EXCLUDES := --exclude=./.git --exclude=./build \
	$(if $(filter $(SRC)/%,$(BUILD)),--exclude=./$(patsubst $(SRC)/%,%,$(BUILD))) \
	--exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c' \
	--exclude='.*.cmd' --exclude='*.a' --exclude='*.so' --exclude='*.so.*' \
	--exclude=modules.order --exclude=Module.symvers --exclude=.tmp_versions \
	--exclude=pin_tracker_probes.h --exclude=pin_tracker_probes.h.log

# The debug kernel is 8-9x slower than Debian's (docs/debug-kernel.md):
# larger deadlines, unless the environment sets them.
DEBUG_VM_TIMEOUT	?= 3600
DEBUG_TEST_TIMEOUT	?= 1200
DEBUG_SETTLE_TIMEOUT	?= 30

.PHONY: check-debug vm-check-debug debug-kernel debug-module

check-debug: deps
	@$(MAKE) --no-print-directory vm-check-debug

debug-kernel:
	@$(DEBUG_KERNEL) build >/dev/null

debug-module: debug-kernel
	@set -eu; dk=$$($(DEBUG_KERNEL) path); rel=$$(cat "$$dk/release"); \
	rm -rf $(DEBUG_SRC); mkdir -p $(DEBUG_SRC); \
	tar -C $(SRC) $(DEBUG_SRC_EXCLUDES) -cf - . | tar -C $(DEBUG_SRC) -xf -; \
	echo "debug: building pinmgr.ko for $$rel in $(DEBUG_SRC)"; \
	$(MAKE) --no-print-directory -C $(DEBUG_SRC) module \
		KDIR="$$dk/build" KVER="$$rel" BUILD=$(DEBUG_DIR)/build; \
	vm=$$(modinfo -F vermagic $(DEBUG_KO) | cut -d' ' -f1); \
	if [ "$$vm" != "$$rel" ]; then \
		echo "debug: error: $(DEBUG_KO) has vermagic '$$vm', the debug kernel is '$$rel'" >&2; \
		exit 1; \
	fi; \
	echo "debug: $(DEBUG_KO): vermagic $$(modinfo -F vermagic $(DEBUG_KO))"

# The suite is the copy's own `make vm-check` (what `make check` runs after
# deps), with KDIR/KVER of the debug kernel and BUILD=$(DEBUG_DIR)/build:
# everything built for a kernel (pinmgr.ko, the bench's companion module)
# is built for the debug kernel, and nothing in $(BUILD) is touched.
# The VM:
# - PINMGR_VM_MODULES_BUILTIN=1: virtio, ext4 & co. are built in and there
#   is no /lib/modules for the debug kernel; run.sh loads no module but
#   pinmgr.ko.
# - The bzImage boots as is (PINMGR_VM_PVH=0: it is not xz, and a KASAN
#   kernel does not boot through the PVH entry).
# - QEMU's q35 machine: on the default i440fx machine, the ACPI _PRT method
#   is a 128-step AML loop that the debug kernel's interpreter does not
#   finish within ACPICA's 30 s loop limit under TCG (the boot takes 50 s and
#   logs "ACPI Error: ... AE_AML_LOOP_TIMEOUT"); q35's _PRT is a table.
vm-check-debug: debug-module
	@set -eu; dk=$$($(DEBUG_KERNEL) path); \
	PINMGR_VM_KERNEL="$$dk/bzImage" PINMGR_VM_PVH=0 \
	PINMGR_VM_MODULES_BUILTIN=1 \
	PINMGR_VM_QEMU_ARGS="-machine q35 $${PINMGR_VM_QEMU_ARGS:-}" \
	PINMGR_VM_TIMEOUT=$${PINMGR_VM_TIMEOUT:-$(DEBUG_VM_TIMEOUT)} \
	PINMGR_TEST_TIMEOUT=$${PINMGR_TEST_TIMEOUT:-$(DEBUG_TEST_TIMEOUT)} \
	PINMGR_SETTLE_TIMEOUT=$${PINMGR_SETTLE_TIMEOUT:-$(DEBUG_SETTLE_TIMEOUT)} \
	$(MAKE) --no-print-directory -C $(DEBUG_SRC) vm-check \
		KDIR="$$dk/build" KVER="$$(cat "$$dk/release")" BUILD=$(DEBUG_DIR)/build
