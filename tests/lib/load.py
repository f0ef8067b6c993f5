#!/usr/bin/env python3
"""tests/lib/load.py: the one load client of the integration tests.

One process, standard library only, so the load a test makes does not
depend on how fast the machine starts processes (a curl costs ~15 ms of
CPU on a small machine: a shell loop of them makes ~70 requests/s, less
than the limits under test).  Every run is bounded by a COUNT of
requests, or ends when the test says so (a stop file), never by a
duration; --cap-seconds only keeps a broken run from hanging, and a run
that hits it says so ("capped=yes").

  load.py run    concurrent requests; one line per answered request
  load.py plan   a request plan: each client its own sequence of
                 requests, the clients at once
  load.py slow   slow clients that dribble a request, each measuring
                 when the server cut it off, plus requests made while
                 they are all connected

`load.py run` writes to --out one line per request, in the order they
complete (flushed at once, so a test can count progress with wc -l):

    STATUS ID KIND MS END_MS PATH

STATUS is the HTTP status (000: no answer; KIND then names the error),
ID the "id" member of a JSON object body ("-" if none), KIND json (a
JSON object), raw (another body), empty (no body) or the transport
error, MS the request's own duration, END_MS when it ended (ms since
the epoch), PATH the path requested (--path may be given more than
once: request i takes path i modulo their number).  stdout gets one summary line:

    sent=N statuses=201x90,502x2 elapsed_ms=1234 capped=no

`load.py plan` reads --plan, one request a line, tab-separated:

    CLIENT TAG METHOD PATH [BODY]

Each CLIENT's lines are sent in order on its own connection, all the
clients at once (Content-Type: application/json with a body).  --out
gets one line per request, in the order they complete:

    TAG STATUS BODY

tab-separated, BODY the response as compact JSON ("-" if it is not).

`load.py slow` writes to --out one line per slow client:

    MODE RESULT MS FIRST

MODE headers|body, RESULT cut (the server closed or reset the
connection) or never (the client finished dribbling uncut), MS the
client's own time from connect to the cut (or to the end), FIRST the
status line the server sent before closing ("-" if none).  stdout gets
one summary line of the requests made while every slow client was
connected:

    requests=20 statuses=200x20 open_before=40 open_after=40 connected_ms=12
"""

import argparse
import http.client
import json
import os
import select
import socket
import sys
import threading
import time
import urllib.parse


def now_ms():
    return int(time.time() * 1000)


