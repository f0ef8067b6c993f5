#!/usr/bin/env bash
# 91-db-connect.sh: a worker opens its database connection host by host,
# and an event worker without blocking its loop.
#
# The database URL lists, before the real server, a host that takes TCP
# connections (tests/lib/darkhost.py).  First it closes each at once (a
# server shutting down): every worker, blocking or event-driven, must
# pass it for the next host.  Then it holds them unanswered (a host gone
# dark mid-failover).  With one event worker and one connection, that
# connection is cut (pg_terminate_backend) and a request that needs the
# database makes it open again: first on the dark host, where it waits.
# Meanwhile the same worker must go on answering at once what needs no
# database (a request without a token: 401), and the request that needs
# the database waits for the connection instead of failing.  When the
# dark host lets go, the next host is tried and the waiting request gets
# its 200.  The test ends the wait (the dark host closes), not a timeout,
# so nothing here depends on the machine's speed:
# TASKAPI_DB_CONNECT_TIMEOUT is set far above any answer's cap.  A worker
# that connects blocking would answer nothing while it waits: the 401s
# would time out.  Last, with TASKAPI_DB_CONNECT_TIMEOUT=1, a host that
# holds for ever is given up at the worker's own deadline.
. "$(dirname "$0")/lib.sh"

[[ -n ${TASKAPI_VAR:-} ]] || skip_all "TASKAPI_VAR unset (./dev test sets it)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
have_psql || skip_all "needs TASKAPI_PSQL from ./dev test"
ENVF=$TASKAPI_VAR/taskapi.env
[[ -w $ENVF ]] || skip_all "cannot write $ENVF"
LIB=$(cd -- "$(dirname "$0")/../lib" && pwd)

make_user U || bail "cannot create a user"
url=$(sed -n 's/^DATABASE_URL=//p' "$ENVF" | tail -n 1)
[[ $url == *'host='*'&port='* ]] || skip_all "DATABASE_URL is not host=...&port=... ($url)"
host=$(sed 's/.*[?&]host=\([^&]*\).*/\1/' <<<"$url")
port=$(sed 's/.*[?&]port=\([^&]*\).*/\1/' <<<"$url")

D=$T_DIR/dark
mkdir -p "$D"
python3 "$LIB/darkhost.py" "$D" 1800 >"$D/port" 2>"$D/err" &
dark=$!
wait_until 10000 test -s "$D/port" >/dev/null || bail "darkhost.py did not start: $(cat "$D/err")"
dport=$(cat "$D/port")

cp "$ENVF" "$T_DIR/env.saved"
restore() {
	local old
	old=$(pool_workers)
	cp "$T_DIR/env.saved" "$ENVF"
	kill -HUP "$(pool_master)"
	wait_until 60000 pool_gone "$old" >/dev/null || diag "restore: old workers still there"
	kill "$dark" 2>/dev/null
	wait "$dark" 2>/dev/null
}
trap 'restore; t_cleanup' EXIT

# The dark host first, the real one second; one event worker with one
# connection, so that every request below meets the same loop.
old=$(pool_workers)
sed -i -e '/^DATABASE_URL=/d' -e '/^TASKAPI_EV_WORKERS=/d' \
	-e '/^TASKAPI_EV_DB_CONNECTIONS=/d' -e '/^TASKAPI_DB_CONNECT_TIMEOUT=/d' "$ENVF"
