/* Judging one finished HTTP exchange: success, or an error kind plus
 * whether a read (poll, download) or a billed create may be retried. */
#ifndef OMH_OUTCOME_H
#define OMH_OUTCOME_H

#include "compat.h"
#include "transfer.h"

typedef struct omh_outcome {
  int ok; /* 2xx */
  const char *kind;
  long status;
  int retry_read;   /* transient: a status check or download may go again */
  int retry_create; /* the service cannot have accepted it */
  double retry_after;
  char request_id[96];
  char message[512];
} omh_outcome;

/* Fills o from x; reads the service's JSON error body (message, requestId)
 * with the cjson instance at registry ref json_ref. */
void omh_outcome_judge(const omh_xfer *x, lua_State *L, int json_ref, omh_outcome *o);

#endif
