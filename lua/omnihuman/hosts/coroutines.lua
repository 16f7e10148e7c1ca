-- What the adapters that resume coroutines themselves (nvim, luv, love)
-- share: the errors of those coroutines, kept and reported, and spawn.
--
--   local coroutines = require("omnihuman.hosts.coroutines")
--   local report = coroutines.reporter(M, function(msg) io.stderr:write(msg, "\n") end)
--   local resume = coroutines.resumer(report)
--   M.spawn = coroutines.spawner("luv", resume)
local M = {}

M.KEEP = 20 -- errors kept in an adapter's `errors` list

--- Gives adapter its `errors` list and returns report(msg): msg is kept in
--- adapter.errors (the last KEEP), then goes to adapter.on_error(msg) when
--- the program set one, else to sink(msg) (the host's own way to show it).
function M.reporter(adapter, sink)
  adapter.errors = {}
  return function(msg)
    local e = adapter.errors
    e[#e + 1] = msg
    if #e > M.KEEP then table.remove(e, 1) end
    if adapter.on_error then return adapter.on_error(msg) end
    return sink(msg)
  end
end

--- Returns resume(co, ...): resumes co if it is suspended (nobody else
--- resumed it first); an error it raises goes to fail(traceback).
function M.resumer(fail)
  return function(co, ...)
    if coroutine.status(co) ~= "suspended" then return end
    local ok, err = coroutine.resume(co, ...)
    if not ok then fail(debug.traceback(co, tostring(err))) end
  end
end

--- Returns the adapter's spawn(fn, ...): runs fn(...) as a coroutine now
--- with resume, calls after() (if given) once it yields or ends, and
--- returns the coroutine.
function M.spawner(name, resume, after)
  local message = "omnihuman." .. name .. ".spawn: expected a function"
  return function(fn, ...)
    if type(fn) ~= "function" then error(message, 2) end
    local co = coroutine.create(fn)
    resume(co, ...)
    if after then after() end
    return co
  end
end

return M
