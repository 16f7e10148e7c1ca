#include "transfer.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "redact.h"
#include "retry_after.h"

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  omh_xfer *x = ud;
  omh_xres *r = x->r;
  size_t len = size * n;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    /* A new response (after a redirect or 100-continue): forget the last one's. */
    r->retry_after = -1;
    r->request_id[0] = '\0';
    return len;
  }
  const char *colon = memchr(p, ':', len);
  if (!colon) return len;
  size_t name = (size_t)(colon - p);
  int retry_after = name == 11 && strncasecmp(p, "retry-after", 11) == 0;
  if (!retry_after && !(name == 12 && strncasecmp(p, "x-request-id", 12) == 0) &&
      !(name == 9 && strncasecmp(p, "requestid", 9) == 0))
    return len; /* the other headers of every answer: looked at no further */
  const char *v = colon + 1;
  size_t vlen = len - name - 1;
  while (vlen && (*v == ' ' || *v == '\t')) v++, vlen--;
  while (vlen && isspace((unsigned char)v[vlen - 1])) vlen--;
  if (retry_after)
    r->retry_after = omh_retry_after_parse(v, vlen, time(NULL));
  else /* redacted before it is cut: a server may echo the key here */
    omh_redact_copy(omh_config_key(x->cfg), v, vlen, r->request_id, sizeof r->request_id);
  return len;
}

static size_t on_answer(char *p, size_t size, size_t n, void *ud) {
  omh_xres *r = ((omh_xfer *)ud)->r;
  size_t len = size * n;
  if (omh_buf_append(&r->answer, p, len, OMH_MAX_ANSWER) != 0) {
    r->write_failed = OMH_WRITE_ANSWER_TOO_BIG;
    return 0; /* makes curl stop with CURLE_WRITE_ERROR */
  }
  return len;
}

static size_t on_file_data(char *p, size_t size, size_t n, void *ud) {
  omh_xfer *x = ud;
  omh_xres *r = x->r;
  size_t len = size * n, off = 0;
  long code = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 300) return len; /* an error page: counted nowhere, judged at the end */
  if (r->total == -1) {
    curl_off_t cl = -1;
    curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    r->total = cl >= 0 ? cl : -2; /* -2: unknown but looked up */
  }
  /* An endless or absurd body must not fill the disk. */
  if (r->total > x->max_bytes || r->got + (curl_off_t)len > x->max_bytes) {
    r->write_failed = OMH_WRITE_OVER_MAX;
    return 0;
  }
  while (off < len) {
    ssize_t w = write(x->fd, p + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      r->write_failed = OMH_WRITE_DISK;
      return 0;
    }
    off += (size_t)w;
  }
  r->got += (curl_off_t)len;
  if (x->on_progress) x->on_progress(x->progress_ud);
  return len;
}

/* The body, within the turn's budget: a read that finds it spent pauses
 * the upload (curl asks again once it is resumed), a read that would go
 * past it gets what is left. */
static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  omh_xfer *x = ud;
  omh_upload_budget *b = x->budget;
  size_t want = size * n;
  if (b && b->per_turn) {
    if (b->left == 0 || (b->left < b->per_turn && b->until > 0 && omh_now() >= b->until)) {
      b->paused(b->ud, x->r->easy);
      return CURL_READFUNC_PAUSE;
    }
    if (want > b->left) want = b->left;
  }
  size_t got = omh_body_curl_read(p, 1, want, x->body);
  if (b && b->per_turn && got <= want) b->left -= got;
  return got;
}

size_t omh_xfer_feed_header(omh_xfer *x, char *p, size_t n) { return on_header(p, 1, n, x); }

size_t omh_xfer_feed_answer(omh_xfer *x, char *p, size_t n) { return on_answer(p, 1, n, x); }

void omh_xfer_feed_end(omh_xfer *x, CURLcode code, long status, int sent) {
  x->r->code = code;
  x->r->status = status;
  x->r->sent = sent;
  x->r->easy = NULL;
}

void omh_xfer_init(omh_xfer *x, omh_xfer_kind kind, const omh_config *cfg) {
  memset(x, 0, sizeof *x);
  x->kind = kind;
  x->cfg = cfg;
  x->fd = -1;
}

unsigned long omh_xfer_profile(const omh_xfer *x) {
  if (x->kind == OMH_XFER_DOWNLOAD) return 0;
  return x->cfg->serial * 4 + (x->kind == OMH_XFER_API_POST ? 2 : 1);
}

