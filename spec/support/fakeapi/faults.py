"""Faults: what a test queues for a route (POST /_control/faults) and how
a handler answers with one instead of the normal answer (see
FaultAnswers.apply_fault for the list)."""

import json
import socket
import ssl
import struct
import time

from .answers import Answer, error_body, html_body, http_date

FAULT_KEYS = {"pass", "status", "body", "headers", "html", "truncate", "drop", "delay",
              "redirect", "hang", "close", "after", "chunked_forever", "huge",
              "reset"}
HANG_MAX = 120
CHUNKED_MAX_SECS = 60
CHUNKED_MAX_BYTES = 1 << 30
MAX_DELAY = 600
MAX_HUGE_MB = 4096


def validate_fault(f, depth=0):
    if not isinstance(f, dict):
        return "a fault must be an object"
    unknown = set(f) - FAULT_KEYS
    if unknown:
        return "unknown fault key(s): %s" % ", ".join(sorted(unknown))
    if "after" in f:
        if depth > 0:
            return "'after' cannot be nested"
        return validate_fault(f["after"], depth + 1)
    if "status" in f and not (isinstance(f["status"], int) and 100 <= f["status"] <= 999):
        return "'status' must be an integer 100..999"
    if "html" in f and not (isinstance(f["html"], int) and 100 <= f["html"] <= 999):
        return "'html' must be an integer 100..999"
    if "delay" in f and not isinstance(f["delay"], (int, float)):
        return "'delay' must be a number of seconds"
    if "huge" in f and not (isinstance(f["huge"], (int, float)) and 0 < f["huge"] <= MAX_HUGE_MB):
        return "'huge' must be a number of MB in (0, %d]" % MAX_HUGE_MB
    if "headers" in f and not isinstance(f["headers"], dict):
        return "'headers' must be an object"
    if "redirect" in f and not isinstance(f["redirect"], str):
        return "'redirect' must be \"cdn\" or a URL"
    return None


def abort_connection(sock):
    """Close with a TCP reset: SO_LINGER 0, then close (socketserver's own
    shutdown of the closed socket then fails quietly)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class FaultAnswers:
    """The Handler's fault answers (a mixin: self is the request handler)."""

    def apply_fault(self, f, ctx, computed=None):
        """Fault objects (first matching key wins, "delay" combines with any):
          {"pass": true}                 normal answer
          {"delay": secs}                sleep, then the rest of the fault (or normal)
          {"hang": true}                 read the request, never answer
          {"close": true}                read the request, close without answer
          {"reset": true}                read the request, then a TCP reset (RST, not FIN)
          {"after": F}                   normal processing (job created), then answer F
          {"status": N, "body": s, "headers": {...}}   that status (default body: error JSON)
          {"html": N}                    status N with an HTML proxy page
          {"redirect": "cdn"|URL}        302 to <cdn>[/n/ns]/files/redirected.mp4 (or URL)
          {"chunked_forever": true}      endless chunked body (stops after 60 s or 1 GiB)
          {"huge": MB}                   200 with a valid JSON body of that many MB
          {"truncate": true}             normal answer cut in half, Content-Length matching
          {"drop": true}                 full Content-Length, half the body, then close
        "headers" adds headers to any answer the fault sends.
        """
        ns, route, rest, query, body, name = ctx
        head = self.command == "HEAD"
        extra = [(str(k), str(v)) for k, v in (f.get("headers") or {}).items()]
        if "delay" in f:
            time.sleep(max(0.0, min(float(f["delay"]), MAX_DELAY)))
        if f.get("hang"):
            return self.hang()
        if f.get("close"):
            self.close_connection = True
            return
        if f.get("reset"):
            self.close_connection = True
            return abort_connection(self.connection)
        if "after" in f and computed is None:
            return self.apply_fault(f["after"], ctx, computed=self.compute(ctx))
        if "status" in f:
            st = f["status"]
            b = f.get("body")
            if b is None:
                ans = Answer(st, error_body(st, None, rest))
            elif isinstance(b, str):
                ctype = "application/json"
                try:
                    json.loads(b)
                except ValueError:
                    ctype = "text/plain; charset=utf-8"
                ans = Answer(st, b.encode(), ctype)
            else:
                ans = Answer(st, json.dumps(b).encode())
            ans.headers = extra
            return self.send(ans, head=head)
        if "html" in f:
            return self.send(Answer(f["html"], html_body(f["html"]), "text/html", extra), head=head)
        if "redirect" in f:
            target = f["redirect"]
            if target == "cdn":
                target = "%s%s/files/redirected.mp4" % (self.app.cdn_url, "/n/" + ns if ns else "")
            ans = Answer(302, b"", "text/plain", [("Location", target)] + extra)
            return self.send(ans, head=head)
        if f.get("chunked_forever"):
            return self.chunked_forever(route, extra)
        if "huge" in f:
            return self.huge(f["huge"], extra, head)
        ans = computed if computed is not None else self.compute(ctx)
        ans.headers = ans.headers + extra
        if f.get("truncate"):
            return self.send(ans, head=head, body=ans.body[:len(ans.body) // 2])
        if f.get("drop"):
            half = ans.body[:len(ans.body) // 2]
            self.send(ans, head=head, length=len(ans.body), body=half)
            self.close_connection = True    # no "Connection: close": the drop is a surprise
            return
        return self.send(ans, head=head)

    def hang(self):
        self.close_connection = True
        conn = self.connection
        deadline = time.monotonic() + HANG_MAX
        try:
            conn.settimeout(1.0)
            while time.monotonic() < deadline:
                try:
                    if not conn.recv(65536):
                        break
                except socket.timeout:
                    continue
        except (OSError, ssl.SSLError):
            pass

    def chunked_forever(self, route, extra):
        self.close_connection = True
        ctype = "video/mp4" if route == "cdn" else "application/json"
        head = ("HTTP/1.1 200 OK\r\nServer: omnihuman-testserver/1\r\nDate: %s\r\n"
                "Content-Type: %s\r\nTransfer-Encoding: chunked\r\n%sConnection: close\r\n\r\n"
                % (http_date(), ctype, "".join("%s: %s\r\n" % kv for kv in extra)))
        piece = b" " * 65536
        chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
        deadline = time.monotonic() + CHUNKED_MAX_SECS
        sent = 0
        try:
            self.connection.settimeout(5.0)
            self.wfile.write(head.encode("latin-1") + (b"1\r\n[\r\n" if route != "cdn" else b""))
            while sent < CHUNKED_MAX_BYTES and time.monotonic() < deadline:
                self.wfile.write(chunk)
                sent += len(piece)
        except (OSError, ssl.SSLError):
            pass

    def huge(self, mb, extra, head):
        total = max(16, int(mb * 1024 * 1024))
        prefix = b'{"padding": "'
        suffix = b'"}'
        pad = total - len(prefix) - len(suffix)
        ans = Answer(200, b"", "application/json", extra)
        self.send(ans, head=True, length=total)
        if head:
            return
        try:
            self.wfile.write(prefix)
            block = b"x" * (1 << 20)
            left = pad
            while left > 0:
                n = min(left, len(block))
                self.wfile.write(block[:n] if n < len(block) else block)
                left -= n
            self.wfile.write(suffix)
        except (OSError, ssl.SSLError):
            self.close_connection = True
