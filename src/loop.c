#include "loop.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "json.h"
#include "op.h"
#include "udata.h"

/* Mark stored with curl_multi_assign so we know a socket is in the epoll set. */
static char in_epoll_mark;

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  omh_loop *lp = userp;
  (void)e;
  if (what == CURL_POLL_REMOVE) {
    if (socketp) epoll_ctl(lp->epfd, EPOLL_CTL_DEL, s, NULL);
    curl_multi_assign(lp->multi, s, NULL);
    return 0;
  }
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.data.fd = s;
  if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
  if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
  if (socketp) {
    epoll_ctl(lp->epfd, EPOLL_CTL_MOD, s, &ev);
  } else {
    if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
      epoll_ctl(lp->epfd, EPOLL_CTL_MOD, s, &ev);
    curl_multi_assign(lp->multi, s, &in_epoll_mark);
  }
  return 0;
}

static int on_curl_timer(CURLM *m, long ms, void *userp) {
  omh_loop *lp = userp;
  (void)m;
  lp->curl_deadline = ms < 0 ? -1.0 : omh_now() + (double)ms / 1000.0;
  return 0;
}

/* When the loop next needs a drive: curl's timer, our timers, a queued
 * request with a free slot. Finish notices are not counted: they are for the
 * dispatcher (take_done), not a reason for a blocking wait to return. */
double omh_loop_next_deadline(omh_loop *lp) {
  double now = omh_now(), best = -1.0;
  int any = 0;
  if (lp->curl_deadline >= 0) {
    best = lp->curl_deadline - now;
    any = 1;
  }
  omh_timer *t = omh_timers_peek(&lp->timers);
  if (t && (!any || t->when - now < best)) {
    best = t->when - now;
    any = 1;
  }
  for (omh_lane *ln = lp->lanes; ln; ln = ln->next)
    if (ln->inflight < ln->cap) return 0; /* admit now */
  if (!any) return -1.0;
  return best < 0 ? 0 : best;  /* overdue: attend now */
}

double omh_loop_timeout(omh_loop *lp) {
  if (lp->closed) return -1.0;
  if (lp->ndone > 0) return 0;
  return omh_loop_next_deadline(lp);
}

/* Each phase below calls into ops, which may call into Lua, which may close
 * the loop: every phase stops as soon as it is closed. Each op is pinned on
 * the stack while its handler runs (see omh_op_pin). */
static void finish_transfers(omh_loop *lp, lua_State *L) {
  CURLMsg *msg;
  int left;
  while (!lp->closed && (msg = curl_multi_info_read(lp->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    omh_op *op = NULL;
    CURL *e = msg->easy_handle;
    CURLcode code = msg->data.result;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&op);
    if (!op) continue;
    op->x.code = code;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &op->x.status);
    long reqsize = 0;
    curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &reqsize);
    op->x.sent = reqsize > 0;
    curl_multi_remove_handle(lp->multi, e);
    lp->ntransfers--;
    omh_loop_release_easy(lp, e, op->x.profile);
    op->x.easy = NULL;
    if (op->lane) op->lane->inflight--;
    int top = lua_gettop(L);
    omh_op_pin(op, L);
    omh_op_transfer_done(op, L);
    lua_settop(L, top);
  }
}

static void fire_timers(omh_loop *lp, lua_State *L) {
  double now = omh_now();
  omh_timer *t;
  /* Only what was due on entry: a timer re-armed for "now" waits a turn. */
  while (!lp->closed && (t = omh_timers_peek(&lp->timers)) && t->when <= now) {
    omh_timers_disarm(&lp->timers, t);
    omh_op *op = (omh_op *)((char *)t - offsetof(omh_op, timer));
    int top = lua_gettop(L);
    omh_op_pin(op, L);
    omh_op_timer_fired(op, L);
    lua_settop(L, top);
  }
}

static void flush_notify(omh_loop *lp, lua_State *L) {
  while (!lp->closed && lp->notify) {
    omh_op *op = lp->notify;
    lp->notify = op->notify_next;
    op->notify_next = NULL;
    op->notify_queued = 0;
    int top = lua_gettop(L);
    omh_op_pin(op, L);
    omh_op_flush_progress(op, L);
    lua_settop(L, top);
  }
}

static void lane_link(omh_loop *lp, omh_lane *ln) {
  if (ln->linked) return;
  ln->linked = 1;
  ln->prev = NULL;
  ln->next = lp->lanes;
  if (lp->lanes) lp->lanes->prev = ln;
  lp->lanes = ln;
}

