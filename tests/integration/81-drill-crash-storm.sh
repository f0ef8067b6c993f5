#!/usr/bin/env bash
# 81-drill-crash-storm.sh: a crash storm in the blocking pool under mixed
# load.  A blocking worker is killed (-9) every 30 answered requests, 14
# times (TASKAPI_FAULT_ROUNDS in ./dev faults): the master's crash brake
# engages.  While it holds back, a request on the blocking routes must
# get an immediate JSON 503 with Retry-After, never wait unanswered (the
# clients give up after 4 s, below the brake's longer waits); a
# request whose client gave up is never executed later; nothing
# acknowledged is lost; the event worker's routes are not braked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/drill-lib.sh"
drill_needs

PIDF=$TASKAPI_VAR/run/taskapi.pid
DEV=${TASKAPI_SRCDIR:-}/dev
[[ -x $DEV ]] || skip_all "needs TASKAPI_SRCDIR"
MASTER=$(cat "$PIDF")
gone() { [[ ! -e /proc/$1 ]] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
restart_pool() {
	local t0
	kill -TERM "$MASTER" 2>/dev/null
	t0=$(now_ms)
	while ! gone "$MASTER" && (($(now_ms) - t0 < 15000)); do sleep 0.1; done
	"$DEV" app-up >/dev/null 2>&1
}
# The brake stays on for 30 s: the scripts after this one must not start
# under it.
trap 'restart_pool; t_cleanup' EXIT

rounds=${TASKAPI_FAULT_ROUNDS:-14}
((rounds > 40)) && rounds=40
# Kill the blocking worker that serves a request now (the newest listed
# otherwise): /status lists each worker's kind and state.
kill_cmd="pids=\$(curl -s --max-time 2 '$BASE/status' | jq -r '[.processes[] | select(.kind == \"fastcgi\")] | (map(select(.state == \"busy\")) + .) | .[0].pid // empty'); [ -n \"\$pids\" ] && kill -9 \$pids"
crash0=$(grep -c 'killed by signal 9' "$TASKAPI_VAR/log/taskapi.log")
drill_run crash --clients 16 --requests $((30 * rounds + 400)) --time-cap 55 --client-timeout 4 \
	--mix create=15,patch=10,delete=5,read=10,rename=45,users=15 \
	--fault-cmd "$kill_cmd" --fault-every 30 --faults "$rounds"
drill_ledger_checks
is "$(dj .faults)" "$rounds" "$rounds kills were made"
killed=$(($(grep -c 'killed by signal 9' "$TASKAPI_VAR/log/taskapi.log") - crash0))
num_cmp "$killed" -ge 5 "the master saw $killed blocking workers killed (the brake needs 5)"
brake=$(grep -o 'workers died within 30 s; waiting [0-9]* ms before starting another fastcgi' "$TASKAPI_VAR/log/taskapi.log" |
	tail -n 1 | grep -o '[0-9]* ms')
like "$brake" '^[0-9]+ ms$' "the blocking pool's crash brake engaged (its last wait: $brake, answered 503 meanwhile)"
# Each kill can fail the one request that worker had in flight (a JSON
# 502); beyond that only the brake's 503s.
n502=$(dj '.by_status["502"] // 0')
num_cmp "$n502" -le "$killed" "502s ($n502) at most one per kill ($killed)"
is "$(dj '[.failures | to_entries[] | select(.key != "502" and .key != "503")] | length')" 0 \
	"no failure but 502 (in flight at a kill) and 503 (brake)"
done_testing
