#!/usr/bin/env python3
"""bench/soak-sample.py METRICS_URL PG_SOCKET_DIR PG_PORT SECONDS OUT.tsv

Once a second, for bench/soak.sh: the event workers' segment histograms
from /metrics (taskapi_ev_segment_seconds, as deltas since the previous
second: turns or statements in total, over 25 ms, over 100 ms, and the
sum of their time), the load average, the share of CPU time the machine
spent waiting on the disk (iowait) and taken by the hypervisor (steal);
every 5 s PostgreSQL's checkpoint and WAL counters and the number of
files in pg_wal (one more: a WAL segment was created, not recycled) (psql
as postgres over the stack's unix socket).  One
TSV line per second; stops after SECONDS or on SIGTERM.
"""
import re
import signal
import subprocess
import sys
import time
import urllib.request

url, pgdir, pgport, secs, out = sys.argv[1:6]
secs = int(secs)
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
LINE = re.compile(r'^taskapi_ev_segment_seconds_(bucket|sum|count)\{segment="(\w+)"(?:,le="([^"]+)")?\} (\S+)$')
SEGS = ("loop", "queue", "db")


def scrape():
    v = {}
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        kind, seg, le, val = m.groups()
        v[(kind, seg, le)] = float(val)
    return v


PGQ = ("SELECT b.checkpoints_timed, b.checkpoints_req, b.buffers_checkpoint, "
       "b.buffers_backend, b.buffers_backend_fsync, w.wal_sync, w.wal_sync_time, "
       "w.wal_write, w.wal_bytes, (SELECT count(*) FROM pg_ls_waldir()) "
       "FROM pg_stat_bgwriter b, pg_stat_wal w")


def pgstat():
    try:
        r = subprocess.run(["psql", "-X", "-At", "-F", "\t", "-h", pgdir, "-p", pgport,
                            "-U", "postgres", "-d", "postgres", "-c", PGQ],
                           capture_output=True, text=True, timeout=4)
        return r.stdout.strip().split("\t") if r.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


cols = ["t", "loadavg1"]
for s in SEGS:
    cols += [f"{s}_n", f"{s}_over25ms", f"{s}_over100ms", f"{s}_sum_ms"]
cols += ["ckpt_timed", "ckpt_req", "buf_ckpt", "buf_backend", "buf_backend_fsync",
         "wal_sync", "wal_sync_time_ms", "wal_write", "wal_bytes", "wal_files",
         "iowait_pct", "steal_pct", "dirty_mb", "writeback_mb"]


def meminfo_mb(keys):
    """/proc/meminfo's values of keys, in MB: the page cache waiting to be
    written (Dirty) and being written (Writeback).  The stack's logs
    (nginx's access log and the app's, about 1 KB a request together) are
    most of what this machine writes under load."""
    v = {}
    with open("/proc/meminfo") as mi:
        for line in mi:
            k, _, rest = line.partition(":")
            if k in keys:
                v[k] = int(rest.split()[0]) / 1024
    return [f"{v.get(k, 0):.0f}" for k in keys]


def cpu_times():
    """The machine's "cpu" line of /proc/stat: (total, iowait, steal) ticks."""
    with open("/proc/stat") as st:
        v = [int(x) for x in st.readline().split()[1:]]
    return sum(v), v[4], (v[7] if len(v) > 7 else 0)


prev = None
prev_cpu = cpu_times()
NPG = 10
pg = [""] * NPG
t0 = time.time()
with open(out, "w") as f:
    f.write("\t".join(cols) + "\n")
    n = 0
    while not stop and time.time() - t0 < secs:
        tick = t0 + n + 1
        time.sleep(max(0.0, tick - time.time()))
        n += 1
        cur = scrape()
        if n % 5 == 1:
            pg = pgstat() or [""] * NPG
        with open("/proc/loadavg") as la:
            load = la.read().split()[0]
        row = [time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), load]
        for s in SEGS:
            if cur is None or prev is None:
                row += ["", "", "", ""]
                continue

            def d(key):
                return cur.get(key, 0.0) - prev.get(key, 0.0)
            total = d(("count", s, None))
            le25 = d(("bucket", s, "0.025"))
            le100 = d(("bucket", s, "0.1"))
            row += [f"{total:.0f}", f"{total - le25:.0f}", f"{total - le100:.0f}",
                    f"{d(('sum', s, None)) * 1000:.1f}"]
        row += pg
        cpu = cpu_times()
        total = max(1, cpu[0] - prev_cpu[0])
        row += [f"{100 * (cpu[1] - prev_cpu[1]) / total:.0f}", f"{100 * (cpu[2] - prev_cpu[2]) / total:.0f}"]
        prev_cpu = cpu
        row += meminfo_mb(("Dirty", "Writeback"))
        f.write("\t".join(row) + "\n")
        f.flush()
        if cur is not None:
            prev = cur
