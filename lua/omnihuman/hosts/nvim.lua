-- Neovim (0.7+, LuaJIT): the loop is watched by libuv, never blocked on.
--
-- A uv poll handle watches the loop's descriptor (readable when curl has
-- socket work) and a one-shot uv timer fires at loop:timeout() (curl's
-- timers, retry backoff, the interval between status checks). When either
-- fires, one tick is scheduled on the main loop (vim.schedule): it drives the
-- loop without blocking (loop:run_once(0)) and resumes the coroutines whose
-- operations finished. While nothing is in flight both handles are stopped:
-- no wakeups, no CPU. Callbacks (on_status, on_progress, on_event) and the
-- resumed coroutines run in the main loop, where every vim.api call is
-- allowed.
--
--   local omnihuman = require("omnihuman")
--   local nv = omnihuman.use("nvim")        -- automatic inside Neovim
--   nv.spawn(function()
--     local res, err = client:generate{ image = ..., audio = ..., output = ... }
--     vim.notify(res and res.output or tostring(err))
--   end)
--
-- await() inside any coroutine (nv.spawn, or one of a plugin's own) parks
-- the coroutine and returns when the operation is done. In the main thread
-- it waits with vim.wait, which keeps the editor's events flowing (the UI is
-- still busy for that long: prefer coroutines); in a fast (libuv) callback,
-- where vim.wait is not allowed, it blocks in the loop (loop:run_until).
local M = { name = "nvim" }

local uv = vim.uv or vim.loop
local waiters = require("omnihuman.waiters")
local coroutines = require("omnihuman.hosts.coroutines")
local uv_driver = require("omnihuman.hosts.uv_driver")

-- M.errors: the last few errors raised by resumed coroutines (also notified).
local report = coroutines.reporter(M, function(msg)
  -- One prefix: a raised omnihuman error already reads "omnihuman: <kind>: ...".
  vim.notify("omnihuman: " .. msg:gsub("^omnihuman: ", ""), vim.log.levels.ERROR)
end)
local resume = coroutines.resumer(report)

-- Each turn runs on the main loop (vim.schedule), never in libuv's fast
-- context; nothing is ever missed: every finish, a cancel from other code
-- included, makes the descriptor readable until the dispatcher takes it.
local driver = uv_driver.new{
  uv = uv, name = "nvim", report = report, resume = resume,
  defer = function(fn) vim.schedule(fn) end,
  -- vim.wait is not allowed in a fast event; the loop is ours to block on.
  in_callback = function() return vim.in_fast_event() end,
  wait = function(op, arm)
    arm()
    local n = 0
    while not waiters.finished(op) do
      -- The poll/timer ticks keep running inside vim.wait; the condition is
      -- only checked, never used to drive.
      vim.wait(1000, function() return waiters.finished(op) end, 20)
      n = n + 1
      if n % 10 == 0 and not waiters.finished(op) then arm() end
    end
  end,
}

-- attach(loop); await(loop, op); detach(loop): stops watching loop (e.g.
-- before closing it, or on VimLeavePre). pending(loop): operations awaited
-- on loop (for tests and :checkhealth).
M.attach, M.await, M.detach, M.pending = driver.attach, driver.await, driver.detach, waiters.pending

--- Runs fn(...) as a coroutine now; it continues on the main loop whenever an
--- operation it awaits finishes. Errors are reported with vim.notify.
M.spawn = coroutines.spawner("nvim", resume)

return M
