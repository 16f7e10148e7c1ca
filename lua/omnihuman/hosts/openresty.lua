-- OpenResty / ngx_lua (LuaJIT): one driver per worker; a waiting request
-- sleeps on a semaphore of its own and is woken when its operation ends.
--
-- The driver is one light thread (an ngx.timer.at callback) per worker's
-- loop, started by the first await and ended when nothing is awaited or in
-- flight. It turns the loop without blocking and lets the shared dispatcher
-- (omnihuman.waiters) post the semaphore of each waiter whose operation
-- finished, so a turn costs what finished, not what waits. A wake turns the
-- loop again at once while loop:timeout() is 0 (requests a turn admitted
-- reach curl in the same wake), at most M.max_turns_per_wake times. ngx
-- cannot watch the loop's descriptor, so between wakes the driver sleeps on
-- its own semaphore: while transfers are in flight (loop:transfers()),
-- M.min_sleep right after something happened, doubling up to M.max_sleep
-- (the longest a socket event can go unnoticed); with none, until the
-- loop's next deadline (a status check, a retry; at most M.max_idle_sleep).
-- A new await whose operation is due before the driver's planned wake, a
-- cancel or close from any code (loop:set_wakeup) cut the sleep short.
--
-- Never a raw coroutine.yield (ngx_lua would take it for one of its own
-- waits) and never a blocking wait in the worker. Works in rewrite, access
-- and content handlers, ngx.thread.spawn threads and ngx.timer.at callbacks;
-- in init_by_lua / init_worker_by_lua (no semaphores, no sleeping) it blocks
-- in the loop; in the other phases it raises.
--
-- A waiter whose request went away (the client closed the connection and
-- `lua_check_client_abort on` ended the request) is noticed by the driver
-- within M.sweep_interval: its operation is cancelled and forgotten.
--
-- One loop per worker: the module (and its loop) is per Lua VM, which is per
-- worker. Create clients in the worker (a handler, init_worker_by_lua, or
-- lazily), not in init_by_lua.
local waiters = require("omnihuman.waiters")

---@class omnihuman.OpenrestyAdapter : omnihuman.Adapter
local M = { name = "openresty" }

M.min_sleep = 0.001     -- seconds: the driver's first sleep after activity
M.max_sleep = 0.05      -- seconds: upper bound on reaction time to socket activity
M.max_idle_sleep = 10   -- seconds: longest driver sleep with no transfer in flight
M.sweep_interval = 1    -- seconds between looks for waiters whose request went away
M.wait_slice = 60       -- seconds per semaphore wait of a waiter (it waits again)
M.max_turns_per_wake = 8 -- loop turns in one wake of the driver while more is due at once
M.timer_slack = 0.002   -- seconds a wake for a deadline comes late: deadlines that close share it

local SLEEPABLE = {
  rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true, preread = true,
}
local BLOCKING_OK = { init = true, init_worker = true }

local semaphore -- ngx.semaphore, loaded on first use (it needs a running worker)

-- Whether the loop's descriptor is readable now (socket work or notices):
-- an epoll_wait with no timeout, through LuaJIT's FFI.
local ready
do
  local ok, ffi = pcall(require, "ffi")
  if ok then
    pcall(ffi.cdef, [[
      typedef union omh_epoll_data { void *ptr; int fd; uint32_t u32; uint64_t u64; } omh_epoll_data_t;
      struct omh_epoll_event { uint32_t events; omh_epoll_data_t data; } __attribute__((packed));
      int epoll_wait(int epfd, struct omh_epoll_event *events, int maxevents, int timeout);
    ]])
    local ev = ffi.new("struct omh_epoll_event[1]")
    ready = function(fd) return ffi.C.epoll_wait(fd, ev, 1, 0) > 0 end
  else
    ready = function() return false end
  end
end

-- One semaphore per waiting light thread, reused by its next wait (a wait
-- always leaves its count at 0: one post, one wait).
local thread_semas = setmetatable({}, { __mode = "k" })
local function thread_sema()
  local co = coroutine.running()
  local s = thread_semas[co]
  if not s then
    s = semaphore.new()
    thread_semas[co] = s
  end
  return s
