/* A request performed on the spot: a status check awaited by the main
 * thread while the loop has nothing else to do needs no epoll round trips
 * and no socket or timer callbacks. curl_easy_perform drives it instead of
 * the multi handle, with the multi handle's own pool of connections (both
 * use the loop's share of connections), and what follows it is what a
 * drive does with a finished transfer. */
#include "loop_private.h"

void omh_loop_perform_next(omh_loop *lp, omh_task *t) { lp->perform_task = t; }

int omh_loop_may_perform(omh_loop *lp, omh_task *t) {
  if (lp->perform_task != t || !t) return 0;
  lp->perform_task = NULL; /* once: a retry goes through the multi handle */
  /* Nothing else may wait on the loop while this blocks: its only task,
   * nothing in curl, no timer, no queue, no report pending. */
  return lp->share && !lp->driving && !lp->closed && lp->nactive == 1 && lp->ntransfers == 0 && !lp->lanes &&
         !lp->notify && !lp->paused && !omh_timers_peek(&lp->timers);
}

CURL *omh_loop_perform_easy(omh_loop *lp, unsigned long profile, int *same) {
  CURL *e = lp->perform_easy;
  *same = e && profile && lp->perform_profile == profile;
  lp->perform_easy = NULL;
  if (!e) {
    e = curl_easy_init();
    if (e) omh_loop_sockets_adopt(lp, e);
  } else if (!*same) {
    curl_easy_reset(e);
    omh_loop_sockets_adopt(lp, e);
  }
  return e;
}

/* curl's progress callback: a request performed on the spot ends when the
 * waiting thread's hook changes (Ctrl-C under lua.c: see run_until). */
static int interrupted(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  const omh_loop *lp = p;
  (void)dt, (void)dn, (void)ut, (void)un;
  return lua_gethook(lp->perform_L) != lp->perform_hook;
}

void omh_loop_perform(omh_task *t, CURL *e, unsigned long profile, unsigned long owner, lua_State *L) {
  omh_loop *lp = t->loop;
  lp->driving = 1; /* callbacks from here on run as inside a drive */
  t->owner = owner;
  lp->perform_owner = owner;
  lp->perform_L = L;
  lp->perform_hook = lua_gethook(L);
  /* curl's own pool size for a performed request is 5: returning the
   * connection to a fuller shared pool would close another client's. */
  curl_easy_setopt(e, CURLOPT_MAXCONNECTS, lp->maxconnects);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, interrupted);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, lp);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  CURLcode code = curl_easy_perform(e);
  lp->perform_owner = 0;
  lp->perform_L = NULL;
  t->ops->collect(t, e, code);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL); /* no pointer into the op stays behind */
  if (lp->perform_easy || lp->closed) {
    curl_easy_cleanup(e);
  } else {
    lp->perform_easy = e;
    lp->perform_profile = profile;
  }
  int top = lua_gettop(L);
  t->ops->pin(t, L);
  t->ops->transfer_done(t, L);
  lua_settop(L, top);
  lp->driving = 0;
  lp->wake_due = 0; /* as after a drive: whoever drives dispatches next */
  if (lp->free_deferred) omh_loop_release(lp);
}
