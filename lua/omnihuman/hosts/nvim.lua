-- Neovim (0.7+, LuaJIT): the loop is watched by libuv, never blocked on.
--
-- A uv poll handle watches the loop's descriptor (readable when curl has
-- socket work) and a one-shot uv timer fires at loop:timeout() (curl's
-- timers, retry backoff, the interval between status checks). When either
-- fires, one tick is scheduled on the main loop (vim.schedule): it drives the
-- loop without blocking (loop:run_once(0)) and resumes the coroutines whose
-- operations finished. While nothing is in flight both handles are stopped:
-- no wakeups, no CPU. Callbacks (on_status, on_progress, on_event) and the
-- resumed coroutines run in the main loop, where every vim.api call is
-- allowed.
--
--   local omnihuman = require("omnihuman")
--   local nv = omnihuman.use("nvim")        -- automatic inside Neovim
--   nv.spawn(function()
--     local res, err = client:generate{ image = ..., audio = ..., output = ... }
--     vim.notify(res and res.output or tostring(err))
--   end)
--
-- await() inside any coroutine (nv.spawn, or one of a plugin's own) parks
-- the coroutine and returns when the operation is done. In the main thread
-- it waits with vim.wait, which keeps the editor's events flowing (the UI is
-- still busy for that long: prefer coroutines); in a fast (libuv) callback,
-- where vim.wait is not allowed, it blocks in the loop (loop:run_until).
local M = { name = "nvim" }

local uv = vim.uv or vim.loop
local waiters = require("omnihuman.waiters")

-- Per loop: { loop, poll, timer, polling, scheduled }
local states = setmetatable({}, { __mode = "k" })

M.errors = {} -- the last few errors raised by resumed coroutines (also notified)

local function report(msg)
  local e = M.errors
  e[#e + 1] = msg
  if #e > 20 then table.remove(e, 1) end
  if M.on_error then return M.on_error(msg) end
  vim.notify("omnihuman: " .. msg, vim.log.levels.ERROR)
end

local function resume(co, ...)
  if coroutine.status(co) ~= "suspended" then return end
  local ok, err = coroutine.resume(co, ...)
  if not ok then report(debug.traceback(co, tostring(err))) end
end

local arm, wake

-- One turn on the main loop: drive without blocking, then let the shared
-- dispatcher resume whoever waits on what finished (nothing is ever missed:
-- every finish, a cancel from other code included, makes the descriptor
-- readable until the dispatcher takes it).
local function tick(st)
  st.scheduled = false
  if st.detached then return end
  st.ticking = true
  local ok, err = pcall(waiters.turn, st.loop, 0)
  st.ticking = false
  if not ok then report(tostring(err)) end
  arm(st)
end

-- Called in libuv's fast context: only schedule the real work.
wake = function(st)
  if st.scheduled then return end
  st.scheduled = true
  -- The descriptor stays readable until the tick drains it: stop watching
  -- meanwhile so a level-triggered poll does not spin.
  if st.polling then
    st.poll:stop()
    st.polling = false
  end
  st.timer:stop()
  vim.schedule(function() tick(st) end)
end

arm = function(st)
  if st.scheduled or st.detached then return end
  local loop = st.loop
  if loop:is_closed() then return M.detach(loop) end
  if waiters.pending(loop) == 0 and loop:active() == 0 then
    -- Idle: no handle active, no wakeups.
    if st.polling then
      st.poll:stop()
      st.polling = false
    end
    st.timer:stop()
    return
  end
  if not st.polling then
    st.poll:start("r", st.on_wake)
    st.polling = true
  end
  local t = loop:timeout()
  if t then
    st.timer:start(math.ceil(t * 1000), 0, st.on_wake)
  else
    st.timer:stop()
  end
end

local function state(loop)
  local st = states[loop]
  if st then return st end
  st = { loop = loop, polling = false, scheduled = false }
  st.poll = assert(uv.new_poll(loop:pollfd()))
  st.timer = assert(uv.new_timer())
  st.on_wake = function() wake(st) end
  states[loop] = st
  -- An op ended outside a drive makes the descriptor readable, which the
  -- poll sees; a closing loop calls this first, while its descriptor is
  -- still open: stop watching it now, dispatch the last notices next tick.
  waiters.on_wakeup(loop, "nvim", function()
    if loop:is_closed() then
      M.detach(loop)
      vim.schedule(function() pcall(waiters.dispatch, loop) end)
    end
  end)
  return st
end

function M.attach(loop)
  state(loop)
end

function M.await(loop, op)
  if waiters.finished(op) then return waiters.result(op) end
  local st = state(loop)
  if waiters.coroutine() then
    -- Parked until a tick's dispatch resumes it; another scheduler resuming
    -- this coroutine (omnihuman.run) gets the op and may step it.
    waiters.yield_until_done(loop, op, resume, function() arm(st) end)
    return waiters.result(op)
  end
  if st.ticking or vim.in_fast_event() then
    -- vim.wait is not allowed here; the loop is ours to block on.
    loop:run_until(op)
    return waiters.result(op)
  end
  arm(st)
  local n = 0
  while not waiters.finished(op) do
    -- The poll/timer ticks keep running inside vim.wait; the condition is
    -- only checked, never used to drive.
    vim.wait(1000, function() return waiters.finished(op) end, 20)
    n = n + 1
    if n % 10 == 0 and not waiters.finished(op) then arm(st) end
  end
  arm(st)
  return waiters.result(op)
end

--- Runs fn(...) as a coroutine now; it continues on the main loop whenever an
--- operation it awaits finishes. Errors are reported with vim.notify.
function M.spawn(fn, ...)
  if type(fn) ~= "function" then error("omnihuman.nvim.spawn: expected a function", 2) end
  local co = coroutine.create(fn)
  resume(co, ...)
  return co
end

--- Operations awaited on loop (for tests and :checkhealth).
function M.pending(loop)
  return waiters.pending(loop)
end

--- Stops watching loop (e.g. before closing it, or on VimLeavePre).
function M.detach(loop)
  local st = states[loop]
  if not st then return end
  states[loop] = nil
  st.detached = true
  st.timer:stop()
  if st.polling then st.poll:stop() end
  st.poll:close()
  st.timer:close()
  waiters.on_wakeup(loop, "nvim", nil)
end

return M
