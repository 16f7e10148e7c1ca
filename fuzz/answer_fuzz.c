/* libFuzzer target: how the C core judges the service's answers (status and
 * error JSON, unexpected shapes and types, odd headers) for create, poll and
 * wait. It drives the real code path with no network: a real loop and client
 * are made through the module's own Lua API, an operation is started (its
 * curl handle is added to the multi handle but never driven), the handle is
 * then taken back as the loop does when a transfer ends, and the fuzz input
 * is fed through the real header and body callbacks of transfer.c (its
 * omh_xfer_feed_* seam) before the operation's side of the loop's task
 * contract judges it inside a C function called by Lua, as op:step() would. Checks in Lua: the result
 * is a table or an error of a documented kind; the key is never in a
 * message; a create that may have been accepted is never retried.
 *
 * Input: byte 0 = op (0 create, 1 poll, 2 wait) | 4*sent | 8*curl-code index;
 * byte 1 = HTTP status index; then header lines, a NUL, the body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "op.h"

int luaopen_omnihuman_core(lua_State *L);

#define KEY "sk-fuzz-5cretKey-0123456789"

static lua_State *L;
static int check_ref;

static const long statuses[] = {200, 201, 204, 0,   301, 302, 400, 401, 403, 404, 408,
                                409, 410, 413, 422, 429, 500, 501, 502, 503, 504, 520,
                                599, 100, 299, 399, 499, 600, 999, -1,  202, 307};
static const CURLcode codes[] = {CURLE_OK,
                                 CURLE_OK,
                                 CURLE_OK,
                                 CURLE_OK,
                                 CURLE_COULDNT_CONNECT,
                                 CURLE_OPERATION_TIMEDOUT,
                                 CURLE_RECV_ERROR,
                                 CURLE_SEND_ERROR,
                                 CURLE_GOT_NOTHING,
                                 CURLE_PARTIAL_FILE,
                                 CURLE_SSL_CONNECT_ERROR,
                                 CURLE_PEER_FAILED_VERIFICATION,
                                 CURLE_WRITE_ERROR,
                                 CURLE_COULDNT_RESOLVE_HOST,
                                 CURLE_HTTP2,
                                 CURLE_BAD_CONTENT_ENCODING};

static const char CHECK[] =
    "local op, kind, status, code, sent = ...\n"
    "local KINDS = {invalid_input=1, auth=1, forbidden=1, not_found=1, rate_limited=1, server=1,\n"
    "  network=1, timeout=1, protocol=1, generation_failed=1, cancelled=1, io=1}\n"
    "if not op:done() then op:close() return 'pending' end\n"
    "local v, err = op:result()\n"
    "if v ~= nil then\n"
    "  assert(err == nil)\n"
    "  if kind == 'create' then assert(type(v) == 'table' and type(v.id) == 'string') end\n"
    "  if kind ~= 'create' then assert(type(v) == 'table' and type(v.status) == 'string') end\n"
    "  op:close() return 'ok'\n"
    "end\n"
    "assert(type(err) == 'table', 'error is not a table')\n"
    "assert(KINDS[err.kind], 'undocumented kind ' .. tostring(err.kind))\n"
    "assert(type(err.message) == 'string')\n"
    "local s = tostring(err)\n"
    "assert(s:sub(1, 11) == 'omnihuman: ', s)\n"
    "assert(not s:find('" KEY "', 1, true), 'key leaked into ' .. s)\n"
    "assert(err.status == nil or math.type(err.status) == 'integer')\n"
    "assert(type(err.retryable) == 'boolean')\n"
    "if err.maybe_created then assert(kind == 'create' and err.retryable == false) end\n"
    "op:close() return 'err'\n";

#ifdef OMH_STATIC_CJSON
/* Built with an instrumented Lua and lua-cjson linked in (see mk/fuzz.mk,
 * fuzz-answer-deep): their out-of-bounds writes become ASan reports too. */
int luaopen_cjson(lua_State *L);
#endif

static int setup(lua_State *L) {
  luaL_openlibs(L);
#ifdef OMH_STATIC_CJSON
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_cjson);
  lua_setfield(L, -2, "cjson");
  lua_pop(L, 1);
#endif
  lua_getglobal(L, "package");
  lua_pushliteral(L, "/usr/lib/x86_64-linux-gnu/lua/5.4/?.so;/usr/local/lib/lua/5.4/?.so;;");
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);
  luaL_requiref(L, "omnihuman.core", luaopen_omnihuman_core, 0);
  lua_setglobal(L, "core");
  /* The loop is never driven here, so no drive would ever admit a fifth
   * create on a fresh connection: no turn budget, no such bound. */
  if (luaL_dostring(L, "loop = core.new_loop()\n"
                       "loop:set_turn_budget(0)\n"
                       "events = 0\n"
                       "client = core.new_client(loop, {api_key = '" KEY "',\n"
                       "  base_url = 'http://127.0.0.1:9/v2', max_retries = 2, timeout = 5,\n"
                       "  on_event = function(ev)\n"
                       "    events = events + 1\n"
                       "    for k, v in pairs(ev) do\n"
                       "      assert(not tostring(v):find('" KEY "', 1, true), 'key in event')\n"
                       "    end\n"
                       "  end})\n") != 0)
    return lua_error(L);
  if (luaL_loadstring(L, CHECK) != 0) return lua_error(L);
  check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  L = luaL_newstate();
  lua_pushcfunction(L, setup);
  if (lua_pcall(L, 0, 0, 0) != 0) {
    fprintf(stderr, "answer_fuzz setup: %s\n", lua_tostring(L, -1));
    abort();
  }
  return 0;
}

