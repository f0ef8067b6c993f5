#!/usr/bin/env python3
"""bench/soak-report.py OUT: the report of a bench/soak.sh run (markdown on
stdout; OUT/per-second.tsv beside it).

Per second of the access log: requests, p50/p99/max of nginx's
request_time and of upstream_response_time (the event worker's part,
nginx's being the difference).  The worst seconds by p99 are listed with
what the sampler saw in the same second (event-loop turns and database
statements over 25/100 ms, checkpoints, the load average) and the
PostgreSQL log lines within 2 s of them.
"""
import csv
import json
import os
import re
import statistics
import sys
from datetime import datetime, timedelta, timezone

out = sys.argv[1]


def pct(v, q):
    if not v:
        return None
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(q * len(v) + 0.5)) - 1))]


def ms(x):
    return "–" if x is None else f"{x:.1f}"


meta = dict(l.rstrip("\n").split(" ", 1) for l in open(os.path.join(out, "meta.txt")) if " " in l)
wrk = open(os.path.join(out, "wrk.txt")).read()
res = dict(kv.split("=") for kv in re.search(r"^BENCHRESULT (.*)$", wrk, re.M).group(1).split())

# --- the access log, per second
per = {}
methods = {}
for line in open(os.path.join(out, "access.log"), errors="replace"):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    t = r["time"][:19]
    rt = float(r["request_time"]) * 1000
    up = r.get("upstream_response_time") or ""
    try:
        upt = sum(float(x) for x in re.split(r"[,:] ?", up) if x not in ("", "-")) * 1000
    except ValueError:
        upt = None
    s = per.setdefault(t, {"rt": [], "up": [], "status": {}})
    s["rt"].append(rt)
    if upt is not None:
        s["up"].append(upt)
    s["status"][r["status"]] = s["status"].get(r["status"], 0) + 1
    methods.setdefault(r["method"], []).append(rt)

samples = {}
p = os.path.join(out, "samples.tsv")
if os.path.exists(p):
    for r in csv.DictReader(open(p), delimiter="\t"):
        samples[r["t"]] = r

secs = sorted(per)
rows = []
with open(os.path.join(out, "per-second.tsv"), "w") as f:
    f.write("t\trequests\tp50_ms\tp99_ms\tmax_ms\tup_p99_ms\tup_max_ms\tstatuses\n")
    for t in secs[1:-1]:  # the first and last seconds are partial
        s = per[t]
        row = (t, len(s["rt"]), pct(s["rt"], .5), pct(s["rt"], .99), max(s["rt"]),
               pct(s["up"], .99), max(s["up"]) if s["up"] else None,
               ",".join(f"{k}:{v}" for k, v in sorted(s["status"].items())))
        rows.append(row)
        f.write("\t".join("" if x is None else (f"{x:.1f}" if isinstance(x, float) else str(x))
                          for x in row) + "\n")

