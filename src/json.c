#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_read_fast.h"
#include "redact.h"

/* The registry key of the state's instance: this variable's address. */
static const char instance_key = 0;

static void push_instance(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&instance_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
}

void omh_json_open(lua_State *L) {
  push_instance(L);
  int made = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (made) return;
  lua_pushlightuserdata(L, (void *)&instance_key);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cjson");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "new");
  if (lua_isfunction(L, -1)) {
    lua_call(L, 0, 1);
    lua_remove(L, -2);
  } else {
    lua_pop(L, 1);
  }
  lua_createtable(L, 0, 3);
  lua_getfield(L, -2, "decode");
  lua_setfield(L, -2, "decode");
  lua_getfield(L, -2, "encode");
  lua_setfield(L, -2, "encode");
  lua_getfield(L, -2, "null");
  lua_setfield(L, -2, "null");
  lua_remove(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

/* Replaces the string at idx (a stack index) by its redacted copy when it
 * holds the key or an edge piece of it. */
static void redact_string_at(lua_State *L, int idx, const char *key) {
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  if (!s || !omh_redact_needed(key, s, n)) return;
  /* A marker stands for a run of at least OMH_REDACT_MIN bytes. */
  size_t cap = n + (n / OMH_REDACT_MIN + 1) * (sizeof OMH_REDACTED) + 1;
  char *buf = malloc(cap);
  if (idx < 0) idx = lua_gettop(L) + idx + 1;
  if (buf) {
    size_t len = omh_redact_copy(key, s, n, buf, cap);
    lua_pushlstring(L, buf, len);
    free(buf);
  } else {
    lua_pushliteral(L, OMH_REDACTED); /* nothing of it is safe to keep */
  }
  lua_replace(L, idx);
}

/* One walk over a decoded answer, to any depth cjson accepts:
 * - cjson.null is a truthy lightuserdata: `if st.video then` would lie, so
 *   nulls become absent fields;
 * - whole numbers become integers on Lua 5.3+ (cjson gives floats);
 * - with `key`, every string (values and keys) is redacted of it. */
typedef struct walk {
  int null_idx;
  const char *key; /* NULL: nothing to redact */
  int renames;     /* stack index of a table of keys to rename, or 0 */
} walk;

/* Deeper than cjson's own default limit: refused, never passed through. */
#define OMH_JSON_MAX_DEPTH 1000

static int whole(lua_State *L, int idx) {
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, idx)) return 0;
  lua_Number v = lua_tonumber(L, idx);
  return v == floor(v) && fabs(v) <= 9007199254740992.0;
#else
  (void)L, (void)idx;
  return 0;
#endif
}

/* The job id of an answer (its top-level `id`) is an opaque token the
 * client sends back: dropping a few of its characters because they happen
 * to equal a piece of the key (1 in 65,536 UUIDs starts with any given 4
 * hex digits) would lose the job. It alone is redacted only when it holds
 * the whole key; an `id` anywhere else is a string like any other. */
static int is_job_id(lua_State *L, int k, int depth) {
  size_t n;
  const char *s = depth == 0 && lua_type(L, k) == LUA_TSTRING ? lua_tolstring(L, k, &n) : NULL;
  return s && n == 2 && s[0] == 'i' && s[1] == 'd';
}

static int holds_whole_key(lua_State *L, int v, const char *key) {
  size_t n;
  const char *s = lua_tolstring(L, v, &n);
  return omh_redact_holds_key(key, s, n);
}

