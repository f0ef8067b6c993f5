#!/usr/bin/env bash
# 90-shutdown.sh: SIGTERM stops the pool gracefully: a request in flight
# when the signal arrives still gets its whole response, the master
# exits, and the pool comes back with ./dev app-up.  Runs last but one:
# it takes the pool down for a moment.
. "$(dirname "$0")/lib.sh"

PIDF=${TASKAPI_VAR:-}/run/taskapi.pid
LOG=${TASKAPI_VAR:-}/log/taskapi.log
DEV=${TASKAPI_SRCDIR:-}/dev
[[ -n ${TASKAPI_VAR:-} && -r $PIDF && -x $DEV ]] || skip_all "needs ./dev test's TASKAPI_VAR and TASKAPI_SRCDIR"
have_psql || skip_all "needs TASKAPI_PSQL"
MASTER=$(cat "$PIDF")

make_user U || bail "cannot create a user"
create_titled "$U_TOKEN" "in flight" || bail "cannot create a task"

# Hold the tasks table until the master has begun to stop, so the next
# request is in flight (its worker's session waits on the lock) when
# SIGTERM arrives, however slow the machine.
trap 'lock_release tasks; t_cleanup' EXIT
lock_hold tasks "LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE" || diag "lock not held after $LOCK_MS ms"
out=$T_DIR/inflight
curl -s -o "$out.body" -w '%{http_code}' --max-time 60 \
	-H "Authorization: Bearer $U_TOKEN" "$BASE/api/v1/tasks?limit=5" >"$out.code" &
client=$!
waiting() { [[ $(lock_waiters) -ge 1 ]]; }
ms=$(wait_until 30000 waiting) || diag "the request was not seen waiting on the lock after $ms ms"
log_at=$(stat -c %s "$LOG")
t0=$(now_ms)
kill -TERM "$MASTER"
stopping() { tail -c +"$((log_at + 1))" "$LOG" | grep -q 'stopping; waiting up to'; }
ms=$(wait_until 30000 stopping) || diag "the master did not log its stop after $ms ms"
lock_release tasks
wait "$client"
is "$(cat "$out.code")" 200 "a request in flight at SIGTERM completes with 200"
is "$(jq -r '.[0].title' "$out.body" 2>/dev/null)" "in flight" "... and its body is complete"

# Exited: no process, or a zombie waiting for its (re)parent to reap it.
gone() { [[ ! -e /proc/$MASTER ]] || grep -q '^State:[[:space:]]*Z' "/proc/$MASTER/status" 2>/dev/null; }
while ! gone && (($(now_ms) - t0 < 30000)); do sleep 0.1; done
ms=$(($(now_ms) - t0))
gone && pass "the master exited ${ms} ms after SIGTERM" ||
	fail "the master exited after SIGTERM" "still running after $ms ms"
like "$(grep -c 'all workers stopped; master exiting' "$LOG")" '^[1-9]' \
	"the master logged a clean stop"

req GET /health
expect_error 502 "with the pool stopped nginx answers a JSON 502"

"$DEV" app-up >/dev/null 2>&1
req GET /health
expect_json 200 "the pool is back after ./dev app-up"

# A stray USR1/USR2 is ignored (it used to kill the master, orphaning
# its workers); if the master dies anyhow, its workers stop with it.
MASTER=$(cat "$TASKAPI_VAR/run/taskapi.pid")
kids=$(pgrep -P "$MASTER" | tr '\n' ' ')
kill -USR1 "$MASTER"; kill -USR2 "$MASTER"
# Delivered once no signal is pending for the master any more (a fatal
# one would have ended it by then).
delivered() { ! grep -qE '^(SigPnd|ShdPnd):[[:space:]]*0*[1-9a-f]' "/proc/$MASTER/status" 2>/dev/null; }
wait_until 30000 delivered >/dev/null || diag "signals still pending for the master"
kill -0 "$MASTER" 2>/dev/null && ! gone && pass "USR1 and USR2 do not kill the master" ||
	fail "USR1 and USR2 do not kill the master"
is "$(pgrep -P "$MASTER" | tr '\n' ' ')" "$kids" "... nor its workers"
kill -9 "$MASTER"
orphans() {
	local p
	for p in $kids; do
		[[ -e /proc/$p ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null && return 1
	done
	return 0
}
ms=$(wait_until 30000 orphans) && pass "kill -9 of the master: its workers stopped too (${ms} ms)" ||
	fail "kill -9 of the master: its workers stopped too" "still running: $kids"
"$DEV" app-up >/dev/null 2>&1
req GET /health
expect_json 200 "the pool is back after ./dev app-up"
done_testing
