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

done_testing
