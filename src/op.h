/* An operation: one piece of work in flight (create, poll, wait, download,
 * sleep). Pollable in the cqueues protocol; advanced only by driving the
 * loop. The userdata is the struct itself; while it is in flight the loop
 * anchors it (self_ref) so a dropped operation still finishes cleanly. */
#ifndef OMH_OP_H
#define OMH_OP_H

#include <curl/curl.h>
#include "compat.h"
#include "buf.h"
#include "timers.h"
#include "loop.h"
#include "client.h"

#define OMH_OP_MT "omnihuman.operation"

typedef enum { OMH_OP_CREATE, OMH_OP_POLL, OMH_OP_WAIT, OMH_OP_DOWNLOAD, OMH_OP_SLEEP } omh_op_kind;

/* What one HTTP exchange produced. */
typedef struct omh_xfer {
  CURL *easy;                 /* non-NULL while in flight */
  CURLcode code;
  long status;
  int sent;                   /* request bytes left this process */
  omh_buf body;               /* API answers only (capped) */
  double retry_after;         /* seconds, < 0 when absent */
  /* Only while a request is in flight or being judged (freed after on_done):
   * ~350 B that 10,000 sleeping jobs need not carry. */
  struct omh_xscratch {
    char request_id[96];
    char error[CURL_ERROR_SIZE];
  } *s;
  int fd;                     /* download sink, -1 otherwise */
  int write_failed;
  curl_off_t got, total;      /* download progress; total < 0 unknown */
  curl_off_t reported;        /* got at the last on_progress call */
  unsigned long profile;      /* how the easy handle is set up (see omh_loop_easy) */
} omh_xfer;

typedef struct omh_op omh_op;

typedef struct omh_op_class {
  const char *name;
  int billed;                                  /* a request that may have left can cost money */
  void (*on_done)(omh_op *op, lua_State *L);   /* transfer finished */
  void (*on_timer)(omh_op *op, lua_State *L);  /* timer fired */
  void (*on_abort)(omh_op *op);                /* cancelled or collected: drop resources */
} omh_op_class;

struct omh_op {
  const omh_op_class *cls;
  omh_op_kind kind;
  omh_loop *loop;             /* NULL once the loop is gone */
  omh_config *cfg;            /* counted reference; NULL for sleep */
  omh_op *live_next, *live_prev, *notify_next;
  int notify_queued;
  omh_op *queue_next, *queue_prev;  /* waiting in its lane for a transfer slot */
  int queued;
  omh_lane *lane;             /* its client's lane for this kind of request */
  omh_timer timer;
  omh_xfer x;
  int state;                  /* kind-specific */
  int done, ok, closed, anchored;
  int closed_maybe_created;   /* closed with a result that said maybe_created */
  int self_ref, result_ref;   /* registry refs */
  int loop_ref;               /* keeps the loop alive while in flight */
  int cb_ref;                 /* on_status / on_progress, or LUA_NOREF */
  int cb_err_ref;             /* what a callback raised; re-raised by result() */
  int attempt;                /* retries made for the current request */
  int retrying;               /* the armed timer restarts the request */
  int settling;               /* abandoned: finish at the answer in flight, never retry */
  double started, deadline;   /* deadline < 0: none beyond per-request timeouts */
  /* request description */
  char *url;
  struct omh_body *body;      /* create: the POST body, read while sending; NULL for GET */
  /* kind-specific */
  char *job_id;
  char *target, *tmp;         /* download */
  curl_off_t max_bytes;       /* download: a larger body is refused */
  double interval;            /* wait */
  char last_status[32];       /* wait */
  int polls;                  /* wait */
};

omh_op *omh_op_new(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const omh_op_class *cls, omh_op_kind kind);
omh_op *omh_checkop(lua_State *L, int idx);

/* Lifetimes: whatever calls into Lua on behalf of an op (a callback, an
 * event) may see it cancelled, closed, its client closed or its loop closed
 * before the call returns. So the loop pins an op's userdata on the stack
 * while it works on it (omh_op_pin), and every call into Lua returns
 * whether the op is still alive; C touches nothing of a dead op's state. */
int omh_op_alive(const omh_op *op);
/* Pushes the userdata of an op in flight (1), or nothing (0). */
int omh_op_pin(omh_op *op, lua_State *L);

/* Start the op's HTTP request (url/post/headers as set on the op). */
void omh_op_start_request(omh_op *op, lua_State *L);
/* Hands a queued op's request to curl now (the loop admits it). */
void omh_op_launch(omh_op *op, lua_State *L);
void omh_op_arm(omh_op *op, double when);
/* Finish with the value on top of the stack (popped). */
void omh_op_finish_ok(omh_op *op, lua_State *L);
/* Pushes an error object built from the arguments, its message and request
 * id redacted of the client's key and then cut to size. */
void omh_op_push_error(omh_op *op, lua_State *L, const char *kind, const char *msg, long status,
                       const char *request_id, int retryable);
/* Finish with an error object built from the arguments (as above). */
void omh_op_finish_err(omh_op *op, lua_State *L, const char *kind, const char *msg, long status,
                       const char *request_id, int retryable);
/* Finish with the error object on top of the stack (popped). */
void omh_op_finish_errobj(omh_op *op, lua_State *L);
/* Ends op as cancelled (by op:cancel, op:close, a closing loop, a raising
 * callback). A billed request that may have reached the server says so:
 * err.maybe_created = true. */
void omh_op_cancel(omh_op *op, lua_State *L, const char *why);
/* Schedule a retry of the current request if policy and deadline allow;
 * returns 1 when scheduled (the op may have died in the retry event). */
int omh_op_retry(omh_op *op, lua_State *L, const char *kind, long status, double retry_after);
/* Report an event to the client's on_event, if any: table on top is popped.
 * Returns omh_op_alive(op) afterwards. */
int omh_op_event(omh_op *op, lua_State *L);
/* Call the op's own callback (cb_ref) with nargs on the stack; a raise
 * ends the op and is re-raised by result(). Returns omh_op_alive(op). */
int omh_op_callback(omh_op *op, lua_State *L, int nargs);
void omh_op_detach(omh_op *op);      /* loop is going away */
/* Called by the loop: a transfer of op finished / op's timer fired. */
void omh_op_transfer_done(omh_op *op, lua_State *L);
void omh_op_timer_fired(omh_op *op, lua_State *L);
/* Queue op for a progress report after the current drive. */
void omh_op_queue_notify(omh_op *op);
void omh_op_flush_progress(omh_op *op, lua_State *L);

int omh_op_open(lua_State *L);

#endif
