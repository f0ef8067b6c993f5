#!/usr/bin/env bash
# bench/cores.sh: how the stack with its default sizes scales from one
# core to all of them, in the same minutes.
#
#   BENCH_KEEP_STACK=1 bench/run.sh      # a seeded stack left running
#   bench/cores.sh [ROUNDS] [SECONDS]    # default 3 rounds of 5 s
#
# Each round, for GET /health and GET /api/v1/tasks/{id}: every process
# of the stack (nginx, taskapi's master and workers, PostgreSQL; children
# forked later inherit it) and the client (wrk -t1 -c64) pinned with
# taskset to CPU 0 alone, then to all online CPUs, alternated.  Reported:
# medians of req/s, server-side CPU µs per request (bench/cputiers.py),
# and the efficiency: req/s per core given, and the speed-up of all cores
# over one.  On a machine shared with other work "one core" is one core's
# share of what the others leave, and so is "all"; the ratio is what
# counts.  The stack is left on all CPUs at the end.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
VAR=$(readlink -f "$BUILD/var")
ROUNDS=${1:-3}
SECS=${2:-5}
HTTP_PORT=${BENCH_HTTP_PORT:-18090}
NCPU=$(getconf _NPROCESSORS_ONLN)
ALL="0-$((NCPU - 1))"
die() { echo "cores.sh: $*" >&2; exit 1; }
command -v taskset >/dev/null || die "taskset not found (util-linux)"
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
tmp=$(mktemp -d)
chmod 755 "$tmp"
bench_data "$tmp/data" "$HTTP_PORT"

NGINX=$(cat "$VAR/nginx/nginx.pid")
MASTER=$(cat "$VAR/run/taskapi.pid")
PG=$(head -n 1 "$VAR/pgdata/postmaster.pid")
ROOTS="nginx=$NGINX app=$MASTER pg=$PG"

tree() { # pid: it and its descendants
	local p=$1 c
	echo "$p"
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree "$c"; done
}
pin() { # cpuset
	local p
	for p in $(tree "$NGINX") $(tree "$MASTER") $(tree "$PG"); do
		taskset -a -p -c "$1" "$p" >/dev/null 2>&1 || true # a process may be gone
	done
}
trap 'pin "$ALL"; rm -rf "$tmp"' EXIT

measure() { # cpuset script path -> "rps server_us"
	local raw=$tmp/wrk n
	pin "$1"
	taskset -c "$1" wrk -t1 -c64 -d1s -s "$BENCH_DIR/$2" "http://127.0.0.1:$HTTP_PORT$3" >/dev/null 2>&1
	# shellcheck disable=SC2086
	python3 "$BENCH_DIR/cputiers.py" snap $ROOTS >"$tmp/c0"
	taskset -c "$1" wrk -t1 -c64 -d"${SECS}s" -s "$BENCH_DIR/$2" "http://127.0.0.1:$HTTP_PORT$3" >"$raw" 2>&1 || true
	# shellcheck disable=SC2086
	python3 "$BENCH_DIR/cputiers.py" snap $ROOTS >"$tmp/c1"
	n=$(sed -n 's/^BENCHRESULT requests=\([0-9]*\).*/\1/p' "$raw")
	[ -n "$n" ] || die "no result from wrk: $(cat "$raw")"
	grep -q ' status=0 ' "$raw" || die "non-2xx answers: $(grep BENCHRESULT "$raw")"
	printf '%s %s\n' "$(sed -n 's/^Requests\/sec: *//p' "$raw")" \
		"$(python3 "$BENCH_DIR/cputiers.py" delta "$tmp/c0" "$tmp/c1" "$n" | sed -n 's/.*total=\([0-9.]*\).*/\1/p')"
}

rows=$tmp/rows
: >"$rows"
for r in $(seq 1 "$ROUNDS"); do
	for ep in "health health.lua /health" "task_get task_get.lua /api/v1/tasks"; do
		read -r name script path <<<"$ep"
		for set in 0 "$ALL"; do
			read -r rps us < <(measure "$set" "$script" "$path")
			printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$set" "$r" "$rps" "$us" | tee -a "$rows" >&2
		done
	done
done
pin "$ALL"
python3 - "$rows" "$NCPU" "$ROUNDS" "$SECS" "$ALL" <<-'EOF'
	import statistics, sys
	rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
	ncpu, allset = int(sys.argv[2]), sys.argv[5]
	g = {}
	for name, cpus, _, rps, us in rows:
	    g.setdefault((name, cpus), []).append((float(rps), float(us)))
	def m(k, i):
	    return statistics.median(x[i] for x in g[k])
	print(f"Whole stack and client pinned with taskset, medians of {sys.argv[3]} rounds of "
	      f"{sys.argv[4]} s, wrk -t1 -c64, default sizes:")
	print()
	print("| endpoint | CPUs | req/s | server CPU µs/request | req/s per core | speed-up | efficiency |")
	print("|---|---|---:|---:|---:|---:|---:|")
	for name in ("health", "task_get"):
	    one = m((name, "0"), 0)
	    for cpus, n in (("0", 1), (allset, ncpu)):
	        rps = m((name, cpus), 0)
	        sp = rps / one
	        print(f"| {name} | {cpus} ({n}) | {rps:,.0f} | {m((name, cpus), 1):.1f} | {rps / n:,.0f} | "
	              f"{sp:.2f}x | {sp / n * 100:.0f}% |")
EOF
