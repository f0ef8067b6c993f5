#!/usr/bin/env bash
# 87-drill-reload.sh: SIGHUP to the master every 60 answered requests, 10
# times (TASKAPI_FAULT_ROUNDS in ./dev faults), under mixed load.  Each
# reload replaces every worker, the event worker included, while nginx
# keeps its FastCGI connections to it: a reload under load fails 0
# requests and loses nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/drill-lib.sh"
drill_needs

MASTER=$(cat "$TASKAPI_VAR/run/taskapi.pid")
rounds=${TASKAPI_FAULT_ROUNDS:-10}
((rounds > 60)) && rounds=60
drill_run reload --clients 16 --requests $((60 * rounds + 300)) --time-cap 55 \
	--fault-cmd "kill -HUP $MASTER" --fault-every 60 --faults "$rounds"
drill_ledger_checks
is "$(dj .faults)" "$rounds" "$rounds reloads were made"
is "$(dj .failed)" 0 "0 requests failed across $rounds reloads (failures: $(jq -c .failures "$DRILL_OUT"))"
is "$(cat "$TASKAPI_VAR/run/taskapi.pid")" "$MASTER" "the same master runs"
done_testing
