/* What a finished exchange means: the error kinds, and the retry rules that
 * keep a billed create from ever being sent twice. */
#include "outcome.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "redact.h"

static void judge_curl(const omh_xfer *x, omh_outcome *o) {
  const omh_xres *r = x->r;
  CURLcode c = r->code;
  const char *detail = r->error[0] ? r->error : curl_easy_strerror(c);
  o->kind = "network";
  switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
      /* No request left us: safe to send again, even a create. */
      o->retry_read = o->retry_create = 1;
      break;
    case CURLE_OPERATION_TIMEDOUT:
      o->kind = "timeout";
      o->retry_read = 1;
      o->retry_create = !r->sent;
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
#if LIBCURL_VERSION_NUM < 0x073e00
    case CURLE_SSL_CACERT:
#endif
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      break; /* will not fix itself */
    case CURLE_WRITE_ERROR:
      if (r->write_failed == OMH_WRITE_ANSWER_TOO_BIG) {
        o->kind = "protocol";
        snprintf(o->message, sizeof o->message, "answer larger than the 1 MiB an API answer may be");
        return;
      }
      if (r->write_failed == OMH_WRITE_OVER_MAX) {
        o->kind = "protocol";
        snprintf(o->message, sizeof o->message, "download larger than max_bytes (%lld bytes)",
                 (long long)x->max_bytes);
        return;
      }
      if (r->write_failed == OMH_WRITE_DISK) {
        o->kind = "io";
        snprintf(o->message, sizeof o->message, "cannot write the download: %s", detail);
        return;
      }
      break;
    default:
      o->retry_read = 1;
      o->retry_create = !r->sent;
      break;
  }
  /* curl's own message may quote the server, cut at CURL_ERROR_SIZE. */
  omh_redact_copy(omh_config_key(x->cfg), detail, strlen(detail), o->message, sizeof o->message);
}

/* The service's error JSON: {"message": s | [s...], "requestId": ...}. */
static void read_error_body(const omh_xfer *x, lua_State *L, omh_outcome *o) {
  const omh_buf *b = o->answer;
  int top = lua_gettop(L);
  if (b->len && omh_json_decode(L, b->data, b->len, omh_config_key(x->cfg)) && lua_istable(L, -1)) {
    lua_getfield(L, -1, "message");
    if (lua_istable(L, -1)) lua_rawgeti(L, -1, 1);
    if (lua_type(L, -1) == LUA_TSTRING)
      snprintf(o->message, sizeof o->message, "HTTP %ld: %s", o->status, lua_tostring(L, -1));
    lua_settop(L, top + 1);
    lua_getfield(L, -1, "requestId");
    if (lua_type(L, -1) == LUA_TSTRING)
      snprintf(o->request_id, sizeof o->request_id, "%s", lua_tostring(L, -1));
  }
  lua_settop(L, top);
  if (!o->message[0])
    snprintf(o->message, sizeof o->message, "HTTP %ld%s", o->status,
             b->len ? " (answer is not the service's JSON)" : "");
}

/* A body cut short of its Content-Length: the connection dropped. */
static void judge_length(const omh_xres *r, omh_outcome *o) {
  if (r->total < 0 || r->got == r->total) return;
  o->ok = 0;
  o->kind = "network";
  o->retry_read = 1;
  snprintf(o->message, sizeof o->message, "download ended after %lld of %lld bytes", (long long)r->got,
           (long long)r->total);
}

typedef char
    omh_request_ids_match[sizeof(((omh_outcome *)0)->request_id) == sizeof(((omh_xres *)0)->request_id) ? 1
                                                                                                        : -1];

/* Whether a 429's message speaks of a quota for a period (the free tier's
 * hourly limit, a daily cap) rather than a rate or concurrency limit that
 * clears in seconds: retrying within the call would only repeat it. */
static int quota_for_period(const char *msg) {
  static const char *const words[] = {"quota", "per hour",  "hourly", "per day",
                                      "daily", "per month", "monthly"};
  char low[sizeof((omh_outcome *)0)->message];
  size_t n = strlen(msg);
  if (n >= sizeof low) n = sizeof low - 1;
  for (size_t i = 0; i < n; i++) low[i] = (char)tolower((unsigned char)msg[i]);
  low[n] = '\0';
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strstr(low, words[i])) return 1;
  return 0;
}

void omh_outcome_judge(const omh_xfer *x, lua_State *L, omh_outcome *o) {
  const omh_xres *r = x->r;
  memset(o, 0, sizeof *o);
  o->status = r->status;
  o->retry_after = r->retry_after;
  o->code = r->code;
  o->sent = r->sent;
  o->answer = &r->answer;
  memcpy(o->request_id, r->request_id, sizeof o->request_id); /* a terminated string, usually empty */
  if (r->code != CURLE_OK) {
    o->status = 0;
    judge_curl(x, o);
    return;
  }
  long s = r->status;
  if (s >= 200 && s < 300) {
    o->ok = 1;
    if (x->kind == OMH_XFER_DOWNLOAD) judge_length(r, o);
    return;
  }
  o->kind = omh_kind_for_status(s);
  o->retry_read = s == 408 || s == 429 || s >= 500;
  o->retry_create = s == 429 || s == 503;
  if (s >= 300 && s < 400) {
    snprintf(
        o->message, sizeof o->message,
        "HTTP %ld: the API answered with a redirect, which is not followed (the request carries your key)",
        s);
    return;
  }
  read_error_body(x, L, o);
  if (s == 429 && quota_for_period(o->message)) {
    o->retry_read = o->retry_create = 0;
    size_t n = strlen(o->message);
    snprintf(o->message + n, sizeof o->message - n, " (a quota for a period: not retried within this call)");
  }
}
