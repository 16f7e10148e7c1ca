-- What every headless-Neovim host test needs: printing, checks, a watchdog,
-- and ending the editor with :qall! (all checks passed) or :cquit N.
-- Neovim 0.7.2 has no `nvim -l`: tests are sourced with -c 'luafile ...'
-- and end the editor themselves. Load with dofile(); returns a new harness.
local uv = vim.uv or vim.loop

return function(tag, watchdog_seconds)
  local H = { checks = 0, failures = {} }
  local T0 = uv.hrtime()

  function H.now() return (uv.hrtime() - T0) / 1e9 end

  function H.out(fmt, ...)
    io.stdout:write(("[%s %6.3f] " .. fmt .. "\n"):format(tag, H.now(), ...))
    io.stdout:flush()
  end

  function H.env(k)
    return assert(os.getenv(k), k .. " not set (run spec/hosts/run.sh)")
  end

  function H.check(ok, what)
    H.checks = H.checks + 1
    H.out("%s %s", ok and "ok  " or "FAIL", what)
    if not ok then H.failures[#H.failures + 1] = what end
    return ok
  end

  local finished = false
  function H.finish(code, why)
    if finished then return end
    finished = true
    if code == 0 then H.out("PASS %s", why) else H.out("FAIL %s", why) end
    vim.schedule(function()
      if code == 0 then vim.cmd("qall!") else vim.cmd("cquit " .. code) end
    end)
  end

  --- Records every vim.notify message, in order (H.notes: { msg, level }),
  --- and prints it. Returns noted(pattern, level, from): the first
  --- message from index `from` matching pattern (and level when given), and its index.
  function H.capture_notify()
    H.notes = {}
    vim.notify = function(msg, level)
      H.notes[#H.notes + 1] = { msg = tostring(msg), level = level or vim.log.levels.INFO }
      H.out("notify[%d] %s", level or 2, tostring(msg))
    end
    return function(pattern, level, from)
      for i = from or 1, #H.notes do
        local n = H.notes[i]
        if n.msg:find(pattern) and (level == nil or n.level == level) then return n, i end
      end
    end
  end

  --- Ends the run with the verdict of every check made so far.
  function H.judge()
    if #H.failures == 0 then
      H.finish(0, ("%d checks"):format(H.checks))
    else
      H.finish(1, ("%d of %d checks failed"):format(#H.failures, H.checks))
    end
  end

  --- Runs fn, turning an error into a failed run.
  function H.run(fn)
    local ok, err = xpcall(fn, debug.traceback)
    if not ok then
      H.out("error: %s", tostring(err))
      H.finish(1, "the test raised")
    end
  end

  -- Never hang CI.
  local watchdog = uv.new_timer()
  watchdog:start(watchdog_seconds * 1000, 0, function()
    H.finish(2, ("watchdog: not done within %d s"):format(watchdog_seconds))
  end)

  return H
end
