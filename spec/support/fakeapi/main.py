"""The command line of server.py: options, the two listeners, the startup
line on stdout, and the watch that ends the process."""

import argparse
import faulthandler
import json
import os
import signal
import ssl
import sys
import threading
import time

from .answers import FLAVORS
from .handler import make_server
from .state import App


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def raise_fd_limit():
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else 65536
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):
        pass


def main(argv=None):
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid>: dump every thread's stack
    p = argparse.ArgumentParser(description="Fake AI/ML API (OmniHuman video generation) for tests.")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve the API over HTTPS")
    p.add_argument("--key", help="the only API key accepted (default: any non-empty key)")
    p.add_argument("--sandbox", action="store_true",
                   help="offline sandbox: time-based progress, creates checked against the model table, "
                        "real MP4s with ffmpeg (no lip-sync)")
    p.add_argument("--flavor", choices=sorted(FLAVORS), default="current",
                   help="which documented generation of the service to play (default: current)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="API port (0: chosen by the OS)")
    p.add_argument("--cdn-port", type=int, default=0, help="CDN/control port (0: chosen by the OS)")
    p.add_argument("--lifetime", type=float, default=None,
                   help="exit after this many seconds (0: never; default 900, never with --sandbox)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    p.add_argument("--watch-pid", type=int, default=None, metavar="PID",
                   help="exit when process PID is gone (instead of watching the parent process)")
    args = p.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_signal)

    lifetime = args.lifetime if args.lifetime is not None else (0 if args.sandbox else 900)

    raise_fd_limit()
    threading.stack_size(1 << 20)
    app = App(args)

    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(args.tls[0], args.tls[1])
        except (OSError, ssl.SSLError) as e:
            sys.exit("server.py: cannot load TLS cert/key: %s" % e)
        ctx.set_alpn_protocols(["http/1.1"])
    try:
        api = make_server(app, "api", args.host, args.port, ctx)
        cdn = make_server(app, "cdn", args.host, args.cdn_port, None)
    except OSError as e:
        sys.exit("server.py: cannot listen: %s" % e)
    host = args.host if ":" not in args.host else "[%s]" % args.host
    app.api_url = "%s://%s:%d" % ("https" if ctx else "http", host, api.server_address[1])
    app.cdn_url = "http://%s:%d" % (host, cdn.server_address[1])

    for srv in (api, cdn):
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True).start()

    try:
        sys.stdout.write(json.dumps({"api": app.api_url, "cdn": app.cdn_url, "pid": os.getpid(),
                                     "flavor": app.flavor, "profile": app.profile}) + "\n")
        sys.stdout.flush()
    except OSError:
        pass
    if args.sandbox:
        how = ("real MP4s via ffmpeg: your image or video, else a test pattern, with your audio"
               if app.ffmpeg else "ffmpeg not found: every result is the fixture video")
        how += ("; creates checked against the rules of %d models" % len(app.models) if app.models
                else "; model table not found: creates are not checked")
        sys.stderr.write("omnihuman sandbox: OMNIHUMAN_BASE_URL=%s/v2 (%s; %s; jobs finish in ~6 s; "
                         "%s; answers as the %s API reference; NO lip-sync, this is not the real service)\n"
                         % (app.api_url,
                            "API key must be %r" % args.key if args.key else "any API key works",
                            "TLS: trust %s" % args.tls[0] if args.tls else "plain HTTP",
                            how, app.flavor))
        sys.stderr.flush()

    ppid = os.getppid()
    deadline = time.monotonic() + lifetime if lifetime and lifetime > 0 else None
    while not stop.wait(1.0):
        if args.watch_pid:
            if not pid_alive(args.watch_pid):
                break
        elif os.getppid() != ppid:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
    for srv in (api, cdn):
        try:
            srv.socket.close()
        except OSError:
            pass
    app.cleanup()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(0)
