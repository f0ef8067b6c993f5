#!/usr/bin/env python3
"""A mixed load through the cluster's nginx, with a ledger of what was
acknowledged, for the cluster smoke and drills (tests/cluster/).

One process, THREADS threads, each with its own user and one kept-alive
HTTP connection.  Each thread loops: create a task, read it, patch its
title, list, and delete every other task.  The run is counted, not timed:
WARM operations, then the file READY is written; the caller breaks
something and writes the file TRIGGER; the load goes on for AFTER more
operations and stops.  MAX_SECONDS is only a safety cap: reaching it is a
failure.

Then the ledger is checked against the service (each user's export):
every acknowledged create is there with its last acknowledged title (or a
later one that was sent), every acknowledged delete is gone, and no task
exists that was never sent.  The summary is one JSON object on stdout.
"""

import argparse
import http.client
import json
import os
import threading
import time
import urllib.parse

p = argparse.ArgumentParser()
p.add_argument("--base", default="http://127.0.0.1:8090")
p.add_argument("--threads", type=int, default=6)
p.add_argument("--warm", type=int, default=150)
p.add_argument("--after", type=int, default=600,
               help="operations after the trigger, then stop")
p.add_argument("--after-writes-ok", type=int, default=0,
               help="instead: stop once this many writes succeeded after "
               "the first failure that followed the trigger")
p.add_argument("--then-writes-ok", type=int, default=0,
               help="with --after: when a failure followed the trigger, "
               "also go on until this many writes succeeded after it")
p.add_argument("--ready", required=True)
p.add_argument("--trigger", required=True)
p.add_argument("--settled",
               help="count the --after operations only from when this "
               "file exists (the caller's fault has fully landed)")
p.add_argument("--stop", help="instead: stop once this file exists")
p.add_argument("--done", help="write this file when the load stops")
p.add_argument("--check-when",
               help="check the ledger only once this file exists (at most "
               "MAX_SECONDS more): the caller repairs something first")
p.add_argument("--max-seconds", type=float, default=90)
p.add_argument("--timeout", type=float, default=40)
args = p.parse_args()

u = urllib.parse.urlsplit(args.base)
HOST, PORT = u.hostname, u.port or 80
RUN = "%x" % int(time.time() * 1000)

lock = threading.Lock()
state = {"ops": 0, "ops_after": 0, "ops_settled": 0, "settled": False,
         "triggered_at": None, "ready": False,
         "stop": False, "first_fail": None, "first_write_ok": None,
         "writes_ok_after_fail": 0}
WRITES = ("create", "patch", "delete")
statuses = {"before": {}, "after": {}}
failures = []          # each: op, status, json, retry_after, t
t_start = time.time()


