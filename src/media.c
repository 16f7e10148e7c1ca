/* Content sniffing and audio duration. Inputs are untrusted: every read is
 * checked against the data end with subtraction (never `off + k > n`,
 * which can wrap), and every loop advances by at least one byte with no
 * rescanning, so work is linear in the size.
 *
 * Durations are read through a window: each step asks for the bytes at an
 * offset and gets at least `need` of them, or all up to the end of the
 * file. Every check reaches at most `need` bytes ahead, so "the data ends
 * here" is only ever seen at the real end of the file and the result does
 * not depend on the window size (the fuzzer checks exactly that). */
#include "media.h"

#include <stdlib.h>
#include <string.h>

#define SNIFF_MAX 4096
/* Garbage tolerated between MPEG/ADTS frames before giving up: enough for a
 * stray tag or a damaged frame, small enough to stay cheap. */
#define RESYNC_GAP 4096
/* How far after an ID3v2 tag the first MPEG frame may start (padding some
 * taggers write without counting it in the tag size). */
#define FIRST_FRAME_SCAN 65536
/* The farthest one frame check looks: the largest ADTS frame (8191 bytes)
 * plus the next header; MPEG frames stop at 1441 bytes. */
#define LOOK 8200
/* Scans for a frame or page start move through the window this far at a time. */
#define SCAN_STEP 4096
#define MIN_WINDOW (LOOK + SCAN_STEP)
#define DEFAULT_WINDOW (256u * 1024u)
#define NOT_FOUND UINT64_MAX

/* ---- byte readers (caller guarantees the bytes exist) ---- */

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

static uint32_t le16(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
    return le16(p) | (le16(p + 2) << 16);
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32);
}

static int has(const unsigned char *p, size_t avail, const char *tag,
               size_t len)
{
    return avail >= len && memcmp(p, tag, len) == 0;
}

/* ---- the window ---- */

typedef struct {
    const omh_media_src *src;
    unsigned char *buf;
    size_t cap;     /* window capacity */
    uint64_t start; /* file offset of buf[0] */
    size_t len;     /* valid bytes in buf */
    uint64_t size;  /* data size; lowered when a read comes back short */
    int err;
} win;

/* The bytes at off, with *avail >= min(need, size - off) of them (need <=
 * cap). A read error ends the data at off: the parsers then simply stop. */
static const unsigned char *win_at(win *w, uint64_t off, size_t need,
                                   size_t *avail)
{
    uint64_t end;
    if (off >= w->size) {
        *avail = 0;
        return w->buf;
    }
    end = w->size - off < need ? w->size : off + need;
    if (off < w->start || end > w->start + w->len) {
        size_t want = w->size - off < w->cap ? (size_t)(w->size - off) : w->cap;
        long long r = w->src->read_at(w->src->ud, off, w->buf, want);
        if (r < 0) {
            w->err = 1;
            w->size = off;
            w->len = 0;
            *avail = 0;
            return w->buf;
        }
        w->start = off;
        w->len = (size_t)r;
        if ((size_t)r < want) /* the file is shorter than it was */
            w->size = off + (uint64_t)r;
    }
    *avail = (size_t)(w->start + w->len - off);
    return w->buf + (off - w->start);
}

/* ---- ID3v2 ---- */

/* Total size of an ID3v2 tag starting at p (header, body, footer), or 0 if
 * p does not start a valid tag header. The size may exceed avail. */
static size_t id3v2_size(const unsigned char *p, size_t avail)
{
    size_t size;
    if (avail < 10 || memcmp(p, "ID3", 3) != 0)
        return 0;
    if (p[3] < 2 || p[3] > 4 || p[4] == 0xFF)
        return 0;
    /* Syncsafe: 7 bits per byte, top bit must be clear. */
    if ((p[6] | p[7] | p[8] | p[9]) & 0x80)
        return 0;
    size = ((size_t)p[6] << 21) | ((size_t)p[7] << 14) | ((size_t)p[8] << 7) |
           (size_t)p[9];
    size += 10;
    if (p[3] == 4 && (p[5] & 0x10)) /* v2.4 footer */
        size += 10;
    return size;
}

