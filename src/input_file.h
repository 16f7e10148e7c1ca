/* One local file named by a create: opened without ever blocking, checked
 * to be a regular file of a sendable size, sniffed, and (audio) measured
 * against the model's limit. Pure C: the caller turns the reason into an
 * invalid_input error. */
#ifndef OMH_INPUT_FILE_H
#define OMH_INPUT_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Local files are sent inline (base64, 4/3 of the size): anything larger
 * than this has to be hosted and passed as a URL. */
#define OMH_INPUT_MAX_BYTES ((uint64_t)256 * 1024 * 1024)

typedef struct omh_input_rules {
  const char *model;
  double max_audio_seconds; /* the limit in force: clips must be shorter */
  const char *limit_from;   /* "create" or "client" (max_audio_seconds), NULL: the model table */
  int model_known;          /* the model is in the table (else its default applies) */
  int allow_unmeasured;     /* audio whose duration cannot be read is sent anyway */
} omh_input_rules;

/* What was checked: a later send compares the file against it. */
typedef struct omh_input_file {
  uint64_t size, dev, ino;
  int64_t mtime_sec;
  long mtime_nsec;
  const char *mime; /* static string */
} omh_input_file;

/* Checks path as an image (audio = 0) or an audio clip. Returns 1, or 0
 * with the reason (no file name in it) in why. */
int omh_input_check(const char *path, int audio, const omh_input_rules *r, omh_input_file *out, char *why,
                    size_t cap);

/* 0 when st still describes the checked file (same file, size and
 * modification time); else writes what differs into why and returns -1. */
int omh_input_compare(const omh_input_file *f, const struct stat *st, char *why, size_t cap);

/* Opens path for reading without blocking (a FIFO, a device); -1 + errno. */
int omh_input_open(const char *path);

#endif
