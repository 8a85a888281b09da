# SPDX-License-Identifier: GPL-2.0
#
# examples/dmacopy: a second driver that borrows the pin tracker, included
# by the top-level Makefile after tests.mk.
#
# dmacopy.ko is built by the README's borrowing recipe, run literally by
# mk/borrow.sh in an empty folder, $(BORROW_DIR)/dmacopy (CI points
# BORROW_DIR outside the tree). `make tests` puts it in
# $(BUILD)/tests/bin/dmacopy-data/, where the dmacopy test program loads
# it from in the guest, next to pinmgr.ko.

BORROW_DIR	?= $(BUILD)/borrow
DMACOPY_DIR	:= $(BORROW_DIR)/dmacopy
DMACOPY_KO	:= $(DMACOPY_DIR)/dmacopy.ko
DMACOPY_TEST_KO	:= $(TESTS_BINDIR)/dmacopy-data/dmacopy.ko
DMACOPY_STAMP	:= $(BORROW_DIR)/.kdir
DMACOPY_SRCS	:= $(wildcard $(SRC)/examples/dmacopy/*) \
		   $(MODULE_SRCS) $(wildcard $(SRC)/module/pin_tracker/probes/*.c) \
		   $(SRC)/module/pin_tracker/pin_tracker.kbuild \
		   $(SRC)/module/pin_tracker/probe.sh $(SRC)/README.md $(SRC)/mk/borrow.sh

.PHONY: dmacopy lint-examples

tests: $(DMACOPY_TEST_KO)
dmacopy: $(DMACOPY_KO)

# Built again when the sources or the kernel (KVER/KDIR) change.
$(DMACOPY_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(KVER) $(KDIR)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

$(DMACOPY_KO): $(DMACOPY_SRCS) $(DMACOPY_STAMP)
	@test -d "$(KDIR)" || { echo "pinmgr: no kernel build tree at KDIR=$(KDIR) (run 'make deps', or set KVER/KDIR)" >&2; exit 1; }
	@$(SRC)/mk/borrow.sh $(SRC)/README.md $(DMACOPY_DIR) $(KDIR)

$(DMACOPY_TEST_KO): $(DMACOPY_KO)
	@mkdir -p $(@D)
	cp $< $@

# The example is kernel code too: checkpatch --strict, and sparse and W=1
# over the borrowed folder (part of `make lint`).
lint-module: lint-examples
lint-examples: $(DMACOPY_KO)
	$(SRC)/scripts/checkpatch.sh $(wildcard $(SRC)/examples/dmacopy/*.[ch])
	@$(MAKE) --no-print-directory -C $(KDIR) M=$(DMACOPY_DIR) C=2 W=1 modules 2>&1 | grep -v -e '^  [A-Z]' -e 'Entering directory' -e 'Leaving directory' -e '^Skipping BTF generation' | { ! grep . ; } || { echo "pinmgr: sparse or W=1 reported problems in the example (see above)" >&2; exit 1; }
