"""make bench: the peers, the Lua HTTP clients a user would pick instead of
lua-omnihuman (bench/peers.lua), and lua-omnihuman itself on each interpreter
that has a build. Each peer is listed only where it is installed; the others
are named in a note. Nothing here fetches or builds a peer.

  luacurl  Debian's lua-curl (the older Lua-cURL binding), Lua 5.1 ABI only:
           run with LuaJIT (or lua5.1)
  lcurl    Lua-cURLv3, when BENCH_LCURLV3 names a directory holding
           <interpreter>/lcurl.so (+ its cURL*.lua) built from its source
  luahttp  lua-http on cqueues (Debian packages its Lua files for 5.1-5.3;
           they run unchanged on 5.4 from there)
"""
import os
import shutil
import subprocess

from settings import ENV, LUA, ROOT, lua_env

LCURLV3 = os.environ.get("BENCH_LCURLV3", "")
# Debian installs lua-http's pure-Lua files for 5.1-5.3 only (lpeg_patterns,
# basexx, fifo, binaryheap for 5.1 only): searched after the interpreter's own.
HTTP_PATH = ";".join("/usr/share/lua/%s/?.lua;/usr/share/lua/%s/?/init.lua" % (v, v)
                     for v in ("5.4", "5.3", "5.1"))
NOTES = []


def _works(interp, env, code):
    if not shutil.which(interp):
        return False
    p = subprocess.run([interp, "-e", code], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
    return p.returncode == 0


def _env(cpath=None, path=None):
    env = dict(ENV)
    if cpath:
        env["LUA_CPATH"] = cpath + ";;"
    if path:
        env["LUA_PATH"] = env["LUA_PATH"] + ";" + path + ";;"
    return env


def ours():
    """(name, interpreter, env) of lua-omnihuman on LUA and, when built, LuaJIT."""
    rows = [("lua-omnihuman client:poll (%s)" % LUA, LUA, ENV)]
    jit = os.path.join(ROOT, "build", "luajit")
    if LUA != "luajit" and os.path.exists(os.path.join(jit, "omnihuman", "core.so")) and shutil.which("luajit"):
        rows.append(("lua-omnihuman client:poll (luajit)", "luajit", lua_env(ROOT, jit)))
    elif LUA != "luajit":
        NOTES.append("lua-omnihuman on LuaJIT: not built (make LUA=luajit)")
    return rows


def peers():
    """(name, interpreter, env, lib) of every peer installed here."""
    rows = []
    for interp in ("luajit", "lua5.1"):
        env = _env()
        if _works(interp, env, "require('curl').easy_init(); require('cjson')"):
            rows.append(("Debian lua-curl 0.3 + cjson (%s)" % interp, interp, env, "luacurl"))
            break
    else:
        NOTES.append("Debian lua-curl: not installed for LuaJIT/5.1 (apt-get install lua-curl)")
    if LCURLV3:
        for interp in (LUA, "luajit"):
            d = os.path.join(LCURLV3, interp)
            env = _env(cpath=os.path.join(d, "?.so"), path=os.path.join(d, "?.lua"))
            if _works(interp, env, "require('lcurl'); require('cjson')"):
                rows.append(("Lua-cURLv3 + cjson (%s)" % interp, interp, env, "lcurl"))
            else:
                NOTES.append("Lua-cURLv3 for %s: no %s/lcurl.so" % (interp, d))
    else:
        NOTES.append("Lua-cURLv3: not measured (BENCH_LCURLV3 unset: a directory with <interpreter>/lcurl.so "
                     "built from its source, see docs/bench.md)")
    env = _env(path=HTTP_PATH)
    if _works(LUA, env, "require('http.client'); require('cjson')"):
        rows.append(("lua-http + cqueues + cjson (%s)" % LUA, LUA, env, "luahttp"))
    else:
        NOTES.append("lua-http: not installed (apt-get install lua-http lua-cqueues)")
    return rows


def poll_cmd(interp, lib, url, n, secs, ua):
    return [interp, "bench/peers.lua", "poll", lib, url, str(n), str(secs), ua]


def ours_cmd(interp, base, n, secs):
    return [interp, "bench/client.lua", "poll", base, str(n), str(secs)]


def say_notes(say):
    for n in sorted(set(NOTES)):
        say("- not measured: " + n)
    if NOTES:
        say("")

