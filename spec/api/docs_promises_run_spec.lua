-- docs/api.md "Errors" (callbacks, misuse that would hang), "Retries and
-- money" (omnihuman.run unwinding) and "Driving operations yourself" (the
-- loop), checked as a user reads them against the test server: a callback
-- that raises inside generate names the paid job in the error, whatever it
-- raised; every coroutine awaiting one operation is resumed; run names the
-- jobs no coroutine saw to the end; misuse inside a callback raises the
-- documented messages; a collected client lets its operations finish.
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")
local shared = require("spec.support.docs_promises")

local JOB_LINE = 'job (%S+) was created %(and billed%): wait for it with client:wait%("(%S+)"%)'

-- A coroutine that gets a job created and is still running when the run unwinds.
local function pay_and_linger(c)
  assert(c:create(fixtures.url_fields()))
  omnihuman.sleep(5)
end

describe("docs promises: callbacks, run and the loop", function()
  local ctx = shared("omh-docs-run", setup, teardown)
  local fresh = ctx.fresh

  it("a callback raising inside generate after its create: the error names the job, whatever was raised", function()
    local ns, c = fresh()
    local raised = { "a string", 42, false, { msg = "a table" }, { msg = "its own", job_id = "mine" } }
    for i, v in ipairs(raised) do
      local ok, err = pcall(c.generate, c, fixtures.url_fields{ output = ctx.dir .. "/cb.mp4",
                                                                on_status = function() error(v, 0) end })
      assert.is_false(ok)
      assert.equals(i, ctx.srv:count(ns, "create"))
      if type(v) == "table" then
        assert.equals(v, err)
        if v.job_id == "mine" then
          assert.equals("mine", err.job_id)
        else
          assert.truthy(c:wait(err.job_id, { interval = 0 }))
        end
      else
        assert.equals("string", type(err))
        assert.equals(tostring(v), err:sub(1, #tostring(v)))
        local id, again = err:match(JOB_LINE)
        assert.equals(id, again)
        assert.truthy(c:wait(id, { interval = 0 }))
      end
    end
    assert.is_false(fixtures.exists(ctx.dir .. "/cb.mp4"))
  end)

  it("every coroutine awaiting one operation is resumed when it ends", function()
    local _, c = fresh()
    local job = assert(c:create(fixtures.url_fields{ sandbox_polls = 3 }))
    local op = c:wait_op(job.id, { interval = 0.02 })
    local got = {}
    omnihuman.run(function()
      for i = 1, 4 do
        omnihuman.spawn(function()
          local res = omnihuman.await(op)
          got[i] = res and res.status
        end)
      end
    end)
    assert.same({ ctx.srv.profile.completed, ctx.srv.profile.completed, ctx.srv.profile.completed,
                  ctx.srv.profile.completed }, got)
    local slow = assert(c:create(fixtures.url_fields{ sandbox_polls = 100000 }))
    local cancelled = c:wait_op(slow.id, { interval = 10 })
    got = {}
    omnihuman.run(function()
      for i = 1, 3 do
        omnihuman.spawn(function()
          local _, err = omnihuman.await(cancelled)
          got[i] = err and err.kind
        end)
      end
      omnihuman.spawn(function() cancelled:cancel() end)
    end)
    assert.same({ "cancelled", "cancelled", "cancelled" }, got)
  end)

  it("run unwinding on a string error names every created job no coroutine saw to the end", function()
    local _, c = fresh()
    local ok, err = pcall(omnihuman.run, function()
      omnihuman.spawn(pay_and_linger, c)
      omnihuman.spawn(function()
        local t0 = fixtures.now()
        repeat omnihuman.sleep(0.02) until fixtures.now() - t0 > 0.3
        error("boom", 0)
      end)
    end)
    assert.is_false(ok)
    assert.equals("boom", err:sub(1, 4))
    local id, again = err:match('job (%S+) was created %(and billed%) for a coroutine that did not finish: '
                                .. 'wait for it with client:wait%("(%S+)"%)')
    assert.truthy(id, err)
    assert.equals(id, again)
  end)

  it("run unwinding on a table error puts the job lines in err.abandoned_jobs", function()
    local _, c = fresh()
    local raised = { msg = "a table" }
    local ok, err = pcall(omnihuman.run, function()
      omnihuman.spawn(pay_and_linger, c)
      omnihuman.spawn(function()
        omnihuman.sleep(0.3)
        error(raised)
      end)
    end)
    assert.is_false(ok)
    assert.equals(raised, err)
    assert.equals(1, #err.abandoned_jobs)
  end)

  it("gen:cancel() from another coroutine ends the step in flight as documented, at each step", function()
    local started = {
      create = function(ns) return ctx.srv:count(ns, "create") > 0 end,
      wait = function(ns) return (ctx.srv:count(ns, "poll") or 0) > 1 end,
      download = function(ns) return (ctx.srv:count(ns, "cdn") or 0) > 0 end,
    }
    for _, step in ipairs({ "create", "wait", "download" }) do
      local ns, c = fresh()
      if step ~= "wait" then ctx.srv:fault(ns, step == "create" and "create" or "cdn", { { delay = 1 } }) end
      local out = ("%s/%s.mp4"):format(ctx.dir, step)
      local gen = c:generate_op(fixtures.url_fields{ output = out, sandbox_polls = step == "wait" and 100000 or 0 })
      local res, err, first
      omnihuman.run(function()
        omnihuman.spawn(function() res, err = gen:await() end)
        omnihuman.spawn(function()
          local t0 = fixtures.now()
          repeat omnihuman.sleep(0.02) until started[step](ns) or fixtures.now() - t0 > 10
          omnihuman.sleep(0.05)
          first = gen:cancel()
        end)
      end)
      assert.is_true(first, step)
      assert.is_false(gen:cancel(), step)
      assert.is_nil(res, step)
      assert.equals("cancelled", err.kind, step)
      if step == "create" then
        assert.is_true(err.maybe_created)
      else
        assert.equals("string", type(err.job_id), step)
      end
      assert.same({}, fixtures.ls(ctx.dir), step) -- no partial file
      assert.equals(1, ctx.srv:count(ns, "create"), step)
    end
  end)

  it("misuse that would hang raises at once, with the documented messages", function()
    local _, c = fresh()
    local cases = {
      { function() omnihuman.run(function() end) end, "omnihuman.run: cannot run inside a callback of the loop" },
      { function() omnihuman.sleep(0.01) end, "omnihuman: cannot block inside a callback of the loop" },
      { function() c:poll("x") end, "omnihuman: cannot block inside a callback of the loop" },
      { function() omnihuman.loop():run_once(0.5) end, "omnihuman: cannot block inside a callback of the loop" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(c.wait, c, assert(c:create(fixtures.url_fields{ sandbox_polls = 1 })).id,
        { interval = 0, on_status = case[1] })
      assert.is_false(ok)
      assert.matches(case[2], tostring(err), 1, true)
    end
  end)

  it("a client that is merely collected lets its operations finish", function()
    local ns, c = fresh()
    local op = c:create_op(fixtures.url_fields())
    c = nil -- luacheck: ignore 311 (dropped on purpose)
    collectgarbage()
    collectgarbage()
    local job, err = omnihuman.await(op)
    assert.is_nil(err)
    assert.truthy(job.id)
    assert.equals(1, ctx.srv:count(ns, "create"))
  end)

  it("loop:set_turn_budget takes 0 to 60; the loop's counters answer", function()
    local loop = omnihuman.loop()
    for _, v in ipairs({ 0, 60, 0.002 }) do assert.has_no_error(function() loop:set_turn_budget(v) end) end
    for _, v in ipairs({ -5e-324, 60 + 60 * 2 ^ -52, 0 / 0, math.huge }) do
      assert.has_error(function() loop:set_turn_budget(v) end)
    end
    assert.equals(0, loop:transfers())
    assert.is_false(loop:driving())
    local t = loop:timeout() -- nil when nothing is pending, else seconds
    assert.is_true(t == nil or (type(t) == "number" and t >= 0), tostring(t))
    local op = omnihuman.core.sleep_op(loop, 30)
    assert.is_true(type(loop:timeout()) == "number" and loop:timeout() <= 30)
    op:close()
  end)
end)
