#!/usr/bin/env bash
# bench/experiments/burst-memory.sh: what the pool keeps after a burst.
#
#   BENCH_KEEP_STACK=1 bench/run.sh            # a seeded stack left running
#   bench/experiments/burst-memory.sh [ROUNDS] [CONNECTIONS] [SECONDS]
#
# Each round: the pool's memory (master and workers, bench/memwatch.py:
# PSS summed, and each process's private memory) idle, then one burst of
# wrk -t1 -cCONNECTIONS (default 1024) for SECONDS (default 10) on GET
# /api/v1/tasks/{id}, then again straight after and at 5, 15 and 30 s.
# The event workers hand freed heap back once their connections fall to a
# quarter of their peak, or to none (src/ev_loop.c, sweep); this shows
# how much of a burst's memory that gives back, and how soon.
# Memory, not time, is measured: the machine's speed changes how many
# requests the burst makes, not what the pool keeps afterwards.
set -euo pipefail
EXP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_DIR=$(dirname "$EXP_DIR")
ROOT=$(dirname "$BENCH_DIR")
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
VAR=$(readlink -f "$BUILD/var")
ROUNDS=${1:-3}
CONNS=${2:-1024}
SECS=${3:-10}
HTTP_PORT=${BENCH_HTTP_PORT:-18090}
die() { echo "burst-memory.sh: $*" >&2; exit 1; }

[ -f "$VAR/run/taskapi.pid" ] || die "no running bench stack under $VAR (BENCH_KEEP_STACK=1 bench/run.sh)"
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
bench_data "$tmp/data" "$HTTP_PORT"
master=$(cat "$VAR/run/taskapi.pid")
# wrk holds one descriptor per connection.
ulimit -n $((CONNS + 256)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# sample LABEL: one line, "LABEL pss_kb private_kb_of_each_process..."
sample() {
	python3 "$BENCH_DIR/memwatch.py" once "$master" |
		jq -r --arg l "$1" '[$l, .pss_kb, ([.per_pid[] | .priv] | map(tostring) | join("/"))] | @tsv'
}

printf 'round\tmoment\tpool PSS kB\tprivate kB per process\n'
for r in $(seq 1 "$ROUNDS"); do
	sleep 35 # past the last round's burst
	printf '%s\t%s\n' "$r" "$(sample idle)"
	wrk -t1 -c"$CONNS" -d"${SECS}s" -s "$BENCH_DIR/task_get.lua" \
		"http://127.0.0.1:$HTTP_PORT" >"$tmp/wrk.txt" 2>&1 || true
	grep -q 'Requests/sec' "$tmp/wrk.txt" || die "wrk failed: $(tail -n 3 "$tmp/wrk.txt")"
	printf '%s\t%s\n' "$r" "$(sample after)"
	t=0
	for at in 5 15 30; do
		sleep $((at - t))
		t=$at
		printf '%s\t%s\n' "$r" "$(sample "after+${at}s")"
	done
	echo "# round $r: $(grep -E 'Requests/sec|Non-2xx|Socket errors' "$tmp/wrk.txt" | tr -s ' ' | tr '\n' ';')"
done
