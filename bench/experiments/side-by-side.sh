# bench/experiments/side-by-side.sh: what floor.sh and rust.sh (next to
# it) share.
# Sourced, not run, after the caller has set BENCH_DIR (bench/, whose
# scripts it uses).  It sets the
# bench stack's paths and ports (TASKAPI_BUILD, TASKAPI_PG_PORT and
# BENCH_HTTP_PORT as for run.sh) and die and as_svc; the functions below
# also want SECS and tmp (a private directory, mode 755).
#
#   sbs_token             a fresh token of the bench user (the run's may
#                         have expired) in $tmp/data; exports BENCH_DATA
#   sbs_measure LABEL PORT SCRIPT PATH
#                         warm-up, then bench/cpu-per-request.sh: one row
#                         of req/s and CPU µs per request by program
#   sbs_pgbench           pgbench -S -M prepared -c 64 -j 1: a row over
#                         TCP, a row over the unix socket
#   sbs_report ROUNDS     medians of the rows, and GET rows against pgbench

ROOT=$(dirname "$BENCH_DIR")
BUILD=${TASKAPI_BUILD:-$ROOT/build-bench}
VAR=$BUILD/var
PG_PORT=${TASKAPI_PG_PORT:-55440}
HTTP=http://127.0.0.1:${BENCH_HTTP_PORT:-18090}
die() { echo "$(basename "$0"): $*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
# shellcheck source=bench/pg-tcp.sh
. "$BENCH_DIR/pg-tcp.sh"

sbs_token() {
	bench_data "$tmp/data" "${HTTP##*:}"
}

# "server" is whichever serves the request behind nginx (or alone):
# taskapi's event worker, floor or the Rust server; only one runs a load.
sbs_measure() { # label port script path
	wrk -t1 -c64 -d2s -s "$BENCH_DIR/$3" "http://127.0.0.1:$2$4" >/dev/null 2>&1 # warm
	BENCH_HTTP_PORT=$2 "$BENCH_DIR/cpu-per-request.sh" "$3" "$SECS" "$4" >"$tmp/m" 2>&1 ||
		die "$1: $(cat "$tmp/m")"
	grep -q ', 0 non-2xx' "$tmp/m" || die "$1: non-2xx answers: $(head -n 1 "$tmp/m")"
	awk -v l="$1" 'NR == 1 { rps = $3 } NR > 1 { v[$1] = $2 }
		END { printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l, rps, v["nginx"], v["postgres"],
		      v["taskapi"] + v["floor"] + v["rust-yardstick"], v["wrk"], v["total"] }' \
		"$tmp/m" >>"$tmp/rows"
	tail -n 1 "$tmp/rows"
}

# pgbench over TCP (the targets' yardstick) and over the unix socket
# (bench/pg-tcp.sh).  A cluster not yet listening on TCP is restarted
# once with pg_ctl, and the stack's pool reconnects by itself; run.sh
# restarts the whole stack instead, which would undo floor.sh's swapped
# nginx upstream here.
sbs_pgbench() {
	local via tps rc=0
	if [ -z "${SBS_PG_TCP_READY:-}" ]; then
		pg_tcp_setup || rc=$?
		if [ "$rc" = 2 ]; then
			echo "restarting the bench stack's PostgreSQL to listen on 127.0.0.1:$PG_PORT (role $PGB_ROLE only)"
			as_svc "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/pg_ctl" -D "$VAR/pgdata" \
				-m fast -w restart -l "$VAR/log/postgres.log" >/dev/null || die "PostgreSQL did not restart"
			sleep 2
		elif [ "$rc" != 0 ]; then
			die "could not set up the TCP pgbench yardstick"
		fi
		SBS_PG_TCP_READY=1
	fi
	for via in tcp unix; do
		tps=$("pgb_$via" -S -M prepared -c 64 -j 1 -T "$SECS" -n pgbench 2>/dev/null |
			sed -n 's/^tps = \([0-9.]*\).*/\1/p')
		printf 'pgbench -S c=64 %s\t%s\t\t\t\t\t\n' "$via" "${tps:-NA}" | tee -a "$tmp/rows"
	done
}

sbs_report() { # rounds
	echo
	echo "Medians of $1 rounds (wrk -t1 -c64, ${SECS} s; CPU µs per request by program;"
	echo "\"server\" is what answered behind nginx, or alone):"
	echo
	python3 - "$tmp/rows" <<-'EOF'
		import statistics, sys
		rows, order = {}, []
		for line in open(sys.argv[1]):
		    f = line.rstrip("\n").split("\t")
		    if f[0] not in rows:
		        rows[f[0]] = []
		        order.append(f[0])
		    rows[f[0]].append(f[1:])
		def med(vals):
		    v = [float(x) for x in vals if x not in ("", "NA")]
		    return statistics.median(v) if v else None
		print("| what | req/s | nginx | PostgreSQL | server | wrk | total |")
		print("|---|---:|---:|---:|---:|---:|---:|")
		for k in order:
		    cols = [med([r[i] for r in rows[k]]) for i in range(6)]
		    cells = ["{:,.0f}".format(cols[0]) if cols[0] else "NA"]
		    cells += ["" if c is None else "{:.1f}".format(c) for c in cols[1:]]
		    print("| " + k + " | " + " | ".join(cells) + " |")
		pgb = {v: med([r[0] for r in rows.get("pgbench -S c=64 " + v, [])]) for v in ("tcp", "unix")}
		print()
		for k in order:
		    if (k.startswith("GET task") or k.startswith("list")) and pgb["tcp"] and pgb["unix"]:
		        rps = med([r[0] for r in rows[k]])
		        print("{}: {:.2f}x pgbench over TCP (the targets' yardstick), {:.2f}x over the unix socket"
		              .format(k, rps / pgb["tcp"], rps / pgb["unix"]))
	EOF
}
