/* An operation: one piece of work in flight (create, poll, wait, download,
 * sleep), a userdata pollable in the cqueues protocol. Each kind is a class
 * (op_create.c, op_status.c, op_download.c, op_sleep.c) whose struct starts
 * with an omh_op; this file is their common life.
 *
 * Lifetimes: whatever calls into Lua on behalf of an op (a callback, an
 * event) may see it cancelled, closed, its client closed or its loop closed
 * before the call returns. So the loop pins an op's userdata on the stack
 * while it works on it, every call into Lua returns whether the op is still
 * alive, and C touches nothing of a dead op's state. */
#ifndef OMH_OP_H
#define OMH_OP_H

#include "compat.h"
#include "config.h"
#include "loop.h"
#include "task.h"
#include "transfer.h"

typedef struct omh_op omh_op;

enum {
  OMH_CLASS_BILLED = 1,  /* a request that may have left can cost money */
  OMH_CLASS_TO_FILE = 2, /* answers go to a file, with progress reports */
  OMH_CLASS_API = 4      /* talks to the API: needs the key */
};

typedef struct omh_op_class {
  const char *name;
  unsigned flags;
  size_t size;                                /* the class's struct, omh_op first */
  void (*on_done)(omh_op *op, lua_State *L);  /* its transfer ended */
  void (*on_timer)(omh_op *op, lua_State *L); /* its own timer fired (not a retry's) */
  void (*on_abort)(omh_op *op);               /* ended early: drop partial results */
  void (*on_free)(omh_op *op);                /* closed: free the class's own fields */
  /* Closing with its result on top of the stack: keep the job id a billed
   * request made (a close must not lose a paid job), and read it back. */
  void (*keep_job)(omh_op *op, lua_State *L);
  const char *(*kept_job)(const omh_op *op);
  void (*on_gc)(omh_op *op); /* the userdata goes: free what outlived close */
} omh_op_class;

struct omh_op {
  omh_task task; /* first: the loop's view (done and closed live there) */
  const omh_op_class *cls;
  omh_config *cfg; /* counted reference; NULL for sleep */
  omh_lane *lane;  /* its client's lane for this kind of request */
  omh_xfer x;
  char *url;
  double started, deadline; /* deadline < 0: none beyond per-request timeouts */
  int self_ref, result_ref; /* registry refs */
  int loop_ref;             /* keeps the loop alive while in flight */
  int cb_ref;               /* on_status / on_progress, or LUA_NOREF */
  int cb_err_ref;           /* what a callback raised; re-raised by result() */
  /* One word of flags: every op a sleeping job holds carries them. */
  unsigned ok : 1, anchored : 1;
  unsigned closed_maybe_created : 1; /* closed with a result that said maybe_created */
  unsigned retrying : 1;             /* the armed timer restarts the request */
  unsigned settling : 1;             /* abandoned: finish at the answer in flight, never retry */
  unsigned attempt : 8;              /* retries made for the current request (<= OMH_MAX_RETRIES) */
  unsigned unheard : 1;              /* never handed to Lua: its finish needs no notice, its owner
                                        keeps its result block (x.r) from one request to the next,
                                        its self_ref is its owner's (omh_op_renew), and so is its
                                        result_ref when set before it finishes (a slot its finish fills) */
};

/* op_run.c: a new op of class cls on loop lp (its userdata at loop_idx),
 * pushed and in flight (the loop keeps it alive until it finishes). */
omh_op *omh_op_new(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const omh_op_class *cls);
/* The closed op at op_idx (of a class of the same size) made anew as cls,
 * pushed like omh_op_new's, unheard: for C code that keeps an op nobody
 * else sees at registry ref kept_ref, and holds the loop on its stack while
 * the op is in flight. The op takes no anchors of its own: kept_ref is its
 * self_ref (never let go of by the op), and it holds no loop ref. */
omh_op *omh_op_renew(lua_State *L, int op_idx, int kept_ref, omh_loop *lp, omh_config *cfg,
                     const omh_op_class *cls);
/* The op at idx; raises "operation is closed" for a closed one. */
omh_op *omh_checkop(lua_State *L, int idx);
int omh_op_alive(const omh_op *op);
/* Pushes the op's loop while the op holds it (1), or nothing (0). */
int omh_op_pin_loop(omh_op *op, lua_State *L);

/* Sends the op's request (the "request" event first), now or when its
 * lane has room. An API op without a key ends with an "auth" error. */
void omh_op_start_request(omh_op *op, lua_State *L);
void omh_op_arm(omh_op *op, double when);
/* Schedule a retry of the current request if policy and deadline allow;
 * returns 1 when scheduled (the op may have died in the retry event). */
int omh_op_retry(omh_op *op, lua_State *L, const char *kind, long status, double retry_after);

/* Ending. */
void omh_op_finish_ok(omh_op *op, lua_State *L);     /* with the value on top (popped) */
void omh_op_finish_errobj(omh_op *op, lua_State *L); /* with the error object on top (popped) */
/* Pushes an error object, its message and request id redacted of the
 * client's key and then cut to size. */
void omh_op_push_error(omh_op *op, lua_State *L, const char *kind, const char *msg, long status,
                       const char *request_id, int retryable);
void omh_op_finish_err(omh_op *op, lua_State *L, const char *kind, const char *msg, long status,
                       const char *request_id, int retryable);
/* Ends op as cancelled (op:cancel, op:close, a closing loop, a raising
 * callback). A billed request that may have reached the server whole says
 * so: err.maybe_created = true. */
void omh_op_cancel(omh_op *op, lua_State *L, const char *why);
/* Whether a billed request may have reached the server whole. */
int omh_op_request_may_have_left(const omh_op *op);
/* Stops its transfer, queue place and timer; it stays bound to its loop. */
void omh_op_halt(omh_op *op);
/* Frees everything but the userdata memory; idempotent. */
void omh_op_close(lua_State *L, omh_op *op);

/* Calls into Lua (op_events.c). Each pops what it was given and returns
 * omh_op_alive(op) afterwards; a raising callback ends the op. */
int omh_op_event(omh_op *op, lua_State *L);               /* table on top -> on_event */
int omh_op_callback(omh_op *op, lua_State *L, int nargs); /* the op's own callback */
int omh_op_emit_request(omh_op *op, lua_State *L);
void omh_op_emit_retry(omh_op *op, lua_State *L, const char *kind, long status, double delay);
void omh_op_report_progress(omh_op *op, lua_State *L);

/* Ends every op of cfg still running on lp as op:cancel() would (waiters
 * hear of each; a create that may have reached the server says so), for
 * client:close() (op_lua.c). */
void omh_ops_cancel_config(lua_State *L, omh_loop *lp, const omh_config *cfg, const char *why);

/* Registers the operation type (op_lua.c). */
int omh_op_open(lua_State *L);

#endif
