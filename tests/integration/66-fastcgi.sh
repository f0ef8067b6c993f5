#!/usr/bin/env bash
# 66-fastcgi.sh: FastCGI 1.0 corner cases straight on the workers'
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
		else
			fail "$kind: $desc" "$seen"
		fi
	done < <(timeout 120 python3 "$CASES" "$sock" "$kind" "$F_TOKEN" 2>&1 |
		sed -u '/^\(ok\|not ok\)\t/!s/^/not ok\tpython\t/')
}
run_cases "$EV_SOCK" ev
run_cases "$POOL_SOCK" blocking

api "$F_TOKEN" GET "/api/v1/tasks?limit=100"
titles=$(jbody '[.[].title] | join(",")')
is "$(jbody '[.[] | select(.title | startswith("content-length"))] | length')" 0 \
	"no request whose body disagreed with CONTENT_LENGTH wrote a task (tasks before: $tasks_before; titles now: ${titles:0:80})"
done_testing
