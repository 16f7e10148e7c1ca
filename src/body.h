/* The create request's JSON body. Local files become data URIs, encoded
 * in C straight into the one buffer that curl sends: no copy of the file
 * ever exists as a Lua string. */
#ifndef OMH_BODY_H
#define OMH_BODY_H

#include <stddef.h>
#include "compat.h"

/* Builds the body from the fields table at idx. Returns 1 and sets *out
 * (malloc'd) and *len; or returns 0 with an error object pushed
 * (invalid_input, io). Raises on misuse (missing or doubled inputs). */
int omh_body_build(lua_State *L, int idx, const char *default_model, int json_ref, char **out, size_t *len);

#endif
