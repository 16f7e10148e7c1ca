/* Status checks: poll (one) and wait (poll, sleep the interval, poll
 * again... until a final status or the deadline), a state machine in C. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "json.h"
#include "json_read_fast.h"
#include "op_start.h"
#include "outcome.h"
#include "redact.h"

typedef struct status_op {
  omh_op op;
  char *job_id;
  double interval;      /* wait */
  char last_status[64]; /* wait: what the last answer said (redacted) */
  int polls;            /* wait */
  int sleeping;         /* wait: between two checks */
  char *kept_url;       /* poll_now's op between two checks: its last URL */
} status_op;

static status_op *of(omh_op *op) { return (status_op *)op; }

/* Decodes the answer; pushes the table and returns 1, else 0 with nothing pushed. */
static int decode_object(omh_op *op, lua_State *L, const omh_buf *b) {
  if (!omh_json_decode_with(L, b->data ? b->data : "", b->len, omh_config_redactor(op->cfg))) return 0;
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* Leaves t.status on the stack; returns it when it is a string. */
static const char *status_field(lua_State *L, int t) {
  lua_getfield(L, t, "status");
  return lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
}

/* Status checks are read-only, so every transient failure may go again.
 * Pushes the answer and returns 1, or ends/retries the op and returns 0. */
static int status_answer(omh_op *op, lua_State *L, const omh_outcome *o) {
  if (!o->ok) {
    if (o->retry_read && omh_op_retry(op, L, o->kind, o->status, o->retry_after)) return 0;
    omh_op_finish_err(op, L, o->kind, o->message, o->status, o->request_id, o->retry_read);
    return 0;
  }
  if (decode_object(op, L, o->answer)) {
    int t = lua_gettop(L);
    if (status_field(L, t)) {
      lua_pop(L, 1);
      op->attempt = 0; /* a good answer resets the retry budget */
      return 1;
    }
    lua_settop(L, t - 1);
  }
  /* A cut or garbled answer (a proxy's doing) is worth another look. */
  if (omh_op_retry(op, L, "protocol", o->status, -1)) return 0;
  omh_op_finish_err(op, L, "protocol", "status answer is not JSON with a \"status\" field", o->status,
                    o->request_id, 1);
  return 0;
}

static void poll_done(omh_op *op, lua_State *L) {
  omh_outcome o;
  omh_outcome_judge(&op->x, L, &o);
  if (status_answer(op, L, &o)) omh_op_finish_ok(op, L);
}

/* Statuses are compared without regard to case (the service's own SDK
 * lower-cases them). Final: completed/succeeded; error, failed,
 * cancelled/canceled, rejected, expired (the final statuses the service's
 * reference names anywhere). Every other status is pending, known (queued,
 * generating, and the older waiting, active, processing) or not: new ones
 * must not end a wait early. */
static int is_failed(const char *s) {
  return strcasecmp(s, "error") == 0 || strcasecmp(s, "failed") == 0 || strcasecmp(s, "cancelled") == 0 ||
         strcasecmp(s, "canceled") == 0 || strcasecmp(s, "rejected") == 0 || strcasecmp(s, "expired") == 0;
}

static int is_completed(const char *s) {
  return strcasecmp(s, "completed") == 0 || strcasecmp(s, "succeeded") == 0;
}

static void wait_timeout(omh_op *op, lua_State *L) {
  status_op *w = of(op);
  char msg[256];
  double took = omh_now() - op->started; /* tenths below 10 s: "after 0.5 s", never "after 1 s" */
  snprintf(msg, sizeof msg, "job %.120s still %s after %.*f s", w->job_id,
           w->last_status[0] ? w->last_status : "unchecked", took < 10 ? 1 : 0, took);
  omh_op_finish_err(op, L, "timeout", msg, 0, NULL, 1);
}

static void wait_generation_failed(omh_op *op, lua_State *L, int t) {
  status_op *w = of(op);
  char msg[600];
  const char *why = NULL;
  lua_getfield(L, t, "error");
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "message");
    why = lua_tostring(L, -1);
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    why = lua_tostring(L, -1);
  }
  snprintf(msg, sizeof msg, "job %.120s ended with status %s: %s", w->job_id, w->last_status,
           why ? why : "no reason given");
  omh_op_push_error(op, L, "generation_failed", msg, 0, NULL, 0);
  lua_pushvalue(L, t);
  lua_setfield(L, -2, "result");
  lua_replace(L, t);
  lua_settop(L, t);
  omh_op_finish_errobj(op, L);
}

