#include "redact.h"

#include <stdlib.h>
#include <string.h>

static const char *find(const char *h, size_t hn, const char *k, size_t kn) {
  if (kn == 0 || hn < kn) return NULL;
  const char *end = h + hn - kn;
  for (const char *p = h; p <= end; p++) {
    p = memchr(p, k[0], (size_t)(end - p) + 1);
    if (!p) return NULL;
    if (memcmp(p, k, kn) == 0) return p;
  }
  return NULL;
}

/* Length of the longest start of key (>= OMH_REDACT_MIN, shorter than the
 * key) that s ends with; 0 if none. */
static size_t tail_piece(const char *key, size_t kn, const char *s, size_t n) {
  for (size_t m = (kn - 1 < n ? kn - 1 : n); m >= OMH_REDACT_MIN; m--)
    if (memcmp(s + n - m, key, m) == 0) return m;
  return 0;
}

/* Length of the longest end of key (>= OMH_REDACT_MIN) that s starts with. */
static size_t head_piece(const char *key, size_t kn, const char *s, size_t n) {
  for (size_t m = (kn - 1 < n ? kn - 1 : n); m >= OMH_REDACT_MIN; m--)
    if (memcmp(s, key + kn - m, m) == 0) return m;
  return 0;
}

size_t omh_redact_copy(const char *key, const char *in, size_t n, char *out, size_t cap) {
  size_t kn = key ? strlen(key) : 0, o = 0, room = cap - 1;
  if (kn < OMH_REDACT_MIN) {
    o = n < room ? n : room;
    memcpy(out, in, o);
    out[o] = '\0';
    return o;
  }
  /* Edge pieces of the sender's own cuts first, on the whole input. */
  size_t head = head_piece(key, kn, in, n);
  size_t start = 0;
  if (head) {
    size_t m = sizeof OMH_REDACTED - 1 < room ? sizeof OMH_REDACTED - 1 : room;
    memcpy(out, OMH_REDACTED, m);
    o = m;
    start = head;
  }
  size_t stop = n - tail_piece(key, kn, in + start, n - start);
  int cut_tail = stop < n;
  const char *p = in + start, *end = in + stop;
  while (p < end && o < room) {
    const char *hit = find(p, (size_t)(end - p), key, kn);
    size_t plain = hit ? (size_t)(hit - p) : (size_t)(end - p);
    size_t c = plain < room - o ? plain : room - o;
    memcpy(out + o, p, c);
    o += c;
    if (!hit || c < plain) break;
    size_t m = sizeof OMH_REDACTED - 1 < room - o ? sizeof OMH_REDACTED - 1 : room - o;
    memcpy(out + o, OMH_REDACTED, m);
    o += m;
    p = hit + kn;
  }
  if (cut_tail && o < room) {
    size_t m = sizeof OMH_REDACTED - 1 < room - o ? sizeof OMH_REDACTED - 1 : room - o;
    memcpy(out + o, OMH_REDACTED, m);
    o += m;
  }
  /* Our own cut may have split the key: drop the piece it left. */
  o -= tail_piece(key, kn, out, o);
  out[o] = '\0';
  return o;
}

int omh_redact_suspect(const char *key, const char *s, size_t n) {
  size_t kn = key ? strlen(key) : 0;
  if (kn < OMH_REDACT_MIN) return 0;
  return memchr(s, '\\', n) != NULL || find(s, n, key, OMH_REDACT_MIN) != NULL ||
         find(s, n, key + kn - OMH_REDACT_MIN, OMH_REDACT_MIN) != NULL;
}

int omh_redact_needed(const char *key, const char *s, size_t n) {
  size_t kn = key ? strlen(key) : 0;
  if (kn < OMH_REDACT_MIN) return 0;
  return find(s, n, key, kn) || head_piece(key, kn, s, n) || tail_piece(key, kn, s, n);
}
