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
#include "json_flat.h"
#include "model_limits.h"
#include "options.h"

/* File bytes read per step: a multiple of 3, so a chunk encodes with no
 * padding and the next one continues the same base64 stream. */
#define CHUNK (3u * 16384u)

/* The fields that take a local file as <name> and send it as <name>_url:
 * the URL fields the service documents, each with what its file must be. */
static const struct file_field {
  const char *name, *field;
  int audio, required;
} FILE_FIELDS[] = {
    {"image", "image_url", 0, 0},
    {"audio", "audio_url", 1, 0},
    {"mask", "mask_url", 0, 0},
};
#define NFIELDS (sizeof FILE_FIELDS / sizeof FILE_FIELDS[0])

typedef struct body_file {
  const char *path; /* in the body's own allocation */
  const char *what; /* the field's name: "image", "audio", "mask" */
  omh_input_file info;
} body_file;

struct omh_body {
  uint64_t length;
  const char *text; /* the JSON around the files: piece k is text[cut[k], cut[k+1]) */
  size_t cut[NFIELDS + 2];
  body_file files[NFIELDS];
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
           f->what, f->path, why);
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

static int is_url(const char *s) {
  return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0 || strncmp(s, "data:", 5) == 0;
}

/* Resolves t.<name> (a path or a URL) into t.<field> or a path; raises on
 * misuse. A path is returned and its string left on the stack (anchored). */
static const char *take_input(lua_State *L, int t, const struct file_field *ff) {
  lua_getfield(L, t, ff->name);
  lua_getfield(L, t, ff->field);
  int has_local = !lua_isnil(L, -2), has_url = !lua_isnil(L, -1);
  if (has_local && has_url) luaL_error(L, "omnihuman: give %s or %s, not both", ff->name, ff->field);
  if (!has_local && !has_url && ff->required)
    luaL_error(L, "omnihuman: %s (a file) or %s (a URL) is required", ff->name, ff->field);
  if (has_url && lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "omnihuman: %s must be a string", ff->field);
  lua_pop(L, 1);
  if (!has_local) {
    lua_pop(L, 1);
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "omnihuman: %s must be a string (a file path)", ff->name);
  const char *v = lua_tostring(L, -1);
  lua_pushnil(L);
  lua_setfield(L, t, ff->name);
  if (is_url(v)) {
    lua_setfield(L, t, ff->field);
    return NULL;
  }
  return v;
}

/* Takes the create's own options out of t (they are not sent). */
static void take_options(lua_State *L, int t, omh_input_rules *r) {
  static const char where[] = "client:create";
  lua_getfield(L, t, "max_audio_seconds");
  int has_limit = !lua_isnil(L, -1);
  lua_getfield(L, t, "allow_unmeasured_audio");
  int has_allow = !lua_isnil(L, -1);
  lua_pop(L, 2);
  if (has_limit) {
    r->max_audio_seconds =
        omh_opt_number(L, t, where, "max_audio_seconds", 0, OMH_MIN_AUDIO_LIMIT, OMH_MAX_AUDIO_LIMIT, 0);
    r->limit_from = "create";
  }
  if (has_allow) r->allow_unmeasured = omh_opt_boolean(L, t, where, "allow_unmeasured_audio");
  lua_pushnil(L);
  lua_setfield(L, t, "max_audio_seconds");
  lua_pushnil(L);
  lua_setfield(L, t, "allow_unmeasured_audio");
}

static char *put(char *p, const char *s) {
  size_t n = strlen(s);
  memcpy(p, s, n);
  return p + n;
}

/* Lays out the body: text pieces around the files, then the paths. */
static omh_body *assemble(const struct file_field **ffs, const char **paths, const omh_input_file *infos,
                          int nfiles, const char *json, size_t jlen) {
  size_t members = jlen > 2 ? jlen - 2 : 0; /* json is "{...}" */
  size_t text_len = 2 + (nfiles ? 1 : 0) + (members && nfiles ? 1 : 0) + members, paths_len = 0;
  for (int i = 0; i < nfiles; i++) {
    /* ["," ]"<field>":"data:<mime>;base64, */
    text_len += (i ? 2 : 0) + strlen(ffs[i]->field) + strlen(infos[i].mime) + 17;
    paths_len += strlen(paths[i]) + 1;
  }
  omh_body *b = calloc(1, sizeof *b + text_len + paths_len);
  if (!b) return NULL;
  char *text = (char *)(b + 1), *p = text, *names = text + text_len;
  b->text = text;
  b->fd = -1;
  b->nfiles = nfiles;
  *p++ = '{';
  for (int i = 0; i < nfiles; i++) {
    if (i) p = put(p, "\",");
    p = put(p, "\"");
    p = put(p, ffs[i]->field);
    p = put(p, "\":\"data:");
    p = put(p, infos[i].mime);
    p = put(p, ";base64,");
    b->cut[i + 1] = (size_t)(p - text);
    b->files[i].what = ffs[i]->name;
    b->files[i].info = infos[i];
    b->files[i].path = names;
    names = put(names, paths[i]) + 1; /* calloc'd: the NUL is there */
    b->length += 4 * ((infos[i].size + 2) / 3);
  }
  if (nfiles) *p++ = '"';
  if (members) {
    if (nfiles) *p++ = ',';
    memcpy(p, json + 1, members);
    p += members;
  }
  *p++ = '}';
  b->cut[nfiles + 1] = (size_t)(p - text);
  b->length += (uint64_t)(p - text);
  return b;
}

