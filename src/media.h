/* Content sniffing (magic bytes) and audio duration for local files sent
 * as data URIs. Everything here reads untrusted bytes: all reads are
 * bounds-checked and all loops do work linear in the input size. Durations
 * are measured through a bounded window over the file, so measuring a
 * large file never holds it whole in memory. */
#ifndef OMH_MEDIA_H
#define OMH_MEDIA_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  OMH_MEDIA_UNKNOWN = 0,
  OMH_MEDIA_PNG,
  OMH_MEDIA_JPEG,
  OMH_MEDIA_WEBP,
  OMH_MEDIA_GIF,
  OMH_MEDIA_AVIF,
  OMH_MEDIA_WAV,
  OMH_MEDIA_MP3,
  OMH_MEDIA_OGG,
  OMH_MEDIA_M4A,
  OMH_MEDIA_AAC,
  OMH_MEDIA_MP4,
  OMH_MEDIA_MOV,
  OMH_MEDIA_WEBM,
  OMH_MEDIA_COUNT
} omh_media_type;

/* head: the first n bytes of the file (up to 4096 are looked at). */
omh_media_type omh_media_sniff(const unsigned char *head, size_t n);

/* image/png image/jpeg image/webp image/gif image/avif audio/wav audio/mpeg
 * audio/ogg audio/mp4 audio/aac video/mp4 video/quicktime video/webm; NULL
 * for unknown. */
const char *omh_media_mime(omh_media_type t);

/* "png", "jpeg", "webp", "gif", "avif", "wav", "mp3", "ogg", "m4a", "aac",
 * "mp4", "mov", "webm", "unknown". */
const char *omh_media_name(omh_media_type t);

int omh_media_is_image(omh_media_type t);
int omh_media_is_audio(omh_media_type t);
int omh_media_is_video(omh_media_type t);

/* Bytes read at an offset: a file (pread) or a buffer. read_at returns the
 * count read (short only at the end of the data) or -1 on an I/O error. */
typedef struct omh_media_src {
  long long (*read_at)(void *ud, uint64_t off, unsigned char *buf, size_t n);
  void *ud;
  uint64_t size;
} omh_media_src;

/* A source over a buffer; m holds the buffer and must outlive s. */
typedef struct omh_media_mem {
  const unsigned char *p;
  size_t n;
} omh_media_mem;
void omh_media_src_mem(omh_media_src *s, omh_media_mem *m, const unsigned char *p, size_t n);

#define OMH_MEDIA_UNMEASURABLE (-1.0)
#define OMH_MEDIA_READ_ERROR (-2.0)

/* Duration in seconds (audio; MP4 and MOV video from the container's movie
 * header; WebM is not measured); OMH_MEDIA_UNMEASURABLE when the bytes do not tell,
 * OMH_MEDIA_READ_ERROR when reading failed (errno set) or memory ran out. */
double omh_media_measure(const omh_media_src *src, omh_media_type t);

/* The same through a window of `window` bytes (raised to the minimum the
 * parsers need): the result never depends on the window size. */
double omh_media_measure_window(const omh_media_src *src, omh_media_type t, size_t window);

/* Duration of a whole audio file held in memory; -1.0 when it cannot be
 * determined. */
double omh_media_duration(const unsigned char *buf, size_t n, omh_media_type t);

#endif
