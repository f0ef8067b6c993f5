#!/usr/bin/env python3
"""report.py OUT RESULTS.md: turns the raw files bench/run.sh wrote under
OUT into a table on stdout and the generated part of RESULTS.md (between
<!-- bench:begin --> and <!-- bench:end -->; the rest of the file, the
"## Notes" section included, is kept)."""
import csv
import glob
import json
import os
import re
import statistics
import sys

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"

LABEL = {
    "health": "GET /health",
    "task_get": "GET /api/v1/tasks/{id}",
    "tasks_list": "GET /api/v1/tasks?limit=20",
    "task_create": "POST /api/v1/tasks",
    "task_patch": "PATCH /api/v1/tasks/{id}",
    "static": "yardstick: nginx static return 200",
    "pgbench": "yardstick: pgbench -S -M prepared, TCP",
    "pgbench_unix": "yardstick: pgbench -S -M prepared, unix socket",
    "minimal": "yardstick: GET /health, minimal nginx FastCGI pass",
    "rust_health": "yardstick: Rust direct, GET /health",
    "rust_get": "yardstick: Rust direct, GET task",
    "rustnx_health": "yardstick: Rust behind nginx, GET /health",
    "rustnx_get": "yardstick: Rust behind nginx, GET task",
}
ORDER = ["health", "task_get", "tasks_list", "task_create", "task_patch",
         "static", "minimal", "rust_health", "rust_get", "rustnx_health",
         "rustnx_get", "pgbench", "pgbench_unix"]
APP = ORDER[:5]

# (target, yardstick, minimum ratio) at c=64: the performance targets
# (bench/README.md), each a share of a yardstick measured in the same run.
RATIO_TARGETS = [
    ("task_get", "pgbench", 1.00),
    ("tasks_list", "pgbench", 0.45),
    ("task_create", "pgbench", 0.35),
    ("task_patch", "pgbench", 0.40),
    ("health", "static", 0.40),
]
P99_TARGET_MS = 3.0
# CPU per request (bench/cputiers.py): the whole server side of taskapi
# (nginx + pool + PostgreSQL) against the Rust server's (Rust +
# PostgreSQL, no nginx), and the shipped nginx configuration's nginx CPU
# against a minimal FastCGI pass to the same socket, both at c=64.
CPU_TARGETS = [
    ("task_get", "rust_get", "server", 0.80),
    ("health", "rust_health", "server", 0.80),
    ("health", "minimal", "nginx", 1.15),
]
TAIL_RATIO = 4.0  # p99 at most this many times p50, at c=64
CPU_TIERS = ["nginx", "app", "pg", "client", "server"]
POOL_IDLE_MIB = 4.0
POOL_LOAD_MIB = 8.0
EXPORT_GROWTH_MIB = 2.0


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_rps(x):
    return "n/a" if x is None else f"{x:,.0f}"


def fmt_ms(us):
    return "n/a" if us is None else f"{us / 1000:.2f}"


def mib(kb):
    return None if kb is None else kb / 1024.0


def fmt_mib(kb):
    return "n/a" if kb is None else f"{kb / 1024:.2f} MiB"


