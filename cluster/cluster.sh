#!/usr/bin/env bash
# cluster.sh: taskapi on several hosts, on one machine, in Linux network
# namespaces.  `./dev cluster up|down|status|smoke` runs it (as root: it
# makes namespaces).  doc/CLUSTER.md says what runs where and why.
#
#   tcl-net    the "switch": a bridge, one veth per host; no address
#   tcl-lb     10.77.0.2    nginx; the only thing reachable from outside
#   tcl-app1   10.77.0.11   taskapi master: blocking pool :9000, event :9001
#   tcl-app2   10.77.0.12   (the same)
#   tcl-app3   10.77.0.13   (the same)
#   tcl-db1    10.77.0.21   etcd :2379/:2380, Patroni :8008, PostgreSQL :5432
#   tcl-db2    10.77.0.22   (the same)
#   tcl-db3    10.77.0.23   (the same)
#
# The 10.77.0.0/24 addresses exist only inside these namespaces: the root
# namespace gets no link, no route and no address on them, so nothing here
# can send a packet anywhere else.  The one way in is 127.0.0.1:8090 on the
# machine's loopback: a listening socket made in the root namespace and
# handed to nginx in tcl-lb (nginx takes inherited sockets from the NGINX
# environment variable, as in its binary upgrade).  nginx accepts on it and
# connects out from tcl-lb: no veth into the root namespace, no relay
# process, no other port anywhere.
#
# Everything the script makes lives under $BUILD/cluster and in the
# namespaces named tcl-*; `down` removes both, and is safe to run twice or
# after a failed `up`.  Every wait polls with a cap.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TASKAPI_BUILD:-$ROOT/build}
CL=$BUILD/cluster
TASKAPI=$BUILD/src/taskapi
LB_PORT=8090
NET=10.77.0
LB_ADDR=$NET.2
APPS=(app1 app2 app3)
DBS=(db1 db2 db3)
SVC_USER=taskapi
PG_USER=postgres
ETCD_USER=etcd
PG_BIN=${TASKAPI_PG_BIN:-/usr/lib/postgresql/15/bin}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }

host_addr() {
	case $1 in
	lb) echo "$LB_ADDR" ;;
	app[1-9]) echo "$NET.1${1#app}" ;;
	db[1-9]) echo "$NET.2${1#db}" ;;
	*) die "no such host: $1" ;;
	esac
}
# Each host's name (.test: a name no public resolver answers, RFC 6761),
# in every namespace's /etc/hosts (net_up): the app hosts reach the
# database hosts by name, as a deployment would, so their connections take
# the event worker's off-loop lookup and verify the certificates by name.
host_name() { echo "$1.taskapi.test"; }
ns() { echo "tcl-$1"; }
in_ns() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }

# poll CAP_SECONDS DESCRIPTION COMMAND...: runs COMMAND every 0.2 s until it
# succeeds; gives up (returns 1) after CAP_SECONDS.
poll() {
	local cap=$1 what=$2 t0 now
	shift 2
	t0=$(date +%s%N)
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		now=$(date +%s%N)
		if [ $(((now - t0) / 1000000000)) -ge "$cap" ]; then
			say "gave up after ${cap}s waiting for $what"
			return 1
		fi
		sleep 0.2
	done
}

# --- network ----------------------------------------------------------------

all_hosts() { echo lb "${APPS[@]}" "${DBS[@]}"; }

net_up() {
	local h n o
	say "network namespaces on $NET.0/24"
	ip netns add "$(ns net)"
	ip -n "$(ns net)" link add br0 type bridge
	ip -n "$(ns net)" link set br0 up
	ip -n "$(ns net)" link set lo up
	for h in $(all_hosts); do
		n=$(ns "$h")
		ip netns add "$n"
		# Both ends are created inside the namespaces: the root namespace
		# never holds either.
		ip -n "$(ns net)" link add "v-$h" type veth peer name eth0 netns "$n"
		ip -n "$(ns net)" link set "v-$h" master br0 up
		ip -n "$n" addr add "$(host_addr "$h")/24" dev eth0
		ip -n "$n" link set lo up
		ip -n "$n" link set eth0 up
		# ip netns exec mounts /etc/netns/NAME/hosts on /etc/hosts.
		mkdir -p "/etc/netns/$n"
		{
			printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n'
			for o in $(all_hosts); do
				printf '%s\t%s\n' "$(host_addr "$o")" "$(host_name "$o")"
			done
		} >"/etc/netns/$n/hosts"
	done
}

