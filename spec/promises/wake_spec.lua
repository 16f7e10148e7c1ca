-- Finishing wakes the waiter at once: an operation that ends for any reason
-- (its result, a cancel or close from another coroutine, its loop closing)
-- resumes whoever waits on it in the same loop turn, with nothing else in
-- flight to wake the loop by chance.
local omnihuman = require("omnihuman")
local core = omnihuman.core
local waiters = require("omnihuman.waiters")
local fixtures = require("spec.support.fixtures")

local URLS = { image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }

describe("waking a waiter", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  -- Ops that would otherwise take 30 s or more, one per kind.
  local starters = {
    sleep = function() return core.sleep_op(omnihuman.loop(), 60) end,
    wait = function(c)
      local job = assert(c:create{ image_url = "https://x/u.png", audio_url = "https://x/u.mp3", sandbox_polls = 1000 })
      return c:wait_op(job.id, { interval = 60 })
    end,
    poll = function(c, ns)
      srv:fault(ns, "poll", { { hang = 30 } })
      local job = assert(c:create(URLS))
      return c:poll_op(job.id)
    end,
    download = function(c, ns)
      srv:fault(ns, "cdn", { { hang = 30 } })
      local job = assert(c:create{ image_url = "https://x/u.png", audio_url = "https://x/u.mp3", sandbox_polls = 0 })
      local url = assert(c:wait(job.id)).video.url
      return c:download_op(url, dir .. "/never-" .. ns .. ".mp4")
    end,
  }
  local enders = {
    cancel = function(op) op:cancel() end,
    close = function(op) op:close() end,
    ["loop close"] = function() omnihuman.loop():close() end,
  }

  for kind, start in pairs(starters) do
    for how, ender in pairs(enders) do
      it(("another coroutine's %s of a %s op wakes its waiter at once"):format(how, kind), function()
        local ns = fixtures.ns()
        local c = fixtures.client(srv, ns, { timeout = 60 })
        local op = start(c, ns)
        local got, woke_after
        local t0
        omnihuman.run(function()
          omnihuman.spawn(function()
            local res, err = omnihuman.await(op)
            got = { res = res, err = err }
            woke_after = fixtures.now() - t0
          end)
          omnihuman.spawn(function()
            omnihuman.sleep(0.05) -- the waiter is parked by now
            t0 = fixtures.now()
            ender(op)
          end)
        end)
        assert.is_nil(got.res)
        assert.equals("cancelled", got.err.kind)
        assert.is_true(woke_after < 0.5, ("woke after %.2f s"):format(woke_after))
        assert.equals(0, omnihuman.loop():active())
      end)
    end
  end

  it("the loop's timeout is 0 and its wakeup runs once when an op ends outside a drive", function()
    local loop = core.new_loop()
    local calls, seen_done = 0, nil
    local op = core.sleep_op(loop, 60)
    loop:set_wakeup(function() calls = calls + 1; seen_done = op:done() end)
    assert.is_true(loop:timeout() > 50)
    op:cancel()
    assert.equals(1, calls)
    assert.is_true(seen_done)          -- called once the op's state is settled
    assert.equals(0, loop:timeout())   -- the notice waits for its dispatcher
    local woken = {}
    waiters.park(loop, op, function(o) woken[#woken + 1] = o end)
    assert.equals(0, #woken)           -- parking a finished op parks nothing
    local op2 = core.sleep_op(loop, 60)
    assert.is_true(waiters.park(loop, op2, function(o) woken[#woken + 1] = o end))
    op2:close()
    assert.equals(2, calls)
    waiters.dispatch(loop)
    assert.same({ op2 }, woken)
    assert.is_nil(loop:timeout())      -- nothing armed, nothing to dispatch
    loop:close()
  end)

  it("two dispatch users on one loop never steal each other's notices", function()
    local loop = core.new_loop()
    local a, b = core.sleep_op(loop, 0.01), core.sleep_op(loop, 0.02)
    local woken = {}
    waiters.park(loop, a, function() woken.a = true end)
    waiters.park(loop, b, function() woken.b = true end)
    local deadline = fixtures.now() + 5
    while not (woken.a and woken.b) and fixtures.now() < deadline do
      -- Either "scheduler" may be the one that turns the loop.
      waiters.turn(loop, 0.05)
    end
    assert.is_true(woken.a and woken.b)
    loop:close()
  end)

  it("a blocking wait in the main thread does not spin on other ops' notices", function()
    local loop = core.new_loop()
    core.sleep_op(loop, 0):cancel()  -- a notice nobody dispatches
    local op = core.sleep_op(loop, 0.3)
    local c0 = os.clock()
    loop:run_until(op)
    assert.is_true(os.clock() - c0 < 0.1, "CPU time while blocked: " .. (os.clock() - c0))
    loop:close()
  end)
end)
