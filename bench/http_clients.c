/* Baselines for the sequential status-check benchmark (bench/run.py):
 *
 *   http_clients easy  URL N MAXSECS   libcurl easy interface, one handle
 *                                      reused (keep-alive): the ceiling for
 *                                      any libcurl-based client
 *   http_clients easyh URL N MAXSECS UA   the same, with the request headers
 *                                      lua-omnihuman's status check sends:
 *                                      "Authorization: Bearer bench-key" and
 *                                      "User-Agent: UA" (curl formats each
 *                                      custom header anew on every request)
 *   http_clients multi URL N MAXSECS   the same handle driven the way
 *                                      lua-omnihuman's loop drives curl:
 *                                      curl_multi_socket_action + epoll, add/
 *                                      remove per request (diagnostic: the
 *                                      cost of the non-blocking design itself)
 *   http_clients multih URL N MAXSECS UA  multi with easyh's headers
 *   http_clients spawn URL N MAXSECS   one `curl -s URL` process per request,
 *                                      what editor plugins do
 *
 * Stops after N requests or MAXSECS seconds, whichever comes first, and
 * prints "requests wall_s cpu_s bytes": cpu_s is this process's user+system
 * time (getrusage), plus that of its children in spawn mode.
 * Build: cc -O2 bench/http_clients.c -lcurl -o build/bench/http_clients */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(int who) {
  struct rusage ru;
  getrusage(who, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec * 1e-6;
}

/* The answer lands in a small reused buffer, as a real client would keep it. */
static char answer[4096];
static size_t answer_len;
static size_t total_bytes;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  size_t len = size * n;
  (void)ud;
  if (answer_len + len < sizeof answer) {
    memcpy(answer + answer_len, p, len);
    answer_len += len;
  }
  total_bytes += len;
  return len;
}

/* hdrs: NULL, or the list CURLOPT_HTTPHEADER gets (easyh, multih). */
static int run_easy(const char *url, long n, double maxs, struct curl_slist *hdrs) {
  CURL *e = curl_easy_init();
  if (!e) return 1;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  /* Warm-up: connect once, outside the measured window. */
  for (int i = 0; i < 50; i++) {
    answer_len = 0;
    if (curl_easy_perform(e) != CURLE_OK) return 2;
  }
  total_bytes = 0;
  double c0 = cpu_s(RUSAGE_SELF), t0 = now_s(), t = 0;
  long done = 0;
  while (done < n && (t = now_s() - t0) < maxs) {
    answer_len = 0;
    CURLcode rc = curl_easy_perform(e);
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK || code != 200) {
      fprintf(stderr, "easy: request %ld failed: %s (HTTP %ld)\n", done, curl_easy_strerror(rc), code);
      return 3;
    }
    done++;
  }
  t = now_s() - t0;
  double c = cpu_s(RUSAGE_SELF) - c0;
  curl_easy_cleanup(e);
  printf("%ld %.6f %.6f %zu\n", done, t, c, total_bytes);
  return 0;
}

static int epfd = -1;
static double curl_deadline = -1;

static int on_sock(CURL *e, curl_socket_t s, int what, void *u, void *sp) {
  struct epoll_event ev;
  (void)e, (void)u, (void)sp;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, s, NULL);
    return 0;
  }
  memset(&ev, 0, sizeof ev);
  ev.data.fd = s;
  if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
  if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev) != 0) epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev);
  return 0;
}

static int on_timer(CURLM *m, long ms, void *u) {
  (void)m, (void)u;
  curl_deadline = ms < 0 ? -1 : now_s() + ms / 1000.0;
  return 0;
}

static int multi_one(CURLM *m, CURL *e) {
  int running = 1;
  answer_len = 0;
  curl_multi_add_handle(m, e);
  for (;;) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
      if (msg->msg == CURLMSG_DONE) {
        CURLcode rc = msg->data.result;
        if (rc != CURLE_OK) fprintf(stderr, "multi: %s\n", curl_easy_strerror(rc));
        curl_multi_remove_handle(m, e);
        return rc == CURLE_OK ? 0 : 1;
      }
    }
    int ms = 1000;
    if (curl_deadline >= 0) {
      double w = curl_deadline - now_s();
      ms = w <= 0 ? 0 : (int)(w * 1000) + 1;
    }
    struct epoll_event evs[8];
    int n = epoll_wait(epfd, evs, 8, ms);
    for (int i = 0; i < n; i++) {
      int f = 0;
      if (evs[i].events & (EPOLLIN | EPOLLHUP)) f |= CURL_CSELECT_IN;
      if (evs[i].events & EPOLLOUT) f |= CURL_CSELECT_OUT;
      if (evs[i].events & EPOLLERR) f |= CURL_CSELECT_ERR;
      curl_multi_socket_action(m, evs[i].data.fd, f, &running);
    }
    if (curl_deadline >= 0 && curl_deadline <= now_s()) {
      curl_deadline = -1;
      curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
    }
  }
}

