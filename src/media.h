/* Content sniffing (magic bytes) and audio duration for local files sent
 * as data URIs. Everything here reads untrusted bytes: all reads are
 * bounds-checked and all loops do work linear in the input size. */
#ifndef OMH_MEDIA_H
#define OMH_MEDIA_H

#include <stddef.h>

typedef enum {
    OMH_MEDIA_UNKNOWN = 0,
    OMH_MEDIA_PNG,
    OMH_MEDIA_JPEG,
    OMH_MEDIA_WEBP,
    OMH_MEDIA_GIF,
    OMH_MEDIA_WAV,
    OMH_MEDIA_MP3,
    OMH_MEDIA_OGG,
    OMH_MEDIA_M4A,
    OMH_MEDIA_AAC
} omh_media_type;

/* head: the first n bytes of the file (up to 4096 are looked at). */
omh_media_type omh_media_sniff(const unsigned char *head, size_t n);

/* image/png image/jpeg image/webp image/gif audio/wav audio/mpeg audio/ogg
 * audio/mp4 audio/aac; NULL for unknown. */
const char *omh_media_mime(omh_media_type t);

/* "png", "jpeg", "webp", "gif", "wav", "mp3", "ogg", "m4a", "aac",
 * "unknown". */
const char *omh_media_name(omh_media_type t);

int omh_media_is_image(omh_media_type t);
int omh_media_is_audio(omh_media_type t);

/* Duration in seconds of a whole audio file held in memory; -1.0 when it
 * cannot be determined. */
double omh_media_duration(const unsigned char *buf, size_t n,
                          omh_media_type t);

#endif
