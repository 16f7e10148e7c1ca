/* omnihuman.core: the C half of the module. Everything here is per Lua
 * state; no global holds Lua state. */
#include <curl/curl.h>

#include "client.h"
#include "clock.h"
#include "errors.h"
#include "fsutil.h"
#include "loop.h"
#include "op.h"
#include "ops.h"
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

OMH_EXPORT int luaopen_omnihuman_core(lua_State *L);

int luaopen_omnihuman_core(lua_State *L) {
  /* Safe to repeat; libcurl counts its own initialisations. */
  curl_global_init(CURL_GLOBAL_DEFAULT);
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
  omh_fsutil_open(L);
  return 1;
}
