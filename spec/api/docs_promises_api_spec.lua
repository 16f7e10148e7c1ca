-- docs/api.md "Functions", "Errors", "Retries and money", "Downloads" and
-- "Driving operations yourself", checked as a user reads them against the
-- test server: each HTTP status the kinds table names gives its kind (with
-- status, request_id, retryable; maybe_created where a create is
-- ambiguous), the return shapes of the functions, what raises and what
-- returns nil, err, and close and cancel as the docs describe them.
-- Seeded (spec/support/seeded.lua): the seed is printed, OMH_SEED=n repeats.
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")
local shared = require("spec.support.docs_promises")
local seeded = require("spec.support.seeded")

local rnd = seeded.rng()
print(("docs_promises_api: seed %d (OMH_SEED=%d repeats this run)"):format(seeded.SEED, seeded.SEED))

-- HTTP status -> the kind the table gives, and whether a create / a status
-- check is tried again (retries and money).
local STATUSES = {
  { 400, "invalid_input" }, { 413, "invalid_input" }, { 415, "invalid_input" }, { 422, "invalid_input" },
  { 401, "auth" }, { 402, "forbidden" }, { 403, "forbidden" }, { 404, "not_found" }, { 410, "not_found" },
  { 429, "rate_limited", create_retried = true, poll_retried = true },
  { 503, "server", create_retried = true, poll_retried = true },
  { 500, "server", maybe = true, poll_retried = true },
  { 502, "server", maybe = true, poll_retried = true },
  { 504, "server", maybe = true, poll_retried = true },
}