/* Offset just past any leading ID3v2 tags (a few at most); beyond the end
 * for a tag that claims more bytes than the file has. */
static uint64_t skip_id3v2(win *w)
{
    uint64_t off = 0;
    size_t tag, avail;
    const unsigned char *p;
    int k;
    for (k = 0; k < 4 && off < w->size; k++) {
        p = win_at(w, off, 10, &avail);
        tag = id3v2_size(p, avail);
        if (tag == 0)
            break;
        if (tag > w->size - off)
            return w->size + 1; /* runs past the data */
        off += tag;
    }
    return off;
}

/* ---- MPEG audio layer III frames ---- */

typedef struct {
    unsigned version; /* header bits: 0 = MPEG 2.5, 2 = MPEG 2, 3 = MPEG 1 */
    unsigned rate;    /* samples per second */
    unsigned spf;     /* samples per frame */
    size_t len;       /* frame length in bytes, header included */
    int mono;
} mpa_frame;

static const unsigned short mpa_kbps_v1[16] = {
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0};
static const unsigned short mpa_kbps_v2[16] = {
    0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0};
static const unsigned mpa_rates[4][3] = {
    {11025, 12000, 8000}, /* MPEG 2.5 */
    {0, 0, 0},            /* reserved */
    {22050, 24000, 16000}, /* MPEG 2 */
    {44100, 48000, 32000}, /* MPEG 1 */
};

/* Parses a layer III header; free-format and reserved values are rejected
 * since they are what random bytes look like. */
static int mpa_header(const unsigned char *p, size_t avail, mpa_frame *f)
{
    unsigned ver, bri, sri, kbps;
    if (avail < 4 || p[0] != 0xFF || (p[1] & 0xE0) != 0xE0)
        return 0;
    ver = (p[1] >> 3) & 3;
    if (ver == 1 || ((p[1] >> 1) & 3) != 1) /* reserved version; not layer III */
        return 0;
    bri = p[2] >> 4;
    sri = (p[2] >> 2) & 3;
    if (bri == 0 || bri == 15 || sri == 3 || (p[3] & 3) == 2)
        return 0;
    kbps = ver == 3 ? mpa_kbps_v1[bri] : mpa_kbps_v2[bri];
    f->version = ver;
    f->rate = mpa_rates[ver][sri];
    f->spf = ver == 3 ? 1152 : 576;
    f->len = (size_t)((ver == 3 ? 144000UL : 72000UL) * kbps / f->rate) +
             ((p[2] >> 1) & 1);
    f->mono = (p[3] >> 6) == 3;
    return 1;
}

static int mpa_same(const mpa_frame *a, const mpa_frame *b)
{
    return a->version == b->version && a->rate == b->rate;
}

/* A header at off that is followed by a matching header, or whose frame
 * ends at (or within 4 bytes of) the end of the data. One header alone is
 * only 11 sync bits plus a few fields: too easy to find in noise. */
static int mpa_confirmed(const unsigned char *b, size_t n, size_t off,
                         mpa_frame *f)
{
    mpa_frame g;
    size_t next;
    if (!mpa_header(b + off, n - off, f) || f->len > n - off)
        return 0;
    next = off + f->len;
    if (n - next < 4)
        return 1;
    return mpa_header(b + next, n - next, &g) && mpa_same(f, &g);
}

/* A frame start at off in b[0, n) that the next header confirms; fills *frame. */
typedef int (*frame_check)(const unsigned char *b, size_t n, size_t off, void *frame,
                           const void *want);

/* First confirmed frame in [from, from + scan) (from <= size). */
static uint64_t find_frame(win *w, uint64_t from, uint64_t scan, frame_check check,
                           void *frame, const void *want)
{
    uint64_t end = w->size - from > scan ? from + scan : w->size;
    while (from < end) {
        size_t avail, i;
        size_t step = end - from < SCAN_STEP ? (size_t)(end - from) : SCAN_STEP;
        const unsigned char *p = win_at(w, from, step + LOOK, &avail);
        if (avail == 0)
            break;
        if (step > avail)
            step = avail;
        for (i = 0; i < step; i++)
            if (p[i] == 0xFF && check(p, avail, i, frame, want))
                return from + i;
        from += step;
    }
    return NOT_FOUND;
}

