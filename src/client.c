/* The client: configuration (validated by the Lua facade) and the methods
 * that start operations on a loop. */
#include "client.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "clock.h"
#include "errors.h"
#include "loop.h"
#include "model_limits.h"
#include "ops.h"
#include "udata.h"

#define OMH_CLIENT_MT "omnihuman.client"

typedef struct client_ud {
  omh_config *cfg;
  omh_loop *loop;
  int loop_ref;   /* keeps the loop alive as long as the client */
} client_ud;

/* Option checks live here, not only in the Lua facade, so that users of
 * omnihuman.core get them too. Strings that end up in a header or a URL
 * must not carry a line break or a NUL (header injection, silent cuts). */
static const char *check_text(lua_State *L, int idx, const char *where, const char *what) {
  size_t n;
  const char *v = lua_tolstring(L, idx, &n);
  for (size_t i = 0; i < n; i++)
    if (v[i] == '\0' || v[i] == '\r' || v[i] == '\n')
      luaL_error(L, "%s: %s must not contain a line break or a NUL byte", where, what);
  return v;
}

static char *opt_string(lua_State *L, int t, const char *where, const char *k, const char *def) {
  lua_getfield(L, t, k);
  const char *v = def;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "%s: option '%s' must be a string, got %s", where, k, luaL_typename(L, -1));
    char what[64];
    snprintf(what, sizeof what, "option '%s'", k);
    v = check_text(L, -1, where, what);
  }
  char *copy = v ? strdup(v) : NULL;
  lua_pop(L, 1);
  if (v && !copy) luaL_error(L, "omnihuman: out of memory");
  return copy;
}

static const char *fmt_num(char *buf, size_t n, double v) {
  snprintf(buf, n, "%.15g", v);
  return buf;
}

/* A number option within [lo, hi] (and whole when `whole`); NaN and
 * infinities are outside every range. */
static double opt_number(lua_State *L, int t, const char *where, const char *k, double def, double lo,
                         double hi, int whole) {
  lua_getfield(L, t, k);
  double v = def;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "%s: option '%s' must be a number, got %s", where, k, luaL_typename(L, -1));
    v = lua_tonumber(L, -1);
    if (!(v >= lo && v <= hi) || (whole && v != floor(v))) {
      char a[32], b[32], c[32];
      luaL_error(L, "%s: option '%s' must be %s from %s to %s, got %s", where, k,
                 whole ? "a whole number" : "a number", fmt_num(a, sizeof a, lo), fmt_num(b, sizeof b, hi),
                 fmt_num(c, sizeof c, v));
    }
  }
  lua_pop(L, 1);
  return v;
}

static int opt_boolean(lua_State *L, int t, const char *where, const char *k) {
  lua_getfield(L, t, k);
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TBOOLEAN)
    luaL_error(L, "%s: option '%s' must be a boolean, got %s", where, k, luaL_typename(L, -1));
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static void wipe(char *s) {
  if (!s) return;
  volatile char *p = s;
  while (*p) *p++ = 0;
}

void omh_config_release(lua_State *L, omh_config *c) {
  if (--c->refs > 0) return;
  wipe(c->api_key);
  free(c->api_key);
  free(c->base_url);
  free(c->model);
  free(c->ca_file);
  free(c->proxy);
  free(c->user_agent);
  for (int i = 0; i < 2; i++) {
    for (struct curl_slist *h = c->api_headers[i]; h; h = h->next) wipe(h->data);
    curl_slist_free_all(c->api_headers[i]);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, c->on_event_ref);
  free(c);
}


