-- Counts, for the foreign-scheduler specs, who looks at the loop: calls of
-- loop:pollfd() and op:pollfd() (one driver per loop polls the loop; no
-- waiter should poll anything), dispatcher turns, and waiters woken.
-- probe.start() wraps the methods; probe.stop() puts them back and returns
-- the counts.
local omnihuman = require("omnihuman")
local waiters = require("omnihuman.waiters")
local assert = require("luassert")

local probe = {}
local saved

function probe.start()
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

function probe.stop()
  local s = assert(saved, "probe not started")
  saved = nil
  s[1].pollfd, s[3].pollfd, waiters.turn, waiters.dispatch = s[2], s[4], s[5], s[6]
  return s[7]
end

--- This process's CPU seconds (user + system).
probe.cpu = os.clock

-- Under valgrind (its preload library is in the environment) or the
-- sanitizers, time bounds stretch and the big runs shrink.
local valgrind = (os.getenv("LD_PRELOAD") or ""):find("vgpreload", 1, true) ~= nil or os.getenv("VALGRIND") ~= nil
probe.SLOW = valgrind and 50 or os.getenv("ASAN_OPTIONS") and 20 or 1
probe.MANY = valgrind and 40 or 200

--- The same work under omnihuman.run: n x client:generate(fields).
--- Returns CPU seconds, wall seconds, completed count.
function probe.baseline(client, n, fields)
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

--- Runs fn(...) with the counts on; raises what fn raised. Returns the
--- counts, CPU seconds and wall seconds it took.
function probe.measure(fn, ...)
  local counts = probe.start()
  local cpu0, t0 = probe.cpu(), omnihuman.core.now()
  local ok, err = pcall(fn, ...)
  local cpu, wall = probe.cpu() - cpu0, omnihuman.core.now() - t0
  probe.stop()
  if not ok then error(err, 0) end
  return counts, cpu, wall
end

--- What every foreign-scheduler run of n generations must show: prints its
--- line (`label`, `most`: what was sampled at most, e.g. "4 uv handles"),
--- then checks that all n completed, no waiter polled an op, each of the 2n
--- awaits was woken once, the loop turned when something happened (not
--- once per waiter), CPU stayed far below wall, and about what
--- omnihuman.run spends on the same work (measured now with base_client).
function probe.check_run(label, r, base_client, fields)
  local n, counts, cpu, wall = r.n, r.counts, r.cpu, r.wall
  print(("\n%s: %d generations in %.2f s wall, %.3f s CPU (%.1f%%); %d turns, %d woken, "
    .. "%d loop polls, %d op polls, at most %s"):format(label, r.done, wall, cpu, cpu / wall * 100,
    counts.turns, counts.woken, counts.loop_pollfd, counts.op_pollfd, r.most))
  assert.equals(n, r.done)
  assert.equals(0, counts.op_pollfd)
  assert.equals(2 * n, counts.woken)
  -- ~4 requests per job (a create, 3 status checks)
  assert.is_true(counts.turns <= 12 * n, ("%d turns for %d jobs"):format(counts.turns, n))
  assert.is_true(cpu < wall * 0.5 * probe.SLOW, ("CPU %.3f s over %.2f s wall"):format(cpu, wall))
  local base_cpu, base_wall, base_done = probe.baseline(base_client, n, fields)
  print(("omnihuman.run, same work: %.3f s CPU over %.2f s wall (%d completed)"):format(base_cpu, base_wall,
    base_done))
  assert.equals(n, base_done)
  assert.is_true(cpu < base_cpu * 2.5 + 0.05, ("%.3f s CPU vs %.3f s under omnihuman.run"):format(cpu, base_cpu))
end

return probe