# ns_kill NS SIG [KEEP]: the signal to every process in a namespace but
# those named KEEP (/proc/PID/comm).  With KILL the host dies whole: a
# process forked after the listing (the taskapi master starting a worker
# under load, the postmaster a backend) is not in it, would outlive its
# parent and, on a taskapi host, serve what is queued on its sockets for
# a while.  So the namespace is listed and killed again until nothing
# but KEEP is left (1 when something still runs after 10 s).
ns_kill() {
	local n=$1 sig=$2 keep=${3:-} pids pid i
	for ((i = 0; i < 100; i++)); do
		pids=
		for pid in $(ip netns pids "$n" 2>/dev/null || true); do
			if [ -n "$keep" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$keep" ]; then
				continue
			fi
			pids="$pids $pid"
		done
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086
		kill "-$sig" $pids 2>/dev/null || true
		[ "$sig" = KILL ] || return 0
		sleep 0.1
	done
	say "processes still run in $n after SIGKILL:$pids"
	return 1
}

# SIGTERM to the processes this script started in a namespace (those whose
# parent is outside it: Patroni, etcd, the taskapi master, nginx's master),
# so each stops its own children in order; a PostgreSQL whose backends got
# the signal directly would go through crash recovery instead.
ns_term_roots() {
	local n=$1 pids pid ppid
	pids=" $(ip netns pids "$n" 2>/dev/null | tr '\n' ' ') "
	for pid in $pids; do
		ppid=$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ' || true)
		[ -n "$ppid" ] || continue
		case $pids in *" $ppid "*) ;; *) kill -TERM "$pid" 2>/dev/null || true ;; esac
	done
}

ns_empty() { [ -z "$(ip netns pids "$1" 2>/dev/null)" ]; }

net_down() {
	local h n
	for h in $(all_hosts); do
		n=$(ns "$h")
		ip netns list 2>/dev/null | grep -qw "^$n" || continue
		ns_term_roots "$n"
	done
	for h in $(all_hosts); do
		n=$(ns "$h")
		ip netns list 2>/dev/null | grep -qw "^$n" || continue
		poll 15 "the processes of $n to stop" ns_empty "$n" || ns_kill "$n" KILL || true
		poll 5 "the processes of $n to die" ns_empty "$n" || true
		ip netns del "$n" 2>/dev/null || true
	done
	for h in $(all_hosts); do
		rm -rf "/etc/netns/$(ns "$h")"
	done
	rmdir /etc/netns 2>/dev/null || true
	n=$(ns net)
	ip netns list 2>/dev/null | grep -qw "^$n" && ip netns del "$n"
	return 0
}

# --- secrets and TLS ---------------------------------------------------------

rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

secrets() {
	mkdir -p "$CL/secrets"
	chmod 0700 "$CL/secrets"
	local k
	for k in jwt pg_postgres pg_replicator pg_taskapi pg_owner; do
		[ -f "$CL/secrets/$k" ] || rand_hex 32 >"$CL/secrets/$k"
	done
}
secret() { cat "$CL/secrets/$1"; }

# A CA made here, and one server certificate per database host for its
# name and its address (libpq's verify-full compares the host it was
# given, the name here, with the certificate's subjectAltName).
tls_ca() {
	local d=$CL/ca h a
	mkdir -p "$d"
	say "TLS: a private CA and one certificate per database host"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=taskapi cluster CA" \
		>/dev/null 2>&1
	chmod 0600 "$d/ca.key"
	chmod 0644 "$d/ca.pem"
	for h in "${DBS[@]}"; do
		a=$(host_addr "$h")
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$d/$h.key" -out "$d/$h.csr" -subj "/CN=$a" >/dev/null 2>&1
		printf 'subjectAltName=DNS:%s,IP:%s\n' "$(host_name "$h")" "$a" >"$d/$h.ext"
		openssl x509 -req -in "$d/$h.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -days 2 -extfile "$d/$h.ext" -out "$d/$h.pem" \
			>/dev/null 2>&1
		install -m 0600 -o "$PG_USER" -g "$PG_USER" "$d/$h.key" "$CL/$h/server.key"
		install -m 0644 -o "$PG_USER" -g "$PG_USER" "$d/$h.pem" "$CL/$h/server.pem"
		rm -f "$d/$h.csr" "$d/$h.ext"
	done
}

# --- database hosts: etcd, Patroni, PostgreSQL ------------------------------

etcd_cluster() {
	local h s=""
	for h in "${DBS[@]}"; do
		s="${s:+$s,}$h=http://$(host_addr "$h"):2380"
	done
	echo "$s"
}
etcd_hosts() {
	local h s=""
	for h in "${DBS[@]}"; do
		s="${s:+$s,}$(host_addr "$h"):2379"
	done
	echo "$s"
}

