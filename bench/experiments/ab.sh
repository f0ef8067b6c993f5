#!/usr/bin/env bash
# bench/experiments/ab.sh: two taskapi binaries behind one nginx, taking
# turns, so that a refactor can be shown not to be slower on a machine
# whose speed changes from minute to minute (only ratios measured in the
# same run, close in time, mean anything there).
#
#   BENCH_KEEP_STACK=1 BENCH_QUICK=1 BENCH_ENDPOINTS=health \
#       BENCH_EXPORT_TASKS=0 bench/run.sh        # a seeded stack, left up
#   bench/experiments/ab.sh OLD_BINARY NEW_BINARY [ROUNDS]
#
# Each round restarts the pool (the master, its blocking workers and
# event worker) under the stack's spawn-fcgi socket, once with each
# binary, the order alternating from round to round (A B, B A, A B...),
# and measures with wrk (-t1, c=BENCH_AB_CONNECTIONS, BENCH_AB_SECONDS
# each, after a 2 s warm-up) GET /health, GET /api/v1/tasks/{id},
# GET /api/v1/tasks?limit=20, POST /api/v1/tasks and PATCH
# /api/v1/tasks/{id}: the scripts of bench/.  A run with a non-2xx
# answer or a socket error fails the whole thing.  Prints the median
# req/s of each binary per endpoint and new/old, and the CPU time the
# pool spent per request (every taskapi process's utime + stime, the
# master's reaped children included, from /proc, before and after the
# run, over the requests answered): on a busy machine req/s follows the
# neighbours' load, while CPU per request moves much less.  The same for
# the stack's nginx and PostgreSQL process trees (bench/cputiers.py), and
# their sum with the pool's, "server": a setting that moves work from the
# pool to the database (or back) shows there.  The raw rows
# go to BENCH_AB_OUT (a new directory under bench/out/).
#
# Settings (environment), defaults in brackets:
#   BENCH_BUILD [./build-bench]  the stack run.sh left up (its var/)
#   BENCH_HTTP_PORT [18090]      its nginx
#   BENCH_DATA                   the seeded ids [the newest bench/out/*/data];
#                                a new token is taken (bench/lib.sh)
#   BENCH_AB_SECONDS [8] BENCH_AB_CONNECTIONS [64]
#   BENCH_AB_ENDPOINTS ["health task_get tasks_list task_create task_patch"]
#   BENCH_AB_COUNT_ERRORS=1      count non-2xx answers and wrk timeouts
#                                (columns, summed in the table) instead
#                                of failing: for overload, c=1024
# Both binaries must have been built from trees whose migrations the
# stack's database already has (the pool refuses an unknown schema).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(dirname "$BENCH_DIR")
OLD=${1:?usage: ab.sh OLD_BINARY NEW_BINARY [ROUNDS]}
NEW=${2:?usage: ab.sh OLD_BINARY NEW_BINARY [ROUNDS]}
ROUNDS=${3:-3}
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
VAR=$BUILD/var
HTTP=http://127.0.0.1:${BENCH_HTTP_PORT:-18090}
SECS=${BENCH_AB_SECONDS:-8}
CONNS=${BENCH_AB_CONNECTIONS:-64}
ENDPOINTS=${BENCH_AB_ENDPOINTS:-health task_get tasks_list task_create task_patch}
OUT=${BENCH_AB_OUT:-$BENCH_DIR/out/ab-$(date -u +%Y%m%d-%H%M%S)}

