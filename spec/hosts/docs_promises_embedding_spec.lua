-- docs/embedding.md, read as a user would: every code block of its host
-- sections runs as written, in the host it is for, against the test server.
-- The only edits are those a user makes: the base URL and key through
-- $OMNIHUMAN_BASE_URL and $AIMLAPI_KEY, the module's paths (the docs'
-- /path/to/lua-omnihuman), a free port, and the sample media copied to the
-- names the snippets use. Each host runs in a child process; they all start
-- in setup and run side by side (the snippets keep the default 10 s between
-- status checks).
local fixtures = require("spec.support.fixtures")
local files = require("spec.support.files")
local sh = require("spec.support.sh")
local cli = require("spec.support.cli")
local ds = require("spec.hosts.docs_snippets")

local DOC = "docs/embedding.md"
local ROOT = cli.PWD
local LIMIT = 120 -- seconds for any one host
local DEB51 = "/usr/lib/x86_64-linux-gnu/lua/5.1/?.so"

local have = ds.host -- Neovim, LÖVE, nginx (see spec/hosts/docs_snippets.lua)

-- The suite's interpreter and its build, for cqueues and luv (Debian's
-- lua-cqueues and lua-luv exist for every runtime). The children run in
-- folders of their own: a relative path ($SANLUA's) is made absolute.
local LUA = (cli.LUA:find("/") and cli.LUA:sub(1, 1) ~= "/") and (ROOT .. "/" .. cli.LUA) or cli.LUA
local BUILD = ROOT .. "/" .. (cli.BUILD or ("build/" .. (jit and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+")))))

-- What a user puts in the environment (docs: lua/ on package.path, the
-- build on package.cpath), nothing of the suite's own.
local function env(srv, ns, cpath, extra)
  local e = { "env -u LUA_PATH_5_2 -u LUA_PATH_5_3 -u LUA_PATH_5_4 -u LUA_CPATH_5_2 -u LUA_CPATH_5_3 -u LUA_CPATH_5_4",
    "LUA_PATH=" .. sh.q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;"),
    "LUA_CPATH=" .. sh.q(cpath .. ";;"),
    "OMNIHUMAN_BASE_URL=" .. sh.q(srv:base_url(ns)), "AIMLAPI_KEY=" .. sh.q(fixtures.KEY) }
  for k, v in pairs(extra or {}) do e[#e + 1] = k .. "=" .. sh.q(v) end
  return table.concat(e, " ")
end

local free_port = ds.free_port

local function copy_media(dir)
  for _, n in ipairs({ "a.png", "b.png", "c.png", "face.png" }) do fixtures.write(dir .. "/" .. n, fixtures.read(fixtures.PNG)) end
  fixtures.write(dir .. "/hello.wav", fixtures.read(fixtures.WAV))
end

local function mkdir(d) sh.exec("mkdir -p " .. sh.q(d)) end

-- Neovim: the snippet, with vim.notify recorded and the editor ended once
-- it has notified.
local NVIM_WRAP = [[
local log = assert(io.open("notes.txt", "w"))
vim.notify = function(msg)
  log:write(tostring(msg), "\n"); log:flush()
  vim.schedule(function() vim.cmd("qall!") end)
end
]]

-- LÖVE: headless (spec/hosts/love/conf.lua), the module's paths set in
-- main.lua, the snippet, then what a player would do: space once, frames
-- until nothing is awaited.
local LOVE_PRELUDE = [[
package.path = os.getenv("OMH_ROOT") .. "/lua/?.lua;" .. os.getenv("OMH_ROOT") .. "/lua/?/init.lua;" .. package.path
package.cpath = os.getenv("OMH_ROOT") .. "/build/luajit/?.so;]] .. DEB51 .. [[;" .. package.cpath
]]
local LOVE_PLAYER = [[
local snippet_update, frames = love.update, 0
function love.update(dt)
  frames = frames + 1
  if frames == 1 then love.keypressed("space") end
  snippet_update(dt)
  if frames > 1 and ol.pending() == 0 then
    print("frames " .. frames .. ", save directory " .. love.filesystem.getSaveDirectory())
    love.event.quit(0)
  end
  love.timer.sleep(0.005)
end
]]

-- luv: an error in a coroutine goes to stderr, or lv.on_error when set, and
-- is kept in lv.errors; a main-thread wait runs the uv loop (a timer ticks).
local LUV_ERRORS = [[
local uv = require("luv")
local omnihuman = require("omnihuman")
local lv = omnihuman.use("luv")
lv.spawn(function() omnihuman.sleep(0.05); error("boom-stderr") end)
uv.run()
print("kept " .. #lv.errors .. " " .. (lv.errors[1]:match("boom%-stderr") or "-"))
local taken
lv.on_error = function(msg) taken = msg end
lv.spawn(function() omnihuman.sleep(0.05); error("boom-taken") end)
uv.run()
print("taken " .. (tostring(taken):match("boom%-taken") or "-") .. ", kept " .. #lv.errors)
local ticks = 0
local t = uv.new_timer()
t:start(10, 10, function() ticks = ticks + 1 end)
omnihuman.sleep(0.3)
t:close()
uv.run() -- lets the close complete (Debian's luv crashes at exit on a handle still closing)
print("ticked " .. (ticks > 5 and "yes" or "no"))
]]

describe("docs/embedding.md: every host snippet runs as written #slow", function()
  local srv, dir, runs, nginx_prefix = nil, nil, {}, nil

  setup(function()
    srv = fixtures.start{ tls = false }
    dir = fixtures.tmpdir("embdocs")

    -- cqueues, luv and omnihuman.use("luv"), under the suite's interpreter.
    for _, s in ipairs({ { "cqueues", "### cqueues", 1 }, { "luv", "### luv", 1 }, { "use", "### How waiting works", 1 } }) do
      local d = dir .. "/" .. s[1]
      mkdir(d)
      copy_media(d)
      fixtures.write(d .. "/snippet.lua", ds.block(DOC, s[2], "lua", s[3]))
      runs[s[1]] = ds.start(d, s[1], env(srv, fixtures.ns(s[1]), BUILD .. "/?.so") .. " timeout -k 5 " .. LIMIT
        .. " " .. sh.q(LUA) .. " snippet.lua")
    end

    if have("nvim") then
      local d = dir .. "/nvim"
      mkdir(d)
      copy_media(d)
      fixtures.write(d .. "/wrap.lua", NVIM_WRAP)
      fixtures.write(d .. "/snippet.lua", ds.block(DOC, "### Neovim", "lua", 1))
      runs.nvim = ds.start(d, "nvim", env(srv, fixtures.ns("nv"), ROOT .. "/build/luajit/?.so;" .. DEB51,
        { XDG_STATE_HOME = d .. "/state" }) .. " timeout -k 5 " .. LIMIT
        .. " nvim --headless -u NONE -i NONE -n -c 'luafile wrap.lua' -c 'luafile snippet.lua'")
    end

    if have("love") then
      local d = dir .. "/love"
      mkdir(d .. "/game")
      copy_media(d)
      local conf = fixtures.read("spec/hosts/love/conf.lua"):gsub("omnihuman%-hosttest", "omnihuman-docsnippet")
      fixtures.write(d .. "/game/conf.lua", conf)
      fixtures.write(d .. "/game/main.lua", LOVE_PRELUDE .. ds.block(DOC, "### LÖVE", "lua", 1) .. LOVE_PLAYER)
      runs.love = ds.start(d, "love", env(srv, fixtures.ns("lv"), ROOT .. "/build/luajit/?.so",
        { OMH_ROOT = ROOT, HOME = d .. "/home", XDG_DATA_HOME = d .. "/data", SDL_AUDIODRIVER = "dummy" })
        .. " timeout -k 5 " .. LIMIT .. " love game")
    end

    if have("nginx") then
      local d = dir .. "/nginx"
      nginx_prefix = d
      mkdir(d .. "/app")
      local port = free_port()
      local conf = ds.block(DOC, "### OpenResty", "nginx", 1):gsub("/path/to/lua%-omnihuman", ROOT)
        :gsub('lua_package_path  "', 'lua_package_path  "' .. d .. '/app/?.lua;', 1):gsub("127%.0%.0%.1:8089", "127.0.0.1:" .. port)
      fixtures.write(d .. "/app/talk.lua", ds.block(DOC, "### OpenResty", "lua", 1))
      local ok, out = ds.nginx(d, conf, env(srv, fixtures.ns("ngx"), ROOT .. "/build/luajit/?.so"))
      runs.nginx_start = { ok = ok, out = out }
      local url = ("http://127.0.0.1:%s/talk?image=%s&audio=%s"):format(port, "https%3A%2F%2Fx%2Fa.png",
        "https%3A%2F%2Fx%2Fa%20b.mp3")
      runs.nginx = ds.start(d, "curl", "sleep 0.5; curl -sS --max-time " .. LIMIT .. " " .. sh.q(url))
    end
  end)

  teardown(function()
    if nginx_prefix then ds.nginx_stop(nginx_prefix) end
    srv:stop()
    fixtures.rm_rf(dir)
  end)

  local function finished(name)
    local rc, out = ds.wait(runs[name], LIMIT + 10)
    assert.equals(0, rc, out)
    return out
  end

  local three = {
    cqueues = "cqueues: three generations in one controller, cq:loop() returns",
    luv = "luv: three generations in lv.spawn, uv.run() returns once they finished",
  }
  for _, name in ipairs({ "cqueues", "luv" }) do
    it(three[name], function()
      local out = finished(name)
      for i, face in ipairs({ "a.png", "b.png", "c.png" }) do
        assert.matches(face .. "\t" .. i .. ".mp4", out, 1, true)
        assert.is_true(#fixtures.read(("%s/%s/%d.mp4"):format(dir, name, i)) > 0)
      end
    end)
  end

  it("omnihuman.use('luv') then omnihuman.adapter().name prints luv", function()
    assert.equals("luv\n", finished("use"))
  end)

  it("luv: lv.errors, stderr, lv.on_error; a main-thread wait keeps uv timers running", function()
    local d = dir .. "/luverr"
    mkdir(d)
    fixtures.write(d .. "/errors.lua", LUV_ERRORS)
    local ok, out = sh.run("cd " .. sh.q(d) .. " && " .. env(srv, fixtures.ns("le"), BUILD .. "/?.so")
      .. " timeout -k 5 60 " .. sh.q(LUA) .. " errors.lua 2>stderr.txt")
    local err = files.read(d .. "/stderr.txt") or ""
    assert.is_truthy(ok, out .. err)
    assert.equals("kept 1 boom-stderr\ntaken boom-taken, kept 2\nticked yes\n", out)
    assert.matches("^omnihuman: .*boom%-stderr", err)
    assert.not_matches("boom%-taken", err)
  end)

  it("examples/cqueues.lua, luv.lua and demo.lua run as their headers say in a checkout without out/", function()
    local d = dir .. "/fresh"
    mkdir(d)
    sh.exec("ln -s " .. sh.q(ROOT .. "/examples") .. " " .. sh.q(d .. "/examples"))
    for _, ex in ipairs({ "cqueues", "luv", "demo" }) do
      local ok, out = sh.run("cd " .. sh.q(d) .. " && " .. env(srv, fixtures.ns("fr"), BUILD .. "/?.so")
        .. " timeout -k 5 60 " .. sh.q(LUA) .. " examples/" .. ex .. ".lua 2>&1")
      assert.is_truthy(ok, out)
    end
    for _, f in ipairs({ "cqueues-1", "cqueues-3", "luv-1", "luv-3", "demo" }) do
      assert.is_true(#fixtures.read(d .. "/out/" .. f .. ".mp4") > 0)
    end
  end)

  it("an adapter written by the 'Writing an adapter' pattern (luv) runs three generations, each wait woken once", function()
    local d = dir .. "/pattern"
    mkdir(d)
    copy_media(d)
    local ok, out = sh.run("cd " .. sh.q(d) .. " && " .. env(srv, fixtures.ns("pat"), BUILD .. "/?.so")
      .. " timeout -k 5 60 " .. sh.q(LUA) .. " " .. sh.q(ROOT .. "/spec/hosts/docs_adapter_pattern.lua") .. " 2>&1")
    assert.is_truthy(ok, out)
    assert.matches("^adapter mine\n", out)
    assert.matches("\n3 done, 9 wakes, driver off\n", out, 1, true)
  end)

  it("Neovim: nv.spawn + client:generate, vim.notify says done", function()
    if not runs.nvim then return pending("needs nvim and build/luajit (under Lua 5.4 or LuaJIT)") end
    finished("nvim")
    assert.equals("done: talk.mp4\n", files.read(dir .. "/nvim/notes.txt"))
    assert.is_true(#fixtures.read(dir .. "/nvim/talk.mp4") > 0)
  end)

  it("LÖVE: space spawns a generation that ol.update() carries to the save directory", function()
    if not runs.love then return pending("needs love and build/luajit (under Lua 5.4 or LuaJIT)") end
    local out = finished("love")
    local save = out:match("save directory (%S+)")
    assert.truthy(save, out)
    assert.is_true(#fixtures.read(save .. "/videos/talk.mp4") > 0, out)
  end)

  it("LÖVE: ol.update()'s count, errors after every finished coroutine, ol.on_error, love.thread", function()
    if not runs.love then return pending("needs love and build/luajit (under Lua 5.4 or LuaJIT)") end
    local cmd = env(srv, fixtures.ns("lvd"), ROOT .. "/build/luajit/?.so", {
      OMH_ROOT = ROOT, OMH_LUA_PATH = ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua",
      OMH_LUA_CPATH = ROOT .. "/build/luajit/?.so;" .. DEB51, HOME = dir .. "/love/home",
      XDG_DATA_HOME = dir .. "/love/data", SDL_AUDIODRIVER = "dummy",
    }) .. " timeout -k 5 60 love spec/hosts/love_docs 2>&1"
    local ok, out = sh.run(cmd)
    assert.is_truthy(ok, out)
    assert.not_matches("FAIL", out)
    assert.equals(7, select(2, out:gsub("\nok ", "")) + (out:match("^ok ") and 1 or 0), out)
  end)

  it("OpenResty: examples/openresty/run.sh serves /talk and /batch (PORT: a free one)", function()
    if not runs.nginx then return pending("needs nginx and build/luajit (under Lua 5.4 or LuaJIT)") end
    local d = dir .. "/orx"
    mkdir(d)
    -- The script's own shell gets TERM at the end: its trap stops nginx.
    local port = free_port()
    fixtures.write(d .. "/start.sh", "echo $$ >pid\nexec " .. env(srv, fixtures.ns("orx"), "", { PORT = port })
      .. " timeout -k 5 " .. LIMIT .. " sh " .. sh.q(ROOT .. "/examples/openresty/run.sh") .. "\n")
    local h = ds.start(d, "run", "sh start.sh")
    local function get(name, path) -- both at once
      return ds.start(d, name, "curl -sS --retry 20 --retry-delay 1 --retry-connrefused --max-time 60 "
        .. sh.q("http://127.0.0.1:" .. port .. path))
    end
    local t, b = get("talk", "/talk?image_url=https://x/a.png&audio_url=https://x/a.mp3"), get("batch", "/batch?n=2")
    local rc1, talk = ds.wait(t, 90)
    local rc2, batch = ds.wait(b, 90)
    local ok1, ok2 = rc1 == 0, rc2 == 0
    sh.exec("kill -TERM " .. (files.read(d .. "/pid") or ""):match("%d+"))
    local rc, out = ds.wait(h, 20)
    assert.is_truthy(ok1 and ok2, talk .. batch .. out)
    assert.matches('"status":"' .. srv.profile.completed .. '"', talk, 1, true)
    assert.matches('"video_url":"http', talk, 1, true)
    local n = select(2, batch:gsub('"video_url":"http', ""))
    assert.equals(2, n, batch)
    assert.is_not_nil(rc, out)
    assert.is_false(sh.exec("curl -s --max-time 2 -o /dev/null http://127.0.0.1:" .. port .. "/health"), "nginx still answers")
  end)

  it("OpenResty: the nginx.conf and talk.lua start, /talk answers the video's URL", function()
    if not runs.nginx then return pending("needs nginx and build/luajit (under Lua 5.4 or LuaJIT)") end
    assert.is_truthy(runs.nginx_start.ok, runs.nginx_start.out)
    local out = finished("nginx")
    assert.matches("^https?://127%.0%.0%.1:%d+/%S+%.mp4\n$", out)
  end)
end)
