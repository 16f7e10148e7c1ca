#!/usr/bin/env python3
"""make bench: lua-omnihuman against baselines, side by side, in one run.

Every server is started here on 127.0.0.1 (free ports picked by the kernel)
and stopped at the end; nothing else is ever contacted. Every loop is
bounded in count and in time. Environment knobs:

  BENCH_ONLY=1,2,3,4,6,7,8,9 which benchmarks (default: all; 5, OpenResty, is bench/openresty.py)
  BENCH_SECS=1.5       seconds per sequential-client measurement
  BENCH_ROUNDS=5       rounds of the sequential clients, interleaved; the best
                       round of each client is reported (least disturbed by
                       other load), the median next to it
  BENCH_JOBS=1000,5000,10000   sizes of the concurrency benchmark
  BENCH_IDLE_SECS=30   idle window
  BENCH_UPLOADS=200,1000   sizes of the concurrent-upload benchmark (5 MB image each)
  BENCH_WAIT_JOBS=1000 BENCH_WAIT_SECS=10   the waiting benchmark (8): jobs, window
  LUA=lua5.4 BUILD=build/lua5.4   interpreter and module build

One module per job: settings.py (knobs, paths, environment), servers.py,
clients.py (running the measured processes), report.py, and one module per
benchmark (sequential, concurrency, idle, upload, uploads, instructions).
"""
import os
import shutil
import tempfile
import time

from clients import run
from concurrency import bench_concurrency
from idle import bench_idle
from instructions import bench_instructions
from report import say, say_targets, write
from sequential import bench_sequential
from servers import start_nginx, stop_all
from settings import LUA, ONLY
from upload import bench_upload
from uploads import bench_uploads
from uploads_peers import bench_uploads_peers
from waiting import bench_waiting


def main():
    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="omnihuman-bench.")
    say("# lua-omnihuman benchmarks")
    say("")
    say("%s; %s; %d CPUs; %s" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), LUA,
                                os.cpu_count(), run(["curl", "--version"], 10).splitlines()[0]))
    say("")
    try:
        if ONLY & {"1", "3", "4", "7", "8"}:
            _, nport = start_nginx(tmp)
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
        if "7" in ONLY:
            bench_instructions(nport)
        if "8" in ONLY:
            bench_waiting(nport)
        if "9" in ONLY:
            bench_uploads_peers(tmp)
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    say("## Targets")
    say("")
    say_targets()
    say("")
    say("total bench time %.0f s" % (time.monotonic() - t_start))
    write("results.md")


if __name__ == "__main__":
    main()
