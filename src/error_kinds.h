/* Every kind of error object (err.kind), declared once. From this table
 * come core.error_kinds (errors.c) and, through tools/gen_docs.lua (make
 * docs-gen), the kinds of docs/api.md, doc/omnihuman.txt and the LuaCATS
 * alias omnihuman.ErrorKind (lua/omnihuman/core_meta.lua). A kind written
 * anywhere in src/ or lua/ that is not here fails make docs-check.
 *
 * X(kind, one line of documentation) */
#ifndef OMH_ERROR_KINDS_H
#define OMH_ERROR_KINDS_H

/* clang-format off */
#define OMH_ERROR_KINDS(X) \
  X(invalid_input, "the request was refused as invalid (HTTP 400/413/415/422) or an input file is unusable") \
  X(auth, "the key is missing or wrong (401)") \
  X(forbidden, "no credits or no access (402/403)") \
  X(not_found, "no such job (404/410)") \
  X(rate_limited, "429 after the retries") \
  X(server, "5xx after the retries") \
  X(network, "connection failures after the retries") \
  X(timeout, "a request or a whole wait ran out of time") \
  X(protocol, "an answer that could not be understood") \
  X(generation_failed, "the job ended in failure (err.result is its final status)") \
  X(cancelled, "op:cancel(), op:close() or loop:close()") \
  X(io, "a local file could not be read or written") \
  X(duplicate, "a client with a ledger: the same request to the same output is already recorded (err.existing)")
/* clang-format on */

#endif
