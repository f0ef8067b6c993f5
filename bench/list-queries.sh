#!/usr/bin/env bash
# bench/list-queries.sh: latency of the list queries (sort, q, cursors)
# at two table sizes, and the default list before/after a change.
#
#   bench/list-queries.sh [SIZES...]        default sizes: 10000 1000000
#
# A bench stack of its own (./dev with TASKAPI_BUILD=$BUILD, default
# build-bench-q inside the checkout) on its own ports.  One user owns all
# tasks, seeded with generate_series in SQL (never through the API) and
# grown from one size to the next.  For each shape, wrk (one process,
# BENCH_CONNS connections for BENCH_SECS s) measures the p99 latency of
# the first page and of a deep page: the page reached by the cursor of
# the page at offset size/2 (one request with offset finds it).  Output:
# a Markdown table on stdout and in $OUT/table.md.
#
# BENCH_BEFORE_BIN=path: also measures the default list (limit=20, no
# other parameter) with that binary and with this build's, alternating
# BENCH_ROUNDS times on the same stack and data (SIGHUP swaps the
# binary: the pool re-executes it), and prints the medians of req/s and
# p99.  The schema is this build's; an older binary that needs an older
# schema version runs on it unchanged.
#
# Environment: BENCH_HTTP_PORT [18390] BENCH_TLS_PORT [18753]
# BENCH_PG_PORT [55536] BENCH_SECS [5] BENCH_CONNS [8] BENCH_ROUNDS [3]
# BENCH_KEEP_STACK=1 leaves the stack up.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
BUILD=${TASKAPI_BUILD:-$ROOT/build-bench-q}
HTTP_PORT=${BENCH_HTTP_PORT:-18390}
TLS_PORT=${BENCH_TLS_PORT:-18753}
PG_PORT=${BENCH_PG_PORT:-55536}
SECS=${BENCH_SECS:-5}
CONNS=${BENCH_CONNS:-8}
ROUNDS=${BENCH_ROUNDS:-3}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 1000000)
OUT=$BENCH_DIR/out/list-queries-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
BASE=http://127.0.0.1:$HTTP_PORT

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'list-queries.sh: %s\n' "$*" >&2; exit 1; }
as_svc() { if [ "$(id -u)" = 0 ]; then runuser -u taskapi -- "$@"; else "$@"; fi; }
dev() {
	env -u TASKAPI_WORKERS TASKAPI_BUILD="$BUILD" TASKAPI_HTTP_PORT="$HTTP_PORT" \
		TASKAPI_TLS_PORT="$TLS_PORT" TASKAPI_PG_PORT="$PG_PORT" "$ROOT/dev" "$@"
}

cleanup() {
	local rc=$?
	trap - EXIT
	if [ "${BENCH_KEEP_STACK:-0}" != 1 ]; then
		# Leave this build's binary in place for the next ./dev up.
		if [ -f "$OUT/after.bin" ]; then
			cp "$OUT/after.bin" "$BUILD/src/taskapi.new" &&
				mv "$BUILD/src/taskapi.new" "$BUILD/src/taskapi" || true
		fi
		dev down >>"$OUT/dev.log" 2>&1 || say "./dev down failed (see $OUT/dev.log)"
	fi
	exit "$rc"
}
trap cleanup EXIT

say "./dev up (build $BUILD, http :$HTTP_PORT, pg :$PG_PORT)"
dev up >>"$OUT/dev.log" 2>&1 || { tail -n 30 "$OUT/dev.log" >&2; die "./dev up failed"; }
VAR=$(readlink -f "$BUILD/var")
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$VAR/run" -p "$PG_PORT" -U postgres -d taskapi)
db() { as_svc "${PSQL[@]}" -c "$1"; }

email=bench-lists@bench.invalid
db "DELETE FROM users WHERE email = '$email'" >/dev/null
curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
	--data "{\"email\":\"$email\",\"name\":\"Bench lists\",\"password\":\"bench-password-1\"}" \
	"$BASE/api/v1/auth/register" || die "register failed"
TOKEN=$(curl -fsS -X POST -H 'Content-Type: application/json' \
	--data "{\"email\":\"$email\",\"password\":\"bench-password-1\"}" \
	"$BASE/api/v1/auth/login" | jq -r .token)
USER_ID=$(db "SELECT id FROM users WHERE email = '$email'")
[ -n "$USER_ID" ] || die "no bench user"

# seed FROM TO: tasks FROM..TO of the bench user.  Words for q: every
# task has "task"; one in 1000 has "rareword" (the selective search).
seed() {
	db "INSERT INTO tasks (user_id, title, description, status, priority,
		due_at, created_at, updated_at)
	    SELECT '$USER_ID', 'bench task ' || g ||
		CASE WHEN g % 1000 = 0 THEN ' rareword' ELSE '' END,
		CASE WHEN g % 3 = 0 THEN NULL ELSE 'description of bench task ' || g END,
		(ARRAY['todo','in_progress','done','cancelled'])[1 + g % 4]::task_status,
		(ARRAY['low','medium','high','critical'])[1 + (g / 4) % 4]::task_priority,
		CASE WHEN g % 2 = 0 THEN now() + (g % 5000 - 2500) * interval '1 hour' END,
		now() - g * interval '1 second', now() - g * interval '1 second'
	    FROM generate_series($1, $2) AS g" >/dev/null
	db "VACUUM ANALYZE tasks" >/dev/null
}

