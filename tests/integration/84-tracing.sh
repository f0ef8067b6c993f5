#!/usr/bin/env bash
# 84-tracing.sh: W3C Trace Context.  A valid traceparent is continued
# (same trace id, a new span id in the traceresponse header); without one
# the trace id is the request id; every log line of a request, in the
# app's log and in nginx's access log, carries its trace and request id.
. "$(dirname "$0")/lib.sh"

LOG=${TASKAPI_VAR:-}/log/taskapi.log
ALOG=${TASKAPI_VAR:-}/log/nginx-access.log
[[ -r $LOG && -r $ALOG ]] || skip_all "needs TASKAPI_VAR from ./dev test (the logs)"

TRACE=4bf92f3577b34da6a3ce929d0e0e4736
PARENT=00f067aa0ba902b7
RE_TR='^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'

# log_lines FILE REQUEST-ID: that request's lines (JSON), once written.
log_lines() { grep -F "\"request_id\":\"$2\"" "$1" 2>/dev/null; }
have_lines() { [[ $(log_lines "$1" "$2" | wc -l) -ge $3 ]]; }

# --- a valid traceparent is continued, on both kinds of worker
for path in /health /api/v1/users; do
	req GET "$path" -H "traceparent: 00-$TRACE-$PARENT-01"
	tr=$(header traceresponse)
	like "$tr" "$RE_TR" "$path: traceresponse is a traceparent-shaped value ($tr)"
	is "$(cut -d- -f2 <<<"$tr")" "$TRACE" "$path: the trace id is the caller's"
	span=$(cut -d- -f3 <<<"$tr")
	isnt "$span" "$PARENT" "$path: this request has its own span id"
	isnt "$span" 0000000000000000 "$path: the span id is not all zeros"
	is "$(cut -d- -f4 <<<"$tr")" 01 "$path: the sampled flag is kept"
	rid=$(header X-Request-Id)
	wait_until 30000 have_lines "$LOG" "$rid" 1 >/dev/null
	lines=$(log_lines "$LOG" "$rid")
	if [[ -n $lines ]] && jq -se --arg t "$TRACE" 'all(.trace_id == $t)' <<<"$lines" >/dev/null; then
		pass "$path: the app's log line(s) carry the trace id"
	else
		fail "$path: the app's log line(s) carry the trace id" "$lines"
	fi
	wait_until 30000 have_lines "$ALOG" "$rid" 1 >/dev/null
	al=$(log_lines "$ALOG" "$rid")
	jq -e --arg t "$TRACE" --arg tr "$tr" \
		'(.traceparent | contains($t)) and .traceresponse == $tr' <<<"$al" >/dev/null &&
		pass "$path: nginx's access line has the traceparent and the traceresponse" ||
		fail "$path: nginx's access line has the traceparent and the traceresponse" "$al"
done

# Two requests of one trace get different span ids.
req GET /health -H "traceparent: 00-$TRACE-$PARENT-01"
s1=$(header traceresponse | cut -d- -f3)
req GET /health -H "traceparent: 00-$TRACE-$PARENT-01"
s2=$(header traceresponse | cut -d- -f3)
isnt "$s1" "$s2" "two requests of one trace: two span ids"

# --- no traceparent: a new trace whose id is the request id
req GET /health
rid=$(header X-Request-Id)
tr=$(header traceresponse)
like "$tr" "$RE_TR" "no traceparent: a traceresponse all the same"
is "$(cut -d- -f2 <<<"$tr")" "$rid" "no traceparent: the trace id is the request id"
is "$(cut -d- -f4 <<<"$tr")" 00 "no traceparent: not sampled (flags 00)"

# --- malformed traceparents are not continued (W3C: start a new trace)
for bad in "ff-$TRACE-$PARENT-01" "00-00000000000000000000000000000000-$PARENT-01" \
	"00-$TRACE-0000000000000000-01" "00-${TRACE^^}-$PARENT-01" "00-$TRACE-$PARENT" \
	"00-$TRACE-$PARENT-01-extra" "00_${TRACE}_${PARENT}_01"; do
	req GET /health -H "traceparent: $bad"
	tr=$(header traceresponse)
	if [[ $RESP_STATUS == 200 && $tr =~ $RE_TR && $(cut -d- -f2 <<<"$tr") != "$TRACE" ]]; then
		pass "malformed traceparent '$bad': 200, a new trace"
	else
		fail "malformed traceparent '$bad': 200, a new trace" "status $RESP_STATUS, traceresponse $tr"
	fi
done

# --- every line of a request: a duplicate register logs the conflict too
make_user T || bail "cannot register a user"
req POST /api/v1/auth/register -H 'Content-Type: application/json' \
	-H "traceparent: 00-$TRACE-$PARENT-00" \
	--data-binary "$(jq -cn --arg e "$T_EMAIL" '{email: $e, password: "long enough pw", name: "dup"}')"
is "$RESP_STATUS" 409 "a duplicate e-mail -> 409"
rid=$(header X-Request-Id)
wait_until 30000 have_lines "$LOG" "$rid" 2 >/dev/null
lines=$(log_lines "$LOG" "$rid")
n=$(wc -l <<<"$lines")
num_cmp "$n" -ge 2 "that request wrote $n log lines (the conflict and the access line)"
jq -se --arg t "$TRACE" 'all(.trace_id == $t)' <<<"$lines" >/dev/null &&
	pass "every one of them carries the request's trace id" ||
	fail "every one of them carries the request's trace id" "$lines"

done_testing
