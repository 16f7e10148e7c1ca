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
    prompt = "host test " .. tostring(i),
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

return M
