"""The service's normal answers: create, status check (poll) and the
CDN's result videos (with ranges), each as an Answer."""

import json
import re
import time
import urllib.parse

from .answers import USAGE, USAGE_DEFAULT, Answer, error_answer, json_answer, result_path
from .media import prepare_media
from .rules import check_create
from .state import Job

SANDBOX_QUEUED = 2.0
SANDBOX_GENERATING = 4.0
TAG_RE = re.compile(rb'"sandbox_tag"\s*:\s*"([A-Za-z0-9_.:-]{1,64})"')


class ServiceAnswers:
    """The Handler's normal answers (a mixin: self is the request handler)."""

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
        # OmniHuman needs a face and a voice; other models of the catalogue
        # are answered with the same kind of job (the client checks their fields).
        need = ("model", "image_url", "audio_url") if str(req.get("model", "")).startswith("bytedance/omnihuman") \
            else ("model",)
        bad = [f for f in need if not isinstance(req.get(f), str) or not req.get(f)]
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
        model = self.app.models.get(req["model"]) if self.app.sandbox else None
        if model is not None:
            why = check_create(model, req)
            if why:
                return error_answer(400, "Body validation error: model %s: %s" % (req["model"], why), rest)
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
            prepare_media(app, job, req, model)
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
