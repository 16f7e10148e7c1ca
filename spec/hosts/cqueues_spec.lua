-- cqueues (Debian's lua-cqueues, on every runtime it serves): client calls
-- inside a controller's coroutines, with no setup; one driver per loop polls
-- the loop, each waiter sleeps on a condition of its own and is woken once.
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")
local probe = require("spec.support.probe")
local cqueues = require("cqueues")

local URLS = { image_url = "https://x/a.png", audio_url = "https://x/a.mp3", sandbox_polls = 3 }
-- Instrumented runs (sanitizers, valgrind) are slower: CPU bounds scale.
local SLOW = probe.SLOW

-- Runs the controller until it is empty, within `secs`.
local function loop_cq(cq, secs)
  local ok, err = cq:loop(secs)
  assert(ok, err)
  assert.is_true(cq:empty(), "the controller still had coroutines after " .. secs .. " s")
end

describe("cqueues #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start{ tls = false }; dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  it("runs client:generate inside cq:wrap with no setup, downloads included", function()
    local c = fixtures.client(srv, fixtures.ns("cq"))
    local cq = cqueues.new()
    local results = {}
    for i = 1, 3 do
      cq:wrap(function()
        results[i] = { c:generate{ image = fixtures.PNG, audio = fixtures.WAV, output = dir .. "/cq" .. i .. ".mp4",
                                   interval = 0.1, sandbox_polls = 2 } }
      end)
    end
    loop_cq(cq, 30)
    assert.equals("plain", omnihuman.adapter().name) -- recognised per await, nothing chosen
    for i = 1, 3 do
      local res, err = results[i][1], results[i][2]
      assert.is_nil(err)
      assert.equals(srv.profile.completed, res.status)
      assert.equals(dir .. "/cq" .. i .. ".mp4", res.output)
      assert.is_true(#fixtures.read(res.output) > 0)
    end
    assert.equals(0, require("omnihuman.waiters").pending(omnihuman.loop()))
  end)

  it(probe.MANY .. " generations: one driver, no waiter polls, each woken once, CPU far below wall", function()
    local c = fixtures.client(srv, fixtures.ns("cq200"), { poll_interval = 0.2 })
    local cq = cqueues.new()
    local n, done, most_threads = probe.MANY, 0, 0
    for _ = 1, n do
      cq:wrap(function()
        local res, err = c:generate(URLS)
        assert(res and res.status == srv.profile.completed, tostring(err))
        done = done + 1
      end)
    end
    -- Samples how many coroutines the controller holds while they wait.
    cq:wrap(function()
      while done < n do
        most_threads = math.max(most_threads, cq:count())
        cqueues.sleep(0.05)
      end
    end)
    local counts, cpu, wall = probe.measure(loop_cq, cq, 60)
    probe.check_run("cqueues", { n = n, done = done, counts = counts, cpu = cpu, wall = wall,
      most = most_threads .. " coroutines" }, fixtures.client(srv, fixtures.ns("cq200b"), { poll_interval = 0.2 }), URLS)
    -- n waiters + the sampler + exactly one driver.
    assert.equals(n + 2, most_threads)
    -- The one driver polls the loop once per turn.
    assert.is_true(counts.loop_pollfd <= counts.turns + 2)
  end)

  it("a cancel from another coroutine wakes the waiter at once", function()
    local c = fixtures.client(srv, fixtures.ns("cqc"))
    local job = assert(c:create(URLS))
    local op = c:wait_op(job.id, { interval = 30 })
    local cq = cqueues.new()
    local got, woke_after
    cq:wrap(function()
      local t0 = fixtures.now()
      got = { omnihuman.await(op) }
      woke_after = fixtures.now() - t0
    end)
    cq:wrap(function()
      cqueues.sleep(0.2)
      op:cancel()
    end)
    loop_cq(cq, 10)
    assert.is_nil(got[1])
    assert.equals("cancelled", got[2].kind)
    assert.is_true(woke_after < 1 * SLOW, "woke after " .. woke_after .. " s")
  end)

  -- Closing the client, or the loop, wakes every waiter on its jobs at once.
  local enders = {
    { "client:close()", function(c) c:close() end },
    { "closing the loop", function() omnihuman.loop():close() end },
  }
  for _, ender in ipairs(enders) do
    it(ender[1] .. " wakes every waiter and lets cq:loop() return", function()
      local c = fixtures.client(srv, fixtures.ns("cqx"))
      local cq = cqueues.new()
      local kinds = {}
      for i = 1, 5 do
        cq:wrap(function()
          local _, err = c:wait(assert(c:create(URLS)).id, { interval = 30 })
          kinds[i] = err and err.kind
        end)
      end
      cq:wrap(function()
        cqueues.sleep(0.3)
        ender[2](c)
      end)
      local t0 = fixtures.now()
      loop_cq(cq, 10)
      assert.is_true(fixtures.now() - t0 < 8 * SLOW) -- woken, not by the 30 s interval
      for i = 1, 5 do assert.equals("cancelled", kinds[i]) end
    end)
  end

  it("still blocks in the main thread and yields in a plain coroutine", function()
    local c = fixtures.client(srv, fixtures.ns("cqm"))
    local job = assert(c:create(URLS)) -- main thread: blocks in the loop
    assert.truthy(job.id)
    local cq = cqueues.new()
    local st
    cq:wrap(function()
      -- A plain coroutine inside a cqueues one: the op is yielded to its resumer.
      local co = coroutine.create(function() return c:poll(job.id) end)
      local ok, op = coroutine.resume(co)
      assert(ok and type(op) == "userdata" and op:kind() == "poll", tostring(op))
      omnihuman.loop():run_until(op)
      ok, st = coroutine.resume(co)
      assert(ok, st)
    end)
    loop_cq(cq, 10)
    assert.truthy(st and st.status)
  end)
end)
