#!/usr/bin/env python3
"""ledger.py: mixed load with a ledger of every answer, then an audit.

One process, one thread per client (stdlib only).  Each client owns one
account and its tasks, and runs creates, patches, deletes, reads and
account renames on them over a kept-alive HTTP/1.1 connection.  Every
request carries its own X-Request-Id and unique title or name, so each
row in the database can be traced to the request that wrote it.

A fault command (kill a worker, SIGHUP, restart the pool, ...) runs every
--fault-every answered requests, --faults times: faults are paced by
count, never by the clock.  The load pauses while a fault command runs
late, unless --load-through-faults (a restart is drilled with requests
arriving all through it).  The run ends after --requests answers (a
generous --time-cap stops it anyway, and says so).

Afterwards the audit reads the database (TASKAPI_PSQL) and checks:
  lost          an acknowledged create, patch, delete or rename that the
                database does not show
  phantom       a row no request of this run asked for, or one create
                stored twice
  after_gone    a write that took effect after its client had given up
                (its row's timestamp is later than the give-up time)
  lie_404       a 404 for the client's own task that it created and never
                tried to delete (e.g. a DELETE retried after it succeeded)
  no_answer     a request without an HTTP answer (client timeout, reset)
  log_method    an access-log line whose method is not the one the client
                sent (with --access-log)
and prints one JSON object (stdout) with those lists, the answers by
status, failures (5xx) by status, 503s without Retry-After, and the time
to recover: from each fault to the next 2xx on each kind of route.
"""

import argparse
import datetime
import http.client
import json
import os
import random
import shlex
import subprocess
import sys
import threading
import time
import uuid

# Routes served by the blocking pool (nginx/taskapi.conf); the rest go to
# the event worker.
BLOCKING_OPS = {"rename", "users"}
METHODS = {"create": "POST", "patch": "PATCH", "delete": "DELETE", "read": "GET",
           "rename": "PATCH", "users": "GET"}


def log(msg):
    sys.stderr.write("# " + msg + "\n")
    sys.stderr.flush()


class Run:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.answered = 0  # requests finished (any outcome)
        self.stop = False
        self.capped = False
        self.answers = []  # (client, op, method, status, t0, t1, rid)
        self.faults_at = []  # wall time each fault command started
        self.faults_done = 0
        self.no_retry_after = 0
        self.non_json = 0

    def faults_over(self):
        """With --load-through-faults the run also waits for the last fault."""
        a = self.args
        return not (a.load_through_faults and a.fault_cmd) or self.faults_done >= a.faults

    def note(self, rec):
        with self.cond:
            self.answers.append(rec)
            self.answered += 1
            if self.answered >= self.args.requests and self.faults_over():
                self.stop = True
            self.cond.notify_all()


