#!/usr/bin/env bash
# 80-concurrency.sh: parallel clients.  Every create answers 201 and
# lands exactly once; races on a unique email or one task resolve to one
# winner.
. "$(dirname "$0")/lib.sh"

CLIENTS=${TASKAPI_CONC_CLIENTS:-20}
PER_CLIENT=${TASKAPI_CONC_PER_CLIENT:-25}
USERS=4
READERS=4

for ((u = 0; u < USERS; u++)); do
	make_user "U$u" "Concurrency $u" || bail "cannot create user U$u"
done

# token_of N / id_of N: user N's token and id.
token_of() { local v="U$1_TOKEN"; printf '%s' "${!v}"; }
id_of() { local v="U$1_ID"; printf '%s' "${!v}"; }

# The load: per user one load process (tests/lib/load.py) with CLIENTS /
# USERS connections sending PER_CLIENT creates each, titled "w<n>", n
# the request's number (so the titles sent are w0..w<count-1>), and one
# reader process per user listing tasks until the writers are done.
# (Shell loops of curl spent their time starting processes.)
CONNS=$((CLIENTS / USERS > 0 ? CLIENTS / USERS : 1))	# per user
PER_USER=$((CONNS * PER_CLIENT))
started=$(date +%s%N)
reader_pids=()
for ((r = 0; r < READERS; r++)); do
	load_run --clients 1 --stop-file "$T_DIR/writers-done" --min-count 1 --cap-seconds 600 \
		--path "/api/v1/tasks?limit=100" --header "Authorization: Bearer $(token_of $((r % USERS)))" \
		--out "$T_DIR/reader-$r.out" >/dev/null &
	reader_pids+=("$!")
done
writer_pids=()
for ((u = 0; u < USERS; u++)); do
	load_run --clients "$CONNS" --count "$PER_USER" --new-connection \
		--method POST --path /api/v1/tasks --data '{"title":"w{i}"}' \
		--header "Authorization: Bearer $(token_of "$u")" --header 'Content-Type: application/json' \
		--out "$T_DIR/writer-$u.out" >"$T_DIR/writer-$u.summary" &
	writer_pids+=("$!")
done
wait "${writer_pids[@]}"
touch "$T_DIR/writers-done"
wait "${reader_pids[@]}"
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
total=$((USERS * PER_USER))
diag "$total creates from $((USERS * CONNS)) connections (+$READERS readers) in ${elapsed_ms} ms"

codes=$(cat "$T_DIR"/writer-*.out | awk '{ print $1 }')
n201=$(grep -c '^201$' <<<"$codes")
is "$(wc -l <<<"$codes" | tr -d ' ')" "$total" "every one of the $total requests got an answer line"
others=$(grep -v '^201$' <<<"$codes" | sort | uniq -c | tr '\n' ' ')
is "$n201" "$total" "all $total parallel creates -> 201 ${others:+(others: $others)}"
rcodes=$(cat "$T_DIR"/reader-*.out | awk '{ print $1 }')
is "$(grep -vc '^200$' <<<"$rcodes")" 0 \
    "parallel readers: every GET /api/v1/tasks -> 200 ($(wc -l <<<"$rcodes" | tr -d ' ') requests: $(sort <<<"$rcodes" | uniq -c | tr -s ' ' | tr '\n' ','))"

# list_all TOKEN: every task of the user through paging, one JSON object a
# line, into list.ndjson; returns 1 when a page is not a 200 array.
list_all() {
	local off=0 n
	: >"$T_DIR/list.ndjson"
	while :; do
		api "$1" GET "/api/v1/tasks?limit=100&offset=$off"
		[[ $RESP_STATUS == 200 ]] || return 1
		n=$(jq 'if type == "array" then length else -1 end' "$T_BODY")
		[[ $n -ge 0 ]] || return 1
		jq -c '.[]' "$T_BODY" >>"$T_DIR/list.ndjson"
		[[ $n -eq 100 ]] || return 0
		off=$((off + 100))
	done
}

