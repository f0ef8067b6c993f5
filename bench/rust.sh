#!/usr/bin/env bash
# bench/rust.sh: taskapi against the Rust stack the performance issue
# compares it with, on this machine, in the same minutes.
#
# bench/rust-yardstick/ is GET /api/v1/tasks/{id} and GET /health in
# hyper + tokio + tokio-postgres (taskapi's task_get SQL, the same HS256
# token check, the same JSON fields), built offline from Debian's
# packaged crates.  Alternated, each with bench/cpu-per-request.sh
# (wrk -t1 c=64): req/s and each program's CPU per request.
#
#   taskapi               the bench stack: nginx -> FastCGI -> event worker
#   rust direct           wrk -> the Rust server
#   rust behind nginx     wrk -> a second nginx (proxy_pass, upstream
#                         keepalive; no access log, no added headers, so
#                         lighter than the stack's) -> the Rust server
#   pgbench -S -M prepared -c 64 -j 1, the issue's yardstick, each round.
#
# Needs a seeded bench stack left running:
#   BENCH_KEEP_STACK=1 bench/run.sh && bench/rust.sh [ROUNDS]
# Installs cargo and the crates (Debian packages) when run as root.
set -eu
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
BUILD=${TASKAPI_BUILD:-$ROOT/build-bench}
VAR=$BUILD/var
PG_PORT=${TASKAPI_PG_PORT:-55440}
HTTP=http://127.0.0.1:${BENCH_HTTP_PORT:-18090}
RUST_PORT=${BENCH_RUST_PORT:-18094}
PROXY_PORT=${BENCH_RUST_PROXY_PORT:-18095}
SECS=${BENCH_RUST_SECS:-6}
rounds=${1:-3}
die() { echo "rust.sh: $*" >&2; exit 1; }
as_svc() { if [ "$(id -u)" = 0 ]; then runuser -u taskapi -- "$@"; else "$@"; fi; }
psql_() { as_svc psql -X -q -At -h "$VAR/run" -p "$PG_PORT" -U postgres "$@"; }

curl -fsS -o /dev/null "$HTTP/health" || die "the bench stack does not answer on $HTTP"
: "${BENCH_DATA:=$(ls -td "$BENCH_DIR"/out/*/data 2>/dev/null | head -n 1)}"
[ -r "$BENCH_DATA/ids" ] || die "no seeded data (BENCH_DATA)"
[ -r "$VAR/taskapi.env" ] || die "no $VAR/taskapi.env"

# Debian's cargo and crates only: a rustup toolchain on PATH would build
# with other versions than a fresh Debian 12 has.
CRATES=(cargo rustc librust-hyper-dev 'librust-hyper+server-dev'
	'librust-hyper+http1-dev' 'librust-hyper+tcp-dev' 'librust-hyper+runtime-dev'
	librust-tokio-dev 'librust-tokio+rt-multi-thread-dev' 'librust-tokio+macros-dev'
	'librust-tokio+net-dev' librust-tokio-postgres-dev librust-hmac-dev
	librust-sha2-dev librust-base64-dev librust-serde-json-dev)
if ! dpkg-query -W "${CRATES[@]}" >/dev/null 2>&1; then
	[ "$(id -u)" = 0 ] || die "needs: apt-get install ${CRATES[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${CRATES[@]}" >/dev/null
fi

