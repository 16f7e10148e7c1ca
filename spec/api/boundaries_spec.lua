-- Boundary checks made in C, so that users of omnihuman.core get them too:
-- strings that become headers or URLs refuse line breaks and NUL bytes;
-- every numeric option is range-checked (finite, within its documented
-- range) and honoured exactly.
local omnihuman = require("omnihuman")
local core = omnihuman.core
local fixtures = require("spec.support.fixtures")

local BAD = { ["CR"] = "\r", ["LF"] = "\n", ["CRLF header"] = "\r\nX-Injected: yes", ["NUL"] = "\0" }

-- Documented ranges (docs/api.md "Options"): name -> {min, max, whole}
local RANGES = {
  timeout = { 0.001, 86400 },
  connect_timeout = { 0.001, 86400 },
  poll_interval = { 0, 86400 },
  wait_timeout = { 0, 31536000 },
  max_retries = { 0, 100, true },
  max_connections = { 1, 1024, true },
  max_audio_seconds = { 0.001, 86400 },
}

describe("boundaries #slow", function()
  local srv
  setup(function() srv = fixtures.start{ tls = false } end)
  teardown(function() srv:stop() end)

  for _, opt in ipairs({ "api_key", "user_agent", "proxy", "base_url", "model", "ca_file" }) do
    for name, bad in pairs(BAD) do
      it(("option %s with %s raises, in the facade and in the core"):format(opt, name), function()
        local value = opt == "base_url" and "http://127.0.0.1:9/v2" .. bad or "value" .. bad
        assert.has_error(function() omnihuman.new{ api_key = "k", [opt] = value } end,
          ("omnihuman.new: option '%s' must not contain a line break or a NUL byte"):format(opt))
        local loop = core.new_loop()
        assert.has_error(function() core.new_client(loop, { [opt] = value }) end)
        loop:close()
      end)
    end
  end

  it("an API key with a header injection never reaches the wire", function()
    local ns = fixtures.ns()
    assert.has_error(function() fixtures.client(srv, ns, { api_key = fixtures.KEY .. "\r\nX-Injected: yes" }) end)
    assert.equals(0, srv:count(ns, "create") or 0)
  end)

  it("job ids and download URLs with line breaks or NUL raise; so does a path with NUL", function()
    local c = fixtures.client(srv, fixtures.ns())
    for name, bad in pairs(BAD) do
      assert.has_error(function() c:poll("job" .. bad .. "x") end, "omnihuman: a job id must not contain a line break or a NUL byte")
      assert.has_error(function() c:wait_op("job" .. bad) end)
      assert.has_error(function() c:download("http://127.0.0.1:9/a.mp4" .. bad, "/tmp/x.mp4") end, nil, name)
    end
    assert.has_error(function() c:download("http://127.0.0.1:9/a.mp4", "/tmp/x\0.mp4") end)
    assert.has_error(function() omnihuman.new{ base_url = "ftp://127.0.0.1/v2" } end,
      "omnihuman.new: option 'base_url' must be an http:// or https:// URL")
  end)

  for opt, r in pairs(RANGES) do
    it(("option %s: outside [%s, %s] raises, the ends are taken"):format(opt, r[1], r[2]), function()
      local bad = { 0 / 0, math.huge, -math.huge, 1e300, -1, r[1] - 0.0005, r[2] + 1 }
      if r[3] then bad[#bad + 1] = r[1] + 0.5 end
      if math.maxinteger then bad[#bad + 1] = math.maxinteger end
      for _, v in ipairs(bad) do
        if not (v >= r[1] and v <= r[2]) or (r[3] and v % 1 ~= 0) then
          local ok, err = pcall(omnihuman.new, { [opt] = v })
          assert.is_false(ok, opt .. " = " .. tostring(v))
          assert.matches("omnihuman.new: option '" .. opt .. "' must be a", err, 1, true)
        end
      end
      assert.truthy(omnihuman.new{ [opt] = r[1] })
      assert.truthy(omnihuman.new{ [opt] = r[2] })
    end)
  end

  it("wait and download options are range-checked too; max_bytes takes any whole number up to 2^53", function()
    local c = fixtures.client(srv, fixtures.ns())
    for _, v in ipairs({ 0 / 0, math.huge, -1, 1e300 }) do
      assert.has_error(function() c:wait_op("j", { interval = v }) end)
      assert.has_error(function() c:wait_op("j", { timeout = v }) end)
      assert.has_error(function() c:download_op("http://127.0.0.1:9/a", "/tmp/x", { max_bytes = v }) end)
    end
    assert.has_error(function() c:download_op("http://127.0.0.1:9/a", "/tmp/x", { max_bytes = 1.5 }) end)
    assert.has_error(function() c:download_op("http://127.0.0.1:9/a", "/tmp/x", { max_bytes = 2 ^ 53 + 2 }) end)
    if math.maxinteger then
      assert.has_error(function() c:download_op("http://127.0.0.1:9/a", "/tmp/x", { max_bytes = math.maxinteger }) end)
    end
    local dir = fixtures.tmpdir()
    local op = c:download_op("http://127.0.0.1:9/a", dir .. "/x.mp4", { max_bytes = 2 ^ 53 })
    op:close()
    fixtures.rm_rf(dir)
  end)

  -- Four status checks the server answers 0.25 s late each: with n slots,
  -- ceil(4 / n) waves. Wall time tells how many ran at once.
  for _, n in ipairs({ 1, 2, 3 }) do
    it(("max_connections = %d runs at most %d requests at once"):format(n, n), function()
      local ns = fixtures.ns()
      local c = fixtures.client(srv, ns, { max_connections = n })
      local job = assert(c:create{ image_url = "https://x/u.png", audio_url = "https://x/u.mp3" })
      srv:fault(ns, "poll", { { delay = 0.25 }, { delay = 0.25 }, { delay = 0.25 }, { delay = 0.25 } })
      local t0 = fixtures.now()
      omnihuman.run(function()
        for _ = 1, 4 do omnihuman.spawn(function() assert(c:poll(job.id)) end) end
      end)
      local waves = math.ceil(4 / n)
      local took = fixtures.now() - t0
      -- at most n at once means at least `waves` delays one after another; load
      -- only makes it slower, so no upper bound on the time (that would assert speed)
      assert.is_true(took >= waves * 0.25 - 0.02, ("%d waves expected, took %.2f s"):format(waves, took))
    end)
  end

  it("the smallest timeout is honoured, not turned into 'no timeout'", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns, { timeout = 0.001, max_retries = 0 })
    srv:fault(ns, "poll", { { hang = true } })
    local t0 = fixtures.now()
    local res, err = c:poll("some-id")
    assert.is_nil(res)
    assert.equals("timeout", err.kind)
    assert.is_true(fixtures.now() - t0 < 1)
  end)

  it("sleep refuses NaN and takes a huge number without overflowing the loop", function()
    assert.has_error(function() omnihuman.sleep(0 / 0) end)
    local op = core.sleep_op(omnihuman.loop(), math.huge)
    omnihuman.loop():run_once(0)
    assert.is_false(op:done())
    op:cancel()
  end)
end)
