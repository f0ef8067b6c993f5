#!/usr/bin/env bash
# 20-auth.sh: register, login, and every way a bearer token can be wrong.
. "$(dirname "$0")/lib.sh"

# ---------------------------------------------------------------- register

sfx=$(uniq_suffix)
email_mixed="It-Auth.Mixed-$sfx@Example.TEST"
email_lower=$(printf '%s' "$email_mixed" | tr '[:upper:]' '[:lower:]')
pw="correct horse $sfx"

register "$email_mixed" "$pw" "  Alice Auth  "
expect_json 201 "POST /api/v1/auth/register valid -> 201 JSON"
uid=$(jbody .id)
[[ $RESP_STATUS == 201 && $uid =~ $RE_UUID ]] || bail "cannot register a user: $(resp_summary)"
json_ok "keys == $USER_KEYS" "register: user object has exactly id,email,name,created_at,updated_at"
json_ok ".id | test(\"$JQ_UUID\")" "register: id is a lower-case UUID"
json_is .email "$email_lower" "register: email returned lower-cased"
json_is .name "Alice Auth" "register: name returned trimmed"
json_ok "(.created_at | test(\"$JQ_TS\")) and (.updated_at | test(\"$JQ_TS\"))" \
    "register: created_at/updated_at are UTC with microseconds and Z"
like "$(header Location)" "^(https?://[^/]+)?/api/v1/users/$uid\$" \
    "register: Location is /api/v1/users/{id}"
ok_cmd "register: response body does not contain the password" \
    bash -c '! grep -qF -- "$1" "$2"' _ "$pw" "$T_BODY"

if have_psql; then
	row=$(sql "select row_to_json(u)::text from users u where id = '$uid'")
	ok_cmd "db: stored user has a \$argon2id\$ password hash" \
	    jq -e '[.[] | strings | select(startswith("$argon2id$"))] | length == 1' <<<"$row"
	ok_cmd "db: the plain password is stored nowhere in the user row" \
	    bash -c '! grep -qF -- "$1" <<<"$2"' _ "$pw" "$row"
	is "$(jq -r .email <<<"$row")" "$email_lower" "db: email stored lower-cased"
	is "$(jq -r .name <<<"$row")" "Alice Auth" "db: name stored trimmed"
else
	for d in "db: stored user has a \$argon2id\$ password hash" \
	    "db: the plain password is stored nowhere in the user row" \
	    "db: email stored lower-cased" "db: name stored trimmed"; do
		skip "$d" "TASKAPI_PSQL not set or not answering"
	done
fi

register "$email_lower" "another password" "Dup"
expect_error 409 "register: duplicate email -> 409"
register "$(printf '%s' "$email_lower" | tr '[:lower:]' '[:upper:]')" "another password" "Dup"
expect_error 409 "register: duplicate email in upper case -> 409"

# Validation, both edges of each limit.
reg_json() { api "" POST /api/v1/auth/register "$1"; }
good_email() { uniq_email reg; }

reg_json "{\"password\":\"password1\",\"name\":\"N\"}"
expect_error 400 "register: missing email -> 400"
reg_json "{\"email\":\"$(good_email)\",\"name\":\"N\"}"
expect_error 400 "register: missing password -> 400"
reg_json "{\"email\":\"$(good_email)\",\"password\":\"password1\"}"
expect_error 400 "register: missing name -> 400"

for bad in "no-at-sign.example.test" "@example.test" "local@" "a@b@example.test" "" ; do
	register "$bad" "password1" "N"
	expect_error 400 "register: email '$bad' -> 400"
done

# email_of_len N: a unique address of exactly N characters, with a
# local part under 64 and DNS labels of 50 (the length is in the domain).
email_of_len() {
	local dom local_part
	dom="$(repeat "$(repeat x 50)." 4)example.test"
	local_part="l$(uniq_suffix | tr -cd 'a-z0-9')"
	local_part="$local_part$(repeat y $(($1 - 1 - ${#dom} - ${#local_part})))"
	printf '%s@%s' "$local_part" "$dom"
}
e254=$(email_of_len 254)
register "$e254" "password1" "N"
expect_status 201 "register: email of 254 characters -> 201"
json_ok '.email | length == 254' "register: 254-character email returned intact"
register "$(email_of_len 255)" "password1" "N"
expect_error 400 "register: email of 255 characters -> 400"

