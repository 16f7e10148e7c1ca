"""Sandbox media: every job (of any model) gets a real MP4 made by ffmpeg
while it is queued and generating: the create's first image (a still), else
its first video (its frames, looped), else a test pattern; with its first
audio, else silence; as long as the create asks (see clip_seconds)."""

import os
import subprocess
import threading

from .sources import find_sources, materialize

MAX_SECONDS = 30.0            # the longest clip the sandbox makes (OmniHuman audio is under 30 s)
MIN_SECONDS = 1.0
DEFAULT_SECONDS = 5.0         # no duration asked, none documented, no audio to follow
FFMPEG_TIMEOUT = 90           # seconds per ffmpeg run
RENDERS = threading.BoundedSemaphore(2)   # ffmpeg runs at once (the machine is shared)
RENDER_WAIT = 300             # seconds a job waits for its turn before giving up
PATTERN_SIZES = {"16:9": "640x360", "9:16": "360x640", "1:1": "480x480", "4:3": "480x360",
                 "3:4": "360x480", "21:9": "840x360"}


def seconds_of(v):
    """A duration as the create or the table writes it (5, 5.0, "5", "5s")."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        s = v.strip().rstrip("sS")
        try:
            return float(s)
        except ValueError:
            return None
    return None


def clip_seconds(req, model):
    """The clip's length: the create's duration, else the model's documented
    default, else None (the audio's length, or DEFAULT_SECONDS without
    audio); within MIN_SECONDS..MAX_SECONDS."""
    d = seconds_of(req.get("duration"))
    if d is None and model:
        rule = (model.get("fields") or {}).get("duration")
        d = seconds_of(rule.get("default")) if isinstance(rule, dict) else None
    if d is None or d != d:
        return None
    return min(MAX_SECONDS, max(MIN_SECONDS, d))


def prepare_media(app, job, req, model):
    """Sandbox: start making the job's MP4 (one render per job, off the
    request path). Without ffmpeg the job gets the fixture clip."""
    if not (app.ffmpeg and app.tmpdir):
        return
    d = os.path.join(app.tmpdir, job.uuid)
    try:
        os.mkdir(d)
    except OSError as e:
        app.log("sandbox: cannot make a media folder: %s" % e)
        return
    job.media_dir = d
    job.video_ready = threading.Event()
    t = threading.Thread(target=render, args=(app, job, req, model, d), daemon=True)
    t.start()


def render(app, job, req, model, d):
    try:
        if not RENDERS.acquire(timeout=RENDER_WAIT):
            app.log("sandbox: no turn to render within %d s, serving the fixture" % RENDER_WAIT)
            return
        try:
            make_clip(app, job, req, model, d)
        finally:
            RENDERS.release()
    except Exception as e:  # noqa: BLE001 - a render thread must always set video_ready
        app.log("sandbox: render failed, serving the fixture instead: %s" % e)
    finally:
        job.video_ready.set()


def make_clip(app, job, req, model, d):
    src = find_sources(req)
    seconds = clip_seconds(req, model)
    audio = materialize(src["audio"], d, "audio")
    visual = None
    for kind in ("image", "video"):
        path = materialize(src[kind], d, kind)
        if path:
            visual = (kind, path)
            break
    out = os.path.join(d, "video.mp4")
    tries = [visual, None] if visual else [None]
    for v in tries:        # a source ffmpeg cannot read: the test pattern instead
        err = run_ffmpeg(app, ffmpeg_args(app.ffmpeg, v, audio, seconds, req, out))
        if err is None:
            job.video_path = out
            return
        app.log("sandbox: ffmpeg failed%s: %s" % (" on the given %s" % v[0] if v else "", err))


def ffmpeg_args(ffmpeg, visual, audio, seconds, req, out):
    # -xerror: a source that does not decode ends the run (a looped broken
    # image would otherwise be retried until the time limit).
    cmd = [ffmpeg, "-nostdin", "-y", "-loglevel", "error", "-xerror"]
    if visual and visual[0] == "image":
        cmd += ["-loop", "1", "-framerate", "25", "-i", visual[1]]
    elif visual:
        cmd += ["-stream_loop", "-1", "-i", visual[1]]
    else:
        size = PATTERN_SIZES.get(str(req.get("aspect_ratio")), "640x360")
        cmd += ["-f", "lavfi", "-i", "testsrc=size=%s:rate=25" % size]
    if audio:
        cmd += ["-i", audio]
    else:
        cmd += ["-f", "lavfi", "-i", "anullsrc=channel_layout=stereo:sample_rate=44100"]
    cmd += ["-map", "0:v:0", "-map", "1:a:0",
            "-vf", "scale=trunc(min(iw\\,1280)/2)*2:-2,fps=25,format=yuv420p",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k"]
    if seconds is not None:
        if audio:
            cmd += ["-af", "apad"]     # a short audio is padded with silence
        cmd += ["-t", "%.3f" % seconds]
    elif audio:                         # no duration: the audio's length
        cmd += ["-shortest", "-fflags", "+shortest", "-max_interleave_delta", "100M",
                "-t", "%.3f" % MAX_SECONDS]
    else:
        cmd += ["-t", "%.3f" % DEFAULT_SECONDS]
    return cmd + ["-movflags", "+faststart", out]


def run_ffmpeg(app, cmd):
    """None when ffmpeg made a non-empty file, else why not (its last words:
    its messages go to a file, however many there are)."""
    out = cmd[-1]
    log = os.path.join(os.path.dirname(out), "ffmpeg.log")
    try:
        with open(log, "wb") as f:
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=f, timeout=FFMPEG_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as e:
        return str(e)[-300:]
    if r.returncode == 0 and os.path.exists(out) and os.path.getsize(out) > 0:
        return None
    try:
        with open(log, "rb") as f:
            f.seek(max(0, os.path.getsize(log) - 500))
            tail = f.read().decode(errors="replace").strip()
    except OSError:
        tail = ""
    return tail or "exit %d" % r.returncode