typedef struct {
  const uint8_t *data;
  size_t size;
} input;

/* Runs inside a C function called by Lua, so the Lua stack is exactly what
 * op:step() gives the loop's callbacks. */
static int feed(lua_State *L) {
  const input *in = lua_touserdata(L, 1);
  omh_op *op = omh_checkop(L, 2);
  const uint8_t *p = in->data + 2, *end = in->data + in->size;
  const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
  const uint8_t *hend = nul ? nul : p; /* no NUL: everything is body */
  int over_cap = (in->data[1] & 0x80) != 0;
  /* The transfer ends (the loop takes the handle back), as when curl reports it. */
  if (!op->task.easy || op->task.queued) abort(); /* every op here must be in flight */
  omh_loop_stop(&op->task);
  omh_xfer *x = &op->x;
  /* Header lines, each through the real header callback (exact-size copies). */
  omh_xfer_feed_header(x, (char *)"HTTP/1.1 200 OK\r\n", 17);
  while (p < hend) {
    const uint8_t *nl = memchr(p, '\n', (size_t)(hend - p));
    size_t n = (size_t)((nl ? nl + 1 : hend) - p);
    char *line = malloc(n ? n : 1);
    memcpy(line, p, n);
    if (omh_xfer_feed_header(x, line, n) != n) abort();
    free(line);
    p += n;
  }
  if (nul) p = nul + 1;
  /* The body in two writes, split where byte 1's low bits say. */
  size_t blen = (size_t)(end - p), cut = blen ? (in->data[1] * 131u) % (blen + 1) : 0;
  size_t ok = 1;
  if (cut) ok = omh_xfer_feed_answer(x, (char *)p, cut) == cut;
  if (ok && blen - cut) ok = omh_xfer_feed_answer(x, (char *)p + cut, blen - cut) == blen - cut;
  if (over_cap && ok) { /* then far more than any real answer: must stop at 1 MiB */
    static char block[64 * 1024];
    memset(block, ' ', sizeof block);
    int i;
    for (i = 0; i < 40 && omh_xfer_feed_answer(x, block, sizeof block) == sizeof block; i++)
      ;
    if (i == 40 || !x->r->write_failed || x->r->answer.len > 1024 * 1024) abort();
    ok = 0;
  }
  CURLcode c = ok ? codes[(in->data[0] >> 3) & 15] : CURLE_WRITE_ERROR;
  long s = statuses[in->data[1] & 31];
  int sent = (in->data[0] >> 2) & 1;
  omh_xfer_feed_end(x, c, s, sent);
  op->task.ops->transfer_done(&op->task, L);
  /* Judged: a job that waits keeps no results. */
  if (!op->task.easy && x->r) abort();
  /* Never left hanging: a pending op has a timer that will wake it. */
  if (!op->task.done && !op->task.timer.slot) abort();
  /* A create that may have reached the service is never sent again. */
  if ((op->cls->flags & OMH_CLASS_BILLED) && !op->task.done && op->retrying) {
    if (c == CURLE_OK && s != 429 && s != 503) abort();
    if (c == CURLE_OPERATION_TIMEDOUT && sent) abort();
    if (c == CURLE_RECV_ERROR || c == CURLE_GOT_NOTHING || c == CURLE_PARTIAL_FILE) {
      if (sent) abort();
    }
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const kinds[] = {"create", "poll", "wait", "poll"};
  static unsigned runs;
  if (size < 2) return 0;
  int top = lua_gettop(L);
  int k = data[0] & 3;
  lua_getglobal(L, "client");
  lua_getfield(L, -1, k == 0 ? "create_op" : k == 2 ? "wait_op" : "poll_op");
  lua_pushvalue(L, -2);
  if (k == 0) {
    lua_createtable(L, 0, 2);
    lua_pushliteral(L, "https://example.test/a.png");
    lua_setfield(L, -2, "image_url");
    lua_pushliteral(L, "https://example.test/a.mp3");
    lua_setfield(L, -2, "audio_url");
  } else {
    lua_pushliteral(L, "0b3c9a52-1f7e-4c1a-9a51-7a3a7d8a0c11:bytedance/omnihuman");
  }
  if (k == 2) {
    lua_createtable(L, 0, 2);
    lua_pushnumber(L, 0.001);
    lua_setfield(L, -2, "interval");
    lua_pushnumber(L, 60);
    lua_setfield(L, -2, "timeout");
  }
  if (lua_pcall(L, k == 2 ? 3 : 2, 1, 0) != 0) {
    fprintf(stderr, "starting op: %s\n", lua_tostring(L, -1));
    abort();
  }
  int opi = lua_gettop(L);
  input in = {data, size};
  lua_pushcfunction(L, feed);
  lua_pushlightuserdata(L, &in);
  lua_pushvalue(L, opi);
  if (lua_pcall(L, 2, 0, 0) != 0) {
    fprintf(stderr, "feed raised: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, check_ref);
  lua_pushvalue(L, opi);
  lua_pushstring(L, kinds[k]);
  lua_pushinteger(L, statuses[data[1] & 31]);
  lua_pushinteger(L, (lua_Integer)codes[(data[0] >> 3) & 15]);
  lua_pushboolean(L, (data[0] >> 2) & 1);
  if (lua_pcall(L, 5, 1, 0) != 0) {
    fprintf(stderr, "check failed: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, top);
  if (++runs % 256 == 0) lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
