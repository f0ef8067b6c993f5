#!/usr/bin/env bash
# 83-metrics.sh: GET /metrics (Prometheus text, checked by promtool) and
# GET /status (the pool as JSON): totals are the whole pool's, counters
# move with traffic and survive a worker's death, and only the allow
# list (loopback 127.0.0.1) may read either page.
. "$(dirname "$0")/lib.sh"

PIDF=${TASKAPI_VAR:-}/run/taskapi.pid
[[ -n ${TASKAPI_VAR:-} && -r $PIDF ]] ||
	skip_all "needs TASKAPI_VAR from ./dev test (the pool's pid)"
MASTER=$(cat "$PIDF")
# A fixed pool: /status and pgrep must see the same workers (a request
# that takes the last spare worker would start another in between).
pool_fixed on
trap 'lock_release users; lock_release row; pool_fixed off; t_cleanup' EXIT
M=$T_DIR/metrics.txt

# scrape: the metrics page into $M.
scrape() { curl -sS -o "$M" "$TASKAPI_BASE_URL/metrics"; }
# value SERIES: the sample of one series (name{labels} exactly) or 0.
value() {
	awk -v s="$1" '$1 == s { print $2; found = 1 } END { if (!found) print 0 }' "$M"
}
# sum NAME FILTER: the sum over a family's samples whose line matches FILTER.
sum() {
	awk -v n="$1" -v f="$2" 'index($0, n) == 1 && $0 ~ f { t += $NF } END { printf "%d\n", t }' "$M"
}

# --- the page and its format
req GET /metrics
expect_status 200 "GET /metrics -> 200"
header_like Content-Type '^text/plain; version=0\.0\.4' "Prometheus text content type"
if command -v promtool >/dev/null 2>&1; then
	scrape
	if out=$(promtool check metrics <"$M" 2>&1); then
		pass "promtool check metrics: no problem"
	else
		fail "promtool check metrics: no problem" "$out"
	fi
	if printf '# TYPE x counter\nx 1\n' | promtool check metrics >/dev/null 2>&1; then
		fail "promtool is a real check (it rejects a counter without _total)"
	else
		pass "promtool is a real check (it rejects a counter without _total)"
	fi
else
	fail "promtool installed (Debian's prometheus package; ./dev test installs it)"
fi

# --- counters move with traffic, summed over the whole pool
# /api/v1/users without a token is answered (401) by the blocking workers,
# one connection per request, so 40 of them spread over the pool: the
# total moves by exactly 40 only if every worker's counts are in it.
scrape
u0=$(value 'taskapi_requests_total{route="/api/v1/users",status="401"}')
c0=$(value 'taskapi_request_duration_seconds_count{route="/api/v1/users"}')
h0=$(value 'taskapi_requests_total{route="/health",status="200"}')
for _ in $(seq 1 40); do curl -s -o /dev/null "$TASKAPI_BASE_URL/api/v1/users"; done
for _ in $(seq 1 7); do curl -s -o /dev/null "$TASKAPI_BASE_URL/health"; done
scrape
is "$(($(value 'taskapi_requests_total{route="/api/v1/users",status="401"}') - u0))" 40 \
	"40 unauthenticated GET /api/v1/users -> the pool's 401 counter moved by 40"
is "$(($(value 'taskapi_request_duration_seconds_count{route="/api/v1/users"}') - c0))" 40 \
	"the latency histogram's count moved by 40"
is "$(($(value 'taskapi_requests_total{route="/health",status="200"}') - h0))" 7 \
	"7 GET /health (event worker) -> +7"
