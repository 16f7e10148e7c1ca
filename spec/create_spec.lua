-- client:create: what is sent, what comes back, and the billed-request rule.
local omnihuman = require("omnihuman")
local cjson = require("cjson")
local F = require("spec.support.fixtures")

describe("create", function()
  local srv
  setup(function() srv = F.start() end)
  teardown(function() srv:stop() end)

  it("sends model, URLs and extra fields as JSON over HTTPS and returns the job", function()
    local ns = F.ns()
    local c = F.client(srv, ns)
    local job, err = c:create{ image_url = "https://example.test/a.png",
                               audio_url = "https://example.test/a.mp3",
                               resolution = "720p", turbo_mode = true }
    assert.is_nil(err)
    assert.matches(":bytedance/omnihuman$", job.id)
    assert.equals("queued", job.status)
    assert.same({ usage = { [srv.profile.usage_field] = 5880000 } }, job.meta)
    local rec = srv:records(ns).requests[1]
    assert.equals("POST", rec.method)
    assert.equals("Bearer " .. F.KEY, rec.headers.authorization)
    local body = cjson.decode(rec.body)
    assert.same({ model = "bytedance/omnihuman", image_url = "https://example.test/a.png",
                  audio_url = "https://example.test/a.mp3", resolution = "720p",
                  turbo_mode = true }, body)
  end)

  it("uses the client's model and lets a field override it", function()
    local ns = F.ns()
    local c = F.client(srv, ns, { model = "bytedance/omnihuman/v1.5" })
    assert(c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" })
    assert(c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3", model = "bytedance/omnihuman" })
    local reqs = srv:records(ns).requests
    assert.equals("bytedance/omnihuman/v1.5", cjson.decode(reqs[1].body).model)
    assert.equals("bytedance/omnihuman", cjson.decode(reqs[2].body).model)
  end)

  it("sends local files as data URIs sniffed by content", function()
    local ns = F.ns()
    local c = F.client(srv, ns)
    assert(c:create{ image = F.PNG, audio = F.WAV })
    local rec = srv:records(ns).requests[1]
    assert.is_true(rec.body_len > #F.read(F.PNG) * 4 / 3)
    -- The recorded body is cut at 2000 characters: the image comes first.
    assert.matches('^{"image_url":"data:image/png;base64,iVBORw0KGgo', rec.body)
  end)

  it("does not modify the caller's table", function()
    local c = F.client(srv, F.ns())
    local fields = { image = F.PNG, audio = F.WAV }
    assert(c:create(fields))
    assert.same({ image = F.PNG, audio = F.WAV }, fields)
  end)

  it("raises on misuse", function()
    local c = F.client(srv, F.ns())
    assert.has_error(function() c:create("x") end)
    assert.has_error(function() c:create{ audio_url = "https://x/a.mp3" } end, "omnihuman: image (a file) or image_url (a URL) is required")
    assert.has_error(function() c:create{ image = F.PNG, image_url = "https://x", audio = F.WAV } end,
      "omnihuman: give image or image_url, not both")
    assert.has_error(function() c:create{ image = 42, audio = F.WAV } end)
  end)

  it("sends a create that gets a 500 exactly once and says the job may exist", function()
    local ns = F.ns()
    srv:fault(ns, "create", { { status = 500 } })
    local c = F.client(srv, ns)
    local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
    assert.is_nil(job)
    assert.equals("server", err.kind)
    assert.equals(500, err.status)
    assert.is_true(err.maybe_created)
    assert.is_false(err.retryable)
    assert.matches("may have accepted it", tostring(err))
    assert.equals(1, srv:count(ns, "create"))
  end)

  for _, fault in ipairs({ { status = 502 }, { status = 504 }, { html = 502 }, { drop = true },
                           { close = true }, { truncate = true } }) do
    it("never resends a create after an ambiguous failure: " .. cjson.encode(fault), function()
      local ns = F.ns()
      srv:fault(ns, "create", { fault })
      local c = F.client(srv, ns)
      local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
      assert.is_nil(job)
      assert.is_true(err.maybe_created)
      assert.equals(1, srv:count(ns, "create"))
    end)
  end

  it("does not resend a create whose answer timed out", function()
    local ns = F.ns()
    srv:fault(ns, "create", { { delay = 3 } })
    local c = F.client(srv, ns, { timeout = 0.5 })
    local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
    assert.is_nil(job)
    assert.equals("timeout", err.kind)
    assert.is_true(err.maybe_created)
    assert.equals(1, srv:count(ns, "create"))
  end)

  it("retries a create on 429 (honouring Retry-After) and 503", function()
    local ns = F.ns()
    srv:fault(ns, "create", { { status = 429, headers = { ["Retry-After"] = "1" } }, { status = 503 } })
    local events = {}
    local c = F.client(srv, ns, { on_event = function(ev) events[#events + 1] = ev end })
    local t0 = F.now()
    local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
    assert.is_nil(err)
    assert.truthy(job.id)
    assert.equals(3, srv:count(ns, "create"))
    assert.is_true(F.now() - t0 >= 1)
    local retries = 0
    for _, ev in ipairs(events) do if ev.type == "retry" then retries = retries + 1 end end
    assert.equals(2, retries)
  end)

  it("gives up on 429 after max_retries with kind rate_limited", function()
    local ns = F.ns()
    srv:fault(ns, "create", { { status = 429, headers = { ["Retry-After"] = "0" } },
                              { status = 429, headers = { ["Retry-After"] = "0" } } })
    local c = F.client(srv, ns, { max_retries = 1 })
    local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
    assert.is_nil(job)
    assert.equals("rate_limited", err.kind)
    assert.is_nil(err.maybe_created)
    assert.is_true(err.retryable)
    assert.equals(2, srv:count(ns, "create"))
  end)

  it("retries a create when the connection could not be made", function()
    -- A port nobody listens on: connection refused every time.
    local events = {}
    local c = omnihuman.new{ api_key = F.KEY, base_url = "http://127.0.0.1:9/v2", max_retries = 1,
                             connect_timeout = 1, on_event = function(ev) events[#events + 1] = ev.type end }
    local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
    assert.is_nil(job)
    assert.equals("network", err.kind)
    assert.is_nil(err.maybe_created)
    assert.same({ "request", "retry", "request" }, events)
  end)
end)
