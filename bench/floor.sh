#!/usr/bin/env bash
# bench/floor.sh: taskapi's event worker against the smallest responder
# of the same shape (bench/floor.c, the issue's "130-line prototype"),
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
#               floor by id      the task by primary key alone (the issue's
#                                prototype: "no JWT, fewer fields")
#   pgbench -S -M prepared -c 64 -j 1, the issue's yardstick, in each round.
#
# Needs a seeded bench stack left running:
#   BENCH_KEEP_STACK=1 bench/run.sh && bench/floor.sh [ROUNDS]
# The nginx config is restored (and nginx reloaded) on exit.
set -eu
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
BUILD=${TASKAPI_BUILD:-$ROOT/build-bench}
VAR=$BUILD/var
PG_PORT=${TASKAPI_PG_PORT:-55440}
HTTP=http://127.0.0.1:${BENCH_HTTP_PORT:-18090}
SECS=${BENCH_FLOOR_SECS:-6}
rounds=${1:-3}
CONF=$VAR/nginx/taskapi-http.conf
NGINX=(nginx -p "$VAR/nginx" -c "$VAR/nginx/nginx-dev.conf" -e "$VAR/log/nginx-error.log")
die() { echo "floor.sh: $*" >&2; exit 1; }
as_svc() { if [ "$(id -u)" = 0 ]; then runuser -u taskapi -- "$@"; else "$@"; fi; }
psql_() { as_svc psql -X -q -At -h "$VAR/run" -p "$PG_PORT" -U postgres "$@"; }

[ -f "$CONF" ] && grep -q '^upstream taskapi_ev {' "$CONF" ||
	die "no bench stack config at $CONF (run BENCH_KEEP_STACK=1 bench/run.sh)"
curl -fsS -o /dev/null "$HTTP/health" || die "the bench stack does not answer on $HTTP"
: "${BENCH_DATA:=$(ls -td "$BENCH_DIR"/out/*/data 2>/dev/null | head -n 1)}"
[ -r "$BENCH_DATA/ids" ] || die "no seeded data (BENCH_DATA)"

tmp=$(mktemp -d)
chmod 755 "$tmp"
cp "$CONF" "$tmp/taskapi-http.conf.orig"
cleanup() {
	cp "$tmp/taskapi-http.conf.orig" "$CONF"
	as_svc "${NGINX[@]}" -s reload || true
	pkill -f "^$tmp/floor " || true # runuser does not pass a TERM on
	rm -f "$VAR"/run/floor-*.sock
	rm -rf "$tmp"
}
trap cleanup EXIT

# A fresh token (the run's may have expired) in a data dir of our own.
mkdir "$tmp/data"
cp "$BENCH_DATA/ids" "$tmp/data/ids"
curl -fsS -X POST -H 'Content-Type: application/json' \
	--data '{"email":"bench-api@bench.invalid","password":"bench-password-1"}' \
	"$HTTP/api/v1/auth/login" | jq -r .token >"$tmp/data/token"
grep -q '\.' "$tmp/data/token" || die "login as the bench user failed"
chmod -R a+rX "$tmp"
export BENCH_DATA=$tmp/data
uid=$(psql_ taskapi -c "SELECT user_id FROM tasks WHERE id = '$(head -n 1 "$tmp/data/ids")'")
[ -n "$uid" ] || die "cannot find the bench user"

cc -std=c11 -O2 -Wall -Wextra -o "$tmp/floor" "$BENCH_DIR/floor.c" \
	$(pkg-config --cflags --libs libpq) || die "cannot build floor.c"
conninfo="host=$VAR/run port=$PG_PORT dbname=taskapi user=taskapi"
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
	wrk -t1 -c64 -d2s -s "$BENCH_DIR/$3" "$HTTP$4" >/dev/null 2>&1 # warm
	"$BENCH_DIR/cpu-per-request.sh" "$3" "$SECS" "$4" >"$tmp/m" 2>&1 ||
		die "$1: $(cat "$tmp/m")"
	grep -q ', 0 non-2xx' "$tmp/m" || die "$1: non-2xx answers: $(head -n 1 "$tmp/m")"
	awk -v l="$1" 'NR == 1 { rps = $3 } NR > 1 { v[$1] = $2 }
		END { printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l, rps,
		      v["nginx"], v["postgres"], v["taskapi"] + v["floor"], v["wrk"], v["total"] }' \
		"$tmp/m" >>"$tmp/rows"
	tail -n 1 "$tmp/rows"
}

ev=$VAR/run/taskapi-ev.sock
for r in $(seq 1 "$rounds"); do
	echo "--- round $r of $rounds"
	measure "health: taskapi" "$ev" health.lua /health
	measure "health: floor static" "$VAR/run/floor-static.sock" health.lua /health
	measure "GET task: taskapi" "$ev" task_get.lua /api/v1/tasks/x
	measure "GET task: floor same SQL" "$VAR/run/floor-sql.sock" task_get.lua /api/v1/tasks/x
	measure "GET task: floor by id" "$VAR/run/floor-byid.sock" task_get.lua /api/v1/tasks/x
	tps=$(as_svc pgbench -h "$VAR/run" -p "$PG_PORT" -U postgres -S -M prepared -c 64 -j 1 \
		-T "$SECS" -n pgbench 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
	printf 'pgbench -S c=64\t%s\t\t\t\t\t\n' "${tps:-NA}" | tee -a "$tmp/rows"
done

echo
echo "Medians of $rounds rounds (wrk -t1 -c64, ${SECS} s; CPU µs per request by program;"
echo "\"worker\" is taskapi's event worker or floor):"
echo
python3 - "$tmp/rows" <<'EOF'
import statistics, sys
rows = {}
order = []
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if f[0] not in rows:
        rows[f[0]] = []
        order.append(f[0])
    rows[f[0]].append(f[1:])
def med(vals):
    v = [float(x) for x in vals if x not in ("", "NA")]
    return statistics.median(v) if v else None
print("| what | req/s | nginx | PostgreSQL | worker | wrk | total |")
print("|---|---:|---:|---:|---:|---:|---:|")
pgb = med([r[0] for r in rows.get("pgbench -S c=64", [])])
for k in order:
    cols = [med([r[i] for r in rows[k]]) for i in range(6)]
    cells = ["{:,.0f}".format(cols[0]) if cols[0] else "NA"]
    cells += ["" if c is None else "{:.1f}".format(c) for c in cols[1:]]
    print("| " + k + " | " + " | ".join(cells) + " |")
if pgb:
    print()
    for k in order:
        if k.startswith("GET task"):
            print("{}: {:.2f}x pgbench".format(k, med([r[0] for r in rows[k]]) / pgb))
EOF