etcd_start() {
	local h=$1 a d=$CL/$1/etcd
	a=$(host_addr "$h")
	mkdir -p "$d"
	chown "$ETCD_USER:" "$d"
	chmod 0700 "$d"
	# Each member listens on its own address and on its namespace's
	# loopback; peers talk over the bridge.  --pre-vote: a member cut off
	# and back (drill 3) should not force an election on the others with
	# the term it raised alone.  What keeps Patroni from reading such a
	# member's stale keys is patroni-quorum-reads.py (patroni_start).
	in_ns "$h" setpriv --reuid="$ETCD_USER" --regid="$ETCD_USER" --init-groups \
		etcd --name "$h" --data-dir "$d/data" \
		--listen-client-urls "http://$a:2379,http://127.0.0.1:2379" \
		--advertise-client-urls "http://$a:2379" \
		--listen-peer-urls "http://$a:2380" \
		--initial-advertise-peer-urls "http://$a:2380" \
		--initial-cluster "$(etcd_cluster)" \
		--initial-cluster-token taskapi-cluster \
		--initial-cluster-state new \
		--enable-v2=false \
		--pre-vote=true \
		>>"$CL/$h/log/etcd.log" 2>&1 </dev/null &
	disown || true
}

etcd_healthy() {
	in_ns db1 etcdctl --endpoints="$(etcd_hosts)" --command-timeout=2s endpoint health
}

patroni_conf() {
	local h=$1 a d=$CL/$1
	a=$(host_addr "$h")
	umask 077
	cat >"$d/patroni.yml" <<-EOF
		# Patroni for $h (written by cluster/cluster.sh).
		scope: taskapi
		namespace: /taskapi/
		name: $h
		log:
		  level: INFO
		  dir: $d/log
		restapi:
		  listen: $a:8008
		  connect_address: $a:8008
		etcd3:
		  hosts: $(etcd_hosts)
		bootstrap:
		  dcs:
		    # ttl >= loop_wait + 2 x retry_timeout, or Patroni refuses.
		    ttl: 10
		    loop_wait: 2
		    retry_timeout: 4
		    maximum_lag_on_failover: 1048576
		    # An acknowledged commit is on two hosts; strict: with no
		    # synchronous standby left, commits wait rather than being
		    # acknowledged by the primary alone.
		    synchronous_mode: true
		    synchronous_mode_strict: true
		    postgresql:
		      use_pg_rewind: true
		      use_slots: true
		      parameters:
		        max_connections: 50
		        shared_buffers: 16MB
		        max_wal_senders: 6
		        max_replication_slots: 6
		        wal_keep_size: 64MB
		        password_encryption: scram-sha-256
		        # A primary cut off from its standbys shuts down (Patroni
		        # demotes it) only once its WAL senders give up on them:
		        # 60 s by default.
		        wal_sender_timeout: 10s
		        wal_receiver_timeout: 10s
		  initdb:
		    - encoding: UTF8
		    - locale: C.UTF-8
		    - data-checksums
		postgresql:
		  listen: $a:5432
		  connect_address: $a:5432
		  data_dir: $d/pgdata
		  bin_dir: $PG_BIN
		  pgpass: $d/pgpass
		  use_unix_socket: true
		  authentication:
		    superuser:
		      username: postgres
		      password: $(secret pg_postgres)
		      sslmode: verify-full
		      sslrootcert: $CL/ca/ca.pem
		    replication:
		      username: replicator
		      password: $(secret pg_replicator)
		      sslmode: verify-full
		      sslrootcert: $CL/ca/ca.pem
		  parameters:
		    unix_socket_directories: '$d/run'
		    ssl: 'on'
		    ssl_cert_file: $d/server.pem
		    ssl_key_file: $d/server.key
		    ssl_ca_file: $CL/ca/ca.pem
		    logging_collector: 'on'
		    log_directory: $d/log
		    log_filename: postgresql.log
		    log_line_prefix: '%m [%p] %q%u@%d '
		  pg_hba:
		    - local all postgres peer
		    - hostssl replication replicator $NET.16/28 scram-sha-256
		    - hostssl all postgres $NET.16/28 scram-sha-256
		    - hostssl taskapi taskapi,taskapi_owner $NET.8/29 scram-sha-256
		tags:
		  nofailover: false
		  noloadbalance: false
		  clonefrom: false
		  nosync: false
	EOF
	umask 022
	chown "$PG_USER:" "$d/patroni.yml"
}

# Patroni through cluster/patroni-quorum-reads.py: its etcd reads are
# linearizable, so an etcd member that has just come back from a cut
# cannot hand it a stale leader key (the launcher says why).  Debian's
# /usr/bin/python3, the one the patroni package is for (PATH may name
# another, which the postgres user may not even be able to run).
patroni_start() {
	local h=$1
	in_ns "$h" setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups \
		env HOME="$CL/$h" /usr/bin/python3 "$ROOT/cluster/patroni-quorum-reads.py" "$CL/$h/patroni.yml" \
		>>"$CL/$h/log/patroni.out" 2>&1 </dev/null &
	disown || true
}

