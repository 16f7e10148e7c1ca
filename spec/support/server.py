#!/usr/bin/env python3
"""Fake AI/ML API video-generation service (ByteDance OmniHuman) for tests
and offline use.  Python 3 standard library only.

    python3 spec/support/server.py [--tls CERT KEY] [--key K] [--sandbox]
        [--flavor current|legacy] [--host 127.0.0.1] [--port 0] [--cdn-port 0]
        [--lifetime 900] [--verbose] [--watch-pid PID]

Two listeners:
  api  POST [/n/NS]/v2/video/generations            create a job
       GET  [/n/NS]/v2/video/generations?generation_id=ID   poll it
       (HTTPS when --tls is given, else HTTP)
  cdn  GET|HEAD [/n/NS]/files/NAME.mp4              result videos (plain HTTP), also
       [/n/NS]/files/b/ANIMAL/ID_video.mp4 (the v1 CDN's path shape) and
       [/n/NS]/generations/ANIMAL/MS-ID.mp4 (the v1.5 CDN's path shape)
       /_control/faults (POST {"route", "faults"[, "replace": true]}),
       /_control/records, /_control/reset,
       /_control/health                             test control (JSON)
       /_control/limit      POST {"max_active": N | null}: creates answer 429
                            while N jobs of the namespace are unfinished (no
                            status check has answered completed/error yet)
       /_control/handshake  POST {"reset": N}: the api listener cuts the next
                            N connections with a TCP reset right after the
                            client's first bytes (the TLS ClientHello), before
                            any namespace is known; GET shows what is left

On startup prints one JSON line to stdout:
  {"api": "http(s)://127.0.0.1:P", "cdn": "http://127.0.0.1:Q", "pid": N,
   "flavor": F, "profile": {...}}       (profile: see FLAVORS)
Exits on SIGTERM/SIGINT/SIGHUP, when its parent process goes away (or, with
--watch-pid PID, when that process is gone), and after --lifetime seconds
(0 = never; default 900, or never with --sandbox).

Every path may start with /n/<ns>; faults, records and jobs are kept per
namespace so that many tests can share one server.  A create's optional
"sandbox_tag" field names what it is for (a batch row): records then list
the jobs made and the creates received per tag.  See the fault list in
Handler.apply_fault.  --sandbox makes progress go by time (queued 2 s,
generating 4 s) and, when ffmpeg is on PATH and the job's image and audio
were data URIs, serves a real MP4 of the still image with the audio (no
lip-sync).

--flavor picks which documented generation of the service it plays (FLAVORS):
  current  today's API reference: a create answers 200 with
           meta.usage.credits_used; statuses queued, generating, completed,
           error; a status answer always has "video" and "error" (null or not)
  legacy   the earlier reference and examples: a create answers 201 with
           meta.usage.tokens_used; the older status names waiting, active (and
           completed, error) in mixed case, as a client that lower-cases
           statuses (the service's own SDK does) must accept; "video" and
           "error" left out while null
Both: error bodies {message, path, requestId, statusCode, timestamp} with
statusCode a string ("429"), as every version of the docs writes it, and the
documented messages (403 out of credits, 500 model under maintenance, 504
generation timeout, 429 without Retry-After); results on the CDN listener in
the path shape of the v1 CDN (v3b.fal.media) for bytedance/omnihuman and of
the v1.5 CDN (cdn.aimlapi.com) for bytedance/omnihuman/v1.5.
"""

import argparse
import faulthandler
import base64
import binascii
import collections
import datetime
import email.utils
import http
import http.server
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixture.mp4")

NS_RE = re.compile(r"^/n/([A-Za-z0-9_.-]+)(/.*)?$")
NS_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]*$")
# Result paths: a plain name, the v1 CDN's shape, the v1.5 CDN's shape.
FILE_RES = (re.compile(r"^/files/([A-Za-z0-9_.:-]+)\.mp4$"),
            re.compile(r"^/files/b/[a-z]+/([A-Za-z0-9_-]+)_video\.mp4$"),
            re.compile(r"^/generations/[a-z]+/[0-9]+-([0-9a-f-]+)\.mp4$"))
ANIMALS = ("tiger", "kangaroo", "hedgehog", "flamingo", "zebra", "panda", "otter", "lynx")
GEN_PATH = "/v2/video/generations"
ROUTES = ("create", "poll", "cdn")
FAULT_KEYS = {"pass", "status", "body", "headers", "html", "truncate", "drop", "delay",
              "redirect", "hang", "close", "after", "chunked_forever", "huge",
              "reset"}