say() { printf '[ab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'ab: %s\n' "$*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

for f in "$OLD" "$NEW"; do [ -x "$f" ] || die "$f: not an executable"; done
mkdir -p "$OUT"
bench_data "$OUT/data" "${HTTP##*:}"
[ -r "$VAR/taskapi.env" ] || die "no stack under $VAR (run bench/run.sh with BENCH_KEEP_STACK=1)"
for cmd in wrk spawn-fcgi curl; do command -v "$cmd" >/dev/null || die "$cmd not found"; done
ulimit -n 65536 2>/dev/null || true
mkdir -p "$OUT/raw"
ROWS=$OUT/rows.tsv
printf 'round\tbinary\tendpoint\trps\tp50_us\tp99_us\trequests\tcpu_us_per_req\traw\tnon2xx\ttimeouts\tnginx_us\tpg_us\tserver_us\n' >"$ROWS"
COUNT_ERRORS=${BENCH_AB_COUNT_ERRORS:-0}
PIDF=$VAR/run/taskapi.pid
SOCK=$VAR/run/taskapi.sock

# The running master: the pid file at first (run.sh's pool), then the
# one pool_start started.  Not read back from the file each time: a
# master that is stopping removes the file, and it may do so after the
# next one has written it.
MASTER=
alive() {
	[ -n "$MASTER" ] || MASTER=$(cat "$PIDF" 2>/dev/null || true)
	[ -n "$MASTER" ] && kill -0 "$MASTER" 2>/dev/null
}

# CPU ticks of this stack's pool: the master's and each of its
# children's utime + stime (other stacks on the machine run taskapi
# too), and the master's cutime + cstime (workers it reaped: an ondemand
# pool retires idle ones).  The fields are counted after ")": comm may
# hold spaces.
pool_ticks() {
	local master=$MASTER kids
	kids=$(pgrep -P "$master" | sed 's|.*|/proc/&/stat|')
	# shellcheck disable=SC2086 # one path per child
	cat "/proc/$master/stat" $kids 2>/dev/null | sed 's/.*) //' |
		awk 'NR == 1 { s += $12 + $13 + $14 + $15; next }
			{ s += $12 + $13 } END { print s + 0 }'
}
HZ=$(getconf CLK_TCK)

# Stops whatever pool runs, starts BIN as ./dev does, waits for /health.
pool_start() {
	local bin=$1 i owner=()
	if alive; then
		kill -TERM "$MASTER"
		for i in $(seq 1 300); do alive || break; sleep 0.1; done
		alive && die "the pool did not stop in 30 s"
	fi
	[ "$(id -u)" = 0 ] && owner=(-U taskapi -G taskapi)
	rm -f "$SOCK"
	GNUTLS_NO_IMPLICIT_INIT=1 spawn-fcgi -n -b 4096 -s "$SOCK" -M 0660 "${owner[@]}" -- \
		"$bin" --env-file "$VAR/taskapi.env" serve >>"$VAR/log/taskapi.log" 2>&1 </dev/null &
	MASTER=$!
	echo "$MASTER" >"$PIDF"
	disown || true
	# Every worker kind must answer: /health goes to the event worker,
	# a list (authenticated) too, a POST to the blocking pool.
	for i in $(seq 1 300); do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP/health")" = 200 ]; then
			return 0
		fi
		sleep 0.1
	done
	die "$bin: /health not 200 within 30 s (see $VAR/log/taskapi.log)"
}

