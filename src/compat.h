/* One source for Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT: the few API differences
 * this module touches, bridged here so the rest of src/ uses one spelling. */
#ifndef OMH_COMPAT_H
#define OMH_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#include <lualib.h> /* LUA_FILEHANDLE: lauxlib.h has it from 5.2 on */
#define omh_rawlen(L, i) lua_objlen((L), (i))
#define omh_setfuncs(L, l) luaL_register((L), NULL, (l))
#define omh_newlib(L, l) (lua_newtable(L), luaL_register((L), NULL, (l)))
#else
#define omh_rawlen(L, i) lua_rawlen((L), (i))
#define omh_setfuncs(L, l) luaL_setfuncs((L), (l), 0)
#define omh_newlib(L, l) luaL_newlib((L), (l))
#endif

/* Our userdata keep no user values: 5.4 would give each one a slot (16
 * bytes, on every operation) that nothing reads. */
#if LUA_VERSION_NUM >= 504
#define omh_newuserdata(L, n) lua_newuserdatauv((L), (n), 0)
#else
#define omh_newuserdata(L, n) lua_newuserdata((L), (n))
#endif

/* core.so exports nothing but its luaopen_ function (-fvisibility=hidden). */
#define OMH_EXPORT __attribute__((visibility("default")))

#endif
