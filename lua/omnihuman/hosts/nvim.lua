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

-- Per loop: { loop, poll, timer, polling, scheduled, waiting = {op = co}, nwaiting }
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

local function tick(st)
  st.scheduled = false
  if st.detached then return end
  local loop = st.loop
  st.ticking = true
  local ok, err = pcall(loop.run_once, loop, 0)
  local done = ok and loop:take_done() or {}
  st.ticking = false
  if not ok then report(tostring(err)) end
  local waiting = st.waiting
  for op in pairs(done) do
    local co = waiting[op]
    if co then
      waiting[op] = nil
      st.nwaiting = st.nwaiting - 1
      resume(co)
    end
  end
  -- Someone else (omnihuman.run, a direct op:step()) may have taken a finished
  -- operation's notice from the loop: when nothing is in flight, sweep.
  local alive, active = pcall(loop.active, loop)
  if st.nwaiting > 0 and alive and active == 0 then
    for op, co in pairs(waiting) do
      if op:done() or coroutine.status(co) == "dead" then
        waiting[op] = nil
        st.nwaiting = st.nwaiting - 1
        resume(co)
      end
    end
  end
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
  local alive, active = pcall(loop.active, loop)
  if not alive then return M.detach(loop) end -- the loop was closed
  if st.nwaiting == 0 and active == 0 then
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
  st = { loop = loop, waiting = {}, nwaiting = 0, polling = false, scheduled = false }
  st.poll = assert(uv.new_poll(loop:pollfd()))
  st.timer = assert(uv.new_timer())
  st.on_wake = function() wake(st) end
  states[loop] = st
  return st
end

local function in_coroutine()
  local co, main = coroutine.running()
  return co ~= nil and not main, co
end

function M.attach(loop)
  state(loop)
end

function M.await(loop, op)
  if op:done() then return op:result() end
  local st = state(loop)
  local inco, co = in_coroutine()
  if inco then
    if not st.waiting[op] then st.nwaiting = st.nwaiting + 1 end
    st.waiting[op] = co
    arm(st)
    -- Resumed by the tick once op is done. Another scheduler resuming this
    -- coroutine (cqueues, omnihuman.run) gets the op and may step it.
    repeat coroutine.yield(op) until op:step()
    if st.waiting[op] then
      st.waiting[op] = nil
      st.nwaiting = st.nwaiting - 1
    end
    return op:result()
  end
  if st.ticking or vim.in_fast_event() then
    -- vim.wait is not allowed here; the loop is ours to block on.
    loop:run_until(op)
    return op:result()
  end
  arm(st)
  local n = 0
  while not op:done() do
    -- The poll/timer ticks keep running inside vim.wait; the condition is
    -- only checked, never used to drive.
    vim.wait(1000, function() return op:done() end, 20)
    n = n + 1
    if n % 10 == 0 and not op:done() then arm(st) end
  end
  arm(st)
  return op:result()
end

--- Runs fn(...) as a coroutine now; it continues on the main loop whenever an
--- operation it awaits finishes. Errors are reported with vim.notify.
function M.spawn(fn, ...)
  if type(fn) ~= "function" then error("omnihuman.nvim.spawn: expected a function", 2) end
  local co = coroutine.create(fn)
  resume(co, ...)
  return co
end

--- Operations this adapter is waiting for on loop (for tests and :checkhealth).
function M.pending(loop)
  local st = states[loop]
  return st and st.nwaiting or 0
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
end

return M