# GET on a Patroni REST endpoint of host $1 (from inside its namespace).
patroni_get() {
	in_ns "$1" curl -fsS --max-time 2 "http://$(host_addr "$1"):8008/$2"
}

# The cluster's view (leader, members, sync standby), from any db host.
# TASKAPI_CLUSTER_SKIP=HOST: not from that one (a host cut off from the
# others answers with its own stale view).
cluster_json() {
	local h
	for h in "${DBS[@]}"; do
		[ "$h" = "${TASKAPI_CLUSTER_SKIP:-}" ] && continue
		patroni_get "$h" cluster 2>/dev/null && return 0
	done
	return 1
}

leader() {
	cluster_json | jq -r '.members[] | select(.role == "leader") | .name' | head -n 1
}

# A leader that is running and a synchronous standby streaming.
cluster_ready() {
	local j
	j=$(cluster_json) || return 1
	[ "$(jq '[.members[] | select(.role == "leader" and .state == "running")] | length' <<<"$j")" = 1 ] &&
		[ "$(jq '[.members[] | select(.role == "sync_standby" and (.state == "streaming" or .state == "running"))] | length' <<<"$j")" -ge 1 ]
}

all_members_streaming() {
	local j
	j=$(cluster_json) || return 1
	[ "$(jq '[.members[] | select(.state == "streaming" or .state == "running")] | length' <<<"$j")" = "${#DBS[@]}" ]
}

# psql as the superuser on the leader, over its private unix socket.
leader_psql() {
	local h
	h=$(leader)
	[ -n "$h" ] || die "no leader"
	in_ns "$h" setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups \
		psql -X -q -At -v ON_ERROR_STOP=1 -h "$CL/$h/run" -p 5432 -U postgres "$@"
}

db_roles() {
	leader_psql -d postgres -v service="$SVC_USER" -f - <"$ROOT/sql/roles.sql" >/dev/null
}

db_passwords() {
	leader_psql -d postgres -v pw_svc="$(secret pg_taskapi)" -v pw_owner="$(secret pg_owner)" \
		-f - >/dev/null <<-'EOF'
			ALTER ROLE taskapi PASSWORD :'pw_svc';
			ALTER ROLE taskapi_owner PASSWORD :'pw_owner';
		EOF
}

dbs_up() {
	local h
	for h in "${DBS[@]}"; do
		mkdir -p "$CL/$h/log" "$CL/$h/run"
		chown "$PG_USER:" "$CL/$h" "$CL/$h/log" "$CL/$h/run"
		chmod 0700 "$CL/$h/run"
	done
	tls_ca
	say "etcd: three members"
	for h in "${DBS[@]}"; do etcd_start "$h"; done
	poll 60 "etcd to be healthy" etcd_healthy || die "etcd did not become healthy (see $CL/db*/log/etcd.log)"
	say "Patroni: db1 bootstraps, then db2 and db3 clone from it"
	for h in "${DBS[@]}"; do patroni_conf "$h"; done
	patroni_start db1
	poll 60 "db1 to lead" patroni_get db1 primary ||
		die "db1 did not become the primary (see $CL/db1/log)"
	patroni_start db2
	patroni_start db3
	poll 90 "a synchronous standby" cluster_ready ||
		die "no synchronous standby (see $CL/db*/log)"
	poll 60 "all three members" all_members_streaming ||
		say "not every standby streams yet; going on"
	db_roles
	db_passwords
}

# --- app hosts ------------------------------------------------------------------

database_url() {
	local user=$1 pw=$2 h hosts=""
	for h in "${DBS[@]}"; do
		hosts="${hosts:+$hosts,}$(host_name "$h"):5432"
	done
	# The primary is whichever host takes writes: libpq tries the hosts in
	# order and keeps the first read-write session.
	# tcp_user_timeout and keepalives: a primary cut off from the network
	# sends no reset, and without them a connection to it would wait for
	# TCP's own retransmission timeout (minutes).
	printf 'postgresql://%s:%s@%s/taskapi?target_session_attrs=read-write&sslmode=verify-full&sslrootcert=%s&tcp_user_timeout=5000&keepalives_idle=5&keepalives_interval=2&keepalives_count=2' \
		"$user" "$pw" "$hosts" "$CL/ca/ca.pem"
}

