#!/usr/bin/env python3
"""Pins what the model table is made from: reads a local copy of
docs/api-references/video-models of aimlapi/api-docs and writes, for each
reference file that documents POST /v2/video/generations, only the parts
tools/models/extract.py reads (the request schema's rules, no prose), under
the same relative path. The pinned copy is committed (models/reference/), so
a spec can regenerate models/catalogue.json from it offline.

  python3 tools/models/pin.py DOCS OUT
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extract import KEEP  # noqa: E402  (the rules the extractor keeps)

WALK = ("anyOf", "oneOf", "items", "properties")


def trim(schema):
    if not isinstance(schema, dict):
        return schema
    out = {k: schema[k] for k in KEEP if k in schema}
    for k in WALK:
        if k not in schema:
            continue
        v = schema[k]
        if k == "properties":
            out[k] = {name: trim(sub) for name, sub in v.items()}
        elif isinstance(v, list):
            out[k] = [trim(sub) for sub in v]
        else:
            out[k] = trim(v)
    return out


def main():
    root, dest = sys.argv[1], sys.argv[2]
    for dirpath, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if not name.endswith(".json"):
                continue
            path = os.path.join(dirpath, name)
            try:
                with open(path, encoding="utf-8") as f:
                    doc = json.load(f)
            except ValueError:
                continue
            post = doc.get("paths", {}).get("/v2/video/generations", {}).get("post")
            if not post:
                continue
            body = post["requestBody"]["content"]["application/json"]
            pinned = {"paths": {"/v2/video/generations": {"post": {"requestBody": {"content": {
                "application/json": {"schema": trim(body["schema"])}}}}}}}
            out = os.path.join(dest, os.path.relpath(path, root))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "w", encoding="utf-8") as f:
                json.dump(pinned, f, indent=1, sort_keys=True)
                f.write("\n")


if __name__ == "__main__":
    main()
