#!/usr/bin/env bash
# bench/run.sh: the taskapi benchmark in one command.
#
# Builds an optimized binary (CFLAGS=-O2 -g) in its own build directory,
# starts a private stack on its own ports with ./dev up (so it can run next
# to the dev stack), seeds users and tasks, then measures with wrk (one
# client thread) the API endpoints and, in the same run, two yardsticks: a
# second nginx answering "return 200" with the health JSON, and
# pgbench -S -M prepared on the stack's PostgreSQL, over TCP as the targets
# measured it and over the unix socket (bench/pg-tcp.sh).  Every figure is the
# median of BENCH_RUNS runs.  Prints a table and writes bench/RESULTS.md
# (the part between the bench:begin/bench:end markers; the rest of the
# file, "## Notes" included, is kept).  Stops the stack at the end.
#
# Settings (environment), defaults in brackets:
#   BENCH_RUNS [3]            runs per figure (the median is reported)
#   BENCH_DURATION [8]        seconds per wrk / pgbench run
#   BENCH_CONCURRENCY ["16 64 256"]
#   BENCH_HIGH_CONCURRENCY [1024]  the errors-only pass (GET /health and
#                             GET /api/v1/tasks/{id}); empty to skip
#   BENCH_ENDPOINTS ["health task_get tasks_list task_create task_patch
#                    static minimal rust_health rust_get rustnx_health
#                    rustnx_get pgbench pgbench_unix"]   any subset;
#                    minimal: /health through a bench-only minimal nginx
#                    FastCGI pass to the same event-worker socket;
#                    rust_*: the Rust yardstick direct, rustnx_*: behind
#                    nginx (bench/rust-yardstick.sh); pgbench is over TCP
#                    (the targets' yardstick), pgbench_unix over the unix
#                    socket (bench/pg-tcp.sh)
#   BENCH_QUICK=1             sanity check: 1 run, 3 s, c=64 only (explicit
#                             settings above still win); writes its
#                             RESULTS.md only under bench/out/
#   BENCH_TASKS [10000]       seeded tasks of the bench user
#   BENCH_EXPORT_TASKS [100000]  tasks of the export user; 0 skips the export
#   BENCH_WORKERS             TASKAPI_WORKERS for the pool [taskapi's default]
#   BENCH_WRK_THREADS [1]     wrk -t
#   BENCH_WRK_TIMEOUT [2]     wrk --timeout, seconds (wrk's default)
#   BENCH_BUILD [./build-bench]  build directory (its var/ holds the stack)
#   BENCH_HTTP_PORT [18090] BENCH_TLS_PORT [18453] BENCH_PG_PORT [55440]
#   BENCH_STATIC_PORT [18091] the yardstick nginx; the minimal FastCGI
#                             nginx, the Rust server and its nginx take
#                             the next three ports (BENCH_MINIMAL_PORT,
#                             BENCH_RUST_PORT, BENCH_RUST_PROXY_PORT)
#   BENCH_PLOT [1]            0: no SVG plot (bench/plot.sh)
#   BENCH_OUT [bench/out/<date>]  raw outputs of this run
#   BENCH_RESULTS [bench/RESULTS.md; under BENCH_OUT in quick mode]
#   BENCH_KEEP_STACK=1        leave the stack (and the yardstick nginx) up
#   BENCH_FRESH=1             start from an empty BENCH_BUILD/var (new cluster)
#   BENCH_SRC [..]            source tree to build and run (its own ./dev);
#   BENCH_SRC_COMMIT          what to call it when it is not a git checkout
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# BENCH_SRC: benchmark another source tree (e.g. `git archive <commit>`
# unpacked somewhere) with these scripts; it needs its own ./dev.
ROOT=$(cd "${BENCH_SRC:-$BENCH_DIR/..}" && pwd)
[ -x "$ROOT/dev" ] || { echo "bench: $ROOT/dev not found" >&2; exit 1; }

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	RUNS=${BENCH_RUNS:-1}
	DURATION=${BENCH_DURATION:-3}
	CONC=${BENCH_CONCURRENCY:-64}
else
	RUNS=${BENCH_RUNS:-3}
	DURATION=${BENCH_DURATION:-8}
	CONC=${BENCH_CONCURRENCY:-16 64 256}
fi
HIGH_CONC=${BENCH_HIGH_CONCURRENCY-1024}
ENDPOINTS=${BENCH_ENDPOINTS:-health task_get tasks_list task_create task_patch static minimal rust_health rust_get rustnx_health rustnx_get pgbench pgbench_unix}
NTASKS=${BENCH_TASKS:-10000}
# Users with no tasks beside the bench user (the seeding, below).
FILLER_USERS=1000
EXPORT_TASKS=${BENCH_EXPORT_TASKS:-100000}
WRK_THREADS=${BENCH_WRK_THREADS:-1}
WRK_TIMEOUT=${BENCH_WRK_TIMEOUT:-2}
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
HTTP_PORT=${BENCH_HTTP_PORT:-18090}
TLS_PORT=${BENCH_TLS_PORT:-18453}
PG_PORT=${BENCH_PG_PORT:-55440}
STATIC_PORT=${BENCH_STATIC_PORT:-18091}
MINIMAL_PORT=${BENCH_MINIMAL_PORT:-$((STATIC_PORT + 1))}
RUST_PORT=${BENCH_RUST_PORT:-$((STATIC_PORT + 2))}
RUST_PROXY_PORT=${BENCH_RUST_PROXY_PORT:-$((STATIC_PORT + 3))}
OUT=${BENCH_OUT:-$BENCH_DIR/out/$(date -u +%Y%m%d-%H%M%S)}
if [ "$QUICK" = 1 ]; then
	RESULTS=${BENCH_RESULTS:-$OUT/RESULTS.md}
else
	RESULTS=${BENCH_RESULTS:-$BENCH_DIR/RESULTS.md}
fi
CFLAGS_BENCH='-O2 -g'
CONF_FLAGS="CFLAGS=$CFLAGS_BENCH"
SVC_USER=taskapi
PGB_SCALE=10
PGB_SAMPLING=0.05   # share of pgbench transactions logged, for p50/p99

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
as_svc() { if is_root; then runuser -u "$SVC_USER" -- "$@"; else "$@"; fi; }
# shellcheck source=bench/yardstick-nginx.sh
. "$BENCH_DIR/yardstick-nginx.sh"
# shellcheck source=bench/rust-yardstick.sh
. "$BENCH_DIR/rust-yardstick.sh"

