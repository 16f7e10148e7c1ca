/* Operations that end on this machine: download (into a temporary file
 * renamed into place only when whole) and sleep (a timer). */
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outcome.h"

static void drop_partial(omh_op *op) {
  if (op->x.fd >= 0) close(op->x.fd);
  op->x.fd = -1;
  if (op->tmp) unlink(op->tmp);
}

static void download_abort(omh_op *op) { drop_partial(op); }

static void download_done(omh_op *op, lua_State *L) {
  omh_outcome o;
  omh_outcome_judge(op, L, &o);
  if (o.ok && op->x.total >= 0 && op->x.got != op->x.total) {
    o.ok = 0;
    o.kind = "network";
    o.retry_read = 1;
    snprintf(o.message, sizeof o.message, "download ended after %lld of %lld bytes",
             (long long)op->x.got, (long long)op->x.total);
  }
  if (!o.ok) {
    if (o.status >= 300 && o.status < 400)
      snprintf(o.message, sizeof o.message, "HTTP %ld: too many redirects", o.status);
    /* Start again from byte 0 on a retry: the file must be one response. */
    if (o.retry_read && ftruncate(op->x.fd, 0) == 0 && lseek(op->x.fd, 0, SEEK_SET) == 0 &&
        omh_op_retry(op, L, o.kind, o.status, o.retry_after))
      return;
    omh_outcome_fail(op, L, &o, NULL);
    return;
  }
  int fd = op->x.fd;
  op->x.fd = -1;
  if (fsync(fd) != 0 || close(fd) != 0 || rename(op->tmp, op->target) != 0) {
    char msg[600];
    snprintf(msg, sizeof msg, "cannot finish %.500s: %s", op->target, strerror(errno));
    unlink(op->tmp);
    omh_op_finish_err(op, L, "io", msg, 0, NULL, 0);
    return;
  }
  lua_pushstring(L, op->target);
  omh_op_finish_ok(op, L);
}

static void download_timer(omh_op *op, lua_State *L) { (void)op, (void)L; }

int omh_download_begin(omh_op *op, lua_State *L) {
  size_t n = strlen(op->target);
  op->tmp = malloc(n + 16);
  if (!op->tmp) return -1;
  /* Beside the target, so the final rename stays on one filesystem. */
  snprintf(op->tmp, n + 16, "%s.part-XXXXXX", op->target);
  op->x.fd = mkstemp(op->tmp);
  if (op->x.fd < 0) {
    free(op->tmp);
    op->tmp = NULL;
    return -1;
  }
  fcntl(op->x.fd, F_SETFD, FD_CLOEXEC);
  /* mkstemp makes 0600; the video gets the mode any new file would. */
  mode_t mask = umask(0);
  umask(mask);
  fchmod(op->x.fd, 0666 & ~mask);
  omh_op_start_request(op, L);
  return 0;
}

static void sleep_done(omh_op *op, lua_State *L) { (void)op, (void)L; }

static void sleep_timer(omh_op *op, lua_State *L) {
  lua_pushboolean(L, 1);
  omh_op_finish_ok(op, L);
}

const omh_op_class omh_download_class = {"download", 0, download_done, download_timer, download_abort};
const omh_op_class omh_sleep_class = {"sleep", 0, sleep_done, sleep_timer, NULL};
