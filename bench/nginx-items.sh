#!/usr/bin/env bash
# bench/nginx-items.sh: what each item of the shipped nginx configuration
# costs, in µs of nginx CPU per request.
#
#   BENCH_KEEP_STACK=1 bench/run.sh        # a seeded stack left running
#   bench/nginx-items.sh [ROUNDS] [SECONDS]   # default 3 rounds of 5 s
#
# Copies the stack's rendered configuration ($VAR/nginx/*.conf) once per
# variant into $VAR/bench-items/<variant>/, makes that copy listen on its
# own port (BENCH_ITEMS_PORT, default BENCH_STATIC_PORT + 4; the TLS
# server dropped), its pid, logs and temp files its own, and removes one
# thing (below).  Each variant runs as its own nginx, as many workers as the
# stack's, in front of the same event-worker socket, and serves wrk -t1
# -c64 on GET /health, and BENCH_ITEMS_GET's variants on GET
# /api/v1/tasks/{id} too (the bench user's token); the variants are
# alternated within each round.  (no-limit-conn is not in the default
# list: limit_conn is only in the blocking pool's locations.)  Reported: the
# median over the rounds of the nginx tree's CPU (utime + stime,
# bench/cputiers.py) per request, and the difference to "shipped"; and
# /health's p50 and p99 (the tail each item adds, if any).
# "minimal" is the bare FastCGI pass run.sh measures (three params,
# upstream keepalive, nothing else), "return200" nginx answering alone.
#
# Variants whose name starts with "x-" are not removals but candidate
# changes (e.g. x-unbuffered-log: the access log written per request)
# or parts of one item (x-log-*: the access log's line cut down).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
VAR=$(readlink -f "$BUILD/var")
ROUNDS=${1:-3}
SECS=${2:-5}
HTTP_PORT=${BENCH_HTTP_PORT:-18090}
PORT=${BENCH_ITEMS_PORT:-$((${BENCH_STATIC_PORT:-18091} + 4))}
VARIANTS=${BENCH_ITEMS:-shipped no-security-headers no-x-request-id-header x-nginx-request-id no-request-id no-access-log x-unbuffered-log no-log-method-map no-cors no-csp-map no-gzip no-error-pages no-hide-headers params-app-reads-only no-fastcgi-buffering minimal return200}
# GET task too (the nginx work barely depends on the route; /health alone
# keeps a round short on a busy machine).
GET_VARIANTS=${BENCH_ITEMS_GET:-shipped minimal}
die() { echo "nginx-items.sh: $*" >&2; exit 1; }

[ -f "$VAR/nginx/nginx-dev.conf" ] || die "no running bench stack under $VAR (BENCH_KEEP_STACK=1 bench/run.sh)"
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
tmp=$(mktemp -d)
chmod 755 "$tmp"
bench_data "$tmp/data" "$HTTP_PORT"
ITEMS=$VAR/bench-items
running=
stop() {
	[ -n "$running" ] && [ -f "$ITEMS/$running/nginx.pid" ] &&
		kill -QUIT "$(cat "$ITEMS/$running/nginx.pid")" 2>/dev/null || true
	local _
	for _ in $(seq 1 50); do
		[ -f "$ITEMS/$running/nginx.pid" ] || break
		sleep 0.1
	done
	running=
}
trap 'stop; rm -rf "$tmp"' EXIT

