#include "options.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *omh_check_text(lua_State *L, int idx, const char *where, const char *what) {
  size_t n;
  const char *v = lua_tolstring(L, idx, &n);
  for (size_t i = 0; i < n; i++)
    if (v[i] == '\0' || v[i] == '\r' || v[i] == '\n')
      luaL_error(L, "%s: %s must not contain a line break or a NUL byte", where, what);
  return v;
}

char *omh_opt_string(lua_State *L, int t, const char *where, const char *k, const char *def) {
  lua_getfield(L, t, k);
  const char *v = def;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "%s: option '%s' must be a string, got %s", where, k, luaL_typename(L, -1));
    char what[64];
    snprintf(what, sizeof what, "option '%s'", k);
    v = omh_check_text(L, -1, where, what);
  }
  char *copy = v ? strdup(v) : NULL;
  lua_pop(L, 1);
  if (v && !copy) luaL_error(L, "omnihuman: out of memory");
  return copy;
}

static const char *fmt_num(char *buf, size_t n, double v) {
  snprintf(buf, n, "%.15g", v);
  return buf;
}

double omh_opt_number(lua_State *L, int t, const char *where, const char *k, double def, double lo, double hi,
                      int whole) {
  lua_getfield(L, t, k);
  double v = def;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "%s: option '%s' must be a number, got %s", where, k, luaL_typename(L, -1));
    v = lua_tonumber(L, -1);
    if (!(v >= lo && v <= hi) || (whole && v != floor(v))) {
      char a[32], b[32], c[32];
      luaL_error(L, "%s: option '%s' must be %s from %s to %s, got %s", where, k,
                 whole ? "a whole number" : "a number", fmt_num(a, sizeof a, lo), fmt_num(b, sizeof b, hi),
                 fmt_num(c, sizeof c, v));
    }
  }
  lua_pop(L, 1);
  return v;
}

int omh_opt_boolean(lua_State *L, int t, const char *where, const char *k) {
  lua_getfield(L, t, k);
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TBOOLEAN)
    luaL_error(L, "%s: option '%s' must be a boolean, got %s", where, k, luaL_typename(L, -1));
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}
