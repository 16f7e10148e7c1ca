-- Counts, for the foreign-scheduler specs, who looks at the loop: calls of
-- loop:pollfd() and op:pollfd() (one driver per loop polls the loop; no
-- waiter should poll anything), dispatcher turns, and waiters woken.
-- probe.start() wraps the methods; probe.stop() puts them back and returns
-- the counts.
local omnihuman = require("omnihuman")
local waiters = require("omnihuman.waiters")

local P = {}
local saved

function P.start()
  assert(not saved, "probe already started")
  local counts = { loop_pollfd = 0, op_pollfd = 0, turns = 0, woken = 0 }
  local loop_methods = getmetatable(omnihuman.loop()).__index
  local op_methods = getmetatable(omnihuman.core.sleep_op(omnihuman.loop(), 0)).__index
  saved = { loop_methods, loop_methods.pollfd, op_methods, op_methods.pollfd, waiters.turn, waiters.dispatch, counts }
  local loop_pollfd, op_pollfd, turn, dispatch = loop_methods.pollfd, op_methods.pollfd, waiters.turn,
    waiters.dispatch
  loop_methods.pollfd = function(...) counts.loop_pollfd = counts.loop_pollfd + 1; return loop_pollfd(...) end
  op_methods.pollfd = function(...) counts.op_pollfd = counts.op_pollfd + 1; return op_pollfd(...) end
  waiters.turn = function(...) counts.turns = counts.turns + 1; return turn(...) end
  waiters.dispatch = function(...)
    local n = dispatch(...)
    counts.woken = counts.woken + n
    return n
  end
  return counts
end

function P.stop()
  local s = assert(saved, "probe not started")
  saved = nil
  s[1].pollfd, s[3].pollfd, waiters.turn, waiters.dispatch = s[2], s[4], s[5], s[6]
  return s[7]
end

--- This process's CPU seconds (user + system).
P.cpu = os.clock

-- Under valgrind (its preload library is in the environment) or the
-- sanitizers, time bounds stretch and the big runs shrink.
local valgrind = (os.getenv("LD_PRELOAD") or ""):find("vgpreload", 1, true) ~= nil or os.getenv("VALGRIND") ~= nil
P.SLOW = valgrind and 50 or os.getenv("ASAN_OPTIONS") and 20 or 1
P.MANY = valgrind and 40 or 200

--- The same work under omnihuman.run: n x client:generate(fields).
--- Returns CPU seconds, wall seconds, completed count.
function P.baseline(client, n, fields)
  local done = 0
  local cpu0, t0 = os.clock(), omnihuman.core.now()
  omnihuman.run(function()
    for _ = 1, n do
      omnihuman.spawn(function()
        local res = client:generate(fields)
        if res and tostring(res.status):lower() == "completed" then done = done + 1 end
      end)
    end
  end)
  return os.clock() - cpu0, omnihuman.core.now() - t0, done
end

return P
