"""make bench: the local servers (nginx, bench/fastserver.py) on 127.0.0.1,
each with a watchdog that stops it if the driver dies, all stopped at the end."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time

from settings import ENV, PY, ROOT

CHILDREN = []  # server processes to stop
STATUS_JSON = '{"id":"x","status":"queued","video":null,"error":null}'  # nginx's one answer


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


def stop_all():
    for p in CHILDREN:
        stop(p)


def nginx_prefix(tmp, name):
    """A fresh nginx prefix directory (logs/, tmp/) under tmp."""
    prefix = os.path.join(tmp, name)
    for d in ("logs", "tmp"):
        os.makedirs(os.path.join(prefix, d), exist_ok=True)
    return prefix


def temp_paths(prefix):
    """nginx's temporary directories, inside prefix (its built-in ones may not
    be writable), as lines of an http block."""
    return "\n".join("  %s_temp_path %s/tmp/%s;" % (name, prefix, d) for name, d in (
        ("client_body", "body"), ("proxy", "proxy"), ("fastcgi", "fastcgi"), ("uwsgi", "uwsgi"), ("scgi", "scgi")))


def run_nginx(prefix, conf_text, port, limit=900, env=None):
    """Starts nginx on prefix with conf_text (its `user root;` line, when
    needed, is added here) and waits for port. Returns the process."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        raise SystemExit("bench: nginx not found (apt-get install -y nginx-light)")
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(("user root;\n" if os.geteuid() == 0 else "") + conf_text)
    proc = subprocess.Popen([nginx, "-p", prefix, "-c", conf, "-e", os.path.join(prefix, "logs/error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    CHILDREN.append(proc)
    watchdog(proc, limit)
    wait_port(port, proc)
    return proc


NGINX_CONF = """daemon off;
worker_processes 1;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_timeout 120s;
  keepalive_requests 10000000;
  client_max_body_size 256m;
%(temp_paths)s
  server {
    listen 127.0.0.1:%(port)d;
    location / {
      default_type application/json;
      return 200 '%(json)s';
    }
  }
}
"""


def start_nginx(tmp):
    """nginx answering STATUS_JSON to every request (benchmarks 1, 3, 4)."""
    port = free_port()
    prefix = nginx_prefix(tmp, "nginx")
    conf = NGINX_CONF % {"prefix": prefix, "temp_paths": temp_paths(prefix), "port": port, "json": STATUS_JSON}
    proc = run_nginx(prefix, conf, port)
    return proc, port


def start_fast(tmp, polls):
    """bench/fastserver.py: a job completes at status check #polls."""
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
