#!/usr/bin/env bash
# 60-errors.sh: routing (404/405), media types (415), bodies (400/413),
# invalid UTF-8, and X-Request-Id on every kind of response.
. "$(dirname "$0")/lib.sh"

make_user A "Errors A" || bail "cannot create user A"
create_titled "$A_TOKEN" "errors task" || bail "cannot create a task: $(resp_summary)"
tid=$TASK_ID

# ---------------------------------------------------------------- 404

for p in /nope /api /api/v1 /api/v1/ /api/v1/nope /api/v2/tasks /api/v1/tasks/ /api/v1/me/ \
    "/api/v1/tasks/$tid/extra" /api/v1/auth /api/v1/auth/logout /API/V1/TASKS /index.php; do
	api "$A_TOKEN" GET "$p"
	expect_error 404 "GET $p -> 404 JSON error"
done
api "" GET /api/v1/does-not-exist
expect_error 404 "unknown route without a token -> 404 (not 401)"
header_like X-Request-Id "$RE_REQID" "404 carries X-Request-Id"
api "" POST /api/v1/auth/register/ '{"email":"x@y.z","password":"password1","name":"n"}'
expect_error 404 "POST /api/v1/auth/register/ (trailing slash) -> 404"

# ---------------------------------------------------------------- 405

# m405 METHOD PATH ALLOWED...: 405 JSON error whose Allow lists ALLOWED.
m405() {
	local m=$1 p=$2
	shift 2
	if [[ $m == POST || $m == PUT || $m == PATCH ]]; then
		api "$A_TOKEN" "$m" "$p" '{"title":"x"}'
	else
		api "$A_TOKEN" "$m" "$p"
	fi
	expect_error 405 "$m $p -> 405 JSON error"
	if allow_has "$@"; then
		pass "$m $p: Allow lists $*"
	else
		fail "$m $p: Allow lists $*" "Allow: $(header Allow)"
	fi
	if allow_has "$m"; then
		fail "$m $p: Allow does not list $m" "Allow: $(header Allow)"
	else
		pass "$m $p: Allow does not list $m"
	fi
}
m405 DELETE /api/v1/tasks GET POST
m405 PUT /api/v1/tasks GET POST
m405 PATCH /api/v1/tasks GET POST
m405 PUT "/api/v1/tasks/$tid" GET PATCH DELETE
m405 POST "/api/v1/tasks/$tid" GET PATCH DELETE
m405 GET /api/v1/auth/login POST
m405 GET /api/v1/auth/register POST
m405 DELETE /api/v1/me GET
m405 POST /api/v1/users GET
m405 PUT "/api/v1/users/$A_ID" GET PATCH DELETE
header_like X-Request-Id "$RE_REQID" "405 carries X-Request-Id"
api "" DELETE /api/v1/tasks
expect_error 405 "DELETE /api/v1/tasks without a token -> 405 (routing before auth)"

# ---------------------------------------------------------------- 415

# body_ctype CTYPE DESC STATUS: POST a valid task body with that Content-Type.
printf '%s' '{"title":"media type"}' >"$T_DIR/task.json"
post_ctype() {
	local ctype=$1 want=$2 desc=$3
	if [[ -z $ctype ]]; then
		# curl would add application/x-www-form-urlencoded; remove it.
		req POST /api/v1/tasks -H "Authorization: Bearer $A_TOKEN" \
		    -H 'Content-Type:' --data-binary "@$T_DIR/task.json"
	else
		api_file "$A_TOKEN" POST /api/v1/tasks "$T_DIR/task.json" "$ctype"
	fi
	if [[ $want == 201 ]]; then
		expect_json 201 "$desc"
	else
		expect_error "$want" "$desc"
	fi
}
post_ctype "text/plain" 415 "POST /api/v1/tasks with Content-Type text/plain -> 415"
post_ctype "" 415 "POST /api/v1/tasks with a body and no Content-Type -> 415"
post_ctype "application/x-www-form-urlencoded" 415 "POST with application/x-www-form-urlencoded -> 415"
post_ctype "multipart/form-data; boundary=x" 415 "POST with multipart/form-data -> 415"
post_ctype "application/xml" 415 "POST with application/xml -> 415"
post_ctype "application/jsonx" 415 "POST with application/jsonx -> 415"
post_ctype "application/json" 201 "POST with application/json -> 201"
post_ctype "application/json; charset=utf-8" 201 "POST with application/json; charset=utf-8 -> 201"
post_ctype "application/json;charset=UTF-8" 201 "POST with application/json;charset=UTF-8 -> 201"
header_like X-Request-Id "$RE_REQID" "201 carries X-Request-Id"

