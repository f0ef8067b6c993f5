#!/usr/bin/env bash
# bench/experiments/floor.sh: taskapi's event worker against the smallest responder
# of the same shape (bench/experiments/floor.c, the "130-line prototype" of the targets),
# behind the same nginx, in the same minutes.
#
# It swaps the server line of the bench stack's `upstream taskapi_ev`
# (its generated nginx config under the build tree) between taskapi's
# event socket and floor's, reloads nginx, and measures each with
# bench/cpu-per-request.sh (wrk -t1 c=64): req/s, and the CPU each
# program spent per request.  Alternated ROUNDS times; medians printed.
#
#   health      taskapi          GET /health (a shared SELECT 1 per turn)
#               floor static     the same JSON, no database
#   GET task    taskapi          GET /api/v1/tasks/{id}, the bench user's token
#               floor same SQL   taskapi's task_get statement, no auth
#               floor by id      the task by primary key alone (the targets'
#                                prototype: "no JWT, fewer fields")
#   list        taskapi          GET /api/v1/tasks?limit=20
#               floor same SQL   taskapi's tasks_list statement, no auth
#   pgbench -S -M prepared -c 64 -j 1, the targets' yardstick, in each round.
#
# Needs a seeded bench stack left running:
#   BENCH_KEEP_STACK=1 bench/run.sh && bench/experiments/floor.sh [ROUNDS]
# The nginx config is restored (and nginx reloaded) on exit.
set -eu
# This experiment lives in bench/experiments/; the benchmark's own scripts
# (BENCH_DIR) are one level up.
EXP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_DIR=$(dirname "$EXP_DIR")
# shellcheck source=bench/experiments/side-by-side.sh
. "$EXP_DIR/side-by-side.sh"
SECS=${BENCH_FLOOR_SECS:-6}
rounds=${1:-3}
CONF=$VAR/nginx/taskapi-http.conf
NGINX=(nginx -p "$VAR/nginx" -c "$VAR/nginx/nginx-dev.conf" -e "$VAR/log/nginx-error.log")
psql_() { as_svc psql -X -q -At -h "$VAR/run" -p "$PG_PORT" -U postgres "$@"; }

[ -f "$CONF" ] && grep -q '^upstream taskapi_ev {' "$CONF" ||
	die "no bench stack config at $CONF (run BENCH_KEEP_STACK=1 bench/run.sh)"
curl -fsS -o /dev/null "$HTTP/health" || die "the bench stack does not answer on $HTTP"

tmp=$(mktemp -d)
chmod 755 "$tmp"
cp "$CONF" "$tmp/taskapi-http.conf.orig"
cleanup() {
	cp "$tmp/taskapi-http.conf.orig" "$CONF"
	as_svc "${NGINX[@]}" -s reload || true
	sleep 1.5 # the old nginx worker may still pass a kept request to floor
	pkill -f "^$tmp/floor " || true # runuser does not pass a TERM on
	rm -f "$VAR"/run/floor-*.sock
	rm -rf "$tmp"
}
trap cleanup EXIT

sbs_token
uid=$(psql_ taskapi -c "SELECT user_id FROM tasks WHERE id = '$(head -n 1 "$tmp/data/ids")'")
[ -n "$uid" ] || die "cannot find the bench user"

cc -std=c11 -O2 -Wall -Wextra -o "$tmp/floor" "$EXP_DIR/floor.c" \
	$(pkg-config --cflags --libs libpq) || die "cannot build floor.c"
# The session settings taskapi's event worker sets for its connections
# (src/db.c): without them PostgreSQL re-plans the list on every call.
conninfo="host=$VAR/run port=$PG_PORT dbname=taskapi user=taskapi options='-c DateStyle=ISO,YMD -c TimeZone=UTC -c plan_cache_mode=force_generic_plan -c enable_seqscan=off -c enable_bitmapscan=off -c random_page_cost=1.1'"
start_floor() { # name args...
	local s=$VAR/run/floor-$1.sock
	shift
	as_svc "$tmp/floor" "$s" "$@" </dev/null >/dev/null 2>>"$tmp/floor.log" &
	for _ in $(seq 1 50); do [ -S "$s" ] && return 0; sleep 0.1; done
	die "floor did not start: $(cat "$tmp/floor.log")"
}
start_floor static
start_floor sql "$conninfo" "$uid"
start_floor byid "$conninfo"

use() { # socket
	sed -i "/^upstream taskapi_ev {/,/}/ s#server unix:[^;]*;#server unix:$1;#" "$CONF"
	as_svc "${NGINX[@]}" -s reload
	sleep 1.5 # the old nginx worker finishes its kept connections
}

measure() { # label socket script path
	use "$2"
	sbs_measure "$1" "${HTTP##*:}" "$3" "$4"
}

ev=$VAR/run/taskapi-ev.sock
for r in $(seq 1 "$rounds"); do
	echo "--- round $r of $rounds"
	measure "health: taskapi" "$ev" health.lua /health
	measure "health: floor static" "$VAR/run/floor-static.sock" health.lua /health
	measure "GET task: taskapi" "$ev" task_get.lua /api/v1/tasks/x
	measure "GET task: floor same SQL" "$VAR/run/floor-sql.sock" task_get.lua /api/v1/tasks/x
	measure "GET task: floor by id" "$VAR/run/floor-byid.sock" task_get.lua /api/v1/tasks/x
	measure "list: taskapi" "$ev" tasks_list.lua "/api/v1/tasks?limit=20"
	measure "list: floor same SQL" "$VAR/run/floor-sql.sock" tasks_list.lua "/api/v1/tasks?limit=20"
	sbs_pgbench
done
sbs_report "$rounds"
