/* Download: the result video streamed into <target>.part-XXXXXX beside
 * the target, checked against Content-Length, fsync'd and renamed into
 * place only when whole. The result host never gets credentials. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "op_start.h"
#include "outcome.h"

typedef struct download_op {
  omh_op op;
  char *target, *tmp;
} download_op;

static download_op *of(omh_op *op) { return (download_op *)op; }

static void drop_partial(omh_op *op) {
  if (op->x.fd >= 0) close(op->x.fd);
  op->x.fd = -1;
  if (of(op)->tmp) unlink(of(op)->tmp);
}

static void download_free(omh_op *op) {
  if (op->x.fd >= 0) close(op->x.fd);
  op->x.fd = -1;
  free(of(op)->target);
  free(of(op)->tmp);
  of(op)->target = of(op)->tmp = NULL;
}

/* Moves the whole file into place; 0, or -1 with errno set. */
static int commit(omh_op *op) {
  int fd = op->x.fd;
  op->x.fd = -1;
  if (fsync(fd) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  if (close(fd) != 0) return -1;
  return rename(of(op)->tmp, of(op)->target);
}

static void download_done(omh_op *op, lua_State *L) {
  omh_outcome o;
  omh_outcome_judge(&op->x, L, &o);
  if (!o.ok) {
    if (o.status >= 300 && o.status < 400)
      snprintf(o.message, sizeof o.message, "HTTP %ld: too many redirects", o.status);
    /* Start again from byte 0 on a retry: the file must be one response. */
    if (o.retry_read && ftruncate(op->x.fd, 0) == 0 && lseek(op->x.fd, 0, SEEK_SET) == 0 &&
        omh_op_retry(op, L, o.kind, o.status, o.retry_after))
      return;
    omh_op_finish_err(op, L, o.kind, o.message, o.status, o.request_id, o.retry_read);
    return;
  }
  if (commit(op) != 0) {
    char msg[600];
    snprintf(msg, sizeof msg, "cannot finish %.500s: %s", of(op)->target, strerror(errno));
    unlink(of(op)->tmp);
    omh_op_finish_err(op, L, "io", msg, 0, NULL, 0);
    return;
  }
  lua_pushstring(L, of(op)->target);
  omh_op_finish_ok(op, L);
}

static void no_timer(omh_op *op, lua_State *L) { (void)op, (void)L; }

static const omh_op_class download_class = {"download",
                                            OMH_CLASS_TO_FILE,
                                            sizeof(download_op),
                                            download_done,
                                            no_timer,
                                            drop_partial,
                                            download_free,
                                            NULL,
                                            NULL,
                                            NULL};

/* Opens the temporary file beside the target; 0, or -1 with errno set. */
static int open_partial(omh_op *op) {
  download_op *d = of(op);
  size_t n = strlen(d->target);
  if (!(d->tmp = malloc(n + 16))) return -1;
  /* Beside the target, so the final rename stays on one filesystem. */
  snprintf(d->tmp, n + 16, "%s.part-XXXXXX", d->target);
  op->x.fd = mkstemp(d->tmp);
  if (op->x.fd < 0) {
    int e = errno;
    free(d->tmp);
    d->tmp = NULL;
    errno = e;
    return -1;
  }
  fcntl(op->x.fd, F_SETFD, FD_CLOEXEC);
  /* mkstemp makes 0600; the video gets the mode any new file would. */
  mode_t mask = umask(0);
  umask(mask);
  fchmod(op->x.fd, 0666 & ~mask);
  return 0;
}

static void on_progress(void *ud) { omh_loop_progress(ud); }

omh_op *omh_download_start(lua_State *L, omh_loop *lp, int loop_idx, omh_config *cfg, const char *url,
                           const char *path, double max_bytes, int cb_idx) {
  omh_op *op = omh_op_new(L, lp, loop_idx, cfg, &download_class);
  op->x.kind = OMH_XFER_DOWNLOAD;
  op->x.max_bytes = (curl_off_t)max_bytes;
  op->x.on_progress = on_progress;
  op->x.progress_ud = &op->task;
  op->lane = &cfg->cdn_lane;
  op->url = strdup(url);
  op->x.url = op->url;
  of(op)->target = strdup(path);
  if (!op->url || !of(op)->target) luaL_error(L, "omnihuman: out of memory");
  if (cb_idx) {
    lua_pushvalue(L, cb_idx);
    op->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
    omh_op_finish_err(op, L, "invalid_input", "download URL must be http(s)", 0, NULL, 0);
  } else if (open_partial(op) != 0) {
    char msg[1200];
    snprintf(msg, sizeof msg, "cannot create a temporary file beside '%.900s': %s", path, strerror(errno));
    omh_op_finish_err(op, L, "io", msg, 0, NULL, 0);
  } else {
    omh_op_start_request(op, L);
  }
  return op;
}