tmp=$(mktemp -d)
chmod 755 "$tmp"
RUST_NGINX=$VAR/bench-rust-nginx
cleanup() {
	pkill -f "^$tmp/rust-yardstick$" || true
	[ -f "$RUST_NGINX/nginx.pid" ] && as_svc nginx -p "$RUST_NGINX" \
		-c "$RUST_NGINX/nginx.conf" -e "$RUST_NGINX/error.log" -s quit 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

target=$BUILD/bench-rust-target
mkdir -p "$tmp/cargo"
cat >"$tmp/cargo/config.toml" <<-EOF
	[source.crates-io]
	replace-with = "debian"
	[source.debian]
	directory = "/usr/share/cargo/registry"
	[net]
	offline = true
EOF
echo "building bench/rust-yardstick (Debian's cargo, offline)..."
cp -r "$BENCH_DIR/rust-yardstick" "$tmp/src"
(cd "$tmp/src" && CARGO_HOME=$tmp/cargo /usr/bin/cargo build -q --release --offline \
	--target-dir "$target") || die "cargo build failed"
cp "$target/release/rust-yardstick" "$tmp/rust-yardstick"

# A fresh token (the run's may have expired) in a data dir of our own.
mkdir "$tmp/data"
cp "$BENCH_DATA/ids" "$tmp/data/ids"
curl -fsS -X POST -H 'Content-Type: application/json' \
	--data '{"email":"bench-api@bench.invalid","password":"bench-password-1"}' \
	"$HTTP/api/v1/auth/login" | jq -r .token >"$tmp/data/token"
grep -q '\.' "$tmp/data/token" || die "login as the bench user failed"
chmod -R a+rX "$tmp"
export BENCH_DATA=$tmp/data

secret=$(sed -n 's/^JWT_SECRET=//p' "$VAR/taskapi.env")
as_svc env LISTEN="127.0.0.1:$RUST_PORT" JWT_SECRET="$secret" \
	DATABASE="host=$VAR/run port=$PG_PORT dbname=taskapi user=taskapi" \
	"$tmp/rust-yardstick" </dev/null >/dev/null 2>"$tmp/rust.log" &
as_svc mkdir -p "$RUST_NGINX"
as_svc sh -c "cat >'$RUST_NGINX/nginx.conf'" <<-EOF
	# Written by bench/rust.sh: nginx in front of the Rust yardstick.
	pid                  $RUST_NGINX/nginx.pid;
	error_log            $RUST_NGINX/error.log warn;
	worker_processes     1;
	worker_rlimit_nofile 8192;
	events {
	    worker_connections 4096;
	}
	http {
	    access_log off;
	    client_body_temp_path $RUST_NGINX/client_body_temp;
	    fastcgi_temp_path     $RUST_NGINX/fastcgi_temp;
	    proxy_temp_path       $RUST_NGINX/proxy_temp;
	    scgi_temp_path        $RUST_NGINX/scgi_temp;
	    uwsgi_temp_path       $RUST_NGINX/uwsgi_temp;
	    keepalive_timeout 15s;
	    server_tokens off;
	    upstream rust {
	        server 127.0.0.1:$RUST_PORT;
	        keepalive 256;
	        keepalive_requests 1000000;
	    }
	    server {
	        listen 127.0.0.1:$PROXY_PORT;
	        location / {
	            proxy_pass http://rust;
	            proxy_http_version 1.1;
	            proxy_set_header Connection "";
	        }
	    }
	}
EOF
as_svc nginx -p "$RUST_NGINX" -c "$RUST_NGINX/nginx.conf" -e "$RUST_NGINX/error.log" ||
	die "the proxy nginx did not start"
id=$(head -n 1 "$tmp/data/ids")
for _ in $(seq 1 50); do
	curl -fsS -o /dev/null "http://127.0.0.1:$RUST_PORT/health" 2>/dev/null && break
	sleep 0.1
done
for url in "$HTTP" "http://127.0.0.1:$RUST_PORT" "http://127.0.0.1:$PROXY_PORT"; do
	code=$(curl -sS -o /dev/null -w '%{http_code}' \
		-H "Authorization: Bearer $(cat "$tmp/data/token")" "$url/api/v1/tasks/$id")
	[ "$code" = 200 ] || die "$url/api/v1/tasks/$id: HTTP $code $(cat "$tmp/rust.log")"
done

measure() { # label port script path
	wrk -t1 -c64 -d2s -s "$BENCH_DIR/$3" "http://127.0.0.1:$2$4" >/dev/null 2>&1 # warm
	BENCH_HTTP_PORT=$2 "$BENCH_DIR/cpu-per-request.sh" "$3" "$SECS" "$4" >"$tmp/m" 2>&1 ||
		die "$1: $(cat "$tmp/m")"
	grep -q ', 0 non-2xx' "$tmp/m" || die "$1: non-2xx answers: $(head -n 1 "$tmp/m")"
	awk -v l="$1" 'NR == 1 { rps = $3 } NR > 1 { v[$1] = $2 }
		END { printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l, rps, v["nginx"], v["postgres"],
		      v["taskapi"] + v["rust-yardstick"], v["wrk"], v["total"] }' "$tmp/m" >>"$tmp/rows"
	tail -n 1 "$tmp/rows"
}

hp=${HTTP##*:}
for r in $(seq 1 "$rounds"); do
	echo "--- round $r of $rounds"
	measure "GET task: taskapi (nginx, FastCGI)" "$hp" task_get.lua /api/v1/tasks/x
	measure "GET task: rust direct" "$RUST_PORT" task_get.lua /api/v1/tasks/x
	measure "GET task: rust behind nginx" "$PROXY_PORT" task_get.lua /api/v1/tasks/x
	measure "health: taskapi (nginx, FastCGI)" "$hp" health.lua /health
	measure "health: rust direct" "$RUST_PORT" health.lua /health
	measure "health: rust behind nginx" "$PROXY_PORT" health.lua /health
	tps=$(as_svc pgbench -h "$VAR/run" -p "$PG_PORT" -U postgres -S -M prepared -c 64 -j 1 \
		-T "$SECS" -n pgbench 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
	printf 'pgbench -S c=64\t%s\t\t\t\t\t\n' "${tps:-NA}" | tee -a "$tmp/rows"
done

echo
echo "Medians of $rounds rounds (wrk -t1 -c64, ${SECS} s; CPU µs per request by program;"
echo "\"server\" is taskapi's event worker or the Rust server):"
echo
python3 - "$tmp/rows" <<'EOF'
import statistics, sys
rows, order = {}, []
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if f[0] not in rows:
        rows[f[0]] = []
        order.append(f[0])
    rows[f[0]].append(f[1:])
def med(vals):
    v = [float(x) for x in vals if x not in ("", "NA")]
    return statistics.median(v) if v else None
print("| what | req/s | nginx | PostgreSQL | server | wrk | total |")
print("|---|---:|---:|---:|---:|---:|---:|")
for k in order:
    cols = [med([r[i] for r in rows[k]]) for i in range(6)]
    cells = ["{:,.0f}".format(cols[0]) if cols[0] else "NA"]
    cells += ["" if c is None else "{:.1f}".format(c) for c in cols[1:]]
    print("| " + k + " | " + " | ".join(cells) + " |")
pgb = med([r[0] for r in rows.get("pgbench -S c=64", [])])
print()
for k in order:
    if k.startswith("GET task") and pgb:
        print("{}: {:.2f}x pgbench".format(k, med([r[0] for r in rows[k]]) / pgb))
EOF
