#!/usr/bin/env bash
# 30-users.sh: /api/v1/me and /api/v1/users: reading, self-only changes,
# deleting an account with its tasks.
. "$(dirname "$0")/lib.sh"

make_user A "Alice Users" || bail "cannot create user A"
make_user B "Bob Users" || bail "cannot create user B"

# ---------------------------------------------------------------- read

api "$A_TOKEN" GET /api/v1/me
expect_json 200 "GET /api/v1/me -> 200 JSON"
json_ok "keys == $USER_KEYS" "GET /api/v1/me: exactly the five user fields (no password or hash)"
json_is .id "$A_ID" "GET /api/v1/me: id is the caller's"
json_is .email "$A_EMAIL" "GET /api/v1/me: email"
json_is .name "Alice Users" "GET /api/v1/me: name"
json_ok "(.created_at | test(\"$JQ_TS\")) and (.updated_at | test(\"$JQ_TS\"))" \
    "GET /api/v1/me: timestamps are UTC with microseconds and Z"
me_a=$(jq -cS . "$T_BODY")

api "$B_TOKEN" GET "/api/v1/users/$A_ID"
expect_json 200 "GET /api/v1/users/{other} -> 200 (any user can read users)"
is "$(jq -cS . "$T_BODY")" "$me_a" "GET /api/v1/users/{id} equals that user's own /me"

api "$A_TOKEN" GET "/api/v1/users/$(random_uuid)"
expect_error 404 "GET /api/v1/users/{unknown uuid} -> 404"
api "$A_TOKEN" GET /api/v1/users/not-a-uuid
expect_error 400 "GET /api/v1/users/not-a-uuid -> 400"
api "$A_TOKEN" GET "/api/v1/users/$(tr '[:lower:]' '[:upper:]' <<<"$A_ID")"
expect_error 400 "GET /api/v1/users/{upper-case uuid} -> 400"
api "$A_TOKEN" GET "/api/v1/users/{$A_ID}"
expect_error 400 "GET /api/v1/users/{braced uuid} -> 400"
api "$A_TOKEN" GET "/api/v1/users/$A_ID/"
expect_error 404 "GET /api/v1/users/{id}/ (trailing slash) -> 404"

api "$A_TOKEN" GET /api/v1/users
expect_json 200 "GET /api/v1/users -> 200 JSON"
json_ok 'type == "array" and length >= 2 and length <= 50' \
    "GET /api/v1/users: an array of at most 50 (default limit)"
json_ok "all(.[]; keys == $USER_KEYS)" \
    "GET /api/v1/users: every element has exactly the five user fields"
json_ok '[.[].created_at] as $c | $c == ($c | sort | reverse)' \
    "GET /api/v1/users: newest first"
ok_cmd "GET /api/v1/users: no element mentions a password or hash" \
    bash -c '! grep -qiE "password|hash|\\\$argon2" "$1"' _ "$T_BODY"
api "$A_TOKEN" GET "/api/v1/users?limit=100"
json_ok "any(.[]; .id == \"$B_ID\") and any(.[]; .id == \"$A_ID\")" \
    "GET /api/v1/users?limit=100: contains the two users just registered"

api "$A_TOKEN" GET "/api/v1/users?limit=1"
expect_json 200 "GET /api/v1/users?limit=1 -> 200"
json_ok 'type == "array" and length == 1' "GET /api/v1/users?limit=1: one element"
api "$A_TOKEN" GET "/api/v1/users?limit=100&offset=0"
expect_json 200 "GET /api/v1/users?limit=100&offset=0 -> 200"
json_ok 'type == "array" and length >= 2 and length <= 100' \
    "GET /api/v1/users?limit=100: at most 100"
api "$A_TOKEN" GET "/api/v1/users?offset=1000000"
expect_json 200 "GET /api/v1/users?offset=1000000 -> 200"
json_ok '. == []' "GET /api/v1/users past the end: empty array"

for q in limit=0 limit=101 limit=abc limit= limit=1.5 limit=-1 offset=-1 offset=abc \
    offset=1.5 "limit=1&limit=2" "offset=0&offset=1" limit=99999999999999999999; do
	api "$A_TOKEN" GET "/api/v1/users?$q"
	expect_error 400 "GET /api/v1/users?$q -> 400"
