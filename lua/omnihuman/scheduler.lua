-- The built-in scheduler behind omnihuman.run/spawn: coroutines that yield
-- operations are parked in omnihuman.waiters and resumed when their
-- operations finish. Work per turn is proportional to what finished, never
-- to what waits.
--
-- Paid jobs: the scheduler answers for every create started inside its run
-- until a coroutine of its own has been resumed with the create's result,
-- and for every job id so received until the coroutine that got it ends
-- normally (or, for client:generate, until generate returns). When run
-- unwinds on an error, it settles those creates and names every such job
-- (Scheduler:abandon), so no job the service may have made is dropped
-- without its id reaching the caller.
local waiters = require("omnihuman.waiters")

local Scheduler = {}
Scheduler.__index = Scheduler

local unpack = table.unpack or unpack
local pack = table.pack or function(...) return { n = select("#", ...), ... } end

function Scheduler.new(loop)
  local s
  s = setmetatable({
    loop = loop,
    waiting = {},   -- op -> the coroutine parked on it, or a list of them
    woken = {},     -- coroutine -> the op it was woken for
    ready = {},     -- coroutines to resume this turn
    args = {},      -- coroutine -> packed first-resume arguments
    live = 0,       -- coroutines not yet finished
    creates = {},   -- create op started in this run -> true, until delivered
    waits = {},     -- wait op -> the held job id it waits for
    held = {},      -- job id -> the coroutine it was delivered to
    held_by = {},   -- coroutine -> { [job id] = true }
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

--- A create started while this run is in progress: answered for until a
--- coroutine of the run is resumed with its result.
function Scheduler:track_create(op) self.creates[op] = true end

--- A wait for a job this run holds: its final status releases the job.
function Scheduler:track_wait(op, id)
  if self.held[id] then self.waits[op] = id end
end

function Scheduler:hold(co, id)
  local prev = self.held[id]
  if prev then
    local ids = self.held_by[prev]
    if ids then ids[id] = nil end
  end
  self.held[id] = co
  local ids = self.held_by[co]
  if not ids then
    ids = {}
    self.held_by[co] = ids
  end
  ids[id] = true
end

--- The job's id has reached whoever asked for it (generate returned, or a
--- wait saw its final status): nothing to name if the run unwinds.
function Scheduler:release(id)
  local co = self.held[id]
  if not co then return end
  self.held[id] = nil
  local ids = self.held_by[co]
  if ids then ids[id] = nil end
end

-- The op co was woken for is about to be read by co: what it delivers.
function Scheduler:delivered(co, op)
  local wait_for = self.waits[op]
  self.creates[op], self.waits[op] = nil, nil
  local closed, _, kept = op:is_closed()
  if closed then
    if kept and not wait_for then self:hold(co, kept) end
    return
  end
  local ok, res, err = pcall(op.result, op)
  if not ok then return end -- a callback's error, raised in co with the job named
  if wait_for then
    if res or (err and err.kind == "generation_failed") then self:release(wait_for) end
  elseif type(res) == "table" and type(res.id) == "string" then
    self:hold(co, res.id)
  end
end

local function ready_up(self, co, op)
  self.woken[co] = op
  self.ready[#self.ready + 1] = co
end

function Scheduler:wake(op)
  local w = self.waiting[op]
  self.waiting[op] = nil
  if type(w) == "table" then
    for i = 1, #w do ready_up(self, w[i], op) end
  elseif w then
    ready_up(self, w, op)
  end
end

function Scheduler:park(co, op)
  local w = self.waiting[op]
  if w == nil then
    self.waiting[op] = co
    waiters.park(self.loop, op, self.on_wake)
  elseif type(w) == "table" then
    w[#w + 1] = co
  else
    self.waiting[op] = { w, co }
  end
end

function Scheduler:resume(co)
  local woken = self.woken[co]
  if woken then
    self.woken[co] = nil
    if self.creates[woken] or self.waits[woken] then self:delivered(co, woken) end
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
    -- An error object (a table, say an omnihuman error) is raised as it is,
    -- keeping its kind and fields; anything else as text with the traceback.
    local t = type(yielded)
    if t == "table" or t == "userdata" then error(yielded, 0) end
    error(debug.traceback(co, tostring(yielded)), 0)
  end
  if coroutine.status(co) == "dead" then
    self.live = self.live - 1
    local ids = self.held_by[co]
    if ids then
      self.held_by[co] = nil
      for id in pairs(ids) do self.held[id] = nil end
    end
  elseif is_op(yielded) and not waiters.finished(yielded) then
    if yielded:loop() ~= self.loop then
      error("omnihuman.run: a coroutine awaits an operation of another loop"
        .. " (made before omnihuman.loop() was closed and replaced, or on a loop of your own):"
        .. " omnihuman.run drives only its own loop", 0)
    end
    self:park(co, yielded)
  else
    self.ready[#self.ready + 1] = co   -- a plain yield: go again next turn
  end
end

-- Runs until every coroutine has finished. Blocks in the loop (epoll with
-- the earliest deadline as timeout) whenever no coroutine is ready; an
-- operation that finishes for any reason, a cancel from another coroutine
-- included, wakes its coroutines in the next turn.
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

local function note_for(op)
  local closed, maybe_created, kept = op:is_closed()
  if closed then
    if kept then return kept end
    if maybe_created then return nil, "a create was closed after its request may have reached the service" end
    return
  end
  if not op:done() then return nil, "a create may have reached the service (its answer never came)" end
  local okr, res, err = pcall(op.result, op)
  if okr and type(res) == "table" and type(res.id) == "string" then return res.id end
  if okr and type(err) == "table" and err.maybe_created then
    return nil, "a create may have reached the service (" .. tostring(err) .. ")"
  end
end

-- When run() unwinds on an error: nothing paid may be dropped unseen.
-- Creates of the run not yet delivered to a coroutine, and ops its
-- coroutines await, are settled: a create whose request may have reached
-- the service gets its answer (never retried); everything else is
-- cancelled. Returns a line per job that was created, or may have been,
-- whose id did not reach a coroutine that finished.
function Scheduler:abandon()
  local loop, creates, notes = self.loop, {}, {}
  local function settle(op)
    waiters.unpark(loop, op, self.on_wake)
    if op:is_closed() then
      creates[op] = true -- note_for reads what a closed create kept
      return
    end
    if op:kind() == "create" then creates[op] = true end
    if not op:done() then op:settle() end
  end
  for op in pairs(self.waiting) do settle(op) end
  for _, op in pairs(self.woken) do settle(op) end
  for op in pairs(self.creates) do settle(op) end
  self.waiting, self.woken, self.creates, self.waits = {}, {}, {}, {}
  local jobs = {}
  for id in pairs(self.held) do jobs[id] = true end
  for op in pairs(creates) do
    if not op:is_closed() and not op:done() and not loop:is_closed() then pcall(loop.run_until, loop, op) end
    local id, text = note_for(op)
    if id then
      jobs[id] = true
    elseif text then
      notes[#notes + 1] = text
    end
  end
  local ids = {}
  for id in pairs(jobs) do ids[#ids + 1] = id end
  table.sort(ids)
  for i = #ids, 1, -1 do
    table.insert(notes, 1, ("job %s was created (and billed) for a coroutine that did not finish:"
      .. " wait for it with client:wait(%q)"):format(ids[i], ids[i]))
  end
  self.held, self.held_by = {}, {}
  return notes
end

return Scheduler