# Removes one thing from the copy in $1 (the variant's directory).
apply() { # dir variant
	local d=$1
	case $2 in
	shipped) ;;
	no-security-headers) # nosniff, Referrer-Policy, X-Frame-Options, CSP, HSTS
		sed -i '/^add_header \(X-Content-Type-Options\|Referrer-Policy\|X-Frame-Options\|Content-Security-Policy\|Strict-Transport-Security\)/d' "$d/taskapi-headers.conf" ;;
	no-x-request-id-header)
		sed -i '/^add_header X-Request-Id/d' "$d/taskapi-headers.conf" ;;
	x-nginx-request-id) # the id made by nginx ($request_id) for every request
		# and passed to the app, as before the app made its own
		sed -i 's/\$taskapi_client_request_id if_not_empty;/$taskapi_own_request_id;/' "$d/taskapi-fastcgi-common.conf"
		echo 'fastcgi_hide_header X-Request-Id;' >>"$d/taskapi-fastcgi-common.conf"
		sed -i 's/\$taskapi_request_id_header/$taskapi_own_request_id/' "$d/taskapi-headers.conf"
		sed -i 's/"request_id":"\$taskapi_request_id"/"request_id":"$taskapi_own_request_id"/' "$d/taskapi-http.conf" ;;
	no-request-id) # nginx neither passes, adds nor makes an id (the app's alone)
		sed -i '/^fastcgi_param HTTP_X_REQUEST_ID /d' "$d/taskapi-fastcgi-common.conf"
		sed -i '/^add_header X-Request-Id/d' "$d/taskapi-headers.conf"
		sed -i 's/"request_id":"\$taskapi_request_id"/"request_id":"$upstream_http_x_request_id"/' "$d/taskapi-http.conf" ;;
	no-access-log)
		sed -i 's|^\( *access_log\) .*|\1 off;|' "$d/nginx-dev.conf" ;;
	x-unbuffered-log)
		sed -i 's| buffer=64k flush=1s;|;|' "$d/nginx-dev.conf" ;;
	no-log-method-map) # the request method as nginx has it, not from $request
		sed -i '/^map .*\$taskapi_log_method {/!s/\$taskapi_log_method/$request_method/g' "$d/taskapi-http.conf" ;;
	no-cors)
		: >"$d/taskapi-cors.conf"
		python3 - "$d/taskapi-fastcgi-common.conf" <<-'EOF'
			import re, sys
			p = sys.argv[1]
			s = open(p).read()
			s = re.sub(r"if \(\$taskapi_cors_preflight\) \{\s*return 204;\s*\}", "", s)
			open(p, "w").write(s)
		EOF
		sed -i '/fastcgi_hide_header Access-Control/d' "$d/taskapi-fastcgi-common.conf" ;;
	no-csp-map) # one constant policy instead of the map on $uri
		sed -i "s/\\\$taskapi_csp/\"default-src 'none'; frame-ancestors 'none'\"/" "$d/taskapi-headers.conf" ;;
	no-gzip)
		sed -i 's/^gzip  *on;/gzip off;/' "$d/taskapi.conf" ;;
	no-error-pages)
		sed -i '/^error_page /d' "$d/taskapi.conf" ;;
	no-hide-headers)
		sed -i '/^fastcgi_hide_header /d' "$d/taskapi-fastcgi-common.conf" ;;
	params-app-reads-only) # method, URI, token, body type and length
		sed -i '/^fastcgi_param \(REMOTE_ADDR\|HTTP_TRACEPARENT\|HTTP_X_REQUEST_ID\|REQUEST_START\) /d' \
			"$d/taskapi-fastcgi-common.conf" ;;
	no-fastcgi-buffering) # the event workers' locations (the export sets its own)
		echo 'fastcgi_buffering off;' >>"$d/taskapi-fastcgi-ev.conf" ;;
	x-log-status-only | x-log-no-escape | x-log-no-upstream-times | x-log-no-headers)
		# The access log's parts: the cost of writing a line at all
		# (status only), of escape=json, of the upstream timings, of the
		# request and response headers it copies.
		python3 - "$d/taskapi-http.conf" "$2" <<-'EOF'
			import re, sys
			p, v = sys.argv[1], sys.argv[2]
			s = open(p).read()
			m = re.search(r"log_format taskapi_json escape=json\n(.*?);\n", s, re.S)
			body = m.group(1)
			if v == "x-log-status-only":
			    new = "log_format taskapi_json '$status'"
			elif v == "x-log-no-escape":
			    new = "log_format taskapi_json escape=default\n" + body
			elif v == "x-log-no-upstream-times":
			    body = re.sub(r"\n *'\"upstream_(connect|response)_time\":\"\$upstream_\w+\",'", "", body)
			    new = "log_format taskapi_json escape=json\n" + body
			else:
			    body = re.sub(r"\n *'\"(traceparent|traceresponse)\":\"\$\w+\",'", "", body)
			    body = body.replace(',"user_agent":"$http_user_agent"', "")
			    body = body.replace('"user_agent":"$http_user_agent"}', '"ua":0}')
			    new = "log_format taskapi_json escape=json\n" + body
			s = s[:m.start()] + new + ";\n" + s[m.end():]
			open(p, "w").write(s)
		EOF
		;;
	x-fastcgi-buffer-4k) # the first part of a response read into 4k (one
		# page, nginx's default), not 16k, allocated for every request
		sed -i 's/^fastcgi_buffer_size .*/fastcgi_buffer_size 4k;/' "$d/taskapi-fastcgi-common.conf" ;;
	baseline) # BENCH_ITEMS_BASELINE: files of another rendered config (e.g.
		# $VAR/nginx saved before a change) over this copy
		[ -d "${BENCH_ITEMS_BASELINE:-}" ] || die "variant baseline needs BENCH_ITEMS_BASELINE=DIR"
		local f
		for f in "$BENCH_ITEMS_BASELINE"/*.conf; do # (site.conf: this copy's own)
			[ "${f##*/}" = site.conf ] || cp "$f" "$d/"
		done
		sed -i -e "s|$VAR/nginx/|$d/|g" -e "s|$VAR/log/|$d/log/|g" "$d"/*.conf ;;
	x-one-worker) # worker_processes 1 instead of the stack's setting
		sed -i 's/^worker_processes .*/worker_processes 1;/' "$d/nginx-dev.conf" ;;
	x-cpu-affinity) # each nginx worker bound to one CPU
		sed -i 's/^worker_processes .*/&\nworker_cpu_affinity auto;/' "$d/nginx-dev.conf" ;;
	x-pcre-jit) # regular expressions compiled by PCRE's JIT
		sed -i '1i pcre_jit on;' "$d/nginx-dev.conf" ;;
	no-limit-conn) # only the blocking pool's locations have it
		sed -i '/^limit_conn /d' "$d/taskapi-fastcgi.conf" ;;
	*) die "unknown variant $2" ;;
	esac
}

