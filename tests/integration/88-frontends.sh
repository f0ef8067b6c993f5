#!/usr/bin/env bash
# 88-frontends.sh: the API through the other FastCGI front ends Debian
# ships, configured by the examples in contrib/: lighttpd (mod_fastcgi),
# Apache httpd (mod_proxy_fcgi, without and with connection reuse) and h2o.
#
# Each is started in turn on a free loopback port, against the running
# pool's two sockets (the stack ./dev test started), and passes the same
# smoke: /health; register; login; create, get, patch, list and delete a
# task; a 404 and a 400 with their JSON error; a body just under the
# 64 KiB limit (201) and one just over it (413); the NDJSON export.  A
# front end that is not installed is a visible skip (./dev test installs
# all three: packages lighttpd, apache2, h2o).
. "$(dirname "$0")/lib.sh"

SRCDIR=${TASKAPI_SRCDIR:-$(dirname "$0")/../..}
SRCDIR=$(cd -- "$SRCDIR" && pwd) || bail "no source directory: $SRCDIR"
VAR=${TASKAPI_VAR:-}
[[ -n $VAR ]] || skip_all "TASKAPI_VAR unset (./dev test sets it)"
SOCK=$VAR/run/taskapi.sock
EV_SOCK=$VAR/run/taskapi-ev.sock
[[ -S $SOCK && -S $EV_SOCK ]] || skip_all "the pool's sockets are not in $VAR/run"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"

NGINX_BASE=$BASE
# The sockets (and $VAR/run) belong to the service user: run as root, the
# front ends run as that user, exec'd in place so that $! is their pid.
SVC_USER=taskapi
as_svc=()
if [[ $(id -u) -eq 0 ]] && id "$SVC_USER" >/dev/null 2>&1; then
	as_svc=(setpriv --reuid="$SVC_USER" --regid="$SVC_USER" --init-groups --)
