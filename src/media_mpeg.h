/* Internal to the media parsers: MPEG audio layer III and AAC in ADTS, the
 * two formats that are bare streams of frames (after any ID3v2 tags). The
 * header checks are shared with sniffing. */
#ifndef OMH_MEDIA_MPEG_H
#define OMH_MEDIA_MPEG_H

#include <stddef.h>

#include "media_window.h"

/* Total size of an ID3v2 tag starting at p (header, body, footer), or 0 if
 * p does not start a valid tag header. The size may exceed avail. */
size_t omh_id3v2_size(const unsigned char *p, size_t avail);

typedef struct omh_mpa_frame {
  unsigned version; /* header bits: 0 = MPEG 2.5, 2 = MPEG 2, 3 = MPEG 1 */
  unsigned rate;    /* samples per second */
  unsigned spf;     /* samples per frame */
  size_t len;       /* frame length in bytes, header included */
  int mono;
} omh_mpa_frame;

/* Parses a layer III header; free-format and reserved values are rejected
 * since they are what random bytes look like. */
int omh_mpa_header(const unsigned char *p, size_t avail, omh_mpa_frame *f);

/* A header at off that is followed by a matching header, or whose frame
 * ends at (or within 4 bytes of) the end of the data. One header alone is
 * only 11 sync bits plus a few fields: too easy to find in noise. */
int omh_mpa_confirmed(const unsigned char *b, size_t n, size_t off, omh_mpa_frame *f);

typedef struct omh_adts_frame {
  unsigned rate_index;
  unsigned blocks; /* raw data blocks of 1024 samples */
  size_t len;
} omh_adts_frame;

int omh_adts_header(const unsigned char *p, size_t avail, omh_adts_frame *f);

/* As omh_mpa_confirmed, for an ADTS header (7 bytes). */
int omh_adts_confirmed(const unsigned char *b, size_t n, size_t off, omh_adts_frame *f);

/* Durations in seconds, -1.0 when the bytes do not tell. */
double omh_mp3_duration(omh_media_win *w);
double omh_aac_duration(omh_media_win *w);

#endif
