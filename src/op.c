/* The life of an operation: made, started, retried, finished, cancelled,
 * closed; and its side of the loop's task contract. */
#include "op.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "errors.h"
#include "redact.h"

static const omh_task_ops task_ops;

static omh_op *of(omh_task *t) { return (omh_op *)t; }

/* ---- making ---- */

omh_op *omh_op_new(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const omh_op_class *cls) {
  if (loop_idx < 0) loop_idx = lua_gettop(L) + loop_idx + 1;
  omh_op *op = lua_newuserdata(L, cls->size);
  memset(op, 0, cls->size);
  op->cls = cls;
  op->self_ref = op->result_ref = op->cb_ref = op->cb_err_ref = op->loop_ref = LUA_NOREF;
  lua_pushvalue(L, loop_idx);
  op->loop_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  omh_xfer_init(&op->x, OMH_XFER_API_GET, cfg);
  op->deadline = -1;
  op->started = omh_now();
  luaL_getmetatable(L, OMH_OP_MT);
  lua_setmetatable(L, -2);
  omh_loop_bind(lp, &op->task, &task_ops);
  if (cfg) omh_config_retain(cfg);
  op->cfg = cfg;
  /* In flight until finished: the loop keeps it alive. */
  lua_pushvalue(L, -1);
  op->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  op->anchored = 1;
  return op;
}

omh_op *omh_checkop(lua_State *L, int idx) {
  omh_op *op = luaL_checkudata(L, idx, OMH_OP_MT);
  if (op->task.closed) luaL_error(L, "omnihuman: operation is closed");
  return op;
}

int omh_op_alive(const omh_op *op) {
  return !op->task.done && !op->task.closed && op->task.loop && !op->task.loop->closed;
}

int omh_op_pin_loop(omh_op *op, lua_State *L) {
  if (!op->task.loop || op->loop_ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, op->loop_ref);
  return 1;
}

/* ---- ending ---- */

static void release_anchor(omh_op *op, lua_State *L) {
  if (!op->anchored) return;
  op->anchored = 0;
  omh_loop_retire(&op->task);
  if (op->task.loop) {
    /* Tell the dispatcher this one finished: O(finished), never a scan. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->self_ref);
    omh_loop_post_done(op->task.loop, L);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, op->self_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, op->loop_ref);
  op->self_ref = op->loop_ref = LUA_NOREF;
}

/* Stops the transfer, queue place and timer; the op stays bound. */
static void halt(omh_op *op) {
  omh_loop_stop(&op->task);
  op->x.easy = NULL;
  op->retrying = 0;
}

static void finish(omh_op *op, lua_State *L, int ok) {
  if (op->task.done) {
    lua_pop(L, 1);
    return;
  }
  halt(op);
  if (op->cls->on_abort && !ok) op->cls->on_abort(op);
  op->task.done = 1;
  op->ok = ok;
  /* Finished work holds no request body (paths, fields, a read chunk)
   * until the collector gets to the operation. */
  omh_body_free(op->x.body);
  op->x.body = NULL;
  op->result_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  release_anchor(op, L);
}

void omh_op_finish_ok(omh_op *op, lua_State *L) { finish(op, L, 1); }

void omh_op_finish_errobj(omh_op *op, lua_State *L) { finish(op, L, 0); }

void omh_op_push_error(omh_op *op, lua_State *L, const char *kind, const char *msg, long status,
                       const char *request_id, int retryable) {
  /* The last guard before a message reaches the user: redact, then cut. */
  const char *key = omh_config_key(op->cfg);
  char buf[1024], rid[128];
  if (!msg) msg = kind;
  omh_redact_copy(key, msg, strlen(msg), buf, sizeof buf);
  if (request_id) omh_redact_copy(key, request_id, strlen(request_id), rid, sizeof rid);
  omh_push_error(L, kind, buf, status, request_id ? rid : NULL, retryable);
}

void omh_op_finish_err(omh_op *op, lua_State *L, const char *kind, const char *msg, long status,
                       const char *request_id, int retryable) {
  omh_op_push_error(op, L, kind, msg, status, request_id, retryable);
  finish(op, L, 0);
}

int omh_op_request_may_have_left(const omh_op *op) {
  CURL *e = op->task.easy;
  if (!(op->cls->flags & OMH_CLASS_BILLED) || !e) return 0;
  /* A body not yet read to its end cannot be whole at the server. */
  if (op->x.body && !omh_body_complete(op->x.body)) return 0;
  curl_off_t connect = 0, pre = 0;
  long size = 0;
  curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connect);
  curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre);
  curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &size);
  return connect > 0 || pre > 0 || size > 0;
}

void omh_op_cancel(omh_op *op, lua_State *L, const char *why) {
  if (op->task.done) return;
  if (omh_op_request_may_have_left(op)) {
    char msg[512];
    snprintf(msg, sizeof msg,
             "%s after the create request was sent: the job may exist and be billed;"
             " check your jobs before creating it again",
             why);
    omh_op_push_error(op, L, "cancelled", msg, 0, NULL, 0);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "maybe_created");
    finish(op, L, 0);
    return;
  }
  omh_op_finish_err(op, L, "cancelled", why, 0, NULL, 0);
}

void omh_op_close(lua_State *L, omh_op *op) {
  if (op->task.closed) return;
  halt(op);
  if (!op->task.done && op->cls->on_abort) op->cls->on_abort(op);
  omh_loop_unbind(&op->task);
  op->task.closed = 1;
  /* The result goes, but not the one fact that can cost money. */
  if (op->result_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->result_ref);
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "maybe_created");
      op->closed_maybe_created = lua_toboolean(L, -1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, op->self_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, op->result_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, op->cb_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, op->cb_err_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, op->loop_ref);
  op->self_ref = op->result_ref = op->cb_ref = op->cb_err_ref = op->loop_ref = LUA_NOREF;
  op->anchored = 0;
  omh_xfer_free(&op->x);
  omh_body_free(op->x.body);
  op->x.body = NULL;
  free(op->url);
  op->url = NULL;
  if (op->cls->on_free) op->cls->on_free(op);
  if (op->cfg) omh_config_release(L, op->cfg);
  op->cfg = NULL;
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
  omh_loop_submit(&op->task, op->lane, L);
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
  CURL *e = omh_loop_easy(t->loop, profile, &same);
  if (!e) {
    omh_op_finish_err(op, L, "network", "curl_easy_init failed", 0, NULL, 1);
    return;
  }
  if (omh_xfer_setup(&op->x, e, same) != 0) {
    omh_loop_release_easy(t->loop, e, 0);
    omh_op_finish_err(op, L, "network", "out of memory", 0, NULL, 1);
    return;
  }
  CURLMcode mc = omh_loop_start_transfer(t, e, profile);
  if (mc != CURLM_OK) {
    op->x.easy = NULL;
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
  omh_xfer_settle(&op->x);
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
  halt(op);
  if (!t->done && op->cls->on_abort) op->cls->on_abort(op);
  omh_loop_unbind(t);
}

static const omh_task_ops task_ops = {task_pin,         task_launch,   task_collect,     task_transfer_done,
                                      task_timer_fired, task_progress, task_loop_closing};
