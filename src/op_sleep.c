/* Sleep: an operation that is only a timer (omnihuman.sleep). */
#include "op_start.h"

static void sleep_done(omh_op *op, lua_State *L) { (void)op, (void)L; }

static void sleep_timer(omh_op *op, lua_State *L) {
  lua_pushboolean(L, 1);
  omh_op_finish_ok(op, L);
}

static const omh_op_class sleep_class = {"sleep", 0,    sizeof(omh_op), sleep_done, sleep_timer,
                                         NULL,    NULL, NULL,           NULL,       NULL};

omh_op *omh_sleep_start(lua_State *L, omh_loop *lp, int loop_idx, double seconds) {
  omh_op *op = omh_op_new(L, lp, loop_idx, NULL, &sleep_class);
  omh_op_arm(op, op->started + (seconds > 0 ? seconds : 0));
  return op;
}
