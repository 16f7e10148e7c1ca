#include "timers.h"

#include <stdlib.h>

static void place(omh_timers *t, size_t i, omh_timer *tm) {
  t->heap[i] = tm;
  tm->slot = i + 1;
}

static void sift_up(omh_timers *t, size_t i) {
  omh_timer *tm = t->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (t->heap[parent]->when <= tm->when) break;
    place(t, i, t->heap[parent]);
    i = parent;
  }
  place(t, i, tm);
}

static void sift_down(omh_timers *t, size_t i) {
  omh_timer *tm = t->heap[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= t->n) break;
    if (child + 1 < t->n && t->heap[child + 1]->when < t->heap[child]->when) child++;
    if (t->heap[child]->when >= tm->when) break;
    place(t, i, t->heap[child]);
    i = child;
  }
  place(t, i, tm);
}

int omh_timers_arm(omh_timers *t, omh_timer *tm, double when) {
  if (tm->slot) omh_timers_disarm(t, tm);
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    omh_timer **h = realloc(t->heap, cap * sizeof *h);
    if (!h) return -1;
    t->heap = h;
    t->cap = cap;
  }
  tm->when = when;
  place(t, t->n++, tm);
  sift_up(t, t->n - 1);
  return 0;
}

void omh_timers_disarm(omh_timers *t, omh_timer *tm) {
  if (!tm->slot) return;
  size_t i = tm->slot - 1;
  tm->slot = 0;
  t->n--;
  if (i == t->n) return;
  place(t, i, t->heap[t->n]);
  /* The moved entry may belong above or below its new place. */
  sift_up(t, i);
  sift_down(t, t->heap[i]->slot - 1);
}

omh_timer *omh_timers_peek(const omh_timers *t) { return t->n ? t->heap[0] : NULL; }

void omh_timers_free(omh_timers *t) {
  for (size_t i = 0; i < t->n; i++) t->heap[i]->slot = 0;
  free(t->heap);
  t->heap = NULL;
  t->n = t->cap = 0;
}
