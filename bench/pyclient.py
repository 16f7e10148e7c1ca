#!/usr/bin/env python3
"""Baseline: python3 http.client on one keep-alive connection + json.loads.
usage: pyclient.py PORT PATH N MAXSECS -> prints "requests wall_s cpu_s bytes"
cpu_s is this process's CPU time (time.process_time)."""
import http.client
import json
import sys
import time

port, path, n, maxs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Authorization": "Bearer bench-key", "Accept": "application/json"}


def one():
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit("pyclient: HTTP %d" % r.status)
    st = json.loads(body)
    if not st.get("status"):
        raise SystemExit("pyclient: no status")
    return len(body)


for _ in range(50):
    one()
total = 0
done = 0
c0, t0 = time.process_time(), time.monotonic()
while done < n and time.monotonic() - t0 < maxs:
    total += one()
    done += 1
t = time.monotonic() - t0
c = time.process_time() - c0
print("%d %.6f %.6f %d" % (done, t, c, total))