# p99 PATH: wrk's p99 latency in ms for GET PATH.  A shape so slow that
# wrk completes fewer than 20 requests gets "max of 3" sequential
# requests' time instead (a p99 of a handful means nothing); answers
# other than 2xx are reported, not hidden.
p99() {
	local f=$OUT/wrk.$$ done t max=0 i
	wrk -t1 -c"$CONNS" -d"${SECS}s" --timeout 60s --latency \
		-H "Authorization: Bearer $TOKEN" "$BASE$1" >"$f" 2>&1 || die "wrk failed: $(cat "$f")"
	cat "$f" >>"$OUT/wrk.log"
	if grep -q 'Non-2xx' "$f"; then
		printf 'errors: %s\n' "$(grep Non-2xx "$f" | tr -s ' ')"
		return 0
	fi
	done=$(awk '/requests in/ { print $1 }' "$f")
	if [ "${done:-0}" -lt 20 ]; then
		for i in 1 2 3; do
			t=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' --max-time 60 \
				-H "Authorization: Bearer $TOKEN" "$BASE$1")
			[ "${t%% *}" = 200 ] || { printf 'status %s\n' "${t%% *}"; return 0; }
			max=$(awk -v a="$max" -v b="${t#* }" 'BEGIN { print (b * 1000 > a) ? b * 1000 : a }')
		done
		printf '%.0f (max of 3; %s done in %ss)\n' "$max" "${done:-0}" "$SECS"
		return 0
	fi
	awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
		else if (v ~ /ms$/) sub(/ms$/, "", v); else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
		printf "%.2f\n", v }' "$f"
}
rps() { awk '/^Requests\/sec/ { printf "%.0f\n", $2 }' "$OUT/wrk.log" | tail -n 1; }

# deep QUERY SIZE: the Link of the page at offset SIZE/2 (its cursor); for
# the rare word (one task in 1000) at half of its matches, SIZE/2000.
deep() {
	local link off=$(($2 / 2))
	case $1 in *rareword*) off=$(($2 / 2000)) ;; esac
	link=$(curl -fsS -D - -o /dev/null --max-time 60 -H "Authorization: Bearer $TOKEN" \
		"$BASE/api/v1/tasks?$1&offset=$off" | tr -d '\r' |
		sed -n 's/^[Ll]ink: <\([^>]*\)>.*/\1/p') || true
	printf '%s\n' "$link"
}

before_after() {
	# --- the default list, before and after ---------------------------------------
	cp "$BUILD/src/taskapi" "$OUT/after.bin"
	cp "$BENCH_BEFORE_BIN" "$OUT/before.bin"
	swap() { # which
		local pidf=$VAR/run/taskapi.pid old i
		cp "$OUT/$1.bin" "$BUILD/src/taskapi.new" && mv "$BUILD/src/taskapi.new" "$BUILD/src/taskapi"
		old=$(cat "$pidf")
		kill -HUP "$old"
		for i in $(seq 1 300); do
			if [ "$(cat "$pidf" 2>/dev/null)" != "$old" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
				# Let the new workers connect before measuring.
				curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/tasks?limit=20"
				return 0
			fi
			sleep 0.1
		done
		die "the pool did not take over the $1 binary"
	}
	printf '| round | binary | req/s | p99 (ms) |\n|---:|---|---:|---:|\n' >"$OUT/before-after.md"
	for r in $(seq 1 "$ROUNDS"); do
		for b in before after; do
			swap "$b"
			p=$(p99 "/api/v1/tasks?limit=20")
			printf '| %s | %s | %s | %s |\n' "$r" "$b" "$(rps)" "$p" | tee -a "$OUT/before-after.md" >&2
		done
	done
	# med COLUMN BINARY: the median of a column of that binary's rows.
	med() {
		awk -F'|' -v b="$2" -v c="$1" '{ x = $3; gsub(/ /, "", x) } x == b { print $c + 0 }' \
			"$OUT/before-after.md" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
	}
	for b in before after; do
		printf 'median %s: %s req/s, p99 %s ms\n' "$b" "$(med 4 "$b")" "$(med 5 "$b")"
	done | tee -a "$OUT/before-after.md"
}

# The default list before and after, on the first size's data.
seed 1 "${SIZES[0]}"
have=${SIZES[0]}
[ -z "${BENCH_BEFORE_BIN:-}" ] || before_after

SHAPES=("limit=20" "limit=20&sort=created_at" "limit=20&sort=-updated_at" "limit=20&sort=updated_at"
	"limit=20&sort=due_at" "limit=20&sort=-due_at" "limit=20&sort=priority" "limit=20&sort=-priority"
	"limit=20&overdue=true" "limit=20&q=rareword" "limit=20&q=task" "limit=20&count=true")
printf '| tasks | query | p99 first page (ms) | p99 deep page (ms) |\n|---:|---|---:|---:|\n' \
	>"$OUT/table.md"
for n in "${SIZES[@]}"; do
	say "seeding to $n tasks"
	[ "$n" -le "$have" ] || seed $((have + 1)) "$n"
	have=$n
	for q in "${SHAPES[@]}"; do
		first=$(p99 "/api/v1/tasks?$q")
		link=$(deep "$q" "$n")
		if [ -n "$link" ]; then d=$(p99 "$link"); else d="(one page)"; fi
		printf '| %s | `%s` | %s | %s |\n' "$n" "$q" "$first" "$d" | tee -a "$OUT/table.md" >&2
	done
done
cat "$OUT/table.md"

