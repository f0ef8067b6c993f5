#!/usr/bin/env bash
# 68-fastcgi-cases.sh: FastCGI 1.0 corner cases straight on the workers'
# sockets, past nginx, as any front end may send them
# (tests/fastcgi/fcgi_cases.py): management records on a fresh
# connection, roles, SCRIPT_NAME + PATH_INFO, CONTENT_LENGTH that
# disagrees with the body (and nothing written), bodies and params over
# the limits answered in JSON, 1-byte records, multiplexing, a peer that
# never reads.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip_all "needs python3"
[[ -n ${TASKAPI_VAR:-} ]] || skip_all "needs TASKAPI_VAR from ./dev test"
EV_SOCK=$TASKAPI_VAR/run/taskapi-ev.sock
POOL_SOCK=$TASKAPI_VAR/run/taskapi.sock
[[ -S $EV_SOCK && -S $POOL_SOCK ]] || skip_all "the worker sockets are not there"
CASES=$(dirname "$0")/../fastcgi/fcgi_cases.py

make_user F || bail "cannot register a user"
api "$F_TOKEN" GET "/api/v1/tasks?limit=100"
tasks_before=$(jbody "length")

run_cases() {
	local sock=$1 kind=$2 line st desc seen
	while IFS=$'\t' read -r st desc seen; do
		if [[ $st == ok ]]; then
			pass "$kind: $desc"
		elif [[ $st == skip ]]; then
			skip "$kind: $desc" "$seen"
		else
			fail "$kind: $desc" "$seen"
		fi
	done < <(timeout 120 python3 "$CASES" "$sock" "$kind" "$F_TOKEN" 2>&1 |
		sed -u '/^\(ok\|not ok\|skip\)\t/!s/^/not ok\tpython\t/')
}
run_cases "$EV_SOCK" ev
run_cases "$POOL_SOCK" blocking

# Connection cap and request-read timeout, set small for a moment.
ENVF=$TASKAPI_VAR/taskapi.env
reload_with() {
	local old
	old=$(pool_workers)
	sed -i '/^TASKAPI_EV_MAX_CONNECTIONS=/d; /^TASKAPI_REQUEST_TIMEOUT=/d' "$ENVF"
	[[ -n $1 ]] && printf '%s\n' "$@" >>"$ENVF"
	kill -HUP "$(pool_master)"
	wait_until 30000 pool_gone "$old" >/dev/null &&
		wait_until 10000 test -S "$EV_SOCK" >/dev/null &&
		wait_until 30000 ev_ready >/dev/null
}
# ev_ready: every event worker accepts (idle or busy, not still
# connecting to the database), so the connection budget counts them all.
ev_ready() {
	local want
	want=$(sed -n 's/^TASKAPI_EV_WORKERS=//p' "$ENVF" | tail -n 1)
	[[ $(curl -s "$TASKAPI_BASE_URL/status" |
		jq '[.processes[] | select(.kind == "event" and (.state | IN("idle", "busy")))] | length') == "${want:-1}" ]]
}
drops0=$(grep -c 'did not come in whole' "$TASKAPI_VAR/log/taskapi.log")
if reload_with TASKAPI_EV_MAX_CONNECTIONS=16 TASKAPI_REQUEST_TIMEOUT=2; then
	# The cap is a budget of all the event workers: the cases open
	# connections until one is refused (fcgi_cases.py, case_conn_cap).
	EV_WORKERS=$(sed -n 's/^TASKAPI_EV_WORKERS=//p' "$ENVF" | tail -n 1) run_cases "$EV_SOCK" ev-limits
	logged() { (($(grep -c 'did not come in whole' "$TASKAPI_VAR/log/taskapi.log") > drops0)); }
	ms=$(wait_until 5000 logged)
	is "$?" 0 "the dropped request has its log line (looked for $ms ms)"
else
	fail "the pool was not reloaded with the small limits"
fi
reload_with "" || diag "the pool was slow to reload back"

# A burst's memory goes back with connections still open.
# The accepting ones: after the reload above an old worker may still be
# stopping (and gone by the time its memory is read).
EV_PIDS=$(curl -s "$TASKAPI_BASE_URL/status" |
	jq -r '[.processes[] | select(.kind == "event" and (.state | IN("idle", "busy"))) | .pid] | join(" ")') \
	run_cases "$EV_SOCK" ev-trim

# TCP listening needs a named address.
BIN=${TASKAPI_BUILD:-}/src/taskapi
if [[ -x $BIN ]]; then
	SECRET=$(sed -n 's/^JWT_SECRET=//p' "$ENVF")
	out=$(env -i PATH="$PATH" JWT_SECRET="$SECRET" TASKAPI_EV_LISTEN=:9999 "$BIN" check 2>&1)
	is "$?" 2 "TASKAPI_EV_LISTEN=:9999 (every interface, unnamed) is refused"
	like "$out" "TASKAPI_EV_LISTEN" "... and the message names the setting"
	env -i PATH="$PATH" JWT_SECRET="$SECRET" TASKAPI_EV_LISTEN=127.0.0.1:9999 "$BIN" check >/dev/null 2>&1
	is "$?" 0 "TASKAPI_EV_LISTEN=127.0.0.1:9999 is accepted"
fi

# FCGI_WEB_SERVER_ADDRS: a second master with its event socket on TCP.
if [[ -x $BIN ]]; then
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	sed -e '/^TASKAPI_EV_LISTEN=/d; /^TASKAPI_PID_FILE=/d; /^TASKAPI_WORKERS=/d; /^TASKAPI_EV_WORKERS=/d' \
		"$ENVF" >"$T_DIR/peer.env"
	printf 'TASKAPI_EV_LISTEN=127.0.0.1:%s\nTASKAPI_WORKERS=1\nTASKAPI_EV_WORKERS=1\n' "$port" >>"$T_DIR/peer.env"
	chmod a+r "$T_DIR/peer.env"
	listening() { python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; }
	for peers in 192.0.2.1 127.0.0.1; do
		FCGI_WEB_SERVER_ADDRS=$peers "$BIN" --env-file "$T_DIR/peer.env" \
			--listen "unix:$T_DIR/peer.sock" serve >"$T_DIR/peer.log" 2>&1 &
		pid=$!
		if wait_until 15000 listening >/dev/null; then
			kind=peer-refused
			[[ $peers == 127.0.0.1 ]] && kind=peer-allowed
			run_cases "tcp:127.0.0.1:$port" "$kind"
			if [[ $kind == peer-refused ]]; then
				refused() { grep -q 'not in FCGI_WEB_SERVER_ADDRS' "$T_DIR/peer.log"; }
				wait_until 5000 refused >/dev/null
				is "$?" 0 "... and the refusal is logged"
			fi
		else
			fail "a master on TCP 127.0.0.1:$port did not come up" "$(tail -n 3 "$T_DIR/peer.log")"
		fi
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
fi

api "$F_TOKEN" GET "/api/v1/tasks?limit=100"
titles=$(jbody '[.[].title] | join(",")')
is "$(jbody '[.[] | select(.title | startswith("content-length"))] | length')" 0 \
	"no request whose body disagreed with CONTENT_LENGTH wrote a task (tasks before: $tasks_before; titles now: ${titles:0:80})"
done_testing
