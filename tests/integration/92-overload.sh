#!/usr/bin/env bash
# 92-overload.sh (fault: overload): 2,048 concurrent clients against the
# pool (up to 4 blocking workers + the event worker), wrk from loopback.
# Requests queue (pool socket backlog 4096, nginx caps the blocking pool
# at 2048 in progress) or get a JSON 503 with Retry-After; nothing else:
# no 502, no socket errors, no timeouts; no worker dies; right after the
# flood the service answers normally.
# The flood is a count of responses, 4 per client (8,192), with 300 s as
# a cap only, so a slow machine floods longer instead of less;
# TASKAPI_FAULT_SECONDS (make check-faults: 30) makes it a flood of that
# length instead.  doc/OPERATIONS.md "Sizing" explains the numbers.
. "$(dirname "$0")/lib.sh"

PIDF=${TASKAPI_VAR:-}/run/taskapi.pid
[[ -n ${TASKAPI_VAR:-} && -r $PIDF ]] || skip_all "needs TASKAPI_VAR from ./dev test"
command -v wrk >/dev/null 2>&1 || skip_all "wrk not installed (./dev test installs it)"
MASTER=$(cat "$PIDF")
CLIENTS=2048
if [[ -n ${TASKAPI_FAULT_SECONDS:-} ]]; then
	SECS=$TASKAPI_FAULT_SECONDS
	COUNT=""
else
	SECS=300
	COUNT=$((4 * CLIENTS))
fi
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

# seq_times N: N sequential blocking-pool requests from one curl (its own
# timing, no process start in it): "status seconds" a line.
seq_times() {
	local args=() i
	for ((i = 0; i < $1; i++)); do args+=(-o /dev/null "$BASE/api/v1/users?limit=5"); done
	curl -s -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $O_TOKEN" "${args[@]}"
}
# The same requests before the flood: how long they take on this machine.
seq_times 20 >"$T_DIR/before"
base_ms=$(awk '{ ms = $2 * 1000; if (ms > m) m = ms } END { printf "%d\n", m }' "$T_DIR/before")

# One flood over both kinds of worker: the blocking pool (users list, an
# authenticated query on one connection per request) and the event worker
# (task, me, health on kept-alive connections).
t0=$(now_ms)
TOKEN=$O_TOKEN WRK_PATHS="/api/v1/users?limit=5 /api/v1/tasks/$TID /api/v1/me /health" \
	WRK_STOP_AFTER=${COUNT:+$((COUNT / 2))} \
	wrk -t2 -c"$CLIENTS" -d"${SECS}s" --timeout 15s -s "$LUA" "$BASE" >"$OUT" 2>&1 &
wrk_pid=$!
if [[ -n $COUNT ]]; then
	# Each of the 2 threads prints THREAD_DONE at its count; SIGINT then
	# makes wrk stop waiting out its -d and print its summary.
	threads_done() { [[ $(grep -c '^THREAD_DONE$' "$OUT") -ge 2 ]] || ! kill -0 "$wrk_pid" 2>/dev/null; }
	wait_until $((SECS * 1000)) threads_done >/dev/null
	kill -INT "$wrk_pid" 2>/dev/null
fi
wait "$wrk_pid"
flood_ms=$(($(now_ms) - t0))
diag "$(grep -E '^(STATUS|ERRORS|LATENCY|Requests/sec)' "$OUT")"
diag "flood: ${flood_ms} ms"
total=$(awk '$1 == "STATUS" { t += $3 } END { print t + 0 }' "$OUT")
ok=$(awk '$1 == "STATUS" && $2 == 200 { t += $3 } END { print t + 0 }' "$OUT")
busy=$(awk '$1 == "STATUS" && $2 == 503 { t += $3 } END { print t + 0 }' "$OUT")
if [[ -n $COUNT ]]; then
	num_cmp "$total" -ge "$COUNT" "$CLIENTS clients until $COUNT responses: $total in ${flood_ms} ms"