def fill(s, i, c):
    """{i}: the request's number, {c}: its client, {pair}: i // 2 (so
    requests 2k and 2k+1, taken at once by two clients, share it)."""
    return s.replace("{i}", str(i)).replace("{c}", str(c)).replace(
        "{pair}", str(i // 2))


def parse_base(base):
    u = urllib.parse.urlsplit(base)
    if u.scheme != "http" or not u.hostname:
        sys.exit("load.py: --base must be http://HOST:PORT, not %r" % base)
    return u.hostname, u.port or 80


def fmt_statuses(counts):
    return ",".join("%sx%d" % (k, counts[k]) for k in sorted(counts)) or "none"


# ---------------------------------------------------------------- run


class Runner:
    """Clients that share one ticket counter: ticket i is request i."""

    def __init__(self, a):
        self.a = a
        self.host, self.port = parse_base(a.base)
        self.lock = threading.Lock()
        self.next = 0
        self.statuses = {}
        self.out = open(a.out, "w", encoding="utf-8") if a.out else None
        self.saved = set()
        self.t0 = time.monotonic()
        self.capped = False
        self.headers = {}
        for h in a.header:
            k, _, v = h.partition(":")
            self.headers[k.strip()] = v.strip()

    def ticket(self):
        with self.lock:
            if self.a.count is not None and self.next >= self.a.count:
                return None
            if self.a.stop_file and os.path.exists(self.a.stop_file) and \
                    self.next >= self.a.min_count:
                return None
            if time.monotonic() - self.t0 > self.a.cap_seconds:
                self.capped = True
                return None
            i = self.next
            self.next += 1
            return i

    def connect(self):
        src = (self.a.source_address, 0) if self.a.source_address else None
        return http.client.HTTPConnection(self.host, self.port,
                                          timeout=self.a.timeout,
                                          source_address=src)

    def record(self, status, body, hdrs, ms, path):
        ident, kind = "-", "empty"
        if isinstance(body, str):      # a transport error's name
            kind = body
        elif body:
            kind = "raw"
            try:
                v = json.loads(body)
                if isinstance(v, dict):
                    kind = "json"
                    if isinstance(v.get("id"), str) and v["id"]:
                        ident = v["id"]
            except ValueError:
                pass
        code = "%03d" % status
        with self.lock:
            self.statuses[code] = self.statuses.get(code, 0) + 1
            if self.out:
                self.out.write("%s %s %s %d %d %s\n" % (code, ident, kind, ms, now_ms(), path))
                self.out.flush()
            if self.a.save_dir and code in self.a.save_status and code not in self.saved:
                self.saved.add(code)
                base = os.path.join(self.a.save_dir, code)
                with open(base + ".headers", "w", encoding="utf-8") as f:
                    f.write(hdrs)
                with open(base + ".body", "wb") as f:
                    f.write(body if isinstance(body, bytes) else b"")

    def client(self, c):
        conn = None
        while True:
            i = self.ticket()
            if i is None:
                break
            path = fill(self.a.path[i % len(self.a.path)], i, c)
            data = None
            if self.a.data is not None:
                data = fill(self.a.data, i, c).encode()
            hdrs = {k: fill(v, i, c) for k, v in self.headers.items()}
            t = time.monotonic()
            try:
                if conn is None or self.a.new_connection:
                    if conn is not None:
                        conn.close()
                    conn = self.connect()
                conn.request(self.a.method, path, body=data, headers=hdrs)
                r = conn.getresponse()
                body = r.read()
                hdrs = "HTTP/1.1 %d %s\r\n" % (r.status, r.reason) + \
                    "".join("%s: %s\r\n" % kv for kv in r.getheaders())
                ms = int((time.monotonic() - t) * 1000)
                self.record(r.status, body, hdrs, ms, path)
                if r.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                ms = int((time.monotonic() - t) * 1000)
                self.record(0, type(e).__name__, "", ms, path)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def run(self):
        threads = [threading.Thread(target=self.client, args=(c,), daemon=True)
                   for c in range(self.a.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = int((time.monotonic() - self.t0) * 1000)
        print("sent=%d statuses=%s elapsed_ms=%d capped=%s" % (
            self.next, fmt_statuses(self.statuses), elapsed,
            "yes" if self.capped else "no"))
        if self.out:
            self.out.close()


# ---------------------------------------------------------------- plan


def run_plan(a):
    host, port = parse_base(a.base)
    seqs = {}
    with open(a.plan, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 4:
                continue
            body = parts[4] if len(parts) > 4 and parts[4] else None
            seqs.setdefault(parts[0], []).append((parts[1], parts[2], parts[3], body))
    base_headers = {}
    for h in a.header:
        k, _, v = h.partition(":")
        base_headers[k.strip()] = v.strip()
    lock = threading.Lock()
    out = open(a.out, "w", encoding="utf-8")

    def client(reqs):
        conn = None
        for tag, method, path, body in reqs:
            hdrs = dict(base_headers)
            if body is not None:
                hdrs["Content-Type"] = "application/json"
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=a.timeout)
                conn.request(method, path, body=body.encode() if body else None,
                             headers=hdrs)
                r = conn.getresponse()
                data = r.read()
                code = "%03d" % r.status
                if r.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                data, code = b"", "000-" + type(e).__name__
                if conn is not None:
                    conn.close()
                conn = None
            try:
                shown = json.dumps(json.loads(data), separators=(",", ":"),
                                   ensure_ascii=False)
            except ValueError:
                shown = "-"
            with lock:
                out.write("%s\t%s\t%s\n" % (tag, code, shown))
                out.flush()
        if conn is not None:
            conn.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(reqs,), daemon=True)
               for reqs in seqs.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()
    print("clients=%d requests=%d elapsed_ms=%d" % (
        len(seqs), sum(len(v) for v in seqs.values()),
        int((time.monotonic() - t0) * 1000)))


# ---------------------------------------------------------------- slow


class Slow:
    """Slow clients: each dribbles its request and watches for the cut."""

    def __init__(self, a):
        self.a = a
        self.host, self.port = parse_base(a.base)
        self.lock = threading.Lock()
        self.connected = threading.Semaphore(0)
        self.open = 0
        self.lines = []

    def watch(self, s, until):
        """Waits until the monotonic time UNTIL for the server to end the
        connection; returns its first line ("-" if none) when it did,
        None when it is still open."""
        got = b""
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([s], [], [], left)
            if not r:
                return None
            try:
                chunk = s.recv(4096)
            except OSError:
                chunk = b""
            if not chunk:
                first = got.split(b"\r\n", 1)[0].decode("latin-1").strip()
                return first.replace(" ", "_") or "-"
            got += chunk

    def client(self, mode):
        t0 = time.monotonic()
        first = None
        try:
            s = socket.create_connection((self.host, self.port), timeout=30)
        except OSError as e:
            with self.lock:
                self.lines.append("%s connect-failed 0 %s" % (mode, type(e).__name__))
            self.connected.release()
            return
        t0 = time.monotonic()
        with self.lock:
            self.open += 1
        try:
            if mode == "headers":
                # A header line a second: the header never completes.
                s.sendall(b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\n")
                self.connected.release()
                for _ in range(self.a.dribble):
                    first = self.watch(s, time.monotonic() + 1)
                    if first is not None:
                        break
                    s.sendall(b"X-a: b\r\n")
            else:
                # One byte of a 1000-byte body, then a byte every
                # --body-gap seconds (longer than client_body_timeout).
                s.sendall(b"POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/json\r\n"
                          b"Content-Length: 1000\r\n\r\n{")
                self.connected.release()
                for _ in range(max(1, self.a.dribble // self.a.body_gap)):
                    first = self.watch(s, time.monotonic() + self.a.body_gap)
                    if first is not None:
                        break
                    s.sendall(b" ")
        except OSError:
            first = first or "-"
        ms = int((time.monotonic() - t0) * 1000)
        with self.lock:
            self.open -= 1
            self.lines.append("%s %s %d %s" % (
                mode, "never" if first is None else "cut", ms, first or "-"))
        s.close()

    def run(self):
        a = self.a
        modes = ["headers"] * a.headers + ["body"] * a.bodies
        t0 = time.monotonic()
        threads = [threading.Thread(target=self.client, args=(m,), daemon=True)
                   for m in modes]
        for t in threads:
            t.start()
        for _ in modes:
            self.connected.acquire()
        connected_ms = int((time.monotonic() - t0) * 1000)
        # Every slow client has connected and sent its first bytes: now
        # the requests that must get through meanwhile.
        with self.lock:
            open_before = self.open
        statuses = {}
        hdrs = {}
        for h in a.header:
            k, _, v = h.partition(":")
            hdrs[k.strip()] = v.strip()
        for _ in range(a.requests):
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                conn.request("GET", a.path, headers=hdrs)
                r = conn.getresponse()
                r.read()
                code = "%03d" % r.status
                conn.close()
            except (OSError, http.client.HTTPException) as e:
                code = "000-" + type(e).__name__
            statuses[code] = statuses.get(code, 0) + 1
        with self.lock:
            open_after = self.open
        for t in threads:
            t.join()
        with open(a.out, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in self.lines))
        print("requests=%d statuses=%s open_before=%d open_after=%d connected_ms=%d" % (
            a.requests, fmt_statuses(statuses), open_before, open_after, connected_ms))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="concurrent requests")
    r.add_argument("--base", required=True, help="http://HOST:PORT")
    r.add_argument("--clients", type=int, default=8, help="connections at once")
    r.add_argument("--count", type=int, help="send exactly this many requests")
    r.add_argument("--stop-file", help="stop once this file exists ...")
    r.add_argument("--min-count", type=int, default=0, help="... and this many were sent")
    r.add_argument("--cap-seconds", type=float, default=300,
                   help="safety cap for a broken run (reported as capped=yes)")
    r.add_argument("--method", default="GET")
    r.add_argument("--path", required=True, action="append",
                   help="{i}: request number, {c}: client, {pair}: i // 2; "
                   "several: taken in turn")
    r.add_argument("--header", action="append", default=[],
                   help="NAME: VALUE ({i}, {c} and {pair} as in --path)")
    r.add_argument("--data", help="request body ({i}, {c} and {pair} as in --path)")
    r.add_argument("--new-connection", action="store_true",
                   help="a new connection per request (default: keep-alive)")
    r.add_argument("--source-address", help="local address to bind")
    r.add_argument("--timeout", type=float, default=60, help="per request, seconds")
    r.add_argument("--out", help="one line per request")
    r.add_argument("--save-dir", help="keep the head and body of the first ...")
    r.add_argument("--save-status", action="append", default=[],
                   help="... response with this status (DIR/STATUS.headers, .body)")

    pl = sub.add_parser("plan", help="each client its own sequence of requests")
    pl.add_argument("--base", required=True, help="http://HOST:PORT")
    pl.add_argument("--plan", required=True, help="CLIENT TAG METHOD PATH [BODY], tab-separated")
    pl.add_argument("--header", action="append", default=[], help="NAME: VALUE")
    pl.add_argument("--timeout", type=float, default=60, help="per request, seconds")
    pl.add_argument("--out", required=True, help="TAG STATUS BODY per request")

    s = sub.add_parser("slow", help="slow clients")
    s.add_argument("--base", required=True, help="http://HOST:PORT")
    s.add_argument("--headers", type=int, default=20, help="clients dribbling a header")
    s.add_argument("--bodies", type=int, default=20, help="clients stalling a body")
    s.add_argument("--dribble", type=int, default=40,
                   help="seconds a client keeps dribbling before it gives up")
    s.add_argument("--body-gap", type=int, default=15, help="seconds between body bytes")
    s.add_argument("--requests", type=int, default=20,
                   help="requests made while every slow client is connected")
    s.add_argument("--path", default="/health", help="... to this path")
    s.add_argument("--header", action="append", default=[], help="... with NAME: VALUE")
    s.add_argument("--out", required=True, help="one line per slow client")

    a = p.parse_args()
    if a.cmd == "run":
        if a.count is None and not a.stop_file:
            p.error("run needs --count or --stop-file")
        Runner(a).run()
    elif a.cmd == "plan":
        run_plan(a)
    else:
        Slow(a).run()


if __name__ == "__main__":
    main()
