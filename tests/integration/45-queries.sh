#!/usr/bin/env bash
# 45-queries.sh: what the task list can be asked: sort (with - for
# descending, ties by id, tasks without due_at last by due_at), due_after
# / due_before, overdue, q (full-text words, never SQL or tsquery
# syntax), count; and a JSON 400 for every bad value.
. "$(dirname "$0")/lib.sh"

make_user Q "Queries Q" || bail "cannot create user Q"

# A fixed set: due dates in the past, the future and none; every status.
# post TITLE EXTRA: creates a task of Q, bails on failure.
post() {
	create_titled "$Q_TOKEN" "$1" "${2:-{\}}" || bail "cannot create $1: $(resp_summary)"
}
post "alpha report quarterly" '{"priority":"low","due_at":"2020-01-01T00:00:00Z"}'
A=$TASK_ID
post "beta invoice" '{"priority":"critical","due_at":"2099-01-01T00:00:00Z","description":"pay the quarterly invoice"}'
B=$TASK_ID
post "gamma no due" '{"priority":"high"}'
G=$TASK_ID
post "delta done late" '{"priority":"medium","due_at":"2021-06-01T12:00:00Z"}'
D=$TASK_ID
api "$Q_TOKEN" PATCH "/api/v1/tasks/$D" '{"status":"done"}'
expect_json 200 "delta marked done"
post "epsilon cancelled late" '{"priority":"medium","due_at":"2021-06-01T12:00:00Z"}'
E=$TASK_ID
api "$Q_TOKEN" PATCH "/api/v1/tasks/$E" '{"status":"cancelled"}'
post "zeta in progress late" '{"priority":"critical","due_at":"2022-02-02T00:00:00Z"}'
Z=$TASK_ID
api "$Q_TOKEN" PATCH "/api/v1/tasks/$Z" '{"status":"in_progress"}'
api "$Q_TOKEN" PATCH "/api/v1/tasks/$A" '{"title":"alpha report quarterly, edited"}'
expect_json 200 "alpha edited last (its updated_at is the newest)"

# ids QUERY: the ids of one page, comma separated.
ids() {
	api "$Q_TOKEN" GET "/api/v1/tasks?$1"
	[[ $RESP_STATUS == 200 ]] || diag "$1: $(resp_summary)"
	jbody '[.[].id] | join(",")'
}

# ---------------------------------------------------------------- sort

is "$(ids "")" "$Z,$E,$D,$G,$B,$A" "no sort: newest first, as before"
is "$(ids "sort=-created_at")" "$Z,$E,$D,$G,$B,$A" "sort=-created_at is the default"
is "$(ids "sort=created_at")" "$A,$B,$G,$D,$E,$Z" "sort=created_at: oldest first"
is "$(ids "sort=-updated_at&limit=1")" "$A" "sort=-updated_at: the last edited first"
# D and E share a due date: the id breaks the tie, the same way both ways.
if [[ $D < $E ]]; then de="$D,$E" ed="$E,$D"; else de="$E,$D" ed="$D,$E"; fi
is "$(ids "sort=due_at")" "$A,$de,$Z,$B,$G" "sort=due_at: earliest first, ties by id, no due date last"
is "$(ids "sort=-due_at")" "$G,$B,$Z,$ed,$A" "sort=-due_at: no due date first, then latest"
if [[ $B < $Z ]]; then bz="$B,$Z" zb="$Z,$B"; else bz="$Z,$B" zb="$B,$Z"; fi
is "$(ids "sort=priority")" "$A,$de,$G,$bz" "sort=priority: low to critical, ties by id"
is "$(ids "sort=-priority")" "$zb,$G,$ed,$A" "sort=-priority: the exact reverse"

# ---------------------------------------------------------------- filters

is "$(ids "overdue=true")" "$Z,$A" "overdue=true: due in the past, not done or cancelled"
is "$(ids "overdue=false&limit=100" | tr ',' '\n' | wc -l)" 6 "overdue=false: no filter"
is "$(ids "due_before=2021-06-01T12:00:00Z&sort=due_at")" "$A" "due_before is exclusive"
is "$(ids "due_after=2021-06-01T12:00:00Z&sort=due_at")" "$de,$Z,$B" "due_after is inclusive"
is "$(ids "due_after=2021-06-01T14:00:00%2B02:00&due_before=2022-02-02T00:00:00.000001Z&sort=due_at")" \
    "$de,$Z" "due_after with an offset (+02:00) is the same instant in UTC"
is "$(ids "due_after=2021-01-01T00:00:00Z&status=done")" "$D" "due_after with status"

api "$Q_TOKEN" GET "/api/v1/tasks?overdue=true&count=true&limit=1"
is "$(header X-Total-Count)" 2 "count=true counts the filtered rows, not the page"
is "$(jbody length)" 1 "... while the page holds limit rows"

# ---------------------------------------------------------------- q

is "$(ids "q=quarterly")" "$B,$A" "q: a word of a title or a description"
is "$(ids "q=QUARTERLY")" "$B,$A" "q: any case"
is "$(ids "q=quarterly%20invoice")" "$B" "q: every word must match"
is "$(ids "q=quarterly%20-invoice")" "$A" "q: -word excludes (web search syntax)"
is "$(ids "q=%22quarterly%20invoice%22")" "$B" "q: a quoted phrase"
is "$(ids "q=nothingmatches")" "" "q: no match, an empty page"
is "$(ids "q=quarterly&sort=due_at")" "$A,$B" "q in another sort"
for raw in "a%20%26%20b" "%21%21%21" "%27%3B%20DROP%20TABLE%20tasks%3B%20--" "a%3A%2A" "(%7C)" \
    "%5C" "%3C-%3E" "quarterly%20%7C%20%21"; do
	api "$Q_TOKEN" GET "/api/v1/tasks?q=$raw"
	expect_json 200 "q=$raw is words, not syntax: 200"
done
api "$Q_TOKEN" GET "/api/v1/tasks?q=$(repeat x 100)"
expect_json 200 "q of 100 characters: 200"
api "$Q_TOKEN" GET "/api/v1/tasks?q=$(repeat %C3%A9 100)"
expect_json 200 "q of 100 two-byte characters: 200"

# ---------------------------------------------------------------- every bad value is a JSON 400

bad() {
	api "$Q_TOKEN" GET "/api/v1/tasks?$1"
	expect_error 400 "$1 -> 400"
}
bad "q=$(repeat x 101)"
bad "q=$(repeat %E2%82%AC 101)"
bad "q="
bad "q=%20%20"
bad "q=%FF"
bad "q=a&q=b"
bad "sort=title"
bad "sort=created"
bad "sort=--due_at"
bad "sort=%2Bpriority"
bad "sort="
bad "sort=priority&sort=due_at"
bad "due_before=2026-13-01T00:00:00Z"
bad "due_before=2026-02-30T00:00:00Z"
bad "due_after=yesterday"
bad "due_after=2026-01-01"
bad "due_after=2026-01-01T00:00:00"
bad "due_after=2026-01-01T00:00:00Z&due_after=2026-01-02T00:00:00Z"
bad "overdue=yes"
bad "overdue=1"
bad "overdue="
bad "count=1"
bad "count=TRUE"
bad "status=late"
bad "priority=urgent"
bad "cursor=x"
bad "offset=-1"
api "$Q_TOKEN" GET "/api/v1/users?count=maybe"
expect_error 400 "users: count=maybe -> 400"
api "$Q_TOKEN" GET "/api/v1/users?cursor=abc"
expect_error 400 "users: a bad cursor -> 400"

done_testing
