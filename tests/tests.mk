# SPDX-License-Identifier: GPL-2.0
#
# Test programs, included by the top-level Makefile.
#
#   make tests   $(BUILD)/tests/bin/<area>     one TAP program per tests/<area>.c
#                $(BUILD)/tests/demo/pinmgr-demo   (tests/demo.c, for `make demo`)
#
# Everything is linked statically (the VM guest is a bare busybox
# initramfs) against $(BUILD)/lib/libpinmgr.a. The VM harness runs every
# executable in $(BUILD)/tests/bin, sorted by name.

TESTS_DIR	:= $(BUILD)/tests
TESTS_OBJDIR	:= $(TESTS_DIR)/obj
TESTS_BINDIR	:= $(TESTS_DIR)/bin
TESTS_SUPPORT	:= harness demo
TESTS_NAMES	:= $(filter-out $(TESTS_SUPPORT),$(basename $(notdir $(wildcard $(SRC)/tests/*.c))))
TESTS_BINS	:= $(addprefix $(TESTS_BINDIR)/,$(TESTS_NAMES))
TESTS_HARNESS	:= $(TESTS_OBJDIR)/harness.o
TESTS_DEMO	:= $(TESTS_DIR)/demo/pinmgr-demo

TESTS_CFLAGS	:= $(CFLAGS) $(WARN) -pthread -D_GNU_SOURCE \
		   -I$(SRC)/tests -I$(SRC)/userlib -I$(SRC)/examples/dmacopy \
		   $(UAPI_INC) -MMD -MP
TESTS_LDFLAGS	:= -static -pthread $(LDFLAGS)

.PHONY: tests tests-clean

tests: $(TESTS_BINS) $(TESTS_DEMO)

$(TESTS_OBJDIR)/%.o: $(SRC)/tests/%.c $(SRC)/tests/tests.mk
	@mkdir -p $(@D)
	$(CC) $(TESTS_CFLAGS) -c -o $@ $<

# One rule per program: tests/<area>.c + the harness + libpinmgr.a.
define TESTS_PROGRAM_RULE
$(TESTS_BINDIR)/$(1): $(TESTS_OBJDIR)/$(1).o $(TESTS_HARNESS) $(LIB_A)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) -o $$@ $$(TESTS_OBJDIR)/$(1).o $$(TESTS_HARNESS) $$(LIB_A) $$(TESTS_LDFLAGS)
endef
$(foreach t,$(TESTS_NAMES),$(eval $(call TESTS_PROGRAM_RULE,$(t))))

$(TESTS_DEMO): $(TESTS_OBJDIR)/demo.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_A) $(TESTS_LDFLAGS)

tests-clean:
	rm -rf $(TESTS_DIR)

-include $(wildcard $(TESTS_OBJDIR)/*.d)
