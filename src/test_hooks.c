/* Test hooks: base64, media sniffing/duration and Retry-After parsing,
 * exposed as underscore fields of the core module so specs can reach the
 * C directly. Only API common to Lua 5.1-5.4 and LuaJIT. */
#include <float.h>
#include <string.h>

#include "test_hooks.h"

#ifdef OMH_TEST_HOOKS

#include "base64.h"
#include "body.h"
#include "clock.h"
#include "json.h"
#include "json_read_fast.h"
#include "media.h"
#include "redact.h"
#include "retry_after.h"

static int units_b64(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  size_t out_len = omh_b64_encoded_len(n);
  char *out;
  if (out_len < n) /* size_t overflow, for absurd inputs only */
    return luaL_error(L, "input too large");
  /* A userdata, not malloc: if a later push raises, the GC frees it. */
  out = (char *)omh_newuserdata(L, out_len ? out_len : 1);
  omh_b64_encode(out, (const unsigned char *)s, n);
  lua_pushlstring(L, out, out_len);
  return 1;
}

static int units_sniff(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  lua_pushstring(L, omh_media_name(omh_media_sniff((const unsigned char *)s, n)));
  return 1;
}

static int units_mime(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  const char *mime = omh_media_mime(omh_media_sniff((const unsigned char *)s, n));
  if (mime)
    lua_pushstring(L, mime);
  else
    lua_pushnil(L);
  return 1;
}

/* Type from its name; when no name is given, from the bytes. */
static omh_media_type type_arg(lua_State *L, int idx, const char *buf, size_t n) {
  int t;
  const char *name;
  if (lua_isnoneornil(L, idx)) return omh_media_sniff((const unsigned char *)buf, n);
  name = luaL_checkstring(L, idx);
  for (t = OMH_MEDIA_UNKNOWN; t < OMH_MEDIA_COUNT; t++)
    if (strcmp(name, omh_media_name((omh_media_type)t)) == 0) return (omh_media_type)t;
  luaL_argerror(L, idx, "unknown media type name");
  return OMH_MEDIA_UNKNOWN; /* not reached */
}

/* _duration(bytes [, type [, window]]): with a window size, measured
 * through a window of that many bytes (raised to the parsers' minimum). */
static int units_duration(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  omh_media_type t = type_arg(L, 2, s, n);
  double d;
  if (lua_isnoneornil(L, 3)) {
    d = omh_media_duration((const unsigned char *)s, n, t);
  } else {
    lua_Number w = luaL_checknumber(L, 3);
    omh_media_mem m;
    omh_media_src src;
    luaL_argcheck(L, w >= 0 && w <= 1e9, 3, "window size out of range");
    omh_media_src_mem(&src, &m, (const unsigned char *)s, n);
    d = omh_media_measure_window(&src, t, (size_t)w);
  }
  if (d < 0.0)
    lua_pushnil(L);
  else
    lua_pushnumber(L, (lua_Number)d);
  return 1;
}

static int units_retry_after(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  lua_Number now = luaL_checknumber(L, 2);
  double d;
  /* Converting NaN or an out-of-range value to time_t is undefined. */
  luaL_argcheck(L, now == now && now > -1e15 && now < 1e15, 2, "epoch seconds out of range");
  d = omh_retry_after_parse(s, n, (time_t)now);
  if (d < 0.0)
    lua_pushnil(L);
  else
    lua_pushnumber(L, (lua_Number)d);
  return 1;
}

/* core._body_text(fields, how [, files]) -> the whole create body a fields
 * table makes (nil, err when its files fail the checks). how: nil (as
 * creates do) or "table" (the table path alone, for differential tests);
 * files: as client:create_op takes them. */
static int units_body_text(lua_State *L) {
  omh_body_opts o = {"bytedance/omnihuman", 0, 0, 0};
  luaL_checktype(L, 1, LUA_TTABLE);
  o.table_path = lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "table") == 0;
  lua_settop(L, 3);
  omh_body *b = omh_body_prepare(L, 1, lua_istable(L, 3) ? 3 : 0, &o);
  if (!b) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  luaL_Buffer lb;
  luaL_buffinit(L, &lb);
  char chunk[4096];
  size_t r;
  while ((r = omh_body_read(b, chunk, sizeof chunk)) != 0 && r != OMH_BODY_FAILED)
    luaL_addlstring(&lb, chunk, r);
  omh_body_free(b);
  luaL_pushresult(&lb);
  return 1;
}

