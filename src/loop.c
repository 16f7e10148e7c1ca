/* The loop's engine: curl's sockets in epoll, timers in a heap, tasks
 * admitted through lanes, finish notices for the one dispatcher. */
#include "loop_private.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "json.h"

static int on_curl_timer(CURLM *m, long ms, void *userp) {
  omh_loop *lp = userp;
  (void)m;
  lp->curl_deadline = ms < 0 ? -1.0 : omh_now() + (double)ms / 1000.0;
  return 0;
}

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
  if (lp->backlog) return 0; /* the last drive stopped at its budget */
  for (omh_lane *ln = lp->lanes; ln; ln = ln->next)
    if (ln->inflight < ln->cap) return 0; /* admit now */
  if (!any) return -1.0;
  return best < 0 ? 0 : best; /* overdue: attend now */
}

double omh_loop_timeout(omh_loop *lp) {
  if (lp->closed) return -1.0;
  if (lp->ndone > 0) return 0;
  return omh_loop_next_deadline(lp);
}

/* ---- tasks ---- */

void omh_loop_bind(omh_loop *lp, omh_task *t, const omh_task_ops *ops) {
  memset(t, 0, sizeof *t);
  t->ops = ops;
  t->loop = lp;
  t->live_next = lp->live;
  if (lp->live) lp->live->live_prev = t;
  lp->live = t;
  t->active = 1;
  lp->nactive++;
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
  if (ln->prev)
    ln->prev->next = ln->next;
  else
    lp->lanes = ln->next;
  if (ln->next) ln->next->prev = ln->prev;
  ln->next = ln->prev = NULL;
}

static void dequeue(omh_loop *lp, omh_task *t) {
  omh_lane *ln = t->lane;
  if (!t->queued || !ln) return;
  if (t->queue_prev)
    t->queue_prev->queue_next = t->queue_next;
  else
    ln->head = t->queue_next;
  if (t->queue_next)
    t->queue_next->queue_prev = t->queue_prev;
  else
    ln->tail = t->queue_prev;
  t->queue_next = t->queue_prev = NULL;
  t->queued = 0;
  if (!ln->head) lane_unlink(lp, ln);
}

/* Takes t's handle out of curl, back to the pool (set up for `profile`,
 * or for nothing when the transfer was interrupted). */
static void end_transfer(omh_loop *lp, omh_task *t, unsigned long profile) {
  int still_paused = omh_loop_uploads_forget(lp, t);
  curl_multi_remove_handle(lp->multi, t->easy);
  lp->ntransfers--;
  if (still_paused)
    curl_easy_cleanup(t->easy);
  else
    omh_loop_release_easy(lp, t->easy, profile);
  t->easy = NULL;
  if (t->lane) t->lane->inflight--;
}

void omh_loop_stop(omh_task *t) {
  omh_loop *lp = t->loop;
  if (!lp) return;
  if (t->easy) end_transfer(lp, t, 0);
  dequeue(lp, t);
  omh_timers_disarm(&lp->timers, &t->timer);
}

void omh_loop_retire(omh_task *t) {
  if (!t->active) return;
  t->active = 0;
  if (t->loop) t->loop->nactive--;
}

void omh_loop_unbind(omh_task *t) {
  omh_loop *lp = t->loop;
  if (!lp) return;
  omh_loop_stop(t);
  omh_loop_retire(t);
  if (t->live_prev)
    t->live_prev->live_next = t->live_next;
  else
    lp->live = t->live_next;
  if (t->live_next) t->live_next->live_prev = t->live_prev;
  t->live_next = t->live_prev = NULL;
  if (t->notify_queued) {
    omh_task **pp = &lp->notify;
    while (*pp && *pp != t) pp = &(*pp)->notify_next;
    if (*pp) *pp = t->notify_next;
    t->notify_queued = 0;
  }
  t->loop = NULL;
}

/* Requests started by one bounded drive at most; as many requests on fresh
 * connections from one drive's curl calls to the next's (each starts a TLS
 * handshake in the next drive's first curl call, which runs them all). */
