/* libFuzzer target: the base64 encoder (src/base64.c). Every input is
 * encoded whole and in 3k-byte chunks, checked against the exact length and
 * alphabet, and decoded by an independent, deliberately plain decoder here;
 * the round trip must give the input back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

static int val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Strict RFC 4648 decoding; returns the decoded length or -1. */
static long decode(const char *s, size_t n, unsigned char *out) {
  size_t i, o = 0;
  if (n % 4) return -1;
  for (i = 0; i < n; i += 4) {
    int a = val(s[i]), b = val(s[i + 1]), c, d;
    int last = i + 4 == n;
    if (a < 0 || b < 0) return -1;
    out[o++] = (unsigned char)(a << 2 | b >> 4);
    if (last && s[i + 2] == '=') {
      if (s[i + 3] != '=' || (b & 15)) return -1; /* non-canonical padding bits */
      break;
    }
    c = val(s[i + 2]);
    if (c < 0) return -1;
    out[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
    if (last && s[i + 3] == '=') {
      if (c & 3) return -1;
      break;
    }
    d = val(s[i + 3]);
    if (d < 0) return -1;
    out[o++] = (unsigned char)((c & 3) << 6 | d);
  }
  return (long)o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t len = omh_b64_encoded_len(size);
  if (len != (size + 2) / 3 * 4) abort();
  /* Exact-size buffers: any write or read past the end is an ASan report. */
  char *enc = malloc(len ? len : 1);
  char *enc2 = malloc(len ? len : 1);
  unsigned char *dec = malloc(size ? size : 1);
  size_t w = omh_b64_encode(enc, data, size);
  if (w != len) abort();
  for (size_t i = 0; i < len; i++)
    if (val(enc[i]) < 0 && !(enc[i] == '=' && i + 2 >= len)) abort();
  long d = decode(enc, len, dec);
  if (d != (long)size || (size && memcmp(dec, data, size) != 0)) abort();
  /* Streaming in chunks of 3k bytes (as body.c does) gives the same text. */
  size_t chunk = 3 * (1 + (size ? data[0] % 17 : 0)), off = 0, pos = 0;
  while (off < size) {
    size_t k = size - off < chunk ? size - off : chunk;
    /* Each chunk from its own exact-size copy: catches reads past a chunk. */
    unsigned char *part = malloc(k);
    memcpy(part, data + off, k);
    pos += omh_b64_encode(enc2 + pos, part, k);
    free(part);
    off += k;
  }
  if (pos != len || (len && memcmp(enc, enc2, len) != 0)) abort();
  free(enc);
  free(enc2);
  free(dec);
  return 0;
}
