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

# Each client writes "end_ms status seconds path" per request.
LOAD=$T_DIR/load
STOPF=$T_DIR/stop
client() {
	local n=$1 path
	while [[ ! -e $STOPF ]]; do
		if ((n % 2)); then path="/api/v1/tasks/$TID"; else path="/api/v1/users?limit=1"; fi
		r=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 30 \
			-H "Authorization: Bearer $P_TOKEN" "$BASE$path")
		printf '%s %s %s\n' "$(now_ms)" "$r" "$path" >>"$LOAD.$n"
	done
}
for n in 1 2 3 4 5 6 7 8; do client "$n" & done
sleep 1

t_stop=$(now_ms)
stack_pg_stop || bail "could not stop PostgreSQL"
sleep 0.5
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
sleep 3
: >"$STOPF"
wait

cat "$LOAD".* >"$LOAD"
total=$(wc -l <"$LOAD")
num_cmp "$total" -gt 50 "8 clients made $total requests across the restart"
others=$(awk '$2 != 200 && $2 != 503' "$LOAD" | head -5)
is "$others" "" "every response was a 200 or a 503 (no 500, 502, 504 or hang)"
n503=$(awk '$2 == 503' "$LOAD" | wc -l)
num_cmp "$n503" -gt 0 "the clients saw the outage ($n503 x 503)"
slowest=$(awk '$3 > m { m = $3 } END { printf "%d\n", m * 1000 }' "$LOAD")
num_cmp "$slowest" -le 2500 "the slowest request took ${slowest} ms (connect timeout 2 s)"
late=$(awk -v t=$((t_up + 2000)) '$1 > t && $2 != 200' "$LOAD" | wc -l)
after=$(awk -v t=$((t_up + 2000)) '$1 > t' "$LOAD" | wc -l)
num_cmp "$after" -gt 10 "$after requests ended more than 2 s after the database was back"
is "$late" 0 "all of them succeeded"
first_ok=$(awk -v t="$t_up" '$1 > t && $2 == 200 { print $1 - t; exit }' <(sort -n "$LOAD"))
diag "first success ${first_ok:-?} ms after PostgreSQL was up"
is "$(pgrep -P "$MASTER" | wc -l)" "$pool0" "the pool kept its size (no restart needed)"
is "$(cat "$PIDF")" "$MASTER" "the same master"

done_testing
