# shellcheck shell=bash
# bench/lib.sh: sourced by the scripts that measure a bench stack that
# run.sh left up (BENCH_KEEP_STACK=1): what each of them did the same way.
# The caller sets BENCH_DIR and defines die().

# Runs a command as the service user when root (the stack's files are
# its own), as is otherwise.
as_svc() { if [ "$(id -u)" = 0 ]; then runuser -u taskapi -- "$@"; else "$@"; fi; }

# An awk function for the scripts' tables: median(s), of the numbers in
# the space-separated string s.  Put before the awk program's own text.
# shellcheck disable=SC2016,SC2034 # awk's $, not the shell's; used by the callers
BENCH_AWK_MEDIAN='function median(s,   a, k, i, j, t) {
	k = split(s, a, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
		if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
'

# bench_data DIR PORT: makes DIR the Lua scripts' data directory and
# exports BENCH_DATA=DIR and BENCH_LUA_DIR.  The seeded task ids come
# from BENCH_DATA (default: the newest bench/out/*/data); the token is a
# new login of the bench user on the stack's nginx at PORT, since the
# seeded one expires (TASKAPI_JWT_TTL) and another run may have
# re-seeded since.  DIR is made readable to all: wrk may run as anyone.
bench_data() {
	local dir=$1 port=$2
	curl -fsS -o /dev/null "http://127.0.0.1:$port/health" ||
		die "the bench stack does not answer on :$port"
	: "${BENCH_DATA:=$(ls -td "$BENCH_DIR"/out/*/data 2>/dev/null | head -n 1)}"
	[ -r "$BENCH_DATA/ids" ] || die "no seeded data (BENCH_DATA=$BENCH_DATA)"
	mkdir -p "$dir"
	[ "$BENCH_DATA/ids" -ef "$dir/ids" ] || cp "$BENCH_DATA/ids" "$dir/ids"
	curl -fsS -X POST -H 'Content-Type: application/json' \
		--data '{"email":"bench-api@bench.invalid","password":"bench-password-1"}' \
		"http://127.0.0.1:$port/api/v1/auth/login" | jq -r .token >"$dir/token"
	grep -q '\.' "$dir/token" || die "login as the bench user failed"
	chmod -R a+rX "$dir"
	export BENCH_DATA=$dir BENCH_LUA_DIR=$BENCH_DIR
}
