/* Operation lifecycle and the cqueues-style pollable methods. */
#include "op.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "body.h"
#include "errors.h"
#include "redact.h"
#include "transfer.h"
#include "udata.h"

static void live_link(omh_op *op) {
  omh_loop *lp = op->loop;
  op->live_prev = NULL;
  op->live_next = lp->live;
  if (lp->live) lp->live->live_prev = op;
  lp->live = op;
}

static void live_unlink(omh_op *op) {
  omh_loop *lp = op->loop;
  if (!lp) return;
  if (op->live_prev) op->live_prev->live_next = op->live_next;
  else lp->live = op->live_next;
  if (op->live_next) op->live_next->live_prev = op->live_prev;
  op->live_next = op->live_prev = NULL;
  if (op->notify_queued) {
    omh_op **pp = &lp->notify;
    while (*pp && *pp != op) pp = &(*pp)->notify_next;
    if (*pp) *pp = op->notify_next;
    op->notify_queued = 0;
  }
}

/* Stop the transfer and timer, if any; the op stays bound to its loop. */
static void halt(omh_op *op) {
  omh_loop *lp = op->loop;
  if (!lp) return;
  if (op->x.easy) {
    curl_multi_remove_handle(lp->multi, op->x.easy);
    lp->ntransfers--;
    omh_loop_release_easy(lp, op->x.easy, 0); /* interrupted: set up anew next time */
    op->x.easy = NULL;
    if (op->lane) op->lane->inflight--;
  }
  omh_loop_dequeue(lp, op);
  omh_timers_disarm(&lp->timers, &op->timer);
  op->retrying = 0;
}

omh_op *omh_op_new(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const omh_op_class *cls, omh_op_kind kind) {
  omh_op *op = lua_newuserdata(L, sizeof *op);
  memset(op, 0, sizeof *op);
  op->cls = cls;
  op->kind = kind;
  op->self_ref = op->result_ref = op->cb_ref = op->cb_err_ref = op->loop_ref = LUA_NOREF;
  if (loop_idx < 0) loop_idx = lua_gettop(L) + loop_idx; /* the new userdata is on top now */
  lua_pushvalue(L, loop_idx);
  op->loop_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  op->x.fd = -1;
  op->x.retry_after = -1;
  op->deadline = -1;
  op->started = omh_now();
  luaL_getmetatable(L, OMH_OP_MT);
  lua_setmetatable(L, -2);
  op->loop = lp;
  live_link(op);
  if (cfg) {
    cfg->refs++;
    op->cfg = cfg;
  }
  /* In flight until finished: the loop keeps it alive. */
  lua_pushvalue(L, -1);
  op->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  op->anchored = 1;
  lp->nactive++;
  return op;
}

omh_op *omh_checkop(lua_State *L, int idx) {
  omh_op *op = luaL_checkudata(L, idx, OMH_OP_MT);
  if (op->closed) luaL_error(L, "omnihuman: operation is closed");
  return op;
}

int omh_op_alive(const omh_op *op) {
  return !op->done && !op->closed && op->loop && !op->loop->closed;
}

int omh_op_pin(omh_op *op, lua_State *L) {
  if (op->self_ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, op->self_ref);
  return 1;
}

/* Pushes the op's loop while the op holds it (1), or nothing (0). */
static int pin_loop(omh_op *op, lua_State *L) {
  if (!op->loop || op->loop_ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, op->loop_ref);
  return 1;
}

