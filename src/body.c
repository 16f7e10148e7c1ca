#include "body.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "errors.h"
#include "input_file.h"
#include "json.h"
#include "json_write.h"
#include "model_limits.h"
#include "options.h"

/* File bytes read per step: a multiple of 3, so a chunk encodes with no
 * padding and the next one continues the same base64 stream. */
#define CHUNK (3u * 16384u)

typedef struct body_file {
  const char *path;  /* in the body's own allocation */
  const char *label; /* where it goes, as the caller named it: "image", "image_urls[2]" */
  omh_input_file info;
} body_file;

struct omh_body {
  uint64_t length;
  const char *text; /* the JSON around the files: piece k is text[cut[k], cut[k+1]) */
  size_t *cut;      /* nfiles + 2 offsets */
  body_file *files; /* in the order they stand in the text */
  int nfiles;
  int inline_audio;
  /* Sending. Segments alternate: text piece 0, file 0, text piece 1, ... */
  int seg;
  uint64_t pos;       /* bytes of the current segment done */
  int checked;        /* the files were compared at the start of this pass */
  int fd;             /* the file being sent, else -1 */
  unsigned char *raw; /* CHUNK bytes, only while a file is being sent */
  char stash[4];      /* an encoded group that did not fit the caller's buffer */
  int stash_len, stash_pos;
  const char *failure; /* malloc'd, or out_of_memory */
};

/* ---- sending ---- */

static const char out_of_memory[] = "out of memory while sending a create";

static void clear_failure(omh_body *b) {
  if (b->failure != out_of_memory) free((char *)b->failure);
  b->failure = NULL;
}

static int fail(omh_body *b, const body_file *f, const char *why) {
  char msg[1400];
  snprintf(msg, sizeof msg,
           "%s file '%.900s' changed since the create was called (%s); the request was stopped"
           " before its body was complete, so no job was created",
           f->label, f->path, why);
  clear_failure(b);
  b->failure = strdup(msg);
  if (!b->failure) b->failure = out_of_memory;
  return 0;
}

static void close_file(omh_body *b) {
  if (b->fd >= 0) close(b->fd);
  b->fd = -1;
}

/* Before the first byte of a pass: every file is still what was checked,
 * so a stale one stops the request before any of the body leaves. */
static int check_all(omh_body *b) {
  char why[200];
  struct stat st;
  for (int i = 0; i < b->nfiles; i++) {
    const body_file *f = &b->files[i];
    if (stat(f->path, &st) != 0) {
      snprintf(why, sizeof why, "cannot be found: %s", strerror(errno));
      return fail(b, f, why);
    }
    if (omh_input_compare(&f->info, &st, why, sizeof why) != 0) return fail(b, f, why);
  }
  return 1;
}

static int open_file(omh_body *b, const body_file *f) {
  char why[200];
  struct stat st;
  if (!b->raw && !(b->raw = malloc(CHUNK))) return fail(b, f, "no memory to read it");
  b->fd = omh_input_open(f->path);
  if (b->fd < 0) {
    snprintf(why, sizeof why, "cannot be opened: %s", strerror(errno));
    return fail(b, f, why);
  }
  if (fstat(b->fd, &st) != 0 || omh_input_compare(&f->info, &st, why, sizeof why) != 0) {
    close_file(b);
    return fail(b, f, why);
  }
  return 1;
}

static int read_exact(omh_body *b, const body_file *f, size_t n) {
  char why[200];
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(b->fd, b->raw + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      snprintf(why, sizeof why, "cannot be read: %s", strerror(errno));
      return fail(b, f, why);
    }
    if (r == 0) {
      snprintf(why, sizeof why, "it shrank: it ended after %llu of %llu bytes",
               (unsigned long long)(b->pos + got), (unsigned long long)f->info.size);
      return fail(b, f, why);
    }
    got += (size_t)r;
  }
  return 1;
}

