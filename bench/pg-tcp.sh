# shellcheck shell=bash
# bench/pg-tcp.sh: the pgbench yardstick over TCP, as the targets were measured.
# Sourced, not run, by bench/run.sh and bench/experiments/side-by-side.sh after they
# have set VAR (the bench stack's var/), PG_PORT and as_svc.
#
# The targets' figure is `pgbench -S -M prepared -c 64 -j 1` over TCP; the
# bench stack's cluster listens only on its unix socket (./dev sets
# listen_addresses = '').  On this machine the unix socket is about a
# quarter faster than loopback TCP for that load, so measuring it there
# alone makes every "x pgbench" target harder than they were written.
# The benchmark therefore runs pgbench both ways and rates the targets
# against TCP, the targets' yardstick, and shows the unix-socket ratio next
# to it.
#
# Opening TCP must not open the cluster: ./dev's initdb trusts every
# connection (the socket directory is private).  pg_tcp_setup removes the
# "host ... trust" lines, so the only TCP login is one role with SELECT on
# the two pgbench tables, by SCRAM, with a random password kept in a
# mode-600 passfile of the service user.
#
#   pgb_su_psql    psql as the cluster superuser over the unix socket
#   pg_tcp_setup   role, grants, password, pg_hba; returns 2 when the
#                  cluster must restart to listen on 127.0.0.1 (the caller
#                  restarts it the way it prefers), 0 when it is ready
#   pgb_tcp ARGS   pgbench over TCP as that role, e.g. pgb_tcp -S ... pgbench
#   pgb_unix ARGS  the same over the unix socket, same role

PGB_ROLE=bench_pgbench
PGB_PASSFILE=$VAR/bench-pgpass

pgb_su_psql() { as_svc psql -X -q -At -v ON_ERROR_STOP=1 -h "$VAR/run" -p "$PG_PORT" -U postgres "$@"; }

pg_tcp_setup() {
	local pw hba listen
	pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
	pgb_su_psql -d postgres -v role="$PGB_ROLE" -v pw="$pw" <<-'EOF' >/dev/null || return 1
		SELECT format('CREATE ROLE %I LOGIN', :'role')
		WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')
		\gexec
		SET password_encryption = 'scram-sha-256';
		SELECT format('ALTER ROLE %I PASSWORD %L', :'role', :'pw')
		\gexec
		SELECT format('GRANT CONNECT ON DATABASE pgbench TO %I', :'role')
		\gexec
	EOF
	pgb_su_psql -d pgbench -v role="$PGB_ROLE" <<-'EOF' >/dev/null || return 1
		SELECT format('GRANT SELECT ON pgbench_accounts, pgbench_branches TO %I', :'role')
		\gexec
	EOF
	# shellcheck disable=SC2016 # $1 is the inner shell's, on purpose
	as_svc sh -c 'umask 077 && cat >"$1"' sh "$PGB_PASSFILE" <<-EOF
		127.0.0.1:$PG_PORT:pgbench:$PGB_ROLE:$pw
	EOF
	hba=$(pgb_su_psql -d postgres -c 'SHOW hba_file')
	# No TCP trust at all; one SCRAM line for the yardstick role.
	as_svc sed -i -E '/^host(ssl|nossl)?[[:space:]].*[[:space:]]trust[[:space:]]*$/d' "$hba"
	grep -q "^host pgbench $PGB_ROLE 127.0.0.1/32 scram-sha-256\$" "$hba" ||
		printf 'host pgbench %s 127.0.0.1/32 scram-sha-256\n' "$PGB_ROLE" | as_svc tee -a "$hba" >/dev/null
	pgb_su_psql -d postgres -c 'SELECT pg_reload_conf()' >/dev/null
	listen=$(pgb_su_psql -d postgres -c 'SHOW listen_addresses')
	[ "$listen" = 127.0.0.1 ] && return 0
	pgb_su_psql -d postgres -c "ALTER SYSTEM SET listen_addresses = '127.0.0.1'" >/dev/null
	return 2
}

pgb_tcp() {
	as_svc env PGPASSFILE="$PGB_PASSFILE" pgbench -h 127.0.0.1 -p "$PG_PORT" -U "$PGB_ROLE" "$@"
}

pgb_unix() {
	as_svc pgbench -h "$VAR/run" -p "$PG_PORT" -U "$PGB_ROLE" "$@"
}