static void wait_completed(omh_op *op, lua_State *L, int t) {
  lua_getfield(L, t, "video");
  int has_url = lua_istable(L, -1) && (lua_getfield(L, -1, "url"), lua_type(L, -1) == LUA_TSTRING);
  lua_settop(L, t);
  if (!has_url) {
    lua_pop(L, 1);
    omh_op_finish_err(op, L, "protocol", "job completed but the answer has no video.url", 0, NULL, 0);
    return;
  }
  omh_op_finish_ok(op, L);
}

/* Sleep the interval, or end at the deadline. */
static void wait_again(omh_op *op, lua_State *L) {
  status_op *w = of(op);
  double now = omh_now();
  if (now >= op->deadline) {
    wait_timeout(op, L);
    return;
  }
  double next = now + w->interval;
  w->sleeping = 1;
  omh_op_arm(op, next < op->deadline ? next : op->deadline);
}

/* Pending: tell on_event and on_status, then sleep the interval. */
static void wait_pending(omh_op *op, lua_State *L, int t) {
  status_op *w = of(op);
  if (op->cfg->on_event_ref != LUA_NOREF) {
    lua_createtable(L, 0, 4);
    lua_pushliteral(L, "status");
    lua_setfield(L, -2, "type");
    lua_pushstring(L, w->job_id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, w->last_status);
    lua_setfield(L, -2, "status");
    if (!omh_op_event(op, L)) return;
  }
  lua_pushvalue(L, t);
  if (!omh_op_callback(op, L, 1)) return; /* the callback ended it, or its client or loop */
  wait_again(op, L);
}

/* A good answer still pending that nobody listens to (no on_event, no
 * on_status) needs no table: its status is read in place. Most of a long
 * wait's answers are such, and each table was garbage at once. Returns 1
 * when it handled the answer; 0 leaves it to the full path. */
static int wait_pending_unheard(omh_op *op, lua_State *L, const omh_outcome *o) {
  status_op *w = of(op);
  const omh_buf *b = o->answer;
  const omh_redactor *key = omh_config_redactor(op->cfg);
  const char *st;
  size_t len;
  if (op->cfg->on_event_ref != LUA_NOREF || op->cb_ref != LUA_NOREF) return 0;
  if (!o->ok || !b->data) return 0;
  if (omh_redactor_suspect(key, b->data, b->len)) return 0;
  if (!omh_json_read_fast_status(b->data, b->len, &st, &len)) return 0;
  char s[sizeof w->last_status];
  omh_redactor_copy(key, st, len, s, sizeof s);
  if (is_completed(s) || is_failed(s)) return 0; /* the result needs the table */
  memcpy(w->last_status, s, sizeof s);
  op->attempt = 0;
  w->polls++;
  wait_again(op, L);
  return 1;
}

static void wait_done(omh_op *op, lua_State *L) {
  status_op *w = of(op);
  omh_outcome o;
  omh_outcome_judge(&op->x, L, &o);
  if (wait_pending_unheard(op, L, &o) || !status_answer(op, L, &o)) return;
  int t = lua_gettop(L);
  const char *s = status_field(L, t);
  omh_redactor_copy(omh_config_redactor(op->cfg), s, strlen(s), w->last_status, sizeof w->last_status);
  lua_pop(L, 1);
  w->polls++;
  if (is_completed(w->last_status))
    wait_completed(op, L, t);
  else if (is_failed(w->last_status))
    wait_generation_failed(op, L, t);
  else
    wait_pending(op, L, t);
  lua_settop(L, t - 1);
}

