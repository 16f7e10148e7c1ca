/* Every option of omnihuman.new, declared once. From this table come the
 * checks made when a client is made (config.c), core.options (options.c),
 * and, through tools/gen_docs.lua (make docs-gen), the option tables of
 * docs/api.md and doc/omnihuman.txt and the LuaCATS fields of
 * lua/omnihuman/types_meta.lua. Adding an option: one row here, a field in
 * omh_config (config.h) when its type is read in C, then make docs-gen.
 *
 * X(name, TYPE, field, default number, default string, environment
 *   variable, min, max, default as documented (NULL: the default itself),
 *   one line of documentation)
 *
 * TYPE: STRING (checked like a header: no CR, LF or NUL), NUMBER, WHOLE (a
 * whole number), BOOLEAN, FUNCTION (kept as a registry reference). Numbers
 * outside [min, max], NaN and infinities raise; so does any name not here. */
#ifndef OMH_OPTIONS_TABLE_H
#define OMH_OPTIONS_TABLE_H

#include "model_limits.h"

/* Documented ranges of the numeric options (seconds, counts, bytes). */
#define OMH_MIN_TIMEOUT 0.001
#define OMH_MAX_TIMEOUT 86400.0
#define OMH_MAX_INTERVAL 86400.0
#define OMH_MAX_WAIT 31536000.0
#define OMH_MAX_RETRIES 100
#define OMH_MAX_CONNECTIONS 1024
#define OMH_MAX_BYTES 9007199254740992.0 /* 2^53: exact in every Lua's numbers */

#define OMH_DEFAULT_BASE_URL "https://api.aimlapi.com/v2"
#define OMH_DEFAULT_MODEL "bytedance/omnihuman"
#define OMH_DEFAULT_USER_AGENT "lua-omnihuman/0.1"

/* clang-format off */
#define OMH_CLIENT_OPTIONS(X) \
  X(api_key, STRING, api_key, 0, NULL, "AIMLAPI_KEY", 0, 0, NULL, \
    "the API key, sent to the API's host only (none: the first request fails)") \
  X(base_url, STRING, base_url, 0, OMH_DEFAULT_BASE_URL, "OMNIHUMAN_BASE_URL", 0, 0, NULL, \
    "the API's base URL: http://... or https://...") \
  X(model, STRING, model, 0, OMH_DEFAULT_MODEL, NULL, 0, 0, NULL, \
    "the model of creates that name none: any id of omnihuman.models()") \
  X(ca_file, STRING, ca_file, 0, NULL, NULL, 0, 0, NULL, \
    "a PEM file of extra trust anchors (verification is never turned off)") \
  X(proxy, STRING, proxy, 0, NULL, NULL, 0, 0, NULL, \
    "a proxy URL; without it, the proxy variables libcurl reads, as set when the client is made") \
  X(user_agent, STRING, user_agent, 0, OMH_DEFAULT_USER_AGENT, NULL, 0, 0, NULL, \
    "the User-Agent header of every request") \
  X(timeout, NUMBER, timeout, 60, NULL, NULL, OMH_MIN_TIMEOUT, OMH_MAX_TIMEOUT, NULL, \
    "seconds for one HTTP request") \
  X(connect_timeout, NUMBER, connect_timeout, 10, NULL, NULL, OMH_MIN_TIMEOUT, OMH_MAX_TIMEOUT, NULL, \
    "seconds to connect") \
  X(poll_interval, NUMBER, poll_interval, 10, NULL, NULL, 0, OMH_MAX_INTERVAL, NULL, \
    "seconds between status checks") \
  X(wait_timeout, NUMBER, wait_timeout, 900, NULL, NULL, 0, OMH_MAX_WAIT, NULL, \
    "seconds for a whole wait") \
  X(max_retries, WHOLE, max_retries, 3, NULL, NULL, 0, OMH_MAX_RETRIES, NULL, \
    "transient failures retried in a row") \
  X(max_connections, WHOLE, max_connections, 8, NULL, NULL, 1, OMH_MAX_CONNECTIONS, NULL, \
    "requests of this client in flight at once, per kind of host") \
  X(max_audio_seconds, NUMBER, max_audio_seconds, 0, NULL, NULL, OMH_MIN_AUDIO_LIMIT, OMH_MAX_AUDIO_LIMIT, \
    "the model's limit", "local audio must be shorter than this") \
  X(allow_unmeasured_audio, BOOLEAN, allow_unmeasured_audio, 0, NULL, NULL, 0, 0, "false", \
    "send local audio whose duration cannot be read") \
  X(on_event, FUNCTION, on_event_ref, 0, NULL, NULL, 0, 0, NULL, \
    "gets every event: request, retry, status, progress, unchecked_model (no key)") \
  X(strict, BOOLEAN, strict, 0, NULL, NULL, 0, 0, "true", \
    "refuse create fields the model's reference does not list (read by the Lua facade)")
/* clang-format on */

#endif
