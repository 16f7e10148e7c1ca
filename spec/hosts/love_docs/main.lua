-- luacheck: globals love
-- What docs/embedding.md promises of the LÖVE adapter, beyond the snippet
-- (spec/hosts/docs_promises_embedding_spec.lua runs it): ol.update()
-- returns how many operations coroutines await; an error in a coroutine is
-- raised from ol.update() after every finished coroutine was resumed, or
-- goes to ol.on_error; in a love.thread a wait blocks, as in plain Lua.
-- Prints "ok <what>" / "FAIL <what>" and quits with 0 when all passed.
local paths = os.getenv("OMH_LUA_PATH") .. ";"
local cpaths = os.getenv("OMH_LUA_CPATH") .. ";"
package.path = paths .. package.path
package.cpath = cpaths .. package.cpath

local omnihuman = require("omnihuman")
local ol = omnihuman.use("love")
local failed, frames, step = 0, 0, 1
local function check(ok, what)
  if not ok then failed = failed + 1 end
  print((ok and "ok   " or "FAIL ") .. what)
end

local THREAD = [[
local paths, cpaths, base, key, out = ...
package.path = paths .. package.path
package.cpath = cpaths .. package.cpath
local omnihuman = require("omnihuman")
local client = omnihuman.new{ base_url = base, api_key = key }
local st, err = client:poll("no-such-job")
love.thread.getChannel(out):push(tostring(st) .. " " .. tostring(err and err.kind))
]]

local state = {}
local steps = {
  -- Two coroutines waiting: update() says 2, then 0 once both are done.
  function()
    ol.spawn(function() omnihuman.sleep(0.05) end)
    ol.spawn(function() omnihuman.sleep(0.2) end)
    state.first = ol.update()
    return true
  end,
  function()
    if ol.update() > 0 then return false end
    check(state.first == 2, "ol.update() returned 2 while two coroutines waited (got " .. tostring(state.first) .. ")")
    return true
  end,
  -- One coroutine fails, another finishes in the same turn: update() raises
  -- after resuming both.
  function()
    state.resumed = false
    -- Due first, so that any turn that finds the failing one due finds it too.
    ol.spawn(function() omnihuman.sleep(0.1); state.resumed = true end)
    ol.spawn(function() omnihuman.sleep(0.1); error("boom-love") end)
    return true
  end,
  function()
    local ok, err = pcall(ol.update)
    if ok and ol.pending() > 0 then return false end
    check(not ok and tostring(err):find("boom-love", 1, true) ~= nil, "the error is raised from ol.update(): " .. tostring(err))
    check(state.resumed, "after the other finished coroutine was resumed")
    check(ol.errors[#ol.errors] and ol.errors[#ol.errors]:find("boom-love", 1, true) ~= nil, "it is kept in ol.errors")
    return true
  end,
  function()
    ol.on_error = function(msg) state.taken = msg end
    ol.spawn(function() omnihuman.sleep(0.05); error("boom-taken") end)
    return true
  end,
  function()
    local ok = pcall(ol.update)
    if ok and ol.pending() > 0 then return false end
    check(ok and state.taken and state.taken:find("boom-taken", 1, true) ~= nil, "ol.on_error takes it instead")
    ol.on_error = nil
    return true
  end,
  -- A love.thread: its main code blocks in the loop until the answer.
  function()
    state.thread = love.thread.newThread(THREAD)
    state.thread:start(paths, cpaths, os.getenv("OMNIHUMAN_BASE_URL"), os.getenv("AIMLAPI_KEY"), "omh")
    state.t0 = love.timer.getTime()
    return true
  end,
  function()
    local got = love.thread.getChannel("omh"):pop()
    local terr = state.thread:getError()
    if not got and not terr and love.timer.getTime() - state.t0 < 20 then return false end
    check(got == "nil not_found", "a wait in a love.thread's main code returns the answer: " .. tostring(got or terr))
    -- The main thread, outside a coroutine: blocks until done, as documented.
    local st, err = omnihuman.new{}:poll("no-such-job")
    check(st == nil and err and err.kind == "not_found", "a main-thread wait blocks until its answer")
    return true
  end,
}

function love.update()
  frames = frames + 1
  if frames > 3000 then
    print("FAIL watchdog")
    love.event.quit(2)
    return
  end
  if steps[step] then
    if steps[step]() then step = step + 1 end
  else
    love.event.quit(failed == 0 and 0 or 1)
  end
  love.timer.sleep(0.005)
end
