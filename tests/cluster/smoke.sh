#!/usr/bin/env bash
# tests/cluster/smoke.sh: the cluster's short smoke (`./dev cluster smoke`).
#
#   1. cluster up (cluster/cluster.sh)
#   2. one request of each kind through lb: register, login, create, get,
#      patch, list, delete
#   3. a mixed load (tests/cluster/load.py); once it is warm, app2's whole
#      process tree is killed with SIGKILL.  nginx must stop sending to
#      app2, only requests in flight there may fail (each a JSON 502, 503 or
#      504), the load must go on (TASKAPI_SMOKE_OPS, 1500, operations once
#      nothing runs on app2 any more), and the ledger must hold every
#      acknowledged write
#   4. app2 starts again and nginx sends to it again
#   5. cluster down
#
# TAP lines, then "N passed, M failed".  Counted, not timed: the load runs
# a number of operations after the kill; the caps only stop a hang.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER=(bash "$ROOT/cluster/cluster.sh")
BUILD=${TASKAPI_BUILD:-$ROOT/build}
CL=$BUILD/cluster
B=http://127.0.0.1:8090
THREADS=${TASKAPI_SMOKE_THREADS:-6}
# Operations after the kill (./dev test runs it smaller).
AFTER=${TASKAPI_SMOKE_OPS:-1500}
VICTIM=app2
VICTIM_ADDR=10.77.0.12
FAIL_TIMEOUT=5	# nginx's fail_timeout for each app host (cluster.sh)

n_pass=0
n_fail=0
n=0
ok() { n=$((n + 1)); n_pass=$((n_pass + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)); n_fail=$((n_fail + 1)); echo "not ok $n - $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'
	return 0
}
# last_upstream_is PREFIX: whether a line of upstream addresses on stdin
# ends with one that starts with PREFIX (the host that answered).  Reads
# all its input: under pipefail a "grep -q" that stops at the first match
# fails the pipeline with the SIGPIPE of the command writing into it.
last_upstream_is() {
	awk -F', ' -v p="$1" 'index($NF, p) == 1 { found = 1 } END { exit !found }'
}
check() { # check DESC COMMAND...
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}

