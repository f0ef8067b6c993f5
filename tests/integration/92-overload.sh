#!/usr/bin/env bash
# 92-overload.sh (issue 4, fault 5): 2,048 concurrent clients against the
# pool (4 blocking workers + the event worker), wrk from loopback.
# Requests queue (pool socket backlog 4096, nginx caps the blocking pool
# at 2048 in progress) or get a JSON 503 with Retry-After; nothing else:
# no 502, no socket errors, no timeouts; no worker dies; right after the
# flood the service answers normally.
# TASKAPI_FAULT_SECONDS sets the flood's length (5 s here; make
# check-faults runs it for 30 s).  README "Sizing" explains the numbers.
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

# No worker died; the pool kept its size.
is "$(crashes)" "$crash0" "no worker crashed or was killed as stuck (restart counters unchanged)"
is "$(pgrep -P "$MASTER" | wc -l)" "$nworkers0" "the pool kept its size ($nworkers0)"

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

done_testing
