-- client:poll awaited by the main thread takes one call into C (the op is
-- never handed to Lua and one op serves every such check of a client). It
-- must answer exactly as the general path (poll_op + await) does, wake
-- coroutines whose operations finish meanwhile, refuse to block inside a
-- callback, and never let one check's answer alias another's.
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")
local seeded = require("spec.support.seeded")

-- Answers of every kind a status check can get; each case is the fault list
-- the server plays for one check (retries included).
local ANSWERS = {
  { { status = 200, body = '{"id":"j","status":"queued","video":null,"error":null}' } },
  { { status = 200, body = '{"id":"j","status":"completed","video":{"url":"https://cdn.example/v.mp4"},"n":3}' } },
  { { status = 200, body = '{"id":"j","status":"failed","error":{"message":"no face"}}' } },
  { { status = 200, body = '{"id":"j","status":"queued","echo":"' .. fixtures.KEY .. '"}' } },
  { { status = 200, body = '{"id":"j","status":"q\\u0075eued","deep":[[{"a":[1,2,{"b":null}]}]]}' } },
  { { status = 200, body = '{"id":"j"}' }, { status = 200, body = '{"id":"j"}' } },
  { { status = 200, body = "not json" }, { status = 200, body = '{"id":"j","status":"queued"}' } },
  { { status = 401, body = '{"message":"bad key ' .. fixtures.KEY .. '"}' } },
  { { status = 404, body = '{"message":"no such job"}' } },
  { { status = 500, body = "oops" }, { status = 200, body = '{"id":"j","status":"generating"}' } },
  { { status = 429, headers = { ["Retry-After"] = "0" }, body = "{}" },
    { status = 200, body = '{"id":"j","status":"queued"}' } },
  { { status = 503, body = "down" }, { status = 503, body = "down" } },
}

-- What a check ended with, comparable across the two paths.
local function outcome(res, err)
  if res then return { ok = res } end
  return { kind = err.kind, message = err.message, status = err.status, retryable = err.retryable }
end

