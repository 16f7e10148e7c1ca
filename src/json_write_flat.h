/* JSON for the common create: a flat table of string keys and string or
 * boolean values, written straight into C memory. No copy of the table and
 * no Lua string are made, so a create leaves nothing for the collector. */
#ifndef OMH_JSON_WRITE_FLAT_H
#define OMH_JSON_WRITE_FLAT_H

#include <lua.h>

#include "buf.h"

/* Writes the table at idx as a JSON object into out (empty at the call)
 * when every key is a string that reject(key, len) accepts (returns 0 for)
 * and every value is a string or a boolean, with "extra_key":"extra_value"
 * added when extra_key is not NULL; returns 1. Otherwise returns 0, or -1
 * when out of memory; out is then for the caller to free. Raw access: no
 * metamethod runs. */
int omh_json_put_object(lua_State *L, int idx, int (*reject)(const char *key, size_t len),
                        const char *extra_key, const char *extra_value, omh_buf *out);

#endif
