# SPDX-License-Identifier: GPL-2.0
#
# Lint beyond the module's checkpatch and sparse (module/module.mk), included
# by the top-level Makefile. `make lint` runs all of it; each part alone:
#
#   lint-user   the library, the CLI and the tests build with -Wall -Wextra
#               -Werror; cppcheck finds nothing in them; clang-tidy (the
#               static analyzer and bugprone checks) finds nothing in the
#               library and the CLI
#   lint-abi    tests/abi/abi.c compiles as C89, C11 and C++11, for x86-64
#               and i386, with <linux/pinmgr.h> alone: every struct's size,
#               alignment and field offsets, every ioctl number pinned
#   lint-kdoc   the kernel's scripts/kernel-doc reports nothing on the module
#               and the UAPI header (-v -Werror: 6.1's kernel-doc has no
#               -Wall, -v is what enables its extra warnings), and renders
#               the tracker's documentation (rst and man)
#   lint-man    every man page formats without a groff warning, every .so
#               link resolves, every library function has a page
#   lint-pkg    one version everywhere (userlib.mk, dkms.conf,
#               debian/changelog); shellcheck on every shell script
#   lint-docs   every name a user sees (module parameters, sysfs files,
#               fdinfo keys, ioctls, errnos, capabilities, event kinds,
#               library functions, tracepoints), taken from the code, is in
#               the README, man pages and symbols file that list such names,
#               and those name nothing that no longer exists (mk/doc-names.sh)

LINT_DIR	:= $(BUILD)/lint
CPPCHECK_FLAGS	:= -q --enable=warning,portability,performance --std=c11 \
		   --error-exitcode=1 --inline-suppr -D_GNU_SOURCE -D__x86_64__ \
		   -I$(SRC)/userlib -I$(SRC)/include/uapi -I$(SRC)/tests \
		   --include=/usr/include/libkmod.h \
		   --suppressions-list=$(SRC)/mk/cppcheck.supp
# valist.Uninitialized: clang 14's analyzer flags every va_start/vfprintf
# pair (a known false positive); the others are style, not bugs.
TIDY_CHECKS	:= -*,clang-analyzer-*,-clang-analyzer-security.insecureAPI.*,$\
		   -clang-analyzer-valist.Uninitialized,bugprone-*,$\
		   -bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,$\
		   -bugprone-macro-parentheses,-bugprone-assignment-in-if-condition,$\
		   -bugprone-narrowing-conversions,$\
		   -bugprone-implicit-widening-of-multiplication-result,$\
		   -bugprone-branch-clone,cert-err34-c,misc-redundant-expression
