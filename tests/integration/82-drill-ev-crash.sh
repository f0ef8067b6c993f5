#!/usr/bin/env bash
# 82-drill-ev-crash.sh: the event worker killed (-9) every 50 answered
# requests, 12 times (TASKAPI_FAULT_ROUNDS in ./dev faults), under a
# delete-heavy mixed load.  A DELETE whose worker committed it and died
# before answering must not be retried into a 404: the client may get a
# JSON 502 (the outcome is unknown to nginx), never "not found" for its
# own successful delete.  nginx's own errors are logged with the method
# and URI the client sent.  Nothing acknowledged is lost.  The kills
# come faster than the crash brake allows (5 in 30 s): while it holds,
# the master keeps one event worker running and the event routes are
# still answered (doc/OPERATIONS.md, "Faults"), never left waiting.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/drill-lib.sh"
drill_needs

MASTER=$(cat "$TASKAPI_VAR/run/taskapi.pid")
rounds=${TASKAPI_FAULT_ROUNDS:-12}
((rounds > 60)) && rounds=60
kill_cmd="p=\$(curl -s --max-time 2 '$BASE/status' | jq -r '[.processes[] | select(.kind == \"event\")][0].pid // empty'); [ -n \"\$p\" ] && kill -9 \$p"
brake0=$(grep -c 'before starting another event worker' "$APP_LOG")
kept0=$(grep -c 'started one event worker to keep' "$APP_LOG")
drill_run evcrash --clients 24 --requests $((50 * rounds + 300)) --time-cap 55 \
	--mix create=35,patch=10,delete=35,read=15,rename=5 \
	--fault-cmd "$kill_cmd" --fault-every 50 --faults "$rounds"
drill_ledger_checks
is "$(dj .faults)" "$rounds" "$rounds kills were made"
is "$(dj '[.failures | to_entries[] | select(.key != "502")] | length')" 0 \
	"no failure but 502 (in flight at a kill)"
num_cmp "$(dj '.recover_ms.event')" -le 5000 "the event routes answered 2xx again within 5 s of each kill ($(dj '.recover_ms.event') ms at worst)"
brakes=$(($(grep -c 'before starting another event worker' "$APP_LOG") - brake0))
kept=$(($(grep -c 'started one event worker to keep' "$APP_LOG") - kept0))
if ((rounds >= 5)); then
	num_cmp "$brakes" -ge 1 "the event worker's crash brake engaged ($brakes times)"
	num_cmp "$kept" -ge 1 "while it held, the master kept one event worker running ($kept started)"
fi
kill -0 "$MASTER" 2>/dev/null && pass "the master is still there" || fail "the master is still there"
done_testing
