/* A flat table as JSON members, into C memory (see json_write_flat.h). */
#include <stdint.h>
#include <string.h>

#include "json_write_flat.h"

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
    if (lua_type(L, -2) != LUA_TSTRING || (vt != LUA_TSTRING && vt != LUA_TBOOLEAN)) {
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