served=$(curl -s "$TASKAPI_BASE_URL/status" | jq '[.processes[] | select(.kind == "fastcgi" and .requests > 0)] | length')
num_cmp "$served" -ge 2 "more than one blocking worker served requests ($served), so the sum spans workers"
inf=$(value 'taskapi_request_duration_seconds_bucket{route="/api/v1/users",le="+Inf"}')
cnt=$(value 'taskapi_request_duration_seconds_count{route="/api/v1/users"}')
is "$inf" "$cnt" "histogram: the +Inf bucket equals _count"
b1=$(value 'taskapi_request_duration_seconds_bucket{route="/api/v1/users",le="0.001"}')
b2=$(value 'taskapi_request_duration_seconds_bucket{route="/api/v1/users",le="0.01"}')
num_cmp "$b1" -le "$b2" "histogram buckets are cumulative ($b1 <= $b2)"
nf=$(value 'taskapi_requests_total{route="none",status="404"}')
curl -s -o /dev/null "$TASKAPI_BASE_URL/api/v1/nothing-here"
scrape
is "$(($(value 'taskapi_requests_total{route="none",status="404"}') - nf))" 1 \
	"an unknown route is counted as route=\"none\", 404"

# --- a killed worker's counts stay in the totals; its death is counted
before_total=$(sum taskapi_requests_total '')
crash0=$(value 'taskapi_worker_restarts_total{kind="fastcgi",reason="crash"}')
victim=$(curl -s "$TASKAPI_BASE_URL/status" |
	jq -r '[.processes[] | select(.kind == "fastcgi" and .requests > 0)][0].pid')
if [[ $victim =~ ^[0-9]+$ ]]; then
	kill -9 "$victim"
	gone() { ! kill -0 "$victim" 2>/dev/null || [[ $(ps -o stat= -p "$victim" 2>/dev/null) == Z* ]]; }
	wait_until 30000 gone >/dev/null
	replaced() {
		curl -s "$TASKAPI_BASE_URL/status" | jq -e --argjson v "$victim" \
			'[.processes[] | select(.pid == $v)] | length == 0' >/dev/null
	}
	wait_until 30000 replaced >/dev/null || diag "worker $victim still listed"
	scrape
	after_total=$(sum taskapi_requests_total '')
	num_cmp "$after_total" -ge "$before_total" \
		"kill -9 of worker $victim: the pool's request total did not go back ($before_total -> $after_total)"
	is "$(($(value 'taskapi_worker_restarts_total{kind="fastcgi",reason="crash"}') - crash0))" 1 \
		"the crash is counted in taskapi_worker_restarts_total{reason=\"crash\"}"
else
	fail "found a blocking worker to kill in /status" "$victim"
fi

# --- workers gauge and /status agree
scrape
st=$(curl -s "$TASKAPI_BASE_URL/status")
n_status=$(jq '.processes | length' <<<"$st")
n_gauge=$(sum taskapi_workers '')
is "$n_gauge" "$n_status" "taskapi_workers (all states) = the processes /status lists ($n_status)"
is "$(jq '.workers.total' <<<"$st")" "$n_status" "/status workers.total counts its processes"
n_children=$(pgrep -P "$MASTER" | wc -l)
is "$n_status" "$n_children" "/status lists every child of the master ($n_children)"
jq -e '.processes | all(.pid > 0 and (.state | IN("starting", "idle", "busy", "stopping"))
	and (.requests | type == "number") and (.kind | IN("fastcgi", "event")))' <<<"$st" >/dev/null &&
	pass "/status: each process has a pid, a kind, a state and a request count" ||
	fail "/status: each process has a pid, a kind, a state and a request count" "$st"
# /status is answered by an event worker, on a FastCGI connection it
# holds while it answers (and nginx keeps the one a /health just went
# on): the event workers hold at least one between them.
curl -s -o /dev/null "$TASKAPI_BASE_URL/health"
st=$(curl -s "$TASKAPI_BASE_URL/status")
jq -e '[.processes[] | select(.kind == "event")] | length > 0 and
	all(.connections | type == "number" and . >= 0) and
	(map(.connections) | add) >= 1' <<<"$st" >/dev/null &&
	pass "/status: each event worker counts its FastCGI connections (nginx's kept one among them)" ||
	fail "/status: each event worker counts its FastCGI connections (nginx's kept one among them)" "$st"