end

-- Per loop: { loop, fd, sema, running, sleeping, wake_at, waiting = { [op] = semaphore },
-- nwaiting, last_sweep, wake = the one wake function parked for every waiter }
local states = setmetatable({}, { __mode = "k" })

-- wakes: the driver's wakes; turns: loop turns (several per wake when more is due at once)
M.stats = { drivers_started = 0, wakes = 0, turns = 0, swept = 0 }

local function log_err(...)
  ngx.log(ngx.ERR, "omnihuman: ", ...)
end

local function forget(st, op)
  if st.waiting[op] then
    st.waiting[op] = nil
    st.nwaiting = st.nwaiting - 1
  end
  waiters.unpark(st.loop, op, st.wake)
end

-- Waiters whose light thread is gone: a semaphore with nobody waiting on it
-- (a woken waiter has left st.waiting already). Their operations are
-- cancelled (nobody takes the result).
local function sweep(st)
  local n = 0
  for op, sema in pairs(st.waiting) do
    if sema:count() >= 0 then
      forget(st, op)
      n = n + 1
      if not waiters.finished(op) then op:cancel() end
    end
  end
  M.stats.swept = M.stats.swept + n
  return n
end

local driver

-- Starts the loop's driver unless it runs; pokes it when it sleeps past
-- the loop's next deadline (a new operation that is due now: a request to
-- send; not a status check due after the driver's planned wake).
local function wake_driver(st)
  if st.running then
    if st.sleeping then
      local t = st.loop:timeout()
      -- ngx.now() is the time of this event cycle, never later than the
      -- real time: the sleep left is overestimated, so it pokes when in doubt.
      -- Within min_sleep of the planned wake it waits for that wake: requests
      -- arriving together share one.
      if t == nil or ngx.now() + t + M.min_sleep < st.wake_at then
        st.sleeping = false
        st.sema:post(1)
      end
    end
    return true
  end
  local ok, err = ngx.timer.at(0, driver, st)
  if not ok then return false, err end
  st.running = true
  M.stats.drivers_started = M.stats.drivers_started + 1
  return true
end

-- Waits not yet woken, or work in flight.
local function busy(st)
  return not st.loop:is_closed() and (waiters.pending(st.loop) > 0 or st.loop:active() > 0)
end

-- A timer callback; run even when premature (the worker is exiting): the
-- requests still waiting there are served to the end.
driver = function(_, st)
  local loop, backoff = st.loop, M.min_sleep
  local exiting = ngx.worker.exiting
  while true do
    local t_before = loop:is_closed() and nil or loop:timeout()
    -- Socket activity only matters to the backoff, which only runs while
    -- transfers are in flight: no system call on the other wakes.
    local busy_sockets = t_before ~= nil and loop:transfers() > 0 and ready(st.fd)
    -- One wake does all that is due now: requests admitted by a turn are
    -- handed to curl by the next one, without a sleep in between.
    local woken, n = 0, 0
    local t -- loop:timeout() after the last turn (nil: nothing armed)
    repeat
      local ok, w = pcall(waiters.turn, loop, 0)
      if not ok then
        log_err("a wake raised: ", tostring(w))
        w = 1
      end
      woken, n = woken + w, n + 1
      t = not loop:is_closed() and loop:timeout() or nil
    until t ~= 0 or n >= M.max_turns_per_wake
    M.stats.wakes, M.stats.turns = M.stats.wakes + 1, M.stats.turns + n
    local now = ngx.now()
    if now - st.last_sweep >= M.sweep_interval then
      st.last_sweep = now
      -- Cancels end operations: their notices make the loop due now.
      if sweep(st) > 0 then t = not loop:is_closed() and loop:timeout() or nil end
    end
    if not busy(st) then break end
    if exiting() and waiters.pending(loop) == 0 then
      -- A worker shutting down keeps no work nobody waits for.
      break
    end
    local d
    if loop:transfers() > 0 then
      -- Sockets in use: poll fast after something happened (socket events,
      -- a finish, a deadline that was due), backing off while nothing does.
      if busy_sockets or woken > 0 or (t_before ~= nil and t_before <= 0) then
        backoff = M.min_sleep
      else
        backoff = math.min(backoff * 2, M.max_sleep)
      end
      d = backoff
    else
      -- Only timers: sleep to the next one (a new wait or a cancel pokes).
      backoff = M.min_sleep
      d = M.max_idle_sleep
    end
    if t ~= nil and t + M.timer_slack < d then d = t + M.timer_slack end
    if d < M.min_sleep then d = M.min_sleep end
    st.sleeping, st.wake_at = true, ngx.now() + d
    st.sema:wait(d)
    st.sleeping = false
  end
  st.running, st.sleeping = false, false
