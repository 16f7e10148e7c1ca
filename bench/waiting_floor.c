/* The floor of the waiting benchmark (bench/waiting.py): N jobs, each an
 * easy handle with lua-omnihuman's two request headers, checked every
 * INTERVAL s for WINDOW s through one multi handle (curl_multi_poll), due
 * checks admitted in FIFO order with at most 16 in curl at once (as
 * lua-omnihuman's admission queue does with its default 8 connections).
 *
 *   waiting_floor URL N INTERVAL WINDOW USER_AGENT
 *
 * Prints key=value lines: jobs, checks, wall, cpu (user+system, getrusage),
 * rss0_kb (VmRSS before the jobs exist), hwm_kb (VmHWM at the end).
 * Build: cc -O2 bench/waiting_floor.c -lcurl -o build/bench/waiting_floor */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec * 1e-6;
}

static long status_kb(const char *field) {
  char line[256];
  long v = -1;
  size_t fl = strlen(field);
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, fl) == 0 && line[fl] == ':') v = atol(line + fl + 1);
  fclose(f);
  return v;
}

typedef struct job {
  CURL *e;
  double due;
  size_t got;
  char answer[256]; /* the status answer is ~60 bytes: kept, as a client would */
} job;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  job *j = ud;
  size_t len = size * n, room = sizeof j->answer - 1 - j->got;
  memcpy(j->answer + j->got, p, len < room ? len : room);
  j->got += len < room ? len : room;
  return len;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s URL N INTERVAL WINDOW USER_AGENT\n", argv[0]);
    return 64;
  }
  long n = atol(argv[2]);
  double interval = atof(argv[3]), window = atof(argv[4]);
  char ua[512];
  if (n < 1 || (size_t)snprintf(ua, sizeof ua, "User-Agent: %s", argv[5]) >= sizeof ua) return 64;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  struct curl_slist *hdrs = curl_slist_append(curl_slist_append(NULL, "Authorization: Bearer bench-key"), ua);
  long rss0 = status_kb("VmRSS");
  double t0 = now_s(), c0 = cpu_s(), end = t0 + window;
  CURLM *m = curl_multi_init();
  job *jobs = calloc((size_t)n, sizeof *jobs);
  job **fifo = calloc((size_t)n, sizeof *fifo); /* a ring: every job is queued or in curl */
  if (!m || !hdrs || !jobs || !fifo) return 1;
  for (long i = 0; i < n; i++) {
    job *j = &jobs[i];
    j->e = curl_easy_init();
    curl_easy_setopt(j->e, CURLOPT_URL, argv[1]);
    curl_easy_setopt(j->e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(j->e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(j->e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(j->e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(j->e, CURLOPT_NOSIGNAL, 1L);
    j->due = t0;
    fifo[i] = j;
  }
  long head = 0, queued = n, inflight = 0, checks = 0;
  for (;;) {
    double now = now_s();
    if (now >= end && inflight == 0) break;
    while (queued > 0 && inflight < 16 && fifo[head]->due <= now && now < end) {
      job *j = fifo[head];
      head = (head + 1) % n, queued--;
      j->got = 0;
      curl_multi_add_handle(m, j->e);
      inflight++;
    }
    int running;
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      job *j;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
      if (msg->data.result != CURLE_OK) {
        fprintf(stderr, "waiting_floor: %s\n", curl_easy_strerror(msg->data.result));
        return 2;
      }
      curl_multi_remove_handle(m, j->e);
      inflight--, checks++;
      j->due = now_s() + interval;
      fifo[(head + queued) % n] = j;
      queued++;
    }
    double next = queued > 0 ? fifo[head]->due : end;
    int ms = inflight > 0 ? 100 : (int)((next - now_s()) * 1000) + 1;
    if (ms > 1000) ms = 1000;
    curl_multi_poll(m, NULL, 0, ms < 0 ? 0 : ms, NULL);
  }
  double wall = now_s() - t0, cpu = cpu_s() - c0;
  long hwm = status_kb("VmHWM");
  printf("jobs=%ld\nchecks=%ld\nwall=%.6f\ncpu=%.6f\nrss0_kb=%ld\nhwm_kb=%ld\n", n, checks, wall, cpu, rss0,
         hwm);
  for (long i = 0; i < n; i++) curl_easy_cleanup(jobs[i].e);
  curl_multi_cleanup(m);
  curl_slist_free_all(hdrs);
  free(jobs);
  free(fifo);
  curl_global_cleanup();
  return 0;
}
