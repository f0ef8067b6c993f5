#!/usr/bin/env python3
"""fcgi_cases.py: FastCGI 1.0 corner cases against a taskapi socket.

Usage: fcgi_cases.py SOCKET KIND TOKEN
  KIND is "ev" (the event worker: every case) or "blocking" (the libfcgi
  pool: the cases it shares).  Prints one line per assertion:
  "ok<TAB>description" or "not ok<TAB>description<TAB>what was seen", or
  "skip<TAB>description<TAB>why" for one that cannot run in this build.
A connection that is reset or silent where an answer is due fails the
case; each read waits at most 10 s.
"""
import json
import os
import socket
import struct
import sys

import fcgi_client as fc
from fcgi_client import (AUTHORIZER, BEGIN, END, RESPONDER, STDIN,
                         UNKNOWN_TYPE, GET_VALUES, GET_VALUES_RESULT,
                         nv_pairs, parse_nv, record)

sock_path, kind, token = sys.argv[1], sys.argv[2], sys.argv[3]


def say(ok, desc, seen=""):
    print(("ok\t%s" % desc) if ok else ("not ok\t%s\t%s" % (desc, seen)), flush=True)


class Conn(fc.Conn):
    """A connection to sock_path whose reads wait 10 s at most."""

    def __init__(self):
        super().__init__(sock_path, cap=10)

    def response(self, rid=1):
        """Reads to END_REQUEST; returns (status, headers, body, protocol
        status) or a string saying what went wrong."""
        a = self.until_end(rid)
        if a.end is None:
            if a.timed_out:
                return "no answer within 10 s"
            if self.error:
                return "reset: %s" % self.error
            return "connection closed before END_REQUEST"
        return a.status or 0, a.headers, a.body, a.protocol_status

    def alive(self):
        """A GET /health on this connection answers 200."""
        self.send(request("GET", "/health", keep=True))
        r = self.response()
        return not isinstance(r, str) and r[0] == 200, r


def request(method, uri, body=b"", keep=True, rid=1, params=None, role=RESPONDER, cl=None):
    p = {"REQUEST_METHOD": method, "GATEWAY_INTERFACE": "CGI/1.1",
         "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_AUTHORIZATION": "Bearer " + token}
    if uri is not None:
        p["REQUEST_URI"] = uri
    if body or cl is not None:
        p["CONTENT_TYPE"] = "application/json"
        p["CONTENT_LENGTH"] = str(len(body)) if cl is None else cl
    p.update(params or {})
    return fc.request(rid, list(p.items()), body,
                      flags=fc.KEEP_CONN if keep else 0, padding=None,
                      role=role)


def is_json_error(r, status):
    if isinstance(r, str):
        return False
    try:
        return r[0] == status and "error" in json.loads(r[2]) and \
            r[1].get("content-type", "").startswith("application/json")
    except ValueError:
        return False


def show(r):
    if isinstance(r, str):
        return r
    return "status %s, proto %s, body %r" % (r[0], r[3], r[2][:120])


CASES = []


def case(fn):
    CASES.append(fn)
    return fn

# --- management records ----------------------------------------------------
@case
def case_0():
    if kind == "ev":
        c = Conn()
        c.send(record(GET_VALUES, 0, nv_pairs([("FCGI_MAX_CONNS", ""), ("FCGI_MAX_REQS", ""), ("FCGI_MPXS_CONNS", "")]), None))
        r = c.record()
        vals = parse_nv(r[2]) if r and r[0] == GET_VALUES_RESULT else {}
        say(r is not None and r[0] == GET_VALUES_RESULT and vals.get("FCGI_MPXS_CONNS") == "0"
            and vals.get("FCGI_MAX_CONNS", "").isdigit() and vals.get("FCGI_MAX_REQS", "").isdigit(),
            "GET_VALUES on a fresh connection: MAX_CONNS, MAX_REQS, MPXS_CONNS=0", repr(r))
        ok, r = c.alive()
        say(ok, "... and the next request on that connection is answered", show(r))
        c.send(record(42, 0, b"\0" * 8))
        r = c.record()
        say(r is not None and r[0] == UNKNOWN_TYPE and r[2][0] == 42, "an unknown management type gets UNKNOWN_TYPE", repr(r))
        ok, r = c.alive()
        say(ok, "... and the next request on that connection is answered", show(r))


# --- roles (the blocking pool's libfcgi answers them as a responder) -------
@case
def case_1():
    if kind == "ev":
        c = Conn()
        c.send(request("GET", "/health", role=AUTHORIZER))
        r = c.response()
        say(not isinstance(r, str) and r[3] == 3 and r[0] == 0, "FCGI_AUTHORIZER: END_REQUEST with UNKNOWN_ROLE, no output", show(r))
        ok, r = c.alive()
        say(ok, "... and the connection serves the next request", show(r))


# --- the path from CGI variables -------------------------------------------
@case
def case_2():
    c = Conn()
    c.send(request("GET", None, keep=True, params={"SCRIPT_NAME": "/api", "PATH_INFO": "/v1/me"}))
    r = c.response()
    say(not isinstance(r, str) and r[0] == 200 and b'"email"' in r[2], "no REQUEST_URI: SCRIPT_NAME + PATH_INFO route /api/v1/me", show(r))