for t in $ENDPOINTS; do
	case $t in
	health | task_get | tasks_list | task_create | task_patch | static | minimal | \
		rust_health | rust_get | rustnx_health | rustnx_get | pgbench | pgbench_unix) ;;
	*) die "unknown endpoint '$t' in BENCH_ENDPOINTS" ;;
	esac
done
for c in $CONC $HIGH_CONC; do
	[[ $c =~ ^[0-9]+$ ]] || die "bad concurrency '$c'"
done
for cmd in wrk pgbench nginx curl jq python3 git; do
	command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found"
done

# wrk needs a descriptor per connection (c=1024); nginx and the pool
# inherit the limit from here through ./dev up.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 4096 ] || die "ulimit -n is $(ulimit -n); need at least 4096"

mkdir -p "$OUT/raw" "$OUT/mem" "$OUT/data"
RUNS_TSV=$OUT/runs.tsv
# cpu_*: microseconds of CPU (utime + stime) per request of each tier's
# process tree over the run (bench/cputiers.py); server = nginx + app + pg.
printf 'target\tconc\trep\trps\tp50_us\tp99_us\tnon2xx\tconnect\tread\twrite\ttimeout\trequests\tstatuses\tapp_warn\tnginx_err\traw\tp999_us\tcpu_nginx\tcpu_app\tcpu_pg\tcpu_client\tcpu_server\n' >"$RUNS_TSV"
META=$OUT/meta.tsv
: >"$META"
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }

# --- 1. build ----------------------------------------------------------------
# ./dev word-splits CONFIGURE_FLAGS, so 'CFLAGS=-O2 -g' cannot go through it
# (configure would see a lone "-g").  We configure the bench build directory
# ourselves and write .configure-flags with the very string we hand ./dev
# as CONFIGURE_FLAGS: ./dev then sees matching flags, does not reconfigure,
# and only runs make.

build() {
	if [ ! -x "$ROOT/configure" ] || [ "$ROOT/configure.ac" -nt "$ROOT/configure" ]; then
		say "autoreconf"
		(cd "$ROOT" && autoreconf -fi >/dev/null 2>&1) || (cd "$ROOT" && autoreconf -fi)
	fi
	mkdir -p "$BUILD"
	if [ ! -f "$BUILD/Makefile" ] || [ "$(cat "$BUILD/.configure-flags" 2>/dev/null)" != "$CONF_FLAGS" ]; then
		say "configure CFLAGS='$CFLAGS_BENCH' in $BUILD"
		(cd "$BUILD" && "$ROOT/configure" --quiet CFLAGS="$CFLAGS_BENCH") >"$OUT/configure.log" 2>&1 ||
			{ cat "$OUT/configure.log" >&2; die "configure failed"; }
		printf '%s' "$CONF_FLAGS" >"$BUILD/.configure-flags"
	fi
	grep -q "^CFLAGS = $CFLAGS_BENCH\$" "$BUILD/Makefile" ||
		die "$BUILD/Makefile does not have CFLAGS = $CFLAGS_BENCH"
}

DEV_ENV=(env -u TASKAPI_WORKERS TASKAPI_BUILD="$BUILD" TASKAPI_HTTP_PORT="$HTTP_PORT"
	TASKAPI_TLS_PORT="$TLS_PORT" TASKAPI_PG_PORT="$PG_PORT" CONFIGURE_FLAGS="$CONF_FLAGS")
[ -n "${BENCH_WORKERS:-}" ] && DEV_ENV+=(TASKAPI_WORKERS="$BENCH_WORKERS")
dev() { "${DEV_ENV[@]}" "$ROOT/dev" "$@"; }

# --- stop everything at the end ---------------------------------------------

STACK_STARTED=0
STATIC_DIR=
MINIMAL_DIR=
BG_PIDS=()
cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${BG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	if [ "${BENCH_KEEP_STACK:-0}" != 1 ]; then
		[ -n "$STATIC_DIR" ] && static_down
		[ -n "$MINIMAL_DIR" ] && minimal_down
		# By its port too: once a server whose runuser did not pass the
		# TERM on outlived the run.
		rust_down "${RUST_PORT:-}"
		if [ "$STACK_STARTED" = 1 ]; then
			say "stopping the bench stack"
			dev down >>"$OUT/dev.log" 2>&1 || say "./dev down failed (see $OUT/dev.log)"
		fi
	else
		say "BENCH_KEEP_STACK=1: stack left running (./dev down with TASKAPI_BUILD=$BUILD ...)"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

# --- 2. the stack --------------------------------------------------------------

say "output: $OUT"
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
# The working tree may hold uncommitted work: keep exactly what was built.
git -C "$ROOT" diff HEAD >"$OUT/worktree.diff" 2>/dev/null || true
git -C "$ROOT" ls-files --others --exclude-standard -- src nginx sql Makefile.am configure.ac dev \
	>"$OUT/worktree-untracked.txt" 2>/dev/null || true
if [ -s "$OUT/worktree-untracked.txt" ]; then
	tar -C "$ROOT" -czf "$OUT/worktree-untracked.tar.gz" -T "$OUT/worktree-untracked.txt" 2>/dev/null || true
fi
meta worktree_sha "$(cat "$OUT/worktree.diff" "$OUT/worktree-untracked.tar.gz" 2>/dev/null | sha256sum | cut -c1-12)"
# The commit as built (the tree may move on while the benchmark runs).
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "${BENCH_SRC_COMMIT:-unknown}")
dirty_files=
if git -C "$ROOT" rev-parse --show-toplevel 2>/dev/null | grep -qx "$ROOT"; then
	dirty_files=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | awk '{ print $2 }' | tr '\n' ' ')