/* core.new_client(loop, opts) with opts already checked by the facade. */
int omh_client_new(lua_State *L) {
  omh_loop *lp = omh_checkloop(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  client_ud *u = lua_newuserdata(L, sizeof *u);
  memset(u, 0, sizeof *u);
  u->loop_ref = LUA_NOREF;
  luaL_getmetatable(L, OMH_CLIENT_MT);
  lua_setmetatable(L, -2);
  omh_config *c = calloc(1, sizeof *c);
  if (!c) return luaL_error(L, "omnihuman: out of memory");
  c->refs = 1;
  c->on_event_ref = LUA_NOREF;
  u->cfg = c;
  static const char where[] = "omnihuman.new";
  c->api_key = opt_string(L, 2, where, "api_key", NULL);
  c->base_url = opt_string(L, 2, where, "base_url", "https://api.aimlapi.com/v2");
  c->model = opt_string(L, 2, where, "model", "bytedance/omnihuman");
  c->ca_file = opt_string(L, 2, where, "ca_file", NULL);
  c->proxy = opt_string(L, 2, where, "proxy", NULL);
  c->user_agent = opt_string(L, 2, where, "user_agent", NULL);
  c->timeout = opt_number(L, 2, where, "timeout", 60, OMH_MIN_TIMEOUT, OMH_MAX_TIMEOUT, 0);
  c->connect_timeout = opt_number(L, 2, where, "connect_timeout", 10, OMH_MIN_TIMEOUT, OMH_MAX_TIMEOUT, 0);
  c->poll_interval = opt_number(L, 2, where, "poll_interval", 10, 0, OMH_MAX_INTERVAL, 0);
  c->wait_timeout = opt_number(L, 2, where, "wait_timeout", 900, 0, OMH_MAX_WAIT, 0);
  c->max_retries = (int)opt_number(L, 2, where, "max_retries", 3, 0, OMH_MAX_RETRIES, 1);
  c->max_connections = (int)opt_number(L, 2, where, "max_connections", 8, 1, OMH_MAX_CONNECTIONS, 1);
  c->max_audio_seconds = opt_number(L, 2, where, "max_audio_seconds", 0, OMH_MIN_AUDIO_LIMIT,
                                    OMH_MAX_AUDIO_LIMIT, 0); /* 0: the model's limit */
  c->allow_unmeasured_audio = opt_boolean(L, 2, where, "allow_unmeasured_audio");
  if (strncmp(c->base_url, "https://", 8) != 0 && strncmp(c->base_url, "http://", 7) != 0)
    return luaL_error(L, "%s: option 'base_url' must be an http:// or https:// URL", where);
  omh_lane_init(&c->api_lane, c->max_connections);
  omh_lane_init(&c->cdn_lane, c->max_connections);
  if (!c->base_url || !c->model) return luaL_error(L, "omnihuman: out of memory");
  size_t bl = strlen(c->base_url);
  while (bl && c->base_url[bl - 1] == '/') c->base_url[--bl] = '\0';
  lua_getfield(L, 2, "on_event");
  if (lua_isfunction(L, -1)) c->on_event_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  else lua_pop(L, 1);
  /* Each header costs curl a formatted print per request: GETs carry only
   * the two they need. */
  for (int post = 0; post < 2; post++) {
    struct curl_slist *l = NULL;
    if (c->api_key && *c->api_key) {
      size_t n = strlen(c->api_key) + 32;
      char *h = malloc(n);
      if (!h) return luaL_error(L, "omnihuman: out of memory");
      snprintf(h, n, "Authorization: Bearer %s", c->api_key);
      l = curl_slist_append(l, h);
      wipe(h);
      free(h);
    }
    l = curl_slist_append(l, "Accept: application/json");
    if (post) {
      l = curl_slist_append(l, "Content-Type: application/json");
      l = curl_slist_append(l, "Expect:");
    }
    c->api_headers[post] = l;
  }
  u->loop = lp;
  c->serial = ++lp->cfg_serial;
  lua_pushvalue(L, 1);
  u->loop_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  omh_loop_set_max_host(lp, c->max_connections);
  return 1;
}

static client_ud *check_client(lua_State *L) {
  client_ud *u = luaL_checkudata(L, 1, OMH_CLIENT_MT);
  if (!u->cfg) luaL_error(L, "omnihuman: client is closed");
  if (u->loop->closed) luaL_error(L, "omnihuman: the client's loop is closed");
  return u;
}

/* Pushes the client's loop; its stack index anchors new ops to it. */
static int loop_idx(lua_State *L, client_ud *u) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, u->loop_ref);
  return lua_gettop(L);
}

/* Ops that talk to the API need a key; missing -> clear error, no request. */
static int need_key(lua_State *L, omh_op *op) {
  if (op->cfg->api_key && *op->cfg->api_key) return 1;
  omh_op_finish_err(op, L, "auth",
                    "no API key: pass api_key to omnihuman.new or set AIMLAPI_KEY", 0, NULL, 0);
  return 0;
}

/* The end of every method that starts an op: a callback run on the way
 * (on_event "request") may have ended other ops; tell the host. */
static int started(lua_State *L, client_ud *u) {
  if (!u->loop->closed) omh_loop_safe_point(u->loop, L);
  return 1; /* the op, on top */
}

