#include "input_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "media.h"

#define HEAD 4096

int omh_input_open(const char *path) {
  /* O_NONBLOCK: opening a FIFO with no writer (or a tty) must not hang the
   * loop; it has no effect on reads of a regular file. */
  return open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
}

static const char *kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  if (S_ISSOCK(m)) return "a socket";
  return "not an ordinary file";
}

static long long fd_read_at(void *ud, uint64_t off, unsigned char *buf, size_t n) {
  int fd = *(const int *)ud;
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += (size_t)r;
  }
  return (long long)got;
}

/* A clip's duration against the limit in force (none: 0). */
static int duration_ok(int fd, omh_media_type t, uint64_t size, const omh_input_rules *r, char *why,
                       size_t cap) {
  if (r->max_seconds <= 0) return 1;
  omh_media_src src = {fd_read_at, &fd, size};
  double secs = omh_media_measure(&src, t);
  const char *model = r->model ? r->model : "?", *what = omh_media_is_audio(t) ? "audio" : "video";
  if (secs == OMH_MEDIA_READ_ERROR) {
    snprintf(why, cap, "cannot be read: %s", errno ? strerror(errno) : "out of memory");
    return 0;
  }
  if (secs < 0) {
    if (r->allow_unmeasured) return 1;
    snprintf(why, cap,
             "its duration cannot be read from the file (a truncated or unusual %s), so the"
             " %g s limit for %s cannot be checked before paying; pass allow_unmeasured_audio"
             " = true (omnihuman.new, create or generate) to send it unchecked",
             t == OMH_MEDIA_WAV ? "header" : "file", r->max_seconds, model);
    return 0;
  }
  if (secs < r->max_seconds) return 1;
  if (r->limit_from) {
    snprintf(why, cap,
             "audio is %.1f s long; max_audio_seconds of the %s allows clips under %g s for %s"
             " (set it on omnihuman.new, create or generate, or --max-audio-seconds)",
             secs, r->limit_from, r->max_seconds, model);
  } else {
    snprintf(why, cap,
             "%s is %.1f s long; the service takes clips under %g s for %s (%s; if it takes"
             " longer ones now, set max_audio_seconds on omnihuman.new, create or generate, or"
             " --max-audio-seconds)",
             what, secs, r->max_seconds, model, r->limit_note ? r->limit_note : "its documented limit");
  }
  return 0;
}

static const char *const kind_names[] = {"image", "audio", "video", "file"};

int omh_input_kind_of(const char *name) {
  for (int k = 0; k < 4; k++)
    if (strcmp(name, kind_names[k]) == 0) return k;
  return -1;
}

static int kind_matches(omh_input_kind kind, omh_media_type t) {
  switch (kind) {
    case OMH_KIND_IMAGE:
      return omh_media_is_image(t);
    case OMH_KIND_AUDIO:
      /* An ISO BMFF file of a movie brand holding only sound is still audio. */
      return omh_media_is_audio(t) || t == OMH_MEDIA_MP4;
    case OMH_KIND_VIDEO:
      return omh_media_is_video(t);
    default:
      return t != OMH_MEDIA_UNKNOWN;
  }
}

static const char *const kind_wanted[] = {
    "not a recognised image (PNG, JPEG, WebP, GIF, AVIF)",
    "not a recognised audio file (WAV, MP3, OGG, M4A/AAC)",
    "not a recognised video (MP4, MOV, WebM)",
    "not a recognised image, audio or video file",
};

int omh_input_check(const char *path, omh_input_kind kind, const omh_input_rules *r, omh_input_file *out,
                    char *why, size_t cap) {
  unsigned char head[HEAD];
  struct stat st;
  int ok = 0;
  int fd = omh_input_open(path);
  if (fd < 0) {
    snprintf(why, cap, "%s", strerror(errno));
    return 0;
  }
  if (fstat(fd, &st) != 0) {
    snprintf(why, cap, "%s", strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    snprintf(why, cap, "not a regular file (%s)", kind_of(st.st_mode));
  } else if ((uint64_t)st.st_size > OMH_INPUT_MAX_BYTES) {
    double size = (double)st.st_size;
    int gib = size >= 1024.0 * 1024 * 1024;
    snprintf(why, cap,
             "%llu bytes (%.1f %s), more than the %llu bytes (%llu MiB) a local file may have:"
             " it would be sent inline as base64; host it and pass a URL instead",
             (unsigned long long)st.st_size, size / (gib ? 1024.0 * 1024 * 1024 : 1024.0 * 1024),
             gib ? "GiB" : "MiB", (unsigned long long)OMH_INPUT_MAX_BYTES,
             (unsigned long long)(OMH_INPUT_MAX_BYTES >> 20));
  } else if (r->max_bytes && (uint64_t)st.st_size > r->max_bytes) {
    snprintf(why, cap, "%llu bytes; model %s takes at most %llu bytes (%.1f MiB) for %s",
             (unsigned long long)st.st_size, r->model ? r->model : "?", (unsigned long long)r->max_bytes,
             (double)r->max_bytes / 1048576.0, r->field ? r->field : "this field");
  } else {
    long long got = fd_read_at(&fd, 0, head, sizeof head);
    omh_media_type t = got < 0 ? OMH_MEDIA_UNKNOWN : omh_media_sniff(head, (size_t)got);
    if (got < 0) {
      snprintf(why, cap, "cannot be read: %s", strerror(errno));
    } else if (!kind_matches(kind, t)) {
      snprintf(why, cap, "%s%s%s", kind_wanted[kind], t == OMH_MEDIA_UNKNOWN ? "" : ": it is ",
               t == OMH_MEDIA_UNKNOWN ? "" : omh_media_name(t));
    } else if (omh_media_is_image(t) || duration_ok(fd, t, (uint64_t)st.st_size, r, why, cap)) {
      out->size = (uint64_t)st.st_size;
      out->dev = (uint64_t)st.st_dev;
      out->ino = (uint64_t)st.st_ino;
      out->mtime_sec = (int64_t)st.st_mtim.tv_sec;
      out->mtime_nsec = st.st_mtim.tv_nsec;
      /* An MP4 sent as audio keeps an audio type. */
      out->mime = kind == OMH_KIND_AUDIO && t == OMH_MEDIA_MP4 ? "audio/mp4" : omh_media_mime(t);
      ok = 1;
    }
  }
  close(fd);
  return ok;
}

int omh_input_compare(const omh_input_file *f, const struct stat *st, char *why, size_t cap) {
  if (!S_ISREG(st->st_mode)) {
    snprintf(why, cap, "now %s", kind_of(st->st_mode));
  } else if ((uint64_t)st->st_dev != f->dev || (uint64_t)st->st_ino != f->ino) {
    snprintf(why, cap, "replaced by another file");
  } else if ((uint64_t)st->st_size != f->size) {
    snprintf(why, cap, "size %llu -> %llu bytes", (unsigned long long)f->size,
             (unsigned long long)st->st_size);
  } else if ((int64_t)st->st_mtim.tv_sec != f->mtime_sec || st->st_mtim.tv_nsec != f->mtime_nsec) {
    snprintf(why, cap, "modification time changed");
  } else {
    return 0;
  }
  return -1;
}
