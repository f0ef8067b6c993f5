"""fcgi_client.py: a raw FastCGI 1.0 client for the tests: records,
name-value pairs, requests, a connection whose every read has a cap,
and the answer read back.  Standard library only.

Both raw FastCGI suites use it: fcgi_raw.py (the spec's corner cases,
as TAP, run by 10-raw-fastcgi.sh) and fcgi_cases.py (the corner cases
any front end may send, run by tests/integration/68-fastcgi-cases.sh).
"""

import json
import socket
import struct
import time

# Record types and constants of the FastCGI 1.0 specification.
BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, STDERR, DATA = 1, 2, 3, 4, 5, 6, 7, 8
GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 9, 10, 11
RESPONDER, AUTHORIZER, FILTER = 1, 2, 3
KEEP_CONN = 1
REQUEST_COMPLETE, CANT_MPX_CONN, OVERLOADED, UNKNOWN_ROLE = 0, 1, 2, 3
PS_NAMES = {0: "REQUEST_COMPLETE", 1: "CANT_MPX_CONN", 2: "OVERLOADED",
            3: "UNKNOWN_ROLE"}

CAP = 15.0                # seconds any single answer may take at most


# ------------------------------------------------------------ encoding

def record(rtype, rid, content=b"", padding=0, version=1):
    """One record; padding None pads the content to 8 bytes, as the
    specification recommends."""
    if padding is None:
        padding = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBx", version, rtype, rid, len(content),
                       padding) + content + b"\0" * padding


def nv_len(n, long_form):
    if n > 127 or long_form:
        return struct.pack(">I", n | 0x80000000)
    return bytes([n])


def nv_pairs(pairs, long_form=False):
    out = b""
    for k, v in pairs:
        k = k.encode() if isinstance(k, str) else k
        v = v.encode() if isinstance(v, str) else v
        out += nv_len(len(k), long_form) + nv_len(len(v), long_form) + k + v
    return out


def begin(rid, role=RESPONDER, flags=0):
    return record(BEGIN, rid, struct.pack(">HB5x", role, flags))


def stream(rtype, rid, data, chunk=65535, padding=0):
    """data as records of at most chunk bytes, then the empty one."""
    out = b""
    for i in range(0, len(data), chunk):
        out += record(rtype, rid, data[i:i + chunk], padding)
    return out + record(rtype, rid)


def request(rid, pairs, body=b"", flags=0, long_form=False, chunk=65535,
            padding=0, role=RESPONDER):
    return (begin(rid, role, flags) +
            stream(PARAMS, rid, nv_pairs(pairs, long_form), chunk, padding) +
            stream(STDIN, rid, body, chunk, padding))


def parse_nv(data):
    out, i = {}, 0
    while i < len(data):
        lens = []
        for _ in range(2):
            if data[i] & 0x80:
                lens.append(struct.unpack(">I", data[i:i + 4])[0] & 0x7fffffff)
                i += 4
            else:
                lens.append(data[i])
                i += 1
        k = data[i:i + lens[0]]
        i += lens[0]
        out[k.decode()] = data[i:i + lens[1]].decode()
        i += lens[1]
    return out


# ------------------------------------------------------------ connection

class Conn:
    """path: a unix socket's path, or tcp:HOST:PORT.  cap: the seconds a
    read waits at most, unless told otherwise."""

    def __init__(self, path, cap=CAP):
        self.path = path
        self.cap = cap
        if path.startswith("tcp:"):
            host, port = path[4:].rsplit(":", 1)
            self.s = socket.create_connection((host, int(port)), timeout=cap)
        else:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.settimeout(cap)
            self.s.connect(path)
        self.buf = b""
        self.eof = False
        self.error = None

    def send(self, data, pace=None, pause=0.0):
        """pace: write in pieces of that many bytes, pause s apart."""
        try:
            if pace is None:
                self.s.sendall(data)
                return True
            for i in range(0, len(data), pace):
                self.s.sendall(data[i:i + pace])
                if pause:
                    time.sleep(pause)
            return True
        except OSError as e:
            self.error = "send: %s" % e
            return False

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.s.settimeout(left)
        try:
            chunk = self.s.recv(65536)
        except socket.timeout:
            return False
        except OSError as e:
            self.error = "recv: %s" % e
            self.eof = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def record(self, timeout=None):
        """The next record (type, id, content, version) or None."""
        deadline = time.monotonic() + (self.cap if timeout is None else timeout)
        while True:
            if len(self.buf) >= 8:
                ver, rtype, rid, clen, plen = struct.unpack(
                    ">BBHHBx", self.buf[:8])
                if len(self.buf) >= 8 + clen + plen:
                    content = self.buf[8:8 + clen]
                    self.buf = self.buf[8 + clen + plen:]
                    return (rtype, rid, content, ver)
            if not self._fill(deadline):
                return None

    def until_end(self, rid, timeout=None):
        """Reads to rid's FCGI_END_REQUEST; an Answer (maybe incomplete)."""
        a = Answer()
        deadline = time.monotonic() + (self.cap if timeout is None else timeout)
        while True:
            r = self.record(max(0.0, deadline - time.monotonic()))
            if r is None:
                a.eof = self.eof
                a.timed_out = not self.eof
                return a
            a.records.append(r)
            rtype, r_id, content, _ = r
            if rtype == STDOUT and r_id == rid:
                a.stdout += content
            elif rtype == STDERR and r_id == rid:
                a.stderr += content
            elif rtype == END and r_id == rid:
                a.end = struct.unpack(">IB3x", content[:8])
                return a
            else:
                a.other.append(r)

    def state(self, wait=3.0):
        """"closed" (EOF), "open" (nothing within wait s) or "data"."""
        if self.buf:
            return "data"
        if self.eof:
            return "closed"
        deadline = time.monotonic() + wait
        if self._fill(deadline):
            return "data"
        return "closed" if self.eof else "open"

    def closed_within(self, timeout):
        """True once the peer closed (data before EOF is discarded)."""
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self.buf = b""
            self._fill(deadline)
        return self.eof

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Answer:
    def __init__(self):
        self.records = []
        self.other = []
        self.stdout = b""
        self.stderr = b""
        self.end = None
        self.eof = False
        self.timed_out = False

    @property
    def status(self):
        head, _, _ = self.stdout.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"status:"):
                try:
                    return int(line.split()[1])
                except (IndexError, ValueError):
                    return None
        return 200 if head else None

    @property
    def headers(self):
        """The CGI response head, names in lower case."""
        head, _, _ = self.stdout.partition(b"\r\n\r\n")
        out = {}
        for line in head.decode("latin-1").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                out[k.strip().lower()] = v.strip()
        return out

    @property
    def body(self):
        return self.stdout.partition(b"\r\n\r\n")[2]

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def protocol_status(self):
        return None if self.end is None else self.end[1]

    def summary(self):
        types = ",".join(str(r[0]) for r in self.records)
        return ("status=%s end=%s records=[%s] eof=%s timed_out=%s "
                "body=%r" % (self.status,
                             None if self.end is None else
                             PS_NAMES.get(self.end[1], self.end[1]),
                             types, self.eof, self.timed_out,
                             self.body[:200]))


