-- docs/api.md "The job ledger", checked as a user reads it against the test
-- server: the same request (model, fields, the SHA-256 of each local file,
-- whatever its path or the order of its fields) to the same output is
-- refused as duplicate with err.existing the ledger's row, unless again =
-- true; label and again are never sent; client:jobs filters by state,
-- model, label and since; client:resume downloads again without a create.
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")
local shared = require("spec.support.docs_promises")

describe("docs promises: the job ledger", function()
  local ctx = shared("omh-docs-ledger", setup, teardown)

  local function ledger_client(ns)
    return fixtures.client(ctx.srv, ns, { ledger = ctx.dir .. "/" .. ns .. ".db" })
  end

  it("refuses the same request to the same output, by content; again = true pays again; label and again stay home", function()
    local ns = fixtures.ns()
    local c = ledger_client(ns)
    local a, b = ctx.dir .. "/a.png", ctx.dir .. "/b.png"
    fixtures.write(a, fixtures.read(fixtures.PNG))
    fixtures.write(b, fixtures.read(fixtures.PNG))
    local out = ctx.dir .. "/o.mp4"
    local first = assert(c:generate{ image = a, audio = fixtures.WAV, output = out, label = "first" })
    assert.equals(out, first.output)
    -- the same bytes under another path, fields in another order: the same request
    local res, err = c:generate{ output = out, audio = fixtures.WAV, image = b }
    assert.is_nil(res)
    assert.equals("duplicate", err.kind)
    assert.equals(first.id, err.existing.job_id)
    assert.equals("omnihuman: duplicate: " .. err.message, tostring(err))
    local _, err2 = c:create({ image = a, audio = fixtures.WAV }, out)
    assert.equals("duplicate", err2.kind)
    assert.equals(1, ctx.srv:count(ns, "create"))
    -- another output, other bytes, or again = true: a new create
    assert(c:generate{ image = a, audio = fixtures.WAV, output = ctx.dir .. "/o2.mp4" })
    fixtures.write(b, fixtures.read(fixtures.PNG) .. "\0")
    assert(c:generate{ image = b, audio = fixtures.WAV, output = out })
    assert(c:generate{ image = a, audio = fixtures.WAV, output = out, again = true })
    assert.equals(4, ctx.srv:count(ns, "create"))
    for _, r in ipairs(ctx.srv:records(ns).requests) do
      if r.route == "create" then
        assert.is_nil(r.body:find('"label"', 1, true))
        assert.is_nil(r.body:find('"again"', 1, true))
      end
    end
  end)

  it("jobs filters by state, model, label and since; resume downloads again without a create", function()
    local ns = fixtures.ns()
    local c = ledger_client(ns)
    local out = ctx.dir .. "/r.mp4"
    local res = assert(c:generate(fixtures.url_fields{ output = out, label = "keep" }))
    local job = assert(c:create(fixtures.url_fields{ label = "other" }))
    assert.equals(2, #c:jobs())
    assert.equals(1, #c:jobs{ label = "keep" })
    assert.equals(2, #c:jobs{ model = "bytedance/omnihuman" })
    assert.equals(0, #c:jobs{ model = "google/veo3" })
    assert.equals(0, #c:jobs{ since = os.time() + 3600 })
    assert.equals(2, #c:jobs{ since = os.time() - 3600 })
    local created = c:jobs{ state = "created" }
    assert.equals(1, #created)
    assert.equals(job.id, created[1].job_id)
    fixtures.rm_rf(out)
    local again = assert(c:resume(c:jobs{ label = "keep" }[1]))
    assert.equals(out, again.output)
    assert.truthy(fixtures.exists(out))
    assert(c:resume(res.id))
    assert.equals(2, ctx.srv:count(ns, "create"))
  end)

  it("records the statuses: a row's status is the last one the service reported", function()
    local ns = fixtures.ns()
    local c = ledger_client(ns)
    assert(c:generate(fixtures.url_fields{ output = ctx.dir .. "/s1.mp4", label = "ok" }))
    assert.equals(ctx.srv.profile.completed, c:jobs{ label = "ok" }[1].status)
    local _, err = c:generate(fixtures.url_fields{ output = ctx.dir .. "/s2.mp4", label = "failed", sandbox_fail = "x" })
    assert.equals("generation_failed", err.kind)
    local row = c:jobs{ label = "failed" }[1]
    assert.equals("failed", row.state)
    assert.equals(ctx.srv.profile.failed, row.status)
  end)

  it("ledger_busy_timeout takes 0 to 86400 seconds; anything else raises", function()
    local path = ctx.dir .. "/busy.db"
    for _, v in ipairs({ 0, 0.5, 86400 }) do
      local c = omnihuman.new{ api_key = "k", base_url = "http://127.0.0.1:9/v2", ledger = path, ledger_busy_timeout = v }
      c:close()
    end
    for _, v in ipairs({ -1, -5e-324, 86400.5, 0 / 0, math.huge, "5" }) do
      assert.has_error(function()
        omnihuman.new{ api_key = "k", base_url = "http://127.0.0.1:9/v2", ledger = path, ledger_busy_timeout = v }
      end, nil, tostring(v))
    end
  end)

  it("jobs raises on a filter name it does not know", function()
    local c = ledger_client(fixtures.ns())
    assert.has_error(function() c:jobs{ nope = 1 } end)
    assert.has_error(function() c:jobs{ labels = "x" } end)
    assert.has_error(function() c:jobs{ since = "yesterday" } end)
    assert.has_error(function() c:jobs("created") end)
    assert.equals(0, #c:jobs{ state = { created = true }, model = "m", label = "l", since = 0 })
  end)
end)
