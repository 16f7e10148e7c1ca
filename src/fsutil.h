/* Durability helpers for journals written from Lua (the io library can
 * flush but not fsync): core.fsync, core.fsync_dir and their kin. */
#ifndef OMH_FSUTIL_H
#define OMH_FSUTIL_H

#include "compat.h"

/* Sets the helpers on the table on top of the stack. */
void omh_fsutil_open(lua_State *L);

#endif
