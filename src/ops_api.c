/* The API operations: create (billed, retried only where it cannot have
 * been accepted), poll (one status check), wait (poll, sleep, poll... in C). */
#include "ops.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "body.h"
#include "clock.h"
#include "errors.h"
#include "json.h"
#include "outcome.h"
#include "redact.h"

enum { WAIT_POLLING = 1, WAIT_SLEEPING = 2 };

/* Decodes the answer body; pushes the table and returns 1, else 0 with nothing pushed. */
static int decode_object(omh_op *op, lua_State *L) {
  if (!omh_json_decode(L, op->loop->json_ref, op->x.body.data ? op->x.body.data : "", op->x.body.len,
                       op->cfg ? op->cfg->api_key : NULL))
    return 0;
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* Leaves t[field] on the stack; returns its string or NULL. */
static const char *string_field(lua_State *L, int t, const char *field) {
  lua_getfield(L, t, field);
  return lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
}

static void fail_create(omh_op *op, lua_State *L, const omh_outcome *o, int maybe_created) {
  static const char note[] =
      " (not retried: the service may have accepted it, and a create is billed;"
      " check your jobs before creating it again)";
  char msg[1024];
  snprintf(msg, sizeof msg, "%s%s", o->message, maybe_created ? note : "");
  omh_op_push_error(op, L, o->kind, msg, o->status, o->request_id, maybe_created ? 0 : o->retry_read);
  if (maybe_created) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "maybe_created");
  }
  omh_op_finish_errobj(op, L);
}

static void create_done(omh_op *op, lua_State *L) {
  /* The body stopped itself (a file changed): the server got no complete
   * request, so no job exists and nothing is retried. */
  if (op->x.code == CURLE_ABORTED_BY_CALLBACK && op->body && omh_body_failure(op->body)) {
    omh_op_finish_err(op, L, "invalid_input", omh_body_failure(op->body), 0, NULL, 0);
    return;
  }
  omh_outcome o;
  omh_outcome_judge(op, L, &o);
  if (!o.ok) {
    if (o.retry_create && omh_op_retry(op, L, o.kind, o.status, o.retry_after)) return;
    /* 4xx answers and never-sent requests are certain refusals; the rest is not. */
    int certain = o.retry_create || (o.status == 0 && !op->x.sent) || (o.status >= 400 && o.status < 500 && o.status != 408) ||
                  (o.status >= 300 && o.status < 400);
    fail_create(op, L, &o, !certain);
    return;
  }
  if (decode_object(op, L)) {
    int t = lua_gettop(L);
    if (string_field(L, t, "id")) {
      lua_pop(L, 1);
      omh_op_finish_ok(op, L);
      return;
    }
    lua_settop(L, t - 1);
  }
  o.kind = "protocol";
  snprintf(o.message, sizeof o.message, "HTTP %ld with an answer that has no job id", o.status);
  fail_create(op, L, &o, 1);
}

/* Status checks: read-only, so every transient failure may go again. */
static int status_answer(omh_op *op, lua_State *L) {
  omh_outcome o;
  omh_outcome_judge(op, L, &o);
  if (!o.ok) {
    if (o.retry_read && omh_op_retry(op, L, o.kind, o.status, o.retry_after)) return 0;
    omh_outcome_fail(op, L, &o, NULL);
    return 0;
  }
  if (decode_object(op, L)) {
    int t = lua_gettop(L);
    if (string_field(L, t, "status")) {
      lua_pop(L, 1);
      op->attempt = 0; /* a good answer resets the retry budget */
      return 1;
    }
    lua_settop(L, t - 1);
  }
  /* A cut or garbled answer (a proxy's doing) is worth another look. */
  if (omh_op_retry(op, L, "protocol", o.status, -1)) return 0;
  omh_op_finish_err(op, L, "protocol", "status answer is not JSON with a \"status\" field",
                    o.status, o.request_id, 1);
  return 0;
}

static void poll_done(omh_op *op, lua_State *L) {
  if (status_answer(op, L)) omh_op_finish_ok(op, L);
}

/* Statuses are compared without regard to case (the service's own SDK
 * lower-cases them). Every status not final is pending, known (queued,
 * generating, and the older waiting, active, processing) or not: new ones
 * must not end a wait early. */
static int is_failed(const char *s) {
  return strcasecmp(s, "error") == 0 || strcasecmp(s, "failed") == 0 || strcasecmp(s, "cancelled") == 0 ||
         strcasecmp(s, "canceled") == 0 || strcasecmp(s, "rejected") == 0;
}

static int is_completed(const char *s) {
  return strcasecmp(s, "completed") == 0 || strcasecmp(s, "succeeded") == 0;
}