# --- the age of a request in progress: a blocking worker held by a lock
if have_psql; then
	make_user H
	tok=$H_TOKEN uid=$H_ID
	# The lock is held until released: the request's age grows until then.
	lock_hold users "LOCK TABLE users IN ACCESS EXCLUSIVE MODE" || diag "lock not held after $LOCK_MS ms"
	curl -s -o /dev/null -X PATCH -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' -d '{"name":"held"}' \
		"$TASKAPI_BASE_URL/api/v1/users/$uid" &
	patcher=$!
	busy_age() {
		curl -s "$TASKAPI_BASE_URL/status" |
			jq '[.processes[] | select(.kind == "fastcgi" and .state == "busy") | .current_request_ms] | max // 0'
	}
	aged() { [[ $(busy_age) -ge 300 ]]; }
	ms=$(wait_until 30000 aged)
	busy=$(busy_age)
	num_cmp "$busy" -ge 300 "/status shows the held request's age on a busy worker (${busy} ms, seen after ${ms} ms)"
	lock_release users
	wait "$patcher"
	scrape
	g=$(value 'taskapi_workers{kind="fastcgi",state="busy"}')
	num_cmp "$g" -le 1 "after it, at most the worker that answered the PATCH is busy ($g)"

	# --- every blocking worker busy: the event worker still answers the
	# operators' pages, and they show the whole blocking pool busy.
	W=$(curl -s "$TASKAPI_BASE_URL/status" | jq '[.processes[] | select(.kind == "fastcgi")] | length')
	lock_hold row "SELECT 1 FROM users WHERE id = '$uid' FOR UPDATE" || diag "lock not held after $LOCK_MS ms"
	pids=()
	for ((i = 0; i < W; i++)); do
		curl -s -o /dev/null -X PATCH -H "Authorization: Bearer $tok" \
			-H 'Content-Type: application/json' -d "{\"name\":\"held $i\"}" \
			"$TASKAPI_BASE_URL/api/v1/users/$uid" &
		pids+=($!)
	done
	# Held: W blocking workers busy for 100 ms or more.  A blocking worker
	# answering /status itself would be busy for ~0 ms, so this holds only
	# if something else answers.
	held() {
		curl -s --max-time 1 -o "$T_DIR/status.json" "$TASKAPI_BASE_URL/status" &&
			[[ $(jq '[.processes[] | select(.kind == "fastcgi" and .state == "busy"
				and .current_request_ms >= 100)] | length' "$T_DIR/status.json") -eq $W ]]
	}
	if ms=$(wait_until 30000 held); then
		pass "all $W blocking workers held by a lock: /status answers and lists them busy (${ms} ms)"
	else
		fail "all $W blocking workers held by a lock: /status answers and lists them busy" \
			"$(jq -c '[.processes[] | {kind, state, current_request_ms}]' "$T_DIR/status.json" 2>/dev/null)"
	fi
	t0=$(now_ms)
	code=$(curl -s --max-time 30 -o "$M" -w '%{http_code}' "$TASKAPI_BASE_URL/metrics")
	ms=$(($(now_ms) - t0))
	is "$code" 200 "... and /metrics answers too"
	# The lock goes only when the test releases it: an answer now is
	# one that did not wait for it.
	if lock_sleeping "taskapi-it-lock-$$-row"; then
		pass "... while the lock is still held (${ms} ms), not after it"
	else
		fail "... while the lock is still held, not after it" "the lock is gone; /metrics took ${ms} ms"
	fi
	is "$(value 'taskapi_workers{kind="fastcgi",state="busy"}')" "$W" "... and counts $W busy blocking workers"
	lock_release row
	wait "${pids[@]}"
else
	skip "age of a request in progress" "no psql"
fi

# --- only the allow list: a client from 127.0.0.2 gets a JSON 403
code=$(curl -s -o "$M" -w '%{http_code}' --interface 127.0.0.2 "$TASKAPI_BASE_URL/metrics")
is "$code" 403 "/metrics from 127.0.0.2 (not on the allow list) -> 403"
jq -e '.error | type == "string"' "$M" >/dev/null && pass "the 403 is a JSON error" ||
	fail "the 403 is a JSON error" "$(head -c 200 "$M")"
code=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$TASKAPI_BASE_URL/status")
is "$code" 403 "/status from 127.0.0.2 -> 403"
code=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$TASKAPI_BASE_URL/health")
is "$code" 200 "the same client may still read /health (so the 403 is the allow list)"
req POST /metrics
expect_status 405 "POST /metrics -> 405"

done_testing
