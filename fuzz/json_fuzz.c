/* libFuzzer target: the one-pass reader of the common answer shape
 * (json_read_fast.c) against lua-cjson and its normalising walk (json.c), on
 * arbitrary bytes, in a real Lua with the system's lua-cjson. Aborts when
 * the fast reader takes a text cjson rejects or reads one differently
 * (keys, values, integer or float, -0, nested tables); when the status it
 * finds without a table is not the cjson table's top-level string status;
 * or when decoding as operations do, with or without the key, differs from
 * the cjson path's. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "json.h"
#include "json_read_fast.h"

#define KEY "sk-fuzz-5cretKey-0123456789"

static lua_State *L;

typedef struct {
  const char *s;
  size_t n;
} input;

static int same(lua_State *L, int a, int b, int depth);

static int same_number(lua_State *L, int a, int b) {
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, a) != lua_isinteger(L, b)) return 0;
  if (lua_isinteger(L, a)) return lua_tointeger(L, a) == lua_tointeger(L, b);
#endif
  lua_Number x = lua_tonumber(L, a), y = lua_tonumber(L, b);
  if (isnan(x)) return isnan(y);
  return x == y && !signbit(x) == !signbit(y); /* -0 is not 0 */
}

/* Every field of table t is in table u, with the same value. */
static int covers(lua_State *L, int t, int u, int depth) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pushvalue(L, -2);
    lua_rawget(L, u);
    int ok = same(L, -2, -1, depth + 1);
    lua_pop(L, 2);
    if (!ok) {
      lua_pop(L, 1);
      return 0;
    }
  }
  return 1;
}

/* Same type and value; tables field by field (the fast reader's are at
 * most a few levels deep), neither with a metatable. */
static int same(lua_State *L, int a, int b, int depth) {
  if (a < 0) a = lua_gettop(L) + a + 1;
  if (b < 0) b = lua_gettop(L) + b + 1;
  if (lua_type(L, a) != lua_type(L, b)) return 0;
  switch (lua_type(L, a)) {
    case LUA_TNUMBER:
      return same_number(L, a, b);
    case LUA_TTABLE:
      if (depth > 100 || !lua_checkstack(L, 8)) return 0;
      if (lua_getmetatable(L, a) || lua_getmetatable(L, b)) return 0;
      return covers(L, a, b, depth) && covers(L, b, a, depth);
    default:
      return lua_rawequal(L, a, b);
  }
}

static void differ(const input *in, const char *what) {
  fprintf(stderr, "json_fuzz: %s; text (%zu bytes): \"", what, in->n);
  for (size_t i = 0; i < in->n && i < 4096; i++) {
    unsigned char c = (unsigned char)in->s[i];
    if (c == '"' || c == '\\')
      fprintf(stderr, "\\%c", c);
    else
      fprintf(stderr, c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
  }
  fprintf(stderr, "\"\n");
  abort();
}

/* Runs inside a C function called by Lua: stack 1 is the input. */
static int check(lua_State *L) {
  const input *in = lua_touserdata(L, 1);
  const char *s = in->s, *st;
  size_t n = in->n, len;
  int fast = omh_json_read_fast(L, s, n); /* 2: the table, or false */
  if (!fast) lua_pushboolean(L, 0);
  if (!omh_json_decode_cjson(L, s, n, NULL)) lua_pushnil(L); /* 3 */
  if (fast && !lua_istable(L, 3)) differ(in, "the fast reader took a text cjson does not read to a table");
  if (fast && !same(L, 2, 3, 0)) differ(in, "the fast reader and cjson read different values");
  /* The status found without a table: the cjson table's, when a string. */
  int found = omh_json_read_fast_status(s, n, &st, &len);
  if (fast) { /* 4: the cjson table's status, if the fast reader took the text */
    lua_pushliteral(L, "status");
    lua_rawget(L, 3);
  } else {
    lua_pushnil(L);
  }
  if (found != (lua_type(L, 4) == LUA_TSTRING))
    differ(in, found ? "a status where the fast reader declines or cjson has none" : "a status missed");
  size_t want_len;
  const char *want = lua_tolstring(L, 4, &want_len);
  if (found && (want_len != len || memcmp(want, st, len) != 0)) differ(in, "another status than cjson's");
  /* As operations decode: the cjson path's value, with the key or without. */
  if (!omh_json_decode(L, s, n, NULL)) lua_pushnil(L); /* 5 */
  if (lua_isnil(L, 5) != lua_isnil(L, 3) || (fast && !same(L, 5, 3, 0)))
    differ(in, "decoding as operations differs from cjson");
  if (fast) {
    if (!omh_json_decode(L, s, n, KEY)) lua_pushnil(L);       /* 6 */
    if (!omh_json_decode_cjson(L, s, n, KEY)) lua_pushnil(L); /* 7 */
    if (!same(L, 6, 7, 0)) differ(in, "with the key, decoding as operations differs from cjson");
  }
  return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  char init[160];
  int v = LUA_VERSION_NUM;
  (void)argc, (void)argv;
  L = luaL_newstate();
  luaL_openlibs(L);
  /* The system's lua-cjson for this Lua version. */
  snprintf(init, sizeof init, "package.cpath = '/usr/lib/x86_64-linux-gnu/lua/%d.%d/?.so;;' require('cjson')",
           v / 100, v % 100);
  if (luaL_dostring(L, init) != 0) {
    fprintf(stderr, "json_fuzz: %s\n", lua_tostring(L, -1));
    abort();
  }
  omh_json_open(L); /* cjson is loaded: only memory could fail here, and Lua would abort */
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  input in = {(const char *)data, size};
  lua_pushcfunction(L, check);
  lua_pushlightuserdata(L, &in);
  if (lua_pcall(L, 1, 0, 0) != 0) {
    fprintf(stderr, "json_fuzz: check raised: %s\n", lua_tostring(L, -1));
    abort();
  }
  /* Every run frees what it allocated: libFuzzer's leak check (run after
   * any input that leaves more mallocs than frees) stays rare and real. */
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