fi
[ -n "$dirty_files" ] && commit="$commit-dirty"
meta commit "$commit"
meta dirty_files "$dirty_files"
build
# BENCH_FRESH=1: a new var/ (database cluster, env file, logs), for when
# an older bench cluster no longer suits ./dev.  Only with the stack down.
if [ "${BENCH_FRESH:-0}" = 1 ] && [ -e "$BUILD/var" ]; then
	dev down >>"$OUT/dev.log" 2>&1 || true
	say "BENCH_FRESH=1: removing $(readlink -f "$BUILD/var")"
	rm -rf "$(readlink -f "$BUILD/var")"
	rm -f "$BUILD/var"
fi
# A TASKAPI_WORKERS left in the env file by an earlier BENCH_WORKERS run
# would stick (./dev only ever adds the line): drop it unless asked for.
if [ -z "${BENCH_WORKERS:-}" ] && [ -f "$BUILD/var/taskapi.env" ] &&
	grep -q '^TASKAPI_WORKERS=' "$BUILD/var/taskapi.env"; then
	as_svc sed -i '/^TASKAPI_WORKERS=/d' "$(readlink -f "$BUILD/var")/taskapi.env"
fi
# The logs are the bench stack's own: start them afresh, so that they hold
# this run only (all their writers use O_APPEND, so truncating under a
# stack left running is safe too).
logs_reset() {
	local f
	for f in taskapi.log nginx-access.log nginx-error.log; do
		if [ -f "$BUILD/var/log/$f" ]; then : >"$BUILD/var/log/$f"; fi
	done
}
logs_reset
say "./dev up (http :$HTTP_PORT, pg :$PG_PORT, build $BUILD)"
STACK_STARTED=1
dev up >>"$OUT/dev.log" 2>&1 || {
	tail -n 30 "$OUT/dev.log" >&2
	die "./dev up failed (if the bench's database cluster predates a change in ./dev, BENCH_FRESH=1 starts a new one)"
}
VAR=$(readlink -f "$BUILD/var")
MASTER=$(cat "$VAR/run/taskapi.pid")
NGINX_PID=$(cat "$VAR/nginx/nginx.pid")
PG_PID=$(head -n 1 "$VAR/pgdata/postmaster.pid")
EV_SOCK=$VAR/run/taskapi-ev.sock
APP_LOG=$VAR/log/taskapi.log
ACCESS_LOG=$VAR/log/nginx-access.log
NGINX_ERR=$VAR/log/nginx-error.log
BASE=http://127.0.0.1:$HTTP_PORT
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$VAR/run" -p "$PG_PORT")
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
# shellcheck source=bench/pg-tcp.sh
. "$BENCH_DIR/pg-tcp.sh"

# --- 3. the nginx yardstick ---------------------------------------------------
# A second nginx (same binary, as many workers as the stack's, same
# worker_connections / keepalive) that only answers "return 200" with the
# health JSON.  No access log: this is nginx alone, the ceiling of what
# the stack's nginx could do in front of the pool.

static_down() {
	pid_alive "$STATIC_DIR/nginx.pid" || return 0
	kill -QUIT "$(cat "$STATIC_DIR/nginx.pid")" 2>/dev/null || true
	for _ in $(seq 1 50); do
		pid_alive "$STATIC_DIR/nginx.pid" || return 0
		sleep 0.1
	done
}

static_up() {
	STATIC_DIR=$VAR/bench-static-nginx
	as_svc mkdir -p "$STATIC_DIR"
	static_down # one left over by an interrupted run
	yardstick_nginx_conf "$STATIC_DIR" 'bench/run.sh: the "nginx static" yardstick' <<-EOF
		    server {
		        listen 127.0.0.1:$STATIC_PORT;
		        location = /health {
		            default_type "application/json; charset=utf-8";
		            return 200 '{"status":"ok","database":"ok"}';
		        }
		    }
	EOF
	local args=(-p "$STATIC_DIR" -c "$STATIC_DIR/nginx.conf" -e "$STATIC_DIR/error.log")
	as_svc nginx -t -q "${args[@]}" || die "yardstick nginx: configuration test failed"
	as_svc nginx "${args[@]}" || die "yardstick nginx did not start"
	for _ in $(seq 1 50); do
		curl -fsS -o /dev/null "http://127.0.0.1:$STATIC_PORT/health" 2>/dev/null && return 0
		sleep 0.1
	done
	die "yardstick nginx does not answer on :$STATIC_PORT"
}

has() { [[ " $ENDPOINTS " == *" $1 "* ]]; }

if has static; then
	say "yardstick nginx on :$STATIC_PORT"
	static_up
fi

# --- 3b. the minimal FastCGI pass ----------------------------------------------
# What nginx costs to pass a request to the event worker at the least: the
# same nginx binary and worker count, to the stack's own event-worker
# socket, with upstream keepalive and fastcgi_keep_conn like the stack,
# and nothing else: no access log, no added headers, no maps, no error
# pages, three params (method, URI and the bearer token, so GET task is
# served too).  The shipped configuration's nginx CPU per request is rated
# against this one's, measured in the same run (target: <= 1.15x).

minimal_down() {
	pid_alive "$MINIMAL_DIR/nginx.pid" || return 0
	kill -QUIT "$(cat "$MINIMAL_DIR/nginx.pid")" 2>/dev/null || true
	for _ in $(seq 1 50); do
		pid_alive "$MINIMAL_DIR/nginx.pid" || return 0
		sleep 0.1
	done
}

minimal_up() {
	MINIMAL_DIR=$VAR/bench-minimal-nginx
	as_svc mkdir -p "$MINIMAL_DIR"
	minimal_down
	yardstick_nginx_conf "$MINIMAL_DIR" 'bench/run.sh: the "minimal FastCGI pass" yardstick' <<-EOF
		    upstream ev {
		        server unix:$EV_SOCK;
		        keepalive 512;
		        keepalive_requests 1000;
		        # As the stack's: with nginx's default (60 s) this
		        # yardstick's kept connections held the event workers'
		        # burst buffers through the idle-after-load sample.
		        keepalive_timeout 5s;
		    }
		    server {
		        listen 127.0.0.1:$MINIMAL_PORT;
		        location / {
		            fastcgi_pass ev;
		            fastcgi_keep_conn on;
		            fastcgi_pass_request_headers off;
		            fastcgi_param REQUEST_METHOD \$request_method;
		            fastcgi_param REQUEST_URI \$request_uri;
		            fastcgi_param HTTP_AUTHORIZATION \$http_authorization if_not_empty;
		        }
		    }
	EOF
	local args=(-p "$MINIMAL_DIR" -c "$MINIMAL_DIR/nginx.conf" -e "$MINIMAL_DIR/error.log")
	as_svc nginx -t -q "${args[@]}" || die "minimal nginx: configuration test failed"
	as_svc nginx "${args[@]}" || die "minimal nginx did not start"
	for _ in $(seq 1 50); do
		curl -fsS -o /dev/null "http://127.0.0.1:$MINIMAL_PORT/health" 2>/dev/null && return 0
		sleep 0.1
	done
	die "minimal nginx does not answer on :$MINIMAL_PORT"
}


