/* Audio in containers: WAV chunks, ISO BMFF (M4A) boxes, Ogg pages. Reads
 * follow the rules in media_window.h. */
#include "media_containers.h"

#include <string.h>

/* ---- WAV ---- */

/* Formats whose samples all have the size the fmt chunk gives: the length
 * follows from rate, channels and bits alone. */
static int wav_fixed_size(unsigned tag) {
  return tag == 1 /* PCM */ || tag == 3 /* float */ || tag == 6 /* A-law */ || tag == 7 /* mu-law */;
}

double omh_wav_duration(omh_media_win *w) {
  const unsigned char *p;
  size_t avail;
  uint64_t off = 12, body, left, data = 0;
  uint32_t size, rate = 0, byte_rate = 0, fact = 0;
  unsigned tag = 0, channels = 0, bits = 0;
  int have_fmt = 0, have_data = 0;

  p = omh_media_win_at(w, 0, 12, &avail);
  if (avail < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WAVE", 4) != 0) return -1.0;
  /* Each step moves at least 8 bytes: at most size/8 chunks. */
  while (w->size - off >= 8) {
    p = omh_media_win_at(w, off, 8 + 40, &avail);
    size = le32(p + 4);
    body = off + 8;
    left = w->size - body;
    if (memcmp(p, "fmt ", 4) == 0) {
      if (size < 16 || left < 16) return -1.0;
      tag = le16(p + 8);
      channels = le16(p + 10);
      rate = le32(p + 12);
      byte_rate = le32(p + 16);
      bits = le16(p + 22);
      /* WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID. */
      if (tag == 0xFFFE && size >= 40 && left >= 40) tag = le16(p + 8 + 24);
      have_fmt = 1;
    } else if (memcmp(p, "fact", 4) == 0 && size >= 4 && left >= 4) {
      fact = le32(p + 8);
    } else if (memcmp(p, "data", 4) == 0) {
      /* 0 and 0xFFFFFFFF are what streaming writers leave when they
       * never come back to fill the size in: the data runs to the end.
       * A size past the end (a cut file) is clamped to it. */
      data = (size == 0 || size == 0xFFFFFFFFu || size > left) ? left : size;
      have_data = 1;
      if (data == left) break;
    }
    if (size >= left) /* chunk runs to (or past) the end */
      break;
    off = body + size + (size & 1); /* chunks are padded to even size */
  }
  if (!have_fmt || !have_data || rate == 0) return -1.0;
  if (wav_fixed_size(tag)) {
    if (channels == 0 || bits == 0) return -1.0;
    return (double)data / ((double)channels * ((bits + 7) / 8)) / rate;
  }
  /* Compressed: the sample count of the fact chunk, else the byte rate. */
  if (fact > 0) return (double)fact / rate;
  if (byte_rate > 0) return (double)data / byte_rate;
  return -1.0;
}

/* ---- ISO BMFF (M4A) ---- */

typedef struct {
  unsigned char type[4];
  uint64_t body, end; /* end clamped to the enclosing data */
} bmff_box;

/* Box at off within [.., end) (off <= end <= size); 0 when no valid box
 * header is there. */
static int bmff_box_at(omh_media_win *w, uint64_t end, uint64_t off, bmff_box *box) {
  uint64_t size, room = end - off;
  size_t hdr = 8, avail;
  const unsigned char *p;
  if (room < 8) return 0;
  p = omh_media_win_at(w, off, 16, &avail);
  if (avail < 8) return 0;
  size = be32(p);
  if (size == 1) { /* 64-bit size follows the type */
    if (room < 16 || avail < 16) return 0;
    size = be64(p + 8);
    hdr = 16;
  } else if (size == 0) { /* extends to the end of the enclosing data */
    size = room;
  }
  if (size < hdr) return 0;
  memcpy(box->type, p + 4, 4);
  box->body = off + hdr;
  box->end = size < room ? off + size : end;
  return 1;
}

static double mvhd_duration(omh_media_win *w, const bmff_box *box) {
  size_t avail;
  const unsigned char *p = omh_media_win_at(w, box->body, 32, &avail);
  uint64_t len = box->end - box->body, dur;
  uint32_t scale;
  if (len > avail) len = avail;
  if (len < 1) return -1.0;
  if (p[0] == 1) {
    if (len < 32) return -1.0;
    scale = be32(p + 20);
    dur = be64(p + 24);
    if (dur == UINT64_MAX) /* "unknown" */
      return -1.0;
  } else {
    if (len < 20) return -1.0;
    scale = be32(p + 12);
    dur = be32(p + 16);
    if (dur == UINT32_MAX) return -1.0;
  }
  if (scale == 0) return -1.0;
  return (double)dur / scale;
}

double omh_m4a_duration(omh_media_win *w) {
  bmff_box top, child;
  uint64_t off = 0, in;
  /* Boxes are at least 8 bytes: at most size/8 of them at each level. */
  while (bmff_box_at(w, w->size, off, &top)) {
    if (memcmp(top.type, "moov", 4) == 0) {
      in = top.body;
      while (bmff_box_at(w, top.end, in, &child)) {
        if (memcmp(child.type, "mvhd", 4) == 0) return mvhd_duration(w, &child);
        in = child.end;
      }
      return -1.0;
    }
    off = top.end;
  }
  return -1.0;
}

/* ---- Ogg (Vorbis, Opus) ---- */

/* The next "OggS" at or after off with a whole page header's room after
 * it, or an offset with less room than that (which ends the walk). */
static uint64_t ogg_resync(omh_media_win *w, uint64_t off) {
  while (w->size - off >= 27) {
    size_t avail, lim, i;
    const unsigned char *p = omh_media_win_at(w, off, SCAN_STEP, &avail);
    if (avail < 27) return w->size;
    lim = avail - 3; /* a match needs 4 bytes */
    if (lim > w->size - off - 26) lim = (size_t)(w->size - off - 26);
    for (i = 0; i < lim; i++)
      if (p[i] == 'O' && memcmp(p + i, "OggS", 4) == 0) return off + i;
    off += lim;
  }
  return off;
}

double omh_ogg_duration(omh_media_win *w) {
  uint64_t off, seg_end, body, preskip = 0, granule = 0, g;
  size_t avail, i, nseg, pkt_len;
  const unsigned char *p, *pkt;
  uint32_t serial;
  double rate;
  int have = 0;

  /* The first page carries the codec id header of the first stream. */
  p = omh_media_win_at(w, 0, LOOK, &avail);
  if (avail < 27 || memcmp(p, "OggS", 4) != 0 || p[4] != 0) return -1.0;
  nseg = p[26];
  if (27 + nseg > avail) return -1.0;
  serial = le32(p + 14);
  pkt = p + 27 + nseg;
  pkt_len = avail - 27 - nseg;
  if (pkt_len >= 16 && pkt[0] == 1 && memcmp(pkt + 1, "vorbis", 6) == 0) {
    rate = le32(pkt + 12);
  } else if (pkt_len >= 19 && memcmp(pkt, "OpusHead", 8) == 0) {
    rate = 48000.0; /* Opus granules always count 48 kHz samples */
    preskip = le16(pkt + 10);
  } else {
    return -1.0;
  }
  if (rate <= 0.0) return -1.0;

  /* Walk every page (headers only) and keep the last granule of this
   * stream: cheaper to get right than a backwards search, still linear. */
  off = 0;
  while (w->size - off >= 27) {
    p = omh_media_win_at(w, off, 27 + 255, &avail);
    if (memcmp(p, "OggS", 4) != 0 || p[4] != 0) {
      off = ogg_resync(w, off + 1); /* damaged data */
      continue;
    }
    nseg = p[26];
    seg_end = off + 27 + nseg;
    if (seg_end > w->size) break;
    body = 0;
    for (i = 27; i < 27 + nseg; i++) body += p[i];
    if (body > w->size - seg_end) /* truncated page: its granule is a lie */
      break;
    g = le64(p + 6);
    if (le32(p + 14) == serial && g != UINT64_MAX && !(g >> 63)) {
      granule = g;
      have = 1;
    }
    off = seg_end + body;
  }
  if (!have) return -1.0;
  if (granule <= preskip) return 0.0;
  return (double)(granule - preskip) / rate;
}
