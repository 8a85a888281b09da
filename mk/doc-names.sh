#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Docs that cannot drift (make lint-docs): every name a user sees is taken
# from the code, and must appear in the documents that list such names;
# names the documents give that the code no longer has fail too.
#
#   mk/doc-names.sh SRC
#
# From the code:            must appear in:
#   module parameters       README.md, pinmgr(4), pinmgr(8)
#   sysfs stats files       README.md, pinmgr(4), pinmgr(8)
#   fdinfo keys             README.md, pinmgr(4), pinmgr(8)
#   ioctl commands          pinmgr(4)
#   errnos the module returns  the UAPI header's DOC block (an entry each),
#                           pinmgr(4)
#   capability bits         pinmgr(4), pinmgr_info(3), the CLI's names
#   event kinds             pinmgr(4), pinmgr_events_read(3)
#   library symbols         README.md, their man page, the .symbols file
#   tracepoints             README.md, docs/divergence.md
# Back the other way: PINMGR_* macros, pinmgr_*() functions, pinmgr-* fdinfo
# keys and pinmgr:* tracepoints named in the documents must exist.
#
# Exit status 1 with one line per problem.
set -eu
S=$1
UAPI=$S/include/uapi/linux/pinmgr.h
MAIN=$S/module/main.c
TRACKER=$S/module/pin_tracker
MAP=$S/userlib/libpinmgr.map
DOCS="$S/README.md $S/man/*.[348] $S/docs/*.md"
bad=0

problem() {
	echo "lint-docs: $*" >&2
	bad=1
}

# need WHAT NAME FILE...: NAME appears in each FILE as a name, not as a
# word of the prose: in Markdown as `code` (alone, or starting a path or
# call), in a man page as the argument of a font macro (.I, .BR ...), in
# C as a whole word.
need() {
	what=$1 name=$2
	shift 2
	for f in "$@"; do
		case $f in
		*.md) grep -q -F -e "\`$name\`" -e "\`$name(" -e "\`$name " -e "/$name\`" -e ":$name\`" "$f" ;;
		*.[0-9]) grep -q -E -e "^\.[BIR]{1,2} (.* )?$name( |$)" "$f" ;;
		*) grep -q -w -e "$name" "$f" ;;
		esac || problem "$what '$name' is not in ${f#"$S"/}"
	done
}

