#!/usr/bin/env python3
"""A fake create endpoint that checks request bodies byte for byte.

spec/support/server.py keeps the first 2000 characters of a body; the
streamed-body specs need more: every create body's length against its
Content-Length, whether it arrived whole, its sha256, and for each
data URI (at any depth of the JSON) the sha256 of the decoded bytes. The server can also
read slowly or not at all (stall) until released, and answer a scripted
list of statuses (503 with Retry-After: 0, ...) before the normal 200.

  POST <anything>            a create: {"id": "job-N", "status": "queued"}
  POST /_control/script      {"statuses": [503, ...], "rate": bytes_per_s, "stall": bool}
                             (also forgets the records)
  POST /_control/release     ends a stall
  GET  /_control/records     {"bodies": [...], "open": n, "max_open": n, "busy": n}
                             (open: connections; busy: creates being read or answered)

127.0.0.1 only; prints its port on the first line of stdout; exits after
--lifetime seconds or when --watch-pid is gone.
"""
import argparse
import base64
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"statuses": [], "rate": 0, "stall": False, "bodies": [], "open": 0, "max_open": 0,
         "busy": 0, "next_id": 0}
RELEASE = threading.Event()
RELEASE.set()


def decode_value(v):
    """A data URI as its mime, size and sha256; lists and objects walked."""
    if isinstance(v, str) and v.startswith("data:") and ";base64," in v:
        head, data = v.split(",", 1)
        raw = base64.b64decode(data, validate=True)
        return {"mime": head[5:].split(";")[0], "len": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    if isinstance(v, list):
        return [decode_value(x) for x in v]
    if isinstance(v, dict):
        return {k: decode_value(x) for k, x in v.items()}
    return v if not isinstance(v, str) or len(v) < 200 else v[:200]


def decode_uris(body):
    """The JSON body with every data URI (at any depth) as its mime, size and sha256."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    return decode_value(doc) if isinstance(doc, dict) else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        with LOCK:
            STATE["open"] += 1
            STATE["max_open"] = max(STATE["max_open"], STATE["open"])

    def finish(self):
        with LOCK:
            STATE["open"] -= 1
        super().finish()

    def answer(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self, declared, slow):
        """Reads the body in 64 KiB steps (at `rate` bytes/s when slow)."""
        h, got, parts = hashlib.sha256(), 0, []
        rate = STATE["rate"] if slow else 0
        t0 = time.monotonic()
        while got < declared:
            try:
                chunk = self.rfile.read1(min(65536, declared - got))
            except OSError:  # reset by the client
                chunk = b""
            if not chunk:
                break
            h.update(chunk)
            if declared <= 64 * 1024 * 1024:
                parts.append(chunk)
            got += len(chunk)
            if rate:
                ahead = got / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(min(ahead, 1.0))
        return got, h.hexdigest(), b"".join(parts)

    def do_GET(self):
        if self.path == "/_control/records":
            with LOCK:
                snap = {"bodies": list(STATE["bodies"]), "open": STATE["open"],
                        "max_open": STATE["max_open"], "busy": STATE["busy"]}
            return self.answer(200, snap)
        self.answer(404, {"message": "not found"})

    def do_POST(self):
        declared = int(self.headers.get("Content-Length") or 0)
        if self.path.startswith("/_control/"):
            _, _, data = self.read_body(declared, False)
            if self.path == "/_control/script":
                req = json.loads(data or b"{}")
                with LOCK:
                    STATE["statuses"] = list(req.get("statuses", []))
                    STATE["rate"] = int(req.get("rate", 0))
                    STATE["stall"] = bool(req.get("stall", False))
                    STATE["bodies"] = []
                    STATE["max_open"] = STATE["open"]
                if STATE["stall"]:
                    RELEASE.clear()
                else:
                    RELEASE.set()
            elif self.path == "/_control/release":
                RELEASE.set()
            return self.answer(200, {"ok": True})
        with LOCK:
            STATE["busy"] += 1
        try:
            self.create(declared)
        finally:
            with LOCK:
                STATE["busy"] -= 1

    def create(self, declared):
        RELEASE.wait(600)
        got, digest, data = self.read_body(declared, True)
        rec = {"declared": declared, "len": got, "complete": got == declared, "sha256": digest}
        if got == declared and data:
            rec["fields"] = decode_uris(data)
        with LOCK:
            STATE["bodies"].append(rec)
            status = STATE["statuses"].pop(0) if STATE["statuses"] else 200
            STATE["next_id"] += 1
            n = STATE["next_id"]
        if got != declared:
            self.close_connection = True
            return
        if status != 200:
            return self.answer(status, {"message": "scripted %d" % status, "statusCode": str(status)},
                               {"Retry-After": "0"})
        self.answer(200, {"id": "job-%d:bytedance/omnihuman" % n, "status": "queued"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lifetime", type=float, default=600)
    ap.add_argument("--watch-pid", type=int, default=0)
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    t0 = time.monotonic()
    while time.monotonic() - t0 < a.lifetime:
        if a.watch_pid:
            try:
                os.kill(a.watch_pid, 0)
            except OSError:
                break
        time.sleep(0.5)
    srv.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
