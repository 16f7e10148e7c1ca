"""make bench, benchmark 2: N x (create + wait) in one omnihuman.run against
bench/fastserver.py: CPU, RSS per waiting job, connections."""
from clients import kv, run_sampled
from report import say, target
from servers import get_json, start_fast, stop
from settings import JOBS, LUA


def bench_concurrency(tmp):
    interval = 2.0
    polls = 3
    say("## 2. Concurrency: N x (create + wait) in one omnihuman.run")
    say("")
    say("server: bench/fastserver.py (asyncio, one process); each job completes at status check #%d;" % polls)
    say("wait interval %.0f s; client max_connections = 8 (the default)" % interval)
    say("")
    say("| jobs | done | wall s | create phase s | client CPU s | CPU us/job | peak RSS (VmHWM) MiB | RSS base MiB | max jobs waiting | RSS then MiB | KiB/waiting job | peak KiB/job | max client TCP sockets | max open (server side) | conns accepted | server requests |")
    say("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for n in JOBS:
        proc, port = start_fast(tmp, polls)
        text, ss = run_sampled([LUA, "bench/client.lua", "many", "http://127.0.0.1:%d/v2" % port, str(n),
                                str(interval)], 240)
        out = kv(text)
        st = get_json(port, "/_stats")
        stop(proc)
        per_wait = (out["rss_at_inflight_max_kb"] - out["rss0_kb"]) / max(out["inflight_max"], 1)
        per_peak = (out["hwm_kb"] - out["rss0_kb"]) / n
        rows.append((n, per_wait, per_peak, st, out, ss.max))
        say("| %d | %d | %.2f | %.2f | %.2f | %.0f | %.1f | %.1f | %d | %.1f | %.2f | %.2f | %d | %d | %d | %d |" % (
            n, out["completed"], out["wall"], out["create_phase"], out["cpu"], out["cpu"] / n * 1e6,
            out["hwm_kb"] / 1024, out["rss0_kb"] / 1024, out["inflight_max"], out["rss_at_inflight_max_kb"] / 1024,
            per_wait, per_peak, ss.max, st["max_open"], st["accepted"], st["create"] + st["poll"]))
        if out.get("first_error"):
            say("  first error: %s" % out["first_error"])
    say("")
    say("KiB/waiting job = (VmRSS at the moment most jobs were waiting - VmRSS before run) / jobs waiting;")
    say("max client TCP sockets: the client's open TCP sockets, sampled every 0.1 s from /proc/PID/fd + /proc/net/tcp.")
    say("peak KiB/job = (VmHWM - VmRSS before run) / jobs. Server CPU s: " +
        ", ".join("%d jobs %.2f" % (r[0], r[3]["cpu_s"]) for r in rows))
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        say("growth %d -> %d jobs (x%.0f): client CPU x%.2f, wall x%.2f, peak RSS delta x%.2f" % (
            a[0], b[0], b[0] / a[0], b[4]["cpu"] / a[4]["cpu"], b[4]["wall"] / a[4]["wall"],
            (b[4]["hwm_kb"] - b[4]["rss0_kb"]) / max(a[4]["hwm_kb"] - a[4]["rss0_kb"], 1)))
    say("")
    last = rows[-1]
    target("2a %d jobs all completed" % last[0], last[4]["completed"] == last[0],
           "%d/%d" % (last[4]["completed"], last[0]))
    target("2b <= 4 KiB RSS per waiting job (%d jobs)" % last[0], last[1] <= 4.0,
           "%.2f KiB/waiting job, %.2f KiB/job at peak" % (last[1], last[2]))
    target("2c connections pooled and capped (max_connections 8)", 0 < last[5] <= 8,
           "client held at most %d TCP sockets at once (sampled every 0.1 s); server side saw at most %d "
           "open (closes are seen late there); %d connections over the run: creates use a fresh one each" % (
               last[5], last[3]["max_open"], last[3]["accepted"]))
