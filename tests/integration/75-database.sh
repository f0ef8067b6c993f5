#!/usr/bin/env bash
# 75-database.sh: PostgreSQL goes away and comes back.  While it is
# down requests fail fast with a JSON 503 + Retry-After and /health says
# degraded; once it is back, requests succeed without restarting the pool.
. "$(dirname "$0")/lib.sh"

[[ -n ${TASKAPI_PG_CTL:-} ]] || skip_all "needs TASKAPI_PG_CTL from ./dev test"

make_user U || bail "cannot create a user"
stack_pg_stop || bail "could not stop PostgreSQL"
trap 'stack_pg_start; t_cleanup' EXIT

t0=$(now_ms)
req GET /health
ms=$(($(now_ms) - t0))
expect_json 503 "database down: GET /health -> 503"
json_ok '. == {"status": "degraded", "database": "unavailable"}' \
	'database down: /health body says degraded/unavailable'
num_cmp "$ms" -le 2500 "database down: /health answered in ${ms} ms"
has_header Retry-After && pass "database down: /health has Retry-After" ||
	fail "database down: /health has Retry-After" "$(resp_summary)"
# A burst of health checks shares pings: all of them must say degraded.
for i in $(seq 1 32); do
	curl -s -o "$T_DIR/dh.$i" -w '%{http_code}\n' --max-time 10 "$BASE/health" &
done >"$T_DIR/dh.codes"
wait
is "$(sort "$T_DIR/dh.codes" | uniq -c | sed 's/^ *//')" "32 503" \
	"database down: 32 parallel /health -> all 503"
is "$(cat "$T_DIR"/dh.[0-9]* | jq -c . | sort -u)" '{"status":"degraded","database":"unavailable"}' \
	"database down: each says degraded/unavailable"

for path in /api/v1/me "/api/v1/tasks?limit=5"; do
	t0=$(now_ms)
	api "$U_TOKEN" GET "$path"
	ms=$(($(now_ms) - t0))
	expect_error 503 "database down: GET $path -> 503 JSON"
	has_header Retry-After && pass "database down: GET $path has Retry-After" ||
		fail "database down: GET $path has Retry-After" "$(resp_summary)"
	num_cmp "$ms" -le 2500 "database down: GET $path failed fast (${ms} ms)"
done
api "$U_TOKEN" POST /api/v1/tasks '{"title":"while down"}'
expect_error 503 "database down: POST /api/v1/tasks -> 503 JSON"

stack_pg_start || bail "could not start PostgreSQL again"
t_up=$(now_ms)
back() { [[ $(curl_code -H "Authorization: Bearer $U_TOKEN" "$BASE/api/v1/me") == 200 ]]; }
while ! back; do
	(($(now_ms) - t_up > 10000)) && break
	sleep 0.1
done
ms=$(($(now_ms) - t_up))
num_cmp "$ms" -le 2000 "database back: a request succeeds again after ${ms} ms (<= 2000)"
# A worker that failed to connect during the outage waits 250 ms before
# it tries again (so a black-holed database doesn't cost every request a
# connect timeout); from 1 s after the restart every request must succeed.
sleep_ms=$((1000 - ($(now_ms) - t_up)))
((sleep_ms > 0)) && sleep "0.$(printf '%03d' "$sleep_ms")"
bad=0
for i in $(seq 1 40); do
	[[ $(curl_code -H "Authorization: Bearer $U_TOKEN" "$BASE/api/v1/tasks?limit=1") == 200 ]] ||
		bad=$((bad + 1))
done
is "$bad" 0 "database back (+1 s): 40 requests over every worker, none failed"
req GET /health
expect_json 200 "database back: /health -> 200"
api "$U_TOKEN" POST /api/v1/tasks '{"title":"after the outage"}'
expect_json 201 "database back: writes work again"
trap t_cleanup EXIT

