#!/usr/bin/env bash
# 76-plans.sh: the event worker's sessions plan each statement once
# (generic plans) and only with index paths, whatever the statistics.
#
# A generic plan is made from the statistics of its moment and kept for
# the connection's life.  In bench/, the plain generic plan of
# tasks_list, made on the benchmark's table (one user owning nearly all
# rows), was a sequential scan and a sort: 200 req/s instead of 12,000.
# The event worker's sessions turn sequential and bitmap scans off, so
# an index plan is the only one left.  `taskapi plans` prints the plans
# as those sessions make them; here they are made with the statistics
# saying user_id has a single value, and each must be an index plan.
# (The benchmark's bad plan also depended on its table's physical order,
# and is not rebuilt here.)
. "$(dirname "$0")/lib.sh"

have_psql || skip_all "needs TASKAPI_PSQL from ./dev test"
BIN=$TASKAPI_BUILD/src/taskapi
[[ -x $BIN ]] || skip_all "no $BIN"
ENVF=$TASKAPI_VAR/taskapi.env

# ANALYZE needs the tables' owner: the migrations' role.
OWNER_URL=$(sed -n 's/^TASKAPI_MIGRATE_DATABASE_URL=//p' "$ENVF")
[[ -n $OWNER_URL ]] || skip_all "no TASKAPI_MIGRATE_DATABASE_URL in $ENVF"
owner() { psql -X -q -At -v ON_ERROR_STOP=1 "$OWNER_URL" -c "$1" >/dev/null; }

plans() { "$BIN" --env-file "$ENVF" plans 2>"$T_DIR/plans.err"; }
# plan_of NAME FILE: the plan lines of one statement.
plan_of() { awk -v n="== $1" '$0 == n {on = 1; next} /^== / {on = 0} on' "$2"; }

# Skew the table: one user owns 5,000 tasks, and the statistics say
# that user_id has one value (as when one user holds nearly all rows:
# the benchmark's database).
make_user S || bail "cannot register a user"
sql "INSERT INTO tasks (user_id, title, created_at, updated_at)
	SELECT '$S_ID', 'skew ' || g, now() - g * interval '1 ms', now() - g * interval '1 ms'
	FROM generate_series(1, 5000) g" >/dev/null
owner "ALTER TABLE tasks ALTER COLUMN user_id SET (n_distinct = 1)" || bail "cannot set n_distinct"
owner "ANALYZE tasks" || bail "cannot ANALYZE tasks as its owner"

plans >"$T_DIR/plans"
is "$?" 0 "taskapi plans exits 0 $(head -c 200 "$T_DIR/plans.err")"
is "$(grep -c '^== ' "$T_DIR/plans")" 34 "it prints the plans of all 34 statements"

stmt=$(plan_of tasks_list "$T_DIR/plans")
like "$stmt" "Index Scan using tasks_user_created_idx on tasks" \
	"tasks_list reads the user's newest tasks by (user_id, created_at)"
# Its rows come out in the index's order only through this shape (db.c):
# a nested loop with the users key lookup outside, and no sort on top.
is "$(head -n 1 <<<"$stmt")" "Nested Loop Left Join" \
	"tasks_list: the top node is the nested loop (users outside), not a sort"
is "$(sed -n 2p <<<"$stmt" | sed 's/^ *//')" "->  Index Only Scan using users_pkey on users me" \
	"tasks_list: its outer side is one users row, by primary key"
stmt=$(plan_of users_list "$T_DIR/plans")
is "$(head -n 1 <<<"$stmt")" "Nested Loop Left Join" \
	"users_list: the same shape, no sort on top"
# The batched lookup (ev_batch.h): the pairs' array, then each pair's
# user and task by primary key, in nested loops: no hash or merge join,
# which would read all of users or tasks for a few pairs.
stmt=$(plan_of task_get_batch "$T_DIR/plans")
like "$stmt" "Function Scan on q" "task_get_batch: reads the pairs from its arrays"
like "$stmt" "Index Scan using tasks_pkey on tasks x" "task_get_batch: each task by its primary key"
like "$stmt" "Scan using users_pkey on users u" "task_get_batch: each user by its primary key"
like "$stmt" "One-Time Filter: \(x.id IS NULL\)" "task_get_batch: a user looked up only for a task not found"
if grep -q 'SubPlan' <<<"$stmt"; then
	fail "task_get_batch: no subplan (a hashed one reads all of users)" "$stmt"
