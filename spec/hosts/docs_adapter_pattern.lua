-- Run by spec/hosts/docs_promises_embedding_spec.lua in a child process, in
-- a folder holding face.png and hello.wav, with $OMNIHUMAN_BASE_URL and
-- $AIMLAPI_KEY set. An adapter written from docs/embedding.md's "Writing an adapter": one
-- driver per loop (a uv poll on loop:pollfd() and a uv timer at
-- loop:timeout(), each calling waiters.turn(loop, 0)); waiters park with a
-- wake that resumes their coroutine; the driver stops when nothing is
-- awaited or in flight.
local uv = require("luv")
local omnihuman = require("omnihuman")
local waiters = require("omnihuman.waiters")

local drivers, turns, wakes = {}, 0, 0
local mine = { name = "mine" }

local function drive(loop)
  local d = drivers[loop]
  if not d then
    d = { poll = uv.new_poll(loop:pollfd()), timer = uv.new_timer(), on = false }
    drivers[loop] = d
  end
  local function tick()
    turns = turns + 1
    waiters.turn(loop, 0)
    if waiters.pending(loop) == 0 and loop:active() == 0 then
      d.poll:stop()
      d.timer:stop()
      d.on = false
      return
    end
    local t = loop:timeout()
    if t then d.timer:start(math.ceil(t * 1000), 0, tick) end
  end
  if not d.on then
    d.on = true
    d.poll:start("r", tick)
    local t = loop:timeout()
    d.timer:start(t and math.ceil(t * 1000) or 0, 0, tick)
  end
  return d
end

function mine.await(loop, op)
  if waiters.finished(op) then return waiters.result(op) end
  local co = assert(coroutine.running())
  waiters.park(loop, op, function()
    wakes = wakes + 1
    assert(coroutine.resume(co))
  end)
  drive(loop)
  coroutine.yield()
  waiters.unpark(loop, op)
  return waiters.result(op)
end

omnihuman.use(mine)
print("adapter " .. omnihuman.adapter().name)
local client = omnihuman.new{ poll_interval = 0.2 }
local done = 0
for i = 1, 3 do
  coroutine.wrap(function()
    local res, err = client:generate{ image = "face.png", audio = "hello.wav", output = i .. ".mp4" }
    print(i, res and res.output or tostring(err))
    if res then done = done + 1 end
  end)()
end
uv.run()
print(("%d done, %d wakes, driver %s"):format(done, wakes, drivers[omnihuman.loop()].on and "on" or "off"))
for _, d in pairs(drivers) do
  d.poll:close()
  d.timer:close()
end
uv.run() -- lets the closes complete
