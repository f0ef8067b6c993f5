#!/usr/bin/env bash
# bench/experiments/keepalive-ab.sh: nginx's kept connections to the event
# workers (`keepalive N` in the taskapi_ev upstream) at several values,
# taking turns, at one concurrency.
#
#   BENCH_KEEP_STACK=1 BENCH_QUICK=1 BENCH_ENDPOINTS=health \
#       BENCH_EXPORT_TASKS=0 bench/run.sh          # a seeded stack, left up
#   bench/experiments/keepalive-ab.sh [ROUNDS] [CONNECTIONS] ["VALUES"]
#                                       # default 4, 1024, "256 512"
#
# Each round, for each value in the order given: the stack's rendered
# taskapi-http.conf gets `keepalive N`, nginx is reloaded, then wrk -t1
# (GET task, bench/task_get.lua) runs 2 s to warm up and 8 s measured.
# Printed per run: req/s, non-2xx, the µs of CPU per request of nginx,
# the pool and PostgreSQL (bench/cputiers.py over their process trees),
# and how many connects nginx made to the event workers' socket per 1000
# requests (perf stat on nginx's workers; "-" without perf).  The rendered
# configuration is put back as it was at the end.  Run the values in both
# orders (e.g. "256 512", then "512 256"): the first of a round runs on a
# machine that has just been idle.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(dirname "$BENCH_DIR")
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
VAR=$(readlink -f "$BUILD/var")
ROUNDS=${1:-4}
CONN=${2:-1024}
VALUES=${3:-256 512}
HTTP_PORT=${BENCH_HTTP_PORT:-18090}
CONF=$VAR/nginx/taskapi-http.conf
die() { echo "keepalive-ab.sh: $*" >&2; exit 1; }

[ -f "$CONF" ] || die "no running bench stack under $VAR (BENCH_KEEP_STACK=1 bench/run.sh)"
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
tmp=$(mktemp -d)
chmod 755 "$tmp"
cp "$CONF" "$tmp/conf.orig"
nginx_args=(-p "$VAR/nginx" -c "$VAR/nginx/nginx-dev.conf" -e "$VAR/log/nginx-error.log")
reload() { as_svc nginx "${nginx_args[@]}" -s reload || die "nginx reload failed"; }
trap 'cp "$tmp/conf.orig" "$CONF"; reload; rm -rf "$tmp"' EXIT
bench_data "$tmp/data" "$HTTP_PORT"
export BENCH_DATA=$tmp/data BENCH_LUA_DIR=$BENCH_DIR

ng=$(cat "$VAR/nginx/nginx.pid")
pool=$(cat "$VAR/run/taskapi.pid")
pg=$(head -n 1 "$VAR/pgdata/postmaster.pid")
url=http://127.0.0.1:$HTTP_PORT

for r in $(seq 1 "$ROUNDS"); do
	for k in $VALUES; do
		sed -i "s/^    keepalive [0-9]*;/    keepalive $k;/" "$CONF"
		reload
		sleep 3 # the old workers finish and close their connections
		wrk -t1 -c"$CONN" -d2s -s "$BENCH_DIR/task_get.lua" "$url" >/dev/null 2>&1
		workers=$(pgrep -P "$ng" | paste -sd, -)
		python3 "$BENCH_DIR/cputiers.py" snap nginx="$ng" app="$pool" pg="$pg" >"$tmp/before"
		if command -v perf >/dev/null 2>&1; then
			perf stat -x, -e syscalls:sys_enter_connect -p "$workers" -o "$tmp/perf" -- sleep 8 &
		fi
		wrk -t1 -c"$CONN" -d8s -s "$BENCH_DIR/task_get.lua" "$url" >"$tmp/wrk" 2>&1
		wait
		python3 "$BENCH_DIR/cputiers.py" snap nginx="$ng" app="$pool" pg="$pg" >"$tmp/after"
		n=$(awk '/requests in/ {print $1}' "$tmp/wrk")
		rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk")
		non2=$(awk '/Non-2xx/ {print $5}' "$tmp/wrk")
		connects=-
		if [ -s "$tmp/perf" ]; then
			connects=$(awk -F, -v n="$n" '/sys_enter_connect/ && n > 0 {printf "%.1f", $1 * 1000 / n}' "$tmp/perf")
		fi
		echo "round $r keepalive $k c=$CONN rps $rps non2xx ${non2:-0} connects/1000 $connects $(python3 "$BENCH_DIR/cputiers.py" delta "$tmp/before" "$tmp/after" "$n")"
	done
done
