-- Drives loops from libuv, for the adapters of hosts built on it (nvim, luv).
--
-- libuv allows one poll handle per descriptor, and every operation shares
-- its loop's descriptor: so one uv poll handle on loop:pollfd() and one
-- one-shot uv timer at loop:timeout() per loop, started while anything is
-- awaited or in flight and stopped when nothing is (no wakeups, no CPU; a
-- uv.run() can return). When either fires, the loop is turned without
-- blocking (waiters.turn(loop, 0)) and the shared dispatcher resumes the
-- coroutines whose operations finished. A turn costs what finished, not
-- what waits.
--
--   local driver = uv_driver.new{ uv = uv, name = "luv", report = report, resume = resume,
--                                 in_callback = ..., wait = ... }
--   M.attach, M.await, M.detach = driver.attach, driver.await, driver.detach
local waiters = require("omnihuman.waiters")

local M = {}

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

--- A driver for one adapter. opts:
---   uv             vim.uv, vim.loop or luv
---   name           the adapter's name (its share of the loop's wakeup)
---   report(msg)    where an error raised by a turn goes
---   resume(co)     how a parked coroutine is continued
---   defer(fn)      optional: runs fn later on the host's main loop (Neovim:
---                  vim.schedule); each turn then runs there, not in the uv
---                  callback, and the handles are stopped until it has run
---                  (the descriptor stays readable until the turn drains
---                  it: a level-triggered poll would spin)
---   in_callback()  whether the host's loop cannot be waited on here (a uv
---                  callback): an await outside a coroutine then blocks in
---                  the omnihuman loop
---   wait(op, arm)  an await in the main thread: waits on the host's loop
---                  until op has finished; arm() watches what the loop needs
--- Returns { attach(loop), await(loop, op), detach(loop), state(loop), arm(st) }.
function M.new(opts)
  local uv, report, defer = opts.uv, opts.report, opts.defer
  local states = setmetatable({}, { __mode = "k" }) -- loop -> its handles and flags
  local d = {}

  -- Soon after the current callback: on the main loop, or a uv timer at 0.
  local later = defer or function(fn)
    local t = uv.new_timer()
    t:start(0, 0, function()
      t:close()
      fn()
    end)
  end

  --- Watches what st's loop needs next: its descriptor and a timer at its
  --- next deadline; nothing when it is idle, closed, or a turn is scheduled.
  function d.arm(st)
    if st.scheduled or st.detached then return end
    local loop = st.loop
    if loop:is_closed() then return d.detach(loop) end
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

  -- One non-blocking turn, then the wakes of what finished; st.busy while
  -- it runs (an await there must not wait on the host's loop).
  local function turn(st)
    st.scheduled = false
    if st.detached then return end
    st.busy = true
    local ok, err = pcall(waiters.turn, st.loop, 0)
    st.busy = false
    if not ok then report(tostring(err)) end
    d.arm(st)
  end

  --- The loop's handles and flags, made on first use.
  function d.state(loop)
    local st = states[loop]
    if st then return st end
    st = { loop = loop, polling = false, timing = false, scheduled = false, busy = false, detached = false }
    st.poll = assert(uv.new_poll(loop:pollfd()))
    st.timer = assert(uv.new_timer())
    if defer then
      -- Called in libuv's fast context: only schedule the real work.
      st.on_ready = function()
        if st.scheduled then return end
        st.scheduled = true
        stop(st)
        defer(function() turn(st) end)
      end
    else
      st.on_ready = function() turn(st) end
    end
    states[loop] = st
    -- An op ended outside a drive makes the descriptor readable, which the
    -- poll sees; a closing loop calls this first, while its descriptor is
    -- still open: stop watching it now, dispatch the last notices
    -- (cancelled waits) right after.
    waiters.on_wakeup(loop, opts.name, function()
      if loop:is_closed() then
        d.detach(loop)
        later(function()
          local ok, err = pcall(waiters.dispatch, loop)
          if not ok then report(tostring(err)) end
        end)
      end
    end)
    return st
  end

  function d.attach(loop)
    d.state(loop)
  end

  --- Waits for op: a coroutine is parked until a turn's dispatch resumes it
  --- (another scheduler resuming it, omnihuman.run say, gets the op and may
  --- step it); elsewhere see in_callback and wait.
  function d.await(loop, op)
    if waiters.finished(op) then return waiters.result(op) end
    local st = d.state(loop)
    local function arm() d.arm(st) end
    if waiters.coroutine() then return waiters.yield_until_done(loop, op, opts.resume, arm) end
    if st.busy or opts.in_callback() then
      loop:run_until(op)
    else
      opts.wait(op, arm)
      arm()
    end
    return waiters.result(op)
  end

  --- Stops watching loop and closes its uv handles.
  function d.detach(loop)
    local st = states[loop]
    if not st then return end
    states[loop] = nil
    st.detached = true
    stop(st)
    st.poll:close()
    st.timer:close()
    waiters.on_wakeup(loop, opts.name, nil)
  end

  return d
end

return M
