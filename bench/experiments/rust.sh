#!/usr/bin/env bash
# bench/experiments/rust.sh: taskapi against the Rust stack the performance targets
# compares it with, on this machine, in the same minutes.
#
# bench/experiments/rust-yardstick/ is GET /api/v1/tasks/{id} and GET /health in
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
#   pgbench -S -M prepared -c 64 -j 1, the targets' yardstick, each round.
#
# Needs a seeded bench stack left running:
#   BENCH_KEEP_STACK=1 bench/run.sh && bench/experiments/rust.sh [ROUNDS]
# Installs cargo and the crates (Debian packages) when run as root.
set -eu
# This experiment lives in bench/experiments/; the benchmark's own scripts
# (BENCH_DIR) are one level up.
EXP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_DIR=$(dirname "$EXP_DIR")
# shellcheck source=bench/experiments/side-by-side.sh
. "$EXP_DIR/side-by-side.sh"
RUST_PORT=${BENCH_RUST_PORT:-18094}
PROXY_PORT=${BENCH_RUST_PROXY_PORT:-18095}
SECS=${BENCH_RUST_SECS:-6}
rounds=${1:-3}
psql_() { as_svc psql -X -q -At -h "$VAR/run" -p "$PG_PORT" -U postgres "$@"; }

curl -fsS -o /dev/null "$HTTP/health" || die "the bench stack does not answer on $HTTP"
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
echo "building bench/experiments/rust-yardstick (Debian's cargo, offline)..."
cp -r "$EXP_DIR/rust-yardstick" "$tmp/src"
(cd "$tmp/src" && CARGO_HOME=$tmp/cargo /usr/bin/cargo build -q --release --offline \
	--target-dir "$target") || die "cargo build failed"
cp "$target/release/rust-yardstick" "$tmp/rust-yardstick"

sbs_token

secret=$(sed -n 's/^JWT_SECRET=//p' "$VAR/taskapi.env")
as_svc env LISTEN="127.0.0.1:$RUST_PORT" JWT_SECRET="$secret" \
	DATABASE="host=$VAR/run port=$PG_PORT dbname=taskapi user=taskapi" \
	"$tmp/rust-yardstick" </dev/null >/dev/null 2>"$tmp/rust.log" &
as_svc mkdir -p "$RUST_NGINX"
# shellcheck source=bench/yardstick-nginx.sh
. "$BENCH_DIR/yardstick-nginx.sh"
yardstick_nginx_conf "$RUST_NGINX" "bench/experiments/rust.sh: nginx in front of the Rust yardstick" <<-EOF
	    upstream rust {
	        server 127.0.0.1:$RUST_PORT;
	        keepalive 512;
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

hp=${HTTP##*:}
for r in $(seq 1 "$rounds"); do
	echo "--- round $r of $rounds"
	sbs_measure "GET task: taskapi (nginx, FastCGI)" "$hp" task_get.lua /api/v1/tasks/x
	sbs_measure "GET task: rust direct" "$RUST_PORT" task_get.lua /api/v1/tasks/x
	sbs_measure "GET task: rust behind nginx" "$PROXY_PORT" task_get.lua /api/v1/tasks/x
	sbs_measure "health: taskapi (nginx, FastCGI)" "$hp" health.lua /health
	sbs_measure "health: rust direct" "$RUST_PORT" health.lua /health
	sbs_measure "health: rust behind nginx" "$PROXY_PORT" health.lua /health
	sbs_pgbench
done
sbs_report "$rounds"
