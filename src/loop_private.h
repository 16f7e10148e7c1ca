/* The loop's fields: only the loop's own files (loop.c, loop_lua.c,
 * loop_perform.c, loop_pool.c, loop_sockets.c, loop_uploads.c) include this; everything
 * else goes through loop.h. */
#ifndef OMH_LOOP_PRIVATE_H
#define OMH_LOOP_PRIVATE_H

#include "loop.h"
#include "transfer.h"

struct omh_loop {
  CURLM *multi;
  int epfd;                  /* curl's sockets: what a drive blocks on */
  unsigned char *sock;       /* per descriptor: how it stands in epfd (loop_sockets.c) */
  unsigned long *sock_owner; /* per descriptor: the client whose transfer used it last */
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
  unsigned rng;       /* jitter for backoff; no shared global state */
  double turn_budget; /* seconds of socket work and admissions per drive; 0: no bound */
  int backlog;        /* the last drive left ready sockets or admissions for the next */
  int fresh_started;  /* requests on fresh connections started since the last drive's curl calls */
  /* Uploads' body bytes per drive: the ones paused because a drive's
   * bytes were spent wait here, FIFO, to be resumed as the drive ends. */
  omh_upload_budget upload;
  omh_task *paused, *paused_tail;
  size_t upload_most;          /* most body bytes read in one drive so far */
  unsigned long upload_pauses; /* uploads paused by the budget so far */
  int nactive;                 /* tasks in flight */
  int ntransfers;              /* easy handles in the multi handle */
  /* The pool of connections, shared by the multi handle and the requests
   * performed at once (loop_perform.c), and that path's state. */
  CURLSH *share;
  long maxconnects;       /* the multi handle's, for a performed request's own */
  omh_task *perform_task; /* the task whose next launch may perform at once */
  CURL *perform_easy;     /* the handle for those, between two of them */
  unsigned long perform_profile;
  unsigned long perform_owner; /* while one is performed: its client, for new connections */
  /* While one is performed: the thread that waits, and its debug hook when
   * it began (lua.c turns Ctrl-C into a new hook: the request then ends). */
  lua_State *perform_L;
  lua_Hook perform_hook;
};

/* The uploads' bytes per drive (loop_uploads.c). */
void omh_loop_uploads_init(omh_loop *lp);
/* A drive starts at t0: its bytes and time are there to spend. */
void omh_loop_uploads_turn(omh_loop *lp, double t0);
/* A drive ends: some paused uploads go on. */
void omh_loop_uploads_resume(omh_loop *lp);
/* t's transfer leaves curl: it is paused no longer. Returns 1 when its
 * handle could not be unpaused (it must not be reused). */
int omh_loop_uploads_forget(omh_loop *lp, omh_task *t);

#endif
