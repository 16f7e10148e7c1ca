/* omnihuman.ledger_db: the few SQLite calls the job ledger needs (open with
 * WAL and a busy timeout, one statement with bound values -> rows) and
 * SHA-256 of strings and files. A module of its own: omnihuman.core never
 * links libsqlite3. Errors return nil, message, SQLite's result code name;
 * misuse (a closed handle, a value that cannot be bound) raises. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../compat.h"
#include "../udata.h"
#include "faultvfs.h"
#include "sha256.h"
#include "signals.h"

#define DB_TYPE "omnihuman.ledger_db"

typedef struct {
  sqlite3 *db; /* NULL once closed */
} ledger_db;

static ledger_db *check_open(lua_State *L) {
  ledger_db *h = luaL_checkudata(L, 1, DB_TYPE);
  if (!h->db) luaL_error(L, "omnihuman.ledger: the ledger is closed");
  return h;
}

static int fail(lua_State *L, sqlite3 *db, int rc) {
  lua_pushnil(L);
  lua_pushstring(L, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  lua_pushstring(L, sqlite3_errstr(rc));
  lua_pushinteger(L, rc);
  return 4;
}

/* open(path, busy_ms): the handle, in WAL mode with synchronous=FULL. */
static int l_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int busy = (int)luaL_optinteger(L, 2, 5000);
  ledger_db *h = omh_newuserdata(L, sizeof *h);
  sqlite3 *db = NULL;
  int rc;
  h->db = NULL;
  luaL_getmetatable(L, DB_TYPE);
  lua_setmetatable(L, -2);
  rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                       omh_ledger_fault_vfs());
  if (rc != SQLITE_OK) {
    int n = fail(L, db, rc);
    sqlite3_close(db);
    return n;
  }
  h->db = db;
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy);
  return 1;
}

/* Misuse raises, the statement finalized first (a raise skips the caller's
 * cleanup, and an unfinalized statement keeps the connection alive). */
static int bind_all(lua_State *L, sqlite3_stmt *st, int first) {
  int n = lua_gettop(L), i, want = sqlite3_bind_parameter_count(st);
  if (n - first + 1 != want) {
    sqlite3_finalize(st);
    return luaL_error(L, "omnihuman.ledger: %d values for %d parameters", n - first + 1, want);
  }
  for (i = first; i <= n; i++) {
    int at = i - first + 1, rc = SQLITE_OK;
    size_t len;
    const char *s;
    switch (lua_type(L, i)) {
      case LUA_TNIL:
        rc = sqlite3_bind_null(st, at);
        break;
      case LUA_TBOOLEAN:
        rc = sqlite3_bind_int(st, at, lua_toboolean(L, i));
        break;
      case LUA_TNUMBER: {
        lua_Number x = lua_tonumber(L, i);
#if LUA_VERSION_NUM >= 503
        if (lua_isinteger(L, i))
          rc = sqlite3_bind_int64(st, at, (sqlite3_int64)lua_tointeger(L, i));
        else
#endif
            if (x > -9007199254740992.0 && x < 9007199254740992.0 && x == (lua_Number)(sqlite3_int64)x)
          rc = sqlite3_bind_int64(st, at, (sqlite3_int64)x);
        else
          rc = sqlite3_bind_double(st, at, (double)x);
        break;
      }
      case LUA_TSTRING:
        s = lua_tolstring(L, i, &len);
        rc = sqlite3_bind_text(st, at, s, (int)len, SQLITE_TRANSIENT);
        break;
      default:
        sqlite3_finalize(st);
        return luaL_error(L, "omnihuman.ledger: cannot store a %s", luaL_typename(L, i));
    }
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

static void push_column(lua_State *L, sqlite3_stmt *st, int c) {
  switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER: {
      sqlite3_int64 v = sqlite3_column_int64(st, c);
#if LUA_VERSION_NUM >= 503
      lua_pushinteger(L, (lua_Integer)v);
#else
      lua_pushnumber(L, (lua_Number)v);
#endif
      break;
    }
    case SQLITE_FLOAT:
      lua_pushnumber(L, sqlite3_column_double(st, c));
      break;
    case SQLITE_NULL:
      lua_pushnil(L);
      break;
    default:
      lua_pushlstring(L, (const char *)sqlite3_column_blob(st, c), (size_t)sqlite3_column_bytes(st, c));
  }
}

/* h:query(sql, ...): runs one statement with the values bound in order;
 * returns an array of rows (column name -> value; NULL columns absent). */
static int l_query(lua_State *L) {
  ledger_db *h = check_open(L);
  const char *sql = luaL_checkstring(L, 2), *tail = NULL;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(h->db, sql, -1, &st, &tail), row = 0, cols, c;
  if (rc != SQLITE_OK) return fail(L, h->db, rc);
  if (!st) return luaL_error(L, "omnihuman.ledger: empty statement");
  while (tail && (*tail == ' ' || *tail == '\n' || *tail == ';')) tail++;
  if (tail && *tail) {
    sqlite3_finalize(st);
    return luaL_error(L, "omnihuman.ledger: one statement per query");
  }
  rc = bind_all(L, st, 3);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(st);
    return fail(L, h->db, rc);
  }
  lua_newtable(L);
  cols = sqlite3_column_count(st);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    lua_createtable(L, 0, cols);
    for (c = 0; c < cols; c++) {
      push_column(L, st, c);
      lua_setfield(L, -2, sqlite3_column_name(st, c));
    }
    lua_rawseti(L, -2, ++row);
  }
  if (rc != SQLITE_DONE) {
    int n;
    lua_pop(L, 1);
    n = fail(L, h->db, rc);
    sqlite3_finalize(st);
    return n;
  }
  sqlite3_finalize(st);
  return 1;
}

