/* Test hooks: the pure C parts (base64, media, Retry-After, redaction,
 * bodies) as underscore fields of the core module, for specs and benches.
 * Only in a test build: compiled with OMH_TEST_HOOKS (the Makefile's
 * builds); a build without it (the rockspec's) has none of them. */
#ifndef OMH_TEST_HOOKS_H
#define OMH_TEST_HOOKS_H

#include "compat.h"

/* Sets the hooks on the table on top of the stack (a test build only). */
void omh_test_hooks_open(lua_State *L);

#endif
