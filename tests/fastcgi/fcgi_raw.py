#!/usr/bin/env python3
"""A raw FastCGI 1.0 client and the spec's corner cases, as TAP.

usage: fcgi_raw.py NAME=SOCKET_PATH [NAME=SOCKET_PATH ...]

Runs every case against each socket (NAME is only the label: "blocking"
for the libfcgi pool, "event" for the event-driven worker) and prints one
TAP line per assertion, the plan last.  Standard library only.

Environment (optional; cases that need them say so and fail without):
  TASKAPI_FCGI_TOKEN   a bearer token of an existing user, for the cases
                       that must show nothing was written
  TASKAPI_FCGI_KEEPS   comma-separated NAMEs of the sockets that keep a
                       connection the web server asked to keep
                       (FCGI_KEEP_CONN).  The blocking pool refuses kept
                       connections on purpose (README, "FastCGI"): it
                       answers, then closes.  Default: "event".
  TASKAPI_FCGI_READ_TIMEOUT  the pool's TASKAPI_READ_TIMEOUT (s, default 10)

Each case checks the answer (records, status, protocolStatus) and the
state the spec leaves the connection in: open (a next request on it is
answered) or closed (EOF).  Every read has a cap, so no case can hang:
a case that would is a failure with what was seen so far.
"""

import json
import os
import socket
import struct
import sys
import time

from fcgi_client import (ABORT, AUTHORIZER, BEGIN, CANT_MPX_CONN, CAP,
                         FILTER, GET_VALUES, GET_VALUES_RESULT, KEEP_CONN,
                         PARAMS, REQUEST_COMPLETE, RESPONDER, STDIN,
                         UNKNOWN_ROLE, UNKNOWN_TYPE, Conn, begin, nv_pairs,
                         parse_nv, record, request, stream)

BODY_MAX = 64 * 1024      # API.md: request body limit
PARAMS_MAX = 64 * 1024    # bytes of the encoded FastCGI params stream

T_N = 0
T_FAILED = 0


def tap(ok, desc, diag=None):
    global T_N, T_FAILED
    T_N += 1
    if not ok:
        T_FAILED += 1
    desc = desc.replace("#", "\\#").replace("\n", " ")
    print("%s %d - %s" % ("ok" if ok else "not ok", T_N, desc), flush=True)
    if not ok and diag:
        for line in str(diag).splitlines():
            print("# " + line, flush=True)


def cgi(method, uri, extra=(), body_len=None, ctype=None, token=None):
    path, _, query = uri.partition("?")
    p = [("REQUEST_METHOD", method), ("REQUEST_URI", uri),
         ("SCRIPT_NAME", path), ("QUERY_STRING", query),
         ("SERVER_PROTOCOL", "HTTP/1.1"), ("GATEWAY_INTERFACE", "CGI/1.1"),
         ("REMOTE_ADDR", "127.0.0.1"), ("SERVER_NAME", "localhost"),
         ("HTTP_X_REQUEST_ID", "fcgi-raw-suite")]
    if body_len is not None:
        p.append(("CONTENT_LENGTH", str(body_len)))
    if ctype:
        p.append(("CONTENT_TYPE", ctype))
    if token:
        p.append(("HTTP_AUTHORIZATION", "Bearer " + token))
    return p + list(extra)


def poll_status(url, kind, state, cap=10.0):
    """Polls the pool's /status until a worker of kind is in state."""
    import urllib.request
    t0 = time.monotonic()
    states = []
    while time.monotonic() - t0 < cap:
        try:
            with urllib.request.urlopen(url, timeout=5) as f:
                st = json.load(f)
            states = [p.get("state") for p in st.get("processes", [])
                      if p.get("kind") == kind]
            if state in states:
                return {"found": True, "states": states,
                        "elapsed": time.monotonic() - t0}
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    return {"found": False, "states": states,
            "elapsed": time.monotonic() - t0}


# ------------------------------------------------------------ the cases

