#!/usr/bin/env python3
"""paging_walk.py: walks every page of a list through its Link headers
while inserting and deleting tasks between pages, and checks what keyset
paging promises (used by 44-paging.sh).

Usage: paging_walk.py BASE TOKEN QUERY STABLE_IDS_FILE

Between two page fetches the same process (a second connection, as
another client of the same user would) creates two tasks and deletes two
it created earlier, so rows appear and vanish on both sides of the
cursor.  A fixed number of mutations per page: nothing depends on speed.

Checks, printed as one line "ok" or "FAIL: ..." with counts:
  - every id of STABLE_IDS_FILE (rows that exist for the whole walk and
    match QUERY) comes exactly once;
  - no id comes twice; no id comes after its deletion;
  - the rows come in the sort's order, ties broken by id;
  - the last page has no Link, every other page has one.
"""
import http.client
import json
import re
import sys
import urllib.parse

PRIO = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def sort_key(sort, t):
    field = sort.lstrip("-")
    if field == "priority":
        k = PRIO[t["priority"]]
    elif field == "due_at":
        # No due date sorts as infinity.
        k = t["due_at"] if t["due_at"] is not None else "~infinity"
    else:
        k = t[field]
    return (k, t["id"])


def main():
    base, token, query, stable_file = sys.argv[1:5]
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    other = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    auth = {"Authorization": "Bearer " + token}
    stable = set(open(stable_file).read().split())
    sort = dict(urllib.parse.parse_qsl(query)).get("sort", "-created_at")
    desc = sort.startswith("-")

    def call(c, method, path, body=None):
        h = dict(auth)
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return r.status, r.getheader("Link"), data

    volatile = []       # ids created here, not yet deleted
    deleted = set()
    seen = {}
    order = []
    pages = links = mutations = n_created = 0
    errors = []
    path = "/api/v1/tasks?" + query
    seq = 0
    while path is not None:
        status, link, data = call(conn, "GET", path)
        pages += 1
        if status != 200:
            errors.append("page %d: status %d %s" % (pages, status, data[:200]))
            break
        rows = json.loads(data)
        for t in rows:
            if t["id"] in seen:
                errors.append("id %s repeated (pages %d and %d)" %
                              (t["id"], seen[t["id"]], pages))
            if t["id"] in deleted:
                errors.append("id %s came after its deletion" % t["id"])
            seen[t["id"]] = pages
            order.append(sort_key(sort, t))
        if link is None:
            path = None
        else:
            links += 1
            m = re.fullmatch(r'<([^>]+)>; rel="next"', link)
            if m is None:
                errors.append("bad Link: %r" % link)
                break
            path = m.group(1)
            if not rows:
                errors.append("empty page %d with a Link" % pages)
        # Another client: two creates (due dates spread over the range,
        # every priority), two deletes of earlier creates.
        for _ in range(2):
            seq += 1
            body = {"title": "volatile %d walkword" % seq,
                    "priority": ["low", "medium", "high", "critical"][seq % 4]}
            if seq % 3:
                body["due_at"] = "2026-%02d-15T12:00:00Z" % (1 + seq % 12)
            st, _, d = call(other, "POST", "/api/v1/tasks", body)
            if st != 201:
                errors.append("create: %d %s" % (st, d[:200]))
            else:
                volatile.append(json.loads(d)["id"])
                n_created += 1
                mutations += 1
        for _ in range(2):
            if len(volatile) > 2:
                vid = volatile.pop(0 if seq % 2 else len(volatile) // 2)
                st, _, _ = call(other, "DELETE", "/api/v1/tasks/" + vid)
                if st != 204:
                    errors.append("delete %s: %d" % (vid, st))
                deleted.add(vid)
                mutations += 1
        if pages > 10000:
            errors.append("more than 10000 pages")
            break
    missing = stable - set(seen)
    if missing:
        errors.append("%d stable rows never came, e.g. %s" %
                      (len(missing), sorted(missing)[:3]))
    for a, b in zip(order, order[1:]):
        if (a < b) if desc else (a > b):
            errors.append("out of order: %r then %r" % (a, b))
            break
    # Leave no volatile rows behind for the next walk.
    for vid in volatile:
        call(other, "DELETE", "/api/v1/tasks/" + vid)
    counts = ("pages %d, links %d, rows %d, stable %d, mutations %d" %
              (pages, links, len(seen), len(stable), mutations))
    if errors:
        print("FAIL: %s; %s" % (counts, "; ".join(errors[:5])))
        return 1
    print("ok: " + counts)
    return 0


sys.exit(main())
