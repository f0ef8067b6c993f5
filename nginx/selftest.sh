#!/bin/sh
# selftest.sh: check the taskapi nginx configuration end to end (TAP output).
#
# usage: nginx/selftest.sh
#   env: TASKAPI_NGINX_TEST_HTTP  (default 18080)  plain HTTP port on 127.0.0.1
#        TASKAPI_NGINX_TEST_HTTPS (default 18443)  TLS port on 127.0.0.1
#        NGINX                    (default: nginx from PATH or /usr/sbin/nginx)
#
# Renders the files into a fresh temporary directory, starts
# selftest-fcgi.py (a stand-in for the C pool) and a private nginx, runs
# curl against both servers, then stops both (by saved pid) and removes the
# directory.  Test-only changes to the rendered copy: auth rate 1r/m with
# burst 2, and fastcgi_read_timeout 2s (to see a 504 without waiting 35 s).
# Needs nginx, curl, openssl and python3; without them: "1..0 # SKIP".
# As root, nginx's workers run as root too (-g 'user root;'): test only.

# The checks pass values to "sh -c '...'" as positional parameters, so the
# single-quoted "$1" in them is meant.
# shellcheck disable=SC2016

set -u

here=$(cd "$(dirname "$0")" && pwd)
http_port=${TASKAPI_NGINX_TEST_HTTP:-18080}
https_port=${TASKAPI_NGINX_TEST_HTTPS:-18443}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
B=http://127.0.0.1:$http_port
T=https://127.0.0.1:$https_port
ORIGIN=$B

