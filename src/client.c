/* The client: its options become a config (config.c), and its methods
 * start operations on its loop. */
#include "client.h"

#include <string.h>

#include "body.h"
#include "config.h"
#include "loop.h"
#include "options.h"
#include "op_start.h"
#include "udata.h"

#define OMH_CLIENT_MT "omnihuman.client"

typedef struct client_ud {
  omh_config *cfg;
  omh_loop *loop;
  int loop_ref;        /* keeps the loop alive as long as the client */
  omh_poll_cache poll; /* what poll_now reuses */
} client_ud;

/* core.new_client(loop, opts): every option is checked here, in C. */
int omh_client_new(lua_State *L) {
  omh_loop *lp = omh_checkloop(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  client_ud *u = omh_newuserdata(L, sizeof *u);
  memset(u, 0, sizeof *u);
  u->loop_ref = u->poll.op_ref = u->poll.result_ref = LUA_NOREF;
  luaL_getmetatable(L, OMH_CLIENT_MT);
  lua_setmetatable(L, -2);
  u->cfg = omh_config_new(L, 2, omh_loop_new_serial(lp));
  u->loop = lp;
  lua_pushvalue(L, 1);
  u->loop_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  omh_loop_set_max_host(lp, u->cfg->max_connections);
  return 1;
}

static client_ud *check_client(lua_State *L) {
  client_ud *u = luaL_checkudata(L, 1, OMH_CLIENT_MT);
  if (!u->cfg) luaL_error(L, "omnihuman: client is closed");
  if (omh_loop_is_closed(u->loop)) luaL_error(L, "omnihuman: the client's loop is closed");
  return u;
}

/* Pushes the client's loop; its stack index anchors new ops to it. */
static int push_loop(lua_State *L, client_ud *u) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, u->loop_ref);
  return lua_gettop(L);
}

/* The end of every method that starts an op: a callback run on the way
 * (on_event "request") may have ended other ops; tell the host. */
static int started(lua_State *L, client_ud *u) {
  if (!omh_loop_is_closed(u->loop)) omh_loop_safe_point(u->loop, L);
  return 1; /* the op, on top */
}

static const char *check_id(lua_State *L) {
  const char *id = luaL_checkstring(L, 2);
  if (!*id) luaL_argerror(L, 2, "job id is empty");
  return omh_check_text(L, 2, "omnihuman", "a job id");
}

/* client:create_op(fields [, files]): files lists the local files the
 * facade found in the fields, each standing in them as a placeholder (see
 * omh_body_prepare). */
