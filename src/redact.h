/* Keeping the API key out of everything that leaves the library: error
 * messages, request ids, decoded answers, events. Whatever comes from a
 * server is redacted before it is cut, so no cut can leave a piece of the
 * key behind; a piece a sender cut itself (4 bytes or more at either end of
 * a string) is dropped too. */
#ifndef OMH_REDACT_H
#define OMH_REDACT_H

#include <stddef.h>

#define OMH_REDACTED "[redacted]"
#define OMH_REDACT_MIN 4 /* shorter keys (or pieces) are not looked for */

/* Copies n bytes of `in` into `out` (cap >= 1 bytes, NUL-terminated) with
 * every occurrence of `key` replaced by OMH_REDACTED, then cuts to fit, then
 * drops a start of the key left at the end (or an end of it left at the
 * start). A NULL or short key only copies and cuts. Returns the length. */
size_t omh_redact_copy(const char *key, const char *in, size_t n, char *out, size_t cap);

/* Whether s (n bytes) holds the key or a piece of it at either end: what
 * omh_redact_copy would change. */
int omh_redact_needed(const char *key, const char *s, size_t n);

/* Whether s (n bytes) may hold the key or a piece of it once decoded (JSON
 * escapes included): a cheap test before walking a decoded answer. */
int omh_redact_suspect(const char *key, const char *s, size_t n);

#endif
