#!/usr/bin/env bash
# tests/cluster/drills.sh: the cluster's failure drills
# (`./dev cluster drills`), each with a ledger (tests/cluster/load.py), the
# figures written to tests/cluster/RESULTS.md.  Drill 1 is the smoke
# (tests/cluster/smoke.sh, a cluster of its own, 1500 operations after the
# kill); then drills 2, 5, 4 and 3, in that order, on one cluster: drill 3
# last, since it leaves a standby that has to catch up.
#
#   Drill 1, an app host dies: kill -9 of app2's whole process tree under
#   load (smoke.sh says what it checks).
#
#   Drill 2, the primary dies: under a mixed write load, kill -9 of
#   Patroni and PostgreSQL on the leader (its etcd member stays).  A
#   standby is promoted; measured: the time from the kill to the first
#   write that succeeds again, the answers while there is no primary, and
#   the acknowledged writes lost (must be 0).  Then the old leader's
#   Patroni starts again and it rejoins as a standby (pg_rewind); measured:
#   the time until it streams.
#
#   Drill 5, switchover: under the same load, patronictl switchover to the
#   synchronous standby; counted: the failures by status (only JSON 503s
#   with Retry-After are allowed), that writes come back (300 succeed
#   after the first failure) and the acknowledged writes lost (0).
#
#   Drill 3, the primary cut off: its link to the bridge goes down under the
#   load.  Patroni must demote it (read-only), another host must lead, the
#   ledger must hold; once the link is back it rejoins as a standby.
#
#   Drill 4, rolling restart of the app hosts, one at a time (out of
#   nginx's rotation, SIGTERM, start, back: cluster.sh app-stop/app-start)
#   under the load: counted, the failed requests (must be 0) and the ledger.
#
# TASKAPI_DRILLS="3" (or "2 5", ...): only those drills, and RESULTS.md is
# left as it is; it is rewritten only when all of them ran.
#
# TAP lines, then "N passed, M failed".  Every wait has a cap.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER=(bash "$ROOT/cluster/cluster.sh")
B=http://127.0.0.1:8090
THREADS=${TASKAPI_DRILL_THREADS:-6}
RESULTS=$ROOT/tests/cluster/RESULTS.md
DRILLS=${TASKAPI_DRILLS:-1 2 5 4 3}
want() { case " $DRILLS " in *" $1 "*) return 0 ;; esac; return 1; }
BUILD_CL=${TASKAPI_BUILD:-$ROOT/build}/cluster

n_pass=0
n_fail=0
n=0
ok() { n=$((n + 1)); n_pass=$((n_pass + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)); n_fail=$((n_fail + 1)); echo "not ok $n - $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'
	return 0
}
# last_upstream_is PREFIX: whether a line of upstream addresses on stdin
# ends with one that starts with PREFIX (the host that answered).  Reads
# all its input: under pipefail a "grep -q" that stops at the first match
# fails the pipeline with the SIGPIPE of the command writing into it.
last_upstream_is() {
	awk -F', ' -v p="$1" 'index($NF, p) == 1 { found = 1 } END { exit !found }'
}
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }

