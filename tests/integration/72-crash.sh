#!/usr/bin/env bash
# 72-crash.sh: kill -9 the event worker in the middle of a stream of
# creates.  The master replaces it within a second; at most the requests
# it had in flight fail, as JSON 502s from nginx; every task that got a
# 201 is in the database.
. "$(dirname "$0")/lib.sh"

PIDF=${TASKAPI_VAR:-}/run/taskapi.pid
[[ -n ${TASKAPI_VAR:-} && -r $PIDF ]] || skip_all "needs TASKAPI_VAR from ./dev test"
have_psql || skip_all "needs TASKAPI_PSQL"
MASTER=$(cat "$PIDF")
# The event worker is the child holding an epoll instance.
ev_worker() {
	local p
	for p in $(pgrep -P "$MASTER"); do
		ls -l "/proc/$p/fd" 2>/dev/null | grep -q anon_inode:\\[eventpoll\\] && { echo "$p"; return; }
	done
}

make_user U || bail "cannot create a user"
victim=$(ev_worker)
[[ -n $victim ]] || skip_all "no event-driven worker in this pool"

# 8 clients, each creating tasks for 4 s, writing "status id" per request.
for c in $(seq 1 8); do
	(
		end=$(($(date +%s) + 4))
		while (($(date +%s) < end)); do
			curl -s -o "$T_DIR/body.$c" -w '%{http_code}' --max-time 10 \
				-H "Authorization: Bearer $U_TOKEN" -H 'Content-Type: application/json' \
				--data-binary "{\"title\":\"crash $c\"}" "$BASE/api/v1/tasks" >"$T_DIR/code.$c"
			code=$(cat "$T_DIR/code.$c")
			# One jq per request ("id json", or "- raw" for a body that
			# is not a JSON object), so the clients stay quick enough
			# under a sanitizer build.
			idjson=$(jq -r 'if type == "object" then "\(.id // "-") json" else "- raw" end' \
				"$T_DIR/body.$c" 2>/dev/null) || idjson="- raw"
			printf '%s %s\n' "$code" "${idjson:-- raw}" >>"$T_DIR/log.$c"
		done
	) &
done
sleep 1.5
t0=$(now_ms)
kill -9 "$victim"
replaced() { local p; p=$(ev_worker); [[ -n $p && $p != "$victim" ]]; }
while ! replaced && (($(now_ms) - t0 < 5000)); do sleep 0.05; done
ms=$(($(now_ms) - t0))
num_cmp "$ms" -le 1000 "the killed event worker was replaced in ${ms} ms"
wait

cat "$T_DIR"/log.* >"$T_DIR/all"
total=$(wc -l <"$T_DIR/all")
created=$(awk '$1 == 201' "$T_DIR/all" | wc -l)
failed=$(awk '$1 != 201' "$T_DIR/all" | wc -l)
num_cmp "$total" -ge 100 "creates sent during the test ($total)"
num_cmp "$failed" -le 64 "failed creates ($failed) at most what one worker can have in flight"
is "$(awk '$1 != 201 && ($1 != 502 || $3 != "json")' "$T_DIR/all" | wc -l)" 0 \
	"every failure is a JSON 502"
awk '$1 == 201 {print $2}' "$T_DIR/all" >"$T_DIR/ids"
ids=$(paste -sd, "$T_DIR/ids" | sed "s/[^,]*/'&'/g")
if [[ -n $ids ]]; then
	is "$(sql "SELECT count(*) FROM tasks WHERE id IN ($ids)")" "$created" \
		"all $created tasks that got a 201 are in the database"
fi
# Nothing was written twice or out of thin air: the user's tasks are at
# least the 201s and at most every create sent.
n=$(sql "SELECT count(*) FROM tasks WHERE user_id = '$U_ID'")
num_cmp "$n" -ge "$created" "the user's task count ($n) covers every 201"
num_cmp "$n" -le "$total" "... and is no more than the creates sent ($total)"
api "$U_TOKEN" GET /api/v1/tasks?limit=1
expect_json 200 "after the crash requests succeed again"
like "$(grep -c "worker $victim killed by signal 9" "$TASKAPI_VAR/log/taskapi.log")" '^[1-9]' \
	"the master logged how the worker died"
done_testing
