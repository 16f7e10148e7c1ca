/* Internal to the media parsers: audio in container formats, measured from
 * the container's own structure (WAV chunks, ISO BMFF boxes, Ogg pages). */
#ifndef OMH_MEDIA_CONTAINERS_H
#define OMH_MEDIA_CONTAINERS_H

#include "media_window.h"

/* Durations in seconds, -1.0 when the bytes do not tell. */
double omh_wav_duration(omh_media_win *w);
double omh_m4a_duration(omh_media_win *w);
double omh_ogg_duration(omh_media_win *w);

#endif