# --- names from the code ---------------------------------------------------
params=$(sed -n 's/^module_param(\([a-z_0-9]*\),.*/\1/p' "$MAIN")
counters=$(sed -n 's/^\t\[PIN_COUNTER_[A-Z_]*\] = "\([a-z_]*\)",$/\1/p' "$TRACKER/pin_tracker.c")
sysfs="$(sed -n 's/.*pinmgr_attr_init([0-9]*, "\([a-z_]*\)".*/\1/p' "$MAIN") $counters"
fdinfo="$(sed -n 's/.*seq_printf(m, "\(pinmgr-[a-z-]*\):.*/\1/p' "$MAIN")
$(for c in $counters; do echo "pinmgr-$c" | tr _ -; done)"
ioctls=$(sed -n 's/^#define \(PINMGR_[A-Z_]*\)[[:space:]]*_IOWR(.*/\1/p' "$UAPI")
caps=$(sed -n 's/^[[:space:]]*\(PINMGR_CAP_[A-Z_]*\)[[:space:]]*=.*/\1/p' "$UAPI")
events=$(sed -n 's/^[[:space:]]*\(PINMGR_EVENT_[A-Z_]*\)[[:space:]]*=.*/\1/p' "$UAPI")
errnos=$(cat "$MAIN" "$TRACKER"/*.c | grep -o -e '-E[A-Z0-9]*' | sed 's/^-//' |
	grep -v -x -e ERESTARTSYS | sort -u)
symbols=$(sed -n 's/^[[:space:]]*\(pinmgr_[a-z_]*\);$/\1/p' "$MAP")
trace_system=$(sed -n 's/^PIN_TRACKER_TRACE := \([a-z_]*\)$/\1/p' "$S/module/Kbuild")
tracepoints=$(sed -n 's/.*PIN_TRACE_\(DEFINE\|EVENT\)(.*PIN_TRACE_NAME(\([a-z_]*\)),*$/\2/p' \
	"$TRACKER/pin_trace.h" | sed "s/^/${trace_system}_/")

for n in params sysfs fdinfo ioctls caps events errnos symbols tracepoints; do
	eval "v=\$$n"
	[ -n "$v" ] || problem "found no $n in the code: this script needs updating"
done

# --- must be documented ----------------------------------------------------
for p in $params; do
	need "module parameter" "$p" "$S/README.md" "$S/man/pinmgr.4" "$S/man/pinmgr.8"
done
for f in $sysfs; do
	need "sysfs file stats/" "$f" "$S/README.md" "$S/man/pinmgr.4" "$S/man/pinmgr.8"
done
for k in $fdinfo; do
	need "fdinfo key" "$k" "$S/README.md" "$S/man/pinmgr.4" "$S/man/pinmgr.8"
done
for i in $ioctls; do
	need "ioctl" "$i" "$S/man/pinmgr.4"
done
# The UAPI header's DOC block lists each errno as " * - ENAME: ...".
doc_errnos=$(sed -n 's/^ \* - \(E[A-Z0-9]*\):.*/\1/p' "$UAPI")
for e in $errnos; do
	echo "$doc_errnos" | grep -q -x -e "$e" ||
		problem "errno '$e' has no entry in the DOC block of ${UAPI#"$S"/}"
	need "errno" "$e" "$S/man/pinmgr.4"
done
for c in $caps; do
	need "capability" "$c" "$S/man/pinmgr.4" "$S/man/pinmgr_info.3" "$S/cli/pinmgr.c"
done
for e in $events; do
	need "event kind" "$e" "$S/man/pinmgr.4" "$S/man/pinmgr_events_read.3"
done
for s in $symbols; do
	need "library function" "$s" "$S/README.md" "$S/debian/libpinmgr0.symbols"
	[ -f "$S/man/$s.3" ] || problem "library function '$s' has no man/$s.3"
done
for t in $tracepoints; do
	need "tracepoint" "$t" "$S/README.md" "$S/docs/divergence.md"
done

# --- documented names that do not exist ------------------------------------
# Macros, and environment variables of the scripts and tests (found where
# they are read); a man page's title (.TH PINMGR_OPEN) is not a name.
# shellcheck disable=SC2086 # DOCS is a list of globs
macros=$(sed '/^\.TH /d' $DOCS | grep -o -w -e 'PINMGR_[A-Z0-9_]*[A-Z0-9]' | sort -u)
for m in $macros; do
	grep -q -r -w -e "$m" "$UAPI" "$S/userlib/pinmgr.h" "$S/Makefile" "$S/mk" \
		"$S/scripts" "$S/tests" "$S/cli" ||
		problem "the docs name '$m', which neither the headers nor the scripts define"
done
# shellcheck disable=SC2086
funcs=$(grep -h -o -e '\bpinmgr_[a-z_]*()' -e '\bpinmgr_[a-z_]* *(3)' $DOCS |
	sed 's/[ (].*//' | sort -u)
for f in $funcs; do
	echo "$symbols" | grep -q -x -e "$f" ||
		problem "the docs name the function '$f()', which the library does not export"
done
# fdinfo keys: pinmgr- followed by a word that is a key's start. Package
# and program names (pinmgr-dkms, pinmgr-demo ...) are not keys.
# shellcheck disable=SC2086
keys=$(grep -h -o -e '\bpinmgr-[a-z-]*[a-z]' $DOCS | sort -u |
	grep -v -x -e pinmgr-dkms -e pinmgr-tools -e pinmgr-demo -e pinmgr-example -e 'pinmgr-debug.*' \
		-e pinmgr-prefix -e pinmgr-borrow -e 'pinmgr-bench.*' -e pinmgr-ci || true)
for k in $keys; do
	echo "$fdinfo" | grep -q -x -e "$k" ||
		problem "the docs name the fdinfo key '$k', which the module does not print"
done
# shellcheck disable=SC2086
tps=$(grep -h -o -e "\b${trace_system}:${trace_system}_[a-z_]*" $DOCS |
	sed 's/.*://' | sort -u)
for t in $tps; do
	echo "$tracepoints" | grep -q -x -e "$t" ||
		problem "the docs name the tracepoint '$t', which the module does not define"
done

exit $bad
