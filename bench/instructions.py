"""make bench, benchmark 7: instructions per sequential status check, counted
by valgrind's callgrind (user space only: the kernel's share is the same
system calls for every client). Unlike requests/s on a shared machine, the
count moves by well under 1 % between runs: the steady figure for what our
own per-request work costs. Each client runs twice, with N1 and N2 requests
after the same warm-up; (instructions at N2 - at N1) / (N2 - N1) removes
start-up and warm-up. The floor is the libcurl easy handle sending the same
two request headers; the peers (bench/peers.py) run in the same benchmark.
Skipped, with a note, without valgrind."""
import os
import re
import shutil
import subprocess

import peers
from clients import default_user_agent
from report import say, target
from settings import BIN, ENV, ROOT

N1, N2 = 500, 2500
IREFS = re.compile(r"I\s+refs:\s+([\d,]+)")
FLOOR = "libcurl easy + the same request headers (C): the floor"


def count(cmd, env):
    p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + cmd, env=env,
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    m = IREFS.search(p.stderr)
    if p.returncode != 0 or not m:
        raise SystemExit("bench: callgrind of %s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stderr[-2000:]))
    return int(m.group(1).replace(",", ""))


def per_request(make_cmd, env):
    a, b = count(make_cmd(N1), env), count(make_cmd(N2), env)
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
    rows = [(name, (lambda i: lambda n: peers.ours_cmd(i, base, n, 600))(interp), env)
            for name, interp, env in peers.ours()]
    rows += [
        (FLOOR, lambda n: [http, "easyh", url, str(n), "600", ua], ENV),
        ("libcurl easy, no custom headers (C)", lambda n: [http, "easy", url, str(n), "600"], ENV),
        # The same handle and headers driven as our loop drives curl (multi_socket + epoll, added and
        # removed per request): what a non-blocking design costs before any work of a client's own.
        ("libcurl multi_socket+epoll + the same request headers (C, diagnostic)",
         lambda n: [http, "multih", url, str(n), "600", ua], ENV),
    ]
    rows += [(name, (lambda i, lib: lambda n: peers.poll_cmd(i, lib, url, n, 600, ua))(interp, lib), env)
             for name, interp, env, lib in peers.peers()]
    figs = [(name, per_request(cmd, env)) for name, cmd, env in rows]
    ours = figs[0][1]
    floor = dict(figs)[FLOOR]
    say("(instructions at %d requests - at %d) / %d, after the same warm-up; every client sends "
        "Authorization and User-Agent but the bare easy handle" % (N2, N1, N2 - N1))
    say("")
    say("| client | instructions / check | vs the floor | vs lua-omnihuman (%s) |" % figs[0][0].split("(")[-1][:-1])
    say("|---|---:|---:|---:|")
    for name, v in figs:
        say("| %s | %.0f | %.2fx | %.2fx |" % (name, v, v / floor, v / ours))
    say("")
    peers.say_notes(say)
    for name, v in figs:
        if name.startswith("lua-omnihuman"):
            others = [w for n2, w in figs if not n2.startswith("lua-omnihuman") and not n2.startswith("libcurl")]
            target("7 %s: instructions per check <= 1.15x the floor" % name, v <= 1.15 * floor,
                   "%.0f vs %.0f = %.2fx" % (v, floor, v / floor))
            if others:
                target("7 %s: fewer instructions per check than every peer" % name, v < min(others),
                       "%.0f vs the cheapest peer's %.0f" % (v, min(others)))
