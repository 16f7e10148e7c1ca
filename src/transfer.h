#ifndef OMH_TRANSFER_H
#define OMH_TRANSFER_H
#include "op.h"
/* Resets op->x and sets the options of easy handle e for op's request;
 * with `same`, e is already set up for this profile: only per-request ones. */
void omh_xfer_setup(omh_op *op, CURL *e, int same);
/* Which setups are interchangeable: same client, same kind of API request.
 * 0 (downloads, no client) never matches. */
unsigned long omh_xfer_profile(const omh_op *op);
#endif
