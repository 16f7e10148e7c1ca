/* One HTTP exchange: the curl options that carry our security rules (who
 * gets the key, redirects, TLS) and what curl's callbacks gather while the
 * answer comes in, kept apart so that an exchange between two requests is
 * only what to send. Knows nothing of operations or of the loop. */
#ifndef OMH_TRANSFER_H
#define OMH_TRANSFER_H

#include <curl/curl.h>

#include "body.h"
#include "buf.h"
#include "config.h"

/* API answers are small JSON documents; anything bigger is broken or hostile. */
#define OMH_MAX_ANSWER (1024 * 1024)

typedef enum {
  OMH_XFER_API_GET,  /* carries the key, never redirected */
  OMH_XFER_API_POST, /* the same, with a streamed body, on a fresh connection */
  OMH_XFER_DOWNLOAD  /* no credentials, follows redirects, into a file */
} omh_xfer_kind;

/* Why a write callback stopped the transfer. */
typedef enum {
  OMH_WRITE_OK = 0,
  OMH_WRITE_ANSWER_TOO_BIG, /* an API answer over OMH_MAX_ANSWER */
  OMH_WRITE_DISK,           /* the download's file could not take it */
  OMH_WRITE_OVER_MAX        /* the download went past max_bytes */
} omh_write_failure;

/* What one request brought back. It exists only while the request is in
 * flight or being judged (setup makes it, settle frees it): 10,000 jobs
 * sleeping between polls carry none of it. Read through omh_outcome_judge
 * and omh_xfer_progress, which know when it exists. */
typedef struct omh_xres {
  CURL *easy;            /* while in flight */
  omh_buf answer;        /* API answers only (capped) */
  curl_off_t got, total; /* download progress; total < 0 unknown */
  curl_off_t reported;   /* got at the last progress report */
  double retry_after;    /* seconds, < 0 when absent */
  long status;
  CURLcode code;
  omh_write_failure write_failed;
  int sent; /* request bytes left this process */
  char request_id[96];
  char error[CURL_ERROR_SIZE];
} omh_xres;

/* Body bytes the uploads of one loop may read in one turn of it, so that a
 * turn (a game's frame) encodes and sends a bounded amount however many
 * creates are in flight. A read that finds the turn's bytes spent, or its
 * time past `until` once some bytes were read, pauses its transfer and
 * calls `paused`; the owner resumes paused ones and refills `left` for the
 * next turn. */
typedef struct omh_upload_budget {
  size_t per_turn; /* 0: no bound (and no time bound either) */
  size_t left;
  double until;                      /* omh_now() past which the turn's time is spent; 0: none */
  void (*paused)(void *ud, CURL *e); /* from curl's read callback */
  void *ud;
} omh_upload_budget;

/* What to send, set by the owner before setup, and the results of the
 * request in flight (NULL between requests). */
typedef struct omh_xfer {
  omh_xfer_kind kind;
  int fd; /* DOWNLOAD: the sink, -1 otherwise */
  const omh_config *cfg;
  const char *url;
  omh_body *body;                /* API_POST */
  omh_upload_budget *budget;     /* API_POST: shared with the loop's other uploads, or NULL */
  curl_off_t max_bytes;          /* DOWNLOAD: a larger body is refused */
  void (*on_progress)(void *ud); /* DOWNLOAD: bytes arrived (called from curl) */
  void *progress_ud;
  omh_xres *r;
} omh_xfer;

void omh_xfer_init(omh_xfer *x, omh_xfer_kind kind, const omh_config *cfg);
/* Which setups are interchangeable: same client, same kind of API request.
 * 0 (downloads) never matches. */
unsigned long omh_xfer_profile(const omh_xfer *x);
/* Makes (or, for a request started while the last is judged, resets) the
 * results and sets the options of e for the request; with `same`, e is
 * already set up for this profile: only per-request ones. Returns 0, or -1
 * when out of memory. */
int omh_xfer_setup(omh_xfer *x, CURL *e, int same);
/* The transfer ended with `code`: reads what curl knows of it. */
void omh_xfer_collect(omh_xfer *x, CURL *e, CURLcode code);
/* Download progress: 1 with the bytes so far and the total (< 0 unknown)
 * when bytes arrived since the last call; 0 when none did or no request
 * is in flight or being judged. */
int omh_xfer_progress(omh_xfer *x, curl_off_t *got, curl_off_t *total);
/* The answer is judged: a job sleeping between polls keeps no results,
 * unless a new request already started. */
void omh_xfer_settle(omh_xfer *x);
/* What curl's header and API-answer callbacks do with one call's bytes:
 * for a harness that feeds answers without a network (fuzz/answer_fuzz.c).
 * Return what curl would (n, or 0 to stop the transfer). */
size_t omh_xfer_feed_header(omh_xfer *x, char *p, size_t n);
size_t omh_xfer_feed_answer(omh_xfer *x, char *p, size_t n);
/* ... and how the transfer ended, as omh_xfer_collect notes it. */
void omh_xfer_feed_end(omh_xfer *x, CURLcode code, long status, int sent);
/* Stops caring for the request (it was taken from curl): frees the results,
 * but not the file descriptor and the body (their owner's). Idempotent. */
void omh_xfer_free(omh_xfer *x);

#endif