def met(ok):
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def load(out):
    meta = {}
    with open(os.path.join(out, "meta.tsv")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            meta[k] = v
    with open(os.path.join(out, "runs.tsv")) as f:
        runs = list(csv.DictReader(f, delimiter="\t"))
    idle = {}
    p = os.path.join(out, "mem", "idle.tsv")
    if os.path.exists(p):
        with open(p) as f:
            for line in f:
                k, pss, rss, pids = line.split()
                idle[k] = {"pss": int(pss), "rss": int(rss), "pids": int(pids)}
    exports = []
    p = os.path.join(out, "export.tsv")
    if os.path.exists(p):
        with open(p) as f:
            exports = list(csv.DictReader(f, delimiter="\t"))
    return meta, runs, idle, exports


def aggregate(runs):
    """(target, conc) -> medians and totals over the runs."""
    groups = {}
    for r in runs:
        groups.setdefault((r["target"], int(r["conc"])), []).append(r)
    agg = {}
    for key, rs in groups.items():
        rps = [num(r["rps"]) for r in rs]
        ok = [x for x in rps if x is not None]
        sock = {k: sum(int(num(r[k]) or 0) for r in rs)
                for k in ("connect", "read", "write", "timeout")}
        statuses = {}
        for r in rs:
            if r["statuses"] not in ("-", ""):
                for part in r["statuses"].split(","):
                    code, _, n = part.partition(":")
                    statuses[code] = statuses.get(code, 0) + int(n)
        agg[key] = {
            "n": len(rs),
            "failed_runs": len(rs) - len(ok),
            "rps": med(rps),
            "spread": ((max(ok) - min(ok)) / statistics.median(ok) * 100)
            if len(ok) > 1 else None,
            "rps_all": ok,
            "p50": med([num(r["p50_us"]) for r in rs]),
            "p99": med([num(r["p99_us"]) for r in rs]),
            "p999": med([num(r.get("p999_us")) for r in rs]),
            "cpu": {k: med([num(r.get("cpu_" + k)) for r in rs]) for k in CPU_TIERS},
            "cpu_all": {k: [num(r.get("cpu_" + k)) for r in rs] for k in CPU_TIERS},
            "non2xx": sum(int(num(r["non2xx"]) or 0) for r in rs),
            "sock": sock,
            "sock_total": sum(sock.values()),
            "statuses": statuses,
            "app_warn": sum(int(r["app_warn"]) for r in rs),
            "nginx_err": sum(int(r["nginx_err"]) for r in rs),
            "raws": [r["raw"] for r in rs],
        }
    return agg


def sock_str(a):
    if a["sock_total"] == 0:
        return "0"
    s = a["sock"]
    return (f"{a['sock_total']} (connect {s['connect']}, read {s['read']}, "
            f"write {s['write']}, timeout {s['timeout']})")


def status_str(st):
    return ", ".join(f"{k}: {v}" for k, v in sorted(st.items())) or "-"


def mem_load(out, who):
    vals = []
    for p in sorted(glob.glob(os.path.join(out, "mem", f"load-{who}-r*.json"))):
        with open(p) as f:
            d = json.load(f)
        if d.get("samples"):
            vals.append(d["max_pss_kb"])
    return vals


def export_stats(out, exports):
    rows = []
    for e in exports:
        r = dict(e)
        mb_s = None
        if num(e["bytes"]) and num(e["seconds"]):
            mb_s = num(e["bytes"]) / 1e6 / num(e["seconds"])
        r["mb_s"] = mb_s
        grow = {"rss": None, "pss": None, "priv": None}
        grow_any = {"rss": 0, "pss": 0, "priv": 0}
        p = os.path.join(out, e["memfile"])
        if os.path.exists(p):
            with open(p) as f:
                d = json.load(f)
            r["samples"] = d["samples"]
            for pid, v in d["per_pid"].items():
                for k in grow:
                    g = v["max"][k] - v["base"][k]
                    grow_any[k] = max(grow_any[k], g)
                    if pid == e["worker_pid"]:
                        grow[k] = g
        r["grow"] = grow
        r["grow_any"] = grow_any
        rows.append(r)
    return rows


def build(meta, runs, idle, exports, out):
    agg = aggregate(runs)
    concs = sorted({c for (_, c) in agg})
    high = [int(c) for c in meta.get("high_concurrency", "").split()]
    main_concs = [c for c in concs if c not in high] or concs
    md = []
    txt = []

    # --- header
    md.append(f"Generated by `bench/run.sh` on {meta.get('date')}"
              + (" (**quick mode**: a sanity check, not a result)" if meta.get("quick") == "1" else "")
              + ".")
    md.append("")
    md.append("## Run")
    md.append("")
    md.append(f"- commit: `{meta.get('commit')}`"
              + (f" (uncommitted changes in: {meta.get('dirty_files').strip()})"
                 if meta.get("commit", "").endswith("-dirty") else "")
              + (f"; the working tree as built is saved in the run's output directory "
                 f"(`worktree.diff`, `worktree-untracked.tar.gz`; sha256 of both "
                 f"`{meta.get('worktree_sha')}`)"
                 if meta.get("commit", "").endswith("-dirty") else ""))
    hae = meta.get("head_at_end")
    if hae and hae != "-" and not meta.get("commit", "").startswith(hae):
        md.append(f"- (HEAD moved to `{hae}` while the benchmark ran; what was measured "
                  f"is the tree as built at the start)")
    md.append(f"- machine: {meta.get('nproc')} CPUs ({meta.get('cpu')}), "
              f"{meta.get('mem_total')} RAM, {meta.get('kernel')}, {meta.get('os')}; "
              f"shared with other work: load average {meta.get('loadavg_start')} at the start, "
              f"{meta.get('loadavg_end')} at the end")
    md.append(f"- versions: nginx {meta.get('nginx', '').replace('nginx/', '')}, {meta.get('postgres')}, "
              f"{meta.get('pgbench')}, {meta.get('wrk')}, libfcgi {meta.get('libfcgi')}, "
              f"{meta.get('cc')}")
    md.append(f"- build: CFLAGS `{meta.get('cflags')}` (plus configure's warning and "
              f"hardening flags); the pool: its master and {meta.get('workers')} worker processes when idle "
              f"(taskapi's defaults unless BENCH_WORKERS was set)"
              + (f"; the master logged \"{meta.get('pool_banner')}\"" if meta.get("pool_banner") else ""))
    md.append(f"- method: {meta.get('runs')} run(s) of {meta.get('duration')} s per figure, "
              f"runs interleaved across targets; figures are medians of the runs; non-2xx "
              f"and socket errors are totals over the runs. wrk -t{meta.get('wrk_threads')} "
              f"(one client thread leaves the other core to the server side), "
              f"--timeout {meta.get('wrk_timeout')}s, keep-alive, plain HTTP on loopback. "
              f"Data: {meta.get('tasks')} tasks of the bench user "
              f"(POST adds more during the run) among {meta.get('filler_users')} other users, "
              f"pgbench scale {meta.get('pgbench_scale')}.")
    md.append("")

    # --- main table
    md.append(f"## Throughput and latency (median of {meta.get('runs')} runs)")
    md.append("")
    md.append("| endpoint | c | req/s | spread | p50 ms | p99 ms | non-2xx | socket errors |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---|")
    hdr = f"{'endpoint':<36} {'c':>5} {'req/s':>9} {'spread':>7} {'p50 ms':>7} {'p99 ms':>8} {'non-2xx':>8}  socket errors"
    txt.append(hdr)
    txt.append("-" * len(hdr))
    for t in ORDER:
        for c in main_concs:
            a = agg.get((t, c))
            if not a:
                continue
            spread = "" if a["spread"] is None else f"±{a['spread'] / 2:.0f}%"
            non2xx = str(a["non2xx"]) + (" (failed tx)" if t.startswith("pgbench") and a["non2xx"] else "")
            fr = f" ({a['failed_runs']} run(s) without result)" if a["failed_runs"] else ""
            sock = "n/a" if t.startswith("pgbench") else sock_str(a)
            md.append(f"| {LABEL[t]} | {c} | {fmt_rps(a['rps'])}{fr} | {spread} | "
                      f"{fmt_ms(a['p50'])} | {fmt_ms(a['p99'])} | {non2xx} | {sock} |")
            txt.append(f"{LABEL[t]:<36} {c:>5} {fmt_rps(a['rps']):>9} {spread:>7} "
                       f"{fmt_ms(a['p50']):>7} {fmt_ms(a['p99']):>8} {non2xx:>8}  {sock}{fr}")
    md.append("")
    # --- CPU per request and tails
    md.append(f"## CPU per request, by tier, and tails (median of {meta.get('runs')} runs)")
    md.append("")
    md.append("µs of CPU (utime + stime) per request of each tier's process tree over "
              "the whole run, exited children included (bench/cputiers.py): nginx (the "
              "stack's, or the yardstick's own), app (taskapi's master and workers, or the "
              "Rust server), pg (the postmaster and all its children), client (wrk or "
              "pgbench), server = nginx + app + pg. Only our own trees count, not the other "
              "processes of the same name on this shared machine. p99.9 from wrk's "
              "latency histogram (pgbench: its 5% sample).")
    md.append("")
    md.append("| endpoint | c | req/s | nginx µs | app µs | pg µs | client µs | server µs | p50 ms | p99 ms | p99.9 ms | p99/p50 |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    def fcpu(x):
        return "–" if x is None else f"{x:.1f}"
    for t in ORDER:
        for c in concs:
            a = agg.get((t, c))
            if not a:
                continue
            tail = (f"{a['p99'] / a['p50']:.1f}" if a["p50"] and a["p99"] else "n/a")
            md.append(f"| {LABEL[t]} | {c} | {fmt_rps(a['rps'])} | "
                      + " | ".join(fcpu(a["cpu"][k]) for k in CPU_TIERS)
                      + f" | {fmt_ms(a['p50'])} | {fmt_ms(a['p99'])} | {fmt_ms(a['p999'])} | {tail} |")
    md.append("")
    md.append("spread: half the range of the runs' req/s, relative to the median. "
              "pgbench p50/p99 come from a "
              f"{float(meta.get('pgbench_sampling', 0)) * 100:.0f}% sample of its "
              "transactions (`-l --sampling-rate`); its non-2xx column is "
              "\"number of failed transactions\".")
    md.append("")

    # --- targets
    md.append("## Targets (c=64, against the same run's yardsticks)")
    md.append("")
    md.append("The pgbench targets are rated against pgbench over TCP, the yardstick "
              "they were set with (\"single-row primary-key SELECT, TCP\"; a Rust server "
              "direct ran level with it). The last column is the same ratio against pgbench over "
              "the cluster's unix socket, which is faster here: stricter, for reference.")
    md.append("")
    md.append("| target | measured | goal | result | against pgbench over the unix socket |")
    md.append("|---|---:|---|---|---:|")
    txt.append("")
    txt.append("Targets (c=64, same-run yardsticks)")
    tgt_rows = []
    for t, y, want in RATIO_TARGETS:
        a, b = agg.get((t, 64)), agg.get((y, 64))
        if a and b and a["rps"] and b["rps"]:
            ratio = a["rps"] / b["rps"]
            meas = f"{ratio:.2f}x ({fmt_rps(a['rps'])} / {fmt_rps(b['rps'])})"
            ok = ratio >= want
        else:
            meas, ok = "n/a", None
        unix = ""
        u = agg.get(("pgbench_unix", 64)) if y == "pgbench" else None
        if a and a["rps"] and u and u["rps"]:
            unix = f"{a['rps'] / u['rps']:.2f}x ({fmt_rps(a['rps'])} / {fmt_rps(u['rps'])})"
        tgt_rows.append((f"{LABEL[t]} vs {LABEL[y].replace('yardstick: ', '')}", meas,
                         f">= {want:.2f}x", met(ok), unix))
    for t, y, tier, want in CPU_TARGETS:
        a, b = agg.get((t, 64)), agg.get((y, 64))
        if a and b and a["cpu"][tier] and b["cpu"][tier]:
            ratio = a["cpu"][tier] / b["cpu"][tier]
            meas = f"{ratio:.2f}x ({a['cpu'][tier]:.1f} / {b['cpu'][tier]:.1f} µs)"
            ok = ratio <= want
        else:
            meas, ok = "n/a", None
        tgt_rows.append((f"{LABEL[t]}: {tier} CPU per request vs {LABEL[y].replace('yardstick: ', '')}",
                         meas, f"<= {want:.2f}x", met(ok)))
    for t in APP:
        a = agg.get((t, 64))
        if a and a["p50"] and a["p99"]:
            r = a["p99"] / a["p50"]
            tgt_rows.append((f"{LABEL[t]} p99 / p50", f"{r:.1f}x ({fmt_ms(a['p99'])} / {fmt_ms(a['p50'])} ms)",
                             f"<= {TAIL_RATIO:g}x", met(r <= TAIL_RATIO)))
    a = agg.get(("task_get", 64))
    if a and a["p99"] is not None:
        tgt_rows.append((f"{LABEL['task_get']} p99", f"{a['p99'] / 1000:.2f} ms",
                         f"<= {P99_TARGET_MS:g} ms", met(a["p99"] / 1000 <= P99_TARGET_MS)))
    # errors at c=256 and the high-concurrency pass
    for c in sorted(set([256] + high)):
        errs = [(t, agg[(t, c)]) for t in APP if (t, c) in agg]
        if not errs:
            continue
        non2 = sum(x["non2xx"] for _, x in errs)
        sock = sum(x["sock_total"] for _, x in errs)
        nores = sum(x["failed_runs"] for _, x in errs)
        names = ", ".join(t for t, _ in errs)
        ngx5 = sum(n for _, x in errs for code, n in x["statuses"].items()
                   if code.startswith("5"))
        ok = non2 == 0 and sock == 0 and nores == 0
        res = met(ok)
        if ok and ngx5:
            res = (f"met by wrk's count, **but nginx logged {ngx5} x 5xx** (sent "
                   f"as the run ended, to connections wrk had closed; see the logs below)")
        tgt_rows.append((f"no non-2xx / socket errors at c={c} ({names})",
                         f"{non2} non-2xx, {sock} socket errors"
                         + (f", {nores} run(s) without result" if nores else ""),
                         "0 and 0", res))
    pool_idle = idle.get("pool_idle_before")
    if pool_idle:
        tgt_rows.append(("pool PSS idle (before load)", fmt_mib(pool_idle["pss"]),
                         f"<= {POOL_IDLE_MIB:g} MiB", met(mib(pool_idle["pss"]) <= POOL_IDLE_MIB)))
    loads = mem_load(out, "pool")
    if loads:
        m = med(loads)
        tgt_rows.append(("pool PSS under load (c=64 GET task)", fmt_mib(m),
                         f"<= {POOL_LOAD_MIB:g} MiB", met(mib(m) <= POOL_LOAD_MIB)))
    ex = export_stats(out, exports)
    if ex:
        g = [r["grow"]["rss"] if r["grow"]["rss"] is not None else r["grow_any"]["rss"] for r in ex]
        worst = max(g)
        tgt_rows.append(("export: worker memory growth while streaming (RSS, worst run)",
                         fmt_mib(worst), f"< {EXPORT_GROWTH_MIB:g} MiB",
                         met(mib(worst) < EXPORT_GROWTH_MIB)))
    for row in tgt_rows:
        row = tuple(row) + ("",) * (5 - len(row))
        md.append("| " + " | ".join(row) + " |")
        txt.append(f"  {row[3].replace('*', ''):<7} {row[0]}: {row[1]} (goal {row[2]})"
                   + (f"; unix socket: {row[4]}" if row[4] else ""))
    md.append("")

    # --- high concurrency detail
    if high:
        md.append("## Errors at high concurrency")
        md.append("")
        md.append("| endpoint | c | runs | req/s (median) | p99 ms | non-2xx | socket errors | statuses nginx logged |")
        md.append("|---|---:|---:|---:|---:|---:|---|---|")
        txt.append("")
        txt.append("High concurrency (errors)")
        for t in ORDER:
            for c in high:
                a = agg.get((t, c))
                if not a:
                    continue
                md.append(f"| {LABEL[t]} | {c} | {a['n']} | {fmt_rps(a['rps'])} | "
                          f"{fmt_ms(a['p99'])} | {a['non2xx']} | {sock_str(a)} | "
                          f"{status_str(a['statuses'])} |")
                txt.append(f"  {LABEL[t]:<34} c={c}: {fmt_rps(a['rps'])} req/s, p99 "
                           f"{fmt_ms(a['p99'])} ms, non-2xx {a['non2xx']}, socket errors "
                           f"{sock_str(a)}; statuses {status_str(a['statuses'])}")
        md.append("")

    # --- memory
    md.append("## Memory (PSS from /proc/PID/smaps_rollup)")
    md.append("")
    md.append("| what | PSS | RSS (sum) | processes |")
    md.append("|---|---:|---:|---:|")
    txt.append("")
    txt.append("Memory (PSS)")
    for key, label in (("pool_idle_before", "pool (master + workers), idle before load"),
                       ("pool_idle_after", "pool, idle after load (past the idle timeout)"),
                       ("nginx_idle_before", "stack nginx (master + worker), idle before load"),
                       ("nginx_idle_after", "stack nginx, idle after load")):
        v = idle.get(key)
        if v:
            md.append(f"| {label} | {fmt_mib(v['pss'])} | {fmt_mib(v['rss'])} | {v['pids']} |")
            txt.append(f"  {label}: {fmt_mib(v['pss'])} (RSS {fmt_mib(v['rss'])}, {v['pids']} processes)")
    for who, label in (("pool", "pool"), ("nginx", "stack nginx")):
        vals = mem_load(out, who)
        if vals:
            s = f"{fmt_mib(med(vals))} (runs: " + ", ".join(fmt_mib(v) for v in vals) + ")"
            md.append(f"| {label}, under load: max of 0.5 s samples during c=64 GET task, "
                      f"median of runs | {s} | | |")
            txt.append(f"  {label} under load (c=64 GET task): {s}")
    # The pool process whose PSS grew most from idle-before to idle-after.
    try:
        with open(os.path.join(out, "mem", "idle-before.json")) as f:
            before = json.load(f)["per_pid"]
        with open(os.path.join(out, "mem", "idle-after.json")) as f:
            after = json.load(f)["per_pid"]
        common = [p for p in after if p in before]
        if common:
            p = max(common, key=lambda q: after[q]["pss"] - before[q]["pss"])
            loads = []
            for lp in sorted(glob.glob(os.path.join(out, "mem", "load-pool-r*.json"))):
                with open(lp) as f:
                    d = json.load(f)["per_pid"]
                if p in d:
                    loads.append(fmt_mib(d[p]["max"]["pss"]))
            md.append(f"| the pool process that grew most (pid {p}): idle before → under "
                      f"load (each run) → idle after | {fmt_mib(before[p]['pss'])} → "
                      f"{' / '.join(loads) or 'n/a'} → {fmt_mib(after[p]['pss'])} | "
                      f"{fmt_mib(before[p]['rss'])} → {fmt_mib(after[p]['rss'])} | 1 |")
            txt.append(f"  pool process that grew most, pid {p}: PSS {fmt_mib(before[p]['pss'])} "
                       f"idle before, {' / '.join(loads) or 'n/a'} under load, "
                       f"{fmt_mib(after[p]['pss'])} idle after")
    except (OSError, ValueError, KeyError):
        pass
    privs = []
    for name in ("idle-before", "idle-after"):
        try:
            with open(os.path.join(out, "mem", f"{name}.json")) as f:
                privs.append(sum(v["priv"] for v in json.load(f)["per_pid"].values()))
        except (OSError, ValueError, KeyError):
            privs.append(None)
    md.append("")
    md.append(f"Private memory of the pool (Private_Clean + Private_Dirty summed over its "
              f"processes, one sample; unlike PSS it does not depend on what else runs on "
              f"the machine): {fmt_mib(privs[0])} idle before load, {fmt_mib(privs[1])} "
              f"idle after. PSS divides each shared page (libc, libpq, ...) among all the "
              f"processes on the machine that map it, so the same pool shows a different PSS "
              f"when other stacks run next to it.")
    txt.append(f"  pool private memory: {fmt_mib(privs[0])} idle before, {fmt_mib(privs[1])} idle after")
    md.append("")
    md.append("Order matters for the under-load figure: run 1 of c=64 GET task comes "
              "before any c=256 load, runs 2 and 3 after one (run 1 of c=256), and the "
              "idle-after figure follows the c=1024 pass; memory a process keeps after a "
              "burst shows up in all later figures.")
    md.append("")
    md.append("Summing PSS over the pool counts the pages its processes share (the "
              "binary, the scoreboard) once. Idle is the median of 3 samples 1 s apart.")
    md.append("")

    # --- what the idle pool's size costs the first request after it
    lp = os.path.join(out, "login.tsv")
    if os.path.exists(lp):
        with open(lp) as f:
            rounds = list(csv.DictReader(f, delimiter="\t"))

        def secs(v):
            try:
                return float(v) * 1000.0
            except ValueError:
                return None
        cold = [x for x in (secs(r["cold_s"]) for r in rounds) if x is not None]
        warm = [x for r in rounds for k in ("warm1_s", "warm2_s", "warm3_s")
                if (x := secs(r[k])) is not None]
        if cold and warm:
            line = (f"POST /api/v1/auth/login after {meta.get('idle_wait', '?')} s idle: "
                    f"{med(cold):.1f} ms (median of {len(cold)} rounds: "
                    + ", ".join(f"{x:.1f}" for x in cold)
                    + f"); straight after, warm: {med(warm):.1f} ms (median of {len(warm)}). "
                    f"Pool processes besides the master before each round: "
                    + ", ".join(r["workers_before"] for r in rounds) + ".")
            md.append("## First request after an idle spell")
            md.append("")
            md.append(line + " The difference is what the idle pool's size costs: with "
                      "TASKAPI_SPARE_WORKERS=0 no blocking worker waits idle, and the first "
                      "request forks one and waits for its database connection.")
            md.append("")
            txt.append("  " + line)

    # --- export
    if ex:
        md.append(f"## Export ({meta.get('export_tasks')} tasks, GET /api/v1/tasks/export)")
        md.append("")
        md.append("| run | HTTP | lines | bytes | seconds | MB/s | worker | RSS growth | PSS growth | private growth | max RSS growth of any pool process |")
        md.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        txt.append("")
        txt.append("Export")
        for r in ex:
            g = r["grow"]
            mbs_s = "n/a" if r["mb_s"] is None else f"{r['mb_s']:.1f}"
            md.append(f"| {r['rep']} | {r['http_code']} | {r['lines']} | {r['bytes']} | "
                      f"{r['seconds']} | {mbs_s} | "
                      f"{r['worker_pid']} | {fmt_mib(g['rss'])} | {fmt_mib(g['pss'])} | "
                      f"{fmt_mib(g['priv'])} | {fmt_mib(r['grow_any']['rss'])} |")
            txt.append(f"  run {r['rep']}: HTTP {r['http_code']}, {r['lines']} lines, "
                       f"{r['bytes']} bytes, {r['seconds']} s, "
                       f"{mbs_s} MB/s; worker "
                       f"{r['worker_pid']} RSS +{fmt_mib(g['rss'])}, PSS +{fmt_mib(g['pss'])}")
        mbs = med([r["mb_s"] for r in ex])
        lines_ok = all(r["lines"] == meta.get("export_tasks") for r in ex)
        md.append("")
        md.append(f"Median {('n/a' if mbs is None else f'{mbs:.1f}')} MB/s (10^6 bytes/s, "
                  f"curl to `wc -l` over loopback through nginx, buffering off for this "
                  f"location). Line count equals {meta.get('export_tasks')} in every run: "
                  f"{'yes' if lines_ok else '**no**'}. Growth is the worker's largest sample "
                  f"minus its sample before the request, sampled every 0.1 s; the worker is "
                  f"the pid the pool logged for the export request.")
        md.append("")
        txt.append(f"  median {('n/a' if mbs is None else f'{mbs:.1f}')} MB/s; line counts "
                   f"{'OK' if lines_ok else 'WRONG'}")

    # --- log lines
    noisy = [(k, a) for k, a in sorted(agg.items()) if a["app_warn"] or a["nginx_err"]
             or any(code[0] != "2" and code != "499" for code in a["statuses"])]
    md.append("## What the stack logged")
    md.append("")
    if not noisy:
        md.append("No warn/error line in taskapi.log, nothing in nginx-error.log, and no "
                  "status other than 2xx and 499 (below) in nginx's access log during the "
                  "measured runs.")
    else:
        md.append("| endpoint | c | statuses nginx logged | taskapi.log warn/error lines | nginx-error.log lines | raw files |")
        md.append("|---|---:|---|---:|---:|---|")
        for (t, c), a in noisy:
            md.append(f"| {LABEL[t]} | {c} | {status_str(a['statuses'])} | {a['app_warn']} | "
                      f"{a['nginx_err']} | {', '.join('`' + x + '`' for x in a['raws'][:1])}... |")
        md.append("")
        md.append("The lines themselves are next to the raw wrk output "
                  "(`*.applog`, `*.nginxerr` under the run's output directory).")
    md.append("")
    md.append("499 is nginx's code for \"the client closed the connection before the "
              "response\": wrk closes its connections with requests in flight when a run "
              "ends, so about one 499 per connection is expected and not an error.")
    md.append("")
    windows = run_windows(out)
    ct = crash_timing(out, windows) if windows else None
    if ct and ct["during"] + ct["at_end"] + ct["other"]:
        n = ct["during"] + ct["at_end"] + ct["other"]
        lag = ""
        if ct["lags_ms"]:
            lag = (f" (from {min(ct['lags_ms']):.0f} to {max(ct['lags_ms']):.0f} ms "
                   f"after wrk exited)")
        line = (f"**Pool processes died {n} times during the session**: {ct['at_end']} "
                f"within the last 0.5 s of a wrk run or 1 s after it{lag}, the moment wrk "
                f"closes its connections with requests in flight; {ct['during']} while "
                f"wrk was loading; {ct['other']} outside the wrk runs (pgbench runs, "
                f"export, idle). See `taskapi-warn-error.log` in the run's output directory.")
        md.append(line)
        md.append("")
        txt.append("")
        txt.append(line.replace("**", ""))
    app_groups, ngx_groups = log_groups(out)
    if app_groups or ngx_groups:
        md.append("### Log lines, grouped (numbers of 3+ digits replaced by N; warm-up runs included)")
        md.append("")
        txt.append("")
        txt.append("Log lines during the runs (grouped)")
        for title, groups in (("taskapi.log (warn/error and non-JSON lines)", app_groups),
                              ("nginx-error.log", ngx_groups)):
            if not groups:
                continue
            md.append(f"{title}:")
            md.append("")
            md.append("| count | message | runs |")
            md.append("|---:|---|---|")
            for msg, (n, tags) in sorted(groups.items(), key=lambda x: -x[1][0]):
                shown = ", ".join(sorted(tags)[:6]) + (", ..." if len(tags) > 6 else "")
                md.append(f"| {n} | `{msg}` | {shown} |")
                txt.append(f"  {n:>6}  {msg[:110]}  [{shown}]")
            md.append("")

    # --- method notes
    md.append("## How the yardsticks are run")
    md.append("")
    md.append(f"- nginx static: a second nginx started by bench/run.sh (the same nginx "
              f"binary, `worker_processes 1`, worker_connections 4096, "
              f"keepalive_timeout 15s, no access log) whose only location is `location = "
              f"/health {{ return 200 '{{\"status\":\"ok\",\"database\":\"ok\"}}'; }}`, on "
              f"port {meta.get('static_port')}. A separate instance because nginx/ is not "
              f"the benchmark's to edit and the stack's generated config includes only its "
              f"own files. The stack's nginx also writes a JSON access log line and adds "
              f"its security/CORS headers per request; the yardstick does neither.")
    md.append("- pgbench: `pgbench -S -M prepared -c C -j 1 -T D -n` on a scale-"
              f"{meta.get('pgbench_scale')} `pgbench` database in the stack's own "
              "PostgreSQL cluster, as the role `bench_pgbench` (SELECT on the pgbench "
              "tables only), twice: over **TCP** to 127.0.0.1 like the targets' figure "
              "(the one the targets use; the role logs in by SCRAM once per client, "
              "before the timed part) and over the cluster's **unix socket**. The "
              "bench stack's cluster listens on 127.0.0.1 for that role alone "
              "(bench/pg-tcp.sh); taskapi itself uses the unix socket.")
    md.append("- minimal FastCGI pass: a third nginx (same binary, `worker_processes 1`, no "
              "access log, no added headers, no maps, no error pages) whose one location "
              "passes every request to the stack's own event-worker socket with upstream "
              "keepalive and `fastcgi_keep_conn on`, and three params (method, URI, "
              "Authorization). The shipped configuration's nginx CPU per request is rated "
              "against it. The stack's nginx runs one worker per CPU (`worker_processes "
              "auto`); CPU per request does not depend on how many workers share it.")
    md.append("- Rust: bench/experiments/rust-yardstick (hyper + tokio + tokio-postgres, the "
              "same SQL, token check and fields), built from Debian's crates "
              "(bench/rust-yardstick.sh), direct and behind an nginx (proxy_pass, upstream "
              "keepalive, no access log), on the same PostgreSQL.")
    md.append("- All the yardsticks run in the same session, interleaved with the endpoints, "
              "so the ratios compare like with like on this shared machine.")
    return "\n".join(md), "\n".join(txt)


def _norm(msg):
    # pids, connection numbers, times: 3+ digits; signal and errno numbers stay.
    return re.sub(r"\d{3,}", "N", msg).strip()


def run_windows(out):
    """[(start, end, tag)] of every wrk run, from the BENCHTIME lines."""
    w = []
    for p in glob.glob(os.path.join(out, "raw", "*.txt")):
        with open(p, errors="replace") as f:
            for line in f:
                m = re.match(r"BENCHTIME start=([\d.]+) end=([\d.]+)", line)
                if m:
                    w.append((float(m.group(1)), float(m.group(2)),
                              os.path.basename(p)[:-4]))
    return sorted(w)


def crash_timing(out, windows):
    """Worker deaths: how many while wrk was sending load, how many within
    1 s after a wrk run ended (its connections closed with requests in
    flight), how many elsewhere."""
    import datetime
    res = {"during": 0, "at_end": 0, "other": 0, "lags_ms": []}
    p = os.path.join(out, "taskapi-warn-error.log")
    if not os.path.exists(p):
        return None
    with open(p, errors="replace") as f:
        for line in f:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if "killed by signal" not in str(d.get("msg")) and "exited" not in str(d.get("msg")):
                continue
            t = datetime.datetime.strptime(d["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            kind = "other"
            for s, e, _ in windows:
                if e - 0.5 <= t <= e + 1.0:
                    kind = "at_end"
                    res["lags_ms"].append((t - e) * 1000)
                    break
                if s <= t < e - 0.5:
                    kind = "during"
                    break
            res[kind] += 1
    return res


def log_groups(out):
    """Groups the warn/error lines saved per run by message."""
    app, ngx = {}, {}
    for p in sorted(glob.glob(os.path.join(out, "raw", "*.txt.applog"))):
        tag = os.path.basename(p)[:-len(".txt.applog")]
        with open(p, errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                try:
                    d = json.loads(line)
                    msg = f"{d.get('level')} {d.get('role')}: {d.get('msg')}"
                except ValueError:
                    msg = line
                k = _norm(msg)[:160]
                n, tags = app.get(k, (0, set()))
                tags.add(tag)
                app[k] = (n + 1, tags)
    for p in sorted(glob.glob(os.path.join(out, "raw", "*.txt.nginxerr"))):
        tag = os.path.basename(p)[:-len(".txt.nginxerr")]
        with open(p, errors="replace") as f:
            for line in f:
                m = re.search(r"\[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*?)(?:, client: .*)?$", line)
                msg = f"[{m.group(1)}] {m.group(2)}" if m else line.strip()
                k = _norm(msg)[:160]
                n, tags = ngx.get(k, (0, set()))
                tags.add(tag)
                ngx[k] = (n + 1, tags)
    return app, ngx


NOTES_TEMPLATE = """## Notes

(Filled by hand: what was tried, rejected levers, anything odd about a run.)
"""


def merge(path, block):
    head = "# taskapi benchmark results\n\n"
    gen = f"{BEGIN}\n{block}\n{END}\n"
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if BEGIN in old and END in old:
            pre, _, rest = old.partition(BEGIN)
            _, _, post = rest.partition(END)
            if post.strip():
                new = pre + gen + "\n" + post.lstrip("\n")
            else:
                new = pre + gen + "\n" + NOTES_TEMPLATE
        else:
            i = old.find("## Notes")
            notes = old[i:] if i >= 0 else NOTES_TEMPLATE
            new = head + gen + "\n" + notes
    else:
        new = head + gen + "\n" + NOTES_TEMPLATE
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: report.py OUT RESULTS.md")
    out, results = sys.argv[1], sys.argv[2]
    meta, runs, idle, exports = load(out)
    block, text = build(meta, runs, idle, exports, out)
    with open(os.path.join(out, "RESULTS.block.md"), "w") as f:
        f.write(block + "\n")
    merge(results, block)
    print()
    print(f"taskapi bench, commit {meta.get('commit')}, {meta.get('date')}, "
          f"{meta.get('nproc')} CPUs, median of {meta.get('runs')} x {meta.get('duration')} s")
    print()
    print(text)
    print()


if __name__ == "__main__":
    main()
