/* MPEG audio layer III and AAC in ADTS: ID3v2 tags are skipped, then
 * frames are counted (or an MP3 header frame's count is read). Reads follow
 * the rules in media_window.h. */
#include "media_mpeg.h"

#include <string.h>

/* Garbage tolerated between MPEG/ADTS frames before giving up: enough for a
 * stray tag or a damaged frame, small enough to stay cheap. */
#define RESYNC_GAP 4096
/* How far after an ID3v2 tag the first MPEG frame may start (padding some
 * taggers write without counting it in the tag size). */
#define FIRST_FRAME_SCAN 65536
#define NOT_FOUND UINT64_MAX

/* ---- ID3v2 ---- */

size_t omh_id3v2_size(const unsigned char *p, size_t avail) {
  size_t size;
  if (avail < 10 || memcmp(p, "ID3", 3) != 0) return 0;
  if (p[3] < 2 || p[3] > 4 || p[4] == 0xFF) return 0;
  /* Syncsafe: 7 bits per byte, top bit must be clear. */
  if ((p[6] | p[7] | p[8] | p[9]) & 0x80) return 0;
  size = ((size_t)p[6] << 21) | ((size_t)p[7] << 14) | ((size_t)p[8] << 7) | (size_t)p[9];
  size += 10;
  if (p[3] == 4 && (p[5] & 0x10)) /* v2.4 footer */
    size += 10;
  return size;
}

/* Offset just past any leading ID3v2 tags (a few at most); beyond the end
 * for a tag that claims more bytes than the file has. */
static uint64_t skip_id3v2(omh_media_win *w) {
  uint64_t off = 0;
  size_t tag, avail;
  const unsigned char *p;
  int k;
  for (k = 0; k < 4 && off < w->size; k++) {
    p = omh_media_win_at(w, off, 10, &avail);
    tag = omh_id3v2_size(p, avail);
    if (tag == 0) break;
    if (tag > w->size - off) return w->size + 1; /* runs past the data */
    off += tag;
  }
  return off;
}

/* ---- finding frames ---- */

/* A frame start at off in b[0, n) that the next header confirms; fills *frame. */
typedef int (*frame_check)(const unsigned char *b, size_t n, size_t off, void *frame, const void *want);

/* First confirmed frame in [from, from + scan) (from <= size). */
static uint64_t find_frame(omh_media_win *w, uint64_t from, uint64_t scan, frame_check check, void *frame,
                           const void *want) {
  uint64_t end = w->size - from > scan ? from + scan : w->size;
  while (from < end) {
    size_t avail, i;
    size_t step = end - from < SCAN_STEP ? (size_t)(end - from) : SCAN_STEP;
    const unsigned char *p = omh_media_win_at(w, from, step + LOOK, &avail);
    if (avail == 0) break;
    if (step > avail) step = avail;
    for (i = 0; i < step; i++)
      if (p[i] == 0xFF && check(p, avail, i, frame, want)) return from + i;
    from += step;
  }
  return NOT_FOUND;
}

/* ---- MPEG audio layer III frames ---- */

static const unsigned short mpa_kbps_v1[16] = {0,   32,  40,  48,  56,  64,  80,  96,
                                               112, 128, 160, 192, 224, 256, 320, 0};
static const unsigned short mpa_kbps_v2[16] = {0,  8,  16, 24,  32,  40,  48,  56,
                                               64, 80, 96, 112, 128, 144, 160, 0};
static const unsigned mpa_rates[4][3] = {
    {11025, 12000, 8000},  /* MPEG 2.5 */
    {0, 0, 0},             /* reserved */
    {22050, 24000, 16000}, /* MPEG 2 */
    {44100, 48000, 32000}, /* MPEG 1 */
};

int omh_mpa_header(const unsigned char *p, size_t avail, omh_mpa_frame *f) {
  unsigned ver, bri, sri, kbps;
  if (avail < 4 || p[0] != 0xFF || (p[1] & 0xE0) != 0xE0) return 0;
  ver = (p[1] >> 3) & 3;
  if (ver == 1 || ((p[1] >> 1) & 3) != 1) /* reserved version; not layer III */
    return 0;
  bri = p[2] >> 4;
  sri = (p[2] >> 2) & 3;
  if (bri == 0 || bri == 15 || sri == 3 || (p[3] & 3) == 2) return 0;
  kbps = ver == 3 ? mpa_kbps_v1[bri] : mpa_kbps_v2[bri];
  f->version = ver;
  f->rate = mpa_rates[ver][sri];
  f->spf = ver == 3 ? 1152 : 576;
  f->len = (size_t)((ver == 3 ? 144000UL : 72000UL) * kbps / f->rate) + ((p[2] >> 1) & 1);
  f->mono = (p[3] >> 6) == 3;
  return 1;
}

static int mpa_same(const omh_mpa_frame *a, const omh_mpa_frame *b) {
  return a->version == b->version && a->rate == b->rate;
}

int omh_mpa_confirmed(const unsigned char *b, size_t n, size_t off, omh_mpa_frame *f) {
  omh_mpa_frame g;
  size_t next;
  if (!omh_mpa_header(b + off, n - off, f) || f->len > n - off) return 0;
  next = off + f->len;
  if (n - next < 4) return 1;
  return omh_mpa_header(b + next, n - next, &g) && mpa_same(f, &g);
}