else
	num_cmp "$total" -gt $((CLIENTS)) "$CLIENTS clients for ${SECS} s: $total responses"
fi
is "$((ok + busy))" "$total" "every response was a 200 or a 503 ($ok + $busy of $total)"
num_cmp "$ok" -gt 0 "requests were served during the flood ($ok)"
like "$(grep '^ERRORS' "$OUT")" 'connect=0 read=0 write=0 timeout=0' \
	"no socket errors and no timeouts"

# No worker died; the pool grew for the flood, within its bounds.
is "$(crashes)" "$crash0" "no worker crashed or was killed as stuck (restart counters unchanged)"
n=$(pgrep -P "$MASTER" | wc -l)
num_cmp "$n" -le "$(pool_size)" "the pool stayed within TASKAPI_WORKERS ($n of $(pool_size) processes)"
num_cmp "$n" -ge "$nworkers0" "and did not shrink under load ($n, $nworkers0 before)"

# Back to normal at once: the same sequential requests as before the
# flood, each 200, and none queued behind what is left of it (slower
# than 500 ms or ten times the slowest before, whichever is more: a
# backlog left in the pool's queue costs seconds).
seq_times 20 >"$T_DIR/after"
limit=$((base_ms * 10 > 500 ? base_ms * 10 : 500))
bad=$(awk '$1 != 200' "$T_DIR/after" | wc -l)
slow=$(awk -v l="$limit" '$2 * 1000 >= l' "$T_DIR/after" | wc -l)
times=$(awk '{ printf "%d ", $2 * 1000 }' "$T_DIR/after")
is "$bad" 0 "right after the flood: 20 of 20 blocking-pool requests are 200 ($(awk '{ print $1 }' "$T_DIR/after" | sort | uniq -c | tr -s ' ' | tr '\n' ','))"
is "$slow" 0 "and none took ${limit} ms or more (ms: ${times}; the slowest before the flood: ${base_ms} ms)"
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
	# The lock is held until the test releases it: the 2 requests that
	# get in wait on it, the 6 past the cap must be answered meanwhile.
	trap 'lock_release users; cp "$T_DIR/fastcgi.orig" "$NGX/taskapi-fastcgi.conf" && ngx_reload; t_cleanup' EXIT
	lock_hold users "LOCK TABLE users IN ACCESS EXCLUSIVE MODE" || diag "lock not held after $LOCK_MS ms"
	pids=()
	for i in $(seq 1 8); do
		curl -s -D "$T_DIR/cap.$i.h" -o "$T_DIR/cap.$i.b" -w '%{http_code} %{time_total}\n' --max-time 60 \
			-H "Authorization: Bearer $O_TOKEN" "$BASE/api/v1/users?limit=1" >"$T_DIR/cap.$i.code" &
		pids+=($!)
	done
	answered() { [[ $(cat "$T_DIR"/cap.*.code 2>/dev/null | grep -c .) -ge $1 ]]; }
	ms=$(wait_until 30000 answered 6) || diag "only $(cat "$T_DIR"/cap.*.code | grep -c .) answered after $ms ms"
	early=$(cat "$T_DIR"/cap.*.code | awk '{print $1}' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
	n503=$(cat "$T_DIR"/cap.*.code | awk '$1 == 503' | wc -l)
	if lock_sleeping "taskapi-it-lock-$$-users"; then
		is "$n503" 6 "cap of 2, 8 requests: the 6 past the cap got 503 while the lock was held ($early after ${ms} ms)"
	else
		fail "cap of 2, 8 requests: the 6 past the cap got 503 while the lock was held" "the lock is gone; $early"
	fi
	lock_release users
	wait "${pids[@]}"
	codes=$(cat "$T_DIR"/cap.*.code | awk '{print $1}' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
	n503=$(cat "$T_DIR"/cap.*.code | awk '$1 == 503' | wc -l)
	n200=$(cat "$T_DIR"/cap.*.code | awk '$1 == 200' | wc -l)
	is "$n200 $n503" "2 6" "... and the 2 that got in were served once it went ($codes)"
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
