# tests/integration/drill-lib.sh: what the fault drills (8x-drill-*.sh)
# share.  Sourced after lib.sh.  Each drill runs tests/faults/ledger.py (one
# python3 process, a thread per client) with a fault command paced by
# answered requests, then turns its JSON verdict into TAP lines.
#
# Short form in ./dev test; TASKAPI_FAULT_ROUNDS (./dev faults) sets the
# number of faults of the long form.

LEDGER=${TASKAPI_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/faults/ledger.py
ACCESS_LOG=${TASKAPI_VAR:-}/log/nginx-access.log
APP_LOG=${TASKAPI_VAR:-}/log/taskapi.log

drill_needs() {
	[[ -n ${TASKAPI_VAR:-} && -r $TASKAPI_VAR/run/taskapi.pid ]] || skip_all "needs ./dev test's TASKAPI_VAR"
	have_psql || skip_all "needs TASKAPI_PSQL"
	command -v python3 >/dev/null 2>&1 || skip_all "needs python3"
	[[ -r $LEDGER ]] || skip_all "no $LEDGER"
}

# drill_run NAME LEDGER-ARGS...: runs the ledger; its verdict is in
# $T_DIR/NAME.json, its summary lines (stderr) are printed as TAP comments.
drill_run() {
	local name=$1
	shift
	DRILL_OUT=$T_DIR/$name.json
	PYTHONDONTWRITEBYTECODE=1 python3 "$LEDGER" --base "$BASE" --access-log "$ACCESS_LOG" --app-log "$APP_LOG" "$@" \
		>"$DRILL_OUT" 2>"$T_DIR/$name.err"
	local rc=$?
	sed 's/^# //' "$T_DIR/$name.err" | diag "$(cat)"
	[[ $rc -eq 0 && -s $DRILL_OUT ]] || bail "ledger.py failed (exit $rc)"
}

# dj JQ: a value of the verdict.
dj() { jq -r "$1" "$DRILL_OUT"; }

# drill_ledger_checks: what every drill asserts of its ledger.
drill_ledger_checks() {
	local n
	is "$(dj .capped)" false "the run reached its request count ($(dj .requests) in $(dj .elapsed_s) s) before the time cap"
	is "$(dj '.no_answer | length')" 0 "every request got an answer (answers: $(jq -c .by_status "$DRILL_OUT"))"
	is "$(dj '.lost | length')" 0 "nothing acknowledged was lost"
	is "$(dj '.phantom | length')" 0 "nothing was written that no request asked for, nothing twice"
	is "$(dj '.after_gone | length')" 0 "no write ran after its client had given up"
	is "$(dj '.lie_404 | length')" 0 "no 404 for the client's own task (no DELETE answered 404 after it succeeded)"
	is "$(dj '.log_method | length')" 0 "the access log has each request's own method"
	is "$(dj .no_retry_after_503)" 0 "every 503 carries Retry-After"
	is "$(dj .non_json)" 0 "every body is JSON"
	n=$(dj '[.by_status | to_entries[] | select(.key | test("^[0-9]+$")) | select(.key | tonumber >= 500) | .value] | add // 0')
	diag "failures by status: $(jq -c .failures "$DRILL_OUT"); recovery, worst ms from a fault to the next 2xx: $(jq -c .recover_ms "$DRILL_OUT")"
	DRILL_5XX=$n
}
