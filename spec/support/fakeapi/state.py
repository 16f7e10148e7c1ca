"""The server's state: the app (settings, the lock, the namespaces) and,
per namespace, its records, queued faults, jobs and limits."""

import collections
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid

from .answers import FLAVORS
from .rules import load_models

# fixture.mp4 sits beside server.py, one folder up.
FIXTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixture.mp4")
ROUTES = ("create", "poll", "cdn")


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
        # The sandbox checks each create against its model's rules.
        self.models = load_models() if self.sandbox else {}
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