register "$(good_email)" "password1" ""
expect_error 400 "register: empty name -> 400"
register "$(good_email)" "password1" "   "
expect_error 400 "register: name of only spaces -> 400"
register "$(good_email)" "password1" "$(repeat é 100)"
expect_status 201 "register: name of 100 code points (200 bytes) -> 201"
json_ok '.name | length == 100' "register: 100-code-point name returned intact"
register "$(good_email)" "password1" "$(repeat é 101)"
expect_error 400 "register: name of 101 code points -> 400"
register "$(good_email)" "password1" "  $(repeat n 100)  "
expect_status 201 "register: 100-character name with surrounding spaces -> 201 (trimmed first)"

register "$(good_email)" "$(repeat p 7)" "N"
expect_error 400 "register: password of 7 characters -> 400"
register "$(good_email)" "$(repeat p 8)" "N"
expect_status 201 "register: password of 8 characters -> 201"
register "$(good_email)" "$(repeat é 7)" "N"
expect_error 400 "register: password of 7 code points (14 bytes) -> 400"
register "$(good_email)" "$(repeat p 128)" "N"
expect_status 201 "register: password of 128 characters -> 201"
register "$(good_email)" "$(repeat p 129)" "N"
expect_error 400 "register: password of 129 characters -> 400"

reg_json "{\"email\":5,\"password\":\"password1\",\"name\":\"N\"}"
expect_error 400 "register: email of type number -> 400"
reg_json "{\"email\":\"$(good_email)\",\"password\":12345678,\"name\":\"N\"}"
expect_error 400 "register: password of type number -> 400"
reg_json "{\"email\":\"$(good_email)\",\"password\":\"password1\",\"name\":null}"
expect_error 400 "register: name null -> 400"
reg_json "{\"email\":\"$(good_email)\",\"password\":\"password1\",\"name\":\"N\",\"is_admin\":true,\"id\":\"$(random_uuid)\"}"
expect_status 201 "register: unknown fields are ignored -> 201"

# ---------------------------------------------------------------- login

login "$email_lower" "$pw"
expect_json 200 "POST /api/v1/auth/login valid -> 200 JSON"
token=$(jbody .token)
json_ok '.token | type == "string" and test("^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$")' \
    "login: token is a compact JWS (three base64url parts)"
json_is .token_type Bearer 'login: token_type is "Bearer"'
json_ok '.expires_in | type == "number" and . > 0 and . == floor' \
    "login: expires_in is a positive integer"
expires_in=$(jbody .expires_in)

