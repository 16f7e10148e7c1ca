-- luv (Debian's lua-luv, on every runtime it serves): client calls in
-- coroutines run from a luv loop's callbacks, with no setup; one uv poll
-- handle and one uv timer per loop, each waiter resumed once, uv.run()
-- returns when nothing is left. omnihuman.use("luv") is run in a child
-- process (it changes the module's adapter for good).
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")
local probe = require("spec.support.probe")
local sh = require("spec.support.sh")
local uv = require("luv")

local URLS = { image_url = "https://x/a.png", audio_url = "https://x/a.mp3", sandbox_polls = 3 }
local SLOW = probe.SLOW
-- Child processes run the suite's own interpreter (the sanitizer one under SAN=1).
local LUA = require("spec.support.cli").LUA

-- Runs fn inside a uv callback, then the uv loop until it has nothing left
-- (bounded by a watchdog timer that is closed when the loop would end).
local function run_uv(fn, secs)
  local start = uv.new_timer()
  start:start(0, 0, function()
    start:close()
    fn()
  end)
  local timed_out = false
  local dog = uv.new_timer()
  dog:start(secs * 1000, 0, function()
    timed_out = true
    uv.stop()
  end)
  dog:unref() -- does not keep uv.run() going by itself
  uv.run()
  dog:close()
  uv.run("nowait") -- let the close complete
  assert.is_false(timed_out, "uv.run() still busy after " .. secs .. " s")
end

describe("luv #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start{ tls = false }; dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  it("runs client:generate in coroutines started from uv callbacks, downloads included", function()
    local c = fixtures.client(srv, fixtures.ns("uv"))
    local results = {}
    run_uv(function()
      for i = 1, 3 do
        coroutine.wrap(function()
          results[i] = { c:generate{ image = fixtures.PNG, audio = fixtures.WAV, output = dir .. "/uv" .. i .. ".mp4",
                                     interval = 0.1, sandbox_polls = 2 } }
        end)()
      end
    end, 30)
    assert.equals("plain", omnihuman.adapter().name) -- recognised per await, nothing chosen
    for i = 1, 3 do
      local res, err = results[i][1], results[i][2]
      assert.is_nil(err)
      assert.equals(srv.profile.completed, res.status)
      assert.is_true(#fixtures.read(res.output) > 0)
    end
    assert.equals(0, require("omnihuman.waiters").pending(omnihuman.loop()))
  end)

  it(probe.MANY .. " generations: one poll handle, no waiter polls, each woken once, CPU far below wall", function()
    local c = fixtures.client(srv, fixtures.ns("uv200"), { poll_interval = 0.2 })
    local n, done, most_handles = probe.MANY, 0, 0
    local sampler = uv.new_timer()
    local counts, cpu, wall = probe.measure(run_uv, function()
      sampler:start(50, 50, function()
        local handles = 0
        uv.walk(function() handles = handles + 1 end)
        most_handles = math.max(most_handles, handles)
        if done == n then sampler:close() end
      end)
      for _ = 1, n do
        coroutine.wrap(function()
          local res, gerr = c:generate(URLS)
          assert(res and res.status == srv.profile.completed, tostring(gerr))
          done = done + 1
        end)()
      end
    end, 60)
    probe.check_run("luv", { n = n, done = done, counts = counts, cpu = cpu, wall = wall,
      most = most_handles .. " uv handles" }, fixtures.client(srv, fixtures.ns("uv200b"), { poll_interval = 0.2 }), URLS)
    -- The sampler, the watchdog, and the adapter's poll handle and timer:
    -- nothing per waiter.
    assert.is_true(most_handles <= 4, most_handles .. " uv handles")
  end)

  it("a cancel from another callback wakes the waiter at once", function()
    local c = fixtures.client(srv, fixtures.ns("uvc"))
    local job = assert(c:create(URLS))
    local op = c:wait_op(job.id, { interval = 30 })
    local got, woke_after
    run_uv(function()
      coroutine.wrap(function()
        local t0 = fixtures.now()
        got = { omnihuman.await(op) }
        woke_after = fixtures.now() - t0
      end)()
      local t = uv.new_timer()
      t:start(200, 0, function()
        t:close()
        op:cancel()
      end)
    end, 10)
    assert.equals("cancelled", got[2].kind)
    assert.is_true(woke_after < 1 * SLOW, "woke after " .. woke_after .. " s")
  end)

  -- Closing the client, or the loop, wakes every waiter on its jobs at once.
  local enders = {
    { "client:close()", function(c) c:close() end },
    { "closing the loop", function() omnihuman.loop():close() end },
  }
  for _, ender in ipairs(enders) do
    it(ender[1] .. " wakes every waiter and lets uv.run() return", function()
      local c = fixtures.client(srv, fixtures.ns("uvx"))
      local kinds = {}
      local t0 = fixtures.now()
      run_uv(function()
        for i = 1, 5 do
          coroutine.wrap(function()
            local _, err = c:wait(assert(c:create(URLS)).id, { interval = 30 })
            kinds[i] = err and err.kind
          end)()
        end
        local t = uv.new_timer()
        t:start(300, 0, function()
          t:close()
          ender[2](c)
        end)
      end, 10)
      assert.is_true(fixtures.now() - t0 < 8 * SLOW) -- woken, not by the 30 s interval
      for i = 1, 5 do assert.equals("cancelled", kinds[i]) end
    end)
  end

  it("examples/luv.lua and examples/cqueues.lua run as documented (child processes)", function()
    local ns = fixtures.ns("ex")
    for _, ex in ipairs({ "luv", "cqueues" }) do
      local cmd = ("OMNIHUMAN_BASE_URL=%q AIMLAPI_KEY=%q %s examples/%s.lua %q 2>&1"):format(srv:base_url(ns), fixtures.KEY,
        LUA, ex, dir)
      local ok, out = sh.run(cmd)
      assert.is_truthy(ok, out)
      assert.matches("3 of 3 generations done", out)
      for i = 1, 3 do assert.is_true(#fixtures.read(("%s/%s-%d.mp4"):format(dir, ex, i)) > 0) end
    end
  end)

  it("omnihuman.use('luv') and use('cqueues'), as a script would (child process)", function()
    for _, mode in ipairs({ "luv", "cqueues" }) do
      local cmd = ("%s spec/support/foreign_use.lua %s %q %q %q 2>&1"):format(LUA, mode,
        srv:base_url(fixtures.ns("use")), srv.ca_file or "", fixtures.KEY)
      local ok, out = sh.run(cmd)
      assert.is_truthy(ok, out)
      assert.matches("adapter " .. mode, out)
      assert.matches("3 completed", out)
      assert.matches("main thread: " .. srv.profile.completed, out, 1, true)
      if mode == "luv" then assert.matches("uv timer ticked [1-9]%d* times", out) end
    end
  end)
end)