/* All of the file was read: it must end here and still be the same file. */
static int end_file(omh_body *b, const body_file *f) {
  char why[200];
  unsigned char extra;
  struct stat st;
  ssize_t r;
  do r = read(b->fd, &extra, 1);
  while (r < 0 && errno == EINTR);
  if (r > 0) return fail(b, f, "it grew while it was being sent");
  if (fstat(b->fd, &st) != 0 || omh_input_compare(&f->info, &st, why, sizeof why) != 0)
    return fail(b, f, why);
  close_file(b);
  return 1;
}

int omh_body_complete(const omh_body *b) {
  return !b->failure && b->seg > 2 * b->nfiles && b->stash_pos >= b->stash_len;
}

size_t omh_body_read(omh_body *b, char *out, size_t n) {
  size_t done = 0;
  if (b->failure) return OMH_BODY_FAILED;
  if (!b->checked) {
    if (!check_all(b)) return OMH_BODY_FAILED;
    b->checked = 1;
  }
  while (done < n) {
    if (b->stash_pos < b->stash_len) {
      out[done++] = b->stash[b->stash_pos++];
      continue;
    }
    if (b->seg > 2 * b->nfiles) break; /* the end */
    if (b->seg % 2 == 0) {
      size_t k = (size_t)b->seg / 2, len = b->cut[k + 1] - b->cut[k];
      size_t c = len - (size_t)b->pos < n - done ? len - (size_t)b->pos : n - done;
      memcpy(out + done, b->text + b->cut[k] + b->pos, c);
      done += c;
      b->pos += c;
      if (b->pos == len) b->seg++, b->pos = 0;
      continue;
    }
    const body_file *f = &b->files[b->seg / 2];
    if (b->fd < 0 && !open_file(b, f)) return OMH_BODY_FAILED;
    uint64_t left = f->info.size - b->pos;
    if (left == 0) {
      if (!end_file(b, f)) return OMH_BODY_FAILED;
      b->seg++, b->pos = 0;
      continue;
    }
    size_t room = n - done, want;
    if (room >= 4) {
      /* Straight into the caller's buffer: whole groups of 3, or the tail. */
      want = 3 * (room / 4) < CHUNK ? 3 * (room / 4) : CHUNK;
      if (left < want) want = (size_t)left;
      if (!read_exact(b, f, want)) return OMH_BODY_FAILED;
      done += omh_b64_encode(out + done, b->raw, want);
    } else {
      want = left < 3 ? (size_t)left : 3;
      if (!read_exact(b, f, want)) return OMH_BODY_FAILED;
      b->stash_len = (int)omh_b64_encode(b->stash, b->raw, want);
      b->stash_pos = 0;
    }
    b->pos += want;
  }
  if (b->seg > 2 * b->nfiles && b->stash_pos == b->stash_len) {
    free(b->raw); /* a create waiting for an answer or a retry holds no chunk */
    b->raw = NULL;
  }
  return done;
}

void omh_body_rewind(omh_body *b) {
  close_file(b);
  free(b->raw);
  b->raw = NULL;
  b->seg = 0;
  b->pos = 0;
  b->checked = 0;
  b->stash_len = b->stash_pos = 0;
  clear_failure(b);
}

uint64_t omh_body_length(const omh_body *b) { return b->length; }

const char *omh_body_failure(const omh_body *b) { return b->failure; }

int omh_body_inline_audio(const omh_body *b) { return b->inline_audio; }

void omh_body_free(omh_body *b) {
  if (!b) return;
  omh_body_rewind(b);
  free(b);
}

size_t omh_body_curl_read(char *buf, size_t size, size_t nitems, void *body) {
  size_t r = omh_body_read(body, buf, size * nitems);
  return r == OMH_BODY_FAILED ? CURL_READFUNC_ABORT : r;
}

