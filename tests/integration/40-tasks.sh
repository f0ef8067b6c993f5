#!/usr/bin/env bash
# 40-tasks.sh: task create/read/update/delete, validation edges, listing,
# filters, paging, and isolation between users.
. "$(dirname "$0")/lib.sh"

make_user A "Tasks A" || bail "cannot create user A"
make_user B "Tasks B" || bail "cannot create user B"

# post_task JSON DESC: POST /api/v1/tasks as A and expect 201.
post_ok() {
	api "$A_TOKEN" POST /api/v1/tasks "$1"
	expect_json 201 "$2"
}

# post_bad JSON DESC: POST /api/v1/tasks as A and expect a 400 error.
post_bad() {
	api "$A_TOKEN" POST /api/v1/tasks "$1"
	expect_error 400 "$2"
}

# title_json TITLE [EXTRA-OBJECT]: {"title": TITLE} merged with EXTRA.
title_json() {
	local extra=${2:-'{}'}
	jq -cn --arg t "$1" "{title: \$t} + $extra"
}

# ---------------------------------------------------------------- create

post_ok '{"title":"Buy milk"}' "POST /api/v1/tasks with only a title -> 201 JSON"
t1=$(jbody .id)
[[ $t1 =~ $RE_UUID ]] || bail "cannot create a task: $(resp_summary)"
t1_json=$(jq -cS . "$T_BODY")
json_ok "keys == $TASK_KEYS" "create: task object has exactly the nine task fields"
like "$(header Location)" "^(https?://[^/]+)?/api/v1/tasks/$t1\$" \
    "create: Location is /api/v1/tasks/{id}"
json_ok ".id | test(\"$JQ_UUID\")" "create: id is a lower-case UUID"
json_is .user_id "$A_ID" "create: user_id is the caller"
json_is .title "Buy milk" "create: title"
json_is .status todo 'create: status is "todo"'
json_is .priority medium 'create: priority defaults to "medium"'
json_ok '.description == null' "create: description is null when omitted"
json_ok '.due_at == null' "create: due_at is null when omitted"
json_ok "(.created_at | test(\"$JQ_TS\")) and (.updated_at | test(\"$JQ_TS\"))" \
    "create: created_at/updated_at are UTC with microseconds and Z"

post_ok "$(jq -cn '{title: "  \t padded title \n ", description: "Some words", priority: "high",
    due_at: "2026-11-21T10:30:00+01:00"}')" "POST with every field -> 201"
t2=$(jbody .id)
json_is .title "padded title" "create: title is trimmed of ASCII white space"
json_is .description "Some words" "create: description"
json_is .priority high "create: priority"
json_is .due_at "2026-11-21T09:30:00.000000Z" \
    "create: due_at +01:00 normalised to UTC with microseconds"

due_ok() {
	api "$A_TOKEN" POST /api/v1/tasks "$(title_json due "{due_at: \"$1\"}")"
	if [[ $RESP_STATUS == 201 && $(jbody .due_at) == "$2" ]]; then
		pass "create: due_at '$1' -> 201, returned as $2"
	else
		fail "create: due_at '$1' -> 201, returned as $2" "$(resp_summary)"
	fi
}
due_ok "2026-11-21T09:30:00Z" "2026-11-21T09:30:00.000000Z"
due_ok "2026-11-21T09:30:00.123456Z" "2026-11-21T09:30:00.123456Z"
due_ok "2026-11-21T09:30:00.5Z" "2026-11-21T09:30:00.500000Z"
due_ok "2026-12-31T22:00:00-05:00" "2027-01-01T03:00:00.000000Z"
due_ok "2026-11-21T09:30:00+00:00" "2026-11-21T09:30:00.000000Z"
due_ok "2026-11-21T09:30:00-00:00" "2026-11-21T09:30:00.000000Z"
due_ok "2026-06-01T00:00:00+05:30" "2026-05-31T18:30:00.000000Z"
due_ok "2028-02-29T12:00:00Z" "2028-02-29T12:00:00.000000Z"

post_ok '{"title":"no due","due_at":null,"description":null}' \
    "create: due_at and description null -> 201"