# Writes the variant's configuration into $ITEMS/$1.
prepare() { # variant
	local d=$ITEMS/$1 ev
	rm -rf "$d"
	mkdir -p "$d/log"
	ev=$(sed -n 's|^ *server unix:\(.*taskapi-ev.sock\);|\1|p' "$VAR/nginx/taskapi-http.conf" | head -n 1)
	# The yardsticks run as many nginx workers as the stack's nginx, so
	# that only the configuration differs.
	WORKERS=$(sed -n 's/^worker_processes *\([^;]*\);/\1/p' "$VAR/nginx/nginx-dev.conf" | head -n 1)
	case $1 in
	minimal | return200)
		{
			cat <<-EOF
				pid $d/nginx.pid;
				error_log $d/log/error.log warn;
				worker_processes $WORKERS;
				events { worker_connections 8192; }
				http {
				    access_log off;
				    client_body_temp_path $d/client_body_temp;
				    fastcgi_temp_path $d/fastcgi_temp;
				    proxy_temp_path $d/proxy_temp;
				    scgi_temp_path $d/scgi_temp;
				    uwsgi_temp_path $d/uwsgi_temp;
				    keepalive_timeout 15s;
				    upstream ev { server unix:$ev; keepalive 512; keepalive_requests 1000; }
				    server {
				        listen 127.0.0.1:$PORT;
			EOF
			if [ "$1" = minimal ]; then
				cat <<-'EOF'
					        location / {
					            fastcgi_pass ev;
					            fastcgi_keep_conn on;
					            fastcgi_pass_request_headers off;
					            fastcgi_param REQUEST_METHOD $request_method;
					            fastcgi_param REQUEST_URI $request_uri;
					            fastcgi_param HTTP_AUTHORIZATION $http_authorization if_not_empty;
					        }
				EOF
			else
				cat <<-'EOF'
					        location / {
					            default_type "application/json; charset=utf-8";
					            return 200 '{"status":"ok","database":"ok"}';
					        }
				EOF
			fi
			echo "    }"
			echo "}"
		} >"$d/nginx-dev.conf"
		;;
	*)
		cp "$VAR"/nginx/*.conf "$d/"
		# Own port, pid, logs and temp files; no TLS server; paths to
		# the other files of this copy.
		sed -i -e "s|$VAR/nginx/|$d/|g" -e "s|$VAR/log/|$d/log/|g" "$d"/*.conf
		python3 - "$d/site.conf" "$PORT" <<-'EOF'
			import re, sys
			p, port = sys.argv[1], sys.argv[2]
			s = open(p).read()
			blocks = s.split("server {")
			keep = [b for b in blocks[1:] if " ssl" not in b.split("\n", 2)[1]]
			s = blocks[0] + "".join("server {" + b for b in keep)
			s = re.sub(r"listen 127\.0\.0\.1:\d+;", f"listen 127.0.0.1:{port};", s)
			open(p, "w").write(s)
		EOF
		apply "$d" "$1"
		;;
	esac
	mkdir -p "$d/client_body_temp"
	chown -R taskapi:taskapi "$d" 2>/dev/null || true
	as_svc nginx -t -q -p "$d" -c "$d/nginx-dev.conf" -e "$d/log/error.log" ||
		die "variant $1: nginx -t failed"
}

start() { # variant
	local d=$ITEMS/$1 _
	as_svc nginx -p "$d" -c "$d/nginx-dev.conf" -e "$d/log/error.log" || die "variant $1 did not start"
	running=$1
	for _ in $(seq 1 50); do
		curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health" 2>/dev/null && return 0
		sleep 0.1
	done
	die "variant $1 does not answer on :$PORT"
}

# One wrk run; prints "rps nginx_us_per_request non2xx p50_us p99_us
# app_us_per_request" (app: taskapi's master and workers, which some
# variants move work to or from).
measure() { # variant script path
	local d=$ITEMS/$1 raw=$tmp/wrk n app
	app=$(cat "$VAR/run/taskapi.pid")
	wrk -t1 -c64 -d1s -s "$BENCH_DIR/$2" "http://127.0.0.1:$PORT$3" >/dev/null 2>&1 # warm
	python3 "$BENCH_DIR/cputiers.py" snap "nginx=$(cat "$d/nginx.pid")" "app=$app" >"$tmp/c0"
	wrk -t1 -c64 -d"${SECS}s" --latency -s "$BENCH_DIR/$2" "http://127.0.0.1:$PORT$3" >"$raw" 2>&1 || true
	python3 "$BENCH_DIR/cputiers.py" snap "nginx=$(cat "$d/nginx.pid")" "app=$app" >"$tmp/c1"
	n=$(sed -n 's/^BENCHRESULT requests=\([0-9]*\).*/\1/p' "$raw")
	[ -n "$n" ] || die "variant $1: no result from wrk: $(cat "$raw")"
	python3 "$BENCH_DIR/cputiers.py" delta "$tmp/c0" "$tmp/c1" "$n" >"$tmp/cd"
	printf '%s %s %s %s %s %s\n' "$(sed -n 's/^Requests\/sec: *//p' "$raw")" \
		"$(sed -n 's/.*nginx=\([0-9.]*\).*/\1/p' "$tmp/cd")" \
		"$(sed -n 's/.* status=\([0-9]*\).*/\1/p' "$raw")" \
		"$(sed -n 's/.* p50_us=\([0-9]*\).*/\1/p' "$raw")" \
		"$(sed -n 's/.* p99_us=\([0-9]*\).*/\1/p' "$raw")" \
		"$(sed -n 's/.*app=\([0-9.]*\).*/\1/p' "$tmp/cd")"
}