# --- CONTENT_LENGTH --------------------------------------------------------
@case
def case_3():
    task = b'{"title":"content-length mismatch must not be written"}'
    for cl, desc in (("200", "longer than the body"), ("5", "shorter than the body"),
                     ("abc", "not a number"), ("-5", "negative")):
        c = Conn()
        c.send(request("POST", "/api/v1/tasks", task, keep=False, cl=cl))
        r = c.response()
        say(is_json_error(r, 400), "CONTENT_LENGTH %s (%s) -> JSON 400" % (cl, desc), show(r))

    if kind == "ev":
        # --- limits, behind any front end ---------------------------------------
        big = b'{"title":"' + b"x" * 70000 + b'"}'
        c = Conn()
        c.send(request("POST", "/api/v1/tasks", big))
        r = c.response()
        say(is_json_error(r, 413), "a 70,000-byte body -> JSON 413 with END_REQUEST", show(r))
        ok, r = c.alive()
        say(ok, "... and the kept connection serves the next request", show(r))

        body = b'{"title":"' + b"y" * (65536 - 13) + b'"}'
        c = Conn()
        c.send(request("POST", "/api/v1/tasks?" + "q" * 4000, body,
                       params={"HTTP_TRACEPARENT": "t" * 4000}))
        r = c.response()
        say(not isinstance(r, str) and r[0] in (400, 413), "a 64 KiB body + 4,000-byte query + 4 KB header: answered, not reset", show(r))

        c = Conn()
        c.send(request("GET", "/health", params={"HTTP_X_BIG": "z" * 70000}))
        r = c.response()
        say(is_json_error(r, 431), "params over 64 KiB -> JSON 431 with END_REQUEST", show(r))
        ok, r = c.alive()
        say(ok, "... and the kept connection serves the next request", show(r))

        # A body split into 1-byte records, and padding of 255.
        c = Conn()
        one = b'{"title":"split"}'
        raw = request("POST", "/api/v1/tasks", b"", cl=str(len(one)))
        raw = raw[:-8]  # drop the empty STDIN
        for i in range(len(one)):
            raw += record(STDIN, 1, one[i:i + 1], 255)
        raw += record(STDIN, 1)
        c.send(raw)
        r = c.response()
        say(not isinstance(r, str) and r[0] == 201, "a body in 1-byte records with 255 bytes of padding -> 201", show(r))

        # Multiplexing is refused, the first request still answered.
        c = Conn()
        c.send(request("GET", "/health", rid=1)[:8 + 8] + record(BEGIN, 2, struct.pack(">HB5x", 1, 1)))
        r = c.record()
        say(r is not None and r[0] == END and r[1] == 2 and r[2][4] == 1, "a second request id on a busy connection -> CANT_MPX_CONN", repr(r))

        # A peer that never reads: the worker stops reading from it.
        c = Conn()
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        one = request("GET", "/health")
        sent = 0
        c.s.settimeout(5)
        try:
            for _ in range(20000):
                c.s.sendall(one)
                sent += 1
        except socket.timeout:
            pass
        say(sent < 20000, "a peer that never reads its answers is no longer read from (%d requests taken)" % sent,
            "it took all %d" % sent)


# --- limits set small by the caller (TASKAPI_EV_MAX_CONNECTIONS=16,
# TASKAPI_REQUEST_TIMEOUT=2): run alone, as kind "ev-limits" -------------
def case_conn_cap():
    # The cap is a budget of all the event workers (16 each here), and
    # they share one listening socket: the kernel hands a new connection
    # to whichever worker is awake, often the same one.  Whichever takes
    # them, all 16 x EV_WORKERS are served before any is refused; a
    # refusal comes at the latest when every worker holds 16 and the
    # pool its budget, so within 16 x (2 x EV_WORKERS - 1) + 1.
    workers = int(os.environ.get("EV_WORKERS") or "1")
    # What the workers hold already (nginx's kept connections count in
    # the budget too), asked on a connection of this case's own, which
    # the count includes and which stays open.
    first = Conn()
    first.send(request("GET", "/status", keep=True))
    st = first.response()
    try:
        already = sum(p.get("connections", 0) for p in json.loads(st[2])["processes"]
                      if p.get("kind") == "event")
    except (TypeError, ValueError, KeyError, IndexError):
        say(False, "GET /status on the event socket answers the workers' connections", show(st))
        return
    held, over = [first], None
    for _ in range(16 * (2 * workers - 1) + 1 - already):
        c = Conn()
        ok, r = c.alive()
        if not ok:
            over = (c, r)
            break
        held.append(c)
    c, r = over if over is not None else (None, "all %d connections were served" % len(held))
    say(already + len(held) - 1 >= 16 * workers,
        "the pool's whole budget is served, whichever worker takes the connections "
        "(%d of %d before the first refusal)" % (already + len(held) - 1, 16 * workers))
    say(c is not None and is_json_error(r, 503) and r[1].get("retry-after") == "1",
        "over the connection cap: a JSON 503 with Retry-After (after %d served, %d worker(s))"
        % (len(held), workers), show(r))
    gone = c is None
    if c is not None:
        try:
            gone = c.s.recv(1) == b""
        except OSError:
            gone = True
    say(gone, "... and that connection is closed")
    ok, r = held[0].alive()
    say(ok, "the connections under the cap still serve", show(r))
    for h in held:
        h.s.close()


