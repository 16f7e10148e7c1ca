/* Keeping the API key out of everything that leaves the library: error
 * messages, request ids, decoded answers, events. Whatever comes from a
 * server is redacted before it is cut. A "piece" is any run of
 * OMH_REDACT_MIN or more bytes that also occurs in the key, anywhere in the
 * string (a sender may echo the key whole, cut it, or quote a middle part):
 * every byte covered by some piece is replaced, so no piece survives. */
#ifndef OMH_REDACT_H
#define OMH_REDACT_H

#include <stddef.h>
#include <stdint.h>

#define OMH_REDACTED "[redacted]"
#define OMH_REDACT_MIN 4 /* shorter keys (or pieces) are not looked for */

/* A key made ready for scanning: its 4-byte windows hashed into a 1024-bit
 * set, and the bytes it holds. A client makes one for its key (config.c),
 * so that an answer's scan builds nothing; the functions below that take
 * the key itself build one per call. It tells much about the key: wiped
 * with it. */
typedef struct omh_redactor {
  const unsigned char *key; /* not owned; NULL or short: nothing is redacted */
  size_t kn;
  uint32_t bits[32];
  uint32_t bytes[8];
} omh_redactor;

/* Prepares r for key (which must outlive r). */
void omh_redactor_init(omh_redactor *r, const char *key);
/* omh_redact_copy and omh_redact_suspect with a prepared key. */
size_t omh_redactor_copy(const omh_redactor *r, const char *in, size_t n, char *out, size_t cap);
int omh_redactor_suspect(const omh_redactor *r, const char *s, size_t n);

/* Copies n bytes of `in` into `out` (cap >= 1 bytes, NUL-terminated) with
 * every run of bytes covered by pieces of `key` replaced by OMH_REDACTED,
 * then cut to fit; the result holds no piece (checked, not assumed: text
 * next to a marker or a cut is looked at again). A NULL or short key only
 * copies and cuts. Returns the length. */
size_t omh_redact_copy(const char *key, const char *in, size_t n, char *out, size_t cap);

/* Whether s (n bytes) holds a piece of the key: what omh_redact_copy would
 * change. */
int omh_redact_needed(const char *key, const char *s, size_t n);

/* Whether s (n bytes) may hold a piece of the key once decoded (JSON
 * escapes included): a cheap test before walking a decoded answer. */
int omh_redact_suspect(const char *key, const char *s, size_t n);

/* Whether s (n bytes) holds the whole key. */
int omh_redact_holds_key(const char *key, const char *s, size_t n);

#endif