static void release_anchor(omh_op *op, lua_State *L) {
  if (!op->anchored) return;
  op->anchored = 0;
  if (op->loop) {
    op->loop->nactive--;
    /* Tell the dispatcher this one finished: O(finished), never a scan. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->self_ref);
    omh_loop_post_done(op->loop, L);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, op->self_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, op->loop_ref);
  op->self_ref = op->loop_ref = LUA_NOREF;
}

static void finish(omh_op *op, lua_State *L, int ok) {
  if (op->done) {
    lua_pop(L, 1);
    return;
  }
  halt(op);
  if (op->cls->on_abort && !ok) op->cls->on_abort(op);
  op->done = 1;
  op->ok = ok;
  /* Finished work holds no request body (paths, fields, a read chunk)
   * until the collector gets to the operation. */
  omh_body_free(op->body);
  op->body = NULL;
  op->result_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  release_anchor(op, L);
}

void omh_op_finish_ok(omh_op *op, lua_State *L) { finish(op, L, 1); }

void omh_op_finish_errobj(omh_op *op, lua_State *L) { finish(op, L, 0); }

void omh_op_push_error(omh_op *op, lua_State *L, const char *kind, const char *msg, long status,
                       const char *request_id, int retryable) {
  /* The last guard before a message reaches the user: redact, then cut. */
  const char *key = op->cfg ? op->cfg->api_key : NULL;
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

/* Whether a billed request may have reached the server whole: once curl
 * has a connection for it and has read its body to the end. */
static int request_may_have_left(omh_op *op) {
  if (!op->x.easy) return 0;
  /* A body not yet read to its end cannot be whole at the server. */
  if (op->body && !omh_body_complete(op->body)) return 0;
  curl_off_t connect = 0, pre = 0;
  long size = 0;
  curl_easy_getinfo(op->x.easy, CURLINFO_CONNECT_TIME_T, &connect);
  curl_easy_getinfo(op->x.easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
  curl_easy_getinfo(op->x.easy, CURLINFO_REQUEST_SIZE, &size);
  return connect > 0 || pre > 0 || size > 0;
}

void omh_op_cancel(omh_op *op, lua_State *L, const char *why) {
  if (op->done) return;
  if (op->cls->billed && request_may_have_left(op)) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s after the create request was sent: the job may exist and be billed;"
             " check your jobs before creating it again", why);
    omh_op_push_error(op, L, "cancelled", msg, 0, NULL, 0);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "maybe_created");
    finish(op, L, 0);
    return;
  }
  omh_op_finish_err(op, L, "cancelled", why, 0, NULL, 0);
}

void omh_op_start_request(omh_op *op, lua_State *L) {
  if (!omh_op_alive(op)) return;
  /* The event comes first: a callback that raises stops the request from
   * ever leaving, rather than hiding the answer to a billed one. */
  if (op->cfg && op->cfg->on_event_ref != LUA_NOREF) {
    lua_createtable(L, 0, 4);
    lua_pushliteral(L, "request");
    lua_setfield(L, -2, "type");
    lua_pushstring(L, op->body ? "POST" : "GET");
    lua_setfield(L, -2, "method");
    lua_pushstring(L, op->url);
    lua_setfield(L, -2, "url");
    lua_pushinteger(L, op->attempt + 1);
    lua_setfield(L, -2, "attempt");
    if (!omh_op_event(op, L)) return;
  }
  /* A request never outlives the operation's deadline, queued or in flight. */
  if (op->deadline >= 0) omh_op_arm(op, op->deadline);
  omh_lane *ln = op->lane;
  if (ln && (ln->inflight >= ln->cap || ln->head)) {
    /* No slot for this client: wait in line, FIFO, holding no easy handle. */
    omh_loop_enqueue(op->loop, ln, op);
    return;
  }
  omh_op_launch(op, L);
}

void omh_op_launch(omh_op *op, lua_State *L) {
  if (!op->x.s && !(op->x.s = malloc(sizeof *op->x.s))) {
    omh_op_finish_err(op, L, "network", "out of memory", 0, NULL, 1);
    return;
  }
  int same;
  unsigned long profile = omh_xfer_profile(op);
  CURL *e = omh_loop_easy(op->loop, profile, &same);
  if (!e) {
    omh_op_finish_err(op, L, "network", "curl_easy_init failed", 0, NULL, 1);
    return;
  }
  omh_xfer_setup(op, e, same);
  op->x.profile = profile;
  CURLMcode mc = curl_multi_add_handle(op->loop->multi, e);
  if (mc != CURLM_OK) {
    op->x.easy = NULL;
    omh_loop_release_easy(op->loop, e, 0);
    omh_op_finish_err(op, L, "network", curl_multi_strerror(mc), 0, NULL, 1);
    return;
  }
  op->loop->ntransfers++;
  if (op->lane) op->lane->inflight++;
}

