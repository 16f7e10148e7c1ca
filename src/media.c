/* Content sniffing and audio duration. Inputs are untrusted: every read is
 * checked against the buffer end with subtraction (never `off + k > n`,
 * which can wrap), and every loop advances by at least one byte with no
 * rescanning, so work is linear in n. */
#include "media.h"

#include <stdint.h>
#include <string.h>

#define SNIFF_MAX 4096
/* Garbage tolerated between MPEG/ADTS frames before giving up: enough for a
 * stray tag or a damaged frame, small enough to stay cheap. */
#define RESYNC_GAP 4096
/* How far after an ID3v2 tag the first MPEG frame may start (padding some
 * taggers write without counting it in the tag size). */
#define FIRST_FRAME_SCAN 65536
#define NOT_FOUND ((size_t)-1)

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

/* Offset just past any leading ID3v2 tags (a few at most), which may be
 * beyond n for a tag that runs past the data. */
static size_t skip_id3v2(const unsigned char *b, size_t n)
{
    size_t off = 0, tag;
    int k;
    for (k = 0; k < 4 && off < n; k++) {
        tag = id3v2_size(b + off, n - off);
        if (tag == 0)
            break;
        if (tag > n - off)
            return n + 1; /* runs past the data */
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

/* First confirmed frame in [from, from + scan), matching `want` if given. */
static size_t mpa_find(const unsigned char *b, size_t n, size_t from,
                       size_t scan, const mpa_frame *want, mpa_frame *f)
{
    size_t i, end = n - from > scan ? from + scan : n;
    for (i = from; i < end; i++) {
        if (b[i] == 0xFF && mpa_confirmed(b, n, i, f) &&
            (!want || mpa_same(want, f)))
            return i;
    }
    return NOT_FOUND;
}

/* Xing/Info or VBRI frame count in the frame at off; 0 if none. *tagged is
 * set when the frame is such a header frame (it carries no audio). */
static uint32_t mpa_vbr_frames(const unsigned char *b, size_t off,
                               const mpa_frame *f, int *tagged)
{
    size_t side, x, flen = f->len; /* mpa_find checked the frame fits */
    const unsigned char *p = b + off;
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

static double mp3_duration(const unsigned char *b, size_t n)
{
    mpa_frame first, f;
    size_t off, start;
    uint64_t frames = 0;
    uint32_t vbr;
    int tagged;

    start = skip_id3v2(b, n);
    if (start >= n)
        return -1.0;
    off = mpa_find(b, n, start, FIRST_FRAME_SCAN, NULL, &first);
    if (off == NOT_FOUND)
        return -1.0;
    vbr = mpa_vbr_frames(b, off, &first, &tagged);
    if (vbr > 0)
        return (double)vbr * first.spf / first.rate;
    if (tagged) /* header frame without a count: walk, not counting it */
        off += first.len;

    while (off < n) {
        if (mpa_header(b + off, n - off, &f) && mpa_same(&first, &f)) {
            if (f.len > n - off) /* truncated last frame */
                break;
            frames++;
            off += f.len;
            continue;
        }
        if (n - off == 128 && memcmp(b + off, "TAG", 3) == 0) /* ID3v1 */
            break;
        off = mpa_find(b, n, off + 1, RESYNC_GAP, &first, &f);
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

static size_t adts_find(const unsigned char *b, size_t n, size_t from,
                        size_t scan, adts_frame *f)
{
    size_t i, end = n - from > scan ? from + scan : n;
    for (i = from; i < end; i++)
        if (b[i] == 0xFF && adts_confirmed(b, n, i, f))
            return i;
    return NOT_FOUND;
}

static double aac_duration(const unsigned char *b, size_t n)
{
    adts_frame first, f;
    size_t off = skip_id3v2(b, n);
    uint64_t samples = 0;

    if (off >= n)
        return -1.0;
    off = adts_find(b, n, off, FIRST_FRAME_SCAN, &first);
    if (off == NOT_FOUND)
        return -1.0;
    while (off < n) {
        if (adts_header(b + off, n - off, &f) &&
            f.rate_index == first.rate_index) {
            if (f.len > n - off)
                break;
            samples += 1024u * f.blocks;
            off += f.len;
            continue;
        }
        off = adts_find(b, n, off + 1, RESYNC_GAP, &f);
        if (off == NOT_FOUND || f.rate_index != first.rate_index)
            break;
    }
    if (samples == 0)
        return -1.0;
    return (double)samples / adts_rates[first.rate_index];
}

/* ---- WAV ---- */

static double wav_duration(const unsigned char *b, size_t n)
{
    size_t off = 12, body, avail, data = 0;
    uint32_t size;
    double byte_rate = 0.0;
    int have_fmt = 0, have_data = 0;

    if (n < 12 || memcmp(b, "RIFF", 4) != 0 || memcmp(b + 8, "WAVE", 4) != 0)
        return -1.0;
    /* Each step moves at least 8 bytes: at most n/8 chunks. */
    while (n - off >= 8) {
        size = le32(b + off + 4);
        body = off + 8;
        avail = n - body;
        if (memcmp(b + off, "fmt ", 4) == 0) {
            if (size < 16 || avail < 16)
                return -1.0;
            byte_rate = le32(b + body + 8);
            if (byte_rate == 0) /* derive from rate x block align */
                byte_rate = (double)le32(b + body + 4) * le16(b + body + 12);
            have_fmt = 1;
        } else if (memcmp(b + off, "data", 4) == 0) {
            /* Clamp: streamed or cut files overstate the size. */
            data = size < avail ? size : avail;
            have_data = 1;
        }
        if (size >= avail) /* chunk runs to (or past) the end */
            break;
        off = body + size + (size & 1); /* chunks are padded to even size */
    }
    if (!have_fmt || !have_data || byte_rate <= 0.0)
        return -1.0;
    return (double)data / byte_rate;
}

/* ---- ISO BMFF (M4A) ---- */

typedef struct {
    const unsigned char *type;
    size_t body, end; /* end clamped to the data */
} bmff_box;

/* Box at off within [.., end); 0 when no valid box header is there. */
static int bmff_box_at(const unsigned char *b, size_t end, size_t off,
                       bmff_box *box)
{
    uint64_t size, room = (uint64_t)(end - off);
    size_t hdr = 8;
    if (end - off < 8)
        return 0;
    size = be32(b + off);
    if (size == 1) { /* 64-bit size follows the type */
        if (end - off < 16)
            return 0;
        size = be64(b + off + 8);
        hdr = 16;
    } else if (size == 0) { /* extends to the end of the enclosing data */
        size = room;
    }
    if (size < hdr)
        return 0;
    box->type = b + off + 4;
    box->body = off + hdr;
    box->end = size < room ? off + (size_t)size : end;
    return 1;
}

static double mvhd_duration(const unsigned char *b, const bmff_box *box)
{
    const unsigned char *p = b + box->body;
    size_t len = box->end - box->body;
    uint64_t dur;
    uint32_t scale;
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

static double m4a_duration(const unsigned char *b, size_t n)
{
    bmff_box top, child;
    size_t off = 0, in;
    /* Boxes are at least 8 bytes: at most n/8 of them at each level. */
    while (bmff_box_at(b, n, off, &top)) {
        if (memcmp(top.type, "moov", 4) == 0) {
            in = top.body;
            while (bmff_box_at(b, top.end, in, &child)) {
                if (memcmp(child.type, "mvhd", 4) == 0)
                    return mvhd_duration(b, &child);
                in = child.end;
            }
            return -1.0;
        }
        off = top.end;
    }
    return -1.0;
}

/* ---- Ogg (Vorbis, Opus) ---- */

static double ogg_duration(const unsigned char *b, size_t n)
{
    size_t off, seg_end, body, i, pkt_len;
    const unsigned char *pkt;
    uint32_t serial;
    double rate;
    uint64_t preskip = 0, granule = 0, g;
    int have = 0;

    /* The first page carries the codec id header of the first stream. */
    if (n < 27 || memcmp(b, "OggS", 4) != 0 || b[4] != 0)
        return -1.0;
    seg_end = 27 + (size_t)b[26];
    if (seg_end > n)
        return -1.0;
    serial = le32(b + 14);
    pkt = b + seg_end;
    pkt_len = n - seg_end;
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
    while (n - off >= 27) {
        if (memcmp(b + off, "OggS", 4) != 0 || b[off + 4] != 0) {
            /* Damaged data: resync on the next capture pattern. */
            for (off++; n - off >= 27; off++)
                if (b[off] == 'O' && memcmp(b + off, "OggS", 4) == 0)
                    break;
            continue;
        }
        seg_end = off + 27 + (size_t)b[off + 26];
        if (seg_end > n)
            break;
        body = 0;
        for (i = off + 27; i < seg_end; i++)
            body += b[i];
        if (body > n - seg_end) /* truncated page: its granule is a lie */
            break;
        g = le64(b + off + 6);
        if (le32(b + off + 14) == serial && g != UINT64_MAX &&
            !(g >> 63)) {
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

static omh_media_type sniff_ftyp(const unsigned char *h, size_t n)
{
    uint32_t size = be32(h);
    size_t end, i;
    if (is_m4a_brand(h + 8))
        return OMH_MEDIA_M4A;
    /* Compatible brands follow major brand and minor version. */
    end = (size == 0 || size > n) ? n : size;
    for (i = 16; end >= 4 && i <= end - 4; i += 4)
        if (memcmp(h + i, "M4A ", 4) == 0)
            return OMH_MEDIA_M4A;
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

static const char *const media_names[] = {
    "unknown", "png", "jpeg", "webp", "gif", "wav", "mp3", "ogg", "m4a", "aac"};
static const char *const media_mimes[] = {
    NULL,        "image/png",  "image/jpeg", "image/webp", "image/gif",
    "audio/wav", "audio/mpeg", "audio/ogg",  "audio/mp4",  "audio/aac"};

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
           t == OMH_MEDIA_GIF;
}

int omh_media_is_audio(omh_media_type t)
{
    return t == OMH_MEDIA_WAV || t == OMH_MEDIA_MP3 || t == OMH_MEDIA_OGG ||
           t == OMH_MEDIA_M4A || t == OMH_MEDIA_AAC;
}

double omh_media_duration(const unsigned char *buf, size_t n,
                          omh_media_type t)
{
    if (!buf)
        return -1.0;
    switch (t) {
    case OMH_MEDIA_WAV: return wav_duration(buf, n);
    case OMH_MEDIA_MP3: return mp3_duration(buf, n);
    case OMH_MEDIA_OGG: return ogg_duration(buf, n);
    case OMH_MEDIA_M4A: return m4a_duration(buf, n);
    case OMH_MEDIA_AAC: return aac_duration(buf, n);
    default: return -1.0;
    }
}
