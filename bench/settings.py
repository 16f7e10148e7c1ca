"""make bench: the knobs (environment), paths and the clients' environment,
shared by every benchmark module (see bench/run.py for the knobs)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUA = os.environ.get("LUA", "lua5.4")
BUILD = os.environ.get("BUILD", "build/" + LUA)
BIN = os.path.join(ROOT, "build", "bench")
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
ONLY = set(os.environ.get("BENCH_ONLY", "1,2,3,4,6,7,8,9").split(","))
SECS = float(os.environ.get("BENCH_SECS", "1.5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
JOBS = [int(x) for x in os.environ.get("BENCH_JOBS", "1000,5000,10000").split(",")]
IDLE_SECS = float(os.environ.get("BENCH_IDLE_SECS", "30"))
UPLOADS = [int(x) for x in os.environ.get("BENCH_UPLOADS", "200,1000").split(",")]
WAIT_JOBS = int(os.environ.get("BENCH_WAIT_JOBS", "1000"))
WAIT_SECS = float(os.environ.get("BENCH_WAIT_SECS", "10"))
# The core before create bodies were streamed (mk/bench.mk builds it from git).
BASELINE = os.path.join(ROOT, "build", "bench", "baseline")
BASELINE_REV = os.environ.get("BENCH_BASELINE_REV", "d646adc")


def lua_env(tree, cpath):
    """The environment with the Lua facade from `tree` and the core from `cpath`
    (a directory holding omnihuman/core.so), and no proxy."""
    env = dict(os.environ)
    env["LUA_PATH"] = os.path.join(tree, "lua/?.lua") + ";" + os.path.join(tree, "lua/?/init.lua") + ";;"
    env["LUA_CPATH"] = os.path.join(cpath, "?.so") + ";;"
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(k, None)
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1"
    return env


ENV = lua_env(ROOT, os.path.join(ROOT, BUILD))


def core_env(tree):
    """ENV with the module (core and facade) taken from another tree: the baseline."""
    return lua_env(tree, tree)


def have_baseline():
    return os.path.exists(os.path.join(BASELINE, "omnihuman", "core.so")) and \
        os.path.exists(os.path.join(BASELINE, "lua", "omnihuman", "init.lua"))
