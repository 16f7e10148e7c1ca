#include "loop.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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

double omh_loop_timeout(omh_loop *lp) {
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
  if (lp->queue_head && lp->xfers < lp->max_xfers) return 0; /* admit now */
  if (!any) return -1.0;
  return best < 0 ? 0 : best;  /* overdue: attend now */
}

static void finish_transfers(omh_loop *lp, lua_State *L) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(lp->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    omh_op *op = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&op);
    if (!op) continue;
    op->x.code = msg->data.result;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &op->x.status);
    long reqsize = 0;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_REQUEST_SIZE, &reqsize);
    op->x.sent = reqsize > 0;
    curl_multi_remove_handle(lp->multi, msg->easy_handle);
    omh_loop_release_easy(lp, msg->easy_handle, op->x.profile);
    op->x.easy = NULL;
    lp->xfers--;
    omh_op_transfer_done(op, L);
  }
}

static void fire_timers(omh_loop *lp, lua_State *L) {
  double now = omh_now();
  omh_timer *t;
  /* Only what was due on entry: a timer re-armed for "now" waits a turn. */
  while ((t = omh_timers_peek(&lp->timers)) && t->when <= now) {
    omh_timers_disarm(&lp->timers, t);
    omh_op_timer_fired((omh_op *)((char *)t - offsetof(omh_op, timer)), L);
  }
}

static void flush_notify(omh_loop *lp, lua_State *L) {
  while (lp->notify) {
    omh_op *op = lp->notify;
    lp->notify = op->notify_next;
    op->notify_next = NULL;
    op->notify_queued = 0;
    omh_op_flush_progress(op, L);
  }
}

void omh_loop_drive(omh_loop *lp, lua_State *L, double block) {
  if (lp->driving || lp->closed) return;
  lp->driving = 1;
  double wait = omh_loop_timeout(lp);
  if (block <= 0) wait = 0;
  else if (wait < 0 || wait > block) wait = block;
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
  omh_loop_admit(lp, L);
  lp->driving = 0;
}

void omh_loop_admit(omh_loop *lp, lua_State *L) {
  while (lp->queue_head && lp->xfers < lp->max_xfers && !lp->closed) {
    omh_op *op = lp->queue_head;
    omh_op_dequeue(op);
    omh_op_launch(op, L);
  }
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

void omh_loop_set_max_host(omh_loop *lp, long n) {
  if (n <= lp->max_host_connections) return;
  lp->max_host_connections = n;
  lp->max_xfers = (int)(n * 2);
  curl_multi_setopt(lp->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n);
  curl_multi_setopt(lp->multi, CURLMOPT_MAXCONNECTS, n * 2 > 16 ? n * 2 : 16);
}

omh_loop *omh_checkloop(lua_State *L, int idx) {
  omh_loop *lp = luaL_checkudata(L, idx, OMH_LOOP_MT);
  if (lp->closed) luaL_error(L, "omnihuman: loop is closed");
  return lp;
}

static void loop_close(lua_State *L, omh_loop *lp) {
  if (lp->closed) return;
  /* Operations may outlive the loop (collection order at lua_close is not
   * ours to choose): stop their transfers and forget the loop. */
  while (lp->live) {
    struct omh_op *op = lp->live;
    /* Whoever waits on it hears "cancelled" rather than nothing, ever. */
    if (!op->done && lp->done_ref != LUA_NOREF)
      omh_op_finish_err(op, L, "cancelled", "the loop was closed", 0, NULL, 0);
    omh_op_detach(op);
  }
  lp->closed = 1;
  for (size_t i = 0; i < lp->nidle; i++) curl_easy_cleanup(lp->idle[i]);
  free(lp->idle);
  free(lp->idle_profile);
  lp->idle = NULL;
  lp->idle_profile = NULL;
  lp->nidle = lp->capidle = 0;
  omh_timers_free(&lp->timers);
  if (lp->multi) curl_multi_cleanup(lp->multi);
  lp->multi = NULL;
  if (lp->epfd >= 0) close(lp->epfd);
  lp->epfd = -1;
  luaL_unref(L, LUA_REGISTRYINDEX, lp->json_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, lp->done_ref);
  lp->json_ref = lp->done_ref = LUA_NOREF;
}

static void push_done_set(lua_State *L) {
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
}

static int loop_new(lua_State *L) {
  omh_loop *lp = lua_newuserdata(L, sizeof *lp);
  memset(lp, 0, sizeof *lp);
  lp->epfd = -1;
  lp->json_ref = lp->done_ref = LUA_NOREF;
  lp->closed = 1; /* until fully built, __gc has nothing to undo */
  luaL_getmetatable(L, OMH_LOOP_MT);
  lua_setmetatable(L, -2);
  lp->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (lp->epfd < 0) return luaL_error(L, "omnihuman: epoll_create1 failed");
  lp->multi = curl_multi_init();
  if (!lp->multi) return luaL_error(L, "omnihuman: curl_multi_init failed");
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

static int loop_gc(lua_State *L) {
  loop_close(L, luaL_checkudata(L, 1, OMH_LOOP_MT));
  return 0;
}

/* loop:run_once([max_block_seconds]) -> number of ops in flight */
static int loop_run_once(lua_State *L) {
  omh_loop *lp = omh_checkloop(L, 1);
  double block = luaL_optnumber(L, 2, 0);
  omh_loop_drive(lp, L, block);
  lua_pushinteger(L, lp->nactive);
  return 1;
}

/* loop:run_until(op): blocks, without spinning, until op has finished. */
static int loop_run_until(lua_State *L) {
  omh_loop *lp = omh_checkloop(L, 1);
  omh_op *op = omh_checkop(L, 2);
  if (lp->driving) return luaL_error(L, "omnihuman: cannot block inside a callback of the loop");
  while (!op->done && !lp->closed) {
    double t = omh_loop_timeout(lp);
    omh_loop_drive(lp, L, t < 0 ? 3600.0 : t + 0.001);
  }
  lua_pushboolean(L, op->done);
  return 1;
}

/* loop:take_done() -> set of ops finished since the last call (weak keys) */
static int loop_take_done(lua_State *L) {
  omh_loop *lp = omh_checkloop(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->done_ref);
  push_done_set(L);
  lua_rawseti(L, LUA_REGISTRYINDEX, lp->done_ref);
  return 1;
}

static int loop_timeout(lua_State *L) {
  double t = omh_loop_timeout(omh_checkloop(L, 1));
  if (t < 0) lua_pushnil(L);
  else lua_pushnumber(L, t);
  return 1;
}

static int loop_pollfd(lua_State *L) {
  lua_pushinteger(L, omh_checkloop(L, 1)->epfd);
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

static int loop_close_m(lua_State *L) {
  loop_close(L, luaL_checkudata(L, 1, OMH_LOOP_MT));
  return 0;
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
    {"active", loop_active},     {"close", loop_close_m},       {NULL, NULL}};
  omh_register_type(L, OMH_LOOP_MT, methods, loop_gc, loop_tostring);
  lua_pushcfunction(L, loop_new);
  return 1;
}
