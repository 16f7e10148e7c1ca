#!/usr/bin/env python3
"""make bench, part 5: what waiting costs an OpenResty worker.

N requests are sent at once to one nginx + ngx_lua worker; each runs one
client:generate (create, then status checks every 2 s until the job
completes at its 5th check, ~10 s). The worker's CPU time (os.clock() inside it,
read through a /cpu location) over the batch is compared with the same N generations
under omnihuman.run in one LuaJIT process (os.clock around the run), each side
against a bench/fastserver.py of its own. Both use build/luajit. Batches of the
two sides alternate (worker, plain, plain, worker, ...), both processes kept
warm between them, so load from elsewhere on the machine falls on both.

  BENCH_OR_N=10,100,500,2000   batch sizes
  BENCH_OR_POLLS=5             a job completes at this status check
  BENCH_OR_INTERVAL=2          seconds between status checks
  BENCH_OR_SMALL_BATCHES=3     batches per side for N < 500 (one batch there
                               costs tens of ms of CPU: within the noise)

Prints a Markdown table and target lines (also written to
build/bench/openresty.md). 127.0.0.1 only; every wait is bounded.
"""
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import say, say_targets, target, write  # noqa: E402
from servers import free_port, get_json, nginx_prefix, run_nginx, start_fast, stop, stop_all, temp_paths  # noqa: E402
from settings import ROOT, lua_env  # noqa: E402

NS = [int(x) for x in os.environ.get("BENCH_OR_N", "10,100,500,2000").split(",")]
POLLS = int(os.environ.get("BENCH_OR_POLLS", "5"))
INTERVAL = float(os.environ.get("BENCH_OR_INTERVAL", "2"))
SMALL_BATCHES = int(os.environ.get("BENCH_OR_SMALL_BATCHES", "3"))
BUILD = os.path.join(ROOT, "build", "luajit")
ENV = lua_env(ROOT, BUILD)

CONF = """daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/logs/error.log warn;
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
events { worker_connections 16000; }
http {
  access_log off;
%(temp_paths)s
  default_type text/plain;
  lua_package_path "%(root)s/lua/?.lua;%(root)s/lua/?/init.lua;;";
  lua_package_cpath "%(build)s/?.so;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;;";
  init_worker_by_lua_block {
    local omnihuman = require("omnihuman")
    CLIENT = omnihuman.new{ api_key = "bench-key", base_url = "%(api)s", poll_interval = %(interval)s,
                            max_retries = 0, timeout = 120, wait_timeout = 600 }
  }
  server {
    listen 127.0.0.1:%(port)d backlog=4096;
    location = /gen {
      content_by_lua_block {
        local res, err = CLIENT:generate{ image_url = "https://127.0.0.1/face.png",
                                          audio_url = "https://127.0.0.1/hello.wav" }
        ngx.say(res and res.status or tostring(err))
      }
    }
    location = /cpu {
      content_by_lua_block { ngx.say(("%%.6f"):format(os.clock())) }
    }
    location = /adapter {
      content_by_lua_block { ngx.say(require("omnihuman").adapter().name) }
    }
    location = /turns {
      content_by_lua_block {
        local s = require("omnihuman").adapter().stats or {}
        ngx.say(s.wakes or -1, " ", s.turns or -1)
      }
    }
    # The same requests with no omnihuman work: what serving them costs.
    location = /idle {
      content_by_lua_block { ngx.sleep(%(hold)s); ngx.say("completed") }
    }
  }
}
"""

PLAIN = r"""
local omnihuman = require("omnihuman")
local api, n, interval = arg[1], tonumber(arg[2]), tonumber(arg[3])
local client = omnihuman.new{ api_key = "bench-key", base_url = api, poll_interval = interval,
                              max_retries = 0, timeout = 120, wait_timeout = 600 }
io.write("ready\n"); io.flush()
-- One batch per line read: the process stays warm between batches, as the worker does.
for _ in io.lines() do
  local done = 0
  local c0, t0 = os.clock(), omnihuman.core.now()
  omnihuman.run(function()
    for _ = 1, n do
      omnihuman.spawn(function()
        local res = client:generate{ image_url = "https://127.0.0.1/face.png",
                                     audio_url = "https://127.0.0.1/hello.wav" }
        if res and res.status == "completed" then done = done + 1 end
      end)
    end
  end)
  io.write(("cpu=%.6f wall=%.6f completed=%d\n"):format(os.clock() - c0, omnihuman.core.now() - t0, done))
  io.flush()
end
"""


