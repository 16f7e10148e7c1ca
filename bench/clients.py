"""make bench: running the measured clients, each in a fresh process, and
reading what they print (key=value lines)."""
import os
import re
import subprocess
import threading
import time

from settings import BIN, ENV, PY, ROOT


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


def easy(mode, url, n, secs, *extra):
    """bench/http_clients.c in `mode` (easy, multi, spawn; easyh and multih
    take the User-Agent as `extra`)."""
    out = run([os.path.join(BIN, "http_clients"), mode, url, n, str(secs)] + list(extra), secs + 60)
    a = out.split()
    return {"requests": float(a[0]), "wall": float(a[1]), "cpu": float(a[2])}


def default_user_agent():
    """The User-Agent the module sends when none is configured, read from its
    source so that the C baseline sends the very same header."""
    with open(os.path.join(ROOT, "src", "options_table.h")) as f:
        m = re.search(r'^#define OMH_DEFAULT_USER_AGENT "([^"\\]*)"$', f.read(), re.M)
    if not m:
        raise SystemExit("bench: no OMH_DEFAULT_USER_AGENT string in src/options_table.h")
    return m.group(1)


def easy_py(port, secs):
    """bench/pyclient.py."""
    out = run([PY, "bench/pyclient.py", str(port), "/v2/video/generations?generation_id=x",
               "100000000", str(secs)], secs + 30)
    a = out.split()
    return {"requests": float(a[0]), "wall": float(a[1]), "cpu": float(a[2])}


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
    """run() with a ConnSampler on the client; returns (stdout, sampler)."""
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


def make_png(path, size):
    """A `size`-byte PNG (2048x2048 header, random bytes after it) at path."""
    import struct
    import zlib
    sig = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", 2048, 2048, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    head = sig + chunk
    with open(path, "wb") as f:
        f.write(head)
        f.write(os.urandom(size - len(head)))
