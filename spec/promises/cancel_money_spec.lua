-- Money on cancel: a create ended (cancel, close, its loop closing,
-- omnihuman.run unwinding) after its request may have reached the server
-- says so with err.maybe_created = true; before the request left it is a
-- plain "cancelled". When omnihuman.run unwinds, creates in flight are
-- finished and their job ids reported, or marked: never silently lost.
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")

local FIELDS = { image_url = "https://x/u.png", audio_url = "https://x/u.mp3" }

describe("money on cancel #slow", function()
  local srv
  setup(function() srv = fixtures.start{ tls = false } end)
  teardown(function() srv:stop() end)

  -- Steps the loop until the server has received n creates of ns.
  local function until_received(ns, n)
    local deadline = fixtures.now() + 5
    while (srv:count(ns, "create") or 0) < n and fixtures.now() < deadline do omnihuman.loop():run_once(0.02) end
    assert.equals(n, srv:count(ns, "create") or 0)
    omnihuman.loop():run_once(0.05) -- the body too
  end

  local enders = {
    cancel = function(op) op:cancel() end,
    close = function(op) op:close() end,
    ["loop close"] = function() omnihuman.loop():close() end,
  }

  for how, ender in pairs(enders) do
    it(("a %s after the request reached the server: maybe_created"):format(how), function()
      local ns = fixtures.ns()
      local c = fixtures.client(srv, ns)
      srv:fault(ns, "create", { { hang = true } })
      local op = c:create_op(FIELDS)
      until_received(ns, 1)
      ender(op)
      local res, err = require("omnihuman.waiters").result(op)
      assert.is_nil(res)
      assert.equals("cancelled", err.kind)
      assert.is_true(err.maybe_created)
      assert.matches("may exist", err.message)
    end)

    it(("a %s before the request left: plain cancelled, nothing sent"):format(how), function()
      local ns = fixtures.ns()
      local c = fixtures.client(srv, ns, { max_connections = 1 })
      srv:fault(ns, "create", { { hang = true } })
      local first = c:create_op(FIELDS)          -- takes the only slot
      local op = c:create_op(FIELDS)             -- waits in line
      until_received(ns, 1)
      ender(op)
      local res, err = require("omnihuman.waiters").result(op)
      assert.is_nil(res)
      assert.equals("cancelled", err.kind)
      assert.is_nil(err.maybe_created)
      if how ~= "loop close" then first:cancel() end
      omnihuman.loop():run_once(0.1)
      assert.equals(1, srv:count(ns, "create"))
    end)
  end

  it("a create waiting to retry after a 429 is a plain cancel", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    srv:fault(ns, "create", { { status = 429, headers = { ["Retry-After"] = "30" } } })
    local op = c:create_op(FIELDS)
    until_received(ns, 1)
    omnihuman.loop():run_once(0.1)
    op:cancel()
    local _, err = op:result()
    assert.equals("cancelled", err.kind)
    assert.is_nil(err.maybe_created)
  end)

  it("run unwinding on another coroutine's error reports the job a create made", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    srv:fault(ns, "create", { { delay = 0.3 } })
    local ok, err = pcall(omnihuman.run, function()
      omnihuman.spawn(function() c:create(FIELDS) end)
      omnihuman.spawn(function()
        omnihuman.sleep(0.1) -- the create is on the wire by now
        error("something else broke")
      end)
    end)
    assert.is_false(ok)
    assert.matches("something else broke", err)
    local recs = srv:records(ns)
    assert.equals(1, recs.counts.create)
    local id = err:match("job (%S+) was created")
    assert.truthy(id, err)
    assert.truthy(assert(c:poll(id)).status) -- the id is the server's job
  end)

  it("run unwinding marks a create whose answer never comes", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns, { timeout = 0.5, max_retries = 0 })
    srv:fault(ns, "create", { { hang = true } })
    local ok, err = pcall(omnihuman.run, function()
      omnihuman.spawn(function() c:create(FIELDS) end)
      omnihuman.spawn(function()
        omnihuman.sleep(0.1)
        error("something else broke")
      end)
    end)
    assert.is_false(ok)
    assert.matches("a create may have reached the service", err)
    assert.equals(0, omnihuman.loop():active())
  end)

  it("run unwinding with a create still queued drops it without a request", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns, { max_connections = 1, timeout = 0.5, max_retries = 0 })
    srv:fault(ns, "create", { { delay = 0.2 } })
    local ok, err = pcall(omnihuman.run, function()
      omnihuman.spawn(function() c:create(FIELDS) end)
      omnihuman.spawn(function() c:create(FIELDS) end) -- queued behind the first
      omnihuman.spawn(function()
        omnihuman.sleep(0.1) -- the first create is on the wire, the second in line
        error("early failure")
      end)
    end)
    assert.is_false(ok)
    assert.matches("early failure", err)
    assert.equals(1, srv:count(ns, "create"))
    assert.equals(1, select(2, err:gsub("was created", "")))
  end)
end)