measure() { # round label endpoint
	local round=$1 label=$2 t=$3 script path raw line rps cpu
	case $t in
	health) script=health.lua path=/health ;;
	task_get) script=task_get.lua path=/api/v1/tasks ;;
	tasks_list) script=tasks_list.lua path=/api/v1/tasks ;;
	task_create) script=task_create.lua path=/api/v1/tasks ;;
	task_patch) script=task_patch.lua path=/api/v1/tasks ;;
	*) die "unknown endpoint $t" ;;
	esac
	wrk -t1 -c"$CONNS" -d2s -s "$BENCH_DIR/$script" "$HTTP$path" >/dev/null 2>&1 || true
	raw=$OUT/raw/r$round-$label-$t.txt
	local t0 t1 tiers
	tiers=("nginx=$(cat "$VAR/nginx/nginx.pid")" "pg=$(head -n 1 "$VAR/pgdata/postmaster.pid")")
	python3 "$BENCH_DIR/cputiers.py" snap "${tiers[@]}" >"$OUT/c0"
	t0=$(pool_ticks)
	wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s "$BENCH_DIR/$script" "$HTTP$path" >"$raw" 2>&1 || true
	t1=$(pool_ticks)
	python3 "$BENCH_DIR/cputiers.py" snap "${tiers[@]}" >"$OUT/c1"
	line=$(grep '^BENCHRESULT ' "$raw" | tail -n 1 || true)
	[ -n "$line" ] || die "$label $t: no result from wrk (see $raw)"
	local -A v=()
	local kv
	for kv in ${line#BENCHRESULT }; do v[${kv%%=*}]=${kv#*=}; done
	if [ "$COUNT_ERRORS" = 1 ] && [ $((v[connect] + v[read] + v[write])) = 0 ]; then
		: # non-2xx and timeouts are counted below
	elif [ "${v[status]}" != 0 ] || [ $((v[connect] + v[read] + v[write] + v[timeout])) != 0 ]; then
		die "$label $t: ${v[status]} non-2xx, socket errors connect ${v[connect]} read ${v[read]} write ${v[write]} timeout ${v[timeout]} of ${v[requests]} requests in $SECS s (see $raw)"
	fi
	rps=$(awk -v n="${v[requests]}" -v d="${v[duration_us]}" 'BEGIN { printf "%.1f", n / (d / 1e6) }')
	cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="${v[requests]}" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
	local nx pg sv
	python3 "$BENCH_DIR/cputiers.py" delta "$OUT/c0" "$OUT/c1" "${v[requests]}" >"$OUT/cd"
	nx=$(sed -n 's/.*nginx=\([0-9.]*\).*/\1/p' "$OUT/cd")
	pg=$(sed -n 's/.*pg=\([0-9.]*\).*/\1/p' "$OUT/cd")
	sv=$(awk -v a="$cpu" -v b="${nx:-0}" -v c="${pg:-0}" 'BEGIN { printf "%.1f", a + b + c }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$label" "$t" "$rps" "${v[p50_us]}" \
		"${v[p99_us]}" "${v[requests]}" "$cpu" "${raw#"$OUT/"}" "${v[status]}" "${v[timeout]}" \
		"${nx:-0}" "${pg:-0}" "$sv" >>"$ROWS"
	say "round $round $label $t: $rps req/s, CPU us/request pool $cpu nginx ${nx:-?} pg ${pg:-?} (${v[requests]} requests, p50 ${v[p50_us]} us)"
}

say "old $OLD, new $NEW: $ROUNDS rounds, ${SECS}s per endpoint, c=$CONNS; rows in $ROWS"
for round in $(seq 1 "$ROUNDS"); do
	if [ $((round % 2)) = 1 ]; then order="old new"; else order="new old"; fi
	for label in $order; do
		if [ "$label" = old ]; then pool_start "$OLD"; else pool_start "$NEW"; fi
		for t in $ENDPOINTS; do measure "$round" "$label" "$t"; done
	done
done
# Leave the stack on the new binary, as run.sh built it.
pool_start "$NEW"

# Medians (of req/s and of CPU per request) per binary and endpoint,
# their ratios, and the median of the rounds' own req/s ratios (each
# round's two runs are the closest in time).
awk -F'\t' "$BENCH_AWK_MEDIAN"'NR > 1 { v[$3 "\t" $2] = v[$3 "\t" $2] " " $4; r[$1 "\t" $3 "\t" $2] = $4; order[++n] = $3
		cpu[$3 "\t" $2] = cpu[$3 "\t" $2] " " $8
		p99[$3 "\t" $2] = p99[$3 "\t" $2] " " $6
		bad[$3 "\t" $2] += $10 + $11
		pgc[$3 "\t" $2] = pgc[$3 "\t" $2] " " $13
		srv[$3 "\t" $2] = srv[$3 "\t" $2] " " $14
		rounds[$1] = 1 }
	END {
		printf "| endpoint | old req/s | new req/s | new/old | rounds'"'"' new/old | old CPU us/req | new CPU us/req | new/old | old pg us | new pg us | old server us | new server us | new/old | old p99 ms | new p99 ms | old non-2xx + timeouts | new |\n"
		printf "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
		for (i = 1; i <= n; i++) {
			e = order[i]
			if (seen[e]++) continue
			o = median(v[e "\told"]); w = median(v[e "\tnew"])
			rr = ""
			for (k in rounds)
				if ((k "\t" e "\told") in r && (k "\t" e "\tnew") in r)
					rr = rr " " r[k "\t" e "\tnew"] / r[k "\t" e "\told"]
			co = median(cpu[e "\told"]); cw = median(cpu[e "\tnew"])
			so = median(srv[e "\told"]); sw = median(srv[e "\tnew"])
			printf "| %s | %.0f | %.0f | %.3f | %.3f | %.1f | %.1f | %.3f | %.1f | %.1f | %.1f | %.1f | %.3f | %.1f | %.1f | %d | %d |\n", e, o, w, w / o,
			    median(rr), co, cw, cw / co, median(pgc[e "\told"]), median(pgc[e "\tnew"]), so, sw, sw / so,
			    median(p99[e "\told"]) / 1000,
			    median(p99[e "\tnew"]) / 1000, bad[e "\told"], bad[e "\tnew"]
		}
	}' "$ROWS" | tee "$OUT/table.md"