app_env() {
	local h=$1 a d=$CL/$1
	a=$(host_addr "$h")
	mkdir -p "$d/log"
	umask 077
	cat >"$d/taskapi.env" <<-EOF
		# taskapi on $h (written by cluster/cluster.sh).
		DATABASE_URL=$(database_url taskapi "$(secret pg_taskapi)")
		TASKAPI_MIGRATE_DATABASE_URL=$(database_url taskapi_owner "$(secret pg_owner)")
		JWT_SECRET=$(secret jwt)
		JWT_TTL=3600
		LOG_LEVEL=info
		LOG_FORMAT=json
		TASKAPI_USER=$SVC_USER
		TASKAPI_PID_FILE=$d/taskapi.pid
		TASKAPI_MIGRATIONS_DIR=$CL/migrations
		TASKAPI_LISTEN=$a:9000
		TASKAPI_EV_LISTEN=$a:9001
		TASKAPI_WORKERS=2
		TASKAPI_SPARE_WORKERS=1
		TASKAPI_EV_WORKERS=1
		TASKAPI_EV_DB_CONNECTIONS=2
		TASKAPI_REQUEST_TIMEOUT=30
		# A stopping event worker serves nginx's kept connections until
		# nginx closes them (app-stop): give it the time.
		TASKAPI_SHUTDOWN_TIMEOUT=60
	EOF
	umask 022
	# The master reads it again on SIGHUP, after dropping privileges.
	chown "$SVC_USER:" "$d/taskapi.env"
}

app_start() {
	local h=$1
	rm -f "$CL/$h/taskapi.pid"
	# FCGI_WEB_SERVER_ADDRS: libfcgi (the blocking pool) closes a connection
	# from any other address.  GNUTLS_NO_IMPLICIT_INIT as in the systemd unit.
	# HOME: libpq looks for a client certificate in ~/.postgresql, and
	# root's home is not readable once taskapi has dropped privileges.
	in_ns "$h" env HOME="$CL/$h" FCGI_WEB_SERVER_ADDRS="$LB_ADDR" GNUTLS_NO_IMPLICIT_INIT=1 \
		"$TASKAPI" --env-file "$CL/$h/taskapi.env" serve \
		>>"$CL/$h/log/taskapi.log" 2>&1 </dev/null &
	disown || true
}

# A rolling restart takes an app host out of nginx's rotation before it
# stops.  fence on: a new connection from lb to :9000 or :9001 is refused
# (TCP reset) while the connections already open go on.  A refused
# connect is always safe for nginx to pass to the next host (nothing was
# sent), and it marks the host failed; the requests in flight finish.
# fence off: the host takes connections again (nginx sends to it again
# after fail_timeout).  The rule matches lb's address only, so the host's
# own checks (app_listening) still connect.
app_fence() {
	local h=$1
	case $2 in
	on)
		in_ns "$h" nft -f - <<-EOF
			table inet taskapi_fence {
			    chain input {
			        type filter hook input priority 0; policy accept;
			        ip saddr $LB_ADDR tcp dport { 9000, 9001 } tcp flags & (fin | syn | rst | ack) == syn reject with tcp reset
			    }
			}
		EOF
		;;
	off) in_ns "$h" nft delete table inet taskapi_fence 2>/dev/null || true ;;
	esac
}

# The FastCGI connections lb has open to an app host (0: nothing in flight).
lb_conns() {
	in_ns "$1" ss -Htn state established "( sport = :9000 or sport = :9001 )" | wc -l
}
no_lb_conns() { [ "$(lb_conns "$1")" -eq 0 ]; }

# The event worker's port answers a FastCGI connection: the host is up.
app_listening() {
	local a
	a=$(host_addr "$1")
	in_ns "$1" bash -c "exec 3<>/dev/tcp/$a/9001 && exec 3<>/dev/tcp/$a/9000"
}

apps_up() {
	local h
	rm -rf "$CL/migrations"
	cp -r "$ROOT/sql/migrations" "$CL/migrations"
	chmod -R a+rX "$CL/migrations"
	for h in "${APPS[@]}"; do app_env "$h"; done
	say "migrate (from app1)"
	in_ns app1 "$TASKAPI" --env-file "$CL/app1/taskapi.env" migrate \
		>"$CL/app1/log/migrate.log" 2>&1 ||
		{ cat "$CL/app1/log/migrate.log" >&2; die "migration failed"; }
	db_roles
	say "taskapi on ${APPS[*]}"
	for h in "${APPS[@]}"; do app_start "$h"; done
	for h in "${APPS[@]}"; do
		poll 30 "taskapi on $h" app_listening "$h" ||
			{ tail -n 20 "$CL/$h/log/taskapi.log" >&2; die "taskapi on $h did not start"; }
	done
}

# --- lb: nginx ------------------------------------------------------------------

