"""make bench, benchmark 3: the CPU of 1,000 jobs waiting on statuses that
stay "queued" (nginx)."""
from clients import kv, run
from report import say, target
from settings import IDLE_SECS, LUA


def bench_idle(port):
    n, interval = 1000, 5
    out = kv(run([LUA, "bench/client.lua", "idle", "http://127.0.0.1:%d/v2" % port, str(n), str(interval),
                  str(IDLE_SECS)], IDLE_SECS + 60))
    pct = out["cpu"] / out["wall"] * 100
    say("## 3. Idle cost: %d jobs waiting, poll interval %d s, window %.0f s (nginx: always \"queued\")" % (n, interval, IDLE_SECS))
    say("")
    say("| jobs | wall s | status answers | client CPU s | % of one core | CPU us / status check | peak RSS MiB |")
    say("|---:|---:|---:|---:|---:|---:|---:|")
    say("| %d | %.2f | %d | %.3f | %.3f %% | %.1f | %.1f |" % (n, out["wall"], out["status_answers"], out["cpu"], pct,
                                                           out["cpu"] / max(out["status_answers"], 1) * 1e6,
                                                           out["hwm_kb"] / 1024))
    if out.get("unexpected"):
        say("  unexpected: %s" % out["unexpected"])
    say("")
    target("3 idle CPU < 1% of one core", pct < 1.0, "%.3f %%" % pct)