#define ADMIT_PER_TURN 4

static int fresh_spent(const omh_loop *lp, const omh_task *t) {
  return t->fresh && lp->turn_budget > 0 && lp->fresh_started >= ADMIT_PER_TURN;
}

void omh_loop_submit(omh_task *t, omh_lane *ln, int fresh, lua_State *L) {
  omh_loop *lp = t->loop;
  t->lane = ln;
  t->fresh = fresh;
  if (ln && (ln->inflight >= ln->cap || ln->head || fresh_spent(lp, t))) {
    /* No slot for this client: wait in line, FIFO, holding no easy handle. */
    t->queued = 1;
    t->queue_next = NULL;
    t->queue_prev = ln->tail;
    if (ln->tail)
      ln->tail->queue_next = t;
    else
      ln->head = t;
    ln->tail = t;
    lane_link(lp, ln);
    return;
  }
  if (fresh) lp->fresh_started++;
  t->ops->launch(t, L);
}

CURLMcode omh_loop_start_transfer(omh_task *t, CURL *e, unsigned long profile, unsigned long owner) {
  omh_loop *lp = t->loop;
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)t);
  t->owner = owner;
  CURLMcode mc = curl_multi_add_handle(lp->multi, e);
  if (mc != CURLM_OK) return mc;
  t->easy = e;
  t->profile = profile;
  lp->ntransfers++;
  if (t->lane) t->lane->inflight++;
  return CURLM_OK;
}

void omh_loop_arm(omh_task *t, double when) {
  if (t->loop) omh_timers_arm(&t->loop->timers, &t->timer, when);
}

void omh_loop_progress(omh_task *t) {
  if (t->notify_queued || !t->loop) return;
  t->notify_queued = 1;
  t->notify_next = t->loop->notify;
  t->loop->notify = t;
}

/* ---- driving ---- */

/* Each phase below calls into tasks, which may call into Lua, which may
 * close the loop: every phase stops as soon as it is closed. Each task is
 * pinned on the stack while it is worked on. */