# --- 4. the pgbench yardstick -------------------------------------------------
# pgb_su_psql, pg_tcp_setup, pgb_tcp and pgb_unix: bench/pg-tcp.sh.

if has pgbench || has pgbench_unix; then
	if [ "$(pgb_su_psql -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'pgbench'")" = 1 ] &&
		[ "$(pgb_su_psql -d pgbench -c "SELECT count(*) FROM pgbench_branches" 2>/dev/null || echo 0)" = "$PGB_SCALE" ]; then
		say "pgbench database (scale $PGB_SCALE) already there"
	else
		say "pgbench -i -s $PGB_SCALE"
		pgb_su_psql -d postgres -c "DROP DATABASE IF EXISTS pgbench"
		pgb_su_psql -d postgres -c "CREATE DATABASE pgbench"
		as_svc pgbench -h "$VAR/run" -p "$PG_PORT" -U postgres -i -s "$PGB_SCALE" -q pgbench \
			>"$OUT/pgbench-init.log" 2>&1 || { cat "$OUT/pgbench-init.log" >&2; die "pgbench -i failed"; }
	fi
	PGB_LOGDIR=$VAR/bench-pgbench-logs
	rm -rf "$PGB_LOGDIR"
	as_svc mkdir -p "$PGB_LOGDIR"
	# The targets' yardstick is over TCP (bench/pg-tcp.sh says why and how).
	rc=0
	pg_tcp_setup || rc=$?
	case $rc in
	0) ;;
	2)
		say "restarting the bench stack: its PostgreSQL now listens on 127.0.0.1:$PG_PORT too (SCRAM, role $PGB_ROLE only)"
		dev down >>"$OUT/dev.log" 2>&1 || die "./dev down failed (see $OUT/dev.log)"
		logs_reset
		dev up >>"$OUT/dev.log" 2>&1 || { tail -n 30 "$OUT/dev.log" >&2; die "./dev up failed"; }
		MASTER=$(cat "$VAR/run/taskapi.pid")
		NGINX_PID=$(cat "$VAR/nginx/nginx.pid")
		PG_PID=$(head -n 1 "$VAR/pgdata/postmaster.pid")
		;;
	*) die "could not set up the TCP pgbench yardstick" ;;
	esac
	pgb_tcp -S -M prepared -c 1 -t 1 -n pgbench >"$OUT/pgbench-tcp-check.log" 2>&1 ||
		{ cat "$OUT/pgbench-tcp-check.log" >&2; die "pgbench over TCP does not connect"; }
fi

# After the pgbench set-up, which may restart the stack's PostgreSQL.
if has minimal; then
	say "minimal FastCGI nginx on :$MINIMAL_PORT"
	minimal_up
fi
if has rust_health || has rust_get || has rustnx_health || has rustnx_get; then
	say "Rust yardstick on :$RUST_PORT, behind nginx on :$RUST_PROXY_PORT (building it first)"
	rust_up "$RUST_PORT" "$RUST_PROXY_PORT"
fi

# --- 5. seed -------------------------------------------------------------------

# As the cluster's superuser: seeding and VACUUM/ANALYZE do not depend on
# what the service role may do.
app_psql() { as_svc "${PSQL[@]}" -U postgres -d taskapi "$@"; }

api_user() { # email -> prints "id token"
	local email=$1 pw=bench-password-1 code id token
	code=$(curl -sS -o "$OUT/data/register.json" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' \
		--data "{\"email\":\"$email\",\"name\":\"Bench user\",\"password\":\"$pw\"}" \
		"$BASE/api/v1/auth/register")
	[ "$code" = 201 ] || die "register $email: HTTP $code $(cat "$OUT/data/register.json")"
	id=$(jq -r .id "$OUT/data/register.json")
	code=$(curl -sS -o "$OUT/data/login.json" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' \
		--data "{\"email\":\"$email\",\"password\":\"$pw\"}" "$BASE/api/v1/auth/login")
	[ "$code" = 200 ] || die "login $email: HTTP $code $(cat "$OUT/data/login.json")"
	token=$(jq -r .token "$OUT/data/login.json")
	rm -f "$OUT/data/register.json" "$OUT/data/login.json"
	printf '%s %s\n' "$id" "$token"
}

seed_tasks() { # user_id count
	app_psql -c "INSERT INTO tasks (user_id, title, description, status, priority,
			due_at, created_at, updated_at)
		SELECT '$1', 'bench task ' || g,
			CASE WHEN g % 3 = 0 THEN NULL ELSE 'description of bench task ' || g END,
			(ARRAY['todo','in_progress','done','cancelled'])[1 + g % 4]::task_status,
			(ARRAY['low','medium','high','critical'])[1 + (g / 4) % 4]::task_priority,
			CASE WHEN g % 2 = 0 THEN now() + g * interval '1 minute' END,
			now() - g * interval '1 second', now() - g * interval '1 second'
		FROM generate_series(1, $2) AS g"
}

say "seeding: removing earlier bench users"
app_psql -c "DELETE FROM users WHERE email LIKE 'bench-%@bench.invalid'"
app_psql -c "VACUUM ANALYZE tasks"
# A thousand other users, with no tasks and no usable password.  The
# users table the tests and earlier runs leave holds a hundred or two
# rows, few enough that PostgreSQL's generic plan for "the user of this
# id" became a scan of the whole table once its statistics said so:
# in one run the Rust yardstick's GET cost PostgreSQL 50 µs a request
# instead of 23, and taskapi's lone task_get paid the same.  A service
# has more users than that; with these every lookup by id is an index
# lookup whatever ran before.
app_psql -c "INSERT INTO users (email, name, password_hash)
	SELECT 'bench-filler-' || g || '@bench.invalid', 'filler ' || g,
		'\$argon2id\$not-a-hash'
	FROM generate_series(1, $FILLER_USERS) AS g"
app_psql -c "VACUUM ANALYZE users"
read -r USER1 TOKEN1 < <(api_user "bench-api@bench.invalid") || true
[ -n "${TOKEN1:-}" ] || die "could not register/log in the bench user"
say "seeding: $NTASKS tasks for $USER1"
seed_tasks "$USER1" "$NTASKS"
printf '%s\n' "$TOKEN1" >"$OUT/data/token"
app_psql -c "SELECT id FROM tasks WHERE user_id = '$USER1' ORDER BY id" >"$OUT/data/ids"
[ "$(wc -l <"$OUT/data/ids")" -eq "$NTASKS" ] || die "expected $NTASKS task ids"
if [ "$EXPORT_TASKS" -gt 0 ]; then
	read -r USER2 TOKEN2 < <(api_user "bench-export@bench.invalid") || true
	[ -n "${TOKEN2:-}" ] || die "could not register/log in the export user"
	say "seeding: $EXPORT_TASKS tasks for the export user $USER2"
	seed_tasks "$USER2" "$EXPORT_TASKS"
fi
app_psql -c "ANALYZE tasks"
export BENCH_DATA=$OUT/data BENCH_LUA_DIR=$BENCH_DIR

# --- runners -------------------------------------------------------------------

fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }

