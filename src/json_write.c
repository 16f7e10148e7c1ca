/* Create bodies as JSON, into C memory (see json_write.h). */
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "json_write.h"

#define NO_LIMIT (SIZE_MAX / 2)

static int put(omh_buf *out, const char *s, size_t n) { return omh_buf_append(out, s, n, NO_LIMIT); }

/* Appends s as a quoted JSON string, escaped as lua-cjson escapes (except
 * that '/' is kept). Returns 0, or -1 when out of memory. */
static int put_string(omh_buf *out, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t run = 0;
  if (put(out, "\"", 1)) return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) continue;
    if (put(out, s + run, i - run)) return -1;
    run = i + 1;
    /* The two-character escapes JSON has, else \u00XX. */
    static const char from[] = "\"\\\n\r\t\b\f", to[] = "\"\\nrtbf";
    const char *k = c ? strchr(from, c) : NULL;
    char esc[6] = {'\\', k ? to[k - from] : 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    size_t len = k ? 2 : 6;
    if (put(out, esc, len)) return -1;
  }
  if (put(out, s + run, n - run)) return -1;
  return put(out, "\"", 1);
}

/* A finite number with every digit it has: integers as integers (whole
 * floats up to 2^53 too), others in the fewest of 15 to 17 significant
 * digits that read back as the same double. The locale's decimal point
 * (a host may set one) is written as '.'. Returns 0, 1 when the number is
 * not finite, or -1 when out of memory. */
static int put_number(lua_State *L, int idx, omh_buf *out) {
  char s[64];
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, idx)) {
    snprintf(s, sizeof s, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
    return put(out, s, strlen(s));
  }
#endif
  double v = (double)lua_tonumber(L, idx);
  if (!isfinite(v)) return 1;
  if (v == floor(v) && fabs(v) <= 9007199254740992.0) {
    snprintf(s, sizeof s, "%.0f", v);
  } else {
    for (int digits = 15; digits <= 17; digits++) {
      snprintf(s, sizeof s, "%.*g", digits, v);
      if (strtod(s, NULL) == v) break;
    }
    char point = localeconv()->decimal_point[0];
    char *p = point && point != '.' ? strchr(s, point) : NULL;
    if (p) *p = '.';
  }
  return put(out, s, strlen(s));
}

/* ,"key":  (no comma before the first member, right after the brace) */
static int put_key(omh_buf *out, const char *k, size_t klen) {
  if (out->len > 1 && put(out, ",", 1)) return -1;
  if (put_string(out, k, klen)) return -1;
  return put(out, ":", 1);
}

int omh_json_put_object(lua_State *L, int idx, int (*reject)(const char *key, size_t len),
                        const char *extra_key, const char *extra_value, omh_buf *out) {
  int ok = 1;
  if (idx < 0) idx = lua_gettop(L) + idx + 1;
  /* Before any malloc: on 5.1 and LuaJIT a stack that cannot grow raises. */
  if (!lua_checkstack(L, 3)) return 0;
  if (put(out, "{", 1)) return -1;
  lua_pushnil(L);
  while (ok == 1 && lua_next(L, idx)) {
    size_t klen, vlen;
    int vt = lua_type(L, -1);
    if (lua_type(L, -2) != LUA_TSTRING || (vt != LUA_TSTRING && vt != LUA_TBOOLEAN && vt != LUA_TNUMBER)) {
      ok = 0;
    } else {
      const char *k = lua_tolstring(L, -2, &klen);
      if (reject(k, klen)) {
        ok = 0;
      } else if (put_key(out, k, klen)) {
        ok = -1;
      } else if (vt == LUA_TSTRING) {
        const char *v = lua_tolstring(L, -1, &vlen);
        if (put_string(out, v, vlen)) ok = -1;
      } else if (vt == LUA_TNUMBER) {
        int r = put_number(L, -1, out);
        if (r) ok = r < 0 ? -1 : 0; /* not finite: the general writer says why */
      } else if (lua_toboolean(L, -1) ? put(out, "true", 4) : put(out, "false", 5)) {
        ok = -1;
      }
    }
    lua_pop(L, 1);
  }
  if (ok != 1) {
    lua_pop(L, 1); /* the key lua_next left */
    return ok;
  }
  if (extra_key &&
      (put_key(out, extra_key, strlen(extra_key)) || put_string(out, extra_value, strlen(extra_value))))
    return -1;
  return put(out, "}", 1) ? -1 : 1;
}

