/* An operation at work: made, started (through its lane), retried, and
 * its side of the loop's task contract (task.h). */
#include <math.h>
#include <string.h>

#include "clock.h"
#include "op.h"

static const omh_task_ops task_ops;

/* op->attempt counts up to max_retries in 8 bits. */
typedef char omh_attempt_fits[OMH_MAX_RETRIES <= 255 ? 1 : -1];

static omh_op *of(omh_task *t) { return (omh_op *)t; }

/* Fills op as a new operation of cls, its anchors not yet taken. */
static void op_init(omh_op *op, omh_loop *lp, omh_config *cfg, const omh_op_class *cls) {
  memset(op, 0, cls->size);
  op->cls = cls;
  op->self_ref = op->result_ref = op->cb_ref = op->cb_err_ref = op->loop_ref = LUA_NOREF;
  omh_xfer_init(&op->x, OMH_XFER_API_GET, cfg);
  op->deadline = -1;
  op->started = omh_now();
  omh_loop_bind(lp, &op->task, &task_ops);
  if (cfg) omh_config_retain(cfg);
  op->cfg = cfg;
  op->anchored = 1;
}

omh_op *omh_op_new(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const omh_op_class *cls) {
  if (loop_idx < 0) loop_idx = lua_gettop(L) + loop_idx + 1;
  omh_op *op = omh_newuserdata(L, cls->size);
  luaL_getmetatable(L, OMH_OP_MT);
  lua_setmetatable(L, -2);
  op_init(op, lp, cfg, cls);
  lua_pushvalue(L, loop_idx);
  op->loop_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  /* In flight until finished: the loop keeps it alive. */
  lua_pushvalue(L, -1);
  op->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return op;
}

omh_op *omh_op_renew(lua_State *L, int op_idx, int kept_ref, omh_loop *lp, omh_config *cfg,
                     const omh_op_class *cls) {
  omh_op *op = lua_touserdata(L, op_idx);
  omh_op_close(L, op); /* a no-op for the closed op it should be */
  lua_pushvalue(L, op_idx);
  op_init(op, lp, cfg, cls);
  op->self_ref = kept_ref; /* borrowed: its keeper's, never let go of by the op */
  op->unheard = 1;
  return op;
}

/* ---- requests ---- */

void omh_op_start_request(omh_op *op, lua_State *L) {
  if (!omh_op_alive(op)) return;
  if ((op->cls->flags & OMH_CLASS_API) && !(op->cfg->api_key && *op->cfg->api_key)) {
    omh_op_finish_err(op, L, "auth", "no API key: pass api_key to omnihuman.new or set AIMLAPI_KEY", 0, NULL,
                      0);
    return;
  }
  /* The event comes first: a callback that raises stops the request from
   * ever leaving, rather than hiding the answer to a billed one. */
  if (!omh_op_emit_request(op, L)) return;
  /* A request never outlives the operation's deadline, queued or in flight. */
  if (op->deadline >= 0) omh_op_arm(op, op->deadline);
  omh_loop_submit(&op->task, op->lane, op->x.kind == OMH_XFER_API_POST, L);
}

void omh_op_arm(omh_op *op, double when) { omh_loop_arm(&op->task, when); }

int omh_op_retry(omh_op *op, lua_State *L, const char *kind, long status, double retry_after) {
  if (op->settling || !op->cfg || op->attempt >= op->cfg->max_retries || !op->task.loop) return 0;
  /* Exponential backoff with jitter (half to full step), capped at 30 s. */
  double step = 0.5 * pow(2.0, op->attempt);
  if (step > 30) step = 30;
  double delay = step * (0.5 + 0.5 * omh_loop_jitter(op->task.loop));
  if (retry_after >= 0) delay = retry_after > 300 ? 300 : retry_after;
  double when = omh_now() + delay;
  if (op->deadline >= 0 && when > op->deadline) return 0;
  op->attempt++;
  op->retrying = 1;
  omh_op_arm(op, when);
  omh_op_emit_retry(op, L, kind, status, delay); /* scheduled either way */
  return 1;
}

/* ---- the task contract ---- */

static int task_pin(omh_task *t, lua_State *L) {
  omh_op *op = of(t);
  if (op->self_ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, op->self_ref);
  return 1;
}

static void task_launch(omh_task *t, lua_State *L) {
  omh_op *op = of(t);
  int same;
  unsigned long profile = omh_xfer_profile(&op->x);
  int perform = omh_loop_may_perform(t->loop, t);
  CURL *e = perform ? omh_loop_perform_easy(t->loop, profile, &same) : omh_loop_easy(t->loop, profile, &same);
  if (!e) {
    omh_op_finish_err(op, L, "network", "curl_easy_init failed", 0, NULL, 1);
    return;
  }
  op->x.budget = omh_loop_upload_budget(t->loop);
  if (omh_xfer_setup(&op->x, e, same) != 0) {
    omh_loop_release_easy(t->loop, e, 0);
    omh_op_finish_err(op, L, "network", "out of memory", 0, NULL, 1);
    return;
  }
  unsigned long owner = op->cfg ? op->cfg->serial : 0;
  if (perform) {
    omh_loop_perform(t, e, profile, owner, L);
    return;
  }
  CURLMcode mc = omh_loop_start_transfer(t, e, profile, owner);
  if (mc != CURLM_OK) {
    omh_loop_release_easy(t->loop, e, 0);
    omh_op_finish_err(op, L, "network", curl_multi_strerror(mc), 0, NULL, 1);
  }
}

static void task_collect(omh_task *t, CURL *e, CURLcode code) { omh_xfer_collect(&of(t)->x, e, code); }

static void task_transfer_done(omh_task *t, lua_State *L) {
  omh_op *op = of(t);
  omh_op_report_progress(op, L);
  if (omh_op_alive(op)) op->cls->on_done(op, L);
  /* The answer is judged by now (a closed op freed it already). */
  if (!op->unheard) omh_xfer_settle(&op->x);
}

static void task_timer_fired(omh_task *t, lua_State *L) {
  omh_op *op = of(t);
  if (!omh_op_alive(op)) return;
  if (op->retrying) {
    op->retrying = 0;
    omh_op_start_request(op, L);
    return;
  }
  if (t->easy) {
    /* The deadline came while a request was still in flight. */
    omh_op_finish_err(op, L, "timeout", "deadline reached while a request was in flight", 0, NULL, 1);
    return;
  }
  op->cls->on_timer(op, L);
}

static void task_progress(omh_task *t, lua_State *L) { omh_op_report_progress(of(t), L); }

static void task_loop_closing(omh_task *t, lua_State *L) {
  omh_op *op = of(t);
  if (!t->done) omh_op_cancel(op, L, "the loop was closed");
  omh_op_halt(op);
  if (!t->done && op->cls->on_abort) op->cls->on_abort(op);
  omh_loop_unbind(t);
}

static const omh_task_ops task_ops = {task_pin,         task_launch,   task_collect,     task_transfer_done,
                                      task_timer_fired, task_progress, task_loop_closing};
