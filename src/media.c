/* What media.h promises: content sniffing, names and MIME types, and
 * measuring a duration by handing a window over the source to the parser of
 * the type (media_mpeg.c, media_containers.c). The sniffer reads untrusted
 * bytes too and follows the rules in media_window.h. */
#include "media.h"

#include <string.h>

#include "media_containers.h"
#include "media_mpeg.h"
#include "media_window.h"

#define SNIFF_MAX 4096
#define DEFAULT_WINDOW (256u * 1024u)

/* ---- measuring ---- */

double omh_media_measure_window(const omh_media_src *src, omh_media_type t, size_t window) {
  omh_media_win w;
  double d;
  if (!omh_media_is_audio(t) && t != OMH_MEDIA_MP4 && t != OMH_MEDIA_MOV) return -1.0;
  if (omh_media_win_open(&w, src, window) != 0) return OMH_MEDIA_READ_ERROR;
  switch (t) {
    case OMH_MEDIA_WAV:
      d = omh_wav_duration(&w);
      break;
    case OMH_MEDIA_MP3:
      d = omh_mp3_duration(&w);
      break;
    case OMH_MEDIA_OGG:
      d = omh_ogg_duration(&w);
      break;
    case OMH_MEDIA_M4A:
    case OMH_MEDIA_MP4:
    case OMH_MEDIA_MOV:
      d = omh_m4a_duration(&w); /* the same movie header box */
      break;
    default:
      d = omh_aac_duration(&w);
      break;
  }
  omh_media_win_close(&w);
  return w.err ? OMH_MEDIA_READ_ERROR : d;
}

double omh_media_measure(const omh_media_src *src, omh_media_type t) {
  return omh_media_measure_window(src, t, DEFAULT_WINDOW);
}

static long long mem_read_at(void *ud, uint64_t off, unsigned char *buf, size_t n) {
  const omh_media_mem *m = ud;
  if (off >= m->n) return 0;
  if (n > m->n - off) n = (size_t)(m->n - off);
  memcpy(buf, m->p + off, n);
  return (long long)n;
}

void omh_media_src_mem(omh_media_src *s, omh_media_mem *m, const unsigned char *p, size_t n) {
  m->p = p;
  m->n = n;
  s->read_at = mem_read_at;
  s->ud = m;
  s->size = n;
}

double omh_media_duration(const unsigned char *buf, size_t n, omh_media_type t) {
  omh_media_mem m;
  omh_media_src s;
  double d;
  if (!buf) return -1.0;
  omh_media_src_mem(&s, &m, buf, n);
  d = omh_media_measure(&s, t);
  return d < 0.0 ? -1.0 : d;
}

/* ---- sniffing ---- */

static int is_m4a_brand(const unsigned char *p) {
  static const char brands[][5] = {"M4A ", "M4B ", "M4P ", "mp4a", "F4A ", "F4B "};
  size_t i;
  for (i = 0; i < sizeof brands / sizeof brands[0]; i++)
    if (memcmp(p, brands[i], 4) == 0) return 1;
  return 0;
}

static int is_avif_brand(const unsigned char *p) {
  return memcmp(p, "avif", 4) == 0 || memcmp(p, "avis", 4) == 0;
}

/* Brands of ISO BMFF files that hold a movie (video, maybe with sound). */
static int is_video_brand(const unsigned char *p) {
  static const char brands[][5] = {"isom", "iso2", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1",
                                   "M4V ", "M4VH", "M4VP", "dash", "mmp4", "MSNV", "3gp4", "3gp5",
                                   "3gp6", "3g2a", "hvc1", "av01", "XAVC", "f4v "};
  for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
    if (memcmp(p, brands[i], 4) == 0) return 1;
  return 0;
}

static omh_media_type sniff_ftyp(const unsigned char *h, size_t n) {
  uint32_t size = be32(h);
  size_t end, i;
  if (is_m4a_brand(h + 8)) return OMH_MEDIA_M4A;
  if (is_avif_brand(h + 8)) return OMH_MEDIA_AVIF;
  if (memcmp(h + 8, "qt  ", 4) == 0) return OMH_MEDIA_MOV;
  /* Compatible brands follow major brand and minor version. */
  end = (size == 0 || size > n) ? n : size;
  for (i = 16; end >= 4 && i <= end - 4; i += 4) {
    if (memcmp(h + i, "M4A ", 4) == 0) return OMH_MEDIA_M4A;
    if (is_avif_brand(h + i)) /* e.g. major "mif1", compatible "avif" */
      return OMH_MEDIA_AVIF;
  }
  if (is_video_brand(h + 8)) return OMH_MEDIA_MP4;
  for (i = 16; end >= 4 && i <= end - 4; i += 4)
    if (is_video_brand(h + i)) return OMH_MEDIA_MP4;
  return OMH_MEDIA_UNKNOWN;
}

