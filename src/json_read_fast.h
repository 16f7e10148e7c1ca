/* The common case of the service's answers, read in one pass: an object of
 * plain strings (no escapes), whole numbers of up to 15 digits, true,
 * false, null and nested objects. Everything else (arrays, escapes,
 * fractions, exponents, deep nesting, anything invalid) is left to
 * lua-cjson, so both paths give the same value for every text the fast
 * one takes (checked by spec/units/json_read_fast_spec.lua and fuzz/json_fuzz.c). */
#ifndef OMH_JSON_READ_FAST_H
#define OMH_JSON_READ_FAST_H

#include <stddef.h>
#include "compat.h"

/* Pushes the table s decodes to, as omh_json_decode would without a key
 * (nulls dropped, whole numbers integers on Lua 5.3+), and returns 1; or
 * pushes nothing and returns 0 when s is not of the common shape. */
int omh_json_read_fast(lua_State *L, const char *s, size_t n);

/* Without building anything: returns 1 when s is of the common shape and
 * its top-level "status" (the last one, as a decoder keeps) is a string,
 * with *st and *len pointing at its bytes inside s; else 0. */
int omh_json_read_fast_status(const char *s, size_t n, const char **st, size_t *len);

#endif
