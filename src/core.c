/* omnihuman.core: the C half of the module. Everything here is per Lua
 * state; no global holds Lua state. */
#include <curl/curl.h>

#include "client.h"
#include "clock.h"
#include "errors.h"
#include "input_lua.h"
#include "json.h"
#include "loop.h"
#include "op.h"
#include "op_start.h"
#include "options.h"
#include "test_hooks.h"

/* core.sleep_op(loop, seconds) */
static int core_sleep_op(lua_State *L) {
  omh_loop *lp = omh_checkloop(L, 1);
  double s = luaL_checknumber(L, 2);
  if (s != s) return luaL_argerror(L, 2, "not a number");
  omh_sleep_start(L, lp, 1, s);
  return 1;
}

static int core_now(lua_State *L) {
  lua_pushnumber(L, omh_now());
  return 1;
}

static int core_new_error(lua_State *L) {
  omh_push_error(L, luaL_checkstring(L, 1), luaL_checkstring(L, 2), (long)luaL_optnumber(L, 3, 0),
                 luaL_optstring(L, 4, NULL), lua_toboolean(L, 5));
  return 1;
}

/* aside(fn, ...): fn(...) on a thread of the state's own, its results (or
 * its error) returned. On Lua 5.4 a coroutine's stack that grows past its
 * first 40 slots (a C function called from ~20 slots up) stays twice as
 * large while the coroutine waits; work that goes deep runs here instead.
 * Elsewhere, or when that thread is busy (fn reached aside again), a plain
 * call. */
static int core_aside(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
#if LUA_VERSION_NUM >= 504
  static const char key = 0; /* its address names the thread in the registry */
  lua_rawgetp(L, LUA_REGISTRYINDEX, &key);
  lua_State *T = lua_tothread(L, -1);
  lua_pop(L, 1);
  if (!T) {
    T = lua_newthread(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key);
  }
  if (T != L && lua_status(T) == LUA_OK && lua_gettop(T) == 0) {
    lua_xmove(L, T, n);
    int rc = lua_pcall(T, n - 1, LUA_MULTRET, 0);
    int nr = lua_gettop(T);
    luaL_checkstack(L, nr, "omnihuman: aside");
    lua_xmove(T, L, nr);
    if (rc != LUA_OK) return lua_error(L);
    return nr;
  }
#endif
  lua_call(L, n - 1, LUA_MULTRET);
  return lua_gettop(L);
}

OMH_EXPORT int luaopen_omnihuman_core(lua_State *L);

int luaopen_omnihuman_core(lua_State *L) {
  /* Safe to repeat; libcurl counts its own initialisations. */
  curl_global_init(CURL_GLOBAL_DEFAULT);
  omh_json_open(L);
  omh_errors_open(L);
  omh_op_open(L);
  omh_client_open(L);
  lua_newtable(L);
  omh_loop_open(L);
  lua_setfield(L, -2, "new_loop");
  lua_pushcfunction(L, omh_client_new);
  lua_setfield(L, -2, "new_client");
  lua_pushcfunction(L, core_sleep_op);
  lua_setfield(L, -2, "sleep_op");
  lua_pushcfunction(L, core_now);
  lua_setfield(L, -2, "now");
  lua_pushcfunction(L, core_new_error);
  lua_setfield(L, -2, "new_error");
  lua_pushcfunction(L, core_aside);
  lua_setfield(L, -2, "aside");
  omh_error_kinds_push(L);
  lua_setfield(L, -2, "error_kinds");
  omh_options_push(L);
  lua_setfield(L, -2, "options");
  /* curl_version() would initialise libldap/libsasl (which leak): read the parts. */
  const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
  lua_pushfstring(L, "libcurl/%s %s", v->version, v->ssl_version ? v->ssl_version : "no-tls");
  lua_setfield(L, -2, "curl_version");
  lua_pushliteral(L, "0.1.0");
  lua_setfield(L, -2, "version");
  omh_test_hooks_open(L);
  omh_input_lua_open(L);
  return 1;
}