static int client_create(lua_State *L) {
  client_ud *u = check_client(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  omh_body_opts bo = {u->cfg->model, u->cfg->max_audio_seconds, u->cfg->allow_unmeasured_audio, 0};
  omh_body *body = omh_body_prepare(L, 2, lua_istable(L, 3) ? 3 : 0, &bo);
  if (!body) {
    int err = lua_gettop(L); /* the invalid_input error object */
    omh_create_refused(L, u->loop, push_loop(L, u), u->cfg, err);
  } else {
    omh_create_start(L, u->loop, push_loop(L, u), u->cfg, body);
  }
  return started(L, u);
}

/* client:refuse_op(err): a create that ends at once with err (the facade's
 * checks refused its fields: nothing is sent). */
static int client_refuse(lua_State *L) {
  client_ud *u = check_client(L);
  luaL_checkany(L, 2);
  omh_create_refused(L, u->loop, push_loop(L, u), u->cfg, 2);
  return started(L, u);
}

static int client_poll(lua_State *L) {
  client_ud *u = check_client(L);
  const char *id = check_id(L);
  omh_poll_start(L, u->loop, push_loop(L, u), u->cfg, id);
  return started(L, u);
}

static int client_poll_now(lua_State *L) {
  client_ud *u = check_client(L);
  return omh_poll_now(L, u->loop, push_loop(L, u), u->cfg, check_id(L), &u->poll);
}

/* client:wait_op(id, {interval=, timeout=, on_status=}) */
static int client_wait(lua_State *L) {
  client_ud *u = check_client(L);
  const char *id = check_id(L);
  double interval = u->cfg->poll_interval, timeout = u->cfg->wait_timeout;
  lua_settop(L, 3);
  int cb_idx = 0;
  if (!lua_isnil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    interval = omh_opt_number(L, 3, "client:wait", "interval", interval, 0, OMH_MAX_INTERVAL, 0);
    timeout = omh_opt_number(L, 3, "client:wait", "timeout", timeout, 0, OMH_MAX_WAIT, 0);
    lua_getfield(L, 3, "on_status");
    if (lua_isfunction(L, -1))
      cb_idx = lua_gettop(L);
    else
      lua_pop(L, 1);
  }
  omh_wait_start(L, u->loop, push_loop(L, u), u->cfg, id, interval, timeout, cb_idx);
  return started(L, u);
}

/* Far above any clip under 30 s; a body beyond it is broken or hostile. */
#define DEFAULT_MAX_DOWNLOAD (4.0 * 1024 * 1024 * 1024)

/* client:download_op(url, path, {on_progress=, max_bytes=}) */
static int client_download(lua_State *L) {
  client_ud *u = check_client(L);
  const char *url = luaL_checkstring(L, 2);
  const char *path = luaL_checkstring(L, 3);
  if (!*path) luaL_argerror(L, 3, "output path is empty");
  omh_check_text(L, 2, "client:download", "the URL");
  if (strlen(path) != omh_rawlen(L, 3)) luaL_argerror(L, 3, "output path contains a NUL byte");
  double max_bytes = DEFAULT_MAX_DOWNLOAD;
  lua_settop(L, 4);
  int cb_idx = 0;
  if (!lua_isnil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    max_bytes = omh_opt_number(L, 4, "client:download", "max_bytes", max_bytes, 0, OMH_MAX_BYTES, 1);
    lua_getfield(L, 4, "on_progress");
    if (lua_isfunction(L, -1))
      cb_idx = lua_gettop(L);
    else
      lua_pop(L, 1);
  }
  omh_download_start(L, u->loop, push_loop(L, u), u->cfg, url, path, max_bytes, cb_idx);
  return started(L, u);
}

/* Collected: lets go of the config; operations it started keep running
 * (each holds the config), as their owners may still await them. */
static int client_gc(lua_State *L) {
  client_ud *u = luaL_checkudata(L, 1, OMH_CLIENT_MT);
  if (u->cfg) omh_config_release(L, u->cfg);
  u->cfg = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, u->loop_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, u->poll.op_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, u->poll.result_ref);
  u->loop_ref = u->poll.op_ref = u->poll.result_ref = LUA_NOREF;
  return 0;
}

/* client:close(): ends every operation of the client still running
 * (cancelled; a create that may have reached the service says
 * maybe_created), which wakes whoever awaits them, then the idle
 * connections its requests opened, then lets go. */
static int client_close(lua_State *L) {
  client_ud *u = luaL_checkudata(L, 1, OMH_CLIENT_MT);
  if (u->cfg && !omh_loop_is_closed(u->loop)) {
    omh_ops_cancel_config(L, u->loop, u->cfg, "the client was closed");
    omh_loop_end_idle(u->loop, u->cfg->serial);
  }
  return client_gc(L);
}

static int client_tostring(lua_State *L) {
  client_ud *u = luaL_checkudata(L, 1, OMH_CLIENT_MT);
  /* Never the key. */
  if (u->cfg)
    lua_pushfstring(L, "omnihuman.client (%s, model %s)", u->cfg->base_url, u->cfg->model);
  else
    lua_pushliteral(L, "omnihuman.client (closed)");
  return 1;
}

int omh_client_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"create_op", client_create},     {"poll_op", client_poll},
                                     {"poll_now", client_poll_now},    {"wait_op", client_wait},
                                     {"download_op", client_download}, {"close", client_close},
                                     {"refuse_op", client_refuse},     {NULL, NULL}};
  omh_register_type(L, OMH_CLIENT_MT, methods, client_gc, client_tostring);
  /* A to-be-closed client is closed, not merely collected. */
  luaL_getmetatable(L, OMH_CLIENT_MT);
  lua_pushcfunction(L, client_close);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  return 0;
}