# The process trees whose CPU a target's requests cost, as cputiers.py
# NAME=PID arguments: nginx (the stack's, or the yardstick's own), app
# (taskapi's master and workers, or the Rust server), pg (the postmaster
# and its children).  The client is wrk or pgbench, timed apart.
tier_roots() { # target
	local rust_ngx=-1
	[ -n "$RUST_NGINX_DIR" ] && rust_ngx=$(cat "$RUST_NGINX_DIR/nginx.pid" 2>/dev/null || echo -1)
	case $1 in
	static) echo "nginx=$(cat "$STATIC_DIR/nginx.pid" 2>/dev/null || echo -1)" ;;
	minimal) echo "nginx=$(cat "$MINIMAL_DIR/nginx.pid" 2>/dev/null || echo -1) app=$MASTER pg=$PG_PID" ;;
	rust_health | rust_get) echo "app=${RUST_PID:--1} pg=$PG_PID" ;;
	rustnx_health | rustnx_get) echo "nginx=$rust_ngx app=${RUST_PID:--1} pg=$PG_PID" ;;
	pgbench | pgbench_unix) echo "pg=$PG_PID" ;;
	*) echo "nginx=$NGINX_PID app=$MASTER pg=$PG_PID" ;;
	esac
}

# Runs "$@" (the client) in a subshell of its own and writes to $1.times
# the CPU seconds it used (bash's times: the subshell's reaped children,
# i.e. the client alone), then prints nothing.  $1 is the raw output file.
timed_client() { # raw cmd...
	local raw=$1
	shift
	( "$@" >"$raw" 2>&1; times >"$raw.times" ) || true
}

# CPU seconds (user + system) of the client, from timed_client's file.
client_cpu_s() { # raw
	sed -n 2p "$1.times" 2>/dev/null | awk '
		function secs(x,  m) { m = x; sub(/m.*/, "", m); sub(/^[0-9]*m/, "", x); sub(/s$/, "", x); return m * 60 + x }
		{ printf "%.3f", secs($1) + secs($2) }'
}

