#!/usr/bin/env bash
# 43-idempotency.sh: Idempotency-Key on POST /api/v1/tasks and
# POST /api/v1/auth/register.  A repeat with the same key and body gets
# the first answer again and creates nothing; another body gets 422; the
# key is per user (register: the key alone); concurrent twins and a
# kill -9 of the event worker between the two sends still leave every key
# with exactly one task, counted in the database.
. "$(dirname "$0")/lib.sh"

have_psql || skip_all "needs TASKAPI_PSQL from ./dev test"
make_user A "Idem A" || bail "cannot create user A"
make_user B "Idem B" || bail "cannot create user B"
RUN=$(uniq_suffix)

# kpost TOKEN KEY JSON-BODY: POST /api/v1/tasks with an Idempotency-Key.
kpost() {
	printf '%s' "$3" >"$T_REQ"
	req POST /api/v1/tasks -H "Authorization: Bearer $1" -H "Idempotency-Key: $2" \
		-H 'Content-Type: application/json' --data-binary "@$T_REQ"
}
# kregister KEY JSON-BODY: POST /api/v1/auth/register with a key.
kregister() {
	printf '%s' "$2" >"$T_REQ"
	req POST /api/v1/auth/register -H "Idempotency-Key: $1" \
		-H 'Content-Type: application/json' --data-binary "@$T_REQ"
}
# head_of NAME: a header of the last response; answer: status, Location,
# ETag and the body's exact bytes, for comparing two answers.
answer() { printf '%s|%s|%s|%s' "$RESP_STATUS" "$(header Location)" "$(header ETag)" "$(cat "$T_BODY")"; }
ntitle() { sql "SELECT count(*) FROM tasks WHERE title = '$1'"; }

# ------------------------------------------------------------ one client

K="one-$RUN"
kpost "$A_TOKEN" "$K" '{"title":"idem one '"$RUN"'","priority":"high","due_at":"2030-01-02T03:04:05.5+01:00"}'
expect_json 201 "a keyed create: 201"
first=$(answer)
ID1=$(jbody .id)
is "$(header Location)" "/api/v1/tasks/$ID1" "... with its Location"
kpost "$A_TOKEN" "$K" '{"title":"idem one '"$RUN"'","priority":"high","due_at":"2030-01-02T03:04:05.5+01:00"}'
is "$(answer)" "$first" "the same key and body again: the first answer exactly (status, Location, ETag, body bytes)"
is "$(ntitle "idem one $RUN")" 1 "... and one task, not two"
kpost "$A_TOKEN" "$K" '{"title":"idem other '"$RUN"'"}'
expect_error 422 "the same key with another body: 422 with a JSON error"
is "$(ntitle "idem other $RUN")" 0 "... which created nothing"
kpost "$A_TOKEN" "$K" '{"title":"idem one '"$RUN"'","due_at":"2030-01-02T03:04:05.5+01:00","priority":"high"}'
expect_error 422 "the same fields in another order are another body (compared byte for byte): 422"

# The stored answer outlives changes to the task.
api "$A_TOKEN" PATCH "/api/v1/tasks/$ID1" '{"title":"idem changed '"$RUN"'"}'
expect_json 200 "the created task is changed"
kpost "$A_TOKEN" "$K" '{"title":"idem one '"$RUN"'","priority":"high","due_at":"2030-01-02T03:04:05.5+01:00"}'
is "$(answer)" "$first" "a repeat after the change still gets the first answer"
api "$A_TOKEN" DELETE "/api/v1/tasks/$ID1"
kpost "$A_TOKEN" "$K" '{"title":"idem one '"$RUN"'","priority":"high","due_at":"2030-01-02T03:04:05.5+01:00"}'
is "$(answer)" "$first" "... and after its deletion too (it is not created again)"
is "$(ntitle "idem one $RUN")" 0 "the deleted task stays deleted"

# Keys belong to their user.
kpost "$B_TOKEN" "$K" '{"title":"idem one '"$RUN"'","priority":"high","due_at":"2030-01-02T03:04:05.5+01:00"}'
expect_json 201 "another user with the same key and body: a task of their own"
isnt "$(jbody .id)" "$ID1" "... with another id"