printf '%s' '{"title":"x"}' >"$T_DIR/patch.json"
api_file "$A_TOKEN" PATCH "/api/v1/tasks/$tid" "$T_DIR/patch.json" text/plain
expect_error 415 "PATCH /api/v1/tasks/{id} with text/plain -> 415"
printf '%s' '{"email":"a@b.c","password":"password1","name":"n"}' >"$T_DIR/reg.json"
api_file "" POST /api/v1/auth/register "$T_DIR/reg.json" text/plain
expect_error 415 "POST /api/v1/auth/register with text/plain -> 415"
api_file "" POST /api/v1/auth/login "$T_DIR/reg.json" text/plain
expect_error 415 "POST /api/v1/auth/login with text/plain -> 415"
header_like X-Request-Id "$RE_REQID" "415 carries X-Request-Id"

# ---------------------------------------------------------------- 400: not a JSON object

for body in '[]' '[{"title":"x"}]' '"title"' '42' 'null' 'true'; do
	api "$A_TOKEN" POST /api/v1/tasks "$body"
	expect_error 400 "POST /api/v1/tasks body $body (not an object) -> 400"
done
for body in '{"title":' '{title:"x"}' "{'title':'x'}" '{"title":"x"} x' '{"title":"x"}{}' \
    '{"title":"x",}' '{"title":"x" "a":1}' '{"title":"\x"}' '{"title":"\u12"}' 'nul' '' ' '; do
	api "$A_TOKEN" POST /api/v1/tasks "$body"
	expect_error 400 "POST /api/v1/tasks malformed JSON '$body' -> 400"
done
api "" POST /api/v1/auth/register '{"email":'
expect_error 400 "POST /api/v1/auth/register malformed JSON -> 400"
api "" POST /api/v1/auth/login '[]'
expect_error 400 "POST /api/v1/auth/login body [] -> 400"
api "$A_TOKEN" PATCH "/api/v1/users/$A_ID" '{"name":'
expect_error 400 "PATCH /api/v1/users/{id} malformed JSON -> 400"

api "$A_TOKEN" POST /api/v1/tasks '{"title":"escaped \u00e9\ud83d\ude00 \" \\ \/ \n"}'
expect_json 201 "JSON escapes, including a surrogate pair, are accepted -> 201"
json_is .title "escaped é😀 \" \\ /" "JSON escapes decoded (then trimmed)"

# Deeply nested JSON must not crash a worker: 400 or 201, never 5xx.
nest=$(repeat '[' 5000)$(repeat ']' 5000)
api "$A_TOKEN" POST /api/v1/tasks "{\"title\":\"deep\",\"x\":$nest}"
like "$RESP_STATUS" '^(201|400)$' "unknown field nested 5000 deep -> 400 or 201, not 5xx"
api "$A_TOKEN" GET /health
expect_status 200 "the server still answers after the deep JSON"

# ---------------------------------------------------------------- invalid UTF-8

# bad_utf8 DESC BYTES (printf format): a title containing BYTES.
bad_utf8() {
	# shellcheck disable=SC2059 # $2 holds printf escapes on purpose
	printf "{\"title\":\"bad $2 utf8\"}" >"$T_DIR/bad.json"
	api_file "$A_TOKEN" POST /api/v1/tasks "$T_DIR/bad.json"
	expect_error 400 "POST /api/v1/tasks title with $1 -> 400"
}
bad_utf8 "byte 0xff" '\377'
bad_utf8 "a lone continuation byte 0x80" '\200'
bad_utf8 "an overlong '/' (c0 af)" '\300\257'
bad_utf8 "an overlong NUL (c0 80)" '\300\200'
bad_utf8 "a UTF-8 encoded surrogate (ed a0 80)" '\355\240\200'
bad_utf8 "a truncated 3-byte sequence (e2 82)" '\342\202'
bad_utf8 "a code point above U+10FFFF (f4 90 80 80)" '\364\220\200\200'
bad_utf8 "Latin-1 'é' (e9)" '\351'

printf '{"email":"u8-%s@example.test","password":"password1","name":"bad \377 name"}' \
    "$(uniq_suffix)" >"$T_DIR/bad.json"
