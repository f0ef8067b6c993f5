#!/usr/bin/env python3
"""include-cycles.py: fails when two parts of src/ depend on each other.

    build-aux/include-cycles.py [BUILDDIR]

Two graphs, each checked for cycles (printed one path each):

1. The include graph, from the `#include "..."` lines of src/*.c and
   src/*.h.  A module is a file's name without .c or .h (x.c and x.h are
   module x); any other included file (endpoints.def) is a node of its
   own.  x depends on y when a file of x includes y.h.

2. With BUILDDIR, the link graph of the objects in
   BUILDDIR/src/libtaskapi.a (nm): x.o depends on y.o when it uses a
   symbol y.o defines.  A header implemented by several files (handlers.h:
   one h_*.c per resource) is a single node in the first graph, so a call
   from a handler back into the file that calls the handlers (as the
   renders once lived in app.c) shows only here.

Exits 0 without a cycle, 1 with one, 2 when it cannot read its input.
"""
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module(name):
    base = os.path.basename(name)
    stem, ext = os.path.splitext(base)
    return stem if ext in ('.c', '.h') else base


def include_graph(srcdir):
    graph = {}
    for f in sorted(os.listdir(srcdir)):
        if not f.endswith(('.c', '.h', '.def')):
            continue
        with open(os.path.join(srcdir, f), encoding='utf-8') as fh:
            text = fh.read()
        a = module(f)
        graph.setdefault(a, set())
        for inc in INCLUDE.findall(text):
            if inc == 'config.h':  # autoconf's, not ours
                continue
            b = module(inc)
            if b != a:
                graph[a].add(b)
                graph.setdefault(b, set())
    return graph


def nm(args, lib):
    try:
        out = subprocess.run(['nm', '-A'] + args + [lib], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit('include-cycles: nm %s: %s' % (lib, e))
    for line in out.splitlines():
        # "lib.a:app.o:                 U render_one"
        head, _, rest = line.rpartition(':')
        obj = head.rsplit(':', 1)[-1]
        fields = rest.split()
        if len(fields) >= 2:
            yield obj, fields[-2], fields[-1]


def link_graph(lib):
    defined = {}
    graph = {}
    for obj, kind, sym in nm(['--defined-only', '-g'], lib):
        if kind in 'TDBRCV':
            defined[sym] = module(obj.replace('.o', '.c'))
        graph.setdefault(module(obj.replace('.o', '.c')), set())
    for obj, _, sym in nm(['-u'], lib):
        a = module(obj.replace('.o', '.c'))
        b = defined.get(sym)
        if b is not None and b != a:
            graph.setdefault(a, set()).add(b)
    return graph


def cycles(graph):
    """One cycle per strongly connected component (Tarjan)."""
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                sccs.append(set(scc))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    found = []
    for scc in sccs:
        # A shortest way back to the start, inside the component.
        start = min(scc)
        prev, todo = {start: None}, [start]
        path = None
        while todo and path is None:
            nxt = []
            for v in todo:
                for w in sorted(graph[v] & scc):
                    if w == start:
                        path = [v]
                        while prev[path[-1]] is not None:
                            path.append(prev[path[-1]])
                        path.reverse()
                        break
                    if w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if path is not None:
                    break
            todo = nxt
        found.append((sorted(scc), path + [start]))
    return found


def main():
    srcdir = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          '..', 'src')
    bad = False
    for c in cycles(include_graph(srcdir)):
        print('include cycle: %s (modules %s)' % (' -> '.join(c[1]),
                                                    ', '.join(c[0])))
        bad = True
    if len(sys.argv) > 1:
        lib = os.path.join(sys.argv[1], 'src', 'libtaskapi.a')
        if not os.path.exists(lib):
            print('include-cycles: no %s: build first' % lib,
                  file=sys.stderr)
            return 2
        for c in cycles(link_graph(lib)):
            print('link cycle: %s (objects %s)' % (' -> '.join(c[1]),
                                                  ', '.join(c[0])))
            bad = True
    if not bad:
        print('include-cycles: none')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
