#!/usr/bin/env bash
# bench/cpu-per-request.sh: where a route's CPU goes, per request.
#
# Runs one wrk (-t1, c=64) against a running bench stack and reads the
# CPU time (utime + stime, /proc/PID/stat) of every nginx, postgres,
# taskapi, wrk, floor (bench/experiments/floor.sh) and rust-yardstick
# (bench/experiments/rust.sh) process before and after the middle of the
# run, then
# divides by the requests served in that time: microseconds of CPU per
# request, by program.  Used for the side-by-side figures in
# bench/HISTORY.md ("Where the time goes now").
#
#   BENCH_KEEP_STACK=1 bench/run.sh      # a seeded stack left running
#   bench/cpu-per-request.sh task_get.lua [SECONDS] [PATH] [CONNECTIONS]
#
# BENCH_DATA (the run's data/ directory: token, ids) defaults to the
# most recent bench/out/*/data; BENCH_HTTP_PORT as for run.sh [18090].
set -eu
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
script=${1:?usage: cpu-per-request.sh SCRIPT.lua [SECONDS] [PATH] [CONNECTIONS]}
secs=${2:-8}
path=${3:-/api/v1/tasks}
conns=${4:-64}
[ "$secs" -ge 4 ] || { echo "SECONDS must be 4 or more" >&2; exit 2; }
: "${BENCH_DATA:=$(ls -td "$BENCH_DIR"/out/*/data 2>/dev/null | head -n 1)}"
export BENCH_DATA BENCH_LUA_DIR=$BENCH_DIR
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ticks per program name, summed over its processes
snap() {
	local p c
	for p in /proc/[0-9]*; do
		c=$(cat "$p/comm" 2>/dev/null) || continue
		case $c in postgres|taskapi|floor|rust-yardstick|nginx|wrk)
			awk -v c="$c" '{print c, $14 + $15}' "$p/stat" 2>/dev/null || true ;;
		esac
	done | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort
}

wrk -t1 -c"$conns" -d"${secs}s" -s "$BENCH_DIR/$script" \
	"http://127.0.0.1:${BENCH_HTTP_PORT:-18090}$path" >"$tmp/wrk" 2>&1 &
w=$!
sleep 1
snap >"$tmp/s1"; t0=$(date +%s.%N)
sleep $((secs - 2))
snap >"$tmp/s2"; t1=$(date +%s.%N)
wait "$w"
rps=$(sed -n 's/^Requests\/sec: *//p' "$tmp/wrk")
[ -n "$rps" ] || { cat "$tmp/wrk" >&2; exit 1; }
echo "$script c=$conns: $rps req/s, $(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$tmp/wrk" | grep . || echo 0) non-2xx"
hz=$(getconf CLK_TCK)
join "$tmp/s1" "$tmp/s2" | awk -v rps="$rps" -v t0="$t0" -v t1="$t1" -v hz="$hz" '
	{ us = ($3 - $2) * 1e6 / hz / ((t1 - t0) * rps); tot += us
	  printf "  %-9s %6.1f us/request\n", $1, us }
	END { printf "  %-9s %6.1f us/request\n", "total", tot }'
