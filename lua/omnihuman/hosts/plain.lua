-- Plain Lua (lua5.x, LuaJIT, LÖVE threads): inside a coroutine an operation is
-- parked in omnihuman.waiters and yielded to whoever resumes the coroutine
-- (omnihuman.run's scheduler resumes it when the operation has finished; a
-- scheduler of your own may resume it earlier: it then steps the operation
-- and yields again). In the main thread the loop is driven in C (epoll, no
-- spinning) until the operation finishes.
local waiters = require("omnihuman.waiters")
local coroutines = require("omnihuman.hosts.coroutines")

local plain = { name = "plain" }

-- A coroutine this adapter resumes (its operation finished while some other
-- code drove the loop) has no caller to raise into: its error must not end
-- that other code's wait, which may hold a paid job. Inside omnihuman.run
-- the run raises it (and names the jobs in flight); elsewhere it is kept in
-- plain.errors and goes to plain.on_error(msg) when set, else to stderr.
local report = coroutines.reporter(plain, function(msg)
  io.stderr:write("omnihuman: error in a coroutine: ", msg, "\n")
end)

local function resume(co)
  -- Resume the coroutine only if nobody else has already.
  if coroutine.status(co) ~= "suspended" then return end
  local ok, err = coroutine.resume(co)
  if ok then return end
  if waiters.in_run then error(err, 0) end
  report(debug.traceback(co, tostring(err)))
end

function plain.await(loop, op)
  if waiters.coroutine() then
    return waiters.yield_until_done(loop, op, resume) -- a tail call: no frame of ours while parked
  end
  if not op:is_closed() then
    loop:run_until(op) -- returns at once for a finished op
    -- Its own notice and any others: taken here, so loop:timeout() and
    -- pollfd() do not keep saying there is something to dispatch.
    waiters.dispatch(loop)
  end
  return waiters.result(op)
end

return plain