json_ok '.due_at == null and .description == null' "create: explicit nulls stay null"

for bad in "2026-02-30T00:00:00Z" "2027-02-29T00:00:00Z" "2026-13-01T00:00:00Z" \
    "2026-11-21T24:00:01Z" "2026-11-21T10:60:00Z" "2026-11-21" "2026-11-21T10:30:00" \
    "10:30:00Z" "tomorrow" "now" "today" "infinity" "-infinity" "epoch" "" \
    "2026-11-21T10:30:00+25:00" "21/11/2026"; do
	post_bad "$(title_json due "{due_at: \"$bad\"}")" "create: due_at '$bad' -> 400"
done

# Title: 1..200 code points after trimming.
post_bad '{}' "create: missing title -> 400"
post_bad '{"title":""}' "create: empty title -> 400"
post_bad '{"title":"   "}' 'create: title "   " -> 400'
post_bad '{"title":" \t\n\r "}' "create: title of only ASCII white space -> 400"
post_ok "$(title_json "$(repeat é 200)")" "create: title of 200 code points (é, 400 bytes) -> 201"
json_ok '.title | length == 200' "create: 200-code-point title returned intact"
post_bad "$(title_json "$(repeat é 201)")" "create: title of 201 code points (é) -> 400"
post_ok "$(title_json "$(repeat 😀 200)")" "create: title of 200 emoji (4-byte UTF-8) -> 201"
json_is .title "$(repeat 😀 200)" "create: emoji title returned byte for byte"
post_bad "$(title_json "$(repeat 😀 201)")" "create: title of 201 emoji -> 400"
post_ok "$(title_json "$(repeat a 200)")" "create: title of 200 ASCII characters -> 201"
post_bad "$(title_json "$(repeat a 201)")" "create: title of 201 ASCII characters -> 400"
post_ok "$(title_json "   $(repeat a 200)   ")" \
    "create: 200 characters plus surrounding spaces -> 201 (trimmed before counting)"
json_ok '.title | length == 200' "create: surrounding spaces stripped from the long title"
post_ok "$(title_json x)" "create: title of 1 character -> 201"
post_ok '{"title":"a  \t  b"}' "create: title with inner white space -> 201"
json_is .title "a  	  b" "create: inner white space of a title is kept"
post_ok '{"title":"\u00a0nbsp\u00a0"}' "create: title with no-break spaces at both ends -> 201"
json_is .title "$(printf '\302\240nbsp\302\240')" "create: only ASCII white space is trimmed (U+00A0 kept)"
post_ok '{"title":"desc","description":"  spaced  \n"}' "create: description with surrounding spaces -> 201"
json_ok '.description == "  spaced  \n"' "create: description is stored as sent (not trimmed)"

# Description: at most 2000 code points, or null.
post_ok "$(title_json d "{description: \"$(repeat é 2000)\"}")" \
    "create: description of 2000 code points -> 201"
json_ok '.description | length == 2000' "create: 2000-code-point description returned intact"
post_bad "$(title_json d "{description: \"$(repeat é 2001)\"}")" \
    "create: description of 2001 code points -> 400"
post_ok "$(title_json d '{description: ""}')" "create: empty description -> 201"

# Priority.
for p in low medium high critical; do
	post_ok "$(title_json "prio $p" "{priority: \"$p\"}")" "create: priority $p -> 201"
	json_is .priority "$p" "create: priority $p returned"
done
for p in urgent HIGH "" " high"; do
	post_bad "$(title_json prio "{priority: \"$p\"}")" "create: priority '$p' -> 400"
done
post_bad '{"title":"prio","priority":null}' "create: priority null -> 400"

# Wrong JSON types.
post_bad '{"title":5}' "create: title of type number -> 400"
post_bad '{"title":null}' "create: title null -> 400"
post_bad '{"title":["a"]}' "create: title of type array -> 400"
post_bad '{"title":{"a":1}}' "create: title of type object -> 400"
post_bad '{"title":"t","priority":true}' "create: priority of type boolean -> 400"
post_bad '{"title":"t","due_at":123}' "create: due_at of type number -> 400"
post_bad '{"title":"t","description":5}' "create: description of type number -> 400"
post_bad '{"title":"t","description":false}' "create: description of type boolean -> 400"