static void set_common(omh_xfer *x, CURL *e) {
  const omh_config *c = x->cfg;
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  /* Rounded up: a sub-millisecond timeout must not become 0, "no timeout". */
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)ceil(c->connect_timeout * 1000));
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  /* Waiting to multiplex only pays where HTTP/2 can happen (TLS + ALPN); on
   * plain HTTP/1.1 it holds every new transfer until the first answers. */
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, strncmp(x->url, "https://", 8) == 0 ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  /* ca_file adds a trust anchor: the system CA directory stays in force. */
  if (c->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
  if (c->proxy) {
    curl_easy_setopt(e, CURLOPT_PROXY, c->proxy);
  } else if (!c->env_proxy) {
    /* No proxy variable was set when the client was made: saying "none"
     * spares curl looking five of them up in the environment per request. */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  }
}

/* The create body is read from its files while curl sends it: exact
 * length up front, rewound (and the files re-checked) for every attempt. */
static void set_body(omh_xfer *x, CURL *e) {
  uint64_t len = omh_body_length(x->body);
  curl_easy_setopt(e, CURLOPT_READDATA, x);
  curl_easy_setopt(e, CURLOPT_SEEKDATA, x->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  /* A body of files: fewer, larger sends than with curl's 64 KiB, less CPU
   * per MB, for 256 KiB per create in flight. A body of fields and URLs:
   * curl's smallest. A 256 KiB buffer per create comes from the heap once
   * glibc's mmap threshold has risen to it, and the holes it leaves behind
   * are split by smaller blocks: RSS crept ~1.5 MB over 20,000 creates. */
  curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, len > 262144 ? 262144L : 16384L);
}

/* What differs between two requests of one profile. */
static void set_per_request(omh_xfer *x, CURL *e) {
  curl_easy_setopt(e, CURLOPT_URL, x->url);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->r->error);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  if (x->kind == OMH_XFER_API_POST) set_body(x, e);
}

static void set_download(omh_xfer *x, CURL *e) {
  const char *ua = x->cfg->user_agent;
  curl_easy_setopt(e, CURLOPT_USERAGENT, ua ? ua : OMH_DEFAULT_USER_AGENT);
  /* The result host gets no credentials at all, wherever it redirects. */
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_file_data);
  /* Videos can be large: no total cap, but a stalled transfer ends. */
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(x->cfg->timeout > 1 ? x->cfg->timeout : 1));
}

static void set_api(omh_xfer *x, CURL *e) {
  int post = x->kind == OMH_XFER_API_POST;
  /* API requests carry the key, so they never follow a redirect anywhere. */
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->cfg->api_headers[post]);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)ceil(x->cfg->timeout * 1000));
  if (!post) return;
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_READFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, omh_body_curl_seek);
  /* A billed request goes on a connection of its own: curl silently
   * re-sends a request whose reused connection died unanswered, and the
   * server may have accepted it. */
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
}

int omh_xfer_setup(omh_xfer *x, CURL *e, int same) {
  if (!x->r && !(x->r = calloc(1, sizeof *x->r))) return -1;
  omh_xres *r = x->r;
  r->code = CURLE_OK;
  r->status = 0;
  r->sent = 0;
  r->retry_after = -1;
  r->request_id[0] = '\0';
  r->error[0] = '\0';
  r->write_failed = OMH_WRITE_OK;
  r->got = r->reported = 0;
  r->total = -1;
  omh_buf_reset(&r->answer);
  r->easy = e;
  if (x->body) omh_body_rewind(x->body);
  if (!same) {
    set_common(x, e);
    if (x->kind == OMH_XFER_DOWNLOAD)
      set_download(x, e);
    else
      set_api(x, e);
  }
  set_per_request(x, e);
  return 0;
}

void omh_xfer_collect(omh_xfer *x, CURL *e, CURLcode code) {
  long status = 0, reqsize = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &reqsize);
  omh_xfer_feed_end(x, code, status, reqsize > 0);
}

int omh_xfer_progress(omh_xfer *x, curl_off_t *got, curl_off_t *total) {
  omh_xres *r = x->r;
  /* A report queued by the last bytes may come after the results went. */
  if (!r || r->got == r->reported) return 0;
  r->reported = *got = r->got;
  *total = r->total;
  return 1;
}

void omh_xfer_settle(omh_xfer *x) {
  if (x->r && !x->r->easy) omh_xfer_free(x);
}

void omh_xfer_free(omh_xfer *x) {
  if (!x->r) return;
  omh_buf_free(&x->r->answer);
  free(x->r);
  x->r = NULL;
}
