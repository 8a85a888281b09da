# SPDX-License-Identifier: GPL-2.0
#
# The pinmgr(8) tool, included by the top-level Makefile (SRC, BUILD, CC,
# CFLAGS, WARN, UAPI_INC and the library's variables come from there).
#
#   make cli    two links of one object against libpinmgr.so.0 and
#               libkmod.so.2 (Debian ships no libkmod.a):
#               $(BUILD)/cli/pinmgr          runs from the build tree: its
#                   RUNPATH $ORIGIN/../lib finds $(BUILD)/lib/libpinmgr.so.0
#                   (checked: it must run --version right after the link)
#               $(BUILD)/cli/install/pinmgr  what `make install` (and so the
#                   pinmgr-tools package) installs: no RPATH or RUNPATH, as
#                   Debian policy wants (checked with readelf after the link)
#   make tests  also $(BUILD)/tests/bin/cli.d/: the installed binary with the
#               shared objects it needs and a loader wrapper, for the VM
#               guest, which has no C library (see cli/bundle.sh)

PINMGR_VERSION	?= $(LIBPINMGR_VERSION)

CLI_DIR		:= $(BUILD)/cli
CLI_BIN		:= $(CLI_DIR)/pinmgr
CLI_INST_BIN	:= $(CLI_DIR)/install/pinmgr
CLI_OBJ		:= $(CLI_DIR)/pinmgr.o
# Recursive (=): evaluated when used, after `make deps` installed libkmod-dev.
KMOD_CFLAGS	= $(shell pkg-config --cflags libkmod 2>/dev/null)
KMOD_LIBS	= $(or $(shell pkg-config --libs libkmod 2>/dev/null),-lkmod)
CLI_CFLAGS	= $(CPPFLAGS) $(CFLAGS) $(WARN) -D_GNU_SOURCE -I$(SRC)/userlib $(UAPI_INC) \
		  $(KMOD_CFLAGS) -DPINMGR_VERSION='"$(PINMGR_VERSION)"' -MMD -MP
CLI_GUEST	:= $(BUILD)/tests/bin/cli.d

.PHONY: cli cli-clean

all: cli
cli: $(CLI_BIN) $(CLI_INST_BIN)

$(CLI_OBJ): $(SRC)/cli/pinmgr.c $(SRC)/cli/cli.mk
	@mkdir -p $(@D)
	$(CC) $(CLI_CFLAGS) -c -o $@ $<

# Against the shared library, as installed: -L finds libpinmgr.so first.
# --enable-new-dtags: RUNPATH (which LD_LIBRARY_PATH overrides), not RPATH.
$(CLI_BIN): $(CLI_OBJ) $(LIB_DIR)/libpinmgr.so $(LIB_SO)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) -L$(LIB_DIR) -lpinmgr $(KMOD_LIBS) $(LDFLAGS) \
		-Wl,--enable-new-dtags,-rpath,'$$ORIGIN/../lib'
	@$@ --version >/dev/null || { echo "pinmgr: $@ does not run from the build tree" >&2; \
		rm -f $@; exit 1; }

$(CLI_INST_BIN): $(CLI_OBJ) $(LIB_DIR)/libpinmgr.so $(LIB_SO)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) -L$(LIB_DIR) -lpinmgr $(KMOD_LIBS) $(LDFLAGS)
	@if readelf -dW $@ | grep -E '\((RPATH|RUNPATH)\)' >&2; then \
		echo "pinmgr: $@ must have no RPATH/RUNPATH (it is the installed one)" >&2; \
		rm -f $@; exit 1; fi

tests: $(CLI_GUEST)/.stamp

$(CLI_GUEST)/.stamp: $(CLI_INST_BIN) $(LIB_SO) $(SRC)/cli/bundle.sh
	$(SRC)/cli/bundle.sh $(CLI_INST_BIN) $(CLI_GUEST) $(LIB_DIR)
	@touch $@

cli-clean:
	rm -rf $(CLI_DIR) $(CLI_GUEST)

-include $(CLI_OBJ:.o=.d)
