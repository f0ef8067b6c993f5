#!/usr/bin/env python3
"""memwatch.py: memory of a process tree (a root pid and its children),
read from /proc/PID/smaps_rollup.

  memwatch.py once ROOT_PID
      one sample; prints JSON {"pids": n, "pss_kb": .., "rss_kb": ..,
      "per_pid": {pid: {"rss": kB, "pss": kB, "priv": kB}}}

  memwatch.py watch ROOT_PID INTERVAL OUT.json
      samples every INTERVAL seconds until SIGTERM/SIGINT, then writes
      OUT.json: the number of samples, the largest total PSS and RSS of
      the tree, and for every pid seen its first sample ("base") and its
      largest RSS / PSS / Private_Dirty+Private_Clean ("max").

The tree is the root and its direct children (taskapi: the master and its
workers; nginx: the master and its workers), listed from
/proc/ROOT/task/ROOT/children at every sample, so respawned workers are
picked up.  All figures are kB as the kernel reports them (KiB).
"""
import json
import signal
import sys
import time


def children(root):
    try:
        with open(f"/proc/{root}/task/{root}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def rollup(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k, _, rest = line.partition(":")
                if k in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
                    out[k] = int(rest.split()[0])
    except (OSError, ValueError):
        return None
    if "Pss" not in out:
        return None
    return {"rss": out.get("Rss", 0), "pss": out["Pss"],
            "priv": out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)}


def sample(root):
    per = {}
    for pid in [root] + children(root):
        r = rollup(pid)
        if r is not None:
            per[pid] = r
    return per


def once(root):
    per = sample(root)
    print(json.dumps({
        "pids": len(per),
        "pss_kb": sum(v["pss"] for v in per.values()),
        "rss_kb": sum(v["rss"] for v in per.values()),
        "per_pid": {str(k): v for k, v in per.items()},
    }))


def watch(root, interval, out):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    n = 0
    max_pss = max_rss = 0
    base, peak = {}, {}
    while not stop:
        per = sample(root)
        n += 1
        max_pss = max(max_pss, sum(v["pss"] for v in per.values()))
        max_rss = max(max_rss, sum(v["rss"] for v in per.values()))
        for pid, v in per.items():
            if pid not in base:
                base[pid] = dict(v)
                peak[pid] = dict(v)
            else:
                for k in v:
                    peak[pid][k] = max(peak[pid][k], v[k])
        # Sleep in small steps so a stop request is honoured quickly.
        t_end = time.monotonic() + interval
        while not stop and time.monotonic() < t_end:
            time.sleep(min(0.05, interval))
    with open(out, "w") as f:
        json.dump({
            "samples": n,
            "max_pss_kb": max_pss,
            "max_rss_kb": max_rss,
            "per_pid": {str(p): {"base": base[p], "max": peak[p]} for p in base},
        }, f)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "once":
        once(int(sys.argv[2]))
    elif len(sys.argv) == 5 and sys.argv[1] == "watch":
        watch(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