void omh_op_arm(omh_op *op, double when) {
  if (!op->loop) return;
  omh_timers_arm(&op->loop->timers, &op->timer, when);
}

int omh_op_retry(omh_op *op, lua_State *L, const char *kind, long status, double retry_after) {
  if (op->settling || !op->cfg || op->attempt >= op->cfg->max_retries || !op->loop) return 0;
  /* Exponential backoff with jitter (half to full step), capped at 30 s. */
  double step = 0.5 * pow(2.0, op->attempt);
  if (step > 30) step = 30;
  double delay = step * (0.5 + 0.5 * omh_loop_jitter(op->loop));
  if (retry_after >= 0) delay = retry_after > 300 ? 300 : retry_after;
  double when = omh_now() + delay;
  if (op->deadline >= 0 && when > op->deadline) return 0;
  op->attempt++;
  op->retrying = 1;
  omh_op_arm(op, when);
  if (op->cfg->on_event_ref != LUA_NOREF) {
    lua_createtable(L, 0, 6);
    lua_pushliteral(L, "retry");
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, op->attempt);
    lua_setfield(L, -2, "attempt");
    lua_pushnumber(L, delay);
    lua_setfield(L, -2, "delay");
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "error");
    if (status > 0) {
      lua_pushinteger(L, status);
      lua_setfield(L, -2, "status");
    }
    (void)omh_op_event(op, L); /* scheduled either way; a dead op's caller just returns */
  }
  return 1;
}

/* Runs the function under its nargs arguments with the op pinned. A raise
 * is kept for result() and ends the op. Returns omh_op_alive(op). */
static int call_protected(omh_op *op, lua_State *L, int nargs) {
  int pinned = omh_op_pin(op, L);
  if (pinned) lua_insert(L, -nargs - 2);
  if (lua_pcall(L, nargs, 0, 0) != 0) {
    if (op->cb_err_ref == LUA_NOREF && !op->closed) op->cb_err_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else lua_pop(L, 1);
    if (omh_op_alive(op)) omh_op_cancel(op, L, "a callback raised an error");
  }
  if (pinned) lua_pop(L, 1);
  return omh_op_alive(op);
}

int omh_op_event(omh_op *op, lua_State *L) {
  if (!omh_op_alive(op) || !op->cfg || op->cfg->on_event_ref == LUA_NOREF) {
    lua_pop(L, 1);
    return omh_op_alive(op);
  }
  lua_pushstring(L, op->cls->name);
  lua_setfield(L, -2, "op");
  lua_rawgeti(L, LUA_REGISTRYINDEX, op->cfg->on_event_ref);
  lua_insert(L, -2);
  return call_protected(op, L, 1);
}

int omh_op_callback(omh_op *op, lua_State *L, int nargs) {
  if (!omh_op_alive(op) || op->cb_ref == LUA_NOREF) {
    lua_pop(L, nargs);
    return omh_op_alive(op);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, op->cb_ref);
  lua_insert(L, -nargs - 1);
  return call_protected(op, L, nargs);
}

void omh_op_queue_notify(omh_op *op) {
  if (op->notify_queued || !op->loop) return;
  op->notify_queued = 1;
  op->notify_next = op->loop->notify;
  op->loop->notify = op;
}

