#include "json.h"

void omh_json_push_instance(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cjson");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "new");
  if (lua_isfunction(L, -1)) {
    lua_call(L, 0, 1);
    lua_remove(L, -2);
  } else {
    lua_pop(L, 1);
  }
  lua_createtable(L, 0, 3);
  lua_getfield(L, -2, "decode");
  lua_setfield(L, -2, "decode");
  lua_getfield(L, -2, "encode");
  lua_setfield(L, -2, "encode");
  lua_getfield(L, -2, "null");
  lua_setfield(L, -2, "null");
  lua_remove(L, -2);
}

/* cjson.null is a truthy lightuserdata: `if st.video then` would lie, so
 * nulls become absent fields. Depth-bounded: answers are shallow. */
static void strip_nulls(lua_State *L, int t, int null_idx, int depth) {
  /* Two slots per level (key, value): beyond LUA_MINSTACK without this. */
  if (depth > 32 || !lua_checkstack(L, 4)) return;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_rawequal(L, -1, null_idx)) {
      lua_pop(L, 1);
      lua_pushvalue(L, -1);
      lua_pushnil(L);
      lua_rawset(L, t);       /* clearing an existing field during next is allowed */
      continue;
    }
    if (lua_istable(L, -1)) strip_nulls(L, lua_gettop(L), null_idx, depth + 1);
    lua_pop(L, 1);
  }
}

int omh_json_decode(lua_State *L, int json_ref, const char *s, size_t n) {
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, json_ref);
  lua_getfield(L, -1, "null");
  lua_getfield(L, -2, "decode");
  lua_pushlstring(L, s, n);
  if (lua_pcall(L, 1, 1, 0) != 0) {
    lua_settop(L, top);
    return 0;
  }
  if (lua_istable(L, -1)) strip_nulls(L, lua_gettop(L), top + 2, 0);
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
  return 1;
}

int omh_json_encode(lua_State *L, int json_ref, int idx) {
  int top = lua_gettop(L);
  if (idx < 0) idx = top + idx + 1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, json_ref);
  lua_getfield(L, -1, "encode");
  lua_pushvalue(L, idx);
  int ok = lua_pcall(L, 1, 1, 0) == 0;
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
  return ok;
}
