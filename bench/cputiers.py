#!/usr/bin/env python3
"""bench/cputiers.py: CPU time of process trees, for µs of CPU per request.

    cputiers.py snap NAME=PID [NAME=PID ...] > snapshot
    cputiers.py delta BEFORE AFTER REQUESTS > "NAME=US NAME=US ... total=US"

A snapshot gives, for each named root (the stack's nginx master, the
pool's master, the postmaster, a yardstick), the CPU ticks (utime + stime
from /proc/PID/stat) of the root and every live descendant, plus the
cutime + cstime of each of them: what their children that have already
exited and been reaped used.  So a worker replaced during the measured
interval still counts (its time moves from its own line to its parent's
cutime when it is reaped), and nothing outside the trees does: the
machine is shared with other stacks whose nginx and postgres processes
have the same names, which a match on the command name would add in.

delta divides each tree's ticks between two snapshots by REQUESTS and
prints microseconds per request; names missing from either side are left
out.  A tree whose root is gone (or was never there) counts zero.
"""
import os
import sys


def read_stats():
    """pid -> (ppid, utime+stime, cutime+cstime), in clock ticks."""
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                s = f.read().decode("ascii", "replace")
        except OSError:
            continue  # exited meanwhile
        # comm may hold spaces and parentheses: split after the last ')'.
        rest = s[s.rindex(")") + 2:].split()
        # rest[0] is field 3 (state): ppid is field 4, utime..cstime 14..17.
        procs[int(d)] = (int(rest[1]), int(rest[11]) + int(rest[12]),
                         int(rest[13]) + int(rest[14]))
    return procs


def snap(roots):
    procs = read_stats()
    children = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out = []
    for name, root in roots:
        ticks = 0
        todo = [root] if root in procs else []
        while todo:
            pid = todo.pop()
            _, own, reaped = procs[pid]
            ticks += own + reaped
            todo.extend(children.get(pid, ()))
        out.append(f"{name} {ticks}")
    return out


def load(path):
    vals = {}
    with open(path) as f:
        for line in f:
            name, ticks = line.split()
            vals[name] = int(ticks)
    return vals


def main(argv):
    if len(argv) >= 2 and argv[1] == "snap":
        roots = []
        for arg in argv[2:]:
            name, _, pid = arg.partition("=")
            roots.append((name, int(pid) if pid.isdigit() else -1))
        print("\n".join(snap(roots)))
        return 0
    if len(argv) == 5 and argv[1] == "delta":
        a, b, n = load(argv[2]), load(argv[3]), float(argv[4])
        hz = os.sysconf("SC_CLK_TCK")
        if n <= 0:
            print("")
            return 0
        cells, total = [], 0.0
        for name in a:
            if name not in b:
                continue
            us = (b[name] - a[name]) * 1e6 / hz / n
            total += us
            cells.append(f"{name}={us:.1f}")
        cells.append(f"total={total:.1f}")
        print(" ".join(cells))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
