# bench/rust-yardstick.sh: the Rust server the performance targets compare
# taskapi with (bench/experiments/rust-yardstick/: GET /api/v1/tasks/{id}
# and GET /health in hyper + tokio + tokio-postgres, the same SQL, token
# check and fields), built offline from Debian's packaged crates, started
# direct and behind a second nginx (proxy_pass, upstream keepalive).
# Sourced by bench/run.sh (targets rust_* and rustnx_*); the caller
# defines say, die, as_svc, VAR, PG_PORT, BUILD and sources
# yardstick-nginx.sh.
#
#   rust_up RUST_PORT PROXY_PORT   build, start both; sets RUST_PID (the
#                                  root of the server's process tree) and
#                                  RUST_NGINX_DIR
#   rust_down                      stop both (by pid)

RUST_CRATES=(cargo rustc librust-hyper-dev 'librust-hyper+server-dev'
	'librust-hyper+http1-dev' 'librust-hyper+tcp-dev' 'librust-hyper+runtime-dev'
	librust-tokio-dev 'librust-tokio+rt-multi-thread-dev' 'librust-tokio+macros-dev'
	'librust-tokio+net-dev' librust-tokio-postgres-dev librust-hmac-dev
	librust-sha2-dev librust-base64-dev librust-serde-json-dev)
RUST_PID=
RUST_NGINX_DIR=

rust_build() { # -> path of the binary on stdout
	local src bin dir
	src=$(dirname "${BASH_SOURCE[0]}")/experiments/rust-yardstick
	dir=$BUILD/bench-rust
	bin=$dir/rust-yardstick
	if ! dpkg-query -W "${RUST_CRATES[@]}" >/dev/null 2>&1; then
		[ "$(id -u)" = 0 ] || die "the Rust yardstick needs: apt-get install ${RUST_CRATES[*]}"
		say "installing cargo and the crates of the Rust yardstick (Debian packages)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${RUST_CRATES[@]}" >/dev/null ||
			die "apt-get install of the Rust crates failed"
	fi
	# Built already from these sources: a rebuild takes minutes here.
	if [ -x "$bin" ] && [ -z "$(find "$src" -newer "$bin" -type f | head -n 1)" ]; then
		printf '%s\n' "$bin"
		return 0
	fi
	mkdir -p "$dir/cargo"
	# Debian's crates only, offline: no registry is needed or reached.
	cat >"$dir/cargo/config.toml" <<-EOF
		[source.crates-io]
		replace-with = "debian"
		[source.debian]
		directory = "/usr/share/cargo/registry"
		[net]
		offline = true
	EOF
	rm -rf "$dir/src"
	cp -r "$src" "$dir/src"
	(cd "$dir/src" && CARGO_HOME=$dir/cargo /usr/bin/cargo build -q --release --offline \
		--target-dir "$dir/target") >&2 || die "cargo build of the Rust yardstick failed"
	cp "$dir/target/release/rust-yardstick" "$bin"
	chmod 755 "$dir" "$bin"
	printf '%s\n' "$bin"
}

rust_up() { # rust_port proxy_port
	local bin secret
	bin=$(rust_build)
	# One left running by an earlier BENCH_KEEP_STACK=1 run holds the ports.
	RUST_NGINX_DIR=$VAR/bench-rust-nginx
	RUST_PID=$(cat "$BUILD/bench-rust/rust.pid" 2>/dev/null || true)
	rust_down "$1"
	secret=$(sed -n 's/^JWT_SECRET=//p' "$VAR/taskapi.env")
	as_svc env LISTEN="127.0.0.1:$1" JWT_SECRET="$secret" \
		DATABASE="host=$VAR/run port=$PG_PORT dbname=taskapi user=taskapi" \
		"$bin" </dev/null >/dev/null 2>"$VAR/log/rust-yardstick.log" &
	RUST_PID=$!
	echo "$RUST_PID" >"$BUILD/bench-rust/rust.pid"
	sleep 0.5
	kill -0 "$RUST_PID" 2>/dev/null ||
		die "the Rust yardstick exited at once (port $1 taken?): $(cat "$VAR/log/rust-yardstick.log")"
	as_svc mkdir -p "$RUST_NGINX_DIR"
	yardstick_nginx_conf "$RUST_NGINX_DIR" "bench/run.sh: nginx in front of the Rust yardstick" <<-EOF
		    upstream rust {
		        server 127.0.0.1:$1;
		        keepalive 512;
		        keepalive_requests 1000000;
		    }
		    server {
		        listen 127.0.0.1:$2;
		        location / {
		            proxy_pass http://rust;
		            proxy_http_version 1.1;
		            proxy_set_header Connection "";
		        }
		    }
	EOF
	as_svc nginx -p "$RUST_NGINX_DIR" -c "$RUST_NGINX_DIR/nginx.conf" -e "$RUST_NGINX_DIR/error.log" ||
		die "the nginx in front of the Rust yardstick did not start"
	local _
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "http://127.0.0.1:$2/health" 2>/dev/null && return 0
		sleep 0.1
	done
	die "the Rust yardstick does not answer on :$1 / :$2 ($(cat "$VAR/log/rust-yardstick.log"))"
}

rust_down() { # [port: also stop the server listening there]
	local p _
	if [ -n "${1:-}" ]; then
		# An earlier run's server whose runuser has exited (so RUST_PID
		# no longer leads to it) still holds the port: found by it.
		for p in $(ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2); do
			if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = rust-yardstick ]; then
				kill -TERM "$p" 2>/dev/null || true
			fi
		done
		for _ in $(seq 1 50); do
			ss -ltnH "sport = :$1" 2>/dev/null | grep -q . || break
			sleep 0.1
		done
	fi
	if [ -n "$RUST_NGINX_DIR" ] && [ -f "$RUST_NGINX_DIR/nginx.pid" ]; then
		kill -QUIT "$(cat "$RUST_NGINX_DIR/nginx.pid")" 2>/dev/null || true
	fi
	if [ -n "$RUST_PID" ] && [ "$(cat /proc/"$RUST_PID"/comm 2>/dev/null)" = runuser ]; then
		# The server itself first (runuser does not always pass the TERM
		# on), then runuser.
		for p in $(cat /proc/"$RUST_PID"/task/*/children 2>/dev/null); do
			kill -TERM "$p" 2>/dev/null || true
		done
		kill -TERM "$RUST_PID" 2>/dev/null || true
		wait "$RUST_PID" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$RUST_PID" 2>/dev/null || break
			sleep 0.1
		done
	fi
	RUST_PID=
}