# Prints "nginx app pg client server" µs per request ("-" where a tier
# does not take part).  Args: before after requests raw
cpu_cells() {
	local line n c
	line=$(python3 "$BENCH_DIR/cputiers.py" delta "$1" "$2" "$3")
	local -A u=([nginx]=- [app]=- [pg]=- [total]=-)
	for kv in $line; do u[${kv%%=*}]=${kv#*=}; done
	c=$(client_cpu_s "$4")
	n=$3
	local client=-
	[ -n "$c" ] && [ "$n" -gt 0 ] && client=$(awk -v c="$c" -v n="$n" 'BEGIN { printf "%.1f", c * 1e6 / n }')
	printf '%s\t%s\t%s\t%s\t%s' "${u[nginx]}" "${u[app]}" "${u[pg]}" "$client" "${u[total]}"
}

# Appends one row to runs.tsv.  Args: target conc rep tag
run_wrk() {
	local t=$1 c=$2 rep=$3 tag=$4 url script raw line
	case $t in
	health) url=$BASE/health script=health.lua ;;
	static) url=http://127.0.0.1:$STATIC_PORT/health script=health.lua ;;
	minimal) url=http://127.0.0.1:$MINIMAL_PORT/health script=health.lua ;;
	rust_health) url=http://127.0.0.1:$RUST_PORT/health script=health.lua ;;
	rust_get) url=http://127.0.0.1:$RUST_PORT/api/v1/tasks script=task_get.lua ;;
	rustnx_health) url=http://127.0.0.1:$RUST_PROXY_PORT/health script=health.lua ;;
	rustnx_get) url=http://127.0.0.1:$RUST_PROXY_PORT/api/v1/tasks script=task_get.lua ;;
	task_get) url=$BASE/api/v1/tasks script=task_get.lua ;;
	tasks_list) url=$BASE/api/v1/tasks script=tasks_list.lua ;;
	task_create) url=$BASE/api/v1/tasks script=task_create.lua ;;
	task_patch) url=$BASE/api/v1/tasks script=task_patch.lua ;;
	esac
	raw=$OUT/raw/$tag-$t-c$c-r$rep.txt
	local o_acc o_app o_err
	o_acc=$(fsize "$ACCESS_LOG") o_app=$(fsize "$APP_LOG") o_err=$(fsize "$NGINX_ERR")
	local t0 t1 roots
	roots=$(tier_roots "$t")
	# shellcheck disable=SC2086 # roots is a list of NAME=PID words
	python3 "$BENCH_DIR/cputiers.py" snap $roots >"$raw.cpu0"
	t0=$(date +%s.%N)
	timed_client "$raw" wrk -t"$WRK_THREADS" -c"$c" -d"${DURATION}s" --timeout "${WRK_TIMEOUT}s" --latency \
		-s "$BENCH_DIR/$script" "$url"
	t1=$(date +%s.%N)
	# shellcheck disable=SC2086
	python3 "$BENCH_DIR/cputiers.py" snap $roots >"$raw.cpu1"
	printf 'BENCHTIME start=%s end=%s\n' "$t0" "$t1" >>"$raw"
	line=$(grep '^BENCHRESULT ' "$raw" | tail -n 1 || true)
	local -A v=()
	local kv
	for kv in ${line#BENCHRESULT }; do v[${kv%%=*}]=${kv#*=}; done
	# Cross-check with wrk's own summary lines.
	local non2xx sock
	non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\)/\1/p' "$raw")
	sock=$(grep -E '^ *Socket errors:' "$raw" || true)
	if [ -n "$line" ] && [ "${non2xx:-0}" != "${v[status]}" ]; then
		say "warning: $raw: non-2xx ${non2xx:-0} in the summary, ${v[status]} in done()"
	fi
	[ -n "$sock" ] && say "$t c=$c: $sock"
	# What the stack saw in this run: status codes from nginx's access log,
	# warn/error lines from the pool's log and nginx's error log.
	local statuses=- app_warn=0 nginx_err=0
	case $t in static | minimal | rust*) ;; *)
		statuses=$(tail -c +"$((o_acc + 1))" "$ACCESS_LOG" | grep -o '"status":[0-9]*' |
			cut -d: -f2 | sort | uniq -c |
			awk '{ printf "%s%s:%s", sep, $2, $1; sep = "," } END { if (!NR) printf "-" }')
		tail -c +"$((o_app + 1))" "$APP_LOG" | grep -E '"level":"(warn|error)"|^[^{]' >"$raw.applog" || true
		tail -c +"$((o_err + 1))" "$NGINX_ERR" >"$raw.nginxerr" || true
		app_warn=$(wc -l <"$raw.applog")
		nginx_err=$(wc -l <"$raw.nginxerr")
		[ "$app_warn" -gt 0 ] || rm -f "$raw.applog"
		[ "$nginx_err" -gt 0 ] || rm -f "$raw.nginxerr"
		;;
	esac
	if [ -z "$line" ]; then
		say "$t c=$c run $rep: no result from wrk (see $raw)"
		printf '%s\t%s\t%s\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\t%s\t%s\t%s\t%s\tNA\t-\t-\t-\t-\t-\n' \
			"$t" "$c" "$rep" "$statuses" "$app_warn" "$nginx_err" "${raw#"$OUT/"}" >>"$RUNS_TSV"
		return 0
	fi
	local rps cpu
	rps=$(awk -v n="${v[requests]}" -v d="${v[duration_us]}" 'BEGIN { printf "%.1f", n / (d / 1e6) }')
	cpu=$(cpu_cells "$raw.cpu0" "$raw.cpu1" "${v[requests]}" "$raw")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$t" "$c" "$rep" "$rps" "${v[p50_us]}" "${v[p99_us]}" "${v[status]}" "${v[connect]}" \
		"${v[read]}" "${v[write]}" "${v[timeout]}" "${v[requests]}" "$statuses" \
		"$app_warn" "$nginx_err" "${raw#"$OUT/"}" "${v[p999_us]:-NA}" "$cpu" >>"$RUNS_TSV"
	say "$(printf '%-13s c=%-4s run %s: %9s req/s  p50 %6.2f ms  p99 %7.2f ms  non-2xx %s  socket errors %s  [%s]  CPU us/req nginx,app,pg,client,server: %s' \
		"$t" "$c" "$rep" "$rps" "$(awk -v x="${v[p50_us]}" 'BEGIN{print x/1000}')" \
		"$(awk -v x="${v[p99_us]}" 'BEGIN{print x/1000}')" "${v[status]}" \
		"$((v[connect] + v[read] + v[write] + v[timeout]))" "$statuses" "$(tr '\t' , <<<"$cpu")")"
}

run_pgbench() { # target(pgbench: TCP, pgbench_unix) conc rep tag
	local t=$1 c=$2 rep=$3 tag=$4 raw prefix tps failed pct via=pgb_tcp
	[ "$t" = pgbench_unix ] && via=pgb_unix
	raw=$OUT/raw/$tag-$t-c$c-r$rep.txt
	prefix=$PGB_LOGDIR/$t-c$c-r$rep
	python3 "$BENCH_DIR/cputiers.py" snap "pg=$PG_PID" >"$raw.cpu0"
	timed_client "$raw" "$via" -S -M prepared -c "$c" -j 1 \
		-T "$DURATION" -n -l --sampling-rate="$PGB_SAMPLING" --log-prefix="$prefix" \
		pgbench
	python3 "$BENCH_DIR/cputiers.py" snap "pg=$PG_PID" >"$raw.cpu1"
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$raw")
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$raw")
	# p50/p99 from the sampled per-transaction log (3rd column, microseconds).
	pct=$(cat "$prefix".* 2>/dev/null | python3 -c '
import sys
v = sorted(int(l.split()[2]) for l in sys.stdin if l.strip())
def p(q): return v[min(len(v) - 1, max(0, int(round(q * len(v) + 0.5)) - 1))] if v else "NA"
print(p(0.50), p(0.99), p(0.999), len(v))')
	rm -f "$prefix".*
	if [ -z "$tps" ]; then
		say "$t c=$c run $rep: no result (see $raw)"
		printf '%s\t%s\t%s\tNA\tNA\tNA\tNA\t0\t0\t0\t0\tNA\t-\t0\t0\t%s\tNA\t-\t-\t-\t-\t-\n' \
			"$t" "$c" "$rep" "${raw#"$OUT/"}" >>"$RUNS_TSV"
		return 0
	fi
	local p50 p99 p999 nsamp ntx
	read -r p50 p99 p999 nsamp <<<"$pct"
	ntx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$raw")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t0\t0\t0\t0\t%s\t-\t0\t0\t%s\t%s\t%s\n' \
		"$t" "$c" "$rep" "$tps" "$p50" "$p99" "${failed:-0}" "$ntx" \
		"${raw#"$OUT/"}" "$p999" "$(cpu_cells "$raw.cpu0" "$raw.cpu1" "${ntx:-0}" "$raw")" >>"$RUNS_TSV"
	say "$(printf '%-11s c=%-4s run %s: %9s tps    p50 %6.2f ms  p99 %7.2f ms  failed %s  (%s sampled)' \
		"$t" "$c" "$rep" "$tps" "$(awk -v x="$p50" 'BEGIN{print x/1000}')" \
		"$(awk -v x="$p99" 'BEGIN{print x/1000}')" "${failed:-0}" "$nsamp")"
}

run_target() { # target conc rep tag
	case $1 in
	pgbench | pgbench_unix) run_pgbench "$@" ;;
	*) run_wrk "$@" ;;
	esac
}

