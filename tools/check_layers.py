#!/usr/bin/env python3
"""The architecture's promises, checked on a build (make check-layers):
- no cycle in the link graph of src/ (which object defines the omh_ symbols
  each object uses) nor in the include graph of its headers;
- core.so exports luaopen_omnihuman_core and nothing else;
- no tracked source, spec or doc file over 500 lines.
Prints one line per check and "layers: N passed, N failed"."""
import collections
import glob
import os
import re
import subprocess
import sys

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build/lua5.4"
results = []


def check(ok, what):
    results.append(ok)
    print("%s %s" % ("ok  " if ok else "FAIL", what))


def cycles(graph):
    color, found = {}, []

    def dfs(u, stack):
        color[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if color.get(v) == 1:
                found.append(stack[stack.index(v):] + [v])
            elif not color.get(v):
                dfs(v, stack)
        stack.pop()
        color[u] = 2

    for u in sorted(graph):
        if not color.get(u):
            dfs(u, [])
    return found


def nm(path, *flags):
    return subprocess.run(["nm", *flags, path], capture_output=True, text=True, check=True).stdout.splitlines()


objs = sorted(glob.glob(os.path.join(BUILD, "obj", "*.o")))
defs, uses = {}, collections.defaultdict(set)
for o in objs:
    name = os.path.basename(o)[:-2]
    for line in nm(o):
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDRB" and parts[2].startswith("omh_"):
            defs[parts[2]] = name
        elif len(parts) == 2 and parts[0] == "U" and parts[1].startswith("omh_"):
            uses[name].add(parts[1])
link = collections.defaultdict(set)
for name, syms in uses.items():
    for s in syms:
        if s in defs and defs[s] != name:
            link[name].add(defs[s])
found = cycles(link)
check(objs and not found, "link graph of %d objects, %d edges: %s" % (
    len(objs), sum(len(v) for v in link.values()), "no cycle" if not found else "cycles %s" % found))

includes = {}
for h in glob.glob("src/*.h"):
    text = open(h, encoding="utf-8").read()
    includes[os.path.basename(h)] = set(re.findall(r'#include "([^"]+)"', text))
found = cycles(includes)
check(not found, "include graph of %d headers: %s" % (len(includes), "no cycle" if not found else found))

so = os.path.join(BUILD, "omnihuman", "core.so")
exported = [l.split()[-1] for l in nm(so, "-D", "--defined-only") if l.split()[-2] in "TDRBVW"]
check(exported == ["luaopen_omnihuman_core"], "core.so exports %s" % ", ".join(exported))

files = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout.split()
big = []
for f in files:
    if not re.search(r"\.(c|h|lua|py|sh|md|mk|txt)$|^bin/|Makefile$", f):
        continue
    try:
        with open(f, encoding="utf-8") as fh:
            n = sum(1 for _ in fh)
    except (OSError, UnicodeDecodeError):
        continue
    if n > 500:
        big.append("%s (%d)" % (f, n))
check(not big, "no file over 500 lines%s" % (": " + ", ".join(big) if big else ""))

print("layers: %d passed, %d failed" % (results.count(True), results.count(False)))
sys.exit(0 if all(results) else 1)
