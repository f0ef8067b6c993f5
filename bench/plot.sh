#!/usr/bin/env bash
# bench/plot.sh: req/s and p99 against concurrency, per target, as an SVG.
#
#   bench/plot.sh OUT FILE.svg
#
# OUT is a bench/run.sh output directory; its runs.tsv (the main runs and
# the high-concurrency pass alike) gives, per target and concurrency, the
# median req/s and the median p99 of the runs.  Four panels: req/s (top)
# and p99 (bottom, log scale) of the short reads beside their yardsticks
# (left: /health and GET task, the minimal FastCGI pass, nginx static, the
# Rust server direct and behind nginx) and of the list and the writes
# beside pgbench (right).  Called by run.sh at the end; needs gnuplot
# (Debian: gnuplot-nox).
set -euo pipefail
out=${1:?usage: plot.sh OUT FILE.svg}
svg=${2:?usage: plot.sh OUT FILE.svg}
command -v gnuplot >/dev/null 2>&1 || { echo "plot.sh: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One data file per target: "conc rps p99_ms", sorted by conc.
python3 - "$out/runs.tsv" "$tmp" <<-'EOF'
	import csv, statistics, sys
	groups = {}
	for r in csv.DictReader(open(sys.argv[1]), delimiter="\t"):
	    try:
	        rps, p99 = float(r["rps"]), float(r["p99_us"]) / 1000
	    except ValueError:
	        continue
	    groups.setdefault(r["target"], {}).setdefault(int(r["conc"]), []).append((rps, p99))
	for t, byc in groups.items():
	    with open(f"{sys.argv[2]}/{t}.dat", "w") as f:
	        for c in sorted(byc):
	            v = byc[c]
	            f.write(f"{c} {statistics.median(x[0] for x in v):.1f} "
	                    f"{statistics.median(x[1] for x in v):.3f}\n")
EOF

# target:title:style, left and right panels
left="health:taskapi GET /health:1 task_get:taskapi GET task:2 minimal:minimal FastCGI pass, /health:3 static:nginx return 200:4 rust_health:Rust direct /health:5 rust_get:Rust direct GET task:6 rustnx_health:Rust+nginx /health:7 rustnx_get:Rust+nginx GET task:8"
right="tasks_list:taskapi GET list:1 task_create:taskapi POST:2 task_patch:taskapi PATCH:3 pgbench:pgbench -S TCP:4 pgbench_unix:pgbench -S unix:5"
plots() { # list column
	local sep='' t title lt
	# Titles hold spaces: split the list on its "name:title:style" items.
	python3 -c '
import re, sys
for m in re.finditer(r"(\w+):([^:]+):(\d+)", sys.argv[1]):
    print(m.group(1), m.group(3), m.group(2).strip(), sep="\t")' "$1" |
		while IFS=$'\t' read -r t lt title; do
			[ -s "$tmp/$t.dat" ] || continue
			printf '%s"%s" using 1:%s with linespoints ls %s title "%s"' "$sep" "$tmp/$t.dat" "$2" "$lt" "$title"
			sep=', '
		done
}
# A panel none of whose targets ran (a BENCH_QUICK run of /health alone)
# is left empty: gnuplot refuses a "plot" with nothing after it.
panel() { # list column
	local p
	p=$(plots "$1" "$2")
	if [ -n "$p" ]; then echo "plot $p"; else echo 'set multiplot next'; fi
}

{
	cat <<-EOF
		set terminal svg size 1200,900 dynamic enhanced font "sans,11"
		set output "$svg"
		set multiplot layout 2,2 title "taskapi bench/run.sh $(basename "$out"): medians of the runs, wrk -t1"
		set logscale x 2
		set xtics (16, 64, 256, 1024)
		set xlabel "connections"
		set grid
		set key outside right top vertical font ",9"
		set style line 1 lw 2 pt 7 lc rgb "#1f77b4"
		set style line 2 lw 2 pt 5 lc rgb "#d62728"
		set style line 3 lw 1 pt 9 lc rgb "#2ca02c" dt 2
		set style line 4 lw 1 pt 11 lc rgb "#7f7f7f" dt 2
		set style line 5 lw 1 pt 13 lc rgb "#ff7f0e" dt 3
		set style line 6 lw 1 pt 4 lc rgb "#9467bd" dt 3
		set style line 7 lw 1 pt 6 lc rgb "#8c564b" dt 4
		set style line 8 lw 1 pt 8 lc rgb "#e377c2" dt 4
		set ylabel "req/s"
		set title "short reads and their yardsticks: req/s"
	EOF
	panel "$left" 2
	echo 'set title "list and writes, and pgbench: req/s"'
	panel "$right" 2
	echo 'set logscale y 10'
	echo 'set ylabel "p99 ms"'
	echo 'set title "short reads and their yardsticks: p99 (log)"'
	panel "$left" 3
	echo 'set title "list and writes, and pgbench: p99 (log)"'
	panel "$right" 3
	echo 'unset multiplot'
} >"$tmp/plot.gp"
gnuplot "$tmp/plot.gp"
echo "plot: $svg"
