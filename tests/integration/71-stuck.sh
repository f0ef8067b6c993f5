#!/usr/bin/env bash
# 71-stuck.sh (fault: a stuck request, the master's half): a blocking worker
# that is stuck in one request past TASKAPI_REQUEST_TIMEOUT, in a way
# statement_timeout cannot end (the process is frozen with SIGSTOP in
# the middle of a request), is killed by the master after the timeout
# plus its 5 s grace, and replaced; the client has had nginx's JSON 504
# by then (fastcgi_read_timeout, lowered here to 3 s to fit the test's
# time); the pool keeps its size and /metrics counts a "stuck" restart.
. "$(dirname "$0")/lib.sh"

PIDF=${TASKAPI_VAR:-}/run/taskapi.pid
ENVF=${TASKAPI_VAR:-}/taskapi.env
NGX=${TASKAPI_VAR:-}/nginx
[[ -n ${TASKAPI_VAR:-} && -r $PIDF && -w $ENVF && -w $NGX/taskapi-fastcgi-common.conf ]] ||
	skip_all "needs TASKAPI_VAR from ./dev test (pool pid, env file, nginx conf)"
have_psql || skip_all "needs TASKAPI_PSQL"
MASTER=$(cat "$PIDF")
COMMON=$NGX/taskapi-fastcgi-common.conf
workers() { pool_workers; }
# A fixed pool: the test counts it.
pool_fixed on
N0=$(workers | wc -l)
ngx_reload() { stack_nginx_reload; }
set_env() { stack_set_env "$@"; }
all_gone() { pool_replaced "$1" "$N0"; }
restore() {
	[[ -n ${STOPPED:-} ]] && kill -CONT "$STOPPED" 2>/dev/null
	lock_release users
	cp "$T_DIR/common.orig" "$COMMON" 2>/dev/null && ngx_reload
	local old
	old=$(workers)
	stack_set_env TASKAPI_REQUEST_TIMEOUT ""
	# The next test counts the pool: let this reload finish first.
	wait_until 15000 all_gone "$old" >/dev/null || diag "reload back slow"
	pool_fixed off
}
cp "$COMMON" "$T_DIR/common.orig"
trap 'restore; t_cleanup' EXIT

make_user S || bail "cannot register a user"
stuck0=$(curl -s "$BASE/metrics" | awk '/^taskapi_worker_restarts_total\{kind="fastcgi",reason="stuck"\}/ { print $2 }')

# The request timeout (also the statement timeout) is 2 s: the window
# in which the test must find and freeze the busy worker before it could
# answer the statement timeout's 503 itself.
old=$(workers)
set_env TASKAPI_REQUEST_TIMEOUT 2
wait_until 30000 all_gone "$old" >/dev/null || diag "reload slow"
sed -i 's/^fastcgi_read_timeout .*/fastcgi_read_timeout    3s;/' "$COMMON"
ngx_reload || bail "nginx did not take the 3 s read timeout"

# A PATCH of the account (blocking pool) waits on a table lock, held
# until the test releases it; while it waits, its worker is frozen, so
# the statement_timeout answer can never be written.
lock_hold users "LOCK TABLE users IN ACCESS EXCLUSIVE MODE" || diag "lock not held after $LOCK_MS ms"
t0=$(now_ms)
curl -s -o "$T_DIR/body" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $S_TOKEN" \
	-H 'Content-Type: application/json' -d '{"name":"stuck"}' \
	"$BASE/api/v1/users/$S_ID" >"$T_DIR/code" &
client=$!
busy_pid() {
	curl -s "$BASE/status" | jq -r '[.processes[] | select(.kind == "fastcgi" and .state == "busy"
		and (.current_request_ms // 0) >= 100)][0].pid // empty'
}
has_busy() { [[ -n $(busy_pid) ]]; }
wait_until 30000 has_busy >/dev/null
STOPPED=$(busy_pid)
if [[ $STOPPED =~ ^[0-9]+$ ]]; then
	kill -STOP "$STOPPED"
	pass "froze worker $STOPPED in the middle of its request"
else
	fail "found the busy worker in /status" "$(curl -s "$BASE/status")"
fi
wait "$client"
lock_release users
ms=$(($(now_ms) - t0))
is "$(cat "$T_DIR/code")" 504 "the client got a 504 (nginx's read timeout)"
jq -e '.error | type == "string"' "$T_DIR/body" >/dev/null && pass "the 504 is a JSON error" ||
	fail "the 504 is a JSON error" "$(head -c 200 "$T_DIR/body")"
num_cmp "$ms" -le 4500 "after ${ms} ms (read timeout 3 s)"

# The master kills it at the request timeout + 5 s (7 s) and starts another.
dead() { ! kill -0 "$STOPPED" 2>/dev/null || [[ $(ps -o stat= -p "$STOPPED" 2>/dev/null) == Z* ]]; }
if wait_until 20000 dead >/dev/null; then
	pass "the master killed the stuck worker ($(($(now_ms) - t0)) ms after the request began)"
else
	fail "the master killed the stuck worker within 20 s" "$(($(now_ms) - t0)) ms after the request began"
fi
STOPPED=""
full() { [[ $(workers | wc -l) -eq $N0 ]]; }
wait_until 30000 full >/dev/null
is "$(workers | wc -l)" "$N0" "the pool is back to its size ($N0)"
stuck1=$(curl -s "$BASE/metrics" | awk '/^taskapi_worker_restarts_total\{kind="fastcgi",reason="stuck"\}/ { print $2 }')
is "$((stuck1 - stuck0))" 1 "/metrics counts one restart with reason=\"stuck\""
grep -q "stuck in one request" "$TASKAPI_VAR/log/taskapi.log" && pass "the master logged why" ||
	fail "the master logged why"
api "$S_TOKEN" GET /api/v1/users?limit=1
expect_json 200 "the pool serves again"

done_testing
