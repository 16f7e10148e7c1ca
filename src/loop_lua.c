/* The loop as Lua sees it: core.new_loop() and the loop's methods. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "loop_private.h"
#include "udata.h"

omh_loop *omh_checkloop(lua_State *L, int idx) {
  omh_loop *lp = luaL_checkudata(L, idx, OMH_LOOP_MT);
  if (lp->closed) luaL_error(L, "omnihuman: loop is closed");
  return lp;
}

/* A new, empty done set: weak keys, so a finished op nobody holds can go.
 * Its metatable is made once per Lua state. */
static void push_done_set(lua_State *L) {
  lua_newtable(L);
  if (luaL_newmetatable(L, "omnihuman.done_set")) {
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
  }
  lua_setmetatable(L, -2);
}

static int loop_new(lua_State *L) {
  omh_loop *lp = omh_newuserdata(L, sizeof *lp);
  memset(lp, 0, sizeof *lp);
  lp->epfd = lp->outer_fd = lp->notice_fd = -1;
  lp->done_ref = lp->wakeup_ref = LUA_NOREF;
  lp->turn_budget = OMH_TURN_BUDGET;
  lp->closed = 1; /* until fully built, __gc has nothing to undo */
  luaL_getmetatable(L, OMH_LOOP_MT);
  lua_setmetatable(L, -2);
  if (omh_loop_init(lp) != 0) return luaL_error(L, "omnihuman: cannot create a loop: %s", strerror(errno));
  push_done_set(L);
  lp->done_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

/* close (also __close): ends the loop's work; take_done still hands out the
 * last notices so that waiters on cancelled operations wake. */
static int loop_close_m(lua_State *L) {
  omh_loop *lp = luaL_checkudata(L, 1, OMH_LOOP_MT);
  int was_open = !lp->closed;
  omh_loop_end(lp, L);
  /* The host hears first, even inside a drive, while pollfd() is still
   * open: a host watching it stops before the number can be reused. */
  if (was_open) omh_loop_call_wakeup(lp, L);
  omh_loop_release(lp);
  return 0;
}

static int loop_gc(lua_State *L) {
  omh_loop *lp = luaL_checkudata(L, 1, OMH_LOOP_MT);
  omh_loop_end(lp, L);
  lp->driving = 0; /* collected: no drive of it can be on the C stack */
  omh_loop_release(lp);
  luaL_unref(L, LUA_REGISTRYINDEX, lp->done_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, lp->wakeup_ref);
  lp->done_ref = lp->wakeup_ref = LUA_NOREF;
  return 0;
}

/* loop:run_once([max_block_seconds]) -> number of ops in flight. Blocks
 * for sockets and timers only: finish notices are the dispatcher's
 * (omnihuman.waiters.turn takes them before it blocks). */
static int loop_run_once(lua_State *L) {
  omh_loop *lp = omh_checkloop(L, 1);
  double block = luaL_optnumber(L, 2, 0);
  if (block != block) return luaL_argerror(L, 2, "not a number");
  /* Inside a drive nothing can finish until the callback returns: a
   * blocking turn there would spin (or hang) instead of waiting. */
  if (block > 0 && lp->driving) return luaL_error(L, "omnihuman: cannot block inside a callback of the loop");
  omh_loop_drive(lp, L, block);
  lua_pushinteger(L, lp->nactive);
  return 1;
}

/* loop:run_until(op): blocks, without spinning, until op has finished
 * (true), or the loop closed or the interpreter was interrupted (false).
 * Notices of other ops do not wake it: they wait for their dispatcher. */
/* loop:driving() -> true while the loop is being driven: code running now
 * is a callback of one of its operations (nothing can finish until it
 * returns, so it must not block or start a scheduler). */
static int loop_driving(lua_State *L) {
  omh_loop *lp = luaL_checkudata(L, 1, OMH_LOOP_MT);
  lua_pushboolean(L, lp->driving);
  return 1;
}

void omh_loop_check_may_block(omh_loop *lp, lua_State *L) {
  if (lp->driving) luaL_error(L, "omnihuman: cannot block inside a callback of the loop");
}

int omh_loop_run_until(omh_loop *lp, lua_State *L, omh_task *t) {
  omh_loop_check_may_block(lp, L);
  /* The stand-alone interpreter answers Ctrl-C by setting a debug hook that
   * raises "interrupted!" at the next Lua instruction: when the hook
   * changes, the wait gives the thread back to Lua (t not finished), or a
   * script would stay deaf to Ctrl-C until its job ended. */
  lua_Hook hook = lua_gethook(L);
  while (!t->done && !lp->closed && lua_gethook(L) == hook) {
    double d = omh_loop_next_deadline(lp);
    omh_loop_drive(lp, L, d < 0 ? 3600.0 : d + 0.001);
  }
  return t->done;
}

static int loop_run_until(lua_State *L) {
  omh_loop *lp = omh_checkloop(L, 1);
  omh_task *t = luaL_checkudata(L, 2, OMH_OP_MT);
  if (t->closed) return luaL_error(L, "omnihuman: operation is closed");
  lua_pushboolean(L, omh_loop_run_until(lp, L, t));
  return 1;
}

/* No notice waits any more: the descriptor stops saying so. */
static void clear_notices(omh_loop *lp) {
  if (lp->notice_raised && lp->notice_fd >= 0) {
    uint64_t n;
    ssize_t r = read(lp->notice_fd, &n, sizeof n);
    (void)r; /* EAGAIN: already clear */
    lp->notice_raised = 0;
  }
  lp->ndone = 0;
}

/* loop:take_done() -> set of ops finished since the last call (weak keys).
 * One dispatcher per loop should call it (omnihuman.waiters does). With
 * nothing finished it hands out the same empty set: a dispatcher that runs
 * after every wait costs no allocation. */
static int loop_take_done(lua_State *L) {
  omh_loop *lp = luaL_checkudata(L, 1, OMH_LOOP_MT);
  if (lp->done_ref == LUA_NOREF) return luaL_error(L, "omnihuman: loop is closed");
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->done_ref);
  if (lp->ndone == 0) return 1;
  push_done_set(L);
  lua_rawseti(L, LUA_REGISTRYINDEX, lp->done_ref);
  clear_notices(lp);
  return 1;
}

