#!/usr/bin/env bash
# fuzz.sh BUILD-DIR [SECONDS]: builds the libFuzzer targets of
# tests/fuzz with clang (ASan + UBSan) and runs each for SECONDS (60),
# starting from the committed seed corpus.  A crash leaves its input in
# BUILD-DIR/fuzz/ and fails the run; turn it into a regression test.
# Needs clang and libclang-rt-14-dev (./dev fuzz installs them).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: fuzz.sh BUILD-DIR [SECONDS]}" && pwd)
secs=${2:-60}
out=$build/fuzz
cc=${CLANG:-clang}
command -v "$cc" >/dev/null || { echo "fuzz.sh: clang not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
[ -f "$build/config.h" ] || { echo "fuzz.sh: $build is not a configured build dir" >&2; exit 2; }
mkdir -p "$out/obj"
flags=(-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer-no-link,address,undefined
	-fno-sanitize-recover=undefined -I"$build" -I"$top/src")
read -r -a deps <<<"$(pkg-config --cflags json-c libsodium libpq fcgi)"
read -r -a libs <<<"$(pkg-config --libs json-c libsodium libpq fcgi)"
objs=()
for f in "$top"/src/*.c; do
	case $(basename "$f") in main.c) continue ;; esac
	o=$out/obj/$(basename "${f%.c}").o
	"$cc" "${flags[@]}" "${deps[@]}" -c "$f" -o "$o"
	objs+=("$o")
done
rc=0
for t in "$top"/tests/fuzz/fz_*.c; do
	name=$(basename "${t%.c}")
	"$cc" "${flags[@]}" "${deps[@]}" -fsanitize=fuzzer "$t" "${objs[@]}" "${libs[@]}" -o "$out/$name"
	mkdir -p "$out/corpus/$name"
	echo "== $name: ${secs}s"
	if ! (cd "$out" && ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
		"./$name" -max_total_time="$secs" -max_len=16384 -print_final_stats=1 \
		-artifact_prefix="$out/$name-" "corpus/$name" "$top/tests/fuzz/corpus/$name" \
		>"$out/$name.log" 2>&1); then
		echo "   CRASH: see $out/$name.log and $out/$name-*"
		rc=1
	fi
	grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$out/$name.log" | sed 's/^/   /'
done
exit $rc