static int run_multi(const char *url, long n, double maxs, struct curl_slist *hdrs) {
  CURLM *m = curl_multi_init();
  CURL *e = curl_easy_init();
  epfd = epoll_create1(0);
  curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_sock);
  curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  for (int i = 0; i < 50; i++)
    if (multi_one(m, e)) return 2;
  total_bytes = 0;
  double c0 = cpu_s(RUSAGE_SELF), t0 = now_s(), t = 0;
  long done = 0;
  while (done < n && (t = now_s() - t0) < maxs) {
    if (multi_one(m, e)) {
      fprintf(stderr, "multi: request %ld failed\n", done);
      return 3;
    }
    done++;
  }
  t = now_s() - t0;
  double c = cpu_s(RUSAGE_SELF) - c0;
  curl_easy_cleanup(e);
  curl_multi_cleanup(m);
  printf("%ld %.6f %.6f %zu\n", done, t, c, total_bytes);
  return 0;
}

static int run_spawn(const char *url, long n, double maxs) {
  char *argv[] = {"curl", "-s", "-o", "/dev/null", "--fail", (char *)url, NULL};
  double c0 = cpu_s(RUSAGE_SELF) + cpu_s(RUSAGE_CHILDREN), t0 = now_s(), t = 0;
  long done = 0;
  while (done < n && (t = now_s() - t0) < maxs) {
    pid_t pid;
    int st;
    if (posix_spawnp(&pid, "curl", NULL, NULL, argv, environ) != 0) return 4;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "spawn: curl failed on request %ld\n", done);
      return 5;
    }
    done++;
  }
  t = now_s() - t0;
  double c = cpu_s(RUSAGE_SELF) + cpu_s(RUSAGE_CHILDREN) - c0;
  printf("%ld %.6f %.6f 0\n", done, t, c);
  return 0;
}

/* The headers of lua-omnihuman's status GET, in its order (the key is the
 * one bench/client.lua uses); NULL if out of memory or UA is too long. */
static struct curl_slist *client_headers(const char *ua) {
  char line[512];
  struct curl_slist *l, *r;
  if ((size_t)snprintf(line, sizeof line, "User-Agent: %s", ua) >= sizeof line) return NULL;
  if (!(l = curl_slist_append(NULL, "Authorization: Bearer bench-key"))) return NULL;
  if (!(r = curl_slist_append(l, line))) curl_slist_free_all(l);
  return r;
}

int main(int argc, char **argv) {
  const char *mode = argv[argc > 1 ? 1 : 0];
  int with_headers = strcmp(mode, "easyh") == 0 || strcmp(mode, "multih") == 0;
  if (argc != (with_headers ? 6 : 5)) {
    fprintf(stderr,
            "usage: %s easy|multi|spawn URL N MAXSECS\n"
            "       %s easyh|multih URL N MAXSECS USER_AGENT\n",
            argv[0], argv[0]);
    return 64;
  }
  long n = atol(argv[3]);
  double maxs = atof(argv[4]);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  struct curl_slist *hdrs = with_headers ? client_headers(argv[5]) : NULL;
  int rc = with_headers && !hdrs                                       ? 1
           : strcmp(mode, "easy") == 0 || strcmp(mode, "easyh") == 0   ? run_easy(argv[2], n, maxs, hdrs)
           : strcmp(mode, "multi") == 0 || strcmp(mode, "multih") == 0 ? run_multi(argv[2], n, maxs, hdrs)
           : strcmp(mode, "spawn") == 0                                ? run_spawn(argv[2], n, maxs)
                                                                       : 64;
  curl_slist_free_all(hdrs);
  curl_global_cleanup();
  return rc;
}
