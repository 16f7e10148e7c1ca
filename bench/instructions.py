"""make bench, benchmark 7: instructions per sequential status check, counted
by valgrind's callgrind (user space only: the kernel's share is the same
system calls for every client). Unlike requests/s on a shared machine, the
count moves by well under 1 % between runs: the steady figure for what our
own per-request work costs. Each client runs twice, with N1 and N2 requests
after the same warm-up; (instructions at N2 - at N1) / (N2 - N1) removes
start-up and warm-up. Skipped, with a note, without valgrind."""
import os
import re
import shutil
import subprocess

from clients import default_user_agent
from report import say
from settings import BIN, ENV, LUA, ROOT

N1, N2 = 500, 2500
IREFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def count(cmd):
    p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + cmd, env=ENV,
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    m = IREFS.search(p.stderr)
    if p.returncode != 0 or not m:
        raise SystemExit("bench: callgrind of %s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stderr[-2000:]))
    return int(m.group(1).replace(",", ""))


def per_request(make_cmd):
    a, b = count(make_cmd(N1)), count(make_cmd(N2))
    return (b - a) / (N2 - N1)


def bench_instructions(port):
    say("## 7. Instructions per status check (callgrind, user space)")
    say("")
    if not shutil.which("valgrind"):
        say("skipped: valgrind is not installed (apt-get install -y valgrind)")
        say("")
        return
    url = "http://127.0.0.1:%d/v2/video/generations?generation_id=x" % port
    base = "http://127.0.0.1:%d/v2" % port
    http = os.path.join(BIN, "http_clients")
    ua = default_user_agent()
    rows = [
        ("lua-omnihuman client:poll", lambda n: [LUA, "bench/client.lua", "poll", base, str(n), "600"]),
        ("libcurl easy, 1 handle (C)", lambda n: [http, "easy", url, str(n), "600"]),
        ("libcurl easy + the same request headers (C)", lambda n: [http, "easyh", url, str(n), "600", ua]),
    ]
    figs = [(name, per_request(cmd)) for name, cmd in rows]
    ours = figs[0][1]
    say("(instructions at %d requests - at %d) / %d, after the same warm-up" % (N2, N1, N2 - N1))
    say("")
    say("| client | instructions / request | ours / it (> 1: we execute more) |")
    say("|---|---:|---:|")
    for i, (name, v) in enumerate(figs):
        say("| %s | %.0f | %s |" % (name, v, "-" if i == 0 else "%.2fx" % (ours / v)))
    say("")
