#!/usr/bin/env bash
# bench/experiments/conditional-cost.sh: what ETags, conditional requests
# and the new write statements cost on GET /api/v1/tasks/{id} and PATCH,
# against the commit before them, in one session.
#
#   bench/experiments/conditional-cost.sh [OLD-COMMIT [ROUNDS]]
#
# OLD-COMMIT (default b77a423) is unpacked into build-cond-old-src/ and
# benchmarked with bench/run.sh's BENCH_SRC; each round runs, back to back
# and alternated so that the machine's drift hits all three alike:
#   old   the old tree (no ETag, old statements);
#   new   this tree, the same requests (ETag on each answer, the new
#         statements, no conditional header);
#   cond  this tree with BENCH_CONDITIONAL=1 (bench/common.lua): GETs with
#         an If-None-Match that never matches, PATCHes with "If-Match: *".
# Each run: BENCH_RUNS=1, c=64, BENCH_DURATION (8) s per endpoint, its own
# build directory and stack (bench/run.sh).  Prints req/s and p99 per run
# and the median of ROUNDS (default 3) per variant.  Ports: BENCH_*_PORT as
# for bench/run.sh (give them ones of your own next to other stacks).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(dirname "$BENCH_DIR")
OLD=${1:-b77a423}
ROUNDS=${2:-3}
SRC_OLD=$ROOT/build-cond-old-src
OUT=$BENCH_DIR/out/conditional-cost-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
rm -rf "$SRC_OLD"
mkdir -p "$SRC_OLD"
git -C "$ROOT" archive "$OLD" | tar -x -C "$SRC_OLD"
# The API reference's npm packages: the same pinned ones as this tree's.
[ -d "$ROOT/node_modules" ] && ln -sfn "$ROOT/node_modules" "$SRC_OLD/node_modules"

run() { # variant round
	local v=$1 r=$2 o=$OUT/$1-$2 src=$ROOT build=$ROOT/build-bench cond=0
	case $v in
	old) src=$SRC_OLD build=$ROOT/build-bench-old ;;
	cond) cond=1 ;;
	esac
	BENCH_SRC=$src BENCH_SRC_COMMIT=$OLD BENCH_BUILD=$build BENCH_OUT=$o \
	BENCH_RESULTS=$o/RESULTS.md BENCH_RUNS=1 BENCH_CONCURRENCY=64 \
	BENCH_HIGH_CONCURRENCY= BENCH_EXPORT_TASKS=0 BENCH_CONDITIONAL=$cond \
	BENCH_ENDPOINTS="task_get task_patch" "$BENCH_DIR/run.sh" >"$o.log" 2>&1 ||
		{ echo "$v round $r failed: see $o.log" >&2; exit 1; }
	for t in task_get task_patch; do
		awk -v v="$v" -v r="$r" -v t="$t" '/^BENCHRESULT/ {
			for (i = 2; i <= NF; i++) { split($i, kv, "="); x[kv[1]] = kv[2] }
			printf "%s\t%s\t%s\t%.0f\t%d\t%d\n", v, r, t,
			    x["requests"] / (x["duration_us"] / 1e6), x["p99_us"], x["status"] }' \
			"$o"/raw/*-"$t"-c64-r1.txt
	done | tee -a "$OUT/rows.tsv"
}

printf 'variant\tround\tendpoint\treq/s\tp99_us\tnon2xx\n'
for ((r = 1; r <= ROUNDS; r++)); do
	for v in old new cond; do
		run "$v" "$r"
	done
done
echo "medians of $ROUNDS rounds (req/s, p99 µs):"
for t in task_get task_patch; do
	for v in old new cond; do
		col() { awk -F'\t' -v v="$v" -v t="$t" -v c="$1" '$1 == v && $3 == t { print $c }' \
			"$OUT/rows.tsv" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
		printf '%s\t%s\t%s\t%s\n' "$t" "$v" "$(col 4)" "$(col 5)"
	done
done | tee "$OUT/medians.tsv"
