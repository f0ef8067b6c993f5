#!/usr/bin/env bash
# 05-cli.sh: the taskapi command line: --help, --version, configuration
# checks, concurrent migrations, and serve refusing an old schema.
. "$(dirname "$0")/lib.sh"

BIN=${TASKAPI_BUILD:-}/src/taskapi
ENVF=${TASKAPI_VAR:-}/taskapi.env
[[ -x $BIN && -r $ENVF ]] || skip_all "needs TASKAPI_BUILD and TASKAPI_VAR from ./dev test"
SECRET=$(sed -n 's/^JWT_SECRET=//p' "$ENVF")
URL=$(sed -n 's/^DATABASE_URL=//p' "$ENVF")

out=$("$BIN" --help 2>&1)
is "$?" 0 "taskapi --help exits 0"
for v in DATABASE_URL JWT_SECRET JWT_TTL TASKAPI_WORKERS LOG_LEVEL LOG_FORMAT \
	TASKAPI_EV_LISTEN TASKAPI_REQUEST_TIMEOUT; do
	like "$out" "$v" "--help documents $v"
done
like "$("$BIN" --version)" '^taskapi [0-9]+\.[0-9]+\.[0-9]+$' "taskapi --version"

env -i PATH="$PATH" "$BIN" check >/dev/null 2>&1
is "$?" 2 "check without JWT_SECRET exits 2"
like "$(env -i PATH="$PATH" "$BIN" check 2>&1)" "JWT_SECRET" "... and says JWT_SECRET is missing"
env -i PATH="$PATH" JWT_SECRET=short "$BIN" check >/dev/null 2>&1
is "$?" 2 "check with a JWT_SECRET under 32 bytes exits 2"
env -i PATH="$PATH" JWT_SECRET="$SECRET" "$BIN" check >/dev/null 2>&1
is "$?" 0 "check with a good JWT_SECRET exits 0"
printf 'JWT_SECRET=%s\nTASKAPI_WORKRES=3\n' "$SECRET" >"$T_DIR/bad.env"
like "$(env -i PATH="$PATH" "$BIN" --env-file "$T_DIR/bad.env" check 2>&1)" \
	"unknown setting TASKAPI_WORKRES" "an env file with a misspelt key is refused"
env -i PATH="$PATH" JWT_SECRET="$SECRET" LOG_FORMAT=xml "$BIN" check >/dev/null 2>&1
is "$?" 2 "LOG_FORMAT=xml is refused"
env -i PATH="$PATH" JWT_SECRET="$SECRET" TASKAPI_WORKERS=0 "$BIN" check >/dev/null 2>&1
is "$?" 2 "TASKAPI_WORKERS=0 is refused"
env -i PATH="$PATH" JWT_SECRET="$SECRET" TASKAPI_SPARE_WORKERS=0 "$BIN" check >/dev/null 2>&1
is "$?" 0 "TASKAPI_SPARE_WORKERS=0 (on demand) is accepted"
env -i PATH="$PATH" JWT_SECRET="$SECRET" TASKAPI_SPARE_WORKERS=-1 "$BIN" check >/dev/null 2>&1
is "$?" 2 "TASKAPI_SPARE_WORKERS=-1 is refused"

# Two migrations at once: the advisory lock serialises them; both end
# well and the schema is recorded once.
for i in 1 2 3; do
	"$BIN" --env-file "$ENVF" migrate >"$T_DIR/m$i.out" 2>&1 &
done
rc=0
for j in $(jobs -p); do wait "$j" || rc=1; done
is "$rc" 0 "three concurrent 'taskapi migrate' runs all succeed"
like "$(cat "$T_DIR/m1.out")" "schema is at version [1-9]" "migrate reports the schema version"
if have_psql; then
	is "$(sql "SELECT count(*) = count(DISTINCT version) FROM schema_migrations")" t \
		"each migration is recorded once"
fi

# serve refuses a database without the schema (the maintenance db has none).
# As root it first drops to the service user, who must reach the socket.
svc=$(sed -n 's/^TASKAPI_USER=//p' "$ENVF")
[[ $(id -u) -eq 0 ]] || svc=$(id -un)
sdir=$(mktemp -d "${TASKAPI_VAR}/run/cli.XXXXXX")
[[ $(id -u) -eq 0 ]] && chown "$svc" "$sdir"
noschema=${URL/\/taskapi\?//postgres?}
env -i PATH="$PATH" JWT_SECRET="$SECRET" DATABASE_URL="$noschema" TASKAPI_USER="$svc" \
	timeout 10 "$BIN" --listen "unix:$sdir/s.sock" serve >"$T_DIR/serve.out" 2>&1
is "$?" 1 "serve on a database without the schema exits 1"
like "$(cat "$T_DIR/serve.out")" "taskapi migrate" "... and says to run 'taskapi migrate'"
if [[ $(id -u) -eq 0 ]]; then
	env -i PATH="$PATH" JWT_SECRET="$SECRET" DATABASE_URL="$URL" TASKAPI_USER=root \
		timeout 10 "$BIN" --listen "unix:$sdir/r.sock" serve >"$T_DIR/root.out" 2>&1
	is "$?" 1 "started as root with TASKAPI_USER=root, serve refuses"
	like "$(cat "$T_DIR/root.out")" "refusing to serve as root" "... and says why"
fi
rm -rf "$sdir"
done_testing
