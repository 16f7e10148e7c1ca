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
--- Several wakes may be parked on one op (several coroutines awaiting it):
--- each runs. Returns false (and parks nothing) when op has finished already.
function M.park(loop, op, wake)
  if M.finished(op) then return false end
  local r = registry(loop)
  local w = r.waiting[op]
  if w == nil then
    r.n = r.n + 1
    r.waiting[op] = wake
  elseif type(w) == "table" then
    w[#w + 1] = wake
  else
    r.waiting[op] = { w, wake }
  end
  return true
end

--- Forgets one wake function parked on op (its waiter went away); every
--- one when wake is nil.
function M.unpark(loop, op, wake)
  local r = registries[loop]
  local w = r and r.waiting[op]
  if w == nil then return end
  if type(w) == "table" and wake ~= nil then
    for i = #w, 1, -1 do
      if w[i] == wake then
        table.remove(w, i)
        break
      end
    end
    if #w > 0 then return end
  elseif wake ~= nil and w ~= wake then
    return
  end
  r.waiting[op] = nil
  r.n = r.n - 1
end

--- Operations parked on loop and not yet woken.
function M.pending(loop)
  local r = registries[loop]
  return r and r.n or 0
end

-- Runs one wake; returns the first error seen so far.
local function call_wake(wake, op, first_err)
  local ok, err = pcall(wake, op)
  if not ok and first_err == nil then return err end
  return first_err
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
    local w = waiting[op]
    if w ~= nil then
      waiting[op] = nil
      r.n = r.n - 1
      if type(w) == "table" then
        for i = 1, #w do first_err = call_wake(w[i], op, first_err) end
        woken = woken + #w
      else
        first_err = call_wake(w, op, first_err)
        woken = woken + 1
      end
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

--- The coroutine omnihuman.run's scheduler is resuming right now, if any:
--- it parks whatever operation that coroutine yields.
M.scheduled = nil
--- True while omnihuman.run's scheduler runs (errors of coroutines woken
--- then are the run's to raise).
M.in_run = false

--- Whether op has finished or was closed (a closed op has no result left).
function M.finished(op)
  return op:is_closed() or op:done()
end

-- op -> the id of the paid job it works for (client:generate's wait and
-- download): an error a callback raises through it names the job.
local job_of = setmetatable({}, { __mode = "k" })

--- Ties op to a paid job: a callback error that op:result() raises again
--- gets the job id (err.job_id on a table, a line on a string).
function M.for_job(op, id)
  job_of[op] = id
  return op
end

local function with_job(e, id)
  local line = ("job %s was created (and billed): wait for it with client:wait(%q)"):format(id, id)
  if type(e) == "table" then
    if rawget(e, "job_id") == nil then pcall(rawset, e, "job_id", id) end
    return e
  end
  return tostring(e) .. "\n" .. line
end

--- What an awaited op ended with: its result, or, for an op that someone
--- closed meanwhile (its result is gone with it), a "cancelled" error that
--- still names a job its create had made, or says one may exist.
function M.result(op)
  local closed, maybe_created, job_id = op:is_closed()
  if not closed then
    local id = job_of[op]
    if not id then return op:result() end
    local ok, res, err = pcall(op.result, op)
    if not ok then error(with_job(res, id), 0) end
    return res, err
  end
  if job_id then
    local err = core.new_error("cancelled", ("the operation was closed after its create had made job %s:"
      .. " it exists and is billed; wait for it with client:wait(%q)"):format(job_id, job_id))
    err.job_id = job_id
    return nil, err
  end
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
    local wake = co ~= M.scheduled and function() resume(co) end or nil
    if wake then M.park(loop, op, wake) end
    if parked then parked() end
    repeat coroutine.yield(op) until op:is_closed() or op:step()
    if wake then M.unpark(loop, op, wake) end
  end
  return M.result(op)
end

return M
