#!/usr/bin/env bash
# lint.sh: the static checks (cppcheck, clang-tidy, clang-format), for `make lint`.
#
#   build-aux/lint.sh BUILDDIR
#
# BUILDDIR is a configured build tree (it holds config.h).  Runs, over
# src/*.c:
#   1. cppcheck, with the warning, style, performance and portability
#      checks, POSIX and json-c knowledge;
#   2. clang-tidy with the checks in .clang-tidy, every warning an error,
#      using BUILDDIR/compile_commands.json;
#   3. clang-format --dry-run --Werror with .clang-format;
#   4. build-aux/include-cycles.py: no two modules of src/ include each
#      other, and no two objects of BUILDDIR/src/libtaskapi.a use each
#      other's symbols (it builds the library first).
# Exits 0 when all four are clean, 1 when any of them found something,
# 2 when a tool is missing or the build tree is not usable.
#
# compile_commands.json: when BUILDDIR has none, or it lacks one of
# src/*.c, it is made by `bear -- make` in BUILDDIR/.lint-cdb, a second
# build configured like BUILDDIR (BUILDDIR's own objects and binaries are
# left alone, so a running dev stack is not disturbed).
#
# Settings (environment):
#   LINT_FORMAT=changed   (default) check only the lines that differ from
#                         LINT_FORMAT_BASE (default HEAD), plus whole
#                         untracked files: hand-made KNF alignment to tab
#                         stops is not something clang-format 14 can
#                         reproduce (see .clang-format), so whole old
#                         files would never pass.  CI sets the base to
#                         the branch point, e.g. LINT_FORMAT_BASE=origin/main.
#                         Even there, KNF alignment by tabs in new lines
#                         ("char\t buf[64];", "x;\t/* note */") is flagged:
#                         new code takes clang-format's spacing.
#   LINT_FORMAT=warn      as "changed", but findings do not fail the run.
#   LINT_FORMAT=all       check every line of src/*.c.
#   LINT_FORMAT=none      skip clang-format.
#   LINT_SKIP="cppcheck clang-tidy"   skip tools by name (also
#                         include-cycles).
#   CLANG_TIDY, CLANG_FORMAT, CPPCHECK, BEAR   the commands to use.
set -uo pipefail

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CPPCHECK=${CPPCHECK:-cppcheck}
CLANG_TIDY=${CLANG_TIDY:-$(command -v clang-tidy-14 || echo clang-tidy)}
CLANG_FORMAT=${CLANG_FORMAT:-$(command -v clang-format-14 || echo clang-format)}
BEAR=${BEAR:-bear}
LINT_FORMAT=${LINT_FORMAT:-changed}
LINT_FORMAT_BASE=${LINT_FORMAT_BASE:-HEAD}
LINT_SKIP=${LINT_SKIP:-}
JOBS=$(nproc 2>/dev/null || echo 2)

