/* Judging one finished HTTP exchange: success, or an error kind plus
 * whether a read (poll, download) or a billed create may be retried. */
#ifndef OMH_OUTCOME_H
#define OMH_OUTCOME_H

#include "compat.h"
#include "transfer.h"

typedef struct omh_outcome {
  int ok; /* 2xx, and a download as long as it said it would be */
  const char *kind;
  long status;
  int retry_read;   /* transient: a status check or download may go again */
  int retry_create; /* the service cannot have accepted it */
  double retry_after;
  CURLcode code;
  int sent;              /* request bytes left this process */
  const omh_buf *answer; /* an API answer: read it before calling into Lua */
  char request_id[96];
  char message[512];
} omh_outcome;

/* Fills o from the results of x's request, which exist from setup until
 * settle: call it only from an op's on_done. Reads the service's JSON
 * error body (message, requestId) with the state's cjson instance. */
void omh_outcome_judge(const omh_xfer *x, lua_State *L, omh_outcome *o);

#endif
