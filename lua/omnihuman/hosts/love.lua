-- LÖVE (11.x, LuaJIT): the loop is stepped from love.update, never blocking a
-- frame. Coroutines that await an operation are parked and resumed by
-- update() once it has finished.
--
--   local omnihuman = require("omnihuman")
--   local ol = omnihuman.use("love")             -- automatic inside LÖVE
--   function love.load()
--     ol.spawn(function()
--       local res, err = client:generate{ image = ..., audio = ..., output = ... }
--     end)
--   end
--   function love.update(dt) ol.update() end
--
-- update() does one non-blocking turn of every loop it knows (one
-- epoll_wait(0) and the transfers, timers and callbacks that are due), then
-- resumes the coroutines whose operations finished. Cost while nothing is in
-- flight: one table lookup per frame.
--
-- await() in the main thread (outside any coroutine) blocks in the loop until
-- the operation is done, freezing the frame: use spawn. In a love.thread
-- (its own Lua state, no love.update) blocking is what you want; the plain
-- adapter does that too.
local M = { name = "love" }

-- Per loop: { loop = loop, waiting = {op = co}, nwaiting = n }
local states = setmetatable({}, { __mode = "k" })
local order = {} -- loops in first-seen order (usually one)

M.errors = {}

local function report(msg)
  local e = M.errors
  e[#e + 1] = msg
  if #e > 20 then table.remove(e, 1) end
  if M.on_error then return M.on_error(msg) end
  error("omnihuman: " .. msg, 0) -- LÖVE shows it on its error screen
end

-- Returns the error message when co raised.
local function resume(co, ...)
  if coroutine.status(co) ~= "suspended" then return end
  local ok, err = coroutine.resume(co, ...)
  if not ok then return debug.traceback(co, tostring(err)) end
end

local function state(loop)
  local st = states[loop]
  if not st then
    st = { loop = loop, waiting = {}, nwaiting = 0 }
    states[loop] = st
    order[#order + 1] = loop
  end
  return st
end

function M.attach(loop)
  state(loop)
end

local function in_coroutine()
  local co, main = coroutine.running()
  return co ~= nil and not main, co
end

function M.await(loop, op)
  if op:done() then return op:result() end
  local inco, co = in_coroutine()
  if not inco then
    loop:run_until(op)
    return op:result()
  end
  local st = state(loop)
  if not st.waiting[op] then st.nwaiting = st.nwaiting + 1 end
  st.waiting[op] = co
  -- Resumed by update() once op is done; another scheduler resuming this
  -- coroutine gets the op and may step it.
  repeat coroutine.yield(op) until op:step()
  if st.waiting[op] then
    st.waiting[op] = nil
    st.nwaiting = st.nwaiting - 1
  end
  return op:result()
end

local function update_loop(st, failed)
  local loop = st.loop
  local alive, active = pcall(loop.active, loop)
  if not alive then -- the loop was closed: forget it
    states[loop] = nil
    for i = #order, 1, -1 do if order[i] == loop then table.remove(order, i) end end
    return
  end
  if st.nwaiting == 0 and active == 0 then return end
  loop:run_once(0)
  local waiting = st.waiting
  for op in pairs(loop:take_done()) do
    local co = waiting[op]
    if co then
      waiting[op] = nil
      st.nwaiting = st.nwaiting - 1
      failed[#failed + 1] = resume(co)
    end
  end
  if st.nwaiting > 0 and loop:active() == 0 then
    -- A finished operation's notice was taken by someone else: sweep.
    for op, co in pairs(waiting) do
      if op:done() or coroutine.status(co) == "dead" then
        waiting[op] = nil
        st.nwaiting = st.nwaiting - 1
        failed[#failed + 1] = resume(co)
      end
    end
  end
end

--- Call from love.update(dt): advances every loop without blocking and
--- resumes the coroutines whose operations finished. Returns the number of
--- operations still awaited.
function M.update()
  local n, failed = 0, {}
  for i = 1, #order do
    local st = states[order[i]]
    if st then
      update_loop(st, failed)
      n = n + st.nwaiting
    end
  end
  -- Every finished coroutine was resumed; now report what went wrong.
  for i = 1, #failed do report(failed[i]) end
  return n
end

--- Runs fn(...) as a coroutine now; update() continues it when an operation
--- it awaits finishes. An error in it is raised from update() (M.on_error
--- can take it instead).
function M.spawn(fn, ...)
  if type(fn) ~= "function" then error("omnihuman.love.spawn: expected a function", 2) end
  local co = coroutine.create(fn)
  local err = resume(co, ...)
  if err then report(err) end
  return co
end

--- Operations awaited through this adapter and not yet resumed.
function M.pending()
  local n = 0
  for i = 1, #order do
    local st = states[order[i]]
    if st then n = n + st.nwaiting end
  end
  return n
end

return M