def case_trickle():
    import time
    c = Conn()
    raw = request("GET", "/health")
    t0 = time.monotonic()
    sent = 0
    closed = False
    try:
        while time.monotonic() - t0 < 12 and sent < len(raw) - 1:
            c.s.sendall(raw[sent:sent + 1])
            sent += 1
            time.sleep(0.25)
    except OSError:
        closed = True
    if not closed:
        try:
            c.s.settimeout(3)
            closed = c.s.recv(1) == b""
        except OSError:
            closed = True
    el = time.monotonic() - t0
    say(closed and el < 8, "a request trickled a byte every 250 ms is dropped by the 2 s request-read timeout",
        "closed=%s after %.1f s, %d bytes sent" % (closed, el, sent))


# --- memory after a burst, with connections kept open: "ev-trim" -------
def case_trim():
    # The event workers (EV_PIDS, from the caller) give a burst's memory
    # back once its connections are gone, though a front end keeps
    # others open (nginx's idle kept ones): 4 idle connections stay
    # open throughout, 400 come, are answered, and go.
    import time
    pids = [int(p) for p in os.environ["EV_PIDS"].split()]
    with open("/proc/%d/maps" % pids[0]) as f:
        if "libasan" in f.read():
            print("skip\tmemory after a burst\tAddressSanitizer's allocator keeps "
                  "freed memory (quarantine) whatever malloc_trim says", flush=True)
            return

    def rss():
        kib = 0
        for p in pids:
            with open("/proc/%d/status" % p) as f:
                kib += sum(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        return kib

    def burst(what, close):
        """400 connections served one request each, then closed or kept:
        says whether the workers' RSS falls at least half way back from
        its peak within 30 s.  Returns the connections, or None."""
        base = peak = rss()
        # All 400 connect and send, then all are read: the requests are
        # in flight together, so the burst does not outlast the
        # workers' 2 s idle-buffer trim on a slow machine (one after
        # another, the first ones' buffers could be given back, or
        # reused by the later ones, before the peak is read).
        conns = [Conn() for _ in range(400)]
        for c in conns:
            c.send(request("GET", "/health", keep=True))
        for c in conns:
            r = c.response()
            if isinstance(r, str) or r[0] != 200:
                say(False, "a burst of 400 connections is served", show(r))
                return None
            peak = max(peak, rss())
        if close:
            for c in conns:
                c.s.close()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30 and rss() > base + (peak - base) / 2:
            time.sleep(0.2)
        after = rss()
        say(peak - base >= 1024 and after <= base + (peak - base) / 2,
            "%s (RSS %d -> %d -> %d KiB in %.1f s)" % (what, base, peak, after, time.monotonic() - t0))
        return conns

    keep = [Conn() for _ in range(4)]
    if burst("after a burst of 400 connections the workers give its memory back, 4 others kept open",
             True) is None:
        return
    ok, r = keep[0].alive()
    say(ok, "... and the kept connections still serve", show(r))

    # A front end that keeps every connection of a burst open, idle
    # (a FastCGI client with a large pool and no idle timeout): their
    # buffers go back after 2 s idle, and the heap pages they held with
    # them, though the count of connections never falls.
    kept = burst("a burst of 400 connections that stay open, idle: the workers give most of its "
                 "memory back", False)
    if kept is None:
        return
    ok, r = kept[-1].alive()
    say(ok, "... and those idle connections still serve", show(r))
    for c in kept + keep:
        c.s.close()


# --- FCGI_WEB_SERVER_ADDRS on a TCP socket: "peer-refused" or
# "peer-allowed" ---------------------------------------------------------
def case_peer(allowed):
    c = Conn()
    try:
        c.send(request("GET", "/health"))
        r = c.response()
    except OSError as e:
        r = "reset: %s" % e
    if allowed:
        say(not isinstance(r, str) and r[0] == 200, "a peer on FCGI_WEB_SERVER_ADDRS is served", show(r))
    else:
        say(isinstance(r, str) and "before END_REQUEST" in r or "reset" in str(r),
            "a peer not on FCGI_WEB_SERVER_ADDRS is closed, unanswered", show(r))


if kind == "ev-limits":
    CASES[:] = [case_conn_cap, case_trickle]
elif kind == "ev-trim":
    CASES[:] = [case_trim]
elif kind in ("peer-refused", "peer-allowed"):
    CASES[:] = [lambda: case_peer(kind == "peer-allowed")]

for fn in CASES:
    try:
        fn()
    except Exception as e:  # a reset or a timeout fails the case, not the run
        say(False, "%s did not complete" % fn.__name__, "%s: %s" % (type(e).__name__, e))
