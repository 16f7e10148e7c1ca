/* A growable byte buffer with a hard cap, for HTTP answers: a hostile or
 * broken server must not make us buffer without bound. */
#ifndef OMH_BUF_H
#define OMH_BUF_H

#include <stdlib.h>
#include <string.h>

typedef struct omh_buf {
  char *data;
  size_t len, cap;
} omh_buf;

/* Appends n bytes; returns 0, or -1 when memory or `limit` would be exceeded. */
static inline int omh_buf_append(omh_buf *b, const void *p, size_t n, size_t limit) {
  if (n > limit || b->len > limit - n) return -1;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

static inline void omh_buf_reset(omh_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

static inline void omh_buf_free(omh_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

#endif