api_file "" POST /api/v1/auth/register "$T_DIR/bad.json"
expect_error 400 "POST /api/v1/auth/register name with byte 0xff -> 400"
printf '{"description":"bad \300\257"}' >"$T_DIR/bad.json"
api_file "$A_TOKEN" PATCH "/api/v1/tasks/$tid" "$T_DIR/bad.json"
expect_error 400 "PATCH /api/v1/tasks/{id} description with an overlong sequence -> 400"
printf '{"title":"ok","\377":1}' >"$T_DIR/bad.json"
api_file "$A_TOKEN" POST /api/v1/tasks "$T_DIR/bad.json"
expect_error 400 "invalid UTF-8 in an unknown key -> 400"
printf '{"title":"nul \\u0000 inside"}' >"$T_DIR/bad.json"
api_file "$A_TOKEN" POST /api/v1/tasks "$T_DIR/bad.json"
like "$RESP_STATUS" '^(201|400)$' "title with an escaped NUL (\\u0000) -> 400 or 201, not 5xx"

printf '{"title":"valid \303\251\360\237\230\200"}' >"$T_DIR/good.json"
api_file "$A_TOKEN" POST /api/v1/tasks "$T_DIR/good.json"
expect_json 201 "control: valid multi-byte UTF-8 title -> 201"
json_is .title "valid é😀" "control: multi-byte title returned intact"

# ---------------------------------------------------------------- 413

# json_of_size N: a valid task body of exactly N bytes.
json_of_size() {
	local head='{"title":"size","pad":"' tail='"}'
	printf '%s%s%s' "$head" "$(repeat a $(($1 - ${#head} - ${#tail})))" "$tail"
}
json_of_size 65536 >"$T_DIR/64k.json"
json_of_size 65537 >"$T_DIR/64k1.json"
is "$(wc -c <"$T_DIR/64k.json" | tr -d ' ')" 65536 "fixture: a body of exactly 64 KiB"

api_file "$A_TOKEN" POST /api/v1/tasks "$T_DIR/64k.json"
expect_json 201 "POST /api/v1/tasks body of exactly 64 KiB -> 201"
api_file "$A_TOKEN" POST /api/v1/tasks "$T_DIR/64k1.json"
expect_error 413 "POST /api/v1/tasks body of 64 KiB + 1 -> 413 JSON error"
header_like X-Request-Id "$RE_REQID" "413 carries X-Request-Id"

head -c 1048576 /dev/zero | tr '\0' ' ' >"$T_DIR/1m.json"
api_file "$A_TOKEN" POST /api/v1/tasks "$T_DIR/1m.json"
expect_error 413 "POST /api/v1/tasks body of 1 MiB -> 413 JSON error"
api_file "" POST /api/v1/auth/register "$T_DIR/64k1.json"
expect_error 413 "POST /api/v1/auth/register body of 64 KiB + 1 -> 413 JSON error"
api_file "$A_TOKEN" PATCH "/api/v1/tasks/$tid" "$T_DIR/64k1.json"
expect_error 413 "PATCH /api/v1/tasks/{id} body of 64 KiB + 1 -> 413 JSON error"

# Chunked upload (no Content-Length): the limit still holds.
req POST /api/v1/tasks -H "Authorization: Bearer $A_TOKEN" -H 'Content-Type: application/json' \
    -H 'Transfer-Encoding: chunked' --data-binary "@$T_DIR/64k1.json" \
    -H 'X-Request-Id: chunked-413-test'
expect_error 413 "chunked body of 64 KiB + 1 -> 413 JSON error"
is "$(header X-Request-Id)" "chunked-413-test" "413 echoes the client's X-Request-Id"

# ---------------------------------------------------------------- X-Request-Id

# rid_get VALUE: GET /health sending X-Request-Id VALUE; echoes what came back.
rid_get() {
	req GET /health -H "X-Request-Id: $1"
	header X-Request-Id
}
good_id="it-req_$(uniq_suffix | tr -cd 'A-Za-z0-9._-').X"
is "$(rid_get "$good_id")" "$good_id" "a valid client X-Request-Id is echoed back"
id64=$(repeat aB3.-_9Z 8)
is "$(rid_get "$id64")" "$id64" "a 64-character client X-Request-Id is echoed back"
is "$(rid_get "x")" "x" "a 1-character client X-Request-Id is echoed back"

