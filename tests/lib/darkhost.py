#!/usr/bin/env python3
"""darkhost.py: a database host that has gone dark, on a loopback port.

It takes TCP connections and never answers them: what a client sees of
a PostgreSQL host mid-failover whose kernel still accepts (or of a
proxy in front of a dead one).  A connect to it succeeds and then the
start-up waits; only the client's own timeout ends the wait.

usage: darkhost.py DIR SECONDS

Prints its port on standard output.  Controlled by files in DIR:
  DIR/hold     present: new connections are held, unanswered;
               absent: each is closed at once (the client moves on)
  DIR/release  present: every held connection is closed, and the file
               is removed
Writes one line per event to DIR/events: "accept N held", "accept N
closed", "release N".  Exits after SECONDS (a test never leaves it
behind).  Standard library only.
"""

import os
import select
import socket
import sys
import time


def main():
    d, secs = sys.argv[1], float(sys.argv[2])
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print(srv.getsockname()[1], flush=True)
    events = open(os.path.join(d, "events"), "w", buffering=1)
    held = {}
    n = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        r, _, _ = select.select([srv] + list(held), [], [], 0.05)
        for s in r:
            if s is srv:
                c, _ = srv.accept()
                n += 1
                if os.path.exists(os.path.join(d, "hold")):
                    held[c] = n
                    events.write("accept %d held\n" % n)
                else:
                    c.close()
                    events.write("accept %d closed\n" % n)
            else:
                # The client went away (or wrote its start-up packet,
                # which nobody reads): only an end of stream counts.
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    events.write("gone %d\n" % held.pop(s))
                    s.close()
        rel = os.path.join(d, "release")
        if os.path.exists(rel):
            for s, k in list(held.items()):
                s.close()
                events.write("release %d\n" % k)
            held.clear()
            os.unlink(rel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
