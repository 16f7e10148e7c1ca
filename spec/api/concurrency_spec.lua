-- omnihuman.run/spawn/sleep: many jobs on one loop, and the pollable
-- protocol for schedulers that are not ours.
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")

local URLS = { image_url = "https://x/a.png", audio_url = "https://x/a.mp3", sandbox_polls = 2 }

describe("coroutines", function()
  local srv
  setup(function() srv = fixtures.start() end)
  teardown(function() srv:stop() end)

  local function one_generation(c)
    local job = assert(c:create(URLS))
    return assert(c:wait(job.id, { interval = 0.2 }))
  end

  it("runs 20 generations together: all of them are waiting at once", function()
    local c = fixtures.client(srv, fixtures.ns())
    local done, inflight, most = 0, 0, 0
    omnihuman.run(function()
      for _ = 1, 20 do
        omnihuman.spawn(function()
          inflight = inflight + 1
          if inflight > most then most = inflight end
          one_generation(c)
          inflight = inflight - 1
          done = done + 1
        end)
      end
    end)
    assert.equals(20, done)
    -- Sequential waits would never have two in flight; each one polls at
    -- least twice (0.2 s apart), so all twenty have started before any ends.
    assert.equals(20, most)
  end)

  it("passes spawn arguments and raises a coroutine's error from run", function()
    local got
    omnihuman.run(function()
      omnihuman.spawn(function(a, b) got = a + b end, 2, 3)
    end)
    assert.equals(5, got)
    assert.has_error(function()
      omnihuman.run(function()
        omnihuman.spawn(function() error("boom") end)
      end)
    end)
  end)

  it("sleep lets other coroutines run and does not spin", function()
    local order = {}
    local t0 = os.clock()
    local w0 = fixtures.now()
    omnihuman.run(function()
      omnihuman.spawn(function() omnihuman.sleep(0.3); order[#order + 1] = "slow" end)
      omnihuman.spawn(function() omnihuman.sleep(0.1); order[#order + 1] = "fast" end)
    end)
    assert.same({ "fast", "slow" }, order)
    assert.is_true(fixtures.now() - w0 >= 0.29)
    assert.is_true(os.clock() - t0 < 0.1, "CPU while sleeping: " .. (os.clock() - t0))
  end)

  it("blocks in the main thread without spinning", function()
    local c = fixtures.client(srv, fixtures.ns())
    local job = assert(c:create(URLS))
    local cpu0 = os.clock()
    assert(c:wait(job.id, { interval = 0.25 }))
    assert.is_true(os.clock() - cpu0 < 0.1, "CPU while waiting: " .. (os.clock() - cpu0))
  end)

  it("yields the operation to a coroutine resumed by hand", function()
    local c = fixtures.client(srv, fixtures.ns())
    local co = coroutine.create(function() return c:create(URLS) end)
    local ok, op = coroutine.resume(co)
    assert.is_true(ok)
    assert.equals("userdata", type(op))
    assert.equals("create", op:kind())
    assert.equals("number", type(op:pollfd()))
    assert.equals("r", op:events())
    -- Finish notices that earlier waits in the main thread left unread keep
    -- the loop's descriptor readable (run_once returns at once): take them.
    require("omnihuman.waiters").dispatch(omnihuman.loop())
    -- Drive it the way cqueues would: wait on pollfd/timeout, then resume.
    local rounds, t0 = 0, fixtures.now()
    while coroutine.status(co) == "suspended" and rounds < 1000 and fixtures.now() - t0 < 10 do
      rounds = rounds + 1
      omnihuman.loop():run_once(op:timeout() or 0.05)
      ok, op = coroutine.resume(co, op)
    end
    assert.is_true(ok)
    assert.equals("dead", coroutine.status(co))
    assert.matches(":bytedance/omnihuman$", op.id) -- the coroutine's return value
  end)

  it("shares connections: 20 polls do not open 20 connections", function()
    local c = fixtures.client(srv, fixtures.ns(), { max_connections = 2 })
    local job = assert(c:create(URLS))
    local errs = 0
    omnihuman.run(function()
      for _ = 1, 20 do
        omnihuman.spawn(function() if not c:poll(job.id) then errs = errs + 1 end end)
      end
    end)
    assert.equals(0, errs)
  end)
end)

describe("operations", function()
  local srv
  setup(function() srv = fixtures.start() end)
  teardown(function() srv:stop() end)

  it("step advances without blocking and result() follows", function()
    local c = fixtures.client(srv, fixtures.ns())
    local op = c:create_op(URLS)
    assert.is_false(op:done())
    local n = 0
    while not op:step() do
      n = n + 1
      omnihuman.loop():run_once(0.05)
      assert(n < 200, "did not finish")
    end
    local job, err = op:result()
    assert.is_nil(err)
    assert.truthy(job.id)
  end)

  it("result() before the end is misuse", function()
    local c = fixtures.client(srv, fixtures.ns())
    local op = c:create_op(URLS)
    assert.has_error(function() op:result() end,
      "omnihuman: operation has not finished (step it or wait for it)")
    omnihuman.await(op)
  end)

  it("cancel ends an operation with kind cancelled, and close is idempotent", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    local job = assert(c:create(URLS))
    local op = c:wait_op(job.id, { interval = 10 })
    omnihuman.loop():run_once(0.2)
    assert.is_true(op:cancel())
    assert.is_false(op:cancel())
    local res, err = op:result()
    assert.is_nil(res)
    assert.equals("cancelled", err.kind)
    op:close()
    op:close()
    assert.has_error(function() op:step() end, "omnihuman: operation is closed")
    assert.equals(0, omnihuman.loop():active())
  end)

  it("timeout() reports when the loop next wants attention", function()
    local op = omnihuman.core.sleep_op(omnihuman.loop(), 0.5)
    local t = op:timeout()
    assert.is_true(t > 0.3 and t <= 0.5)
    op:cancel()
  end)
end)