# Unknown fields are ignored, and cannot set server-owned fields.
post_ok "{\"title\":\"sneaky\",\"foo\":1,\"user_id\":\"$B_ID\",\"id\":\"$(random_uuid)\",\"created_at\":\"2000-01-01T00:00:00Z\"}" \
    "create: unknown fields -> 201"
json_ok ".user_id == \"$A_ID\" and (.created_at | startswith(\"2000\") | not)" \
    "create: user_id/created_at in the body are ignored"

# ---------------------------------------------------------------- read

api "$A_TOKEN" GET "/api/v1/tasks/$t1"
expect_json 200 "GET /api/v1/tasks/{id} -> 200"
is "$(jq -cS . "$T_BODY")" "$t1_json" "GET returns the task as created"

missing=$(random_uuid)
api "$A_TOKEN" GET "/api/v1/tasks/$missing"
expect_error 404 "GET /api/v1/tasks/{unknown uuid} -> 404"
body_missing_get=$RESP_BODY
api "$A_TOKEN" GET /api/v1/tasks/not-a-uuid
expect_error 400 "GET /api/v1/tasks/not-a-uuid -> 400"
api "$A_TOKEN" GET "/api/v1/tasks/$(tr '[:lower:]' '[:upper:]' <<<"$t1")"
expect_error 400 "GET /api/v1/tasks/{upper-case uuid} -> 400"
api "$A_TOKEN" GET "/api/v1/tasks/{$t1}"
expect_error 400 "GET /api/v1/tasks/{braced uuid} -> 400"
api "$A_TOKEN" GET "/api/v1/tasks/${t1//-/}"
expect_error 400 "GET /api/v1/tasks/{uuid without dashes} -> 400"
api "$A_TOKEN" GET "/api/v1/tasks/${t1}0"
expect_error 400 "GET /api/v1/tasks/{uuid plus a character} -> 400"
api "$A_TOKEN" GET "/api/v1/tasks/$t1/"
expect_error 404 "GET /api/v1/tasks/{id}/ (trailing slash) -> 404"
api "$A_TOKEN" GET /api/v1/tasks/
expect_error 404 "GET /api/v1/tasks/ (trailing slash) -> 404"

# ---------------------------------------------------------------- another user's task

api "$B_TOKEN" GET "/api/v1/tasks/$t1"
expect_error 404 "GET another user's task -> 404"
is "$RESP_BODY" "$body_missing_get" "GET another user's task: same body as a missing task"

api "$B_TOKEN" PATCH "/api/v1/tasks/$missing" '{"title":"mine now"}'
expect_error 404 "PATCH a missing task -> 404"
body_missing_patch=$RESP_BODY
api "$B_TOKEN" PATCH "/api/v1/tasks/$t1" '{"title":"mine now"}'
expect_error 404 "PATCH another user's task -> 404"
is "$RESP_BODY" "$body_missing_patch" "PATCH another user's task: same body as a missing task"

api "$B_TOKEN" DELETE "/api/v1/tasks/$missing"
expect_error 404 "DELETE a missing task -> 404"
body_missing_delete=$RESP_BODY
api "$B_TOKEN" DELETE "/api/v1/tasks/$t1"
expect_error 404 "DELETE another user's task -> 404"
is "$RESP_BODY" "$body_missing_delete" "DELETE another user's task: same body as a missing task"

api "$A_TOKEN" GET "/api/v1/tasks/$t1"
expect_status 200 "the task survives the other user's PATCH and DELETE"
is "$(jq -cS . "$T_BODY")" "$t1_json" "the task is unchanged by the other user's PATCH"

api "$B_TOKEN" GET "/api/v1/tasks?limit=100"
json_ok "type == \"array\" and all(.[]; .user_id == \"$B_ID\")" \
    "another user's list holds none of the caller's tasks"

# ---------------------------------------------------------------- patch

# get_task ID: GET as A, into the body files.
get_task() { api "$A_TOKEN" GET "/api/v1/tasks/$1"; }

