"""Sandbox: each create checked against its model's rules in the model
table (models/catalogue.json), and refused as the service refuses a bad
request (400, "Body validation error: ..." naming the field) when it breaks
them. Fields the table does not list pass (the service ignores them), as do
the sandbox's own controls (sandbox_*) and models not in the table."""

import json
import math
import os
import re

# models/ sits at the repository's root, three folders up from here.
CATALOGUE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))), "models", "catalogue.json")
SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def load_models(path=CATALOGUE):
    """{model id: {"fields": {...}, "required": [...]}}; {} when unreadable
    (the sandbox then checks nothing)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    models = data.get("models") if isinstance(data, dict) else None
    return models if isinstance(models, dict) else {}


def show(v):
    return json.dumps(v)


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def same(a, b):
    """JSON equality: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def type_error(v, t, path):
    if t == "string":
        ok, want = isinstance(v, str), "a string"
    elif t == "integer":
        ok, want = is_number(v) and float(v).is_integer(), "an integer"
    elif t == "number":
        ok, want = is_number(v), "a number"
    elif t == "boolean":
        ok, want = isinstance(v, bool), "a boolean"
    elif t == "array":
        ok, want = isinstance(v, list), "an array"
    elif t == "object":
        ok, want = isinstance(v, dict), "an object"
    else:
        return None
    return None if ok else "%s must be %s (got %s)" % (path, want, show(v))


def check_value(v, r, path):
    """What is wrong with value v under rule r (None: nothing)."""
    if not isinstance(r, dict):
        return None
    alts = r.get("anyOf")
    if isinstance(alts, list) and alts:
        first = None
        for alt in alts:
            why = check_value(v, alt, path)
            if why is None:
                return None
            first = first or why
        return first
    if v is None:
        return None if r.get("nullable") or "type" not in r else "%s must not be null" % path
    why = type_error(v, r.get("type"), path)
    if why:
        return why
    enum = r.get("enum")
    if isinstance(enum, list) and not any(same(e, v) for e in enum):
        return "%s must be one of %s (got %s)" % (path, ", ".join(show(e) for e in enum), show(v))
    if is_number(v):
        lo, hi = r.get("minimum"), r.get("maximum")
        if is_number(lo) and v < lo:
            return "%s must be >= %s (got %s)" % (path, show(lo), show(v))
        if is_number(hi) and v > hi:
            return "%s must be <= %s (got %s)" % (path, show(hi), show(v))
    elif isinstance(v, str):
        return check_string(v, r, path)
    elif isinstance(v, list):
        return check_array(v, r, path)
    elif isinstance(v, dict):
        return check_object(v, r, path)
    return None


def check_size(n, lo, hi, path, unit):
    if isinstance(lo, int) and n < lo:
        return "%s must have at least %d %s (got %d)" % (path, lo, unit, n)
    if isinstance(hi, int) and n > hi:
        return "%s must have at most %d %s (got %d)" % (path, hi, unit, n)
    return None


def check_string(v, r, path):
    why = check_size(len(v), r.get("minLength"), r.get("maxLength"), path, "characters")
    if why is None and (r.get("file") or r.get("format") == "uri") and not SCHEME_RE.match(v):
        why = "%s must be a URL (got %s)" % (path, show(v[:80]))
    return why


def check_array(v, r, path):
    why = check_size(len(v), r.get("minItems"), r.get("maxItems"), path, "items")
    if why:
        return why
    items = r.get("items")
    for i, x in enumerate(v):
        why = check_value(x, items, "%s[%d]" % (path, i))
        if why:
            return why
    return None


def check_object(v, r, path):
    for name in r.get("required") or ():
        if v.get(name) is None:
            return "%s.%s is required" % (path, name)
    props = r.get("properties")
    if not isinstance(props, dict):
        return None
    for name in sorted(props):
        if name in v:
            why = check_value(v[name], props[name], "%s.%s" % (path, name))
            if why:
                return why
    return None


def check_create(model, req):
    """What is wrong with create req under model's rules (None: nothing).
    A field sent as null counts as not sent."""
    for name in model.get("required") or ():
        if req.get(name) is None and not name.startswith("sandbox_"):
            return "%s is required" % name
    fields = model.get("fields")
    if not isinstance(fields, dict):
        return None
    for name in sorted(fields):
        if name.startswith("sandbox_") or req.get(name) is None:
            continue
        why = check_value(req[name], fields[name], name)
        if why:
            return why
    return None
