/* libFuzzer target: Retry-After parsing (src/retry_after.c). Byte 0..7 pick
 * "now"; the rest is the header value, handed over unterminated. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "retry_after.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  time_t now = 1700000000; /* 2023-11-14 */
  if (size >= 4) {
    uint32_t v;
    memcpy(&v, data, 4);
    /* Anywhere from 1970 to ~2106, the range a real clock can be in. */
    now = (time_t)v;
    data += 4;
    size -= 4;
  }
  /* An exact-size copy without a NUL: the parser must honour len. */
  char *s = malloc(size ? size : 1);
  if (size) memcpy(s, data, size);
  double d = omh_retry_after_parse(s, size, now);
  if (!(d == -1.0 || (d >= 0.0 && isfinite(d)))) abort();
  /* Plain delta-seconds must come back as their value. */
  if (size >= 1 && size <= 9) {
    size_t i;
    double want = 0;
    for (i = 0; i < size && s[i] >= '0' && s[i] <= '9'; i++) want = want * 10 + (s[i] - '0');
    if (i == size && d != want) abort();
  }
  /* Surrounding whitespace does not change the answer. */
  char *t = malloc(size + 2);
  t[0] = ' ';
  if (size) memcpy(t + 1, s, size);
  t[size + 1] = '\t';
  double d2 = omh_retry_after_parse(t, size + 2, now);
  if (d2 != d &&
      !(size && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n' || s[size - 1] == ' ' ||
                 s[size - 1] == '\t' || s[size - 1] == '\r' || s[size - 1] == '\n')))
    abort();
  free(t);
  free(s);
  return 0;
}
