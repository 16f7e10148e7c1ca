/* Calls into Lua on an operation's behalf: the client's on_event, the op's
 * own on_status / on_progress. Any of them may cancel, close or drop the op,
 * close its client or loop, or raise: each call runs with the op pinned and
 * returns whether the op is still alive, and a raise ends the op. */
#include <stdlib.h>

#include "op.h"

/* Runs the function under its nargs arguments. A raise is kept for
 * result() and ends the op. Returns omh_op_alive(op). */
static int call_protected(omh_op *op, lua_State *L, int nargs) {
  int pinned = op->task.ops->pin(&op->task, L);
  if (pinned) lua_insert(L, -nargs - 2);
  if (lua_pcall(L, nargs, 0, 0) != 0) {
    if (op->cb_err_ref == LUA_NOREF && !op->task.closed)
      op->cb_err_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else
      lua_pop(L, 1);
    if (omh_op_alive(op)) omh_op_cancel(op, L, "a callback raised an error");
  }
  if (pinned) lua_pop(L, 1);
  return omh_op_alive(op);
}

static int has_on_event(const omh_op *op) {
  return omh_op_alive(op) && op->cfg && op->cfg->on_event_ref != LUA_NOREF;
}

int omh_op_event(omh_op *op, lua_State *L) {
  if (!has_on_event(op)) {
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

int omh_op_emit_request(omh_op *op, lua_State *L) {
  if (!has_on_event(op)) return omh_op_alive(op);
  lua_createtable(L, 0, 5);
  lua_pushliteral(L, "request");
  lua_setfield(L, -2, "type");
  lua_pushstring(L, op->x.kind == OMH_XFER_API_POST ? "POST" : "GET");
  lua_setfield(L, -2, "method");
  lua_pushstring(L, op->url);
  lua_setfield(L, -2, "url");
  lua_pushinteger(L, op->attempt + 1);
  lua_setfield(L, -2, "attempt");
  return omh_op_event(op, L);
}

void omh_op_emit_retry(omh_op *op, lua_State *L, const char *kind, long status, double delay) {
  if (!has_on_event(op)) return;
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
  (void)omh_op_event(op, L); /* a dead op's caller just returns */
}

void omh_op_report_progress(omh_op *op, lua_State *L) {
  curl_off_t got_bytes, total_bytes;
  if (!(op->cls->flags & OMH_CLASS_TO_FILE) || !omh_op_alive(op) ||
      !omh_xfer_progress(&op->x, &got_bytes, &total_bytes))
    return;
  lua_Integer got = (lua_Integer)got_bytes;
  lua_Integer total = total_bytes >= 0 ? (lua_Integer)total_bytes : -1;
  if (op->cb_ref != LUA_NOREF) {
    lua_pushinteger(L, got);
    if (total >= 0)
      lua_pushinteger(L, total);
    else
      lua_pushnil(L);
    if (!omh_op_callback(op, L, 2)) return;
  }
  if (!has_on_event(op)) return;
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
