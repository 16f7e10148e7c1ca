/* Starting each kind of operation. Each pushes the new op (already in
 * flight, or already finished with an error such as a missing key) and
 * returns it. lp's userdata is at loop_idx; cfg is the client's. */
#ifndef OMH_OP_START_H
#define OMH_OP_START_H

#include "body.h"
#include "op.h"

/* The body is the op's from here on, whatever happens. */
omh_op *omh_create_start(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, omh_body *body);
/* A create refused before anything was sent: finished with the error
 * object at err_idx. */
omh_op *omh_create_refused(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, int err_idx);
omh_op *omh_poll_start(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const char *id);
/* What a client keeps for client:poll_now, registry refs or LUA_NOREF:
 * the op it reuses, and the slot that op's finish leaves its result in
 * (the client frees both when it goes). */
typedef struct omh_poll_cache {
  int op_ref, result_ref;
} omh_poll_cache;
int omh_poll_now(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const char *id,
                 omh_poll_cache *pc);
/* cb_idx: the stack index of on_status, or 0. */
omh_op *omh_wait_start(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const char *id,
                       double interval, double timeout, int cb_idx);
/* cb_idx: the stack index of on_progress, or 0. */
omh_op *omh_download_start(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const char *url,
                           const char *path, double max_bytes, int cb_idx);
omh_op *omh_sleep_start(lua_State *L, omh_loop *lp, int loop_idx, double seconds);

#endif