static int mpa_check(const unsigned char *b, size_t n, size_t off, void *frame,
                     const void *want)
{
    return mpa_confirmed(b, n, off, frame) && (!want || mpa_same(want, frame));
}

/* Xing/Info or VBRI frame count in the frame at p; 0 if none. *tagged is
 * set when the frame is such a header frame (it carries no audio). The
 * whole frame is there: it was confirmed. */
static uint32_t mpa_vbr_frames(const unsigned char *p, const mpa_frame *f,
                               int *tagged)
{
    size_t side, x, flen = f->len;
    *tagged = 0;
    /* Xing sits right after the side information. */
    side = f->version == 3 ? (f->mono ? 17 : 32) : (f->mono ? 9 : 17);
    x = 4 + side;
    if (flen >= x + 8 && (memcmp(p + x, "Xing", 4) == 0 ||
                          memcmp(p + x, "Info", 4) == 0)) {
        *tagged = 1;
        if ((be32(p + x + 4) & 1) && flen >= x + 12)
            return be32(p + x + 8);
        return 0;
    }
    /* VBRI (Fraunhofer) is at a fixed 32 bytes after the header. */
    if (flen >= 36 + 18 && memcmp(p + 36, "VBRI", 4) == 0) {
        *tagged = 1;
        return be32(p + 36 + 14);
    }
    return 0;
}

static double mp3_duration(win *w)
{
    mpa_frame first, f;
    uint64_t off, start, frames = 0;
    uint32_t vbr;
    int tagged;
    const unsigned char *p;
    size_t avail;

    start = skip_id3v2(w);
    if (start >= w->size)
        return -1.0;
    off = find_frame(w, start, FIRST_FRAME_SCAN, mpa_check, &first, NULL);
    if (off == NOT_FOUND)
        return -1.0;
    p = win_at(w, off, LOOK, &avail);
    if (avail < first.len) /* only after a read error */
        return -1.0;
    vbr = mpa_vbr_frames(p, &first, &tagged);
    if (vbr > 0)
        return (double)vbr * first.spf / first.rate;
    if (tagged) /* header frame without a count: walk, not counting it */
        off += first.len;

    while (off < w->size) {
        p = win_at(w, off, LOOK, &avail);
        if (mpa_header(p, avail, &f) && mpa_same(&first, &f)) {
            if (f.len > avail) /* truncated last frame */
                break;
            frames++;
            off += f.len;
            continue;
        }
        if (w->size - off == 128 && has(p, avail, "TAG", 3)) /* ID3v1 */
            break;
        off = find_frame(w, off + 1, RESYNC_GAP, mpa_check, &f, &first);
        if (off == NOT_FOUND)
            break;
    }
    if (frames == 0)
        return -1.0;
    return (double)frames * first.spf / first.rate;
}

/* ---- AAC in ADTS ---- */

static const unsigned adts_rates[16] = {96000, 88200, 64000, 48000, 44100,
                                        32000, 24000, 22050, 16000, 12000,
                                        11025, 8000,  7350,  0,     0,
                                        0};

typedef struct {
    unsigned rate_index;
    unsigned blocks; /* raw data blocks of 1024 samples */
    size_t len;
} adts_frame;

static int adts_header(const unsigned char *p, size_t avail, adts_frame *f)
{
    size_t hdr;
    /* 12 sync bits, then ID, then layer which is always 00. */
    if (avail < 7 || p[0] != 0xFF || (p[1] & 0xF6) != 0xF0)
        return 0;
    f->rate_index = (p[2] >> 2) & 0xF;
    if (adts_rates[f->rate_index] == 0)
        return 0;
    hdr = (p[1] & 1) ? 7 : 9; /* protection_absent=0 adds a CRC */
    f->len = ((size_t)(p[3] & 3) << 11) | ((size_t)p[4] << 3) | (p[5] >> 5);
    f->blocks = (p[6] & 3) + 1u;
    return f->len >= hdr;
}

