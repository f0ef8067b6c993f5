#!/usr/bin/env bash
# 92-overload.sh (fault: overload): 2,048 concurrent clients against the
# pool (up to 4 blocking workers + the event worker), wrk from loopback.
# Requests queue (pool socket backlog 4096, nginx caps the blocking pool
# at 2048 in progress) or get a JSON 503 with Retry-After; nothing else:
# no 502, no socket errors, no timeouts; no worker dies; right after the
# flood the service answers normally.
# TASKAPI_FAULT_SECONDS sets the flood's length (5 s here; make
# check-faults runs it for 30 s).  doc/OPERATIONS.md "Sizing" explains the numbers.
. "$(dirname "$0")/lib.sh"

PIDF=${TASKAPI_VAR:-}/run/taskapi.pid
[[ -n ${TASKAPI_VAR:-} && -r $PIDF ]] || skip_all "needs TASKAPI_VAR from ./dev test"
command -v wrk >/dev/null 2>&1 || skip_all "wrk not installed (./dev test installs it)"
MASTER=$(cat "$PIDF")
SECS=${TASKAPI_FAULT_SECONDS:-5}
CLIENTS=2048
LUA=${TASKAPI_SRCDIR:-$(dirname "$0")/../..}/tests/faults/statuses.lua
OUT=$T_DIR/wrk.out

# wrk needs a descriptor per client.
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
num_cmp "$(ulimit -n)" -ge $((CLIENTS + 64)) "open files limit $(ulimit -n) allows $CLIENTS clients"

make_user O || bail "cannot register a user"
create_titled "$O_TOKEN" "overload" || bail "cannot create a task"
TID=$TASK_ID
nworkers0=$(pgrep -P "$MASTER" | wc -l)
# Deaths that were not planned: crashes, and kills of stuck workers.
# (Blocking workers also exit on purpose after TASKAPI_MAX_REQUESTS.)
crashes() {
	curl -s "$BASE/metrics" |
		awk '/^taskapi_worker_restarts_total\{.*reason="(crash|stuck)"/ { t += $2 } END { print t + 0 }'
}
crash0=$(crashes)

# One flood over both kinds of worker: the blocking pool (users list, an
# authenticated query on one connection per request) and the event worker
# (task, me, health on kept-alive connections).
TOKEN=$O_TOKEN WRK_PATHS="/api/v1/users?limit=5 /api/v1/tasks/$TID /api/v1/me /health" \
	wrk -t2 -c"$CLIENTS" -d"${SECS}s" --timeout 15s -s "$LUA" "$BASE" >"$OUT" 2>&1
diag "$(grep -E '^(STATUS|ERRORS|LATENCY|Requests/sec)' "$OUT")"
total=$(awk '$1 == "STATUS" { t += $3 } END { print t + 0 }' "$OUT")
ok=$(awk '$1 == "STATUS" && $2 == 200 { t += $3 } END { print t + 0 }' "$OUT")
busy=$(awk '$1 == "STATUS" && $2 == 503 { t += $3 } END { print t + 0 }' "$OUT")
num_cmp "$total" -gt $((CLIENTS)) "$CLIENTS clients for ${SECS} s: $total responses"
is "$((ok + busy))" "$total" "every response was a 200 or a 503 ($ok + $busy of $total)"
num_cmp "$ok" -gt 0 "requests were served during the flood ($ok)"
like "$(grep '^ERRORS' "$OUT")" 'connect=0 read=0 write=0 timeout=0' \
	"no socket errors and no timeouts"

# No worker died; the pool grew for the flood, within its bounds.
is "$(crashes)" "$crash0" "no worker crashed or was killed as stuck (restart counters unchanged)"
n=$(pgrep -P "$MASTER" | wc -l)
num_cmp "$n" -le "$(pool_size)" "the pool stayed within TASKAPI_WORKERS ($n of $(pool_size) processes)"
num_cmp "$n" -ge "$nworkers0" "and did not shrink under load ($n, $nworkers0 before)"

# Back to normal at once: sequential requests, each fast and 200.
bad=0 slow=0
for i in $(seq 1 20); do
	t0=$(now_ms)
	api "$O_TOKEN" GET "/api/v1/users?limit=5"
	ms=$(($(now_ms) - t0))
	[[ $RESP_STATUS == 200 ]] || bad=$((bad + 1))
	((ms < 200)) || slow=$((slow + 1))
done
is "$bad" 0 "right after the flood: 20 of 20 blocking-pool requests are 200"
is "$slow" 0 "and none took 200 ms or more"
api "$O_TOKEN" GET "/api/v1/tasks/$TID"
expect_json 200 "the event worker answers too"
req GET /health
expect_json 200 "/health is ok"

# Past the cap: the same location with its cap lowered to 2 (edited in
# the stack's rendered nginx files, reloaded, restored).  Requests held by
# a table lock fill the 2 places; the rest get nginx's JSON 503 with
# Retry-After at once, never a 502.
NGX=$TASKAPI_VAR/nginx
if have_psql && [[ -w $NGX/taskapi-fastcgi.conf ]]; then
	ngx_reload() { stack_nginx_reload; }
	cp "$NGX/taskapi-fastcgi.conf" "$T_DIR/fastcgi.orig"
	trap 'cp "$T_DIR/fastcgi.orig" "$NGX/taskapi-fastcgi.conf" && ngx_reload; t_cleanup' EXIT
	sed -i 's/^limit_conn        taskapi_pool [0-9]*;/limit_conn        taskapi_pool 2;/' "$NGX/taskapi-fastcgi.conf"
	ngx_reload
	$TASKAPI_PSQL -c "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1.5); COMMIT;" >/dev/null 2>&1 &
	sleep 0.3
	for i in $(seq 1 8); do
		curl -s -D "$T_DIR/cap.$i.h" -o "$T_DIR/cap.$i.b" -w '%{http_code} %{time_total}\n' \
			-H "Authorization: Bearer $O_TOKEN" "$BASE/api/v1/users?limit=1" >"$T_DIR/cap.$i.code" &
		sleep 0.05
	done
	wait
	codes=$(cat "$T_DIR"/cap.*.code | awk '{print $1}' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
	n503=$(cat "$T_DIR"/cap.*.code | awk '$1 == 503' | wc -l)
	n200=$(cat "$T_DIR"/cap.*.code | awk '$1 == 200' | wc -l)
	is "$((n503 + n200))" 8 "cap of 2, 8 requests held by a lock: only 200 and 503 ($codes)"
	num_cmp "$n503" -ge 5 "the requests past the cap got 503 ($n503)"
	fast=$(cat "$T_DIR"/cap.*.code | awk '$1 == 503 && $2 < 0.5' | wc -l)
	is "$fast" "$n503" "each 503 came at once (under 0.5 s), not after the lock"
	bad=0
	for i in $(seq 1 8); do
		[[ $(awk '{print $1}' "$T_DIR/cap.$i.code") == 503 ]] || continue
		jq -e '.error | type == "string"' "$T_DIR/cap.$i.b" >/dev/null 2>&1 || bad=$((bad + 1))
		grep -qi '^retry-after: [0-9]' "$T_DIR/cap.$i.h" || bad=$((bad + 1))
	done
	is "$bad" 0 "every 503 is a JSON error with Retry-After"
	cp "$T_DIR/fastcgi.orig" "$NGX/taskapi-fastcgi.conf" && ngx_reload
	trap t_cleanup EXIT
	api "$O_TOKEN" GET "/api/v1/users?limit=5"
	expect_json 200 "cap restored: served again"
else
	skip "503 past the cap" "needs psql and the stack's nginx files"
fi

done_testing
