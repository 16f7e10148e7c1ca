#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_limits.h"
#include "options.h"

static void wipe(char *s) {
  if (!s) return;
  volatile char *p = s;
  while (*p) *p++ = 0;
}

void omh_config_retain(omh_config *c) { c->refs++; }

const omh_redactor *omh_config_redactor(const omh_config *c) {
  static const omh_redactor none = {NULL, 0, {0}, {0}}; /* constant: no key, nothing redacted */
  return c ? &c->redactor : &none;
}

void omh_config_release(lua_State *L, omh_config *c) {
  if (--c->refs > 0) return;
  volatile unsigned char *r = (volatile unsigned char *)&c->redactor;
  for (size_t i = 0; i < sizeof c->redactor; i++) r[i] = 0;
  wipe(c->api_key);
  free(c->api_key);
  free(c->base_url);
  free(c->model);
  free(c->ca_file);
  free(c->proxy);
  free(c->user_agent);
  for (int i = 0; i < 2; i++) {
    for (struct curl_slist *h = c->api_headers[i]; h; h = h->next) wipe(h->data);
    curl_slist_free_all(c->api_headers[i]);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, c->on_event_ref);
  free(c);
}

/* Each header costs curl a formatted print, byte by byte, per request (a
 * tenth of a status check's CPU for these few): the User-Agent goes in the
 * list rather than through CURLOPT_USERAGENT (a print of its own), and GETs
 * carry only what they need (curl's default Accept stands). */
static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *value) {
  size_t n = strlen(name) + strlen(value) + 3;
  char *h = malloc(n);
  struct curl_slist *r = NULL;
  if (h) {
    snprintf(h, n, "%s: %s", name, value);
    r = curl_slist_append(l, h);
    wipe(h); /* it may be the key */
    free(h);
  }
  if (!r) curl_slist_free_all(l);
  return r;
}

static int build_headers(omh_config *c) {
  const char *ua = c->user_agent;
  for (int post = 0; post < 2; post++) {
    struct curl_slist *l = NULL;
    if (c->api_key && *c->api_key) {
      size_t n = strlen(c->api_key) + 8;
      char *bearer = malloc(n);
      if (!bearer) return -1;
      snprintf(bearer, n, "Bearer %s", c->api_key);
      l = add_header(l, "Authorization", bearer);
      wipe(bearer);
      free(bearer);
      if (!l) return -1;
    }
    if (!(l = add_header(l, "User-Agent", ua))) return -1;
    if (post &&
        (!(l = add_header(l, "Accept", "application/json")) ||
         !(l = add_header(l, "Content-Type", "application/json")) || !(l = curl_slist_append(l, "Expect:"))))
      return -1;
    c->api_headers[post] = l;
  }
  return 0;
}

/* The variables libcurl takes a proxy from (an empty one counts as unset). */
static int proxy_in_environment(void) {
  static const char *const names[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const char *v = getenv(names[i]);
    if (v && *v) return 1;
  }
  return 0;
}

/* One reader per TYPE of options_table.h. */
#define READ_STRING(name, field, dnum, dstr, lo, hi) c->field = omh_opt_string(L, idx, where, #name, dstr);
#define READ_NUMBER(name, field, dnum, dstr, lo, hi)                                                         \
  c->field = omh_opt_number(L, idx, where, #name, dnum, lo, hi, 0);
#define READ_WHOLE(name, field, dnum, dstr, lo, hi)                                                          \
  c->field = (int)omh_opt_number(L, idx, where, #name, dnum, lo, hi, 1);
#define READ_BOOLEAN(name, field, dnum, dstr, lo, hi) c->field = omh_opt_boolean(L, idx, where, #name);
#define READ_FUNCTION(name, field, dnum, dstr, lo, hi) c->field = omh_opt_function(L, idx, where, #name);
#define READ(name, type, field, dnum, dstr, env, lo, hi, ddoc, doc)                                          \
  READ_##type(name, field, dnum, dstr, lo, hi)
#define NAME(name, type, field, dnum, dstr, env, lo, hi, ddoc, doc) #name,

/* Raises on a bad option, leaving c for the caller's release. */
static void read_options(lua_State *L, int idx, omh_config *c) {
  static const char where[] = "omnihuman.new";
  static const char *const known[] = {OMH_CLIENT_OPTIONS(NAME) NULL};
  omh_opt_refuse_unknown(L, idx, where, known);
  OMH_CLIENT_OPTIONS(READ)
  c->env_proxy = !c->proxy && proxy_in_environment();
  if (strncmp(c->base_url, "https://", 8) != 0 && strncmp(c->base_url, "http://", 7) != 0)
    luaL_error(L, "%s: option 'base_url' must be an http:// or https:// URL", where);
  size_t bl = strlen(c->base_url);
  while (bl && c->base_url[bl - 1] == '/') c->base_url[--bl] = '\0';
}

/* A userdata that releases the config if reading raises half-way. */
static int guard_gc(lua_State *L) {
  omh_config **slot = lua_touserdata(L, 1);
  if (*slot) omh_config_release(L, *slot);
  *slot = NULL;
  return 0;
}

omh_config *omh_config_new(lua_State *L, int idx, unsigned long serial) {
  if (idx < 0) idx = lua_gettop(L) + idx + 1;
  omh_config **slot = omh_newuserdata(L, sizeof *slot);
  *slot = NULL;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, guard_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  omh_config *c = calloc(1, sizeof *c);
  if (!c) luaL_error(L, "omnihuman: out of memory");
  c->refs = 1;
  c->on_event_ref = LUA_NOREF;
  c->serial = serial;
  *slot = c;
  read_options(L, idx, c);
  if (build_headers(c) != 0) luaL_error(L, "omnihuman: out of memory");
  omh_redactor_init(&c->redactor, c->api_key);
  omh_lane_init(&c->api_lane, c->max_connections);
  omh_lane_init(&c->cdn_lane, c->max_connections);
  *slot = NULL; /* the caller's now */
  lua_pop(L, 1);
  return c;
}
