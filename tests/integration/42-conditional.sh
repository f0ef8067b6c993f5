#!/usr/bin/env bash
# 42-conditional.sh: ETags and conditional requests (RFC 9110 section 13)
# on tasks and users, through both kinds of worker: 304 for a matching
# If-None-Match, 412 with the current ETag for an If-Match that no longer
# matches, "*", weak tags, lists and malformed headers, the 428 setting,
# CORS, and racing writers holding the same ETag: exactly one wins per
# version, counted.
. "$(dirname "$0")/lib.sh"

make_user A "Cond A" || bail "cannot create user A"
make_user B "Cond B" || bail "cannot create user B"

# capi TOKEN METHOD PATH HEADER [JSON-BODY]: api with one more header
# ("" for none).
capi() {
	local tok=$1 method=$2 path=$3 h=$4
	shift 4
	local args=(-H "Authorization: Bearer $tok")
	[[ -n $h ]] && args+=(-H "$h")
	if [[ $# -gt 0 ]]; then
		printf '%s' "$1" >"$T_REQ"
		args+=(-H 'Content-Type: application/json' --data-binary "@$T_REQ")
	fi
	req "$method" "$path" "${args[@]}"
}

# expect_etag TAG DESC: the last response's ETag header is exactly TAG.
expect_etag() { is "$(header ETag)" "$1" "$2"; }

# expect_304 DESC: 304, the ETag, and no body at all.
expect_304() {
	local why=""
	[[ $RESP_STATUS == 304 ]] || why="want status 304. "
	[[ -s $T_BODY ]] && why+="it has a body. "
	[[ -n $(header ETag) ]] || why+="no ETag. "
	if [[ -z $why ]]; then pass "$1"; else fail "$1" "$why$(resp_summary)"; fi
}

# ------------------------------------------------------------ GET and 304

create_titled "$A_TOKEN" "cond one" || bail "cannot create a task: $(resp_summary)"
T=$TASK_ID
expect_etag '"1"' "a created task carries its ETag (\"1\")"

capi "$A_TOKEN" GET "/api/v1/tasks/$T" ""
expect_json 200 "GET task"
expect_etag '"1"' "GET task: a strong ETag, the row's version"
req GET "/api/v1/tasks/$T" -H "Authorization: Bearer $A_TOKEN" -H 'Accept-Encoding: gzip'
is "$(header ETag)|$(header Content-Encoding)" '"1"|' \
	"a client accepting gzip gets the task uncompressed with its strong ETag (nginx would weaken it)"
req GET /api/v1/me -H "Authorization: Bearer $A_TOKEN" -H 'Accept-Encoding: gzip'
like "$(header ETag)" '^"[0-9]+"$' "... so does /me"
req GET "/api/v1/users/$A_ID" -H "Authorization: Bearer $A_TOKEN" -H 'Accept-Encoding: gzip'
like "$(header ETag)" '^"[0-9]+"$' "... and /users/{id}"
capi "$A_TOKEN" GET "/api/v1/tasks/$T" 'If-None-Match: "1"'
expect_304 "GET task, If-None-Match the current ETag: 304, no body (event worker)"
expect_etag '"1"' "the 304 repeats the ETag"
capi "$A_TOKEN" GET "/api/v1/tasks/$T" 'If-None-Match: W/"1"'
expect_304 "If-None-Match compares weakly: W/\"1\" matches \"1\""
capi "$A_TOKEN" GET "/api/v1/tasks/$T" 'If-None-Match: "7", "x-other",, "1"'
expect_304 "If-None-Match: a list with foreign tags and empty elements still matches"
capi "$A_TOKEN" GET "/api/v1/tasks/$T" 'If-None-Match: *'
expect_304 "If-None-Match: * matches an existing task"
capi "$A_TOKEN" GET "/api/v1/tasks/$T" 'If-None-Match: "2"'
expect_json 200 "If-None-Match another tag: the full 200"
capi "$A_TOKEN" GET "/api/v1/tasks/$T" 'If-None-Match: 1'
expect_error 400 "If-None-Match without quotes: 400 with a JSON error"
capi "$A_TOKEN" GET "/api/v1/tasks/$T" 'If-None-Match: "1'
expect_error 400 "If-None-Match with an unterminated tag: 400"
capi "$A_TOKEN" GET "/api/v1/tasks/$T" 'If-Match: "2"'
expect_error 412 "GET with an If-Match that does not match: 412"
expect_etag '"1"' "the 412 carries the current ETag"
capi "$A_TOKEN" GET "/api/v1/tasks/00000000-0000-4000-8000-000000000000" 'If-None-Match: *'
expect_error 404 "If-None-Match: * on a missing task: 404 (a 404 comes before preconditions)"
capi "$B_TOKEN" GET "/api/v1/tasks/$T" 'If-None-Match: "1"'
expect_error 404 "another user's task with its right ETag: 404, not 304"

# Users: /me on the event worker, /users/{id} on the blocking workers.
capi "$A_TOKEN" GET /api/v1/me ""
expect_json 200 "GET /me"
UTAG=$(header ETag)
like "$UTAG" '^"[1-9][0-9]*"$' "GET /me carries a strong ETag ($UTAG)"
capi "$A_TOKEN" GET /api/v1/me "If-None-Match: $UTAG"
expect_304 "GET /me with If-None-Match its ETag: 304 (event worker)"
capi "$B_TOKEN" GET "/api/v1/users/$A_ID" "If-None-Match: $UTAG"
expect_304 "GET /users/{id} with If-None-Match its ETag: 304 (blocking worker)"
capi "$A_TOKEN" PATCH "/api/v1/users/$A_ID" "" '{"name":"Cond A2"}'
expect_json 200 "PATCH the user"
NTAG=$(header ETag)
isnt "$NTAG" "$UTAG" "a changed user has a new ETag ($UTAG -> $NTAG)"
capi "$B_TOKEN" GET "/api/v1/users/$A_ID" "If-None-Match: $UTAG"
expect_json 200 "the old user ETag no longer matches: 200"
expect_etag "$NTAG" "... with the new ETag"

# User PATCH and DELETE honour If-Match as task writes do.
make_user U "Cond U" || bail "cannot create user U"
capi "$U_TOKEN" GET /api/v1/me ""
U1=$(header ETag)
capi "$U_TOKEN" PATCH "/api/v1/users/$U_ID" "If-Match: $U1" '{"name":"Cond U2"}'
expect_json 200 "PATCH a user with If-Match its current ETag: 200"
U2=$(header ETag)
isnt "$U2" "$U1" "... with a new ETag ($U1 -> $U2)"
capi "$U_TOKEN" PATCH "/api/v1/users/$U_ID" "If-Match: $U1" '{"name":"lost update"}'
expect_error 412 "PATCH a user with a stale If-Match: 412 with a JSON error"
expect_etag "$U2" "... naming the user's current ETag"
capi "$U_TOKEN" PATCH "/api/v1/users/$U_ID" "If-None-Match: *" '{"name":"nope"}'
expect_error 412 "PATCH a user with If-None-Match: *: 412"
capi "$U_TOKEN" PATCH "/api/v1/users/$U_ID" 'If-Match: 4' '{"name":"nope"}'
expect_error 400 "PATCH a user with a malformed If-Match: 400"
capi "$U_TOKEN" GET /api/v1/me ""
json_is .name "Cond U2" "the refused user PATCHes changed nothing"
expect_etag "$U2" "... still at $U2"
capi "$U_TOKEN" PATCH "/api/v1/users/$U_ID" 'If-Match: *' '{"name":"Cond U3"}'
expect_json 200 "If-Match: * on the user: 200"
U3=$(header ETag)
capi "$B_TOKEN" PATCH "/api/v1/users/$U_ID" "If-Match: $U3" '{"name":"x"}'
expect_error 403 "PATCH another user with its right ETag: 403"
capi "$U_TOKEN" DELETE "/api/v1/users/$U_ID" "If-Match: $U2"
expect_error 412 "DELETE a user with a stale If-Match: 412"
expect_etag "$U3" "... naming the current ETag"
capi "$U_TOKEN" GET /api/v1/me ""
expect_json 200 "the user is still there"
capi "$U_TOKEN" DELETE "/api/v1/users/$U_ID" "If-Match: $U3"
expect_status 204 "DELETE a user with the current If-Match: 204"
capi "$U_TOKEN" DELETE "/api/v1/users/$U_ID" "If-Match: $U3"
expect_error 401 "DELETE the user again: 401 (the token's user is gone), not 412"

# ------------------------------------------------------------ PATCH

capi "$A_TOKEN" PATCH "/api/v1/tasks/$T" 'If-Match: "1"' '{"title":"cond two"}'
expect_json 200 "PATCH with If-Match the current ETag: 200"
expect_etag '"2"' "the PATCH answer carries the new ETag"
capi "$A_TOKEN" PATCH "/api/v1/tasks/$T" 'If-Match: "1"' '{"title":"lost update"}'
expect_error 412 "PATCH with a stale If-Match: 412 with a JSON error"
expect_etag '"2"' "the 412 names the current ETag"
capi "$A_TOKEN" GET "/api/v1/tasks/$T" ""
json_is .title "cond two" "the stale PATCH changed nothing"
capi "$A_TOKEN" PATCH "/api/v1/tasks/$T" 'If-Match: W/"2"' '{"title":"weak"}'
expect_error 412 "If-Match compares strongly: W/\"2\" never matches"
capi "$A_TOKEN" PATCH "/api/v1/tasks/$T" 'If-Match: "9", "2"' '{"title":"cond three"}'
expect_json 200 "If-Match: a list holding the current ETag: 200"
expect_etag '"3"' "... now \"3\""
capi "$A_TOKEN" PATCH "/api/v1/tasks/$T" 'If-Match: *' '{"title":"cond four"}'
expect_json 200 "If-Match: * on an existing task: 200"
capi "$A_TOKEN" PATCH "/api/v1/tasks/$T" 'If-Match: "4"' '{"title":"cond four"}'
expect_json 200 "a PATCH that changes nothing: 200"
expect_etag '"4"' "... and the ETag stays (the representation did not change)"
capi "$A_TOKEN" PATCH "/api/v1/tasks/$T" 'If-None-Match: *' '{"title":"nope"}'
expect_error 412 "PATCH with If-None-Match: * on an existing task: 412"
capi "$A_TOKEN" PATCH "/api/v1/tasks/$T" 'If-None-Match: "4"' '{"title":"nope"}'
expect_error 412 "PATCH with If-None-Match the current ETag: 412"
capi "$A_TOKEN" PATCH "/api/v1/tasks/$T" 'If-Match: 4' '{"title":"nope"}'
expect_error 400 "PATCH with a malformed If-Match: 400"
capi "$A_TOKEN" PATCH "/api/v1/tasks/$T" "If-Match: $(repeat '"1",' 40)\"4\"" '{"title":"nope"}'
expect_error 400 "If-Match listing more than 32 tags: 400"
capi "$A_TOKEN" GET "/api/v1/tasks/$T" ""
json_is .title "cond four" "none of the refused PATCHes changed the task"
expect_etag '"4"' "... still at \"4\""
capi "$A_TOKEN" PATCH "/api/v1/tasks/00000000-0000-4000-8000-000000000000" 'If-Match: "1"' '{"title":"x"}'
expect_error 404 "PATCH with If-Match on a missing task: 404, not 412"
capi "$B_TOKEN" PATCH "/api/v1/tasks/$T" 'If-Match: "4"' '{"title":"x"}'
expect_error 404 "PATCH of another user's task with its right ETag: 404"

# ------------------------------------------------------------ DELETE

capi "$A_TOKEN" DELETE "/api/v1/tasks/$T" 'If-Match: "3"'
expect_error 412 "DELETE with a stale If-Match: 412"
expect_etag '"4"' "... naming the current ETag"
capi "$A_TOKEN" GET "/api/v1/tasks/$T" ""
expect_json 200 "the task is still there"
capi "$A_TOKEN" DELETE "/api/v1/tasks/$T" 'If-Match: "4"'
expect_status 204 "DELETE with the current If-Match: 204"
capi "$A_TOKEN" DELETE "/api/v1/tasks/$T" 'If-Match: "4"'
expect_error 404 "DELETE again: 404 (gone), not 412"

# ------------------------------------------------------------ CORS

ORIGIN=$BASE
req OPTIONS /api/v1/tasks/x -H "Origin: $ORIGIN" -H 'Access-Control-Request-Method: PATCH' \
	-H 'Access-Control-Request-Headers: if-match, idempotency-key'
like "$(header Access-Control-Allow-Headers)" 'If-Match.*If-None-Match.*Idempotency-Key' \
	"a CORS preflight allows If-Match, If-None-Match and Idempotency-Key"
create_titled "$A_TOKEN" "cors" || bail "cannot create a task"
req GET "/api/v1/tasks/$TASK_ID" -H "Origin: $ORIGIN" -H "Authorization: Bearer $A_TOKEN"
like "$(header Access-Control-Expose-Headers)" 'ETag' "cross-origin scripts may read the ETag"

# ------------------------------------------------------------ races

# ROUNDS rounds; in each, N PATCHes carrying the same If-Match (the
# current version) race from one load process.  Exactly one per round
# wins (200), the others get 412, and the version moves by one a round.
create_titled "$A_TOKEN" "race" || bail "cannot create a task"
R=$TASK_ID
ROUNDS=5 N=16 wins=0 lost=0 other=0
for ((round = 1; round <= ROUNDS; round++)); do
	load_run --clients "$N" --count "$N" --cap-seconds 120 --timeout 60 \
		--method PATCH --path "/api/v1/tasks/$R" \
		--header "Authorization: Bearer $A_TOKEN" --header 'Content-Type: application/json' \
		--header "If-Match: \"$round\"" --data "{\"title\":\"round $round writer {i}\"}" \
		--save-dir "$T_DIR" --save-status 412 \
		--out "$T_DIR/race$round" >"$T_DIR/race$round.sum"
	w=$(grep -c '^200 ' "$T_DIR/race$round")
	l=$(grep -c '^412 ' "$T_DIR/race$round")
	wins=$((wins + w)) lost=$((lost + l)) other=$((other + N - w - l))
	if [[ $w != 1 || $l != $((N - 1)) ]]; then
		fail "round $round: one 200 and $((N - 1)) 412" "$(cat "$T_DIR/race$round.sum")"
	fi
done
is "$wins/$lost/$other" "$ROUNDS/$((ROUNDS * (N - 1)))/0" \
	"$ROUNDS rounds of $N racing PATCHes with the same If-Match: exactly one 200 per version, the rest 412"
like "$(cat "$T_DIR/412.headers")" $'[Ee][Tt]ag: "[0-9]+"' "a racing loser's 412 names the newer ETag"
capi "$A_TOKEN" GET "/api/v1/tasks/$R" ""
expect_etag "\"$((ROUNDS + 1))\"" "the task is at version $((ROUNDS + 1)): one change per round"
like "$(jbody .title)" "^round $ROUNDS writer " "its title is the last round's winner's"

# The same for users.  nginx limits account PATCHes per account (burst
# 10) and per client address (burst 20), so each round races UN PATCHes
# on a user of its own, from a loopback address of its own: none is
# refused with 429, and each round is one version of one user.
UN=8 wins=0 lost=0 other=0
for ((round = 1; round <= ROUNDS; round++)); do
	make_user V "Race V$round" || bail "cannot create user V$round"
	capi "$V_TOKEN" GET /api/v1/me ""
	vtag=$(header ETag)
	load_run --clients "$UN" --count "$UN" --cap-seconds 120 --timeout 60 \
		--source-address "127.0.42.$round" \
		--method PATCH --path "/api/v1/users/$V_ID" \
		--header "Authorization: Bearer $V_TOKEN" --header 'Content-Type: application/json' \
		--header "If-Match: $vtag" --data "{\"name\":\"round $round writer {i}\"}" \
		--out "$T_DIR/urace$round" >"$T_DIR/urace$round.sum"
	w=$(grep -c '^200 ' "$T_DIR/urace$round")
	l=$(grep -c '^412 ' "$T_DIR/urace$round")
	wins=$((wins + w)) lost=$((lost + l)) other=$((other + UN - w - l))
	if [[ $w != 1 || $l != $((UN - 1)) ]]; then
		fail "user round $round: one 200 and $((UN - 1)) 412" "$(cat "$T_DIR/urace$round.sum")"
	fi
	capi "$V_TOKEN" GET /api/v1/me ""
	isnt "$(header ETag)" "$vtag" "user round $round: the user has a new ETag"
	like "$(jbody .name)" "^round $round writer " "user round $round: its name is the winner's"
done
is "$wins/$lost/$other" "$ROUNDS/$((ROUNDS * (UN - 1)))/0" \
	"$ROUNDS rounds of $UN racing user PATCHes with the same If-Match: exactly one 200 per version, the rest 412"

# DELETE and PATCH racing with the same If-Match: exactly one succeeds.
create_titled "$A_TOKEN" "race delete" || bail "cannot create a task"
D=$TASK_ID
load_run --clients 8 --count 8 --cap-seconds 120 --method PATCH --path "/api/v1/tasks/$D" \
	--header "Authorization: Bearer $A_TOKEN" --header 'Content-Type: application/json' \
	--header 'If-Match: "1"' --data '{"title":"patch {i}"}' --out "$T_DIR/rd-patch" \
	>"$T_DIR/rd-patch.sum" &
lp=$!
load_run --clients 8 --count 8 --cap-seconds 120 --method DELETE --path "/api/v1/tasks/$D" \
	--header "Authorization: Bearer $A_TOKEN" --header 'If-Match: "1"' \
	--out "$T_DIR/rd-del" >"$T_DIR/rd-del.sum"
wait "$lp"
ok=$(cat "$T_DIR/rd-patch" "$T_DIR/rd-del" | grep -cE '^(200|204) ')
bad=$(cat "$T_DIR/rd-patch" "$T_DIR/rd-del" | grep -cvE '^(200|204|412|404) ')
is "$ok/$bad" "1/0" "8 PATCHes and 8 DELETEs with the same If-Match: exactly one succeeds, the rest 412 or 404 ($(cat "$T_DIR/rd-patch.sum"); $(cat "$T_DIR/rd-del.sum"))"

# ------------------------------------------------------------ 428

if [[ -n ${TASKAPI_VAR:-} && -r $TASKAPI_VAR/run/taskapi.pid ]]; then
	create_titled "$A_TOKEN" "strict" || bail "cannot create a task"
	S=$TASK_ID
	old=$(pool_workers)
	stack_set_env TASKAPI_REQUIRE_IF_MATCH 1
	wait_until 60000 pool_gone "$old" >/dev/null || diag "old workers still there: $old"
	capi "$A_TOKEN" PATCH "/api/v1/tasks/$S" "" '{"title":"blind"}'
	expect_error 428 "TASKAPI_REQUIRE_IF_MATCH=1: PATCH without If-Match is 428"
	capi "$A_TOKEN" DELETE "/api/v1/tasks/$S" ""
	expect_error 428 "... and DELETE without If-Match is 428"
	capi "$A_TOKEN" PATCH "/api/v1/tasks/$S" 'If-Match: "1"' '{"title":"seen"}'
	expect_json 200 "... and with If-Match it works"
	capi "$B_TOKEN" PATCH "/api/v1/users/$B_ID" "" '{"name":"blind"}'
	expect_error 428 "... a user PATCH without If-Match is 428"
	capi "$B_TOKEN" DELETE "/api/v1/users/$B_ID" ""
	expect_error 428 "... and a user DELETE without If-Match is 428"
	capi "$B_TOKEN" GET /api/v1/me ""
	capi "$B_TOKEN" PATCH "/api/v1/users/$B_ID" "If-Match: $(header ETag)" '{"name":"Cond B seen"}'
	expect_json 200 "... and with If-Match the user PATCH works"
	old=$(pool_workers)
	stack_set_env TASKAPI_REQUIRE_IF_MATCH ""
	wait_until 60000 pool_gone "$old" >/dev/null || diag "old workers still there: $old"
	capi "$A_TOKEN" PATCH "/api/v1/tasks/$S" "" '{"title":"blind again"}'
	expect_json 200 "by default If-Match is optional"
else
	skip "the 428 setting needs the stack's env file (./dev test)"
fi

done_testing
