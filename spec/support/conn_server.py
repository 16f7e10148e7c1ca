#!/usr/bin/env python3
"""A status endpoint that ends keep-alive connections in every way a server
may, chosen per request by the job id (the last path or query word):

  keep        answer, keep the connection open (HTTP/1.1 keep-alive)
  announced   answer with "Connection: close", then close
  silent      answer without saying so, then close
  idle-MS     answer, keep the connection, close it after MS ms without a request
  reset       answer, then close with a TCP reset (SO_LINGER 0)

Every answer is {"id": <id>, "status": "queued"}. GET /_stats answers
{"connections": accepted so far, "answers": n} (and resets neither).

127.0.0.1 only; prints its port on the first line of stdout; exits after
--lifetime seconds or when --watch-pid is gone.
"""
import argparse
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
STATS = {"connections": 0, "answers": 0}


def read_request(conn, buf):
    """The next request's target and what is left after it; None on EOF."""
    while b"\r\n\r\n" not in buf:
        try:
            chunk = conn.recv(4096)
        except OSError:
            return None, b""
        if not chunk:
            return None, b""
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    return (parts[1].decode("latin-1") if len(parts) > 1 else "/"), rest


def job_id(target):
    u = urllib.parse.urlsplit(target)
    q = urllib.parse.parse_qs(u.query)
    if "generation_id" in q:
        return q["generation_id"][0]
    return u.path.rstrip("/").rsplit("/", 1)[-1]


def answer(conn, body, close):
    data = json.dumps(body).encode()
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    if close:
        head += "Connection: close\r\n"
    conn.sendall(head.encode() + b"\r\n" + data)


def serve(conn):
    buf = b""
    try:
        while True:
            target, buf = read_request(conn, buf)
            if target is None:
                return
            if target.startswith("/_stats"):
                with LOCK:
                    answer(conn, dict(STATS), True)
                return
            jid = job_id(target)
            with LOCK:
                STATS["answers"] += 1
            answer(conn, {"id": jid, "status": "queued"}, jid == "announced")
            if jid in ("announced", "silent"):
                return
            if jid == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if jid.startswith("idle-"):
                conn.settimeout(int(jid[5:]) / 1000.0)
                try:
                    chunk = conn.recv(4096)
                except socket.timeout:
                    return
                if not chunk:
                    return
                buf += chunk
                conn.settimeout(None)
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lifetime", type=float, default=300)
    ap.add_argument("--watch-pid", type=int, default=0)
    args = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    srv.settimeout(0.5)
    print(srv.getsockname()[1], flush=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.lifetime:
        if args.watch_pid:
            try:
                os.kill(args.watch_pid, 0)
            except OSError:
                break
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        with LOCK:
            STATS["connections"] += 1
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    sys.exit(0)


if __name__ == "__main__":
    main()
