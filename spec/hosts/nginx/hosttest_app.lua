-- Handlers of the nginx host test (see nginx.conf.in). Module state is per
-- worker: one client, one loop.
local omnihuman = require("omnihuman")

local M = {}
local client

local ROOT = os.getenv("OMH_ROOT")

local function gen_args(i)
  return {
    image = ROOT .. "/examples/media/portrait.png",
    audio = ROOT .. "/examples/media/hello.wav",
    interval = 0.2,
    sandbox_polls = 5,       -- the test server: completed after 5 status checks
    sandbox_tag = "host" .. tostring(i), -- (a sandbox control: not checked against the model)
  }
end

function M.init_worker()
  client = omnihuman.new{
    base_url = os.getenv("OMH_API") .. "/n/openresty/v2",
    poll_interval = 0.2, timeout = 10,
  }
end

local function line(i, res, err)
  if res then
    return ("%s %s %s %s"):format(i, res.status, res.id, res.video and res.video.url or "-")
  end
  return ("%s error %s"):format(i, tostring(err))
end

function M.gen(n)
  ngx.update_time()
  local t0 = ngx.now()
  local threads = {}
  for i = 1, n do
    threads[i] = ngx.thread.spawn(function()
      return client:generate(gen_args(i))
    end)
  end
  local ok_count = 0
  for i = 1, n do
    local ok, res, err = ngx.thread.wait(threads[i])
    if not ok then res, err = nil, res end
    if res and res.status == "completed" then ok_count = ok_count + 1 end
    ngx.say(line(i, res, err))
  end
  ngx.update_time()
  ngx.say(("%d/%d completed in %.2f s (adapter %s)"):format(ok_count, n, ngx.now() - t0,
    omnihuman.adapter().name))
end

function M.one()
  ngx.update_time()
  local t0 = ngx.now()
  local res, err = client:generate(gen_args("one"))
  ngx.say(line("one", res, err))
  ngx.update_time()
  ngx.say(("%s in %.2f s"):format(res and res.status or "failed", ngx.now() - t0))
end

function M.timer()
  local sema = require("ngx.semaphore").new()
  local got
  local ok, terr = ngx.timer.at(0, function(premature)
    if premature then return end
    got = { client:generate(gen_args("timer")) }
    sema:post(1)
  end)
  if not ok then
    ngx.say("timer error ", terr)
    return
  end
  local waited = sema:wait(30)
  if not waited or not got then
    ngx.say("timer error: no result")
    return
  end
  ngx.say(line("timer", got[1], got[2]))
end

-- A generation in the rewrite or access phase; the answer goes in a header
-- for the content phase to print.
function M.early_phase()
  local res, err = client:generate(gen_args(ngx.get_phase()))
  ngx.req.set_header("X-Omh-Result", res and (res.status .. " " .. res.id) or ("error " .. tostring(err)))
end

function M.print_early()
  ngx.say(ngx.var.uri:sub(2), " ", ngx.req.get_headers()["X-Omh-Result"] or "nothing")
end

-- A wait that takes minutes: the client goes away long before.
function M.long()
  local job = assert(client:create{ image_url = "https://x/u.png", audio_url = "https://x/u.mp3", sandbox_polls = 100000 })
  ngx.say("created ", job.id)
  ngx.flush(true)
  local res, err = client:wait(job.id, { interval = 0.2, timeout = 600 })
  ngx.say(res and res.status or tostring(err))
end

-- A cancel from another light thread wakes the request waiting on that op
-- at once (no polling: the driver hears of it through the loop's wakeup).
function M.cancel_wake()
  local op = omnihuman.core.sleep_op(omnihuman.loop(), 30)
  local woke, t_cancel, kind
  local waiter = ngx.thread.spawn(function()
    local _, err = omnihuman.await(op)
    ngx.update_time()
    woke, kind = ngx.now(), err and err.kind
  end)
  ngx.sleep(0.2)
  ngx.update_time()
  t_cancel = ngx.now()
  op:cancel()
  ngx.thread.wait(waiter)
  ngx.say(("cancel_wake %s %.3f"):format(tostring(kind), woke and woke - t_cancel or -1))
end

-- client:close() from another light thread ends that client's wait at once
-- and wakes the request waiting on it.
function M.close_wake()
  local c2 = omnihuman.new{ base_url = os.getenv("OMH_API") .. "/n/orclose/v2", poll_interval = 0.05, timeout = 10 }
  local job = assert(c2:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3", sandbox_polls = 100000 })
  local woke, t_close, kind
  local waiter = ngx.thread.spawn(function()
    local _, err = c2:wait(job.id, { timeout = 60 })
    ngx.update_time()
    woke, kind = ngx.now(), err and err.kind
  end)
  ngx.sleep(0.2)
  ngx.update_time()
  t_close = ngx.now()
  c2:close()
  ngx.thread.wait(waiter)
  ngx.say(("close_wake %s %.3f"):format(tostring(kind), woke and woke - t_close or -1))
end

-- What the worker holds: waiters, the driver, timers, operations in flight, CPU.
function M.stats()
  local adapter = omnihuman.adapter()
  local loop = omnihuman.loop()
  local s = adapter.stats or {}
  ngx.say(("adapter=%s pending=%d driving=%s active=%d timers_running=%d timers_pending=%d "
    .. "drivers_started=%d swept=%d cpu=%.6f pid=%d"):format(adapter.name, adapter.pending(loop),
    tostring(adapter.driving(loop)), loop:active(), ngx.timer.running_count(), ngx.timer.pending_count(),
    s.drivers_started or -1, s.swept or -1, os.clock(), ngx.worker.pid()))
end

return M
