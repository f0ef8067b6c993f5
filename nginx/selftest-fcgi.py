#!/usr/bin/env python3
"""A stand-in for the taskapi FastCGI pool, used only by nginx/selftest.sh.

usage: selftest-fcgi.py SOCKET_PATH LOG_PATH

Serves FastCGI responder requests on a unix socket, one connection per
request (as nginx without fastcgi_keep_conn sends them).  Every response
also carries the headers nginx must hide or pass, to test that.  Like the
real app it answers with an X-Request-Id: the one nginx passed
(HTTP_X_REQUEST_ID, the client's valid id), or 32 hex digits of its own
when nginx passed none.  Routes
(on REQUEST_URI, like the real app):
  /health                  200 {"status":"ok","database":"ok"}
  /api/v1/tasks/export     NDJSON, 5 lines 0.4 s apart, each flushed
  /api/v1/big              200, a ~20 KB JSON array (gzip test)
  /api/v1/app404           404 {"error":"app says no"} (error pass-through)
  /api/v1/slow             answers after 4 s (read-timeout test)
  anything else            200, JSON echo of the CGI params and body size
Each request's method and REQUEST_URI are appended to LOG_PATH.
"""

import json
import os
import secrets
import socket
import struct
import sys
import threading
import time

BEGIN, ABORT, END, PARAMS, STDIN, STDOUT = 1, 2, 3, 4, 5, 6


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_record(conn):
    hdr = read_exact(conn, 8)
    _ver, rtype, rid, clen, plen, _ = struct.unpack("!BBHHBB", hdr)
    content = read_exact(conn, clen) if clen else b""
    if plen:
        read_exact(conn, plen)
    return rtype, rid, content


def parse_params(data):
    params, i = {}, 0

    def length():
        nonlocal i
        if data[i] & 0x80:
            n = struct.unpack("!I", data[i:i + 4])[0] & 0x7FFFFFFF
            i += 4
        else:
            n = data[i]
            i += 1
        return n

    while i < len(data):
        nlen = length()
        vlen = length()
        name = data[i:i + nlen].decode("latin-1")
        i += nlen
        params[name] = data[i:i + vlen].decode("latin-1")
        i += vlen
    return params


def send(conn, rtype, rid, data):
    for off in range(0, max(len(data), 1), 65535):
        part = data[off:off + 65535]
        conn.sendall(struct.pack("!BBHHBB", 1, rtype, rid, len(part), 0, 0) + part)
        if not data:
            break


def respond(conn, rid, status, body, reqid, ctype="application/json; charset=utf-8",
            extra=()):
    head = ["Status: %s" % status, "Content-Type: " + ctype,
            # nginx passes this one through and adds none of its own.
            "X-Request-Id: " + reqid,
            # nginx must replace these with its own, exactly once each.
            "X-Content-Type-Options: nosniff",
            "Access-Control-Allow-Origin: *"]
    head.extend(extra)
    send(conn, STDOUT, rid, ("\r\n".join(head) + "\r\n\r\n").encode() + body)


def handle(conn, log_path):
    try:
        params_raw, body, rid = b"", b"", 1
        params_done = stdin_done = False
        while not (params_done and stdin_done):
            rtype, rid, content = read_record(conn)
            if rtype == PARAMS:
                if content:
                    params_raw += content
                else:
                    params_done = True
            elif rtype == STDIN:
                if content:
                    body += content
                else:
                    stdin_done = True
            elif rtype == ABORT:
                return
        p = parse_params(params_raw)
        uri = p.get("REQUEST_URI", "")
        path = uri.split("?", 1)[0]
        reqid = p.get("HTTP_X_REQUEST_ID") or secrets.token_hex(16)
        with open(log_path, "a") as f:
            f.write("%s %s\n" % (p.get("REQUEST_METHOD"), uri))

        if path == "/health":
            respond(conn, rid, "200 OK", b'{"status":"ok","database":"ok"}', reqid)
        elif path == "/api/v1/tasks/export":
            head = ("Status: 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                    "X-Request-Id: " + reqid + "\r\n\r\n")
            send(conn, STDOUT, rid, head.encode())
            for n in range(5):
                line = json.dumps({"n": n, "t": time.time(),
                                   "pad": "x" * 300}) + "\n"
                send(conn, STDOUT, rid, line.encode())
                time.sleep(0.4)
        elif path == "/api/v1/big":
            items = [{"id": n, "title": "task number %d" % n} for n in range(600)]
            respond(conn, rid, "200 OK", json.dumps(items).encode(), reqid)
        elif path == "/api/v1/slow":
            time.sleep(4)
            respond(conn, rid, "200 OK", b'{"slow":true}', reqid)
        elif path == "/api/v1/app404":
            respond(conn, rid, "404 Not Found", b'{"error":"app says no"}', reqid)
        else:
            keys = ["REQUEST_METHOD", "REQUEST_URI", "QUERY_STRING",
                    "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_AUTHORIZATION",
                    "HTTP_X_REQUEST_ID", "HTTP_TRACEPARENT", "HTTP_PROXY",
                    "HTTP_HOST", "HTTPS", "REMOTE_ADDR", "SERVER_SOFTWARE"]
            echo = {k: p.get(k) for k in keys}
            echo["body_length"] = len(body)
            echo["answered_request_id"] = reqid
            echo["x_request_id_params"] = sorted(
                k for k in p if k.upper() == "HTTP_X_REQUEST_ID")
            respond(conn, rid, "200 OK", json.dumps(echo, sort_keys=True).encode(), reqid)
        send(conn, STDOUT, rid, b"")
        send(conn, END, rid, struct.pack("!IB3x", 0, 0))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass
    finally:
        conn.close()


def main():
    sock_path, log_path = sys.argv[1], sys.argv[2]
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    os.chmod(sock_path, 0o666)
    srv.listen(128)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn, log_path), daemon=True).start()


if __name__ == "__main__":
    main()
