"""HTTP/1.1 on both listeners: a lean request parser, the dispatch of each
request to a route (recorded per namespace, a queued fault taken), writing
answers, and the threaded server (TLS, handshake resets)."""

import http.server
import re
import socket
import ssl
import sys
import urllib.parse

from .answers import error_answer, http_date, reason
from .control import ControlEndpoints
from .faults import FaultAnswers, abort_connection
from .service import TAG_RE, ServiceAnswers

NS_RE = re.compile(r"^/n/([A-Za-z0-9_.-]+)(/.*)?$")
# Result paths: a plain name, the v1 CDN's shape, the v1.5 CDN's shape.
FILE_RES = (re.compile(r"^/files/([A-Za-z0-9_.:-]+)\.mp4$"),
            re.compile(r"^/files/b/[a-z]+/([A-Za-z0-9_-]+)_video\.mp4$"),
            re.compile(r"^/generations/[a-z]+/[0-9]+-([0-9a-f-]+)\.mp4$"))
GEN_PATH = "/v2/video/generations"

MAX_BODY = 256 << 20            # request bodies (data URIs) up to 256 MiB
MAX_RECORDS = 50000             # stored request records per namespace
IDLE_TIMEOUT = 300              # seconds an idle keep-alive connection is kept
HANDSHAKE_TIMEOUT = 10