def worker_cpu(port):
    """The worker's own CPU seconds: os.clock() inside it (process CPU time,
    microseconds), read through /cpu."""
    out = subprocess.run(["curl", "-s", "--max-time", "10", "http://127.0.0.1:%d/cpu" % port],
                         stdout=subprocess.PIPE, text=True).stdout
    return float(out)


async def fire(port, n, timeout, path="/gen"):
    """n concurrent GET path, one connection each; returns (answers, completed)."""
    async def one():
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await w.drain()
        data = await r.read()
        w.close()
        return data
    res = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(n)), return_exceptions=True), timeout)
    ok = [d for d in res if isinstance(d, bytes) and d.startswith(b"HTTP/1.1 200")]
    return len(ok), sum(1 for d in ok if b"\ncompleted\n" in d.split(b"\r\n\r\n", 1)[-1])


def start_openresty(tmp, api):
    prefix = nginx_prefix(tmp, "or")
    port = free_port()
    conf = CONF % {"prefix": prefix, "temp_paths": temp_paths(prefix), "root": ROOT, "build": BUILD, "api": api,
                   "interval": INTERVAL, "port": port, "hold": POLLS * INTERVAL - INTERVAL}
    proc = run_nginx(prefix, conf, port, 600, ENV)
    return proc, port, prefix


def driver_counts(port):
    """(driver wakes, loop turns) of the worker's adapter so far."""
    out = subprocess.run(["curl", "-s", "http://127.0.0.1:%d/turns" % port], stdout=subprocess.PIPE, text=True).stdout
    return [int(x) for x in out.split()]