void omh_op_flush_progress(omh_op *op, lua_State *L) {
  if (op->kind != OMH_OP_DOWNLOAD || op->x.got == op->x.reported || !omh_op_alive(op)) return;
  op->x.reported = op->x.got;
  lua_Integer got = (lua_Integer)op->x.got;
  lua_Integer total = op->x.total >= 0 ? (lua_Integer)op->x.total : -1;
  if (op->cb_ref != LUA_NOREF) {
    lua_pushinteger(L, got);
    if (total >= 0) lua_pushinteger(L, total);
    else lua_pushnil(L);
    if (!omh_op_callback(op, L, 2)) return;
  }
  if (op->cfg && op->cfg->on_event_ref != LUA_NOREF) {
    lua_createtable(L, 0, 3);
    lua_pushliteral(L, "progress");
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, got);
    lua_setfield(L, -2, "got");
    if (total >= 0) {
      lua_pushinteger(L, total);
      lua_setfield(L, -2, "total");
    }
    (void)omh_op_event(op, L);
  }
}

void omh_op_transfer_done(omh_op *op, lua_State *L) {
  omh_op_flush_progress(op, L);
  if (omh_op_alive(op)) op->cls->on_done(op, L);
  /* The answer is decoded by now: a job sleeping between polls keeps no
   * buffer (its capacity starts at 1 KiB). A closed op freed both already. */
  if (op->kind != OMH_OP_DOWNLOAD) omh_buf_free(&op->x.body);
  if (!op->x.easy) {
    free(op->x.s);
    op->x.s = NULL;
  }
}

void omh_op_timer_fired(omh_op *op, lua_State *L) {
  if (!omh_op_alive(op)) return;
  if (op->retrying) {
    op->retrying = 0;
    omh_op_start_request(op, L);
    return;
  }
  if (op->x.easy) {
    /* The deadline came while a request was still in flight. */
    omh_op_finish_err(op, L, "timeout", "deadline reached while a request was in flight", 0, NULL, 1);
    return;
  }
  op->cls->on_timer(op, L);
}

void omh_op_detach(omh_op *op) {
  halt(op);
  if (!op->done && op->cls->on_abort) op->cls->on_abort(op);
  if (op->anchored && op->loop) op->loop->nactive--;
  live_unlink(op);
  op->loop = NULL;
}

/* Frees everything but the userdata memory; idempotent. */
static void op_close(lua_State *L, omh_op *op) {
  if (op->closed) return;
  if (op->loop) {
    halt(op);
    if (!op->done && op->cls->on_abort) op->cls->on_abort(op);
    if (op->anchored) op->loop->nactive--;
    live_unlink(op);
    op->loop = NULL;
  } else if (!op->done && op->cls->on_abort) {
    op->cls->on_abort(op);
  }
  op->closed = 1;
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
  op->loop_ref = LUA_NOREF;
  op->self_ref = op->result_ref = op->cb_ref = op->cb_err_ref = LUA_NOREF;
  op->anchored = 0;
  omh_buf_free(&op->x.body);
  free(op->x.s);
  op->x.s = NULL;
  if (op->x.fd >= 0) close(op->x.fd);
  op->x.fd = -1;
  free(op->url);
  omh_body_free(op->body);
  op->body = NULL;
  free(op->job_id);
  free(op->target);
  free(op->tmp);
  op->url = op->job_id = op->target = op->tmp = NULL;
  if (op->cfg) omh_config_release(L, op->cfg);
  op->cfg = NULL;
}

static int op_gc(lua_State *L) {
  op_close(L, luaL_checkudata(L, 1, OMH_OP_MT));
  return 0;
}

static int op_step(lua_State *L) {
  omh_op *op = omh_checkop(L, 1);
  if (!op->done && op->loop && pin_loop(op, L)) omh_loop_drive(op->loop, L, 0);
  lua_pushboolean(L, op->done);
  return 1;
}

static int op_done(lua_State *L) {
  lua_pushboolean(L, omh_checkop(L, 1)->done);
  return 1;
}

static int op_result(lua_State *L) {
  omh_op *op = omh_checkop(L, 1);
  if (op->cb_err_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->cb_err_ref);
    return lua_error(L);
  }
  if (!op->done) return luaL_error(L, "omnihuman: operation has not finished (step it or wait for it)");
  if (op->ok) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->result_ref);
    return 1;
  }
  lua_pushnil(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, op->result_ref);
  return 2;
}

