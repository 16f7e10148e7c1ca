#ifndef OMH_TRANSFER_H
#define OMH_TRANSFER_H
#include "op.h"
/* Resets op->x and sets every option of easy handle e for op's request. */
void omh_xfer_setup(omh_op *op, CURL *e);
#endif
