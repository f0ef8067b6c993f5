#!/usr/bin/env bash
# bench/experiments/wal-settings.sh: the write tail against PostgreSQL's
# checkpoint and WAL settings, two settings taking turns on the bench
# stack's cluster (one binary, one nginx, one database).
#
#   BENCH_KEEP_STACK=1 BENCH_QUICK=1 BENCH_ENDPOINTS=health \
#       BENCH_EXPORT_TASKS=0 bench/run.sh        # a seeded stack, left up
#   bench/experiments/wal-settings.sh [ROUNDS] [SECONDS]
#
# Under a steady write load of some thousands of commits a second, the
# default max_wal_size (1 GB) fills in about 20 s: PostgreSQL starts a
# checkpoint that often ("checkpoints are occurring too frequently" in
# its log), and after each start the first change to every page writes
# the whole page to the WAL (full_page_writes), so each commit's fsync
# carries more for a while: the writes' p99.  Each round runs, once per
# setting (the order alternating): ALTER SYSTEM, reload, CHECKPOINT (the
# same start), then POST and PATCH with wrk -t1 -c BENCH_WAL_CONNECTIONS
# for SECONDS each.  Per run: req/s, p50/p99/p99.9, checkpoints started
# (pg_stat_bgwriter), WAL bytes and full-page images per request
# (pg_stat_wal), and PostgreSQL's CPU per request (its process tree,
# bench/cputiers.py): compressing page images is not free.  Medians per
# setting and endpoint at the end; the settings go back to the cluster's
# own files (ALTER SYSTEM RESET).
#
# Settings (environment), defaults in brackets:
#   BENCH_WAL_A ["max_wal_size=1GB wal_compression=off"]  PostgreSQL's defaults
#   BENCH_WAL_B ["max_wal_size=4GB wal_compression=lz4"]  the dev stack's
#   BENCH_WAL_CONNECTIONS [64]
#   BENCH_BUILD [./build-bench] BENCH_HTTP_PORT [18090] BENCH_PG_PORT [55440]
#   BENCH_DATA   the seeded ids [the newest bench/out/*/data]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(dirname "$BENCH_DIR")
ROUNDS=${1:-3}
SECS=${2:-20}
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
VAR=$BUILD/var
HTTP_PORT=${BENCH_HTTP_PORT:-18090}
PG_PORT=${BENCH_PG_PORT:-55440}
CONNS=${BENCH_WAL_CONNECTIONS:-64}
A=${BENCH_WAL_A:-max_wal_size=1GB wal_compression=off}
B=${BENCH_WAL_B:-max_wal_size=4GB wal_compression=lz4}
OUT=${BENCH_WAL_OUT:-$BENCH_DIR/out/wal-$(date -u +%Y%m%d-%H%M%S)}