MAX_BODY = 256 << 20            # request bodies (data URIs) up to 256 MiB
MAX_RECORDS = 50000             # stored request records per namespace
IDLE_TIMEOUT = 300              # seconds an idle keep-alive connection is kept
HANDSHAKE_TIMEOUT = 10
HANG_MAX = 120
CHUNKED_MAX_SECS = 60
CHUNKED_MAX_BYTES = 1 << 30
MAX_DELAY = 600
MAX_HUGE_MB = 4096
SANDBOX_QUEUED = 2.0
SANDBOX_GENERATING = 4.0
# What a create costs, as the docs' examples report it (v1.5 on its own page).
USAGE = {"bytedance/omnihuman": 5880000, "bytedance/omnihuman/v1.5": 5040000}
USAGE_DEFAULT = 5880000
TAG_RE = re.compile(rb'"sandbox_tag"\s*:\s*"([A-Za-z0-9_.:-]{1,64})"')

FLAVORS = {
    "current": {"create_status": 200, "usage_field": "credits_used",
                "pending": ["queued", "generating"], "completed": "completed", "failed": "error",
                "nulls": True},
    "legacy": {"create_status": 201, "usage_field": "tokens_used",
               "pending": ["Waiting", "ACTIVE"], "completed": "Completed", "failed": "Error",
               "nulls": False},
}

# The messages the docs list for these statuses ("{rid}": the request id).
ERROR_MESSAGES = {
    400: "Body validation error",
    401: "This request requires a valid API key. You can create a new API key on the Billing page",
    403: "You've run out of credits. Please top up your balance or update your payment method to continue",
    404: "Not Found",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "The model is under maintenance, please contact us at help@aimlapi.com. Your Request ID is {rid}.",
    502: "Bad Gateway",
    503: "Service unavailable",
    504: "Generation timeout",
}

_date_cache = [0, ""]


def http_date():
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[1] = email.utils.formatdate(now, usegmt=True)
        _date_cache[0] = now
    return _date_cache[1]


