#!/usr/bin/env bash
# 93-pg-restart-load.sh (fault: PostgreSQL restart under load): PostgreSQL stopped and started
# again while 8 clients keep sending requests to both kinds of worker.
# During the outage requests fail fast (JSON 503 + Retry-After, none
# longer than the 2 s connect timeout) and /health says degraded; from
# 2 s after the database is back every request succeeds, and the pool
# was never restarted.  TASKAPI_FAULT_SECONDS: outage length (2 s here).
. "$(dirname "$0")/lib.sh"

[[ -n ${TASKAPI_PG_CTL:-} && -n ${TASKAPI_VAR:-} ]] ||
	skip_all "needs TASKAPI_PG_CTL and TASKAPI_VAR from ./dev test"
PIDF=$TASKAPI_VAR/run/taskapi.pid
MASTER=$(cat "$PIDF")
OUTAGE=${TASKAPI_FAULT_SECONDS:-2}
# A fixed pool: the test checks that it kept its size.
pool_fixed on
trap 'stack_pg_start; pool_fixed off; t_cleanup' EXIT

make_user P || bail "cannot register a user"
create_titled "$P_TOKEN" "pg restart" || bail "cannot create a task"
TID=$TASK_ID
pool0=$(pgrep -P "$MASTER" | wc -l)

# One load process, 8 connections, over both kinds of worker, until the
# test says stop: "status id kind ms end_ms path" per request.
LOAD=$T_DIR/load
load_run --clients 8 --stop-file "$T_DIR/stop" --cap-seconds 600 --timeout 30 \
	--path "/api/v1/tasks/$TID" --path "/api/v1/users?limit=1" \
	--header "Authorization: Bearer $P_TOKEN" --out "$LOAD" >"$T_DIR/summary" &
loader=$!
wait_until 60000 lines_at_least "$LOAD" 20 >/dev/null || diag "load slow to start: $(lines "$LOAD") answers"

t_stop=$(now_ms)
stack_pg_stop || bail "could not stop PostgreSQL"
# The outage has begun for the clients once one of them got a 503.
saw503() { awk '$1 == 503 { f = 1; exit } END { exit !f }' "$LOAD"; }
wait_until 30000 saw503 >/dev/null || diag "no 503 among $(lines "$LOAD") answers yet"
api "$P_TOKEN" GET "/api/v1/tasks/$TID"
expect_error 503 "during the outage: GET task -> JSON 503"
has_header Retry-After && pass "with Retry-After" || fail "with Retry-After" "$(resp_summary)"
api "$P_TOKEN" GET "/api/v1/users?limit=1"
expect_error 503 "during the outage: the blocking pool answers JSON 503 too"
req GET /health
is "$RESP_STATUS" 503 "/health -> 503 during the outage"
json_is .status degraded "/health says degraded"
sleep "$OUTAGE"
t_start=$(now_ms)
stack_pg_start || bail "could not start PostgreSQL again"
t_up=$(now_ms)
diag "PostgreSQL down for $((t_up - t_stop)) ms (start took $((t_up - t_start)) ms)"
# Run on until 40 requests ended more than 2 s after the database was back.
late_enough() { [[ $(awk -v t=$((t_up + 2000)) '$5 > t' "$LOAD" | wc -l) -ge 40 ]]; }
ms=$(wait_until 120000 late_enough) || diag "only $(awk -v t=$((t_up + 2000)) '$5 > t' "$LOAD" | wc -l) requests after +2 s in $ms ms"
: >"$T_DIR/stop"
wait "$loader"
diag "load: $(cat "$T_DIR/summary")"

total=$(wc -l <"$LOAD")
seen=$(awk '{ print $1 }' "$LOAD" | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')
num_cmp "$total" -gt 50 "8 clients made $total requests across the restart ($seen)"
others=$(awk '$1 != 200 && $1 != 503' "$LOAD" | head -5)
is "$others" "" "every response was a 200 or a 503 (no 500, 502, 504 or hang): $seen"
n503=$(awk '$1 == 503' "$LOAD" | wc -l)
num_cmp "$n503" -gt 0 "the clients saw the outage ($n503 x 503)"
slowest=$(awk '$4 > m { m = $4 } END { printf "%d\n", m }' "$LOAD")
num_cmp "$slowest" -le 2500 "the slowest request took ${slowest} ms (connect timeout 2 s)"
late=$(awk -v t=$((t_up + 2000)) '$5 > t && $1 != 200' "$LOAD")
after=$(awk -v t=$((t_up + 2000)) '$5 > t' "$LOAD" | wc -l)
num_cmp "$after" -ge 40 "$after requests ended more than 2 s after the database was back"
if [[ -z $late ]]; then
	pass "all of them succeeded"
else
	fail "all of them succeeded" "$(grep -c . <<<"$late") did not (status id kind ms end_ms path):"$'\n'"$(head -5 <<<"$late")"
fi
first_ok=$(awk -v t="$t_up" '$5 > t && $1 == 200 { print $5 - t }' "$LOAD" | sort -n | head -1)
diag "first success ${first_ok:-?} ms after PostgreSQL was up"
is "$(pgrep -P "$MASTER" | wc -l)" "$pool0" "the pool kept its size (no restart needed)"
is "$(cat "$PIDF")" "$MASTER" "the same master"

done_testing