# Malformed keys.
kpost "$A_TOKEN" "$(repeat k 256)" '{"title":"long key"}'
expect_error 400 "a key of 256 characters: 400"
kpost "$A_TOKEN" "$(repeat k 255)" '{"title":"idem longest '"$RUN"'"}'
expect_json 201 "a key of 255 characters is fine"
kpost "$A_TOKEN" "k$(printf '\xc3\xa9')" '{"title":"non-ascii key"}'
expect_error 400 "a key with a non-ASCII byte: 400"
kpost "$A_TOKEN" "$K" '{"title":'
expect_error 400 "a keyed create with a broken body: 400, and nothing stored"
kpost "$A_TOKEN" "bad-$RUN" '{"title":""}'
expect_error 400 "a keyed create breaking a rule: 400"
kpost "$A_TOKEN" "bad-$RUN" '{"title":"idem fixed '"$RUN"'"}'
expect_json 201 "... so the key is still free for the corrected request"
is "$(ntitle "long key")$(ntitle "non-ascii key")" 00 "the refused keys created nothing"

# register: the key alone is the scope.
EM=$(uniq_email idem)
RB='{"email":"'"$EM"'","name":"Idem R","password":"pw-'"$RUN"'-secret"}'
kregister "reg-$RUN" "$RB"
expect_json 201 "a keyed register: 201"
rfirst=$(answer)
kregister "reg-$RUN" "$RB"
is "$(answer)" "$rfirst" "register repeated with its key: the first answer (not 409)"
is "$(sql "SELECT count(*) FROM users WHERE email = '$EM'")" 1 "... one user"
kregister "reg-$RUN" '{"email":"'"$(uniq_email idem2)"'","name":"Idem R","password":"pw-'"$RUN"'-secret"}'
expect_error 422 "register: the same key with another body: 422"
api "" POST /api/v1/auth/register "$RB"
expect_error 409 "the same register without a key: 409, the e-mail is taken"
is "$(sql "SELECT count(*) FROM idempotency_keys WHERE key = 'reg-$RUN' AND request_hash ~ '^[0-9a-f]{64}\$'")" 1 \
	"the key is stored with a 64-hex-digit hash of the body, never the body itself"

# ------------------------------------------------------------ expiry

# An expired key is claimed afresh; and every keyed create removes a few
# expired keys (at most 4), so no job outside taskapi is needed.
sql "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'bad-$RUN'" >/dev/null
kpost "$A_TOKEN" "bad-$RUN" '{"title":"idem renewed '"$RUN"'"}'
expect_json 201 "an expired key with another body: a new create, not 422"
is "$(ntitle "idem renewed $RUN")" 1 "... which made its task"
sql "INSERT INTO idempotency_keys (scope, key, request_hash, status, location, resource_id, created_at, expires_at)
	SELECT 'gc-$RUN', 'k' || g, repeat('0', 64), 201, '/', gen_random_uuid(), now() - interval '2 days',
	now() - interval '1 day' FROM generate_series(1, 10) g" >/dev/null
expired() { sql "SELECT count(*) FROM idempotency_keys WHERE expires_at < now()"; }
before=$(expired)
kpost "$A_TOKEN" "gc1-$RUN" '{"title":"idem gc1"}'
kpost "$A_TOKEN" "gc2-$RUN" '{"title":"idem gc2"}'
after=$(expired)
is "$((before - after))" 8 "two keyed creates removed 8 expired keys ($before -> $after)"

# ------------------------------------------------------------ twins

# PAIRS keys, each sent twice at once (requests 2k and 2k+1 of one load
# process share key k), 16 connections.
PAIRS=100
load_run --clients 16 --count $((2 * PAIRS)) --cap-seconds 300 --timeout 60 \
	--method POST --path /api/v1/tasks \
	--header "Authorization: Bearer $A_TOKEN" --header 'Content-Type: application/json' \
	--header "Idempotency-Key: twin-$RUN-{pair}" --data "{\"title\":\"twin $RUN {pair}\"}" \
	--out "$T_DIR/twins" >"$T_DIR/twins.sum"
