#include "errors.h"

#include "error_kinds.h"

static int error_tostring(lua_State *L) {
  lua_getfield(L, 1, "kind");
  lua_getfield(L, 1, "message");
  lua_pushfstring(L, "omnihuman: %s: %s", lua_tostring(L, -2) ? lua_tostring(L, -2) : "?",
                  lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
  return 1;
}

int omh_errors_open(lua_State *L) {
  if (luaL_newmetatable(L, OMH_ERROR_MT)) {
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "omnihuman.error");
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
  return 0;
}

void omh_push_error(lua_State *L, const char *kind, const char *message, long status, const char *request_id,
                    int retryable) {
  lua_createtable(L, 0, 6);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, message ? message : kind);
  lua_setfield(L, -2, "message");
  if (status > 0) {
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, -2, "status");
  }
  if (request_id && *request_id) {
    lua_pushstring(L, request_id);
    lua_setfield(L, -2, "request_id");
  }
  lua_pushboolean(L, retryable);
  lua_setfield(L, -2, "retryable");
  luaL_getmetatable(L, OMH_ERROR_MT);
  lua_setmetatable(L, -2);
}

#define KIND_NAME(kind, doc) #kind,

void omh_error_kinds_push(lua_State *L) {
  static const char *const kinds[] = {OMH_ERROR_KINDS(KIND_NAME) NULL};
  lua_newtable(L);
  for (int i = 0; kinds[i]; i++) {
    lua_pushstring(L, kinds[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

const char *omh_kind_for_status(long status) {
  switch (status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return "invalid_input";
    case 401:
      return "auth";
    case 402:
    case 403:
      return "forbidden";
    case 404:
    case 410:
      return "not_found";
    case 408:
      return "timeout";
    case 429:
      return "rate_limited";
    default:
      break;
  }
  if (status >= 500) return "server";
  return "protocol";
}
