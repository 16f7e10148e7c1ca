-- Answers as the service documents them: statuses compared without regard
-- to case, unknown statuses kept pending (and reported as they are), whole
-- numbers decoded as Lua integers on 5.3+.
local fixtures = require("spec.support.fixtures")

local function poll_answers(srv, ns, bodies)
  local faults = {}
  for i, b in ipairs(bodies) do faults[i] = { status = 200, body = b } end
  srv:fault(ns, "poll", faults)
end

describe("statuses and numbers", function()
  local srv
  setup(function() srv = fixtures.start{ tls = false } end)
  teardown(function() srv:stop() end)

  for _, spelling in ipairs({ "completed", "COMPLETED", "Completed", "Succeeded" }) do
    it(("a wait ends on %q"):format(spelling), function()
      local ns = fixtures.ns()
      local c = fixtures.client(srv, ns)
      poll_answers(srv, ns, {
        '{"id":"j","status":"Queued"}',
        '{"id":"j","status":"GENERATING"}',
        '{"id":"j","status":"' .. spelling .. '","video":{"url":"https://cdn.example/v.mp4"}}',
      })
      local seen = {}
      local res = assert(c:wait("j", { interval = 0.01, on_status = function(st) seen[#seen + 1] = st.status end }))
      assert.equals(spelling, res.status)
      assert.same({ "Queued", "GENERATING" }, seen)
    end)
  end

  for _, spelling in ipairs({ "error", "ERROR", "Failed", "cancelled", "Canceled", "rejected", "expired" }) do
    it(("a wait fails on %q"):format(spelling), function()
      local ns = fixtures.ns()
      local c = fixtures.client(srv, ns)
      poll_answers(srv, ns, { '{"id":"j","status":"' .. spelling
        .. '","error":{"name":"FaceError","message":"no face found"}}' })
      local res, err = c:wait("j", { interval = 0.01 })
      assert.is_nil(res)
      assert.equals("generation_failed", err.kind)
      assert.matches("no face found", err.message)
      assert.equals(spelling, err.result.status)
      assert.same({ name = "FaceError", message = "no face found" }, err.result.error) -- kept whole
    end)
  end

  it("an unknown status stays pending until the deadline and reaches on_status as it is", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    srv:fault(ns, "poll", {
      { status = 200, body = '{"id":"j","status":"Warming-Up"}' },
      { status = 200, body = '{"id":"j","status":"waiting"}' },
      { status = 200, body = '{"id":"j","status":"active"}' },
      { status = 200, body = '{"id":"j","status":"completed","video":{"url":"https://cdn.example/v.mp4"}}' },
    })
    local seen = {}
    local res = assert(c:wait("j", { interval = 0.01, on_status = function(st) seen[#seen + 1] = st.status end }))
    assert.equals("completed", res.status)
    assert.same({ "Warming-Up", "waiting", "active" }, seen)
    ns = fixtures.ns()
    c = fixtures.client(srv, ns)
    srv:fault(ns, "poll", { { status = 200, body = '{"id":"j","status":"Warming-Up"}' } })
    local _, err = c:wait("j", { interval = 5, timeout = 0.2 })
    assert.equals("timeout", err.kind)
    assert.matches("still Warming%-Up", err.message)
  end)

  it("whole numbers come back as integers (Lua 5.3+), other numbers as floats", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    srv:fault(ns, "create", { { status = 201, body = '{"id":"j","status":"queued","meta":{"usage":'
      .. '{"tokens_used":5880000,"credits_used":5.0,"ratio":1.5,"big":1e20,"edge":9007199254740992,'
      .. '"neg":-3,"list":[1,2.5,3]}}}' } })
    local job = assert(c:create{ image_url = "https://x/u.png", audio_url = "https://x/u.mp3" })
    local u = job.meta.usage
    assert.equals(5880000, u.tokens_used)
    assert.equals(1.5, u.ratio)
    if math.type then
      assert.equals("integer", math.type(u.tokens_used))
      assert.equals("integer", math.type(u.credits_used))
      assert.equals("integer", math.type(u.edge))
      assert.equals("integer", math.type(u.neg))
      assert.equals("integer", math.type(u.list[1]))
      assert.equals("float", math.type(u.list[2]))
      assert.equals("float", math.type(u.ratio))
      assert.equals("float", math.type(u.big))
      assert.equals("5880000", tostring(u.tokens_used))
    end
  end)
end)