def iso_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def reason(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def error_body(status, message=None, path=""):
    rid = str(uuid.uuid4())
    return json.dumps({
        "message": message or (ERROR_MESSAGES.get(status) or reason(status)).replace("{rid}", rid),
        "path": path,
        "requestId": rid,
        "statusCode": str(status),
        "timestamp": iso_now(),
    }).encode()


def result_path(model, uid):
    """Where a job's video lives on the CDN listener, in the path shape of
    the CDN that model's results come from."""
    animal = ANIMALS[int(uid[:8], 16) % len(ANIMALS)]
    if model.endswith("/v1.5"):
        return "/generations/%s/%d-%s.mp4" % (animal, int(time.time() * 1000), uid)
    return "/files/b/%s/%s_video.mp4" % (animal, uid)


def html_body(status):
    title = "%d %s" % (status, reason(status))
    return ("<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n"
            "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n" % (title, title)).encode()


class Answer:
    __slots__ = ("status", "body", "ctype", "headers")

    def __init__(self, status, body=b"", ctype="application/json", headers=None):
        self.status = status
        self.body = body
        self.ctype = ctype
        self.headers = headers or []


def json_answer(status, obj):
    return Answer(status, json.dumps(obj).encode())


def error_answer(status, message=None, path=""):
    return Answer(status, error_body(status, message, path))


class Job:
    __slots__ = ("id", "uuid", "model", "ns", "pending", "polls", "fail", "created",
                 "media_dir", "video_path", "video_ready", "final")

    def __init__(self, model, ns, pending, fail):
        self.uuid = str(uuid.uuid4())
        self.id = "%s:%s" % (self.uuid, model)
        self.model = model
        self.ns = ns
        self.pending = pending
        self.polls = 0
        self.fail = fail
        self.created = time.monotonic()
        self.media_dir = None
        self.video_path = None
        self.video_ready = None
        self.final = False              # a status check answered completed/error


class Namespace:
    def __init__(self):
        self.records = []
        self.dropped = 0
        self.counts = {r: 0 for r in ROUTES}
        self.faults = {r: collections.deque() for r in ROUTES}
        self.jobs = {}
        self.by_uuid = {}
        # Batch tests: "sandbox_tag" (a request field) names the row a
        # create is for; jobs made and creates received are counted per tag.
        self.tags = {}                  # tag -> [job ids]
        self.tag_creates = {}           # tag -> creates received (refused ones too)
        self.inflight = {r: 0 for r in ROUTES}   # requests received, not yet answered
        self.max_active = None          # /_control/limit: 429 beyond this many unfinished jobs
        self.limit_refused = 0
        self.active_peak = 0


class App:
    def __init__(self, args):
        self.key = args.key
        self.sandbox = args.sandbox
        self.verbose = args.verbose
        self.flavor = args.flavor
        self.profile = FLAVORS[args.flavor]
        self.lock = threading.Lock()
        self.spaces = {}
        self.api_url = ""
        self.cdn_url = ""
        try:
            with open(FIXTURE, "rb") as f:
                self.fixture = f.read()
        except OSError as e:
            sys.exit("server.py: cannot read fixture %s: %s" % (FIXTURE, e))
        self.ffmpeg = shutil.which("ffmpeg") if self.sandbox else None
        self.tmpdir = tempfile.mkdtemp(prefix="omnihuman-sandbox-") if self.sandbox else None
        self.handshake_resets = 0       # /_control/handshake: api connections still to cut

    def take_handshake_reset(self):
        with self.lock:
            if self.handshake_resets > 0:
                self.handshake_resets -= 1
                return True
        return False

    def space(self, ns):
        sp = self.spaces.get(ns)
        if sp is None:
            sp = self.spaces[ns] = Namespace()
        return sp

    def log(self, msg):
        sys.stderr.write("server.py: %s\n" % msg)
        sys.stderr.flush()

    def reset(self, ns=None):
        with self.lock:
            if ns is None:
                spaces = list(self.spaces.values())
                self.spaces = {}
            else:
                sp = self.spaces.pop(ns, None)
                spaces = [sp] if sp else []
        for sp in spaces:
            for job in sp.jobs.values():
                if job.media_dir:
                    shutil.rmtree(job.media_dir, ignore_errors=True)

    def cleanup(self):
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    # -- sandbox media -----------------------------------------------------

    def prepare_media(self, job, image_url, audio_url):
        """Sandbox: start making a real MP4 from data-URI image and audio."""
        if not (self.ffmpeg and self.tmpdir):
            return
        img = decode_data_uri(image_url)
        aud = decode_data_uri(audio_url)
        if img is None or aud is None:
            return
        d = os.path.join(self.tmpdir, job.uuid)
        try:
            os.mkdir(d)
            ipath = os.path.join(d, "image" + media_ext(img[0]))
            apath = os.path.join(d, "audio" + media_ext(aud[0]))
            with open(ipath, "wb") as f:
                f.write(img[1])
            with open(apath, "wb") as f:
                f.write(aud[1])
        except OSError as e:
            self.log("sandbox: cannot write media: %s" % e)
            return
        job.media_dir = d
        job.video_ready = threading.Event()
        t = threading.Thread(target=self._render, args=(job, ipath, apath, d), daemon=True)
        t.start()

    def _render(self, job, ipath, apath, d):
        out = os.path.join(d, "video.mp4")
        cmd = [self.ffmpeg, "-nostdin", "-y", "-loglevel", "error",
               "-loop", "1", "-framerate", "25", "-i", ipath, "-i", apath,
               "-vf", "scale=trunc(min(iw\\,1280)/2)*2:-2,format=yuv420p",
               "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage",
               "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
               "-shortest", "-fflags", "+shortest", "-max_interleave_delta", "100M", "-t", "60", "-movflags", "+faststart", out]
        try:
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=180)
            if r.returncode == 0 and os.path.getsize(out) > 0:
                job.video_path = out
            else:
                self.log("sandbox: ffmpeg failed, serving the fixture instead: %s"
                         % r.stderr.decode(errors="replace").strip()[-500:])
        except (OSError, subprocess.SubprocessError) as e:
            self.log("sandbox: ffmpeg failed, serving the fixture instead: %s" % e)
        finally:
            job.video_ready.set()


def decode_data_uri(s):
    """'data:<mime>[;params][;base64],<data>' -> (mime, bytes) or None."""
    if not isinstance(s, str) or not s.startswith("data:"):
        return None
    head, sep, data = s.partition(",")
    if not sep:
        return None
    params = head[5:].split(";")
    mime = params[0].strip().lower()
    try:
        if "base64" in [p.strip().lower() for p in params[1:]]:
            return mime, base64.b64decode(data, validate=False)
        return mime, urllib.parse.unquote_to_bytes(data)
    except (binascii.Error, ValueError):
        return None


