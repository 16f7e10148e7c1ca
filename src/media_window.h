/* Internal to the media parsers: a bounded window over an omh_media_src and
 * the byte readers they share.
 *
 * Inputs are untrusted: every read is checked against the data end with
 * subtraction (never `off + k > n`, which can wrap), and every loop advances
 * by at least one byte with no rescanning, so work is linear in the size.
 *
 * Each step asks the window for the bytes at an offset and gets at least
 * `need` of them, or all up to the end of the file. Every check reaches at
 * most `need` bytes ahead, so "the data ends here" is only ever seen at the
 * real end of the file and the result does not depend on the window size
 * (the fuzzer checks exactly that). */
#ifndef OMH_MEDIA_WINDOW_H
#define OMH_MEDIA_WINDOW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "media.h"

/* The farthest one frame check looks: the largest ADTS frame (8191 bytes)
 * plus the next header; MPEG frames stop at 1441 bytes. */
#define LOOK 8200
/* Scans for a frame or page start move through the window this far at a time. */
#define SCAN_STEP 4096

typedef struct omh_media_win {
  const omh_media_src *src;
  unsigned char *buf;
  size_t cap;     /* window capacity */
  uint64_t start; /* file offset of buf[0] */
  size_t len;     /* valid bytes in buf */
  uint64_t size;  /* data size; lowered when a read comes back short */
  int err;
} omh_media_win;

/* A window of `window` bytes (raised to the minimum the parsers need, and
 * lowered to the data size) over src; -1 when memory ran out. */
int omh_media_win_open(omh_media_win *w, const omh_media_src *src, size_t window);
void omh_media_win_close(omh_media_win *w);

/* The bytes at off, with *avail >= min(need, size - off) of them (need <=
 * cap). A read error ends the data at off: the parsers then simply stop. */
const unsigned char *omh_media_win_at(omh_media_win *w, uint64_t off, size_t need, size_t *avail);

/* ---- byte readers (caller guarantees the bytes exist) ---- */

static inline uint32_t be32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t be64(const unsigned char *p) { return ((uint64_t)be32(p) << 32) | be32(p + 4); }

static inline uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }

static inline uint32_t le32(const unsigned char *p) { return le16(p) | (le16(p + 2) << 16); }

static inline uint64_t le64(const unsigned char *p) {
  return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32);
}

/* Whether the avail bytes at p start with tag. */
static inline int has(const unsigned char *p, size_t avail, const char *tag, size_t len) {
  return avail >= len && memcmp(p, tag, len) == 0;
}

#endif
