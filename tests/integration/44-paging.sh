#!/usr/bin/env bash
# 44-paging.sh: keyset cursors and Link rel="next" on GET /api/v1/tasks
# and /users: every sort walked page by page while rows are inserted and
# deleted between pages (no row skipped or repeated), tampered and
# foreign cursors (400, never a database error), X-Total-Count.
. "$(dirname "$0")/lib.sh"

have_psql || skip_all "needs TASKAPI_PSQL from ./dev test (seeds with SQL)"
WALK=$(dirname "$0")/paging_walk.py
# db_errors: database errors the workers logged so far.
db_errors() { grep -c 'database error' "$TASKAPI_VAR/log/taskapi.log" 2>/dev/null || true; }
DB_ERRORS0=$(db_errors)

make_user P "Paging P" || bail "cannot create user P"
make_user O "Paging O" || bail "cannot create user O"

# 90 rows with ties on every sort key: created_at in groups of 4,
# updated_at in 10 values, due_at in 9 values or NULL, 4 priorities, and
# every status.  A fifth hold the word "walkword", a seventh "needle".
sql "INSERT INTO tasks (user_id, title, description, status, priority,
	due_at, created_at, updated_at)
	SELECT '$P_ID', 'stable ' || g || CASE WHEN g % 5 = 0 THEN ' walkword' ELSE '' END,
	    CASE WHEN g % 7 = 0 THEN 'a needle in it' END,
	    (ARRAY['todo','in_progress','done','cancelled'])[1 + g % 4]::task_status,
	    (ARRAY['low','medium','high','critical'])[1 + (g / 3) % 4]::task_priority,
	    CASE WHEN g % 4 = 1 THEN NULL
	        ELSE timestamptz '2026-01-01 00:00Z' + (g % 9) * interval '30 days' END,
	    timestamptz '2026-06-01 00:00Z' + (g / 4) * interval '1 minute',
	    timestamptz '2026-07-01 00:00Z' + (g % 10) * interval '1 hour'
	FROM generate_series(1, 90) g" >/dev/null || bail "cannot seed tasks"

# expect_walk QUERY WHERE DESC: walks QUERY while mutating; the stable
# rows are P's seeded rows matching the SQL condition WHERE.
expect_walk() {
	local out
	sql "SELECT id FROM tasks WHERE user_id = '$P_ID' AND title LIKE 'stable %' AND ($2)" \
	    >"$T_DIR/stable" || bail "cannot read the expected rows"
	out=$(python3 "$WALK" "$BASE" "$P_TOKEN" "$1" "$T_DIR/stable" 2>&1)
	if [[ $out == ok:* ]]; then
		pass "$3 ($out)"
	else
		fail "$3" "query $1: $out"
	fi
}

for s in "" created_at -created_at updated_at -updated_at due_at -due_at priority -priority; do
	expect_walk "limit=7${s:+&sort=$s}" true \
	    "walk ${s:-the default order}: each row once, in order, under inserts and deletes"
done
expect_walk "limit=5&status=todo&sort=priority" "status = 'todo'" \
    "walk status=todo by priority"
expect_walk "limit=4&overdue=true&sort=-due_at" \
    "due_at < now() AND status NOT IN ('done', 'cancelled')" "walk overdue=true by -due_at"
expect_walk "limit=3&due_after=2026-03-02T00:00:00Z&due_before=2026-07-30T00:00:00Z&sort=due_at" \
    "due_at >= '2026-03-02Z' AND due_at < '2026-07-30Z'" "walk a due_after/due_before window"
expect_walk "limit=3&q=walkword&sort=-updated_at" "title LIKE '%walkword%'" \
    "walk q=walkword by -updated_at"
expect_walk "limit=2&q=needle" "description LIKE '%needle%'" "walk q=needle, default order"
expect_walk "limit=9&count=true&priority=high&sort=created_at" "priority = 'high'" \
    "walk count=true&priority=high by created_at"

# ---------------------------------------------------------------- Link and count

api "$P_TOKEN" GET "/api/v1/tasks?limit=200"
expect_error 400 "limit is still at most 100"
api "$P_TOKEN" GET "/api/v1/tasks?limit=90&sort=priority"
expect_json 200 "a page of exactly all 90 rows"
is "$(header Link)" "" "no Link when no row follows"
has_header X-Total-Count && fail "no X-Total-Count without count=true" "$(header X-Total-Count)" ||
    pass "no X-Total-Count without count=true"
api "$P_TOKEN" GET "/api/v1/tasks?limit=89&sort=priority&count=true"
header_like Link '^</api/v1/tasks\?sort=priority&limit=89&count=true&cursor=[A-Za-z0-9_-]+>; rel="next"$' \
    "Link: the same parameters and a base64url cursor, rel=next (RFC 8288)"
is "$(header X-Total-Count)" 90 "count=true -> X-Total-Count: 90"
next=$(header Link | sed 's/^<\([^>]*\)>.*/\1/')
api "$P_TOKEN" GET "$next"
expect_json 200 "the Link's target answers"
is "$(jbody length)" 1 "the last page holds the one remaining row"
is "$(header Link)" "" "the last page has no Link"