/* loop:drop_done(): forgets the finish notices without handing them out,
 * for a dispatcher with nothing parked (the common case of a main-thread
 * wait): the set is cleared in place, so a wait allocates no new one. */
static int loop_drop_done(lua_State *L) {
  omh_loop *lp = luaL_checkudata(L, 1, OMH_LOOP_MT);
  if (lp->done_ref == LUA_NOREF) return luaL_error(L, "omnihuman: loop is closed");
  if (lp->ndone == 0) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->done_ref);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_pushnil(L);
    lua_rawset(L, -4); /* clearing a field during next is allowed */
  }
  lua_pop(L, 1);
  clear_notices(lp);
  return 0;
}

/* loop:set_wakeup(fn | nil): fn() runs when an operation finishes outside a
 * drive (a cancel or close from Lua code), for hosts that cannot watch
 * pollfd(). It runs after the C state change is complete; errors are dropped. */
static int loop_set_wakeup(lua_State *L) {
  omh_loop *lp = omh_checkloop(L, 1);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  luaL_unref(L, LUA_REGISTRYINDEX, lp->wakeup_ref);
  lp->wakeup_ref = LUA_NOREF;
  if (!lua_isnoneornil(L, 2)) {
    lua_pushvalue(L, 2);
    lp->wakeup_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  return 0;
}

static int loop_timeout(lua_State *L) {
  double t = omh_loop_timeout(omh_checkloop(L, 1));
  if (t < 0)
    lua_pushnil(L);
  else
    lua_pushnumber(L, t);
  return 1;
}

/* Readable while curl has socket work or finish notices wait. */
static int loop_pollfd(lua_State *L) {
  omh_loop *lp = omh_checkloop(L, 1);
  omh_loop_watch(lp);
  lua_pushinteger(L, lp->outer_fd);
  return 1;
}

static int loop_events(lua_State *L) {
  omh_checkloop(L, 1);
  lua_pushliteral(L, "r");
  return 1;
}

static int loop_active(lua_State *L) {
  lua_pushinteger(L, omh_checkloop(L, 1)->nactive);
  return 1;
}

/* loop:set_turn_budget(seconds): how long one drive may spend on ready
 * sockets and on starting queued requests before it leaves the rest to the
 * next drive (which is then due at once); 0: no bound. */
static int loop_set_turn_budget(lua_State *L) {
  omh_loop *lp = omh_checkloop(L, 1);
  double s = luaL_checknumber(L, 2);
  luaL_argcheck(L, s >= 0 && s <= 60, 2, "seconds from 0 to 60 expected");
  lp->turn_budget = s;
  return 0;
}

/* loop:upload_budget([bytes]) -> bytes, most, pauses: the body bytes all
 * uploads together may read in one drive (0: no bound), the most one drive
 * has read, and how many times an upload waited for the next drive because
 * a drive's bytes were spent. Given bytes, sets it and starts both counts
 * afresh. */
static int loop_upload_budget(lua_State *L) {
  omh_loop *lp = omh_checkloop(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    /* A whole number in every Lua (LuaJIT's checkinteger truncates 1.5). */
    lua_Number n = luaL_checknumber(L, 2);
    luaL_argcheck(L, n >= 0 && n <= 1073741824 && n == (lua_Number)(lua_Integer)n, 2,
                  "a whole number of bytes from 0 to 2^30 expected");
    omh_loop_set_upload_budget(lp, (size_t)n);
  }
  lua_pushinteger(L, (lua_Integer)lp->upload.per_turn);
  lua_pushinteger(L, (lua_Integer)lp->upload_most);
  lua_pushinteger(L, (lua_Integer)lp->upload_pauses);
  return 3;
}

/* Transfers in curl: a host that cannot watch pollfd() polls while > 0. */
static int loop_transfers(lua_State *L) {
  lua_pushinteger(L, omh_checkloop(L, 1)->ntransfers);
  return 1;
}

static int loop_is_closed(lua_State *L) {
  lua_pushboolean(L, ((omh_loop *)luaL_checkudata(L, 1, OMH_LOOP_MT))->closed);
  return 1;
}

static int loop_tostring(lua_State *L) {
  omh_loop *lp = luaL_checkudata(L, 1, OMH_LOOP_MT);
  lua_pushfstring(L, "omnihuman.loop (%s%p)", lp->closed ? "closed " : "", (void *)lp);
  return 1;
}

int omh_loop_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"run_once", loop_run_once},
                                     {"driving", loop_driving},
                                     {"run_until", loop_run_until},
                                     {"take_done", loop_take_done},
                                     {"drop_done", loop_drop_done},
                                     {"timeout", loop_timeout},
                                     {"pollfd", loop_pollfd},
                                     {"events", loop_events},
                                     {"active", loop_active},
                                     {"close", loop_close_m},
                                     {"is_closed", loop_is_closed},
                                     {"set_wakeup", loop_set_wakeup},
                                     {"transfers", loop_transfers},
                                     {"set_turn_budget", loop_set_turn_budget},
                                     {"upload_budget", loop_upload_budget},
                                     {NULL, NULL}};
  omh_register_type(L, OMH_LOOP_MT, methods, loop_gc, loop_tostring);
  luaL_getmetatable(L, OMH_LOOP_MT);
  lua_pushcfunction(L, loop_close_m);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  lua_pushcfunction(L, loop_new);
  return 1;
}
