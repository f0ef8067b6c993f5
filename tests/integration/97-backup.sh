#!/usr/bin/env bash
# 97-backup.sh: doc/OPERATIONS.md "Back up": pg_dump -Fc with the schema owner's
# role, pg_restore --list, and a restore into a fresh database owned by
# that role holds the same schema, grants and rows.
. "$(dirname "$0")/lib.sh"

DEVENV=${TASKAPI_VAR:-}/taskapi.env
[[ -r $DEVENV ]] || skip_all "needs TASKAPI_VAR from ./dev test"
for t_tool in pg_dump pg_restore createdb dropdb psql; do
	command -v "$t_tool" >/dev/null 2>&1 || skip_all "$t_tool not installed"
done
OWNER_URL=$(sed -n 's/^TASKAPI_MIGRATE_DATABASE_URL=//p' "$DEVENV" | tail -n 1)
[[ -n $OWNER_URL ]] || skip_all "no TASKAPI_MIGRATE_DATABASE_URL in $DEVENV"
# The dev stack's URLs: postgresql://ROLE@/taskapi?host=DIR&port=N
PGHOST=$(sed -n 's/.*[?&]host=\([^&]*\).*/\1/p' <<<"$OWNER_URL")
PGPORT=$(sed -n 's/.*[?&]port=\([^&]*\).*/\1/p' <<<"$OWNER_URL")
export PGHOST PGPORT
SCRATCH=taskapi_restore_$$
scratch_url() { printf '%s' "${OWNER_URL/\/taskapi\?//$SCRATCH?}"; }
dropped=yes
cleanup() {
	[[ $dropped == yes ]] || dropdb -U postgres --if-exists "$SCRATCH" >/dev/null 2>&1
	t_cleanup
}
trap cleanup EXIT
cd "$T_DIR" || bail "no scratch directory"

counts() {	# URL: rows of the three tables, "users|tasks|schema_migrations"
	psql -X -q -At -d "$1" -c "SELECT (SELECT count(*) FROM users),
	    (SELECT count(*) FROM tasks), (SELECT count(*) FROM schema_migrations)"
}
schema() {	# URL: pg_dump --schema-only, without the per-run \restrict keys
	pg_dump -s -d "$1" | grep -v '^\\\(un\)\?restrict '
}

before=$(counts "$OWNER_URL")
if pg_dump -Fc -d "$OWNER_URL" -f taskapi.dump 2>"$T_DIR/dump.err"; then
	pass "pg_dump -Fc with the schema owner's role"
else
	fail "pg_dump -Fc with the schema owner's role" "$(cat "$T_DIR/dump.err")"
	done_testing
fi
after=$(counts "$OWNER_URL")
list=$(pg_restore --list taskapi.dump 2>&1)
missing=""
for t in users tasks schema_migrations; do
	[[ $list == *"TABLE DATA public $t "* ]] || missing+=" $t"
done
is "$missing" "" "pg_restore --list: the dump holds the rows of users, tasks, schema_migrations"
like "$list" "DEFAULT PRIVILEGES FOR TABLES" "... and the default privileges for the service role"

# Restore: a new database owned by taskapi_owner (the superuser creates
# it), then pg_restore as the owner.
dropped=no
createdb -U postgres -O taskapi_owner "$SCRATCH" 2>"$T_DIR/createdb.err" ||
	bail "createdb: $(cat "$T_DIR/createdb.err")"
if pg_restore --exit-on-error --single-transaction -d "$(scratch_url)" taskapi.dump \
	2>"$T_DIR/restore.err"; then
	pass "pg_restore --exit-on-error --single-transaction as the schema owner"
else
	fail "pg_restore --exit-on-error --single-transaction as the schema owner" "$(cat "$T_DIR/restore.err")"
fi
restored=$(counts "$(scratch_url)")
if [[ $before == "$after" ]]; then
	is "$restored" "$before" "the restored database has the same row counts (users|tasks|migrations)"
else
	skip "the restored row counts" "the database changed during the dump ($before, then $after)"
fi
if diff <(schema "$OWNER_URL") <(schema "$(scratch_url)") >"$T_DIR/schema.diff"; then
	pass "the restored schema, owners and grants are the same"
else
	fail "the restored schema, owners and grants are the same" "$(head -n 20 "$T_DIR/schema.diff")"
fi
# The service role's rights came back with it: rows yes, the schema
# version no.
svc_url=${OWNER_URL/taskapi_owner@/taskapi@}
svc_url=${svc_url/\/taskapi\?//$SCRATCH?}
out=$(psql -X -q -At -d "$svc_url" -c "SELECT count(*) FROM tasks" 2>&1)
like "$out" '^[0-9]+$' "the service role may read the restored tasks"
out=$(psql -X -q -At -d "$svc_url" -c "DELETE FROM schema_migrations" 2>&1)
like "$out" "permission denied" "... and may not change the restored schema_migrations"

dropdb -U postgres "$SCRATCH" && dropped=yes
is "$dropped" yes "dropdb the scratch database"
done_testing
