/* A bounded window over an omh_media_src: measuring a large file never holds
 * it whole in memory. */
#include "media_window.h"

#include <stdlib.h>

/* The window must hold one scan step plus the farthest look past it. */
#define MIN_WINDOW (LOOK + SCAN_STEP)

int omh_media_win_open(omh_media_win *w, const omh_media_src *src, size_t window) {
  if (window < MIN_WINDOW) window = MIN_WINDOW;
  if (src->size < window) /* the whole data fits: no bigger buffer */
    window = src->size ? (size_t)src->size : 1;
  w->src = src;
  w->buf = malloc(window);
  if (!w->buf) return -1;
  w->cap = window;
  w->start = 0;
  w->len = 0;
  w->size = src->size;
  w->err = 0;
  return 0;
}

void omh_media_win_close(omh_media_win *w) {
  free(w->buf);
  w->buf = NULL;
}

const unsigned char *omh_media_win_at(omh_media_win *w, uint64_t off, size_t need, size_t *avail) {
  uint64_t end;
  if (off >= w->size) {
    *avail = 0;
    return w->buf;
  }
  end = w->size - off < need ? w->size : off + need;
  if (off < w->start || end > w->start + w->len) {
    size_t want = w->size - off < w->cap ? (size_t)(w->size - off) : w->cap;
    long long r = w->src->read_at(w->src->ud, off, w->buf, want);
    if (r < 0) {
      w->err = 1;
      w->size = off;
      w->len = 0;
      *avail = 0;
      return w->buf;
    }
    w->start = off;
    w->len = (size_t)r;
    if ((size_t)r < want) /* the file is shorter than it was */
      w->size = off + (uint64_t)r;
  }
  *avail = (size_t)(w->start + w->len - off);
  return w->buf + (off - w->start);
}