done

# ---------------------------------------------------------------- others' accounts

api "$A_TOKEN" PATCH "/api/v1/users/$B_ID" '{"name":"Hacked"}'
expect_error 403 "PATCH another user's account -> 403"
api "$A_TOKEN" PATCH "/api/v1/users/$B_ID" '{}'
expect_error 403 "PATCH another user's account with {} -> 403"
api "$A_TOKEN" DELETE "/api/v1/users/$B_ID"
expect_error 403 "DELETE another user's account -> 403"
api "$B_TOKEN" GET /api/v1/me
json_ok ".id == \"$B_ID\" and .name == \"Bob Users\"" \
    "the other account is unchanged after the refused PATCH/DELETE"

# ---------------------------------------------------------------- own account

api "$A_TOKEN" PATCH "/api/v1/users/$A_ID" '{}'
expect_json 200 "PATCH own account with {} -> 200"
is "$(jq -cS . "$T_BODY")" "$me_a" "PATCH {} changes nothing (updated_at included)"

api "$A_TOKEN" PATCH "/api/v1/users/$A_ID" '{"name":"  Alice Renamed \t "}'
expect_json 200 "PATCH own name -> 200"
json_ok "keys == $USER_KEYS" "PATCH own account: response is a user object without secrets"
json_is .name "Alice Renamed" "PATCH name is stored trimmed"
json_ok ".updated_at > $(jq .updated_at <<<"$me_a")" "PATCH name moves updated_at"
json_ok ".created_at == $(jq .created_at <<<"$me_a")" "PATCH name keeps created_at"
api "$B_TOKEN" GET "/api/v1/users/$A_ID"
json_is .name "Alice Renamed" "the new name is visible to others"

api "$A_TOKEN" PATCH "/api/v1/users/$A_ID" "{\"email\":\"$B_EMAIL\"}"
expect_error 409 "PATCH own email to another user's email -> 409"
api "$A_TOKEN" PATCH "/api/v1/users/$A_ID" \
    "{\"email\":\"$(tr '[:lower:]' '[:upper:]' <<<"$B_EMAIL")\"}"
expect_error 409 "PATCH own email to another user's email in upper case -> 409"

for body in '{"name":""}' '{"name":"   "}' '{"name":null}' '{"name":5}' \
    '{"email":"not-an-email"}' '{"email":null}' '{"email":""}' \
    '{"password":"short"}' '{"password":null}' '{"password":12345678}' \
    "{\"name\":\"$(repeat n 101)\"}" "{\"password\":\"$(repeat p 129)\"}"; do
	api "$A_TOKEN" PATCH "/api/v1/users/$A_ID" "$body"
	expect_error 400 "PATCH own account $(printf '%.40s' "$body") -> 400"
done
api "$A_TOKEN" GET /api/v1/me
json_ok ".name == \"Alice Renamed\" and .email == \"$A_EMAIL\"" \
    "own account unchanged after the refused PATCHes"

api "$A_TOKEN" PATCH "/api/v1/users/$A_ID" \
    "{\"email\":\"$(tr '[:lower:]' '[:upper:]' <<<"$A_EMAIL")\"}"
expect_json 200 "PATCH own email to itself in upper case -> 200 (not a conflict with oneself)"
json_is .email "$A_EMAIL" "PATCH own email in upper case: still stored lower-cased"

new_email_mixed="It-Users-New-$(uniq_suffix)@Example.Test"
new_email=$(tr '[:upper:]' '[:lower:]' <<<"$new_email_mixed")
api "$A_TOKEN" PATCH "/api/v1/users/$A_ID" "{\"email\":\"$new_email_mixed\"}"
expect_json 200 "PATCH own email -> 200"
json_is .email "$new_email" "PATCH email is stored lower-cased"
login "$new_email" "$A_PW"
expect_status 200 "login with the new email -> 200"
login "$A_EMAIL" "$A_PW"
expect_401 "login with the old email -> 401"