static void lane_unlink(omh_loop *lp, omh_lane *ln) {
  if (!ln->linked) return;
  ln->linked = 0;
  if (ln->prev) ln->prev->next = ln->next;
  else lp->lanes = ln->next;
  if (ln->next) ln->next->prev = ln->prev;
  ln->next = ln->prev = NULL;
}

void omh_lane_init(omh_lane *ln, int cap) {
  memset(ln, 0, sizeof *ln);
  ln->cap = cap;
}

void omh_loop_enqueue(omh_loop *lp, omh_lane *ln, omh_op *op) {
  op->lane = ln;
  op->queued = 1;
  op->queue_next = NULL;
  op->queue_prev = ln->tail;
  if (ln->tail) ln->tail->queue_next = op;
  else ln->head = op;
  ln->tail = op;
  lane_link(lp, ln);
}

void omh_loop_dequeue(omh_loop *lp, omh_op *op) {
  omh_lane *ln = op->lane;
  if (!op->queued || !ln) return;
  if (op->queue_prev) op->queue_prev->queue_next = op->queue_next;
  else ln->head = op->queue_next;
  if (op->queue_next) op->queue_next->queue_prev = op->queue_prev;
  else ln->tail = op->queue_prev;
  op->queue_next = op->queue_prev = NULL;
  op->queued = 0;
  if (!ln->head) lane_unlink(lp, ln);
}

/* Starts queued requests while their lanes have free slots. Launching
 * calls no Lua, so the lane list cannot change under us but by launching. */
static void admit(omh_loop *lp, lua_State *L) {
  omh_lane *ln = lp->lanes;
  while (ln && !lp->closed) {
    omh_lane *next = ln->next;
    while (ln->head && ln->inflight < ln->cap && !lp->closed) {
      omh_op *op = ln->head;
      omh_loop_dequeue(lp, op); /* may unlink ln */
      int top = lua_gettop(L);
      omh_op_pin(op, L);
      omh_op_launch(op, L);
      lua_settop(L, top);
    }
    ln = next;
  }
}

static void free_resources(omh_loop *lp) {
  for (size_t i = 0; i < lp->nidle; i++) curl_easy_cleanup(lp->idle[i]);
  free(lp->idle);
  free(lp->idle_profile);
  lp->idle = NULL;
  lp->idle_profile = NULL;
  lp->nidle = lp->capidle = 0;
  omh_timers_free(&lp->timers);
  if (lp->multi) curl_multi_cleanup(lp->multi);
  lp->multi = NULL;
  if (lp->outer_fd >= 0) close(lp->outer_fd);
  if (lp->notice_fd >= 0) close(lp->notice_fd);
  if (lp->epfd >= 0) close(lp->epfd);
  lp->epfd = lp->outer_fd = lp->notice_fd = -1;
  lp->free_deferred = 0;
}

