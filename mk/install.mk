# SPDX-License-Identifier: GPL-2.0
#
# Installing pinmgr, included by the top-level Makefile. See docs/install.md.
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   library (shared, static,
#        soname links), <pinmgr.h> and <linux/pinmgr.h>, pinmgr.pc, the CLI,
#        man pages, the udev rule, the group it names (sysusers.d; created
#        at once when installing as root), a commented modprobe.d file, a
#        modules-load.d file that loads the module at boot
#   make uninstall [PREFIX=] [DESTDIR=]   removes exactly those files
#   make install-check PREFIX=DIR   builds a program out of tree against the
#        install in DIR with pkg-config (mk/install-check.sh); the VM runs
#        it: PINMGR_TESTS_DIR=$(BUILD)/install-check/bin tests/vm/run.sh check
#   make dkms-install     the module through DKMS for KVER (Debian's headers,
#        scripts/kver.sh): source in /usr/src/pinmgr-VERSION, then dkms add,
#        build -k KVER, install -k KVER
#   make dkms-remove      dkms remove --all and the source; fails if anything
#        of pinmgr is left in /var/lib/dkms, /usr/src or /lib/modules/KVER
#   make dkms-source [DESTDIR=]   only the DKMS source tree (debian/rules)
#   make deb              pinmgr-dkms, libpinmgr0, libpinmgr-dev and
#        pinmgr-tools .debs in $(BUILD)/deb (dpkg-buildpackage -us -uc -b on a
#        copy of the tree)
#   make deb-check        dpkg -i them, check that DKMS built the module for
#        KVER, purge them, check nothing is left (mk/deb-check.sh)
#
# Directories (GNU names; PREFIX sets prefix, see userlib/userlib.mk):
# libdir, includedir, sbindir, mandir; sysconfdir (/etc for prefix /usr or
# /usr/local, else $(prefix)/etc); udevrulesdir (/usr/lib/udev/rules.d for
# prefix /usr, else $(sysconfdir)/udev/rules.d), likewise modulesloaddir and
# sysusersdir. Only with prefix /usr or /usr/local are these where the
# system looks; any other prefix is a staging tree, and then installing as
# root runs neither ldconfig nor systemd-sysusers.

PINMGR_VERSION	?= $(LIBPINMGR_VERSION)
# true when installing where the system looks (see above)
INSTALL_SYSTEM	= $(if $(filter /usr /usr/local,$(prefix)),true,false)

exec_prefix	?= $(prefix)
sbindir		?= $(exec_prefix)/sbin
datarootdir	?= $(prefix)/share
mandir		?= $(datarootdir)/man
sysconfdir	?= $(if $(filter /usr /usr/local,$(prefix)),/etc,$(prefix)/etc)
udevrulesdir	?= $(if $(filter /usr,$(prefix)),/usr/lib/udev/rules.d,$(sysconfdir)/udev/rules.d)
modulesloaddir	?= $(if $(filter /usr,$(prefix)),/usr/lib/modules-load.d,$(sysconfdir)/modules-load.d)
sysusersdir	?= $(if $(filter /usr,$(prefix)),/usr/lib/sysusers.d,$(sysconfdir)/sysusers.d)
pkgconfigdir	?= $(libdir)/pkgconfig

INSTALL		?= install
MAN_SRCS	= $(wildcard $(SRC)/man/*.[348])

.PHONY: install uninstall install-check install-lib install-dev install-cli install-data \
	dkms-source dkms-install dkms-remove deb deb-check

install: install-lib install-dev install-cli install-data
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && $(INSTALL_SYSTEM) && \
	    command -v ldconfig >/dev/null; then ldconfig; fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && $(INSTALL_SYSTEM) && \
	    command -v systemd-sysusers >/dev/null; then systemd-sysusers $(sysusersdir)/pinmgr.conf; fi

install-lib: lib
	$(INSTALL) -d $(DESTDIR)$(libdir)
	$(INSTALL) -m 755 $(LIB_SO) $(DESTDIR)$(libdir)/
	ln -sfn $(notdir $(LIB_SO)) $(DESTDIR)$(libdir)/$(LIB_SONAME)

install-dev: lib
	$(INSTALL) -d $(DESTDIR)$(libdir) $(DESTDIR)$(pkgconfigdir) \
		$(DESTDIR)$(includedir)/linux $(DESTDIR)$(mandir)/man3 $(DESTDIR)$(mandir)/man4
	$(INSTALL) -m 644 $(LIB_A) $(DESTDIR)$(libdir)/
	ln -sfn $(LIB_SONAME) $(DESTDIR)$(libdir)/libpinmgr.so
	$(INSTALL) -m 644 $(LIB_PC) $(DESTDIR)$(pkgconfigdir)/
	$(INSTALL) -m 644 $(SRC)/userlib/pinmgr.h $(DESTDIR)$(includedir)/pinmgr.h
	$(INSTALL) -m 644 $(SRC)/include/uapi/linux/pinmgr.h $(DESTDIR)$(includedir)/linux/pinmgr.h
	$(INSTALL) -m 644 $(filter %.3,$(MAN_SRCS)) $(DESTDIR)$(mandir)/man3/
	$(INSTALL) -m 644 $(filter %.4,$(MAN_SRCS)) $(DESTDIR)$(mandir)/man4/

install-cli: cli
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(mandir)/man8
	$(INSTALL) -m 755 $(CLI_INST_BIN) $(DESTDIR)$(sbindir)/pinmgr
	$(INSTALL) -m 644 $(filter %.8,$(MAN_SRCS)) $(DESTDIR)$(mandir)/man8/

install-data:
	$(INSTALL) -d $(DESTDIR)$(udevrulesdir) $(DESTDIR)$(sysconfdir)/modprobe.d \
		$(DESTDIR)$(modulesloaddir) $(DESTDIR)$(sysusersdir)
	$(INSTALL) -m 644 $(SRC)/etc/udev/rules.d/60-pinmgr.rules $(DESTDIR)$(udevrulesdir)/
	$(INSTALL) -m 644 $(SRC)/etc/modprobe.d/pinmgr.conf $(DESTDIR)$(sysconfdir)/modprobe.d/
	$(INSTALL) -m 644 $(SRC)/etc/modules-load.d/pinmgr.conf $(DESTDIR)$(modulesloaddir)/
	$(INSTALL) -m 644 $(SRC)/etc/sysusers.d/pinmgr.conf $(DESTDIR)$(sysusersdir)/

uninstall:
	rm -f $(DESTDIR)$(libdir)/$(notdir $(LIB_SO)) $(DESTDIR)$(libdir)/$(LIB_SONAME) \
		$(DESTDIR)$(libdir)/libpinmgr.so $(DESTDIR)$(libdir)/libpinmgr.a \
		$(DESTDIR)$(pkgconfigdir)/pinmgr.pc \
		$(DESTDIR)$(includedir)/pinmgr.h $(DESTDIR)$(includedir)/linux/pinmgr.h \
		$(DESTDIR)$(sbindir)/pinmgr \
		$(DESTDIR)$(udevrulesdir)/60-pinmgr.rules \
		$(DESTDIR)$(sysconfdir)/modprobe.d/pinmgr.conf \
		$(DESTDIR)$(modulesloaddir)/pinmgr.conf $(DESTDIR)$(sysusersdir)/pinmgr.conf \
		$(foreach p,$(MAN_SRCS),$(DESTDIR)$(mandir)/man$(subst .,,$(suffix $(p)))/$(notdir $(p)))
	-rmdir $(DESTDIR)$(includedir)/linux 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && $(INSTALL_SYSTEM) && \
	    command -v ldconfig >/dev/null; then ldconfig; fi

install-check:
	$(SRC)/mk/install-check.sh $(prefix) $(BUILD)/install-check

# ---- DKMS ------------------------------------------------------------------

DKMS_NAME	:= pinmgr
DKMS_SRC	= $(DESTDIR)/usr/src/$(DKMS_NAME)-$(PINMGR_VERSION)
# What `make module` needs: the module, its probes, the UAPI header, the
# kernel-version script and every makefile the top-level Makefile reads
# (MAKEFILE_LIST, so that a new fragment is shipped without editing this).
DKMS_FILES	= dkms.conf Kbuild scripts/kver.sh include/uapi/linux/pinmgr.h \
		  module/Kbuild module/pin_tracker/pin_tracker.kbuild \
		  module/pin_tracker/probe.sh \
		  $(patsubst $(SRC)/%,%,$(MODULE_SRCS) \
			$(wildcard $(SRC)/module/pin_tracker/probes/*.c) \
			$(filter-out $(BUILD)/%,$(filter $(SRC)/%,$(abspath $(MAKEFILE_LIST)))))

dkms-source:
	rm -rf $(DKMS_SRC)
	cd $(SRC) && for f in $(sort $(DKMS_FILES)); do \
		$(INSTALL) -D -m 644 $$f $(DKMS_SRC)/$$f || exit 1; done
	chmod 755 $(DKMS_SRC)/scripts/kver.sh $(DKMS_SRC)/module/pin_tracker/probe.sh

dkms-install:
	@test -n "$(KVER)" || { echo "pinmgr: no KVER (run 'make deps')" >&2; exit 1; }
	@command -v dkms >/dev/null || { echo "pinmgr: dkms not found (run 'make deps')" >&2; exit 1; }
	@if [ -d /var/lib/dkms/$(DKMS_NAME)/$(PINMGR_VERSION) ]; then \
		echo "  DKMS    removing the $(DKMS_NAME)/$(PINMGR_VERSION) already added"; \
		dkms remove -m $(DKMS_NAME) -v $(PINMGR_VERSION) --all; fi
	$(MAKE) --no-print-directory dkms-source DESTDIR=
	dkms add -m $(DKMS_NAME) -v $(PINMGR_VERSION)
	dkms build -m $(DKMS_NAME) -v $(PINMGR_VERSION) -k $(KVER)
	dkms install -m $(DKMS_NAME) -v $(PINMGR_VERSION) -k $(KVER)
	dkms status -m $(DKMS_NAME)

dkms-remove:
	@command -v dkms >/dev/null || { echo "pinmgr: dkms not found (run 'make deps')" >&2; exit 1; }
	@if [ -d /var/lib/dkms/$(DKMS_NAME)/$(PINMGR_VERSION) ]; then \
		echo "dkms remove -m $(DKMS_NAME) -v $(PINMGR_VERSION) --all"; \
		dkms remove -m $(DKMS_NAME) -v $(PINMGR_VERSION) --all; fi
	rm -rf /usr/src/$(DKMS_NAME)-$(PINMGR_VERSION)
	@left=$$(ls -d /var/lib/dkms/$(DKMS_NAME) /usr/src/$(DKMS_NAME)-* \
		$$(find /lib/modules/$(KVER) -name '$(DKMS_NAME).ko*' 2>/dev/null) 2>/dev/null); \
	if [ -n "$$left" ]; then echo "pinmgr: left behind after dkms remove:" $$left >&2; exit 1; fi; \
	echo "  DKMS    nothing of $(DKMS_NAME) left in /var/lib/dkms, /usr/src, /lib/modules/$(KVER)"

# ---- Debian packages ---------------------------------------------------------

DEB_DIR		:= $(BUILD)/deb
DEB_TREE	:= $(DEB_DIR)/src/pinmgr-$(PINMGR_VERSION)

# A copy of the tree (git's files if this is a clone, else everything but
# build output): dpkg-buildpackage writes into debian/ and the parent dir.
deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh_dkms >/dev/null || \
		{ echo "pinmgr: dpkg-buildpackage/dh_dkms not found (run 'make deps')" >&2; exit 1; }
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_TREE)
	cd $(SRC) && if [ -e .git ] && command -v git >/dev/null; then \
		git ls-files -z -co --exclude-standard | \
			grep -zv -e '^build/' -e '^$(patsubst $(SRC)/%,%,$(BUILD))/' | \
			xargs -0 sh -c 'for f; do if [ -e "$$f" ]; then \
				cp --parents -a "$$f" "$$0" || exit 1; fi; done' $(DEB_TREE); \
	else \
		tar -cf - --exclude=./build --exclude='./$(patsubst $(SRC)/%,%,$(BUILD))' \
			--exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' . | tar -xf - -C $(DEB_TREE); \
	fi
	cd $(DEB_TREE) && env -u BUILD -u MAKEFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -b
	mv $(DEB_DIR)/src/*.deb $(DEB_DIR)/src/*.buildinfo $(DEB_DIR)/src/*.changes $(DEB_DIR)/
	rm -rf $(DEB_DIR)/src
	@ls -l $(DEB_DIR)/*.deb

deb-check:
	@test -n "$(KVER)" || { echo "pinmgr: no KVER (run 'make deps')" >&2; exit 1; }
	$(SRC)/mk/deb-check.sh $(DEB_DIR) $(PINMGR_VERSION) $(KVER)