new_pw="new-password-$(uniq_suffix)"
api "$A_TOKEN" PATCH "/api/v1/users/$A_ID" "{\"password\":\"$new_pw\"}"
expect_json 200 "PATCH own password -> 200"
json_ok "keys == $USER_KEYS" "PATCH password: response has no password or hash"
login "$new_email" "$new_pw"
expect_status 200 "login with the new password -> 200"
login "$new_email" "$A_PW"
expect_401 "login with the old password -> 401"
if have_psql; then
	row=$(sql "select row_to_json(u)::text from users u where id = '$A_ID'")
	ok_cmd "db: the new password is stored as a \$argon2id\$ hash" \
	    jq -e '[.[] | strings | select(startswith("$argon2id$"))] | length == 1' <<<"$row"
	ok_cmd "db: the plain new password is stored nowhere" \
	    bash -c '! grep -qF -- "$1" <<<"$2"' _ "$new_pw" "$row"
else
	skip "db: the new password is stored as a \$argon2id\$ hash" "TASKAPI_PSQL not available"
	skip "db: the plain new password is stored nowhere" "TASKAPI_PSQL not available"
fi

api "$A_TOKEN" PATCH "/api/v1/users/$A_ID" \
    "{\"name\":\"Alice Three\",\"email\":\"$new_email\",\"password\":\"$new_pw\",\"id\":\"$(random_uuid)\",\"created_at\":\"2000-01-01T00:00:00Z\"}"
expect_json 200 "PATCH with all fields plus unknown ones -> 200"
json_ok ".id == \"$A_ID\" and .created_at == $(jq .created_at <<<"$me_a")" \
    "PATCH cannot change id or created_at (unknown fields ignored)"

# ---------------------------------------------------------------- delete own account

make_user C "Carol Deleted" || bail "cannot create user C"
for i in 1 2 3; do
	create_titled "$C_TOKEN" "carol task $i" || diag "create task failed: $(resp_summary)"
done
c_task=$TASK_ID

api "$C_TOKEN" DELETE "/api/v1/users/$C_ID"
expect_status 204 "DELETE own account -> 204"
is "$(wc -c <"$T_BODY" | tr -d ' ')" 0 "DELETE own account: empty body"

api "$C_TOKEN" GET /api/v1/me
expect_401 "token of a deleted user -> 401 on GET /api/v1/me"
api "$C_TOKEN" GET /api/v1/tasks
expect_401 "token of a deleted user -> 401 on GET /api/v1/tasks"
# Every task route checks the user in the same statement: a vanished
# user is 401 there too, for its own (cascaded) task ids and for one
# that never existed, never 404.
for t in "$c_task" 00000000-0000-4000-8000-000000000000; do
	api "$C_TOKEN" GET "/api/v1/tasks/$t"
	expect_401 "token of a deleted user -> 401 on GET /api/v1/tasks/{id}"
	api "$C_TOKEN" PATCH "/api/v1/tasks/$t" '{"title":"x"}'
	expect_401 "token of a deleted user -> 401 on PATCH /api/v1/tasks/{id}"
	api "$C_TOKEN" DELETE "/api/v1/tasks/$t"
	expect_401 "token of a deleted user -> 401 on DELETE /api/v1/tasks/{id}"
done
api "$C_TOKEN" POST /api/v1/tasks '{"title":"x"}'
expect_401 "token of a deleted user -> 401 on POST /api/v1/tasks"
api "$C_TOKEN" DELETE "/api/v1/users/$C_ID"
expect_401 "token of a deleted user -> 401 on a second DELETE"
login "$C_EMAIL" "$C_PW"
expect_401 "login of a deleted user -> 401"
api "$A_TOKEN" GET "/api/v1/users/$C_ID"
expect_error 404 "GET /api/v1/users/{deleted} -> 404"
api "$A_TOKEN" GET "/api/v1/tasks/$c_task"
expect_error 404 "a deleted user's task is not found"
if have_psql; then
	is "$(sql "select count(*) from tasks where user_id = '$C_ID'")" 0 \
	    "db: the deleted user's tasks are gone"
	is "$(sql "select count(*) from users where id = '$C_ID'")" 0 \
	    "db: the deleted user's row is gone"
else
	skip "db: the deleted user's tasks are gone" "TASKAPI_PSQL not available"
	skip "db: the deleted user's row is gone" "TASKAPI_PSQL not available"
fi
register "$C_EMAIL" "$C_PW" "Carol Again"
expect_status 201 "the email of a deleted account can be registered again"
isnt "$(jbody .id)" "$C_ID" "the new account gets a new id"

done_testing
