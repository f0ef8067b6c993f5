#!/usr/bin/env bash
# 94-writes-exact.sh (fault: exact writes under concurrency): concurrent creates, patches and
# deletes from 10 clients, all of them also patching one hot task and
# racing to delete the same few tasks.  Afterwards the database holds
# exactly what the successful responses say: every 201 is there with its
# title, nothing else was created, each contested task was deleted once
# (one 204, the rest 404) and stays deleted, and the hot task is the
# 200 response with the newest updated_at, which is unique per change.
# TASKAPI_FAULT_ROUNDS: operations per client (30 here).
. "$(dirname "$0")/lib.sh"

have_psql || skip_all "needs TASKAPI_PSQL from ./dev test"
ROUNDS=${TASKAPI_FAULT_ROUNDS:-30}
CLIENTS=10
PRIOS=(low medium high critical)

make_user W || bail "cannot register a user"
create_titled "$W_TOKEN" "hot" || bail "cannot create the hot task"
HOT=$TASK_ID
CONTESTED=()
for i in 1 2 3 4 5; do
	create_titled "$W_TOKEN" "contested-$i" || bail "cannot create a task"
	CONTESTED+=("$TASK_ID")
done

# The plan: each client's ROUNDS operations in order, "CLIENT TAG METHOD
# PATH [BODY]" (tests/lib/load.py plan sends each client's on its own
# connection, all clients at once; tags are "op:key").
plan_of() {
	local c=$1 i d title prio
	for ((i = 0; i < ROUNDS; i++)); do
		d=${CONTESTED[$(((c + i) % 5))]}
		prio=${PRIOS[$(((c + i) % 4))]}
		case $((i % 4)) in
		0)	title="new-c$c-$i"
			printf '%s\tcreate:%s\tPOST\t/api/v1/tasks\t{"title":"%s","priority":"%s"}\n' "$c" "$title" "$title" "$prio" ;;
		1)	title="hot-c$c-$i"
			printf '%s\thot:%s\tPATCH\t/api/v1/tasks/%s\t{"title":"%s","priority":"%s"}\n' "$c" "$title" "$HOT" "$title" "$prio" ;;
		2)	printf '%s\tdelete:%s\tDELETE\t/api/v1/tasks/%s\n' "$c" "$d" "$d" ;;
		3)	printf '%s\tpatchc:%s\tPATCH\t/api/v1/tasks/%s\t{"status":"done"}\n' "$c" "$d" "$d" ;;
		esac
	done
}
for ((c = 0; c < CLIENTS; c++)); do plan_of "$c"; done >"$T_DIR/plan"
diag "load: $(python3 "$T_LOAD_PY" plan --base "$BASE" --plan "$T_DIR/plan" \
	--header "Authorization: Bearer $W_TOKEN" --timeout 30 --out "$T_DIR/answers")"
# One line per operation: "op<TAB>key<TAB>status<TAB>compact body".
LOG=$T_DIR/all
sed 's/:/\t/' "$T_DIR/answers" >"$LOG"
is "$(wc -l <"$LOG")" $((CLIENTS * ROUNDS)) "$CLIENTS clients x $ROUNDS operations all answered"

# --- statuses: only the ones each operation may give
bad=$(awk -F'\t' '($1 == "create" && $3 != 201) || ($1 == "hot" && $3 != 200) ||
	($1 == "delete" && $3 != 204 && $3 != 404) || ($1 == "patchc" && $3 != 200 && $3 != 404)' "$LOG")
is "$bad" "" "creates 201, hot patches 200, contested deletes/patches 204|200 or 404: nothing else"

# --- creates: exactly the 201s are in the database, with their titles
created=$(awk -F'\t' '$1 == "create" && $3 == 201 { print $4 }' "$LOG" |
	jq -r '[.id, .title] | @tsv' | sort)
in_db=$(sql "SELECT id, title FROM tasks WHERE user_id = '$W_ID' AND title LIKE 'new-%' ORDER BY 1" | tr '|' '\t' | sort)
n_created=$(grep -c . <<<"$created")
is "$n_created" $((CLIENTS * ((ROUNDS + 3) / 4))) "every create got its 201 ($n_created)"
if [[ $created == "$in_db" ]]; then
	pass "the database holds exactly the $n_created created tasks, titles as answered"
else
	fail "the database holds exactly the $n_created created tasks, titles as answered" \
		"$(diff <(printf '%s\n' "$created") <(printf '%s\n' "$in_db") | head -10)"
fi
mism=$(awk -F'\t' '$1 == "create" && $3 == 201 { print $2 "\t" $4 }' "$LOG" |
	while IFS=$'\t' read -r want body; do
		[[ $(jq -r .title <<<"$body") == "$want" ]] || echo "$want"
	done)
is "$mism" "" "each 201 carries the title its request sent"

# --- contested deletes: one 204 each, then gone for good
for d in "${CONTESTED[@]}"; do
	n204=$(awk -F'\t' -v d="$d" '$1 == "delete" && $2 == d && $3 == 204' "$LOG" | wc -l)
	tries=$(awk -F'\t' -v d="$d" '$1 == "delete" && $2 == d' "$LOG" | wc -l)
	left=$(sql "SELECT count(*) FROM tasks WHERE id = '$d'")
	if [[ $n204 == 1 && $left == 0 ]]; then
		pass "task $d: $tries deletes, exactly one 204, and it is gone"
	else
		fail "task $d: $tries deletes, exactly one 204, and it is gone" "204s: $n204, rows left: $left"
	fi
done

# --- the hot task: every 200 has its own updated_at, and the newest one
# is what the database holds (no lost update, no mix of two patches)
hot=$(awk -F'\t' '$1 == "hot" && $3 == 200 { print $4 }' "$LOG")
n_hot=$(grep -c . <<<"$hot")
n_distinct=$(jq -r .updated_at <<<"$hot" | sort -u | wc -l)
is "$n_distinct" "$n_hot" "$n_hot concurrent patches of one task: $n_distinct distinct updated_at values"
newest=$(jq -sc 'sort_by(.updated_at) | last | {title, priority, updated_at}' <<<"$hot")
row=$(sql "SELECT json_build_object('title', title, 'priority', priority,
	'updated_at', to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))
	FROM tasks WHERE id = '$HOT'" | jq -c '{title, priority, updated_at}')
is "$row" "$newest" "the hot task in the database is the newest 200 response"
pair_ok=$(jq -r '[.title, .priority] | @tsv' <<<"$hot" | while IFS=$'\t' read -r t p; do
	c=${t#hot-c}; c=${c%%-*}; i=${t##*-}
	[[ $p == "${PRIOS[$(((c + i) % 4))]}" ]] || echo "$t $p"
done)
is "$pair_ok" "" "every 200 shows the title and priority of one and the same request"

# --- nothing else changed: the user's tasks are exactly hot + created
total=$(sql "SELECT count(*) FROM tasks WHERE user_id = '$W_ID'")
is "$total" $((n_created + 1)) "the user has exactly the hot task and the created ones ($total)"

done_testing
