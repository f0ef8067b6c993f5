#!/usr/bin/env bash
# 10-raw-fastcgi.sh: the FastCGI 1.0 corner cases, spoken raw to both
# of the pool's sockets (fcgi_raw.py): the blocking pool's
# ($TASKAPI_VAR/run/taskapi.sock) and the event worker's
# (taskapi-ev.sock), without nginx in between, as any front end might
# send them.  Then: the requests refused for a CONTENT_LENGTH that does
# not match the body wrote nothing.
. "$(dirname "$0")/../integration/lib.sh"

command -v python3 >/dev/null || skip_all "needs python3"
[[ -n ${TASKAPI_VAR:-} ]] || skip_all "needs TASKAPI_VAR from ./dev test"
SOCK=$TASKAPI_VAR/run/taskapi.sock
EV_SOCK=$TASKAPI_VAR/run/taskapi-ev.sock
[[ -S $SOCK ]] || skip_all "no blocking pool socket at $SOCK"

socks=("blocking=$SOCK")
if [[ -S $EV_SOCK ]]; then
	socks+=("event=$EV_SOCK")
else
	diag "no event worker socket at $EV_SOCK: blocking pool only"
fi

make_user U || bail "cannot make a user"
tasks_of_u() { sql "SELECT count(*) FROM tasks WHERE user_id = '$U_ID'"; }
before=$(tasks_of_u)

# The suite prints its own TAP lines; they are renumbered into this
# file's after it (lib.sh counts them).
out=$T_DIR/raw.tap
TASKAPI_FCGI_STATUS_URL=$BASE/status TASKAPI_FCGI_TOKEN=$U_TOKEN python3 "$(dirname "$0")/fcgi_raw.py" "${socks[@]}" >"$out" 2>&1
while IFS= read -r line; do
	case $line in
	"ok "*) pass "${line#ok * - }" ;;
	"not ok "*) fail "${line#not ok * - }" ;;
	"# "*) printf '%s\n' "$line" ;;
	"1.."*) ;;
	*) diag "$line" ;;
	esac
done <"$out"
grep -q '^1\.\.' "$out" || fail "fcgi_raw.py ran to its end" "$(tail -n 20 "$out")"

after=$(tasks_of_u)
is "$after" "$before" "no task written by the refused requests (CONTENT_LENGTH mismatch, aborts)"
done_testing
