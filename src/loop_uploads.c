/* The uploads' bytes per drive: curl's read callback (transfer.c) pauses
 * an upload that finds a drive's bytes or time spent; the loop resumes the
 * paused ones, a few a drive, first paused first. */
#include "loop_private.h"

/* From curl's read callback: the upload of e found the drive's bytes spent. */
static void on_upload_paused(void *ud, CURL *e) {
  omh_loop *lp = ud;
  omh_task *t = NULL;
  curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t);
  if (!t || t->paused) return;
  t->paused = 1;
  t->paused_next = NULL;
  if (lp->paused_tail)
    lp->paused_tail->paused_next = t;
  else
    lp->paused = t;
  lp->paused_tail = t;
  lp->upload_pauses++;
}

static void unlink_paused(omh_loop *lp, omh_task *t) {
  omh_task *prev = NULL, *p = lp->paused;
  while (p && p != t) prev = p, p = p->paused_next;
  if (!p) return;
  if (prev)
    prev->paused_next = t->paused_next;
  else
    lp->paused = t->paused_next;
  if (lp->paused_tail == t) lp->paused_tail = prev;
  t->paused_next = NULL;
  t->paused = 0;
}

/* Paused uploads resumed as one drive ends: enough to spend the next
 * drive's bytes; each resumed one that finds them spent pauses again, at
 * the cost of a curl call and two epoll_ctl, so resuming all of 32 would
 * cost more than the bytes themselves. */
#define RESUME_PER_TURN 4

/* As a drive ends: the first paused go on, first paused first (curl's
 * timer then says "now", so the next drive comes at once). */
void omh_loop_uploads_resume(omh_loop *lp) {
  omh_upload_budget *b = &lp->upload;
  if (b->per_turn && b->per_turn - b->left > lp->upload_most) lp->upload_most = b->per_turn - b->left;
  int n = 0;
  while (lp->paused && (!b->per_turn || n++ < RESUME_PER_TURN)) {
    omh_task *t = lp->paused;
    lp->paused = t->paused_next;
    t->paused_next = NULL;
    t->paused = 0;
    curl_easy_pause(t->easy, CURLPAUSE_CONT);
  }
  if (!lp->paused) lp->paused_tail = NULL;
}

struct omh_upload_budget *omh_loop_upload_budget(omh_loop *lp) {
  return &lp->upload;
}

void omh_loop_set_upload_budget(omh_loop *lp, size_t bytes) {
  lp->upload.per_turn = lp->upload.left = bytes;
  lp->upload_most = 0;
  lp->upload_pauses = 0;
}

void omh_loop_uploads_init(omh_loop *lp) {
  lp->upload.paused = on_upload_paused;
  lp->upload.ud = lp;
  omh_loop_set_upload_budget(lp, OMH_UPLOAD_BUDGET);
}

void omh_loop_uploads_turn(omh_loop *lp, double t0) {
  lp->upload.left = lp->upload.per_turn;
  lp->upload.until = lp->turn_budget > 0 ? t0 + lp->turn_budget : 0;
}

int omh_loop_uploads_forget(omh_loop *lp, omh_task *t) {
  if (!t->paused) return 0;
  unlink_paused(lp, t);
  /* Unpaused while curl still has its connection (after an error it has
   * none and refuses): the caller then frees the handle rather than pool it. */
  return curl_easy_pause(t->easy, CURLPAUSE_CONT) != CURLE_OK;
}
