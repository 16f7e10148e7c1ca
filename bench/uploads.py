"""make bench, benchmark 6: N concurrent creates with a 5 MB local image each
under omnihuman.run (streamed vs the whole-body baseline core, where it fits
in memory)."""
import os

from clients import kv, make_png, run
from report import say, target
from servers import get_json, start_fast, stop
from settings import BASELINE, BASELINE_REV, LUA, UPLOADS, core_env, have_baseline


def mem_available_kb():
    with open("/proc/meminfo") as f:
        for ln in f:
            if ln.startswith("MemAvailable:"):
                return int(ln.split()[1])
    return 0


def bench_uploads(tmp):
    size = 5 * 1000 * 1000
    png = os.path.join(tmp, "five.png")
    make_png(png, size)
    say("## 6. Concurrent creates with a %d-byte local image each, under omnihuman.run" % size)
    say("")
    say("N coroutines each `client:create{ image = <5 MB PNG>, audio_url = ... }` at once (the README's pattern); "
        "server: bench/fastserver.py (reads and discards each body, answers once it is whole; counts the bytes). "
        "Throughput = request-body bytes the server received / client wall time. Baseline: the core before bodies "
        "were streamed (%s), same run, same server; skipped where N whole bodies would not fit in half the "
        "available memory." % BASELINE_REV)
    say("")
    say("| N | core | created | wall s | client CPU s | body MB received | MB/s to the server | peak RSS (VmHWM) MiB | RSS before MiB | streamed vs baseline (MB/s) |")
    say("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in UPLOADS:
        cores = [("streamed", None)]
        need_kb = n * (size * 4 // 3) * 1.2 / 1024
        if have_baseline() and need_kb < mem_available_kb() / 2:
            cores.append(("whole body", core_env(BASELINE)))
        rates = {}
        for label, env in cores:
            proc, port = start_fast(tmp, 0)
            out = kv(run([LUA, "bench/client.lua", "uploads", "http://127.0.0.1:%d/v2" % port, png, str(n)],
                         600, env))
            st = get_json(port, "/_stats")
            stop(proc)
            mbs = st["body_bytes"] / out["wall"] / 1e6
            rates[label] = (mbs, out)
            ratio = "-" if label == "streamed" else "%.2fx" % (rates["streamed"][0] / mbs)
            say("| %d | %s | %d | %.2f | %.2f | %.1f | %.0f | %.1f | %.1f | %s |" % (
                n, label, out["created"], out["wall"], out["cpu"], st["body_bytes"] / 1e6, mbs,
                out["hwm_kb"] / 1024, out["rss0_kb"] / 1024, ratio))
            if out.get("first_error"):
                say("  first error: %s" % out["first_error"])
        ours = rates["streamed"][1]
        target("6a peak RSS < 64 MiB with %d concurrent 5 MB uploads" % n, ours["hwm_kb"] < 64 * 1024 and
               ours["created"] == n, "%.1f MiB, %d/%d created" % (ours["hwm_kb"] / 1024, ours["created"], n))
        if "whole body" in rates:
            r = rates["streamed"][0] / rates["whole body"][0]
            target("6b request-body MB/s >= 0.9x whole-body sends (%d uploads)" % n, r >= 0.9,
                   "%.0f vs %.0f MB/s = %.2fx" % (rates["streamed"][0], rates["whole body"][0], r))
        else:
            say("  (%d: no baseline run: %s)" % (n, "not built" if not have_baseline() else "not enough memory"))
    say("")
