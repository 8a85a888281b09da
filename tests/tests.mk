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

TESTS_CFLAGS	:= $(CPPFLAGS) $(CFLAGS) $(WARN) -pthread -D_GNU_SOURCE \
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

# The library's ABI across header versions (tests/abi/grow.c): a program
# and a library object built against today's <linux/pinmgr.h> and against
# a "future" one whose filled-in structs grew by 32 bytes, crossed.
ABI_DIR		:= $(TESTS_DIR)/abi
ABI_FUTURE_INC	:= $(ABI_DIR)/include
ABI_FUTURE_HDR	:= $(ABI_FUTURE_INC)/linux/pinmgr.h
ABI_GROW_BINS	:= $(TESTS_BINDIR)/abi-grow-old-app $(TESTS_BINDIR)/abi-grow-new-app
ABI_CFLAGS	:= $(CPPFLAGS) $(CFLAGS) $(WARN) -D_GNU_SOURCE -I$(SRC)/userlib

tests: $(ABI_GROW_BINS)

$(ABI_FUTURE_HDR): $(SRC)/include/uapi/linux/pinmgr.h $(SRC)/tests/tests.mk
	@mkdir -p $(@D)
	awk '/^struct pinmgr_(info|query|stats) \{/ { grow = 1 } \
	     grow && /^\};/ { print "\t__aligned_u64 out_future[4];"; grow = 0 } \
	     { print }' $< > $@

$(ABI_DIR)/lib-future.o: $(SRC)/userlib/pinmgr.c $(ABI_FUTURE_HDR)
	$(CC) $(ABI_CFLAGS) -I$(ABI_FUTURE_INC) $(UAPI_INC) -c -o $@ $<

$(ABI_DIR)/grow-old.o: $(SRC)/tests/abi/grow.c $(SRC)/include/uapi/linux/pinmgr.h
	@mkdir -p $(@D)
	$(CC) $(ABI_CFLAGS) $(UAPI_INC) -c -o $@ $<

$(ABI_DIR)/grow-new.o: $(SRC)/tests/abi/grow.c $(ABI_FUTURE_HDR)
	$(CC) $(ABI_CFLAGS) -DPINMGR_FUTURE -I$(ABI_FUTURE_INC) $(UAPI_INC) -c -o $@ $<

$(TESTS_BINDIR)/abi-grow-old-app: $(ABI_DIR)/grow-old.o $(ABI_DIR)/lib-future.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(TESTS_LDFLAGS)

$(TESTS_BINDIR)/abi-grow-new-app: $(ABI_DIR)/grow-new.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(TESTS_LDFLAGS)

tests-clean:
	rm -rf $(TESTS_DIR)

-include $(wildcard $(TESTS_OBJDIR)/*.d)

# pinmgr_test_importer.ko (tests/dmabuf/importer/), the dma-buf importer
# tests/dmabuf.c loads itself (finit_module) from dmabuf-data/ next to its
# executable. Tests only: built in $(TESTS_DIR)/importer-ko against $(KDIR),
# never installed, never shipped.
IMPORTER_DIR	:= $(TESTS_DIR)/importer-ko
IMPORTER_SRCS	:= $(addprefix $(SRC)/tests/dmabuf/importer/,Kbuild pinmgr_test_importer.c pinmgr_test_importer.h)
IMPORTER_KO	:= $(IMPORTER_DIR)/pinmgr_test_importer.ko
IMPORTER_STAMP	:= $(IMPORTER_DIR)/.kdir
IMPORTER_DATA_KO := $(TESTS_BINDIR)/dmabuf-data/pinmgr_test_importer.ko

tests: $(IMPORTER_DATA_KO)
$(TESTS_OBJDIR)/dmabuf.o: TESTS_CFLAGS += -I$(SRC)/tests/dmabuf/importer

# Rebuilt when the sources or the kernel (KVER/KDIR) change.
$(IMPORTER_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(KVER) $(KDIR)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

$(IMPORTER_KO): $(IMPORTER_SRCS) $(IMPORTER_STAMP)
	@test -d "$(KDIR)" || { echo "pinmgr: no kernel build tree at KDIR=$(KDIR) (run 'make deps', or set KVER/KDIR)" >&2; exit 1; }
	@cp $(IMPORTER_SRCS) $(IMPORTER_DIR)/
	$(MAKE) -C $(KDIR) M=$(IMPORTER_DIR) modules
	@touch $@

$(IMPORTER_DATA_KO): $(IMPORTER_KO)
	@mkdir -p $(@D)
	cp $< $@

# Kernel code too: checkpatch --strict (part of `make lint`).
lint-module: lint-importer
lint-importer:
	$(SRC)/scripts/checkpatch.sh $(IMPORTER_SRCS:%/Kbuild=)

.PHONY: lint-importer
