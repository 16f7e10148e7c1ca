/* File-system helpers for journals written from Lua and the batch's
 * pre-flight (the io library can flush but not fsync, lock, resolve a
 * canonical path, create folders or append all-or-nothing): core.fsync,
 * core.fsync_dir, core.flock, core.append, core.realpath, core.stat,
 * core.writable, core.mkdir_p, and core.check_input (the create's own
 * check of a local input file, made before anything is sent). */
#ifndef OMH_FSUTIL_H
#define OMH_FSUTIL_H

#include "compat.h"

/* Sets the helpers on the table on top of the stack. */
void omh_fsutil_open(lua_State *L);

#endif
