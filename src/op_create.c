/* Create: the billed request. Retried only where the service cannot have
 * accepted it (connection never made, 429, 503); anything ambiguous ends
 * with err.maybe_created = true, never a second send. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "op_start.h"
#include "outcome.h"

static void fail_create(omh_op *op, lua_State *L, const omh_outcome *o, int maybe_created) {
  static const char note[] = " (not retried: the service may have accepted it, and a create is billed;"
                             " check your jobs before creating it again)";
  static const char inline_audio[] =
      " (the service may not accept inline audio: this create sent its audio as a data URI, which the"
      " service documents only for images; host the file and pass its URL as audio_url)";
  char msg[1024];
  int hint = !maybe_created && o->status >= 400 && o->status < 500 && strcmp(o->kind, "invalid_input") == 0 &&
             op->x.body && omh_body_inline_audio(op->x.body);
  snprintf(msg, sizeof msg, "%s%s", o->message, maybe_created ? note : hint ? inline_audio : "");
  omh_op_push_error(op, L, o->kind, msg, o->status, o->request_id, maybe_created ? 0 : o->retry_read);
  if (maybe_created) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "maybe_created");
  }
  omh_op_finish_errobj(op, L);
}

/* Pushes the answer when it is an object with a job id (returns 1): a
 * string, not empty (no status check could name an empty one). */
static int job_answer(omh_op *op, lua_State *L, const omh_buf *b) {
  if (!omh_json_decode(L, b->data ? b->data : "", b->len, omh_config_key(op->cfg))) return 0;
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "id");
    int has_id = lua_type(L, -1) == LUA_TSTRING && omh_rawlen(L, -1) > 0;
    lua_pop(L, 1);
    if (has_id) return 1;
  }
  lua_pop(L, 1);
  return 0;
}

static void create_done(omh_op *op, lua_State *L) {
  omh_outcome o;
  omh_outcome_judge(&op->x, L, &o);
  /* The body stopped itself (a file changed): the server got no complete
   * request, so no job exists and nothing is retried. */
  if (o.code == CURLE_ABORTED_BY_CALLBACK && op->x.body && omh_body_failure(op->x.body)) {
    omh_op_finish_err(op, L, "invalid_input", omh_body_failure(op->x.body), 0, NULL, 0);
    return;
  }
  if (!o.ok) {
    if (o.retry_create && omh_op_retry(op, L, o.kind, o.status, o.retry_after)) return;
    /* 4xx answers and never-sent requests are certain refusals; the rest is not. */
    int certain = o.retry_create || (o.status == 0 && !o.sent) ||
                  (o.status >= 400 && o.status < 500 && o.status != 408) ||
                  (o.status >= 300 && o.status < 400);
    fail_create(op, L, &o, !certain);
    return;
  }
  if (job_answer(op, L, o.answer)) {
    omh_op_finish_ok(op, L);
    return;
  }
  o.kind = "protocol";
  snprintf(o.message, sizeof o.message, "HTTP %ld with an answer that has no job id", o.status);
  fail_create(op, L, &o, 1);
}

static void no_timer(omh_op *op, lua_State *L) { (void)op, (void)L; }

/* What a closed create keeps: the id of the job it made. */
typedef struct create_op {
  omh_op op;
  char *kept_job;
} create_op;

static void keep_job(omh_op *op, lua_State *L) {
  lua_getfield(L, -1, "id");
  const char *id = lua_tostring(L, -1);
  create_op *c = (create_op *)op;
  if (id && !c->kept_job && (c->kept_job = malloc(strlen(id) + 1))) strcpy(c->kept_job, id);
  lua_pop(L, 1);
}

static const char *kept_job(const omh_op *op) { return ((const create_op *)op)->kept_job; }

static void gc_create(omh_op *op) {
  create_op *c = (create_op *)op;
  free(c->kept_job);
  c->kept_job = NULL;
}

static const omh_op_class create_class = {"create",
                                          OMH_CLASS_API | OMH_CLASS_BILLED,
                                          sizeof(create_op),
                                          create_done,
                                          no_timer,
                                          NULL,
                                          NULL,
                                          keep_job,
                                          kept_job,
                                          gc_create};

omh_op *omh_create_start(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, omh_body *body) {
  omh_op *op = omh_op_new(L, lp, loop_idx, cfg, &create_class);
  op->x.kind = OMH_XFER_API_POST;
  op->x.body = body;
  op->lane = &cfg->api_lane;
  size_t n = strlen(cfg->base_url) + 32;
  if (!(op->url = malloc(n))) luaL_error(L, "omnihuman: out of memory");
  snprintf(op->url, n, "%s/video/generations", cfg->base_url);
  op->x.url = op->url;
  omh_op_start_request(op, L);
  return op;
}

omh_op *omh_create_refused(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, int err_idx) {
  if (err_idx < 0) err_idx = lua_gettop(L) + err_idx + 1;
  omh_op *op = omh_op_new(L, lp, loop_idx, cfg, &create_class);
  lua_pushvalue(L, err_idx);
  omh_op_finish_errobj(op, L);
  return op;
}