get_task "$t2"
before=$(jq -cS . "$T_BODY")
api "$A_TOKEN" PATCH "/api/v1/tasks/$t2" '{}'
expect_json 200 "PATCH {} -> 200"
is "$(jq -cS . "$T_BODY")" "$before" "PATCH {} changes nothing, updated_at included"

api "$A_TOKEN" PATCH "/api/v1/tasks/$t2" '{"title":"padded title","priority":"high"}'
expect_json 200 "PATCH with the current values -> 200"
is "$(jq -cS . "$T_BODY")" "$before" "PATCH with the current values leaves updated_at alone"

api "$A_TOKEN" PATCH "/api/v1/tasks/$t2" '{"status":"in_progress","unknown":[1,2]}'
expect_json 200 "PATCH status in_progress -> 200"
json_is .status in_progress "PATCH status is applied"
json_ok "keys == $TASK_KEYS" "PATCH returns a full task object"
json_ok ".updated_at > $(jq .updated_at <<<"$before")" "PATCH with a real change moves updated_at"
json_ok ".created_at == $(jq .created_at <<<"$before")" "PATCH keeps created_at"
json_ok ".title == \"padded title\" and .description == \"Some words\" and .priority == \"high\"" \
    "PATCH leaves the fields it does not name"
after_status=$(jq -cS . "$T_BODY")
get_task "$t2"
is "$(jq -cS . "$T_BODY")" "$after_status" "GET after PATCH returns what PATCH returned"

for s in "done" cancelled todo in_progress; do
	api "$A_TOKEN" PATCH "/api/v1/tasks/$t2" "{\"status\":\"$s\"}"
	json_is .status "$s" "PATCH status $s -> 200"
done

prev=$(jbody .updated_at)
api "$A_TOKEN" PATCH "/api/v1/tasks/$t2" '{"title":"  renamed  "}'
json_is .title renamed "PATCH title is trimmed"
json_ok ".updated_at > \"$prev\"" "PATCH title moves updated_at"

api "$A_TOKEN" PATCH "/api/v1/tasks/$t2" '{"due_at":"2030-01-02T03:04:05.678901+02:00"}'
json_is .due_at "2030-01-02T01:04:05.678901Z" "PATCH due_at normalised to UTC"
api "$A_TOKEN" PATCH "/api/v1/tasks/$t2" '{"due_at":null}'
expect_json 200 "PATCH due_at null -> 200"
json_ok '.due_at == null' "PATCH due_at null clears it"
api "$A_TOKEN" PATCH "/api/v1/tasks/$t2" '{"description":null}'
expect_json 200 "PATCH description null -> 200"
json_ok '.description == null' "PATCH description null clears it"
api "$A_TOKEN" PATCH "/api/v1/tasks/$t2" '{"description":"back again","priority":"critical"}'
json_ok '.description == "back again" and .priority == "critical"' "PATCH two fields at once"

get_task "$t2"
before=$(jq -cS . "$T_BODY")
patch_bad() {
	api "$A_TOKEN" PATCH "/api/v1/tasks/$t2" "$1"
	expect_error 400 "PATCH $(printf '%.60s' "$1") -> 400"
}
patch_bad '{"title":null}'
patch_bad '{"status":null}'
patch_bad '{"priority":null}'
patch_bad '{"status":"archived"}'
patch_bad '{"status":"DONE"}'
patch_bad '{"status":5}'
patch_bad '{"priority":"urgent"}'
patch_bad '{"title":""}'
patch_bad '{"title":"   "}'
patch_bad "$(title_json "$(repeat é 201)")"
patch_bad "{\"description\":\"$(repeat é 2001)\"}"
patch_bad '{"due_at":"now"}'
patch_bad '{"due_at":"2026-02-30T00:00:00Z"}'
patch_bad '{"due_at":123}'
patch_bad '{"title":"would be new","status":"bogus"}'
patch_bad '[]'
patch_bad '"title"'
get_task "$t2"
is "$(jq -cS . "$T_BODY")" "$before" "the task is unchanged after the refused PATCHes (no partial update)"

