#!/usr/bin/env bash
# bench/cluster-cpu.sh: CPU per request of each tier of the cluster
# (./dev cluster up), per endpoint, and the app tier with 1 and 2 hosts.
#
# Every tier runs in network namespaces of its own (cluster/cluster.sh), so
# `ip netns pids` names exactly its processes: the CPU time (utime + stime
# from /proc/PID/stat) of lb (nginx), app1..3 (taskapi), the leader's
# PostgreSQL, the standbys' PostgreSQL, and Patroni + etcd, read before
# and after the middle of a wrk run through lb and divided by the requests
# served meanwhile.  Other work on the machine does not enter these
# figures (it does enter the requests per second, which are printed only
# as context).
#
#   ./dev cluster up
#   bench/cluster-cpu.sh [SECONDS]          # default 8 a run
#
# Part 1, per endpoint: wrk -t1 -c16 with the bench's Lua scripts, all
# three app hosts in rotation.  Part 2, the same run of GET
# /api/v1/tasks/{id} with 1, then 2 app hosts in rotation (the others
# fenced off: cluster.sh's app_fence, as in a rolling restart), the
# database hosts pinned to CPU 1 and lb, the app hosts and wrk to CPU 0
# (taskset), so the app tier has one core and the database the other.
# Prints Markdown tables (doc/SCALING.md quotes them).
set -eu
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$ROOT/bench
B=http://127.0.0.1:8090
secs=${1:-8}
[ "$secs" -ge 4 ] || { echo "SECONDS must be 4 or more" >&2; exit 2; }
ip netns list | grep -q '^tcl-lb' || { echo "no cluster: ./dev cluster up first" >&2; exit 1; }
CLUSTER=(bash "$ROOT/cluster/cluster.sh")
tmp=$(mktemp -d)
restore() {
	local h
	for h in app1 app2 app3; do "${CLUSTER[@]}" fence "$h" off 2>/dev/null || true; done
	pin_all 0-1 2>/dev/null || true
	rm -rf "$tmp"
}
trap restore EXIT

# --- a bench user with 200 tasks (one python3 process) --------------------------
export BENCH_DATA=$tmp/data BENCH_LUA_DIR=$BENCH_DIR
mkdir -p "$BENCH_DATA"
python3 - "$B" "$BENCH_DATA" <<-'EOF'
	import http.client, json, sys, time, urllib.parse
	u = urllib.parse.urlsplit(sys.argv[1]); d = sys.argv[2]
	c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
	def req(m, p, body=None, tok=None):
	    h = {"Content-Type": "application/json"}
	    if tok: h["Authorization"] = "Bearer " + tok
	    c.request(m, p, json.dumps(body) if body is not None else None, h)
	    r = c.getresponse(); return r.status, json.loads(r.read() or b"null")
	email = "bench-%d@example.org" % int(time.time() * 1000)
	st, _ = req("POST", "/api/v1/auth/register", {"email": email, "name": "bench", "password": "bench-password"})
	assert st == 201, st
	st, doc = req("POST", "/api/v1/auth/login", {"email": email, "password": "bench-password"})
	assert st == 200, st
	tok = doc["token"]
	ids = []
	for i in range(200):
	    st, doc = req("POST", "/api/v1/tasks", {"title": "bench %d" % i}, tok)
	    assert st == 201, st
	    ids.append(doc["id"])
	open(d + "/token", "w").write(tok + "\n")
	open(d + "/ids", "w").write("\n".join(ids) + "\n")
EOF

