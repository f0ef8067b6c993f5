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
done_testing
