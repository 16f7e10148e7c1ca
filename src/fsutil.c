#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"

/* Every Lua (5.1-5.4, LuaJIT) file handle userdata starts with its FILE*;
 * 5.1 and LuaJIT clear it on close, 5.2+ clear closef instead. */
static FILE *check_file(lua_State *L, int idx) {
  void *ud = luaL_checkudata(L, idx, LUA_FILEHANDLE);
#if LUA_VERSION_NUM >= 502
  luaL_Stream *s = ud;
  FILE *f = s->closef ? s->f : NULL;
#else
  FILE *f = *(FILE **)ud;
#endif
  if (!f) luaL_argerror(L, idx, "file is closed");
  return f;
}

static int push_result(lua_State *L, int rc, const char *what) {
  if (rc == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", what, strerror(errno));
  return 2;
}

/* core.fsync(file): flush Lua's buffer and the kernel's to the disk. */
static int core_fsync(lua_State *L) {
  FILE *f = check_file(L, 1);
  if (fflush(f) != 0) return push_result(L, -1, "fflush");
  return push_result(L, fsync(fileno(f)), "fsync");
}

/* core.fsync_dir(path): make a rename or a new file in that directory durable. */
static int core_fsync_dir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return push_result(L, -1, path);
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return push_result(L, rc, path);
}

void omh_fsutil_open(lua_State *L) {
  lua_pushcfunction(L, core_fsync);
  lua_setfield(L, -2, "fsync");
  lua_pushcfunction(L, core_fsync_dir);
  lua_setfield(L, -2, "fsync_dir");
}