/* Returns 0 when the answer is nested too deep to walk (the caller refuses it). */
static int normalize(lua_State *L, int t, walk *w, int depth) {
  /* Two slots per level (key, value) and a few for the work. */
  if (depth > OMH_JSON_MAX_DEPTH || !lua_checkstack(L, 8)) return 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    int v = lua_gettop(L);
    if (lua_rawequal(L, v, w->null_idx)) {
      lua_pop(L, 1);
      lua_pushvalue(L, -1);
      lua_pushnil(L);
      lua_rawset(L, t); /* clearing an existing field during next is allowed */
      continue;
    }
    switch (lua_type(L, v)) {
      case LUA_TTABLE:
        if (!normalize(L, v, w, depth + 1)) return 0;
        break;
      case LUA_TNUMBER:
        if (whole(L, v)) {
          lua_pushvalue(L, v - 1);
          lua_pushinteger(L, (lua_Integer)lua_tonumber(L, v));
          lua_rawset(L, t); /* an existing field: allowed during next */
        }
        break;
      case LUA_TSTRING:
        if (w->key && !(is_job_id(L, v - 1, depth) && !holds_whole_key(L, v, w->key))) {
          lua_pushvalue(L, v);
          redact_string_at(L, -1, w->key);
          if (!lua_rawequal(L, -1, v)) {
            lua_pushvalue(L, v - 1);
            lua_insert(L, -2);
            lua_rawset(L, t);
          } else {
            lua_pop(L, 1);
          }
        }
        break;
      default:
        break;
    }
    /* A key holding the key: renamed after the walk (no new keys during next). */
    if (w->key && lua_type(L, v - 1) == LUA_TSTRING) {
      lua_pushvalue(L, v - 1);
      redact_string_at(L, -1, w->key);
      if (!lua_rawequal(L, -1, v - 1)) {
        if (!w->renames) {
          lua_newtable(L);
          lua_replace(L, w->null_idx + 1);
          w->renames = w->null_idx + 1;
        }
        lua_createtable(L, 3, 0);
        lua_pushvalue(L, t);
        lua_rawseti(L, -2, 1);
        lua_pushvalue(L, v - 1);
        lua_rawseti(L, -2, 2);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 3);
        lua_rawseti(L, w->renames, (int)omh_rawlen(L, w->renames) + 1);
      } else {
        lua_pop(L, 1);
      }
    }
    lua_settop(L, v - 1);
  }
  return 1;
}

static void apply_renames(lua_State *L, int renames) {
  int n = (int)omh_rawlen(L, renames);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, renames, i);
    lua_rawgeti(L, -1, 1); /* table */
    lua_rawgeti(L, -2, 3); /* new key */
    lua_rawgeti(L, -3, 2); /* old key */
    lua_rawget(L, -3);     /* value */
    lua_rawset(L, -3);
    lua_rawgeti(L, -2, 2);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 2);
  }
}

int omh_json_decode_with(lua_State *L, const char *s, size_t n, const omh_redactor *r) {
  /* An answer that cannot hold the key and has the common shape skips
   * cjson, the walk and their allocations (a fifth of a status check). */
  if (!omh_redactor_suspect(r, s, n) && omh_json_read_fast(L, s, n)) return 1;
  return omh_json_decode_cjson(L, s, n, (const char *)r->key);
}

int omh_json_decode(lua_State *L, const char *s, size_t n, const char *key) {
  omh_redactor r;
  omh_redactor_init(&r, key);
  return omh_json_decode_with(L, s, n, &r);
}

int omh_json_decode_cjson(lua_State *L, const char *s, size_t n, const char *key) {
  int top = lua_gettop(L);
  push_instance(L);
  lua_getfield(L, -1, "null");
  lua_pushnil(L); /* top + 3: room for the renames table */
  lua_getfield(L, -3, "decode");
  lua_pushlstring(L, s, n);
  if (lua_pcall(L, 1, 1, 0) != 0) {
    lua_settop(L, top);
    return 0;
  }
  if (key && !omh_redact_suspect(key, s, n)) key = NULL;
  if (lua_istable(L, -1)) {
    walk w = {top + 2, key, 0};
    if (!normalize(L, lua_gettop(L), &w, 0)) {
      lua_settop(L, top);
      return 0;
    }
    if (w.renames) apply_renames(L, w.renames);
  } else if (lua_type(L, -1) == LUA_TSTRING && key) {
    redact_string_at(L, -1, key);
  }
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
  return 1;
}
