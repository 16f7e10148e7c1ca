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
    location /generate { content_by_lua_block { require("phases_app").generate() } }
    location /log { content_by_lua_block { ngx.say("x") } log_by_lua_block { require("phases_app").try_wait() } }
  }
}
]]

local function usable() return ds.host("nginx") end

describe("docs/embedding.md: OpenResty phases #slow", function()
  local srv, dir, prefixes = nil, nil, {}
  setup(function() srv = fixtures.start{ tls = false }; dir = fixtures.tmpdir("ngxphases") end)
  teardown(function()
    for _, p in ipairs(prefixes) do ds.nginx_stop(p) end
    srv:stop()
    fixtures.rm_rf(dir)
  end)

  -- nginx in prefix (under dir) on a free port; returns get(path) -> body.
  local function start(prefix, as_nobody)
    prefixes[#prefixes + 1] = prefix
    local port = ds.free_port()
    local conf = CONF:gsub("@ROOT@", ROOT):gsub("@PORT@", port)
    -- Not the suite's LUA_CPATH: ";;" in lua_package_cpath would add its Lua 5.4 entries.
    local env = ("env -u LUA_PATH -u LUA_CPATH AIMLAPI_KEY=%s OMNIHUMAN_BASE_URL=%s"):format(sh.q(fixtures.KEY),
      sh.q(srv:base_url(fixtures.ns("ph"))))
    local ok, out = ds.nginx(prefix, conf, env, as_nobody)
    assert.is_truthy(ok, out)
    return function(path)
      local _, body = sh.run("curl -sS --retry 20 --retry-delay 1 --retry-connrefused --max-time 30 "
        .. sh.q("http://127.0.0.1:" .. port .. path) .. " 2>&1")
      return body
    end
  end

  it("started as root, workers run as nobody: unreadable inputs and unwritable output folders name the path", function()
    -- The workers (nobody) must read the checkout's Lua files and build.
    local readable = sh.exec("runuser -u nobody -- test -r " .. sh.q(ROOT .. "/build/luajit/omnihuman/core.so")
      .. " 2>/dev/null")
    if not usable() or sh.lines("id -u")[1] ~= "0" or not readable then
      return pending("needs nginx, build/luajit, root, and a checkout that nobody can read")
    end
    local get = start(dir .. "/nobody", true)
    local media = dir .. "/media"
    sh.exec(("mkdir -p %s/private && chmod 755 %s %s && chmod 700 %s/private"):format(sh.q(media), sh.q(dir),
      sh.q(media), sh.q(media)))
    fixtures.write(media .. "/face.png", fixtures.read(fixtures.PNG))
    fixtures.write(media .. "/secret.png", fixtures.read(fixtures.PNG))
    fixtures.write(media .. "/hello.wav", fixtures.read(fixtures.WAV))
    sh.exec(("chmod 644 %s/face.png %s/hello.wav && chmod 600 %s/secret.png"):format(sh.q(media), sh.q(media), sh.q(media)))
    local function gen(image, output)
      return get(("/generate?image=%s&audio=%s&output=%s"):format(image, media .. "/hello.wav", output))
    end
    assert.equals("invalid_input: image file '" .. media .. "/secret.png': Permission denied\n",
      gen(media .. "/secret.png", media .. "/a.mp4"))
    assert.equals("io: cannot create a temporary file beside '" .. media .. "/private/b.mp4': Permission denied\n",
      gen(media .. "/face.png", media .. "/private/b.mp4"))
    sh.exec("chmod 777 " .. sh.q(media))
    assert.equals("ok " .. media .. "/c.mp4\n", gen(media .. "/face.png", media .. "/c.mp4"))
  end)

  it("blocks in init_worker_by_lua, raises in the filter and log phases, documented tunables", function()
    if not usable() then return pending("needs nginx and make LUA=luajit") end
    local get = start(dir .. "/phases")
    assert.equals("nil not_found in init_worker\n", get("/init"))
    assert.equals("openresty 0.001 0.05 10 8 1\n", get("/tunables"))
    for _, p in ipairs({ "/header", "/body", "/log" }) do assert.equals("x\n", get(p)) end
    local log
    for _ = 1, 50 do -- the log phase runs after the answer
      log = files.read(dir .. "/phases/logs/error.log") or ""
      if log:find("WAIT in log", 1, true) then break end
      sh.sleep(0.1)
    end
    for _, phase in ipairs({ "header_filter", "body_filter", "log" }) do
      assert.truthy(log:find("WAIT in " .. phase .. ": [^\n]*omnihuman: cannot wait for an operation in ngx_lua's '"
        .. phase .. "' phase"), log)
    end
  end)
end)