void omh_loop_drive(omh_loop *lp, lua_State *L, double block) {
  if (lp->driving || lp->closed) return;
  lp->driving = 1;
  double wait = omh_loop_next_deadline(lp);
  if (block <= 0) wait = 0;
  else if (wait < 0 || wait > block) wait = block;
  if (wait > 86400) wait = 86400; /* keeps the millisecond count in range */
  int ms = (int)ceil(wait * 1000.0);
  struct epoll_event evs[64];
  int n = epoll_wait(lp->epfd, evs, 64, ms);
  int running;
  for (int i = 0; i < n; i++) {
    int flags = 0;
    if (evs[i].events & (EPOLLIN | EPOLLHUP)) flags |= CURL_CSELECT_IN;
    if (evs[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
    if (evs[i].events & EPOLLERR) flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(lp->multi, evs[i].data.fd, flags, &running);
  }
  if (lp->curl_deadline >= 0 && lp->curl_deadline <= omh_now()) {
    lp->curl_deadline = -1;
    curl_multi_socket_action(lp->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
  flush_notify(lp, L);
  finish_transfers(lp, L);
  fire_timers(lp, L);
  admit(lp, L);
  lp->driving = 0;
  lp->wake_due = 0; /* whoever drives dispatches next */
  if (lp->free_deferred) free_resources(lp);
}

void omh_loop_post_done(omh_loop *lp, lua_State *L) {
  if (lp->done_ref == LUA_NOREF) {
    lua_pop(L, 1);
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->done_ref);
  lua_insert(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  if (lp->ndone++ == 0 && lp->notice_fd >= 0) {
    uint64_t one = 1;
    ssize_t w = write(lp->notice_fd, &one, sizeof one);
    (void)w; /* only fails when the counter is already non-zero */
  }
  if (!lp->driving) lp->wake_due = 1;
}

static void call_wakeup(omh_loop *lp, lua_State *L) {
  lp->wake_due = 0;
  if (lp->wakeup_ref == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->wakeup_ref);
  if (lua_pcall(L, 0, 0, 0) != 0) lua_pop(L, 1); /* a host's poke; nothing to report to */
}

void omh_loop_safe_point(omh_loop *lp, lua_State *L) {
  if (lp->wake_due && !lp->driving) call_wakeup(lp, L);
}

CURL *omh_loop_easy(omh_loop *lp, unsigned long profile, int *same) {
  *same = 0;
  if (!lp->nidle) return curl_easy_init();
  /* A handle last set up for the same client and request shape keeps its
   * options: re-setting ~25 of them after a reset costs ~10% of a poll. */
  size_t top = lp->nidle - 1;
  for (size_t i = top, n = 0; profile && n < 8; i--, n++) {
    if (lp->idle_profile[i] == profile) {
      CURL *e = lp->idle[i];
      lp->idle[i] = lp->idle[top];
      lp->idle_profile[i] = lp->idle_profile[top];
      lp->nidle--;
      *same = 1;
      return e;
    }
    if (i == 0) break;
  }
  CURL *e = lp->idle[--lp->nidle];
  curl_easy_reset(e);
  return e;
}

void omh_loop_release_easy(omh_loop *lp, CURL *e, unsigned long profile) {
  /* Keep a modest pool; a handle costs ~10 KB and 10,000 sleeping jobs hold none. */
  if (lp->nidle < 64 && !lp->closed) {
    if (lp->nidle == lp->capidle) {
      size_t cap = lp->capidle ? lp->capidle * 2 : 16;
      CURL **p = realloc(lp->idle, cap * sizeof *p);
      if (p) lp->idle = p;
      unsigned long *q = p ? realloc(lp->idle_profile, cap * sizeof *q) : NULL;
      if (q) lp->idle_profile = q;
      if (!p || !q) { curl_easy_cleanup(e); return; }
      lp->capidle = cap;
    }
    /* No pointer into a finished operation stays behind in the pool. */
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
    lp->idle_profile[lp->nidle] = profile;
    lp->idle[lp->nidle++] = e;
  } else {
    curl_easy_cleanup(e);
  }
}

double omh_loop_jitter(omh_loop *lp) {
  /* xorshift32: enough to spread retries apart. */
  unsigned x = lp->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  lp->rng = x ? x : 2463534242u;
  return (double)(x % 1000000u) / 1000000.0;
}

/* Our lanes bound each client exactly; curl's own per-host limit only has
 * to stay out of their way. */
void omh_loop_set_max_host(omh_loop *lp, long n) {
  if (n <= lp->max_host_connections) return;
  lp->max_host_connections = n;
  curl_multi_setopt(lp->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n);
  curl_multi_setopt(lp->multi, CURLMOPT_MAXCONNECTS, n * 2 > 16 ? n * 2 : 16);
}

omh_loop *omh_checkloop(lua_State *L, int idx) {
  omh_loop *lp = luaL_checkudata(L, idx, OMH_LOOP_MT);
  if (lp->closed) luaL_error(L, "omnihuman: loop is closed");
  return lp;
}

/* Ends the loop's work: every op is ended (whoever waits on one hears
 * "cancelled" rather than nothing, ever) and forgets the loop. Operations may
 * outlive the loop (collection order at lua_close is not ours to choose). */
static void loop_end(lua_State *L, omh_loop *lp) {
  if (lp->closed) return;
  while (lp->live) {
    struct omh_op *op = lp->live;
    if (!op->done) omh_op_cancel(op, L, "the loop was closed");
    omh_op_detach(op);
  }
  lp->closed = 1;
  luaL_unref(L, LUA_REGISTRYINDEX, lp->json_ref);
  lp->json_ref = LUA_NOREF;
}

/* Frees curl and the descriptors, unless a drive still has them on the C
 * stack (a callback closed the loop): that drive frees them on its way out. */
static void loop_release(omh_loop *lp) {
  if (lp->driving) lp->free_deferred = 1;
  else if (lp->multi || lp->epfd >= 0) free_resources(lp);
}

static void push_done_set(lua_State *L) {
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
}

static int add_in(int epfd, int fd) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int loop_new(lua_State *L) {
  omh_loop *lp = lua_newuserdata(L, sizeof *lp);
  memset(lp, 0, sizeof *lp);
  lp->epfd = lp->outer_fd = lp->notice_fd = -1;
  lp->json_ref = lp->done_ref = lp->wakeup_ref = LUA_NOREF;
  lp->closed = 1; /* until fully built, __gc has nothing to undo */
  luaL_getmetatable(L, OMH_LOOP_MT);
  lua_setmetatable(L, -2);
  lp->epfd = epoll_create1(EPOLL_CLOEXEC);
  lp->outer_fd = epoll_create1(EPOLL_CLOEXEC);
  lp->notice_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (lp->epfd < 0 || lp->outer_fd < 0 || lp->notice_fd < 0 || add_in(lp->outer_fd, lp->epfd) != 0 ||
      add_in(lp->outer_fd, lp->notice_fd) != 0) {
    free_resources(lp);
    return luaL_error(L, "omnihuman: cannot create the loop's descriptors: %s", strerror(errno));
  }
  lp->multi = curl_multi_init();
  if (!lp->multi) {
    free_resources(lp);
    return luaL_error(L, "omnihuman: curl_multi_init failed");
  }
  lp->closed = 0;
  lp->curl_deadline = -1;
  lp->rng = (unsigned)((unsigned long)(size_t)lp ^ (unsigned long)(omh_now() * 1e6)) | 1u;
  curl_multi_setopt(lp->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(lp->multi, CURLMOPT_SOCKETDATA, lp);
  curl_multi_setopt(lp->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(lp->multi, CURLMOPT_TIMERDATA, lp);
  curl_multi_setopt(lp->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  omh_loop_set_max_host(lp, 8);
  omh_json_push_instance(L);
  lp->json_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  push_done_set(L);
  lp->done_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

/* close (also __close): ends the loop's work; take_done still hands out the
 * last notices so that waiters on cancelled operations wake. */
static int loop_close_m(lua_State *L) {
  omh_loop *lp = luaL_checkudata(L, 1, OMH_LOOP_MT);
  int was_open = !lp->closed;
  loop_end(L, lp);
  /* The host hears first, even inside a drive, while pollfd() is still
   * open: a host watching it stops before the number can be reused. */
  if (was_open) call_wakeup(lp, L);
  loop_release(lp);
  return 0;
}

static int loop_gc(lua_State *L) {
  omh_loop *lp = luaL_checkudata(L, 1, OMH_LOOP_MT);
  loop_end(L, lp);
  if (lp->multi || lp->epfd >= 0) free_resources(lp); /* at lua_close even mid-drive */
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
  omh_loop_drive(lp, L, block);
  lua_pushinteger(L, lp->nactive);
  return 1;
}

/* loop:run_until(op): blocks, without spinning, until op has finished.
 * Notices of other ops do not wake it: they wait for their dispatcher. */
static int loop_run_until(lua_State *L) {
  omh_loop *lp = omh_checkloop(L, 1);
  omh_op *op = omh_checkop(L, 2);
  if (lp->driving) return luaL_error(L, "omnihuman: cannot block inside a callback of the loop");
  while (!op->done && !lp->closed) {
    double t = omh_loop_next_deadline(lp);
    omh_loop_drive(lp, L, t < 0 ? 3600.0 : t + 0.001);
  }
  lua_pushboolean(L, op->done);
  return 1;
}

/* loop:take_done() -> set of ops finished since the last call (weak keys).
 * One dispatcher per loop should call it (omnihuman.waiters does). */
static int loop_take_done(lua_State *L) {
  omh_loop *lp = luaL_checkudata(L, 1, OMH_LOOP_MT);
  if (lp->done_ref == LUA_NOREF) return luaL_error(L, "omnihuman: loop is closed");
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->done_ref);
  push_done_set(L);
  lua_rawseti(L, LUA_REGISTRYINDEX, lp->done_ref);
  if (lp->ndone > 0 && lp->notice_fd >= 0) {
    uint64_t n;
    ssize_t r = read(lp->notice_fd, &n, sizeof n);
    (void)r; /* EAGAIN: already clear */
  }
  lp->ndone = 0;
  return 1;
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
  if (t < 0) lua_pushnil(L);
  else lua_pushnumber(L, t);
  return 1;
}

/* Readable while curl has socket work or finish notices wait. */
static int loop_pollfd(lua_State *L) {
  lua_pushinteger(L, omh_checkloop(L, 1)->outer_fd);
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
  static const luaL_Reg methods[] = {
    {"run_once", loop_run_once}, {"run_until", loop_run_until}, {"take_done", loop_take_done},
    {"timeout", loop_timeout},   {"pollfd", loop_pollfd},       {"events", loop_events},
    {"active", loop_active},     {"close", loop_close_m},       {"is_closed", loop_is_closed},
    {"set_wakeup", loop_set_wakeup}, {"transfers", loop_transfers}, {NULL, NULL}};
  omh_register_type(L, OMH_LOOP_MT, methods, loop_gc, loop_tostring);
  luaL_getmetatable(L, OMH_LOOP_MT);
  lua_pushcfunction(L, loop_close_m);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  lua_pushcfunction(L, loop_new);
  return 1;
}
