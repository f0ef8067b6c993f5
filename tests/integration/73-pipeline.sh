#!/usr/bin/env bash
# 73-pipeline.sh: a statement that fails in the event worker's pipeline
# does not undo the requests that shared its segment.
#
# PostgreSQL runs the statements between two pipeline syncs as one
# implicit transaction: when one fails, those before it are rolled back
# and those after it skipped.  So the event worker may answer a
# statement only after its segment's sync, and must send the others of a
# failed segment again.  Here one PATCH waits on a row lock until the
# statement timeout (1 s) while a burst of creates goes through the same
# single pipeline: the PATCH must get a 503, and every create answered
# 201 must be in the database, exactly once.
# TASKAPI_FAULT_ROUNDS: bursts (4 here).
. "$(dirname "$0")/lib.sh"

have_psql || skip_all "needs TASKAPI_PSQL from ./dev test"
command -v curl >/dev/null || skip_all "needs curl"
ROUNDS=$(( ${TASKAPI_FAULT_ROUNDS:-4} > 20 ? 20 : ${TASKAPI_FAULT_ROUNDS:-4} ))
BURST=48

crashes() {
	curl -s "$BASE/metrics" |
		awk '/^taskapi_worker_restarts_total\{.*reason="(crash|stuck)"/ { t += $2 } END { print t + 0 }'
}
crash0=$(crashes)
envf=$TASKAPI_VAR/taskapi.env
restore() {
	local o
	lock_release row
	o=$(pool_workers)
	sed -i '/^TASKAPI_EV_DB_CONNECTIONS=/d; /^TASKAPI_REQUEST_TIMEOUT=/d' "$envf"
	kill -HUP "$(pool_master)"
	wait_until 30000 pool_gone "$o" >/dev/null || diag "reload back slow"
}
old=$(pool_workers)
sed -i '/^TASKAPI_EV_DB_CONNECTIONS=/d; /^TASKAPI_REQUEST_TIMEOUT=/d' "$envf"
printf 'TASKAPI_EV_DB_CONNECTIONS=1\nTASKAPI_REQUEST_TIMEOUT=1\n' >>"$envf"
kill -HUP "$(pool_master)"
wait_until 15000 pool_gone "$old" >/dev/null || { restore; bail "the pool was not reloaded"; }

make_user P || { restore; bail "cannot register a user"; }

# One curl process, $BURST transfers at once over as many connections:
# the creates and, in the middle, the PATCH of the locked task.  Writes
# "status<TAB>body" per transfer into $1.
burst() {
	local out=$1 locked=$2 r=$3 cfg=$T_DIR/burst.cfg i f code
	for ((i = 0; i < BURST; i++)); do
		if ((i == BURST / 2)); then
			printf 'next\nurl = "%s/api/v1/tasks/%s"\nrequest = "PATCH"\ndata = "{\\"title\\":\\"never\\"}"\n' \
				"$BASE" "$locked"
		else
			printf 'next\nurl = "%s/api/v1/tasks"\nrequest = "POST"\ndata = "{\\"title\\":\\"seg-%s-%s\\"}"\n' \
				"$BASE" "$r" "$i"
		fi
		printf 'header = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\n' "$P_TOKEN"
		printf 'output = "%s/body.%s.%s"\nmax-time = 20\n' "$T_DIR" "$r" "$i"
		printf 'write-out = "%%{http_code}\\t%%{filename_effective}\\n"\n'
	done >"$cfg"
	curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max "$BURST" -K "$cfg" 2>/dev/null |
		while IFS=$'\t' read -r code f; do
			printf '%s\t%s\n' "$code" "$(jq -c . "$f" 2>/dev/null || echo -)"
		done >"$out"
}

total201=0
for ((r = 0; r < ROUNDS; r++)); do
	create_titled "$P_TOKEN" "locked-$r" || { restore; bail "cannot create a task"; }
	locked=$TASK_ID
	# The row lock is held until the whole burst is answered, so only
	# the PATCH's 1 s statement timeout can end it.
	lock_hold row "SELECT 1 FROM tasks WHERE id = '$locked' FOR UPDATE" ||
		diag "burst $r: lock not held after $LOCK_MS ms"
	burst "$T_DIR/burst.$r" "$locked" "$r"
	lock_release row

	f=$T_DIR/burst.$r
	is "$(wc -l <"$f")" "$BURST" "burst $r: all $BURST requests answered"
	created=$(grep -c '^201'$'\t' "$f")
	is "$created" $((BURST - 1)) "burst $r: every create answered 201"
	is "$(grep -v '^201'$'\t' "$f" | cut -f1)" 503 \
		"burst $r: the PATCH of the locked task failed with 503 (its timeout); statuses: $(cut -f1 "$f" | sort | uniq -c | tr -s ' ' | tr '\n' ',')"
	# Every 201 is in the database, by its id and by its title.
	ids=$(grep '^201'$'\t' "$f" | cut -f2 | jq -r .id | sed "s/.*/'&'/" | paste -sd, -)
	n=$(sql "SELECT count(*) FROM tasks WHERE id IN (${ids:-NULL})")
	is "$n" "$created" "burst $r: all $created created tasks are in the database"
	n=$(sql "SELECT count(*) FROM tasks WHERE user_id = '$P_ID' AND title LIKE 'seg-$r-%'")
	is "$n" "$created" "burst $r: exactly $created rows with this burst's titles"
	is "$(sql "SELECT title FROM tasks WHERE id = '$locked'")" "locked-$r" \
		"burst $r: the locked task kept its title"
	total201=$((total201 + created))
done
diag "$total201 creates in $ROUNDS bursts around a failing statement"

restore
is "$(crashes)" "$crash0" "no worker crashed or was killed as stuck"
done_testing
