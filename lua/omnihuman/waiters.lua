-- One place where coroutines (or anything else) wait for operations.
--
-- Every finished operation is noted once in its loop's done set
-- (loop:take_done()), whatever ended it: an answer, an error, a cancel from
-- any code, a close, the loop closing. Exactly one dispatcher per loop must
-- take those notes, or two schedulers on one loop would steal each other's:
-- this module is that dispatcher. Schedulers and host adapters park a wake
-- function on an operation here and call dispatch() after they drive the
-- loop; each wake function runs once, when its operation has finished.
--
--   local waiters = require("omnihuman.waiters")
--   waiters.park(loop, op, function(op) ... end)  -- false if op is done already
--   loop:run_once(block); waiters.dispatch(loop)  -- or: waiters.turn(loop, block)
--
-- The loop tells when dispatch() has work: loop:pollfd() is readable and
-- loop:timeout() is 0 while notes wait; loop:set_wakeup(fn) calls fn when
-- an operation ends outside a drive (for hosts that cannot watch a
-- descriptor).
local core = require("omnihuman.core")

local M = {}

-- loop -> { waiting = { [op] = wake }, n = count }
local registries = setmetatable({}, { __mode = "k" })

local function registry(loop)
  local r = registries[loop]
  if not r then
    r = { waiting = {}, n = 0 }
    registries[loop] = r
  end
  return r
end

--- Calls wake(op) once, from a later dispatch(loop), when op has finished.
--- Returns false (and parks nothing) when op has finished already.
function M.park(loop, op, wake)
  if M.finished(op) then return false end
  local r = registry(loop)
  if not r.waiting[op] then r.n = r.n + 1 end
  r.waiting[op] = wake
  return true
end

--- Forgets the wake function parked on op, if any (its waiter went away).
function M.unpark(loop, op)
  local r = registries[loop]
  if r and r.waiting[op] then
    r.waiting[op] = nil
    r.n = r.n - 1
  end
end

--- Operations parked on loop and not yet woken.
function M.pending(loop)
  local r = registries[loop]
  return r and r.n or 0
end

--- Takes the loop's finish notes and runs the wake function of each
--- finished operation that has one. Every wake runs even if one raises;
--- the first error is raised afterwards. Returns how many were woken.
function M.dispatch(loop)
  local r = registries[loop]
  if not r or r.n == 0 then
    loop:drop_done() -- nobody to wake: no set handed out
    return 0
  end
  local done = loop:take_done()
  local waiting, woken, first_err = r.waiting, 0, nil
  for op in pairs(done) do
    local wake = waiting[op]
    if wake then
      waiting[op] = nil
      r.n = r.n - 1
      woken = woken + 1
      local ok, err = pcall(wake, op)
      if not ok and first_err == nil then first_err = err end
    end
  end
  if first_err ~= nil then error(first_err, 0) end
  return woken
end

--- One turn: dispatch what finished already (an op ended by other code
--- while nobody drove), drive the loop (blocking at most `block` seconds,
--- not at all if that woke anyone), and dispatch again. Returns how many
--- were woken.
function M.turn(loop, block)
  local woken = M.dispatch(loop)
  if not loop:is_closed() then loop:run_once(woken > 0 and 0 or block or 0) end
  return woken + M.dispatch(loop)
end

--- The running coroutine, when it is not the main thread (nil there).
function M.coroutine()
  local co, main = coroutine.running()
  if co == nil or main then return nil end
  return co
end

-- loop -> { [owner] = fn }: the loop has one wakeup slot; every adapter
-- that watches it gets a share here.
local wakeups = setmetatable({}, { __mode = "k" })

--- Calls fn() whenever an operation of loop ends outside a drive (a cancel
--- or close from Lua code) and when the loop closes (before its descriptor
--- does). `owner` names the caller's share (an adapter's name); fn = nil
--- removes it. Several adapters may watch one loop.
function M.on_wakeup(loop, owner, fn)
  local fns = wakeups[loop]
  if not fns then
    if fn == nil then return end
    fns = {}
    wakeups[loop] = fns
    loop:set_wakeup(function()
      for _, f in pairs(fns) do pcall(f) end
    end)
  end
  fns[owner] = fn
  if next(fns) == nil then
    wakeups[loop] = nil
    if not loop:is_closed() then loop:set_wakeup(nil) end
  end
end

--- Whether op has finished or was closed (a closed op has no result left).
--- The coroutine omnihuman.run's scheduler is resuming right now, if any:
--- it parks whatever operation that coroutine yields.
M.scheduled = nil

function M.finished(op)
  return op:is_closed() or op:done()
end

--- What an awaited op ended with: its result, or, for an op that someone
--- closed meanwhile (its result is gone with it), a "cancelled" error.
function M.result(op)
  local closed, maybe_created = op:is_closed()
  if not closed then return op:result() end
  if maybe_created then
    local err = core.new_error("cancelled", "the operation was closed after the create request was sent:"
      .. " the job may exist and be billed; check your jobs before creating it again")
    err.maybe_created = true
    return nil, err
  end
  return nil, core.new_error("cancelled", "the operation was closed while awaited")
end

--- Inside a coroutine: parks it on op until a dispatch wakes it with
--- resume(co), yielding op meanwhile (a scheduler that does not know this
--- module receives the op and may step it). `parked`, if given, runs once
--- the wake is registered (an adapter arms its watchers there). Returns
--- what op ended with (as result(op)) once it is done.
---
--- Call it as a tail call (`return waiters.yield_until_done(...)`): a
--- waiting coroutine then holds one frame less, and 10,000 of them hold
--- that much less memory (each parked coroutine keeps its whole stack).
function M.yield_until_done(loop, op, resume, parked)
  if not M.finished(op) then
    local co = M.coroutine()
    -- The built-in scheduler parks what its coroutine yields with one wake
    -- function for all: a wake of ours would be a closure per wait, and
    -- garbage at once.
    local own = co ~= M.scheduled
    if own then M.park(loop, op, function() resume(co) end) end
    if parked then parked() end
    repeat coroutine.yield(op) until op:is_closed() or op:step()
    if own then M.unpark(loop, op) end
  end
  return M.result(op)
end

return M
