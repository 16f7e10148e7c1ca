/* The loop's small resources: idle easy handles kept for reuse, the
 * jitter source for backoff, curl's per-host limit, client numbers. */
#include <stdlib.h>

#include "loop_private.h"

CURL *omh_loop_easy(omh_loop *lp, unsigned long profile, int *same) {
  *same = 0;
  if (!lp->nidle) {
    CURL *e = curl_easy_init();
    if (e) omh_loop_sockets_adopt(lp, e);
    return e;
  }
  /* A handle last set up for the same client and request shape keeps its
   * options: re-setting ~25 of them after a reset costs ~10% of a poll. */
  size_t top = lp->nidle - 1;
  for (size_t i = top, n = 0; profile && n < 8; i--, n++) {
    if (lp->idle_profile[i] == profile) {
      CURL *e = lp->idle[i];
      lp->idle[i] = lp->idle[top];
      lp->idle_profile[i] = lp->idle_profile[top];
      lp->nidle--;
      *same = 1;
      return e;
    }
    if (i == 0) break;
  }
  CURL *e = lp->idle[--lp->nidle];
  curl_easy_reset(e);
  omh_loop_sockets_adopt(lp, e);
  return e;
}

void omh_loop_release_easy(omh_loop *lp, CURL *e, unsigned long profile) {
  /* Keep a modest pool; a handle costs ~10 KB and 10,000 sleeping jobs hold none. */
  if (lp->nidle < 64 && !lp->closed) {
    if (lp->nidle == lp->capidle) {
      size_t cap = lp->capidle ? lp->capidle * 2 : 16;
      CURL **p = realloc(lp->idle, cap * sizeof *p);
      if (p) lp->idle = p;
      unsigned long *q = p ? realloc(lp->idle_profile, cap * sizeof *q) : NULL;
      if (q) lp->idle_profile = q;
      if (!p || !q) {
        curl_easy_cleanup(e);
        return;
      }
      lp->capidle = cap;
    }
    /* No pointer into a finished operation stays behind in the pool. */
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
    lp->idle_profile[lp->nidle] = profile;
    lp->idle[lp->nidle++] = e;
  } else {
    curl_easy_cleanup(e);
  }
}

double omh_loop_jitter(omh_loop *lp) {
  /* xorshift32: enough to spread retries apart. */
  unsigned x = lp->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  lp->rng = x ? x : 2463534242u;
  return (double)(x % 1000000u) / 1000000.0;
}

/* Our lanes bound each client exactly; curl's own per-host limit only has
 * to stay out of their way. */
void omh_loop_set_max_host(omh_loop *lp, long n) {
  if (n <= lp->max_host_connections) return;
  lp->max_host_connections = n;
  curl_multi_setopt(lp->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n);
  lp->maxconnects = n * 2 > 16 ? n * 2 : 16;
  curl_multi_setopt(lp->multi, CURLMOPT_MAXCONNECTS, lp->maxconnects);
}

unsigned long omh_loop_new_serial(omh_loop *lp) { return ++lp->cfg_serial; }
