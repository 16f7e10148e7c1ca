/* The loop: one curl multi handle, an epoll set of its sockets, a timer
 * heap, a pool of idle easy handles, admission lanes, and the notices of
 * finished work. It drives tasks (task.h) and knows nothing else of them.
 * Driving it never blocks longer than the earliest deadline and never spins. */
#ifndef OMH_LOOP_H
#define OMH_LOOP_H

#include <curl/curl.h>

#include "compat.h"
#include "task.h"
#include "timers.h"

typedef struct omh_loop {
  CURLM *multi;
  int epfd;            /* curl's sockets: what a drive blocks on */
  unsigned char *sock; /* per descriptor: how it stands in epfd (loop_sockets.c) */
  int nsock;
  int outer_fd;         /* pollfd(): epfd + notice_fd, for host event loops */
  int notice_fd;        /* eventfd: readable while finish notices wait */
  int watched;          /* pollfd() was handed out: a host may be watching it */
  int notice_raised;    /* notice_fd was written since the last take_done */
  double curl_deadline; /* < 0: curl wants no timeout */
  omh_timers timers;
  CURL **idle;                 /* easy handles kept for reuse */
  unsigned long *idle_profile; /* what each was last set up for (0: nothing reusable) */
  unsigned long cfg_serial;    /* numbers clients, so a profile never names a freed one */
  size_t nidle, capidle;
  omh_task *live;   /* every task bound to this loop, for close */
  omh_task *notify; /* tasks with progress to report after a drive */
  omh_lane *lanes;  /* lanes with queued requests */
  int done_ref;     /* registry: weak-keyed set of ops finished since take_done */
  int wakeup_ref;   /* registry: fn() for hosts that cannot watch outer_fd */
  int ndone;        /* finish notices since take_done */
  int wake_due;     /* a notice came outside a drive: call wakeup at a safe point */
  int driving;      /* re-entrancy guard: callbacks may call step() */
  int closed;
  int free_deferred; /* closed inside a drive: the drive frees on its way out */
  long max_host_connections;
  unsigned rng;   /* jitter for backoff; no shared global state */
  int nactive;    /* tasks in flight */
  int ntransfers; /* easy handles in the multi handle */
} omh_loop;

#define OMH_LOOP_MT "omnihuman.loop"

omh_loop *omh_checkloop(lua_State *L, int idx);

/* Driving. Non-blocking when block <= 0; otherwise waits at most `block`
 * seconds (bounded by the earliest deadline) for sockets or timers. The
 * caller keeps the loop's userdata on the stack (callbacks may drop every
 * other reference to it). */
void omh_loop_drive(omh_loop *lp, lua_State *L, double block);
/* Seconds until the loop next wants attention; < 0 when nothing is armed;
 * 0 when finish notices wait for take_done or a queued request can start. */
double omh_loop_timeout(omh_loop *lp);
/* The same, leaving finish notices out: when the loop's own work next
 * needs a drive (what a task's owner reports as its timeout). */
double omh_loop_next_deadline(omh_loop *lp);
/* Raises inside a callback of lp's drive: nothing can finish until it returns. */
void omh_loop_check_may_block(omh_loop *lp, lua_State *L);
/* Drives lp, blocking without spinning, until t has finished (returns 1)
 * or lp closed (0). Raises inside a callback of the loop. */
int omh_loop_run_until(omh_loop *lp, lua_State *L, omh_task *t);

/* Tasks. */
void omh_loop_bind(omh_loop *lp, omh_task *t, const omh_task_ops *ops);
/* Stops t's transfer, queue place and timer; t stays bound. */
void omh_loop_stop(omh_task *t);
/* No longer counted as active work (it finished). */
void omh_loop_retire(omh_task *t);
/* Stops t and lets go of it for good. */
void omh_loop_unbind(omh_task *t);
/* Starts t's request now (launch) or queues it in lane ln when full. */
void omh_loop_submit(omh_task *t, omh_lane *ln, lua_State *L);
/* From launch: hands the set-up handle to curl. Returns CURLM_OK, or an
 * error with nothing changed (the handle is the caller's again). */
CURLMcode omh_loop_start_transfer(omh_task *t, CURL *e, unsigned long profile);
void omh_loop_arm(omh_task *t, double when);
/* Progress to report after the current drive (called from curl's callbacks). */
void omh_loop_progress(omh_task *t);

/* The easy-handle pool: a handle already set up for `profile` when one is
 * idle (*same = 1), else a reset or new one. */
CURL *omh_loop_easy(omh_loop *lp, unsigned long profile, int *same);
/* Back to the pool, remembered as set up for `profile` (0: for nothing). */
void omh_loop_release_easy(omh_loop *lp, CURL *e, unsigned long profile);
double omh_loop_jitter(omh_loop *lp); /* uniform in [0,1) */
void omh_loop_set_max_host(omh_loop *lp, long n);
/* A new client's number, unique within the loop. */
unsigned long omh_loop_new_serial(omh_loop *lp);

/* Notices. Records that the op whose userdata is on top of the stack
 * finished (pops it): adds it to the done set, makes outer_fd readable. */
void omh_loop_post_done(omh_loop *lp, lua_State *L);
/* pollfd() is being handed out: from now on finish notices make it readable. */
void omh_loop_watch(omh_loop *lp);
/* Called at the end of a Lua-facing C function that may have finished
 * operations outside a drive: runs the host's wakeup function, if any. */
void omh_loop_safe_point(omh_loop *lp, lua_State *L);

/* For loop_lua.c: creation, closing. */
int omh_loop_init(omh_loop *lp);
/* Ends every task (waiters hear "cancelled") and marks the loop closed. */
void omh_loop_end(omh_loop *lp, lua_State *L);
/* Frees curl and the descriptors, now or when the current drive ends. */
void omh_loop_release(omh_loop *lp);
void omh_loop_call_wakeup(omh_loop *lp, lua_State *L);

/* curl's sockets in epfd (loop_sockets.c): the multi handle's socket
 * callback; every easy handle of the loop opens and closes its
 * connections through the loop; whether a ready descriptor is one curl
 * waits on (an idle one is dropped from the set instead). */
void omh_loop_sockets_init(omh_loop *lp);
void omh_loop_sockets_adopt(omh_loop *lp, CURL *e);
int omh_loop_socket_wanted(omh_loop *lp, int fd);
void omh_loop_sockets_free(omh_loop *lp);

/* Registers the loop type; pushes core.new_loop. */
int omh_loop_open(lua_State *L);

#endif