for ((u = 0; u < USERS; u++)); do
	# The 201s this user's load counted, and the titles it sent.
	want=$(awk '$1 == 201' "$T_DIR/writer-$u.out" | wc -l)
	seq -f 'w%.0f' 0 $((PER_USER - 1)) >"$T_DIR/want-titles"
	if list_all "$(token_of "$u")"; then
		pass "user $u: paging through GET /api/v1/tasks works"
	else
		fail "user $u: paging through GET /api/v1/tasks works" "$(resp_summary)"
	fi
	is "$(wc -l <"$T_DIR/list.ndjson" | tr -d ' ')" "$want" \
	    "user $u: the API lists exactly as many tasks as there were 201s ($want)"
	is "$(jq -r .id "$T_DIR/list.ndjson" | sort -u | wc -l | tr -d ' ')" "$want" \
	    "user $u: every listed id is distinct"
	is "$(jq -r .title "$T_DIR/list.ndjson" | sort | md5sum)" \
	    "$(sort "$T_DIR/want-titles" | md5sum)" \
	    "user $u: the listed titles are exactly the ones sent (none lost, none doubled)"
	is "$(jq -r .user_id "$T_DIR/list.ndjson" | sort -u)" "$(id_of "$u")" \
	    "user $u: every listed task belongs to the user"
	if have_psql; then
		is "$(sql "select count(*) from tasks where user_id = '$(id_of "$u")'")" "$want" \
		    "db: user $u has exactly $want tasks"
	else
		skip "db: user $u has exactly $want tasks" "TASKAPI_PSQL not available"
	fi
done

# ---------------------------------------------------------------- races

# Ten registrations of one email at once: one 201, the rest 409.
race_email=$(uniq_email race)
printf '{"email":"%s","password":"password1","name":"racer"}' "$race_email" >"$T_DIR/race.json"
for ((i = 0; i < 10; i++)); do
	curl_code -H 'Content-Type: application/json' \
	    --data-binary "@$T_DIR/race.json" "$BASE/api/v1/auth/register" >"$T_DIR/race-$i.out" &
done
wait
race=$(cat "$T_DIR"/race-*.out | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
is "$race" "201:1 409:9 " "10 parallel registrations of one email -> one 201, nine 409"

# Ten deletes of one task at once: one 204, the rest 404.
create_titled "$U0_TOKEN" "delete race" || diag "create failed: $(resp_summary)"
for ((i = 0; i < 10; i++)); do
	curl_code -X DELETE \
	    -H "Authorization: Bearer $U0_TOKEN" "$BASE/api/v1/tasks/$TASK_ID" >"$T_DIR/del-$i.out" &
done
wait
race=$(cat "$T_DIR"/del-*.out | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
is "$race" "204:1 404:9 " "10 parallel DELETEs of one task -> one 204, nine 404"

# Ten PATCHes of one task at once: all 200, the final title one of theirs.
create_titled "$U1_TOKEN" "patch race" || diag "create failed: $(resp_summary)"
for ((i = 0; i < 10; i++)); do
	curl_code -X PATCH \
	    -H "Authorization: Bearer $U1_TOKEN" -H 'Content-Type: application/json' \
	    --data-binary "{\"title\":\"patched $i\"}" "$BASE/api/v1/tasks/$TASK_ID" >"$T_DIR/patch-$i.out" &
done
wait
is "$(cat "$T_DIR"/patch-*.out | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')" "200:10 " \
    "10 parallel PATCHes of one task -> ten 200"
api "$U1_TOKEN" GET "/api/v1/tasks/$TASK_ID"
json_ok '.title | test("^patched [0-9]$")' "after the PATCH race the title is one of the sent ones"

# PATCHes racing over a few tasks from many kept connections.  Each
# event worker sends the writes of a loop turn as one transaction, which
# holds every row it updated to its commit, and the workers run side by
# side: two transactions updating two of these rows in opposite orders
# would deadlock, and PostgreSQL would break that only after
# deadlock_timeout (1 s) for both.  The writes go out in task id order,
# so none waits for another in a circle: PostgreSQL logs no deadlock.
HOT=6 PATCHES=3000
hot_paths=()
for ((i = 0; i < HOT; i++)); do
	create_titled "$U2_TOKEN" "hot $i" || bail "create failed: $(resp_summary)"
	hot_paths+=(--path "/api/v1/tasks/$TASK_ID")
done
ev_n=$(sed -n 's/^TASKAPI_EV_WORKERS=//p' "$TASKAPI_VAR/taskapi.env" | tail -n 1)
pglog=$TASKAPI_VAR/log/postgres.log
pg_off=$(stat -c %s "$pglog")
load_run --clients 32 --count "$PATCHES" --method PATCH "${hot_paths[@]}" \
	--data '{"title":"hot {i}"}' --header "Authorization: Bearer $U2_TOKEN" \
	--header 'Content-Type: application/json' --cap-seconds 600 \
	--out "$T_DIR/hot.out" >"$T_DIR/hot.summary"
hot=$(awk '{ print $1 }' "$T_DIR/hot.out" | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
is "$hot" "200:$PATCHES " "$PATCHES PATCHes over $HOT tasks, 32 connections, ${ev_n:-?} event workers -> all 200"
deadlocks=$(tail -c +"$((pg_off + 1))" "$pglog" | grep -c 'deadlock detected' || true)
is "$deadlocks" 0 "no deadlock among the event workers' write transactions (PostgreSQL log)"

api "" GET /health
expect_json 200 "the server is healthy after the parallel load"

done_testing