t0=$(date +%s)
TMP=$(mktemp -d)
load_pid=
# Whatever happens (a failed check, an error, SIGINT or SIGTERM from a
# test runner's timeout), the cluster goes: every namespace, process and
# file cluster.sh made.  `down` is safe to run twice.
cleanup() {
	[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
	"${CLUSTER[@]}" down >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
finish() {
	"${CLUSTER[@]}" down >/dev/null 2>&1 || true
	rm -rf "$TMP"
	echo "1..$n"
	echo "# smoke took $(($(date +%s) - t0)) s"
	echo "$n_pass passed, $n_fail failed"
	[ "$n_fail" -eq 0 ]
}

if ! "${CLUSTER[@]}" up >"$TMP/up.log" 2>&1; then
	not_ok "cluster up" "$(tail -n 30 "$TMP/up.log")"
	finish
	exit 1
fi
ok "cluster up in $(($(date +%s) - t0)) s"

# --- one request of each kind ------------------------------------------------

# req METHOD PATH [BODY]: sets st (status) and body.
req() {
	local out
	out=$(curl -sS --max-time 40 -o "$TMP/body" -w '%{http_code}' -X "$1" \
		-H 'Content-Type: application/json' ${TOKEN:+-H "Authorization: Bearer $TOKEN"} \
		${3:+--data "$3"} "$B$2") || out=000
	st=$out
	body=$(cat "$TMP/body" 2>/dev/null)
}
expect() { # expect STATUS DESC
	if [ "$st" = "$1" ]; then ok "$2: $st"; else not_ok "$2: $st, wanted $1" "$body"; fi
}

TOKEN=
email="smoke-$(date +%s%N)@example.org"
req POST /api/v1/auth/register "{\"email\":\"$email\",\"name\":\"Smoke\",\"password\":\"smoke-password\"}"
expect 201 "register"
req POST /api/v1/auth/login "{\"email\":\"$email\",\"password\":\"smoke-password\"}"
expect 200 "login"
TOKEN=$(jq -r '.token // empty' <<<"$body" 2>/dev/null)
req POST /api/v1/tasks '{"title":"smoke task","priority":"high"}'
expect 201 "create"
id=$(jq -r '.id // empty' <<<"$body" 2>/dev/null)
req GET "/api/v1/tasks/$id"
expect 200 "get"
check "get: the title sent" test "$(jq -r .title <<<"$body" 2>/dev/null)" = "smoke task"
req PATCH "/api/v1/tasks/$id" '{"status":"done"}'
expect 200 "patch"
check "patch: the new status" test "$(jq -r .status <<<"$body" 2>/dev/null)" = "done"
req GET "/api/v1/tasks?status=done"
expect 200 "list"
check "list: the task, patched" test "$(jq -r --arg id "$id" '[.[] | select(.id == $id)] | length' <<<"$body" 2>/dev/null)" = 1
req DELETE "/api/v1/tasks/$id"
expect 204 "delete"
req GET "/api/v1/tasks/$id"
expect 404 "get after delete"

# --- an app host dies under load -------------------------------------------------

python3 "$ROOT/tests/cluster/load.py" --base "$B" --threads "$THREADS" \
	--warm 150 --after "$AFTER" --ready "$TMP/ready" --trigger "$TMP/trigger" \
	--settled "$TMP/dead" \
	--max-seconds 75 >"$TMP/load.json" 2>"$TMP/load.err" &
load_pid=$!
i=0
while [ ! -e "$TMP/ready" ] && [ "$i" -lt 300 ] && kill -0 "$load_pid" 2>/dev/null; do
	sleep 0.1; i=$((i + 1))
done
check "the load warmed up (150 operations)" test -e "$TMP/ready"
# The trigger first: an answer from a request the kill cuts off counts as
# "after the kill".
touch "$TMP/trigger"
trigger_ms=$(date +%s%3N)
"${CLUSTER[@]}" kill-host "$VICTIM" >"$TMP/kill.log" 2>&1
kill_rc=$?
# When nothing ran on the host any more: what nginx logged after this
# (and a margin for the log line of a request cut off by the kill) came
# from another host.  Not the time of the trigger: on a busy machine the
# kill itself (a script, a scan of every process's namespace) can take
# over a second, and app2 answers until it lands.
dead_ms=$(date +%s%3N)
touch "$TMP/dead"
echo "# the kill took $((dead_ms - trigger_ms)) ms"
# The load stops by itself ($AFTER operations after that, or its cap).
wait "$load_pid"
load_rc=$?
load_pid=
check "load.py ran (exit $load_rc)" test "$load_rc" -eq 0
if [ "$kill_rc" -eq 0 ]; then
	ok "nothing runs on $VICTIM after the kill"
else
	not_ok "nothing runs on $VICTIM after the kill" "$(cat "$TMP/kill.log")"
fi
[ -s "$TMP/load.err" ] && sed 's/^/# load.py: /' "$TMP/load.err" | head -n 20
L=$(cat "$TMP/load.json" 2>/dev/null)
[ -n "$L" ] || L='{}'
jq -r '"# load: \(.ops) operations, \(.ops_after) after the kill (\(.ops_settled) once it had landed), \(.elapsed_s) s; DELETEs answered 404 (retried on another host): \(.delete_404)",
	"# statuses before the kill: \(.statuses.before | tojson)",
	"# statuses after the kill: \(.statuses.after | tojson)",
	"# failures: \(.failures | tojson)"' <<<"$L" 2>/dev/null
check "the load went on: $AFTER operations once app2 was dead, not capped" \
	test "$(jq --argjson a "$AFTER" '.ops_settled >= $a and (.capped | not)' <<<"$L")" = true
nf=$(jq '.failures | length' <<<"$L")
bad=$(jq -c '[.failures[] | select((.status | IN(502, 503, 504) | not) or (.json | not))]' <<<"$L")
if [ "$bad" = "[]" ]; then
	ok "every failure ($nf) is a JSON 502/503/504"
else
	not_ok "every failure is a JSON 502/503/504" "$bad"
fi
nb=$(jq '[.failures[] | select(.phase == "before")] | length' <<<"$L")
check "no failure before the kill ($nb)" test "$nb" -eq 0
# Each thread has at most one request in flight: at most THREADS requests
# can have been on app2 when it died.
check "failures ($nf) at most the requests in flight ($THREADS)" test "$nf" -le "$THREADS"
probs=$(jq -r '.ledger.problems[]' <<<"$L" 2>/dev/null | head -n 20)
if [ "$(jq '.ledger.problems | length' <<<"$L")" = 0 ] && [ "$(jq '.ledger.tasks > 0' <<<"$L")" = true ]; then
	ok "ledger: $(jq '.ledger.tasks' <<<"$L") tasks, every acknowledged write is there, nothing unsent"
else
	not_ok "ledger: every acknowledged write is there" "$probs"
fi

# nginx's own record (upstream.log: every host tried for each request).
# After the kill nginx may try app2 once per fail_timeout per upstream
# (blocking pool, event workers) and passes the request on; it must never
# again get an answer from it.
ulog=$CL/lb/log/upstream.log
sleep 1.1	# nginx writes its access log buffered, at most 1 s late
tried=$(jq -r --argjson k "$dead_ms" 'select(.t * 1000 > $k + 500) | .upstream_addr' "$ulog" | grep -c "$VICTIM_ADDR")
total=$(jq -r --argjson k "$dead_ms" 'select(.t * 1000 > $k + 500) | .t' "$ulog" | wc -l)
secs=$(jq -r --argjson k "$dead_ms" 'select(.t * 1000 > $k + 500) | .t' "$ulog" | tail -n 1)
span=$(awk -v a="$secs" -v k="$dead_ms" 'BEGIN { s = a - k / 1000; print (s > 0 ? int(s) + 1 : 1) }')
cap=$((2 * (span / FAIL_TIMEOUT + 1)))
echo "# once $VICTIM was dead: $total requests in ${span} s, $tried of them tried $VICTIM (cap $cap: 2 upstreams x one try per ${FAIL_TIMEOUT} s)"
check "nginx stopped sending to $VICTIM ($tried tries of $total requests)" test "$tried" -le "$cap"
served=$(jq -r --argjson k "$dead_ms" 'select(.t * 1000 > $k + 500) | .upstream_addr' "$ulog" |
	awk -F', ' '{ print $NF }' | grep -c "^$VICTIM_ADDR")
check "no answer came from $VICTIM after the kill ($served)" test "$served" -eq 0

# --- it comes back ------------------------------------------------------------------

if "${CLUSTER[@]}" app-start "$VICTIM" >"$TMP/start.log" 2>&1; then
	ok "$VICTIM started again"
else
	not_ok "$VICTIM started again" "$(cat "$TMP/start.log")"
fi
back=0
mark=$(date +%s%3N)
for i in $(seq 1 150); do	# up to 150 x 0.2 s: 3 fail_timeouts and more
	curl -s --max-time 5 -o /dev/null "$B/health"
	if [ $((i % 10)) -eq 0 ]; then
		sleep 1.1
		if jq -r --argjson k "$mark" 'select(.t * 1000 > $k) | .upstream_addr' "$ulog" |
			last_upstream_is "$VICTIM_ADDR"; then
			back=1
			break
		fi
	fi
	sleep 0.2
done
check "nginx sends to $VICTIM again" test "$back" -eq 1

finish
