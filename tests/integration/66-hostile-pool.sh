#!/usr/bin/env bash
# 66-hostile-pool.sh: what one client can do to the small blocking pool,
# and what a careless deployment exposes.
#   - password changes (an Argon2id hash each) are limited per account
#     and per address (JSON 429 + Retry-After); a deleted account's
#     token gets its 401 without a hash
#   - exports: at most 2 per account at once; readers that stop reading
#     hold no worker; an honest slow reader gets the whole export even
#     past the stuck-worker kill
#   - a database error's log line names the constraint, never the row
#     (no password hash from a "Failing row contains" DETAIL)
#   - TASKAPI_LISTEN=:port is refused; FCGI_WEB_SERVER_ADDRS refuses
#     (and logs) other TCP peers
#   - started as root, a pid file path that is a symbolic link is not
#     followed
. "$(dirname "$0")/lib.sh"

have_psql || skip_all "needs TASKAPI_PSQL from ./dev test"
[[ -n ${TASKAPI_VAR:-} && -n ${TASKAPI_BUILD:-} ]] || skip_all "needs TASKAPI_VAR and TASKAPI_BUILD from ./dev test"
command -v python3 >/dev/null || skip_all "needs python3"
BIN=${TASKAPI_BIN:-$TASKAPI_BUILD/src/taskapi}
ENVF=$TASKAPI_VAR/taskapi.env
LOG=$TASKAPI_VAR/log/taskapi.log
# The schema owner, for what the service role may not do (a CHECK).
PSQL_SU=${TASKAPI_PSQL/-U taskapi/-U postgres}
sql_su() {
	# shellcheck disable=SC2086
	$PSQL_SU -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}

# statuses FILE: "N×code" counts of a file of one code per line.
statuses() { sort "$1" | uniq -c | awk '{ printf "%s%d×%s", (NR > 1 ? " " : ""), $1, $2 }'; }

# ------------------------------------------------------------- item: password flood
make_user P || bail "cannot make a user"
# urls_cfg N URL: a curl config with URL N times, each answer discarded.
urls_cfg() {
	local i
	for ((i = 0; i < $1; i++)); do
		printf 'url = "%s"\noutput = "/dev/null"\n' "$2"
	done
}
N=30
urls_cfg "$N" "$BASE/api/v1/users/$P_ID" >"$T_DIR/pw.cfg"
t0=$(now_ms)
curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max "$N" -K "$T_DIR/pw.cfg" -X PATCH \
	-H "Authorization: Bearer $P_TOKEN" -H 'Content-Type: application/json' \
	-d '{"password":"a-new-password-1"}' \
	-w '%{http_code} %header{retry-after}\n' >"$T_DIR/pw" 2>&1
el=$(($(now_ms) - t0))
cut -d' ' -f1 "$T_DIR/pw" >"$T_DIR/pw.codes"
n429=$(grep -c '^429' "$T_DIR/pw.codes")
nok=$(grep -c '^200' "$T_DIR/pw.codes")
# Burst 10, then one per 2 s: at most 10 + 1 + el/2000 are served.
max_ok=$((11 + el / 2000))
num_cmp "$n429" -ge 1 "$N password changes at once for one account: some get 429 ($(statuses "$T_DIR/pw.codes") in $el ms)"
num_cmp "$nok" -le "$max_ok" "... and at most burst + rate were hashed ($nok of $N, limit $max_ok for $el ms)"
if grep -q '^429 [1-9]' "$T_DIR/pw"; then pass "... each 429 says Retry-After"; else
	fail "... each 429 says Retry-After" "$(head -n 5 "$T_DIR/pw")"; fi
api "$P_TOKEN" PATCH "/api/v1/users/$P_ID" '{"password":"a-new-password-2"}'
if [[ $RESP_STATUS == 429 ]]; then
	expect_error 429 "a password change over the limit is a JSON 429"
else
	# the limiter let this one through: the window moved on meanwhile
	pass "a password change after the burst is served or limited ($RESP_STATUS)"
fi

make_user G || bail "cannot make a user"
api "$G_TOKEN" DELETE "/api/v1/users/$G_ID"
is "$RESP_STATUS" 204 "deleted an account"
api "$G_TOKEN" PATCH "/api/v1/users/$G_ID" '{"password":"a-new-password-3"}'
expect_error 401 "its unexpired token's password change: 401 (the account is checked before the hash)"

# ------------------------------------------------------------- item: DETAIL in the logs
tag="check-trigger-$(uniq_suffix)"
if sql_su "ALTER TABLE users ADD CONSTRAINT taskapi_test_name_trigger CHECK (name <> '$tag') NOT VALID" 2>"$T_DIR/su.err"; then
	off=$(wc -c <"$LOG")
	register "$(uniq_email detail)" "pw-$(uniq_suffix)-secret" "$tag"
	expect_error 400 "a row the database refuses (CHECK): 400"
	sql_su "ALTER TABLE users DROP CONSTRAINT taskapi_test_name_trigger" || diag "could not drop the test constraint"
	new=$(tail -c "+$((off + 1))" "$LOG")
	if grep -q 'argon2id' <<<"$new"; then
		fail "the log has no password hash from the failing row" "$(grep 'argon2id' <<<"$new" | head -n 2 | cut -c1-400)"
	else
		pass "the log has no password hash from the failing row"
	fi
	if grep -q '23514.*taskapi_test_name_trigger' <<<"$new"; then
		pass "the log names the SQLSTATE and the constraint"
	else
		fail "the log names the SQLSTATE and the constraint" "$(grep -i 'database' <<<"$new" | head -n 3 | cut -c1-400)"
	fi
