/* Reading options from Lua tables, checked in C so that users of
 * omnihuman.core get the same checks as the facade's. Each raises a clear
 * error naming `where` (the function) and the option. */
#ifndef OMH_OPTIONS_H
#define OMH_OPTIONS_H

#include "compat.h"

/* The string at idx; raises if it holds a CR, an LF or a NUL byte (text
 * that ends up in a header or a URL: header injection, silent cuts). */
const char *omh_check_text(lua_State *L, int idx, const char *where, const char *what);
/* t[k] as a malloc'd copy (checked like omh_check_text), or a copy of def
 * (NULL: none) when absent. */
char *omh_opt_string(lua_State *L, int t, const char *where, const char *k, const char *def);
/* t[k] within [lo, hi] (and whole when `whole`), or def when absent; NaN
 * and infinities are outside every range. */
double omh_opt_number(lua_State *L, int t, const char *where, const char *k, double def, double lo, double hi,
                      int whole);
/* t[k] as a boolean (absent: false). */
int omh_opt_boolean(lua_State *L, int t, const char *where, const char *k);
/* t[k] as a registry reference to a function (absent: LUA_NOREF). */
int omh_opt_function(lua_State *L, int t, const char *where, const char *k);
/* Raises on the first key of t that is not one of `known` (NULL-ended). */
void omh_opt_refuse_unknown(lua_State *L, int t, const char *where, const char *const *known);
/* Pushes core.options: name -> {type, default, env, min, max,
 * default_doc, doc}, one entry per row of options_table.h. */
void omh_options_push(lua_State *L);

#endif