/* WebM: an EBML header whose DocType (element 0x4282) says "webm". */
static int is_webm(const unsigned char *h, size_t n) {
  static const unsigned char ebml[4] = {0x1A, 0x45, 0xDF, 0xA3};
  if (n < 8 || memcmp(h, ebml, 4) != 0) return 0;
  size_t lim = n < 64 ? n : 64; /* the DocType comes first in the header */
  for (size_t i = 4; i + 7 <= lim; i++)
    if (h[i] == 0x42 && h[i + 1] == 0x82 && memcmp(h + i + 3, "webm", 4) == 0) return 1;
  return 0;
}

omh_media_type omh_media_sniff(const unsigned char *h, size_t n) {
  static const unsigned char png[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  omh_mpa_frame mf;
  omh_adts_frame af;
  size_t off;

  if (!h) return OMH_MEDIA_UNKNOWN;
  if (n > SNIFF_MAX) n = SNIFF_MAX;
  if (n >= 8 && memcmp(h, png, 8) == 0) return OMH_MEDIA_PNG;
  if (n >= 3 && h[0] == 0xFF && h[1] == 0xD8 && h[2] == 0xFF) return OMH_MEDIA_JPEG;
  if (has(h, n, "GIF87a", 6) || has(h, n, "GIF89a", 6)) return OMH_MEDIA_GIF;
  if (n >= 12 && memcmp(h, "RIFF", 4) == 0) {
    if (memcmp(h + 8, "WEBP", 4) == 0) return OMH_MEDIA_WEBP;
    if (memcmp(h + 8, "WAVE", 4) == 0) return OMH_MEDIA_WAV;
    return OMH_MEDIA_UNKNOWN;
  }
  if (has(h, n, "OggS", 4)) return OMH_MEDIA_OGG;
  if (n >= 12 && memcmp(h + 4, "ftyp", 4) == 0) return sniff_ftyp(h, n);
  if (is_webm(h, n)) return OMH_MEDIA_WEBM;

  off = omh_id3v2_size(h, n);
  if (off > 0) {
    /* A tag larger than the head (cover art) hides the first frame; an
     * ID3v2 header alone is then good enough evidence of MP3. */
    if (off >= n) return OMH_MEDIA_MP3;
    while (off < n && h[off] == 0) /* uncounted padding */
      off++;
    if (off == n) return OMH_MEDIA_MP3;
  }
  /* A frame cut off by the end of the head is accepted on its header. */
  if (omh_adts_header(h + off, n - off, &af) && (af.len > n - off || omh_adts_confirmed(h, n, off, &af)))
    return OMH_MEDIA_AAC;
  if (omh_mpa_header(h + off, n - off, &mf) && (mf.len > n - off || omh_mpa_confirmed(h, n, off, &mf)))
    return OMH_MEDIA_MP3;
  return OMH_MEDIA_UNKNOWN;
}

/* ---- names ---- */

static const char *const media_names[OMH_MEDIA_COUNT] = {
    "unknown", "png", "jpeg", "webp", "gif", "avif", "wav", "mp3", "ogg", "m4a", "aac", "mp4", "mov", "webm"};
static const char *const media_mimes[OMH_MEDIA_COUNT] = {
    NULL,         "image/png", "image/jpeg", "image/webp", "image/gif", "image/avif",      "audio/wav",
    "audio/mpeg", "audio/ogg", "audio/mp4",  "audio/aac",  "video/mp4", "video/quicktime", "video/webm"};

const char *omh_media_mime(omh_media_type t) {
  if ((unsigned)t >= sizeof media_mimes / sizeof media_mimes[0]) return NULL;
  return media_mimes[t];
}

const char *omh_media_name(omh_media_type t) {
  if ((unsigned)t >= sizeof media_names / sizeof media_names[0]) return media_names[0];
  return media_names[t];
}

int omh_media_is_image(omh_media_type t) {
  return t == OMH_MEDIA_PNG || t == OMH_MEDIA_JPEG || t == OMH_MEDIA_WEBP || t == OMH_MEDIA_GIF ||
         t == OMH_MEDIA_AVIF;
}

int omh_media_is_video(omh_media_type t) {
  return t == OMH_MEDIA_MP4 || t == OMH_MEDIA_MOV || t == OMH_MEDIA_WEBM;
}

int omh_media_is_audio(omh_media_type t) {
  return t == OMH_MEDIA_WAV || t == OMH_MEDIA_MP3 || t == OMH_MEDIA_OGG || t == OMH_MEDIA_M4A ||
         t == OMH_MEDIA_AAC;
}
