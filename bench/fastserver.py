#!/usr/bin/env python3
"""A small, fast fake of the two API routes, for the concurrency benchmark.

spec/support/server.py is the faithful fake (faults, records, TLS, sandbox);
it does more work per request than 10,000 jobs x several polls want. This
one does only what the benchmark needs, on asyncio Protocols with a
hand-written HTTP/1.1 parser (keep-alive, Content-Length bodies):

  POST /v2/video/generations            -> {"id": "job-N", "status": "queued", ...}
  GET  /v2/video/generations?generation_id=ID
       -> "queued" until ID has been polled --polls times, then "completed"
          with a video URL; --polls 0: always "queued" (jobs never finish)
  GET  /_stats                           -> JSON counters (see below)

Bodies are read and discarded as they arrive (never buffered whole) and
answered only once whole. It counts accepted connections, the most open at
once, requests per route and request body bytes, so the benchmark can check
connection pooling and upload volume from the server's side.
Listens on 127.0.0.1 only; exits after --lifetime seconds in any case.
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import time

STATS = {"accepted": 0, "open": 0, "max_open": 0, "create": 0, "poll": 0, "other": 0,
         "completed_answers": 0, "body_bytes": 0}
POLLS = {}          # job id -> polls answered so far
NEXT_ID = [0]
ARGS = None


def answer(status, body, keep):
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
            % (status, b"OK" if status == 200 else b"Not Found", len(body),
               b"" if keep else b"Connection: close\r\n")) + body


class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport
        self.buf = b""
        self.skip = 0       # body bytes still to discard
        self.pending = None  # (method, target, keep) waiting for its body
        STATS["accepted"] += 1
        STATS["open"] += 1
        if STATS["open"] > STATS["max_open"]:
            STATS["max_open"] = STATS["open"]

    def connection_lost(self, exc):
        STATS["open"] -= 1

    def data_received(self, data):
        if self.skip:
            STATS["body_bytes"] += min(len(data), self.skip)
            if len(data) <= self.skip:
                self.skip -= len(data)
                if self.skip == 0:
                    self.respond(*self.pending)
                return
            data = data[self.skip:]
            self.skip = 0
            self.respond(*self.pending)
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536:
                    self.t.close()
                return
            head = self.buf[:end].decode("latin-1")
            rest = self.buf[end + 4:]
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                self.t.close()
                return
            method, target, version = parts
            clen = 0
            keep = version == "HTTP/1.1"
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                k = k.strip().lower()
                if k == "content-length":
                    clen = int(v.strip())
                elif k == "connection":
                    keep = v.strip().lower() != "close"
            STATS["body_bytes"] += min(len(rest), clen)
            if len(rest) >= clen:
                self.buf = rest[clen:]
                self.respond(method, target, keep)
                if self.t.is_closing():
                    return
            else:
                self.skip = clen - len(rest)
                self.buf = b""
                self.pending = (method, target, keep)
                return

    def respond(self, method, target, keep):
        path, _, query = target.partition("?")
        if path.endswith("/video/generations") and method == "POST":
            STATS["create"] += 1
            NEXT_ID[0] += 1
            jid = "job-%d" % NEXT_ID[0]
            POLLS[jid] = 0
            body = ('{"id":"%s","status":"queued","meta":{"usage":{"tokens_used":5880000}}}' % jid).encode()
            self.t.write(answer(200, body, keep))
        elif path.endswith("/video/generations") and method == "GET":
            STATS["poll"] += 1
            jid = ""
            for kv in query.split("&"):
                k, _, v = kv.partition("=")
                if k == "generation_id":
                    jid = v
            n = POLLS.get(jid, 0) + 1
            POLLS[jid] = n
            if ARGS.polls and n >= ARGS.polls:
                STATS["completed_answers"] += 1
                body = ('{"id":"%s","status":"completed","video":{"url":"http://127.0.0.1/v/%s.mp4"},'
                        '"error":null}' % (jid, jid)).encode()
            else:
                body = ('{"id":"%s","status":"queued","video":null,"error":null}' % jid).encode()
            self.t.write(answer(200, body, keep))
        elif path == "/_stats":
            s = dict(STATS)
            s["cpu_s"] = time.process_time()
            s["jobs"] = len(POLLS)
            self.t.write(answer(200, json.dumps(s).encode(), keep))
        else:
            STATS["other"] += 1
            self.t.write(answer(404, b'{"message":"not found","statusCode":404}', keep))
        if not keep:
            self.t.close()


async def main():
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(Http, "127.0.0.1", ARGS.port, backlog=4096, reuse_address=True)
    port = srv.sockets[0].getsockname()[1]
    if ARGS.port_file:
        tmp = ARGS.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, ARGS.port_file)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    loop.call_later(ARGS.lifetime, lambda: stop.done() or stop.set_result(None))
    await stop
    srv.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--polls", type=int, default=3)
    ap.add_argument("--lifetime", type=float, default=600)
    ARGS = ap.parse_args()
    asyncio.run(main())
    sys.exit(0)
