-- omnihuman.new and friends: misuse raises with a clear message.
local omnihuman = require("omnihuman")

describe("options", function()
  it("rejects unknown option names and wrong types", function()
    assert.has_error(function() omnihuman.new{ apikey = "x" } end, "omnihuman.new: unknown option 'apikey'")
    assert.has_error(function() omnihuman.new{ timeout = "10" } end,
      "omnihuman.new: option 'timeout' must be a number, got string")
    assert.has_error(function() omnihuman.new{ timeout = -1 } end)
    assert.has_error(function() omnihuman.new{ max_connections = 0 } end)
    assert.has_error(function() omnihuman.new("x") end)
  end)

  it("are declared once, in C: core.options lists them and core.new_client refuses any other name", function()
    local core = omnihuman.core
    assert.equals("https://api.aimlapi.com/v2", core.options.base_url.default)
    assert.equals("OMNIHUMAN_BASE_URL", core.options.base_url.env)
    assert.same({ "whole", 8, 1, 1024 }, { core.options.max_connections.type, core.options.max_connections.default,
                                          core.options.max_connections.min, core.options.max_connections.max })
    assert.has_error(function() core.new_client(omnihuman.loop(), { apikey = "x" }) end,
      "omnihuman.new: unknown option 'apikey'")
    assert.has_error(function() omnihuman.new{ strict = "no" } end,
      "omnihuman.new: option 'strict' must be a boolean, got string")
    assert.has_error(function() omnihuman.new{ on_event = true } end,
      "omnihuman.new: option 'on_event' must be a function, got boolean")
    assert.equals("duplicate", core.error_kinds[#core.error_kinds])
  end)

  it("rejects bad wait and download options", function()
    local c = omnihuman.new{ api_key = "k", base_url = "http://127.0.0.1:9/v2" }
    assert.has_error(function() c:wait("id", { intervall = 1 }) end, "client:wait: unknown option 'intervall'")
    assert.has_error(function() c:download("http://x/a.mp4", "a.mp4", { progress = print }) end)
    assert.has_error(function() c:poll(42) end)
    assert.has_error(function() c:generate{ image_url = "https://x/u.png", audio_url = "https://x/u.mp3", output = 3 } end)
  end)

  it("errors print as omnihuman: <kind>: <message>", function()
    local e = omnihuman.error("network", "boom")
    assert.equals("omnihuman: network: boom", tostring(e))
    assert.equals("network", e.kind)
    assert.is_false(e.retryable)
  end)

  it("never shows the key when printed", function()
    local c = omnihuman.new{ api_key = "sk-very-secret-123456", base_url = "http://127.0.0.1:9/v2" }
    assert.is_nil(tostring(c):find("sk-very-secret", 1, true))
  end)
end)

describe("headers on the wire", function()
  local fixtures = require("spec.support.fixtures")
  local srv
  setup(function() srv = fixtures.start{ tls = false } end)
  teardown(function() srv:stop() end)

  local function heads(ns, route)
    local out = {}
    for _, r in ipairs(srv:records(ns).requests) do
      if r.route == route then out[#out + 1] = r.headers end
    end
    return out
  end

  for _, ua in ipairs({ false, "my-tool/2.0 (+https://example.test)" }) do
    it(("User-Agent %s on every request, the key only on API requests"):format(ua or "by default"), function()
      local ns = fixtures.ns()
      local c = fixtures.client(srv, ns, { user_agent = ua or nil })
      local want = ua or "lua-omnihuman/0.1"
      local res = assert(c:generate{ image_url = "https://x/u.png", audio_url = "https://x/u.mp3", sandbox_polls = 0,
                                     output = os.tmpname() })
      os.remove(res.output)
      for _, route in ipairs({ "create", "poll", "cdn" }) do
        local hs = heads(ns, route)
        assert.is_true(#hs >= 1, route)
        for _, h in ipairs(hs) do
          assert.equals(want, h["user-agent"], route)
          if route == "cdn" then
            assert.is_nil(h["authorization"])
          else
            assert.equals("Bearer " .. fixtures.KEY, h["authorization"])
          end
        end
      end
      local create = heads(ns, "create")[1]
      assert.equals("application/json", create["content-type"])
      assert.equals("application/json", create["accept"])
    end)
  end
end)