static void wait_timeout(omh_op *op, lua_State *L) {
  char msg[256];
  snprintf(msg, sizeof msg, "job %.120s still %s after %.0f s", op->job_id,
           op->last_status[0] ? op->last_status : "unchecked", omh_now() - op->started);
  omh_op_finish_err(op, L, "timeout", msg, 0, NULL, 1);
}

static void wait_generation_failed(omh_op *op, lua_State *L, int t, const char *status) {
  char msg[600];
  const char *why = NULL;
  lua_getfield(L, t, "error");
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "message");
    why = lua_tostring(L, -1);
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    why = lua_tostring(L, -1);
  }
  snprintf(msg, sizeof msg, "job %.120s ended with status %s: %s", op->job_id, status,
           why ? why : "no reason given");
  omh_op_push_error(op, L, "generation_failed", msg, 0, NULL, 0);
  lua_pushvalue(L, t);
  lua_setfield(L, -2, "result");
  lua_replace(L, t);
  lua_settop(L, t);
  omh_op_finish_errobj(op, L);
}

static void wait_done(omh_op *op, lua_State *L) {
  if (!status_answer(op, L)) return;
  int t = lua_gettop(L);
  const char *s = string_field(L, t, "status");
  omh_redact_copy(op->cfg ? op->cfg->api_key : NULL, s, strlen(s), op->last_status, sizeof op->last_status);
  lua_pop(L, 1);
  op->polls++;
  if (is_completed(op->last_status)) {
    lua_getfield(L, t, "video");
    int has_url = lua_istable(L, -1) && (lua_getfield(L, -1, "url"), lua_type(L, -1) == LUA_TSTRING);
    lua_settop(L, t);
    if (!has_url) {
      lua_pop(L, 1);
      omh_op_finish_err(op, L, "protocol", "job completed but the answer has no video.url", 0, NULL, 0);
      return;
    }
    omh_op_finish_ok(op, L);
    return;
  }
  if (is_failed(op->last_status)) {
    wait_generation_failed(op, L, t, op->last_status);
    return;
  }
  /* Pending (or a status we do not know yet: keep waiting until the deadline). */
  if (op->cfg && op->cfg->on_event_ref != LUA_NOREF) {
    lua_createtable(L, 0, 4);
    lua_pushliteral(L, "status");
    lua_setfield(L, -2, "type");
    lua_pushstring(L, op->job_id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, op->last_status);
    lua_setfield(L, -2, "status");
    if (!omh_op_event(op, L)) {
      lua_settop(L, t - 1);
      return;
    }
  }
  int alive = omh_op_callback(op, L, 1); /* on_status(st): pops the table */
  lua_settop(L, t - 1);
  if (!alive) return;     /* the callback ended it, or its client or loop */
  double now = omh_now();
  if (now >= op->deadline) {
    wait_timeout(op, L);
    return;
  }
  double next = now + op->interval;
  op->state = WAIT_SLEEPING;
  omh_op_arm(op, next < op->deadline ? next : op->deadline);
}

static void wait_timer(omh_op *op, lua_State *L) {
  if (op->state == WAIT_SLEEPING && omh_now() < op->deadline) {
    op->state = WAIT_POLLING;
    omh_op_start_request(op, L);
    return;
  }
  wait_timeout(op, L);
}

static void no_timer(omh_op *op, lua_State *L) { (void)op, (void)L; }

const omh_op_class omh_create_class = {"create", 1, create_done, no_timer, NULL};
const omh_op_class omh_poll_class = {"poll", 0, poll_done, no_timer, NULL};
const omh_op_class omh_wait_class = {"wait", 0, wait_done, wait_timer, NULL};

/* generation_id is a query value: "uuid:vendor/model" needs escaping. */
char *omh_status_url(const char *base, const char *id) {
  static const char hex[] = "0123456789ABCDEF";
  size_t blen = strlen(base), ilen = strlen(id);
  char *u = malloc(blen + 48 + 3 * ilen);
  if (!u) return NULL;
  char *p = u + sprintf(u, "%s/video/generations?generation_id=", base);
  for (size_t i = 0; i < ilen; i++) {
    unsigned char c = (unsigned char)id[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      *p++ = (char)c;
    } else {
      *p++ = '%';
      *p++ = hex[c >> 4];
      *p++ = hex[c & 15];
    }
  }
  *p = '\0';
  return u;
}

void omh_wait_begin(omh_op *op, lua_State *L, double interval, double timeout) {
  op->interval = interval;
  op->deadline = op->started + timeout;
  op->state = WAIT_POLLING;
  omh_op_start_request(op, L);
}
