/* The end of an operation's life: finished (its result kept), cancelled
 * (saying whether a billed request may have reached the server), closed. */
#include "op.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "errors.h"
#include "redact.h"

omh_op *omh_checkop(lua_State *L, int idx) {
  omh_op *op = luaL_checkudata(L, idx, OMH_OP_MT);
  if (op->task.closed) luaL_error(L, "omnihuman: operation is closed");
  return op;
}

int omh_op_alive(const omh_op *op) {
  return !op->task.done && !op->task.closed && op->task.loop && !omh_loop_is_closed(op->task.loop);
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
  if (op->task.loop && !op->unheard) {
    /* Tell the dispatcher this one finished: O(finished), never a scan. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->self_ref);
    omh_loop_post_done(op->task.loop, L);
  }
  if (!op->unheard) luaL_unref(L, LUA_REGISTRYINDEX, op->self_ref); /* else its owner's */
  luaL_unref(L, LUA_REGISTRYINDEX, op->loop_ref);
  op->self_ref = op->loop_ref = LUA_NOREF;
}

void omh_op_halt(omh_op *op) {
  omh_loop_stop(&op->task);
  if (!op->unheard) omh_xfer_free(&op->x); /* no answer is coming: nothing to judge */
  op->retrying = 0;
}

static void finish(omh_op *op, lua_State *L, int ok) {
  if (op->task.done) {
    lua_pop(L, 1);
    return;
  }
  omh_op_halt(op);
  if (op->cls->on_abort && !ok) op->cls->on_abort(op);
  op->task.done = 1;
  op->ok = ok;
  /* Finished work holds no request body (paths, fields, a read chunk)
   * until the collector gets to the operation. */
  omh_body_free(op->x.body);
  op->x.body = NULL;
  if (op->unheard && op->result_ref != LUA_NOREF)
    lua_rawseti(L, LUA_REGISTRYINDEX, op->result_ref); /* its owner's slot: no ref made per check */
  else
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
  omh_op_halt(op);
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
      if (op->ok && op->cls->keep_job) op->cls->keep_job(op, L);
    }
    lua_pop(L, 1);
  }
  if (!op->unheard) luaL_unref(L, LUA_REGISTRYINDEX, op->self_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, op->result_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, op->cb_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, op->cb_err_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, op->loop_ref);
  op->self_ref = op->result_ref = op->cb_ref = op->cb_err_ref = op->loop_ref = LUA_NOREF;
  op->anchored = 0;
  omh_body_free(op->x.body);
  op->x.body = NULL;
  free(op->url);
  op->url = NULL;
  if (op->cls->on_free) op->cls->on_free(op);
  if (op->cfg) omh_config_release(L, op->cfg);
  op->cfg = NULL;
}
