#!/usr/bin/env bash
# 96-install.sh: "make install" into a DESTDIR puts every file where
# doc/INSTALL.md and taskapi(8) say; the installed copy then runs for real: the
# systemd unit's own ExecStartPre/ExecStart lines (taskapi binding its
# sockets itself, as the service user), behind a private nginx built from the
# installed snippet and site, on the dev stack's database.  Then
# "make uninstall" leaves no file behind.
#
# Needs the stack (for its database and its env file: TASKAPI_VAR) and
# the build tree (TASKAPI_BUILD).  Paths are read from the build's
# Makefile, so any --prefix/--sysconfdir works.
. "$(dirname "$0")/lib.sh"

BUILD=${TASKAPI_BUILD:-}
SRC=${TASKAPI_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DEVENV=${TASKAPI_VAR:-}/taskapi.env
[[ -f $BUILD/Makefile && -r $DEVENV ]] ||
	skip_all "needs TASKAPI_BUILD and TASKAPI_VAR from ./dev test"
for t_tool in nginx spawn-fcgi; do
	command -v "$t_tool" >/dev/null 2>&1 || skip_all "$t_tool not installed"
done

SVC=taskapi
IS_ROOT=no
[[ $(id -u) -eq 0 ]] && IS_ROOT=yes
[[ $IS_ROOT == yes ]] || SVC=$(id -un)

# A make that ignores the make running this test (make check passes its
# command-line variables down through MAKEFLAGS).
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$BUILD" "$@"; }

# Scratch: D is the DESTDIR, W the running copy's sockets, logs and nginx.
# Both readable by the service user (mktemp -d makes them 0700).
D=$(mktemp -d /tmp/taskapi-destdir.XXXXXX) || bail "mktemp failed"
W=$(mktemp -d /tmp/taskapi-run.XXXXXX) || bail "mktemp failed"
chmod 0755 "$D" "$W"
MASTER=""
NGINX_PID=$W/nginx/nginx.pid

master_gone() {	# no process, or a zombie
	[[ ! -e /proc/$MASTER ]] || grep -q '^State:[[:space:]]*Z' "/proc/$MASTER/status" 2>/dev/null
}
cleanup() {
	if [[ -s $NGINX_PID ]]; then
		kill -TERM "$(cat "$NGINX_PID")" 2>/dev/null
	fi
	if [[ -n $MASTER ]] && kill -TERM "$MASTER" 2>/dev/null; then
		# The workers outlive a killed master: stop them by parent pid.
		wait_until 30000 master_gone >/dev/null ||
			{ pkill -KILL -P "$MASTER"; kill -KILL "$MASTER"; } 2>/dev/null
	fi
	rm -rf -- "$D" "$W"
	t_cleanup
}
trap cleanup EXIT

# ------------------------------------------------------------- install

# The installation directories, as make expands them.
rule='taskapi-test-print-dirs: ; @printf "%s\n" "prefix=$(prefix)" "bindir=$(bindir)"'
rule+=' "sysconfdir=$(sysconfdir)" "pkgdatadir=$(pkgdatadir)" "mandir=$(mandir)"'
rule+=' "unitdir=$(systemdsystemunitdir)" "rundir=$(TASKAPI_RUNDIR)"'
dirs=$(mk -s -f Makefile -f - taskapi-test-print-dirs <<<"$rule") ||
	bail "cannot read the installation directories from $BUILD/Makefile"
eval "$dirs"
[[ -n $bindir && -n $pkgdatadir && -n $rundir ]] || bail "incomplete directories: $dirs"

t0=$(now_ms)
if mk install DESTDIR="$D" >"$W/install.log" 2>&1; then
	pass "make install DESTDIR=... ($(($(now_ms) - t0)) ms)"
else
	fail "make install DESTDIR=..." "$(tail -n 20 "$W/install.log")"
	done_testing
fi

BIN=$D$bindir/taskapi
SNIP=$D$sysconfdir/nginx/snippets
SITE=$D$sysconfdir/nginx/sites-available/taskapi
EXAMPLE=$D$sysconfdir/taskapi/taskapi.env.example
MAN=$D$mandir/man8/taskapi.8
UNIT=$D$unitdir/taskapi.service

missing=""
[[ -x $BIN ]] || missing+=" $BIN"
for f in "$SRC"/sql/migrations/*.sql; do
	[[ -f $D$pkgdatadir/migrations/${f##*/} ]] || missing+=" migrations/${f##*/}"
