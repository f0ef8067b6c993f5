#!/usr/bin/env bash
# bench/soak.sh: a long load (mixed by default) that records latency per second and
# what the stack was doing in each second, to find what makes a tail.
#
#   BENCH_KEEP_STACK=1 bench/run.sh      # a seeded stack left running
#   bench/soak.sh [SECONDS] [CONNECTIONS]   # default 600 s, c=64
#
# One wrk (-t1, bench/mixed.lua: GET task, list, POST, PATCH, health)
# runs the whole time; it gives the client's p50/p99/p99.9/max overall.
# Per second, from the stack's own records:
#   - nginx's access log (request_time and upstream_response_time of each
#     request): count, p50, p99 and max per second, so nginx's part and
#     the event worker's part of a slow second can be told apart;
#   - bench/soak-sample.py, once a second: the event workers' metrics
#     (taskapi_ev_segment_seconds: loop turns, pipeline queue and
#     database times, as bucket deltas: how many took over 25 ms / 100
#     ms in that second), the load average, and every 5 s PostgreSQL's
#     checkpoint and WAL counters (pg_stat_bgwriter, pg_stat_wal);
#   - PostgreSQL's log (checkpoints are logged: log_checkpoints is on
#     by default since PostgreSQL 15) and nginx's error log.
# Writes OUT/report.md (the worst seconds, what coincided with them) next
# to the raw series (OUT = bench/out/soak-<UTC time>).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
VAR=$(readlink -f "$BUILD/var")
SECS=${1:-600}
CONNS=${2:-64}
HTTP_PORT=${BENCH_HTTP_PORT:-18090}
# BENCH_SOAK_SCRIPT=health.lua (or another of bench/*.lua): one route's
# tail alone instead of the mix.
SCRIPT=${BENCH_SOAK_SCRIPT:-mixed.lua}
PG_PORT=${BENCH_PG_PORT:-55440}
OUT=${BENCH_OUT:-$BENCH_DIR/out/soak-$(date -u +%Y%m%d-%H%M%S)}
die() { echo "soak.sh: $*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
mkdir -p "$OUT"
chmod 755 "$OUT"
bench_data "$OUT/data" "$HTTP_PORT"

ACCESS=$VAR/log/nginx-access.log
PGLOG=$VAR/log/postgres.log
NGERR=$VAR/log/nginx-error.log
o_acc=$(stat -c %s "$ACCESS") o_pg=$(stat -c %s "$PGLOG" 2>/dev/null || echo 0) o_err=$(stat -c %s "$NGERR")
{
	echo "start $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "seconds $SECS"
	echo "connections $CONNS"
	echo "script $SCRIPT"
	echo "loadavg_start $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "ev_workers $(sed -n 's/^TASKAPI_EV_WORKERS=//p' "$VAR/taskapi.env" | tail -n 1)"
	echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo -)"
} >"$OUT/meta.txt"

# WAL write and fsync times (pg_stat_wal's wal_sync_time) are counted
# only with track_wal_io_timing, off by default (it reads the clock
# around every WAL write): on for the soak, back as it was after.
pgsu() { as_svc psql -X -q -At -h "$VAR/run" -p "$PG_PORT" -U postgres -d postgres -c "$1"; }
wal_timing=$(pgsu "SHOW track_wal_io_timing" 2>/dev/null || echo off)
pgsu "ALTER SYSTEM SET track_wal_io_timing = on" >/dev/null && pgsu "SELECT pg_reload_conf()" >/dev/null ||
	echo "soak: could not turn track_wal_io_timing on (WAL fsync times will read 0)" >&2
restore_wal_timing() {
	pgsu "ALTER SYSTEM SET track_wal_io_timing = $wal_timing" >/dev/null 2>&1 &&
		pgsu "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
}

# The sampler stops itself after SECS + 5 s, and when wrk is done.
python3 "$BENCH_DIR/soak-sample.py" "http://127.0.0.1:$HTTP_PORT/metrics" \
	"$VAR/run" "$PG_PORT" "$((SECS + 5))" "$OUT/samples.tsv" &
sampler=$!
trap 'kill -TERM "$sampler" 2>/dev/null || true; restore_wal_timing' EXIT
echo "soak: ${SECS} s of $SCRIPT at c=$CONNS; output $OUT" >&2
wrk -t1 -c"$CONNS" -d"${SECS}s" --timeout 10s --latency -s "$BENCH_DIR/$SCRIPT" \
	"http://127.0.0.1:$HTTP_PORT" >"$OUT/wrk.txt" 2>&1 || true
kill -TERM "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sleep 1.5 # the access log's buffer is flushed every second
echo "loadavg_end $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
tail -c +"$((o_acc + 1))" "$ACCESS" >"$OUT/access.log"
tail -c +"$((o_pg + 1))" "$PGLOG" >"$OUT/postgres.log" 2>/dev/null || true
tail -c +"$((o_err + 1))" "$NGERR" >"$OUT/nginx-error.log"
grep -q '^BENCHRESULT ' "$OUT/wrk.txt" || die "no result from wrk: $(tail -n 5 "$OUT/wrk.txt")"
python3 "$BENCH_DIR/soak-report.py" "$OUT" >"$OUT/report.md"
cat "$OUT/report.md"