class Suite:
    def __init__(self, name, path, keeps):
        self.name = name
        self.path = path
        self.keeps = keeps
        self.token = os.environ.get("TASKAPI_FCGI_TOKEN", "")

    def conn(self):
        return Conn(self.path)

    def ok(self, cond, desc, diag=None):
        tap(cond, "%s: %s" % (self.name, desc), diag)

    def complete(self, a, status, desc, json_error=False):
        """a is a whole answer: status, FCGI_REQUEST_COMPLETE, JSON."""
        good = (a.end is not None and a.protocol_status == REQUEST_COMPLETE
                and a.status == status)
        if good and json_error:
            j = a.json()
            good = isinstance(j, dict) and isinstance(j.get("error"), str)
        self.ok(good, "%s: %d%s, FCGI_REQUEST_COMPLETE" %
                (desc, status, " + JSON error" if json_error else ""),
                a.summary())

    def closed_after(self, c, desc):
        st = c.state()
        self.ok(st == "closed", "%s: connection closed after the answer "
                "(FCGI_KEEP_CONN clear)" % desc, "state=%s" % st)

    def kept_after(self, c, desc, rid=7):
        """KEEP_CONN was set: open and usable, or (refusing) closed."""
        if self.keeps:
            ok = c.send(request(rid, cgi("GET", "/health"), flags=KEEP_CONN))
            a = c.until_end(rid)
            self.ok(ok and a.status == 200 and a.end is not None,
                    "%s: connection kept (FCGI_KEEP_CONN): a next request "
                    "on it is answered" % desc, a.summary())
        else:
            st = c.state()
            self.ok(st == "closed", "%s: kept connections refused: closed "
                    "right after FCGI_END_REQUEST, nothing left hanging" %
                    desc, "state=%s" % st)

    def health(self, desc, payload, **send_kw):
        c = self.conn()
        c.send(payload, **send_kw)
        a = c.until_end(1)
        self.complete(a, 200, desc)
        self.closed_after(c, desc)
        c.close()

    # --- framing
    def t_basic(self):
        self.health("GET /health", request(1, cgi("GET", "/health")))

    def t_split(self):
        self.health("records split over many writes",
                    request(1, cgi("GET", "/health")), pace=3, pause=0.002)

    def t_padded(self):
        self.health("padded records (255 bytes of padding)",
                    request(1, cgi("GET", "/health"), padding=255))

    def t_one_byte_records(self):
        self.health("1-byte FCGI_PARAMS records",
                    request(1, cgi("GET", "/health"), chunk=1))

    def t_four_byte_lengths(self):
        self.health("4-byte name and value lengths throughout",
                    request(1, cgi("GET", "/health"), long_form=True))

    def t_stdin_one_byte(self):
        body = b'{"title":"x"}'
        c = self.conn()
        c.send(request(1, cgi("POST", "/api/v1/tasks", body_len=len(body),
                              ctype="application/json"), body, chunk=1))
        a = c.until_end(1)
        self.complete(a, 401, "POST body in 1-byte FCGI_STDIN records, "
                      "no token", json_error=True)
        c.close()

    # --- management records
    def get_values(self, c, desc):
        q = nv_pairs([("FCGI_MAX_CONNS", ""), ("FCGI_MAX_REQS", ""),
                      ("FCGI_MPXS_CONNS", "")])
        c.send(record(GET_VALUES, 0, q))
        r = c.record()
        vals = {}
        if r is not None and r[0] == GET_VALUES_RESULT and r[1] == 0:
            try:
                vals = parse_nv(r[2])
            except (IndexError, UnicodeDecodeError):
                vals = {}
        good = (vals.get("FCGI_MPXS_CONNS") == "0" and
                vals.get("FCGI_MAX_CONNS", "").isdigit() and
                int(vals["FCGI_MAX_CONNS"]) >= 1 and
                vals.get("FCGI_MAX_REQS", "").isdigit() and
                int(vals["FCGI_MAX_REQS"]) >= 1)
        self.ok(good, "%s: FCGI_GET_VALUES_RESULT reports FCGI_MAX_CONNS, "
                "FCGI_MAX_REQS, FCGI_MPXS_CONNS=0" % desc,
                "record=%r values=%r eof=%s" % (r, vals, c.eof))

    def t_get_values_first(self):
        c = self.conn()
        self.get_values(c, "management record on a fresh connection")
        c.send(request(1, cgi("GET", "/health")))
        a = c.until_end(1)
        self.complete(a, 200, "a request after FCGI_GET_VALUES on the "
                      "same connection")
        c.close()

    def t_get_values_after(self):
        c = self.conn()
        c.send(request(1, cgi("GET", "/health"), flags=KEEP_CONN))
        a = c.until_end(1)
        self.complete(a, 200, "request with FCGI_KEEP_CONN")
        if self.keeps:
            self.get_values(c, "management record after a request")
        else:
            self.kept_after(c, "FCGI_GET_VALUES after a request")
        c.close()

    def t_unknown_mgmt(self):
        c = self.conn()
        c.send(record(99, 0, b"\0" * 8))
        r = c.record()
        self.ok(r is not None and r[0] == UNKNOWN_TYPE and r[1] == 0 and
                len(r[2]) == 8 and r[2][0] == 99,
                "unknown management type: FCGI_UNKNOWN_TYPE{type=99}",
                "record=%r eof=%s" % (r, c.eof))
        c.send(request(1, cgi("GET", "/health")))
        a = c.until_end(1)
        self.complete(a, 200, "a request after FCGI_UNKNOWN_TYPE on the "
                      "same connection")
        c.close()

    # --- roles and versions
    def t_roles(self):
        for role, rname in ((AUTHORIZER, "FCGI_AUTHORIZER"),
                            (FILTER, "FCGI_FILTER"), (99, "role 99")):
            c = self.conn()
            c.send(request(1, cgi("GET", "/health"), role=role))
            a = c.until_end(1)
            self.ok(a.protocol_status == UNKNOWN_ROLE and not a.stdout,
                    "%s: FCGI_END_REQUEST{FCGI_UNKNOWN_ROLE}, no "
                    "FCGI_STDOUT" % rname, a.summary())
            st = c.state()
            self.ok(st == "closed", "%s: connection closed after the "
                    "refusal (FCGI_KEEP_CONN clear)" % rname,
                    "state=%s" % st)
            c.close()

    def t_bad_version(self):
        c = self.conn()
        c.send(record(BEGIN, 1, struct.pack(">HB5x", RESPONDER, 0),
                      version=2) +
               stream(PARAMS, 1, nv_pairs(cgi("GET", "/health")), 65535) +
               stream(STDIN, 1, b""))
        a = c.until_end(1, timeout=5)
        self.ok(not a.stdout and a.status is None,
                "FastCGI version 2: no response", a.summary())
        self.ok(c.closed_within(CAP), "FastCGI version 2: connection "
                "closed (not left hanging)", "eof=%s" % c.eof)
        c.close()

    # --- aborts and multiplexing
    def t_abort_mid_params(self):
        c = self.conn()
        params = nv_pairs(cgi("GET", "/health"))
        c.send(begin(1) + record(PARAMS, 1, params[:10]) + record(ABORT, 1))
        a = c.until_end(1)
        self.ok(a.end is not None and not a.timed_out,
                "FCGI_ABORT_REQUEST mid-params: FCGI_END_REQUEST for it",
                a.summary())
        self.ok(c.closed_within(CAP), "FCGI_ABORT_REQUEST mid-params: "
                "connection closed after it (FCGI_KEEP_CONN clear)",
                "eof=%s" % c.eof)
        c.close()

    def t_abort_mid_body(self):
        c = self.conn()
        body = b'{"title":"aborted"}'
        c.send(begin(1) +
               stream(PARAMS, 1, nv_pairs(cgi(
                   "POST", "/api/v1/tasks", body_len=len(body) * 2,
                   ctype="application/json", token=self.token))) +
               record(STDIN, 1, body) + record(ABORT, 1))
        a = c.until_end(1)
        self.ok(a.end is not None and not a.timed_out and
                a.status != 201,
                "FCGI_ABORT_REQUEST mid-body: FCGI_END_REQUEST, no 201",
                a.summary())
        self.ok(c.closed_within(CAP), "FCGI_ABORT_REQUEST mid-body: "
                "connection closed after it", "eof=%s" % c.eof)
        c.close()

    def t_abort_other_id(self):
        c = self.conn()
        c.send(begin(1) + record(ABORT, 5) +
               stream(PARAMS, 1, nv_pairs(cgi("GET", "/health"))) +
               stream(STDIN, 1, b""))
        a = c.until_end(1)
        if self.keeps:
            self.complete(a, 200, "FCGI_ABORT_REQUEST for an id not in use "
                          "is ignored")
        else:
            # The blocking pool reads a request through libfcgi, which
            # skips the record after an empty record of another id (its
            # params here): a known libfcgi limitation, documented in
            # doc/INSTALL.md.  What the pool guarantees: an answer and
            # FCGI_END_REQUEST for the request, and a closed connection.
            self.ok(a.end is not None and a.protocol_status ==
                    REQUEST_COMPLETE and a.status is not None and
                    c.closed_within(CAP),
                    "FCGI_ABORT_REQUEST for an id not in use: the request "
                    "is still answered and ended, the connection closed "
                    "(libfcgi limitation)", a.summary())
        c.close()

    def t_multiplex(self):
        c = self.conn()
        c.send(begin(1) + begin(2) +
               stream(PARAMS, 1, nv_pairs(cgi("GET", "/health"))) +
               stream(STDIN, 1, b""))
        a2 = c.until_end(2)
        self.ok(a2.protocol_status == CANT_MPX_CONN and not a2.stdout,
                "second FCGI_BEGIN_REQUEST on a busy connection: "
                "FCGI_END_REQUEST{FCGI_CANT_MPX_CONN}", a2.summary())
        a1 = c.until_end(1)
        self.complete(a1, 200, "the first request still answered")
        c.close()

    # --- kept connections
    def t_keep_conn_set(self):
        c = self.conn()
        c.send(request(1, cgi("GET", "/health"), flags=KEEP_CONN))
        a = c.until_end(1)
        self.complete(a, 200, "FCGI_KEEP_CONN set")
        self.kept_after(c, "FCGI_KEEP_CONN set")
        c.close()

    def t_keep_conn_pipelined(self):
        c = self.conn()
        c.send(request(1, cgi("GET", "/health"), flags=KEEP_CONN) +
               request(2, cgi("GET", "/health"), flags=KEEP_CONN))
        a = c.until_end(1)
        self.complete(a, 200, "pipelined, first of two")
        if self.keeps:
            b = c.until_end(2)
            self.complete(b, 200, "pipelined, second of two on the kept "
                          "connection")
        else:
            self.ok(c.closed_within(CAP), "pipelined on a refused kept "
                    "connection: closed after the first, the second "
                    "never left hanging", "eof=%s" % c.eof)
        c.close()

    def t_keep_conn_early_413(self):
        body = b"x" * (BODY_MAX + 1)
        c = self.conn()
        c.send(request(1, cgi("POST", "/api/v1/tasks", body_len=len(body),
                              ctype="application/json"), body,
                       flags=KEEP_CONN))
        a = c.until_end(1)
        self.complete(a, 413, "FCGI_KEEP_CONN, body over the limit",
                      json_error=True)
        self.kept_after(c, "after an early 413")
        c.close()

    # --- limits
    def body_case(self, size, status, how):
        body = b"x" * size
        c = self.conn()
        pace = {"at once": {}, "paced": {"pace": 4096, "pause": 0.005}}[how]
        c.send(request(1, cgi("POST", "/api/v1/tasks", body_len=size,
                              ctype="application/json"), body), **pace)
        a = c.until_end(1)
        self.complete(a, status, "body of %d bytes (limit %d), %s" %
                      (size, BODY_MAX, how), json_error=True)
        self.closed_after(c, "body of %d bytes, %s" % (size, how))
        c.close()

    def t_body_limits(self):
        for how in ("at once", "paced"):
            self.body_case(BODY_MAX - 1, 401, how)
            self.body_case(BODY_MAX, 401, how)
            self.body_case(BODY_MAX + 1, 413, how)

    def params_sized(self, total):
        """GET /health params whose encoding is exactly total bytes."""
        base = cgi("GET", "/health")
        fixed = len(nv_pairs(base))
        name = "HTTP_X_FILLER"
        # a pair with a long value: 1 + 4 + len(name) + len(value)
        vlen = total - fixed - 1 - 4 - len(name)
        return base + [(name, "f" * vlen)]

    def params_case(self, total, status, how):
        pairs = self.params_sized(total)
        assert len(nv_pairs(pairs)) == total
        c = self.conn()
        pace = {"at once": {}, "paced": {"pace": 4096, "pause": 0.005}}[how]
        c.send(request(1, pairs, chunk=8192), **pace)
        a = c.until_end(1)
        self.complete(a, status, "params of %d bytes (limit %d), %s" %
                      (total, PARAMS_MAX, how), json_error=status != 200)
        c.close()

    def t_params_limits(self):
        for how in ("at once", "paced"):
            self.params_case(PARAMS_MAX - 1, 200, how)
            self.params_case(PARAMS_MAX, 200, how)
            self.params_case(PARAMS_MAX + 1, 431, how)

    # --- CONTENT_LENGTH against the body
    def cl_case(self, cl, body, desc):
        c = self.conn()
        c.send(request(1, cgi("POST", "/api/v1/tasks", body_len=cl,
                              ctype="application/json",
                              token=self.token), body))
        a = c.until_end(1)
        self.complete(a, 400, "CONTENT_LENGTH %s: %s" % (cl, desc),
                      json_error=True)
        c.close()

    def t_content_length(self):
        title = "fcgi-raw-cl-%d" % os.getpid()
        short = json.dumps({"title": title[:12]}).encode()
        long_ = json.dumps({"title": title, "description": "d" * 8}).encode()
        self.cl_case(len(short) + 180, short, "longer than the body")
        self.cl_case(5, long_, "shorter than the body")
        self.cl_case("abc", short, "not a number")
        self.cl_case("-1", short, "negative")

    # --- readers that never read, writers that stop
    def t_never_reads(self):
        # Many requests whose answers are never read, on one kept
        # connection (or one connection each when kept ones are refused).
        hogs = []
        n = 200 if self.keeps else 1
        c = self.conn()
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        payload = b"".join(request(i + 1, cgi("GET", "/health"),
                                   flags=KEEP_CONN) for i in range(n))
        c.s.settimeout(5)
        try:
            c.s.sendall(payload)
        except OSError:
            pass    # the worker may stop reading: that is the point
        hogs.append(c)
        d = self.conn()
        d.send(request(1, cgi("GET", "/health")))
        a = d.until_end(1)
        self.complete(a, 200, "another client is served while one "
                      "never reads its answers")
        d.close()
        for h in hogs:
            h.close()

    def t_stalled_params(self):
        """A peer that stops mid-params is dropped after the read
        timeout; meanwhile others are served."""
        c = self.conn()
        c.send(begin(1) + record(PARAMS, 1, nv_pairs(cgi("GET",
                                                          "/health"))[:20]))
        url = os.environ.get("TASKAPI_FCGI_STATUS_URL", "")
        if url and self.name == "blocking":
            seen = poll_status(url, "fastcgi", "reading")
            self.ok(seen["found"], "the worker holding a half-sent request "
                    "says \"reading\" in /status, not \"idle\"",
                    "states seen: %r after %.1f s" % (seen["states"],
                                                     seen["elapsed"]))
        d = self.conn()
        d.send(request(1, cgi("GET", "/health")))
        a = d.until_end(1)
        self.complete(a, 200, "a request is served while another "
                      "connection sits half-sent")
        d.close()
        rt = float(os.environ.get("TASKAPI_FCGI_READ_TIMEOUT", "10"))
        t0 = time.monotonic()
        closed = c.closed_within(rt * 3 + 5)
        self.ok(closed, "a connection that stops sending mid-params is "
                "dropped (read timeout %gs)" % rt,
                "eof=%s after %.1f s" % (c.eof, time.monotonic() - t0))
        c.close()

    def run(self):
        for name in sorted(n for n in dir(self) if n.startswith("t_")):
            try:
                getattr(self, name)()
            except (OSError, AssertionError) as e:
                tap(False, "%s: %s raised %r" % (self.name, name, e))


def main(argv):
    keeps = os.environ.get("TASKAPI_FCGI_KEEPS", "event").split(",")
    only = os.environ.get("TASKAPI_FCGI_ONLY", "")
    for arg in argv[1:]:
        name, _, path = arg.partition("=")
        s = Suite(name, path, name in keeps)
        if only:
            for t in only.split(","):
                try:
                    getattr(s, t)()
                except (OSError, AssertionError) as e:
                    tap(False, "%s: %s raised %r" % (name, t, e))
        else:
            s.run()
    print("1..%d" % T_N)
    if T_FAILED:
        print("# FAILED %d of %d assertions" % (T_FAILED, T_N))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
