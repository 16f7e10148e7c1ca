/* The kinds of operation and how each begins. */
#ifndef OMH_OPS_H
#define OMH_OPS_H

#include "op.h"

extern const omh_op_class omh_create_class, omh_poll_class, omh_wait_class, omh_download_class,
    omh_sleep_class;

char *omh_status_url(const char *base, const char *id);   /* malloc'd */
void omh_wait_begin(omh_op *op, lua_State *L, double interval, double timeout);
/* Opens the temporary file beside target; 0, or -1 with errno set. */
int omh_download_begin(omh_op *op, lua_State *L);

#endif
