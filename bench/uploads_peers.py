"""make bench, benchmark 9: N creates of a 5 MB local image (default 100), by
lua-omnihuman and by the clients a user would pick instead, each in a
process of its own against the same bench/fastserver.py (reads and discards
each body, answers once it is whole, counts the bytes): peak RSS (VmHWM),
wall, client CPU. Peers: bench/peer_uploads.lua (Debian lua-curl,
Lua-cURLv3, lua-http) and python's http.client (this file, run with
--client: one thread per create, as a python user would run them at once).

  BENCH_ONLY=9 make bench          BENCH_PEER_UPLOADS=100 (creates per client)
"""
import base64
import json
import os
import resource
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))


def python_client(base, path, n, ua):
    """N creates at once with http.client, each its own thread and connection."""
    import http.client
    host, port = base.split("//")[1].split("/")[0].split(":")
    prefix = "/" + base.split("//")[1].split("/", 1)[1]
    counts = {"created": 0, "failed": 0}
    lock = threading.Lock()

    def one():
        try:
            with open(path, "rb") as f:
                data = f.read()
            body = json.dumps({"model": "bytedance/omnihuman",
                               "image_url": "data:image/png;base64," + base64.b64encode(data).decode(),
                               "audio_url": "https://127.0.0.1/hello.wav"})
            c = http.client.HTTPConnection(host, int(port), timeout=600)
            c.request("POST", prefix + "/video/generations", body=body,
                      headers={"Authorization": "Bearer bench-key", "Content-Type": "application/json",
                               "User-Agent": ua})
            ok = "id" in json.loads(c.getresponse().read())
            c.close()
        except Exception:  # counted, not raised: the figures say how many failed
            ok = False
        with lock:
            counts["created" if ok else "failed"] += 1

    t0, c0 = time.monotonic(), time.process_time()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    print("created=%d\nfailed=%d\nwall=%f\ncpu=%f\nhwm_kb=%d" % (
        counts["created"], counts["failed"], time.monotonic() - t0, time.process_time() - c0,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def bench_uploads_peers(tmp):
    from clients import kv, make_png, run
    from peers import NOTES, peers, say_notes
    from report import say, target
    from servers import get_json, start_fast, stop
    from settings import BUILD, ENV, LUA, PY

    n = int(os.environ.get("BENCH_PEER_UPLOADS", "100"))
    size = 5 * 1000 * 1000
    png = os.path.join(tmp, "five-peers.png")
    make_png(png, size)
    ua = "bench/1"
    say("## 9. %d creates of a 5 MB local image: lua-omnihuman and the peers" % n)
    say("")
    say("Each client in a process of its own against bench/fastserver.py, all its creates at once where the "
        "library can (Debian lua-curl has no multi interface: one after the other). The peers read the file, "
        "base64 it with the same C encoder (the core's, through its test hook: the figures measure the client, "
        "not a Lua encoder), put it in a data URI inside a lua-cjson body and POST it; python: http.client, a "
        "thread per create, its own base64 and json. Peak RSS is VmHWM (python: ru_maxrss).")
    say("")
    say("| client | created | wall s | client CPU s | peak RSS MiB | peak RSS vs lua-omnihuman |")
    say("|---|---:|---:|---:|---:|---:|")
    rows = [("lua-omnihuman (%s)" % LUA, [LUA, "bench/client.lua", "uploads", None, png, str(n)], ENV)]
    for name, interp, env, lib in peers():
        # the core's base64 hook, built for the peer's interpreter
        build = os.path.join(ROOT, BUILD if interp == LUA else os.path.join("build", interp))
        env = dict(env, LUA_CPATH=os.path.join(build, "?.so") + ";" + env.get("LUA_CPATH", ";;"))
        rows.append((name, [interp, "bench/peer_uploads.lua", lib, None, png, str(n), ua], env))
    rows.append(("python http.client, threads", [PY, "bench/uploads_peers.py", "--client", None, png, str(n), ua],
                 ENV))
    ours, peaks = None, {}
    for name, cmd, env in rows:
        proc, port = start_fast(tmp, 0)
        cmd = [("http://127.0.0.1:%d/v2" % port) if c is None else c for c in cmd]
        try:
            out = kv(run(cmd, 900, env))
        except SystemExit as e:
            NOTES.append("%s: %s" % (name, str(e).splitlines()[0]))
            stop(proc)
            continue
        get_json(port, "/_stats")
        stop(proc)
        mib = out["hwm_kb"] / 1024
        ours = ours or mib
        say("| %s | %d/%d | %.2f | %.2f | %.1f | %.1fx |" % (name, out["created"], n, out["wall"], out["cpu"],
                                                            mib, mib / ours))
        peaks[name] = (mib, out["created"])
    say("")
    if ours is not None:
        least = min(peaks, key=lambda k: peaks[k][0])
        target("9 lua-omnihuman creates all %d with the least peak RSS of every client" % n,
               least == rows[0][0] and peaks[least][1] == n,
               ", ".join("%s %.1f MiB" % (k, v[0]) for k, v in sorted(peaks.items(), key=lambda kv: kv[1][0])))
    say_notes(say)


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--client":
    python_client(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