static void push_file_error(lua_State *L, const char *what, const char *path, const char *why) {
  char msg[1500];
  snprintf(msg, sizeof msg, "%s file '%.900s': %s", what, path, why);
  omh_push_error(L, "invalid_input", msg, 0, NULL, 0);
}

/* Keys the table path must see: local files and the create's own options. */
static int reserved_key(const char *k, size_t len) {
  for (size_t i = 0; i < NFIELDS; i++)
    if (strlen(FILE_FIELDS[i].name) == len && memcmp(k, FILE_FIELDS[i].name, len) == 0) return 1;
  return (len == 17 && memcmp(k, "max_audio_seconds", 17) == 0) ||
         (len == 22 && memcmp(k, "allow_unmeasured_audio", 22) == 0);
}

/* The common create: URLs only, every field a string or a boolean. Its body
 * is written straight from the caller's table, with no copy of it and no
 * Lua string. Returns NULL, having changed nothing, for anything else: the
 * table path then checks it (and raises the errors). */
static omh_body *prepare_plain(lua_State *L, int idx, const omh_body_opts *o) {
  int inline_audio = 0;
  for (size_t i = 0; i < NFIELDS; i++) {
    lua_pushstring(L, FILE_FIELDS[i].field);
    lua_rawget(L, idx);
    int t = lua_type(L, -1);
    if (t == LUA_TSTRING && FILE_FIELDS[i].audio)
      inline_audio = strncmp(lua_tostring(L, -1), "data:", 5) == 0;
    lua_pop(L, 1);
    if (t == LUA_TNIL ? FILE_FIELDS[i].required : t != LUA_TSTRING) return NULL;
  }
  lua_pushliteral(L, "model");
  lua_rawget(L, idx);
  int model = lua_type(L, -1);
  lua_pop(L, 1);
  if (model != LUA_TNIL && model != LUA_TSTRING) return NULL;
  omh_buf json = {NULL, 0, 0};
  int ok = omh_json_put_object(L, idx, reserved_key, model == LUA_TNIL ? "model" : NULL, o->model, &json);
  omh_body *b = ok == 1 ? assemble(NULL, NULL, NULL, 0, json.data, json.len) : NULL;
  omh_buf_free(&json);
  if (ok == -1 || (ok == 1 && !b)) luaL_error(L, "omnihuman: out of memory");
  if (b) b->inline_audio = inline_audio;
  return b;
}

omh_body *omh_body_prepare(lua_State *L, int idx, const omh_body_opts *o, int json_ref) {
  int top = lua_gettop(L);
  luaL_checktype(L, idx, LUA_TTABLE);
  if (idx < 0) idx = top + idx + 1;
  if (!o->table_path) {
    omh_body *b = prepare_plain(L, idx, o);
    if (b) return b;
  }
  const struct file_field *ffs[NFIELDS];
  const char *paths[NFIELDS];
  omh_input_file infos[NFIELDS];
  int nfiles = 0, inline_audio = 0;
  omh_input_rules r;
  /* A shallow copy: the caller's table is never modified. */
  lua_newtable(L);
  int t = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, t);
  }
  memset(&r, 0, sizeof r);
  r.allow_unmeasured = o->allow_unmeasured_audio;
  if (o->max_audio_seconds > 0) {
    r.max_audio_seconds = o->max_audio_seconds;
    r.limit_from = "client";
  }
  take_options(L, t, &r);
  for (size_t i = 0; i < NFIELDS; i++) {
    const char *path = take_input(L, t, &FILE_FIELDS[i]);
    if (path) {
      ffs[nfiles] = &FILE_FIELDS[i];
      paths[nfiles++] = path;
      if (FILE_FIELDS[i].audio) inline_audio = 1;
    }
  }
  lua_getfield(L, t, "audio_url");
  if (lua_type(L, -1) == LUA_TSTRING && strncmp(lua_tostring(L, -1), "data:", 5) == 0) inline_audio = 1;
  lua_pop(L, 1);
  lua_getfield(L, t, "model");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushstring(L, o->model);
    lua_pushvalue(L, -1);
    lua_setfield(L, t, "model");
  }
  r.model = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL; /* stays on the stack */
  double table_limit;
  if (o->model_audio_seconds < 0) {
    table_limit = omh_limits_audio_seconds(r.model, &r.model_known);
  } else {
    r.model_known = 1;
    table_limit = o->model_audio_seconds > 0 ? o->model_audio_seconds : OMH_MAX_AUDIO_LIMIT;
  }
  if (!r.limit_from) r.max_audio_seconds = table_limit;
  if (!omh_json_encode(L, json_ref, t)) {
    const char *why = lua_tostring(L, -1);
    luaL_error(L, "omnihuman: create fields cannot be sent as JSON: %s", why ? why : "?");
  }
  size_t jlen;
  const char *json = lua_tolstring(L, -1, &jlen);
  char why[480];
  for (int i = 0; i < nfiles; i++) {
    if (!omh_input_check(paths[i], ffs[i]->audio, &r, &infos[i], why, sizeof why)) {
      push_file_error(L, ffs[i]->name, paths[i], why);
      lua_replace(L, top + 1);
      lua_settop(L, top + 1);
      return NULL;
    }
  }
  omh_body *b = assemble(ffs, paths, infos, nfiles, json, jlen);
  if (!b) luaL_error(L, "omnihuman: out of memory");
  b->inline_audio = inline_audio;
  lua_settop(L, top);
  return b;
}
