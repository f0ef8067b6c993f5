#!/usr/bin/env bash
# 89-socket-activation.sh: taskapi started by systemd's own implementation
# of socket activation (systemd-socket-activate, which binds, then execs
# taskapi with LISTEN_FDS) serves both sockets it is given: a FastCGI
# GET /health on each is answered, the master logs that it serves the
# sockets passed in, and once it has stopped the socket files are still
# there (taskapi never removes a path it did not make).  Sockets that are
# not taskapi's to serve stop the start with a clear reason: a name
# other than taskapi-pool/taskapi-ev, and a socket that does not listen.
. "$(dirname "$0")/lib.sh"

BIN=${TASKAPI_BUILD:-}/src/taskapi
DEVENV=${TASKAPI_VAR:-}/taskapi.env
FCGI_DIR=${TASKAPI_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/fastcgi
[[ -x $BIN && -r $DEVENV ]] || skip_all "needs ./dev test's TASKAPI_BUILD and TASKAPI_VAR"
command -v systemd-socket-activate >/dev/null 2>&1 || skip_all "systemd-socket-activate not installed"
command -v python3 >/dev/null 2>&1 || skip_all "needs python3"

W=$(mktemp -d /tmp/taskapi-sa.XXXXXX) || bail "mktemp failed"
chmod 0755 "$W"
MASTER=""
gone() { [[ ! -e /proc/$1 ]] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
cleanup() {
	[[ -n $MASTER ]] && kill -TERM "$MASTER" 2>/dev/null &&
		{ wait_until 20000 gone "$MASTER" >/dev/null || kill -KILL "$MASTER"; }
	rm -rf -- "$W"
	t_cleanup
}
trap cleanup EXIT

# The dev stack's settings, with this test's own sockets, pid file and log.
sed -e "s|^TASKAPI_PID_FILE=.*|TASKAPI_PID_FILE=$W/taskapi.pid|" \
	-e "s|^TASKAPI_EV_LISTEN=.*|TASKAPI_EV_LISTEN=unix:$W/ev.sock|" \
	-e "s|^TASKAPI_WORKERS=.*|TASKAPI_WORKERS=2|" "$DEVENV" >"$W/env"
[[ $(id -u) -eq 0 ]] && chown taskapi "$W" "$W/env" 2>/dev/null

# One FastCGI GET /health on the unix socket at $1: prints the status.
fcgi_health() {
	PYTHONDONTWRITEBYTECODE=1 python3 - "$FCGI_DIR" "$1" <<-'EOF'
		import sys
		sys.path.insert(0, sys.argv[1])
		import fcgi_raw as f
		c = f.Conn(sys.argv[2])
		c.send(f.request(1, f.cgi("GET", "/health")))
		print(c.until_end(1).status)
	EOF
}

# systemd-socket-activate waits for the first connection, then execs
# taskapi in its own place: the pid it runs as is the master's.
systemd-socket-activate -l "$W/pool.sock" -l "$W/ev.sock" --fdname=taskapi-pool:taskapi-ev \
	"$BIN" --env-file "$W/env" serve >"$W/log" 2>&1 </dev/null &
MASTER=$!
listening() { [[ -S $W/pool.sock && -S $W/ev.sock ]]; }
wait_until 20000 listening >/dev/null || bail "systemd-socket-activate did not listen: $(cat "$W/log")"
is "$(fcgi_health "$W/pool.sock")" 200 "GET /health over the passed blocking-pool socket"
is "$(fcgi_health "$W/ev.sock")" 200 "GET /health over the passed event-worker socket"
like "$(cat "$W/log")" 'socket activation: serving the sockets passed in \(taskapi-pool, taskapi-ev\)' \
	"the master says it serves the sockets passed in"
is "$(cat "$W/taskapi.pid" 2>/dev/null)" "$MASTER" "the master is the process systemd-socket-activate started"
kill -TERM "$MASTER"
ms=$(wait_until 20000 gone "$MASTER") && pass "SIGTERM stops it (${ms} ms)" || fail "SIGTERM stops it" "$(tail -n 5 "$W/log")"
MASTER=""
[[ -S $W/pool.sock && -S $W/ev.sock ]] && pass "the socket files the manager made are left in place" ||
	fail "the socket files the manager made are left in place" "$(ls -l "$W")"

# Refused: a name that is not taskapi's, and a socket nobody listens on.
rm -f "$W/pool.sock" "$W/ev.sock"
out=$(timeout 20 systemd-socket-activate -l "$W/pool.sock" --fdname=something "$BIN" --env-file "$W/env" serve 2>&1 &
	listening1() { [[ -S $W/pool.sock ]]; }
	wait_until 20000 listening1 >/dev/null
	fcgi_health "$W/pool.sock" >/dev/null 2>&1
	wait)
like "$out" "descriptor 3 is named 'something': each socket passed must be named taskapi-pool or taskapi-ev" \
	"a socket named otherwise stops the start, saying why"
# A bound but not listening socket, passed by hand (the protocol's
# variables set for the process that execs taskapi).
out=$(PYTHONDONTWRITEBYTECODE=1 python3 - "$BIN" "$W" <<-'EOF' 2>&1
	import os, socket, sys
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.bind(sys.argv[2] + "/nolisten.sock")
	os.dup2(s.fileno(), 3, inheritable=True)
	env = dict(os.environ, LISTEN_PID=str(os.getpid()), LISTEN_FDS="1", LISTEN_FDNAMES="taskapi-pool")
	os.execve(sys.argv[1], [sys.argv[1], "--env-file", sys.argv[2] + "/env", "serve"], env)
EOF
)
rc=$?
is "$rc" 1 "a socket that does not listen stops the start (exit 1)"
like "$out" "descriptor 3 \(taskapi-pool\) is not listening" "... saying why"
done_testing