static void finish_transfers(omh_loop *lp, lua_State *L) {
  CURLMsg *msg;
  int left;
  while (!lp->closed && (msg = curl_multi_info_read(lp->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    omh_task *t = NULL;
    CURL *e = msg->easy_handle;
    CURLcode code = msg->data.result;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t);
    if (!t) continue;
    t->ops->collect(t, e, code);
    end_transfer(lp, t, t->profile);
    int top = lua_gettop(L);
    t->ops->pin(t, L);
    t->ops->transfer_done(t, L);
    lua_settop(L, top);
  }
}

static void fire_timers(omh_loop *lp, lua_State *L) {
  double now = omh_now();
  omh_timer *tm;
  /* Only what was due on entry: a timer re-armed for "now" waits a turn. */
  while (!lp->closed && (tm = omh_timers_peek(&lp->timers)) && tm->when <= now) {
    omh_timers_disarm(&lp->timers, tm);
    omh_task *t = (omh_task *)((char *)tm - offsetof(omh_task, timer));
    int top = lua_gettop(L);
    t->ops->pin(t, L);
    t->ops->timer_fired(t, L);
    lua_settop(L, top);
  }
}

static void flush_progress(omh_loop *lp, lua_State *L) {
  while (!lp->closed && lp->notify) {
    omh_task *t = lp->notify;
    lp->notify = t->notify_next;
    t->notify_next = NULL;
    t->notify_queued = 0;
    int top = lua_gettop(L);
    t->ops->pin(t, L);
    t->ops->progress(t, L);
    lua_settop(L, top);
  }
}

/* Past the drive's budget (started at t0): the rest waits for the next. */
static int over_budget(omh_loop *lp, double t0) {
  if (lp->turn_budget <= 0 || omh_now() - t0 < lp->turn_budget) return 0;
  lp->backlog = 1;
  return 1;
}

/* Starts queued requests while their lanes have free slots. Launching
 * calls no Lua, so the lane list cannot change under us but by launching. */
static void admit(omh_loop *lp, lua_State *L, double t0) {
  omh_lane *ln = lp->lanes;
  int admitted = 0;
  while (ln && !lp->closed) {
    omh_lane *next = ln->next;
    while (ln->head && ln->inflight < ln->cap && !lp->closed) {
      /* At least one a drive (but no fifth create on a fresh connection),
       * then a few while the budget lasts: each starts its connection (a
       * TLS handshake's work) in the next drive, whose first curl call
       * runs them all. */
      omh_task *t = ln->head;
      if (fresh_spent(lp, t) ||
          (admitted && lp->turn_budget > 0 && (admitted >= ADMIT_PER_TURN || over_budget(lp, t0)))) {
        lp->backlog = 1;
        return;
      }
      admitted++;
      if (t->fresh) lp->fresh_started++;
      dequeue(lp, t); /* may unlink ln */
      int top = lua_gettop(L);
      t->ops->pin(t, L);
      t->ops->launch(t, L);
      lua_settop(L, top);
    }
    ln = next;
  }
}

void omh_loop_drive(omh_loop *lp, lua_State *L, double block) {
  if (lp->driving || lp->closed) return;
  lp->driving = 1;
  lp->backlog = 0;
  double t0 = omh_now();
  omh_loop_uploads_turn(lp, t0);
  int running = lp->ntransfers;
  /* curl's overdue timer first (a request just handed over is sent from
   * it): then one epoll_wait per drive also waits for that answer. */
  if (lp->curl_deadline >= 0 && lp->curl_deadline <= omh_now()) {
    lp->curl_deadline = -1;
    curl_multi_socket_action(lp->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
  double wait = omh_loop_next_deadline(lp);
  if (block <= 0 || running < lp->ntransfers || lp->notify)
    wait = 0; /* something to report already: do not block before it */
  else if (wait < 0 || wait > block)
    wait = block;
  if (wait > 86400) wait = 86400; /* keeps the millisecond count in range */
  int ms = (int)ceil(wait * 1000.0);
  struct epoll_event evs[64];
  int n = epoll_wait(lp->epfd, evs, 64, ms);
  for (int i = 0; i < n; i++) {
    /* A host's frame keeps its budget: sockets left ready (epoll is level
     * triggered) are taken up by the next drive, which comes at once. */
    if (i && over_budget(lp, t0)) break;
    if (!omh_loop_socket_wanted(lp, evs[i].data.fd)) continue;
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
  /* What starts from here on reaches curl in the next drive's first call. */
  lp->fresh_started = 0;
  flush_progress(lp, L);
  finish_transfers(lp, L);
  fire_timers(lp, L);
  admit(lp, L, t0);
  omh_loop_uploads_resume(lp);
  lp->driving = 0;
  lp->wake_due = 0; /* whoever drives dispatches next */
  if (lp->free_deferred) omh_loop_release(lp);
}

/* ---- notices ---- */

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
  if (lp->ndone < INT_MAX) lp->ndone++;
  /* Only a host watching pollfd() needs the descriptor to turn readable:
   * plain waits are spared two system calls per finished operation. */
  if (lp->watched && !lp->notice_raised && lp->notice_fd >= 0) {
    uint64_t one = 1;
    ssize_t w = write(lp->notice_fd, &one, sizeof one);
    (void)w; /* only fails when the counter is already non-zero */
    lp->notice_raised = 1;
  }
  if (!lp->driving) lp->wake_due = 1;
}

int omh_loop_is_closed(const omh_loop *lp) { return lp->closed; }

int omh_loop_watch_fd(omh_loop *lp) {
  if (lp->closed) return -1;
  omh_loop_watch(lp);
  return lp->outer_fd;
}

omh_task *omh_loop_tasks(const omh_loop *lp) { return lp->live; }

int omh_loop_has_done(const omh_loop *lp) { return lp->ndone > 0; }

void omh_loop_watch(omh_loop *lp) {
  if (lp->watched) return;
  lp->watched = 1;
  /* Notices that came before anyone watched: the descriptor shows them too. */
  if (lp->ndone > 0 && !lp->notice_raised && lp->notice_fd >= 0) {
    uint64_t one = 1;
    ssize_t w = write(lp->notice_fd, &one, sizeof one);
    (void)w;
    lp->notice_raised = 1;
  }
}

void omh_loop_call_wakeup(omh_loop *lp, lua_State *L) {
  lp->wake_due = 0;
  if (lp->wakeup_ref == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->wakeup_ref);
  if (lua_pcall(L, 0, 0, 0) != 0) lua_pop(L, 1); /* a host's poke; nothing to report to */
}

void omh_loop_safe_point(omh_loop *lp, lua_State *L) {
  if (lp->wake_due && !lp->driving) omh_loop_call_wakeup(lp, L);
}

/* ---- life ---- */

static int add_in(int epfd, int fd) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void free_resources(omh_loop *lp) {
  for (size_t i = 0; i < lp->nidle; i++) curl_easy_cleanup(lp->idle[i]);
  free(lp->idle);
  free(lp->idle_profile);
  lp->idle = NULL;
  lp->idle_profile = NULL;
  lp->nidle = lp->capidle = 0;
  if (lp->perform_easy) curl_easy_cleanup(lp->perform_easy);
  lp->perform_easy = NULL;
  omh_timers_free(&lp->timers);
  if (lp->multi) curl_multi_cleanup(lp->multi);
  lp->multi = NULL;
  /* Closes the connections through us; every handle that used it is gone. */
  if (lp->share) curl_share_cleanup(lp->share);
  lp->share = NULL;
  omh_loop_sockets_free(lp);
  if (lp->outer_fd >= 0) close(lp->outer_fd);
  if (lp->notice_fd >= 0) close(lp->notice_fd);
  if (lp->epfd >= 0) close(lp->epfd);
  lp->epfd = lp->outer_fd = lp->notice_fd = -1;
  lp->free_deferred = 0;
}

int omh_loop_init(omh_loop *lp) {
  lp->epfd = epoll_create1(EPOLL_CLOEXEC);
  lp->outer_fd = epoll_create1(EPOLL_CLOEXEC);
  lp->notice_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (lp->epfd < 0 || lp->outer_fd < 0 || lp->notice_fd < 0 || add_in(lp->outer_fd, lp->epfd) != 0 ||
      add_in(lp->outer_fd, lp->notice_fd) != 0) {
    int saved = errno;
    free_resources(lp);
    errno = saved;
    return -1;
  }
  lp->multi = curl_multi_init();
  lp->share = curl_share_init();
  if (lp->share && curl_share_setopt(lp->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK) {
    curl_share_cleanup(lp->share); /* no sharing: every request goes through the multi handle */
    lp->share = NULL;
  }
  if (!lp->multi) {
    free_resources(lp);
    errno = ENOMEM;
    return -1;
  }
  lp->closed = 0;
  lp->curl_deadline = -1;
  lp->rng = (unsigned)((unsigned long)(size_t)lp ^ (unsigned long)(omh_now() * 1e6)) | 1u;
  omh_loop_sockets_init(lp);
  curl_multi_setopt(lp->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(lp->multi, CURLMOPT_TIMERDATA, lp);
  curl_multi_setopt(lp->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  omh_loop_set_max_host(lp, 8);
  omh_loop_uploads_init(lp);
  return 0;
}

void omh_loop_end(omh_loop *lp, lua_State *L) {
  if (lp->closed) return;
  /* Tasks may outlive the loop (collection order at lua_close is not ours
   * to choose): each ends its work, then the loop lets go of it. */
  while (lp->live) {
    omh_task *t = lp->live;
    t->ops->loop_closing(t, L);
    if (lp->live == t) omh_loop_unbind(t);
  }
  lp->closed = 1;
}

void omh_loop_release(omh_loop *lp) {
  /* Inside a drive (a callback closed it) curl is still on the C stack. */
  if (lp->driving)
    lp->free_deferred = 1;
  else if (lp->multi || lp->epfd >= 0)
    free_resources(lp);
}
