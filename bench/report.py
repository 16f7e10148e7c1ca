"""make bench: the report. Lines go to stdout as they come and are kept for
the Markdown file; targets are collected and listed at the end."""
import os

from settings import BIN

RESULTS = []   # lines of the report
TARGETS = []   # (name, ok, detail)


def say(line=""):
    print(line, flush=True)
    RESULTS.append(line)


def target(name, ok, detail):
    TARGETS.append((name, ok, detail))


def say_targets():
    for name, ok, detail in TARGETS:
        say("- [%s] %s: %s" % ("met" if ok else "MISSED", name, detail))


def write(filename):
    """Writes the report so far to build/bench/<filename>."""
    os.makedirs(BIN, exist_ok=True)
    with open(os.path.join(BIN, filename), "w") as f:
        f.write("\n".join(RESULTS) + "\n")
