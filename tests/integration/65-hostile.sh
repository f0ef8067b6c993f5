#!/usr/bin/env bash
# 65-hostile.sh: what an attacker sends.  Forged tokens, SQL
# metacharacters in every field, dot segments and encoded slashes,
# duplicate keys, huge numbers, and slow clients that dribble their
# request (nginx cuts them off; no worker is held).
. "$(dirname "$0")/lib.sh"

make_user U || bail "cannot create a user"
make_user V || bail "cannot create a second user"

# --- tokens: each a correct HS256 signature over a wrong claim set, or a
# header that asks for another algorithm.
if have_secret; then
	now=$(date +%s)
	S=$TASKAPI_JWT_SECRET
	declare -A forged=(
		["RS256 header, HMAC signature"]=$(jwt_make '{"alg":"RS256","typ":"JWT"}' "{\"sub\":\"$U_ID\",\"iat\":$now,\"exp\":$((now + 600))}" "$S" HS256)
		["alg HS256 but crit header"]=$(jwt_make '{"alg":"HS256","crit":["exp"]}' "{\"sub\":\"$U_ID\",\"iat\":$now,\"exp\":$((now + 600))}" "$S" HS256)
		["sub not a UUID"]=$(jwt_make "$JWT_HS256_HEADER" "{\"sub\":\"admin\",\"iat\":$now,\"exp\":$((now + 600))}" "$S" HS256)
		["sub an upper-case UUID"]=$(jwt_make "$JWT_HS256_HEADER" "{\"sub\":\"${U_ID^^}\",\"iat\":$now,\"exp\":$((now + 600))}" "$S" HS256)
		["sub a number"]=$(jwt_make "$JWT_HS256_HEADER" "{\"sub\":1,\"iat\":$now,\"exp\":$((now + 600))}" "$S" HS256)
		["no exp"]=$(jwt_make "$JWT_HS256_HEADER" "{\"sub\":\"$U_ID\",\"iat\":$now}" "$S" HS256)
		["exp a float"]=$(jwt_make "$JWT_HS256_HEADER" "{\"sub\":\"$U_ID\",\"iat\":$now,\"exp\":$((now + 600)).5}" "$S" HS256)
		["exp beyond 64 bits"]=$(jwt_make "$JWT_HS256_HEADER" "{\"sub\":\"$U_ID\",\"iat\":$now,\"exp\":99999999999999999999999}" "$S" HS256)
		["payload an array"]=$(jwt_make "$JWT_HS256_HEADER" "[\"$U_ID\"]" "$S" HS256)
		["a random uuid as sub"]=$(jwt_make "$JWT_HS256_HEADER" "{\"sub\":\"$(random_uuid)\",\"iat\":$now,\"exp\":$((now + 600))}" "$S" HS256)
	)
	for name in "${!forged[@]}"; do
		api "${forged[$name]}" GET /api/v1/me
		expect_error 401 "token with $name -> 401"
	done
	# A token with a "_" in it, so that its standard-base64 spelling
	# differs: its signature has one in about half of all tokens, and
	# each lifetime below signs different bytes.
	for ((i = 0; i < 64; i++)); do
		good=$(jwt_for "$U_ID" $((600 + i)))
		[[ $good == *_* ]] && break
	done
	api "${good}=" GET /api/v1/me
	expect_error 401 "token with base64 padding appended -> 401"
	if [[ $good == *_* ]]; then
		std=${good//_/\/}
		std=${std//-/+}
		api "$std" GET /api/v1/me
		expect_error 401 "token in standard (not url-safe) base64 -> 401"
	else
		fail "no token of 64 had a \"_\" to spell in standard base64"
	fi
	api "$good" GET /api/v1/me
	expect_json 200 "control: the correctly forged token is accepted"
else
	skip "forged tokens" "no TASKAPI_JWT_SECRET"
fi

# --- SQL metacharacters everywhere: stored and returned verbatim.
evil="'; DROP TABLE tasks; -- \\\" % _ \$1 \\\\x00 /* */"
body=$(jq -cn --arg t "$evil" '{title: $t, description: $t, priority: "low"}')
create_task "$U_TOKEN" "$body"
expect_json 201 "a task whose title and description are SQL metacharacters -> 201"
json_ok '.title == $t and .description == $t' \
	"... and both come back byte for byte" --arg t "$evil"
api "$U_TOKEN" GET "/api/v1/tasks/$TASK_ID"
json_ok '.title == $t' "... also when read again" --arg t "$evil"
api "$U_TOKEN" GET "/api/v1/tasks?status=todo'%20OR%201=1--"
expect_error 400 "a filter value with SQL in it -> 400"
api "$U_TOKEN" GET "/api/v1/tasks?limit=1;DROP%20TABLE%20tasks"
expect_error 400 "a limit with SQL in it -> 400"
email="o'brien+\"x\"-$(uniq_suffix)@example.com"
register "$email" "password-1234" "Robert'); DROP TABLE users;--"
expect_json 201 "register with quotes in the e-mail and name -> 201"
login "$email" "password-1234"
expect_json 200 "... and that e-mail logs in"
login "' OR '1'='1" "' OR '1'='1"
expect_error 401 "login with a classic injection -> 401"
if have_psql; then
	is "$(sql "SELECT to_regclass('tasks') IS NOT NULL AND to_regclass('users') IS NOT NULL")" t \
		"the tables are still there"
	# The service's own role (TASKAPI_PSQL logs in as it) reads and
	# writes rows, and can do nothing else.  Each probe is rolled back,
	# so a failing check harms nothing.
	for ddl in "DROP TABLE tasks" "ALTER TABLE users ADD COLUMN x int" \
		"CREATE TABLE t (x int)" "TRUNCATE tasks" "DELETE FROM schema_migrations"; do
		if $TASKAPI_PSQL -v ON_ERROR_STOP=1 -c "BEGIN; $ddl; ROLLBACK;" >/dev/null 2>&1; then
			fail "the service's database role may not: $ddl" "it could"
		else
			pass "the service's database role may not: $ddl"
		fi
	done
fi

# --- paths
for p in "/api/v1/tasks/..%2f..%2fusers" "/api/v1/tasks/%2e%2e" "/api/v1/tasks/./$TASK_ID" \
	"/api/v1/tasks/$TASK_ID/.." "/api/v1/tasks/%7B$TASK_ID%7D" "/api/v1/tasks/${TASK_ID}%00"; do
	api "$U_TOKEN" GET "$p"
	if [[ $RESP_STATUS == 400 || $RESP_STATUS == 404 ]] && is_error_body; then
		pass "GET $p -> $RESP_STATUS JSON"
	else
		fail "GET $p -> 400 or 404 JSON" "$(resp_summary)"
	fi
done
api "$V_TOKEN" GET "/api/v1/tasks/../tasks/$TASK_ID"
if [[ $RESP_STATUS != 200 ]]; then
	pass "a dot-segment path does not reach another user's task ($RESP_STATUS)"
else
	fail "a dot-segment path does not reach another user's task" "$(resp_summary)"
fi

# --- bodies
api "$U_TOKEN" POST /api/v1/tasks '{"title":"a","title":"b"}'
expect_error 400 "a duplicate key -> 400"
api "$U_TOKEN" POST /api/v1/tasks '{"title":1e999999}'
expect_error 400 "a title that is a huge number -> 400"
api "$U_TOKEN" POST /api/v1/tasks '{"title":"x","priority":123456789012345678901234567890}'
expect_error 400 "a priority that is a huge integer -> 400"
api "$U_TOKEN" POST /api/v1/tasks '{"title":"x","due_at":"99999-01-01T00:00:00Z"}'
expect_error 400 "a due_at in year 99999 -> 400"
api "$U_TOKEN" POST /api/v1/tasks '{"title":"x","due_at":"0000-01-01T00:00:00Z"}'
expect_error 400 "a due_at in year 0 -> 400"
for f in title description; do
	api "$U_TOKEN" POST /api/v1/tasks "{\"title\":\"ok\",\"$f\":\"a\\ud800b\"}"
	expect_error 400 "a lone surrogate in $f -> 400"
done
deep=$(printf '{"a":%.0s' $(seq 1 100))1$(printf '}%.0s' $(seq 1 100))
api "$U_TOKEN" POST /api/v1/tasks "$deep"
expect_error 400 "JSON nested 100 deep -> 400"

# --- slow clients: nginx holds them, the workers stay free, and nginx
# closes them after its timeouts: a header not complete within
# client_header_timeout, a body that stalls longer than
# client_body_timeout.  (A body dribbled faster than that is held by
# nginx, never by a worker: see SECURITY.md.)
#
# One load process (tests/lib/load.py) opens the 40 connections, one
# thread each.  A header client sends a header line a second for up to
# 40 s; a body client sends one byte of its body, then a byte every 15 s
# (each gap longer than the 10 s body timeout) for up to 45 s.  Each
# measures its own time from connect to the cut, so what is checked is
# nginx's clock, not how fast the clients started.  Once all 40 are
# connected, the same process makes 20 requests to the blocking pool.
HDR_TIMEOUT_S=10
BODY_TIMEOUT_S=10
summary=$(load_slow --headers 20 --bodies 20 --dribble 40 --body-gap 15 --requests 20 \
	--path "/api/v1/users?limit=1" --header "Authorization: Bearer $U_TOKEN" --out "$T_DIR/slow")
diag "slow clients: $summary"
statuses=$(sed -n 's/.*statuses=\([^ ]*\).*/\1/p' <<<"$summary")
open_after=$(sed -n 's/.*open_after=\([0-9]*\).*/\1/p' <<<"$summary")
is "$statuses" "200x20" "with 40 slow clients connected, 20 requests to the blocking pool all succeed ($open_after still connected after them)"
cut=$(grep -c '^[a-z]* cut ' "$T_DIR/slow")
outcomes=$(awk '{ print $1, $2 }' "$T_DIR/slow" | sort | uniq -c | awk '{ printf "%s%s %s x%s", n++ ? ", " : "", $2, $3, $1 }')
is "$cut" 40 "nginx cut off all 40 slow clients ($outcomes)"
# Each cut at its timeout: not before (it is the timeout that cut it)
# and not long after (at most 10 s late: a 10 s timeout that fired that
# late is broken, and a client that was never cut waits 40 s or more).
check_cuts() {
	local mode=$1 timeout_s=$2 lo hi bad range
	lo=$((timeout_s * 1000 - 500))
	hi=$((timeout_s * 1000 + 10000))
	bad=$(awk -v m="$mode" -v lo="$lo" -v hi="$hi" \
		'$1 == m && ($2 != "cut" || $3 < lo || $3 > hi)' "$T_DIR/slow")
	range=$(awk -v m="$mode" '$1 == m && $2 == "cut" { if (n++ == 0 || $3 < a) a = $3; if ($3 > b) b = $3 }
		END { printf "%d-%d ms", a, b }' "$T_DIR/slow")
	if [[ -z $bad ]]; then
		pass "each $mode client was cut at nginx's ${timeout_s} s timeout ($range after it connected)"
	else
		fail "each $mode client was cut at nginx's ${timeout_s} s timeout" \
			"want ${lo}-${hi} ms; these were not (mode result ms first-line):"$'\n'"$bad"
	fi
}
check_cuts headers "$HDR_TIMEOUT_S"
check_cuts body "$BODY_TIMEOUT_S"
done_testing