static int adts_confirmed(const unsigned char *b, size_t n, size_t off,
                          adts_frame *f)
{
    adts_frame g;
    size_t next;
    if (!adts_header(b + off, n - off, f) || f->len > n - off)
        return 0;
    next = off + f->len;
    if (n - next < 7)
        return 1;
    return adts_header(b + next, n - next, &g) &&
           g.rate_index == f->rate_index;
}

static int adts_check(const unsigned char *b, size_t n, size_t off, void *frame,
                      const void *want)
{
    (void)want;
    return adts_confirmed(b, n, off, frame);
}

static double aac_duration(win *w)
{
    adts_frame first, f;
    uint64_t off = skip_id3v2(w), samples = 0;
    const unsigned char *p;
    size_t avail;

    if (off >= w->size)
        return -1.0;
    off = find_frame(w, off, FIRST_FRAME_SCAN, adts_check, &first, NULL);
    if (off == NOT_FOUND)
        return -1.0;
    while (off < w->size) {
        p = win_at(w, off, LOOK, &avail);
        if (adts_header(p, avail, &f) && f.rate_index == first.rate_index) {
            if (f.len > avail)
                break;
            samples += 1024u * f.blocks;
            off += f.len;
            continue;
        }
        off = find_frame(w, off + 1, RESYNC_GAP, adts_check, &f, NULL);
        if (off == NOT_FOUND || f.rate_index != first.rate_index)
            break;
    }
    if (samples == 0)
        return -1.0;
    return (double)samples / adts_rates[first.rate_index];
}

/* ---- WAV ---- */

/* Formats whose samples all have the size the fmt chunk gives: the length
 * follows from rate, channels and bits alone. */
static int wav_fixed_size(unsigned tag)
{
    return tag == 1 /* PCM */ || tag == 3 /* float */ || tag == 6 /* A-law */ ||
           tag == 7 /* mu-law */;
}