int omh_body_curl_seek(void *body, curl_off_t offset, int origin) {
  if (offset != 0 || origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
  omh_body_rewind(body);
  return CURL_SEEKFUNC_OK;
}

/* ---- preparing ---- */

/* A file of the create, found by its placeholder in the encoded fields. */
typedef struct pending {
  const char *path, *label; /* strings of the caller's files list */
  size_t pos, toklen;       /* the placeholder's bytes in the JSON text */
  omh_input_file info;
} pending;

static char *put(char *p, const char *s, size_t n) {
  memcpy(p, s, n);
  return p + n;
}

/* Lays out the body: the JSON with each placeholder replaced by the start
 * of a data URI, cut where the file's encoded bytes go. fs sorted by pos. */
static omh_body *assemble(const pending *fs, int nfiles, const char *json, size_t jlen) {
  size_t text_len = jlen, paths_len = 0;
  for (int i = 0; i < nfiles; i++) {
    text_len = text_len - fs[i].toklen + strlen(fs[i].info.mime) + 13; /* data:<mime>;base64, */
    paths_len += strlen(fs[i].path) + strlen(fs[i].label) + 2;
  }
  size_t head = sizeof(omh_body) + (size_t)nfiles * sizeof(body_file) + (size_t)(nfiles + 2) * sizeof(size_t);
  omh_body *b = calloc(1, head + text_len + paths_len);
  if (!b) return NULL;
  b->files = (body_file *)(b + 1);
  b->cut = (size_t *)(b->files + nfiles);
  char *text = (char *)(b->cut + nfiles + 2), *p = text, *names = text + text_len;
  b->text = text;
  b->fd = -1;
  b->nfiles = nfiles;
  size_t prev = 0;
  for (int i = 0; i < nfiles; i++) {
    const char *mime = fs[i].info.mime;
    p = put(p, json + prev, fs[i].pos - prev);
    p = put(p, "data:", 5);
    p = put(p, mime, strlen(mime));
    p = put(p, ";base64,", 8);
    b->cut[i + 1] = (size_t)(p - text);
    prev = fs[i].pos + fs[i].toklen;
    body_file *f = &b->files[i];
    f->info = fs[i].info;
    f->path = names;
    names = put(names, fs[i].path, strlen(fs[i].path)) + 1; /* calloc'd: the NUL is there */
    f->label = names;
    names = put(names, fs[i].label, strlen(fs[i].label)) + 1;
    b->length += 4 * ((f->info.size + 2) / 3);
  }
  p = put(p, json + prev, jlen - prev);
  b->cut[nfiles + 1] = (size_t)(p - text);
  b->length += (uint64_t)(p - text);
  return b;
}

/* Takes the create's own options out of t (they are not sent). */
static void take_options(lua_State *L, int t, const omh_body_opts *o, omh_input_rules *r) {
  static const char where[] = "client:create";
  r->allow_unmeasured = o->allow_unmeasured_audio;
  if (o->max_audio_seconds > 0) {
    r->max_seconds = o->max_audio_seconds;
    r->limit_from = "client";
  }
  lua_getfield(L, t, "max_audio_seconds");
  int has_limit = !lua_isnil(L, -1);
  lua_getfield(L, t, "allow_unmeasured_audio");
  int has_allow = !lua_isnil(L, -1);
  lua_pop(L, 2);
  if (has_limit) {
    r->max_seconds =
        omh_opt_number(L, t, where, "max_audio_seconds", 0, OMH_MIN_AUDIO_LIMIT, OMH_MAX_AUDIO_LIMIT, 0);
    r->limit_from = "create";
  }
  if (has_allow) r->allow_unmeasured = omh_opt_boolean(L, t, where, "allow_unmeasured_audio");
  lua_pushnil(L);
  lua_setfield(L, t, "max_audio_seconds");
  lua_pushnil(L);
  lua_setfield(L, t, "allow_unmeasured_audio");
}

static int own_key(const char *k, size_t len) {
  return (len == 17 && memcmp(k, "max_audio_seconds", 17) == 0) ||
         (len == 22 && memcmp(k, "allow_unmeasured_audio", 22) == 0);
}

/* The common create: no local file, no option of its own, every field a
 * string or a boolean. Its body is written straight from the caller's
 * table, with no copy of it and no Lua string. Returns NULL, having changed
 * nothing, for anything else: the table path then checks it. */
static omh_body *prepare_plain(lua_State *L, int idx, const omh_body_opts *o) {
  lua_pushliteral(L, "model");
  lua_rawget(L, idx);
  int model = lua_type(L, -1);
  lua_pushliteral(L, "audio_url");
  lua_rawget(L, idx);
  int inline_audio = lua_type(L, -1) == LUA_TSTRING && strncmp(lua_tostring(L, -1), "data:", 5) == 0;
  lua_pop(L, 2);
  if (model != LUA_TNIL && model != LUA_TSTRING) return NULL;
  omh_buf json = {NULL, 0, 0};
  int ok = omh_json_put_object(L, idx, own_key, model == LUA_TNIL ? "model" : NULL, o->model, &json);
  omh_body *b = ok == 1 ? assemble(NULL, 0, json.data, json.len) : NULL;
  omh_buf_free(&json);
  if (ok == -1 || (ok == 1 && !b)) luaL_error(L, "omnihuman: out of memory");
  if (b) b->inline_audio = inline_audio;
  return b;
}

/* A placeholder is sent by cjson as it is: only these bytes. */
static int token_ok(const char *s, size_t n) {
  if (n < 8 || n > 200) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
          s[i] == '_' || s[i] == '-' || s[i] == ':' || s[i] == '.'))
      return 0;
  return 1;
}

