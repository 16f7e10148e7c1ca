/* Base64 encoder throughput next to memcpy of the same buffer, same run.
 * Build: cc -O2 bench/base64_bench.c src/base64.c -o /tmp/b64bench */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/base64.h"

#define BUF_BYTES (20u * 1000u * 1000u) /* 20 MB, divisible by 3 */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The plain loop the table version replaces, for scale. */
static size_t scalar_encode(char *d, const unsigned char *s, size_t n) {
  static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i, o = 0;
  for (i = 0; i + 3 <= n; i += 3) {
    unsigned v = ((unsigned)s[i] << 16) | ((unsigned)s[i + 1] << 8) | s[i + 2];
    d[o++] = a[v >> 18];
    d[o++] = a[(v >> 12) & 63];
    d[o++] = a[(v >> 6) & 63];
    d[o++] = a[v & 63];
  }
  return o; /* n is a multiple of 3 here: no tail */
}

/* Keeps the compiler from dropping work whose result is never read. */
static volatile unsigned char sink;

int main(void) {
  size_t n = BUF_BYTES, i;
  unsigned char *src = malloc(n), *copy = malloc(n);
  char *out = malloc(omh_b64_encoded_len(n));
  unsigned long x = 88172645463325252UL;
  double t0, t, b64_mbs, cpy_mbs, sc_mbs;
  long reps;

  if (!src || !copy || !out) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  for (i = 0; i < n; i++) { /* xorshift: incompressible input */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    src[i] = (unsigned char)x;
  }
  omh_b64_encode(out, src, n); /* warm up: fault in pages */
  memcpy(copy, src, n);

  reps = 0;
  t0 = now_s();
  do {
    omh_b64_encode(out, src, n);
    sink = (unsigned char)out[reps % n];
    reps++;
  } while ((t = now_s() - t0) < 1.0);
  b64_mbs = (double)n * (double)reps / t / 1e6;

  reps = 0;
  t0 = now_s();
  do {
    memcpy(copy, src, n);
    sink = copy[reps % n];
    reps++;
  } while ((t = now_s() - t0) < 1.0);
  cpy_mbs = (double)n * (double)reps / t / 1e6;

  reps = 0;
  t0 = now_s();
  do {
    scalar_encode(out, src, n);
    sink = (unsigned char)out[reps % n];
    reps++;
  } while ((t = now_s() - t0) < 1.0);
  sc_mbs = (double)n * (double)reps / t / 1e6;

  printf("base64 encode: %8.0f MB/s (input bytes)\n", b64_mbs);
  printf("memcpy:        %8.0f MB/s\n", cpy_mbs);
  printf("ratio base64/memcpy: %.3f\n", b64_mbs / cpy_mbs);
  printf("(scalar 64-entry loop: %.0f MB/s)\n", sc_mbs);
  free(src);
  free(copy);
  free(out);
  return 0;
}
