/* Test hooks: the pure C parts (base64, media, Retry-After, redaction,
 * bodies) as underscore fields of the core module, for specs and benches. */
#ifndef OMH_UNITS_LUA_H
#define OMH_UNITS_LUA_H

#include "compat.h"

/* Sets the hooks on the table on top of the stack. */
int omh_units_open(lua_State *L);

#endif
