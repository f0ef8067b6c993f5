#!/usr/bin/env bash
# 50-export.sh: GET /api/v1/tasks/export, NDJSON of the caller's tasks.
. "$(dirname "$0")/lib.sh"

EXPORT_BULK=${TASKAPI_EXPORT_BULK:-2000}

make_user E "Export E" || bail "cannot create user E"
make_user F "Export F" || bail "cannot create user F"

# is_ndjson_ctype: Content-Type is application/x-ndjson (parameters allowed).
is_ndjson_ctype() {
	local ct
	ct=$(header Content-Type | tr '[:upper:]' '[:lower:]')
	[[ $ct == application/x-ndjson || $ct == "application/x-ndjson;"* ]]
}

# lines_of_body: number of newline-terminated lines in the last body.
lines_of_body() { wc -l <"$T_BODY" | tr -d ' '; }

# ---------------------------------------------------------------- no tasks

api "$E_TOKEN" GET /api/v1/tasks/export
expect_status 200 "export with no tasks -> 200"
ok_cmd "export: Content-Type is application/x-ndjson" is_ndjson_ctype
is "$(wc -c <"$T_BODY" | tr -d ' ')" 0 "export with no tasks: empty body"
header_like X-Request-Id "$RE_REQID" "export carries X-Request-Id"

# ---------------------------------------------------------------- a few tasks

for t in first second third; do
	create_titled "$E_TOKEN" "export $t" '{priority: "high", description: "d\nwith a newline"}' ||
	    diag "create failed: $(resp_summary)"
done
for t in one two; do
	create_titled "$F_TOKEN" "other $t" || diag "create failed: $(resp_summary)"
done

api "$E_TOKEN" GET "/api/v1/tasks?limit=100"
list_e=$(jq -cS . "$T_BODY")

api "$E_TOKEN" GET /api/v1/tasks/export
expect_status 200 "export of 3 tasks -> 200"
ok_cmd "export of 3 tasks: Content-Type is application/x-ndjson" is_ndjson_ctype
is "$(lines_of_body)" 3 "export: one line per task"
ok_cmd "export: the body ends with a newline" \
    bash -c '[[ $(tail -c1 "$1" | od -An -c | tr -d " ") == "\\n" ]]' _ "$T_BODY"
ok_cmd "export: every line is a single JSON object" \
    bash -c 'while IFS= read -r l; do jq -e "type == \"object\"" <<<"$l" >/dev/null || exit 1; done <"$1"' _ "$T_BODY"
ok_cmd "export: no blank lines" bash -c '! grep -q "^$" "$1"' _ "$T_BODY"
ndjson_ok "all(.[]; keys == $TASK_KEYS and .user_id == \"$E_ID\")" \
    "export: task objects of the caller only"
is "$(jq -cs '[.[].title]' "$T_BODY")" '["export third","export second","export first"]' \
    "export: newest first"
is "$(jq -csS . "$T_BODY")" "$list_e" "export: the same objects as GET /api/v1/tasks"
ndjson_ok 'all(.[]; .description == "d\nwith a newline")' \
    "export: a newline inside a string stays escaped (one object a line)"

api "$F_TOKEN" GET /api/v1/tasks/export
is "$(lines_of_body)" 2 "export of the other user: only that user's 2 tasks"
ndjson_ok "all(.[]; .user_id == \"$F_ID\")" "export of the other user: none of the first user's tasks"

api "" GET /api/v1/tasks/export
expect_401 "export without a token -> 401"
api "$E_TOKEN" POST /api/v1/tasks/export '{"title":"x"}'
expect_error 405 "POST /api/v1/tasks/export -> 405"
ok_cmd "POST /api/v1/tasks/export: Allow lists GET" allow_has GET
api "$E_TOKEN" GET /api/v1/tasks/export/
expect_error 404 "GET /api/v1/tasks/export/ (trailing slash) -> 404"
api "$E_TOKEN" GET "/api/v1/tasks/export?limit=1"
is "$(lines_of_body)" 3 "export ignores paging parameters: still every task"

# ---------------------------------------------------------------- a large export

if have_psql; then
	make_user G "Export G" || bail "cannot create user G"
	# Distinct creation times, a millisecond apart, g = 1 the newest.
	if sql "insert into tasks (user_id, title, created_at, updated_at)
	    select '$G_ID', 'bulk ' || g,
	        now() - g * interval '1 millisecond', now() - g * interval '1 millisecond'
	    from generate_series(1, $EXPORT_BULK) g" >/dev/null; then
		pass "db: inserted $EXPORT_BULK tasks for the export user"
	else
		fail "db: inserted $EXPORT_BULK tasks for the export user" \
		    "insert failed (does the tasks table have other required columns?)"
	fi
	db_count=$(sql "select count(*) from tasks where user_id = '$G_ID'")
	is "$db_count" "$EXPORT_BULK" "db: the export user has $EXPORT_BULK tasks"

	started=$(date +%s%N)
	api "$G_TOKEN" GET /api/v1/tasks/export
	elapsed_ms=$((($(date +%s%N) - started) / 1000000))
	expect_status 200 "export of $EXPORT_BULK tasks -> 200"
	diag "export of $EXPORT_BULK tasks: $(wc -c <"$T_BODY" | tr -d ' ') bytes in ${elapsed_ms} ms, Transfer-Encoding: $(header Transfer-Encoding)"
	is "$(lines_of_body)" "$db_count" "large export: line count equals the database count"
	is "$(jq -c 'select(type == "object" and .user_id != null) | .id' "$T_BODY" | sort -u | wc -l | tr -d ' ')" \
	    "$db_count" "large export: every line a task object, ids distinct"
	ndjson_ok "all(.[]; .user_id == \"$G_ID\")" "large export: all lines belong to the caller"
	is "$(jq -r .title "$T_BODY" | head -n 1)" "bulk 1" "large export: starts with the newest"
	is "$(jq -r .title "$T_BODY" | tail -n 1)" "bulk $EXPORT_BULK" "large export: ends with the oldest"
	ndjson_ok '[.[].created_at] as $c | $c == ($c | sort | reverse)' \
	    "large export: created_at never increases"
	ndjson_ok "all(.[]; (.created_at | test(\"$JQ_TS\")) and .status == \"todo\" and .priority == \"medium\")" \
	    "large export: database defaults rendered like API-created tasks"
	jq -cS . "$T_BODY" | head -n 100 >"$T_DIR/export-head"
	api "$G_TOKEN" GET "/api/v1/tasks?limit=100"
	is "$(jq -cS '.[]' "$T_BODY")" "$(cat -- "$T_DIR/export-head")" \
	    "large export: the first 100 lines equal GET /api/v1/tasks?limit=100"

	api "$G_TOKEN" DELETE "/api/v1/users/$G_ID"
	expect_status 204 "cleanup: delete the export user (cascades to $EXPORT_BULK tasks)"
	is "$(sql "select count(*) from tasks where user_id = '$G_ID'")" 0 \
	    "db: the bulk tasks went with their user"
else
	skip "large export of $EXPORT_BULK tasks" "TASKAPI_PSQL not available"
fi

done_testing