api "$A_TOKEN" PATCH "/api/v1/tasks/$t2" "$(title_json "$(repeat é 200)")"
expect_json 200 "PATCH title of 200 code points -> 200"
api "$A_TOKEN" PATCH "/api/v1/tasks/$t2" "{\"description\":\"$(repeat é 2000)\"}"
expect_json 200 "PATCH description of 2000 code points -> 200"

api "$A_TOKEN" PATCH /api/v1/tasks/not-a-uuid '{"title":"x"}'
expect_error 400 "PATCH /api/v1/tasks/not-a-uuid -> 400"
api "$A_TOKEN" DELETE /api/v1/tasks/not-a-uuid
expect_error 400 "DELETE /api/v1/tasks/not-a-uuid -> 400"

# ---------------------------------------------------------------- delete

create_titled "$A_TOKEN" "to delete" || diag "create failed: $(resp_summary)"
tdel=$TASK_ID
api "$A_TOKEN" DELETE "/api/v1/tasks/$tdel"
expect_status 204 "DELETE own task -> 204"
is "$(wc -c <"$T_BODY" | tr -d ' ')" 0 "DELETE own task: empty body"
get_task "$tdel"
expect_error 404 "GET a deleted task -> 404"
api "$A_TOKEN" DELETE "/api/v1/tasks/$tdel"
expect_error 404 "DELETE a deleted task again -> 404"
api "$A_TOKEN" PATCH "/api/v1/tasks/$tdel" '{"title":"ghost"}'
expect_error 404 "PATCH a deleted task -> 404"

# ---------------------------------------------------------------- list, order, paging

make_user P "Tasks Paging" || bail "cannot create user P"
n_paging=55
ok_all=1
for ((i = 1; i <= n_paging; i++)); do
	create_titled "$P_TOKEN" "$(printf 'page-%02d' "$i")" || {
		ok_all=0
		diag "create page-$i failed: $(resp_summary)"
	}
done
is "$ok_all" 1 "created $n_paging tasks for the paging user"

# titles_of N..M (descending): the expected JSON array of titles.
titles_desc() {
	local from=$1 to=$2 i out=()
	for ((i = from; i >= to; i--)); do
		out+=("$(printf 'page-%02d' "$i")")
	done
	printf '%s\n' "${out[@]}" | jq -R . | jq -cs .
}

api "$P_TOKEN" GET /api/v1/tasks
expect_json 200 "GET /api/v1/tasks -> 200 JSON"
json_ok 'type == "array" and length == 50' "GET /api/v1/tasks: default limit is 50"
is "$(jq -c '[.[].title]' "$T_BODY")" "$(titles_desc 55 6)" "GET /api/v1/tasks: newest first"
json_ok "all(.[]; keys == $TASK_KEYS and .user_id == \"$P_ID\")" \
    "GET /api/v1/tasks: task objects, all the caller's"
json_ok '[.[].created_at] as $c | $c == ($c | sort | reverse)' \
    "GET /api/v1/tasks: created_at descending"

api "$P_TOKEN" GET "/api/v1/tasks?limit=100"
json_ok 'length == 55' "GET ?limit=100 returns all 55"
api "$P_TOKEN" GET "/api/v1/tasks?limit=5"
is "$(jq -c '[.[].title]' "$T_BODY")" "$(titles_desc 55 51)" "GET ?limit=5: the five newest"
api "$P_TOKEN" GET "/api/v1/tasks?limit=5&offset=5"
is "$(jq -c '[.[].title]' "$T_BODY")" "$(titles_desc 50 46)" "GET ?limit=5&offset=5: the next five"
api "$P_TOKEN" GET "/api/v1/tasks?offset=50"
is "$(jq -c '[.[].title]' "$T_BODY")" "$(titles_desc 5 1)" "GET ?offset=50: the last five"
api "$P_TOKEN" GET "/api/v1/tasks?offset=54&limit=100"
is "$(jq -c '[.[].title]' "$T_BODY")" '["page-01"]' "GET ?offset=54: the oldest only"
api "$P_TOKEN" GET "/api/v1/tasks?offset=55"
expect_json 200 "GET ?offset=55 (exactly the end) -> 200"
json_ok '. == []' "GET ?offset=55: empty array"
api "$P_TOKEN" GET "/api/v1/tasks?offset=1000000000"
expect_json 200 "GET ?offset=1000000000 -> 200"
json_ok '. == []' "GET ?offset=1000000000: empty array"
api "$P_TOKEN" GET "/api/v1/tasks?limit=1"
is "$(jq -c '[.[].title]' "$T_BODY")" '["page-55"]' "GET ?limit=1 -> the newest task"
api "$P_TOKEN" GET "/api/v1/tasks?limit=100&offset=0&unknown=1&foo=bar"
expect_json 200 "GET with unknown query parameters -> 200 (ignored)"
json_ok 'length == 55' "unknown query parameters do not filter"