TIDY_SRCS	:= $(SRC)/userlib/pinmgr.c $(SRC)/cli/pinmgr.c
USER_SRCS	:= $(SRC)/userlib/pinmgr.c $(SRC)/cli/pinmgr.c \
		   $(filter-out $(SRC)/tests/abi/%,$(wildcard $(SRC)/tests/*.c)) \
		   $(SRC)/tests/bench/sameboot.c

ABI_SRC		:= $(SRC)/tests/abi/abi.c
# i386 without a multilib C library: the test needs only <stddef.h> (GCC's)
# and the kernel headers, whose asm/ is the same for both x86 ABIs.
ABI_FLAGS	:= -fsyntax-only -Wall -Wextra -Werror -I$(SRC)/include/uapi \
		   -idirafter /usr/include/x86_64-linux-gnu
CXX		?= g++

MAN_PAGES	:= $(wildcard $(SRC)/man/*.[0-9])
SHELL_SCRIPTS	:= $(SRC)/cli/bundle.sh $(SRC)/mk/kernel-doc.sh \
		   $(SRC)/mk/check-versions.sh $(SRC)/mk/install-check.sh \
		   $(SRC)/mk/deb-check.sh $(SRC)/tests/abi/coverage.sh \
		   $(wildcard $(SRC)/scripts/*.sh) $(SRC)/.ci/run \
		   $(SRC)/tests/vm/run.sh $(SRC)/tests/vm/init.sh \
		   $(SRC)/tests/bench/run.sh $(SRC)/tests/bench/ab.sh \
		   $(SRC)/tests/bench/sameboot.sh \
		   $(SRC)/module/pin_tracker/probe.sh \
		   $(SRC)/mk/borrow.sh $(SRC)/mk/doc-names.sh \
		   $(wildcard $(SRC)/debian/*.postinst $(SRC)/debian/*.postrm)

.PHONY: lint-user lint-abi lint-kdoc lint-man lint-pkg lint-docs lint-tidy-tests

# deps first: on a fresh machine the tools come from `make deps`.
lint: deps lint-user lint-abi lint-kdoc lint-man lint-pkg lint-docs

lint-user: lib cli tests
	@echo "  WERROR  the library, the CLI and the tests with -Werror ($(LINT_DIR)/werror)"
	@mkdir -p $(LINT_DIR)
	@$(MAKE) --no-print-directory BUILD=$(LINT_DIR)/werror WERROR=-Werror userspace >$(LINT_DIR)/werror.log 2>&1 || \
		{ grep -E -A3 'warning|error' $(LINT_DIR)/werror.log >&2; exit 1; }
	@# Built by tests/bench/sameboot.sh itself, in the guest's image.
	$(CC) -fsyntax-only -Wall -Wextra -Werror $(UAPI_INC) $(SRC)/tests/bench/sameboot.c
	cppcheck $(CPPCHECK_FLAGS) $(USER_SRCS)
	clang-tidy --quiet --warnings-as-errors='*' --checks='$(TIDY_CHECKS)' \
		$(TIDY_SRCS) -- -D_GNU_SOURCE -I$(SRC)/userlib $(UAPI_INC) 2>&1 | \
		{ grep -v -e '^[0-9]* warnings* generated' -e '^Suppressed [0-9]* warnings' \
			-e 'Use -header-filter' || true; } | { ! grep . ; } || \
		{ echo "pinmgr: clang-tidy reported problems (see above)" >&2; exit 1; }

# Not part of `make lint` (yet): the same clang-tidy checks on the tests.
lint-tidy-tests:
	clang-tidy --quiet --checks='$(TIDY_CHECKS)' $(filter $(SRC)/tests/%,$(USER_SRCS)) \
		-- -D_GNU_SOURCE -pthread -I$(SRC)/tests -I$(SRC)/userlib $(UAPI_INC)

lint-abi:
	@for std in c89 c11; do for m in -m64 -m32; do \
		echo "  ABI     $$std $$m"; \
		$(CC) -std=$$std $$m $(ABI_FLAGS) $(ABI_SRC) || exit 1; \
	done; done
	@for m in -m64 -m32; do \
		echo "  ABI     c++11 $$m"; \
		$(CXX) -x c++ -std=c++11 -pedantic $$m $(ABI_FLAGS) $(ABI_SRC) || exit 1; \
	done
	@$(SRC)/tests/abi/coverage.sh $(SRC)/include/uapi/linux/pinmgr.h $(ABI_SRC)

KDOC_FILES	= $(MODULE_SRCS) \
		   $(SRC)/include/uapi/linux/pinmgr.h

lint-kdoc:
	@mkdir -p $(LINT_DIR)
	$(SRC)/mk/kernel-doc.sh -none -v -Werror $(KDOC_FILES) 2>&1 | \
		tee $(LINT_DIR)/kernel-doc.log | { grep -v ': info: Scanning doc for' || true; } | \
		{ ! grep . ; } || { echo "pinmgr: kernel-doc reported problems (see above)" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(LINT_DIR)/pin-tracker.rst
	@$(SRC)/mk/kernel-doc.sh -man -Werror $(TRACKER_KDOC) >$(LINT_DIR)/pin_tracker.9
	@n=$$(grep -c '^\.\. c:function::' $(LINT_DIR)/pin-tracker.rst); \
	 [ "$$n" -gt 0 ] || { echo "pinmgr: kernel-doc rendered no function of the tracker" >&2; exit 1; }; \
	 echo "  KDOC    tracker: $$n functions rendered ($(LINT_DIR)/pin-tracker.rst, .9)"
	@cmp -s $(LINT_DIR)/pin-tracker.rst $(SRC)/docs/pin-tracker.rst || { \
	 diff -u $(SRC)/docs/pin-tracker.rst $(LINT_DIR)/pin-tracker.rst | head -40; \
	 echo "pinmgr: docs/pin-tracker.rst is not what the tracker's kernel-doc renders: run 'make docs'" >&2; exit 1; }

# The pin tracker's API as a driver author reads it: its kernel-doc,
# rendered by the kernel's scripts/kernel-doc into docs/pin-tracker.rst
# (`make docs`; `make lint` fails when the file is stale).
TRACKER_KDOC	:= $(addprefix $(SRC)/module/pin_tracker/,pin_tracker.h pin_tracker.c pin_watch.h)

.PHONY: docs
docs: $(LINT_DIR)/pin-tracker.rst
	cp $< $(SRC)/docs/pin-tracker.rst

$(LINT_DIR)/pin-tracker.rst: $(TRACKER_KDOC) $(SRC)/mk/lint.mk FORCE
	@mkdir -p $(@D)
	@{ echo '.. SPDX-License-Identifier: GPL-2.0'; echo; \
	   echo '.. Generated from module/pin_tracker/ by the kernel'"'"'s scripts/kernel-doc'; \
	   echo '.. (make docs); make lint checks it is current. Do not edit.'; echo; \
	   echo '==================='; echo 'The pin tracker API'; echo '==================='; echo; \
	   echo 'How to build it into a driver, and its locking and lifetime rules:'; \
	   echo 'README.md, "Borrowing the pin tracker".'; echo; \
	   $(SRC)/mk/kernel-doc.sh -rst -sphinx-version 5.3.0 -Werror $(TRACKER_KDOC); } >$@.tmp
	@mv -f $@.tmp $@

# groff -ww: all warnings; -z: no output. .so requests are resolved from
# man/'s parent, as man(1) does from the top of a manual tree.
lint-man:
	@for p in $(MAN_PAGES); do \
		so=$$(sed -n 's/^\.so //p' $$p); \
		if [ -n "$$so" ]; then \
			[ -f $(SRC)/man/$$(basename $$so) ] || { echo "$$p: .so $$so: no such page" >&2; exit 1; }; \
			continue; \
		fi; \
		out=$$(LC_ALL=C.UTF-8 groff -man -t -ww -z -Tutf8 $$p 2>&1); \
		[ -z "$$out" ] || { echo "$$p:"; echo "$$out"; exit 1; } >&2; \
	done
	@for f in $$(sed -n 's/^[a-z].*[ *]\(pinmgr_[a-z0-9_]*\)(.*/\1/p' $(SRC)/userlib/pinmgr.h); do \
		[ -f $(SRC)/man/$$f.3 ] || { echo "man/$$f.3 missing: every library function needs a page" >&2; exit 1; }; \
	done
	@echo "  MAN     $(words $(MAN_PAGES)) pages"

lint-docs:
	@$(SRC)/mk/doc-names.sh $(SRC)
	@echo "  DOCS    names from the code all documented, none stale"

lint-pkg:
	@$(SRC)/mk/check-versions.sh $(SRC)
	shellcheck $(SHELL_SCRIPTS)
