/* core.check_input: a create's own check of a local input file, made from
 * Lua before anything is sent (the batch's pre-flight uses it). */
#include <stdint.h>
#include <string.h>

#include "input_file.h"
#include "input_lua.h"
#include "model_limits.h"

/* core.check_input(path, kind[, opts]): the check a create makes of a local
 * file (regular, sendable size, recognised media of the kind: "image",
 * "audio", "video", "file"; "mask" is an image), without sending anything.
 * opts: model (for messages), max_seconds (the model's limit for audio or
 * video), max_audio_seconds (replaces it for audio), max_bytes,
 * allow_unmeasured_audio, field. true, or nil, why. */
static int core_check_input(lua_State *L) {
  const char *path = luaL_checkstring(L, 1), *name = luaL_checkstring(L, 2);
  int kind = strcmp(name, "mask") == 0 ? OMH_KIND_IMAGE : omh_input_kind_of(name);
  luaL_argcheck(L, kind >= 0, 2, "image, audio, video, file or mask expected");
  omh_input_rules r;
  memset(&r, 0, sizeof r);
  r.model = "bytedance/omnihuman";
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "model");
    if (lua_type(L, -1) == LUA_TSTRING) r.model = lua_tostring(L, -1); /* stays on the stack */
    lua_getfield(L, 3, "field");
    r.field = lua_tostring(L, -1); /* stays on the stack */
    lua_getfield(L, 3, "max_seconds");
    if (lua_type(L, -1) == LUA_TNUMBER) r.max_seconds = (double)lua_tonumber(L, -1);
    lua_getfield(L, 3, "max_bytes");
    if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) > 0)
      r.max_bytes = (uint64_t)lua_tonumber(L, -1);
    lua_getfield(L, 3, "max_audio_seconds");
    if (lua_type(L, -1) == LUA_TNUMBER && kind == OMH_KIND_AUDIO) {
      r.max_seconds = (double)lua_tonumber(L, -1);
      luaL_argcheck(L, r.max_seconds >= OMH_MIN_AUDIO_LIMIT && r.max_seconds <= OMH_MAX_AUDIO_LIMIT, 3,
                    "max_audio_seconds out of range");
      r.limit_from = "client";
    }
    lua_getfield(L, 3, "allow_unmeasured_audio");
    r.allow_unmeasured = lua_toboolean(L, -1);
  }
  omh_input_file info;
  char why[600];
  if (omh_input_check(path, (omh_input_kind)kind, &r, &info, why, sizeof why)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, why);
  return 2;
}

void omh_input_lua_open(lua_State *L) {
  lua_pushcfunction(L, core_check_input);
  lua_setfield(L, -2, "check_input");
}