leader=$("${CLUSTER[@]}" leader)
# tier HOST PID: which column a process's CPU goes to.
tier() {
	local h=$1 comm
	comm=$(cat "/proc/$2/comm" 2>/dev/null) || return 1
	case $h in
	lb) echo nginx ;;
	app*) echo taskapi ;;
	db*)
		case $comm in
		postgres) [ "$h" = "$leader" ] && echo pg_primary || echo pg_standbys ;;
		*) echo patroni_etcd ;;
		esac ;;
	esac
}
# snap: CPU ticks per tier, summed over the tier's processes.
snap() {
	local h pid t
	for h in lb app1 app2 app3 db1 db2 db3; do
		for pid in $(ip netns pids "tcl-$h" 2>/dev/null); do
			t=$(tier "$h" "$pid") || continue
			awk -v t="$t" '{ print t, $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || true
		done
	done | awk '{ a[$1] += $2 } END { for (k in a) print k, a[k] }' | sort
}
# pin_all CPUS [HOSTS...]: every thread of every process of those hosts.
pin_all() {
	local cpus=$1 h pid
	shift
	[ $# -gt 0 ] || set -- lb app1 app2 app3 db1 db2 db3
	for h in "$@"; do
		for pid in $(ip netns pids "tcl-$h" 2>/dev/null); do
			taskset -a -p -c "$cpus" "$pid" >/dev/null 2>&1 || true
		done
	done
}

TIERS=(nginx taskapi pg_primary pg_standbys patroni_etcd)
# run LABEL SCRIPT PATH [TASKSET-CPUS]: one wrk run; prints a table row.
run() {
	local label=$1 script=$2 path=$3 cpus=${4:-} rps hz w
	local pre=()
	[ -n "$cpus" ] && pre=(taskset -c "$cpus")
	"${pre[@]}" wrk -t1 -c16 -d"${secs}s" -s "$BENCH_DIR/$script" "$B$path" >"$tmp/wrk" 2>&1 &
	w=$!
	sleep 1
	snap >"$tmp/s1"
	local t0 t1
	t0=$(date +%s.%N)
	sleep $((secs - 2))
	snap >"$tmp/s2"
	t1=$(date +%s.%N)
	wait "$w"
	rps=$(sed -n 's/^Requests\/sec: *//p' "$tmp/wrk")
	[ -n "$rps" ] || { cat "$tmp/wrk" >&2; return 1; }
	hz=$(getconf CLK_TCK)
	join -a 1 <(printf '%s\n' "${TIERS[@]}" | sort) <(join "$tmp/s1" "$tmp/s2") |
		awk -v rps="$rps" -v t0="$t0" -v t1="$t1" -v hz="$hz" -v label="$label" \
			-v non2xx="$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$tmp/wrk" | grep . || echo 0)" '
			{ us[$1] = (NF == 3 ? ($3 - $2) * 1e6 / hz / ((t1 - t0) * rps) : 0) }
			END {
				tot = us["nginx"] + us["taskapi"] + us["pg_primary"] + us["pg_standbys"]
				printf "| %s | %.0f | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", label, rps, non2xx,
					us["nginx"], us["taskapi"], us["pg_primary"], us["pg_standbys"],
					us["patroni_etcd"], tot
			}'
}

header() {
	echo "| $1 | req/s | non-2xx | nginx | taskapi | PostgreSQL primary | PostgreSQL standbys | Patroni + etcd | total (without Patroni + etcd) |"
	echo "|---|---|---|---|---|---|---|---|---|"
}

echo "## CPU µs per request, by tier (wrk -t1 -c16, ${secs} s a run, three app hosts; leader $leader)"
echo
header endpoint
run "GET /health" health.lua /health
run "GET /api/v1/tasks/{id}" task_get.lua /api/v1/tasks
run "GET /api/v1/tasks?limit=20" tasks_list.lua /api/v1/tasks
run "POST /api/v1/tasks" task_create.lua /api/v1/tasks
run "PATCH /api/v1/tasks/{id}" task_patch.lua /api/v1/tasks
echo

echo "## 1 vs 2 app hosts: app tier, lb and wrk on CPU 0, database hosts on CPU 1"
echo
pin_all 1 db1 db2 db3
pin_all 0 lb app1 app2 app3
header "app hosts in rotation"
"${CLUSTER[@]}" fence app2 on
"${CLUSTER[@]}" fence app3 on
sleep 6	# nginx's kept connections to them go idle and close (5 s)
run "1 (app1): GET /api/v1/tasks/{id}" task_get.lua /api/v1/tasks 0
run "1 (app1): POST /api/v1/tasks" task_create.lua /api/v1/tasks 0
"${CLUSTER[@]}" fence app2 off
sleep 6	# nginx tries app2 again after fail_timeout (5 s)
run "2 (app1, app2): GET /api/v1/tasks/{id}" task_get.lua /api/v1/tasks 0
run "2 (app1, app2): POST /api/v1/tasks" task_create.lua /api/v1/tasks 0
