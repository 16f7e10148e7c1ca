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
   "flavor": F, "profile": {...}}       (profile: see FLAVORS, fakeapi/answers.py)
Exits on SIGTERM/SIGINT/SIGHUP, when its parent process goes away (or, with
--watch-pid PID, when that process is gone), and after --lifetime seconds
(0 = never; default 900, or never with --sandbox).

Every path may start with /n/<ns>; faults, records and jobs are kept per
namespace so that many tests can share one server.  A create's optional
"sandbox_tag" field names what it is for (a batch row): records then list
the jobs made and the creates received per tag.  See the fault list in
fakeapi/faults.py (FaultAnswers.apply_fault).  --sandbox makes progress go
by time (queued 2 s, generating 4 s), checks each create against its model's
rules in models/catalogue.json (400 "Body validation error: ..." naming the
field; unknown fields, sandbox_* fields and models not in the table pass),
and, when ffmpeg is on PATH, serves for every job a real MP4 (no lip-sync):
the create's first image (data: URI or a loopback URL), else its first video
(looped), else a test pattern; with its first audio, else silence; lasting
its duration, else the model's documented default, else the audio, else 5 s
(at most 30 s).  Without ffmpeg every job gets fixture.mp4.

The code lives in fakeapi/, one job per module: answers (flavors, error
bodies, result paths), state (the app, namespaces, jobs), service (create,
poll, CDN answers), faults, rules (the sandbox's checks of a create), sources
(the files a create carries), media (the sandbox's ffmpeg videos), control
(/_control/ endpoints), handler (HTTP parsing, dispatch, the servers), main
(options, startup line, lifetime).

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

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakeapi.main import main  # noqa: E402

if __name__ == "__main__":
    main()
