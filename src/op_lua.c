/* An operation as Lua sees it: the cqueues-style pollable methods, result,
 * cancel, close, settle. */
#include "op.h"
#include "udata.h"

static int op_gc(lua_State *L) {
  omh_op *op = luaL_checkudata(L, 1, OMH_OP_MT);
  omh_op_close(L, op);
  if (op->cls->on_gc) op->cls->on_gc(op);
  return 0;
}

static int op_step(lua_State *L) {
  omh_op *op = omh_checkop(L, 1);
  if (!op->task.done && omh_op_pin_loop(op, L)) omh_loop_drive(op->task.loop, L, 0);
  lua_pushboolean(L, op->task.done);
  return 1;
}

static int op_done(lua_State *L) {
  lua_pushboolean(L, omh_checkop(L, 1)->task.done);
  return 1;
}

static int op_result(lua_State *L) {
  omh_op *op = omh_checkop(L, 1);
  if (op->cb_err_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->cb_err_ref);
    return lua_error(L);
  }
  if (!op->task.done) return luaL_error(L, "omnihuman: operation has not finished (step it or wait for it)");
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
  int was_running = !op->task.done;
  omh_loop *lp = omh_op_pin_loop(op, L) ? op->task.loop : NULL;
  if (!op->task.done) omh_op_cancel(op, L, why);
  if (close_too) omh_op_close(L, op);
  if (lp) omh_loop_safe_point(lp, L);
  return was_running;
}

/* op:settle(): for whoever abandons work (omnihuman.run unwinding). A billed
 * request that may have reached the server keeps running until its answer
 * (never retried), so that its job id is not lost; anything else is
 * cancelled. Returns true while the op still runs. */
static int op_settle(lua_State *L) {
  omh_op *op = omh_checkop(L, 1);
  if (!op->task.done && omh_op_request_may_have_left(op))
    op->settling = 1;
  else if (!op->task.done)
    end_from_lua(L, op, "operation abandoned", 0);
  lua_pushboolean(L, !op->task.done);
  return 1;
}

static int op_cancel(lua_State *L) {
  omh_op *op = omh_checkop(L, 1);
  lua_pushboolean(L, end_from_lua(L, op, "operation cancelled", 0));
  return 1;
}

static int op_close_m(lua_State *L) {
  omh_op *op = luaL_checkudata(L, 1, OMH_OP_MT);
  /* Closing in-flight work is cancelling it: a scheduler waiting on it must hear. */
  if (!op->task.closed) end_from_lua(L, op, "operation closed", 1);
  return 0;
}

static int op_pollfd(lua_State *L) {
  omh_op *op = omh_checkop(L, 1);
  omh_loop *lp = op->task.loop;
  lua_pushinteger(L, lp ? omh_loop_watch_fd(lp) : -1);
  return 1;
}

static int op_events(lua_State *L) {
  omh_checkop(L, 1);
  lua_pushliteral(L, "r");
  return 1;
}

static int op_timeout(lua_State *L) {
  omh_op *op = omh_checkop(L, 1);
  if (op->task.done) {
    lua_pushnumber(L, 0);
    return 1;
  }
  omh_loop *lp = op->task.loop;
  double t = lp && !omh_loop_is_closed(lp) ? omh_loop_next_deadline(lp) : -1;
  if (t < 0)
    lua_pushnil(L);
  else
    lua_pushnumber(L, t);
  return 1;
}

/* op:is_closed() -> closed, whether it was closed after a billed request
 * may have reached the server, and the job id a create had made when it
 * was closed (the rest of its result is gone with it). */
static int op_is_closed(lua_State *L) {
  omh_op *op = luaL_checkudata(L, 1, OMH_OP_MT);
  const char *job = op->task.closed && op->cls->kept_job ? op->cls->kept_job(op) : NULL;
  lua_pushboolean(L, op->task.closed);
  lua_pushboolean(L, op->closed_maybe_created);
  if (job)
    lua_pushstring(L, job);
  else
    lua_pushnil(L);
  return 3;
}

void omh_ops_cancel_config(lua_State *L, omh_loop *lp, const omh_config *cfg, const char *why) {
  int top = lua_gettop(L), n = 0;
  if (omh_loop_is_closed(lp)) return;
  /* Pinned first: a cancel lets go of the op's anchor, and the collector
   * may run before the next one (which would unlink ops under the walk). */
  for (omh_task *t = omh_loop_tasks(lp); t; t = t->live_next) {
    omh_op *op = (omh_op *)t;
    if (t->done || t->closed || op->cfg != cfg || op->self_ref == LUA_NOREF) continue;
    if (!lua_checkstack(L, 1)) break;
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->self_ref);
    n++;
  }
  for (int i = 1; i <= n; i++) {
    omh_op *op = lua_touserdata(L, top + i);
    if (!op->task.done && !op->task.closed) omh_op_cancel(op, L, why);
  }
  if (n && !omh_loop_is_closed(lp)) omh_loop_safe_point(lp, L);
  lua_settop(L, top);
}

/* op:loop(): the loop it runs on while in flight; nil once finished or
 * closed (never raises: awaiting code asks it first). */
static int op_loop(lua_State *L) {
  omh_op *op = luaL_checkudata(L, 1, OMH_OP_MT);
  if (op->task.closed || !omh_op_pin_loop(op, L)) lua_pushnil(L);
  return 1;
}

static int op_kind(lua_State *L) {
  lua_pushstring(L, omh_checkop(L, 1)->cls->name);
  return 1;
}

static int op_tostring(lua_State *L) {
  omh_op *op = luaL_checkudata(L, 1, OMH_OP_MT);
  lua_pushfstring(L, "omnihuman.operation %s (%s) %p", op->cls->name,
                  op->task.closed ? "closed"
                  : op->task.done ? "done"
                                  : "pending",
                  (void *)op);
  return 1;
}

int omh_op_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"step", op_step},     {"done", op_done},           {"result", op_result},   {"cancel", op_cancel},
      {"pollfd", op_pollfd}, {"events", op_events},       {"timeout", op_timeout}, {"kind", op_kind},
      {"close", op_close_m}, {"is_closed", op_is_closed}, {"settle", op_settle},   {"loop", op_loop},
      {NULL, NULL}};
  omh_register_type(L, OMH_OP_MT, methods, op_gc, op_tostring);
  return 0;
}