static void wait_timer(omh_op *op, lua_State *L) {
  status_op *w = of(op);
  if (w->sleeping && omh_now() < op->deadline) {
    w->sleeping = 0;
    omh_op_start_request(op, L);
    return;
  }
  wait_timeout(op, L);
}

static void no_timer(omh_op *op, lua_State *L) { (void)op, (void)L; }

static void status_free(omh_op *op) {
  free(of(op)->job_id);
  of(op)->job_id = NULL;
}

/* poll_now's op keeps its id, URL and result block from one check to the
 * next (a client that checks one job again pays no allocation for them):
 * its close leaves them, its collection frees them. */
static void kept_free(omh_op *op) {
  status_free(op);
  free(of(op)->kept_url);
  of(op)->kept_url = NULL;
  omh_xfer_free(&op->x);
}

static const omh_op_class poll_class = {
    "poll", OMH_CLASS_API, sizeof(status_op), poll_done, no_timer, NULL, status_free, NULL, NULL, NULL};
static const omh_op_class poll_now_class = {
    "poll", OMH_CLASS_API, sizeof(status_op), poll_done, no_timer, NULL, NULL, NULL, NULL, kept_free};
static const omh_op_class wait_class = {
    "wait", OMH_CLASS_API, sizeof(status_op), wait_done, wait_timer, NULL, status_free, NULL, NULL, NULL};