/* _body_drain(fields [, bufsize [, files]]): builds a create body from
 * fields (and files, as client:create_op takes them) as a client with
 * default options would, then reads it to the end through a
 * bufsize-byte buffer (64 KiB: curl's), as curl does while sending.
 * Returns bytes read, seconds spent reading, the announced length; or nil,
 * error object. For the benchmarks. */
static int units_body_drain(lua_State *L) {
  lua_Integer bs = luaL_optinteger(L, 2, 65536);
  omh_body_opts o = {"bytedance/omnihuman", 0, 0, 0};
  omh_body *b;
  char *buf;
  uint64_t total = 0;
  size_t r;
  double t0, t;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argcheck(L, bs >= 1 && bs <= (64 << 20), 2, "buffer size out of range");
  lua_settop(L, 3);
  buf = (char *)omh_newuserdata(L, (size_t)bs); /* freed by the GC */
  b = omh_body_prepare(L, 1, lua_istable(L, 3) ? 3 : 0, &o);
  if (!b) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  t0 = omh_now();
  while ((r = omh_body_read(b, buf, (size_t)bs)) != 0 && r != OMH_BODY_FAILED) total += r;
  t = omh_now() - t0;
  if (r == OMH_BODY_FAILED) {
    lua_pushnil(L);
    lua_pushstring(L, omh_body_failure(b));
    omh_body_free(b);
    return 2;
  }
  lua_pushinteger(L, (lua_Integer)total);
  lua_pushnumber(L, (lua_Number)t);
  lua_pushinteger(L, (lua_Integer)omh_body_length(b));
  omh_body_free(b);
  return 3;
}

/* core._json_decode(s, key, how) -> the table (or value) an answer decodes
 * to, as operations see it (nulls dropped, the key redacted); nil if not
 * JSON. how: nil (as operations do), "cjson" (cjson alone) or "fast" (the
 * common-shape reader alone: false when it leaves the text to cjson). */
static int units_json_decode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  const char *key = luaL_optstring(L, 2, NULL);
  const char *how = luaL_optstring(L, 3, "");
  if (strcmp(how, "fast") == 0) {
    if (!omh_json_read_fast(L, s, n)) lua_pushboolean(L, 0);
    return 1;
  }
  int ok = strcmp(how, "cjson") == 0 ? omh_json_decode_cjson(L, s, n, key) : omh_json_decode(L, s, n, key);
  if (!ok) lua_pushnil(L);
  return 1;
}

/* core._json_status(s) -> the top-level status string the common-shape
 * reader finds without building a table, or nil */
static int units_json_status(lua_State *L) {
  size_t n, len;
  const char *s = luaL_checklstring(L, 1, &n), *st;
  if (omh_json_read_fast_status(s, n, &st, &len))
    lua_pushlstring(L, st, len);
  else
    lua_pushnil(L);
  return 1;
}

/* core._redact(key, s, cap) -> what a cut to cap bytes of s keeps */
static int units_redact(lua_State *L) {
  size_t n;
  const char *key = luaL_checkstring(L, 1);
  const char *s = luaL_checklstring(L, 2, &n);
  lua_Integer cap = luaL_checkinteger(L, 3);
  char *out;
  luaL_argcheck(L, cap >= 1 && cap <= 1 << 20, 3, "cap out of range");
  out = (char *)omh_newuserdata(L, (size_t)cap);
  lua_pushlstring(L, out, omh_redact_copy(key, s, n, out, (size_t)cap));
  return 1;
}

void omh_test_hooks_open(lua_State *L) {
  static const struct {
    const char *name;
    lua_CFunction fn;
  } fns[] = {{"_b64", units_b64},
             {"_sniff", units_sniff},
             {"_mime", units_mime},
             {"_duration", units_duration},
             {"_retry_after", units_retry_after},
             {"_body_drain", units_body_drain},
             {"_body_text", units_body_text},
             {"_redact", units_redact},
             {"_json_decode", units_json_decode},
             {"_json_status", units_json_status}};
  size_t i;
  for (i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    lua_pushcfunction(L, fns[i].fn);
    lua_setfield(L, -2, fns[i].name);
  }
}

#else

void omh_test_hooks_open(lua_State *L) { (void)L; }

#endif