for cmd in "$NGINX" curl openssl python3; do
	command -v "$cmd" >/dev/null 2>&1 || { echo "1..0 # SKIP $cmd not found"; exit 0; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/taskapi-nginx.XXXXXX") || exit 1
cleanup() {
	[ -s "$tmp/nginx/nginx.pid" ] && kill -TERM "$(cat "$tmp/nginx/nginx.pid")" 2>/dev/null
	[ -s "$tmp/run/app.pid" ] && kill "$(cat "$tmp/run/app.pid")" 2>/dev/null
	i=0
	while [ -e "$tmp/nginx/nginx.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

bail() { echo "Bail out! $*"; [ -f "$tmp/log/nginx-error.log" ] && sed 's/^/# /' "$tmp/log/nginx-error.log"; exit 1; }

mkdir -p "$tmp/nginx" "$tmp/log" "$tmp/run" "$tmp/web" "$tmp/tls" "$tmp/out"
printf '<!doctype html><title>taskapi</title>\n' >"$tmp/web/index.html"
printf '{"openapi":"3.1.0"}\n' >"$tmp/web/openapi.json"
printf 'SECRET=1\n' >"$tmp/web/.env"
sh "$here/make-selfsigned.sh" "$tmp/tls" >/dev/null || bail "make-selfsigned.sh failed"

sh "$here/render.sh" "$tmp/conf" VAR="$tmp" WEB_ROOT="$tmp/web" \
    FCGI_SOCKET="$tmp/run/taskapi.sock" FCGI_EV_SOCKET="$tmp/run/taskapi.sock" \
    LISTEN="127.0.0.1:$http_port" TLS_LISTEN="127.0.0.1:$https_port" \
    TLS_CERT="$tmp/tls/cert.pem" TLS_KEY="$tmp/tls/key.pem" \
    CORS_ORIGIN="$ORIGIN" RATE_AUTH=1r/m RATE_AUTH_BURST=2 || bail "render.sh failed"
sed -i 's/fastcgi_read_timeout .*;/fastcgi_read_timeout 2s;/' "$tmp/conf/taskapi-fastcgi-common.conf"

if [ "$(id -u)" = 0 ]; then
	set -- -g 'user root;'
else
	set --
fi
ngx() {
	"$NGINX" -p "$tmp/nginx" -c "$tmp/conf/nginx-dev.conf" -e "$tmp/log/nginx-error.log" "$@"
}

n=0
fails=0
t() {
	desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		fails=$((fails + 1))
		[ -n "${last:-}" ] && [ -f "$tmp/out/$last.h" ] &&
		    { sed 's/^/#   /' "$tmp/out/$last.h" "$tmp/out/$last.b" 2>/dev/null | head -40; echo; }
	fi
}

# req NAME CURL-ARGS...: headers in out/NAME.h, body in out/NAME.b, status in $code.
req() {
	last=$1
	shift
	code=$(curl -sS -D "$tmp/out/$last.h" -o "$tmp/out/$last.b" -w '%{http_code}' "$@" \
	    2>"$tmp/out/$last.err")
}
# hdr NAME HEADER: the values of HEADER (case-insensitive), one per line.
hdr() {
	tr -d '\r' <"$tmp/out/$1.h" | awk -v h="$2" -F': ' \
	    'tolower($1) == tolower(h) { print substr($0, length($1) + 3) }'
}
nhdr() { hdr "$@" | wc -l | tr -d ' '; }
body_has() { grep -q -- "$2" "$tmp/out/$1.b"; }
# The echo route answers {"KEY": "value", ...} (json.dumps, sorted keys).
param() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$tmp/out/$1.b" "$2"; }

secure() {
	[ "$(hdr "$1" x-content-type-options)" = nosniff ] &&
	[ "$(hdr "$1" referrer-policy)" = no-referrer ] &&
	[ "$(hdr "$1" x-frame-options)" = DENY ] &&
	hdr "$1" content-security-policy | grep -q "frame-ancestors 'none'" &&
	[ "$(nhdr "$1" x-request-id)" = 1 ]
}
json_error() { # NAME STATUS
	[ "$code" = "$2" ] &&
	hdr "$1" content-type | grep -q '^application/json' &&
	grep -q '^{"error":"[^"]*"}$' "$tmp/out/$1.b" &&
	secure "$1"
}
raw() { # send stdin to the plain port, print the answer
	python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read())
s.settimeout(5)
d = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    d += c
sys.stdout.write(d.decode("latin-1"))' "$http_port"
}

ngx -t "$@" >"$tmp/out/t.log" 2>&1
t "nginx -t accepts the rendered configuration" grep -q 'test is successful' "$tmp/out/t.log"

python3 "$here/selftest-fcgi.py" "$tmp/run/taskapi.sock" "$tmp/log/app.log" \
    >"$tmp/log/app.out" 2>&1 &
echo $! >"$tmp/run/app.pid"
ngx "$@" || bail "nginx did not start"
i=0
while { [ ! -S "$tmp/run/taskapi.sock" ] || [ ! -s "$tmp/nginx/nginx.pid" ]; } && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -S "$tmp/run/taskapi.sock" ] || bail "fake FastCGI app did not start"

# --- nginx's own errors -----------------------------------------------------
req nope "$B/nope"
t "GET /nope: 404 JSON with security headers and X-Request-Id" json_error nope 404
req nopehtml "$B/nope.html"
t "GET /nope.html: still application/json" json_error nopehtml 404
req dot "$B/.env"
t "GET /.env: dot files are 404 JSON" json_error dot 404
req post_static -X POST --data x "$B/"
t "POST /: 405 JSON with Allow" sh -c '[ "$1" = 405 ] && [ "$2" = "GET, HEAD" ]' - "$code" "$(hdr post_static allow)"
t "POST /: 405 body and headers" json_error post_static 405
big=$(python3 -c 'print("a" * 9000)')
req longuri "$B/api/v1/tasks?q=$big"
t "9000-byte URI: 414 JSON" json_error longuri 414
req bighdr -H "X-Big: $big" "$B/api/v1/me"
t "9000-byte header: 431 JSON (nginx's 494)" json_error bighdr 431
printf 'GARBAGE\r\n\r\n' | raw >"$tmp/out/garbage.raw"
t "garbled request line: 400 JSON" sh -c 'head -1 "$1" | grep -q "^HTTP/1.1 400" && tail -1 "$1" | grep -q "^{\"error\":"' - "$tmp/out/garbage.raw"

python3 -c 'import sys; sys.stdout.write("a" * 71680)' >"$tmp/70k"
python3 -c 'import sys; sys.stdout.write("a" * 65536)' >"$tmp/64k"
python3 -c 'import sys; sys.stdout.write("a" * 65537)' >"$tmp/64k1"
req b413 -H 'Content-Type: application/json' --data-binary @"$tmp/70k" "$B/api/v1/tasks"
t "70 KiB POST (Expect: 100-continue): 413 JSON" json_error b413 413
req b413n -H 'Expect:' -H 'Content-Type: application/json' --data-binary @"$tmp/70k" "$B/api/v1/tasks"
t "70 KiB POST (no Expect): 413 JSON" json_error b413n 413
req b413c -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' --data-binary @"$tmp/70k" "$B/api/v1/tasks"
t "70 KiB chunked POST: 413 JSON" json_error b413c 413
req b413h2 -k --http2 -H 'Content-Type: application/json' --data-binary @"$tmp/70k" "$T/api/v1/tasks"
t "70 KiB POST over HTTP/2: 413 JSON" json_error b413h2 413
req b641 -H 'Content-Type: application/json' --data-binary @"$tmp/64k1" "$B/api/v1/tasks"
t "64 KiB + 1 byte: 413" json_error b641 413
req b64 -H 'Content-Type: application/json' --data-binary @"$tmp/64k" "$B/api/v1/tasks"
t "exactly 64 KiB reaches the app" sh -c '[ "$1" = 200 ] && [ "$2" = 65536 ] && [ "$3" = 65536 ]' - "$code" "$(param b64 body_length)" "$(param b64 CONTENT_LENGTH)"
req b64c -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' --data-binary @"$tmp/64k" "$B/api/v1/tasks"
t "chunked 64 KiB reaches the app with CONTENT_LENGTH" sh -c '[ "$1" = 200 ] && [ "$2" = 65536 ]' - "$code" "$(param b64c CONTENT_LENGTH)"

# --- the app --------------------------------------------------------------
req health "$B/health"
t "GET /health: 200 from the app" sh -c '[ "$1" = 200 ] && grep -q "\"status\":\"ok\"" "$2"' - "$code" "$tmp/out/health.b"
t "GET /health: one X-Request-Id, the app's" sh -c 'echo "$1" | grep -Eq "^[0-9a-f]{32}$" && [ "$2" = 1 ]' - \
    "$(hdr health x-request-id)" "$(nhdr health x-request-id)"
t "GET /health: app's copies of nginx-owned headers hidden" sh -c '[ "$1" = 1 ] && [ -z "$2" ]' - "$(nhdr health x-content-type-options)" "$(hdr health access-control-allow-origin)"
t "GET /health: security headers" secure health

tp=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
req echo -X POST -H 'Content-Type: application/json' -H 'Authorization: Bearer a.b.c' \
    -H 'X-Request-Id: abc-123.X_y' -H "traceparent: $tp" -H 'Proxy: http://evil:1' \
    --data '{"title":"x"}' "$B/api/v1/tasks?status=todo&limit=5"
t "REQUEST_URI is raw, with the query" [ "$(param echo REQUEST_URI)" = "/api/v1/tasks?status=todo&limit=5" ]
# Only what the app reads is passed: it takes the query from REQUEST_URI.
t "REQUEST_METHOD; no QUERY_STRING" [ "$(param echo QUERY_STRING)/$(param echo REQUEST_METHOD)" = "/POST" ]
t "CONTENT_TYPE, CONTENT_LENGTH" [ "$(param echo CONTENT_TYPE)/$(param echo CONTENT_LENGTH)" = "application/json/13" ]
t "HTTP_AUTHORIZATION, HTTP_TRACEPARENT" [ "$(param echo HTTP_AUTHORIZATION)|$(param echo HTTP_TRACEPARENT)" = "Bearer a.b.c|$tp" ]
t "no HTTP_PROXY (httpoxy)" [ -z "$(param echo HTTP_PROXY)" ]
t "valid client X-Request-Id: echoed and passed to the app" \
    [ "$(hdr echo x-request-id)|$(param echo HTTP_X_REQUEST_ID)" = "abc-123.X_y|abc-123.X_y" ]
req badid -H 'X-Request-Id: bad id!' "$B/api/v1/me"
t "invalid X-Request-Id: not passed to the app, which makes the id" sh -c '[ -z "$1" ] && [ "$2" = "[]" ]' - \
    "$(param badid HTTP_X_REQUEST_ID)" "$(param badid x_request_id_params)"
t "invalid X-Request-Id: replaced by the app's id, sent once" sh -c 'echo "$1" | grep -Eq "^[0-9a-f]{32}$" && [ "$1" = "$2" ] && [ "$3" = 1 ]' - \
    "$(hdr badid x-request-id)" "$(param badid answered_request_id)" "$(nhdr badid x-request-id)"
id64=$(python3 -c 'print("A" * 64)')
req id64 -H "X-Request-Id: $id64" "$B/api/v1/me"
req id65 -H "X-Request-Id: ${id64}A" "$B/api/v1/me"
t "64-character X-Request-Id kept, 65 replaced" sh -c '[ "$1" = "$3" ] && [ "$2" != "${3}A" ]' - "$(hdr id64 x-request-id)" "$(hdr id65 x-request-id)" "$id64"
req app404 "$B/api/v1/app404"
t "the app's own 404 body passes through untouched" sh -c '[ "$1" = 404 ] && [ "$(cat "$2")" = "{\"error\":\"app says no\"}" ]' - "$code" "$tmp/out/app404.b"

req big -H 'Accept-Encoding: gzip' "$B/api/v1/big"
t "JSON responses are gzipped on request" [ "$(hdr big content-encoding)" = gzip ]
req export -N -H 'Accept-Encoding: gzip' -w '%{http_code} %{time_starttransfer} %{time_total}' "$B/api/v1/tasks/export"
read -r ecode ttfb ttotal <<EOF
$code
EOF
# The export is buffered by nginx (fastcgi_buffering on, to temp files):
# the blocking worker that streams it is free as soon as it has written
# the last line, whatever the client's speed.  All 5 lines, not gzipped.
t "export: whole (5 lines), not gzipped (${ttfb}s to the first byte, ${ttotal}s in all)" \
    sh -c '[ "$1" = 200 ] && [ -z "$2" ] && [ "$(grep -c "\"n\": " "$3")" = 5 ]' \
    - "$ecode" "$(hdr export content-encoding)" "$tmp/out/export.b"
req slow "$B/api/v1/slow"
t "app slower than fastcgi_read_timeout: 504 JSON" json_error slow 504

# --- CORS -----------------------------------------------------------------
: >"$tmp/log/app.log"
req pre -X OPTIONS -H "Origin: $ORIGIN" -H 'Access-Control-Request-Method: PATCH' \
    -H 'Access-Control-Request-Headers: authorization,content-type' "$B/api/v1/tasks/x"
t "preflight from the allowed origin: 204 + CORS headers" sh -c '[ "$1" = 204 ] && [ "$2" = "$3" ] &&
    echo "$4" | grep -q PATCH && echo "$5" | grep -q Authorization && [ -n "$6" ] && echo "$7" | grep -q X-Request-Id' - \
    "$code" "$(hdr pre access-control-allow-origin)" "$ORIGIN" "$(hdr pre access-control-allow-methods)" \
    "$(hdr pre access-control-allow-headers)" "$(hdr pre access-control-max-age)" "$(hdr pre access-control-expose-headers)"
t "preflight: security headers too" secure pre
req pre2 -X OPTIONS -H 'Origin: http://evil.example' -H 'Access-Control-Request-Method: PATCH' "$B/api/v1/tasks/x"
t "preflight from another origin: 204 without CORS headers" sh -c '[ "$1" = 204 ] && [ -z "$2$3" ]' - \
    "$code" "$(hdr pre2 access-control-allow-origin)" "$(hdr pre2 access-control-allow-methods)"
req pre3 -X OPTIONS -H "Origin: $ORIGIN" -H 'Access-Control-Request-Method: POST' "$B/api/v1/auth/login"
t "preflights never reach the app" sh -c '[ "$1" = 204 ] && ! grep -q OPTIONS "$2"' - "$code" "$tmp/log/app.log"
req cors -H "Origin: $ORIGIN" "$B/api/v1/me"
t "GET from the allowed origin: ACAO, Expose-Headers, Vary: Origin" sh -c '[ "$1" = "$2" ] && [ -n "$3" ] && echo "$4" | grep -q Origin' - \
    "$(hdr cors access-control-allow-origin)" "$ORIGIN" "$(hdr cors access-control-expose-headers)" "$(hdr cors vary)"
req cors2 -H "Origin: $ORIGIN.evil.example" "$B/api/v1/me"
t "GET from another origin: no ACAO" [ -z "$(hdr cors2 access-control-allow-origin)" ]

# --- rate limit -----------------------------------------------------------
codes=
for i in 1 2 3 4; do
	req login$i -X POST -H 'Content-Type: application/json' --data '{}' "$B/api/v1/auth/login"
	codes="$codes $code"
done
t "login: burst of 3 passes, then 429 ($codes)" [ "$codes" = " 200 200 200 429" ]
t "429 is JSON with Retry-After: 1" sh -c '[ "$1" = 1 ]' - "$(hdr login4 retry-after)"
t "429 body and headers" json_error login4 429
req register -X POST -H 'Content-Type: application/json' --data '{}' "$B/api/v1/auth/register"
t "register shares the login budget: 429" [ "$code" = 429 ]

# --- static ---------------------------------------------------------------
req index "$B/"
t "GET /: the web page, text/html, CSP default-src 'self'" sh -c '[ "$1" = 200 ] && echo "$2" | grep -q "^text/html" && echo "$3" | grep -q "default-src .self."' - \
    "$code" "$(hdr index content-type)" "$(hdr index content-security-policy)"
req openapi "$B/api/v1/openapi.json"
t "GET /api/v1/openapi.json: static file as application/json" sh -c '[ "$1" = 200 ] && echo "$2" | grep -q "^application/json" && grep -q openapi "$3"' - \
    "$code" "$(hdr openapi content-type)" "$tmp/out/openapi.b"

# --- TLS ------------------------------------------------------------------
req tls --cacert "$tmp/tls/cert.pem" "$T/health"
t "TLS: certificate verifies for 127.0.0.1, HTTP/2, HSTS" sh -c '[ "$1" = 200 ] && grep -qi "^HTTP/2" "$2" && [ -n "$3" ]' - \
    "$code" "$tmp/out/tls.h" "$(hdr tls strict-transport-security)"
req tlsname --cacert "$tmp/tls/cert.pem" --resolve "localhost:$https_port:127.0.0.1" "https://localhost:$https_port/nope"
t "TLS: certificate verifies for localhost; 404 JSON there too" json_error tlsname 404
req plain "$B/health"
t "no HSTS over plain HTTP" [ -z "$(hdr plain strict-transport-security)" ]
req plain2tls "http://127.0.0.1:$https_port/health"
t "plain HTTP to the TLS port: 400 JSON" json_error plain2tls 400

# --- upstream down --------------------------------------------------------
app=$(cat "$tmp/run/app.pid")
kill "$app" 2>/dev/null
rm -f "$tmp/run/app.pid"
# Gone, not just signalled (it is this shell's child: wait reaps it),
# so nothing listens there any more.
wait "$app" 2>/dev/null
req down -H 'X-Request-Id: trace-502' "$B/health"
t "app down: 502 JSON" json_error down 502
t "app down: client X-Request-Id still echoed" [ "$(hdr down x-request-id)" = trace-502 ]
req down2 "$B/health"
t "app down, no client id: nginx makes one" sh -c 'echo "$1" | grep -Eq "^[0-9a-f]{32}$"' - "$(hdr down2 x-request-id)"

# --- access log -----------------------------------------------------------
# The log is buffered (flushed every second): wait for the last request's
# line, 10 s at most.
i=0
while ! grep -q '"request_id":"trace-502"' "$tmp/log/nginx-access.log" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
t "access log: every line is JSON with request_id/status/request_time/upstream_response_time" python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines and all({"request_id", "status", "request_time", "upstream_response_time"} <= set(l) for l in lines)
assert any(l["request_id"] == "trace-502" and l["status"] == 502 for l in lines)' "$tmp/log/nginx-access.log"
t "access log: an app answer is logged with the app's id, nginx's own answer with nginx's" python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert any(l["request_id"] == sys.argv[2] and l["uri"] == "/api/v1/me" for l in lines)
assert any(l["request_id"] == sys.argv[3] and l["status"] == 502 for l in lines)' \
    "$tmp/log/nginx-access.log" "$(hdr badid x-request-id)" "$(hdr down2 x-request-id)"

echo "1..$n"
[ "$fails" = 0 ]
