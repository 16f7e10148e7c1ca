#include "body.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "errors.h"
#include "json.h"
#include "media.h"

#define MAX_AUDIO_SECONDS 30.0
/* Whole audio files are read to measure them; far beyond any 30 s clip. */
#define MAX_AUDIO_BYTES (256u * 1024u * 1024u)
#define CHUNK (3u * 65536u)

typedef struct upload {
  const char *field;      /* "image_url" / "audio_url" */
  const char *path;
  int fd;
  size_t size;
  const char *mime;
} upload;

static int is_url(const char *s) {
  return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0 || strncmp(s, "data:", 5) == 0;
}

static void push_file_error(lua_State *L, const char *what, const char *path, const char *why) {
  char msg[1200];
  snprintf(msg, sizeof msg, "%s file '%.900s': %s", what, path, why);
  omh_push_error(L, "invalid_input", msg, 0, NULL, 0);
}

static int read_full(int fd, unsigned char *p, size_t n, size_t *got) {
  *got = 0;
  while (*got < n) {
    ssize_t r = read(fd, p + *got, n - *got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    *got += (size_t)r;
  }
  return 0;
}

/* Resolves t.<name> (a path or URL) into t.<field> or an upload; raises on misuse. */
static void take_input(lua_State *L, int t, const char *name, const char *field, upload *up) {
  lua_getfield(L, t, name);
  lua_getfield(L, t, field);
  int has_local = !lua_isnil(L, -2), has_url = !lua_isnil(L, -1);
  if (has_local && has_url) luaL_error(L, "omnihuman: give %s or %s, not both", name, field);
  if (!has_local && !has_url) luaL_error(L, "omnihuman: %s (a file) or %s (a URL) is required", name, field);
  if (has_url && lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "omnihuman: %s must be a string", field);
  if (has_local) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "omnihuman: %s must be a string (a file path)", name);
    const char *v = lua_tostring(L, -2);
    if (is_url(v)) {
      lua_pushvalue(L, -2);
      lua_setfield(L, t, field);
    } else {
      up->path = v; /* stays alive: the caller's table holds it */
    }
    lua_pushnil(L);
    lua_setfield(L, t, name);
  }
  lua_pop(L, 2);
}