/* Where "<tok>" stands in json: its only occurrence, as a whole string. */
static int find_token(const char *json, size_t jlen, const char *tok, size_t n, size_t *at) {
  int found = 0;
  for (const char *p = json; (size_t)(p - json) + n <= jlen;) {
    const char *q = memchr(p, tok[0], jlen - (size_t)(p - json) - n + 1);
    if (!q) break;
    if (memcmp(q, tok, n) == 0) {
      size_t pos = (size_t)(q - json);
      if (found++ || pos == 0 || json[pos - 1] != '"' || pos + n >= jlen || json[pos + n] != '"') return 0;
      *at = pos;
    }
    p = q + 1;
  }
  return found == 1;
}

static const char *spec_string(lua_State *L, int spec, const char *key, int i) {
  lua_getfield(L, spec, key);
  if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "omnihuman: files[%d].%s must be a string", i, key);
  const char *s = lua_tostring(L, -1);
  lua_pop(L, 1); /* anchored by the spec table */
  return s;
}

static double spec_number(lua_State *L, int spec, const char *key, int i) {
  lua_getfield(L, spec, key);
  double v = lua_isnil(L, -1) ? 0 : (double)lua_tonumber(L, -1);
  if (!lua_isnil(L, -1) && (lua_type(L, -1) != LUA_TNUMBER || !(v >= 0)))
    luaL_error(L, "omnihuman: files[%d].%s must be a number >= 0", i, key);
  lua_pop(L, 1);
  return v;
}

/* Reads and checks file spec i (a table at spec); 0 with an error pushed
 * when its file is refused. */
static int check_spec(lua_State *L, int spec, int i, const omh_input_rules *base, const char *json,
                      size_t jlen, pending *f, int *audio) {
  luaL_checktype(L, spec, LUA_TTABLE);
  const char *tok = spec_string(L, spec, "token", i), *kind_name = spec_string(L, spec, "kind", i);
  int kind = omh_input_kind_of(kind_name);
  if (kind < 0) luaL_error(L, "omnihuman: files[%d].kind must be image, audio, video or file", i);
  f->path = spec_string(L, spec, "path", i);
  f->label = spec_string(L, spec, "label", i);
  f->toklen = strlen(tok);
  if (!token_ok(tok, f->toklen) || !find_token(json, jlen, tok, f->toklen, &f->pos))
    luaL_error(L, "omnihuman: files[%d]: its placeholder must stand once, as a whole string, in the fields",
               i);
  omh_input_rules r = *base;
  r.field = f->label;
  r.max_bytes = (uint64_t)spec_number(L, spec, "max_bytes", i);
  double table_limit = spec_number(L, spec, "max_seconds", i);
  if (kind != OMH_KIND_AUDIO || !r.limit_from) r.max_seconds = table_limit, r.limit_from = NULL;
  lua_getfield(L, spec, "limit_note");
  r.limit_note = lua_tostring(L, -1); /* anchored by the spec table */
  lua_pop(L, 1);
  char why[480], msg[1500];
  if (!omh_input_check(f->path, (omh_input_kind)kind, &r, &f->info, why, sizeof why)) {
    snprintf(msg, sizeof msg, "%s file '%.900s': %s", f->label, f->path, why);
    omh_push_error(L, "invalid_input", msg, 0, NULL, 0);
    return 0;
  }
  if (kind == OMH_KIND_AUDIO || strncmp(f->info.mime, "audio/", 6) == 0) *audio = 1;
  return 1;
}