# b64url_json PART: the JSON a base64url token part decodes to.
b64url_json() {
	local p
	p=$(printf '%s' "$1" | tr -- '-_' '+/')
	while (((${#p} % 4) != 0)); do p+='='; done
	printf '%s' "$p" | base64 -d 2>/dev/null
}
IFS=. read -r l_h l_p _ <<<"$token"
is "$(b64url_json "$l_h" | jq -r .alg 2>/dev/null)" HS256 'login token: header alg is "HS256"'
claims=$(b64url_json "$l_p")
ok_cmd "login token: sub is the user id, iat and exp integers, exp - iat == expires_in" \
    jq -e --arg sub "$uid" --argjson ttl "${expires_in:-0}" \
    '.sub == $sub and (.iat | type == "number" and . == floor)
     and (.exp | type == "number" and . == floor) and (.exp - .iat == $ttl)' <<<"$claims"
now_s=$(date +%s)
ok_cmd "login token: iat is now (within 60 s)" \
    jq -e --argjson now "$now_s" '(.iat - $now) | fabs < 60' <<<"$claims"

login "$(printf '%s' "$email_lower" | tr '[:lower:]' '[:upper:]')" "$pw"
expect_status 200 "login: email is case-insensitive -> 200"

api "$token" GET /api/v1/me
expect_json 200 "GET /api/v1/me with the login token -> 200"
json_is .id "$uid" "GET /api/v1/me returns the logged-in user"

login "$email_lower" "wrong password!"
expect_401 "login: wrong password -> 401 with WWW-Authenticate"
body_wrong_pw=$RESP_BODY
login "nobody-$(uniq_suffix)@example.test" "$pw"
expect_401 "login: unknown email -> 401 with WWW-Authenticate"
is "$RESP_BODY" "$body_wrong_pw" "login: unknown email and wrong password give the same body"

api "" POST /api/v1/auth/login "{\"email\":\"$email_lower\"}"
expect_error 400 "login: missing password -> 400"
api "" POST /api/v1/auth/login '{}'
expect_error 400 "login: empty object -> 400"
api "" POST /api/v1/auth/login "{\"email\":\"$email_lower\",\"password\":12345678}"
expect_error 400 "login: password of type number -> 400"

# ---------------------------------------------------------------- bad tokens

# auth_is_401 DESC CURL-ARGS...: GET /api/v1/me with those headers -> 401.
auth_is_401() {
	local desc=$1
	shift
	req GET /api/v1/me "$@"
	expect_401 "$desc"
}

# bearer_is_401 TOKEN DESC
bearer_is_401() {
	auth_is_401 "$2" -H "Authorization: Bearer $1"
}

auth_is_401 "GET /api/v1/me without Authorization -> 401"
auth_is_401 "Authorization: Bearer (no token) -> 401" -H "Authorization: Bearer"
auth_is_401 "Authorization: 'Bearer ' (empty token) -> 401" -H "Authorization: Bearer "
auth_is_401 "Authorization: Basic ... -> 401" -H "Authorization: Basic dXNlcjpwYXNzd29yZA=="
auth_is_401 "Authorization: the bare token without 'Bearer' -> 401" -H "Authorization: $token"
bearer_is_401 "garbage" "garbage bearer token -> 401"
bearer_is_401 "a.b.c" "token a.b.c -> 401"
bearer_is_401 "$token.$token" "token with five parts -> 401"
bearer_is_401 "$(repeat A 5000)" "bearer token of 5000 bytes -> 401"

# Tamper with the middle of the signature (the last character of a
# base64url HMAC can carry only padding bits).
IFS=. read -r t_h t_p t_s <<<"$token"
mid=$((${#t_s} / 2))
c=${t_s:mid:1}
if [[ $c == A ]]; then r=B; else r=A; fi
bearer_is_401 "$t_h.$t_p.${t_s:0:mid}$r${t_s:mid+1}" "token with a tampered signature -> 401"
bearer_is_401 "$t_h.$t_p." "token with the signature removed -> 401"
bearer_is_401 "$t_h.$t_p" "token with two parts -> 401"

now=$(date +%s)
good_payload="{\"sub\":\"$uid\",\"iat\":$now,\"exp\":$((now + 600))}"

# The payload of another subject under the original signature.
other_payload=$(printf '{"sub":"%s","iat":%d,"exp":%d}' "$(random_uuid)" "$now" $((now + 600)) | b64url)
bearer_is_401 "$t_h.$other_payload.$t_s" "token with a swapped payload, original signature -> 401"

bearer_is_401 "$(jwt_make '{"alg":"none","typ":"JWT"}' "$good_payload" "" none)" \
    'alg "none" with an empty signature -> 401'
bearer_is_401 "$(jwt_make '{"alg":"None","typ":"JWT"}' "$good_payload" "" none)" \
    'alg "None" with an empty signature -> 401'
bearer_is_401 "$(jwt_make '{"typ":"JWT"}' "$good_payload" "wrong-secret-$sfx" HS256)" \
    'header without alg -> 401'
bearer_is_401 "$(jwt_make "$JWT_HS256_HEADER" "$good_payload" "wrong-secret-$sfx" HS256)" \
    "HS256 token signed with another secret -> 401"

if have_secret; then
	S=$TASKAPI_JWT_SECRET
	bearer_is_401 "$(jwt_make '{"alg":"HS512","typ":"JWT"}' "$good_payload" "$S" HS512)" \
	    "HS512 token signed with the server secret -> 401"
	bearer_is_401 "$(jwt_make '{"alg":"HS512","typ":"JWT"}' "$good_payload" "$S" HS256)" \
	    "header says HS512, HS256 signature with the server secret -> 401"
	bearer_is_401 "$(jwt_make '{"alg":"none","typ":"JWT"}' "$good_payload" "$S" HS256)" \
	    'header says none, valid HS256 signature -> 401'

	# Positive control: a forged token with the right secret is accepted,
	# so the 401s around it are about the one thing each one changes.
	forged=$(jwt_make "$JWT_HS256_HEADER" "$good_payload" "$S" HS256)
	api "$forged" GET /api/v1/me
	expect_json 200 "control: well-formed HS256 token with the server secret -> 200"
	json_is .id "$uid" "control: forged token authenticates its sub"

	bearer_is_401 "$(jwt_make "$JWT_HS256_HEADER" \
	    "{\"sub\":\"$uid\",\"iat\":$((now - 7200)),\"exp\":$((now - 3600))}" "$S" HS256)" \
	    "expired token (exp an hour ago) -> 401"
	bearer_is_401 "$(jwt_make "$JWT_HS256_HEADER" \
	    "{\"sub\":\"$uid\",\"iat\":$((now - 60)),\"exp\":$((now - 1))}" "$S" HS256)" \
	    "expired token (exp a second ago) -> 401"
	bearer_is_401 "$(jwt_make "$JWT_HS256_HEADER" \
	    "{\"sub\":\"$uid\",\"iat\":$now,\"exp\":\"$((now + 600))\"}" "$S" HS256)" \
	    "exp as a string -> 401"
	bearer_is_401 "$(jwt_make "$JWT_HS256_HEADER" \
	    "{\"sub\":\"$uid\",\"iat\":$now}" "$S" HS256)" \
	    "token without exp -> 401"
	bearer_is_401 "$(jwt_make "$JWT_HS256_HEADER" \
	    "{\"iat\":$now,\"exp\":$((now + 600))}" "$S" HS256)" \
	    "token without sub -> 401"
	bearer_is_401 "$(jwt_make "$JWT_HS256_HEADER" \
	    "{\"sub\":\"not-a-uuid\",\"iat\":$now,\"exp\":$((now + 600))}" "$S" HS256)" \
	    "sub that is not a UUID -> 401"
	bearer_is_401 "$(jwt_make "$JWT_HS256_HEADER" \
	    "{\"sub\":\"$(tr '[:lower:]' '[:upper:]' <<<"$uid")\",\"iat\":$now,\"exp\":$((now + 600))}" "$S" HS256)" \
	    "sub as an upper-case UUID -> 401"
	bearer_is_401 "$(jwt_make "$JWT_HS256_HEADER" \
	    "{\"sub\":5,\"iat\":$now,\"exp\":$((now + 600))}" "$S" HS256)" \
	    "sub of type number -> 401"
	bearer_is_401 "$(jwt_make "$JWT_HS256_HEADER" "[1,2,3]" "$S" HS256)" \
	    "payload that is a JSON array -> 401"
	bearer_is_401 "$(jwt_make "$JWT_HS256_HEADER" "not json" "$S" HS256)" \
	    "payload that is not JSON -> 401"
	bearer_is_401 "$(jwt_for "$(random_uuid)")" \
	    "valid signature, sub of a user that does not exist -> 401"
else
	for d in "HS512 token signed with the server secret -> 401" \
	    "header says HS512, HS256 signature with the server secret -> 401" \
	    'header says none, valid HS256 signature -> 401' \
	    "control: well-formed HS256 token with the server secret -> 200" \
	    "control: forged token authenticates its sub" \
	    "expired token (exp an hour ago) -> 401" "expired token (exp a second ago) -> 401" \
	    "exp as a string -> 401" "token without exp -> 401" "token without sub -> 401" \
	    "sub that is not a UUID -> 401" "sub as an upper-case UUID -> 401" \
	    "sub of type number -> 401" "payload that is a JSON array -> 401" \
	    "payload that is not JSON -> 401" \
	    "valid signature, sub of a user that does not exist -> 401"; do
		skip "$d" "TASKAPI_JWT_SECRET not set"
	done
fi

# Every protected route wants a token.
for route in "GET /api/v1/me" "GET /api/v1/users" "GET /api/v1/users/$uid" \
    "PATCH /api/v1/users/$uid" "DELETE /api/v1/users/$uid" "GET /api/v1/tasks" \
    "POST /api/v1/tasks" "GET /api/v1/tasks/$(random_uuid)" \
    "PATCH /api/v1/tasks/$(random_uuid)" "DELETE /api/v1/tasks/$(random_uuid)" \
    "GET /api/v1/tasks/export"; do
	read -r m p <<<"$route"
	case $m in
	POST | PATCH) api "" "$m" "$p" '{"title":"x","name":"x"}' ;;
	*) api "" "$m" "$p" ;;
	esac
	expect_401 "$route without a token -> 401"
done

# The user is still there after all of that.
api "$token" GET /api/v1/me
expect_status 200 "the original token still works at the end"

done_testing
