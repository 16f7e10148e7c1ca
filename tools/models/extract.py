#!/usr/bin/env python3
"""Stage 1 of the model table: reads a local copy of the service's public
API reference (the folder docs/api-references/video-models of the
aimlapi/api-docs repository) and writes the facts the library checks
creates against, one entry per model reached through POST
/v2/video/generations: each field's JSON-schema rules (type, enum, range,
lengths, array bounds, items, properties, required, alternatives) without
prose, plus which fields carry a file and of what kind, and the file the
facts came from. Prose limits are not read here: models/overrides.lua.

Usage: tools/models/extract.py DOCS_FOLDER > models/catalogue.json
"""
import json
import os
import re
import sys

KEEP = ("type", "enum", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
        "default", "nullable", "format", "required")


def kind_of(name):
    """What a file field carries, from its name (the docs name them so)."""
    n = (name or "").lower()
    if "audio" in n or "sound" in n or "voice" in n:
        return "audio"
    if "video" in n:
        return "video"
    if re.search(r"image|frame|img|mask|photo|keyframe", n):
        return "image"
    return "file"


def clean(schema, name):
    """The rules of one schema node, recursively, with file kinds marked."""
    out = {k: schema[k] for k in KEEP if k in schema}
    for alt in ("anyOf", "oneOf"):
        if alt in schema:
            out["anyOf"] = [clean(s, name) for s in schema[alt]]
    if "items" in schema:
        out["items"] = clean(schema["items"], name)
    if "properties" in schema:
        props = schema["properties"]
        # {type: "video", url: ...}: the url carries what its type names.
        t = props.get("type", {}).get("enum")
        typed = t[0] if isinstance(t, list) and len(t) == 1 and t[0] in ("image", "audio", "video") else None
        out["properties"] = {k: clean(v, typed if (k == "url" and typed) else k) for k, v in props.items()}
    # A URL field, by its format or (where the docs give none) by its name.
    named = re.search(r"_urls?$", name or "") is not None and kind_of(name) != "file"
    if out.get("type") == "string" and (out.get("format") == "uri" or named):
        out["file"] = kind_of(name)
    return out


def models_of(path):
    with open(path, encoding="utf-8") as f:
        try:
            doc = json.load(f)
        except ValueError:
            return []
    post = doc.get("paths", {}).get("/v2/video/generations", {}).get("post")
    if not post:
        return []
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    props = schema.get("properties", {})
    ids = props.get("model", {}).get("enum") or []
    fields = {k: clean(v, k) for k, v in props.items() if k != "model"}
    return [(m, {"fields": fields, "required": [r for r in schema.get("required", []) if r != "model"]})
            for m in ids]


def main():
    root = sys.argv[1]
    found = {}
    for dirpath, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if not name.endswith(".json") or name == "universal-video-fetch.json":
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            for model, entry in models_of(path):
                entry["source"] = "docs/api-references/video-models/" + rel
                old = found.get(model)
                # Two files for one model: the fuller one (then the later path) wins.
                if old is None or (len(entry["fields"]), entry["source"]) > (len(old["fields"]), old["source"]):
                    found[model] = entry
    json.dump({"source": "aimlapi/api-docs, docs/api-references/video-models", "models": found},
              sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
