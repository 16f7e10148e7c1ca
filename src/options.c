#include "options.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options_table.h"

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

int omh_opt_function(lua_State *L, int t, const char *where, const char *k) {
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return LUA_NOREF;
  }
  if (lua_type(L, -1) != LUA_TFUNCTION)
    luaL_error(L, "%s: option '%s' must be a function, got %s", where, k, luaL_typename(L, -1));
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

void omh_opt_refuse_unknown(lua_State *L, int t, const char *where, const char *const *known) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    int ok = 0;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (const char *const *k = known; *k && !ok; k++) ok = strcmp(*k, lua_tostring(L, -1)) == 0;
    if (!ok) {
      const char *name = lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER
                             ? lua_pushfstring(L, "%s", lua_tostring(L, -1))
                             : luaL_typename(L, -1);
      luaL_error(L, "%s: unknown option '%s'", where, name);
    }
  }
}

/* core.options, from the one table. */
#define TYPE_STRING "string"
#define TYPE_NUMBER "number"
#define TYPE_WHOLE "whole"
#define TYPE_BOOLEAN "boolean"
#define TYPE_FUNCTION "function"

static void set_string(lua_State *L, const char *k, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void set_number(lua_State *L, const char *k, double v, int whole) {
  if (whole)
    lua_pushinteger(L, (lua_Integer)v);
  else
    lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

/* One entry; default_doc, when given, stands for a default that is not a
 * plain value (the model's limit; the facade's true). */
static void push_option(lua_State *L, int order, const char *type, double dnum, const char *dstr,
                        const char *env, double lo, double hi, const char *ddoc, const char *doc) {
  int numeric = type[0] == 'n' || type[0] == 'w', whole = type[0] == 'w';
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, order);
  lua_setfield(L, -2, "order");
  set_string(L, "type", type);
  if (type[0] == 's') set_string(L, "default", dstr);
  if (numeric) {
    if (!ddoc) set_number(L, "default", dnum, whole);
    set_number(L, "min", lo, whole);
    set_number(L, "max", hi, whole);
  }
  set_string(L, "env", env);
  set_string(L, "default_doc", ddoc);
  set_string(L, "doc", doc);
}

#define PUSH(name, type, field, dnum, dstr, env, lo, hi, ddoc, doc)                                          \
  push_option(L, ++order, TYPE_##type, dnum, (const char *)(dstr), env, lo, hi, ddoc, doc);                  \
  lua_setfield(L, -2, #name);

void omh_options_push(lua_State *L) {
  int order = 0;
  lua_newtable(L);
  OMH_CLIENT_OPTIONS(PUSH)
}
