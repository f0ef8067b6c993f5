#!/usr/bin/env bash
# 70-pool.sh: the master keeps the pool alive and replaces it without
# dropping requests: kill -9 of a worker, SIGHUP under load, max_requests
# rotation, and statement_timeout on a stuck query.
. "$(dirname "$0")/lib.sh"

PIDF=${TASKAPI_VAR:-}/run/taskapi.pid
ENVF=${TASKAPI_VAR:-}/taskapi.env
LOG=${TASKAPI_VAR:-}/log/taskapi.log
[[ -n ${TASKAPI_VAR:-} && -r $PIDF && -w $ENVF ]] ||
	skip_all "needs TASKAPI_VAR from ./dev test (pool pid and env file)"
MASTER=$(cat "$PIDF")

workers() { pool_workers; }
nworkers() { workers | wc -l; }
set_env() { stack_set_env "$@"; }
# The old generation is gone once none of the given pids is a worker.
all_gone() { pool_replaced "$1" "$N0"; }

# This test counts workers: a fixed pool for its length (74-spare.sh
# covers the growing and shrinking).
pool_fixed on
trap 'pool_fixed off; t_cleanup' EXIT
N0=$(nworkers)
is "$N0" "$(pool_size)" "a fixed pool runs TASKAPI_WORKERS + the event workers"
num_cmp "$N0" -ge 2 "the pool runs at least 2 workers (has $N0)"
make_user U || bail "cannot create a user"
create_titled "$U_TOKEN" "pool test" >/dev/null

# --- 1. a worker killed with SIGKILL is replaced within a second
before=$(workers)
victim=$(head -n 1 <<<"$before")
t_kill=$(uptime_ms)
kill -9 "$victim"
replaced() { ! kill -0 "$victim" 2>/dev/null && [[ $(nworkers) -eq $N0 ]]; }
if seen_ms=$(wait_until 30000 replaced); then
	# Timed by the new worker's start (/proc), not by this polling loop.
	new=$(comm -13 <(printf '%s\n' "$before") <(workers) | head -n 1)
	ms=$(( $(proc_start_ms "${new:-0}" || echo 999999) - t_kill ))
	num_cmp "$ms" -le 1000 "kill -9 of worker $victim: replaced in ${ms} ms (<= 1000; $new started then, seen here after $seen_ms ms)"
else
	fail "kill -9 of worker $victim: pool back to $N0 workers" "after $seen_ms ms: $(nworkers) workers"
fi
bad=0
for i in $(seq 1 40); do
	[[ $(curl_code -H "Authorization: Bearer $U_TOKEN" "$BASE/api/v1/me") == 200 ]] || bad=$((bad + 1))
done
is "$bad" 0 "40 requests after the kill: none failed"
like "$(grep -c "worker $victim killed by signal 9" "$LOG")" '^[1-9]' \
	"the master logged how worker $victim died"

# --- 2. SIGHUP under load: every worker replaced, no request fails.
# The load (one process, 4 connections) runs until the reload is over
# and 50 more requests were answered after it, however long that takes.
out=$T_DIR/hup.codes
load_run --clients 4 --new-connection --stop-file "$T_DIR/hup.stop" --cap-seconds 300 \
	--path "/api/v1/tasks?limit=5" --header "Authorization: Bearer $U_TOKEN" \
	--out "$out" >"$T_DIR/hup.summary" &
loader=$!
wait_until 60000 lines_at_least "$out" 20 >/dev/null || diag "load slow to start: $(lines "$out") answers"
at_hup=$(lines "$out")
old=$(workers)
kill -HUP "$MASTER"
if ms=$(wait_until 30000 all_gone "$old"); then
	pass "SIGHUP replaced all $N0 workers one at a time in ${ms} ms"
else
	fail "SIGHUP replaced all workers" "still there after $ms ms: $(workers | tr '\n' ' ')"
fi
at_done=$(lines "$out")
wait_until 120000 lines_at_least "$out" $((at_done + 50)) >/dev/null
: >"$T_DIR/hup.stop"
wait "$loader"
total=$(lines "$out")
non200=$(awk '$1 != 200' "$out" | wc -l)
seen=$(awk '{ print $1 }' "$out" | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')
diag "load: $(cat "$T_DIR/hup.summary"); $at_hup answered before the SIGHUP, $((at_done - at_hup)) during the reload"
num_cmp "$total" -ge $((at_done + 50)) "requests answered across the reload ($total)"
is "$non200" 0 "SIGHUP under load: $total requests, non-200: $non200 ($seen)"
like "$(grep -c 'configuration reloaded' "$LOG")" '^[1-9]' "the master logged the reload"

# --- 3. max_requests: workers exit after N requests and are replaced
# (/api/v1/users is served by the blocking workers, which recycle; the
# event workers serve /health and the task routes and live on.)
old=$(workers)
set_env TASKAPI_MAX_REQUESTS 10
wait_until 15000 all_gone "$old" >/dev/null || diag "reload for max_requests slow"
before=$(workers)
bad=0
for i in $(seq 1 100); do
	[[ $(curl_code -H "Authorization: Bearer $U_TOKEN" "$BASE/api/v1/users?limit=1") == 200 ]] ||
		bad=$((bad + 1))
done
is "$bad" 0 "max_requests=10: 100 requests, none failed"
after=$(workers)
rotated=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | wc -l)
num_cmp "$rotated" -ge 1 "max_requests=10: workers were replaced ($rotated new pids)"
old=$(workers)
set_env TASKAPI_MAX_REQUESTS ""
wait_until 15000 all_gone "$old" >/dev/null || diag "reload back slow"

# --- 4. a query stuck behind a lock ends at the request timeout (503)
if have_psql; then
	old=$(workers)
	set_env TASKAPI_REQUEST_TIMEOUT 1
	wait_until 15000 all_gone "$old" >/dev/null || diag "reload for timeout slow"
	lock_hold tasks "LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE" || diag "lock not held after $LOCK_MS ms"
	t0=$(now_ms)
	api "$U_TOKEN" GET "/api/v1/tasks?limit=1"
	ms=$(($(now_ms) - t0))
	expect_error 503 "a query blocked by a lock -> 503 JSON after statement_timeout"
	has_header Retry-After && pass "the 503 carries Retry-After" ||
		fail "the 503 carries Retry-After" "$(resp_summary)"
	# The lock is held until released: only the 1 s timeout can end it.
	num_cmp "$ms" -le 2500 "the blocked request ended in ${ms} ms (timeout 1 s; the lock is held until released)"
	lock_release tasks
	old=$(workers)
	set_env TASKAPI_REQUEST_TIMEOUT ""
	wait_until 15000 all_gone "$old" >/dev/null || diag "reload back slow"
	api "$U_TOKEN" GET "/api/v1/tasks?limit=1"
	expect_json 200 "after the lock is gone the same request succeeds"
	is "$(nworkers)" "$N0" "the pool kept its size"
else
	skip "statement timeout" "no TASKAPI_PSQL"
fi

done_testing
