/* Client configuration: immutable after new(), shared by reference count
 * between the client userdata and every operation it started, so neither
 * outliving the other is a problem at lua_close. */
#ifndef OMH_CLIENT_H
#define OMH_CLIENT_H

#include <curl/curl.h>
#include "compat.h"

typedef struct omh_config {
  int refs;
  unsigned long serial;  /* unique within its loop: names easy-handle setups */
  char *api_key;        /* never printed; wiped on free */
  char *base_url;       /* without trailing slash */
  char *model;
  char *ca_file, *proxy, *user_agent;
  double timeout, connect_timeout, poll_interval, wait_timeout;
  int max_retries, max_connections;
  double max_audio_seconds;      /* > 0: replaces the per-model audio limit */
  int allow_unmeasured_audio;
  int on_event_ref;     /* registry ref or LUA_NOREF */
  struct curl_slist *api_headers;  /* Authorization + Content-Type */
} omh_config;

void omh_config_release(lua_State *L, omh_config *c);
/* Replaces every occurrence of the key in s with "[redacted]". */
void omh_config_redact(const omh_config *c, char *s, size_t cap);

int omh_client_open(lua_State *L);   /* registers the client metatable */
int omh_client_new(lua_State *L);    /* core.new_client(loop, opts) */

#endif
