-- The key (docs/api.md "The key"): it never appears in errors, events or requests to any
-- host but the API's; TLS verification stays on.
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")

local function contains_key(v, seen)
  seen = seen or {}
  if type(v) == "string" then return v:find(fixtures.KEY, 1, true) ~= nil end
  if type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      if contains_key(k, seen) or contains_key(x, seen) then return true end
    end
  end
  return false
end

describe("security", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  it("keeps the key out of events, errors and CDN requests", function()
    local ns = fixtures.ns()
    local events = {}
    local c = fixtures.client(srv, ns, { on_event = function(ev) events[#events + 1] = ev end, max_retries = 1 })
    -- The server echoes the key back in an error message: it must be masked.
    srv:fault(ns, "poll", { { status = 400, body = '{"message":"bad key ' .. fixtures.KEY .. ' given","statusCode":400}' } })
    local res, err = c:generate{ image = fixtures.PNG, audio = fixtures.WAV, output = dir .. "/s.mp4" }
    assert.is_nil(res)
    assert.equals("invalid_input", err.kind)
    assert.matches("%[redacted%]", err.message)
    assert.is_false(contains_key(err))
    assert.is_nil(tostring(err):find(fixtures.KEY, 1, true))
    res, err = c:generate{ image = fixtures.PNG, audio = fixtures.WAV, output = dir .. "/s.mp4", sandbox_polls = 1 }
    assert.is_nil(err)
    assert.is_table(res)
    assert.is_true(#events >= 4)
    assert.is_false(contains_key(events))
    local cdn = 0
    for _, r in ipairs(srv:records(ns).requests) do
      if r.listener == "cdn" then
        cdn = cdn + 1
        assert.is_false(contains_key(r.headers))
      end
    end
    assert.equals(1, cdn)
    assert.is_nil(tostring(c):find(fixtures.KEY, 1, true))
  end)

  it("does not follow an API redirect to another host", function()
    local ns = fixtures.ns()
    srv:fault(ns, "create", { { redirect = "cdn" } })
    local c = fixtures.client(srv, ns)
    local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
    assert.is_nil(job)
    assert.equals("protocol", err.kind)
    assert.matches("redirect", err.message)
    local recs = srv:records(ns)
    assert.equals(0, recs.counts.cdn or 0)
    for _, r in ipairs(recs.requests) do
      if r.listener == "cdn" then assert.is_false(contains_key(r.headers)) end
    end
  end)

  it("refuses a server its CA does not vouch for", function()
    local c = omnihuman.new{ api_key = fixtures.KEY, base_url = srv:base_url(fixtures.ns()), max_retries = 0 }
    local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
    assert.is_nil(job)
    assert.equals("network", err.kind)
    assert.is_false(err.retryable)
  end)

  it("without a key, fails with kind auth and sends nothing", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns, { api_key = "" })
    local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
    assert.is_nil(job)
    assert.equals("auth", err.kind)
    assert.equals(0, srv:count(ns, "create") or 0)
  end)

  it("maps a rejected key to kind auth", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns, { api_key = "sk-wrong-key" })
    local st, err = c:poll("x:bytedance/omnihuman")
    assert.is_nil(st)
    assert.equals("auth", err.kind)
    assert.equals(401, err.status)
    assert.equals("omnihuman: auth: " .. err.message, tostring(err))
  end)
end)