/* Ends op from Lua code (not from its loop): waiters hear of it through the
 * done set, and hosts that cannot watch the loop's descriptor through its
 * wakeup function, called once the op's state is settled. */
static int end_from_lua(lua_State *L, omh_op *op, const char *why, int close_too) {
  int was_running = !op->done;
  omh_loop *lp = pin_loop(op, L) ? op->loop : NULL;
  if (!op->done) omh_op_cancel(op, L, why);
  if (close_too) op_close(L, op);
  if (lp) omh_loop_safe_point(lp, L);
  return was_running;
}

/* op:settle(): for whoever abandons work (omnihuman.run unwinding). A billed
 * request that may have reached the server keeps running until its answer
 * (never retried), so that its job id is not lost; anything else is
 * cancelled. Returns true while the op still runs. */
static int op_settle(lua_State *L) {
  omh_op *op = omh_checkop(L, 1);
  if (!op->done && op->cls->billed && request_may_have_left(op)) {
    op->settling = 1;
  } else if (!op->done) {
    end_from_lua(L, op, "operation abandoned", 0);
  }
  lua_pushboolean(L, !op->done);
  return 1;
}

static int op_cancel(lua_State *L) {
  omh_op *op = omh_checkop(L, 1);
  lua_pushboolean(L, end_from_lua(L, op, "operation cancelled", 0));
  return 1;
}

static int op_pollfd(lua_State *L) {
  omh_op *op = omh_checkop(L, 1);
  lua_pushinteger(L, op->loop && !op->loop->closed ? op->loop->outer_fd : -1);
  return 1;
}

static int op_events(lua_State *L) {
  omh_checkop(L, 1);
  lua_pushliteral(L, "r");
  return 1;
}

static int op_timeout(lua_State *L) {
  omh_op *op = omh_checkop(L, 1);
  if (op->done) {
    lua_pushnumber(L, 0);
    return 1;
  }
  double t = op->loop && !op->loop->closed ? omh_loop_next_deadline(op->loop) : -1;
  if (t < 0) lua_pushnil(L);
  else lua_pushnumber(L, t);
  return 1;
}

/* op:is_closed() -> closed, and whether it was closed after a billed
 * request may have reached the server (its result is gone with it). */
static int op_is_closed(lua_State *L) {
  omh_op *op = luaL_checkudata(L, 1, OMH_OP_MT);
  lua_pushboolean(L, op->closed);
  lua_pushboolean(L, op->closed_maybe_created);
  return 2;
}

/* op:loop(): the loop it runs on, while it is bound to one (nil after). */
static int op_loop(lua_State *L) {
  omh_op *op = omh_checkop(L, 1);
  if (!pin_loop(op, L)) lua_pushnil(L);
  return 1;
}

static int op_kind(lua_State *L) {
  lua_pushstring(L, omh_checkop(L, 1)->cls->name);
  return 1;
}

static int op_close_m(lua_State *L) {
  omh_op *op = luaL_checkudata(L, 1, OMH_OP_MT);
  /* Closing in-flight work is cancelling it: a scheduler waiting on it must hear. */
  if (!op->closed) end_from_lua(L, op, "operation closed", 1);
  return 0;
}

static int op_tostring(lua_State *L) {
  omh_op *op = luaL_checkudata(L, 1, OMH_OP_MT);
  lua_pushfstring(L, "omnihuman.operation %s (%s) %p", op->cls->name,
                  op->closed ? "closed" : op->done ? "done" : "pending", (void *)op);
  return 1;
}

int omh_op_open(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"step", op_step},     {"done", op_done},     {"result", op_result}, {"cancel", op_cancel},
    {"pollfd", op_pollfd}, {"events", op_events}, {"timeout", op_timeout}, {"kind", op_kind},
    {"close", op_close_m}, {"is_closed", op_is_closed}, {"settle", op_settle}, {"loop", op_loop}, {NULL, NULL}};
  omh_register_type(L, OMH_OP_MT, methods, op_gc, op_tostring);
  return 0;
}
