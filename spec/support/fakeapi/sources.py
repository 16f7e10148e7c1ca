"""Sandbox: what a create gives to make its clip from. Every file a create
carries (data: URIs, and URLs on this machine's loopback: the sandbox is
offline) is found wherever it sits (single fields, arrays, nested objects),
its kind (image, video, audio) told by its MIME type or its field's name,
and written to a file when the clip is made."""

import base64
import binascii
import ipaddress
import os
import ssl
import urllib.parse
import urllib.request

MAX_FETCH = 64 << 20          # bytes taken from a loopback URL
FETCH_TIMEOUT = 15            # seconds per loopback URL
MAX_TRIES = 4                 # candidates of one kind tried before giving up

# The first image a model is given: its first frame, then reference images;
# last/tail frames and masks only when nothing else is there.
IMAGE_ORDER = ("image_url", "first_frame_image", "first_frame_url", "frontal_image_url", "image_urls",
               "image_list", "reference_image_urls", "reference_images", "reference_image_url",
               "keyframes", "character")
VIDEO_ORDER = ("video_url", "video_urls", "character", "reference")
AUDIO_ORDER = ("audio_url", "audio_urls")
LATE = ("last", "tail", "mask", "alpha", "end")


def decode_data_uri(s):
    """'data:<mime>[;params][;base64],<data>' -> (mime, bytes) or None."""
    if not isinstance(s, str) or not s.startswith("data:"):
        return None
    head, sep, data = s.partition(",")
    if not sep:
        return None
    params = head[5:].split(";")
    mime = params[0].strip().lower()
    try:
        if "base64" in [p.strip().lower() for p in params[1:]]:
            return mime, base64.b64decode(data, validate=False)
        return mime, urllib.parse.unquote_to_bytes(data)
    except (binascii.Error, ValueError):
        return None


def data_uri_mime(s):
    head = s[5:s.find(",")] if "," in s else ""
    return head.split(";")[0].strip().lower()


def loopback(s):
    """Is s an http(s) URL on this machine?"""
    try:
        u = urllib.parse.urlsplit(s)
        if u.scheme not in ("http", "https") or not u.hostname:
            return False
        return u.hostname == "localhost" or ipaddress.ip_address(u.hostname).is_loopback
    except ValueError:
        return False


def kind_by_name(name, sibling_type):
    n = name.lower()
    for k in ("video", "audio"):
        if k in n:
            return k
    if any(k in n for k in ("image", "frame", "mask", "picture", "photo")):
        return "image"
    if sibling_type in ("image", "video", "audio"):
        return sibling_type
    return None


def kind_of(value, name, sibling_type):
    if value.startswith("data:"):
        major = data_uri_mime(value).split("/")[0]
        if major in ("image", "video", "audio"):
            return major
    return kind_by_name(name, sibling_type)


def rank(top, kind):
    order = {"image": IMAGE_ORDER, "video": VIDEO_ORDER, "audio": AUDIO_ORDER}[kind]
    late = any(w in top.lower() for w in LATE)
    return (late, order.index(top) if top in order else len(order), top)


def find_sources(req):
    """{kind: [value, ...]} for kind image, video, audio: the usable files
    of a create, best first (see IMAGE_ORDER, VIDEO_ORDER, AUDIO_ORDER)."""
    found = []

    def walk(v, top, name, sibling_type, depth):
        if depth > 6:
            return
        if isinstance(v, str):
            if v.startswith("data:") or loopback(v):
                kind = kind_of(v, name, sibling_type)
                if kind:
                    found.append((rank(top, kind), len(found), kind, v))
        elif isinstance(v, list):
            for x in v[:16]:
                walk(x, top, name, sibling_type, depth + 1)
        elif isinstance(v, dict):
            t = v.get("type") if isinstance(v.get("type"), str) else sibling_type
            for k in sorted(v, key=str):
                walk(v[k], top, str(k), t, depth + 1)

    for top in sorted(req):
        if top != "model" and not top.startswith("sandbox_"):
            walk(req[top], top, top, None, 0)
    found.sort()
    out = {"image": [], "video": [], "audio": []}
    for _, _, kind, v in found:
        out[kind].append(v)
    return out


def fetch(url):
    """The bytes at a loopback URL (None when it cannot be had)."""
    ctx = ssl._create_unverified_context() if url.startswith("https:") else None  # loopback only
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT, context=ctx) as r:
            data = r.read(MAX_FETCH + 1)
    except (OSError, ValueError):
        return None
    return data if 0 < len(data) <= MAX_FETCH else None


def materialize(values, d, stem):
    """Writes the first of values that can be had into d; its path or None."""
    for i, v in enumerate(values[:MAX_TRIES]):
        if v.startswith("data:"):
            got = decode_data_uri(v)
            data, ext = (got[1], media_ext(got[0])) if got else (None, "")
        else:
            data = fetch(v)
            ext = os.path.splitext(urllib.parse.urlsplit(v).path)[1][:8]
        if not data:
            continue
        path = os.path.join(d, "%s%d%s" % (stem, i, ext or ".bin"))
        try:
            with open(path, "wb") as f:
                f.write(data)
        except OSError:
            return None
        return path
    return None


def media_ext(mime):
    return {
        "image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/webp": ".webp",
        "image/gif": ".gif", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav",
        "audio/vnd.wave": ".wav", "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/ogg": ".ogg",
        "audio/mp4": ".m4a", "audio/m4a": ".m4a", "audio/x-m4a": ".m4a", "audio/aac": ".aac",
        "video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm",
    }.get(mime, ".bin")