else
	pass "task_get_batch: no subplan (a hashed one reads all of users)"
fi
if grep -qE 'Hash|Merge' <<<"$stmt"; then
	fail "task_get_batch: nested loops only (no hash or merge join)" "$stmt"
else
	pass "task_get_batch: nested loops only (no hash or merge join)"
fi
for s in ping user_insert user_by_email user_me users_list user_get user_exists user_update \
	user_delete tasks_list task_insert task_get task_get_batch task_update task_delete \
	task_insert_keyed user_insert_keyed; do
	p=$(plan_of "$s" "$T_DIR/plans")
	if [[ -z $p ]]; then
		fail "$s: has a plan" "missing"
		continue
	fi
	if grep -qE 'Seq Scan|Bitmap' <<<"$p"; then
		fail "$s: an index plan (no sequential or bitmap scan)" "$p"
	else
		pass "$s: an index plan (no sequential or bitmap scan)"
	fi
done
# The sorted and keyset-paged lists (list_sql.h): each walks the index
# of its sort from the cursor on (the row comparison is an index
# condition), in the index's order, with no sort on top.  A search
# (tasks_search_*) walks the same index for a window of rows, and only
# when those hold less than a page of matches (a one-time filter) reads
# tasks_matching(), the GIN index's rows, and sorts them.
sorts="created_desc created_asc updated_desc updated_asc due_desc due_asc priority_desc priority_asc"
declare -A sort_idx=([created]=tasks_user_created_idx [updated]=tasks_user_updated_idx
	[due]=tasks_user_due_idx [priority]=tasks_user_priority_idx)