/* h:exec(sql): statements without values or rows (the schema, pragmas). */
static int l_exec(lua_State *L) {
  ledger_db *h = check_open(L);
  int rc = sqlite3_exec(h->db, luaL_checkstring(L, 2), NULL, NULL, NULL);
  if (rc != SQLITE_OK) return fail(L, h->db, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_last_id(lua_State *L) {
  ledger_db *h = check_open(L);
  lua_pushnumber(L, (lua_Number)sqlite3_last_insert_rowid(h->db));
  return 1;
}

static int l_changes(lua_State *L) {
  ledger_db *h = check_open(L);
  lua_pushinteger(L, sqlite3_changes(h->db));
  return 1;
}

static int l_in_transaction(lua_State *L) {
  ledger_db *h = check_open(L);
  lua_pushboolean(L, !sqlite3_get_autocommit(h->db));
  return 1;
}

/* Idempotent: __gc, __close and close() all come here. sqlite3_close_v2
 * defers the close until statements are finalized (each query finalizes
 * its own, so none are left). */
static int l_close(lua_State *L) {
  ledger_db *h = luaL_checkudata(L, 1, DB_TYPE);
  if (h->db) {
    sqlite3_close_v2(h->db);
    h->db = NULL;
  }
  return 0;
}

static int l_is_closed(lua_State *L) {
  ledger_db *h = luaL_checkudata(L, 1, DB_TYPE);
  lua_pushboolean(L, h->db == NULL);
  return 1;
}

static int l_tostring(lua_State *L) {
  ledger_db *h = luaL_checkudata(L, 1, DB_TYPE);
  lua_pushfstring(L, "omnihuman.ledger_db (%s)", h->db ? "open" : "closed");
  return 1;
}

static int l_sha256(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  omh_sha256 ctx;
  char hex[65];
  omh_sha256_init(&ctx);
  omh_sha256_update(&ctx, s, n);
  omh_sha256_hex(&ctx, hex);
  lua_pushstring(L, hex);
  return 1;
}

/* sha256_file(path): hex digest of the file's bytes, or nil, message. */
static int l_sha256_file(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  FILE *f = fopen(path, "rb");
  omh_sha256 ctx;
  char hex[65];
  unsigned char buf[16384];
  size_t n;
  int err;
  if (!f) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
  }
  omh_sha256_init(&ctx);
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) omh_sha256_update(&ctx, buf, n);
  err = ferror(f) ? errno : 0;
  fclose(f);
  if (err) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(err));
    return 2;
  }
  omh_sha256_hex(&ctx, hex);
  lua_pushstring(L, hex);
  return 1;
}

/* mkdir_p(path, mode): makes path and the folders above it that are
 * missing, each new one with mode (the ledger's folder: 0700). */
static int l_mkdir_p(lua_State *L) {
  size_t n;
  const char *path = luaL_checklstring(L, 1, &n);
  mode_t mode = (mode_t)luaL_optinteger(L, 2, 0700);
  char *p = omh_newuserdata(L, n + 1); /* a scratch copy: Lua strings are never written to */
  size_t i;
  memcpy(p, path, n + 1);
  for (i = 1; i <= n; i++) {
    if (p[i] != '/' && p[i] != '\0') continue;
    p[i] = '\0';
    if (mkdir(p, mode) != 0 && errno != EEXIST) {
      lua_pushnil(L);
      lua_pushfstring(L, "%s: %s", p, strerror(errno));
      return 2;
    }
    if (i < n) p[i] = '/';
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* cwd(): the working folder, to store outputs as absolute paths. */
static int l_cwd(lua_State *L) {
  char buf[4096];
  if (!getcwd(buf, sizeof buf)) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  lua_pushstring(L, buf);
  return 1;
}

OMH_EXPORT int luaopen_omnihuman_ledger_db(lua_State *L);
int luaopen_omnihuman_ledger_db(lua_State *L) {
  static const luaL_Reg methods[] = {{"query", l_query},
                                     {"exec", l_exec},
                                     {"last_id", l_last_id},
                                     {"changes", l_changes},
                                     {"in_transaction", l_in_transaction},
                                     {"close", l_close},
                                     {"is_closed", l_is_closed},
                                     {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"open", l_open},
                                   {"sha256", l_sha256},
                                   {"sha256_file", l_sha256_file},
                                   {"mkdir_p", l_mkdir_p},
                                   {"cwd", l_cwd},
                                   {"interrupt_on_signals", omh_ledger_interrupt_on_signals},
                                   {"ignore_signals", omh_ledger_ignore_signals},
                                   {"kill_self", omh_ledger_kill_self},
                                   {NULL, NULL}};
  omh_register_type(L, DB_TYPE, methods, l_close, l_tostring);
  omh_newlib(L, funcs);
  lua_pushstring(L, sqlite3_libversion());
  lua_setfield(L, -2, "sqlite_version");
  return 1;
}