t0=$(date +%s)
TMP=$(mktemp -d)
load_pid=
# Whatever happens (an error, SIGINT, SIGTERM), the cluster goes.
cleanup() {
	[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
	"${CLUSTER[@]}" down >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
finish() {
	"${CLUSTER[@]}" down >/dev/null 2>&1 || true
	rm -rf "$TMP"
	echo "1..$n"
	echo "# drills took $(($(date +%s) - t0)) s"
	echo "$n_pass passed, $n_fail failed"
	[ "$n_fail" -eq 0 ]
}

if want 1; then
	echo "# drill 1: tests/cluster/smoke.sh"
	TASKAPI_SMOKE_OPS=1500 bash "$ROOT/tests/cluster/smoke.sh" >"$TMP/smoke.out" 2>&1
	sed 's/^/#   /' "$TMP/smoke.out"
	s1_pass=$(grep -c '^ok ' "$TMP/smoke.out" || true)
	s1_fail=$(grep -c '^not ok ' "$TMP/smoke.out" || true)
	check "drill 1 (smoke.sh): $s1_pass passed, $s1_fail failed" test "$s1_fail" -eq 0 -a "$s1_pass" -gt 0
	d1=$(grep -E '^# (load|statuses after the kill|failures|after the kill|smoke took)' "$TMP/smoke.out" | sed 's/^# /    /')
	d1_checks=$(grep -E '^(ok|not ok) ' "$TMP/smoke.out" | sed 's/^/    /')
fi
if [ "$DRILLS" = 1 ]; then
	finish
	exit
fi

up_t0=$(date +%s%3N)
if ! "${CLUSTER[@]}" up >"$TMP/up.log" 2>&1; then
	not_ok "cluster up" "$(tail -n 30 "$TMP/up.log")"
	finish
	exit 1
fi
up_s=$(awk -v a="$up_t0" -v b="$(date +%s%3N)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
ok "cluster up in $up_s s"

ms_since() { awk -v a="$1" -v b="$(date +%s%3N)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
sync_ready() {
	"${CLUSTER[@]}" members 2>/dev/null |
		jq -e '[.[] | select(.role == "sync_standby" and (.state == "running" or .state == "streaming"))] | length >= 1' >/dev/null
}

# --- drill 2: the primary dies ----------------------------------------------------

if want 2; then

old=$("${CLUSTER[@]}" leader)
before=$("${CLUSTER[@]}" members)
echo "# members before: $before"
python3 "$ROOT/tests/cluster/load.py" --base "$B" --threads "$THREADS" \
	--warm 300 --after-writes-ok 300 --ready "$TMP/ready" --trigger "$TMP/trigger" \
	--max-seconds 120 >"$TMP/load.json" 2>"$TMP/load.err" &
load_pid=$!
i=0
while [ ! -e "$TMP/ready" ] && [ "$i" -lt 600 ] && kill -0 "$load_pid" 2>/dev/null; do
	sleep 0.1; i=$((i + 1))
done
check "the load warmed up (300 operations)" test -e "$TMP/ready"
touch "$TMP/trigger"
"${CLUSTER[@]}" kill-db "$old"
echo "# killed Patroni and PostgreSQL on $old (the leader)"
wait "$load_pid"
load_rc=$?
check "load.py ran (exit $load_rc)" test "$load_rc" -eq 0
[ -s "$TMP/load.err" ] && sed 's/^/# load.py: /' "$TMP/load.err" | head -n 20
L=$(cat "$TMP/load.json" 2>/dev/null)
[ -n "$L" ] || L='{}'
new=$("${CLUSTER[@]}" leader)
after=$("${CLUSTER[@]}" members)
echo "# members after: $after"
jq -r '"# load: \(.ops) operations, \(.ops_after) after the kill, \(.elapsed_s) s",
	"# statuses before the kill: \(.statuses.before | tojson)",
	"# statuses after the kill: \(.statuses.after | tojson)"' <<<"$L" 2>/dev/null
check "a standby was promoted ($old -> ${new:-none})" test -n "$new" -a "$new" != "$old"
check "writes succeed again (300 after the outage), not capped" \
	test "$(jq '.first_write_ok_after_failure_s != null and (.capped | not)' <<<"$L")" = true
recover=$(jq -r '.first_write_ok_after_failure_s // "none"' <<<"$L")
echo "# kill -> first successful write: $recover s"
by_status=$(jq -c '[.failures[] | .status | tostring] | group_by(.) | map({(.[0]): length}) | add // {}' <<<"$L")
nf=$(jq '.failures | length' <<<"$L")
n500=$(jq '[.failures[] | select(.status == 500)] | length' <<<"$L")
nexc=$(jq '[.failures[] | select(.status | type == "string")] | length' <<<"$L")
nnojson=$(jq '[.failures[] | select(.json | not)] | length' <<<"$L")
n503ra=$(jq '[.failures[] | select(.status == 503 and .retry_after != null)] | length' <<<"$L")
n503=$(jq '[.failures[] | select(.status == 503)] | length' <<<"$L")
echo "# failures by status: $by_status ($nf in all)"
check "no 500 while there was no primary ($n500)" test "$n500" -eq 0
check "no hang or broken connection ($nexc)" test "$nexc" -eq 0
check "every failure has a JSON body ($nnojson without)" test "$nnojson" -eq 0
check "every 503 carries Retry-After ($n503ra of $n503)" test "$n503ra" -eq "$n503"
lost=$(jq '.ledger.problems | length' <<<"$L")
if [ "$lost" = 0 ] && [ "$(jq '.ledger.tasks > 0' <<<"$L")" = true ]; then
	ok "ledger: $(jq '.ledger.tasks' <<<"$L") tasks, 0 acknowledged writes lost"
else
	not_ok "ledger: 0 acknowledged writes lost" "$(jq -r '.ledger.problems[]' <<<"$L" | head -n 20)"
fi

# The old leader comes back: Patroni rewinds it and it follows the new one.
rj0=$(date +%s%3N)
"${CLUSTER[@]}" patroni-start "$old"
rejoined=none
for i in $(seq 1 300); do	# 300 x 0.2 s
	if "${CLUSTER[@]}" streaming "$old" 2>/dev/null; then
		rejoined=$(awk -v a="$rj0" -v b="$(date +%s%3N)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
		break
	fi
	sleep 0.2
done
check "$old rejoined as a standby: the new leader streams to it (${rejoined} s)" test "$rejoined" != none
# What an operator sees: /health fine again, and the failover counted in
# /metrics (each answer comes from one app host: the most any host says).
h2=$(curl -s --max-time 10 "$B/health")
check "/health after the failover: $h2" test "$h2" = '{"status":"ok","database":"ok"}'
fo=0
for i in $(seq 1 9); do
	v=$(curl -s --max-time 10 "$B/metrics" | awk '$1 == "taskapi_db_failovers_total" { print $2 }')
	[ -n "$v" ] && [ "$v" -gt "$fo" ] && fo=$v
done
check "taskapi_db_failovers_total counts the failover (at most $fo on an app host)" test "$fo" -ge 1
echo "# members at the end: $("${CLUSTER[@]}" members)"
fi

# --- drill 5: switchover ---------------------------------------------------------

if want 5; then
i=0
until sync_ready || [ "$i" -ge 300 ]; do sleep 0.2; i=$((i + 1)); done
check "a synchronous standby before the switchover" sync_ready
l5=$("${CLUSTER[@]}" leader)
cand=$("${CLUSTER[@]}" members | jq -r '[.[] | select(.role == "sync_standby")][0].name // empty')
rm -f "$TMP/ready" "$TMP/trigger"
python3 "$ROOT/tests/cluster/load.py" --base "$B" --threads "$THREADS" \
	--warm 300 --after 3000 --then-writes-ok 300 --ready "$TMP/ready" --trigger "$TMP/trigger" \
	--max-seconds 120 >"$TMP/load5.json" 2>"$TMP/load5.err" &
load_pid=$!
i=0
while [ ! -e "$TMP/ready" ] && [ "$i" -lt 600 ] && kill -0 "$load_pid" 2>/dev/null; do
	sleep 0.1; i=$((i + 1))
done
touch "$TMP/trigger"
"${CLUSTER[@]}" switchover "$cand" >"$TMP/switchover.log" 2>&1
sw_rc=$?
sed 's/^/# patronictl: /' "$TMP/switchover.log" | tail -n 5
wait "$load_pid"
L5=$(cat "$TMP/load5.json" 2>/dev/null)
[ -n "$L5" ] || L5='{}'
l5b=$("${CLUSTER[@]}" leader)
check "switchover $l5 -> $cand (patronictl exit $sw_rc; leader now ${l5b:-none})" test "$sw_rc" -eq 0 -a "$l5b" = "$cand"
jq -r '"# load: \(.ops) operations, \(.ops_after) after the switchover began, \(.elapsed_s) s",
	"# statuses after: \(.statuses.after | tojson)"' <<<"$L5" 2>/dev/null
by5=$(jq -c '[.failures[] | .status | tostring] | group_by(.) | map({(.[0]): length}) | add // {}' <<<"$L5")
nf5=$(jq '.failures | length' <<<"$L5")
n5ra=$(jq '[.failures[] | select(.status == 503 and .retry_after != null and .json)] | length' <<<"$L5")
echo "# switchover failures by status: $by5 ($nf5 in all)"
check "during the switchover only JSON 503s with Retry-After ($n5ra of $nf5)" test "$n5ra" -eq "$nf5"
check "the load finished (3000 operations after), not capped" \
	test "$(jq '.ops_after >= 3000 and (.capped | not)' <<<"$L5")" = true
# Writes came back: 300 succeeded after the first failure (none failed
# at all is fine too).
check "writes succeed again after the switchover ($(jq -r '.first_write_ok_after_failure_s // "none"' <<<"$L5") s after it)" \
	test "$(jq '.first_failure_s == null or .first_write_ok_after_failure_s != null' <<<"$L5")" = true
lost5=$(jq '.ledger.problems | length' <<<"$L5")
if [ "$lost5" = 0 ] && [ "$(jq '.ledger.tasks > 0' <<<"$L5")" = true ]; then
	ok "switchover ledger: $(jq '.ledger.tasks' <<<"$L5") tasks, 0 acknowledged writes lost"
else
	not_ok "switchover ledger: 0 acknowledged writes lost" "$(jq -r '.ledger.problems[]' <<<"$L5" | head -n 20)"
fi
fi

# --- drill 4: rolling restart of the app hosts -------------------------------------------

if want 4; then

rm -f "$TMP/ready" "$TMP/trigger" "$TMP/stop"
python3 "$ROOT/tests/cluster/load.py" --base "$B" --threads "$THREADS" \
	--warm 300 --stop "$TMP/stop" --ready "$TMP/ready" --trigger "$TMP/trigger" \
	--max-seconds 150 >"$TMP/load4.json" 2>"$TMP/load4.err" &
load_pid=$!
i=0
while [ ! -e "$TMP/ready" ] && [ "$i" -lt 600 ] && kill -0 "$load_pid" 2>/dev/null; do
	sleep 0.1; i=$((i + 1))
done
touch "$TMP/trigger"
roll_ok=0
for h in app1 app2 app3; do
	a=10.77.0.1${h#app}
	"${CLUSTER[@]}" app-stop "$h" >/dev/null 2>&1 || echo "# $h did not stop in 30 s"
	mark=$(date +%s%3N)
	"${CLUSTER[@]}" app-start "$h" >/dev/null 2>&1 || echo "# $h did not start"
	# Back in rotation: nginx's log shows an answer from it (cap 20 s).
	for i in $(seq 1 100); do
		sleep 0.2
		if jq -r --argjson k "$mark" 'select(.t * 1000 > $k) | .upstream_addr' "$BUILD_CL/lb/log/upstream.log" 2>/dev/null |
			last_upstream_is "$a:"; then
			roll_ok=$((roll_ok + 1))
			echo "# $h restarted and serving again after $(ms_since "$mark") s"
			break
		fi
	done
done
touch "$TMP/stop"
wait "$load_pid"
L4=$(cat "$TMP/load4.json" 2>/dev/null)
[ -n "$L4" ] || L4='{}'
check "each app host restarted and served again ($roll_ok of 3)" test "$roll_ok" -eq 3
jq -r '"# load: \(.ops) operations, \(.ops_after) during the restarts, \(.elapsed_s) s",
	"# statuses during: \(.statuses.after | tojson)"' <<<"$L4" 2>/dev/null
by4=$(jq -c '[.failures[] | .status | tostring] | group_by(.) | map({(.[0]): length}) | add // {}' <<<"$L4")
nf4=$(jq '.failures | length' <<<"$L4")
echo "# rolling restart failures: $by4 ($nf4 in all): $(jq -c '.failures' <<<"$L4" | head -c 600)"
check "rolling restart: 0 failed requests ($nf4)" test "$nf4" -eq 0
lost4=$(jq '.ledger.problems | length' <<<"$L4")
if [ "$lost4" = 0 ] && [ "$(jq '.ledger.tasks > 0' <<<"$L4")" = true ]; then
	ok "rolling ledger: $(jq '.ledger.tasks' <<<"$L4") tasks, 0 acknowledged writes lost"
else
	not_ok "rolling ledger: 0 acknowledged writes lost" "$(jq -r '.ledger.problems[]' <<<"$L4" | head -n 20)"
fi
fi

# --- drill 3: the primary is cut off ------------------------------------------------

if want 3; then

i=0
until sync_ready || [ "$i" -ge 300 ]; do sleep 0.2; i=$((i + 1)); done
l3=$("${CLUSTER[@]}" leader)
rm -f "$TMP/ready" "$TMP/trigger"
# The ledger is checked only after the link is back and the old primary
# has rejoined (--check-when): what the healed cluster holds is what counts.
python3 "$ROOT/tests/cluster/load.py" --base "$B" --threads "$THREADS" \
	--warm 300 --after-writes-ok 300 --ready "$TMP/ready" --trigger "$TMP/trigger" \
	--done "$TMP/done3" --check-when "$TMP/check3" \
	--max-seconds 150 >"$TMP/load3.json" 2>"$TMP/load3.err" &
load_pid=$!
i=0
while [ ! -e "$TMP/ready" ] && [ "$i" -lt 600 ] && kill -0 "$load_pid" 2>/dev/null; do
	sleep 0.1; i=$((i + 1))
done
touch "$TMP/trigger"
cut0=$(date +%s%3N)
"${CLUSTER[@]}" link "$l3" down
echo "# cut $l3 (the leader) off: its link to the bridge is down"
# Patroni on the cut-off host cannot renew its leader key and demotes it:
# PostgreSQL first refuses new sessions and ends the open ones (shutting
# down), then comes back read-only.
refusing=none
demoted=none
for i in $(seq 1 400); do	# 400 x 0.2 s, and each look at most 5 s
	r=$("${CLUSTER[@]}" in-recovery "$l3" 2>&1)
	if [ "$refusing" = none ] && [ "$r" != f ]; then
		refusing=$(ms_since "$cut0")
	fi
	if [ "$r" = t ]; then
		demoted=$(ms_since "$cut0")
		break
	fi
	sleep 0.2
done
i=0
while [ ! -e "$TMP/done3" ] && [ "$i" -lt 1000 ] && kill -0 "$load_pid" 2>/dev/null; do
	sleep 0.2; i=$((i + 1))
done
l3b=$(TASKAPI_CLUSTER_SKIP=$l3 "${CLUSTER[@]}" leader)
check "the cut-off primary $l3 stopped taking writes (no new sessions after ${refusing} s, read-only after ${demoted} s)" test "$demoted" != none
check "another host leads ($l3 -> ${l3b:-none})" test -n "$l3b" -a "$l3b" != "$l3"
up0=$(date +%s%3N)
"${CLUSTER[@]}" link "$l3" up
back3=none
for i in $(seq 1 300); do	# 300 x 0.2 s
	# The new leader streams to it: it follows, on the new timeline.
	if "${CLUSTER[@]}" streaming "$l3" 2>/dev/null; then
		back3=$(ms_since "$up0")
		break
	fi
	sleep 0.2
done
check "$l3 rejoined as a standby once its link was back: the new leader streams to it (${back3} s)" test "$back3" != none
rewound=$(grep -c 'pg_rewind' "$BUILD_CL/$l3/log/patroni.log" 2>/dev/null || true)
grep -h 'rewind' "$BUILD_CL/$l3/log/patroni.log" 2>/dev/null | tail -n 3 | sed 's/^/# patroni: /'
echo "# members after the link is back: $(TASKAPI_CLUSTER_SKIP=$l3 "${CLUSTER[@]}" members)"
l3c=$(TASKAPI_CLUSTER_SKIP=$l3 "${CLUSTER[@]}" leader)
check "the leader after the link is back is still $l3b (now ${l3c:-none})" test "$l3c" = "$l3b"
touch "$TMP/check3"
wait "$load_pid"
L3=$(cat "$TMP/load3.json" 2>/dev/null)
[ -n "$L3" ] || L3='{}'
jq -r '"# load: \(.ops) operations, \(.ops_after) after the cut, \(.elapsed_s) s",
	"# statuses after: \(.statuses.after | tojson)"' <<<"$L3" 2>/dev/null
by3=$(jq -c '[.failures[] | .status | tostring] | group_by(.) | map({(.[0]): length}) | add // {}' <<<"$L3")
nf3=$(jq '.failures | length' <<<"$L3")
n3bad=$(jq '[.failures[] | select((.status | IN(502, 503, 504) | not) or (.json | not))] | length' <<<"$L3")
rec3=$(jq -r '.first_write_ok_after_failure_s // "none"' <<<"$L3")
echo "# cut -> first successful write: $rec3 s; failures by status: $by3 ($nf3 in all)"
check "writes succeed again (300 after the outage), not capped" \
	test "$(jq '.first_write_ok_after_failure_s != null and (.capped | not)' <<<"$L3")" = true
check "every failure a JSON 502/503/504 ($n3bad others)" test "$n3bad" -eq 0
lost3=$(jq '.ledger.problems | length' <<<"$L3")
if [ "$lost3" = 0 ] && [ "$(jq '.ledger.tasks > 0' <<<"$L3")" = true ]; then
	ok "cut-off ledger, after the link is back: $(jq '.ledger.tasks' <<<"$L3") tasks, 0 acknowledged writes lost"
else
	not_ok "cut-off ledger, after the link is back: 0 acknowledged writes lost" "$(jq -r '.ledger.problems[]' <<<"$L3" | head -n 20)"
fi
fi

if [ "$DRILLS" != "1 2 5 4 3" ]; then
	echo "# only drills $DRILLS: $RESULTS left as it is"
	finish
	exit
fi

{
	cat <<-EOF
		# Cluster drills: results

		Written by \`./dev cluster drills\` (tests/cluster/drills.sh) on $(date -u +%Y-%m-%d), on this
		machine (2 cores shared with other work): three PostgreSQL 15 under Patroni
		$(patroni --version 2>/dev/null | awk '{print $2}') with etcd $(etcd --version 2>/dev/null | awk 'NR==1 {print $3}'), ttl 10, loop_wait 2, retry_timeout 4,
		synchronous_mode_strict; three app hosts behind nginx (doc/CLUSTER.md).
		Load: tests/cluster/load.py, $THREADS threads, each its own user, a loop of
		create, get, patch, list and every other time delete.

		| | figure |
		|---|---|
		| cluster up from nothing (namespaces, etcd, Patroni bootstrap, two clones, migrate, three app hosts, nginx) | $up_s s |

		## Drill 2: the primary dies (kill -9 of Patroni and PostgreSQL on the leader)

		| | figure |
		|---|---|
		| leader before, after | $old, ${new:-none} |
		| operations (all), after the kill | $(jq '.ops' <<<"$L"), $(jq '.ops_after' <<<"$L") |
		| kill to the first failed request | $(jq -r '.first_failure_s // "none"' <<<"$L") s |
		| kill to the first successful write | $recover s |
		| answers after the kill | \`$(jq -c '.statuses.after' <<<"$L")\` |
		| failures by status | \`$by_status\` |
		| 500s; hangs or broken connections; failures without a JSON body | $n500; $nexc; $nnojson |
		| 503s with Retry-After | $n503ra of $n503 |
		| acknowledged writes lost (ledger of $(jq '.ledger.tasks' <<<"$L") tasks) | $lost |
		| old leader back to a streaming standby after its Patroni starts | $rejoined s |
		| /health after; the most \`taskapi_db_failovers_total\` one app host shows | \`$h2\`; $fo |

		## Drill 5: switchover (patronictl switchover to the synchronous standby)

		| | figure |
		|---|---|
		| leader before, after | $l5, ${l5b:-none} |
		| operations (all), after the switchover began | $(jq '.ops' <<<"$L5"), $(jq '.ops_after' <<<"$L5") |
		| first failure, first successful write after it (s from the switchover) | $(jq -r '.first_failure_s // "none"' <<<"$L5"), $(jq -r '.first_write_ok_after_failure_s // "none"' <<<"$L5") |
		| answers after the switchover began | \`$(jq -c '.statuses.after' <<<"$L5")\` |
		| failures by status (all JSON 503 with Retry-After?) | \`$by5\` ($n5ra of $nf5) |
		| acknowledged writes lost (ledger of $(jq '.ledger.tasks' <<<"$L5") tasks) | $lost5 |

		## Drill 3: the primary is cut off (its link to the bridge down)

		| | figure |
		|---|---|
		| leader before, after | $l3, ${l3b:-none} |
		| cut to the old primary refusing sessions; read-only (Patroni demotes it when it loses etcd) | $refusing s; $demoted s |
		| operations (all), after the cut | $(jq '.ops' <<<"$L3"), $(jq '.ops_after' <<<"$L3") |
		| cut to the first successful write | $rec3 s |
		| answers after the cut | \`$(jq -c '.statuses.after' <<<"$L3")\` |
		| failures by status | \`$by3\` ($n3bad not a JSON 502/503/504) |
		| link back to the new leader streaming to the old primary | $back3 s |
		| pg_rewind lines in the old primary's Patroni log | $rewound |
		| leader after the link is back | ${l3c:-none} |
		| acknowledged writes lost, checked after the link is back (ledger of $(jq '.ledger.tasks' <<<"$L3") tasks) | $lost3 |

		Patroni runs through cluster/patroni-quorum-reads.py: its etcd reads are
		linearizable, so the etcd member that returns with the old primary
		cannot hand the new primary's Patroni a stale leader key (without it,
		Patroni 3.0.2 demoted the new primary when the link returned and the
		run lost 65 acknowledged writes; doc/CLUSTER.md).

		## Drill 4: rolling restart of the app hosts (one at a time: out of rotation, SIGTERM, start, back)

		\`cluster.sh app-stop\` refuses lb's new connections to the host (an nft
		rule: TCP reset, which nginx always passes to the next host), waits for
		lb's open connections to it to close, then sends SIGTERM;
		\`app-start\` lets connections in again once it listens.

		| | figure |
		|---|---|
		| hosts restarted and serving again | $roll_ok of 3 |
		| operations (all), during the restarts | $(jq '.ops' <<<"$L4"), $(jq '.ops_after' <<<"$L4") |
		| answers during the restarts | \`$(jq -c '.statuses.after' <<<"$L4")\` |
		| failed requests, by status | $nf4 \`$by4\` |
		| acknowledged writes lost (ledger of $(jq '.ledger.tasks' <<<"$L4") tasks) | $lost4 |

		## Drill 1: an app host dies (kill -9 of app2's whole process tree under load)

		tests/cluster/smoke.sh on a cluster of its own (\`./dev test\` runs it
		with 600 operations after the kill, here 1500): one request of each
		kind, then the load, the kill, the ledger, nginx's own log of which
		host it tried, and app2 back in rotation.

		$d1

		$d1_checks
	EOF
} >"$RESULTS"
echo "# wrote $RESULTS"

finish
