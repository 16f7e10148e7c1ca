"""The test control endpoints on the CDN listener (/_control/...): queue
faults, read records, reset, limit creates, cut handshakes, health."""

import json
import os
import re
import urllib.parse

from .answers import error_answer, json_answer
from .faults import validate_fault
from .state import ROUTES

NS_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]*$")


class ControlEndpoints:
    """The Handler's /_control/ answers (a mixin: self is the request handler)."""

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
