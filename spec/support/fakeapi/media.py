"""Sandbox media: a job whose image and audio came as data URIs gets a real
MP4 (the still image with the audio, no lip-sync) made by ffmpeg."""

import base64
import binascii
import os
import subprocess
import threading
import urllib.parse


def prepare_media(app, job, image_url, audio_url):
    """Sandbox: start making a real MP4 from data-URI image and audio."""
    if not (app.ffmpeg and app.tmpdir and isinstance(image_url, str) and isinstance(audio_url, str)):
        return
    img = decode_data_uri(image_url)
    aud = decode_data_uri(audio_url)
    if img is None or aud is None:
        return
    d = os.path.join(app.tmpdir, job.uuid)
    try:
        os.mkdir(d)
        ipath = os.path.join(d, "image" + media_ext(img[0]))
        apath = os.path.join(d, "audio" + media_ext(aud[0]))
        with open(ipath, "wb") as f:
            f.write(img[1])
        with open(apath, "wb") as f:
            f.write(aud[1])
    except OSError as e:
        app.log("sandbox: cannot write media: %s" % e)
        return
    job.media_dir = d
    job.video_ready = threading.Event()
    t = threading.Thread(target=render, args=(app, job, ipath, apath, d), daemon=True)
    t.start()


def render(app, job, ipath, apath, d):
    out = os.path.join(d, "video.mp4")
    cmd = [app.ffmpeg, "-nostdin", "-y", "-loglevel", "error",
           "-loop", "1", "-framerate", "25", "-i", ipath, "-i", apath,
           "-vf", "scale=trunc(min(iw\\,1280)/2)*2:-2,format=yuv420p",
           "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
           "-shortest", "-fflags", "+shortest", "-max_interleave_delta", "100M", "-t", "60", "-movflags", "+faststart", out]
    try:
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=180)
        if r.returncode == 0 and os.path.getsize(out) > 0:
            job.video_path = out
        else:
            app.log("sandbox: ffmpeg failed, serving the fixture instead: %s"
                    % r.stderr.decode(errors="replace").strip()[-500:])
    except (OSError, subprocess.SubprocessError) as e:
        app.log("sandbox: ffmpeg failed, serving the fixture instead: %s" % e)
    finally:
        job.video_ready.set()


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


def media_ext(mime):
    return {
        "image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/webp": ".webp",
        "image/gif": ".gif", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav",
        "audio/vnd.wave": ".wav", "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/ogg": ".ogg",
        "audio/mp4": ".m4a", "audio/m4a": ".m4a", "audio/x-m4a": ".m4a", "audio/aac": ".aac",
    }.get(mime, ".bin")