omh_body *omh_body_prepare(lua_State *L, int idx, int files, const omh_body_opts *o) {
  int top = lua_gettop(L);
  luaL_checktype(L, idx, LUA_TTABLE);
  if (idx < 0) idx = top + idx + 1;
  if (files < 0) files = top + files + 1;
  int nfiles = files ? (int)omh_rawlen(L, files) : 0;
  if (!o->table_path && nfiles == 0) {
    lua_pushliteral(L, "max_audio_seconds");
    lua_rawget(L, idx);
    lua_pushliteral(L, "allow_unmeasured_audio");
    lua_rawget(L, idx);
    int own = !lua_isnil(L, -1) || !lua_isnil(L, -2);
    lua_pop(L, 2);
    omh_body *b = own ? NULL : prepare_plain(L, idx, o);
    if (b) return b;
  }
  omh_input_rules base;
  memset(&base, 0, sizeof base);
  /* A shallow copy: the caller's table is never modified. */
  lua_newtable(L);
  int t = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, t);
  }
  take_options(L, t, o, &base);
  lua_getfield(L, t, "model");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushstring(L, o->model);
    lua_pushvalue(L, -1);
    lua_setfield(L, t, "model");
  }
  base.model = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL; /* stays on the stack */
  lua_getfield(L, t, "audio_url");
  int inline_audio = lua_type(L, -1) == LUA_TSTRING && strncmp(lua_tostring(L, -1), "data:", 5) == 0;
  lua_pop(L, 1);
  omh_buf text = {0};
  const char *why = "out of memory";
  int wrote = omh_json_write_value(L, t, &text, &why);
  if (wrote == 1) lua_pushlstring(L, text.data ? text.data : "", text.len);
  omh_buf_free(&text);
  if (wrote != 1) luaL_error(L, "omnihuman: create fields cannot be sent as JSON: %s", why);
  size_t jlen;
  const char *json = lua_tolstring(L, -1, &jlen);
  /* Scratch in a userdata: an error raised below frees it with the stack. */
  pending *fs = nfiles ? lua_newuserdata(L, (size_t)nfiles * sizeof *fs) : NULL;
  for (int i = 0; i < nfiles; i++) {
    lua_rawgeti(L, files, i + 1);
    int ok = check_spec(L, lua_gettop(L), i + 1, &base, json, jlen, &fs[i], &inline_audio);
    if (!ok) {
      lua_replace(L, top + 1);
      lua_settop(L, top + 1);
      return NULL;
    }
    lua_pop(L, 1);
  }
  for (int i = 1; i < nfiles; i++) { /* by place in the text (a few files: insertion) */
    pending f = fs[i];
    int j = i;
    for (; j > 0 && fs[j - 1].pos > f.pos; j--) fs[j] = fs[j - 1];
    fs[j] = f;
  }
  omh_body *b = assemble(fs, nfiles, json, jlen);
  if (!b) luaL_error(L, "omnihuman: out of memory");
  b->inline_audio = inline_audio;
  lua_settop(L, top);
  return b;
}