for v in $VARIANTS; do prepare "$v"; done
rows=$tmp/rows
: >"$rows"
for r in $(seq 1 "$ROUNDS"); do
	echo "--- round $r of $ROUNDS" >&2
	for v in $VARIANTS; do
		start "$v"
		read -r rps us bad p50 p99 app < <(measure "$v" health.lua /health)
		printf '%s\thealth\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$r" "$rps" "$us" "$bad" "$p50" "$p99" "$app" | tee -a "$rows" >&2
		if [[ " $GET_VARIANTS " == *" $v "* ]]; then
			read -r rps us bad p50 p99 app < <(measure "$v" task_get.lua /api/v1/tasks)
			printf '%s\ttask_get\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$r" "$rps" "$us" "$bad" "$p50" "$p99" "$app" | tee -a "$rows" >&2
		fi
		stop
	done
done
cp "$rows" "${BENCH_ITEMS_OUT:-$tmp/../nginx-items.tsv}" 2>/dev/null || true
python3 - "$rows" "$ROUNDS" "$SECS" <<-'EOF'
	import statistics, sys
	rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
	med = {}
	order = []
	for v, ep, _, rps, us, bad, p50, p99, app in rows:
	    if v not in order:
	        order.append(v)
	    med.setdefault((v, ep), []).append((float(rps), float(us), int(bad or 0),
	                                        float(p50) / 1000, float(p99) / 1000,
	                                        float(app or 0)))
	def m(v, ep, i):
	    x = med.get((v, ep))
	    return statistics.median(r[i] for r in x) if x else None
	print(f"nginx CPU per request, medians of {sys.argv[2]} rounds of {sys.argv[3]} s "
	      "(wrk -t1 -c64, as many nginx workers as the stack's, the same event-worker socket):")
	print()
	print("| variant | /health nginx µs | vs shipped | GET task nginx µs | vs shipped | /health app µs | GET task app µs | /health req/s | /health p50 ms | p99 ms | p99/p50 | non-2xx |")
	print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	base_h, base_t = m("shipped", "health", 1), m("shipped", "task_get", 1)
	for v in order:
	    h, t = m(v, "health", 1), m(v, "task_get", 1)
	    dh = "" if h is None or base_h is None or v == "shipped" else f"{h - base_h:+.1f}"
	    dt = "" if t is None or base_t is None or v == "shipped" else f"{t - base_t:+.1f}"
	    bad = sum(r[2] for ep in ("health", "task_get") for r in med.get((v, ep), []))
	    p50, p99 = m(v, "health", 3), m(v, "health", 4)
	    ah, at = m(v, "health", 5), m(v, "task_get", 5)
	    print(f"| {v} | {h:.1f} | {dh} | " + ("" if t is None else f"{t:.1f}") + f" | {dt} | "
	          f"{ah:.1f} | " + ("" if at is None else f"{at:.1f}") + " | "
	          f"{m(v, 'health', 0):,.0f} | {p50:.2f} | {p99:.2f} | {p99 / p50:.1f} | {bad} |")
EOF
