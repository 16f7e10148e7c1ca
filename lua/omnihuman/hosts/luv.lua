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

---@class omnihuman.LuvAdapter : omnihuman.Adapter
local M = { name = "luv" }

-- Per loop: { loop, poll, timer, polling, timing }
local states = setmetatable({}, { __mode = "k" })

M.errors = {} -- the last few errors raised by resumed coroutines

local function report(msg)
  local e = M.errors
  e[#e + 1] = msg
  if #e > 20 then table.remove(e, 1) end
  if M.on_error then return M.on_error(msg) end
  io.stderr:write("omnihuman: ", msg, "\n")
end

local function resume(co, ...)
  if coroutine.status(co) ~= "suspended" then return end
  local ok, err = coroutine.resume(co, ...)
  if not ok then report(debug.traceback(co, tostring(err))) end
end

local function stop(st)
  if st.polling then
    st.poll:stop()
    st.polling = false
  end
  if st.timing then
    st.timer:stop()
    st.timing = false
  end
end

-- Watches what the loop needs next; nothing when it is idle.
local function arm(st)
  local loop = st.loop
  if loop:is_closed() then return M.detach(loop) end
  if waiters.pending(loop) == 0 and loop:active() == 0 then return stop(st) end
  if not st.polling then
    st.poll:start("r", st.on_ready)
    st.polling = true
  end
  local t = loop:timeout()
  if t then
    st.timer:start(math.ceil(t * 1000), 0, st.on_ready)
    st.timing = true
  elseif st.timing then
    st.timer:stop()
    st.timing = false
  end
end

-- A uv callback: one non-blocking turn, then the wakes of what finished.
local function turn(st)
  st.turning = true
  local ok, err = pcall(waiters.turn, st.loop, 0)
  st.turning = false
  if not ok then report(tostring(err)) end
  if states[st.loop] == st then arm(st) end
end

local function state(loop)
  local st = states[loop]
  if st then return st end
  st = { loop = loop, polling = false, timing = false, turning = false }
  st.poll = assert(uv.new_poll(loop:pollfd()))
  st.timer = assert(uv.new_timer())
  st.on_ready = function() turn(st) end
  states[loop] = st
  -- A closing loop calls this while its descriptor is still open: stop
  -- watching it now; the last notices (cancelled waits) are dispatched next.
  waiters.on_wakeup(loop, "luv", function()
    if loop:is_closed() then
      M.detach(loop)
      local t = uv.new_timer()
      t:start(0, 0, function()
        t:close()
        local ok, err = pcall(waiters.dispatch, loop)
        if not ok then report(tostring(err)) end
      end)
    end
  end)
  return st
end

---@param loop omnihuman.Loop
function M.attach(loop)
  state(loop)
end

---@param loop omnihuman.Loop
---@param op omnihuman.Operation
---@return any value
---@return omnihuman.Error? err
function M.await(loop, op)
  if waiters.finished(op) then return waiters.result(op) end
  local st = state(loop)
  if waiters.coroutine() then
    -- Parked until a turn's dispatch resumes it from a uv callback; under
    -- omnihuman.run the scheduler takes the op over and resumes it itself.
    waiters.yield_until_done(loop, op, resume, function() arm(st) end)
    return waiters.result(op)
  end
  if st.turning or uv.loop_mode() ~= nil then
    -- Inside a uv callback: uv.run cannot be re-entered; block in our loop.
    loop:run_until(op)
    return waiters.result(op)
  end
  -- The main thread, outside uv.run: run the uv loop until op is done.
  while not waiters.finished(op) do
    arm(st)
    uv.run("once")
  end
  arm(st)
  return waiters.result(op)
end

--- Runs fn(...) as a coroutine now; it continues from the uv loop whenever
--- an operation it awaits finishes. Errors go to M.on_error(msg), else to
--- stderr, and are kept in M.errors.
---@param fn function
---@return thread|any
function M.spawn(fn, ...)
  if type(fn) ~= "function" then error("omnihuman.luv.spawn: expected a function", 2) end
  local co = coroutine.create(fn)
  resume(co, ...)
  return co
end

--- Operations awaited on loop.
---@param loop omnihuman.Loop
---@return integer
function M.pending(loop)
  return waiters.pending(loop)
end

--- Stops watching loop and closes the uv handles.
---@param loop omnihuman.Loop
function M.detach(loop)
  local st = states[loop]
  if not st then return end
  states[loop] = nil
  stop(st)
  st.poll:close()
  st.timer:close()
  waiters.on_wakeup(loop, "luv", nil)
end

return M
