#!/usr/bin/env python3
"""make bench: lua-omnihuman against baselines, side by side, in one run.

Every server is started here on 127.0.0.1 (free ports picked by the kernel)
and stopped at the end; nothing else is ever contacted. Every loop is
bounded in count and in time. Environment knobs:

  BENCH_ONLY=1,2,3,4,6 which benchmarks (default: all; 5, OpenResty, is bench/openresty.py)
  BENCH_SECS=1.5       seconds per sequential-client measurement
  BENCH_ROUNDS=5       rounds of the sequential clients, interleaved; the best
                       round of each client is reported (least disturbed by
                       other load), the median next to it
  BENCH_JOBS=1000,5000,10000   sizes of the concurrency benchmark
  BENCH_IDLE_SECS=30   idle window
  BENCH_UPLOADS=200,1000   sizes of the concurrent-upload benchmark (5 MB image each)
  LUA=lua5.4 BUILD=build/lua5.4   interpreter and module build
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import http.client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUA = os.environ.get("LUA", "lua5.4")
BUILD = os.environ.get("BUILD", "build/" + LUA)
BIN = os.path.join(ROOT, "build", "bench")
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
ONLY = set(os.environ.get("BENCH_ONLY", "1,2,3,4,6").split(","))
SECS = float(os.environ.get("BENCH_SECS", "1.5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
JOBS = [int(x) for x in os.environ.get("BENCH_JOBS", "1000,5000,10000").split(",")]
IDLE_SECS = float(os.environ.get("BENCH_IDLE_SECS", "30"))
UPLOADS = [int(x) for x in os.environ.get("BENCH_UPLOADS", "200,1000").split(",")]
# The core before create bodies were streamed (mk/bench.mk builds it from git).
BASELINE = os.path.join(ROOT, "build", "bench", "baseline")
BASELINE_REV = os.environ.get("BENCH_BASELINE_REV", "d646adc")
STATUS_JSON = '{"id":"x","status":"queued","video":null,"error":null}'

ENV = dict(os.environ)
ENV["LUA_PATH"] = os.path.join(ROOT, "lua/?.lua") + ";" + os.path.join(ROOT, "lua/?/init.lua") + ";;"
ENV["LUA_CPATH"] = os.path.join(ROOT, BUILD, "?.so") + ";;"
for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
    ENV.pop(k, None)
ENV["no_proxy"] = ENV["NO_PROXY"] = "127.0.0.1"

RESULTS = []   # lines of the final report
TARGETS = []   # (name, ok, detail)
CHILDREN = []  # server processes to stop


def say(line=""):
    print(line, flush=True)
    RESULTS.append(line)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, secs=10):
    t0 = time.monotonic()
    while time.monotonic() - t0 < secs:
        if proc.poll() is not None:
            raise SystemExit("bench: server exited early (code %s)" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("bench: server on port %d did not come up" % port)


WATCHDOG = r"""
import os, sys, time, signal
parent, child, limit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
t0 = time.monotonic()
def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
while alive(child) and alive(parent) and time.monotonic() - t0 < limit:
    time.sleep(0.5)
if alive(child):
    os.kill(child, signal.SIGTERM)
