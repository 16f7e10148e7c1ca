/* JSON for the common create: a flat table of string keys and string or
 * boolean values, written straight into C memory. No copy of the table and
 * no Lua string are made, so a create leaves nothing for the collector. */
#ifndef OMH_JSON_FLAT_H
#define OMH_JSON_FLAT_H

#include <lua.h>

#include "buf.h"

/* Appends s as a quoted JSON string, escaped as lua-cjson escapes (except
 * that '/' is kept). Returns 0, or -1 when out of memory. */
int omh_json_put_string(omh_buf *out, const char *s, size_t n);

/* Appends the members of the table at idx ("k":v,"k":v) when every key is a
 * string that reject(key, len) accepts (returns 0 for) and every value is
 * a string or a boolean; returns 1. Otherwise returns 0 with out as it was
 * (-1 when out of memory). Raw access: no metamethod runs. */
int omh_json_put_flat(lua_State *L, int idx, int (*reject)(const char *key, size_t len), omh_buf *out);

#endif
