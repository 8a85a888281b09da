# SPDX-License-Identifier: GPL-2.0
#
# The pinmgr(8) tool, included by the top-level Makefile (SRC, BUILD, CC,
# CFLAGS, WARN, UAPI_INC and the library's variables come from there).
#
#   make cli    $(BUILD)/cli/pinmgr, linked against libpinmgr.so.0 and
#               libkmod.so.2 (Debian ships no libkmod.a)
#   make tests  also $(BUILD)/tests/bin/cli.d/: the same binary with the
#               shared objects it needs and a loader wrapper, for the VM
#               guest, which has no C library (see cli/bundle.sh)

PINMGR_VERSION	?= $(LIBPINMGR_VERSION)

CLI_DIR		:= $(BUILD)/cli
CLI_BIN		:= $(CLI_DIR)/pinmgr
CLI_OBJ		:= $(CLI_DIR)/pinmgr.o
# Recursive (=): evaluated when used, after `make deps` installed libkmod-dev.
KMOD_CFLAGS	= $(shell pkg-config --cflags libkmod 2>/dev/null)
KMOD_LIBS	= $(or $(shell pkg-config --libs libkmod 2>/dev/null),-lkmod)
CLI_CFLAGS	= $(CFLAGS) $(WARN) -D_GNU_SOURCE -I$(SRC)/userlib $(UAPI_INC) \
		  $(KMOD_CFLAGS) -DPINMGR_VERSION='"$(PINMGR_VERSION)"' -MMD -MP
CLI_GUEST	:= $(BUILD)/tests/bin/cli.d

.PHONY: cli cli-clean

all: cli
cli: $(CLI_BIN)

$(CLI_OBJ): $(SRC)/cli/pinmgr.c $(SRC)/cli/cli.mk
	@mkdir -p $(@D)
	$(CC) $(CLI_CFLAGS) -c -o $@ $<

# Against the shared library, as installed: -L finds libpinmgr.so first.
$(CLI_BIN): $(CLI_OBJ) $(LIB_DIR)/libpinmgr.so $(LIB_SO)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) -L$(LIB_DIR) -lpinmgr $(KMOD_LIBS) $(LDFLAGS)

tests: $(CLI_GUEST)/.stamp

$(CLI_GUEST)/.stamp: $(CLI_BIN) $(LIB_SO) $(SRC)/cli/bundle.sh
	$(SRC)/cli/bundle.sh $(CLI_BIN) $(CLI_GUEST) $(LIB_DIR)
	@touch $@

cli-clean:
	rm -rf $(CLI_DIR) $(CLI_GUEST)

-include $(CLI_OBJ:.o=.d)