upstream_lines() {
	local port=$1 h s=""
	for h in "${APPS[@]}"; do
		# One failure takes a host out for fail_timeout; then nginx tries
		# it again with one request.
		s="$s    server $(host_addr "$h"):$port max_fails=1 fail_timeout=5s;\\n"
	done
	printf '%s' "$s"
}

lb_conf() {
	local d=$CL/lb/nginx f
	mkdir -p "$d" "$CL/lb/log" "$CL/lb/web" "$CL/lb/tls"
	cp -r "$ROOT/web/." "$CL/lb/web/"
	bash "$ROOT/nginx/make-selfsigned.sh" "$CL/lb/tls" >/dev/null
	for f in "$ROOT"/nginx/*.conf "$ROOT"/nginx/*.conf.in; do
		[ -f "$f" ] || continue
		sed -e "s|@LISTEN@|127.0.0.1:$LB_PORT|g" \
			-e "s|@TLS_LISTEN@|$LB_ADDR:8443|g" \
			-e "s|@TLS_CERT@|$CL/lb/tls/cert.pem|g" \
			-e "s|@TLS_KEY@|$CL/lb/tls/key.pem|g" \
			-e "s|^\( *\)server unix:@FCGI_SOCKET@;|$(upstream_lines 9000)|" \
			-e "s|^\( *\)server unix:@FCGI_EV_SOCKET@;|$(upstream_lines 9001)|" \
			-e "s|@VAR@|$CL/lb|g" \
			-e "s|@NGINX_DIR@|$d|g" \
			-e "s|@WEB_ROOT@|$CL/lb/web|g" \
			-e "s|@CORS_ORIGIN@|http://127.0.0.1:$LB_PORT|g" \
			-e "s|@RATE_AUTH@|50r/s|g" \
			-e "s|@RATE_AUTH_BURST@|200|g" \
			"$f" >"$d/$(basename "${f%.in}")"
	done
	# Several app hosts: a request that never reached a host (refused or
	# timed-out connect, a kept connection found closed) goes to the next
	# one.  nginx never passes on a POST or PATCH once it was sent
	# (no "non_idempotent"), so no write is ever sent twice.
	sed -i 's|^fastcgi_next_upstream off;|fastcgi_next_upstream error timeout;\nfastcgi_next_upstream_tries 3;\nfastcgi_next_upstream_timeout 10s;|' \
		"$d/taskapi-fastcgi.conf"
	sed -i 's|^fastcgi_next_upstream error;|fastcgi_next_upstream error timeout;\nfastcgi_next_upstream_tries 3;\nfastcgi_next_upstream_timeout 10s;|' \
		"$d/taskapi-fastcgi-ev.conf"
	# A task DELETE has a connection of its own and no retry in the
	# one-host setup; here a refused connect must go to the next host as
	# well.  A DELETE that was sent and whose host then died is sent again
	# too (nginx counts DELETE as idempotent): it answers 404, "gone".
	sed -i 's|^fastcgi_next_upstream off;|fastcgi_next_upstream error timeout;\nfastcgi_next_upstream_tries 3;\nfastcgi_next_upstream_timeout 10s;|' \
		"$d/taskapi-fastcgi-ev-once.conf"
	# A host taken out of rotation (app-stop) still gets requests on the
	# connections nginx keeps to its event worker, until nginx retires
	# them; after 100 requests instead of 1000 it does so within a second
	# or two under load, at the cost of one TCP connect per 100 requests.
	sed -i 's|^\( *\)keepalive_requests 1000;|\1keepalive_requests 100;|' "$d/taskapi-http.conf"
	grep -q 'keepalive_requests 100;' "$d/taskapi-http.conf" ||
		die "nginx/taskapi-http.conf changed: cannot set keepalive_requests"
	grep -q 'fastcgi_next_upstream error timeout' "$d/taskapi-fastcgi.conf" ||
		die "nginx/taskapi-fastcgi.conf changed: cannot set fastcgi_next_upstream"
	# Which host served each request ($upstream_addr: every host tried, in
	# order), for the smoke and the drills.  http level, like site.conf.
	cat >"$d/cluster-log.conf" <<-EOF
		log_format taskapi_cluster escape=json
		    '{"t":\$msec,"method":"\$request_method","uri":"\$uri","status":\$status,'
		    '"upstream_addr":"\$upstream_addr","upstream_status":"\$upstream_status"}';
		access_log $CL/lb/log/upstream.log taskapi_cluster;
	EOF
	sed -i "s|^\( *\)include $d/site.conf;|\1include $d/cluster-log.conf;\n&|" "$d/nginx-dev.conf"
	chown -R "$SVC_USER:" "$CL/lb"
}

lb_start() {
	lb_conf
	local args=(-p "$CL/lb/nginx" -c "$CL/lb/nginx/nginx-dev.conf" -e "$CL/lb/log/nginx-error.log")
	in_ns lb setpriv --reuid="$SVC_USER" --regid="$SVC_USER" --init-groups \
		nginx -t -q "${args[@]}" || die "nginx configuration test failed"
	say "lb: nginx in $(ns lb), on http://127.0.0.1:$LB_PORT"
	# The listening socket is made here, in the root namespace, and
	# inherited by nginx (NGINX="fd;"); nginx itself runs in tcl-lb.
	# With an inherited socket nginx stays in the foreground.  Non-blocking,
	# as nginx makes its own: nginx leaves an inherited socket's flags as
	# they are, and its workers all wake for a new connection; on a
	# blocking socket each one that loses the race sleeps in accept(2)
	# until the next connection comes, its clients' requests unread (a
	# drill's last requests waited for the client's 40 s timeout).
	python3 - "$LB_PORT" ip netns exec "$(ns lb)" \
		setpriv --reuid="$SVC_USER" --regid="$SVC_USER" --init-groups \
		nginx "${args[@]}" >>"$CL/lb/log/nginx.out" 2>&1 <<-'EOF' &
			import os, socket, sys
			s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
			s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
			s.bind(("127.0.0.1", int(sys.argv[1])))
			s.listen(4096)
			s.setblocking(False)
			fd = s.fileno()
			os.set_inheritable(fd, True)
			os.environ["NGINX"] = "%d;" % fd
			os.execvp(sys.argv[2], sys.argv[2:])
		EOF
	disown || true
}

lb_healthy() {
	curl -fsS --max-time 3 -o /dev/null "http://127.0.0.1:$LB_PORT/health"
}

# --- commands ---------------------------------------------------------------------

preflight() {
	[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
	[ -x "$TASKAPI" ] || die "no $TASKAPI: build first (./dev cluster builds)"
	local c
	for c in ip etcd etcdctl patroni nginx python3 openssl jq curl setpriv nft ss; do
		command -v "$c" >/dev/null 2>&1 || die "missing: $c"
	done
	[ -x "$PG_BIN/postgres" ] || die "no PostgreSQL 15 in $PG_BIN"
	id "$ETCD_USER" >/dev/null 2>&1 || die "no user $ETCD_USER (package etcd-server)"
}

up_failed() {
	local rc=$?
	if [ "$rc" -ne 0 ] && [ "${TASKAPI_CLUSTER_KEEP_FAILED:-0}" != 1 ]; then
		say "up failed: cleaning up"
		cmd_down
	fi
}

cmd_up() {
	local t0
	t0=$(date +%s)
	preflight
	if ip netns list | grep -q '^tcl-'; then
		say "a cluster is already there: taking it down first"
		cmd_down
	fi
	if curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$LB_PORT/" 2>/dev/null; then
		die "127.0.0.1:$LB_PORT is taken"
	fi
	# A failed up leaves nothing behind (TASKAPI_CLUSTER_KEEP_FAILED=1: keep
	# it, to look at the logs; `down` removes it later).
	trap up_failed EXIT
	mkdir -p "$CL"
	chmod 0755 "$CL"
	for h in "${APPS[@]}" "${DBS[@]}" lb; do mkdir -p "$CL/$h"; done
	secrets
	net_up
	dbs_up
	apps_up
	lb_start
	poll 30 "nginx on 127.0.0.1:$LB_PORT" lb_healthy ||
		die "the cluster did not answer /health on 127.0.0.1:$LB_PORT"
	trap - EXIT
	say "cluster up in $(($(date +%s) - t0)) s: http://127.0.0.1:$LB_PORT (leader: $(leader))"
}

# A PostgreSQL killed with SIGKILL leaves its small System V shared memory
# segment behind; postmaster.pid names it (line 7: key, id).  Removed only
# if nothing is attached any more.
pg_shm_cleanup() {
	local pidf id
	for pidf in "$CL"/db*/pgdata/postmaster.pid; do
		[ -f "$pidf" ] || continue
		id=$(sed -n '7{s/^ *[0-9]* *//;p}' "$pidf")
		case $id in '' | *[!0-9]*) continue ;; esac
		ipcs -m -i "$id" 2>/dev/null | grep -q 'nattch=0' && ipcrm -m "$id" 2>/dev/null
	done
	return 0
}

