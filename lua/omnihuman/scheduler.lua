-- The built-in scheduler behind omnihuman.run/spawn: coroutines that yield
-- operations are parked in omnihuman.waiters and resumed when their
-- operations finish. Work per turn is proportional to what finished, never
-- to what waits.
local waiters = require("omnihuman.waiters")

local Scheduler = {}
Scheduler.__index = Scheduler

local unpack = table.unpack or unpack
local pack = table.pack or function(...) return { n = select("#", ...), ... } end

function Scheduler.new(loop)
  local s
  s = setmetatable({
    loop = loop,
    waiting = {},   -- op -> coroutine parked on it (until that coroutine resumes)
    woken = {},     -- coroutine -> the op it was woken for
    ready = {},     -- coroutines to resume this turn
    args = {},      -- coroutine -> packed first-resume arguments
    live = 0,       -- coroutines not yet finished
  }, Scheduler)
  -- One wake function for every park: nothing allocated per wait.
  s.on_wake = function(op) s:wake(op) end
  return s
end

function Scheduler:spawn(fn, ...)
  local co = coroutine.create(fn)
  -- Most spawns pass no arguments: no table for them.
  if select("#", ...) > 0 then self.args[co] = pack(...) end
  self.live = self.live + 1
  self.ready[#self.ready + 1] = co
  return co
end

local function is_op(v)
  return type(v) == "userdata" and type(v.step) == "function" and type(v.done) == "function"
end

function Scheduler:wake(op)
  local co = self.waiting[op]
  self.woken[co] = op
  self.ready[#self.ready + 1] = co
end

function Scheduler:resume(co)
  local woken = self.woken[co]
  if woken then
    self.woken[co] = nil
    self.waiting[woken] = nil
  end
  local args = self.args[co]
  local ok, yielded
  local outer = waiters.scheduled
  waiters.scheduled = co
  if args then
    self.args[co] = nil
    ok, yielded = coroutine.resume(co, unpack(args, 1, args.n))
  else
    ok, yielded = coroutine.resume(co)
  end
  waiters.scheduled = outer
  if not ok then
    self.live = self.live - 1
    error(debug.traceback(co, tostring(yielded)), 0)
  end
  if coroutine.status(co) == "dead" then
    self.live = self.live - 1
  elseif is_op(yielded) and not waiters.finished(yielded) then
    self.waiting[yielded] = co
    waiters.park(self.loop, yielded, self.on_wake)
  else
    self.ready[#self.ready + 1] = co   -- a plain yield: go again next turn
  end
end

-- Runs until every coroutine has finished. Blocks in the loop (epoll with
-- the earliest deadline as timeout) whenever no coroutine is ready; an
-- operation that finishes for any reason, a cancel from another coroutine
-- included, wakes its coroutine in the next turn.
function Scheduler:run()
  local loop = self.loop
  while self.live > 0 do
    local ready = self.ready
    self.ready = {}
    for i = 1, #ready do self:resume(ready[i]) end
    if self.live == 0 then break end
    waiters.turn(loop, #self.ready > 0 and 0 or 3600)
    if #self.ready == 0 and (loop:is_closed() or (loop:active() == 0 and loop:timeout() == nil)) then
      error("omnihuman.run: coroutines are suspended on something that is not an operation of this loop", 0)
    end
  end
end

-- When run() unwinds on an error: nothing awaited may be billed unseen.
-- Creates whose request may have reached the service get their answer
-- (never retried); everything else is cancelled. Returns a line per create
-- that made, or may have made, a job its coroutine never saw.
function Scheduler:abandon()
  local loop, creates, notes = self.loop, {}, {}
  for op in pairs(self.waiting) do
    waiters.unpark(loop, op)
    if not op:is_closed() then
      if op:kind() == "create" then creates[#creates + 1] = op end
      if not op:done() then op:settle() end
    end
  end
  self.waiting, self.woken = {}, {}
  for _, op in ipairs(creates) do
    if not op:is_closed() and not op:done() and not loop:is_closed() then pcall(loop.run_until, loop, op) end
    if not op:is_closed() and op:done() then
      local okr, res, err = pcall(op.result, op)
      if okr and res and res.id then
        notes[#notes + 1] = ("job %s was created (and billed) by a coroutine that did not finish:"
          .. " wait for it with client:wait(%q)"):format(res.id, res.id)
      elseif okr and err and err.maybe_created then
        notes[#notes + 1] = "a create may have reached the service (" .. tostring(err) .. ")"
      end
    end
  end
  return notes
end

return Scheduler
