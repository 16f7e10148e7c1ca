-- Plain Lua (lua5.x, LuaJIT, LÖVE threads): inside a coroutine an operation is
-- parked in omnihuman.waiters and yielded to whoever resumes the coroutine
-- (omnihuman.run's scheduler resumes it when the operation has finished; a
-- scheduler of your own may resume it earlier: it then steps the operation
-- and yields again). In the main thread the loop is driven in C (epoll, no
-- spinning) until the operation finishes.
local waiters = require("omnihuman.waiters")

local plain = { name = "plain" }

local function resume(co)
  -- Woken by a dispatcher that is not a scheduler (a host adapter's turn):
  -- resume the coroutine only if nobody else has already.
  if coroutine.status(co) == "suspended" then
    local ok, err = coroutine.resume(co)
    if not ok then error(err, 0) end
  end
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