static int mpa_check(const unsigned char *b, size_t n, size_t off, void *frame, const void *want) {
  return omh_mpa_confirmed(b, n, off, frame) && (!want || mpa_same(want, frame));
}

/* Xing/Info or VBRI frame count in the frame at p; 0 if none. *tagged is
 * set when the frame is such a header frame (it carries no audio). The
 * whole frame is there: it was confirmed. */
static uint32_t mpa_vbr_frames(const unsigned char *p, const omh_mpa_frame *f, int *tagged) {
  size_t side, x, flen = f->len;
  *tagged = 0;
  /* Xing sits right after the side information. */
  side = f->version == 3 ? (f->mono ? 17 : 32) : (f->mono ? 9 : 17);
  x = 4 + side;
  if (flen >= x + 8 && (memcmp(p + x, "Xing", 4) == 0 || memcmp(p + x, "Info", 4) == 0)) {
    *tagged = 1;
    if ((be32(p + x + 4) & 1) && flen >= x + 12) return be32(p + x + 8);
    return 0;
  }
  /* VBRI (Fraunhofer) is at a fixed 32 bytes after the header. */
  if (flen >= 36 + 18 && memcmp(p + 36, "VBRI", 4) == 0) {
    *tagged = 1;
    return be32(p + 36 + 14);
  }
  return 0;
}

double omh_mp3_duration(omh_media_win *w) {
  omh_mpa_frame first, f;
  uint64_t off, start, frames = 0;
  uint32_t vbr;
  int tagged;
  const unsigned char *p;
  size_t avail;

  start = skip_id3v2(w);
  if (start >= w->size) return -1.0;
  off = find_frame(w, start, FIRST_FRAME_SCAN, mpa_check, &first, NULL);
  if (off == NOT_FOUND) return -1.0;
  p = omh_media_win_at(w, off, LOOK, &avail);
  if (avail < first.len) /* only after a read error */
    return -1.0;
  vbr = mpa_vbr_frames(p, &first, &tagged);
  if (vbr > 0) return (double)vbr * first.spf / first.rate;
  if (tagged) /* header frame without a count: walk, not counting it */
    off += first.len;

  while (off < w->size) {
    p = omh_media_win_at(w, off, LOOK, &avail);
    if (omh_mpa_header(p, avail, &f) && mpa_same(&first, &f)) {
      if (f.len > avail) /* truncated last frame */
        break;
      frames++;
      off += f.len;
      continue;
    }
    if (w->size - off == 128 && has(p, avail, "TAG", 3)) /* ID3v1 */
      break;
    off = find_frame(w, off + 1, RESYNC_GAP, mpa_check, &f, &first);
    if (off == NOT_FOUND) break;
  }
  if (frames == 0) return -1.0;
  return (double)frames * first.spf / first.rate;
}

/* ---- AAC in ADTS ---- */

static const unsigned adts_rates[16] = {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050,
                                        16000, 12000, 11025, 8000,  7350,  0,     0,     0};

int omh_adts_header(const unsigned char *p, size_t avail, omh_adts_frame *f) {
  size_t hdr;
  /* 12 sync bits, then ID, then layer which is always 00. */
  if (avail < 7 || p[0] != 0xFF || (p[1] & 0xF6) != 0xF0) return 0;
  f->rate_index = (p[2] >> 2) & 0xF;
  if (adts_rates[f->rate_index] == 0) return 0;
  hdr = (p[1] & 1) ? 7 : 9; /* protection_absent=0 adds a CRC */
  f->len = ((size_t)(p[3] & 3) << 11) | ((size_t)p[4] << 3) | (p[5] >> 5);
  f->blocks = (p[6] & 3) + 1u;
  return f->len >= hdr;
}

int omh_adts_confirmed(const unsigned char *b, size_t n, size_t off, omh_adts_frame *f) {
  omh_adts_frame g;
  size_t next;
  if (!omh_adts_header(b + off, n - off, f) || f->len > n - off) return 0;
  next = off + f->len;
  if (n - next < 7) return 1;
  return omh_adts_header(b + next, n - next, &g) && g.rate_index == f->rate_index;
}

static int adts_check(const unsigned char *b, size_t n, size_t off, void *frame, const void *want) {
  (void)want;
  return omh_adts_confirmed(b, n, off, frame);
}

double omh_aac_duration(omh_media_win *w) {
  omh_adts_frame first, f;
  uint64_t off = skip_id3v2(w), samples = 0;
  const unsigned char *p;
  size_t avail;

  if (off >= w->size) return -1.0;
  off = find_frame(w, off, FIRST_FRAME_SCAN, adts_check, &first, NULL);
  if (off == NOT_FOUND) return -1.0;
  while (off < w->size) {
    p = omh_media_win_at(w, off, LOOK, &avail);
    if (omh_adts_header(p, avail, &f) && f.rate_index == first.rate_index) {
      if (f.len > avail) break;
      samples += 1024u * f.blocks;
      off += f.len;
      continue;
    }
    off = find_frame(w, off + 1, RESYNC_GAP, adts_check, &f, NULL);
    if (off == NOT_FOUND || f.rate_index != first.rate_index) break;
  }
  if (samples == 0) return -1.0;
  return (double)samples / adts_rates[first.rate_index];
}
