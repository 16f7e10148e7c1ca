/* One local file named by a create: opened without ever blocking, checked
 * to be a regular file of a sendable size, sniffed, and (audio, MP4/MOV
 * video) measured against the model's limit. Pure C: the caller turns the reason into an
 * invalid_input error. */
#ifndef OMH_INPUT_FILE_H
#define OMH_INPUT_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Local files are sent inline (base64, 4/3 of the size): anything larger
 * than this has to be hosted and passed as a URL. */
#define OMH_INPUT_MAX_BYTES ((uint64_t)256 * 1024 * 1024)

/* What a file field carries: its file's sniffed content must be of it. */
typedef enum { OMH_KIND_IMAGE, OMH_KIND_AUDIO, OMH_KIND_VIDEO, OMH_KIND_ANY } omh_input_kind;

typedef struct omh_input_rules {
  const char *model;
  double max_seconds;     /* audio or video must be shorter than this; 0: no limit */
  const char *limit_from; /* "create" or "client" (max_audio_seconds), NULL: the model table */
  const char *limit_note; /* where a table limit comes from, for the message */
  int allow_unmeasured;   /* media whose duration cannot be read is sent anyway */
  uint64_t max_bytes;     /* the model's size limit for the field; 0: none */
  const char *field;      /* the field, for messages about the model's limits */
} omh_input_rules;

/* What was checked: a later send compares the file against it. */
typedef struct omh_input_file {
  uint64_t size, dev, ino;
  int64_t mtime_sec;
  long mtime_nsec;
  const char *mime; /* static string */
} omh_input_file;

/* Checks path as a file of the given kind. Returns 1, or 0 with the reason
 * (no file name in it) in why. */
int omh_input_check(const char *path, omh_input_kind kind, const omh_input_rules *r, omh_input_file *out,
                    char *why, size_t cap);

/* "image", "audio", "video" or "file" -> the kind; -1 for anything else. */
int omh_input_kind_of(const char *name);

/* 0 when st still describes the checked file (same file, size and
 * modification time); else writes what differs into why and returns -1. */
int omh_input_compare(const omh_input_file *f, const struct stat *st, char *why, size_t cap);

/* Opens path for reading without blocking (a FIFO, a device); -1 + errno. */
int omh_input_open(const char *path);

#endif