cmd_down() {
	net_down
	pg_shm_cleanup
	rm -rf "$CL"
	say "cluster down"
}

cmd_status() {
	local h
	for h in $(all_hosts); do
		if ip netns list | grep -qw "^$(ns "$h")"; then
			printf '%-5s %-12s %s processes\n' "$h" "$(host_addr "$h")" \
				"$(ip netns pids "$(ns "$h")" | wc -l)"
		else
			printf '%-5s absent\n' "$h"
		fi
	done
	cluster_json 2>/dev/null | jq -r '.members[] | "\(.name) \(.role) \(.state) lag=\(.lag // 0)"' || true
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
smoke) shift; exec bash "$ROOT/tests/cluster/smoke.sh" "$@" ;;
# For the smoke and the drills: kill -9 every process of a host (its whole
# tree: everything in its namespace), and start an app host again.
kill-host) [ -n "${2:-}" ] && host_addr "$2" >/dev/null && ns_kill "$(ns "$2")" KILL ;;
app-start)
	case ${2:-} in app[1-9]) ;; *) die "app-start app1|app2|app3" ;; esac
	mkdir -p "$CL/$2/log"
	app_start "$2"
	poll 30 "taskapi on $2" app_listening "$2"
	app_fence "$2" off ;;
# A graceful stop of an app host, as in a rolling restart: out of nginx's
# rotation first (app_fence), then, once lb has no connection to it left
# (nginx closes its kept connections to the event worker after 5 s idle,
# or after 1000 requests), SIGTERM to the master; returns once nothing
# runs there any more.  If lb still has connections after 30 s the stop
# goes on: the event worker serves kept connections until nginx closes
# them, and closes them itself only after TASKAPI_SHUTDOWN_TIMEOUT.
app-stop)
	case ${2:-} in app[1-9]) ;; *) die "app-stop app1|app2|app3" ;; esac
	app_fence "$2" on
	poll 30 "lb's connections to $2 to close" no_lb_conns "$2" || true
	kill -TERM "$(cat "$CL/$2/taskapi.pid")"
	poll 75 "taskapi on $2 to stop" ns_empty "$(ns "$2")" ;;