else
	fail "added a CHECK to users as the schema owner" "$(cat "$T_DIR/su.err")"
fi

# ------------------------------------------------------------- item: exports
# Three accounts with an export of about 14 MB each: more than the
# socket buffers between a worker and a reader hold.
for u in E1 E2 E3; do
	make_user "$u" || bail "cannot make a user"
	id_var=${u}_ID
	sql "INSERT INTO tasks (user_id, title, description)
	     SELECT '${!id_var}', 'export row ' || g, repeat('d', 2000)
	     FROM generate_series(1, 6000) g" >/dev/null || bail "cannot insert tasks"
done

# At most 2 exports of one account at once: the table is locked, so the
# first exports wait in the database while the others arrive.  A fixed
# pool: a worker started meanwhile would wait on the lock too (it
# prepares its statements when it connects).
pool_fixed on
rel=$T_DIR/release
{
	echo "BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE; SELECT 'locked';"
	while [[ ! -e $rel ]]; do sleep 0.05; done
	echo "COMMIT;"
} | $TASKAPI_PSQL -X -q -A -t >/dev/null 2>&1 &
locker=$!
locked() { [[ $(sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'tasks' AND l.mode = 'AccessExclusiveLock' AND l.granted") -ge 1 ]]; }
wait_until 15000 locked >/dev/null || diag "the lock was not taken"
# Four clients (curl writes its -w lines only when it exits, so one
# curl per export: each answer is seen as it comes).
exporters=()
for i in 1 2 3 4; do
	curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $E1_TOKEN" \
		"$BASE/api/v1/tasks/export" >"$T_DIR/ex.$i" 2>&1 &
	exporters+=($!)
done
two_refused() { [[ $(cat "$T_DIR"/ex.[1-4] | grep -c '^429') -ge 2 ]]; }
ms=$(wait_until 20000 two_refused) || diag "pool while waiting: $(curl -s "$BASE/status")"
touch "$rel"
wait "${exporters[@]}"
wait "$locker"
cat "$T_DIR"/ex.[1-4] >"$T_DIR/ex.codes"
is "$(grep -c '^429' "$T_DIR/ex.codes")" 2 "4 exports of one account at once: 2 refused with 429 ($(statuses "$T_DIR/ex.codes"), after ${ms} ms)"
is "$(grep -c '^200' "$T_DIR/ex.codes")" 2 "... and 2 served once the table was free"
pool_fixed off

# Six readers that take the first bytes of their export and then stop
# (two per account, 6 > the pool's 4 workers): the pool still serves,
# while all six are still connected.
cat >"$T_DIR/hog.py" <<'EOF'
import os, socket, sys, time
host, port, rel = sys.argv[1], int(sys.argv[2]), sys.argv[3]
socks = []
for tok in sys.argv[4:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
    s.settimeout(30)
    s.connect((host, port))
    s.sendall(("GET /api/v1/tasks/export HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\n\r\n" % tok).encode())
    s.recv(1024)
    socks.append(s)
print("ready", flush=True)
while not os.path.exists(rel):
    time.sleep(0.05)
alive = 0
for s in socks:
    s.setblocking(False)
    try:
        alive += s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
print("alive %d" % alive, flush=True)
EOF
rel2=$T_DIR/release2
hostport=${BASE#http://}
python3 "$T_DIR/hog.py" "${hostport%:*}" "${hostport##*:}" "$rel2" \
	"$E1_TOKEN" "$E1_TOKEN" "$E2_TOKEN" "$E2_TOKEN" "$E3_TOKEN" "$E3_TOKEN" >"$T_DIR/hog.out" 2>&1 &
hog=$!
ready() { grep -q ready "$T_DIR/hog.out"; }
wait_until 60000 ready >/dev/null || diag "hogs not ready: $(cat "$T_DIR/hog.out")"
t0=$(now_ms)
api "$P_TOKEN" GET "/api/v1/users?limit=1"
el=$(($(now_ms) - t0))
touch "$rel2"
wait "$hog"
expect_json 200 "a blocking-pool request while 6 export readers stall (answered in $el ms)"
is "$(sed -n 's/^alive //p' "$T_DIR/hog.out")" 6 "... answered while all 6 stalled readers were still connected"

# An honest slow reader gets all of it, even when that takes longer than
# the stuck-worker kill (TASKAPI_REQUEST_TIMEOUT 2 s + 5 s here).
old=$(pool_workers)
stack_set_env TASKAPI_REQUEST_TIMEOUT 2
wait_until 15000 pool_gone "$old" >/dev/null || diag "reload slow"
t0=$(now_ms)
curl -s --limit-rate 1500k -H "Authorization: Bearer $E3_TOKEN" "$BASE/api/v1/tasks/export" -o "$T_DIR/export.ndjson"
el=$(($(now_ms) - t0))
old=$(pool_workers)
stack_set_env TASKAPI_REQUEST_TIMEOUT ""
wait_until 15000 pool_gone "$old" >/dev/null || diag "reload back slow"
lines=$(wc -l <"$T_DIR/export.ndjson")
is "$lines" 6000 "a slow reader got the whole export ($lines of 6000 rows in $el ms)"

# ------------------------------------------------------------- item: listen address, allow-list
if [[ -x $BIN ]]; then
	grep -v -E '^(TASKAPI_EV_LISTEN|TASKAPI_EV_WORKERS|TASKAPI_WORKERS|TASKAPI_SPARE_WORKERS|TASKAPI_PID_FILE)=' "$ENVF" >"$T_DIR/alone.env"
	printf 'TASKAPI_EV_WORKERS=0\nTASKAPI_WORKERS=1\nTASKAPI_SPARE_WORKERS=1\n' >>"$T_DIR/alone.env"
	timeout 5 "$BIN" --env-file "$T_DIR/alone.env" --listen ":0" serve >"$T_DIR/any.log" 2>&1
	rc=$?
	if [[ $rc -ne 0 && $rc -ne 124 ]] && grep -q 'names no host' "$T_DIR/any.log"; then
		pass "TASKAPI_LISTEN=:port (every interface by omission) is refused"
	else
		fail "TASKAPI_LISTEN=:port (every interface by omission) is refused" "exit $rc: $(head -c 400 "$T_DIR/any.log")"
	fi

	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	FCGI_WEB_SERVER_ADDRS=192.0.2.1 "$BIN" --env-file "$T_DIR/alone.env" --listen "127.0.0.1:$port" serve >"$T_DIR/allow.log" 2>&1 &
	alone=$!
	cat >"$T_DIR/probe.py" <<'EOF'
import socket, struct, sys
def rec(t, rid, c=b""):
    return struct.pack(">BBHHBx", 1, t, rid, len(c), 0) + c
def nv(k, v):
    return bytes([len(k), len(v)]) + k + v
p = nv(b"REQUEST_METHOD", b"GET") + nv(b"REQUEST_URI", b"/health")
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(rec(1, 1, struct.pack(">HB5x", 1, 0)) + rec(4, 1, p) + rec(4, 1) + rec(5, 1))
data = b""
try:
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
except OSError:
    pass
print("answered" if b"Status" in data or b"status" in data else "no answer")
EOF
	up() { grep -q 'master started' "$T_DIR/allow.log"; }
	wait_until 15000 up >/dev/null || diag "standalone pool did not start: $(head -c 300 "$T_DIR/allow.log")"
	is "$(python3 "$T_DIR/probe.py" "$port")" "no answer" "a TCP peer not in FCGI_WEB_SERVER_ADDRS gets no answer"
	logged() { grep -q 'refused a FastCGI connection from 127.0.0.1' "$T_DIR/allow.log"; }
	if wait_until 5000 logged >/dev/null; then pass "... and the refusal is logged"; else
		fail "... and the refusal is logged" "$(tail -n 5 "$T_DIR/allow.log" | cut -c1-300)"; fi
	kill -TERM "$alone" 2>/dev/null
	wait "$alone" 2>/dev/null
	FCGI_WEB_SERVER_ADDRS=192.0.2.1,127.0.0.1 "$BIN" --env-file "$T_DIR/alone.env" --listen "127.0.0.1:$port" serve >"$T_DIR/allow2.log" 2>&1 &
	alone=$!
	up2() { grep -q 'master started' "$T_DIR/allow2.log"; }
	wait_until 15000 up2 >/dev/null || diag "standalone pool did not start again"
	is "$(python3 "$T_DIR/probe.py" "$port")" "answered" "a TCP peer in FCGI_WEB_SERVER_ADDRS is served"
	kill -TERM "$alone" 2>/dev/null
	wait "$alone" 2>/dev/null

	# ------------------------------------------------------------- item: pid file symlink
	if [[ $(id -u) -eq 0 ]]; then
		echo keep >"$T_DIR/victim"
		ln -s "$T_DIR/victim" "$T_DIR/pid.link"
		printf 'TASKAPI_PID_FILE=%s\n' "$T_DIR/pid.link" >>"$T_DIR/alone.env"
		timeout 5 "$BIN" --env-file "$T_DIR/alone.env" --listen "127.0.0.1:$port" serve >"$T_DIR/pid.log" 2>&1
		rc=$?
		is "$(cat "$T_DIR/victim")" keep "as root, a pid file that is a symbolic link is not followed (exit $rc)"
		num_cmp "$rc" -ne 124 "... and the start is refused, not served on"
	else
		skip "pid file symbolic link" "needs root"
	fi
else
	fail "the taskapi binary is at $BIN"
fi

done_testing
