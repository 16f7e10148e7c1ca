/* curl's sockets in the loop's epoll set, registered lazily.
 *
 * curl asks to stop watching a keep-alive connection when each request on
 * it ends, and to watch it again when the next one starts: removing and
 * re-adding it would cost two epoll_ctl calls per request (the add is the
 * dear one: the set is itself watched by pollfd()'s set, so the kernel
 * checks wakeup paths on every add). A connection curl opened through us
 * stays registered while idle instead; an event on it while curl does not
 * want it removes it then, and its close (through us too) forgets it.
 * Sockets curl opens otherwise (a resolver's socketpair) are closed
 * without telling us, so those are removed at once as before: a stale
 * registration must never hide a new socket that reuses the number.
 *
 * Each connection is also marked with the client whose transfer last
 * asked to watch it, so that closing a client can end its idle ones. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop_private.h"

enum {
  SOCK_REG = 1,  /* in the epoll set */
  SOCK_IN = 2,   /* registered for reading */
  SOCK_OUT = 4,  /* registered for writing */
  SOCK_WANT = 8, /* curl wants it watched now */
  SOCK_OURS = 16 /* opened through us: we hear of its close */
};

/* The state slot of fd, growing the table; NULL when out of memory or past
 * INT_MAX entries (the socket is then handled eagerly, as one not ours). */
static unsigned char *slot(omh_loop *lp, int fd) {
  if (fd < 0) return NULL;
  if (fd >= lp->nsock) {
    /* Doubled in size_t: an int would overflow for numbers past 2^30. */
    size_t n = lp->nsock ? (size_t)lp->nsock : 64;
    while (n <= (size_t)fd) n *= 2;
    if (n > INT_MAX) return NULL;
    unsigned char *p = realloc(lp->sock, n);
    if (!p) return NULL;
    memset(p + lp->nsock, 0, n - (size_t)lp->nsock);
    lp->sock = p;
    unsigned long *o = realloc(lp->sock_owner, n * sizeof *o);
    if (!o) return NULL; /* the states stay, grown: nsock still says how many are valid */
    memset(o + lp->nsock, 0, (n - (size_t)lp->nsock) * sizeof *o);
    lp->sock_owner = o;
    lp->nsock = (int)n;
  }
  return &lp->sock[fd];
}

static void forget(omh_loop *lp, int fd, unsigned char *st) {
  if (*st & SOCK_REG) epoll_ctl(lp->epfd, EPOLL_CTL_DEL, fd, NULL);
  *st = (unsigned char)(*st & SOCK_OURS);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  omh_loop *lp = userp;
  (void)socketp;
  unsigned char scratch = 0, *st = slot(lp, s);
  if (!st) {
    /* No slot: the eager way (add, or modify what is there). */
    st = &scratch;
    if (what != CURL_POLL_REMOVE) scratch = SOCK_REG;
  }
  if (what == CURL_POLL_REMOVE) {
    if (*st & SOCK_OURS)
      *st = (unsigned char)(*st & ~SOCK_WANT); /* stays registered while idle */
    else if (st == &scratch)
      epoll_ctl(lp->epfd, EPOLL_CTL_DEL, s, NULL);
    else
      forget(lp, s, st);
    return 0;
  }
  unsigned char want =
      (unsigned char)(((what & CURL_POLL_IN) ? SOCK_IN : 0) | ((what & CURL_POLL_OUT) ? SOCK_OUT : 0));
  unsigned char had = (unsigned char)(*st & (SOCK_IN | SOCK_OUT));
  if (!(*st & SOCK_REG) || had != want || st == &scratch) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.data.fd = s;
    if (want & SOCK_IN) ev.events |= EPOLLIN;
    if (want & SOCK_OUT) ev.events |= EPOLLOUT;
    int op = (*st & SOCK_REG) && st != &scratch ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(lp->epfd, op, s, &ev) != 0) {
      /* Added already (a slot lost to memory), or gone from the set (closed
       * and reused behind our back): the other verb. */
      if (errno == EEXIST)
        epoll_ctl(lp->epfd, EPOLL_CTL_MOD, s, &ev);
      else if (errno == ENOENT)
        epoll_ctl(lp->epfd, EPOLL_CTL_ADD, s, &ev);
    }
  }
  *st = (unsigned char)((*st & SOCK_OURS) | SOCK_REG | SOCK_WANT | want);
  if (st != &scratch) {
    omh_task *t = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t);
    lp->sock_owner[s] = t ? t->owner : 0;
  }
  return 0;
}

static curl_socket_t on_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
  omh_loop *lp = clientp;
  (void)purpose;
  int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  unsigned char *st = slot(lp, fd);
  if (st) *st = SOCK_OURS; /* a number reused: whatever was there is gone */
  if (st && lp->perform_owner) lp->sock_owner[fd] = lp->perform_owner; /* no socket callback tells */
  return fd;
}

static int on_close(void *clientp, curl_socket_t fd) {
  omh_loop *lp = clientp;
  if (fd >= 0 && fd < lp->nsock) {
    forget(lp, fd, &lp->sock[fd]);
    lp->sock[fd] = 0;
  }
  return close(fd);
}

void omh_loop_sockets_init(omh_loop *lp) {
  curl_multi_setopt(lp->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(lp->multi, CURLMOPT_SOCKETDATA, lp);
}

void omh_loop_sockets_adopt(omh_loop *lp, CURL *e) {
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, lp);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, lp);
  if (lp->share) curl_easy_setopt(e, CURLOPT_SHARE, lp->share);
}

int omh_loop_end_idle(omh_loop *lp, unsigned long owner) {
  int n = 0;
  for (int fd = 0; owner && fd < lp->nsock; fd++) {
    /* Ours and not wanted by curl now: idle in its cache. shutdown, not
     * close: the number stays curl's until it closes it (through us),
     * which it does when it finds the connection dead before any reuse. */
    if ((lp->sock[fd] & (SOCK_OURS | SOCK_WANT)) != SOCK_OURS || lp->sock_owner[fd] != owner) continue;
    forget(lp, fd, &lp->sock[fd]);
    lp->sock_owner[fd] = 0;
    if (shutdown(fd, SHUT_RDWR) == 0) n++;
  }
  return n;
}

int omh_loop_socket_wanted(omh_loop *lp, int fd) {
  if (fd < 0 || fd >= lp->nsock) return 1;
  unsigned char st = lp->sock[fd];
  if (!(st & SOCK_REG) || (st & SOCK_WANT)) return 1; /* curl's, or not known here: curl's */
  /* Idle and registered: the server closed it or sent something unasked.
   * curl looks at an idle connection itself before reusing it. */
  forget(lp, fd, &lp->sock[fd]);
  return 0;
}

void omh_loop_sockets_free(omh_loop *lp) {
  free(lp->sock);
  free(lp->sock_owner);
  lp->sock = NULL;
  lp->sock_owner = NULL;
  lp->nsock = 0;
}
