-- docs/embedding.md, OpenResty: in init_worker_by_lua a wait blocks (and
-- answers); in the header/body filter and log phases it raises; the
-- driver's tunables have the documented defaults. nginx + ngx_lua on a free
-- 127.0.0.1 port, its own prefix, against the test server.
local fixtures = require("spec.support.fixtures")
local files = require("spec.support.files")
local sh = require("spec.support.sh")
local cli = require("spec.support.cli")
local ds = require("spec.hosts.docs_snippets")

local ROOT = cli.PWD

local CONF = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
env AIMLAPI_KEY;
env OMNIHUMAN_BASE_URL;
worker_processes 1;
events {}
http {
  access_log off;
  lua_package_path  "@ROOT@/lua/?.lua;@ROOT@/lua/?/init.lua;@ROOT@/spec/hosts/nginx/?.lua;;";
  lua_package_cpath "@ROOT@/build/luajit/?.so;;";
  init_worker_by_lua_block { require("phases_app").init_worker() }
  server {
    listen 127.0.0.1:@PORT@;
    location /init { content_by_lua_block { require("phases_app").init_answer() } }
    location /tunables { content_by_lua_block { require("phases_app").tunables() } }
    location /header { content_by_lua_block { ngx.say("x") } header_filter_by_lua_block { require("phases_app").try_wait() } }
    location /body { content_by_lua_block { ngx.say("x") } body_filter_by_lua_block { require("phases_app").try_wait() } }
    location /log { content_by_lua_block { ngx.say("x") } log_by_lua_block { require("phases_app").try_wait() } }
  }
}
]]

describe("docs/embedding.md: OpenResty phases #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start{ tls = false }; dir = fixtures.tmpdir("ngxphases") end)
  teardown(function()
    ds.nginx_stop(dir)
    srv:stop()
    fixtures.rm_rf(dir)
  end)

  it("blocks in init_worker_by_lua, raises in the filter and log phases, documented tunables", function()
    if sh.lines("command -v nginx")[1] == nil or not files.exists("build/luajit/omnihuman/core.so") then
      return pending("needs nginx and make LUA=luajit")
    end
    local port = ds.free_port()
    local conf = CONF:gsub("@ROOT@", ROOT):gsub("@PORT@", port)
    -- Not the suite's LUA_CPATH: ";;" in lua_package_cpath would add its Lua 5.4 entries.
    local env = ("env -u LUA_PATH -u LUA_CPATH AIMLAPI_KEY=%s OMNIHUMAN_BASE_URL=%s"):format(sh.q(fixtures.KEY),
      sh.q(srv:base_url(fixtures.ns("ph"))))
    local ok, out = ds.nginx(dir, conf, env)
    assert.is_truthy(ok, out)
    local function get(path)
      local _, body = sh.run("curl -sS --retry 20 --retry-delay 1 --retry-connrefused --max-time 30 "
        .. sh.q("http://127.0.0.1:" .. port .. path) .. " 2>&1")
      return body
    end
    assert.equals("nil not_found in init_worker\n", get("/init"))
    assert.equals("openresty 0.001 0.05 10 8 1\n", get("/tunables"))
    for _, p in ipairs({ "/header", "/body", "/log" }) do assert.equals("x\n", get(p)) end
    local log
    for _ = 1, 50 do -- the log phase runs after the answer
      log = files.read(dir .. "/logs/error.log") or ""
      if log:find("WAIT in log", 1, true) then break end
      sh.sleep(0.1)
    end
    for _, phase in ipairs({ "header_filter", "body_filter", "log" }) do
      assert.truthy(log:find("WAIT in " .. phase .. ": [^\n]*omnihuman: cannot wait for an operation in ngx_lua's '"
        .. phase .. "' phase"), log)
    end
  end)
end)
