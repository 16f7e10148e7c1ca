/* The loop: one curl multi handle, an epoll set of its sockets, a timer
 * heap, a pool of idle easy handles, and per-client admission lanes.
 * Driving it never blocks longer than the earliest deadline and never spins. */
#ifndef OMH_LOOP_H
#define OMH_LOOP_H

#include <curl/curl.h>
#include "compat.h"
#include "timers.h"

struct omh_op;

/* Admission: requests of one client to one kind of host (the API, or result
 * downloads) wait here, FIFO, holding no easy handle, until fewer than `cap`
 * of them are in curl. A lane is linked into its loop's list exactly while
 * its queue is non-empty, so a queued op (which holds its client's config)
 * keeps the lane alive for as long as the loop can see it. */
typedef struct omh_lane {
  int cap, inflight;
  struct omh_op *head, *tail;
  struct omh_lane *next, *prev; /* in the loop's list of lanes with a queue */
  int linked;
} omh_lane;

typedef struct omh_loop {
  CURLM *multi;
  int epfd;                   /* curl's sockets: what a drive blocks on */
  int outer_fd;               /* pollfd(): epfd + notice_fd, for host event loops */
  int notice_fd;              /* eventfd: readable while finish notices wait */
  double curl_deadline;       /* < 0: curl wants no timeout */
  omh_timers timers;
  CURL **idle;                /* easy handles kept for reuse */
  unsigned long *idle_profile; /* what each was last set up for (0: nothing reusable) */
  unsigned long cfg_serial;   /* numbers clients, so a profile never names a freed one */
  size_t nidle, capidle;
  struct omh_op *live;        /* every op bound to this loop, for close */
  struct omh_op *notify;      /* ops with progress to report after a drive */
  omh_lane *lanes;            /* lanes with queued requests */
  int json_ref;               /* registry: {decode=, encode=, null=} private cjson */
  int done_ref;               /* registry: weak-keyed set of ops finished since take_done */
  int wakeup_ref;             /* registry: fn() for hosts that cannot watch outer_fd */
  int ndone;                  /* finish notices since take_done */
  int wake_due;               /* a notice came outside a drive: call wakeup at a safe point */
  int driving;                /* re-entrancy guard: callbacks may call step() */
  int closed;
  int free_deferred;          /* closed inside a drive: the drive frees on its way out */
  long max_host_connections;
  unsigned rng;               /* jitter for backoff; no shared global state */
  int nactive;                /* ops anchored while in flight */
  int ntransfers;             /* easy handles in the multi handle */
} omh_loop;

#define OMH_LOOP_MT "omnihuman.loop"

int omh_loop_open(lua_State *L);
omh_loop *omh_checkloop(lua_State *L, int idx);

/* Non-blocking when block <= 0; otherwise waits at most `block` seconds
 * (bounded by the earliest deadline) for sockets or timers. The caller
 * keeps the loop's userdata on the stack (callbacks may drop every other
 * reference to it). */
void omh_loop_drive(omh_loop *lp, lua_State *L, double block);
/* Seconds until the loop next wants attention; < 0 when nothing is armed;
 * 0 when finish notices wait for take_done or a queued request can start. */
double omh_loop_timeout(omh_loop *lp);

/* The same, leaving finish notices out: when the loop's own work next
 * needs a drive (what an operation's timeout() reports). */
double omh_loop_next_deadline(omh_loop *lp);

/* A handle from the pool: *same = 1 when it is already set up for `profile`,
 * else it is reset (or new). */
CURL *omh_loop_easy(omh_loop *lp, unsigned long profile, int *same);
void omh_loop_release_easy(omh_loop *lp, CURL *e, unsigned long profile);
double omh_loop_jitter(omh_loop *lp);       /* uniform in [0,1) */
void omh_loop_set_max_host(omh_loop *lp, long n);

/* Lanes. */
void omh_lane_init(omh_lane *ln, int cap);
void omh_loop_enqueue(omh_loop *lp, omh_lane *ln, struct omh_op *op);
void omh_loop_dequeue(omh_loop *lp, struct omh_op *op);

/* Records that the op whose userdata is on top of the stack finished (pops
 * it): adds it to the done set and makes outer_fd readable. */
void omh_loop_post_done(omh_loop *lp, lua_State *L);
/* Called at the end of a Lua-facing C function that may have finished
 * operations outside a drive: runs the host's wakeup function, if any. */
void omh_loop_safe_point(omh_loop *lp, lua_State *L);

#endif
