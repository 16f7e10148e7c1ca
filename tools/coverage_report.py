#!/usr/bin/env python3
"""Prints the coverage figures `make coverage` measured.

  tools/coverage_report.py LUAC LUA_HITS OBJ_DIR

Lua: the executable lines of each file under lua/omnihuman/ (those luac's
listing gives an instruction for) against the lines the run's line hook saw
(spec/support/coverage.lua). C: gcov's count of lines executed in src/*.c
for the objects in OBJ_DIR (built with --coverage). Generated files
(models_data.lua) and LuaCATS-only files are left out.
"""
import glob
import os
import re
import subprocess
import sys

SKIP = ("lua/omnihuman/models_data.lua", "lua/omnihuman/types_meta.lua", "lua/omnihuman/core_meta.lua")


def lua_lines(luac, path):
    out = subprocess.run([luac, "-l", "-l", "-p", path], capture_output=True, text=True).stdout
    return {int(m.group(1)) for m in re.finditer(r"^\s*\d+\s+\[(\d+)\]", out, re.M)}


def main():
    luac, hits_file, obj_dir = sys.argv[1:4]
    hits = {}
    if os.path.exists(hits_file):
        with open(hits_file) as f:
            for line in f:
                path, _, n = line.rstrip("\n").partition("\t")
                hits.setdefault(os.path.relpath(path), set()).add(int(n))
    total = ran = 0
    rows = []
    for path in sorted(glob.glob("lua/omnihuman/**/*.lua", recursive=True)):
        if path in SKIP:
            continue
        lines = lua_lines(luac, path)
        seen = lines & hits.get(path, set())
        total += len(lines)
        ran += len(seen)
        rows.append((path, len(seen), len(lines)))
    for path, a, b in rows:
        print("  %-45s %5.1f%% of %d lines" % (path, 100.0 * a / b if b else 100.0, b))
    print("coverage lua: %.1f%% of %d executable lines of lua/omnihuman/ (this process only; CLI children not counted)"
          % (100.0 * ran / total if total else 0, total))
    srcs = sorted(glob.glob("src/*.c"))
    out = subprocess.run(["gcov", "-n", "-o", obj_dir] + srcs, capture_output=True, text=True).stdout
    c_total = c_ran = 0.0
    for m in re.finditer(r"File '(src/[^']+\.c)'\nLines executed:([\d.]+)% of (\d+)", out):
        n = int(m.group(3))
        c_total += n
        c_ran += float(m.group(2)) * n / 100.0
    print("coverage c: %.1f%% of %d lines of src/*.c (the core module; src/ledger/ not built with coverage)"
          % (100.0 * c_ran / c_total if c_total else 0, c_total))


if __name__ == "__main__":
    main()
