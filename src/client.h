/* The client userdata: a config on a loop, and the methods that start
 * operations (create_op, poll_op, wait_op, download_op). */
#ifndef OMH_CLIENT_H
#define OMH_CLIENT_H

#include "compat.h"

int omh_client_open(lua_State *L); /* registers the client type */
int omh_client_new(lua_State *L);  /* core.new_client(loop, opts) */

#endif
