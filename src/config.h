/* A client's settings, read and checked once from omnihuman.new's options,
 * then immutable. Shared by reference count between the client and every
 * operation it started, so neither outliving the other is a problem (at
 * lua_close, collection order is not ours to choose). */
#ifndef OMH_CONFIG_H
#define OMH_CONFIG_H

#include <curl/curl.h>

#include "compat.h"
#include "options_table.h"
#include "redact.h"
#include "task.h"

typedef struct omh_config {
  int refs;
  unsigned long serial; /* unique within its loop: names easy-handle setups */
  char *api_key;        /* never printed; wiped on free */
  char *base_url;       /* without trailing slash */
  char *model;
  char *ca_file, *proxy, *user_agent;
  int env_proxy; /* no proxy option, and a proxy variable was set when made */
  double timeout, connect_timeout, poll_interval, wait_timeout;
  int max_retries, max_connections;
  double max_audio_seconds; /* > 0: replaces the per-model audio limit */
  int allow_unmeasured_audio;
  int strict;                        /* the facade's; read here so that its type is checked */
  int on_event_ref;                  /* registry ref or LUA_NOREF */
  struct curl_slist *api_headers[2]; /* [0] GET, [1] POST: Authorization, Accept (+ Content-Type) */
  omh_lane api_lane, cdn_lane;       /* at most max_connections requests each */
  omh_redactor redactor;             /* api_key ready for scanning answers; wiped on free */
} omh_config;

/* Reads the options table at idx (raising on a bad one) into a new config
 * with one reference, numbered `serial`. */
omh_config *omh_config_new(lua_State *L, int idx, unsigned long serial);
void omh_config_retain(omh_config *c);
void omh_config_release(lua_State *L, omh_config *c);
/* The key, for redaction (NULL when none). */
static inline const char *omh_config_key(const omh_config *c) { return c ? c->api_key : NULL; }
/* The same, ready for scanning (an answer's scan then builds nothing). */
const omh_redactor *omh_config_redactor(const omh_config *c);

#endif
