#!/usr/bin/env bash
# 74-spare.sh: the blocking pool grows and shrinks, like php-fpm's
# "ondemand" pool (TASKAPI_SPARE_WORKERS=0, the default: idle, no
# blocking worker runs, and the master forks one when a connection waits
# on the socket) and its "dynamic" one (TASKAPI_SPARE_WORKERS=1: one idle
# worker waits ready).  When requests take every worker the pool grows,
# up to TASKAPI_WORKERS, and each answer is a 200; once idle past
# TASKAPI_WORKER_IDLE_TIMEOUT (1 s here) it shrinks back, counted as idle
# stops and not as restarts.
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

# set_env KEY VALUE: stack_set_env, then wait for the rolling reload.
set_env() {
	local old
	old=$(pool_workers)
	stack_set_env "$1" "$2"
	wait_until 30000 pool_gone "$old" >/dev/null || diag "reload for $1=$2 slow"
}
restore() {
	sed -i '/^TASKAPI_SPARE_WORKERS=/d' "$ENVF"
	set_env TASKAPI_WORKER_IDLE_TIMEOUT ""
}
trap 'lock_release row; restore; t_cleanup' EXIT

# grow_shrink SPARE MODE: the whole cycle with TASKAPI_SPARE_WORKERS=SPARE.
grow_shrink() {
	local SPARE=$1 MODE=$2 ms restarts0 stops0 stops t0 pids codes i early
	# Idle: the spare blocking workers and the event workers, nothing more.
	at_spare() { [[ $(nproc_pool) -eq $((SPARE + EV)) ]]; }
	if ms=$(wait_until 30000 at_spare); then
		pass "$MODE: idle, the pool holds $SPARE blocking worker(s) + $EV event worker(s) (${ms} ms)"
	else
		fail "$MODE: idle, the pool holds $SPARE blocking worker(s) + $EV event worker(s)" "$(nproc_pool) processes after $ms ms"
	fi
	is "$(curl -s "$BASE/status" | jq -c '.process_manager | [.fastcgi, .spare_workers, .max_workers]')" \
		"[\"$MODE\",$SPARE,$W]" "$MODE: /status names the process manager, its spares and its maximum"
	restarts0=$(restarts)
	stops0=$(metric taskapi_worker_idle_stops_total)
	like "$stops0" '^[0-9]+$' "$MODE: /metrics has taskapi_worker_idle_stops_total ($stops0)"

	# Busy: W account changes of the blocking pool wait on the user's row
	# lock together.  Each one that finds no idle worker has the master start
	# another (ondemand: it sees the connection wait; dynamic: the worker
	# that took the last spare wakes it), so all W are served at once, by W
	# workers.  (A row lock: a table lock would also hold up the new
	# workers' PREPAREs.)
	# The lock is held until the test releases it: the W requests wait
	# as long as the pool takes to grow, however slow the machine.
	lock_hold row "SELECT 1 FROM users WHERE id = '$S_ID' FOR UPDATE" ||
		diag "$MODE: lock not held after $LOCK_MS ms"
	pids=()
	for ((i = 0; i < W; i++)); do
		curl_code -X PATCH -H "Authorization: Bearer $S_TOKEN" -H 'Content-Type: application/json' \
			-d "{\"name\":\"$MODE $i\"}" "$BASE/api/v1/users/$S_ID" >"$T_DIR/code.$i" &
		pids+=($!)
	done
	full() { [[ $(nproc_pool) -eq $FULL ]]; }
	if ms=$(wait_until 30000 full); then
		pass "$MODE: with $W requests waiting, the pool grew to $W blocking workers (${ms} ms)"
	else
		fail "$MODE: with $W requests waiting, the pool grew to $W blocking workers" "$(nproc_pool) processes after $ms ms"
	fi
	# Served at once, by W workers: all W wait on the lock together.
	waiting() { [[ $(lock_waiters) -ge $W ]]; }
	if ms=$(wait_until 30000 waiting); then
		pass "$MODE: all $W requests were in progress together, waiting on the lock (${ms} ms)"
	else
		fail "$MODE: all $W requests were in progress together, waiting on the lock" \
			"$(lock_waiters) sessions wait on a lock after $ms ms"
	fi
	early=$(cat "$T_DIR"/code.* | grep -c .)
	is "$early" 0 "$MODE: none was answered while the lock was held"
	lock_release row
	t0=$(now_ms)
	wait "${pids[@]}"
	ms=$(($(now_ms) - t0))
	codes=$(cat "$T_DIR"/code.* | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')
	is "$codes" "200 x$W " "$MODE: every change waiting on the lock got a 200 once it went (${ms} ms)"
	num_cmp "$(nproc_pool)" -le "$FULL" "$MODE: never more than TASKAPI_WORKERS ($(nproc_pool) of $FULL)"

	# Idle again: back to the spare workers, each extra one an idle stop.
	if ms=$(wait_until 30000 at_spare); then
		pass "$MODE: idle again, the pool shrank back to $SPARE blocking worker(s) (${ms} ms)"
	else
		fail "$MODE: idle again, the pool shrank back to $SPARE blocking worker(s)" "$(nproc_pool) processes after $ms ms"
	fi
	stops=$(metric taskapi_worker_idle_stops_total)
	num_cmp "$((stops - stops0))" -ge $((W - SPARE)) "$MODE: taskapi_worker_idle_stops_total counted them ($((stops - stops0)))"
	is "$(restarts)" "$restarts0" "$MODE: no restart was counted (crash, max_requests, stuck, reload unchanged)"
	kill -0 "$MASTER" && pass "$MODE: the master is still there" || fail "$MODE: the master is still there"

	# And the next request is served (ondemand: by a worker forked for it).
	api "$S_TOKEN" GET "/api/v1/users?limit=1"
	expect_json 200 "$MODE: the next request after the idle spell is answered"
}

make_user S || bail "cannot register a user"
set_env TASKAPI_WORKER_IDLE_TIMEOUT 1
# The default first: no TASKAPI_SPARE_WORKERS line.
grow_shrink 0 ondemand
set_env TASKAPI_SPARE_WORKERS 1
grow_shrink 1 dynamic

done_testing
