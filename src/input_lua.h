/* core.check_input (input_lua.c). */
#ifndef OMH_INPUT_LUA_H
#define OMH_INPUT_LUA_H

#include "compat.h"

/* Sets check_input on the table on top of the stack. */
void omh_input_lua_open(lua_State *L);

#endif