local function shuffled(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = v end
  for i = #out, 2, -1 do
    local j = rnd(i)
    out[i], out[j] = out[j], out[i]
  end
  return out
end

local function each_string(v, fn, seen)
  seen = seen or {}
  if type(v) == "string" then return fn(v) end
  if type(v) ~= "table" or seen[v] then return end
  seen[v] = true
  for k, x in pairs(v) do
    each_string(k, fn, seen)
    each_string(x, fn, seen)
  end
end

describe("docs promises: functions, errors, operations", function()
  local ctx = shared("dpa", setup, teardown) -- no piece of the key in it: events name it
  local fresh = ctx.fresh

  local function check_err(err, kind, status, what)
    assert.equals("table", type(err), what)
    assert.equals(kind, err.kind, what)
    assert.equals(status, err.status, what)
    assert.equals("string", type(err.message), what)
    assert.equals("boolean", type(err.retryable), what)
    assert.equals("omnihuman: " .. kind .. ": " .. err.message, tostring(err), what)
  end

  it("each status of the kinds table gives its kind, for a create and for a status check", function()
    local retries = rnd(2) - 1 -- 0 or 1
    for _, s in ipairs(shuffled(STATUSES)) do
      local code, kind = s[1], s[2]
      local what = ("HTTP %d (max_retries %d)"):format(code, retries)
      local ns, c = fresh{ max_retries = retries }
      local answers = {}
      for i = 1, retries + 1 do answers[i] = { status = code } end
      ctx.srv:fault(ns, "create", answers)
      local job, err = c:create(fixtures.url_fields())
      assert.is_nil(job, what)
      check_err(err, kind, code, what)
      assert.equals("string", type(err.request_id), what) -- the server's requestId
      assert.equals(s.create_retried and retries + 1 or 1, ctx.srv:count(ns, "create"), what)
      assert.equals(s.maybe or nil, err.maybe_created, what)

      ctx.srv:reset(ns)
      job = assert(c:create(fixtures.url_fields()))
      ctx.srv:fault(ns, "poll", answers)
      local st
      st, err = c:poll(job.id)
      assert.is_nil(st, what)
      check_err(err, kind, code, what)
      assert.equals(s.poll_retried and retries + 1 or 1, ctx.srv:count(ns, "poll"), what)
    end
  end)

  it("poll gives the status answer; wait its final one; generate adds output, usage and credits", function()
    local ns, c = fresh()
    local job = assert(c:create(fixtures.url_fields{ sandbox_polls = 2 }))
    assert.equals("string", type(job.id))
    local st = assert(c:poll(job.id))
    assert.equals("string", type(st.status))
    local seen = {}
    local res = assert(c:wait(job.id, { interval = 0, on_status = function(s) seen[#seen + 1] = s.status end }))
    assert.equals(ctx.srv.profile.completed, res.status)
    assert.matches("^http://", res.video.url)
    -- on_status sees each pending status; the final one is the result
    assert.equals(ctx.srv:count(ns, "poll") - 2, #seen) -- less the poll above and the final answer
    for _, s in ipairs(seen) do assert.are_not.equal(res.status, s) end
    local out = ctx.dir .. "/gen.mp4"
    local r, err = c:generate(fixtures.url_fields{ output = out })
    assert.is_nil(err)
    assert.equals(out, r.output)
    assert.equals("table", type(r.usage))
    assert.equals("number", type(r.credits))
    assert.equals(ctx.srv.profile.completed, r.status)
    assert.truthy(fixtures.exists(out))
    -- without output: nothing downloaded, res.output nil
    r = assert(c:generate(fixtures.url_fields()))
    assert.is_nil(r.output)
    assert.matches("^http://", r.video.url)
    assert.equals(1, ctx.srv:count(ns, "cdn"))
  end)

  it("a wait past its timeout is timeout; a failed job is generation_failed with its final status whole", function()
    local _, c = fresh()
    local job = assert(c:create(fixtures.url_fields{ sandbox_polls = 100000 }))
    local res, err = c:wait(job.id, { interval = 0.01, timeout = 0.1 })
    assert.is_nil(res)
    check_err(err, "timeout", nil, "wait timeout")
    res, err = c:generate(fixtures.url_fields{ sandbox_fail = "no face found", output = ctx.dir .. "/f.mp4" })
    assert.is_nil(res)
    check_err(err, "generation_failed", nil, "failed job")
    assert.equals("no face found", err.result.error.message)
    assert.equals("string", type(err.result.error.name))
    assert.equals(err.job_id, err.result.id)
    assert.is_false(fixtures.exists(ctx.dir .. "/f.mp4"))
  end)

  it("after its create, generate's error names the job, and wait(err.job_id) finishes it without a second create", function()
    local ns, c = fresh()
    ctx.srv:fault(ns, "poll", { { status = 404 } })
    local res, err = c:generate(fixtures.url_fields{ output = ctx.dir .. "/j.mp4" })
    assert.is_nil(res)
    assert.equals("not_found", err.kind)
    assert.equals("string", type(err.job_id))
    assert.truthy(c:wait(err.job_id, { interval = 0 }))
    ctx.srv:fault(ns, "cdn", { { status = 404 } })
    res, err = c:generate(fixtures.url_fields{ output = ctx.dir .. "/k.mp4" })
    assert.is_nil(res)
    assert.equals("not_found", err.kind)
    assert.equals("string", type(err.job_id))
    assert.equals(2, ctx.srv:count(ns, "create"))
  end)

  it("download returns its path; max_bytes holds at its end; a failed download leaves the target as it was", function()
    local ns, c = fresh{ max_retries = 0, timeout = 0.5 }
    local job = assert(c:create(fixtures.url_fields{ sandbox_polls = 0 }))
    local url = assert(c:wait(job.id)).video.url
    local size = #fixtures.read(ctx.srv.fixture or require("spec.support.testserver").fixture)
    local target = ctx.dir .. "/d.mp4"
    local got = {}
    assert.equals(target, c:download(url, target, { max_bytes = size, on_progress = function(g, t) got[#got + 1] = { g, t } end }))
    assert.same({ size, size }, got[#got])
    assert.equals(size, #fixtures.read(target))
    local refused = ctx.dir .. "/r.mp4"
    local ok, err = c:download(url, refused, { max_bytes = size - 1 })
    assert.is_nil(ok)
    assert.equals("table", type(err))
    assert.is_false(fixtures.exists(refused))
    fixtures.write(refused, "old")
    for _, fault in ipairs({ { drop = true }, { status = 404 }, { hang = true } }) do
      ctx.srv:fault(ns, "cdn", { fault })
      ok, err = c:download(url, refused)
      assert.is_nil(ok)
      assert.equals("table", type(err))
      assert.equals("old", fixtures.read(refused))
    end
    -- a body without an end is cut at max_bytes
    ctx.srv:fault(ns, "cdn", { { chunked_forever = true } })
    ok, err = c:download(url, ctx.dir .. "/endless.mp4", { max_bytes = 1000000 })
    assert.is_nil(ok)
    assert.equals("table", type(err))
    assert.is_false(fixtures.exists(ctx.dir .. "/endless.mp4"))
    local names = fixtures.ls(ctx.dir)
    for _, name in ipairs(names) do assert.is_nil(name:find(".part", 1, true), name) end
  end)

  it("every method raises on an argument of the wrong type, sending nothing", function()
    local ns, c = fresh()
    local url, path = "http://127.0.0.1:9/a.mp4", ctx.dir .. "/m.mp4"
    local sigs = { -- method, valid arguments, the type of each
      { "create", { fixtures.url_fields() }, { "table" } },
      { "poll", { "id" }, { "string" } },
      { "wait", { "id", {} }, { "string", "table" } },
      { "download", { url, path, {} }, { "string", "string", "table" } },
      { "generate", { fixtures.url_fields() }, { "table" } },
      { "create_op", { fixtures.url_fields() }, { "table" } },
      { "poll_op", { "id" }, { "string" } },
      { "wait_op", { "id", {} }, { "string", "table" } },
      { "download_op", { url, path, {} }, { "string", "string", "table" } },
      { "generate_op", { fixtures.url_fields() }, { "table" } },
    }
    local wrong = { string = { 5, true, {}, print }, table = { 5, "x", true, print } }
    local tried = 0
    for _, sg in ipairs(shuffled(sigs)) do
      for pos, ty in ipairs(sg[3]) do
        for _, w in ipairs(wrong[ty]) do
          local args = { sg[2][1], sg[2][2], sg[2][3] }
          args[pos] = w
          tried = tried + 1
          assert.has_error(function() c[sg[1]](c, args[1], args[2], args[3]) end,
            nil, ("%s argument %d a %s"):format(sg[1], pos, type(w)))
        end
      end
    end
    assert.equals(64, tried)
    assert.equals(0, ctx.srv:count(ns, "create") or 0)
  end)

  it("client:create raises on an output that is not a string", function()
    local ns, c = fresh()
    for _, w in ipairs({ 5, true, {}, print }) do
      assert.has_error(function() c:create(fixtures.url_fields(), w) end)
    end
    assert.equals(0, ctx.srv:count(ns, "create") or 0)
  end)

  it("a closed client raises on every later call; closing again does nothing", function()
    local _, c = fresh()
    c:close()
    c:close()
    local calls = {
      function() return c:create(fixtures.url_fields()) end,
      function() return c:generate(fixtures.url_fields{ output = ctx.dir .. "/x.mp4" }) end,
      function() return c:poll("id") end,
      function() return c:wait("id") end,
      function() return c:download("http://127.0.0.1:9/a.mp4", ctx.dir .. "/x.mp4") end,
      function() return c:create_op(fixtures.url_fields()) end,
      function() return c:poll_op("id") end,
      function() return c:wait_op("id") end,
      function() return c:download_op("http://127.0.0.1:9/a.mp4", ctx.dir .. "/x.mp4") end,
    }
    for i, call in ipairs(calls) do
      local ok, msg = pcall(call)
      assert.is_false(ok, i)
      assert.matches("omnihuman: client is closed", msg, 1, true)
    end
  end)

  it("a closed client's generate_op raises too", function()
    local _, c = fresh()
    c:close()
    assert.has_error(function() c:generate_op(fixtures.url_fields{ output = ctx.dir .. "/x.mp4" }) end)
  end)

  it("client:close ends what is in flight: a sent create says maybe_created, a queued one is plainly cancelled", function()
    local ns, c = fresh{ max_connections = 1 }
    ctx.srv:fault(ns, "create", { { delay = 1 }, { delay = 1 } })
    local results = {}
    omnihuman.run(function()
      for i = 1, 2 do
        omnihuman.spawn(function()
          local job, err = c:create(fixtures.url_fields())
          results[i] = { job, err }
        end)
      end
      omnihuman.spawn(function()
        local t0 = fixtures.now()
        while ctx.srv:count(ns, "create") == 0 and fixtures.now() - t0 < 10 do omnihuman.sleep(0.02) end
        c:close()
      end)
    end)
    assert.is_nil(results[1][1])
    assert.equals("cancelled", results[1][2].kind)
    assert.is_true(results[1][2].maybe_created)
    assert.is_nil(results[2][1])
    assert.equals("cancelled", results[2][2].kind)
    assert.is_nil(results[2][2].maybe_created)
  end)

  it("an operation: cancel is true while it runs; closed, its methods raise but is_closed and loop", function()
    local _, c = fresh()
    local op = c:create_op(fixtures.url_fields())
    assert.equals("create", op:kind())
    -- the cqueues pollable protocol
    assert.equals("r", op:events())
    assert.equals("number", type(op:pollfd()))
    assert.is_true(op:pollfd() >= 0)
    local t = op:timeout()
    assert.is_true(t == nil or t >= 0)
    assert.equals(omnihuman.loop(), op:loop())
    assert.is_true(op:cancel())
    assert.is_false(op:cancel())
    local v, err = op:result()
    assert.is_nil(v)
    assert.equals("cancelled", err.kind)
    assert.is_nil(op:loop())
    op:close()
    op:close()
    assert.is_true((op:is_closed()))
    for _, m in ipairs({ "pollfd", "events", "timeout", "step", "result", "cancel", "kind" }) do
      assert.has_error(function() op[m](op) end, "omnihuman: operation is closed")
    end
    assert.is_nil(op:loop())
    local done = c:create_op(fixtures.url_fields())
    local job = assert(omnihuman.await(done))
    assert.is_true(done:step())
    assert.is_false(done:cancel())
    assert.is_nil(done:loop())
    done:close()
    assert.same({ true, false, job.id }, { done:is_closed() })
  end)

  it("op:is_closed() says whether a create was closed before an answer that may have made a job", function()
    local ns, c = fresh{ max_connections = 1 }
    ctx.srv:fault(ns, "create", { { delay = 1 } })
    local sent, queued = c:create_op(fixtures.url_fields()), c:create_op(fixtures.url_fields())
    local t0 = fixtures.now()
    while ctx.srv:count(ns, "create") == 0 and fixtures.now() - t0 < 10 do omnihuman.loop():run_once(0.02) end
    queued:close()
    sent:close()
    assert.same({ true, false }, { queued:is_closed() })
    assert.same({ true, true }, { sent:is_closed() })
  end)

  it("a create cancelled while it waits to retry (after 503 or 429) is a plain cancelled", function()
    for _, code in ipairs({ 503, 429 }) do
      local ns, c = fresh()
      ctx.srv:fault(ns, "create", { { status = code, headers = { ["Retry-After"] = "5" } } })
      local op = c:create_op(fixtures.url_fields())
      local t0 = fixtures.now()
      while ctx.srv:count(ns, "create") == 0 and fixtures.now() - t0 < 10 do omnihuman.loop():run_once(0.02) end
      for _ = 1, 5 do omnihuman.loop():run_once(0.02) end
      assert.is_true(op:cancel())
      local job, err = op:result()
      assert.is_nil(job)
      assert.equals("cancelled", err.kind)
      assert.is_nil(err.maybe_created)
      assert.equals(1, ctx.srv:count(ns, "create"))
    end
  end)

  it("generate_op sends nothing until awaited; gen.job_id is the job once its create answered", function()
    local ns, c = fresh()
    local gen = c:generate_op(fixtures.url_fields{ output = ctx.dir .. "/op.mp4" })
    for _ = 1, 5 do omnihuman.loop():run_once(0.01) end
    assert.equals(0, ctx.srv:count(ns, "create") or 0)
    assert.is_nil(gen.job_id)
    local res, err = gen:await()
    assert.is_nil(err)
    assert.equals(ctx.dir .. "/op.mp4", res.output)
    assert.equals(res.id, gen.job_id)
    assert.is_false(gen:cancel())
    local idle = c:generate_op(fixtures.url_fields{ output = ctx.dir .. "/op2.mp4" })
    assert.is_true(idle:cancel())
    assert.equals(1, ctx.srv:count(ns, "create"))
  end)

  it("omnihuman.model, models, error, sleep, run and spawn keep their shapes; misuse raises", function()
    assert.has_error(function() omnihuman.model(5) end)
    assert.has_error(function() omnihuman.model() end)
    assert.is_nil(omnihuman.model("zz/none"))
    local e = omnihuman.error("server", "down", 503)
    assert.same({ "server", "down", 503 }, { e.kind, e.message, e.status })
    assert.equals("omnihuman: server: down", tostring(e))
    assert.is_true(omnihuman.sleep(0))
    -- outside a coroutine it blocks without spinning: little CPU time for a long sleep
    local cpu, t0 = os.clock(), fixtures.now()
    assert.is_true(omnihuman.sleep(0.3))
    assert.is_true(fixtures.now() - t0 >= 0.29)
    assert.is_true(os.clock() - cpu < 0.1, os.clock() - cpu)
    local order = {}
    omnihuman.run(function(a, b)
      order[#order + 1] = a .. b
      omnihuman.spawn(function(x)
        omnihuman.sleep(0.02)
        order[#order + 1] = x
      end, "spawned")
    end, "run", "1")
    assert.same({ "run1", "spawned" }, order)
    local ok, msg = pcall(omnihuman.run, function()
      omnihuman.spawn(function() error("from a coroutine") end)
    end)
    assert.is_false(ok)
    assert.matches("from a coroutine", tostring(msg), 1, true)
    assert.has_error(function() omnihuman.spawn(function() end) end)
  end)

  it("omnihuman.use picks the adapter that omnihuman.adapter() gives; every client shares omnihuman.loop()", function()
    local plain = omnihuman.use("plain")
    assert.equals(plain, omnihuman.adapter())
    local calls = 0
    local own = { await = function(loop, op)
      calls = calls + 1
      return plain.await(loop, op)
    end }
    assert.equals(own, omnihuman.use(own))
    assert.equals(own, omnihuman.adapter())
    local ok, err = pcall(function()
      local _, a = fresh()
      local _, b = fresh()
      local op1, op2 = a:create_op(fixtures.url_fields()), b:create_op(fixtures.url_fields())
      assert.equals(omnihuman.loop(), op1:loop())
      assert.equals(omnihuman.loop(), op2:loop())
      assert(a:create(fixtures.url_fields()))
      op1:close()
      op2:close()
    end)
    omnihuman.use(plain)
    assert(ok, err)
    assert.equals(1, calls)
    assert.has_error(function() omnihuman.use({}) end)
  end)

  it("events are of the documented types and carry no piece of the key; the download host gets no key", function()
    local ns = fixtures.ns()
    local types = { request = true, retry = true, status = true, progress = true, unchecked_model = true }
    local seen, leaks = {}, {}
    local function scan(v)
      each_string(v, function(s)
        for i = 1, #fixtures.KEY - 3 do
          if s:find(fixtures.KEY:sub(i, i + 3), 1, true) then leaks[#leaks + 1] = s end
        end
      end)
    end
    local c = fixtures.client(ctx.srv, ns, { on_event = function(ev)
      seen[ev.type] = true
      scan(ev)
    end })
    ctx.srv:fault(ns, "poll", { { status = 503, body = '{"message":"key ' .. fixtures.KEY .. '"}' } })
    local res = assert(c:generate(fixtures.url_fields{ output = ctx.dir .. "/ev.mp4", on_status = scan, model = "bytedance/omnihuman",
                                                       on_progress = function(g, t) scan({ g, t }) end }))
    scan(res)
    local unchecked = fixtures.client(ctx.srv, ns, { on_event = function(ev) seen[ev.type] = true scan(ev) end })
    assert(unchecked:create{ model = "zz/none", prompt = "p" })
    for t in pairs(seen) do assert.is_true(types[t], t) end
    for t in pairs(types) do assert.is_true(seen[t], t) end
    assert.same({}, leaks)
    -- a download is not an API request: no key, even from the API's own host and path
    local key_less = fixtures.ns()
    local d = fixtures.client(ctx.srv, key_less)
    assert.is_nil((d:download(ctx.srv:base_url(key_less) .. "/video/generations?generation_id=x", ctx.dir .. "/k.mp4")))
    for _, r in ipairs(ctx.srv:records(key_less).requests) do
      assert.is_nil(r.headers.Authorization or r.headers.authorization)
    end
    for _, r in ipairs(ctx.srv:records(ns).requests) do
      local auth = r.headers.Authorization or r.headers.authorization
      if r.route == "cdn" then assert.is_nil(auth) else assert.equals("Bearer " .. fixtures.KEY, auth) end
      assert.equals("lua-omnihuman/0.1", r.headers["User-Agent"] or r.headers["user-agent"])
    end
  end)

  it("without a key the first request fails as auth, and nothing is sent", function()
    if os.getenv("AIMLAPI_KEY") then return pending("AIMLAPI_KEY is set in this environment") end
    local ns = fixtures.ns()
    local c = omnihuman.new{ base_url = ctx.srv:base_url(ns) }
    local job, err = c:create(fixtures.url_fields())
    assert.is_nil(job)
    check_err(err, "auth", nil, "no key")
    assert.equals(0, ctx.srv:count(ns, "create") or 0)
  end)
end)
