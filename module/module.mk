# SPDX-License-Identifier: GPL-2.0
#
# Builds pinmgr.ko (module/pinmgr.ko) against $(KDIR) (included by the
# top-level Makefile). module/ is a driver folder that kbuild builds alone
# (module/Kbuild); the pin tracker's compile probes run inside that build
# (module/pin_tracker/pin_tracker.kbuild), so switching KVER/KDIR probes
# again.
#
# PIN_TRACKER_PROBES_UNSET="NAME ..." leaves those probes unset whatever the
# kernel has: a build-only check of the code a later kernel, which lacks
# them, would get (scripts/check-kernels.sh does it against 6.12).

MODULE_DIR	:= $(SRC)/module
MODULE_KO	:= $(MODULE_DIR)/pinmgr.ko
# The module's sources, for lint and packaging: everything but generated
# files.
MODULE_SRCS	= $(filter-out %.mod.c %/pin_tracker_probes.h,\
		  $(wildcard $(MODULE_DIR)/*.[ch] $(MODULE_DIR)/pin_tracker/*.[ch]))
MODULE_KBUILD	= $(MAKE) -C $(KDIR) M=$(MODULE_DIR) \
		  $(if $(PIN_TRACKER_PROBES_UNSET),PIN_TRACKER_PROBES_UNSET="$(PIN_TRACKER_PROBES_UNSET)")

.PHONY: module module-clean module-kdir

module-kdir:
	@test -d "$(KDIR)" || { echo "pinmgr: no kernel build tree at KDIR=$(KDIR) (run 'make deps', or set KVER/KDIR)" >&2; exit 1; }

module: module-kdir
	$(MODULE_KBUILD) modules

module-clean:
	-@test -d "$(KDIR)" && $(MAKE) -C $(KDIR) M=$(MODULE_DIR) clean >/dev/null 2>&1 || true

# Kernel-side lint: checkpatch --strict, sparse and the compiler with W=1
# (for KVER) must all be silent.
.PHONY: lint-module
lint-module: module-kdir
	$(SRC)/scripts/checkpatch.sh $(MODULE_SRCS) $(SRC)/include/uapi/linux/pinmgr.h
	@$(MODULE_KBUILD) C=2 W=1 modules 2>&1 | tee $(BUILD)/sparse.log | grep -v -e '^  [A-Z]' -e 'Entering directory' -e 'Leaving directory' -e '^Skipping BTF generation' | { ! grep . ; } || { echo "pinmgr: sparse or W=1 reported problems (see above)" >&2; exit 1; }