static int client_create(lua_State *L) {
  client_ud *u = check_client(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  omh_body_opts bo = {u->cfg->model, u->cfg->max_audio_seconds, u->cfg->allow_unmeasured_audio};
  omh_body *body = omh_body_prepare(L, 2, &bo, u->loop->json_ref);
  int err_idx = lua_gettop(L);
  omh_op *op = omh_op_new(L, u->loop, loop_idx(L, u), u->cfg, &omh_create_class, OMH_OP_CREATE);
  op->lane = &u->cfg->api_lane;
  if (!body) {
    lua_pushvalue(L, err_idx);
    omh_op_finish_errobj(op, L);
    return 1;
  }
  op->body = body;
  size_t n = strlen(u->cfg->base_url) + 32;
  op->url = malloc(n);
  if (!op->url) return luaL_error(L, "omnihuman: out of memory");
  snprintf(op->url, n, "%s/video/generations", u->cfg->base_url);
  if (need_key(L, op)) omh_op_start_request(op, L);
  return started(L, u);
}

static omh_op *new_status_op(lua_State *L, client_ud *u, const omh_op_class *cls, omh_op_kind kind) {
  const char *id = luaL_checkstring(L, 2);
  if (!*id) luaL_argerror(L, 2, "job id is empty");
  check_text(L, 2, "omnihuman", "a job id");
  omh_op *op = omh_op_new(L, u->loop, loop_idx(L, u), u->cfg, cls, kind);
  op->lane = &u->cfg->api_lane;
  op->job_id = strdup(id);
  op->url = omh_status_url(u->cfg->base_url, id);
  if (!op->job_id || !op->url) luaL_error(L, "omnihuman: out of memory");
  return op;
}

static int client_poll(lua_State *L) {
  client_ud *u = check_client(L);
  omh_op *op = new_status_op(L, u, &omh_poll_class, OMH_OP_POLL);
  if (need_key(L, op)) omh_op_start_request(op, L);
  return started(L, u);
}

/* client:wait_op(id, {interval=, timeout=, on_status=}) */
static int client_wait(lua_State *L) {
  client_ud *u = check_client(L);
  double interval = u->cfg->poll_interval, timeout = u->cfg->wait_timeout;
  lua_settop(L, 3);
  int cb_idx = 0;
  if (!lua_isnil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    interval = opt_number(L, 3, "client:wait", "interval", interval, 0, OMH_MAX_INTERVAL, 0);
    timeout = opt_number(L, 3, "client:wait", "timeout", timeout, 0, OMH_MAX_WAIT, 0);
    lua_getfield(L, 3, "on_status");
    if (lua_isfunction(L, -1)) cb_idx = lua_gettop(L);
    else lua_pop(L, 1);
  }
  omh_op *op = new_status_op(L, u, &omh_wait_class, OMH_OP_WAIT);
  if (cb_idx) {
    lua_pushvalue(L, cb_idx);
    op->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (need_key(L, op)) omh_wait_begin(op, L, interval, timeout);
  return started(L, u);
}

/* Far above any clip under 30 s; a body beyond it is broken or hostile. */
#define DEFAULT_MAX_DOWNLOAD ((curl_off_t)4 << 30)

/* client:download_op(url, path, {on_progress=, max_bytes=}) */
static int client_download(lua_State *L) {
  client_ud *u = check_client(L);
  const char *url = luaL_checkstring(L, 2);
  const char *path = luaL_checkstring(L, 3);
  if (!*path) luaL_argerror(L, 3, "output path is empty");
  check_text(L, 2, "client:download", "the URL");
  if (strlen(path) != omh_rawlen(L, 3)) luaL_argerror(L, 3, "output path contains a NUL byte");
  double max_bytes = (double)DEFAULT_MAX_DOWNLOAD;
  lua_settop(L, 4);
  int cb_idx = 0;
  if (!lua_isnil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    max_bytes = opt_number(L, 4, "client:download", "max_bytes", max_bytes, 0, OMH_MAX_BYTES, 1);
    lua_getfield(L, 4, "on_progress");
    if (lua_isfunction(L, -1)) cb_idx = lua_gettop(L);
    else lua_pop(L, 1);
  }
  omh_op *op = omh_op_new(L, u->loop, loop_idx(L, u), u->cfg, &omh_download_class, OMH_OP_DOWNLOAD);
  op->lane = &u->cfg->cdn_lane;
  op->url = strdup(url);
  op->target = strdup(path);
  op->max_bytes = (curl_off_t)max_bytes;
  if (!op->url || !op->target) return luaL_error(L, "omnihuman: out of memory");
  if (cb_idx) {
    lua_pushvalue(L, cb_idx);
    op->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
    omh_op_finish_err(op, L, "invalid_input", "download URL must be http(s)", 0, NULL, 0);
  } else if (omh_download_begin(op, L) != 0) {
    char msg[1200];
    snprintf(msg, sizeof msg, "cannot create a temporary file beside '%.900s': %s", path, strerror(errno));
    omh_op_finish_err(op, L, "io", msg, 0, NULL, 0);
  }
  return started(L, u);
}

static int client_close(lua_State *L) {
  client_ud *u = luaL_checkudata(L, 1, OMH_CLIENT_MT);
  if (u->cfg) omh_config_release(L, u->cfg);
  u->cfg = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, u->loop_ref);
  u->loop_ref = LUA_NOREF;
  return 0;
}

static int client_tostring(lua_State *L) {
  client_ud *u = luaL_checkudata(L, 1, OMH_CLIENT_MT);
  /* Never the key. */
  if (u->cfg) lua_pushfstring(L, "omnihuman.client (%s, model %s)", u->cfg->base_url, u->cfg->model);
  else lua_pushliteral(L, "omnihuman.client (closed)");
  return 1;
}

int omh_client_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"create_op", client_create}, {"poll_op", client_poll},
                                     {"wait_op", client_wait},     {"download_op", client_download},
                                     {"close", client_close},      {NULL, NULL}};
  omh_register_type(L, OMH_CLIENT_MT, methods, client_close, client_tostring);
  return 0;
}
