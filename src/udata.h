/* Registering a userdata type: methods in __index, __gc (and __close, for
 * Lua 5.4's to-be-closed variables) calling the same idempotent close. */
#ifndef OMH_UDATA_H
#define OMH_UDATA_H

#include "compat.h"

static inline void omh_register_type(lua_State *L, const char *name, const luaL_Reg *methods,
                                     lua_CFunction gc, lua_CFunction tostring) {
  if (luaL_newmetatable(L, name)) {
    lua_newtable(L);
    omh_setfuncs(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
}

#endif