done
is "$missing" "" "the binary and every migration are installed"

missing=""
n=0
while IFS= read -r f; do
	n=$((n + 1))
	cmp -s "$SRC/$f" "$D$pkgdatadir/$f" || missing+=" $f"
done < <(cd "$SRC" && find web -type f ! -path '*/.*' | LC_ALL=C sort)
is "$missing" "" "every file under web/ ($n) is installed in \$(pkgdatadir)/web"

missing=""
for f in "$SRC"/nginx/taskapi*.conf; do
	[[ -f $SNIP/${f##*/} ]] || missing+=" ${f##*/}"
done
[[ -f $SITE ]] || missing+=" sites-available/taskapi"
is "$missing" "" "the nginx snippets and the site are installed"
is "$(find "$D" -name 'nginx-dev*' | wc -l)" 0 "nginx-dev.conf is not installed"
left=$(grep -l '@[A-Z_a-z]*@' "$SNIP"/* "$SITE" "$EXAMPLE" "$MAN" ${unitdir:+"$UNIT"} 2>/dev/null)
is "$left" "" "no @PLACEHOLDER@ is left in the installed text files"
like "$(cat "$SITE")" "include $sysconfdir/nginx/snippets/taskapi-http.conf;" \
	"the site includes the http-level snippet from the installed place"
like "$(stat -c %a "$EXAMPLE" 2>&1)" '^640$' "the env example is installed, mode 0640"

# The man page: lint, and every variable of --help with its default.
if [[ -f $MAN ]]; then
	pass "the man page is installed in man8"
	if command -v mandoc >/dev/null 2>&1; then
		out=$(mandoc -T lint -W warning "$MAN" 2>&1)
		is "$out" "" "mandoc -T lint -W warning finds nothing in taskapi(8)"
	else
		skip "mandoc -T lint taskapi(8)" "mandoc not installed"
	fi
	undocumented=""
	while IFS= read -r line; do
		name=$(awk '{print $1}' <<<"$line")
		block=$(awk -v n="$name" '$0 == ".It Ev " n { on = 1; next }
		    on && /^\.(It|El)( |$)/ { exit } on' "$MAN")
		if [[ -z $block ]]; then
			undocumented+=" $name"
		elif [[ $line =~ \[default:\ ([^]]*)\] ]] &&
			[[ $block != *"${BASH_REMATCH[1]}"* ]]; then
			undocumented+=" $name(default ${BASH_REMATCH[1]})"
		fi
	done < <("$BIN" --help | grep -E '^  [A-Z][A-Z0-9_]+ ')
	is "$undocumented" "" "taskapi(8) ENVIRONMENT lists every variable of --help, with its default"
else
	fail "the man page is installed in man8" "no $MAN"
fi

like "$("$BIN" --version 2>&1)" '^taskapi [0-9]+\.[0-9]+\.[0-9]+$' "the installed taskapi --version"

# The example, unedited, must not run: its JWT_SECRET is a placeholder.
"$BIN" --env-file "$EXAMPLE" check >"$W/check.out" 2>&1
rc=$?
is "$rc" 2 "the unedited env example fails 'taskapi check' (exit 2)"
like "$(cat "$W/check.out")" JWT_SECRET "... because of the placeholder JWT_SECRET"

# ------------------------------------------------------------- configure it

# doc/INSTALL.md: the env file is a copy of the example, root:taskapi, mode 0640.
ENVF=$D$sysconfdir/taskapi/taskapi.env
if [[ $IS_ROOT == yes ]]; then
	install -m 0640 -o root -g "$SVC" "$EXAMPLE" "$ENVF"
else
	install -m 0640 "$EXAMPLE" "$ENVF"
fi
is "$?" 0 "install -m 0640 ... taskapi.env.example taskapi.env"

# set_key FILE KEY VALUE: KEY=VALUE in place of KEY= or #KEY= (or added).
set_key() {
	local tmp=$W/set_key.tmp
	K=$2 V=$3 awk 'BEGIN { k = ENVIRON["K"]; v = ENVIRON["V"] }
	    index($0, k "=") == 1 || index($0, "#" k "=") == 1 {
		if (!done) print k "=" v; done = 1; next }
	    { print }
	    END { if (!done) print k "=" v }' "$1" >"$tmp" && cat "$tmp" >"$1"
}
devval() { sed -n "s/^$1=//p" "$DEVENV" | tail -n 1; }

mkdir -p "$W/run"
[[ $IS_ROOT == yes ]] && chown "$SVC:$SVC" "$W/run"
chmod 0750 "$W/run"	# what RuntimeDirectoryMode= gives /run/taskapi
secret=$(openssl rand -hex 32 2>/dev/null) || secret=$(devval JWT_SECRET)
set_key "$ENVF" JWT_SECRET "$secret"
set_key "$ENVF" DATABASE_URL "$(devval DATABASE_URL)"
set_key "$ENVF" TASKAPI_MIGRATE_DATABASE_URL "$(devval TASKAPI_MIGRATE_DATABASE_URL)"
set_key "$ENVF" TASKAPI_EV_LISTEN "unix:$W/run/taskapi-ev.sock"
set_key "$ENVF" TASKAPI_MIGRATIONS_DIR "$D$pkgdatadir/migrations"
set_key "$ENVF" TASKAPI_WORKERS 2

# The unit's command lines, with the paths moved into D and W.
relocate() {
	sed -e "s|$bindir/|$D$bindir/|g" -e "s|$sysconfdir/|$D$sysconfdir/|g" \
	    -e "s|$rundir/|$W/run/|g"
}
unit_cmds() {	# KEY: each KEY= value of the unit, continuation lines joined
	awk -v k="$1=" '
	    { line = cont ? cont " " $0 : $0; cont = "" }
	    line ~ /\\$/ { cont = substr(line, 1, length(line) - 1); next }
	    index(line, k) == 1 { print substr(line, length(k) + 1) }' "$UNIT" | relocate
}
# as_svc CMD...: as the unit's User=.  Run in the background as
# "(as_svc CMD) &", $! is CMD's pid: the subshell execs it.
as_svc() {
	if [[ $IS_ROOT == yes ]]; then
		exec setpriv --reuid="$SVC" --regid="$SVC" --init-groups -- "$@"
	else
		exec "$@"
	fi
}

if [[ -z $unitdir ]]; then
	skip "the systemd unit" "configured --without-systemdsystemunitdir"
	# doc/INSTALL.md's spawn-fcgi line stands in for the unit's.
	PRE=("$D$bindir/taskapi --env-file $ENVF check" "$D$bindir/taskapi --env-file $ENVF migrate")
	START="$(command -v spawn-fcgi) -n -b 4096 -s $W/run/taskapi.sock -M 0660 -- $D$bindir/taskapi --env-file $ENVF serve"
	RELOAD="kill -HUP \$MAINPID"
else
	if [[ -f $UNIT ]]; then
		pass "the systemd unit is installed"
	else
		fail "the systemd unit is installed" "no $UNIT"
	fi
	missing=""
	for u in taskapi.socket taskapi-ev.socket; do
		[[ -f $D$unitdir/$u ]] || missing+=" $u"
	done
	is "$missing" "" "the socket units (taskapi.socket, taskapi-ev.socket) are installed"
	if command -v systemd-analyze >/dev/null 2>&1; then
		mkdir -p "$W/unit"
		sed -e "s|$bindir/|$D$bindir/|g" "$UNIT" >"$W/unit/taskapi.service"
		cp "$D$unitdir/taskapi.socket" "$D$unitdir/taskapi-ev.socket" "$W/unit/"
		out=$(cd "$W/unit" && systemd-analyze verify --man=no taskapi.service taskapi.socket taskapi-ev.socket 2>&1)
		is "$out" "" "systemd-analyze verify taskapi.service taskapi.socket taskapi-ev.socket"
	else
		skip "systemd-analyze verify the units" "systemd-analyze not installed"
	fi
	# The sockets the socket units hold are the ones taskapi is told of.
	listen=$(sed -n 's/^ListenStream=//p' "$D$unitdir/taskapi.socket" "$D$unitdir/taskapi-ev.socket" | tr '\n' ' ')
	like "$(unit_cmds ExecStart)" "--listen unix:$W/run/taskapi.sock " \
		"ExecStart's --listen is taskapi.socket's ListenStream"
	is "$listen" "$rundir/taskapi.sock $rundir/taskapi-ev.sock " "... and the socket units listen at $rundir/taskapi{,-ev}.sock"
	like "$(grep '^TASKAPI_EV_LISTEN=' "$EXAMPLE")" "=unix:$rundir/taskapi-ev.sock\$" \
		"... the env example's TASKAPI_EV_LISTEN is taskapi-ev.socket's"
	mapfile -t PRE < <(unit_cmds ExecStartPre)
	START=$(unit_cmds ExecStart)
	RELOAD=$(unit_cmds ExecReload)
fi

# ------------------------------------------------------------- run it

# ExecStartPre: check, then migrate (the dev stack's schema is current, so
# migrate only confirms it), as the service user.
for cmd in "${PRE[@]}"; do
	read -ra argv <<<"$cmd"
	if (as_svc "${argv[@]}") >"$W/pre.out" 2>&1; then
		pass "ExecStartPre as $SVC: ${cmd//$D/}"
	else
		fail "ExecStartPre as $SVC: ${cmd//$D/}" "$(tail -n 5 "$W/pre.out")"
	fi
done
like "$(cat "$W/pre.out")" "schema is at version [1-9]" "the installed migrations bring the schema to its version"

# ExecStart: the taskapi master is the main pid (Type=exec); without
# the unit, spawn-fcgi -n binds the socket, then execs taskapi in its
# own place.
read -ra argv <<<"$START"
(as_svc "${argv[@]}") >"$W/taskapi.log" 2>&1 </dev/null &
MASTER=$!
execd() { [[ $(cat "/proc/$MASTER/comm" 2>/dev/null) == taskapi ]]; }
wait_until 30000 execd >/dev/null
is "$(cat "/proc/$MASTER/comm" 2>/dev/null)" taskapi "ExecStart leaves the taskapi master as the main pid"

# nginx: the installed snippets and site, with the test's paths and ports,
# inside a minimal nginx.conf (Debian's would bring its own types and logs).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
HTTP_PORT=$(free_port)
TLS_PORT=$(free_port)
NG=$W/nginx
mkdir -p "$NG/conf/snippets" "$NG/conf/sites-available" "$NG/tmp"
[[ $IS_ROOT == yes ]] && chown "$SVC:$SVC" "$NG/tmp"
for f in "$SNIP"/* "$SITE"; do
	[[ $f == "$SITE" ]] && out=$NG/conf/sites-available/taskapi || out=$NG/conf/snippets/${f##*/}
	sed -e "s|$sysconfdir/nginx/|$NG/conf/|g" -e "s|$rundir/|$W/run/|g" \
	    -e "s|$pkgdatadir/web|$D$pkgdatadir/web|g" \
	    -e "s|listen [^ ;]*;|listen 127.0.0.1:$HTTP_PORT;|" \
	    -e "s|listen [^ ;]* ssl|listen 127.0.0.1:$TLS_PORT ssl|" \
	    -e "s|ssl_certificate .*;|ssl_certificate $TASKAPI_VAR/tls/cert.pem;|" \
	    -e "s|ssl_certificate_key .*;|ssl_certificate_key $TASKAPI_VAR/tls/key.pem;|" \
	    "$f" >"$out"
done
user_line=""
[[ $IS_ROOT == yes ]] && user_line="user $SVC $SVC;"
cat >"$NG/nginx.conf" <<EOF
$user_line
pid $NGINX_PID;
error_log $NG/error.log warn;
events { worker_connections 256; }
http {
    types {
        text/html html; text/css css; application/javascript js mjs;
        application/json json; image/svg+xml svg; image/png png;
        image/x-icon ico; text/plain txt;
    }
    default_type application/octet-stream;
    client_body_temp_path $NG/tmp/body;
    fastcgi_temp_path $NG/tmp/fastcgi;
    proxy_temp_path $NG/tmp/proxy;
    scgi_temp_path $NG/tmp/scgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    include $NG/conf/sites-available/taskapi;
    access_log $NG/access.log taskapi_json;
}
EOF
left=$(grep -rhE "^[^#]*($sysconfdir/nginx|$rundir/|$pkgdatadir/web)" "$NG/conf" |
	grep -vF "$D$pkgdatadir/web")
is "$left" "" "the test's nginx uses only the re-rendered copies"
out=$(nginx -t -q -p "$NG" -c "$NG/nginx.conf" -e "$NG/error.log" 2>&1)
is "$?" 0 "nginx -t accepts the installed snippets and site"
[[ -n $out ]] && diag "$out"
nginx -p "$NG" -c "$NG/nginx.conf" -e "$NG/error.log" || bail "nginx did not start: $(tail -n 5 "$NG/error.log")"

BASE=http://127.0.0.1:$HTTP_PORT
healthy() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/health") == 200 ]]; }
if ms=$(wait_until 30000 healthy); then
	pass "the installed stack answers /health in $ms ms"
else
	fail "the installed stack answers /health" "$(tail -n 5 "$W/taskapi.log")"
fi
req GET /health
expect_json 200 "GET /health: 200 JSON through the installed nginx files"
like "$(header X-Request-Id)" "$RE_REQID" "... with nginx's X-Request-Id (the snippets are in use)"
code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 "https://127.0.0.1:$TLS_PORT/health")
is "$code" 200 "GET /health over the site's TLS server"

if make_user U; then
	pass "register + login through the installed stack"
	create_titled "$U_TOKEN" "installed"
	expect_json 201 "create a task through the installed stack"
	api "$U_TOKEN" GET "/api/v1/tasks/$TASK_ID"
	json_is .title installed "... and read it back"
else
	fail "register + login through the installed stack" "$(tail -n 5 "$W/taskapi.log")"
fi

for f in openapi.json index.html; do
	if [[ ! -f $SRC/web/$f ]]; then
		skip "web/$f served from the installed web root" "no web/$f in the source tree"
		continue
	fi
	[[ $f == openapi.json ]] && path=/api/v1/openapi.json || path=/
	req GET "$path"
	if [[ $RESP_STATUS == 200 ]] && cmp -s "$T_BODY" "$D$pkgdatadir/web/$f"; then
		pass "GET $path is web/$f from the installed web root"
	else
		fail "GET $path is web/$f from the installed web root" "$(resp_summary)"
	fi
done

# ExecReload: SIGHUP re-reads the installed env file and replaces the
# workers; the pool keeps answering.
read -ra argv <<<"${RELOAD//\$MAINPID/$MASTER}"
"${argv[@]}"
if ms=$(wait_until 30000 grep -q 'configuration reloaded' "$W/taskapi.log"); then
	pass "ExecReload (SIGHUP): configuration reloaded in $ms ms"
else
	fail "ExecReload (SIGHUP): configuration reloaded" "$(tail -n 5 "$W/taskapi.log")"
fi
# The workers are replaced one at a time: /health answers throughout.
if wait_until 30000 healthy >/dev/null; then
	pass "... and /health still answers 200"
else
	fail "... and /health still answers 200" "$(tail -n 5 "$W/taskapi.log")"
fi

# ------------------------------------------------------------- stop

kill -QUIT "$(cat "$NGINX_PID")"
kill -TERM "$MASTER"
wait "$MASTER"
is "$?" 0 "SIGTERM (KillSignal=) stops the master with exit 0"
MASTER=""
wait_until 30000 test ! -e "$NGINX_PID" >/dev/null || diag "nginx is slow to stop"

# ------------------------------------------------------------- uninstall

rm -f "$ENVF"	# the admin's file, not the package's
if mk uninstall DESTDIR="$D" >"$W/uninstall.log" 2>&1; then
	pass "make uninstall DESTDIR=..."
else
	fail "make uninstall DESTDIR=..." "$(tail -n 20 "$W/uninstall.log")"
fi
left=$(cd "$D" && find . ! -type d | LC_ALL=C sort)
is "$left" "" "make uninstall leaves no file behind"
left=$(cd "$D" && find . -path "*taskapi*" | LC_ALL=C sort)
is "$left" "" "... and none of taskapi's own directories"
dirs_left=$(cd "$D" && find . -mindepth 1 -type d | LC_ALL=C sort | tr '\n' ' ')
diag "empty shared directories automake leaves (expected): $dirs_left"

# doc/INSTALL.md: the nginx values are make variables.
D2=$W/stage2
if mk install DESTDIR="$D2" NGINX_CORS_ORIGIN=https://tasks.example.com NGINX_LISTEN=8080 \
	>"$W/install2.log" 2>&1; then
	grep -q '^ *listen 8080;' "$D2$sysconfdir/nginx/sites-available/taskapi" &&
		grep -q '|https://tasks.example.com"' "$D2$sysconfdir/nginx/snippets/taskapi-http.conf"
	is "$?" 0 "make install NGINX_CORS_ORIGIN=... NGINX_LISTEN=8080 renders those values"
else
	fail "make install NGINX_CORS_ORIGIN=... NGINX_LISTEN=8080" "$(tail -n 20 "$W/install2.log")"
fi
mk uninstall DESTDIR="$D2" >"$W/uninstall2.log" 2>&1
is "$(find "$D2" ! -type d | wc -l)" 0 "... and make uninstall removes them"

done_testing
