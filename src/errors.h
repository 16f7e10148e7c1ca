/* Error objects: tables with kind, message, status, request_id,
 * retryable, and a __tostring that reads "omnihuman: <kind>: <message>". */
#ifndef OMH_ERRORS_H
#define OMH_ERRORS_H

#include "compat.h"

#define OMH_ERROR_MT "omnihuman.error"

int omh_errors_open(lua_State *L);
/* Pushes a new error object. status <= 0 and request_id NULL/"" are left out. */
void omh_push_error(lua_State *L, const char *kind, const char *message, long status, const char *request_id,
                    int retryable);
/* Pushes core.error_kinds: the list of error_kinds.h, in its order. */
void omh_error_kinds_push(lua_State *L);
/* The kind for an HTTP status that is an error (>= 400, or unexpected 3xx). */
const char *omh_kind_for_status(long status);

#endif
