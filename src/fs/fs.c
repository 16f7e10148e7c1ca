/* omnihuman.fs: the file-system helpers the command line's durable files
 * need and Lua's io library lacks (it can flush but not fsync a folder,
 * lock, resolve a canonical path, create folders or append all-or-nothing).
 * A module of its own: the HTTP core (omnihuman.core) carries none of it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "../compat.h"

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

/* A short name for the errors callers act on; anything else is "error". */
static const char *errno_tag(int e) {
  switch (e) {
    case ENOENT:
      return "missing";
    case ENOTDIR:
      return "notdir";
    case EWOULDBLOCK:
      return "busy";
    case ENOSPC:
      return "nospace";
    default:
      return "error";
  }
}

/* nil, "<what>: <strerror>", tag */
static int push_errno(lua_State *L, const char *what, int e) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", what, strerror(e));
  lua_pushstring(L, errno_tag(e));
  return 3;
}

static int push_result(lua_State *L, int rc, const char *what) {
  if (rc == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return push_errno(L, what, errno);
}

/* fs.fsync_dir(path): make a rename or a new file in that directory durable. */
static int fs_fsync_dir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return push_result(L, -1, path);
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return push_result(L, rc, path);
}

/* fs.flock(file): an exclusive lock without waiting. The kernel drops it
 * when the process ends however it ends, so no lock is ever stale.
 * true, or nil, message, "busy" when another process holds it. */
static int fs_flock(lua_State *L) {
  FILE *f = check_file(L, 1);
  int rc;
  do rc = flock(fileno(f), LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  return push_result(L, rc, "flock");
}

/* fs.append(file, data[, sync]): one record at the end of the file,
 * written whole or not at all: a failed or short write (disk full) is cut
 * back off, so the file never keeps half a record that a later one would
 * run into. With sync, fsync'd before it returns. Bypasses the FILE buffer:
 * use the handle for nothing else but locking. */
static int fs_append(lua_State *L) {
  FILE *f = check_file(L, 1);
  size_t n;
  const char *data = luaL_checklstring(L, 2, &n);
  int sync = lua_toboolean(L, 3);
  int fd = fileno(f);
  struct stat st;
  if (fstat(fd, &st) != 0) return push_errno(L, "fstat", errno);
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, data + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = w < 0 ? errno : ENOSPC;
      if (done > 0 && ftruncate(fd, st.st_size) != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "write: %s (and the partial record could not be removed: %s)", strerror(e),
                        strerror(errno));
        lua_pushstring(L, errno_tag(e));
        return 3;
      }
      return push_errno(L, "write", e);
    }
    done += (size_t)w;
  }
  if (sync && fsync(fd) != 0) return push_errno(L, "fsync", errno);
  lua_pushboolean(L, 1);
  return 1;
}

/* fs.realpath(path): the absolute path with every symlink, "." and ".."
 * resolved; the path must exist. nil, message, tag otherwise. */
static int fs_realpath(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char *r = realpath(path, NULL);
  if (!r) return push_errno(L, path, errno);
  lua_pushstring(L, r);
  free(r);
  return 1;
}

/* fs.stat(path): "file" | "dir" | "other", size (symlinks followed). */
static int fs_stat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0) return push_errno(L, path, errno);
  lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : "other");
  lua_pushnumber(L, (lua_Number)st.st_size);
  return 2;
}

/* fs.writable(dir): can this process create files in the folder? */
static int fs_writable(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  return push_result(L, access(path, W_OK | X_OK), path);
}

/* fs.mkdir_p(path): creates the folder and any missing parents (0777
 * less the umask); true when it exists as a folder afterwards. */
static int fs_mkdir_p(lua_State *L) {
  size_t n;
  const char *path = luaL_checklstring(L, 1, &n);
  if (n == 0 || n >= PATH_MAX) return push_errno(L, path, n ? ENAMETOOLONG : ENOENT);
  char buf[PATH_MAX];
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    struct stat st;
    /* An existing folder may answer EROFS or EACCES rather than EEXIST. */
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
      int e = errno;
      if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return push_errno(L, buf, e);
    }
    buf[i] = saved;
  }
  struct stat st;
  if (stat(path, &st) != 0) return push_errno(L, path, errno);
  if (!S_ISDIR(st.st_mode)) return push_errno(L, path, ENOTDIR);
  lua_pushboolean(L, 1);
  return 1;
}

OMH_EXPORT int luaopen_omnihuman_fs(lua_State *L);
int luaopen_omnihuman_fs(lua_State *L) {
  static const luaL_Reg fns[] = {{"fsync_dir", fs_fsync_dir}, {"flock", fs_flock},     {"append", fs_append},
                                 {"realpath", fs_realpath},   {"stat", fs_stat},       {"writable", fs_writable},
                                 {"mkdir_p", fs_mkdir_p},     {NULL, NULL}};
  lua_newtable(L);
  for (const luaL_Reg *r = fns; r->name; r++) {
    lua_pushcfunction(L, r->func);
    lua_setfield(L, -2, r->name);
  }
  return 1;
}
