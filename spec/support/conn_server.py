#!/usr/bin/env python3
"""A status endpoint that ends keep-alive connections in every way a server
may, chosen per request by the job id (the last path or query word):

  keep        answer, keep the connection open (HTTP/1.1 keep-alive)
  announced   answer with "Connection: close", then close
  silent      answer without saying so, then close
  idle-MS     answer, keep the connection, close it after MS ms without a request
  reset       answer, then close with a TCP reset (SO_LINGER 0)
  junk-MS     answer, keep the connection; after MS ms without a request send
              an unasked "408" answer on it, then close it (as some servers
              end idle connections)
  half        answer, then shut down the sending side (FIN) and hold the
              connection open until the client closes it
  slow-MS     answer MS ms late, keep the connection
  rstreq      no answer: close with a TCP reset on reading the request
  partial     half an answer's headers, then a TCP reset

An id may carry a unique tail after "~" ("keep~17"): the behaviour is the
part before it, the answer names the whole id (so a client that mixed up
two connections' answers is seen).

Every answer is {"id": <id>, "status": "queued"}. GET /_stats answers
{"connections": accepted so far, "answers": n} (and resets neither).

--tls CERT KEY: HTTPS (HTTP/1.1 offered in ALPN), the same behaviours.

--ports N: the same on N ports (a client resolves a name once per port).

127.0.0.1 (or --host ::1) only; prints its port (its ports, separated by
spaces) on the first line of stdout; exits after --lifetime seconds or when --watch-pid is gone.
"""
import argparse
import json
import os
import select
import socket
import ssl
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


def linger0(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def hold_until_eof(conn):
    """Reads (and drops) whatever comes until the client closes, <= 30 s."""
    conn.settimeout(30)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


def serve(conn, tls):
    buf = b""
    try:
        if tls:
            conn.settimeout(10)
            try:
                conn = tls.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                return
            conn.settimeout(None)
        while True:
            target, buf = read_request(conn, buf)
            if target is None:
                return
            if target.startswith("/_stats"):
                with LOCK:
                    answer(conn, dict(STATS), True)
                return
            jid = job_id(target)
            if "~" in jid:
                full, jid = jid, jid.split("~", 1)[0]
            else:
                full = jid
            if jid == "rstreq":
                linger0(conn)
                return
            if jid == "partial":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: app")
                linger0(conn)
                return
            if jid.startswith("slow-"):
                time.sleep(int(jid[5:]) / 1000.0)
            with LOCK:
                STATS["answers"] += 1
            answer(conn, {"id": full, "status": "queued"}, jid == "announced")
            if jid == "half":
                conn.shutdown(socket.SHUT_WR)
                hold_until_eof(conn)
                return
            if jid.startswith("junk-"):
                conn.settimeout(int(jid[5:]) / 1000.0)
                try:
                    chunk = conn.recv(4096)
                except socket.timeout:
                    conn.sendall(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
                    return
                if not chunk:
                    return
                buf += chunk
                conn.settimeout(None)
                continue
            if jid in ("announced", "silent"):
                return
            if jid == "reset":
                linger0(conn)
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
    ap.add_argument("--host", choices=["127.0.0.1", "::1"], default="127.0.0.1")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--ports", type=int, default=1)
    args = ap.parse_args()
    tls = None
    if args.tls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls[0], args.tls[1])
        tls.set_alpn_protocols(["http/1.1"])
    listeners = []
    for _ in range(args.ports):
        srv = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, 0))
        srv.listen(64)
        srv.setblocking(False)
        listeners.append(srv)
    print(" ".join(str(s.getsockname()[1]) for s in listeners), flush=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.lifetime:
        if args.watch_pid:
            try:
                os.kill(args.watch_pid, 0)
            except OSError:
                break
        ready, _, _ = select.select(listeners, [], [], 0.5)
        for srv in ready:
            try:
                conn, _ = srv.accept()
            except BlockingIOError:
                continue
            conn.setblocking(True)
            with LOCK:
                STATS["connections"] += 1
            threading.Thread(target=serve, args=(conn, tls), daemon=True).start()
    sys.exit(0)


if __name__ == "__main__":
    main()
