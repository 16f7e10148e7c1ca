/* Setting up one HTTP exchange for an operation: the curl options that
 * carry our security rules (who gets the key, redirects, TLS) live here. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "body.h"
#include "clock.h"
#include "op.h"
#include "redact.h"
#include "retry_after.h"

/* API answers are small JSON documents; anything bigger is broken or hostile. */
#define OMH_MAX_ANSWER (1024 * 1024)

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  omh_op *op = ud;
  size_t len = size * n;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    /* A new response (after a redirect or 100-continue): forget the last one's. */
    op->x.retry_after = -1;
    op->x.s->request_id[0] = '\0';
    return len;
  }
  const char *colon = memchr(p, ':', len);
  if (!colon) return len;
  size_t name = (size_t)(colon - p);
  const char *v = colon + 1;
  size_t vlen = len - name - 1;
  while (vlen && (*v == ' ' || *v == '\t')) v++, vlen--;
  while (vlen && isspace((unsigned char)v[vlen - 1])) vlen--;
  if (name == 11 && strncasecmp(p, "retry-after", 11) == 0) {
    op->x.retry_after = omh_retry_after_parse(v, vlen, time(NULL));
  } else if ((name == 12 && strncasecmp(p, "x-request-id", 12) == 0) ||
             (name == 9 && strncasecmp(p, "requestid", 9) == 0)) {
    /* Redacted before it is cut: a server may echo the key here. */
    omh_redact_copy(op->cfg ? op->cfg->api_key : NULL, v, vlen, op->x.s->request_id,
                    sizeof op->x.s->request_id);
  }
  return len;
}

static size_t on_answer(char *p, size_t size, size_t n, void *ud) {
  omh_op *op = ud;
  size_t len = size * n;
  if (omh_buf_append(&op->x.body, p, len, OMH_MAX_ANSWER) != 0) {
    op->x.write_failed = 1;
    return 0;   /* makes curl stop with CURLE_WRITE_ERROR */
  }
  return len;
}

static size_t on_file_data(char *p, size_t size, size_t n, void *ud) {
  omh_op *op = ud;
  size_t len = size * n, off = 0;
  if (op->x.total == -1) {
    curl_off_t cl = -1;
    long code = 0;
    curl_easy_getinfo(op->x.easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 300) return len; /* an error page: counted nowhere, judged at the end */
    curl_easy_getinfo(op->x.easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    op->x.total = cl >= 0 ? cl : -2; /* -2: unknown but looked up */
  } else {
    long code = 0;
    curl_easy_getinfo(op->x.easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 300) return len;
  }
  /* An endless or absurd body must not fill the disk. */
  if (op->x.total > op->max_bytes || op->x.got + (curl_off_t)len > op->max_bytes) {
    op->x.write_failed = 3;
    return 0;
  }
  while (off < len) {
    ssize_t w = write(op->x.fd, p + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      op->x.write_failed = 2;
      return 0;
    }
    off += (size_t)w;
  }
  op->x.got += (curl_off_t)len;
  omh_op_queue_notify(op);
  return len;
}

static void set_common(omh_op *op, CURL *e) {
  const omh_config *c = op->cfg;
  curl_easy_setopt(e, CURLOPT_URL, op->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)op);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op->x.s->error);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, op);
  /* Rounded up: a sub-millisecond timeout must not become 0, "no timeout". */
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)ceil(c->connect_timeout * 1000));
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  /* Waiting to multiplex only pays where HTTP/2 can happen (TLS + ALPN); on
   * plain HTTP/1.1 it holds every new transfer until the first answers. */
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, strncmp(op->url, "https://", 8) == 0 ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  /* ca_file adds a trust anchor: the system CA directory stays in force. */
  if (c->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
  if (c->proxy) curl_easy_setopt(e, CURLOPT_PROXY, c->proxy);
  curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent ? c->user_agent : "lua-omnihuman/0.1");
}

unsigned long omh_xfer_profile(const omh_op *op) {
  if (!op->cfg || op->kind == OMH_OP_DOWNLOAD) return 0;
  return op->cfg->serial * 4 + (op->body ? 2 : 1);
}

/* The create body is read from its files while curl sends it: exact
 * length up front, rewound (and the files re-checked) for every attempt. */
static void set_body(omh_op *op, CURL *e) {
  curl_easy_setopt(e, CURLOPT_READDATA, op->body);
  curl_easy_setopt(e, CURLOPT_SEEKDATA, op->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)omh_body_length(op->body));
}

/* What differs between two requests of one profile. */
static void set_per_request(omh_op *op, CURL *e) {
  curl_easy_setopt(e, CURLOPT_URL, op->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)op);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op->x.s->error);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, op);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
  if (op->body) set_body(op, e);
}

void omh_xfer_setup(omh_op *op, CURL *e, int same) {
  omh_xfer *x = &op->x;
  x->code = CURLE_OK;
  x->status = 0;
  x->sent = 0;
  x->retry_after = -1;
  x->s->request_id[0] = '\0';
  x->s->error[0] = '\0';
  x->write_failed = 0;
  x->got = x->reported = 0;
  x->total = -1;
  omh_buf_reset(&x->body);
  x->easy = e;
  if (op->body) omh_body_rewind(op->body);
  if (same) {
    set_per_request(op, e);
    return;
  }
  set_common(op, e);
  if (op->kind == OMH_OP_DOWNLOAD) {
    /* The result host gets no credentials at all, wherever it redirects. */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_file_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
    /* Videos can be large: no total cap, but a stalled transfer ends. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(op->cfg->timeout > 1 ? op->cfg->timeout : 1));
    return;
  }
  /* API requests carry the key, so they never follow a redirect anywhere. */
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, op->cfg->api_headers[op->body != NULL]);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)ceil(op->cfg->timeout * 1000));
  if (op->body) {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, omh_body_curl_read);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, omh_body_curl_seek);
    /* Fewer, larger sends than with curl's 64 KiB: less CPU per MB, for
     * 256 KiB per create in flight (none for one that waits). */
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 262144L);
    set_body(op, e);
    /* A billed request goes on a connection of its own: curl silently
     * re-sends a request whose reused connection died unanswered, and the
     * server may have accepted it. */
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  }
}