# rid_replaced VALUE DESC: the answer carries a different, valid id.
rid_replaced() {
	local got
	got=$(rid_get "$1")
	if [[ -n $got && $got != "$1" && $got =~ $RE_REQID ]]; then
		pass "$2"
	else
		fail "$2" "sent '$1', got '$got'"
	fi
}
rid_replaced "$(repeat a 65)" "a 65-character X-Request-Id is replaced by a generated one"
rid_replaced "bad id" "an X-Request-Id with a space is replaced"
rid_replaced "a/b" "an X-Request-Id with a slash is replaced"
rid_replaced "ab;cd" "an X-Request-Id with a semicolon is replaced"
rid_replaced "é-id" "an X-Request-Id with non-ASCII bytes is replaced"
rid_replaced '<script>' "an X-Request-Id with angle brackets is replaced"

req GET /health -H 'X-Request-Id;'
header_like X-Request-Id "$RE_REQID" "an empty client X-Request-Id is replaced by a generated one"

req GET /health
r1=$(header X-Request-Id)
req GET /health
r2=$(header X-Request-Id)
like "$r1" "$RE_REQID" "a generated X-Request-Id is 1..64 of [A-Za-z0-9._-]"
isnt "$r1" "$r2" "two requests get two different generated ids"

# Exactly one X-Request-Id, whoever made it: the app (its answer passes
# through nginx, which adds none) or nginx (its own 404).
rid_count() { grep -ci '^x-request-id:' "$T_HDR"; }
req GET /health
is "$(rid_count)" 1 "an app answer with a generated id carries one X-Request-Id"
req GET /health -H 'X-Request-Id: rid-once'
is "$(rid_count)" 1 "an app answer with the client's id carries one X-Request-Id"
req GET /nope.html
is "$(rid_count)" 1 "nginx's own answer carries one X-Request-Id"

# The id is echoed on errors of every origin.
req GET /api/v1/nope -H "X-Request-Id: rid-404"
is "$(header X-Request-Id)" rid-404 "client X-Request-Id echoed on the app's 404"
req GET /nope.html -H "X-Request-Id: rid-404-nginx"
expect_error 404 "GET /nope.html (outside /api, nginx's own 404) -> 404 JSON error"
is "$(header X-Request-Id)" rid-404-nginx "client X-Request-Id echoed on nginx's own 404"
req GET /nope.html
header_like X-Request-Id "$RE_REQID" "nginx's own 404 carries a generated X-Request-Id"
req GET /api/v1/me -H "X-Request-Id: rid-401"
is "$(header X-Request-Id)" rid-401 "client X-Request-Id echoed on a 401"
req DELETE /api/v1/tasks -H "X-Request-Id: rid-405" -H "Authorization: Bearer $A_TOKEN"
is "$(header X-Request-Id)" rid-405 "client X-Request-Id echoed on a 405"
req POST /api/v1/tasks -H "X-Request-Id: rid-413" -H "Authorization: Bearer $A_TOKEN" \
    -H 'Content-Type: application/json' --data-binary "@$T_DIR/64k1.json"
is "$(header X-Request-Id)" rid-413 "client X-Request-Id echoed on a 413"
req POST /api/v1/tasks -H "X-Request-Id: rid-201" -H "Authorization: Bearer $A_TOKEN" \
    -H 'Content-Type: application/json' --data-binary '{"title":"rid"}'
is "$(header X-Request-Id)" rid-201 "client X-Request-Id echoed on a 201"
req GET /api/v1/tasks/export -H "X-Request-Id: rid-export" -H "Authorization: Bearer $A_TOKEN"
is "$(header X-Request-Id)" rid-export "client X-Request-Id echoed on the NDJSON export"

# ---------------------------------------------------------------- misc

req GET /api/v1/me -H "Authorization: Bearer $A_TOKEN" -H "Accept: text/html"
expect_json 200 "Accept: text/html still gets JSON"
# A query string too long for the server must be an error, not a crash.
api "$A_TOKEN" GET "/api/v1/tasks?unknown=$(repeat q 4000)"
like "$RESP_STATUS" '^(200|400|414)$' "query string of 4000 bytes -> 200, 400 or 414, not 5xx"
api "$A_TOKEN" GET "/api/v1/tasks?limit=%zz"
expect_error 400 "bad percent escape in the query string -> 400"
api "$A_TOKEN" GET /health
expect_status 200 "the server is healthy at the end"

done_testing
