/* Test hooks: base64, media sniffing/duration and Retry-After parsing,
 * exposed as underscore fields of the core module so specs can reach the
 * C directly. Only API common to Lua 5.1-5.4 and LuaJIT. */
#include <float.h>
#include <string.h>

#include "compat.h"

#include "base64.h"
#include "media.h"
#include "retry_after.h"

static int units_b64(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    size_t out_len = omh_b64_encoded_len(n);
    char *out;
    if (out_len < n) /* size_t overflow, for absurd inputs only */
        return luaL_error(L, "input too large");
    /* A userdata, not malloc: if a later push raises, the GC frees it. */
    out = (char *)lua_newuserdata(L, out_len ? out_len : 1);
    omh_b64_encode(out, (const unsigned char *)s, n);
    lua_pushlstring(L, out, out_len);
    return 1;
}

static int units_sniff(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_pushstring(L, omh_media_name(
                          omh_media_sniff((const unsigned char *)s, n)));
    return 1;
}

static int units_mime(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *mime = omh_media_mime(
        omh_media_sniff((const unsigned char *)s, n));
    if (mime)
        lua_pushstring(L, mime);
    else
        lua_pushnil(L);
    return 1;
}

/* Type from its name; when no name is given, from the bytes. */
static omh_media_type type_arg(lua_State *L, int idx, const char *buf,
                               size_t n)
{
    int t;
    const char *name;
    if (lua_isnoneornil(L, idx))
        return omh_media_sniff((const unsigned char *)buf, n);
    name = luaL_checkstring(L, idx);
    for (t = OMH_MEDIA_UNKNOWN; t < OMH_MEDIA_COUNT; t++)
        if (strcmp(name, omh_media_name((omh_media_type)t)) == 0)
            return (omh_media_type)t;
    luaL_argerror(L, idx, "unknown media type name");
    return OMH_MEDIA_UNKNOWN; /* not reached */
}

/* _duration(bytes [, type [, window]]): with a window size, measured
 * through a window of that many bytes (raised to the parsers' minimum). */
static int units_duration(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    omh_media_type t = type_arg(L, 2, s, n);
    double d;
    if (lua_isnoneornil(L, 3)) {
        d = omh_media_duration((const unsigned char *)s, n, t);
    } else {
        lua_Number w = luaL_checknumber(L, 3);
        omh_media_mem m;
        omh_media_src src;
        luaL_argcheck(L, w >= 0 && w <= 1e9, 3, "window size out of range");
        omh_media_src_mem(&src, &m, (const unsigned char *)s, n);
        d = omh_media_measure_window(&src, t, (size_t)w);
    }
    if (d < 0.0)
        lua_pushnil(L);
    else
        lua_pushnumber(L, (lua_Number)d);
    return 1;
}

static int units_retry_after(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_Number now = luaL_checknumber(L, 2);
    double d;
    /* Converting NaN or an out-of-range value to time_t is undefined. */
    luaL_argcheck(L, now == now && now > -1e15 && now < 1e15, 2,
                  "epoch seconds out of range");
    d = omh_retry_after_parse(s, n, (time_t)now);
    if (d < 0.0)
        lua_pushnil(L);
    else
        lua_pushnumber(L, (lua_Number)d);
    return 1;
}

int omh_units_open(lua_State *L)
{
    static const struct {
        const char *name;
        lua_CFunction fn;
    } fns[] = {{"_b64", units_b64},
               {"_sniff", units_sniff},
               {"_mime", units_mime},
               {"_duration", units_duration},
               {"_retry_after", units_retry_after}};
    size_t i;
    for (i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        lua_pushcfunction(L, fns[i].fn);
        lua_setfield(L, -2, fns[i].name);
    }
    return 0;
}
