#include "redact.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The key's 4-byte windows, hashed into a 1024-bit set: one probe per byte
 * of a scanned string, and an exact look into the key only on a hit. Every
 * piece of 4+ bytes is a chain of such windows, so marking each window
 * found in the key marks every piece. */
typedef omh_redactor grams;

static uint32_t window_at(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned slot_of(uint32_t w) { return (unsigned)((w * 2654435761u) >> 22); }

void omh_redactor_init(omh_redactor *g, const char *key) {
  memset(g, 0, sizeof *g);
  g->key = (const unsigned char *)key;
  g->kn = key ? strlen(key) : 0;
  if (g->kn < OMH_REDACT_MIN) return;
  for (size_t i = 0; i + OMH_REDACT_MIN <= g->kn; i++) {
    unsigned s = slot_of(window_at(g->key + i));
    g->bits[s >> 5] |= 1u << (s & 31);
  }
  for (size_t i = 0; i < g->kn; i++) g->bytes[g->key[i] >> 5] |= 1u << (g->key[i] & 31);
}

static int ready(const grams *g) { return g->kn >= OMH_REDACT_MIN; }

#if OMH_REDACT_MIN != 4
#error "first_piece and window_at read windows of 4 bytes"
#endif

static int key_byte(const grams *g, unsigned char c) { return (g->bytes[c >> 5] >> (c & 31)) & 1u; }

static int maybe_in_key(const grams *g, uint32_t w) {
  unsigned s = slot_of(w);
  return (g->bits[s >> 5] >> (s & 31)) & 1u;
}

static int window_in_key(const grams *g, uint32_t w) {
  for (size_t i = 0; i + OMH_REDACT_MIN <= g->kn; i++)
    if (window_at(g->key + i) == w) return 1;
  return 0;
}

static int in_key(const grams *g, const unsigned char *p) {
  uint32_t w = window_at(p);
  return maybe_in_key(g, w) && window_in_key(g, w);
}

/* Offset of the first window of s found in the key, or n if none. Every
 * answer is scanned so. A window in the key holds only bytes the key
 * holds: a byte that is not one rules out the (up to) four windows over
 * it, so the scan looks at the last byte of a window first and jumps past
 * such a byte (most bytes of an answer, for most keys); only a window of
 * key bytes is looked up, in the set and then in the key. */
static size_t first_piece(const grams *g, const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i + OMH_REDACT_MIN <= n) {
    if (!key_byte(g, s[i + 3]))
      i += 4;
    else if (!key_byte(g, s[i + 2]))
      i += 3;
    else if (!key_byte(g, s[i + 1]))
      i += 2;
    else if (!key_byte(g, s[i]))
      i += 1;
    else if (in_key(g, s + i))
      return i;
    else
      i++;
  }
  return n;
}

static size_t put(char *out, size_t o, size_t room, const void *src, size_t len) {
  size_t c = len < room - o ? len : room - o;
  memcpy(out + o, src, c);
  return o + c;
}

/* One pass: runs of bytes covered by windows in the key become one marker. */
static size_t redact_once(const grams *g, const unsigned char *in, size_t n, char *out, size_t room) {
  size_t o = 0, i = 0;
  while (i < n && o < room) {
    size_t hit = i + first_piece(g, in + i, n - i);
    o = put(out, o, room, in + i, hit - i);
    if (hit >= n) break;
    /* Extend over every window that overlaps or touches the run. */
    size_t end = hit + OMH_REDACT_MIN;
    for (size_t j = hit + 1; j < end && j + OMH_REDACT_MIN <= n; j++)
      if (in_key(g, in + j)) end = j + OMH_REDACT_MIN;
    o = put(out, o, room, OMH_REDACTED, sizeof OMH_REDACTED - 1);
    i = end;
  }
  return o;
}

size_t omh_redactor_copy(const omh_redactor *g, const char *in, size_t n, char *out, size_t cap) {
  size_t room = cap - 1, o;
  if (!ready(g)) {
    o = put(out, 0, room, in, n);
    out[o] = '\0';
    return o;
  }
  o = redact_once(g, (const unsigned char *)in, n, out, room);
  /* A marker or the cut next to plain text makes new windows: look again.
   * A key that shares windows with the marker itself ends as "". */
  for (int pass = 0; pass < 3 && first_piece(g, (const unsigned char *)out, o) < o; pass++) {
    char *again = malloc(o ? o : 1);
    if (!again) {
      o = 0;
      break;
    }
    memcpy(again, out, o);
    o = redact_once(g, (const unsigned char *)again, o, out, room);
    free(again);
  }
  if (first_piece(g, (const unsigned char *)out, o) < o) o = 0;
  out[o] = '\0';
  return o;
}

size_t omh_redact_copy(const char *key, const char *in, size_t n, char *out, size_t cap) {
  grams g;
  omh_redactor_init(&g, key);
  return omh_redactor_copy(&g, in, n, out, cap);
}

int omh_redact_needed(const char *key, const char *s, size_t n) {
  grams g;
  omh_redactor_init(&g, key);
  return ready(&g) && first_piece(&g, (const unsigned char *)s, n) < n;
}

int omh_redactor_suspect(const omh_redactor *g, const char *s, size_t n) {
  if (!ready(g)) return 0;
  return memchr(s, '\\', n) != NULL || first_piece(g, (const unsigned char *)s, n) < n;
}

int omh_redact_suspect(const char *key, const char *s, size_t n) {
  grams g;
  omh_redactor_init(&g, key);
  return omh_redactor_suspect(&g, s, n);
}

int omh_redact_holds_key(const char *key, const char *s, size_t n) {
  size_t kn = key ? strlen(key) : 0;
  for (size_t i = 0; kn && i + kn <= n; i++)
    if (memcmp(s + i, key, kn) == 0) return 1;
  return 0;
}
