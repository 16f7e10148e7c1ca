#include "json_read_fast.h"

#include <string.h>

/* Past these, lua-cjson decides: deeper answers are not the service's, and
 * 15 digits are exact in a double (what cjson would produce). */
#define MAX_DEPTH 16
#define MAX_DIGITS 15
/* Keys of one object remembered to tell whether a null removes a field. */
#define MAX_KEYS 16

typedef struct reader {
  const char *p, *end;
  lua_State *L;       /* NULL: only look, for the status */
  const char *status; /* the last top-level "status" when it is a string */
  size_t status_len;
} reader;

static int read_value(reader *r, int depth);

/* JSON's four, exactly those cjson skips. */
static void skip_ws(reader *r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

/* At a quote: the bytes up to the closing one. An escape or a control
 * byte leaves the text to cjson. */
static int read_string(reader *r, const char **s, size_t *n) {
  const char *q = r->p + 1;
  while (q < r->end && *q != '"') {
    unsigned char c = (unsigned char)*q;
    if (c == '\\' || c < 0x20) return 0;
    q++;
  }
  if (q >= r->end) return 0;
  *s = r->p + 1;
  *n = (size_t)(q - *s);
  r->p = q + 1;
  return 1;
}

/* -?(0|[1-9][0-9]*) with at most MAX_DIGITS digits; a fraction, an
 * exponent or a leading zero before a digit leaves the text to cjson. */
static int read_number(reader *r) {
  const char *q = r->p;
  int neg = 0;
  long long v = 0;
  if (q < r->end && *q == '-') neg = 1, q++;
  if (q >= r->end || *q < '0' || *q > '9') return 0;
  const char *digits = q;
  if (*q == '0') {
    q++;
  } else {
    while (q < r->end && *q >= '0' && *q <= '9') {
      if (q - digits >= MAX_DIGITS) return 0;
      v = v * 10 + (*q++ - '0');
    }
  }
  if (q < r->end && (*q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9'))) return 0;
  r->p = q;
  if (r->L) {
#if LUA_VERSION_NUM >= 503
    lua_pushinteger(r->L, (lua_Integer)(neg ? -v : v)); /* -0 too: cjson's -0.0 becomes integer 0 */
#else
    lua_pushnumber(r->L, neg ? -(lua_Number)v : (lua_Number)v);
#endif
  }
  return 1;
}

/* true, false, null (v < 0: pushes nil, so a null drops its field). */
static int read_literal(reader *r, const char *w, size_t n, int v) {
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0) return 0;
  r->p += n;
  if (r->L) {
    if (v < 0)
      lua_pushnil(r->L);
    else
      lua_pushboolean(r->L, v);
  }
  return 1;
}

static void note_status(reader *r, const char *v) {
  if (*v == '"') {
    r->status = v + 1;
    r->status_len = (size_t)(r->p - v - 2);
  } else {
    r->status = NULL; /* a later non-string one wins, as in a table */
  }
}

typedef struct key_text {
  const char *s;
  size_t n;
} key_text;

/* Whether an earlier member of the object had this key (past MAX_KEYS
 * members: assumed so). Keys hold no escapes, so equal text is equal keys. */
static int seen_before(const key_text *keys, int nkeys, const char *k, size_t kn) {
  if (nkeys > MAX_KEYS) return 1;
  for (int i = 0; i < nkeys; i++)
    if (keys[i].n == kn && memcmp(keys[i].s, k, kn) == 0) return 1;
  return 0;
}

/* At '{'. Members go in with rawset in text order: the last of two equal
 * keys wins and a null removes the field, as after cjson. A null whose key
 * came before in no member has nothing to remove: it makes no key string
 * and no rawset (the service's status answers hold two or three). */
static int read_object(reader *r, int depth) {
  lua_State *L = r->L;
  key_text keys[MAX_KEYS];
  int nkeys = 0;
  if (depth > MAX_DEPTH) return 0;
  if (L) {
    if (!lua_checkstack(L, 4)) return 0;
    lua_createtable(L, 0, 4);
  }
  r->p++;
  skip_ws(r);
  if (r->p < r->end && *r->p == '}') {
    r->p++;
    return 1;
  }
  for (;;) {
    const char *k, *v;
    size_t kn;
    if (r->p >= r->end || *r->p != '"' || !read_string(r, &k, &kn)) return 0;
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':') return 0;
    r->p++;
    skip_ws(r);
    v = r->p;
    if (L && v < r->end && *v == 'n' && !seen_before(keys, nkeys, k, kn)) {
      if (r->end - v < 4 || memcmp(v, "null", 4) != 0) return 0;
      r->p += 4; /* no field to remove: no key to make */
    } else {
      if (L) lua_pushlstring(L, k, kn);
      if (!read_value(r, depth + 1)) return 0;
      if (L)
        lua_rawset(L, -3);
      else if (depth == 0 && kn == 6 && memcmp(k, "status", 6) == 0)
        note_status(r, v);
    }
    if (nkeys < MAX_KEYS) keys[nkeys].s = k, keys[nkeys].n = kn;
    nkeys++;
    skip_ws(r);
    if (r->p >= r->end) return 0;
    if (*r->p == '}') {
      r->p++;
      return 1;
    }
    if (*r->p != ',') return 0;
    r->p++;
    skip_ws(r);
  }
}

static int read_value(reader *r, int depth) {
  const char *s;
  size_t n;
  if (r->p >= r->end) return 0;
  switch (*r->p) {
    case '{':
      return read_object(r, depth);
    case '"':
      if (!read_string(r, &s, &n)) return 0;
      if (r->L) lua_pushlstring(r->L, s, n);
      return 1;
    case 't':
      return read_literal(r, "true", 4, 1);
    case 'f':
      return read_literal(r, "false", 5, 0);
    case 'n':
      return read_literal(r, "null", 4, -1);
    default:
      return read_number(r);
  }
}

/* The whole text is one object and nothing but whitespace around it. */
static int read_text(reader *r) {
  skip_ws(r);
  if (r->p >= r->end || *r->p != '{' || !read_object(r, 0)) return 0;
  skip_ws(r);
  return r->p == r->end;
}

int omh_json_read_fast(lua_State *L, const char *s, size_t n) {
  int top = lua_gettop(L);
  reader r = {s, s + n, L, NULL, 0};
  if (read_text(&r)) return 1;
  lua_settop(L, top);
  return 0;
}

int omh_json_read_fast_status(const char *s, size_t n, const char **st, size_t *len) {
  reader r = {s, s + n, NULL, NULL, 0};
  if (!read_text(&r) || !r.status) return 0;
  *st = r.status;
  *len = r.status_len;
  return 1;
}