class Client(threading.Thread):
    def __init__(self, run, idx, host, port):
        super().__init__(daemon=True)
        self.run_ = run
        self.idx = idx
        self.host, self.port = host, port
        self.conn = None
        self.used = 0.0  # time.monotonic() of the connection's last answer
        self.seq = 0
        self.rng = random.Random(idx * 7919 + 1)
        self.user = None  # id, token, email
        # Ledger: per task id, the state the database must show.
        self.tasks = {}  # id -> {"title", "pending": set, "deleted": None|"ack"|"unknown"}
        self.live = []  # ids created (acked), never a delete tried
        self.unacked_creates = {}  # title -> give-up time or None
        self.timed_out_patches = []  # (id, title, give-up time)
        self.name = None
        self.name_pending = set()
        self.timed_out_renames = []  # (name, give-up time)
        self.lie_404 = []

    # -- HTTP ---------------------------------------------------------
    def request(self, method, path, body=None, token=None):
        """One request; returns (status, headers, body-bytes) or (None, err, None)."""
        self.seq += 1
        rid = "L%d-%d-%s" % (self.idx, self.seq, uuid.uuid4().hex[:8])
        hdrs = {"X-Request-Id": rid}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if token:
            hdrs["Authorization"] = "Bearer " + token
        t0 = time.time()
        # A kept-alive connection idle longer than nginx keeps it (its
        # keepalive_timeout, 15 s) may be closed as this request goes out,
        # and the request is then lost on the wire: a client's pool drops
        # such a connection instead (a fault command that takes long,
        # like a ./dev up, leaves every client idle that long).
        if self.conn is not None and time.monotonic() - self.used > self.run_.args.idle_reuse:
            self.conn.close()
            self.conn = None
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.run_.args.client_timeout)
            self.conn.request(method, path, body=data, headers=hdrs)
            resp = self.conn.getresponse()
            payload = resp.read()
            status = resp.status
            headers = {k.lower(): v for k, v in resp.getheaders()}
            if resp.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            self.used = time.monotonic()
            return status, headers, payload, rid, t0, time.time()
        except (OSError, http.client.HTTPException) as e:
            # A timeout is the client giving up; anything else is the
            # connection failing under it.  Either way: no answer.
            if self.conn is not None:
                self.conn.close()
                self.conn = None
            kind = "timeout" if "timed out" in str(e) else "reset"
            return None, kind, None, rid, t0, time.time()

    def record(self, op, method, res):
        status, headers, payload, rid, t0, t1 = res
        run = self.run_
        if status is not None:
            if status == 503 and "retry-after" not in headers:
                with run.lock:
                    run.no_retry_after += 1
            if payload:
                try:
                    json.loads(payload)
                except ValueError:
                    with run.lock:
                        run.non_json += 1
        run.note((self.idx, op, method, status if status is not None else headers,
                  t0, t1, rid))

    # -- set-up -------------------------------------------------------
    def setup(self):
        email = "ledger-%d-%s@example.org" % (self.idx, uuid.uuid4().hex[:10])
        pw = "pw-" + uuid.uuid4().hex
        self.name = "n%d-0" % self.idx
        for _ in range(50):
            st, h, p, *_ = self.request("POST", "/api/v1/auth/register",
                                        {"email": email, "password": pw, "name": self.name})
            if st == 201:
                uid = json.loads(p)["id"]
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("register failed: %s" % st)
        for _ in range(50):
            st, h, p, *_ = self.request("POST", "/api/v1/auth/login",
                                        {"email": email, "password": pw})
            if st == 200:
                self.user = (uid, json.loads(p)["token"])
                return
            time.sleep(0.2)
        raise RuntimeError("login failed: %s" % st)

    # -- the load -----------------------------------------------------
    def pick(self):
        mix = self.run_.args.mix
        if not self.live:
            return "create"
        r = self.rng.random() * sum(mix.values())
        for op, w in mix.items():
            r -= w
            if r < 0:
                return op
        return "read"

    def step(self):
        uid, tok = self.user
        op = self.pick()
        n = self.seq + 1
        if op == "create":
            title = "c%d-%d" % (self.idx, n)
            res = self.request("POST", "/api/v1/tasks", {"title": title}, tok)
            st = res[0]
            if st == 201:
                tid = json.loads(res[2])["id"]
                self.tasks[tid] = {"title": title, "pending": set(), "deleted": None}
                self.live.append(tid)
            else:
                self.unacked_creates[title] = res[5] if st is None else None
        elif op == "patch":
            tid = self.rng.choice(self.live)
            title = "p%d-%d" % (self.idx, n)
            res = self.request("PATCH", "/api/v1/tasks/" + tid, {"title": title}, tok)
            st = res[0]
            t = self.tasks[tid]
            if st == 200:
                t["title"], t["pending"] = title, set()
            else:
                t["pending"].add(title)
                if st is None:
                    self.timed_out_patches.append((tid, title, res[5]))
                if st == 404:
                    self.lie_404.append(("PATCH", tid, res[3]))
        elif op == "delete":
            tid = self.live.pop(self.rng.randrange(len(self.live)))
            res = self.request("DELETE", "/api/v1/tasks/" + tid, None, tok)
            st = res[0]
            self.tasks[tid]["deleted"] = "ack" if st == 204 else "unknown"
            if st == 404:
                self.lie_404.append(("DELETE", tid, res[3]))
        elif op == "read":
            tid = self.rng.choice(self.live)
            res = self.request("GET", "/api/v1/tasks/" + tid, None, tok)
            if res[0] == 404:
                self.lie_404.append(("GET", tid, res[3]))
        elif op == "rename":
            name = "n%d-%d" % (self.idx, n)
            res = self.request("PATCH", "/api/v1/users/" + uid, {"name": name}, tok)
            st = res[0]
            if st == 200:
                self.name, self.name_pending = name, set()
            else:
                self.name_pending.add(name)
                if st is None:
                    self.timed_out_renames.append((name, res[5]))
        else:  # "users": a read on the blocking pool
            res = self.request("GET", "/api/v1/users/" + uid, None, tok)
        self.record(op, METHODS[op], res)

    def run(self):
        run = self.run_
        while True:
            with run.cond:
                # Faults are paced by answers: the load runs at most half
                # an interval past a fault's turn before that fault is done.
                a = run.args
                while (not run.stop and a.fault_cmd and not a.load_through_faults and
                       run.faults_done < a.faults and
                       run.answered >= (run.faults_done + 1) * a.fault_every + a.fault_every // 2):
                    run.cond.wait(0.5)
                if run.stop:
                    return
            self.step()


def fault_loop(run, args):
    """Runs the fault command after every --fault-every answers."""
    for k in range(args.faults):
        with run.cond:
            goal = (k + 1) * args.fault_every
            while run.answered < goal and not run.stop:
                run.cond.wait(0.5)
            if run.stop:
                return
        run.faults_at.append(time.time())
        p = subprocess.run(args.fault_cmd, shell=True, capture_output=True, text=True)
        with run.cond:
            run.faults_done += 1
            if run.answered >= args.requests and run.faults_over():
                run.stop = True
            run.cond.notify_all()
        if p.returncode != 0:
            log("fault %d: command exited %d: %s" % (k + 1, p.returncode,
                                                     (p.stderr or p.stdout).strip()[:200]))


def psql(query):
    cmd = shlex.split(os.environ["TASKAPI_PSQL"]) + ["-X", "-A", "-t", "-F", "\t", "-c", query]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def audit(run, clients, args):
    lost, phantom, after_gone, lie = [], [], [], []
    slack = args.gone_slack
    for c in clients:
        uid = c.user[0]
        rows = psql("SELECT id, title, extract(epoch FROM created_at), "
                    "extract(epoch FROM updated_at) FROM tasks WHERE user_id = '%s'" % uid)
        db = {r[0]: (r[1], float(r[2]), float(r[3])) for r in rows}
        seen_titles = {}
        for tid, (title, cat, uat) in db.items():
            seen_titles.setdefault(title, []).append(tid)
        for tid, t in c.tasks.items():
            if t["deleted"] == "ack":
                if tid in db:
                    lost.append("client %d: acknowledged DELETE of %s, row still there" % (c.idx, tid))
            elif t["deleted"] is None:
                if tid not in db:
                    lost.append("client %d: acknowledged task %s is gone" % (c.idx, tid))
                elif db[tid][0] != t["title"] and db[tid][0] not in t["pending"]:
                    lost.append("client %d: task %s has title %r, acknowledged %r" %
                                (c.idx, tid, db[tid][0], t["title"]))
        known = {t["title"] for t in c.tasks.values()}
        for t in c.tasks.values():
            known |= t["pending"]
        for title, ids in seen_titles.items():
            if title.startswith("c") and len(ids) > 1:
                phantom.append("client %d: create %r stored %d times" % (c.idx, title, len(ids)))
        for tid, (title, cat, uat) in db.items():
            if tid not in c.tasks and title not in c.unacked_creates:
                phantom.append("client %d: row %s (%r) no request asked for" % (c.idx, tid, title))
            elif tid not in c.tasks:
                gave_up = c.unacked_creates[title]
                if gave_up is not None and cat > gave_up + slack:
                    after_gone.append("client %d: create %r ran %.3f s after its client gave up" %
                                      (c.idx, title, cat - gave_up))
            elif title not in known:
                phantom.append("client %d: task %s has title %r nobody sent" % (c.idx, tid, title))
        for tid, title, gave_up in c.timed_out_patches:
            if tid in db and db[tid][0] == title and db[tid][2] > gave_up + slack:
                after_gone.append("client %d: PATCH %r of %s ran %.3f s after its client gave up" %
                                  (c.idx, title, tid, db[tid][2] - gave_up))
        urow = psql("SELECT name, extract(epoch FROM updated_at) FROM users WHERE id = '%s'" % uid)
        name, uat = urow[0][0], float(urow[0][1])
        if name != c.name and name not in c.name_pending:
            lost.append("client %d: account name %r, acknowledged %r" % (c.idx, name, c.name))
        for n, gave_up in c.timed_out_renames:
            if name == n and uat > gave_up + slack:
                after_gone.append("client %d: rename %r ran %.3f s after its client gave up" %
                                  (c.idx, n, uat - gave_up))
        lie += ["client %d: %s %s -> 404 (request %s)" % (c.idx, m, tid, rid)
                for m, tid, rid in c.lie_404]
    return lost, phantom, after_gone, lie


def access_log_check(run, path):
    """Lines of this run's request ids whose method differs from the sent one."""
    sent = {a[6]: a[2] for a in run.answers}
    bad = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                rid = e.get("request_id")
                if rid in sent and e.get("method") != sent[rid]:
                    bad.append("%s %s %s logged as %s (status %s)" %
                               (rid, sent[rid], e.get("uri"), e.get("method"), e.get("status")))
    except OSError as e:
        bad.append("cannot read %s: %s" % (path, e))
    return bad


def app_log_check(run, path, slack):
    """Requests the client gave up on that a worker executed afterwards.

    The app logs one line per request it ran (request id, status, time at
    the end); a 2xx logged after the give-up means the write was done for
    a client that was no longer there."""
    gave_up = {a[6]: a[5] for a in run.answers if a[3] == "timeout" and a[2] != "GET"}
    bad = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if '"request_id"' not in line:
                    continue
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                rid = e.get("request_id")
                st = e.get("status")
                if rid not in gave_up or not isinstance(st, int) or not 200 <= st < 300:
                    continue
                t = datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
                if t > gave_up[rid] + slack:
                    bad.append("request %s: the app answered %d %.3f s after its client gave up" %
                               (rid, st, t - gave_up[rid]))
    except OSError as e:
        bad.append("cannot read %s: %s" % (path, e))
    return bad


def recovery(run):
    """Per fault: ms to the next 2xx on each kind of route; the worst."""
    worst = {"blocking": 0.0, "event": 0.0}
    for f in run.faults_at:
        for kind in worst:
            nxt = [a[5] for a in run.answers
                   if isinstance(a[3], int) and 200 <= a[3] < 300 and a[5] > f
                   and ((a[1] in BLOCKING_OPS) == (kind == "blocking"))]
            if nxt:
                worst[kind] = max(worst[kind], (min(nxt) - f) * 1000)
            else:
                worst[kind] = float("inf")
    return {k: (round(v) if v != float("inf") else -1) for k, v in worst.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default=os.environ.get("TASKAPI_BASE_URL", "http://127.0.0.1:8080"))
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--time-cap", type=float, default=120)
    ap.add_argument("--client-timeout", type=float, default=10)
    ap.add_argument("--idle-reuse", type=float, default=10,
                    help="seconds a kept-alive connection may sit idle and still be reused")
    ap.add_argument("--mix", default="create=30,patch=25,delete=15,read=20,rename=10")
    ap.add_argument("--fault-cmd", default="")
    ap.add_argument("--fault-every", type=int, default=100)
    ap.add_argument("--load-through-faults", action="store_true",
                    help="the clients keep sending while a fault command runs (by default they "
                    "pause half an interval past its turn), and the run lasts until the last "
                    "fault command is done")
    ap.add_argument("--faults", type=int, default=0)
    ap.add_argument("--gone-slack", type=float, default=0.25,
                    help="seconds after the give-up a write may still start (nginx noticing)")
    ap.add_argument("--access-log", default="")
    ap.add_argument("--app-log", default="")
    args = ap.parse_args()
    args.mix = {k: float(v) for k, v in (p.split("=") for p in args.mix.split(","))}
    hostport = args.base.split("//", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)

    run = Run(args)
    clients = [Client(run, i, host, int(port)) for i in range(args.clients)]
    for c in clients:
        c.setup()
    run.answers.clear()
    run.answered = 0
    t0 = time.time()
    for c in clients:
        c.start()
    faulter = None
    if args.fault_cmd and args.faults > 0:
        faulter = threading.Thread(target=fault_loop, args=(run, args), daemon=True)
        faulter.start()
    deadline = t0 + args.time_cap
    while any(c.is_alive() for c in clients):
        if time.time() > deadline:
            with run.lock:
                run.stop = True
                run.capped = True
            break
        time.sleep(0.1)
    for c in clients:
        c.join(args.client_timeout + 5)
    if faulter is not None:
        faulter.join(60)
    elapsed = time.time() - t0

    by_status, failures, no_answer = {}, {}, []
    for a in run.answers:
        key = str(a[3])
        by_status[key] = by_status.get(key, 0) + 1
        if not isinstance(a[3], int):
            no_answer.append("%s %s %s (%s after %.1f s)" % (a[6], a[2], a[1], a[3], a[5] - a[4]))
        elif a[3] >= 500:
            failures[key] = failures.get(key, 0) + 1
    lost, phantom, after_gone, lie = audit(run, clients, args)
    if args.app_log:
        after_gone += app_log_check(run, args.app_log, args.gone_slack)
    log_bad = access_log_check(run, args.access_log) if args.access_log else []
    out = {
        "requests": len(run.answers),
        "elapsed_s": round(elapsed, 1),
        "capped": run.capped,
        "faults": len(run.faults_at),
        "by_status": by_status,
        "failures": failures,
        "failed": sum(failures.values()) + len(no_answer),
        "no_answer": no_answer,
        "no_retry_after_503": run.no_retry_after,
        "non_json": run.non_json,
        "lost": lost,
        "phantom": phantom,
        "after_gone": after_gone,
        "lie_404": lie,
        "log_method": log_bad,
        "recover_ms": recovery(run),
        # The longest wait for an answer (a request queued in a socket's
        # backlog while no master accepts, say).
        "slowest_ms": round(max((a[5] - a[4] for a in run.answers), default=0) * 1000),
    }
    log("%d requests in %.1f s%s, %d faults; answers %s; no answer %d; lost %d, phantom %d, "
        "executed after the client gave up %d, 404 lies %d, log method wrong %d; "
        "recovery (ms to the next 2xx after a fault, worst) %s" %
        (out["requests"], elapsed, " (TIME CAP)" if run.capped else "", out["faults"],
         json.dumps(by_status, sort_keys=True), len(no_answer), len(lost), len(phantom),
         len(after_gone), len(lie), len(log_bad), out["recover_ms"]))
    for k in ("no_answer", "lost", "phantom", "after_gone", "lie_404", "log_method"):
        for line in out[k][:10]:
            log("%s: %s" % (k, line))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
