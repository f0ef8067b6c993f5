#!/usr/bin/env bash
# 77-ev-reload.sh: reloads under a load of creates fail no request.
#
# SIGHUP replaces the event worker.  The old one stops accepting, serves
# what nginx sends on its kept connections, and closes each only when it
# is idle between requests; nginx does not retry a POST it has sent, so
# a close while nginx writes a request into a kept connection would be a
# 502.  One python process keeps $CLIENTS keep-alive clients creating
# tasks through nginx while the pool is reloaded $RELOADS times; every
# create must be answered 201, and the database must hold exactly the
# tasks acknowledged.
# TASKAPI_FAULT_ROUNDS: reloads (4 here).
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip_all "needs python3"
have_psql || skip_all "needs TASKAPI_PSQL from ./dev test"
RELOADS=$(( ${TASKAPI_FAULT_ROUNDS:-4} > 20 ? 20 : ${TASKAPI_FAULT_ROUNDS:-4} ))
CLIENTS=16

make_user R || bail "cannot register a user"
stop=$T_DIR/stop
out=$T_DIR/load.json
python3 - "$BASE" "$R_TOKEN" "$CLIENTS" "$stop" >"$out" 2>"$T_DIR/load.err" <<'PY' &
import http.client, json, os, sys, threading, time, urllib.parse
base, token, n, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
u = urllib.parse.urlparse(base)
counts, lock, seq = {}, threading.Lock(), [0]
def client(k):
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    while not os.path.exists(stop):
        with lock:
            seq[0] += 1
            i = seq[0]
        body = json.dumps({"title": "reload-%d" % i})
        try:
            conn.request("POST", "/api/v1/tasks", body, {
                "Authorization": "Bearer " + token,
                "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            st = str(r.status)
        except Exception as e:
            st = "error:" + type(e).__name__
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        with lock:
            counts[st] = counts.get(st, 0) + 1
threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
t0 = time.monotonic()
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"counts": counts, "seconds": round(time.monotonic() - t0, 1)}))
PY
load=$!

answered() { sql "select count(*) from tasks where user_id = '$R_ID'" | awk '{ exit !($1 >= 50) }'; }
wait_until 30000 answered >/dev/null || diag "the load is slow to start"
done_reloads=0
for ((r = 1; r <= RELOADS; r++)); do
	old=$(pool_workers)
	kill -HUP "$(pool_master)"
	if ms=$(wait_until 30000 pool_gone "$old"); then
		done_reloads=$((done_reloads + 1))
		diag "reload $r: pool replaced in $ms ms"
	else
		diag "reload $r: pool not replaced within $ms ms"
	fi
done
touch "$stop"
wait "$load"
is "$done_reloads" "$RELOADS" "the pool was replaced $RELOADS times under load"

counts=$(jq -c .counts "$out")
ok=$(jq '.counts["201"] // 0' "$out")
total=$(jq '[.counts[]] | add // 0' "$out")
num_cmp "$ok" -gt 0 "creates went through during the reloads ($counts in $(jq .seconds "$out") s)"
is "$((total - ok))" 0 "every create during $RELOADS reloads answered 201 (statuses: $counts)"
[[ -s $T_DIR/load.err ]] && diag "client: $(head -c 300 "$T_DIR/load.err")"
is "$(sql "select count(*) from tasks where user_id = '$R_ID'")" "$ok" \
	"the database holds exactly the $ok tasks acknowledged"
done_testing
