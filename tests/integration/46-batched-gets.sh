#!/usr/bin/env bash
# 46-batched-gets.sh: GETs of one task that an event worker reads in the
# same loop turn are looked up with one statement (task_get_batch), and
# each still gets exactly its own answer.
#
# One curl process sends bursts of 64 GETs at once that mix every answer
# the lookup can give: the caller's own task (200, the right one), another
# user's task and a task that does not exist (404), a deleted user's token
# (401), a matching If-None-Match (304), a malformed id (400, never
# batched) and a second user's own task.  Every answer of every burst is
# checked.  Bursts go on until the workers' metrics count batched lookups
# (taskapi_ev_batched_reads_total); the number of bursts is capped, not
# timed.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || skip_all "needs curl"
command -v jq >/dev/null || skip_all "needs jq"
BURST=64
MAX_BURSTS=40

batched() {
	curl -s "$BASE/metrics" |
		awk '$1 == "taskapi_ev_batched_reads_total" { t = $2 } END { print t + 0 }'
}
batches() {
	curl -s "$BASE/metrics" |
		awk '$1 == "taskapi_ev_read_batches_total" { t = $2 } END { print t + 0 }'
}

# One event worker, so that a burst's GETs meet in its loop turns on a
# host of any size (the dev stack runs one per 2 CPUs); the pool is reloaded
# with its own settings again at the end.
envf=$TASKAPI_VAR/taskapi.env
ev_line=$(grep '^TASKAPI_EV_WORKERS=' "$envf" || true)
restore() {
	local o
	o=$(pool_workers)
	sed -i '/^TASKAPI_EV_WORKERS=/d' "$envf"
	[[ -n $ev_line ]] && printf '%s\n' "$ev_line" >>"$envf"
	kill -HUP "$(pool_master)"
	wait_until 30000 pool_gone "$o" >/dev/null || diag "reload back slow"
}
give_up() { restore; bail "$1"; }
old=$(pool_workers)
sed -i '/^TASKAPI_EV_WORKERS=/d' "$envf"
printf 'TASKAPI_EV_WORKERS=1\n' >>"$envf"
kill -HUP "$(pool_master)"
wait_until 30000 pool_gone "$old" >/dev/null || give_up "the pool was not reloaded"

make_user A || give_up "cannot register user A"
make_user B || give_up "cannot register user B"
make_user C || give_up "cannot register user C"

A_TASKS=()
for i in 0 1 2 3 4 5; do
	create_titled "$A_TOKEN" "batch-a-$i" || give_up "cannot create A's task $i"
	A_TASKS+=("$TASK_ID")
done
create_titled "$B_TOKEN" "batch-b" || give_up "cannot create B's task"
B_TASK=$TASK_ID
api "$A_TOKEN" GET "/api/v1/tasks/${A_TASKS[0]}"
ETAG0=$(header ETag)
[[ -n $ETAG0 ]] || give_up "no ETag on GET of a task"
api "$C_TOKEN" DELETE "/api/v1/users/$C_ID"
[[ $RESP_STATUS == 204 ]] || give_up "cannot delete user C: $(resp_summary)"
MISSING=$(random_uuid)

# The expected answer of transfer i: "status<TAB>id" (id: the task's id
# in a 200's body, or -).
expect_of() {
	local i=$1
	case $((i % 8)) in
	0 | 1) printf '200\t%s' "${A_TASKS[$(((i / 8) % 6))]}" ;;
	2) printf '404\t-' ;;
	3) printf '404\t-' ;;
	4) printf '401\t-' ;;
	5) printf '304\t-' ;;
	6) printf '200\t%s' "$B_TASK" ;;
	7) printf '400\t-' ;;
	esac
}

# burst R: one curl, $BURST transfers at once; checks every answer and
# sets WRONG to the number of wrong or missing ones.
burst() {
	local r=$1 cfg=$T_DIR/burst.cfg i url tok extra
	for ((i = 0; i < BURST; i++)); do
		tok=$A_TOKEN
		extra=""
		case $((i % 8)) in
		0 | 1) url="/api/v1/tasks/${A_TASKS[$(((i / 8) % 6))]}" ;;
		2) url="/api/v1/tasks/$B_TASK" ;;
		3) url="/api/v1/tasks/$MISSING" ;;
		4) url="/api/v1/tasks/${A_TASKS[1]}" tok=$C_TOKEN ;;
		5) url="/api/v1/tasks/${A_TASKS[0]}"
		   extra="header = \"If-None-Match: ${ETAG0//\"/\\\"}\"" ;;
		6) url="/api/v1/tasks/$B_TASK" tok=$B_TOKEN ;;
		7) url="/api/v1/tasks/not-a-uuid" ;;
		esac
		printf 'next\nurl = "%s%s"\nheader = "Authorization: Bearer %s"\n' "$BASE" "$url" "$tok"
		[[ -n $extra ]] && printf '%s\n' "$extra"
		printf 'output = "%s/b.%s.%s"\nmax-time = 30\n' "$T_DIR" "$r" "$i"
		printf 'write-out = "%%{http_code}\\t%%{filename_effective}\\n"\n'
	done >"$cfg"
	curl -s --no-progress-meter --parallel --parallel-immediate \
		--parallel-max "$BURST" -K "$cfg" 2>/dev/null >"$T_DIR/codes.$r"
	local wrong=0 code file n want got id
	declare -A seen=()
	while IFS=$'\t' read -r code file; do
		n=${file##*.}
		seen[$n]=1
		want=$(expect_of "$n")
		id=-
		if [[ $code == 200 ]]; then
			id=$(jq -r '.id' "$file" 2>/dev/null)
		elif [[ $code != 304 ]]; then
			# Errors are JSON with a message.
			jq -e '.error | type == "object" or type == "string"' "$file" >/dev/null 2>&1 || id="not-json"
		fi
		got=$(printf '%s\t%s' "$code" "$id")
		if [[ $got != "$want" ]]; then
			wrong=$((wrong + 1))
			((wrong <= 3)) && diag "burst $r transfer $n: got '$got', want '$want'"
		fi
	done <"$T_DIR/codes.$r"
	WRONG=$((wrong + BURST - ${#seen[@]}))
}

b0=$(batched)
n0=$(batches)
wrong_total=0
rounds=0
while ((rounds < MAX_BURSTS)); do
	rounds=$((rounds + 1))
	burst "$rounds"
	wrong_total=$((wrong_total + WRONG))
	(($(batched) > b0)) && ((rounds >= 3)) && break
done
b1=$(batched)
n1=$(batches)
is "$wrong_total" 0 "$rounds bursts of $BURST mixed GETs: every answer is the request's own (200 with its task, 304, 400, 401, 404)"
num_cmp "$((b1 - b0))" -gt 0 "some lookups were batched ($((b1 - b0)) in $((n1 - n0)) statements)"
num_cmp "$((b1 - b0))" -ge "$((2 * (n1 - n0)))" "a batch statement serves two lookups or more"
restore

done_testing
