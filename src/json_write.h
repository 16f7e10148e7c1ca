/* Create bodies as JSON, written into C memory. The common create (a flat
 * table of string keys and string, boolean or number values) is written
 * straight from the caller's table: no copy of it and no Lua string are
 * made, so a create leaves nothing for the collector. Any other is written
 * as lua-cjson would with its defaults, but for numbers: lua-cjson keeps 14
 * significant digits (a seed of 15 digits would be sent altered), these
 * writers keep every digit. */
#ifndef OMH_JSON_WRITE_H
#define OMH_JSON_WRITE_H

#include <lua.h>

#include "buf.h"

/* Writes the table at idx as a JSON object into out (empty at the call)
 * when every key is a string that reject(key, len) accepts (returns 0 for)
 * and every value is a string, a boolean or a finite number, with "extra_key":"extra_value"
 * added when extra_key is not NULL; returns 1. Otherwise returns 0, or -1
 * when out of memory; out is then for the caller to free. Raw access: no
 * metamethod runs. */
int omh_json_put_object(lua_State *L, int idx, int (*reject)(const char *key, size_t len),
                        const char *extra_key, const char *extra_value, omh_buf *out);

/* Writes the value at idx as JSON into out (empty at the call): strings,
 * booleans, finite numbers, cjson.null (a NULL light userdata), tables at
 * most 1000 deep (an empty one is {}; one whose keys are 1..n, holes
 * allowed up to half of n past 10, is an array; any other an object, whose
 * number keys are written as strings). Returns 1; 0 with *why set when the
 * value cannot be JSON; -1 when out of memory (out is then for the caller
 * to free). Raw access: no metamethod runs. */
int omh_json_write_value(lua_State *L, int idx, omh_buf *out, const char **why);

#endif