describe("client:poll in the main thread #slow", function()
  local srv
  setup(function() srv = fixtures.start{ tls = false } end)
  teardown(function() srv:stop() end)

  it("answers as poll_op + await for every kind of answer (seeded order) #slow", function()
    local r = seeded.rng()
    print(("poll_now_spec seed %d"):format(seeded.SEED))
    local order = {}
    for i = 1, #ANSWERS do table.insert(order, r(#order + 1), i) end
    for _, i in ipairs(order) do
      local got = {}
      for pass = 1, 2 do
        local ns = fixtures.ns()
        local c = fixtures.client(srv, ns, { max_retries = 1 })
        srv:fault(ns, "poll", ANSWERS[i])
        if pass == 1 then
          got[pass] = outcome(c:poll("j"))
        else
          got[pass] = outcome(omnihuman.await(c:poll_op("j")))
        end
        assert.equals(#ANSWERS[i], srv:count(ns, "poll"), "answer " .. i .. " pass " .. pass)
      end
      assert.same(got[2], got[1], "answer " .. i)
    end
  end)

  it("keeps each check's answer and URL apart (one op serves every check)", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    srv:fault(ns, "poll", {
      { status = 200, body = '{"id":"a","status":"queued"}' },
      { status = 200, body = '{"id":"a","status":"generating","progress":50}' },
      { status = 200, body = '{"id":"b","status":"generating"}' },
      { status = 404, body = '{"message":"gone"}' },
      { status = 200, body = '{"id":"c","status":"completed","video":{"url":"https://cdn.example/v.mp4"}}' },
    })
    local a = assert(c:poll("a"))
    local a2 = assert(c:poll("a"))
    local b = assert(c:poll("b"))
    local none, err = c:poll("x")
    local d = assert(c:poll("c"))
    assert.same({ id = "a", status = "queued" }, a)
    assert.same({ id = "a", status = "generating", progress = 50 }, a2)
    assert.same({ id = "b", status = "generating" }, b)
    assert.is_nil(none)
    assert.equals("not_found", err.kind)
    assert.equals("c", d.id)
    assert.is_not.equal(a, b)
    local paths = {}
    for _, rec in ipairs(srv:records(ns).requests) do
      if rec.route == "poll" then paths[#paths + 1] = tostring(rec.query):match("generation_id=([^&]*)") end
    end
    assert.same({ "a", "a", "b", "x", "c" }, paths)
  end)

  it("wakes a coroutine whose operation finished during the check", function()
    local ns1, ns2 = fixtures.ns(), fixtures.ns()
    local c1, c2 = fixtures.client(srv, ns1), fixtures.client(srv, ns2)
    srv:fault(ns1, "poll", { { status = 200, body = '{"id":"a","status":"queued"}' } })
    local slow = {}
    for i = 1, 20 do slow[i] = { delay = 0.2, status = 200, body = '{"id":"b","status":"queued"}' } end
    srv:fault(ns2, "poll", slow)
    local got
    local co = coroutine.wrap(function() got = omnihuman.await(c1:poll_op("a")) end)
    co() -- parked: nothing drives the loop but the checks below
    local checks = 0
    while not got and checks < 20 do
      assert(c2:poll("b"))
      checks = checks + 1
    end
    assert.is_table(got)
    assert.equals("a", got.id)
  end)

  it("refuses to block inside a callback of the loop, before any request", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    srv:fault(ns, "poll", {
      { status = 200, body = '{"id":"w","status":"queued"}' },
      { status = 200, body = '{"id":"w","status":"completed","video":{"url":"https://cdn.example/v.mp4"}}' },
    })
    local inner
    assert(c:wait("w", { interval = 0.01, on_status = function()
      inner = { pcall(c.poll, c, "inner") }
    end }))
    assert.is_false(inner[1])
    assert.matches("cannot block inside a callback", tostring(inner[2]))
    assert.equals(2, srv:count(ns, "poll"))
  end)

  -- The fast reader tells the status it saw; the table's own must agree.
  it("takes an answer whose last top-level status is not a string for a cut one", function()
    for _, body in ipairs({ '{"id":"j","status":"queued","status":null}', '{"id":"j","status":"queued","status":7}',
                            '{"id":"j","x":{"status":"queued"}}' }) do
      local ns = fixtures.ns()
      local c = fixtures.client(srv, ns, { max_retries = 0 })
      srv:fault(ns, "poll", { { status = 200, body = body } })
      local res, err = c:poll("j")
      assert.is_nil(res, body)
      assert.equals("protocol", err.kind, body)
    end
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns, { max_retries = 0 })
    srv:fault(ns, "poll", { { status = 200, body = '{"id":"j","status":7,"status":"generating"}' } })
    assert.equals("generating", assert(c:poll("j")).status)
  end)

  -- A callback that raises ends the check; the op, handed back to Lua,
  -- carries what it raised, and the next check makes a new op.
  it("raises what its on_event raised, then checks again", function()
    local ns = fixtures.ns()
    local boom = false
    local c = fixtures.client(srv, ns, { on_event = function(ev)
      if boom and ev.type == "request" then error("boom from on_event") end
    end })
    srv:fault(ns, "poll", { { status = 200, body = '{"id":"a","status":"queued"}' },
      { status = 200, body = '{"id":"a","status":"generating"}' } })
    assert.equals("queued", assert(c:poll("a")).status)
    boom = true
    local ok, err = pcall(c.poll, c, "a")
    assert.is_false(ok)
    assert.matches("boom from on_event", tostring(err))
    assert.equals(1, srv:count(ns, "poll"))
    boom = false
    assert.equals("generating", assert(c:poll("a")).status)
  end)

  -- Each client keeps a registry slot for its checks' results: a collected
  -- client must free it (a leak would leave one `false` per client).
  it("a collected client leaves no registry slot of its checks behind", function()
    local reg = debug.getregistry()
    local function falses()
      local n = 0
      for _, v in pairs(reg) do if v == false then n = n + 1 end end
      return n
    end
    local function one()
      local ns = fixtures.ns()
      local c = fixtures.client(srv, ns)
      srv:fault(ns, "poll", { { status = 200, body = '{"id":"a","status":"queued"}' } })
      assert(c:poll("a"))
    end
    for _ = 1, 3 do collectgarbage() end
    local before = falses()
    for _ = 1, 20 do one() end
    for _ = 1, 3 do collectgarbage() end
    assert.is_true(falses() <= before + 1, ("%d slots holding false, %d before"):format(falses(), before))
  end)

  -- The kept op is anchored by the client's own reference to it: a close
  -- must still find it in flight, and the client's collection must free it.
  it("a client closed by its on_event during a later check ends that check as cancelled", function()
    local ns = fixtures.ns()
    local closing, c = false, nil
    c = fixtures.client(srv, ns, { on_event = function(ev)
      if closing and ev.type == "request" then c:close() end
    end })
    srv:fault(ns, "poll", { { status = 200, body = '{"id":"a","status":"queued"}' } })
    assert.equals("queued", assert(c:poll("a")).status)
    closing = true
    local res, err = c:poll("a")
    assert.is_nil(res)
    assert.equals("cancelled", err.kind)
    assert.equals(1, srv:count(ns, "poll"))
    local weak = setmetatable({ c }, { __mode = "v" })
    c = nil
    for _ = 1, 3 do collectgarbage() end
    assert.is_nil(weak[1])
    local c2 = fixtures.client(srv, ns)
    srv:fault(ns, "poll", { { status = 200, body = '{"id":"b","status":"generating"}' },
      { status = 200, body = '{"id":"b","status":"generating"}' } })
    assert.equals("generating", assert(c2:poll("b")).status)
    assert.equals("generating", assert(c2:poll("b")).status)
  end)
end)