mem_once() { python3 "$BENCH_DIR/memwatch.py" once "$1"; }

# Median of three samples a second apart -> "pss_kb rss_kb pids"
mem_idle() {
	for _ in 1 2 3; do
		mem_once "$1" | jq -r '"\(.pss_kb) \(.rss_kb) \(.pids)"'
		sleep 1
	done | sort -n | sed -n 2p
}

# --- 6. warm-up and idle memory ------------------------------------------------

# Idle means idle: the blocking workers the seeding's logins started
# beyond the spare ones (none by default) stop after
# TASKAPI_WORKER_IDLE_TIMEOUT (default 10 s), so wait that long and a
# little more.
IDLE_WAIT=$(( $(sed -n 's/^TASKAPI_WORKER_IDLE_TIMEOUT=//p' "$VAR/taskapi.env" | tail -n 1 | grep . || echo 10) + 3 ))
say "idle memory (before load), after ${IDLE_WAIT} s idle"
sleep "$IDLE_WAIT"
read -r IDLE_PSS IDLE_RSS IDLE_PIDS < <(mem_idle "$MASTER")
read -r NGX_IDLE_PSS NGX_IDLE_RSS NGX_PIDS < <(mem_idle "$NGINX_PID")
printf 'pool_idle_before\t%s\t%s\t%s\nnginx_idle_before\t%s\t%s\t%s\n' \
	"$IDLE_PSS" "$IDLE_RSS" "$IDLE_PIDS" "$NGX_IDLE_PSS" "$NGX_IDLE_RSS" "$NGX_PIDS" >"$OUT/mem/idle.tsv"
