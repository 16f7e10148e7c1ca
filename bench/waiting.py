"""make bench, benchmark 8: N jobs waiting, each checked every second
(nginx: always "queued"), lua-omnihuman against the floor (a C multi handle,
bench/waiting_floor.c) and the peers (bench/peers.lua wait): client CPU over
the window and KiB of RSS per waiting job ((VmHWM - VmRSS before the jobs) / N)."""
import os

import peers
from clients import default_user_agent, kv, run
from report import say
from settings import BIN, ENV, WAIT_JOBS, WAIT_SECS

INTERVAL = 1
FLOOR = "libcurl multi, FIFO, at most 16 in curl (C): the floor"


def bench_waiting(port):
    n, secs = WAIT_JOBS, WAIT_SECS
    url = "http://127.0.0.1:%d/v2/video/generations?generation_id=x" % port
    base = "http://127.0.0.1:%d/v2" % port
    ua = default_user_agent()
    rows = [(FLOOR, [os.path.join(BIN, "waiting_floor"), url, str(n), str(INTERVAL), str(secs), ua], ENV)]
    rows += [(name.replace("client:poll", "client:wait"),
              [interp, "bench/client.lua", "idle", base, str(n), str(INTERVAL), str(secs)], env)
             for name, interp, env in peers.ours()]
    rows += [(name.replace("client:poll", "client:wait_op, no coroutine"),
              [interp, "bench/client.lua", "idle_ops", base, str(n), str(INTERVAL), str(secs)], env)
             for name, interp, env in peers.ours()]
    rows += [(name, [interp, "bench/peers.lua", "wait", lib, url, str(n), str(INTERVAL), str(secs), ua], env)
             for name, interp, env, lib in peers.peers() if lib in ("lcurl", "luahttp")]
    figs = []
    for name, cmd, env in rows:
        out = kv(run(cmd, secs + 120, env=env))
        checks = out.get("checks", out.get("status_answers", 0))
        lua = out.get("lua_kb")
        figs.append((name, out["cpu"], (out["hwm_kb"] - out["rss0_kb"]) / n, checks, out["wall"],
                     lua * 1024 / n if isinstance(lua, float) else None))
    floor, ours = figs[0], figs[1]
    say("## 8. %d jobs waiting, each checked every %d s for %d s (nginx: always \"queued\")" % (n, INTERVAL, secs))
    say("")
    say("| client | checks | client CPU s | CPU vs the floor | CPU vs lua-omnihuman | KiB RSS per waiting job "
        "| vs the floor | vs lua-omnihuman | of it, Lua heap (bytes per job) |")
    say("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, cpu, kib, checks, _, lua in figs:
        say("| %s | %d | %.3f | %.2fx | %.2fx | %.1f | %.2fx | %.2fx | %s |" % (
            name, checks, cpu, cpu / floor[1], cpu / ours[1], kib, kib / floor[2], kib / ours[2],
            "%.0f" % lua if lua is not None else "-"))
    say("")
    say("lua-omnihuman: client:wait with an on_status callback in N coroutines of one omnihuman.run, "
        "default max_connections 8; Lua-cURLv3: its multi interface, an easy handle per job; lua-http: "
        "a cqueues coroutine and a kept connection per job; python is not measured here. "
        "Lua heap: collectgarbage(\"count\") after a full collection once every job sleeps, "
        "less the count before the jobs, per job (lua-omnihuman only).")
    say("")
    peers.say_notes(say)
