/* libFuzzer target: media sniffing and audio duration (src/media*.c). The
 * input is sniffed as body.c does (first 4096 bytes), then measured as its
 * sniffed type and as every audio type, forced: each parser must cope with
 * any bytes, not only those that look like its format. Each duration is
 * measured twice, through the smallest window and with the whole input in
 * memory: the two must agree exactly (the window never changes a result). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  omh_media_type t = omh_media_sniff(data, size < 4096 ? size : 4096);
  if (t < OMH_MEDIA_UNKNOWN || t >= OMH_MEDIA_COUNT) abort();
  const char *name = omh_media_name(t), *mime = omh_media_mime(t);
  if (!name || (t != OMH_MEDIA_UNKNOWN && !mime)) abort();
  if (omh_media_is_image(t) && omh_media_is_audio(t)) abort();
  /* The sniffed type of a prefix-only read equals that of the whole. */
  if (size > 4096 && omh_media_sniff(data, 4096) != t) abort();
  omh_media_mem m;
  omh_media_src src;
  omh_media_src_mem(&src, &m, data, size);
  for (int k = OMH_MEDIA_WAV; k <= OMH_MEDIA_AAC; k++) {
    double d = omh_media_duration(data, size, (omh_media_type)k);
    if (!(d == -1.0 || (d >= 0.0 && isfinite(d)))) abort();
    double small = omh_media_measure_window(&src, (omh_media_type)k, 0);
    if (small != d && !(small == OMH_MEDIA_UNMEASURABLE && d == -1.0)) abort();
  }
  (void)omh_media_duration(data, size, t);
  return 0;
}
