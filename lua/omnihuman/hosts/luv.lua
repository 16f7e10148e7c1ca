-- luv (libuv for Lua, any Lua): operations awaited by coroutines that a luv
-- event loop runs.
--
-- libuv allows one poll handle per descriptor, and every operation shares
-- its loop's descriptor: so one uv poll handle on loop:pollfd() and one uv
-- timer at loop:timeout() per loop, started while anything is awaited or in
-- flight and stopped when nothing is (uv.run() can then return). When
-- either fires, the loop is turned without blocking and the shared
-- dispatcher (omnihuman.waiters) resumes each coroutine whose operation
-- finished, from that uv callback. A turn costs what finished, not what
-- waits.
--
--   local uv = require("luv")
--   local omnihuman = require("omnihuman")
--   local lv = omnihuman.use("luv")
--   lv.spawn(function()
--     local res, err = client:generate{ image = ..., audio = ... }
--   end)
--   uv.run()
--
-- Outside a coroutine, await runs the uv loop (uv.run("once")) until the
-- operation is done, so other uv handles keep working; inside a uv callback,
-- where uv.run cannot be re-entered, it blocks in the omnihuman loop.
local uv = require("luv")
local waiters = require("omnihuman.waiters")
local coroutines = require("omnihuman.hosts.coroutines")
local uv_driver = require("omnihuman.hosts.uv_driver")

---@class omnihuman.LuvAdapter : omnihuman.Adapter
---@field detach fun(loop: omnihuman.Loop) stops watching loop and closes the uv handles
---@field errors string[] the last errors raised by resumed coroutines
---@field on_error? fun(msg: string) takes those errors instead of stderr
local M = { name = "luv" }

-- M.errors: the last few errors raised by resumed coroutines.
local report = coroutines.reporter(M, function(msg)
  io.stderr:write("omnihuman: ", msg, "\n")
end)
local resume = coroutines.resumer(report)

-- Each turn runs in the uv callback that saw the loop ready.
local driver = uv_driver.new{
  uv = uv, name = "luv", report = report, resume = resume,
  -- Inside a uv callback uv.run cannot be re-entered: block in our loop.
  in_callback = function() return uv.loop_mode() ~= nil end,
  -- The main thread, outside uv.run: run the uv loop until op is done.
  wait = function(op, arm)
    while not waiters.finished(op) do
      arm()
      uv.run("once")
    end
  end,
}

-- The driver's attach, await and detach (see the fields above); pending(loop):
-- operations awaited on loop.
M.attach, M.await, M.detach, M.pending = driver.attach, driver.await, driver.detach, waiters.pending

--- Runs fn(...) as a coroutine now; it continues from the uv loop whenever
--- an operation it awaits finishes. Errors go to M.on_error(msg), else to
--- stderr, and are kept in M.errors.
---@type fun(fn: function, ...): thread
M.spawn = coroutines.spawner("luv", resume)

return M
