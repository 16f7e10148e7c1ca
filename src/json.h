/* JSON through a private lua-cjson instance (cjson.new()), so a user's
 * cjson settings never change how we read the service. */
#ifndef OMH_JSON_H
#define OMH_JSON_H

#include <stddef.h>
#include "compat.h"
#include "redact.h"

/* Makes this Lua state's private instance ({decode=, encode=, null=} from
 * require("cjson").new()) and keeps it in the registry under a key of this
 * file's own: one per state, shared by its loops and clients. Called when
 * the module is opened (again: a no-op). */
void omh_json_open(lua_State *L);
/* Decodes s with the state's instance. On success pushes the
 * value and returns 1; on failure pushes nothing. JSON nulls are dropped
 * from tables, whole numbers are integers (Lua 5.3+), and with a `key`
 * (non-NULL) no string in the value holds it. */
int omh_json_decode(lua_State *L, const char *s, size_t n, const char *key);
/* The same with the key prepared (a client's: omh_config_redactor). */
int omh_json_decode_with(lua_State *L, const char *s, size_t n, const omh_redactor *r);
/* The same through cjson alone (what the common-shape reader must match). */
int omh_json_decode_cjson(lua_State *L, const char *s, size_t n, const char *key);

#endif
