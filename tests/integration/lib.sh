# tests/integration/lib.sh: helpers shared by the black-box integration
# tests.  Sourced (never run) by each NN-name.sh; bash with `set -u`.
#
# The tests talk to a running stack only through HTTP (and, where the
# contract is about storage, through psql).  ./dev test starts the stack
# and exports:
#   TASKAPI_BASE_URL    e.g. http://127.0.0.1:8080 (nginx in front of the pool)
#   TASKAPI_JWT_SECRET  the HS256 secret, so tests can forge tokens
#   TASKAPI_PSQL        a psql command line prefix for the app database
# Without TASKAPI_BASE_URL, or when /health does not answer at all, the
# file prints "1..0 # SKIP stack not running" and exits 0.
#
# Output is TAP: one line per assertion, the plan ("1..N") printed last
# by done_testing.  A missing plan (the script died) or "Bail out!" is an
# error for the TAP driver; failed assertions are "not ok" lines.

set -u

# ---------------------------------------------------------------- TAP

T_START_MS=$(date +%s%3N)	# when the script began
T_N=0		# assertions so far
T_FAILED=0	# of which failed

# diag MSG...: a TAP comment line per line of MSG.
diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

# tap_desc DESC: DESC on one line, with "#" escaped (TAP would read
# "# SKIP"/"# TODO" in a description as a directive).
tap_desc() {
	local d=${1//$'\n'/ }
	printf '%s' "${d//#/\\#}"
}

# pass DESC / fail DESC [DIAG]: one TAP line.
pass() {
	T_N=$((T_N + 1))
	printf 'ok %d - %s\n' "$T_N" "$(tap_desc "$1")"
}

# Each failure also says when it happened and how busy the machine was
# (run queue, load average, CPUs), so a slow machine can be told from a
# defect.
fail() {
	T_N=$((T_N + 1))
	T_FAILED=$((T_FAILED + 1))
	printf 'not ok %d - %s\n' "$T_N" "$(tap_desc "$1")"
	if [[ $# -gt 1 && -n $2 ]]; then
		diag "$2"
	fi
	diag "$(printf 'at %d ms into %s; load average %s; %s CPUs' \
	    $(($(date +%s%3N) - T_START_MS)) "${0##*/}" \
	    "$(cut -d' ' -f1-4 /proc/loadavg 2>/dev/null)" "$(nproc 2>/dev/null)")"
}

# skip DESC REASON: an assertion that could not run (counted as skipped).
skip() {
	T_N=$((T_N + 1))
	printf 'ok %d - %s # SKIP %s\n' "$T_N" "$(tap_desc "$1")" "$2"
}

# done_testing: prints the plan and exits 0.  The "not ok" lines are the
# verdict (automake's tap-driver counts them); a non-zero exit would add
# a second, misleading "ERROR: exited with status 1" for the same failures.
# Standalone runs read the last "#" line.
done_testing() {
	if [[ $T_RETRIES_429 -gt 0 ]]; then
		diag "$T_RETRIES_429 requests were retried after a 429 (rate limit)"
	fi
	printf '1..%d\n' "$T_N"
	if [[ $T_FAILED -gt 0 ]]; then
		diag "FAILED $T_FAILED of $T_N assertions"
	fi
	exit 0
}

# skip_all REASON: the whole file is skipped.
skip_all() {
	printf '1..0 # SKIP %s\n' "$1"
	exit 0
}

# bail REASON: setup failed, nothing after this can mean anything.
bail() {
	printf 'Bail out! %s\n' "$1"
	exit 1
}

# ok_cmd DESC CMD...: passes when CMD exits 0.
ok_cmd() {
	local desc=$1
	shift
	if "$@" >/dev/null 2>&1; then
		pass "$desc"
	else
		fail "$desc" "command failed: $*"
	fi
}

# is GOT WANT DESC
is() {
	if [[ $1 == "$2" ]]; then
		pass "$3"
	else
		fail "$3" "$(printf 'got:  %.300s\nwant: %.300s' "$1" "$2")"
	fi
}

# isnt GOT UNWANTED DESC
isnt() {
	if [[ $1 != "$2" ]]; then
		pass "$3"
	else
		fail "$3" "$(printf 'got the unwanted value: %.300s' "$1")"
	fi
}

# like GOT ERE DESC
like() {
	if [[ $1 =~ $2 ]]; then
		pass "$3"
	else
		fail "$3" "$(printf 'got:  %.300s\nwant match: %s' "$1" "$2")"
	fi
}

# num_cmp A OP B DESC: integer comparison, OP one of -eq -ne -lt -le -gt -ge.
num_cmp() {
	if [[ $1 =~ ^-?[0-9]+$ && $3 =~ ^-?[0-9]+$ ]] && test "$1" "$2" "$3"; then
		pass "$4"
	else
		fail "$4" "want: $1 $2 $3"
	fi
}

# ---------------------------------------------------------------- environment

T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/taskapi-it.XXXXXX") || bail "mktemp -d failed"

# t_cleanup: releases the locks this test still holds (lock_hold), stops
# this shell's own background jobs still running (never anything else),
# then removes the scratch directory.
declare -A T_LOCK_PIDS=()
t_cleanup() {
	local pids
	if [[ ${#T_LOCK_PIDS[@]} -gt 0 && -n ${TASKAPI_PSQL:-} ]]; then
		sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
		    WHERE application_name LIKE 'taskapi-it-lock-$$-%'" >/dev/null 2>&1
	fi
	pids=$(jobs -pr)
	if [[ -n $pids ]]; then
		# shellcheck disable=SC2086
		kill $pids 2>/dev/null
		wait 2>/dev/null
	fi
	rm -rf -- "$T_DIR"
}
trap t_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T_HDR=$T_DIR/resp.headers
T_BODY=$T_DIR/resp.body
T_ERR=$T_DIR/curl.stderr
T_REQ=$T_DIR/req.body
: >"$T_HDR"
: >"$T_BODY"
RESP_STATUS=000
RESP_BODY=""
RESP_CURL_RC=0

for t_tool in curl jq; do
	command -v "$t_tool" >/dev/null 2>&1 || skip_all "$t_tool not installed"
done
unset t_tool

[[ -n ${TASKAPI_BASE_URL:-} ]] || skip_all "stack not running (TASKAPI_BASE_URL unset)"
BASE=${TASKAPI_BASE_URL%/}

t_health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/health" 2>/dev/null)
[[ $t_health != 000 && -n $t_health ]] || skip_all "stack not running (no answer from $BASE/health)"
unset t_health

RE_UUID='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
RE_TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$'
RE_REQID='^[A-Za-z0-9._-]{1,64}$'
# The same, for jq's test() (PCRE-ish, no POSIX classes needed).
JQ_UUID='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
JQ_TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{6}Z$'
USER_KEYS='["created_at","email","id","name","updated_at"]'
TASK_KEYS='["created_at","description","due_at","id","priority","status","title","updated_at","user_id"]'

# ---------------------------------------------------------------- HTTP

# req METHOD PATH [CURL-ARGS...]
# Sends one request to $BASE$PATH and sets:
#   RESP_STATUS   three digits ("000" when no HTTP answer came)
#   RESP_BODY     the body (trailing newlines stripped; the exact bytes
#                 are in $T_BODY, the headers in $T_HDR)
#   RESP_CURL_RC  curl's exit status
# URL globbing is off (-g), so ids with braces or brackets go out as is.
# nginx rate-limits /api/v1/auth/ per client address (429); that is not
# what these tests are about, so a 429 is retried after a short pause.
T_RETRIES_429=0
req() {
	local method=$1 path=$2 try
	shift 2
	for ((try = 0; try < 40; try++)); do
		: >"$T_HDR"
		: >"$T_BODY"
		RESP_STATUS=$(curl -sS -g --path-as-is --max-time 60 -X "$method" \
		    -H 'Expect:' -o "$T_BODY" -D "$T_HDR" -w '%{http_code}' \
		    "$@" "$BASE$path" 2>"$T_ERR")
		RESP_CURL_RC=$?
		[[ $RESP_STATUS == 429 ]] || break
		T_RETRIES_429=$((T_RETRIES_429 + 1))
		sleep 0.25
	done
	[[ -n $RESP_STATUS ]] || RESP_STATUS=000
	RESP_BODY=$(cat -- "$T_BODY")
}

# curl_code CURL-ARGS...: for background clients: prints only the status
# code of one request (retrying a 429 like req does).
curl_code() {
	local code try
	for ((try = 0; try < 40; try++)); do
		code=$(curl -s -g -o /dev/null -w '%{http_code}' --max-time 60 -H 'Expect:' "$@")
		[[ $code == 429 ]] || break
		sleep 0.25
	done
	printf '%s\n' "${code:-000}"
}

# api TOKEN METHOD PATH [JSON-BODY]
# A request as a client would make it: Authorization when TOKEN is not
# empty, and the body (exact bytes of the argument) sent as
# application/json.  Sets the same variables as req.
api() {
	local tok=$1 method=$2 path=$3
	shift 3
	local args=()
	if [[ -n $tok ]]; then
		args+=(-H "Authorization: Bearer $tok")
	fi
	if [[ $# -gt 0 ]]; then
		printf '%s' "$1" >"$T_REQ"
		args+=(-H 'Content-Type: application/json' --data-binary "@$T_REQ")
	fi
	req "$method" "$path" "${args[@]}"
}

# api_file TOKEN METHOD PATH FILE [CONTENT-TYPE]: body from FILE, raw bytes.
api_file() {
	local tok=$1 method=$2 path=$3 file=$4 ctype=${5-application/json}
	local args=()
	if [[ -n $tok ]]; then
		args+=(-H "Authorization: Bearer $tok")
	fi
	args+=(-H "Content-Type: $ctype" --data-binary "@$file")
	req "$method" "$path" "${args[@]}"
}

# header NAME: value of response header NAME (case-insensitive, last one
# of the final response), without the CR; empty when absent.
header() {
	awk -v want="$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" '
	    { sub(/\r$/, "") }
	    /^HTTP\// { v = ""; found = 0; next }
	    {
		i = index($0, ":")
		if (i == 0)
			next
		k = tolower(substr($0, 1, i - 1))
		if (k == want) {
			v = substr($0, i + 1)
			sub(/^[ \t]+/, "", v)
			sub(/[ \t]+$/, "", v)
		}
	    }
	    END { printf "%s", v }' "$T_HDR"
}

# has_header NAME: exit 0 when the last response carried header NAME.
has_header() {
	awk -v want="$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" '
	    /^HTTP\// { found = 0; next }
	    { i = index($0, ":"); if (i > 0 && tolower(substr($0, 1, i - 1)) == want) found = 1 }
	    END { exit !found }' "$T_HDR"
}

# resp_summary: what came back, for diagnostics.
resp_summary() {
	printf 'status %s (curl rc %s)\n' "$RESP_STATUS" "$RESP_CURL_RC"
	printf 'content-type: %s\n' "$(header Content-Type)"
	printf 'body: %.400s' "$RESP_BODY"
	if [[ -s $T_ERR ]]; then
		printf '\ncurl: %.200s' "$(cat -- "$T_ERR")"
	fi
}

# ---------------------------------------------------------------- assertions on the last response

# expect_status CODE DESC: the status only.
expect_status() {
	if [[ $RESP_STATUS == "$1" ]]; then
		pass "$2"
	else
		fail "$2" "want status $1; $(resp_summary)"
	fi
}

# is_json_ctype: Content-Type starts with application/json.
is_json_ctype() {
	local ct
	ct=$(header Content-Type | tr '[:upper:]' '[:lower:]')
	[[ $ct == application/json* ]]
}

# is_error_body: exactly {"error": "<non-empty string>"}, and the message
# shows no internals (SQL, SQLSTATE, libpq, source file names).
is_error_body() {
	jq -e 'type == "object" and (keys == ["error"]) and (.error | type == "string")
	    and (.error | length > 0)
	    and (.error | test("SQLSTATE|violates .*constraint|relation \"|PQ[a-z]+|[a-z_]+\\.c:[0-9]+|<html") | not)' \
	    "$T_BODY" >/dev/null 2>&1
}

# expect_error CODE DESC: status CODE, a JSON content type and an error
# body {"error": "..."}, checked as one assertion.
expect_error() {
	local why=""
	[[ $RESP_STATUS == "$1" ]] || why="want status $1. "
	is_json_ctype || why+="Content-Type is not application/json. "
	is_error_body || why+="body is not {\"error\": \"...\"}. "
	if [[ -z $why ]]; then
		pass "$2"
	else
		fail "$2" "$why$(resp_summary)"
	fi
}

# expect_json CODE DESC: status CODE, JSON content type, body parses.
expect_json() {
	local why=""
	[[ $RESP_STATUS == "$1" ]] || why="want status $1. "
	is_json_ctype || why+="Content-Type is not application/json. "
	jq -e . "$T_BODY" >/dev/null 2>&1 || why+="body is not JSON. "
	if [[ -z $why ]]; then
		pass "$2"
	else
		fail "$2" "$why$(resp_summary)"
	fi
}

# expect_401 DESC: 401, JSON error body and WWW-Authenticate: Bearer...
expect_401() {
	local why="" wa
	wa=$(header WWW-Authenticate)
	[[ $RESP_STATUS == 401 ]] || why="want status 401. "
	is_json_ctype || why+="Content-Type is not application/json. "
	is_error_body || why+="body is not {\"error\": \"...\"}. "
	[[ $wa == Bearer* ]] || why+="WWW-Authenticate is '$wa', want Bearer... "
	if [[ -z $why ]]; then
		pass "$1"
	else
		fail "$1" "$why$(resp_summary)"
	fi
}

# json_ok JQ-EXPR DESC [JQ-ARGS...]: jq -e EXPR on the last body is true.
json_ok() {
	local expr=$1 desc=$2
	shift 2
	if jq -e "$@" "$expr" "$T_BODY" >/dev/null 2>&1; then
		pass "$desc"
	else
		fail "$desc" "jq -e '$expr' is false; $(resp_summary)"
	fi
}

# ndjson_ok JQ-EXPR DESC: jq -e EXPR on the last body slurped into an array
# (for NDJSON bodies: one JSON value a line).
ndjson_ok() {
	json_ok "$1" "$2" -s
}

# json_is JQ-FILTER WANT DESC: jq -r FILTER on the last body equals WANT.
json_is() {
	local got
	got=$(jq -r "$1" "$T_BODY" 2>&1)
	if [[ $got == "$2" ]]; then
		pass "$3"
	else
		fail "$3" "$(printf 'jq %s\ngot:  %.300s\nwant: %.300s' "$1" "$got" "$2")"$'\n'"$(resp_summary)"
	fi
}

# header_like NAME ERE DESC
header_like() {
	local v
	v=$(header "$1")
	if [[ $v =~ $2 ]]; then
		pass "$3"
	else
		fail "$3" "$(printf '%s: %s (want match %s)' "$1" "$v" "$2")"
	fi
}

# allow_has METHOD...: the Allow header lists every METHOD.
allow_has() {
	local allow m
	allow=",$(header Allow | tr -d ' ' | tr '[:lower:]' '[:upper:]'),"
	for m in "$@"; do
		[[ $allow == *",$m,"* ]] || return 1
	done
	return 0
}

# jbody: jq -r FILTER on the last body, for capturing values.
jbody() {
	jq -r "$1" "$T_BODY" 2>/dev/null
}

# ---------------------------------------------------------------- data helpers

T_SEQ=0

# uniq_suffix: unique across processes and calls.
uniq_suffix() {
	T_SEQ=$((T_SEQ + 1))
	printf '%s-%s-%s%s' "$$" "$T_SEQ" "$RANDOM" "$RANDOM"
}

# uniq_email [TAG]
uniq_email() {
	printf 'it-%s-%s@example.test' "${1:-u}" "$(uniq_suffix)"
}

# random_uuid: a fresh lower-case UUID v4.
random_uuid() {
	if [[ -r /proc/sys/kernel/random/uuid ]]; then
		tr '[:upper:]' '[:lower:]' </proc/sys/kernel/random/uuid
	else
		python3 -c 'import uuid; print(uuid.uuid4())'
	fi
}

# repeat STR N: STR repeated N times.
repeat() {
	local out="" i
	for ((i = 0; i < $2; i++)); do
		out+=$1
	done
	printf '%s' "$out"
}

# register EMAIL PASSWORD NAME: POST /api/v1/auth/register.
register() {
	api "" POST /api/v1/auth/register "$(jq -cn --arg e "$1" --arg p "$2" \
	    --arg n "$3" '{email: $e, password: $p, name: $n}')"
}

# login EMAIL PASSWORD: POST /api/v1/auth/login.
login() {
	api "" POST /api/v1/auth/login "$(jq -cn --arg e "$1" --arg p "$2" \
	    '{email: $e, password: $p}')"
}

# make_user PREFIX [NAME]: registers a fresh user and logs in.  Sets
# ${PREFIX}_ID, ${PREFIX}_EMAIL, ${PREFIX}_PW, ${PREFIX}_NAME and
# ${PREFIX}_TOKEN.  Returns 1 (with a diagnostic) on failure.
make_user() {
	local p=$1 name=${2:-"Test User $1"} email pw id tok
	email=$(uniq_email "$(printf '%s' "$p" | tr '[:upper:]_' '[:lower:]-')")
	pw="pw-$(uniq_suffix)-secret"
	register "$email" "$pw" "$name"
	if [[ $RESP_STATUS != 201 ]]; then
		diag "register $email failed: $(resp_summary)"
		return 1
	fi
	id=$(jbody .id)
	login "$email" "$pw"
	tok=$(jbody .token)
	if [[ $RESP_STATUS != 200 || -z $tok || $tok == null ]]; then
		diag "login $email failed: $(resp_summary)"
		return 1
	fi
	printf -v "${p}_ID" '%s' "$id"
	printf -v "${p}_EMAIL" '%s' "$email"
	printf -v "${p}_PW" '%s' "$pw"
	printf -v "${p}_NAME" '%s' "$name"
	printf -v "${p}_TOKEN" '%s' "$tok"
	return 0
}

# create_task TOKEN JSON: POST /api/v1/tasks; on 201 sets TASK_ID.
create_task() {
	TASK_ID=""
	api "$1" POST /api/v1/tasks "$2"
	if [[ $RESP_STATUS == 201 ]]; then
		TASK_ID=$(jbody .id)
		return 0
	fi
	return 1
}

# create_titled TOKEN TITLE [EXTRA-JQ-OBJECT]: a task with that title.
create_titled() {
	local extra=${3:-'{}'}
	create_task "$1" "$(jq -cn --arg t "$2" "{title: \$t} + $extra")"
}

# ---------------------------------------------------------------- time

# now_ms: milliseconds since the epoch.
now_ms() { date +%s%3N; }

# wait_until TIMEOUT-MS CMD...: polls CMD every 50 ms; prints the elapsed ms.
wait_until() {
	local limit=$1 t0 t
	shift
	t0=$(now_ms)
	while :; do
		if "$@"; then
			printf '%d\n' $(($(now_ms) - t0))
			return 0
		fi
		t=$(now_ms)
		((t - t0 > limit)) && { printf '%d\n' $((t - t0)); return 1; }
		sleep 0.05
	done
}

# uptime_ms: ms since boot, the clock of proc_start_ms.
uptime_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

# proc_start_ms PID: when PID was started (forked), in ms since boot, from
# /proc/PID/stat (10 ms steps).  With uptime_ms taken before an event,
# "how soon did the master start a process" is measured on the master's
# side, not by how fast a polling loop notices it.
proc_start_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%d\n", $20 * 1000 / hz }' \
	    "/proc/$1/stat" 2>/dev/null
}

# ---------------------------------------------------------------- database

# have_psql: TASKAPI_PSQL is set and answers.
T_PSQL_OK=""
have_psql() {
	if [[ -z $T_PSQL_OK ]]; then
		T_PSQL_OK=no
		if [[ -n ${TASKAPI_PSQL:-} ]] && sql 'select 1' >/dev/null 2>&1; then
			T_PSQL_OK=yes
		fi
	fi
	[[ $T_PSQL_OK == yes ]]
}

# sql QUERY: runs QUERY with $TASKAPI_PSQL (word-split on purpose),
# unaligned tuples only, stops on error.
sql() {
	# shellcheck disable=SC2086
	$TASKAPI_PSQL -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}

# ---------------------------------------------------------------- JWT

# b64url: base64url without padding of stdin.
b64url() {
	base64 -w0 | tr '+/' '-_' | tr -d '='
}

# jwt_make HEADER-JSON PAYLOAD-JSON KEY ALG: a compact JWS.  ALG picks
# the signature: HS256, HS512 (HMAC with KEY), none (empty signature).
# The header is taken as given, so it can lie about the algorithm.
jwt_make() {
	local h=$1 p=$2 key=$3 alg=$4
	if command -v python3 >/dev/null 2>&1; then
		JWT_KEY=$key python3 - "$h" "$p" "$alg" <<-'EOF'
			import base64, hashlib, hmac, os, sys
			def b64(b):
			    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
			h, p, alg = sys.argv[1:4]
			key = os.environ["JWT_KEY"].encode()
			msg = b64(h.encode()) + "." + b64(p.encode())
			if alg == "none":
			    sig = ""
			else:
			    dig = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
			    sig = b64(hmac.new(key, msg.encode(), dig).digest())
			print(msg + "." + sig)
		EOF
		return
	fi
	local msg sig=""
	msg="$(printf '%s' "$h" | b64url).$(printf '%s' "$p" | b64url)"
	case $alg in
	HS256) sig=$(printf '%s' "$msg" | openssl dgst -sha256 -mac HMAC \
	    -macopt "key:$key" -binary | b64url) ;;
	HS512) sig=$(printf '%s' "$msg" | openssl dgst -sha512 -mac HMAC \
	    -macopt "key:$key" -binary | b64url) ;;
	esac
	printf '%s.%s\n' "$msg" "$sig"
}

JWT_HS256_HEADER='{"alg":"HS256","typ":"JWT"}'

# jwt_for SUB [EXP-OFFSET-SECONDS]: a token the server should accept
# (signed with TASKAPI_JWT_SECRET).
jwt_for() {
	local now
	now=$(date +%s)
	jwt_make "$JWT_HS256_HEADER" \
	    "{\"sub\":\"$1\",\"iat\":$now,\"exp\":$((now + ${2:-600}))}" \
	    "${TASKAPI_JWT_SECRET:-}" HS256
}

# have_secret: TASKAPI_JWT_SECRET is set.
have_secret() {
	[[ -n ${TASKAPI_JWT_SECRET:-} ]]
}

# ---------------------------------------------------------------- the stack
# For the tests that reconfigure the running stack (./dev test's
# TASKAPI_VAR: the pool's pid file, env file and rendered nginx files).

# pool_master: the master's pid.
pool_master() { cat "$TASKAPI_VAR/run/taskapi.pid"; }

# pool_workers: the master's children (both kinds of worker), sorted.
pool_workers() { pgrep -P "$(pool_master)" | sort; }

# stack_set_env KEY VALUE: sets KEY=VALUE in the pool's env file (an empty
# VALUE removes it), then SIGHUP: the workers are replaced with it.
stack_set_env() {
	local envf=$TASKAPI_VAR/taskapi.env
	sed -i "/^$1=/d" "$envf"
	[[ -n $2 ]] && printf '%s=%s\n' "$1" "$2" >>"$envf"
	kill -HUP "$(pool_master)"
}

# pool_replaced OLD-PIDS N: none of OLD-PIDS is alive and N workers run.
pool_replaced() {
	local p
	for p in $1; do
		kill -0 "$p" 2>/dev/null && return 1
	done
	[[ $(pool_workers | wc -l) -eq $2 ]]
}

# pool_size: the processes of a full pool: TASKAPI_WORKERS (default 2 per
# CPU of the affinity mask, as taskapi and nproc count them) blocking
# workers plus the event workers.
pool_size() {
	local envf=$TASKAPI_VAR/taskapi.env w ev
	w=$(sed -n 's/^TASKAPI_WORKERS=//p' "$envf" | tail -n 1)
	ev=$(sed -n 's/^TASKAPI_EV_WORKERS=//p' "$envf" | tail -n 1)
	grep -q '^TASKAPI_EV_LISTEN=.' "$envf" || ev=0
	echo $((${w:-$((2 * $(nproc)))} + ${ev:-1}))
}

# pool_gone OLD-PIDS: none of OLD-PIDS is alive.
pool_gone() {
	local p
	for p in $1; do
		kill -0 "$p" 2>/dev/null && return 1
	done
	return 0
}

# pool_fixed on|off: "on" makes the blocking pool a fixed one of
# TASKAPI_WORKERS (TASKAPI_SPARE_WORKERS at least that), for the tests
# that count workers; "off" brings back the default, growing and
# shrinking pool.  Either waits for the rolling reload to finish.
pool_fixed() {
	local old
	old=$(pool_workers)
	if [[ $1 == on ]]; then
		stack_set_env TASKAPI_SPARE_WORKERS 256
		wait_until 30000 pool_replaced "$old" "$(pool_size)" >/dev/null ||
			diag "pool_fixed on: $(pool_workers | wc -l) workers, want $(pool_size)"
	else
		stack_set_env TASKAPI_SPARE_WORKERS ""
		wait_until 30000 pool_gone "$old" >/dev/null ||
			diag "pool_fixed off: old workers still there"
	fi
}

# stack_nginx CMD-ARGS...: the stack's nginx binary on its rendered files,
# as the service user when root.
stack_nginx() {
	local ngx=$TASKAPI_VAR/nginx
	local args=(-p "$ngx" -c "$ngx/nginx-dev.conf" -e "$TASKAPI_VAR/log/nginx-error.log" "$@")
	if [[ $(id -u) == 0 ]]; then runuser -u taskapi -- nginx "${args[@]}"; else nginx "${args[@]}"; fi
}

# nginx_old_gone MASTER OLD-PIDS: the master has children again and none
# of OLD-PIDS (its children before a reload) is alive.
nginx_old_gone() {
	local p
	for p in $2; do
		[[ -e /proc/$p ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null && return 1
	done
	[[ -n $(pgrep -P "$1") ]]
}

# stack_nginx_reload: reloads the stack's nginx (after a test edited its
# rendered files) and returns once the new configuration is the one in
# force: nginx -s reload only sends a signal, and until the old workers
# are told to stop they keep accepting with the old configuration, so
# this waits for every old worker to exit (a rejected configuration
# would keep them: checked first with nginx -t).  Returns 1 on failure.
stack_nginx_reload() {
	local master old ms
	if ! stack_nginx -t -q >"$T_DIR/nginx-t.out" 2>&1; then
		diag "nginx -t rejects the edited configuration: $(cat "$T_DIR/nginx-t.out")"
		return 1
	fi
	master=$(cat "$TASKAPI_VAR/nginx/nginx.pid")
	old=$(pgrep -P "$master" | tr '\n' ' ')
	stack_nginx -s reload
	if ! ms=$(wait_until 30000 nginx_old_gone "$master" "$old"); then
		diag "nginx reload: old workers ($old) still running after $ms ms"
		return 1
	fi
	return 0
}

# ---------------------------------------------------------------- held locks
# A lock a test holds for as long as it needs, not for a fixed time: a
# psql session takes it, then sleeps in pg_sleep until lock_release
# cancels that sleep (the transaction then rolls back and the lock goes).
# The session has its own application_name, so the test can see it; the
# sleep is capped (300 s) and the session notices a vanished client
# (client_connection_check_interval), so a lock cannot outlive its test
# by long; t_cleanup releases what is still held.

# lock_hold NAME SQL: runs SQL (e.g. "LOCK TABLE users IN ACCESS
# EXCLUSIVE MODE") in a transaction, and returns once the lock is held
# (its session sleeps); sets LOCK_MS to the ms that took.  Returns 1 when
# it did not happen within 30 s.  (Not in $(...): the session must be a
# job of the test's own shell.)
lock_hold() {
	local app="taskapi-it-lock-$$-$1"
	PGAPPNAME=$app $TASKAPI_PSQL -X -q -c "SET client_connection_check_interval = 1000" \
	    -c "BEGIN" -c "$2" -c "SELECT pg_sleep(300)" -c "ROLLBACK" >/dev/null 2>&1 &
	T_LOCK_PIDS[$1]=$!
	LOCK_MS=$(wait_until 30000 lock_sleeping "$app")
}

# lock_sleeping APP: the session named APP sleeps (holds its locks).
lock_sleeping() {
	[[ $(sql "SELECT count(*) FROM pg_stat_activity
	    WHERE application_name = '$1' AND wait_event = 'PgSleep'" 2>/dev/null) == 1 ]]
}

# lock_release NAME: ends lock_hold NAME's transaction and waits for its
# session to end.
lock_release() {
	sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	    WHERE application_name = 'taskapi-it-lock-$$-$1'" >/dev/null 2>&1
	if [[ -n ${T_LOCK_PIDS[$1]:-} ]]; then
		wait "${T_LOCK_PIDS[$1]}" 2>/dev/null
		unset "T_LOCK_PIDS[$1]"
	fi
}

# lock_waiters: how many sessions wait for a lock (requests held by one).
lock_waiters() {
	sql "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'" 2>/dev/null
}

# ---------------------------------------------------------------- load
# tests/lib/load.py: the load client (one process, many connections;
# see its header).  load_run ARGS... = load.py run --base $BASE ARGS...

T_LOAD_PY=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../lib" 2>/dev/null && pwd)/load.py
load_run() { python3 "$T_LOAD_PY" run --base "$BASE" "$@"; }
load_slow() { python3 "$T_LOAD_PY" slow --base "$BASE" "$@"; }

# lines FILE: its line count (0 when it does not exist yet).
lines() { if [[ -f $1 ]]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# lines_at_least FILE N: FILE has N lines or more.
lines_at_least() { [[ $(lines "$1") -ge $2 ]]; }

# stack_pg_stop / stack_pg_start: the stack's PostgreSQL (TASKAPI_PG_CTL),
# stopped fast (connections cut) and started again, waiting for each.
stack_pg_stop() {
	# shellcheck disable=SC2086
	$TASKAPI_PG_CTL -m fast -w stop >/dev/null 2>&1
}
stack_pg_start() {
	# shellcheck disable=SC2086
	$TASKAPI_PG_CTL -w -l "$TASKAPI_VAR/log/postgres.log" start >/dev/null 2>&1
}