"""


def watchdog(proc, limit=900):
    """Stops a server if this driver dies (even by SIGKILL) or after `limit` s."""
    subprocess.Popen([PY, "-c", WATCHDOG, str(os.getpid()), str(proc.pid), str(limit)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_nginx(tmp):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        raise SystemExit("bench: nginx not found (apt-get install -y nginx-light)")
    port = free_port()
    prefix = os.path.join(tmp, "nginx")
    for d in ("logs", "tmp"):
        os.makedirs(os.path.join(prefix, d), exist_ok=True)
    conf = os.path.join(prefix, "nginx.conf")
    user = "user root;\n" if os.geteuid() == 0 else ""
    with open(conf, "w") as f:
        f.write("""%sdaemon off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_timeout 120s;
  keepalive_requests 10000000;
  client_max_body_size 256m;
  client_body_temp_path %s/tmp/body;
  proxy_temp_path %s/tmp/proxy;
  fastcgi_temp_path %s/tmp/fastcgi;
  uwsgi_temp_path %s/tmp/uwsgi;
  scgi_temp_path %s/tmp/scgi;
  server {
    listen 127.0.0.1:%d;
    location / {
      default_type application/json;
      return 200 '%s';
    }
  }
}
""" % (user, prefix, prefix, prefix, prefix, prefix, prefix, prefix, port, STATUS_JSON))
    proc = subprocess.Popen([nginx, "-p", prefix, "-c", conf, "-e", os.path.join(prefix, "logs/error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    CHILDREN.append(proc)
    watchdog(proc)
    wait_port(port, proc)
    return proc, port


def start_fast(tmp, polls):
    pf = os.path.join(tmp, "fast.port")
    if os.path.exists(pf):
        os.unlink(pf)
    proc = subprocess.Popen([PY, os.path.join(ROOT, "bench/fastserver.py"), "--port-file", pf,
                             "--polls", str(polls), "--lifetime", "300"], env=ENV)
    CHILDREN.append(proc)
    watchdog(proc, 300)
    t0 = time.monotonic()
    while not os.path.exists(pf):
        if proc.poll() is not None or time.monotonic() - t0 > 10:
            raise SystemExit("bench: fastserver did not start")
        time.sleep(0.05)
    port = int(open(pf).read())
    wait_port(port, proc)
    return proc, port


def get_json(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path)
    r = c.getresponse()
    d = json.loads(r.read())
    c.close()
    return d


def core_env(tree):
    """ENV with the module (core and facade) taken from another tree: the baseline."""
    env = dict(ENV)
    env["LUA_PATH"] = os.path.join(tree, "lua/?.lua") + ";" + os.path.join(tree, "lua/?/init.lua") + ";;"
    env["LUA_CPATH"] = os.path.join(tree, "?.so") + ";;"
    return env


def have_baseline():
    return os.path.exists(os.path.join(BASELINE, "omnihuman", "core.so")) and \
        os.path.exists(os.path.join(BASELINE, "lua", "omnihuman", "init.lua"))


def run(cmd, timeout, env=None):
    p = subprocess.run(cmd, env=env or ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if p.returncode != 0:
        raise SystemExit("bench: %s failed (%d):\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p.stdout


def kv(text):
    d = {}
    for ln in text.splitlines():
        k, sep, v = ln.partition("=")
        if sep:
            try:
                d[k] = float(v)
            except ValueError:
                d[k] = v
    return d


def target(name, ok, detail):
    TARGETS.append((name, ok, detail))


# 1 -------------------------------------------------------------------------

def bench_sequential(port):
    url = "http://127.0.0.1:%d/v2/video/generations?generation_id=x" % port
    base = "http://127.0.0.1:%d/v2" % port
    big = "100000000"
    clients = {
        "lua-omnihuman client:poll": lambda: kv(run([LUA, "bench/client.lua", "poll", base, big, str(SECS)],
                                                    SECS + 30)),
        "libcurl easy, 1 handle (C)": lambda: easy("easy", url, big, SECS),
        "libcurl multi_socket+epoll, 1 handle (C, diagnostic)": lambda: easy("multi", url, big, SECS),
        "python3 http.client+json": lambda: easy_py(port, SECS),
    }
    samples = {k: [] for k in clients}
    for r in range(ROUNDS):
        for name, fn in clients.items():
            samples[name].append(fn())
    curl_secs = max(SECS, 3.0)
    samples["curl CLI spawned per request"] = [easy("spawn", url, "1000", curl_secs)]

    def med(name):
        xs = samples[name]
        rps = max(x["requests"] / x["wall"] for x in xs)
        cpu = min(x["cpu"] / x["requests"] * 10000 for x in xs)
        mcpu = statistics.median(x["cpu"] / x["requests"] * 10000 for x in xs)
        n = sum(x["requests"] for x in xs)
        return rps, cpu, n, mcpu

    ours = med("lua-omnihuman client:poll")
    say("## 1. Sequential status checks (nginx, fixed JSON, keep-alive, loopback)")
    say("")
    say("best of %d interleaved rounds x %.1f s each (curl CLI: 1 round x %.0f s); CPU = the client process only"
        % (ROUNDS, SECS, curl_secs))
    say("")
    say("| client | requests | requests/s | client CPU s / 10k req | us CPU / req | (median us CPU / req) | ours vs it (req/s) | ours vs it (CPU) |")
    say("|---|---:|---:|---:|---:|---:|---:|---:|")
    figs = {}
    for name in samples:
        rps, cpu, n, mcpu = med(name)
        figs[name] = (rps, cpu)
        ratio = ours[0] / rps
        cratio = cpu / ours[1]
        say("| %s | %d | %.0f | %.3f | %.1f | %.1f | %s | %s |" % (
            name, n, rps, cpu, cpu * 100, mcpu * 100, "-" if name.startswith("lua") else "%.2fx" % ratio,
            "-" if name.startswith("lua") else "%.2fx" % cratio))
    say("")
    say("(ratios > 1 mean lua-omnihuman is faster / cheaper)")
    say("")
    c = figs["libcurl easy, 1 handle (C)"]
    p = figs["python3 http.client+json"]
    target("1a poll req/s >= 0.9x libcurl easy", ours[0] >= 0.9 * c[0], "%.2fx" % (ours[0] / c[0]))
    target("1b poll req/s >= 2x python http.client", ours[0] >= 2 * p[0], "%.2fx" % (ours[0] / p[0]))


def easy(mode, url, n, secs):
    out = run([os.path.join(BIN, "http_clients"), mode, url, n, str(secs)], secs + 60)
    a = out.split()
    return {"requests": float(a[0]), "wall": float(a[1]), "cpu": float(a[2])}


def easy_py(port, secs):
    out = run([PY, "bench/pyclient.py", str(port), "/v2/video/generations?generation_id=x",
               "100000000", str(secs)], secs + 30)
    a = out.split()
    return {"requests": float(a[0]), "wall": float(a[1]), "cpu": float(a[2])}


# 2 -------------------------------------------------------------------------

class ConnSampler(threading.Thread):
    """Counts the client process's open TCP sockets every 0.1 s: the socket
    inodes among /proc/PID/fd that /proc/net/tcp lists (TIME_WAIT entries have
    no inode, so closed connections are not counted)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.max, self.samples, self.halt = pid, 0, 0, threading.Event()

    def run(self):
        t0 = time.monotonic()
        while not self.halt.is_set() and time.monotonic() - t0 < 300:
            try:
                inodes = set()
                for fd in os.listdir("/proc/%d/fd" % self.pid):
                    try:
                        link = os.readlink("/proc/%d/fd/%s" % (self.pid, fd))
                    except OSError:
                        continue
                    if link.startswith("socket:["):
                        inodes.add(link[8:-1])
                n = 0
                with open("/proc/%d/net/tcp" % self.pid) as f:
                    next(f)
                    for ln in f:
                        if ln.split()[9] in inodes:
                            n += 1
                self.max = max(self.max, n)
                self.samples += 1
            except (OSError, StopIteration, IndexError):
                pass
            self.halt.wait(0.1)


