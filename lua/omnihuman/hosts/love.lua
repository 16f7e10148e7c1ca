-- LÖVE (11.x, LuaJIT): the loop is stepped from love.update, never blocking a
-- frame. Coroutines that await an operation are parked and resumed by
-- update() once it has finished.
--
--   local omnihuman = require("omnihuman")
--   local ol = omnihuman.use("love")             -- automatic inside LÖVE
--   function love.load()
--     ol.spawn(function()
--       local res, err = client:generate{ image = ..., audio = ..., output = ... }
--     end)
--   end
--   function love.update(dt) ol.update() end
--
-- update() does one non-blocking turn of every loop it knows (one
-- epoll_wait(0) and the transfers, timers and callbacks that are due), then
-- resumes the coroutines whose operations finished. Cost while nothing is in
-- flight: one table lookup per frame.
--
-- await() in the main thread (outside any coroutine) blocks in the loop until
-- the operation is done, freezing the frame: use spawn. In a love.thread
-- (its own Lua state, no love.update) blocking is what you want; the plain
-- adapter does that too.
local waiters = require("omnihuman.waiters")
local coroutines = require("omnihuman.hosts.coroutines")

local M = { name = "love" }

-- Loops seen, in first-seen order (usually one).
local order = {}
local known = setmetatable({}, { __mode = "k" })

-- M.errors: the last few errors raised by resumed coroutines.
local report = coroutines.reporter(M, function(msg)
  error("omnihuman: " .. msg, 0) -- LÖVE shows it on its error screen
end)

-- Errors of coroutines resumed during one update(), reported after all ran.
local failed = {}

local resume = coroutines.resumer(function(msg) failed[#failed + 1] = msg end)

local function report_failed()
  local errs = failed
  failed = {}
  for i = 1, #errs do report(errs[i]) end
end

function M.attach(loop)
  if known[loop] then return end
  known[loop] = true
  order[#order + 1] = loop
end

function M.await(loop, op)
  if waiters.finished(op) then return waiters.result(op) end
  if not waiters.coroutine() then
    loop:run_until(op)
    return waiters.result(op)
  end
  M.attach(loop)
  -- Resumed by update() once op is done; another scheduler resuming this
  -- coroutine gets the op and may step it.
  return waiters.yield_until_done(loop, op, resume)
end

--- Call from love.update(dt): advances every loop without blocking and
--- resumes the coroutines whose operations finished. Returns the number of
--- operations still awaited.
function M.update()
  local n = 0
  for i = #order, 1, -1 do
    local loop = order[i]
    if waiters.pending(loop) > 0 or (not loop:is_closed() and loop:active() > 0) then
      local ok, err = pcall(waiters.turn, loop, 0)
      if not ok then failed[#failed + 1] = tostring(err) end
    end
    if loop:is_closed() and waiters.pending(loop) == 0 then
      table.remove(order, i) -- the loop was closed and its last notices dispatched
      known[loop] = nil
    end
    n = n + waiters.pending(loop)
  end
  -- Every finished coroutine was resumed; now report what went wrong.
  report_failed()
  return n
end

--- Runs fn(...) as a coroutine now; update() continues it when an operation
--- it awaits finishes. An error in it is raised from update() (M.on_error
--- can take it instead).
M.spawn = coroutines.spawner("love", resume, report_failed)

--- Operations awaited through this adapter and not yet resumed.
function M.pending()
  local n = 0
  for i = 1, #order do n = n + waiters.pending(order[i]) end
  return n
end

return M