pglines = []
p = os.path.join(out, "postgres.log")
if os.path.exists(p):
    for line in open(p, errors="replace"):
        m = re.match(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? (\w+)", line)
        if m:
            try:
                ts = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
            except ValueError:
                continue
            pglines.append((ts, line.strip()))


def near_pg(t, span=2):
    ts = datetime.strptime(t, "%Y-%m-%dT%H:%M:%S")
    return [l for (x, l) in pglines if abs((x - ts).total_seconds()) <= span]


script = meta.get('script', 'mixed.lua')
load = "mixed load" if script == "mixed.lua" else script
print(f"# Soak: {meta.get('seconds')} s of {load}, c={meta.get('connections')}")
print()
print(f"Started {meta.get('start')}, commit `{meta.get('commit')}`, {meta.get('ev_workers')} event "
      f"worker(s); load average {meta.get('loadavg_start')} at the start, "
      f"{meta.get('loadavg_end')} at the end (the machine is shared).")
print()
print(f"## Client (wrk -t1, bench/{script}, the whole run)")
print()
n = int(res["requests"])
dur = int(res["duration_us"]) / 1e6
print("| requests | req/s | non-2xx | socket errors | p50 ms | p99 ms | p99.9 ms | max ms |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
sock = sum(int(res[k]) for k in ("connect", "read", "write", "timeout"))
print(f"| {n:,} | {n / dur:,.0f} | {res['status']} | {sock} | {int(res['p50_us']) / 1000:.2f} | "
      f"{int(res['p99_us']) / 1000:.2f} | {int(res['p999_us']) / 1000:.2f} | {int(res['max_us']) / 1000:.1f} |")
print()
print("## Server side, per method (nginx request_time over the whole run)")
print()
print("| method | requests | p50 ms | p99 ms | p99.9 ms | max ms | p99/p50 |")
print("|---|---:|---:|---:|---:|---:|---:|")
for m_, v in sorted(methods.items()):
    p50, p99 = pct(v, .5), pct(v, .99)
    print(f"| {m_} | {len(v):,} | {ms(p50)} | {ms(p99)} | {ms(pct(v, .999))} | {ms(max(v))} | "
          + (f"{p99 / p50:.1f}" if p50 else "–") + " |")
print()
p99s = [r[3] for r in rows]
med99 = statistics.median(p99s) if p99s else 0
bad = [r for r in rows if r[3] > 4 * med99]
print("## Per second")
print()
print(f"{len(rows)} whole seconds; the median second's p99 is {med99:.1f} ms; "
      f"{len(bad)} second(s) had a p99 over 4x that. The worst 12 by p99, with what the "
      "sampler saw in the same second (ev loop: turns of the event workers' loop over "
      "25 / 100 ms; db: statements whose PostgreSQL time, sync included, was over 25 / 100 ms; "
      "checkpoint counters and the WAL files are read every 5 s; iowait and steal are "
      "the machine's share of CPU time waiting on the disk and taken by the hypervisor; "
      "dirty / writeback: MB of page cache waiting to be written and being written):")
print()
print("| second (UTC) | requests | p50 ms | p99 ms | max ms | upstream p99 / max ms | ev loop >25/>100 ms | db >25/>100 ms | queue >25 ms | checkpoints (timed, req) | WAL files | iowait % | steal % | dirty / writeback MB | load |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
for r in sorted(rows, key=lambda r: -r[3])[:12]:
    s = samples.get(r[0], {})
    print(f"| {r[0]} | {r[1]} | {ms(r[2])} | {ms(r[3])} | {ms(r[4])} | {ms(r[5])} / {ms(r[6])} | "
          f"{s.get('loop_over25ms', '')}/{s.get('loop_over100ms', '')} | "
          f"{s.get('db_over25ms', '')}/{s.get('db_over100ms', '')} | {s.get('queue_over25ms', '')} | "
          f"{s.get('ckpt_timed', '')}, {s.get('ckpt_req', '')} | {s.get('wal_files', '')} | "
          f"{s.get('iowait_pct', '')} | {s.get('steal_pct', '')} | "
          f"{s.get('dirty_mb', '')} / {s.get('writeback_mb', '')} | {s.get('loadavg1', '')} |")
print()
ck = [l for (_, l) in pglines if "checkpoint" in l]
print(f"## PostgreSQL log: {len(pglines)} line(s), {len(ck)} about checkpoints")
print()
for l in ck[:20]:
    print(f"    {l[:200]}")
worst = sorted(rows, key=lambda r: -r[3])[:3]
for r in worst:
    near = near_pg(r[0])
    if near:
        print()
        print(f"Within 2 s of {r[0]}:")
        for l in near[:10]:
            print(f"    {l[:200]}")
err = open(os.path.join(out, "nginx-error.log"), errors="replace").read().splitlines()
print()
print(f"nginx error log: {len(err)} line(s)" + (":" if err else "."))
for l in err[:10]:
    print(f"    {l[:200]}")
# The sampler's totals over the run
tot = {}
for s in samples.values():
    for k in ("loop_n", "loop_over25ms", "loop_over100ms", "db_n", "db_over25ms", "db_over100ms",
              "queue_over25ms"):
        try:
            tot[k] = tot.get(k, 0) + float(s.get(k) or 0)
        except ValueError:
            pass
if tot:
    print()
    print(f"Event workers over the run: {tot.get('loop_n', 0):,.0f} loop turns with events, "
          f"{tot.get('loop_over25ms', 0):,.0f} over 25 ms, {tot.get('loop_over100ms', 0):,.0f} over 100 ms; "
          f"{tot.get('db_n', 0):,.0f} statements, {tot.get('db_over25ms', 0):,.0f} over 25 ms and "
          f"{tot.get('db_over100ms', 0):,.0f} over 100 ms in PostgreSQL; "
          f"{tot.get('queue_over25ms', 0):,.0f} waited over 25 ms for a connection.")

# WAL fsyncs per 5 s window (cumulative counters read every 5 s): the
# mean fsync time of each window, to tell a disk stall from the rest.
win = []
prev_w = None
for t in sorted(samples):
    s = samples[t]
    try:
        w = (float(s["wal_sync"]), float(s["wal_sync_time_ms"]))
    except (KeyError, ValueError):
        continue
    if prev_w is not None and w != prev_w and w[0] > prev_w[0]:
        win.append((t, w[0] - prev_w[0], (w[1] - prev_w[1]) / (w[0] - prev_w[0])))
    prev_w = w
if win:
    allsync = sum(n for (_, n, _) in win)
    mean = sum(n * m for (_, n, m) in win) / allsync if allsync else 0
    worst_w = sorted(win, key=lambda x: -x[2])[:5]
    print()
    print(f"WAL fsyncs (track_wal_io_timing on for the run): {allsync:,.0f} in {len(win)} windows of 5 s, "
          f"mean {mean:.2f} ms each; the slowest windows' mean: "
          + ", ".join(f"{m:.1f} ms ({n:,.0f} fsyncs, window ending {t})" for (t, n, m) in worst_w) + ".")
