#!/usr/bin/env bash
# 67-ratelimit.sh: nginx limits login and register per client address:
# past the burst, requests get a JSON 429 with Retry-After and never
# reach a worker.  (The dev stack allows 50 r/s with a burst of 200.)
. "$(dirname "$0")/lib.sh"

n=${TASKAPI_RATE_PROBE:-600}
# Malformed bodies: the app would answer 400 at once, without hashing.
seq 1 "$n" | xargs -P 16 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 \
	-H 'Content-Type: application/json' --data-binary '{' \
	"$BASE/api/v1/auth/login" >"$T_DIR/codes"
total=$(wc -l <"$T_DIR/codes")
limited=$(grep -c '^429$' "$T_DIR/codes")
other=$(grep -vcE '^(400|429)$' "$T_DIR/codes")
is "$total" "$n" "$n login attempts answered"
num_cmp "$limited" -ge 1 "some were rate-limited ($limited of $n got 429)"
is "$other" 0 "every answer was 400 (reached the app) or 429 (limited)"

# The 429 itself (raw curl: req() would retry it): a quick burst in
# parallel, keeping the head and body of one limited answer.
for i in $(seq 1 40); do
	curl -s -D "$T_DIR/h$i" -o "$T_DIR/b$i" -H 'Content-Type: application/json' \
		--data-binary '{' "$BASE/api/v1/auth/login" &
done
wait
got=""
for i in $(seq 1 40); do
	if head -n 1 "$T_DIR/h$i" | grep -q ' 429'; then got=$i; break; fi
done
if [[ -n $got ]]; then
	cp "$T_DIR/h$got" "$T_HDR"
	cp "$T_DIR/b$got" "$T_BODY"
	RESP_STATUS=429
	RESP_BODY=$(cat "$T_BODY")
	expect_error 429 "a limited request gets a JSON 429"
	has_header Retry-After && pass "the 429 carries Retry-After" ||
		fail "the 429 carries Retry-After" "$(resp_summary)"
	header_like X-Request-Id "$RE_REQID" "the 429 carries X-Request-Id"
else
	fail "a burst of 40 right after the first one meets the limit" "no 429 among 40"
fi
# Let the bucket refill for the tests after this one.
sleep 4
done_testing