for so in $sorts; do
	s=tasks_page_$so
	p=$(plan_of "$s" "$T_DIR/plans")
	if [[ -z $p ]] || grep -qE 'Seq Scan|Bitmap|Sort' <<<"$p"; then
		fail "$s: an index plan, no sort" "${p:-missing}"
	else
		pass "$s: an index plan, no sort"
	fi
	like "$p" "Index Scan (Backward )?using ${sort_idx[${so%_*}]} on tasks t
 *Index Cond: \(\(user_id = me.id\) AND \(ROW\(" \
		"$s: walks ${sort_idx[${so%_*}]} from the cursor's (key, id) on"
	s=tasks_search_$so
	p=$(plan_of "$s" "$T_DIR/plans")
	if [[ -z $p ]] || grep -qE 'Seq Scan|Bitmap' <<<"$p"; then
		fail "$s: an index plan" "${p:-missing}"
	else
		pass "$s: an index plan"
	fi
	# The walk: a Limit straight over the sort's index (no sort between).
	like "$p" "CTE walk
 *->  Limit
 *->  Subquery Scan on w
 *Filter: \(w.search @@ websearch_to_tsquery\('simple'::regconfig, \\\$12\)\)
 *->  Limit
 *->  Index Scan (Backward )?using ${sort_idx[${so%_*}]} on tasks t_1
 *Index Cond: \(\(user_id = \\\$1\) AND \(ROW\(" \
		"$s: walks ${sort_idx[${so%_*}]} from the cursor on, the words tested on the way"
	like "$p" "One-Time Filter: \\\$[0-9]+
 *->  Function Scan on tasks_matching t" \
		"$s: reads tasks_matching() only after a walk that found less than a page in a full window"
done
# tasks_matching() plans its query with bitmap scans on (its SET
# clause), as a generic plan like the event worker's: made here the same
# way, it must read the GIN index.
like "$(sql "SELECT array_to_string(proconfig, ',') FROM pg_proc WHERE proname = 'tasks_matching'")" \
	"enable_bitmapscan=on" "tasks_matching() turns bitmap scans on for its query"
p=$(sql "SET enable_seqscan = off; SET random_page_cost = 1.1; SET enable_bitmapscan = on;
	SET plan_cache_mode = force_generic_plan;
	PREPARE m(uuid, text) AS SELECT * FROM (SELECT * FROM tasks t
		WHERE t.search @@ websearch_to_tsquery('simple'::regconfig, \$2) OFFSET 0) m
		WHERE m.user_id = \$1;
	EXPLAIN EXECUTE m('$S_ID', 'skew')")
like "$p" "Bitmap Index Scan on tasks_search_idx" "tasks_matching()'s query reads the GIN index (tasks_search_idx)"
if grep -q BitmapAnd <<<"$p"; then
	fail "tasks_matching()'s query tests the owner on the rows found, no BitmapAnd with a btree" "$p"
else
	pass "tasks_matching()'s query tests the owner on the rows found, no BitmapAnd with a btree"
fi
# Paged by cursor, a word in one task of 100 comes out whole, in order
# and once: each page's window (1,000 tasks, list_sql.h) holds 10 of
# them, less than a page, so each page comes from the GIN side, from
# its cursor on (a word in every task comes from the walk: above).
sql "UPDATE tasks SET description = 'hundred' WHERE user_id = '$S_ID' AND title LIKE '%00'" >/dev/null
url="/api/v1/tasks?limit=20&q=hundred" got="" pages=0
while [[ -n $url && $pages -lt 10 ]]; do
	api "$S_TOKEN" GET "$url"
	[[ $RESP_STATUS == 200 ]] || break
	got+="$(jbody '[.[].title | ltrimstr("skew ")] | join(",")'),"
	pages=$((pages + 1))
	url=$(header Link | sed -n 's/^<\([^>]*\)>.*/\1/p')
done
want=$(seq -s, 100 100 5000)
is "$pages:$got" "3:$want," "q=hundred by cursor: 3 pages, the 50 tasks in order, none twice"
api "$S_TOKEN" GET "/api/v1/tasks?limit=2&q=skew"
expect_json 200 "a search for a word in every task of the skewed user"
is "$(jbody '[.[].title] | join(",")')" "skew 1,skew 2" "... newest first (from the walk)"
api "$S_TOKEN" GET "/api/v1/tasks?limit=2&q=4999"
expect_json 200 "a search for a word in one task of the skewed user"
is "$(jbody '[.[].title] | join(",")')" "skew 4999" "... found"
stmt=$(plan_of users_list "$T_DIR/plans")
like "$stmt" "Index Scan using users_created_idx on users u
 *Index Cond: \(ROW\(created_at, id\) < ROW\(" "users_list: walks users_created_idx from the cursor on"

for s in task_get task_update task_delete; do
	like "$(plan_of "$s" "$T_DIR/plans")" "Index Scan using tasks_pkey on tasks" \
		"$s finds the task by its primary key"
done
# A conditional write reads the current version (for its 412) only when
# the write did nothing: a one-time filter, not a second lookup each time.
for s in task_update task_delete; do
	like "$(plan_of "$s" "$T_DIR/plans")" "One-Time Filter: \\(NOT" \
		"$s: the locked read of the current version runs only after a failed precondition"
done
# The expired keys a keyed creation removes are found by their index.
for s in task_insert_keyed user_insert_keyed; do
	like "$(plan_of "$s" "$T_DIR/plans")" "Index Scan using idempotency_keys_expires_idx" \
		"$s: expired keys are found by expires_at's index"
done

# The event worker answers lists on this table as fast as on any other:
# a page of the skewed user comes back, newest first.
api "$S_TOKEN" GET "/api/v1/tasks?limit=3"
expect_json 200 "the skewed user's first page"
is "$(jbody '[.[].title] | join(",")')" "skew 1,skew 2,skew 3" "newest first"

sql "DELETE FROM tasks WHERE user_id = '$S_ID'" >/dev/null
owner "ALTER TABLE tasks ALTER COLUMN user_id RESET (n_distinct)" || diag "RESET n_distinct failed"
owner "ANALYZE tasks" || diag "ANALYZE after the test failed"
done_testing