is "$(awk '$1 == 201' "$T_DIR/twins" | wc -l)" $((2 * PAIRS)) \
	"$((2 * PAIRS)) keyed creates, each key sent twice at once: every one 201 ($(cat "$T_DIR/twins.sum"))"
is "$(awk '$1 == 201 {print $2}' "$T_DIR/twins" | sort -u | wc -l)" "$PAIRS" \
	"... the twins of each key got the same task id: $PAIRS ids"
is "$(sql "SELECT count(*) || '/' || count(DISTINCT title) FROM tasks WHERE title LIKE 'twin $RUN %'")" "$PAIRS/$PAIRS" \
	"the database holds exactly one task per key"

# ------------------------------------------------------------ kill -9

# KEYS keyed creates; the event worker is killed -9 once 40 were
# answered, so some fail in flight.  Then every key is sent again: each
# answer is 201, a key answered before gets the same id, and each key has
# exactly one task, whatever the crash interrupted.
MASTER=$(pool_master)
ev_worker() {
	local p
	for p in $(pgrep -P "$MASTER"); do
		ls -l "/proc/$p/fd" 2>/dev/null | grep -q anon_inode:\\[eventpoll\\] && { echo "$p"; return; }
	done
}
victim=$(ev_worker)
if [[ -z $victim ]]; then
	skip "kill -9 between the sends" "no event-driven worker in this pool"
else
	KEYS=400
	load_run --clients 8 --count $KEYS --cap-seconds 300 --timeout 30 \
		--method POST --path /api/v1/tasks \
		--header "Authorization: Bearer $A_TOKEN" --header 'Content-Type: application/json' \
		--header "Idempotency-Key: crash-$RUN-{i}" --data "{\"title\":\"crash $RUN {i}\"}" \
		--out "$T_DIR/first" >"$T_DIR/first.sum" &
	loader=$!
	ms=$(wait_until 120000 lines_at_least "$T_DIR/first" 40) ||
		diag "only $(lines "$T_DIR/first") answered in $ms ms before the kill"
	kill -9 "$victim"
	wait "$loader"
	replaced() { local p; p=$(ev_worker); [[ -n $p && $p != "$victim" ]]; }
	wait_until 30000 replaced >/dev/null || diag "no new event worker seen"
	load_run --clients 8 --count $KEYS --cap-seconds 300 --timeout 30 \
		--method POST --path /api/v1/tasks \
		--header "Authorization: Bearer $A_TOKEN" --header 'Content-Type: application/json' \
		--header "Idempotency-Key: crash-$RUN-{i}" --data "{\"title\":\"crash $RUN {i}\"}" \
		--out "$T_DIR/second" >"$T_DIR/second.sum"
	lost=$(awk '$1 != 201' "$T_DIR/first" | wc -l)
	diag "first send: $(cat "$T_DIR/first.sum") ($lost not 201); second: $(cat "$T_DIR/second.sum")"
	is "$(awk '$1 == 201' "$T_DIR/second" | wc -l)" $KEYS "every key sent again after the kill: 201"
	# The second send's ids are one per key; every id the first send got
	# is among them (one task per key, so it is that key's).
	awk '$1 == 201 {print $2}' "$T_DIR/first" | sort -u >"$T_DIR/first.ids"
	awk '$1 == 201 {print $2}' "$T_DIR/second" | sort -u >"$T_DIR/second.ids"
	is "$(wc -l <"$T_DIR/second.ids")" $KEYS "the second send got $KEYS distinct task ids"
	is "$(comm -23 "$T_DIR/first.ids" "$T_DIR/second.ids" | wc -l)" 0 \
		"every id answered before the kill is answered again after it ($(wc -l <"$T_DIR/first.ids") of them)"
	is "$(sql "SELECT count(*) || '/' || count(DISTINCT title) FROM tasks WHERE title LIKE 'crash $RUN %'")" "$KEYS/$KEYS" \
		"after the kill -9 every key maps to exactly one task ($KEYS keys)"
	is "$(sql "SELECT count(*) FROM idempotency_keys k LEFT JOIN tasks t ON t.id = k.resource_id
		WHERE k.key LIKE 'crash-$RUN-%' AND t.id IS NULL")" 0 "and no key is left without its task"
fi

done_testing