/* Opens and checks one local file; 1, or 0 with an error object pushed. */
static int open_upload(lua_State *L, upload *up, int audio) {
  const char *what = audio ? "audio" : "image";
  up->fd = open(up->path, O_RDONLY | O_CLOEXEC);
  if (up->fd < 0) {
    push_file_error(L, what, up->path, strerror(errno));
    return 0;
  }
  struct stat st;
  if (fstat(up->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    push_file_error(L, what, up->path, "not a regular file");
    return 0;
  }
  up->size = (size_t)st.st_size;
  if (audio && up->size > MAX_AUDIO_BYTES) {
    push_file_error(L, what, up->path, "too large for a clip under 30 s");
    return 0;
  }
  unsigned char *head = malloc(audio ? (up->size ? up->size : 1) : 4096);
  size_t got;
  if (!head) return luaL_error(L, "omnihuman: out of memory");
  if (read_full(up->fd, head, audio ? up->size : 4096, &got) != 0) {
    free(head);
    push_file_error(L, what, up->path, strerror(errno));
    return 0;
  }
  omh_media_type mt = omh_media_sniff(head, got < 4096 ? got : 4096);
  int fits = audio ? omh_media_is_audio(mt) : omh_media_is_image(mt);
  double secs = fits && audio ? omh_media_duration(head, got, mt) : -1;
  free(head);
  if (!fits) {
    push_file_error(L, what, up->path,
                    audio ? "not a recognised audio file (WAV, MP3, OGG, M4A/AAC)"
                          : "not a recognised image (PNG, JPEG, WebP, GIF)");
    return 0;
  }
  if (secs >= MAX_AUDIO_SECONDS) {
    char why[128];
    snprintf(why, sizeof why, "audio is %.1f s long; the service takes clips under 30 s", secs);
    push_file_error(L, what, up->path, why);
    return 0;
  }
  up->mime = omh_media_mime(mt);
  if (lseek(up->fd, 0, SEEK_SET) != 0) {
    push_file_error(L, what, up->path, strerror(errno));
    return 0;
  }
  return 1;
}

static size_t upload_len(const upload *up) {
  /* "field":"data:<mime>;base64,<b64>" */
  return strlen(up->field) + strlen(up->mime) + 20 + omh_b64_encoded_len(up->size);
}

/* Streams the file through the encoder into p; returns bytes written or 0 on error. */
static size_t write_upload(lua_State *L, upload *up, char *p, unsigned char *chunk) {
  char *start = p;
  p += sprintf(p, "\"%s\":\"data:%s;base64,", up->field, up->mime);
  size_t total = 0, got;
  do {
    if (read_full(up->fd, chunk, CHUNK, &got) != 0) got = 0;
    if (total + got > up->size) break;   /* the file grew under us */
    p += omh_b64_encode(p, chunk, got);
    total += got;
  } while (got == CHUNK);
  if (total != up->size) {
    push_file_error(L, strcmp(up->field, "audio_url") == 0 ? "audio" : "image", up->path,
                    "changed size while it was read");
    return 0;
  }
  *p++ = '"';
  return (size_t)(p - start);
}

int omh_body_build(lua_State *L, int idx, const char *default_model, int json_ref, char **out, size_t *len) {
  int top = lua_gettop(L);
  upload ups[2] = {{"image_url", NULL, -1, 0, NULL}, {"audio_url", NULL, -1, 0, NULL}};
  luaL_checktype(L, idx, LUA_TTABLE);
  /* A shallow copy: the caller's table is never modified. */
  lua_newtable(L);
  int t = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, t);
  }
  take_input(L, t, "image", "image_url", &ups[0]);
  take_input(L, t, "audio", "audio_url", &ups[1]);
  lua_getfield(L, t, "model");
  if (lua_isnil(L, -1)) {
    lua_pushstring(L, default_model);
    lua_setfield(L, t, "model");
  }
  lua_pop(L, 1);
  /* Encode before opening files, so a raise here leaks no descriptor. */
  if (!omh_json_encode(L, json_ref, t)) {
    const char *why = lua_tostring(L, -1);
    luaL_error(L, "omnihuman: create fields cannot be sent as JSON: %s", why ? why : "?");
  }
  int json_idx = lua_gettop(L);
  int ok = 1;
  size_t total = 0;
  for (int i = 0; i < 2 && ok; i++)
    if (ups[i].path) ok = open_upload(L, &ups[i], i == 1);
  if (ok) {
    size_t jlen;
    const char *json = lua_tolstring(L, json_idx, &jlen);
    total = jlen + 4;
    for (int i = 0; i < 2; i++)
      if (ups[i].path) total += upload_len(&ups[i]) + 1;
    char *body = malloc(total);
    unsigned char *chunk = malloc(CHUNK);
    if (!body || !chunk) {
      free(body);
      free(chunk);
      for (int i = 0; i < 2; i++)
        if (ups[i].fd >= 0) close(ups[i].fd);
      return luaL_error(L, "omnihuman: out of memory for a %d-byte request body", (int)total);
    }
    char *p = body;
    *p++ = '{';
    for (int i = 0; i < 2 && ok; i++) {
      if (!ups[i].path) continue;
      if (p != body + 1) *p++ = ',';
      size_t w = write_upload(L, &ups[i], p, chunk);
      if (!w) ok = 0;
      p += w;
    }
    free(chunk);
    if (ok) {
      /* json is "{...}": splice its members after ours. */
      if (jlen > 2) {
        if (p != body + 1) *p++ = ',';
        memcpy(p, json + 1, jlen - 2);
        p += jlen - 2;
      }
      *p++ = '}';
      *out = body;
      *len = (size_t)(p - body);
    } else {
      free(body);
    }
  }
  for (int i = 0; i < 2; i++)
    if (ups[i].fd >= 0) close(ups[i].fd);
  if (!ok) {
    lua_replace(L, top + 1); /* the error object */
    lua_settop(L, top + 1);
    return 0;
  }
  lua_settop(L, top);
  return 1;
}
