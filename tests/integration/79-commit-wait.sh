#!/usr/bin/env bash
# 79-commit-wait.sh (fault: a commit that cannot complete): with
# synchronous replication asked for and no standby to give it (what
# Patroni's synchronous_mode_strict does when the last synchronous
# standby is gone), a COMMIT waits without end and statement_timeout does
# not stop it.  taskapi bounds the wait itself (TASKAPI_DB_COMMIT_TIMEOUT,
# lowered here to 2 s): a POST /api/v1/tasks (event worker) and a PATCH
# /api/v1/users/{id} (blocking pool) each get a JSON 503 with Retry-After
# saying the outcome is unknown, well before nginx's 504 or the master's
# stuck-worker kill; reads go on; no worker is killed; the write did
# commit locally, and a retry with its Idempotency-Key after the standby
# "returns" creates nothing twice.
. "$(dirname "$0")/lib.sh"

[[ -n ${TASKAPI_VAR:-} && -r $TASKAPI_VAR/run/taskapi.pid && -w $TASKAPI_VAR/taskapi.env ]] ||
	skip_all "needs TASKAPI_VAR from ./dev test (pool pid, env file)"
have_psql || skip_all "needs TASKAPI_PSQL"
# The cluster's superuser (initdb -U postgres, trust on its socket):
# ALTER SYSTEM needs it.
SUPER=$(sed 's/-U [^ ]*/-U postgres/' <<<"$TASKAPI_PSQL")
su_sql() { $SUPER -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
su_sql 'select 1' >/dev/null 2>&1 || skip_all "cannot connect as the superuser postgres"

DEADLINE_S=2
# Generous: the answer is due at the deadline + 0.5 s (db.h) + a quarter
# second of the event loop's timer; 5 times the deadline covers a slow
# machine and stays far from the 30 s request timeout (nginx's 504 at
# 32 s, the master's kill at 35 s).
BOUND_MS=$((DEADLINE_S * 5 * 1000))

PROBE_PID=""
restore() {
	su_sql "ALTER SYSTEM RESET synchronous_standby_names" >/dev/null 2>&1
	su_sql "SELECT pg_reload_conf()" >/dev/null 2>&1
	[[ -n $PROBE_PID ]] && kill "$PROBE_PID" 2>/dev/null
	local old
	old=$(pool_workers)
	stack_set_env TASKAPI_DB_COMMIT_TIMEOUT ""
	wait_until 30000 pool_gone "$old" >/dev/null || diag "reload back slow"
}
trap 'restore; t_cleanup' EXIT

stuck_kills() {
	curl -s "$BASE/metrics" |
		awk '/^taskapi_worker_restarts_total\{.*reason="stuck"/ { n += $2 } END { print n + 0 }'
}

make_user U || bail "cannot register a user"
create_titled "$U_TOKEN" "before the trap" || bail "cannot create a task: $(resp_summary)"
BEFORE_ID=$TASK_ID
stuck0=$(stuck_kills)

old=$(pool_workers)
stack_set_env TASKAPI_DB_COMMIT_TIMEOUT "$DEADLINE_S"
ms=$(wait_until 30000 pool_gone "$old") || diag "reload slow: ${ms} ms"
back() { [[ $(curl_code -H "Authorization: Bearer $U_TOKEN" "$BASE/api/v1/me") == 200 ]]; }
wait_until 30000 back >/dev/null || bail "the pool did not come back after the reload"

# The trap: a standby nobody is.  The checkpointer applies it a moment
# after the reload; a probe transaction that writes (a temporary
# table: catalog rows, WAL, an xid) shows when
# commits wait (pg_stat_activity: wait_event SyncRep).
su_sql "ALTER SYSTEM SET synchronous_standby_names = 'nobody'" >/dev/null ||
	bail "ALTER SYSTEM failed"
su_sql "SELECT pg_reload_conf()" >/dev/null || bail "pg_reload_conf failed"
probe_waits() {
	[[ $(su_sql "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'taskapi-it-syncprobe' AND wait_event = 'SyncRep'") -ge 1 ]]
}
armed() {
	if [[ -z $PROBE_PID ]] || ! kill -0 "$PROBE_PID" 2>/dev/null; then
		# Not started, or it committed at once (not armed yet): again.
		PGAPPNAME=taskapi-it-syncprobe $SUPER -X -q -c "CREATE TEMP TABLE syncprobe ()" >/dev/null 2>&1 &
		PROBE_PID=$!
	fi
	probe_waits
}
ms=$(wait_until 30000 armed) || bail "commits do not wait for the standby after ${ms} ms"
pass "commits wait for a synchronous standby that is not there (after ${ms} ms)"

outcome_unknown() {
	curl -s "$BASE/metrics" |
		awk '$1 == "taskapi_writes_outcome_unknown_total" { print $2; f = 1 } END { if (!f) print "none" }'
}
ou0=$(outcome_unknown)

# outcome_unknown_answer WHAT: the last answer was a JSON 503 with
# Retry-After saying the outcome is unknown, after the deadline and within
# the bound ($ms: how long it took).
outcome_unknown_answer() {
	expect_error 503 "$1 with no standby -> JSON 503 (${ms} ms)"
	has_header Retry-After && pass "the ${1%% *}'s 503 has Retry-After" ||
		fail "the ${1%% *}'s 503 has Retry-After" "$(resp_summary)"
	[[ -s $T_BODY ]] && jq -e '.error | test("unknown")' "$T_BODY" >/dev/null &&
		pass "the ${1%% *}'s 503 says the outcome is unknown" ||
		fail "the ${1%% *}'s 503 says the outcome is unknown" "$(resp_summary)"
	num_cmp "$ms" -ge $((DEADLINE_S * 1000)) "the ${1%% *} waited its deadline (${DEADLINE_S} s) first"
	num_cmp "$ms" -le "$BOUND_MS" "the ${1%% *} was answered within ${BOUND_MS} ms (${ms} ms)"
}

# The write on the event worker, with an Idempotency-Key to retry it by.
KEY=$(random_uuid)
t0=$(now_ms)
req POST /api/v1/tasks -H "Authorization: Bearer $U_TOKEN" -H "Idempotency-Key: $KEY" \
	-H 'Content-Type: application/json' --data-binary '{"title":"commit-wait create"}' \
	--max-time $((BOUND_MS / 1000))
ms=$(($(now_ms) - t0))
outcome_unknown_answer "POST /api/v1/tasks"

# The write on the blocking pool.
t0=$(now_ms)
req PATCH "/api/v1/users/$U_ID" -H "Authorization: Bearer $U_TOKEN" \
	-H 'Content-Type: application/json' --data-binary '{"name":"commit-wait name"}' \
	--max-time $((BOUND_MS / 1000))
ms=$(($(now_ms) - t0))
outcome_unknown_answer "PATCH /api/v1/users/{id}"

is "$(outcome_unknown)" "$((ou0 + 2))" \
	"taskapi_writes_outcome_unknown_total counted the two 503s (was $ou0)"

# Reads commit nothing, so they never wait: both kinds of worker serve.
api "$U_TOKEN" GET "/api/v1/tasks/$BEFORE_ID"
expect_status 200 "meanwhile a task is read (event worker)"
api "$U_TOKEN" GET /api/v1/tasks/export
expect_status 200 "meanwhile the export streams (blocking pool)"
is "$(stuck_kills)" "$stuck0" "no worker was killed as stuck"
# Why "unknown" and not "not done": the cancelled commit wait leaves the
# row committed locally, visible now.
is "$(sql "SELECT count(*) FROM tasks WHERE user_id = '$U_ID' AND title = 'commit-wait create'")" 1 \
	"the POST's row committed locally (outcome unknown, not 'not done')"

# The standby "returns": writes go through again, and the retry with the
# same key returns the row that was created, creating nothing twice.
su_sql "ALTER SYSTEM RESET synchronous_standby_names" >/dev/null || bail "ALTER SYSTEM RESET failed"
su_sql "SELECT pg_reload_conf()" >/dev/null
released() { [[ -z $PROBE_PID ]] || ! kill -0 "$PROBE_PID" 2>/dev/null; }
ms=$(wait_until 30000 released) || diag "the probe still waits after ${ms} ms"
PROBE_PID=""
req POST /api/v1/tasks -H "Authorization: Bearer $U_TOKEN" -H "Idempotency-Key: $KEY" \
	-H 'Content-Type: application/json' --data-binary '{"title":"commit-wait create"}' \
	--max-time $((BOUND_MS / 1000))
expect_status 201 "the POST retried with its Idempotency-Key -> 201"
is "$(sql "SELECT count(*) FROM tasks WHERE user_id = '$U_ID' AND title = 'commit-wait create'")" 1 \
	"the retry created nothing twice"
create_titled "$U_TOKEN" "after the trap" && pass "a new task is created again" ||
	fail "a new task is created again" "$(resp_summary)"
api "$U_TOKEN" PATCH "/api/v1/users/$U_ID" '{"name":"after the trap"}'
expect_status 200 "the account is changed again"
is "$(jbody .name)" "after the trap" "the account's name is the new one"

done_testing
