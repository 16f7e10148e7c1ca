-- A create whose request may have reached the service is never dropped
-- without its id (or maybe_created) reaching the caller, whatever raises,
-- unwinds, closes or is resumed, wherever. A generated matrix: how the job
-- is made x when the trouble comes x what the trouble is; in each cell the
-- fake service counts the jobs it made (by tag) and every one of them must
-- be named in what the program got back (a result, a returned error, the
-- error omnihuman.run raised), or the program must have been told that a
-- job may exist. Then the single misuses of the round (another loop's
-- operation, two waiters on one operation, run inside a callback, a
-- main-thread await next to a failing coroutine, close).
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")

-- Every string and flag reachable from v, flattened into one text.
local function flatten(v, out, seen)
  out, seen = out or {}, seen or {}
  local t = type(v)
  if t == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      if x == true then out[#out + 1] = tostring(k) end
      flatten(k, out, seen)
      flatten(x, out, seen)
    end
  elseif t == "string" then
    out[#out + 1] = v
  end
  return out
end

local HOW = { "create", "create_op later", "create_op never", "generate" }
local WHEN = { "on the wire", "answered" }
local WHAT = { "other raises a string", "other raises a table", "callback raises", "op closed", "client closed" }

local function applies(how, when, what)
  if what == "op closed" then return how == "create_op later" end
  if how == "create_op never" then return what:match("^other") ~= nil end
  if what == "callback raises" then return when == "answered" end
  return true
end

describe("paid jobs reach the caller #slow", function()
  local srv
  setup(function() srv = fixtures.start{ tls = false } end)
  teardown(function() srv:stop() end)

  local cells = 0
  for _, how in ipairs(HOW) do
    for _, when in ipairs(WHEN) do
      for _, what in ipairs(WHAT) do
        if applies(how, when, what) then
          cells = cells + 1
          it(("%s | %s | %s"):format(how, when, what), function()
            local ns = fixtures.ns("pj")
            local c = fixtures.client(srv, ns, { timeout = 5, max_retries = 0 })
            srv:fault(ns, "create", { { delay = when == "on the wire" and 0.6 or 0 } })
            local tag = "t" .. ns
            local fields = fixtures.url_fields{ sandbox_tag = tag, sandbox_polls = 400 }
            local shared, got = { received = false }, {}
            local function raising_status() error("on_status broke") end
            local worker = function()
              if how == "create" then
                local job, err = c:create(fields)
                got[#got + 1] = { job = job, err = err }
                shared.received = true
                if what == "callback raises" and job then
                  c:wait(job.id, { on_status = raising_status })
                end
                omnihuman.sleep(5)
              elseif how == "create_op later" then
                shared.op = c:create_op(fields)
                shared.started = true
                omnihuman.sleep(when == "answered" and 0.4 or 0.05)
                local job, err = omnihuman.await(shared.op)
                got[#got + 1] = { job = job, err = err }
                shared.received = true
                if what == "callback raises" and job then
                  c:wait(job.id, { on_status = raising_status })
                end
                omnihuman.sleep(5)
              elseif how == "create_op never" then
                shared.op = c:create_op(fields)
                shared.received = when == "on the wire" or nil
                omnihuman.sleep(when == "answered" and 0.3 or 0)
                shared.received = true
                omnihuman.sleep(5)
              else
                local res, err = c:generate(fixtures.with(fields, {
                  on_status = what == "callback raises" and raising_status or nil,
                  timeout = 30,
                }))
                got[#got + 1] = { res = res, err = err }
              end
            end
            local disruptor = function()
              local deadline = fixtures.now() + 5
              if when == "on the wire" then
                while (srv:count(ns, "create") or 0) < 1 and fixtures.now() < deadline do omnihuman.sleep(0.02) end
                omnihuman.sleep(0.05)
              else
                -- The job is made: received by the worker, or answered and not yet awaited.
                local function made()
                  local op = shared.op
                  return shared.received or (op and not op:is_closed() and op:done())
                end
                while not made() and (srv:count(ns, "poll") or 0) < 1 and fixtures.now() < deadline do
                  omnihuman.sleep(0.01)
                end
              end
              if what == "other raises a string" then error("something else broke") end
              if what == "other raises a table" then error({ code = "something else broke" }) end
              if what == "op closed" then shared.op:close() end
              if what == "client closed" then c:close() end
            end
            local ok, raised = pcall(omnihuman.run, function()
              omnihuman.spawn(worker)
              if what ~= "callback raises" then omnihuman.spawn(disruptor) end
            end)
            -- What the program holds now, and what the service made.
            local text = table.concat(flatten({ raised = raised, got = got }), "\n")
            local recs = srv:records(ns)
            local ids = recs.tags[tag] or {}
            assert.is_true(#ids <= 1, "more than one job for one create")
            assert.equals(1, recs.counts.create or 0)
            for _, id in ipairs(ids) do
              local named = text:find(id, 1, true) ~= nil
              local warned = text:find("maybe_created", 1, true) ~= nil
              assert(named or warned, ("job %s was made but the program was told nothing of it (ok=%s):\n%s")
                :format(id, tostring(ok), text))
            end
            if what:match("^other") then assert.is_false(ok) end
            c:close()
          end)
        end
      end
    end
  end

  it("covers the whole matrix", function() assert.is_true(cells >= 25, cells) end)

  it("a main-thread create returns its job when a coroutine it wakes raises", function()
    local ns = fixtures.ns("pj")
    local c = fixtures.client(srv, ns)
    local plain = require("omnihuman.hosts.plain")
    local seen = {}
    plain.on_error = function(msg) seen[#seen + 1] = msg end
    srv:fault(ns, "create", { { delay = 0.3 } })
    local co = coroutine.create(function()
      omnihuman.sleep(0.01)
      error("unrelated coroutine broke")
    end)
    assert(coroutine.resume(co)) -- yields its sleep to us; the create's drive resumes it
    local job, err = c:create(fixtures.url_fields())
    plain.on_error = nil
    assert.is_nil(err)
    assert.truthy(job and job.id)
    assert.equals("dead", coroutine.status(co))
    assert.equals(1, #seen)
    assert.matches("unrelated coroutine broke", seen[1])
    assert.matches("unrelated coroutine broke", plain.errors[#plain.errors])
  end)

  it("generate names its job when on_status or on_progress raises (string and table)", function()
    for _, which in ipairs({ "on_status", "on_progress" }) do
      for _, value in ipairs({ "callback broke", { code = 7 } }) do
        local ns = fixtures.ns("pj")
        local c = fixtures.client(srv, ns)
        local args = fixtures.url_fields{ output = fixtures.tmpdir() .. "/o.mp4" }
        args[which] = function() error(value) end
        local ok, raised = pcall(c.generate, c, args)
        assert.is_false(ok)
        local made = assert(c:poll(type(raised) == "table" and raised.job_id or tostring(raised):match("job (%S+) was created")))
        assert.truthy(made.id, tostring(raised))
        if type(value) == "table" then assert.equals(value, raised) end
      end
    end
  end)

  it("awaiting another loop's operation inside run raises at once", function()
    local ns = fixtures.ns("pj")
    local other = omnihuman.core.new_loop()
    local c = omnihuman.core.new_client(other, { api_key = fixtures.KEY, base_url = srv:base_url(ns) })
    local t0 = fixtures.now()
    local ok, err = pcall(omnihuman.run, function()
      omnihuman.await(c:poll_op("j"))
    end)
    assert.is_false(ok)
    assert.matches("another loop", err)
    assert.is_true(fixtures.now() - t0 < 30)
    -- A raw yield of it is refused by the scheduler the same way.
    ok, err = pcall(omnihuman.run, function() coroutine.yield(c:poll_op("j")) end)
    assert.is_false(ok)
    assert.matches("another loop", err)
    other:close()
  end)

  it("two coroutines awaiting one operation are both resumed", function()
    local ns = fixtures.ns("pj")
    local c = fixtures.client(srv, ns)
    local order = {}
    omnihuman.run(function()
      local op = c:create_op(fixtures.url_fields())
      for i = 1, 3 do
        omnihuman.spawn(function()
          local job = omnihuman.await(op)
          order[#order + 1] = i .. ":" .. tostring(job and job.id ~= nil)
        end)
      end
    end)
    table.sort(order)
    assert.same({ "1:true", "2:true", "3:true" }, order)
    assert.equals(1, srv:count(ns, "create"))
    -- Coroutines resumed by hand (parked through the adapter) too.
    local op = omnihuman.core.sleep_op(omnihuman.loop(), 0.01)
    local woken = 0
    local cos = {}
    for i = 1, 2 do
      cos[i] = coroutine.create(function() omnihuman.await(op); woken = woken + 1 end)
      assert(coroutine.resume(cos[i]))
    end
    omnihuman.sleep(0.05)
    assert.equals(2, woken)
  end)

  it("run inside a callback of a main-thread wait raises at once instead of spinning", function()
    local ns = fixtures.ns("pj")
    local c = fixtures.client(srv, ns)
    local job = assert(c:create(fixtures.url_fields{ sandbox_polls = 1 }))
    local seen
    local res = c:wait(job.id, { on_status = function()
      if seen == nil then
        local ok, err = pcall(omnihuman.run, function() end)
        seen = ok and "ran" or err
      end
    end })
    assert.truthy(res)
    assert.matches("cannot run inside a callback", seen)
  end)

  it("client:close ends its waits and creates at once, with maybe_created on a sent create", function()
    local ns = fixtures.ns("pj")
    local c = fixtures.client(srv, ns)
    srv:fault(ns, "create", { { delay = 2 } })
    local job = assert(c:create(fixtures.url_fields{ sandbox_polls = 1000 }))
    srv:fault(ns, "create", { { delay = 2 } })
    local results = {}
    local t0 = fixtures.now()
    omnihuman.run(function()
      omnihuman.spawn(function() results.wait = { c:wait(job.id, { timeout = 60 }) } end)
      omnihuman.spawn(function() results.create = { c:create(fixtures.url_fields()) } end)
      omnihuman.spawn(function()
        while (srv:count(ns, "create") or 0) < 2 do omnihuman.sleep(0.02) end
        omnihuman.sleep(0.1)
        c:close()
        c:close() -- idempotent
      end)
    end)
    assert.is_true(fixtures.now() - t0 < 30)
    assert.equals("cancelled", results.wait[2].kind)
    assert.equals("cancelled", results.create[2].kind)
    assert.is_true(results.create[2].maybe_created)
    assert.has_error(function() c:poll("x") end, "omnihuman: client is closed")
  end)
end)