end

local function state(loop)
  local st = states[loop]
  if st then return st end
  semaphore = semaphore or require("ngx.semaphore")
  st = { loop = loop, fd = loop:pollfd(), sema = semaphore.new(), running = false, sleeping = false,
         wake_at = 0, waiting = {}, nwaiting = 0, last_sweep = ngx.now() }
  states[loop] = st
  -- Posts the semaphore of op's waiter (run by the dispatcher once op ended).
  st.wake = function(op)
    local sema = st.waiting[op]
    if sema then
      st.waiting[op] = nil
      st.nwaiting = st.nwaiting - 1
      sema:post(1)
    end
  end
  -- An operation ended outside a drive (a cancel, a close, the loop closing):
  -- the driver dispatches it now rather than at its next turn.
  waiters.on_wakeup(loop, "openresty", function()
    if st.sleeping then
      st.sleeping = false
      st.sema:post(1)
    end
  end)
  return st
end

-- When no driver can run (no free timer): the waiter steps the loop itself
-- between short sleeps.
local function await_stepping(loop, op)
  local backoff = M.min_sleep
  while not waiters.finished(op) do
    local t, d = loop:timeout(), backoff
    if t ~= nil and t < d then d = t end
    ngx.sleep(math.max(d, M.min_sleep))
    backoff = math.min(backoff * 2, M.max_sleep)
    waiters.turn(loop, 0)
  end
  return waiters.result(op)
end

---@param loop omnihuman.Loop
---@param op omnihuman.Operation
---@return any value
---@return omnihuman.Error? err
function M.await(loop, op)
  if waiters.finished(op) then return waiters.result(op) end
  local phase = ngx.get_phase()
  if not SLEEPABLE[phase] then
    if BLOCKING_OK[phase] then
      loop:run_until(op)
      return waiters.result(op)
    end
    error(("omnihuman: cannot wait for an operation in ngx_lua's '%s' phase "
      .. "(use a content handler or ngx.timer.at)"):format(tostring(phase)), 3)
  end
  local st = state(loop)
  local sema = thread_sema()
  if not st.waiting[op] then st.nwaiting = st.nwaiting + 1 end
  st.waiting[op] = sema
  waiters.park(loop, op, st.wake)
  local started, err = wake_driver(st)
  if not started then
    forget(st, op)
    log_err("no driver (", tostring(err), "): this request steps the loop itself")
    return await_stepping(loop, op)
  end
  while not waiters.finished(op) do
    local ok, werr = sema:wait(M.wait_slice)
    if not ok and werr ~= "timeout" then
      forget(st, op)
      error("omnihuman: waiting on a semaphore failed: " .. tostring(werr), 2)
    end
  end
  forget(st, op)
  return waiters.result(op)
end

--- Starts fn(...) in a light thread of the current request (ngx.thread.spawn);
--- returns the thread for ngx.thread.wait.
---@param fn function
---@return thread|any
function M.spawn(fn, ...)
  return ngx.thread.spawn(fn, ...)
end

--- Requests (or timers) waiting on loop's operations in this worker.
---@param loop omnihuman.Loop
---@return integer
function M.pending(loop)
  local st = states[loop]
  return st and st.nwaiting or 0
end

--- Whether loop's driver light thread is running.
---@param loop omnihuman.Loop
---@return boolean
function M.driving(loop)
  local st = states[loop]
  return st ~= nil and st.running
end

return M
