/* Judging one finished HTTP exchange with the API: success, or an error
 * kind plus whether a read (poll) or a billed create may be retried. */
#ifndef OMH_OUTCOME_H
#define OMH_OUTCOME_H

#include "op.h"

typedef struct omh_outcome {
  int ok;                 /* 2xx */
  const char *kind;
  long status;
  int retry_read;         /* transient: a status check or download may go again */
  int retry_create;       /* the service cannot have accepted it */
  double retry_after;
  char request_id[96];
  char message[512];
} omh_outcome;

/* Fills o from op->x; reads the JSON error body (message, requestId) when there is one. */
void omh_outcome_judge(omh_op *op, lua_State *L, omh_outcome *o);
/* Finishes op with o as its error; `note` is appended to the message. */
void omh_outcome_fail(omh_op *op, lua_State *L, const omh_outcome *o, const char *note);

#endif