static double wav_duration(win *w)
{
    const unsigned char *p;
    size_t avail;
    uint64_t off = 12, body, left, data = 0;
    uint32_t size, rate = 0, byte_rate = 0, fact = 0;
    unsigned tag = 0, channels = 0, bits = 0;
    int have_fmt = 0, have_data = 0;

    p = win_at(w, 0, 12, &avail);
    if (avail < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WAVE", 4) != 0)
        return -1.0;
    /* Each step moves at least 8 bytes: at most size/8 chunks. */
    while (w->size - off >= 8) {
        p = win_at(w, off, 8 + 40, &avail);
        size = le32(p + 4);
        body = off + 8;
        left = w->size - body;
        if (memcmp(p, "fmt ", 4) == 0) {
            if (size < 16 || left < 16)
                return -1.0;
            tag = le16(p + 8);
            channels = le16(p + 10);
            rate = le32(p + 12);
            byte_rate = le32(p + 16);
            bits = le16(p + 22);
            /* WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID. */
            if (tag == 0xFFFE && size >= 40 && left >= 40)
                tag = le16(p + 8 + 24);
            have_fmt = 1;
        } else if (memcmp(p, "fact", 4) == 0 && size >= 4 && left >= 4) {
            fact = le32(p + 8);
        } else if (memcmp(p, "data", 4) == 0) {
            /* 0 and 0xFFFFFFFF are what streaming writers leave when they
             * never come back to fill the size in: the data runs to the end.
             * A size past the end (a cut file) is clamped to it. */
            data = (size == 0 || size == 0xFFFFFFFFu || size > left) ? left : size;
            have_data = 1;
            if (data == left)
                break;
        }
        if (size >= left) /* chunk runs to (or past) the end */
            break;
        off = body + size + (size & 1); /* chunks are padded to even size */
    }
    if (!have_fmt || !have_data || rate == 0)
        return -1.0;
    if (wav_fixed_size(tag)) {
        if (channels == 0 || bits == 0)
            return -1.0;
        return (double)data / ((double)channels * ((bits + 7) / 8)) / rate;
    }
    /* Compressed: the sample count of the fact chunk, else the byte rate. */
    if (fact > 0)
        return (double)fact / rate;
    if (byte_rate > 0)
        return (double)data / byte_rate;
    return -1.0;
}

/* ---- ISO BMFF (M4A) ---- */

typedef struct {
    unsigned char type[4];
    uint64_t body, end; /* end clamped to the enclosing data */
} bmff_box;

/* Box at off within [.., end) (off <= end <= size); 0 when no valid box
 * header is there. */
static int bmff_box_at(win *w, uint64_t end, uint64_t off, bmff_box *box)
{
    uint64_t size, room = end - off;
    size_t hdr = 8, avail;
    const unsigned char *p;
    if (room < 8)
        return 0;
    p = win_at(w, off, 16, &avail);
    if (avail < 8)
        return 0;
    size = be32(p);
    if (size == 1) { /* 64-bit size follows the type */
        if (room < 16 || avail < 16)
            return 0;
        size = be64(p + 8);
        hdr = 16;
    } else if (size == 0) { /* extends to the end of the enclosing data */
        size = room;
    }
    if (size < hdr)
        return 0;
    memcpy(box->type, p + 4, 4);
    box->body = off + hdr;
    box->end = size < room ? off + size : end;
    return 1;
}

static double mvhd_duration(win *w, const bmff_box *box)
{
    size_t avail;
    const unsigned char *p = win_at(w, box->body, 32, &avail);
    uint64_t len = box->end - box->body, dur;
    uint32_t scale;
    if (len > avail)
        len = avail;
    if (len < 1)
        return -1.0;
    if (p[0] == 1) {
        if (len < 32)
            return -1.0;
        scale = be32(p + 20);
        dur = be64(p + 24);
        if (dur == UINT64_MAX) /* "unknown" */
            return -1.0;
    } else {
        if (len < 20)
            return -1.0;
        scale = be32(p + 12);
        dur = be32(p + 16);
        if (dur == UINT32_MAX)
            return -1.0;
    }
    if (scale == 0)
        return -1.0;
    return (double)dur / scale;
}

static double m4a_duration(win *w)
{
    bmff_box top, child;
    uint64_t off = 0, in;
    /* Boxes are at least 8 bytes: at most size/8 of them at each level. */
    while (bmff_box_at(w, w->size, off, &top)) {
        if (memcmp(top.type, "moov", 4) == 0) {
            in = top.body;
            while (bmff_box_at(w, top.end, in, &child)) {
                if (memcmp(child.type, "mvhd", 4) == 0)
                    return mvhd_duration(w, &child);
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
static uint64_t ogg_resync(win *w, uint64_t off)
{
    while (w->size - off >= 27) {
        size_t avail, lim, i;
        const unsigned char *p = win_at(w, off, SCAN_STEP, &avail);
        if (avail < 27)
            return w->size;
        lim = avail - 3; /* a match needs 4 bytes */
        if (lim > w->size - off - 26)
            lim = (size_t)(w->size - off - 26);
        for (i = 0; i < lim; i++)
            if (p[i] == 'O' && memcmp(p + i, "OggS", 4) == 0)
                return off + i;
        off += lim;
    }
    return off;
}

static double ogg_duration(win *w)
{
    uint64_t off, seg_end, body, preskip = 0, granule = 0, g;
    size_t avail, i, nseg, pkt_len;
    const unsigned char *p, *pkt;
    uint32_t serial;
    double rate;
    int have = 0;

    /* The first page carries the codec id header of the first stream. */
    p = win_at(w, 0, LOOK, &avail);
    if (avail < 27 || memcmp(p, "OggS", 4) != 0 || p[4] != 0)
        return -1.0;
    nseg = p[26];
    if (27 + nseg > avail)
        return -1.0;
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
    if (rate <= 0.0)
        return -1.0;

    /* Walk every page (headers only) and keep the last granule of this
     * stream: cheaper to get right than a backwards search, still linear. */
    off = 0;
    while (w->size - off >= 27) {
        p = win_at(w, off, 27 + 255, &avail);
        if (memcmp(p, "OggS", 4) != 0 || p[4] != 0) {
            off = ogg_resync(w, off + 1); /* damaged data */
            continue;
        }
        nseg = p[26];
        seg_end = off + 27 + nseg;
        if (seg_end > w->size)
            break;
        body = 0;
        for (i = 27; i < 27 + nseg; i++)
            body += p[i];
        if (body > w->size - seg_end) /* truncated page: its granule is a lie */
            break;
        g = le64(p + 6);
        if (le32(p + 14) == serial && g != UINT64_MAX && !(g >> 63)) {
            granule = g;
            have = 1;
        }
        off = seg_end + body;
    }
    if (!have)
        return -1.0;
    if (granule <= preskip)
        return 0.0;
    return (double)(granule - preskip) / rate;
}

/* ---- measuring ---- */

double omh_media_measure_window(const omh_media_src *src, omh_media_type t,
                                size_t window)
{
    win w;
    double d;
    if (!omh_media_is_audio(t))
        return -1.0;
    if (window < MIN_WINDOW)
        window = MIN_WINDOW;
    if (src->size < window) /* the whole data fits: no bigger buffer */
        window = src->size ? (size_t)src->size : 1;
    w.src = src;
    w.buf = malloc(window);
    if (!w.buf)
        return OMH_MEDIA_READ_ERROR;
    w.cap = window;
    w.start = 0;
    w.len = 0;
    w.size = src->size;
    w.err = 0;
    switch (t) {
    case OMH_MEDIA_WAV: d = wav_duration(&w); break;
    case OMH_MEDIA_MP3: d = mp3_duration(&w); break;
    case OMH_MEDIA_OGG: d = ogg_duration(&w); break;
    case OMH_MEDIA_M4A: d = m4a_duration(&w); break;
    default: d = aac_duration(&w); break;
    }
    free(w.buf);
    return w.err ? OMH_MEDIA_READ_ERROR : d;
}

double omh_media_measure(const omh_media_src *src, omh_media_type t)
{
    return omh_media_measure_window(src, t, DEFAULT_WINDOW);
}

static long long mem_read_at(void *ud, uint64_t off, unsigned char *buf,
                             size_t n)
{
    const omh_media_mem *m = ud;
    if (off >= m->n)
        return 0;
    if (n > m->n - off)
        n = (size_t)(m->n - off);
    memcpy(buf, m->p + off, n);
    return (long long)n;
}

void omh_media_src_mem(omh_media_src *s, omh_media_mem *m,
                       const unsigned char *p, size_t n)
{
    m->p = p;
    m->n = n;
    s->read_at = mem_read_at;
    s->ud = m;
    s->size = n;
}

double omh_media_duration(const unsigned char *buf, size_t n,
                          omh_media_type t)
{
    omh_media_mem m;
    omh_media_src s;
    double d;
    if (!buf)
        return -1.0;
    omh_media_src_mem(&s, &m, buf, n);
    d = omh_media_measure(&s, t);
    return d < 0.0 ? -1.0 : d;
}

/* ---- sniffing ---- */

static int is_m4a_brand(const unsigned char *p)
{
    static const char brands[][5] = {"M4A ", "M4B ", "M4P ", "mp4a",
                                     "F4A ", "F4B "};
    size_t i;
    for (i = 0; i < sizeof brands / sizeof brands[0]; i++)
        if (memcmp(p, brands[i], 4) == 0)
            return 1;
    return 0;
}

static int is_avif_brand(const unsigned char *p)
{
    return memcmp(p, "avif", 4) == 0 || memcmp(p, "avis", 4) == 0;
}

static omh_media_type sniff_ftyp(const unsigned char *h, size_t n)
{
    uint32_t size = be32(h);
    size_t end, i;
    if (is_m4a_brand(h + 8))
        return OMH_MEDIA_M4A;
    if (is_avif_brand(h + 8))
        return OMH_MEDIA_AVIF;
    /* Compatible brands follow major brand and minor version. */
    end = (size == 0 || size > n) ? n : size;
    for (i = 16; end >= 4 && i <= end - 4; i += 4) {
        if (memcmp(h + i, "M4A ", 4) == 0)
            return OMH_MEDIA_M4A;
        if (is_avif_brand(h + i)) /* e.g. major "mif1", compatible "avif" */
            return OMH_MEDIA_AVIF;
    }
    return OMH_MEDIA_UNKNOWN;
}

omh_media_type omh_media_sniff(const unsigned char *h, size_t n)
{
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G',
                                         0x0D, 0x0A, 0x1A, 0x0A};
    mpa_frame mf;
    adts_frame af;
    size_t off;

    if (!h)
        return OMH_MEDIA_UNKNOWN;
    if (n > SNIFF_MAX)
        n = SNIFF_MAX;
    if (n >= 8 && memcmp(h, png, 8) == 0)
        return OMH_MEDIA_PNG;
    if (n >= 3 && h[0] == 0xFF && h[1] == 0xD8 && h[2] == 0xFF)
        return OMH_MEDIA_JPEG;
    if (has(h, n, "GIF87a", 6) || has(h, n, "GIF89a", 6))
        return OMH_MEDIA_GIF;
    if (n >= 12 && memcmp(h, "RIFF", 4) == 0) {
        if (memcmp(h + 8, "WEBP", 4) == 0)
            return OMH_MEDIA_WEBP;
        if (memcmp(h + 8, "WAVE", 4) == 0)
            return OMH_MEDIA_WAV;
        return OMH_MEDIA_UNKNOWN;
    }
    if (has(h, n, "OggS", 4))
        return OMH_MEDIA_OGG;
    if (n >= 12 && memcmp(h + 4, "ftyp", 4) == 0)
        return sniff_ftyp(h, n);

    off = id3v2_size(h, n);
    if (off > 0) {
        /* A tag larger than the head (cover art) hides the first frame; an
         * ID3v2 header alone is then good enough evidence of MP3. */
        if (off >= n)
            return OMH_MEDIA_MP3;
        while (off < n && h[off] == 0) /* uncounted padding */
            off++;
        if (off == n)
            return OMH_MEDIA_MP3;
    }
    /* A frame cut off by the end of the head is accepted on its header. */
    if (adts_header(h + off, n - off, &af) &&
        (af.len > n - off || adts_confirmed(h, n, off, &af)))
        return OMH_MEDIA_AAC;
    if (mpa_header(h + off, n - off, &mf) &&
        (mf.len > n - off || mpa_confirmed(h, n, off, &mf)))
        return OMH_MEDIA_MP3;
    return OMH_MEDIA_UNKNOWN;
}

/* ---- names ---- */

static const char *const media_names[OMH_MEDIA_COUNT] = {
    "unknown", "png", "jpeg", "webp", "gif", "avif",
    "wav",     "mp3", "ogg",  "m4a",  "aac"};
static const char *const media_mimes[OMH_MEDIA_COUNT] = {
    NULL,        "image/png",  "image/jpeg", "image/webp", "image/gif",
    "image/avif", "audio/wav", "audio/mpeg", "audio/ogg",  "audio/mp4",
    "audio/aac"};

const char *omh_media_mime(omh_media_type t)
{
    if ((unsigned)t >= sizeof media_mimes / sizeof media_mimes[0])
        return NULL;
    return media_mimes[t];
}

const char *omh_media_name(omh_media_type t)
{
    if ((unsigned)t >= sizeof media_names / sizeof media_names[0])
        return media_names[0];
    return media_names[t];
}

int omh_media_is_image(omh_media_type t)
{
    return t == OMH_MEDIA_PNG || t == OMH_MEDIA_JPEG || t == OMH_MEDIA_WEBP ||
           t == OMH_MEDIA_GIF || t == OMH_MEDIA_AVIF;
}

int omh_media_is_audio(omh_media_type t)
{
    return t == OMH_MEDIA_WAV || t == OMH_MEDIA_MP3 || t == OMH_MEDIA_OGG ||
           t == OMH_MEDIA_M4A || t == OMH_MEDIA_AAC;
}
