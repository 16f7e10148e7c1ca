-- OpenResty / ngx_lua (LuaJIT): operations are awaited with ngx.sleep between
-- non-blocking steps, so the worker keeps serving other requests meanwhile.
--
-- Never a raw coroutine.yield (ngx_lua would take it for one of its own waits
-- and the request would hang) and never a blocking wait in the worker. Each
-- step drives the worker's whole loop without blocking (op:step()), so every
-- light thread waiting on it advances too. ngx cannot watch the loop's
-- descriptor, so socket readiness is noticed by stepping: right after a
-- deadline (a request starts) every M.min_sleep, backing off by doubling to
-- M.max_sleep; a deadline (curl's timers, the retry backoff, the interval
-- between status checks) is slept to exactly.
--
-- Works in rewrite/access/content handlers, in ngx.thread.spawn threads and in
-- ngx.timer.at callbacks. In init_by_lua / init_worker_by_lua (no ngx.sleep)
-- it blocks in the loop instead; in the other phases it raises.
--
-- One loop per worker: the module (and its loop) is per Lua VM, which is per
-- worker. Create clients in the worker (a handler, init_worker_by_lua, or
-- lazily), not in init_by_lua: a loop made in the master would be shared by
-- every forked worker.
--
--   location /talk { content_by_lua_block {
--     local omnihuman = require("omnihuman")   -- picks this adapter by itself
--     local client = omnihuman.new{}            -- once per worker, e.g. in a module
--     local res, err = client:generate{ image_url = ..., audio_url = ... }
--     ngx.say(res and res.video.url or tostring(err))
--   } }
local M = { name = "openresty" }

M.max_sleep = 0.05   -- seconds: upper bound on reaction time to socket activity
M.min_sleep = 0.001  -- ngx.sleep(0) only yields; always give the loop some time

local SLEEPABLE = {
  rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true, preread = true,
}
local BLOCKING_OK = { init = true, init_worker = true }

function M.await(loop, op)
  if op:step() then return op:result() end
  local phase = ngx.get_phase()
  if not SLEEPABLE[phase] then
    if BLOCKING_OK[phase] then
      loop:run_until(op)
      return op:result()
    end
    error(("omnihuman: cannot wait for an operation in ngx_lua's '%s' phase "
      .. "(use a content handler or ngx.timer.at)"):format(tostring(phase)), 3)
  end
  local sleep, max_sleep, min_sleep = ngx.sleep, M.max_sleep, M.min_sleep
  -- Sockets cannot be watched from here, so: when a deadline is reached
  -- (a request starts, a retry is due) poll fast, then back off by doubling
  -- up to max_sleep; a known deadline closer than that is slept to exactly.
  local backoff = min_sleep
  repeat
    local t, d = op:timeout(), backoff
    local due = t ~= nil and t <= d
    if due then d = t end
    if d < min_sleep then d = min_sleep end
    sleep(d)
    if due then
      backoff = min_sleep
    else
      backoff = backoff * 2
      if backoff > max_sleep then backoff = max_sleep end
    end
  until op:step()
  return op:result()
end

--- Starts fn(...) in a light thread of the current request (ngx.thread.spawn);
--- returns the thread for ngx.thread.wait.
function M.spawn(fn, ...)
  return ngx.thread.spawn(fn, ...)
end

return M
