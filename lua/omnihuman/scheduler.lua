-- The built-in scheduler behind omnihuman.run/spawn: coroutines that yield
-- operations are resumed when the loop reports those operations finished.
-- Work per turn is proportional to what finished, never to what waits.
local Scheduler = {}
Scheduler.__index = Scheduler

local unpack = table.unpack or unpack
local pack = table.pack or function(...) return { n = select("#", ...), ... } end

function Scheduler.new(loop)
  return setmetatable({
    loop = loop,
    waiting = {},   -- op -> coroutine
    ready = {},     -- coroutines to resume this turn
    args = {},      -- coroutine -> packed first-resume arguments
    live = 0,       -- coroutines not yet finished
  }, Scheduler)
end

function Scheduler:spawn(fn, ...)
  local co = coroutine.create(fn)
  self.args[co] = pack(...)
  self.live = self.live + 1
  self.ready[#self.ready + 1] = co
  return co
end

local function is_op(v)
  return type(v) == "userdata" and type(v.step) == "function" and type(v.done) == "function"
end

function Scheduler:resume(co)
  local args = self.args[co]
  local ok, yielded
  if args then
    self.args[co] = nil
    ok, yielded = coroutine.resume(co, unpack(args, 1, args.n))
  else
    ok, yielded = coroutine.resume(co)
  end
  if not ok then
    self.live = self.live - 1
    error(debug.traceback(co, tostring(yielded)), 0)
  end
  if coroutine.status(co) == "dead" then
    self.live = self.live - 1
  elseif is_op(yielded) and not yielded:done() then
    self.waiting[yielded] = co
  else
    self.ready[#self.ready + 1] = co   -- a plain yield: go again next turn
  end
end

-- Runs until every coroutine has finished. Blocks in the loop (epoll with
-- the earliest deadline as timeout) whenever no coroutine is ready.
function Scheduler:run()
  local loop = self.loop
  while self.live > 0 do
    local ready = self.ready
    self.ready = {}
    for i = 1, #ready do self:resume(ready[i]) end
    if self.live == 0 then break end
    if #self.ready == 0 and loop:active() == 0 and next(self.waiting) == nil then
      error("omnihuman.run: coroutines are suspended on something that is not an omnihuman operation", 0)
    end
    loop:run_once(#self.ready > 0 and 0 or 3600)
    for op in pairs(loop:take_done()) do
      local co = self.waiting[op]
      if co then
        self.waiting[op] = nil
        self.ready[#self.ready + 1] = co
      end
    end
  end
end

return Scheduler
