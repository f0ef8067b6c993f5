#!/usr/bin/env bash
# 67-ratelimit.sh: nginx limits login and register per client address:
# past the burst, requests get a JSON 429 with Retry-After and never
# reach a worker.
#
# The dev stack allows 50 r/s with a burst of 200: whether a client
# outruns that depends on how fast the machine is, so the probe runs on
# a limit no client can miss: the location's zone is swapped for a fresh
# one of 1 r/m with a burst of 20 (edited in the stack's rendered nginx
# files, reloaded, restored).  A fresh zone has no history, so of N
# requests sent well within a minute exactly 1 + 20 pass (one more per
# minute the probe takes) and the rest get 429, however fast they came.
. "$(dirname "$0")/lib.sh"

NGX=${TASKAPI_VAR:-}/nginx
[[ -n ${TASKAPI_VAR:-} && -w $NGX/taskapi.conf && -w $NGX/taskapi-http.conf ]] ||
	skip_all "needs TASKAPI_VAR from ./dev test (the rendered nginx files)"
N=${TASKAPI_RATE_PROBE:-60}
BURST=20
ZONE=taskapi_auth_probe_$$

metric() {
	curl -s "$BASE/metrics" | awk -v s="$1" '$1 == s { v = $2 } END { print v + 0 }'
}
LOGIN400='taskapi_requests_total{route="/api/v1/auth/login",status="400"}'

cp "$NGX/taskapi.conf" "$T_DIR/taskapi.conf.orig"
cp "$NGX/taskapi-http.conf" "$T_DIR/taskapi-http.conf.orig"
restore() {
	cp "$T_DIR/taskapi.conf.orig" "$NGX/taskapi.conf"
	cp "$T_DIR/taskapi-http.conf.orig" "$NGX/taskapi-http.conf"
	stack_nginx_reload || diag "restoring nginx's rate limit failed"
}
trap 'restore; t_cleanup' EXIT
printf 'limit_req_zone $binary_remote_addr zone=%s:1m rate=1r/m;\n' "$ZONE" >>"$NGX/taskapi-http.conf"
sed -i "s/limit_req zone=taskapi_auth burst=[0-9]* nodelay;/limit_req zone=$ZONE burst=$BURST nodelay;/" \
	"$NGX/taskapi.conf"
if grep -q "zone=$ZONE burst=$BURST" "$NGX/taskapi.conf" && stack_nginx_reload; then
	pass "nginx reloaded with a fresh login zone of 1 r/m, burst $BURST"
else
	bail "could not set the probe's limit in $NGX/taskapi.conf"
fi

# N logins at once from one process, malformed bodies: the app answers
# 400 at once, without hashing.
before=$(metric "$LOGIN400")
summary=$(load_run --clients 16 --count "$N" --method POST --path /api/v1/auth/login \
	--header 'Content-Type: application/json' --data '{' --out "$T_DIR/codes" \
	--save-dir "$T_DIR" --save-status 429)
after=$(metric "$LOGIN400")
diag "load: $summary"
elapsed_ms=$(sed -n 's/.*elapsed_ms=\([0-9]*\).*/\1/p' <<<"$summary")
total=$(lines "$T_DIR/codes")
n400=$(awk '$1 == 400' "$T_DIR/codes" | wc -l)
n429=$(awk '$1 == 429' "$T_DIR/codes" | wc -l)
seen=$(awk '{ print $1 }' "$T_DIR/codes" | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')
# 1 r/m: one more may pass per minute the probe took.
extra=$((${elapsed_ms:-0} / 60000 + 1))
is "$total" "$N" "$N login attempts answered ($seen in ${elapsed_ms} ms)"
is "$((n400 + n429))" "$N" "every answer was 400 (reached the app) or 429 (limited): $seen"
if ((n400 >= 1 + BURST && n400 <= 1 + BURST + extra)); then
	pass "1 + burst $BURST reached the app ($n400), the rest were limited ($n429 got 429)"
else
	fail "1 + burst $BURST reached the app, the rest were limited" \
		"$n400 got 400, want $((1 + BURST))..$((1 + BURST + extra)); $n429 got 429; $seen; ${elapsed_ms} ms"
fi
is "$((after - before))" "$n400" "the pool counted only the $n400 that passed (a 429 never reaches a worker)"

# The 429 itself: head and body of the first limited answer.
if [[ -s $T_DIR/429.headers ]]; then
	cp "$T_DIR/429.headers" "$T_HDR"
	cp "$T_DIR/429.body" "$T_BODY"
	RESP_STATUS=429
	RESP_CURL_RC=0
	RESP_BODY=$(cat "$T_BODY")
	expect_error 429 "a limited request gets a JSON 429"
	has_header Retry-After && pass "the 429 carries Retry-After" ||
		fail "the 429 carries Retry-After" "$(resp_summary)"
	header_like X-Request-Id "$RE_REQID" "the 429 carries X-Request-Id"
else
	fail "a limited request gets a JSON 429" "no 429 among $N ($seen)"
fi

# Register shares the zone: the address is over its budget now.
code=$(curl -s -o "$T_BODY" -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary "{\"email\":\"$(uniq_email rl)\",\"password\":\"password-1234\",\"name\":\"x\"}" \
	"$BASE/api/v1/auth/register")
is "$code" 429 "register is limited by the same zone (429)"

restore
trap t_cleanup EXIT
req POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary '{'
expect_error 400 "the stack's own limit is back: a login reaches the app again"
done_testing
