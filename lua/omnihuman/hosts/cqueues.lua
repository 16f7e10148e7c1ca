-- cqueues (lua-cqueues, any Lua): operations awaited inside a cqueues
-- controller's coroutines.
--
-- cqueues takes only the yields that cqueues.poll makes, so a coroutine
-- never yields the operation itself: it waits on a cqueues condition of its
-- own. One driver coroutine per loop and controller polls the loop object
-- (the loop is pollable: pollfd(), events(), timeout()), turns it without
-- blocking and lets the shared dispatcher (omnihuman.waiters) signal the
-- condition of each waiter whose operation finished. A turn costs what
-- finished, not what waits; the driver ends when nothing is awaited or in
-- flight, and the next await starts it again.
--
--   local cqueues = require("cqueues")
--   local omnihuman = require("omnihuman")
--   local cq = cqueues.new()
--   cq:wrap(function()
--     local res, err = client:generate{ image = ..., audio = ... }
--   end)
--   assert(cq:loop())
--
-- Outside a cqueues-managed coroutine (the main thread, a plain coroutine)
-- await behaves like the plain adapter.
local cqueues = require("cqueues")
local condition = require("cqueues.condition")
local waiters = require("omnihuman.waiters")
local plain = require("omnihuman.hosts.plain")

---@class omnihuman.CqueuesAdapter : omnihuman.Adapter
local M = { name = "cqueues" }

-- loop -> { [controller] = condition } for the drivers running (weak loops).
-- The condition cuts a driver's poll short when the loop is closed (its
-- descriptor goes away) or an operation ends outside a drive.
local drivers = setmetatable({}, { __mode = "k" })

local function busy(loop)
  return not loop:is_closed() and (waiters.pending(loop) > 0 or loop:active() > 0)
end

local function drive(loop, cq, poke)
  local ok, err = true, nil
  while ok and busy(loop) do
    cqueues.poll(loop, poke) -- the loop's descriptor readable, its timeout, or a poke
    ok, err = pcall(waiters.turn, loop, 0)
  end
  drivers[loop][cq] = nil
  if not ok then error(err, 0) end -- a wake function raised: cq:loop() reports it
end

local function ensure_driver(loop, cq)
  local d = drivers[loop]
  if not d then
    d = setmetatable({}, { __mode = "k" })
    drivers[loop] = d
    local fd = loop:pollfd()
    waiters.on_wakeup(loop, "cqueues", function()
      if loop:is_closed() then
        -- Called while the descriptor is still open: every controller drops
        -- it now (it would fail to later, once the number is closed).
        cqueues.cancel(fd)
      end
      for _, poke in pairs(d) do poke:signal() end
    end)
  end
  if not d[cq] then
    local poke = condition.new()
    d[cq] = poke
    cq:wrap(drive, loop, cq, poke)
  end
end

--- Waits for op: inside a cqueues-managed coroutine on a condition that the
--- loop's driver signals once op has finished; elsewhere as plain does.
---@param loop omnihuman.Loop
---@param op omnihuman.Operation
---@return any value
---@return omnihuman.Error? err
function M.await(loop, op)
  if waiters.finished(op) then return waiters.result(op) end
  local cq, managed = cqueues.running()
  if not managed then return plain.await(loop, op) end
  local cond, woken = condition.new(), false
  local function wake()
    woken = true
    cond:signal()
  end
  waiters.park(loop, op, wake)
  ensure_driver(loop, cq)
  while not woken and not waiters.finished(op) do cond:wait() end
  waiters.unpark(loop, op, wake)
  return waiters.result(op)
end

return M