/* generation_id is a query value: "uuid:vendor/model" needs escaping. */
static char *status_url(const char *base, const char *id) {
  static const char hex[] = "0123456789ABCDEF";
  size_t blen = strlen(base), ilen = strlen(id);
  char *u = malloc(blen + 48 + 3 * ilen);
  if (!u) return NULL;
  static const char path[] = "/video/generations?generation_id=";
  char *p = u;
  memcpy(p, base, blen); /* not sprintf: ~1k instructions a status check */
  p += blen;
  memcpy(p, path, sizeof path - 1);
  p += sizeof path - 1;
  for (size_t i = 0; i < ilen; i++) {
    unsigned char c = (unsigned char)id[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
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

/* Fills op, new (reuse_idx 0) or poll_now's closed one at reuse_idx, kept
 * at registry ref kept_ref (taking back what it kept), pushed. */
static omh_op *status_new_at(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const char *id,
                             const omh_op_class *cls, int reuse_idx, int kept_ref) {
  char *job_id = NULL, *url = NULL;
  struct omh_xres *r = NULL;
  omh_op *op;
  if (reuse_idx) {
    status_op *old = lua_touserdata(L, reuse_idx);
    omh_op_close(L, &old->op); /* a no-op but after an error that left a check unfinished */
    job_id = old->job_id, url = old->kept_url, r = old->op.x.r;
    old->job_id = old->kept_url = NULL, old->op.x.r = NULL;
    if (job_id && strcmp(job_id, id) != 0) {
      free(job_id), free(url);
      job_id = url = NULL;
    }
    op = omh_op_renew(L, reuse_idx, kept_ref, lp, cfg, cls);
    op->x.r = r;
  } else {
    op = omh_op_new(L, lp, loop_idx, cfg, cls);
  }
  of(op)->job_id = job_id ? job_id : strdup(id);
  op->url = url ? url : status_url(cfg->base_url, id);
  op->x.url = op->url;
  op->lane = &cfg->api_lane;
  if (!of(op)->job_id || !op->url) luaL_error(L, "omnihuman: out of memory");
  return op;
}

static omh_op *status_new(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const char *id,
                          const omh_op_class *cls) {
  return status_new_at(L, lp, loop_idx, cfg, id, cls, 0, LUA_NOREF);
}

omh_op *omh_poll_start(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const char *id) {
  omh_op *op = status_new(L, lp, loop_idx, cfg, id, &poll_class);
  omh_op_start_request(op, L);
  return op;
}

/* client:poll_now(id): a status check awaited at once by a caller that
 * drives the loop itself (the main thread, no scheduler): the op is never
 * handed to Lua, so nobody else can await it and its finish needs no
 * notice, and one op (pc->op_ref, closed between two checks) serves every
 * such check of a client: no userdata, finaliser or collection per check.
 * Its finish leaves the result in the client's slot (pc->result_ref): no
 * ref made per check. Returns what op:result() would, then the loop when
 * finish notices of other ops wait for their dispatcher (nil otherwise);
 * or nil, nil, nil, op when the loop closed first (the caller reads it as
 * an awaited op, which is then no longer the cache's). */
int omh_poll_now(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const char *id,
                 omh_poll_cache *pc) {
  omh_loop_check_may_block(lp, L); /* before anything starts */
  omh_op *op;
  if (pc->op_ref != LUA_NOREF) {
    /* Renewed with the cache's ref as its anchor, and no loop ref: the
     * loop is at loop_idx until the check is over. No ref made per check. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, pc->op_ref);
    op = status_new_at(L, lp, loop_idx, cfg, id, &poll_now_class, lua_gettop(L), pc->op_ref);
  } else {
    op = status_new_at(L, lp, loop_idx, cfg, id, &poll_now_class, 0, LUA_NOREF);
    pc->op_ref = op->self_ref; /* the cache takes its anchor over: one registry slot for both */
    op->unheard = 1;
  }
  int op_idx = lua_gettop(L);
  if (pc->result_ref == LUA_NOREF) {
    lua_pushboolean(L, 0); /* a value, so that the slot stays this client's */
    pc->result_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  /* Taken out of the cache while the check runs: a client closed by a
   * callback meanwhile must not free the slot the result goes to. */
  int slot = op->result_ref = pc->result_ref;
  pc->result_ref = LUA_NOREF;
  omh_loop_perform_next(lp, &op->task); /* nothing else in the loop: no multi handle needed */
  omh_op_start_request(op, L);
  omh_loop_perform_next(lp, NULL);
  omh_loop_safe_point(lp, L);
  int ran = omh_loop_run_until(lp, L, &op->task);
  lua_rawgeti(L, LUA_REGISTRYINDEX, slot); /* the result (false: not finished) */
  lua_pushboolean(L, 0);
  lua_rawseti(L, LUA_REGISTRYINDEX, slot);
  if (pc->op_ref == LUA_NOREF) /* the client went meanwhile */
    luaL_unref(L, LUA_REGISTRYINDEX, slot);
  else
    pc->result_ref = slot;
  op->result_ref = LUA_NOREF;
  if (!ran || op->task.closed || op->cb_err_ref != LUA_NOREF) {
    luaL_unref(L, LUA_REGISTRYINDEX, pc->op_ref);
    pc->op_ref = op->self_ref = LUA_NOREF; /* the op is the caller's now, with its result */
    if (op->task.done) op->result_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushvalue(L, op_idx);
    return 4;
  }
  if (!op->ok) {
    lua_pushnil(L);
    lua_insert(L, -2);
  } else {
    lua_pushnil(L);
  }
  if (omh_loop_has_done(lp))
    lua_pushvalue(L, loop_idx);
  else
    lua_pushnil(L);
  of(op)->kept_url = op->url; /* kept past the close (see kept_free) */
  op->url = NULL;
  omh_op_close(L, op); /* its result is on the stack; the op waits for the next check */
  return 3;
}

omh_op *omh_wait_start(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const char *id,
                       double interval, double timeout, int cb_idx) {
  omh_op *op = status_new(L, lp, loop_idx, cfg, id, &wait_class);
  if (cb_idx) {
    lua_pushvalue(L, cb_idx);
    op->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  of(op)->interval = interval;
  op->deadline = op->started + timeout;
  omh_op_start_request(op, L);
  return op;
}
