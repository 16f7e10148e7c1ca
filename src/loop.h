/* The loop: one curl multi handle, an epoll set of its sockets, a timer
 * heap, and a pool of idle easy handles. Driving it never blocks longer
 * than the earliest deadline and never spins. */
#ifndef OMH_LOOP_H
#define OMH_LOOP_H

#include <curl/curl.h>
#include "compat.h"
#include "timers.h"

struct omh_op;

typedef struct omh_loop {
  CURLM *multi;
  int epfd;
  double curl_deadline;       /* < 0: curl wants no timeout */
  omh_timers timers;
  CURL **idle;                /* easy handles kept for reuse */
  unsigned long *idle_profile; /* what each was last set up for (0: nothing reusable) */
  unsigned long cfg_serial;   /* numbers clients, so a profile never names a freed one */
  size_t nidle, capidle;
  struct omh_op *live;        /* every op bound to this loop, for close */
  struct omh_op *notify;      /* ops with progress to report after a drive */
  int json_ref;               /* registry: {decode=, encode=, null=} private cjson */
  int done_ref;               /* registry: weak-keyed set of ops finished since take_done */
  int driving;                /* re-entrancy guard: callbacks may call step() */
  int closed;
  long max_host_connections;
  unsigned rng;               /* jitter for backoff; no shared global state */
  int nactive;                /* ops anchored while in flight */
  /* Transfers handed to curl are capped (2 x max_host_connections): the rest
   * wait here, FIFO, holding no easy handle. curl's own pending list is
   * scanned linearly on every curl_multi_remove_handle (7.x), and each
   * easy handle costs ~20 KB, so thousands queued inside curl cost O(n^2)
   * CPU and O(n) x 20 KB of memory. */
  struct omh_op *queue_head, *queue_tail;
  int xfers, max_xfers;
} omh_loop;

#define OMH_LOOP_MT "omnihuman.loop"

int omh_loop_open(lua_State *L);
omh_loop *omh_checkloop(lua_State *L, int idx);

/* Non-blocking when block <= 0; otherwise waits at most `block` seconds
 * (bounded by the earliest deadline) for sockets or timers. */
void omh_loop_drive(omh_loop *lp, lua_State *L, double block);
/* Seconds until the loop next wants attention; < 0 when nothing is armed. */
double omh_loop_timeout(omh_loop *lp);

/* A handle from the pool: *same = 1 when it is already set up for `profile`,
 * else it is reset (or new). */
CURL *omh_loop_easy(omh_loop *lp, unsigned long profile, int *same);
void omh_loop_release_easy(omh_loop *lp, CURL *e, unsigned long profile);
double omh_loop_jitter(omh_loop *lp);       /* uniform in [0,1) */
void omh_loop_set_max_host(omh_loop *lp, long n);
/* Starts queued requests while transfer slots are free. */
void omh_loop_admit(omh_loop *lp, lua_State *L);

#endif