def plain_process(tmp, api, n):
    """The plain side: a LuaJIT process that runs one batch per line it reads."""
    script = os.path.join(tmp, "plain.lua")
    with open(script, "w") as f:
        f.write(PLAIN)
    p = subprocess.Popen(["luajit", script, api, str(n), str(INTERVAL)], env=ENV, cwd=ROOT, text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    if p.stdout.readline().strip() != "ready":
        p.kill()
        raise SystemExit("bench: the plain process did not start")
    return p


def plain_batch(p):
    p.stdin.write("go\n")
    p.stdin.flush()
    line = p.stdout.readline()  # bounded: every wait in the batch is (wait_timeout)
    if not line:
        raise SystemExit("bench: the plain process exited (code %s)" % p.wait())
    return {k: float(v) for k, v in (field.split("=") for field in line.split())}


def worker_batch(port, n, path="/gen"):
    c0, t0 = worker_cpu(port), time.monotonic()
    a, c = asyncio.run(fire(port, n, 300, path))
    return worker_cpu(port) - c0, time.monotonic() - t0, a, c


def one_size(tmp, n, batches):
    """`batches` batches of n requests on each side, alternating sides."""
    fast, fport = start_fast(tmp, POLLS)
    proc, port, prefix = start_openresty(tmp, "http://127.0.0.1:%d/v2" % fport)
    ptmp = os.path.join(tmp, "plain")  # start_fast keeps its port file in the folder it is given
    os.makedirs(ptmp, exist_ok=True)
    pfast, pport = start_fast(ptmp, POLLS)
    plain_p = plain_process(tmp, "http://127.0.0.1:%d/v2" % pport, n)
    adapter = subprocess.run(["curl", "-s", "http://127.0.0.1:%d/adapter" % port], stdout=subprocess.PIPE,
                             text=True).stdout.strip()
    st0, counts0 = get_json(fport, "/_stats"), driver_counts(port)
    ngx = {"cpu": 0.0, "wall": 0.0, "answers": 0, "completed": 0, "serve": 0.0, "adapter": adapter}
    plain = {"cpu": 0.0, "wall": 0.0, "completed": 0}

    def one_worker():
        cpu, wall, a, c = worker_batch(port, n)
        ngx["cpu"] += cpu
        ngx["wall"] += wall
        ngx["answers"] += a
        ngx["completed"] += c

    def one_plain():
        r = plain_batch(plain_p)
        for k in plain:
            plain[k] += r[k]

    try:
        for b in range(batches):
            for side in ((one_worker, one_plain) if b % 2 == 0 else (one_plain, one_worker)):
                side()
        st1, counts1 = get_json(fport, "/_stats"), driver_counts(port)
        # The same number of requests held as long, doing nothing: nginx's share.
        for _ in range(batches):
            ngx["serve"] += worker_batch(port, n, "/idle")[0]
    finally:
        plain_p.stdin.close()
        plain_p.wait(30)
        stop(proc)
        stop(fast)
    plain["checks"] = get_json(pport, "/_stats")["poll"]
    stop(pfast)
    errors = [ln for ln in open(os.path.join(prefix, "logs/error.log")) if "[error]" in ln or "[alert]" in ln]
    shutil.rmtree(prefix, ignore_errors=True)
    ngx.update({"wakes": counts1[0] - counts0[0], "turns": counts1[1] - counts0[1],
                "checks": st1["poll"] - st0["poll"], "errors": errors[:3]})
    return ngx, plain


def main():
    tmp = tempfile.mkdtemp(prefix="omnihuman-bench-or.")
    say("## 5. OpenResty: worker CPU while N requests wait, vs the same work under omnihuman.run")
    say("")
    say("One nginx worker; N requests at once, each one client:generate; a job completes at status check "
        "#%d, interval %.0f s (~%.0f s per job). Plain: the same N generations in one `omnihuman.run` "
        "(LuaJIT), each side with a fastserver of its own. CPU: os.clock() in the worker before and after each "
        "batch (read through a /cpu location); the plain process's os.clock() around each run. Batches of the two "
        "sides alternate, both processes warm; sizes below 500 run %d batches on each side (columns: totals). Driver wakes: the adapter's driver light thread woken (timer or poke); loop "
        "turns: loop turns it made (several per wake while more is due at once)." % (
            POLLS, INTERVAL, POLLS * INTERVAL, SMALL_BATCHES))
    say("")
    say("| N | batches | adapter | answered | completed | worker CPU s | wall s | % of a core | status checks | "
        "driver wakes | loop turns | CPU us/check | serving N requests, CPU s | plain CPU s | plain wall s | plain % | "
        "plain us/check | ratio | ratio less serving |")
    say("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    try:
        for n in NS:
            batches = SMALL_BATCHES if n < 500 else 1
            ngx, plain = one_size(tmp, n, batches)
            ratio = ngx["cpu"] / max(plain["cpu"], 1e-3)
            net = (ngx["cpu"] - ngx["serve"]) / max(plain["cpu"], 1e-3)
            rows.append((n, batches, ngx, plain, ratio))
            say("| %d | %d | %s | %d | %d | %.3f | %.1f | %.2f %% | %d | %d | %d | %.0f | %.3f | %.3f | %.1f | %.2f %% | %.0f "
                "| %.2fx | %.2fx |" % (
                    n, batches, ngx["adapter"], ngx["answers"], ngx["completed"], ngx["cpu"], ngx["wall"],
                    ngx["cpu"] / ngx["wall"] * 100, ngx["checks"], ngx["wakes"], ngx["turns"],
                    ngx["cpu"] / max(ngx["checks"], 1) * 1e6, ngx["serve"],
                    plain["cpu"], plain["wall"], plain["cpu"] / plain["wall"] * 100,
                    plain["cpu"] / max(plain["checks"], 1) * 1e6, ratio, net))
            if ngx["errors"]:
                say("  nginx error.log: " + " | ".join(e.strip()[:200] for e in ngx["errors"]))
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    say("")
    for n, batches, ngx, plain, ratio in rows:
        want = n * batches
        target("5 OpenResty worker CPU <= 1.5x omnihuman.run at N=%d" % n,
               ratio <= 1.5 and ngx["completed"] == want and plain["completed"] == want,
               "%.3f s vs %.3f s (%.2fx; %.2fx less nginx's serving); %d/%d and %d/%d completed" % (
                   ngx["cpu"], plain["cpu"], ratio, (ngx["cpu"] - ngx["serve"]) / max(plain["cpu"], 1e-3),
                   ngx["completed"], want, int(plain["completed"]), want))
    say("")
    say_targets()
    write("openresty.md")


if __name__ == "__main__":
    main()
