-- client:create: what is sent, what comes back, and the billed-request rule.
local omnihuman = require("omnihuman")
local cjson = require("cjson")
local fixtures = require("spec.support.fixtures")

describe("create #slow", function()
  local srv
  setup(function() srv = fixtures.start() end)
  teardown(function() srv:stop() end)

  it("sends model, URLs and extra fields as JSON over HTTPS and returns the job", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    -- Fields the model's reference does not list are refused unless strict = false.
    local refused, rerr = c:create{ image_url = "https://example.test/a.png",
                                    audio_url = "https://example.test/a.mp3", resolution = "720p" }
    assert.is_nil(refused)
    assert.equals("invalid_input", rerr.kind)
    assert.matches('unknown field "resolution" for model bytedance/omnihuman', rerr.message)
    assert.equals(0, srv:count(ns, "create") or 0)
    local job, err = c:create{ image_url = "https://example.test/a.png",
                               audio_url = "https://example.test/a.mp3",
                               resolution = "720p", turbo_mode = true, strict = false }
    assert.is_nil(err)
    assert.matches(":bytedance/omnihuman$", job.id)
    assert.equals("queued", job.status)
    assert.same({ usage = { [srv.profile.usage_field] = 5880000 } }, job.meta)
    local rec = srv:records(ns).requests[1]
    assert.equals("POST", rec.method)
    assert.equals("Bearer " .. fixtures.KEY, rec.headers.authorization)
    local body = cjson.decode(rec.body)
    assert.same({ model = "bytedance/omnihuman", image_url = "https://example.test/a.png",
                  audio_url = "https://example.test/a.mp3", resolution = "720p",
                  turbo_mode = true }, body)
  end)

  it("uses the client's model and lets a field override it", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns, { model = "bytedance/omnihuman/v1.5" })
    assert(c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" })
    assert(c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3", model = "bytedance/omnihuman" })
    local reqs = srv:records(ns).requests
    assert.equals("bytedance/omnihuman/v1.5", cjson.decode(reqs[1].body).model)
    assert.equals("bytedance/omnihuman", cjson.decode(reqs[2].body).model)
  end)

  it("sends local files as data URIs sniffed by content", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    assert(c:create{ image = fixtures.PNG, audio = fixtures.WAV })
    local rec = srv:records(ns).requests[1]
    assert.is_true(rec.body_len > #fixtures.read(fixtures.PNG) * 4 / 3)
    -- The recorded body is cut at 2000 characters: one of the files comes first.
    assert(rec.body:find('"image_url":"data:image/png;base64,iVBORw0KGgo', 1, true)
      or rec.body:find('"audio_url":"data:audio/wav;base64,UklGR', 1, true), rec.body:sub(1, 200))
  end)

  it("does not modify the caller's table", function()
    local c = fixtures.client(srv, fixtures.ns())
    local fields = { image = fixtures.PNG, audio = fixtures.WAV }
    assert(c:create(fields))
    assert.same({ image = fixtures.PNG, audio = fixtures.WAV }, fields)
  end)

  it("raises on misuse", function()
    local c = fixtures.client(srv, fixtures.ns())
    assert.has_error(function() c:create("x") end)
    -- A missing required field is invalid input (nothing sent), not misuse.
    local job, err = c:create{ audio_url = "https://x/a.mp3" }
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
    assert.matches("model bytedance/omnihuman requires image_url %(or image, a local file%)", err.message)
    assert.has_error(function() c:create{ image = fixtures.PNG, image_url = "https://x", audio = fixtures.WAV } end,
      "omnihuman: give image or image_url, not both")
    -- A value of the wrong type is refused as the model's fields are.
    job, err = c:create{ image = 42, audio = fixtures.WAV }
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
    assert.matches("image must be a string", err.message, 1, true)
  end)

  it("sends a create that gets a 500 exactly once and says the job may exist", function()
    local ns = fixtures.ns()
    srv:fault(ns, "create", { { status = 500 } })
    local c = fixtures.client(srv, ns)
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
      local ns = fixtures.ns()
      srv:fault(ns, "create", { fault })
      local c = fixtures.client(srv, ns)
      local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
      assert.is_nil(job)
      assert.is_true(err.maybe_created)
      assert.equals(1, srv:count(ns, "create"))
    end)
  end

  it("does not resend a create whose answer timed out", function()
    local ns = fixtures.ns()
    srv:fault(ns, "create", { { delay = 3 } })
    local c = fixtures.client(srv, ns, { timeout = 0.5 })
    local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
    assert.is_nil(job)
    assert.equals("timeout", err.kind)
    assert.is_true(err.maybe_created)
    assert.equals(1, srv:count(ns, "create"))
  end)

  it("retries a create on 429 (honouring Retry-After) and 503 #slow", function()
    local ns = fixtures.ns()
    srv:fault(ns, "create", { { status = 429, headers = { ["Retry-After"] = "1" } }, { status = 503 } })
    local events = {}
    local c = fixtures.client(srv, ns, { on_event = function(ev) events[#events + 1] = ev end })
    local t0 = fixtures.now()
    local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
    assert.is_nil(err)
    assert.truthy(job.id)
    assert.equals(3, srv:count(ns, "create"))
    assert.is_true(fixtures.now() - t0 >= 1)
    local retries = 0
    for _, ev in ipairs(events) do if ev.type == "retry" then retries = retries + 1 end end
    assert.equals(2, retries)
  end)

  it("gives up on 429 after max_retries with kind rate_limited", function()
    local ns = fixtures.ns()
    srv:fault(ns, "create", { { status = 429, headers = { ["Retry-After"] = "0" } },
                              { status = 429, headers = { ["Retry-After"] = "0" } } })
    local c = fixtures.client(srv, ns, { max_retries = 1 })
    local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
    assert.is_nil(job)
    assert.equals("rate_limited", err.kind)
    assert.is_nil(err.maybe_created)
    assert.is_true(err.retryable)
    assert.equals(2, srv:count(ns, "create"))
  end)

  it("does not retry a 429 that speaks of a quota for a period, create or status check", function()
    local quotas = {
      "Free tier limit reached: 10 generations per hour. Try again in 42 minutes.",
      "You have exceeded your daily quota",
      "Hourly limit exceeded",
    }
    for _, text in ipairs(quotas) do
      local ns = fixtures.ns()
      local body = '{"message":"' .. text .. '","statusCode":429}'
      srv:fault(ns, "create", { { status = 429, body = body, headers = { ["Retry-After"] = "0" } } })
      local c = fixtures.client(srv, ns, { max_retries = 3 })
      local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
      assert.is_nil(job)
      assert.equals("rate_limited", err.kind)
      assert.is_false(err.retryable)
      assert.is_nil(err.maybe_created)
      assert.matches(text, err.message, 1, true)
      assert.matches("a quota for a period: not retried", err.message, 1, true)
      assert.equals(1, srv:count(ns, "create"))
      srv:fault(ns, "poll", { { status = 429, body = body, headers = { ["Retry-After"] = "0" } } })
      local st, perr = c:poll("j")
      assert.is_nil(st)
      assert.equals("rate_limited", perr.kind)
      assert.equals(1, srv:count(ns, "poll"))
    end
    -- A concurrency limit is still waited out.
    local ns = fixtures.ns()
    srv:fault(ns, "create", { { status = 429, body = '{"message":"Too Many Requests: 3 jobs in progress"}',
                                headers = { ["Retry-After"] = "0" } } })
    assert(fixtures.client(srv, ns):create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" })
    assert.equals(2, srv:count(ns, "create"))
  end)

  it("retries a create when the connection could not be made", function()
    -- A port nobody listens on: connection refused every time.
    local events = {}
    local c = omnihuman.new{ api_key = fixtures.KEY, base_url = "http://127.0.0.1:9/v2", max_retries = 1,
                             connect_timeout = 1, on_event = function(ev) events[#events + 1] = ev.type end }
    local job, err = c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
    assert.is_nil(job)
    assert.equals("network", err.kind)
    assert.is_nil(err.maybe_created)
    assert.same({ "request", "retry", "request" }, events)
  end)
end)

---------------------------------------------------------------------------
-- Streamed bodies: files are read while the request is sent.
local body_server = require("spec.support.body_server")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")

local sha256 = body_server.sha256

-- A PNG signature, then `n` random bytes (incompressible) from the seed:
-- openssl's AES-CTR keystream, so a run can be repeated.
local function fake_png(path, n, seed)
  assert(os.execute(("{ printf '\\211PNG\\r\\n\\032\\n'; openssl enc -aes-128-ctr -nosalt -pass pass:%d"
                     .. " -in /dev/zero 2>/dev/null | head -c %d; } > %s"):format(seed, n, sh.q(path))))
  return path
end

describe("streamed create bodies #slow", function()
  local bs, dir
  local loop = omnihuman.loop()
  setup(function() bs = body_server.start(); dir = fixtures.tmpdir() end)
  teardown(function() bs:stop(); fixtures.rm_rf(dir) end)

  local function client(extra)
    local o = { api_key = fixtures.KEY, base_url = bs.base, timeout = 20, max_retries = 3 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return omnihuman.new(o)
  end

  -- Drives the loop until op is done or `secs` pass.
  local function drive(op, secs)
    local t0 = fixtures.now()
    while not op:done() and fixtures.now() - t0 < secs do loop:run_once(0.05) end
  end

  it("sends each file byte for byte with the exact Content-Length, at every chunk boundary", function()
    local seed = os.time() % 100000
    print("streamed bodies: seed " .. seed)
    -- sizes around the 48 KiB read chunk, curl's 64 KiB buffer, and a 3-byte group
    local sizes = { 0, 1, 2, 3, 4, 49150, 49151, 49152, 49153, 65534, 65535, 65536, 65537,
                    3 * 65536 + 1, 1000003 }
    local c = client()
    for i, n in ipairs(sizes) do
      bs:script{}
      local img = fake_png(dir .. "/img.png", n, seed + i)
      local job, err = c:create{ image = img, audio = fixtures.WAV, mask = img, prompt = ("p"):rep(i), strict = false }
      assert.is_nil(err, "size " .. n)
      assert.truthy(job.id)
      local b = bs:records().bodies
      assert.equals(1, #b)
      assert.is_true(b[1].complete, "size " .. n)
      assert.equals(b[1].declared, b[1].len)
      assert.equals(sha256(img), b[1].fields.image_url.sha256, "size " .. n)
      assert.equals(n + 8, b[1].fields.image_url.len)
      assert.equals(sha256(img), b[1].fields.mask_url.sha256)
      assert.equals(sha256(fixtures.WAV), b[1].fields.audio_url.sha256)
      assert.equals(("p"):rep(i), b[1].fields.prompt)
      assert.equals("bytedance/omnihuman", b[1].fields.model)
    end
  end)

  it("re-sends an identical body after 503 and 429 (the files are read again)", function()
    bs:script{ statuses = { 503, 429 } }
    local img = fake_png(dir .. "/retry.png", 300001, 7)
    local events = {}
    local c = client{ on_event = function(ev) events[#events + 1] = ev.type end }
    local job, err = c:create{ image = img, audio = fixtures.WAV }
    assert.is_nil(err)
    assert.truthy(job.id)
    local b = bs:records().bodies
    assert.equals(3, #b)
    for i = 1, 3 do
      assert.is_true(b[i].complete)
      assert.equals(b[1].sha256, b[i].sha256)
      assert.equals(b[1].len, b[i].len)
      assert.equals(sha256(img), b[i].fields.image_url.sha256)
    end
    assert.same({ "request", "retry", "request", "retry", "request" }, events)
  end)

  -- What happens to the file after create_op returned and before the loop sends it.
  local changes = {
    { "grows", function(p) local f = io.open(p, "ab"); f:write("more"); f:close() end, "size 200008 %-> 200012 bytes" },
    { "shrinks", function(p) assert(os.execute("truncate -s 1000 " .. sh.q(p))) end, "size 200008 %-> 1000 bytes" },
    { "is touched", function(p) assert(os.execute("touch -d '2001-01-01' " .. sh.q(p))) end, "modification time changed" },
    { "is replaced", function(p)
        fake_png(p .. ".new", 200000, 3); assert(os.rename(p .. ".new", p)) end, "replaced by another file" },
    { "is removed", function(p) assert(os.remove(p)) end, "cannot be found" },
    { "becomes a FIFO", function(p)
        assert(os.remove(p)); assert(os.execute("mkfifo " .. sh.q(p))) end, "now a FIFO" },
  }
  for _, ch in ipairs(changes) do
    it("fails with invalid_input when the file " .. ch[1] .. " before it is sent; no job", function()
      bs:script{}
      local img = fake_png(dir .. "/changing.png", 200000, 9)
      local op = client():create_op{ image = img, audio = fixtures.WAV }
      ch[2](img)
      drive(op, 10)
      local job, err = op:result()
      assert.is_nil(job)
      assert.equals("invalid_input", err.kind)
      assert.matches("image file '[^']*changing.png' changed since the create was called", err.message)
      assert.matches(ch[3], err.message)
      assert.matches("no job was created", err.message)
      assert.is_nil(err.maybe_created)
      -- the server saw at most headers and a cut body (wait until it is done with them)
      cli.until_true(function() return bs:records().busy == 0 end, 5)
      for _, b in ipairs(bs:records().bodies) do assert.is_false(b.complete) end
      os.remove(img)
    end)
  end

  for _, ch in ipairs{ { "grows", changes[1][2], "it grew while it was being sent" },
                       { "is touched", changes[3][2], "modification time changed" },
                       { "shrinks", changes[2][2], "it shrank" } } do
    it("stops the request when the file " .. ch[1] .. " while it is being sent", function()
      bs:script{ stall = true } -- the server reads nothing until released
      local img = fake_png(dir .. "/big.png", 20 * 1000 * 1000, 11)
      local op = client():create_op{ image = img, audio = fixtures.WAV }
      drive(op, 1.0) -- the socket buffers fill, the file is part read
      assert.is_false(op:done())
      ch[2](img)
      bs:release()
      drive(op, 20)
      local job, err = op:result()
      assert.is_nil(job)
      assert.equals("invalid_input", err.kind)
      assert.matches("image file '[^']*big.png' changed since the create was called", err.message)
      assert.matches(ch[3], err.message)
      assert.is_nil(err.maybe_created)
      -- the server reads what the socket buffers held, then sees the end
      local b
      cli.until_true(function() b = bs:records().bodies; return #b > 0 end, 10)
      assert.equals(1, #b)
      assert.is_false(b[1].complete)
      assert.is_true(b[1].len < b[1].declared)
      os.remove(img)
    end)
  end

  it("200 waiting creates with a 5 MB image each hold neither the files nor descriptors", function()
    local img = fake_png(dir .. "/five.png", 5 * 1000 * 1000, 5)
    bs:script{ stall = true }
    local script = dir .. "/many.lua"
    fixtures.write(script, ([[
      local omnihuman = require("omnihuman")
      local function status(k)
        local f = io.open("/proc/self/status"); local s = f:read("*a"); f:close()
        return tonumber(s:match(k .. ":%%s*(%%d+)"))
      end
      local function fds()
        local p = io.popen("ls /proc/" .. status("Pid") .. "/fd | wc -l"); local n = tonumber(p:read("*a")); p:close()
        return n
      end
      local c = omnihuman.new{ api_key = "k", base_url = %q, timeout = 60 }
      local loop = omnihuman.loop()
      c:create_op{ image_url = "https://x/a.png", audio = %q }:cancel() -- load everything once
      collectgarbage()
      local rss0, fd0 = status("VmRSS"), fds()
      local ops = {}
      for i = 1, 200 do ops[i] = c:create_op{ image = %q, audio = %q } end
      local t0 = omnihuman.core.now()
      while omnihuman.core.now() - t0 < 1.5 do loop:run_once(0.05) end
      local done = 0
      for _, op in ipairs(ops) do if op:done() then done = done + 1 end end
      print(("rss0=%%d hwm=%%d rss=%%d fd0=%%d fd=%%d done=%%d"):format(rss0, status("VmHWM"), status("VmRSS"), fd0, fds(), done))
      for _, op in ipairs(ops) do op:cancel() end
    ]]):format(bs.base, fixtures.WAV, img, fixtures.WAV))
    local p = io.popen("timeout -s KILL 60 " .. sh.q(cli.LUA) .. " " .. sh.q(script) .. " 2>&1")
    local out = p:read("*a")
    p:close()
    bs:release()
    print("200 waiting creates: " .. out:gsub("\n$", ""))
    local rss0, hwm, rss, fd0, fd, done = out:match("rss0=(%d+) hwm=(%d+) rss=(%d+) fd0=(%d+) fd=(%d+) done=(%d+)")
    assert.truthy(rss0, out)
    assert.equals("0", done) -- all still waiting or in flight
    -- in flight: at most 2 x max_connections (16) sockets, each file opened only while sent
    assert.is_true(tonumber(fd) - tonumber(fd0) <= 40, "descriptors " .. fd0 .. " -> " .. fd)
    if not os.getenv("SAN") then -- ASan's shadow and quarantine are not the module's memory
      assert.is_true(tonumber(hwm) < 20 * 1024, "peak RSS " .. hwm .. " KiB") -- docs/api.md's figure
      assert.is_true(tonumber(rss) - tonumber(rss0) < 24 * 1024, "RSS growth " .. rss0 .. " -> " .. rss .. " KiB")
    end
  end)
end)