class Client:
    """One kept-alive connection; reconnects after any error."""

    def __init__(self):
        self.c = None

    def req(self, method, path, body=None, token=None):
        h = {"Accept": "application/json"}
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body)
        if token:
            h["Authorization"] = "Bearer " + token
        try:
            if self.c is None:
                self.c = http.client.HTTPConnection(HOST, PORT,
                                                    timeout=args.timeout)
            self.c.request(method, path, body=body, headers=h)
            r = self.c.getresponse()
            data = r.read()
            ra = r.getheader("Retry-After")
            if r.getheader("Connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return ("EXC:" + type(e).__name__, None, None)
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = "NOT-JSON"
        return (r.status, doc, ra)

    def close(self):
        if self.c is not None:
            self.c.close()
            self.c = None


def count(op, st, doc, ra, sent):
    """Counts one answer to a request sent at SENT; True while the run
    goes on."""
    with lock:
        if not state["triggered_at"] and os.path.exists(args.trigger):
            state["triggered_at"] = time.time()
        phase = "after" if state["triggered_at"] else "before"
        k = "%s %s" % (op, st)
        statuses[phase][k] = statuses[phase].get(k, 0) + 1
        if not (isinstance(st, int) and st < 500):
            failures.append({"op": op, "status": st,
                             "json": isinstance(doc, dict) and "error" in doc,
                             "retry_after": ra,
                             "t": round(time.time() - t_start, 3),
                             "phase": phase})
        state["ops"] += 1
        if phase == "after":
            state["ops_after"] += 1
            if args.settled and not state["settled"]:
                state["settled"] = os.path.exists(args.settled)
            if state["settled"]:
                state["ops_settled"] += 1
            now = time.time()
            if not ok(st) and state["first_fail"] is None:
                state["first_fail"] = now
            # Recovery: the first write sent after the first failure that
            # succeeded.
            if (op in WRITES and ok(st) and state["first_fail"] is not None
                    and sent > state["first_fail"]):
                if state["first_write_ok"] is None:
                    state["first_write_ok"] = now
                state["writes_ok_after_fail"] += 1
                if (args.after_writes_ok and state["writes_ok_after_fail"]
                        >= args.after_writes_ok):
                    state["stop"] = True
        if not state["ready"] and state["ops"] >= args.warm:
            state["ready"] = True
            open(args.ready, "w").close()
        if args.stop:
            if os.path.exists(args.stop):
                state["stop"] = True
        elif not args.after_writes_ok and state[
                "ops_settled" if args.settled else "ops_after"] >= args.after:
            if (not args.then_writes_ok or state["first_fail"] is None
                    or state["writes_ok_after_fail"] >= args.then_writes_ok):
                state["stop"] = True
        if time.time() - t_start > args.max_seconds:
            state["stop"] = True
        return not state["stop"]


def ok(st):
    return isinstance(st, int) and 200 <= st < 300


class Worker(threading.Thread):
    def __init__(self, n):
        super().__init__(daemon=True)
        self.n = n
        self.cl = Client()
        self.email = "load-%s-%d@example.org" % (RUN, n)
        self.token = None
        # Ledger: id -> {"titles": titles it may hold, "deleted": True/False/
        # None (unknown)}; unknown_creates: creates whose outcome is unknown.
        self.tasks = {}
        self.unknown_creates = 0
        self.error = None

    def setup(self):
        for _ in range(10):
            st, doc, _ = self.cl.req("POST", "/api/v1/auth/register",
                                     {"email": self.email, "name": "load",
                                      "password": "load-password"})
            if st in (201, 409):
                break
            time.sleep(0.5)
        for _ in range(10):
            st, doc, _ = self.cl.req("POST", "/api/v1/auth/login",
                                     {"email": self.email,
                                      "password": "load-password"})
            if st == 200:
                self.token = doc["token"]
                return True
            time.sleep(0.5)
        self.error = "could not log in: %s" % (st,)
        return False

    def run(self):
        if not self.setup():
            return
        i = 0
        go = True
        while go:
            i += 1
            title = "t-%d-%d" % (self.n, i)
            sent = time.time()
            st, doc, ra = self.cl.req("POST", "/api/v1/tasks",
                                      {"title": title}, self.token)
            go = count("create", st, doc, ra, sent)
            if not ok(st):
                if not (isinstance(st, int) and st < 500):
                    self.unknown_creates += 1
                continue
            tid = doc["id"]
            self.tasks[tid] = {"titles": {title}, "deleted": False}
            if not go:
                break
            sent = time.time()
            st, doc, ra = self.cl.req("GET", "/api/v1/tasks/" + tid,
                                      token=self.token)
            go = count("get", st, doc, ra, sent)
            if not go:
                break
            new = title + "-p"
            sent = time.time()
            st, doc, ra = self.cl.req("PATCH", "/api/v1/tasks/" + tid,
                                      {"title": new}, self.token)
            go = count("patch", st, doc, ra, sent)
            if ok(st):
                self.tasks[tid]["titles"] = {new}
            elif not (isinstance(st, int) and st < 500):
                self.tasks[tid]["titles"].add(new)
            if not go:
                break
            sent = time.time()
            st, doc, ra = self.cl.req("GET", "/api/v1/tasks?limit=5",
                                      token=self.token)
            go = count("list", st, doc, ra, sent)
            if not go or i % 2:
                continue
            sent = time.time()
            st, doc, ra = self.cl.req("DELETE", "/api/v1/tasks/" + tid,
                                      token=self.token)
            go = count("delete", st, doc, ra, sent)
            if ok(st):
                self.tasks[tid]["deleted"] = True
            elif st == 404:
                # nginx passes a DELETE whose host died before answering on
                # to the next host (DELETE is idempotent): if the first one
                # had committed, the second finds nothing.  The task is gone
                # either way, as asked.
                self.tasks[tid]["deleted"] = True
                with lock:
                    state["delete_404"] = state.get("delete_404", 0) + 1
            elif not (isinstance(st, int) and st < 500):
                self.tasks[tid]["deleted"] = None

    def export(self):
        """This user's tasks as the service has them: id -> title."""
        for _ in range(10):
            try:
                c = http.client.HTTPConnection(HOST, PORT, timeout=args.timeout)
                c.request("GET", "/api/v1/tasks/export",
                          headers={"Authorization": "Bearer " + self.token})
                r = c.getresponse()
                data = r.read().decode()
                c.close()
                if r.status == 200:
                    rows = [json.loads(l) for l in data.splitlines() if l]
                    return {t["id"]: t["title"] for t in rows}
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(1)
        return None

    def check(self):
        """Ledger problems of this user, as strings."""
        if self.token is None:
            return [self.error or "no token"]
        have = self.export()
        if have is None:
            return ["user %d: export failed" % self.n]
        bad = []
        for tid, t in self.tasks.items():
            if t["deleted"] is True and tid in have:
                bad.append("deleted task %s is still there" % tid)
            if t["deleted"] is False:
                if tid not in have:
                    bad.append("acknowledged task %s is missing" % tid)
                elif have[tid] not in t["titles"]:
                    bad.append("task %s holds %r, not %r" % (
                        tid, have[tid], sorted(t["titles"])))
        unknown = [tid for tid in have if tid not in self.tasks]
        if len(unknown) > self.unknown_creates:
            bad.append("%d tasks never acknowledged, only %d creates of "
                       "unknown outcome" % (len(unknown), self.unknown_creates))
        return bad


def rel(t):
    """Seconds from the trigger to T."""
    if t is None or state["triggered_at"] is None:
        return None
    return round(t - state["triggered_at"], 3)


workers = [Worker(n) for n in range(args.threads)]
for w in workers:
    w.start()
for w in workers:
    w.join(args.max_seconds + args.timeout + 30)
elapsed = time.time() - t_start
if args.done:
    open(args.done, "w").close()
if args.check_when:
    t_wait = time.time()
    while (not os.path.exists(args.check_when)
           and time.time() - t_wait < args.max_seconds):
        time.sleep(0.2)
problems = []
for w in workers:
    problems += w.check()
acked_live = sum(1 for w in workers for t in w.tasks.values()
                 if t["deleted"] is False)
print(json.dumps({
    "ops": state["ops"], "ops_after": state["ops_after"],
    "ops_settled": state["ops_settled"],
    "elapsed_s": round(elapsed, 2),
    "triggered_at_s": (round(state["triggered_at"] - t_start, 3)
                       if state["triggered_at"] else None),
    "capped": elapsed > args.max_seconds,
    "delete_404": state.get("delete_404", 0),
    "first_failure_s": rel(state["first_fail"]),
    "first_write_ok_after_failure_s": rel(state["first_write_ok"]),
    "statuses": statuses, "failures": failures,
    "ledger": {"tasks": sum(len(w.tasks) for w in workers),
               "live": acked_live, "problems": problems},
}))