api "$P_TOKEN" PATCH "/api/v1/tasks/$TASK_ID" '{"title":"page-55 edited"}'
api "$P_TOKEN" GET "/api/v1/tasks?limit=2"
json_ok '.[0].title == "page-55 edited" and .[1].title == "page-54"' \
    "editing a task does not move it in the list (ordered by creation)"

for q in limit=0 limit=101 limit=abc limit= limit=1.5 limit=-1 limit=1e1 "limit=%201" \
    limit=99999999999999999999 offset=-1 offset=abc offset=1.5 offset= \
    offset=99999999999999999999 "limit=1&limit=2" "offset=0&offset=0" \
    "status=todo&status=done" "priority=low&priority=low" status=bogus status=DONE \
    status= priority=urgent priority=HIGH priority=; do
	api "$P_TOKEN" GET "/api/v1/tasks?$q"
	expect_error 400 "GET /api/v1/tasks?$q -> 400"
done

# ---------------------------------------------------------------- filters

make_user F "Tasks Filters" || bail "cannot create user F"
# status:priority pairs; created then patched to the status.
for sp in todo:low todo:high in_progress:high done:high done:critical done:low \
    cancelled:medium in_progress:medium; do
	st=${sp%%:*}
	pr=${sp##*:}
	create_titled "$F_TOKEN" "$sp" "{priority: \"$pr\"}" || diag "create $sp: $(resp_summary)"
	if [[ $st != todo ]]; then
		api "$F_TOKEN" PATCH "/api/v1/tasks/$TASK_ID" "{\"status\":\"$st\"}"
	fi
done

# filter_is QUERY N DESC-JQ: the filtered list has N elements, all matching.
filter_is() {
	api "$F_TOKEN" GET "/api/v1/tasks?$1"
	if [[ $RESP_STATUS == 200 ]] && jq -e "length == $2 and all(.[]; $3)" "$T_BODY" >/dev/null; then
		pass "GET /api/v1/tasks?$1 -> $2 matching tasks"
	else
		fail "GET /api/v1/tasks?$1 -> $2 matching tasks" "$(resp_summary)"
	fi
}
filter_is "status=todo" 2 '.status == "todo"'
filter_is "status=in_progress" 2 '.status == "in_progress"'
filter_is "status=done" 3 '.status == "done"'
filter_is "status=cancelled" 1 '.status == "cancelled"'
filter_is "priority=high" 3 '.priority == "high"'
filter_is "priority=low" 2 '.priority == "low"'
filter_is "priority=medium" 2 '.priority == "medium"'
filter_is "priority=critical" 1 '.priority == "critical"'
filter_is "status=done&priority=high" 1 '.status == "done" and .priority == "high"'
filter_is "status=todo&priority=critical" 0 'true'
filter_is "status=done&limit=2" 2 '.status == "done"'
filter_is "status=done&limit=2&offset=2" 1 '.status == "done"'
filter_is "status=in%5Fprogress" 2 '.status == "in_progress"'
filter_is "priority=%68igh" 3 '.priority == "high"'
filter_is "user_id=$A_ID&limit=100" 8 ".user_id == \"$F_ID\""
api "$F_TOKEN" GET "/api/v1/tasks?status=done"
is "$(jq -c '[.[].title]' "$T_BODY")" '["done:low","done:critical","done:high"]' \
    "filtered list is newest first too"

done_testing