say() { printf '[wal %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'wal-settings: %s\n' "$*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
command -v wrk >/dev/null || die "wrk not found"
mkdir -p "$OUT/raw"
chmod 755 "$OUT"
bench_data "$OUT/data" "$HTTP_PORT"

pgsu() { as_svc psql -X -q -At -h "$VAR/run" -p "$PG_PORT" -U postgres -d postgres -c "$1"; }
names() { local kv; for kv in $A $B; do echo "${kv%%=*}"; done | sort -u; }
# The settings go back to the cluster's files (ALTER SYSTEM RESET).
restore() {
	local n
	for n in $(names); do pgsu "ALTER SYSTEM RESET $n" >/dev/null 2>&1 || true; done
	pgsu "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
}
trap restore EXIT

apply() { # "name=value ..."
	local kv
	for kv in $1; do pgsu "ALTER SYSTEM SET ${kv%%=*} = '${kv#*=}'" >/dev/null; done
	pgsu "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5 # the reload reaches the checkpointer
	pgsu "CHECKPOINT" >/dev/null
}

# checkpoints started, WAL bytes, full-page images so far
counters() {
	pgsu "SELECT (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter),
		wal_bytes, wal_fpi FROM pg_stat_wal" | tr '|' ' '
}

ROWS=$OUT/rows.tsv
printf 'round\tsetting\tendpoint\trps\tp50_us\tp99_us\tp999_us\tcheckpoints\twal_bytes_per_req\tfpi_per_req\tpg_cpu_us_per_req\n' >"$ROWS"
PG_PID=$(head -n 1 "$VAR/pgdata/postmaster.pid")

run() { # round label endpoint
	local raw=$OUT/raw/r$1-$2-$3.txt c0 c1 line
	wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s "$BENCH_DIR/$3.lua" \
		"http://127.0.0.1:$HTTP_PORT/api/v1/tasks" >"$raw" 2>&1 &
	local w=$!
	c0=$(counters)
	python3 "$BENCH_DIR/cputiers.py" snap pg="$PG_PID" >"$OUT/cpu0"
	wait "$w" || true
	python3 "$BENCH_DIR/cputiers.py" snap pg="$PG_PID" >"$OUT/cpu1"
	c1=$(counters)
	line=$(grep '^BENCHRESULT ' "$raw" | tail -n 1 || true)
	[ -n "$line" ] || die "$2 $3: no result from wrk (see $raw)"
	local -A v=()
	local kv
	for kv in ${line#BENCHRESULT }; do v[${kv%%=*}]=${kv#*=}; done
	[ "${v[status]}" = 0 ] || die "$2 $3: ${v[status]} non-2xx answers (see $raw)"
	read -r k0 b0 f0 <<<"$c0"
	read -r k1 b1 f1 <<<"$c1"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" \
		"$(awk -v n="${v[requests]}" -v d="${v[duration_us]}" 'BEGIN { printf "%.0f", n / (d / 1e6) }')" \
		"${v[p50_us]}" "${v[p99_us]}" "${v[p999_us]}" "$((k1 - k0))" \
		"$(awk -v b=$((b1 - b0)) -v n="${v[requests]}" 'BEGIN { printf "%.0f", b / n }')" \
		"$(awk -v f=$((f1 - f0)) -v n="${v[requests]}" 'BEGIN { printf "%.2f", f / n }')" \
		"$(python3 "$BENCH_DIR/cputiers.py" delta "$OUT/cpu0" "$OUT/cpu1" "${v[requests]}" |
			sed -n 's/.*pg=\([0-9.]*\).*/\1/p')" >>"$ROWS"
	say "round $1 $2 $3: $(tail -n 1 "$ROWS" | cut -f4-)"
}

say "A: $A; B: $B; $ROUNDS rounds of ${SECS}s per endpoint, c=$CONNS; rows in $ROWS"
for round in $(seq 1 "$ROUNDS"); do
	if [ $((round % 2)) = 1 ]; then order="A B"; else order="B A"; fi
	for s in $order; do
		if [ "$s" = A ]; then apply "$A"; else apply "$B"; fi
		for t in task_create task_patch; do run "$round" "$s" "$t"; done
	done
done

awk -F'\t' "$BENCH_AWK_MEDIAN"'NR > 1 { k = $3 "\t" $2; if (!(k in seen)) { seen[k] = 1; keys[++n] = k }
		for (i = 4; i <= 11; i++) col[k, i] = col[k, i] " " $i }
	END {
		print "| endpoint | setting | req/s | p50 ms | p99 ms | p99.9 ms | p99/p50 | checkpoints | WAL bytes/req | FPI/req | PostgreSQL CPU us/req |"
		print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		for (i = 1; i <= n; i++) {
			k = keys[i]; split(k, e, "\t")
			p50 = median(col[k, 5]); p99 = median(col[k, 6])
			printf "| %s | %s | %.0f | %.2f | %.1f | %.1f | %.1f | %s | %.0f | %.2f | %.1f |\n", e[1], e[2],
			    median(col[k, 4]), p50 / 1000, p99 / 1000, median(col[k, 7]) / 1000,
			    (p50 > 0 ? p99 / p50 : 0), median(col[k, 8]), median(col[k, 9]), median(col[k, 10]),
			    median(col[k, 11])
		}
	}' "$ROWS" | tee "$OUT/table.md"
echo "A = $A; B = $B" | tee -a "$OUT/table.md"