# A script of the configured origin may read both headers (CORS).
req GET "/api/v1/tasks?limit=1&count=true" -H "Authorization: Bearer $P_TOKEN" -H "Origin: $BASE"
header_like Access-Control-Expose-Headers '(^|, )Link(,|$)' "CORS exposes Link"
header_like Access-Control-Expose-Headers '(^|, )X-Total-Count(,|$)' "CORS exposes X-Total-Count"

# Offset paging still works, and its page also links onwards.
api "$P_TOKEN" GET "/api/v1/tasks?limit=3&offset=3&sort=created_at"
expect_json 200 "offset paging still answers"
off_ids=$(jbody '[.[].id] | join(",")')
api "$P_TOKEN" GET "/api/v1/tasks?limit=3&sort=created_at"
first=$(header Link | sed 's/^<\([^>]*\)>.*/\1/')
api "$P_TOKEN" GET "$first"
is "$(jbody '[.[].id] | join(",")')" "$off_ids" "page 2 by cursor = page 2 by offset (nothing changed)"

# Users: the Link walk covers every user exactly once.
sql "SELECT id FROM users ORDER BY id" >"$T_DIR/users.want"
path="/api/v1/users?limit=50&count=true"
: >"$T_DIR/users.got"
pages=0
while [[ -n $path && $pages -lt 1000 ]]; do
	api "$P_TOKEN" GET "$path"
	[[ $RESP_STATUS == 200 ]] || break
	[[ $pages == 0 ]] && total=$(header X-Total-Count)
	jbody '.[].id' >>"$T_DIR/users.got"
	path=$(header Link | sed -n 's/^<\([^>]*\)>; rel="next"$/\1/p')
	pages=$((pages + 1))
done
expect_status 200 "users pages answer 200"
is "$(sort "$T_DIR/users.got" | uniq -d | wc -l)" 0 "users walk: no user twice"
is "$(sort -u "$T_DIR/users.got")" "$(cat "$T_DIR/users.want")" \
    "users walk over $pages pages: exactly the users table"
is "$total" "$(wc -l <"$T_DIR/users.want")" "users count=true -> X-Total-Count"

# ---------------------------------------------------------------- tampered and foreign cursors

api "$P_TOKEN" GET "/api/v1/tasks?limit=3&sort=priority&status=todo"
cur=$(header Link | sed -n 's/.*cursor=\([A-Za-z0-9_-]*\)>.*/\1/p')
[[ -n $cur ]] || bail "no cursor in the Link: $(header Link)"
api "$P_TOKEN" GET "/api/v1/tasks?limit=3&sort=priority&status=todo&cursor=$cur"
expect_json 200 "the cursor as given: 200"

# flip CURSOR I: the cursor with its I-th character changed.
flip() {
	local c=${1:$2:1} r=A
	[[ $c == A ]] && r=B
	printf '%s%s%s' "${1:0:$2}" "$r" "${1:$(($2 + 1))}"
}
bad_cursor() {
	api "${3:-$P_TOKEN}" GET "${4:-/api/v1/tasks?limit=3&sort=priority&status=todo}&cursor=$1"
	expect_error 400 "$2"
}
for i in 0 1 5 30 60 $((${#cur} - 1)); do
	bad_cursor "$(flip "$cur" "$i")" "cursor with character $i changed -> 400"
done
bad_cursor "${cur:0:$((${#cur} - 1))}" "truncated cursor -> 400"
bad_cursor "${cur}AA" "cursor with bytes added -> 400"
bad_cursor "" "empty cursor -> 400"
bad_cursor "$(repeat A 300)" "300-character cursor -> 400"
bad_cursor "not+a/cursor%3D%3D" "non-base64url cursor -> 400"
bad_cursor "$cur" "P's cursor sent by another user -> 400" "$O_TOKEN"
bad_cursor "$cur" "cursor with another sort -> 400" "" "/api/v1/tasks?limit=3&sort=due_at&status=todo"
bad_cursor "$cur" "cursor without its sort -> 400" "" "/api/v1/tasks?limit=3&status=todo"
bad_cursor "$cur" "cursor with another filter -> 400" "" "/api/v1/tasks?limit=3&sort=priority&status=done"
bad_cursor "$cur" "cursor with a filter added -> 400" "" "/api/v1/tasks?limit=3&sort=priority&status=todo&q=x"
bad_cursor "$cur" "cursor with offset -> 400" "" "/api/v1/tasks?limit=3&sort=priority&status=todo&offset=3"
bad_cursor "$cur" "a tasks cursor on /users -> 400" "" "/api/v1/users?limit=3"
api "$P_TOKEN" GET "/api/v1/tasks?limit=3&sort=priority&status=todo&cursor=$cur&cursor=$cur"
expect_error 400 "cursor given twice -> 400"
api "$P_TOKEN" GET "/api/v1/tasks?limit=3&sort=priority&status=todo&cursor=$cur&limit=5"
expect_error 400 "limit given twice -> 400"
api "$P_TOKEN" GET "/api/v1/tasks?limit=50&sort=priority&status=todo&cursor=$cur"
expect_json 200 "the same cursor with another limit: 200 (limit is not part of the query)"
is "$(db_errors)" "$DB_ERRORS0" "no database error logged during this script"

done_testing
