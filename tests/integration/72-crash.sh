#!/usr/bin/env bash
# 72-crash.sh: kill -9 the event worker in the middle of a stream of
# creates.  The master replaces it within a second; at most the requests
# it had in flight fail, as JSON 502s from nginx; every task that got a
# 201 is in the database.  The successor starts with the master's soft
# limit of open files lowered to 256 (a service manager's default is
# 1024): it raises its own to what its connection budget needs.
. "$(dirname "$0")/lib.sh"

PIDF=${TASKAPI_VAR:-}/run/taskapi.pid
[[ -n ${TASKAPI_VAR:-} && -r $PIDF ]] || skip_all "needs TASKAPI_VAR from ./dev test"
have_psql || skip_all "needs TASKAPI_PSQL"
MASTER=$(cat "$PIDF")
# The event workers are the children holding an epoll instance.
ev_workers() {
	local p
	for p in $(pgrep -P "$MASTER"); do
		ls -l "/proc/$p/fd" 2>/dev/null | grep -q anon_inode:\\[eventpoll\\] && echo "$p"
	done
}
ev_worker() { ev_workers | head -n 1; }

make_user U || bail "cannot create a user"
victim=$(ev_worker)
[[ -n $victim ]] || skip_all "no event-driven worker in this pool"

# 8 connections creating tasks from one load process (tests/lib/load.py),
# one line "status id json|raw ..." per answered create.  It runs until
# told to stop: the worker is killed once 40 creates were answered, and
# the load goes on until 40 more were answered after its replacement
# was seen, so the kill lands in the middle of the stream however fast
# the machine is.  (The caps only end a broken run.)
LOAD=$T_DIR/all
load_run --clients 8 --stop-file "$T_DIR/stop" --cap-seconds 300 --timeout 30 \
	--method POST --path /api/v1/tasks --data '{"title":"crash {c}-{i}"}' \
	--header "Authorization: Bearer $U_TOKEN" --header 'Content-Type: application/json' \
	--out "$LOAD" >"$T_DIR/summary" &
loader=$!
if ms=$(wait_until 120000 lines_at_least "$LOAD" 40); then
	pass "the load is running (40 creates answered in $ms ms)"
else
	fail "the load is running (40 creates answered)" "$(lines "$LOAD") answered after $ms ms"
fi
at_kill=$(lines "$LOAD")
# prlimit on another user's process needs CAP_SYS_RESOURCE, which a
# container's root may lack: run it as the master's user.
owner=$(stat -c %U "/proc/$MASTER")
as_owner() { if [[ $(id -un) != "$owner" ]]; then runuser -u "$owner" -- "$@"; else "$@"; fi; }
nofile0=$(as_owner prlimit --pid "$MASTER" --nofile --noheadings --output SOFT)
as_owner prlimit --pid "$MASTER" --nofile=256: || fail "prlimit: the master's soft limit lowered"
ev_workers >"$T_DIR/ev_before"
t_kill=$(uptime_ms)
kill -9 "$victim"
# The successor is the event worker that was not there before the kill
# (with several, another one may come first in the list).
succ() { ev_workers | grep -vxF -f "$T_DIR/ev_before" | head -n 1; }
replaced() { [[ -n $(succ) ]]; }
seen_ms=$(wait_until 30000 replaced)
new=$(succ)
as_owner prlimit --pid "$MASTER" --nofile="$nofile0": || diag "the master's soft limit was not put back to $nofile0"
# TASKAPI_EV_MAX_CONNECTIONS FastCGI connections, TASKAPI_EV_DB_CONNECTIONS
# database ones, 64 of its own (evworker.c); no more than the hard limit.
envf=$TASKAPI_VAR/taskapi.env
cap=$(sed -n 's/^TASKAPI_EV_MAX_CONNECTIONS=//p' "$envf" | tail -n 1)
dbc=$(sed -n 's/^TASKAPI_EV_DB_CONNECTIONS=//p' "$envf" | tail -n 1)
need=$((${cap:-2048} + ${dbc:-4} + 64))
read -r soft hard < <(as_owner prlimit --pid "${new:-0}" --nofile --noheadings --output SOFT,HARD)
[[ $hard == unlimited || $hard -gt $need ]] || need=$hard
is "$soft" "$need" "the successor, started with a soft limit of 256 open files, raised it to what its budget needs (hard: $hard)"
# Timed by the new worker's start (/proc), not by this polling loop.
ms=$(( $(proc_start_ms "${new:-0}" || echo 999999) - t_kill ))
num_cmp "$ms" -le 1000 "the killed event worker was replaced in ${ms} ms (its successor $new started then; seen here after $seen_ms ms)"
at_new=$(lines "$LOAD")
ms=$(wait_until 120000 lines_at_least "$LOAD" $((at_new + 40))) ||
	diag "only $(($(lines "$LOAD") - at_new)) creates answered in $ms ms after the replacement"
: >"$T_DIR/stop"
wait "$loader"
diag "load: $(cat "$T_DIR/summary"); $at_kill answered before the kill, $at_new when the new worker was seen"

total=$(wc -l <"$LOAD")
created=$(awk '$1 == 201' "$LOAD" | wc -l)
failed=$(awk '$1 != 201' "$LOAD" | wc -l)
seen=$(awk '{ print $1 }' "$LOAD" | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')
num_cmp "$total" -ge $((at_new + 40)) "creates sent during the test ($total: $seen)"
# After the replacement every create succeeds again: the last 20 answered.
is "$(tail -n 20 "$LOAD" | awk '$1 != 201' | wc -l)" 0 "the last 20 creates, well after the replacement, are all 201"
num_cmp "$failed" -le 64 "failed creates ($failed) at most what one worker can have in flight"
is "$(awk '$1 != 201 && ($1 != 502 || $3 != "json")' "$LOAD" | wc -l)" 0 \
	"every failure is a JSON 502 ($seen)"
awk '$1 == 201 {print $2}' "$LOAD" >"$T_DIR/ids"
ids=$(paste -sd, "$T_DIR/ids" | sed "s/[^,]*/'&'/g")
if [[ -n $ids ]]; then
	is "$(sql "SELECT count(*) FROM tasks WHERE id IN ($ids)")" "$created" \
		"all $created tasks that got a 201 are in the database"
fi
# Nothing was written twice or out of thin air: the user's tasks are at
# least the 201s and at most every create sent.
n=$(sql "SELECT count(*) FROM tasks WHERE user_id = '$U_ID'")
num_cmp "$n" -ge "$created" "the user's task count ($n) covers every 201"
num_cmp "$n" -le "$total" "... and is no more than the creates sent ($total)"
api "$U_TOKEN" GET /api/v1/tasks?limit=1
expect_json 200 "after the crash requests succeed again"
like "$(grep -c "worker $victim killed by signal 9" "$TASKAPI_VAR/log/taskapi.log")" '^[1-9]' \
	"the master logged how the worker died"
done_testing