fi
FE_ROOT=$(mktemp -d "$VAR/frontends.XXXXXX") || bail "mktemp -d in $VAR failed"
[[ ${#as_svc[@]} -gt 0 ]] && chown "$SVC_USER:" "$FE_ROOT"
FE_PID=""

fe_stop() {
	local i
	[[ -n $FE_PID ]] || return 0
	kill -TERM "$FE_PID" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		kill -0 "$FE_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$FE_PID" 2>/dev/null
	wait "$FE_PID" 2>/dev/null
	FE_PID=""
}
trap 'fe_stop; rm -rf -- "$FE_ROOT"; t_cleanup' EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# render SRC DST NAME=VALUE...: the contrib file with its @NAME@
# placeholders filled in; fails on one left over.
render() {
	local src=$1 dst=$2 kv args=()
	shift 2
	for kv in "$@"; do
		args+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
	done
	sed "${args[@]}" "$src" >"$dst" || return 1
	if grep -n '@[A-Z_]*@' "$dst" >&2; then
		echo "$dst: placeholder left over" >&2
		return 1
	fi
}

# fe_wait URL DIR: polls until the front end answers HTTP at all (capped
# at 30 s, far beyond the usual tenth of a second).
fe_wait() {
	local url=$1 dir=$2 i code t0=$SECONDS
	for ((i = 0; i < 300; i++)); do
		kill -0 "$FE_PID" 2>/dev/null || break
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/" 2>/dev/null)
		[[ $code != 000 && -n $code ]] && return 0
		sleep 0.1
	done
	diag "no HTTP answer after $((SECONDS - t0)) s; its logs:"
	diag "$(tail -n 20 "$dir"/*.log 2>/dev/null)"
	return 1
}

# ---------------------------------------------------------------- smoke

# lib.sh's req, timed: a request slower than a second is noted in
# SLOW_REQS and printed with the front end's summary; one that waited
# 3 s or more, in WAITED_REQS (see the end of smoke).
eval "$(declare -f req | sed '1s/^req /lib_req /')"
SLOW_REQS=""
WAITED_REQS=""
req() {
	local t0=$EPOCHREALTIME ms
	lib_req "$@"
	ms=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
	if [[ $ms -ge 1000 ]]; then
		SLOW_REQS="$SLOW_REQS"$'\n'"  $1 $2: $RESP_STATUS after $ms ms"
	fi
	if [[ $ms -ge 3000 ]]; then
		WAITED_REQS="$WAITED_REQS"$'\n'"  $1 $2: $RESP_STATUS after $ms ms"
	fi
}

# smoke NAME: the API through $BASE; every description starts with NAME.
smoke() {
	local n=$1 email tok id loc body failed_before=$T_FAILED t0=$SECONDS
	email="fe-$n-$$-$RANDOM@example.org"

	req GET /health
	expect_status 200 "[$n] GET /health is 200"
	json_is '.status' ok "[$n] /health says ok"

	api "" POST /api/v1/auth/register \
		"{\"email\":\"$email\",\"name\":\"Front End\",\"password\":\"correct horse\"}"
	expect_status 201 "[$n] register is 201"
	json_is '.email' "$email" "[$n] register answers the user"
	api "" POST /api/v1/auth/login "{\"email\":\"$email\",\"password\":\"correct horse\"}"
	expect_status 200 "[$n] login is 200"
	tok=$(jbody '.token')
	if [[ -z $tok || $tok == null ]]; then
		fail "[$n] login answers a token" "$(resp_summary)"
		return
	fi
	pass "[$n] login answers a token"
	api "$tok" GET /api/v1/me
	expect_status 200 "[$n] GET /api/v1/me with the token (Authorization passed on) is 200"
	json_is '.email' "$email" "[$n] /api/v1/me is the user"

	api "$tok" POST /api/v1/tasks '{"title":"through a front end","priority":"high"}'
	expect_status 201 "[$n] create a task is 201"
	id=$(jbody '.id')
	loc=$(header Location)
	is "$loc" "/api/v1/tasks/$id" "[$n] create answers Location"
	api "$tok" GET "/api/v1/tasks/$id"
	expect_status 200 "[$n] get the task is 200"
	json_is '.title' "through a front end" "[$n] get answers the task"
	api "$tok" PATCH "/api/v1/tasks/$id" '{"status":"done"}'
	expect_status 200 "[$n] patch the task is 200"
	json_is '.status' done "[$n] patch changed the status"
	api "$tok" GET "/api/v1/tasks?status=done&limit=10"
	expect_status 200 "[$n] list with a query string is 200"
	json_is '[.[].id] | index("'"$id"'") != null' true "[$n] the list holds the task"

	# A body of exactly 64 KiB, the largest allowed: padding in a field
	# taskapi ignores.
	python3 -c 'import json, sys
doc = {"title": "at the limit", "description": "d" * 2000, "padding": ""}
doc["padding"] = "p" * (65536 - len(json.dumps(doc)))
sys.stdout.write(json.dumps(doc))' >"$T_DIR/near.json"
	api_file "$tok" POST /api/v1/tasks "$T_DIR/near.json"
	expect_status 201 "[$n] a $(wc -c <"$T_DIR/near.json")-byte body (64 KiB, the limit) is 201"
	# And just over it: the front end refuses it (its own 413).
	python3 -c 'import sys; sys.stdout.write("{\"title\":\"" + "x" * 65540 + "\"}")' >"$T_DIR/over.json"
	api_file "$tok" POST /api/v1/tasks "$T_DIR/over.json"
	is "$RESP_STATUS" 413 "[$n] a $(wc -c <"$T_DIR/over.json")-byte body (over 64 KiB) is 413"

	req GET /api/v1/tasks/export -H "Authorization: Bearer $tok"
	expect_status 200 "[$n] the export is 200"
	is "$(grep -c . "$T_BODY")" 2 "[$n] the export streams both tasks, one line each"

	api "$tok" DELETE "/api/v1/tasks/$id"
	expect_status 204 "[$n] delete the task is 204"
	api "$tok" GET "/api/v1/tasks/$id"
	expect_error 404 "[$n] the deleted task is a JSON 404"
	api "$tok" POST /api/v1/tasks '{"title":""}'
	expect_error 400 "[$n] an empty title is a JSON 400"
	api "" GET /api/v1/me
	expect_error 401 "[$n] no token is a JSON 401"

	# No request of the smoke waited for a worker that another connection
	# of the same front end holds.  Each one takes milliseconds (tens of
	# them on a loaded machine); a request queued behind a blocking worker
	# that an idle kept connection holds waits until that worker's idle
	# stop, up to TASKAPI_WORKER_IDLE_TIMEOUT (10 s) after its last
	# request.  The bound is far above the first; the second is a wait of
	# anything up to 10 s, so it fails most runs, not every one.
	if [[ -z $WAITED_REQS ]]; then
		pass "[$n] no request waited 3 s or more for a worker"
	else
		fail "[$n] no request waited 3 s or more for a worker" "waited:$WAITED_REQS"
	fi
	diag "$n: $((T_FAILED - failed_before)) failed, in $((SECONDS - t0)) s"
	if [[ -n $SLOW_REQS ]]; then
		diag "$n: requests slower than 1 s:$SLOW_REQS"
	fi
	SLOW_REQS=""
	WAITED_REQS=""
}

# run_frontend NAME DIR CMD...: starts CMD (exec'd in place, as the
# service user when root) listening on $FE_PORT, its output in
# DIR/console.log, waits for it, runs the smoke through it, stops it.
run_frontend() {
	local n=$1 dir=$2
	shift 2
	"${as_svc[@]}" "$@" >>"$dir/console.log" 2>&1 </dev/null &
	FE_PID=$!
	if fe_wait "http://127.0.0.1:$FE_PORT" "$dir"; then
		pass "[$n] starts on 127.0.0.1:$FE_PORT"
		BASE=http://127.0.0.1:$FE_PORT
		smoke "$n"
		BASE=$NGINX_BASE
	else
		fail "[$n] starts on 127.0.0.1:$FE_PORT"
	fi
	fe_stop
}

# fe_dir NAME: a directory the front end (and its user) may write.
fe_dir() {
	local d=$FE_ROOT/$1
	mkdir -p "$d/www"
	[[ ${#as_svc[@]} -gt 0 ]] && chown -R "$SVC_USER:" "$d"
	printf '%s' "$d"
}

# -------------------------------------------------------------- lighttpd

if command -v lighttpd >/dev/null 2>&1; then
	d=$(fe_dir lighttpd)
	FE_PORT=$(free_port)
	render "$SRCDIR/contrib/lighttpd/taskapi.conf" "$d/taskapi.conf" \
		FCGI_SOCKET="$SOCK" FCGI_EV_SOCKET="$EV_SOCK" ||
		bail "contrib/lighttpd/taskapi.conf does not render"
	cat >"$d/lighttpd.conf" <<-EOF
		server.document-root = "$d/www"
		server.bind = "127.0.0.1"
		server.port = $FE_PORT
		server.errorlog = "$d/error.log"
		include "$d/taskapi.conf"
	EOF
	run_frontend lighttpd "$d" lighttpd -D -f "$d/lighttpd.conf"
else
	skip "[lighttpd] the API smoke" "lighttpd not installed (package lighttpd)"
fi

# ---------------------------------------------------------------- Apache

APACHE=$(command -v apache2 2>/dev/null || echo /usr/sbin/apache2)
APACHE_MODULES=/usr/lib/apache2/modules
if [[ -x $APACHE && -f $APACHE_MODULES/mod_proxy_fcgi.so ]]; then
	for reuse in off on; do
		n=apache-reuse-$reuse
		d=$(fe_dir "$n")
		FE_PORT=$(free_port)
		render "$SRCDIR/contrib/apache2/taskapi.conf" "$d/taskapi.conf" \
			FCGI_SOCKET="$SOCK" FCGI_EV_SOCKET="$EV_SOCK" ||
			bail "contrib/apache2/taskapi.conf does not render"
		# A whole server around the example: the modules it needs, a
		# private pid file, mutexes and logs.
		cat >"$d/apache2.conf" <<-EOF
			ServerRoot "$d"
			ServerName 127.0.0.1
			Listen 127.0.0.1:$FE_PORT
			PidFile "$d/apache2.pid"
			DefaultRuntimeDir "$d"
			Mutex file:$d default
			ErrorLog "$d/error.log"
			LogLevel warn
			LoadModule mpm_event_module $APACHE_MODULES/mod_mpm_event.so
			LoadModule authz_core_module $APACHE_MODULES/mod_authz_core.so
			LoadModule env_module $APACHE_MODULES/mod_env.so
			LoadModule proxy_module $APACHE_MODULES/mod_proxy.so
			LoadModule proxy_fcgi_module $APACHE_MODULES/mod_proxy_fcgi.so
			DocumentRoot "$d/www"
			<VirtualHost 127.0.0.1:$FE_PORT>
			    Include "$d/taskapi.conf"
			</VirtualHost>
		EOF
		defs=(-D FOREGROUND)
		[[ $reuse == on ]] && defs+=(-D TASKAPI_REUSE)
		run_frontend "$n" "$d" "$APACHE" -f "$d/apache2.conf" "${defs[@]}"
	done
else
	skip "[apache] the API smoke" "Apache httpd with mod_proxy_fcgi not installed (package apache2)"
fi

# ------------------------------------------------------------------- h2o

if command -v h2o >/dev/null 2>&1; then
	d=$(fe_dir h2o)
	FE_PORT=$(free_port)
	render "$SRCDIR/contrib/h2o/taskapi.conf" "$d/h2o.conf" \
		FCGI_SOCKET="$SOCK" FCGI_EV_SOCKET="$EV_SOCK" H2O_DIR="$d" \
		LISTEN_HOST=127.0.0.1 LISTEN_PORT="$FE_PORT" ||
		bail "contrib/h2o/taskapi.conf does not render"
	run_frontend h2o "$d" h2o -c "$d/h2o.conf"
else
	skip "[h2o] the API smoke" "h2o not installed (package h2o)"
fi

done_testing
