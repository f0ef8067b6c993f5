#!/usr/bin/env bash
# bench/pg-statements.sh: PostgreSQL alone, two statement shapes side by
# side, for the notes in bench/RESULTS.md (fourth round).
#
#   single  5 task_get lookups in one pipeline (what the event worker sends
#           for 5 GETs of one loop turn)
#   batch   the same 5 lookups as one statement: unnest of (user, task)
#           arrays WITH ORDINALITY, joined as task_get joins (not built)
#   sort    tasks_list as it was, with an ORDER BY outside the LATERAL
#   nosort  tasks_list as it is
#
# pgbench -M prepared -c 8 -j 1 for 9 s per run, with the event worker's
# planner settings; PostgreSQL's and pgbench's CPU from /proc over the
# middle 5 s, divided by the transactions of that window.  Runs against
# a seeded bench stack (BENCH_KEEP_STACK=1 bench/run.sh) and its data.
#
#   bench/pg-statements.sh [ROUNDS]      # default 2: single batch x2, ...
set -eu
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
BUILD=${TASKAPI_BUILD:-$ROOT/build-bench}
PORT=${TASKAPI_PG_PORT:-55440}
SOCK=$BUILD/var/run
rounds=${1:-2}
: "${BENCH_DATA:=$(ls -td "$BENCH_DIR"/out/*/data 2>/dev/null | head -n 1)}"
[ -r "$BENCH_DATA/ids" ] || { echo "no seeded data (BENCH_DATA)" >&2; exit 2; }
as_svc() { if [ "$(id -u)" = 0 ]; then runuser -u taskapi -- "$@"; else "$@"; fi; }
psql_() { as_svc psql -X -q -At -h "$SOCK" -p "$PORT" -U postgres taskapi -c "$1"; }

tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
U=$(psql_ "SELECT user_id FROM tasks WHERE id = '$(head -n 1 "$BENCH_DATA/ids")'")
COLS="t.id, t.user_id, t.title, t.description, t.status, t.priority, t.due_at, t.created_at, t.updated_at"
for s in $(seq 1 20); do
	mapfile -t ids < <(shuf -n 5 "$BENCH_DATA/ids")
	{
		printf '%s\n' '\startpipeline'
		for id in "${ids[@]}"; do
			echo "SELECT $COLS FROM users me LEFT JOIN tasks t ON t.id = '$id' AND t.user_id = me.id WHERE me.id = '$U';"
		done
		printf '%s\n' '\endpipeline'
	} >"$tmp/single$s.sql"
	users="'{$U,$U,$U,$U,$U}'"
	tasks="'{$(IFS=,; echo "${ids[*]}")}'"
	echo "SELECT q.i, $COLS FROM unnest($users::uuid[], $tasks::uuid[]) WITH ORDINALITY q(uid, tid, i) JOIN users me ON me.id = q.uid LEFT JOIN tasks t ON t.id = q.tid AND t.user_id = me.id;" \
		>"$tmp/batch$s.sql"
done
LIST="SELECT ${COLS//t./x.} FROM users me LEFT JOIN LATERAL (SELECT * FROM tasks t WHERE t.user_id = me.id AND (NULL::task_status IS NULL OR t.status = NULL::task_status) AND (NULL::task_priority IS NULL OR t.priority = NULL::task_priority) ORDER BY t.created_at DESC, t.id DESC LIMIT 20::bigint OFFSET 0::bigint) x ON true WHERE me.id = '$U'::uuid"
echo "$LIST ORDER BY x.created_at DESC, x.id DESC;" >"$tmp/sort1.sql"
echo "$LIST;" >"$tmp/nosort1.sql"
chmod 644 "$tmp"/*.sql

snap() {
	local p
	for p in $(pgrep -x postgres) $(pgrep -x pgbench); do
		awk -v c="$(cat "/proc/$p/comm" 2>/dev/null)" '{ print c, $14 + $15 }' "/proc/$p/stat" 2>/dev/null || true
	done | awk '{ s[$1] += $2 } END { print s["postgres"] + 0, s["pgbench"] + 0 }'
}
run() { # shape lookups-per-transaction
	local args=() f a1 a2 b1 b2 tps hz
	hz=$(getconf CLK_TCK)
	for f in "$tmp/$1"[0-9]*.sql; do args+=(-f "$f"); done
	PGOPTIONS="-c plan_cache_mode=force_generic_plan -c enable_seqscan=off -c enable_bitmapscan=off" \
		as_svc pgbench -h "$SOCK" -p "$PORT" -U postgres -n -M prepared -c 8 -j 1 -T 9 -P 1 \
		"${args[@]}" taskapi >"$tmp/out" 2>&1 &
	sleep 2.5
	read -r a1 a2 < <(snap)
	sleep 5
	read -r b1 b2 < <(snap)
	wait
	tps=$(awk '/^progress:/ { t = $2 + 0; if (t >= 3 && t <= 7) { s += $4; n++ } } END { print (n ? s / n : 0) }' "$tmp/out")
	awk -v s="$1" -v t="$tps" -v k="$2" -v a="$a1" -v b="$b1" -v c="$a2" -v d="$b2" -v hz="$hz" 'BEGIN {
		n = t * 5 * k
		printf "%-7s %8.0f %s/s   PostgreSQL %5.1f us, pgbench %4.1f us per %s\n", s, t * k,
		    (k > 1 ? "lookups" : "tx"), (b - a) * 1e6 / hz / n, (d - c) * 1e6 / hz / n, (k > 1 ? "lookup" : "tx") }'
}
for _ in $(seq 1 "$rounds"); do
	run single 5
	run batch 5
done
for _ in $(seq 1 "$rounds"); do
	run sort 1
	run nosort 1
done
