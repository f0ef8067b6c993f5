#!/usr/bin/env bash
# 89-drill-restart.sh: planned restarts under mixed load.
#   1. `./dev up` with nothing changed, 3 times, 80 answered requests
#      apart: it must neither reload nginx (which closes idle kept-alive
#      client connections: a client sending on one then gets no answer)
#      nor replace the pool.  0 requests fail.
#   2. An upgrade, twice: the binary is replaced (a copy of itself, a new
#      file) and ./dev app-up sends SIGHUP; the new binary takes over the
#      listening sockets from the running master, which then stops,
#      serving what it holds and what is queued.  0 requests fail.
#   3. SIGTERM to the master and a new start (./dev app-up), twice: the
#      requests already queued on the blocking pool's socket are served
#      before the workers exit; nothing acknowledged is lost.  The gap
#      between the old master's exit and the new one's bind (spawn-fcgi
#      makes a new socket) still fails requests: a stop and a start
#      cannot be failure-free without something holding the sockets in
#      between (a TODO line with the count); the upgrade above is the
#      zero-failure path.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/drill-lib.sh"
drill_needs

DEV=${TASKAPI_SRCDIR:-}/dev
[[ -x $DEV ]] || skip_all "needs TASKAPI_SRCDIR"
PIDF=$TASKAPI_VAR/run/taskapi.pid
NGX_PIDF=$TASKAPI_VAR/nginx/nginx.pid
MASTER=$(cat "$PIDF")
NGINX_WORKERS=$(pgrep -P "$(cat "$NGX_PIDF")" | sort | tr '\n' ' ')

drill_run devup --clients 16 --requests 500 --time-cap 55 \
	--fault-cmd "'$DEV' up >/dev/null 2>&1" --fault-every 80 --faults 3
drill_ledger_checks
is "$(dj .faults)" 3 "./dev up ran 3 times under load"
is "$(dj .failed)" 0 "0 requests failed (failures: $(jq -c .failures "$DRILL_OUT"))"
is "$(cat "$PIDF")" "$MASTER" "the same pool master runs"
is "$(pgrep -P "$(cat "$NGX_PIDF")" | sort | tr '\n' ' ')" "$NGINX_WORKERS" "nginx was not reloaded (the same nginx workers)"

BIN=$TASKAPI_BUILD/src/taskapi
[[ -n ${TASKAPI_BUILD:-} && -x $BIN ]] || bail "needs TASKAPI_BUILD"
MASTER=$(cat "$PIDF")
upgrade_cmd="cp '$BIN' '$BIN.drill' && mv '$BIN.drill' '$BIN' && '$DEV' app-up >/dev/null 2>&1"
drill_run upgrade --clients 16 --requests 600 --time-cap 55 \
	--fault-cmd "$upgrade_cmd" --fault-every 150 --faults 2
drill_ledger_checks
is "$(dj .faults)" 2 "2 upgrades under load"
is "$(dj .failed)" 0 "0 requests failed across 2 upgrades (failures: $(jq -c .failures "$DRILL_OUT"))"
new=$(cat "$PIDF")
isnt "$new" "$MASTER" "a new master runs (pid $new)"
like "$(grep -c "took over the listening sockets of master" "$TASKAPI_VAR/log/taskapi.log")" '^[1-9]' \
	"... having taken over the old master's sockets"
gone() { [[ ! -e /proc/$1 ]] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
ms=$(wait_until 15000 gone "$MASTER") && pass "the first master exited (${ms} ms after the check)" ||
	fail "the first master exited" "still running: $MASTER"

gone_cmd="m=\$(cat '$PIDF'); kill -TERM \$m; i=0; while [ -e /proc/\$m ] && ! grep -q '^State:[[:space:]]*Z' /proc/\$m/status 2>/dev/null && [ \$i -lt 300 ]; do sleep 0.05; i=\$((i+1)); done; '$DEV' app-up >/dev/null 2>&1"
drill_run restart --clients 16 --requests 600 --time-cap 55 \
	--fault-cmd "$gone_cmd" --fault-every 150 --faults 2
drill_ledger_checks
is "$(dj .faults)" 2 "2 stop-and-start rounds under load"
is "$(dj '[.failures | to_entries[] | select(.key != "502")] | length')" 0 \
	"no failure but nginx's JSON 502 while no master holds the socket"
n=$(dj .failed)
T_N=$((T_N + 1))
if [[ $n -eq 0 ]]; then
	printf 'ok %d - 0 requests failed across 2 restarts\n' "$T_N"
else
	printf 'not ok %d - 0 requests failed across 2 restarts (%s failed: %s) # TODO a stop and a start leave no process holding the sockets (the upgrade above is the zero-failure path)\n' \
		"$T_N" "$n" "$(jq -c .failures "$DRILL_OUT")"
fi
done_testing
