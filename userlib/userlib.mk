# SPDX-License-Identifier: GPL-2.0
#
# libpinmgr, included by the top-level Makefile (SRC, BUILD, CC, CFLAGS,
# WARN and UAPI_INC come from there).
#
#   make lib    $(BUILD)/lib/libpinmgr.a, libpinmgr.so.0.1.0 (+ symlinks),
#               pinmgr.pc
#
# prefix/libdir/includedir only go into pinmgr.pc here; `make install`
# uses the same variables.

LIBPINMGR_VERSION := 0.1.0
LIBPINMGR_SOMAJOR := 0

# PREFIX (as `make install PREFIX=...` is usually spelt) sets prefix.
prefix		?= $(or $(PREFIX),/usr/local)
libdir		?= $(prefix)/lib
includedir	?= $(prefix)/include

LIB_DIR		:= $(BUILD)/lib
LIB_SRCS	:= $(SRC)/userlib/pinmgr.c
LIB_OBJS	:= $(patsubst $(SRC)/userlib/%.c,$(LIB_DIR)/%.o,$(LIB_SRCS))
LIB_MAP		:= $(SRC)/userlib/libpinmgr.map
LIB_A		:= $(LIB_DIR)/libpinmgr.a
LIB_SONAME	:= libpinmgr.so.$(LIBPINMGR_SOMAJOR)
LIB_SO		:= $(LIB_DIR)/libpinmgr.so.$(LIBPINMGR_VERSION)
LIB_PC		:= $(LIB_DIR)/pinmgr.pc
LIB_SYMCHECK	:= $(LIB_DIR)/.symcheck

LIB_CFLAGS	:= $(CPPFLAGS) $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden -D_GNU_SOURCE \
		   -I$(SRC)/userlib $(UAPI_INC) -MMD -MP

# ${prefix}-relative paths in the .pc file when they are under $(prefix),
# so that pkg-config --define-prefix can relocate it.
LIB_PC_LIBDIR	:= $(patsubst $(prefix)/%,$${prefix}/%,$(libdir))
LIB_PC_INCDIR	:= $(patsubst $(prefix)/%,$${prefix}/%,$(includedir))

.PHONY: lib lib-clean FORCE

lib: $(LIB_A) $(LIB_SO) $(LIB_DIR)/$(LIB_SONAME) $(LIB_DIR)/libpinmgr.so \
     $(LIB_PC) $(LIB_SYMCHECK)

$(LIB_DIR)/%.o: $(SRC)/userlib/%.c $(SRC)/userlib/userlib.mk
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJS) $(LIB_MAP)
	$(CC) $(CFLAGS) -shared -fPIC -Wl,-soname,$(LIB_SONAME) \
		-Wl,--version-script=$(LIB_MAP) -Wl,--no-undefined \
		$(LDFLAGS) -o $@ $(LIB_OBJS)

$(LIB_DIR)/$(LIB_SONAME): $(LIB_SO)
	ln -sf $(notdir $<) $@

$(LIB_DIR)/libpinmgr.so: $(LIB_DIR)/$(LIB_SONAME)
	ln -sf $(notdir $<) $@

# Exactly the functions of pinmgr.h may be exported, each listed in the
# version script (nm -D --defined-only).
$(LIB_SYMCHECK): $(LIB_SO) $(SRC)/userlib/pinmgr.h $(LIB_MAP) $(SRC)/userlib/check-symbols.sh
	$(SRC)/userlib/check-symbols.sh $(LIB_SO) $(SRC)/userlib/pinmgr.h $(LIB_MAP)
	@touch $@

# Regenerated when prefix/libdir/includedir change (compare, then move).
$(LIB_PC): $(SRC)/userlib/pinmgr.pc.in FORCE
	@mkdir -p $(@D)
	@sed -e 's|@prefix@|$(prefix)|g' \
	     -e 's|@libdir@|$(LIB_PC_LIBDIR)|g' \
	     -e 's|@includedir@|$(LIB_PC_INCDIR)|g' \
	     -e 's|@version@|$(LIBPINMGR_VERSION)|g' $< > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; \
	 else mv -f $@.tmp $@; echo "  GEN     $@"; fi

FORCE:

lib-clean:
	rm -rf $(LIB_DIR)

-include $(LIB_OBJS:.o=.d)