def run_sampled(cmd, timeout):
    p = subprocess.Popen(cmd, env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    smp = ConnSampler(p.pid)
    smp.start()
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    smp.halt.set()
    smp.join()
    if p.returncode != 0:
        raise SystemExit("bench: %s failed (%d):\n%s%s" % (" ".join(cmd), p.returncode, out, err))
    return out, smp


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


# 3 -------------------------------------------------------------------------

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


# 4 -------------------------------------------------------------------------

def make_png(path, size):
    import struct
    import zlib
    sig = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", 2048, 2048, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    head = sig + chunk
    with open(path, "wb") as f:
        f.write(head)
        f.write(os.urandom(size - len(head)))


def bench_upload(tmp, port):
    size = 20 * 1000 * 1000
    png = os.path.join(tmp, "face.png")
    make_png(png, size)
    b64 = run([os.path.join(BIN, "base64_bench")], 60)
    enc_c = float(b64.split("base64 encode:")[1].split()[0])
    memcpy = float(b64.split("memcpy:")[1].split()[0])
    scalar = float(b64.split("scalar 64-entry loop:")[1].split()[0])
    reps = 5
    base = "http://127.0.0.1:%d/v2" % port
    cores = [("streamed", None)]
    if have_baseline():
        cores.append(("whole body (%s)" % BASELINE_REV, core_env(BASELINE)))
    res = {}
    for label, env in cores:
        res[label] = kv(run([LUA, "bench/client.lua", "upload", base, png, str(reps)], 120, env))
    drain = kv(run([LUA, "bench/client.lua", "drain", png, "20"], 120))
    body = drain["body_bytes"]
    say("## 4. One create with a %d-byte local PNG (client:create -> nginx, body discarded)" % size)
    say("")
    say("%d creates in one fresh process per core; the baseline is the core before bodies were streamed "
        "(whole body built at create_op), same run, same nginx. Request body %.2f MB." % (reps, body / 1e6))
    say("")
    say("| measure | " + " | ".join(l for l, _ in cores) + " |")
    say("|---|" + "---:|" * len(cores))

    def row(name, fn):
        say("| %s | %s |" % (name, " | ".join(fn(res[l]) for l, _ in cores)))

    def ms_mbs(t):
        return "%.1f ms = %.0f MB/s" % (t * 1e3, body / t / 1e6)

    enc = {l: [res[l]["rep%d_encode_wall" % r] for r in range(1, reps + 1)] for l, _ in cores}
    tot = {l: [res[l]["rep%d_total_wall" % r] for r in range(1, reps + 1)] for l, _ in cores}
    lab = {id(res[l]): l for l, _ in cores}
    row("client:create_op, first call (streamed: open, stat, sniff; baseline: + read, encode)",
        lambda o: "%.2f ms" % (enc[lab[id(o)]][0] * 1e3))
    row("client:create_op, best of calls 2-%d" % reps, lambda o: "%.2f ms" % (min(enc[lab[id(o)]][1:]) * 1e3))
    row("whole create (send + answer), first call", lambda o: ms_mbs(tot[lab[id(o)]][0]))
    row("whole create, best of calls 2-%d" % reps, lambda o: ms_mbs(min(tot[lab[id(o)]][1:])))
    row("first call / warm (request-body MB/s)",
        lambda o: "%.2fx" % (min(tot[lab[id(o)]][1:]) / tot[lab[id(o)]][0]))
    row("RSS before", lambda o: "%.1f MB" % (o["rss0_kb"] * 1024 / 1e6))
    row("peak RSS growth over RSS before (after %d creates)" % reps,
        lambda o: "%.1f MB = %.2fx body" % ((o["hwm_kb"] - o["rss0_kb"]) * 1024 / 1e6,
                                             (o["hwm_kb"] - o["rss0_kb"]) * 1024 / body))
    say("")
    say("| encoding | value |")
    say("|---|---:|")
    say("| streamed body read as curl reads it (256 KiB buffer, file in the page cache), first of 20 | "
        "%.0f MB/s of base64 (%.0f MB/s of file) |" % (body / drain["first"] / 1e6, size / drain["first"] / 1e6))
    say("| same, best of 20 | %.0f MB/s of base64 (%.0f MB/s of file) |" % (
        body / drain["best"] / 1e6, size / drain["best"] / 1e6))
    say("| omh_b64_encode alone, in memory (bench/base64_bench.c) | %.0f MB/s of input (streamed: %.2fx) |" % (
        enc_c, size / drain["best"] / 1e6 / enc_c))
    say("| memcpy, same run, same buffer size | %.0f MB/s |" % memcpy)
    say("| scalar 64-entry table loop, same run | %.0f MB/s |" % scalar)
    say("")
    ours = res["streamed"]
    in_mbs, out_mbs = size / drain["best"] / 1e6, body / drain["best"] / 1e6
    target("4a encoding on the fly >= 2 GB/s of base64 (streamed body, best of 20)", out_mbs >= 2000,
           "%.0f MB/s of base64 out = %.0f MB/s of file in, %.2fx the encoder alone in memory (%.0f MB/s in; "
           "memcpy %.0f, scalar loop %.0f)" % (out_mbs, in_mbs, in_mbs / enc_c, enc_c, memcpy, scalar))
    first, warm = tot["streamed"][0], min(tot["streamed"][1:])
    detail = "first %.0f MB/s, warm %.0f MB/s (%.2fx)" % (body / first / 1e6, body / warm / 1e6, warm / first)
    if len(cores) > 1:
        bl = cores[1][0]
        detail += "; whole-body baseline first %.0f MB/s, warm %.0f MB/s" % (
            body / tot[bl][0] / 1e6, body / min(tot[bl][1:]) / 1e6)
    target("4b first call of a 20 MB create pays no fresh-buffer penalty (first >= 0.5x warm)",
           warm / first >= 0.5, detail)
    target("4c peak RSS growth of a 20 MB create <= 4 MiB (the body is never in memory)",
           (ours["hwm_kb"] - ours["rss0_kb"]) <= 4096, "%.1f MiB" % ((ours["hwm_kb"] - ours["rss0_kb"]) / 1024))


# 6 (5 is bench/openresty.py) ------------------------------------------------

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


def main():
    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="omnihuman-bench.")
    say("# lua-omnihuman benchmarks")
    say("")
    say("%s; %s; %d CPUs; %s" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), LUA,
                                os.cpu_count(), run(["curl", "--version"], 10).splitlines()[0]))
    say("")
    try:
        nginx = None
        if ONLY & {"1", "3", "4"}:
            nginx, nport = start_nginx(tmp)
        if "1" in ONLY:
            bench_sequential(nport)
        if "2" in ONLY:
            bench_concurrency(tmp)
        if "3" in ONLY:
            bench_idle(nport)
        if "4" in ONLY:
            bench_upload(tmp, nport)
        if "6" in ONLY:
            bench_uploads(tmp)
    finally:
        for p in CHILDREN:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)
    say("## Targets")
    say("")
    for name, ok, detail in TARGETS:
        say("- [%s] %s: %s" % ("met" if ok else "MISSED", name, detail))
    say("")
    say("total bench time %.0f s" % (time.monotonic() - t_start))
    os.makedirs(BIN, exist_ok=True)
    with open(os.path.join(BIN, "results.md"), "w") as f:
        f.write("\n".join(RESULTS) + "\n")


if __name__ == "__main__":
    main()
