/* JSON through a private lua-cjson instance (cjson.new()), so a user's
 * cjson settings never change how we read the service. */
#ifndef OMH_JSON_H
#define OMH_JSON_H

#include <stddef.h>
#include "compat.h"

/* Pushes {decode=, encode=, null=} built from require("cjson").new(). */
void omh_json_push_instance(lua_State *L);
/* Decodes s with the instance at registry ref `json_ref`. On success pushes the
 * value and returns 1; on failure pushes nothing. JSON nulls are dropped
 * from tables, whole numbers are integers (Lua 5.3+), and with a `key`
 * (non-NULL) no string in the value holds it. */
int omh_json_decode(lua_State *L, int json_ref, const char *s, size_t n, const char *key);
/* The same through cjson alone (what the common-shape reader must match). */
int omh_json_decode_cjson(lua_State *L, int json_ref, const char *s, size_t n, const char *key);
/* Encodes the value at idx; on success pushes the string and returns 1,
 * else pushes an error message and returns 0. */
int omh_json_encode(lua_State *L, int json_ref, int idx);

#endif
