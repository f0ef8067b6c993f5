#!/usr/bin/env bash
# 10-health.sh: GET /health, no authentication.
. "$(dirname "$0")/lib.sh"

req GET /health
expect_json 200 "GET /health -> 200 JSON"
json_ok '. == {"status": "ok", "database": "ok"}' \
    'GET /health body is {"status":"ok","database":"ok"}'
header_like X-Request-Id "$RE_REQID" "GET /health carries X-Request-Id"

req GET /health -H "Authorization: Bearer not-a-token"
expect_json 200 "GET /health ignores a bad Authorization header (no auth on /health)"

req POST /health -H 'Content-Type: application/json' --data-binary '{}'
expect_error 405 "POST /health -> 405 JSON error"
ok_cmd "POST /health 405 Allow lists GET" allow_has GET

req GET /health/
expect_error 404 "GET /health/ (trailing slash) -> 404 JSON error"

# Health checks read in the same loop turn share one ping: a burst of 64
# at once must each get the whole answer, with its own request id.
burst_health() {
	local cfg=$T_DIR/health.cfg i
	for ((i = 0; i < 64; i++)); do
		printf 'next\nurl = "%s/health"\noutput = "%s/h.%s"\ndump-header = "%s/hh.%s"\n' \
			"$BASE" "$T_DIR" "$i" "$T_DIR" "$i"
		printf 'write-out = "%%{http_code}\\n"\n'
	done >"$cfg"
	curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max 64 -K "$cfg" 2>/dev/null
}
codes=$(burst_health | sort | uniq -c | sed 's/^ *//')
is "$codes" "64 200" "a burst of 64 parallel GET /health: all 200"
bodies=$(cat "$T_DIR"/h.* | jq -c . | sort | uniq -c | sed 's/^ *//')
is "$bodies" '64 {"status":"ok","database":"ok"}' "each of the 64 has the whole answer"
ids=$(cat "$T_DIR"/hh.* | tr -d '\r' | sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p' | sort -u | wc -l)
is "$ids" 64 "each of the 64 has its own X-Request-Id"

done_testing