say() { printf 'lint: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }
skipped() { case " $LINT_SKIP " in *" $1 "*) return 0 ;; esac; return 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found (Debian package: $2)"; }

[ $# -eq 1 ] || die "usage: build-aux/lint.sh BUILDDIR"
BUILD=$(cd "$1" 2>/dev/null && pwd) || die "no such directory: $1"
[ -f "$BUILD/config.h" ] || die "$BUILD has no config.h: configure it first"

cd "$SRCDIR" || exit 2
shopt -s nullglob
SRCS=(src/*.c)
[ ${#SRCS[@]} -gt 0 ] || die "no src/*.c under $SRCDIR"

TMP=$(mktemp -d) || exit 2
trap 'rm -rf "$TMP"' EXIT
failed=()

# --- cppcheck ----------------------------------------------------------

run_cppcheck() {
	need "$CPPCHECK" cppcheck
	# cppcheck cannot read json-c's headers usefully; without this it
	# stops at the first json_object_object_foreach ("unknown macro")
	# and skips the rest of the file.
	cat >"$TMP/json-c.cfg" <<-'EOF'
	<?xml version="1.0"?>
	<def format="2">
	  <define name="json_object_object_foreach(obj,key,val)" value="char *key = NULL; struct json_object *val = NULL; for (struct lh_entry *entry##key = json_object_get_object(obj)-&gt;head; entry##key != NULL &amp;&amp; ((key = (char *)entry##key-&gt;k), (val = (struct json_object *)entry##key-&gt;v), 1); entry##key = entry##key-&gt;next)"/>
	</def>
	EOF
	say "cppcheck"
	# Suppressed everywhere, each for a reason:
	#   getpwnamCalled, readdirCalled: every taskapi process is single
	#     threaded, and glibc deprecates readdir_r (readdir is the
	#     thread-safe choice there anyway).
	"$CPPCHECK" --enable=warning,style,performance,portability \
	    --library=posix --library="$TMP/json-c.cfg" --std=c11 \
	    --inline-suppr --error-exitcode=1 --quiet \
	    --suppress=getpwnamCalled --suppress=readdirCalled \
	    -I src -I "$BUILD" "${SRCS[@]}"
}

# --- clang-tidy --------------------------------------------------------

# True when BUILD/compile_commands.json exists and names every src/*.c.
cdb_complete() {
	local f
	[ -s "$BUILD/compile_commands.json" ] || return 1
	for f in "${SRCS[@]}"; do
		grep -q "\"$SRCDIR/$f\"" "$BUILD/compile_commands.json" ||
			grep -q "\"file\": *\"$f\"" "$BUILD/compile_commands.json" ||
			return 1
	done
	return 0
}

make_cdb() {
	local cdb=$BUILD/.lint-cdb args
	need "$BEAR" bear
	say "compile_commands.json: bear -- make in $cdb"
	args=$("$BUILD/config.status" --config 2>/dev/null) ||
		die "$BUILD/config.status --config failed"
	mkdir -p "$cdb" || exit 2
	if [ ! -f "$cdb/Makefile" ]; then
		(cd "$cdb" && eval "\"$SRCDIR/configure\" --quiet $args") \
		    >"$TMP/configure.log" 2>&1 ||
			{ cat "$TMP/configure.log" >&2; die "configure in $cdb failed"; }
	fi
	# A clean build, so bear sees every compiler call.
	make -C "$cdb" clean >/dev/null 2>&1
	(cd "$cdb" && "$BEAR" --output "$BUILD/compile_commands.json" -- \
	    make -j"$JOBS" src/taskapi) >"$TMP/make.log" 2>&1 ||
		{ tail -n 30 "$TMP/make.log" >&2; die "make in $cdb failed"; }
}

run_clang_tidy() {
	need "$CLANG_TIDY" clang-tidy-14
	[ -f .clang-tidy ] || die "no .clang-tidy in $SRCDIR"
	cdb_complete || make_cdb
	cdb_complete || die "$BUILD/compile_commands.json lacks some of src/*.c"
	say "clang-tidy ($("$CLANG_TIDY" --version | sed -n 's/.*version \([0-9.]*\).*/\1/p'))"
	# -U_FORTIFY_SOURCE: with it, glibc turns snprintf and friends into
	# __builtin___*_chk calls and the results would depend on -O and
	# --enable-sanitizers.  -Wno-unknown-warning-option: a gcc build's
	# compile_commands.json carries gcc-only warnings.
	printf '%s\0' "${SRCS[@]}" |
	    xargs -0 -n 1 -P "$JOBS" "$CLANG_TIDY" -p "$BUILD" --quiet \
		--warnings-as-errors='*' \
		--extra-arg=-U_FORTIFY_SOURCE \
		--extra-arg=-Wno-unknown-warning-option \
		>"$TMP/tidy.out" 2>"$TMP/tidy.err"
	local rc=$?
	# A header's warning comes once per file that includes it: keep the
	# first (a diagnostic runs from its "warning:"/"error:" line to the
	# next one).
	awk '
		/:[0-9]+:[0-9]+: (warning|error): / { show = !seen[$0]++ }
		show' "$TMP/tidy.out"
	# clang-tidy's own chatter ("N warnings generated.") is noise; real
	# errors (a file that does not compile) are not.
	grep -v -E '^[0-9]+ (warnings?|errors?)( and [0-9]+ errors?)? generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Error while processing' \
	    "$TMP/tidy.err" >&2
	return "$rc"
}

# --- clang-format ------------------------------------------------------

# Prints "FILE FIRST:LAST" for each block of lines FILE gained or changed
# since LINT_FORMAT_BASE, and "FILE all" for untracked files.
changed_ranges() {
	git rev-parse --verify -q "$LINT_FORMAT_BASE^{commit}" >/dev/null ||
		die "LINT_FORMAT_BASE=$LINT_FORMAT_BASE is not a commit"
	git diff -U0 --no-color --no-ext-diff "$LINT_FORMAT_BASE" -- "${SRCS[@]}" |
	    awk '
		/^\+\+\+ b\// { file = substr($0, 7); next }
		/^@@ / {
			split($3, a, ",");
			first = substr(a[1], 2) + 0;
			n = (a[2] == "") ? 1 : a[2] + 0;
			if (n > 0)
				printf "%s %d:%d\n", file, first, first + n - 1;
		}'
	git ls-files --others --exclude-standard -- "${SRCS[@]}" |
	    sed 's/$/ all/'
}

run_clang_format() {
	local rc=0 f r
	need "$CLANG_FORMAT" clang-format-14
	[ -f .clang-format ] || die "no .clang-format in $SRCDIR"
	case $LINT_FORMAT in
	all)
		say "clang-format: every line of src/*.c"
		"$CLANG_FORMAT" --dry-run --Werror "${SRCS[@]}" || rc=1
		;;
	changed|warn)
		need git git
		if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
			say "clang-format: not a git checkout, nothing to compare; skipped (LINT_FORMAT=all checks every line)"
			return 0
		fi
		say "clang-format: lines changed since $LINT_FORMAT_BASE"
		changed_ranges >"$TMP/ranges" || return 1
		# One clang-format call per file, with all its ranges.
		local files=()
		mapfile -t files < <(cut -d' ' -f1 "$TMP/ranges" | sort -u)
		for f in "${files[@]}"; do
			local lines=()
			while read -r _ r; do
				[ "$r" = all ] && { lines=(); break; }
				lines+=("--lines=$r")
			done < <(awk -v f="$f" '$1 == f' "$TMP/ranges")
			"$CLANG_FORMAT" --dry-run --Werror "${lines[@]}" "$f" \
			    </dev/null || rc=1
		done
		if [ "$LINT_FORMAT" = warn ] && [ "$rc" -ne 0 ]; then
			say "clang-format: the findings above are not fatal (LINT_FORMAT=warn)"
			rc=0
		fi
		;;
	none)
		;;
	*)
		die "LINT_FORMAT must be changed, warn, all or none"
		;;
	esac
	return "$rc"
}

# --- include cycles ------------------------------------------------------

run_include_cycles() {
	need python3 python3
	need nm binutils
	say "include-cycles"
	make -s -C "$BUILD" src/libtaskapi.a >"$TMP/lib.log" 2>&1 ||
		{ tail -n 30 "$TMP/lib.log" >&2; die "make src/libtaskapi.a in $BUILD failed"; }
	python3 "$SRCDIR/build-aux/include-cycles.py" "$BUILD"
}

# --- main --------------------------------------------------------------

for tool in cppcheck clang-tidy clang-format include-cycles; do
	skipped "$tool" && continue
	case $tool in
	cppcheck) run_cppcheck ;;
	clang-tidy) run_clang_tidy ;;
	clang-format) run_clang_format ;;
	include-cycles) run_include_cycles ;;
	esac || failed+=("$tool")
done

if [ ${#failed[@]} -gt 0 ]; then
	say "FAILED: ${failed[*]}"
	exit 1
fi
say "clean"
exit 0