# dark_first URL: URL with the dark host listed before its own.
dark_first() {
	local u=${1//host=$host/host=127.0.0.1,$host}
	printf '%s\n' "${u//port=$port/port=$dport,$port}"
}
new_url=$(dark_first "$url")
{
	printf 'DATABASE_URL=%s\n' "$new_url"
	printf 'TASKAPI_EV_WORKERS=1\nTASKAPI_EV_DB_CONNECTIONS=1\n'
	printf 'TASKAPI_DB_CONNECT_TIMEOUT=60\n'
} >>"$ENVF"
kill -HUP "$(pool_master)"
# Meanwhile the dark host closes what it takes: each connect moves on.
wait_until 60000 pool_gone "$old" >/dev/null || bail "the pool was not replaced"
me_ok() { [[ $(curl_code -H "Authorization: Bearer $U_TOKEN" "$BASE/api/v1/me") == 200 ]]; }
wait_until 30000 me_ok >/dev/null
ok_cmd "two hosts, the first closing: GET /api/v1/me -> 200" me_ok
like "$(cat "$D/events")" "accept 1 closed" "the new workers tried the first host, which closed"
# The blocking workers (login hashes there) open theirs the same way.
login "$U_EMAIL" "$U_PW"
expect_json 200 "two hosts, the first closing: a blocking worker's login -> 200"

# So does a one-off connection: migrate, on the schema owner's URL.
BIN=${TASKAPI_BUILD:-}/src/taskapi
mig_url=$(sed -n 's/^TASKAPI_MIGRATE_DATABASE_URL=//p' "$T_DIR/env.saved" | tail -n 1)
if [[ -x $BIN && $mig_url == *"host=$host"*"port=$port"* ]]; then
	sed '/^TASKAPI_MIGRATE_DATABASE_URL=/d' "$ENVF" >"$T_DIR/mig.env"
	printf 'TASKAPI_MIGRATE_DATABASE_URL=%s\n' "$(dark_first "$mig_url")" >>"$T_DIR/mig.env"
	out=$("$BIN" --env-file "$T_DIR/mig.env" migrate 2>&1)
	is "$?" 0 "two hosts, the first closing: taskapi migrate connects"
	like "$out" "schema is at version" "... and reports the schema version"
else
	skip "taskapi migrate through the dark host" "no binary or no host=/port= migrate URL (${mig_url:-none})"
fi

# Now it holds, and the worker's connection is cut.
touch "$D/hold"
n=$(sql "select count(pg_terminate_backend(pid)) from pg_stat_activity
	where usename = current_user and application_name = 'taskapi' and pid <> pg_backend_pid()")
num_cmp "${n:-0}" -ge 1 "cut the workers' connections ($n)"
# A request that needs the database: it sets the reconnect off (once the
# worker has seen its connection go, which may take this request).
waiting() {
	curl -s -o "$T_DIR/w.body" -w '%{http_code}\n' --max-time 120 \
		-H "Authorization: Bearer $U_TOKEN" "$BASE/api/v1/me" >"$T_DIR/w.code"
}
held() { grep -q ' held$' "$D/events"; }
waiting &
wpid=$!
if ! wait_until 30000 held >/dev/null; then
	# The first request may have met the dead connection (a 503): the
	# next one opens it again.
	wait "$wpid"
	diag "first request after the cut: $(cat "$T_DIR/w.code")"
	waiting &
	wpid=$!
	wait_until 30000 held >/dev/null
fi
ok_cmd "the worker's reconnect is held by the dark host" held

# While it waits there, the loop answers what needs no database.
codes=""
for i in 1 2 3; do
	codes+=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$BASE/api/v1/me")" "
done
is "$codes" "401 401 401 " "while the connect waits: three requests without a token -> 401 at once"
ok_cmd "while the connect waits: the request that needs the database is still waiting" \
	kill -0 "$wpid"
ok_cmd "while the connect waits: the dark host still holds it (not given up)" \
	bash -c "! grep -q '^release\|^gone' '$D/events'"

# The dark host lets go: libpq goes on to the real one.
touch "$D/release"
wait "$wpid"
is "$(cat "$T_DIR/w.code")" 200 "after the dark host let go: the waiting request -> 200"
ok_cmd "after the dark host let go: the answer is the user's own" \
	jq -e ".id == \"$U_ID\"" "$T_DIR/w.body"
api "$U_TOKEN" POST /api/v1/tasks '{"title":"after the dark host"}'
expect_json 201 "after the dark host let go: writes work"

# A host that never answers is given up after TASKAPI_DB_CONNECT_TIMEOUT
# (its deadline, checked by the worker) and the next one tried: new
# workers open through it, and it sees them hang up.
touch "$D/hold"
gone_before=$(grep -c '^gone' "$D/events")
old=$(pool_workers)
sed -i '/^TASKAPI_DB_CONNECT_TIMEOUT=/d' "$ENVF"
printf 'TASKAPI_DB_CONNECT_TIMEOUT=1\n' >>"$ENVF"
kill -HUP "$(pool_master)"
wait_until 120000 pool_gone "$old" >/dev/null || diag "the pool was slow to be replaced"
wait_until 30000 me_ok >/dev/null
ok_cmd "a first host that never answers: GET /api/v1/me -> 200 through the next" me_ok
num_cmp "$(grep -c '^gone' "$D/events")" -gt "$gone_before" \
	"... and the workers hung up on it at their deadline"

done_testing