# The schema goes missing under a running pool (a restore half done, the
# wrong database): each new connection's setup finds no schema_migrations,
# so requests get a JSON 503 and the log says to run 'taskapi migrate';
# once the schema is back, requests succeed without a restart.
OWNER_URL=$(sed -n 's/^TASKAPI_MIGRATE_DATABASE_URL=//p' "${TASKAPI_VAR:-}/taskapi.env" 2>/dev/null | tail -n 1)
LOG=${TASKAPI_VAR:-}/log/taskapi.log
if [[ -n $OWNER_URL && -r $LOG ]]; then
	owner_sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$OWNER_URL" -c "$1"; }
	owner_sql "ALTER TABLE schema_migrations RENAME TO schema_migrations_away" ||
		bail "could not rename schema_migrations"
	trap 'owner_sql "ALTER TABLE IF EXISTS schema_migrations_away RENAME TO schema_migrations"; t_cleanup' EXIT
	log_at=$(stat -c %s "$LOG")
	# A restart: every connection is made anew.
	{ stack_pg_stop && stack_pg_start; } || bail "could not restart PostgreSQL"
	api "$U_TOKEN" GET /api/v1/me
	expect_error 503 "schema missing: GET /api/v1/me (event worker) -> 503 JSON"
	api "" POST /api/v1/auth/login '{"email":"nobody@example.com","password":"whatever-1"}'
	expect_error 503 "schema missing: POST /api/v1/auth/login (blocking pool) -> 503 JSON"
	said() { [[ $(tail -c +"$((log_at + 1))" "$LOG" | grep -c "run 'taskapi migrate'") -ge 2 ]]; }
	wait_until 30000 said >/dev/null
	n=$(tail -c +"$((log_at + 1))" "$LOG" | grep -c "run 'taskapi migrate'")
	num_cmp "$n" -ge 2 "schema missing: the log says to run 'taskapi migrate' ($n lines)"
	owner_sql "ALTER TABLE schema_migrations_away RENAME TO schema_migrations" ||
		bail "could not rename schema_migrations back"
	trap t_cleanup EXIT
	me_ok() { [[ $(curl_code -H "Authorization: Bearer $U_TOKEN" "$BASE/api/v1/me") == 200 ]]; }
	if ms=$(wait_until 30000 me_ok); then
		pass "schema back: GET /api/v1/me -> 200 after ${ms} ms, no restart"
	else
		fail "schema back: GET /api/v1/me -> 200, no restart" "$(curl -s -H "Authorization: Bearer $U_TOKEN" "$BASE/api/v1/me")"
	fi
	login_ok() {
		[[ $(curl_code -X POST -H 'Content-Type: application/json' \
			-d '{"email":"nobody@example.com","password":"whatever-1"}' "$BASE/api/v1/auth/login") == 401 ]]
	}
	if ms=$(wait_until 30000 login_ok); then
		pass "schema back: the blocking pool answers a login again (401 for a stranger, ${ms} ms)"
	else
		fail "schema back: the blocking pool answers a login again"
	fi

	# --- a database that answers but cannot take writes (what a standby,
	# or a demoted primary, is to taskapi): /health says "read-only", a
	# write gets a JSON 503 with Retry-After (not a 500), and a restart of
	# the same server on the same timeline is not counted as a failover.
	db_failovers() {
		curl -s "$BASE/metrics" |
			awk '$1 == "taskapi_db_failovers_total" { print $2; f = 1 } END { if (!f) print "none" }'
	}
	fo0=$(db_failovers)
	# The owner's own session stays writable (PGOPTIONS) so it can undo this.
	rw_sql() { PGOPTIONS='-c default_transaction_read_only=off' owner_sql "$1"; }
	# db_setting SET ... | RESET ...: on this database, whatever its name.
	db_setting() {
		rw_sql "DO \$\$ BEGIN EXECUTE format('ALTER DATABASE %I $1', current_database()); END \$\$"
	}
	db_setting "SET default_transaction_read_only = on" ||
		bail "could not make the database read-only"
	trap 'db_setting "RESET default_transaction_read_only"; t_cleanup' EXIT
	{ stack_pg_stop && stack_pg_start; } || bail "could not restart PostgreSQL"
	health_ro() { [[ $(curl -s "$BASE/health") == '{"status":"degraded","database":"read-only"}' ]]; }
	if ms=$(wait_until 30000 health_ro); then
		pass "read-only database: /health -> {\"status\":\"degraded\",\"database\":\"read-only\"} (${ms} ms)"
	else
		fail "read-only database: /health says read-only" "$(curl -s -i "$BASE/health")"
	fi
	req GET /health
	expect_status 503 "read-only database: /health -> 503"
	has_header Retry-After && pass "read-only database: /health carries Retry-After" ||
		fail "read-only database: /health carries Retry-After" "$(resp_summary)"
	api "$U_TOKEN" POST /api/v1/tasks '{"title":"written to a read-only database"}'
	expect_error 503 "read-only database: POST /api/v1/tasks -> 503 JSON, not 500"
	has_header Retry-After && pass "read-only database: the 503 carries Retry-After" ||
		fail "read-only database: the 503 carries Retry-After" "$(resp_summary)"
	api "$U_TOKEN" GET /api/v1/tasks
	expect_status 200 "read-only database: reads still answer (GET /api/v1/tasks -> 200)"
	db_setting "RESET default_transaction_read_only" ||
		bail "could not make the database writable again"
	trap t_cleanup EXIT
	{ stack_pg_stop && stack_pg_start; } || bail "could not restart PostgreSQL"
	health_ok() { [[ $(curl_code "$BASE/health") == 200 ]]; }
	if ms=$(wait_until 30000 health_ok); then
		pass "writable again: /health -> 200 after ${ms} ms, no restart of taskapi"
	else
		fail "writable again: /health -> 200" "$(curl -s -i "$BASE/health")"
	fi
	api "$U_TOKEN" POST /api/v1/tasks '{"title":"written again"}'
	expect_status 201 "writable again: POST /api/v1/tasks -> 201"
	fo1=$(db_failovers)
	is "$fo1" "$fo0" "two restarts of the same server on the same timeline: taskapi_db_failovers_total unchanged ($fo0)"
fi
done_testing