def media_ext(mime):
    return {
        "image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/webp": ".webp",
        "image/gif": ".gif", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav",
        "audio/vnd.wave": ".wav", "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/ogg": ".ogg",
        "audio/mp4": ".m4a", "audio/m4a": ".m4a", "audio/x-m4a": ".m4a", "audio/aac": ".aac",
    }.get(mime, ".bin")


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


class Headers(dict):
    """Request headers, names lowercased; repeated headers joined with ", "."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)

    def __getitem__(self, name):
        return dict.get(self, name.lower())


class Handler(http.server.BaseHTTPRequestHandler):
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

    # -- normal answers ----------------------------------------------------------

    def compute(self, ctx):
        ns, route, rest, query, body, name = ctx
        if route == "cdn":
            return self.cdn_answer(ns, name)
        err = self.check_auth(rest)
        if err:
            return err
        if route == "create":
            return self.create(ns, rest, body)
        return self.poll(ns, rest, query)

    def check_auth(self, rest):
        auth = self.headers.get("Authorization") or ""
        scheme, _, k = auth.partition(" ")
        k = k.strip()
        if scheme.lower() != "bearer" or not k:
            return error_answer(401, "Unauthorized: missing API key (Authorization: Bearer <key>)", rest)
        if self.app.key is not None and k != self.app.key:
            return error_answer(401, "Unauthorized: invalid API key", rest)
        return None

    def create(self, ns, rest, body):
        try:
            req = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return error_answer(400, "Body validation error: body must be JSON", rest)
        if not isinstance(req, dict):
            return error_answer(400, "Body validation error: body must be a JSON object", rest)
        bad = [f for f in ("model", "image_url", "audio_url")
               if not isinstance(req.get(f), str) or not req.get(f)]
        if bad:
            return error_answer(400, "Body validation error: %s must be a non-empty string"
                                % ", ".join(bad), rest)
        polls = req.get("sandbox_polls", 2)
        if not isinstance(polls, int) or isinstance(polls, bool) or polls < 0:
            return error_answer(400, "Body validation error: sandbox_polls must be an integer >= 0", rest)
        fail = req.get("sandbox_fail")
        if fail is not None and not isinstance(fail, str):
            return error_answer(400, "Body validation error: sandbox_fail must be a string", rest)
        tag = req.get("sandbox_tag")
        if tag is not None and not (isinstance(tag, str) and TAG_RE.match(('"sandbox_tag":"%s"' % tag).encode())):
            return error_answer(400, "Body validation error: sandbox_tag must match [A-Za-z0-9_.:-]{1,64}", rest)
        job = Job(req["model"], ns, polls, fail)
        app = self.app
        with app.lock:
            sp = app.space(ns)
            if sp.max_active is not None:
                active = sum(1 for j in sp.jobs.values() if not j.final)
                if active >= sp.max_active:
                    sp.limit_refused += 1
                    return error_answer(429, "Too Many Requests: %d jobs in progress (the limit is %d)"
                                        % (active, sp.max_active), rest)
                sp.active_peak = max(sp.active_peak, active + 1)
            sp.jobs[job.id] = job
            if tag is not None:
                sp.tags.setdefault(tag, []).append(job.id)
            sp.by_uuid[job.uuid] = job
        if app.sandbox and fail is None:
            app.prepare_media(job, req["image_url"], req["audio_url"])
        prof = app.profile
        used = USAGE.get(req["model"], USAGE_DEFAULT)
        return json_answer(prof["create_status"], {"id": job.id, "status": "queued",
                                                   "meta": {"usage": {prof["usage_field"]: used}}})

    def poll(self, ns, rest, query):
        app = self.app
        ids = urllib.parse.parse_qs(query).get("generation_id")
        if not ids or not ids[0]:
            return error_answer(400, "Query validation error: generation_id is required", rest)
        gid = ids[0]
        prof = app.profile
        first, later = prof["pending"]
        with app.lock:
            job = app.space(ns).jobs.get(gid)
            if job is None:
                return error_answer(404, "Generation %s not found" % gid, rest)
            if app.sandbox:
                el = time.monotonic() - job.created
                status = (first if el < SANDBOX_QUEUED else
                          later if el < SANDBOX_QUEUED + SANDBOX_GENERATING else None)
            else:
                job.polls += 1
                n = job.polls
                status = None if n > job.pending else (first if n == 1 else later)
        video = error = None
        if status is None:
            job.final = True
            if job.fail is not None:
                status = prof["failed"]
                error = {"name": "GenerationError", "message": job.fail}
            else:
                status = prof["completed"]
                prefix = "/n/" + ns if ns else ""
                video = {"url": "%s%s%s" % (app.cdn_url, prefix, result_path(job.model, job.uuid))}
        ans = {"id": gid, "status": status, "video": video, "error": error}
        if not prof["nulls"]:
            ans = {k: v for k, v in ans.items() if v is not None}
        return json_answer(200, ans)

    def cdn_answer(self, ns, name):
        app = self.app
        data = app.fixture
        if app.sandbox:
            with app.lock:
                job = app.space(ns).by_uuid.get(name)
            if job is not None and job.video_ready is not None:
                job.video_ready.wait(180)
                if job.video_path:
                    try:
                        with open(job.video_path, "rb") as f:
                            data = f.read()
                    except OSError:
                        pass
        hdrs = [("Accept-Ranges", "bytes"), ("Cache-Control", "public, max-age=3600")]
        rng = self.headers.get("Range")
        m = re.match(r"^bytes=(\d*)-(\d*)$", (rng or "").strip())
        if m and (m.group(1) or m.group(2)):
            total = len(data)
            if m.group(1):
                start = int(m.group(1))
                end = int(m.group(2)) if m.group(2) else total - 1
            else:
                start = max(0, total - int(m.group(2)))
                end = total - 1
            end = min(end, total - 1)
            if start >= total or start > end:
                return Answer(416, b"", "video/mp4", [("Content-Range", "bytes */%d" % total)])
            hdrs.append(("Content-Range", "bytes %d-%d/%d" % (start, end, total)))
            return Answer(206, data[start:end + 1], "video/mp4", hdrs)
        return Answer(200, data, "video/mp4", hdrs)

    # -- faults ------------------------------------------------------------------

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

    # -- control -----------------------------------------------------------------

    def control(self, path, query, body):
        app = self.app
        q = {k: v[0] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
        try:
            req = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return self.send(error_answer(400, "control: body must be JSON", path))
        if not isinstance(req, dict):
            return self.send(error_answer(400, "control: body must be a JSON object", path))
        ns = req.get("ns", q.get("ns", ""))
        if not isinstance(ns, str) or not NS_NAME_RE.match(ns):
            return self.send(error_answer(400, "control: bad ns", path))

        if path == "/_control/faults" and self.command == "POST":
            route = req.get("route")
            faults = req.get("faults")
            if route not in ROUTES:
                return self.send(error_answer(400, "control: route must be one of %s" % ", ".join(ROUTES), path))
            if isinstance(faults, dict) and not faults:
                faults = []     # an empty Lua table encodes as {}
            if not isinstance(faults, list):
                return self.send(error_answer(400, "control: faults must be a list", path))
            for f in faults:
                err = validate_fault(f)
                if err:
                    return self.send(error_answer(400, "control: %s: %s" % (err, json.dumps(f)), path))
            with app.lock:
                dq = app.space(ns).faults[route]
                if req.get("replace"):  # drop what is still queued first
                    dq.clear()
                dq.extend(faults)
                pending = len(dq)
            return self.send(json_answer(200, {"ok": True, "ns": ns, "route": route, "pending": pending}))

        if path == "/_control/limit" and self.command == "POST":
            n = req.get("max_active")
            if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
                return self.send(error_answer(400, "control: max_active must be an integer >= 0 or null", path))
            with app.lock:
                app.space(ns).max_active = n
            return self.send(json_answer(200, {"ok": True, "ns": ns, "max_active": n}))

        if path == "/_control/handshake":
            if self.command == "POST":
                n = req.get("reset", 0)
                if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 1000:
                    return self.send(error_answer(400, "control: reset must be an integer 0..1000", path))
                with app.lock:
                    app.handshake_resets = n
            with app.lock:
                left = app.handshake_resets
            return self.send(json_answer(200, {"ok": True, "reset": left}))

        if path == "/_control/faults" and self.command == "GET":
            with app.lock:
                sp = app.space(ns)
                pend = {r: list(sp.faults[r]) for r in ROUTES}
            return self.send(json_answer(200, {"ns": ns, "faults": pend}))

        if path == "/_control/records" and self.command == "GET":
            with app.lock:
                sp = app.space(ns)
                out = {"requests": list(sp.records), "counts": dict(sp.counts),
                       "jobs": len(sp.jobs), "dropped": sp.dropped,
                       "tags": {t: list(ids) for t, ids in sp.tags.items()},
                       "tag_creates": dict(sp.tag_creates), "inflight": dict(sp.inflight),
                       "limit": {"max_active": sp.max_active, "refused": sp.limit_refused,
                                 "peak": sp.active_peak}}
            return self.send(json_answer(200, out))

        if path == "/_control/reset" and self.command == "POST":
            if q.get("all") or req.get("all"):
                app.reset(None)
            else:
                app.reset(ns)
            return self.send(json_answer(200, {"ok": True}))

        if path == "/_control/health":
            return self.send(json_answer(200, {"ok": True, "api": app.api_url, "cdn": app.cdn_url,
                                               "pid": os.getpid(), "sandbox": app.sandbox,
                                               "flavor": app.flavor, "profile": app.profile}))
        return self.send(error_answer(404, "control: no such endpoint", path))


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


def make_server(app, listener, host, port, ssl_ctx):
    handler = type("%sHandler" % listener.capitalize(), (Handler,), {"listener": listener, "app": app})
    srv = Server((host, port), handler)
    srv.ssl_ctx = ssl_ctx
    srv.app = app
    srv.listener = listener
    srv.verbose = app.verbose
    return srv


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def raise_fd_limit():
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else 65536
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):
        pass


def main(argv=None):
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid>: dump every thread's stack
    p = argparse.ArgumentParser(description="Fake AI/ML API (OmniHuman video generation) for tests.")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve the API over HTTPS")
    p.add_argument("--key", help="the only API key accepted (default: any non-empty key)")
    p.add_argument("--sandbox", action="store_true",
                   help="offline sandbox: time-based progress, real MP4s with ffmpeg (no lip-sync)")
    p.add_argument("--flavor", choices=sorted(FLAVORS), default="current",
                   help="which documented generation of the service to play (default: current)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="API port (0: chosen by the OS)")
    p.add_argument("--cdn-port", type=int, default=0, help="CDN/control port (0: chosen by the OS)")
    p.add_argument("--lifetime", type=float, default=None,
                   help="exit after this many seconds (0: never; default 900, never with --sandbox)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    p.add_argument("--watch-pid", type=int, default=None, metavar="PID",
                   help="exit when process PID is gone (instead of watching the parent process)")
    args = p.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_signal)

    lifetime = args.lifetime if args.lifetime is not None else (0 if args.sandbox else 900)

    raise_fd_limit()
    threading.stack_size(1 << 20)
    app = App(args)

    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(args.tls[0], args.tls[1])
        except (OSError, ssl.SSLError) as e:
            sys.exit("server.py: cannot load TLS cert/key: %s" % e)
        ctx.set_alpn_protocols(["http/1.1"])
    try:
        api = make_server(app, "api", args.host, args.port, ctx)
        cdn = make_server(app, "cdn", args.host, args.cdn_port, None)
    except OSError as e:
        sys.exit("server.py: cannot listen: %s" % e)
    host = args.host if ":" not in args.host else "[%s]" % args.host
    app.api_url = "%s://%s:%d" % ("https" if ctx else "http", host, api.server_address[1])
    app.cdn_url = "http://%s:%d" % (host, cdn.server_address[1])

    for srv in (api, cdn):
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True).start()

    try:
        sys.stdout.write(json.dumps({"api": app.api_url, "cdn": app.cdn_url, "pid": os.getpid(),
                                     "flavor": app.flavor, "profile": app.profile}) + "\n")
        sys.stdout.flush()
    except OSError:
        pass
    if args.sandbox:
        how = ("real MP4s: still image + your audio via ffmpeg" if app.ffmpeg
               else "ffmpeg not found: every result is the fixture video")
        sys.stderr.write("omnihuman sandbox: OMNIHUMAN_BASE_URL=%s/v2 (%s; %s; jobs finish in ~6 s; "
                         "%s; answers as the %s API reference; NO lip-sync, this is not the real service)\n"
                         % (app.api_url,
                            "API key must be %r" % args.key if args.key else "any API key works",
                            "TLS: trust %s" % args.tls[0] if args.tls else "plain HTTP",
                            how, app.flavor))
        sys.stderr.flush()

    ppid = os.getppid()
    deadline = time.monotonic() + lifetime if lifetime and lifetime > 0 else None
    while not stop.wait(1.0):
        if args.watch_pid:
            if not pid_alive(args.watch_pid):
                break
        elif os.getppid() != ppid:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
    for srv in (api, cdn):
        try:
            srv.socket.close()
        except OSError:
            pass
    app.cleanup()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
