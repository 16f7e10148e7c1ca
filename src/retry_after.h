/* Retry-After header values (RFC 9110 section 10.2.3). */
#ifndef OMH_RETRY_AFTER_H
#define OMH_RETRY_AFTER_H

#include <stddef.h>
#include <time.h>

/* Seconds to wait from a Retry-After header value: delta-seconds, or an
 * HTTP-date (IMF-fixdate, RFC 850, asctime) relative to now. Dates in the
 * past give 0. Returns -1.0 when unparsable. Leading/trailing whitespace
 * allowed. value need not be NUL-terminated. */
double omh_retry_after_parse(const char *value, size_t len, time_t now);

#endif