#define MAX_DEPTH 1000

static int put_value(lua_State *L, int idx, int depth, omh_buf *out, const char **why);

/* The length of the array the table at idx is, as lua-cjson judges it: 0
 * for an empty table (an object), -1 for an object, -2 for an array with
 * too many holes (more than half of it, past index 10). */
static lua_Number array_length(lua_State *L, int idx) {
  lua_Number most = 0, count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    lua_Number k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    if (k < 1 || k != floor(k) || k > 2147483647.0) {
      lua_pop(L, 1);
      return -1;
    }
    if (k > most) most = k;
    count++;
  }
  return most > 10 && most > count * 2 ? -2 : most;
}

static int put_array(lua_State *L, int idx, lua_Number n, int depth, omh_buf *out, const char **why) {
  if (put(out, "[", 1)) return -1;
  for (lua_Number i = 1; i <= n; i++) {
    if (i > 1 && put(out, ",", 1)) return -1;
    lua_rawgeti(L, idx, (int)i);
    int r = put_value(L, lua_gettop(L), depth + 1, out, why);
    lua_pop(L, 1);
    if (r != 1) return r;
  }
  return put(out, "]", 1) ? -1 : 1;
}

static int put_members(lua_State *L, int idx, int depth, omh_buf *out, const char **why) {
  int first = 1;
  if (put(out, "{", 1)) return -1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int r = 1, kt = lua_type(L, -2);
    if (!first && put(out, ",", 1)) r = -1;
    first = 0;
    if (r == 1 && kt == LUA_TSTRING) {
      size_t klen;
      const char *k = lua_tolstring(L, -2, &klen);
      if (put_string(out, k, klen)) r = -1;
    } else if (r == 1 && kt == LUA_TNUMBER) { /* never tolstring: lua_next needs the key as it is */
      int n = put(out, "\"", 1) ? -1 : put_number(L, -2, out);
      r = n < 0 || put(out, "\"", 1) ? -1 : n ? (*why = "a table key is not a finite number", 0) : 1;
    } else if (r == 1) {
      *why = "a table key must be a string or a number", r = 0;
    }
    if (r == 1) r = put(out, ":", 1) ? -1 : put_value(L, lua_gettop(L), depth + 1, out, why);
    if (r != 1) {
      lua_pop(L, 2);
      return r;
    }
    lua_pop(L, 1);
  }
  return put(out, "}", 1) ? -1 : 1;
}

static int put_value(lua_State *L, int idx, int depth, omh_buf *out, const char **why) {
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      return put_string(out, s, n) ? -1 : 1;
    }
    case LUA_TBOOLEAN:
      return (lua_toboolean(L, idx) ? put(out, "true", 4) : put(out, "false", 5)) ? -1 : 1;
    case LUA_TNUMBER: {
      int r = put_number(L, idx, out);
      if (r > 0) *why = "a number is not finite (inf or nan)";
      return r < 0 ? -1 : !r;
    }
    case LUA_TNIL:
      return put(out, "null", 4) ? -1 : 1; /* a hole of an array */
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == NULL) return put(out, "null", 4) ? -1 : 1; /* cjson.null */
      break;
    case LUA_TTABLE: {
      if (depth >= MAX_DEPTH || !lua_checkstack(L, 6)) {
        *why = "tables are nested too deep";
        return 0;
      }
      lua_Number n = array_length(L, idx);
      if (n == -2) {
        *why = "an array has more holes than values";
        return 0;
      }
      return n > 0 ? put_array(L, idx, n, depth, out, why) : put_members(L, idx, depth, out, why);
    }
    default:
      break;
  }
  *why = "a field holds a value JSON has no place for (a function, a userdata or a thread)";
  return 0;
}

int omh_json_write_value(lua_State *L, int idx, omh_buf *out, const char **why) {
  if (idx < 0) idx = lua_gettop(L) + idx + 1;
  return put_value(L, idx, 0, out, why);
}
