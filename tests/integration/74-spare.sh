#!/usr/bin/env bash
# 74-spare.sh: the blocking pool grows and shrinks (php-fpm's "dynamic"
# pool).  Idle, it holds TASKAPI_SPARE_WORKERS (1) blocking workers; when
# requests take them all it grows, up to TASKAPI_WORKERS, and each
# answer is a 200; once idle past TASKAPI_WORKER_IDLE_TIMEOUT (1 s here)
# it shrinks back, counted as idle stops and not as restarts.
. "$(dirname "$0")/lib.sh"

PIDF=${TASKAPI_VAR:-}/run/taskapi.pid
ENVF=${TASKAPI_VAR:-}/taskapi.env
[[ -n ${TASKAPI_VAR:-} && -r $PIDF && -w $ENVF ]] ||
	skip_all "needs TASKAPI_VAR from ./dev test (pool pid and env file)"
have_psql || skip_all "needs TASKAPI_PSQL"
MASTER=$(cat "$PIDF")
nproc_pool() { pool_workers | wc -l; }
FULL=$(pool_size)
ev=$(sed -n 's/^TASKAPI_EV_WORKERS=//p' "$ENVF" | tail -n 1)
grep -q '^TASKAPI_EV_LISTEN=.' "$ENVF" || ev=0
EV=${ev:-1}
W=$((FULL - EV))
[[ $W -ge 2 ]] || skip_all "TASKAPI_WORKERS is $W: nothing to grow into"
metric() { curl -s "$BASE/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
restarts() {
	curl -s "$BASE/metrics" |
		awk '/^taskapi_worker_restarts_total\{kind="fastcgi",/ { t += $2 } END { print t + 0 }'
}

restore() {
	local old
	old=$(pool_workers)
	stack_set_env TASKAPI_WORKER_IDLE_TIMEOUT ""
	wait_until 15000 pool_gone "$old" >/dev/null || diag "reload back slow"
}
trap 'restore; t_cleanup' EXIT

make_user S || bail "cannot register a user"
old=$(pool_workers)
stack_set_env TASKAPI_WORKER_IDLE_TIMEOUT 1
wait_until 15000 pool_gone "$old" >/dev/null || diag "reload slow"

# Idle: the spare blocking worker and the event workers, nothing more.
at_spare() { [[ $(nproc_pool) -eq $((1 + EV)) ]]; }
if ms=$(wait_until 8000 at_spare); then
	pass "idle, the pool holds one blocking worker + $EV event worker(s) (${ms} ms)"
else
	fail "idle, the pool holds one blocking worker + $EV event worker(s)" "$(nproc_pool) processes"
fi
restarts0=$(restarts)
stops0=$(metric taskapi_worker_idle_stops_total)
like "$stops0" '^[0-9]+$' "/metrics has taskapi_worker_idle_stops_total ($stops0)"

# Busy: W account changes of the blocking pool wait on the user's row
# lock together.  Each one that takes the last idle worker has the master
# start another, so all W are served at once, by W workers.  (A row lock:
# a table lock would also hold up the new workers' PREPAREs.)
$TASKAPI_PSQL -c "BEGIN; SELECT 1 FROM users WHERE id = '$S_ID' FOR UPDATE; SELECT pg_sleep(2); COMMIT;" \
	>/dev/null 2>&1 &
locker=$!
sleep 0.3
t0=$(now_ms)
pids=()
for ((i = 0; i < W; i++)); do
	curl_code -X PATCH -H "Authorization: Bearer $S_TOKEN" -H 'Content-Type: application/json' \
		-d "{\"name\":\"spare $i\"}" "$BASE/api/v1/users/$S_ID" >"$T_DIR/code.$i" &
	pids+=($!)
done
full() { [[ $(nproc_pool) -eq $FULL ]]; }
if ms=$(wait_until 1500 full); then
	pass "with $W requests waiting, the pool grew to $W blocking workers (${ms} ms)"
else
	fail "with $W requests waiting, the pool grew to $W blocking workers" "$(nproc_pool) processes"
fi
wait "${pids[@]}"
ms=$(($(now_ms) - t0))
wait "$locker"
codes=$(cat "$T_DIR"/code.* | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')
is "$codes" "200 x$W " "every change waiting on the lock got a 200"
num_cmp "$ms" -le 3500 "all $W were answered together, when the lock went (${ms} ms; lock 2 s)"
num_cmp "$(nproc_pool)" -le "$FULL" "never more than TASKAPI_WORKERS ($(nproc_pool) of $FULL)"

# Idle again: back to the spare worker, each extra one an idle stop.
if ms=$(wait_until 8000 at_spare); then
	pass "idle again, the pool shrank back to one blocking worker (${ms} ms)"
else
	fail "idle again, the pool shrank back to one blocking worker" "$(nproc_pool) processes"
fi
stops=$(metric taskapi_worker_idle_stops_total)
num_cmp "$((stops - stops0))" -ge $((W - 1)) "taskapi_worker_idle_stops_total counted them ($((stops - stops0)))"
is "$(restarts)" "$restarts0" "no restart was counted (crash, max_requests, stuck, reload unchanged)"
kill -0 "$MASTER" && pass "the master is still there" || fail "the master is still there"

# And the spare one serves at once.
api "$S_TOKEN" GET "/api/v1/users?limit=1"
expect_json 200 "the spare worker answers"

done_testing