meta workers "$((IDLE_PIDS - 1))"
meta idle_wait "$IDLE_WAIT"
meta pool_banner "$(grep -m1 '"msg":"[^"]*master started' "$APP_LOG" | sed -n 's/.*"msg":"\([^"]*\)".*/\1/p')"
mem_once "$MASTER" >"$OUT/mem/idle-before.json"

# What an idle pool's size costs a request: one login right after the idle
# spell (with TASKAPI_SPARE_WORKERS=0 it waits for a fork and a database
# connect), then three straight after it, served warm.  Login, because it
# is the commonest route of the blocking pool.
LOGIN_TSV=$OUT/login.tsv
printf 'round\tcold_s\twarm1_s\twarm2_s\twarm3_s\tworkers_before\n' >"$LOGIN_TSV"
login_once() {
	curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' -X POST \
		-H 'Content-Type: application/json' \
		--data '{"email":"bench-api@bench.invalid","password":"bench-password-1"}' \
		"$BASE/api/v1/auth/login"
}
login_round() { # round
	local before t code row
	before=$(pgrep -P "$MASTER" | wc -l)
	row=$1
	for _ in 1 2 3 4; do
		read -r code t < <(login_once)
		[ "$code" = 200 ] || { say "login round $1: HTTP $code"; t=NA; }
		row+=$'\t'$t
	done
	printf '%s\t%s\n' "$row" "$before" >>"$LOGIN_TSV"
	say "login after ${IDLE_WAIT} s idle (round $1): $(cut -f2- <<<"$row" | tr '\t' ' ') s; pool processes besides the master before it: $before"
}
login_round 1

SAVED_DURATION=$DURATION
DURATION=2
say "warm-up: 2 s per target at c=64"
for t in $ENDPOINTS; do
	[ "$t" = task_create ] && continue # nothing to warm, and it adds rows
	run_target "$t" 64 0 warmup >/dev/null 2>&1
done
DURATION=$SAVED_DURATION
# The warm-up rows are not results.
awk -F'\t' '$3 != "0"' "$RUNS_TSV" >"$RUNS_TSV.tmp" && mv "$RUNS_TSV.tmp" "$RUNS_TSV"

# --- 7. the measured runs -------------------------------------------------------
# Runs are interleaved (run 1 of everything, then run 2, ...) so that a
# burst of outside load on this shared machine spreads over all targets
# instead of sinking one of them.

n_total=0
for c in $CONC; do for t in $ENDPOINTS; do n_total=$((n_total + RUNS)); done; done
say "measuring: $n_total runs of ${DURATION}s (targets: $ENDPOINTS; c: $CONC; runs: $RUNS)"
for rep in $(seq 1 "$RUNS"); do
	for c in $CONC; do
		for t in $ENDPOINTS; do
			watch_pool='' watch_nginx=''
			if [ "$t" = task_get ] && [ "$c" = 64 ]; then
				python3 "$BENCH_DIR/memwatch.py" watch "$MASTER" 0.5 "$OUT/mem/load-pool-r$rep.json" &
				watch_pool=$!
				python3 "$BENCH_DIR/memwatch.py" watch "$NGINX_PID" 0.5 "$OUT/mem/load-nginx-r$rep.json" &
				watch_nginx=$!
				BG_PIDS+=("$watch_pool" "$watch_nginx")
			fi
			# pgbench would need c backends (max_connections is 300).
			case $t in pgbench*) [ "$c" -le 256 ] || continue ;; esac
			run_target "$t" "$c" "$rep" main
			if [ -n "$watch_pool" ]; then
				kill -TERM "$watch_pool" "$watch_nginx" 2>/dev/null || true
				wait "$watch_pool" "$watch_nginx" 2>/dev/null || true
				BG_PIDS=()
			fi
			sleep 1
		done
	done
done

# --- 8. high concurrency: errors only -------------------------------------------

if [ -n "$HIGH_CONC" ]; then
	for c in $HIGH_CONC; do
		say "c=$c pass (every HTTP target): errors, and the plot's last point"
		for rep in $(seq 1 "$RUNS"); do
			for t in $ENDPOINTS; do
				# pgbench would need c backends (max_connections is 300).
				case $t in pgbench*) continue ;; esac
				run_wrk "$t" "$c" "$rep" high
				sleep 1
			done
		done
	done
fi

# --- 9. idle after load -----------------------------------------------------------

say "idle memory (after load), after ${IDLE_WAIT} s idle"
sleep "$IDLE_WAIT"
read -r A_PSS A_RSS A_PIDS < <(mem_idle "$MASTER")
read -r NA_PSS NA_RSS NA_PIDS < <(mem_idle "$NGINX_PID")
printf 'pool_idle_after\t%s\t%s\t%s\nnginx_idle_after\t%s\t%s\t%s\n' \
	"$A_PSS" "$A_RSS" "$A_PIDS" "$NA_PSS" "$NA_RSS" "$NA_PIDS" >>"$OUT/mem/idle.tsv"
mem_once "$MASTER" >"$OUT/mem/idle-after.json"
login_round 2

# --- 10. export -------------------------------------------------------------------

EXPORT_TSV=$OUT/export.tsv
printf 'rep\thttp_code\tbytes\tseconds\tlines\tworker_pid\tmemfile\n' >"$EXPORT_TSV"
if [ "$EXPORT_TASKS" -gt 0 ]; then
	say "export of $EXPORT_TASKS tasks, $RUNS runs"
	for rep in $(seq 1 "$RUNS"); do
		o_app=$(fsize "$APP_LOG")
		memf=$OUT/mem/export-r$rep.json
		python3 "$BENCH_DIR/memwatch.py" watch "$MASTER" 0.1 "$memf" &
		w=$!
		BG_PIDS=("$w")
		sleep 0.5 # a first sample of every worker, idle
		{ curl -sS -H "Authorization: Bearer $TOKEN2" \
			-w '%{stderr}CURLW %{http_code} %{size_download} %{time_total}\n' \
			"$BASE/api/v1/tasks/export" | wc -l >"$OUT/raw/export-r$rep.lines"; } \
			2>"$OUT/raw/export-r$rep.curl"
		sleep 0.3
		kill -TERM "$w" 2>/dev/null || true
		wait "$w" 2>/dev/null || true
		BG_PIDS=()
		read -r _ code bytes secs < <(grep '^CURLW ' "$OUT/raw/export-r$rep.curl" | tail -n 1)
		lines=$(cat "$OUT/raw/export-r$rep.lines")
		wpid=$(tail -c +"$((o_app + 1))" "$APP_LOG" | grep '"route":"/api/v1/tasks/export"' |
			sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | tail -n 1)
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "${code:-NA}" "${bytes:-NA}" "${secs:-NA}" \
			"$lines" "${wpid:--}" "${memf#"$OUT/"}" >>"$EXPORT_TSV"
		say "export run $rep: HTTP ${code:-?}, $lines lines, ${bytes:-?} bytes in ${secs:-?} s (worker ${wpid:-?})"
		[ "$lines" = "$EXPORT_TASKS" ] || say "warning: export returned $lines lines, expected $EXPORT_TASKS"
		sleep 1
	done
fi

# A third round of logins after the idle spell.
say "third login round, after ${IDLE_WAIT} s idle"
sleep "$IDLE_WAIT"
login_round 3

# --- 11. report ---------------------------------------------------------------------

# Keep what the stack logged beyond this run's next start (which empties
# the logs): the pool's warn/error and non-JSON lines, nginx's error log.
grep -E '"level":"(warn|error)"|^[^{]' "$APP_LOG" >"$OUT/taskapi-warn-error.log" || true
head -n 5000 "$NGINX_ERR" >"$OUT/nginx-error.log" || true

meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta quick "$QUICK"
meta runs "$RUNS"
meta duration "$DURATION"
meta concurrency "$CONC"
meta high_concurrency "$HIGH_CONC"
meta endpoints "$ENDPOINTS"
meta wrk_threads "$WRK_THREADS"
meta wrk_timeout "$WRK_TIMEOUT"
meta tasks "$NTASKS"
meta filler_users "$FILLER_USERS"
meta export_tasks "$EXPORT_TASKS"
meta pgbench_scale "$PGB_SCALE"
meta pgbench_sampling "$PGB_SAMPLING"
meta nproc "$(nproc)"
meta cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
meta mem_total "$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
meta kernel "$(uname -sr)"
meta os "$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}")"
meta head_at_end "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo -)"
meta cflags "$(sed -n 's/^CFLAGS = //p' "$BUILD/Makefile")"
meta cc "$(${CC:-cc} --version 2>/dev/null | head -n 1)"
meta nginx "$(nginx -v 2>&1 | sed 's|^nginx version: nginx/||')"
meta postgres "$("$PG_BIN/postgres" --version)"
meta pgbench "$(pgbench --version)"
meta wrk "$(wrk -v 2>&1 | head -n 1 | sed 's/ Copyright.*//')"
meta libfcgi "$(dpkg-query -W -f='${Version}' libfcgi0ldbl 2>/dev/null || echo ?)"
meta http_port "$HTTP_PORT"
meta static_port "$STATIC_PORT"
meta out "$OUT"

python3 "$BENCH_DIR/report.py" "$OUT" "$RESULTS"
if [ "${BENCH_PLOT:-1}" = 1 ]; then
	# Next to RESULTS.md, which links it (a quick run's stays under OUT).
	"$BENCH_DIR/plot.sh" "$OUT" "$(dirname "$RESULTS")/results.svg" ||
		say "warning: no plot (bench/plot.sh failed; gnuplot-nox installed?)"
fi
say "raw outputs: $OUT"
say "results: $RESULTS"