# A host's link to the bridge down or up again (cut off from every other host).
link)
	host_addr "${2:-}" >/dev/null
	case ${3:-} in up | down) ;; *) die "link HOST up|down" ;; esac
	ip -n "$(ns net)" link set "v-$2" "$3" ;;
# Whether PostgreSQL on a database host is read-only now (t or f).
in-recovery)
	case ${2:-} in db[1-9]) ;; *) die "in-recovery db1|db2|db3" ;; esac
	in_ns "$2" setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups \
		timeout 5 psql -X -q -At -h "$CL/$2/run" -p 5432 -U postgres -d postgres \
		-c 'SELECT pg_is_in_recovery()' ;;
leader) leader ;;
# Whether the leader streams WAL to HOST now (its walsender for HOST is in
# state "streaming"): HOST follows the current primary, on its timeline.
streaming)
	case ${2:-} in db[1-9]) ;; *) die "streaming db1|db2|db3" ;; esac
	[ "$(TASKAPI_CLUSTER_SKIP=$2 leader_psql -d postgres -c \
		"SELECT count(*) FROM pg_stat_replication WHERE application_name = '$2' AND state = 'streaming'")" = 1 ] ;;
# Take an app host out of nginx's rotation, or put it back (app_fence).
fence)
	case ${2:-} in app[1-9]) ;; *) die "fence app1|app2|app3 on|off" ;; esac
	case ${3:-} in on | off) ;; *) die "fence HOST on|off" ;; esac
	app_fence "$2" "$3" ;;
# kill -9 of Patroni and PostgreSQL on a database host; its etcd member
# stays (killing it too would leave two etcd members: a second drill
# before it returns would lose etcd's quorum).
kill-db)
	case ${2:-} in db[1-9]) ;; *) die "kill-db db1|db2|db3" ;; esac
	ns_kill "$(ns "$2")" KILL etcd ;;
patroni-start)
	case ${2:-} in db[1-9]) ;; *) die "patroni-start db1|db2|db3" ;; esac
	patroni_start "$2" ;;
# A planned switchover (patronictl, on the current leader's host).
switchover)
	case ${2:-} in db[1-9]) ;; *) die "switchover CANDIDATE" ;; esac
	l=$(leader)
	[ -n "$l" ] || die "no leader"
	in_ns "$l" setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups \
		env HOME="$CL/$l" patronictl -c "$CL/$l/patroni.yml" switchover \
		--leader "$l" --candidate "$2" --force ;;
members) cluster_json | jq -c '[.members[] | {name, role, state, lag}]' ;;
drills) shift; exec bash "$ROOT/tests/cluster/drills.sh" "$@" ;;
*) echo "usage: ./dev cluster up|down|status|smoke|drills|kill-host HOST|app-start HOST|kill-db HOST|patroni-start HOST|switchover HOST|app-stop HOST|fence HOST on|off|link HOST up|down|leader|members|streaming HOST" >&2; exit 2 ;;
esac
