/* What the loop knows of a piece of work: a task. An operation embeds one
 * (as its first member) and implements its few callbacks; the loop never
 * sees anything else of it. Lanes are the admission queues tasks wait in. */
#ifndef OMH_TASK_H
#define OMH_TASK_H

#include <curl/curl.h>

#include "compat.h"
#include "timers.h"

struct omh_loop;
typedef struct omh_task omh_task;

/* The operation's side of the contract. The loop calls these from its
 * drive; each may call into Lua except collect. */
typedef struct omh_task_ops {
  /* Pushes the owner's userdata (so nothing frees it while the loop works
   * on it) and returns 1, or pushes nothing and returns 0. */
  int (*pin)(omh_task *t, lua_State *L);
  /* Admitted from its lane: set up a transfer and hand it to the loop. */
  void (*launch)(omh_task *t, lua_State *L);
  /* The transfer ended: note what curl knows of it (no Lua, no loop calls;
   * the handle is released right after). */
  void (*collect)(omh_task *t, CURL *e, CURLcode code);
  /* ... then judge it. */
  void (*transfer_done)(omh_task *t, lua_State *L);
  void (*timer_fired)(omh_task *t, lua_State *L);
  /* Bytes arrived since the last report (see omh_loop_progress). */
  void (*progress)(omh_task *t, lua_State *L);
  /* The loop is closing: end the work (waiters must hear) and let go of it. */
  void (*loop_closing)(omh_task *t, lua_State *L);
} omh_task_ops;

/* Requests of one client to one kind of host wait in a lane, FIFO, holding
 * no easy handle, until fewer than `cap` of them are in curl. A lane is in
 * its loop's list exactly while its queue is not empty, so a queued task
 * (whose owner holds the lane's owner) keeps it alive while the loop sees it. */
typedef struct omh_lane {
  int cap, inflight;
  omh_task *head, *tail;
  struct omh_lane *next, *prev; /* in the loop's list of lanes with a queue */
  int linked;
} omh_lane;

static inline void omh_lane_init(omh_lane *ln, int cap) {
  ln->cap = cap;
  ln->inflight = 0;
  ln->head = ln->tail = NULL;
  ln->next = ln->prev = NULL;
  ln->linked = 0;
}

/* The loop's fields in a task: only loop.c writes them. */
struct omh_task {
  const omh_task_ops *ops;
  struct omh_loop *loop; /* NULL once the loop let go of it */
  omh_timer timer;
  CURL *easy;            /* while its transfer is in curl */
  unsigned long owner;   /* the client (config serial, 0: none) its connections serve */
  unsigned long profile; /* how that easy handle is set up */
  omh_lane *lane;
  omh_task *queue_next, *queue_prev;
  int queued;
  int fresh; /* its request opens a connection of its own (a TLS handshake) */
  omh_task *live_next, *live_prev;
  omh_task *notify_next;
  int notify_queued;
  omh_task *paused_next; /* its upload waits for the next drive's bytes */
  int paused;
  int active; /* counted in the loop's active work */
  /* Kept by the owner, read by loop:run_until. */
  int done, closed;
};

/* Every userdata of this metatable starts with its omh_task. */
#define OMH_OP_MT "omnihuman.operation"

#endif