class Headers(dict):
    """Request headers, names lowercased; repeated headers joined with ", "."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)

    def __getitem__(self, name):
        return dict.get(self, name.lower())


class Handler(ServiceAnswers, FaultAnswers, ControlEndpoints, http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "omnihuman-testserver/1"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    listener = "api"
    app = None

    # -- plumbing ------------------------------------------------------------

    def log_message(self, fmt, *args):
        if self.app.verbose:
            sys.stderr.write("[%s] %s %s\n" % (self.listener, self.address_string(), fmt % args))

    def handle(self):
        try:
            super().handle()
        except (OSError, ssl.SSLError, ValueError):
            self.close_connection = True

    def handle_one_request(self):
        """A lean replacement of BaseHTTPRequestHandler's request parsing
        (its email-based header parser dominates the cost of a request)."""
        self.requestline = ""
        self.command = None
        try:
            line = self.rfile.readline(65537)
            if not line:
                self.close_connection = True
                return
            if len(line) > 65536:
                return self.bad_request(414, "Request-URI Too Long")
            self.raw_requestline = line
            self.requestline = line.decode("latin-1").rstrip("\r\n")
            parts = self.requestline.split()
            if not parts:
                return                      # stray empty line between requests
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self.request_version = "HTTP/1.1"
                return self.bad_request(400, "Bad request line")
            self.command, self.path, self.request_version = parts
            headers = Headers()
            for _ in range(200):
                h = self.rfile.readline(65537)
                if h in (b"\r\n", b"\n", b""):
                    break
                name, sep, value = h.decode("latin-1").partition(":")
                if not sep:
                    return self.bad_request(400, "Bad header line")
                name = name.strip().lower()
                value = value.strip()
                headers[name] = headers[name] + ", " + value if name in headers else value
            else:
                return self.bad_request(431, "Too many headers")
            self.headers = headers
            conn = dict.get(headers, "connection", "").lower()
            if self.request_version == "HTTP/1.0":
                self.close_connection = "keep-alive" not in conn
            else:
                self.close_connection = "close" in conn
            if dict.get(headers, "expect", "").lower() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.dispatch()
        except socket.timeout:
            self.close_connection = True

    def bad_request(self, status, message):
        self.close_connection = True
        self.send(error_answer(status, message, ""))

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            parts = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("eof in chunked body")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    return None
                parts.append(self.rfile.read(size))
                self.rfile.readline(8)
            return b"".join(parts)
        cl = self.headers.get("Content-Length")
        if not cl:
            return b""
        n = int(cl)
        if n < 0 or n > MAX_BODY:
            return None
        data = self.rfile.read(n)
        if len(data) != n:
            raise ConnectionError("short request body")
        return data

    def send(self, ans, head=False, length=None, body=None):
        """Write a whole answer in one write. length/body override (faults)."""
        body = ans.body if body is None else body
        length = len(body) if length is None else length
        no_body = ans.status < 200 or ans.status in (204, 304)
        lines = ["HTTP/1.1 %d %s\r\n" % (ans.status, reason(ans.status)),
                 "Server: omnihuman-testserver/1\r\n",
                 "Date: %s\r\n" % http_date()]
        names = {k.lower() for k, _ in ans.headers}
        if "content-type" not in names and not no_body:
            lines.append("Content-Type: %s\r\n" % ans.ctype)
        if "content-length" not in names and ans.status not in (204, 304) and ans.status >= 200:
            lines.append("Content-Length: %d\r\n" % length)
        for k, v in ans.headers:
            lines.append("%s: %s\r\n" % (k, v))
        if self.close_connection:
            lines.append("Connection: close\r\n")
        lines.append("\r\n")
        data = "".join(lines).encode("latin-1")
        if not (head or no_body):
            data += body
        self.wfile.write(data)
        if self.app.verbose:
            self.log_request(ans.status, length)

    # -- dispatch --------------------------------------------------------------

    def dispatch(self):
        app = self.app
        try:
            body = self.read_body()
        except (ValueError, ConnectionError):
            self.close_connection = True
            return
        split = urllib.parse.urlsplit(self.path)
        path, query = split.path, split.query
        if body is None:
            self.close_connection = True
            self.send(error_answer(413, "Request body too large", path))
            return
        if self.listener == "cdn" and path.startswith("/_control/"):
            return self.control(path, query, body)

        m = NS_RE.match(path)
        if m:
            ns, rest = m.group(1), m.group(2) or "/"
        else:
            ns, rest = "", path
        route = name = None
        if self.listener == "api":
            if rest.rstrip("/") == GEN_PATH:
                if self.command == "POST":
                    route = "create"
                elif self.command == "GET":
                    route = "poll"
        elif self.command in ("GET", "HEAD"):
            for rx in FILE_RES:
                fm = rx.match(rest)
                if fm:
                    route, name = "cdn", fm.group(1)
                    break

        rec = {
            "listener": self.listener, "method": self.command, "path": path, "query": query,
            "headers": dict(self.headers), "body": body[:8000].decode("utf-8", "replace")[:2000],
            "body_len": len(body), "ns": ns, "route": route,
        }
        fault = None
        with app.lock:
            sp = app.space(ns)
            if len(sp.records) < MAX_RECORDS:
                sp.records.append(rec)
            else:
                sp.dropped += 1
            if route:
                sp.counts[route] += 1
                sp.inflight[route] += 1
                if route == "create":
                    m = TAG_RE.search(body)
                    if m:
                        t = m.group(1).decode()
                        sp.tag_creates[t] = sp.tag_creates.get(t, 0) + 1
                q = sp.faults[route]
                if q:
                    fault = q.popleft()

        if route is None:
            if self.command != "HEAD":
                return self.send(error_answer(404, "Cannot %s %s" % (self.command, rest), rest))
            return self.send(error_answer(404, None, rest), head=True)
        ctx = (ns, route, rest, query, body, name)
        try:
            if fault is None:
                return self.send(self.compute(ctx), head=self.command == "HEAD")
            return self.apply_fault(fault, ctx)
        finally:
            with app.lock:
                sp.inflight[route] -= 1


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 4096
    ssl_ctx = None
    verbose = False
    listener = ""

    def finish_request(self, request, client_address):
        app = getattr(self, "app", None)
        if self.listener == "api" and app is not None and app.take_handshake_reset():
            try:
                request.settimeout(2.0)
                request.recv(4096)          # the ClientHello (or, without TLS, the request)
            except OSError:
                pass
            return abort_connection(request)
        if self.ssl_ctx is not None:
            try:
                request.settimeout(HANDSHAKE_TIMEOUT)
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (OSError, ssl.SSLError, ValueError) as e:
                if self.verbose:
                    sys.stderr.write("[tls] handshake with %s failed: %s\n" % (client_address, e))
                return
            try:
                self.RequestHandlerClass(request, client_address, self)
            finally:
                try:
                    request.close()
                except OSError:
                    pass
            return
        self.RequestHandlerClass(request, client_address, self)

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def make_server(app, listener, host, port, ssl_ctx):
    handler = type("%sHandler" % listener.capitalize(), (Handler,), {"listener": listener, "app": app})
    srv = Server((host, port), handler)
    srv.ssl_ctx = ssl_ctx
    srv.app = app
    srv.listener = listener
    srv.verbose = app.verbose
    return srv
